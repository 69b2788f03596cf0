//! Keyspace notifications against the real binary (3 shards): the channels
//! and payloads of string and generic commands, of keys created, of keys
//! the active cycle expires without any access, and of evictions, as Redis
//! 7.0 publishes them; subscribers on every core receive each key's events
//! in order. The expectations also hold against redis-server 7.0.15
//! (`CORESHARD_TEST_AGAINST_REDIS=1`).

mod common;

use common::*;

/// Subscribers opened: enough that every core gets some.
const SPREAD: usize = 6;

/// A connection subscribed to every keyspace and keyevent channel.
fn listener(port: u16) -> Raw {
    let mut r = Raw::connect(port);
    let got = r.call(&["PSUBSCRIBE", "__key*__:*"]);
    assert_eq!(got.items()[0].text(), "psubscribe");
    r
}

/// The next event a listener receives: (channel, payload).
fn next_event(r: &mut Raw) -> (String, String) {
    let m = r.read();
    let items = m.items();
    assert_eq!(items[0].text(), "pmessage");
    (items[2].text(), items[3].text())
}

/// Events until (and without) the keyevent of `last` on `key`.
fn events_until(r: &mut Raw, last: &str, key: &str) -> Vec<(String, String)> {
    let end = (format!("__keyevent@0__:{last}"), key.to_string());
    let mut out = Vec::new();
    loop {
        let e = next_event(r);
        if e == end {
            return out;
        }
        out.push(e);
    }
}

/// Runs each command, none of which may fail.
fn run_all(c: &mut Raw, cmds: &[&[&str]]) {
    for cmd in cmds {
        assert!(!c.call(cmd).is_error(), "{cmd:?}");
    }
}

/// Runs `cmds` on a fresh server with `KA` notifications and returns the
/// (key, event) pairs a listener got until the event on `end`.
fn keyspace_events(cmds: &[&[&str]], end: &str) -> Vec<(String, String)> {
    let s = Server::start();
    let mut c = s.raw();
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "KA"]);
    let mut l = listener(s.port);
    run_all(&mut c, cmds);
    keyspace_until(&mut l, end)
}

/// The (key, event) pairs of keyspace channels (`K` only) until the event
/// on `end`, which is left out.
fn keyspace_until(l: &mut Raw, end: &str) -> Vec<(String, String)> {
    let end = format!("__keyspace@0__:{end}");
    let mut got = Vec::new();
    loop {
        let (channel, event) = next_event(l);
        if channel == end {
            return got;
        }
        got.push((
            channel.trim_start_matches("__keyspace@0__:").to_string(),
            event,
        ));
    }
}

fn both(event: &str, key: &str) -> [(String, String); 2] {
    [
        (format!("__keyspace@0__:{key}"), event.to_string()),
        (format!("__keyevent@0__:{event}"), key.to_string()),
    ]
}

#[test]
fn string_and_generic_events_as_redis_publishes_them() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
            .text(),
        "OK"
    );
    let mut listeners: Vec<Raw> = (0..SPREAD).map(|_| listener(s.port)).collect();
    // One hash tag: one shard, so the events of different keys keep the
    // order of the commands too.
    run_all(
        &mut c,
        &[
            &["SET", "{k}a", "1"][..],
            &["INCR", "{k}a"],
            &["INCRBYFLOAT", "{k}a", "1.5"],
            &["APPEND", "{k}a", "x"],
            &["SETRANGE", "{k}a", "0", "y"],
            &["EXPIRE", "{k}a", "100"],
            &["PERSIST", "{k}a"],
            &["PERSIST", "{k}a"],
            &["RENAME", "{k}a", "{k}b"],
            &["GETDEL", "{k}b"],
            &["SET", "{k}c", "v", "EX", "100"],
            &["SET", "{k}c", "w", "NX"],
            &["MSET", "{k}d", "1", "{k}e", "2"],
            &["GETEX", "{k}d", "PERSIST"],
            &["GETEX", "{k}d", "PX", "100000"],
            &["DEL", "{k}c", "{k}d", "{k}nothing"],
            &["EXPIRE", "{k}e", "0"],
            &["GET", "{k}e"],
            &["SET", "{k}end", "1"],
        ],
    );
    let mut expected = Vec::new();
    for (event, key) in [
        ("set", "{k}a"),
        ("incrby", "{k}a"),
        ("incrbyfloat", "{k}a"),
        ("append", "{k}a"),
        ("setrange", "{k}a"),
        ("expire", "{k}a"),
        ("persist", "{k}a"),
        ("rename_from", "{k}a"),
        ("rename_to", "{k}b"),
        ("del", "{k}b"),
        ("set", "{k}c"),
        ("expire", "{k}c"),
        ("set", "{k}d"),
        ("set", "{k}e"),
        ("expire", "{k}d"),
        ("del", "{k}c"),
        ("del", "{k}d"),
        ("del", "{k}e"),
    ] {
        expected.extend(both(event, key));
    }
    expected.push(("__keyspace@0__:{k}end".into(), "set".into()));
    for l in listeners.iter_mut() {
        assert_eq!(events_until(l, "set", "{k}end"), expected);
    }
    // Keys on different shards: each key's events, in order.
    c.call(&["SET", "ra", "1"]);
    c.call(&["RENAME", "ra", "rb"]);
    c.call(&["COPY", "rb", "rc", "DB", "2"]);
    c.call(&["MOVE", "rb", "3"]);
    for l in listeners.iter_mut() {
        // Twelve events from three shards: each key's arrive in order, the
        // keys' among themselves in any order.
        let got: Vec<(String, String)> = (0..12).map(|_| next_event(l)).collect();
        let of = |key: &str| -> Vec<(String, String)> {
            got.iter()
                .filter(|(ch, p)| ch.ends_with(&format!(":{key}")) || p == key)
                .cloned()
                .collect()
        };
        assert_eq!(
            of("ra"),
            [both("set", "ra"), both("rename_from", "ra")].concat()
        );
        let mut rb = both("rename_to", "rb").to_vec();
        rb.push(("__keyspace@0__:rb".into(), "move_from".into()));
        rb.push(("__keyevent@0__:move_from".into(), "rb".into()));
        rb.push(("__keyspace@3__:rb".into(), "move_to".into()));
        rb.push(("__keyevent@3__:move_to".into(), "rb".into()));
        assert_eq!(of("rb"), rb);
        assert_eq!(
            of("rc"),
            [
                ("__keyspace@2__:rc".to_string(), "copy_to".to_string()),
                ("__keyevent@2__:copy_to".to_string(), "rc".to_string()),
            ]
        );
    }
    // Only the classes asked for, only the channels asked for.
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "E$"])
            .text(),
        "OK"
    );
    c.call(&["DEL", "{k}end"]);
    c.call(&["SET", "{k}f", "1"]);
    c.call(&["SET", "{k}last", "1"]);
    let l = &mut listeners[0];
    assert_eq!(
        events_until(l, "set", "{k}last"),
        [("__keyevent@0__:set".to_string(), "{k}f".to_string())]
    );
}

#[test]
fn list_set_zset_and_hash_events_as_redis_publishes_them() {
    let got = keyspace_events(
        &[
            &["RPUSH", "{t}l", "a", "b", "c"][..],
            &["LPUSH", "{t}l", "z"],
            &["LPUSHX", "{t}none", "z"],
            &["LSET", "{t}l", "0", "y"],
            &["LINSERT", "{t}l", "BEFORE", "b", "x"],
            &["LREM", "{t}l", "0", "nothing"],
            &["LREM", "{t}l", "1", "x"],
            &["LTRIM", "{t}l", "0", "1"],
            &["LMOVE", "{t}l", "{t}l2", "LEFT", "RIGHT"],
            &["RPOP", "{t}l"],
            &["LPOP", "{t}l2"],
            &["SADD", "{t}s", "a", "b"],
            &["SADD", "{t}s", "a"],
            &["SREM", "{t}s", "x"],
            &["SREM", "{t}s", "a"],
            &["SPOP", "{t}s"],
            &["ZADD", "{t}z", "1", "a", "2", "b"],
            &["ZADD", "{t}z", "1", "a"],
            &["ZINCRBY", "{t}z", "5", "a"],
            &["ZREM", "{t}z", "x"],
            &["ZREM", "{t}z", "a", "b"],
            &["HSET", "{t}h", "f", "1", "g", "2"],
            &["HINCRBY", "{t}h", "f", "2"],
            &["HINCRBYFLOAT", "{t}h", "f", "0.5"],
            &["HSETNX", "{t}h", "f", "9"],
            &["HDEL", "{t}h", "f", "g"],
            &["SET", "{t}end", "1"],
        ],
        "{t}end",
    );
    let expected: Vec<(String, String)> = [
        ("{t}l", "rpush"),
        ("{t}l", "lpush"),
        ("{t}l", "lset"),
        ("{t}l", "linsert"),
        ("{t}l", "lrem"),
        ("{t}l", "ltrim"),
        ("{t}l2", "rpush"),
        ("{t}l", "lpop"),
        ("{t}l", "rpop"),
        ("{t}l", "del"),
        ("{t}l2", "lpop"),
        ("{t}l2", "del"),
        ("{t}s", "sadd"),
        ("{t}s", "srem"),
        ("{t}s", "spop"),
        ("{t}s", "del"),
        ("{t}z", "zadd"),
        ("{t}z", "zincr"),
        ("{t}z", "zrem"),
        ("{t}z", "del"),
        ("{t}h", "hset"),
        ("{t}h", "hincrby"),
        ("{t}h", "hincrbyfloat"),
        ("{t}h", "hdel"),
        ("{t}h", "del"),
    ]
    .iter()
    .map(|(k, e)| (k.to_string(), e.to_string()))
    .collect();
    assert_eq!(got, expected);
}

#[test]
fn bit_range_pop_and_stream_trim_events_as_redis_publishes_them() {
    let got = keyspace_events(
        &[
            &["SETBIT", "{u}b", "7", "1"][..],
            &["ZADD", "{u}z", "1", "a", "2", "b", "3", "c", "4", "d"],
            &["ZREMRANGEBYSCORE", "{u}z", "10", "20"],
            &["ZREMRANGEBYSCORE", "{u}z", "1", "1"],
            &["ZREMRANGEBYRANK", "{u}z", "0", "0"],
            &["ZREMRANGEBYLEX", "{u}z", "[c", "[c"],
            &["ZPOPMAX", "{u}z"],
            &["XADD", "{u}x", "1-1", "f", "v"],
            &["XADD", "{u}x", "2-1", "f", "v"],
            &["XDEL", "{u}x", "9-9"],
            &["XDEL", "{u}x", "1-1"],
            &["XTRIM", "{u}x", "MAXLEN", "0"],
            &["SET", "{u}end", "1"],
        ],
        "{u}end",
    );
    let got: Vec<String> = got
        .into_iter()
        .map(|(key, event)| format!("{key} {event}"))
        .collect();
    assert_eq!(
        got,
        [
            "{u}b setbit",
            "{u}z zadd",
            "{u}z zremrangebyscore",
            "{u}z zremrangebyrank",
            "{u}z zremrangebylex",
            "{u}z zpopmax",
            "{u}z del",
            "{u}x xadd",
            "{u}x xadd",
            "{u}x xdel",
            "{u}x xtrim",
        ]
    );
}

#[test]
fn classes_read_and_shown_as_redis_does() {
    let s = Server::start();
    let mut c = s.raw();
    for (given, shown) in [
        ("KEA", "AKE"),
        ("gK$", "g$K"),
        ("nE", "nE"),
        ("AmK", "AKm"),
        ("", ""),
    ] {
        assert_eq!(
            c.call(&["CONFIG", "SET", "notify-keyspace-events", given])
                .text(),
            "OK"
        );
        let got = c.call(&["CONFIG", "GET", "notify-keyspace-events"]);
        assert_eq!(got.items()[1].text(), shown, "{given}");
    }
    let e = c.call(&["CONFIG", "SET", "notify-keyspace-events", "Kq"]);
    assert!(e.text().contains("Invalid event class character"), "{e:?}");
}

#[test]
fn new_keys_expiry_by_the_active_cycle_and_evictions() {
    let s = Server::start();
    let mut c = s.raw();
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "Exen"]);
    let mut l = listener(s.port);
    // One hash tag: the keys' events come from one shard, in order.
    c.call(&["SET", "{n}fresh", "1"]);
    c.call(&["SET", "{n}fresh", "2"]);
    c.call(&["SET", "{n}short", "1", "PX", "20"]);
    // Nothing touches "short": the active cycle expires it.
    assert_eq!(
        next_event(&mut l),
        ("__keyevent@0__:new".to_string(), "{n}fresh".to_string())
    );
    assert_eq!(
        next_event(&mut l),
        ("__keyevent@0__:new".to_string(), "{n}short".to_string())
    );
    assert_eq!(
        next_event(&mut l),
        ("__keyevent@0__:expired".to_string(), "{n}short".to_string())
    );
    // Under maxmemory with an eviction policy, keys go with an event each.
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]);
    c.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    let value = "v".repeat(10_000);
    for i in 0..200 {
        c.call(&["SET", &format!("big{i}"), &value]);
    }
    let used = c.info_field("memory", "used_memory");
    c.call(&["CONFIG", "SET", "maxmemory", &(used - 500_000).to_string()]);
    c.call(&["SET", "trigger", "1"]);
    let (channel, key) = next_event(&mut l);
    assert_eq!(channel, "__keyevent@0__:evicted");
    assert!(key.starts_with("big") || key == "{n}fresh", "{key}");
    c.call(&["CONFIG", "SET", "maxmemory", "0"]);
}
