//! Hash commands against the real binary (3 shards), through the `redis` crate
//! and raw RESP bytes: every command and option, wrong types, encoding
//! conversions driven by CONFIG SET on every shard, HSCAN's cursor guarantee
//! under concurrent writes, HRANDFIELD shapes in RESP2 and RESP3.

mod common;

use common::*;
use redis::Commands;
use std::collections::{HashMap, HashSet};

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap()
}

fn config_set(c: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(c)
        .unwrap();
}

fn err_text<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    let e = r.unwrap_err();
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
}

#[test]
fn basic_commands_on_every_shard() {
    let s = Server::start();
    let mut c = s.conn();
    for k in key_per_shard("h") {
        let n: i64 = redis::cmd("HSET")
            .arg(&k)
            .arg(&["a", "1", "b", "2", "c", "3"])
            .query(&mut c)
            .unwrap();
        assert_eq!(n, 3);
        let n: i64 = redis::cmd("HSET")
            .arg(&k)
            .arg(&["a", "10", "d", "4"])
            .query(&mut c)
            .unwrap();
        assert_eq!(n, 1, "only d is new");
        assert_eq!(c.hget::<_, _, String>(&k, "a").unwrap(), "10");
        assert_eq!(c.hget::<_, _, Option<String>>(&k, "zz").unwrap(), None);
        assert_eq!(c.hlen::<_, i64>(&k).unwrap(), 4);
        assert!(c.hexists::<_, _, bool>(&k, "b").unwrap());
        assert!(!c.hexists::<_, _, bool>(&k, "zz").unwrap());
        let all: Vec<(String, String)> = c.hgetall(&k).unwrap();
        assert_eq!(
            all,
            vec![
                ("a".into(), "10".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into()),
                ("d".into(), "4".into())
            ],
            "insertion order while packed"
        );
        assert_eq!(
            c.hkeys::<_, Vec<String>>(&k).unwrap(),
            vec!["a", "b", "c", "d"]
        );
        assert_eq!(
            c.hvals::<_, Vec<String>>(&k).unwrap(),
            vec!["10", "2", "3", "4"]
        );
        let got: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&k)
            .arg(&["a", "nope", "d"])
            .query(&mut c)
            .unwrap();
        assert_eq!(got, vec![Some("10".into()), None, Some("4".into())]);
        let st: i64 = redis::cmd("HSTRLEN")
            .arg(&k)
            .arg("a")
            .query(&mut c)
            .unwrap();
        assert_eq!(st, 2);
        let ok: String = redis::cmd("HMSET")
            .arg(&k)
            .arg(&["e", "5"])
            .query(&mut c)
            .unwrap();
        assert_eq!(ok, "OK");
        assert_eq!(c.hset_nx::<_, _, _, i64>(&k, "e", "x").unwrap(), 0);
        assert_eq!(c.hset_nx::<_, _, _, i64>(&k, "f", "6").unwrap(), 1);
        assert_eq!(c.hdel::<_, _, i64>(&k, &["a", "b", "nope"]).unwrap(), 2);
        assert_eq!(c.hdel::<_, _, i64>(&k, &["c", "d", "e", "f"]).unwrap(), 4);
        assert!(!c.exists::<_, bool>(&k).unwrap(), "emptied hash is deleted");
        assert_eq!(c.hlen::<_, i64>(&k).unwrap(), 0);
        assert_eq!(c.hdel::<_, _, i64>(&k, "a").unwrap(), 0);
        let empty: HashMap<String, String> = c.hgetall(&k).unwrap();
        assert!(empty.is_empty());
    }
}

#[test]
fn arity_and_odd_pairs() {
    let s = Server::start();
    let mut c = s.conn();
    let e = err_text(
        redis::cmd("HSET")
            .arg("h")
            .arg(&["a", "1", "b"])
            .query::<i64>(&mut c),
    );
    assert_eq!(e, "ERR wrong number of arguments for 'hset' command");
    let e = err_text(
        redis::cmd("HMSET")
            .arg("h")
            .arg(&["a", "1", "b"])
            .query::<String>(&mut c),
    );
    assert_eq!(e, "ERR wrong number of arguments for 'hmset' command");
    assert!(!c.exists::<_, bool>("h").unwrap(), "nothing created");
    let e = err_text(redis::cmd("HGET").arg("h").query::<String>(&mut c));
    assert_eq!(e, "ERR wrong number of arguments for 'hget' command");
}

#[test]
fn wrong_type_everywhere() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c.set("str", "v").unwrap();
    let cmds: &[&[&str]] = &[
        &["HSET", "str", "a", "1"],
        &["HSETNX", "str", "a", "1"],
        &["HMSET", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HGETALL", "str"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HLEN", "str"],
        &["HEXISTS", "str", "a"],
        &["HSTRLEN", "str", "a"],
        &["HDEL", "str", "a"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2", "WITHVALUES"],
        &["HSCAN", "str", "0"],
    ];
    let mut raw = s.raw();
    for cmd in cmds {
        let r = raw.cmd(cmd);
        assert_eq!(
            r, b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
            "{cmd:?}"
        );
    }
    assert_eq!(c.get::<_, String>("str").unwrap(), "v");
}

#[test]
fn increments() {
    let s = Server::start();
    let mut c = s.conn();
    assert_eq!(c.hincr::<_, _, _, i64>("n", "f", 5).unwrap(), 5);
    assert_eq!(c.hincr::<_, _, _, i64>("n", "f", -7).unwrap(), -2);
    let _: () = c.hset("n", "big", i64::MAX).unwrap();
    let e = err_text(c.hincr::<_, _, _, i64>("n", "big", 1));
    assert_eq!(e, "ERR increment or decrement would overflow");
    let _: () = c.hset("n", "s", "abc").unwrap();
    let e = err_text(c.hincr::<_, _, _, i64>("n", "s", 1));
    assert_eq!(e, "ERR hash value is not an integer");
    let e = err_text(c.hincr::<_, _, _, i64>("n", "f", "x"));
    assert_eq!(e, "ERR value is not an integer or out of range");
    let e = err_text(c.hincr::<_, _, _, String>("n", "s", 1.5));
    assert_eq!(e, "ERR hash value is not a float");
    let v: String = redis::cmd("HINCRBYFLOAT")
        .arg("fl")
        .arg("f")
        .arg("10.5")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "10.5");
    let v: String = redis::cmd("HINCRBYFLOAT")
        .arg("fl")
        .arg("f")
        .arg("0.1")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "10.6");
    for bad in ["inf", "-inf"] {
        let e = err_text(
            redis::cmd("HINCRBYFLOAT")
                .arg("fl")
                .arg("f")
                .arg(bad)
                .query::<String>(&mut c),
        );
        assert_eq!(e, "ERR value is NaN or Infinity");
    }
    let e = err_text(
        redis::cmd("HINCRBYFLOAT")
            .arg("fl")
            .arg("f")
            .arg("nan")
            .query::<String>(&mut c),
    );
    assert_eq!(e, "ERR value is not a valid float");
    let _: () = c.hset("fl", "huge", "1.18e4932").unwrap();
    let e = err_text(
        redis::cmd("HINCRBYFLOAT")
            .arg("fl")
            .arg("huge")
            .arg("1.18e4932")
            .query::<String>(&mut c),
    );
    assert_eq!(e, "ERR increment would produce NaN or Infinity");
    // Integers incremented by a float and back.
    let _: () = c.hset("fl", "i", 17).unwrap();
    let v: String = redis::cmd("HINCRBYFLOAT")
        .arg("fl")
        .arg("i")
        .arg("-17")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "0");
    assert_eq!(c.hincr::<_, _, _, i64>("fl", "i", 3).unwrap(), 3);
}

#[test]
fn encoding_conversions_on_every_shard() {
    let s = Server::start();
    let mut c = s.conn();
    config_set(&mut c, "hash-max-listpack-entries", "4");
    config_set(&mut c, "hash-max-listpack-value", "8");
    for k in key_per_shard("enc") {
        // Entry limit: 4 pairs stay packed, the fifth converts.
        for i in 0..4 {
            let _: () = c.hset(&k, format!("f{i}"), i).unwrap();
        }
        assert_eq!(encoding(&mut c, &k), "listpack", "{k}");
        let _: () = c.hset(&k, "f4", 4).unwrap();
        assert_eq!(encoding(&mut c, &k), "hashtable", "{k}");
        // Never back, even when small again.
        let _: i64 = c.hdel(&k, &["f0", "f1", "f2", "f3"]).unwrap();
        assert_eq!(encoding(&mut c, &k), "hashtable");
        assert_eq!(c.hget::<_, _, String>(&k, "f4").unwrap(), "4");

        // Value limit (8 bytes): field or value.
        let v = format!("{k}-v");
        let _: () = c.hset(&v, "a", "12345678").unwrap();
        assert_eq!(encoding(&mut c, &v), "listpack");
        let _: () = c.hset(&v, "a", "123456789").unwrap();
        assert_eq!(encoding(&mut c, &v), "hashtable");
        let f = format!("{k}-f");
        let _: () = c.hset(&f, "123456789", "x").unwrap();
        assert_eq!(encoding(&mut c, &f), "hashtable");
        // HINCRBYFLOAT producing a long value converts.
        let fl = format!("{k}-fl");
        let _: String = redis::cmd("HINCRBYFLOAT")
            .arg(&fl)
            .arg("x")
            .arg("1.234567891")
            .query(&mut c)
            .unwrap();
        assert_eq!(encoding(&mut c, &fl), "hashtable");
        // HSETNX on an existing field does not convert.
        let nx = format!("{k}-nx");
        let _: () = c.hset(&nx, "a", "1").unwrap();
        let _: i64 = c.hset_nx(&nx, "a", "123456789").unwrap();
        assert_eq!(encoding(&mut c, &nx), "listpack");
    }
    config_set(&mut c, "hash-max-listpack-entries", "128");
    config_set(&mut c, "hash-max-listpack-value", "64");
    for k in key_per_shard("big") {
        let pairs: Vec<(String, String)> = (0..200)
            .map(|i| (format!("f{i}"), format!("{i}")))
            .collect();
        let _: () = c.hset_multiple(&k, &pairs).unwrap();
        assert_eq!(encoding(&mut c, &k), "hashtable");
        let all: HashMap<String, String> = c.hgetall(&k).unwrap();
        assert_eq!(all.len(), 200);
        for (f, v) in &pairs {
            assert_eq!(all.get(f), Some(v));
        }
        // Deleting everything deletes the key.
        let fields: Vec<&String> = pairs.iter().map(|(f, _)| f).collect();
        assert_eq!(c.hdel::<_, _, i64>(&k, &fields).unwrap(), 200);
        assert!(!c.exists::<_, bool>(&k).unwrap());
    }
}

#[test]
fn ttl_is_kept_on_update_and_dropped_with_the_key() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c.hset("t", "a", 1).unwrap();
    let _: bool = c.expire("t", 1000).unwrap();
    let _: () = c.hset("t", "b", 2).unwrap();
    let _: i64 = c.hincr("t", "a", 1).unwrap();
    let ttl: i64 = c.ttl("t").unwrap();
    assert!(ttl > 0 && ttl <= 1000, "{ttl}");
    let _: i64 = c.hdel("t", &["a", "b"]).unwrap();
    assert_eq!(c.ttl::<_, i64>("t").unwrap(), -2);
    let _: () = c.hset("t", "a", 1).unwrap();
    assert_eq!(c.ttl::<_, i64>("t").unwrap(), -1);
}

#[test]
fn changes_count_like_redis() {
    let s = Server::start();
    let mut c = s.conn();
    let dirty = |c: &mut redis::Connection| -> i64 {
        let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    let d0 = dirty(&mut c);
    let _: i64 = redis::cmd("HSET")
        .arg("d")
        .arg(&["a", "1", "b", "2", "c", "3"])
        .query(&mut c)
        .unwrap();
    assert_eq!(dirty(&mut c) - d0, 3);
    let _: i64 = c.hset_nx("d", "a", "x").unwrap();
    assert_eq!(dirty(&mut c) - d0, 3, "HSETNX on an existing field");
    let _: i64 = c.hdel("d", &["a", "b", "zz"]).unwrap();
    assert_eq!(dirty(&mut c) - d0, 5);
}

#[test]
fn binary_and_large_values() {
    let s = Server::start();
    let mut c = s.conn();
    let field: Vec<u8> = vec![0, 255, b'\r', b'\n', 0];
    let big: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    let _: () = c.hset("bin", field.as_slice(), big.as_slice()).unwrap();
    let _: () = c.hset("bin", b"".as_slice(), b"".as_slice()).unwrap();
    let got: Vec<u8> = c.hget("bin", field.as_slice()).unwrap();
    assert_eq!(got, big);
    let st: i64 = redis::cmd("HSTRLEN")
        .arg("bin")
        .arg(field.as_slice())
        .query(&mut c)
        .unwrap();
    assert_eq!(st, 200_000);
    let empty: Vec<u8> = c.hget("bin", b"".as_slice()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(encoding(&mut c, "bin"), "hashtable");
    // Packed values of every length-prefix size.
    config_set(&mut c, "hash-max-listpack-value", "100000");
    for n in [0usize, 1, 127, 128, 16383, 16384, 70000] {
        let v = vec![b'x'; n];
        let _: () = c.hset("lp", format!("f{n}"), v.as_slice()).unwrap();
    }
    assert_eq!(encoding(&mut c, "lp"), "listpack");
    for n in [0usize, 1, 127, 128, 16383, 16384, 70000] {
        let got: Vec<u8> = c.hget("lp", format!("f{n}")).unwrap();
        assert_eq!(got.len(), n);
    }
    let _: () = c.hset("lp", "f128", "short").unwrap();
    assert_eq!(c.hget::<_, _, String>("lp", "f128").unwrap(), "short");
    let got: Vec<u8> = c.hget("lp", "f70000").unwrap();
    assert_eq!(got.len(), 70000);
}

#[test]
fn hrandfield_shapes() {
    let s = Server::start();
    let mut c = s.conn();
    for (key, n) in [("small", 10usize), ("large", 1000)] {
        let pairs: Vec<(String, String)> =
            (0..n).map(|i| (format!("f{i}"), format!("v{i}"))).collect();
        let _: () = c.hset_multiple(key, &pairs).unwrap();
        let map: HashMap<String, String> = pairs.into_iter().collect();
        let one: String = redis::cmd("HRANDFIELD").arg(key).query(&mut c).unwrap();
        assert!(map.contains_key(&one));
        for count in [1i64, 3, 9, 10, 11, 400, 999, 1000, 2000] {
            let got: Vec<String> = redis::cmd("HRANDFIELD")
                .arg(key)
                .arg(count)
                .query(&mut c)
                .unwrap();
            let want = (count as usize).min(n);
            assert_eq!(got.len(), want, "{key} {count}");
            let uniq: HashSet<&String> = got.iter().collect();
            assert_eq!(uniq.len(), want, "no duplicates for a positive count");
            assert!(got.iter().all(|f| map.contains_key(f)));
            let wv: Vec<String> = redis::cmd("HRANDFIELD")
                .arg(key)
                .arg(count)
                .arg("WITHVALUES")
                .query(&mut c)
                .unwrap();
            assert_eq!(wv.len(), want * 2);
            for p in wv.chunks(2) {
                assert_eq!(map.get(&p[0]), Some(&p[1]));
            }
        }
        let neg: Vec<String> = redis::cmd("HRANDFIELD")
            .arg(key)
            .arg(-50)
            .query(&mut c)
            .unwrap();
        assert_eq!(neg.len(), 50);
        assert!(neg.iter().all(|f| map.contains_key(f)));
        // Over many negative draws every field of the small hash shows up.
        if n == 10 {
            let many: Vec<String> = redis::cmd("HRANDFIELD")
                .arg(key)
                .arg(-1000)
                .query(&mut c)
                .unwrap();
            let seen: HashSet<&String> = many.iter().collect();
            assert_eq!(seen.len(), 10);
        }
    }
    // RESP3: pairs as two-element arrays; RESP2 flat.
    let mut raw = s.raw();
    raw.cmd(&["HELLO", "3"]);
    let _ = raw.cmd(&["HSET", "one", "k", "v"]);
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "one", "-2", "WITHVALUES"]),
        b"*2\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "one", "5", "WITHVALUES"]),
        b"*1\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    assert_eq!(raw.cmd(&["HRANDFIELD", "nokey"]), b"_\r\n");
    assert_eq!(raw.cmd(&["HRANDFIELD", "nokey", "3"]), b"*0\r\n");
    assert_eq!(
        raw.cmd(&["HGETALL", "one"]),
        b"%1\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    assert_eq!(raw.cmd(&["HGETALL", "nokey"]), b"%0\r\n");
    raw.cmd(&["HELLO", "2"]);
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "one", "-2", "WITHVALUES"]),
        b"*4\r\n$1\r\nk\r\n$1\r\nv\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    assert_eq!(raw.cmd(&["HRANDFIELD", "nokey"]), b"$-1\r\n");
    assert_eq!(
        raw.cmd(&["HGETALL", "one"]),
        b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "one", "-9223372036854775808"]),
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "one", "-9223372036854770000", "WITHVALUES"]),
        b"-ERR value is out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["HRANDFIELD", "one", "1", "WITHSCORES"]),
        b"-ERR syntax error\r\n"
    );
}

/// Runs a whole HSCAN with COUNT, returning the fields seen and the number of
/// calls; `between` runs after every call.
fn full_scan(
    c: &mut redis::Connection,
    key: &str,
    extra: &[&str],
    mut between: impl FnMut(&mut redis::Connection),
) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("HSCAN")
            .arg(key)
            .arg(&cursor)
            .arg(extra)
            .query(c)
            .unwrap();
        calls += 1;
        assert_eq!(items.len() % 2, 0);
        for p in items.chunks(2) {
            seen.push(p[0].clone());
        }
        between(c);
        if next == "0" {
            return (seen, calls);
        }
        cursor = next;
        assert!(calls < 100_000, "scan does not terminate");
    }
}

#[test]
fn hscan_small_and_large() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c
        .hset_multiple("small", &[("a1", "1"), ("a2", "2"), ("b1", "3")])
        .unwrap();
    let (seen, calls) = full_scan(&mut c, "small", &["COUNT", "1"], |_| {});
    assert_eq!(calls, 1, "packed hashes return everything at once");
    assert_eq!(seen, vec!["a1", "a2", "b1"]);
    let (seen, _) = full_scan(&mut c, "small", &["MATCH", "a*"], |_| {});
    assert_eq!(seen, vec!["a1", "a2"]);

    let pairs: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("f{i}"), i.to_string()))
        .collect();
    let _: () = c.hset_multiple("large", &pairs).unwrap();
    let (seen, calls) = full_scan(&mut c, "large", &["COUNT", "10"], |_| {});
    assert!(calls > 10, "a table scans in steps ({calls} calls)");
    let uniq: HashSet<&String> = seen.iter().collect();
    assert_eq!(uniq.len(), 1000);
    let (seen, _) = full_scan(&mut c, "large", &["MATCH", "f1*", "COUNT", "100"], |_| {});
    let uniq: HashSet<&String> = seen.iter().collect();
    assert_eq!(uniq.len(), 1 + 10 + 100);
    assert!(uniq.iter().all(|f| f.starts_with("f1")));

    // Fields present for the whole scan are returned even while others come
    // and go between calls.
    let mut step = 0;
    let (seen, _) = full_scan(&mut c, "large", &["COUNT", "7"], |c| {
        step += 1;
        let _: i64 = c.hdel("large", format!("f{}", 500 + step % 500)).unwrap();
        let _: () = c.hset("large", format!("new{step}"), "x").unwrap();
    });
    let seen: HashSet<String> = seen.into_iter().collect();
    for i in 0..500 {
        assert!(seen.contains(&format!("f{i}")), "f{i} missing");
    }

    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&["HSCAN", "nokey", "0"]),
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_eq!(
        raw.cmd(&["HSCAN", "large", "x"]),
        b"-ERR invalid cursor\r\n"
    );
    assert_eq!(
        raw.cmd(&["HSCAN", "large", "0", "COUNT", "0"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["HSCAN", "large", "0", "COUNT", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["HSCAN", "large", "0", "TYPE", "hash"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["HSCAN", "small", "0", "MATCH", "b*"]),
        b"*2\r\n$1\r\n0\r\n*2\r\n$2\r\nb1\r\n$1\r\n3\r\n"
    );
}

#[test]
fn concurrent_writers_on_one_hash() {
    let s = Server::start();
    let port = s.port;
    let threads: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = connect_redis(port);
                for i in 0..300 {
                    let _: i64 = c.hincr("ctr", "n", 1).unwrap();
                    let _: () = c.hset("ctr", format!("t{t}-{i}"), i).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.conn();
    assert_eq!(c.hget::<_, _, i64>("ctr", "n").unwrap(), 1800);
    assert_eq!(c.hlen::<_, i64>("ctr").unwrap(), 1801);
    assert_eq!(encoding(&mut c, "ctr"), "hashtable");
}
