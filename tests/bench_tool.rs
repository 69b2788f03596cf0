//! End-to-end checks of the `coreshard-bench` load generator against the real server.

mod common;

use std::process::{Command, Output};

use common::{Resp, Server};

const BENCH: &str = env!("CARGO_BIN_EXE_coreshard-bench");

fn bench(port: u16, args: &[&str]) -> Output {
    let out = Command::new(BENCH)
        .args(["-s", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run coreshard-bench");
    assert!(
        out.status.success(),
        "coreshard-bench {args:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A temporary JSON output path.
fn json_path(dir: &common::TempDir) -> String {
    format!("{}/out.json", dir.path())
}

/// The text of the object that follows `"key":` (balanced braces).
fn object<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":{{");
    let start = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + pat.len()
        - 1;
    let mut depth = 0;
    for (i, ch) in json[start..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &json[start..start + i + 1];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced JSON: {json}");
}

/// A numeric field of a flat JSON object.
fn number(obj: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    let at = obj
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {obj}"))
        + pat.len();
    let rest = &obj[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {obj}"))
}

fn count_keys(s: &Server, pattern: &str) -> usize {
    s.raw().call(&["KEYS", pattern]).items().len()
}

#[test]
fn allkeys_loads_every_key_once() {
    let s = Server::start();
    let out = bench(
        s.port,
        &[
            "-t",
            "2",
            "-c",
            "3",
            "--ratio",
            "1:0",
            "--key-pattern",
            "P:P",
            "--key-minimum",
            "1",
            "--key-maximum",
            "1000",
            "--requests",
            "allkeys",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("total ops: 1000"));
    assert_eq!(s.raw().call(&["DBSIZE"]), Resp::Int(1000));
    assert_eq!(
        s.raw().call(&["EXISTS", "memtier-1", "memtier-1000"]),
        Resp::Int(2)
    );
}

#[test]
fn json_totals_are_consistent() {
    let s = Server::start();
    let dir = common::TempDir::new("bench-json");
    let path = json_path(&dir);
    // Sequential SET then GET of the same key per client: every GET hits.
    bench(
        s.port,
        &[
            "-c",
            "4",
            "-n",
            "200",
            "--ratio",
            "1:1",
            "--key-pattern",
            "S:S",
            "--key-maximum",
            "49",
            "--json-out",
            &path,
        ],
    );
    let j = std::fs::read_to_string(&path).expect("json written");
    assert!(j.starts_with("{\"tool\":\"coreshard-bench\""), "{j}");
    let config = object(&j, "config");
    assert!(config.contains("\"requests\":200"), "{config}");
    assert!(config.contains("\"ratio\":\"1:1\""), "{config}");
    let totals = object(&j, "totals");
    let set = object(&j, "SET");
    let get = object(&j, "GET");
    assert_eq!(number(totals, "ops"), 800.0);
    assert_eq!(number(set, "ops"), 400.0);
    assert_eq!(number(get, "ops"), 400.0);
    assert_eq!(number(get, "hits"), 400.0);
    assert_eq!(number(get, "misses"), 0.0);
    assert_eq!(number(set, "hits") + number(set, "misses"), 0.0);
    assert_eq!(number(totals, "hits"), 400.0);
    assert_eq!(number(totals, "errors"), 0.0);
    let secs = number(&j, "duration_secs");
    assert!(secs > 0.0);
    let ops_sec = number(totals, "ops_sec");
    assert!(
        (ops_sec - 800.0 / secs).abs() / ops_sec < 0.01,
        "{ops_sec} vs {secs}"
    );
    assert!(number(totals, "p50_us") <= number(totals, "p99_us"));
    assert!(number(totals, "p99_us") <= number(totals, "max_us"));
    assert_eq!(count_keys(&s, "memtier-*"), 50);
}

#[test]
fn custom_mset_command() {
    let s = Server::start();
    let dir = common::TempDir::new("bench-mset");
    let path = json_path(&dir);
    // Two clients, each walking its own half of 200 keys, two keys per MSET.
    bench(
        s.port,
        &[
            "-c",
            "2",
            "-n",
            "50",
            "--key-prefix",
            "ms:",
            "--key-maximum",
            "199",
            "--command",
            "MSET __key__ __data__ __key__ __data__",
            "--command-key-pattern",
            "P",
            "-d",
            "10",
            "--json-out",
            &path,
        ],
    );
    let j = std::fs::read_to_string(&path).expect("json written");
    let mset = object(&j, "MSET");
    assert_eq!(number(mset, "ops"), 100.0);
    assert_eq!(number(mset, "errors"), 0.0);
    assert_eq!(count_keys(&s, "ms:*"), 200);
    match s.raw().call(&["GET", "ms:150"]) {
        Resp::Bulk(b) => assert_eq!(b, b"0123456789"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pubsub_run_delivers_every_message_in_order() {
    let s = Server::start();
    let dir = common::TempDir::new("bench-pubsub");
    let path = json_path(&dir);
    // 2 publishers x 100 messages to 7 subscribers spread over the cores, by
    // channel and by pattern; the tool itself fails on a lost, repeated or
    // reordered message.
    for patterns in [false, true] {
        let mut args = vec![
            "-c",
            "2",
            "-n",
            "100",
            "--subscribers",
            "7",
            "--pipeline",
            "4",
            "--json-out",
            &path,
        ];
        if patterns {
            args.push("--subscribe-patterns");
        }
        bench(s.port, &args);
        let j = std::fs::read_to_string(&path).expect("json written");
        let publish = object(&j, "PUBLISH");
        assert_eq!(number(publish, "ops"), 200.0, "{j}");
        assert_eq!(number(publish, "errors"), 0.0, "{j}");
        let message = object(&j, "message");
        assert_eq!(number(message, "ops"), 1400.0, "{j}");
        assert_eq!(number(object(&j, "totals"), "ops"), 200.0);
    }
    // Nothing is left subscribed once the tool is gone.
    let mut c = s.raw();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match c.call(&["PUBSUB", "NUMSUB", "bench:channel"]) {
            Resp::Array(v) if v.get(1) == Some(&Resp::Int(0)) => break,
            other => assert!(std::time::Instant::now() < deadline, "{other:?}"),
        }
        std::thread::yield_now();
    }
}

#[test]
fn fixed_rate_run_finishes() {
    let s = Server::start();
    let dir = common::TempDir::new("bench-rate");
    let path = json_path(&dir);
    // 5 clients x 40 requests at 1000/s in total: about 0.2 s.
    bench(
        s.port,
        &[
            "-c",
            "5",
            "-n",
            "40",
            "--rate",
            "1000",
            "--pipeline",
            "2",
            "--json-out",
            &path,
        ],
    );
    let j = std::fs::read_to_string(&path).expect("json written");
    let totals = object(&j, "totals");
    assert_eq!(number(totals, "ops"), 200.0);
    let secs = number(&j, "duration_secs");
    assert!(secs > 0.15 && secs < 2.0, "duration {secs}");
    assert!(object(&j, "config").contains("\"rate\":1000"));
}

#[test]
fn usage_and_connection_errors() {
    let out = Command::new(BENCH)
        .arg("--no-such-option")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option"));
    let out = Command::new(BENCH).arg("--help").output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--key-pattern"));
    let port = common::free_port();
    let out = Command::new(BENCH)
        .args(["-p", &port.to_string(), "-n", "1", "-c", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}
