//! MONITOR against the real binary (3 shards): monitors on every core see
//! every client's commands in the order each sent them, in Redis's line
//! format; scripts, transactions, redaction and admin commands as Redis
//! shows them; RESET, disconnection and the output-buffer limit end it.

mod common;

use common::*;
use std::time::Duration;

/// Waits (bounded) until `cond` holds.
fn wait_until(mut cond: impl FnMut() -> bool) {
    wait_for(Duration::from_secs(30), "the condition", || {
        cond().then_some(())
    });
}

/// Connections opened per role: enough that every core gets some.
const SPREAD: usize = 6;

/// A connection in monitor mode.
fn monitor(port: u16) -> Raw {
    let mut m = Raw::connect(port);
    assert_eq!(m.call(&["MONITOR"]).text(), "OK");
    m
}

/// The `ip:port` a client is seen from.
fn peer(r: &Raw) -> String {
    r.writer_clone()
        .local_addr()
        .expect("local addr")
        .to_string()
}

/// Splits a monitor line into its source (`db addr`) and its quoted
/// arguments, checking the timestamp's shape.
fn parse(line: &str) -> (String, String) {
    let (ts, rest) = line.split_once(' ').expect("a timestamp");
    let (secs, micros) = ts.split_once('.').expect("seconds.micros");
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
    let rest = rest.strip_prefix('[').expect("a source");
    let (source, args) = rest.split_once("] ").expect("a source");
    (source.to_string(), args.to_string())
}

#[test]
fn monitors_on_every_core_see_each_client_in_order() {
    let s = Server::start();
    let mut monitors: Vec<Raw> = (0..SPREAD).map(|_| monitor(s.port)).collect();
    let mut clients: Vec<Raw> = (0..SPREAD).map(|_| s.raw()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        for j in 0..5 {
            assert_eq!(
                c.call(&["SET", &format!("k{i}:{j}"), "a \"b\"\n"]).text(),
                "OK"
            );
        }
    }
    // One client's lines keep their order; lines of clients served by
    // different cores may interleave, so each monitor's lines are sorted
    // by source before they are compared.
    let sources: Vec<String> = clients.iter().map(|c| format!("0 {}", peer(c))).collect();
    for m in monitors.iter_mut() {
        let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
        while sources.iter().any(|s| seen.get(s).map_or(0, Vec::len) < 5) {
            let (src, args) = parse(&m.read().text());
            seen.entry(src).or_default().push(args);
        }
        for (i, source) in sources.iter().enumerate() {
            let want: Vec<String> = (0..5)
                .map(|j| format!("\"SET\" \"k{i}:{j}\" \"a \\\"b\\\"\\n\""))
                .collect();
            assert_eq!(seen[source], want, "client {i}");
        }
    }
}

#[test]
fn scripts_transactions_select_and_secrets_as_redis_shows_them() {
    let s = Server::start();
    let mut m = monitor(s.port);
    let mut c = s.raw();
    let source = format!("0 {}", peer(&c));
    // Not shown: administrative commands.
    c.call(&["CONFIG", "GET", "maxmemory"]);
    c.call(&[
        "EVAL",
        "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', 'other')",
        "1",
        "sk",
        "v",
    ]);
    c.call(&["MULTI"]);
    c.call(&["SET", "tk", "1"]);
    c.call(&["INCR", "tk"]);
    c.call(&["EXEC"]);
    let _ = c.call(&["AUTH", "nobody", "secret"]);
    c.call(&["SELECT", "3"]);
    c.call(&["PING"]);
    let lines: Vec<(String, String)> = (0..10).map(|_| parse(&m.read().text())).collect();
    let lua = "0 lua".to_string();
    let expected = [
        (
            &source,
            "\"EVAL\" \"redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', 'other')\" \"1\" \"sk\" \"v\"",
        ),
        (&lua, "\"set\" \"sk\" \"v\""),
        (&lua, "\"get\" \"other\""),
        (&source, "\"MULTI\""),
        (&source, "\"SET\" \"tk\" \"1\""),
        (&source, "\"INCR\" \"tk\""),
        (&source, "\"EXEC\""),
        (&source, "\"AUTH\" \"(redacted)\" \"(redacted)\""),
    ];
    for (got, (src, args)) in lines.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str()), (src.as_str(), args));
    }
    // SELECT shows the database it moved to, and what follows runs there.
    let db3 = format!("3 {}", peer(&c));
    assert_eq!(lines[8], (db3.clone(), "\"SELECT\" \"3\"".to_string()));
    assert_eq!(lines[9], (db3, "\"PING\"".to_string()));
}

#[test]
fn a_blocking_command_is_shown_when_it_blocks() {
    let s = Server::start();
    let mut m = monitor(s.port);
    let mut b = s.raw();
    let mut c = s.raw();
    let (bsrc, csrc) = (format!("0 {}", peer(&b)), format!("0 {}", peer(&c)));
    b.send(&encode_cmd(&["BLPOP", "q", "0"]));
    // Its line comes before the push that serves it, as Redis shows it.
    assert_eq!(
        parse(&m.read().text()),
        (bsrc.clone(), "\"BLPOP\" \"q\" \"0\"".into())
    );
    assert_eq!(c.call(&["RPUSH", "q", "a"]).int(), 1);
    assert_eq!(
        parse(&m.read().text()),
        (csrc, "\"RPUSH\" \"q\" \"a\"".into())
    );
    assert_eq!(b.read().items()[1].text(), "a");
    // Not shown a second time when served; a command that does not block
    // is shown once too.
    assert_eq!(c.call(&["RPUSH", "q", "x"]).int(), 1);
    assert_eq!(b.call(&["BLPOP", "q", "0"]).items()[1].text(), "x");
    let next: Vec<(String, String)> = (0..2).map(|_| parse(&m.read().text())).collect();
    assert_eq!(next[1], (bsrc, "\"BLPOP\" \"q\" \"0\"".into()));
    c.call(&["PING"]);
    assert!(m.read().text().ends_with("\"PING\""));
}

#[test]
fn reset_and_disconnection_end_monitoring() {
    let s = Server::start();
    let mut c = s.raw();
    let mut m = monitor(s.port);
    assert!(c.call(&["CLIENT", "LIST"]).text().contains("flags=O "));
    // MONITOR again changes nothing and answers nothing: the next reply
    // is the line of the command below.
    m.send(&encode_cmd(&["MONITOR"]));
    c.call(&["SET", "a", "1"]);
    assert!(m.read().text().ends_with("\"SET\" \"a\" \"1\""));
    // RESET answers RESET, and a monitor's own RESET is not shown to it.
    assert_eq!(m.call(&["RESET"]).text(), "RESET");
    assert!(!c.call(&["CLIENT", "LIST"]).text().contains("flags=O"));
    c.call(&["SET", "b", "2"]);
    assert_eq!(m.call(&["PING"]).text(), "PONG");
    // A monitor that goes away stops being one.
    let mut gone = monitor(s.port);
    assert!(c.call(&["CLIENT", "LIST"]).text().contains("flags=O "));
    gone.shutdown_write();
    drop(gone);
    wait_until(|| !c.call(&["CLIENT", "LIST"]).text().contains("flags=O"));
    // Inside MULTI it is refused at EXEC, as for any client that must get a
    // reply per command.
    c.call(&["MULTI"]);
    c.call(&["MONITOR"]);
    let r = c.call(&["EXEC"]);
    assert!(r.items()[0].is_error());
    assert!(
        r.items()[0]
            .text()
            .contains("MONITOR isn't allowed for DENY BLOCKING client")
    );
}

#[test]
fn a_monitor_that_never_reads_is_disconnected_by_its_limit() {
    const COMMANDS: usize = 4000;
    let s = Server::start_with(&["--client-output-buffer-limit", "normal 4mb 0 0"]);
    let mut c = s.raw();
    let mut m = monitor(s.port);
    let value = "v".repeat(10_000);
    // 40 MB of lines to a monitor that reads nothing: more than the kernel
    // buffers, so its queue passes 4 MB and it is dropped, while the
    // client's own replies keep coming.
    for i in 0..COMMANDS {
        c.send(&encode_cmd(&["SET", &format!("key{i}"), &value]));
        if i % 100 == 99 {
            for _ in 0..100 {
                assert_eq!(c.read().text(), "OK");
            }
        }
    }
    assert!(m.is_closed(), "the monitor is disconnected");
    wait_until(|| !c.call(&["CLIENT", "LIST"]).text().contains("flags=O"));
    if !s.is_reference_redis() {
        // Redis 7.2's counter (7.0 has none).
        assert!(c.info_field("stats", "client_output_buffer_limit_disconnections") >= 1);
    }
    assert_eq!(c.call(&["PING"]).text(), "PONG");
}
