//! The infrastructure fault suite: RabbitMQ stopped mid-export, Postgres stopped mid-export, S3
//! failing part uploads, workers SIGKILLed at random, SIGTERM drains. Every case ends with each
//! export checked contact by contact (0 lost, 0 duplicated) and a reliability report line.
//!
//! The cases stop services other suites share, so they run one at a time (`SERIAL`), each outage
//! lasts seconds and is undone by a guard even when the case fails; this is the only test binary
//! that stops services (cargo runs test binaries one after another). `FAULTS_LONG=1`: more
//! kills on more data.

// `serial()`'s guard is held across awaits on purpose: it serialises whole cases, not data.
#![allow(clippy::await_holding_lock)]

#[path = "common/amqp.rs"]
mod amqp;
#[path = "common/db.rs"]
mod db;
#[path = "fault_infra/kills.rs"]
mod kills;
#[path = "common/outage.rs"]
mod outage;
#[path = "common/report.rs"]
mod report;
#[path = "common/s3.rs"]
mod s3_common;
#[path = "common/s3_proxy.rs"]
mod s3_proxy;
#[path = "common/stack.rs"]
mod stack;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cc_export::store::jobs::JobStatus;
use lapin::{BasicProperties, ConnectionProperties};
use report::{Audit, Row};
use stack::{Stack, USER};
use uuid::Uuid;

const MINUTE: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

/// One case at a time, whatever the test harness's thread count.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn long() -> bool {
    std::env::var("FAULTS_LONG").is_ok_and(|v| v == "1")
}

/// Waits for every job to succeed and audits each object against its account's dataset.
async fn audit_jobs(st: &Stack, jobs: &[(Uuid, String)], within: Duration) -> Audit {
    let mut audit = Audit::default();
    for (id, account) in jobs {
        let row = st.wait_succeeded(*id, within).await;
        let ids = st.object_ids(&row.output_key).await;
        let one = Audit::of(&ids, &st.expected_ids(account));
        one.assert_exact(&format!("job {id} ({account})"));
        audit = audit.merge(one);
    }
    audit
}

fn job_body(job_id: Uuid, account: &str, batch_size: u32) -> Vec<u8> {
    serde_json::json!({
        "type": "constantcontact-export", "job_id": job_id, "account_id": account,
        "user_id": USER, "batch_size": batch_size, "last_cursor": null, "total_processed": 0
    })
    .to_string()
    .into_bytes()
}

/// A producer that keeps trying (fresh connection, confirmed publish) until the broker takes
/// the message; returns the attempts it took.
async fn publish_retrying(queue: &str, body: &[u8]) -> u32 {
    for attempt in 1.. {
        let sent = async {
            let props = ConnectionProperties::default();
            let conn = tokio::time::timeout(
                Duration::from_secs(5),
                lapin::Connection::connect(&amqp::amqp_url(), props),
            )
            .await??;
            let publisher = cc_export::queue::Publisher::new(&conn).await?;
            publisher
                .publish_with_properties(queue, body, BasicProperties::default())
                .await?;
            publisher.close().await;
            let _ = conn.close(200, "OK".into()).await;
            anyhow::Ok(())
        };
        match sent.await {
            Ok(()) => return attempt,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread")]
async fn rabbitmq_stopped_and_started_mid_export() {
    let _serial = serial();
    let mut st = Stack::start(20_000, 8).await;
    let accounts = ["acct-r1", "acct-r2", "acct-r3"].map(String::from);
    for a in &accounts {
        st.put_tokens(a, USER).await;
    }
    st.spawn_worker("w1");
    let running = st.publish_job(&accounts[0], 250).await;
    st.wait_job(running, MINUTE, "running", |r| {
        r.status == JobStatus::Running
    })
    .await;
    let queue = st.queue.name.clone();
    let outage = outage::stop_rabbitmq();
    // Published while the broker is away: the producer retries until it is back.
    let during = Uuid::new_v4();
    let producer = {
        let (queue, body) = (queue.clone(), job_body(during, &accounts[1], 250));
        tokio::spawn(async move { publish_retrying(&queue, &body).await })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let away = outage.restore();
    let still_running = st.job(running).await.unwrap().status == JobStatus::Running;
    let producer_attempts = producer.await.unwrap();
    let after = Uuid::new_v4();
    publish_retrying(&queue, &job_body(after, &accounts[2], 250)).await;
    let jobs = [running, during, after].into_iter().zip(accounts.clone());
    let jobs: Vec<_> = jobs.collect();
    let audit = audit_jobs(&st, &jobs, 2 * MINUTE).await;
    let first = st.job(running).await.unwrap();
    assert_eq!(first.attempts, 1, "the running export was not disturbed");
    assert!(st.worker_alive("w1"), "the worker survived the outage");
    assert!(
        producer_attempts > 1,
        "the broker was down while publishing"
    );
    report::record(&Row {
        fault: "RabbitMQ stopped and started mid-export".into(),
        injected: 1,
        jobs: jobs.len() as u64,
        audit,
        note: format!(
            "broker away {:.1} s; the running export {} and kept its first attempt; a job \
             published during the outage ({producer_attempts} tries) and one right after both \
             completed; the worker reconnected",
            away.as_secs_f64(),
            if still_running {
                "outlasted the outage"
            } else {
                "finished during the outage"
            },
        ),
        ..Row::default()
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_stopped_and_started_mid_export() {
    let _serial = serial();
    let mut st = Stack::start(45_000, 10).await;
    let account = "acct-p1".to_owned();
    st.put_tokens(&account, USER).await;
    st.spawn_worker("w1");
    let job = st.publish_job(&account, 500).await;
    st.wait_job(job, MINUTE, "running", |r| r.status == JobStatus::Running)
        .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let outage = outage::stop_postgres();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        st.worker_alive("w1"),
        "the worker crashed while Postgres was down"
    );
    let away = outage.restore();
    let audit = audit_jobs(&st, &[(job, account)], 2 * MINUTE).await;
    let row = st.job(job).await.unwrap();
    assert!(st.worker_alive("w1"), "the worker crashed after the outage");
    report::record(&Row {
        fault: "Postgres stopped and started mid-export".into(),
        injected: 1,
        jobs: 1,
        audit,
        note: format!(
            "database away {:.1} s; the job succeeded after {} attempt(s); the worker stayed up",
            away.as_secs_f64(),
            row.attempts
        ),
        ..Row::default()
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_answering_500_503_and_resets_on_part_uploads() {
    let _serial = serial();
    let mut st = Stack::start(100_000, 50).await;
    let account = "acct-s1".to_owned();
    st.put_tokens(&account, USER).await;
    let moto = std::env::var("S3_ENDPOINT_URL").expect("S3_ENDPOINT_URL (scripts/services.sh)");
    let plan = s3_proxy::Plan {
        part_per_mille: 300,
        complete_faults: 3,
        // Longer than the SDK's 6 attempts: the part fails, the job retries from its checkpoint.
        part_burst: Some((3, 7)),
    };
    let proxy = s3_proxy::S3Proxy::start(&moto, plan).await;
    st.env.push(("S3_ENDPOINT_URL".into(), proxy.url.clone()));
    st.spawn_worker("w1");
    let job = st.publish_job(&account, 500).await;
    let audit = audit_jobs(&st, &[(job, account)], 3 * MINUTE).await;
    let row = st.job(job).await.unwrap();
    let stats = &proxy.stats;
    assert!(stats.injected() >= 10, "{}", stats.summary());
    assert!(row.attempts >= 2, "the burst outlasted the SDK's retries");
    assert!(s3_common::uploads(&st.s3, &st.bucket).await.is_empty());
    assert!(st.worker_alive("w1"));
    report::record(&Row {
        fault: "S3 answering 500/503 and resetting connections on part uploads".into(),
        injected: stats.injected(),
        jobs: 1,
        audit,
        note: format!(
            "{}; the job took {} attempt(s)",
            stats.summary(),
            row.attempts
        ),
        ..Row::default()
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_sigkilled_at_random_points() {
    let _serial = serial();
    kills::sigkill_case(long()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_both_workers() {
    let _serial = serial();
    kills::sigterm_case().await;
}
