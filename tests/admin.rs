//! Administrative commands: CLIENT SETINFO, CONFIG RESETSTAT, DEBUG SLEEP,
//! FUNCTION FLUSH / SCRIPT FLUSH and SHUTDOWN, against the real binary.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn info(c: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).unwrap()
}

/// `CLIENT PAUSE ms WRITE`.
fn pause_writes(c: &mut redis::Connection, ms: u64) {
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(ms)
        .arg("WRITE")
        .query(c)
        .unwrap();
}

#[test]
fn client_setinfo_shows_in_client_info() {
    let s = Server::start();
    if s.is_reference_redis() {
        return; // CLIENT SETINFO arrived in Redis 7.2; the reference is 7.0.
    }
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "LIB-VER", "1.2.3"]),
        b"+OK\r\n"
    );
    let info = c.cmd(&["CLIENT", "INFO"]);
    let text = String::from_utf8_lossy(&info);
    assert!(text.contains(" lib-name=mylib "), "{text}");
    assert!(text.contains(" lib-ver=1.2.3"), "{text}");
    // Unknown attributes and names with spaces are refused.
    c.send(&encode_cmd(&["CLIENT", "SETINFO", "NOSUCH", "x"]));
    assert!(c.read().is_error());
    c.send(&encode_cmd(&["CLIENT", "SETINFO", "LIB-NAME", "a b"]));
    assert!(c.read().is_error());
}

#[test]
fn config_resetstat_clears_counters_on_every_core() {
    let s = Server::start();
    // Several connections so that counters exist on more than one core.
    let mut conns: Vec<redis::Connection> = (0..6).map(|_| s.conn()).collect();
    for c in conns.iter_mut() {
        let _: Option<String> = redis::cmd("GET").arg("k").query(c).unwrap();
        let _: redis::RedisResult<()> = redis::cmd("NOSUCHCOMMAND").query(c);
    }
    let c = &mut conns[0];
    let before = info(c, "commandstats");
    assert!(before.contains("cmdstat_get:calls=6,"), "{before}");
    // At least the six unknown commands (a client library may add its own
    // rejected handshake commands on servers that lack them).
    let errs = info(c, "errorstats");
    let count: u64 = errs
        .split("errorstat_ERR:count=")
        .nth(1)
        .and_then(|t| t.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(count >= 6, "{errs}");
    let ok: String = redis::cmd("CONFIG").arg("RESETSTAT").query(c).unwrap();
    assert_eq!(ok, "OK");
    let after = info(c, "commandstats");
    assert!(!after.contains("cmdstat_get:"), "{after}");
    assert!(!info(c, "errorstats").contains("errorstat_ERR"));
    let stats = info(c, "stats");
    assert!(stats.contains("total_error_replies:0\r\n"), "{stats}");
}

#[test]
fn debug_is_refused_unless_enabled() {
    let s = Server::start();
    let mut c = s.raw();
    let reply = c.cmd(&["DEBUG", "SLEEP", "0"]);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n"
    );
    let local = Server::start_with(&["--enable-debug-command", "local"]);
    assert_eq!(local.raw().cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
}

#[test]
fn debug_sleep_and_flush_commands_reply_ok() {
    let s = Server::start_with(&["--enable-debug-command", "yes"]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0.05"]), b"+OK\r\n");
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH", "ASYNC"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH", "SYNC"]), b"+OK\r\n");
    c.send(&encode_cmd(&["FUNCTION", "FLUSH", "SOMETIMES"]));
    assert!(c.read().is_error());
    c.send(&encode_cmd(&["SCRIPT", "FLUSH", "SOMETIMES"]));
    assert!(c.read().is_error());
}

#[test]
fn shutdown_stops_the_server() {
    let mut s = Server::start();
    if s.is_reference_redis() {
        return;
    }
    let mut c = s.raw();
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    let _ = c.try_send(&encode_cmd(&["SHUTDOWN", "NOSAVE"]));
    // The connection closes without a reply, and the process exits.
    assert!(c.read_full().is_err(), "SHUTDOWN must not reply on success");
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.is_alive() {
        assert!(
            Instant::now() < deadline,
            "server still running after SHUTDOWN"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn clients_held_by_client_pause_count_as_blocked() {
    use redis::Commands;
    let s = Server::start();
    let mut c = s.conn();
    pause_writes(&mut c, 60_000);
    // Reads go on; writes wait, and show as blocked while they do.
    let mut reader = s.conn();
    let _: Option<String> = reader.get("k").unwrap();
    assert_eq!(blocked(&mut c), 0);
    let writers: Vec<_> = (0..2)
        .map(|i| {
            let mut w = s.conn();
            std::thread::spawn(move || w.set::<_, _, ()>(format!("k{i}"), i).unwrap())
        })
        .collect();
    wait_blocked(&mut c, 2);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    let held = list
        .lines()
        .filter(|l| l.contains(" flags=b ") && l.contains(" cmd=set "))
        .count();
    assert_eq!(held, 2, "{list}");
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut c).unwrap();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(blocked(&mut c), 0);
    assert_eq!(c.get::<_, i64>("k1").unwrap(), 1);
}

#[test]
fn scripts_that_declare_no_writes_run_through_a_write_pause() {
    let s = Server::start();
    let mut c = s.conn();
    let lib = "#!lua name=pauselib\nredis.register_function{function_name='ro_hello', callback=function() return 'hello' end, flags={'no-writes'}}";
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(lib)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET").arg("x").arg("y").query(&mut c).unwrap();
    let ro = "#!lua flags=no-writes\nreturn 'ro script'";
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("#!lua flags=no-writes\nreturn 2")
        .query(&mut c)
        .unwrap();
    pause_writes(&mut c, 60_000);
    let mut r = s.conn();
    // A script unknown to the cache, the same one cached, EVAL_RO,
    // EVALSHA and FCALL of read-only code, and the same queued in MULTI.
    for _ in 0..2 {
        let v: String = redis::cmd("EVAL").arg(ro).arg(0).query(&mut r).unwrap();
        assert_eq!(v, "ro script");
    }
    let v: String = redis::cmd("EVAL_RO")
        .arg("return redis.call('get', KEYS[1])")
        .arg(1)
        .arg("x")
        .query(&mut r)
        .unwrap();
    assert_eq!(v, "y");
    let v: i64 = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(0)
        .query(&mut r)
        .unwrap();
    assert_eq!(v, 2);
    let v: String = redis::cmd("FCALL")
        .arg("ro_hello")
        .arg(0)
        .query(&mut r)
        .unwrap();
    assert_eq!(v, "hello");
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("EVAL")
        .arg("#!lua flags=no-writes\nreturn 12")
        .arg(0)
        .cmd("EVAL")
        .arg("#!lua flags=no-writes\nreturn 13")
        .arg(0)
        .query(&mut r)
        .unwrap();
    assert_eq!((a, b), (12, 13));
    assert_eq!(blocked(&mut c), 0);
    // A script without flags may write: it waits, as does one whose
    // flags do not say no-writes.
    let held: Vec<_> = ["return 1", "#!lua\nreturn 1"]
        .into_iter()
        .map(|body| {
            let mut w = s.conn();
            std::thread::spawn(move || {
                redis::cmd("EVAL")
                    .arg(body)
                    .arg(0)
                    .query::<i64>(&mut w)
                    .unwrap()
            })
        })
        .collect();
    wait_blocked(&mut c, 2);
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut c).unwrap();
    for h in held {
        assert_eq!(h.join().unwrap(), 1);
    }
}

#[test]
fn read_only_scripts_may_not_publish() {
    let s = Server::start();
    let mut c = s.raw();
    for (cmd, body) in [
        ("EVAL_RO", "return redis.call('publish','ch','msg')"),
        (
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('publish','ch','msg')",
        ),
    ] {
        let r = c.cmd(&[cmd, body, "0"]);
        let text = String::from_utf8_lossy(&r);
        assert!(
            text.starts_with("-ERR Write commands are not allowed from read-only scripts. script:"),
            "{cmd}: {text}"
        );
    }
    // A script that may write publishes.
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('publish','ch','msg')", "0"]),
        b":0\r\n"
    );
}

#[test]
fn expired_keys_stay_until_a_pause_ends() {
    let s = Server::start();
    let mut c = s.conn();
    let expired = |c: &mut redis::Connection| -> i64 {
        let stats = info(c, "stats");
        stats
            .lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    };
    let before = expired(&mut c);
    // Keys on every core, so both lookups and every core's active expiry
    // are held.
    // Their TTL outlasts the few commands until the pause starts, even on
    // a slow machine.
    let keys = keys_on_every_shard("paused", 2);
    for k in &keys {
        let _: () = redis::cmd("SET")
            .arg(k)
            .arg("v")
            .arg("PX")
            .arg(300)
            .query(&mut c)
            .unwrap();
    }
    pause_writes(&mut c, 60_000);
    // The TTLs pass: the keys read as gone.
    wait_for(Duration::from_secs(10), "the keys to expire", || {
        let n: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut c).unwrap();
        (n == 0).then_some(())
    });
    // Let active expiry run a few cycles (10 per second): nothing is deleted.
    std::thread::sleep(Duration::from_millis(300));
    let _: Option<String> = redis::cmd("GET").arg(&keys[0]).query(&mut c).unwrap();
    assert_eq!(expired(&mut c), before);
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(
        size,
        keys.len() as i64,
        "expired keys are kept while paused"
    );
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut c).unwrap();
    for k in &keys {
        let _: Option<String> = redis::cmd("GET").arg(k).query(&mut c).unwrap();
    }
    assert_eq!(expired(&mut c), before + keys.len() as i64);
}

#[test]
fn held_clients_go_on_when_the_pause_time_is_up() {
    let s = Server::start();
    let mut c = s.conn();
    let started = Instant::now();
    pause_writes(&mut c, 300);
    // Writers on every core wait for the pause's end, with no UNPAUSE.
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let mut w = s.conn();
            std::thread::spawn(move || {
                redis::cmd("SET")
                    .arg(format!("k{i}"))
                    .arg(i)
                    .query::<()>(&mut w)
                    .unwrap();
                Instant::now()
            })
        })
        .collect();
    for w in writers {
        let done = w.join().unwrap();
        // The pause ends on the server's millisecond clock: allow for its
        // rounding and for a wall clock that is not the test's.
        assert!(done - started >= Duration::from_millis(250));
    }
    assert_eq!(blocked(&mut c), 0);
    let n: i64 = redis::cmd("EXISTS")
        .arg(&["k0", "k1", "k2", "k3", "k4", "k5"])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 6);
}

/// The `idle=` field of the CLIENT LIST line of the client named `name`.
fn idle_of(list: &str, name: &str) -> Option<u64> {
    let line = list
        .lines()
        .find(|l| l.split(' ').any(|f| f == format!("name={name}")))?;
    line.split(' ')
        .find_map(|f| f.strip_prefix("idle="))
        .and_then(|v| v.parse().ok())
}

#[test]
fn idle_clients_are_closed_after_timeout_and_client_list_shows_idle() {
    let s = Server::start();
    let mut admin = s.raw();
    let mut idler = s.raw();
    let mut busy = s.raw();
    assert_eq!(idler.call(&["CLIENT", "SETNAME", "idler"]).text(), "OK");
    assert_eq!(busy.call(&["CLIENT", "SETNAME", "busy"]).text(), "OK");
    let list = admin.call(&["CLIENT", "LIST"]).text();
    assert_eq!(idle_of(&list, "idler"), Some(0), "{list}");
    // Idle seconds count up while the client sends nothing.
    wait_for(Duration::from_secs(10), "idle=1 in CLIENT LIST", || {
        let list = admin.call(&["CLIENT", "LIST"]).text();
        (idle_of(&list, "idler")? >= 1).then_some(())
    });
    // With a timeout, the idle client goes; one that keeps talking stays.
    assert_eq!(admin.call(&["CONFIG", "SET", "timeout", "1"]).text(), "OK");
    wait_for(
        Duration::from_secs(20),
        "the idle client to be closed",
        || {
            assert_eq!(busy.call(&["PING"]).text(), "PONG");
            let list = admin.call(&["CLIENT", "LIST"]).text();
            assert!(
                idle_of(&list, "busy").is_some(),
                "busy client closed: {list}"
            );
            idle_of(&list, "idler").is_none().then_some(())
        },
    );
    assert!(idler.is_closed());
    assert_eq!(admin.call(&["CONFIG", "SET", "timeout", "0"]).text(), "OK");
    assert_eq!(busy.call(&["PING"]).text(), "PONG");
}
