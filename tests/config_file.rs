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
fn a_port_in_use_is_fatal() {
    // A second server on a port another one listens on fails to start, as
    // Redis does, instead of sharing the port.
    let s = Server::start();
    let port = s.port.to_string();
    let (code, err) = run_to_exit(&["--port", &port, "--threads", "2"]);
    assert_ne!(code, 0);
    assert!(err.contains("Address already in use"), "{err}");
    assert!(s.raw().call(&["PING"]).text() == "PONG");
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

/// Redis's test suite starts servers from its `default.conf` and waits for
/// ` PID: <pid>` and then `Ready to accept` on standard output: every
/// directive of that file loads, and the banner carries the PID.
#[test]
fn starts_from_the_test_suites_default_conf() {
    use std::io::{BufRead, BufReader};
    let dir = TempDir::new("suiteconf");
    let path = format!("{}/default.conf", dir.path());
    std::fs::write(
        &path,
        "always-show-logo yes\n\
         notify-keyspace-events KEA\n\
         daemonize no\n\
         timeout 0\n\
         bind 127.0.0.1\n\
         loglevel verbose\n\
         logfile ''\n\
         databases 16\n\
         latency-monitor-threshold 1\n\
         repl-diskless-sync-delay 0\n\
         save 900 1\n\
         rdbcompression yes\n\
         dbfilename dump.rdb\n\
         slave-serve-stale-data yes\n\
         appendonly no\n\
         appendfsync everysec\n\
         no-appendfsync-on-rewrite no\n\
         activerehashing yes\n\
         enable-protected-configs yes\n\
         enable-debug-command yes\n\
         enable-module-command yes\n\
         propagation-error-behavior panic\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_coreshard"))
        .args([&path, "--port", "0", "--threads", "3", "--dir", dir.path()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn coreshard");
    let pid_line = format!(" PID: {}", child.id());
    let stdout = child.stdout.take().expect("child stdout");
    let mut saw_pid = false;
    let mut port = None;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        saw_pid |= line.contains(&pid_line);
        if let Some(p) = line.split("tcp port=").nth(1) {
            port = p.trim().parse::<u16>().ok();
            break;
        }
    }
    assert!(saw_pid, "no '{pid_line}' line before the ready line");
    let port = port.expect("ready line with the port");
    let mut c = Raw::connect(port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "propagation-error-behavior"]),
        b"*2\r\n$26\r\npropagation-error-behavior\r\n$5\r\npanic\r\n"
    );
    // enable-protected-configs yes: the protected directives can be set.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "dbfilename", "other.rdb"]),
        b"+OK\r\n"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn protected_configs_are_refused_by_default() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "dir", "/tmp"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "enable-protected-configs", "yes"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'enable-protected-configs') - can't set immutable config\r\n"
    );
}
