//! Client tracking (client-side caching) across cores: the client's side.
//!
//! ```text
//!  client C on core a, key k on core s
//!  C reads k ─► before the read runs: remember(k, C@a) on s (inline or a post,
//!               which core s runs before C's later hops to it)
//!  anyone changes k on s ─► the WATCH hook notes (C, k) ─► after the shard
//!               work: post to core a ─► deliver: C still tracking, same mode,
//!               not its own change under NOLOOP ─► frame to C, or to its
//!               REDIRECT target (on any core), as Redis words it:
//!                 RESP3: >2 invalidate [k]
//!                 RESP2 target in Pub/Sub: message __redis__:invalidate [k]
//!  FLUSHALL / FLUSHDB ─► every core: table cleared, each tracking client a
//!               null invalidation
//! ```
//!
//! **Order on the connection.** While a tracking client's pipeline is being
//! answered, invalidations for it are held and written after the replies
//! (Redis sends a client's invalidations caused by its own command after
//! that command's reply). So a read's reply always precedes the
//! invalidation of what it returned, and a cached value is never stale.
//!
//! **Pub/Sub machinery.** A frame goes out through the Pub/Sub path: held
//! while a subscription is being confirmed, written to the socket queue,
//! counted in the client's memory and against its output-buffer limit.
//!
//! **BCAST.** Prefixes are registered on every core (any shard may change a
//! matching key); the keys one shard changed in one step reach a client in
//! one message.

use super::Session;
use super::clients::ClientHandle;
use crate::command::session::SessionCore;
use crate::command::{CommandSpec, flags};
use crate::protocol::{Args, Reply};
use crate::shard::Core;
use crate::storage::tracking::{self as table, Note, Reader};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// A client's tracking mode, kept on its registry entry.
#[derive(Default, Debug)]
pub struct ClientTracking {
    /// BCAST: every change under [`ClientTracking::prefixes`].
    pub bcast: bool,
    /// OPTIN: only reads after CLIENT CACHING YES are remembered.
    pub optin: bool,
    /// OPTOUT: reads after CLIENT CACHING NO are not remembered.
    pub optout: bool,
    /// No invalidations for the client's own changes.
    pub noloop: bool,
    /// CLIENT CACHING was given for the next command.
    pub caching: bool,
    /// The client receiving the invalidations (0: this one).
    pub redirect: u64,
    /// The core of the redirect target.
    pub redirect_core: usize,
    /// The redirect target was gone when an invalidation was due.
    pub broken: bool,
    /// BCAST prefixes, sorted.
    pub prefixes: Vec<Box<[u8]>>,
}

/// Per-connection hold of invalidations while its replies are being made.
#[derive(Default)]
pub struct Held(Option<Vec<u8>>);

/// What an invalidation says.
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    /// Everything (after a flush), in the tracking client's protocol.
    All(bool),
}

impl Payload<'_> {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            Payload::Keys(keys) => {
                let mut r = Reply::new(&mut v, false);
                r.array(keys.len());
                for k in *keys {
                    r.bulk(k);
                }
            }
            Payload::All(resp3) => Reply::new(&mut v, *resp3).null(),
        }
        v
    }
}

/// Starts holding `h`'s invalidations (its pipeline is being answered).
pub fn hold(h: &ClientHandle) {
    let mut held = h.held.borrow_mut();
    if held.0.is_none() {
        held.0 = Some(Vec::new());
    }
}

/// Appends the invalidations held for `h` to `out` and stops holding.
pub fn release(h: &ClientHandle, out: &mut Vec<u8>) {
    if let Some(v) = h.held.borrow_mut().0.take() {
        out.extend_from_slice(&v);
    }
}

/// Moves the invalidations held for `h` into `out` and goes on holding:
/// those caused by evictions the next command's room-making did go before
/// that command's reply, as in Redis.
pub fn release_held(h: &ClientHandle, out: &mut Vec<u8>) {
    if let Some(v) = h.held.borrow_mut().0.as_mut() {
        out.append(v);
    }
}

/// Before a command of a tracking client runs: remembers the keys a
/// read-only command is about to read (on the shards owning them, before
/// the read itself reaches them), and consumes CLIENT CACHING.
pub async fn before_command(c: &mut Session, spec: &'static CommandSpec, args: Args<'_>) {
    let remember = {
        let mut t = c.handle.tracking.borrow_mut();
        let Some(t) = t.as_mut() else {
            return;
        };
        // As in Redis, CLIENT subcommands (CACHING itself, TRACKINGINFO)
        // leave CLIENT CACHING for the next other command.
        if spec.name.starts_with("client|") {
            return;
        }
        let caching = std::mem::take(&mut t.caching);
        // A script's keys are tracked once it reads (scripting::call).
        spec.has(flags::READONLY)
            && !spec.has(flags::PUBSUB | flags::OWN_LOCKS)
            && !t.bcast
            && (!t.optin || caching)
            && (!t.optout || !caching)
    };
    if !remember {
        return;
    }
    let mut idx = Vec::new();
    spec.key_indexes(args, &mut idx);
    if idx.is_empty() {
        return;
    }
    let core = c.core.clone();
    let reader = Reader {
        id: c.id,
        core: core.id as u32,
    };
    let groups = crate::shard::group_by_owner(idx, |&i| c.owner(args.get(i)));
    if groups.iter().any(|g| g.0 != core.id) {
        // Hops already queued for those shards run first: a queued write
        // to a key this command reads must not consume the entry.
        c.flush_pending().await;
    }
    for (t, ix) in groups {
        if t == core.id {
            table::with(|tb| {
                for i in ix {
                    tb.remember(args.get(i), reader);
                }
            });
        } else {
            let keys: Vec<Box<[u8]>> = ix.iter().map(|&i| args.get(i).into()).collect();
            core.post(t, move |_| {
                table::with(|tb| {
                    for k in &keys {
                        tb.remember(k, reader);
                    }
                })
            });
        }
    }
}

/// Sends the invalidations this core's shard gathered to the cores of
/// their clients. Called after every piece of shard work: without a
/// tracking client it is one thread-local test.
#[inline]
pub fn flush(core: &Rc<Core>) {
    if table::active() {
        flush_gathered(core);
    }
}

#[inline(never)]
fn flush_gathered(core: &Rc<Core>) {
    let (local, remote) = take_grouped(core.id);
    for (t, notes) in remote {
        core.post(t as usize, move |c| deliver(c, notes));
    }
    if !local.is_empty() {
        deliver(core, local);
    }
}

/// The invalidations this core's shard gathered: those for clients of core
/// `here`, and the others grouped by their clients' cores.
fn take_grouped(here: usize) -> (Vec<Note>, Vec<(u32, Vec<Note>)>) {
    let mut local = Vec::new();
    let mut remote: Vec<(u32, Vec<Note>)> = Vec::new();
    let Some(out) = table::take_outbox() else {
        return (local, remote);
    };
    for (t, n) in out.notes {
        if t as usize == here {
            local.push(n);
        } else {
            match remote.iter_mut().find(|g| g.0 == t) {
                Some(g) => g.1.push(n),
                None => remote.push((t, vec![n])),
            }
        }
    }
    (local, remote)
}

/// Sends the invalidations shard `shard` gathered and waits until each core
/// with clients to tell has written them to their sockets (BCAST ones
/// included, without waiting for the turn's end; as far as the sockets
/// take them, see [`crate::runtime::reactor::send_now`]). The shard's core
/// sends its own clients' at once.
pub async fn flush_sent(core: &Rc<Core>, shard: usize) {
    let others = if shard == core.id {
        send_own(core)
    } else {
        core.run_on(shard, send_own).await
    };
    for (t, notes) in others {
        if t as usize == core.id {
            deliver_sent(core, notes);
        } else {
            core.run_on(t as usize, move |c| deliver_sent(c, notes))
                .await;
        }
    }
}

/// Sends the invalidations this core's shard gathered for this core's
/// clients now; returns the others, grouped by their clients' cores.
fn send_own(core: &Rc<Core>) -> Vec<(u32, Vec<Note>)> {
    let (own, others) = take_grouped(core.id);
    if !own.is_empty() {
        deliver_sent(core, own);
    }
    others
}

/// Delivers `notes` to this core's clients and writes them to the sockets
/// now.
fn deliver_sent(core: &Rc<Core>, notes: Vec<Note>) {
    deliver(core, notes);
    end_turn(core);
    crate::runtime::reactor::send_now();
}

/// BCAST keys gathered on this core during a loop turn: per client and
/// prefix, the keys told in one message at the turn's end.
#[derive(Default)]
struct Bcast {
    pending: Vec<BcastGroup>,
}

/// A client id, the index of its prefix, the keys under it.
type BcastGroup = (u64, usize, Vec<Box<[u8]>>);

thread_local! {
    static BCAST: std::cell::RefCell<Bcast> = std::cell::RefCell::new(Bcast::default());
    static BCAST_DUE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Writes notes to this core's clients that still want them: a key read
/// at once, BCAST keys gathered until the loop turn ends (one message per
/// client and prefix, as Redis sends them before it sleeps).
fn deliver(core: &Rc<Core>, notes: Vec<Note>) {
    let mut single: Vec<(Rc<ClientHandle>, Box<[u8]>)> = Vec::new();
    {
        let clients = core.clients().borrow();
        for n in notes {
            let Some(h) = clients.map.get(&n.client) else {
                continue;
            };
            let t = h.tracking.borrow();
            let Some(t) = t.as_ref() else {
                continue;
            };
            if t.bcast != n.bcast || (t.noloop && n.writer == n.client) {
                continue;
            }
            if !n.bcast {
                single.push((h.clone(), n.key));
                continue;
            }
            let Some(p) = t.prefixes.iter().position(|p| n.key.starts_with(p)) else {
                continue;
            };
            BCAST.with_borrow_mut(|b| {
                match b.pending.iter_mut().find(|g| g.0 == n.client && g.1 == p) {
                    Some(g) => {
                        if !g.2.contains(&n.key) {
                            g.2.push(n.key);
                        }
                    }
                    None => b.pending.push((n.client, p, vec![n.key])),
                }
            });
            BCAST_DUE.set(true);
        }
    }
    for (h, key) in single {
        send(core, &h, Payload::Keys(&[&key]));
    }
}

/// The end of a loop turn: sends the BCAST keys gathered during it.
#[inline]
pub fn end_turn(core: &Rc<Core>) {
    if !BCAST_DUE.get() {
        return;
    }
    BCAST_DUE.set(false);
    let pending = BCAST.with_borrow_mut(|b| std::mem::take(&mut b.pending));
    for (id, _, keys) in pending {
        let h = core.clients().borrow().map.get(&id).cloned();
        let Some(h) = h else {
            continue;
        };
        if !h.tracking.borrow().as_ref().is_some_and(|t| t.bcast) {
            continue;
        }
        let keys: Vec<&[u8]> = keys.iter().map(|k| &**k).collect();
        send(core, &h, Payload::Keys(&keys));
    }
}

/// Sends one invalidation for tracking client `h` (of this core) to
/// whoever receives its invalidations.
fn send(core: &Rc<Core>, h: &Rc<ClientHandle>, payload: Payload<'_>) {
    let (redirect, redirect_core) = match h.tracking.borrow().as_ref() {
        Some(t) => (t.redirect, t.redirect_core),
        None => return,
    };
    let bytes = payload.encode();
    if redirect == 0 {
        write_to(core, h, false, &bytes);
        return;
    }
    let id = h.info.borrow().id;
    let origin = core.id;
    if redirect_core == core.id {
        let target = core.clients().borrow().map.get(&redirect).cloned();
        match target {
            Some(r) => write_to(core, &r, true, &bytes),
            None => redirect_broken(core, id),
        }
    } else {
        core.post(redirect_core, move |c| {
            let target = c.clients().borrow().map.get(&redirect).cloned();
            match target {
                Some(r) => write_to(c, &r, true, &bytes),
                None => c.post(origin, move |o| redirect_broken(o, id)),
            }
        });
    }
}

/// The redirect target of client `id` (of this core) is gone: it is told
/// (RESP3 only), as Redis does each time an invalidation was due.
fn redirect_broken(core: &Rc<Core>, id: u64) {
    let Some(h) = core.clients().borrow().map.get(&id).cloned() else {
        return;
    };
    let redirect = {
        let mut t = h.tracking.borrow_mut();
        let Some(t) = t.as_mut() else {
            return;
        };
        t.broken = true;
        t.redirect
    };
    if h.info.borrow().resp != 3 {
        return;
    }
    let mut frame = Vec::new();
    let mut r = Reply::new(&mut frame, true);
    r.push(2);
    r.bulk(b"tracking-redir-broken");
    r.int(redirect as i64);
    queue(core, &h, &frame);
}

/// Frames an invalidation for its receiver `h`: a push in RESP3; for a
/// RESP2 redirect target in Pub/Sub mode, a message on
/// `__redis__:invalidate`; nothing otherwise (RESP2 has no pushes).
fn write_to(core: &Rc<Core>, h: &Rc<ClientHandle>, redirected: bool, payload: &[u8]) {
    let resp3 = h.info.borrow().resp == 3;
    let mut frame = Vec::with_capacity(payload.len() + 48);
    let mut r = Reply::new(&mut frame, resp3);
    if resp3 {
        r.push(2);
        r.bulk(b"invalidate");
    } else if redirected && h.subscribed() {
        r.push(3);
        r.bulk(b"message");
        r.bulk(b"__redis__:invalidate");
    } else {
        return;
    }
    frame.extend_from_slice(payload);
    queue(core, h, &frame);
}

/// Queues a frame for `h`: after its replies while its pipeline is being
/// answered, else through the Pub/Sub path to its socket.
fn queue(core: &Rc<Core>, h: &Rc<ClientHandle>, frame: &[u8]) {
    if let Some(v) = h.held.borrow_mut().0.as_mut() {
        v.extend_from_slice(frame);
        return;
    }
    let n = super::pubsub::send(core, h, frame);
    if n > 0 {
        crate::metrics::with(|s| s.net_output_bytes += n as u64);
    }
}

/// FLUSHALL / FLUSHDB: every core forgets its remembered reads and tells
/// each of its tracking clients that all keys changed.
pub async fn flushed(core: &Rc<Core>) {
    core.broadcast(|c| {
        table::with(|t| t.clear_keys());
        let handles: Vec<Rc<ClientHandle>> = c
            .clients()
            .borrow()
            .map
            .values()
            .filter(|h| h.tracking.borrow().is_some())
            .cloned()
            .collect();
        for h in handles {
            let resp3 = h.info.borrow().resp == 3;
            send(c, &h, Payload::All(resp3));
        }
    })
    .await;
}

/// `tracking-table-max-keys`: over the limit (the sum of every shard's
/// table), this shard invalidates its share of the excess, as Redis evicts
/// table entries by sending invalidations. Run from the core's cron.
pub fn limit(core: &Rc<Core>) {
    let own = table::with(|t| t.sizes().0);
    if let Some(c) = core.engine.tracking_keys.get(core.id) {
        c.0.store(own, Ordering::Relaxed);
    }
    let max = core
        .config
        .borrow()
        .get_i64("tracking-table-max-keys")
        .max(0) as usize;
    if max == 0 || own == 0 {
        return;
    }
    let total: usize = core
        .engine
        .tracking_keys
        .iter()
        .map(|c| c.0.load(Ordering::Relaxed))
        .sum::<usize>()
        .max(own);
    if total <= max {
        return;
    }
    let excess = (total - max) as u128 * own as u128;
    let share = excess.div_ceil(total as u128) as usize;
    table::set_writer(0);
    table::with(|t| t.shrink_to(own.saturating_sub(share), 100));
    if let Some(c) = core.engine.tracking_keys.get(core.id) {
        c.0.store(table::with(|t| t.sizes().0), Ordering::Relaxed);
    }
    flush(core);
}

/// Finds the core of client `id`, if it is connected.
async fn core_of(c: &Session, id: u64) -> Option<usize> {
    if c.core.clients().borrow().map.contains_key(&id) {
        return Some(c.core.id);
    }
    let found = c
        .core
        .broadcast(move |core| core.clients().borrow().map.contains_key(&id))
        .await;
    found.iter().position(|&f| f)
}

/// True when two prefixes would report the same key.
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]`, with Redis's checks and errors.
pub async fn client_tracking(c: &mut Session, a: &crate::command::OwnedArgs) {
    use crate::command::util::{SYNTAX, eq, parse_i64};
    let mut redirect: Option<i64> = None;
    let (mut bcast, mut optin, mut optout, mut noloop) = (false, false, false, false);
    let mut prefixes: Vec<Box<[u8]>> = Vec::new();
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        let opt = a.get(j);
        if eq(opt, "redirect") && more {
            j += 1;
            if redirect.is_some() {
                return c.error("ERR A client can only redirect to a single other client");
            }
            let Some(id) = parse_i64(a.get(j)) else {
                return c.error("ERR value is not an integer or out of range");
            };
            redirect = Some(id);
        } else if eq(opt, "bcast") {
            bcast = true;
        } else if eq(opt, "optin") {
            optin = true;
        } else if eq(opt, "optout") {
            optout = true;
        } else if eq(opt, "noloop") {
            noloop = true;
        } else if eq(opt, "prefix") && more {
            j += 1;
            prefixes.push(a.get(j).into());
        } else {
            return c.error(SYNTAX);
        }
        j += 1;
    }
    let mut redirect_core = c.core.id;
    if let Some(id) = redirect {
        // Checked as the option is read, as Redis does.
        match core_of(c, id as u64).await {
            Some(t) => redirect_core = t,
            None => return c.error("ERR The client ID you want redirect to does not exist"),
        }
    }
    let mode = a.get(2);
    if eq(mode, "off") {
        disable(c).await;
        return c.reply().ok();
    }
    if !eq(mode, "on") {
        return c.error(SYNTAX);
    }
    if !bcast && !prefixes.is_empty() {
        return c.error("ERR PREFIX option requires BCAST mode to be enabled");
    }
    let (was_on, old_bcast, old_optin, old_optout, old_prefixes) = {
        let t = c.handle.tracking.borrow();
        match t.as_ref() {
            Some(t) => (true, t.bcast, t.optin, t.optout, t.prefixes.clone()),
            None => (false, false, false, false, Vec::new()),
        }
    };
    if was_on && old_bcast != bcast {
        return c.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if bcast && (optin || optout) {
        return c.error("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if optin && optout {
        return c.error("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if (optin && old_optout) || (optout && old_optin) {
        return c.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if bcast {
        for (i, p) in prefixes.iter().enumerate() {
            if let Some(old) = old_prefixes.iter().find(|o| overlap(o, p)) {
                let msg = format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(old)
                );
                return c.error(&msg);
            }
            if let Some(other) = prefixes[i + 1..].iter().find(|o| overlap(p, o)) {
                let msg = format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(other)
                );
                return c.error(&msg);
            }
        }
        if prefixes.is_empty() {
            prefixes.push(Box::default());
        }
    }
    let new: Vec<Box<[u8]>> = prefixes
        .into_iter()
        .filter(|p| !old_prefixes.contains(p))
        .collect();
    if !new.is_empty() {
        let reader = Reader {
            id: c.id,
            core: c.core.id as u32,
        };
        let shared = std::sync::Arc::new(new.clone());
        c.core
            .broadcast(move |_| {
                let ps = shared.clone();
                table::with(|t| {
                    for p in ps.iter() {
                        t.add_prefix(p, reader);
                    }
                })
            })
            .await;
    }
    if !was_on {
        c.core
            .engine
            .tracking_clients
            .fetch_add(1, Ordering::Relaxed);
    }
    {
        let mut slot = c.handle.tracking.borrow_mut();
        let t = slot.get_or_insert_with(Default::default);
        t.bcast = bcast;
        t.optin = optin;
        t.optout = optout;
        t.noloop = noloop;
        t.broken = false;
        t.redirect = redirect.unwrap_or(0) as u64;
        t.redirect_core = redirect_core;
        t.prefixes.extend(new);
        t.prefixes.sort();
    }
    c.tracking = true;
    c.reply().ok();
}

/// Turns tracking off (CLIENT TRACKING OFF, RESET, the connection's end):
/// its BCAST prefixes go from every core; remembered reads stay in the
/// tables until their keys change, as in Redis.
pub async fn disable(c: &mut Session) {
    let Some(t) = c.handle.tracking.borrow_mut().take() else {
        return;
    };
    c.tracking = false;
    release(&c.handle, &mut c.out);
    c.core
        .engine
        .tracking_clients
        .fetch_sub(1, Ordering::Relaxed);
    if t.bcast {
        let id = c.id;
        c.core
            .broadcast(move |_| table::with(|tb| tb.remove_prefixes(id)))
            .await;
    }
}

/// `CLIENT CACHING YES|NO`.
pub fn client_caching(c: &mut Session, arg: &[u8]) {
    use crate::command::util::{SYNTAX, eq};
    let err = {
        let mut t = c.handle.tracking.borrow_mut();
        match t.as_mut() {
            None => Some(
                "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
            ),
            Some(t) if eq(arg, "yes") => {
                if t.optin {
                    t.caching = true;
                    None
                } else {
                    Some(
                        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
                    )
                }
            }
            Some(t) if eq(arg, "no") => {
                if t.optout {
                    t.caching = true;
                    None
                } else {
                    Some(
                        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
                    )
                }
            }
            Some(_) => Some(SYNTAX),
        }
    };
    match err {
        Some(e) => c.error(e),
        None => c.reply().ok(),
    }
}

/// `CLIENT TRACKINGINFO`.
pub fn client_trackinginfo(c: &mut Session) {
    let (flags, redirect, prefixes) = {
        let t = c.handle.tracking.borrow();
        match t.as_ref() {
            None => (vec!["off"], -1, Vec::new()),
            Some(t) => {
                let mut f = vec!["on"];
                if t.bcast {
                    f.push("bcast");
                }
                if t.optin {
                    f.push("optin");
                    if t.caching {
                        f.push("caching-yes");
                    }
                }
                if t.optout {
                    f.push("optout");
                    if t.caching {
                        f.push("caching-no");
                    }
                }
                if t.noloop {
                    f.push("noloop");
                }
                if t.broken {
                    f.push("broken_redirect");
                }
                (f, t.redirect as i64, t.prefixes.clone())
            }
        }
    };
    let mut r = c.reply();
    r.map(3);
    r.bulk(b"flags");
    r.set(flags.len());
    for f in flags {
        r.bulk(f.as_bytes());
    }
    r.bulk(b"redirect");
    r.int(redirect);
    r.bulk(b"prefixes");
    r.array(prefixes.len());
    for p in &prefixes {
        r.bulk(p);
    }
}

/// `CLIENT GETREDIR`.
pub fn client_getredir(c: &mut Session) {
    let id = c
        .handle
        .tracking
        .borrow()
        .as_ref()
        .map_or(-1, |t| t.redirect as i64);
    c.reply().int(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        assert!(overlap(b"a", b"ab"));
        assert!(overlap(b"ab", b"a"));
        assert!(overlap(b"", b"x"));
        assert!(!overlap(b"ab", b"ac"));
    }

    #[test]
    fn payloads_follow_redis() {
        assert_eq!(
            Payload::Keys(&[b"k".as_slice()]).encode(),
            b"*1\r\n$1\r\nk\r\n"
        );
        assert_eq!(Payload::All(false).encode(), b"$-1\r\n");
        assert_eq!(Payload::All(true).encode(), b"_\r\n");
    }
}
