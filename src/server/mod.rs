//! The server: one pinned thread per core running our io_uring loop
//! ([`crate::runtime`]), a SO_REUSEPORT listener on each, and the connection loop.
//!
//! ```text
//!  start():   bind N listeners (same port) ─► mesh of mailboxes ─► engine state
//!             ─► N pinned core threads ─► wait until every loop is ready
//!  core i:    ring ─► Core (shard, config copy, clients) ─► expiry, stats and
//!             clients cron tasks ─► multishot accept ─► conn::serve per client
//!             ─► runtime::run until the engine stops
//!  run():     start() ─► wait for SIGINT/SIGTERM (SHUTDOWN raises SIGTERM) ─► stop()
//! ```
//!
//! An engine is an instance ([`ServerHandle`] with its [`EngineState`]): a
//! process may run several, each with its own cores, ports and counters.

pub mod conn;

use crate::command::session::clients::{self, check_client_memory};
use crate::command::session::{CoreSessions, SessionCore, tracking};
use crate::config::Config;
use crate::runtime;
use crate::shard::{Core, EngineState, Mesh};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often each core runs its client housekeeping (idle `timeout`, soft
/// output-buffer limits), as Redis's clientsCron does.
const CLIENTS_CRON: Duration = Duration::from_millis(100);

/// Makes `fd` (a listening socket handed to this core) accept this core's
/// share of new clients.
fn accept_on(core: &Rc<Core>, fd: RawFd) {
    let c = core.clone();
    runtime::reactor::listen(fd, move |sock| {
        runtime::spawn(conn::serve(c.clone(), sock));
    });
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

/// A running engine: its cores and what they share.
pub struct ServerHandle {
    /// Port the listeners are bound to.
    pub port: u16,
    /// State shared by the engine's cores.
    pub state: Arc<EngineState>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    /// Number of cores.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Stops every core: listeners and connections are closed, tasks
    /// dropped, threads joined.
    pub fn stop(mut self) {
        self.state.signal_waiter.store(false, Ordering::SeqCst);
        self.state.request_shutdown();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Binds the listeners and starts one pinned core thread per shard; returns
/// once every core's loop is ready. Used by [`run`] and by in-process hosts
/// (tests), which may run several engines side by side.
pub fn start(config: Config) -> std::io::Result<ServerHandle> {
    start_with_journal(config, None)
}

/// [`start`], with every shard's changes sent to `journal` (see
/// [`crate::shard::journal`]).
pub fn start_with_journal(
    mut config: Config,
    journal: Option<crate::shard::journal::Sink>,
) -> std::io::Result<ServerHandle> {
    config.resolve();
    crate::metrics::clock::init();
    static SEED: std::sync::Once = std::sync::Once::new();
    SEED.call_once(|| {
        crate::storage::db::HASH_SEED.store(
            crate::now_us() ^ (std::process::id() as u64).rotate_left(32),
            Ordering::Relaxed,
        );
    });
    let (fds, port) = runtime::net::bind_listeners(
        &config.bind_addresses(),
        config.port,
        config.threads,
        config.tcp_backlog(),
    )?;
    // CONFIG GET port shows the port bound (a free one for port 0).
    let _ = config.set("port", &port.to_string(), true);
    let n = config.threads;
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    let mesh = Mesh::new(n)?;
    let slots: Vec<usize> = (0..n).map(|_| crate::metrics::claim_slot()).collect();
    let mut state = EngineState::new(mesh.clone(), slots.clone());
    state.journal = journal;
    state.accept_on = Some(accept_on);
    let state = Arc::new(state);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let mut threads = Vec::new();
    let mut failure = None;
    for (i, fds) in fds.into_iter().enumerate() {
        let cfg = config.clone();
        let mesh = mesh.clone();
        let state = state.clone();
        let ready = ready_tx.clone();
        let cpu = (!cpus.is_empty()).then(|| cpus[i % cpus.len()]);
        let slot = slots[i];
        let spawned = std::thread::Builder::new()
            .name(format!("core-{i}"))
            .spawn(move || {
                if let Some(cpu) = cpu {
                    core_affinity::set_for_current(cpu);
                }
                crate::metrics::register_thread(slot);
                core_main(i, cfg, mesh, state, fds, ready);
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                // The cores started so far are stopped below; the slots of
                // those that never started go back at once.
                for &s in &slots[i..] {
                    crate::metrics::release_slot(s);
                }
                failure = Some(e);
                break;
            }
        }
    }
    drop(ready_tx);
    for _ in 0..threads.len() {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some(std::io::Error::other("a core thread ended during start")),
        }
    }
    let handle = ServerHandle {
        port,
        state,
        threads,
    };
    if let Some(e) = failure {
        handle.stop();
        return Err(e);
    }
    let used = handle.state.used_memory();
    handle.state.startup_memory.store(used, Ordering::Relaxed);
    handle.state.peak_memory.fetch_max(used, Ordering::Relaxed);
    Ok(handle)
}

/// Runs the server until SIGINT, SIGTERM or SHUTDOWN. Returns the exit code.
pub fn run(config: Config) -> std::io::Result<i32> {
    let sigset = block_signals();
    tracing::info!("coreshard is starting");
    tracing::info!(
        "coreshard version={}, redis compatibility={}, bits={}, pid={}, just started",
        crate::VERSION,
        crate::REDIS_VERSION,
        usize::BITS,
        std::process::id()
    );
    let config_snapshot = config.clone();
    let h = start(config)?;
    h.state.signal_waiter.store(true, Ordering::SeqCst);
    let port = h.port;
    announce(&config_snapshot, port, h.threads());
    tracing::info!(
        "coreshard {} (redis {} compatible) ready to accept connections on port {port} with {} threads",
        crate::VERSION,
        crate::REDIS_VERSION,
        h.threads()
    );
    println!("Ready to accept connections tcp port={port}");
    if let Some(path) = config_snapshot.get("unixsocket").filter(|p| !p.is_empty()) {
        tracing::warn!(
            "unixsocket {path} is accepted from Redis configuration files, but coreshard \
             serves TCP only: no socket is created at that path"
        );
    }
    let mut sig: libc::c_int = 0;
    // SAFETY: sigwait on the set blocked above; every thread inherited the mask.
    unsafe {
        libc::sigwait(&sigset, &mut sig);
    }
    tracing::info!("received signal {sig}, shutting down");
    h.stop();
    Ok(0)
}

/// The startup banner: with `always-show-logo yes` (or a terminal on
/// standard output and no log file, as Redis decides) a short block that
/// names the version, mode, port, PID and threads; otherwise one line. Tools
/// that start servers the way Redis's test suite does wait for ` PID: <pid>`.
fn announce(config: &Config, port: u16, threads: usize) {
    use std::io::IsTerminal;
    let pid = std::process::id();
    let logo = config.get_bool("always-show-logo")
        || (std::io::stdout().is_terminal() && config.get("logfile").unwrap_or("").is_empty());
    if logo {
        tracing::info!(
            "coreshard {} (Redis {} compatible) {} bit",
            crate::VERSION,
            crate::REDIS_VERSION,
            usize::BITS
        );
        tracing::info!("Running in standalone mode");
        tracing::info!("Port: {port}");
        tracing::info!("PID: {pid}");
        tracing::info!("Threads: {threads} (one shard each)");
    } else {
        tracing::info!("Running mode=standalone, port={port}, threads={threads}.");
    }
}

/// One core's thread: its ring, its shard, its listeners, its loop.
fn core_main(
    id: usize,
    cfg: Config,
    mesh: Arc<Mesh>,
    state: Arc<EngineState>,
    fds: Vec<RawFd>,
    ready: std::sync::mpsc::Sender<std::io::Result<()>>,
) {
    if let Err(e) = runtime::init(mesh.notifier(id)) {
        for fd in fds {
            // SAFETY: listening sockets created for this core and owned only here.
            unsafe { libc::close(fd) };
        }
        let _ = ready.send(Err(std::io::Error::new(
            e.kind(),
            format!(
                "cannot set up io_uring on core {id}: {e} (coreshard needs Linux 6.1 or \
                 later; io_uring may be disabled: check /proc/sys/kernel/io_uring_disabled \
                 and seccomp; kernels before 5.12 need a higher `ulimit -l`)"
            ),
        )));
        return;
    }
    let spin = Duration::from_micros(cfg.get_i64("executor-spin-us").max(0) as u64);
    let core = Core::new(
        id,
        cfg,
        mesh,
        state.clone(),
        Box::new(CoreSessions::default()),
    );
    runtime::spawn(expiry_loop(core.clone()));
    runtime::spawn(stats_loop());
    runtime::spawn(clients_cron(core.clone()));
    for fd in fds {
        accept_on(&core, fd);
    }
    let _ = ready.send(Ok(()));
    drop(ready);
    let c = core.clone();
    runtime::run(
        core.mesh().notifier(id),
        runtime::Hooks {
            turn: &mut || {
                crate::storage::db::tick_lru_clock();
                c.drain_hops()
            },
            pending: &|| c.hops_pending(),
            stop: &|| state.stopping(),
            end_turn: &mut || {
                let ev = crate::storage::evict::settings();
                if ev.maxmemory > 0 {
                    c.publish_keys();
                }
                if ev.maxmemory_clients > 0 {
                    if c.client_check_asked() {
                        c.clients().borrow_mut().check_memory = true;
                    }
                    check_client_memory(&c);
                }
                tracking::end_turn(&c);
                c.wake_peers();
            },
            spin,
        },
    );
}

async fn expiry_loop(core: Rc<Core>) {
    loop {
        let (hz, effort) = {
            let c = core.config.borrow();
            (c.hz.clamp(1, 500) as u64, c.active_expire_effort)
        };
        let period_us = 1_000_000 / hz;
        runtime::sleep(Duration::from_micros(period_us)).await;
        tracking::limit(&core);
        if !core.engine.active_expire.load(Ordering::Relaxed) {
            continue;
        }
        let now = crate::now_ms();
        // Like Redis: at most 25% of the period, more with higher effort.
        let budget = period_us * (25 + 2 * (effort as u64 - 1)) / 100;
        let t0 = std::time::Instant::now();
        crate::storage::tracking::set_writer(0);
        let cycle = core.shard.borrow_mut().active_expire(now, effort, budget);
        tracking::flush(&core);
        crate::command::session::pubsub::flush_notifications(&core);
        let us = t0.elapsed().as_micros() as u64;
        crate::metrics::with(|s| {
            s.expire_cycle_us += us;
            if cycle.timed_out {
                s.expired_time_cap_reached_count += 1;
            }
            if cycle.sampled > 0 {
                let current = cycle.expired as f64 / cycle.sampled as f64;
                s.expired_stale = current * 0.05 + s.expired_stale * 0.95;
            }
        });
        core.engine.note_peak();
    }
}

/// Samples this core's command counter for `instantaneous_ops_per_sec`.
async fn stats_loop() {
    loop {
        runtime::sleep(Duration::from_millis(100)).await;
        crate::metrics::sample_ops(crate::now_ms());
    }
}

/// Closes idle clients (`timeout`) and clients over their soft output limit
/// for too long; samples buffer peaks.
async fn clients_cron(core: Rc<Core>) {
    loop {
        runtime::sleep(CLIENTS_CRON).await;
        clients::clients_cron(&core);
    }
}
