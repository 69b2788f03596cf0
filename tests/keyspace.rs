//! Keyspace behaviour over all shards: key spread, active and lazy expiry, SCAN
//! completeness under concurrent writes, renames and copies across shards,
//! databases.

mod common;

use common::*;
use redis::Commands;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn dbsize(c: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(c).unwrap()
}

#[test]
fn keys_spread_over_all_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let keys = keys_on_every_shard("spread", 100);
    for k in &keys {
        let _: () = c.set(k, k).unwrap();
    }
    assert_eq!(dbsize(&mut c), keys.len() as i64);
    let all: HashSet<String> = c.keys::<_, Vec<String>>("*").unwrap().into_iter().collect();
    assert_eq!(all, keys.iter().cloned().collect::<HashSet<_>>());
    let some: Vec<String> = c.keys("spread:1?").unwrap();
    let want: HashSet<&String> = keys
        .iter()
        .filter(|k| k.len() == "spread:1?".len() && k.starts_with("spread:1"))
        .collect();
    assert_eq!(some.iter().collect::<HashSet<_>>(), want);
    assert_eq!(c.exists::<_, i64>(&keys).unwrap(), keys.len() as i64);
    for k in keys.iter().take(10) {
        assert_eq!(c.get::<_, String>(k).unwrap(), *k);
    }
    assert_eq!(c.del::<_, i64>(&keys[..50]).unwrap(), 50);
    assert_eq!(dbsize(&mut c), keys.len() as i64 - 50);
    let n: i64 = redis::cmd("UNLINK").arg(&keys[50..]).query(&mut c).unwrap();
    assert_eq!(n, keys.len() as i64 - 50);
    assert_eq!(dbsize(&mut c), 0);
}

#[test]
fn active_expiry_removes_untouched_keys() {
    let s = Server::start();
    let mut c = s.conn();
    let keys = keys_on_every_shard("act", 100);
    for k in &keys {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg("v")
            .arg("PX")
            .arg(50)
            .query(&mut c)
            .unwrap();
    }
    let _: () = c.set("persistent", "v").unwrap();
    // Nobody touches the keys: only the active cycle can bring DBSIZE down.
    wait_for(
        Duration::from_secs(20),
        "active expiry to empty the shards",
        || (dbsize(&mut c) == 1).then_some(()),
    );
    assert_eq!(c.get::<_, String>("persistent").unwrap(), "v");
    let info: redis::InfoDict = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    let expired: i64 = info.get("expired_keys").unwrap_or(0);
    assert!(expired >= keys.len() as i64, "expired_keys {expired}");
}

#[test]
fn lazy_expiry_on_access() {
    let s = Server::start();
    let mut c = s.conn();
    // Slow the active cycle down so access sees the keys first.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hz")
        .arg(1)
        .query(&mut c)
        .unwrap();
    for k in key_per_shard("lazy") {
        let _: () = redis::cmd("SET")
            .arg(&k)
            .arg("v")
            .arg("PX")
            .arg(20)
            .query(&mut c)
            .unwrap();
        wait_for(Duration::from_secs(10), "key to expire", || {
            let v: Option<String> = c.get(&k).unwrap();
            v.is_none().then_some(())
        });
        assert_eq!(c.exists::<_, i64>(&k).unwrap(), 0);
        assert_eq!(c.ttl::<_, i64>(&k).unwrap(), -2);
        assert_eq!(c.pttl::<_, i64>(&k).unwrap(), -2);
    }
}

#[test]
fn expire_family() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = c.set("e", "v").unwrap();
    assert_eq!(c.ttl::<_, i64>("e").unwrap(), -1);
    assert!(c.expire::<_, bool>("e", 100).unwrap());
    let t: i64 = c.ttl("e").unwrap();
    assert!((1..=100).contains(&t), "ttl {t}");
    let nx: i64 = redis::cmd("EXPIRE")
        .arg("e")
        .arg(200)
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(nx, 0);
    let gt: i64 = redis::cmd("EXPIRE")
        .arg("e")
        .arg(50)
        .arg("GT")
        .query(&mut c)
        .unwrap();
    assert_eq!(gt, 0);
    let lt: i64 = redis::cmd("EXPIRE")
        .arg("e")
        .arg(50)
        .arg("LT")
        .query(&mut c)
        .unwrap();
    assert_eq!(lt, 1);
    let at: i64 = redis::cmd("EXPIRETIME").arg("e").query(&mut c).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(at > now && at <= now + 51, "expiretime {at} now {now}");
    let pat: i64 = redis::cmd("PEXPIRETIME").arg("e").query(&mut c).unwrap();
    assert!(pat / 1000 == at || pat / 1000 + 1 == at, "{pat} vs {at}");
    assert!(c.persist::<_, bool>("e").unwrap());
    assert_eq!(c.ttl::<_, i64>("e").unwrap(), -1);
    assert!(c.pexpire_at::<_, bool>("e", 1).unwrap());
    assert_eq!(c.exists::<_, i64>("e").unwrap(), 0);
}

#[test]
fn scan_is_complete_under_concurrent_writes() {
    let s = Server::start();
    let mut c = s.conn();
    let stable = keys_on_every_shard("stable", 700);
    for chunk in stable.chunks(100) {
        let pairs: Vec<(&String, i32)> = chunk.iter().map(|k| (k, 1)).collect();
        let _: () = c.mset(&pairs).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let port = s.port;
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = connect_redis(port);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let k = format!("churn:{}", i % 3000);
                if i % 3 == 2 {
                    let _: i64 = c.del(&k).unwrap();
                } else {
                    let _: () = c.set(&k, i).unwrap();
                }
                i += 1;
            }
            i
        })
    };
    for count in [1usize, 10, 100] {
        let mut seen: HashSet<String> = HashSet::new();
        let mut cursor: u64 = 0;
        let mut rounds = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(count)
                .query(&mut c)
                .unwrap();
            seen.extend(batch);
            cursor = next;
            rounds += 1;
            assert!(rounds < 1_000_000, "SCAN does not terminate");
            if cursor == 0 {
                break;
            }
        }
        let missing: Vec<&String> = stable.iter().filter(|k| !seen.contains(*k)).collect();
        assert!(
            missing.is_empty(),
            "SCAN COUNT {count} missed {} keys, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
    stop.store(true, Ordering::Relaxed);
    let writes = churn.join().unwrap();
    assert!(writes > 0);
}

#[test]
fn scan_match_and_type() {
    let s = Server::start();
    let mut c = s.conn();
    let keys = keys_on_every_shard("m", 30);
    for k in &keys {
        let _: () = c.set(k, 1).unwrap();
    }
    let _: () = c.set("other", 1).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("m:*")
            .arg("TYPE")
            .arg("string")
            .query(&mut c)
            .unwrap();
        seen.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen, keys.iter().cloned().collect::<HashSet<_>>());
    let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("TYPE")
        .arg("list")
        .arg("COUNT")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    assert!(batch.is_empty(), "{batch:?} (cursor {next})");
    let err = redis::cmd("SCAN")
        .arg("abc")
        .query::<redis::Value>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("invalid cursor"), "{err}");
}

#[test]
fn rename_copy_move_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let k = key_per_shard("rn");
    let _: () = redis::cmd("SET")
        .arg(&k[0])
        .arg("v0")
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let _: () = c.rename(&k[0], &k[1]).unwrap();
    assert_eq!(c.exists::<_, i64>(&k[0]).unwrap(), 0);
    assert_eq!(c.get::<_, String>(&k[1]).unwrap(), "v0");
    assert!(c.ttl::<_, i64>(&k[1]).unwrap() > 0, "RENAME keeps the TTL");
    let _: () = c.set(&k[2], "v2").unwrap();
    assert!(!c.rename_nx::<_, _, bool>(&k[1], &k[2]).unwrap());
    let copied: i64 = redis::cmd("COPY")
        .arg(&k[1])
        .arg(&k[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(copied, 1);
    assert_eq!(c.get::<_, String>(&k[0]).unwrap(), "v0");
    let copied: i64 = redis::cmd("COPY")
        .arg(&k[2])
        .arg(&k[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(copied, 0);
    let copied: i64 = redis::cmd("COPY")
        .arg(&k[2])
        .arg(&k[0])
        .arg("REPLACE")
        .query(&mut c)
        .unwrap();
    assert_eq!(copied, 1);
    assert_eq!(c.get::<_, String>(&k[0]).unwrap(), "v2");
    let moved: i64 = redis::cmd("MOVE").arg(&k[0]).arg(3).query(&mut c).unwrap();
    assert_eq!(moved, 1);
    assert_eq!(c.exists::<_, i64>(&k[0]).unwrap(), 0);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>(&k[0]).unwrap(), "v2");
    let err = c.rename::<_, _, ()>("nokey", "x").unwrap_err();
    assert!(err.to_string().contains("no such key"), "{err}");
}

#[test]
fn databases_select_swapdb_flush() {
    let s = Server::start();
    let mut c = s.conn();
    let keys = keys_on_every_shard("db", 10);
    for k in &keys {
        let _: () = c.set(k, "in0").unwrap();
    }
    let _: () = redis::cmd("SELECT").arg(5).query(&mut c).unwrap();
    assert_eq!(dbsize(&mut c), 0);
    for k in &keys[..5] {
        let _: () = c.set(k, "in5").unwrap();
    }
    let _: () = redis::cmd("SWAPDB").arg(0).arg(5).query(&mut c).unwrap();
    assert_eq!(dbsize(&mut c), keys.len() as i64);
    assert_eq!(c.get::<_, String>(&keys[0]).unwrap(), "in0");
    // Another connection on db 0 sees the swap too.
    let mut other = s.conn();
    assert_eq!(dbsize(&mut other), 5);
    assert_eq!(other.get::<_, String>(&keys[0]).unwrap(), "in5");
    let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(dbsize(&mut other), 5);
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    assert_eq!(dbsize(&mut other), 0);
}

#[test]
fn randomkey_type_touch_object() {
    let s = Server::start();
    let mut c = s.conn();
    let r: Option<String> = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
    assert_eq!(r, None);
    let keys = keys_on_every_shard("rk", 5);
    for k in &keys {
        let _: () = c.set(k, 12345).unwrap();
    }
    let set: HashSet<&String> = keys.iter().collect();
    for _ in 0..50 {
        let r: String = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
        assert!(set.contains(&r), "RANDOMKEY returned {r}");
    }
    let t: String = redis::cmd("TYPE").arg(&keys[0]).query(&mut c).unwrap();
    assert_eq!(t, "string");
    let t: String = redis::cmd("TYPE").arg("nokey").query(&mut c).unwrap();
    assert_eq!(t, "none");
    let n: i64 = redis::cmd("TOUCH")
        .arg(&keys)
        .arg("nokey")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, keys.len() as i64);
    let e: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(&keys[0])
        .query(&mut c)
        .unwrap();
    assert_eq!(e, "int");
}

/// Keys with a TTL that nobody reads again are removed by the active cycle on
/// every shard, and INFO reports the cycle (stale estimate, time spent).
#[test]
fn active_expiry_reclaims_untouched_keys_and_reports_it() {
    let s = Server::start();
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..3000 {
        p.cmd("SET")
            .arg(format!("ttl:{i}"))
            .arg("v")
            .arg("PX")
            .arg(30)
            .ignore();
    }
    for i in 0..100 {
        p.cmd("SET").arg(format!("keep:{i}")).arg("v").ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        if n == 100 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{n} keys left");
        std::thread::yield_now();
    }
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(field("expired_keys"), 3000.0);
    assert!(field("expired_stale_perc") > 0.0);
    // Present and numeric (a short cycle may round to 0 ms and never hit
    // its time limit).
    let _ = field("expired_time_cap_reached_count");
    let _ = field("expire_cycle_cpu_milliseconds");
}

fn kcmd<T: redis::FromRedisValue>(c: &mut redis::Connection, parts: &[&str]) -> T {
    let mut q = redis::cmd(parts[0]);
    for p in &parts[1..] {
        q.arg(*p);
    }
    q.query(c).unwrap()
}

/// EXISTS, TOUCH, RENAME(NX), COPY, MOVE, SWAPDB, DBSIZE, DEL, SCAN, KEYS,
/// RANDOMKEY and FLUSHDB with keys on all three shards.
#[test]
fn keyspace_commands_span_every_shard() {
    let server = Server::start();
    let mut c = server.conn();
    let [a, b, d]: [String; 3] = key_per_shard("ks-span").try_into().unwrap();
    let _: () = kcmd(&mut c, &["SET", &a, "1"]);
    let _: () = kcmd(&mut c, &["SET", &b, "2"]);
    assert_eq!(kcmd::<i64>(&mut c, &["EXISTS", &a, &b, &d, &a]), 3);
    assert_eq!(kcmd::<i64>(&mut c, &["TOUCH", &a, &b, &d]), 2);

    // RENAME across shards keeps the TTL; RENAMENX refuses an existing target.
    assert_eq!(kcmd::<i64>(&mut c, &["PEXPIRE", &a, "100000"]), 1);
    let _: () = kcmd(&mut c, &["RENAME", &a, &d]);
    assert_eq!(kcmd::<i64>(&mut c, &["EXISTS", &a]), 0);
    let ttl: i64 = kcmd(&mut c, &["PTTL", &d]);
    assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
    assert_eq!(kcmd::<i64>(&mut c, &["RENAMENX", &d, &b]), 0);
    let err = redis::cmd("RENAME").arg(&a).arg(&b).query::<()>(&mut c);
    assert!(err.unwrap_err().to_string().contains("no such key"));

    // COPY across shards copies the TTL; REPLACE and DB work.
    assert_eq!(kcmd::<i64>(&mut c, &["COPY", &d, &a]), 1);
    assert!(kcmd::<i64>(&mut c, &["PTTL", &a]) > 90_000);
    assert_eq!(kcmd::<i64>(&mut c, &["COPY", &d, &b]), 0);
    assert_eq!(kcmd::<i64>(&mut c, &["COPY", &d, &b, "REPLACE"]), 1);
    assert_eq!(kcmd::<String>(&mut c, &["GET", &b]), "1");
    assert_eq!(kcmd::<i64>(&mut c, &["COPY", &d, &b, "DB", "2"]), 1);

    // MOVE, SWAPDB, DBSIZE, FLUSHDB span the shards.
    assert_eq!(kcmd::<i64>(&mut c, &["DBSIZE"]), 3);
    assert_eq!(kcmd::<i64>(&mut c, &["MOVE", &a, "1"]), 1);
    assert_eq!(kcmd::<i64>(&mut c, &["DBSIZE"]), 2);
    let _: () = kcmd(&mut c, &["SWAPDB", "0", "2"]);
    assert_eq!(kcmd::<i64>(&mut c, &["DBSIZE"]), 1);
    let _: () = kcmd(&mut c, &["SWAPDB", "0", "2"]);
    assert_eq!(kcmd::<i64>(&mut c, &["DEL", &a, &b, &d]), 2);
    assert_eq!(kcmd::<i64>(&mut c, &["DBSIZE"]), 0);
    assert_eq!(kcmd::<Option<String>>(&mut c, &["RANDOMKEY"]), None);

    // SCAN returns every key exactly once; KEYS and RANDOMKEY see all shards.
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("SET").arg(format!("k:{i}")).arg("v").ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let mut cursor = 0u64;
    let mut seen = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(7)
            .query(&mut c)
            .unwrap();
        seen.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!((before, seen.len()), (500, 500));
    assert_eq!(kcmd::<Vec<String>>(&mut c, &["KEYS", "k:1*"]).len(), 111);
    let mut owners = [false; 3];
    for _ in 0..200 {
        let k: String = kcmd(&mut c, &["RANDOMKEY"]);
        owners[coreshard::shard::slot::key_owner(k.as_bytes(), THREADS)] = true;
    }
    assert_eq!(owners, [true; 3]);
    let _: () = kcmd(&mut c, &["FLUSHDB"]);
    assert_eq!(kcmd::<i64>(&mut c, &["DBSIZE"]), 0);
}
