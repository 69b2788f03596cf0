//! Deletions the keyspace makes on its own: keys removed because their TTL
//! passed (lazily or by the active cycle) or to stay under `maxmemory`.
//!
//! The storage layer knows nothing of the shard's journal above it; while a
//! journal listens on this thread ([`enable`]), each such deletion is left
//! here, and the shard takes them ([`take`]) before it records anything
//! else, so they reach the journal in the order they happened.

use std::cell::{Cell, RefCell};

/// Why the keyspace deleted a key by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Its TTL passed.
    Expired,
    /// Memory was over `maxmemory`.
    Evicted,
}

/// A key deleted by the keyspace: database index, key, cause.
pub type Deletion = (usize, Vec<u8>, Cause);

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static PENDING: RefCell<Vec<Deletion>> = const { RefCell::new(Vec::new()) };
}

/// Starts (or stops) keeping this thread's deletions.
pub fn enable(on: bool) {
    ON.with(|c| c.set(on));
}

/// True when deletions are kept on this thread.
#[inline]
pub fn active() -> bool {
    ON.with(|c| c.get())
}

/// Notes a deletion (when kept).
#[inline]
pub fn deleted(db: usize, key: &[u8], cause: Cause) {
    if active() {
        PENDING.with(|p| p.borrow_mut().push((db, key.to_vec(), cause)));
    }
}

/// Moves the deletions noted so far into `into`, oldest first.
pub fn take(into: &mut Vec<Deletion>) {
    if active() {
        PENDING.with(|p| into.append(&mut p.borrow_mut()));
    }
}
