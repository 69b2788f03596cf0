//! Differential tests of keyspace notifications: scripted commands run
//! against coreshard (3 threads) with `notify-keyspace-events` on, and every
//! message a `PSUBSCRIBE __key*__:*` subscriber receives must match what the
//! reference `redis-server` 7.0.15 publishes for the same commands.
//!
//! Case files are `tests/cases/notify_*.txt`, quoted like the cases of
//! `tests/differential.rs` (one command per line, `redis-cli` quoting, `#`
//! comments), plus two directives:
//!
//! * `@classes <flags>`: the `notify-keyspace-events` classes (default `KEA`;
//!   they must include `g` or `A`, which the end-of-case sentinels need).
//! * `@block <command>`: sends the command on a second connection and waits
//!   until the server counts it as blocked; a later command must serve it
//!   (its reply is read before the next `@block` or the end of the case).
//!
//! Events of different keys may arrive in any order across shards, but each
//! key's events come in order, so messages are compared per key: keyspace
//! messages (`__keyspace@<db>__:<key>` carrying the event) and keyevent
//! messages (`__keyevent@<db>__:<event>` carrying the key) grouped by
//! database and key, in arrival order within a key. After the case, a `SET`
//! and `DEL` of one sentinel key per shard mark the end: once each
//! sentinel's `del` has arrived, every earlier event of its shard has too
//! (a core publishes its events in order), so nothing waits on a clock. An
//! event of a key the reference does not list is a difference like any other.
//!
//! Redis's messages are stored beside each case file in
//! `tests/cases/notify_<name>.events` (format below), so these tests need no
//! Redis; when `/usr/bin/redis-server` (or `$COREDIFF_REDIS_SERVER`) exists,
//! the stored messages are also checked against it. After adding or changing
//! cases, regenerate them with
//!
//! ```sh
//! COREDIFF_RECORD=1 cargo test --release --test notify_differential
//! ```
//!
//! Stored format: `#` comment lines (`# redis_version: ` names the server),
//! then the case's lines as `> <line>` (a changed case is caught as a stale
//! file), then per key `@key <db> <escaped key>` followed by its messages in
//! order: `K <event>` for a keyspace message, `E <event>` for a keyevent one.
//! Keys escape bytes like the stored replies of `tests/common/reference.rs`.

mod common;

use common::reference::{
    escape, note, recording, redis_server_available, redis_server_path, redis_server_version,
    split_args, unescape,
};
use common::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How to regenerate the stored messages.
const RECORD_WITH: &str = "COREDIFF_RECORD=1 cargo test --release --test notify_differential";

/// Messages per (database, key), each key's in arrival order.
type Events = BTreeMap<(usize, Vec<u8>), Vec<String>>;

/// One step of a case.
enum Step {
    /// A command on the main connection.
    Run(Vec<Vec<u8>>),
    /// A command on the blocking connection, left blocked.
    Block(Vec<Vec<u8>>),
}

/// A parsed case file.
struct Case {
    classes: String,
    /// The meaningful lines, as stored in the reference file.
    lines: Vec<String>,
    steps: Vec<Step>,
}

fn case_path(name: &str, ext: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(format!("notify_{name}.{ext}"))
}

fn load_case(name: &str) -> Case {
    let path = case_path(name, "txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut case = Case {
        classes: "KEA".into(),
        lines: Vec::new(),
        steps: Vec::new(),
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        case.lines.push(line.to_string());
        if let Some(classes) = line.strip_prefix("@classes ") {
            assert!(case.steps.is_empty(), "{}: @classes after a command", at());
            case.classes = classes.trim().to_string();
            continue;
        }
        let (block, cmd) = match line.strip_prefix("@block ") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        assert!(!cmd.starts_with('@'), "{}: unknown directive", at());
        let args = split_args(cmd).unwrap_or_else(|e| panic!("{}: {e}: {line}", at()));
        assert!(!args.is_empty(), "{}: empty command", at());
        case.steps.push(if block {
            Step::Block(args)
        } else {
            Step::Run(args)
        });
    }
    assert!(
        case.classes.contains(['g', 'A']) && case.classes.contains(['K', 'E']),
        "{}: the classes must include g (or A) and K or E: the sentinels need `del` events",
        path.display()
    );
    case
}

/// One sentinel key per shard of the coreshard under test (any set of keys
/// that touches every shard would do; Redis has one).
fn sentinels() -> Vec<Vec<u8>> {
    key_per_shard("notify-end:")
        .into_iter()
        .map(String::into_bytes)
        .collect()
}

/// A received message: the key it is about and its entry (`K e` / `E e`).
fn classify(channel: &[u8], payload: &[u8]) -> Option<((usize, Vec<u8>), String)> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (kind, rest) = if let Some(r) = channel.strip_prefix(b"__keyspace@") {
        ('K', r)
    } else if let Some(r) = channel.strip_prefix(b"__keyevent@") {
        ('E', r)
    } else {
        return None;
    };
    let sep = rest.windows(3).position(|w| w == b"__:")?;
    let db: usize = std::str::from_utf8(&rest[..sep]).ok()?.parse().ok()?;
    let after = &rest[sep + 3..];
    Some(match kind {
        'K' => ((db, after.to_vec()), format!("K {}", text(payload))),
        _ => ((db, payload.to_vec()), format!("E {}", text(after))),
    })
}

/// The next pub/sub message on the subscriber: (channel, payload).
fn next_message(sub: &mut Raw) -> (Vec<u8>, Vec<u8>) {
    let m = sub
        .read_full()
        .unwrap_or_else(|e| panic!("subscriber: no message within the timeout ({e})"))
        .0;
    let items = m.items();
    let bytes = |r: &Resp| match r {
        Resp::Bulk(b) => b.clone(),
        other => panic!("not a bulk string in a pmessage: {other:?}"),
    };
    assert_eq!(bytes(&items[0]), b"pmessage", "{m:?}");
    (bytes(&items[2]), bytes(&items[3]))
}

/// Reads the reply of the blocked command on `b` (it must have been served).
fn served(b: &mut Raw) {
    b.read_full()
        .unwrap_or_else(|e| panic!("a @block command was not served: {e}"));
}

/// Blocked clients as the server counts them.
fn blocked_clients(c: &mut Raw) -> i64 {
    c.info_field("clients", "blocked_clients")
}

/// Runs a case on the server at `port`; returns every message received,
/// per key, the sentinels' left out.
fn run_case(port: u16, case: &Case) -> Events {
    let mut c = Raw::connect(port);
    assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n", "FLUSHALL before the case");
    let set = c.cmd(&["CONFIG", "SET", "notify-keyspace-events", &case.classes]);
    assert_eq!(set, b"+OK\r\n", "CONFIG SET notify-keyspace-events");
    let mut sub = Raw::connect(port);
    let got = sub.call(&["PSUBSCRIBE", "__key*__:*"]);
    assert_eq!(got.items()[0].text(), "psubscribe");
    let mut blocker: Option<Raw> = None;
    let mut waiting = false;
    for step in &case.steps {
        match step {
            Step::Block(args) => {
                let b = blocker.get_or_insert_with(|| Raw::connect(port));
                if waiting {
                    served(b);
                }
                let base = blocked_clients(&mut c);
                b.send(&encode_cmd(args));
                wait_for(IO_TIMEOUT, "the @block command to block", || {
                    (blocked_clients(&mut c) > base).then_some(())
                });
                waiting = true;
            }
            Step::Run(args) => {
                c.send(&encode_cmd(args));
                c.read_full()
                    .unwrap_or_else(|e| panic!("no reply to {args:?}: {e}"));
            }
        }
    }
    if waiting && let Some(b) = blocker.as_mut() {
        served(b);
    }
    // The end: a SET and DEL per shard, from a connection on database 0.
    let ends = sentinels();
    let mut e = Raw::connect(port);
    for k in &ends {
        assert_eq!(e.cmd(&[b"SET".as_slice(), k, b"1"]), b"+OK\r\n");
        assert_eq!(e.cmd(&[b"DEL".as_slice(), k]), b":1\r\n");
    }
    let mut events = Events::new();
    let mut left: Vec<&Vec<u8>> = ends.iter().collect();
    while !left.is_empty() {
        let (channel, payload) = next_message(&mut sub);
        let Some((key, entry)) = classify(&channel, &payload) else {
            panic!(
                "a message on an unexpected channel: {}",
                String::from_utf8_lossy(&channel)
            );
        };
        if key.0 == 0 && ends.contains(&key.1) {
            if entry.ends_with(" del") {
                left.retain(|k| **k != key.1);
            }
            continue;
        }
        events.entry(key).or_default().push(entry);
    }
    events
}

/// The stored file of a case.
fn render(version: &str, case: &Case, events: &Events) -> String {
    let mut text = String::new();
    text.push_str("# Keyspace notifications the reference redis-server published for the case\n");
    text.push_str("# file of the same name, per database and key, each key's in arrival order.\n");
    text.push_str("# Format: tests/notify_differential.rs. Regenerate with:\n");
    text.push_str(&format!("#   {RECORD_WITH}\n"));
    text.push_str(&format!("# redis_version: {version}\n"));
    for l in &case.lines {
        text.push_str(&format!("> {l}\n"));
    }
    for ((db, key), entries) in events {
        text.push_str(&format!("@key {db} {}\n", escape(key)));
        for e in entries {
            text.push_str(e);
            text.push('\n');
        }
    }
    text
}

/// Reads a stored file: (version, the case lines, the events).
fn parse_stored(shown: &str, text: &str) -> Result<(String, Vec<String>, Events), String> {
    let mut version = None;
    let mut lines = Vec::new();
    let mut events = Events::new();
    let mut cur: Option<(usize, Vec<u8>)> = None;
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{shown}:{}", n + 1);
        if let Some(v) = line.strip_prefix("# redis_version: ") {
            version = Some(v.trim().to_string());
        } else if line.starts_with('#') || line.is_empty() {
        } else if let Some(l) = line.strip_prefix("> ") {
            lines.push(l.to_string());
        } else if let Some(rest) = line.strip_prefix("@key ") {
            let (db, key) = rest
                .split_once(' ')
                .ok_or_else(|| format!("{}: `@key <db> <key>` expected", at()))?;
            let db = db.parse().map_err(|_| format!("{}: bad database", at()))?;
            let key = unescape(key).map_err(|e| format!("{}: {e}", at()))?;
            events.insert((db, key.clone()), Vec::new());
            cur = Some((db, key));
        } else if line.starts_with("K ") || line.starts_with("E ") {
            let k = cur
                .as_ref()
                .ok_or_else(|| format!("{}: a message before any @key", at()))?;
            events.entry(k.clone()).or_default().push(line.to_string());
        } else {
            return Err(format!("{}: unexpected line {line:?}", at()));
        }
    }
    let version = version.ok_or_else(|| format!("{shown}: no '# redis_version: ' line"))?;
    Ok((version, lines, events))
}

/// Shows a key for messages.
fn show_key((db, key): &(usize, Vec<u8>)) -> String {
    format!("db {db} key \"{}\"", escape(key))
}

/// Compares two servers' messages; `Err` lists the keys that differ.
fn compare(expected_from: &str, a: &Events, actual_from: &str, b: &Events) -> Result<(), String> {
    let mut report = String::new();
    let keys: std::collections::BTreeSet<&(usize, Vec<u8>)> = a.keys().chain(b.keys()).collect();
    let none = Vec::new();
    for k in keys {
        let (x, y) = (a.get(k).unwrap_or(&none), b.get(k).unwrap_or(&none));
        if x != y {
            report.push_str(&format!(
                "\n{}:\n  {expected_from:>9}: {x:?}\n  {actual_from:>9}: {y:?}\n",
                show_key(k)
            ));
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// The reference messages of a case: stored, re-checked against a live
/// redis-server when one is installed, or recorded from it.
fn expected(name: &str, case: &Case) -> Events {
    let path = case_path(name, "events");
    let shown = format!("tests/cases/notify_{name}.events");
    let live = || {
        let redis = RedisServer::start();
        run_case(redis.port, case)
    };
    if recording() {
        assert!(
            redis_server_available(),
            "recording needs the reference redis-server at {}",
            redis_server_path().display()
        );
        let events = live();
        std::fs::write(&path, render(&redis_server_version(), case, &events))
            .unwrap_or_else(|e| panic!("cannot write {shown}: {e}"));
        eprintln!("recorded {shown}");
        return events;
    }
    let stale = |e: String| -> ! {
        panic!("stored Redis notifications unusable: {e}\nRegenerate them with: {RECORD_WITH}")
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| stale(format!("{shown}: {e}")));
    let (version, lines, want) = parse_stored(&shown, &text).unwrap_or_else(|e| stale(e));
    if lines != case.lines {
        stale(format!(
            "{shown} was recorded for other lines than tests/cases/notify_{name}.txt has"
        ));
    }
    if !redis_server_available() {
        static NOTE: std::sync::Once = std::sync::Once::new();
        NOTE.call_once(|| {
            note(&format!(
                "no redis-server at {}: the stored notifications (tests/cases/notify_*.events, \
                 from redis-server {version}) are used without re-verifying them",
                redis_server_path().display()
            ))
        });
        return want;
    }
    let live_version = redis_server_version();
    assert_eq!(
        live_version, version,
        "{shown} was recorded from redis-server {version}, the live one is {live_version}"
    );
    if let Err(report) = compare("stored", &want, "live", &live()) {
        panic!(
            "{shown} disagrees with the live redis-server {live_version}:{report}\n\
             The live server is the reference: regenerate with: {RECORD_WITH}"
        );
    }
    want
}

/// Runs a case file against coreshard and compares with Redis's messages.
fn differential(name: &str) {
    let case = load_case(name);
    let want = expected(name, &case);
    let ours = Server::start();
    let got = run_case(ours.port, &case);
    if let Err(report) = compare("redis", &want, "coreshard", &got) {
        panic!("notify_{name}.txt: keys whose notifications differ:{report}");
    }
}

#[test]
fn sentinels_cover_every_shard() {
    let owners: std::collections::BTreeSet<usize> = sentinels()
        .iter()
        .map(|k| coreshard::shard::slot::key_owner(k, THREADS))
        .collect();
    assert_eq!(owners.len(), THREADS);
}

#[test]
fn messages_are_grouped_by_key() {
    assert_eq!(
        classify(b"__keyspace@3__:a:b", b"set"),
        Some(((3, b"a:b".to_vec()), "K set".to_string()))
    );
    assert_eq!(
        classify(b"__keyevent@0__:del", b"k\r\n"),
        Some(((0, b"k\r\n".to_vec()), "E del".to_string()))
    );
    assert_eq!(classify(b"other", b"x"), None);
    let case = Case {
        classes: "KEA".into(),
        lines: vec!["SET \"a b\" 1".into()],
        steps: Vec::new(),
    };
    let mut events = Events::new();
    events.insert((1, b"a\nb".to_vec()), vec!["K set".into(), "E set".into()]);
    let text = render("7.0.15", &case, &events);
    let (v, lines, back) = parse_stored("x", &text).unwrap();
    assert_eq!((v.as_str(), lines, back), ("7.0.15", case.lines, events));
    assert_eq!(
        split_args(r#"SET "a\x41\"" 'b\'c' d"#).unwrap(),
        vec![
            b"SET".to_vec(),
            b"aA\"".to_vec(),
            b"b'c".to_vec(),
            b"d".to_vec()
        ]
    );
}

macro_rules! case_files {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                differential(stringify!($name));
            }
        )*
    };
}

case_files!(
    strings, generic, lists, hashes, sets, zsets, streams, bits, sort, keymiss, new_keys,
);
