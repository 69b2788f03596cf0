//! The set commands.
//!
//! ```text
//!  single-key commands ──► ShardFn on the owning shard
//!  SINTER/SUNION/SDIFF/*STORE/SINTERCARD/SMOVE
//!     all keys on one shard ──► ShardFn: borrow the sets in place, compute
//!     keys on several shards ──► CoordFn:
//!        SINTER/SDIFF/SINTERCARD: one hop per shard type-checks and sizes the
//!          keys, the smallest (SINTER) or first (SDIFF) set's members travel
//!          to each other shard, which keeps only the candidates that qualify
//!        SUNION: one hop per shard copies its sets
//!        *STORE: then one hop stores the result on the destination's shard
//!        SMOVE: destination type check, removal at the source, add at the
//!          destination
//! ```
//!
//! Error precedence follows Redis 7.0: every source key is type-checked in
//! argument order (a missing key is an empty set and does not stop the checks),
//! options are parsed before any lookup where Redis does so.

use super::string::lookup_read;
use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*, keyflags};
use crate::command::session::Session;
use crate::protocol::{Args, Reply};
use crate::shard::journal;
use crate::storage::notify;
use crate::storage::set::{Elem, Set, sample_distinct};
use crate::storage::{Db, Entry, Value};

const SPOP_RANGE: &str = "ERR value is out of range, must be positive";
const SRAND_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
const NUMKEYS: &str = "ERR numkeys should be greater than 0";
const TOO_MANY_KEYS: &str = "ERR Number of keys can't be greater than number of args";
const LIMIT_NEG: &str = "ERR LIMIT can't be negative";

#[inline]
fn max_intset() -> usize {
    crate::config::encoding_limits().set_max_intset_entries
}

/// The set held by an entry: `Err` for another type.
#[inline]
fn set_of(e: Option<&mut Entry>) -> Result<Option<&mut Set>, ()> {
    match e {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(()),
        },
    }
}

/// Writes one member as a bulk string.
#[inline]
fn bulk_elem(r: &mut Reply<'_>, e: Elem<'_>) {
    match e {
        Elem::Int(v) => r.bulk_int(v),
        Elem::Str(s) => r.bulk(s),
    }
}

/// Replies a whole set with the RESP3 set type.
fn reply_set(r: &mut Reply<'_>, s: &Set) {
    r.set(s.len());
    for e in s.iter() {
        bulk_elem(r, e);
    }
}

// ---------------------------------------------------------------------------
// Set algebra, shared by the shard and coordinator paths
// ---------------------------------------------------------------------------

/// Members of the intersection (in the smallest set's order), stopping at
/// `limit` members when `limit > 0`. A missing set makes it empty.
pub fn inter_elems<'a>(sets: &[Option<&'a Set>], limit: usize) -> Vec<Elem<'a>> {
    let Some(mut present) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new();
    };
    if present.is_empty() {
        return Vec::new();
    }
    present.sort_by_key(|s| s.len());
    let (first, rest) = (present[0], &present[1..]);
    let mut out = Vec::new();
    for e in first.iter() {
        if rest.iter().all(|s| s.contains_elem(e)) {
            out.push(e);
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// The intersection as a new set (SINTERSTORE).
pub fn inter_set(sets: &[Option<&Set>], max: usize) -> Set {
    let mut out = Set::new();
    for e in inter_elems(sets, 0) {
        out.add_elem(e, max);
    }
    out
}

/// The union (`diff == false`) or the difference of the first set and the
/// others, as a new set built the way Redis builds it (intset first).
pub fn union_diff(sets: &[Option<&Set>], diff: bool, max: usize) -> Set {
    let mut out = Set::new();
    if diff {
        let Some(Some(first)) = sets.first() else {
            return out;
        };
        let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
        for e in first.iter() {
            if !others.iter().any(|o| o.contains_elem(e)) {
                out.add_elem(e, max);
            }
        }
    } else {
        for s in sets.iter().flatten() {
            for e in s.iter() {
                out.add_elem(e, max);
            }
        }
    }
    out
}

/// Looks every key up (statistics and lazy expiry as Redis's lookupKeyRead,
/// which 7.0 uses for the sources of the STORE variants too) and type-checks
/// them in order; then borrows the sets. `Err` on the first key holding
/// another type.
fn gather<'a>(ctx: &'a mut Ctx<'_>, keys: &[&[u8]]) -> Result<Vec<Option<&'a Set>>, ()> {
    for k in keys {
        set_of(lookup_read(ctx, k))?;
    }
    let now = ctx.now;
    let db: &Db = ctx.db();
    Ok(keys
        .iter()
        .map(|k| {
            db.peek(k, now).and_then(|e| match &e.value {
                Value::Set(s) => Some(&**s),
                _ => None,
            })
        })
        .collect())
}

/// Stores `set` at `dst` (replacing any value and TTL), or deletes `dst` when
/// the result is empty. Raises `event` (the command's name), or `del` when
/// an emptied result removed `dst`. Returns the stored cardinality.
pub fn store(ctx: &mut Ctx<'_>, dst: &[u8], set: Set, event: &'static str) -> usize {
    let n = set.len();
    let now = ctx.now;
    if n == 0 {
        if !ctx.db().delete(dst, now) {
            crate::metrics::changes(0);
            return 0;
        }
        notify::emit(notify::GENERIC, "del", ctx.db, dst);
    } else {
        ctx.db().set_at(dst, Value::Set(Box::new(set)), now);
        notify::emit(notify::SET, event, ctx.db, dst);
    }
    super::util::changed_only(ctx.db(), dst);
    n
}

/// Runs `f` for each key at argument positions `idx`, one hop per shard;
/// results in argument order.
async fn per_key<R: Send + 'static>(
    c: &Session,
    a: &OwnedArgs,
    idx: std::ops::Range<usize>,
    f: fn(&mut Ctx<'_>, &[u8]) -> R,
) -> Vec<R> {
    let start = idx.start;
    let groups = c.group_by_shard(a, idx.clone());
    let futs = groups.iter().map(|(shard, ix)| {
        let keys: Vec<Vec<u8>> = ix.iter().map(|&i| a.get(i).to_vec()).collect();
        c.on_shard(*shard, move |ctx| {
            keys.iter().map(|k| f(ctx, k)).collect::<Vec<R>>()
        })
    });
    let results = futures::future::join_all(futs).await;
    let mut all: Vec<Option<R>> = (0..idx.len()).map(|_| None).collect();
    for ((_, ix), res) in groups.iter().zip(results) {
        for (&i, r) in ix.iter().zip(res) {
            all[i - start] = Some(r);
        }
    }
    // Every position belongs to exactly one group, so nothing is dropped.
    all.into_iter().flatten().collect()
}

/// A key's set as a source of a coordinated command: `Err` for another type,
/// `None` when missing.
type Probe<T> = Result<Option<T>, ()>;

fn probe_len(ctx: &mut Ctx<'_>, k: &[u8]) -> Probe<usize> {
    set_of(lookup_read(ctx, k)).map(|s| s.map(|s| s.len()))
}
fn fetch(ctx: &mut Ctx<'_>, k: &[u8]) -> Probe<Set> {
    set_of(lookup_read(ctx, k)).map(|s| s.cloned())
}

/// The first wrong type (in argument order) is the error; otherwise the values.
fn all_ok<T>(v: Vec<Probe<T>>) -> Result<Vec<Option<T>>, ()> {
    v.into_iter().collect()
}

/// The set at `key` without side effects (statistics were counted by the probe).
fn peek_set<'a>(db: &'a Db, key: &[u8], now: u64) -> Option<&'a Set> {
    db.peek(key, now).and_then(|e| match &e.value {
        Value::Set(s) => Some(&**s),
        _ => None,
    })
}

/// Members of the set at `key` (empty when it is gone).
fn members_of(ctx: &mut Ctx<'_>, key: &[u8]) -> Vec<Vec<u8>> {
    let now = ctx.now;
    peek_set(ctx.db(), key, now).map_or_else(Vec::new, |s| s.iter().map(Elem::to_vec).collect())
}

/// Keeps the candidates that belong to every set at `keys` (`inter`) or to
/// none of them (difference).
fn filter_candidates(
    ctx: &mut Ctx<'_>,
    keys: &[Vec<u8>],
    mut cands: Vec<Vec<u8>>,
    inter: bool,
) -> Vec<Vec<u8>> {
    let now = ctx.now;
    let db: &Db = ctx.db();
    let sets: Vec<Option<&Set>> = keys.iter().map(|k| peek_set(db, k, now)).collect();
    if inter {
        let Some(sets) = sets.into_iter().collect::<Option<Vec<&Set>>>() else {
            return Vec::new();
        };
        cands.retain(|m| sets.iter().all(|s| s.contains(m)));
    } else {
        cands.retain(|m| !sets.iter().flatten().any(|s| s.contains(m)));
    }
    cands
}

/// SINTER/SDIFF across shards without copying whole sets: type-check every
/// key (and learn the sizes), fetch the members of the smallest set (SINTER)
/// or the first set (SDIFF), then let each other shard filter them.
async fn inter_diff_coord(
    c: &Session,
    a: &OwnedArgs,
    idx: std::ops::Range<usize>,
    op: Op,
) -> Result<Vec<Vec<u8>>, ()> {
    let lens = all_ok(per_key(c, a, idx.clone(), probe_len).await)?;
    let pick = if op == Op::Inter {
        let mut best = 0;
        for (j, l) in lens.iter().enumerate() {
            match l {
                None => return Ok(Vec::new()),
                Some(n) if *n < lens[best].unwrap_or(0) => best = j,
                _ => {}
            }
        }
        best
    } else {
        if lens.first().is_none_or(|l| l.is_none()) {
            return Ok(Vec::new());
        }
        0
    };
    let pick_arg = idx.start + pick;
    let key = a.get(pick_arg).to_vec();
    let mut cands = c
        .on_key(&key.clone(), move |ctx| members_of(ctx, &key))
        .await;
    let groups = c.group_by_shard(a, idx.filter(|&i| i != pick_arg));
    for (shard, ix) in groups {
        if cands.is_empty() {
            break;
        }
        let keys: Vec<Vec<u8>> = ix.iter().map(|&i| a.get(i).to_vec()).collect();
        let inter = op == Op::Inter;
        cands = c
            .on_shard(shard, move |ctx| {
                filter_candidates(ctx, &keys, cands, inter)
            })
            .await;
    }
    Ok(cands)
}

/// Builds a set from members the way Redis builds a result (intset first).
fn build(members: &[Vec<u8>]) -> Set {
    let max = max_intset();
    let mut s = Set::new();
    for m in members {
        s.add(m, max);
    }
    s
}

/// The result of `op` over the keys at `idx`, computed across shards.
async fn compute_coord(
    c: &Session,
    a: &OwnedArgs,
    idx: std::ops::Range<usize>,
    op: Op,
) -> Result<Set, ()> {
    if op == Op::Union {
        let sets = all_ok(per_key(c, a, idx, fetch).await)?;
        let refs: Vec<Option<&Set>> = sets.iter().map(|s| s.as_ref()).collect();
        Ok(compute(op, &refs))
    } else {
        Ok(build(&inter_diff_coord(c, a, idx, op).await?))
    }
}

// ---------------------------------------------------------------------------
// Single-key commands
// ---------------------------------------------------------------------------

/// `SADD key member [member ...]`
fn sadd(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let key = a.get(1);
    let max = max_intset();
    let now = ctx.now;
    let db = ctx.db();
    let added = match set_of(db.get(key, now)) {
        Err(()) => return r.error(WRONGTYPE),
        Ok(Some(s)) => a.iter().skip(2).filter(|m| s.add(m, max)).count(),
        Ok(None) => {
            let mut s = Set::new();
            let n = a.iter().skip(2).filter(|m| s.add(m, max)).count();
            db.set(key, Value::Set(Box::new(s)));
            n
        }
    };
    crate::metrics::changes(added as u64);
    if added > 0 {
        notify::emit(notify::SET, "sadd", ctx.db, key);
    }
    r.int(added as i64);
}

/// `SREM key member [member ...]`
fn srem(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let key = a.get(1);
    let now = ctx.now;
    let db = ctx.db();
    let (removed, empty) = match set_of(db.get(key, now)) {
        Err(()) => return r.error(WRONGTYPE),
        Ok(None) => (0, false),
        Ok(Some(s)) => {
            let mut n = 0;
            for m in a.iter().skip(2) {
                if s.remove(m) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (n, s.is_empty())
        }
    };
    if empty {
        db.remove(key);
    }
    if removed > 0 {
        notify::emit(notify::SET, "srem", ctx.db, key);
        if empty {
            notify::emit(notify::GENERIC, "del", ctx.db, key);
        }
    }
    crate::metrics::changes(removed);
    r.int(removed as i64);
}

/// `SMEMBERS key`
fn smembers(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match set_of(lookup_read(ctx, a.get(1))) {
        Err(()) => r.error(WRONGTYPE),
        Ok(None) => r.set(0),
        Ok(Some(s)) => reply_set(r, s),
    }
}

/// `SISMEMBER key member`
fn sismember(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match set_of(lookup_read(ctx, a.get(1))) {
        Err(()) => r.error(WRONGTYPE),
        Ok(None) => r.int(0),
        Ok(Some(s)) => r.int(s.contains(a.get(2)) as i64),
    }
}

/// `SMISMEMBER key member [member ...]`
fn smismember(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let s = match set_of(lookup_read(ctx, a.get(1))) {
        Err(()) => return r.error(WRONGTYPE),
        Ok(s) => s,
    };
    r.array(a.len() - 2);
    for m in a.iter().skip(2) {
        r.int(s.as_ref().is_some_and(|s| s.contains(m)) as i64);
    }
}

/// `SCARD key`
fn scard(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match set_of(lookup_read(ctx, a.get(1))) {
        Err(()) => r.error(WRONGTYPE),
        Ok(None) => r.int(0),
        Ok(Some(s)) => r.int(s.len() as i64),
    }
}

/// Removes `count` random members (all of them when `count >= len`), in the
/// order they are returned.
///
/// As Redis 7.0 (spopWithCountCommand): when few members would remain
/// (`remaining * 5 <= count`) the survivors are picked instead and copied into
/// a new set built from scratch, which may bring a hash table back to the
/// intset encoding when only integers survive.
pub fn pop_random(s: &mut Set, count: usize, rng: &mut crate::Rng, max: usize) -> Vec<Vec<u8>> {
    let len = s.len();
    if count >= len {
        let all = s.iter().map(Elem::to_vec).collect();
        *s = Set::new();
        return all;
    }
    let remaining = len - count;
    if remaining * 5 <= count {
        let mut keep = vec![false; len];
        for p in sample_distinct(len, remaining, rng) {
            keep[p] = true;
        }
        let mut survivors = Set::new();
        let mut out = Vec::with_capacity(count);
        for (i, e) in s.iter().enumerate() {
            if keep[i] {
                survivors.add_elem(e, max);
            } else {
                out.push(e.to_vec());
            }
        }
        *s = survivors;
        return out;
    }
    match s {
        Set::Table(_) => (0..count)
            .map(|_| {
                let i = rng.below(s.len());
                s.remove_at(i)
            })
            .collect(),
        Set::Ints(ints) => {
            if count <= 8 {
                return (0..count)
                    .map(|_| Elem::Int(ints.remove_at(rng.below(ints.len()))).to_vec())
                    .collect();
            }
            let picks = sample_distinct(len, count, rng);
            let mut keep = vec![true; len];
            let out = picks
                .iter()
                .map(|&i| {
                    keep[i] = false;
                    Elem::Int(ints.get(i)).to_vec()
                })
                .collect();
            ints.retain_positions(&keep);
            out
        }
    }
}

/// `SPOP key [count]`
fn spop(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    if a.len() > 3 {
        return r.error(SYNTAX);
    }
    let count = if a.len() == 3 {
        match parse_i64(a.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return r.error(SPOP_RANGE),
        }
    } else {
        None
    };
    let key = a.get(1);
    let (now, dbi) = (ctx.now, ctx.db);
    let (db, rng) = ctx.shard.db_and_rng(dbi);
    let s = match set_of(db.get(key, now)) {
        Err(()) => return r.error(WRONGTYPE),
        Ok(None) => {
            crate::metrics::changes(0);
            return if count.is_some() { r.set(0) } else { r.null() };
        }
        Ok(Some(s)) => s,
    };
    // Recorded as the SREM of what it took (the pick is random).
    let mut srem = journal::active().then(|| vec![b"SREM".to_vec(), key.to_vec()]);
    let popped = match count {
        None => {
            let i = rng.below(s.len());
            let m = s.remove_at(i);
            r.bulk(&m);
            if let Some(c) = &mut srem {
                c.push(m.to_vec());
            }
            1
        }
        Some(0) => {
            r.set(0);
            0
        }
        Some(n) => {
            let out = pop_random(s, n, rng, max_intset());
            r.set(out.len());
            for m in &out {
                r.bulk(m);
            }
            if let Some(c) = &mut srem {
                c.extend(out.iter().map(|m| m.to_vec()));
            }
            out.len()
        }
    };
    if let Some(c) = srem {
        journal::record_instead(vec![c]);
    }
    let empty = s.is_empty();
    if popped > 0 {
        notify::emit(notify::SET, "spop", dbi, key);
    }
    if empty {
        db.remove(key);
        notify::emit(notify::GENERIC, "del", dbi, key);
    }
    crate::metrics::changes(popped as u64);
}

/// `SRANDMEMBER key [count]`
fn srandmember(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    if a.len() > 3 {
        return r.error(SYNTAX);
    }
    let count = if a.len() == 3 {
        match parse_i64(a.get(2)) {
            None => return r.error(NOT_INT),
            Some(i64::MIN) => return r.error(SRAND_RANGE),
            Some(n) => Some(n),
        }
    } else {
        None
    };
    let key = a.get(1);
    let (now, dbi, no_touch) = (ctx.now, ctx.db, ctx.no_touch);
    let (db, rng) = ctx.shard.db_and_rng(dbi);
    let e = if no_touch {
        db.get_mut(key, now)
    } else {
        db.get(key, now)
    };
    super::string::read_counted(dbi, key, e.is_some());
    let s = match set_of(e) {
        Err(()) => return r.error(WRONGTYPE),
        Ok(None) => {
            return if count.is_some() {
                r.array(0)
            } else {
                r.null()
            };
        }
        Ok(Some(s)) => s,
    };
    let len = s.len();
    match count {
        None => bulk_elem(r, s.get(rng.below(len))),
        Some(n) if n < 0 => {
            let n = n.unsigned_abs() as usize;
            r.array(n);
            for _ in 0..n {
                bulk_elem(r, s.get(rng.below(len)));
            }
        }
        Some(n) if n as usize >= len => {
            r.array(len);
            for e in s.iter() {
                bulk_elem(r, e);
            }
        }
        Some(n) => {
            let picks = sample_distinct(len, n as usize, rng);
            r.array(picks.len());
            for i in picks {
                bulk_elem(r, s.get(i));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// SMOVE
// ---------------------------------------------------------------------------

/// `SMOVE source destination member` with both keys on this shard.
fn smove(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let (src, dst, m) = (a.get(1), a.get(2), a.get(3));
    let now = ctx.now;
    let db = ctx.db();
    let dst_state = match set_of(db.get(dst, now)) {
        Err(()) => Err(()),
        Ok(d) => Ok(d.is_some()),
    };
    let (removed, src_empty) = match set_of(db.get(src, now)) {
        Ok(None) => {
            crate::metrics::changes(0);
            return r.int(0);
        }
        Err(()) => return r.error(WRONGTYPE),
        Ok(Some(_)) if dst_state.is_err() => return r.error(WRONGTYPE),
        Ok(Some(s)) if src == dst => {
            crate::metrics::changes(0);
            return r.int(s.contains(m) as i64);
        }
        Ok(Some(s)) => {
            let removed = s.remove(m);
            (removed, s.is_empty())
        }
    };
    if !removed {
        crate::metrics::changes(0);
        return r.int(0);
    }
    let dbi = db.index;
    notify::emit(notify::SET, "srem", dbi, src);
    if src_empty {
        db.remove(src);
        notify::emit(notify::GENERIC, "del", dbi, src);
    }
    let added = smove_add(db, dst, m, now);
    crate::metrics::changes(1 + added as u64);
    // The destination changed only if the member was new there.
    db.touch_watched(src);
    if added {
        db.touch_watched(dst);
    }
    crate::metrics::signalled_own_keys();
    r.int(1);
}

/// The destination half of SMOVE: adds `m` to the set at `dst`, creating it.
/// True when `m` was added (Redis counts one more change then, and raises
/// `sadd`).
fn smove_add(db: &mut Db, dst: &[u8], m: &[u8], now: u64) -> bool {
    let max = max_intset();
    let added = match set_of(db.get(dst, now)) {
        Ok(Some(d)) => d.add(m, max),
        Ok(None) => {
            let mut d = Set::new();
            d.add(m, max);
            db.set(dst, Value::Set(Box::new(d)));
            true
        }
        // Changed type between the hops of a cross-shard move.
        Err(()) => false,
    };
    if added {
        notify::emit(notify::SET, "sadd", db.index, dst);
    }
    added
}

/// SMOVE with source and destination on different shards.
fn smove_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let (src, dst, m) = (a.get(1).to_vec(), a.get(2).to_vec(), a.get(3).to_vec());
        let d = dst.clone();
        let dst_wrong = c
            .on_key(&dst, move |ctx| {
                let now = ctx.now;
                set_of(ctx.db().get(&d, now)).is_err()
            })
            .await;
        let m2 = m.clone();
        let moved: Result<bool, ()> = c
            .on_key(&src.clone(), move |ctx| {
                let now = ctx.now;
                let db = ctx.db();
                let empty = match set_of(db.get(&src, now)) {
                    Ok(None) => return Ok(false),
                    Err(()) => return Err(()),
                    Ok(Some(_)) if dst_wrong => return Err(()),
                    Ok(Some(s)) => {
                        if !s.remove(&m2) {
                            return Ok(false);
                        }
                        s.is_empty()
                    }
                };
                let dbi = db.index;
                notify::emit(notify::SET, "srem", dbi, &src);
                if empty {
                    db.remove(&src);
                    notify::emit(notify::GENERIC, "del", dbi, &src);
                }
                Ok(true)
            })
            .await;
        match moved {
            Err(()) => c.error(WRONGTYPE),
            Ok(false) => c.reply().int(0),
            Ok(true) => {
                c.on_key(&dst.clone(), move |ctx| {
                    let now = ctx.now;
                    smove_add(ctx.db(), &dst, &m, now);
                })
                .await;
                c.reply().int(1);
            }
        }
    })
}

// ---------------------------------------------------------------------------
// SINTER / SUNION / SDIFF and their STORE forms, SINTERCARD
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

impl Op {
    /// The event of the STORE form.
    fn store_event(self) -> &'static str {
        match self {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        }
    }
}

/// Computes `op` over the sets as a new set.
fn compute(op: Op, sets: &[Option<&Set>]) -> Set {
    let max = max_intset();
    match op {
        Op::Inter => inter_set(sets, max),
        Op::Union => union_diff(sets, false, max),
        Op::Diff => union_diff(sets, true, max),
    }
}

/// Replies the result of `op` over the sets (SINTER streams the smallest
/// set's members; SUNION/SDIFF build the result first, like Redis).
fn reply_op(r: &mut Reply<'_>, op: Op, sets: &[Option<&Set>]) {
    if op == Op::Inter {
        let elems = inter_elems(sets, 0);
        r.set(elems.len());
        for e in elems {
            bulk_elem(r, e);
        }
    } else {
        reply_set(r, &compute(op, sets));
    }
}

fn op_local(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, op: Op) {
    let keys: Vec<&[u8]> = a.iter().skip(1).collect();
    match gather(ctx, &keys) {
        Err(()) => r.error(WRONGTYPE),
        Ok(sets) => reply_op(r, op, &sets),
    }
}

fn op_store_local(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, op: Op) {
    let keys: Vec<&[u8]> = a.iter().skip(2).collect();
    let result = match gather(ctx, &keys) {
        Err(()) => return r.error(WRONGTYPE),
        Ok(sets) => compute(op, &sets),
    };
    let n = store(ctx, a.get(1), result, op.store_event());
    r.int(n as i64);
}

fn op_coord(c: &mut Session, a: OwnedArgs, op: Op) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if op == Op::Inter {
            // Streamed in the smallest set's order, like Redis.
            match inter_diff_coord(c, &a, 1..a.len(), op).await {
                Err(()) => c.error(WRONGTYPE),
                Ok(members) => {
                    let mut r = c.reply();
                    r.set(members.len());
                    for m in &members {
                        r.bulk(m);
                    }
                }
            }
            return;
        }
        match compute_coord(c, &a, 1..a.len(), op).await {
            Err(()) => c.error(WRONGTYPE),
            Ok(set) => reply_set(&mut c.reply(), &set),
        }
    })
}

fn op_store_coord(c: &mut Session, a: OwnedArgs, op: Op) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let result = match compute_coord(c, &a, 2..a.len(), op).await {
            Err(()) => return c.error(WRONGTYPE),
            Ok(set) => set,
        };
        let dst = a.get(1).to_vec();
        let event = op.store_event();
        let n = c
            .on_key(&dst.clone(), move |ctx| store(ctx, &dst, result, event))
            .await;
        c.reply().int(n as i64);
    })
}

fn sinter(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    op_local(ctx, r, a, Op::Inter)
}
fn sunion(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    op_local(ctx, r, a, Op::Union)
}
fn sdiff(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    op_local(ctx, r, a, Op::Diff)
}
fn sinterstore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    op_store_local(ctx, r, a, Op::Inter)
}
fn sunionstore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    op_store_local(ctx, r, a, Op::Union)
}
fn sdiffstore(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    op_store_local(ctx, r, a, Op::Diff)
}
fn sinter_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    op_coord(c, a, Op::Inter)
}
fn sunion_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    op_coord(c, a, Op::Union)
}
fn sdiff_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    op_coord(c, a, Op::Diff)
}
fn sinterstore_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    op_store_coord(c, a, Op::Inter)
}
fn sunionstore_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    op_store_coord(c, a, Op::Union)
}
fn sdiffstore_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    op_store_coord(c, a, Op::Diff)
}

/// Parses `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the number of
/// keys and the limit (0: none).
fn parse_sintercard(a: Args<'_>) -> Result<(usize, usize), &'static str> {
    let numkeys = match parse_i64(a.get(1)) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(NUMKEYS),
    };
    if numkeys > a.len() - 2 {
        return Err(TOO_MANY_KEYS);
    }
    let mut limit = 0;
    let mut j = 2 + numkeys;
    while j < a.len() {
        if eq(a.get(j), "limit") && j + 1 < a.len() {
            limit = match parse_i64(a.get(j + 1)) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err(LIMIT_NEG),
            };
            j += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok((numkeys, limit))
}

/// Key positions of the `numkeys` commands (argument 1 counts the keys from 2).
fn numkeys_keys(a: Args<'_>, out: &mut Vec<usize>) {
    if a.len() < 2 {
        return;
    }
    if let Some(n) = parse_i64(a.get(1))
        && n > 0
        && (n as u64) <= (a.len() - 2) as u64
    {
        out.extend(2..2 + n as usize);
    }
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
fn sintercard(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let (n, limit) = match parse_sintercard(a) {
        Ok(x) => x,
        Err(e) => return r.error(e),
    };
    let keys: Vec<&[u8]> = (2..2 + n).map(|i| a.get(i)).collect();
    match gather(ctx, &keys) {
        Err(()) => r.error(WRONGTYPE),
        Ok(sets) => r.int(inter_elems(&sets, limit).len() as i64),
    }
}

fn sintercard_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let (n, limit) = match parse_sintercard(a.args()) {
            Ok(x) => x,
            Err(e) => return c.error(e),
        };
        match inter_diff_coord(c, &a, 2..2 + n, Op::Inter).await {
            Err(()) => c.error(WRONGTYPE),
            Ok(members) => {
                let n = if limit > 0 {
                    members.len().min(limit)
                } else {
                    members.len()
                };
                c.reply().int(n as i64)
            }
        }
    })
}

// ---------------------------------------------------------------------------
// SSCAN
// ---------------------------------------------------------------------------

/// One SSCAN step over `s`: the next cursor and the members seen.
///
/// The intset is returned whole (cursor 0), as Redis does for compact
/// encodings. The table is walked by position from the end downwards; the
/// cursor is the number of positions still to visit.
pub fn scan_step<'a>(s: &'a Set, cursor: u64, count: usize) -> (u64, Vec<Elem<'a>>) {
    match s {
        Set::Ints(_) => (0, s.iter().collect()),
        Set::Table(_) => {
            let len = s.len() as u64;
            let hi = if cursor == 0 || cursor > len {
                len
            } else {
                cursor
            };
            let lo = hi.saturating_sub(count as u64);
            let elems = (lo..hi).rev().map(|i| s.get(i as usize)).collect();
            (lo, elems)
        }
    }
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
fn sscan(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(cursor) = parse_cursor(a.get(2)) else {
        return r.error("ERR invalid cursor");
    };
    let s = match set_of(lookup_read(ctx, a.get(1))) {
        Err(()) => return r.error(WRONGTYPE),
        Ok(None) => {
            r.array(2);
            r.bulk(b"0");
            return r.array(0);
        }
        Ok(Some(s)) => s,
    };
    let ScanOpts { count, pattern, .. } = match parse_scan_opts(a, 3, false) {
        Ok(o) => o,
        Err(e) => return r.error(e),
    };
    let (next, elems) = scan_step(s, cursor, count);
    let elems: Vec<Elem<'_>> = match pattern {
        None => elems,
        Some(p) => elems
            .into_iter()
            .filter(|e| e.with_bytes(|b| crate::config::glob_match(p, b, false)))
            .collect(),
    };
    r.array(2);
    r.bulk_int(next as i64);
    r.array(elems.len());
    for e in elems {
        bulk_elem(r, e);
    }
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

const fn one_key(name: &'static str, arity: i32, flags: u64, key_flags: u32) -> CommandSpec {
    CommandSpec::single_key(name, "set", arity, flags, key_flags)
}

const fn all_keys(name: &'static str, arity: i32, flags: u64, first: i32, kf: u32) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: first,
        last_key: -1,
        step: 1,
        key_flags: kf,
        group: "set",
        ..CommandSpec::DEFAULT
    }
}

const RO_ACCESS: u32 = keyflags::RO | keyflags::ACCESS;
const INTER_COMPLEXITY: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const UNION_COMPLEXITY: &str = "O(N) where N is the total number of elements in all given sets.";

/// The set command specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        acl: &["write", "set", "fast"],
        summary: "Add one or more members to a set",
        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        shard: Some(sadd),
        ..one_key(
            "sadd",
            -3,
            WRITE | DENYOOM | FAST,
            keyflags::RW | keyflags::INSERT,
        )
    },
    CommandSpec {
        acl: &["write", "set", "fast"],
        summary: "Remove one or more members from a set",
        complexity: "O(N) where N is the number of members to be removed.",
        shard: Some(srem),
        ..one_key("srem", -3, WRITE | FAST, keyflags::RW | keyflags::DELETE)
    },
    CommandSpec {
        acl: &["read", "set", "slow"],
        summary: "Get all the members in a set",
        complexity: "O(N) where N is the set cardinality.",
        tips: &["nondeterministic_output_order"],
        shard: Some(smembers),
        ..one_key("smembers", 2, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: &["read", "set", "fast"],
        summary: "Determine if a given value is a member of a set",
        shard: Some(sismember),
        ..one_key("sismember", 3, READONLY | FAST, keyflags::RO)
    },
    CommandSpec {
        acl: &["read", "set", "fast"],
        summary: "Returns the membership associated with the given elements for a set",
        since: "6.2.0",
        complexity: "O(N) where N is the number of elements being checked for membership",
        shard: Some(smismember),
        ..one_key("smismember", -3, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: &["read", "set", "fast"],
        summary: "Get the number of members in a set",
        shard: Some(scard),
        ..one_key("scard", 2, READONLY | FAST, keyflags::RO)
    },
    CommandSpec {
        acl: &["write", "set", "fast"],
        summary: "Remove and return one or multiple random members from a set",
        complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        tips: &["nondeterministic_output"],
        shard: Some(spop),
        ..one_key(
            "spop",
            -2,
            WRITE | FAST,
            keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
        )
    },
    CommandSpec {
        acl: &["read", "set", "slow"],
        summary: "Get one or multiple random members from a set",
        complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        tips: &["nondeterministic_output"],
        shard: Some(srandmember),
        ..one_key("srandmember", -2, READONLY, RO_ACCESS)
    },
    CommandSpec {
        name: "smove",
        arity: 4,
        flags: WRITE | FAST,
        first_key: 1,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
        acl: &["write", "set", "fast"],
        group: "set",
        summary: "Move a member from one set to another",
        shard: Some(smove),
        coord: Some(smove_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        acl: &["read", "set", "slow"],
        summary: "Intersect multiple sets",
        complexity: INTER_COMPLEXITY,
        tips: &["nondeterministic_output_order"],
        shard: Some(sinter),
        coord: Some(sinter_coord),
        ..all_keys("sinter", -2, READONLY, 1, RO_ACCESS)
    },
    CommandSpec {
        name: "sintercard",
        arity: -3,
        flags: READONLY,
        key_flags: RO_ACCESS,
        keys: Some(numkeys_keys),
        acl: &["read", "set", "slow"],
        group: "set",
        summary: "Intersect multiple sets and return the cardinality of the result",
        since: "7.0.0",
        complexity: INTER_COMPLEXITY,
        shard: Some(sintercard),
        coord: Some(sintercard_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        acl: &["read", "set", "slow"],
        summary: "Add multiple sets",
        complexity: UNION_COMPLEXITY,
        tips: &["nondeterministic_output_order"],
        shard: Some(sunion),
        coord: Some(sunion_coord),
        ..all_keys("sunion", -2, READONLY, 1, RO_ACCESS)
    },
    CommandSpec {
        acl: &["read", "set", "slow"],
        summary: "Subtract multiple sets",
        complexity: UNION_COMPLEXITY,
        tips: &["nondeterministic_output_order"],
        shard: Some(sdiff),
        coord: Some(sdiff_coord),
        ..all_keys("sdiff", -2, READONLY, 1, RO_ACCESS)
    },
    CommandSpec {
        acl: &["write", "set", "slow"],
        summary: "Intersect multiple sets and store the resulting set in a key",
        complexity: INTER_COMPLEXITY,
        shard: Some(sinterstore),
        coord: Some(sinterstore_coord),
        ..all_keys(
            "sinterstore",
            -3,
            WRITE | DENYOOM,
            1,
            keyflags::RW | keyflags::UPDATE,
        )
    },
    CommandSpec {
        acl: &["write", "set", "slow"],
        summary: "Add multiple sets and store the resulting set in a key",
        complexity: UNION_COMPLEXITY,
        shard: Some(sunionstore),
        coord: Some(sunionstore_coord),
        ..all_keys(
            "sunionstore",
            -3,
            WRITE | DENYOOM,
            1,
            keyflags::OW | keyflags::UPDATE,
        )
    },
    CommandSpec {
        acl: &["write", "set", "slow"],
        summary: "Subtract multiple sets and store the resulting set in a key",
        complexity: UNION_COMPLEXITY,
        shard: Some(sdiffstore),
        coord: Some(sdiffstore_coord),
        ..all_keys(
            "sdiffstore",
            -3,
            WRITE | DENYOOM,
            1,
            keyflags::OW | keyflags::UPDATE,
        )
    },
    CommandSpec {
        acl: &["read", "set", "slow"],
        summary: "Incrementally iterate Set elements",
        since: "2.8.0",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        tips: &["nondeterministic_output"],
        shard: Some(sscan),
        ..one_key("sscan", -3, READONLY, RO_ACCESS)
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn set_of_strs(m: &[&str]) -> Set {
        let mut s = Set::new();
        for x in m {
            s.add(x.as_bytes(), 512);
        }
        s
    }

    fn sorted(s: &Set) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = s.iter().map(Elem::to_vec).collect();
        v.sort();
        v
    }

    #[test]
    fn algebra() {
        let a = set_of_strs(&["1", "2", "3", "x"]);
        let b = set_of_strs(&["2", "3", "4"]);
        let c = set_of_strs(&["3", "x", "2"]);
        let i = inter_set(&[Some(&a), Some(&b), Some(&c)], 512);
        assert_eq!(sorted(&i), vec![b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(i.encoding(), "intset");
        assert!(inter_set(&[Some(&a), None], 512).is_empty());
        assert_eq!(inter_elems(&[Some(&a), Some(&c)], 2).len(), 2);
        let u = union_diff(&[Some(&a), None, Some(&b)], false, 512);
        assert_eq!(u.len(), 5);
        assert_eq!(u.encoding(), "hashtable");
        let d = union_diff(&[Some(&a), Some(&b), None], true, 512);
        assert_eq!(sorted(&d), vec![b"1".to_vec(), b"x".to_vec()]);
        assert!(union_diff(&[None, Some(&a)], true, 512).is_empty());
        // The intset limit applies to computed results too.
        let u = union_diff(&[Some(&b)], false, 2);
        assert_eq!(u.encoding(), "hashtable");
    }

    #[test]
    fn sintercard_args() {
        let p = |v: &[&str]| parse_sintercard(OwnedArgs::from_slices(v).args());
        assert_eq!(p(&["sintercard", "0", "a"]), Err(NUMKEYS));
        assert_eq!(p(&["sintercard", "x", "a"]), Err(NUMKEYS));
        assert_eq!(p(&["sintercard", "3", "a"]), Err(TOO_MANY_KEYS));
        assert_eq!(p(&["sintercard", "1", "a", "limit", "-1"]), Err(LIMIT_NEG));
        assert_eq!(p(&["sintercard", "1", "a", "foo"]), Err(SYNTAX));
        assert_eq!(p(&["sintercard", "1", "a", "limit"]), Err(SYNTAX));
        assert_eq!(p(&["sintercard", "2", "a", "b", "LIMIT", "5"]), Ok((2, 5)));
        let mut out = Vec::new();
        numkeys_keys(
            OwnedArgs::from_slices(&["sintercard", "2", "a", "b", "limit", "1"]).args(),
            &mut out,
        );
        assert_eq!(out, vec![2, 3]);
        out.clear();
        numkeys_keys(
            OwnedArgs::from_slices(&["sintercard", "9", "a"]).args(),
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn scan_visits_survivors_despite_removals() {
        let mut s = Set::new();
        for i in 0..200 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0u64;
        let mut round = 0;
        loop {
            let (next, elems) = scan_step(&s, cursor, 7);
            for e in elems {
                seen.insert(e.to_vec());
            }
            // Remove some members (only odd ones) and add new ones between calls.
            for k in 0..3 {
                let victim = format!("m{}", (round * 6 + k * 2 + 1) % 200);
                s.remove(victim.as_bytes());
                s.add(format!("new{round}-{k}").as_bytes(), 512);
            }
            round += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        for i in (0..200).step_by(2) {
            assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
        }
    }

    #[test]
    fn pops() {
        let mut rng = crate::Rng::new(3);
        let mut s = Set::new();
        for i in 0..100 {
            s.add(i.to_string().as_bytes(), 512);
        }
        let out = pop_random(&mut s, 40, &mut rng, 512);
        assert_eq!(out.len(), 40);
        assert_eq!(s.len(), 60);
        assert_eq!(s.encoding(), "intset");
        for m in &out {
            assert!(!s.contains(m));
        }
        // Few survivors: picked and rebuilt.
        let out = pop_random(&mut s, 55, &mut rng, 512);
        assert_eq!((out.len(), s.len()), (55, 5));
        for m in &out {
            assert!(!s.contains(m));
        }
        let mut t = set_of_strs(&["a", "b", "c"]);
        let out = pop_random(&mut t, 2, &mut rng, 512);
        assert_eq!(out.len(), 2);
        assert_eq!(t.len(), 1);
        let out = pop_random(&mut t, 5, &mut rng, 512);
        assert_eq!(out.len(), 1);
        assert!(t.is_empty());
        // A hash table whose survivors are integers becomes an intset again
        // (Redis 7.0's SPOP "case 3").
        let mut h = set_of_strs(&["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]);
        h.add(b"1", 512);
        let out = pop_random(&mut h, 11, &mut rng, 512);
        assert_eq!(out.len(), 11);
        assert_eq!(h.len(), 1);
        if h.contains(b"1") {
            assert_eq!(h.encoding(), "intset");
        }
    }
}
