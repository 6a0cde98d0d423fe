#!/usr/bin/env bash
# Offline licence and known-bad-crate check (cargo deny needs the network for its advisory
# database). Lists every crate the build uses on this host (normal, build and dev dependencies)
# with `cargo tree --offline --locked`, then checks each licence expression against
# scripts/licenses.allow and each crate against scripts/crates.deny. Exit 1 with the offenders.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree --offline --locked -e normal,build,dev --prefix none --format '{p}|{l}' | sort -u)
python3 - "$tree" <<'PY'
import re, sys

def entries(path):
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if line:
            yield line

allowed = set(entries("scripts/licenses.allow"))
denied = []  # (name, bound or None, reason)
for line in entries("scripts/crates.deny"):
    spec, reason = (s.strip() for s in line.split("|", 1))
    name, _, bound = spec.partition(" ")
    denied.append((name, bound.strip().lstrip("<") or None, reason))

def version(v):
    return tuple(int(x) for x in re.findall(r"\d+", v.split("-")[0])[:3])

def ok(expr):
    """SPDX: OR needs one allowed side, AND both; '/' is the old spelling of OR."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expr.replace("/", " OR "))
    pos = 0
    def term():
        nonlocal pos
        if tokens[pos] == "(":
            pos += 1
            v = disj()
            pos += 1  # ')'
            return v
        lic = tokens[pos]; pos += 1
        if pos < len(tokens) and tokens[pos] == "WITH":
            lic += " WITH " + tokens[pos + 1]; pos += 2
        return lic in allowed
    def conj():
        nonlocal pos
        v = term()
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1; v = term() and v
        return v
    def disj():
        nonlocal pos
        v = conj()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1; v = conj() or v
        return v
    return disj()

problems, crates = [], set()
for line in sys.argv[1].splitlines():
    pkg, _, lic = line.partition("|")
    lic = lic.replace("(*)", "").strip()
    name, ver = pkg.split()[:2]
    ver = ver.lstrip("v")
    if (name, ver) in crates:
        continue
    crates.add((name, ver))
    if not lic:
        problems.append(f"{name} {ver}: no licence expression in its Cargo.toml")
    elif not ok(lic):
        problems.append(f"{name} {ver}: licence {lic!r} not in scripts/licenses.allow")
    for dname, bound, reason in denied:
        if dname == name and (bound is None or version(ver) < version(bound)):
            problems.append(f"{name} {ver}: denied by scripts/crates.deny: {reason}")

if problems:
    print("deny: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"deny: {len(crates)} crates, every licence allowed, none on the deny list ({len(denied)} entries)")
PY
