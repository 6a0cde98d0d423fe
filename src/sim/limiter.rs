//! The API's limits: a sliding one-second window over accepted requests, and a daily quota
//! (per UTC day).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Throttled,
    QuotaExceeded,
}

#[derive(Debug, Default)]
struct Window {
    accepted: VecDeque<Instant>,
    day: i64,
    used_today: u64,
}

#[derive(Debug)]
pub struct Limiter {
    rps: Option<u32>,
    daily_quota: Option<u64>,
    window: Mutex<Window>,
}

impl Limiter {
    pub fn new(rps: Option<u32>, daily_quota: Option<u64>) -> Self {
        Self {
            rps,
            daily_quota,
            window: Mutex::default(),
        }
    }

    /// Admits a request arriving at `now` on UTC day `day` (days since the Unix epoch).
    pub fn admit(&self, now: Instant, day: i64) -> Result<(), Limited> {
        let mut w = self.window.lock().expect("limiter lock");
        if let Some(rps) = self.rps {
            while w
                .accepted
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                w.accepted.pop_front();
            }
            if w.accepted.len() >= rps as usize {
                return Err(Limited::Throttled);
            }
        }
        if w.day != day {
            (w.day, w.used_today) = (day, 0);
        }
        if self.daily_quota.is_some_and(|q| w.used_today >= q) {
            return Err(Limited::QuotaExceeded);
        }
        w.used_today += 1;
        if self.rps.is_some() {
            w.accepted.push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_quota() {
        let l = Limiter::new(Some(2), Some(3));
        let t = Instant::now();
        assert!(l.admit(t, 0).is_ok());
        assert!(l.admit(t, 0).is_ok());
        assert_eq!(
            l.admit(t + Duration::from_millis(999), 0),
            Err(Limited::Throttled)
        );
        assert!(l.admit(t + Duration::from_secs(1), 0).is_ok());
        assert_eq!(
            l.admit(t + Duration::from_secs(3), 0),
            Err(Limited::QuotaExceeded)
        );
        assert!(
            l.admit(t + Duration::from_secs(4), 1).is_ok(),
            "a new UTC day resets the quota"
        );
        let free = Limiter::new(None, None);
        assert!((0..10_000).all(|_| free.admit(t, 0).is_ok()));
    }
}
