//! The job fields a schedule gives each of its runs (`export_schedules.spec`), and how one due
//! run becomes a validated [`JobSpec`]: through the worker's own message rules, so a run is
//! never a job the worker would dead-letter.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::encode::Format;
use crate::job::JobSpec;
use crate::queue::{self, JobMessage, Rejection};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTemplate {
    pub batch_size: u64,
    pub format: Format,
    pub gzip: bool,
    pub columns: Option<String>,
    pub lists: Option<Vec<String>>,
    /// Non-incremental: every run's filter. Incremental: the first run's (none: everything).
    pub updated_after: Option<String>,
    /// Relative to `EXPORT_PREFIX`; every run then writes (replaces) the same object.
    pub output_key: Option<String>,
}

impl Default for JobTemplate {
    fn default() -> Self {
        Self {
            batch_size: 500,
            format: Format::Csv,
            gzip: false,
            columns: None,
            lists: None,
            updated_after: None,
            output_key: None,
        }
    }
}

impl JobTemplate {
    /// The message a run stands for. `since`: the start of the schedule's last succeeded run,
    /// for an incremental schedule that has one (it replaces the template's `updated_after`).
    pub fn message(
        &self,
        job_id: Uuid,
        account_id: &str,
        user_id: &str,
        since: Option<OffsetDateTime>,
    ) -> JobMessage {
        let updated_after = match since {
            Some(t) => Some(
                t.format(&Rfc3339)
                    .expect("a UTC instant formats as RFC 3339"),
            ),
            None => self.updated_after.clone(),
        };
        JobMessage {
            batch_size: self.batch_size,
            format: self.format,
            gzip: self.gzip,
            columns: self.columns.clone(),
            lists: self.lists.clone(),
            updated_after,
            output_key: self.output_key.clone(),
            ..JobMessage::new(job_id, account_id, user_id)
        }
    }

    /// The run's message validated as the worker validates a delivery, and its body.
    pub fn spec(
        &self,
        job_id: Uuid,
        account_id: &str,
        user_id: &str,
        since: Option<OffsetDateTime>,
        export_prefix: &str,
    ) -> Result<(JobSpec, Vec<u8>), Rejection> {
        let body = self.message(job_id, account_id, user_id, since).to_json();
        let spec = queue::parse(&body, Some(&job_id.to_string()), export_prefix)?;
        Ok((spec, body))
    }
}

/// The job id of a schedule's run due at `scheduled_for`: the same run always gets the same id,
/// so however many workers try, the job table holds it once.
pub fn run_job_id(schedule_id: Uuid, scheduled_for: OffsetDateTime) -> Uuid {
    let at = scheduled_for.unix_timestamp_nanos().to_string();
    Uuid::new_v5(&schedule_id, at.as_bytes())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_run_is_a_valid_job_and_incremental_runs_start_at_the_last_success() {
        let t = JobTemplate {
            batch_size: 250,
            format: Format::Ndjson,
            gzip: true,
            lists: Some(vec!["l1".into()]),
            updated_after: Some("2024-01-01T00:00:00Z".into()),
            ..JobTemplate::default()
        };
        let id = Uuid::new_v4();
        let (spec, _) = t.spec(id, "acct", "u", None, "exports/").unwrap();
        assert_eq!((spec.job_id, spec.batch_size, spec.gzip), (id, 250, true));
        assert_eq!(spec.updated_after.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(spec.output_key, format!("exports/acct/{id}.ndjson.gz"));
        let since = datetime!(2026-11-22 21:00:01.25 UTC);
        let (spec, body) = t.spec(id, "acct", "u", Some(since), "exports/").unwrap();
        assert_eq!(crate::queue::parse(&body, None, "exports/").unwrap(), spec);
        assert_eq!(
            spec.updated_after.as_deref(),
            Some("2026-11-22T21:00:01.25Z")
        );
        let bad = JobTemplate {
            batch_size: 501,
            ..JobTemplate::default()
        };
        assert!(bad.spec(id, "acct", "u", None, "exports/").is_err());
    }

    #[test]
    fn run_ids_are_deterministic_per_schedule_and_time() {
        let (s1, s2) = (Uuid::new_v4(), Uuid::new_v4());
        let t = datetime!(2026-11-23 03:30 UTC);
        assert_eq!(run_job_id(s1, t), run_job_id(s1, t));
        assert_ne!(run_job_id(s1, t), run_job_id(s2, t));
        assert_ne!(
            run_job_id(s1, t),
            run_job_id(s1, t + time::Duration::MINUTE)
        );
    }
}
