//! The transaction layer: intent locks that make multi-shard commands and
//! transactions atomic.
//!
//! ```text
//!  coordinator (client's core)          shard 0            shard 1            shard 2
//!  keys → groups by shard, sorted
//!  lock(shard 0 keys) ───────────────► grant (or queue)
//!  lock(shard 2 keys) ─────────────────────────────────────────────────────► grant (or queue)
//!    ── every lock held: the lock point ──
//!  run the command's hops ───────────► work            ·                  ► work
//!  release ──────────────────────────► release, grant waiters           ► release, ...
//!
//!  a single-shard command or hopped batch on shard s:
//!    no lock held on s (one length test) → runs as always
//!    its keys held by another transaction → waits in s's queue, runs on release
//! ```
//!
//! A transaction names its keys before it runs (from the command table's key
//! specs), each in shared mode (read) or exclusive mode (write), and takes
//! them shard by shard in ascending shard order, every shard's keys at once.
//! It is strict two-phase locking: nothing is released before every lock is
//! held, so what the transaction reads and writes between its lock point and
//! its release is seen by nobody else half done.
//!
//! **No deadlock.** A transaction waits at one shard at a time and holds
//! locks only on lower shards; each shard grants its queue in arrival order
//! (a request waits behind an earlier waiting one it conflicts with). A
//! waits-for edge therefore either goes to a holder, which waits (if at
//! all) at a strictly higher shard, or to an earlier waiter at the same
//! shard: no cycle can form. There is no global lock: shards lock keys, and
//! transactions on different keys run side by side.
//!
//! **Single-shard commands pay nothing** while no transaction holds a key on
//! their shard: the check is `Locks::is_idle`. Otherwise a command whose key
//! another transaction holds waits behind it in the shard's queue (a hopped
//! batch stops at that command and resumes when the key is free).
//!
//! Locks name keys by their 64-bit table hash, without their database: a
//! transaction that reaches into another database (COPY ... DB, MOVE) is
//! covered, and the table costs no key copies. Equal names in different
//! databases, or two names with one hash, conflict falsely: a wait, never a
//! wrong answer (the argument above holds for any symmetric conflict).

use super::{Core, Responder};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

/// Identifies one transaction (0: none). Unique per engine: the issuing
/// core's index is in the low bits.
pub type TxId = u64;

/// How a transaction holds a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Read: shared with other readers.
    Shared,
    /// Write: nobody else reads or writes it.
    Exclusive,
}

/// A key (its hash, [`lock_key`]) and the mode a transaction needs it in.
pub type LockKey = (u64, Mode);

/// What the lock table knows of a key.
#[inline]
pub fn lock_key(key: &[u8]) -> u64 {
    crate::storage::db::key_hash(key)
}

/// Keys of the table are hashes already.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashMapU64<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

/// The transactions holding one key: nearly always one.
enum Holders {
    One(TxId, Mode),
    Many(Vec<(TxId, Mode)>),
}

impl Holders {
    fn any(&self, mut f: impl FnMut(TxId, Mode) -> bool) -> bool {
        match self {
            Holders::One(t, m) => f(*t, *m),
            Holders::Many(v) => v.iter().any(|&(t, m)| f(t, m)),
        }
    }
    fn push(&mut self, tx: TxId, mode: Mode) {
        match self {
            Holders::One(t, m) => *self = Holders::Many(vec![(*t, *m), (tx, mode)]),
            Holders::Many(v) => v.push((tx, mode)),
        }
    }
    /// Drops `tx`; true when nobody holds the key any more.
    fn remove(&mut self, tx: TxId) -> bool {
        match self {
            Holders::One(t, _) => *t == tx,
            Holders::Many(v) => {
                v.retain(|&(t, _)| t != tx);
                v.is_empty()
            }
        }
    }
}

/// What runs on the shard's core once a waiter's keys are free.
pub type Then = Box<dyn FnOnce(&Rc<Core>)>;

/// What a transaction locks on one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// These keys.
    Keys(Vec<LockKey>),
    /// Every key of the shard, present or future (FLUSHALL, SWAPDB, KEYS):
    /// it waits for every transaction holding a key there, and every
    /// command on the shard waits for it.
    Whole(Mode),
}

impl Want {
    /// True when `self` and `other` cannot be held at once.
    fn clashes(&self, other: &Want) -> bool {
        match (self, other) {
            (Want::Whole(a), Want::Whole(b)) => clash(*a, *b),
            (Want::Whole(a), Want::Keys(ks)) | (Want::Keys(ks), Want::Whole(a)) => {
                ks.iter().any(|&(_, m)| clash(*a, m))
            }
            (Want::Keys(a), Want::Keys(b)) => a
                .iter()
                .any(|(k, m)| b.iter().any(|(k2, m2)| k == k2 && clash(*m, *m2))),
        }
    }
}

/// Work queued on a shard until its keys are free.
struct Waiter {
    tx: TxId,
    keys: Want,
    /// Take the keys when granted (a transaction); otherwise only run once
    /// no other transaction holds them (a single-shard command).
    take: bool,
    then: Then,
}

/// One shard's intent locks and the work waiting for them.
#[derive(Default)]
pub struct Locks {
    /// Holders of each locked key.
    held: HashMapU64<Holders>,
    /// Keys each transaction holds here. Transaction ids differ only in
    /// their high bits (the low ones name the issuing core), so they are
    /// hashed, not passed through.
    /// The first set of keys a transaction takes here is kept as asked
    /// for (no copy); later ones are appended to it.
    by_tx: HashMap<TxId, Vec<LockKey>, foldhash::fast::FixedState>,
    /// Transactions holding the whole shard.
    whole: Vec<(TxId, Mode)>,
    waiting: VecDeque<Waiter>,
    /// A grant stopped at work that takes no lock: the queue is to be
    /// looked at again once that work has run.
    regrant: bool,
}

fn clash(a: Mode, b: Mode) -> bool {
    a == Mode::Exclusive || b == Mode::Exclusive
}

impl Locks {
    /// True when no transaction holds or waits for a key here: every
    /// command runs without looking further.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.waiting.is_empty() && self.whole.is_empty()
    }

    /// True when a transaction other than `tx` holds `key` in a mode that
    /// excludes `mode`.
    pub fn conflicts(&self, key: u64, mode: Mode, tx: TxId) -> bool {
        self.whole.iter().any(|&(t, m)| t != tx && clash(m, mode))
            || self
                .held
                .get(&key)
                .is_some_and(|hs| hs.any(|t, m| t != tx && clash(m, mode)))
    }

    fn held_conflict(&self, want: &Want, tx: TxId) -> bool {
        match want {
            Want::Keys(keys) => keys.iter().any(|&(k, m)| self.conflicts(k, m, tx)),
            Want::Whole(mode) => {
                self.whole.iter().any(|&(t, m)| t != tx && clash(m, *mode))
                    || self
                        .held
                        .values()
                        .any(|hs| hs.any(|t, m| t != tx && clash(m, *mode)))
            }
        }
    }

    /// True when work of `tx` on `keys` must wait: another transaction
    /// holds one of them in a clashing mode, or `tx` has not yet been
    /// granted what it asked for here (see [`when_free`]).
    fn must_wait(&self, keys: &Want, tx: TxId) -> bool {
        self.held_conflict(keys, tx) || self.asked_not_granted(tx)
    }

    /// True when transaction `tx` waits here for locks it asked for: its
    /// commands sent behind that request must wait for it too.
    #[inline]
    pub fn asked_not_granted(&self, tx: TxId) -> bool {
        tx != 0 && self.waiting.iter().any(|w| w.take && w.tx == tx)
    }

    /// True when work already waiting here (of a transaction other than
    /// `tx`, or a single command) wants what `want` names in a clashing
    /// mode: a new transaction queues behind it. Commands waiting only for
    /// keys to be free count too, or a stream of transactions on a hot key
    /// could keep them waiting for ever.
    fn queued_conflict(&self, want: &Want, tx: TxId) -> bool {
        self.waiting
            .iter()
            .any(|w| w.tx != tx && w.keys.clashes(want))
    }

    fn take(&mut self, tx: TxId, want: Want) {
        let keys = match want {
            Want::Keys(keys) => keys,
            Want::Whole(mode) => {
                self.whole.push((tx, mode));
                return;
            }
        };
        for &(k, m) in &keys {
            match self.held.entry(k) {
                std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().push(tx, m),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(Holders::One(tx, m));
                }
            }
        }
        match self.by_tx.entry(tx) {
            std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().extend(keys),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(keys);
            }
        }
    }

    /// Drops every lock `tx` holds here and its waiting requests; returns
    /// the continuations that may run now, in queue order, having granted
    /// their keys to the transactions among them.
    fn release(&mut self, tx: TxId) -> Vec<Then> {
        if let Some(keys) = self.by_tx.remove(&tx) {
            for (k, _) in keys {
                if let Some(hs) = self.held.get_mut(&k)
                    && hs.remove(tx)
                {
                    self.held.remove(&k);
                }
            }
        }
        self.whole.retain(|&(t, _)| t != tx);
        self.waiting.retain(|w| w.tx != tx || !w.take);
        self.grant_waiters()
    }

    fn grant_waiters(&mut self) -> Vec<Then> {
        let mut run = Vec::new();
        let mut still: VecDeque<Waiter> = VecDeque::with_capacity(self.waiting.len());
        while let Some(w) = self.waiting.pop_front() {
            // A transaction's work that runs once keys are free waits
            // behind that transaction's own request for locks, if any.
            let blocked = self.held_conflict(&w.keys, w.tx)
                || (w.take
                    && still
                        .iter()
                        .any(|e| e.tx != w.tx && e.keys.clashes(&w.keys)))
                || (!w.take && still.iter().any(|e| e.take && e.tx == w.tx));
            if blocked {
                still.push_back(w);
            } else if w.take {
                self.take(w.tx, w.keys);
                run.push(w.then);
            } else {
                // Work that only needed its keys free takes nothing: it
                // must run before anything later in the queue takes them,
                // or it would find them held again and go to the back
                // (for ever, on a hot key). The rest is looked at again
                // once it has run (see `release`).
                run.push(w.then);
                if !self.waiting.is_empty() {
                    still.append(&mut self.waiting);
                    self.regrant = true;
                }
            }
        }
        self.waiting = still;
        run
    }
}

/// On the shard's core: takes `keys` for `tx` as soon as no other
/// transaction holds them (and no earlier waiting one wants them), then
/// runs `then`.
pub fn acquire(core: &Rc<Core>, tx: TxId, keys: Want, then: Then) {
    {
        let mut shard = core.shard.borrow_mut();
        let l = &mut shard.locks;
        if l.held_conflict(&keys, tx) || l.queued_conflict(&keys, tx) {
            l.waiting.push_back(Waiter {
                tx,
                keys,
                take: true,
                then,
            });
            return;
        }
        l.take(tx, keys);
    }
    then(core);
}

/// On the shard's core: takes `keys` for `tx` if no other transaction
/// holds them or waits for them; false (nothing taken) otherwise. Never
/// waits, so a transaction that already holds locks out of the shard
/// order may use it without risking a deadlock.
pub fn try_acquire(core: &Rc<Core>, tx: TxId, keys: Want) -> bool {
    let mut shard = core.shard.borrow_mut();
    let l = &mut shard.locks;
    if l.held_conflict(&keys, tx) || l.queued_conflict(&keys, tx) {
        return false;
    }
    l.take(tx, keys);
    true
}

/// On the shard's core: true when work of `tx` on `keys` may run now
/// (what [`when_free`] waits for).
pub fn is_free(core: &Rc<Core>, tx: TxId, keys: &Want) -> bool {
    let shard = core.shard.borrow();
    shard.locks.is_idle() || !shard.locks.must_wait(keys, tx)
}

/// On the shard's core: runs `then` once no transaction other than `tx`
/// holds one of `keys` in a clashing mode and `tx` holds what it asked for
/// here (at once if so already).
pub fn when_free(core: &Rc<Core>, tx: TxId, keys: Want, then: Then) {
    {
        let mut shard = core.shard.borrow_mut();
        let l = &mut shard.locks;
        if l.must_wait(&keys, tx) {
            l.waiting.push_back(Waiter {
                tx,
                keys,
                take: false,
                then,
            });
            return;
        }
    }
    then(core);
}

/// On the shard's core: releases everything `tx` holds or waits for here
/// and runs what that unblocks.
pub fn release(core: &Rc<Core>, tx: TxId) {
    let mut run = core.shard.borrow_mut().locks.release(tx);
    loop {
        for f in run.drain(..) {
            f(core);
        }
        let mut shard = core.shard.borrow_mut();
        if !std::mem::take(&mut shard.locks.regrant) {
            break;
        }
        run = shard.locks.grant_waiters();
    }
}

/// Locks of one transaction on the shards it named; released on drop (also
/// when the coordinator is dropped while it waits for one).
pub struct Held {
    core: Rc<Core>,
    tx: TxId,
    /// Whether it holds (or asked for) locks on its own core: the common
    /// case of a lock taken here needs no list.
    here: bool,
    /// The other shards it holds (or asked for) locks on.
    others: Vec<usize>,
}

impl Held {
    /// Locks of transaction `tx`, none taken yet: shards are added with
    /// [`Held::add_shard`] before their locks are asked for.
    pub fn new(core: &Rc<Core>, tx: TxId) -> Held {
        Held {
            core: core.clone(),
            tx,
            here: false,
            others: Vec::new(),
        }
    }

    /// Notes that the transaction asks for (or holds) locks on `shard`:
    /// they are released with the others.
    pub fn add_shard(&mut self, shard: usize) {
        if shard == self.core.id {
            self.here = true;
        } else {
            self.others.push(shard);
        }
    }

    /// Takes `keys` on this core for a new transaction `tx` if nobody holds
    /// or waits for them ([`try_acquire`]); its locks, or None.
    pub fn try_here(core: &Rc<Core>, tx: TxId, keys: Vec<LockKey>) -> Option<Held> {
        if !try_acquire(core, tx, Want::Keys(keys)) {
            return None;
        }
        let mut h = Held::new(core, tx);
        h.add_shard(core.id);
        Some(h)
    }

    /// The transaction holding the locks.
    pub fn tx(&self) -> TxId {
        self.tx
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let tx = self.tx;
        for &s in &self.others {
            self.core.post(s, move |c| release(c, tx));
        }
        if self.here {
            release(&self.core, tx);
        }
    }
}

/// Takes `groups` (what to lock, by shard) for a new transaction, shard by
/// shard in ascending order; resolves once every lock is held.
pub async fn lock(core: &Rc<Core>, mut groups: Vec<(usize, Want)>) -> Held {
    groups.sort_unstable_by_key(|g| g.0);
    let mut held = Held::new(core, core.next_txid());
    held.others.reserve(groups.len());
    let tx = held.tx;
    for (shard, keys) in groups {
        held.add_shard(shard);
        core.run_deferred(shard, move |c, resp: Responder<()>| {
            acquire(c, tx, keys, Box::new(move |c: &Rc<Core>| resp.send(c, ())))
        })
        .await;
    }
    held
}

/// Merges a key list into `(key, strongest mode)` pairs, each key once.
pub fn dedup(mut keys: Vec<LockKey>) -> Vec<LockKey> {
    keys.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    keys.dedup_by(|a, b| a.0 == b.0);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str, m: Mode) -> LockKey {
        (lock_key(s.as_bytes()), m)
    }

    fn c(l: &Locks, s: &str, m: Mode, tx: TxId) -> bool {
        l.conflicts(lock_key(s.as_bytes()), m, tx)
    }

    #[test]
    fn shared_locks_share_and_exclusive_ones_exclude() {
        let mut l = Locks::default();
        assert!(l.is_idle());
        l.take(1, Want::Keys(vec![k("a", Mode::Shared)]));
        assert!(!l.is_idle());
        assert!(!c(&l, "a", Mode::Shared, 2));
        assert!(c(&l, "a", Mode::Exclusive, 2));
        // A transaction never conflicts with itself.
        assert!(!c(&l, "a", Mode::Exclusive, 1));
        assert!(!c(&l, "b", Mode::Exclusive, 2));
        assert!(l.release(1).is_empty());
        assert!(l.is_idle());
    }

    #[test]
    fn waiters_are_granted_in_order_on_release() {
        let mut l = Locks::default();
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        l.take(1, Want::Keys(vec![k("a", Mode::Exclusive)]));
        // 2 waits for a; 3 wants a and b: behind 2 for a; 4 wants only b
        // and gets it at once (nothing earlier wants b).
        for (tx, keys) in [
            (2, Want::Keys(vec![k("a", Mode::Exclusive)])),
            (
                3,
                Want::Keys(vec![k("a", Mode::Shared), k("b", Mode::Exclusive)]),
            ),
        ] {
            assert!(l.held_conflict(&keys, tx) || l.queued_conflict(&keys, tx));
            let o = order.clone();
            l.waiting.push_back(Waiter {
                tx,
                keys,
                take: true,
                then: Box::new(move |_| o.borrow_mut().push(tx)),
            });
        }
        // 4 wants b, which 3 (waiting) wants exclusively: 4 queues behind 3.
        let b = Want::Keys(vec![k("b", Mode::Shared)]);
        assert!(!l.held_conflict(&b, 4));
        assert!(l.queued_conflict(&b, 4));
        // A single command on b only waits for holders: it may run now.
        assert!(!c(&l, "b", Mode::Exclusive, 0));
        let run = l.release(1);
        assert_eq!(run.len(), 1, "only 2 runs: 3 conflicts with 2 on a");
        assert!(c(&l, "a", Mode::Shared, 9));
        let run2 = l.release(2);
        assert_eq!(run2.len(), 1);
        assert!(c(&l, "b", Mode::Shared, 9));
        assert!(!c(&l, "a", Mode::Shared, 9));
        l.release(3);
        assert!(l.is_idle());
    }

    #[test]
    fn work_of_a_transaction_waits_for_its_own_queued_request() {
        // 1 holds b; 2 waits for a and b (queued); 3 asks for a and b
        // after it (queued), then sends a command on a alone, which nobody
        // holds: it must not run before 3 has its locks, or 2 could change
        // a and b between 3's reads.
        let mut l = Locks::default();
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        l.take(1, Want::Keys(vec![k("b", Mode::Exclusive)]));
        let ab = || Want::Keys(vec![k("a", Mode::Exclusive), k("b", Mode::Exclusive)]);
        for (tx, keys, take) in [
            (2, ab(), true),
            (3, ab(), true),
            (3, Want::Keys(vec![k("a", Mode::Shared)]), false),
        ] {
            let o = order.clone();
            l.waiting.push_back(Waiter {
                tx,
                keys,
                take,
                then: Box::new(move |_| o.borrow_mut().push((tx, take))),
            });
        }
        assert!(l.asked_not_granted(3));
        assert!(!l.asked_not_granted(1));
        assert!(!l.asked_not_granted(0));
        let run = l.release(1);
        assert_eq!(
            run.len(),
            1,
            "2 alone: 3's command waits behind 3's request"
        );
        let run2 = l.release(2);
        assert_eq!(run2.len(), 2, "3's request, then its command");
        assert!(!l.asked_not_granted(3));
        l.release(3);
        assert!(l.is_idle());
    }

    #[test]
    fn a_command_waiting_for_free_keys_runs_before_later_transactions_take_them() {
        // 1 holds a; a single command on a waits for it (takes nothing);
        // 5 then asks for a. When 1 releases, the command runs first and
        // 5 is granted only on the next look at the queue.
        let mut l = Locks::default();
        l.take(1, Want::Keys(vec![k("a", Mode::Exclusive)]));
        for (tx, take) in [(0, false), (5, true)] {
            l.waiting.push_back(Waiter {
                tx,
                keys: Want::Keys(vec![k("a", Mode::Exclusive)]),
                take,
                then: Box::new(|_| {}),
            });
        }
        let run = l.release(1);
        assert_eq!(run.len(), 1, "the command alone");
        assert!(!c(&l, "a", Mode::Shared, 9), "nobody took a yet");
        assert!(std::mem::take(&mut l.regrant));
        let run = l.grant_waiters();
        assert_eq!(run.len(), 1, "then 5");
        assert!(c(&l, "a", Mode::Shared, 9));
        assert!(!l.regrant);
        l.release(5);
        assert!(l.is_idle());
    }

    #[test]
    fn a_whole_shard_lock_excludes_every_key() {
        let mut l = Locks::default();
        l.take(1, Want::Keys(vec![k("a", Mode::Shared)]));
        // A whole-shard reader shares with key readers, a writer does not.
        assert!(!l.held_conflict(&Want::Whole(Mode::Shared), 2));
        assert!(l.held_conflict(&Want::Whole(Mode::Exclusive), 2));
        assert!(!l.held_conflict(&Want::Whole(Mode::Exclusive), 1));
        l.release(1);
        l.take(3, Want::Whole(Mode::Exclusive));
        assert!(!l.is_idle());
        assert!(c(&l, "anything", Mode::Shared, 4));
        assert!(!c(&l, "anything", Mode::Exclusive, 3));
        assert!(l.held_conflict(&Want::Keys(vec![k("b", Mode::Shared)]), 4));
        l.release(3);
        assert!(l.is_idle());
        assert!(Want::Whole(Mode::Shared).clashes(&Want::Keys(vec![k("x", Mode::Exclusive)])));
        assert!(!Want::Whole(Mode::Shared).clashes(&Want::Whole(Mode::Shared)));
    }

    #[test]
    fn dedup_keeps_the_strongest_mode() {
        let d = dedup(vec![
            k("x", Mode::Shared),
            k("y", Mode::Shared),
            k("x", Mode::Exclusive),
            k("y", Mode::Shared),
        ]);
        let mut want = vec![k("x", Mode::Exclusive), k("y", Mode::Shared)];
        want.sort();
        assert_eq!(d, want);
    }
}
