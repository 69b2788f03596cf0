//! MULTI/EXEC/WATCH against the real binary (3 shards), with several clients:
//! WATCHed keys changed by other clients (on any shard, by writes, expiry,
//! FLUSHALL, SWAPDB and served blocked clients), single-shard transactions
//! that no reader can observe half done, and blocked clients served only after
//! EXEC. `CORESHARD_TEST_AGAINST_REDIS=1` runs the same expectations on Redis.

mod common;

use common::*;
use coreshard::shard::slot::key_owner;
use redis::Commands;
use std::time::{Duration, Instant};

/// A key named `prefix:N` owned by shard `shard` of 3.
fn key_on(prefix: &str, shard: usize) -> String {
    (0..)
        .map(|i| format!("{prefix}:{i}"))
        .find(|k| key_owner(k.as_bytes(), 3) == shard)
        .unwrap()
}

/// Runs `MULTI; cmds...; EXEC` and returns EXEC's reply (None when a WATCH failed it).
fn transaction(c: &mut redis::Connection, cmds: &[redis::Cmd]) -> Option<Vec<redis::Value>> {
    let _: () = redis::cmd("MULTI").query(c).unwrap();
    for cmd in cmds {
        let q: String = cmd.query(c).unwrap();
        assert_eq!(q, "QUEUED");
    }
    redis::cmd("EXEC").query(c).unwrap()
}

fn get(key: &str) -> redis::Cmd {
    let mut c = redis::cmd("GET");
    c.arg(key);
    c
}

fn watch(c: &mut redis::Connection, keys: &[&str]) {
    let _: () = redis::cmd("WATCH").arg(keys).query(c).unwrap();
}

#[test]
fn watch_fails_exec_when_another_client_writes_a_key_on_any_shard() {
    let s = Server::start();
    let mut a = s.conn();
    let mut b = s.conn();
    for shard in 0..3 {
        let k = key_on("w", shard);
        let other = key_on("other", (shard + 1) % 3);
        let _: () = a.set(&k, "v0").unwrap();
        // A write to an unrelated key leaves the WATCH intact.
        watch(&mut a, &[&k, "nosuchkey"]);
        let _: () = b.set(&other, "x").unwrap();
        let r = transaction(&mut a, &[get(&k)]);
        assert_eq!(r, Some(vec![redis::Value::BulkString(b"v0".to_vec())]));
        // Another client's write to the key fails the EXEC; nothing runs.
        watch(&mut a, &[&k]);
        let _: () = b.set(&k, "v1").unwrap();
        let mut set = redis::cmd("SET");
        set.arg(&k).arg("from-a");
        assert_eq!(transaction(&mut a, &[set]), None);
        let v: String = b.get(&k).unwrap();
        assert_eq!(v, "v1");
        // In-place changes count too (a list push, a hash field, a TTL).
        for change in [
            vec!["RPUSH", "wl", "x"],
            vec!["HSET", "wh", "f", "v"],
            vec!["EXPIRE", "wl", "100"],
        ] {
            watch(&mut a, &["wl", "wh"]);
            let _: () = redis::cmd(change[0])
                .arg(&change[1..])
                .query(&mut b)
                .unwrap();
            assert_eq!(transaction(&mut a, &[get("x")]), None, "{change:?}");
        }
    }
}

#[test]
fn watch_spanning_shards_and_multi_shard_writes() {
    let s = Server::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let keys: Vec<String> = (0..3).map(|i| key_on("span", i)).collect();
    let refs: Vec<&str> = keys.iter().map(|s| s.as_str()).collect();
    // Unchanged: the transaction (keys on three shards) runs whole.
    watch(&mut a, &refs);
    let mut mset = redis::cmd("MSET");
    for k in &keys {
        mset.arg(k).arg("1");
    }
    let mut incr = redis::cmd("INCR");
    incr.arg(&keys[2]);
    let r = transaction(&mut a, &[mset, incr]).expect("not watched-out");
    assert_eq!(r.len(), 2);
    let v: Vec<i64> = a.mget(&keys).unwrap();
    assert_eq!(v, vec![1, 1, 2]);
    // A multi-shard write by another client (MSET over all three shards,
    // DEL of several keys) touches every key it names.
    for cmd in [
        vec!["MSET", &keys[1], "9", "zz", "1"],
        vec!["DEL", "zz", &keys[0]],
    ] {
        watch(&mut a, &refs);
        let _: () = redis::cmd(cmd[0]).arg(&cmd[1..]).query(&mut b).unwrap();
        assert_eq!(transaction(&mut a, &[get(&keys[0])]), None, "{cmd:?}");
    }
}

#[test]
fn flushall_swapdb_and_expiry_touch_watched_keys() {
    let s = Server::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let k = key_on("f", 1);
    let _: () = a.set(&k, "1").unwrap();
    watch(&mut a, &[&k]);
    let _: () = redis::cmd("FLUSHALL").query(&mut b).unwrap();
    assert_eq!(transaction(&mut a, &[get(&k)]), None);
    // FLUSHALL of a missing watched key changes nothing.
    watch(&mut a, &[&k]);
    let _: () = redis::cmd("FLUSHALL").query(&mut b).unwrap();
    assert!(transaction(&mut a, &[get(&k)]).is_some());
    // SWAPDB brings a key into the watched (db, key).
    let _: () = redis::cmd("SELECT").arg(1).query(&mut b).unwrap();
    let _: () = b.set(&k, "from-db1").unwrap();
    watch(&mut a, &[&k]);
    let _: () = redis::cmd("SWAPDB").arg(0).arg(1).query(&mut b).unwrap();
    assert_eq!(transaction(&mut a, &[get(&k)]), None);
    let v: String = a.get(&k).unwrap();
    assert_eq!(v, "from-db1");
    // A key watched while live that expires before EXEC fails it, whether or
    // not anything has reclaimed it yet.
    let _: () = redis::cmd("SET")
        .arg(&k)
        .arg("short")
        .arg("PX")
        .arg(30)
        .query(&mut a)
        .unwrap();
    let set_at = Instant::now();
    watch(&mut a, &[&k]);
    // The TTL passing is the event under test: wait on the clock, without
    // reading the key (which would reclaim it, another path to the same end).
    while set_at.elapsed() < Duration::from_millis(60) {
        std::thread::yield_now();
    }
    assert_eq!(transaction(&mut a, &[get(&k)]), None);
}

#[test]
fn single_shard_transactions_are_never_seen_half_done() {
    let s = Server::start();
    let (x, y) = ("{acct}:x", "{acct}:y");
    let mut c = s.conn();
    let _: () = c.set(x, 0).unwrap();
    let _: () = c.set(y, 0).unwrap();
    let port = s.port;
    let writer = std::thread::spawn(move || {
        let mut w = connect_redis(port);
        for _ in 0..2000 {
            let mut a = redis::cmd("INCR");
            a.arg(x);
            let mut b = redis::cmd("DECR");
            b.arg(y);
            let _: Vec<i64> = redis::pipe()
                .atomic()
                .add_command(a)
                .add_command(b)
                .query(&mut w)
                .unwrap();
        }
    });
    let mut reads = 0;
    while !writer.is_finished() {
        let v: Vec<i64> = c.mget(&[x, y]).unwrap();
        assert_eq!(v[0] + v[1], 0, "saw a transaction half done: {v:?}");
        reads += 1;
    }
    writer.join().unwrap();
    let v: Vec<i64> = c.mget(&[x, y]).unwrap();
    assert_eq!(v, vec![2000, -2000]);
    assert!(reads > 0);
}

#[test]
fn blocked_clients_are_served_after_exec() {
    let s = Server::start();
    let mut a = s.conn();
    let port = s.port;
    let popper = std::thread::spawn(move || {
        let mut c = connect_redis(port);
        let r: Option<(String, String)> =
            redis::cmd("BLPOP").arg("{q}").arg(0).query(&mut c).unwrap();
        r
    });
    wait_blocked(&mut a, 1);
    let mut cmds = Vec::new();
    for v in ["a", "b", "c"] {
        let mut p = redis::cmd("LPUSH");
        p.arg("{q}").arg(v);
        cmds.push(p);
    }
    let mut len = redis::cmd("LLEN");
    len.arg("{q}");
    cmds.push(len);
    let r = transaction(&mut a, &cmds).unwrap();
    // Inside the transaction nothing was taken yet.
    assert_eq!(r[3], redis::Value::Int(3));
    // The blocked client sees the list as EXEC left it: the last push first.
    assert_eq!(popper.join().unwrap(), Some(("{q}".into(), "c".into())));
    let rest: Vec<String> = a.lrange("{q}", 0, -1).unwrap();
    assert_eq!(rest, vec!["b", "a"]);
}

#[test]
fn served_blocked_client_touches_watched_keys() {
    let s = Server::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let port = s.port;
    let mover = std::thread::spawn(move || {
        let mut c = connect_redis(port);
        let r: Option<String> = redis::cmd("BLMOVE")
            .arg("{m}src")
            .arg("{m}dst")
            .arg("LEFT")
            .arg("RIGHT")
            .arg(0)
            .query(&mut c)
            .unwrap();
        r
    });
    wait_blocked(&mut b, 1);
    // Blocked but not served: no change yet.
    watch(&mut a, &["{m}dst"]);
    assert!(transaction(&mut a, &[get("x")]).is_some());
    watch(&mut a, &["{m}dst"]);
    let _: () = b.rpush("{m}src", "e").unwrap();
    assert_eq!(mover.join().unwrap(), Some("e".into()));
    assert_eq!(transaction(&mut a, &[get("x")]), None);
}

#[test]
fn disconnect_drops_transaction_and_watches() {
    let s = Server::start();
    let mut b = s.conn();
    {
        let mut a = s.conn();
        watch(&mut a, &["gone", "{g}1", "{g}2"]);
        let _: () = redis::cmd("MULTI").query(&mut a).unwrap();
        let _: String = redis::cmd("SET")
            .arg("gone")
            .arg("1")
            .query(&mut a)
            .unwrap();
    }
    // The queued SET never ran, and writes to the keys still work.
    let _: () = b.set("{g}1", "x").unwrap();
    let e: bool = b.exists("gone").unwrap();
    assert!(!e);
    // The server notices the disconnect on its own time: poll for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut b).unwrap();
        if list.lines().count() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        std::thread::yield_now();
    }
}

#[test]
fn client_list_shows_the_open_transaction() {
    let s = Server::start();
    let mut a = s.conn();
    let _: () = redis::cmd("MULTI").query(&mut a).unwrap();
    let _: String = redis::cmd("SET").arg("k").arg("1").query(&mut a).unwrap();
    let _: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
    let r: Vec<redis::Value> = redis::cmd("EXEC").query(&mut a).unwrap();
    let redis::Value::BulkString(list) = &r[1] else {
        panic!("{r:?}");
    };
    let line = String::from_utf8_lossy(list);
    assert!(line.contains(" flags=x "), "{line}");
    // Redis counts the queued commands, CLIENT LIST itself included.
    assert!(line.contains(" multi=2 "), "{line}");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
    assert!(list.contains(" multi=-1 "), "{list}");
}

#[test]
fn client_reply_off_and_skip_apply_to_queued_replies() {
    let s = Server::start();
    let mut r = s.raw();
    r.send(
        b"CLIENT REPLY SKIP\r\nMULTI\r\nSET a 1\r\nGET a\r\nEXEC\r\n\
          CLIENT REPLY OFF\r\nMULTI\r\nSET b 1\r\nEXEC\r\nCLIENT REPLY ON\r\nGET b\r\n",
    );
    // MULTI's +OK is skipped; with replies off nothing of the second
    // transaction comes back; CLIENT REPLY ON answers, then GET.
    for want in [
        &b"+QUEUED\r\n"[..],
        b"+QUEUED\r\n",
        b"*2\r\n+OK\r\n$1\r\n1\r\n",
        b"+OK\r\n",
        b"$1\r\n1\r\n",
    ] {
        assert_eq!(r.read_raw(), want);
    }
}
