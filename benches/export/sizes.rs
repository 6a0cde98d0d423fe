//! How much each row exports: the full run's defaults, `BENCH_QUICK=1` for a smoke run, and one
//! variable per size to override either.

/// Contact counts (and seed-loop pages) per row.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub quick: bool,
    /// Utilisation at 0 ms, both modes (≥ 15 s of run at 10 req/s: 200 pages of 500).
    pub util_fast: u64,
    /// Utilisation at 250 ms, sequential (bounded near 4 req/s, so fewer pages).
    pub util_slow_seq: u64,
    /// Utilisation at 250 ms, partitioned.
    pub util_slow_part: u64,
    /// Pages the seed's loop fetches (rates are compared, so fewer pages than ours suffice).
    pub seed_pages: u64,
    /// CPU per contact, each format, with the rate limit lifted.
    pub cpu: u64,
    pub rss_small: u64,
    pub rss_large: u64,
    /// Row groups to run (`BENCH_ROWS=util,seed,cpu,rss`; default all).
    rows: Vec<String>,
}

impl Sizes {
    pub fn from_env() -> Sizes {
        let quick = crate::env::quick();
        // (full, quick)
        let pick = |name: &str, full: u64, small: u64| {
            crate::env::env_u64(name, if quick { small } else { full })
        };
        Sizes {
            quick,
            util_fast: pick("BENCH_UTIL_CONTACTS", 100_000, 20_000),
            util_slow_seq: pick("BENCH_UTIL_SLOW_SEQ_CONTACTS", 50_000, 10_000),
            util_slow_part: pick("BENCH_UTIL_SLOW_PART_CONTACTS", 100_000, 20_000),
            seed_pages: pick("BENCH_SEED_PAGES", 40, 15),
            cpu: pick("BENCH_CPU_CONTACTS", 200_000, 50_000),
            rss_small: pick("BENCH_RSS_SMALL", 100_000, 20_000),
            rss_large: pick("BENCH_RSS_LARGE", 1_000_000, 200_000),
            rows: std::env::var("BENCH_ROWS")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    pub fn wants(&self, group: &str) -> bool {
        self.rows.is_empty() || self.rows.iter().any(|r| r == group)
    }
}
