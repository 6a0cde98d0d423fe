//! The `export_jobs` table: recording jobs from the queue, the runner's lease-guarded lifecycle
//! (`runner`), and operators' controls plus the upload sweeper's queries (`ops`).
//!
//! Every runner write is guarded by `lease_owner = $worker AND status = 'running'`: a runner
//! whose lease was taken over, or whose job was cancelled, changes nothing and gets
//! [`StoreError::LeaseLost`].

mod jsonb;
mod ops;
mod row;
mod runner;

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

pub use ops::{CANCEL_CHANNEL, cancel, clear_upload, orphaned_uploads, rejections, retry};
pub use row::{JobRow, JobStatus};
pub use runner::{
    LeaseState, claim, claim_next, claim_next_except, defer, fail, heartbeat, release, retry_later,
    save_columns, set_total_expected, succeed,
};

use super::StoreError;
use crate::job::JobSpec;

#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// A new row, `queued`, seeded with the producer's resume point.
    Created(JobRow),
    /// The job id was already recorded: the row as Postgres holds it (its checkpoint wins).
    Existing(JobRow),
}

impl RecordOutcome {
    pub fn row(&self) -> &JobRow {
        match self {
            RecordOutcome::Created(r) | RecordOutcome::Existing(r) => r,
        }
    }
}

/// A dead-lettered message, as kept in `export_job_rejections`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub reason: String,
    pub raw: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Records a job from a valid message. A producer's `last_cursor`/`total_processed` seed the
/// checkpoint of a new row only: an existing row keeps what it holds.
pub async fn record(
    pool: &PgPool,
    spec: &JobSpec,
    max_attempts: i32,
) -> Result<RecordOutcome, StoreError> {
    let created = sqlx::query_as::<_, JobRow>(
        "INSERT INTO export_jobs (id, account_id, user_id, spec, last_cursor, total_processed,
                                  max_attempts, output_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO NOTHING
         RETURNING *",
    )
    .bind(spec.job_id)
    .bind(&spec.account_id)
    .bind(&spec.user_id)
    .bind(Json(spec))
    .bind(&spec.last_cursor)
    .bind(i64::try_from(spec.total_processed).unwrap_or(i64::MAX))
    .bind(max_attempts.max(1))
    .bind(&spec.output_key)
    .fetch_optional(pool)
    .await?;
    match created {
        Some(row) => Ok(RecordOutcome::Created(row)),
        None => Ok(RecordOutcome::Existing(require(pool, spec.job_id).await?)),
    }
}

/// A dead-lettered message that names `job_id`. The reason and raw body always go to
/// `export_job_rejections`. Without a row, a `failed` one is inserted (spec NULL, unknown
/// account/user `''`, output key `''`) so operators see it in `jobs list`. An existing row keeps
/// its status (a bad redelivery must not kill a good job); when it is `queued`, `failed` or
/// `cancelled` and has no error yet, the reason becomes its error. Returns the row.
pub async fn record_rejected(
    pool: &PgPool,
    job_id: Uuid,
    account_id: Option<&str>,
    user_id: Option<&str>,
    raw: serde_json::Value,
    reason: &str,
) -> Result<JobRow, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO export_job_rejections (job_id, reason, raw) VALUES ($1, $2, $3)")
        .bind(job_id)
        .bind(reason)
        .bind(Json(&jsonb::storable(raw)))
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query_as::<_, JobRow>(
        "INSERT INTO export_jobs (id, account_id, user_id, status, spec, error, output_key,
                                  finished_at)
         VALUES ($1, coalesce($2, ''), coalesce($3, ''), 'failed', NULL, $4, '', now())
         ON CONFLICT (id) DO NOTHING
         RETURNING *",
    )
    .bind(job_id)
    .bind(account_id)
    .bind(user_id)
    .bind(format!("rejected: {reason}"))
    .fetch_optional(&mut *tx)
    .await?;
    let row = match inserted {
        Some(row) => row,
        None => {
            let noted = sqlx::query_as::<_, JobRow>(
                "UPDATE export_jobs SET error = coalesce(error, $2)
                 WHERE id = $1 AND status IN ('queued', 'failed', 'cancelled')
                 RETURNING *",
            )
            .bind(job_id)
            .bind(format!("rejected redelivery: {reason}"))
            .fetch_optional(&mut *tx)
            .await?;
            match noted {
                Some(row) => row,
                None => {
                    sqlx::query_as::<_, JobRow>("SELECT * FROM export_jobs WHERE id = $1")
                        .bind(job_id)
                        .fetch_one(&mut *tx)
                        .await?
                }
            }
        }
    };
    tx.commit().await?;
    tracing::info!(%job_id, reason, status = %row.status, "dead-lettered message recorded");
    Ok(row)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<JobRow>, StoreError> {
    Ok(
        sqlx::query_as::<_, JobRow>("SELECT * FROM export_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

pub(crate) async fn require(pool: &PgPool, id: Uuid) -> Result<JobRow, StoreError> {
    get(pool, id).await?.ok_or_else(|| StoreError::NotFound {
        what: format!("job {id}"),
    })
}

/// Newest first; `status`/`account` filter when given.
pub async fn list(
    pool: &PgPool,
    status: Option<JobStatus>,
    account: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRow>, StoreError> {
    Ok(sqlx::query_as::<_, JobRow>(
        "SELECT * FROM export_jobs
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR account_id = $2)
         ORDER BY created_at DESC, id
         LIMIT $3",
    )
    .bind(status.map(JobStatus::as_str))
    .bind(account)
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?)
}
