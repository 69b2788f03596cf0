//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! ```text
//!  EVAL body numkeys key.. arg..     EVALSHA sha numkeys ...
//!    │ body cached engine-wide by SHA1 (EngineState::scripts); each core
//!    │ compiles its own copy (lua::Engine)
//!    ▼
//!  locks: the declared keys on their shards (shared for EVAL_RO and
//!         `#!lua flags=no-writes`), or every shard whole while the script
//!         is not known to keep to its KEYS (its first run, and every run
//!         once one touched a key it did not declare)
//!    ▼
//!  the script runs on the client's core; each redis.call is routed like
//!  any command (inline, batched hop), under those locks, its reply read
//!  back into Lua (convert) ─► the result becomes the reply
//! ```
//!
//! A run is atomic on every shard count: no other client's command touches
//! a locked key until the script ends. A script that declared its keys
//! pays only for their locks. One that reaches other keys (a job queue
//! building key names from ARGV) still works: its first run locks every
//! shard, learns it, and its later runs do the same, which serializes them
//! with everything else as a single-threaded server would. A key such a
//! script reaches in a run that only locked its declared keys is locked
//! then if no one holds it; if someone does, the call fails (waiting could
//! deadlock) and the script's later runs lock every shard.

pub mod bit;
pub mod convert;
pub mod flags;
pub mod functions;
pub mod json;
pub mod lua;
pub mod msgpack;
pub mod structlib;

use super::util::*;
use super::{CommandSpec, LocalBoxFuture, OwnedArgs, flags::*};
use crate::command::session::dispatch::{ClientView, finish_forwarded, start_forwarded};
use crate::command::session::{Session, SessionCore};
use crate::protocol::{Args, Reply};
use crate::shard::Core;
use crate::shard::engine::{BUSY_EVAL, BUSY_FUNCTION, CachedScript};
use crate::shard::txn::{self, LockKey, Mode};
use flags::{ALLOW_OOM, NO_WRITES, shebang};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const NOSCRIPT_ERR: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// This core's interpreter, created on first use and again after SCRIPT
/// FLUSH (a run still going on the old one keeps it until it ends).
fn engine(c: &Session) -> Result<Rc<lua::Engine>, String> {
    let cell = c.core.lua();
    let epoch = c.core.engine.scripts_epoch.load(Ordering::Acquire);
    if let Some(e) = cell.borrow().as_ref()
        && e.born.get() == epoch
    {
        return Ok(e.clone());
    }
    let e = Rc::new(
        lua::Engine::new(c.core.engine.clone(), c.core.id).map_err(|e| format!("ERR Lua: {e}"))?,
    );
    e.born.set(epoch);
    *cell.borrow_mut() = Some(e.clone());
    Ok(e)
}

/// Stores `body` in the engine's cache (if new) and returns its SHA1.
fn cache(c: &Session, body: &[u8]) -> (String, Arc<CachedScript>) {
    let sha = lua::sha1_hex(body);
    if let Some(s) = c
        .core
        .engine
        .scripts
        .read()
        .ok()
        .and_then(|m| m.get(&sha).cloned())
    {
        return (sha, s);
    }
    let mut m = match c.core.engine.scripts.write() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    let s = m
        .entry(sha.clone())
        .or_insert_with(|| {
            Arc::new(CachedScript {
                body: body.to_vec(),
                learned: Default::default(),
                undeclared: std::sync::atomic::AtomicBool::new(true),
            })
        })
        .clone();
    (sha, s)
}

fn cached(c: &Session, sha: &[u8]) -> Option<(String, Arc<CachedScript>)> {
    c.core.engine.cached_script(sha)
}

/// What INFO memory reports of scripts and functions.
pub struct ScriptMemory {
    /// This core's interpreter, in bytes.
    pub vm: u64,
    /// Cached script bodies with their entries.
    pub eval_bytes: u64,
    pub cached: usize,
    pub functions: usize,
    pub libraries: usize,
    /// Library code with its entries.
    pub function_bytes: u64,
}

/// Bytes this core's interpreter holds (0 before its first script, and
/// after SCRIPT FLUSH until the next).
pub fn lua_bytes(c: &Session) -> u64 {
    let epoch = c.core.engine.scripts_epoch.load(Ordering::Acquire);
    let cell = c.core.lua();
    let stale = cell
        .borrow()
        .as_ref()
        .is_some_and(|e| e.born.get() != epoch);
    if stale {
        *cell.borrow_mut() = None;
    }
    cell.borrow().as_ref().map_or(0, |e| e.used_memory() as u64)
}

pub fn memory_info(engine: &crate::shard::EngineState, vm: u64) -> ScriptMemory {
    let (cached, eval_bytes) = match engine.scripts.read() {
        Ok(m) => (
            m.len(),
            m.iter()
                .map(|(k, s)| (k.len() + s.body.len() + 64) as u64)
                .sum(),
        ),
        Err(_) => (0, 0),
    };
    let libs = engine.libraries();
    ScriptMemory {
        vm,
        eval_bytes,
        cached,
        functions: libs.by_function.len(),
        libraries: libs.libs.len(),
        function_bytes: libs
            .libs
            .values()
            .map(|l| (l.code.len() + l.name.len() + 64 * (1 + l.functions.len())) as u64)
            .sum(),
    }
}

/// The number of keys of an EVAL-like command, checked as Redis does.
fn numkeys(a: Args<'_>) -> Result<usize, &'static str> {
    numkeys_or(a, "ERR value is not an integer or out of range")
}

/// The same, with the error for a count that is not a number.
fn numkeys_or(a: Args<'_>, not_number: &'static str) -> Result<usize, &'static str> {
    let n = parse_i64(a.get(2)).ok_or(not_number)?;
    if n < 0 {
        return Err("ERR Number of keys can't be negative");
    }
    if n as usize > a.len() - 3 {
        return Err("ERR Number of keys can't be greater than number of args");
    }
    Ok(n as usize)
}

/// Key positions of EVAL-like commands: `numkeys` keys from argument 3.
fn eval_keys(a: Args<'_>, out: &mut Vec<usize>) {
    if a.len() >= 3
        && let Ok(n) = numkeys(a)
    {
        out.extend(3..3 + n);
    }
}

/// Where an EVAL-like command may run whole (see
/// [`CommandSpec::runs_at`]): on the core owning every key it declares,
/// outside transactions and while [`forwardable`]; on another core only
/// when this core has run the script before and its runs so far kept to
/// their declared keys. None without keys or with one core.
fn eval_runs_at(c: &Session, a: Args<'_>) -> Option<usize> {
    if c.txid != 0 || c.in_script || !forwardable(c) || a.len() < 3 {
        return None;
    }
    let n = numkeys(a).ok()?;
    if n == 0 || c.core.ncores == 1 {
        return None;
    }
    let owner = c.owner(a.get(3));
    if (4..3 + n).any(|i| c.owner(a.get(i)) != owner) {
        return None;
    }
    if owner == c.core.id {
        // Runs here (its own checks decide how).
        return Some(owner);
    }
    let eng = c.core.lua().borrow().clone()?;
    if eng.born.get() != c.core.engine.scripts_epoch.load(Ordering::Acquire) {
        return None;
    }
    let by_sha = a
        .get(0)
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"evalsha"));
    let comp = if by_sha {
        let given = a.get(1);
        if given.len() != 40 {
            return None;
        }
        let mut buf = [0u8; 40];
        for (d, s) in buf.iter_mut().zip(given) {
            *d = s.to_ascii_lowercase();
        }
        eng.compiled(std::str::from_utf8(&buf).ok()?)?
    } else {
        eng.compiled(&lua::sha1_hex(a.get(1)))?
    };
    (!comp.learn.undeclared.load(Ordering::Acquire)).then_some(owner)
}

fn eval(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(eval_generic(c, a, false, false))
}
fn eval_ro(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(eval_generic(c, a, false, true))
}
fn evalsha(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(eval_generic(c, a, true, false))
}
fn evalsha_ro(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(eval_generic(c, a, true, true))
}

/// What a run executes: a script body or a library's function.
struct Target {
    /// The SHA1 of a script, or the function's name (error locations).
    name: Rc<str>,
    /// The chunk name errors carry (`user_script`, `user_function`).
    source: &'static str,
    eng: Rc<lua::Engine>,
    f: Rc<mlua::Function>,
    /// What runs of it taught about its keys.
    learn: Arc<CachedScript>,
    /// Its flags; None for a script without a `#!` line (Redis's
    /// compatibility mode, where no flag checks apply).
    flags: Option<u8>,
    /// A function (FCALL), not a script.
    function: bool,
    /// The command's coordinator, to run it again where its keys live
    /// (see [`forward`]).
    entry: super::CoordFn,
}

async fn eval_generic(c: &mut Session, a: OwnedArgs, by_sha: bool, ro_cmd: bool) {
    // Before its commands, as Redis feeds a script to monitors (where the
    // client is connected: not again where a forwarded run goes on).
    if !c.forwarded {
        c.feed_monitors(a.args());
    }
    let n = match numkeys(a.args()) {
        Ok(n) => n,
        Err(e) => return c.error(e),
    };
    let eng = match engine(c) {
        Ok(e) => e,
        Err(e) => return c.error(&e),
    };
    // The SHA1 in lower case (EVALSHA's without allocating).
    let mut buf = [0u8; 40];
    let hashed: String;
    let sha: &str = if by_sha {
        let given = a.get(1);
        if given.len() != 40 {
            return c.error(NOSCRIPT_ERR);
        }
        for (d, s) in buf.iter_mut().zip(given) {
            *d = s.to_ascii_lowercase();
        }
        std::str::from_utf8(&buf).unwrap_or("")
    } else {
        hashed = lua::sha1_hex(a.get(1));
        &hashed
    };
    let comp = match eng.compiled(sha) {
        Some(comp) => comp,
        None => {
            // First run on this core: from the engine's cache (EVAL adds it).
            let (sha, script) = if by_sha {
                match cached(c, sha.as_bytes()) {
                    Some(s) => s,
                    None => return c.error(NOSCRIPT_ERR),
                }
            } else {
                cache(c, a.get(1))
            };
            let (sb, body) = match shebang(&script.body) {
                Ok(x) => x,
                Err(e) => return c.error(&e),
            };
            let f = match eng.compile(&body) {
                Ok(f) => f,
                Err(e) => return c.error(&e),
            };
            let comp = lua::Compiled {
                f: Rc::new(f),
                sha: Rc::from(sha.as_str()),
                flags: sb.present.then_some(sb.flags),
                learn: script,
            };
            eng.keep(&sha, comp.clone());
            comp
        }
    };
    let target = Target {
        name: comp.sha,
        source: "user_script",
        eng,
        f: comp.f,
        learn: comp.learn,
        flags: comp.flags,
        function: false,
        entry: match (by_sha, ro_cmd) {
            (false, false) => eval,
            (true, false) => evalsha,
            (false, true) => eval_ro,
            (true, true) => evalsha_ro,
        },
    };
    run_script(c, a, n, target, ro_cmd).await
}

/// What a script run may touch and how its locks were taken.
struct Scope {
    sha: Rc<str>,
    /// A function (FCALL), not a script.
    function: bool,
    /// `user_script` or `user_function`.
    source: &'static str,
    /// Memory was over `maxmemory` when the run started and the script
    /// does not allow it: write commands that may grow memory fail until
    /// the script has written.
    deny_oom: bool,
    read_only: bool,
    /// Every shard is locked whole (or an enclosing EXEC holds the keys).
    whole: bool,
    /// Declared keys and keys locked since, by lock hash.
    locked: Vec<u64>,
    script: Arc<CachedScript>,
    /// Locks this run took for keys it reached without declaring them.
    extra: Option<txn::Held>,
    /// The run reached keys it did not declare (or the whole keyspace).
    undeclared: bool,
    /// How many keys it declared (the first entries of `locked`; in the
    /// command from argument 3).
    declared: usize,
    /// Their reads are tracked for a tracking client already.
    tracked: bool,
    /// The declared keys, all on this core, are not locked (the run
    /// started without locks): locked before it reaches further.
    unlocked: bool,
    /// The declared keys all live on this other core and are not locked
    /// yet: their lock is asked for right before the run's first command
    /// that cannot run here.
    deferred: Option<usize>,
}

impl Scope {
    /// The declared keys' locks, taken now by a run that started without
    /// them (none when it holds them).
    fn take_unlocked(&mut self) -> Vec<LockKey> {
        if !std::mem::take(&mut self.unlocked) {
            return Vec::new();
        }
        self.declared_locks()
    }

    /// The declared keys as the run locks them.
    fn declared_locks(&self) -> Vec<LockKey> {
        let mode = if self.read_only {
            Mode::Shared
        } else {
            Mode::Exclusive
        };
        self.locked[..self.declared]
            .iter()
            .map(|&k| (k, mode))
            .collect()
    }
}

async fn run_script(c: &mut Session, a: OwnedArgs, n: usize, target: Target, ro_cmd: bool) {
    let Target {
        name: sha,
        source,
        eng,
        f,
        learn: script,
        flags,
        function,
        entry,
    } = target;
    // Flags are checked as Redis does for scripts that declare them.
    let fl = flags.unwrap_or(0);
    let oom = {
        let eviction = crate::storage::evict::settings();
        eviction.maxmemory > 0
            && crate::command::session::memory::over_limit(&c.core, &eviction) > 0
    };
    if flags.is_some() && fl & NO_WRITES == 0 {
        if ro_cmd {
            return c.error("ERR Can not execute a script with write flag using *_ro command.");
        }
        if oom && fl & ALLOW_OOM == 0 {
            return c.error(
                "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
            );
        }
    }
    let read_only = ro_cmd || fl & NO_WRITES != 0;
    let mode = if read_only {
        Mode::Shared
    } else {
        Mode::Exclusive
    };
    let keys = || (3..3 + n).map(|i| a.get(i));
    // Locks: inside EXEC the transaction holds them already.
    let outer = c.txid;
    let whole = outer != 0 || script.undeclared.load(Ordering::Acquire);
    // Keys all on this core, the script known to keep to them and nobody
    // holding them: no locks at all. Its commands then all run inline, so
    // the run never yields to another task and nothing can come between
    // them (see `reach` for a run that turns out to go further).
    // The one core owning every declared key (this one when there are none).
    let owner = match n {
        0 => Some(c.core.id),
        _ => {
            let first = c.owner(a.get(3));
            keys().skip(1).all(|k| c.owner(k) == first).then_some(first)
        }
    };
    let keys_only = outer == 0 && !whole;
    // Keys all on one other core: the run goes there whole, one hop.
    if keys_only
        && let Some(r) = owner
        && r != c.core.id
        && forwardable(c)
    {
        return forward(c, a, entry, r).await;
    }
    let local = keys_only && owner == Some(c.core.id) && {
        let shard = c.core.shard.borrow();
        shard.locks.is_idle() || !keys().any(|k| shard.locks.conflicts(txn::lock_key(k), mode, 0))
    };
    // Keys all on one other core (the script known to keep to them): the
    // lock is asked for there in the same message stream as the run's
    // first command, just ahead of it, instead of in a round trip of its
    // own (see `ask_deferred_lock`).
    let deferred = if keys_only && !local {
        owner.filter(|&r| r != c.core.id)
    } else {
        None
    };
    let held = if outer != 0 || local || deferred.is_some() {
        None
    } else if whole {
        let groups = (0..c.core.ncores)
            .map(|s| (s, txn::Want::Whole(mode)))
            .collect();
        Some(txn::lock(&c.core, groups).await)
    } else {
        let lk = keys()
            .map(|k| (c.owner(k), (txn::lock_key(k), mode)))
            .collect();
        c.lock_keys(lk, None).await
    };
    if let Some(h) = &held {
        c.txid = h.tx();
    } else if deferred.is_some() {
        c.txid = c.core.next_txid();
    }
    let mut scope = Scope {
        sha,
        function,
        source,
        deny_oom: oom && fl & ALLOW_OOM == 0,
        read_only,
        whole: whole && outer == 0,
        locked: keys().map(txn::lock_key).collect(),
        script: script.clone(),
        extra: None,
        undeclared: false,
        declared: n,
        tracked: false,
        unlocked: local,
        deferred,
    };
    let client_resp3 = c.resp3;
    let (deny, in_script, db) = (c.deny_blocking, c.in_script, c.db);
    c.deny_blocking = true;
    c.in_script = true;
    let mut inner_error = Vec::new();
    let result = execute(c, &eng, &f, &a, n, &mut scope, &mut inner_error).await;
    c.deny_blocking = deny;
    c.in_script = in_script;
    // SELECT inside the script does not change the caller's database.
    c.db = db;
    c.resp3 = client_resp3;
    c.txid = outer;
    drop(scope.extra.take());
    drop(held);
    if scope.undeclared {
        script.undeclared.store(true, Ordering::Release);
    } else if outer == 0 && !script.learned.swap(true, Ordering::AcqRel) {
        // The first run kept to its KEYS: later runs lock only those.
        script.undeclared.store(false, Ordering::Release);
    }
    let mut out = std::mem::take(&mut c.out);
    let start = out.len();
    {
        let mut r = Reply::new(&mut out, c.resp3);
        match result {
            Ok(v) => convert::write_reply(&mut r, &v),
            Err(msg) => convert::raw_error(&mut r, &msg),
        }
    }
    if out.get(start) == Some(&b'-') {
        // The script's error counts once: not again when it passes on an
        // error one of its commands replied (counted then).
        let text = &out[start + 1..];
        let inner = inner_error.as_slice();
        if inner.is_empty() || !text.starts_with(inner) {
            crate::metrics::error_reply(&out[start..]);
        }
    }
    c.out = out;
}

/// Whether a run whose keys all live on another core may go there whole:
/// not when the client tracks keys (its tracking state lives on its own
/// core) or while monitors watch (they must see the script's commands
/// after the script, and lines from two cores could pass each other).
fn forwardable(c: &Session) -> bool {
    !c.tracking && !c.forwarded && c.core.engine.monitoring.load(Ordering::Relaxed) == 0
}

/// Runs a script (or function) whose declared keys all live on core
/// `owner`, and which is known to keep to them, there: the command goes
/// to that core in one hop, runs as it would for a client connected
/// there (in the client's database and protocol), and its reply comes
/// back. Its commands then run where their keys are, without a hop each
/// and without locks while nobody holds the keys. What the run does
/// beyond its keys it does from that core, as any run does from its own.
async fn forward(c: &mut Session, a: OwnedArgs, entry: super::CoordFn, owner: usize) {
    let who = ClientView::of(c);
    let out: Vec<u8> = c
        .core
        .run_deferred(owner, move |core, resp| {
            // Most runs finish without waiting: at once, inside this hop.
            // One that must wait goes on as a task of that core.
            match start_forwarded(core, entry, a, who) {
                Ok(reply) => resp.send(core, reply),
                Err(run) => finish_forwarded(core, run, move |c, reply| resp.send(c, reply)),
            }
        })
        .await;
    c.out.extend_from_slice(&out);
}

/// Runs the script to its end, serving its redis.call requests; the result
/// or the error reply's text.
async fn execute(
    c: &mut Session,
    eng: &Rc<lua::Engine>,
    f: &mlua::Function,
    a: &OwnedArgs,
    n: usize,
    scope: &mut Scope,
    inner_error: &mut Vec<u8>,
) -> Result<mlua::Value, Vec<u8>> {
    let internal = |e: mlua::Error| format!("ERR Lua: {e}").into_bytes();
    let now = c.now;
    let busy_ms = c.core.config.borrow().busy_reply_threshold;
    let (th, run) = eng.start(scope.function, now, busy_ms).map_err(internal)?;
    // The inline path of each resume sees the session, the scope and the
    // run through this (rebuilt for each resume from the borrows here).
    let mut ctx = Inline {
        c: std::ptr::null_mut(),
        scope: std::ptr::null_mut(),
        run: Rc::as_ptr(&run),
    };
    macro_rules! inline {
        () => {{
            ctx.c = &mut *c;
            ctx.scope = &mut *scope;
            Some((
                &mut ctx as *mut Inline as *mut (),
                inline_call as lua::InlineFn,
            ))
        }};
    }
    let keys = (3..3 + n).map(|i| a.get(i));
    let mut step = if eng.give_call(&th, f, keys, (3 + n..a.len()).map(|i| a.get(i))) {
        eng.resume(&run, &th, 2, now, inline!())
    } else {
        lua::Step::Failed(mlua::Error::runtime("script stack exhausted"))
    };
    let outcome = loop {
        let reply = match step {
            lua::Step::Done(r) => break Ok(r),
            lua::Step::Failed(e) => break Err(internal(e)),
            lua::Step::Command(Ok(req)) => call(c, scope, &run, req, a).await,
            lua::Step::Command(Err(msg)) => {
                let start = c.out.len();
                c.out.extend_from_slice(format!("-{msg}\r\n").as_bytes());
                start
            }
            lua::Step::Suspended => {
                // The script runs past busy-reply-threshold: its core
                // answers others (BUSY) before it goes on.
                if !run.busy.get() {
                    enter_busy(c, scope, &run, a);
                }
                crate::runtime::next_turn().await;
                step = eng.resume(&run, &th, 0, crate::now_ms(), inline!());
                continue;
            }
            lua::Step::Yielded => {
                step = eng.resume(&run, &th, 0, c.now, inline!());
                continue;
            }
        };
        // The reply was written at the end of the client's output: read
        // into Lua from there, then taken off.
        let given = eng.give_reply(&th, &c.out[reply..]);
        c.out.truncate(reply);
        step = if given {
            eng.resume(&run, &th, 1, c.now, inline!())
        } else {
            lua::Step::Failed(mlua::Error::runtime("unreadable reply"))
        };
    };
    if matches!(outcome, Ok(Ok(_))) {
        eng.finish(th);
    }
    if run.busy.get() {
        let slot = &c.core.engine.script_slots[c.core.id];
        slot.busy.store(false, Ordering::Release);
        if let Ok(mut info) = slot.info.lock() {
            *info = None;
        }
        c.core.engine.busy_scripts.fetch_sub(1, Ordering::AcqRel);
    }
    *inner_error = run.inner_error.take();
    match outcome? {
        Ok(v) => Ok(v),
        Err(e) => Err(error_reply(&scope.sha, scope.source, &run, &e)),
    }
}

/// A run went past busy-reply-threshold: from now until it ends, every
/// client gets BUSY (other than for the few commands allowed then), and
/// its keys are locked if it ran without locks (its core now serves hops
/// from other cores between its steps).
fn enter_busy(c: &mut Session, scope: &mut Scope, run: &lua::Run, a: &OwnedArgs) {
    run.busy.set(true);
    let keys = scope.take_unlocked();
    if !keys.is_empty() {
        let tx = c.core.next_txid();
        // Nobody could take them since the run started: it never yielded.
        if let Some(h) = txn::Held::try_here(&c.core, tx, keys) {
            scope.extra = Some(h);
            c.txid = tx;
        }
    }
    let slot = &c.core.engine.script_slots[c.core.id];
    if let Ok(mut info) = slot.info.lock() {
        *info = Some(crate::shard::engine::BusyRun {
            name: scope.sha.to_string(),
            argv: (0..a.len()).map(|i| a.get(i).to_vec()).collect(),
            start_ms: run.started_ms,
            function: run.function,
        });
    }
    slot.busy.store(true, Ordering::Release);
    c.core.engine.busy_scripts.fetch_add(1, Ordering::AcqRel);
}

/// The run past busy-reply-threshold on any core, if one is.
fn busy_run(c: &Session) -> Option<crate::shard::engine::BusyRun> {
    c.core
        .engine
        .script_slots
        .iter()
        .filter(|s| s.busy.load(Ordering::Acquire))
        .find_map(|s| s.info.lock().ok().and_then(|i| i.clone()))
}

/// SCRIPT KILL (`function` false) and FUNCTION KILL (true).
fn kill(c: &mut Session, function: bool) {
    // A script in the middle of its Lua code, or one past
    // busy-reply-threshold, on any core.
    let busy = c.core.engine.script_slots.iter().find(|slot| {
        slot.busy.load(Ordering::Acquire) || slot.since_ms.load(Ordering::Acquire) != 0
    });
    match busy {
        None => c.error("NOTBUSY No scripts in execution right now."),
        Some(slot) if slot.wrote.load(Ordering::Acquire) => c.error(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        ),
        Some(slot) if slot.function.load(Ordering::Acquire) != function => {
            c.error(if function { BUSY_EVAL } else { BUSY_FUNCTION })
        }
        Some(slot) => {
            let run = slot.run.load(Ordering::Acquire);
            slot.kill.store(run, Ordering::Release);
            c.reply().ok();
        }
    }
}

/// The error reply of a script whose run raised `e`.
fn error_reply(sha: &str, source: &str, run: &lua::Run, e: &mlua::Value) -> Vec<u8> {
    let located = |msg: &[u8], line: usize| {
        let mut v = msg.to_vec();
        v.extend_from_slice(format!(" script: {sha}, on @{source}:{line}.").as_bytes());
        v
    };
    match e {
        mlua::Value::String(s) => {
            let text = s.as_bytes().to_vec();
            // Lua's own error, "user_script:N: message".
            let line = std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.strip_prefix(source))
                .and_then(|t| t.strip_prefix(':'))
                .and_then(|r| r.split(':').next())
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(run.line.get().max(1));
            let mut msg = b"ERR ".to_vec();
            msg.extend_from_slice(&text);
            located(&msg, line)
        }
        mlua::Value::Table(t) => match t.raw_get::<mlua::Value>("err") {
            Ok(mlua::Value::String(s)) => located(&s.as_bytes(), run.line.get().max(1)),
            _ => located(b"ERR unknown error", run.line.get().max(1)),
        },
        mlua::Value::Error(e) => {
            // An error a library function raised: its message alone.
            let text = lua::raised_text(e);
            let msg = format!("ERR {}", text.lines().next().unwrap_or(""));
            located(msg.as_bytes(), run.line.get().max(1))
        }
        _ => located(b"ERR unknown error", run.line.get().max(1)),
    }
}

/// The checks a script's command passes before it runs (Redis's, in its
/// order): its spec, or the refusal (with the spec when one was found).
fn admit(
    scope: &Scope,
    run: &lua::Run,
    args: &OwnedArgs,
) -> Result<&'static CommandSpec, (Option<&'static CommandSpec>, String)> {
    let unknown = || {
        (
            None,
            "ERR Unknown Redis command called from script".to_owned(),
        )
    };
    let mut spec = super::lookup(args.get(0)).ok_or_else(unknown)?;
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        spec = spec.subcommand(args.get(1)).ok_or_else(unknown)?;
    }
    let refuse = |msg: &str| Err((Some(spec), msg.to_owned()));
    if !spec.arity_ok(args.len()) {
        return refuse("ERR Wrong number of args calling Redis command from script");
    }
    if spec.has(NOSCRIPT) {
        return refuse("ERR This Redis command is not allowed from script");
    }
    // Commands that may replicate (PUBLISH) count as writes here, which
    // lets read-only scripts run through CLIENT PAUSE WRITE.
    if scope.read_only && spec.flags & (WRITE | MAY_REPLICATE) != 0 {
        return refuse("ERR Write commands are not allowed from read-only scripts.");
    }
    if (spec.name == "xread" || spec.name == "xreadgroup")
        && (1..args.len())
            .map(|i| args.get(i))
            .take_while(|a| !eq(a, "streams"))
            .any(|a| eq(a, "block"))
    {
        return refuse(&format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            spec.name
        ));
    }
    if scope.deny_oom && !run.wrote.get() && spec.has(DENYOOM) {
        return refuse(crate::command::session::memory::OOM_ERROR);
    }
    Ok(spec)
}

/// Runs one command a script asked for, its reply (as the script must read
/// it: RESP2 unless the script chose RESP3) written at the end of the
/// client's output; returns where it starts.
async fn call(
    c: &mut Session,
    scope: &mut Scope,
    run: &lua::Run,
    args: OwnedArgs,
    a: &OwnedArgs,
) -> usize {
    let start = c.out.len();
    ask_deferred_lock(c, scope);
    let spec = match admit(scope, run, &args) {
        Ok(spec) => spec,
        Err((spec, msg)) => {
            refuse(c, run, spec, &msg);
            return start;
        }
    };
    if let Err(e) = reach(c, scope, spec, args.args()).await {
        refuse(c, run, None, &e);
        return start;
    }
    if spec.has(WRITE) {
        run.wrote.set(true);
    }
    // Once the script reads, its client tracks the keys it declared, as
    // Redis 7.0 does (the keys of the EVAL, not of each call).
    if c.tracking && spec.has(READONLY) && !scope.tracked && scope.declared > 0 {
        scope.tracked = true;
        if let Some(mget) = super::lookup(b"mget") {
            let mut parts: Vec<&[u8]> = vec![b"mget"];
            parts.extend((3..3 + scope.declared).map(|i| a.get(i)));
            let declared = OwnedArgs::from_slices(&parts);
            crate::command::session::tracking::before_command(c, mget, declared.args()).await;
        }
    }
    let resp3 = c.resp3;
    c.resp3 = run.resp3.get();
    c.feed_script_command(spec, args.args());
    c.route(spec, args.args()).await;
    c.flush_pending().await;
    c.resp3 = resp3;
    note_error(run, &c.out[start..]);
    start
}

/// Asks for the locks of a run whose declared keys all live on another
/// core, as the first of its messages to that core. The commands it sends
/// there next queue behind that request: they run once the keys are its
/// own, and nothing of another transaction comes between. Until then the
/// run has read and written nothing there, so taking the keys now is as if
/// it had started now; it holds no other lock while it waits, so the wait
/// cannot deadlock.
fn ask_deferred_lock(c: &mut Session, scope: &mut Scope) {
    let Some(shard) = scope.deferred.take() else {
        return;
    };
    let keys = scope.declared_locks();
    let tx = c.txid;
    scope
        .extra
        .get_or_insert_with(|| txn::Held::new(&c.core, tx))
        .add_shard(shard);
    c.core.post(shard, move |core| {
        txn::acquire(core, tx, txn::Want::Keys(keys), Box::new(|_: &Rc<Core>| {}))
    });
}

/// A command of a script refused: counted as rejected (with its spec),
/// its error counted once, and written as its reply.
fn refuse(c: &mut Session, run: &lua::Run, spec: Option<&'static CommandSpec>, msg: &str) {
    if let Some(spec) = spec {
        crate::metrics::with(|s| {
            s.commands
                .entry(crate::metrics::CmdName(spec.name))
                .or_default()
                .rejected += 1
        });
    }
    let start = c.out.len();
    c.out.push(b'-');
    c.out.extend_from_slice(msg.as_bytes());
    c.out.extend_from_slice(b"\r\n");
    crate::metrics::error_reply(&c.out[start..]);
    *run.inner_error.borrow_mut() = msg.as_bytes().to_vec();
}

/// Remembers an error a command replied to the script (counted already).
fn note_error(run: &lua::Run, reply: &[u8]) {
    if reply.first() == Some(&b'-') {
        let end = reply.len().saturating_sub(2).max(1);
        *run.inner_error.borrow_mut() = reply[1..end].to_vec();
    }
}

/// What the inline path of redis.call reaches through the run in progress.
struct Inline {
    c: *mut Session,
    scope: *mut Scope,
    run: *const lua::Run,
}

/// redis.call and redis.pcall without leaving Lua: a command the script
/// may run at once (admitted, its keys locked or all on this core with no
/// transaction holding them, nothing pending) runs here and its reply is
/// returned; None sends it the long way (a yield to `execute`).
fn inline_call(ctx: *mut (), l: *mut mlua::ffi::lua_State, args: &OwnedArgs) -> bool {
    // SAFETY: `ctx` is the Inline that `execute` built for this resume from
    // its own exclusive borrows of the session and the scope, and it uses
    // neither until the resume (inside which this runs) returns.
    let (c, scope, run) = unsafe {
        let i = &*(ctx as *const Inline);
        (&mut *i.c, &mut *i.scope, &*i.run)
    };
    let Ok(spec) = admit(scope, run, args) else {
        return false;
    };
    // Only what needs no new lock.
    if !covered(scope, spec, args.args()) {
        return false;
    }
    if c.tracking && spec.has(READONLY) && !scope.tracked && scope.declared > 0 {
        return false;
    }
    let resp3 = c.resp3;
    c.resp3 = run.resp3.get();
    let start = c.out.len();
    let ran = c.run_inline(spec, args.args());
    c.resp3 = resp3;
    if !ran {
        return false;
    }
    c.feed_script_command(spec, args.args());
    if spec.has(WRITE) {
        run.wrote.set(true);
    }
    note_error(run, &c.out[start..]);
    // SAFETY: `l` is the state running redis.call's C function, which
    // called this with room on its stack.
    let pushed = unsafe { convert::push_reply(l, &c.out[start..]) };
    c.out.truncate(start);
    if !pushed {
        // SAFETY: as above.
        unsafe {
            mlua::ffi::lua_createtable(l, 0, 1);
            mlua::ffi::lua_pushstring(l, c"ERR unreadable reply".as_ptr());
            mlua::ffi::lua_setfield(l, -2, c"err".as_ptr());
        }
    }
    true
}

/// Whether the run holds everything the command touches already (its
/// declared keys, keys locked since, or every shard). A key or the whole
/// keyspace the script did not declare is noted either way.
fn covered(scope: &mut Scope, spec: &'static CommandSpec, args: Args<'_>) -> bool {
    if crate::command::session::dispatch::whole_lock(spec, args).is_some() {
        scope.undeclared = true;
        return scope.whole;
    }
    let mut held = |key: &[u8]| {
        if scope.locked.contains(&txn::lock_key(key)) {
            return true;
        }
        scope.undeclared = true;
        scope.whole
    };
    if let Some(k) = spec.fixed_key(args.len()) {
        return held(args.get(k));
    }
    let mut idx = Vec::new();
    spec.key_indexes(args, &mut idx);
    idx.into_iter().all(|i| held(args.get(i)))
}

/// Makes sure a command a script runs touches only what the script has
/// locked. A key it did not declare (or a command over the whole keyspace)
/// marks the script, whose later runs lock every shard; in this run the
/// lock is taken if nobody holds it, else the call fails (waiting for it
/// while holding other locks could deadlock).
async fn reach(
    c: &mut Session,
    scope: &mut Scope,
    spec: &'static CommandSpec,
    args: Args<'_>,
) -> Result<(), String> {
    let mode = if scope.read_only {
        Mode::Shared
    } else {
        Mode::Exclusive
    };
    if covered(scope, spec, args) {
        return Ok(());
    }
    // What it lacks (the run holds no whole-keyspace lock here).
    let mut wants: Vec<(usize, txn::Want, String)> = Vec::new();
    if crate::command::session::dispatch::whole_lock(spec, args).is_some() {
        for s in 0..c.core.ncores {
            wants.push((s, txn::Want::Whole(mode), "the keyspace".into()));
        }
    } else {
        let mut idx = Vec::new();
        spec.key_indexes(args, &mut idx);
        for i in idx {
            let k = args.get(i);
            let lk = txn::lock_key(k);
            if !scope.locked.contains(&lk) {
                let name = format!("key '{}'", String::from_utf8_lossy(k));
                wants.push((c.owner(k), txn::Want::Keys(vec![(lk, mode)]), name));
                scope.locked.push(lk);
            }
        }
    }
    let keys = scope.take_unlocked();
    if !keys.is_empty() {
        // First the keys the run holds without locks, on this core: taken
        // at once, before anything can yield.
        wants.insert(0, (c.core.id, txn::Want::Keys(keys), "its keys".into()));
    }
    scope.script.undeclared.store(true, Ordering::Release);
    let tx = if c.txid != 0 {
        c.txid
    } else {
        c.core.next_txid()
    };
    for (shard, want, name) in wants {
        let got = c
            .core
            .run_on(shard, move |core| txn::try_acquire(core, tx, want))
            .await;
        let h = scope
            .extra
            .get_or_insert_with(|| txn::Held::new(&c.core, tx));
        h.add_shard(shard);
        if !got {
            return Err(format!(
                "ERR Script reached {name}, which it did not declare, while another transaction held it; its next runs lock every shard"
            ));
        }
    }
    if c.txid == 0 {
        c.txid = tx;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// SCRIPT
// ---------------------------------------------------------------------------

fn script_load(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let body = a.get(2);
        let checked = shebang(body).and_then(|(_, b)| {
            let eng = engine(c)?;
            eng.compile(&b).map(|_| ())
        });
        if let Err(e) = checked {
            return c.error(&e);
        }
        let (sha, _) = cache(c, body);
        c.reply().bulk(sha.as_bytes());
    })
}

fn script_exists(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let found: Vec<bool> = (2..a.len())
            .map(|i| cached(c, a.get(i)).is_some())
            .collect();
        let mut r = c.reply();
        r.array(found.len());
        for f in found {
            r.int(f as i64);
        }
    })
}

fn script_flush(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let ok = match a.len() {
            2 => true,
            3 => eq(a.get(2), "async") || eq(a.get(2), "sync"),
            _ => false,
        };
        if !ok {
            return c.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        }
        match c.core.engine.scripts.write() {
            Ok(mut m) => m.clear(),
            Err(p) => p.into_inner().clear(),
        }
        // Every core replaces its interpreter before its next script.
        c.core.engine.scripts_epoch.fetch_add(1, Ordering::AcqRel);
        *c.core.lua().borrow_mut() = None;
        c.reply().ok();
    })
}

fn script_kill(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { kill(c, false) })
}

fn script_help(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        super::server::reply_help(
            c,
            "SCRIPT",
            &[
                "DEBUG (YES|SYNC|NO)",
                "    Set the debug mode for subsequent scripts executed.",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
            ],
        )
    })
}

const SCRIPT_SUBS: &[CommandSpec] = &[
    CommandSpec {
        name: "script|load",
        arity: 3,
        flags: NOSCRIPT | STALE,
        acl: &["slow", "scripting"],
        group: "scripting",
        summary: "Load the specified Lua script into the script cache.",
        since: "2.6.0",
        complexity: "O(N) with N being the length in bytes of the script body.",
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
        coord: Some(script_load),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "script|exists",
        arity: -3,
        flags: NOSCRIPT,
        acl: &["slow", "scripting"],
        group: "scripting",
        summary: "Check existence of scripts in the script cache.",
        since: "2.6.0",
        complexity: "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
        tips: &[
            "request_policy:all_shards",
            "response_policy:agg_logical_and",
        ],
        coord: Some(script_exists),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "script|flush",
        arity: -2,
        flags: NOSCRIPT,
        acl: &["slow", "scripting"],
        group: "scripting",
        summary: "Remove all the scripts from the script cache.",
        since: "2.6.0",
        complexity: "O(N) with N being the number of scripts in cache",
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
        coord: Some(script_flush),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "script|kill",
        arity: 2,
        flags: NOSCRIPT | ALLOW_BUSY,
        acl: &["slow", "scripting"],
        group: "scripting",
        summary: "Kill the script currently in execution.",
        since: "2.6.0",
        complexity: "O(1)",
        tips: &["request_policy:all_shards", "response_policy:one_succeeded"],
        coord: Some(script_kill),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "script|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: &["slow", "scripting"],
        group: "scripting",
        summary: "Show helpful text about the different subcommands",
        since: "5.0.0",
        complexity: "O(1)",
        coord: Some(script_help),
        ..CommandSpec::DEFAULT
    },
];

/// The EVAL family's spec: keys from `numkeys`, its own locks.
pub(super) const fn eval_spec(
    name: &'static str,
    flags: u64,
    summary: &'static str,
    since: &'static str,
    acl: &'static [&'static str],
    coord: super::CoordFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity: -3,
        flags: flags
            | NOSCRIPT
            | SKIP_MONITOR
            | NO_MANDATORY_KEYS
            | STALE
            | MOVABLE_KEYS
            | OWN_LOCKS,
        keys: Some(eval_keys),
        acl,
        group: "scripting",
        summary,
        since,
        complexity: "Depends on the script that is executed.",
        coord: Some(coord),
        runs_at: Some(eval_runs_at),
        ..CommandSpec::DEFAULT
    }
}

/// Scripting family specs.
pub static SPECS: &[CommandSpec] = &[
    eval_spec(
        "eval",
        MAY_REPLICATE,
        "Execute a Lua script server side",
        "2.6.0",
        &["slow", "scripting"],
        eval,
    ),
    eval_spec(
        "evalsha",
        MAY_REPLICATE,
        "Execute a Lua script server side",
        "2.6.0",
        &["slow", "scripting"],
        evalsha,
    ),
    eval_spec(
        "eval_ro",
        READONLY,
        "Execute a read-only Lua script server side",
        "7.0.0",
        &["slow", "scripting"],
        eval_ro,
    ),
    eval_spec(
        "evalsha_ro",
        READONLY,
        "Execute a read-only Lua script server side",
        "7.0.0",
        &["slow", "scripting"],
        evalsha_ro,
    ),
    CommandSpec {
        name: "script",
        arity: -2,
        acl: &["slow"],
        group: "scripting",
        summary: "A container for Lua scripts management commands",
        since: "2.6.0",
        complexity: "Depends on subcommand.",
        subcommands: SCRIPT_SUBS,
        ..CommandSpec::DEFAULT
    },
];

/// Runs `code` in a bare interpreter with one library installed (the
/// libraries' unit tests).
#[cfg(test)]
fn eval_with(install: fn(&mlua::Lua, &mlua::Table) -> mlua::Result<()>, code: &str) -> String {
    let lua = mlua::Lua::new();
    install(&lua, &lua.globals()).unwrap();
    lua.load(code).eval::<String>().unwrap()
}
