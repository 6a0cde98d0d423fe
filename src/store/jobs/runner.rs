//! The runner's side: claiming a job under a lease, keeping it, and ending it. Every write after
//! the claim is guarded by `lease_owner = $2 AND status = 'running'`.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::{JobRow, JobStatus, require, secs};
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Still ours; the lease now runs until `now() + lease`.
    Held,
    /// Taken over, cancelled or finished: stop without writing anything else.
    Lost { status: JobStatus },
}

fn lost(id: Uuid, worker_id: &str) -> StoreError {
    StoreError::LeaseLost {
        job_id: id,
        worker_id: worker_id.to_owned(),
    }
}

/// Claims one runnable job, oldest first: `queued` whose `run_after` has come, or `running`
/// whose lease expired (its worker died). Safe with any number of concurrent claimers.
pub async fn claim_next(
    pool: &PgPool,
    worker_id: &str,
    lease: Duration,
) -> Result<Option<JobRow>, StoreError> {
    claim_next_except(pool, worker_id, lease, &[]).await
}

/// [`claim_next`], never taking one of `running`: the jobs this process still runs. Their
/// leases may have expired while Postgres was away, and every write is guarded by the worker
/// id only, so a second run of the same job in the same process would pass the guard too.
pub async fn claim_next_except(
    pool: &PgPool,
    worker_id: &str,
    lease: Duration,
    running: &[Uuid],
) -> Result<Option<JobRow>, StoreError> {
    // A job whose workers keep dying (e.g. it runs them out of memory) must not be taken over
    // forever: an expired lease with no attempt left fails the job instead.
    let exhausted = sqlx::query(
        "UPDATE export_jobs
         SET status = 'failed', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
             error = 'lease expired with no attempt left (' || attempts || ' of ' || max_attempts
                     || '); last error: ' || coalesce(error, 'none')
         WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
           AND id <> ALL($1)",
    )
    .bind(running)
    .execute(pool)
    .await?;
    if exhausted.rows_affected() > 0 {
        tracing::warn!(
            jobs = exhausted.rows_affected(),
            "failed jobs whose lease expired with no attempt left"
        );
    }
    let row = sqlx::query_as::<_, JobRow>(
        "WITH next AS (
             SELECT id FROM export_jobs
             WHERE ((status = 'queued' AND run_after <= now())
                OR (status = 'running' AND lease_expires_at < now() AND attempts < max_attempts))
               AND id <> ALL($3)
             ORDER BY created_at, id
             LIMIT 1
             FOR UPDATE SKIP LOCKED
         )
         UPDATE export_jobs j
         SET status = 'running', lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
             heartbeat_at = now(), started_at = coalesce(j.started_at, now()),
             attempts = j.attempts + 1
         FROM next WHERE j.id = next.id
         RETURNING j.*",
    )
    .bind(worker_id)
    .bind(secs(lease))
    .bind(running)
    .fetch_optional(pool)
    .await?;
    if let Some(r) = &row {
        tracing::info!(job_id = %r.id, account_id = %r.account_id, attempt = r.attempts, worker_id, "job claimed");
    }
    Ok(row)
}

/// Claims the given job when it is runnable (see [`claim_next`]); `None` when it is not (not
/// found, finished, waiting for `run_after`, or leased by a live worker).
pub async fn claim(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    lease: Duration,
) -> Result<Option<JobRow>, StoreError> {
    let row = sqlx::query_as::<_, JobRow>(
        "UPDATE export_jobs
         SET status = 'running', lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3),
             heartbeat_at = now(), started_at = coalesce(started_at, now()), attempts = attempts + 1
         WHERE id = $1
           AND ((status = 'queued' AND run_after <= now())
             OR (status = 'running' AND lease_expires_at < now() AND attempts < max_attempts))
         RETURNING *",
    )
    .bind(id)
    .bind(worker_id)
    .bind(secs(lease))
    .fetch_optional(pool)
    .await?;
    if let Some(r) = &row {
        tracing::info!(job_id = %r.id, account_id = %r.account_id, attempt = r.attempts, worker_id, "job claimed");
    }
    Ok(row)
}

/// Extends the lease while it is still ours.
pub async fn heartbeat(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    lease: Duration,
) -> Result<LeaseState, StoreError> {
    let held = sqlx::query(
        "UPDATE export_jobs
         SET lease_expires_at = now() + make_interval(secs => $3), heartbeat_at = now()
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker_id)
    .bind(secs(lease))
    .execute(pool)
    .await?;
    if held.rows_affected() == 1 {
        return Ok(LeaseState::Held);
    }
    let status = require(pool, id).await?.status;
    tracing::warn!(job_id = %id, worker_id, %status, "lease lost");
    Ok(LeaseState::Lost { status })
}

/// Graceful shutdown: back to `queued` at once, checkpoint kept. A drain is not a failed
/// attempt, so the claim's attempt is given back.
pub async fn release(pool: &PgPool, id: Uuid, worker_id: &str) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE export_jobs
         SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, run_after = now(),
             attempts = greatest(attempts - 1, 0)
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker_id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(lost(id, worker_id));
    }
    tracing::info!(job_id = %id, worker_id, "job released");
    Ok(())
}

/// A transient failure: `queued` again after `delay` with the error, or `failed` when no
/// attempt is left. Returns the new status.
pub async fn retry_later(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    error: &str,
    delay: Duration,
) -> Result<JobStatus, StoreError> {
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE export_jobs
         SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
             finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
             run_after = now() + make_interval(secs => $4),
             error = $3, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'
         RETURNING status",
    )
    .bind(id)
    .bind(worker_id)
    .bind(error)
    .bind(secs(delay))
    .fetch_optional(pool)
    .await?;
    let status: JobStatus = status
        .ok_or_else(|| lost(id, worker_id))?
        .parse()
        .map_err(StoreError::Corrupt)?;
    tracing::warn!(job_id = %id, worker_id, %status, delay_s = delay.as_secs(), "job will be retried or has failed");
    Ok(status)
}

/// A permanent failure. The upload (if any) stays in `upload_id` for the sweeper to abort.
pub async fn fail(pool: &PgPool, id: Uuid, worker_id: &str, error: &str) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE export_jobs
         SET status = 'failed', error = $3, finished_at = now(), lease_owner = NULL,
             lease_expires_at = NULL
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker_id)
    .bind(error)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(lost(id, worker_id));
    }
    tracing::warn!(job_id = %id, worker_id, "job failed");
    Ok(())
}

/// The object is complete (CompleteMultipartUpload answered). `upload_id` is cleared so the
/// sweeper never aborts a completed upload.
pub async fn succeed(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    rows: u64,
    bytes: u64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE export_jobs
         SET status = 'succeeded', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
             upload_id = NULL, fetch_done = true, last_cursor = NULL, total_processed = $3,
             output_bytes = $4, error = NULL
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker_id)
    .bind(i64::try_from(rows).unwrap_or(i64::MAX))
    .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(lost(id, worker_id));
    }
    tracing::info!(job_id = %id, worker_id, rows, bytes, "job succeeded");
    Ok(())
}

/// The account's contact count (`include_count`), for operators' progress.
pub async fn set_total_expected(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    total: u64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE export_jobs SET total_expected = $3
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker_id)
    .bind(i64::try_from(total).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(lost(id, worker_id));
    }
    Ok(())
}

/// Keeps the CSV columns resolved on the first run (see `JobRow::columns`).
pub async fn save_columns(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    columns: &[crate::encode::Column],
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE export_jobs SET columns = $3
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker_id)
    .bind(sqlx::types::Json(columns))
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(lost(id, worker_id));
    }
    Ok(())
}

/// Waiting is not failing: back to `queued` until `until` (e.g. the API key's daily quota
/// resets), with `note` as the visible reason and the claim's attempt given back.
pub async fn defer(
    pool: &PgPool,
    id: Uuid,
    worker_id: &str,
    until: time::OffsetDateTime,
    note: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE export_jobs
         SET status = 'queued', run_after = $3, error = $4, lease_owner = NULL,
             lease_expires_at = NULL, attempts = greatest(attempts - 1, 0)
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(worker_id)
    .bind(until)
    .bind(note)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(lost(id, worker_id));
    }
    tracing::info!(job_id = %id, worker_id, %until, "job deferred");
    Ok(())
}
