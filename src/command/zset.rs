//! The sorted-set commands.
//!
//! ```text
//!  single-key commands ──► ShardFn on the owning shard
//!  ZRANGE family       ──► parse_range (Redis's zrangeGenericCommand order of
//!                          checks) → range_ranks (a rank interval) → emit
//!  ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD, ZRANGESTORE, ZMPOP
//!                      ──► ShardFn when every key is on one shard; otherwise a
//!                          CoordFn gathers (member, score) lists from the
//!                          owning shards, computes here and stores with one
//!                          more hop to the destination's shard
//! ```
//!
//! The shard-side pops ([`zpop`], [`zmpop`]) and their reply writer
//! ([`reply_pop`]) are public for the blocking commands.

use super::string::{lookup_read, lookup_write};
use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*, keyflags};
use crate::command::session::Session;
use crate::protocol::{Args, Reply};
use crate::storage::notify;
use crate::storage::zset::{AddFlags, AddOutcome, LexBound, Limits, ScoreRange, ZSet};
use crate::storage::{Db, Value};

const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";
const SCORE_RANGE_ERR: &str = "ERR min or max is not a float";
const LEX_RANGE_ERR: &str = "ERR min or max not valid string range item";
const POSITIVE_ERR: &str = "ERR value is out of range, must be positive";

/// Marker for a key holding another type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WrongType;

/// Member/score pairs moved between shards.
pub type Pairs = Vec<(Vec<u8>, f64)>;

// ---------------------------------------------------------------------------
// Number parsing (C strtod semantics)
// ---------------------------------------------------------------------------

/// C `strtod` on `s`: the value, whether the whole input was consumed, and
/// whether errno was ERANGE. `None` for input holding a NUL byte.
fn c_strtod(s: &[u8]) -> Option<(f64, bool, bool)> {
    if s.contains(&0) || s.len() > 4096 {
        return None;
    }
    let mut buf = Vec::with_capacity(s.len() + 1);
    buf.extend_from_slice(s);
    buf.push(0);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: buf is NUL-terminated and outlives the call; errno is this
    // thread's, reset before the call and read right after it.
    let (v, erange) = unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(buf.as_ptr() as *const libc::c_char, &mut end);
        (v, *libc::__errno_location() == libc::ERANGE)
    };
    let used = (end as usize).wrapping_sub(buf.as_ptr() as usize);
    Some((v, used == s.len(), erange))
}

/// getDoubleFromObject: a score, weight or increment.
fn parse_score(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() {
        return None;
    }
    let (v, all, erange) = c_strtod(s)?;
    if !all || v.is_nan() || (erange && (v.is_infinite() || v == 0.0)) {
        return None;
    }
    Some(v)
}

/// One end of a score range (zslParseRange): `(` for exclusive.
fn parse_score_bound(s: &[u8]) -> Option<(f64, bool)> {
    let (ex, body) = match s.first() {
        Some(b'(') => (true, &s[1..]),
        _ => (false, s),
    };
    let (v, all, _) = c_strtod(body)?;
    if !all || v.is_nan() {
        return None;
    }
    Some((v, ex))
}

/// A score range from its two arguments.
fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = parse_score_bound(min)?;
    let (max, maxex) = parse_score_bound(max)?;
    Some(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// One end of a lex range.
fn parse_lex_bound(s: &[u8]) -> Option<LexBound> {
    match s.first() {
        Some(b'+') if s.len() == 1 => Some(LexBound::Max),
        Some(b'-') if s.len() == 1 => Some(LexBound::Min),
        Some(b'(') => Some(LexBound::Val(s[1..].to_vec(), false)),
        Some(b'[') => Some(LexBound::Val(s[1..].to_vec(), true)),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<(LexBound, LexBound)> {
    Some((parse_lex_bound(min)?, parse_lex_bound(max)?))
}

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

fn as_zset(v: &mut Value) -> Result<&mut ZSet, WrongType> {
    match v {
        Value::ZSet(z) => Ok(z),
        _ => Err(WrongType),
    }
}

/// Reads a zset key (with keyspace statistics).
fn read_z<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>, WrongType> {
    match lookup_read(ctx, key) {
        None => Ok(None),
        Some(e) => as_zset(&mut e.value).map(Some),
    }
}

/// Looks a zset key up for writing.
fn write_z<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>, WrongType> {
    match lookup_write(ctx, key) {
        None => Ok(None),
        Some(e) => as_zset(&mut e.value).map(Some),
    }
}

/// Deletes `key` when its zset became empty.
fn drop_if_empty(db: &mut Db, now: u64, key: &[u8]) -> bool {
    let empty = db
        .peek(key, now)
        .is_some_and(|e| matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        db.remove(key);
    }
    empty
}

/// Copies every element of a zset input (ascending).
fn pairs_of(z: &ZSet) -> Pairs {
    z.collect_ranks(0, z.len(), false)
}

/// A source of a set operation: missing key → None. A read lookup for the
/// STORE forms too, as Redis 7.0 counts (and announces) their misses.
fn fetch_src(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Pairs>, WrongType> {
    match lookup_read(ctx, key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            // Plain sets are valid inputs, every member scoring 1.
            Value::Set(s) => Ok(Some(s.iter().map(|m| (m.to_vec(), 1.0)).collect())),
            v => as_zset(v).map(|z| Some(pairs_of(z))),
        },
    }
}

/// Stores a result (ascending, unique members) at `dst`, or deletes `dst`
/// when empty. Raises `event` (the command's name), or `del` when an empty
/// result removed `dst`. Returns the stored count.
fn store_sorted(
    db: &mut Db,
    now: u64,
    dst: &[u8],
    items: Vec<(f64, Vec<u8>)>,
    event: &'static str,
) -> usize {
    if items.is_empty() {
        if db.remove(dst).is_some() {
            super::util::changed_only(db, dst);
            notify::emit(notify::GENERIC, "del", db.index, dst);
        } else {
            crate::metrics::signalled_own_keys();
        }
        return 0;
    }
    let n = items.len();
    db.set_at(
        dst,
        Value::ZSet(Box::new(ZSet::from_sorted(items, Limits::current()))),
        now,
    );
    super::util::changed_only(db, dst);
    notify::emit(notify::ZSET, event, db.index, dst);
    n
}

// ---------------------------------------------------------------------------
// Reply helpers
// ---------------------------------------------------------------------------

/// ZRANGE-style array header for `n` elements.
fn range_header(r: &mut Reply<'_>, n: usize, withscores: bool) {
    if withscores && !r.resp3 {
        r.array(n * 2);
    } else {
        r.array(n);
    }
}

/// One ZRANGE-style element.
fn range_item(r: &mut Reply<'_>, m: &[u8], s: f64, withscores: bool) {
    if withscores && r.resp3 {
        r.array(2);
    }
    r.bulk(m);
    if withscores {
        r.double(s);
    }
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY
// ---------------------------------------------------------------------------

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`;
/// ZINCRBY goes through here with INCR set, like Redis.
fn zadd_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, incr_cmd: bool) {
    let mut fl = AddFlags {
        incr: incr_cmd,
        ..Default::default()
    };
    let mut ch = false;
    let mut idx = 2;
    while idx < a.len() {
        let o = a.get(idx);
        if eq(o, "nx") {
            fl.nx = true;
        } else if eq(o, "xx") {
            fl.xx = true;
        } else if eq(o, "ch") {
            ch = true;
        } else if eq(o, "incr") {
            fl.incr = true;
        } else if eq(o, "gt") {
            fl.gt = true;
        } else if eq(o, "lt") {
            fl.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = a.len() - idx;
    if !elements.is_multiple_of(2) || elements == 0 {
        return r.error(SYNTAX);
    }
    let elements = elements / 2;
    if fl.nx && fl.xx {
        return r.error("ERR XX and NX options at the same time are not compatible");
    }
    if (fl.nx && (fl.gt || fl.lt)) || (fl.gt && fl.lt) {
        return r.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if fl.incr && elements > 1 {
        return r.error("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        match parse_score(a.get(idx + j * 2)) {
            Some(s) => scores.push(s),
            None => return r.error(NOT_FLOAT),
        }
    }
    let key = a.get(1);
    let lim = Limits::current();
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0);
    let mut last = 0.0;
    let exists = match write_z(ctx, key) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(z) => z.is_some(),
    };
    if !exists {
        if fl.xx {
            crate::metrics::changes(0);
            return if fl.incr { r.null() } else { r.int(0) };
        }
        ctx.db().set(key, Value::ZSet(Box::new(ZSet::new())));
    }
    let now = ctx.now;
    let Some(Value::ZSet(z)) = ctx.db().get_mut(key, now).map(|e| &mut e.value) else {
        return r.error(WRONGTYPE);
    };
    let mut nan = false;
    for (j, &score) in scores.iter().enumerate() {
        match z.add(score, a.get(idx + 1 + j * 2), fl, lim) {
            AddOutcome::Added(s) => {
                added += 1;
                processed += 1;
                last = s;
            }
            AddOutcome::Updated(s) => {
                updated += 1;
                processed += 1;
                last = s;
            }
            AddOutcome::Same(s) => {
                processed += 1;
                last = s;
            }
            AddOutcome::Nop => {}
            AddOutcome::Nan => {
                nan = true;
                break;
            }
        }
    }
    let empty = z.is_empty();
    if empty {
        ctx.db().remove(key);
    }
    crate::metrics::changes((added + updated) as u64);
    if added + updated > 0 {
        let event = if fl.incr { "zincr" } else { "zadd" };
        notify::emit(notify::ZSET, event, ctx.db, key);
    }
    if nan {
        return r.error(NAN_ERR);
    }
    if fl.incr {
        if processed > 0 {
            r.double(last);
        } else {
            r.null();
        }
    } else {
        r.int(if ch { added + updated } else { added });
    }
}

fn zadd(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zadd_generic(ctx, r, a, false);
}

fn zincrby(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zadd_generic(ctx, r, a, true);
}

// ---------------------------------------------------------------------------
// Simple reads and ZREM
// ---------------------------------------------------------------------------

fn zrem(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let key = a.get(1);
    let n = match write_z(ctx, key) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => return r.int(0),
        Ok(Some(z)) => {
            let mut n = 0;
            for m in a.iter().skip(2) {
                if z.remove(m) {
                    n += 1;
                    if z.is_empty() {
                        break;
                    }
                }
            }
            n
        }
    };
    let now = ctx.now;
    let dbi = ctx.db;
    if n > 0 {
        notify::emit(notify::ZSET, "zrem", dbi, key);
    }
    if drop_if_empty(ctx.db(), now, key) {
        notify::emit(notify::GENERIC, "del", dbi, key);
    }
    crate::metrics::changes(n as u64);
    r.int(n);
}

fn zcard(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_z(ctx, a.get(1)) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => r.int(0),
        Ok(Some(z)) => r.int(z.len() as i64),
    }
}

fn zcount(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(range) = parse_score_range(a.get(2), a.get(3)) else {
        return r.error(SCORE_RANGE_ERR);
    };
    match read_z(ctx, a.get(1)) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => r.int(0),
        Ok(Some(z)) => {
            let (lo, hi) = z.score_ranks(&range);
            r.int((hi - lo) as i64)
        }
    }
}

fn zlexcount(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some((min, max)) = parse_lex_range(a.get(2), a.get(3)) else {
        return r.error(LEX_RANGE_ERR);
    };
    match read_z(ctx, a.get(1)) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => r.int(0),
        Ok(Some(z)) => {
            let (lo, hi) = z.lex_ranks_dir(&min, &max, false);
            r.int((hi - lo) as i64)
        }
    }
}

fn zscore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_z(ctx, a.get(1)) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => r.null(),
        Ok(Some(z)) => match z.score(a.get(2)) {
            Some(s) => r.double(s),
            None => r.null(),
        },
    }
}

fn zmscore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let z = match read_z(ctx, a.get(1)) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(z) => z,
    };
    r.array(a.len() - 2);
    for m in a.iter().skip(2) {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => r.double(s),
            None => r.null(),
        }
    }
}

fn zrank_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, rev: bool) {
    match read_z(ctx, a.get(1)) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => r.null(),
        Ok(Some(z)) => match z.rank(a.get(2)) {
            Some(k) => r.int(if rev { z.len() - 1 - k } else { k } as i64),
            None => r.null(),
        },
    }
}

fn zrank(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zrank_generic(ctx, r, a, false);
}

fn zrevrank(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zrank_generic(ctx, r, a, true);
}

// ---------------------------------------------------------------------------
// The ZRANGE family
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Dir {
    Auto,
    Fwd,
    Rev,
}

/// What to select.
#[derive(Clone, Debug)]
enum Sel {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexBound, LexBound),
}

/// A parsed ZRANGE-family request.
#[derive(Clone, Debug)]
struct RangeReq {
    sel: Sel,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

/// zrangeGenericCommand's parsing: `key` at `start`, min/max after it,
/// options after those; errors in Redis's order.
fn parse_range(
    a: Args<'_>,
    start: usize,
    store: bool,
    mut kind: Kind,
    mut dir: Dir,
) -> Result<RangeReq, &'static str> {
    let mut withscores = false;
    let mut offset = 0i64;
    let mut limit = -1i64;
    let mut j = start + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = a.get(j);
        if !store && eq(o, "withscores") {
            withscores = true;
        } else if eq(o, "limit") && left >= 2 {
            offset = parse_i64(a.get(j + 1)).ok_or(NOT_INT)?;
            limit = parse_i64(a.get(j + 2)).ok_or(NOT_INT)?;
            j += 2;
        } else if dir == Dir::Auto && eq(o, "rev") {
            dir = Dir::Rev;
        } else if kind == Kind::Auto && eq(o, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && eq(o, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let rev = dir == Dir::Rev;
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && kind == Kind::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut lo, mut hi) = (a.get(start + 1), a.get(start + 2));
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let sel = match kind {
        Kind::Score => Sel::Score(parse_score_range(lo, hi).ok_or(SCORE_RANGE_ERR)?),
        Kind::Lex => {
            let (a, b) = parse_lex_range(lo, hi).ok_or(LEX_RANGE_ERR)?;
            Sel::Lex(a, b)
        }
        _ => Sel::Rank(parse_i64(lo).ok_or(NOT_INT)?, parse_i64(hi).ok_or(NOT_INT)?),
    };
    Ok(RangeReq {
        sel,
        rev,
        withscores: withscores || store,
        offset,
        limit,
    })
}

/// The ascending rank interval `lo..hi` a request selects (read in reverse
/// when `req.rev`).
fn range_ranks(z: &ZSet, req: &RangeReq) -> (usize, usize) {
    let len = z.len();
    let (lo, hi) = match &req.sel {
        Sel::Rank(s, e) => {
            return match clamp_range(*s, *e, len) {
                None => (0, 0),
                Some((s, e)) if req.rev => (len - 1 - e, len - s),
                Some((s, e)) => (s, e + 1),
            };
        }
        Sel::Score(r) => z.score_ranks(r),
        Sel::Lex(min, max) => z.lex_ranks_dir(min, max, req.rev),
    };
    if req.offset < 0 {
        return (0, 0);
    }
    let n = hi - lo;
    let skip = (req.offset as u64).min(n as u64) as usize;
    let mut take = n - skip;
    if req.limit >= 0 {
        take = take.min((req.limit as u64).min(usize::MAX as u64) as usize);
    }
    if req.rev {
        (hi - skip - take, hi - skip)
    } else {
        (lo + skip, lo + skip + take)
    }
}

/// Writes the selected range of `z` as a ZRANGE reply.
fn emit_range(r: &mut Reply<'_>, z: &ZSet, req: &RangeReq) {
    let (lo, hi) = range_ranks(z, req);
    range_header(r, hi - lo, req.withscores);
    z.for_ranks(lo, hi, req.rev, |m, s| range_item(r, m, s, req.withscores));
}

/// The selected range as ascending (score, member) pairs, for storing.
fn range_sorted(z: &ZSet, req: &RangeReq) -> Vec<(f64, Vec<u8>)> {
    let (lo, hi) = range_ranks(z, req);
    let mut out = Vec::with_capacity(hi - lo);
    z.for_ranks(lo, hi, false, |m, s| out.push((s, m.to_vec())));
    out
}

fn zrange_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, kind: Kind, dir: Dir) {
    let req = match parse_range(a, 1, false, kind, dir) {
        Ok(q) => q,
        Err(e) => return r.error(e),
    };
    match read_z(ctx, a.get(1)) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => r.array(0),
        Ok(Some(z)) => emit_range(r, z, &req),
    }
}

fn zrange(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zrange_generic(ctx, r, a, Kind::Auto, Dir::Auto);
}
fn zrevrange(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zrange_generic(ctx, r, a, Kind::Rank, Dir::Rev);
}
fn zrangebyscore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zrange_generic(ctx, r, a, Kind::Score, Dir::Fwd);
}
fn zrevrangebyscore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zrange_generic(ctx, r, a, Kind::Score, Dir::Rev);
}
fn zrangebylex(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zrange_generic(ctx, r, a, Kind::Lex, Dir::Fwd);
}
fn zrevrangebylex(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zrange_generic(ctx, r, a, Kind::Lex, Dir::Rev);
}

/// Reads the ZRANGESTORE source range.
fn rangestore_fetch(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    req: &RangeReq,
) -> Result<Vec<(f64, Vec<u8>)>, WrongType> {
    match read_z(ctx, src)? {
        None => Ok(Vec::new()),
        Some(z) => Ok(range_sorted(z, req)),
    }
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`
fn zrangestore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let req = match parse_range(a, 2, true, Kind::Auto, Dir::Auto) {
        Ok(q) => q,
        Err(e) => return r.error(e),
    };
    match rangestore_fetch(ctx, a.get(2), &req) {
        Err(_) => r.error(WRONGTYPE),
        Ok(items) => {
            let now = ctx.now;
            let n = store_sorted(ctx.db(), now, a.get(1), items, "zrangestore");
            r.int(n as i64)
        }
    }
}

fn zrangestore_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let req = match parse_range(a.args(), 2, true, Kind::Auto, Dir::Auto) {
            Ok(q) => q,
            Err(e) => return c.error(e),
        };
        let src = a.get(2).to_vec();
        let q = req.clone();
        let got = c
            .on_key(&src.clone(), move |ctx| rangestore_fetch(ctx, &src, &q))
            .await;
        let items = match got {
            Err(_) => return c.error(WRONGTYPE),
            Ok(items) => items,
        };
        let dst = a.get(1).to_vec();
        let n = c
            .on_key(&dst.clone(), move |ctx| {
                let now = ctx.now;
                store_sorted(ctx.db(), now, &dst, items, "zrangestore")
            })
            .await;
        c.reply().int(n as i64);
    })
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------

fn zremrange_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, kind: Kind) {
    let sel = match kind {
        Kind::Score => match parse_score_range(a.get(2), a.get(3)) {
            Some(s) => Sel::Score(s),
            None => return r.error(SCORE_RANGE_ERR),
        },
        Kind::Lex => match parse_lex_range(a.get(2), a.get(3)) {
            Some((x, y)) => Sel::Lex(x, y),
            None => return r.error(LEX_RANGE_ERR),
        },
        _ => match (parse_i64(a.get(2)), parse_i64(a.get(3))) {
            (Some(s), Some(e)) => Sel::Rank(s, e),
            _ => return r.error(NOT_INT),
        },
    };
    let req = RangeReq {
        sel,
        rev: false,
        withscores: false,
        offset: 0,
        limit: -1,
    };
    let key = a.get(1);
    let n = match write_z(ctx, key) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => return r.int(0),
        Ok(Some(z)) => {
            let (lo, hi) = range_ranks(z, &req);
            z.remove_ranks(lo, hi)
        }
    };
    let (now, dbi) = (ctx.now, ctx.db);
    if n > 0 {
        let event = match kind {
            Kind::Score => "zremrangebyscore",
            Kind::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        notify::emit(notify::ZSET, event, dbi, key);
    }
    if drop_if_empty(ctx.db(), now, key) {
        notify::emit(notify::GENERIC, "del", dbi, key);
    }
    crate::metrics::changes(n as u64);
    r.int(n as i64);
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zremrange_generic(ctx, r, a, Kind::Rank);
}
fn zremrangebyscore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zremrange_generic(ctx, r, a, Kind::Score);
}
fn zremrangebylex(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zremrange_generic(ctx, r, a, Kind::Lex);
}

// ---------------------------------------------------------------------------
// Pops (public for the blocking commands)
// ---------------------------------------------------------------------------

/// Pops up to `count` elements from the low (`max == false`) or high end of
/// the zset at `key`, deleting the key when it empties (`zpopmin` or
/// `zpopmax`, then `del`). `Ok(None)` when the key does not exist.
pub fn zpop(
    db: &mut Db,
    now: u64,
    key: &[u8],
    max: bool,
    count: usize,
) -> Result<Option<Pairs>, WrongType> {
    let Some(e) = db.get_mut(key, now) else {
        return Ok(None);
    };
    let z = as_zset(&mut e.value)?;
    let len = z.len();
    let n = count.min(len);
    let (lo, hi) = if max { (len - n, len) } else { (0, n) };
    let items = z.collect_ranks(lo, hi, max);
    z.remove_ranks(lo, hi);
    let empty = z.is_empty();
    let dbi = db.index;
    if !items.is_empty() {
        let event = if max { "zpopmax" } else { "zpopmin" };
        notify::emit(notify::ZSET, event, dbi, key);
    }
    if empty {
        db.remove(key);
        notify::emit(notify::GENERIC, "del", dbi, key);
    }
    crate::metrics::changes(items.len() as u64);
    Ok(Some(items))
}

/// ZMPOP on one shard: pops from the first non-empty zset among `keys`.
/// A key of another type before it is an error.
pub fn zmpop(
    db: &mut Db,
    now: u64,
    keys: &[&[u8]],
    max: bool,
    count: usize,
) -> Result<Option<(Vec<u8>, Pairs)>, WrongType> {
    // Only the key popped from changes.
    crate::metrics::signalled_own_keys();
    for k in keys {
        if let Some(items) = zpop(db, now, k, max, count)? {
            super::util::changed_only(db, k);
            return Ok(Some((k.to_vec(), items)));
        }
    }
    Ok(None)
}

/// True when `v` is a zset a blocked ZPOP can be served from.
pub fn zset_ready(v: &Value) -> bool {
    matches!(v, Value::ZSet(z) if !z.is_empty())
}

/// Adds (or re-adds, e.g. to undo a pop) members with their scores to the
/// zset at `key`, creating it when missing. Returns how many were new.
pub fn zadd_pairs(
    db: &mut Db,
    now: u64,
    key: &[u8],
    items: &[(Vec<u8>, f64)],
) -> Result<usize, WrongType> {
    if items.is_empty() {
        return Ok(0);
    }
    match db.get_mut(key, now) {
        Some(e) => {
            as_zset(&mut e.value)?;
        }
        None => {
            db.set(key, Value::ZSet(Box::new(ZSet::new())));
        }
    }
    let lim = Limits::current();
    let Some(e) = db.get_mut(key, now) else {
        return Ok(0);
    };
    let z = as_zset(&mut e.value)?;
    let mut added = 0;
    for (m, s) in items {
        if let AddOutcome::Added(_) = z.add(*s, m, AddFlags::default(), lim) {
            added += 1;
        }
    }
    Ok(added)
}

/// Writes popped elements: a flat `[m, s, ...]` array, or with `nested`
/// (RESP3 with a count) an array of `[m, s]` pairs.
pub fn reply_pop(r: &mut Reply<'_>, items: &[(Vec<u8>, f64)], nested: bool) {
    if nested {
        r.array(items.len());
    } else {
        r.array(items.len() * 2);
    }
    for (m, s) in items {
        if nested {
            r.array(2);
        }
        r.bulk(m);
        r.double(*s);
    }
}

/// Writes a ZMPOP/BZMPOP result: `[key, [[m, s], ...]]`, or the null array.
pub fn reply_mpop(r: &mut Reply<'_>, res: Option<(Vec<u8>, Pairs)>) {
    match res {
        None => r.null_array(),
        Some((k, items)) => {
            r.array(2);
            r.bulk(&k);
            reply_pop(r, &items, true);
        }
    }
}

fn zpop_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, max: bool) {
    if a.len() > 3 {
        return r.error(SYNTAX);
    }
    let count = if a.len() == 3 {
        match parse_i64(a.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return r.error(POSITIVE_ERR),
        }
    } else {
        None
    };
    let nested = r.resp3 && count.is_some();
    let now = ctx.now;
    let key = a.get(1);
    if count == Some(0) {
        return match ctx.db().get_mut(key, now).map(|e| as_zset(&mut e.value)) {
            Some(Err(_)) => r.error(WRONGTYPE),
            _ => r.array(0),
        };
    }
    match zpop(ctx.db(), now, key, max, count.unwrap_or(1)) {
        Err(_) => r.error(WRONGTYPE),
        Ok(None) => r.array(0),
        Ok(Some(items)) => reply_pop(r, &items, nested),
    }
}

fn zpopmin(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zpop_generic(ctx, r, a, false);
}
fn zpopmax(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    zpop_generic(ctx, r, a, true);
}

/// Parsed `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`.
pub struct MpopReq {
    /// Argument positions of the keys.
    pub keys: std::ops::Range<usize>,
    /// MAX (true) or MIN.
    pub max: bool,
    /// COUNT (1 without it).
    pub count: usize,
}

/// zmpopGenericCommand's parsing; `numkeys_idx` is where numkeys sits.
pub fn parse_mpop(a: Args<'_>, numkeys_idx: usize) -> Result<MpopReq, &'static str> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let n = match parse_i64(a.get(numkeys_idx)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(NUMKEYS),
    };
    let where_idx = (numkeys_idx as u64).saturating_add(n).saturating_add(1);
    if where_idx >= a.len() as u64 {
        return Err(SYNTAX);
    }
    let where_idx = where_idx as usize;
    let w = a.get(where_idx);
    let max = if eq(w, "min") {
        false
    } else if eq(w, "max") {
        true
    } else {
        return Err(SYNTAX);
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if count.is_none() && eq(a.get(j), "count") && more > 0 {
            j += 1;
            match parse_i64(a.get(j)) {
                Some(c) if c >= 1 => count = Some(c as usize),
                _ => return Err("ERR count should be greater than 0"),
            }
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(MpopReq {
        keys: numkeys_idx + 1..where_idx,
        max,
        count: count.unwrap_or(1),
    })
}

fn zmpop_cmd(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let req = match parse_mpop(a, 1) {
        Ok(q) => q,
        Err(e) => return r.error(e),
    };
    let keys: Vec<&[u8]> = req.keys.clone().map(|i| a.get(i)).collect();
    let now = ctx.now;
    match zmpop(ctx.db(), now, &keys, req.max, req.count) {
        Err(_) => r.error(WRONGTYPE),
        Ok(res) => reply_mpop(r, res),
    }
}

fn zmpop_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let req = match parse_mpop(a.args(), 1) {
            Ok(q) => q,
            Err(e) => return c.error(e),
        };
        let (max, count) = (req.max, req.count);
        for i in req.keys {
            let key = a.get(i).to_vec();
            let got = c
                .on_key(&key.clone(), move |ctx| {
                    let now = ctx.now;
                    zpop(ctx.db(), now, &key, max, count).map(|o| o.map(|p| (key, p)))
                })
                .await;
            match got {
                Err(_) => return c.error(WRONGTYPE),
                Ok(None) => continue,
                Ok(res) => {
                    let mut r = c.reply();
                    return reply_mpop(&mut r, res);
                }
            }
        }
        c.reply().null_array();
    })
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let key = a.get(1);
    let dbi = ctx.db;
    if a.len() == 2 {
        let (db, rng) = ctx.shard.db_and_rng(ctx.db);
        let now = ctx.now;
        let e = if ctx.no_touch {
            db.get_mut(key, now)
        } else {
            db.get(key, now)
        };
        super::string::read_counted(dbi, key, e.is_some());
        return match e.map(|e| as_zset(&mut e.value)) {
            None => r.null(),
            Some(Err(_)) => r.error(WRONGTYPE),
            Some(Ok(z)) => {
                let k = rng.below(z.len());
                match z.at_rank(k) {
                    Some((m, _)) => r.bulk(m),
                    None => r.null(),
                }
            }
        };
    }
    let l = match parse_i64(a.get(2)) {
        None => return r.error(NOT_INT),
        Some(i64::MIN) => {
            return r.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
        }
        Some(l) => l,
    };
    let withscores = if a.len() > 4 || (a.len() == 4 && !eq(a.get(3), "withscores")) {
        return r.error(SYNTAX);
    } else if a.len() == 4 {
        if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return r.error("ERR value is out of range");
        }
        true
    } else {
        false
    };
    let now = ctx.now;
    let no_touch = ctx.no_touch;
    let (db, rng) = ctx.shard.db_and_rng(ctx.db);
    let e = if no_touch {
        db.get_mut(key, now)
    } else {
        db.get(key, now)
    };
    super::string::read_counted(dbi, key, e.is_some());
    let z = match e.map(|e| as_zset(&mut e.value)) {
        None => return r.array(0),
        Some(Err(_)) => return r.error(WRONGTYPE),
        Some(Ok(z)) => z,
    };
    let size = z.len();
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    if count == 0 {
        return r.array(0);
    }
    let emit = |r: &mut Reply<'_>, k: usize| {
        if let Some((m, s)) = z.at_rank(k) {
            range_item(r, m, s, withscores);
        }
    };
    if !uniq {
        let count = count as usize;
        range_header(r, count, withscores);
        for _ in 0..count {
            let k = rng.below(size);
            emit(r, k);
        }
        return;
    }
    if count >= size as u64 {
        range_header(r, size, withscores);
        for k in 0..size {
            emit(r, k);
        }
        return;
    }
    let count = count as usize;
    range_header(r, count, withscores);
    if count * 3 > size {
        // Drop random elements until `count` remain, keep the set's order.
        let mut keep = vec![true; size];
        let mut left = size;
        while left > count {
            let k = rng.below(size);
            if keep[k] {
                keep[k] = false;
                left -= 1;
            }
        }
        for (k, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
            emit(r, k);
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        while seen.len() < count {
            let k = rng.below(size);
            if seen.insert(k) {
                emit(r, k);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------

/// Stable 64-bit hash of a member, the order ZSCAN walks a large set in.
fn scan_hash(m: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in m {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ (h >> 29)
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// A packed set is returned whole (cursor 0), like Redis does for listpacks.
/// A large set is walked in member-hash order: the cursor is the next hash to
/// visit, so members present for the whole iteration are returned once.
fn zscan(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(cursor) = parse_cursor(a.get(2)) else {
        return r.error("ERR invalid cursor");
    };
    let z = match read_z(ctx, a.get(1)) {
        Err(_) => return r.error(WRONGTYPE),
        Ok(None) => {
            r.array(2);
            r.bulk(b"0");
            return r.array(0);
        }
        Ok(Some(z)) => z,
    };
    let ScanOpts { count, pattern, .. } = match parse_scan_opts(a, 3, false) {
        Ok(o) => o,
        Err(e) => return r.error(e),
    };
    let mut next = 0u64;
    let mut batch: Vec<(u64, &[u8], f64)>;
    if z.is_full() {
        // Each call costs O(N): take a larger share of a big set per call so a
        // whole iteration stays O(N log N) (COUNT is a hint, as in Redis).
        let count = count.max(z.len() / 32);
        batch = z
            .pairs()
            .into_iter()
            .map(|(m, s)| (scan_hash(m), m, s))
            .filter(|(h, _, _)| *h >= cursor)
            .collect();
        batch.sort_unstable_by_key(|x| x.0);
        if batch.len() > count {
            let last = batch[count - 1].0;
            let end = batch.partition_point(|x| x.0 <= last);
            if end < batch.len() {
                next = last.wrapping_add(1);
            }
            batch.truncate(end);
        }
    } else {
        batch = z.pairs().into_iter().map(|(m, s)| (0, m, s)).collect();
    }
    batch.retain(|(_, m, _)| pattern.is_none_or(|p| crate::config::glob_match(p, m, false)));
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(batch.len() * 2);
    for (_, m, s) in batch {
        r.bulk(m);
        r.bulk(crate::protocol::reply::format_double(s).as_bytes());
    }
}

// ---------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF (+STORE), ZINTERCARD
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// Which set command and where its arguments sit.
#[derive(Clone, Copy)]
struct SetCmd {
    name: &'static str,
    op: Op,
    store: bool,
    card: bool,
}

impl SetCmd {
    fn numkeys_idx(&self) -> usize {
        if self.store { 2 } else { 1 }
    }
}

/// Options after the keys.
struct SetOpts {
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
    limit: u64,
}

/// Parses numkeys: the key argument range.
fn parse_numkeys(a: Args<'_>, cmd: SetCmd) -> Result<std::ops::Range<usize>, String> {
    let idx = cmd.numkeys_idx();
    let n = parse_i64(a.get(idx)).ok_or_else(|| NOT_INT.to_string())?;
    if n < 1 {
        return Err(format!(
            "ERR at least 1 input key is needed for '{}' command",
            cmd.name
        ));
    }
    if n as u64 > (a.len() - idx - 1) as u64 {
        return Err(SYNTAX.to_string());
    }
    Ok(idx + 1..idx + 1 + n as usize)
}

/// Parses WEIGHTS / AGGREGATE / WITHSCORES / LIMIT after the keys.
fn parse_set_opts(
    a: Args<'_>,
    cmd: SetCmd,
    keys: std::ops::Range<usize>,
) -> Result<SetOpts, &'static str> {
    let setnum = keys.len();
    let mut o = SetOpts {
        weights: vec![1.0; setnum],
        agg: Agg::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = keys.end;
    while j < a.len() {
        let remaining = a.len() - j;
        let w = a.get(j);
        if cmd.op != Op::Diff && !cmd.card && remaining > setnum && eq(w, "weights") {
            j += 1;
            for i in 0..setnum {
                o.weights[i] = parse_score(a.get(j)).ok_or("ERR weight value is not a float")?;
                j += 1;
            }
        } else if cmd.op != Op::Diff && !cmd.card && remaining >= 2 && eq(w, "aggregate") {
            let v = a.get(j + 1);
            o.agg = if eq(v, "sum") {
                Agg::Sum
            } else if eq(v, "min") {
                Agg::Min
            } else if eq(v, "max") {
                Agg::Max
            } else {
                return Err(SYNTAX);
            };
            j += 2;
        } else if !cmd.store && !cmd.card && eq(w, "withscores") {
            o.withscores = true;
            j += 1;
        } else if cmd.card && remaining >= 2 && eq(w, "limit") {
            match parse_i64(a.get(j + 1)) {
                Some(l) if l >= 0 => o.limit = l as u64,
                _ => return Err("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok(o)
}

fn aggregate(agg: Agg, acc: &mut f64, v: f64) {
    match agg {
        Agg::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Agg::Min => {
            if v < *acc {
                *acc = v;
            }
        }
        Agg::Max => {
            if v > *acc {
                *acc = v;
            }
        }
    }
}

/// Computes a set operation over the sources (missing keys are None).
/// Returns ascending (score, member) pairs with unique members.
fn compute(op: Op, srcs: Vec<Option<Pairs>>, o: &SetOpts) -> Vec<(f64, Vec<u8>)> {
    use std::collections::HashMap;
    let mut srcs: Vec<(Pairs, f64)> = srcs
        .into_iter()
        .zip(o.weights.iter().copied())
        .map(|(s, w)| (s.unwrap_or_default(), w))
        .collect();
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() { 0.0 } else { v }
    };
    let mut out: Vec<(f64, Vec<u8>)> = Vec::new();
    match op {
        Op::Union => {
            srcs.sort_by_key(|s| s.0.len());
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for (items, w) in srcs {
                for (m, s) in items {
                    let v = weighted(s, w);
                    match acc.get_mut(&m) {
                        Some(cur) => aggregate(o.agg, cur, v),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            out = acc.into_iter().map(|(m, s)| (s, m)).collect();
        }
        Op::Inter => {
            if srcs.iter().any(|s| s.0.is_empty()) {
                return out;
            }
            srcs.sort_by_key(|s| s.0.len());
            let maps: Vec<HashMap<&[u8], f64>> = srcs[1..]
                .iter()
                .map(|(items, _)| items.iter().map(|(m, s)| (&m[..], *s)).collect())
                .collect();
            let (first, w0) = &srcs[0];
            'next: for (m, s) in first {
                let mut v = weighted(*s, *w0);
                for (k, map) in maps.iter().enumerate() {
                    match map.get(&m[..]) {
                        Some(s2) => aggregate(o.agg, &mut v, weighted(*s2, srcs[k + 1].1)),
                        None => continue 'next,
                    }
                }
                out.push((v, m.clone()));
            }
        }
        Op::Diff => {
            let mut it = srcs.into_iter();
            let Some((first, _)) = it.next() else {
                return out;
            };
            let others: Vec<std::collections::HashSet<Vec<u8>>> = it
                .map(|(items, _)| items.into_iter().map(|(m, _)| m).collect())
                .collect();
            out = first
                .into_iter()
                .filter(|(m, _)| !others.iter().any(|s| s.contains(m)))
                .map(|(m, s)| (s, m))
                .collect();
        }
    }
    out.sort_by(|a, b| {
        a.0.partial_cmp(&b.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.1.cmp(&b.1))
    });
    out
}

/// ZINTERCARD's count over the sources.
fn inter_card(srcs: Vec<Option<Pairs>>, limit: u64) -> u64 {
    let mut srcs: Vec<Pairs> = srcs.into_iter().map(|s| s.unwrap_or_default()).collect();
    if srcs.iter().any(|s| s.is_empty()) {
        return 0;
    }
    srcs.sort_by_key(|s| s.len());
    let sets: Vec<std::collections::HashSet<&[u8]>> = srcs[1..]
        .iter()
        .map(|items| items.iter().map(|(m, _)| &m[..]).collect())
        .collect();
    let mut n = 0u64;
    for (m, _) in &srcs[0] {
        if sets.iter().all(|s| s.contains(&m[..])) {
            n += 1;
            if limit > 0 && n >= limit {
                break;
            }
        }
    }
    n
}

/// What a set command produced, before the destination write.
enum SetResult {
    Reply(Vec<(f64, Vec<u8>)>, bool),
    Card(u64),
    Store(Vec<(f64, Vec<u8>)>),
}

/// Checks the fetched sources and options, then computes.
fn setop_finish(
    a: Args<'_>,
    cmd: SetCmd,
    keys: std::ops::Range<usize>,
    srcs: Vec<Result<Option<Pairs>, WrongType>>,
) -> Result<SetResult, String> {
    let mut ok = Vec::with_capacity(srcs.len());
    for s in srcs {
        ok.push(s.map_err(|_| WRONGTYPE.to_string())?);
    }
    let o = parse_set_opts(a, cmd, keys).map_err(|e| e.to_string())?;
    if cmd.card {
        return Ok(SetResult::Card(inter_card(ok, o.limit)));
    }
    let items = compute(cmd.op, ok, &o);
    Ok(if cmd.store {
        SetResult::Store(items)
    } else {
        SetResult::Reply(items, o.withscores)
    })
}

fn reply_set_result(r: &mut Reply<'_>, res: SetResult) {
    match res {
        SetResult::Card(n) => r.int(n as i64),
        SetResult::Reply(items, ws) => {
            range_header(r, items.len(), ws);
            for (s, m) in &items {
                range_item(r, m, *s, ws);
            }
        }
        SetResult::Store(_) => {}
    }
}

fn setop_shard(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, cmd: SetCmd) {
    let keys = match parse_numkeys(a, cmd) {
        Ok(k) => k,
        Err(e) => return r.error(&e),
    };
    let mut srcs = Vec::with_capacity(keys.len());
    for i in keys.clone() {
        let s = fetch_src(ctx, a.get(i));
        let bad = s.is_err();
        srcs.push(s);
        if bad {
            break;
        }
    }
    match setop_finish(a, cmd, keys, srcs) {
        Err(e) => r.error(&e),
        Ok(SetResult::Store(items)) => {
            let now = ctx.now;
            let n = store_sorted(ctx.db(), now, a.get(1), items, cmd.name);
            r.int(n as i64);
        }
        Ok(res) => reply_set_result(r, res),
    }
}

async fn setop_coord_run(c: &mut Session, a: OwnedArgs, cmd: SetCmd) {
    let keys = match parse_numkeys(a.args(), cmd) {
        Ok(k) => k,
        Err(e) => return c.error(&e),
    };
    let groups = c.group_by_shard(&a, keys.clone());
    let futs = groups.iter().map(|(shard, idx)| {
        let ks: Vec<Vec<u8>> = idx.iter().map(|&i| a.get(i).to_vec()).collect();
        c.on_shard(*shard, move |ctx| {
            ks.iter().map(|k| fetch_src(ctx, k)).collect::<Vec<_>>()
        })
    });
    let results = futures::future::join_all(futs).await;
    let mut srcs: Vec<Result<Option<Pairs>, WrongType>> = vec![Ok(None); a.len()];
    for ((_, idx), res) in groups.iter().zip(results) {
        for (&i, v) in idx.iter().zip(res) {
            srcs[i] = v;
        }
    }
    let srcs: Vec<_> = srcs.drain(keys.clone()).collect();
    match setop_finish(a.args(), cmd, keys, srcs) {
        Err(e) => c.error(&e),
        Ok(SetResult::Store(items)) => {
            let dst = a.get(1).to_vec();
            let event = cmd.name;
            let n = c
                .on_key(&dst.clone(), move |ctx| {
                    let now = ctx.now;
                    store_sorted(ctx.db(), now, &dst, items, event)
                })
                .await;
            c.reply().int(n as i64);
        }
        Ok(res) => {
            let mut r = c.reply();
            reply_set_result(&mut r, res);
        }
    }
}

macro_rules! setop_cmd {
    ($shard:ident, $coord:ident, $name:literal, $op:expr, $store:expr, $card:expr) => {
        fn $shard(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
            setop_shard(
                ctx,
                r,
                a,
                SetCmd {
                    name: $name,
                    op: $op,
                    store: $store,
                    card: $card,
                },
            );
        }
        fn $coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
            Box::pin(setop_coord_run(
                c,
                a,
                SetCmd {
                    name: $name,
                    op: $op,
                    store: $store,
                    card: $card,
                },
            ))
        }
    };
}

setop_cmd!(zunion, zunion_coord, "zunion", Op::Union, false, false);
setop_cmd!(zinter, zinter_coord, "zinter", Op::Inter, false, false);
setop_cmd!(zdiff, zdiff_coord, "zdiff", Op::Diff, false, false);
setop_cmd!(
    zunionstore,
    zunionstore_coord,
    "zunionstore",
    Op::Union,
    true,
    false
);
setop_cmd!(
    zinterstore,
    zinterstore_coord,
    "zinterstore",
    Op::Inter,
    true,
    false
);
setop_cmd!(
    zdiffstore,
    zdiffstore_coord,
    "zdiffstore",
    Op::Diff,
    true,
    false
);
setop_cmd!(
    zintercard,
    zintercard_coord,
    "zintercard",
    Op::Inter,
    false,
    true
);

// ---------------------------------------------------------------------------
// Key finders
// ---------------------------------------------------------------------------

/// Keys after a numkeys argument at `idx`, bounded by the arguments present.
fn numkeys_keys(a: Args<'_>, idx: usize, out: &mut Vec<usize>) {
    if idx >= a.len() {
        return;
    }
    let Some(n) = parse_i64(a.get(idx)) else {
        return;
    };
    if n < 1 {
        return;
    }
    let end = (idx as u64 + 1 + n as u64).min(a.len() as u64) as usize;
    out.extend(idx + 1..end);
}

/// `ZUNION numkeys key ...` and the like.
fn keys_numkeys1(a: Args<'_>, out: &mut Vec<usize>) {
    numkeys_keys(a, 1, out);
}

/// `ZUNIONSTORE dst numkeys key ...` and the like.
fn keys_store(a: Args<'_>, out: &mut Vec<usize>) {
    if a.len() > 1 {
        out.push(1);
    }
    numkeys_keys(a, 2, out);
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

const RO_ACCESS: u32 = keyflags::RO | keyflags::ACCESS;

/// A single-key zset command spec.
const fn one_key(name: &'static str, arity: i32, flags: u64, key_flags: u32) -> CommandSpec {
    CommandSpec::single_key(name, "sorted-set", arity, flags, key_flags)
}

/// A numkeys command spec (keys found by a key finder).
const fn movable(name: &'static str, arity: i32, flags: u64, store: bool) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: if store { 1 } else { 0 },
        last_key: if store { 1 } else { 0 },
        step: if store { 1 } else { 0 },
        key_flags: if store {
            keyflags::OW | keyflags::UPDATE
        } else {
            RO_ACCESS
        },
        keys: Some(if store { keys_store } else { keys_numkeys1 }),
        group: "sorted-set",
        ..CommandSpec::DEFAULT
    }
}

const READ_FAST: &[&str] = &["read", "sortedset", "fast"];
const READ_SLOW: &[&str] = &["read", "sortedset", "slow"];
const WRITE_FAST: &[&str] = &["write", "sortedset", "fast"];
const WRITE_SLOW: &[&str] = &["write", "sortedset", "slow"];

/// Sorted-set family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        acl: WRITE_FAST,
        shard: Some(zadd),
        ..one_key(
            "zadd",
            -4,
            WRITE | DENYOOM | FAST,
            keyflags::RW | keyflags::UPDATE,
        )
    },
    CommandSpec {
        acl: WRITE_FAST,
        shard: Some(zincrby),
        ..one_key(
            "zincrby",
            4,
            WRITE | DENYOOM | FAST,
            keyflags::RW | keyflags::ACCESS | keyflags::UPDATE,
        )
    },
    CommandSpec {
        acl: WRITE_FAST,
        shard: Some(zrem),
        ..one_key("zrem", -3, WRITE | FAST, keyflags::RW | keyflags::DELETE)
    },
    CommandSpec {
        acl: READ_FAST,
        shard: Some(zcard),
        ..one_key("zcard", 2, READONLY | FAST, keyflags::RO)
    },
    CommandSpec {
        acl: READ_FAST,
        shard: Some(zcount),
        ..one_key("zcount", 4, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_FAST,
        shard: Some(zlexcount),
        ..one_key("zlexcount", 4, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_FAST,
        shard: Some(zscore),
        ..one_key("zscore", 3, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_FAST,
        shard: Some(zmscore),
        ..one_key("zmscore", -3, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_FAST,
        shard: Some(zrank),
        ..one_key("zrank", 3, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_FAST,
        shard: Some(zrevrank),
        ..one_key("zrevrank", 3, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zrange),
        ..one_key("zrange", -4, READONLY, RO_ACCESS)
    },
    CommandSpec {
        name: "zrangestore",
        arity: -5,
        flags: WRITE | DENYOOM,
        first_key: 1,
        last_key: 2,
        step: 1,
        key_flags: keyflags::OW | keyflags::UPDATE,
        acl: WRITE_SLOW,
        group: "sorted-set",
        shard: Some(zrangestore),
        coord: Some(zrangestore_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zrevrange),
        ..one_key("zrevrange", -4, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zrangebyscore),
        ..one_key("zrangebyscore", -4, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zrevrangebyscore),
        ..one_key("zrevrangebyscore", -4, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zrangebylex),
        ..one_key("zrangebylex", -4, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zrevrangebylex),
        ..one_key("zrevrangebylex", -4, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: WRITE_SLOW,
        shard: Some(zremrangebyrank),
        ..one_key("zremrangebyrank", 4, WRITE, keyflags::RW | keyflags::DELETE)
    },
    CommandSpec {
        acl: WRITE_SLOW,
        shard: Some(zremrangebyscore),
        ..one_key(
            "zremrangebyscore",
            4,
            WRITE,
            keyflags::RW | keyflags::DELETE,
        )
    },
    CommandSpec {
        acl: WRITE_SLOW,
        shard: Some(zremrangebylex),
        ..one_key("zremrangebylex", 4, WRITE, keyflags::RW | keyflags::DELETE)
    },
    CommandSpec {
        acl: WRITE_FAST,
        shard: Some(zpopmin),
        ..one_key(
            "zpopmin",
            -2,
            WRITE | FAST,
            keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
        )
    },
    CommandSpec {
        acl: WRITE_FAST,
        shard: Some(zpopmax),
        ..one_key(
            "zpopmax",
            -2,
            WRITE | FAST,
            keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
        )
    },
    CommandSpec {
        acl: WRITE_SLOW,
        shard: Some(zmpop_cmd),
        coord: Some(zmpop_coord),
        key_flags: keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
        ..movable("zmpop", -4, WRITE, false)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zrandmember),
        ..one_key("zrandmember", -2, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zunion),
        coord: Some(zunion_coord),
        ..movable("zunion", -3, READONLY, false)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zinter),
        coord: Some(zinter_coord),
        ..movable("zinter", -3, READONLY, false)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zdiff),
        coord: Some(zdiff_coord),
        ..movable("zdiff", -3, READONLY, false)
    },
    CommandSpec {
        acl: WRITE_SLOW,
        shard: Some(zunionstore),
        coord: Some(zunionstore_coord),
        ..movable("zunionstore", -4, WRITE | DENYOOM, true)
    },
    CommandSpec {
        acl: WRITE_SLOW,
        shard: Some(zinterstore),
        coord: Some(zinterstore_coord),
        ..movable("zinterstore", -4, WRITE | DENYOOM, true)
    },
    CommandSpec {
        acl: WRITE_SLOW,
        shard: Some(zdiffstore),
        coord: Some(zdiffstore_coord),
        ..movable("zdiffstore", -4, WRITE | DENYOOM, true)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zintercard),
        coord: Some(zintercard_coord),
        ..movable("zintercard", -3, READONLY, false)
    },
    CommandSpec {
        acl: READ_SLOW,
        shard: Some(zscan),
        ..one_key("zscan", -3, READONLY, RO_ACCESS)
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::from_slices(parts)
    }

    #[test]
    fn score_parsing() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score_bound(b"(1"), Some((1.0, true)));
        assert_eq!(parse_score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"(nan"), None);
        assert_eq!(parse_score_bound(b"abc"), None);
        assert_eq!(parse_lex_bound(b"a"), None);
        assert_eq!(parse_lex_bound(b"+"), Some(LexBound::Max));
        assert_eq!(parse_lex_bound(b"+a"), None);
        assert_eq!(
            parse_lex_bound(b"(a"),
            Some(LexBound::Val(b"a".to_vec(), false))
        );
    }

    #[test]
    fn range_parsing_errors() {
        let a = owned(&["zrange", "k", "0", "-1", "limit", "0", "1"]);
        assert!(
            parse_range(a.args(), 1, false, Kind::Auto, Dir::Auto)
                .unwrap_err()
                .contains("LIMIT")
        );
        let a = owned(&["zrange", "k", "a", "b", "bylex", "withscores"]);
        assert!(
            parse_range(a.args(), 1, false, Kind::Auto, Dir::Auto)
                .unwrap_err()
                .contains("WITHSCORES")
        );
        let a = owned(&["zrangebyscore", "k", "0", "1", "rev"]);
        assert_eq!(
            parse_range(a.args(), 1, false, Kind::Score, Dir::Fwd).unwrap_err(),
            SYNTAX
        );
        let a = owned(&["zrange", "k", "0", "1", "limit", "x", "1", "foo"]);
        assert_eq!(
            parse_range(a.args(), 1, false, Kind::Auto, Dir::Auto).unwrap_err(),
            NOT_INT
        );
    }

    #[test]
    fn rank_windows() {
        let mut z = ZSet::new();
        let lim = Limits {
            entries: 128,
            value: 64,
        };
        for i in 0..10 {
            z.add(
                i as f64,
                format!("m{i}").as_bytes(),
                AddFlags::default(),
                lim,
            );
        }
        let req = |sel, rev, offset, limit| RangeReq {
            sel,
            rev,
            withscores: false,
            offset,
            limit,
        };
        assert_eq!(
            range_ranks(&z, &req(Sel::Rank(0, -1), false, 0, -1)),
            (0, 10)
        );
        assert_eq!(range_ranks(&z, &req(Sel::Rank(0, 2), true, 0, -1)), (7, 10));
        assert_eq!(range_ranks(&z, &req(Sel::Rank(5, 2), false, 0, -1)), (0, 0));
        assert_eq!(
            range_ranks(&z, &req(Sel::Rank(-100, 100), false, 0, -1)),
            (0, 10)
        );
        let all = ScoreRange {
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
            minex: false,
            maxex: false,
        };
        assert_eq!(range_ranks(&z, &req(Sel::Score(all), false, 2, 3)), (2, 5));
        assert_eq!(range_ranks(&z, &req(Sel::Score(all), true, 2, 3)), (5, 8));
        assert_eq!(range_ranks(&z, &req(Sel::Score(all), true, -1, 3)), (0, 0));
        assert_eq!(range_ranks(&z, &req(Sel::Score(all), true, 20, 3)), (0, 0));
        assert_eq!(
            range_ranks(&z, &req(Sel::Score(all), false, 8, -5)),
            (8, 10)
        );
    }

    #[test]
    fn set_ops() {
        let a: Pairs = vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.0)];
        let b: Pairs = vec![(b"b".to_vec(), 3.0), (b"c".to_vec(), 4.0)];
        let o = SetOpts {
            weights: vec![1.0, 2.0],
            agg: Agg::Sum,
            withscores: false,
            limit: 0,
        };
        let u = compute(Op::Union, vec![Some(a.clone()), Some(b.clone())], &o);
        assert_eq!(
            u,
            vec![
                (1.0, b"a".to_vec()),
                (8.0, b"b".to_vec()),
                (8.0, b"c".to_vec())
            ]
        );
        let i = compute(Op::Inter, vec![Some(a.clone()), Some(b.clone())], &o);
        assert_eq!(i, vec![(8.0, b"b".to_vec())]);
        let d = compute(Op::Diff, vec![Some(a.clone()), Some(b.clone())], &o);
        assert_eq!(d, vec![(1.0, b"a".to_vec())]);
        assert_eq!(inter_card(vec![Some(a.clone()), Some(b)], 0), 1);
        assert_eq!(inter_card(vec![Some(a), None], 0), 0);
    }

    #[test]
    fn shard_pops_and_undo() {
        let mut db = Db::new(1);
        let items = vec![
            (b"a".to_vec(), 1.0),
            (b"b".to_vec(), 2.0),
            (b"c".to_vec(), 3.0),
        ];
        assert_eq!(zadd_pairs(&mut db, 0, b"k", &items), Ok(3));
        let got = zpop(&mut db, 0, b"k", true, 2).unwrap().unwrap();
        assert_eq!(got, vec![(b"c".to_vec(), 3.0), (b"b".to_vec(), 2.0)]);
        assert_eq!(zadd_pairs(&mut db, 0, b"k", &got), Ok(2));
        let (k, got) = zmpop(&mut db, 0, &[b"none", b"k"], false, 10)
            .unwrap()
            .unwrap();
        assert_eq!(k, b"k");
        assert_eq!(got, items);
        assert!(!db.contains(b"k", 0));
        assert_eq!(zmpop(&mut db, 0, &[b"k"], false, 1), Ok(None));
        db.set(b"s", Value::string(b"x"));
        assert_eq!(zpop(&mut db, 0, b"s", false, 1), Err(WrongType));
        assert!(!zset_ready(&Value::string(b"x")));
    }

    #[test]
    fn key_finders() {
        let a = owned(&["zunionstore", "d", "2", "a", "b", "weights", "1", "2"]);
        let mut out = Vec::new();
        keys_store(a.args(), &mut out);
        assert_eq!(out, vec![1, 3, 4]);
        let a = owned(&["zmpop", "5", "a", "min"]);
        out.clear();
        keys_numkeys1(a.args(), &mut out);
        assert_eq!(out, vec![2, 3]);
        let a = owned(&["zunion", "x", "a"]);
        out.clear();
        keys_numkeys1(a.args(), &mut out);
        assert!(out.is_empty());
    }
}
