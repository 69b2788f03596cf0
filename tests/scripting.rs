//! Lua scripts as client libraries ship them, against the real binary on 3
//! shards: locks, rate limiters, token buckets and job queues, scripts
//! whose keys span shards, and scripts that reach keys they never declared.
//! `CORESHARD_TEST_AGAINST_REDIS=1` runs the same expectations on Redis.

mod common;

use common::*;
use coreshard::shard::slot::key_owner;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long each stress test loads the server.
const LOAD: Duration = Duration::from_secs(2);

/// Runs `workers` threads of `f(index, conn)` until [`LOAD`] has passed.
fn run_load(
    port: u16,
    workers: usize,
    f: impl Fn(usize, &mut redis::Connection) + Send + Sync + 'static,
) {
    let f = Arc::new(f);
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..workers)
        .map(|i| {
            let (f, stop) = (f.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = connect_redis(port);
                while !stop.load(Ordering::Relaxed) {
                    f(i, &mut c);
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
}

/// Compare-and-delete: the single-instance lock release.
const RELEASE: &str = r#"if redis.call("get",KEYS[1]) == ARGV[1] then
    return redis.call("del",KEYS[1])
else
    return 0
end"#;

/// Extends a lock its owner holds by ARGV[2] ms (or sets its TTL to it
/// with ARGV[3] == "1"), as lock libraries do.
const EXTEND: &str = r#"local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
    return 0
end
local extra = tonumber(ARGV[2])
if ARGV[3] == "1" then
    redis.call('pexpire', KEYS[1], extra)
else
    redis.call('pexpire', KEYS[1], ttl + extra)
end
return 1"#;

#[test]
fn lock_acquire_extend_release_across_connections() {
    let s = Server::start();
    let mut a = s.conn();
    let mut b = s.conn();
    let release = redis::Script::new(RELEASE);
    let extend = redis::Script::new(EXTEND);
    let set_nx = |c: &mut redis::Connection, token: &str| -> Option<String> {
        redis::cmd("SET")
            .arg("lock:res")
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(10_000)
            .query(c)
            .unwrap()
    };
    assert_eq!(set_nx(&mut a, "tok-a").as_deref(), Some("OK"));
    assert_eq!(set_nx(&mut b, "tok-b"), None);
    // Another owner's token neither releases nor extends it.
    let n: i64 = release.key("lock:res").arg("tok-b").invoke(&mut b).unwrap();
    assert_eq!(n, 0);
    let n: i64 = extend
        .key("lock:res")
        .arg("tok-b")
        .arg(5000)
        .arg("0")
        .invoke(&mut b)
        .unwrap();
    assert_eq!(n, 0);
    // The owner extends it (the script was loaded by the other connection:
    // EVALSHA finds it in the shared cache).
    let n: i64 = extend
        .key("lock:res")
        .arg("tok-a")
        .arg(50_000)
        .arg("0")
        .invoke(&mut a)
        .unwrap();
    assert_eq!(n, 1);
    let ttl: i64 = redis::cmd("PTTL").arg("lock:res").query(&mut b).unwrap();
    assert!(ttl > 50_000 && ttl <= 60_000, "{ttl}");
    let n: i64 = extend
        .key("lock:res")
        .arg("tok-a")
        .arg(20_000)
        .arg("1")
        .invoke(&mut a)
        .unwrap();
    assert_eq!(n, 1);
    let ttl: i64 = redis::cmd("PTTL").arg("lock:res").query(&mut b).unwrap();
    assert!(ttl > 10_000 && ttl <= 20_000, "{ttl}");
    let n: i64 = release.key("lock:res").arg("tok-a").invoke(&mut a).unwrap();
    assert_eq!(n, 1);
    assert_eq!(set_nx(&mut b, "tok-b").as_deref(), Some("OK"));
    let exists: bool = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(release.get_hash())
        .query::<Vec<bool>>(&mut a)
        .unwrap()[0];
    assert!(exists);
}

/// A sliding-window rate limiter on a sorted set: ARGV now (ms), window
/// (ms), limit, request id.
const SLIDING_WINDOW: &str = r#"local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[1], window)
    return 1
end
return 0"#;

#[test]
fn sliding_window_rate_limiter() {
    let s = Server::start();
    let mut c = s.conn();
    let limiter = redis::Script::new(SLIDING_WINDOW);
    let mut allow = |now: i64, id: &str| -> i64 {
        limiter
            .key("rate:user1")
            .arg(now)
            .arg(1000)
            .arg(5)
            .arg(id)
            .invoke(&mut c)
            .unwrap()
    };
    let granted: i64 = (0..10).map(|i| allow(10_000 + i, &format!("r{i}"))).sum();
    assert_eq!(granted, 5);
    // A window later the old requests have left it.
    let granted: i64 = (0..10).map(|i| allow(11_100 + i, &format!("s{i}"))).sum();
    assert_eq!(granted, 5);
    let card: i64 = redis::cmd("ZCARD").arg("rate:user1").query(&mut c).unwrap();
    assert_eq!(card, 5);
}

/// A token bucket on a hash: ARGV capacity, refill per second, now (ms),
/// tokens wanted. Returns {allowed, tokens left}.
const TOKEN_BUCKET: &str = r#"local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)
local allowed = 0
if tokens >= want then
    tokens = tokens - want
    allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return {allowed, math.floor(tokens)}"#;

#[test]
fn token_bucket_on_a_hash() {
    let s = Server::start();
    let mut c = s.conn();
    let bucket = redis::Script::new(TOKEN_BUCKET);
    let mut take = |now: i64| -> (i64, i64) {
        let r: Vec<i64> = bucket
            .key("bucket:api")
            .arg(3)
            .arg(1)
            .arg(now)
            .arg(1)
            .invoke(&mut c)
            .unwrap();
        (r[0], r[1])
    };
    assert_eq!(take(1000), (1, 2));
    assert_eq!(take(1000), (1, 1));
    assert_eq!(take(1000), (1, 0));
    assert_eq!(take(1000), (0, 0));
    // Two seconds refill two tokens.
    assert_eq!(take(3000), (1, 1));
    let tokens: String = redis::cmd("HGET")
        .arg("bucket:api")
        .arg("tokens")
        .query(&mut c)
        .unwrap();
    assert_eq!(tokens, "1");
}

/// Moves a job from the wait list to the active list and marks its hash,
/// in the style of queue libraries: only the wait list is declared; the
/// job's hash and the active list are named from the job id.
const TAKE_JOB: &str = r#"local id = redis.call('RPOP', KEYS[1])
if not id then
    return false
end
local job = ARGV[1] .. ':job:' .. id
if redis.call('HGET', job, 'state') ~= 'waiting' then
    return redis.error_reply('job ' .. id .. ' taken twice')
end
redis.call('HSET', job, 'state', 'active', 'worker', ARGV[2])
redis.call('LPUSH', ARGV[1] .. ':active', id)
return id"#;

#[test]
fn job_queue_script_reaching_undeclared_keys_takes_each_job_once() {
    let s = Server::start();
    let mut c = s.conn();
    let jobs = 300;
    for i in 0..jobs {
        let _: () = redis::cmd("HSET")
            .arg(format!("q:job:{i}"))
            .arg("state")
            .arg("waiting")
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("LPUSH")
            .arg("q:wait")
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let taken = Arc::new(std::sync::Mutex::new(Vec::new()));
    let t2 = taken.clone();
    let script = Arc::new(redis::Script::new(TAKE_JOB));
    run_load(s.port, 20, move |i, c| {
        let r: Option<String> = script
            .key("q:wait")
            .arg("q")
            .arg(format!("w{i}"))
            .invoke(c)
            .unwrap();
        match r {
            Some(id) => t2.lock().unwrap().push(id),
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    });
    let taken = taken.lock().unwrap();
    let unique: HashSet<&String> = taken.iter().collect();
    assert_eq!((taken.len(), unique.len()), (jobs, jobs));
    let active: i64 = redis::cmd("LLEN").arg("q:active").query(&mut c).unwrap();
    assert_eq!(active, jobs as i64);
    // The job hashes live on every shard.
    let shards: HashSet<usize> = (0..jobs)
        .map(|i| key_owner(format!("q:job:{i}").as_bytes(), THREADS))
        .collect();
    assert_eq!(shards.len(), THREADS);
}

/// Moves ARGV[1] from KEYS[1] to KEYS[2] when KEYS[1] has it.
const TRANSFER: &str = r#"local have = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if have < n then
    return 0
end
redis.call('DECRBY', KEYS[1], n)
redis.call('INCRBY', KEYS[2], n)
return 1"#;

/// The same, with the keys named in ARGV (never declared).
const TRANSFER_UNDECLARED: &str = r#"local have = tonumber(redis.call('GET', ARGV[1]) or '0')
local n = tonumber(ARGV[3])
if have < n then
    return 0
end
redis.call('DECRBY', ARGV[1], n)
redis.call('INCRBY', ARGV[2], n)
return 1"#;

/// Sums its keys.
const SUM: &str = r#"local total = 0
for _, k in ipairs(KEYS) do
    total = total + tonumber(redis.call('GET', k) or '0')
end
return total"#;

#[test]
fn scripts_across_shards_keep_the_total_beside_plain_commands() {
    let s = Server::start();
    let keys = Arc::new(spread("acct", 6));
    let total = 1000 * keys.len() as i64;
    let mut c = s.conn();
    for k in keys.iter() {
        let _: () = redis::cmd("SET").arg(k).arg(1000).query(&mut c).unwrap();
    }
    let audits = Arc::new(AtomicU64::new(0));
    let moves = Arc::new(AtomicU64::new(0));
    let (a2, m2, k2) = (audits.clone(), moves.clone(), keys.clone());
    run_load(s.port, 24, move |i, c| {
        let keys = &k2;
        let n = keys.len();
        let from = &keys[(i + m2.load(Ordering::Relaxed) as usize) % n];
        let to = &keys[(i * 7 + 1 + m2.load(Ordering::Relaxed) as usize) % n];
        if from == to {
            m2.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match i % 6 {
            0 | 1 => {
                let _: i64 = redis::Script::new(TRANSFER)
                    .key(from)
                    .key(to)
                    .arg(7)
                    .invoke(c)
                    .unwrap();
                m2.fetch_add(1, Ordering::Relaxed);
            }
            2 => {
                let _: i64 = redis::Script::new(TRANSFER_UNDECLARED)
                    .arg(from)
                    .arg(to)
                    .arg(3)
                    .invoke(c)
                    .unwrap();
                m2.fetch_add(1, Ordering::Relaxed);
            }
            3 => {
                // A plain transaction moving between the same keys.
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("DECRBY")
                    .arg(from)
                    .arg(2)
                    .ignore()
                    .cmd("INCRBY")
                    .arg(to)
                    .arg(2)
                    .ignore()
                    .query(c)
                    .unwrap();
            }
            4 => {
                let sum: i64 = redis::Script::new(SUM).key(&keys[..]).invoke(c).unwrap();
                assert_eq!(sum, total, "a script saw a transfer half done");
                a2.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                let got: Vec<i64> = redis::cmd("MGET").arg(&keys[..]).query(c).unwrap();
                assert_eq!(
                    got.iter().sum::<i64>(),
                    total,
                    "MGET saw a transfer half done: {got:?}"
                );
                a2.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let got: Vec<i64> = redis::cmd("MGET").arg(&keys[..]).query(&mut c).unwrap();
    assert_eq!(got.iter().sum::<i64>(), total);
    assert!(audits.load(Ordering::Relaxed) > 50 && moves.load(Ordering::Relaxed) > 50);
}

/// Read-modify-write of two keys by GET and SET: any interleaving with
/// another writer loses an update.
const BUMP_BOTH: &str = r#"local a = tonumber(redis.call('GET', KEYS[1]) or '0')
local b = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('SET', KEYS[1], a + 1)
redis.call('SET', KEYS[2], b + 1)
return a + 1"#;

#[test]
fn scripts_on_keys_of_one_shard_lose_no_update_from_any_core() {
    // Both keys share a hash tag: one shard owns them, and clients on the
    // other cores run the script from theirs (its lock asked for together
    // with its first command there). Plain transactions and reads on the
    // same keys run meanwhile; every increment must survive.
    let s = Server::start();
    let keys = Arc::new(vec!["{rmw}a".to_string(), "{rmw}b".to_string()]);
    let bumps = Arc::new(AtomicU64::new(0));
    let audits = Arc::new(AtomicU64::new(0));
    let (b2, a2, k2) = (bumps.clone(), audits.clone(), keys.clone());
    run_load(s.port, 24, move |i, c| {
        let keys = &k2;
        match i % 4 {
            0 | 1 => {
                let _: i64 = redis::Script::new(BUMP_BOTH)
                    .key(&keys[0])
                    .key(&keys[1])
                    .invoke(c)
                    .unwrap();
                b2.fetch_add(1, Ordering::Relaxed);
            }
            2 => {
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg(&keys[0])
                    .ignore()
                    .cmd("INCR")
                    .arg(&keys[1])
                    .ignore()
                    .query(c)
                    .unwrap();
                b2.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                let got: Vec<Option<i64>> = redis::cmd("MGET").arg(&keys[..]).query(c).unwrap();
                assert_eq!(got[0], got[1], "MGET saw half an update: {got:?}");
                a2.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let got: Vec<i64> = redis::cmd("MGET")
        .arg(&keys[..])
        .query(&mut s.conn())
        .unwrap();
    let n = bumps.load(Ordering::Relaxed) as i64;
    assert_eq!(got, vec![n, n], "updates were lost");
    let audits = audits.load(Ordering::Relaxed);
    assert!(n > 100 && audits > 50, "{n} updates, {audits} audits");
}

#[test]
fn eval_inside_multi_and_script_errors() {
    let s = Server::start();
    let mut c = s.conn();
    let (n, v): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        .arg(1)
        .arg("m:cnt")
        .arg(5)
        .cmd("INCR")
        .arg("m:cnt")
        .query(&mut c)
        .unwrap();
    assert_eq!((n, v), (5, 6));
    let _: () = redis::cmd("SET")
        .arg("m:str")
        .arg("x")
        .query(&mut c)
        .unwrap();
    let err = redis::cmd("EVAL")
        .arg("return redis.call('INCR', KEYS[1])")
        .arg(1)
        .arg("m:str")
        .query::<i64>(&mut c)
        .unwrap_err()
        .to_string();
    assert!(err.contains("value is not an integer"), "{err}");
    let err = redis::cmd("EVALSHA")
        .arg("ffffffffffffffffffffffffffffffffffffffff")
        .arg(0)
        .query::<i64>(&mut c)
        .unwrap_err();
    assert_eq!(err.code(), Some("NOSCRIPT"));
    // A pcall'd failure is a value, and a later write still happens.
    let r: String = redis::cmd("EVAL")
        .arg("local e = redis.pcall('INCR', KEYS[1]); redis.call('SET', KEYS[2], 'done'); return e.err")
        .arg(2)
        .arg("m:str")
        .arg("m:after")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, "ERR value is not an integer or out of range");
    let after: String = redis::cmd("GET").arg("m:after").query(&mut c).unwrap();
    assert_eq!(after, "done");
}

/// A connection per core and some: each core is asked at least once.
fn many(s: &Server, n: usize) -> Vec<Raw> {
    (0..n).map(|_| s.raw()).collect()
}

#[test]
fn a_script_past_the_busy_threshold_gets_busy_replies_until_killed() {
    let s = Server::start();
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "busy-reply-threshold", "50"]),
        b"+OK\r\n"
    );
    let mut looping = s.raw();
    // pcall does not save it: a killed script fails at every check.
    looping.send(&encode_cmd(&[
        "EVAL",
        "local i = 0 while true do pcall(function() i = i + 1 end) end",
        "0",
    ]));
    let mut others = many(&s, 8);
    wait_for(Duration::from_secs(10), "BUSY replies", || {
        others[0].cmd(&["PING"]).starts_with(b"-BUSY").then_some(())
    });
    // Every connection, whichever core serves it, is told.
    for o in others.iter_mut() {
        assert_eq!(
            o.cmd(&["GET", "k"]),
            b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
        );
    }
    // A transaction that met BUSY is discarded at EXEC.
    let m = &mut others[1];
    assert_eq!(m.cmd(&["MULTI"]), b"+OK\r\n");
    assert!(m.cmd(&["INCR", "x"]).starts_with(b"-BUSY"));
    let exec = String::from_utf8(m.cmd(&["EXEC"])).unwrap();
    assert!(
        exec.starts_with("-EXECABORT Transaction discarded because of: BUSY"),
        "{exec}"
    );
    // FUNCTION KILL is for functions; SCRIPT KILL stops it.
    assert!(admin.cmd(&["FUNCTION", "KILL"]).starts_with(b"-BUSY"));
    assert_eq!(admin.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let reply = String::from_utf8(looping.read_raw()).unwrap();
    assert!(
        reply.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{reply}"
    );
    for o in others.iter_mut() {
        assert_eq!(o.cmd(&["PING"]), b"+PONG\r\n");
        assert_eq!(o.cmd(&["GET", "x"]), b"$-1\r\n");
    }
    assert_eq!(
        admin.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    // One that wrote cannot be killed: it finishes, and BUSY ends with it.
    looping.send(&encode_cmd(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'x') local i = 0 while i < 30000000 do i = i + 1 end return i",
        "1",
        "k",
    ]));
    wait_for(Duration::from_secs(10), "BUSY replies", || {
        others[2].cmd(&["PING"]).starts_with(b"-BUSY").then_some(())
    });
    assert!(admin.cmd(&["SCRIPT", "KILL"]).starts_with(b"-UNKILLABLE"));
    assert_eq!(looping.read_raw(), b":30000000\r\n");
    assert_eq!(others[2].cmd(&["GET", "k"]), b"$1\r\nx\r\n");
}

#[test]
fn functions_load_run_across_shards_and_survive_flushall() {
    let s = Server::start();
    let mut c = s.raw();
    let lib = "#!lua name=bank\n\
        redis.register_function('transfer', function(keys, args)\n\
          local n = tonumber(args[1])\n\
          if tonumber(redis.call('get', keys[1]) or '0') < n then\n\
            return redis.error_reply('ERR insufficient funds')\n\
          end\n\
          redis.call('decrby', keys[1], n)\n\
          return redis.call('incrby', keys[2], n)\n\
        end)\n\
        redis.register_function{function_name='balance', callback=function(keys)\n\
          return redis.call('get', keys[1])\n\
        end, flags={'no-writes'}, description='read one account'}";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), b"$4\r\nbank\r\n");
    let accounts = key_per_shard("acct");
    let (a, b) = (&accounts[0], &accounts[1]);
    assert_eq!(c.cmd(&["SET", a, "100"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["FCALL", "transfer", "2", a, b, "30"]), b":30\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "TRANSFER", "2", a, b, "300"]),
        b"-ERR insufficient funds\r\n"
    );
    assert_eq!(c.cmd(&["FCALL_RO", "balance", "1", a]), b"$2\r\n70\r\n");
    assert_eq!(
        c.cmd(&["FCALL_RO", "transfer", "2", a, b, "1"]),
        b"-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
    // Every core runs the library, whichever loaded it.
    for mut o in many(&s, 6) {
        assert_eq!(o.cmd(&["FCALL", "balance", "1", b]), b"$2\r\n30\r\n");
    }
    assert_eq!(c.call(&["FUNCTION", "LIST", "WITHCODE"]).items().len(), 1);
    let list = String::from_utf8_lossy(&c.cmd(&["FUNCTION", "LIST"])).into_owned();
    assert!(list.contains("read one account"), "{list}");
    // DUMP, FLUSH, RESTORE; FLUSHALL leaves libraries alone.
    let dump = match c.call(&["FUNCTION", "DUMP"]) {
        Resp::Bulk(d) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "balance", "1", a]),
        b"-ERR Function not found\r\n"
    );
    let restore: [&[u8]; 3] = [b"FUNCTION", b"RESTORE", &dump];
    assert_eq!(c.cmd(&restore), b"+OK\r\n");
    assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["FCALL", "balance", "1", a]), b"$-1\r\n");
    assert_eq!(
        c.cmd(&["FUNCTION", "LOAD", lib]),
        b"-ERR Library 'bank' already exists\r\n"
    );
    assert_eq!(c.cmd(&["FUNCTION", "DELETE", "bank"]), b"+OK\r\n");
    assert_eq!(c.call(&["FUNCTION", "LIST"]).items().len(), 0);
}

/// Increments its key, or (with ARGV[1] == "reach") reads ARGV[2], a key
/// it does not declare.
const BUMP_OR_REACH: &str = r#"if ARGV[1] == 'reach' then
    return redis.call('GET', ARGV[2])
end
return redis.call('INCR', KEYS[1])"#;

#[test]
fn pipelined_scripts_run_where_their_keys_are_and_answer_in_order() {
    // A script that keeps to its declared keys runs whole on the shard
    // owning them, in the batch of the client's other commands for that
    // shard. Replies must come back in request order, in the client's
    // database and protocol, also when a run has to wait (here: one that
    // reaches a key on another shard it did not declare).
    let s = Server::start();
    let mut r = s.raw();
    let sha = r.call(&["SCRIPT", "LOAD", BUMP_OR_REACH]).text();
    let keys = spread("fwd", 9);
    // The first run teaches the server that the script keeps to its keys.
    assert_eq!(r.call(&["EVALSHA", &sha, "1", &keys[0], "n"]).int(), 1);
    r.call(&["SET", "fwd:other", "seen"]);
    let mut expect: Vec<Resp> = Vec::new();
    let mut counts = vec![0i64; keys.len()];
    counts[0] = 1;
    let mut wire = Vec::new();
    for round in 0..20 {
        for (i, k) in keys.iter().enumerate() {
            wire.extend(encode_cmd(&["EVALSHA", &sha, "1", k, "n"]));
            counts[i] += 1;
            expect.push(Resp::Int(counts[i]));
            wire.extend(encode_cmd(&["GET", k]));
            expect.push(Resp::Bulk(counts[i].to_string().into_bytes()));
            if round == 10 {
                // Waits for a lock and a hop of its own, mid-pipeline (on
                // the client's own core as on the others).
                wire.extend(encode_cmd(&["EVALSHA", &sha, "1", k, "reach", "fwd:other"]));
                expect.push(Resp::Bulk(b"seen".to_vec()));
            }
        }
    }
    r.send(&wire);
    for (n, want) in expect.iter().enumerate() {
        assert_eq!(&r.read(), want, "reply {n}");
    }
    // Every lock those runs took is gone: FLUSHALL locks every shard.
    assert_eq!(r.call(&["FLUSHALL"]).text(), "OK");

    // In the client's database.
    let mut d = s.raw();
    assert_eq!(d.call(&["SELECT", "5"]).text(), "OK");
    let mut wire = Vec::new();
    for k in &keys {
        wire.extend(encode_cmd(&["EVALSHA", &sha, "1", k, "n"]));
    }
    d.send(&wire);
    for _ in &keys {
        assert_eq!(d.read(), Resp::Int(1));
    }
    assert_eq!(d.call(&["DBSIZE"]).int(), keys.len() as i64);

    // In the client's protocol: a RESP3 client gets a map.
    let mut h = s.raw();
    h.call(&["HELLO", "3"]);
    let hsha = h
        .call(&[
            "SCRIPT",
            "LOAD",
            "redis.setresp(3) return redis.call('HGETALL', KEYS[1])",
        ])
        .text();
    for k in &keys[..3] {
        let hk = format!("{k}:h");
        h.call(&["HSET", &hk, "f", "v"]);
        // Twice: the second run is one the server forwards.
        for _ in 0..2 {
            assert_eq!(
                h.call(&["EVALSHA", &hsha, "1", &hk]),
                Resp::Map(vec![(Resp::Bulk(b"f".to_vec()), Resp::Bulk(b"v".to_vec()))])
            );
        }
    }
}
