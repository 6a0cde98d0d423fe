//! `PgPartLedger`: the worker's `sink::PartLedger`, kept on the job row and `export_job_parts`.
//! `record_part` stores the part and the checkpoint after it in one transaction, under the lease.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;
use super::jobs::secs;
use crate::sink::{LedgerState, PartLedger, PartRecord, Position};

#[derive(Debug, Clone)]
pub struct PgPartLedger {
    pub pool: PgPool,
    pub job_id: Uuid,
    pub worker_id: String,
    /// Every recorded part extends the lease by this much.
    pub lease: Duration,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgPartLedger {
    pub fn new(pool: PgPool, job_id: Uuid, worker_id: impl Into<String>, lease: Duration) -> Self {
        Self {
            pool,
            job_id,
            worker_id: worker_id.into(),
            lease,
        }
    }

    fn lost(&self) -> StoreError {
        StoreError::LeaseLost {
            job_id: self.job_id,
            worker_id: self.worker_id.clone(),
        }
    }

    pub async fn load_state(&self) -> Result<LedgerState, StoreError> {
        let upload_id: Option<Option<String>> =
            sqlx::query_scalar("SELECT upload_id FROM export_jobs WHERE id = $1")
                .bind(self.job_id)
                .fetch_optional(&self.pool)
                .await?;
        let upload_id = upload_id.ok_or_else(|| StoreError::NotFound {
            what: format!("job {}", self.job_id),
        })?;
        let Some(upload_id) = upload_id else {
            return Ok(LedgerState::default());
        };
        let parts = sqlx::query_as::<_, (i32, String, i64, i64)>(
            "SELECT part_number, etag, rows, bytes FROM export_job_parts
             WHERE job_id = $1 AND upload_id = $2 ORDER BY part_number",
        )
        .bind(self.job_id)
        .bind(&upload_id)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|(part_number, etag, rows, bytes)| PartRecord {
            part_number,
            etag,
            rows: rows.max(0) as u64,
            bytes: bytes.max(0) as u64,
        })
        .collect();
        Ok(LedgerState {
            upload_id: Some(upload_id),
            parts,
        })
    }

    /// Sets the job's upload. A different upload still on the row (created, then the runner
    /// died before its first part) moves to `export_upload_orphans` for the sweeper.
    pub async fn begin(&self, upload_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let held: Option<(Option<String>, String)> = sqlx::query_as(
            "SELECT upload_id, output_key FROM export_jobs
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'
             FOR UPDATE",
        )
        .bind(self.job_id)
        .bind(&self.worker_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (old, output_key) = held.ok_or_else(|| self.lost())?;
        if let Some(old) = old.filter(|old| old != upload_id) {
            sqlx::query(
                "INSERT INTO export_upload_orphans (job_id, output_key, upload_id)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(self.job_id)
            .bind(&output_key)
            .bind(&old)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM export_job_parts WHERE job_id = $1 AND upload_id <> $2")
            .bind(self.job_id)
            .bind(upload_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE export_jobs SET upload_id = $2, heartbeat_at = now(),
                 lease_expires_at = now() + make_interval(secs => $3)
             WHERE id = $1",
        )
        .bind(self.job_id)
        .bind(upload_id)
        .bind(secs(self.lease))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(job_id = %self.job_id, "multipart upload recorded");
        Ok(())
    }

    /// The part and the checkpoint after it, in one transaction, or nothing (`LeaseLost`).
    pub async fn record(
        &self,
        part: &PartRecord,
        after: &Position,
        bytes_total: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // The guarded UPDATE comes first: it takes the row lock, so a concurrent claim or cancel
        // either waits for this commit or has already made the guard fail.
        let upload_id: Option<Option<String>> = sqlx::query_scalar(
            "UPDATE export_jobs
             SET last_cursor = $3, total_processed = $4, pages = $5, output_bytes = $6,
                 fetch_done = $7, window_index = $9, windows = $10, heartbeat_at = now(),
                 lease_expires_at = now() + make_interval(secs => $8)
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'
             RETURNING upload_id",
        )
        .bind(self.job_id)
        .bind(&self.worker_id)
        .bind(&after.next_cursor)
        .bind(to_i64(after.rows))
        .bind(to_i64(after.pages))
        .bind(to_i64(bytes_total))
        .bind(after.fetch_complete())
        .bind(secs(self.lease))
        .bind(after.window as i32)
        .bind(&after.windows)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(upload_id) = upload_id else {
            tx.rollback().await?;
            return Err(self.lost());
        };
        let Some(upload_id) = upload_id else {
            tx.rollback().await?;
            return Err(StoreError::Corrupt(format!(
                "job {}: part {} recorded before any upload began",
                self.job_id, part.part_number
            )));
        };
        // S3 replaces a re-uploaded part number, so the ledger does too.
        sqlx::query(
            "INSERT INTO export_job_parts (job_id, part_number, upload_id, etag, rows, bytes)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (job_id, part_number) DO UPDATE
             SET upload_id = excluded.upload_id, etag = excluded.etag, rows = excluded.rows,
                 bytes = excluded.bytes, created_at = now()",
        )
        .bind(self.job_id)
        .bind(part.part_number)
        .bind(&upload_id)
        .bind(&part.etag)
        .bind(to_i64(part.rows))
        .bind(to_i64(part.bytes))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::debug!(job_id = %self.job_id, part = part.part_number, rows = after.rows, "part recorded");
        Ok(())
    }

    /// Starts the export over: parts and upload forgotten (the upload is already aborted),
    /// checkpoint zeroed, `restarts` counted.
    pub async fn reset_all(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE export_jobs
             SET upload_id = NULL, last_cursor = NULL, total_processed = 0, pages = 0,
                 output_bytes = 0, fetch_done = false, restarts = restarts + 1,
                 window_index = 0, windows = '{}',
                 heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => $3)
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(self.job_id)
        .bind(&self.worker_id)
        .bind(secs(self.lease))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(self.lost());
        }
        sqlx::query("DELETE FROM export_job_parts WHERE job_id = $1")
            .bind(self.job_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(job_id = %self.job_id, "export starts over");
        Ok(())
    }
}

#[async_trait]
impl PartLedger for PgPartLedger {
    async fn load(&self) -> anyhow::Result<LedgerState> {
        Ok(self.load_state().await?)
    }

    async fn begin_upload(&self, upload_id: &str) -> anyhow::Result<()> {
        Ok(self.begin(upload_id).await?)
    }

    async fn record_part(
        &self,
        part: &PartRecord,
        after: &Position,
        bytes_total: u64,
    ) -> anyhow::Result<()> {
        Ok(self.record(part, after, bytes_total).await?)
    }

    async fn reset(&self) -> anyhow::Result<()> {
        Ok(self.reset_all().await?)
    }
}
