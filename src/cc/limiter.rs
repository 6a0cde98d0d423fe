//! `ApiLimiter`: one limiter per API key, shared by every task of the process, serving its
//! waiters in the order they came, one slot an interval (1 % over `1 s / rps`) after the other
//! (`cc::spacing`: burst 1, on the schedule rather than on late timers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::spacing::Spacing;

/// What `rps` intervals span: 1 % over a second. `rps + 1` slots span 1.01 s on the schedule, and
/// so do the instants their requests woke (`cc::spacing`), so no one-second window at the server
/// holds more than `rps` with up to 10 ms of jitter on the way there, while throughput stays at
/// 99 % of the limit.
const RPS_INTERVALS_US: u64 = 1_010_000;

pub struct ApiLimiter {
    rps: u32,
    spacing: Mutex<Spacing>,
    /// Waiters queue here (tokio's mutex is FIFO) and only the head waits for its slot. Without
    /// it every waiter sleeps to the same instant and whichever wakes first wins: a job could
    /// lose many turns in a row while others are served again and again.
    turn: tokio::sync::Mutex<()>,
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
        Arc::new(Self {
            rps,
            spacing: Mutex::new(Spacing::new(slot_interval(rps), rps)),
            turn: tokio::sync::Mutex::new(()),
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

    /// Waits for this caller's slot, after every caller that asked before it.
    pub async fn until_ready(&self) {
        let _turn = self.turn.lock().await;
        let slot = {
            let mut spacing = self.spacing();
            let slot = spacing.earliest(Instant::now());
            spacing.take(slot);
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
        self.spacing().sent(Instant::now());
    }

    fn spacing(&self) -> MutexGuard<'_, Spacing> {
        self.spacing.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The spacing of one process's requests at `rps` (0 is taken as 1): `1 s / rps` plus the 1 %
/// slack, in whole microseconds (rounded up: the database keeps microseconds).
pub fn slot_interval(rps: u32) -> Duration {
    Duration::from_micros(RPS_INTERVALS_US.div_ceil(u64::from(rps.max(1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_is_slightly_above_the_limit() {
        let p = slot_interval(10);
        assert_eq!(p, Duration::from_micros(101_000));
        assert_eq!(ApiLimiter::new(0).rps(), 1);
        assert_eq!(slot_interval(0), slot_interval(1));
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

    /// Eight tasks queue, then each takes six slots: the limiter goes round them in turn.
    #[tokio::test(flavor = "current_thread")]
    async fn waiters_are_served_in_the_order_they_came() {
        const TASKS: usize = 8;
        const ROUNDS: usize = 6;
        let l = ApiLimiter::new(1000);
        let served = Arc::new(Mutex::new(Vec::new()));
        let first_in_line = l.turn.lock().await;
        let mut tasks = Vec::new();
        for i in 0..TASKS {
            let (l, served) = (l.clone(), served.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    l.until_ready().await;
                    served.lock().unwrap().push(i);
                }
            }));
            // Lets task `i` run until it queues.
            tokio::task::yield_now().await;
        }
        drop(first_in_line);
        for t in tasks {
            t.await.unwrap();
        }
        let round_robin: Vec<usize> = (0..ROUNDS).flat_map(|_| 0..TASKS).collect();
        assert_eq!(*served.lock().unwrap(), round_robin);
    }
}
