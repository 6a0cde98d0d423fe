//! `JobRow` (one `export_jobs` row, every column) and `JobStatus`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{FromRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::encode::Column;
use crate::job::JobSpec;
use crate::sink::Position;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Nothing will run it again unless an operator retries it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            other => return Err(format!("unknown job status {other:?}")),
        })
    }
}

/// One `export_jobs` row. `spec` is `None` for a dead-lettered message recorded as failed, or
/// when the stored spec no longer parses (`spec_error` says why): operators can still list it,
/// a runner must fail it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    pub id: Uuid,
    pub account_id: String,
    pub user_id: String,
    pub status: JobStatus,
    pub spec: Option<JobSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_error: Option<String>,
    /// Checkpoint: the cursor after the last contact inside an uploaded part.
    pub last_cursor: Option<String>,
    pub total_processed: i64,
    pub pages: i64,
    /// Partitioned exports: the window `last_cursor` belongs to, and the plan's boundaries.
    pub window_index: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<String>,
    pub fetch_done: bool,
    /// CSV columns resolved on the first run; `None` before it (or for NDJSON).
    pub columns: Option<Vec<Column>>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub restarts: i32,
    pub error: Option<String>,
    pub output_key: String,
    pub output_bytes: i64,
    pub total_expected: Option<i64>,
    pub upload_id: Option<String>,
    pub lease_owner: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub heartbeat_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub run_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl JobRow {
    /// The stored checkpoint, where a resumed run continues.
    pub fn position(&self) -> Position {
        Position {
            next_cursor: self.last_cursor.clone(),
            rows: self.total_processed.max(0) as u64,
            pages: self.pages.max(0) as u64,
            window: self.window_index.max(0) as u32,
            windows: self.windows.clone(),
        }
    }

    /// Contacts per second between the first start and the last write (None before any).
    pub fn rate(&self) -> Option<f64> {
        let started = self.started_at?;
        let until = self.finished_at.unwrap_or(self.updated_at);
        let secs = (until - started).as_seconds_f64();
        (secs > 0.0).then(|| self.total_processed as f64 / secs)
    }
}

impl<'r> FromRow<'r, PgRow> for JobRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        let status = status
            .parse()
            .map_err(|e: String| sqlx::Error::ColumnDecode {
                index: "status".into(),
                source: e.into(),
            })?;
        let raw: Option<Json<serde_json::Value>> = row.try_get("spec")?;
        let (spec, spec_error) = match raw.map(|j| serde_json::from_value::<JobSpec>(j.0)) {
            None => (None, None),
            Some(Ok(spec)) => (Some(spec), None),
            Some(Err(e)) => (None, Some(format!("stored spec does not parse: {e}"))),
        };
        Ok(JobRow {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            user_id: row.try_get("user_id")?,
            status,
            spec,
            spec_error,
            last_cursor: row.try_get("last_cursor")?,
            total_processed: row.try_get("total_processed")?,
            pages: row.try_get("pages")?,
            window_index: row.try_get("window_index")?,
            windows: row.try_get("windows")?,
            fetch_done: row.try_get("fetch_done")?,
            columns: {
                let raw: Option<Json<Vec<Column>>> = row.try_get("columns")?;
                raw.map(|j| j.0)
            },
            attempts: row.try_get("attempts")?,
            max_attempts: row.try_get("max_attempts")?,
            restarts: row.try_get("restarts")?,
            error: row.try_get("error")?,
            output_key: row.try_get("output_key")?,
            output_bytes: row.try_get("output_bytes")?,
            total_expected: row.try_get("total_expected")?,
            upload_id: row.try_get("upload_id")?,
            lease_owner: row.try_get("lease_owner")?,
            lease_expires_at: row.try_get("lease_expires_at")?,
            heartbeat_at: row.try_get("heartbeat_at")?,
            run_after: row.try_get("run_after")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            updated_at: row.try_get("updated_at")?,
            finished_at: row.try_get("finished_at")?,
        })
    }
}
