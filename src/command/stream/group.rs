//! Consumer groups: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, and XINFO.
//!
//! Like Redis, only XGROUP CREATE ... MKSTREAM (which creates the key)
//! invalidates WATCH among these; the others change group state only.

use super::{
    WrongType, c_text, now_ms, parse_end, parse_id, parse_start, parse_strict_id, read_stream,
    reply_entry, reply_id, subcommand_syntax, write_stream,
};
use crate::command::util::*;
use crate::command::{CommandSpec, Ctx, flags::*, keyflags};
use crate::protocol::{Args, Reply};
use crate::storage::Value;
use crate::storage::notify;
use crate::storage::stream::{Group, INVALID_ENTRIES_READ, Log, Stream, StreamId};

/// `NOGROUP` for a key or group that does not exist.
fn no_key_or_group(key: &[u8], group: &[u8]) -> String {
    crate::command::sanitize(&format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        c_text(key),
        c_text(group)
    ))
}

/// `NOGROUP` for a group missing from an existing key.
fn no_group(group: &[u8], key: &[u8]) -> String {
    crate::command::sanitize(&format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        c_text(group),
        c_text(key)
    ))
}

/// Replies with a HELP text (Redis's `addReplyHelp`).
fn reply_help(r: &mut Reply<'_>, a: Args<'_>, lines: &[&str]) {
    r.array(lines.len() + 3);
    r.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        c_text(a.get(0)).to_ascii_uppercase()
    ));
    for l in lines {
        r.simple(l);
    }
    r.simple("HELP");
    r.simple("    Prints this help.");
}

// ---------------------------------------------------------------------------
// XGROUP
// ---------------------------------------------------------------------------

/// Every XGROUP subcommand but HELP, in Redis's order of checks.
fn xgroup(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let opt = a.get(1);
    let argc = a.len();
    let create = eq(opt, "create");
    let setid = eq(opt, "setid");
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let key = a.get(2);
    let name = a.get(3);
    // Option parsing and key lookup (argc >= 4 for every subcommand here).
    let mut i = 5;
    while i < argc {
        if create && eq(a.get(i), "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && eq(a.get(i), "entriesread") && i + 1 < argc {
            match parse_i64(a.get(i + 1)) {
                None => return r.error(NOT_INT),
                Some(n) if n < 0 && n != INVALID_ENTRIES_READ => {
                    return r.error("ERR value for ENTRIESREAD must be positive or -1");
                }
                Some(n) => entries_read = n,
            }
            i += 2;
        } else {
            return r.error(&subcommand_syntax(a));
        }
    }
    let exists = match write_stream(ctx, key) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(s) => s.is_some(),
    };
    if !mkstream {
        if !exists {
            return r.error(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            );
        }
        let has_group =
            matches!(write_stream(ctx, key), Ok(Some(s)) if s.groups.contains_key(name));
        if !has_group && (setid || eq(opt, "createconsumer") || eq(opt, "delconsumer")) {
            return r.error(&no_group(name, key));
        }
    }
    // Group changes do not invalidate WATCH (only creating the key does).
    crate::metrics::signalled_own_keys();
    if create && (5..=8).contains(&argc) {
        let id = if a.get(4) == b"$" {
            match write_stream(ctx, key) {
                Ok(Some(s)) => s.log.last_id,
                _ => StreamId::MIN,
            }
        } else {
            match parse_strict_id(a.get(4)) {
                Ok(id) => id,
                Err(e) => return r.error(e),
            }
        };
        if !exists {
            ctx.db().set(key, Value::Stream(Box::default()));
            ctx.db().touch_watched(key);
        }
        let Ok(Some(s)) = write_stream(ctx, key) else {
            return r.error(WRONGTYPE);
        };
        if s.groups.contains_key(name) {
            crate::metrics::changes(0);
            return r.error("BUSYGROUP Consumer Group name already exists");
        }
        s.groups.insert(name.into(), Group::new(id, entries_read));
        r.ok();
        notify::emit(notify::STREAM, "xgroup-create", ctx.db, key);
    } else if setid && (argc == 5 || argc == 7) {
        let Ok(Some(s)) = write_stream(ctx, key) else {
            return r.error(WRONGTYPE);
        };
        let id = if a.get(4) == b"$" {
            s.log.last_id
        } else {
            match parse_id(a.get(4), 0) {
                Ok(id) => id,
                Err(e) => return r.error(e),
            }
        };
        if let Some(g) = s.groups.get_mut(name) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        r.ok();
        notify::emit(notify::STREAM, "xgroup-setid", ctx.db, key);
    } else if eq(opt, "destroy") && argc == 4 {
        let Ok(Some(s)) = write_stream(ctx, key) else {
            return r.error(WRONGTYPE);
        };
        if s.groups.remove(name).is_some() {
            // Clients blocked reading this group get NOGROUP.
            ctx.db().mark_ready(key);
            r.int(1);
            notify::emit(notify::STREAM, "xgroup-destroy", ctx.db, key);
        } else {
            crate::metrics::changes(0);
            r.int(0);
        }
    } else if eq(opt, "createconsumer") && argc == 5 {
        let now = now_ms();
        let created = match write_stream(ctx, key) {
            Ok(Some(s)) => s
                .groups
                .get_mut(name)
                .is_some_and(|g| g.create_consumer(a.get(4), now)),
            _ => false,
        };
        crate::metrics::changes(created as u64);
        if created {
            notify::emit(notify::STREAM, "xgroup-createconsumer", ctx.db, key);
        }
        r.int(created as i64);
    } else if eq(opt, "delconsumer") && argc == 5 {
        let pending = match write_stream(ctx, key) {
            Ok(Some(s)) => s
                .groups
                .get_mut(name)
                .and_then(|g| g.delete_consumer(a.get(4))),
            _ => None,
        };
        crate::metrics::changes(pending.is_some() as u64);
        if pending.is_some() {
            notify::emit(notify::STREAM, "xgroup-delconsumer", ctx.db, key);
        }
        r.int(pending.unwrap_or(0) as i64);
    } else {
        r.error(&subcommand_syntax(a));
    }
}

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

/// `XGROUP HELP`
fn xgroup_help(_ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    reply_help(r, a, XGROUP_HELP);
}

// ---------------------------------------------------------------------------
// XACK
// ---------------------------------------------------------------------------

/// `XACK key group id [id ...]`
pub(super) fn xack(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    // Like Redis, acknowledging does not invalidate WATCH.
    crate::metrics::signalled_own_keys();
    let s = match read_stream(ctx, a.get(1)) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.groups.get_mut(a.get(2))) else {
        crate::metrics::changes(0);
        return r.int(0);
    };
    let mut ids = Vec::with_capacity(a.len() - 3);
    for i in 3..a.len() {
        match parse_strict_id(a.get(i)) {
            Ok(id) => ids.push(id),
            Err(e) => return r.error(e),
        }
    }
    let n = ids.into_iter().filter(|&id| g.ack(id)).count();
    crate::metrics::changes(n as u64);
    r.int(n as i64);
}

// ---------------------------------------------------------------------------
// XPENDING
// ---------------------------------------------------------------------------

/// `XPENDING key group [[IDLE min-idle-time] start end count [consumer]]`
pub(super) fn xpending(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let argc = a.len();
    let summary = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return r.error(SYNTAX);
    }
    let mut minidle: i64 = 0;
    let mut range = (StreamId::MIN, StreamId::MAX);
    let mut count: i64 = 0;
    let mut consumer: Option<&[u8]> = None;
    if argc >= 6 {
        let mut startidx = 3;
        if eq(a.get(3), "idle") {
            match parse_i64(a.get(4)) {
                Some(n) => minidle = n,
                None => return r.error(NOT_INT),
            }
            if argc < 8 {
                return r.error(SYNTAX);
            }
            startidx += 2;
        }
        match parse_i64(a.get(startidx + 2)) {
            Some(n) => count = n.max(0),
            None => return r.error(NOT_INT),
        }
        range.0 = match parse_start(a.get(startidx)) {
            Ok(id) => id,
            Err(e) => return r.error(e),
        };
        range.1 = match parse_end(a.get(startidx + 1)) {
            Ok(id) => id,
            Err(e) => return r.error(e),
        };
        if startidx + 3 < argc {
            consumer = Some(a.get(startidx + 3));
        }
    }
    let (key, name) = (a.get(1), a.get(2));
    let s = match read_stream(ctx, key) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.groups.get(name)) else {
        return r.error(&no_key_or_group(key, name));
    };
    if summary {
        r.array(4);
        r.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(&first), Some(&last)) => {
                reply_id(r, first);
                reply_id(r, last);
                let owners: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                r.array(owners.len());
                for (name, c) in owners {
                    r.array(2);
                    r.bulk(name);
                    r.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                r.null();
                r.null();
                r.null_array();
            }
        }
        return;
    }
    let ids: Box<dyn Iterator<Item = StreamId> + '_> = match consumer {
        Some(c) => match g.consumers.get(c) {
            None => return r.array(0),
            Some(c) => Box::new(c.pel.range(range.0..).copied()),
        },
        None => Box::new(g.pel.range(range.0..).map(|(id, _)| *id)),
    };
    let now = now_ms();
    let mut out = Vec::new();
    for id in ids.take_while(|&id| id <= range.1) {
        if count == 0 {
            break;
        }
        let Some(nack) = g.pel.get(&id) else {
            continue;
        };
        if minidle != 0 && now.wrapping_sub(nack.delivery_time) < minidle {
            continue;
        }
        count -= 1;
        out.push((id, nack));
    }
    r.array(out.len());
    for (id, nack) in out {
        r.array(4);
        reply_id(r, id);
        r.bulk(&nack.consumer);
        r.int(now.wrapping_sub(nack.delivery_time).max(0));
        r.int(nack.delivery_count as i64);
    }
}

// ---------------------------------------------------------------------------
// XCLAIM / XAUTOCLAIM
// ---------------------------------------------------------------------------

/// The stream of `key` and its group `name`, or the error to reply.
fn stream_and_group<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
    name: &[u8],
) -> Result<&'a mut Stream, String> {
    match read_stream(ctx, key) {
        Err(WrongType) => Err(WRONGTYPE.to_string()),
        Ok(Some(s)) if s.groups.contains_key(name) => Ok(s),
        Ok(_) => Err(no_key_or_group(key, name)),
    }
}

/// `XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME
/// unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID id]`
pub(super) fn xclaim(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let dbi = ctx.db;
    crate::metrics::signalled_own_keys();
    let (key, name, consumer) = (a.get(1), a.get(2), a.get(3));
    let s = match stream_and_group(ctx, key, name) {
        Ok(s) => s,
        Err(e) => return r.error(&e),
    };
    let minidle = match parse_i64(a.get(4)) {
        Some(n) => n.max(0),
        None => return r.error("ERR Invalid min-idle-time argument for XCLAIM"),
    };
    let mut ids = Vec::new();
    let mut j = 5;
    while j < a.len() {
        match parse_strict_id(a.get(j)) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = now_ms();
    let mut retrycount: i64 = -1;
    let mut deliverytime: Option<i64> = None;
    let (mut force, mut justid) = (false, false);
    let mut last_id = StreamId::MIN;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let opt = a.get(j);
        if eq(opt, "force") {
            force = true;
        } else if eq(opt, "justid") {
            justid = true;
        } else if eq(opt, "idle") && more > 0 {
            j += 1;
            match parse_i64(a.get(j)) {
                Some(n) => deliverytime = Some(now.wrapping_sub(n)),
                None => return r.error("ERR Invalid IDLE option argument for XCLAIM"),
            }
        } else if eq(opt, "time") && more > 0 {
            j += 1;
            match parse_i64(a.get(j)) {
                Some(n) => deliverytime = Some(n),
                None => return r.error("ERR Invalid TIME option argument for XCLAIM"),
            }
        } else if eq(opt, "retrycount") && more > 0 {
            j += 1;
            match parse_i64(a.get(j)) {
                Some(n) => retrycount = n,
                None => return r.error("ERR Invalid RETRYCOUNT option argument for XCLAIM"),
            }
        } else if eq(opt, "lastid") && more > 0 {
            j += 1;
            match parse_strict_id(a.get(j)) {
                Ok(id) => last_id = id,
                Err(e) => return r.error(e),
            }
        } else {
            return r.error(&crate::command::sanitize(&format!(
                "ERR Unrecognized XCLAIM option '{}'",
                c_text(opt)
            )));
        }
        j += 1;
    }
    let deliverytime = match deliverytime {
        Some(t) if t < 0 || t > now => now,
        Some(t) => t,
        None => now,
    };
    let Stream { log, groups } = s;
    let Some(g) = groups.get_mut(name) else {
        return r.error(&no_key_or_group(key, name));
    };
    if last_id > g.last_id {
        g.last_id = last_id;
    }
    let mut claimed = Vec::new();
    let mut have_consumer = false;
    for id in ids {
        if log.get(id).is_none() {
            // Gone from the stream: drop it from the PEL too.
            g.ack(id);
            continue;
        }
        let forced = force && !g.pel.contains_key(&id);
        if forced {
            g.pel.insert(
                id,
                crate::storage::stream::Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: Box::default(),
                },
            );
        }
        let Some(nack) = g.pel.get(&id) else {
            continue;
        };
        if !forced && minidle != 0 && now.wrapping_sub(nack.delivery_time) < minidle {
            continue;
        }
        if !have_consumer {
            if g.consumer(consumer, now).1 {
                notify::emit(notify::STREAM, "xgroup-createconsumer", dbi, key);
            }
            have_consumer = true;
        }
        g.transfer(id, consumer);
        if let Some(nack) = g.pel.get_mut(&id) {
            nack.delivery_time = deliverytime;
            if retrycount >= 0 {
                nack.delivery_count = retrycount as u64;
            } else if !justid {
                nack.delivery_count += 1;
            }
        }
        claimed.push(id);
    }
    r.array(claimed.len());
    for id in claimed {
        match (justid, log.get(id)) {
            (false, Some(e)) => reply_entry(r, e),
            _ => reply_id(r, id),
        }
    }
}

/// False when an allocation of `bytes` would be refused outright: more than
/// the machine's physical memory, as Linux's default overcommit check does.
fn fits_in_memory(bytes: u64) -> bool {
    // SAFETY: sysconf only reads system parameters.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || size <= 0 {
        return true;
    }
    bytes <= (pages as u64).saturating_mul(size as u64)
}

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]`
pub(super) fn xautoclaim(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let dbi = ctx.db;
    crate::metrics::signalled_own_keys();
    const ATTEMPTS_FACTOR: i64 = 10;
    let (key, name, consumer) = (a.get(1), a.get(2), a.get(3));
    let minidle = match parse_i64(a.get(4)) {
        Some(n) => n.max(0),
        None => return r.error("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    };
    let start = match parse_start(a.get(5)) {
        Ok(id) => id,
        Err(e) => return r.error(e),
    };
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let opt = a.get(j);
        if eq(opt, "count") && more > 0 {
            // Redis caps COUNT so that its buffers cannot overflow.
            let max = i64::MAX / 16;
            match parse_i64(a.get(j + 1)) {
                Some(n) if (1..=max).contains(&n) => count = n,
                _ => return r.error("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if eq(opt, "justid") {
            justid = true;
        } else {
            return r.error(SYNTAX);
        }
        j += 1;
    }
    let s = match stream_and_group(ctx, key, name) {
        Ok(s) => s,
        Err(e) => return r.error(&e),
    };
    if !fits_in_memory(count as u64 * std::mem::size_of::<StreamId>() as u64) {
        // Redis allocates room for COUNT deleted ids up front.
        return r
            .error("ERR Insufficient memory, failed allocating transient memory, COUNT too high.");
    }
    let Stream { log, groups } = s;
    let Some(g) = groups.get_mut(name) else {
        return r.error(&no_key_or_group(key, name));
    };
    let now = now_ms();
    let mut attempts = count.saturating_mul(ATTEMPTS_FACTOR);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut have_consumer = false;
    // The next PEL position to look at; None once past the largest id.
    let mut cursor = Some(start);
    let mut exhausted = false;
    loop {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        let Some(from) = cursor else {
            exhausted = true;
            break;
        };
        let Some((&id, nack)) = g.pel.range(from..).next() else {
            exhausted = true;
            break;
        };
        cursor = id.incr();
        if log.get(id).is_none() {
            g.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        if minidle != 0 && now.wrapping_sub(nack.delivery_time) < minidle {
            continue;
        }
        if !have_consumer {
            if g.consumer(consumer, now).1 {
                notify::emit(notify::STREAM, "xgroup-createconsumer", dbi, key);
            }
            have_consumer = true;
        }
        g.transfer(id, consumer);
        if let Some(nack) = g.pel.get_mut(&id) {
            nack.delivery_time = now;
            if !justid {
                nack.delivery_count += 1;
            }
        }
        claimed.push(id);
        count -= 1;
    }
    let next = if exhausted {
        StreamId::MIN
    } else {
        cursor
            .and_then(|c| g.pel.range(c..).next().map(|(id, _)| *id))
            .unwrap_or(StreamId::MIN)
    };
    r.array(3);
    reply_id(r, next);
    r.array(claimed.len());
    for id in claimed {
        match (justid, log.get(id)) {
            (false, Some(e)) => reply_entry(r, e),
            _ => reply_id(r, id),
        }
    }
    r.array(deleted.len());
    for id in deleted {
        reply_id(r, id);
    }
}

// ---------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------

/// A group's lag, or null when it cannot be known.
fn reply_lag(r: &mut Reply<'_>, log: &Log, g: &Group) {
    match log.lag(g) {
        Some(n) => r.int(n),
        None => r.null(),
    }
}

fn reply_entries_read(r: &mut Reply<'_>, g: &Group) {
    if g.entries_read != INVALID_ENTRIES_READ {
        r.int(g.entries_read);
    } else {
        r.null();
    }
}

/// The stream of an XINFO subcommand, or the error to reply.
fn info_stream<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<&'a mut Stream, &'static str> {
    match read_stream(ctx, key) {
        Err(WrongType) => Err(WRONGTYPE),
        Ok(None) => Err(NO_SUCH_KEY),
        Ok(Some(s)) => Ok(s),
    }
}

/// `XINFO STREAM key [FULL [COUNT count]]`
fn xinfo_stream(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let s = match info_stream(ctx, a.get(2)) {
        Ok(s) => s,
        Err(e) => return r.error(e),
    };
    let opts = a.len() - 3;
    let mut full = false;
    let mut count: i64 = 10;
    if opts > 0 {
        if (opts != 1 && opts != 3) || !eq(a.get(3), "full") {
            return r.error(&subcommand_syntax(a));
        }
        full = true;
        if opts == 3 {
            if !eq(a.get(4), "count") {
                return r.error(&subcommand_syntax(a));
            }
            match parse_i64(a.get(5)) {
                Some(n) => count = if n < 0 { 10 } else { n },
                None => return r.error(NOT_INT),
            }
        }
    }
    let log = &s.log;
    r.map(if full { 9 } else { 10 });
    r.bulk(b"length");
    r.int(log.len() as i64);
    r.bulk(b"radix-tree-keys");
    r.int(log.node_count() as i64);
    r.bulk(b"radix-tree-nodes");
    r.int(log.rax_nodes() as i64);
    r.bulk(b"last-generated-id");
    reply_id(r, log.last_id);
    r.bulk(b"max-deleted-entry-id");
    reply_id(r, log.max_deleted_id);
    r.bulk(b"entries-added");
    r.int(log.entries_added as i64);
    r.bulk(b"recorded-first-entry-id");
    reply_id(r, log.first_id);
    if !full {
        r.bulk(b"groups");
        r.int(s.groups.len() as i64);
        r.bulk(b"first-entry");
        match log.range(StreamId::MIN, StreamId::MAX, false).next() {
            Some(e) => reply_entry(r, e),
            None => r.null(),
        }
        r.bulk(b"last-entry");
        match log.range(StreamId::MIN, StreamId::MAX, true).next() {
            Some(e) => reply_entry(r, e),
            None => r.null(),
        }
        return;
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count).unwrap_or(usize::MAX)
    };
    r.bulk(b"entries");
    super::reply_entries(
        r,
        log.range(StreamId::MIN, StreamId::MAX, false).take(limit),
    );
    r.bulk(b"groups");
    r.array(s.groups.len());
    for (name, g) in &s.groups {
        r.map(7);
        r.bulk(b"name");
        r.bulk(name);
        r.bulk(b"last-delivered-id");
        reply_id(r, g.last_id);
        r.bulk(b"entries-read");
        reply_entries_read(r, g);
        r.bulk(b"lag");
        reply_lag(r, log, g);
        r.bulk(b"pel-count");
        r.int(g.pel.len() as i64);
        r.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        r.array(pel.len());
        for (id, nack) in pel {
            r.array(4);
            reply_id(r, *id);
            r.bulk(&nack.consumer);
            r.int(nack.delivery_time);
            r.int(nack.delivery_count as i64);
        }
        r.bulk(b"consumers");
        r.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            r.map(4);
            r.bulk(b"name");
            r.bulk(cname);
            r.bulk(b"seen-time");
            r.int(c.seen_time);
            r.bulk(b"pel-count");
            r.int(c.pel.len() as i64);
            r.bulk(b"pending");
            let pel: Vec<_> = c.pel.iter().take(limit).collect();
            r.array(pel.len());
            for id in pel {
                r.array(3);
                reply_id(r, *id);
                let (time, n) = g
                    .pel
                    .get(id)
                    .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                r.int(time);
                r.int(n as i64);
            }
        }
    }
}

/// `XINFO GROUPS key`
fn xinfo_groups(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let s = match info_stream(ctx, a.get(2)) {
        Ok(s) => s,
        Err(e) => return r.error(e),
    };
    r.array(s.groups.len());
    for (name, g) in &s.groups {
        r.map(6);
        r.bulk(b"name");
        r.bulk(name);
        r.bulk(b"consumers");
        r.int(g.consumers.len() as i64);
        r.bulk(b"pending");
        r.int(g.pel.len() as i64);
        r.bulk(b"last-delivered-id");
        reply_id(r, g.last_id);
        r.bulk(b"entries-read");
        reply_entries_read(r, g);
        r.bulk(b"lag");
        reply_lag(r, &s.log, g);
    }
}

/// `XINFO CONSUMERS key group`
fn xinfo_consumers(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let (key, name) = (a.get(2), a.get(3));
    let s = match info_stream(ctx, key) {
        Ok(s) => s,
        Err(e) => return r.error(e),
    };
    let Some(g) = s.groups.get(name) else {
        return r.error(&no_group(name, key));
    };
    let now = now_ms();
    r.array(g.consumers.len());
    for (cname, c) in &g.consumers {
        r.map(3);
        r.bulk(b"name");
        r.bulk(cname);
        r.bulk(b"pending");
        r.int(c.pel.len() as i64);
        r.bulk(b"idle");
        r.int(now.wrapping_sub(c.seen_time).max(0));
    }
}

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// `XINFO HELP`
fn xinfo_help(_ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    reply_help(r, a, XINFO_HELP);
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

const W_SLOW: &[&str] = &["write", "stream", "slow"];
const R_SLOW: &[&str] = &["read", "stream", "slow"];

/// A subcommand whose key is argument 2.
const fn sub(
    name: &'static str,
    arity: i32,
    flags: u64,
    key_flags: u32,
    acl: &'static [&'static str],
    shard: crate::command::ShardFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: 2,
        last_key: 2,
        step: 1,
        key_flags,
        acl,
        group: "stream",
        since: "5.0.0",
        shard: Some(shard),
        ..CommandSpec::DEFAULT
    }
}

/// A HELP subcommand.
const fn help(name: &'static str, shard: crate::command::ShardFn) -> CommandSpec {
    CommandSpec {
        name,
        arity: 2,
        flags: LOADING | STALE,
        acl: &["stream", "slow"],
        group: "stream",
        summary: "Show helpful text about the different subcommands",
        since: "5.0.0",
        shard: Some(shard),
        ..CommandSpec::DEFAULT
    }
}

/// `XGROUP` subcommands.
pub(super) static XGROUP_SUBS: &[CommandSpec] = &[
    CommandSpec {
        summary: "Create a consumer group.",
        ..sub(
            "xgroup|create",
            -5,
            WRITE | DENYOOM,
            keyflags::RW | keyflags::INSERT,
            W_SLOW,
            xgroup,
        )
    },
    CommandSpec {
        summary: "Set a consumer group to an arbitrary last delivered ID value.",
        ..sub(
            "xgroup|setid",
            -5,
            WRITE,
            keyflags::RW | keyflags::UPDATE,
            W_SLOW,
            xgroup,
        )
    },
    CommandSpec {
        summary: "Destroy a consumer group.",
        ..sub(
            "xgroup|destroy",
            4,
            WRITE,
            keyflags::RW | keyflags::DELETE,
            W_SLOW,
            xgroup,
        )
    },
    CommandSpec {
        summary: "Create a consumer in a consumer group.",
        since: "6.2.0",
        ..sub(
            "xgroup|createconsumer",
            5,
            WRITE | DENYOOM,
            keyflags::RW | keyflags::INSERT,
            W_SLOW,
            xgroup,
        )
    },
    CommandSpec {
        summary: "Delete a consumer from a consumer group.",
        ..sub(
            "xgroup|delconsumer",
            5,
            WRITE,
            keyflags::RW | keyflags::DELETE,
            W_SLOW,
            xgroup,
        )
    },
    help("xgroup|help", xgroup_help),
];

/// `XINFO` subcommands.
pub(super) static XINFO_SUBS: &[CommandSpec] = &[
    CommandSpec {
        summary: "Get information about a stream",
        ..sub(
            "xinfo|stream",
            -3,
            READONLY,
            keyflags::RO | keyflags::ACCESS,
            R_SLOW,
            xinfo_stream,
        )
    },
    CommandSpec {
        summary: "List the consumer groups of a stream",
        ..sub(
            "xinfo|groups",
            3,
            READONLY,
            keyflags::RO | keyflags::ACCESS,
            R_SLOW,
            xinfo_groups,
        )
    },
    CommandSpec {
        summary: "List the consumers in a consumer group",
        tips: &["nondeterministic_output"],
        ..sub(
            "xinfo|consumers",
            4,
            READONLY,
            keyflags::RO | keyflags::ACCESS,
            R_SLOW,
            xinfo_consumers,
        )
    },
    help("xinfo|help", xinfo_help),
];
