//! `maxmemory` and the eviction policies against the real binary on 3 shards:
//! the limit holds while writes go far past it, each policy evicts only what
//! it may, `noeviction` refuses DENYOOM commands with Redis's exact error and
//! keeps serving reads and deletes, and CONFIG SET reaches every core.

mod common;

use common::*;
use redis::Connection;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// What a limit may be passed by after a write: the command that was let in
/// (one key here) and the bookkeeping of the clients and hops in flight.
const SLACK: u64 = 16 * 1024;

fn info_u64(c: &mut Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// Sets a limit `headroom` bytes above what the server uses now.
fn limit_above_now(c: &mut Connection, headroom: u64, policy: &str) -> u64 {
    let used = info_u64(c, "used_memory");
    let limit = used + headroom;
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", &limit.to_string()])
        .query(c)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory-policy", policy])
        .query(c)
        .unwrap();
    limit
}

/// A server whose databases are already in use on every shard (their slot
/// directories allocated), so a small headroom measures keys only.
fn warmed_server() -> (Server, Connection) {
    let s = Server::start();
    let mut c = s.conn();
    for i in 0..64 {
        let _: () = redis::cmd("SET")
            .arg(format!("warm:{i}"))
            .arg("x")
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    (s, c)
}

fn dbsize(c: &mut Connection) -> u64 {
    redis::cmd("DBSIZE").query(c).unwrap()
}

#[test]
fn allkeys_policies_hold_the_limit_far_past_it() {
    for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
        let (_s, mut c) = warmed_server();
        let limit = limit_above_now(&mut c, 256 * 1024, policy);
        let value = [b'v'; 200];
        // About ten times what fits.
        for i in 0..8000 {
            let _: () = redis::cmd("SET")
                .arg(format!("k:{i}"))
                .arg(&value[..])
                .query(&mut c)
                .unwrap();
            if i % 500 == 0 {
                let used = info_u64(&mut c, "used_memory");
                assert!(
                    used <= limit + SLACK,
                    "{policy}: {used} > {limit} + {SLACK}"
                );
            }
        }
        let used = info_u64(&mut c, "used_memory");
        assert!(
            used <= limit + SLACK,
            "{policy}: {used} > {limit} + {SLACK}"
        );
        // Any command may evict first while memory is over the limit (INFO
        // and DBSIZE too): read the two counts until no eviction fell
        // between them.
        let (evicted, kept) = loop {
            let evicted = info_u64(&mut c, "evicted_keys");
            let kept = dbsize(&mut c);
            if info_u64(&mut c, "evicted_keys") == evicted {
                break (evicted, kept);
            }
        };
        assert!(evicted > 4000, "{policy}: evicted {evicted}");
        assert!(
            kept > 100 && kept + evicted == 8000,
            "{policy}: kept {kept}, evicted {evicted}"
        );
        // Keys survive on every shard, not only on the clients' cores.
        let mut shards_with_keys = std::collections::HashSet::new();
        for i in 0..8000 {
            let k = format!("k:{i}");
            let exists: bool = redis::cmd("EXISTS").arg(&k).query(&mut c).unwrap();
            if exists {
                shards_with_keys.insert(coreshard::shard::slot::key_owner(k.as_bytes(), THREADS));
            }
        }
        assert_eq!(shards_with_keys.len(), THREADS, "{policy}");
    }
}

#[test]
fn noeviction_refuses_writes_and_keeps_reads_and_deletes() {
    let (_s, mut c) = warmed_server();
    limit_above_now(&mut c, 64 * 1024, "noeviction");
    let value = vec![b'v'; 500];
    let mut refused = None;
    for i in 0..10_000 {
        let r: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("k:{i}"))
            .arg(&value[..])
            .query(&mut c);
        if let Err(e) = r {
            refused = Some((i, e));
            break;
        }
    }
    let (n, e) = refused.expect("writes past the limit are refused");
    assert!(n > 10, "only {n} keys fit");
    assert_eq!(e.code(), Some("OOM"));
    assert!(
        e.to_string()
            .contains("command not allowed when used memory > 'maxmemory'"),
        "{e}"
    );
    // Reads and deletes still work; nothing was evicted.
    let v: Vec<u8> = redis::cmd("GET").arg("k:0").query(&mut c).unwrap();
    assert_eq!(v, value);
    assert_eq!(info_u64(&mut c, "evicted_keys"), 0);
    let deleted: u64 = redis::cmd("DEL")
        .arg("k:0")
        .arg("k:1")
        .arg("k:2")
        .query(&mut c)
        .unwrap();
    assert_eq!(deleted, 3);
    // Raw reply: the exact error text.
    let mut raw = Raw::connect(_s.port);
    let mut last = Vec::new();
    for i in 0..10_000 {
        last = raw.cmd(&["SET", &format!("again:{i}"), &"w".repeat(500)]);
        if last != b"+OK\r\n" {
            break;
        }
    }
    assert_eq!(last, format!("-{OOM}\r\n").into_bytes());
    // A queued DENYOOM command dooms its transaction.
    assert_eq!(raw.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(
        raw.cmd(&["SET", "x", "y"]),
        format!("-{OOM}\r\n").into_bytes()
    );
    assert_eq!(raw.cmd(&["GET", "k:5"]), b"+QUEUED\r\n");
    assert_eq!(
        raw.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // Raising the limit at run time lets writes in again, on every core.
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "0"])
        .query(&mut c)
        .unwrap();
    for i in 0..30 {
        let _: () = redis::cmd("SET")
            .arg(format!("after:{i}"))
            .arg("v")
            .query(&mut c)
            .unwrap();
    }
}

#[test]
fn volatile_policies_evict_only_keys_with_a_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let (_s, mut c) = warmed_server();
        limit_above_now(&mut c, 256 * 1024, policy);
        let value = [b'v'; 200];
        // Half with a TTL, half without, well past the limit.
        let mut refused_at = None;
        for i in 0..6000 {
            let r: redis::RedisResult<()> = if i % 2 == 0 {
                redis::cmd("SET")
                    .arg(format!("v:{i}"))
                    .arg(&value[..])
                    .arg("EX")
                    .arg(10_000)
                    .query(&mut c)
            } else {
                redis::cmd("SET")
                    .arg(format!("p:{i}"))
                    .arg(&value[..])
                    .query(&mut c)
            };
            if let Err(e) = r {
                assert_eq!(e.code(), Some("OOM"), "{policy}: {e}");
                refused_at = Some(i);
                break;
            }
        }
        // Every persistent key written is still there.
        let mut persistent = 0;
        for i in (1..6000).step_by(2) {
            if refused_at.is_some_and(|r| i >= r) {
                break;
            }
            let exists: bool = redis::cmd("EXISTS")
                .arg(format!("p:{i}"))
                .query(&mut c)
                .unwrap();
            assert!(exists, "{policy} evicted p:{i}, which has no TTL");
            persistent += 1;
        }
        assert!(persistent > 100, "{policy}");
        assert!(info_u64(&mut c, "evicted_keys") > 0, "{policy}");
        // With only persistent keys left to take, writes are refused.
        let mut oom = false;
        for i in 0..20_000 {
            let r: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("q:{i}"))
                .arg(&value[..])
                .query(&mut c);
            if let Err(e) = r {
                assert_eq!(e.code(), Some("OOM"), "{policy}: {e}");
                oom = true;
                break;
            }
        }
        assert!(
            oom,
            "{policy}: persistent keys alone never filled the limit"
        );
        let expires = {
            let info: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
            info.contains("expires=0")
        };
        assert!(
            expires,
            "{policy}: volatile keys remain while writes are refused"
        );
    }
}

#[test]
fn volatile_ttl_evicts_the_nearest_expiry_first() {
    let (_s, mut c) = warmed_server();
    limit_above_now(&mut c, 192 * 1024, "volatile-ttl");
    let value = [b'v'; 200];
    // Keys with far TTLs first, then ones that expire soon, then pressure.
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("far:{i}"))
            .arg(&value[..])
            .arg("EX")
            .arg(100_000)
            .query(&mut c)
            .unwrap();
    }
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("near:{i}"))
            .arg(&value[..])
            .arg("EX")
            .arg(1_000)
            .query(&mut c)
            .unwrap();
    }
    for i in 0..3000 {
        let _: () = redis::cmd("SET")
            .arg(format!("fill:{i}"))
            .arg(&value[..])
            .arg("EX")
            .arg(50_000)
            .query(&mut c)
            .unwrap();
    }
    let count = |c: &mut Connection, prefix: &str| -> usize {
        (0..200)
            .filter(|i| {
                redis::cmd("EXISTS")
                    .arg(format!("{prefix}:{i}"))
                    .query::<bool>(c)
                    .unwrap()
            })
            .count()
    };
    let near = count(&mut c, "near");
    let far = count(&mut c, "far");
    assert!(near < far, "near-expiry keys kept {near}, far ones {far}");
}

#[test]
fn lfu_keeps_the_hot_keys() {
    let (_s, mut c) = warmed_server();
    limit_above_now(&mut c, 256 * 1024, "allkeys-lfu");
    let value = [b'v'; 200];
    for i in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("hot:{i}"))
            .arg(&value[..])
            .query(&mut c)
            .unwrap();
    }
    // The hot keys are read often while cold keys stream through.
    for round in 0..60 {
        for i in 0..50 {
            let _: Option<Vec<u8>> = redis::cmd("GET")
                .arg(format!("hot:{i}"))
                .query(&mut c)
                .unwrap();
        }
        for j in 0..100 {
            let _: () = redis::cmd("SET")
                .arg(format!("cold:{round}:{j}"))
                .arg(&value[..])
                .query(&mut c)
                .unwrap();
        }
    }
    assert!(info_u64(&mut c, "evicted_keys") > 1000);
    let hot = (0..50)
        .filter(|i| {
            redis::cmd("EXISTS")
                .arg(format!("hot:{i}"))
                .query::<bool>(&mut c)
                .unwrap()
        })
        .count();
    assert!(hot >= 45, "only {hot} of 50 hot keys kept");
}

#[test]
fn memory_stats_doctor_and_purge() {
    let s = Server::start();
    let mut c = s.conn();
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("m:{i}"))
            .arg("v")
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let stats: Vec<redis::Value> = redis::cmd("MEMORY").arg("STATS").query(&mut c).unwrap();
    let names: Vec<String> = stats
        .iter()
        .step_by(2)
        .map(|v| redis::from_redis_value::<String>(v).unwrap())
        .collect();
    let expected = [
        "peak.allocated",
        "total.allocated",
        "startup.allocated",
        "replication.backlog",
        "clients.slaves",
        "clients.normal",
        "cluster.links",
        "aof.buffer",
        "lua.caches",
        "functions.caches",
        "db.0",
        "overhead.total",
        "keys.count",
        "keys.bytes-per-key",
        "dataset.bytes",
        "dataset.percentage",
        "peak.percentage",
        "allocator.allocated",
        "allocator.active",
        "allocator.resident",
        "allocator-fragmentation.ratio",
        "allocator-fragmentation.bytes",
        "allocator.rss-ratio",
        "allocator.rss-bytes",
        "rss-overhead.ratio",
        "rss-overhead.bytes",
        "fragmentation",
        "fragmentation.bytes",
    ];
    assert_eq!(names, expected);
    let field = |name: &str| -> i64 {
        let i = names.iter().position(|n| n == name).unwrap();
        redis::from_redis_value(&stats[2 * i + 1]).unwrap()
    };
    assert_eq!(field("keys.count"), 301);
    let used = field("total.allocated");
    assert_eq!(field("overhead.total") + field("dataset.bytes"), used);
    assert!(field("dataset.bytes") > 0);
    let db0: Vec<redis::Value> = redis::from_redis_value(&stats[21]).unwrap();
    let expires: i64 = redis::from_redis_value(&db0[3]).unwrap();
    assert!(expires > 0, "the TTL index has a size");
    let doctor: String = redis::cmd("MEMORY").arg("DOCTOR").query(&mut c).unwrap();
    assert!(!doctor.is_empty());
    let _: () = redis::cmd("MEMORY").arg("PURGE").query(&mut c).unwrap();
    let e = redis::cmd("MEMORY")
        .arg("NOPE")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("unknown subcommand"), "{e}");
}

#[test]
fn big_values_are_freed_off_the_core() {
    let s = Server::start();
    let mut c = s.conn();
    let fill = |c: &mut Connection, key: &str| {
        let members: Vec<String> = (0..20_000).map(|i| format!("m{i}")).collect();
        let _: u64 = redis::cmd("SADD").arg(key).arg(&members).query(c).unwrap();
    };
    let freed = |c: &mut Connection| info_u64(c, "lazyfreed_objects");
    let wait_freed = |c: &mut Connection, n: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while freed(c) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "not freed: {} < {n}",
                freed(c)
            );
            std::thread::yield_now();
        }
        assert_eq!(info_u64(c, "lazyfree_pending_objects"), 0);
    };
    let base = freed(&mut c);
    fill(&mut c, "big1");
    let before = info_u64(&mut c, "used_memory");
    let n: u64 = redis::cmd("UNLINK")
        .arg("big1")
        .arg("missing")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    wait_freed(&mut c, base + 1);
    assert!(
        info_u64(&mut c, "used_memory") + 500_000 < before,
        "memory came back"
    );
    // A small value is freed at once, not handed over.
    let _: () = redis::cmd("SET")
        .arg("small")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let _: u64 = redis::cmd("UNLINK").arg("small").query(&mut c).unwrap();
    assert_eq!(freed(&mut c), base + 1);
    // lazyfree-lazy-user-del: DEL behaves as UNLINK.
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "lazyfree-lazy-user-del", "yes"])
        .query(&mut c)
        .unwrap();
    fill(&mut c, "big2");
    let n: u64 = redis::cmd("DEL").arg("big2").query(&mut c).unwrap();
    assert_eq!(n, 1);
    wait_freed(&mut c, base + 2);
    // FLUSHALL ASYNC hands every key's memory over; the server answers at once.
    for i in 0..500 {
        let _: () = redis::cmd("SET")
            .arg(format!("f:{i}"))
            .arg("v")
            .query(&mut c)
            .unwrap();
    }
    let keys = redis::cmd("DBSIZE").query::<u64>(&mut c).unwrap();
    let _: () = redis::cmd("FLUSHALL").arg("ASYNC").query(&mut c).unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut c).unwrap(), 0);
    wait_freed(&mut c, base + 2 + keys);
    let base = base + keys;
    // lazyfree-lazy-eviction: evicted big values go the same way and the
    // limit still holds.
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "lazyfree-lazy-eviction", "yes"])
        .query(&mut c)
        .unwrap();
    let limit = limit_above_now(&mut c, 4 * 1024 * 1024, "allkeys-random");
    for i in 0..12 {
        fill(&mut c, &format!("set:{i}"));
    }
    wait_freed(&mut c, base + 3);
    assert!(info_u64(&mut c, "evicted_keys") > 0);
    assert!(info_u64(&mut c, "used_memory") <= limit + 2 * 1024 * 1024);
}

#[test]
fn clients_over_maxmemory_clients_are_disconnected_biggest_first() {
    // Three clients on 3 cores: one NO-EVICT, one small, one holding a
    // megabyte of unfinished request; only the big one has to go.
    let s = Server::start();
    let mut c = s.conn();
    let mut small = s.conn();
    let _: () = redis::cmd("CLIENT")
        .arg(&["NO-EVICT", "on"])
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory-clients", "256kb"])
        .query(&mut c)
        .unwrap();
    // A client that sends the start of a 4 MB argument and stops: its query
    // buffer holds what it sent.
    let mut big = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    use std::io::Write;
    big.write_all(b"*2\r\n$3\r\nSET\r\n$4000000\r\n").unwrap();
    big.write_all(&vec![b'x'; 1_000_000]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while info_u64(&mut c, "evicted_clients") == 0 {
        assert!(std::time::Instant::now() < deadline, "no client evicted");
        std::thread::yield_now();
    }
    // The NO-EVICT client is still served; the big one is gone.
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let pong: String = redis::cmd("PING").query(&mut small).unwrap();
    assert_eq!(pong, "PONG", "the small client was evicted too");
    assert_eq!(info_u64(&mut c, "evicted_clients"), 1);
    big.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    use std::io::Read;
    assert!(
        matches!(big.read(&mut buf), Ok(0) | Err(_)),
        "the big client was not closed"
    );
}

/// 50 keys of 100 KB under an 11 MB limit with `allkeys-lru` and a 3 MB
/// `maxmemory-clients`, as Redis's own client-eviction tests set it up.
fn clients_before_keys_setup() -> (Server, Connection) {
    let s = Server::start();
    let mut c = s.conn();
    for (k, v) in [
        ("maxmemory", "11mb"),
        ("maxmemory-policy", "allkeys-lru"),
        ("maxmemory-clients", "3mb"),
    ] {
        let _: () = redis::cmd("CONFIG")
            .arg(&["SET", k, v])
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("CLIENT")
        .arg(&["NO-EVICT", "on"])
        .query(&mut c)
        .unwrap();
    for j in 0..50 {
        let _: i64 = redis::cmd("SETRANGE")
            .arg(j)
            .arg(100_000)
            .arg("x")
            .query(&mut c)
            .unwrap();
    }
    (s, c)
}

/// Waits (bounded) until a client has been evicted, then checks that no key
/// was: client memory over `maxmemory-clients` is taken from the clients.
fn assert_clients_went_before_keys(c: &mut Connection) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while info_u64(c, "evicted_clients") == 0 {
        assert!(std::time::Instant::now() < deadline, "no client evicted");
        std::thread::yield_now();
    }
    assert_eq!(info_u64(c, "evicted_keys"), 0, "keys evicted for clients");
    assert_eq!(dbsize(c), 50);
}

#[test]
fn clients_with_unfinished_requests_go_before_keys() {
    // 30 clients each send 249 of the 250 arguments of one command and
    // stop: 7.5 MB of query buffers, spread over the cores.
    let (s, mut c) = clients_before_keys_setup();
    use std::io::Write;
    let mut socks = Vec::new();
    for _ in 0..30 {
        let mut t = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let mut req = b"*250\r\n".to_vec();
        for _ in 0..249 {
            req.extend_from_slice(b"$1000\r\n");
            req.extend_from_slice(&[b'x'; 1000]);
            req.extend_from_slice(b"\r\n");
        }
        // An evicted client's socket may refuse the rest: that is the point.
        let _ = t.write_all(&req);
        socks.push(t);
    }
    assert_clients_went_before_keys(&mut c);
}

#[test]
fn clients_that_never_read_replies_go_before_keys() {
    // 20 clients ask for a 100 KB value again and again and never read:
    // their replies pile up in the server (and arrive from other shards in
    // batches, which the owner cuts short to weigh the client in between).
    let (s, mut c) = clients_before_keys_setup();
    use std::io::Write;
    let mut socks: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap())
        .collect();
    for t in &socks {
        t.set_nonblocking(true).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while info_u64(&mut c, "evicted_clients") == 0 {
        assert!(std::time::Instant::now() < deadline, "no client evicted");
        socks.retain_mut(|t| match t.write(b"*2\r\n$4\r\nMGET\r\n$1\r\n1\r\n") {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        });
    }
    assert_clients_went_before_keys(&mut c);
}

#[test]
fn unlink_gives_the_memory_back() {
    // Redis's lazyfree check: a fresh server's memory, a 100k-member set
    // (megabytes), UNLINK; the memory comes back below twice the start.
    let s = Server::start();
    let mut c = s.conn();
    let start = info_u64(&mut c, "used_memory");
    let members: Vec<u32> = (0..100_000).collect();
    let _: u64 = redis::cmd("SADD")
        .arg("myset")
        .arg(&members)
        .query(&mut c)
        .unwrap();
    let peak = info_u64(&mut c, "used_memory");
    assert!(peak > start + 1_000_000, "{start} -> {peak}");
    let n: u64 = redis::cmd("UNLINK").arg("myset").query(&mut c).unwrap();
    assert_eq!(n, 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let used = info_u64(&mut c, "used_memory");
        if used < peak && used < start * 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "memory not reclaimed: start {start}, peak {peak}, now {used}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn replaced_values_are_freed_off_the_core_with_lazy_server_del() {
    let s = Server::start();
    let mut c = s.conn();
    let freed_after = |c: &mut Connection, want: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while info_u64(c, "lazyfreed_objects") < want {
            assert!(std::time::Instant::now() < deadline, "not freed lazily");
            std::thread::yield_now();
        }
    };
    let big = |c: &mut Connection, key: &str| {
        let members: Vec<u32> = (0..1000).collect();
        let _: u64 = redis::cmd("SADD").arg(key).arg(&members).query(c).unwrap();
    };
    // Off (the default): an overwritten big value is freed in place.
    big(&mut c, "a");
    let _: () = redis::cmd("SET").arg("a").arg("x").query(&mut c).unwrap();
    assert_eq!(info_u64(&mut c, "lazyfreed_objects"), 0);
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "lazyfree-lazy-server-del", "yes"])
        .query(&mut c)
        .unwrap();
    // SET over a big value, and RENAME onto one (keys on any shard).
    big(&mut c, "k");
    let _: () = redis::cmd("SET").arg("k").arg("x").query(&mut c).unwrap();
    freed_after(&mut c, 1);
    big(&mut c, "dst");
    let _: () = redis::cmd("RENAME")
        .arg("k")
        .arg("dst")
        .query(&mut c)
        .unwrap();
    freed_after(&mut c, 2);
    let v: String = redis::cmd("GET").arg("dst").query(&mut c).unwrap();
    assert_eq!(v, "x");
    // Small values replaced are not counted (freed in place).
    let _: () = redis::cmd("SET").arg("dst").arg("y").query(&mut c).unwrap();
    assert_eq!(info_u64(&mut c, "lazyfreed_objects"), 2);
}
