//! Due runs into jobs, exactly once with any number of workers: one transaction takes the
//! schedules' advisory lock (a worker that finds it taken skips this tick), locks the due rows,
//! inserts each run's job row (`queued`, id derived from the schedule and the run's time, and
//! unique on `(schedule_id, scheduled_for)`) and moves `next_run_at` past now, then commits.
//! The caller publishes the jobs afterwards; a job row whose publish never happens still runs,
//! because workers claim jobs from the table, not from the queue.
//!
//! Missed runs (every worker was down): the oldest missed time is enqueued once and the next
//! run is the expression's first time after now, so a long outage gives one catch-up run.

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use tracing::Instrument;
use uuid::Uuid;

use super::ScheduleError;
use crate::job::JobSpec;
use crate::schedule::{CronExpr, JobTemplate, run_job_id};

/// First key of the schedules' advisory lock (the second is the schema's hash, so deployments
/// sharing a database in separate schemas do not wait on each other). "ccsc" in ASCII.
const LOCK_CLASS: i32 = 0x6363_7363;
/// A schedule whose row cannot be used (its expression or template no longer parses) is tried
/// again this much later, with the reason in `last_error`.
const BROKEN_RETRY: time::Duration = time::Duration::HOUR;

#[derive(Debug)]
pub enum Tick {
    /// Another worker holds the lock: it does this tick's work.
    Busy,
    /// The runs this tick enqueued (new job rows, committed), maybe none.
    Enqueued(Vec<DueRun>),
}

#[derive(Debug, Clone)]
pub struct DueRun {
    pub schedule_id: Uuid,
    pub scheduled_for: OffsetDateTime,
    pub spec: JobSpec,
    /// The job message the spec was validated from, to publish.
    pub body: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    cron: String,
    account_id: String,
    user_id: String,
    spec: Json<Value>,
    incremental: bool,
    next_run_at: OffsetDateTime,
}

/// Enqueues the runs due now (at most `limit` schedules; call again when it returns `limit`).
/// `export_prefix` and `max_attempts` are the worker's, as for a job from the queue.
pub async fn enqueue_due(
    pool: &PgPool,
    export_prefix: &str,
    max_attempts: i32,
    limit: i64,
) -> Result<Tick, ScheduleError> {
    let mut tx = pool.begin().await?;
    let (locked, now): (bool, OffsetDateTime) = sqlx::query_as(
        // current_schema() is NULL when no schema of the search path exists.
        "SELECT pg_try_advisory_xact_lock($1, hashtext(coalesce(current_schema(), ''))), now()",
    )
    .bind(LOCK_CLASS)
    .fetch_one(&mut *tx)
    .await?;
    if !locked {
        tx.rollback().await?;
        return Ok(Tick::Busy);
    }
    let due = sqlx::query_as::<_, DueRow>(
        "SELECT id, cron, account_id, user_id, spec, incremental, next_run_at
         FROM export_schedules WHERE next_run_at <= $1
         ORDER BY next_run_at, id LIMIT $2
         FOR UPDATE",
    )
    .bind(now)
    .bind(limit.max(1))
    .fetch_all(&mut *tx)
    .await?;
    let mut runs = Vec::new();
    for row in due {
        let span =
            tracing::info_span!("schedule", schedule_id = %row.id, account_id = %row.account_id);
        let run = enqueue_one(&mut tx, &row, now, export_prefix, max_attempts)
            .instrument(span)
            .await?;
        runs.extend(run);
    }
    tx.commit().await?;
    Ok(Tick::Enqueued(runs))
}

/// Inserts the run's job (unless it is there already) and moves the schedule on.
async fn enqueue_one(
    tx: &mut Transaction<'_, Postgres>,
    row: &DueRow,
    now: OffsetDateTime,
    export_prefix: &str,
    max_attempts: i32,
) -> Result<Option<DueRun>, ScheduleError> {
    match plan(tx, row, now, export_prefix).await? {
        Ok((spec, body, next)) => {
            let created = insert_job(tx, row, &spec, max_attempts).await?;
            advance(tx, row.id, next, Some(spec.job_id), None).await?;
            if !created {
                tracing::warn!(job_id = %spec.job_id, "this run's job exists already; not enqueued again");
                return Ok(None);
            }
            tracing::info!(job_id = %spec.job_id, scheduled_for = %row.next_run_at, %next, "scheduled run enqueued");
            Ok(Some(DueRun {
                schedule_id: row.id,
                scheduled_for: row.next_run_at,
                spec,
                body,
            }))
        }
        Err((reason, next)) => {
            tracing::warn!(%reason, %next, "scheduled run not enqueued");
            advance(tx, row.id, next, None, Some(&reason)).await?;
            Ok(None)
        }
    }
}

/// The run's job and the schedule's next time, or why there is no job (and when to try again).
async fn plan(
    tx: &mut Transaction<'_, Postgres>,
    row: &DueRow,
    now: OffsetDateTime,
    export_prefix: &str,
) -> Result<Result<(JobSpec, Vec<u8>, OffsetDateTime), (String, OffsetDateTime)>, ScheduleError> {
    let next = match CronExpr::parse(&row.cron).and_then(|c| c.next_after(now)) {
        Ok(next) => next,
        Err(e) => return Ok(Err((e.to_string(), now + BROKEN_RETRY))),
    };
    let template = match serde_json::from_value::<JobTemplate>(row.spec.0.clone()) {
        Ok(t) => t,
        Err(e) => {
            let reason = format!("stored job template does not parse: {e}");
            return Ok(Err((reason, now + BROKEN_RETRY)));
        }
    };
    let since = if row.incremental {
        last_success_start(tx, row.id).await?
    } else {
        None
    };
    let job_id = run_job_id(row.id, row.next_run_at);
    Ok(
        match template.spec(job_id, &row.account_id, &row.user_id, since, export_prefix) {
            Ok((spec, body)) => Ok((spec, body, next)),
            Err(rejection) => Err((format!("invalid job: {}", rejection.reason), next)),
        },
    )
}

/// When the schedule's last succeeded run started (its contacts were read from then on).
async fn last_success_start(
    tx: &mut Transaction<'_, Postgres>,
    schedule_id: Uuid,
) -> Result<Option<OffsetDateTime>, ScheduleError> {
    let started: Option<(Option<OffsetDateTime>,)> = sqlx::query_as(
        "SELECT started_at FROM export_jobs
         WHERE schedule_id = $1 AND status = 'succeeded' AND started_at IS NOT NULL
         ORDER BY started_at DESC LIMIT 1",
    )
    .bind(schedule_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(started.and_then(|(t,)| t))
}

/// The run's job row, `queued`; false when this run already has one (nothing is changed).
async fn insert_job(
    tx: &mut Transaction<'_, Postgres>,
    row: &DueRow,
    spec: &JobSpec,
    max_attempts: i32,
) -> Result<bool, ScheduleError> {
    let inserted = sqlx::query(
        "INSERT INTO export_jobs (id, account_id, user_id, spec, max_attempts, output_key,
                                  schedule_id, scheduled_for)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT DO NOTHING",
    )
    .bind(spec.job_id)
    .bind(&spec.account_id)
    .bind(&spec.user_id)
    .bind(Json(spec))
    .bind(max_attempts.max(1))
    .bind(&spec.output_key)
    .bind(row.id)
    .bind(row.next_run_at)
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn advance(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    next: OffsetDateTime,
    job_id: Option<Uuid>,
    error: Option<&str>,
) -> Result<(), ScheduleError> {
    sqlx::query(
        "UPDATE export_schedules
         SET next_run_at = $2, last_error = $4, updated_at = now(),
             last_enqueued_at = CASE WHEN $3::uuid IS NULL THEN last_enqueued_at ELSE now() END,
             last_job_id = coalesce($3, last_job_id)
         WHERE id = $1",
    )
    .bind(id)
    .bind(next)
    .bind(job_id)
    .bind(error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
