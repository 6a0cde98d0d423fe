//! `Spacing`: the instants one process's requests of one API key go at. Each slot is an
//! `interval` (1 % over `1 s / rps`) after the slot before it, on the schedule, not after the
//! instant its request woke: a timer that fires a millisecond late (tokio's timers fire on the
//! next millisecond tick, later on a busy core) does not push every later request back with it.
//! What keeps a late request and the ones after it inside the limit is the sent window: `rps + 1`
//! requests never wake within [`SENT_WINDOW`] (1.01 s) of each other. Pure arithmetic on `Instant`s.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The process's own `rps + 1` consecutive requests go at least this far apart, measured when
/// they woke for their slots: as far as `rps` intervals on the schedule, so the whole 1 % is
/// left for the way to the server (a new connection's set-up, both sides' scheduling) however
/// late a timer fired. A request that woke late holds back only the one `rps` after it, by its
/// lateness, instead of every request after it (at 1,005 ms, the key_share run still saw
/// 3 × 429 while the worker started 100 jobs, each opening its connection).
pub const SENT_WINDOW: Duration = Duration::from_millis(1_010);

#[derive(Debug)]
pub struct Spacing {
    interval: Duration,
    /// The earliest instant of the next slot: the last slot + `interval`.
    next: Option<Instant>,
    /// When the last `per_second` requests woke for their slots, oldest first.
    sent: VecDeque<Instant>,
    per_second: usize,
}

impl Spacing {
    /// `per_second`: the key's limit (`rps`), whose `interval` apart slots these are.
    pub fn new(interval: Duration, per_second: u32) -> Self {
        Self {
            interval,
            next: None,
            sent: VecDeque::new(),
            per_second: per_second.max(1) as usize,
        }
    }

    /// The earliest a slot asked for at `now` can be: after the last slot, and a sent window
    /// after the request `per_second` requests back.
    pub fn earliest(&self, now: Instant) -> Instant {
        let mut at = self.next.map_or(now, |n| n.max(now));
        if self.sent.len() == self.per_second
            && let Some(oldest) = self.sent.front()
        {
            at = at.max(*oldest + SENT_WINDOW);
        }
        at
    }

    /// The earliest instant of the next slot, once one was taken.
    pub fn next(&self) -> Option<Instant> {
        self.next
    }

    /// The slot at `slot` (from [`earliest`](Self::earliest) or later) is taken.
    pub fn take(&mut self, slot: Instant) {
        self.next = Some(slot + self.interval);
    }

    /// The request of the slot last taken woke for it at `at` (and goes now).
    pub fn sent(&mut self, at: Instant) {
        if self.sent.len() == self.per_second {
            self.sent.pop_front();
        }
        self.sent.push_back(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn slots_follow_the_schedule_not_the_wake_ups() {
        let t = ms(101);
        let t0 = Instant::now();
        let mut s = Spacing::new(t, 10);
        assert_eq!(s.earliest(t0), t0);
        s.take(t0);
        // It woke 3 ms late: the next slot is still an interval after the first.
        s.sent(t0 + ms(3));
        assert_eq!(s.earliest(t0), t0 + t);
        // Asked later than that: now.
        assert_eq!(s.earliest(t0 + ms(150)), t0 + ms(150));
    }

    #[test]
    fn a_request_that_woke_late_holds_back_the_one_a_second_after_it() {
        let t = ms(101);
        let t0 = Instant::now();
        let mut s = Spacing::new(t, 10);
        for i in 0..10 {
            let slot = s.earliest(t0);
            assert_eq!(slot, t0 + t * i);
            s.take(slot);
            // The first woke 30 ms after its slot.
            s.sent(if i == 0 { slot + ms(30) } else { slot });
        }
        // Ten intervals after the first slot is 1,010 ms: only 980 after it really went.
        let slot = s.earliest(t0);
        assert_eq!(slot, t0 + ms(30 + 1_010));
        s.take(slot);
        s.sent(slot);
        assert_eq!(s.earliest(t0), t0 + ms(30 + 1_010) + t);
    }
}
