//! Sorted-set commands through a real client and raw bytes, on 3 shards:
//! encodings and their conversions, cross-shard set operations and stores,
//! pops, random members, ZSCAN, and a random model check of the full form.

mod common;

use common::*;
use redis::Commands;

fn encoding(c: &mut redis::Connection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap()
}

fn config_set(c: &mut redis::Connection, k: &str, v: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(k)
        .arg(v)
        .query(c)
        .unwrap();
}

#[test]
fn basic_commands_and_scores() {
    let s = Server::start();
    let mut c = s.conn();
    let n: i64 = c
        .zadd_multiple("z", &[(1, "a"), (2, "b"), (3, "c")])
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(c.zcard::<_, i64>("z").unwrap(), 3);
    assert_eq!(c.zscore::<_, _, f64>("z", "b").unwrap(), 2.0);
    assert_eq!(c.zrank::<_, _, Option<i64>>("z", "c").unwrap(), Some(2));
    assert_eq!(c.zrevrank::<_, _, Option<i64>>("z", "c").unwrap(), Some(0));
    assert_eq!(c.zrank::<_, _, Option<i64>>("z", "x").unwrap(), None);
    let v: Vec<String> = c.zrange("z", 0, -1).unwrap();
    assert_eq!(v, ["a", "b", "c"]);
    let v: Vec<(String, f64)> = c.zrange_withscores("z", 0, 1).unwrap();
    assert_eq!(v, [("a".into(), 1.0), ("b".into(), 2.0)]);
    let v: Vec<String> = c.zrangebyscore("z", "(1", "+inf").unwrap();
    assert_eq!(v, ["b", "c"]);
    let v: Vec<String> = c.zrevrangebyscore("z", "+inf", "-inf").unwrap();
    assert_eq!(v, ["c", "b", "a"]);
    assert_eq!(c.zincr::<_, _, _, f64>("z", "a", 10.5).unwrap(), 11.5);
    assert_eq!(c.zcount::<_, _, _, i64>("z", 2, 20).unwrap(), 3);
    assert_eq!(c.zrem::<_, _, i64>("z", &["a", "b", "c"]).unwrap(), 3);
    assert!(!c.exists::<_, bool>("z").unwrap());
    // Scores are formatted like %.17g.
    let mut r = s.raw();
    r.cmd(&["ZADD", "f", "1.1", "x", "1e20", "y", "-0.5", "w"]);
    assert_eq!(
        r.cmd(&["ZSCORE", "f", "x"]),
        b"$18\r\n1.1000000000000001\r\n"
    );
    assert_eq!(r.cmd(&["ZSCORE", "f", "y"]), b"$5\r\n1e+20\r\n");
    r.cmd(&["HELLO", "3"]);
    assert_eq!(r.cmd(&["ZSCORE", "f", "w"]), b",-0.5\r\n");
    assert_eq!(
        r.cmd(&["ZRANGE", "f", "0", "0", "WITHSCORES"]),
        b"*1\r\n*2\r\n$1\r\nw\r\n,-0.5\r\n"
    );
    // Wrong types.
    let _: () = c.set("s", "x").unwrap();
    let e = c.zadd::<_, _, _, i64>("s", "a", 1).unwrap_err();
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
}

#[test]
fn encoding_conversions() {
    let s = Server::start();
    let mut c = s.conn();
    config_set(&mut c, "zset-max-listpack-entries", "4");
    config_set(&mut c, "zset-max-listpack-value", "8");
    for i in 0..4 {
        let _: i64 = c.zadd("z", format!("m{i}"), i).unwrap();
    }
    assert_eq!(encoding(&mut c, "z"), "listpack");
    let _: i64 = c.zadd("z", "m4", 4).unwrap();
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    // Shrinking does not convert back.
    let _: i64 = c.zrem("z", &["m0", "m1", "m2"]).unwrap();
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    let v: Vec<String> = c.zrange("z", 0, -1).unwrap();
    assert_eq!(v, ["m3", "m4"]);
    // A long member converts.
    let _: i64 = c.zadd("y", "short", 1).unwrap();
    assert_eq!(encoding(&mut c, "y"), "listpack");
    let _: i64 = c.zadd("y", "longer-than-8", 1).unwrap();
    assert_eq!(encoding(&mut c, "y"), "skiplist");
    // Store results take the encoding of their size.
    let n: i64 = redis::cmd("ZUNIONSTORE")
        .arg("dst")
        .arg(1)
        .arg("z")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(encoding(&mut c, "dst"), "listpack");
    let n: i64 = redis::cmd("ZRANGESTORE")
        .arg("dst2")
        .arg("y")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(encoding(&mut c, "dst2"), "skiplist");
}

/// Applies random operations to a large (skiplist) zset and a model.
#[test]
fn random_model_full_encoding() {
    let s = Server::start();
    let mut c = s.conn();
    config_set(&mut c, "zset-max-listpack-entries", "16");
    let mut model: std::collections::BTreeMap<String, i64> = Default::default();
    let mut seed: u64 = 0x1234_5678_9abc_def1;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..1500 {
        let m = format!("m{:03}", rnd() % 300);
        match rnd() % 4 {
            0 | 1 => {
                let sc = (rnd() % 40) as i64;
                let _: i64 = c.zadd("big", &m, sc).unwrap();
                model.insert(m, sc);
            }
            2 => {
                let _: i64 = c.zrem("big", &m).unwrap();
                model.remove(&m);
            }
            _ => {
                let mut sorted: Vec<(i64, String)> =
                    model.iter().map(|(k, v)| (*v, k.clone())).collect();
                sorted.sort();
                if let Some(pos) = sorted.iter().position(|(_, k)| *k == m) {
                    let r: Option<i64> = c.zrank("big", &m).unwrap();
                    assert_eq!(r, Some(pos as i64));
                }
                let lo = (rnd() % 40) as i64;
                let hi = lo + (rnd() % 10) as i64;
                let got: Vec<String> = c.zrangebyscore("big", lo, hi).unwrap();
                let want: Vec<String> = sorted
                    .iter()
                    .filter(|(s, _)| *s >= lo && *s <= hi)
                    .map(|(_, k)| k.clone())
                    .collect();
                assert_eq!(got, want);
                let start = (rnd() % 100) as isize;
                let got: Vec<String> = c.zrevrange("big", start, start + 7).unwrap();
                let want: Vec<String> = sorted
                    .iter()
                    .rev()
                    .skip(start as usize)
                    .take(8)
                    .map(|(_, k)| k.clone())
                    .collect();
                assert_eq!(got, want);
            }
        }
    }
    assert_eq!(c.zcard::<_, usize>("big").unwrap(), model.len());
    assert_eq!(encoding(&mut c, "big"), "skiplist");
}

#[test]
fn set_operations_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let k = key_per_shard("zk");
    assert_eq!(k.len(), 3);
    let _: i64 = c
        .zadd_multiple(&k[0], &[(1, "a"), (2, "b"), (3, "c")])
        .unwrap();
    let _: i64 = c
        .zadd_multiple(&k[1], &[(10, "b"), (20, "c"), (30, "d")])
        .unwrap();
    let v: Vec<(String, f64)> = redis::cmd("ZUNION")
        .arg(2)
        .arg(&k[0])
        .arg(&k[1])
        .arg("WITHSCORES")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        v,
        [
            ("a".into(), 1.0),
            ("b".into(), 12.0),
            ("c".into(), 23.0),
            ("d".into(), 30.0)
        ]
    );
    let v: Vec<String> = redis::cmd("ZINTER")
        .arg(2)
        .arg(&k[0])
        .arg(&k[1])
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["b", "c"]);
    let v: Vec<String> = redis::cmd("ZDIFF")
        .arg(2)
        .arg(&k[0])
        .arg(&k[1])
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["a"]);
    // Store on the third shard.
    let n: i64 = redis::cmd("ZINTERSTORE")
        .arg(&k[2])
        .arg(2)
        .arg(&k[0])
        .arg(&k[1])
        .arg("AGGREGATE")
        .arg("MAX")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let v: Vec<(String, f64)> = c.zrange_withscores(&k[2], 0, -1).unwrap();
    assert_eq!(v, [("b".into(), 10.0), ("c".into(), 20.0)]);
    let n: i64 = redis::cmd("ZINTERCARD")
        .arg(2)
        .arg(&k[0])
        .arg(&k[1])
        .arg("LIMIT")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    // An empty result deletes the destination.
    let n: i64 = redis::cmd("ZDIFFSTORE")
        .arg(&k[2])
        .arg(2)
        .arg(&k[0])
        .arg(&k[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    assert!(!c.exists::<_, bool>(&k[2]).unwrap());
    // ZRANGESTORE across shards.
    let n: i64 = redis::cmd("ZRANGESTORE")
        .arg(&k[2])
        .arg(&k[1])
        .arg("(10")
        .arg("+inf")
        .arg("BYSCORE")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let v: Vec<String> = c.zrange(&k[2], 0, -1).unwrap();
    assert_eq!(v, ["c", "d"]);
    // Wrong type on another shard.
    let _: () = c.set(&k[2], "str").unwrap();
    let e = redis::cmd("ZUNION")
        .arg(2)
        .arg(&k[0])
        .arg(&k[2])
        .query::<Vec<String>>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
}

#[test]
fn pops_and_zmpop_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let k = key_per_shard("pk");
    let _: i64 = c
        .zadd_multiple(&k[1], &[(1, "a"), (2, "b"), (3, "c")])
        .unwrap();
    let mut r = s.raw();
    // The first non-empty key wins, wherever it lives.
    assert_eq!(
        r.cmd(&["ZMPOP", "3", &k[0], &k[1], &k[2], "MAX", "COUNT", "2"]),
        format!(
            "*2\r\n${}\r\n{}\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
            k[1].len(),
            k[1]
        )
        .as_bytes()
    );
    assert_eq!(r.cmd(&["ZPOPMIN", &k[1]]), b"*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(r.cmd(&["EXISTS", &k[1]]), b":0\r\n");
    assert_eq!(
        r.cmd(&["ZMPOP", "3", &k[0], &k[1], &k[2], "MIN"]),
        b"*-1\r\n"
    );
    r.cmd(&["SET", &k[2], "x"]);
    assert!(
        r.cmd(&["ZMPOP", "3", &k[0], &k[1], &k[2], "MIN"])
            .starts_with(b"-WRONGTYPE")
    );
    r.cmd(&["ZADD", &k[0], "5", "x"]);
    r.cmd(&["HELLO", "3"]);
    assert_eq!(
        r.cmd(&["ZPOPMAX", &k[0], "1"]),
        b"*1\r\n*2\r\n$1\r\nx\r\n,5\r\n"
    );
}

#[test]
fn randmember_and_scan() {
    let s = Server::start();
    let mut c = s.conn();
    config_set(&mut c, "zset-max-listpack-entries", "8");
    let pairs: Vec<(i64, String)> = (0..200).map(|i| (i, format!("m{i}"))).collect();
    let _: i64 = c.zadd_multiple("z", &pairs).unwrap();
    let v: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("z")
        .arg(50)
        .query(&mut c)
        .unwrap();
    let uniq: std::collections::HashSet<_> = v.iter().collect();
    assert_eq!((v.len(), uniq.len()), (50, 50));
    let v: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("z")
        .arg(-300)
        .query(&mut c)
        .unwrap();
    assert_eq!(v.len(), 300);
    let v: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("z")
        .arg(500)
        .query(&mut c)
        .unwrap();
    assert_eq!(v.len(), 200);
    // A full scan returns every member once, with its score.
    let mut cursor = 0u64;
    let mut seen = std::collections::HashMap::new();
    loop {
        let (next, items): (u64, Vec<(String, f64)>) = redis::cmd("ZSCAN")
            .arg("z")
            .arg(cursor)
            .arg("COUNT")
            .arg(7)
            .query(&mut c)
            .unwrap();
        for (m, sc) in items {
            assert!(seen.insert(m, sc).is_none());
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(seen["m42"], 42.0);
}
