//! `LatencyGauge`: a moving average of the API's answer time (request sent → body read), without
//! the limiter's waits. It is what decides whether one cursor chain can reach the rate limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Weight of the newest sample, in 1/8ths.
const NEW_WEIGHT: u64 = 2;

#[derive(Debug, Default)]
pub struct LatencyGauge {
    /// Microseconds; 0 = no sample yet.
    average_us: AtomicU64,
}

impl LatencyGauge {
    pub fn record(&self, took: Duration) {
        let sample = (took.as_micros() as u64).max(1);
        // A lost update between two racing samples only drops one sample: good enough here.
        let old = self.average_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * (8 - NEW_WEIGHT) + sample * NEW_WEIGHT) / 8
        };
        self.average_us.store(new.max(1), Ordering::Relaxed);
    }

    /// `None` before the first answer.
    pub fn average(&self) -> Option<Duration> {
        match self.average_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_samples() {
        let g = LatencyGauge::default();
        assert_eq!(g.average(), None);
        g.record(Duration::from_millis(100));
        assert_eq!(g.average(), Some(Duration::from_millis(100)));
        for _ in 0..50 {
            g.record(Duration::from_millis(300));
        }
        let avg = g.average().unwrap();
        assert!(
            avg > Duration::from_millis(290) && avg <= Duration::from_millis(300),
            "{avg:?}"
        );
    }
}
