#!/usr/bin/env bash
# perf/ab.sh: A/B comparison of server builds or settings under memtier_benchmark.
#
# Usage: perf/ab.sh [--rounds N] [--secs S] [--pipeline P] NAME=COMMAND...
#   Each NAME=COMMAND is a server command line without --port (the script adds
#   it), for example:
#     perf/ab.sh --pipeline 16 redis="redis-server --save '' --appendonly no" \
#         new="target/release/coreshard --threads 1" old="/tmp/old/coreshard --threads 1"
#   The servers are measured in turn, round after round (A B C A B C ...). Each
#   measurement starts a fresh server pinned to SERVER_CPUS (default 0), preloads
#   100k keys and runs memtier_benchmark pinned to GEN_CPUS (default 1) for S
#   seconds (default 8): 1 thread, 50 connections, SET:GET 1:10, 32 B values,
#   pipeline P (default 1). One line per measurement: ops/s, p50 and p99 (ms),
#   server CPU µs per op (utime+stime of all its threads ÷ ops) and server busy
#   fraction; then the medians per server.
# Environment: MEMTIER_BIN (default: built by ../shared/tools/memtier/build.sh),
#   SERVER_CPUS, GEN_CPUS, PORT (default 17390).
set -euo pipefail

ROUNDS=3
SECS=8
PIPE=1
while (($#)); do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --pipeline) PIPE=$2; shift 2 ;;
        -h | --help) awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) break ;;
    esac
done
(($# > 0)) || { echo "ab.sh: give at least one NAME=COMMAND (try --help)" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MEMTIER=${MEMTIER_BIN:-}
if [[ -z $MEMTIER ]]; then
    MEMTIER=$("$ROOT/../shared/tools/memtier/build.sh" | tail -1)
fi
[[ -x $MEMTIER ]] || { echo "ab.sh: memtier_benchmark not found ($MEMTIER)" >&2; exit 1; }
SERVER_CPUS=${SERVER_CPUS:-0}
GEN_CPUS=${GEN_CPUS:-1}
PORT=${PORT:-17390}
CLK=$(getconf CLK_TCK)
TMP=$(mktemp -d)
SPID=""
cleanup() {
    if [[ -n $SPID ]]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

measure() {
    local name=$1 cmd=$2
    # exec: the background job becomes the server itself, so $! is its pid
    (eval "exec taskset -c $SERVER_CPUS $cmd --port $PORT") >"$TMP/server.log" 2>&1 &
    SPID=$!
    local up=0
    for _ in $(seq 200); do
        if redis-cli -p "$PORT" ping >/dev/null 2>&1; then up=1; break; fi
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    ((up)) || { echo "ab.sh: $name did not start:" >&2; cat "$TMP/server.log" >&2; exit 1; }
    taskset -c "$GEN_CPUS" "$MEMTIER" -s 127.0.0.1 -p "$PORT" -t 1 -c 50 --ratio 1:0 -d 32 \
        --key-pattern P:P --key-minimum 1 --key-maximum 100000 --requests allkeys \
        --hide-histogram >/dev/null 2>&1
    local s0 s1
    s0=$(cpu_ticks "$SPID")
    taskset -c "$GEN_CPUS" "$MEMTIER" -s 127.0.0.1 -p "$PORT" -t 1 -c 50 --ratio 1:10 -d 32 \
        --key-minimum 1 --key-maximum 100000 --test-time "$SECS" --pipeline "$PIPE" \
        --hide-histogram --json-out-file "$TMP/mt.json" >/dev/null 2>&1
    s1=$(cpu_ticks "$SPID")
    kill "$SPID"; wait "$SPID" 2>/dev/null || true
    SPID=""
    python3 - "$TMP/mt.json" "$name" "$s0" "$s1" "$CLK" "$SECS" <<'EOF' | tee -a "$TMP/rows"
import json, sys
path, name, s0, s1, clk, secs = sys.argv[1:]
t = json.load(open(path))["ALL STATS"]["Totals"]
ops = t["Ops/sec"]
cpu = (float(s1) - float(s0)) / float(clk)
pl = t["Percentile Latencies"]
print(f"{name}\t{ops:.0f}\t{pl['p50.00']:.3f}\t{pl['p99.00']:.3f}\t"
      f"{cpu / (ops * float(secs)) * 1e6:.2f}\t{cpu / float(secs) * 100:.0f}")
EOF
}

echo "memtier pipeline $PIPE, $SECS s per row, $ROUNDS round(s), server cpus $SERVER_CPUS, generator cpus $GEN_CPUS"
printf 'server\tops/s\tp50 ms\tp99 ms\tCPU µs/op\tbusy %%\n'
for ((r = 1; r <= ROUNDS; r++)); do
    for spec in "$@"; do
        measure "${spec%%=*}" "${spec#*=}"
    done
done
echo "medians:"
python3 - "$TMP/rows" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    p = line.rstrip("\n").split("\t")
    rows.setdefault(p[0], []).append([float(x) for x in p[1:]])
for name, rs in rows.items():
    m = [statistics.median(c) for c in zip(*rs)]
    print(f"{name}\t{m[0]:.0f}\t{m[1]:.3f}\t{m[2]:.3f}\t{m[3]:.2f}\t{m[4]:.0f}")
EOF
