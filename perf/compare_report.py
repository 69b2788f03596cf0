#!/usr/bin/env python3
"""Markdown report for perf/compare.sh (standard library only).

Reads the files compare.sh leaves in its raw directory (rows.tsv, memory.tsv,
commands.txt and the coreshard-bench and memtier_benchmark JSON files they
name) and the run description from the environment; prints the report on stdout.
"""
import json
import os
import statistics
import sys

E = os.environ
CLK_TCK = float(E.get("CLK_TCK", "100"))
ROUNDS = int(E.get("ROUNDS", "1"))
CS2_CPUS = E.get("CS2_CPUS", "0,1")
GEN_CPUS = E.get("GEN_CPUS", "1")


def cpu_set(spec):
    """The cpus of a taskset list such as `0,1` or `0-3`."""
    cpus = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            cpus.update(range(int(a), int(b) + 1))
        elif part:
            cpus.add(int(part))
    return cpus


def t2_placement():
    """Where the --threads 2 executors run, relative to the generator."""
    if cpu_set(CS2_CPUS) & cpu_set(GEN_CPUS):
        return f"cpus {CS2_CPUS}, shared with the generator"
    return f"both executors on cpus {CS2_CPUS}; the generator alone on cpus {GEN_CPUS}"

SERVER_NAME = {
    "redis": "Redis",
    "cs1": "coreshard t1",
    "cs2": f"coreshard t2 ({t2_placement()})",
    "null": "null server",
}
ROW_ORDER = {
    "bench": ["1", "2", "3", "4", "5", "6", "7", "8", "9a", "9b", "9c", "9d", "11", "12",
              "8p16", "9ap16", "9bp16", "9cp16", "9dp16", "11p16", "10"],
    "memtier": ["M1", "M2", "M3", "M4", "M5", "M6"],
    "pubsub": ["P1", "P2", "P3", "P4"],
}


def bench_figures(data):
    """Figures of one coreshard-bench JSON file (latencies in ms)."""
    t = data["totals"]
    return {
        "ops_sec": float(t["ops_sec"]),
        "ops": int(t["ops"]),
        "p50": t["p50_us"] / 1000.0,
        "p99": t["p99_us"] / 1000.0,
        "p999": t["p999_us"] / 1000.0,
        "errors": int(t.get("errors", 0)),
        "hits": int(t.get("hits", 0)),
        "misses": int(t.get("misses", 0)),
        "secs": float(data.get("duration_secs") or 0),
    }


def pubsub_figures(data):
    """Figures of one `coreshard-bench --subscribers` JSON file: ops are publishes,
    latencies are the delivery latencies (the `message` row)."""
    f = bench_figures(data)
    m = data["commands"]["message"]
    pub = data["commands"]["PUBLISH"]
    f.update(p50=m["p50_us"] / 1000.0, p99=m["p99_us"] / 1000.0, p999=m["p999_us"] / 1000.0,
             delivered=float(m["ops_sec"]), pub_p50=pub["p50_us"] / 1000.0,
             errors=int(pub.get("errors", 0)) + int(m.get("errors", 0)))
    return f


def memtier_figures(data):
    """Figures of one memtier_benchmark --json-out-file (latencies are in ms there)."""
    stats = data["ALL STATS"]
    t = stats["Totals"]
    pct = t.get("Percentile Latencies", {})
    secs = float(stats.get("Runtime", {}).get("Total duration", 0)) / 1000.0
    return {
        "ops_sec": float(t["Ops/sec"]),
        "ops": int(t["Count"]),
        "p50": pct.get("p50.00"),
        "p99": pct.get("p99.00"),
        "p999": pct.get("p99.90"),
        "errors": int(t.get("Connection Errors", 0)),
        "hits": round(float(t.get("Hits/sec", 0)) * secs),
        "misses": round(float(t.get("Misses/sec", 0)) * secs),
        "secs": secs,
    }


def load_rows(path):
    """rows.tsv -> {(suite, row, server): [record per round]}, {(suite, row): label}."""
    rows = {}
    labels = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            (suite, row, rnd, server, status, js, sticks, gticks, wall_us, label,
             target) = (line.split("\t") + [""] * 11)[:11]
            rec = {"suite": suite, "row": row, "round": int(rnd), "server": server,
                   "status": status, "label": label,
                   "target": float(target) if target else None}
            if status == "ok":
                with open(js) as jf:
                    data = json.load(jf)
                figures = {"memtier": memtier_figures, "pubsub": pubsub_figures}.get(suite, bench_figures)
                rec.update(figures(data))
                # busy % over the generator's own measured duration: memtier's
                # process outlives its test by up to a second of idle waiting
                secs = rec["secs"] if rec["secs"] > 0 else int(wall_us) / 1e6
                cpu_s = int(sticks) / CLK_TCK
                rec["cpu_us_op"] = cpu_s * 1e6 / rec["ops"] if rec["ops"] else None
                rec["cpu_util"] = cpu_s / secs if secs > 0 else None
                rec["gen_util"] = int(gticks) / CLK_TCK / secs if secs > 0 else None
            rows.setdefault((suite, row, server), []).append(rec)
            if label and ((suite, row) not in labels or server == "redis"):
                labels[(suite, row)] = label
    return rows, labels


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(recs):
    """Medians over the successful rounds of one row on one server."""
    ok = [r for r in recs if r["status"] == "ok"]
    s = {"rounds": len(recs), "ok": len(ok), "recs": recs,
         "failed": [r for r in recs if r["status"] != "ok"]}
    if not ok:
        s["status"] = recs[0]["status"]
        return s
    s["status"] = "ok"
    for k in ("ops_sec", "p50", "p99", "p999", "cpu_us_op", "cpu_util", "gen_util", "delivered",
              "pub_p50"):
        s[k] = median([r.get(k) for r in ok])
    for k in ("ops_sec", "cpu_us_op"):
        vals = [r[k] for r in ok if r.get(k) is not None]
        s[k + "_range"] = (min(vals), max(vals)) if len(vals) > 1 else None
    s["errors"] = sum(r["errors"] for r in ok)
    s["hits"] = sum(r["hits"] for r in ok)
    s["misses"] = sum(r["misses"] for r in ok)
    s["target"] = ok[0]["target"]
    if s["target"]:
        s["reached"] = sum(1 for r in ok if r["ops_sec"] >= 0.97 * r["target"])
    return s


def machine_cpu():
    """Whole-machine CPU use between two `cpu` lines of /proc/stat: (busy %, steal %)."""
    try:
        a = [int(x) for x in E["STAT_START"].split()[1:9]]
        b = [int(x) for x in E["STAT_END"].split()[1:9]]
    except (KeyError, ValueError):
        return None
    d = [y - x for x, y in zip(a, b)]
    total = sum(d)
    if len(d) < 8 or total <= 0:
        return None
    idle = d[3] + d[4]
    return 100.0 * (total - idle) / total, 100.0 * d[7] / total


def fmt(v, digits):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}"


def fmt_range(rng, digits):
    if rng is None:
        return "—"
    return f"{rng[0]:,.{digits}f}–{rng[1]:,.{digits}f}"


def pct(v):
    return "—" if v is None else f"{100 * v:.0f}%"


def notes(s):
    out = []
    if s.get("target"):
        target = f"{s['target']:,.0f}/s"
        if s["reached"] == s["ok"]:
            out.append(f"rate {target} reached" + (f" in all {s['ok']} rounds" if s["ok"] > 1 else ""))
        else:
            out.append(f"**rate {target} not reached** in {s['ok'] - s['reached']} of {s['ok']} "
                       "round(s): the server or the generator fell behind")
    if s["failed"]:
        out.append(f"{len(s['failed'])} of {s['rounds']} rounds failed ({s['failed'][0]['status']})")
    if s.get("errors"):
        out.append(f"errors {s['errors']:,}")
    hm = s.get("hits", 0) + s.get("misses", 0)
    if hm and s["recs"][0]["server"] != "null":
        out.append(f"hit rate {100.0 * s['hits'] / hm:.0f}%")
    return "; ".join(out)


def perf_table(rows, labels, suite, servers):
    out = [
        "| row | server | ops/s | ops/s range | p50 ms | p99 ms | p99.9 ms | CPU µs/op | CPU µs/op range "
        "| server CPU | generator CPU | ops ratio | CPU ratio | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in ROW_ORDER[suite]:
        base_recs = rows.get((suite, row, "redis"))
        base = summarize(base_recs) if base_recs else None
        for server in servers:
            recs = rows.get((suite, row, server))
            if not recs:
                continue
            s = summarize(recs)
            name = f"{row} {labels.get((suite, row), '')}".strip()
            if s["status"] != "ok":
                out.append(f"| {name} | {SERVER_NAME[server]} | {s['status']} | | | | | | | | | | | |")
                continue
            ok_base = base is not None and base["status"] == "ok" and server != "redis"
            out.append(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    name,
                    SERVER_NAME[server],
                    fmt(s["ops_sec"], 0),
                    fmt_range(s["ops_sec_range"], 0),
                    fmt(s["p50"], 3),
                    fmt(s["p99"], 3),
                    fmt(s["p999"], 3),
                    fmt(s["cpu_us_op"], 2),
                    fmt_range(s["cpu_us_op_range"], 2),
                    pct(s["cpu_util"]),
                    pct(s["gen_util"]),
                    ratio(s["ops_sec"], base["ops_sec"]) if ok_base else "—",
                    ratio(s["cpu_us_op"], base["cpu_us_op"]) if ok_base else "—",
                    notes(s),
                )
            )
    return "\n".join(out)


def pubsub_table(rows, labels):
    out = [
        "| row | server | PUBLISH/s | range | messages delivered/s | delivery p50 ms | p99 ms "
        "| p99.9 ms | PUBLISH reply p50 ms | CPU µs/PUBLISH | server CPU | generator CPU "
        "| PUBLISH/s ratio | CPU ratio | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in ROW_ORDER["pubsub"]:
        base_recs = rows.get(("pubsub", row, "redis"))
        base = summarize(base_recs) if base_recs else None
        for server in ("redis", "cs1", "cs2"):
            recs = rows.get(("pubsub", row, server))
            if not recs:
                continue
            s = summarize(recs)
            name = f"{row} {labels.get(('pubsub', row), '')}".strip()
            if s["status"] != "ok":
                out.append(f"| {name} | {SERVER_NAME[server]} | {s['status']} |" + " |" * 12)
                continue
            ok_base = base is not None and base["status"] == "ok" and server != "redis"
            out.append("| " + " | ".join([
                name, SERVER_NAME[server], fmt(s["ops_sec"], 0), fmt_range(s["ops_sec_range"], 0),
                fmt(s["delivered"], 0), fmt(s["p50"], 3), fmt(s["p99"], 3), fmt(s["p999"], 3),
                fmt(s["pub_p50"], 3), fmt(s["cpu_us_op"], 2), pct(s["cpu_util"]), pct(s["gen_util"]),
                ratio(s["ops_sec"], base["ops_sec"]) if ok_base else "—",
                ratio(s["cpu_us_op"], base["cpu_us_op"]) if ok_base else "—",
                notes(s),
            ]) + " |")
    return "\n".join(out)


def t2_table(rows, labels, suite):
    """CPU per op of --threads 2 against --threads 1, row by row (medians)."""
    out = [
        "| row | t1 CPU µs/op | t2 CPU µs/op | t2 / t1 | t1 ops/s | t2 ops/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in ROW_ORDER[suite]:
        r1, r2 = rows.get((suite, row, "cs1")), rows.get((suite, row, "cs2"))
        if not r1 or not r2:
            continue
        s1, s2 = summarize(r1), summarize(r2)
        if s1["status"] != "ok" or s2["status"] != "ok":
            continue
        name = f"{row} {labels.get((suite, row), '')}".strip()
        out.append(
            f"| {name} | {fmt(s1['cpu_us_op'], 2)} | {fmt(s2['cpu_us_op'], 2)} | "
            f"{ratio(s2['cpu_us_op'], s1['cpu_us_op'])} | {fmt(s1['ops_sec'], 0)} | {fmt(s2['ops_sec'], 0)} |"
        )
    return "\n".join(out)


def memory_table(path):
    recs = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            p = line.split("\t")
            rec = {"set": p[0], "server": p[1], "status": p[2]}
            if p[2] == "ok":
                expected, n, u0, u1, r0, r1, fields = (int(x) for x in p[3:10])
                rec.update(expected=expected, dbsize=n, fields=fields)
                rec["used"] = (u1 - u0) / expected
                rec["rss"] = (r1 - r0) / expected
                rec["used_total"] = (u1 - u0) / 1048576
                rec["rss_total"] = (r1 - r0) / 1048576
            recs[(p[0], p[1])] = rec
    titles = {
        "strings": f"{int(E['MEM_KEYS']):,} strings (16 B key, 32 B value)",
        "hashes": f"{int(E['MEM_HASHES']):,} hashes × 10 fields (16 B key, 2-3 B field, 32 B value)",
        "bighash": f"1 hash × {int(E['MEM_BIG']):,} fields (18 B field, 32 B value)",
        "bigzset": f"1 sorted set × {int(E['MEM_BIG']):,} members (19 B member, equal scores)",
    }
    out = [
        "| data set | server | DBSIZE | used_memory Δ MiB | used_memory / key B | RSS Δ MiB | RSS / key B "
        "| used / field B | RSS / field B | used ratio | RSS ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ds in ("strings", "hashes", "bighash", "bigzset"):
        base = recs.get((ds, "redis"))
        for server in ("redis", "cs1", "cs2"):
            rec = recs.get((ds, server))
            if rec is None:
                continue
            if rec["status"] != "ok":
                out.append(f"| {titles[ds]} | {SERVER_NAME[server]} | {rec['status']} | | | | | | | | |")
                continue
            check = f"{rec['dbsize']:,}" + ("" if rec["dbsize"] == rec["expected"] else " (expected "
                                              f"{rec['expected']:,}!)")
            per_field = rec["fields"] > 1
            ok_base = base is not None and base["status"] == "ok" and server != "redis"
            out.append(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    titles[ds],
                    SERVER_NAME[server],
                    check,
                    fmt(rec["used_total"], 1),
                    fmt(rec["used"], 1),
                    fmt(rec["rss_total"], 1),
                    fmt(rec["rss"], 1),
                    fmt(rec["used"] / rec["fields"], 1) if per_field else "—",
                    fmt(rec["rss"] / rec["fields"], 1) if per_field else "—",
                    ratio(rec["used"], base["used"]) if ok_base else "—",
                    ratio(rec["rss"], base["rss"]) if ok_base else "—",
                )
            )
    return "\n".join(out)


def servers(path):
    out = ["Servers:", "", "```"]
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                out.append(line.split("\t", 1)[1])
    out.append("```")
    return "\n".join(out)


def commands(path):
    """The generator command lines, grouped by section and server in run order."""
    groups = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                server, section, title, cmd = line.split("\t", 3)
                groups.setdefault((section, server), []).append((title, cmd))
    kinds = {"bench": "coreshard-bench rows", "memtier": "memtier_benchmark rows",
             "pubsub": "pub/sub rows (coreshard-bench --subscribers)",
             "memory": "memory (coreshard-bench)"}
    out = []
    for (section, server), lines in groups.items():
        out.append(f"\n{SERVER_NAME.get(server, server)}, {kinds.get(section, section)}:\n\n```")
        for title, cmd in lines:
            out.append(f"# {title}\n{cmd}")
        out.append("```")
    return "\n".join(out)


def main():
    rows, labels = load_rows(E["ROWS_TSV"])
    sections = E.get("SECTIONS", "bench,memtier,memory").split(",")
    quick = E.get("QUICK") == "1"
    wall = int(E["WALL"])
    secs = E["ROW_SECS"]
    p = print
    p(f"# coreshard vs Redis: {E['STAMP']}{' (quick smoke run)' if quick else ''}")
    p()
    st = E["STAMP"]
    if len(st) == 18:  # 2026-11-22T074304Z
        st = f"{st[:10]} {st[11:13]}:{st[13:15]}:{st[15:17]} UTC"
    p(f"- Date: {st}")
    p(f"- Command: `{E['INVOCATION']}`")
    p(f"- Sections: {', '.join(sections)}")
    p(f"- Wall time: {wall // 60} min {wall % 60} s ({int(E['MEASURE_WALL'])} s after the builds)")
    p(f"- Machine: {E['M_CPU']}; nproc {E['M_NPROC']}; kernel {E['M_KERNEL']}; memory {E['M_MEM']}")
    p(f"- Redis: {E['V_REDIS']}")
    p(f"- coreshard: {E['V_CS']}: `{E['V_CS_BIN']}`")
    p(f"- Load generator: {E['V_BENCH']} (`{E['V_BENCH_BIN']}`)")
    if "memtier" in sections:
        p(f"- memtier_benchmark: {E.get('V_MEMTIER', '?')} (`{E.get('V_MEMTIER_BIN', '?')}`)")
    p(f"- Rust: {E['V_RUSTC']}")
    p(
        f"- Load: one generator process per row, `-t 1 -c {E['CLIENTS']} --distinct-client-seed "
        f"--test-time {secs}`, pinned with `taskset -c {E['GEN_CPUS']}`; servers pinned to cpu "
        f"{E['SERVER_CPUS']} (coreshard `--threads 2`: {t2_placement()})."
    )
    p(
        f"- Rounds: **{ROUNDS}** per row. Every load row is measured {ROUNDS} time(s) per server, the "
        "servers alternating (Redis, coreshard t1, coreshard t2, null server, Redis, ...; all of them "
        "running side by side, idle when not measured), so slow drift of the machine affects every "
        "server alike. Every figure is the median of the rounds; the range columns are min–max "
        "over the rounds (— with one round); ratios are computed from the medians."
    )
    p(
        "- CPU µs/op: server utime+stime (`/proc/PID/stat`, all threads) during the row divided by the "
        "operations the generator completed; server CPU = server CPU seconds / the test duration the "
        "generator reports; generator CPU = the same for the generator process (its utime+stime as the "
        "script reaps it: cutime+cstime of the script's `/proc/PID/stat`); near 100% means the "
        "generator, not the server, limited the row. Ratios are coreshard / Redis (or null / Redis) for the same row: "
        "ops ratio > 1 and CPU ratio < 1 favour coreshard."
    )
    p("- notes: hit rate = GET-type hits / (hits + misses); a fixed-rate row counts as reached "
      "in a round when its ops/s are at least 97% of the target.")
    mc = machine_cpu()
    if mc:
        p(f"- Whole machine during the run: {mc[0]:.0f}% of all cpus busy (ours and others' "
          f"processes), {mc[1]:.1f}% steal.")
    p(f"- Load average (1/5/15 min): {E.get('M_LOAD', '?')}. The machine is shared and virtualised: "
      "absolute numbers wander between runs; compare rows within one run, and read CPU µs/op "
      "before ops/s when the server CPU column is well below 100%.")
    if "bench" in sections:
        p()
        p("## coreshard-bench: coreshard --threads 1 vs Redis (and the null server, rows 1-4)")
        p()
        p(perf_table(rows, labels, "bench", ["redis", "cs1", "null"]))
        p()
        p("## coreshard-bench: coreshard --threads 2 vs Redis")
        p()
        p(f"coreshard t2 runs with {t2_placement()}; "
          "the Redis rows are the same measurements as in the first table.")
        p()
        p(perf_table(rows, labels, "bench", ["redis", "cs2"]))
        p()
        p("CPU per operation of `--threads 2` against `--threads 1` (hop cost included). "
          "Rows 6 and 7 are the cross-shard rows: with two shards every MSET and MGET of 10 "
          "random keys spans both, so it runs as a transaction (its keys locked on both shards, "
          "one part per shard, see src/shard/txn.rs); their ratio is what atomicity across "
          "shards costs on top of the hop:")
        p()
        p(t2_table(rows, labels, "bench"))
    if "memtier" in sections:
        p()
        p("## memtier_benchmark: coreshard --threads 1 and --threads 2 vs Redis")
        p()
        p(f"memtier_benchmark `-t 1 -c {E['CLIENTS']}`, SET:GET 1:10, 32 B values, uniform keys "
          f"`memtier-1` .. `memtier-{int(E['MT_KEYS'])}` (all preloaded), {secs} s per row. "
          f"coreshard t2 runs with {t2_placement()}. Latencies are memtier's "
          "(from each request's actual send time: at a fixed rate, a server that falls behind shows "
          "as a missed rate rather than in the percentiles).")
        p()
        p(perf_table(rows, labels, "memtier", ["redis", "cs1", "cs2"]))
        p()
        p("CPU per operation of `--threads 2` against `--threads 1`:")
        p()
        p(t2_table(rows, labels, "memtier"))
    if "pubsub" in sections:
        p()
        p("## Pub/sub: PUBLISH to 50 subscribers")
        p()
        p(f"`coreshard-bench -c 1 --subscribers {E['CLIENTS']}`: one publisher connection sends "
          "PUBLISH of 32 B messages to one channel; every subscriber connection subscribes to it "
          "(P1/P2) or to its own glob pattern that matches it (P3/P4, `[b0]ench:channel`, "
          "`[b1]ench:channel`, ...). The loop is closed end to end: at most `--pipeline` messages "
          "(1 or 16) are in flight that have not yet reached every subscriber, so a server cannot "
          "publish faster than its subscribers read. Every subscriber checks that it receives every "
          "message once and in order, and every PUBLISH reply must count all subscribers (errors "
          "otherwise). Delivery latency: from the PUBLISH being sent to the message arriving, per "
          "subscriber. CPU per PUBLISH includes its delivery to every subscriber. "
          f"coreshard t2 runs with {t2_placement()}.")
        p()
        p(pubsub_table(rows, labels))
    if "memory" in sections:
        p()
        p("## Memory")
        p()
        p("Fresh server per data set (measured once, not in rounds); Δ = after loading minus before "
          "(INFO `used_memory`, `VmRSS` of `/proc/PID/status`); per key = Δ / keys loaded; "
          "ratio = coreshard / Redis per key.")
        p()
        p(memory_table(E["MEM_TSV"]))
    if "cache" in sections and os.path.exists(E.get("CACHE_MD", "")):
        p()
        p("## Cache mix under maxmemory")
        p()
        with open(E["CACHE_MD"]) as f:
            # The script's own title is replaced by this section's.
            p("".join(f.readlines()[2:]).rstrip())
    p()
    p("## Row details")
    p()
    if "bench" in sections:
        p("- 1-4: SET/GET over 100k keys (`memtier-N`), 32 B values, uniform random keys, after a "
          "preload of all 100k keys (SET rows overwrite). Pipeline 1 or 16.")
        p("- 5: SET:GET 1:10, 1 KiB values, zipf (exponent 0.99) over 1M keys, after a FLUSHALL "
          "before every round (misses count as operations).")
        p("- 6/7: MSET/MGET of 10 random keys out of the 100k (one op = one command).")
        p("- 8: INCR, zipf over 1000 counters. 9a-9d: collection commands, run only where "
          "`COMMAND INFO` knows them.")
        p("- 11: EVALSHA of `return redis.call('INCR', KEYS[1])` over the counters of row 8 "
          "(the key declared). 12: the same script reaching its key through ARGV "
          "(`return redis.call('INCR', ARGV[1])`, no key declared): coreshard locks every "
          "shard for each run of such a script.")
        p(f"- 10: GET, pipeline 1, at a fixed {E.get('RATE') or '—'} req/s for every server (half of "
          "Redis's median row-2 throughput); coreshard-bench counts its latencies from each "
          "request's intended send time.")
    if "memtier" in sections:
        p("- M1/M2: memtier SET:GET 1:10, unlimited rate, pipeline 1 / 16.")
        p("- M3/M4: the same at pipeline 1 and a fixed total rate (`--rate-limiting` is per "
          f"connection: total / {E['CLIENTS']}). memtier sends each connection's requests of a "
          "20 ms slice back to back, one in flight, so the rate is reached only when those "
          "round trips fit into the slice.")
    p()
    p("## Commands")
    p()
    p(servers(E["SERVERS_TXT"]))
    p()
    p("Every load generator command line of this run (preloads and data sets are unmeasured; "
      "a measured row is shown for round 1, later rounds differ only in the `-rN` of the "
      "output file):")
    p(commands(E["CMDS"]))


if __name__ == "__main__":
    try:
        main()
    except (OSError, KeyError, ValueError) as e:
        print(f"compare_report.py: {e}", file=sys.stderr)
        sys.exit(1)
