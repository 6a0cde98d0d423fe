//! The worker end to end, as real processes: a seed-shaped message on RabbitMQ ends as an object
//! in the bucket holding every contact of the simulator's dataset exactly once.

#[path = "common/amqp.rs"]
mod amqp;
#[path = "common/db.rs"]
mod db;
#[path = "common/s3.rs"]
mod s3_common;
#[path = "common/stack.rs"]
mod stack;

use std::time::Duration;

use cc_export::store::jobs::JobStatus;
use stack::{ACCOUNT, BIN, Stack, USER};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_seed_message_becomes_an_object_with_every_contact() {
    let mut st = Stack::start(3_000, 50).await;
    st.put_tokens(ACCOUNT, USER).await;
    st.spawn_worker("w1");
    let job_id = st.publish_job(ACCOUNT, 250).await;
    let row = st.wait_succeeded(job_id, MINUTE).await;
    assert_eq!(row.total_processed, 3_000);
    assert_eq!(row.output_key, format!("exports/{ACCOUNT}/{job_id}.csv"));
    assert_eq!(
        st.object_ids(&row.output_key).await,
        st.expected_ids(ACCOUNT)
    );

    // Byte for byte what the one-shot export writes for the same dataset and page size.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("c.csv");
    let out = std::process::Command::new(BIN)
        .args([
            "export",
            "--simulate",
            "3000",
            "--account",
            ACCOUNT,
            "--batch-size",
            "250",
            "--out",
        ])
        .arg(&local)
        .env("CC_RATE_LIMIT_RPS", "200")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        st.object(&row.output_key).await == std::fs::read(&local).unwrap(),
        "object differs from the one-shot export"
    );
    assert_eq!(
        row.output_bytes as usize,
        std::fs::read(&local).unwrap().len()
    );
    assert_eq!(row.status, JobStatus::Succeeded);
    assert!(st.worker_alive("w1"));
}
