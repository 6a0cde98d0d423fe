//! The Constant Contact v3 simulator: `GET /v3/contacts`, `GET /v3/contact_custom_fields`, the
//! OAuth2 refresh grant, and `/__sim/*` controls, on one port. It is the one stand-in allowed in
//! tests and serves demos and load runs. Every contact is a pure function of (seed, account,
//! index), so ten million contacts cost no memory.

mod account;
mod admin;
mod auth;
mod clock;
mod config;
mod contact;
mod cursor;
mod dataset;
mod faults;
mod json;
mod limiter;
mod mix;
mod oauth;
mod pages;
mod pools;
mod query;
mod reply;
mod server;
mod state;
mod stats;
mod v3;

pub use auth::SimTokens;
pub use config::SimConfig;
pub use contact::Include;
pub use dataset::Dataset;
pub use faults::Fault;
pub use server::Simulator;
pub use stats::SimStats;
