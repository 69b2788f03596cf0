//! The blocking commands: BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH (lists) and
//! BZPOPMIN, BZPOPMAX, BZMPOP (sorted sets).
//!
//! ```text
//!  1. try the keys in argument order, like the non-blocking command
//!     (the first existing key decides: wrong type → error, elements → served)
//!  2. nothing to pop: block (session::blocking) until a push serves us,
//!     the timeout passes (null reply) or the client leaves
//! ```
//!
//! Inside a shard, serving pops at the moment a waiter is claimed, so an element
//! reaches exactly one client. A BLMOVE whose destination is on another shard
//! moves at once under both keys' locks when the source has an element
//! (see [`crate::shard::txn`]); a blocked one is served by the pop on the
//! source shard and pushes from the client's core, the element in flight in
//! between (delivered exactly once, but visible in neither list meanwhile).

use super::flags::*;
use super::list::{
    End, lmove, lmove_across_op, parse_end, parse_mpop, pop_count, push, push_or_give_back,
    reply_mpop,
};
use super::util::WRONGTYPE;
use super::zset::{
    Pairs, parse_mpop as parse_zmpop, reply_mpop as zreply_mpop, zadd_pairs, zpop, zset_ready,
};
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs};
use crate::command::session::Session;
use crate::command::session::blocking::{BlockSpec, Outcome, Starting, block};
use crate::protocol::{Args, Reply};
use crate::shard::blocking::{ReadyFn, ServeFn, Served, Undo, Waiter};
use crate::shard::slot::key_owner;
use crate::shard::txn;
use crate::storage::Value;
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";

/// Parses a blocking timeout in seconds (decimals allowed) the way Redis 7.0
/// does: `None` blocks forever (0).
pub fn parse_timeout(a: &[u8]) -> Result<Option<Duration>, &'static str> {
    let t = super::util::parse_f64(a).ok_or(TIMEOUT_NOT_FLOAT)?;
    let ms = t * 1000.0;
    // Redis converts to a long long: infinities and overflow come out negative.
    if ms < 0.0 || !ms.is_finite() || ms >= i64::MAX as f64 {
        return Err(TIMEOUT_NEGATIVE);
    }
    let ms = ms as u64;
    Ok(if ms == 0 {
        None
    } else {
        Some(Duration::from_millis(ms))
    })
}

fn is_list(v: &Value) -> bool {
    matches!(v, Value::List(l) if !l.is_empty())
}

/// [`ReadyFn`] of the list pops: a non-empty list.
fn list_ready(v: Option<&Value>, _w: &Waiter, _key: &[u8]) -> bool {
    v.is_some_and(is_list)
}

/// [`ReadyFn`] of the sorted-set pops: a non-empty sorted set.
fn zset_ready_at(v: Option<&Value>, _w: &Waiter, _key: &[u8]) -> bool {
    v.is_some_and(zset_ready)
}

fn reply_bytes(resp3: bool, f: impl FnOnce(&mut Reply<'_>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut Reply::new(&mut out, resp3));
    out
}

/// Puts popped elements back at the end they came from, in their order.
fn undo_pop(key: Vec<u8>, end: End, elems: Vec<Vec<u8>>) -> Undo {
    Box::new(move |ctx: &mut Ctx<'_>| {
        let now = ctx.now;
        let back: Vec<&Vec<u8>> = elems.iter().rev().collect();
        let _ = push(ctx.db(), &key, now, end, &back);
    })
}

// ----------------------------------------------------------------- BLPOP/BRPOP

fn pop_end(w: &Waiter) -> End {
    if w.args.get(0).eq_ignore_ascii_case(b"brpop") {
        End::Right
    } else {
        End::Left
    }
}

fn serve_pop(ctx: &mut Ctx<'_>, key: &[u8], w: &Waiter) -> Option<(Served, Undo)> {
    let end = pop_end(w);
    let now = ctx.now;
    let elems = pop_count(ctx.db(), key, now, end, 1).ok()??;
    let elem = elems.first()?.clone();
    let reply = reply_bytes(w.resp3, |r| {
        r.array(2);
        r.bulk(key);
        r.bulk(&elem);
    });
    Some((Served::Reply(reply), undo_pop(key.to_vec(), end, elems)))
}

/// `CMD key [key ...] timeout`: BLPOP, BRPOP, BZPOPMIN, BZPOPMAX.
fn keys_then_timeout(
    c: &mut Session,
    a: OwnedArgs,
    ready: ReadyFn,
    serve: ServeFn,
) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n = a.len();
        let timeout = match parse_timeout(a.get(n - 1)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        let keys = (1..n - 1).map(|i| a.get(i).to_vec()).collect();
        pop_or_block(c, a, keys, timeout, ready, serve).await;
    })
}

/// Every blocking pop: try the keys in argument order, each on its shard,
/// exactly as the non-blocking command would (the first existing key decides:
/// another type is an error, elements are served at once by the same `serve`
/// a waiter gets), then block.
async fn pop_or_block(
    c: &mut Session,
    a: OwnedArgs,
    keys: Vec<Vec<u8>>,
    timeout: Option<Duration>,
    ready: ReadyFn,
    serve: ServeFn,
) {
    // Inside MULTI/EXEC the command never blocks and takes no place in the
    // order blocked clients are served in.
    let starting = (!c.deny_blocking).then(|| Starting::begin(&c.core));
    let ticket = starting.as_ref().map(Starting::ticket);
    let probe = Arc::new(Waiter::new(
        c.core.id,
        c.id,
        c.db,
        c.resp3,
        a.clone(),
        Vec::new(),
        ready,
        serve,
        ticket.unwrap_or(0),
    ));
    // A command that started earlier and is still on its way to register
    // is served first: this one queues behind it.
    let behind = ticket.is_some_and(|t| c.core.engine.block_order.earlier_registering(t));
    for k in &keys {
        let (k2, w) = (k.clone(), probe.clone());
        let r = c
            .on_key(k, move |ctx| {
                let now = ctx.now;
                let ready = ctx
                    .db()
                    .peek(&k2, now)
                    .map(|e| (w.ready)(Some(&e.value), &w, &k2));
                match ready {
                    None => Ok(None),
                    Some(false) => Err(()),
                    Some(true) if behind => Ok(None),
                    Some(true) => Ok((w.serve)(ctx, &k2, &w).map(|(served, _)| served)),
                }
            })
            .await;
        match r {
            Err(()) => return c.error(WRONGTYPE),
            Ok(Some(served)) => return reply_served(c, &a, served).await,
            Ok(None) => {}
        }
    }
    let spec = BlockSpec {
        keys,
        timeout,
        ready,
        serve,
    };
    finish(c, a, spec, starting).await;
}

/// Blocks and writes the outcome; inside EXEC, answers as a timeout would.
/// `starting` is `None` exactly when the command may not block.
async fn finish(c: &mut Session, a: OwnedArgs, spec: BlockSpec, starting: Option<Starting>) {
    let Some(starting) = starting else {
        return c.reply().null_array();
    };
    match block(c, &a, a.clone(), spec, starting).await {
        Outcome::Served(served) => reply_served(c, &a, served).await,
        Outcome::TimedOut => c.reply().null_array(),
        Outcome::Gone => c.close = true,
    }
}

/// Writes a served command's reply; a cross-shard BLMOVE first pushes the
/// element to the destination its arguments name (or gives it back).
async fn reply_served(c: &mut Session, a: &OwnedArgs, served: Served) {
    match served {
        Served::Reply(bytes) => c.out.extend_from_slice(&bytes),
        Served::Move { elem } => {
            let Some((src, dst, from, to)) = move_args(a) else {
                return c.error(super::util::SYNTAX);
            };
            match push_or_give_back(c, &src, &dst, from, to, elem).await {
                Ok(v) => c.reply().bulk(&v),
                Err(_) => c.error(WRONGTYPE),
            }
        }
    }
}

/// `BLPOP key [key ...] timeout`
pub fn blpop(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    keys_then_timeout(c, a, list_ready, serve_pop)
}

/// `BRPOP key [key ...] timeout`
pub fn brpop(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    keys_then_timeout(c, a, list_ready, serve_pop)
}

// ----------------------------------------------------------------------- BLMPOP

/// Parsed `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
struct Mpop {
    keys: Vec<Vec<u8>>,
    end: End,
    count: usize,
}

fn parse_blmpop(a: &OwnedArgs) -> Result<Mpop, &'static str> {
    let m = parse_mpop(a.args(), 2)?;
    Ok(Mpop {
        keys: (3..3 + m.numkeys).map(|i| a.get(i).to_vec()).collect(),
        end: m.end,
        count: m.count,
    })
}

fn mpop_reply(resp3: bool, key: &[u8], elems: &[Vec<u8>]) -> Vec<u8> {
    reply_bytes(resp3, |r| reply_mpop(r, key, elems))
}

fn serve_mpop(ctx: &mut Ctx<'_>, key: &[u8], w: &Waiter) -> Option<(Served, Undo)> {
    let m = parse_blmpop(&w.args).ok()?;
    let now = ctx.now;
    let elems = pop_count(ctx.db(), key, now, m.end, m.count).ok()??;
    if elems.is_empty() {
        return None;
    }
    let reply = mpop_reply(w.resp3, key, &elems);
    Some((Served::Reply(reply), undo_pop(key.to_vec(), m.end, elems)))
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub fn blmpop(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let timeout = match parse_timeout(a.get(1)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        let m = match parse_blmpop(&a) {
            Ok(m) => m,
            Err(e) => return c.error(e),
        };
        pop_or_block(c, a, m.keys, timeout, list_ready, serve_mpop).await;
    })
}

// ------------------------------------------------------------ BLMOVE/BRPOPLPUSH

/// (source, destination, from, to) of BLMOVE or BRPOPLPUSH.
fn move_args(a: &OwnedArgs) -> Option<(Vec<u8>, Vec<u8>, End, End)> {
    if a.get(0).eq_ignore_ascii_case(b"brpoplpush") {
        Some((a.get(1).to_vec(), a.get(2).to_vec(), End::Right, End::Left))
    } else {
        Some((
            a.get(1).to_vec(),
            a.get(2).to_vec(),
            parse_end(a.get(3))?,
            parse_end(a.get(4))?,
        ))
    }
}

fn serve_move(ctx: &mut Ctx<'_>, key: &[u8], w: &Waiter) -> Option<(Served, Undo)> {
    let (_, dst, from, to) = move_args(&w.args)?;
    let now = ctx.now;
    let local = key_owner(&dst, ctx.shard.nshards) == ctx.shard.id;
    if local {
        let elem = match lmove(ctx.db(), key, &dst, now, from, to) {
            Ok(e) => e?,
            // The destination holds another type: the client gets the error,
            // the element stays.
            Err(_) => {
                let reply = reply_bytes(w.resp3, |r| r.error(WRONGTYPE));
                return Some((Served::Reply(reply), Box::new(|_: &mut Ctx<'_>| {})));
            }
        };
        ctx.db().touch_watched(&dst);
        let reply = reply_bytes(w.resp3, |r| r.bulk(&elem));
        let (src, e2) = (key.to_vec(), elem.clone());
        let undo: Undo = Box::new(move |ctx: &mut Ctx<'_>| {
            let now = ctx.now;
            // Take it back from where it went and return it to the source.
            if let Ok(Some(v)) = pop_count(ctx.db(), &dst, now, to, 1)
                && v.first() == Some(&e2)
            {
                let _ = push(ctx.db(), &src, now, from, &[&e2]);
            }
        });
        return Some((Served::Reply(reply), undo));
    }
    let elems = pop_count(ctx.db(), key, now, from, 1).ok()??;
    let elem = elems.first()?.clone();
    Some((Served::Move { elem }, undo_pop(key.to_vec(), from, elems)))
}

fn blmove_generic(c: &mut Session, a: OwnedArgs, timeout_idx: usize) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let Some((src, dst, from, to)) = move_args(&a) else {
            return c.error(super::util::SYNTAX);
        };
        let timeout = match parse_timeout(a.get(timeout_idx)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        let starting = (!c.deny_blocking).then(|| Starting::begin(&c.core));
        let behind = starting
            .as_ref()
            .is_some_and(|s| c.core.engine.block_order.earlier_registering(s.ticket()));
        // Step 1: the non-blocking move (types checked as LMOVE checks them).
        // Behind a command that started earlier and is still on its way,
        // only the source's type is checked: the move waits its turn in the
        // queue (where a wrong destination type is still reported).
        let same = c.owner(&src) == c.owner(&dst);
        if behind {
            let s2 = src.clone();
            let wrong = c
                .on_key(&src, move |ctx| {
                    let now = ctx.now;
                    ctx.db().peek(&s2, now).is_some_and(|e| !is_list(&e.value))
                })
                .await;
            if wrong {
                return c.error(WRONGTYPE);
            }
        } else if same {
            let (s2, d2) = (src.clone(), dst.clone());
            let r = c
                .on_key(&src, move |ctx| {
                    let now = ctx.now;
                    lmove(ctx.db(), &s2, &d2, now, from, to)
                })
                .await;
            match r {
                Err(_) => return c.error(WRONGTYPE),
                Ok(Some(elem)) => return c.reply().bulk(&elem),
                Ok(None) => {}
            }
        } else {
            // Both keys locked for the move: nobody sees the element in
            // neither list (inside EXEC the transaction holds them already).
            let held = if c.txid == 0 {
                let n = c.nshards();
                let keys = [&src, &dst]
                    .map(|k| (key_owner(k, n), (txn::lock_key(k), txn::Mode::Exclusive)));
                c.lock_keys(keys.to_vec(), None).await
            } else {
                None
            };
            let moved = lmove_across_op(c, &src, &dst, from, to).await;
            drop(held);
            match moved {
                Err(_) => return c.error(WRONGTYPE),
                Ok(Some(elem)) => return c.reply().bulk(&elem),
                Ok(None) => {}
            }
        }
        if c.deny_blocking {
            return c.reply().null();
        }
        let spec = BlockSpec {
            keys: vec![src],
            timeout,
            ready: list_ready,
            serve: serve_move,
        };
        finish(c, a, spec, starting).await;
    })
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
pub fn blmove(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    blmove_generic(c, a, 5)
}

/// `BRPOPLPUSH source destination timeout`
pub fn brpoplpush(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    blmove_generic(c, a, 3)
}

// ------------------------------------------------- BZPOPMIN/BZPOPMAX/BZMPOP

fn zpop_max(w: &Waiter) -> bool {
    w.args.get(0).eq_ignore_ascii_case(b"bzpopmax")
}

/// `[key, member, score]`: what BZPOPMIN/BZPOPMAX reply.
fn bzpop_reply(resp3: bool, key: &[u8], member: &[u8], score: f64) -> Vec<u8> {
    reply_bytes(resp3, |r| {
        r.array(3);
        r.bulk(key);
        r.bulk(member);
        r.double(score);
    })
}

fn undo_zpop(key: Vec<u8>, items: Pairs) -> Undo {
    Box::new(move |ctx: &mut Ctx<'_>| {
        let now = ctx.now;
        let _ = zadd_pairs(ctx.db(), now, &key, &items);
    })
}

fn serve_bzpop(ctx: &mut Ctx<'_>, key: &[u8], w: &Waiter) -> Option<(Served, Undo)> {
    let now = ctx.now;
    let items = zpop(ctx.db(), now, key, zpop_max(w), 1).ok()??;
    let (m, s) = items.first()?.clone();
    let reply = bzpop_reply(w.resp3, key, &m, s);
    Some((Served::Reply(reply), undo_zpop(key.to_vec(), items)))
}

/// `BZPOPMIN key [key ...] timeout`
pub fn bzpopmin(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    keys_then_timeout(c, a, zset_ready_at, serve_bzpop)
}

/// `BZPOPMAX key [key ...] timeout`
pub fn bzpopmax(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    keys_then_timeout(c, a, zset_ready_at, serve_bzpop)
}

fn zmpop_reply_bytes(resp3: bool, key: &[u8], items: Pairs) -> Vec<u8> {
    reply_bytes(resp3, |r| zreply_mpop(r, Some((key.to_vec(), items))))
}

fn serve_bzmpop(ctx: &mut Ctx<'_>, key: &[u8], w: &Waiter) -> Option<(Served, Undo)> {
    let req = parse_zmpop(w.args.args(), 2).ok()?;
    let now = ctx.now;
    let items = zpop(ctx.db(), now, key, req.max, req.count).ok()??;
    if items.is_empty() {
        return None;
    }
    let reply = zmpop_reply_bytes(w.resp3, key, items.clone());
    Some((Served::Reply(reply), undo_zpop(key.to_vec(), items)))
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`
pub fn bzmpop(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let timeout = match parse_timeout(a.get(1)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        let req = match parse_zmpop(a.args(), 2) {
            Ok(r) => r,
            Err(e) => return c.error(e),
        };
        let keys = req.keys.map(|i| a.get(i).to_vec()).collect();
        pop_or_block(c, a, keys, timeout, zset_ready_at, serve_bzmpop).await;
    })
}

// ------------------------------------------------ inside a transaction

/// The form a blocking command takes inside a transaction whose keys are all
/// on this shard: the first key with elements serves it at once, as the
/// blocking form's first try would; otherwise the reply of a timeout.
fn pop_now(
    ctx: &mut Ctx<'_>,
    r: &mut Reply<'_>,
    a: OwnedArgs,
    keys: Result<Vec<Vec<u8>>, &'static str>,
    ready: ReadyFn,
    serve: ServeFn,
) {
    let keys = match keys {
        Ok(k) => k,
        Err(e) => return r.error(e),
    };
    let probe = Waiter::new(
        ctx.shard.id,
        0,
        ctx.db,
        r.resp3,
        a,
        Vec::new(),
        ready,
        serve,
        0,
    );
    // Only the key popped from changes.
    crate::metrics::signalled_own_keys();
    for k in &keys {
        let now = ctx.now;
        match ctx
            .db()
            .peek(k, now)
            .map(|e| ready(Some(&e.value), &probe, k))
        {
            None => {}
            Some(false) => return r.error(WRONGTYPE),
            Some(true) => {
                if let Some((Served::Reply(bytes), _)) = serve(ctx, k, &probe) {
                    super::util::changed_only(ctx.db(), k);
                    return r.raw(&bytes);
                }
            }
        }
    }
    r.null_array();
}

/// Keys and timeout of `CMD key [key ...] timeout`.
fn keys_before_timeout(a: &OwnedArgs) -> Result<Vec<Vec<u8>>, &'static str> {
    let n = a.len();
    parse_timeout(a.get(n - 1))?;
    Ok((1..n - 1).map(|i| a.get(i).to_vec()).collect())
}

fn blpop_now(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let a = OwnedArgs::from_args(a);
    let keys = keys_before_timeout(&a);
    pop_now(ctx, r, a, keys, list_ready, serve_pop);
}

fn bzpop_now(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let a = OwnedArgs::from_args(a);
    let keys = keys_before_timeout(&a);
    pop_now(ctx, r, a, keys, zset_ready_at, serve_bzpop);
}

fn blmpop_now(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let a = OwnedArgs::from_args(a);
    let keys = parse_timeout(a.get(1)).and_then(|_| parse_blmpop(&a).map(|m| m.keys));
    pop_now(ctx, r, a, keys, list_ready, serve_mpop);
}

fn bzmpop_now(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let a = OwnedArgs::from_args(a);
    let keys = parse_timeout(a.get(1)).and_then(|_| {
        parse_zmpop(a.args(), 2).map(|req| req.keys.map(|i| a.get(i).to_vec()).collect())
    });
    pop_now(ctx, r, a, keys, zset_ready_at, serve_bzmpop);
}

fn blmove_now_at(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, timeout_idx: usize) {
    let a = OwnedArgs::from_args(a);
    let Some((src, dst, from, to)) = move_args(&a) else {
        return r.error(super::util::SYNTAX);
    };
    if let Err(e) = parse_timeout(a.get(timeout_idx)) {
        return r.error(e);
    }
    let now = ctx.now;
    match lmove(ctx.db(), &src, &dst, now, from, to) {
        Err(_) => r.error(WRONGTYPE),
        Ok(Some(elem)) => r.bulk(&elem),
        Ok(None) => r.null(),
    }
}

fn blmove_now(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    blmove_now_at(ctx, r, a, 5);
}

fn brpoplpush_now(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    blmove_now_at(ctx, r, a, 3);
}

fn blmpop_keys(a: crate::protocol::Args<'_>, out: &mut Vec<usize>) {
    super::list::mpop_key_positions(a, 2, out);
}

const BLOCK_ACL: &[&str] = &["write", "list", "slow", "blocking"];
const ZBLOCK_FAST: &[&str] = &["write", "sortedset", "fast", "blocking"];

fn bzmpop_keys(a: crate::protocol::Args<'_>, out: &mut Vec<usize>) {
    super::list::mpop_key_positions(a, 2, out);
}

/// The blocking list command specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "blpop",
        arity: -3,
        flags: WRITE | NOSCRIPT | BLOCKING,
        first_key: 1,
        last_key: -2,
        step: 1,
        acl: BLOCK_ACL,
        group: "list",
        summary: "Remove and get the first element in a list, or block until one is available",
        since: "2.0.0",
        shard: Some(blpop_now),
        coord: Some(blpop),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "brpop",
        arity: -3,
        flags: WRITE | NOSCRIPT | BLOCKING,
        first_key: 1,
        last_key: -2,
        step: 1,
        acl: BLOCK_ACL,
        group: "list",
        summary: "Remove and get the last element in a list, or block until one is available",
        since: "2.0.0",
        shard: Some(blpop_now),
        coord: Some(brpop),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "blmpop",
        arity: -5,
        flags: WRITE | BLOCKING | MOVABLE_KEYS,
        keys: Some(blmpop_keys),
        acl: BLOCK_ACL,
        group: "list",
        summary: "Pop elements from a list, or block until one is available",
        since: "7.0.0",
        shard: Some(blmpop_now),
        coord: Some(blmpop),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "blmove",
        arity: 6,
        flags: WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        first_key: 1,
        last_key: 2,
        step: 1,
        acl: BLOCK_ACL,
        group: "list",
        summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
        since: "6.2.0",
        shard: Some(blmove_now),
        coord: Some(blmove),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "brpoplpush",
        arity: 4,
        flags: WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        first_key: 1,
        last_key: 2,
        step: 1,
        acl: BLOCK_ACL,
        group: "list",
        summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
        since: "2.2.0",
        shard: Some(brpoplpush_now),
        coord: Some(brpoplpush),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzpopmin",
        arity: -3,
        flags: WRITE | NOSCRIPT | BLOCKING | FAST,
        first_key: 1,
        last_key: -2,
        step: 1,
        acl: ZBLOCK_FAST,
        group: "sorted_set",
        summary: "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        since: "5.0.0",
        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
        shard: Some(bzpop_now),
        coord: Some(bzpopmin),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzpopmax",
        arity: -3,
        flags: WRITE | NOSCRIPT | BLOCKING | FAST,
        first_key: 1,
        last_key: -2,
        step: 1,
        acl: ZBLOCK_FAST,
        group: "sorted_set",
        summary: "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        since: "5.0.0",
        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
        shard: Some(bzpop_now),
        coord: Some(bzpopmax),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "bzmpop",
        arity: -5,
        flags: WRITE | BLOCKING | MOVABLE_KEYS,
        keys: Some(bzmpop_keys),
        acl: &["write", "sortedset", "slow", "blocking"],
        group: "sorted_set",
        summary: "Remove and return members with scores in a sorted set or block until one is available",
        since: "7.0.0",
        shard: Some(bzmpop_now),
        coord: Some(bzmpop),
        ..CommandSpec::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_redis_parses_them() {
        assert_eq!(parse_timeout(b"0"), Ok(None));
        assert_eq!(parse_timeout(b"0.5"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse_timeout(b"-1"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"1e20"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"inf"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"x"), Err(TIMEOUT_NOT_FLOAT));
        assert_eq!(parse_timeout(b"nan"), Err(TIMEOUT_NOT_FLOAT));
    }
}
