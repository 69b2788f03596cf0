//! Blocking commands against the real binary (3 shards): timeouts, immediate
//! service, wake-ups from pushes on other shards, first-blocked-first-served,
//! exactly-once delivery under concurrent producers and consumers, disconnects
//! while blocked, and INFO blocked_clients.

mod common;

use common::*;
use coreshard::shard::slot::key_owner;
use redis::Commands;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A key named `prefix:N` owned by shard `shard` of 3.
fn key_on(prefix: &str, shard: usize) -> String {
    (0..)
        .map(|i| format!("{prefix}:{i}"))
        .find(|k| key_owner(k.as_bytes(), 3) == shard)
        .unwrap()
}

type Pop = Option<(String, String)>;

fn blpop(c: &mut redis::Connection, keys: &[&str], timeout: &str) -> Pop {
    redis::cmd("BLPOP").arg(keys).arg(timeout).query(c).unwrap()
}

#[test]
fn timeouts_errors_and_immediate_service() {
    let s = Server::start();
    let mut c = s.conn();
    let t0 = Instant::now();
    assert_eq!(blpop(&mut c, &["nosuch"], "0.1"), None);
    assert!(t0.elapsed() >= Duration::from_millis(100));
    let _: () = c.rpush("l", &["a", "b", "c"]).unwrap();
    assert_eq!(
        blpop(&mut c, &["nosuch", "l"], "0"),
        Some(("l".into(), "a".into()))
    );
    let r: Pop = redis::cmd("BRPOP").arg("l").arg(1).query(&mut c).unwrap();
    assert_eq!(r, Some(("l".into(), "c".into())));
    let e = |c: &mut redis::Connection, args: &[&str]| -> String {
        let r: redis::RedisResult<Pop> = redis::cmd(args[0]).arg(&args[1..]).query(c);
        r.unwrap_err().to_string()
    };
    assert!(e(&mut c, &["BLPOP", "l", "-1"]).contains("timeout is negative"));
    assert!(e(&mut c, &["BLPOP", "l", "abc"]).contains("timeout is not a float or out of range"));
    let _: () = c.set("str", "v").unwrap();
    assert!(e(&mut c, &["BLPOP", "str", "0"]).contains("WRONGTYPE"));
    // The first existing key decides: a list with elements is served even if a
    // later key has the wrong type.
    assert_eq!(
        blpop(&mut c, &["l", "str"], "0"),
        Some(("l".into(), "b".into()))
    );
    assert_eq!(blocked(&mut c), 0);

    // RESP3 timeout reply is the null type.
    let mut raw = s.raw();
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(raw.cmd(&["BLPOP", "nosuch", "0.01"]), b"_\r\n");
    assert_eq!(
        raw.cmd(&["BLMPOP", "0.01", "1", "nosuch", "LEFT"]),
        b"_\r\n"
    );
    let mut raw2 = s.raw();
    assert_eq!(raw2.cmd(&["BRPOPLPUSH", "nosuch", "x", "0.01"]), b"*-1\r\n");
}

#[test]
fn push_on_another_shard_wakes_the_client() {
    let s = Server::start();
    let mut c = s.conn();
    let (a, b, k) = (key_on("a", 0), key_on("b", 1), key_on("c", 2));
    let port = s.port;
    let (a2, b2, k2) = (a.clone(), b.clone(), k.clone());
    let waiter = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        blpop(&mut w, &[&a2, &b2, &k2], "10")
    });
    wait_blocked(&mut c, 1);
    let _: () = c.rpush(&k, "v").unwrap();
    assert_eq!(waiter.join().unwrap(), Some((k.clone(), "v".into())));
    assert_eq!(blocked(&mut c), 0);
    assert_eq!(c.exists::<_, i64>(&k).unwrap(), 0);
}

#[test]
fn first_blocked_first_served() {
    let s = Server::start();
    let mut c = s.conn();
    let mut handles = Vec::new();
    for i in 0..3 {
        let port = s.port;
        handles.push(std::thread::spawn(move || {
            let mut w = connect_redis(port);
            blpop(&mut w, &["q"], "10")
        }));
        wait_blocked(&mut c, i + 1);
    }
    for v in ["1", "2", "3"] {
        let _: () = c.rpush("q", v).unwrap();
    }
    let got: Vec<Pop> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        got,
        vec![
            Some(("q".into(), "1".into())),
            Some(("q".into(), "2".into())),
            Some(("q".into(), "3".into()))
        ]
    );
}

#[test]
fn blmove_blmpop_and_brpoplpush_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let (src, dst) = (key_on("src", 0), key_on("dst", 1));
    let port = s.port;
    let (s2, d2) = (src.clone(), dst.clone());
    let waiter = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        let r: Option<String> = redis::cmd("BLMOVE")
            .arg(&s2)
            .arg(&d2)
            .arg("LEFT")
            .arg("RIGHT")
            .arg(10)
            .query(&mut w)
            .unwrap();
        r
    });
    wait_blocked(&mut c, 1);
    let _: () = c.rpush(&src, &["e1", "e2"]).unwrap();
    assert_eq!(waiter.join().unwrap(), Some("e1".into()));
    assert_eq!(c.lrange::<_, Vec<String>>(&dst, 0, -1).unwrap(), vec!["e1"]);
    assert_eq!(c.lrange::<_, Vec<String>>(&src, 0, -1).unwrap(), vec!["e2"]);

    // Immediate BRPOPLPUSH across shards.
    let r: Option<String> = redis::cmd("BRPOPLPUSH")
        .arg(&src)
        .arg(&dst)
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, Some("e2".into()));
    assert_eq!(c.exists::<_, i64>(&src).unwrap(), 0);

    // BLMPOP blocked on two shards, served with COUNT from the one pushed to.
    let (m1, m2) = (key_on("m", 1), key_on("m", 2));
    let (m1c, m2c) = (m1.clone(), m2.clone());
    let waiter = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        let r: Option<(String, Vec<String>)> = redis::cmd("BLMPOP")
            .arg(10)
            .arg(2)
            .arg(&m1c)
            .arg(&m2c)
            .arg("RIGHT")
            .arg("COUNT")
            .arg(2)
            .query(&mut w)
            .unwrap();
        r
    });
    wait_blocked(&mut c, 1);
    let _: () = c.rpush(&m2, &["1", "2", "3"]).unwrap();
    assert_eq!(
        waiter.join().unwrap(),
        Some((m2.clone(), vec!["3".into(), "2".into()]))
    );
    assert_eq!(c.lrange::<_, Vec<String>>(&m2, 0, -1).unwrap(), vec!["1"]);
}

#[test]
fn disconnect_while_blocked_leaves_nothing_behind() {
    let s = Server::start();
    let mut c = s.conn();
    {
        let mut raw = s.raw();
        raw.send(&encode_cmd(&["BLPOP", "gone", "0"]));
        wait_blocked(&mut c, 1);
    }
    // The connection is closed: the server notices and forgets the waiter.
    wait_blocked(&mut c, 0);
    let _: () = c.rpush("gone", "kept").unwrap();
    assert_eq!(
        c.lrange::<_, Vec<String>>("gone", 0, -1).unwrap(),
        vec!["kept"]
    );
    // Others keep being served normally.
    assert_eq!(
        blpop(&mut c, &["gone"], "1"),
        Some(("gone".into(), "kept".into()))
    );
}

/// Producers push distinct values to keys on every shard while consumers wait
/// with BLPOP, BRPOP and BLMOVE on all of them: every value arrives exactly
/// once, and nothing is left behind.
#[test]
fn concurrent_producers_and_consumers_deliver_exactly_once() {
    let s = Server::start();
    let port = s.port;
    let keys: Vec<String> = (0..6).map(|i| key_on(&format!("cq{i}"), i % 3)).collect();
    let sink = key_on("sink", 1);
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 300;
    let total = PRODUCERS * PER_PRODUCER;
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let mut consumers = Vec::new();
    for ci in 0..6 {
        let keys = keys.clone();
        let sink = sink.clone();
        let received = received.clone();
        consumers.push(std::thread::spawn(move || {
            let mut c = connect_redis(port);
            let mut got = Vec::new();
            while received.load(std::sync::atomic::Ordering::SeqCst) < total {
                let v: Option<String> = match ci % 3 {
                    0 => blpop(
                        &mut c,
                        &keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                        "0.2",
                    )
                    .map(|(_, v)| v),
                    1 => redis::cmd("BRPOP")
                        .arg(&keys)
                        .arg("0.2")
                        .query::<Pop>(&mut c)
                        .unwrap()
                        .map(|(_, v)| v),
                    _ => {
                        // BLMOVE from one key (rotating) into the sink; the
                        // sink's contents are counted at the end.
                        let src = &keys[got.len() % keys.len()];
                        let r: Option<String> = redis::cmd("BLMOVE")
                            .arg(src)
                            .arg(&sink)
                            .arg("LEFT")
                            .arg("LEFT")
                            .arg("0.05")
                            .query(&mut c)
                            .unwrap();
                        r.map(|v| format!("moved:{v}"))
                    }
                };
                if let Some(v) = v {
                    received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    got.push(v);
                }
            }
            got
        }));
    }
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let keys = keys.clone();
        producers.push(std::thread::spawn(move || {
            let mut c = connect_redis(port);
            for i in 0..PER_PRODUCER {
                let k = &keys[(p + i) % keys.len()];
                let _: () = c.rpush(k, format!("{p}-{i}")).unwrap();
            }
        }));
    }
    for p in producers {
        p.join().unwrap();
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut moved = 0;
    for h in consumers {
        for v in h.join().unwrap() {
            let v = match v.strip_prefix("moved:") {
                Some(m) => {
                    moved += 1;
                    m.to_string()
                }
                None => v,
            };
            *counts.entry(v).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), total, "every value delivered");
    assert!(counts.values().all(|&n| n == 1), "no value delivered twice");
    let mut c = s.conn();
    for k in &keys {
        assert_eq!(c.exists::<_, i64>(k).unwrap(), 0, "{k} drained");
    }
    assert_eq!(c.llen::<_, usize>(&sink).unwrap(), moved);
    wait_blocked(&mut c, 0);
}

/// Sorted sets: producers ZADD distinct members to keys on every shard while
/// BZPOPMIN/BZPOPMAX consumers wait on all of them; every member is popped
/// exactly once.
#[test]
fn concurrent_zadd_and_bzpop_deliver_exactly_once() {
    let s = Server::start();
    let port = s.port;
    let keys: Vec<String> = (0..6).map(|i| key_on(&format!("zq{i}"), i % 3)).collect();
    const PRODUCERS: usize = 3;
    const PER_PRODUCER: usize = 300;
    let total = PRODUCERS * PER_PRODUCER;
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut consumers = Vec::new();
    for ci in 0..4 {
        let keys = keys.clone();
        let received = received.clone();
        consumers.push(std::thread::spawn(move || {
            let mut c = connect_redis(port);
            let mut got = Vec::new();
            let cmd = if ci % 2 == 0 { "BZPOPMIN" } else { "BZPOPMAX" };
            while received.load(std::sync::atomic::Ordering::SeqCst) < total {
                let r: Option<(String, String, f64)> =
                    redis::cmd(cmd).arg(&keys).arg("0.2").query(&mut c).unwrap();
                if let Some((_, m, _)) = r {
                    received.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    got.push(m);
                }
            }
            got
        }));
    }
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let keys = keys.clone();
        producers.push(std::thread::spawn(move || {
            let mut c = connect_redis(port);
            for i in 0..PER_PRODUCER {
                let k = &keys[(p * 7 + i) % keys.len()];
                let _: () = c.zadd(k, format!("{p}-{i}"), i as f64).unwrap();
            }
        }));
    }
    for p in producers {
        p.join().unwrap();
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for h in consumers {
        for m in h.join().unwrap() {
            *counts.entry(m).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), total, "every member delivered");
    assert!(
        counts.values().all(|&n| n == 1),
        "no member delivered twice"
    );
    let mut c = s.conn();
    for k in &keys {
        assert_eq!(c.exists::<_, i64>(k).unwrap(), 0, "{k} drained");
    }
    wait_blocked(&mut c, 0);
}

/// CLIENT UNBLOCK ends a blocked command as a timeout (null) or with the
/// UNBLOCKED error; CLIENT LIST shows the `b` flag while blocked.
#[test]
fn client_unblock_and_blocked_flag() {
    let s = Server::start();
    let mut c = s.conn();
    for (reason, expect) in [
        ("TIMEOUT", &b"*-1\r\n"[..]),
        (
            "ERROR",
            &b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"[..],
        ),
    ] {
        let mut raw = s.raw();
        let id = raw.call(&["CLIENT", "ID"]).int();
        raw.send(&encode_cmd(&["BLPOP", "never", "0"]));
        wait_blocked(&mut c, 1);
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        let line = list
            .lines()
            .find(|l| l.starts_with(&format!("id={id} ")))
            .unwrap();
        assert!(line.contains(" flags=b "), "{line}");
        let n: i64 = redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg(id)
            .arg(reason)
            .query(&mut c)
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(raw.read_raw(), expect);
        wait_blocked(&mut c, 0);
        // Not blocked any more: nothing to unblock.
        let n: i64 = redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg(id)
            .query(&mut c)
            .unwrap();
        assert_eq!(n, 0);
    }
    let e: redis::RedisResult<i64> = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(1)
        .arg("NOW")
        .query(&mut c);
    assert!(
        e.unwrap_err()
            .to_string()
            .contains("reason should be TIMEOUT or ERROR")
    );
}

/// FLUSHALL does not forget blocked clients, and SWAPDB serves them from the
/// database swapped in (Redis checks watched keys after a swap).
#[test]
fn flush_and_swapdb_with_blocked_clients() {
    let s = Server::start();
    let mut c = s.conn();
    let port = s.port;
    let w = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        blpop(&mut w, &["fk"], "10")
    });
    wait_blocked(&mut c, 1);
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    let _: () = c.rpush("fk", "after-flush").unwrap();
    assert_eq!(w.join().unwrap(), Some(("fk".into(), "after-flush".into())));

    let w = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        blpop(&mut w, &["sk"], "10")
    });
    wait_blocked(&mut c, 1);
    let _: () = redis::cmd("SELECT").arg(1).query(&mut c).unwrap();
    let _: () = c.rpush("sk", "from-db1").unwrap();
    let _: () = redis::cmd("SWAPDB").arg(0).arg(1).query(&mut c).unwrap();
    assert_eq!(w.join().unwrap(), Some(("sk".into(), "from-db1".into())));
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    assert_eq!(c.exists::<_, i64>("sk").unwrap(), 0);
    wait_blocked(&mut c, 0);
}
