#!/usr/bin/env python3
"""A cache-shaped workload against coreshard and Redis under maxmemory.

Each round starts a fresh server (Redis, then coreshard, alternating), sets
`maxmemory` and the policy, and drives one pipelined connection with a
Zipf-like access pattern over a key space whose data is four times the limit:
half GETs, half SETs of 1 KiB values, 80% of the SETs with a TTL (one hour).
Reported per server and policy, as medians over the rounds: the hit ratio
(keyspace_hits / (hits + misses)), keys held at the end, evicted keys, the
largest RSS seen (sampled from /proc every 10k commands) against maxmemory,
and the final used_memory.

Usage:
    perf/cache_mix.py [--maxmemory-mb 256] [--rounds 3] [--policies allkeys-lru,allkeys-lfu]
                      [--coreshard target/release/coreshard] [--redis redis-server]
                      [--threads 2] [--out FILE.md]

Only the Python standard library is used (a minimal RESP client below).
"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time


class Resp:
    """A minimal pipelining RESP2 client."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        if kind == b":":
            return int(rest)
        if kind == b"-":
            return RuntimeError(rest.decode())
        return rest

    def pipeline(self, cmds):
        self.s.sendall(b"".join(self.encode(c) for c in cmds))
        return [self.read() for _ in cmds]

    def cmd(self, *args):
        return self.pipeline([args])[0]

    def info(self):
        text = self.cmd("INFO").decode()
        fields = {}
        for line in text.split("\r\n"):
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields[k] = v
        return fields


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind, args, port):
    if kind == "redis":
        cmd = [args.redis, "--port", str(port), "--save", "", "--appendonly", "no"]
    else:
        cmd = [args.coreshard, "--port", str(port), "--threads", str(args.threads)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            c = Resp(port)
            if c.cmd("PING") == b"PONG":
                return p, c
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit(f"{kind} did not start on port {port}")


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def run_one(kind, policy, args, seed):
    port = free_port()
    proc, c = start(kind, args, port)
    try:
        limit = args.maxmemory_mb * 1024 * 1024
        c.cmd("CONFIG", "SET", "maxmemory", limit)
        c.cmd("CONFIG", "SET", "maxmemory-policy", policy)
        value = b"x" * 1024
        nkeys = 4 * limit // 1100
        rnd = random.Random(seed)
        total = int(nkeys * 1.5)
        max_rss = 0
        done = 0
        while done < total:
            batch = []
            for _ in range(500):
                # Zipf-like: u^3 puts most accesses on the low keys.
                k = b"c:%d" % int(nkeys * rnd.random() ** 3)
                if rnd.random() < 0.5:
                    batch.append((b"GET", k))
                elif rnd.random() < 0.8:
                    batch.append((b"SET", k, value, b"EX", b"3600"))
                else:
                    batch.append((b"SET", k, value))
            c.pipeline(batch)
            done += len(batch)
            if done % 10000 < 500:
                max_rss = max(max_rss, rss(proc.pid))
        max_rss = max(max_rss, rss(proc.pid))
        info = c.info()
        hits, misses = int(info["keyspace_hits"]), int(info["keyspace_misses"])
        return {
            "hit_ratio": hits / max(1, hits + misses),
            "keys": c.cmd("DBSIZE"),
            "evicted": int(info["evicted_keys"]),
            "rss_ratio": max_rss / limit,
            "used_mib": int(info["used_memory"]) / 2**20,
        }
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--maxmemory-mb", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policies", default="allkeys-lru,allkeys-lfu")
    ap.add_argument("--coreshard", default="target/release/coreshard")
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    for policy in args.policies.split(","):
        results = {"redis": [], "coreshard": []}
        for r in range(args.rounds):
            for kind in ("redis", "coreshard"):
                res = run_one(kind, policy, args, seed=r)
                results[kind].append(res)
                print(f"{policy} round {r + 1} {kind}: {res}", file=sys.stderr)
        for kind in ("redis", "coreshard"):
            med = {k: statistics.median(x[k] for x in results[kind]) for k in results[kind][0]}
            rows.append((policy, kind, med))
    lines = [
        f"# Cache mix under maxmemory {args.maxmemory_mb} MiB",
        "",
        f"- Command: `perf/cache_mix.py --maxmemory-mb {args.maxmemory_mb} --rounds {args.rounds} "
        f"--policies {args.policies} --threads {args.threads}`",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; machine: nproc {os.cpu_count()}",
        "- Workload: one pipelined connection (500 per batch), keys Zipf-like over 4× the limit's worth of "
        "1 KiB values, 50% GET, 50% SET (80% of them with a 1 h TTL), 1.5 commands per key of the space; "
        "fresh server per round, servers alternating; medians.",
        "",
        "| policy | server | hit ratio | keys held | evicted | max RSS / maxmemory | used_memory MiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for policy, kind, m in rows:
        lines.append(
            f"| {policy} | {kind} | {m['hit_ratio']:.4f} | {m['keys']:,.0f} | {m['evicted']:,.0f} | "
            f"{m['rss_ratio']:.3f} | {m['used_mib']:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
