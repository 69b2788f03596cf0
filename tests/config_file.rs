//! Startup configuration: redis.conf-syntax files, `--name value` overrides, and
//! fatal errors for bad directives.

mod common;

use common::*;
use std::process::{Command, Stdio};

#[test]
fn config_file_and_overrides() {
    let dir = TempDir::new("conf");
    let path = format!("{}/test.conf", dir.path());
    std::fs::write(
        &path,
        "# a comment\n\
         databases 4\n\
         \n\
         maxclients 123\n\
         hz 20\n\
         loglevel \"warning\"\n\
         maxmemory-policy allkeys-lru\n",
    )
    .unwrap();
    // Command-line values win over the file.
    let s = Server::start_args(&[&path], &["--hz", "30"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "databases"]),
        b"*2\r\n$9\r\ndatabases\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]),
        b"*2\r\n$10\r\nmaxclients\r\n$3\r\n123\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz"]),
        b"*2\r\n$2\r\nhz\r\n$2\r\n30\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "loglevel"]),
        b"*2\r\n$8\r\nloglevel\r\n$7\r\nwarning\r\n"
    );
    assert_eq!(c.cmd(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["SELECT", "4"]),
        b"-ERR DB index is out of range\r\n"
    );
}

fn run_to_exit(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coreshard"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run coreshard");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_directives_are_fatal() {
    let (code, err) = run_to_exit(&["--port", "0", "--no-such-directive", "1"]);
    assert_ne!(code, 0);
    assert!(err.contains("Bad directive"), "{err}");
    let (code, err) = run_to_exit(&["--port", "0", "--hz", "abc"]);
    assert_ne!(code, 0);
    assert!(err.contains("hz"), "{err}");
    let dir = TempDir::new("badconf");
    let path = format!("{}/bad.conf", dir.path());
    std::fs::write(&path, "port 0\nnosuchthing yes\n").unwrap();
    let (code, err) = run_to_exit(&[&path]);
    assert_ne!(code, 0);
    assert!(err.contains("line 2"), "{err}");
    let (code, err) = run_to_exit(&["/nonexistent/coreshard.conf"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/coreshard.conf"), "{err}");
}

#[test]
fn version_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_coreshard"))
        .arg("--version")
        .output()
        .expect("run coreshard");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("redis_version=7.0.15"), "{text}");
}
