//! One core's Lua 5.1 interpreter: the sandbox scripts run in, the `redis`
//! library, and the scripts this core compiled.
//!
//! ```text
//!  EVAL ─► Engine::compile(body) ─► compiled once per core
//!       ─► Engine::start ─► a worker coroutine (kept between runs)
//!       ─► Engine::give_call(f, KEYS, ARGV), resume ─► lua_resume, by the
//!          coordinator; redis.call's first step (C) runs the command at once
//!          when it can, else parks it in the call path and yields
//!          ─► the coordinator runs it like any command (hop, locks)
//!          ─► Engine::give_reply pushes the reply, resume goes on
//! ```
//!
//! Scripts of one core may interleave at their redis.call points (each
//! holds its keys' locks, so none sees another half done); a run finds its
//! state by the Lua thread it runs on. Globals are read-only, as in Redis 7:
//! KEYS and ARGV are the parameters of the function a script body becomes.

use super::convert;
use mlua::{Function, Lua, LuaOptions, StdLib, Table, Thread, Variadic, ffi};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What one running script and its coordinator share.
#[derive(Default)]
pub struct Run {
    /// Replies to the script's commands in RESP3 (redis.setresp(3)).
    pub resp3: Cell<bool>,
    /// The script line of the latest redis.call that failed.
    pub line: Cell<usize>,
    /// The script ran a write command (SCRIPT KILL then refuses).
    pub wrote: Cell<bool>,
    /// This run's number on its core.
    pub id: u64,
    /// `busy-reply-threshold` when the run started (0: none).
    pub busy_ms: u64,
    /// Unix ms the run started.
    pub started_ms: u64,
    /// The run is a function's (FCALL).
    pub function: bool,
    /// The run went past `busy-reply-threshold` (its core answers BUSY).
    pub busy: Cell<bool>,
    /// The latest error a command of the script replied (already counted
    /// in the error statistics; the script's reply does not count it
    /// again when it passes that error on).
    pub inner_error: RefCell<Vec<u8>>,
}

/// A core's interpreter and compiled scripts.
pub struct Engine {
    lua: Lua,
    compiled: RefCell<hashbrown::HashMap<String, Compiled>>,
    /// The engine-wide cache epoch when this interpreter was made (SCRIPT
    /// FLUSH replaces every core's interpreter, as Redis resets its VM).
    pub born: Cell<u64>,
    /// The read-only view of the globals scripts run in.
    env: Table,
    /// The run being polled (the `redis` library's callbacks serve it).
    current: Rc<RefCell<Option<Rc<Run>>>>,
    /// Worker coroutines between runs.
    workers: RefCell<Vec<Thread>>,
    /// What redis.call's C function reaches (its upvalue points here).
    path: Box<CallPath>,
    /// The engine's state and this core's index (its script slot).
    state: Arc<crate::shard::EngineState>,
    core: usize,
    /// The globals of function libraries (see `new`).
    lib_env: Table,
    /// Runs a compiled library chunk with the registration API:
    /// `(ok, error)`.
    lib_load: Function,
    /// The functions the library being loaded registered (None: no load
    /// is running).
    registering: Rc<RefCell<Option<Vec<Registered>>>>,
    /// What the instruction hook reads (declared after `lua`, so dropped
    /// after it).
    hook: Box<HookState>,
    /// The engine-wide libraries epoch this core's functions belong to.
    lib_epoch: Cell<u64>,
    /// This core's compiled functions, by lower-case name.
    lib_functions: RefCell<HashMap<String, Rc<Function>>>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: runs on the main state outside any script; afterwards no
        // hook reads the HookState the Engine is about to drop.
        let _ = unsafe {
            self.lua.exec_raw::<()>((), |l| {
                ffi::lua_sethook(l, None, 0, 0);
            })
        };
    }
}

/// A script compiled on this core, with what its runs need.
#[derive(Clone)]
pub struct Compiled {
    /// Shared: a clone of a Function takes a slot of the interpreter.
    pub f: Rc<Function>,
    /// The SHA1 (errors name it).
    pub sha: Rc<str>,
    /// Its `#!lua` flags; None without a `#!` line.
    pub flags: Option<u8>,
    /// The engine-wide entry (what its runs taught about its keys).
    pub learn: Arc<crate::shard::engine::CachedScript>,
}

/// A function a library registered while loading.
pub struct Registered {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: u8,
    pub callback: Function,
}

/// How long FUNCTION LOAD lets a library's code run.
const LOAD_TIMEOUT_MS: u64 = 500;

/// Redis's rule for library and function names.
pub const NAME_RULE: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Letters, digits and underscores, at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The collection work done every 50 runs, in kilobytes of allocation:
/// enough to keep a core's interpreter near its live size (10,000 runs of
/// a one-key script leave it at 87 KB; without the step, 122 KB), little
/// enough to cost under 5% of a pipelined EVALSHA.
const GC_STEP_KB: i32 = 4;

/// The marker a script yields with to ask for a command, and the one
/// redis.call's first step returns when the command must go the long way.
const REQ: usize = 1;
const MISS: usize = 3;

/// Runs a script's command at once when it can (see
/// `scripting::inline_call`): the context it was given, the running Lua
/// state, the command's arguments; true when it ran and its reply was
/// pushed onto the state, false when the command must yield instead.
pub type InlineFn = fn(*mut (), *mut ffi::lua_State, &crate::protocol::OwnedArgs) -> bool;

/// What redis.call's first step (a C function) reaches: the inline path
/// of the run being resumed, and the command that must go the long way.
#[derive(Default)]
struct CallPath {
    /// None outside a resume.
    inline: Cell<Option<(*mut (), InlineFn)>>,
    /// The arguments (or why they are not valid), kept here while the
    /// script yields.
    pending: RefCell<Option<Result<crate::protocol::OwnedArgs, &'static str>>>,
}

/// What a script did when it last gave control back.
pub enum Step {
    /// It asks for a command (redis.call / redis.pcall).
    Command(Result<crate::protocol::OwnedArgs, &'static str>),
    /// The hook suspended it (past `busy-reply-threshold`).
    Suspended,
    /// It yielded for no reason of ours (a bare coroutine.yield): resume.
    Yielded,
    /// It ended: its result, or its error value.
    Done(Result<mlua::Value, mlua::Value>),
    /// The run could not be started or resumed (no room on its worker's
    /// stack, a reply that cannot be read).
    Failed(mlua::Error),
}

/// How often (in Lua instructions) a running script checks for SCRIPT KILL.
const KILL_CHECK_EVERY: i32 = 10_000;

/// Registry keys: the hook's state, and the coroutines a script runs in
/// (weak keys), the only ones the hook may suspend.
const HOOK_KEY: &std::ffi::CStr = c"coreshard.hook";
const OURS_KEY: &std::ffi::CStr = c"coreshard.ours";

/// What the instruction hook of one core's interpreter reads.
struct HookState {
    state: Arc<crate::shard::EngineState>,
    core: usize,
    /// Unix ms a library load must end by (0: none is running).
    load_deadline: Cell<u64>,
    /// The hook suspended the running script (read and cleared by the
    /// coordinator).
    suspended: Cell<bool>,
}

/// Raises a Lua error with `msg` from the hook.
///
/// # Safety
/// `l` is the running state the hook was called with; nothing owning
/// memory may be alive in the caller (lua_error does not return).
unsafe fn raise(l: *mut ffi::lua_State, msg: &std::ffi::CStr) {
    // SAFETY: as the caller promises.
    unsafe {
        ffi::lua_pushstring(l, msg.as_ptr());
        ffi::lua_error(l);
    }
}

/// True when `l` is a coroutine a script runs in (its worker, or one of
/// its pcalls'), not one the script made with coroutine.create.
///
/// # Safety
/// `l` is the running state the hook was called with.
unsafe fn in_script(l: *mut ffi::lua_State) -> bool {
    // SAFETY: the registry read leaves the stack as it found it (the hook
    // has LUA_MINSTACK free slots).
    unsafe {
        let top = ffi::lua_gettop(l);
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, OURS_KEY.as_ptr());
        let ok = if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_pushthread(l);
            ffi::lua_rawget(l, -2);
            ffi::lua_toboolean(l, -1) != 0
        } else {
            false
        };
        ffi::lua_settop(l, top);
        ok
    }
}

/// True when the coroutine `l` may be suspended here: one a script runs
/// in, with no C call (a metamethod, a library callback) between its start
/// and this point.
///
/// # Safety
/// `l` is the running state the hook was called with.
unsafe fn may_suspend(l: *mut ffi::lua_State) -> bool {
    #[cfg(target_pointer_width = "64")]
    {
        // SAFETY: `nCcalls` and `baseCcalls` are the two u16 at offsets 96
        // and 98 of the vendored Lua 5.1.5 `lua_State` on 64-bit targets
        // (checked by the test `suspend_offsets`); lua_yield refuses to
        // yield across a C call exactly when they differ.
        unsafe {
            let base = l as *const u8;
            let n = std::ptr::read_unaligned(base.add(96) as *const u16);
            let b = std::ptr::read_unaligned(base.add(98) as *const u16);
            n == b && in_script(l)
        }
    }
    #[cfg(not(target_pointer_width = "64"))]
    {
        let _ = l;
        false
    }
}

/// The instruction hook: stops a load past its time, a killed script and
/// any script at shutdown; suspends a script past `busy-reply-threshold`
/// so its core can answer other clients (BUSY) and SCRIPT KILL can reach
/// it; the coordinator resumes it at once.
unsafe extern "C-unwind" fn hook_fn(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    // SAFETY: the registry holds the pointer Engine::new stored, to a
    // HookState the Engine keeps alive while its interpreter runs.
    let hs: &HookState = unsafe {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, HOOK_KEY.as_ptr());
        let p = ffi::lua_touserdata(l, -1) as *const HookState;
        ffi::lua_settop(l, -2);
        match p.as_ref() {
            Some(h) => h,
            None => return,
        }
    };
    let until = hs.load_deadline.get();
    if until != 0 && crate::now_ms() > until {
        // SAFETY: nothing owning memory is alive here.
        unsafe { raise(l, c"FUNCTION LOAD timeout") };
        return;
    }
    let slot = &hs.state.script_slots[hs.core];
    if slot.since_ms.load(Ordering::Acquire) == 0 {
        // Not a script run (a library load, or a library reloading).
        return;
    }
    // Errors are raised only in the coroutines a script runs in: raised in
    // one the script made itself, its coroutine.resume would catch them.
    // SAFETY: `l` is the running state.
    if !unsafe { in_script(l) } {
        return;
    }
    let kill = slot.kill.load(Ordering::Acquire);
    if kill != 0 && kill == slot.run.load(Ordering::Acquire) {
        // SAFETY: as above.
        unsafe { raise(l, c"Script killed by user with SCRIPT KILL...") };
        return;
    }
    if hs.state.stopping() {
        // SAFETY: as above.
        unsafe { raise(l, c"Script stopped: the server is shutting down") };
        return;
    }
    let limit = slot.busy_ms.load(Ordering::Acquire);
    let started = slot.started_ms.load(Ordering::Acquire);
    if limit > 0 && started > 0 && crate::now_ms().saturating_sub(started) > limit {
        // SAFETY: `l` is the running state; a hook may yield in Lua 5.1
        // when no C call lies between (the VM saves its place and resumes
        // there).
        unsafe {
            if may_suspend(l) {
                hs.suspended.set(true);
                ffi::lua_yield(l, 0);
            }
        }
    }
}

/// The error a killed script ends with.
pub const KILLED: &str = "Script killed by user with SCRIPT KILL...";

/// Arguments of redis.call as bytes: strings as they are, numbers as Lua
/// prints them; `count` values read by `at` (a stack index, or pushing
/// the value and returning -1), stopping early at a nil when `to_nil`.
///
/// # Safety
/// `l` is the running state and `at` leaves its stack as it found it
/// after each value is read.
unsafe fn call_args(
    l: *mut ffi::lua_State,
    count: c_int,
    to_nil: bool,
    at: impl Fn(c_int) -> c_int,
    done: impl Fn(),
) -> Result<crate::protocol::OwnedArgs, &'static str> {
    let mut out = crate::protocol::OwnedArgs {
        buf: Vec::with_capacity(64),
        ranges: Vec::with_capacity(count.max(0) as usize),
    };
    for i in 1..=count {
        let idx = at(i);
        // SAFETY: `idx` names a value on the stack (as the caller promises);
        // strings are read in place, without conversion.
        let r = unsafe {
            match ffi::lua_type(l, idx) {
                ffi::LUA_TSTRING => {
                    let mut len = 0usize;
                    let p = ffi::lua_tolstring(l, idx, &mut len);
                    out.push(std::slice::from_raw_parts(p as *const u8, len));
                    Ok(())
                }
                // Numbers as Redis prints them for commands (`%.17g`).
                ffi::LUA_TNUMBER => {
                    let n = ffi::lua_tonumber(l, idx);
                    out.push(crate::protocol::reply::format_g17(n).as_bytes());
                    Ok(())
                }
                ffi::LUA_TNIL if to_nil => Err(None),
                _ => Err(Some(
                    "ERR Lua redis lib command arguments must be strings or integers",
                )),
            }
        };
        done();
        match r {
            Ok(()) => {}
            Err(None) => break,
            Err(Some(e)) => return Err(e),
        }
    }
    if out.ranges.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    Ok(out)
}

/// redis.call's first step, as a C function: runs the command at once when
/// the run's inline path can, pushing its reply (and true when that reply
/// is not a table, so it cannot be an error); otherwise keeps the
/// arguments in the call path and returns the MISS marker (the caller then
/// yields). With `packed`, the arguments come in a table (a command with
/// more of them than a C call takes on the stack).
///
/// # Safety
/// Called by Lua with the CallPath as upvalue 1.
unsafe fn call_step(l: *mut ffi::lua_State, packed: bool) -> c_int {
    // SAFETY: upvalue 1 is the Engine's boxed CallPath, alive as long as
    // its interpreter; the stack values read are the call's arguments.
    let ran = unsafe {
        let path = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const CallPath);
        let cmd = if packed {
            if ffi::lua_type(l, 1) != ffi::LUA_TTABLE || ffi::lua_checkstack(l, 2) == 0 {
                Err("ERR Lua redis lib command arguments must be strings or integers")
            } else {
                let n = c_int::try_from(ffi::lua_objlen(l, 1)).unwrap_or(c_int::MAX);
                call_args(
                    l,
                    n,
                    true,
                    |i| {
                        ffi::lua_rawgeti_(l, 1, i);
                        -1
                    },
                    || ffi::lua_settop(l, -2),
                )
            }
        } else {
            call_args(l, ffi::lua_gettop(l), false, |i| i, || {})
        };
        let top = ffi::lua_gettop(l);
        let ran = match (&cmd, path.inline.get()) {
            (Ok(a), Some((ctx, f))) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(ctx, l, a)))
            }
            _ => Ok(false),
        };
        match ran {
            // A reply that is not a table is no error: said with a second
            // result, so redis.call need not look (Lua's `type` interns
            // its answer on every call).
            Ok(true)
                if ffi::lua_type(l, -1) != ffi::LUA_TTABLE && ffi::lua_checkstack(l, 1) != 0 =>
            {
                ffi::lua_pushboolean(l, 1);
                Some(2)
            }
            Ok(true) => Some(1),
            Ok(false) => {
                *path.pending.borrow_mut() = Some(cmd);
                ffi::lua_settop(l, top);
                ffi::lua_pushlightuserdata(l, MISS as *mut c_void);
                Some(1)
            }
            Err(_) => {
                ffi::lua_settop(l, top);
                None
            }
        }
    };
    match ran {
        Some(n) => n,
        None => {
            // SAFETY: nothing owning memory is alive in this frame.
            unsafe { raise(l, c"ERR internal error running a script's command") };
            0
        }
    }
}

unsafe extern "C-unwind" fn call_fast(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: as `call_step` requires.
    unsafe { call_step(l, false) }
}

unsafe extern "C-unwind" fn call_packed(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: as `call_step` requires.
    unsafe { call_step(l, true) }
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
        let rawloadstring: Function = g.raw_get("loadstring")?;
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
        let rawpcall: Function = g.raw_get("pcall")?;
        let redis = lua.create_table()?;
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
        super::structlib::install(&lua, &g)?;
        // redis.call raises the command's error (a string, as Redis 7's
        // scripts see it); redis.pcall returns it as {err=...}.
        let setup: Function = lua
            .load(
                r#"
local req, miss, fast1, fast_packed, raised, redis, g, getinfo, ours, errmsg = ...
local error, type, select, unpack = g.error, g.type, g.select, g.unpack
local function fast(...)
    if select('#', ...) > 1000 then return fast_packed({ ... }) end
    return fast1(...)
end
local rawcreate, resume, status, yield =
    g.coroutine.create, g.coroutine.resume, g.coroutine.status, g.coroutine.yield
local function create(f)
    local co = rawcreate(f)
    ours[co] = true
    return co
end
local rawpcall = g.pcall
-- A command goes to the coordinator as a yield of the script's coroutine
-- (through any pcall coroutines above it); its reply resumes it.
local function exec(...)
    local r = fast(...)
    if r == miss then return yield(req) end
    return r
end
redis.pcall = exec
local sha1hex = redis.sha1hex
redis.sha1hex = function(...)
    if select('#', ...) ~= 1 then error({ err = 'ERR wrong number of arguments' }) end
    return sha1hex(...)
end
-- redis.call raises the command's error as its {err=...} table, noting the
-- script line it was called from.
redis.call = function(...)
    -- `plain`: the command ran at once and its reply is no error table.
    local r, plain
    if select('#', ...) > 1000 then r, plain = fast_packed({ ... }) else r, plain = fast1(...) end
    if r == miss then r = yield(req) end
    if not plain and type(r) == 'table' and r.err ~= nil then
        local info = getinfo(2, 'Sl')
        if info and (info.source == '@user_script' or info.source == '@user_function') then
            raised(info.currentline)
        end
        error(r, 0)
    end
    return r
end
-- pcall and xpcall that let redis.call inside them wait for another core
-- (a Lua 5.1 pcall cannot be yielded across; a coroutine can). pcall
-- hands an error table's message to the script, as Redis's does.
local function pack(...) return { n = select('#', ...), ... } end
-- A library's error reaches scripts as its message, as Redis's C
-- libraries raise it.
local function message(e)
    if type(e) == 'userdata' then return errmsg(e) end
    return e
end
local function drive(co, handler, plain, r)
    while true do
        if not r[1] then
            local e = message(r[2])
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
-- A C function (a library's) cannot be a coroutine's body, and never
-- waits: the plain pcall serves it.
local function lua_function(f)
    if type(f) ~= 'function' then return false end
    local info = getinfo(f, 'S')
    return info ~= nil and info.what ~= 'C'
end
local rawxpcall = g.xpcall
g.pcall = function(f, ...)
    if not lua_function(f) then
        local r = pack(rawpcall(f, ...))
        if not r[1] then return false, message(r[2]) end
        return unpack(r, 1, r.n)
    end
    local co = create(f)
    return drive(co, nil, true, pack(resume(co, ...)))
end
g.xpcall = function(f, handler)
    if not lua_function(f) then
        return rawxpcall(f, function(e) return handler(message(e)) end)
    end
    local co = create(f)
    return drive(co, handler, false, pack(resume(co)))
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
        // The coroutines scripts run in, which the hook may suspend.
        let ours: Table = lua.create_table()?;
        let weak = lua.create_table()?;
        weak.raw_set("__mode", "k")?;
        ours.set_metatable(Some(weak))?;
        lua.set_named_registry_value(OURS_KEY.to_str().map_err(mlua::Error::external)?, &ours)?;
        let errmsg = lua.create_function(|lua, e: mlua::Value| match e {
            mlua::Value::Error(e) => Ok(mlua::Value::String(lua.create_string(raised_text(&e))?)),
            other => Ok(other),
        })?;
        let marker = |m: usize| mlua::Value::LightUserData(mlua::LightUserData(m as *mut _));
        // redis.call's first step, a C function over the call path (see
        // `call_step`), plain and for arguments packed in a table.
        let path = Box::<CallPath>::default();
        let path_ptr: *const CallPath = &*path;
        // SAFETY: exec_raw runs the closure on the main state, outside any
        // script; the call path lives in a Box the Engine owns (stable
        // address) as long as the interpreter.
        let (fast, fast_packed): (Function, Function) = unsafe {
            lua.exec_raw((), |l| {
                ffi::lua_pushlightuserdata(l, path_ptr as *mut c_void);
                ffi::lua_pushcclosure(l, call_fast, 1);
                ffi::lua_pushlightuserdata(l, path_ptr as *mut c_void);
                ffi::lua_pushcclosure(l, call_packed, 1);
            })?
        };
        setup.call::<()>((
            marker(REQ),
            marker(MISS),
            fast,
            fast_packed,
            raised,
            redis.clone(),
            lua.globals(),
            getinfo,
            ours,
            errmsg,
        ))?;
        // Read-only globals, as in Redis 7: scripts see `_G` through a
        // proxy that refuses writes, the libraries likewise, and reading a
        // global that does not exist is an error. Function libraries get
        // their own globals table, which reads through to the same proxy
        // when their functions run and to a registration API (only
        // `redis.register_function`, `redis.log` and the constants) while
        // FUNCTION LOAD runs the library's code.
        let registering: Rc<RefCell<Option<Vec<Registered>>>> = Rc::default();
        let reg = registering.clone();
        let add = lua.create_function(
            move |_,
                  (name, desc, flags, cb): (
                mlua::LuaString,
                Option<mlua::LuaString>,
                u8,
                Function,
            )| {
                let mut reg = reg.borrow_mut();
                let Some(list) = reg.as_mut() else {
                    return Ok(Some(
                        "redis.register_function can only be called on FUNCTION LOAD command",
                    ));
                };
                let name = name.as_bytes().to_vec();
                if !valid_name(&name) {
                    return Ok(Some(NAME_RULE));
                }
                let name = String::from_utf8_lossy(&name).into_owned();
                if list.iter().any(|r| r.name == name) {
                    return Ok(Some("Function already exists in the library"));
                }
                list.push(Registered {
                    name,
                    description: desc.map(|d| d.as_bytes().to_vec()),
                    flags,
                    callback: cb,
                });
                Ok(None)
            },
        )?;
        let api = lua.create_table()?;
        for name in [
            "log",
            "LOG_DEBUG",
            "LOG_VERBOSE",
            "LOG_NOTICE",
            "LOG_WARNING",
            "REDIS_VERSION",
            "REDIS_VERSION_NUM",
        ] {
            api.raw_set(name, redis.raw_get::<mlua::Value>(name)?)?;
        }
        let guard: Function = lua
            .load(
                r#"
local G, add, api, rawpcall, rawloadstring = ...
local error, tostring, setmetatable, rawset, ipairs, type, select, next =
    G.error, G.tostring, G.setmetatable, G.rawset, G.ipairs, G.type, G.select, G.next
local lower, sub, concat, setfenv = G.string.lower, G.string.sub, G.table.concat, G.setfenv
local function ro() error("Attempt to modify a readonly table", 2) end
local function missing(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
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
for _, name in ipairs({ 'redis', 'string', 'table', 'math', 'coroutine', 'cjson', 'bit', 'cmsgpack', 'struct' }) do
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
setmetatable(G, { __index = missing })
local env = protect(G)
rawset(G, '_G', env)
-- loadstring and load compile text only (no binary chunks), into the
-- scripts' read-only globals.
local function loadtext(s, name)
    if type(s) == 'string' and sub(s, 1, 1) == '\27' then
        return nil, 'binary chunks are not allowed'
    end
    local f, e = rawloadstring(s, name)
    if f then setfenv(f, env) end
    return f, e
end
rawset(G, 'loadstring', loadtext)
rawset(G, 'load', function(fn, name)
    if type(fn) ~= 'function' then return loadtext(fn, name) end
    local parts = {}
    while true do
        local piece = fn()
        if piece == nil or piece == '' then break end
        if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
        parts[#parts + 1] = piece
    end
    return loadtext(concat(parts), name or '=(load)')
end)

-- redis.register_function, as FUNCTION LOAD offers it.
local loading = false
local function fail(msg) error({ err = 'ERR ' .. msg }, 0) end
local function isstring(v) local t = type(v) return t == 'string' or t == 'number' end
local FLAGS = { ['no-writes'] = 1, ['allow-oom'] = 2, ['allow-stale'] = 4,
                ['no-cluster'] = 8, ['allow-cross-slot-keys'] = 16 }
local function readflags(t)
    local bits, j = 0, 1
    while true do
        local f = t[j]
        if f == nil then return bits end
        if not isstring(f) then return nil end
        local b = FLAGS[lower(tostring(f))]
        if not b then return nil end
        if bits % (2 * b) < b then bits = bits + b end
        j = j + 1
    end
end
local function register(...)
    if not loading then
        fail('redis.register_function can only be called on FUNCTION LOAD command')
    end
    local n = select('#', ...)
    local name, desc, cb, flags
    if n == 1 then
        local t = ...
        if type(t) ~= 'table' then
            fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
        end
        for k, v in next, t do
            if not isstring(k) then
                fail('named argument key given to redis.register_function is not a string')
            end
            local key = lower(tostring(k))
            if key == 'function_name' then
                if not isstring(v) then
                    fail('function_name argument given to redis.register_function must be a string')
                end
                name = tostring(v)
            elseif key == 'description' then
                if not isstring(v) then
                    fail('description argument given to redis.register_function must be a string')
                end
                desc = tostring(v)
            elseif key == 'callback' then
                if type(v) ~= 'function' then
                    fail('callback argument given to redis.register_function must be a function')
                end
                cb = v
            elseif key == 'flags' then
                if type(v) ~= 'table' then
                    fail('flags argument to redis.register_function must be a table representing function flags')
                end
                flags = readflags(v)
                if not flags then fail('unknown flag given') end
            else
                fail('unknown argument given to redis.register_function')
            end
        end
        if not name then fail('redis.register_function must get a function name argument') end
        if not cb then fail('redis.register_function must get a callback argument') end
    elseif n == 2 then
        name, cb = ...
        if not isstring(name) then
            fail('first argument to redis.register_function must be a string')
        end
        if type(cb) ~= 'function' then
            fail('second argument to redis.register_function must be a function')
        end
        name = tostring(name)
    else
        fail('wrong number of arguments to redis.register_function')
    end
    local e = add(name, desc, flags or 0, cb)
    if e then fail(e) end
end
local lredis = {}
for k, v in next, api do lredis[k] = v end
lredis.register_function = register
readonly[lredis] = true
setmetatable(lredis, { __index = missing, __newindex = ro, __metatable = false })
local lglobals = { redis = lredis }
readonly[lglobals] = true
setmetatable(lglobals, { __index = missing, __newindex = ro, __metatable = false })
local fenv = {}
readonly[fenv] = true
local fmt = { __index = env, __newindex = ro, __metatable = false }
setmetatable(fenv, fmt)
-- Runs a library's code with the registration API in place of the globals.
local function load(chunk)
    loading = true
    fmt.__index = lglobals
    local ok, e = rawpcall(chunk)
    loading = false
    fmt.__index = env
    return ok, e
end
return env, fenv, load
"#,
            )
            .set_name("=sandbox")
            .into_function()?;
        let (env, lib_env, lib_load): (Table, Table, Function) =
            guard.call((lua.globals(), add, api, rawpcall, rawloadstring))?;
        // A script that loops checks for SCRIPT KILL from another core, and
        // one past busy-reply-threshold lets its core serve other clients
        // (see `hook`).
        let hook = Box::new(HookState {
            state: state.clone(),
            core,
            load_deadline: Cell::new(0),
            suspended: Cell::new(false),
        });
        let hook_ptr: *const HookState = &*hook;
        // SAFETY: exec_raw runs the closure on the main state, outside any
        // script; the hook state lives in a Box the Engine owns (stable
        // address) and the Engine removes the hook before dropping it.
        unsafe {
            lua.exec_raw::<()>((), |l| {
                ffi::lua_pushlightuserdata(l, hook_ptr as *mut std::ffi::c_void);
                ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, HOOK_KEY.as_ptr());
                ffi::lua_sethook(l, Some(hook_fn), ffi::LUA_MASKCOUNT, KILL_CHECK_EVERY);
            })?;
        }
        drop(g);
        Ok(Engine {
            hook,
            env,
            lib_env,
            lib_load,
            registering,
            lib_epoch: Cell::new(u64::MAX),
            lib_functions: RefCell::default(),
            lua,
            compiled: RefCell::default(),
            born: Cell::new(0),
            current,
            workers: RefCell::default(),
            path,
            state,
            core,
        })
    }

    /// The script `sha` as this core compiled it, if it did (a SCRIPT
    /// FLUSH gives every core a new interpreter, so nothing here is stale).
    pub fn compiled(&self, sha: &str) -> Option<Compiled> {
        self.compiled.borrow().get(sha).cloned()
    }

    /// Keeps a compiled script for its next runs on this core.
    pub fn keep(&self, sha: &str, c: Compiled) {
        self.compiled.borrow_mut().insert(sha.to_owned(), c);
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
        src.extend_from_slice(&keep_call_frames(body));
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

    /// Runs a library's code (what follows its `#!lua` line) and returns
    /// the functions it registered, or the error FUNCTION LOAD replies.
    pub fn load_library(&self, code: &[u8]) -> Result<Vec<Registered>, String> {
        let code = keep_call_frames(code);
        let chunk = self
            .lua
            .load(&*code)
            .set_name("@user_function")
            .into_function()
            .map_err(|e| format!("ERR Error compiling function: {}", syntax_text(&e)))?;
        let internal = |e: mlua::Error| format!("ERR Lua: {e}");
        chunk
            .set_environment(self.lib_env.clone())
            .map_err(internal)?;
        *self.registering.borrow_mut() = Some(Vec::new());
        self.hook
            .load_deadline
            .set(crate::now_ms() + LOAD_TIMEOUT_MS);
        let r = self.lib_load.call::<(bool, mlua::Value)>(chunk);
        self.hook.load_deadline.set(0);
        let registered = self.registering.borrow_mut().take().unwrap_or_default();
        let (ok, e) = r.map_err(internal)?;
        if ok {
            return Ok(registered);
        }
        let msg = match e {
            mlua::Value::String(s) => format!("ERR {}", s.to_string_lossy()),
            mlua::Value::Table(t) => match t.raw_get::<mlua::Value>("err") {
                Ok(mlua::Value::String(s)) => s.to_string_lossy().to_string(),
                _ => "ERR unknown error".to_owned(),
            },
            mlua::Value::Error(e) => raised_text(&e),
            _ => "ERR unknown error".to_owned(),
        };
        Err(format!("ERR Error registering functions: {msg}"))
    }

    /// The function `name` (lower-case) of the engine's libraries, this
    /// core's copies reloaded when `epoch` moved on.
    pub fn library_function(
        &self,
        name: &str,
        epoch: u64,
        libs: &crate::shard::engine::Libraries,
    ) -> Option<Rc<Function>> {
        if self.lib_epoch.get() != epoch {
            let mut map = HashMap::new();
            for lib in libs.libs.values() {
                let body = super::functions::library_body(&lib.code);
                // A library that loaded once loads again; one that does
                // not (it could only time out) leaves its functions out.
                if let Ok(regs) = self.load_library(body) {
                    for r in regs {
                        map.insert(r.name.to_ascii_lowercase(), Rc::new(r.callback));
                    }
                }
            }
            // The replaced libraries' code is garbage now: collected at
            // once, so a run of FUNCTION LOADs cannot pile it up (reloads
            // are rare and cost a compile of every library anyway).
            drop(std::mem::replace(
                &mut *self.lib_functions.borrow_mut(),
                map,
            ));
            self.gc(ffi::LUA_GCCOLLECT, 0);
            self.lib_epoch.set(epoch);
        }
        self.lib_functions.borrow().get(name).cloned()
    }

    /// A worker coroutine for a new run (an idle one, or a new thread)
    /// and the state the run shares with the coordinator; `now_ms` is its
    /// start, `busy_ms` its `busy-reply-threshold`.
    pub fn start(
        &self,
        function: bool,
        now_ms: u64,
        busy_ms: u64,
    ) -> mlua::Result<(Thread, Rc<Run>)> {
        let th = match self.workers.borrow_mut().pop() {
            Some(t) => t,
            None => self.new_worker()?,
        };
        let id = self.state.script_slots[self.core]
            .runs
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        let run = Run {
            id,
            started_ms: now_ms,
            busy_ms,
            function,
            ..Run::default()
        };
        Ok((th, Rc::new(run)))
    }

    /// A new worker coroutine, one the hook may suspend (it inherits the
    /// main state's hook).
    fn new_worker(&self) -> mlua::Result<Thread> {
        // SAFETY: exec_raw runs the closure on the main state, outside any
        // script, and returns what it leaves on the stack: the thread.
        unsafe {
            self.lua.exec_raw::<Thread>((), |l| {
                ffi::lua_newthread(l);
                ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, OURS_KEY.as_ptr());
                ffi::lua_pushvalue(l, -2);
                ffi::lua_pushboolean(l, 1);
                ffi::lua_rawset(l, -3);
                ffi::lua_settop(l, -2);
            })
        }
    }

    /// Keeps the worker of a run that ended without an error for the next.
    pub fn finish(&self, th: Thread) {
        self.workers.borrow_mut().push(th);
    }

    /// Pushes the call a run starts with onto its idle worker `th`:
    /// `f(KEYS, ARGV)`, resumed with 2 arguments; false when it cannot.
    pub fn give_call<'a>(
        &self,
        th: &Thread,
        f: &Function,
        mut keys: impl ExactSizeIterator<Item = &'a [u8]>,
        mut argv: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> bool {
        let w = th.state();
        // SAFETY: `w` is an idle worker (its stack empty); the function goes
        // through the main state (mlua pushes its values there) and is
        // moved over at once; the tables' strings are copied by Lua.
        unsafe {
            if ffi::lua_checkstack(w, 4) == 0 {
                return false;
            }
            let pushed = self.lua.exec_raw_lua(|raw| {
                let m = raw.state();
                if ffi::lua_checkstack(m, 2) == 0 || raw.push(f).is_err() {
                    return false;
                }
                ffi::lua_xmove(m, w, 1);
                true
            });
            if !pushed {
                return false;
            }
            for items in [
                &mut keys as &mut dyn ExactSizeIterator<Item = &[u8]>,
                &mut argv,
            ] {
                ffi::lua_createtable(w, c_int::try_from(items.len()).unwrap_or(0), 0);
                for (i, s) in items.enumerate() {
                    ffi::lua_pushlstring_(w, s.as_ptr() as *const c_char, s.len());
                    ffi::lua_rawseti_(w, -2, c_int::try_from(i + 1).unwrap_or(c_int::MAX));
                }
            }
        }
        true
    }

    /// Pushes the reply of the command a run asked for (the RESP bytes at
    /// the start of `reply`) onto its worker, to resume it with; false
    /// when the reply cannot be read.
    pub fn give_reply(&self, th: &Thread, reply: &[u8]) -> bool {
        // SAFETY: the worker is suspended in its yield; its stack was
        // cleared of what it yielded.
        unsafe { convert::push_reply(th.state(), reply) }
    }

    /// Resumes `th` with the `nargs` values on top of its stack (a reply
    /// given, or none after a suspension or a bare yield) until it gives
    /// control back; what it did.
    pub fn resume(
        &self,
        run: &Rc<Run>,
        th: &Thread,
        nargs: c_int,
        now_ms: u64,
        inline: Option<(*mut (), InlineFn)>,
    ) -> Step {
        let prev = self.current.replace(Some(run.clone()));
        self.path.inline.set(inline);
        let slot = &self.state.script_slots[self.core];
        slot.wrote.store(run.wrote.get(), Ordering::Release);
        slot.run.store(run.id, Ordering::Release);
        slot.busy_ms.store(run.busy_ms, Ordering::Release);
        slot.started_ms.store(run.started_ms, Ordering::Release);
        slot.function.store(run.function, Ordering::Release);
        slot.since_ms.store(now_ms.max(1), Ordering::Release);
        self.hook.suspended.set(false);
        let w = th.state();
        // SAFETY: `w` is a worker of this interpreter, idle or suspended in
        // a yield, with the function (first run) and `nargs` values on top.
        let status = unsafe { ffi::lua_resume_(w, nargs) };
        self.path.inline.set(None);
        slot.since_ms.store(0, Ordering::Release);
        *self.current.borrow_mut() = prev;
        // SAFETY: reads of the worker's stack after its resume returned.
        unsafe {
            match status {
                ffi::LUA_OK => {
                    // A run's result is its first return value.
                    let v = if ffi::lua_gettop(w) >= 1 {
                        self.value_at(w, 1)
                    } else {
                        mlua::Value::Nil
                    };
                    ffi::lua_settop(w, 0);
                    self.after_run(run);
                    Step::Done(Ok(v))
                }
                ffi::LUA_YIELD => {
                    let asks = ffi::lua_gettop(w) >= 1
                        && ffi::lua_touserdata(w, 1) as usize == REQ
                        && ffi::lua_type(w, 1) == ffi::LUA_TLIGHTUSERDATA;
                    ffi::lua_settop(w, 0);
                    if asks {
                        Step::Command(
                            self.path
                                .pending
                                .borrow_mut()
                                .take()
                                .unwrap_or(Err("ERR Lua redis lib command arguments are missing")),
                        )
                    } else if self.hook.suspended.get() {
                        Step::Suspended
                    } else {
                        Step::Yielded
                    }
                }
                _ => {
                    // The error value is on top; the worker is dead. A
                    // library's error reaches the run as its message, as
                    // Redis's C libraries raise it.
                    let e = match self.value_at(w, -1) {
                        mlua::Value::Error(err) => self
                            .lua
                            .create_string(raised_text(&err))
                            .map_or(mlua::Value::Nil, mlua::Value::String),
                        v => v,
                    };
                    ffi::lua_settop(w, 0);
                    self.after_run(run);
                    Step::Done(Err(e))
                }
            }
        }
    }

    /// The value at `idx` of the worker `w`'s stack as an mlua value.
    ///
    /// # Safety
    /// `w` is a worker of this interpreter that is not running, and `idx`
    /// names a value on its stack.
    unsafe fn value_at(&self, w: *mut ffi::lua_State, idx: c_int) -> mlua::Value {
        // SAFETY: as the caller promises; a value of a reference type goes
        // to the main state (a copy, moved) where mlua takes it.
        unsafe {
            match ffi::lua_type(w, idx) {
                ffi::LUA_TNIL | ffi::LUA_TNONE => mlua::Value::Nil,
                ffi::LUA_TBOOLEAN => mlua::Value::Boolean(ffi::lua_toboolean(w, idx) != 0),
                ffi::LUA_TNUMBER => mlua::Value::Number(ffi::lua_tonumber(w, idx)),
                _ => {
                    if ffi::lua_checkstack(w, 1) == 0 {
                        return mlua::Value::Nil;
                    }
                    self.lua.exec_raw_lua(|raw| {
                        let m = raw.state();
                        if ffi::lua_checkstack(m, 1) == 0 {
                            return mlua::Value::Nil;
                        }
                        ffi::lua_pushvalue(w, idx);
                        ffi::lua_xmove(w, m, 1);
                        raw.pop_value()
                    })
                }
            }
        }
    }

    /// After a run: a step of garbage collection every 50 runs, as Redis
    /// does, so garbage never piles up to a long full cycle (a smaller step
    /// than Redis's 50 KB: a run here leaves a few hundred bytes).
    fn after_run(&self, run: &Run) {
        if run.id.is_multiple_of(50) {
            self.gc(ffi::LUA_GCSTEP, GC_STEP_KB);
        }
    }

    /// Runs the collector (`lua_gc(what, data)`) on the main state.
    fn gc(&self, what: c_int, data: c_int) {
        // SAFETY: called outside any script (between runs, or while the
        // libraries reload), on the main state exec_raw gives.
        let _ = unsafe {
            self.lua.exec_raw::<()>((), |l| {
                ffi::lua_gc(l, what, data);
            })
        };
    }

    /// Bytes the interpreter holds.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// Length of a long bracket opening `[[`, `[=[`, ... at `i` (its level
/// and length), if one starts there.
fn long_bracket(s: &[u8], i: usize) -> Option<(usize, usize)> {
    if s.get(i) != Some(&b'[') {
        return None;
    }
    let mut j = i + 1;
    while s.get(j) == Some(&b'=') {
        j += 1;
    }
    (s.get(j) == Some(&b'[')).then_some((j - i - 1, j + 1 - i))
}

/// The index after the string, comment or single byte at `i`.
fn skip_token(s: &[u8], i: usize) -> usize {
    match s[i] {
        q @ (b'\'' | b'"') => {
            let mut j = i + 1;
            while j < s.len() && s[j] != q && s[j] != b'\n' {
                j += if s[j] == b'\\' { 2 } else { 1 };
            }
            (j + 1).min(s.len())
        }
        b'[' => match long_bracket(s, i) {
            Some((level, open)) => close_long(s, i + open, level),
            None => i + 1,
        },
        b'-' if s.get(i + 1) == Some(&b'-') => match long_bracket(s, i + 2) {
            Some((level, open)) => close_long(s, i + 2 + open, level),
            None => s[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(s.len(), |p| i + p),
        },
        _ => i + 1,
    }
}

/// The index after the `]=*]` closing a long bracket of `level`.
fn close_long(s: &[u8], mut i: usize, level: usize) -> usize {
    while i < s.len() {
        if s[i] == b']'
            && s.get(i + 1 + level) == Some(&b']')
            && s[i + 1..i + 1 + level].iter().all(|&c| c == b'=')
        {
            return i + 2 + level;
        }
        i += 1;
    }
    s.len()
}

/// Rewrites `return redis.call(...)` as `return (redis.call(...))`.
///
/// A Lua 5.1 tail call replaces the caller's frame, and redis.call is a
/// Lua function here (it waits for other cores), so a failing command
/// could no longer name the script line that called it, which Redis's
/// error replies do. The parentheses make it an ordinary call with the
/// same result (redis.call returns one value) and keep line numbers.
pub fn keep_call_frames(src: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const CALL: &[u8] = b"redis.call";
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut edits: Vec<(usize, u8)> = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < src.len() && ident(src[i]) {
                i += 1;
            }
            if &src[start..i] != b"return" {
                continue;
            }
            let mut j = i;
            while j < src.len() && src[j].is_ascii_whitespace() {
                j += 1;
            }
            if !src[j..].starts_with(CALL) || src.get(j + CALL.len()).is_some_and(|&c| ident(c)) {
                continue;
            }
            let mut k = j + CALL.len();
            while k < src.len() && src[k].is_ascii_whitespace() {
                k += 1;
            }
            if src.get(k) != Some(&b'(') {
                continue;
            }
            // The matching parenthesis.
            let mut depth = 0usize;
            let mut m = k;
            let mut end = None;
            while m < src.len() {
                match src[m] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(m + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                m = skip_token(src, m);
            }
            if let Some(end) = end {
                edits.push((j, b'('));
                edits.push((end, b')'));
                i = end;
            }
            continue;
        }
        i = skip_token(src, i);
    }
    if edits.is_empty() {
        return std::borrow::Cow::Borrowed(src);
    }
    let mut out = Vec::with_capacity(src.len() + edits.len());
    let mut at = 0;
    for (pos, b) in edits {
        out.extend_from_slice(&src[at..pos]);
        out.push(b);
        at = pos;
    }
    out.extend_from_slice(&src[at..]);
    std::borrow::Cow::Owned(out)
}

/// Redis's message for a script that does not compile.
fn compile_error(e: &mlua::Error) -> String {
    format!(
        "ERR Error compiling script (new function): {}",
        syntax_text(e)
    )
}

/// The first line of a compile error's message.
fn syntax_text(e: &mlua::Error) -> String {
    let msg = match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => other.to_string(),
    };
    msg.lines().next().unwrap_or("").to_owned()
}

/// The message of an error a Rust function of the libraries (or the
/// hook) raised, without mlua's wrapping.
pub fn raised_text(mut e: &mlua::Error) -> String {
    while let mlua::Error::CallbackError { cause, .. } = e {
        e = cause;
    }
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        other => other.to_string(),
    }
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
    fn tail_calls_of_redis_call_keep_their_frame() {
        let k = |s: &str| String::from_utf8(keep_call_frames(s.as_bytes()).into_owned()).unwrap();
        assert_eq!(
            k("return redis.call('get', KEYS[1])"),
            "return (redis.call('get', KEYS[1]))"
        );
        assert_eq!(
            k("if x then return redis.call('set', 'a', ')') end"),
            "if x then return (redis.call('set', 'a', ')')) end"
        );
        assert_eq!(
            k("return redis.call(f(1), [[)]], -- )\n 2)\nreturn 1"),
            "return (redis.call(f(1), [[)]], -- )\n 2))\nreturn 1"
        );
        assert_eq!(k("return redis.pcall('x')"), "return redis.pcall('x')");
        assert_eq!(k("-- return redis.call('x')"), "-- return redis.call('x')");
        assert_eq!(
            k("s = 'return redis.call(1)'"),
            "s = 'return redis.call(1)'"
        );
        assert_eq!(k("return redis.callx(1)"), "return redis.callx(1)");
        assert_eq!(k("return redis.call('a'"), "return redis.call('a'");
    }

    #[test]
    fn suspend_offsets() {
        // The offsets `may_suspend` reads: a fresh state has made no C
        // calls, and a coroutine resumed from a C function starts with
        // baseCcalls equal to nCcalls.
        let lua = Lua::new();
        // SAFETY: reads two u16 inside the state (see may_suspend).
        unsafe {
            lua.exec_raw::<()>((), |l| {
                let base = l as *const u8;
                let n = std::ptr::read_unaligned(base.add(96) as *const u16);
                let b = std::ptr::read_unaligned(base.add(98) as *const u16);
                // Inside exec_raw's protected call: one C call deep.
                assert!((1..100).contains(&n), "nCcalls {n}");
                assert!(b <= n, "baseCcalls {b}");
            })
            .unwrap();
        }
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
        let (th, run) = e.start(false, 1, 0).unwrap();
        let keys = [&b"k"[..]];
        let argv = [&b"a"[..]];
        assert!(e.give_call(&th, &f, keys.into_iter(), argv.into_iter()));
        let step = e.resume(&run, &th, 2, 1, None);
        let Step::Done(Ok(mlua::Value::Table(t))) = step else {
            panic!("the run did not end with a table")
        };
        let t: Vec<String> = t.sequence_values().collect::<mlua::Result<_>>().unwrap();
        assert_eq!(t, ["k", "a", "nil", "nil"]);
        e.finish(th);
    }

    #[test]
    fn workers_are_reused_and_errors_end_them() {
        let mesh = crate::shard::Mesh::new(1).unwrap();
        let state = Arc::new(crate::shard::EngineState::new(mesh, Vec::new()));
        let e = Engine::new(state, 0).unwrap();
        let ok = e.compile(b"return #KEYS + #ARGV * 10").unwrap();
        let bad = e.compile(b"error({err='E bad'})").unwrap();
        let yields = e.compile(b"return redis.call('ping')").unwrap();
        let none: [&[u8]; 0] = [];
        let (th, run) = e.start(false, 1, 0).unwrap();
        let first = th.to_pointer();
        assert!(e.give_call(&th, &ok, [&b"a"[..]].into_iter(), none.into_iter()));
        let step = e.resume(&run, &th, 2, 1, None);
        assert!(matches!(step, Step::Done(Ok(mlua::Value::Number(n))) if n == 1.0));
        e.finish(th);
        // The same coroutine serves the next run, from a clean stack.
        let (th, run) = e.start(false, 1, 0).unwrap();
        assert_eq!(th.to_pointer(), first);
        let two: [&[u8]; 2] = [b"x", b"y"];
        assert!(e.give_call(&th, &ok, none.into_iter(), two.into_iter()));
        let step = e.resume(&run, &th, 2, 1, None);
        assert!(matches!(step, Step::Done(Ok(mlua::Value::Number(n))) if n == 20.0));
        e.finish(th);
        // Without an inline path a command yields; its reply resumes it.
        let (th, run) = e.start(false, 1, 0).unwrap();
        assert!(e.give_call(&th, &yields, none.into_iter(), none.into_iter()));
        let step = e.resume(&run, &th, 2, 1, None);
        let Step::Command(Ok(cmd)) = step else {
            panic!("the command did not yield")
        };
        assert_eq!(cmd.get(0), b"ping");
        assert!(e.give_reply(&th, b"+PONG\r\n"));
        let Step::Done(Ok(mlua::Value::Table(t))) = e.resume(&run, &th, 1, 1, None) else {
            panic!("the run did not end with the reply")
        };
        assert_eq!(t.get::<String>("ok").unwrap(), "PONG");
        e.finish(th);
        // An error ends the run with its value and its coroutine.
        let (th, run) = e.start(false, 1, 0).unwrap();
        assert!(e.give_call(&th, &bad, none.into_iter(), none.into_iter()));
        let step = e.resume(&run, &th, 2, 1, None);
        let Step::Done(Err(mlua::Value::Table(t))) = step else {
            panic!("the error did not end the run")
        };
        assert_eq!(t.get::<String>("err").unwrap(), "E bad");
        assert!(th.is_error());
    }
}
