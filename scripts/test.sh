#!/usr/bin/env bash
# The test command (README, .ci/run): sets up what the tests need, then runs every test.
# Needs only cargo and python3; the services it uses are started here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== services"
# shellcheck source=scripts/services.sh
. scripts/services.sh
trap stop_moto EXIT
# The database the README's commands use is migrated too (tests migrate a fresh schema each).
cargo run -q --locked -- migrate

echo "== licences and known-bad crates (offline)"
scripts/deny.sh

echo "== cargo test (unit; simulator; client; encoders; one-shot kill-and-resume; store; queue; S3; worker end to end)"
cargo test --all-targets --locked -- --color never

echo "== the README's first command on 100,000 simulated contacts, read back by Python's csv module"
cargo build --locked --bin cc-export
tmp=$(mktemp -d); trap 'rm -rf "$tmp"; stop_moto' EXIT
start=$(date +%s.%N)
target/debug/cc-export export --simulate 100000 --out "$tmp/contacts.csv"
end=$(date +%s.%N)
python3 scripts/check_csv.py "$tmp/contacts.csv" 100000
python3 -c "print(f'100k export wall time: {($end - $start):.1f} s')"
