//! cc-export: every contact of a Constant Contact account, exported exactly once.
//!
//! Data flow: `queue` (jobs in) → `store` (the job table, the source of truth) → `worker`
//! (claims and runs jobs) → `cc` (API client) → `export` (pipeline, checkpoints) → `encode`
//! (CSV/NDJSON) → `sink` (file or S3 multipart). `sim` is the Constant Contact simulator;
//! `api` the HTTP API (`serve`); `cli` the commands; `startup` wires them.

pub mod api;
pub mod cc;
pub mod cli;
pub mod config;
pub mod encode;
pub mod export;
pub mod job;
pub mod queue;
pub mod secret;
pub mod sim;
pub mod sink;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod worker;
