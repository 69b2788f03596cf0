//! The list commands (non-blocking).
//!
//! ```text
//!  single-key commands ──► ShardFn on the owning shard
//!  LMOVE / RPOPLPUSH / LMPOP ──► ShardFn when every key is on one shard,
//!                                CoordFn otherwise (hop per shard, owned data)
//!  pop_count / mpop / lmove / push ──► pure operations on a `Db`, shared with
//!                                      the blocking commands
//! ```
//!
//! For the blocking commands: `pop_count` (BLPOP/BRPOP); `mpop`, `parse_mpop`,
//! `reply_mpop` and `mpop_key_positions` (BLMPOP, numkeys at index 2); `lmove`
//! and `parse_end` (BLMOVE/BRPOPLPUSH on one shard); `lmove_across_op` and
//! `push_or_give_back` (source and destination on different shards). Blocked
//! clients are woken by the keyspace itself when a watched key is created.
//!
//! Argument checks come in Redis's order (some commands parse numbers before
//! the key lookup, others after) and use its exact error texts.

use super::string::lookup_read;
use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, ShardFn, flags::*, keyflags};
use crate::command::session::Session;
use crate::protocol::{Args, Reply};
use crate::storage::Db;
use crate::storage::Value;
use crate::storage::db::Entry;
pub use crate::storage::list::End;
use crate::storage::list::{Fill, List};
use crate::storage::notify;

const OUT_OF_RANGE: &str = "ERR index out of range";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";
const MPOP_COUNT_POSITIVE: &str = "ERR count should be greater than 0";

/// What an MPOP pops: the key and its elements in pop order.
pub type Popped = (Vec<u8>, Vec<Vec<u8>>);

/// The value under a key was not a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

// ---------------------------------------------------------------------------
// Shard-side operations (shared with the blocking commands)
// ---------------------------------------------------------------------------

/// The event of a push at `end`.
fn push_event(end: End) -> &'static str {
    if end == End::Left { "lpush" } else { "rpush" }
}

/// The event of a pop at `end`.
fn pop_event(end: End) -> &'static str {
    if end == End::Left { "lpop" } else { "rpop" }
}

/// The list in an entry: Ok(None) for no entry, Err for another type.
#[inline]
pub fn as_list(e: Option<&mut Entry>) -> Result<Option<&mut List>, WrongType> {
    match e {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(WrongType),
        },
    }
}

/// Looks a list up for writing (lookupKeyWrite: no keyspace statistics).
#[inline]
pub fn write_list<'a>(
    db: &'a mut Db,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a mut List>, WrongType> {
    as_list(db.get(key, now))
}

/// Looks a list up for reading (lookupKeyRead: statistics and access time).
#[inline]
fn read_list<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut List>, WrongType> {
    as_list(lookup_read(ctx, key))
}

/// Pushes `elems` at `end` of the list at `key`, creating it when missing;
/// returns the new length.
pub fn push<T: AsRef<[u8]>>(
    db: &mut Db,
    key: &[u8],
    now: u64,
    end: End,
    elems: &[T],
) -> Result<usize, WrongType> {
    let fill = Fill::current();
    let dbi = db.index;
    if let Some(l) = write_list(db, key, now)? {
        for e in elems {
            l.push(end, e.as_ref(), fill);
        }
        notify::emit(notify::LIST, push_event(end), dbi, key);
        return Ok(l.len());
    }
    let mut l = List::new();
    for e in elems {
        l.push(end, e.as_ref(), fill);
    }
    let n = l.len();
    if n > 0 {
        db.set(key, Value::List(Box::new(l)));
        notify::emit(notify::LIST, push_event(end), dbi, key);
    }
    Ok(n)
}

/// Pops up to `count` elements from `end` of the list at `key` (in pop
/// order), deleting the key once empty. Ok(None) when there is no such key.
pub fn pop_count(
    db: &mut Db,
    key: &[u8],
    now: u64,
    end: End,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, WrongType> {
    let fill = Fill::current();
    let Some(l) = write_list(db, key, now)? else {
        return Ok(None);
    };
    let n = count.min(l.len());
    let out: Vec<Vec<u8>> = match end {
        End::Left => l.iter().take(n).map(|e| e.to_vec()).collect(),
        End::Right => l.iter_rev().take(n).map(|e| e.to_vec()).collect(),
    };
    l.drop_end(end, n, fill);
    let empty = l.is_empty();
    let dbi = db.index;
    if n > 0 {
        notify::emit(notify::LIST, pop_event(end), dbi, key);
    }
    if empty {
        db.remove(key);
        notify::emit(notify::GENERIC, "del", dbi, key);
    }
    Ok(Some(out))
}

/// LMPOP's core: pops up to `count` elements from the first non-empty list
/// among `keys`; a key of another type stops the search with an error.
pub fn mpop<K: AsRef<[u8]>>(
    db: &mut Db,
    keys: &[K],
    now: u64,
    end: End,
    count: usize,
) -> Result<Option<Popped>, WrongType> {
    // Only the key popped from changes.
    crate::metrics::signalled_own_keys();
    for k in keys {
        let k = k.as_ref();
        if let Some(elems) = pop_count(db, k, now, end, count)?
            && !elems.is_empty()
        {
            super::util::changed_only(db, k);
            return Ok(Some((k.to_vec(), elems)));
        }
    }
    Ok(None)
}

/// LMOVE with both keys in `db`: pops from `from` of `src` and pushes at `to`
/// of `dst`. Ok(None) when `src` does not exist; Err when either key holds
/// another type (checked before anything moves).
pub fn lmove(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    now: u64,
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, WrongType> {
    let fill = Fill::current();
    let dbi = db.index;
    if write_list(db, src, now)?.is_none() {
        return Ok(None);
    }
    if src != dst {
        write_list(db, dst, now)?;
    }
    let Some(l) = write_list(db, src, now)? else {
        return Ok(None);
    };
    let Some(v) = l.pop(from, fill) else {
        return Ok(None);
    };
    // The push's event comes first, then the pop's, as Redis sends them.
    if src == dst {
        l.push(to, &v, fill);
        notify::emit(notify::LIST, push_event(to), dbi, dst);
        notify::emit(notify::LIST, pop_event(from), dbi, src);
        return Ok(Some(v));
    }
    let empty = l.is_empty();
    if empty {
        db.remove(src);
    }
    push(db, dst, now, to, &[&v])?;
    notify::emit(notify::LIST, pop_event(from), dbi, src);
    if empty {
        notify::emit(notify::GENERIC, "del", dbi, src);
    }
    Ok(Some(v))
}

// ---------------------------------------------------------------------------
// Argument parsing
// ---------------------------------------------------------------------------

/// `getLongFromObjectOrReply`.
#[inline]
fn get_long(a: &[u8]) -> Result<i64, &'static str> {
    parse_i64(a).ok_or(NOT_INT)
}

/// `getRangeLongFromObjectOrReply` with a message: the message covers both a
/// malformed number and one out of `min..=max`.
#[inline]
fn get_range(a: &[u8], min: i64, max: i64, msg: &'static str) -> Result<i64, &'static str> {
    match parse_i64(a) {
        Some(v) if v >= min && v <= max => Ok(v),
        _ => Err(msg),
    }
}

/// `LEFT` / `RIGHT` (case-insensitive).
#[inline]
pub fn parse_end(a: &[u8]) -> Option<End> {
    if eq(a, "left") {
        Some(End::Left)
    } else if eq(a, "right") {
        Some(End::Right)
    } else {
        None
    }
}

/// Parsed `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
pub struct MpopArgs {
    /// Number of keys; they follow the numkeys argument.
    pub numkeys: usize,
    /// Which end to pop from.
    pub end: End,
    /// Most elements to pop (1 without COUNT).
    pub count: usize,
}

/// Parses the MPOP arguments with numkeys at `numkeys_idx` (lmpopGenericCommand;
/// BLMPOP passes 2). Errors are Redis's texts.
pub fn parse_mpop(a: Args<'_>, numkeys_idx: usize) -> Result<MpopArgs, &'static str> {
    let numkeys = get_range(a.get(numkeys_idx), 1, i64::MAX, NUMKEYS_POSITIVE)?;
    // LEFT|RIGHT must follow the keys.
    if numkeys >= (a.len() - numkeys_idx - 1) as i64 {
        return Err(SYNTAX);
    }
    let numkeys = numkeys as usize;
    let where_idx = numkeys_idx + numkeys + 1;
    let end = parse_end(a.get(where_idx)).ok_or(SYNTAX)?;
    let mut count: Option<i64> = None;
    let mut j = where_idx + 1;
    while j < a.len() {
        if count.is_none() && eq(a.get(j), "count") && j + 1 < a.len() {
            j += 1;
            count = Some(get_range(a.get(j), 1, i64::MAX, MPOP_COUNT_POSITIVE)?);
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(MpopArgs {
        numkeys,
        end,
        count: count.unwrap_or(1) as usize,
    })
}

/// Key positions of an MPOP-style command whose numkeys is at `numkeys_idx`
/// (nothing when numkeys is malformed; the handler then reports the error).
pub fn mpop_key_positions(a: Args<'_>, numkeys_idx: usize, out: &mut Vec<usize>) {
    let Some(n) = a.try_get(numkeys_idx).and_then(parse_i64) else {
        return;
    };
    let first = numkeys_idx + 1;
    if n < 1 || n > (a.len().saturating_sub(first)) as i64 {
        return;
    }
    out.extend(first..first + n as usize);
}

fn lmpop_keys(a: Args<'_>, out: &mut Vec<usize>) {
    mpop_key_positions(a, 1, out);
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// LPUSH / RPUSH / LPUSHX / RPUSHX.
fn push_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, end: End, xx: bool) {
    let key = a.get(1);
    let now = ctx.now;
    let fill = Fill::current();
    let dbi = ctx.db;
    let db = ctx.db();
    match write_list(db, key, now) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(Some(l)) => {
            for v in a.iter().skip(2) {
                l.push(end, v, fill);
            }
            crate::metrics::changes((a.len() - 2) as u64);
            r.int(l.len() as i64);
            notify::emit(notify::LIST, push_event(end), dbi, key);
            return;
        }
        Ok(None) if xx => {
            crate::metrics::changes(0);
            return r.int(0);
        }
        Ok(None) => {}
    }
    let mut l = List::new();
    for v in a.iter().skip(2) {
        l.push(end, v, fill);
    }
    let n = l.len();
    db.set(key, Value::List(Box::new(l)));
    notify::emit(notify::LIST, push_event(end), dbi, key);
    crate::metrics::changes((a.len() - 2) as u64);
    r.int(n as i64);
}

fn lpush(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    push_generic(ctx, r, a, End::Left, false);
}
fn rpush(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    push_generic(ctx, r, a, End::Right, false);
}
fn lpushx(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    push_generic(ctx, r, a, End::Left, true);
}
fn rpushx(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    push_generic(ctx, r, a, End::Right, true);
}

/// LPOP / RPOP `key [count]`.
fn pop_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, end: End) {
    if a.len() > 3 {
        let name = if end == End::Left { "lpop" } else { "rpop" };
        return r.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let count = if a.len() == 3 {
        match get_range(a.get(2), 0, i64::MAX, MUST_BE_POSITIVE) {
            Ok(c) => Some(c as usize),
            Err(e) => return r.error(e),
        }
    } else {
        None
    };
    let key = a.get(1);
    let now = ctx.now;
    let fill = Fill::current();
    let db = ctx.db();
    let l = match write_list(db, key, now) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(Some(l)) => l,
        Ok(None) => {
            crate::metrics::changes(0);
            return if count.is_some() {
                r.null_array()
            } else {
                r.null()
            };
        }
    };
    let n = match count {
        None => {
            r.opt_bulk(l.peek(end));
            1
        }
        Some(0) => {
            crate::metrics::changes(0);
            return r.array(0);
        }
        Some(c) => {
            let n = c.min(l.len());
            r.array(n);
            match end {
                End::Left => l.iter().take(n).for_each(|e| r.bulk(e)),
                End::Right => l.iter_rev().take(n).for_each(|e| r.bulk(e)),
            }
            n
        }
    };
    l.drop_end(end, n, fill);
    let empty = l.is_empty();
    let dbi = ctx.db;
    notify::emit(notify::LIST, pop_event(end), dbi, key);
    if empty {
        ctx.db().remove(key);
        notify::emit(notify::GENERIC, "del", dbi, key);
    }
    crate::metrics::changes(n as u64);
}

fn lpop(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    pop_generic(ctx, r, a, End::Left);
}
fn rpop(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    pop_generic(ctx, r, a, End::Right);
}

/// `LLEN key`
fn llen(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_list(ctx, a.get(1)) {
        Err(_) => r.error(WRONGTYPE),
        Ok(l) => r.int(l.map_or(0, |l| l.len() as i64)),
    }
}

/// `LRANGE key start stop`
fn lrange(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let (start, stop) = match (get_long(a.get(2)), get_long(a.get(3))) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return r.error(e),
    };
    let l = match read_list(ctx, a.get(1)) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => return r.array(0),
        Ok(Some(l)) => l,
    };
    match clamp_range(start, stop, l.len()) {
        None => r.array(0),
        Some((s, e)) => {
            let n = e - s + 1;
            r.array(n);
            for v in l.iter_from(s).take(n) {
                r.bulk(v);
            }
        }
    }
}

/// `LINDEX key index`
fn lindex(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let l = match read_list(ctx, a.get(1)) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => return r.null(),
        Ok(Some(l)) => l,
    };
    match get_long(a.get(2)) {
        Err(e) => r.error(e),
        Ok(i) => r.opt_bulk(l.get_index(i)),
    }
}

/// `LSET key index element`
fn lset(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let now = ctx.now;
    let fill = Fill::current();
    let l = match write_list(ctx.db(), a.get(1), now) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => return r.error(NO_SUCH_KEY),
        Ok(Some(l)) => l,
    };
    let i = match get_long(a.get(2)) {
        Err(e) => return r.error(e),
        Ok(i) => i,
    };
    match l.resolve(i) {
        Some(i) => {
            l.set(i, a.get(3), fill);
            r.ok();
            notify::emit(notify::LIST, "lset", ctx.db, a.get(1));
        }
        None => r.error(OUT_OF_RANGE),
    }
}

/// `LINSERT key BEFORE|AFTER pivot element`
fn linsert(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let after = if eq(a.get(2), "after") {
        true
    } else if eq(a.get(2), "before") {
        false
    } else {
        return r.error(SYNTAX);
    };
    let now = ctx.now;
    let fill = Fill::current();
    let l = match write_list(ctx.db(), a.get(1), now) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => {
            crate::metrics::changes(0);
            return r.int(0);
        }
        Ok(Some(l)) => l,
    };
    match l.position(a.get(3)) {
        None => {
            crate::metrics::changes(0);
            r.int(-1);
        }
        Some(p) => {
            l.insert(p + after as usize, a.get(4), fill);
            r.int(l.len() as i64);
            notify::emit(notify::LIST, "linsert", ctx.db, a.get(1));
        }
    }
}

/// `LREM key count element`
fn lrem(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let count = match get_long(a.get(2)) {
        Err(e) => return r.error(e),
        Ok(c) => c,
    };
    let key = a.get(1);
    let now = ctx.now;
    let fill = Fill::current();
    let db = ctx.db();
    let l = match write_list(db, key, now) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => {
            crate::metrics::changes(0);
            return r.int(0);
        }
        Ok(Some(l)) => l,
    };
    let removed = l.remove_matching(a.get(3), count, fill);
    let empty = l.is_empty();
    let dbi = db.index;
    if removed > 0 {
        notify::emit(notify::LIST, "lrem", dbi, key);
    }
    if empty {
        db.remove(key);
        notify::emit(notify::GENERIC, "del", dbi, key);
    }
    crate::metrics::changes(removed as u64);
    r.int(removed as i64);
}

/// `LTRIM key start stop`
fn ltrim(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let (start, stop) = match (get_long(a.get(2)), get_long(a.get(3))) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return r.error(e),
    };
    let key = a.get(1);
    let now = ctx.now;
    let fill = Fill::current();
    let db = ctx.db();
    let l = match write_list(db, key, now) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => {
            crate::metrics::changes(0);
            return r.ok();
        }
        Ok(Some(l)) => l,
    };
    let before = l.len();
    l.trim(clamp_range(start, stop, before), fill);
    let removed = before - l.len();
    let empty = l.is_empty();
    let dbi = db.index;
    notify::emit(notify::LIST, "ltrim", dbi, key);
    if empty {
        db.remove(key);
        notify::emit(notify::GENERIC, "del", dbi, key);
    }
    crate::metrics::changes(removed as u64);
    r.ok();
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
fn lpos(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < a.len() {
        let opt = a.get(j);
        let more = j + 1 < a.len();
        if eq(opt, "rank") && more {
            j += 1;
            rank = match get_long(a.get(j)) {
                Ok(v) => v,
                Err(e) => return r.error(e),
            };
            if rank == 0 {
                return r.error(RANK_ZERO);
            }
        } else if eq(opt, "count") && more {
            j += 1;
            match get_range(a.get(j), 0, i64::MAX, COUNT_NEGATIVE) {
                Ok(v) => count = Some(v),
                Err(e) => return r.error(e),
            }
        } else if eq(opt, "maxlen") && more {
            j += 1;
            match get_range(a.get(j), 0, i64::MAX, MAXLEN_NEGATIVE) {
                Ok(v) => maxlen = v,
                Err(e) => return r.error(e),
            }
        } else {
            return r.error(SYNTAX);
        }
        j += 1;
    }
    // A negative rank searches from the tail. Redis 7.0 negates with C's
    // wrap-around, so RANK LONG_MIN stays negative: every match then counts
    // as reaching the rank and COUNT never stops the scan. Kept as 7.0 does.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let ele = a.get(2);
    let l = match read_list(ctx, a.get(1)) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => {
            return if count.is_some() {
                r.array(0)
            } else {
                r.null()
            };
        }
        Ok(Some(l)) => l,
    };
    let llen = l.len() as i64;
    let iter: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(l.iter_rev())
    } else {
        Box::new(l.iter())
    };
    let mut found: Vec<i64> = Vec::new();
    let mut matches: i64 = 0;
    let mut matchindex: i64 = -1;
    for (index, e) in iter.enumerate() {
        let index = index as i64;
        if maxlen != 0 && index >= maxlen {
            break;
        }
        if e == ele {
            matches += 1;
            let at = if from_tail { llen - index - 1 } else { index };
            if matches >= rank {
                match count {
                    Some(c) => {
                        found.push(at);
                        if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c {
                            break;
                        }
                    }
                    None => {
                        matchindex = at;
                        break;
                    }
                }
            }
        }
    }
    if count.is_some() {
        r.array(found.len());
        for i in found {
            r.int(i);
        }
    } else if matchindex >= 0 {
        r.int(matchindex);
    } else {
        r.null();
    }
}

/// LMOVE / RPOPLPUSH with both keys on this shard.
fn lmove_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, src: &[u8], dst: &[u8], from: End, to: End) {
    let now = ctx.now;
    match lmove(ctx.db(), src, dst, now, from, to) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => {
            crate::metrics::changes(0);
            r.null();
        }
        Ok(Some(v)) => r.bulk(&v),
    }
}

/// The two ends of `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`.
fn lmove_ends(a: Args<'_>) -> Option<(End, End)> {
    Some((parse_end(a.get(3))?, parse_end(a.get(4))?))
}

fn lmove_cmd(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match lmove_ends(a) {
        Some((from, to)) => lmove_generic(ctx, r, a.get(1), a.get(2), from, to),
        None => r.error(SYNTAX),
    }
}

fn rpoplpush(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    lmove_generic(ctx, r, a.get(1), a.get(2), End::Right, End::Left);
}

/// LMOVE with source and destination on different shards: check the
/// destination's type, pop on the source's shard, push on the destination's.
/// `Ok(None)` when the source is empty.
pub async fn lmove_across_op(
    c: &Session,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, WrongType> {
    let d = dst.to_vec();
    let dst_wrong = c
        .on_key(dst, move |ctx| {
            let now = ctx.now;
            write_list(ctx.db(), &d, now).is_err()
        })
        .await;
    let s = src.to_vec();
    let popped = c
        .on_key(src, move |ctx| {
            let now = ctx.now;
            let db = ctx.db();
            if write_list(db, &s, now)?.is_none() {
                return Ok(None);
            }
            if dst_wrong {
                return Err(WrongType);
            }
            Ok(pop_count(db, &s, now, from, 1)?.and_then(|mut v| v.pop()))
        })
        .await?;
    match popped {
        None => Ok(None),
        Some(v) => push_or_give_back(c, src, dst, from, to, v).await.map(Some),
    }
}

/// Second half of a cross-shard move: pushes `v`, taken from `src`'s `from`
/// end, onto `dst`; if `dst` has meanwhile become another type, puts `v` back
/// where it came from.
pub async fn push_or_give_back(
    c: &Session,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    v: Vec<u8>,
) -> Result<Vec<u8>, WrongType> {
    let d = dst.to_vec();
    let (pushed, v) = c
        .on_key(dst, move |ctx| {
            let now = ctx.now;
            let res = push(ctx.db(), &d, now, to, &[&v]);
            (res, v)
        })
        .await;
    if pushed.is_err() {
        let s = src.to_vec();
        c.on_key(src, move |ctx| {
            let now = ctx.now;
            let _ = push(ctx.db(), &s, now, from, &[&v]);
        })
        .await;
        return Err(WrongType);
    }
    Ok(v)
}

/// LMOVE across shards, replying.
async fn lmove_across(c: &mut Session, src: Vec<u8>, dst: Vec<u8>, from: End, to: End) {
    match lmove_across_op(c, &src, &dst, from, to).await {
        Err(_) => c.error(WRONGTYPE),
        Ok(None) => c.reply().null(),
        Ok(Some(v)) => c.reply().bulk(&v),
    }
}

fn lmove_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let Some((from, to)) = lmove_ends(a.args()) else {
            return c.error(SYNTAX);
        };
        lmove_across(c, a.get(1).to_vec(), a.get(2).to_vec(), from, to).await;
    })
}

fn rpoplpush_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        lmove_across(
            c,
            a.get(1).to_vec(),
            a.get(2).to_vec(),
            End::Right,
            End::Left,
        )
        .await;
    })
}

/// Writes an MPOP reply: `[key, [elements...]]`.
pub fn reply_mpop(r: &mut Reply<'_>, key: &[u8], elems: &[Vec<u8>]) {
    r.array(2);
    r.bulk(key);
    r.array(elems.len());
    for e in elems {
        r.bulk(e);
    }
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]` on one shard.
fn lmpop(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let p = match parse_mpop(a, 1) {
        Ok(p) => p,
        Err(e) => return r.error(e),
    };
    let keys: Vec<&[u8]> = (2..2 + p.numkeys).map(|i| a.get(i)).collect();
    let now = ctx.now;
    match mpop(ctx.db(), &keys, now, p.end, p.count) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => {
            crate::metrics::changes(0);
            r.null_array();
        }
        Ok(Some((k, elems))) => {
            crate::metrics::changes(elems.len() as u64);
            reply_mpop(r, &k, &elems);
        }
    }
}

/// LMPOP with keys on several shards: keys are tried in order, one hop per
/// run of consecutive keys owned by the same shard.
fn lmpop_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let p = match parse_mpop(a.args(), 1) {
            Ok(p) => p,
            Err(e) => return c.error(e),
        };
        let mut i = 2;
        let last = 2 + p.numkeys;
        while i < last {
            let owner = c.owner(a.get(i));
            let mut run: Vec<Vec<u8>> = Vec::new();
            while i < last && c.owner(a.get(i)) == owner {
                run.push(a.get(i).to_vec());
                i += 1;
            }
            let (end, count) = (p.end, p.count);
            let res = c
                .on_shard(owner, move |ctx| {
                    let now = ctx.now;
                    mpop(ctx.db(), &run, now, end, count)
                })
                .await;
            match res {
                Err(_) => return c.error(WRONGTYPE),
                Ok(None) => {}
                Ok(Some((k, elems))) => return reply_mpop(&mut c.reply(), &k, &elems),
            }
        }
        c.reply().null_array();
    })
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

/// A single-key list command spec.
#[allow(clippy::too_many_arguments)]
const fn one_key(
    name: &'static str,
    arity: i32,
    flags: u64,
    key_flags: u32,
    acl: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
    shard: ShardFn,
) -> CommandSpec {
    CommandSpec {
        acl,
        summary,
        since,
        shard: Some(shard),
        ..CommandSpec::single_key(name, "list", arity, flags, key_flags)
    }
}

const W_FAST: &[&str] = &["write", "list", "fast"];
const W_SLOW: &[&str] = &["write", "list", "slow"];
const R_FAST: &[&str] = &["read", "list", "fast"];
const R_SLOW: &[&str] = &["read", "list", "slow"];
const RW_INSERT: u32 = keyflags::RW | keyflags::INSERT;
const RW_ACCESS_DELETE: u32 = keyflags::RW | keyflags::ACCESS | keyflags::DELETE;
const RO_ACCESS: u32 = keyflags::RO | keyflags::ACCESS;

/// List family specs.
pub static SPECS: &[CommandSpec] = &[
    one_key(
        "lpush",
        -3,
        WRITE | DENYOOM | FAST,
        RW_INSERT,
        W_FAST,
        "Prepend one or multiple elements to a list",
        "1.0.0",
        lpush,
    ),
    one_key(
        "rpush",
        -3,
        WRITE | DENYOOM | FAST,
        RW_INSERT,
        W_FAST,
        "Append one or multiple elements to a list",
        "1.0.0",
        rpush,
    ),
    one_key(
        "lpushx",
        -3,
        WRITE | DENYOOM | FAST,
        RW_INSERT,
        W_FAST,
        "Prepend an element to a list, only if the list exists",
        "2.2.0",
        lpushx,
    ),
    one_key(
        "rpushx",
        -3,
        WRITE | DENYOOM | FAST,
        RW_INSERT,
        W_FAST,
        "Append an element to a list, only if the list exists",
        "2.2.0",
        rpushx,
    ),
    one_key(
        "lpop",
        -2,
        WRITE | FAST,
        RW_ACCESS_DELETE,
        W_FAST,
        "Remove and get the first elements in a list",
        "1.0.0",
        lpop,
    ),
    one_key(
        "rpop",
        -2,
        WRITE | FAST,
        RW_ACCESS_DELETE,
        W_FAST,
        "Remove and get the last elements in a list",
        "1.0.0",
        rpop,
    ),
    one_key(
        "llen",
        2,
        READONLY | FAST,
        keyflags::RO,
        R_FAST,
        "Get the length of a list",
        "1.0.0",
        llen,
    ),
    one_key(
        "lrange",
        4,
        READONLY,
        RO_ACCESS,
        R_SLOW,
        "Get a range of elements from a list",
        "1.0.0",
        lrange,
    ),
    one_key(
        "lindex",
        3,
        READONLY,
        RO_ACCESS,
        R_SLOW,
        "Get an element from a list by its index",
        "1.0.0",
        lindex,
    ),
    one_key(
        "lset",
        4,
        WRITE | DENYOOM,
        keyflags::RW | keyflags::UPDATE,
        W_SLOW,
        "Set the value of an element in a list by its index",
        "1.0.0",
        lset,
    ),
    one_key(
        "linsert",
        5,
        WRITE | DENYOOM,
        RW_INSERT,
        W_SLOW,
        "Insert an element before or after another element in a list",
        "2.2.0",
        linsert,
    ),
    one_key(
        "lrem",
        4,
        WRITE,
        keyflags::RW | keyflags::DELETE,
        W_SLOW,
        "Remove elements from a list",
        "1.0.0",
        lrem,
    ),
    one_key(
        "ltrim",
        4,
        WRITE,
        keyflags::RW | keyflags::DELETE,
        W_SLOW,
        "Trim a list to the specified range",
        "1.0.0",
        ltrim,
    ),
    one_key(
        "lpos",
        -3,
        READONLY,
        RO_ACCESS,
        R_SLOW,
        "Return the index of matching elements on a list",
        "6.0.6",
        lpos,
    ),
    CommandSpec {
        last_key: 2,
        coord: Some(lmove_coord),
        ..one_key(
            "lmove",
            5,
            WRITE | DENYOOM,
            RW_ACCESS_DELETE,
            W_SLOW,
            "Pop an element from a list, push it to another list and return it",
            "6.2.0",
            lmove_cmd,
        )
    },
    CommandSpec {
        last_key: 2,
        coord: Some(rpoplpush_coord),
        ..one_key(
            "rpoplpush",
            3,
            WRITE | DENYOOM,
            RW_ACCESS_DELETE,
            W_SLOW,
            "Remove the last element in a list, prepend it to another list and return it",
            "1.2.0",
            rpoplpush,
        )
    },
    CommandSpec {
        first_key: 0,
        last_key: 0,
        step: 0,
        keys: Some(lmpop_keys),
        coord: Some(lmpop_coord),
        ..one_key(
            "lmpop",
            -4,
            WRITE,
            RW_ACCESS_DELETE,
            W_SLOW,
            "Pop elements from a list",
            "7.0.0",
            lmpop,
        )
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_range(3, 1, 5), None);
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(0, -100, 5), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(clamp_range(0, 0, 0), None);
    }

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::from_slices(parts)
    }

    #[test]
    fn mpop_parsing() {
        let a = args(&["lmpop", "2", "a", "b", "LEFT", "COUNT", "3"]);
        let p = parse_mpop(a.args(), 1).map_err(|e| e.to_string());
        let p = p.expect("valid");
        assert_eq!((p.numkeys, p.end, p.count), (2, End::Left, 3));
        let err = |parts: &[&str]| parse_mpop(args(parts).args(), 1).err();
        assert_eq!(err(&["lmpop", "0", "a", "left"]), Some(NUMKEYS_POSITIVE));
        assert_eq!(err(&["lmpop", "x", "a", "left"]), Some(NUMKEYS_POSITIVE));
        assert_eq!(err(&["lmpop", "3", "a", "left"]), Some(SYNTAX));
        assert_eq!(err(&["lmpop", "1", "a", "up"]), Some(SYNTAX));
        assert_eq!(
            err(&["lmpop", "1", "a", "left", "count", "0"]),
            Some(MPOP_COUNT_POSITIVE)
        );
        assert_eq!(
            err(&["lmpop", "1", "a", "left", "count", "1", "count", "1"]),
            Some(SYNTAX)
        );
        assert_eq!(err(&["lmpop", "1", "a", "left", "count"]), Some(SYNTAX));
        assert_eq!(err(&["lmpop", "2", "a", "b"]), Some(SYNTAX));
        assert_eq!(err(&["lmpop", "1", "a"]), Some(SYNTAX));
        let mut out = Vec::new();
        lmpop_keys(args(&["lmpop", "2", "a", "b", "left"]).args(), &mut out);
        assert_eq!(out, vec![2, 3]);
        out.clear();
        lmpop_keys(args(&["lmpop", "9", "a", "b", "left"]).args(), &mut out);
        assert!(out.is_empty());
    }
}
