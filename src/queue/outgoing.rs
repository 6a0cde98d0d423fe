//! The job message as producers send it (the seed's shape plus the optional fields), for
//! `cc-export enqueue` and tests. Every field is written, `null` where unset, so the body reads
//! like the design's example.

use serde::Serialize;
use uuid::Uuid;

use super::JOB_TYPE;
use crate::encode::Format;

#[derive(Debug, Clone, Serialize)]
pub struct JobMessage {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub job_id: Uuid,
    pub account_id: String,
    pub user_id: String,
    /// Raw, so an out-of-range value reaches the validator and gets its reason.
    pub batch_size: u64,
    pub last_cursor: Option<String>,
    pub total_processed: u64,
    pub format: Format,
    pub gzip: bool,
    pub columns: Option<String>,
    pub lists: Option<Vec<String>>,
    pub updated_after: Option<String>,
    pub output_key: Option<String>,
}

impl JobMessage {
    /// A job with the design's defaults: batch 500, CSV, no filters, the default key.
    pub fn new(job_id: Uuid, account_id: impl Into<String>, user_id: impl Into<String>) -> Self {
        Self {
            kind: JOB_TYPE,
            job_id,
            account_id: account_id.into(),
            user_id: user_id.into(),
            batch_size: 500,
            last_cursor: None,
            total_processed: 0,
            format: Format::Csv,
            gzip: false,
            columns: None,
            lists: None,
            updated_after: None,
            output_key: None,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a JobMessage always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_enqueue_sends_parses_back_to_the_same_job() {
        let id = Uuid::new_v4();
        let mut m = JobMessage::new(id, "12345", "user_abc");
        m.batch_size = 250;
        m.lists = Some(vec!["l1".into()]);
        m.gzip = true;
        let spec = super::super::parse(&m.to_json(), None, "exports/").unwrap();
        assert_eq!((spec.job_id, spec.batch_size, spec.gzip), (id, 250, true));
        assert_eq!(spec.lists, ["l1"]);
        assert_eq!(spec.output_key, format!("exports/12345/{id}.csv.gz"));
    }
}
