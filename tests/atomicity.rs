//! Commands and transactions whose keys live on several shards are atomic:
//! concurrent clients against the real binary (3 shards) never observe half of
//! one. Each test runs a few seconds of load from at least 20 clients and
//! checks an invariant that any torn state would break.
//! `CORESHARD_TEST_AGAINST_REDIS=1` runs the same expectations on Redis.

mod common;

use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long each test loads the server.
const LOAD: Duration = Duration::from_secs(2);

/// Runs `workers` threads of `f(index, stop)` until [`LOAD`] has passed and
/// returns how many operations they counted in total.
fn run_load(
    port: u16,
    workers: usize,
    f: impl Fn(usize, &mut redis::Connection, &AtomicU64) + Send + Sync + 'static,
) -> u64 {
    let f = Arc::new(f);
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..workers)
        .map(|i| {
            let (f, stop, ops) = (f.clone(), stop.clone(), ops.clone());
            std::thread::spawn(move || {
                let mut c = connect_redis(port);
                while !stop.load(Ordering::Relaxed) {
                    f(i, &mut c, &ops);
                }
            })
        })
        .collect();
    let end = Instant::now() + LOAD;
    while Instant::now() < end {
        std::thread::park_timeout(end - Instant::now());
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a load thread failed");
    }
    ops.load(Ordering::Relaxed)
}

/// Sets every key of `keys` to `value`.
fn set_all(s: &Server, keys: &[String], value: &str) {
    let _: () = redis::cmd("MSET")
        .arg(
            keys.iter()
                .flat_map(|k| [k.as_str(), value])
                .collect::<Vec<_>>(),
        )
        .query(&mut s.conn())
        .unwrap();
}

#[test]
fn mset_mget_keys_and_flushall_across_shards_never_observe_a_mix() {
    let s = Server::start();
    let keys = Arc::new(spread("mix", 6));
    set_all(&s, &keys, "0-0");
    let reads = Arc::new(AtomicU64::new(0));
    let r2 = reads.clone();
    let ops = run_load(s.port, 24, move |i, c, ops| {
        if i == 23 {
            // FLUSHALL and KEYS see every MSET whole or not at all.
            let _: () = redis::cmd("FLUSHALL").query(c).unwrap();
            let found: Vec<String> = redis::cmd("KEYS").arg("mix:*").query(c).unwrap();
            assert!(
                found.is_empty() || found.len() == keys.len(),
                "KEYS saw {found:?}"
            );
        } else if i % 2 == 0 {
            let n = ops.fetch_add(1, Ordering::Relaxed);
            let v = format!("{i}-{n}");
            let mut cmd = redis::cmd("MSET");
            for k in keys.iter() {
                cmd.arg(k).arg(&v);
            }
            let _: () = cmd.query(c).unwrap();
        } else {
            let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys[..]).query(c).unwrap();
            assert!(
                got.iter().all(|v| *v == got[0]),
                "MGET saw a torn MSET: {got:?}"
            );
            r2.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert!(ops > 100 && reads.load(Ordering::Relaxed) > 100);
}

#[test]
fn two_shard_mset_mget_and_transactions_never_observe_a_mix() {
    // Keys on exactly two shards (0 and 1): a split command whose client is
    // on one of them locks its own keys and runs the other shard's part at
    // once, or falls back to locking in shard order when a key is taken.
    // MULTI/EXEC blocks on the same keys lock in shard order meanwhile, and
    // a few keys are hot so that both paths meet.
    let s = Server::start();
    let all = spread("two", 6);
    let keys: Arc<Vec<String>> = Arc::new(
        all.iter()
            .enumerate()
            .filter(|(i, _)| i % THREADS != 2)
            .map(|(_, k)| k.clone())
            .collect(),
    );
    assert_eq!(keys.len(), 4);
    set_all(&s, &keys, "0-0");
    let reads = Arc::new(AtomicU64::new(0));
    let r2 = reads.clone();
    let ops = run_load(s.port, 24, move |i, c, ops| {
        let n = ops.fetch_add(1, Ordering::Relaxed);
        let v = format!("{i}-{n}");
        match i % 3 {
            0 => {
                let mut cmd = redis::cmd("MSET");
                for k in keys.iter() {
                    cmd.arg(k).arg(&v);
                }
                let _: () = cmd.query(c).unwrap();
            }
            1 => {
                let mut p = redis::pipe();
                p.atomic();
                for k in keys.iter() {
                    p.cmd("SET").arg(k).arg(&v).ignore();
                }
                let _: () = p.query(c).unwrap();
            }
            _ => {
                // Both orders of the keys: the parts' replies are merged in
                // the order the command names the keys.
                let mut ks: Vec<&String> = keys.iter().collect();
                if n % 2 == 1 {
                    ks.reverse();
                }
                let got: Vec<Option<String>> = redis::cmd("MGET").arg(&ks).query(c).unwrap();
                assert!(
                    got.iter().all(|v| *v == got[0]),
                    "MGET saw a torn write: {got:?}"
                );
                r2.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    assert!(ops > 100 && reads.load(Ordering::Relaxed) > 100);
}

#[test]
fn transfers_in_multi_exec_keep_the_total() {
    let s = Server::start();
    let keys = Arc::new(spread("acct", 6));
    let total = 1000 * keys.len() as i64;
    set_all(&s, &keys, "1000");
    let audits = Arc::new(AtomicU64::new(0));
    let a2 = audits.clone();
    let k2 = keys.clone();
    let ops = run_load(s.port, 24, move |i, c, ops| {
        let keys = &k2;
        let n = ops.fetch_add(1, Ordering::Relaxed) as usize;
        if i % 3 != 2 {
            let from = &keys[(i + n) % keys.len()];
            let to = &keys[(i + 2 * n + 1) % keys.len()];
            let amount = (n % 7 + 1) as i64;
            let r: Vec<i64> = redis::pipe()
                .atomic()
                .cmd("DECRBY")
                .arg(from)
                .arg(amount)
                .cmd("INCRBY")
                .arg(to)
                .arg(amount)
                .query(c)
                .unwrap();
            assert_eq!(r.len(), 2);
        } else {
            // Audit with a transaction of GETs and with one MGET.
            let mut p = redis::pipe();
            p.atomic();
            for k in keys.iter() {
                p.cmd("GET").arg(k);
            }
            let vals: Vec<i64> = p.query(c).unwrap();
            assert_eq!(vals.iter().sum::<i64>(), total, "EXEC saw {vals:?}");
            let vals: Vec<i64> = redis::cmd("MGET").arg(&keys[..]).query(c).unwrap();
            assert_eq!(vals.iter().sum::<i64>(), total, "MGET saw {vals:?}");
            a2.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert!(ops > 100 && audits.load(Ordering::Relaxed) > 50);
    let vals: Vec<i64> = redis::cmd("MGET")
        .arg(&keys[..])
        .query(&mut s.conn())
        .unwrap();
    assert_eq!(vals.iter().sum::<i64>(), total);
}

#[test]
fn rename_chains_across_shards_never_lose_or_duplicate_the_value() {
    let s = Server::start();
    let keys = Arc::new(spread("ren", 3));
    let _: () = redis::cmd("SET")
        .arg(&keys[0])
        .arg("token")
        .query(&mut s.conn())
        .unwrap();
    let checks = Arc::new(AtomicU64::new(0));
    let c2 = checks.clone();
    let k2 = keys.clone();
    let ops = run_load(s.port, 21, move |i, c, ops| {
        let keys = &k2;
        let n = ops.fetch_add(1, Ordering::Relaxed) as usize;
        if i % 3 == 0 {
            // EXISTS over all three names sees the value exactly once.
            let present: i64 = redis::cmd("EXISTS").arg(&keys[..]).query(c).unwrap();
            assert_eq!(present, 1, "the value is in {present} places");
            c2.fetch_add(1, Ordering::Relaxed);
        } else {
            let from = &keys[n % 3];
            let to = &keys[(n + 1 + i % 2) % 3];
            match redis::cmd("RENAME").arg(from).arg(to).query::<()>(c) {
                Ok(()) => {}
                Err(e) => assert!(e.to_string().contains("no such key"), "{e}"),
            }
        }
    });
    assert!(ops > 100 && checks.load(Ordering::Relaxed) > 50);
    let present: i64 = redis::cmd("EXISTS")
        .arg(&keys[..])
        .query(&mut s.conn())
        .unwrap();
    assert_eq!(present, 1);
}

#[test]
fn watched_increments_from_many_clients_lose_no_update() {
    let s = Server::start();
    let keys = Arc::new(spread("cnt", 3));
    let done = Arc::new(AtomicU64::new(0));
    let d2 = done.clone();
    let k2 = keys.clone();
    run_load(s.port, 20, move |i, c, _| {
        let keys = &k2;
        // WATCH a counter and a key on another shard; increment both.
        let a = &keys[i % 3];
        let b = &keys[(i + 1) % 3];
        loop {
            let _: () = redis::cmd("WATCH").arg(a).arg(b).query(c).unwrap();
            let (va, vb): (Option<i64>, Option<i64>) =
                redis::cmd("MGET").arg(a).arg(b).query(c).unwrap();
            let r: Option<((), ())> = redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(a)
                .arg(va.unwrap_or(0) + 1)
                .cmd("SET")
                .arg(b)
                .arg(vb.unwrap_or(0) + 1)
                .query(c)
                .unwrap();
            if r.is_some() {
                d2.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    });
    let n = done.load(Ordering::Relaxed) as i64;
    let vals: Vec<i64> = redis::cmd("MGET")
        .arg(&keys[..])
        .query(&mut s.conn())
        .unwrap();
    assert!(n > 50);
    assert_eq!(
        vals.iter().sum::<i64>(),
        2 * n,
        "{vals:?} after {n} updates"
    );
}

#[test]
fn smove_and_lmove_chains_across_shards_never_lose_or_duplicate_a_member() {
    let s = Server::start();
    let sets = Arc::new(spread("set", 3));
    let lists = Arc::new(spread("list", 3));
    let mut c = s.conn();
    let members: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let _: () = redis::cmd("SADD")
        .arg(&sets[0])
        .arg(&members)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg(&lists[0])
        .arg(&members)
        .query(&mut c)
        .unwrap();
    let checks = Arc::new(AtomicU64::new(0));
    let c2 = checks.clone();
    let (s2, l2) = (sets.clone(), lists.clone());
    let ops = run_load(s.port, 24, move |i, c, ops| {
        let n = ops.fetch_add(1, Ordering::Relaxed) as usize;
        let sets = &s2;
        match i % 4 {
            0 => {
                // Every member is in exactly one set, every element in one list.
                let mut p = redis::pipe();
                p.atomic();
                for k in sets.iter() {
                    p.cmd("SCARD").arg(k);
                }
                for k in l2.iter() {
                    p.cmd("LLEN").arg(k);
                }
                let counts: Vec<i64> = p.query(c).unwrap();
                assert_eq!(counts[..3].iter().sum::<i64>(), 10, "sets: {counts:?}");
                assert_eq!(counts[3..].iter().sum::<i64>(), 10, "lists: {counts:?}");
                c2.fetch_add(1, Ordering::Relaxed);
            }
            1 | 2 => {
                let from = &sets[n % 3];
                let to = &sets[(n + 1 + i % 2) % 3];
                let m = format!("m{}", n % 10);
                let _: i64 = redis::cmd("SMOVE")
                    .arg(from)
                    .arg(to)
                    .arg(&m)
                    .query(c)
                    .unwrap();
            }
            _ => {
                let from = &l2[n % 3];
                let to = &l2[(n + 1) % 3];
                let _: Option<String> = redis::cmd("LMOVE")
                    .arg(from)
                    .arg(to)
                    .arg(if n.is_multiple_of(2) { "LEFT" } else { "RIGHT" })
                    .arg("LEFT")
                    .query(c)
                    .unwrap();
            }
        }
    });
    assert!(ops > 100 && checks.load(Ordering::Relaxed) > 20);
    let mut all: Vec<String> = Vec::new();
    for k in sets.iter() {
        let m: Vec<String> = redis::cmd("SMEMBERS").arg(k).query(&mut c).unwrap();
        all.extend(m);
    }
    all.sort();
    assert_eq!(all, members);
    let mut all: Vec<String> = Vec::new();
    for k in lists.iter() {
        let m: Vec<String> = redis::cmd("LRANGE")
            .arg(k)
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .unwrap();
        all.extend(m);
    }
    all.sort();
    assert_eq!(all, members);
}

#[test]
fn blmove_hand_off_chain_across_shards_delivers_every_element_once() {
    let s = Server::start();
    // q:0 -> q:1 -> q:2 -> q:3, neighbours on different shards.
    let lists = Arc::new(spread("q", 4));
    const N: usize = 3000;
    let stop = Arc::new(AtomicBool::new(false));
    let movers: Vec<_> = (0..21)
        .map(|i| {
            let (lists, stop, port) = (lists.clone(), stop.clone(), s.port);
            std::thread::spawn(move || {
                let mut c = connect_redis(port);
                let stage = i % 3;
                while !stop.load(Ordering::Relaxed) {
                    let _: Option<String> = redis::cmd("BLMOVE")
                        .arg(&lists[stage])
                        .arg(&lists[stage + 1])
                        .arg("LEFT")
                        .arg("RIGHT")
                        .arg(0.05)
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    let mut c = s.conn();
    for chunk in (0..N).collect::<Vec<_>>().chunks(100) {
        let elems: Vec<String> = chunk.iter().map(|i| format!("e{i}")).collect();
        let _: () = redis::cmd("RPUSH")
            .arg(&lists[0])
            .arg(&elems)
            .query(&mut c)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: usize = redis::cmd("LLEN").arg(&lists[3]).query(&mut c).unwrap();
        if n >= N || Instant::now() > deadline {
            break;
        }
        let _: Option<(String, String)> = redis::cmd("BLPOP")
            .arg("atomicity:never")
            .arg(0.02)
            .query(&mut c)
            .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for m in movers {
        m.join().expect("a mover failed");
    }
    let mut got: Vec<String> = redis::cmd("LRANGE")
        .arg(&lists[3])
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    for k in &lists[..3] {
        let n: usize = redis::cmd("LLEN").arg(k).query(&mut c).unwrap();
        assert_eq!(n, 0, "{k} still holds elements");
    }
    got.sort();
    let mut want: Vec<String> = (0..N).map(|i| format!("e{i}")).collect();
    want.sort();
    assert_eq!(got.len(), N, "elements lost or duplicated");
    assert_eq!(got, want);
}

#[test]
fn sort_by_and_get_lookups_see_one_snapshot() {
    let s = Server::start();
    let keys = Arc::new(spread("sortw", 6));
    set_all(&s, &keys, "0");
    // The list holds the keys' suffixes, so `GET sortw:*` reads every key.
    let suffixes: Vec<&str> = keys
        .iter()
        .map(|k| k.strip_prefix("sortw:").unwrap())
        .collect();
    let _: () = redis::cmd("RPUSH")
        .arg("sortlist")
        .arg(&suffixes)
        .query(&mut s.conn())
        .unwrap();
    let reads = Arc::new(AtomicU64::new(0));
    let r2 = reads.clone();
    let ops = run_load(s.port, 20, move |i, c, ops| {
        if i % 2 == 0 {
            let n = ops.fetch_add(1, Ordering::Relaxed).to_string();
            let mut cmd = redis::cmd("MSET");
            for k in keys.iter() {
                cmd.arg(k).arg(&n);
            }
            let _: () = cmd.query(c).unwrap();
            return;
        }
        let got: Vec<Option<String>> = if i % 4 == 1 {
            // Sorted by the keys' values (all equal), then read back.
            redis::cmd("SORT")
                .arg("sortlist")
                .arg("BY")
                .arg("sortw:*")
                .arg("GET")
                .arg("sortw:*")
                .query(c)
                .unwrap()
        } else {
            let dst = format!("sortdst{i}");
            let n: usize = redis::cmd("SORT")
                .arg("sortlist")
                .arg("BY")
                .arg("nosort")
                .arg("GET")
                .arg("sortw:*")
                .arg("STORE")
                .arg(&dst)
                .query(c)
                .unwrap();
            assert_eq!(n, 6);
            redis::cmd("LRANGE")
                .arg(&dst)
                .arg(0)
                .arg(-1)
                .query(c)
                .unwrap()
        };
        assert_eq!(got.len(), 6);
        assert!(
            got.iter().all(|v| *v == got[0]),
            "SORT's lookups saw a torn MSET: {got:?}"
        );
        r2.fetch_add(1, Ordering::Relaxed);
    });
    assert!(ops > 100 && reads.load(Ordering::Relaxed) > 100);
}
