//! String commands through a real client, including behaviour that needs more
//! than one connection or shard: atomic counters, cross-shard MSET/MGET, expiry.

mod common;

use common::*;
use redis::{Commands, Value};
use std::time::Duration;

#[test]
fn set_get_and_options() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c.set("k", "v").unwrap();
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v3")
        .arg("XX")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(r.as_deref(), Some("v"));
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v4")
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let pttl: i64 = c.pttl("k").unwrap();
    assert!(pttl > 0 && pttl <= 1_000_000, "pttl {pttl}");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v5")
        .arg("KEEPTTL")
        .query(&mut c)
        .unwrap();
    let pttl: i64 = c.pttl("k").unwrap();
    assert!(pttl > 0 && pttl <= 1_000_000, "KEEPTTL kept pttl {pttl}");
    let _: () = c.set("k", "v6").unwrap();
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), -1);
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("NX")
        .arg("XX")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");
}

#[test]
fn binary_safe_values() {
    let s = Server::start();
    let mut c = s.conn();
    let v: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let _: () = c.set(b"bin\x00key".as_slice(), v.as_slice()).unwrap();
    let got: Vec<u8> = c.get(b"bin\x00key".as_slice()).unwrap();
    assert_eq!(got, v);
    assert_eq!(
        c.strlen::<_, usize>(b"bin\x00key".as_slice()).unwrap(),
        100_000
    );
}

#[test]
fn counters_are_atomic_across_clients() {
    let s = Server::start();
    let port = s.port;
    let keys = key_per_shard("ctr");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let keys = keys.clone();
            std::thread::spawn(move || {
                let mut c = connect_redis(port);
                for _ in 0..250 {
                    for k in &keys {
                        let _: i64 = c.incr(k, 1).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.conn();
    for k in &keys {
        assert_eq!(c.get::<_, i64>(k).unwrap(), 2000, "key {k}");
    }
    assert_eq!(
        redis::cmd("INCRBYFLOAT")
            .arg(&keys[0])
            .arg("0.5")
            .query::<String>(&mut c)
            .unwrap(),
        "2000.5"
    );
    let err = c.incr::<_, _, i64>(&keys[0], 1).unwrap_err();
    assert!(err.to_string().contains("not an integer"), "{err}");
}

#[test]
fn incr_overflow_and_errors() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c.set("n", i64::MAX).unwrap();
    let err = c.incr::<_, _, i64>("n", 1).unwrap_err();
    assert!(err.to_string().contains("would overflow"), "{err}");
    assert_eq!(c.get::<_, i64>("n").unwrap(), i64::MAX);
    assert_eq!(c.decr::<_, _, i64>("fresh", 5).unwrap(), -5);
}

#[test]
fn mset_mget_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let keys = keys_on_every_shard("mm", 20);
    let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), format!("v-{k}"))).collect();
    let _: () = c.mset(&pairs).unwrap();
    let mut with_missing = keys.clone();
    with_missing.insert(5, "missing-key".into());
    let vals: Vec<Option<String>> = c.mget(&with_missing).unwrap();
    assert_eq!(vals.len(), keys.len() + 1);
    for (k, v) in with_missing.iter().zip(&vals) {
        if k == "missing-key" {
            assert_eq!(v, &None);
        } else {
            assert_eq!(v.as_deref(), Some(format!("v-{k}").as_str()));
        }
    }
    // The merged reply byte for byte, keys of different shards interleaved
    // and a missing one among them, in RESP2 and RESP3.
    let ks = keys_on_every_shard("mo", 1);
    let (a, b, c3) = (ks[0].as_str(), ks[1].as_str(), ks[2].as_str());
    let mut raw = s.raw();
    raw.cmd(&["MSET", a, "1", b, "22", c3, ""]);
    let mget = ["MGET", b, a, "mo-missing", c3, b];
    assert_eq!(
        raw.cmd(&mget),
        b"*5\r\n$2\r\n22\r\n$1\r\n1\r\n$-1\r\n$0\r\n\r\n$2\r\n22\r\n"
    );
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(
        raw.cmd(&mget),
        b"*5\r\n$2\r\n22\r\n$1\r\n1\r\n_\r\n$0\r\n\r\n$2\r\n22\r\n"
    );
    // MSETNX is all or nothing, across shards too.
    let mut args = vec![("new-a".to_string(), "1".to_string())];
    args.push((keys[0].clone(), "x".into()));
    let r: i64 = redis::cmd("MSETNX").arg(&args).query(&mut c).unwrap();
    assert_eq!(r, 0);
    assert_eq!(c.exists::<_, i64>("new-a").unwrap(), 0);
    let r: i64 = redis::cmd("MSETNX")
        .arg(&[("new-a", "1"), ("new-b", "2"), ("new-c", "3")])
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 1);
    let v: Vec<String> = c.mget(&["new-a", "new-b", "new-c"]).unwrap();
    assert_eq!(v, ["1", "2", "3"]);
}

/// Cross-shard atomicity of multi-key commands is built by the transactions
/// issue (intent locks across shards); until then a concurrent MGET can see a
/// cross-shard MSET half applied. Run with `--ignored` to see the gap.
#[test]
#[ignore = "cross-shard atomicity arrives with the multi-shard transaction scheduler"]
fn cross_shard_mset_is_never_observed_torn() {
    let s = Server::start();
    let port = s.port;
    let keys = key_per_shard("torn");
    let mut c = s.conn();
    let init: Vec<(String, i64)> = keys.iter().map(|k| (k.clone(), 0)).collect();
    let _: () = c.mset(&init).unwrap();
    let writer = {
        let keys = keys.clone();
        std::thread::spawn(move || {
            let mut c = connect_redis(port);
            for i in 1..=500i64 {
                let pairs: Vec<(String, i64)> = keys.iter().map(|k| (k.clone(), i)).collect();
                let _: () = c.mset(&pairs).unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let keys = keys.clone();
            std::thread::spawn(move || {
                let mut c = connect_redis(port);
                for _ in 0..500 {
                    let v: Vec<i64> = c.mget(&keys).unwrap();
                    assert!(v.iter().all(|x| *x == v[0]), "torn MGET: {v:?}");
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn append_setrange_getrange_lcs() {
    let s = Server::start();
    let mut c = s.conn();
    assert_eq!(c.append::<_, _, i64>("a", "Hello").unwrap(), 5);
    assert_eq!(c.append::<_, _, i64>("a", " World").unwrap(), 11);
    assert_eq!(c.getrange::<_, String>("a", -5, -1).unwrap(), "World");
    assert_eq!(c.setrange::<_, _, i64>("a", 6, "Redis").unwrap(), 11);
    assert_eq!(c.get::<_, String>("a").unwrap(), "Hello Redis");
    assert_eq!(c.setrange::<_, _, i64>("pad", 3, "x").unwrap(), 4);
    assert_eq!(c.get::<_, Vec<u8>>("pad").unwrap(), b"\0\0\0x");
    let _: () = c.set("{l}1", "ohmytext").unwrap();
    let _: () = c.set("{l}2", "mynewtext").unwrap();
    let lcs: String = redis::cmd("LCS")
        .arg("{l}1")
        .arg("{l}2")
        .query(&mut c)
        .unwrap();
    assert_eq!(lcs, "mytext");
    let n: i64 = redis::cmd("LCS")
        .arg("{l}1")
        .arg("{l}2")
        .arg("LEN")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 6);
}

#[test]
fn getex_getdel_getset() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c.set("g", "1").unwrap();
    let v: String = redis::cmd("GETEX")
        .arg("g")
        .arg("EX")
        .arg(500)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "1");
    assert!(c.ttl::<_, i64>("g").unwrap() > 0);
    let _: String = redis::cmd("GETEX")
        .arg("g")
        .arg("PERSIST")
        .query(&mut c)
        .unwrap();
    assert_eq!(c.ttl::<_, i64>("g").unwrap(), -1);
    let old: String = redis::cmd("GETSET")
        .arg("g")
        .arg("2")
        .query(&mut c)
        .unwrap();
    assert_eq!(old, "1");
    let v: String = redis::cmd("GETDEL").arg("g").query(&mut c).unwrap();
    assert_eq!(v, "2");
    assert_eq!(c.exists::<_, i64>("g").unwrap(), 0);
}

#[test]
fn setex_psetex_expire_lazily() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = redis::cmd("PSETEX")
        .arg("p")
        .arg(30)
        .arg("v")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SETEX")
        .arg("e")
        .arg(1000)
        .arg("v")
        .query(&mut c)
        .unwrap();
    wait_for(Duration::from_secs(10), "PSETEX key to expire", || {
        let v: Option<String> = c.get("p").unwrap();
        v.is_none().then_some(())
    });
    assert_eq!(c.get::<_, String>("e").unwrap(), "v");
    let err = redis::cmd("SETEX")
        .arg("e")
        .arg(0)
        .arg("v")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("invalid expire time"), "{err}");
}
