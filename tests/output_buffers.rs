//! Output buffers: a client that stops reading is disconnected by its class's
//! `client-output-buffer-limit` (hard at once, soft after its seconds) while
//! other clients keep being served; INFO and CLIENT LIST show it.

mod common;

use common::*;
use redis::Commands;
use std::time::{Duration, Instant};

fn stat(c: &mut redis::Connection, name: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO has no {name}"))
}

fn client_count(c: &mut redis::Connection) -> usize {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(c).unwrap();
    list.lines().count()
}

/// Sends `n` pipelined GETs of `key` and never reads the replies.
fn slow_reader(port: u16, key: &str, n: usize) -> Raw {
    let mut r = Raw::connect(port);
    let one = encode_cmd(&["GET", key]);
    let mut buf = Vec::with_capacity(one.len() * n);
    for _ in 0..n {
        buf.extend_from_slice(&one);
    }
    // The server may close the connection before it has read everything.
    let _ = r.try_send(&buf);
    r
}

#[test]
fn hard_limit_disconnects_a_reader_that_never_reads() {
    let s = Server::start_with(&["--client-output-buffer-limit", "normal 1mb 0 0"]);
    let mut c = s.conn();
    if s.is_reference_redis() {
        return;
    }
    let big = "x".repeat(100_000);
    let keys = key_per_shard("obuf-hard");
    for k in &keys {
        let _: () = c.set(k, &big).unwrap();
    }
    let before = client_count(&mut c);
    // 400 replies of 100 kB (40 MB): more than the kernel's socket buffers
    // hold, so the rest piles up in the server until the limit cuts it off.
    let _slow = slow_reader(s.port, &keys[0], 400);

    // Meanwhile other clients, on every core, keep getting answers.
    let mut workers = Vec::new();
    for t in 0..4 {
        let port = s.port;
        let keys = keys.clone();
        workers.push(std::thread::spawn(move || {
            let mut c = connect_redis(port);
            let mut worst = Duration::ZERO;
            for i in 0..300 {
                let k = &keys[i % keys.len()];
                let t0 = Instant::now();
                let len: usize = c.strlen(k).unwrap();
                assert_eq!(len, 100_000);
                let _: () = c.set(format!("{{obuf-hard}}{t}:{i}"), i).unwrap();
                worst = worst.max(t0.elapsed());
            }
            worst
        }));
    }
    wait_for(
        Duration::from_secs(20),
        "the slow reader's disconnection",
        || (stat(&mut c, "client_output_buffer_limit_disconnections") == 1).then_some(()),
    );
    wait_for(
        Duration::from_secs(10),
        "the slow reader to leave CLIENT LIST",
        || (client_count(&mut c) <= before + workers.len()).then_some(()),
    );
    for w in workers {
        let worst = w.join().unwrap();
        // Generous: a stalled core would show seconds here.
        assert!(
            worst < Duration::from_secs(2),
            "another client waited {worst:?} for a reply"
        );
    }
    assert_eq!(stat(&mut c, "client_output_buffer_limit_disconnections"), 1);
    let _: () = redis::cmd("PING").query(&mut c).unwrap();
}

#[test]
fn soft_limit_disconnects_after_its_seconds() {
    let s = Server::start_with(&["--client-output-buffer-limit", "normal 0 512kb 1"]);
    let mut c = s.conn();
    if s.is_reference_redis() {
        return;
    }
    let big = "y".repeat(100_000);
    let _: () = c.set("obuf-soft", &big).unwrap();
    let t0 = Instant::now();
    let _slow = slow_reader(s.port, "obuf-soft", 200);
    // While it is over the soft limit but within its second, CLIENT LIST
    // shows the pending output.
    let omem = wait_for(
        Duration::from_secs(10),
        "pending output in CLIENT LIST",
        || {
            let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
            list.lines()
                .filter_map(|l| {
                    l.split(" omem=")
                        .nth(1)?
                        .split(' ')
                        .next()?
                        .parse::<u64>()
                        .ok()
                })
                .find(|&m| m > 0)
        },
    );
    assert!(omem > 0);
    wait_for(
        Duration::from_secs(20),
        "the soft-limit disconnection",
        || (stat(&mut c, "client_output_buffer_limit_disconnections") == 1).then_some(()),
    );
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "the soft limit allows its seconds first"
    );
}

#[test]
fn limits_are_per_class_and_settable() {
    let s = Server::start();
    let mut c = s.conn();
    let get = |c: &mut redis::Connection| -> String {
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("client-output-buffer-limit")
            .query(c)
            .unwrap();
        v[1].clone()
    };
    assert_eq!(
        get(&mut c),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 1mb 256kb 10")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        get(&mut c),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 262144 10"
    );
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("nope 1 1 1")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string().contains("client-output-buffer-limit"),
        "{err}"
    );
    // A reader that keeps up is never disconnected, however much it asks for.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("normal 4mb 0 0")
        .query(&mut c)
        .unwrap();
    let big = "z".repeat(1_000_000);
    let _: () = c.set("obuf-big", &big).unwrap();
    for _ in 0..20 {
        let v: String = c.get("obuf-big").unwrap();
        assert_eq!(v.len(), big.len());
    }
    if !s.is_reference_redis() {
        assert_eq!(stat(&mut c, "client_output_buffer_limit_disconnections"), 0);
    }
}
