//! Metrics and health: `/healthz`, `/readyz` (503 naming the dependency that is down) and
//! `/metrics`, in process against real Postgres and RabbitMQ, and from a real worker whose
//! counters move while it exports.

#[path = "common/amqp.rs"]
mod amqp;
#[path = "common/db.rs"]
mod db;
#[path = "common/s3.rs"]
mod s3_common;
#[path = "common/stack.rs"]
mod stack;

use std::time::{Duration, Instant};

use cc_export::config::AmqpSettings;
use cc_export::ops::{self, OpsState};
use cc_export::secret::Secret;
use sqlx::postgres::PgPoolOptions;
use stack::{ACCOUNT, Stack, USER};
use tokio_util::sync::CancellationToken;

const MINUTE: Duration = Duration::from_secs(60);

/// Serves the ops router on a free port; the token stops it.
async fn start(state: OpsState) -> (String, CancellationToken) {
    let stop = CancellationToken::new();
    let addr = "127.0.0.1:0".parse().unwrap();
    let (bound, _) = ops::serve(addr, ops::router(state), stop.clone())
        .await
        .unwrap();
    (format!("http://{bound}"), stop)
}

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn amqp_settings(url: &str) -> AmqpSettings {
    AmqpSettings {
        amqp_url: Secret::new(url.to_owned()),
        export_queue: "ops-probe".into(),
    }
}

/// A pool on a port nothing listens on: `connect_lazy` so the state can be built at all.
fn pool_pointing_nowhere() -> sqlx::PgPool {
    PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap()
}

/// The sum of every sample of `name` whose labels contain each of `labels` (e.g. `status="200"`).
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|want| rest.contains(want)))
                .then(|| value.parse::<f64>().unwrap())
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_and_readyz_are_200_when_postgres_and_rabbitmq_answer() {
    let pool = db::fresh_pool().await;
    let (base, stop) = start(OpsState::new(pool, amqp_settings(&amqp::amqp_url()))).await;
    assert_eq!(get(&format!("{base}/healthz")).await, (200, "ok\n".into()));
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "postgres: ok\nrabbitmq: ok\n")
    );
    let resp = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();
    assert_eq!(sample(&text, "cc_export_jobs_table_up", &[]), 1.0);
    // A fresh schema: every status is reported, at zero.
    for status in ["queued", "running", "succeeded", "failed", "cancelled"] {
        let label = format!("status=\"{status}\"");
        assert!(
            text.contains(&format!("cc_export_jobs{{{label}}} 0")),
            "{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_503_naming_postgres_when_the_database_url_points_nowhere() {
    let state = OpsState::new(pool_pointing_nowhere(), amqp_settings(&amqp::amqp_url()));
    let (base, stop) = start(state).await;
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("postgres: unreachable"), "{body}");
    assert!(body.contains("rabbitmq: ok"), "{body}");
    // The process is up, and a scrape still answers (saying the job table was not read).
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (status, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(sample(&text, "cc_export_jobs_table_up", &[]), 0.0);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_503_naming_rabbitmq_when_the_broker_is_unreachable() {
    let pool = db::fresh_pool().await;
    let state = OpsState::new(pool, amqp_settings("amqp://guest:guest@127.0.0.1:1/%2f"));
    let (base, stop) = start(state).await;
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("postgres: ok"), "{body}");
    assert!(body.contains("rabbitmq: unreachable"), "{body}");
    assert!(!body.contains("guest:guest"), "credentials leaked: {body}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workers_metrics_move_while_it_exports() {
    const CONTACTS: u64 = 6_000;
    // 60 pages at 20 requests/s: the first scrape lands early in a run of several seconds.
    let mut st = Stack::start(CONTACTS, 20).await;
    st.put_tokens(ACCOUNT, USER).await;
    st.spawn_worker("w1");
    let base = st.metrics_url("w1", MINUTE).await;
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");

    let job_id = st.publish_job(ACCOUNT, 100).await;
    let deadline = Instant::now() + MINUTE;
    let first = loop {
        let (_, text) = get(&format!("{base}/metrics")).await;
        if sample(&text, "cc_export_contacts_exported_total", &[]) > 0.0 {
            break text;
        }
        assert!(Instant::now() < deadline, "no contact exported: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let row = st.wait_succeeded(job_id, MINUTE).await;
    let (_, second) = get(&format!("{base}/metrics")).await;

    let contacts = |t: &str| sample(t, "cc_export_contacts_exported_total", &[]);
    let ok_requests = |t: &str| sample(t, "cc_export_api_requests_total", &["status=\"200\""]);
    let jobs = |t: &str, s: &str| sample(t, "cc_export_jobs", &[&format!("status=\"{s}\"")]);
    assert!(contacts(&first) < contacts(&second), "{first}\n{second}");
    assert_eq!(contacts(&second), CONTACTS as f64);
    assert!(ok_requests(&first) < ok_requests(&second));
    assert!(ok_requests(&second) >= (CONTACTS / 100) as f64);
    assert_eq!(
        (jobs(&first, "running"), jobs(&first, "succeeded")),
        (1.0, 0.0)
    );
    assert_eq!(
        (jobs(&second, "running"), jobs(&second, "succeeded")),
        (0.0, 1.0)
    );
    assert_eq!(sample(&second, "cc_export_jobs_running", &[]), 0.0);
    let succeeded = ["outcome=\"succeeded\""];
    assert_eq!(sample(&second, "cc_export_job_runs_total", &succeeded), 1.0);
    assert_eq!(
        sample(&second, "cc_export_job_duration_seconds_count", &succeeded),
        1.0
    );
    assert!(sample(&second, "cc_export_limiter_wait_seconds_count", &[]) >= ok_requests(&second));
    // Under one part: a single PutObject. One run, nothing failed: its bytes are the object's.
    assert_eq!(
        sample(&second, "cc_export_s3_uploads_total", &["result=\"ok\""]),
        1.0
    );
    assert_eq!(
        sample(&second, "cc_export_s3_upload_bytes_total", &[]),
        row.output_bytes as f64
    );
    let recorded = ["decision=\"recorded\""];
    assert_eq!(
        sample(&second, "cc_export_queue_messages_total", &recorded),
        1.0
    );
}

/// `/readyz` is polled every few seconds by every pod: the RabbitMQ check keeps one connection
/// and only opens a channel on it each time, and a broker it cannot reach never leaves one held.
#[tokio::test(flavor = "multi_thread")]
async fn the_rabbitmq_probe_keeps_one_connection_across_checks() {
    use cc_export::ops::readiness::{RabbitMqProbe, ReadinessProbe};
    let mut settings = amqp_settings(&amqp::amqp_url());
    settings.export_queue = "ops-probe-kept".into();
    let probe = RabbitMqProbe::new(settings);
    for _ in 0..5 {
        probe.check().await.expect("the broker answers");
    }
    assert_eq!(probe.connections_opened(), 1);
    // The broker drops it (as in a broker restart): the next check opens a new one.
    let pids = amqp::connection_pids("ops-probe-kept");
    assert_eq!(pids.len(), 1, "{pids:?}");
    amqp::close_connection(&pids[0]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    probe.check().await.expect("the broker answers again");
    probe.check().await.expect("and keeps answering");
    assert_eq!(probe.connections_opened(), 2);

    let nowhere = RabbitMqProbe::new(amqp_settings("amqp://guest:guest@127.0.0.1:1/%2f"));
    for _ in 0..2 {
        let why = nowhere.check().await.unwrap_err();
        assert!(!why.contains("guest:guest"), "credentials leaked: {why}");
    }
    assert_eq!(nowhere.connections_opened(), 0);
}
