//! Helpers of the API fault tests: a simulator config, one job on one worker, the contact-by-contact
//! audit of its object, and the log grep for tokens.
#![allow(dead_code)]

use std::time::Duration;

use cc_export::sim::SimConfig;
use uuid::Uuid;

use super::report::Audit;
use super::s3_common;
use super::stack::{ACCOUNT, Stack, USER};

pub const MINUTE: Duration = Duration::from_secs(60);

pub fn sim(contacts: u64, rps: u32) -> SimConfig {
    SimConfig {
        contacts,
        rate_limit_rps: Some(rps),
        deleted_per_mille: 0,
        ..SimConfig::default()
    }
}

/// Runs one job to success on a fresh worker; returns the job id.
pub async fn start_job(st: &mut Stack, batch: u32) -> Uuid {
    st.put_tokens(ACCOUNT, USER).await;
    st.spawn_worker("w1");
    st.publish_job(ACCOUNT, batch).await
}

/// The object of a succeeded job, checked contact by contact, in order.
pub async fn audit(st: &Stack, id: Uuid, within: Duration) -> Audit {
    let row = st.wait_succeeded(id, within).await;
    let ids = st.object_ids(&row.output_key).await;
    let audit = Audit::of(&ids, &st.expected_ids(ACCOUNT));
    audit.assert_exact("export");
    assert_eq!(ids, st.expected_ids(ACCOUNT), "in the API's order");
    assert!(
        s3_common::uploads(&st.s3, &st.bucket).await.is_empty(),
        "no upload left"
    );
    audit
}

/// No token string the simulator issued or rotated appears in any worker log; returns how many
/// were checked.
pub fn assert_no_tokens_logged(st: &Stack) -> u64 {
    let logs = st.all_logs();
    assert!(!logs.is_empty(), "the workers logged something");
    let tokens = st.sim.issued_tokens();
    for t in &tokens {
        assert!(!logs.contains(t.as_str()), "a token reached the logs");
    }
    tokens.len() as u64
}

/// Waits until the simulator has served `pages` complete pages: progress that is visible before
/// the job row's checkpoint moves (checkpoints follow uploaded parts).
pub async fn wait_pages(st: &Stack, pages: u64) {
    let deadline = std::time::Instant::now() + MINUTE;
    while st.sim.stats().pages < pages {
        assert!(
            std::time::Instant::now() < deadline,
            "{pages} pages not served within a minute"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
