//! Generic key commands: DEL, EXISTS, EXPIRE, RENAME, SCAN and the rest of the
//! keyspace family.
//!
//! ```text
//!  single-key / same-shard keys ──► shard fn on the owner (inline or hop)
//!  keys on several shards       ──► split by shard or coord fn, under the keys' locks
//!  whole-keyspace (KEYS, SCAN, DBSIZE, FLUSH*, SWAPDB, RANDOMKEY) ──► every shard
//! ```
//!
//! Cross-shard RENAME/RENAMENX/COPY move an [`Entry`] (value and absolute TTL)
//! between shards with separate hops, while the dispatcher holds both keys'
//! locks (see [`crate::shard::txn`]): nobody sees neither or both. DEL,
//! UNLINK, EXISTS and TOUCH have no coordinator: their tips make the
//! dispatcher split them by shard and add up the parts' replies.

use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*, keyflags};
use crate::command::session::Session;
use crate::metrics;
use crate::protocol::{Args, Reply};
use crate::shard::journal;
use crate::shard::slot::SLOTS;
use crate::storage::notify;
use crate::storage::{Entry, ScanPart, Value, merge_scan};

/// `ERR source and destination objects are the same`.
const SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// Small integers Redis shares between keys (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10000;
/// Reference count Redis reports for shared objects (`OBJ_SHARED_REFCOUNT`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LFU_SELECTED: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

// ---------------------------------------------------------------------------
// Shard-side helpers
// ---------------------------------------------------------------------------

/// Read lookup like Redis's `lookupKeyRead`: counts a keyspace hit or miss
/// (a miss raises `keymiss`) and updates the access time unless `touch` is
/// false or the client is NO-TOUCH.
fn read_key<'c>(ctx: &'c mut Ctx<'_>, key: &[u8], touch: bool) -> Option<&'c mut Entry> {
    let dbi = ctx.db;
    let e = counted_key(ctx, key, touch);
    if e.is_none() {
        notify::key_miss(dbi, key);
    }
    e
}

/// [`read_key`] without the `keymiss` event (OBJECT's lookups: statistics
/// only).
fn counted_key<'c>(ctx: &'c mut Ctx<'_>, key: &[u8], touch: bool) -> Option<&'c mut Entry> {
    let now = ctx.now;
    let touch = touch && !ctx.no_touch;
    let db = ctx.db();
    let e = if touch {
        db.get(key, now)
    } else {
        db.get_mut(key, now)
    };
    metrics::keyspace(e.is_some());
    e
}

/// Write lookup like Redis's `lookupKeyWrite` (no statistics).
fn write_key<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Option<&'c mut Entry> {
    let now = ctx.now;
    let touch = !ctx.no_touch;
    let db = ctx.db();
    if touch {
        db.get(key, now)
    } else {
        db.get_mut(key, now)
    }
}

fn del_one(ctx: &mut Ctx<'_>, k: &[u8]) -> bool {
    if crate::storage::lazyfree::lazy().user_del {
        return unlink_one(ctx, k);
    }
    let now = ctx.now;
    let deleted = ctx.db().delete(k, now);
    crate::metrics::changes(u64::from(deleted));
    if deleted {
        notify::emit(notify::GENERIC, "del", ctx.db, k);
    }
    deleted
}

/// UNLINK of one key: removed now, its value freed by the lazyfree thread
/// when it is big.
fn unlink_one(ctx: &mut Ctx<'_>, k: &[u8]) -> bool {
    let now = ctx.now;
    match ctx.db().take(k, now) {
        Some(e) => {
            crate::storage::lazyfree::free(e.value);
            crate::metrics::changes(1);
            notify::emit(notify::GENERIC, "del", ctx.db, k);
            true
        }
        None => {
            crate::metrics::changes(0);
            false
        }
    }
}

fn exists_one(ctx: &mut Ctx<'_>, k: &[u8]) -> bool {
    read_key(ctx, k, false).is_some()
}

fn touch_one(ctx: &mut Ctx<'_>, k: &[u8]) -> bool {
    let now = ctx.now;
    let hit = ctx.db().get(k, now).is_some();
    metrics::keyspace(hit);
    if !hit {
        notify::key_miss(ctx.db, k);
    }
    hit
}

/// Runs a per-key predicate over keys 1.. on one shard and replies with the count.
fn count_keys(
    ctx: &mut Ctx<'_>,
    r: &mut Reply<'_>,
    a: Args<'_>,
    f: fn(&mut Ctx<'_>, &[u8]) -> bool,
) {
    let n = a.iter().skip(1).filter(|k| f(ctx, k)).count();
    r.int(n as i64);
}

/// `DEL key [key ...]` on one shard.
fn del(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    count_keys(ctx, r, a, del_one);
}

/// `UNLINK key [key ...]` on one shard.
fn unlink(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    count_keys(ctx, r, a, unlink_one);
}

/// `EXISTS key [key ...]` on one shard (a key named twice counts twice).
fn exists(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    count_keys(ctx, r, a, exists_one);
}

/// `TOUCH key [key ...]` on one shard.
fn touch(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    count_keys(ctx, r, a, touch_one);
}

/// `TYPE key`
fn type_cmd(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_key(ctx, a.get(1), false) {
        Some(e) => r.simple(e.value.type_name()),
        None => r.simple("none"),
    }
}

// ---------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

/// Parses EXPIRE's NX/XX/GT/LT options (arguments from index 3).
fn parse_expire_flags(a: Args<'_>) -> Result<u8, String> {
    let mut flags = 0;
    for opt in a.iter().skip(3) {
        flags |= if eq(opt, "nx") {
            EXPIRE_NX
        } else if eq(opt, "xx") {
            EXPIRE_XX
        } else if eq(opt, "gt") {
            EXPIRE_GT
        } else if eq(opt, "lt") {
            EXPIRE_LT
        } else {
            return Err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            ));
        };
    }
    if flags & EXPIRE_NX != 0 && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if flags & EXPIRE_GT != 0 && flags & EXPIRE_LT != 0 {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    Ok(flags)
}

/// The absolute expiry (ms) an EXPIRE-family command asks for, or Redis's error.
fn expire_when(
    a: Args<'_>,
    now: u64,
    seconds: bool,
    absolute: bool,
    name: &str,
) -> Result<i64, String> {
    let overflow = || format!("ERR invalid expire time in '{name}' command");
    let mut when = parse_i64(a.get(2)).ok_or_else(|| NOT_INT.to_string())?;
    if seconds {
        when = when.checked_mul(1000).ok_or_else(overflow)?;
    }
    let base = if absolute { 0 } else { now as i64 };
    when.checked_add(base).ok_or_else(overflow)
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    r: &mut Reply<'_>,
    a: Args<'_>,
    seconds: bool,
    absolute: bool,
    name: &str,
) {
    let flags = match parse_expire_flags(a) {
        Ok(f) => f,
        Err(e) => return r.error(&e),
    };
    let now = ctx.now;
    let when = match expire_when(a, now, seconds, absolute, name) {
        Ok(w) => w,
        Err(e) => return r.error(&e),
    };
    let key = a.get(1);
    let Some(e) = write_key(ctx, key) else {
        return r.int(0);
    };
    if flags != 0 {
        let current = e.expire;
        let has = current != 0;
        let refuse = (flags & EXPIRE_NX != 0 && has)
            || (flags & EXPIRE_XX != 0 && !has)
            // GT: a key without TTL counts as an infinite TTL.
            || (flags & EXPIRE_GT != 0 && (!has || when <= current as i64))
            || (flags & EXPIRE_LT != 0 && has && when >= current as i64);
        if refuse {
            return r.int(0);
        }
    }
    let dbi = ctx.db;
    let db = ctx.db();
    if when <= now as i64 {
        db.remove(key);
        notify::emit(notify::GENERIC, "del", dbi, key);
        journal::record_instead(vec![journal::cmd([b"DEL", key])]);
    } else {
        db.set_expire(key, when as u64, now);
        notify::emit(notify::GENERIC, "expire", dbi, key);
        if journal::active() {
            let at = when.to_string();
            journal::record_instead(vec![journal::cmd([b"PEXPIREAT", key, at.as_bytes()])]);
        }
    }
    r.int(1);
}

fn expire(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    expire_generic(ctx, r, a, true, false, "expire");
}
fn pexpire(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    expire_generic(ctx, r, a, false, false, "pexpire");
}
fn expireat(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    expire_generic(ctx, r, a, true, true, "expireat");
}
fn pexpireat(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    expire_generic(ctx, r, a, false, true, "pexpireat");
}

/// TTL, PTTL, EXPIRETIME and PEXPIRETIME.
fn ttl_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, ms: bool, absolute: bool) {
    let now = ctx.now as i64;
    let Some(e) = read_key(ctx, a.get(1), false) else {
        return r.int(-2);
    };
    if e.expire == 0 {
        return r.int(-1);
    }
    let t = if absolute {
        e.expire as i64
    } else {
        (e.expire as i64 - now).max(0)
    };
    // Rounded in wider arithmetic: an expiry near i64::MAX must not wrap.
    r.int(if ms {
        t
    } else {
        ((t as i128 + 500) / 1000) as i64
    });
}

fn ttl(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    ttl_generic(ctx, r, a, false, false);
}
fn pttl(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    ttl_generic(ctx, r, a, true, false);
}
fn expiretime(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    ttl_generic(ctx, r, a, false, true);
}
fn pexpiretime(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    ttl_generic(ctx, r, a, true, true);
}

/// `PERSIST key`
fn persist(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let key = a.get(1);
    let has_ttl = write_key(ctx, key).is_some_and(|e| e.expire != 0);
    if has_ttl {
        let now = ctx.now;
        ctx.db().persist(key, now);
        notify::emit(notify::GENERIC, "persist", ctx.db, key);
    }
    r.int(has_ttl as i64);
}

// ---------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE
// ---------------------------------------------------------------------------

/// RENAME / RENAMENX with both keys on this shard.
fn rename_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, nx: bool) {
    let (src, dst) = (a.get(1), a.get(2));
    if write_key(ctx, src).is_none() {
        return r.error(NO_SUCH_KEY);
    }
    let done = |r: &mut Reply<'_>| if nx { r.int(1) } else { r.ok() };
    if src == dst {
        return if nx { r.int(0) } else { r.ok() };
    }
    if nx && write_key(ctx, dst).is_some() {
        return r.int(0);
    }
    let now = ctx.now;
    let dbi = ctx.db;
    let db = ctx.db();
    if let Some(e) = db.take(src, now) {
        // The destination goes first: the key stored is a new one.
        db.delete_for_add(dst, now);
        db.insert_entry(dst, e);
        notify::emit(notify::GENERIC, "rename_from", dbi, src);
        notify::emit(notify::GENERIC, "rename_to", dbi, dst);
    }
    done(r);
}

fn rename(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    rename_generic(ctx, r, a, false);
}
fn renamenx(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    rename_generic(ctx, r, a, true);
}

/// RENAME / RENAMENX with the keys on different shards: the entry travels from
/// the source shard to the destination shard (under both keys' locks, see
/// module docs).
fn rename_across(c: &mut Session, a: OwnedArgs, nx: bool) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let src = a.get(1).to_vec();
        let dst = a.get(2).to_vec();
        if nx {
            let s = src.clone();
            if !c
                .on_key(&src, move |ctx| write_key(ctx, &s).is_some())
                .await
            {
                return c.error(NO_SUCH_KEY);
            }
            let d = dst.clone();
            if c.on_key(&dst, move |ctx| write_key(ctx, &d).is_some())
                .await
            {
                return c.reply().int(0);
            }
        }
        let s = src.clone();
        let taken = c
            .on_key(&src, move |ctx| {
                let now = ctx.now;
                let e = ctx.db().take(&s, now);
                if e.is_some() {
                    notify::emit(notify::GENERIC, "rename_from", ctx.db, &s);
                }
                e
            })
            .await;
        let Some(entry) = taken else {
            return c.error(NO_SUCH_KEY);
        };
        let d = dst.clone();
        let refused = c
            .on_key(&dst, move |ctx| {
                if nx && write_key(ctx, &d).is_some() {
                    return Some(entry);
                }
                let now = ctx.now;
                ctx.db().delete_for_add(&d, now);
                ctx.db().insert_entry(&d, entry);
                notify::emit(notify::GENERIC, "rename_to", ctx.db, &d);
                None
            })
            .await;
        if let Some(entry) = refused {
            // RENAMENX lost a race with a writer of the destination: put the
            // source back unless it was recreated meanwhile.
            let s = src.clone();
            c.on_key(&src, move |ctx| {
                if write_key(ctx, &s).is_none() {
                    ctx.db().insert_entry(&s, entry);
                }
            })
            .await;
            return c.reply().int(0);
        }
        if nx { c.reply().int(1) } else { c.reply().ok() }
    })
}

fn rename_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    rename_across(c, a, false)
}
fn renamenx_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    rename_across(c, a, true)
}

/// Parsed COPY options.
struct CopyOpts {
    dst_db: usize,
    replace: bool,
}

/// Parses `COPY source destination [DB destination-db] [REPLACE]`.
fn parse_copy(a: Args<'_>, db: usize, databases: usize) -> Result<CopyOpts, &'static str> {
    let mut o = CopyOpts {
        dst_db: db,
        replace: false,
    };
    let mut j = 3;
    while j < a.len() {
        let opt = a.get(j);
        if eq(opt, "replace") {
            o.replace = true;
        } else if eq(opt, "db") && j + 1 < a.len() {
            let id = parse_i64(a.get(j + 1)).ok_or(NOT_INT)?;
            if id < 0 || id as usize >= databases {
                return Err(DB_RANGE);
            }
            o.dst_db = id as usize;
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if o.dst_db == db && a.get(1) == a.get(2) {
        return Err(SAME_OBJECT);
    }
    Ok(o)
}

/// Stores a copy into `db` of the shard unless the key exists and `replace` is
/// off; true if stored.
fn copy_into(ctx: &mut Ctx<'_>, db: usize, key: &[u8], e: Entry, replace: bool) -> bool {
    let now = ctx.now;
    let d = ctx.shard.db(db);
    if replace {
        // A replaced destination is deleted first: the copy is a new key.
        d.delete_for_add(key, now);
    } else if d.get(key, now).is_some() {
        return false;
    }
    d.insert_entry(key, e);
    // The destination may be in another database than the client's: signal
    // it there (the dispatcher only knows the client's database).
    d.touch_watched(key);
    notify::emit(notify::GENERIC, "copy_to", db, key);
    true
}

/// `COPY source destination [DB destination-db] [REPLACE]` on one shard.
fn copy(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let o = match parse_copy(a, ctx.db, ctx.shard.databases()) {
        Ok(o) => o,
        Err(e) => return r.error(e),
    };
    let Some(e) = read_key(ctx, a.get(1), true).map(|e| e.duplicate()) else {
        return r.int(0);
    };
    let stored = copy_into(ctx, o.dst_db, a.get(2), e, o.replace);
    // Only the destination changed, and copy_into has signalled it.
    crate::metrics::signalled_own_keys();
    r.int(stored as i64);
}

/// COPY with source and destination on different shards.
fn copy_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let databases = c.core.config.borrow().databases;
        let o = match parse_copy(a.args(), c.db, databases) {
            Ok(o) => o,
            Err(e) => return c.error(e),
        };
        let src = a.get(1).to_vec();
        let dst = a.get(2).to_vec();
        let s = src.clone();
        let got = c
            .on_key(&src, move |ctx| {
                read_key(ctx, &s, true).map(|e| e.duplicate())
            })
            .await;
        let Some(entry) = got else {
            return c.reply().int(0);
        };
        let d = dst.clone();
        let stored = c
            .on_key(&dst, move |ctx| {
                copy_into(ctx, o.dst_db, &d, entry, o.replace)
            })
            .await;
        c.reply().int(stored as i64);
    })
}

/// `MOVE key db`: both databases of a key live on the key's shard.
fn move_cmd(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(id) = parse_i64(a.get(2)) else {
        return r.error(NOT_INT);
    };
    if id < i32::MIN as i64 || id > i32::MAX as i64 {
        return r.error("ERR value is out of range, value must between -2147483648 and 2147483647");
    }
    if id < 0 || id as usize >= ctx.shard.databases() {
        return r.error(DB_RANGE);
    }
    let dst = id as usize;
    if dst == ctx.db {
        return r.error(SAME_OBJECT);
    }
    let key = a.get(1);
    if write_key(ctx, key).is_none() {
        return r.int(0);
    }
    let now = ctx.now;
    if ctx.shard.db(dst).get(key, now).is_some() {
        return r.int(0);
    }
    if let Some(e) = ctx.db().take(key, now) {
        let d = ctx.shard.db(dst);
        d.insert_entry(key, e);
        // The source side is signalled by the dispatcher.
        d.touch_watched(key);
        notify::emit(notify::GENERIC, "move_from", ctx.db, key);
        notify::emit(notify::GENERIC, "move_to", dst, key);
    }
    r.int(1);
}

// ---------------------------------------------------------------------------
// Whole-keyspace commands
// ---------------------------------------------------------------------------

/// `DBSIZE`
fn dbsize(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n: usize = c
            .on_all_shards(|ctx| ctx.shard.db_opt(ctx.db).map(|d| d.len()).unwrap_or(0))
            .await
            .into_iter()
            .sum();
        c.reply().int(n as i64);
    })
}

/// Checks FLUSHDB/FLUSHALL's optional `ASYNC|SYNC` argument. Both flush at
/// once: freeing happens on the shard's own core either way.
fn flush_args_ok(a: &OwnedArgs) -> bool {
    match a.len() {
        1 => true,
        2 => eq(a.get(1), "async") || eq(a.get(1), "sync"),
        _ => false,
    }
}

/// Whether a flush frees its keys on the lazyfree thread: ASYNC says so,
/// SYNC says not, and without either `lazyfree-lazy-user-flush` decides.
fn flush_is_async(c: &Session, a: &OwnedArgs) -> bool {
    match a.len() {
        2 => eq(a.get(1), "async"),
        _ => c.core.config.borrow().get_bool("lazyfree-lazy-user-flush"),
    }
}

/// `FLUSHDB [ASYNC|SYNC]`
fn flushdb(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if !flush_args_ok(&a) {
            return c.error(SYNTAX);
        }
        let lazy = flush_is_async(c, &a);
        let (tx, cmd) = (
            c.txid,
            a.args().iter().map(|x| x.to_vec()).collect::<Vec<_>>(),
        );
        c.on_all_shards(move |ctx| {
            ctx.shard.flush_db_with(ctx.db, lazy);
            ctx.shard.journal.record_everywhere(ctx.db, tx, cmd.clone());
        })
        .await;
        crate::command::session::tracking::flushed(&c.core).await;
        c.reply().ok();
    })
}

/// `FLUSHALL [ASYNC|SYNC]`
fn flushall(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if !flush_args_ok(&a) {
            return c.error(SYNTAX);
        }
        let lazy = flush_is_async(c, &a);
        let (tx, cmd) = (
            c.txid,
            a.args().iter().map(|x| x.to_vec()).collect::<Vec<_>>(),
        );
        c.on_all_shards(move |ctx| {
            ctx.shard.flush_all_with(lazy);
            ctx.shard.journal.record_everywhere(ctx.db, tx, cmd.clone());
        })
        .await;
        crate::command::session::tracking::flushed(&c.core).await;
        c.reply().ok();
    })
}

/// Parses a DB index argument like Redis's `getIntFromObjectOrReply` with a
/// custom message.
fn parse_db_index(s: &[u8], msg: &str) -> Result<i64, String> {
    match parse_i64(s) {
        Some(v) if v >= i32::MIN as i64 && v <= i32::MAX as i64 => Ok(v),
        _ => Err(format!("ERR {msg}")),
    }
}

/// `SWAPDB index1 index2`
fn swapdb(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let ids = parse_db_index(a.get(1), "invalid first DB index")
            .and_then(|x| Ok((x, parse_db_index(a.get(2), "invalid second DB index")?)));
        let (x, y) = match ids {
            Ok(v) => v,
            Err(e) => return c.error(&e),
        };
        let databases = c.core.config.borrow().databases as i64;
        if x < 0 || x >= databases || y < 0 || y >= databases {
            return c.error(DB_RANGE);
        }
        let (x, y) = (x as usize, y as usize);
        let (tx, cmd) = (
            c.txid,
            a.args().iter().map(|x| x.to_vec()).collect::<Vec<_>>(),
        );
        c.on_all_shards(move |ctx| {
            ctx.shard.swap_dbs(x, y);
            ctx.shard.journal.record_everywhere(ctx.db, tx, cmd.clone());
        })
        .await;
        c.reply().ok();
    })
}

/// `KEYS pattern`
fn keys(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let pattern = a.get(1).to_vec();
        let parts = c
            .on_all_shards(move |ctx| {
                let now = ctx.now;
                ctx.shard
                    .db_opt(ctx.db)
                    .map(|d| d.keys_matching(&pattern, now))
                    .unwrap_or_default()
            })
            .await;
        let n = parts.iter().map(|p| p.len()).sum();
        let mut r = c.reply();
        r.array(n);
        for k in parts.iter().flatten() {
            r.bulk(k);
        }
    })
}

/// `RANDOMKEY`: a shard chosen with probability proportional to its key count,
/// then a random key of that shard.
fn randomkey(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        for _ in 0..16 {
            let counts = c
                .on_all_shards(|ctx| ctx.shard.db_opt(ctx.db).map(|d| d.len()).unwrap_or(0))
                .await;
            let total: usize = counts.iter().sum();
            if total == 0 {
                break;
            }
            let mut pick = c.core.shard.borrow_mut().rng.below(total);
            let mut shard = 0;
            for (i, &n) in counts.iter().enumerate() {
                if pick < n {
                    shard = i;
                    break;
                }
                pick -= n;
            }
            let key = c
                .on_shard(shard, |ctx| {
                    let now = ctx.now;
                    let (db, rng) = ctx.shard.db_and_rng(ctx.db);
                    db.random_key(now, rng)
                })
                .await;
            if let Some(k) = key {
                return c.reply().bulk(&k);
            }
        }
        c.reply().null();
    })
}

/// Parsed SCAN arguments.
struct ScanCall {
    cursor: u64,
    count: usize,
    pattern: Option<Vec<u8>>,
    typ: Option<Vec<u8>>,
}

/// Parses `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
fn parse_scan(a: &OwnedArgs) -> Result<ScanCall, &'static str> {
    let cursor = parse_cursor(a.get(1)).ok_or("ERR invalid cursor")?;
    let o = parse_scan_opts(a.args(), 2, true)?;
    Ok(ScanCall {
        cursor,
        count: o.count,
        pattern: o.pattern.map(|p| p.to_vec()),
        typ: o.typ.map(|t| t.to_vec()),
    })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
///
/// The cursor is the next global hash slot to visit. Each call sends one hop
/// per shard; each shard returns its next non-empty slots (whole) until it has
/// COUNT keys, and the coordinator keeps the slot-ordered prefix that every
/// shard has covered (see `storage::merge_scan`).
fn scan(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let o = match parse_scan(&a) {
            Ok(o) => o,
            Err(e) => return c.error(e),
        };
        let (next, keys) = if o.cursor >= SLOTS as u64 {
            (0, Vec::new())
        } else {
            let cursor = o.cursor as usize;
            let count = o.count;
            let pattern = o.pattern;
            let typ = o.typ;
            let parts: Vec<ScanPart> = c
                .on_all_shards(move |ctx| {
                    let now = ctx.now;
                    let id = ctx.shard.id;
                    let Some(db) = ctx.shard.db_opt(ctx.db) else {
                        return ScanPart {
                            slots: Vec::new(),
                            bound: SLOTS,
                        };
                    };
                    db.scan(id, cursor, count, now, |k, e| {
                        pattern
                            .as_deref()
                            .is_none_or(|p| crate::config::glob_match(p, k, false))
                            && typ.as_deref().is_none_or(|t| {
                                t.eq_ignore_ascii_case(e.value.type_name().as_bytes())
                            })
                    })
                })
                .await;
            merge_scan(parts, count)
        };
        let mut r = c.reply();
        r.array(2);
        r.bulk_int(next as i64);
        r.array(keys.len());
        for k in &keys {
            r.bulk(k);
        }
    })
}

// ---------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------

/// `MEMORY USAGE key [SAMPLES count]`: bytes used by the key, its entry and
/// its value (the value's heap estimate; nested values are counted in full, so
/// SAMPLES is validated and otherwise ignored).
fn memory_usage(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let mut i = 3;
    while i < a.len() {
        if eq(a.get(i), "samples") && i + 1 < a.len() {
            match parse_i64(a.get(i + 1)) {
                None => return r.error(NOT_INT),
                Some(n) if n < 0 => return r.error(SYNTAX),
                Some(_) => {}
            }
            i += 2;
        } else {
            return r.error(SYNTAX);
        }
    }
    let key = a.get(2);
    let now = ctx.now;
    // Not a read lookup: no keyspace statistics, no event, no access.
    match ctx.db().get_mut(key, now) {
        None => r.null(),
        Some(e) => {
            let bytes = e.value.heap_size() + std::mem::size_of::<Entry>() + key.len() + 16;
            r.int(bytes as i64)
        }
    }
}

static MEMORY_SUBS: &[CommandSpec] = &[
    CommandSpec {
        name: "memory|doctor",
        arity: 2,
        acl: &["slow"],
        summary: "Outputs memory problems report",
        since: "4.0.0",
        tips: &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        coord: Some(super::server::memory_doctor),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "memory|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: &["slow"],
        summary: "Show helpful text about the different subcommands",
        since: "4.0.0",
        coord: Some(super::server::memory_help),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "memory|malloc-stats",
        arity: 2,
        acl: &["slow"],
        summary: "Show allocator internal stats",
        since: "4.0.0",
        tips: &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        coord: Some(super::server::memory_malloc_stats),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "memory|purge",
        arity: 2,
        acl: &["slow"],
        summary: "Ask the allocator to release memory",
        since: "4.0.0",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        coord: Some(super::server::memory_purge),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "memory|stats",
        arity: 2,
        acl: &["slow"],
        summary: "Show memory usage details",
        since: "4.0.0",
        tips: &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        coord: Some(super::server::memory_stats),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "memory|usage",
        arity: -3,
        flags: READONLY,
        first_key: 2,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RO,
        acl: &["read", "slow"],
        summary: "Estimate the memory usage of a key",
        since: "4.0.0",
        complexity: "O(N) where N is the number of samples.",
        shard: Some(memory_usage),
        ..CommandSpec::DEFAULT
    },
];

/// `OBJECT ENCODING key`
fn object_encoding(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match counted_key(ctx, a.get(2), false) {
        Some(e) => r.bulk(e.value.encoding().as_bytes()),
        None => r.null(),
    }
}

/// True when Redis would store this value as a shared integer object.
fn is_shared_integer(v: &Value) -> bool {
    matches!(v, Value::Str(s) if crate::storage::value::parse_canonical_i64(s)
        .is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)))
}

/// `OBJECT REFCOUNT key`
fn object_refcount(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        // Redis stops sharing small integers when maxmemory is set with an LRU
        // or LFU policy, since shared objects cannot carry per-key access data.
        let sharing = {
            let cfg = c.core.config.borrow();
            let policy = cfg.get("maxmemory-policy").unwrap_or("");
            cfg.get_i64("maxmemory") == 0 || !(policy.ends_with("lru") || policy.ends_with("lfu"))
        };
        let key = a.get(2).to_vec();
        let k = key.clone();
        let shared = c
            .on_key(&key, move |ctx| {
                counted_key(ctx, &k, false).map(|e| is_shared_integer(&e.value))
            })
            .await;
        match shared {
            None => c.reply().null(),
            Some(true) if sharing => c.reply().int(SHARED_REFCOUNT),
            Some(_) => c.reply().int(1),
        }
    })
}

/// True when the configured maxmemory-policy is one of the LFU policies.
fn lfu_policy() -> bool {
    crate::storage::evict::settings().policy.lfu()
}

/// `OBJECT FREQ key`
fn object_freq(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let key = a.get(2).to_vec();
        let decay = crate::storage::evict::settings().lfu_decay_time;
        let k = key.clone();
        let freq = c
            .on_key(&key, move |ctx| {
                let now = ctx.now;
                counted_key(ctx, &k, false)?;
                ctx.db().meta(&k, now).map(|m| m.lfu_decayed(decay))
            })
            .await;
        match freq {
            None => c.reply().null(),
            Some(_) if !lfu_policy() => c.error(LFU_NOT_SELECTED),
            Some(f) => c.reply().int(f as i64),
        }
    })
}

/// `OBJECT IDLETIME key`
fn object_idletime(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let key = a.get(2).to_vec();
        let k = key.clone();
        let idle = c
            .on_key(&key, move |ctx| {
                let now = ctx.now;
                counted_key(ctx, &k, false)?;
                ctx.db().meta(&k, now).map(|m| m.idle_secs())
            })
            .await;
        match idle {
            None => c.reply().null(),
            Some(_) if lfu_policy() => c.error(LFU_SELECTED),
            Some(s) => c.reply().int(s as i64),
        }
    })
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// `OBJECT HELP`
fn object_help(_ctx: &mut Ctx<'_>, r: &mut Reply<'_>, _a: Args<'_>) {
    r.array(OBJECT_HELP.len());
    for line in OBJECT_HELP {
        r.simple(line);
    }
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

/// A single-key spec at index 1.
const fn one_key(
    name: &'static str,
    arity: i32,
    flags: u64,
    key_flags: u32,
    acl: &'static [&'static str],
    shard: super::ShardFn,
) -> CommandSpec {
    CommandSpec {
        acl,
        shard: Some(shard),
        ..CommandSpec::single_key(name, "generic", arity, flags, key_flags)
    }
}

const EXPIRE_KF: u32 = keyflags::RW | keyflags::UPDATE;
const EXPIRE_ACL: &[&str] = &["keyspace", "write", "fast"];
const TTL_ACL: &[&str] = &["keyspace", "read", "fast"];
const TTL_KF: u32 = keyflags::RO | keyflags::ACCESS;

/// `OBJECT` subcommands.
static OBJECT_SUBS: &[CommandSpec] = &[
    CommandSpec {
        name: "object|encoding",
        arity: 3,
        flags: READONLY,
        first_key: 2,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RO,
        acl: &["keyspace", "read", "slow"],
        summary: "Inspect the internal encoding of a Redis object",
        since: "2.2.3",
        tips: &["nondeterministic_output"],
        shard: Some(object_encoding),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "object|freq",
        arity: 3,
        flags: READONLY,
        first_key: 2,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RO,
        acl: &["keyspace", "read", "slow"],
        summary: "Get the logarithmic access frequency counter of a Redis object",
        since: "4.0.0",
        tips: &["nondeterministic_output"],
        coord: Some(object_freq),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "object|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: &["keyspace", "slow"],
        summary: "Show helpful text about the different subcommands",
        since: "6.2.0",
        shard: Some(object_help),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "object|idletime",
        arity: 3,
        flags: READONLY,
        first_key: 2,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RO,
        acl: &["keyspace", "read", "slow"],
        summary: "Get the time since a Redis object was last accessed",
        since: "2.2.3",
        tips: &["nondeterministic_output"],
        coord: Some(object_idletime),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "object|refcount",
        arity: 3,
        flags: READONLY,
        first_key: 2,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RO,
        acl: &["keyspace", "read", "slow"],
        summary: "Get the number of references to the value of the key",
        since: "2.2.3",
        tips: &["nondeterministic_output"],
        coord: Some(object_refcount),
        ..CommandSpec::DEFAULT
    },
];

/// Keyspace family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: WRITE,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::RM | keyflags::DELETE,
        acl: &["keyspace", "write", "slow"],
        summary: "Delete a key",
        complexity: "O(N) where N is the number of keys that will be removed.",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        shard: Some(del),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: WRITE | FAST,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::RM | keyflags::DELETE,
        acl: &["keyspace", "write", "fast"],
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        since: "4.0.0",
        complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        shard: Some(unlink),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: READONLY | FAST,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::RO,
        acl: &["keyspace", "read", "fast"],
        summary: "Determine if a key exists",
        since: "1.0.0",
        complexity: "O(N) where N is the number of keys to check.",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        shard: Some(exists),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: READONLY | FAST,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::RO,
        acl: &["keyspace", "read", "fast"],
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        since: "3.2.1",
        complexity: "O(N) where N is the number of keys that will be touched.",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        shard: Some(touch),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        summary: "Determine the type stored at key",
        since: "1.0.0",
        ..one_key(
            "type",
            2,
            READONLY | FAST,
            keyflags::RO,
            &["keyspace", "read", "fast"],
            type_cmd,
        )
    },
    CommandSpec {
        summary: "Set a key's time to live in seconds",
        since: "1.0.0",
        ..one_key("expire", -3, WRITE | FAST, EXPIRE_KF, EXPIRE_ACL, expire)
    },
    CommandSpec {
        summary: "Set a key's time to live in milliseconds",
        since: "2.6.0",
        ..one_key("pexpire", -3, WRITE | FAST, EXPIRE_KF, EXPIRE_ACL, pexpire)
    },
    CommandSpec {
        summary: "Set the expiration for a key as a UNIX timestamp",
        since: "1.2.0",
        ..one_key(
            "expireat",
            -3,
            WRITE | FAST,
            EXPIRE_KF,
            EXPIRE_ACL,
            expireat,
        )
    },
    CommandSpec {
        summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        since: "2.6.0",
        ..one_key(
            "pexpireat",
            -3,
            WRITE | FAST,
            EXPIRE_KF,
            EXPIRE_ACL,
            pexpireat,
        )
    },
    CommandSpec {
        summary: "Get the time to live for a key in seconds",
        since: "1.0.0",
        ..one_key("ttl", 2, READONLY | FAST, TTL_KF, TTL_ACL, ttl)
    },
    CommandSpec {
        summary: "Get the time to live for a key in milliseconds",
        since: "2.6.0",
        ..one_key("pttl", 2, READONLY | FAST, TTL_KF, TTL_ACL, pttl)
    },
    CommandSpec {
        summary: "Get the expiration Unix timestamp for a key",
        since: "7.0.0",
        ..one_key(
            "expiretime",
            2,
            READONLY | FAST,
            TTL_KF,
            TTL_ACL,
            expiretime,
        )
    },
    CommandSpec {
        summary: "Get the expiration Unix timestamp for a key in milliseconds",
        since: "7.0.0",
        ..one_key(
            "pexpiretime",
            2,
            READONLY | FAST,
            TTL_KF,
            TTL_ACL,
            pexpiretime,
        )
    },
    CommandSpec {
        summary: "Remove the expiration from a key",
        since: "2.2.0",
        ..one_key("persist", 2, WRITE | FAST, EXPIRE_KF, EXPIRE_ACL, persist)
    },
    CommandSpec {
        summary: "Move a key to another database",
        since: "1.0.0",
        ..one_key(
            "move",
            3,
            WRITE | FAST,
            keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
            &["keyspace", "write", "fast"],
            move_cmd,
        )
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: WRITE,
        first_key: 1,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
        acl: &["keyspace", "write", "slow"],
        summary: "Rename a key",
        since: "1.0.0",
        shard: Some(rename),
        coord: Some(rename_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: WRITE | FAST,
        first_key: 1,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RW | keyflags::ACCESS | keyflags::DELETE,
        acl: &["keyspace", "write", "fast"],
        summary: "Rename a key, only if the new key does not exist",
        since: "1.0.0",
        shard: Some(renamenx),
        coord: Some(renamenx_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: WRITE | DENYOOM,
        first_key: 1,
        last_key: 2,
        step: 1,
        key_flags: keyflags::RO | keyflags::ACCESS,
        acl: &["keyspace", "write", "slow"],
        summary: "Copy a key",
        since: "6.2.0",
        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        shard: Some(copy),
        coord: Some(copy_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: READONLY,
        acl: &["keyspace", "read", "slow", "dangerous"],
        summary: "Find all keys matching the given pattern",
        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        tips: &["request_policy:all_shards", "nondeterministic_output_order"],
        coord: Some(keys),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: READONLY,
        acl: &["keyspace", "read", "slow"],
        summary: "Incrementally iterate the keys space",
        since: "2.8.0",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        tips: &["nondeterministic_output", "request_policy:special"],
        coord: Some(scan),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: READONLY,
        acl: &["keyspace", "read", "slow"],
        summary: "Return a random key from the keyspace",
        tips: &["request_policy:all_shards", "nondeterministic_output"],
        coord: Some(randomkey),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: READONLY | FAST,
        acl: &["keyspace", "read", "fast"],
        group: "server",
        summary: "Return the number of keys in the selected database",
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        coord: Some(dbsize),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: WRITE,
        acl: &["keyspace", "write", "slow", "dangerous"],
        group: "server",
        summary: "Remove all keys from the current database",
        complexity: "O(N) where N is the number of keys in the selected database",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        coord: Some(flushdb),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: WRITE,
        acl: &["keyspace", "write", "slow", "dangerous"],
        group: "server",
        summary: "Remove all keys from all databases",
        complexity: "O(N) where N is the total number of keys in all databases",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        coord: Some(flushall),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: WRITE | FAST,
        acl: &["keyspace", "write", "fast", "dangerous"],
        group: "server",
        summary: "Swaps two Redis databases",
        since: "4.0.0",
        complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        coord: Some(swapdb),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "object",
        arity: -2,
        acl: &["slow"],
        summary: "A container for object introspection commands",
        since: "2.2.3",
        complexity: "Depends on subcommand.",
        subcommands: OBJECT_SUBS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "memory",
        arity: -2,
        acl: &["slow"],
        summary: "A container for memory diagnostics commands",
        since: "4.0.0",
        complexity: "Depends on subcommand.",
        subcommands: MEMORY_SUBS,
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
    fn expire_options() {
        let a = args(&["expire", "k", "10", "nx", "xx"]);
        assert!(
            parse_expire_flags(a.args())
                .unwrap_err()
                .starts_with("ERR NX and XX")
        );
        let a = args(&["expire", "k", "10", "gt", "lt"]);
        assert!(
            parse_expire_flags(a.args())
                .unwrap_err()
                .starts_with("ERR GT and LT")
        );
        let a = args(&["expire", "k", "10", "foo"]);
        assert_eq!(
            parse_expire_flags(a.args()).unwrap_err(),
            "ERR Unsupported option foo"
        );
        let a = args(&["expire", "k", "9223372036854775807"]);
        assert_eq!(
            expire_when(a.args(), 0, true, false, "expire").unwrap_err(),
            "ERR invalid expire time in 'expire' command"
        );
        let a = args(&["pexpire", "k", "9223372036854775807"]);
        assert!(expire_when(a.args(), 1, false, false, "pexpire").is_err());
        assert_eq!(
            expire_when(a.args(), 0, false, true, "pexpireat"),
            Ok(i64::MAX)
        );
    }

    #[test]
    fn scan_args() {
        assert!(parse_scan(&args(&["scan", "x"])).is_err());
        assert!(parse_scan(&args(&["scan", "0", "count", "0"])).is_err());
        assert!(parse_scan(&args(&["scan", "0", "count"])).is_err());
        let o = parse_scan(&args(&[
            "scan", "5", "MATCH", "*", "COUNT", "3", "type", "string",
        ]))
        .unwrap();
        assert_eq!((o.cursor, o.count), (5, 3));
        assert!(o.pattern.is_none());
        assert_eq!(o.typ.as_deref(), Some(&b"string"[..]));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
    }

    #[test]
    fn shared_integers() {
        assert!(is_shared_integer(&Value::string(b"9999")));
        assert!(!is_shared_integer(&Value::string(b"10000")));
        assert!(!is_shared_integer(&Value::string(b"-1")));
        assert!(!is_shared_integer(&Value::string(b"01")));
    }
}
