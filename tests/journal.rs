//! The journal hook sees every change of a shard in an order that replays to
//! the same data: an engine with 3 shards runs in this process with a sink
//! collecting each shard's records; a client runs writes of every family
//! through it (random and time-dependent ones included), lets keys expire by
//! the active cycle, makes it evict, and flushes; the shards' streams are
//! merged and replayed into a fresh server, whose data must equal the
//! engine's, key by key, TTLs included.

mod common;

use common::*;
use coreshard::shard::journal::{self, Record};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server's allocator wrapper, so `used_memory` (and `maxmemory`)
/// count what the engine allocates.
#[global_allocator]
static ALLOC: coreshard::metrics::CountingAlloc = coreshard::metrics::CountingAlloc;

type Streams = Arc<Mutex<Vec<Vec<Record>>>>;

/// Starts an engine whose shards' records land in the returned streams.
fn engine_with_journal() -> (u16, Streams) {
    let streams: Streams = Arc::new(Mutex::new(vec![Vec::new(); THREADS]));
    let s2 = streams.clone();
    let sink: journal::Sink = Arc::new(move |shard, r: &Record| {
        s2.lock().unwrap()[shard].push(r.clone());
    });
    (start_in_process(Some(sink)), streams)
}

fn run(c: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

fn info_int(c: &mut redis::Connection, field: &str) -> i64 {
    let info: String = redis::cmd("INFO").query(c).unwrap();
    info_value(&info, field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// Every key of databases 0 and 1, with its type, contents and absolute
/// expiry, in a stable order.
fn dataset(c: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..2 {
        run(c, &["SELECT", &db.to_string()]);
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        keys.sort();
        for k in keys {
            let t: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
            let v = match t.as_str() {
                "string" => format!("{:?}", run(c, &["GET", &k])),
                "list" => format!("{:?}", run(c, &["LRANGE", &k, "0", "-1"])),
                "hash" => {
                    let mut m: Vec<(String, String)> =
                        redis::cmd("HGETALL").arg(&k).query(c).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "set" => {
                    let mut m: Vec<String> = redis::cmd("SMEMBERS").arg(&k).query(c).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "zset" => format!("{:?}", run(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                "stream" => format!("{:?}", run(c, &["XRANGE", &k, "-", "+"])),
                other => panic!("unexpected type {other}"),
            };
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap();
            out.push(format!("db{db} {k} {t} ttl-at {at} {v}"));
        }
    }
    run(c, &["SELECT", "0"]);
    out
}

/// The writes: every family, the commands whose effect depends on the
/// clock or on chance, multi-key commands on one shard ({tag}) and split
/// across shards.
fn workload(c: &mut redis::Connection) {
    let cmds: &[&[&str]] = &[
        // strings
        &["SET", "s:a", "1"],
        &["SET", "s:b", "v", "EX", "1000"],
        &["SETEX", "s:c", "1000", "v"],
        &["PSETEX", "s:d", "900000", "v"],
        &["SET", "s:e", "v", "NX", "PX", "800000"],
        &["SET", "s:e", "w", "XX", "KEEPTTL"],
        &["INCR", "s:a"],
        &["INCRBYFLOAT", "s:f", "1.5"],
        &["INCRBYFLOAT", "s:f", "0.25"],
        &["APPEND", "s:g", "hello"],
        &["SETRANGE", "s:g", "3", "XY"],
        &["GETEX", "s:a", "PX", "700000"],
        &["GETEX", "s:c", "PERSIST"],
        &["GETDEL", "s:d"],
        &["MSET", "m:1", "a", "m:2", "b", "m:3", "c", "m:4", "d"],
        &["SETBIT", "b:1", "7", "1"],
        &["BITOP", "OR", "{b}dst", "{b}x", "{b}y"],
        // lists
        &["RPUSH", "l:a", "1", "2", "3", "4", "5"],
        &["LPUSH", "l:a", "0"],
        &["LPOP", "l:a"],
        &["RPOP", "l:a", "2"],
        &["LSET", "l:a", "0", "one"],
        &["LINSERT", "l:a", "BEFORE", "2", "x"],
        &["LTRIM", "l:a", "0", "2"],
        &["RPUSH", "{l}src", "p", "q", "r"],
        &["LMOVE", "{l}src", "{l}dst", "LEFT", "RIGHT"],
        // hashes
        &["HSET", "h:a", "f1", "1", "f2", "2", "f3", "3"],
        &["HDEL", "h:a", "f3"],
        &["HINCRBY", "h:a", "f1", "10"],
        &["HINCRBYFLOAT", "h:a", "f2", "0.5"],
        // sets
        &["SADD", "t:a", "a", "b", "c", "d", "e", "f"],
        &["SREM", "t:a", "f"],
        &["SPOP", "t:a"],
        &["SPOP", "t:a", "2"],
        &["SADD", "{t}x", "1", "2", "3"],
        &["SADD", "{t}y", "2", "3", "4"],
        &["SINTERSTORE", "{t}z", "{t}x", "{t}y"],
        &["SMOVE", "{t}x", "{t}y", "1"],
        // sorted sets
        &["ZADD", "z:a", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZINCRBY", "z:a", "2.5", "a"],
        &["ZREM", "z:a", "b"],
        &["ZPOPMIN", "z:a"],
        &["ZADD", "{z}x", "1", "m", "2", "n"],
        &["ZUNIONSTORE", "{z}u", "2", "{z}x", "z:nothing{z}"],
        // streams
        &["XADD", "x:a", "*", "f", "v"],
        &["XADD", "x:a", "*", "f", "w"],
        &["XADD", "x:a", "MAXLEN", "5", "*", "f", "u"],
        &["XADD", "x:b", "1-1", "f", "v"],
        &["XADD", "x:b", "2-1", "f", "v"],
        &["XDEL", "x:b", "1-1"],
        // generic
        &["EXPIRE", "l:a", "5000"],
        &["PEXPIREAT", "h:a", "99999999999999"],
        &["PERSIST", "h:a"],
        &["RENAME", "{g}a", "{g}b"],
        &["COPY", "s:g", "s:g:copy"],
        &["DEL", "m:1", "m:2", "s:nothing"],
        &["UNLINK", "m:3"],
        &["SELECT", "1"],
        &["SET", "db1:key", "in db 1"],
        &["RPUSH", "db1:list", "a", "b"],
        &["SELECT", "0"],
        &["SWAPDB", "0", "1"],
        &["SET", "after:swap", "x"],
        &["SWAPDB", "0", "1"],
        // scripts: their commands are journaled as they run, on the shards
        // that run them (keys declared, a key reached through ARGV, chance)
        &[
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]) redis.call('incrby', KEYS[2], 5) return redis.call('spop', KEYS[3])",
            "3",
            "sc:a",
            "sc:b",
            "t:a",
            "v1",
        ],
        &[
            "EVAL",
            "redis.call('rpush', ARGV[1], 'x', 'y', 'z') return redis.call('lpop', ARGV[1])",
            "0",
            "sc:list",
        ],
        &[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=journal\nredis.register_function('bump', function(keys, args) return redis.call('hincrbyfloat', keys[1], 'f', args[1]) end)",
        ],
        &["FCALL", "bump", "1", "sc:h", "2.5"],
        &["FCALL", "bump", "1", "sc:h", "0.25"],
    ];
    run(c, &["SET", "{g}a", "renamed"]);
    for args in cmds {
        run(c, args);
    }
}

/// Writes whose keys live on different shards (coordinated, under locks),
/// and a pop that serves a blocked client.
fn cross_shard(c: &mut redis::Connection, port: u16) {
    let k = |p: &str| key_per_shard(p);
    let (sa, sb) = (k("xs:set"), k("xs:set2"));
    run(c, &["SADD", &sa[0], "a", "b", "c"]);
    run(c, &["SADD", &sa[1], "b", "z"]);
    run(c, &["SMOVE", &sa[0], &sa[1], "a"]);
    run(c, &["SINTERSTORE", &sb[2], &sa[0], &sa[1]]);
    run(c, &["SUNIONSTORE", &sb[1], &sa[0], &sa[1]]);
    let l = k("xs:list");
    run(c, &["RPUSH", &l[0], "1", "2", "3"]);
    run(c, &["LMOVE", &l[0], &l[1], "LEFT", "RIGHT"]);
    run(c, &["RPOPLPUSH", &l[0], &l[2]]);
    let z = k("xs:zset");
    run(c, &["ZADD", &z[0], "1", "a", "2.5", "b"]);
    run(c, &["ZADD", &z[1], "3", "a"]);
    run(
        c,
        &["ZUNIONSTORE", &z[2], "2", &z[0], &z[1], "WEIGHTS", "2", "1"],
    );
    run(c, &["ZRANGESTORE", &z[1], &z[0], "0", "-1"]);
    let r = k("xs:ren");
    run(c, &["HSET", &r[0], "f", "v", "g", "w"]);
    run(c, &["PEXPIRE", &r[0], "9000000"]);
    run(c, &["RENAME", &r[0], &r[1]]);
    run(c, &["COPY", &r[1], &r[2]]);
    run(c, &["COPY", &r[1], &r[0], "DB", "1"]);
    let m = k("xs:msetnx");
    run(c, &["MSETNX", &m[0], "1", &m[1], "2", &m[2], "3"]);
    let b = k("xs:bit");
    run(c, &["SET", &b[0], "ab"]);
    run(c, &["BITOP", "XOR", &b[1], &b[0], &b[2]]);
    let so = k("xs:sort");
    run(c, &["RPUSH", &so[0], "3", "1", "2"]);
    run(c, &["SORT", &so[0], "STORE", &so[1]]);
    // A stream with a group, a consumer and a pending entry moves shard.
    let x = k("xs:stream");
    run(c, &["XADD", &x[0], "5-1", "f", "v"]);
    run(c, &["XADD", &x[0], "6-1", "f", "w"]);
    run(c, &["XGROUP", "CREATE", &x[0], "g", "0"]);
    run(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            &x[0],
            ">",
        ],
    );
    run(c, &["RENAME", &x[0], &x[1]]);
    // A client blocked on a list is served by a push from another.
    let q = k("xs:queue");
    let (qk, qd) = (q[0].clone(), q[1].clone());
    let waiter = std::thread::spawn(move || {
        let mut b = connect_redis(port);
        let got: Option<String> = redis::cmd("BLMOVE")
            .arg(&qk)
            .arg(&qd)
            .arg("LEFT")
            .arg("LEFT")
            .arg(10)
            .query(&mut b)
            .unwrap();
        assert_eq!(got.as_deref(), Some("job"));
    });
    wait_for(START_TIMEOUT, "the client to block", || {
        (blocked(c) == 1).then_some(())
    });
    run(c, &["RPUSH", &q[0], "job", "next"]);
    waiter.join().unwrap();
}

#[test]
fn the_journal_replays_every_change_to_the_same_data() {
    let (port, streams) = engine_with_journal();
    let mut c = connect_redis(port);
    // Keys that are flushed away first: FLUSHALL is in the journal too.
    for i in 0..30 {
        run(&mut c, &["SET", &format!("gone:{i}"), "x"]);
    }
    run(&mut c, &["FLUSHALL"]);
    workload(&mut c);
    cross_shard(&mut c, port);

    // Expiry by the active cycle, keys never touched again.
    for i in 0..30 {
        run(&mut c, &["SET", &format!("exp:{i}"), "x", "PX", "30"]);
    }
    let expired_before = info_int(&mut c, "expired_keys");
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_int(&mut c, "expired_keys") < expired_before + 30 {
        assert!(
            Instant::now() < deadline,
            "the active cycle expired nothing"
        );
        std::thread::park_timeout(Duration::from_millis(20));
    }

    // Eviction: a limit just above what is used, then more writes.
    let used = info_int(&mut c, "used_memory");
    run(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    );
    run(
        &mut c,
        &["CONFIG", "SET", "maxmemory", &(used + 200_000).to_string()],
    );
    let mut i = 0;
    while info_int(&mut c, "evicted_keys") == 0 {
        for _ in 0..50 {
            run(&mut c, &["SET", &format!("fill:{i}"), &"v".repeat(1000)]);
            i += 1;
        }
        assert!(i < 200_000, "nothing was evicted");
    }
    run(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
    // A write on every shard: deletions still pending there are recorded
    // before it.
    for k in key_per_shard("last") {
        run(&mut c, &["SET", &k, "end"]);
    }
    let want = dataset(&mut c);
    assert!(want.len() > 40, "the workload left {} keys", want.len());

    let per_shard = streams.lock().unwrap().clone();
    assert!(per_shard.iter().all(|s| !s.is_empty()));
    let all: Vec<&Record> = per_shard.iter().flatten().collect();
    for class in [
        "expired",
        "evicted",
        "string",
        "list",
        "hash",
        "set",
        "sorted-set",
        "stream",
    ] {
        assert!(
            all.iter().any(|r| r.class == class),
            "no {class} record in the journal"
        );
    }
    assert!(
        all.iter()
            .any(|r| r.cmd[0] == b"SREM" && r.everywhere.is_none()),
        "SPOP is recorded as SREM"
    );
    assert!(
        !all.iter().any(|r| r
            .cmd
            .iter()
            .any(|a| a.eq_ignore_ascii_case(b"EX") || a == b"*")),
        "relative times and generated IDs are recorded as absolute ones"
    );
    let merged = journal::merge(per_shard).expect("the shards agree on global operations");
    assert!(merged.len() > 150, "only {} records", merged.len());

    // Replay into a fresh server and compare.
    let replica = Server::start();
    let mut r = replica.raw();
    let mut db = usize::MAX;
    for rec in &merged {
        if rec.db != db {
            db = rec.db;
            r.cmd(&["SELECT", &db.to_string()]);
        }
        let args: Vec<&[u8]> = rec.cmd.iter().map(|a| a.as_slice()).collect();
        r.send(&encode_cmd(&args));
        let reply = r.read();
        assert!(
            !reply.is_error(),
            "replaying {:?} failed: {}",
            rec.cmd
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>(),
            reply.text()
        );
    }
    let got = dataset(&mut replica.conn());
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
}
