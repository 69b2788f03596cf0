//! Freeing big values off the core that dropped them.
//!
//! ```text
//!  core: UNLINK / DEL (lazyfree-lazy-user-del) / eviction (lazyfree-lazy-eviction)
//!        / expiry (lazyfree-lazy-expire) / a replaced value (lazyfree-lazy-server-del)
//!    value with more than 64 elements ──channel──► lazyfree thread: drop it
//!    smaller values are dropped at once (sending costs more than freeing)
//! ```
//!
//! A core thread-per-core design cannot afford to spend milliseconds
//! dropping a set of millions of members inside a command; the one freeing
//! thread of the process does it instead. Memory accounting stays exact per
//! engine: what the freeing thread releases is moved from its allocation
//! counter to the counter of the core that sent the value, so `used_memory`
//! falls where the value was held. INFO reports `lazyfree_pending_objects`
//! and `lazyfreed_objects`.

use super::value::Value;
use crate::metrics;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

/// Values with more elements than this are freed by the lazyfree thread,
/// as Redis's `LAZYFREE_THRESHOLD`.
pub const LAZYFREE_THRESHOLD: usize = 64;

static PENDING: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

struct Job {
    /// What to drop: a value, or a database's emptied tables.
    item: Box<dyn Send>,
    /// How many objects it counts for in `lazyfreed_objects` (keys, for a
    /// database).
    objects: u64,
    /// Allocation-counter slot of the thread that held it.
    slot: usize,
}

fn sender() -> Option<Sender<Job>> {
    static TX: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    thread_local! {
        static LOCAL: std::cell::RefCell<Option<Sender<Job>>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(tx) = LOCAL.with(|l| l.borrow().clone()) {
        return Some(tx);
    }
    let shared = TX.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                metrics::register_thread(metrics::claim_slot());
                while let Ok(job) = rx.recv() {
                    let before = metrics::thread_allocated();
                    drop(job.item);
                    let freed = before - metrics::thread_allocated();
                    metrics::move_count(metrics::thread_slot(), job.slot, freed);
                    PENDING.fetch_sub(1, Ordering::Relaxed);
                    FREED.fetch_add(job.objects, Ordering::Relaxed);
                }
            });
        spawned.ok().map(|_| Mutex::new(tx))
    });
    let tx = shared.as_ref()?.lock().ok()?.clone();
    LOCAL.with(|l| *l.borrow_mut() = Some(tx.clone()));
    Some(tx)
}

/// Drops `value`: on the lazyfree thread when it is big, here otherwise.
/// Returns true when it was handed over.
pub fn free(value: Value) -> bool {
    if value.free_effort() <= LAZYFREE_THRESHOLD {
        drop(value);
        return false;
    }
    hand_over(Box::new(value), 1)
}

/// Drops `item` (a database's emptied tables: FLUSHDB / FLUSHALL ASYNC) on
/// the lazyfree thread; it counts for `objects` freed objects.
pub fn free_later(item: Box<dyn Send>, objects: u64) -> bool {
    hand_over(item, objects)
}

fn hand_over(item: Box<dyn Send>, objects: u64) -> bool {
    let Some(tx) = sender() else {
        drop(item);
        return false;
    };
    PENDING.fetch_add(1, Ordering::Relaxed);
    let job = Job {
        item,
        objects,
        slot: metrics::thread_slot(),
    };
    match tx.send(job) {
        Ok(()) => true,
        Err(e) => {
            PENDING.fetch_sub(1, Ordering::Relaxed);
            drop(e.0.item);
            false
        }
    }
}

/// Values handed over and not yet freed (INFO `lazyfree_pending_objects`).
pub fn pending() -> usize {
    PENDING.load(Ordering::Relaxed)
}

/// Values the lazyfree thread has freed (INFO `lazyfreed_objects`).
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// Starts `lazyfreed_objects` again from zero (CONFIG RESETSTAT).
pub fn reset_stats() {
    FREED.store(0, Ordering::Relaxed);
}

/// Which deletions go through [`free`], from the `lazyfree-lazy-*` directives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lazy {
    /// `lazyfree-lazy-eviction`
    pub eviction: bool,
    /// `lazyfree-lazy-expire`
    pub expire: bool,
    /// `lazyfree-lazy-user-del`: DEL behaves as UNLINK.
    pub user_del: bool,
    /// `lazyfree-lazy-server-del`: a value a command replaces (SET over an
    /// existing key, the destination of RENAME, COPY REPLACE, a STORE) is
    /// freed as UNLINK frees it.
    pub server_del: bool,
}

thread_local! {
    static LAZY: Cell<Lazy> = const {
        Cell::new(Lazy {
            eviction: false,
            expire: false,
            user_del: false,
            server_del: false,
        })
    };
}

/// Makes `l` this thread's lazyfree settings (the configuration calls it).
pub fn publish(l: Lazy) {
    LAZY.with(|c| c.set(l));
}

/// This thread's lazyfree settings.
pub fn lazy() -> Lazy {
    LAZY.with(|c| c.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_dropped_here_big_ones_there() {
        assert!(!free(Value::string(b"x")));
        let mut set = crate::storage::set::Set::new();
        for i in 0..1000 {
            set.add(format!("m{i}").as_bytes(), 512);
        }
        let before = freed();
        assert!(free(Value::Set(Box::new(set))));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while freed() == before {
            assert!(std::time::Instant::now() < deadline, "not freed");
            std::thread::yield_now();
        }
    }
}
