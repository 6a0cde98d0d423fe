//! The `BENCH_*` knobs the bench binaries read (`benches/export.rs`, `benches/cpu.rs`).

/// `BENCH_QUICK=1`: every size shrunk, for a smoke run.
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A count from `name` (`_` and `,` allowed as separators), or `default` when unset.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}
