//! A validated export job: what a queue message (or `enqueue`, or an operator) asked for, with
//! the design's defaults applied. Stored as `export_jobs.spec`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cc::ContactsQuery;
use crate::encode::Format;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub job_id: Uuid,
    pub account_id: String,
    pub user_id: String,
    /// 1..=500.
    pub batch_size: u16,
    /// A resume point handed by the producer; Postgres wins when it holds a later checkpoint.
    pub last_cursor: Option<String>,
    pub total_processed: u64,
    pub format: Format,
    pub gzip: bool,
    /// CSV column selection as `--columns` takes it.
    pub columns: Option<String>,
    pub lists: Vec<String>,
    /// RFC 3339.
    pub updated_after: Option<String>,
    /// Full object key, already under the configured prefix and validated.
    pub output_key: String,
}

impl JobSpec {
    /// The contacts query this job runs.
    pub fn query(&self) -> ContactsQuery {
        ContactsQuery {
            limit: self.batch_size,
            lists: self.lists.clone(),
            updated_after: self.updated_after.clone(),
            include: self.format.includes(),
            ..ContactsQuery::default()
        }
    }
}

/// `{prefix}{account_id}/{job_id}.{csv|ndjson}[.gz]`, the design's default output key.
pub fn default_output_key(
    prefix: &str,
    account_id: &str,
    job_id: Uuid,
    format: Format,
    gzip: bool,
) -> String {
    format!(
        "{prefix}{account_id}/{job_id}.{}{}",
        format.extension(),
        if gzip { ".gz" } else { "" }
    )
}
