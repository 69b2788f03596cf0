//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...): the shard side.
//!
//! ```text
//!  client core C                          shard S (owns key k)
//!  register(w) ──hop──► queues[(db,k)] ← w; db.watch(k); k servable now? serve
//!                       any write that creates or replaces k ─► db marks k ready
//!                       after the command: serve_ready():
//!                         for w in queues[(db,k)] in block order, while k servable:
//!                           w.claim() (once, across all shards) ─► serve(k) ─► Delivery
//!  deliver ◄─────────── spawn: run_on(C, hand the Delivery to the waiting client)
//! ```
//!
//! A client blocked on keys of several shards has one [`Waiter`] registered on
//! each of them. Whichever shard first claims it (an atomic flag, the only
//! state shared between cores) serves it; the others drop it when they meet it
//! or when the client unregisters. Serving pops the element on the owning shard
//! at the moment of the claim, so an element is delivered exactly once; if the
//! client has gone by the time it arrives, the element is put back ([`Undo`]).
//!
//! Clients are served in the order their commands started, across cores: each
//! blocking command takes a ticket from the engine's [`BlockOrder`] before its
//! first hop, and queues are kept in ticket order. While a command that found
//! nothing to take is on its way to register (its hops in flight), no later
//! waiter is served and no later command serves itself without blocking: the
//! shard holds the key ready and serves again once the earlier command has
//! registered. A command served at once never enters that state, so the
//! common case (a queue with data) takes no lock.

use super::Ctx;
use crate::protocol::OwnedArgs;
use crate::storage::Value;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The order in which the engine's blocking commands started, and which of
/// them are on their way to register.
#[derive(Default)]
pub struct BlockOrder {
    next: AtomicU64,
    /// Commands registering now (a quick test before taking the lock).
    registering_count: AtomicUsize,
    inner: Mutex<OrderInner>,
}

#[derive(Default)]
struct OrderInner {
    /// Tickets of commands that found nothing to take and are registering
    /// on the shards they wait on.
    registering: BTreeSet<u64>,
    /// Cores that held a ready key back for an earlier registering command.
    held: Vec<usize>,
}

impl BlockOrder {
    fn lock(&self) -> std::sync::MutexGuard<'_, OrderInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A blocking command starts: its ticket (no lock).
    pub fn begin(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The command with `ticket` found nothing and starts registering.
    pub fn registering(&self, ticket: u64) {
        let mut o = self.lock();
        if o.registering.insert(ticket) {
            self.registering_count.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The command with `ticket` has registered everywhere (or gave up):
    /// the cores that held keys back, to serve again.
    pub fn end(&self, ticket: u64) -> Vec<usize> {
        let mut o = self.lock();
        if o.registering.remove(&ticket) {
            self.registering_count.fetch_sub(1, Ordering::SeqCst);
        }
        std::mem::take(&mut o.held)
    }

    /// True when a command that started before `ticket` is still on its way
    /// to register.
    pub fn earlier_registering(&self, ticket: u64) -> bool {
        self.registering_count.load(Ordering::SeqCst) > 0
            && self.lock().registering.first().is_some_and(|&t| t < ticket)
    }

    /// Core `core` held a key back; it is served again at the next [`end`](Self::end).
    fn hold(&self, core: usize) {
        let mut o = self.lock();
        if !o.held.contains(&core) {
            o.held.push(core);
        }
    }
}

/// Puts back what a delivery took, when the client it was for has gone.
pub type Undo = Box<dyn FnOnce(&mut Ctx<'_>) + Send>;

/// What serving a waiter produced.
pub enum Served {
    /// The complete reply.
    Reply(Vec<u8>),
    /// BLMOVE/BRPOPLPUSH whose destination is on another shard: the client's
    /// core pushes `elem` to the destination its arguments name and replies
    /// with it.
    Move {
        /// The element taken from the source.
        elem: Vec<u8>,
    },
}

/// A served waiter's result on its way to the client.
pub struct Delivery {
    /// What to reply (or finish).
    pub served: Served,
    /// Shard that served it (where `undo` must run).
    pub shard: usize,
    /// Puts the taken elements back.
    pub undo: Undo,
    /// The key it was served from (empty when nothing was taken).
    pub key: Vec<u8>,
}

/// True when a key's value (None: the key does not exist) can serve the
/// waiter now. A waiter that is ready on a missing key (XREADGROUP, which
/// fails once its stream is gone) is also checked after deletions.
pub type ReadyFn = fn(Option<&Value>, &Waiter, &[u8]) -> bool;
/// Serves a waiter from `key` (whose value passed the [`ReadyFn`]).
pub type ServeFn = fn(&mut Ctx<'_>, &[u8], &Waiter) -> Option<(Served, Undo)>;

/// One blocked command, registered on every shard owning one of its keys.
pub struct Waiter {
    claimed: AtomicBool,
    /// The client's core.
    pub core: usize,
    /// The client's id.
    pub client: u64,
    /// The client's database.
    pub db: usize,
    /// The client speaks RESP3.
    pub resp3: bool,
    /// The blocked command's arguments.
    pub args: OwnedArgs,
    /// Keys waited on, in argument order.
    pub keys: Vec<Vec<u8>>,
    /// Whether a value can serve this waiter.
    pub ready: ReadyFn,
    /// How to serve it.
    pub serve: ServeFn,
    /// Its place in the [`BlockOrder`].
    pub ticket: u64,
}

impl Waiter {
    /// A waiter not yet claimed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        core: usize,
        client: u64,
        db: usize,
        resp3: bool,
        args: OwnedArgs,
        keys: Vec<Vec<u8>>,
        ready: ReadyFn,
        serve: ServeFn,
        ticket: u64,
    ) -> Self {
        Waiter {
            claimed: AtomicBool::new(false),
            core,
            client,
            db,
            resp3,
            args,
            keys,
            ready,
            serve,
            ticket,
        }
    }
    /// Takes the waiter for serving (or for timing out); true only once.
    pub fn claim(&self) -> bool {
        self.claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
    /// True once served or given up.
    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }
}

/// The waiters of one shard, per (db, key), in ticket order.
#[derive(Default)]
pub struct Blocked {
    queues: HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>,
    /// Keys with a waiter that a deletion serves: writes mark keys ready
    /// when they create or replace them, not when they delete them, so
    /// these are looked at after each piece of shard work.
    on_delete: HashSet<(usize, Vec<u8>)>,
}

impl Blocked {
    /// True when no client waits on this shard.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
    /// Number of (db, key) queues (for tests and INFO).
    pub fn keys(&self) -> usize {
        self.queues.len()
    }
}

/// Registers `w` on this shard for `keys` (the ones this shard owns) and
/// marks the keys that can serve it at once, so [`serve_ready`] serves it (or
/// a client that blocked earlier) right away.
pub fn register(shard: &mut crate::shard::Shard, w: Arc<Waiter>, keys: &[Vec<u8>], now: u64) {
    let db = shard.db(w.db);
    for k in keys {
        db.watch(k);
        if (w.ready)(db.peek(k, now).map(|e| &e.value), &w, k) {
            db.mark_ready(k);
        }
    }
    if keys.first().is_some_and(|k| (w.ready)(None, &w, k)) {
        for k in keys {
            shard.blocked.on_delete.insert((w.db, k.clone()));
        }
    }
    for k in keys {
        let q = shard.blocked.queues.entry((w.db, k.clone())).or_default();
        // Usually the latest ticket: appended.
        let at = q
            .iter()
            .rposition(|x| x.ticket <= w.ticket)
            .map_or(0, |i| i + 1);
        q.insert(at, w.clone());
    }
}

/// Removes `w` from this shard's queues (after it was served elsewhere, timed
/// out or its client left).
pub fn unregister(shard: &mut crate::shard::Shard, w: &Arc<Waiter>) {
    for k in &w.keys {
        let qk = (w.db, k.clone());
        let Some(q) = shard.blocked.queues.get_mut(&qk) else {
            continue;
        };
        q.retain(|x| !Arc::ptr_eq(x, w));
        if q.is_empty() {
            shard.blocked.queues.remove(&qk);
            shard.blocked.on_delete.remove(&qk);
            if let Some(db) = shard.db_opt_mut(w.db) {
                db.unwatch(k);
            }
        }
    }
}

/// Marks ready the keys that were deleted under a waiter a deletion serves;
/// forgets keys that no longer have such a waiter.
fn notice_deletions(shard: &mut crate::shard::Shard, now: u64) {
    if shard.blocked.on_delete.is_empty() {
        return;
    }
    // Usually every key still exists: nothing is collected then.
    let gone: Vec<(usize, Vec<u8>)> = shard
        .blocked
        .on_delete
        .iter()
        .filter(|qk| {
            shard
                .db_opt(qk.0)
                .is_none_or(|d| d.peek(&qk.1, now).is_none())
        })
        .cloned()
        .collect();
    for qk in gone {
        let wants = shard.blocked.queues.get(&qk).is_some_and(|q| {
            q.iter()
                .any(|w| !w.is_claimed() && (w.ready)(None, w, &qk.1))
        });
        if wants {
            if let Some(db) = shard.db_opt_mut(qk.0) {
                db.mark_ready(&qk.1);
            }
        } else {
            shard.blocked.on_delete.remove(&qk);
        }
    }
}

/// Serves waiters of every key marked ready on this shard, in ticket order,
/// while the keys can serve them. Returns the deliveries to send. A waiter
/// behind a command that started earlier and is still registering is not
/// served yet: its key stays ready and `order` remembers this shard.
pub fn serve_ready(
    shard: &mut crate::shard::Shard,
    now: u64,
    order: &BlockOrder,
) -> Vec<(Arc<Waiter>, Delivery)> {
    let mut out = Vec::new();
    let mut held: Vec<(usize, Vec<u8>)> = Vec::new();
    if shard.blocked.is_empty() {
        return out;
    }
    notice_deletions(shard, now);
    let mut blocked = std::mem::take(&mut shard.blocked);
    let id = shard.id;
    // Serving can make keys ready again (BLMOVE into a watched key), so loop.
    loop {
        let mut ready = Vec::new();
        for dbi in 0..shard.databases() {
            if let Some(db) = shard.db_opt_mut(dbi) {
                for k in db.take_ready() {
                    ready.push((dbi, k));
                }
            }
        }
        if ready.is_empty() {
            break;
        }
        for (dbi, key) in ready {
            let qk = (dbi, key);
            let Some(mut q) = blocked.queues.remove(&qk) else {
                continue;
            };
            // Waiters that cannot be served now (a reader waiting for a
            // later id, a pop on a key of another type) are passed over.
            let mut i = 0;
            while let Some(w) = q.get(i).cloned() {
                if w.is_claimed() {
                    q.remove(i);
                    continue;
                }
                let value = shard.db(dbi).peek(&qk.1, now).map(|e| &e.value);
                if !(w.ready)(value, &w, &qk.1) {
                    i += 1;
                    continue;
                }
                if order.earlier_registering(w.ticket) {
                    order.hold(id);
                    held.push(qk.clone());
                    break;
                }
                q.remove(i);
                if !w.claim() {
                    continue;
                }
                let mut ctx = Ctx {
                    shard,
                    db: dbi,
                    now,
                    no_touch: false,
                };
                if let Some((served, undo)) = (w.serve)(&mut ctx, &qk.1, &w) {
                    ctx.shard.key_changed(dbi, &qk.1);
                    out.push((
                        w.clone(),
                        Delivery {
                            served,
                            shard: id,
                            undo,
                            key: qk.1.to_vec(),
                        },
                    ));
                }
            }
            if q.is_empty() {
                blocked.on_delete.remove(&qk);
                if let Some(db) = shard.db_opt_mut(dbi) {
                    db.unwatch(&qk.1);
                }
            } else {
                blocked.queues.insert(qk, q);
            }
        }
    }
    // Waiters registered while serving (none today) would be in shard.blocked.
    let added = std::mem::take(&mut shard.blocked);
    for (k, q) in added.queues {
        blocked.queues.entry(k).or_default().extend(q);
    }
    blocked.on_delete.extend(added.on_delete);
    shard.blocked = blocked;
    for (dbi, k) in held {
        if let Some(db) = shard.db_opt_mut(dbi) {
            db.mark_ready(&k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Shard;

    fn ready_str(v: Option<&Value>, _w: &Waiter, _k: &[u8]) -> bool {
        v.is_some_and(|v| v.as_str().is_some())
    }
    /// Serves by taking the whole string (a stand-in for a pop).
    fn take_str(ctx: &mut Ctx<'_>, key: &[u8], _w: &Waiter) -> Option<(Served, Undo)> {
        let now = ctx.now;
        let e = ctx.db().take(key, now)?;
        let v = e.value.as_str()?.to_vec();
        let k = key.to_vec();
        let back = v.clone();
        let undo: Undo = Box::new(move |ctx: &mut Ctx<'_>| {
            ctx.db().set(&k, Value::string(&back));
        });
        Some((Served::Reply(v), undo))
    }
    fn waiter(client: u64, keys: &[&str]) -> Arc<Waiter> {
        waiter_at(client, keys, client)
    }
    fn waiter_at(client: u64, keys: &[&str], ticket: u64) -> Arc<Waiter> {
        Arc::new(Waiter::new(
            0,
            client,
            0,
            false,
            OwnedArgs::default(),
            keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
            ready_str,
            take_str,
            ticket,
        ))
    }
    fn replies(d: Vec<(Arc<Waiter>, Delivery)>) -> Vec<(u64, Vec<u8>)> {
        d.into_iter()
            .map(|(w, d)| match d.served {
                Served::Reply(r) => (w.client, r),
                Served::Move { elem, .. } => (w.client, elem),
            })
            .collect()
    }

    #[test]
    fn first_blocked_first_served_once() {
        let mut s = Shard::new(0, 1, 16);
        let a = waiter(1, &["k"]);
        let b = waiter(2, &["k", "j"]);
        register(&mut s, a.clone(), &a.keys, 0);
        register(&mut s, b.clone(), &b.keys, 0);
        assert!(serve_ready(&mut s, 0, &BlockOrder::default()).is_empty());
        s.db(0).set(b"k", Value::string(b"v1"));
        assert_eq!(
            replies(serve_ready(&mut s, 0, &BlockOrder::default())),
            vec![(1, b"v1".to_vec())]
        );
        assert!(a.is_claimed() && !b.is_claimed());
        s.db(0).set(b"j", Value::string(b"v2"));
        assert_eq!(
            replies(serve_ready(&mut s, 0, &BlockOrder::default())),
            vec![(2, b"v2".to_vec())]
        );
        // b is still queued on k but claimed: a new value on k serves nobody.
        s.db(0).set(b"k", Value::string(b"v3"));
        assert!(serve_ready(&mut s, 0, &BlockOrder::default()).is_empty());
        assert!(s.blocked.is_empty());
        assert!(s.db(0).peek(b"k", 0).is_some());
    }

    #[test]
    fn register_serves_at_once_and_unregister_cleans() {
        let mut s = Shard::new(0, 1, 16);
        s.db(0).set(b"k", Value::string(b"v"));
        let a = waiter(1, &["k"]);
        register(&mut s, a.clone(), &a.keys, 0);
        assert_eq!(
            replies(serve_ready(&mut s, 0, &BlockOrder::default())),
            vec![(1, b"v".to_vec())]
        );
        let b = waiter(2, &["x", "y"]);
        register(&mut s, b.clone(), &b.keys, 0);
        assert_eq!(s.blocked.keys(), 2);
        unregister(&mut s, &b);
        assert!(s.blocked.is_empty());
        s.db(0).set(b"x", Value::string(b"v"));
        assert!(serve_ready(&mut s, 0, &BlockOrder::default()).is_empty());
    }

    #[test]
    fn served_in_ticket_order_and_held_behind_a_starting_command() {
        let mut s = Shard::new(0, 1, 16);
        let order = BlockOrder::default();
        let first = order.begin();
        let second = order.begin();
        order.registering(first);
        order.registering(second);
        let a = waiter_at(1, &["k"], first);
        let b = waiter_at(2, &["k"], second);
        // The later command registers first and the key fills while the
        // earlier one is still on its way: nobody is served yet.
        register(&mut s, b.clone(), &b.keys, 0);
        assert_eq!(order.end(second), Vec::<usize>::new());
        s.db(0).set(b"k", Value::string(b"v1"));
        assert!(serve_ready(&mut s, 0, &order).is_empty());
        assert!(!b.is_claimed());
        // The earlier one arrives, queues in front, and ends its start: this
        // shard is named for serving again, and serves it first.
        register(&mut s, a.clone(), &a.keys, 0);
        assert_eq!(order.end(first), vec![0]);
        assert!(!order.earlier_registering(u64::MAX));
        assert_eq!(
            replies(serve_ready(&mut s, 0, &order)),
            vec![(1, b"v1".to_vec())]
        );
        s.db(0).set(b"k", Value::string(b"v2"));
        assert_eq!(
            replies(serve_ready(&mut s, 0, &order)),
            vec![(2, b"v2".to_vec())]
        );
        assert!(s.blocked.is_empty());
    }

    /// Served when the key holds a string, or when it is deleted.
    fn ready_or_gone(v: Option<&Value>, _w: &Waiter, _k: &[u8]) -> bool {
        v.is_none_or(|v| v.as_str().is_some_and(|s| s == b"go"))
    }
    fn reply_gone(ctx: &mut Ctx<'_>, key: &[u8], _w: &Waiter) -> Option<(Served, Undo)> {
        let now = ctx.now;
        let what = if ctx.db().peek(key, now).is_some() {
            b"there".to_vec()
        } else {
            b"gone".to_vec()
        };
        Some((Served::Reply(what), Box::new(|_: &mut Ctx<'_>| {})))
    }

    #[test]
    fn deletion_serves_waiters_that_ask_for_it() {
        let mut s = Shard::new(0, 1, 16);
        s.db(0).set(b"k", Value::string(b"wait"));
        let a = Arc::new(Waiter::new(
            0,
            1,
            0,
            false,
            OwnedArgs::default(),
            vec![b"k".to_vec()],
            ready_or_gone,
            reply_gone,
            1,
        ));
        fn ready_v(v: Option<&Value>, _w: &Waiter, _k: &[u8]) -> bool {
            v.and_then(|v| v.as_str()) == Some(&b"v"[..])
        }
        let b = Arc::new(Waiter::new(
            0,
            2,
            0,
            false,
            OwnedArgs::default(),
            vec![b"k".to_vec()],
            ready_v,
            take_str,
            2,
        ));
        register(&mut s, a.clone(), &a.keys, 0);
        register(&mut s, b.clone(), &b.keys, 0);
        assert!(serve_ready(&mut s, 0, &BlockOrder::default()).is_empty());
        s.db(0).remove(b"k");
        assert_eq!(
            replies(serve_ready(&mut s, 0, &BlockOrder::default())),
            vec![(1, b"gone".to_vec())]
        );
        // The other waiter is not served by the deletion, and is no longer
        // looked at for one.
        assert!(serve_ready(&mut s, 0, &BlockOrder::default()).is_empty());
        assert!(s.blocked.on_delete.is_empty());
        s.db(0).set(b"k", Value::string(b"v"));
        assert_eq!(
            replies(serve_ready(&mut s, 0, &BlockOrder::default())),
            vec![(2, b"v".to_vec())]
        );
    }

    #[test]
    fn claimed_elsewhere_is_skipped() {
        let mut s = Shard::new(0, 1, 16);
        let a = waiter(1, &["k"]);
        let b = waiter(2, &["k"]);
        register(&mut s, a.clone(), &a.keys, 0);
        register(&mut s, b.clone(), &b.keys, 0);
        assert!(a.claim());
        s.db(0).set(b"k", Value::string(b"v"));
        assert_eq!(
            replies(serve_ready(&mut s, 0, &BlockOrder::default())),
            vec![(2, b"v".to_vec())]
        );
    }
}
