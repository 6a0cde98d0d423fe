//! Shared state behind every route.

use std::collections::HashMap;
use std::sync::Mutex;

use super::account::Account;
use super::auth::TokenStore;
use super::config::SimConfig;
use super::cursor::CursorCodec;
use super::dataset::{Dataset, attrs};
use super::faults::Faults;
use super::limiter::Limiter;
use super::query::ContactsQuery;
use super::stats::Stats;

/// Bound on remembered `include_count` results; cleared when full.
const COUNT_CACHE_MAX: usize = 4096;

#[derive(Debug)]
pub struct SimState {
    pub cfg: SimConfig,
    pub dataset: Dataset,
    pub tokens: TokenStore,
    pub cursors: CursorCodec,
    pub faults: Faults,
    /// Scripted faults for the token endpoint (it has no random ones).
    pub token_faults: Faults,
    pub limiter: Limiter,
    pub stats: Stats,
    counts: Mutex<HashMap<String, u64>>,
}

impl SimState {
    pub fn new(cfg: SimConfig) -> Self {
        Self {
            dataset: Dataset::new(cfg.seed, cfg.contacts)
                .with_deleted_per_mille(cfg.deleted_per_mille),
            tokens: TokenStore::new(cfg.access_token_ttl),
            cursors: CursorCodec::new(cfg.seed, cfg.cursor_ttl),
            faults: Faults::new(cfg.seed, cfg.fault_rate, cfg.malformed_rate),
            token_faults: Faults::new(cfg.seed, 0.0, 0.0),
            limiter: Limiter::new(cfg.rate_limit_rps, cfg.daily_quota),
            stats: Stats::default(),
            counts: Mutex::default(),
            cfg,
        }
    }

    /// How many contacts match `query` (cached: a count scans the whole index range).
    pub fn count(&self, account_id: &str, account: &Account, query: &ContactsQuery) -> u64 {
        let key = query.count_key(account_id);
        if let Some(n) = self.counts.lock().expect("count lock").get(&key) {
            return *n;
        }
        let (lo, hi) =
            self.dataset
                .created_range(account.seed, query.created_after, query.created_before);
        let n = (lo..hi)
            .filter(|&i| query.matches(&attrs(account, i)))
            .count() as u64;
        let mut counts = self.counts.lock().expect("count lock");
        if counts.len() >= COUNT_CACHE_MAX {
            counts.clear();
        }
        counts.insert(key, n);
        n
    }
}
