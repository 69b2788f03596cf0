//! The hash commands: HSET and the rest of the hash family.
//!
//! ```text
//!  every command has one key ──► ShardFn on the owning shard
//!  reads:  lookup_read (keyspace hit/miss, LRU) ──► &Hash
//!  writes: with_hash / with_hash_or_create ──► closure on &mut Hash
//!          (a new hash is built aside and stored only when non-empty;
//!           a hash emptied by HDEL is deleted)
//! ```
//!
//! Encoding conversions follow Redis 7.0 (see `storage::hash`): HSET/HSETNX
//! check every argument's length before inserting, HINCRBY* check the new pair.

use super::string::lookup_read;
use super::util::*;
use super::{CommandSpec, Ctx, flags::*, keyflags};
use crate::config::{encoding_limits, glob_match};
use crate::protocol::{Args, Reply};
use crate::shard::journal;
use crate::storage::Value;
use crate::storage::hash::Hash;
use crate::storage::notify;
use crate::storage::value::ld;

const NOT_INT_HASH: &str = "ERR hash value is not an integer";
const NOT_FLOAT_HASH: &str = "ERR hash value is not a float";

// ---------------------------------------------------------------------------
// Shard-side access helpers
// ---------------------------------------------------------------------------

/// A read lookup found a value of another type.
struct WrongType;

/// Looks a hash up for reading (keyspace statistics, access time).
#[inline]
fn read_hash<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a Hash>, WrongType> {
    match lookup_read(ctx, key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(WrongType),
        },
    }
}

/// Runs `f` on the hash at `key`, creating it if missing. A hash created here
/// is stored only if `f` left it non-empty.
#[inline]
fn with_hash_or_create<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> R,
) -> Result<R, WrongType> {
    let now = ctx.now;
    let db = ctx.db();
    if let Some(e) = db.get(key, now) {
        return match &mut e.value {
            Value::Hash(h) => Ok(f(h)),
            _ => Err(WrongType),
        };
    }
    let mut h = Hash::new();
    let r = f(&mut h);
    if !h.is_empty() {
        db.set(key, Value::Hash(Box::new(h)));
    }
    Ok(r)
}

/// Runs `f` on an existing hash at `key` (None when missing) and deletes the
/// key if `f` emptied it.
#[inline]
fn with_hash<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&mut Hash) -> R,
) -> Result<Option<R>, WrongType> {
    let now = ctx.now;
    let db = ctx.db();
    let (r, empty) = match db.get(key, now) {
        None => return Ok(None),
        Some(e) => match &mut e.value {
            Value::Hash(h) => {
                let r = f(h);
                (r, h.is_empty())
            }
            _ => return Err(WrongType),
        },
    };
    if empty {
        db.remove(key);
    }
    Ok(Some(r))
}

// ---------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------

/// `HSET key field value [field value ...]` and `HMSET` (same, replies OK).
fn hset_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, hmset: bool) {
    if a.len() % 2 == 1 {
        let name = if hmset { "hmset" } else { "hset" };
        return r.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let limits = encoding_limits();
    let res = with_hash_or_create(ctx, a.get(1), |h| {
        h.convert_for((2..a.len()).map(|i| a.get(i).len()), &limits);
        let mut created = 0;
        for i in (2..a.len()).step_by(2) {
            created += h.insert(a.get(i), a.get(i + 1), &limits) as i64;
        }
        created
    });
    match res {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(created) => {
            crate::metrics::changes(((a.len() - 2) / 2) as u64);
            notify::emit(notify::HASH, "hset", ctx.db, a.get(1));
            if hmset { r.ok() } else { r.int(created) }
        }
    }
}

/// `HSET key field value [field value ...]`
fn hset(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    hset_generic(ctx, r, a, false)
}

/// `HMSET key field value [field value ...]`
fn hmset(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    hset_generic(ctx, r, a, true)
}

/// `HSETNX key field value`
fn hsetnx(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let limits = encoding_limits();
    let (field, value) = (a.get(2), a.get(3));
    let res = with_hash_or_create(ctx, a.get(1), |h| {
        if h.contains(field) {
            return false;
        }
        h.convert_for([field.len(), value.len()], &limits);
        h.insert(field, value, &limits);
        true
    });
    match res {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(set) => {
            crate::metrics::changes(set as u64);
            if set {
                notify::emit(notify::HASH, "hset", ctx.db, a.get(1));
            }
            r.int(set as i64)
        }
    }
}

/// `HDEL key field [field ...]`
fn hdel(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let res = with_hash(ctx, a.get(1), |h| {
        let mut n = 0;
        for i in 2..a.len() {
            n += h.remove(a.get(i)) as i64;
            if h.is_empty() {
                break;
            }
        }
        n
    });
    match res {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(n) => {
            let n = n.unwrap_or(0);
            crate::metrics::changes(n as u64);
            if n > 0 {
                let (dbi, now) = (ctx.db, ctx.now);
                notify::emit(notify::HASH, "hdel", dbi, a.get(1));
                // The hash went with its last field (looked up only when
                // someone listens).
                if notify::on(notify::GENERIC) && !ctx.db().contains(a.get(1), now) {
                    notify::emit(notify::GENERIC, "del", dbi, a.get(1));
                }
            }
            r.int(n)
        }
    }
}

/// The new value of a field after `HINCRBY` (Err carries the error text).
fn incr_int(cur: Option<&[u8]>, incr: i64) -> Result<i64, &'static str> {
    let old = match cur {
        None => 0,
        Some(s) => parse_i64(s).ok_or(NOT_INT_HASH)?,
    };
    old.checked_add(incr).ok_or(OVERFLOW)
}

/// `HINCRBY key field increment`
fn hincrby(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(incr) = parse_i64(a.get(3)) else {
        return r.error(NOT_INT);
    };
    let limits = encoding_limits();
    let field = a.get(2);
    let res = with_hash_or_create(ctx, a.get(1), |h| {
        let v = incr_int(h.get(field), incr)?;
        let mut b = itoa::Buffer::new();
        h.insert(field, b.format(v).as_bytes(), &limits);
        Ok(v)
    });
    match res {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(Err(e)) => r.error(e),
        Ok(Ok(v)) => {
            notify::emit(notify::HASH, "hincrby", ctx.db, a.get(1));
            r.int(v)
        }
    }
}

/// The new text of a field after `HINCRBYFLOAT` (Err carries the error text).
fn incr_float(cur: Option<&[u8]>, incr: ld::F80) -> Result<String, &'static str> {
    let old = match cur {
        None => ld::parse(b"0").ok_or(NOT_FLOAT_HASH)?,
        Some(s) => ld::parse(s).ok_or(NOT_FLOAT_HASH)?,
    };
    let sum = ld::add(old, incr);
    if sum.inf {
        return Err("ERR increment would produce NaN or Infinity");
    }
    Ok(ld::format_human(sum))
}

/// `HINCRBYFLOAT key field increment`
fn hincrbyfloat(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(incr) = ld::parse(a.get(3)) else {
        return r.error(NOT_FLOAT);
    };
    if incr.inf {
        return r.error("ERR value is NaN or Infinity");
    }
    let limits = encoding_limits();
    let field = a.get(2);
    let res = with_hash_or_create(ctx, a.get(1), |h| {
        let text = incr_float(h.get(field), incr)?;
        h.insert(field, text.as_bytes(), &limits);
        Ok(text)
    });
    match res {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(Err(e)) => r.error(e),
        Ok(Ok(text)) => {
            notify::emit(notify::HASH, "hincrbyfloat", ctx.db, a.get(1));
            journal::record_instead(vec![journal::cmd([
                b"HSET",
                a.get(1),
                field,
                text.as_bytes(),
            ])]);
            r.bulk(text.as_bytes())
        }
    }
}

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

/// `HGET key field`
fn hget(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_hash(ctx, a.get(1)) {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(h) => r.opt_bulk(h.and_then(|h| h.get(a.get(2)))),
    }
}

/// `HMGET key field [field ...]`
fn hmget(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_hash(ctx, a.get(1)) {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(h) => {
            r.array(a.len() - 2);
            for i in 2..a.len() {
                r.opt_bulk(h.and_then(|h| h.get(a.get(i))));
            }
        }
    }
}

/// `HLEN key`
fn hlen(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_hash(ctx, a.get(1)) {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(h) => r.int(h.map_or(0, |h| h.len() as i64)),
    }
}

/// `HEXISTS key field`
fn hexists(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_hash(ctx, a.get(1)) {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(h) => r.int(h.is_some_and(|h| h.contains(a.get(2))) as i64),
    }
}

/// `HSTRLEN key field`
fn hstrlen(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_hash(ctx, a.get(1)) {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(h) => r.int(
            h.and_then(|h| h.get(a.get(2)))
                .map_or(0, |v| v.len() as i64),
        ),
    }
}

/// What HGETALL / HKEYS / HVALS return.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Both,
    Fields,
    Values,
}

fn getall_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, part: Part) {
    match read_hash(ctx, a.get(1)) {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(h) => {
            let n = h.map_or(0, |h| h.len());
            if part == Part::Both {
                r.map(n);
            } else {
                r.array(n);
            }
            if let Some(h) = h {
                for (f, v) in h.iter() {
                    if part != Part::Values {
                        r.bulk(f);
                    }
                    if part != Part::Fields {
                        r.bulk(v);
                    }
                }
            }
        }
    }
}

/// `HGETALL key`
fn hgetall(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    getall_generic(ctx, r, a, Part::Both)
}

/// `HKEYS key`
fn hkeys(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    getall_generic(ctx, r, a, Part::Fields)
}

/// `HVALS key`
fn hvals(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    getall_generic(ctx, r, a, Part::Values)
}

// ---------------------------------------------------------------------------
// HRANDFIELD
// ---------------------------------------------------------------------------

/// Chooses `count` distinct positions (count < size) of a hash of `size`
/// pairs for HRANDFIELD: a partial shuffle when the count is a large share of
/// the hash, rejection sampling when it is small. For the packed form the
/// picks are sorted so they come in the hash's order, as Redis's listpack
/// sampling does.
fn distinct_positions(size: usize, count: usize, packed: bool, rng: &mut crate::Rng) -> Vec<usize> {
    let mut picks = if count * 3 > size {
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = i + rng.below(size - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = hashbrown::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let p = rng.below(size);
            if seen.insert(p) {
                out.push(p);
            }
        }
        out
    };
    if packed {
        picks.sort_unstable();
    }
    picks
}

/// `HRANDFIELD key [count [WITHVALUES]]`
fn hrandfield(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let mut count = None;
    let mut withvalues = false;
    if a.len() >= 3 {
        let Some(n) = parse_i64(a.get(2)) else {
            return r.error(NOT_INT);
        };
        if n == i64::MIN {
            return r.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
        }
        if a.len() > 4 || (a.len() == 4 && !eq(a.get(3), "withvalues")) {
            return r.error(SYNTAX);
        }
        if a.len() == 4 {
            withvalues = true;
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
                return r.error("ERR value is out of range");
            }
        }
        count = Some(n);
    }
    let now = ctx.now;
    let no_touch = ctx.no_touch;
    let dbi = ctx.db;
    let (db, rng) = ctx.shard.db_and_rng(dbi);
    let e = if no_touch {
        db.get_mut(a.get(1), now)
    } else {
        db.get(a.get(1), now)
    };
    super::string::read_counted(dbi, a.get(1), e.is_some());
    let h = match e.map(|e| &e.value) {
        None => None,
        Some(Value::Hash(h)) => Some(&**h),
        Some(_) => return r.error(WRONGTYPE),
    };
    let Some(count) = count else {
        return match h {
            None => r.null(),
            Some(h) => r.opt_bulk(h.nth(rng.below(h.len())).map(|(f, _)| f)),
        };
    };
    let Some(h) = h else {
        return r.array(0);
    };
    if count == 0 {
        return r.array(0);
    }
    let size = h.len();
    let packed = h.is_packed();
    // Packed pairs are reached by walking the buffer once; tables index directly.
    let flat: Vec<(&[u8], &[u8])> = if packed {
        h.iter().collect()
    } else {
        Vec::new()
    };
    let at = |i: usize| -> (&[u8], &[u8]) {
        if packed {
            flat[i]
        } else {
            h.nth(i).unwrap_or_default()
        }
    };
    let header = |r: &mut Reply<'_>, n: usize| {
        if withvalues && !r.resp3 {
            r.array(n * 2)
        } else {
            r.array(n)
        }
    };
    let emit = |r: &mut Reply<'_>, (f, v): (&[u8], &[u8])| {
        if withvalues {
            if r.resp3 {
                r.array(2);
            }
            r.bulk(f);
            r.bulk(v);
        } else {
            r.bulk(f);
        }
    };
    if count < 0 || count == 1 {
        // Independent picks, repeats allowed, streamed without a pick list.
        let n = count.unsigned_abs() as usize;
        header(r, n);
        for _ in 0..n {
            emit(r, at(rng.below(size)));
        }
        return;
    }
    let count = count as usize;
    if count >= size {
        header(r, size);
        for p in h.iter() {
            emit(r, p);
        }
        return;
    }
    let picks = distinct_positions(size, count, packed, rng);
    header(r, picks.len());
    for &i in &picks {
        emit(r, at(i));
    }
}

// ---------------------------------------------------------------------------
// HSCAN
// ---------------------------------------------------------------------------

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// A packed hash is returned whole with cursor 0 (as Redis does for
/// listpacks). A table visits COUNT pairs per call, MATCH filtering what was
/// visited; every field present from the first call to the last is returned
/// at least once (see `storage::hash` for why the cursor is stable).
fn hscan(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(cursor) = parse_cursor(a.get(2)) else {
        return r.error("ERR invalid cursor");
    };
    let h = match read_hash(ctx, a.get(1)) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(None) => {
            r.array(2);
            r.bulk(b"0");
            return r.array(0);
        }
        Ok(Some(h)) => h,
    };
    let ScanOpts { count, pattern, .. } = match parse_scan_opts(a, 3, false) {
        Ok(o) => o,
        Err(e) => return r.error(e),
    };
    let mut out: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        if pattern.is_none_or(|p| glob_match(p, f, false)) {
            out.push((f, v));
        }
    });
    r.array(2);
    r.bulk_int(next as i64);
    r.array(out.len() * 2);
    for (f, v) in out {
        r.bulk(f);
        r.bulk(v);
    }
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

/// A single-key hash command.
const fn hash_cmd(name: &'static str, arity: i32, flags: u64, key_flags: u32) -> CommandSpec {
    CommandSpec::single_key(name, "hash", arity, flags, key_flags)
}

const RW_UPDATE: u32 = keyflags::RW | keyflags::UPDATE;
const RW_ACCESS_UPDATE: u32 = keyflags::RW | keyflags::ACCESS | keyflags::UPDATE;
const RO_ACCESS: u32 = keyflags::RO | keyflags::ACCESS;
const WRITE_FAST: &[&str] = &["write", "hash", "fast"];
const READ_FAST: &[&str] = &["read", "hash", "fast"];
const READ_SLOW: &[&str] = &["read", "hash", "slow"];

/// The hash command specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        acl: WRITE_FAST,
        summary: "Set the string value of a hash field",
        since: "2.0.0",
        shard: Some(hset),
        ..hash_cmd("hset", -4, WRITE | DENYOOM | FAST, RW_UPDATE)
    },
    CommandSpec {
        acl: WRITE_FAST,
        summary: "Set the value of a hash field, only if the field does not exist",
        since: "2.0.0",
        shard: Some(hsetnx),
        ..hash_cmd(
            "hsetnx",
            4,
            WRITE | DENYOOM | FAST,
            keyflags::RW | keyflags::INSERT,
        )
    },
    CommandSpec {
        acl: READ_FAST,
        summary: "Get the value of a hash field",
        since: "2.0.0",
        shard: Some(hget),
        ..hash_cmd("hget", 3, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_FAST,
        summary: "Get the values of all the given hash fields",
        since: "2.0.0",
        shard: Some(hmget),
        ..hash_cmd("hmget", -3, READONLY | FAST, RO_ACCESS)
    },
    CommandSpec {
        acl: WRITE_FAST,
        summary: "Set multiple hash fields to multiple values",
        since: "2.0.0",
        shard: Some(hmset),
        ..hash_cmd("hmset", -4, WRITE | DENYOOM | FAST, RW_UPDATE)
    },
    CommandSpec {
        acl: READ_SLOW,
        summary: "Get all the fields and values in a hash",
        since: "2.0.0",
        tips: &["nondeterministic_output_order"],
        shard: Some(hgetall),
        ..hash_cmd("hgetall", 2, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: WRITE_FAST,
        summary: "Delete one or more hash fields",
        since: "2.0.0",
        shard: Some(hdel),
        ..hash_cmd("hdel", -3, WRITE | FAST, keyflags::RW | keyflags::DELETE)
    },
    CommandSpec {
        acl: READ_FAST,
        summary: "Get the number of fields in a hash",
        since: "2.0.0",
        shard: Some(hlen),
        ..hash_cmd("hlen", 2, READONLY | FAST, keyflags::RO)
    },
    CommandSpec {
        acl: READ_FAST,
        summary: "Determine if a hash field exists",
        since: "2.0.0",
        shard: Some(hexists),
        ..hash_cmd("hexists", 3, READONLY | FAST, keyflags::RO)
    },
    CommandSpec {
        acl: READ_SLOW,
        summary: "Get all the fields in a hash",
        since: "2.0.0",
        tips: &["nondeterministic_output_order"],
        shard: Some(hkeys),
        ..hash_cmd("hkeys", 2, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_SLOW,
        summary: "Get all the values in a hash",
        since: "2.0.0",
        tips: &["nondeterministic_output_order"],
        shard: Some(hvals),
        ..hash_cmd("hvals", 2, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_FAST,
        summary: "Get the length of the value of a hash field",
        since: "3.2.0",
        shard: Some(hstrlen),
        ..hash_cmd("hstrlen", 3, READONLY | FAST, keyflags::RO)
    },
    CommandSpec {
        acl: WRITE_FAST,
        summary: "Increment the integer value of a hash field by the given number",
        since: "2.0.0",
        shard: Some(hincrby),
        ..hash_cmd("hincrby", 4, WRITE | DENYOOM | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        acl: WRITE_FAST,
        summary: "Increment the float value of a hash field by the given amount",
        since: "2.6.0",
        shard: Some(hincrbyfloat),
        ..hash_cmd("hincrbyfloat", 4, WRITE | DENYOOM | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        acl: READ_SLOW,
        summary: "Get one or multiple random fields from a hash",
        since: "6.2.0",
        tips: &["nondeterministic_output"],
        shard: Some(hrandfield),
        ..hash_cmd("hrandfield", -2, READONLY, RO_ACCESS)
    },
    CommandSpec {
        acl: READ_SLOW,
        summary: "Incrementally iterate hash fields and associated values",
        since: "2.8.0",
        tips: &["nondeterministic_output"],
        shard: Some(hscan),
        ..hash_cmd("hscan", -3, READONLY, RO_ACCESS)
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_increments() {
        assert_eq!(incr_int(None, 5), Ok(5));
        assert_eq!(incr_int(Some(b"10"), -3), Ok(7));
        assert_eq!(incr_int(Some(b"x"), 1), Err(NOT_INT_HASH));
        assert_eq!(incr_int(Some(b" 1"), 1), Err(NOT_INT_HASH));
        assert_eq!(incr_int(Some(b"9223372036854775807"), 1), Err(OVERFLOW));
        assert_eq!(incr_int(Some(b"-9223372036854775808"), -1), Err(OVERFLOW));
    }

    #[test]
    fn float_increments() {
        let p = |s: &[u8]| ld::parse(s).unwrap();
        assert_eq!(incr_float(None, p(b"10.5")).as_deref(), Ok("10.5"));
        assert_eq!(incr_float(Some(b"10.50"), p(b"0.1")).as_deref(), Ok("10.6"));
        assert_eq!(
            incr_float(Some(b"5.0e3"), p(b"2.0e2")).as_deref(),
            Ok("5200")
        );
        assert_eq!(incr_float(Some(b"abc"), p(b"1")), Err(NOT_FLOAT_HASH));
    }

    #[test]
    fn distinct_position_shapes() {
        let mut rng = crate::Rng::new(7);
        for (size, count) in [(10, 4), (100, 5), (100, 90), (5, 4)] {
            let v = distinct_positions(size, count, true, &mut rng);
            assert_eq!(v.len(), count);
            let mut s = v.clone();
            s.dedup();
            assert_eq!(s.len(), v.len(), "sorted and distinct");
            assert!(v.iter().all(|&i| i < size));
            let v = distinct_positions(size, count, false, &mut rng);
            let set: std::collections::HashSet<_> = v.iter().collect();
            assert_eq!(set.len(), count);
        }
    }
}
