//! Dispatch: where a session's requests run, and how their replies come back
//! in order.
//!
//! ```text
//!  read ─► parse every complete request in the buffer ─► dispatch each:
//!     keys local        → run inline, reply straight into `out`
//!     keys on shard j   → append to j's batch (one hop per shard per pipeline)
//!     coordinator cmd   → flush batches, then run on this core (may hop itself)
//!  end of pipeline ─► send batches concurrently ─► merge replies in request order
//!  ─► hand the replies to the socket (sent by the loop at the end of this turn)
//! ```

use super::clients::{clients_about_to_free, weigh_before_command};
use super::{ReplyMode, Session};
use crate::command::{self, CommandSpec, Ctx, OwnedArgs, flags};
use crate::metrics;
use crate::protocol::{Args, Reply};
use crate::shard::slot::{key_owner, key_slot, slot_owner};
use crate::shard::txn::{self, LockKey, Locks, Mode, TxId};
use crate::shard::{Core, Responder};
use crate::storage::db::{HintScope, KeyHint, remembered, slot_of};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Initial read buffer size; buffers shrink back to it after a spike.
pub const READ_BUF_INITIAL: usize = 16 * 1024;
/// Most commands kept pending in per-shard batches before they are sent.
pub const MAX_PENDING_COMMANDS: usize = 1024;
/// Output size that forces a flush of the pipeline in progress.
pub const OUT_FLUSH_THRESHOLD: usize = 1024 * 1024;

/// Requests parsed ahead and prefetched before they run.
pub const PREFETCH_BATCH: usize = 16;

/// One request of a parsed-ahead batch.
pub struct Batched {
    /// Its arguments in the batch's range list.
    pub ranges: (usize, usize),
    /// Read-buffer offset just past it.
    pub end: usize,
    /// Inline request (arguments in the parser's scratch buffer).
    pub inline: bool,
    /// Looked up while prefetching.
    pub spec: Option<Option<&'static CommandSpec>>,
    /// The first key's lookup hint and its range in the read buffer.
    pub hint: Option<(KeyHint, (usize, usize))>,
    /// The first key lives on this core (its lookup was prefetched).
    pub owned: bool,
}

/// A batch of commands for one remote shard.
///
/// It travels to the shard with the requests and comes back with their
/// replies in `out` (reply `i` ends at `ends[i]`); the connection then keeps
/// it for its next batch, so a steady pipeline allocates nothing per hop for
/// its buffers. It travels boxed: the struct is some 200 bytes, and moving
/// it by value into the hop, its result and back was several copies per hop.
#[derive(Default)]
pub struct Batch {
    /// The client whose commands these are: its database, protocol and
    /// NO-TOUCH mode, and its id (NOLOOP tracking).
    who: ClientView,
    buf: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    /// Each command: its spec, its range of `ranges`, and its first key's
    /// hint when the sender computed one.
    cmds: Vec<HopCmd>,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// The core that sent the batch.
    from: usize,
    /// The transaction the commands run in (0: none): its own locks do not
    /// hold them up.
    txid: TxId,
    /// The first command not run yet (the owner stops early under
    /// `maxmemory-clients` when the replies grow big).
    next: usize,
    /// `out`'s bytes as counted in the sender's
    /// [`transit`](crate::shard::engine::EngineState::transit) (under
    /// `maxmemory-clients` only) until the sender takes the replies.
    transit: Option<Transit>,
}

/// Bytes counted in one core's
/// [`transit`](crate::shard::engine::EngineState::transit), uncounted when
/// dropped (also when the batch is dropped unread, its client gone).
struct Transit {
    engine: std::sync::Arc<crate::shard::engine::EngineState>,
    core: usize,
    bytes: usize,
}

impl Transit {
    fn new(
        engine: &std::sync::Arc<crate::shard::engine::EngineState>,
        core: usize,
        bytes: usize,
    ) -> Option<Transit> {
        let t = engine.transit.get(core)?;
        t.0.fetch_add(bytes, Ordering::AcqRel);
        Some(Transit {
            engine: engine.clone(),
            core,
            bytes,
        })
    }
}

impl Drop for Transit {
    fn drop(&mut self) {
        if let Some(t) = self.engine.transit.get(self.core) {
            t.0.fetch_sub(self.bytes, Ordering::AcqRel);
        }
    }
}

impl Batch {
    /// Where the reply to command `i` lies in `out`.
    fn reply_span(&self, i: usize) -> (usize, usize) {
        let s = if i == 0 { 0 } else { self.ends[i - 1] };
        (s, self.ends[i])
    }
    fn clear(&mut self) {
        self.buf.clear();
        self.ranges.clear();
        self.cmds.clear();
        self.out.clear();
        self.ends.clear();
        self.next = 0;
    }
}

type HopCmd = (&'static CommandSpec, u32, u32, Option<KeyHint>);

#[derive(Clone, Copy)]
enum Slot {
    Local(usize, usize),
    Remote(usize, usize),
}

#[derive(Default)]
pub(super) struct Pending {
    active: bool,
    groups: Vec<Option<Box<Batch>>>,
    /// Batches back from their shard, kept for reuse: boxed, because the
    /// box itself is what travels on the next hop.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Batch>>,
    order: Vec<Slot>,
    pub(super) staging: Vec<u8>,
    count: usize,
    /// The reply to come of a command started at once on this core for
    /// the client that has to wait ([`Routed::Running`]; it goes on as a
    /// task of its own).
    running: Option<futures::channel::oneshot::Receiver<Vec<u8>>>,
}

/// Runs a shard-side handler with statistics; used inline and on hop targets.
pub fn exec_shard(
    spec: &'static CommandSpec,
    ctx: &mut Ctx<'_>,
    out: &mut Vec<u8>,
    resp3: bool,
    args: Args<'_>,
) {
    if spec.shard.is_none() {
        return;
    }
    let t0 = metrics::clock::command_start();
    let err = exec_part(spec, ctx, out, resp3, args);
    let ticks = metrics::clock::command_end(t0);
    record_call(spec, ticks, err.map(|e| &out[e..]));
}

/// Runs a shard-side handler, counting its changes and signalling the keys
/// it wrote, without the call statistics (a part of a split command counts
/// once, where it was coordinated). Returns where its first error starts.
#[inline]
fn exec_part(
    spec: &'static CommandSpec,
    ctx: &mut Ctx<'_>,
    out: &mut Vec<u8>,
    resp3: bool,
    args: Args<'_>,
) -> Option<usize> {
    let f = spec.shard?;
    let mut r = Reply::new(out, resp3);
    metrics::begin_command();
    f(ctx, &mut r, args);
    let err = r.first_error;
    let changes = metrics::end_command(spec.has(flags::WRITE), err.is_some());
    if changes > 0 {
        let signalled = metrics::take_signalled();
        ctx.shard.wrote(
            ctx.db,
            spec.group,
            args,
            |a, idx| spec.key_indexes(a, idx),
            signalled,
        );
    } else if ctx.shard.journal.is_on() {
        crate::shard::journal::discard_instead();
    }
    err
}

/// Counts a command refused before it ran (INFO commandstats `rejected_calls`).
fn count_rejected(spec: &'static CommandSpec) {
    metrics::with(|s| {
        s.commands
            .entry(metrics::CmdName(spec.name))
            .or_default()
            .rejected += 1
    });
}

fn record_call(spec: &'static CommandSpec, ticks: u64, err: Option<&[u8]>) {
    count_call(spec, ticks, err.is_some());
    if let Some(line) = err {
        metrics::error_reply(line);
    }
}

/// Counts a call of `spec`, its time and whether it failed (its error
/// reply counted by whoever wrote it).
fn count_call(spec: &'static CommandSpec, ticks: u64, failed: bool) {
    metrics::with(|s| {
        s.total_commands_processed += 1;
        let e = s.commands.entry(metrics::CmdName(spec.name)).or_default();
        e.calls += 1;
        e.ticks += ticks;
        if failed {
            e.failed += 1;
        }
    });
}

/// The keys a command names, each with its owning shard (of `ncores`) and
/// the mode it needs: exclusive for a command that writes, shared otherwise.
pub fn command_lock_keys(
    spec: &CommandSpec,
    args: Args<'_>,
    ncores: usize,
    into: &mut Vec<(usize, LockKey)>,
) {
    let mut idx = Vec::new();
    spec.key_indexes(args, &mut idx);
    let mode = lock_mode(spec);
    into.extend(idx.into_iter().map(|i| {
        let k = args.get(i);
        (key_owner(k, ncores), (txn::lock_key(k), mode))
    }));
}

/// True for a command that reads or changes the whole keyspace (KEYS, SCAN,
/// DBSIZE, RANDOMKEY, FLUSHDB, FLUSHALL, SWAPDB): it locks every shard
/// whole, so it waits for the transactions in flight and nothing runs
/// beside it.
pub fn whole_keyspace(spec: &CommandSpec) -> bool {
    spec.coord.is_some()
        && spec.first_key <= 0
        && spec.keys.is_none()
        && spec.acl.contains(&"keyspace")
}

/// How a command with these arguments locks every shard whole, if it does:
/// the whole-keyspace commands in their mode, and commands that reach keys
/// their key spec does not name (SORT BY/GET patterns) as they say.
pub fn whole_lock(spec: &CommandSpec, args: Args<'_>) -> Option<Mode> {
    if whole_keyspace(spec) {
        Some(lock_mode(spec))
    } else {
        spec.lock_whole.and_then(|f| f(args))
    }
}

/// The lock mode of a command's keys.
pub fn lock_mode(spec: &CommandSpec) -> Mode {
    if spec.has(flags::WRITE) || (spec.has(flags::OWN_LOCKS) && !spec.has(flags::READONLY)) {
        Mode::Exclusive
    } else {
        Mode::Shared
    }
}

/// What [`Session::dispatch_fast`] did with a command.
pub enum Fast {
    /// Ran inline or queued for its hop.
    Done,
    /// Ran or queued; the commands queued for other cores are to be sent
    /// now ([`Session::flush_pending`]).
    Flush,
    /// Routed but not finished: [`Session::finish_routed`] completes it.
    Routed(&'static CommandSpec, Routed),
    /// Not started: it needs [`Session::dispatch_found`].
    Slow,
}

/// Where [`Session::route_direct`] left a command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Routed {
    /// Run inline or queued for its hop.
    Done,
    /// Its keys are on one core but it must wait (a lock holds one of
    /// them, or hops must finish first): through the coordinator.
    Wait,
    /// Its keys span cores: through the coordinator.
    Spans,
    /// It runs on this core for the client and has to wait: its reply
    /// comes from `Pending::running`, after the commands queued before it.
    Running,
}

/// One shard's part of a split command, owned to travel to that shard:
/// [`local_part`]'s arguments copied into one buffer, and its lock keys.
fn split_part(
    spec: &CommandSpec,
    args: Args<'_>,
    ix: &[usize],
    mode: Mode,
) -> (OwnedArgs, Vec<LockKey>) {
    let (mut ranges, keys) = local_part(spec, args, ix, mode);
    let src = args.parts().0;
    // Sized up front: one allocation; the ranges are rewritten in place.
    let mut buf = Vec::with_capacity(ranges.iter().map(|&(s, e)| e - s).sum());
    for r in ranges.iter_mut() {
        let at = buf.len();
        buf.extend_from_slice(&src[r.0..r.1]);
        *r = (at, buf.len());
    }
    (OwnedArgs { buf, ranges }, keys)
}

/// One shard's part of a split command as ranges in the command's own
/// buffer (the command name, then the keys at `ix` with their values,
/// `spec.step` arguments each), and its lock keys: the part that runs on
/// the client's own core needs no copy.
fn local_part(
    spec: &CommandSpec,
    args: Args<'_>,
    ix: &[usize],
    mode: Mode,
) -> (Vec<(usize, usize)>, Vec<LockKey>) {
    let step = spec.step.max(1) as usize;
    let (_, all) = args.parts();
    let mut ranges = Vec::with_capacity(1 + ix.len() * step);
    ranges.push(all[0]);
    let mut keys = Vec::with_capacity(ix.len());
    for &i in ix {
        ranges.extend_from_slice(&all[i..(i + step).min(all.len())]);
        keys.push((txn::lock_key(args.get(i)), mode));
    }
    (ranges, txn::dedup(keys))
}

/// What a part of a split command needs from its client to run on a shard.
struct PartCtx {
    spec: &'static CommandSpec,
    db: usize,
    now: u64,
    resp3: bool,
    no_touch: bool,
    client: u64,
    /// The reply buffer's first size.
    cap: usize,
}

impl PartCtx {
    fn new(s: &Session, spec: &'static CommandSpec, merge: command::Merge, keys: usize) -> Self {
        // A value per key for the merges that gather values, a short
        // status or count otherwise.
        let cap = match merge {
            command::Merge::InKeyOrder => 16 + keys * 48,
            _ => 32,
        };
        PartCtx {
            spec,
            db: s.db,
            now: s.now,
            resp3: s.resp3,
            no_touch: s.no_touch,
            client: s.id,
            cap,
        }
    }

    /// Runs the part on shard `c` (its keys free or held by its
    /// transaction); the part's reply.
    fn run(self, c: &Rc<Core>, args: Args<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.cap);
        crate::storage::tracking::set_writer(self.client);
        {
            let mut shard = c.shard.borrow_mut();
            let mut ctx = Ctx {
                shard: &mut shard,
                db: self.db,
                now: self.now,
                no_touch: self.no_touch,
            };
            exec_part(self.spec, &mut ctx, &mut out, self.resp3, args);
        }
        super::blocking::after_shard_work(c);
        out
    }
}

/// True when a transaction other than `tx` holds one of the command's keys
/// in a mode that keeps it from running now.
fn blocked_by(locks: &Locks, spec: &CommandSpec, args: Args<'_>, tx: TxId) -> bool {
    let mut idx = Vec::new();
    spec.key_indexes(args, &mut idx);
    let mode = lock_mode(spec);
    idx.into_iter()
        .any(|i| locks.conflicts(txn::lock_key(args.get(i)), mode, tx))
}

/// Runs a batch another core sent and answers it; a command whose keys a
/// transaction holds waits, with the rest of the batch behind it, until
/// they are free, and so does the rest behind a forwarded command that
/// has to wait (see [`CommandSpec::runs_at`]) until that one is done.
fn serve_batch(core: &Rc<Core>, batch: Box<Batch>, resp: Responder<Box<Batch>>) {
    let (mut batch, stop) = run_batch(core, batch);
    match stop {
        None => resp.send(core, batch),
        Some(Stop::Locked(keys)) => {
            let tx = batch.txid;
            txn::when_free(
                core,
                tx,
                txn::Want::Keys(keys),
                Box::new(move |c: &Rc<Core>| serve_batch(c, batch, resp)),
            );
        }
        Some(Stop::Running(run, spec, t0)) => finish_forwarded(core, run, move |c, reply| {
            count_forwarded(spec, t0, &reply);
            batch.out.extend_from_slice(&reply);
            batch.ends.push(batch.out.len());
            serve_batch(c, batch, resp);
        }),
    }
}

/// Why [`run_batch`] stopped before the end of its batch.
enum Stop {
    /// At a command whose keys (these) a transaction holds.
    Locked(Vec<LockKey>),
    /// After a forwarded command that has to wait: its run, to finish
    /// before the rest; its spec and the tick it started at.
    Running(ForwardedRun, &'static CommandSpec, u64),
}

/// Runs a batch's commands from `next` on; stops early at a command whose
/// keys a transaction holds, after a forwarded command that has to wait,
/// or when the replies grow past the client-memory budget.
fn run_batch(core: &Rc<Core>, mut batch: Box<Batch>) -> (Box<Batch>, Option<Stop>) {
    let mut blocked = None;
    let mut out = std::mem::take(&mut batch.out);
    let mut ends = std::mem::take(&mut batch.ends);
    let mut shard = core.shard.borrow_mut();
    let now = crate::now_ms();
    crate::storage::tracking::set_writer(batch.who.id);
    // Under maxmemory-clients a batch stops once its replies pass the size
    // at which its client must be weighed again; the sender weighs it and
    // sends the rest (see `Session::flush_pending`).
    let budget = if crate::storage::evict::settings().maxmemory_clients > 0 {
        super::clients::MEMORY_CHECK_FLOOR
    } else {
        usize::MAX
    };
    let start = batch.next;
    batch.next = batch.cmds.len();
    metrics::clock::lap_start();
    'run: for (w, window) in batch.cmds[start..].chunks(PREFETCH_BATCH).enumerate() {
        if window.len() > 1
            && let Some(db) = shard.db_opt(batch.who.db)
        {
            prefetch_hopped(db, &batch.buf, &batch.ranges, window);
        }
        for (k, &(spec, a, b, hint)) in window.iter().enumerate() {
            let ranges = &batch.ranges[a as usize..b as usize];
            let args = Args::new(&batch.buf, ranges);
            if !shard.locks.is_idle()
                && (blocked_by(&shard.locks, spec, args, batch.txid)
                    || shard.locks.asked_not_granted(batch.txid))
            {
                let mut keys = Vec::new();
                command_lock_keys(spec, args, 1, &mut keys);
                blocked = Some(Stop::Locked(keys.into_iter().map(|(_, k)| k).collect()));
                batch.next = start + w * PREFETCH_BATCH + k;
                break 'run;
            }
            if let (None, Some(coord)) = (spec.shard, spec.coord) {
                // A command forwarded here whole (`CommandSpec::runs_at`):
                // its coordinator runs as for a client of this core.
                drop(shard);
                metrics::clock::lap_clear();
                let t0 = metrics::clock::ticks();
                let started = start_forwarded(core, coord, OwnedArgs::from_args(args), batch.who);
                metrics::clock::lap_start();
                shard = core.shard.borrow_mut();
                match started {
                    Ok(reply) => {
                        count_forwarded(spec, t0, &reply);
                        out.extend_from_slice(&reply);
                        ends.push(out.len());
                    }
                    Err(run) => {
                        blocked = Some(Stop::Running(run, spec, t0));
                        batch.next = start + w * PREFETCH_BATCH + k + 1;
                        break 'run;
                    }
                }
                continue;
            }
            let _memo = hint.and_then(|h| {
                let (s, e) = ranges[prefetched_key(spec, ranges.len())?];
                Some(HintScope::new(&batch.buf[s..e], h))
            });
            let mut ctx = Ctx {
                shard: &mut shard,
                db: batch.who.db,
                now,
                no_touch: batch.who.no_touch,
            };
            exec_shard(spec, &mut ctx, &mut out, batch.who.resp3, args);
            ends.push(out.len());
            if out.len() >= budget {
                let done = start + w * PREFETCH_BATCH + k + 1;
                if done < batch.cmds.len() {
                    batch.next = done;
                    break 'run;
                }
            }
        }
    }
    metrics::clock::lap_clear();
    drop(shard);
    super::blocking::after_shard_work(core);
    if crate::storage::evict::settings().maxmemory_clients > 0 {
        // Replies on their way to another core's clients: theirs, not yet
        // in their buffers.
        batch.transit = Transit::new(&core.engine, batch.from, out.capacity());
    }
    batch.out = out;
    batch.ends = ends;
    (batch, blocked)
}

/// The prefetch stages (see [`crate::storage::db::Db::prefetch`]) over the
/// first keys of a window of commands another core sent here: their lookups'
/// cache misses overlap as a local pipelined batch's do.
fn prefetch_hopped(
    db: &crate::storage::db::Db,
    buf: &[u8],
    ranges: &[(usize, usize)],
    window: &[HopCmd],
) {
    let mut hints = [None; PREFETCH_BATCH];
    for (h, &(spec, a, b, sent)) in hints.iter_mut().zip(window) {
        let args = &ranges[a as usize..b as usize];
        if let Some(k) = prefetched_key(spec, args.len()) {
            let (s, e) = args[k];
            let hint = sent.unwrap_or_else(|| db.hint(&buf[s..e]));
            db.prefetch_directory(hint);
            *h = Some((hint, (s, e)));
        }
    }
    for (hint, _) in hints.iter().flatten() {
        db.prefetch(*hint);
    }
    prefetch_found(db, buf, hints.iter().flatten());
}

/// The argument index of the key a command's lookup starts from, for
/// commands whose key positions follow the simple first-key rule.
fn prefetched_key(spec: &CommandSpec, nargs: usize) -> Option<usize> {
    let k = spec.first_key as usize;
    (k > 0 && k < nargs && spec.keys.is_none()).then_some(k)
}

/// Prefetch stages 2 and 3 over keys whose stage 1 ran: their nodes, then
/// their values. Each hint comes with its key's range in `buf`.
fn prefetch_found<'a>(
    db: &crate::storage::db::Db,
    buf: &[u8],
    hints: impl Iterator<Item = &'a (KeyHint, (usize, usize))> + Clone,
) {
    for (hint, _) in hints.clone() {
        db.prefetch_node(*hint);
    }
    for (hint, (s, e)) in hints {
        db.prefetch_value(&buf[*s..*e], *hint);
    }
}

/// What commands run for a client away from its session need of it: a
/// hopped batch, and a forwarded command's session ([`Session::forwarded`]).
#[derive(Clone, Copy, Default)]
pub struct ClientView {
    /// Client id.
    pub id: u64,
    /// Its selected database.
    pub db: usize,
    /// It speaks RESP3.
    pub resp3: bool,
    /// CLIENT NO-TOUCH.
    pub no_touch: bool,
}

impl ClientView {
    /// What a forwarded command needs of session `s`'s client.
    pub fn of(s: &Session) -> ClientView {
        ClientView {
            id: s.id,
            db: s.db,
            resp3: s.resp3,
            no_touch: s.no_touch,
        }
    }
}

/// A forwarded command still running: its reply once done.
pub type ForwardedRun = std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>>>>;

/// Runs coordinator `coord` on this core (`core`) for a client that may be
/// connected elsewhere ([`Session::forwarded`]) as far as it goes without
/// waiting: its reply, or the run still to be awaited (a lock to wait
/// for, a hop of its own, a script's turn past busy-reply-threshold).
pub fn start_forwarded(
    core: &Rc<Core>,
    coord: command::CoordFn,
    args: OwnedArgs,
    who: ClientView,
) -> Result<Vec<u8>, ForwardedRun> {
    let core = core.clone();
    let mut run: ForwardedRun = Box::pin(async move {
        let mut s = Session::forwarded(core, who.id, who.db, who.resp3, who.no_touch);
        coord(&mut s, args).await;
        std::mem::take(&mut s.out)
    });
    // Polled again by whoever awaits it, which registers its waker then.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match run.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(reply) => Ok(reply),
        std::task::Poll::Pending => Err(run),
    }
}

/// Hands the reply of a forwarded run that has to wait to `then` once the
/// run is done, from a task of this core (`core`): the run goes on by
/// itself, whoever waits for its reply.
pub fn finish_forwarded(
    core: &Rc<Core>,
    run: ForwardedRun,
    then: impl FnOnce(&Rc<Core>, Vec<u8>) + 'static,
) {
    let core = core.clone();
    crate::runtime::spawn(async move {
        let reply = run.await;
        then(&core, reply);
    });
}

/// Counts a forwarded command's call from `t0` (its start tick) on.
fn count_forwarded(spec: &'static CommandSpec, t0: u64, reply: &[u8]) {
    count_call(
        spec,
        metrics::clock::ticks().wrapping_sub(t0),
        reply.first() == Some(&b'-'),
    );
}

impl Session {
    fn exec_local(&mut self, spec: &'static CommandSpec, args: Args<'_>) {
        let core = self.core.clone();
        self.exec_local_on(&core, spec, args);
        super::blocking::after_shard_work(&core);
    }

    fn exec_local_on(&mut self, core: &Rc<Core>, spec: &'static CommandSpec, args: Args<'_>) {
        crate::storage::tracking::set_writer(self.id);
        let mut shard = core.shard.borrow_mut();
        let mut ctx = Ctx {
            shard: &mut shard,
            db: self.db,
            now: self.now,
            no_touch: self.no_touch,
        };
        if self.pending.active {
            let start = self.pending.staging.len();
            exec_shard(spec, &mut ctx, &mut self.pending.staging, self.resp3, args);
            let end = self.pending.staging.len();
            self.pending.order.push(Slot::Local(start, end));
        } else {
            exec_shard(spec, &mut ctx, &mut self.out, self.resp3, args);
        }
    }

    fn queue_remote(&mut self, target: usize, spec: &'static CommandSpec, args: Args<'_>) {
        let who = ClientView::of(self);
        let p = &mut self.pending;
        if p.groups.len() < self.core.ncores {
            p.groups.resize_with(self.core.ncores, || None);
        }
        p.active = true;
        let b = p.groups[target].get_or_insert_with(|| {
            let mut b = p.spare.pop().unwrap_or_default();
            b.who = who;
            b.from = self.core.id;
            b.txid = self.txid;
            b
        });
        let a = b.ranges.len() as u32;
        let (src, ranges) = args.parts();
        match (ranges.first(), ranges.last()) {
            // Arguments parsed from one request lie in order in one buffer:
            // one copy of their span (protocol headers included) instead of
            // one per argument.
            (Some(&(lo, _)), Some(&(_, hi)))
                if lo <= hi && ranges.windows(2).all(|w| w[0].1 <= w[1].0) =>
            {
                let base = b.buf.len();
                b.buf.extend_from_slice(&src[lo..hi]);
                b.ranges
                    .extend(ranges.iter().map(|&(s, e)| (s - lo + base, e - lo + base)));
            }
            _ => {
                for arg in args.iter() {
                    let s = b.buf.len();
                    b.buf.extend_from_slice(arg);
                    b.ranges.push((s, b.buf.len()));
                }
            }
        }
        let hint = prefetched_key(spec, args.len()).and_then(|k| remembered(args.get(k)));
        b.cmds.push((spec, a, b.ranges.len() as u32, hint));
        p.order.push(Slot::Remote(target, b.cmds.len() - 1));
        p.count += 1;
    }

    /// Sends every pending batch, waits for all, and appends the replies in order.
    pub async fn flush_pending(&mut self) {
        if !self.pending.active {
            return;
        }
        loop {
            self.run_pending_groups().await;
            if self
                .pending
                .groups
                .iter()
                .flatten()
                .all(|b| b.next >= b.cmds.len())
            {
                break;
            }
            // A shard stopped a batch whose replies grew big: weigh this
            // client with what it holds so far before running the rest.
            let held: usize = self
                .pending
                .groups
                .iter()
                .flatten()
                .map(|b| b.out.capacity())
                .sum();
            let alloc = self.out.capacity() + self.pending.staging.capacity() + held;
            weigh_before_command(&self.core, &self.handle, alloc);
            if self.handle.killed.get() {
                self.close = true;
                for g in self.pending.groups.iter_mut() {
                    *g = None;
                }
                self.pending.order.clear();
                self.pending.staging.clear();
                self.pending.active = false;
                self.pending.count = 0;
                return;
            }
        }
        self.take_pending_replies();
    }

    /// Sends every batch with commands left to run to its shard and waits
    /// for them.
    async fn run_pending_groups(&mut self) {
        let mut sent = 0;
        let mut only = 0;
        for (t, g) in self.pending.groups.iter().enumerate() {
            if g.as_ref().is_some_and(|b| b.next < b.cmds.len()) {
                sent += 1;
                only = t;
            }
        }
        if sent == 1 {
            // The common case: one remote shard, no join needed.
            if let Some(b) = self.pending.groups[only].take() {
                let r = self
                    .core
                    .run_deferred(only, move |c, resp| serve_batch(c, b, resp))
                    .await;
                self.pending.groups[only] = Some(r);
            }
        } else if sent > 1 {
            let mut targets = Vec::with_capacity(sent);
            let mut futs = Vec::with_capacity(sent);
            for (t, g) in self.pending.groups.iter_mut().enumerate() {
                if g.as_ref().is_some_and(|b| b.next < b.cmds.len())
                    && let Some(b) = g.take()
                {
                    targets.push(t);
                    futs.push(
                        self.core
                            .run_deferred(t, move |c, resp| serve_batch(c, b, resp)),
                    );
                }
            }
            let results = futures::future::join_all(futs).await;
            for (t, r) in targets.into_iter().zip(results) {
                self.pending.groups[t] = Some(r);
            }
        }
    }

    /// Moves every settled reply into the output, in request order.
    fn take_pending_replies(&mut self) {
        let p = &mut self.pending;
        let total = p.staging.len()
            + p.groups
                .iter()
                .flatten()
                .map(|b| b.out.len())
                .sum::<usize>();
        self.out.reserve(total);
        // Replies that follow one another in the order and in their buffer
        // (locals in staging, one shard's replies in its batch) are copied
        // as one span.
        let mut run: Option<(Option<usize>, usize, usize)> = None;
        let copy = |out: &mut Vec<u8>, p: &Pending, (src, s, e): (Option<usize>, usize, usize)| {
            match src {
                None => out.extend_from_slice(&p.staging[s..e]),
                Some(t) => {
                    if let Some(b) = &p.groups[t] {
                        out.extend_from_slice(&b.out[s..e]);
                    }
                }
            }
        };
        for &slot in p.order.iter() {
            let next = match slot {
                Slot::Local(s, e) => (None, s, e),
                Slot::Remote(t, i) => match &p.groups[t] {
                    Some(b) => {
                        let r = b.reply_span(i);
                        (Some(t), r.0, r.1)
                    }
                    None => continue,
                },
            };
            run = match run {
                Some((src, s, e)) if src == next.0 && e == next.1 => Some((src, s, next.2)),
                Some(done) => {
                    copy(&mut self.out, p, done);
                    Some(next)
                }
                None => Some(next),
            };
        }
        if let Some(done) = run {
            copy(&mut self.out, p, done);
        }
        p.order.clear();
        for g in self.pending.groups.iter_mut() {
            if let Some(b) = g.as_mut() {
                b.transit = None;
            }
            // A batch grown by a spike is dropped rather than kept.
            if let Some(mut b) = g.take()
                && b.buf.capacity() <= 4 * READ_BUF_INITIAL
                && b.out.capacity() <= 4 * READ_BUF_INITIAL
            {
                b.clear();
                self.pending.spare.push(b);
            }
        }
        self.pending.staging.clear();
        self.pending.active = false;
        self.pending.count = 0;
    }

    /// True for a command refused over `maxmemory`: DENYOOM ones (scripts by
    /// their declared flags), and EXEC of a transaction that queued one (as
    /// Redis's `is_denyoom_command`).
    fn denies_oom(&self, spec: &'static CommandSpec, args: Args<'_>) -> bool {
        crate::command::scripting::flags::run_flags(&self.core.engine, spec, args) & flags::DENYOOM
            != 0
            || (spec.name == "exec"
                && self
                    .multi
                    .as_ref()
                    .is_some_and(|m| m.flags & flags::DENYOOM != 0))
    }

    /// Refuses a command with `msg` (over `maxmemory`, a busy script): EXEC
    /// of an open transaction discards it with EXECABORT, any other command
    /// gets the error and dooms an open transaction (as Redis's
    /// `rejectCommand` does).
    async fn reject_command(&mut self, spec: &'static CommandSpec, msg: &str) {
        if spec.name == "exec" && self.multi.is_some() {
            self.multi = None;
            self.handle.info.borrow_mut().multi = -1;
            self.unwatch_all().await;
            count_rejected(spec);
            self.error(&format!(
                "EXECABORT Transaction discarded because of: {msg}"
            ));
            return;
        }
        self.reject(Some(spec), msg);
    }

    fn reject(&mut self, spec: Option<&'static CommandSpec>, msg: &str) {
        self.flag_transaction();
        if let Some(spec) = spec {
            count_rejected(spec);
        }
        self.error(msg);
    }

    /// Dispatches one request.
    pub async fn dispatch(&mut self, args: Args<'_>) {
        self.dispatch_found(command::lookup(args.get(0)), args)
            .await
    }

    /// Looks up the commands of a parsed-ahead batch and prefetches, in
    /// three passes over the batch, the lookups of the keys this core owns
    /// (see [`crate::storage::Db::prefetch`]): each pass's cache misses
    /// overlap instead of following one another.
    pub fn prefetch_batch(&self, rbuf: &[u8], batch: &mut [Batched], ranges: &[(usize, usize)]) {
        let shard = self.core.shard.borrow();
        let db = shard.db_opt(self.db);
        // The last two command names seen, as sent: a pipeline mostly repeats
        // one or two commands, and comparing a few bytes is cheaper than the
        // case-folding table lookup.
        let mut recent: [(&[u8], Option<&'static CommandSpec>); 2] = [(&[], None); 2];
        for b in batch.iter_mut() {
            if b.inline {
                continue;
            }
            let args = Args::new(rbuf, &ranges[b.ranges.0..b.ranges.1]);
            let name = args.get(0);
            let spec = if !name.is_empty() && recent[0].0 == name {
                recent[0].1
            } else if !name.is_empty() && recent[1].0 == name {
                recent.swap(0, 1);
                recent[0].1
            } else {
                let spec = command::lookup(name);
                recent[1] = recent[0];
                recent[0] = (name, spec);
                spec
            };
            b.spec = Some(spec);
            let (Some(spec), Some(db)) = (spec, db) else {
                continue;
            };
            if let Some(k) = prefetched_key(spec, args.len()) {
                let key = args.get(k);
                let slot = key_slot(key);
                let h = db.hint_in_slot(slot, key);
                // A key owned elsewhere keeps its hint for routing and for
                // the owner's lookup.
                b.owned = slot_owner(slot, self.core.ncores) == self.core.id;
                if b.owned {
                    db.prefetch_directory(h);
                }
                b.hint = Some((h, ranges[b.ranges.0 + k]));
            }
        }
        if let Some(db) = db {
            for b in batch.iter().filter(|b| b.owned) {
                if let Some((h, _)) = b.hint {
                    db.prefetch(h);
                }
            }
            prefetch_found(
                db,
                rbuf,
                batch
                    .iter()
                    .filter(|b| b.owned)
                    .filter_map(|b| b.hint.as_ref()),
            );
        }
    }

    /// Dispatches one request whose command was already looked up.
    pub async fn dispatch_found(&mut self, spec: Option<&'static CommandSpec>, args: Args<'_>) {
        let Some(mut spec) = spec else {
            let msg = command::unknown_command_error(args);
            self.flush_pending().await;
            self.reject(None, &msg);
            return;
        };
        if !spec.subcommands.is_empty() && args.len() >= 2 {
            match spec.subcommand(args.get(1)) {
                Some(sub) => spec = sub,
                None => {
                    let msg = format!(
                        "ERR unknown subcommand '{}'. Try {} HELP.",
                        command::sanitize(&String::from_utf8_lossy({
                            let sub = command::c_str(args.get(1));
                            &sub[..sub.len().min(128)]
                        })),
                        spec.name.to_ascii_uppercase()
                    );
                    self.flush_pending().await;
                    self.reject(None, &msg);
                    return;
                }
            }
        }
        if !spec.arity_ok(args.len()) {
            let msg = format!("ERR wrong number of arguments for '{}' command", spec.name);
            self.flush_pending().await;
            self.reject(Some(spec), &msg);
            return;
        }
        if !self.authenticated && !spec.has(flags::NO_AUTH) {
            if self.core.config.borrow().requirepass.is_empty() {
                self.authenticated = true;
            } else {
                self.flush_pending().await;
                self.reject(Some(spec), "NOAUTH Authentication required.");
                return;
            }
        }
        // A script past busy-reply-threshold: only allow-busy commands run.
        if !spec.has(flags::ALLOW_BUSY)
            && let Some(msg) = self.core.engine.busy_error()
        {
            self.flush_pending().await;
            self.reject_command(spec, msg).await;
            return;
        }
        // Like Redis, any command first frees memory over the limit; only the
        // ones that may grow the dataset are refused when nothing can be freed.
        let eviction = crate::storage::evict::settings();
        if eviction.maxmemory_clients > 0 {
            let alloc = self.out.capacity() + self.pending.staging.capacity();
            weigh_before_command(&self.core, &self.handle, alloc);
            if self.handle.killed.get() {
                // Evicted itself, as Redis aborts the command then.
                self.close = true;
                return;
            }
        }
        if eviction.maxmemory > 0 && super::memory::over_limit(&self.core, &eviction) > 0 {
            self.flush_pending().await;
            // Clients over maxmemory-clients go before keys, as in Redis:
            // every core weighs its clients now, and what their evictions
            // are about to free is not taken from the keys.
            let covered = eviction.maxmemory_clients > 0 && {
                let freeing = clients_about_to_free(&self.core).await;
                let transit: u64 = self
                    .core
                    .engine
                    .transit
                    .iter()
                    .map(|t| t.0.load(Ordering::Acquire) as u64)
                    .sum();
                let over = super::memory::over_limit(&self.core, &eviction);
                over > 0 && over <= freeing + transit
            };
            let room = covered || super::memory::make_room(&self.core).await;
            super::tracking::release_held(&self.handle, &mut self.out);
            if !room && self.denies_oom(spec, args) {
                self.reject_command(spec, super::memory::OOM_ERROR).await;
                return;
            }
        }
        if self.subscribed && !self.resp3 && self.subscribed_context(spec).await {
            return;
        }
        // CLIENT LIST names the command a paused client waits with.
        self.handle.info.borrow_mut().last_cmd = spec.name;
        if self.core.engine.paused(true) {
            // A script's declared flags decide whether it writes.
            let f = crate::command::scripting::flags::run_flags(&self.core.engine, spec, args);
            let writes = f & (flags::WRITE | flags::MAY_REPLICATE) != 0
                || (self.multi_writes() && spec.name == "exec");
            if self.core.engine.paused(writes) {
                // CLIENT PAUSE: hold this client (and its pipeline) until the pause ends.
                self.flush_pending().await;
                let held = super::blocking::HeldByPause::new(&self.core, &self.handle);
                held.wait(writes).await;
                drop(held);
                self.set_now();
            }
        }
        if self.multi.is_some() && !super::multi::runs_inside_multi(spec) {
            let (mode_before, start) = (self.reply_mode, self.out.len());
            if spec.has(flags::NO_MULTI) {
                self.reject(Some(spec), "ERR Command not allowed inside a transaction");
            } else {
                self.queue_multi(spec, args);
            }
            self.apply_reply_mode(spec, mode_before, start);
            return;
        }
        // Monitors see a command (below) once it ran or was queued for its
        // hop, as Redis feeds them: SELECT shows its new database, and
        // RESET of a monitor is not shown to itself.
        if self.tracking {
            super::tracking::before_command(self, spec, args).await;
        }
        if self.reply_mode != ReplyMode::On {
            self.dispatch_unbatched(spec, args).await;
            if !std::mem::take(&mut self.monitor_fed) {
                self.feed_command(spec, args);
            }
            return;
        }
        let routed = self.route_direct(spec, args);
        self.finish_routed(spec, args, routed).await;
    }

    /// [`Session::dispatch_found`] for a command that needs nothing but
    /// routing: no checks that refuse or hold it (arity, authentication,
    /// busy scripts, memory limits, subscribed context, pause), no MULTI
    /// queue, no tracking, replies on. It runs inline or is queued for its
    /// hop without building the dispatch future; what it cannot finish
    /// without waiting it hands back ([`Fast::Routed`], [`Fast::Flush`]).
    /// [`Fast::Slow`]: nothing was done, the command goes through
    /// `dispatch_found`.
    #[inline]
    pub fn dispatch_fast(&mut self, spec: Option<&'static CommandSpec>, args: Args<'_>) -> Fast {
        let Some(mut spec) = spec else {
            return Fast::Slow;
        };
        if !spec.subcommands.is_empty() && args.len() >= 2 {
            match spec.subcommand(args.get(1)) {
                Some(sub) => spec = sub,
                None => return Fast::Slow,
            }
        }
        if !spec.arity_ok(args.len())
            || (!self.authenticated && !spec.has(flags::NO_AUTH))
            || (self.subscribed && !self.resp3)
            || self.multi.is_some()
            || self.tracking
            || self.reply_mode != ReplyMode::On
        {
            return Fast::Slow;
        }
        let engine = &self.core.engine;
        if (!spec.has(flags::ALLOW_BUSY) && engine.busy_error().is_some()) || engine.paused(true) {
            return Fast::Slow;
        }
        let eviction = crate::storage::evict::settings();
        if eviction.maxmemory_clients > 0
            || (eviction.maxmemory > 0 && super::memory::over_limit(&self.core, &eviction) > 0)
        {
            return Fast::Slow;
        }
        self.handle.info.borrow_mut().last_cmd = spec.name;
        match self.route_direct(spec, args) {
            Routed::Done if self.ran(spec, args) => Fast::Flush,
            Routed::Done => Fast::Done,
            routed => Fast::Routed(spec, routed),
        }
    }

    /// Finishes a command [`Session::route_direct`] left as `routed`:
    /// through its coordinator or after the commands queued before it,
    /// then fed to monitors, then the queued hops sent when they are many.
    pub async fn finish_routed(
        &mut self,
        spec: &'static CommandSpec,
        args: Args<'_>,
        routed: Routed,
    ) {
        match routed {
            Routed::Done => {}
            Routed::Wait => self.coordinate(spec, args, false).await,
            Routed::Spans => self.coordinate(spec, args, true).await,
            Routed::Running => self.finish_running().await,
        }
        if self.ran(spec, args) {
            self.flush_pending().await;
        }
    }

    /// After a command ran or was queued: feeds it to monitors unless it
    /// fed itself, and says whether enough commands or replies wait for
    /// other cores to send them now.
    #[inline]
    fn ran(&mut self, spec: &'static CommandSpec, args: Args<'_>) -> bool {
        if !std::mem::take(&mut self.monitor_fed) {
            self.feed_command(spec, args);
        }
        self.pending.count >= MAX_PENDING_COMMANDS
            || self.pending.staging.len() >= OUT_FLUSH_THRESHOLD
    }

    /// A RESP2 connection in subscribed mode refuses commands other than
    /// the pub/sub ones, PING, QUIT and RESET, as Redis does. True when the
    /// command was refused.
    async fn subscribed_context(&mut self, spec: &'static CommandSpec) -> bool {
        if crate::command::pubsub::allowed_when_subscribed(spec) {
            return false;
        }
        self.flush_pending().await;
        let msg = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        );
        self.reject(Some(spec), &msg);
        true
    }

    /// Runs an in-line connection handler with statistics.
    fn exec_conn(&mut self, spec: &'static CommandSpec, f: command::ConnFn, args: Args<'_>) {
        let t0 = metrics::clock::ticks();
        let start = self.out.len();
        metrics::begin_command();
        f(self, args);
        let failed = self.out.get(start) == Some(&b'-');
        metrics::end_command(spec.has(flags::WRITE), failed);
        count_call(spec, metrics::clock::ticks().wrapping_sub(t0), failed);
    }

    /// PING of a RESP2 connection in subscribed mode (also inside EXEC):
    /// `pong` and the argument (or an empty string) as an array.
    fn subscribed_ping(&mut self, spec: &'static CommandSpec, args: Args<'_>) {
        let t0 = metrics::clock::ticks();
        let buf = if self.pending.active {
            &mut self.pending.staging
        } else {
            &mut self.out
        };
        let start = buf.len();
        let mut r = Reply::new(buf, false);
        r.array(2);
        r.bulk(b"pong");
        r.bulk(if args.len() > 1 { args.get(1) } else { b"" });
        if self.pending.active {
            let end = self.pending.staging.len();
            self.pending.order.push(Slot::Local(start, end));
        }
        record_call(spec, metrics::clock::ticks().wrapping_sub(t0), None);
    }

    /// Runs a command where its keys live: inline on this core, queued for a
    /// hop to the owning core, or through its coordinator.
    pub(crate) async fn route(&mut self, spec: &'static CommandSpec, args: Args<'_>) {
        match self.route_direct(spec, args) {
            Routed::Done => {}
            Routed::Wait => self.coordinate(spec, args, false).await,
            Routed::Spans => self.coordinate(spec, args, true).await,
            Routed::Running => self.finish_running().await,
        }
    }

    /// Writes the reply of the run [`Routed::Running`] left, after the
    /// replies of the commands queued before it. The run goes on as a task
    /// of its own meanwhile: it may hold locks that those commands wait for.
    async fn finish_running(&mut self) {
        self.flush_pending().await;
        if let Some(reply) = self.pending.running.take() {
            // Nothing comes only when the engine stops first.
            let reply = reply.await.unwrap_or_default();
            self.out.extend_from_slice(&reply);
        }
    }

    /// The synchronous part of [`Session::route`]: a command whose keys all live
    /// on one core runs inline or is queued for its hop ([`Routed::Done`]);
    /// otherwise it needs its coordinator. Kept out of the async path so the
    /// common case builds no future.
    #[inline]
    fn route_direct(&mut self, spec: &'static CommandSpec, args: Args<'_>) -> Routed {
        // PING's own arity error comes from its handler.
        if self.subscribed && !self.resp3 && spec.name == "ping" && args.len() <= 2 {
            self.subscribed_ping(spec, args);
            return Routed::Done;
        }
        if let Some(f) = spec.conn {
            // Commands queued for other cores run first (their effects may
            // be what this one announces): through the coordinator then.
            if self.pending.active || (self.alone && spec.coord.is_some()) {
                return Routed::Wait;
            }
            self.exec_conn(spec, f, args);
            return Routed::Done;
        }
        if let Some(at) = spec.runs_at
            && let Some(t) = at(self, args)
        {
            if t != self.core.id {
                self.queue_remote(t, spec, args);
                return Routed::Done;
            }
            if self.pending.active {
                // Without waiting for the commands queued for other cores.
                return self.run_forwarded_here(spec, args);
            }
            // Nothing queued: its coordinator runs in this session.
            return Routed::Spans;
        }
        match self.single_owner(spec, args) {
            Some(t) if t == self.core.id => {
                if self.held_here(spec, args) {
                    // A transaction holds one of its keys: wait (coordinate).
                    return Routed::Wait;
                }
                self.exec_local(spec, args)
            }
            Some(t) => self.queue_remote(t, spec, args),
            None => return Routed::Spans,
        }
        Routed::Done
    }

    /// Runs a command that may run whole where its keys are
    /// ([`CommandSpec::runs_at`]) and whose keys are on this core, while
    /// commands of the client wait for other cores: at once, in a session
    /// of its own for the client, its reply in order with theirs. One that
    /// has to wait goes on as a task ([`Routed::Running`]).
    fn run_forwarded_here(&mut self, spec: &'static CommandSpec, args: Args<'_>) -> Routed {
        let Some(coord) = spec.coord else {
            return Routed::Spans;
        };
        let t0 = metrics::clock::ticks();
        let core = self.core.clone();
        match start_forwarded(
            &core,
            coord,
            OwnedArgs::from_args(args),
            ClientView::of(self),
        ) {
            Ok(reply) => {
                count_forwarded(spec, t0, &reply);
                let start = self.pending.staging.len();
                self.pending.staging.extend_from_slice(&reply);
                let end = self.pending.staging.len();
                self.pending.order.push(Slot::Local(start, end));
                Routed::Done
            }
            Err(run) => {
                let (tx, rx) = futures::channel::oneshot::channel();
                finish_forwarded(&core, run, move |_, reply| {
                    count_forwarded(spec, t0, &reply);
                    let _ = tx.send(reply);
                });
                self.pending.running = Some(rx);
                Routed::Running
            }
        }
    }

    /// Runs a command at once if it can finish without waiting: its keys
    /// are all on this core, no transaction holds them and nothing is
    /// queued for other cores. Its reply goes to the output; false (and
    /// nothing written) otherwise. Scripts use it for their commands.
    pub fn run_inline(&mut self, spec: &'static CommandSpec, args: Args<'_>) -> bool {
        if self.pending.active || (self.subscribed && !self.resp3) {
            return false;
        }
        if let Some(f) = spec.conn {
            self.exec_conn(spec, f, args);
            return true;
        }
        if self.single_owner(spec, args) != Some(self.core.id) || self.held_here(spec, args) {
            return false;
        }
        self.exec_local(spec, args);
        true
    }

    /// A transaction other than this client's holds a key of the command
    /// on this core.
    fn held_here(&self, spec: &'static CommandSpec, args: Args<'_>) -> bool {
        let shard = self.core.shard.borrow();
        !shard.locks.is_idle() && blocked_by(&shard.locks, spec, args, self.txid)
    }

    /// The one core owning every key of the command (this core for keyless
    /// commands), or None when it must be coordinated.
    #[inline]
    fn single_owner(&mut self, spec: &'static CommandSpec, args: Args<'_>) -> Option<usize> {
        let ncores = self.core.ncores;
        // A blocking command's shard handler is its non-blocking form, for
        // transactions; alone, it coordinates (and may block).
        if spec.shard.is_none()
            || (spec.has(flags::BLOCKING) && spec.coord.is_some() && !self.deny_blocking)
        {
            None
        } else if ncores == 1 {
            Some(0)
        } else if spec.keys.is_none()
            && spec.first_key > 0
            && spec.first_key == spec.last_key
            && (spec.first_key as usize) < args.len()
        {
            // One key at a fixed position: most commands.
            Some(slot_owner(
                slot_of(args.get(spec.first_key as usize)),
                ncores,
            ))
        } else {
            let mut keys = std::mem::take(&mut self.keybuf);
            spec.key_indexes(args, &mut keys);
            let t = if keys.is_empty() {
                Some(self.core.id)
            } else {
                let first = slot_owner(slot_of(args.get(keys[0])), ncores);
                if keys[1..]
                    .iter()
                    .all(|&k| key_owner(args.get(k), ncores) == first)
                {
                    Some(first)
                } else {
                    None
                }
            };
            self.keybuf = keys;
            t
        }
    }

    /// A command whose keys span cores (or that has no shard handler) runs
    /// through its coordinator.
    async fn coordinate(&mut self, spec: &'static CommandSpec, args: Args<'_>, spans: bool) {
        self.flush_pending().await;
        // A connection command with a coordinator (see `CommandSpec::conn`)
        // runs that; a command of one shard waits for its keys.
        let conn_coord = spec.conn.is_some() && spec.coord.is_some();
        if !spans && !conn_coord && self.single_owner(spec, args).is_some() {
            // A command of one shard held up by a transaction's lock.
            return self.run_when_unlocked(spec, args).await;
        }
        let merge = spec.split_merge();
        if merge.is_none() && spec.coord.is_none() {
            return self.error("CROSSSLOT Keys in request don't hash to the same slot");
        }
        let t0 = metrics::clock::ticks();
        let start = self.out.len();
        match (merge, spec.coord) {
            (Some(m), _) => self.run_split(spec, args, m).await,
            (None, Some(f)) => {
                let owned = OwnedArgs::from_args(args);
                // Every key the command names is locked on its shard for the
                // whole coordination: nobody sees it half done.
                let held = if self.txid == 0 && !spec.has(flags::BLOCKING | flags::OWN_LOCKS) {
                    let mut keys = Vec::new();
                    let whole = whole_lock(spec, args);
                    if whole.is_none() || whole_keyspace(spec) {
                        command_lock_keys(spec, args, self.core.ncores, &mut keys);
                    }
                    self.lock_keys(keys, whole).await
                } else {
                    None
                };
                if let Some(h) = &held {
                    self.txid = h.tx();
                }
                let write = spec.has(flags::WRITE);
                let for_hook = write.then(|| owned.clone());
                // Hops of a coordinated command report changes on their
                // own cores; the command counts as one change here.
                f(self, owned).await;
                if let Some(a) = for_hook
                    && self.out.get(start) != Some(&b'-')
                {
                    self.changed_keys(spec, a.args()).await;
                }
                if held.is_some() {
                    self.txid = 0;
                }
                drop(held);
                metrics::begin_command();
                let failed = self.out.get(start) == Some(&b'-');
                metrics::end_command(spec.has(flags::WRITE), failed);
            }
            (None, None) => {}
        }
        // The command may have waited: "now" moves on by the time it took
        // (one clock read for both).
        let took = metrics::clock::ticks().wrapping_sub(t0);
        self.now += metrics::clock::ticks_to_us(took) / 1000;
        count_call(spec, took, self.out.get(start) == Some(&b'-'));
    }

    /// After a coordinated write, while its locks are held: the journal
    /// hook of each shard owning one of the command's keys sees the key
    /// changed ([`crate::shard::Shard::key_changed`]): the coordinator's
    /// hops changed it without the hook seeing each step. Its consumers are
    /// WATCH, client tracking and the journal's sink; with none of them on,
    /// no hop is made. A COPY into another database changed the copy there.
    async fn changed_keys(&mut self, spec: &'static CommandSpec, args: Args<'_>) {
        let engine = &self.core.engine;
        if engine.journal.is_none()
            && engine.cas_watches.load(Ordering::Relaxed) == 0
            && engine.tracking_clients.load(Ordering::Relaxed) == 0
        {
            return;
        }
        let mut idx = Vec::new();
        spec.key_indexes(args, &mut idx);
        let mut other_db = None;
        if spec.name == "copy" {
            let mut j = 3;
            while j + 1 < args.len() {
                if args.get(j).eq_ignore_ascii_case(b"db") {
                    other_db = command::util::parse_i64(args.get(j + 1)).map(|d| d as usize);
                }
                j += 1;
            }
        }
        let db = self.db;
        let mut keys: Vec<(usize, Vec<u8>)> =
            idx.iter().map(|&i| (db, args.get(i).to_vec())).collect();
        if let (Some(d), Some(&i)) = (other_db, idx.get(1)) {
            keys.push((d, args.get(i).to_vec()));
        }
        let ncores = self.core.ncores;
        let client = self.id;
        let groups = crate::shard::group_by_owner(keys, |(_, k)| key_owner(k, ncores));
        let futs = groups.into_iter().map(|(t, keys)| {
            self.core.run_on(t, move |c| {
                crate::storage::tracking::set_writer(client);
                let mut shard = c.shard.borrow_mut();
                for (d, k) in &keys {
                    shard.key_changed(*d, k);
                }
            })
        });
        futures::future::join_all(futs).await;
    }

    /// Runs a command whose keys span shards as one part per shard (the
    /// command on the keys that shard owns), in one transaction: each part
    /// runs on its shard the moment that shard grants its keys, shards in
    /// ascending order, and every lock is released after the last part. The
    /// parts' replies are merged as `merge` says.
    async fn run_split(
        &mut self,
        spec: &'static CommandSpec,
        args: Args<'_>,
        merge: command::Merge,
    ) {
        let mut idx = std::mem::take(&mut self.keybuf);
        spec.key_indexes(args, &mut idx);
        let ncores = self.core.ncores;
        let mut groups =
            crate::shard::group_by_owner(idx.iter().copied(), |&i| key_owner(args.get(i), ncores));
        self.keybuf = idx;
        groups.sort_unstable_by_key(|g| g.0);
        let mut parts: Vec<Vec<u8>> = Vec::with_capacity(groups.len());
        if self.txid != 0 || !self.split_two(spec, args, &groups, merge, &mut parts).await {
            self.split_in_order(spec, args, &groups, merge, &mut parts)
                .await;
        }
        self.merge_parts(merge, &groups, &parts, args.len());
    }

    /// The common split of two shards, one of them this core's: its keys
    /// are locked here (without waiting), the other shard's part runs at
    /// once if nobody holds its keys there (the lock point), then this
    /// core's part runs and its locks go. One hop, no lock on the other
    /// shard and no release message. False (nothing run, nothing held)
    /// when either shard's keys are taken: the caller then locks in shard
    /// order, which may wait. Never waits while holding a lock, so it
    /// cannot deadlock with transactions that lock in shard order.
    async fn split_two(
        &mut self,
        spec: &'static CommandSpec,
        args: Args<'_>,
        groups: &[(usize, Vec<usize>)],
        merge: command::Merge,
        parts: &mut Vec<Vec<u8>>,
    ) -> bool {
        if groups.len() != 2 {
            return false;
        }
        let Some(local) = groups.iter().position(|g| g.0 == self.core.id) else {
            return false;
        };
        let remote = 1 - local;
        let mode = lock_mode(spec);
        let (lranges, lkeys) = local_part(spec, args, &groups[local].1, mode);
        let (rsub, rkeys) = split_part(spec, args, &groups[remote].1, mode);
        let tx = self.core.next_txid();
        let Some(held) = txn::Held::try_here(&self.core, tx, lkeys) else {
            return false;
        };
        let part = PartCtx::new(self, spec, merge, groups[remote].1.len());
        let rout = self
            .core
            .send_on(groups[remote].0, move |c| {
                txn::is_free(c, tx, &txn::Want::Keys(rkeys)).then(|| part.run(c, rsub.args()))
            })
            .await;
        let Some(rout) = rout else {
            return false;
        };
        let lout = PartCtx::new(self, spec, merge, groups[local].1.len())
            .run(&self.core, Args::new(args.parts().0, &lranges));
        drop(held);
        if local == 0 {
            parts.push(lout);
            parts.push(rout);
        } else {
            parts.push(rout);
            parts.push(lout);
        }
        true
    }

    /// Runs a split command's parts shard by shard in ascending order, each
    /// the moment its shard grants the locks; the last shard's part runs at
    /// the lock point and takes none.
    async fn split_in_order(
        &mut self,
        spec: &'static CommandSpec,
        args: Args<'_>,
        groups: &[(usize, Vec<usize>)],
        merge: command::Merge,
        parts: &mut Vec<Vec<u8>>,
    ) {
        // Inside EXEC the transaction already holds every key.
        let outer = self.txid;
        let tx = if outer != 0 {
            outer
        } else {
            self.core.next_txid()
        };
        let mut held = (outer == 0).then(|| txn::Held::new(&self.core, tx));
        let mode = lock_mode(spec);
        let last = groups.len().saturating_sub(1);
        for (g, (shard, ix)) in groups.iter().enumerate() {
            let (sub, keys) = split_part(spec, args, ix, mode);
            // The last shard's part runs at the lock point: once it may run,
            // every part has, so it needs no lock of its own, only its keys
            // free. Inside EXEC the transaction holds every key already.
            let take = outer == 0 && g < last;
            if take && let Some(h) = held.as_mut() {
                h.add_shard(*shard);
            }
            let part = PartCtx::new(self, spec, merge, ix.len());
            let out = self
                .core
                .run_deferred(*shard, move |c, resp| {
                    let lock = if take { txn::acquire } else { txn::when_free };
                    lock(
                        c,
                        tx,
                        txn::Want::Keys(keys),
                        Box::new(move |c: &Rc<Core>| {
                            let out = part.run(c, sub.args());
                            resp.send(c, out);
                        }),
                    )
                })
                .await;
            parts.push(out);
        }
        drop(held);
    }

    /// Writes the reply of a split command from its parts' replies.
    fn merge_parts(
        &mut self,
        merge: command::Merge,
        groups: &[(usize, Vec<usize>)],
        parts: &[Vec<u8>],
        nargs: usize,
    ) {
        if let Some(e) = parts.iter().find(|p| p.first() == Some(&b'-')) {
            let end = e
                .iter()
                .position(|&b| b == b'\n')
                .map_or(e.len(), |p| p + 1);
            self.out.extend_from_slice(&e[..end]);
            return;
        }
        match merge {
            command::Merge::Sum => {
                let sum: i64 = parts
                    .iter()
                    .filter_map(|p| {
                        let line = p.get(1..p.len().checked_sub(2)?)?;
                        std::str::from_utf8(line).ok()?.parse::<i64>().ok()
                    })
                    .sum();
                self.reply().int(sum);
            }
            command::Merge::AllOk => self.reply().ok(),
            command::Merge::InKeyOrder => {
                let mut by_arg: Vec<Option<&[u8]>> = vec![None; nargs];
                let mut count = 0;
                for ((_, ix), p) in groups.iter().zip(parts) {
                    let mut at = p
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .map_or(p.len(), |e| e + 2);
                    for &i in ix {
                        let Some(n) = crate::protocol::reply::value_len(&p[at..]) else {
                            break;
                        };
                        by_arg[i] = Some(&p[at..at + n]);
                        at += n;
                        count += 1;
                    }
                }
                let mut r = Reply::new(&mut self.out, self.resp3);
                r.array(count);
                for v in by_arg.into_iter().flatten() {
                    self.out.extend_from_slice(v);
                }
            }
        }
    }

    /// Takes `keys` (grouped by owning shard) for a new transaction of this
    /// client, or with `whole` every shard whole (in the stronger of `whole`
    /// and the keys' modes); None when there is nothing to lock.
    pub async fn lock_keys(
        &mut self,
        keys: Vec<(usize, LockKey)>,
        whole: Option<Mode>,
    ) -> Option<txn::Held> {
        if let Some(m) = whole {
            let m = keys.iter().map(|(_, (_, m))| *m).fold(m, Mode::max);
            let groups = (0..self.core.ncores)
                .map(|s| (s, txn::Want::Whole(m)))
                .collect();
            return Some(txn::lock(&self.core, groups).await);
        }
        if keys.is_empty() {
            return None;
        }
        let groups = crate::shard::group_by_owner(keys, |&(s, _)| s)
            .into_iter()
            .map(|(s, ks)| {
                let keys = txn::dedup(ks.into_iter().map(|(_, k)| k).collect());
                (s, txn::Want::Keys(keys))
            })
            .collect();
        Some(txn::lock(&self.core, groups).await)
    }

    /// Runs a command whose keys all live on shard `t` once no transaction
    /// holds them: as a transaction of its own on that shard.
    async fn run_when_unlocked(&mut self, spec: &'static CommandSpec, args: Args<'_>) {
        let mut keys = Vec::new();
        command_lock_keys(spec, args, self.core.ncores, &mut keys);
        let held = self.lock_keys(keys, None).await;
        let outer = self.txid;
        if let Some(h) = &held {
            self.txid = h.tx();
        }
        self.set_now();
        if self.route_direct(spec, args) != Routed::Done {
            // Unreachable in practice: its own locks never hold it up.
            self.error("ERR command held up by a lock it holds");
        }
        self.flush_pending().await;
        self.txid = outer;
        drop(held);
    }

    async fn dispatch_unbatched(&mut self, spec: &'static CommandSpec, args: Args<'_>) {
        self.flush_pending().await;
        let mode_before = self.reply_mode;
        let start = self.out.len();
        self.route(spec, args).await;
        self.flush_pending().await;
        self.apply_reply_mode(spec, mode_before, start);
    }

    /// CLIENT REPLY OFF/SKIP: drops the reply written since `start`.
    fn apply_reply_mode(
        &mut self,
        spec: &'static CommandSpec,
        mode_before: ReplyMode,
        start: usize,
    ) {
        // CLIENT REPLY decides what happens to its own reply; RESET turns
        // OFF back on before it answers (a pending SKIP still drops its reply).
        if spec.name == "client|reply" || (spec.name == "reset" && mode_before == ReplyMode::Off) {
            return;
        }
        match mode_before {
            ReplyMode::Off => self.out.truncate(start),
            ReplyMode::Skip => {
                self.out.truncate(start);
                self.reply_mode = ReplyMode::On;
            }
            ReplyMode::SkipNext => self.reply_mode = ReplyMode::Skip,
            ReplyMode::On => {}
        }
    }
}
