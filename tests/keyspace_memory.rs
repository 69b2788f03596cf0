//! Memory per key of one shard's `Db`, counted by the server's own allocator
//! wrapper (what INFO `used_memory` reports): 16-byte keys with 32-byte string
//! values, at 100k and 1M keys, the data set `perf/compare.sh` loads.
//!
//! `cargo test --release --test keyspace_memory -- --nocapture` prints the figures.

use coreshard::metrics::{CountingAlloc, used_memory};
use coreshard::storage::{Db, Value};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Resident set size of this process in bytes (Linux), 0 if unknown.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| {
            v.trim()
                .trim_end_matches(" kB")
                .trim()
                .parse::<usize>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes per key of a database holding `n` keys named like `perf/compare.sh`'s
/// (`key:` and 12 zero-padded digits), the empty database's own arrays
/// included: counted by the allocator, and the growth of the resident set.
fn bytes_per_key(n: usize, nshards: usize) -> (f64, f64) {
    let before = used_memory();
    let rss_before = rss();
    let mut db = Db::new(nshards);
    let mut stored = 0;
    for i in 0..n * nshards {
        let k = format!("key:{i:012}");
        if coreshard::shard::slot::key_owner(k.as_bytes(), nshards) != 0 {
            continue;
        }
        db.set(k.as_bytes(), Value::string(&[b'v'; 32]));
        stored += 1;
        if stored == n {
            break;
        }
    }
    let after = used_memory();
    let rss_after = rss();
    assert_eq!(db.len(), n);
    let per_key = (after - before) as f64 / n as f64;
    let rss_per_key = rss_after.saturating_sub(rss_before) as f64 / n as f64;
    drop(db);
    // Hand the freed pages back, so the next measurement's resident set
    // starts from a trimmed heap.
    // SAFETY: malloc_trim only releases free memory of the C allocator.
    unsafe { libc::malloc_trim(0) };
    (per_key, rss_per_key)
}

#[test]
fn memory_per_key() {
    // Keys alone: node (40-byte header + 16-byte key) and the value's 32 bytes.
    const PAYLOAD: f64 = 56.0 + 32.0;
    let sizes: &[usize] = if cfg!(debug_assertions) {
        &[100_000]
    } else {
        &[100_000, 1_000_000]
    };
    for &n in sizes {
        for nshards in [1, 2] {
            let (b, rss) = bytes_per_key(n, nshards);
            println!(
                "{n} keys, shard 0 of {nshards}: {b:.1} B/key (table and directory {:.1} B/key), \
                 resident set growth {rss:.1} B/key",
                b - PAYLOAD
            );
            // The tables and directory stay under 18 bytes per key at these sizes.
            assert!(b - PAYLOAD < 18.0, "{n} keys: {b:.1} B/key");
        }
    }
}
