//! Differential tests: the same scripted commands run against the reference
//! `redis-server` (7.0) and against coreshard (3 threads); raw RESP replies must
//! match byte for byte.
//!
//! Case files live in `tests/cases/*.txt`, one command per line, quoted like
//! `redis-cli` input (`"..."` with `\n \r \t \" \\ \xHH` escapes, `'...'` with
//! `\'`). Blank lines and lines starting with `#` are ignored. A line starting with
//! `~ ` marks a reply whose top-level elements may come in any order (compared as
//! a multiset); `* ` compares only the reply's RESP type (for replies carrying
//! ids, addresses or times). Each file runs on one fresh connection after
//! FLUSHALL.
//!
//! `COREDIFF_SHOW=1 cargo test --release --test differential -- --nocapture
//! --test-threads 1` prints every case with both replies.

mod common;

use common::*;
use std::path::Path;

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

/// Splits a line the way redis-cli does (sdssplitargs).
fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let mut cur = Vec::new();
        if b[i] == b'"' {
            i += 1;
            loop {
                if i >= b.len() {
                    return Err("unbalanced double quote".into());
                }
                match b[i] {
                    b'\\'
                        if i + 3 < b.len()
                            && b[i + 1] == b'x'
                            && b[i + 2].is_ascii_hexdigit()
                            && b[i + 3].is_ascii_hexdigit() =>
                    {
                        let h = std::str::from_utf8(&b[i + 2..i + 4]).map_err(|e| e.to_string())?;
                        cur.push(u8::from_str_radix(h, 16).map_err(|e| e.to_string())?);
                        i += 4;
                    }
                    b'\\' if i + 1 < b.len() => {
                        cur.push(match b[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            c => c,
                        });
                        i += 2;
                    }
                    b'"' => {
                        i += 1;
                        if i < b.len() && !b[i].is_ascii_whitespace() {
                            return Err("closing quote must be followed by a space".into());
                        }
                        break;
                    }
                    c => {
                        cur.push(c);
                        i += 1;
                    }
                }
            }
        } else if b[i] == b'\'' {
            i += 1;
            loop {
                if i >= b.len() {
                    return Err("unbalanced single quote".into());
                }
                match b[i] {
                    b'\\' if i + 1 < b.len() && b[i + 1] == b'\'' => {
                        cur.push(b'\'');
                        i += 2;
                    }
                    b'\'' => {
                        i += 1;
                        if i < b.len() && !b[i].is_ascii_whitespace() {
                            return Err("closing quote must be followed by a space".into());
                        }
                        break;
                    }
                    c => {
                        cur.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                cur.push(b[i]);
                i += 1;
            }
        }
        out.push(cur);
    }
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

fn show(b: &[u8]) -> String {
    let s: String = b
        .iter()
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect();
    if s.len() > 400 {
        format!("{}... ({} bytes)", &s[..400], b.len())
    } else {
        s
    }
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

fn compare(name: &str, expected_from: &str, a: &[Vec<u8>], actual_from: &str, b: &[Vec<u8>]) {
    let cases = load_cases(name);
    let mut report = String::new();
    let mut bad = 0;
    for ((case, x), y) in cases.iter().zip(a).zip(b) {
        if x != y {
            bad += 1;
            report.push_str(&format!(
                "\n{name}.txt:{}: {}\n    {expected_from:>9}: {}\n    {actual_from:>9}: {}\n",
                case.line,
                case.text,
                show(x),
                show(y)
            ));
        }
    }
    assert!(
        bad == 0,
        "{bad} of {} cases in {name}.txt differ:{report}",
        cases.len()
    );
}

/// Runs a case file against redis-server and coreshard and compares replies.
fn differential(name: &str) {
    let cases = load_cases(name);
    let redis = RedisServer::start();
    let ours = Server::start();
    let want = run_cases(redis.port, &cases);
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
    compare(name, "redis", &want, "coreshard", &got);
    let piped = run_cases_pipelined(ours.port, &cases);
    compare(name, "redis", &want, "pipelined", &piped);
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
        #[test]
        fn cases_are_deterministic_on_redis() {
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
    sort,
);
