#!/bin/bash
# Scripts against plain commands, coreshard beside Redis: EVALSHA of a one-key
# INCR script with its key declared (KEYS) and undeclared (ARGV), plain INCR;
# or, with OLD set, an A/B of the declared script on two coreshard builds
# beside Redis.
# usage: T=<threads> [P=<pipeline>] perf/eval_bench.sh <rounds>
#        OLD=<binary> [NEW=<binary>] T=1 P=16 perf/eval_bench.sh <rounds>
# prints one line per row and round: row ops/s cpu-us/op p50-us p99-us
# (server on cpu 0, coreshard-bench on cpu 1, 50 connections, 5 s per row,
# servers alternating within each round; take medians over the rounds)
B=${CSB:-target/release/coreshard-bench}
CS=${NEW:-${CS:-target/release/coreshard}}
T=${T:-2}
P=${P:-1}
SA=$(echo -n "return redis.call('INCR', KEYS[1])" | sha1sum | cut -d" " -f1)
SB=$(echo -n "return redis.call('INCR', ARGV[1])" | sha1sum | cut -d' ' -f1)
run() { # name cmd server...
  name=$1; cmd=$2; shift 2
  taskset -c 0 "$@" --port 17990 >/dev/null 2>&1 & sp=$!
  for i in $(seq 100); do redis-cli -p 17990 ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-cli -p 17990 script load "return redis.call('INCR', KEYS[1])" >/dev/null
  redis-cli -p 17990 script load "return redis.call('INCR', ARGV[1])" >/dev/null
  c0=$(awk '{print $14+$15}' /proc/$sp/stat)
  taskset -c 1 $B -s 127.0.0.1 -p 17990 -t 1 -c 50 --pipeline "$P" --test-time 5 --key-pattern R:R --key-minimum 0 --key-maximum 99999 --command "$cmd" --json-out /tmp/eb.json >/dev/null 2>&1
  c1=$(awk '{print $14+$15}' /proc/$sp/stat)
  python3 -c "
import json;d=json.load(open('/tmp/eb.json'));t=d['totals']
print('$name', round(t['ops_sec']), round(($c1-$c0)/100/t['ops']*1e6,2), t['p50_us'], t['p99_us'])"
  kill $sp; wait $sp 2>/dev/null
}
for r in $(seq "$1"); do
  if [[ -n $OLD ]]; then
    run old-eval-declared "EVALSHA $SA 1 __key__" "$OLD" --threads "$T"
    run new-eval-declared "EVALSHA $SA 1 __key__" "$CS" --threads "$T"
    run redis-eval "EVALSHA $SA 1 __key__" redis-server --save "" --appendonly no
    continue
  fi
  run cs$T-incr "INCR __key__" "$CS" --threads "$T"
  run cs$T-eval-declared "EVALSHA $SA 1 __key__" "$CS" --threads "$T"
  run cs$T-eval-undeclared "EVALSHA $SB 0 __key__" "$CS" --threads "$T"
  run redis-eval "EVALSHA $SA 1 __key__" redis-server --save "" --appendonly no
  run redis-incr "INCR __key__" redis-server --save "" --appendonly no
done
