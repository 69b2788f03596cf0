#!/usr/bin/env python3
"""Markdown report for perf/compare.sh (standard library only).

Reads the files compare.sh leaves in its raw directory (rows.tsv, memory.tsv,
commands.txt and the coreshard-bench JSON files they name) and the run
description from the environment; prints the report on stdout.
"""
import json
import os
import re
import sys

E = os.environ
CLK_TCK = float(E.get("CLK_TCK", "100"))

SERVER_NAME = {
    "redis": "Redis",
    "cs1": "coreshard t1",
    "cs2": "coreshard t2 (shares cpu with generator)",
    "null": "null server",
}
ROW_ORDER = ["1", "2", "3", "4", "5", "6", "7", "8", "9a", "9b", "9c", "9d", "10"]


def load_rows(path):
    rows = {}
    labels = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            table, row, server, status, js, ticks, wall, label = (line.split("\t") + [""] * 8)[:8]
            rec = {"table": table, "row": row, "server": server, "status": status, "label": label}
            if status == "ok":
                with open(js) as jf:
                    data = json.load(jf)
                t = data["totals"]
                rec["ops_sec"] = float(t["ops_sec"])
                rec["ops"] = int(t["ops"])
                rec["p50"] = t["p50_us"] / 1000.0
                rec["p99"] = t["p99_us"] / 1000.0
                rec["p999"] = t["p999_us"] / 1000.0
                rec["errors"] = int(t.get("errors", 0))
                rec["hits"] = int(t.get("hits", 0))
                rec["misses"] = int(t.get("misses", 0))
                cpu_s = int(ticks) / CLK_TCK
                rec["cpu_us_op"] = cpu_s * 1e6 / rec["ops"] if rec["ops"] else None
                rec["cpu_util"] = cpu_s / float(wall) if float(wall) > 0 else None
                rec["commands"] = data.get("commands", {})
                rec["rate"] = (data.get("config") or {}).get("rate")
                rec["gen_util"] = generator_util(js[: -len(".json")] + ".txt", float(wall))
            rows[(row, server)] = rec
            if label and (row not in labels or server == "redis"):
                labels[row] = label
    return rows, labels


def generator_util(txt, wall):
    """Load generator CPU / wall time, from the summary line coreshard-bench prints
    ("generator cpu: user U s, sys S s, ..."); None when absent."""
    m = None
    try:
        with open(txt) as f:
            m = re.search(r"generator cpu: user ([0-9.]+) s, sys ([0-9.]+) s", f.read())
    except OSError:
        pass
    if not m or wall <= 0:
        return None
    return (float(m.group(1)) + float(m.group(2))) / wall


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


def notes(rec):
    out = []
    if rec.get("rate") and rec["ops_sec"] < 0.97 * float(rec["rate"]):
        out.append("**rate not sustained**: the server fell behind, latencies include the backlog")
    if rec.get("errors"):
        out.append(f"errors {rec['errors']:,}")
    if rec.get("gen_util") is not None:
        out.append(f"generator CPU {100 * rec['gen_util']:.0f}%")
    hm = rec.get("hits", 0) + rec.get("misses", 0)
    if hm and rec["server"] != "null":
        out.append(f"hit rate {100.0 * rec['hits'] / hm:.0f}%")
    return "; ".join(out)


def perf_table(rows, labels, servers):
    out = [
        "| row | server | ops/s | p50 ms | p99 ms | p99.9 ms | CPU µs/op | server CPU | ops ratio | CPU ratio | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in ROW_ORDER:
        base = rows.get((row, "redis"))
        for server in servers:
            rec = rows.get((row, server))
            if rec is None:
                continue
            name = f"{row} {labels.get(row, '')}".strip()
            if rec["status"] != "ok":
                out.append(f"| {name} | {SERVER_NAME[server]} | {rec['status']} | | | | | | | | |")
                continue
            ok_base = base is not None and base["status"] == "ok" and server != "redis"
            out.append(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    name,
                    SERVER_NAME[server],
                    fmt(rec["ops_sec"], 0),
                    fmt(rec["p50"], 3),
                    fmt(rec["p99"], 3),
                    fmt(rec["p999"], 3),
                    fmt(rec["cpu_us_op"], 2),
                    "—" if rec["cpu_util"] is None else f"{100 * rec['cpu_util']:.0f}%",
                    ratio(rec["ops_sec"], base["ops_sec"]) if ok_base else "—",
                    ratio(rec["cpu_us_op"], base["cpu_us_op"]) if ok_base else "—",
                    notes(rec),
                )
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
    out = []
    current = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            server, row, cmd = line.split("\t", 2)
            group = (server, row.startswith("mem-"))
            if group != current:
                if current is not None:
                    out.append("```")
                title = SERVER_NAME.get(server, server) + (", memory" if group[1] else "")
                out.append(f"\n{title}:\n\n```")
                current = group
            out.append(f"# row {row}\n{cmd}")
    if current is not None:
        out.append("```")
    return "\n".join(out)


def main():
    rows, labels = load_rows(E["ROWS_TSV"])
    quick = E.get("QUICK") == "1"
    wall = int(E["WALL"])
    p = print
    p(f"# coreshard vs Redis: {E['STAMP']}{' (quick smoke run)' if quick else ''}")
    p()
    st = E["STAMP"]
    if len(st) == 18:  # 2026-11-22T074304Z
        st = f"{st[:10]} {st[11:13]}:{st[13:15]}:{st[15:17]} UTC"
    p(f"- Date: {st}")
    p(f"- Command: `{E['INVOCATION']}`")
    p(f"- Wall time: {wall // 60} min {wall % 60} s ({int(E['MEASURE_WALL'])} s after the build)")
    p(f"- Machine: {E['M_CPU']}; nproc {E['M_NPROC']}; kernel {E['M_KERNEL']}; memory {E['M_MEM']}")
    p(f"- Redis: {E['V_REDIS']}")
    p(f"- coreshard: {E['V_CS']}: `{E['V_CS_BIN']}`")
    p(f"- Load generator: {E['V_BENCH']} (`{E['V_BENCH_BIN']}`)")
    p(f"- Rust: {E['V_RUSTC']}")
    p(
        f"- Load: coreshard-bench `-t 1 -c {E['CLIENTS']} --distinct-client-seed --test-time {E['ROW_SECS']}` "
        f"per row, pinned with `taskset -c {E['GEN_CPUS']}`; servers pinned to cpu {E['SERVER_CPUS']} "
        f"(coreshard `--threads 2`: cpus {E['CS2_CPUS']}, shared with the generator)."
    )
    p(
        "- CPU µs/op: server utime+stime (`/proc/PID/stat`, all threads) during the row divided by the "
        "operations the generator completed; server CPU = CPU seconds / wall seconds of the row. "
        "Ratios are coreshard / Redis (or null / Redis) for the same row: ops ratio > 1 and CPU ratio < 1 "
        "favour coreshard."
    )
    p("- notes: generator CPU = the load generator's own CPU / wall time (near 100% means the "
      "generator, not the server, limited the row); hit rate = GET-type hits / (hits + misses).")
    p(f"- Row 10 sends GETs at a fixed {E.get('RATE') or '—'} req/s (half of Redis's row-2 throughput); "
      "its latencies count from each request's intended send time.")
    mc = machine_cpu()
    if mc:
        p(f"- Whole machine during the run: {mc[0]:.0f}% of all cpus busy (ours and others' "
          f"processes), {mc[1]:.1f}% steal.")
    p(f"- Load average (1/5/15 min): {E.get('M_LOAD', '?')}. The machine is shared and virtualised: "
      "absolute numbers wander between runs; compare rows within one run, and read CPU µs/op "
      "before ops/s when the server CPU column is well below 100%.")
    p()
    p("## coreshard --threads 1 vs Redis (and the null server, rows 1-4)")
    p()
    p(perf_table(rows, labels, ["redis", "cs1", "null"]))
    p()
    p("## coreshard --threads 2 vs Redis")
    p()
    p(f"coreshard runs on cpus {E['CS2_CPUS']} and so shares a core with the load generator; "
      "the Redis rows are the same measurements as in the first table.")
    p()
    p(perf_table(rows, labels, ["redis", "cs2"]))
    p()
    p("## Memory")
    p()
    p("Fresh server per data set; Δ = after loading minus before (INFO `used_memory`, "
      "`VmRSS` of `/proc/PID/status`); per key = Δ / keys loaded; ratio = coreshard / Redis per key.")
    p()
    p(memory_table(E["MEM_TSV"]))
    p()
    p("## Row details")
    p()
    p("- 1-4: SET/GET over 100k keys (`memtier-N`), 32 B values, uniform random keys; "
      "GET rows run after a preload of all 100k keys. Pipeline 1 or 16.")
    p("- 5: SET:GET 1:10, 1 KiB values, zipf (exponent 0.99) over 1M keys, after FLUSHALL "
      "(misses count as operations).")
    p("- 6/7: MSET/MGET of 10 random keys out of the 100k (one op = one command).")
    p("- 8: INCR, zipf over 1000 counters. 9a-9d: collection commands, run only where "
      "`COMMAND INFO` knows them.")
    p("- 10: GET, pipeline 1, fixed rate.")
    p()
    p("## Commands")
    p()
    p(servers(E["SERVERS_TXT"]))
    p()
    p("Every load generator command line of this run (`(load)` = unmeasured data loading):")
    p(commands(E["CMDS"]))


if __name__ == "__main__":
    try:
        main()
    except (OSError, KeyError, ValueError) as e:
        print(f"compare_report.py: {e}", file=sys.stderr)
        sys.exit(1)
