//! `SharedGate`: the cluster-wide half of the rate limit. `ApiLimiter` paces a process alone; a
//! gate (implemented over Postgres in `store::rate_gate`) shares the API key's time between every
//! process that uses it, a block of slots at a time, paces this process's requests inside its
//! blocks, and counts the key's daily quota. `cc/` only knows this trait, so the client keeps
//! working without a database (the one-shot `export`).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// `CC_DAILY_QUOTA` requests were made today (UTC), or the API said `quota_exceeded`.
    #[error("the API key's daily quota is spent")]
    QuotaExceeded,
    /// The shared state cannot be reached: the request is not sent (never unpaced). The text
    /// says what is unavailable and why.
    #[error("{0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait SharedGate: Send + Sync {
    /// Returns when this caller's slot has come: the request may be sent now. Callers of one
    /// gate are served in the order they asked, their slots at least
    /// [`slot_interval`](super::limiter::slot_interval) apart; the request counts against the
    /// day's quota.
    async fn acquire(&self) -> Result<(), GateError>;

    /// The API answered 429 `quota_exceeded`: every process of the key stops until 00:00 UTC.
    async fn mark_exhausted(&self) -> Result<(), GateError>;
}

/// The gap between one process's block of slots and the next process's. Within a process,
/// requests are an interval (1 % over `1 s / rps`) apart and the 1 % absorbs its ~10 ms of
/// jitter. Where the key passes to another process, the time between a slot and its request
/// reaching the server (database answer, timer wake-up, scheduling of several processes on
/// shared cores) varies more, and the load test saw 50 ms fall short on two busy cores: 100 ms
/// keeps `rps + 1` requests out of any second across the hand-over.
pub const SHARED_JITTER_BUDGET: Duration = Duration::from_millis(100);
