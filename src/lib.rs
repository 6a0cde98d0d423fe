//! cc-export: every contact of a Constant Contact account, exported exactly once.
//!
//! Data flow: `queue` (jobs in) → `store` (the job table, the source of truth) → `worker`
//! (claims and runs jobs) → `cc` (API client) → `export` (pipeline, checkpoints) → `encode`
//! (CSV/NDJSON) → `sink` (file or S3 multipart). `sim` is the Constant Contact simulator;
//! `cli` the commands; `startup` wires them; `api` is the HTTP API (`serve`); `ops` serves metrics
//! and health. `schedule` (cron + job template) feeds scheduled syncs: `store::schedules` holds
//! them, `worker` enqueues due runs.

pub mod api;
pub mod cc;
pub mod cli;
pub mod config;
pub mod encode;
pub mod export;
pub mod job;
pub mod ops;
pub mod queue;
pub mod schedule;
pub mod secret;
pub mod sim;
pub mod sink;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod worker;
