//! Sessions: what a client's commands see of it, and the per-core state of
//! the clients a core serves.
//!
//! ```text
//!  server::conn (socket: read, parse, write)
//!     │ owns one
//!     ▼
//!  Session { db, resp3, authentication, MULTI queue, WATCHed keys, reply
//!            mode, pub/sub and tracking flags, out }      ◄── command handlers
//!     │ dispatch ─► inline on this core's shard, batched hops, split or
//!     │             coordinated commands under the transaction layer
//!     │ hop handle: on_key / on_shard / on_all_shards
//!     ▼
//!  shard::Core (this core's shard, mailboxes to the others)
//! ```
//!
//! A session knows nothing of sockets: the server's connection loop feeds it
//! requests and writes out what it leaves in `out`. The registries here
//! (clients, pub/sub, tracking, blocked clients) live in the core's
//! [`CoreSessions`], reached through [`SessionCore`].

pub mod blocking;
pub mod clients;
pub mod dispatch;
pub mod memory;
pub mod monitor;
pub mod multi;
pub mod pubsub;
pub mod tracking;

use self::clients::ClientHandle;
use self::dispatch::Pending;
use crate::command::Ctx;
use crate::metrics;
use crate::protocol::{OwnedArgs, Reply};
use crate::shard::Core;
use crate::shard::slot::key_owner;
use crate::shard::txn::TxId;
use std::rc::Rc;

pub use dispatch::{
    Batched, Fast, OUT_FLUSH_THRESHOLD, PREFETCH_BATCH, READ_BUF_INITIAL, exec_shard,
};

/// CLIENT REPLY mode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    /// Replies are sent.
    On,
    /// No replies.
    Off,
    /// The next command's reply is dropped.
    Skip,
    /// Armed by CLIENT REPLY SKIP; becomes Skip for the next command.
    SkipNext,
}

/// What a core keeps of its sessions beside its shard: the clients it
/// serves and its pub/sub subscribers and view of every core's (in the
/// core's [`Core::ext`], so the shard layer knows nothing of them). The
/// server puts one in every core it starts.
#[derive(Default)]
pub struct CoreSessions {
    /// Clients connected to this core.
    pub clients: std::cell::RefCell<clients::Clients>,
    /// This core's pub/sub subscribers and its view of every core's.
    pub pubsub: std::cell::RefCell<pubsub::CorePubSub>,
    /// This core's Lua interpreter, created by the first script it runs.
    pub lua: std::cell::RefCell<Option<Rc<crate::command::scripting::lua::Engine>>>,
    /// This core's clients in MONITOR mode.
    pub monitors: std::cell::RefCell<Vec<Rc<clients::ClientHandle>>>,
}

/// The sessions' part of a core (its [`CoreSessions`]).
pub trait SessionCore {
    /// Clients connected to this core.
    fn clients(&self) -> &std::cell::RefCell<clients::Clients>;
    /// This core's pub/sub state.
    fn pubsub(&self) -> &std::cell::RefCell<pubsub::CorePubSub>;
    /// This core's Lua interpreter, once a script ran here.
    fn lua(&self) -> &std::cell::RefCell<Option<Rc<crate::command::scripting::lua::Engine>>>;
    /// This core's clients in MONITOR mode.
    fn monitors(&self) -> &std::cell::RefCell<Vec<Rc<clients::ClientHandle>>>;
}

impl SessionCore for Core {
    #[inline]
    fn clients(&self) -> &std::cell::RefCell<clients::Clients> {
        &local(self).clients
    }
    #[inline]
    fn pubsub(&self) -> &std::cell::RefCell<pubsub::CorePubSub> {
        &local(self).pubsub
    }
    fn lua(&self) -> &std::cell::RefCell<Option<Rc<crate::command::scripting::lua::Engine>>> {
        &local(self).lua
    }
    fn monitors(&self) -> &std::cell::RefCell<Vec<Rc<clients::ClientHandle>>> {
        &local(self).monitors
    }
}

fn local(core: &Core) -> &CoreSessions {
    match core.ext.downcast_ref::<CoreSessions>() {
        Some(l) => l,
        None => unreachable!("every core the server runs carries its CoreSessions"),
    }
}

/// A client's session: its state as command handlers see it, and their
/// handle for hops (`core`).
pub struct Session {
    /// The core serving this connection.
    pub core: Rc<Core>,
    /// Client id.
    pub id: u64,
    /// Selected database.
    pub db: usize,
    /// Speaks RESP3.
    pub resp3: bool,
    /// Replies waiting to be written.
    pub out: Vec<u8>,
    /// Registry entry (name, flags, ...).
    pub handle: Rc<ClientHandle>,
    /// Close once the pending output is written.
    pub close: bool,
    /// CLIENT REPLY state.
    pub reply_mode: ReplyMode,
    /// Passed AUTH (or no password set).
    pub authenticated: bool,
    /// CLIENT NO-TOUCH.
    pub no_touch: bool,
    /// Unix milliseconds used as "now" by local commands: read once per batch
    /// of requests (and after anything that may have waited).
    pub now: u64,
    /// The transaction being queued (between MULTI and EXEC).
    pub multi: Option<multi::Multi>,
    /// WATCHed keys.
    pub watched: multi::Watched,
    /// Blocking commands answer at once (inside EXEC).
    pub deny_blocking: bool,
    /// A script of this client is running the command.
    pub in_script: bool,
    /// The running command was shown to monitors when it blocked (Redis
    /// shows a blocking command then, not when it is served).
    pub monitor_fed: bool,
    /// The running command is the last the client has sent so far: nothing
    /// waits behind its reply.
    pub alone: bool,
    /// Subscribed to a channel, pattern or shard channel: a RESP2
    /// connection then runs only the pub/sub commands, PING, QUIT and RESET.
    pub subscribed: bool,
    /// CLIENT TRACKING is on (its mode is on the registry entry).
    pub tracking: bool,
    /// The transaction whose locks this client holds (0: none).
    pub txid: TxId,
    /// This session runs one command for a client connected to another
    /// core, on the core owning the command's keys ([`Session::forwarded`]).
    pub forwarded: bool,
    pending: Pending,
    keybuf: Vec<usize>,
}

impl Session {
    /// A new session for the client registered as `handle` on `core`:
    /// database 0, RESP2, authenticated when no password is set.
    pub fn new(core: Rc<Core>, handle: Rc<ClientHandle>) -> Session {
        Session::with_out(core, handle, Vec::with_capacity(READ_BUF_INITIAL))
    }

    fn with_out(core: Rc<Core>, handle: Rc<ClientHandle>, out: Vec<u8>) -> Session {
        let authenticated = core.config.borrow().requirepass.is_empty();
        let id = handle.info.borrow().id;
        Session {
            core,
            id,
            db: 0,
            resp3: false,
            out,
            handle,
            close: false,
            reply_mode: ReplyMode::On,
            authenticated,
            no_touch: false,
            now: crate::now_ms(),
            multi: None,
            watched: Default::default(),
            deny_blocking: false,
            in_script: false,
            monitor_fed: false,
            alone: false,
            subscribed: false,
            tracking: false,
            txid: 0,
            forwarded: false,
            pending: Pending::default(),
            keybuf: Vec::new(),
        }
    }

    /// A session on `core` that runs one command for client `id`, which is
    /// connected to another core: the command's keys live here, so it runs
    /// here as it would for a client of this core, and its reply (left in
    /// `out`) travels back to the client's core. It sees the client's
    /// database, protocol and NO-TOUCH mode; it is in nobody's registry.
    pub fn forwarded(core: Rc<Core>, id: u64, db: usize, resp3: bool, no_touch: bool) -> Session {
        let handle = Rc::new(ClientHandle::detached(id, db, resp3));
        let mut s = Session::with_out(core, handle, Vec::new());
        s.db = db;
        s.resp3 = resp3;
        s.no_touch = no_touch;
        s.authenticated = true;
        s.forwarded = true;
        s
    }

    /// Gives back output memory a burst grew, once it has been written.
    pub fn trim_buffers(&mut self) {
        if self.out.capacity() > 4 * READ_BUF_INITIAL {
            self.out.shrink_to(READ_BUF_INITIAL);
        }
        if self.pending.staging.capacity() > 4 * READ_BUF_INITIAL {
            self.pending.staging.shrink_to(READ_BUF_INITIAL);
        }
    }

    /// Memory held for replies (CLIENT LIST's `omem` side of a client).
    pub fn reply_alloc(&self) -> usize {
        self.out.capacity() + self.pending.staging.capacity()
    }

    /// A reply writer into the output buffer.
    pub fn reply(&mut self) -> Reply<'_> {
        Reply::new(&mut self.out, self.resp3)
    }

    /// Writes an error reply and counts it.
    pub fn error(&mut self, msg: &str) {
        let start = self.out.len();
        let resp3 = self.resp3;
        Reply::new(&mut self.out, resp3).error(msg);
        metrics::error_reply(&self.out[start..]);
    }

    /// Reads the clock for the commands that follow.
    pub fn set_now(&mut self) {
        self.now = crate::now_ms();
    }

    /// Number of cores/shards.
    pub fn nshards(&self) -> usize {
        self.core.ncores
    }

    /// The shard owning `key`.
    pub fn owner(&self, key: &[u8]) -> usize {
        key_owner(key, self.core.ncores)
    }

    /// Runs a shard-side closure against the shard owning `key`, in this client's db.
    pub async fn on_key<R, F>(&self, key: &[u8], f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> R + Send + 'static,
    {
        self.on_shard(self.owner(key), f).await
    }

    /// Runs a shard-side closure on shard `target`, in this client's db.
    pub async fn on_shard<R, F>(&self, target: usize, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> R + Send + 'static,
    {
        let db = self.db;
        let no_touch = self.no_touch;
        let client = self.id;
        self.core
            .run_on(target, move |c| {
                crate::storage::tracking::set_writer(client);
                let r = {
                    let mut shard = c.shard.borrow_mut();
                    let mut ctx = Ctx {
                        shard: &mut shard,
                        db,
                        now: crate::now_ms(),
                        no_touch,
                    };
                    f(&mut ctx)
                };
                blocking::after_shard_work(c);
                r
            })
            .await
    }

    /// Runs a shard-side closure on every shard concurrently; results in shard order.
    pub async fn on_all_shards<R, F>(&self, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&mut Ctx<'_>) -> R + Send + Sync + Clone + 'static,
    {
        let futs = (0..self.core.ncores).map(|t| self.on_shard(t, f.clone()));
        futures::future::join_all(futs).await
    }

    /// Groups argument indexes by owning shard: `(shard, indexes)`.
    pub fn group_by_shard(
        &self,
        args: &OwnedArgs,
        idx: impl Iterator<Item = usize>,
    ) -> Vec<(usize, Vec<usize>)> {
        crate::shard::group_by_owner(idx, |&i| self.owner(args.get(i)))
    }
}
