//! Cross-shard hop round trip: core 0 runs a closure on core 1 through the hop
//! mesh (`Core::run_on`) and waits for its result.
//!
//! Two cores are started the way the server starts them (`Mesh::new` +
//! `Core::new` + `runtime::run` on pinned threads, CPUs 0 and 1 when there are
//! two). Criterion's thread hands each sample to core 0, which times `iters`
//! round trips itself (`iter_custom`), so no cross-thread handoff is inside the
//! timing. Before each group, the CPU both cores spend per hopped command
//! (from their /proc schedstat) and the wall time per round trip are printed.
//!
//! Variants:
//! - `single`: one tiny closure per round trip (the cost of one hop).
//! - `batch16`: one hop carrying 16 closures (how a pipeline's commands for one
//!   shard travel); throughput is per closure.
//! - `concurrent16`: 16 independent hops in flight at once, joined.
//!
//! Each is run with the cores as the server configures them (idle cores park,
//! so a hop to an idle core pays a wake-up) and spinning 5 ms before parking
//! (`executor-spin-us`: the peer busy-polls its mailboxes).
//!
//! `cargo bench --bench hop`

use coreshard::config::Config;
use coreshard::runtime::{self, Mailbox};
use coreshard::shard::{Core, EngineState, Mesh};
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
enum Mode {
    Single,
    Batch16,
    Concurrent16,
}

type SubJob = Box<dyn FnOnce(&Rc<Core>) -> u64 + Send>;

/// Runs `iters` round trips of `mode` from `core` (core 0) to core 1.
async fn round_trips(core: &Rc<Core>, mode: Mode, iters: u64) -> Duration {
    let t0 = Instant::now();
    for i in 0..iters {
        match mode {
            Mode::Single => {
                let r = core.run_on(1, move |c| c.id as u64 + i).await;
                black_box(r);
            }
            Mode::Batch16 => {
                let jobs: Vec<SubJob> = (0..16u64)
                    .map(|j| Box::new(move |c: &Rc<Core>| c.id as u64 + i + j) as SubJob)
                    .collect();
                let r: Vec<u64> = core
                    .run_on(1, move |c| jobs.into_iter().map(|f| f(c)).collect())
                    .await;
                black_box(r);
            }
            Mode::Concurrent16 => {
                let futs = (0..16u64).map(|j| core.run_on(1, move |c| c.id as u64 + i + j));
                black_box(futures::future::join_all(futs).await);
            }
        }
    }
    t0.elapsed()
}

/// Two running cores (each on its own pinned thread with its own loop, as the
/// server runs them) and the mailbox that feeds core 0 work.
struct Pair {
    work: Arc<Mailbox<(Mode, u64)>>,
    mesh: Arc<Mesh>,
    state: Arc<EngineState>,
    done: mpsc::Receiver<Duration>,
    threads: Vec<std::thread::JoinHandle<()>>,
    tids: Vec<i32>,
}

impl Pair {
    fn start(spin: Duration) -> Pair {
        let cpus = core_affinity::get_core_ids().unwrap_or_default();
        let mesh = Mesh::new(2).expect("mesh");
        let state = Arc::new(EngineState::new(mesh.clone(), Vec::new()));
        let work: Arc<Mailbox<(Mode, u64)>> = Arc::default();
        let (done_tx, done_rx) = mpsc::channel::<Duration>();
        let (tid_tx, tid_rx) = mpsc::channel::<(usize, i32)>();
        let mut threads = Vec::new();
        for i in 0..2 {
            let (mesh, state, work) = (mesh.clone(), state.clone(), work.clone());
            let done_tx = done_tx.clone();
            let tid_tx = tid_tx.clone();
            let cpu = cpus.get(i % cpus.len().max(1)).copied();
            threads.push(std::thread::spawn(move || {
                if let Some(cpu) = cpu {
                    core_affinity::set_for_current(cpu);
                }
                // SAFETY: gettid has no preconditions.
                let _ = tid_tx.send((i, unsafe { libc::gettid() }));
                runtime::init(mesh.notifier(i)).expect("io_uring");
                let core = Core::new(
                    i,
                    Config::default(),
                    mesh.clone(),
                    state.clone(),
                    Box::new(()),
                );
                let mut scratch = Vec::new();
                let c = core.clone();
                runtime::run(
                    mesh.notifier(i),
                    runtime::Hooks {
                        turn: &mut || {
                            let mut any = c.drain_hops();
                            if i == 0 {
                                work.drain_into(&mut scratch);
                                for (mode, iters) in scratch.drain(..) {
                                    any = true;
                                    let (c, tx) = (c.clone(), done_tx.clone());
                                    runtime::spawn(async move {
                                        let d = round_trips(&c, mode, iters).await;
                                        let _ = tx.send(d);
                                    });
                                }
                            }
                            any
                        },
                        pending: &|| c.hops_pending() || (i == 0 && work.has_items()),
                        stop: &|| state.stopping(),
                        end_turn: &mut || c.wake_peers(),
                        spin,
                    },
                );
            }));
        }
        let mut tids = vec![0; 2];
        for _ in 0..2 {
            let (i, t) = tid_rx.recv().expect("core thread id");
            tids[i] = t;
        }
        Pair {
            work,
            mesh,
            state,
            done: done_rx,
            threads,
            tids,
        }
    }

    fn run(&self, mode: Mode, iters: u64) -> Duration {
        self.work.push((mode, iters));
        self.mesh.notifier(0).notify();
        self.done.recv().expect("core 0 reply")
    }

    /// CPU time both core threads used so far (from /proc schedstat).
    fn cpu(&self) -> Duration {
        self.tids
            .iter()
            .map(|t| {
                let p = format!("/proc/self/task/{t}/schedstat");
                let ns = std::fs::read_to_string(p)
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                    .unwrap_or(0);
                Duration::from_nanos(ns)
            })
            .sum()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.state.shutting_down.store(true, Ordering::SeqCst);
        self.mesh.kick_all();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

/// Prints the CPU both cores spend per hopped command and the wall time of
/// a round trip, for each mode: the figures the scaling model uses.
fn report_cpu(label: &str, pair: &Pair) {
    for (name, mode, per) in [
        ("single", Mode::Single, 1u64),
        ("batch16", Mode::Batch16, 16),
        ("concurrent16", Mode::Concurrent16, 16),
    ] {
        let iters = 20_000;
        let c0 = pair.cpu();
        let wall = pair.run(mode, iters);
        let cpu = pair.cpu() - c0;
        let cmds = (iters * per) as f64;
        println!(
            "{label}/{name}: {:.3} µs CPU per hopped command (both cores), {:.3} µs wall per round trip",
            cpu.as_secs_f64() * 1e6 / cmds,
            wall.as_secs_f64() * 1e6 / iters as f64
        );
    }
}

fn bench_hop(c: &mut Criterion) {
    for (label, spin) in [
        ("hop_roundtrip_parked", Duration::ZERO),
        ("hop_roundtrip_spin", Duration::from_millis(5)),
    ] {
        let pair = Pair::start(spin);
        report_cpu(label, &pair);
        let mut g = c.benchmark_group(label);
        g.measurement_time(Duration::from_secs(3));
        g.warm_up_time(Duration::from_secs(1));
        g.throughput(Throughput::Elements(1));
        g.bench_function("single", |b| {
            b.iter_custom(|iters| pair.run(Mode::Single, iters))
        });
        g.throughput(Throughput::Elements(16));
        g.bench_function("batch16", |b| {
            b.iter_custom(|iters| pair.run(Mode::Batch16, iters))
        });
        g.bench_function("concurrent16", |b| {
            b.iter_custom(|iters| pair.run(Mode::Concurrent16, iters))
        });
        g.finish();
        drop(pair);
    }
}

/// Floor for comparison: two pinned threads bouncing a counter through one
/// atomic, both busy-polling. Returns the time of `iters` round trips.
fn atomic_pingpong(iters: u64) -> Duration {
    let flag = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    let pin = move |i: usize| {
        if let Some(&id) = cpus.get(i % cpus.len().max(1)) {
            core_affinity::set_for_current(id);
        }
    };
    let (f, p) = (flag.clone(), pin.clone());
    let echo = std::thread::spawn(move || {
        p(1);
        for i in 0..iters {
            while f.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            f.store(2 * i + 2, Ordering::Release);
        }
    });
    let ping = std::thread::spawn(move || {
        pin(0);
        let t0 = Instant::now();
        for i in 0..iters {
            flag.store(2 * i + 1, Ordering::Release);
            while flag.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        }
        t0.elapsed()
    });
    let d = ping.join().expect("ping thread");
    echo.join().expect("echo thread");
    d
}

/// Baseline for the parked case: two threads bouncing a message through std
/// channels, each blocking (futex) while it waits.
fn channel_pingpong(iters: u64) -> Duration {
    let (to_tx, to_rx) = mpsc::channel::<u64>();
    let (back_tx, back_rx) = mpsc::channel::<u64>();
    let echo = std::thread::spawn(move || {
        while let Ok(v) = to_rx.recv() {
            if back_tx.send(v + 1).is_err() {
                break;
            }
        }
    });
    let t0 = Instant::now();
    for i in 0..iters {
        to_tx.send(i).expect("echo alive");
        black_box(back_rx.recv().expect("echo reply"));
    }
    let d = t0.elapsed();
    drop(to_tx);
    echo.join().expect("echo thread");
    d
}

fn bench_baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("thread_roundtrip_baseline");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("atomic_spin", |b| b.iter_custom(atomic_pingpong));
    g.bench_function("std_mpsc_blocking", |b| b.iter_custom(channel_pingpong));
    g.finish();
}

criterion_group!(benches, bench_hop, bench_baseline);
criterion_main!(benches);
