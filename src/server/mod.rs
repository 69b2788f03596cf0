//! The server: one pinned glommio executor per core, a SO_REUSEPORT listener on
//! each, and the connection loop.
//!
//! ```text
//!  main thread: parse config ─► bind N listeners (same port) ─► build hop mesh
//!               ─► spawn N pinned executors ─► wait for SIGINT/SIGTERM/SHUTDOWN
//!  executor i:  Core::start ─► active-expiry task ─► accept loop ─► conn::serve
//! ```

pub mod blocking;
pub mod clients;
pub mod conn;
pub mod multi;

use crate::config::Config;
use crate::shard::{Core, build_mesh};
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub use conn::Conn;

/// Set once shutdown begins.
pub static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// Unix time (seconds) the server started.
pub static START_TIME: AtomicU64 = AtomicU64::new(0);
/// Port actually bound (useful with `--port 0`).
pub static BOUND_PORT: AtomicU64 = AtomicU64::new(0);
/// Active expiry on (DEBUG SET-ACTIVE-EXPIRE 0 turns it off).
pub static ACTIVE_EXPIRE: AtomicBool = AtomicBool::new(true);
/// Unix time (seconds) of the last successful save.
pub static LAST_SAVE: AtomicU64 = AtomicU64::new(0);

fn bind_all(config: &Config) -> std::io::Result<(Vec<Vec<RawFd>>, u16)> {
    let binds: Vec<String> = config
        .get("bind")
        .unwrap_or("127.0.0.1")
        .split_whitespace()
        .map(|s| s.trim_start_matches('-').to_string())
        .collect();
    let mut port = config.port;
    let mut per_core: Vec<Vec<RawFd>> = (0..config.threads).map(|_| Vec::new()).collect();
    let backlog = config.get_i64("tcp-backlog").clamp(1, i32::MAX as i64) as i32;
    for b in &binds {
        let host = if b.contains(':') && !b.starts_with('[') {
            format!("[{b}]")
        } else {
            b.clone()
        };
        let addr: SocketAddr = format!("{host}:{port}")
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("cannot resolve bind address {b}")))?;
        for fds in per_core.iter_mut() {
            let mut a = addr;
            a.set_port(port);
            let sock = Socket::new(Domain::for_address(a), Type::STREAM, Some(Protocol::TCP))?;
            sock.set_reuse_address(true)?;
            sock.set_reuse_port(true)?;
            if a.is_ipv6() {
                sock.set_only_v6(true)?;
            }
            sock.bind(&a.into())?;
            sock.listen(backlog)?;
            if port == 0 {
                port = sock
                    .local_addr()?
                    .as_socket()
                    .map(|s| s.port())
                    .ok_or_else(|| std::io::Error::other("no local address"))?;
            }
            fds.push(sock.into_raw_fd());
        }
    }
    Ok((per_core, port))
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-mask calls on a zeroed, then initialised, sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        set
    }
}

/// Asks the main thread to shut the server down (as SIGTERM does).
pub fn request_shutdown() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    // Only [`run`] waits for the signal; an in-process host (tests) has not
    // blocked SIGTERM, so it only sees the flag.
    if SIGNAL_WAITER.load(Ordering::SeqCst) {
        // SAFETY: sending a signal to our own process.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
    }
}

/// Set while [`run`] waits for SIGINT/SIGTERM.
static SIGNAL_WAITER: AtomicBool = AtomicBool::new(false);

/// A running server's cores.
pub struct ServerHandle {
    /// Port the listeners are bound to.
    pub port: u16,
    handles: Vec<glommio::ExecutorJoinHandle<()>>,
}

impl ServerHandle {
    /// Number of executors.
    pub fn threads(&self) -> usize {
        self.handles.len()
    }
}

/// Binds the listeners and starts one pinned executor per core; returns once
/// they are spawned. Used by [`run`] and by in-process test harnesses.
pub fn start(mut config: Config) -> std::io::Result<ServerHandle> {
    config.resolve();
    crate::metrics::clock::init();
    START_TIME.store(crate::now_ms() / 1000, Ordering::Relaxed);
    LAST_SAVE.store(crate::now_ms() / 1000, Ordering::Relaxed);
    crate::storage::db::HASH_SEED.store(
        crate::now_us() ^ (std::process::id() as u64).rotate_left(32),
        Ordering::Relaxed,
    );
    let (fds, port) = bind_all(&config)?;
    BOUND_PORT.store(port as u64, Ordering::Relaxed);
    config.port = port;
    let n = config.threads;
    let ncpu = core_affinity::get_core_ids()
        .map(|v| v.len())
        .unwrap_or(1)
        .max(1);
    let mesh = build_mesh(n);
    let mut handles = Vec::new();
    for (i, (ends, fds)) in mesh.into_iter().zip(fds).enumerate() {
        let cfg = config.clone();
        let spin = std::time::Duration::from_micros(cfg.get_i64("executor-spin-us").max(0) as u64);
        let h = LocalExecutorBuilder::new(Placement::Fixed(i % ncpu))
            .name(&format!("core-{i}"))
            .spin_before_park(spin)
            .spawn(move || async move { core_main(i, n, cfg, ends, fds).await })
            .map_err(|e| std::io::Error::other(format!("cannot start executor {i}: {e}")))?;
        handles.push(h);
    }
    Ok(ServerHandle { port, handles })
}

/// Runs the server until SIGINT, SIGTERM or SHUTDOWN. Returns the exit code.
pub fn run(config: Config) -> std::io::Result<i32> {
    let sigset = block_signals();
    SIGNAL_WAITER.store(true, Ordering::SeqCst);
    let h = start(config)?;
    let port = h.port;
    tracing::info!(
        "coreshard {} (redis {} compatible) ready to accept connections on port {port} with {} threads",
        crate::VERSION,
        crate::REDIS_VERSION,
        h.threads()
    );
    println!("Ready to accept connections tcp port={port}");
    let mut sig: libc::c_int = 0;
    // SAFETY: sigwait on the set blocked above; every thread inherited the mask.
    unsafe {
        libc::sigwait(&sigset, &mut sig);
    }
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    tracing::info!("received signal {sig}, shutting down");
    Ok(0)
}

async fn core_main(
    id: usize,
    n: usize,
    cfg: Config,
    ends: crate::shard::MeshEnds,
    fds: Vec<RawFd>,
) {
    crate::metrics::register_thread(id);
    let core = Core::start(id, n, cfg, ends).await;
    crate::metrics::STARTUP_MEMORY.fetch_max(crate::metrics::used_memory(), Ordering::Relaxed);
    let c = core.clone();
    glommio::spawn_local(async move { expiry_loop(c).await }).detach();
    glommio::spawn_local(stats_loop()).detach();
    let mut accepts = Vec::new();
    for fd in fds {
        // SAFETY: fd is a listening socket created in bind_all and owned only here.
        let listener = unsafe { TcpListener::from_raw_fd(fd) };
        let c = core.clone();
        accepts.push(glommio::spawn_local(async move {
            accept_loop(c, listener).await
        }));
    }
    for a in accepts {
        a.await;
    }
}

async fn accept_loop(core: Rc<Core>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let c = core.clone();
                glommio::spawn_local(async move { conn::serve(c, stream).await }).detach();
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn expiry_loop(core: Rc<Core>) {
    loop {
        let (hz, effort) = {
            let c = core.config.borrow();
            (c.hz.clamp(1, 500) as u64, c.active_expire_effort)
        };
        let period_us = 1_000_000 / hz;
        glommio::timer::sleep(Duration::from_micros(period_us)).await;
        if !ACTIVE_EXPIRE.load(Ordering::Relaxed) {
            continue;
        }
        let now = crate::now_ms();
        // Like Redis: at most 25% of the period, more with higher effort.
        let budget = period_us * (25 + 2 * (effort as u64 - 1)) / 100;
        core.shard.borrow_mut().active_expire(now, effort, budget);
        crate::metrics::note_peak();
    }
}

/// Samples this core's command counter for `instantaneous_ops_per_sec`.
async fn stats_loop() {
    loop {
        glommio::timer::sleep(Duration::from_millis(100)).await;
        crate::metrics::sample_ops(crate::now_ms());
    }
}
