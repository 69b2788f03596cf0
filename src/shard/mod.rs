//! Shards, cores and the hop mesh.
//!
//! ```text
//!   core i ── Rc<Core> { shard (its slots' data), config copy, clients, mesh ends }
//!   run_on(j, job):  core i ──HopMsg{id, job}──► core j runs job(&core j)
//!                    core i ◄──HopReply{id, result}── core j
//! ```
//!
//! A hop carries a closure that owns its data; it runs on the target core against
//! that core's shard and sends its result back. Local targets run inline.

pub mod blocking;
pub mod slot;

use crate::config::Config;
use crate::storage::Db;
use glommio::channels::shared_channel::{
    self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender,
};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

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
}

impl Shard {
    /// An empty shard.
    pub fn new(id: usize, nshards: usize, databases: usize) -> Self {
        let mut dbs = Vec::with_capacity(databases);
        dbs.resize_with(databases, || None);
        Shard {
            id,
            nshards,
            dbs,
            rng: crate::Rng::new(0x5eed ^ ((id as u64 + 1) * 0x9e37_79b9)),
            blocked: Default::default(),
        }
    }
    /// Number of logical databases.
    pub fn databases(&self) -> usize {
        self.dbs.len()
    }
    /// Database `i`, created on first use.
    #[inline]
    pub fn db(&mut self, i: usize) -> &mut Db {
        let n = self.nshards;
        self.dbs[i].get_or_insert_with(|| Box::new(Db::new(n)))
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
        let db = self.dbs[i].get_or_insert_with(|| Box::new(Db::new(n)));
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
        if any_watch {
            let (lo, hi) = (a.min(b), a.max(b));
            let (left, right) = self.dbs.split_at_mut(hi);
            if let (Some(x), Some(y)) = (left[lo].as_deref_mut(), right[0].as_deref_mut()) {
                Db::swap_watch(x, y);
            }
        }
    }
    /// Empties database `i`; returns how many keys it held.
    pub fn flush_db(&mut self, i: usize) -> usize {
        let Some(slot) = self.dbs.get_mut(i) else {
            return 0;
        };
        match slot.take() {
            Some(mut db) => {
                let n = db.len();
                *slot = db.empty_keeping_watch().map(Box::new);
                n
            }
            None => 0,
        }
    }
    /// Empties all databases.
    pub fn flush_all(&mut self) -> usize {
        (0..self.dbs.len()).map(|i| self.flush_db(i)).sum()
    }
    /// Random-sample one active-expiry cycle over all databases, bounded by
    /// `budget_us`. Returns keys expired.
    pub fn active_expire(&mut self, now: u64, effort: i64, budget_us: u64) -> usize {
        let start = std::time::Instant::now();
        let per_loop = 20 + 5 * (effort.clamp(1, 10) as usize - 1);
        let acceptable_stale = (10 - (effort.clamp(1, 10) as usize - 1)).max(1);
        let mut total = 0;
        let rng = &mut self.rng;
        for db in self.dbs.iter_mut().flatten() {
            loop {
                if db.expires() == 0 {
                    break;
                }
                let (sampled, expired) = db.expire_step(now, per_loop, rng);
                total += expired;
                if sampled == 0 || expired * 100 <= sampled * acceptable_stale {
                    break;
                }
                if start.elapsed().as_micros() as u64 > budget_us {
                    return total;
                }
            }
        }
        total
    }
}

/// Groups items by owning shard, shards in order of first appearance and
/// items in their order: one hop per group.
pub fn group_by_owner<T>(
    items: impl IntoIterator<Item = T>,
    owner: impl Fn(&T) -> usize,
) -> Vec<(usize, Vec<T>)> {
    let mut groups: Vec<(usize, Vec<T>)> = Vec::new();
    for item in items {
        let s = owner(&item);
        match groups.iter_mut().find(|g| g.0 == s) {
            Some(g) => g.1.push(item),
            None => groups.push((s, vec![item])),
        }
    }
    groups
}

/// A result sent back from a hop.
pub type HopResult = Box<dyn Any + Send>;
/// Work sent to another core.
pub type Job = Box<dyn FnOnce(&Rc<Core>) -> HopResult + Send>;

/// A request travelling to another core.
pub struct HopMsg {
    id: u64,
    job: Job,
}

/// A result travelling back.
pub struct HopReply {
    id: u64,
    result: HopResult,
}

/// Channel capacity of each directed link of the mesh.
pub const MESH_CHANNEL_CAPACITY: usize = 1024;

/// The unconnected channel ends one core takes into its executor.
pub struct MeshEnds {
    req_tx: Vec<Option<SharedSender<HopMsg>>>,
    req_rx: Vec<(usize, SharedReceiver<HopMsg>)>,
    rep_tx: Vec<Option<SharedSender<HopReply>>>,
    rep_rx: Vec<SharedReceiver<HopReply>>,
}

/// Builds a full mesh of request and reply channels between `n` cores.
pub fn build_mesh(n: usize) -> Vec<MeshEnds> {
    let mut ends: Vec<MeshEnds> = (0..n)
        .map(|_| MeshEnds {
            req_tx: (0..n).map(|_| None).collect(),
            req_rx: Vec::new(),
            rep_tx: (0..n).map(|_| None).collect(),
            rep_rx: Vec::new(),
        })
        .collect();
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let (tx, rx) = shared_channel::new_bounded(MESH_CHANNEL_CAPACITY);
            ends[i].req_tx[j] = Some(tx);
            ends[j].req_rx.push((i, rx));
            let (tx, rx) = shared_channel::new_bounded(MESH_CHANNEL_CAPACITY);
            ends[j].rep_tx[i] = Some(tx);
            ends[i].rep_rx.push(rx);
        }
    }
    ends
}

type Waiter = futures::channel::oneshot::Sender<HopResult>;

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
    /// Clients connected to this core.
    pub clients: RefCell<crate::server::clients::Clients>,
    /// Blocked clients of this core, by id: where a shard's delivery goes.
    pub waiting: RefCell<HashMap<u64, WaitingClient>>,
    req_tx: Vec<Option<ConnectedSender<HopMsg>>>,
    rep_tx: Vec<Option<ConnectedSender<HopReply>>>,
    pending: RefCell<HashMap<u64, Waiter>>,
    next_id: Cell<u64>,
}

impl Core {
    /// Connects this core's mesh ends and starts its hop-serving tasks.
    pub async fn start(id: usize, ncores: usize, config: Config, ends: MeshEnds) -> Rc<Core> {
        // Each end's connect() completes only when its peer connects too, so all
        // four kinds of ends are connected concurrently.
        let req_tx_f = futures::future::join_all(ends.req_tx.into_iter().map(|t| async move {
            match t {
                Some(t) => Some(t.connect().await),
                None => None,
            }
        }));
        let rep_tx_f = futures::future::join_all(ends.rep_tx.into_iter().map(|t| async move {
            match t {
                Some(t) => Some(t.connect().await),
                None => None,
            }
        }));
        let req_rx_f = futures::future::join_all(
            ends.req_rx
                .into_iter()
                .map(|(from, rx)| async move { (from, rx.connect().await) }),
        );
        let rep_rx_f = futures::future::join_all(ends.rep_rx.into_iter().map(|rx| rx.connect()));
        let (req_tx, rep_tx, req_rx, rep_rx) =
            futures::join!(req_tx_f, rep_tx_f, req_rx_f, rep_rx_f);
        let databases = config.databases;
        config.publish_to_thread();
        let core = Rc::new(Core {
            id,
            ncores,
            shard: RefCell::new(Shard::new(id, ncores, databases)),
            config: RefCell::new(config),
            clients: RefCell::new(Default::default()),
            waiting: RefCell::new(HashMap::new()),
            req_tx,
            rep_tx,
            pending: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
        });
        for (from, rx) in req_rx {
            let rx: ConnectedReceiver<HopMsg> = rx;
            let c = core.clone();
            glommio::spawn_local(async move {
                while let Some(msg) = rx.recv().await {
                    let result = (msg.job)(&c);
                    if let Some(tx) = &c.rep_tx[from]
                        && tx.send(HopReply { id: msg.id, result }).await.is_err()
                    {
                        break;
                    }
                }
            })
            .detach();
        }
        for rx in rep_rx {
            let rx: ConnectedReceiver<HopReply> = rx;
            let c = core.clone();
            glommio::spawn_local(async move {
                while let Some(r) = rx.recv().await {
                    let waiter = c.pending.borrow_mut().remove(&r.id);
                    if let Some(w) = waiter {
                        let _ = w.send(r.result);
                    }
                }
            })
            .detach();
        }
        core
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
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let (tx, rx) = futures::channel::oneshot::channel();
        self.pending.borrow_mut().insert(id, tx);
        let job: Job = Box::new(move |c| Box::new(f(c)) as HopResult);
        let Some(sender) = &self.req_tx[target] else {
            panic!("no mesh link from core {} to core {target}", self.id);
        };
        if sender.send(HopMsg { id, job }).await.is_err() {
            panic!("mesh link to core {target} closed");
        }
        let res = rx.await.expect("hop reply channel dropped");
        *res.downcast::<R>().expect("hop result type")
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
