//! Constant Contact API faults end to end, through real worker processes: 429 storms, 5xx, slow
//! responses, truncated bodies and resets, cursors that die on resume, token expiry and
//! revocation. Each run ends with the export checked contact by contact and a report row; the
//! workers' logs never contain a token the simulator issued.

#[path = "common/amqp.rs"]
mod amqp;
#[path = "common/api_faults.rs"]
mod api_faults;
#[path = "common/db.rs"]
mod db;
#[path = "common/report.rs"]
mod report;
#[path = "common/s3.rs"]
mod s3_common;
#[path = "common/stack.rs"]
mod stack;

use api_faults::{MINUTE, assert_no_tokens_logged, audit, sim, start_job, wait_pages};
use cc_export::sim::{Fault, SimConfig};
use report::Row;
use stack::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn storms_of_429_slow_the_export_but_lose_nothing() {
    // The simulator allows 4 rps; the workers believe the key has 20.
    let mut st = Stack::start_with(sim(3_000, 4), 20).await;
    let throttled = Fault::Status {
        status: 429,
        error_key: Some("throttled".into()),
        retry_after: None,
    };
    st.sim.inject(throttled.clone(), 5);
    let id = start_job(&mut st, 100).await;
    wait_pages(&st, 5).await;
    st.sim.inject(throttled.clone(), 5);
    wait_pages(&st, 15).await;
    st.sim.inject(throttled, 5);
    let audit = audit(&st, id, 2 * MINUTE).await;
    let stats = st.sim.stats();
    assert!(stats.throttled >= 15, "{stats:?}");
    assert_no_tokens_logged(&st);
    report::record(&Row {
        fault: "429 storms (3 scripted bursts of 5; simulator limit 4 rps under the worker's 20)"
            .into(),
        injected: stats.throttled,
        jobs: 1,
        audit,
        note: format!("{} requests for {} pages", stats.requests, stats.pages),
        ..Row::default()
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_percent_5xx_are_retried_without_loss() {
    let mut st = Stack::start_with(
        SimConfig {
            fault_rate: 0.10,
            ..sim(10_000, 100)
        },
        100,
    )
    .await;
    let id = start_job(&mut st, 100).await;
    let audit = audit(&st, id, 2 * MINUTE).await;
    let stats = st.sim.stats();
    assert!(stats.server_errors >= 3, "{stats:?}");
    assert_no_tokens_logged(&st);
    report::record(&Row {
        fault: "10 % of API requests answered 500/503".into(),
        injected: stats.server_errors,
        jobs: 1,
        audit,
        note: format!(
            "{} of {} requests failed",
            stats.server_errors, stats.requests
        ),
        ..Row::default()
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_slower_than_the_client_timeout_are_abandoned_and_retried() {
    let mut st = Stack::start_with(sim(3_000, 100), 100).await;
    st.env.push(("CC_REQUEST_TIMEOUT_SECS".into(), "1".into()));
    st.sim.inject(Fault::Delay { ms: 2_500 }, 2);
    let id = start_job(&mut st, 250).await;
    wait_pages(&st, 4).await;
    st.sim.inject(Fault::Delay { ms: 2_500 }, 2);
    let audit = audit(&st, id, 2 * MINUTE).await;
    let logs = st.all_logs();
    assert!(
        logs.contains("timed out") || logs.contains("timeout"),
        "the timeouts were seen"
    );
    assert_no_tokens_logged(&st);
    report::record(&Row {
        fault: "API responses 2.5 s slower than the 1 s client timeout".into(),
        injected: 4,
        jobs: 1,
        audit,
        note: "CC_REQUEST_TIMEOUT_SECS=1; each slow request abandoned and retried".into(),
        ..Row::default()
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_bodies_and_resets_are_retried_without_loss() {
    let cfg = SimConfig {
        malformed_rate: 0.05,
        ..sim(10_000, 20)
    };
    // 20 rps: about 5 s of export, so the second burst lands mid-export.
    let mut st = Stack::start_with(cfg, 20).await;
    st.sim.inject(Fault::Reset, 3);
    st.sim.inject(Fault::Malformed, 2);
    let id = start_job(&mut st, 100).await;
    wait_pages(&st, 20).await;
    st.sim.inject(Fault::Reset, 2);
    let audit = audit(&st, id, 2 * MINUTE).await;
    let stats = st.sim.stats();
    // 7 scripted (5 resets, 2 truncations) plus the random truncations.
    assert!(stats.resets >= 5 && stats.malformed >= 2, "{stats:?}");
    assert_no_tokens_logged(&st);
    report::record(&Row {
        fault: "Truncated JSON bodies (5 %) and connections reset mid-body".into(),
        injected: stats.faults_injected,
        jobs: 1,
        audit,
        note: format!("{} truncated, {} resets", stats.malformed, stats.resets),
        ..Row::default()
    });
}
