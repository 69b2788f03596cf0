//! `maxmemory` at the door: before a command that may grow the dataset
//! (DENYOOM) runs, memory over the limit is freed by eviction, or the command
//! is refused with Redis's OOM error.
//!
//! ```text
//!  DENYOOM command ─► engine used_memory ≤ maxmemory? ─ yes ─► run it
//!                         │ no
//!                         ▼
//!      evict on this core's shard (bounded by maxmemory-eviction-tenacity)
//!          freed enough, or ran out of time with progress ─► run it
//!          nothing left to evict here ─► ask the other shards in turn
//!          nothing evictable anywhere ─► -OOM command not allowed ...
//! ```
//!
//! The limit is one figure for the whole engine (the sum of every core's
//! allocation counter), not a share per shard: a shard holding more than its
//! share because keys are skewed is not starved, and a client on any core
//! frees memory by evicting on its own core first, which needs no hop.
//! Memory is measured on the evicting thread as the drop of its own
//! allocation counter, as Redis measures `mem_freed`.

use crate::metrics;
use crate::shard::Core;
use crate::storage::evict::{Policy, Settings};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Redis's reply to a DENYOOM command over the limit.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Bytes over the limit now (0 when under it or unlimited).
pub fn over_limit(core: &Core, s: &Settings) -> u64 {
    if s.maxmemory == 0 {
        return 0;
    }
    (core.engine.used_memory() as u64).saturating_sub(s.maxmemory)
}

/// What [`evict_here`] did: bytes freed, out of candidates, bytes held by
/// the evictions' followers.
pub type Evicted = (u64, bool, u64);

/// Evicts keys of this core's shard until `want` bytes are freed, the time
/// budget runs out, or nothing may be evicted. Returns the bytes freed,
/// whether the shard ran out of candidates, and the bytes the evictions'
/// followers hold meanwhile.
///
/// The followers (see [`crate::storage::evict::followers`]) are the
/// evicted keys' tracking invalidations, which stay in the shard's outbox,
/// their keyspace events and their deletions kept for the journal:
/// [`make_room`] sends the first two once it is done, as Redis signals
/// them outside its measurement (bytes queued for clients would otherwise
/// count as memory the eviction must free, and evict more).
pub fn evict_here(core: &Core, want: u64, s: &Settings) -> Evicted {
    crate::storage::tracking::set_writer(0);
    if s.policy == Policy::NoEviction {
        return (0, true, 0);
    }
    let start = metrics::thread_allocated();
    let t0 = Instant::now();
    let limit = s.time_limit_us();
    let lazy = crate::storage::lazyfree::lazy().eviction;
    // Bytes of values handed to the lazyfree thread, counted as freed now
    // (their estimate) so this loop does not evict more while they wait.
    let mut handed = 0u64;
    // Bytes the evictions leave to their followers, not freed by them.
    let left_start = crate::storage::evict::followers();
    let left = || (crate::storage::evict::followers() - left_start).max(0) as u64;
    let freed_now = |handed: u64| {
        (start - metrics::thread_allocated() + left() as isize).max(0) as u64 + handed
    };
    let mut evicted = 0u64;
    loop {
        let freed = freed_now(handed);
        if freed >= want {
            return (freed, false, left());
        }
        let victim = core.shard.borrow_mut().evict_one(s);
        let Some(entry) = victim else {
            return (freed, true, left());
        };
        if lazy {
            let estimate = entry.value.heap_size() as u64;
            if crate::storage::lazyfree::free(entry.value) {
                handed += estimate;
            }
        } else {
            drop(entry);
        }
        evicted += 1;
        // Like Redis, the clock is read every 16 keys.
        if evicted.is_multiple_of(16) && limit.is_some_and(|l| t0.elapsed().as_micros() as u64 >= l)
        {
            return (freed_now(handed), false, left());
        }
    }
}

/// Bytes a shard is asked to free at least: a stream of writes over the
/// limit then costs one hop per this many bytes rather than one per key, and
/// every shard, local or remote, frees the same amount per pick, so the
/// picks alone (proportional to the shards' keys) decide the shares.
const EVICT_BATCH: u64 = 8 * 1024;

/// Which shard evicts next: a shard is picked with a probability
/// proportional to the keys it holds (as each core last published them), so
/// over many evictions every shard loses keys at the rate its share of the
/// data calls for, whichever core the writing clients are on. (Each core's
/// allocation counter would weigh bytes instead, but memory allocated on one
/// core and freed on another, as hop messages are, moves between counters.)
fn pick_shard(core: &Core, exclude: &[usize]) -> Option<usize> {
    let own = core.shard.borrow().total_keys();
    let weights: Vec<u64> = (0..core.ncores)
        .map(|t| {
            if exclude.contains(&t) {
                0
            } else if t == core.id {
                own as u64
            } else {
                core.engine
                    .shard_keys
                    .get(t)
                    .map_or(0, |c| c.0.load(Ordering::Relaxed) as u64)
            }
        })
        .collect();
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return (0..core.ncores).find(|t| !exclude.contains(t));
    }
    let mut r = core.shard.borrow_mut().rng.next_u64() % total;
    for (t, w) in weights.iter().enumerate() {
        if r < *w {
            return Some(t);
        }
        r -= w;
    }
    None
}

/// Nothing is left to evict: if values handed to the lazyfree thread are
/// still being freed, waits for them a little (as Redis's eviction waits for
/// its lazyfree jobs, here without blocking the core), then says whether
/// memory is under the limit.
async fn wait_for_lazyfree(core: &Rc<Core>, s: &Settings) -> bool {
    let deadline = Instant::now() + std::time::Duration::from_millis(100);
    while crate::storage::lazyfree::pending() > 0 && Instant::now() < deadline {
        if over_limit(core, s) == 0 {
            return true;
        }
        crate::runtime::sleep(std::time::Duration::from_millis(1)).await;
    }
    over_limit(core, s) == 0
}

/// Frees memory over `maxmemory` before a command; false when nothing could
/// be evicted anywhere and memory is still over the limit (a DENYOOM command
/// is then refused).
pub async fn make_room(core: &Rc<Core>) -> bool {
    let mut used = Vec::new();
    let ok = evict_until_under(core, &mut used).await;
    // The evictions' keyspace notifications, published by each shard.
    if crate::storage::notify::on(crate::storage::notify::EVICTED) {
        for &t in &used {
            core.run_on(t, super::pubsub::flush_notifications).await;
        }
    }
    // The evicted keys' tracking invalidations, now that memory is measured:
    // written to their clients' sockets before the command that made room
    // answers, as Redis writes them before it reads the next command. That
    // command's memory check then finds them sent, not on their way between
    // cores (counted as memory to free, which would evict more).
    if core.engine.tracking_clients.load(Ordering::Relaxed) > 0 {
        for t in used {
            super::tracking::flush_sent(core, t).await;
        }
    }
    ok
}

/// [`make_room`]'s loop; `used` gets the shards asked to evict.
async fn evict_until_under(core: &Rc<Core>, used: &mut Vec<usize>) -> bool {
    let s = crate::storage::evict::settings();
    let mut want = over_limit(core, &s);
    let mut pending = 0u64;
    let mut exhausted: Vec<usize> = Vec::new();
    while want > 0 {
        let Some(t) = pick_shard(core, &exhausted) else {
            return wait_for_lazyfree(core, &s).await;
        };
        let ask = want.max(EVICT_BATCH);
        if !used.contains(&t) {
            used.push(t);
        }
        let (freed, empty, notes) = if t == core.id {
            evict_here(core, ask, &s)
        } else {
            core.run_on(t, move |c| evict_here(c, ask, &s)).await
        };
        if empty {
            exhausted.push(t);
        } else if freed < want {
            // Out of time with progress: the command goes ahead, as Redis's
            // EVICT_RUNNING; the next one continues.
            return true;
        }
        // Invalidations waiting to be sent are not memory to free.
        pending += notes;
        want = over_limit(core, &s).saturating_sub(pending);
    }
    true
}
