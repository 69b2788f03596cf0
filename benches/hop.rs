//! Cross-shard hop round trip: core 0 runs a closure on core 1 through the hop
//! mesh (`Core::run_on`) and waits for its result.
//!
//! Two glommio executors are started the way the server starts them
//! (`build_mesh` + `Core::start`, pinned to CPUs 0 and 1 when there are two).
//! Criterion's thread hands each sample to core 0, which times `iters` round
//! trips itself (`iter_custom`), so no cross-thread handoff is inside the timing.
//!
//! Variants:
//! - `single`: one tiny closure per round trip (the cost of one hop).
//! - `batch16`: one hop carrying 16 closures (how a pipeline's commands for one
//!   shard travel); throughput is per closure.
//! - `concurrent16`: 16 independent hops in flight at once, joined.
//!
//! Each is run with the executors as the server configures them (idle cores
//! park, so a hop pays a wake-up) and with `spin_before_park` (peer busy-polls).
//!
//! `cargo bench --bench hop`

use coreshard::config::Config;
use coreshard::shard::{Core, build_mesh};
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Two running cores and the channel that feeds core 0 work.
struct Pair {
    work: Option<mpsc::Sender<(Mode, u64)>>,
    done: mpsc::Receiver<Duration>,
    handles: Vec<ExecutorJoinHandle<()>>,
}

impl Pair {
    fn start(spin: Option<Duration>) -> Pair {
        let ncpu = core_affinity::get_core_ids().map_or(1, |v| v.len()).max(1);
        let mut mesh = build_mesh(2).into_iter();
        let (work_tx, work_rx) = mpsc::channel::<(Mode, u64)>();
        let (done_tx, done_rx) = mpsc::channel::<Duration>();
        let stop = Arc::new(AtomicBool::new(false));
        let builder = |i: usize| {
            let b = LocalExecutorBuilder::new(Placement::Fixed(i % ncpu))
                .name(&format!("bench-core-{i}"));
            match spin {
                Some(d) => b.spin_before_park(d),
                None => b,
            }
        };

        let ends0 = mesh.next().expect("mesh end 0");
        let ends1 = mesh.next().expect("mesh end 1");
        let stop0 = stop.clone();
        let h0 = builder(0)
            .spawn(move || async move {
                let core = Core::start(0, 2, Config::default(), ends0).await;
                // Blocking here is fine: no hop is in flight between samples.
                while let Ok((mode, iters)) = work_rx.recv() {
                    let d = round_trips(&core, mode, iters).await;
                    if done_tx.send(d).is_err() {
                        break;
                    }
                }
                stop0.store(true, Ordering::SeqCst);
            })
            .expect("start core 0");
        let h1 = builder(1)
            .spawn(move || async move {
                let _core = Core::start(1, 2, Config::default(), ends1).await;
                // The hop-serving tasks run in the background; wait for the end.
                while !stop.load(Ordering::SeqCst) {
                    glommio::timer::sleep(Duration::from_millis(50)).await;
                }
            })
            .expect("start core 1");
        Pair {
            work: Some(work_tx),
            done: done_rx,
            handles: vec![h0, h1],
        }
    }

    fn run(&self, mode: Mode, iters: u64) -> Duration {
        let tx = self.work.as_ref().expect("pair running");
        tx.send((mode, iters)).expect("core 0 alive");
        self.done.recv().expect("core 0 reply")
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.work.take();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn bench_hop(c: &mut Criterion) {
    for (label, spin) in [
        ("hop_roundtrip_parked", None),
        ("hop_roundtrip_spin", Some(Duration::from_millis(5))),
    ] {
        let pair = Pair::start(spin);
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
