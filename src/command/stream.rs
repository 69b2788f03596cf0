//! The stream commands.
//!
//! ```text
//!  XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID  (this file)  ─┐
//!  XGROUP * XACK XPENDING XCLAIM XAUTOCLAIM XINFO (group.rs) ──┼─► ShardFn on the key's shard
//!  XREAD XREADGROUP (read.rs): keys on one shard ─► one hop; spread over
//!    shards ─► check every key, then serve every key; nothing to serve and
//!    BLOCK ─► session::blocking (woken by XADD, and for XREADGROUP also by the
//!    key's deletion or replacement and by XGROUP DESTROY)
//! ```
//!
//! Parsing follows Redis's order of checks so that the same bad command gets
//! the same error; ids are parsed as Redis's `streamGenericParseIDOrReply`
//! does (`strtoull` leniency included).

mod group;
mod read;

use super::string::{lookup_read, lookup_write};
use super::util::*;
use super::{CommandSpec, Ctx, flags::*, keyflags};
use crate::protocol::{Args, Reply};
use crate::storage::Value;
use crate::storage::notify;
use crate::storage::stream::{self, AddError, EntryRef, IdRequest, Stream, StreamId, Trim, TrimBy};

/// Any malformed id.
pub(crate) const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const TOP_ITEM: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const BAD_START: &str = "ERR invalid start ID for the interval";
const BAD_END: &str = "ERR invalid end ID for the interval";

// ---------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------

/// C's `isspace`.
fn c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Redis's `string2ull`: a canonical integer that is not negative, or
/// whatever `strtoull` accepts in full (leading blanks, a sign, leading
/// zeros; a minus sign wraps).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let start = s.iter().position(|&c| !c_space(c)).unwrap_or(s.len());
    parse_wrapping_u64(&s[start..])
}

/// A parsed id and whether its sequence was given (false for `ms-*`).
pub(crate) struct ParsedId {
    pub id: StreamId,
    pub seq_given: bool,
}

/// Parses an id the way Redis does: `-` and `+` (refused when `strict`),
/// `ms` (sequence `missing_seq`), `ms-seq`, and `ms-*` when `ms_star`.
pub(crate) fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    ms_star: bool,
) -> Option<ParsedId> {
    if arg.len() > 127 {
        return None;
    }
    let s = super::c_str(arg);
    if s == b"-" || s == b"+" {
        if strict {
            return None;
        }
        let id = if s == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        };
        return Some(ParsedId {
            id,
            seq_given: true,
        });
    }
    let (ms, seq) = match s.iter().position(|&c| c == b'-') {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    };
    let ms = string2ull(ms)?;
    let (seq, seq_given) = match seq {
        Some(b"*") if ms_star => (0, false),
        Some(seq) => (string2ull(seq)?, true),
        None => (missing_seq, true),
    };
    Some(ParsedId {
        id: StreamId::new(ms, seq),
        seq_given,
    })
}

/// An id where `-` and `+` are accepted.
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, &'static str> {
    parse_id_full(arg, missing_seq, false, false)
        .map(|p| p.id)
        .ok_or(INVALID_ID)
}

/// An id where `-` and `+` are refused.
pub(crate) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, &'static str> {
    parse_id_full(arg, 0, true, false)
        .map(|p| p.id)
        .ok_or(INVALID_ID)
}

/// One end of a range: `(` makes it exclusive (and strict).
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), &'static str> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], missing_seq, true, false).ok_or(INVALID_ID)?;
        Ok((id.id, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

/// The inclusive start of a range from its argument.
pub(crate) fn parse_start(arg: &[u8]) -> Result<StreamId, &'static str> {
    match parse_interval(arg, 0)? {
        (id, true) => id.incr().ok_or(BAD_START),
        (id, false) => Ok(id),
    }
}

/// The inclusive end of a range from its argument.
pub(crate) fn parse_end(arg: &[u8]) -> Result<StreamId, &'static str> {
    match parse_interval(arg, u64::MAX)? {
        (id, true) => id.decr().ok_or(BAD_END),
        (id, false) => Ok(id),
    }
}

// ---------------------------------------------------------------------------
// Replies and lookups
// ---------------------------------------------------------------------------

/// An id as a bulk string.
pub(crate) fn reply_id(r: &mut Reply<'_>, id: StreamId) {
    r.bulk(&id.text());
}

/// `[id, [field, value, ...]]`.
pub(crate) fn reply_entry(r: &mut Reply<'_>, e: EntryRef<'_>) {
    r.array(2);
    reply_id(r, e.id());
    r.array(e.field_count() * 2);
    for (f, v) in e.pairs() {
        r.bulk(f);
        r.bulk(v);
    }
}

/// Entries as an array, the way XRANGE replies.
pub(crate) fn reply_entries<'a>(r: &mut Reply<'_>, entries: impl Iterator<Item = EntryRef<'a>>) {
    let v: Vec<EntryRef<'a>> = entries.collect();
    r.array(v.len());
    for e in v {
        reply_entry(r, e);
    }
}

/// Marker for a key holding another type.
pub(crate) struct WrongType;

/// Reads a stream key (with keyspace statistics).
pub(crate) fn read_stream<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
) -> Result<Option<&'a mut Stream>, WrongType> {
    as_stream(lookup_read(ctx, key))
}

/// Looks a stream key up for writing.
pub(crate) fn write_stream<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
) -> Result<Option<&'a mut Stream>, WrongType> {
    as_stream(lookup_write(ctx, key))
}

/// The stream a lookup found, if it found one.
fn as_stream(e: Option<&mut crate::storage::db::Entry>) -> Result<Option<&mut Stream>, WrongType> {
    match e {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(WrongType),
        },
    }
}

/// Redis's reply to bad options of a container subcommand.
pub(crate) fn subcommand_syntax(a: Args<'_>) -> String {
    let sub = super::c_str(a.get(1));
    super::sanitize(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        String::from_utf8_lossy(super::c_str(a.get(0))).to_ascii_uppercase()
    ))
}

/// Text of an argument as C's `%s` prints it, for error messages.
pub(crate) fn c_text(b: &[u8]) -> String {
    String::from_utf8_lossy(super::c_str(b)).into_owned()
}

/// Unix ms now (stream times follow the wall clock, as Redis's `mstime()`).
pub(crate) fn now_ms() -> i64 {
    crate::now_ms() as i64
}

// ---------------------------------------------------------------------------
// XADD / XTRIM options
// ---------------------------------------------------------------------------

/// Parsed `[NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] id`.
struct AddTrim {
    trim: Option<Trim>,
    no_mkstream: bool,
    id: IdRequest,
    /// The id was given (not `*`) with its sequence (not `ms-*`).
    explicit: Option<StreamId>,
    /// Index of the id argument (XADD).
    idpos: usize,
}

/// Parses the options of XADD (`xadd`) or XTRIM, with Redis's errors.
fn parse_add_trim(a: Args<'_>, xadd: bool) -> Result<AddTrim, &'static str> {
    const BOTH: &str =
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    let mut by: Option<TrimBy> = None;
    let mut approx = false;
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut out = AddTrim {
        trim: None,
        no_mkstream: false,
        id: IdRequest::Auto,
        explicit: None,
        idpos: 0,
    };
    let argc = a.len();
    let mut i = 2;
    while i < argc {
        let more = argc - 1 - i;
        let opt = a.get(i);
        if xadd && opt == b"*" {
            break;
        } else if (eq(opt, "maxlen") || eq(opt, "minid")) && more > 0 {
            if by.is_some() {
                return Err(BOTH);
            }
            approx = false;
            let next = a.get(i + 1);
            if more >= 2 && next == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            by = Some(if eq(opt, "maxlen") {
                let n = parse_i64(a.get(i + 1)).ok_or(NOT_INT)?;
                if n < 0 {
                    return Err("ERR The MAXLEN argument must be >= 0.");
                }
                TrimBy::MaxLen(n as u64)
            } else {
                TrimBy::MinId(parse_strict_id(a.get(i + 1))?)
            });
            i += 1;
        } else if eq(opt, "limit") && more > 0 {
            limit = parse_i64(a.get(i + 1)).ok_or(NOT_INT)?;
            if limit < 0 {
                return Err("ERR The LIMIT argument must be >= 0.");
            }
            limit_given = true;
            i += 1;
        } else if xadd && eq(opt, "nomkstream") {
            out.no_mkstream = true;
        } else if xadd {
            let p = parse_id_full(opt, 0, true, true).ok_or(INVALID_ID)?;
            out.id = if p.seq_given {
                out.explicit = Some(p.id);
                IdRequest::Exact(p.id)
            } else {
                IdRequest::Ms(p.id.ms)
            };
            break;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    out.idpos = i;
    if limit != 0 && by.is_none() {
        return Err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        );
    }
    if !xadd && by.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy");
    }
    if limit_given {
        if !approx {
            return Err("ERR syntax error, LIMIT cannot be used without the special ~ option");
        }
    } else if approx {
        // Without LIMIT an approximate trim does at most 100 nodes' worth.
        limit = stream::limits().max_entries.saturating_mul(100);
        if limit <= 0 {
            limit = 10_000;
        }
        limit = limit.min(1_000_000);
    } else {
        limit = 0;
    }
    out.trim = by.map(|by| Trim { by, approx, limit });
    Ok(out)
}

// ---------------------------------------------------------------------------
// XADD
// ---------------------------------------------------------------------------

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]`
fn xadd(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let dbi = ctx.db;
    let p = match parse_add_trim(a, true) {
        Ok(p) => p,
        Err(e) => return r.error(e),
    };
    let field_pos = p.idpos + 1;
    let nfields = a.len() as i64 - field_pos as i64;
    if nfields < 2 || nfields % 2 == 1 {
        return r.error("ERR wrong number of arguments for 'xadd' command");
    }
    if p.explicit == Some(StreamId::MIN) {
        return r.error("ERR The ID specified in XADD must be greater than 0-0");
    }
    let key = a.get(1);
    match write_stream(ctx, key) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(Some(_)) => {}
        Ok(None) => {
            if p.no_mkstream {
                crate::metrics::changes(0);
                return r.null();
            }
            ctx.db().set(key, Value::Stream(Box::default()));
        }
    }
    let Ok(Some(s)) = write_stream(ctx, key) else {
        return r.error(WRONGTYPE);
    };
    if s.log.last_id == StreamId::MAX {
        return r
            .error("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let fields: Vec<&[u8]> = (field_pos..a.len()).map(|i| a.get(i)).collect();
    match s
        .log
        .append(p.id, &fields, crate::now_ms(), stream::limits())
    {
        Ok(id) => {
            reply_id(r, id);
            notify::emit(notify::STREAM, "xadd", dbi, key);
            if crate::shard::journal::active() {
                // Recorded with the ID it got (`*` and `ms-*` are the clock's).
                let mut cmd: Vec<Vec<u8>> = a.iter().map(|x| x.to_vec()).collect();
                cmd[p.idpos] = id.text();
                crate::shard::journal::record_instead(vec![cmd]);
            }
        }
        Err(AddError::IdTooSmall) => return r.error(TOP_ITEM),
        Err(AddError::TooLarge) => return r.error("ERR Elements are too large to be stored"),
    }
    if let Some(t) = p.trim
        && s.log.trim(t) > 0
    {
        notify::emit(notify::STREAM, "xtrim", dbi, key);
    }
    // Clients blocked on the stream may now be served.
    ctx.db().mark_ready(key);
}

// ---------------------------------------------------------------------------
// XLEN / XRANGE / XREVRANGE
// ---------------------------------------------------------------------------

/// `XLEN key`
fn xlen(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match read_stream(ctx, a.get(1)) {
        Err(WrongType) => r.error(WRONGTYPE),
        Ok(None) => r.int(0),
        Ok(Some(s)) => r.int(s.len() as i64),
    }
}

fn xrange_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, rev: bool) {
    let (start_arg, end_arg) = if rev {
        (a.get(3), a.get(2))
    } else {
        (a.get(2), a.get(3))
    };
    let start = match parse_start(start_arg) {
        Ok(id) => id,
        Err(e) => return r.error(e),
    };
    let end = match parse_end(end_arg) {
        Ok(id) => id,
        Err(e) => return r.error(e),
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < a.len() {
        if eq(a.get(j), "count") && j + 1 < a.len() {
            match parse_i64(a.get(j + 1)) {
                Some(n) => count = n.max(0),
                None => return r.error(NOT_INT),
            }
            j += 2;
        } else {
            return r.error(SYNTAX);
        }
    }
    let s = match read_stream(ctx, a.get(1)) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(None) => return r.array(0),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return r.null_array();
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        usize::try_from(count).unwrap_or(usize::MAX)
    };
    reply_entries(r, s.log.range(start, end, rev).take(limit));
}

/// `XRANGE key start end [COUNT count]`
fn xrange(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    xrange_generic(ctx, r, a, false);
}

/// `XREVRANGE key end start [COUNT count]`
fn xrevrange(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    xrange_generic(ctx, r, a, true);
}

// ---------------------------------------------------------------------------
// XDEL / XTRIM / XSETID
// ---------------------------------------------------------------------------

/// `XDEL key id [id ...]`
fn xdel(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let s = match write_stream(ctx, a.get(1)) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(None) => {
            crate::metrics::changes(0);
            return r.int(0);
        }
        Ok(Some(s)) => s,
    };
    let mut ids = Vec::with_capacity(a.len() - 2);
    for i in 2..a.len() {
        match parse_strict_id(a.get(i)) {
            Ok(id) => ids.push(id),
            Err(e) => return r.error(e),
        }
    }
    let n = s.log.delete(&ids);
    crate::metrics::changes(n);
    if n > 0 {
        notify::emit(notify::STREAM, "xdel", ctx.db, a.get(1));
    }
    r.int(n as i64);
}

/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]`
fn xtrim(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let p = match parse_add_trim(a, false) {
        Ok(p) => p,
        Err(e) => return r.error(e),
    };
    let s = match write_stream(ctx, a.get(1)) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(None) => {
            crate::metrics::changes(0);
            return r.int(0);
        }
        Ok(Some(s)) => s,
    };
    let n = p.trim.map_or(0, |t| s.log.trim(t));
    crate::metrics::changes(n);
    if n > 0 {
        notify::emit(notify::STREAM, "xtrim", ctx.db, a.get(1));
    }
    r.int(n as i64);
}

/// `XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]`
fn xsetid(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let id = match parse_strict_id(a.get(2)) {
        Ok(id) => id,
        Err(e) => return r.error(e),
    };
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = a.get(i);
        if eq(opt, "entriesadded") && more > 0 {
            match parse_i64(a.get(i + 1)) {
                None => return r.error(NOT_INT),
                Some(n) if n < 0 => return r.error("ERR entries_added must be positive"),
                Some(n) => entries_added = n,
            }
            i += 2;
        } else if eq(opt, "maxdeletedid") && more > 0 {
            match parse_strict_id(a.get(i + 1)) {
                Err(e) => return r.error(e),
                Ok(m) if id < m => {
                    return r.error(
                        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                    );
                }
                Ok(m) => max_xdel = m,
            }
            i += 2;
        } else {
            return r.error(SYNTAX);
        }
    }
    let s = match write_stream(ctx, a.get(1)) {
        Err(WrongType) => return r.error(WRONGTYPE),
        Ok(None) => return r.error(NO_SUCH_KEY),
        Ok(Some(s)) => s,
    };
    if !s.is_empty() {
        if s.log.last_valid_id().is_some_and(|top| id < top) {
            return r.error(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            return r.error(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    s.log.last_id = id;
    if entries_added != -1 {
        s.log.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.log.max_deleted_id = max_xdel;
    }
    // Like Redis, XSETID does not invalidate WATCH.
    crate::metrics::signalled_own_keys();
    notify::emit(notify::STREAM, "xsetid", ctx.db, a.get(1));
    r.ok();
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

const W_FAST: &[&str] = &["write", "stream", "fast"];
const W_SLOW: &[&str] = &["write", "stream", "slow"];
const R_FAST: &[&str] = &["read", "stream", "fast"];
const R_SLOW: &[&str] = &["read", "stream", "slow"];

const fn one(
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
        since: "5.0.0",
        ..CommandSpec::single_key(name, "stream", arity, flags, key_flags)
    }
}

/// The stream command specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        summary: "Appends a new entry to a stream",
        key_notes: "UPDATE instead of INSERT because of the optional trimming feature",
        tips: &["nondeterministic_output"],
        ..one(
            "xadd",
            -5,
            WRITE | DENYOOM | FAST,
            keyflags::RW | keyflags::UPDATE,
            W_FAST,
            xadd,
        )
    },
    CommandSpec {
        summary: "Return the number of entries in a stream",
        ..one("xlen", 2, READONLY | FAST, keyflags::RO, R_FAST, xlen)
    },
    CommandSpec {
        summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        ..one(
            "xrange",
            -4,
            READONLY,
            keyflags::RO | keyflags::ACCESS,
            R_SLOW,
            xrange,
        )
    },
    CommandSpec {
        summary: "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        ..one(
            "xrevrange",
            -4,
            READONLY,
            keyflags::RO | keyflags::ACCESS,
            R_SLOW,
            xrevrange,
        )
    },
    CommandSpec {
        summary: "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
        ..one(
            "xdel",
            -3,
            WRITE | FAST,
            keyflags::RW | keyflags::DELETE,
            W_FAST,
            xdel,
        )
    },
    CommandSpec {
        summary: "Trims the stream to (approximately if '~' is passed) a certain size",
        tips: &["nondeterministic_output"],
        ..one(
            "xtrim",
            -4,
            WRITE,
            keyflags::RW | keyflags::DELETE,
            W_SLOW,
            xtrim,
        )
    },
    CommandSpec {
        summary: "An internal command for replicating stream values",
        ..one(
            "xsetid",
            -3,
            WRITE | DENYOOM | FAST,
            keyflags::RW | keyflags::UPDATE,
            W_FAST,
            xsetid,
        )
    },
    CommandSpec {
        summary: "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        ..one(
            "xack",
            -4,
            WRITE | FAST,
            keyflags::RW | keyflags::UPDATE,
            W_FAST,
            group::xack,
        )
    },
    CommandSpec {
        summary: "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        tips: &["nondeterministic_output"],
        ..one(
            "xpending",
            -3,
            READONLY,
            keyflags::RO | keyflags::ACCESS,
            R_SLOW,
            group::xpending,
        )
    },
    CommandSpec {
        summary: "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        tips: &["nondeterministic_output"],
        ..one(
            "xclaim",
            -6,
            WRITE | FAST,
            keyflags::RW | keyflags::UPDATE,
            W_FAST,
            group::xclaim,
        )
    },
    CommandSpec {
        summary: "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        since: "6.2.0",
        tips: &["nondeterministic_output"],
        ..one(
            "xautoclaim",
            -6,
            WRITE | FAST,
            keyflags::RW | keyflags::DELETE,
            W_FAST,
            group::xautoclaim,
        )
    },
    CommandSpec {
        name: "xgroup",
        arity: -2,
        acl: &["slow"],
        group: "stream",
        summary: "A container for consumer groups commands",
        since: "5.0.0",
        complexity: "Depends on subcommand.",
        subcommands: group::XGROUP_SUBS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "xinfo",
        arity: -2,
        acl: &["slow"],
        group: "stream",
        summary: "A container for stream introspection commands",
        since: "5.0.0",
        complexity: "Depends on subcommand.",
        subcommands: group::XINFO_SUBS,
        ..CommandSpec::DEFAULT
    },
    read::XREAD_SPEC,
    read::XREADGROUP_SPEC,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Option<(u64, u64, bool)> {
        parse_id_full(s.as_bytes(), 7, true, true).map(|p| (p.id.ms, p.id.seq, p.seq_given))
    }

    #[test]
    fn ids_parse_like_redis() {
        assert_eq!(id("1-2"), Some((1, 2, true)));
        assert_eq!(id("5"), Some((5, 7, true)));
        assert_eq!(id("5-*"), Some((5, 0, false)));
        assert_eq!(id("007-1"), Some((7, 1, true)));
        assert_eq!(id(" 7-+1"), Some((7, 1, true)));
        assert_eq!(id("1--5"), None);
        assert_eq!(id("1--05"), Some((1, 5u64.wrapping_neg(), true)));
        assert_eq!(id("-"), None);
        assert_eq!(id("-1"), None);
        assert_eq!(id("1-"), None);
        assert_eq!(id("1-2-3"), None);
        assert_eq!(id("18446744073709551616"), None);
        assert_eq!(
            id("18446744073709551615-18446744073709551615"),
            Some((u64::MAX, u64::MAX, true))
        );
        assert_eq!(id("3\0junk"), Some((3, 7, true)));
        assert_eq!(parse_id(b"+", 0), Ok(StreamId::MAX));
        assert_eq!(
            parse_start(b"(18446744073709551615-18446744073709551615"),
            Err(BAD_START)
        );
        assert_eq!(parse_end(b"(0-0"), Err(BAD_END));
        assert_eq!(parse_start(b"(1-0"), Ok(StreamId::new(1, 1)));
        assert_eq!(parse_start(b"(-"), Err(INVALID_ID));
        assert_eq!(parse_start(b"("), Err(INVALID_ID));
    }
}
