#!/usr/bin/env bash
# Instructions per CSV contact in the page scanner and the CSV rows, counted by callgrind: the
# same count for the same binary and inputs however loaded the machine is, so a step too small
# for the noisy clocks of shared machines still shows (docs/PERFORMANCE.md cites these counts).
#   scripts/instructions.sh             # about 5 minutes: builds benches/cpu.rs, runs it once
#   CONTACTS=6000 scripts/instructions.sh
# Prints `instructions per contact, scanner and CSV rows: N (I instructions over C contacts)`.
# Compare two commits by running it on each (the count depends on the compiler and the
# simulator's dataset, both fixed by Cargo.lock and the seed).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$(cargo bench --locked --no-run --bench cpu --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "cpu" and m.get("executable"):
        print(m["executable"])')
[ -n "$bin" ] || { echo "instructions.sh: benches/cpu.rs did not build" >&2; exit 1; }
echo "instructions.sh: callgrind on $bin" >&2
BENCH_CPU_INPROC_CONTACTS=${CONTACTS:-12000} BENCH_CPU_ROUNDS=1 \
  valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bin" --bench >"$work/log" 2>&1
callgrind_annotate --inclusive=yes --tree=caller "$work/out" 2>/dev/null >"$work/tree"
# The page scanner (`Lexer::page`, rows written as each contact is read) over the contacts it
# read (the calls of `Lexer::contact`), on every pass the bench makes over the pages.
python3 - "$work/tree" <<'PY'
import re, sys
page_ir, contacts = 0, 0
lines = open(sys.argv[1]).read().splitlines()
for i, line in enumerate(lines):
    m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\*\s+.*Lexer>::(page|contact)( \[|$)", line)
    if not m:
        continue
    ir = int(m.group(1).replace(",", ""))
    if m.group(2) == "page":
        page_ir = max(page_ir, ir)
    else:
        for prev in reversed(lines[:i]):
            c = re.search(r"Lexer>::page \(([\d,]+)x\)", prev)
            if c:
                contacts = max(contacts, int(c.group(1).replace(",", "")))
                break
            if not prev.strip():
                break
if not page_ir or not contacts:
    sys.exit("instructions.sh: Lexer::page or Lexer::contact not in the profile (renamed?)")
print(f"instructions per contact, scanner and CSV rows: {page_ir / contacts:,.0f} "
      f"({page_ir:,} instructions over {contacts:,} contacts)")
PY
