//! Operations: Prometheus metrics (`cc_export_*`), `/healthz` and `/readyz`.
//!
//! `metrics.rs` holds the global registry and the one-line recorders the client, the export
//! pipeline, the S3 sink and the worker call; `job_counts.rs` reads `export_jobs` at scrape time;
//! `readiness.rs` the dependency probes; `http.rs` the router the worker serves on
//! `METRICS_ADDR` and `serve` merges into its own.

mod http;
mod job_counts;
pub mod metrics;
pub mod readiness;

#[cfg(test)]
mod dashboard_tests;

pub use http::{OpsState, router, serve};
pub use metrics::{CONTENT_TYPE, metrics};
pub use readiness::ReadinessProbe;
