//! Shared test harness.
//!
//! * [`Server`] starts the real `coreshard` binary on a free port (`--port 0`) and
//!   learns the port from its "Ready to accept connections" line; the child is
//!   killed and reaped on drop.
//! * [`RedisServer`] starts the reference `redis-server` for differential tests.
//! * [`reference`] keeps the replies recorded from it in `tests/cases/*.redis`,
//!   so the differential tests also run where it is not installed.
//! * [`Raw`] is a plain TCP client with a small RESP2/RESP3 reader, for byte-exact
//!   checks and malformed input.
//! * [`in_process`] runs the engine inside the test process (one per test binary).
//!
//! Nothing here sleeps to wait for readiness: every wait is a poll with a deadline.

#![allow(dead_code)]

pub mod reference;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to start.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Read timeout on raw connections (a hung server fails the test, not the suite).
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Number of executor threads every test server runs with (so hops are exercised).
pub const THREADS: usize = 3;

/// A running `coreshard` child process.
pub struct Server {
    child: Option<Child>,
    _redis: Option<RedisServer>,
    /// The port it listens on.
    pub port: u16,
}

impl Server {
    /// Starts the binary with `--port 0 --threads 3`.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts the binary with extra `--name value` arguments.
    ///
    /// With `CORESHARD_TEST_AGAINST_REDIS=1` in the environment the reference
    /// redis-server is started instead: this checks the tests' expectations
    /// against Redis itself.
    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_args(&[], extra)
    }

    /// Starts the binary as `coreshard <first...> --port 0 --threads 3 <extra...>`
    /// (`first` may name a config file, which must come first).
    pub fn start_args(first: &[&str], extra: &[&str]) -> Server {
        if std::env::var_os("CORESHARD_TEST_AGAINST_REDIS").is_some() {
            let r = RedisServer::start_args(first, extra);
            return Server {
                port: r.port,
                child: None,
                _redis: Some(r),
            };
        }
        let threads = THREADS.to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_coreshard"))
            .args(first)
            .args(["--port", "0", "--threads", &threads])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot spawn the coreshard binary");
        let stdout = child.stdout.take().expect("child stdout");
        let stderr = child.stderr.take().expect("child stderr");
        let (tx, rx) = mpsc::channel::<Result<u16, String>>();
        // The reader keeps draining stdout after the ready line so the child never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(p) = line.split("tcp port=").nth(1) {
                    let port = p.trim().parse::<u16>().map_err(|e| e.to_string());
                    let _ = tx.send(port);
                    sent = true;
                }
            }
            if !sent {
                let _ = tx.send(Err("stdout closed before the ready line".into()));
            }
        });
        let (etx, erx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut s);
            let _ = etx.send(s);
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(port)) => Server {
                child: Some(child),
                _redis: None,
                port,
            },
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let err = erx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
                panic!("coreshard did not become ready: {other:?}\nstderr:\n{err}");
            }
        }
    }

    /// A `redis` crate connection.
    pub fn conn(&self) -> redis::Connection {
        connect_redis(self.port)
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// Whether the child is still running.
    pub fn is_alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// True when the tests run against the reference Redis (see [`Server::start_with`]).
    pub fn is_reference_redis(&self) -> bool {
        self._redis.is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Opens a `redis` crate connection to 127.0.0.1:`port`.
pub fn connect_redis(port: u16) -> redis::Connection {
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("redis client url");
    let conn = client
        .get_connection_with_timeout(IO_TIMEOUT)
        .expect("connect to the server");
    conn.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    conn
}

/// A running reference `redis-server`.
pub struct RedisServer {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    _dir: TempDir,
}

impl RedisServer {
    /// Starts `redis-server` on a free port with persistence off. Fails the test
    /// with a clear message if it is not installed (see
    /// [`reference::redis_server_available`] for tests that can do without it).
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// Like [`RedisServer::start`] with extra `--name value` arguments.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        RedisServer::start_args(&[], extra)
    }

    /// `redis-server <first...> --port P ... <extra...>`.
    pub fn start_args(first: &[&str], extra: &[&str]) -> RedisServer {
        let path = reference::redis_server_path();
        assert!(
            path.is_file(),
            "{} is missing: this test needs the reference Redis 7.0 server \
             (apt-get install -y redis-server; .ci/run does it)",
            path.display()
        );
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let dir = TempDir::new("redis-ref");
            let mut child = Command::new(&path)
                .args(first)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    dir.path(),
                    "--logfile",
                    "",
                ])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot spawn redis-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(st)) = child.try_wait() {
                    last_err = format!("redis-server exited early: {st}");
                    break;
                }
                // Any reply proves it is serving (NOAUTH when a password is set).
                if let Ok(mut r) = Raw::try_connect(port)
                    && r.try_cmd(&["PING"]).is_ok()
                {
                    return RedisServer {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                if Instant::now() > deadline {
                    last_err = "redis-server did not answer PING in time".into();
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::yield_now();
            }
        }
        panic!("cannot start redis-server: {last_err}");
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// A temporary directory removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "coreshard-{prefix}-{}-{n}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A decoded RESP2/RESP3 reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1`
    NilBulk,
    /// `*-1`
    NilArray,
    Array(Vec<Resp>),
    /// RESP3 `_`
    Null,
    Double(String),
    Bool(bool),
    BigNumber(String),
    BlobError(Vec<u8>),
    Verbatim(String, Vec<u8>),
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Attribute(Vec<(Resp, Resp)>),
    Push(Vec<Resp>),
}

impl Resp {
    /// Bulk or simple string contents as UTF-8 (lossy).
    pub fn text(&self) -> String {
        match self {
            Resp::Simple(s) | Resp::Error(s) | Resp::Double(s) | Resp::BigNumber(s) => s.clone(),
            Resp::Bulk(b) | Resp::BlobError(b) | Resp::Verbatim(_, b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            Resp::Int(i) => i.to_string(),
            other => panic!("not a string reply: {other:?}"),
        }
    }
    pub fn int(&self) -> i64 {
        match self {
            Resp::Int(i) => *i,
            other => panic!("not an integer reply: {other:?}"),
        }
    }
    pub fn items(&self) -> &[Resp] {
        match self {
            Resp::Array(v) | Resp::Set(v) | Resp::Push(v) => v,
            other => panic!("not an aggregate reply: {other:?}"),
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Resp::Error(_) | Resp::BlobError(_))
    }
}

/// Encodes a reply back to bytes (the canonical form the server would send).
pub fn encode(r: &Resp, out: &mut Vec<u8>) {
    fn agg(out: &mut Vec<u8>, t: u8, n: usize) {
        out.push(t);
        out.extend_from_slice(n.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    fn blob(out: &mut Vec<u8>, t: u8, b: &[u8]) {
        agg(out, t, b.len());
        out.extend_from_slice(b);
        out.extend_from_slice(b"\r\n");
    }
    fn line(out: &mut Vec<u8>, t: u8, s: &str) {
        out.push(t);
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match r {
        Resp::Simple(s) => line(out, b'+', s),
        Resp::Error(s) => line(out, b'-', s),
        Resp::Int(i) => line(out, b':', &i.to_string()),
        Resp::Bulk(b) => blob(out, b'$', b),
        Resp::NilBulk => out.extend_from_slice(b"$-1\r\n"),
        Resp::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Resp::Null => out.extend_from_slice(b"_\r\n"),
        Resp::Double(s) => line(out, b',', s),
        Resp::Bool(b) => line(out, b'#', if *b { "t" } else { "f" }),
        Resp::BigNumber(s) => line(out, b'(', s),
        Resp::BlobError(b) => blob(out, b'!', b),
        Resp::Verbatim(f, b) => {
            let mut v = f.as_bytes().to_vec();
            v.push(b':');
            v.extend_from_slice(b);
            blob(out, b'=', &v)
        }
        Resp::Array(v) | Resp::Set(v) | Resp::Push(v) => {
            let t = match r {
                Resp::Array(_) => b'*',
                Resp::Set(_) => b'~',
                _ => b'>',
            };
            agg(out, t, v.len());
            for e in v {
                encode(e, out);
            }
        }
        Resp::Map(v) | Resp::Attribute(v) => {
            agg(
                out,
                if matches!(r, Resp::Map(_)) {
                    b'%'
                } else {
                    b'|'
                },
                v.len(),
            );
            for (k, e) in v {
                encode(k, out);
                encode(e, out);
            }
        }
    }
}

fn io_err(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

fn read_line<R: BufRead>(r: &mut R, raw: &mut Vec<u8>) -> std::io::Result<String> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    raw.extend_from_slice(&line);
    if !line.ends_with(b"\r\n") {
        return Err(io_err(format!(
            "reply line without CRLF: {:?}",
            String::from_utf8_lossy(&line)
        )));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|e| io_err(e.to_string()))
}

fn read_blob<R: BufRead>(r: &mut R, len: usize, raw: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0u8; len + 2];
    r.read_exact(&mut b)?;
    raw.extend_from_slice(&b);
    if !b.ends_with(b"\r\n") {
        return Err(io_err("bulk not followed by CRLF".into()));
    }
    b.truncate(len);
    Ok(b)
}

fn parse_len(s: &str) -> std::io::Result<i64> {
    s.parse::<i64>()
        .map_err(|_| io_err(format!("bad length {s:?}")))
}

/// Reads one complete RESP reply, appending its exact bytes to `raw`.
pub fn read_resp<R: BufRead>(r: &mut R, raw: &mut Vec<u8>) -> std::io::Result<Resp> {
    let line = read_line(r, raw)?;
    if line.is_empty() {
        return Err(io_err("empty reply line".into()));
    }
    let (t, rest) = line.split_at(1);
    Ok(match t {
        "+" => Resp::Simple(rest.into()),
        "-" => Resp::Error(rest.into()),
        ":" => Resp::Int(parse_len(rest)?),
        "," => Resp::Double(rest.into()),
        "#" => Resp::Bool(rest == "t"),
        "(" => Resp::BigNumber(rest.into()),
        "_" => Resp::Null,
        "$" | "!" | "=" => {
            let n = parse_len(rest)?;
            if n < 0 {
                Resp::NilBulk
            } else {
                let b = read_blob(r, n as usize, raw)?;
                match t {
                    "$" => Resp::Bulk(b),
                    "!" => Resp::BlobError(b),
                    _ => {
                        if b.len() < 4 || b[3] != b':' {
                            return Err(io_err("bad verbatim string".into()));
                        }
                        Resp::Verbatim(String::from_utf8_lossy(&b[..3]).into(), b[4..].to_vec())
                    }
                }
            }
        }
        "*" | "~" | ">" => {
            let n = parse_len(rest)?;
            if n < 0 {
                Resp::NilArray
            } else {
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(read_resp(r, raw)?);
                }
                match t {
                    "*" => Resp::Array(v),
                    "~" => Resp::Set(v),
                    _ => Resp::Push(v),
                }
            }
        }
        "%" | "|" => {
            let n = parse_len(rest)?;
            let mut v = Vec::with_capacity(n.max(0) as usize);
            for _ in 0..n {
                let k = read_resp(r, raw)?;
                let e = read_resp(r, raw)?;
                v.push((k, e));
            }
            if t == "%" {
                Resp::Map(v)
            } else {
                Resp::Attribute(v)
            }
        }
        _ => return Err(io_err(format!("unknown reply type in {line:?}"))),
    })
}

/// Encodes a command as a RESP multibulk request.
pub fn encode_cmd<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A raw TCP client.
pub struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    /// Connects to 127.0.0.1:`port`, panicking on failure.
    pub fn connect(port: u16) -> Raw {
        Raw::try_connect(port).unwrap_or_else(|e| panic!("connect to port {port}: {e}"))
    }

    /// Connects to 127.0.0.1:`port`.
    pub fn try_connect(port: u16) -> std::io::Result<Raw> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Raw {
            reader: BufReader::with_capacity(64 * 1024, s.try_clone()?),
            writer: s,
        })
    }

    /// Writes bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to server");
        self.writer.flush().expect("flush");
    }

    /// Writes bytes, ignoring errors (the server may already have closed).
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Reads one reply; returns its decoded form and exact bytes.
    pub fn read_full(&mut self) -> std::io::Result<(Resp, Vec<u8>)> {
        let mut raw = Vec::new();
        let r = read_resp(&mut self.reader, &mut raw)?;
        Ok((r, raw))
    }

    /// Reads one reply.
    pub fn read(&mut self) -> Resp {
        self.read_full().expect("read a reply").0
    }

    /// Reads one reply's exact bytes.
    pub fn read_raw(&mut self) -> Vec<u8> {
        self.read_full().expect("read a reply").1
    }

    /// Sends a command and returns the reply's exact bytes.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(&encode_cmd(args));
        self.read_raw()
    }

    /// Sends a command; returns the reply's exact bytes or the I/O error.
    pub fn try_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Vec<u8>> {
        self.try_send(&encode_cmd(args))?;
        Ok(self.read_full()?.1)
    }

    /// Sends a command and returns the decoded reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Resp {
        self.send(&encode_cmd(args));
        self.read()
    }

    /// The integer field `name` of `INFO section`.
    pub fn info_field(&mut self, section: &str, name: &str) -> i64 {
        let text = self.call(&["INFO", section]).text();
        info_value(&text, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("INFO {section} has no {name}"))
    }

    /// True once the server has closed the connection (EOF within the IO timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        loop {
            match self.reader.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    /// A second handle on the socket for writing from another thread.
    pub fn writer_clone(&self) -> TcpStream {
        self.writer.try_clone().expect("clone socket")
    }

    /// Closes the write side (half close).
    pub fn shutdown_write(&mut self) {
        let _ = self.writer.shutdown(Shutdown::Write);
    }
}

/// Polls `f` until it returns `Some`, or panics after `timeout` with `what`.
/// The value of field `name` in INFO's text, trimmed.
pub fn info_value<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Keys `prefix:N` until at least `per_shard` keys land on each of the `THREADS`
/// shards (by the server's own slot rule).
pub fn keys_on_every_shard(prefix: &str, per_shard: usize) -> Vec<String> {
    let mut counts = [0usize; THREADS];
    let mut keys = Vec::new();
    let mut i = 0;
    while counts.iter().any(|&c| c < per_shard) {
        let k = format!("{prefix}:{i}");
        let s = coreshard::shard::slot::key_owner(k.as_bytes(), THREADS);
        if counts[s] < per_shard {
            counts[s] += 1;
            keys.push(k);
        }
        i += 1;
    }
    keys
}

/// One key owned by each shard (index = shard).
pub fn key_per_shard(prefix: &str) -> Vec<String> {
    let mut out: Vec<Option<String>> = vec![None; THREADS];
    let mut i = 0;
    while out.iter().any(|k| k.is_none()) {
        let k = format!("{prefix}{i}");
        let s = coreshard::shard::slot::key_owner(k.as_bytes(), THREADS);
        if out[s].is_none() {
            out[s] = Some(k);
        }
        i += 1;
    }
    out.into_iter().flatten().collect()
}

/// `count` keys `prefix:N` spread over the shards in turn (0, 1, 2, 0, ...).
pub fn spread(prefix: &str, count: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut i = 0;
    while keys.len() < count {
        let k = format!("{prefix}:{i}");
        if coreshard::shard::slot::key_owner(k.as_bytes(), THREADS) == keys.len() % THREADS {
            keys.push(k);
        }
        i += 1;
    }
    keys
}

/// Starts an engine inside the test process with `THREADS` cores on a free
/// port, with extra directives; returns once it answers PING. Stop it with
/// [`coreshard::server::ServerHandle::stop`].
pub fn start_engine(directives: &[(&str, &str)]) -> coreshard::server::ServerHandle {
    let mut cfg = coreshard::config::Config::default();
    cfg.set("threads", &THREADS.to_string(), true)
        .expect("threads");
    cfg.set("port", "0", true).expect("port");
    for (k, v) in directives {
        cfg.set(k, v, true).expect("directive");
    }
    let h = coreshard::server::start(cfg).expect("start in-process engine");
    let port = h.port;
    wait_for(START_TIMEOUT, "in-process engine", || {
        Raw::try_connect(port)
            .ok()
            .and_then(|mut r| (r.cmd(&["PING"]) == b"+PONG\r\n").then_some(()))
    });
    h
}

/// In-process server shared by every test of one test binary (it lives for
/// the rest of the process).
pub fn in_process() -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| start_in_process(None))
}

/// Starts an engine in this process (it lives for the rest of the process),
/// its shards' journals sent to `journal`; returns its port once it answers.
pub fn start_in_process(journal: Option<coreshard::shard::journal::Sink>) -> u16 {
    let mut cfg = coreshard::config::Config::default();
    cfg.set("threads", &THREADS.to_string(), true)
        .expect("threads");
    cfg.set("port", "0", true).expect("port");
    cfg.threads = THREADS;
    cfg.port = 0;
    let h = coreshard::server::start_with_journal(cfg, journal).expect("start in-process server");
    let port = h.port;
    // The executors live for the rest of the process.
    std::mem::forget(h);
    wait_for(START_TIMEOUT, "in-process server", || {
        Raw::try_connect(port)
            .ok()
            .and_then(|mut r| (r.cmd(&["PING"]) == b"+PONG\r\n").then_some(()))
    });
    port
}

/// INFO `blocked_clients`.
pub fn blocked(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Polls INFO until `n` clients are blocked (no sleeping on a guess).
pub fn wait_blocked(c: &mut redis::Connection, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked(c) != n {
        assert!(
            Instant::now() < deadline,
            "blocked_clients never reached {n}"
        );
        std::thread::yield_now();
    }
}
