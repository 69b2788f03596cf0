//! Differential tests: scripted commands run against coreshard (3 threads) and
//! the raw RESP replies must match those of the reference `redis-server` 7.0.15
//! byte for byte.
//!
//! Case files live in `tests/cases/*.txt`, one command per line, quoted like
//! `redis-cli` input (`"..."` with `\n \r \t \" \\ \xHH` escapes, `'...'` with
//! `\'`). Blank lines and lines starting with `#` are ignored. A line starting with
//! `~ ` marks a reply whose top-level elements may come in any order (compared as
//! a multiset); `* ` compares only the reply's RESP type (for replies carrying
//! ids, addresses or times). Each file runs on one fresh connection after
//! FLUSHALL, once command by command and once as a single pipeline.
//!
//! Redis's replies are stored beside each case file in `tests/cases/<name>.redis`
//! (format in `tests/common/reference.rs`; `~ ` replies are stored with their
//! elements sorted, `* ` replies as their type only), so these tests need no
//! Redis. When `/usr/bin/redis-server` (or `$COREDIFF_REDIS_SERVER`) exists, the
//! stored replies are also checked against it, and
//! `cases_are_deterministic_on_redis` checks that two fresh servers agree.
//! After adding or changing cases, regenerate the stored replies with
//!
//! ```sh
//! COREDIFF_RECORD=1 cargo test --release --test differential
//! ```
//!
//! `COREDIFF_SHOW=1 cargo test --release --test differential -- --nocapture
//! --test-threads 1` prints every case with both replies.

mod common;

use common::reference::{
    Item, Reference, compare_replies, redis_server_available, show, split_args,
};
use common::*;
use std::path::Path;

/// How to regenerate the stored replies.
const RECORD_WITH: &str = "COREDIFF_RECORD=1 cargo test --release --test differential";

/// One scripted command.
struct Case {
    line: usize,
    text: String,
    args: Vec<Vec<u8>>,
    mode: Mode,
}

/// How a reply is compared.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Exact,
    Unordered,
    TypeOnly,
}

fn load_cases(name: &str) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut cases = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (mode, cmd) = if let Some(rest) = line.strip_prefix("~ ") {
            (Mode::Unordered, rest)
        } else if let Some(rest) = line.strip_prefix("* ") {
            (Mode::TypeOnly, rest)
        } else {
            (Mode::Exact, line)
        };
        let args =
            split_args(cmd).unwrap_or_else(|e| panic!("{}:{}: {e}: {line}", path.display(), n + 1));
        assert!(
            !args.is_empty(),
            "{}:{}: empty command",
            path.display(),
            n + 1
        );
        cases.push(Case {
            line: n + 1,
            text: line.to_string(),
            args,
            mode,
        });
    }
    cases
}

/// The comparable form of a reply: exact bytes, or for unordered replies the
/// header plus the sorted encodings of the top-level elements.
fn canonical(reply: &Resp, raw: &[u8], mode: Mode) -> Vec<u8> {
    match mode {
        Mode::Exact => return raw.to_vec(),
        Mode::TypeOnly => return format!("<a reply of type '{}'>", raw[0] as char).into_bytes(),
        Mode::Unordered => {}
    }
    let mut parts: Vec<Vec<u8>> = match reply {
        Resp::Array(v) | Resp::Set(v) | Resp::Push(v) => v
            .iter()
            .map(|e| {
                let mut b = Vec::new();
                encode(e, &mut b);
                b
            })
            .collect(),
        Resp::Map(v) => v
            .iter()
            .map(|(k, e)| {
                let mut b = Vec::new();
                encode(k, &mut b);
                encode(e, &mut b);
                b
            })
            .collect(),
        _ => return raw.to_vec(),
    };
    parts.sort();
    let mut out = raw[..raw.iter().position(|&c| c == b'\n').map_or(0, |p| p + 1)].to_vec();
    for p in parts {
        out.extend(p);
    }
    out
}

/// Runs every case on a connection; returns the canonical replies.
fn run_cases(port: u16, cases: &[Case]) -> Vec<Vec<u8>> {
    let mut c = Raw::connect(port);
    assert_eq!(
        c.cmd(&["FLUSHALL"]),
        b"+OK\r\n",
        "FLUSHALL before the cases"
    );
    cases
        .iter()
        .map(|case| {
            c.send(&encode_cmd(&case.args));
            match c.read_full() {
                Ok((r, raw)) => canonical(&r, &raw, case.mode),
                Err(e) => format!("<no reply: {e}>").into_bytes(),
            }
        })
        .collect()
}

/// Sends every case in one write (a pipeline) and reads all replies: exercises
/// per-shard batching and reply ordering.
fn run_cases_pipelined(port: u16, cases: &[Case]) -> Vec<Vec<u8>> {
    let mut c = Raw::connect(port);
    assert_eq!(
        c.cmd(&["FLUSHALL"]),
        b"+OK\r\n",
        "FLUSHALL before the cases"
    );
    let mut buf = Vec::new();
    for case in cases {
        buf.extend(encode_cmd(&case.args));
    }
    let mut w = c.writer_clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = w.write_all(&buf);
    });
    let out = cases
        .iter()
        .map(|case| match c.read_full() {
            Ok((r, raw)) => canonical(&r, &raw, case.mode),
            Err(e) => format!("<no reply: {e}>").into_bytes(),
        })
        .collect();
    let _ = writer.join();
    out
}

/// The cases as checked items (labelled `<name>.txt:<line>`).
fn items(name: &str, cases: &[Case]) -> Vec<Item> {
    cases
        .iter()
        .map(|case| Item {
            label: format!("{name}.txt:{}", case.line),
            command: case.text.clone(),
        })
        .collect()
}

/// Compares two servers' replies to a case file (the determinism check).
fn compare(name: &str, expected_from: &str, a: &[Vec<u8>], actual_from: &str, b: &[Vec<u8>]) {
    let cases = load_cases(name);
    if let Err(report) = compare_replies(&items(name, &cases), expected_from, a, actual_from, b) {
        panic!("{name}.txt:{report}");
    }
}

/// Runs a case file against coreshard and compares with Redis's stored replies
/// (re-checked against a live redis-server when one is installed).
fn differential(name: &str) {
    let cases = load_cases(name);
    let about = [
        format!("Replies of the reference redis-server to tests/cases/{name}.txt, in case order"),
        "('~ ' replies with their elements sorted, '* ' replies as their type only).".into(),
    ];
    let about: Vec<&str> = about.iter().map(String::as_str).collect();
    let reference = Reference {
        name,
        about: &about,
        record_with: RECORD_WITH,
    };
    let items = items(name, &cases);
    let want = reference.expected(&items, || {
        let redis = RedisServer::start();
        run_cases(redis.port, &cases)
    });
    let ours = Server::start();
    let got = run_cases(ours.port, &cases);
    // `COREDIFF_SHOW=1 cargo test --release --test differential -- --nocapture`
    // prints every case with both replies (handy when writing new cases).
    if std::env::var_os("COREDIFF_SHOW").is_some() {
        for ((case, x), y) in cases.iter().zip(&want).zip(&got) {
            let mark = if x == y { "  " } else { "!!" };
            println!("{mark} {name}.txt:{}: {}", case.line, case.text);
            println!("      redis: {}", show(x));
            if x != y {
                println!("  coreshard: {}", show(y));
            }
        }
    }
    let check = |actual_from: &str, actual: &[Vec<u8>]| {
        if let Err(report) = compare_replies(&items, "redis", &want, actual_from, actual) {
            panic!("{name}.txt (redis = replies stored in tests/cases/{name}.redis):{report}");
        }
    };
    check("coreshard", &got);
    check("pipelined", &run_cases_pipelined(ours.port, &cases));
}

/// The stored-reply escaping and the command quoting read back exactly.
#[test]
fn stored_reply_encoding_round_trips() {
    use common::reference::{escape, quote_args, unescape};
    let all: Vec<u8> = (0..=255).collect();
    let e = escape(&all);
    assert!(!e.contains(['\n', '\r']), "one line: {e}");
    assert_eq!(unescape(&e).unwrap(), all);
    assert_eq!(escape(b"$3\r\nfoo\r\n"), "$3\\r\\nfoo\\r\\n");
    assert!(unescape("\\q").is_err());
    assert!(unescape("\\x4").is_err());
    let args: Vec<Vec<u8>> = vec![
        b"SET".to_vec(),
        b"".to_vec(),
        b"a b".to_vec(),
        b"q\"'\\".to_vec(),
        all.clone(),
    ];
    assert_eq!(split_args(&quote_args(&args)).unwrap(), args);
    assert_eq!(quote_args(&["LPUSH", "k", "", "x"]), "LPUSH k \"\" x");
}

macro_rules! case_files {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                differential(stringify!($name));
            }
        )*

        /// The scripts themselves must be deterministic: two fresh Redis servers
        /// give identical replies (catches cases that depend on time or ids).
        /// Needs a live redis-server; skipped with a note without one.
        #[test]
        fn cases_are_deterministic_on_redis() {
            if !redis_server_available() {
                common::reference::note(&format!(
                    "no redis-server at {}: cases_are_deterministic_on_redis skipped",
                    common::reference::redis_server_path().display()
                ));
                return;
            }
            let a = RedisServer::start();
            let b = RedisServer::start();
            $(
                let cases = load_cases(stringify!($name));
                let x = run_cases(a.port, &cases);
                let y = run_cases(b.port, &cases);
                compare(stringify!($name), "redis #1", &x, "redis #2", &y);
            )*
        }
    };
}

case_files!(
    multi,
    strings,
    string_set,
    string_numbers,
    string_ranges,
    bitmaps,
    bitfield,
    keys,
    expire,
    keyspace_multi,
    connection,
    errors,
    limits,
    resp3,
    sets,
    command_docs,
    hashes,
    lists,
    zsets,
    streams,
    sort,
    scripting,
    functions,
    pubsub,
);
