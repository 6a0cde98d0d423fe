//! The simulator's knobs.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Contacts per account (each account has its own dataset).
    pub contacts: u64,
    pub seed: u64,
    /// `None`: unlimited; above it, 429 `throttled`.
    pub rate_limit_rps: Option<u32>,
    /// `/v3` requests per UTC day; above it, 429 `quota_exceeded`.
    pub daily_quota: Option<u64>,
    /// Added to every `/v3` response.
    pub latency: Duration,
    /// Share of `/v3` requests answered 500 or 503 at random.
    pub fault_rate: f64,
    /// Share answered 200 with a truncated JSON body.
    pub malformed_rate: f64,
    pub access_token_ttl: Duration,
    /// `None`: cursors never expire.
    pub cursor_ttl: Option<Duration>,
    pub client_id: String,
    pub client_secret: String,
    /// Share of contacts that are deleted (left out by a default query), in thousandths.
    pub deleted_per_mille: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            contacts: 1000,
            seed: 42,
            rate_limit_rps: None,
            daily_quota: None,
            latency: Duration::ZERO,
            fault_rate: 0.0,
            malformed_rate: 0.0,
            access_token_ttl: Duration::from_secs(24 * 3600),
            cursor_ttl: None,
            client_id: "sim-client".into(),
            client_secret: "sim-secret".into(),
            deleted_per_mille: 25,
        }
    }
}
