"""Renders scripts/bench.sh's Markdown table from the benches' `key=value` lines.

Usage: bench_table.py WORKDIR MACHINE DATE COMMIT SECONDS
WORKDIR holds <bench>.out (the bench's stdout) and <bench>.status ("ok", "not built yet",
"failed (exit N)") for the benches export, cpu and key_share. Every figure is a ratio or a rate
measured in this one run; a target missed shows MISSED, a row that could not be measured says why.
"""

import os
import sys

work, machine, date, commit, seconds = sys.argv[1:]


def read(name):
    path = os.path.join(work, name)
    return open(path).read() if os.path.exists(path) else ""


def parse(text, kind):
    """The `key=value` fields of every line starting with `kind`."""
    rows = []
    for line in text.splitlines():
        words = line.split()
        if words[: len(kind.split())] == kind.split():
            rows.append(dict(w.split("=", 1) for w in words if "=" in w))
    return rows


def find(rows, **want):
    for r in rows:
        if all(r.get(k) == v for k, v in want.items()):
            return r
    return None


status = {b: read(b + ".status").strip() or "not run" for b in ("export", "cpu", "key_share")}
exp = read("export.out")
meta = (parse(exp, "bench meta") or [{}])[0]
util = parse(exp, "bench util")
seed = parse(exp, "bench seed")
vs = parse(exp, "bench vs_seed")
cpu = parse(exp, "bench cpu")
floor = (parse(exp, "bench cpu_floor") or [None])[0]
rss = parse(exp, "bench rss")
rss_ratio = (parse(exp, "bench rss_ratio") or [None])[0]
inproc = parse(read("cpu.out"), "bench cpu_us_per_contact")
share = (parse(read("key_share.out"), "key_share") or [None])[0]
notes = [line[2:] for line in exp.splitlines() if line.startswith("# ")]

table = []
missed = 0


def row(metric, ours, baseline="—", ratio="—", target="—", met="—"):
    global missed
    if met is False:
        missed += 1
    met = {True: "yes", False: "**MISSED**"}.get(met, met)
    table.append(f"| {metric} | {ours} | {baseline} | {ratio} | {target} | {met} |")


def unmeasured(r, bench="export"):
    """Why a row has no figure: the bench's own status, or the row's."""
    if status[bench] != "ok" and r is None:
        return status[bench]
    if r is None:
        return "not measured"
    if r.get("status") == "flag_missing":
        return "n/a (flag missing)"
    return "failed (see notes)"


def pct(x):
    return f"{100 * float(x):.1f} %"


def pending(reason):
    return "pending" if "flag missing" in reason or "not built" in reason else "—"


# Limiter utilisation.
for lat in ("0", "250"):
    for mode in ("sequential", "partitioned"):
        r = find(util, latency_ms=lat, mode=mode)
        label = "`--partitions off`" if mode == "sequential" else "`--partitions auto`"
        metric = f"Limiter utilisation, {lat} ms latency, {mode} ({label})"
        goal = {("0", "sequential"): 0.98, ("0", "partitioned"): 0.98, ("250", "partitioned"): 0.90}
        g = goal.get((lat, mode))
        target = f"≥ {g * 100:.0f} %" if g else "— (one chain: ≤ 1 request per round trip)"
        if r and r.get("status") == "ok":
            u = float(r["utilisation"])
            ours = f"{pct(u)} ({float(r['rps']):.2f} req/s; {r['throttled']} × 429, peak {r['max_in_1s']}/s; {int(r['contacts']):,} contacts)"
            row(metric, ours, target=target, met=(u >= g) if g else "—")
        else:
            why = unmeasured(r)
            row(metric, why, target=target, met=pending(why) if g else "—")

# Ours ÷ the seed's loop.
for lat in ("0", "250"):
    s = find(seed, latency_ms=lat)
    base = "—"
    if s and s.get("status") == "ok":
        base = f"{int(s['contacts_per_s']):,} contacts/s ({float(s['rps']):.2f} req/s, {s['pages']} pages)"
    for mode in ("sequential", "partitioned"):
        v = find(vs, latency_ms=lat, mode=mode)
        metric = f"Throughput vs the seed's loop, {lat} ms latency, {mode}"
        g = 3.0 if (lat, mode) == ("250", "partitioned") else None
        target = f"≥ {g:.0f}×" if g else "—"
        if v:
            ratio = float(v["ratio"])
            row(metric, f"{int(v['ours_contacts_per_s']):,} contacts/s", base, f"{ratio:.2f}×",
                target, (ratio >= g) if g else "—")
        else:
            why = unmeasured(find(util, latency_ms=lat, mode=mode))
            if why == "not measured" and not (s and s.get("status") == "ok"):
                why = unmeasured(s)
            row(metric, why, base, "—", target, pending(why) if g else "—")

# CPU per contact, end to end (the export process: HTTP, parse, encode, write).
csv = find(cpu, format="csv", status="ok")
for fmt, name in (("csv", "CSV"), ("csv_gzip", "CSV + gzip"), ("ndjson", "NDJSON")):
    r = find(cpu, format=fmt)
    metric = f"CPU per contact, end to end, {name} (limit lifted)"
    target = "≤ 2 µs" if fmt == "csv" else "— (stated)"
    if r and r.get("status") == "ok":
        us = float(r["us_per_contact"])
        base, ratio = "—", "—"
        if fmt != "csv" and csv:
            c = float(csv["us_per_contact"])
            base, ratio = f"CSV {c:.2f} µs", f"{us / c:.2f}× ({us - c:+.2f} µs)"
        row(metric, f"{us:.2f} µs ({int(r['contacts']):,} contacts)", base, ratio, target,
            (us <= 2.0) if fmt == "csv" else "—")
    else:
        row(metric, unmeasured(r), target=target)

# The floor: the same pages fetched and dropped by the export's HTTP client and runtime, in a
# child of its own; the whole process less it is the export's own work.
metric = "CPU per contact, HTTP receive alone (same pages, client and runtime; nothing parsed)"
if floor and floor.get("status") == "ok":
    us = float(floor["us_per_contact"])
    ours = f"{us:.2f} µs ({int(floor['bytes_in_per_contact']):,} B JSON in per contact)"
    if csv:
        whole = float(csv["us_per_contact"])
        row(metric, ours, f"export, CSV, whole process {whole:.2f} µs",
            f"{us / whole:.2f}× of it (the export's own work: {whole - us:.2f} µs)")
    else:
        row(metric, ours)
else:
    row(metric, unmeasured(floor))

# The same runs, the pipeline's own stages only (read, encode, write), as the export reports
# them: the whole process less the HTTP client, the runtime and the kernel's receive.
for fmt, name in (("csv", "CSV"), ("csv_gzip", "CSV + gzip"), ("ndjson", "NDJSON")):
    r = find(cpu, format=fmt)
    metric = f"CPU per contact, end to end, pipeline stages (parse, encode, write), {name}"
    target = "≤ 2 µs" if fmt == "csv" else "— (stated)"
    if r and r.get("status") == "ok" and "pipeline_us" in r:
        us = float(r["pipeline_us"])
        whole = float(r["us_per_contact"])
        ours = (f"{us:.2f} µs (read {float(r['read_us']):.2f}, encode {float(r['encode_us']):.2f}, "
                f"write {float(r['write_us']):.2f})")
        row(metric, ours, f"whole process {whole:.2f} µs", f"{us / whole:.2f}× of it", target,
            (us <= 2.0) if fmt == "csv" else "—")
    elif r and r.get("status") == "ok":
        row(metric, "n/a (the binary does not report it)", target=target)
    else:
        row(metric, unmeasured(r), target=target)

# CPU per contact in process (benches/cpu.rs: page parse + encode + gzip on pages in memory).
csv_in = find(inproc, format="csv")
for fmt, name in (("csv", "CSV"), ("csv_gzip", "CSV + gzip"), ("ndjson", "NDJSON")):
    r = find(inproc, format=fmt)
    metric = f"CPU per contact, in process (`benches/cpu.rs`), {name}"
    target = "≤ 2 µs" if fmt == "csv" else "— (stated)"
    if r:
        med = float(r["median"])
        ours = (f"{med:.2f} µs median (min {float(r['min']):.2f}; "
                f"{int(r['bytes_in']):,} B JSON in, {int(r['bytes_out']):,} B out per contact)")
        base, ratio = "—", "—"
        if fmt != "csv" and csv_in:
            c = float(csv_in["median"])
            base, ratio = f"CSV {c:.2f} µs", f"{med / c:.2f}× ({med - c:+.2f} µs)"
        row(metric, ours, base, ratio, target=target,
            met=(med <= 2.0) if fmt == "csv" else "—")
    else:
        why = status["cpu"] if status["cpu"] != "ok" else "not measured"
        row(metric, why, target=target, met=pending(why) if fmt == "csv" else "—")

# Peak RSS.
small = rss[0] if rss else None
large = rss[1] if len(rss) > 1 else None
for r, label in ((small, "smaller"), (large, "larger")):
    if r and r.get("status") == "ok":
        n = int(r["contacts"])
        mib = float(r["maxrss_mib"])
        if r is large:
            ratio = float(rss_ratio["ratio"]) if rss_ratio else None
            ok = mib <= 64 and ratio is not None and ratio <= 1.10
            base = f"{float(small['maxrss_mib']):.1f} MiB" if small and small.get("status") == "ok" else "—"
            row(f"Peak RSS, {n:,} contacts (CSV to a file)", f"{mib:.1f} MiB", base,
                f"{ratio:.3f}×" if ratio else "—", "≤ 64 MiB and ≤ 1.10× the smaller run", ok)
        else:
            row(f"Peak RSS, {n:,} contacts (CSV to a file)", f"{mib:.1f} MiB")
    else:
        row(f"Peak RSS, {label} run", unmeasured(r))

# One worker, 100 jobs, one key (benches/key_share.rs).
if share:
    u = float(share["utilisation"])
    row(f"Key share: one worker, {share['jobs']} concurrent jobs on one key, utilisation",
        f"{pct(u)} ({share['throttled']} × 429, peak {share['max_in_1s']}/s, {float(share['elapsed_s']):.0f} s)",
        target="≥ 98 %", met=u >= 0.98)
    lo, hi = float(share["fair_min"]), float(share["fair_max"])
    counted = (f" (whole requests in the window: {float(share['count_min']):.2f} … "
               f"{float(share['count_max']):.2f})" if "count_min" in share else "")
    row("Key share: fairness (each job's request rate in the window ÷ the mean)",
        f"{lo:.2f} … {hi:.2f}{counted}",
        target="within 20 % (0.80 … 1.20)", met=lo >= 0.8 and hi <= 1.2)
else:
    why = status["key_share"] if status["key_share"] != "ok" else "not measured"
    row("Key share: one worker, 100 concurrent jobs on one key, utilisation", why,
        target="≥ 98 %", met=pending(why))
    row("Key share: fairness (each job's request rate in the window ÷ the mean)", why,
        target="within 20 % (0.80 … 1.20)", met=pending(why))

quick = meta.get("quick") == "1"
print(f"Machine: {machine}")
print(f"Run: {date}, commit {commit}, {int(seconds) // 60} min {int(seconds) % 60} s"
      + (" — BENCH_QUICK (smaller sizes: indicative only)" if quick else ""))
print()
print("| metric | ours | baseline | ratio | target | met? |")
print("|---|---|---|---|---|---|")
print("\n".join(table))
if notes:
    print()
    print("Notes:")
    for n in notes:
        print(f"- {n}")
print()
print(f"{missed} target(s) missed." if missed else "Every measured target met.")
if status["export"] != "ok" and not util and not cpu:
    sys.exit(1)
