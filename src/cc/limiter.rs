//! `ApiLimiter`: one GCRA limiter per API key, shared by every task of the process.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Spacing is stretched by this factor (1 %): `rps + 1` arrivals then span at least 1.01 s, so
/// no one-second window at the server holds more than `rps` even with ~10 ms of jitter between
/// here and there, while throughput stays at 99 % of the limit.
const SLACK: f64 = 1.01;

pub struct ApiLimiter {
    rps: u32,
    inner: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
}

impl std::fmt::Debug for ApiLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiLimiter")
            .field("rps", &self.rps)
            .finish()
    }
}

impl ApiLimiter {
    /// A private limiter at `rps` requests per second (0 is taken as 1), burst 1.
    pub fn new(rps: u32) -> Arc<Self> {
        let rps = rps.max(1);
        let quota = Quota::with_period(period(rps))
            .expect("period is non-zero")
            .allow_burst(NonZeroU32::MIN);
        Arc::new(Self {
            rps,
            inner: RateLimiter::direct(quota),
        })
    }

    /// The process-wide limiter of `api_key` (the API counts per key, not per account). A
    /// later call with another `rps` replaces it, for callers made after that.
    pub fn for_key(api_key: &str, rps: u32) -> Arc<Self> {
        static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<ApiLimiter>>>> = OnceLock::new();
        let mut map = REGISTRY
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match map.get(api_key) {
            Some(l) if l.rps == rps.max(1) => l.clone(),
            _ => {
                let l = Self::new(rps);
                map.insert(api_key.to_owned(), l.clone());
                l
            }
        }
    }

    pub fn rps(&self) -> u32 {
        self.rps
    }

    /// Waits for this caller's slot.
    pub async fn until_ready(&self) {
        self.inner.until_ready().await;
    }
}

fn period(rps: u32) -> Duration {
    Duration::from_secs_f64(SLACK / f64::from(rps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_is_slightly_above_the_limit() {
        let p = period(10);
        assert!(p > Duration::from_millis(100) && p <= Duration::from_millis(102));
        assert_eq!(ApiLimiter::new(0).rps(), 1);
    }

    #[test]
    fn registry_shares_per_key() {
        let a = ApiLimiter::for_key("key-a-unit", 5);
        let b = ApiLimiter::for_key("key-a-unit", 5);
        let c = ApiLimiter::for_key("key-b-unit", 5);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[tokio::test]
    async fn spacing_holds() {
        let l = ApiLimiter::new(50);
        let start = std::time::Instant::now();
        for _ in 0..11 {
            l.until_ready().await;
        }
        // 10 gaps of ≥ 20.2 ms after the first, immediate, slot.
        assert!(
            start.elapsed() >= Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
    }
}
