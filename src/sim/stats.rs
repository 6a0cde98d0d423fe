//! Counters of what the simulator saw and answered, for tests and load runs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::reply::{BodyKind, Reply};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Every `/v3` arrival, accepted or not.
    pub requests: u64,
    /// Contacts in complete 200 pages.
    pub contacts_served: u64,
    /// Complete 200 pages (contacts and custom fields).
    pub pages: u64,
    /// 429 `throttled`.
    pub throttled: u64,
    /// 429 `quota_exceeded`.
    pub quota_exceeded: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// 200s with a truncated body.
    pub malformed: u64,
    /// 200s aborted midway.
    pub resets: u64,
    /// 401s.
    pub unauthorized: u64,
    /// 400s (of which `invalid_cursors` were cursor rejections).
    pub bad_requests: u64,
    pub invalid_cursors: u64,
    /// Every `POST` to the token endpoint.
    pub token_requests: u64,
    /// Successful refreshes.
    pub refreshes: u64,
    pub invalid_grants: u64,
    pub invalid_clients: u64,
    /// Most `/v3` arrivals in any sliding window `(t - 1 s, t]`.
    pub max_requests_in_any_1s: u64,
    /// Scripted and random faults applied.
    pub faults_injected: u64,
    /// Requests (API and token endpoint) that came without a `User-Agent`, which the real API asks for.
    pub without_user_agent: u64,
    /// `/v3` requests admitted by the limits and authenticated, per account: how a shared API key
    /// was split between the jobs (one account per job in the key-share bench).
    pub requests_by_account: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
struct Inner {
    stats: SimStats,
    arrivals: VecDeque<Instant>,
}

#[derive(Debug, Default)]
pub struct Stats(Mutex<Inner>);

impl Stats {
    fn with(&self, f: impl FnOnce(&mut SimStats)) {
        f(&mut self.0.lock().expect("stats lock").stats);
    }

    pub fn snapshot(&self) -> SimStats {
        self.0.lock().expect("stats lock").stats.clone()
    }

    pub fn reset(&self) {
        *self.0.lock().expect("stats lock") = Inner::default();
    }

    /// A `/v3` request arrived; the window maximum is reached at some arrival, so checking
    /// at arrivals gives the maximum over all windows.
    pub fn arrival(&self, now: Instant) {
        let mut inner = self.0.lock().expect("stats lock");
        inner.stats.requests += 1;
        while inner
            .arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            inner.arrivals.pop_front();
        }
        inner.arrivals.push_back(now);
        let n = inner.arrivals.len() as u64;
        inner.stats.max_requests_in_any_1s = inner.stats.max_requests_in_any_1s.max(n);
    }

    /// Classifies a `/v3` answer.
    pub fn record(&self, reply: &Reply) {
        self.with(|s| {
            s.invalid_cursors += u64::from(reply.invalid_cursor);
            match (
                reply.status.as_u16(),
                reply.error_key.as_deref(),
                reply.kind,
            ) {
                (200, _, BodyKind::Malformed) => s.malformed += 1,
                (200, _, BodyKind::Reset) => s.resets += 1,
                (200, _, BodyKind::Full) => {
                    s.pages += 1;
                    s.contacts_served += reply.contacts;
                }
                (429, Some("quota_exceeded"), _) => s.quota_exceeded += 1,
                (429, _, _) => s.throttled += 1,
                (401, _, _) => s.unauthorized += 1,
                (400, _, _) => s.bad_requests += 1,
                (500..=599, _, _) => s.server_errors += 1,
                _ => {}
            }
        });
    }

    /// A scripted or random fault was taken (counted even if the client gives up waiting).
    pub fn fault_applied(&self) {
        self.with(|s| s.faults_injected += 1);
    }

    /// A `/v3` request of `account` passed the limits and the bearer check.
    pub fn accepted_for(&self, account: &str) {
        self.with(|s| match s.requests_by_account.get_mut(account) {
            Some(n) => *n += 1,
            None => {
                s.requests_by_account.insert(account.to_owned(), 1);
            }
        });
    }

    pub fn without_user_agent(&self) {
        self.with(|s| s.without_user_agent += 1);
    }

    pub fn token_request(&self) {
        self.with(|s| s.token_requests += 1);
    }

    pub fn refreshed(&self) {
        self.with(|s| s.refreshes += 1);
    }

    pub fn invalid_grant(&self) {
        self.with(|s| s.invalid_grants += 1);
    }

    pub fn invalid_client(&self) {
        self.with(|s| s.invalid_clients += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_maximum() {
        let s = Stats::default();
        let t = Instant::now();
        for ms in [0, 100, 900, 999, 1000, 1500, 3000] {
            s.arrival(t + Duration::from_millis(ms));
        }
        // (0.0, 1.0] holds 100, 900, 999, 1000; [0, 0.999] holds 4 as well.
        assert_eq!(s.snapshot().max_requests_in_any_1s, 4);
        assert_eq!(s.snapshot().requests, 7);
    }

    #[test]
    fn accepted_requests_are_counted_per_account() {
        let s = Stats::default();
        for a in ["b", "a", "b"] {
            s.accepted_for(a);
        }
        let by = s.snapshot().requests_by_account;
        assert_eq!(
            by.into_iter().collect::<Vec<_>>(),
            [("a".into(), 1), ("b".into(), 2)]
        );
    }
}
