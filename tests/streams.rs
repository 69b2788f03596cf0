//! Streams through a real client and raw bytes, on 3 shards: ids and their
//! errors, ranges, deletion and trimming (approximate trimming follows the
//! node size settings), the generic key commands on a stream, reads across
//! shards, consumer groups, and blocking XREAD / XREADGROUP woken from other
//! connections (by XADD, and for groups by deletion, replacement and
//! XGROUP DESTROY), lazy freeing.

mod common;

use common::*;
use coreshard::shard::slot::key_owner;
use redis::Value as V;
use std::time::{Duration, Instant};

/// A key named `prefix:N` owned by shard `shard` of 3.
fn key_on(prefix: &str, shard: usize) -> String {
    (0..)
        .map(|i| format!("{prefix}:{i}"))
        .find(|k| key_owner(k.as_bytes(), THREADS) == shard)
        .unwrap()
}

fn cmd(c: &mut redis::Connection, args: &[&str]) -> V {
    redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap()
}

fn err(c: &mut redis::Connection, args: &[&str]) -> String {
    let r: redis::RedisResult<V> = redis::cmd(args[0]).arg(&args[1..]).query(c);
    let e = r.unwrap_err();
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
}

fn int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap()
}

fn text(c: &mut redis::Connection, args: &[&str]) -> String {
    redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap()
}

/// Entry ids of an XRANGE-shaped reply.
fn ids(v: &V) -> Vec<String> {
    let V::Array(items) = v else {
        panic!("not an array: {v:?}")
    };
    items
        .iter()
        .map(|e| match e {
            V::Array(p) => match &p[0] {
                V::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect()
}

/// `(key, [entry ids])` of an XREAD-shaped RESP2 reply.
fn read_ids(v: &V) -> Vec<(String, Vec<String>)> {
    let V::Array(keys) = v else {
        panic!("not an array: {v:?}")
    };
    keys.iter()
        .map(|k| match k {
            V::Array(kv) => {
                let name = match &kv[0] {
                    V::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                    other => panic!("{other:?}"),
                };
                (name, ids(&kv[1]))
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let info = text(c, &["INFO", section]);
    common::info_value(&info, field)
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .to_string()
}

#[test]
fn ids_ranges_and_errors() {
    let s = Server::start();
    let mut c = s.conn();
    assert_eq!(text(&mut c, &["XADD", "s", "1-1", "a", "1"]), "1-1");
    assert_eq!(text(&mut c, &["XADD", "s", "1-*", "b", "2"]), "1-2");
    assert_eq!(text(&mut c, &["XADD", "s", "5", "c", "3"]), "5-0");
    assert_eq!(
        err(&mut c, &["XADD", "s", "5-0", "d", "4"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "0-0", "d", "4"]),
        "ERR The ID specified in XADD must be greater than 0-0"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "1-x", "d", "4"]),
        "ERR Invalid stream ID specified as stream command argument"
    );
    assert_eq!(
        err(&mut c, &["XADD", "s", "*", "a"]),
        "ERR wrong number of arguments for 'xadd' command"
    );
    // Generated ids never go back, even within one millisecond.
    let mut last = String::from("5-0");
    for _ in 0..50 {
        let id = text(&mut c, &["XADD", "s", "*", "f", "v"]);
        let (a, b) = (parse(&last), parse(&id));
        assert!(b > a, "{id} after {last}");
        last = id;
    }
    assert_eq!(int(&mut c, &["XLEN", "s"]), 53);
    let r = cmd(&mut c, &["XRANGE", "s", "-", "5", "COUNT", "2"]);
    assert_eq!(ids(&r), ["1-1", "1-2"]);
    let r = cmd(&mut c, &["XRANGE", "s", "(1-1", "5"]);
    assert_eq!(ids(&r), ["1-2", "5-0"]);
    let r = cmd(&mut c, &["XREVRANGE", "s", "(5-0", "-"]);
    assert_eq!(ids(&r), ["1-2", "1-1"]);
    assert_eq!(
        err(&mut c, &["XRANGE", "s", "(-", "+"]),
        "ERR Invalid stream ID specified as stream command argument"
    );
    assert_eq!(
        err(&mut c, &["XRANGE", "s", "-", "(0-0"]),
        "ERR invalid end ID for the interval"
    );
    // Raw bytes: COUNT 0 is a null array, a missing key an empty one.
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&["XRANGE", "s", "-", "+", "COUNT", "0"]),
        b"*-1\r\n"
    );
    assert_eq!(raw.cmd(&["XRANGE", "nokey", "-", "+"]), b"*0\r\n");
    assert_eq!(
        raw.cmd(&["XRANGE", "s", "1-2", "1-2"]),
        b"*1\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    // The largest id: nothing can follow it.
    assert_eq!(
        text(
            &mut c,
            &[
                "XADD",
                "top",
                "18446744073709551615-18446744073709551615",
                "f",
                "v"
            ]
        ),
        "18446744073709551615-18446744073709551615"
    );
    assert_eq!(
        err(&mut c, &["XADD", "top", "*", "f", "v"]),
        "ERR The stream has exhausted the last possible ID, unable to add more items"
    );
}

fn parse(id: &str) -> (u64, u64) {
    let (a, b) = id.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn deleting_and_trimming() {
    let s = Server::start();
    let mut c = s.conn();
    for i in 1..=3 {
        cmd(&mut c, &["XADD", "d", &i.to_string(), "f", "v"]);
    }
    assert_eq!(int(&mut c, &["XDEL", "d", "1", "2", "3", "4"]), 3);
    // An emptied stream still exists, and remembers its last id.
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 1);
    assert_eq!(int(&mut c, &["XLEN", "d"]), 0);
    assert_eq!(
        err(&mut c, &["XADD", "d", "3", "f", "v"]),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    // NOMKSTREAM does not create.
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&["XADD", "nos", "NOMKSTREAM", "*", "f", "v"]),
        b"$-1\r\n"
    );
    assert_eq!(int(&mut c, &["EXISTS", "nos"]), 0);

    // Approximate trimming removes whole nodes only.
    cmd(&mut c, &["CONFIG", "SET", "stream-node-max-entries", "10"]);
    for i in 1..=100 {
        cmd(&mut c, &["XADD", "t", &i.to_string(), "f", "v"]);
    }
    assert_eq!(int(&mut c, &["XTRIM", "t", "MAXLEN", "~", "55"]), 40);
    assert_eq!(int(&mut c, &["XLEN", "t"]), 60);
    assert_eq!(
        int(&mut c, &["XTRIM", "t", "MAXLEN", "~", "0", "LIMIT", "25"]),
        20
    );
    assert_eq!(int(&mut c, &["XTRIM", "t", "MAXLEN", "=", "33"]), 7);
    let r = cmd(&mut c, &["XRANGE", "t", "-", "+", "COUNT", "1"]);
    assert_eq!(ids(&r), ["68-0"]);
    assert_eq!(int(&mut c, &["XTRIM", "t", "MINID", "~", "95"]), 23);
    assert_eq!(int(&mut c, &["XLEN", "t"]), 10);
    assert_eq!(
        err(&mut c, &["XTRIM", "t", "MAXLEN", "1", "LIMIT", "5"]),
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
    );
    // XADD trims too.
    cmd(&mut c, &["XADD", "t", "MAXLEN", "~", "5", "101", "f", "v"]);
    assert_eq!(int(&mut c, &["XLEN", "t"]), 11);
    cmd(&mut c, &["XADD", "t", "MAXLEN", "5", "102", "f", "v"]);
    assert_eq!(int(&mut c, &["XLEN", "t"]), 5);
    // With one entry per node, "~" is capped at 100 nodes per call.
    cmd(&mut c, &["CONFIG", "SET", "stream-node-max-entries", "1"]);
    for i in 1..=102 {
        cmd(&mut c, &["XADD", "one", &i.to_string(), "f", "v"]);
    }
    cmd(&mut c, &["XTRIM", "one", "MAXLEN", "~", "1"]);
    assert_eq!(int(&mut c, &["XLEN", "one"]), 2);
}

#[test]
fn generic_key_commands_and_wrong_types() {
    let s = Server::start();
    let mut c = s.conn();
    let (a, b) = (key_on("a", 0), key_on("b", 1));
    cmd(&mut c, &["XADD", &a, "1", "f", "v"]);
    cmd(&mut c, &["XADD", &a, "2", "g", "w"]);
    assert_eq!(text(&mut c, &["TYPE", &a]), "stream");
    assert_eq!(text(&mut c, &["OBJECT", "ENCODING", &a]), "stream");
    cmd(&mut c, &["SET", "str", "x"]);
    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(err(&mut c, &["XADD", "str", "*", "f", "v"]), wrong);
    assert_eq!(err(&mut c, &["XLEN", "str"]), wrong);
    assert_eq!(err(&mut c, &["XREAD", "STREAMS", "str", "0"]), wrong);
    assert_eq!(err(&mut c, &["LPUSH", &a, "x"]), wrong);
    assert_eq!(err(&mut c, &["GET", &a]), wrong);
    assert_eq!(err(&mut c, &["SORT", &a]), wrong);
    // RENAME and COPY across shards keep the entries.
    cmd(&mut c, &["RENAME", &a, &b]);
    assert_eq!(int(&mut c, &["EXISTS", &a]), 0);
    assert_eq!(ids(&cmd(&mut c, &["XRANGE", &b, "-", "+"])), ["1-0", "2-0"]);
    cmd(&mut c, &["COPY", &b, &a]);
    cmd(&mut c, &["XADD", &a, "3", "h", "x"]);
    assert_eq!(int(&mut c, &["XLEN", &a]), 3);
    assert_eq!(int(&mut c, &["XLEN", &b]), 2);
    // MEMORY USAGE grows with the entries.
    let small = int(&mut c, &["MEMORY", "USAGE", &b]);
    for i in 10..1000 {
        cmd(&mut c, &["XADD", &b, &i.to_string(), "field", "some value"]);
    }
    let big = int(&mut c, &["MEMORY", "USAGE", &b]);
    assert!(big > small + 10_000, "{small} -> {big}");
    // EXPIRE, then gone.
    assert_eq!(int(&mut c, &["PEXPIRE", &b, "20"]), 1);
    wait_for(Duration::from_secs(5), "expiry", || {
        (int(&mut c, &["EXISTS", &b]) == 0).then_some(())
    });
    assert_eq!(int(&mut c, &["DEL", &a]), 1);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
}

#[test]
fn reads_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let keys: Vec<String> = (0..THREADS).map(|i| key_on("r", i)).collect();
    for (i, k) in keys.iter().enumerate() {
        for j in 1..=3 {
            cmd(&mut c, &["XADD", k, &format!("{j}-{i}"), "f", "v"]);
        }
    }
    let mut args = vec!["XREAD", "COUNT", "2", "STREAMS"];
    args.extend(keys.iter().map(String::as_str));
    args.extend(["0", "1-5", "$"]);
    let r = read_ids(&cmd(&mut c, &args));
    assert_eq!(
        r,
        [
            (keys[0].clone(), vec!["1-0".to_string(), "2-0".into()]),
            (keys[1].clone(), vec!["2-1".to_string(), "3-1".into()]),
        ]
    );
    // The first bad argument in key order decides the error.
    let e = err(
        &mut c,
        &[
            "XREAD", "STREAMS", &keys[0], &keys[1], &keys[2], "0", "x", "y",
        ],
    );
    assert_eq!(
        e,
        "ERR Invalid stream ID specified as stream command argument"
    );
    cmd(&mut c, &["XGROUP", "CREATE", &keys[0], "g", "0"]);
    let e = err(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "STREAMS",
            &keys[0],
            &keys[1],
            ">",
            ">",
        ],
    );
    assert!(e.starts_with("NOGROUP No such key"), "{e}");
    // Nothing after the given ids: a null reply.
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&["XREAD", "STREAMS", &keys[0], &keys[2], "$", "$"]),
        b"*-1\r\n"
    );
    // RESP3: a map of keys.
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(
        raw.cmd(&["XREAD", "COUNT", "1", "STREAMS", &keys[1], "0"]),
        format!(
            "%1\r\n${}\r\n{}\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
            keys[1].len(),
            keys[1]
        )
        .into_bytes()
    );
}

#[test]
fn consumer_groups() {
    let s = Server::start();
    let mut c = s.conn();
    assert!(
        err(&mut c, &["XGROUP", "CREATE", "q", "g", "$"]).contains("requires the key to exist")
    );
    cmd(&mut c, &["XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"]);
    assert_eq!(
        err(&mut c, &["XGROUP", "CREATE", "q", "g", "$"]),
        "BUSYGROUP Consumer Group name already exists"
    );
    for i in 1..=5 {
        cmd(&mut c, &["XADD", "q", &i.to_string(), "n", &i.to_string()]);
    }
    let r = cmd(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "q",
            ">",
        ],
    );
    assert_eq!(read_ids(&r)[0].1, ["1-0", "2-0"]);
    let r = cmd(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "q", ">"],
    );
    assert_eq!(read_ids(&r)[0].1, ["3-0", "4-0", "5-0"]);
    // Each consumer's history is its own.
    let r = cmd(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "q", "0"],
    );
    assert_eq!(read_ids(&r)[0].1, ["1-0", "2-0"]);
    let summary = cmd(&mut c, &["XPENDING", "q", "g"]);
    assert_eq!(
        summary,
        V::Array(vec![
            V::Int(5),
            V::BulkString(b"1-0".to_vec()),
            V::BulkString(b"5-0".to_vec()),
            V::Array(vec![
                V::Array(vec![
                    V::BulkString(b"alice".to_vec()),
                    V::BulkString(b"2".to_vec())
                ]),
                V::Array(vec![
                    V::BulkString(b"bob".to_vec()),
                    V::BulkString(b"3".to_vec())
                ]),
            ]),
        ])
    );
    assert_eq!(int(&mut c, &["XACK", "q", "g", "1", "1", "9"]), 1);
    // XCLAIM moves an entry; deleted entries leave the PEL.
    let r = cmd(&mut c, &["XCLAIM", "q", "g", "carol", "0", "2", "JUSTID"]);
    assert_eq!(r, V::Array(vec![V::BulkString(b"2-0".to_vec())]));
    cmd(&mut c, &["XDEL", "q", "4"]);
    let r = cmd(
        &mut c,
        &["XAUTOCLAIM", "q", "g", "carol", "0", "0", "COUNT", "10"],
    );
    let V::Array(parts) = &r else { panic!() };
    assert_eq!(parts[0], V::BulkString(b"0-0".to_vec()));
    assert_eq!(ids(&parts[1]), ["2-0", "3-0", "5-0"]);
    assert_eq!(parts[2], V::Array(vec![V::BulkString(b"4-0".to_vec())]));
    let detail = cmd(&mut c, &["XPENDING", "q", "g", "-", "+", "10", "carol"]);
    assert_eq!(ids(&detail), ["2-0", "3-0", "5-0"]);
    // Lag and entries-read.
    let groups = cmd(&mut c, &["XINFO", "GROUPS", "q"]);
    let V::Array(gs) = &groups else { panic!() };
    let V::Array(g) = &gs[0] else { panic!() };
    assert_eq!(g[7], V::BulkString(b"5-0".to_vec()));
    assert_eq!(g[9], V::Int(5));
    assert_eq!(g[11], V::Int(0));
    assert_eq!(
        int(&mut c, &["XGROUP", "DELCONSUMER", "q", "g", "carol"]),
        3
    );
    assert_eq!(int(&mut c, &["XGROUP", "DESTROY", "q", "g"]), 1);
    assert_eq!(
        err(
            &mut c,
            &["XREADGROUP", "GROUP", "g", "x", "STREAMS", "q", ">"]
        ),
        "NOGROUP No such key 'q' or consumer group 'g' in XREADGROUP with GROUP option"
    );
}

#[test]
fn blocking_xread_is_woken_by_xadd_on_other_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let keys: Vec<String> = (0..THREADS).map(|i| key_on("b", i)).collect();
    cmd(&mut c, &["XADD", &keys[2], "5", "old", "1"]);
    let port = s.port;
    let k2 = keys.clone();
    let waiter = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        let mut args = vec!["XREAD", "BLOCK", "10000", "STREAMS"];
        args.extend(k2.iter().map(String::as_str));
        args.extend(["$", "$", "$"]);
        let t0 = Instant::now();
        let r = cmd(&mut w, &args);
        (read_ids(&r), t0.elapsed())
    });
    wait_blocked(&mut c, 1);
    cmd(&mut c, &["XADD", &keys[1], "7", "new", "1"]);
    let (r, took) = waiter.join().unwrap();
    assert_eq!(r, [(keys[1].clone(), vec!["7-0".to_string()])]);
    assert!(took < Duration::from_secs(5));
    assert_eq!(blocked(&mut c), 0);

    // An id below entries that were deleted: only a new entry serves it.
    cmd(&mut c, &["XADD", &keys[0], "10", "f", "v"]);
    cmd(&mut c, &["XDEL", &keys[0], "10"]);
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&["XREAD", "BLOCK", "50", "STREAMS", &keys[0], "5"]),
        b"*-1\r\n"
    );
    let k0 = keys[0].clone();
    let waiter = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        read_ids(&cmd(&mut w, &["XREAD", "BLOCK", "0", "STREAMS", &k0, "5"]))
    });
    wait_blocked(&mut c, 1);
    cmd(&mut c, &["XADD", &keys[0], "11", "f", "v"]);
    assert_eq!(
        waiter.join().unwrap(),
        [(keys[0].clone(), vec!["11-0".to_string()])]
    );

    // Timeout and CLIENT UNBLOCK give a null reply; inside MULTI it never blocks.
    let t0 = Instant::now();
    assert_eq!(
        raw.cmd(&["XREAD", "BLOCK", "100", "STREAMS", "nokey", "$"]),
        b"*-1\r\n"
    );
    assert!(t0.elapsed() >= Duration::from_millis(100));
    raw.cmd(&["MULTI"]);
    raw.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "nokey", "$"]);
    assert_eq!(raw.cmd(&["EXEC"]), b"*1\r\n*-1\r\n");
    let waiter = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        let me = int(&mut w, &["CLIENT", "ID"]);
        let r: V = redis::cmd("XREAD")
            .arg(&["BLOCK", "0", "STREAMS", "nokey", "$"])
            .query(&mut w)
            .unwrap();
        (me, r)
    });
    wait_blocked(&mut c, 1);
    let list = text(&mut c, &["CLIENT", "LIST"]);
    let blocked_id = list
        .lines()
        .find(|l| l.contains("cmd=xread"))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .unwrap()
        .to_string();
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", &blocked_id]), 1);
    let (me, r) = waiter.join().unwrap();
    assert_eq!(me.to_string(), blocked_id);
    assert_eq!(r, V::Nil);
}

#[test]
fn blocking_xreadgroup() {
    let s = Server::start();
    let mut c = s.conn();
    let port = s.port;
    let k = key_on("g", 1);
    cmd(&mut c, &["XGROUP", "CREATE", &k, "grp", "$", "MKSTREAM"]);
    // Two consumers blocked on the group: each new entry goes to one of them.
    let spawn = |name: &'static str, k: String| {
        std::thread::spawn(move || {
            let mut w = connect_redis(port);
            let r = cmd(
                &mut w,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "grp",
                    name,
                    "BLOCK",
                    "10000",
                    "STREAMS",
                    &k,
                    ">",
                ],
            );
            read_ids(&r)
        })
    };
    let a = spawn("alice", k.clone());
    wait_blocked(&mut c, 1);
    let b = spawn("bob", k.clone());
    wait_blocked(&mut c, 2);
    cmd(&mut c, &["XADD", &k, "1", "f", "v"]);
    assert_eq!(a.join().unwrap(), [(k.clone(), vec!["1-0".to_string()])]);
    assert_eq!(blocked(&mut c), 1);
    cmd(&mut c, &["XADD", &k, "2", "f", "v"]);
    assert_eq!(b.join().unwrap(), [(k.clone(), vec!["2-0".to_string()])]);
    let pending = cmd(&mut c, &["XPENDING", &k, "grp", "-", "+", "10"]);
    assert_eq!(ids(&pending), ["1-0", "2-0"]);

    // The group destroyed, the key deleted or replaced: an error reply.
    let cases: [(&[&str], &str); 3] = [
        (&["XGROUP", "DESTROY", "KEY", "grp"], "NOGROUP"),
        (&["DEL", "KEY"], "UNBLOCKED the stream key no longer exists"),
        (
            &["SET", "KEY", "x"],
            "UNBLOCKED the stream key no longer exists",
        ),
    ];
    for (action, want) in cases {
        cmd(&mut c, &["DEL", &k]);
        cmd(&mut c, &["XGROUP", "CREATE", &k, "grp", "$", "MKSTREAM"]);
        let k2 = k.clone();
        let w = std::thread::spawn(move || {
            let mut w = connect_redis(port);
            err(
                &mut w,
                &[
                    "XREADGROUP",
                    "GROUP",
                    "grp",
                    "c",
                    "BLOCK",
                    "0",
                    "STREAMS",
                    &k2,
                    ">",
                ],
            )
        });
        wait_blocked(&mut c, 1);
        let args: Vec<&str> = action
            .iter()
            .map(|a| if *a == "KEY" { k.as_str() } else { a })
            .collect();
        cmd(&mut c, &args);
        let e = w.join().unwrap();
        assert!(e.contains(want), "{action:?}: {e}");
    }
    let stats = text(&mut c, &["INFO", "errorstats"]);
    assert!(stats.contains("errorstat_NOGROUP:count=1"), "{stats}");

    // Ids other than ">" read the history at once, even with BLOCK.
    cmd(&mut c, &["DEL", &k]);
    cmd(&mut c, &["XGROUP", "CREATE", &k, "grp", "$", "MKSTREAM"]);
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&[
            "XREADGROUP",
            "GROUP",
            "grp",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            &k,
            "0"
        ]),
        format!("*1\r\n*2\r\n${}\r\n{}\r\n*0\r\n", k.len(), k).into_bytes()
    );
}

#[test]
fn unlink_of_a_big_stream_is_freed_lazily() {
    let s = Server::start();
    let mut c = s.conn();
    cmd(&mut c, &["CONFIG", "SET", "stream-node-max-entries", "5"]);
    for i in 1..=1000 {
        cmd(&mut c, &["XADD", "big", &i.to_string(), "f", "v"]);
    }
    cmd(&mut c, &["XGROUP", "CREATE", "big", "g", "0"]);
    cmd(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "COUNT",
            "2",
            "STREAMS",
            "big",
            ">",
        ],
    );
    cmd(&mut c, &["CONFIG", "RESETSTAT"]);
    assert_eq!(int(&mut c, &["UNLINK", "big"]), 1);
    wait_for(Duration::from_secs(5), "lazy free", || {
        (info_field(&mut c, "memory", "lazyfree_pending_objects") == "0").then_some(())
    });
    assert_eq!(info_field(&mut c, "memory", "lazyfreed_objects"), "1");
    // A small stream whose group is gone is freed at once.
    cmd(&mut c, &["CONFIG", "RESETSTAT"]);
    cmd(&mut c, &["XADD", "small", "1", "a", "b"]);
    cmd(&mut c, &["XGROUP", "CREATE", "small", "bla", "$"]);
    cmd(&mut c, &["XGROUP", "DESTROY", "small", "bla"]);
    assert_eq!(int(&mut c, &["UNLINK", "small"]), 1);
    assert_eq!(info_field(&mut c, "memory", "lazyfreed_objects"), "0");
}
