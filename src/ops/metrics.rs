//! The process's Prometheus registry (`prometheus-client`) and the one-line recorders the code
//! paths call. One global handle: instrumentation must not thread a registry through every API.
//!
//! Counters are per process (sum them over replicas); `cc_export_jobs` is read from `export_jobs`
//! at scrape time, so every replica reports the same cluster-wide numbers (take the max).

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label sets: a few `(name, value)` pairs.
type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// The content type of `encode()`'s output (OpenMetrics text, which Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const API_SECONDS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const WAIT_SECONDS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const UPLOAD_SECONDS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];
const JOB_SECONDS: [f64; 14] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0,
    86400.0,
];

/// `cc_export_job_runs_total{outcome}`: how a job run ended (`worker/outcome.rs`).
pub const OUTCOMES: [&str; 7] = [
    "succeeded",
    "retry",
    "failed",
    "cancelled",
    "quota_wait",
    "drained",
    "lease_lost",
];
/// `cc_export_stage_cpu_seconds_total{stage}`: the pipeline's stages, in `export::stage_cpu::Stage`
/// order.
pub const STAGES: [&str; 3] = ["read", "encode", "write"];
/// `cc_export_queue_messages_total{decision}`: what the worker did with a delivery.
pub const DECISIONS: [&str; 4] = ["recorded", "duplicate", "dead_lettered", "requeued"];

pub struct Metrics {
    registry: Registry,
    /// Jobs in `export_jobs` by status, refreshed at each scrape (`job_counts.rs`).
    pub(super) jobs: Family<Labels, Gauge>,
    /// 1 when the last scrape could read `export_jobs`, else 0 (and `jobs` is stale).
    pub(super) jobs_table_up: Gauge,
    jobs_running: Gauge,
    job_runs: Family<Labels, Counter>,
    job_duration: Histograms,
    contacts: Counter,
    stage_cpu: Family<Labels, Counter<f64, AtomicU64>>,
    api_requests: Family<Labels, Counter>,
    api_duration: Histograms,
    api_retries: Family<Labels, Counter>,
    token_refreshes: Counter,
    limiter_wait: Histogram,
    uploads: Family<Labels, Counter>,
    upload_bytes: Family<Labels, Counter>,
    upload_duration: Histogram,
    messages: Family<Labels, Counter>,
}

fn api_histogram() -> Histogram {
    Histogram::new(API_SECONDS)
}

fn job_histogram() -> Histogram {
    Histogram::new(JOB_SECONDS)
}

impl Metrics {
    fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("cc_export"),
            jobs: Family::default(),
            jobs_table_up: Gauge::default(),
            jobs_running: Gauge::default(),
            job_runs: Family::default(),
            job_duration: Family::new_with_constructor(job_histogram),
            contacts: Counter::default(),
            stage_cpu: Family::default(),
            api_requests: Family::default(),
            api_duration: Family::new_with_constructor(api_histogram),
            api_retries: Family::default(),
            token_refreshes: Counter::default(),
            limiter_wait: Histogram::new(WAIT_SECONDS),
            uploads: Family::default(),
            upload_bytes: Family::default(),
            upload_duration: Histogram::new(UPLOAD_SECONDS),
            messages: Family::default(),
        };
        let r = &mut m.registry;
        r.register("jobs", "Export jobs in the job table by status (read at scrape time; the same on every replica)", m.jobs.clone());
        r.register(
            "jobs_table_up",
            "1 when the last scrape read export_jobs, 0 when Postgres did not answer",
            m.jobs_table_up.clone(),
        );
        r.register(
            "jobs_running",
            "Jobs this process is running now",
            m.jobs_running.clone(),
        );
        r.register("job_runs", "Job runs this process ended, by outcome (succeeded, retry, failed, cancelled, quota_wait, drained, lease_lost)", m.job_runs.clone());
        r.register(
            "job_duration_seconds",
            "Time from claiming a job to settling its run, by outcome",
            m.job_duration.clone(),
        );
        r.register(
            "contacts_exported",
            "Contacts written to an export's output (a part re-fetched after a crash counts again)",
            m.contacts.clone(),
        );
        r.register(
            "stage_cpu_seconds",
            "CPU time of the export pipeline's own stages (read: page bodies into rows, encode, write), by stage",
            m.stage_cpu.clone(),
        );
        r.register(
            "api_requests",
            "Constant Contact API answers by request and HTTP status (status=\"error\": no answer)",
            m.api_requests.clone(),
        );
        r.register(
            "api_request_duration_seconds",
            "Constant Contact API answer time by request, limiter wait excluded",
            m.api_duration.clone(),
        );
        r.register(
            "api_retries",
            "Constant Contact API requests retried after a transient failure, by request",
            m.api_retries.clone(),
        );
        r.register(
            "token_refreshes",
            "Access tokens refreshed after a 401",
            m.token_refreshes.clone(),
        );
        r.register(
            "limiter_wait_seconds",
            "Time a request waited for the API key's rate limit (local limiter or shared gate)",
            m.limiter_wait.clone(),
        );
        r.register(
            "s3_uploads",
            "S3 upload requests (UploadPart; PutObject for an output that fits one part) by result",
            m.uploads.clone(),
        );
        r.register(
            "s3_upload_bytes",
            "Bytes uploaded to S3 by successful UploadPart/PutObject requests",
            m.upload_bytes.clone(),
        );
        r.register(
            "s3_upload_duration_seconds",
            "Time of one S3 upload request, the SDK's own retries included",
            m.upload_duration.clone(),
        );
        r.register("queue_messages", "Deliveries from the export queue by decision (recorded, duplicate, dead_lettered, requeued)", m.messages.clone());
        m.zero_known_series();
        m
    }

    /// Series whose label values are a closed set start at 0, so `rate()` and alerts see them
    /// before the first event (a family exports nothing until a series exists).
    fn zero_known_series(&self) {
        for outcome in OUTCOMES {
            let _ = self.job_runs.get_or_create(&label("outcome", outcome));
        }
        for decision in DECISIONS {
            let _ = self.messages.get_or_create(&label("decision", decision));
        }
        for stage in STAGES {
            let _ = self.stage_cpu.get_or_create(&label("stage", stage));
        }
        for request in ["UploadPart", "PutObject"] {
            for result in ["ok", "error"] {
                let labels = vec![
                    ("request", request.to_owned()),
                    ("result", result.to_owned()),
                ];
                let _ = self.uploads.get_or_create(&labels);
            }
            let _ = self.upload_bytes.get_or_create(&label("request", request));
        }
    }

    /// A registry of its own with a series in every family: what each metric's samples are
    /// named, for checking the dashboard's queries.
    #[cfg(test)]
    pub(super) fn with_every_family() -> Self {
        let m = Self::new();
        let none = Labels::new();
        let _ = m.jobs.get_or_create(&none);
        let _ = m.job_duration.get_or_create(&none);
        let _ = m.api_requests.get_or_create(&none);
        let _ = m.api_duration.get_or_create(&none);
        let _ = m.api_retries.get_or_create(&none);
        m
    }

    /// The whole registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

pub fn metrics() -> &'static Metrics {
    &METRICS
}

fn label(name: &'static str, value: impl Into<String>) -> Labels {
    vec![(name, value.into())]
}

/// One answer of the API (any status).
pub fn api_response(request: &'static str, status: u16, took: Duration) {
    let m = metrics();
    let labels = vec![
        ("request", request.to_owned()),
        ("status", status.to_string()),
    ];
    let _ = m.api_requests.get_or_create(&labels).inc();
    m.api_duration
        .get_or_create(&label("request", request))
        .observe(took.as_secs_f64());
}

/// A request that got no answer (connect error, timeout, reset).
pub fn api_no_answer(request: &'static str) {
    let labels = vec![
        ("request", request.to_owned()),
        ("status", "error".to_owned()),
    ];
    metrics().api_requests.get_or_create(&labels).inc();
}

pub fn api_retry(request: &str) {
    metrics()
        .api_retries
        .get_or_create(&label("request", request))
        .inc();
}

pub fn token_refreshed() {
    metrics().token_refreshes.inc();
}

pub fn limiter_waited(took: Duration) {
    metrics().limiter_wait.observe(took.as_secs_f64());
}

/// CPU time one call of a pipeline stage took (`export::stage_cpu`).
pub fn stage_cpu(stage: &'static str, took: Duration) {
    metrics()
        .stage_cpu
        .get_or_create(&label("stage", stage))
        .inc_by(took.as_secs_f64());
}

/// This process's total so far for one stage.
pub fn stage_cpu_total(stage: &'static str) -> Duration {
    let seconds = metrics()
        .stage_cpu
        .get_or_create(&label("stage", stage))
        .get();
    Duration::from_secs_f64(seconds)
}

pub fn contacts_exported(rows: u64) {
    metrics().contacts.inc_by(rows);
}

/// One S3 upload request: `UploadPart`, or `PutObject` for an output that fits one part.
pub fn uploaded(request: &'static str, ok: bool, bytes: u64, took: Duration) {
    let m = metrics();
    let result = if ok { "ok" } else { "error" };
    let labels = vec![
        ("request", request.to_owned()),
        ("result", result.to_owned()),
    ];
    let _ = m.uploads.get_or_create(&labels).inc();
    m.upload_duration.observe(took.as_secs_f64());
    if ok {
        m.upload_bytes
            .get_or_create(&label("request", request))
            .inc_by(bytes);
    }
}

pub fn job_started() {
    metrics().jobs_running.inc();
}

pub fn job_ended(outcome: &'static str, took: Duration) {
    let m = metrics();
    m.jobs_running.dec();
    let _ = m.job_runs.get_or_create(&label("outcome", outcome)).inc();
    m.job_duration
        .get_or_create(&label("outcome", outcome))
        .observe(took.as_secs_f64());
}

pub fn queue_message(decision: &'static str) {
    metrics()
        .messages
        .get_or_create(&label("decision", decision))
        .inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    /// The registry is global and other tests in this binary record too: compare deltas.
    #[test]
    fn recorders_show_up_in_the_exposition() {
        let before = metrics().encode();
        api_response("unit_test", 429, Duration::from_millis(20));
        api_no_answer("unit_test");
        uploaded("UploadPart", true, 5 << 20, Duration::from_millis(300));
        contacts_exported(500);
        let after = metrics().encode();
        let moved = |series: &str| value(&after, series) - value(&before, series);
        let throttled = r#"cc_export_api_requests_total{request="unit_test",status="429"}"#;
        assert_eq!(moved(throttled), 1.0);
        let no_answer = r#"cc_export_api_requests_total{request="unit_test",status="error"}"#;
        assert_eq!(moved(no_answer), 1.0);
        let bytes = r#"cc_export_s3_upload_bytes_total{request="UploadPart"}"#;
        assert_eq!(moved(bytes), (5 << 20) as f64);
        assert!(moved("cc_export_contacts_exported_total") >= 500.0);
        let le = r#"cc_export_api_request_duration_seconds_bucket{le="0.025",request="unit_test"}"#;
        assert!(after.contains(le), "{after}");
        assert!(after.contains("# TYPE cc_export_limiter_wait_seconds histogram"));
    }
}
