//! Shards, cores and the hop mesh.
//!
//! ```text
//!   core i ── Rc<Core> { shard (its slots' data), config copy, clients, engine }
//!   run_on(j, job):  core i ──HopMsg::Job{slot, job}──► mailbox(j, i)
//!                    core j's loop turn: job(&core j) ──HopMsg::Reply{slot}──► mailbox(i, j)
//!                    core i's loop turn: pending[slot] = result, wake the awaiting task
//! ```
//!
//! A hop carries a closure that owns its data; it runs on the target core against
//! that core's shard and sends its result back. Local targets run inline. A
//! *post* ([`Core::post`]) is a hop without a reply (pub/sub deliveries). Jobs
//! and posts from one core to another run in the order they were sent. The
//! mailboxes are drained once per loop turn, so a busy core takes a hop without a
//! syscall; only a parked core is woken (see [`crate::runtime::Notifier`]).

pub mod blocking;
/// Hash slots (kept with the keyspace, which is laid out by slot).
pub use crate::storage::slot;

pub mod engine;
pub mod journal;
pub mod txn;

pub use engine::EngineState;

use crate::config::Config;
use crate::runtime::{Mailbox, Notifier};
use crate::storage::{Db, Entry};
use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

/// One shard's data: the databases of the slots this core owns.
pub struct Shard {
    /// Shard id (equals the core index).
    pub id: usize,
    /// Number of shards.
    pub nshards: usize,
    dbs: Vec<Option<Box<Db>>>,
    /// Shard-local random source.
    pub rng: crate::Rng,
    /// Clients blocked on this shard's keys.
    pub blocked: blocking::Blocked,
    /// Eviction candidates kept between rounds.
    pub evict_pool: crate::storage::evict::Pool,
    /// Keys held by multi-shard transactions, and the work waiting for them.
    pub locks: txn::Locks,
    /// Where this shard's changes are recorded.
    pub journal: journal::Journal,
    /// Unix ms until which CLIENT PAUSE holds clients (the engine's; 0:
    /// none). While it lasts no key is deleted for having expired.
    pause_end: Arc<AtomicU64>,
}

impl Shard {
    /// An empty shard.
    pub fn new(id: usize, nshards: usize, databases: usize) -> Self {
        let mut dbs = Vec::with_capacity(databases);
        dbs.resize_with(databases, || None);
        // Database 0 exists from the start, as Redis's databases do: the
        // memory a fresh server reports includes its directory, so the first
        // write does not look like a leak of the directory's size.
        if let Some(first) = dbs.first_mut() {
            *first = Some(Box::new(Db::new(nshards)));
        }
        let pause_end = Arc::new(AtomicU64::new(0));
        Shard {
            id,
            nshards,
            dbs,
            rng: crate::Rng::new(0x5eed ^ ((id as u64 + 1) * 0x9e37_79b9)),
            blocked: Default::default(),
            evict_pool: Default::default(),
            locks: Default::default(),
            journal: Default::default(),
            pause_end,
        }
    }

    /// Follows the engine's CLIENT PAUSE: expired keys are kept (and read
    /// as absent) while clients are paused, as in Redis.
    pub fn share_pause(&mut self, end_ms: Arc<AtomicU64>) {
        for db in self.dbs.iter_mut().flatten() {
            db.pause_end = end_ms.clone();
        }
        self.pause_end = end_ms;
    }

    /// Keys in every database of this shard.
    pub fn total_keys(&self) -> usize {
        self.dbs.iter().flatten().map(|d| d.len()).sum()
    }

    /// Evicts one key of this shard under `s.policy` (sampling every used
    /// database into the pool, or picking at random for the random
    /// policies); returns the evicted entry, None when nothing may be evicted.
    pub fn evict_one(&mut self, s: &crate::storage::evict::Settings) -> Option<Entry> {
        use crate::storage::evict::Policy;
        if s.policy == Policy::NoEviction {
            return None;
        }
        if s.policy.random() {
            // Databases in turn from a random one, as Redis's next_db.
            let n = self.dbs.len();
            let first = self.rng.below(n.max(1));
            for i in 0..n {
                let d = (first + i) % n;
                let Some(db) = self.dbs[d].as_deref_mut() else {
                    continue;
                };
                if let Some(k) = db.random_victim(s.policy, &mut self.rng) {
                    return db.evict(&k);
                }
            }
            return None;
        }
        // Refill until a pooled candidate is still evictable, as Redis's loop.
        for _ in 0..4 {
            for (i, d) in self.dbs.iter().enumerate() {
                if let Some(db) = d.as_deref() {
                    db.sample_for_eviction(
                        s.policy,
                        s.samples,
                        s.lfu_decay_time,
                        i,
                        &mut self.rng,
                        &mut self.evict_pool,
                    );
                }
            }
            if self.evict_pool.is_empty() {
                return None;
            }
            while let Some(c) = self.evict_pool.pop_best() {
                if let Some(db) = self.dbs.get_mut(c.key.db).and_then(|d| d.as_deref_mut())
                    && let Some(e) = db.evict_ref(&c.key, s.policy)
                {
                    return Some(e);
                }
            }
        }
        None
    }
    /// The journal hook for a command that ran on this shard and changed
    /// data. Its consumers, in order: clients WATCHing the command's keys
    /// (EXEC will fail) and clients tracking them (invalidated), unless the
    /// handler already signalled the keys it changed (`signalled`); then
    /// the journal's sink, which gets the command (or what its handler asked
    /// to record instead). `key_indexes` lists the command's keys; it is
    /// called only when someone WATCHes or tracks keys.
    pub fn wrote(
        &mut self,
        db: usize,
        class: &'static str,
        args: crate::protocol::Args<'_>,
        key_indexes: impl FnOnce(crate::protocol::Args<'_>, &mut Vec<usize>),
        signalled: bool,
    ) {
        if !signalled
            && let Some(d) = self.dbs.get_mut(db).and_then(|d| d.as_deref_mut())
            && (crate::storage::tracking::active() || d.has_cas())
        {
            let mut idx = Vec::new();
            key_indexes(args, &mut idx);
            for i in idx {
                d.touch_watched(args.get(i));
            }
        }
        if self.journal.is_on() {
            self.journal.record_command(db, class, args.iter());
        }
    }

    /// The journal hook for a key changed by work it did not see step by
    /// step (a coordinated command's hops, a pop that served a blocked
    /// client): WATCHing and tracking clients are signalled, and the key's
    /// resulting state is recorded.
    pub fn key_changed(&mut self, db: usize, key: &[u8]) {
        if let Some(d) = self.dbs.get_mut(db).and_then(|d| d.as_deref_mut()) {
            d.touch_watched(key);
        }
        self.journal_key(db, key);
    }

    /// Records the state of `key` in database `db` in the journal (see
    /// [`journal::Journal::record_state`]), when it is on.
    pub fn journal_key(&mut self, db: usize, key: &[u8]) {
        if !self.journal.is_on() {
            return;
        }
        let now = crate::now_ms();
        let entry = self
            .dbs
            .get(db)
            .and_then(|d| d.as_deref())
            .and_then(|d| d.peek(key, now));
        self.journal.record_state(db, key, entry);
    }

    /// Number of logical databases.
    pub fn databases(&self) -> usize {
        self.dbs.len()
    }
    /// Database `i`, created on first use.
    #[inline]
    pub fn db(&mut self, i: usize) -> &mut Db {
        let n = self.nshards;
        self.dbs[i].get_or_insert_with(|| new_db(n, i, &self.pause_end))
    }
    /// Database `i` if it has ever been used.
    pub fn db_opt(&self, i: usize) -> Option<&Db> {
        self.dbs.get(i).and_then(|d| d.as_deref())
    }
    /// Mutable database `i` if it has ever been used.
    pub fn db_opt_mut(&mut self, i: usize) -> Option<&mut Db> {
        self.dbs.get_mut(i).and_then(|d| d.as_deref_mut())
    }
    /// Database `i` together with the shard's random source (RANDOMKEY).
    pub fn db_and_rng(&mut self, i: usize) -> (&mut Db, &mut crate::Rng) {
        let n = self.nshards;
        let db = self.dbs[i].get_or_insert_with(|| new_db(n, i, &self.pause_end));
        (db, &mut self.rng)
    }
    /// Swaps two databases (SWAPDB).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let watched = |d: &Option<Box<Db>>| d.as_ref().is_some_and(|d| d.has_watch());
        let any_watch = watched(&self.dbs[a]) || watched(&self.dbs[b]);
        if any_watch {
            self.db(a);
            self.db(b);
            let (lo, hi) = (a.min(b), a.max(b));
            let (left, right) = self.dbs.split_at_mut(hi);
            if let (Some(x), Some(y)) = (left[lo].as_deref_mut(), right[0].as_deref_mut()) {
                x.touch_all_watched(Some(y));
                y.touch_all_watched(Some(x));
            }
        }
        self.dbs.swap(a, b);
        for i in [a, b] {
            if let Some(d) = self.dbs[i].as_deref_mut() {
                d.index = i;
            }
        }
        if any_watch {
            let (lo, hi) = (a.min(b), a.max(b));
            let (left, right) = self.dbs.split_at_mut(hi);
            if let (Some(x), Some(y)) = (left[lo].as_deref_mut(), right[0].as_deref_mut()) {
                Db::swap_watch(x, y);
            }
        }
    }
    /// Empties database `i`, its memory freed by the lazyfree thread when
    /// `lazy` (FLUSHDB ASYNC); returns how many keys it held. The database
    /// stays allocated: its directory of slots is the fixed cost of a
    /// database in use, and keeping it means the first write after a flush
    /// does not allocate it again.
    pub fn flush_db_with(&mut self, i: usize, lazy: bool) -> usize {
        match self.dbs.get_mut(i).and_then(|d| d.as_deref_mut()) {
            Some(db) if lazy && !db.is_empty() => db.empty_async(),
            Some(db) => {
                let n = db.len();
                db.empty();
                n
            }
            None => 0,
        }
    }
    /// Empties all databases (see [`Shard::flush_db_with`]).
    pub fn flush_all_with(&mut self, lazy: bool) -> usize {
        (0..self.dbs.len())
            .map(|i| self.flush_db_with(i, lazy))
            .sum()
    }
    /// Random-sample one active-expiry cycle over all databases, bounded by
    /// `budget_us`, as Redis's `activeExpireCycle`: each database is sampled
    /// in rounds of `20 + 5 × (effort - 1)` keys until fewer than
    /// `10 - (effort - 1)` percent of a round were expired.
    pub fn active_expire(&mut self, now: u64, effort: i64, budget_us: u64) -> ExpireCycle {
        if now < self.pause_end.load(Ordering::Relaxed) {
            // Clients are paused: nothing expires until they go on.
            return ExpireCycle::default();
        }
        let start = std::time::Instant::now();
        let per_loop = 20 + 5 * (effort.clamp(1, 10) as usize - 1);
        let acceptable_stale = (10 - (effort.clamp(1, 10) as usize - 1)).max(1);
        let mut cycle = ExpireCycle::default();
        let rng = &mut self.rng;
        'dbs: for db in self.dbs.iter_mut().flatten() {
            loop {
                if db.expires() == 0 {
                    break;
                }
                let (sampled, expired) = db.expire_step(now, per_loop, rng);
                cycle.sampled += sampled;
                cycle.expired += expired;
                if sampled == 0 || expired * 100 <= sampled * acceptable_stale {
                    break;
                }
                if start.elapsed().as_micros() as u64 > budget_us {
                    cycle.timed_out = true;
                    break 'dbs;
                }
            }
        }
        self.journal.flush_deletions();
        cycle
    }
}

/// Database `i` of a shard of `nshards`, empty.
fn new_db(nshards: usize, i: usize, pause_end: &Arc<AtomicU64>) -> Box<Db> {
    let mut d = Box::new(Db::new(nshards));
    d.index = i;
    d.pause_end = pause_end.clone();
    d
}

/// What one active-expiry cycle did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireCycle {
    /// Keys with a TTL looked at.
    pub sampled: usize,
    /// Keys deleted because their TTL had passed.
    pub expired: usize,
    /// The cycle stopped on its time limit.
    pub timed_out: bool,
}

/// Context of a command running on the shard that owns its keys.
pub struct Ctx<'a> {
    /// The owning shard.
    pub shard: &'a mut Shard,
    /// The client's selected database.
    pub db: usize,
    /// Time the command started, Unix ms.
    pub now: u64,
    /// Client flags that change key access (NO-TOUCH).
    pub no_touch: bool,
}

impl Ctx<'_> {
    /// The client's database on this shard.
    #[inline]
    pub fn db(&mut self) -> &mut Db {
        self.shard.db(self.db)
    }
}

/// Groups items by owning shard, shards in order of first appearance and
/// items in their order: one hop per group.
pub fn group_by_owner<T>(
    items: impl IntoIterator<Item = T>,
    owner: impl Fn(&T) -> usize,
) -> Vec<(usize, Vec<T>)> {
    let items = items.into_iter();
    // Room for every item in each group: no group grows while it fills.
    let room = items.size_hint().0.max(1);
    let mut groups: Vec<(usize, Vec<T>)> = Vec::with_capacity(2);
    for item in items {
        let s = owner(&item);
        match groups.iter_mut().find(|g| g.0 == s) {
            Some(g) => g.1.push(item),
            None => {
                let mut v = Vec::with_capacity(room);
                v.push(item);
                groups.push((s, v));
            }
        }
    }
    groups
}

/// A result sent back from a hop.
pub type HopResult = Box<dyn Any + Send>;
/// Work sent to another core.
pub type Job = Box<dyn FnOnce(&Rc<Core>) -> HopResult + Send>;
/// Work sent to another core that answers nothing.
pub type PostJob = Box<dyn FnOnce(&Rc<Core>) + Send>;

/// A message between two cores.
pub enum HopMsg {
    /// Run `job` and send its result back, naming `slot`.
    Job {
        /// The sender's pending slot.
        slot: u32,
        /// The work.
        job: Job,
    },
    /// Run `job`; nothing is sent back.
    Post {
        /// The work.
        job: PostJob,
    },
    /// The result of a job this core sent.
    Reply {
        /// The slot named by the job.
        slot: u32,
        /// What the job returned.
        result: HopResult,
    },
}

/// The mailboxes between every pair of cores and each core's wake-up.
///
/// ```text
///   boxes[dst * n + src]: messages from core src to core dst
///   send(src, dst, m): push ─► notify(dst) (an eventfd write only if dst is parked)
///   core dst, every loop turn: drain boxes[dst * n + *] ─► run jobs, complete replies
/// ```
pub struct Mesh {
    n: usize,
    boxes: Vec<Mailbox<HopMsg>>,
    notifiers: Vec<Notifier>,
}

impl Mesh {
    /// Mailboxes and notifiers for `n` cores.
    pub fn new(n: usize) -> std::io::Result<Arc<Mesh>> {
        let mut notifiers = Vec::with_capacity(n);
        for _ in 0..n {
            notifiers.push(Notifier::new()?);
        }
        Ok(Arc::new(Mesh {
            n,
            boxes: (0..n * n).map(|_| Mailbox::default()).collect(),
            notifiers,
        }))
    }
    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.n
    }
    /// Core `i`'s wake-up.
    pub fn notifier(&self, i: usize) -> &Notifier {
        &self.notifiers[i]
    }
    fn mailbox(&self, dst: usize, src: usize) -> &Mailbox<HopMsg> {
        &self.boxes[dst * self.n + src]
    }
    /// Leaves `msg` from core `src` in core `dst`'s mailbox. The sender wakes
    /// `dst` at the end of its loop turn ([`Core::wake_peers`]).
    pub fn send(&self, src: usize, dst: usize, msg: HopMsg) {
        self.mailbox(dst, src).push(msg);
    }
    /// True when any core left a message for core `dst`.
    pub fn pending_for(&self, dst: usize) -> bool {
        (0..self.n).any(|src| src != dst && self.mailbox(dst, src).has_items())
    }
    /// Wakes every core (shutdown).
    pub fn kick_all(&self) {
        for n in &self.notifiers {
            n.kick();
        }
    }
}

enum PendingHop {
    Free,
    Waiting(Option<Waker>),
    Done(HopResult),
    /// The waiting future was dropped; the reply is discarded on arrival.
    Abandoned,
}

/// A blocked client of this core: its waiter (claimable from any shard, and by
/// CLIENT UNBLOCK) and where its result goes.
pub struct WaitingClient {
    /// The registered waiter.
    pub waiter: std::sync::Arc<blocking::Waiter>,
    /// Delivers the result to the client's task.
    pub tx: futures::channel::oneshot::Sender<blocking::Delivery>,
}

/// Everything one core owns.
pub struct Core {
    /// Core index (also the shard id).
    pub id: usize,
    /// Number of cores.
    pub ncores: usize,
    /// This core's shard.
    pub shard: RefCell<Shard>,
    /// This core's copy of the configuration.
    pub config: RefCell<Config>,
    /// What the layers above keep per core (the server's client registry
    /// and pub/sub view), given by whoever starts the core.
    pub ext: Box<dyn Any>,
    /// Blocked clients of this core, by id: where a shard's delivery goes.
    pub waiting: RefCell<HashMap<u64, WaitingClient>>,
    /// Clients of this core whose command waits for CLIENT PAUSE to end
    /// (counted as blocked, as Redis counts them).
    pub paused_clients: std::cell::Cell<usize>,
    /// Tasks of clients held by CLIENT PAUSE, woken when a CLIENT UNPAUSE
    /// ends the pause (the pause's end time wakes them by itself).
    pub pause_wakers: RefCell<Vec<Waker>>,
    /// State shared by every core of this engine.
    pub engine: Arc<EngineState>,
    mesh: Arc<Mesh>,
    pending: RefCell<Vec<PendingHop>>,
    free_pending: RefCell<Vec<u32>>,
    scratch: RefCell<(Vec<HopMsg>, Vec<HopMsg>)>,
    /// Cores this one sent messages to during the current loop turn.
    to_wake: RefCell<Vec<usize>>,
    /// Transactions this core has started (see [`Core::next_txid`]).
    txids: std::cell::Cell<u64>,
    /// Answers of deferred work ([`Responder`]) by destination core, sent
    /// together after the mailboxes are drained and at the end of the turn.
    outbox: RefCell<Vec<Vec<HopMsg>>>,
}

impl Core {
    /// This core's state; hops reach it once the core's loop runs.
    pub fn new(
        id: usize,
        config: Config,
        mesh: Arc<Mesh>,
        engine: Arc<EngineState>,
        ext: Box<dyn Any>,
    ) -> Rc<Core> {
        let ncores = mesh.cores();
        let databases = config.databases;
        config.publish_to_thread();
        let mut shard = Shard::new(id, ncores, databases);
        shard.share_pause(engine.pause_end_ms.clone());
        shard.journal = journal::Journal::new(id, engine.journal.clone());
        Rc::new(Core {
            id,
            ncores,
            shard: RefCell::new(shard),
            config: RefCell::new(config),
            ext,
            waiting: RefCell::new(HashMap::new()),
            paused_clients: std::cell::Cell::new(0),
            pause_wakers: RefCell::new(Vec::new()),
            engine,
            mesh,
            pending: RefCell::new(Vec::new()),
            free_pending: RefCell::new(Vec::new()),
            scratch: RefCell::new((Vec::new(), Vec::new())),
            to_wake: RefCell::new(Vec::new()),
            txids: std::cell::Cell::new(0),
            outbox: RefCell::new((0..ncores).map(|_| Vec::new()).collect()),
        })
    }

    /// Handles every message other cores left for this one: runs their jobs
    /// (replying in one batch per sender) and completes this core's hops.
    /// True if there was anything.
    pub fn drain_hops(self: &Rc<Self>) -> bool {
        let mut any = false;
        let (mut batch, mut replies) = std::mem::take(&mut *self.scratch.borrow_mut());
        for src in 0..self.ncores {
            if src == self.id {
                continue;
            }
            self.mesh.mailbox(self.id, src).drain_into(&mut batch);
            if batch.is_empty() {
                continue;
            }
            any = true;
            for msg in batch.drain(..) {
                match msg {
                    HopMsg::Job { slot, job } => {
                        let result = job(self);
                        replies.push(HopMsg::Reply { slot, result });
                    }
                    HopMsg::Post { job } => job(self),
                    HopMsg::Reply { slot, result } => self.complete_hop(slot, result),
                }
            }
            if !replies.is_empty() {
                self.mesh.mailbox(src, self.id).push_all(&mut replies);
                self.wake_later(src);
            }
        }
        *self.scratch.borrow_mut() = (batch, replies);
        if any {
            self.flush_outbox();
        }
        any
    }

    /// Hands the answers of deferred work to their cores' mailboxes.
    fn flush_outbox(&self) {
        let mut ob = self.outbox.borrow_mut();
        for (dst, msgs) in ob.iter_mut().enumerate() {
            if !msgs.is_empty() {
                self.mesh.mailbox(dst, self.id).push_all(msgs);
                self.wake_later(dst);
            }
        }
    }

    /// A new transaction id, unique in the engine (never 0).
    pub fn next_txid(&self) -> txn::TxId {
        let n = self.txids.get() + 1;
        self.txids.set(n);
        (n << 10) | (self.id as u64 & 0x3ff)
    }

    /// Remembers that core `dst` got a message this turn.
    fn wake_later(&self, dst: usize) {
        let mut w = self.to_wake.borrow_mut();
        if !w.contains(&dst) {
            w.push(dst);
        }
    }

    /// Wakes, if parked, every core that got a message from this one during
    /// the loop turn that ends. Deferring the wake-up to the end of the turn
    /// gives a parked peer everything the turn sent it at once, and where
    /// cores share a CPU it keeps the woken peer from preempting the sender
    /// in the middle of its turn, once per message.
    pub fn wake_peers(&self) {
        self.flush_outbox();
        let mut w = self.to_wake.borrow_mut();
        for dst in w.drain(..) {
            self.mesh.notifiers[dst].notify();
        }
    }

    /// Asks core `dst` to weigh its clients against `maxmemory-clients` at
    /// the end of its next turn (woken at the end of this one).
    pub fn ask_client_check(&self, dst: usize) {
        if let Some(f) = self.engine.client_check.get(dst) {
            f.0.store(1, std::sync::atomic::Ordering::Release);
            self.wake_later(dst);
        }
    }

    /// True (once) when another core asked this one to weigh its clients.
    pub fn client_check_asked(&self) -> bool {
        self.engine
            .client_check
            .get(self.id)
            .is_some_and(|f| f.0.swap(0, std::sync::atomic::Ordering::AcqRel) != 0)
    }

    /// Publishes how many keys this core's shard holds (see
    /// [`EngineState::shard_keys`]).
    pub fn publish_keys(&self) {
        let n = self.shard.borrow().total_keys();
        if let Some(c) = self.engine.shard_keys.get(self.id) {
            c.0.store(n, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// True when another core left this one a message.
    pub fn hops_pending(&self) -> bool {
        self.mesh.pending_for(self.id)
    }

    /// The engine's cores' mailboxes and wake-ups.
    pub fn mesh(&self) -> &Arc<Mesh> {
        &self.mesh
    }

    fn complete_hop(&self, slot: u32, result: HopResult) {
        let mut pending = self.pending.borrow_mut();
        let Some(p) = pending.get_mut(slot as usize) else {
            return;
        };
        match std::mem::replace(p, PendingHop::Free) {
            PendingHop::Waiting(w) => {
                *p = PendingHop::Done(result);
                drop(pending);
                if let Some(w) = w {
                    w.wake();
                }
            }
            PendingHop::Abandoned => {
                drop(pending);
                self.free_pending.borrow_mut().push(slot);
                drop(result);
            }
            other => *p = other,
        }
    }

    fn alloc_pending(&self) -> u32 {
        let mut pending = self.pending.borrow_mut();
        match self.free_pending.borrow_mut().pop() {
            Some(i) => {
                pending[i as usize] = PendingHop::Waiting(None);
                i
            }
            None => {
                pending.push(PendingHop::Waiting(None));
                (pending.len() - 1) as u32
            }
        }
    }

    /// Runs `f` on core `target` (inline when it is this core) and returns its result.
    pub async fn run_on<R, F>(self: &Rc<Self>, target: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&Rc<Core>) -> R + Send + 'static,
    {
        if target == self.id {
            return f(self);
        }
        self.send_on(target, f).await
    }

    /// Sends `f` to core `target` (another core) now, before the returned
    /// future is first polled, so hops sent one after another by the same
    /// code run on the target in that order; the future gives `f`'s result.
    pub fn send_on<R, F>(self: &Rc<Self>, target: usize, f: F) -> impl Future<Output = R> + '_
    where
        R: Send + 'static,
        F: FnOnce(&Rc<Core>) -> R + Send + 'static,
    {
        debug_assert_ne!(target, self.id);
        let slot = self.alloc_pending();
        let job: Job = Box::new(move |c| Box::new(f(c)) as HopResult);
        self.mesh.send(self.id, target, HopMsg::Job { slot, job });
        self.wake_later(target);
        self.reply_in::<R>(slot)
    }

    /// The reply that will complete pending slot `slot`, as an `R`.
    fn reply_in<R: 'static>(&self, slot: u32) -> impl Future<Output = R> + '_ {
        let wait = HopWait {
            core: self,
            slot,
            done: false,
        };
        async move {
            match wait.await.downcast::<R>() {
                Ok(r) => *r,
                Err(_) => unreachable!("a hop's result has the type its work answers"),
            }
        }
    }

    /// Runs `f` on core `target` (inline when it is this core) and returns
    /// what `f`, or whatever `f` hands its [`Responder`] to, answers later:
    /// the work may wait on the target (for a lock) before it answers.
    /// Like [`Core::send_on`], the work is sent before the future is polled.
    pub fn run_deferred<R, F>(self: &Rc<Self>, target: usize, f: F) -> impl Future<Output = R> + '_
    where
        R: Send + 'static,
        F: FnOnce(&Rc<Core>, Responder<R>) + Send + 'static,
    {
        let slot = self.alloc_pending();
        let resp = Responder {
            to: self.id,
            slot,
            _r: std::marker::PhantomData,
        };
        if target == self.id {
            f(self, resp);
        } else {
            self.post(target, move |c| f(c, resp));
        }
        self.reply_in::<R>(slot)
    }

    /// Sends `f` to core `target` (another core) to run there in turn with
    /// the other hops this core sends it; nothing comes back.
    pub fn post<F>(&self, target: usize, f: F)
    where
        F: FnOnce(&Rc<Core>) + Send + 'static,
    {
        debug_assert_ne!(target, self.id);
        self.mesh
            .send(self.id, target, HopMsg::Post { job: Box::new(f) });
        self.wake_later(target);
    }

    /// Runs `f` on every core concurrently; results in core order.
    pub async fn broadcast<R, F>(self: &Rc<Self>, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&Rc<Core>) -> R + Send + Sync + Clone + 'static,
    {
        let futs = (0..self.ncores).map(|t| {
            let f = f.clone();
            self.run_on(t, move |c| f(c))
        });
        futures::future::join_all(futs).await
    }
}

/// Where the answer to a [`Core::run_deferred`] goes: sent once, from the
/// core the work ran on, whenever the work is done.
pub struct Responder<R> {
    to: usize,
    slot: u32,
    _r: std::marker::PhantomData<fn(R)>,
}

impl<R: Send + 'static> Responder<R> {
    /// Answers with `r`; `core` is the core this runs on.
    pub fn send(self, core: &Core, r: R) {
        let result: HopResult = Box::new(r);
        if self.to == core.id {
            core.complete_hop(self.slot, result);
        } else {
            core.outbox.borrow_mut()[self.to].push(HopMsg::Reply {
                slot: self.slot,
                result,
            });
        }
    }
}

/// Waits for the reply to one hop.
struct HopWait<'a> {
    core: &'a Core,
    slot: u32,
    done: bool,
}

impl std::future::Future for HopWait<'_> {
    type Output = HopResult;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<HopResult> {
        let slot = self.slot;
        let core = self.core;
        let mut pending = core.pending.borrow_mut();
        let p = &mut pending[slot as usize];
        match std::mem::replace(p, PendingHop::Free) {
            PendingHop::Done(r) => {
                drop(pending);
                core.free_pending.borrow_mut().push(slot);
                self.done = true;
                std::task::Poll::Ready(r)
            }
            _ => {
                *p = PendingHop::Waiting(Some(cx.waker().clone()));
                std::task::Poll::Pending
            }
        }
    }
}

impl Drop for HopWait<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut pending = self.core.pending.borrow_mut();
        if let Some(p) = pending.get_mut(self.slot as usize)
            && let PendingHop::Done(r) = std::mem::replace(p, PendingHop::Abandoned)
        {
            *p = PendingHop::Free;
            drop(pending);
            self.core.free_pending.borrow_mut().push(self.slot);
            drop(r);
        }
    }
}
