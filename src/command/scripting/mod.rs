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
pub mod json;
pub mod lua;
pub mod msgpack;

use super::util::*;
use super::{CommandSpec, LocalBoxFuture, OwnedArgs, flags::*};
use crate::command::session::{Session, SessionCore};
use crate::protocol::{Args, Reply};
use crate::shard::engine::CachedScript;
use crate::shard::txn::{self, Mode};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const NOSCRIPT_ERR: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// Options a script's `#!lua` line sets.
#[derive(Default, Clone, Copy)]
struct Shebang {
    no_writes: bool,
}

/// Parses a leading `#!lua [flags=a,b]` line; the body to compile keeps
/// its line numbers (the line becomes empty).
fn shebang(body: &[u8]) -> Result<(Shebang, Vec<u8>), String> {
    if !body.starts_with(b"#!") {
        return Ok((Shebang::default(), body.to_vec()));
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut sb = Shebang::default();
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => sb.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    let mut rest = Vec::with_capacity(body.len() - end);
    rest.extend_from_slice(&body[end..]);
    Ok((sb, rest))
}

/// This core's interpreter, created on first use.
fn engine(c: &Session) -> Result<Rc<lua::Engine>, String> {
    let cell = c.core.lua();
    if let Some(e) = cell.borrow().as_ref() {
        return Ok(e.clone());
    }
    let e = Rc::new(
        lua::Engine::new(c.core.engine.clone(), c.core.id).map_err(|e| format!("ERR Lua: {e}"))?,
    );
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
    let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
    let s = c.core.engine.scripts.read().ok()?.get(&sha).cloned()?;
    Some((sha, s))
}

/// The number of keys of an EVAL-like command, checked as Redis does.
fn numkeys(a: Args<'_>) -> Result<usize, &'static str> {
    let n = parse_i64(a.get(2)).ok_or("ERR value is not an integer or out of range")?;
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

fn eval(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(run_script(c, a, false, false))
}
fn eval_ro(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(run_script(c, a, false, true))
}
fn evalsha(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(run_script(c, a, true, false))
}
fn evalsha_ro(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(run_script(c, a, true, true))
}

/// What a script run may touch and how its locks were taken.
struct Scope {
    sha: String,
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
    /// The declared keys.
    keys: Vec<Vec<u8>>,
    /// Their reads are tracked for a tracking client already.
    tracked: bool,
    /// Declared keys, all on this core, that the run has not locked (it
    /// started without locks): locked before it reaches further.
    unlocked: Vec<u64>,
}

async fn run_script(c: &mut Session, a: OwnedArgs, by_sha: bool, ro_cmd: bool) {
    let n = match numkeys(a.args()) {
        Ok(n) => n,
        Err(e) => return c.error(e),
    };
    let (sha, script) = if by_sha {
        match cached(c, a.get(1)) {
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
    let eng = match engine(c) {
        Ok(e) => e,
        Err(e) => return c.error(&e),
    };
    let epoch = c.core.engine.scripts_epoch.load(Ordering::Acquire);
    let f = match eng.function(&sha, &body, epoch) {
        Ok(f) => f,
        Err(e) => return c.error(&e),
    };
    let read_only = ro_cmd || sb.no_writes;
    let mode = if read_only {
        Mode::Shared
    } else {
        Mode::Exclusive
    };
    let keys: Vec<&[u8]> = (3..3 + n).map(|i| a.get(i)).collect();
    // Locks: inside EXEC the transaction holds them already.
    let outer = c.txid;
    let whole = outer != 0 || script.undeclared.load(Ordering::Acquire);
    // Keys all on this core, the script known to keep to them and nobody
    // holding them: no locks at all. Its commands then all run inline, so
    // the run never yields to another task and nothing can come between
    // them (see `reach` for a run that turns out to go further).
    let local = outer == 0 && !whole && keys.iter().all(|k| c.owner(k) == c.core.id) && {
        let shard = c.core.shard.borrow();
        shard.locks.is_idle()
            || !keys
                .iter()
                .any(|k| shard.locks.conflicts(txn::lock_key(k), mode, 0))
    };
    let held = if outer != 0 || local {
        None
    } else if whole {
        let groups = (0..c.core.ncores)
            .map(|s| (s, txn::Want::Whole(mode)))
            .collect();
        Some(txn::lock(&c.core, groups).await)
    } else {
        let lk = keys
            .iter()
            .map(|k| (c.owner(k), (txn::lock_key(k), mode)))
            .collect();
        c.lock_keys(lk, None).await
    };
    if let Some(h) = &held {
        c.txid = h.tx();
    }
    let mut scope = Scope {
        sha: sha.clone(),
        read_only,
        whole: whole && outer == 0,
        locked: keys.iter().map(|k| txn::lock_key(k)).collect(),
        script: script.clone(),
        extra: None,
        undeclared: false,
        keys: keys.iter().map(|k| k.to_vec()).collect(),
        tracked: false,
        unlocked: if local {
            keys.iter().map(|k| txn::lock_key(k)).collect()
        } else {
            Vec::new()
        },
    };
    let client_resp3 = c.resp3;
    let deny = c.deny_blocking;
    c.deny_blocking = true;
    let result = execute(c, &eng, &f, &a, n, &mut scope).await;
    c.deny_blocking = deny;
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
        crate::metrics::error_reply(&out[start..]);
    }
    c.out = out;
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
) -> Result<mlua::Value, Vec<u8>> {
    let internal = |e: mlua::Error| format!("ERR Lua: {e}").into_bytes();
    let kt = eng
        .strings((3..3 + n).map(|i| a.get(i)))
        .map_err(internal)?;
    let at = eng
        .strings((3 + n..a.len()).map(|i| a.get(i)))
        .map_err(internal)?;
    let (fut, run) = eng.start(f, kt, at).map_err(internal)?;
    run.busy_ms.set(
        c.core
            .config
            .borrow()
            .get_i64("busy-reply-threshold")
            .max(0) as u64,
    );
    let mut fut = Box::pin(fut);
    let outcome = loop {
        let step = std::future::poll_fn(|cx| match eng.polling(&run, || fut.as_mut().poll(cx)) {
            std::task::Poll::Ready(r) => std::task::Poll::Ready(Some(r)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await;
        if let Some(r) = step {
            break r;
        }
        let Some(req) = run.request.borrow_mut().take() else {
            break Err(mlua::Error::runtime("script suspended without a command"));
        };
        let reply = call(c, scope, &run, req).await;
        *run.reply.borrow_mut() = Some(reply);
    };
    let mut vals = outcome.map_err(internal)?.into_iter();
    match (vals.next(), vals.next()) {
        (Some(mlua::Value::Boolean(true)), v) => Ok(v.unwrap_or(mlua::Value::Nil)),
        (_, e) => Err(error_reply(
            &scope.sha,
            &run,
            &e.unwrap_or(mlua::Value::Nil),
        )),
    }
}

/// The error reply of a script whose run raised `e`.
fn error_reply(sha: &str, run: &lua::Run, e: &mlua::Value) -> Vec<u8> {
    let located = |msg: &[u8], line: usize| {
        let mut v = msg.to_vec();
        v.extend_from_slice(format!(" script: {sha}, on @user_script:{line}.").as_bytes());
        v
    };
    match e {
        mlua::Value::String(s) => {
            let text = s.as_bytes().to_vec();
            // Lua's own error, "user_script:N: message".
            let line = std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.strip_prefix("user_script:"))
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
            let mut e: &mlua::Error = e;
            while let mlua::Error::CallbackError { cause, .. } = e {
                e = cause;
            }
            let text = match e {
                mlua::Error::RuntimeError(m) => m.clone(),
                other => other.to_string(),
            };
            let msg = format!("ERR {}", text.lines().next().unwrap_or(""));
            located(msg.as_bytes(), run.line.get().max(1))
        }
        _ => located(b"ERR unknown error", run.line.get().max(1)),
    }
}

/// Runs one command a script asked for; its reply as the script must read
/// it (RESP2 unless the script chose RESP3).
async fn call(c: &mut Session, scope: &mut Scope, run: &lua::Run, req: Vec<Vec<u8>>) -> Vec<u8> {
    let args = OwnedArgs::from_slices(&req);
    let fail = |msg: &str| {
        let mut v = Vec::with_capacity(msg.len() + 3);
        v.push(b'-');
        v.extend_from_slice(msg.as_bytes());
        v.extend_from_slice(b"\r\n");
        v
    };
    let Some(mut spec) = super::lookup(args.get(0)) else {
        return fail("ERR Unknown Redis command called from script");
    };
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        match spec.subcommand(args.get(1)) {
            Some(s) => spec = s,
            None => return fail("ERR Unknown Redis command called from script"),
        }
    }
    if !spec.arity_ok(args.len()) {
        return fail("ERR Wrong number of args calling Redis command from script");
    }
    if spec.has(NOSCRIPT) {
        return fail("ERR This Redis command is not allowed from script");
    }
    if scope.read_only && spec.has(WRITE) {
        return fail("ERR Write commands are not allowed from read-only scripts.");
    }
    if let Err(e) = reach(c, scope, spec, args.args()).await {
        return fail(&e);
    }
    if spec.has(WRITE) {
        run.wrote.set(true);
    }
    // Once the script reads, its client tracks the keys it declared, as
    // Redis 7.0 does (the keys of the EVAL, not of each call).
    if c.tracking && spec.has(READONLY) && !scope.tracked && !scope.keys.is_empty() {
        scope.tracked = true;
        if let Some(mget) = super::lookup(b"mget") {
            let mut parts: Vec<&[u8]> = vec![b"mget"];
            parts.extend(scope.keys.iter().map(|k| k.as_slice()));
            let declared = OwnedArgs::from_slices(&parts);
            crate::command::session::tracking::before_command(c, mget, declared.args()).await;
        }
    }
    let resp3 = c.resp3;
    c.resp3 = run.resp3.get();
    let start = c.out.len();
    c.route(spec, args.args()).await;
    c.flush_pending().await;
    c.resp3 = resp3;
    c.out.split_off(start)
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
    let mut wants: Vec<(usize, txn::Want, String)> = Vec::new();
    if crate::command::session::dispatch::whole_lock(spec, args).is_some() {
        scope.undeclared = true;
        if !scope.whole {
            for s in 0..c.core.ncores {
                wants.push((s, txn::Want::Whole(mode), "the keyspace".into()));
            }
        }
    } else {
        let mut idx = Vec::new();
        spec.key_indexes(args, &mut idx);
        for i in idx {
            let k = args.get(i);
            let lk = txn::lock_key(k);
            if scope.locked.contains(&lk) {
                continue;
            }
            scope.undeclared = true;
            if !scope.whole {
                let name = format!("key '{}'", String::from_utf8_lossy(k));
                wants.push((c.owner(k), txn::Want::Keys(vec![(lk, mode)]), name));
                scope.locked.push(lk);
            }
        }
    }
    if wants.is_empty() {
        return Ok(());
    }
    if !scope.unlocked.is_empty() {
        // First the keys the run holds without locks, on this core: taken
        // at once, before anything can yield.
        let keys = scope.unlocked.drain(..).map(|k| (k, mode)).collect();
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
        c.core.engine.scripts_epoch.fetch_add(1, Ordering::AcqRel);
        c.reply().ok();
    })
}

fn script_kill(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        // A script in the middle of its Lua code on another core (a core
        // running one cannot read this command). One that runs past
        // `busy-reply-threshold` without writing stops by itself.
        let busy = c
            .core
            .engine
            .script_slots
            .iter()
            .find(|slot| slot.since_ms.load(Ordering::Acquire) != 0);
        match busy {
            None => c.error("NOTBUSY No scripts in execution right now."),
            Some(slot) if slot.wrote.load(Ordering::Acquire) => c.error(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            ),
            Some(slot) => {
                let run = slot.run.load(Ordering::Acquire);
                slot.kill.store(run, Ordering::Release);
                c.reply().ok();
            }
        }
    })
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
const fn eval_spec(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines() {
        let (sb, body) = shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(sb.no_writes);
        assert_eq!(body, b"\nreturn 1");
        assert!(!shebang(b"return 1").unwrap().0.no_writes);
        assert_eq!(
            shebang(b"#!lua flags=bogus\nreturn 1").err().unwrap(),
            "ERR Unexpected flag in script shebang: bogus"
        );
        assert_eq!(
            shebang(b"#!luax\nreturn 1").err().unwrap(),
            "ERR Unexpected engine in script shebang: #!luax"
        );
    }
}
