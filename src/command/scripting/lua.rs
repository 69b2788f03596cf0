//! One core's Lua 5.1 interpreter: the sandbox scripts run in, the `redis`
//! library, and the scripts this core compiled.
//!
//! ```text
//!  EVAL ─► Engine::function(sha, body) ─► compiled once per core
//!       ─► Engine::start(f, KEYS, ARGV) ─► a Lua thread per run, polled by
//!          the coordinator; redis.call parks a request in the run and yields
//!          ─► the coordinator runs it like any command (inline or hop,
//!             under the script's locks) ─► the reply resumes the thread
//! ```
//!
//! Scripts of one core may interleave at their redis.call points (each
//! holds its keys' locks, so none sees another half done); a run finds its
//! state by the Lua thread it runs on. Globals are read-only, as in Redis 7:
//! KEYS and ARGV are the parameters of the function a script body becomes.

use super::convert;
use crate::protocol::value;
use mlua::{Function, Lua, LuaOptions, StdLib, Table, Thread, Variadic};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

/// What one running script and its coordinator share.
#[derive(Default)]
pub struct Run {
    /// A command the script asked to run (redis.call / redis.pcall).
    pub request: RefCell<Option<Vec<Vec<u8>>>>,
    /// Its reply, once run.
    pub reply: RefCell<Option<Vec<u8>>>,
    /// Replies to the script's commands in RESP3 (redis.setresp(3)).
    pub resp3: Cell<bool>,
    /// The script line of the latest redis.call that failed.
    pub line: Cell<usize>,
    /// The script ran a write command (SCRIPT KILL then refuses).
    pub wrote: Cell<bool>,
    /// This run's number on its core.
    pub id: u64,
    /// `busy-reply-threshold` when the run started (0: none).
    pub busy_ms: Cell<u64>,
}

/// A core's interpreter and compiled scripts.
pub struct Engine {
    lua: Lua,
    compiled: RefCell<HashMap<String, Function>>,
    /// The engine-wide cache epoch the compiled scripts belong to.
    epoch: Cell<u64>,
    /// The read-only view of the globals scripts run in.
    env: Table,
    /// The run being polled (the `redis` library's callbacks serve it).
    current: Rc<RefCell<Option<Rc<Run>>>>,
    /// Calls a script function in protected mode: `(ok, result...)`.
    runner: Function,
    /// The engine's state and this core's index (its script slot).
    state: Arc<crate::shard::EngineState>,
    core: usize,
    /// Runs started on this core.
    runs: Cell<u64>,
}

/// How often (in Lua instructions) a running script checks for SCRIPT KILL.
const KILL_CHECK_EVERY: u32 = 10_000;

/// The error a killed script ends with.
pub const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// The error a script ends with when it ran past `busy-reply-threshold`
/// without writing: the core running it reads no commands meanwhile (no
/// SCRIPT KILL can reach it there, nor can its clients be told BUSY), so
/// it is stopped as SCRIPT KILL would stop it.
pub const BUSY_KILLED: &str = "Script killed: it ran longer than busy-reply-threshold without writing, and the core running it serves no other command meanwhile";

/// Waits for the coordinator to put the reply to the run's request.
struct AwaitReply(Rc<Run>);

impl Future for AwaitReply {
    type Output = Vec<u8>;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Vec<u8>> {
        match self.0.reply.borrow_mut().take() {
            Some(r) => Poll::Ready(r),
            // The coordinator polls the script again once it has the reply.
            None => Poll::Pending,
        }
    }
}

/// Arguments of redis.call as bytes: strings as they are, numbers as Lua
/// prints them.
fn command_args(args: &Variadic<mlua::Value>) -> Result<Vec<Vec<u8>>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut out = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            mlua::Value::String(s) => out.push(s.as_bytes().to_vec()),
            // Numbers as Redis prints them for commands (`%.17g`).
            mlua::Value::Integer(n) => {
                out.push(crate::protocol::reply::format_g17(*n as f64).into_bytes())
            }
            mlua::Value::Number(n) => out.push(crate::protocol::reply::format_g17(*n).into_bytes()),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(out)
}

impl Engine {
    /// A fresh interpreter with Redis's libraries and sandbox.
    pub fn new(state: Arc<crate::shard::EngineState>, core: usize) -> mlua::Result<Engine> {
        // SAFETY: the debug library is loaded only so the `redis` library
        // can read the line a failing redis.call came from: `debug` leaves
        // the globals below, before any script runs, and only that one
        // function is kept, as an upvalue scripts cannot reach.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let current: Rc<RefCell<Option<Rc<Run>>>> = Rc::default();
        let g = lua.globals();
        for name in [
            "loadstring",
            "load",
            "dofile",
            "loadfile",
            "module",
            "require",
        ] {
            g.raw_set(name, mlua::Value::Nil)?;
        }
        let redis = lua.create_table()?;
        let r2 = current.clone();
        let exec = lua.create_async_function(move |lua: Lua, args: Variadic<mlua::Value>| {
            let run = r2.borrow().clone();
            async move {
                let run = run.ok_or_else(|| {
                    mlua::Error::runtime("redis.call is only available to the script's own thread")
                })?;
                let args = match command_args(&args) {
                    Ok(a) => a,
                    Err(e) => {
                        let t = lua.create_table()?;
                        t.raw_set("err", e)?;
                        return Ok(mlua::Value::Table(t));
                    }
                };
                *run.request.borrow_mut() = Some(args);
                let bytes = AwaitReply(run).await;
                match value::parse(&bytes) {
                    Some((v, _)) => convert::to_lua(&lua, &v),
                    None => Err(mlua::Error::runtime("unreadable reply")),
                }
            }
        })?;
        let r3 = current.clone();
        let raised = lua.create_function(move |_, line: usize| {
            if let Some(run) = r3.borrow().as_ref() {
                run.line.set(line);
            }
            Ok(())
        })?;
        let r4 = current.clone();
        redis.raw_set(
            "setresp",
            lua.create_function(move |_, v: mlua::Value| {
                let n = match v {
                    mlua::Value::Integer(n) => n as f64,
                    mlua::Value::Number(n) => n,
                    _ => 0.0,
                };
                if n != 2.0 && n != 3.0 {
                    return Err(mlua::Error::runtime("RESP version must be 2 or 3."));
                }
                if let Some(run) = r4.borrow().as_ref() {
                    run.resp3.set(n == 3.0);
                }
                Ok(())
            })?,
        )?;
        redis.raw_set(
            "error_reply",
            lua.create_function(|lua: &Lua, msg: mlua::LuaString| {
                let t = lua.create_table()?;
                t.raw_set(
                    "err",
                    lua.create_string(convert::error_text(&msg.as_bytes()))?,
                )?;
                Ok(t)
            })?,
        )?;
        redis.raw_set(
            "status_reply",
            lua.create_function(|lua: &Lua, msg: mlua::LuaString| {
                let t = lua.create_table()?;
                t.raw_set("ok", msg)?;
                Ok(t)
            })?,
        )?;
        redis.raw_set(
            "sha1hex",
            lua.create_function(|_, s: mlua::LuaString| Ok(sha1_hex(&s.as_bytes())))?,
        )?;
        redis.raw_set(
            "log",
            lua.create_function(|_, (level, msg): (i64, Variadic<mlua::LuaString>)| {
                let text: Vec<String> = msg
                    .iter()
                    .map(|m| String::from_utf8_lossy(&m.as_bytes()).into_owned())
                    .collect();
                let text = text.join(" ");
                match level {
                    0 => tracing::debug!("{text}"),
                    1 | 2 => tracing::info!("{text}"),
                    _ => tracing::warn!("{text}"),
                }
                Ok(())
            })?,
        )?;
        for (name, v) in [
            ("LOG_DEBUG", 0),
            ("LOG_VERBOSE", 1),
            ("LOG_NOTICE", 2),
            ("LOG_WARNING", 3),
            ("REPL_NONE", 0),
            ("REPL_SLAVE", 1),
            ("REPL_REPLICA", 1),
            ("REPL_AOF", 2),
            ("REPL_ALL", 3),
        ] {
            redis.raw_set(name, v)?;
        }
        redis.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
        redis.raw_set("REDIS_VERSION_NUM", redis_version_num())?;
        // Effects are what is replicated (as Redis 7 always does): these
        // calls have nothing to change.
        redis.raw_set(
            "set_repl",
            lua.create_function(|_, _: mlua::MultiValue| Ok(()))?,
        )?;
        redis.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
        redis.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
        redis.raw_set(
            "debug",
            lua.create_function(|_, _: mlua::MultiValue| Ok(()))?,
        )?;
        g.raw_set("redis", redis.clone())?;
        super::json::install(&lua, &g)?;
        super::bit::install(&lua, &g)?;
        super::msgpack::install(&lua, &g)?;
        // redis.call raises the command's error (a string, as Redis 7's
        // scripts see it); redis.pcall returns it as {err=...}.
        let setup: Function = lua
            .load(
                r#"
local exec, raised, redis, g, getinfo = ...
local error, type, select, unpack = g.error, g.type, g.select, g.unpack
local create, resume, status, yield =
    g.coroutine.create, g.coroutine.resume, g.coroutine.status, g.coroutine.yield
local rawpcall = g.pcall
redis.pcall = function(...) return exec(...) end
-- redis.call raises the command's error as its {err=...} table, noting the
-- script line it was called from.
redis.call = function(...)
    local r = exec(...)
    if type(r) == 'table' and r.err ~= nil then
        local info = getinfo(2, 'Sl')
        if info and info.source == '@user_script' then raised(info.currentline) end
        error(r, 0)
    end
    return r
end
-- pcall and xpcall that let redis.call inside them wait for another core
-- (a Lua 5.1 pcall cannot be yielded across; a coroutine can). pcall
-- hands an error table's message to the script, as Redis's does.
local function pack(...) return { n = select('#', ...), ... } end
local function drive(co, handler, plain, r)
    while true do
        if not r[1] then
            local e = r[2]
            if plain and type(e) == 'table' and type(e.err) == 'string' then e = e.err end
            if handler then
                -- A failing handler is called again with its own error,
                -- as Lua's xpcall does.
                local h = pack(rawpcall(handler, e))
                if not h[1] then h = pack(rawpcall(handler, h[2])) end
                if h[1] then return false, unpack(h, 2, h.n) end
                return false, h[2]
            end
            return false, e
        end
        if status(co) == 'dead' then return true, unpack(r, 2, r.n) end
        r = pack(resume(co, yield(unpack(r, 2, r.n))))
    end
end
g.pcall = function(f, ...)
    if type(f) ~= 'function' then return rawpcall(f, ...) end
    local co = create(f)
    return drive(co, nil, true, pack(resume(co, ...)))
end
g.xpcall = function(f, handler)
    if type(f) ~= 'function' then return rawpcall(f) end
    local co = create(f)
    return drive(co, handler, false, pack(resume(co)))
end
return function(f, keys, argv)
    local co = create(f)
    return drive(co, nil, false, pack(resume(co, keys, argv)))
end
"#,
            )
            .set_name("=redis")
            .into_function()?;
        let getinfo: Function = lua
            .load("return debug.getinfo")
            .set_name("=getinfo")
            .call(())?;
        g.raw_set("debug", mlua::Value::Nil)?;
        let runner: Function = setup.call((exec, raised, redis, lua.globals(), getinfo))?;
        // Read-only globals, as in Redis 7.
        // Read-only globals, as in Redis 7: scripts see `_G` through a
        // proxy that refuses writes, the libraries likewise, and reading a
        // global that does not exist is an error.
        let guard: Function = lua
            .load(
                r#"
local G = ...
local error, tostring, setmetatable, rawset, ipairs =
    G.error, G.tostring, G.setmetatable, G.rawset, G.ipairs
local function ro() error("Attempt to modify a readonly table", 2) end
local readonly = setmetatable({}, { __mode = 'k' })
local function protect(t)
    local p = {}
    readonly[p] = true
    local mt = { __index = t, __newindex = ro }
    local shown = {}
    readonly[shown] = true
    setmetatable(shown, { __newindex = ro, __metatable = false })
    mt.__metatable = shown
    return setmetatable(p, mt)
end
for _, name in ipairs({ 'redis', 'string', 'table', 'math', 'coroutine', 'cjson', 'bit', 'cmsgpack' }) do
    rawset(G, name, protect(G[name]))
end
rawset(G, 'print', nil)
local function ro0() error("Attempt to modify a readonly table", 0) end
rawset(G, 'setmetatable', function(t, mt)
    if readonly[t] then ro0() end
    return setmetatable(t, mt)
end)
rawset(G, 'rawset', function(t, k, v)
    if readonly[t] then ro0() end
    return rawset(t, k, v)
end)
setmetatable(G, {
    __index = function(_, name)
        error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end,
})
local env = protect(G)
rawset(G, '_G', env)
return env
"#,
            )
            .set_name("=sandbox")
            .into_function()?;
        let env: Table = guard.call(lua.globals())?;
        // A script that loops checks for SCRIPT KILL from another core.
        let st = state.clone();
        lua.set_global_hook(
            mlua::HookTriggers::new().every_nth_instruction(KILL_CHECK_EVERY),
            move |_, _| {
                let slot = &st.script_slots[core];
                let kill = slot.kill.load(Ordering::Acquire);
                if kill != 0 && kill == slot.run.load(Ordering::Acquire) {
                    return Err(mlua::Error::runtime(KILLED));
                }
                let limit = slot.busy_ms.load(Ordering::Acquire);
                let since = slot.since_ms.load(Ordering::Acquire);
                if limit > 0
                    && since > 0
                    && !slot.wrote.load(Ordering::Acquire)
                    && crate::now_ms().saturating_sub(since) > limit
                {
                    return Err(mlua::Error::runtime(BUSY_KILLED));
                }
                if st.stopping() {
                    return Err(mlua::Error::runtime(
                        "Script stopped: the server is shutting down",
                    ));
                }
                Ok(mlua::VmState::Continue)
            },
        )?;
        drop(g);
        Ok(Engine {
            env,
            lua,
            compiled: RefCell::default(),
            epoch: Cell::new(0),
            current,
            runner,
            state,
            core,
            runs: Cell::new(0),
        })
    }

    /// The compiled function of script `sha` (its body given), compiled on
    /// first use; `epoch` is the engine-wide cache epoch (SCRIPT FLUSH
    /// bumps it and this core drops what it compiled before).
    pub fn function(&self, sha: &str, body: &[u8], epoch: u64) -> Result<Function, String> {
        if self.epoch.get() != epoch {
            self.compiled.borrow_mut().clear();
            self.epoch.set(epoch);
        }
        if let Some(f) = self.compiled.borrow().get(sha) {
            return Ok(f.clone());
        }
        let f = self.compile(body)?;
        self.compiled.borrow_mut().insert(sha.to_owned(), f.clone());
        Ok(f)
    }

    /// Compiles a script body into the function a run calls with KEYS
    /// and ARGV; the error is Redis's compile error text.
    pub fn compile(&self, body: &[u8]) -> Result<Function, String> {
        // Compiled alone first, so its errors read as Redis's do.
        self.lua
            .load(body)
            .set_name("@user_script")
            .into_function()
            .map_err(|e| compile_error(&e))?;
        // Line 1 of the body stays line 1: the wrapper opens on it.
        let mut src = b"return function(KEYS, ARGV) ".to_vec();
        src.extend_from_slice(body);
        src.extend_from_slice(b"\nend");
        let chunk = self
            .lua
            .load(src)
            .set_name("@user_script")
            .into_function()
            .map_err(|e| compile_error(&e))?;
        chunk
            .set_environment(self.env.clone())
            .map_err(|e| compile_error(&e))?;
        chunk.call::<Function>(()).map_err(|e| compile_error(&e))
    }

    /// Starts a run of `f` with `KEYS` and `ARGV`: the future of its
    /// `(ok, result or error)` and the state it shares with the
    /// coordinator. Poll the future only inside [`Engine::polling`].
    pub fn start(
        &self,
        f: &Function,
        keys: Table,
        argv: Table,
    ) -> mlua::Result<(mlua::thread::AsyncThread<mlua::MultiValue>, Rc<Run>)> {
        let th: Thread = self.lua.create_thread(self.runner.clone())?;
        let fut = th.into_async::<mlua::MultiValue>((f.clone(), keys, argv))?;
        self.runs.set(self.runs.get() + 1);
        let run = Run {
            id: self.runs.get(),
            ..Run::default()
        };
        Ok((fut, Rc::new(run)))
    }

    /// Runs `poll` (one poll of `run`'s future) with `run` as the one the
    /// `redis` library serves.
    pub fn polling<R>(&self, run: &Rc<Run>, poll: impl FnOnce() -> R) -> R {
        let prev = self.current.replace(Some(run.clone()));
        let slot = &self.state.script_slots[self.core];
        slot.wrote.store(run.wrote.get(), Ordering::Release);
        slot.run.store(run.id, Ordering::Release);
        slot.busy_ms.store(run.busy_ms.get(), Ordering::Release);
        slot.since_ms
            .store(crate::now_ms().max(1), Ordering::Release);
        let r = poll();
        slot.since_ms.store(0, Ordering::Release);
        *self.current.borrow_mut() = prev;
        r
    }

    /// A Lua table of strings.
    pub fn strings<'a>(&self, items: impl Iterator<Item = &'a [u8]>) -> mlua::Result<Table> {
        let t = self.lua.create_table()?;
        for (i, s) in items.enumerate() {
            t.raw_set(i + 1, self.lua.create_string(s)?)?;
        }
        Ok(t)
    }
}

/// Redis's message for a script that does not compile.
fn compile_error(e: &mlua::Error) -> String {
    let msg = match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => other.to_string(),
    };
    format!(
        "ERR Error compiling script (new function): {}",
        msg.lines().next().unwrap_or("")
    )
}

/// SHA1 of `data` in lower-case hex.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// `REDIS_VERSION_NUM`: the version as 0x00MMmmpp.
fn redis_version_num() -> i64 {
    let mut parts = crate::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b << 8) | c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_as_redis() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn compile_errors_and_sandbox() {
        let mesh = crate::shard::Mesh::new(1).unwrap();
        let state = Arc::new(crate::shard::EngineState::new(mesh, Vec::new()));
        let e = Engine::new(state, 0).unwrap();
        let err = e.compile(b"return 1 +").err().unwrap();
        assert!(
            err.starts_with("ERR Error compiling script (new function): user_script:1:"),
            "{err}"
        );
        let f = e.compile(b"return x").unwrap();
        let r = f.call::<mlua::Value>(()).err().unwrap().to_string();
        assert!(
            r.contains("Script attempted to access nonexistent global variable 'x'"),
            "{r}"
        );
        let f = e.compile(b"y = 1").unwrap();
        let r = f.call::<mlua::Value>(()).err().unwrap().to_string();
        assert!(r.contains("Attempt to modify a readonly table"), "{r}");
        let f = e
            .compile(b"return {KEYS[1], ARGV[1], tostring(rawget(_G, 'os')), tostring(rawget(_G, 'loadstring'))}")
            .unwrap();
        let k = e.strings([&b"k"[..]].into_iter()).unwrap();
        let a = e.strings([&b"a"[..]].into_iter()).unwrap();
        let t: Vec<String> = f.call((k, a)).unwrap();
        assert_eq!(t, ["k", "a", "nil", "nil"]);
    }
}
