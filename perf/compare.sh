#!/usr/bin/env bash
# perf/compare.sh: side-by-side comparison of coreshard and Redis on one machine.
#
# Runs the same workloads against redis-server, coreshard --threads 1,
# coreshard --threads 2 and the null server (coreshard --null-server yes,
# coreshard-bench rows 1-4): the coreshard-bench matrix, memtier_benchmark rows
# and memory per key. Every load row is measured in ROUNDS rounds that alternate
# the servers (redis, t1, t2, null, redis, t1, ...); the report shows medians and
# min-max ranges. Writes perf/results/<UTC stamp>.md plus perf/results/latest.md.
#
# Usage: perf/compare.sh [--quick] [--rounds N] [--only LIST]
#   --quick        2 s rows, 1 round, a 100k-key memory set (smoke test)
#   --rounds N     measurements per row and server (default 3, --quick: 1)
#   --only LIST    comma-separated sections to run: bench (coreshard-bench
#                  rows), memtier (memtier_benchmark rows), pubsub (PUBLISH to
#                  50 subscribers, coreshard-bench --subscribers), memory, cache
#                  (perf/cache_mix.py: hit ratio and RSS under maxmemory);
#                  default all
# Environment:
#   ROW_SECS       seconds per measured row (default 5, --quick: 2)
#   PORT_BASE      first TCP port; 4 consecutive ports are used (default 17380)
#   CORESHARD_ARGS extra arguments for every coreshard server (e.g.
#                  "--executor-spin-us 50"), split on spaces
#   CORESHARD_BIN  server binary (default: target/release/coreshard)
#   BENCH_BIN      load generator (default: target/release/coreshard-bench)
#   MEMTIER_BIN    memtier_benchmark binary (default: built by
#                  ../shared/tools/memtier/build.sh next to the repository)
#   SKIP_BUILD=1   do not run `cargo build --release --bins`
#   CACHE_MB       maxmemory of the cache section in MiB (default 256, --quick: 32)
#   SERVER_CPUS / GEN_CPUS   cpu lists for taskset (default 0 / 1)
#   T2_CPUS        cpu list of the --threads 2 variant (default
#                  "SERVER_CPUS,GEN_CPUS": one executor shares the generator's
#                  core; T2_CPUS=0 puts both executors on the server's core)
#
# Whole run on a 2-core machine: about 25-28 minutes plus the builds
# (--only memtier: about 4, --only pubsub: about 3, --quick: about 3).
set -euo pipefail

ORIG_ARGS=("$@")
SCRIPT_START=$SECONDS
# the environment settings given by the caller, for the report's command line
USER_ENV=""
for v in ROW_SECS PORT_BASE CORESHARD_BIN BENCH_BIN MEMTIER_BIN SKIP_BUILD SERVER_CPUS GEN_CPUS T2_CPUS CORESHARD_ARGS; do
    if [[ -n ${!v:-} ]]; then USER_ENV+="$v=${!v} "; fi
done
QUICK=0
ROUNDS=""
SECTIONS="bench,memtier,pubsub,memory,cache"
# --help: this header comment, up to the first line that is not a comment
usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }
bad_arg() {
    echo "compare.sh: $* (try --help)" >&2
    exit 2
}
while (($#)); do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) [[ $# -ge 2 ]] || bad_arg "--rounds needs a value"; ROUNDS=$2; shift ;;
        --rounds=*) ROUNDS=${1#*=} ;;
        --only) [[ $# -ge 2 ]] || bad_arg "--only needs a value"; SECTIONS=$2; shift ;;
        --only=*) SECTIONS=${1#*=} ;;
        -h | --help) usage; exit 0 ;;
        *) bad_arg "unknown argument: $1" ;;
    esac
    shift
done
IFS=, read -r -a SECTION_LIST <<<"$SECTIONS"
((${#SECTION_LIST[@]})) || bad_arg "--only needs at least one of bench, memtier, pubsub, memory, cache"
for s in "${SECTION_LIST[@]}"; do
    [[ $s == bench || $s == memtier || $s == pubsub || $s == memory || $s == cache ]] ||
        bad_arg "--only: unknown section '$s' (bench, memtier, pubsub, memory, cache)"
done
want() { [[ ,$SECTIONS, == *,$1,* ]]; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
RESULTS="$SCRIPT_DIR/results"

if [[ $QUICK == 1 ]]; then
    ROW_SECS=${ROW_SECS:-2}
    ROUNDS=${ROUNDS:-1}
    MEM_KEYS=100000
    MEM_HASHES=10000
    MEM_BIG=10000
else
    ROW_SECS=${ROW_SECS:-5}
    ROUNDS=${ROUNDS:-3}
    MEM_KEYS=1000000
    MEM_HASHES=100000
    MEM_BIG=100000
fi
PORT_BASE=${PORT_BASE:-17380}
SERVER_CPUS=${SERVER_CPUS:-0}
GEN_CPUS=${GEN_CPUS:-1}
CLIENTS=50
KEYS_SMALL=100000   # coreshard-bench rows 1-4, 6, 7, 10
MT_KEYS=100000      # memtier rows: keys memtier-1 .. memtier-100000
MT_RATES=(40000 80000) # memtier fixed-rate rows, requests/s in total

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

[[ $ROW_SECS =~ ^[0-9]+$ && $ROW_SECS -ge 1 ]] || die "ROW_SECS must be a positive integer"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "--rounds must be a positive integer"
[[ $PORT_BASE =~ ^[0-9]+$ && $PORT_BASE -ge 1024 && $PORT_BASE -le 65530 ]] ||
    die "PORT_BASE must be a number in 1024..65530"
command -v python3 >/dev/null || die "python3 is required"
command -v taskset >/dev/null || die "taskset is required (util-linux)"

NPROC=$(nproc)
if ((NPROC < 2)); then
    log "WARNING: only $NPROC cpu: server and load generator share it"
    SERVER_CPUS=0
    GEN_CPUS=0
fi
CS2_CPUS="$SERVER_CPUS,$GEN_CPUS"
[[ $SERVER_CPUS == "$GEN_CPUS" ]] && CS2_CPUS=$SERVER_CPUS
CS2_CPUS=${T2_CPUS:-$CS2_CPUS}

# ---------------------------------------------------------------- ports
declare -A SERVER_PORT_OF=([redis]=$PORT_BASE [cs1]=$((PORT_BASE + 1)) [cs2]=$((PORT_BASE + 2)) [null]=$((PORT_BASE + 3)))

# port_busy PORT: something accepts TCP connections on 127.0.0.1:PORT
port_busy() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

for name in redis cs1 cs2 null; do
    if port_busy "${SERVER_PORT_OF[$name]}"; then
        die "port ${SERVER_PORT_OF[$name]} is already in use; choose other ports with PORT_BASE (4 consecutive ports)"
    fi
done

# ---------------------------------------------------------------- tools
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "redis-server/redis-cli missing: installing the redis-server package"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    # the package starts a system instance on 6379; it does not disturb our ports
fi
REDIS_BIN=$(command -v redis-server)

if [[ ${SKIP_BUILD:-0} != 1 && (-z ${CORESHARD_BIN:-} || -z ${BENCH_BIN:-}) ]]; then
    log "cargo build --release --bins"
    (cd "$REPO" && cargo build --release --bins) || die "cargo build failed"
fi
CS_BIN=${CORESHARD_BIN:-$REPO/target/release/coreshard}
BENCH=${BENCH_BIN:-$REPO/target/release/coreshard-bench}
[[ -x $CS_BIN ]] || die "coreshard binary not found: $CS_BIN"
[[ -x $BENCH ]] || die "load generator not found: $BENCH (set BENCH_BIN)"

MEMTIER=""
V_MEMTIER=""
if want memtier; then
    if [[ -n ${MEMTIER_BIN:-} ]]; then
        MEMTIER=$MEMTIER_BIN
    else
        MT_BUILD="$REPO/../shared/tools/memtier/build.sh"
        [[ -f $MT_BUILD ]] || die "memtier build script not found: $MT_BUILD (set MEMTIER_BIN)"
        log "building memtier_benchmark ($MT_BUILD)"
        MEMTIER=$(bash "$MT_BUILD" | tail -n 1) || die "building memtier_benchmark failed"
    fi
    [[ -x $MEMTIER ]] || die "memtier_benchmark not found: $MEMTIER (set MEMTIER_BIN)"
    V_MEMTIER=$("$MEMTIER" --version 2>&1 | head -n 1)
fi

# ---------------------------------------------------------------- output dirs
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
START_EPOCH=$(date +%s)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
STAT_START=$(head -n 1 /proc/stat)
GIT_COMMIT=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# dirty = uncommitted changes outside perf/results/ (which this script writes)
GIT_DIRTY=$(git -C "$REPO" status --short 2>/dev/null | grep -v ' perf/results/' | head -c1 || true)
RAW="$RESULTS/raw/$STAMP"
mkdir -p "$RAW"
# suite row round server status json server_ticks gen_ticks wall_us label target_rate
ROWS_TSV="$RAW/rows.tsv"
MEM_TSV="$RAW/memory.tsv"  # dataset server status expected dbsize used0 used1 rss0 rss1 fields
CMDS="$RAW/commands.txt"   # server<TAB>section<TAB>title<TAB>command line
SERVERS_TXT="$RAW/servers.txt" # server<TAB>command line
: >"$SERVERS_TXT"
: >"$ROWS_TSV"
: >"$MEM_TSV"
: >"$CMDS"
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- process handling
declare -A SERVER_PID=()  # name -> pid (only servers currently running)
declare -A SERVER_PORT=()
GEN_PID=""                # the load generator while it runs

cleanup() {
    local rc=$?
    local name
    trap '' INT TERM # a second Ctrl-C must not cut the cleanup short
    if [[ -n $GEN_PID ]]; then
        kill -TERM "$GEN_PID" 2>/dev/null || true
        wait "$GEN_PID" 2>/dev/null || true
        GEN_PID=""
    fi
    for name in "${!SERVER_PID[@]}"; do
        stop_server "$name" || true
    done
    if [[ $rc != 0 ]]; then
        log "aborted (status $rc); raw data kept in $RAW"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# pings PORT once; prints the reply (empty when nothing answers)
ping_port() { timeout 2 redis-cli -p "$1" ping 2>/dev/null || true; }

# start_server NAME CPUS CMD... ; returns 1 (with the log shown) when the
# server exits or does not answer within 10 s
start_server() {
    local name=$1 cpus=$2
    shift 2
    local port=${SERVER_PORT_OF[$name]}
    if port_busy "$port"; then
        die "port $port is already in use by another process; set PORT_BASE"
    fi
    local logf="$RAW/server-$name.log"
    local line
    line="$(quote_cmd taskset -c "$cpus" "$@")"
    grep -qxF "$name	$line" "$SERVERS_TXT" || printf '%s\t%s\n' "$name" "$line" >>"$SERVERS_TXT"
    taskset -c "$cpus" "$@" >>"$logf" 2>&1 &
    local pid=$!
    SERVER_PID[$name]=$pid
    SERVER_PORT[$name]=$port
    local deadline=$((SECONDS + 10))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            unset 'SERVER_PID[$name]'
            log "server '$name' exited during startup: $*"
            sed 's/^/    | /' "$logf" | tail -n 15 >&2
            return 1
        fi
        [[ -n $(ping_port "$port") ]] && break
        if ((SECONDS >= deadline)); then
            log "server '$name' did not answer PING on port $port within 10 s: $*"
            sed 's/^/    | /' "$logf" | tail -n 15 >&2
            stop_server "$name"
            return 1
        fi
        sleep 0.05
    done
    log "started $name (pid $pid, port $port, cpus $cpus)"
}

stop_server() {
    local name=$1
    local pid=${SERVER_PID[$name]:-}
    [[ -n $pid ]] || return 0
    unset 'SERVER_PID[$name]'
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        log "server '$name' (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

running() { [[ -n ${SERVER_PID[$1]:-} ]] && kill -0 "${SERVER_PID[$1]}" 2>/dev/null; }

# proc_ticks PID: sets TICKS (utime+stime: fields 14, 15 of /proc/PID/stat, all
# threads) and CHILD_TICKS (cutime+cstime: fields 16, 17, the CPU time of the
# children PID has reaped) in clock ticks. Reads the file without forking, so
# reading the script's own line does not add a child to it.
proc_ticks() {
    local line
    local -a f
    read -r line <"/proc/$1/stat" || return 1
    read -r -a f <<<"${line##*) }"
    TICKS=$((f[11] + f[12]))
    CHILD_TICKS=$((f[13] + f[14]))
}
rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }
dbsize() { redis-cli -p "$1" dbsize | tr -d '\r'; }
rcli() { redis-cli -p "$1" "${@:2}" >/dev/null 2>&1 || log "  redis-cli -p $* failed"; }

# supported PORT CMD...: every command known to the server (COMMAND INFO gives
# an empty/nil entry for unknown commands)
supported() {
    local port=$1 c out
    shift
    for c in "$@"; do
        out=$(redis-cli -p "$port" command info "$c" 2>/dev/null | tr -d '\r' | tr -d '[:space:]')
        [[ -n $out && $out != OK && $out != "(nil)" ]] || return 1
    done
}

# shell-quotes a command line for the report
quote_cmd() {
    local out="" a
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:=,+-]+$ ]]; then out+="$a "; else out+="'${a//\'/\'\\\'\'}' "; fi
    done
    printf '%s' "${out% }"
}

# run_gen OUT CMD...: runs a load generator in the background and waits for it,
# so that INT/TERM reach the traps at once (cleanup stops it); returns its status
run_gen() {
    local out=$1 rc=0
    shift
    "$@" >"$out" 2>&1 &
    GEN_PID=$!
    wait "$GEN_PID" || rc=$?
    GEN_PID=""
    return "$rc"
}

# gen_cmd SUITE PORT: the generator command (without workload arguments) in GEN
gen_cmd() {
    case $1 in
        bench) GEN=(taskset -c "$GEN_CPUS" "$BENCH" -s 127.0.0.1 -p "$2" -t 1 -c "$CLIENTS") ;;
        # one publisher, CLIENTS subscribers
        pubsub) GEN=(taskset -c "$GEN_CPUS" "$BENCH" -s 127.0.0.1 -p "$2" -t 1 -c 1 --subscribers "$CLIENTS") ;;
        memtier) GEN=(taskset -c "$GEN_CPUS" "$MEMTIER" -s 127.0.0.1 -p "$2" -t 1 -c "$CLIENTS"
            --hide-histogram) ;;
    esac
}
json_opt() { if [[ $1 == memtier ]]; then printf -- --json-out-file; else printf -- --json-out; fi; }

# load SUITE SECTION NAME ID TITLE ARGS...: an unmeasured data-loading run
load() {
    local suite=$1 section=$2 name=$3 id=$4 title=$5
    shift 5
    local base="$RAW/$suite-$name-$id-load"
    gen_cmd "$suite" "${SERVER_PORT[$name]}"
    local -a cmd=("${GEN[@]}" "$@" "$(json_opt "$suite")" "$base.json")
    printf '%s\t%s\t%s\t%s\n' "$name" "$section" "$title" "$(quote_cmd "${cmd[@]}")" >>"$CMDS"
    if ! run_gen "$base.txt" "${cmd[@]}"; then
        log "  loading data into $name failed ($title): $(tail -n 3 "$base.txt" | tr '\r\n' '  ')"
        return 1
    fi
}

# record SUITE ROW ROUND SERVER STATUS JSON SERVER_TICKS GEN_TICKS WALL_US LABEL TARGET_RATE
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS_TSV"; }
# na SUITE NAME ROW STATUS LABEL: a row that is not run on NAME
na() { record "$1" "$3" 0 "$2" "$4" "" "" "" "" "$5" ""; }

TARGET_RATE="" # total requests/s of a fixed-rate row, for the report

# measure SUITE NAME ROW ROUND LABEL ARGS...: one measured run (fixed duration)
measure() {
    local suite=$1 name=$2 row=$3 round=$4 label=$5
    shift 5
    local pid=${SERVER_PID[$name]:-}
    if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
        record "$suite" "$row" "$round" "$name" "error: server not running" "" "" "" "" "$label" "$TARGET_RATE"
        return 0
    fi
    local base="$RAW/$suite-$name-row$row-r$round"
    gen_cmd "$suite" "${SERVER_PORT[$name]}"
    local -a cmd=("${GEN[@]}" --distinct-client-seed --test-time "$ROW_SECS" "$@" "$(json_opt "$suite")" "$base.json")
    # one command line per row and server: later rounds differ only in -rN
    if [[ $round == 1 ]]; then
        printf '%s\t%s\t%s\t%s\n' "$name" "$suite" "row $row" "$(quote_cmd "${cmd[@]}")" >>"$CMDS"
    fi
    log "  $suite row $row ($label) on $name, round $round/$ROUNDS"
    local t0 t1 c0 c1 g0 g1 rc=0
    proc_ticks "$pid" || TICKS=0
    c0=$TICKS
    proc_ticks $$
    g0=$CHILD_TICKS
    t0=${EPOCHREALTIME//[!0-9]/} # µs, without forking
    run_gen "$base.txt" "${cmd[@]}" || rc=$?
    t1=${EPOCHREALTIME//[!0-9]/}
    # the generator was reaped by run_gen: its utime+stime are now in the
    # script's cutime+cstime
    proc_ticks $$
    g1=$CHILD_TICKS
    c1=""
    if proc_ticks "$pid" 2>/dev/null; then c1=$TICKS; fi
    if [[ $rc != 0 || ! -s $base.json || -z $c1 ]]; then
        local why="generator exit $rc"
        kill -0 "$pid" 2>/dev/null || why="server exited"
        log "  row $row on $name failed ($why): $(tail -n 3 "$base.txt" | tr '\r\n' '  ')"
        record "$suite" "$row" "$round" "$name" "error: $why" "" "" "" "" "$label" "$TARGET_RATE"
        return 0
    fi
    record "$suite" "$row" "$round" "$name" ok "$base.json" "$((c1 - c0))" "$((g1 - g0))" \
        "$((t1 - t0))" "$label" "$TARGET_RATE"
}

# rounds SUITE ROW LABEL PREP "SERVERS" ARGS...: ROUNDS measurements of one row,
# alternating the servers inside each round. PREP: none, or flush (FLUSHALL
# before every measurement).
rounds() {
    local suite=$1 row=$2 label=$3 prep=$4 r s
    local -a servers
    read -r -a servers <<<"$5"
    shift 5
    for ((r = 1; r <= ROUNDS; r++)); do
        for s in "${servers[@]}"; do
            if [[ $prep == flush ]] && running "$s"; then rcli "${SERVER_PORT[$s]}" flushall; fi
            measure "$suite" "$s" "$row" "$r" "$label" "$@"
        done
    done
}

# median_ops SUITE ROW SERVER: median ops/s of the successful rounds (empty if none)
median_ops() {
    python3 - "$ROWS_TSV" "$@" <<'EOF'
import json, statistics, sys
path, suite, row, server = sys.argv[1:5]
ops = []
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if f[0] == suite and f[1] == row and f[3] == server and f[4] == "ok":
        ops.append(json.load(open(f[5]))["totals"]["ops_sec"])
if ops:
    print(statistics.median(ops))
EOF
}

# ---------------------------------------------------------------- servers
REDIS_CMD=("$REDIS_BIN" --port "${SERVER_PORT_OF[redis]}" --save '' --appendonly no --daemonize no)
read -r -a CS_EXTRA <<<"${CORESHARD_ARGS:-}"
CS1_CMD=("$CS_BIN" --port "${SERVER_PORT_OF[cs1]}" --threads 1 "${CS_EXTRA[@]}")
CS2_CMD=("$CS_BIN" --port "${SERVER_PORT_OF[cs2]}" --threads 2 "${CS_EXTRA[@]}")
NULL_CMD=("$CS_BIN" --port "${SERVER_PORT_OF[null]}" --threads 1 --null-server yes "${CS_EXTRA[@]}")
declare -A SERVER_CPUS_OF=([redis]=$SERVER_CPUS [cs1]=$SERVER_CPUS [cs2]=$CS2_CPUS [null]=$SERVER_CPUS)

# start_all NAME...: the servers of the load sections, all running side by side
# (idle while another one is measured)
start_all() {
    local name
    for name in "$@"; do
        running "$name" && continue
        case $name in
            redis) start_server redis "$SERVER_CPUS" "${REDIS_CMD[@]}" || die "redis-server failed to start" ;;
            cs1) start_server cs1 "$SERVER_CPUS" "${CS1_CMD[@]}" ||
                die "coreshard --threads 1 failed to start (binary: $CS_BIN)" ;;
            cs2) start_server cs2 "$CS2_CPUS" "${CS2_CMD[@]}" || die "coreshard --threads 2 failed to start" ;;
            null)
                if ! start_server null "$SERVER_CPUS" "${NULL_CMD[@]}"; then
                    log "null server not available (is --null-server supported by this build?): rows marked n/a"
                fi
                ;;
        esac
    done
}

# ---------------------------------------------------------------- coreshard-bench rows
KEYS_MAX_SMALL=$((KEYS_SMALL - 1))
SMALL=(--key-minimum 0 --key-maximum "$KEYS_MAX_SMALL" -d 32)
MSET_CMD="MSET$(printf ' __key__ __data__%.0s' {1..10})"
MGET_CMD="MGET$(printf ' __key__%.0s' {1..10})"
# script rows: a read-modify-write script with its key declared, and the
# same script reaching a key it did not declare (every run then locks
# every shard)
SCRIPT_DECL="return redis.call('INCR', KEYS[1])"
SCRIPT_UNDECL="return redis.call('INCR', ARGV[1])"
SHA_DECL=$(printf '%s' "$SCRIPT_DECL" | sha1sum | cut -d' ' -f1)
SHA_UNDECL=$(printf '%s' "$SCRIPT_UNDECL" | sha1sum | cut -d' ' -f1)

# collection rows: id | label | commands needed | generator arguments
COLL_IDS=(9a 9b 9c 9d)
declare -A COLL_LABEL=([9a]="LPUSH+LPOP 1:1" [9b]="HSET+HGET 1:1" [9c]="SADD" [9d]="ZADD+ZRANGE 1:1")
declare -A COLL_NEEDS=([9a]="lpush lpop" [9b]="hset hget" [9c]="sadd" [9d]="zadd zrange")
coll_args() {
    case $1 in
        9a) COLL=(--key-prefix list: --key-minimum 0 --key-maximum 999 --key-pattern R:R -d 32
            --command 'LPUSH __key__ __data__' --command 'LPOP __key__') ;;
        9b) COLL=(--key-prefix hash: --key-minimum 0 --key-maximum 9999 --key-pattern R:R -d 32
            --command 'HSET __key__ f1 __data__' --command 'HGET __key__ f1') ;;
        9c) COLL=(--key-prefix set: --key-minimum 0 --key-maximum 9999 --key-pattern R:R
            --command 'SADD __key__ __key__') ;;
        9d) COLL=(--key-prefix zset: --key-minimum 0 --key-maximum 999 --key-pattern R:R
            --command 'ZADD __key__ 1 __key__' --command 'ZRANGE __key__ 0 9') ;;
    esac
}

RATE=""
run_bench() {
    local -a full=(redis cs1 cs2)
    local s id r
    local all="redis cs1 cs2" p14="redis cs1 cs2"
    start_all redis cs1 cs2 null
    if running null; then
        p14+=" null"
    else
        for r in 1 2 3 4; do na bench null "$r" "n/a (--null-server not accepted)" ""; done
    fi
    log "coreshard-bench rows ($ROUNDS round(s), servers alternating)"
    # every row finds the 100k keys of rows 1-4, 6, 7, 10 loaded
    for s in "${full[@]}"; do
        rcli "${SERVER_PORT[$s]}" flushall
        load bench bench "$s" preload "preload for rows 1-4, 6, 7, 10" \
            --ratio 1:0 --key-pattern P:P --requests allkeys --pipeline 16 "${SMALL[@]}" ||
            log "  (rows on $s run without the preload: see the GET hit rate)"
    done
    rounds bench 1 "SET p1 32 B" none "$p14" --ratio 1:0 --key-pattern R:R --pipeline 1 "${SMALL[@]}"
    rounds bench 2 "GET p1" none "$p14" --ratio 0:1 --key-pattern R:R --pipeline 1 "${SMALL[@]}"
    rounds bench 3 "SET p16" none "$p14" --ratio 1:0 --key-pattern R:R --pipeline 16 "${SMALL[@]}"
    rounds bench 4 "GET p16" none "$p14" --ratio 0:1 --key-pattern R:R --pipeline 16 "${SMALL[@]}"
    rounds bench 6 "MSET 10 keys" none "$all" --key-pattern R:R --command "$MSET_CMD" "${SMALL[@]}"
    rounds bench 7 "MGET 10 keys" none "$all" --key-pattern R:R --command "$MGET_CMD" "${SMALL[@]}"

    local med
    med=$(median_ops bench 2 redis)
    if [[ -n $med ]]; then
        RATE=$(python3 -c "print(max(1, int($med / 2)))")
        TARGET_RATE=$RATE
        rounds bench 10 "GET p1 at $RATE/s" none "$all" --ratio 0:1 --key-pattern R:R --pipeline 1 \
            --rate "$RATE" "${SMALL[@]}"
        TARGET_RATE=""
    else
        for s in "${full[@]}"; do na bench "$s" 10 "n/a (no Redis row-2 rate)" "GET p1 fixed rate"; done
    fi
    for s in "${full[@]}"; do
        rcli "${SERVER_PORT[$s]}" script load "$SCRIPT_DECL" >/dev/null
        rcli "${SERVER_PORT[$s]}" script load "$SCRIPT_UNDECL" >/dev/null
    done
    # the single-key rows at pipeline 1, then again at pipeline 16 (ids with a
    # "p16" suffix)
    local on pipe sfx
    for pipe in 1 16; do
        sfx=""
        ((pipe == 1)) || sfx="p16"
        rounds bench "8$sfx" "INCR zipf 1000 keys${sfx:+ p16}" none "$all" --key-prefix ctr: --key-minimum 0 \
            --key-maximum 999 --key-pattern Z:Z --command 'INCR __key__' --pipeline "$pipe"
        rounds bench "11$sfx" "EVALSHA INCR script, key declared${sfx:+ p16}" none "$all" --key-prefix ctr: \
            --key-minimum 0 --key-maximum 999 --key-pattern Z:Z --command "EVALSHA $SHA_DECL 1 __key__" \
            --pipeline "$pipe"
        for id in "${COLL_IDS[@]}"; do
            on=""
            for s in "${full[@]}"; do
                # shellcheck disable=SC2086
                if running "$s" && supported "${SERVER_PORT[$s]}" ${COLL_NEEDS[$id]}; then
                    on+=" $s"
                else
                    na bench "$s" "$id$sfx" "n/a (not supported yet)" "${COLL_LABEL[$id]}${sfx:+ p16}"
                fi
            done
            if [[ -n $on ]]; then
                coll_args "$id"
                rounds bench "$id$sfx" "${COLL_LABEL[$id]}${sfx:+ p16}" none "$on" "${COLL[@]}" --pipeline "$pipe"
            fi
        done
    done
    rounds bench 12 "EVALSHA INCR script, key not declared" none "$all" --key-prefix ctr: \
        --key-minimum 0 --key-maximum 999 --key-pattern Z:Z --command "EVALSHA $SHA_UNDECL 0 __key__"
    rounds bench 5 "SET:GET 1:10 1 KiB zipf 1M keys" flush "$all" --ratio 1:10 -d 1024 --key-pattern Z:Z \
        --key-minimum 0 --key-maximum 999999
    stop_server null
}

# ---------------------------------------------------------------- memtier_benchmark rows
MT_RANGE=(--key-prefix memtier- --key-minimum 1 --key-maximum "$MT_KEYS")
run_memtier() {
    local s n total per_conn i=3
    local all="redis cs1 cs2"
    start_all redis cs1 cs2
    log "memtier_benchmark rows ($ROUNDS round(s), servers alternating)"
    for s in redis cs1 cs2; do
        rcli "${SERVER_PORT[$s]}" flushall
        if load memtier memtier "$s" preload "preload for rows M1-M4" \
            --ratio 1:0 --key-pattern P:P --requests allkeys --pipeline 16 -d 32 "${MT_RANGE[@]}"; then
            n=$(dbsize "${SERVER_PORT[$s]}")
            [[ $n == "$MT_KEYS" ]] || log "  WARNING: $s holds $n keys after the memtier preload, expected $MT_KEYS"
        else
            log "  (memtier rows on $s run without the preload: see the hit rate)"
        fi
    done
    rounds memtier M1 "SET:GET 1:10 p1" none "$all" --ratio 1:10 -d 32 "${MT_RANGE[@]}" --pipeline 1 \
        --print-percentiles 50,99,99.9
    rounds memtier M2 "SET:GET 1:10 p16" none "$all" --ratio 1:10 -d 32 "${MT_RANGE[@]}" --pipeline 16 \
        --print-percentiles 50,99,99.9
    for total in "${MT_RATES[@]}"; do
        per_conn=$((total / CLIENTS))
        TARGET_RATE=$((per_conn * CLIENTS))
        rounds memtier "M$i" "SET:GET 1:10 p1 at $TARGET_RATE/s" none "$all" --ratio 1:10 -d 32 "${MT_RANGE[@]}" \
            --pipeline 1 --rate-limiting "$per_conn" --print-percentiles 50,99,99.9
        TARGET_RATE=""
        i=$((i + 1))
    done
}

# ---------------------------------------------------------------- pub/sub rows
# One publisher, CLIENTS subscribers on one channel (P1/P2) or on as many distinct
# patterns that all match it (P3/P4); pipeline = messages in flight that have not
# yet reached every subscriber.
run_pubsub() {
    local all="redis cs1 cs2"
    start_all redis cs1 cs2
    log "pub/sub rows ($ROUNDS round(s), servers alternating)"
    rounds pubsub P1 "PUBLISH to $CLIENTS subscribers p1" none "$all" -d 32 --pipeline 1
    rounds pubsub P2 "PUBLISH to $CLIENTS subscribers p16" none "$all" -d 32 --pipeline 16
    rounds pubsub P3 "PUBLISH to $CLIENTS pattern subscribers p1" none "$all" -d 32 --pipeline 1 \
        --subscribe-patterns
    rounds pubsub P4 "PUBLISH to $CLIENTS pattern subscribers p16" none "$all" -d 32 --pipeline 16 \
        --subscribe-patterns
}

# ---------------------------------------------------------------- memory
# wait_clients_gone PORT: the generator's connections are closed on the
# server too (their buffers would otherwise count as data), at most 5 s.
wait_clients_gone() {
    local i n
    for i in $(seq 50); do
        n=$(redis-cli -p "$1" info clients | tr -d '\r' | awk -F: '$1 == "connected_clients" { print $2 }')
        [[ ${n:-0} -le 1 ]] && return 0
        sleep 0.1
    done
}

# mem_set NAME CPUS DATASET KEYS ELEMENTS NEEDS LOAD-ARGS -- SERVER-CMD...:
# a fresh server, used_memory and RSS before and after loading one data set
# (KEYS keys holding ELEMENTS elements each; NEEDS: a command it must support).
mem_set() {
    local name=$1 cpus=$2 ds=$3 keys=$4 elems=$5 needs=$6
    shift 6
    local -a load_args=()
    while [[ $1 != -- ]]; do
        load_args+=("$1")
        shift
    done
    shift
    local port=${SERVER_PORT_OF[$name]} pid u0 u1 r0 r1 n
    if ! start_server "$name" "$cpus" "$@"; then
        printf '%s\t%s\terror: server failed to start\n' "$ds" "$name" >>"$MEM_TSV"
        return 0
    fi
    pid=${SERVER_PID[$name]}
    if ! supported "$port" "$needs"; then
        printf '%s\t%s\tn/a (not supported yet)\n' "$ds" "$name" >>"$MEM_TSV"
    else
        u0=$(used_memory "$port")
        r0=$(rss_bytes "$pid")
        if load bench memory "$name" "mem-$ds" "data set $ds" --requests allkeys --pipeline 16 -d 32 "${load_args[@]}"; then
            wait_clients_gone "$port"
            u1=$(used_memory "$port")
            r1=$(rss_bytes "$pid")
            n=$(dbsize "$port")
            printf '%s\t%s\tok\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ds" "$name" "$keys" "$n" "$u0" "$u1" "$r0" "$r1" "$elems" >>"$MEM_TSV"
        else
            printf '%s\t%s\terror: loading failed\n' "$ds" "$name" >>"$MEM_TSV"
        fi
    fi
    stop_server "$name"
}

# memory NAME CPUS CMD...: each data set on a fresh server: 1M string keys,
# 100k hashes of 10 fields, one hash of 100k fields, one sorted set of 100k members
memory() {
    local name=$1 cpus=$2
    shift 2
    log "memory on $name"
    mem_set "$name" "$cpus" strings "$MEM_KEYS" 1 set --ratio 1:0 --key-pattern P:P \
        --key-prefix key: --key-width 12 --key-minimum 0 --key-maximum $((MEM_KEYS - 1)) -- "$@"
    mem_set "$name" "$cpus" hashes "$MEM_HASHES" 10 hset --key-pattern P:P \
        --key-prefix key: --key-width 12 --key-minimum 0 --key-maximum $((MEM_HASHES - 1)) \
        --command "HSET __key__$(printf ' f%d __data__' {1..10})" -- "$@"
    mem_set "$name" "$cpus" bighash 1 "$MEM_BIG" hset --key-pattern P:P \
        --key-prefix field: --key-width 12 --key-minimum 0 --key-maximum $((MEM_BIG - 1)) \
        --command "HSET bighash __key__ __data__" -- "$@"
    mem_set "$name" "$cpus" bigzset 1 "$MEM_BIG" zadd --key-pattern P:P \
        --key-prefix member: --key-width 12 --key-minimum 0 --key-maximum $((MEM_BIG - 1)) \
        --command "ZADD bigzset 1 __key__" -- "$@"
}

log "results: $RESULTS/$STAMP.md (raw data: $RAW); sections $SECTIONS; ${ROW_SECS}s per row, $ROUNDS round(s)"

# fail fast: a coreshard that does not start should not cost the Redis rows first
if want bench || want memtier || want pubsub; then
    start_all cs1 redis cs2
fi
if want bench; then run_bench; fi
if want memtier; then run_memtier; fi
if want pubsub; then run_pubsub; fi
for s in redis cs1 cs2 null; do stop_server "$s"; done

if want memory; then
    memory redis "$SERVER_CPUS" "${REDIS_CMD[@]}"
    memory cs1 "$SERVER_CPUS" "${CS1_CMD[@]}"
    memory cs2 "$CS2_CPUS" "${CS2_CMD[@]}"
fi

if want cache; then
    log "cache mix under maxmemory (perf/cache_mix.py)"
    CACHE_MB=${CACHE_MB:-$( ((QUICK)) && echo 32 || echo 256)}
    python3 "$REPO/perf/cache_mix.py" --maxmemory-mb "$CACHE_MB" --rounds "$ROUNDS" \
        --coreshard "$CS_BIN" --redis "$REDIS_BIN" --threads 2 --out "$RAW/cache.md" \
        2>"$RAW/cache.log" || die "perf/cache_mix.py failed (see $RAW/cache.log)"
fi
export CACHE_MD=$RAW/cache.md

# ---------------------------------------------------------------- report
MEASURE_WALL=$(($(date +%s) - START_EPOCH))
WALL=$((SECONDS - SCRIPT_START))
INVOCATION="${USER_ENV}perf/compare.sh${ORIG_ARGS[*]:+ ${ORIG_ARGS[*]}}"

export STAMP RAW ROWS_TSV MEM_TSV CMDS SERVERS_TXT WALL MEASURE_WALL INVOCATION ROW_SECS CLIENTS SERVER_CPUS GEN_CPUS CS2_CPUS \
    RATE MEM_KEYS MEM_HASHES MEM_BIG QUICK CLK_TCK ROUNDS SECTIONS MT_KEYS
export M_CPU=$(lscpu | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
export M_NPROC=$NPROC
export M_LOAD="$LOADAVG_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
export STAT_START STAT_END=$(head -n 1 /proc/stat)
export M_KERNEL=$(uname -r)
export M_MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
export V_REDIS=$("$REDIS_BIN" --version)
V_CS="commit $GIT_COMMIT${GIT_DIRTY:+ (dirty working tree)}"
if [[ -n ${CORESHARD_BIN:-} ]]; then V_CS="binary from CORESHARD_BIN (this checkout: $V_CS)"; fi
export V_CS
export V_CS_BIN=$CS_BIN V_BENCH_BIN=$BENCH V_MEMTIER V_MEMTIER_BIN=$MEMTIER
export V_BENCH=$("$BENCH" --version 2>/dev/null || echo unknown)
export V_RUSTC=$(rustc --version 2>/dev/null || echo unknown)

OUT="$RESULTS/$STAMP.md"
python3 "$SCRIPT_DIR/compare_report.py" >"$OUT"
cp "$OUT" "$RESULTS/latest.md"
log "done in ${WALL}s: $OUT (copied to $RESULTS/latest.md)"
if ((WALL >= 1800)); then log "WARNING: the run took ${WALL}s, over 30 minutes; lower ROW_SECS or --rounds"; fi
