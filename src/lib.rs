//! cc-export: every contact of a Constant Contact account, exported exactly once.
//!
//! Data flow: `cc` (API client) → `export` (pipeline, checkpoints) → `encode` (CSV/NDJSON)
//! → `sink` (file or object store). `sim` is the Constant Contact simulator; `cli` the commands.

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
pub mod store;
pub mod telemetry;
