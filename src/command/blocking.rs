//! The blocking commands: BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH (lists) and
//! BZPOPMIN, BZPOPMAX, BZMPOP (sorted sets).
//!
//! ```text
//!  1. try the keys in argument order, like the non-blocking command
//!     (the first existing key decides: wrong type → error, elements → served)
//!  2. nothing to pop: block (server::blocking) until a push serves us,
//!     the timeout passes (null reply) or the client leaves
//! ```
//!
//! Inside a shard, serving pops at the moment a waiter is claimed, so an element
//! reaches exactly one client. A BLMOVE whose destination is on another shard
//! pops on the source shard and pushes from the client's core; between the two
//! the element is in flight (not lost; cross-shard atomicity is the transaction
//! scheduler's job).

use super::flags::*;
use super::list::{End, lmove, parse_end, parse_mpop, pop_count, push, reply_mpop};
use super::util::WRONGTYPE;
use super::zset::{
    Pairs, parse_mpop as parse_zmpop, reply_mpop as zreply_mpop, zadd_pairs, zpop, zset_ready,
};
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs};
use crate::protocol::Reply;
use crate::server::Conn;
use crate::server::blocking::{BlockSpec, Outcome, block};
use crate::shard::blocking::{Served, Undo, Waiter};
use crate::shard::slot::key_owner;
use crate::storage::Value;
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

fn pop_one(ctx: &mut Ctx<'_>, key: &[u8], end: End) -> Result<Option<Vec<u8>>, ()> {
    let now = ctx.now;
    match pop_count(ctx.db(), key, now, end, 1) {
        Err(_) => Err(()),
        Ok(Some(mut v)) if !v.is_empty() => Ok(v.pop()),
        Ok(_) => Ok(None),
    }
}

fn blpop_generic(c: &mut Conn, a: OwnedArgs, end: End) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n = a.len();
        let timeout = match parse_timeout(a.get(n - 1)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        let keys: Vec<Vec<u8>> = (1..n - 1).map(|i| a.get(i).to_vec()).collect();
        for k in &keys {
            let k2 = k.clone();
            let r = c.on_key(k, move |ctx| pop_one(ctx, &k2, end)).await;
            match r {
                Err(()) => return c.error(WRONGTYPE),
                Ok(Some(elem)) => {
                    let mut r = c.reply();
                    r.array(2);
                    r.bulk(k);
                    r.bulk(&elem);
                    return;
                }
                Ok(None) => {}
            }
        }
        let spec = BlockSpec {
            keys,
            timeout,
            ready: is_list,
            serve: serve_pop,
        };
        finish(c, a, spec).await;
    })
}

/// Blocks and writes the outcome (`Move` finishes a cross-shard BLMOVE).
async fn finish(c: &mut Conn, a: OwnedArgs, spec: BlockSpec) {
    match block(c, a, spec).await {
        Outcome::Served(Served::Reply(bytes)) => c.out.extend_from_slice(&bytes),
        Outcome::Served(Served::Move { elem, dest, left }) => {
            let end = if left { End::Left } else { End::Right };
            let e2 = elem.clone();
            let d2 = dest.clone();
            let pushed = c
                .on_key(&dest, move |ctx| {
                    let now = ctx.now;
                    push(ctx.db(), &d2, now, end, &[&e2]).is_ok()
                })
                .await;
            if pushed {
                c.reply().bulk(&elem);
            } else {
                c.error(WRONGTYPE);
            }
        }
        Outcome::TimedOut => c.reply().null_array(),
        Outcome::Gone => c.close = true,
    }
}

/// `BLPOP key [key ...] timeout`
pub fn blpop(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    blpop_generic(c, a, End::Left)
}

/// `BRPOP key [key ...] timeout`
pub fn brpop(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    blpop_generic(c, a, End::Right)
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
pub fn blmpop(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let timeout = match parse_timeout(a.get(1)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        let m = match parse_blmpop(&a) {
            Ok(m) => m,
            Err(e) => return c.error(e),
        };
        for k in &m.keys {
            let (end, count) = (m.end, m.count);
            let k2 = k.clone();
            let r = c
                .on_key(k, move |ctx| {
                    let now = ctx.now;
                    pop_count(ctx.db(), &k2, now, end, count)
                })
                .await;
            match r {
                Err(_) => return c.error(WRONGTYPE),
                Ok(Some(elems)) if !elems.is_empty() => {
                    let bytes = mpop_reply(c.resp3, k, &elems);
                    c.out.extend_from_slice(&bytes);
                    return;
                }
                Ok(_) => {}
            }
        }
        let spec = BlockSpec {
            keys: m.keys,
            timeout,
            ready: is_list,
            serve: serve_mpop,
        };
        finish(c, a, spec).await;
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
        let elem = lmove(ctx.db(), key, &dst, now, from, to).ok()??;
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
    Some((
        Served::Move {
            elem,
            dest: dst,
            left: matches!(to, End::Left),
        },
        undo_pop(key.to_vec(), from, elems),
    ))
}

fn blmove_generic(c: &mut Conn, a: OwnedArgs, timeout_idx: usize) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let Some((src, dst, from, to)) = move_args(&a) else {
            return c.error(super::util::SYNTAX);
        };
        let timeout = match parse_timeout(a.get(timeout_idx)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        // Step 1: the non-blocking move (types checked as LMOVE checks them).
        let same = c.owner(&src) == c.owner(&dst);
        if same {
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
            let d2 = dst.clone();
            let dst_ok = c
                .on_key(&dst, move |ctx| {
                    let now = ctx.now;
                    super::list::write_list(ctx.db(), &d2, now).is_ok()
                })
                .await;
            let s2 = src.clone();
            let popped = c
                .on_key(&src, move |ctx| {
                    let now = ctx.now;
                    match super::list::write_list(ctx.db(), &s2, now) {
                        Err(_) => Err(()),
                        Ok(None) => Ok(None),
                        Ok(Some(_)) if !dst_ok => Err(()),
                        Ok(Some(_)) => Ok(pop_count(ctx.db(), &s2, now, from, 1)
                            .ok()
                            .flatten()
                            .and_then(|mut v| v.pop())),
                    }
                })
                .await;
            match popped {
                Err(()) => return c.error(WRONGTYPE),
                Ok(Some(elem)) => {
                    let (d3, e3) = (dst.clone(), elem.clone());
                    let ok = c
                        .on_key(&dst, move |ctx| {
                            let now = ctx.now;
                            push(ctx.db(), &d3, now, to, &[&e3]).is_ok()
                        })
                        .await;
                    if ok {
                        c.reply().bulk(&elem);
                    } else {
                        c.error(WRONGTYPE);
                    }
                    return;
                }
                Ok(None) => {}
            }
        }
        let spec = BlockSpec {
            keys: vec![src],
            timeout,
            ready: is_list,
            serve: serve_move,
        };
        finish(c, a, spec).await;
    })
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
pub fn blmove(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    blmove_generic(c, a, 5)
}

/// `BRPOPLPUSH source destination timeout`
pub fn brpoplpush(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    blmove_generic(c, a, 3)
}

// ------------------------------------------------- BZPOPMIN/BZPOPMAX/BZMPOP

fn is_zset(v: &Value) -> bool {
    zset_ready(v)
}

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

fn bzpop_generic(c: &mut Conn, a: OwnedArgs, max: bool) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n = a.len();
        let timeout = match parse_timeout(a.get(n - 1)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        let keys: Vec<Vec<u8>> = (1..n - 1).map(|i| a.get(i).to_vec()).collect();
        for k in &keys {
            let k2 = k.clone();
            let r = c
                .on_key(k, move |ctx| {
                    let now = ctx.now;
                    zpop(ctx.db(), now, &k2, max, 1)
                })
                .await;
            match r {
                Err(_) => return c.error(WRONGTYPE),
                Ok(Some(items)) if !items.is_empty() => {
                    let (m, s) = &items[0];
                    let bytes = bzpop_reply(c.resp3, k, m, *s);
                    c.out.extend_from_slice(&bytes);
                    return;
                }
                Ok(_) => {}
            }
        }
        let spec = BlockSpec {
            keys,
            timeout,
            ready: is_zset,
            serve: serve_bzpop,
        };
        finish(c, a, spec).await;
    })
}

/// `BZPOPMIN key [key ...] timeout`
pub fn bzpopmin(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    bzpop_generic(c, a, false)
}

/// `BZPOPMAX key [key ...] timeout`
pub fn bzpopmax(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    bzpop_generic(c, a, true)
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
pub fn bzmpop(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let timeout = match parse_timeout(a.get(1)) {
            Ok(t) => t,
            Err(e) => return c.error(e),
        };
        let req = match parse_zmpop(a.args(), 2) {
            Ok(r) => r,
            Err(e) => return c.error(e),
        };
        let keys: Vec<Vec<u8>> = req.keys.clone().map(|i| a.get(i).to_vec()).collect();
        for k in &keys {
            let (k2, max, count) = (k.clone(), req.max, req.count);
            let r = c
                .on_key(k, move |ctx| {
                    let now = ctx.now;
                    zpop(ctx.db(), now, &k2, max, count)
                })
                .await;
            match r {
                Err(_) => return c.error(WRONGTYPE),
                Ok(Some(items)) if !items.is_empty() => {
                    let bytes = zmpop_reply_bytes(c.resp3, k, items);
                    c.out.extend_from_slice(&bytes);
                    return;
                }
                Ok(_) => {}
            }
        }
        let spec = BlockSpec {
            keys,
            timeout,
            ready: is_zset,
            serve: serve_bzmpop,
        };
        finish(c, a, spec).await;
    })
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
