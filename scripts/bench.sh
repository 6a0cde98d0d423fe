#!/usr/bin/env bash
# The benchmarks of issue 5, in one run, as one Markdown table (docs/PERFORMANCE.md says what each
# row measures). Anyone can rerun it:
#   scripts/bench.sh                  # full run, about 6-8 minutes on 2 cores
#   BENCH_QUICK=1 scripts/bench.sh    # every size shrunk: a smoke run of a minute or two
#   BENCH_ROWS=util,seed scripts/bench.sh   # only some groups of benches/export.rs (util seed cpu rss)
# Progress goes to stderr, the table to stdout. Exits 0 even when a target is missed (the row
# says MISSED): it reports, CI does not run it. Exits 1 only when nothing could be measured.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
say() { echo "bench.sh: $*" >&2; }
has_bench() { [ -f "benches/$1.rs" ] || [ -f "benches/$1/main.rs" ]; }

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
benches=()
for b in export cpu key_share; do has_bench "$b" && benches+=(--bench "$b"); done
say "building the release binary and ${benches[*]}"
# Named targets only: a bare `cargo bench` would also build the unit tests in release.
cargo bench --locked --no-run "${benches[@]}" >&2

# Only the key_share bench talks to Postgres and RabbitMQ (a worker's 100 jobs on one key).
if has_bench key_share; then
  say "services for key_share"
  # shellcheck source=scripts/services.sh
  . scripts/services.sh >&2
  trap 'stop_moto; cleanup' EXIT
  "${CARGO_TARGET_DIR:-target}/release/cc-export" migrate >&2
fi

# run_bench NAME: runs `cargo bench --bench NAME`, its lines in $work/NAME.out (echoed to stderr),
# its outcome in $work/NAME.status.
run_bench() {
  local name=$1 started=$SECONDS
  if ! has_bench "$name"; then
    echo "not built yet" >"$work/$name.status"
    say "$name: not built yet (no benches/$name.rs)"
    return
  fi
  say "running cargo bench --bench $name"
  if cargo bench --locked --bench "$name" 2>"$work/$name.err" | tee "$work/$name.out" >&2; then
    echo "ok" >"$work/$name.status"
  else
    echo "failed (exit ${PIPESTATUS[0]})" >"$work/$name.status"
    tail -5 "$work/$name.err" >&2
  fi
  say "$name took $((SECONDS - started)) s"
}

run_bench export
run_bench cpu
run_bench key_share

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches Cargo.toml || echo '+changes')"
python3 scripts/bench_table.py "$work" \
  "$(nproc) × ${cpu_model:-unknown CPU}, $mem RAM, Linux $(uname -r), load average $load_at_start at the start" \
  "$(date -u '+%Y-%m-%d %H:%M UTC')" "$commit" "$SECONDS"
