#!/usr/bin/env python3
"""Projects coreshard's throughput to many cores from figures measured on one.

The model (tuning.md, "Scaling model") splits a request's CPU cost into
  net   - work on the core that owns the connection: the kernel's socket work,
          parsing, the reply, the loop (measured: the null server's CPU per op);
  exec  - work on the core that owns the key (measured: threads-1 CPU per op
          minus the null server's);
  hop   - extra CPU, summed over both cores, when the key's core is not the
          connection's (measured: benches/hop.rs, or twice the difference
          between threads-2 and threads-1 CPU per op, since half the requests
          hop with two cores).
With N cores and keys spread by hash slot, a request hops with probability
(N-1)/N. Connections spread evenly over the cores (SO_REUSEPORT), so `net`
work is balanced; `exec` work follows the keys, so with skewed (Zipf) keys the
core that owns the hottest keys limits throughput. Each core's load per
request is
  load_i = (net + f*hop/2) / N + q_i * (exec + f*hop/2)
where q_i is the share of requests whose key core i owns, and throughput is
1 / max_i load_i requests per microsecond of CPU.

Usage: perf/scaling_model.py NET EXEC HOP [--keys K] [--zipf S] [--cores 1,2,8,16,64]
  NET, EXEC, HOP in microseconds of CPU per request (HOP per hopped request).
"""

import argparse
import random


def zipf_shares(keys, s, cores, seed=1):
    """Share of requests each core owns when `keys` keys with Zipf(s)
    popularity are placed on `cores` cores by a uniform hash."""
    weights = [1.0 / (k ** s) for k in range(1, keys + 1)] if s > 0 else [1.0] * keys
    total = sum(weights)
    rng = random.Random(seed)
    share = [0.0] * cores
    for w in weights:
        share[rng.randrange(cores)] += w / total
    return share


def project(net, exe, hop, cores, shares):
    f = (cores - 1) / cores
    per_core = [(net + f * hop / 2) / cores + q * (exe + f * hop / 2) for q in shares]
    worst = max(per_core)
    cpu_per_op = net + exe + f * hop
    return 1.0 / worst, cpu_per_op, max(shares) * cores


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("net", type=float)
    ap.add_argument("exec", type=float)
    ap.add_argument("hop", type=float)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--zipf", type=float, default=0.99)
    ap.add_argument("--cores", default="1,2,8,16,64")
    a = ap.parse_args()
    cores = [int(c) for c in a.cores.split(",")]
    one = 1.0 / (a.net + a.exec)
    print(f"inputs: net {a.net} µs, exec {a.exec} µs, hop {a.hop} µs per hopped request; "
          f"one core: {one:.3f} M req/s")
    print()
    print("| cores | keys | CPU µs/op | M req/s | × one core | hottest core's key share ÷ fair share |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in cores:
        for label, s in (("uniform", 0.0), (f"zipf {a.zipf}", a.zipf)):
            shares = [1.0 / n] * n if s == 0 else zipf_shares(a.keys, s, n)
            tput, cpu, skew = project(a.net, a.exec, a.hop, n, shares)
            print(f"| {n} | {label} | {cpu:.3f} | {tput:.3f} | {tput / one:.2f} | {skew:.2f} |")


if __name__ == "__main__":
    main()
