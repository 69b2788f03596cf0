//! String commands: GET, SET and the rest of the string family.
//!
//! ```text
//!  single-key commands ──► ShardFn on the owning shard (GET/SET/INCR allocate
//!                          nothing beyond the stored value itself)
//!  MGET/MSET/MSETNX/LCS ──► ShardFn when every key is on one shard,
//!                          CoordFn otherwise: group keys by shard, hop with
//!                          owned data, merge the answers in argument order
//! ```

use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*, keyflags};
use crate::command::session::Session;
use crate::protocol::{Args, Reply};
use crate::shard::journal;
use crate::storage::Value;
use crate::storage::db::Entry;
use crate::storage::notify;
use crate::storage::value::ld;

const STRING_TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

// ---------------------------------------------------------------------------
// Shared shard-side helpers
// ---------------------------------------------------------------------------

/// Looks a key up for reading (lookupKeyRead): counts a keyspace hit or miss
/// (a miss raises `keymiss`) and updates the access time unless the client
/// asked for NO-TOUCH.
#[inline]
pub fn lookup_read<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Option<&'a mut Entry> {
    let now = ctx.now;
    let no_touch = ctx.no_touch;
    let dbi = ctx.db;
    let db = ctx.db();
    let e = if no_touch {
        db.get_mut(key, now)
    } else {
        db.get(key, now)
    };
    read_counted(dbi, key, e.is_some());
    e
}

/// Counts a read lookup of `key` as a keyspace hit or miss; a miss raises
/// the `keymiss` event.
#[inline]
pub fn read_counted(db: usize, key: &[u8], hit: bool) {
    crate::metrics::keyspace(hit);
    if !hit {
        notify::key_miss(db, key);
    }
}

/// Looks a key up for writing (lookupKeyWrite): no keyspace statistics.
#[inline]
pub fn lookup_write<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Option<&'a mut Entry> {
    let now = ctx.now;
    ctx.db().get(key, now)
}

/// What a read of a string key found.
pub enum StrRead<'a> {
    /// No such key.
    Missing,
    /// A string value.
    Found(&'a [u8]),
    /// A value of another type.
    WrongType,
}

/// Reads a string key with statistics.
#[inline]
pub fn read_str<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> StrRead<'a> {
    match lookup_read(ctx, key) {
        None => StrRead::Missing,
        Some(e) => match e.value.as_str() {
            Some(s) => StrRead::Found(s),
            None => StrRead::WrongType,
        },
    }
}

/// A string value holding a decimal integer (int encoding).
#[inline]
fn int_value(n: i64) -> Value {
    let mut b = itoa::Buffer::new();
    Value::string(b.format(n).as_bytes())
}

/// True when `len + add` exceeds the largest allowed string.
#[inline]
fn too_long(len: i64, add: i64) -> bool {
    len.checked_add(add)
        .is_none_or(|t| t > crate::config::proto_max_bulk_len())
}

// ---------------------------------------------------------------------------
// SET family option parsing
// ---------------------------------------------------------------------------

const F_NX: u32 = 1 << 0;
const F_XX: u32 = 1 << 1;
const F_EX: u32 = 1 << 2;
const F_PX: u32 = 1 << 3;
const F_KEEPTTL: u32 = 1 << 4;
const F_GET: u32 = 1 << 5;
const F_EXAT: u32 = 1 << 6;
const F_PXAT: u32 = 1 << 7;
const F_PERSIST: u32 = 1 << 8;
const F_ANY_EXPIRE: u32 = F_EX | F_PX | F_EXAT | F_PXAT;

/// Parses SET (`set == true`, options from index 3) or GETEX options (from 2).
/// Returns the flags and the index of the expire argument. Conflicting or
/// unknown options are a syntax error, as in Redis.
fn parse_ext(a: Args<'_>, set: bool) -> Option<(u32, Option<usize>)> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = if set { 3 } else { 2 };
    while j < a.len() {
        let opt = a.get(j);
        let has_next = j + 1 < a.len();
        if set && eq(opt, "nx") && flags & F_XX == 0 {
            flags |= F_NX;
        } else if set && eq(opt, "xx") && flags & F_NX == 0 {
            flags |= F_XX;
        } else if set && eq(opt, "get") {
            flags |= F_GET;
        } else if set && eq(opt, "keepttl") && flags & (F_PERSIST | F_ANY_EXPIRE) == 0 {
            flags |= F_KEEPTTL;
        } else if !set && eq(opt, "persist") && flags & (F_ANY_EXPIRE | F_KEEPTTL) == 0 {
            flags |= F_PERSIST;
        } else if has_next && (eq(opt, "ex") || eq(opt, "px") || eq(opt, "exat") || eq(opt, "pxat"))
        {
            let f = if eq(opt, "ex") {
                F_EX
            } else if eq(opt, "px") {
                F_PX
            } else if eq(opt, "exat") {
                F_EXAT
            } else {
                F_PXAT
            };
            // The same unit may repeat (the last one wins); any other expire
            // form, KEEPTTL or PERSIST conflicts.
            if flags & (F_KEEPTTL | F_PERSIST | (F_ANY_EXPIRE & !f)) != 0 {
                return None;
            }
            flags |= f;
            expire = Some(j + 1);
            j += 1;
        } else {
            return None;
        }
        j += 1;
    }
    Some((flags, expire))
}

/// Converts an expire argument to an absolute Unix time in ms
/// (getExpireMillisecondsOrReply). `err` is the command's invalid-expire text.
fn expire_at(arg: &[u8], flags: u32, now: u64, err: &'static str) -> Result<i64, &'static str> {
    let Some(v) = parse_i64(arg) else {
        return Err(NOT_INT);
    };
    let seconds = flags & (F_EX | F_EXAT) != 0;
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(err);
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if flags & (F_EX | F_PX) != 0 {
        ms = ms.wrapping_add(now as i64);
    }
    if ms <= 0 {
        return Err(err);
    }
    Ok(ms)
}

/// How SET-like commands answer.
#[derive(Clone, Copy, PartialEq)]
enum SetReply {
    /// `+OK` / null (SET, SETEX, PSETEX).
    Ok,
    /// `:1` / `:0` (SETNX).
    Int,
}

/// The core of SET/SETNX/SETEX/PSETEX (setGenericCommand).
fn set_generic(
    ctx: &mut Ctx<'_>,
    r: &mut Reply<'_>,
    key: &[u8],
    val: &[u8],
    flags: u32,
    when: Option<i64>,
    style: SetReply,
) {
    if flags & F_GET != 0 {
        match read_str(ctx, key) {
            StrRead::Missing => r.null(),
            StrRead::Found(s) => r.bulk(s),
            StrRead::WrongType => return r.error(WRONGTYPE),
        }
    }
    let now = ctx.now;
    let found = lookup_write(ctx, key).is_some();
    if (flags & F_NX != 0 && found) || (flags & F_XX != 0 && !found) {
        crate::metrics::changes(0);
        if flags & F_GET == 0 {
            match style {
                SetReply::Ok => r.null(),
                SetReply::Int => r.int(0),
            }
        }
        return;
    }
    let dbi = ctx.db;
    let db = ctx.db();
    let value = Value::string(val);
    match when {
        // An absolute time already past: the key is born expired, so the
        // next access (or the active cycle) reclaims it as an expired key.
        Some(at) => {
            let mut e = Entry::new(value);
            e.expire = at as u64;
            db.insert_entry(key, e);
            notify::emit(notify::STRING, "set", dbi, key);
            notify::emit(notify::GENERIC, "expire", dbi, key);
        }
        None if flags & F_KEEPTTL != 0 => {
            db.set_keep_ttl(key, value, now);
            notify::emit(notify::STRING, "set", dbi, key);
        }
        None => {
            db.set(key, value);
            notify::emit(notify::STRING, "set", dbi, key);
        }
    }
    if journal::active() {
        // The effect: options that depend on the time or on what was there
        // become an absolute expiry and an unconditional write.
        let cmd = match when {
            Some(at) if at as u64 <= now => journal::cmd([b"DEL", key]),
            Some(at) => journal::cmd([b"SET", key, val, b"PXAT", at.to_string().as_bytes()]),
            None if flags & F_KEEPTTL != 0 => journal::cmd([b"SET", key, val, b"KEEPTTL"]),
            None => journal::cmd([b"SET", key, val]),
        };
        journal::record_instead(vec![cmd]);
    }
    if flags & F_GET == 0 {
        match style {
            SetReply::Ok => r.ok(),
            SetReply::Int => r.int(1),
        }
    }
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// `GET key`
fn get(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_str(ctx, a.get(1)) {
        StrRead::Missing => r.null(),
        StrRead::Found(s) => r.bulk(s),
        StrRead::WrongType => r.error(WRONGTYPE),
    }
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]`
fn set(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    if a.len() == 3 {
        let now = ctx.now;
        ctx.db().set_at(a.get(1), Value::string(a.get(2)), now);
        notify::emit(notify::STRING, "set", ctx.db, a.get(1));
        return r.ok();
    }
    let Some((flags, exp)) = parse_ext(a, true) else {
        return r.error(SYNTAX);
    };
    let when = match exp {
        None => None,
        Some(i) => match expire_at(
            a.get(i),
            flags,
            ctx.now,
            "ERR invalid expire time in 'set' command",
        ) {
            Ok(w) => Some(w),
            Err(e) => return r.error(e),
        },
    };
    set_generic(ctx, r, a.get(1), a.get(2), flags, when, SetReply::Ok);
}

/// `SETNX key value`
fn setnx(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    set_generic(ctx, r, a.get(1), a.get(2), F_NX, None, SetReply::Int);
}

/// `SETEX key seconds value`
fn setex(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let err = "ERR invalid expire time in 'setex' command";
    match expire_at(a.get(2), F_EX, ctx.now, err) {
        Ok(w) => set_generic(ctx, r, a.get(1), a.get(3), F_EX, Some(w), SetReply::Ok),
        Err(e) => r.error(e),
    }
}

/// `PSETEX key milliseconds value`
fn psetex(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let err = "ERR invalid expire time in 'psetex' command";
    match expire_at(a.get(2), F_PX, ctx.now, err) {
        Ok(w) => set_generic(ctx, r, a.get(1), a.get(3), F_PX, Some(w), SetReply::Ok),
        Err(e) => r.error(e),
    }
}

/// `GETSET key value`
fn getset(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_str(ctx, a.get(1)) {
        StrRead::Missing => r.null(),
        StrRead::Found(s) => r.bulk(s),
        StrRead::WrongType => return r.error(WRONGTYPE),
    }
    ctx.db().set(a.get(1), Value::string(a.get(2)));
    notify::emit(notify::STRING, "set", ctx.db, a.get(1));
}

/// `GETDEL key`
fn getdel(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_str(ctx, a.get(1)) {
        StrRead::Missing => r.null(),
        StrRead::Found(s) => {
            r.bulk(s);
            ctx.db().remove(a.get(1));
            notify::emit(notify::GENERIC, "del", ctx.db, a.get(1));
        }
        StrRead::WrongType => r.error(WRONGTYPE),
    }
}

/// `GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]`
fn getex(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some((flags, exp)) = parse_ext(a, false) else {
        return r.error(SYNTAX);
    };
    let key = a.get(1);
    let now = ctx.now;
    match read_str(ctx, key) {
        StrRead::Missing => return r.null(),
        StrRead::WrongType => return r.error(WRONGTYPE),
        StrRead::Found(_) => {}
    }
    let when = match exp {
        None => None,
        Some(i) => match expire_at(
            a.get(i),
            flags,
            now,
            "ERR invalid expire time in 'getex' command",
        ) {
            Ok(w) => Some(w),
            Err(e) => return r.error(e),
        },
    };
    let dbi = ctx.db;
    let db = ctx.db();
    if let Some(s) = db.peek(key, now).and_then(|e| e.value.as_str()) {
        r.bulk(s);
    }
    match when {
        Some(at) if flags & (F_EXAT | F_PXAT) != 0 && at as u64 <= now => {
            db.remove(key);
            notify::emit(notify::GENERIC, "del", dbi, key);
        }
        Some(at) => {
            db.set_expire(key, at as u64, now);
            notify::emit(notify::GENERIC, "expire", dbi, key);
        }
        None if flags & F_PERSIST != 0 => {
            if db.persist(key, now) {
                notify::emit(notify::GENERIC, "persist", dbi, key);
            }
        }
        // Without an option GETEX changes nothing (as Redis, nothing to
        // propagate).
        None => crate::metrics::changes(0),
    }
    if journal::active() {
        let cmd = match when {
            Some(at) if flags & (F_EXAT | F_PXAT) != 0 && at as u64 <= now => {
                journal::cmd([b"DEL", key])
            }
            Some(at) => journal::cmd([b"PEXPIREAT", key, at.to_string().as_bytes()]),
            None if flags & F_PERSIST != 0 => journal::cmd([b"PERSIST", key]),
            None => Vec::new(),
        };
        if !cmd.is_empty() {
            journal::record_instead(vec![cmd]);
        }
    }
}

/// `MGET key [key ...]` with every key on this shard.
fn mget(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    r.array(a.len() - 1);
    if let Some(db) = ctx.shard.db_opt(ctx.db) {
        db.prefetch_keys(a.iter().skip(1));
    }
    for k in a.iter().skip(1) {
        match read_str(ctx, k) {
            StrRead::Found(s) => r.bulk(s),
            _ => r.null(),
        }
    }
}

const MSET_ARITY: &str = "ERR wrong number of arguments for 'mset' command";
const MSETNX_ARITY: &str = "ERR wrong number of arguments for 'msetnx' command";

/// `MSET key value [key value ...]` with every key on this shard.
fn mset(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    if a.len().is_multiple_of(2) {
        return r.error(MSET_ARITY);
    }
    crate::metrics::changes((a.len() / 2) as u64);
    let (now, dbi) = (ctx.now, ctx.db);
    let db = ctx.db();
    db.prefetch_keys((1..a.len()).step_by(2).map(|j| a.get(j)));
    for j in (1..a.len()).step_by(2) {
        db.set_at(a.get(j), Value::string(a.get(j + 1)), now);
        notify::emit(notify::STRING, "set", dbi, a.get(j));
    }
    r.ok();
}

/// `MSETNX key value [key value ...]` with every key on this shard.
fn msetnx(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    if a.len().is_multiple_of(2) {
        return r.error(MSETNX_ARITY);
    }
    let now = ctx.now;
    let dbi = ctx.db;
    let db = ctx.db();
    db.prefetch_keys((1..a.len()).step_by(2).map(|j| a.get(j)));
    if (1..a.len()).step_by(2).any(|j| db.contains(a.get(j), now)) {
        crate::metrics::changes(0);
        return r.int(0);
    }
    crate::metrics::changes((a.len() / 2) as u64);
    for j in (1..a.len()).step_by(2) {
        db.set(a.get(j), Value::string(a.get(j + 1)));
        notify::emit(notify::STRING, "set", dbi, a.get(j));
    }
    r.int(1);
}

/// A shard and the key/value pairs it owns.
type ShardPairs = (usize, Vec<(Vec<u8>, Vec<u8>)>);

/// Key/value pairs of an MSET-like command grouped by owning shard.
fn pairs_by_shard(c: &Session, a: &OwnedArgs) -> Vec<ShardPairs> {
    let groups = c.group_by_shard(a, (1..a.len()).step_by(2));
    groups
        .into_iter()
        .map(|(s, idx)| {
            let kv = idx
                .iter()
                .map(|&i| (a.get(i).to_vec(), a.get(i + 1).to_vec()))
                .collect();
            (s, kv)
        })
        .collect()
}

/// Stores pairs on their shards.
async fn set_pairs(c: &Session, groups: Vec<ShardPairs>) {
    let futs = groups.into_iter().map(|(shard, kv)| {
        c.on_shard(shard, move |ctx| {
            let (now, dbi) = (ctx.now, ctx.db);
            let db = ctx.db();
            for (k, v) in &kv {
                db.set_at(k, Value::string(v), now);
                notify::emit(notify::STRING, "set", dbi, k);
            }
        })
    });
    futures::future::join_all(futs).await;
}

/// MSETNX across shards: checks every involved shard, then sets; the
/// dispatcher holds every key's lock meanwhile (see [`crate::shard::txn`]).
fn msetnx_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if a.len().is_multiple_of(2) {
            return c.error(MSETNX_ARITY);
        }
        let groups = pairs_by_shard(c, &a);
        let checks = groups.iter().map(|(shard, kv)| {
            let keys: Vec<Vec<u8>> = kv.iter().map(|(k, _)| k.clone()).collect();
            c.on_shard(*shard, move |ctx| {
                let now = ctx.now;
                let db = ctx.db();
                keys.iter().any(|k| db.contains(k, now))
            })
        });
        if futures::future::join_all(checks)
            .await
            .into_iter()
            .any(|x| x)
        {
            return c.reply().int(0);
        }
        set_pairs(c, groups).await;
        c.reply().int(1);
    })
}

/// `APPEND key value`
fn append(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let add = a.get(2);
    match lookup_write(ctx, a.get(1)) {
        None => {
            ctx.db().set(a.get(1), Value::string(add));
            r.int(add.len() as i64);
        }
        Some(e) => {
            let Some(cur) = e.value.as_str() else {
                return r.error(WRONGTYPE);
            };
            if too_long(cur.len() as i64, add.len() as i64) {
                return r.error(STRING_TOO_BIG);
            }
            if let Some(v) = e.value.str_mut() {
                v.extend_from_slice(add);
                r.int(v.len() as i64);
            }
        }
    }
    notify::emit(notify::STRING, "append", ctx.db, a.get(1));
}

/// `STRLEN key`
fn strlen(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_str(ctx, a.get(1)) {
        StrRead::Missing => r.int(0),
        StrRead::Found(s) => r.int(s.len() as i64),
        StrRead::WrongType => r.error(WRONGTYPE),
    }
}

/// Adds `incr` to the integer at `key` (incrDecrCommand); keeps the TTL.
#[inline]
fn incr_by(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, key: &[u8], incr: i64) {
    match lookup_write(ctx, key) {
        None => {
            ctx.db().set(key, int_value(incr));
            r.int(incr);
        }
        Some(e) => {
            // INCR and DECR of a counter: the digits change in place.
            if (incr == 1 || incr == -1)
                && let Some(text) = e.value.step_decimal(incr == 1)
            {
                r.int_text(text);
            } else {
                let Some(s) = e.value.as_str() else {
                    return r.error(WRONGTYPE);
                };
                let Some(old) = parse_i64(s) else {
                    return r.error(NOT_INT);
                };
                let Some(new) = old.checked_add(incr) else {
                    return r.error(OVERFLOW);
                };
                let mut b = itoa::Buffer::new();
                let text = b.format(new).as_bytes();
                e.value.set_string(text);
                r.int_text(text);
            }
        }
    }
    notify::emit(notify::STRING, "incrby", ctx.db, key);
}

/// `INCR key`
fn incr(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    incr_by(ctx, r, a.get(1), 1);
}

/// `DECR key`
fn decr(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    incr_by(ctx, r, a.get(1), -1);
}

/// `INCRBY key increment`
fn incrby(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match parse_i64(a.get(2)) {
        Some(n) => incr_by(ctx, r, a.get(1), n),
        None => r.error(NOT_INT),
    }
}

/// `DECRBY key decrement`
fn decrby(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match parse_i64(a.get(2)) {
        Some(i64::MIN) => r.error("ERR decrement would overflow"),
        Some(n) => incr_by(ctx, r, a.get(1), -n),
        None => r.error(NOT_INT),
    }
}

/// Adds two decimal strings in x87 extended precision and formats the sum like
/// Redis's INCRBYFLOAT. `Err` carries the error text.
pub fn incr_float_text(cur: &[u8], incr: &[u8]) -> Result<String, &'static str> {
    let (Some(v), Some(i)) = (ld::parse(cur), ld::parse(incr)) else {
        return Err(NOT_FLOAT);
    };
    let sum = ld::add(v, i);
    if sum.inf {
        return Err("ERR increment would produce NaN or Infinity");
    }
    Ok(ld::format_human(sum))
}

/// `INCRBYFLOAT key increment`
fn incrbyfloat(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let key = a.get(1);
    let res = match lookup_write(ctx, key) {
        None => incr_float_text(b"0", a.get(2)),
        Some(e) => match e.value.as_str() {
            None => return r.error(WRONGTYPE),
            Some(s) => incr_float_text(s, a.get(2)),
        },
    };
    match res {
        Err(e) => r.error(e),
        Ok(text) => {
            let now = ctx.now;
            ctx.db()
                .set_keep_ttl(key, Value::string(text.as_bytes()), now);
            notify::emit(notify::STRING, "incrbyfloat", ctx.db, key);
            journal::record_instead(vec![journal::cmd([
                b"SET",
                key,
                text.as_bytes(),
                b"KEEPTTL",
            ])]);
            r.bulk(text.as_bytes());
        }
    }
}

/// Resolves GETRANGE's inclusive range over a string of `len` bytes.
fn substr_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        return None;
    }
    Some((s as usize, e as usize))
}

/// `GETRANGE key start end` (and `SUBSTR`)
fn getrange(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let (Some(start), Some(end)) = (parse_i64(a.get(2)), parse_i64(a.get(3))) else {
        return r.error(NOT_INT);
    };
    match read_str(ctx, a.get(1)) {
        StrRead::Missing => r.bulk(b""),
        StrRead::WrongType => r.error(WRONGTYPE),
        StrRead::Found(s) => match substr_range(start, end, s.len()) {
            Some((b, e)) => r.bulk(&s[b..=e]),
            None => r.bulk(b""),
        },
    }
}

/// `SETRANGE key offset value`
fn setrange(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(offset) = parse_i64(a.get(2)) else {
        return r.error(NOT_INT);
    };
    if offset < 0 {
        return r.error("ERR offset is out of range");
    }
    let val = a.get(3);
    let key = a.get(1);
    match lookup_write(ctx, key) {
        None => {
            if val.is_empty() {
                return r.int(0);
            }
            if too_long(offset, val.len() as i64) {
                return r.error(STRING_TOO_BIG);
            }
            let off = offset as usize;
            let mut v = vec![0u8; off + val.len()];
            v[off..].copy_from_slice(val);
            r.int(v.len() as i64);
            ctx.db().set(key, Value::raw(v));
            notify::emit(notify::STRING, "setrange", ctx.db, key);
        }
        Some(e) => {
            let Some(cur) = e.value.as_str() else {
                return r.error(WRONGTYPE);
            };
            if val.is_empty() {
                return r.int(cur.len() as i64);
            }
            if too_long(offset, val.len() as i64) {
                return r.error(STRING_TOO_BIG);
            }
            if let Some(v) = e.value.str_mut() {
                let off = offset as usize;
                if v.len() < off + val.len() {
                    v.resize(off + val.len(), 0);
                }
                v[off..off + val.len()].copy_from_slice(val);
                r.int(v.len() as i64);
            }
            notify::emit(notify::STRING, "setrange", ctx.db, key);
        }
    }
}

// ---------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------

/// LCS options.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct LcsOpts {
    /// LEN.
    pub len: bool,
    /// IDX.
    pub idx: bool,
    /// WITHMATCHLEN.
    pub withmatchlen: bool,
    /// MINMATCHLEN (negative clamps to 0).
    pub minmatchlen: i64,
}

/// Parses LCS options from index 3.
fn parse_lcs_opts(a: Args<'_>) -> Result<LcsOpts, &'static str> {
    let mut o = LcsOpts::default();
    let mut j = 3;
    while j < a.len() {
        let opt = a.get(j);
        if eq(opt, "idx") {
            o.idx = true;
        } else if eq(opt, "len") {
            o.len = true;
        } else if eq(opt, "withmatchlen") {
            o.withmatchlen = true;
        } else if eq(opt, "minmatchlen") && j + 1 < a.len() {
            o.minmatchlen = parse_i64(a.get(j + 1)).ok_or(NOT_INT)?.max(0);
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if o.len && o.idx {
        return Err("ERR If you want both the length and indexes, please just use IDX.");
    }
    Ok(o)
}

/// One matching range: `(a_start, a_end, b_start, b_end, len)`.
pub type LcsMatch = (u32, u32, u32, u32, u32);

/// The longest common subsequence of `a` and `b`: the string, its length and
/// the matching ranges from the end backwards (as Redis reports them), keeping
/// only ranges at least `minmatchlen` long. `Err` on a table too large.
pub fn lcs_compute(
    a: &[u8],
    b: &[u8],
    want_string: bool,
    minmatchlen: i64,
) -> Result<(Vec<u8>, u32, Vec<LcsMatch>), &'static str> {
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err("ERR String too long for LCS");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > crate::config::proto_max_bulk_len() as u64 {
        return Err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let w = blen + 1;
    let mut t: Vec<u32> = Vec::new();
    if t.try_reserve_exact(cells as usize).is_err() {
        return Err("ERR Insufficient memory, failed allocating transient memory for LCS");
    }
    t.resize(cells as usize, 0);
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen];
    let mut out = if want_string {
        vec![0u8; total as usize]
    } else {
        Vec::new()
    };
    let mut matches = Vec::new();
    let (mut i, mut j, mut k) = (alen, blen, total as usize);
    // The current range, if one is open: (a_start, a_end, b_start, b_end).
    let mut cur: Option<(usize, usize, usize, usize)> = None;
    while want_string && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            out[k - 1] = a[i - 1];
            match &mut cur {
                None => cur = Some((i - 1, i - 1, j - 1, j - 1)),
                Some(c) => {
                    // Walking backwards, a match right after a match extends it.
                    if c.0 == i && c.2 == j {
                        c.0 -= 1;
                        c.2 -= 1;
                    } else {
                        emit = true;
                    }
                }
            }
            if let Some(c) = cur
                && (c.0 == 0 || c.2 == 0)
            {
                emit = true;
            }
            k -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if cur.is_some() {
                emit = true;
            }
        }
        if emit && let Some(c) = cur.take() {
            let mlen = (c.1 - c.0 + 1) as i64;
            if minmatchlen == 0 || mlen >= minmatchlen {
                matches.push((c.0 as u32, c.1 as u32, c.2 as u32, c.3 as u32, mlen as u32));
            }
        }
    }
    Ok((out, total, matches))
}

/// Writes the LCS reply for two strings (None: missing key → empty string).
fn lcs_reply(r: &mut Reply<'_>, sa: &[u8], sb: &[u8], o: &LcsOpts) {
    let want = o.idx || !o.len;
    match lcs_compute(sa, sb, want, o.minmatchlen) {
        Err(e) => r.error(e),
        Ok((s, total, matches)) => {
            if o.idx {
                r.map(2);
                r.bulk(b"matches");
                r.array(matches.len());
                for m in &matches {
                    r.array(2 + o.withmatchlen as usize);
                    r.array(2);
                    r.int(m.0 as i64);
                    r.int(m.1 as i64);
                    r.array(2);
                    r.int(m.2 as i64);
                    r.int(m.3 as i64);
                    if o.withmatchlen {
                        r.int(m.4 as i64);
                    }
                }
                r.bulk(b"len");
                r.int(total as i64);
            } else if o.len {
                r.int(total as i64);
            } else {
                r.bulk(&s);
            }
        }
    }
}

const LCS_TYPE: &str = "ERR The specified keys must contain string values";

/// Fetches a key's string for LCS: Ok(None) when missing, Err on wrong type.
fn lcs_fetch(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, ()> {
    match read_str(ctx, key) {
        StrRead::Missing => Ok(None),
        StrRead::Found(s) => Ok(Some(s.to_vec())),
        StrRead::WrongType => Err(()),
    }
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`
fn lcs(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let x = lcs_fetch(ctx, a.get(1));
    let y = lcs_fetch(ctx, a.get(2));
    lcs_finish(r, a, x, y);
}

fn lcs_finish(
    r: &mut Reply<'_>,
    a: Args<'_>,
    x: Result<Option<Vec<u8>>, ()>,
    y: Result<Option<Vec<u8>>, ()>,
) {
    let (Ok(x), Ok(y)) = (x, y) else {
        return r.error(LCS_TYPE);
    };
    let o = match parse_lcs_opts(a) {
        Ok(o) => o,
        Err(e) => return r.error(e),
    };
    lcs_reply(
        r,
        x.as_deref().unwrap_or(b""),
        y.as_deref().unwrap_or(b""),
        &o,
    );
}

/// LCS with its two keys on different shards.
fn lcs_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let (k1, k2) = (a.get(1).to_vec(), a.get(2).to_vec());
        let (s1, s2) = (c.owner(&k1), c.owner(&k2));
        let (x, y) = futures::join!(
            c.on_shard(s1, move |ctx| lcs_fetch(ctx, &k1)),
            c.on_shard(s2, move |ctx| lcs_fetch(ctx, &k2))
        );
        let start = c.out.len();
        let mut r = c.reply();
        lcs_finish(&mut r, a.args(), x, y);
        if r.first_error.is_some() {
            crate::metrics::error_reply(&c.out[start..]);
        }
    })
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

const RW_ACCESS_UPDATE: u32 = keyflags::RW | keyflags::ACCESS | keyflags::UPDATE;

/// A single-key string command spec.
const fn one_key(name: &'static str, arity: i32, flags: u64, key_flags: u32) -> CommandSpec {
    CommandSpec::single_key(name, "string", arity, flags, key_flags)
}

const SUBSTR_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

/// String family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        acl: &["read", "string", "fast"],
        summary: "Get the value of a key",
        shard: Some(get),
        ..one_key("get", 2, READONLY | FAST, keyflags::RO | keyflags::ACCESS)
    },
    CommandSpec {
        acl: &["write", "string", "slow"],
        summary: "Set the string value of a key",
        shard: Some(set),
        key_notes: "RW and ACCESS due to the optional `GET` argument",
        ..one_key(
            "set",
            -3,
            WRITE | DENYOOM,
            RW_ACCESS_UPDATE | keyflags::VARIABLE_FLAGS,
        )
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Set the value of a key, only if the key does not exist",
        shard: Some(setnx),
        ..one_key(
            "setnx",
            3,
            WRITE | DENYOOM | FAST,
            keyflags::OW | keyflags::INSERT,
        )
    },
    CommandSpec {
        acl: &["write", "string", "slow"],
        summary: "Set the value and expiration of a key",
        since: "2.0.0",
        shard: Some(setex),
        ..one_key("setex", 4, WRITE | DENYOOM, keyflags::OW | keyflags::UPDATE)
    },
    CommandSpec {
        acl: &["write", "string", "slow"],
        summary: "Set the value and expiration in milliseconds of a key",
        since: "2.6.0",
        shard: Some(psetex),
        ..one_key(
            "psetex",
            4,
            WRITE | DENYOOM,
            keyflags::OW | keyflags::UPDATE,
        )
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Set the string value of a key and return its old value",
        shard: Some(getset),
        ..one_key("getset", 3, WRITE | DENYOOM | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Get the value of a key and delete the key",
        since: "6.2.0",
        shard: Some(getdel),
        ..one_key(
            "getdel",
            2,
            WRITE | FAST,
            keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
        )
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Get the value of a key and optionally set its expiration",
        since: "6.2.0",
        shard: Some(getex),
        key_notes: "RW and UPDATE because it changes the TTL",
        ..one_key("getex", -2, WRITE | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: READONLY | FAST,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::RO | keyflags::ACCESS,
        acl: &["read", "string", "fast"],
        group: "string",
        summary: "Get the values of all the given keys",
        complexity: "O(N) where N is the number of keys to retrieve.",
        tips: &["request_policy:multi_shard"],
        shard: Some(mget),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: WRITE | DENYOOM,
        first_key: 1,
        last_key: -1,
        step: 2,
        key_flags: keyflags::OW | keyflags::UPDATE,
        acl: &["write", "string", "slow"],
        group: "string",
        summary: "Set multiple keys to multiple values",
        since: "1.0.1",
        complexity: "O(N) where N is the number of keys to set.",
        tips: &[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ],
        shard: Some(mset),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: WRITE | DENYOOM,
        first_key: 1,
        last_key: -1,
        step: 2,
        key_flags: keyflags::OW | keyflags::INSERT,
        acl: &["write", "string", "slow"],
        group: "string",
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        since: "1.0.1",
        complexity: "O(N) where N is the number of keys to set.",
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        shard: Some(msetnx),
        coord: Some(msetnx_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Append a value to a key",
        since: "2.0.0",
        complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        shard: Some(append),
        ..one_key(
            "append",
            3,
            WRITE | DENYOOM | FAST,
            keyflags::RW | keyflags::INSERT,
        )
    },
    CommandSpec {
        acl: &["read", "string", "fast"],
        summary: "Get the length of the value stored in a key",
        since: "2.2.0",
        shard: Some(strlen),
        ..one_key("strlen", 2, READONLY | FAST, keyflags::RO)
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Increment the integer value of a key by one",
        shard: Some(incr),
        ..one_key("incr", 2, WRITE | DENYOOM | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Decrement the integer value of a key by one",
        shard: Some(decr),
        ..one_key("decr", 2, WRITE | DENYOOM | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Increment the integer value of a key by the given amount",
        shard: Some(incrby),
        ..one_key("incrby", 3, WRITE | DENYOOM | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Decrement the integer value of a key by the given number",
        shard: Some(decrby),
        ..one_key("decrby", 3, WRITE | DENYOOM | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        acl: &["write", "string", "fast"],
        summary: "Increment the float value of a key by the given amount",
        since: "2.6.0",
        shard: Some(incrbyfloat),
        ..one_key("incrbyfloat", 3, WRITE | DENYOOM | FAST, RW_ACCESS_UPDATE)
    },
    CommandSpec {
        acl: &["read", "string", "slow"],
        summary: "Get a substring of the string stored at a key",
        since: "2.4.0",
        complexity: SUBSTR_COMPLEXITY,
        shard: Some(getrange),
        ..one_key("getrange", 4, READONLY, keyflags::RO | keyflags::ACCESS)
    },
    CommandSpec {
        acl: &["read", "string", "slow"],
        summary: "Get a substring of the string stored at a key",
        complexity: SUBSTR_COMPLEXITY,
        shard: Some(getrange),
        ..one_key("substr", 4, READONLY, keyflags::RO | keyflags::ACCESS)
    },
    CommandSpec {
        acl: &["write", "string", "slow"],
        summary: "Overwrite part of a string at key starting at the specified offset",
        since: "2.2.0",
        complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        shard: Some(setrange),
        ..one_key(
            "setrange",
            4,
            WRITE | DENYOOM,
            keyflags::RW | keyflags::UPDATE,
        )
    },
    CommandSpec {
        name: "lcs",
        arity: -3,
        flags: READONLY,
        first_key: 1,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RO | keyflags::ACCESS,
        acl: &["read", "string", "slow"],
        group: "string",
        summary: "Find longest common substring",
        since: "7.0.0",
        complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        shard: Some(lcs),
        coord: Some(lcs_coord),
        ..CommandSpec::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::from_slices(parts)
    }

    #[test]
    fn set_options() {
        let p = |v: &[&str]| parse_ext(args(v).args(), true).map(|x| x.0);
        assert_eq!(p(&["set", "k", "v", "nx"]), Some(F_NX));
        assert_eq!(p(&["set", "k", "v", "nx", "xx"]), None);
        assert_eq!(p(&["set", "k", "v", "ex", "1", "ex", "2"]), Some(F_EX));
        assert_eq!(p(&["set", "k", "v", "ex", "1", "px", "2"]), None);
        assert_eq!(p(&["set", "k", "v", "keepttl", "px", "2"]), None);
        assert_eq!(p(&["set", "k", "v", "px", "2", "keepttl"]), None);
        assert_eq!(p(&["set", "k", "v", "ex"]), None);
        assert_eq!(p(&["set", "k", "v", "persist"]), None);
        assert_eq!(p(&["set", "k", "v", "GET", "NX"]), Some(F_GET | F_NX));
        let g = |v: &[&str]| parse_ext(args(v).args(), false).map(|x| x.0);
        assert_eq!(g(&["getex", "k", "persist"]), Some(F_PERSIST));
        assert_eq!(g(&["getex", "k", "persist", "ex", "1"]), None);
        assert_eq!(g(&["getex", "k", "nx"]), None);
        assert_eq!(g(&["getex", "k", "keepttl"]), None);
    }

    #[test]
    fn expire_values() {
        let err = "E";
        assert_eq!(expire_at(b"0", F_EX, 1000, err), Err("E"));
        assert_eq!(expire_at(b"-1", F_PX, 1000, err), Err("E"));
        assert_eq!(expire_at(b"x", F_PX, 1000, err), Err(NOT_INT));
        assert_eq!(expire_at(b"10", F_EX, 1000, err), Ok(11000));
        assert_eq!(expire_at(b"9223372036854775807", F_EX, 1000, err), Err("E"));
        assert_eq!(expire_at(b"9223372036854775807", F_PX, 1000, err), Err("E"));
        assert_eq!(expire_at(b"5", F_PXAT, 1000, err), Ok(5));
    }

    #[test]
    fn incrbyfloat_text() {
        assert_eq!(incr_float_text(b"10.50", b"0.1").as_deref(), Ok("10.6"));
        assert_eq!(incr_float_text(b"5.0e3", b"2.0e2").as_deref(), Ok("5200"));
        assert_eq!(incr_float_text(b"1", b"abc"), Err(NOT_FLOAT));
        assert!(incr_float_text(b"1", b"inf").is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(substr_range(0, -1, 5), Some((0, 4)));
        assert_eq!(substr_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(substr_range(-1, -3, 5), None);
        assert_eq!(substr_range(2, 100, 5), Some((2, 4)));
        assert_eq!(substr_range(0, 0, 0), None);
        assert_eq!(substr_range(4, 2, 5), None);
    }

    #[test]
    fn lcs_example() {
        let (s, len, m) = lcs_compute(b"ohmytext", b"mynewtext", true, 0).unwrap();
        assert_eq!(s, b"mytext");
        assert_eq!(len, 6);
        assert_eq!(m, vec![(4, 7, 5, 8, 4), (2, 3, 0, 1, 2)]);
        let (_, _, m) = lcs_compute(b"ohmytext", b"mynewtext", true, 4).unwrap();
        assert_eq!(m, vec![(4, 7, 5, 8, 4)]);
        let (s, len, _) = lcs_compute(b"", b"abc", true, 0).unwrap();
        assert!(s.is_empty());
        assert_eq!(len, 0);
    }
}
