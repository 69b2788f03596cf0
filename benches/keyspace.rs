//! Keyspace operations on one shard's `Db`: GET hit and miss, SET over an existing
//! key, SET of a new key into a growing table, and DEL, with 16-byte keys and
//! 32-byte values, at 1k and 1M keys.
//!
//! Keys are visited in a shuffled order so the 1M case pays the cache misses a
//! real workload does. Table setup happens outside the measured loop; operations
//! that change the key count (new-key SET, DEL) are timed in chunks with
//! `iter_custom` and the table is restored between chunks, untimed.
//!
//! `keyspace_batch16` times GET-style lookups (entry, then the value's bytes)
//! made in batches of 16 random keys, as a pipelined connection issues them, at
//! 100k and 1M keys: plain, and after the batch's prefetch stages (`Db::prefetch`
//! and `Db::prefetch_node` for every key, then optionally `Db::prefetch_value`).
//! The batch keys are copied to a small staging area first, untimed, so they
//! are in cache as a parsed request's arguments would be. Criterion's time is
//! per batch of 16.
//!
//! `cargo bench --bench keyspace`

use coreshard::Rng;
use coreshard::storage::{Db, Value};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::time::{Duration, Instant};

const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 32;
/// Fixed "now" (ms): no key in these benches has a TTL.
const NOW: u64 = 1_700_000_000_000;

/// The `i`-th key of a family: `prefix` then zero-padded digits, 16 bytes.
fn key(prefix: &str, i: usize) -> Vec<u8> {
    let k = format!("{prefix}{i:0width$}", width = KEY_LEN - prefix.len());
    debug_assert_eq!(k.len(), KEY_LEN);
    k.into_bytes()
}

fn keys(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| key(prefix, i)).collect()
}

fn value(i: usize) -> Value {
    let mut v = [b'v'; VALUE_LEN];
    v[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Value::string(&v)
}

/// A permutation of `0..n` (Fisher-Yates with the crate's generator).
fn shuffled(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    let mut v: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        v.swap(i, rng.below(i + 1));
    }
    v
}

/// A single-shard database holding `keys`.
fn filled(keys: &[Vec<u8>]) -> Db {
    let mut db = Db::new(1);
    for (i, k) in keys.iter().enumerate() {
        db.set(k, value(i));
    }
    db
}

fn bench_keyspace(c: &mut Criterion) {
    let mut g = c.benchmark_group("keyspace_16B_key_32B_value");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    for n in [1_000usize, 1_000_000] {
        let size = if n >= 1_000_000 { "1M" } else { "1k" };
        let present = keys("key:", n);
        let absent = keys("miss:", n);
        let order = shuffled(n, 0x9e37_79b9 ^ n as u64);
        let mut db = filled(&present);
        let v32 = [b'w'; VALUE_LEN];

        g.bench_function(BenchmarkId::new("get_hit", size), |b| {
            let mut i = 0usize;
            b.iter(|| {
                let k = &present[order[i] as usize];
                i = if i + 1 == n { 0 } else { i + 1 };
                db.get(black_box(k), NOW).map(|e| e.expire)
            })
        });

        g.bench_function(BenchmarkId::new("get_miss", size), |b| {
            let mut i = 0usize;
            b.iter(|| {
                let k = &absent[order[i] as usize];
                i = if i + 1 == n { 0 } else { i + 1 };
                db.get(black_box(k), NOW).is_some()
            })
        });

        // SET over an existing key: builds the new value (one allocation for 32
        // bytes) and drops the replaced entry, as the SET command does.
        g.bench_function(BenchmarkId::new("set_overwrite", size), |b| {
            let mut i = 0usize;
            b.iter(|| {
                let k = &present[order[i] as usize];
                i = if i + 1 == n { 0 } else { i + 1 };
                db.set(black_box(k), Value::string(black_box(&v32)))
                    .is_some()
            })
        });

        // SET of a key that does not exist yet. Inserts grow the table from n to
        // 2n keys (slot tables resize along the way); then the table is rebuilt
        // at n keys, untimed, and growth starts again.
        g.bench_function(BenchmarkId::new("set_new_growing", size), |b| {
            let fresh = keys("new:", n);
            let mut grow = filled(&present);
            let mut next = 0usize;
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    if next == n {
                        drop(std::mem::replace(&mut grow, Db::new(1)));
                        grow = filled(&present);
                        next = 0;
                    }
                    let take = left.min(n - next).min(4096);
                    let t0 = Instant::now();
                    for k in &fresh[next..next + take] {
                        black_box(grow.set(black_box(k), Value::string(&v32)));
                    }
                    total += t0.elapsed();
                    next += take;
                    left -= take;
                }
                total
            })
        });

        // DEL of an existing key (Db::delete: the live-key check and removal).
        // Deleted keys are put back, untimed, after each chunk.
        g.bench_function(BenchmarkId::new("del", size), |b| {
            let mut i = 0usize;
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let take = left.min(n - i).min(1024);
                    let chunk = &order[i..i + take];
                    let t0 = Instant::now();
                    for &j in chunk {
                        black_box(db.delete(black_box(&present[j as usize]), NOW));
                    }
                    total += t0.elapsed();
                    for &j in chunk {
                        db.set(&present[j as usize], value(j as usize));
                    }
                    i = if i + take == n { 0 } else { i + take };
                    left -= take;
                }
                total
            })
        });
        assert_eq!(db.len(), n);
    }
    g.finish();
}

/// Keys per pipelined batch.
const BATCH: usize = 16;
/// Batches staged (and timed) together: 64 x 16 keys of 16 bytes = 16 KiB.
const STAGED: usize = 64;

/// One GET-style lookup: the entry, then the last byte of the value.
#[inline]
fn get_value(db: &mut Db, k: &[u8]) -> u64 {
    match db.get(k, NOW) {
        Some(e) => e.value.as_str().map_or(0, |s| s[s.len() - 1] as u64),
        None => 0,
    }
}

fn bench_batches(c: &mut Criterion) {
    let mut g = c.benchmark_group("keyspace_batch16");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(BATCH as u64));
    // What the prefetch stages add before any memory access: the key's hash
    // slot (CRC16) and table hash, for 16 keys.
    {
        let db = Db::new(1);
        let batch = keys("key:", BATCH);
        g.bench_function(BenchmarkId::new("hint", "16B"), |b| {
            b.iter(|| {
                for k in &batch {
                    black_box(db.hint(black_box(k)));
                }
            })
        });
    }
    for n in [100_000usize, 1_000_000] {
        let size = if n >= 1_000_000 { "1M" } else { "100k" };
        let present = keys("key:", n);
        let order = shuffled(n, 0x51_7cc1 ^ n as u64);
        let mut db = filled(&present);
        let mut staged = vec![[0u8; KEY_LEN]; BATCH * STAGED];
        let mut at = 0usize;
        // Copies the next STAGED batches of keys (in shuffled order) to `staged`.
        let mut stage = |staged: &mut [[u8; KEY_LEN]]| {
            for s in staged.iter_mut() {
                s.copy_from_slice(&present[order[at] as usize]);
                at = if at + 1 == n { 0 } else { at + 1 };
            }
        };
        // The same lookups after the batch's prefetch stages: none, stages 1
        // and 2 (table chunk, then node), or also stage 3 (the value).
        for (name, stages) in [("get_plain", 0), ("get_prefetch2", 2), ("get_prefetch3", 3)] {
            g.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters as usize;
                    let mut sum = 0u64;
                    let mut hints = Vec::with_capacity(BATCH);
                    while left > 0 {
                        let take = left.min(STAGED);
                        stage(&mut staged);
                        let t0 = Instant::now();
                        for batch in staged.chunks_exact(BATCH).take(take) {
                            if stages > 0 {
                                hints.clear();
                                for k in batch {
                                    let h = db.hint(black_box(k));
                                    db.prefetch(h);
                                    hints.push(h);
                                }
                                for &h in &hints {
                                    db.prefetch_node(h);
                                }
                                if stages > 2 {
                                    for (k, &h) in batch.iter().zip(&hints) {
                                        db.prefetch_value(k, h);
                                    }
                                }
                            }
                            for k in batch {
                                sum += get_value(&mut db, black_box(k));
                            }
                        }
                        total += t0.elapsed();
                        left -= take;
                    }
                    black_box(sum);
                    total
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_keyspace, bench_batches);
criterion_main!(benches);
