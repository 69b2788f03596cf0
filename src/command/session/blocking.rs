//! Clients blocked on keys: the client side (see [`crate::shard::blocking`] for
//! the shard side).
//!
//! ```text
//!  block(): waiter w ─► register on each owning shard, in key order, until served
//!           wait for: delivery ─► reply │ timeout ─► claim w, null reply
//!                     client gone (socket closed, CLIENT KILL) ─► claim w, nothing
//!           unregister w everywhere; a delivery that lost the race is undone
//! ```

use super::{ClientHandle, Session};
use crate::command::OwnedArgs;
use crate::shard::Core;
use crate::shard::blocking::{self, Delivery, ReadyFn, ServeFn, Served, Waiter};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a blocked command waits for.
pub struct BlockSpec {
    /// Keys, in argument order.
    pub keys: Vec<Vec<u8>>,
    /// Give up after this long; `None` blocks forever.
    pub timeout: Option<Duration>,
    /// Whether a value can serve the command.
    pub ready: ReadyFn,
    /// Serves it from a ready key on the owning shard.
    pub serve: ServeFn,
}

/// How a blocked command ended.
pub enum Outcome {
    /// Served: the reply, or a move to finish.
    Served(Served),
    /// The timeout passed first.
    TimedOut,
    /// The client went away.
    Gone,
}

/// Serves clients blocked on keys this core's last command wrote, and sends
/// each result to the waiting client's core; then sends the tracking
/// invalidations the work caused. Called after shard-side work.
pub fn after_shard_work(core: &Rc<Core>) {
    serve_blocked(core);
    super::tracking::flush(core);
    super::pubsub::flush_notifications(core);
}

/// Serves clients blocked on keys the shard work made ready.
fn serve_blocked(core: &Rc<Core>) {
    let deliveries = {
        let mut shard = core.shard.borrow_mut();
        if shard.blocked.is_empty() {
            return;
        }
        blocking::serve_ready(&mut shard, crate::now_ms(), &core.engine.block_order)
    };
    for (w, d) in deliveries {
        let c = core.clone();
        crate::runtime::spawn(async move {
            let client = w.client;
            let back = c.run_on(w.core, move |cc| deliver(cc, client, d)).await;
            if let Some(d) = back {
                undo(&c, w.db, d);
            }
        });
    }
}

/// Hands a delivery to a waiting client; gives it back if the client is gone.
fn deliver(core: &Rc<Core>, client: u64, d: Delivery) -> Option<Delivery> {
    let w = core.waiting.borrow_mut().remove(&client);
    match w {
        Some(w) => w.tx.send(d).err(),
        None => Some(d),
    }
}

/// Puts back what a delivery took (on the shard that served it, this core).
fn undo(core: &Rc<Core>, db: usize, d: Delivery) {
    {
        let mut shard = core.shard.borrow_mut();
        let mut ctx = crate::command::Ctx {
            shard: &mut shard,
            db,
            now: crate::now_ms(),
            no_touch: true,
        };
        (d.undo)(&mut ctx);
        // The give-back is a change the journal does not see step by step.
        if !d.key.is_empty() {
            shard.journal_key(db, &d.key);
        }
    }
    after_shard_work(core);
}

/// A blocking command's place in the engine's [`blocking::BlockOrder`], from
/// its start until it has registered on every shard it waits on (or knows it
/// will not block). Once it registers (`Starting::registering`), dropping
/// it, also when the command's task is dropped, lets the shards that held
/// keys back for it serve again.
pub struct Starting {
    core: Rc<Core>,
    ticket: u64,
    registering: bool,
}

impl Starting {
    /// Takes the next ticket.
    pub fn begin(core: &Rc<Core>) -> Starting {
        Starting {
            core: core.clone(),
            ticket: core.engine.block_order.begin(),
            registering: false,
        }
    }

    /// This command's ticket.
    pub fn ticket(&self) -> u64 {
        self.ticket
    }

    /// The command found nothing and starts registering: until this guard
    /// drops, later commands are not served before it.
    fn registering(&mut self) {
        self.core.engine.block_order.registering(self.ticket);
        self.registering = true;
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if !self.registering {
            return;
        }
        for id in self.core.engine.block_order.end(self.ticket) {
            let c = self.core.clone();
            crate::runtime::spawn(async move {
                c.run_on(id, after_shard_work).await;
            });
        }
    }
}

/// Blocks the client until one of `spec.keys` can serve it, the timeout
/// passes, or the client goes away. `shown`: the command as the client
/// sent it (for monitors), `args` what the waiter runs when served.
pub async fn block(
    c: &mut Session,
    shown: &OwnedArgs,
    args: OwnedArgs,
    spec: BlockSpec,
    mut starting: Starting,
) -> Outcome {
    let core = c.core.clone();
    let w = Arc::new(Waiter::new(
        core.id,
        c.id,
        c.db,
        c.resp3,
        args,
        spec.keys.clone(),
        spec.ready,
        spec.serve,
        starting.ticket(),
    ));
    let (tx, mut rx) = futures::channel::oneshot::channel::<Delivery>();
    core.waiting.borrow_mut().insert(
        c.id,
        crate::shard::WaitingClient {
            waiter: w.clone(),
            tx,
        },
    );

    // Register shard by shard, in the order keys first appear, so the first
    // key that can serve (in argument order) does.
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(spec.keys.len());
    for k in &spec.keys {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let groups = crate::shard::group_by_owner(keys, |k| c.owner(k));
    let mut registered = Vec::new();
    starting.registering();
    for (s, keys) in groups {
        let w2 = w.clone();
        core.run_on(s, move |cc| {
            {
                let mut shard = cc.shard.borrow_mut();
                blocking::register(&mut shard, w2, &keys, crate::now_ms());
            }
            after_shard_work(cc);
        })
        .await;
        registered.push(s);
        if w.is_claimed() {
            break;
        }
    }
    drop(starting);
    // Monitors see a blocking command once it blocked, not when it is
    // served (as Redis shows it).
    c.feed_monitors(shown.args());
    c.monitor_fed = true;

    c.handle.info.borrow_mut().blocked = true;
    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let sock = c.handle.socket.clone();
    let outcome = {
        // Ends the wait without a delivery: the timeout, or the client going
        // away (its input ends when the peer closes or on CLIENT KILL).
        let give_up = async {
            let timer = async {
                match deadline {
                    Some(d) => crate::runtime::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            let ended = sock.input_ended();
            futures::pin_mut!(timer, ended);
            futures::future::select(timer, ended).await;
        };
        futures::pin_mut!(give_up);
        match futures::future::select(&mut rx, give_up).await {
            futures::future::Either::Left((d, _)) => d.ok(),
            futures::future::Either::Right(_) => {
                if w.claim() {
                    None
                } else {
                    // A shard claimed it first: its delivery is on the way.
                    (&mut rx).await.ok()
                }
            }
        }
    };
    core.waiting.borrow_mut().remove(&c.id);
    c.handle.info.borrow_mut().blocked = false;
    let gone = c.handle.killed.get() || sock.input_closed();
    for s in registered {
        let w2 = w.clone();
        core.run_on(s, move |cc| {
            blocking::unregister(&mut cc.shard.borrow_mut(), &w2);
        })
        .await;
    }
    match outcome {
        Some(d) if gone => {
            let db = w.db;
            let shard = d.shard;
            core.run_on(shard, move |cc| undo(cc, db, d)).await;
            Outcome::Gone
        }
        Some(d) => Outcome::Served(d.served),
        None if gone => Outcome::Gone,
        None => Outcome::TimedOut,
    }
}

/// CLIENT UNBLOCK on this core: ends client `id`'s blocking command as if it
/// timed out (`error` false) or with the UNBLOCKED error. False when the
/// client is not blocked here, or a shard is already serving it.
pub fn unblock(core: &Core, id: u64, error: bool) -> bool {
    let mut waiting = core.waiting.borrow_mut();
    let Some(wc) = waiting.get(&id) else {
        return false;
    };
    if !wc.waiter.claim() {
        return false;
    }
    let resp3 = wc.waiter.resp3;
    let Some(wc) = waiting.remove(&id) else {
        return false;
    };
    let mut reply = Vec::new();
    {
        let mut r = crate::protocol::Reply::new(&mut reply, resp3);
        if error {
            r.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        } else {
            r.null_array();
        }
    }
    let d = Delivery {
        served: Served::Reply(reply),
        shard: core.id,
        undo: Box::new(|_: &mut crate::command::Ctx<'_>| {}),
        key: Vec::new(),
    };
    let _ = wc.tx.send(d);
    true
}

/// Number of clients blocked on this core (INFO `blocked_clients`): on
/// keys, or held by CLIENT PAUSE.
pub fn blocked_clients(core: &Core) -> usize {
    core.waiting.borrow().len() + core.paused_clients.get()
}

/// A client whose command waits for CLIENT PAUSE to end: counted in INFO
/// `blocked_clients` and flagged `b` in CLIENT LIST while it waits, as
/// Redis counts the clients a pause postpones; undone when the wait ends
/// or the client goes.
pub struct HeldByPause {
    core: Rc<Core>,
    handle: Rc<ClientHandle>,
}

impl HeldByPause {
    /// Counts the client of `handle` on `core` as blocked.
    pub fn new(core: &Rc<Core>, handle: &Rc<ClientHandle>) -> HeldByPause {
        core.paused_clients.set(core.paused_clients.get() + 1);
        handle.info.borrow_mut().blocked = true;
        HeldByPause {
            core: core.clone(),
            handle: handle.clone(),
        }
    }
}

impl HeldByPause {
    /// Waits while CLIENT PAUSE holds commands of this kind (`writes`: it
    /// writes or may replicate): until the pause's end time, or until
    /// CLIENT UNPAUSE on any core wakes this core's held clients
    /// ([`end_pause_waits`]); again if the pause was made longer.
    pub async fn wait(&self, writes: bool) {
        let engine = &self.core.engine;
        while engine.paused(writes) {
            let end = engine
                .pause_end_ms
                .load(std::sync::atomic::Ordering::Relaxed);
            let left = end.saturating_sub(crate::now_ms());
            let until = Instant::now() + Duration::from_millis(left);
            let sleep = crate::runtime::sleep_until(until);
            let woken = Unpaused {
                core: &self.core,
                registered: false,
            };
            futures::future::select(std::pin::pin!(sleep), woken).await;
        }
    }
}

/// Resolves once CLIENT UNPAUSE wakes the core's held clients.
struct Unpaused<'a> {
    core: &'a Rc<Core>,
    registered: bool,
}

impl std::future::Future for Unpaused<'_> {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        // Woken means the wakers were taken: whether the pause is over is
        // for the caller to look at.
        if self.registered {
            return std::task::Poll::Ready(());
        }
        self.core.pause_wakers.borrow_mut().push(cx.waker().clone());
        self.registered = true;
        std::task::Poll::Pending
    }
}

/// On each core after CLIENT UNPAUSE: wakes the clients it holds.
pub fn end_pause_waits(core: &Rc<Core>) {
    let wakers = std::mem::take(&mut *core.pause_wakers.borrow_mut());
    for w in wakers {
        w.wake();
    }
}

impl Drop for HeldByPause {
    fn drop(&mut self) {
        let left = self.core.paused_clients.get().saturating_sub(1);
        self.core.paused_clients.set(left);
        if left == 0 {
            // Wakers of waits that ended on their own (the pause's end
            // time, a client gone) are not kept.
            self.core.pause_wakers.borrow_mut().clear();
        }
        self.handle.info.borrow_mut().blocked = false;
    }
}
