//! XREAD and XREADGROUP, blocking included.
//!
//! ```text
//!  parse options ─► keys on one shard: check + serve there, in one hop
//!                   keys on several: check all (first error in key order
//!                   wins), then serve all; replies assembled in key order
//!  nothing served + BLOCK ─► waiter on every key's shard, its arguments
//!    rewritten with the ids resolved ($ → the stream's last id), so the
//!    shard can tell when a key is ready:
//!      XREAD:      the stream's last id passed the client's id
//!      XREADGROUP: the stream's last id passed the group's, or the group,
//!                  the key or its stream type is gone (an error reply)
//! ```
//!
//! A waiter's arguments: `kind count noack group consumer` and for each
//! key `key after past`: it reads entries after `after` once the stream's
//! last id is beyond `past` (the last id when it blocked: a stream whose
//! newest entries were deleted does not serve an empty reply).

use super::{
    WrongType, c_text, now_ms, parse_strict_id, read_stream, reply_entries, reply_entry, reply_id,
};
use crate::command::session::Session;
use crate::command::session::blocking::{BlockSpec, Outcome, Starting, block};
use crate::command::util::*;
use crate::command::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*, keyflags};
use crate::protocol::{Args, Reply};
use crate::shard::blocking::{Served, Undo, Waiter};
use crate::storage::Value;
use crate::storage::notify;
use crate::storage::stream::{Stream, StreamId};
use std::time::Duration;

/// COUNT of a blocked read that gave none, so that a low id does not make
/// the server send a whole stream at once.
const BLOCKED_DEFAULT_COUNT: i64 = 1000;

/// Parsed options of XREAD / XREADGROUP.
#[derive(Clone, Debug)]
struct ReadOpts {
    /// Group and consumer (XREADGROUP).
    group: Option<(Vec<u8>, Vec<u8>)>,
    /// COUNT (0: no limit).
    count: i64,
    noack: bool,
    /// BLOCK milliseconds (0: forever).
    block: Option<u64>,
    /// Index of the first key.
    streams: usize,
    /// Number of keys.
    nkeys: usize,
}

fn is_group_cmd(a: Args<'_>) -> bool {
    a.get(0).len() == 10
}

/// Parses the options in Redis's order of checks.
fn parse_opts(a: Args<'_>, xreadgroup: bool) -> Result<ReadOpts, &'static str> {
    let argc = a.len();
    let mut o = ReadOpts {
        group: None,
        count: 0,
        noack: false,
        block: None,
        streams: 0,
        nkeys: 0,
    };
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let opt = a.get(i);
        if eq(opt, "block") && more > 0 {
            i += 1;
            match parse_i64(a.get(i)) {
                None => return Err("ERR timeout is not an integer or out of range"),
                Some(n) if n < 0 => return Err("ERR timeout is negative"),
                Some(n) => o.block = Some(n as u64),
            }
        } else if eq(opt, "count") && more > 0 {
            i += 1;
            o.count = parse_i64(a.get(i)).ok_or(NOT_INT)?.max(0);
        } else if eq(opt, "streams") && more > 0 {
            o.streams = i + 1;
            let n = argc - o.streams;
            if !n.is_multiple_of(2) {
                return Err(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                );
            }
            o.nkeys = n / 2;
            break;
        } else if eq(opt, "group") && more >= 2 {
            if !xreadgroup {
                return Err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            o.group = Some((a.get(i + 1).to_vec(), a.get(i + 2).to_vec()));
            i += 2;
        } else if eq(opt, "noack") {
            if !xreadgroup {
                return Err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                );
            }
            o.noack = true;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if o.streams == 0 {
        return Err(SYNTAX);
    }
    if xreadgroup && o.group.is_none() {
        return Err("ERR Missing GROUP option for XREADGROUP");
    }
    Ok(o)
}

/// Key positions, as Redis's `xreadGetKeys` finds them.
fn xread_keys(a: Args<'_>, out: &mut Vec<usize>) {
    let argc = a.len();
    let mut streams = None;
    let mut i = 1;
    while i < argc {
        let arg = a.get(i);
        if eq(arg, "block") || eq(arg, "count") {
            i += 1;
        } else if eq(arg, "group") {
            i += 2;
        } else if eq(arg, "noack") {
        } else if eq(arg, "streams") {
            streams = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let Some(pos) = streams else {
        return;
    };
    let num = argc - pos - 1;
    if num == 0 || !num.is_multiple_of(2) {
        return;
    }
    out.extend(pos + 1..pos + 1 + num / 2);
}

/// One key of the command: its position among the keys, name and id.
type Item = (usize, Vec<u8>, Vec<u8>);

/// A checked key: the id its entries must follow (`StreamId::MAX` stands
/// for `>`), and the stream's last id when checked, which a blocked reader
/// waits for an entry beyond (entries up to it, if any, were deleted).
#[derive(Clone, Copy, Debug)]
struct Checked {
    after: StreamId,
    last: StreamId,
}

/// The id a key's entries must follow, or the error the command replies.
fn check_key(ctx: &mut Ctx<'_>, o: &ReadOpts, key: &[u8], idarg: &[u8]) -> Result<Checked, String> {
    let mut last = StreamId::MIN;
    let after = check_key_id(ctx, o, key, idarg, &mut last)?;
    Ok(Checked { after, last })
}

fn check_key_id(
    ctx: &mut Ctx<'_>,
    o: &ReadOpts,
    key: &[u8],
    idarg: &[u8],
    last: &mut StreamId,
) -> Result<StreamId, String> {
    let s = match read_stream(ctx, key) {
        Err(WrongType) => return Err(WRONGTYPE.into()),
        Ok(s) => s,
    };
    if let Some(s) = &s {
        *last = s.log.last_id;
    }
    if let Some((g, _)) = &o.group
        && !s
            .as_ref()
            .is_some_and(|s| s.groups.contains_key(g.as_slice()))
    {
        return Err(crate::command::sanitize(&format!(
            "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
            c_text(key),
            c_text(g)
        )));
    }
    if idarg == b"$" {
        if o.group.is_some() {
            return Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into());
        }
        return Ok(s.map_or(StreamId::MIN, |s| s.log.last_id));
    }
    if idarg == b">" {
        if o.group.is_none() {
            return Err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.".into());
        }
        return Ok(StreamId::MAX);
    }
    parse_strict_id(idarg).map_err(|e| e.to_string())
}

/// How to serve entries of one stream.
struct ServeAs<'a> {
    /// Group, consumer and NOACK.
    group: Option<(&'a [u8], &'a [u8], bool)>,
    /// Read the consumer's own pending entries instead of new ones.
    history: bool,
    /// Most entries (0: no limit).
    count: i64,
    /// The database (a consumer created by the read is announced there).
    db: usize,
}

/// Writes one key's part of the reply (`[key, entries]`, or a map element
/// in RESP3) with the entries after `gt`, doing a group's bookkeeping.
fn write_served(r: &mut Reply<'_>, key: &[u8], s: &mut Stream, gt: StreamId, how: ServeAs<'_>) {
    if !r.resp3 {
        r.array(2);
    }
    r.bulk(key);
    let start = gt.incr().unwrap_or(StreamId::MIN);
    let limit = if how.count <= 0 {
        usize::MAX
    } else {
        usize::try_from(how.count).unwrap_or(usize::MAX)
    };
    let Some((gname, cname, noack)) = how.group else {
        return reply_entries(r, s.log.range(start, StreamId::MAX, false).take(limit));
    };
    let Stream { log, groups } = s;
    let Some(g) = groups.get_mut(gname) else {
        return r.array(0);
    };
    let now = now_ms();
    let (consumer, created) = g.consumer(cname, now);
    if created {
        notify::emit(notify::STREAM, "xgroup-createconsumer", how.db, key);
    }
    if how.history {
        let ids: Vec<StreamId> = consumer.pel.range(start..).take(limit).copied().collect();
        r.array(ids.len());
        for id in ids {
            match log.get(id) {
                Some(e) => {
                    reply_entry(r, e);
                    if let Some(nack) = g.pel.get_mut(&id) {
                        nack.delivery_time = now;
                        nack.delivery_count += 1;
                    }
                }
                None => {
                    // Deleted since delivered: the id with no fields.
                    r.array(2);
                    reply_id(r, id);
                    r.null_array();
                }
            }
        }
        return;
    }
    let entries: Vec<_> = log.range(start, StreamId::MAX, false).take(limit).collect();
    r.array(entries.len());
    for e in entries {
        let id = e.id();
        g.advance(log, id);
        reply_entry(r, e);
        if !noack {
            g.deliver(id, cname, now);
        }
    }
}

/// Serves one key of a non-blocked read, when it has something to give.
fn serve_key(
    ctx: &mut Ctx<'_>,
    o: &ReadOpts,
    key: &[u8],
    gt: StreamId,
    resp3: bool,
) -> Option<Vec<u8>> {
    let db = ctx.db;
    let Ok(Some(s)) = read_stream(ctx, key) else {
        return None;
    };
    let (from, history) = match &o.group {
        Some((g, _)) => {
            let grp = s.groups.get(g.as_slice())?;
            if gt != StreamId::MAX {
                (gt, true)
            } else if !s.is_empty() && s.log.last_valid_id().is_some_and(|m| m > grp.last_id) {
                (grp.last_id, false)
            } else {
                return None;
            }
        }
        None => {
            if s.is_empty() || s.log.last_valid_id().is_none_or(|m| m <= gt) {
                return None;
            }
            (gt, false)
        }
    };
    let mut out = Vec::new();
    let mut r = Reply::new(&mut out, resp3);
    let how = ServeAs {
        group: o
            .group
            .as_ref()
            .map(|(g, c)| (g.as_slice(), c.as_slice(), o.noack)),
        history,
        db,
        count: o.count,
    };
    write_served(&mut r, key, s, from, how);
    if o.group.is_some() {
        crate::metrics::changes(1);
    }
    Some(out)
}

/// Checks `items` (all on this shard) in order and, when `serve`, serves
/// them in order: each key's resolved id and reply part.
#[allow(clippy::type_complexity)]
fn run_here(
    ctx: &mut Ctx<'_>,
    o: &ReadOpts,
    items: &[Item],
    serve: bool,
    resp3: bool,
) -> Result<Vec<(usize, Checked, Option<Vec<u8>>)>, (usize, String)> {
    let mut ids = Vec::with_capacity(items.len());
    for (idx, key, idarg) in items {
        match check_key(ctx, o, key, idarg) {
            Ok(id) => ids.push(id),
            Err(e) => return Err((*idx, e)),
        }
    }
    let mut out = Vec::with_capacity(items.len());
    for ((idx, key, _), id) in items.iter().zip(ids) {
        let part = if serve {
            serve_key(ctx, o, key, id.after, resp3)
        } else {
            None
        };
        out.push((*idx, id, part));
    }
    Ok(out)
}

fn items_of(a: Args<'_>, o: &ReadOpts) -> Vec<Item> {
    (0..o.nkeys)
        .map(|i| {
            (
                i,
                a.get(o.streams + i).to_vec(),
                a.get(o.streams + o.nkeys + i).to_vec(),
            )
        })
        .collect()
}

/// The whole reply from the served parts, or None when nothing was served.
fn assemble(r: &mut Reply<'_>, parts: Vec<Vec<u8>>) -> bool {
    if parts.is_empty() {
        return false;
    }
    if r.resp3 {
        r.map(parts.len());
    } else {
        r.array(parts.len());
    }
    for p in parts {
        r.raw(&p);
    }
    true
}

/// The shard form (inside MULTI/EXEC, keys on this shard): never blocks.
fn xread_now(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let o = match parse_opts(a, is_group_cmd(a)) {
        Ok(o) => o,
        Err(e) => return r.error(e),
    };
    let items = items_of(a, &o);
    match run_here(ctx, &o, &items, true, r.resp3) {
        Err((_, e)) => r.error(&e),
        Ok(res) => {
            let parts = res.into_iter().filter_map(|(_, _, p)| p).collect();
            if !assemble(r, parts) {
                r.null_array();
            }
        }
    }
}

/// `XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]`
/// and `XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds]
/// [NOACK] STREAMS key [key ...] id [id ...]`
fn xread_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(read(c, a))
}

/// Runs `items` grouped by shard; with `serve` false only checks them.
#[allow(clippy::type_complexity)]
async fn run_spread(
    c: &mut Session,
    o: &ReadOpts,
    items: &[Item],
    serve: bool,
) -> Result<Vec<(usize, Checked, Option<Vec<u8>>)>, (usize, String)> {
    let groups = crate::shard::group_by_owner(items.iter().cloned(), |it| c.owner(&it.1));
    let resp3 = c.resp3;
    let futs = groups.into_iter().map(|(shard, its)| {
        let o = o.clone();
        c.on_shard(shard, move |ctx| run_here(ctx, &o, &its, serve, resp3))
    });
    let results = futures::future::join_all(futs).await;
    let mut all = Vec::with_capacity(items.len());
    let mut first_err: Option<(usize, String)> = None;
    for r in results {
        match r {
            Ok(v) => all.extend(v),
            Err((idx, e)) => {
                if first_err.as_ref().is_none_or(|(i, _)| idx < *i) {
                    first_err = Some((idx, e));
                }
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    all.sort_by_key(|x| x.0);
    Ok(all)
}

async fn read(c: &mut Session, a: OwnedArgs) {
    let xreadgroup = is_group_cmd(a.args());
    let o = match parse_opts(a.args(), xreadgroup) {
        Ok(o) => o,
        Err(e) => return c.error(e),
    };
    let items = items_of(a.args(), &o);
    let starting = (o.block.is_some() && !c.deny_blocking).then(|| Starting::begin(&c.core));
    let one_shard = items
        .iter()
        .all(|it| c.owner(&it.1) == c.owner(&items[0].1));
    let res = if one_shard {
        let (o2, its, resp3) = (o.clone(), items.clone(), c.resp3);
        c.on_key(&items[0].1, move |ctx| {
            run_here(ctx, &o2, &its, true, resp3)
        })
        .await
    } else {
        match run_spread(c, &o, &items, false).await {
            Err(e) => Err(e),
            Ok(_) => run_spread(c, &o, &items, true).await,
        }
    };
    let res = match res {
        Ok(r) => r,
        Err((_, e)) => return c.error(&e),
    };
    let mut ids = Vec::with_capacity(res.len());
    let mut parts = Vec::new();
    for (_, id, part) in res {
        ids.push(id);
        parts.extend(part);
    }
    if assemble(&mut c.reply(), parts) {
        return;
    }
    let (Some(ms), Some(starting)) = (o.block, starting) else {
        return c.reply().null_array();
    };
    // Block: the waiter carries the resolved ids.
    let mut wargs = OwnedArgs::default();
    wargs.push(if xreadgroup { b"xreadgroup" } else { b"xread" });
    let count = if o.count > 0 {
        o.count
    } else {
        BLOCKED_DEFAULT_COUNT
    };
    wargs.push(itoa::Buffer::new().format(count).as_bytes());
    wargs.push(if o.noack { b"1" } else { b"0" });
    let (g, cons) = o.group.clone().unwrap_or_default();
    wargs.push(&g);
    wargs.push(&cons);
    for ((_, key, _), id) in items.iter().zip(&ids) {
        wargs.push(key);
        wargs.push(&id.after.text());
        // `>` (MAX) waits for entries past the stream's last id.
        let past = if id.after == StreamId::MAX {
            id.last
        } else {
            id.after.max(id.last)
        };
        wargs.push(&past.text());
    }
    let spec = BlockSpec {
        keys: items.iter().map(|it| it.1.clone()).collect(),
        timeout: (ms > 0).then(|| Duration::from_millis(ms)),
        ready: stream_ready,
        serve: serve_waiter,
    };
    match block(c, &a, wargs, spec, starting).await {
        Outcome::Served(Served::Reply(bytes)) => {
            if bytes.first() == Some(&b'-') {
                crate::metrics::error_reply(&bytes);
            }
            c.out.extend_from_slice(&bytes);
        }
        Outcome::Served(Served::Move { .. }) | Outcome::TimedOut => c.reply().null_array(),
        Outcome::Gone => c.close = true,
    }
}

// ---------------------------------------------------------------------------
// Blocked readers
// ---------------------------------------------------------------------------

/// The id a waiter reads `key` after, and the id the stream must grow past
/// to serve it (from its first mention of the key).
fn waiter_ids(w: &Waiter, key: &[u8]) -> Option<(StreamId, StreamId)> {
    let mut i = 5;
    while i + 2 < w.args.len() {
        if w.args.get(i) == key {
            let after = parse_strict_id(w.args.get(i + 1)).ok()?;
            let past = parse_strict_id(w.args.get(i + 2)).ok()?;
            return Some((after, past));
        }
        i += 3;
    }
    None
}

fn waiter_is_group(w: &Waiter) -> bool {
    w.args.get(0) == b"xreadgroup"
}

/// Whether `key`'s value can serve the waiter now.
fn stream_ready(v: Option<&Value>, w: &Waiter, key: &[u8]) -> bool {
    let grew = |s: &Stream| waiter_ids(w, key).is_none_or(|(_, past)| s.log.last_id > past);
    if waiter_is_group(w) {
        match v {
            Some(Value::Stream(s)) => s
                .groups
                .get(w.args.get(3))
                .is_none_or(|g| grew(s) && s.log.last_id > g.last_id),
            // Deleted or replaced by another type: the reader gets an error.
            _ => true,
        }
    } else {
        matches!(v, Some(Value::Stream(s)) if grew(s))
    }
}

/// Serves a blocked reader from `key` (which [`stream_ready`] accepted).
fn serve_waiter(ctx: &mut Ctx<'_>, key: &[u8], w: &Waiter) -> Option<(Served, Undo)> {
    let (now, db) = (ctx.now, ctx.db);
    let count = parse_i64(w.args.get(1)).unwrap_or(BLOCKED_DEFAULT_COUNT);
    let mut out = Vec::new();
    let mut r = Reply::new(&mut out, w.resp3);
    let value = ctx.db().get_mut(key, now).map(|e| &mut e.value);
    match (waiter_is_group(w), value) {
        (true, Some(Value::Stream(s))) => {
            let gname = w.args.get(3);
            match s.groups.get(gname).map(|g| g.last_id) {
                None => r.error(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                ),
                Some(last) => {
                    r.map_or_array(1);
                    let how = ServeAs {
                        group: Some((gname, w.args.get(4), w.args.get(2) == b"1")),
                        history: false,
                        count,
                        db,
                    };
                    write_served(&mut r, key, s, last, how);
                }
            }
        }
        (true, _) => r.error("UNBLOCKED the stream key no longer exists"),
        (false, Some(Value::Stream(s))) => {
            let gt = waiter_ids(w, key).map_or(StreamId::MAX, |(after, _)| after);
            r.map_or_array(1);
            let how = ServeAs {
                group: None,
                history: false,
                count,
                db,
            };
            write_served(&mut r, key, s, gt, how);
        }
        (false, _) => r.null_array(),
    }
    let undo: Undo = Box::new(|_: &mut Ctx<'_>| {});
    Some((Served::Reply(out), undo))
}

/// Map (RESP3) or array (RESP2) header.
trait MapOrArray {
    fn map_or_array(&mut self, n: usize);
}

impl MapOrArray for Reply<'_> {
    fn map_or_array(&mut self, n: usize) {
        if self.resp3 {
            self.map(n);
        } else {
            self.array(n);
        }
    }
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

/// XREAD.
pub(super) const XREAD_SPEC: CommandSpec = CommandSpec {
    name: "xread",
    arity: -4,
    flags: READONLY | BLOCKING | MOVABLE_KEYS,
    keys: Some(xread_keys),
    key_flags: keyflags::RO | keyflags::ACCESS,
    acl: &["read", "stream", "slow", "blocking"],
    group: "stream",
    summary: "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
    since: "5.0.0",
    shard: Some(xread_now),
    coord: Some(xread_coord),
    ..CommandSpec::DEFAULT
};

/// XREADGROUP.
pub(super) const XREADGROUP_SPEC: CommandSpec = CommandSpec {
    name: "xreadgroup",
    arity: -7,
    flags: WRITE | BLOCKING | MOVABLE_KEYS,
    keys: Some(xread_keys),
    key_flags: keyflags::RO | keyflags::ACCESS,
    acl: &["write", "stream", "slow", "blocking"],
    group: "stream",
    summary: "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
    since: "5.0.0",
    shard: Some(xread_now),
    coord: Some(xread_coord),
    ..CommandSpec::DEFAULT
};

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::from_slices(parts)
    }

    #[test]
    fn keys_like_redis() {
        let mut out = Vec::new();
        let a = args(&["XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"]);
        xread_keys(a.args(), &mut out);
        assert_eq!(out, [4, 5]);
        out.clear();
        let a = args(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "k", ">"]);
        xread_keys(a.args(), &mut out);
        assert_eq!(out, [5]);
        out.clear();
        let a = args(&["XREAD", "STREAMS", "a", "b", "0"]);
        xread_keys(a.args(), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn options_and_errors() {
        let a = args(&["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"]);
        assert_eq!(
            parse_opts(a.args(), false).unwrap_err(),
            "ERR timeout is negative"
        );
        let a = args(&["XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"]);
        assert!(
            parse_opts(a.args(), false)
                .unwrap_err()
                .contains("GROUP option")
        );
        let a = args(&["XREADGROUP", "COUNT", "-5", "STREAMS", "a", ">"]);
        assert_eq!(
            parse_opts(a.args(), true).unwrap_err(),
            "ERR Missing GROUP option for XREADGROUP"
        );
        let a = args(&[
            "XREAD", "COUNT", "-5", "BLOCK", "0", "STREAMS", "a", "b", "$", "0",
        ]);
        let o = parse_opts(a.args(), false).unwrap();
        assert_eq!((o.count, o.block, o.streams, o.nkeys), (0, Some(0), 6, 2));
    }
}
