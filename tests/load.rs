//! Load: two worker processes share one API key through Postgres. 50 jobs over 10 accounts, the
//! simulator enforcing the same limit the workers are configured with: every job succeeds once,
//! every contact is exported exactly once, the key never sees more than its limit in any second
//! and is never throttled. The daily quota, end to end: a spent quota parks the job until
//! 00:00 UTC instead of failing it.

#[path = "common/amqp.rs"]
mod amqp;
#[path = "common/db.rs"]
mod db;
#[path = "common/report.rs"]
mod report;
#[path = "common/s3.rs"]
mod s3_common;
#[path = "common/stack.rs"]
mod stack;

use std::time::{Duration, Instant};

use cc_export::store::jobs::JobStatus;
use report::{Audit, Row};
use stack::{ACCOUNT, Stack, USER};

const RPS: u32 = 20;
const ACCOUNTS: usize = 10;
const JOBS: usize = 50;
const CONTACTS: u64 = 1_000;
const BATCH: u32 = 100;

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_fifty_jobs_one_api_key_never_over_the_limit() {
    let mut st = Stack::start(CONTACTS, RPS).await;
    let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct-load-{i}")).collect();
    for a in &accounts {
        st.put_tokens(a, USER).await;
    }
    st.spawn_worker("w1");
    st.spawn_worker("w2");
    let started = Instant::now();
    let mut jobs = Vec::new();
    for i in 0..JOBS {
        let account = &accounts[i % ACCOUNTS];
        jobs.push((st.publish_job(account, BATCH).await, account));
    }
    let mut audit = Audit::default();
    for (id, account) in &jobs {
        let row = st.wait_succeeded(*id, Duration::from_secs(180)).await;
        assert_eq!(row.attempts, 1, "job {id} ran once: {:?}", row.error);
        let a = Audit::of(
            &st.object_ids(&row.output_key).await,
            &st.expected_ids(account),
        );
        a.assert_exact(&format!("job {id} ({account})"));
        audit = audit.merge(a);
    }
    let elapsed = started.elapsed();
    let stats = st.sim.stats();
    let logs = st.all_logs();
    for w in ["w1", "w2"] {
        let own = std::fs::read_to_string(st.log_path(w)).unwrap();
        assert!(
            own.contains("job succeeded"),
            "{w} ran no job:\n{}",
            stack::tail(&logs, 3000)
        );
    }
    // Each job: its custom fields, then 10 pages of 100.
    let expected_requests = (JOBS as u64) * (1 + CONTACTS / u64::from(BATCH));
    eprintln!(
        "load: {JOBS} jobs, {} requests in {elapsed:.1?} ({:.1}/s), peak {} in any 1 s, \
         {} throttled, {} quota_exceeded",
        stats.requests,
        stats.requests as f64 / elapsed.as_secs_f64(),
        stats.max_requests_in_any_1s,
        stats.throttled,
        stats.quota_exceeded
    );
    report::record(&Row {
        fault: format!(
            "load: 2 workers, {JOBS} jobs over {ACCOUNTS} accounts, one API key at {RPS} rps"
        ),
        injected: 0,
        jobs: JOBS as u64,
        bad_inputs: 0,
        audit,
        note: format!(
            "{} requests in {:.1} s; peak {} in any 1 s (limit {RPS}); {} throttled",
            stats.requests,
            elapsed.as_secs_f64(),
            stats.max_requests_in_any_1s,
            stats.throttled
        ),
    });
    assert_eq!(stats.throttled, 0, "429 throttled: {stats:?}");
    assert_eq!(stats.quota_exceeded, 0, "{stats:?}");
    assert!(
        stats.max_requests_in_any_1s <= u64::from(RPS),
        "peak {} requests in one second, limit {RPS}: {stats:?}",
        stats.max_requests_in_any_1s
    );
    assert_eq!(stats.requests, expected_requests, "{stats:?}");
    assert_eq!(audit.checked, JOBS as u64 * CONTACTS);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_daily_quota_parks_the_job_until_midnight_utc() {
    let mut st = Stack::start(CONTACTS, 50).await;
    st.env.push(("CC_DAILY_QUOTA".into(), "5".into()));
    st.put_tokens(ACCOUNT, USER).await;
    st.spawn_worker("w1");
    let id = st.publish_job(ACCOUNT, BATCH).await;
    let row = st
        .wait_job(id, Duration::from_secs(60), "waiting for the quota", |r| {
            r.status == JobStatus::Queued && r.error.is_some()
        })
        .await;
    let error = row.error.clone().unwrap();
    assert!(error.contains("daily quota"), "{error}");
    let now = time::OffsetDateTime::now_utc();
    let midnight = now.date().next_day().unwrap().midnight().assume_utc();
    // The worker's clock: within the test's second of it.
    assert!(
        (row.run_after - midnight).abs() < time::Duration::seconds(2),
        "run_after {} (next midnight {midnight})",
        row.run_after
    );
    assert_eq!(row.attempts, 0, "the attempt was given back");
    assert!(row.total_processed < CONTACTS as i64);
    let stats = st.sim.stats();
    assert_eq!(
        stats.requests, 5,
        "the sixth request was never sent: {stats:?}"
    );
    assert_eq!(stats.quota_exceeded, 0);
    let (requests, exhausted): (i64, bool) = sqlx::query_as(
        "SELECT requests, exhausted_at IS NOT NULL FROM api_key_usage
         WHERE api_key = 'sim-client' AND day = (now() AT TIME ZONE 'UTC')::date",
    )
    .fetch_one(&st.db.pool)
    .await
    .unwrap();
    assert_eq!((requests, exhausted), (5, false));
    // It stays parked: no retry loop, no more requests.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = st.job(id).await.unwrap();
    assert_eq!((again.status, again.attempts), (JobStatus::Queued, 0));
    assert_eq!(st.sim.stats().requests, 5);
    assert!(st.worker_alive("w1"));
}
