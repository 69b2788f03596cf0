//! List commands against the real binary (3 shards): every command and option,
//! wrong types, boundary indexes, node-size configuration, RESP2/RESP3 null
//! forms, and the multi-key commands over keys on different shards.

mod common;

use common::reference::{Item, Reference, compare_replies, quote_args};
use common::*;
use coreshard::command::list::{End, WrongType, lmove, mpop, pop_count, push};
use coreshard::storage::Db;
use coreshard::storage::Value as StoredValue;
use redis::{Commands, Value};

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn lrange(c: &mut redis::Connection, k: &str) -> Vec<String> {
    c.lrange(k, 0, -1).unwrap()
}

fn err_text<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    let e = r.unwrap_err();
    format!("{e}")
}

#[test]
fn push_pop_len_range() {
    let s = Server::start();
    let mut c = s.conn();
    assert_eq!(c.rpush::<_, _, i64>("l", &["a", "b", "c"]).unwrap(), 3);
    assert_eq!(c.lpush::<_, _, i64>("l", &["z", "y"]).unwrap(), 5);
    assert_eq!(lrange(&mut c, "l"), strs(&["y", "z", "a", "b", "c"]));
    assert_eq!(c.llen::<_, i64>("l").unwrap(), 5);
    assert_eq!(
        c.lrange::<_, Vec<String>>("l", -2, 100).unwrap(),
        strs(&["b", "c"])
    );
    assert_eq!(c.lrange::<_, Vec<String>>("l", 3, 1).unwrap(), strs(&[]));
    assert_eq!(
        c.lrange::<_, Vec<String>>("l", -100, 0).unwrap(),
        strs(&["y"])
    );
    assert_eq!(
        c.lrange::<_, Vec<String>>("nokey", 0, -1).unwrap(),
        strs(&[])
    );
    assert_eq!(c.lpop::<_, String>("l", None).unwrap(), "y");
    assert_eq!(c.rpop::<_, String>("l", None).unwrap(), "c");
    assert_eq!(
        c.lpop::<_, Vec<String>>("l", std::num::NonZeroUsize::new(2))
            .unwrap(),
        strs(&["z", "a"])
    );
    assert_eq!(
        c.rpop::<_, Vec<String>>("l", std::num::NonZeroUsize::new(10))
            .unwrap(),
        strs(&["b"])
    );
    assert_eq!(c.exists::<_, i64>("l").unwrap(), 0, "emptied list deleted");
    assert_eq!(c.lpop::<_, Option<String>>("l", None).unwrap(), None);
    // X variants only push onto existing lists.
    assert_eq!(c.lpush_exists::<_, _, i64>("l", "a").unwrap(), 0);
    assert_eq!(c.rpush_exists::<_, _, i64>("l", "a").unwrap(), 0);
    assert_eq!(c.exists::<_, i64>("l").unwrap(), 0);
    c.rpush::<_, _, i64>("l", "m").unwrap();
    assert_eq!(
        redis::cmd("LPUSHX")
            .arg("l")
            .arg("a")
            .arg("b")
            .query::<i64>(&mut c)
            .unwrap(),
        3
    );
    assert_eq!(
        redis::cmd("RPUSHX")
            .arg("l")
            .arg("y")
            .arg("z")
            .query::<i64>(&mut c)
            .unwrap(),
        5
    );
    assert_eq!(lrange(&mut c, "l"), strs(&["b", "a", "m", "y", "z"]));
}

#[test]
fn pop_count_forms_resp2_and_resp3() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["RPUSH", "l", "a", "b"]);
    assert_eq!(r.cmd(&["LPOP", "nokey"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["LPOP", "nokey", "1"]), b"*-1\r\n");
    assert_eq!(r.cmd(&["LPOP", "nokey", "0"]), b"*-1\r\n");
    assert_eq!(r.cmd(&["LPOP", "l", "0"]), b"*0\r\n");
    assert_eq!(r.cmd(&["RPOP", "l", "1"]), b"*1\r\n$1\r\nb\r\n");
    assert_eq!(
        r.cmd(&["LPOP", "l", "-1"]),
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOP", "l", "x"]),
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        r.cmd(&["RPOP", "l", "1", "2"]),
        b"-ERR wrong number of arguments for 'rpop' command\r\n"
    );
    assert_eq!(r.cmd(&["LMPOP", "1", "nokey", "LEFT"]), b"*-1\r\n");
    assert_eq!(r.cmd(&["LPOS", "nokey", "a"]), b"$-1\r\n");
    r.cmd(&["HELLO", "3"]);
    assert_eq!(r.cmd(&["LPOP", "nokey"]), b"_\r\n");
    assert_eq!(r.cmd(&["LPOP", "nokey", "2"]), b"_\r\n");
    assert_eq!(r.cmd(&["LMPOP", "1", "nokey", "LEFT"]), b"_\r\n");
    assert_eq!(r.cmd(&["LINDEX", "l", "5"]), b"_\r\n");
    assert_eq!(r.cmd(&["LPOS", "l", "zz"]), b"_\r\n");
    assert_eq!(r.cmd(&["LPOS", "l", "zz", "COUNT", "0"]), b"*0\r\n");
    assert_eq!(r.cmd(&["LMOVE", "nokey", "x", "LEFT", "LEFT"]), b"_\r\n");
    assert_eq!(r.cmd(&["LPOP", "l"]), b"$1\r\na\r\n");
}

#[test]
fn binary_safe_elements() {
    let s = Server::start();
    let mut r = s.raw();
    let big = vec![0u8; 100_000];
    let weird: &[u8] = b"a\r\n\x00b";
    r.cmd(&[&b"RPUSH"[..], b"bin", weird, b"", &big]);
    assert_eq!(r.cmd(&["LLEN", "bin"]), b":3\r\n");
    assert_eq!(r.cmd(&["LINDEX", "bin", "0"]), b"$5\r\na\r\n\x00b\r\n");
    assert_eq!(r.cmd(&["LINDEX", "bin", "1"]), b"$0\r\n\r\n");
    let got = r.cmd(&["LINDEX", "bin", "-1"]);
    assert_eq!(got.len(), 100_000 + 11);
    assert_eq!(
        r.cmd(&[&b"LPOS"[..], b"bin", weird]),
        b":0\r\n",
        "binary element found"
    );
}

#[test]
fn index_set_insert() {
    let s = Server::start();
    let mut c = s.conn();
    c.rpush::<_, _, i64>("l", &["a", "b", "c"]).unwrap();
    assert_eq!(c.lindex::<_, String>("l", 0).unwrap(), "a");
    assert_eq!(c.lindex::<_, String>("l", -1).unwrap(), "c");
    assert_eq!(c.lindex::<_, Option<String>>("l", 3).unwrap(), None);
    assert_eq!(c.lindex::<_, Option<String>>("l", -4).unwrap(), None);
    assert_eq!(c.lindex::<_, Option<String>>("nokey", 0).unwrap(), None);
    let _: () = c.lset("l", -1, "C").unwrap();
    let _: () = c.lset("l", 0, "A").unwrap();
    assert!(err_text(c.lset::<_, _, ()>("l", 3, "x")).contains("index out of range"));
    assert!(err_text(c.lset::<_, _, ()>("l", -4, "x")).contains("index out of range"));
    assert!(err_text(c.lset::<_, _, ()>("nokey", 0, "x")).contains("no such key"));
    assert_eq!(c.linsert_before::<_, _, _, i64>("l", "b", "x").unwrap(), 4);
    assert_eq!(c.linsert_after::<_, _, _, i64>("l", "C", "y").unwrap(), 5);
    assert_eq!(
        c.linsert_after::<_, _, _, i64>("l", "nope", "y").unwrap(),
        -1
    );
    assert_eq!(
        c.linsert_after::<_, _, _, i64>("nokey", "a", "y").unwrap(),
        0
    );
    assert_eq!(lrange(&mut c, "l"), strs(&["A", "x", "b", "C", "y"]));
    let e = redis::cmd("LINSERT")
        .arg("l")
        .arg("middle")
        .arg("b")
        .arg("q")
        .query::<i64>(&mut c);
    assert!(err_text(e).contains("syntax error"));
    let e = redis::cmd("LINDEX")
        .arg("l")
        .arg("x")
        .query::<String>(&mut c);
    assert!(err_text(e).contains("not an integer"));
}

#[test]
fn rem_and_trim() {
    let s = Server::start();
    let mut c = s.conn();
    c.rpush::<_, _, i64>("l", &["a", "b", "a", "c", "a", "b", "a"])
        .unwrap();
    assert_eq!(c.lrem::<_, _, i64>("l", 1, "a").unwrap(), 1);
    assert_eq!(lrange(&mut c, "l"), strs(&["b", "a", "c", "a", "b", "a"]));
    assert_eq!(c.lrem::<_, _, i64>("l", -2, "a").unwrap(), 2);
    assert_eq!(lrange(&mut c, "l"), strs(&["b", "a", "c", "b"]));
    assert_eq!(c.lrem::<_, _, i64>("l", 0, "b").unwrap(), 2);
    assert_eq!(c.lrem::<_, _, i64>("l", 0, "zz").unwrap(), 0);
    assert_eq!(c.lrem::<_, _, i64>("nokey", 0, "zz").unwrap(), 0);
    assert_eq!(lrange(&mut c, "l"), strs(&["a", "c"]));
    assert_eq!(c.lrem::<_, _, i64>("l", 0, "a").unwrap(), 1);
    assert_eq!(c.lrem::<_, _, i64>("l", 0, "c").unwrap(), 1);
    assert_eq!(c.exists::<_, i64>("l").unwrap(), 0);

    c.rpush::<_, _, i64>("t", &["0", "1", "2", "3", "4", "5"])
        .unwrap();
    let _: () = c.ltrim("t", 1, -2).unwrap();
    assert_eq!(lrange(&mut c, "t"), strs(&["1", "2", "3", "4"]));
    let _: () = c.ltrim("t", -100, 100).unwrap();
    assert_eq!(lrange(&mut c, "t"), strs(&["1", "2", "3", "4"]));
    let _: () = c.ltrim("t", 2, 2).unwrap();
    assert_eq!(lrange(&mut c, "t"), strs(&["3"]));
    let _: () = c.ltrim("t", 5, 10).unwrap();
    assert_eq!(
        c.exists::<_, i64>("t").unwrap(),
        0,
        "trimmed to nothing: deleted"
    );
    let _: () = c.ltrim("nokey", 0, 1).unwrap();
}

#[test]
fn lpos_options() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(r.cmd(&["LPOS", "l", "c"]), b":2\r\n");
    assert_eq!(r.cmd(&["LPOS", "l", "c", "RANK", "2"]), b":6\r\n");
    assert_eq!(r.cmd(&["LPOS", "l", "c", "RANK", "-1"]), b":7\r\n");
    assert_eq!(r.cmd(&["LPOS", "l", "c", "RANK", "-3"]), b":2\r\n");
    assert_eq!(r.cmd(&["LPOS", "l", "c", "RANK", "4"]), b"$-1\r\n");
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "COUNT", "0"]),
        b"*3\r\n:2\r\n:6\r\n:7\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "COUNT", "2", "RANK", "-1"]),
        b"*2\r\n:7\r\n:6\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "3"]),
        b"*1\r\n:2\r\n"
    );
    assert_eq!(r.cmd(&["LPOS", "l", "c", "MAXLEN", "1"]), b"$-1\r\n");
    assert_eq!(r.cmd(&["LPOS", "nokey", "c", "COUNT", "1"]), b"*0\r\n");
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "RANK", "0"]),
        b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
    );
    // Redis 7.0 wraps -LONG_MIN: it behaves as a search from the tail where
    // COUNT never stops the scan.
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "RANK", "-9223372036854775808"]),
        b":7\r\n"
    );
    assert_eq!(
        r.cmd(&[
            "LPOS",
            "l",
            "c",
            "RANK",
            "-9223372036854775808",
            "COUNT",
            "1"
        ]),
        b"*3\r\n:7\r\n:6\r\n:2\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "COUNT", "-1"]),
        b"-ERR COUNT can't be negative\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "MAXLEN", "x"]),
        b"-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "RANK", "x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(r.cmd(&["LPOS", "l", "c", "RANK"]), b"-ERR syntax error\r\n");
    assert_eq!(
        r.cmd(&["LPOS", "l", "c", "FOO", "1"]),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn wrong_type_everywhere() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "s", "x"]);
    r.cmd(&["RPUSH", "l", "a"]);
    let wt: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        vec!["LPUSH", "s", "a"],
        vec!["RPUSH", "s", "a"],
        vec!["LPUSHX", "s", "a"],
        vec!["RPUSHX", "s", "a"],
        vec!["LPOP", "s"],
        vec!["RPOP", "s", "2"],
        vec!["LLEN", "s"],
        vec!["LRANGE", "s", "0", "-1"],
        vec!["LINDEX", "s", "0"],
        vec!["LSET", "s", "0", "a"],
        vec!["LINSERT", "s", "BEFORE", "a", "b"],
        vec!["LREM", "s", "0", "a"],
        vec!["LTRIM", "s", "0", "1"],
        vec!["LPOS", "s", "a"],
        vec!["LMOVE", "s", "l", "LEFT", "LEFT"],
        vec!["LMOVE", "l", "s", "LEFT", "LEFT"],
        vec!["RPOPLPUSH", "l", "s"],
        vec!["LMPOP", "2", "nokey", "s", "LEFT"],
    ] {
        assert_eq!(r.cmd(&cmd), wt, "{cmd:?}");
    }
    assert_eq!(
        r.cmd(&["LRANGE", "l", "0", "-1"]),
        b"*1\r\n$1\r\na\r\n",
        "nothing moved"
    );
    // Missing source wins over a wrong-typed destination (Redis order).
    assert_eq!(r.cmd(&["LMOVE", "nokey", "s", "LEFT", "LEFT"]), b"$-1\r\n");
    // Parse errors before the type check where Redis parses first.
    assert_eq!(
        r.cmd(&["LRANGE", "s", "x", "1"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(r.cmd(&["LINDEX", "s", "x"]), wt);
    assert_eq!(
        r.cmd(&["LMOVE", "s", "l", "UP", "LEFT"]),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn move_and_mpop_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let k = key_per_shard("lk");
    let (a, b, d) = (&k[0], &k[1], &k[2]);
    c.rpush::<_, _, i64>(a, &["1", "2", "3"]).unwrap();
    assert_eq!(
        c.lmove::<_, _, String>(a, b, redis::Direction::Left, redis::Direction::Right)
            .unwrap(),
        "1"
    );
    assert_eq!(c.rpoplpush::<_, _, String>(a, b).unwrap(), "3");
    assert_eq!(lrange(&mut c, b), strs(&["3", "1"]));
    assert_eq!(
        c.lmove::<_, _, String>(a, d, redis::Direction::Right, redis::Direction::Left)
            .unwrap(),
        "2"
    );
    assert_eq!(c.exists::<_, i64>(a).unwrap(), 0, "emptied source deleted");
    assert_eq!(
        c.lmove::<_, _, Option<String>>(a, d, redis::Direction::Right, redis::Direction::Left)
            .unwrap(),
        None
    );
    // Same key: rotation.
    assert_eq!(c.rpoplpush::<_, _, String>(b, b).unwrap(), "1");
    assert_eq!(lrange(&mut c, b), strs(&["1", "3"]));

    // LMPOP over keys on every shard: first non-empty list in key order.
    let v: Value = redis::cmd("LMPOP")
        .arg(4)
        .arg("nokey")
        .arg(a)
        .arg(d)
        .arg(b)
        .arg("RIGHT")
        .arg("COUNT")
        .arg(5)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            Value::BulkString(d.as_bytes().to_vec()),
            Value::Array(vec![Value::BulkString(b"2".to_vec())])
        ])
    );
    let v: Value = redis::cmd("LMPOP")
        .arg(3)
        .arg(a)
        .arg(d)
        .arg(b)
        .arg("LEFT")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            Value::BulkString(b.as_bytes().to_vec()),
            Value::Array(vec![Value::BulkString(b"1".to_vec())])
        ])
    );
    let v: Value = redis::cmd("LMPOP")
        .arg(2)
        .arg(a)
        .arg(d)
        .arg("LEFT")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil);
    // A wrong type stops the scan; later keys are not popped.
    let _: () = c.set(d, "str").unwrap();
    let e = redis::cmd("LMPOP")
        .arg(3)
        .arg(a)
        .arg(d)
        .arg(b)
        .arg("LEFT")
        .query::<Value>(&mut c);
    assert!(err_text(e).contains("WRONGTYPE"));
    assert_eq!(lrange(&mut c, b), strs(&["3"]));
    // Cross-shard LMOVE into a wrong-typed destination: nothing moves.
    let e = c.lmove::<_, _, String>(b, d, redis::Direction::Left, redis::Direction::Left);
    assert!(err_text(e).contains("WRONGTYPE"));
    assert_eq!(lrange(&mut c, b), strs(&["3"]));
    // Argument errors.
    for (args, want) in [
        (
            vec!["LMPOP", "0", "a", "LEFT"],
            "numkeys should be greater than 0",
        ),
        (vec!["LMPOP", "5", "a", "b", "LEFT"], "syntax error"),
        (vec!["LMPOP", "2", "a", "b", "UP"], "syntax error"),
        (
            vec!["LMPOP", "2", "a", "b", "LEFT", "COUNT", "0"],
            "count should be greater than 0",
        ),
        (
            vec!["LMPOP", "2", "a", "b", "LEFT", "COUNT", "1", "COUNT", "1"],
            "syntax error",
        ),
    ] {
        let mut cmd = redis::cmd(args[0]);
        for x in &args[1..] {
            cmd.arg(*x);
        }
        let e = cmd.query::<Value>(&mut c);
        assert!(err_text(e).contains(want), "{args:?}");
    }
}

#[test]
fn many_keys_over_all_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let keys = keys_on_every_shard("many", 3);
    for (i, k) in keys.iter().enumerate() {
        for j in 0..i + 1 {
            c.rpush::<_, _, i64>(k, j.to_string()).unwrap();
        }
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(c.llen::<_, i64>(k).unwrap(), i as i64 + 1);
    }
    // Drain everything through cross-shard LMOVEs into one list.
    let sink = "sink";
    for k in &keys {
        while c
            .lmove::<_, _, Option<String>>(k, sink, redis::Direction::Left, redis::Direction::Right)
            .unwrap()
            .is_some()
        {}
    }
    let total: usize = (1..=keys.len()).sum();
    assert_eq!(c.llen::<_, usize>(sink).unwrap(), total);
    for k in &keys {
        assert_eq!(c.exists::<_, i64>(k).unwrap(), 0);
    }
}

#[test]
fn large_lists_and_node_sizes() {
    for size in ["-1", "-5", "4", "1"] {
        let s = Server::start();
        let mut c = s.conn();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("list-max-listpack-size")
            .arg(size)
            .query(&mut c)
            .unwrap();
        let n = 2000;
        let mut want: std::collections::VecDeque<String> = Default::default();
        for i in 0..n {
            let v = format!("{i}-{}", "x".repeat(i % 97));
            if i % 2 == 0 {
                c.rpush::<_, _, i64>("big", &v).unwrap();
                want.push_back(v);
            } else {
                c.lpush::<_, _, i64>("big", &v).unwrap();
                want.push_front(v);
            }
        }
        assert_eq!(
            redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg("big")
                .query::<String>(&mut c)
                .unwrap(),
            "quicklist"
        );
        for i in [0, 1, 500, 999, 1000, 1999] {
            assert_eq!(c.lindex::<_, String>("big", i).unwrap(), want[i as usize]);
            assert_eq!(
                c.lindex::<_, String>("big", i - 2000).unwrap(),
                want[i as usize]
            );
        }
        let got: Vec<String> = c.lrange("big", 700, 1300).unwrap();
        assert_eq!(
            got,
            want.iter().skip(700).take(601).cloned().collect::<Vec<_>>()
        );
        let _: () = c.lset("big", 1000, "y".repeat(20000)).unwrap();
        want[1000] = "y".repeat(20000);
        assert_eq!(
            c.linsert_before::<_, _, _, i64>("big", &want[1500], "ins")
                .unwrap(),
            2001
        );
        want.insert(1500, "ins".to_string());
        let _: () = c.ltrim("big", 10, -10).unwrap();
        let want: Vec<String> = want
            .iter()
            .skip(10)
            .take(want.len() - 19)
            .cloned()
            .collect();
        assert_eq!(lrange(&mut c, "big"), want);
        // Shrinks back down; the encoding name stays what Redis 7.0 reports.
        let _: () = c.ltrim("big", 0, 0).unwrap();
        assert_eq!(
            redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg("big")
                .query::<String>(&mut c)
                .unwrap(),
            "quicklist"
        );
        assert_eq!(c.llen::<_, i64>("big").unwrap(), 1);
    }
}

#[test]
fn type_and_expiry_interplay() {
    let s = Server::start();
    let mut c = s.conn();
    c.rpush::<_, _, i64>("l", &["a"]).unwrap();
    assert_eq!(
        redis::cmd("TYPE").arg("l").query::<String>(&mut c).unwrap(),
        "list"
    );
    let _: () = c.expire("l", 100).unwrap();
    c.rpush::<_, _, i64>("l", &["b"]).unwrap();
    assert!(c.ttl::<_, i64>("l").unwrap() > 0, "push keeps the TTL");
    let _: () = c.lset("l", 0, "A").unwrap();
    assert!(c.ttl::<_, i64>("l").unwrap() > 0, "LSET keeps the TTL");
    // Copy gives an independent list.
    let _: i64 = redis::cmd("COPY").arg("l").arg("l2").query(&mut c).unwrap();
    c.rpush::<_, _, i64>("l2", &["c"]).unwrap();
    assert_eq!(lrange(&mut c, "l"), strs(&["A", "b"]));
    assert_eq!(lrange(&mut c, "l2"), strs(&["A", "b", "c"]));
}

/// The random list command sequence of [`random_ops_match_redis`]: a fixed seed,
/// a few keys (spread over shards, one of them a string), three node sizes.
/// Returns (label, arguments) pairs.
fn random_list_ops() -> Vec<(String, Vec<String>)> {
    let mut seed: u64 = 0x2545f4914f6cdd1d;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let keys = ["a", "b", "c", "d", "s"];
    let long = "xyz".repeat(100);
    let vals = ["x", "y", "z", "", "1", "-1", long.as_str()];
    let idx = [
        "0", "1", "2", "-1", "-2", "3", "5", "-5", "10", "-10", "100",
    ];
    let ends = ["LEFT", "RIGHT"];
    let mut ops: Vec<(String, Vec<String>)> = Vec::new();
    let mut push = |label: String, cmd: &[&str]| {
        ops.push((label, cmd.iter().map(|a| a.to_string()).collect()));
    };
    for fill in ["-1", "2", "5"] {
        for c in [
            vec!["FLUSHALL"],
            vec!["SET", "s", "str"],
            vec!["CONFIG", "SET", "list-max-listpack-size", fill],
        ] {
            push(format!("fill {fill} setup"), &c);
        }
        for step in 0..2500 {
            let k = keys[rnd(keys.len())];
            let k2 = keys[rnd(keys.len())];
            let k3 = keys[rnd(keys.len())];
            let v = vals[rnd(vals.len())];
            let v2 = vals[rnd(vals.len())];
            let i = idx[rnd(idx.len())];
            let j = idx[rnd(idx.len())];
            let cmd: Vec<&str> = match rnd(19) {
                0 | 1 => vec!["RPUSH", k, v, v2, v],
                2 | 3 => vec!["LPUSH", k, v, v2],
                4 => vec!["LPUSHX", k, v],
                5 => vec!["RPUSHX", k, v, v2],
                6 => vec!["LPOP", k],
                7 => vec!["RPOP", k, ["0", "1", "3", "-1"][rnd(4)]],
                8 => vec!["LLEN", k],
                9 => vec!["LRANGE", k, i, j],
                10 => vec!["LINDEX", k, i],
                11 => vec!["LSET", k, i, v],
                12 => vec!["LINSERT", k, ["BEFORE", "AFTER"][rnd(2)], v, v2],
                13 => vec!["LREM", k, i, v],
                14 => vec!["LTRIM", k, i, j],
                15 => vec![
                    "LPOS",
                    k,
                    v,
                    "RANK",
                    ["1", "2", "-1", "-3"][rnd(4)],
                    "COUNT",
                    ["0", "1", "2"][rnd(3)],
                    "MAXLEN",
                    ["0", "2", "5"][rnd(3)],
                ],
                16 => vec!["LMOVE", k, k2, ends[rnd(2)], ends[rnd(2)]],
                17 => vec!["RPOPLPUSH", k, k2],
                _ => vec![
                    "LMPOP",
                    "3",
                    k,
                    k2,
                    k3,
                    ends[rnd(2)],
                    "COUNT",
                    ["1", "2", "5"][rnd(3)],
                ],
            };
            push(format!("fill {fill} step {step}"), &cmd);
            if step % 100 == 0 {
                for k in keys {
                    push(
                        format!("fill {fill} step {step} (whole list)"),
                        &["LRANGE", k, "0", "-1"],
                    );
                }
            }
        }
    }
    ops
}

/// Sends the commands one by one on one connection; returns the raw replies.
fn raw_replies(port: u16, ops: &[(String, Vec<String>)]) -> Vec<Vec<u8>> {
    let mut c = Raw::connect(port);
    ops.iter().map(|(_, cmd)| c.cmd(cmd)).collect()
}

/// Random list commands ([`random_list_ops`]) against coreshard: every raw reply
/// must match the reference Redis's, stored in `tests/cases/lists_random.redis`
/// (re-checked against a live redis-server when one is installed; regenerated
/// with `COREDIFF_RECORD=1 cargo test --release --test lists random_ops`).
#[test]
fn random_ops_match_redis() {
    let ops = random_list_ops();
    let items: Vec<Item> = ops
        .iter()
        .map(|(label, cmd)| Item {
            label: label.clone(),
            command: quote_args(cmd),
        })
        .collect();
    let reference = Reference {
        name: "lists_random",
        about: &[
            "Replies of the reference redis-server to the random list commands of",
            "random_ops_match_redis in tests/lists.rs (fixed seed), in order.",
        ],
        record_with: "COREDIFF_RECORD=1 cargo test --release --test lists random_ops",
    };
    let want = reference.expected(&items, || {
        let redis = RedisServer::start();
        raw_replies(redis.port, &ops)
    });
    let ours = Server::start();
    let got = raw_replies(ours.port, &ops);
    if let Err(report) = compare_replies(&items, "redis", &want, "coreshard", &got) {
        panic!(
            "random list commands (redis = replies stored in tests/cases/lists_random.redis):{report}"
        );
    }
}

/// The shard-side operations the blocking commands reuse, on a bare `Db`
/// (here rather than in the library's unit tests: a server started by another
/// unit test re-seeds the process-wide key hash under a live `Db`).
#[test]
fn shard_ops_on_a_db() {
    let mut db = Db::new(1);
    assert_eq!(push(&mut db, b"k", 0, End::Right, &["a", "b", "c"]), Ok(3));
    assert_eq!(
        pop_count(&mut db, b"k", 0, End::Right, 2),
        Ok(Some(vec![b"c".to_vec(), b"b".to_vec()]))
    );
    assert_eq!(
        lmove(&mut db, b"k", b"j", 0, End::Left, End::Left),
        Ok(Some(b"a".to_vec()))
    );
    assert!(db.get(b"k", 0).is_none(), "emptied source deleted");
    assert_eq!(
        lmove(&mut db, b"k", b"j", 0, End::Left, End::Left),
        Ok(None)
    );
    db.set(b"s", StoredValue::string(b"x"));
    assert_eq!(
        lmove(&mut db, b"j", b"s", 0, End::Left, End::Left),
        Err(WrongType)
    );
    assert_eq!(pop_count(&mut db, b"j", 0, End::Left, 0), Ok(Some(vec![])));
    assert_eq!(
        mpop(&mut db, &["none", "j"], 0, End::Left, 5),
        Ok(Some((b"j".to_vec(), vec![b"a".to_vec()])))
    );
    assert_eq!(
        mpop(&mut db, &["none", "s"], 0, End::Left, 5),
        Err(WrongType)
    );
    assert_eq!(mpop(&mut db, &["none"], 0, End::Left, 5), Ok(None));
    // Rotation on one key.
    push(&mut db, b"r", 0, End::Right, &["1", "2", "3"]).ok();
    assert_eq!(
        lmove(&mut db, b"r", b"r", 0, End::Right, End::Left),
        Ok(Some(b"3".to_vec()))
    );
    assert_eq!(
        pop_count(&mut db, b"r", 0, End::Left, 10),
        Ok(Some(vec![b"3".to_vec(), b"1".to_vec(), b"2".to_vec()]))
    );
}

#[test]
fn sort_pattern_lookups_count_keyspace_hits_and_misses() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c.rpush("sl", &[3, 1, 2]).unwrap();
    let _: () = redis::cmd("MSET")
        .arg(&["sw_1", "10", "sw_2", "5"])
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let v: Vec<Option<String>> = redis::cmd("SORT")
        .arg(&["sl", "BY", "sw_*", "GET", "sw_*"])
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec![None, Some("5".into()), Some("10".into())]);
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    let stat = |name: &str| -> i64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    // The list itself, then BY and GET for each element (sw_3 misses twice).
    assert_eq!(stat("keyspace_hits:"), 5);
    assert_eq!(stat("keyspace_misses:"), 2);
}
