//! Set commands through a real client (3 shards): every command and option,
//! wrong types, encodings and their conversions, random commands' guarantees,
//! SSCAN coverage under writes, and multi-key commands over keys spread across
//! shards.

mod common;

use common::*;
use redis::Commands;
use std::collections::{BTreeSet, HashSet};

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap()
}

fn err_text<T: redis::FromRedisValue + std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    let e = r.unwrap_err();
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
}

#[test]
fn basic_commands_and_encodings() {
    let s = Server::start();
    let mut c = s.conn();
    let n: i64 = c.sadd("s", &[3, 1, 2, 2]).unwrap();
    assert_eq!(n, 3);
    assert_eq!(encoding(&mut c, "s"), "intset");
    let m: Vec<String> = c.smembers("s").unwrap();
    assert_eq!(m, strs(&["1", "2", "3"]), "intset replies in order");
    assert!(c.sismember::<_, _, bool>("s", 2).unwrap());
    assert!(!c.sismember::<_, _, bool>("s", "02").unwrap());
    let mm: Vec<i64> = redis::cmd("SMISMEMBER")
        .arg("s")
        .arg(1)
        .arg(9)
        .arg(3)
        .query(&mut c)
        .unwrap();
    assert_eq!(mm, vec![1, 0, 1]);
    assert_eq!(c.scard::<_, i64>("s").unwrap(), 3);
    // A non-integer converts to the hash table, which stays after removal.
    let _: i64 = c.sadd("s", "x").unwrap();
    assert_eq!(encoding(&mut c, "s"), "hashtable");
    let _: i64 = c.srem("s", "x").unwrap();
    assert_eq!(encoding(&mut c, "s"), "hashtable");
    let m: Vec<String> = c.smembers("s").unwrap();
    assert_eq!(sorted(m), strs(&["1", "2", "3"]));
    // Removing the last member deletes the key.
    let n: i64 = c.srem("s", &[1, 2, 3, 4]).unwrap();
    assert_eq!(n, 3);
    assert!(!c.exists::<_, bool>("s").unwrap());
    assert_eq!(c.scard::<_, i64>("s").unwrap(), 0);
    // Integers beyond 64 bits and non-canonical forms are strings.
    let _: i64 = c.sadd("big", "9223372036854775807").unwrap();
    assert_eq!(encoding(&mut c, "big"), "intset");
    let _: i64 = c.sadd("big", "9223372036854775808").unwrap();
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let _: i64 = c.sadd("nc", "+1").unwrap();
    assert_eq!(encoding(&mut c, "nc"), "hashtable");
}

#[test]
fn intset_limit_via_config() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("set-max-intset-entries")
        .arg(4)
        .query(&mut c)
        .unwrap();
    let _: i64 = c.sadd("k", &[1, 2, 3, 4]).unwrap();
    assert_eq!(encoding(&mut c, "k"), "intset");
    let _: i64 = c.sadd("k", 5).unwrap();
    assert_eq!(encoding(&mut c, "k"), "hashtable");
    let _: i64 = c.srem("k", &[5, 4, 3]).unwrap();
    assert_eq!(
        encoding(&mut c, "k"),
        "hashtable",
        "7.0 never converts back"
    );
    // Results of the STORE commands follow the same rule.
    let _: i64 = c.sadd("a", &[1, 2, 3, 4, 5, 6]).unwrap();
    let _: i64 = c.sadd("b", &[1, 2, 3]).unwrap();
    let n: i64 = c.sunionstore("u", &["a", "b"]).unwrap();
    assert_eq!(n, 6);
    assert_eq!(encoding(&mut c, "u"), "hashtable");
    let n: i64 = c.sinterstore("i", &["a", "b"]).unwrap();
    assert_eq!(n, 3);
    assert_eq!(encoding(&mut c, "i"), "intset");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("set-max-intset-entries")
        .arg(512)
        .query(&mut c)
        .unwrap();
    let _: i64 = c.sadd("z", (0..512).collect::<Vec<i64>>()).unwrap();
    assert_eq!(encoding(&mut c, "z"), "intset");
    let _: i64 = c.sadd("z", 512).unwrap();
    assert_eq!(encoding(&mut c, "z"), "hashtable");
    assert_eq!(c.scard::<_, i64>("z").unwrap(), 513);
}

#[test]
fn wrong_types() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c.set("str", "v").unwrap();
    let _: i64 = c.sadd("set", 1).unwrap();
    let wt = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(err_text(c.sadd::<_, _, i64>("str", 1)), wt);
    assert_eq!(err_text(c.srem::<_, _, i64>("str", 1)), wt);
    assert_eq!(err_text(c.smembers::<_, Vec<String>>("str")), wt);
    assert_eq!(err_text(c.scard::<_, i64>("str")), wt);
    assert_eq!(err_text(c.spop::<_, Option<String>>("str")), wt);
    assert_eq!(err_text(c.srandmember::<_, Option<String>>("str")), wt);
    assert_eq!(err_text(c.sinter::<_, Vec<String>>(&["nokey", "str"])), wt);
    assert_eq!(err_text(c.sunion::<_, Vec<String>>(&["set", "str"])), wt);
    assert_eq!(err_text(c.sdiff::<_, Vec<String>>(&["nokey", "str"])), wt);
    assert_eq!(
        err_text(c.sinterstore::<_, _, i64>("d", &["set", "str"])),
        wt
    );
    assert_eq!(err_text(c.smove::<_, _, _, i64>("set", "str", 1)), wt);
    assert_eq!(err_text(c.smove::<_, _, _, i64>("str", "set", 1)), wt);
    // A missing source answers 0 before the destination's type is checked.
    assert_eq!(c.smove::<_, _, _, i64>("nokey", "str", 1).unwrap(), 0);
    assert_eq!(c.get::<_, String>("str").unwrap(), "v");
    // STORE over a string destination replaces it.
    let n: i64 = c.sunionstore("str", "set").unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        redis::cmd("TYPE")
            .arg("str")
            .query::<String>(&mut c)
            .unwrap(),
        "set"
    );
}

#[test]
fn spop_and_srandmember() {
    let s = Server::start();
    let mut c = s.conn();
    let members: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let _: i64 = c.sadd("h", &members).unwrap();
    let all: HashSet<String> = members.iter().cloned().collect();
    // Distinct positive counts.
    let r: Vec<String> = c.srandmember_multiple("h", 20).unwrap();
    assert_eq!(r.len(), 20);
    assert_eq!(r.iter().collect::<HashSet<_>>().len(), 20);
    assert!(r.iter().all(|m| all.contains(m)));
    let r: Vec<String> = c.srandmember_multiple("h", 100).unwrap();
    assert_eq!(r.iter().cloned().collect::<HashSet<_>>(), all);
    // Negative counts may repeat and return exactly |count|.
    let r: Vec<String> = redis::cmd("SRANDMEMBER")
        .arg("h")
        .arg(-200)
        .query(&mut c)
        .unwrap();
    assert_eq!(r.len(), 200);
    assert!(r.iter().all(|m| all.contains(m)));
    // SRANDMEMBER never changes the set.
    assert_eq!(c.scard::<_, i64>("h").unwrap(), 50);
    // SPOP with a count removes what it returns.
    let popped: Vec<String> = redis::cmd("SPOP").arg("h").arg(15).query(&mut c).unwrap();
    assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 15);
    for m in &popped {
        assert!(!c.sismember::<_, _, bool>("h", m).unwrap());
    }
    assert_eq!(c.scard::<_, i64>("h").unwrap(), 35);
    let one: String = c.spop("h").unwrap();
    assert!(all.contains(&one) && !popped.contains(&one));
    let rest: Vec<String> = redis::cmd("SPOP").arg("h").arg(1000).query(&mut c).unwrap();
    assert_eq!(rest.len(), 34);
    assert!(!c.exists::<_, bool>("h").unwrap());
    // Intset pops keep the encoding and order of the remainder.
    let _: i64 = c.sadd("i", (0..100).collect::<Vec<i64>>()).unwrap();
    let popped: Vec<i64> = redis::cmd("SPOP").arg("i").arg(30).query(&mut c).unwrap();
    assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), 30);
    let rest: Vec<i64> = c.smembers("i").unwrap();
    assert_eq!(rest.len(), 70);
    assert!(rest.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(encoding(&mut c, "i"), "intset");
    // Errors.
    let e = err_text(redis::cmd("SPOP").arg("i").arg(-1).query::<()>(&mut c));
    assert_eq!(e, "ERR value is out of range, must be positive");
    let e = err_text(
        redis::cmd("SRANDMEMBER")
            .arg("i")
            .arg("-9223372036854775808")
            .query::<()>(&mut c),
    );
    assert!(
        e.contains("value is out of range, value must between"),
        "{e}"
    );
    let e = err_text(
        redis::cmd("SPOP")
            .arg("i")
            .arg(1)
            .arg(2)
            .query::<()>(&mut c),
    );
    assert_eq!(e, "ERR syntax error");
}

#[test]
fn algebra_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    // Many keys: some pairs certainly live on different shards.
    for i in 0..6 {
        let k = format!("k{i}");
        let members: Vec<i64> = (i..i + 10).collect();
        let _: i64 = c.sadd(&k, members).unwrap();
    }
    let _: i64 = c.sadd("k6", &["a", "5", "9"]).unwrap();
    for (a, b) in [("k0", "k1"), ("k0", "k5"), ("k2", "k4"), ("k1", "k6")] {
        let sa: BTreeSet<String> = c.smembers(a).unwrap();
        let sb: BTreeSet<String> = c.smembers(b).unwrap();
        let inter: BTreeSet<String> = c.sinter(&[a, b]).unwrap();
        assert_eq!(inter, sa.intersection(&sb).cloned().collect());
        let union: BTreeSet<String> = c.sunion(&[a, b]).unwrap();
        assert_eq!(union, sa.union(&sb).cloned().collect());
        let diff: BTreeSet<String> = c.sdiff(&[a, b]).unwrap();
        assert_eq!(diff, sa.difference(&sb).cloned().collect());
        let card: i64 = redis::cmd("SINTERCARD")
            .arg(2)
            .arg(a)
            .arg(b)
            .query(&mut c)
            .unwrap();
        assert_eq!(card as usize, sa.intersection(&sb).count());
        for dst in ["d0", "d1", "d2", "d3"] {
            let n: i64 = c.sinterstore(dst, &[a, b]).unwrap();
            assert_eq!(n as usize, inter.len());
            let got: BTreeSet<String> = c.smembers(dst).unwrap();
            assert_eq!(got, inter);
            let n: i64 = c.sunionstore(dst, &[a, b]).unwrap();
            assert_eq!(n as usize, union.len());
            let n: i64 = c.sdiffstore(dst, &[a, b]).unwrap();
            assert_eq!(n as usize, diff.len());
            let got: BTreeSet<String> = c.smembers(dst).unwrap();
            assert_eq!(got, diff);
        }
    }
    let card: i64 = redis::cmd("SINTERCARD")
        .arg(3)
        .arg("k0")
        .arg("k3")
        .arg("k5")
        .arg("LIMIT")
        .arg(2)
        .query(&mut c)
        .unwrap();
    assert_eq!(card, 2);
    // An empty result deletes the destination wherever it lives.
    for dst in ["e0", "e1", "e2", "e3"] {
        let _: () = c.set(dst, "x").unwrap();
        let n: i64 = c.sinterstore(dst, &["k0", "nokey"]).unwrap();
        assert_eq!(n, 0);
        assert!(!c.exists::<_, bool>(dst).unwrap());
    }
    // The destination may also be a source.
    let n: i64 = c.sunionstore("k0", &["k0", "k5"]).unwrap();
    assert_eq!(n, 15);
}

#[test]
fn smove_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    for i in 0..8 {
        let src = format!("src{i}");
        let dst = format!("dst{i}");
        let _: i64 = c.sadd(&src, &["a", "b"]).unwrap();
        assert_eq!(c.smove::<_, _, _, i64>(&src, &dst, "a").unwrap(), 1);
        assert_eq!(c.smove::<_, _, _, i64>(&src, &dst, "a").unwrap(), 0);
        assert_eq!(c.smove::<_, _, _, i64>(&src, &dst, "b").unwrap(), 1);
        assert!(!c.exists::<_, bool>(&src).unwrap());
        let m: BTreeSet<String> = c.smembers(&dst).unwrap();
        assert_eq!(m, ["a", "b"].iter().map(|s| s.to_string()).collect());
        let _: () = c.set(&src, "str").unwrap();
        let _: i64 = c.sadd(format!("x{i}"), "m").unwrap();
        let e = err_text(c.smove::<_, _, _, i64>(&format!("x{i}"), &src, "m"));
        assert!(e.starts_with("WRONGTYPE"), "{e}");
        assert!(c.sismember::<_, _, bool>(&format!("x{i}"), "m").unwrap());
    }
}

#[test]
fn sscan_covers_members_under_writes() {
    let s = Server::start();
    let mut c = s.conn();
    let members: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
    let _: i64 = c.sadd("h", &members).unwrap();
    let mut seen = HashSet::new();
    let mut cursor: u64 = 0;
    let mut round = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SSCAN")
            .arg("h")
            .arg(cursor)
            .arg("COUNT")
            .arg(20)
            .query(&mut c)
            .unwrap();
        seen.extend(batch);
        // Remove odd members and add new ones while scanning.
        let _: i64 = c.srem("h", format!("m{}", (round * 2 + 1) % 500)).unwrap();
        let _: i64 = c.sadd("h", format!("new{round}")).unwrap();
        round += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in (0..500).step_by(2) {
        assert!(seen.contains(&format!("m{i}")), "m{i} missed");
    }
    // MATCH filters; intsets come back whole with cursor 0.
    let _: i64 = c.sadd("i", &[1, 10, 11, 2]).unwrap();
    let (next, got): (u64, Vec<String>) = redis::cmd("SSCAN")
        .arg("i")
        .arg(0)
        .arg("MATCH")
        .arg("1*")
        .arg("COUNT")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(next, 0);
    assert_eq!(got, strs(&["1", "10", "11"]));
    let e = err_text(
        redis::cmd("SSCAN")
            .arg("i")
            .arg(0)
            .arg("COUNT")
            .arg(0)
            .query::<()>(&mut c),
    );
    assert_eq!(e, "ERR syntax error");
    let e = err_text(redis::cmd("SSCAN").arg("i").arg("x").query::<()>(&mut c));
    assert_eq!(e, "ERR invalid cursor");
}

#[test]
fn raw_bytes_and_resp3() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SADD", "s", "2", "1"]), b":2\r\n");
    assert_eq!(r.cmd(&["SMEMBERS", "s"]), b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(r.cmd(&["SPOP", "nokey"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["SPOP", "nokey", "1"]), b"*0\r\n");
    assert_eq!(r.cmd(&["SSCAN", "nokey", "0"]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    // Binary members with NUL and CR/LF.
    assert_eq!(r.cmd(&[&b"SADD"[..], b"b", b"a\0b", b"\r\n"]), b":2\r\n");
    assert_eq!(r.cmd(&[&b"SISMEMBER"[..], b"b", b"a\0b"]), b":1\r\n");
    let _ = r.call(&["HELLO", "3"]);
    assert_eq!(r.cmd(&["SMEMBERS", "s"]), b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(r.cmd(&["SMEMBERS", "nokey"]), b"~0\r\n");
    assert_eq!(r.cmd(&["SPOP", "nokey"]), b"_\r\n");
    assert_eq!(r.cmd(&["SPOP", "nokey", "2"]), b"~0\r\n");
    assert_eq!(r.cmd(&["SRANDMEMBER", "nokey", "2"]), b"*0\r\n");
    assert_eq!(
        r.cmd(&["SRANDMEMBER", "s", "5"]),
        b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(r.cmd(&["SINTER", "s", "nokey"]), b"~0\r\n");
    assert_eq!(
        r.cmd(&["SUNION", "s", "other"]),
        b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(r.cmd(&["SPOP", "s", "5"]), b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(r.cmd(&["EXISTS", "s"]), b":0\r\n");
}

#[test]
fn expired_sets_read_as_missing() {
    let s = Server::start();
    let mut c = s.conn();
    let _: i64 = c.sadd("t", &[1, 2]).unwrap();
    let _: i64 = redis::cmd("PEXPIREAT")
        .arg("t")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(c.scard::<_, i64>("t").unwrap(), 0);
    let n: i64 = c.sunionstore("u", &["t", "nokey"]).unwrap();
    assert_eq!(n, 0);
    // SADD to a fresh key after expiry starts a new set without TTL.
    let _: i64 = c.sadd("t", 3).unwrap();
    assert_eq!(c.ttl::<_, i64>("t").unwrap(), -1);
    let m: Vec<i64> = c.smembers("t").unwrap();
    assert_eq!(m, vec![3]);
}

#[test]
fn algebra_matches_a_model_over_many_keys() {
    let s = Server::start();
    let mut c = s.conn();
    // A deterministic pseudo-random workload over 10 keys (spread over the 3
    // shards), mixing intsets, hash tables, missing keys and duplicates.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let keys: Vec<String> = (0..10).map(|i| format!("mk{i}")).collect();
    let mut model: Vec<BTreeSet<String>> = vec![BTreeSet::new(); keys.len()];
    for (i, k) in keys.iter().enumerate() {
        if i == 9 {
            continue; // stays missing
        }
        let n = 1 + next(40);
        for _ in 0..n {
            let m = if i % 3 == 0 && next(4) == 0 {
                format!("s{}", next(30))
            } else {
                next(30).to_string()
            };
            let _: i64 = c.sadd(k, &m).unwrap();
            model[i].insert(m);
        }
    }
    // A big set, so the smallest-set path and filtering hops are exercised.
    let big: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let _: i64 = c.sadd("mkbig", &big).unwrap();
    for round in 0..60 {
        let nkeys = 1 + next(4) as usize;
        let pick: Vec<usize> = (0..nkeys).map(|_| next(10) as usize).collect();
        let mut names: Vec<&str> = pick.iter().map(|&i| keys[i].as_str()).collect();
        let mut sets: Vec<BTreeSet<String>> = pick.iter().map(|&i| model[i].clone()).collect();
        if round % 5 == 0 {
            names.push("mkbig");
            sets.push(big.iter().cloned().collect());
        }
        let inter = sets[1..].iter().fold(sets[0].clone(), |acc, s| {
            acc.intersection(s).cloned().collect()
        });
        let union = sets
            .iter()
            .fold(BTreeSet::new(), |acc, s| acc.union(s).cloned().collect());
        let diff = sets[1..].iter().fold(sets[0].clone(), |acc, s| {
            acc.difference(s).cloned().collect()
        });
        let got: BTreeSet<String> = c.sinter(&names).unwrap();
        assert_eq!(got, inter, "SINTER {names:?}");
        let got: BTreeSet<String> = c.sunion(&names).unwrap();
        assert_eq!(got, union, "SUNION {names:?}");
        let got: BTreeSet<String> = c.sdiff(&names).unwrap();
        assert_eq!(got, diff, "SDIFF {names:?}");
        let card: i64 = redis::cmd("SINTERCARD")
            .arg(names.len())
            .arg(&names)
            .query(&mut c)
            .unwrap();
        assert_eq!(card as usize, inter.len());
        let dst = format!("mdst{}", round % 4);
        let n: i64 = c.sdiffstore(&dst, &names).unwrap();
        assert_eq!(n as usize, diff.len());
        let got: BTreeSet<String> = c.smembers(&dst).unwrap();
        assert_eq!(got, diff);
        let n: i64 = c.sinterstore(&dst, &names).unwrap();
        assert_eq!(n as usize, inter.len());
        let got: BTreeSet<String> = c.smembers(&dst).unwrap();
        assert_eq!(got, inter);
        assert_eq!(c.exists::<_, bool>(&dst).unwrap(), !inter.is_empty());
    }
}

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    common::info_value(&info, field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
}

#[test]
fn statistics_follow_redis() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    // The sources of the STORE variants are read lookups (hits and misses).
    let _: i64 = c.sunionstore("d", &["nokey1", "nokey2"]).unwrap();
    let _: i64 = c.sinterstore("d", &["nokey1", "nokey2"]).unwrap();
    assert_eq!(info_field(&mut c, "stats", "keyspace_misses"), 4);
    let _: i64 = c.sadd("a", &[1, 2]).unwrap();
    let _: Vec<String> = c.sdiff(&["a", "nokey3"]).unwrap();
    assert_eq!(info_field(&mut c, "stats", "keyspace_hits"), 1);
    assert_eq!(info_field(&mut c, "stats", "keyspace_misses"), 5);
    // Changes: SADD counts added members, SREM removed ones, SMOVE one plus
    // one more when the destination gained the member.
    let before = info_field(&mut c, "persistence", "rdb_changes_since_last_save");
    let _: i64 = c.sadd("{t}x", &[1, 2, 3]).unwrap();
    let _: i64 = c.sadd("{t}x", &[3]).unwrap();
    let _: i64 = c.srem("{t}x", &[1, 9]).unwrap();
    let _: i64 = c.smove("{t}x", "{t}y", 2).unwrap();
    let after = info_field(&mut c, "persistence", "rdb_changes_since_last_save");
    assert_eq!(after - before, 3 + 1 + 2);
}
