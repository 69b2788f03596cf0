//! The engine running inside the test process (3 cores), exercised through
//! real sockets: one server shared by most tests of this file, and engines
//! started and stopped side by side in one process.

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

/// Two engines in one process: separate ports, keyspaces, client ids and
/// counters; stopping one leaves the other serving, and a stopped engine's
/// port is closed.
#[test]
fn two_engines_side_by_side() {
    let a = start_engine(&[]);
    let b = start_engine(&[("databases", "4")]);
    assert_ne!(a.port, b.port);
    let mut ca = connect_redis(a.port);
    let mut cb = connect_redis(b.port);
    let keys = keys_on_every_shard("two-engines", 5);
    for k in &keys {
        let _: () = ca.set(k, "a").unwrap();
        let _: () = cb.set(k, "b").unwrap();
    }
    for k in &keys {
        assert_eq!(ca.get::<_, String>(k).unwrap(), "a");
        assert_eq!(cb.get::<_, String>(k).unwrap(), "b");
    }
    let _: () = redis::cmd("FLUSHALL").query(&mut ca).unwrap();
    assert_eq!(
        redis::cmd("DBSIZE").query::<i64>(&mut cb).unwrap(),
        keys.len() as i64
    );
    // Each engine has its own configuration and counters.
    let dbs: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("databases")
        .query(&mut cb)
        .unwrap();
    assert_eq!(dbs[1], "4");
    let port_of = |c: &mut redis::Connection| -> u16 {
        let info: String = redis::cmd("INFO").arg("server").query(c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("tcp_port:"))
            .and_then(|p| p.trim().parse().ok())
            .unwrap()
    };
    assert_eq!(port_of(&mut ca), a.port);
    assert_eq!(port_of(&mut cb), b.port);
    let id_of = |c: &mut redis::Connection| redis::cmd("CLIENT").arg("ID").query::<i64>(c).unwrap();
    // Client ids are per engine: the first client of each engine got id 1..=2
    // (the readiness probe took the first).
    assert!(id_of(&mut ca) <= 2 && id_of(&mut cb) <= 2);
    // CLIENT PAUSE on one engine does not hold the other.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query(&mut ca)
        .unwrap();
    let _: () = cb.set("during-pause", 1).unwrap();
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut ca).unwrap();

    let a_port = a.port;
    a.stop();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", a_port)).is_err(),
        "a stopped engine's port is closed"
    );
    assert!(
        ca.get::<_, String>(&keys[0]).is_err(),
        "a stopped engine's connections are closed"
    );
    assert_eq!(cb.get::<_, String>(&keys[0]).unwrap(), "b");
    b.stop();
}
