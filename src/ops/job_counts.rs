//! `cc_export_jobs{status}`: read from `export_jobs` when Prometheus scrapes, so the numbers are
//! the table's (queued jobs no worker has touched included), whichever replica answers.

use std::time::Duration;

use sqlx::PgPool;

use super::metrics::metrics;
use crate::store::jobs::JobStatus;

/// A scrape must answer even when Postgres does not.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

const STATUSES: [JobStatus; 5] = [
    JobStatus::Queued,
    JobStatus::Running,
    JobStatus::Succeeded,
    JobStatus::Failed,
    JobStatus::Cancelled,
];

/// Sets every status's gauge (0 when no row has it) and `jobs_table_up`.
pub async fn refresh(pool: &PgPool) {
    let query = sqlx::query_as::<_, (String, i64)>(
        "SELECT status, count(*) FROM export_jobs GROUP BY status",
    )
    .fetch_all(pool);
    let m = metrics();
    match tokio::time::timeout(QUERY_TIMEOUT, query).await {
        Ok(Ok(rows)) => {
            for status in STATUSES {
                let n = rows
                    .iter()
                    .find(|(s, _)| s == status.as_str())
                    .map_or(0, |(_, n)| *n);
                let labels = vec![("status", status.as_str().to_owned())];
                m.jobs.get_or_create(&labels).set(n);
            }
            m.jobs_table_up.set(1);
        }
        Ok(Err(e)) => {
            tracing::warn!("metrics: counting jobs by status failed: {e}");
            m.jobs_table_up.set(0);
        }
        Err(_) => {
            tracing::warn!("metrics: counting jobs by status timed out");
            m.jobs_table_up.set(0);
        }
    }
}
