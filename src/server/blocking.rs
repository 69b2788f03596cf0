//! Clients blocked on keys: the client side (see [`crate::shard::blocking`] for
//! the shard side).
//!
//! ```text
//!  block(): waiter w ─► register on each owning shard, in key order, until served
//!           wait for: delivery ─► reply │ timeout ─► claim w, null reply
//!                     client gone (socket closed, CLIENT KILL) ─► claim w, nothing
//!           unregister w everywhere; a delivery that lost the race is undone
//! ```

use super::conn::Conn;
use crate::command::OwnedArgs;
use crate::shard::Core;
use crate::shard::blocking::{self, Delivery, ReadyFn, ServeFn, Served, Waiter};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a blocked client's socket is checked for a disconnect.
const GONE_CHECK: Duration = Duration::from_millis(100);

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
/// each result to the waiting client's core. Called after shard-side work.
pub fn after_shard_work(core: &Rc<Core>) {
    let deliveries = {
        let mut shard = core.shard.borrow_mut();
        if shard.blocked.is_empty() {
            return;
        }
        blocking::serve_ready(&mut shard, crate::now_ms())
    };
    for (w, d) in deliveries {
        let c = core.clone();
        glommio::spawn_local(async move {
            let client = w.client;
            let back = c.run_on(w.core, move |cc| deliver(cc, client, d)).await;
            if let Some(d) = back {
                undo(&c, w.db, d);
            }
        })
        .detach();
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
    }
    after_shard_work(core);
}

/// True when the peer closed the connection (a pending read returns EOF).
fn peer_closed(fd: i32) -> bool {
    let mut b = [0u8; 1];
    // SAFETY: recv into a valid 1-byte buffer on a socket this connection owns;
    // MSG_PEEK leaves any data for the connection's next read.
    let n = unsafe {
        libc::recv(
            fd,
            b.as_mut_ptr() as *mut libc::c_void,
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n == 0 {
        return true;
    }
    n < 0
        && !matches!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EAGAIN) | Some(libc::EINTR)
        )
}

/// Blocks the client until one of `spec.keys` can serve it, the timeout
/// passes, or the client goes away.
pub async fn block(c: &mut Conn, args: OwnedArgs, spec: BlockSpec) -> Outcome {
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

    c.handle.info.borrow_mut().blocked = true;
    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let fd = c.handle.info.borrow().fd;
    let outcome = loop {
        let tick = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(GONE_CHECK),
            None => GONE_CHECK,
        };
        let sleep = glommio::timer::sleep(tick);
        futures::pin_mut!(sleep);
        match futures::future::select(&mut rx, sleep).await {
            futures::future::Either::Left((Ok(d), _)) => break Some(d),
            futures::future::Either::Left((Err(_), _)) => break None,
            futures::future::Either::Right(_) => {}
        }
        let gone = c.handle.killed.get() || peer_closed(fd);
        let expired = deadline.is_some_and(|d| Instant::now() >= d);
        if (gone || expired) && w.claim() {
            break None;
        }
        if gone || expired {
            // A shard claimed it first: its delivery is on the way.
            break (&mut rx).await.ok();
        }
    };
    core.waiting.borrow_mut().remove(&c.id);
    c.handle.info.borrow_mut().blocked = false;
    let gone = c.handle.killed.get() || peer_closed(fd);
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
    };
    let _ = wc.tx.send(d);
    true
}

/// Number of clients blocked on this core (INFO `blocked_clients`).
pub fn blocked_clients(core: &Core) -> usize {
    core.waiting.borrow().len()
}
