//! The engine running inside the test process (3 executors), exercised through
//! real sockets. One server per process (process-wide statics), shared by every
//! test in this file.

mod common;

use common::*;
use redis::Commands;

#[test]
fn in_process_serves_keys_on_all_shards() {
    let port = in_process();
    let mut c = connect_redis(port);
    let keys = keys_on_every_shard("ip-a", 30);
    for k in &keys {
        let _: () = c.set(k, k).unwrap();
    }
    for k in &keys {
        assert_eq!(c.get::<_, String>(k).unwrap(), *k);
    }
    assert_eq!(c.exists::<_, i64>(&keys).unwrap(), keys.len() as i64);
    assert_eq!(c.del::<_, i64>(&keys).unwrap(), keys.len() as i64);
}

#[test]
fn in_process_pipeline_with_hops() {
    let port = in_process();
    let mut r = Raw::connect(port);
    let keys = keys_on_every_shard("ip-b", 200);
    let mut buf = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        buf.extend(encode_cmd(&["SET", k, &i.to_string()]));
        buf.extend(encode_cmd(&["GET", k]));
    }
    r.send(&buf);
    for i in 0..keys.len() {
        assert_eq!(r.read_raw(), b"+OK\r\n");
        let v = i.to_string();
        assert_eq!(
            r.read_raw(),
            format!("${}\r\n{v}\r\n", v.len()).into_bytes()
        );
    }
}

#[test]
fn in_process_many_clients() {
    let port = in_process();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = connect_redis(port);
                for k in keys_on_every_shard(&format!("ip-c{t}"), 20) {
                    let _: () = c.set(&k, t).unwrap();
                    assert_eq!(c.get::<_, i64>(&k).unwrap(), t);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn in_process_cross_shard_multi_key() {
    let port = in_process();
    let mut c = connect_redis(port);
    let keys = key_per_shard("ip-d");
    let pairs: Vec<(&String, &str)> = keys.iter().map(|k| (k, "v")).collect();
    let _: () = c.mset(&pairs).unwrap();
    let v: Vec<String> = c.mget(&keys).unwrap();
    assert_eq!(v, vec!["v"; keys.len()]);
    assert_eq!(c.del::<_, i64>(&keys).unwrap(), keys.len() as i64);
}

#[test]
fn in_process_transactions_and_watch() {
    let port = in_process();
    let mut a = connect_redis(port);
    let mut b = connect_redis(port);
    let keys = keys_on_every_shard("ip-tx", 3);
    // One transaction touching every shard, pipelined as clients send it.
    let mut p = redis::pipe();
    p.atomic();
    for (i, k) in keys.iter().enumerate() {
        p.cmd("SET").arg(k).arg(i).ignore();
        p.cmd("INCR").arg(k);
    }
    let got: Vec<i64> = p.query(&mut a).unwrap();
    assert_eq!(got, (1..=keys.len() as i64).collect::<Vec<_>>());
    // A WATCH on each shard's key, broken by another client's write to it.
    for k in &keys {
        let _: () = redis::cmd("WATCH").arg(&keys).query(&mut a).unwrap();
        let _: () = b.set(k, "changed").unwrap();
        let r: Option<Vec<String>> = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(k)
            .query(&mut a)
            .unwrap();
        assert_eq!(r, None, "{k}");
    }
    let _: i64 = a.del(&keys).unwrap();
}
