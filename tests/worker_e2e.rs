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

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_five_times_still_exports_every_contact_once() {
    // 25 requests/s: the 200 pages take at least 8 s of fetching, more than five runs killed at
    // most 2.5 s in can finish (a kill loses what followed the last 5 MiB part). At 50/s a build
    // that parses fast enough could finish before the fifth kill.
    let mut st = Stack::start(50_000, 25).await;
    st.put_tokens(ACCOUNT, USER).await;
    let job_id = st.publish_job(ACCOUNT, 250).await;
    let mut kills = 0;
    let mut seen_progress = Vec::new();
    for round in 1..=5 {
        let name = format!("w{round}");
        st.spawn_worker(&name);
        // Kill only once this worker holds the job, at a random instant into its run.
        st.wait_job(job_id, MINUTE, "claimed by the new worker", |r| {
            r.lease_owner.as_deref() == Some(name.as_str())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(fastrand::u64(300..2_500))).await;
        let row = st.job(job_id).await.unwrap();
        if row.status == JobStatus::Succeeded {
            break;
        }
        st.kill_worker(&name);
        kills += 1;
        seen_progress.push(row.total_processed);
    }
    assert_eq!(kills, 5, "the export finished before five kills landed");
    st.spawn_worker("last");
    let row = st.wait_succeeded(job_id, 3 * MINUTE).await;
    let ids = st.object_ids(&row.output_key).await;
    assert_eq!(
        ids.len(),
        50_000,
        "progress at the kills: {seen_progress:?}"
    );
    assert_eq!(
        ids,
        st.expected_ids(ACCOUNT),
        "every contact exactly once, in order"
    );
    assert_eq!(row.total_processed, 50_000);
    assert!(
        s3_common::uploads(&st.s3, &st.bucket).await.is_empty(),
        "no multipart upload left behind"
    );
}

/// A partitioned job (four windows at once) whose workers die mid-window: the checkpoint names
/// the window, the next worker walks the same plan, and the object is the one-chain object.
#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_export_survives_killed_workers_and_matches_one_chain() {
    let mut st = Stack::start(40_000, 50).await;
    st.env.push(("EXPORT_PARTITIONS".into(), "4".into()));
    st.put_tokens(ACCOUNT, USER).await;
    let job_id = st.publish_job(ACCOUNT, 250).await;
    let mut windows_seen = Vec::new();
    for round in 1..=3 {
        let name = format!("w{round}");
        st.spawn_worker(&name);
        st.wait_job(job_id, MINUTE, "claimed by the new worker", |r| {
            r.lease_owner.as_deref() == Some(name.as_str()) && r.pages > 0
        })
        .await;
        tokio::time::sleep(Duration::from_millis(fastrand::u64(300..1_500))).await;
        let row = st.job(job_id).await.unwrap();
        if row.status == JobStatus::Succeeded {
            break;
        }
        st.kill_worker(&name);
        windows_seen.push((row.window_index, row.windows.len(), row.total_processed));
    }
    assert!(
        windows_seen.iter().any(|&(_, plan, _)| plan >= 3),
        "the job was not partitioned: {windows_seen:?}"
    );
    st.spawn_worker("last");
    let row = st.wait_succeeded(job_id, 3 * MINUTE).await;
    let ids = st.object_ids(&row.output_key).await;
    assert_eq!(
        ids,
        st.expected_ids(ACCOUNT),
        "every contact exactly once, in window order (kills at {windows_seen:?})"
    );
    assert_eq!(row.total_processed, 40_000);
    assert!(s3_common::uploads(&st.s3, &st.bucket).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_deliveries_and_two_workers_export_each_job_once() {
    let mut st = Stack::start(2_000, 100).await;
    let accounts = ["acct-a", "acct-b", "acct-c"];
    for a in accounts {
        st.put_tokens(a, USER).await;
    }
    st.spawn_worker("w1");
    st.spawn_worker("w2");
    let mut ids = Vec::new();
    for a in accounts {
        let id = uuid::Uuid::new_v4();
        for _ in 0..3 {
            st.publish_job_with_id(id, a, 500).await;
        }
        ids.push((id, a));
    }
    for (id, account) in &ids {
        let row = st.wait_succeeded(*id, MINUTE).await;
        assert_eq!(
            st.object_ids(&row.output_key).await,
            st.expected_ids(account)
        );
        assert_eq!(row.attempts, 1, "run once");
    }
    // Each job's pages were fetched once: 3 × 2,000 contacts served, not more.
    assert_eq!(st.sim.stats().contacts_served, 6_000);
    assert_eq!(
        st.queue.count(&st.queue.name).await,
        0,
        "every delivery acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_messages_are_dead_lettered_and_the_next_job_completes() {
    use cc_export::queue::HEADER_ERROR;
    let mut st = Stack::start(1_000, 100).await;
    st.put_tokens(ACCOUNT, USER).await;
    st.spawn_worker("w1");
    let bad_id = uuid::Uuid::new_v4();
    st.publish(b"this is not json").await;
    st.publish(br#"{"type":"mailchimp-export","account_id":"1","user_id":"u"}"#)
        .await;
    let bad = serde_json::json!({"type":"constantcontact-export","job_id":bad_id,"account_id":ACCOUNT,"user_id":USER,"batch_size":501});
    st.publish(bad.to_string().as_bytes()).await;
    let good = st.publish_job(ACCOUNT, 500).await;
    st.wait_succeeded(good, MINUTE).await;
    let mut reasons = Vec::new();
    for _ in 0..3 {
        let m = st
            .queue
            .get(&st.queue.dlq(), Duration::from_secs(10))
            .await
            .expect("a dead-lettered message");
        let headers = m.delivery.properties.headers().clone().unwrap_or_default();
        reasons.push(
            String::from_utf8_lossy(
                cc_export::queue::header_str(&headers, HEADER_ERROR).unwrap_or_default(),
            )
            .into_owned(),
        );
    }
    // Two handlers run at once: the dead letters may arrive in any order.
    for want in ["JSON", "type", "batch_size"] {
        assert!(
            reasons.iter().any(|r| r.contains(want)),
            "{want}: {reasons:?}"
        );
    }
    let row = st
        .job(bad_id)
        .await
        .expect("a rejected message with a job_id is recorded");
    assert_eq!(row.status, JobStatus::Failed);
    assert!(row.error.unwrap_or_default().contains("batch_size"));
    assert!(st.worker_alive("w1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_jobs_of_one_account_in_two_processes_share_rotating_tokens() {
    // 250 ms per answer keeps each job's 40 pages over ~10 s, so neither can finish before the
    // tokens expire under both (at 0 ms one job sometimes did, and only one 401 was seen).
    let cfg = cc_export::sim::SimConfig {
        contacts: 20_000,
        rate_limit_rps: Some(20),
        deleted_per_mille: 0,
        latency: Duration::from_millis(250),
        ..Default::default()
    };
    let mut st = Stack::start_with(cfg, 20).await;
    st.env.push(("WORKER_CONCURRENCY".into(), "1".into()));
    st.put_tokens(ACCOUNT, USER).await;
    st.spawn_worker("w1");
    st.spawn_worker("w2");
    let a = st.publish_job(ACCOUNT, 500).await;
    let b = st.publish_job(ACCOUNT, 500).await;
    for id in [a, b] {
        // Columns are saved after the job's first API request: its token is cached by then.
        st.wait_job(id, MINUTE, "running with a request made", |r| {
            r.status == JobStatus::Running && r.lease_owner.is_some() && r.columns.is_some()
        })
        .await;
    }
    // Both processes now hold the same access token; it expires under them.
    let pages_at_expiry = st.sim.stats().pages;
    st.sim.expire_access_tokens();
    for id in [a, b] {
        let row = st.wait_succeeded(id, 2 * MINUTE).await;
        assert_eq!(st.object_ids(&row.output_key).await.len(), 20_000);
    }
    let stats = st.sim.stats();
    assert_eq!(
        stats.invalid_grants, 0,
        "no worker spent a refresh token twice"
    );
    assert_eq!(stats.refreshes, 1, "one refresh served both processes");
    assert!(
        stats.unauthorized >= 2,
        "{pages_at_expiry} pages at expiry; {stats:?}"
    );
    // The tokens never reached a log line.
    let logs = st.all_logs();
    let stored = cc_export::store::tokens::load(&st.db.pool, &st.key, ACCOUNT, USER)
        .await
        .unwrap();
    assert!(
        !logs.contains(stored.access_token.expose())
            && !logs.contains(stored.refresh_token.expose())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_hands_the_job_back_and_another_worker_finishes_it() {
    let mut st = Stack::start(30_000, 10).await;
    st.put_tokens(ACCOUNT, USER).await;
    st.spawn_worker("w1");
    let job_id = st.publish_job(ACCOUNT, 250).await;
    st.wait_job(job_id, MINUTE, "running", |r| {
        r.status == JobStatus::Running
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let status = st.terminate_worker("w1", Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    let row = st.job(job_id).await.unwrap();
    assert_eq!(row.status, JobStatus::Queued, "handed back");
    assert_eq!(
        (row.lease_owner, row.attempts),
        (None, 0),
        "lease released, attempt given back"
    );
    st.spawn_worker("w2");
    let row = st.wait_succeeded(job_id, 2 * MINUTE).await;
    assert_eq!(
        st.object_ids(&row.output_key).await,
        st.expected_ids(ACCOUNT)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_cancel_stops_a_running_export_within_a_page_and_aborts_its_upload() {
    let mut st = Stack::start(60_000, 20).await;
    // A long lease: only the cancel notification, not a heartbeat, can stop the job quickly.
    st.env.push(("WORKER_LEASE_SECS".into(), "60".into()));
    st.put_tokens(ACCOUNT, USER).await;
    st.spawn_worker("w1");
    let job_id = st.publish_job(ACCOUNT, 250).await;
    let row = st
        .wait_job(job_id, MINUTE, "a part uploaded", |r| {
            r.upload_id.is_some() && r.total_processed > 0
        })
        .await;
    assert_eq!(s3_common::uploads(&st.s3, &st.bucket).await.len(), 1);
    let out = std::process::Command::new(BIN)
        .args(["jobs", "cancel", &job_id.to_string()])
        .env("DATABASE_URL", st.db.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let served_at_cancel = st.sim.stats().pages;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !s3_common::uploads(&st.s3, &st.bucket).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "upload not aborted within 5 s of the cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served_at_abort = st.sim.stats().pages;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        st.sim.stats().pages,
        served_at_abort,
        "the export went on after it stopped"
    );
    // Between the cancel and the stop: the pages already in the pipeline (2 prefetched, 1 in
    // flight) and what the limiter lets through while the notification travels.
    assert!(
        served_at_abort <= served_at_cancel + 5,
        "{} pages fetched after the cancel",
        served_at_abort - served_at_cancel
    );
    let after = st.job(job_id).await.unwrap();
    assert_eq!(after.status, JobStatus::Cancelled);
    assert!(!s3_common::exists(&st.s3, &st.bucket, &row.output_key).await);
    assert!(st.worker_alive("w1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_refresh_token_fails_the_job_at_once_with_a_clear_reason() {
    let mut st = Stack::start(1_000, 100).await;
    st.put_tokens(ACCOUNT, USER).await;
    st.sim.revoke_refresh_tokens(ACCOUNT);
    st.sim.expire_access_tokens();
    st.spawn_worker("w1");
    let job_id = st.publish_job(ACCOUNT, 500).await;
    let row = st
        .wait_job(job_id, MINUTE, "failed", |r| r.status == JobStatus::Failed)
        .await;
    let error = row.error.unwrap_or_default();
    assert!(error.contains("re-authentication required"), "{error}");
    assert_eq!(row.attempts, 1, "a permanent failure is not retried");
    assert_eq!(st.sim.stats().invalid_grants, 1);
    // A job without stored tokens fails the same way, and the worker keeps going.
    let orphan = st.publish_job("acct-without-tokens", 500).await;
    let row = st
        .wait_job(orphan, MINUTE, "failed", |r| r.status == JobStatus::Failed)
        .await;
    assert!(row.error.unwrap_or_default().contains("tokens put"));
    assert!(st.worker_alive("w1"));
}
