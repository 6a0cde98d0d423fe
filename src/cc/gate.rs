//! `SharedGate`: the cluster-wide half of the rate limit. `ApiLimiter` paces one process; a
//! gate (implemented over Postgres in `store::rate_gate`) hands every request of every process
//! that uses the same API key its own slot, and counts the key's daily quota. `cc/` only knows
//! this trait, so the client keeps working without a database (the one-shot `export`).

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
    /// Returns when this caller's slot has come: the request may be sent now. Counts the
    /// request against the day's quota.
    async fn acquire(&self) -> Result<(), GateError>;

    /// The API answered 429 `quota_exceeded`: every process of the key stops until 00:00 UTC.
    async fn mark_exhausted(&self) -> Result<(), GateError>;
}

/// Jitter that slots spaced by the shared gate absorb per second: the time between being granted
/// a slot and the request reaching the server (database answer, timer wake-up, scheduling of
/// several processes on shared cores) varies by up to this much without `rps + 1` requests ever
/// landing in one second. The local limiter's 1 % (10 ms) is enough inside one process; across
/// processes and a database round trip it is not, and the load test saw 50 ms fall short on two
/// busy cores: 10 % (throughput 91 % of the limit) is the price of never being throttled.
pub const SHARED_JITTER_BUDGET: Duration = Duration::from_millis(100);

/// The spacing of shared slots at `rps` (0 is taken as 1): `rps` slots span `1 s + budget`.
pub fn shared_interval(rps: u32) -> Duration {
    (Duration::from_secs(1) + SHARED_JITTER_BUDGET) / rps.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rps_slots_span_more_than_a_second() {
        for rps in [1, 10, 20, 50, 1000] {
            let span = shared_interval(rps) * rps;
            assert!(span >= Duration::from_millis(1099), "{rps}: {span:?}");
            assert!(span <= Duration::from_millis(1100), "{rps}: {span:?}");
        }
        assert_eq!(shared_interval(0), shared_interval(1));
    }
}
