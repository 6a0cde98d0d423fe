//! `Blocks`: a process's share of an API key, as blocks of consecutive slots reserved from the
//! shared state (`store::PgRateGate`) and spent by the process's own requests in order, one
//! `interval` apart. Pure arithmetic on `Instant`s, so it is tested without a clock or a database.
//!
//! A block is reserved on the database's clock and answered as durations from the instant the
//! database read it; the process places it on its own clock from the instant the answer arrived
//! (late by the answer's way back, which the jitter gap between processes absorbs). A block that
//! follows this process's previous one without a gap joins it: one stretch of the key's time,
//! the slots of both, so a slot can fall across the seam and the key is never idle there. It
//! ends where the earlier of two placements says: right after the previous block, its slots'
//! time long, or where its own answer says. A slow answer never pushes it later; a quicker one
//! than the previous blocks' brings it back towards the database's clock (never later than the
//! database thinks by more than the quickest answer's way back).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use time::Date;

use super::spacing::Spacing;

/// A block as the shared state granted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub slots: u32,
    /// The UTC day the slots were counted on: where unused ones are given back.
    pub day: Date,
    pub starts_in: Duration,
    pub ends_in: Duration,
    /// It starts where this process's previous block ended (no other process in between).
    pub follows: bool,
}

#[derive(Debug)]
struct Held {
    start: Instant,
    end: Instant,
    slots: u32,
    used: u32,
    day: Date,
}

#[derive(Debug)]
pub struct Blocks {
    interval: Duration,
    /// When this process's next slot may be (`cc::spacing`).
    spacing: Spacing,
    held: VecDeque<Held>,
    /// Where the latest block added ends, here.
    last_end: Option<Instant>,
    /// Slots of finished blocks that were never used, not yet given back (per day: only the
    /// latest day is kept; an older day's remainder stays counted, which errs high).
    unused: Option<(Date, u32)>,
}

impl Blocks {
    /// `per_second`: the key's limit (`rps`), whose `interval` apart slots these are.
    pub fn new(interval: Duration, per_second: u32) -> Self {
        Self {
            interval,
            spacing: Spacing::new(interval, per_second),
            held: VecDeque::new(),
            last_end: None,
            unused: None,
        }
    }

    /// Takes the slot of a request asking at `now` from the held blocks: the instant it may be
    /// sent. `None`: no held block has room for it; reserve one, [`add`](Self::add) it, ask again.
    pub fn take(&mut self, now: Instant) -> Option<Instant> {
        let at = self.spacing.earliest(now);
        while let Some(latest) = self.held.len().checked_sub(1) {
            let b = &mut self.held[0];
            let slot = at.max(b.start);
            if b.used < b.slots && slot + self.interval <= b.end {
                b.used += 1;
                self.spacing.take(slot);
                return Some(slot);
            }
            // The slot falls across the end of the latest block: its time is kept, since the
            // next block may follow on and join it (retired, the key would idle until that
            // block's start); its unused slots go back with that block's reservation.
            if latest == 0 && b.used < b.slots && slot < b.end {
                let (day, n) = (b.day, b.slots - b.used);
                b.slots = b.used;
                self.give_back(day, n);
                return None;
            }
            // Full, or its time is past: it ends here, whatever it did not use goes back.
            self.retire_front();
        }
        None
    }

    /// Whether the slot after the one just taken is held already. When it is not and the caller
    /// waits anyway, reserving now lets the next block follow this one without a gap.
    pub fn holds_next(&self) -> bool {
        let Some(next) = self.spacing.next() else {
            return false;
        };
        let at = self.spacing.earliest(next);
        self.held.iter().any(|b| {
            let slot = at.max(b.start);
            b.used < b.slots && slot + self.interval <= b.end
        })
    }

    /// The request of the slot last taken woke for it at `at` (and goes now).
    pub fn sent(&mut self, at: Instant) {
        self.spacing.sent(at);
    }

    /// Adds `grant`, whose answer arrived at `received`.
    pub fn add(&mut self, grant: &Grant, received: Instant) {
        let (start, end) = (
            received + grant.starts_in,
            received + grant.ends_in.max(grant.starts_in),
        );
        let Some(last) = self.last_end.filter(|_| grant.follows) else {
            self.last_end = Some(end);
            self.held.push_back(Held {
                start,
                end,
                slots: grant.slots,
                used: 0,
                day: grant.day,
            });
            return;
        };
        let end = end.min(last + (end - start)).max(last);
        self.last_end = Some(end);
        match self.held.back_mut() {
            Some(b) if b.end == last && b.day == grant.day => {
                b.end = end;
                b.slots += grant.slots;
            }
            _ => self.held.push_back(Held {
                start: last,
                end,
                slots: grant.slots,
                used: 0,
                day: grant.day,
            }),
        }
    }

    /// Ends every held block (the day's quota is spent): their unused slots are to go back.
    pub fn retire_all(&mut self) {
        while !self.held.is_empty() {
            self.retire_front();
        }
    }

    /// The unused slots to give back with the next statement; forgotten once taken (a
    /// statement that fails leaves them counted: the count errs high, never low).
    pub fn take_unused(&mut self) -> Option<(Date, u32)> {
        self.unused.take()
    }

    fn retire_front(&mut self) {
        let Some(b) = self.held.pop_front() else {
            return;
        };
        self.give_back(b.day, b.slots - b.used);
    }

    fn give_back(&mut self, day: Date, n: u32) {
        if n == 0 {
            return;
        }
        self.unused = match self.unused {
            Some((d, m)) if d == day => Some((d, m + n)),
            Some((d, m)) if d > day => Some((d, m)),
            _ => Some((day, n)),
        };
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const T: Duration = Duration::from_millis(100);
    const DAY: Date = date!(2025 - 01 - 02);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn grant(slots: u32, starts_in: u64, follows: bool) -> Grant {
        Grant {
            slots,
            day: DAY,
            starts_in: ms(starts_in),
            ends_in: ms(starts_in) + T * slots,
            follows,
        }
    }

    #[test]
    fn slots_are_an_interval_apart_and_no_more_than_the_block_holds() {
        let t0 = Instant::now();
        let mut b = Blocks::new(T, 10);
        assert_eq!(b.take(t0), None, "nothing held yet");
        b.add(&grant(3, 50, false), t0);
        // Asked all at once: the block's start, then one interval apart.
        assert_eq!(b.take(t0), Some(t0 + ms(50)));
        assert_eq!(b.take(t0), Some(t0 + ms(150)));
        assert!(b.holds_next());
        assert_eq!(b.take(t0), Some(t0 + ms(250)));
        assert!(!b.holds_next());
        assert_eq!(b.take(t0), None, "three slots, all taken");
        assert_eq!(b.take_unused(), None);
    }

    #[test]
    fn a_late_asker_gets_a_later_slot_and_time_not_used_is_lost() {
        let t0 = Instant::now();
        let mut b = Blocks::new(T, 10);
        b.add(&grant(5, 0, false), t0);
        assert_eq!(b.take(t0), Some(t0));
        // The next asker comes 320 ms in: its slot is now; after it only 80 ms are left of the
        // 500 ms block, less than an interval.
        assert_eq!(b.take(t0 + ms(320)), Some(t0 + ms(320)));
        assert_eq!(b.take(t0 + ms(320)), None);
        // Its rest goes back with the next reservation (its time is kept for a following one).
        assert_eq!(b.take_unused(), Some((DAY, 3)));
        assert_eq!(b.take_unused(), None, "given back once");
        // The next block is another process's turn later: this one ends.
        b.add(&grant(5, 900, false), t0 + ms(320));
        assert_eq!(b.take(t0 + ms(320)), Some(t0 + ms(1_220)));
        assert_eq!(b.take_unused(), None);
    }

    #[test]
    fn a_following_block_joins_the_last_one() {
        let t0 = Instant::now();
        let mut b = Blocks::new(T, 10);
        b.add(&grant(2, 0, false), t0);
        assert_eq!(b.take(t0), Some(t0));
        assert_eq!(b.take(t0), Some(t0 + ms(100)));
        // Reserved while the last slot waits; the answer took 30 ms, but the block follows on.
        b.add(&grant(2, 170, true), t0 + ms(30));
        assert_eq!(b.take(t0 + ms(100)), Some(t0 + ms(200)));
        assert_eq!(b.take(t0 + ms(100)), Some(t0 + ms(300)));
        assert_eq!(b.take(t0 + ms(100)), None);
        assert_eq!(b.take_unused(), None);
    }

    #[test]
    fn a_slow_answer_never_pushes_a_following_block_later() {
        let t0 = Instant::now();
        let mut b = Blocks::new(T, 10);
        b.add(&grant(2, 0, false), t0);
        assert_eq!(b.take(t0), Some(t0));
        // This answer came back 60 ms later than the first: placed from it alone, the block
        // would start at 260 ms and leave the key idle from 200 ms.
        b.add(&grant(2, 110, true), t0 + ms(150));
        assert_eq!(b.take(t0), Some(t0 + ms(100)));
        assert_eq!(b.take(t0), Some(t0 + ms(200)));
        assert_eq!(b.take(t0), Some(t0 + ms(300)));
        assert_eq!(b.take(t0), None);
    }

    #[test]
    fn a_quicker_answer_brings_the_end_back_and_the_slot_across_it_waits_for_the_next_block() {
        let t0 = Instant::now();
        let mut b = Blocks::new(T, 10);
        b.add(&grant(2, 0, false), t0);
        assert_eq!(b.take(t0), Some(t0));
        assert_eq!(b.take(t0), Some(t0 + ms(100)));
        // This answer came back 5 ms quicker than the first: the blocks end at 395 ms, where
        // the database's clock puts them, and the slot at 300 ms no longer fits.
        b.add(&grant(2, 165, true), t0 + ms(30));
        assert_eq!(b.take(t0), Some(t0 + ms(200)));
        assert_eq!(b.take(t0), None);
        assert!(!b.holds_next());
        assert_eq!(b.take_unused(), Some((DAY, 1)), "back with the next block");
        // The time is kept: the next block joins on and the slot goes at 300 ms, no gap.
        b.add(&grant(2, 145, true), t0 + ms(250));
        assert_eq!(b.take(t0), Some(t0 + ms(300)));
        assert_eq!(b.take(t0), Some(t0 + ms(400)));
        assert_eq!(b.take(t0), None);
        assert_eq!(b.take_unused(), None);
    }

    #[test]
    fn a_request_that_woke_late_holds_back_the_one_a_second_after_it() {
        let t = ms(101);
        let t0 = Instant::now();
        let mut b = Blocks::new(t, 10);
        b.add(
            &Grant {
                ends_in: t * 20,
                ..grant(20, 0, false)
            },
            t0,
        );
        for i in 0..10 {
            let slot = b.take(t0).unwrap();
            assert_eq!(slot, t0 + t * i);
            // The first woke 30 ms after its slot.
            b.sent(if i == 0 { slot + ms(30) } else { slot });
        }
        // Ten intervals after the first slot is 1,010 ms: only 980 after it really went.
        assert_eq!(b.take(t0), Some(t0 + ms(30 + 1_010)));
        assert_eq!(b.take(t0), Some(t0 + ms(30 + 1_010) + t));
    }

    #[test]
    fn a_block_after_another_process_starts_where_the_answer_says() {
        let t0 = Instant::now();
        let mut b = Blocks::new(T, 10);
        b.add(&grant(1, 0, false), t0);
        assert_eq!(b.take(t0), Some(t0));
        // Another process holds the key until 1.1 s from the answer, then the gap.
        b.add(&grant(2, 1_200, false), t0 + ms(40));
        assert_eq!(b.take(t0 + ms(100)), Some(t0 + ms(1_240)));
        assert_eq!(b.take(t0 + ms(100)), Some(t0 + ms(1_340)));
    }

    #[test]
    fn retired_blocks_give_back_what_they_did_not_use() {
        let t0 = Instant::now();
        let mut b = Blocks::new(T, 10);
        b.add(&grant(10, 0, false), t0);
        b.add(&grant(10, 1_000, true), t0);
        assert_eq!(b.take(t0), Some(t0));
        b.retire_all();
        assert_eq!(b.take_unused(), Some((DAY, 19)));
        assert_eq!(b.take(t0), None);
        // A block of the next day: the older day's remainder is dropped (it stays counted).
        let mut b = Blocks::new(T, 10);
        b.add(&grant(4, 0, false), t0);
        let mut next_day = grant(4, 400, true);
        next_day.day = DAY.next_day().unwrap();
        b.add(&next_day, t0);
        b.retire_all();
        assert_eq!(b.take_unused(), Some((DAY.next_day().unwrap(), 4)));
    }
}
