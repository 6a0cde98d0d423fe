//! Operators' controls (`jobs cancel`, `jobs retry`) and the upload sweeper's queries.

use sqlx::PgPool;
use uuid::Uuid;

use super::{JobRow, Rejection, require};
use crate::store::StoreError;

/// Postgres channel on which `cancel` announces a cancelled job's id; workers LISTEN on it and
/// stop the job at once.
pub const CANCEL_CHANNEL: &str = "cc_export_job_cancelled";

/// Cancels a `queued` or `running` job at once and NOTIFYs the workers, so a running export
/// stops within a page (its next write or heartbeat would notice anyway: both are lease-guarded
/// on `status = 'running'`). `upload_id` is kept so the upload gets aborted. `NotFound`, or
/// `WrongStatus` for a finished job.
pub async fn cancel(pool: &PgPool, id: Uuid) -> Result<JobRow, StoreError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query_as::<_, JobRow>(
        "UPDATE export_jobs
         SET status = 'cancelled', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND status IN ('queued', 'running')
         RETURNING *",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if row.is_some() {
        // Delivered at commit, only if the cancel commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CANCEL_CHANNEL)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    match row {
        Some(row) => {
            tracing::info!(job_id = %id, account_id = %row.account_id, "job cancelled");
            Ok(row)
        }
        None => Err(StoreError::WrongStatus {
            job_id: id,
            status: require(pool, id).await?.status.to_string(),
            action: "cancel",
            needs: "queued or running",
        }),
    }
}

/// Runs a `failed` or `cancelled` job again from the beginning: `queued`, attempts 0, error
/// cleared, checkpoint, parts and upload reset. An upload the sweeper has not aborted yet moves
/// to `export_upload_orphans`, where the sweeper still finds it. A dead-lettered job (no spec)
/// cannot be retried: the producer must send a valid message.
pub async fn retry(pool: &PgPool, id: Uuid) -> Result<JobRow, StoreError> {
    let mut tx = pool.begin().await?;
    let current = sqlx::query_as::<_, JobRow>("SELECT * FROM export_jobs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("job {id}"),
        })?;
    let wrong = |needs| StoreError::WrongStatus {
        job_id: id,
        status: current.status.to_string(),
        action: "retry",
        needs,
    };
    if !matches!(
        current.status,
        super::JobStatus::Failed | super::JobStatus::Cancelled
    ) {
        return Err(wrong("failed or cancelled"));
    }
    if current.spec.is_none() {
        return Err(wrong(
            "a valid job message (this one was dead-lettered; enqueue it again)",
        ));
    }
    if let Some(upload_id) = &current.upload_id {
        sqlx::query(
            "INSERT INTO export_upload_orphans (job_id, output_key, upload_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(&current.output_key)
        .bind(upload_id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM export_job_parts WHERE job_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query_as::<_, JobRow>(
        "UPDATE export_jobs
         SET status = 'queued', attempts = 0, error = NULL, last_cursor = NULL, columns = NULL, total_processed = 0,
             pages = 0, fetch_done = false, output_bytes = 0, total_expected = NULL,
             window_index = 0, windows = '{}',
             upload_id = NULL, lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL,
             run_after = now(), started_at = NULL, finished_at = NULL
         WHERE id = $1
         RETURNING *",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(job_id = %id, account_id = %row.account_id, "job queued again by an operator");
    Ok(row)
}

/// Multipart uploads to abort: those of `failed`/`cancelled` jobs, and those no job holds any
/// more (`export_upload_orphans`). `(job_id, object key, upload_id)`, oldest first.
pub async fn orphaned_uploads(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<(Uuid, String, String)>, StoreError> {
    Ok(sqlx::query_as::<_, (Uuid, String, String)>(
        "SELECT job_id, output_key, upload_id FROM (
             SELECT id AS job_id, output_key, upload_id, updated_at AS since FROM export_jobs
             WHERE upload_id IS NOT NULL AND status IN ('failed', 'cancelled')
             UNION ALL
             SELECT job_id, output_key, upload_id, created_at FROM export_upload_orphans
         ) o
         ORDER BY since, job_id
         LIMIT $1",
    )
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?)
}

/// The sweeper aborted `upload_id` (or found it gone): forget it. Only that exact upload id is
/// cleared, and only from a job that is still failed/cancelled, so a retried job's new upload is
/// never touched. Returns whether anything was cleared.
pub async fn clear_upload(pool: &PgPool, id: Uuid, upload_id: &str) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let job = sqlx::query(
        "UPDATE export_jobs SET upload_id = NULL
         WHERE id = $1 AND upload_id = $2 AND status IN ('failed', 'cancelled')",
    )
    .bind(id)
    .bind(upload_id)
    .execute(&mut *tx)
    .await?;
    let orphan =
        sqlx::query("DELETE FROM export_upload_orphans WHERE job_id = $1 AND upload_id = $2")
            .bind(id)
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(job.rows_affected() + orphan.rows_affected() > 0)
}

/// Dead-lettered messages recorded for a job id, oldest first.
pub async fn rejections(pool: &PgPool, id: Uuid) -> Result<Vec<Rejection>, StoreError> {
    Ok(sqlx::query_as::<
        _,
        (
            String,
            sqlx::types::Json<serde_json::Value>,
            time::OffsetDateTime,
        ),
    >(
        "SELECT reason, raw, created_at FROM export_job_rejections WHERE job_id = $1
         ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(reason, raw, created_at)| Rejection {
        reason,
        raw: raw.0,
        created_at,
    })
    .collect())
}
