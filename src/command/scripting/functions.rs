//! Functions: FUNCTION LOAD / DELETE / FLUSH / LIST / STATS / DUMP /
//! RESTORE / KILL and FCALL, FCALL_RO.
//!
//! ```text
//!  FUNCTION LOAD "#!lua name=lib\n..." ─► run once on this core to learn
//!    the functions it registers ─► EngineState::functions replaced whole,
//!    functions_epoch bumped
//!  FCALL f numkeys key.. arg.. ─► this core's copy of f (every library
//!    reloaded here when the epoch moved) ─► run as a script (mod.rs)
//! ```
//!
//! Libraries are engine-wide and survive FLUSHALL, as in Redis. Function
//! names are unique across libraries, compared without case.

use super::super::util::*;
use super::super::{CommandSpec, LocalBoxFuture, OwnedArgs, flags::*};
use super::flags::FLAG_NAMES;
use super::{Target, engine, lua, numkeys_or, run_script};
use crate::command::session::Session;
use crate::shard::engine::{CachedScript, FunctionInfo, Libraries, Library};
use crate::storage::rdb;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A library's code after its `#!` line (the newline kept, so line
/// numbers match the payload's).
pub fn library_body(code: &[u8]) -> &[u8] {
    match code.iter().position(|&c| c == b'\n') {
        Some(i) => &code[i..],
        None => &[],
    }
}

/// The library name a payload's `#!<engine> name=<name>` line gives, as
/// Redis checks it.
fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    // The line's words as Redis splits them (quotes allowed).
    let (mut ranges, mut words) = (Vec::new(), Vec::new());
    if !crate::protocol::parse::split_args(&code[..end], &mut ranges, &mut words)
        || ranges.is_empty()
    {
        return Err("ERR Invalid library metadata".into());
    }
    let mut parts = ranges
        .iter()
        .map(|&(a, b)| String::from_utf8_lossy(&words[a..b]).into_owned());
    let first = parts.next().unwrap_or_default();
    let engine = first.get(2..).unwrap_or("");
    let mut name: Option<String> = None;
    for p in parts {
        if p.len() >= 5 && p.as_bytes()[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(p[5..].to_owned());
            continue;
        }
        return Err(format!("ERR Invalid metadata value given: {p}"));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !lua::valid_name(name.as_bytes()) {
        return Err(format!("ERR {}", lua::NAME_RULE));
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok(name)
}

/// Compiles and runs a library's code on this core: the library, or the
/// error FUNCTION LOAD replies.
fn build_library(c: &Session, code: &[u8]) -> Result<Library, String> {
    let name = library_name(code)?;
    let eng = engine(c)?;
    let regs = eng.load_library(library_body(code))?;
    if regs.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok(Library {
        name,
        code: code.to_vec(),
        functions: regs
            .into_iter()
            .map(|r| FunctionInfo {
                name: r.name,
                description: r.description,
                flags: r.flags,
                learn: Arc::new(CachedScript {
                    body: Vec::new(),
                    learned: Default::default(),
                    undeclared: std::sync::atomic::AtomicBool::new(true),
                }),
            })
            .collect(),
    })
}

/// Adds `new` libraries to `libs`: with `replace`, a library of the same
/// name goes; without, it is an error. Function names must stay unique.
fn join(libs: &mut Libraries, new: Vec<Library>, replace: bool) -> Result<(), String> {
    for lib in &new {
        if libs.libs.contains_key(&lib.name) {
            if !replace {
                return Err(format!("ERR Library {} already exists", lib.name));
            }
            unlink(libs, &lib.name);
        }
    }
    for lib in &new {
        for f in &lib.functions {
            if libs.by_function.contains_key(&f.name.to_ascii_lowercase()) {
                return Err(format!("ERR Function {} already exists", f.name));
            }
        }
    }
    for lib in new {
        link(libs, lib);
    }
    Ok(())
}

fn link(libs: &mut Libraries, lib: Library) {
    let lib = Arc::new(lib);
    for f in &lib.functions {
        libs.by_function
            .insert(f.name.to_ascii_lowercase(), lib.clone());
    }
    libs.libs.insert(lib.name.clone(), lib);
}

fn unlink(libs: &mut Libraries, name: &str) -> Option<Arc<Library>> {
    let lib = libs.libs.remove(name)?;
    for f in &lib.functions {
        libs.by_function.remove(&f.name.to_ascii_lowercase());
    }
    Some(lib)
}

/// The libraries in force.
fn current(c: &Session) -> Arc<Libraries> {
    c.core.engine.libraries()
}

/// Changes the libraries under the engine's lock: `change` edits a copy,
/// which replaces them when it succeeds.
fn update<T>(
    c: &Session,
    change: impl FnOnce(&mut Libraries) -> Result<T, String>,
) -> Result<T, String> {
    let mut guard = match c.core.engine.functions.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let mut copy = Libraries::clone(&guard);
    let r = change(&mut copy)?;
    *guard = Arc::new(copy);
    c.core.engine.functions_epoch.fetch_add(1, Ordering::AcqRel);
    Ok(r)
}

fn function_load(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let mut replace = false;
        let mut i = 2;
        while i < a.len() - 1 {
            if eq(a.get(i), "replace") {
                replace = true;
                i += 1;
                continue;
            }
            let opt = String::from_utf8_lossy(a.get(i)).into_owned();
            return c.error(&format!("ERR Unknown option given: {opt}"));
        }
        let code = a.get(i);
        // The checks that need no Lua first, in Redis's order.
        let name = match library_name(code) {
            Ok(n) => n,
            Err(e) => return c.error(&e),
        };
        if !replace && current(c).libs.contains_key(&name) {
            return c.error(&format!("ERR Library '{name}' already exists"));
        }
        let lib = match build_library(c, code) {
            Ok(l) => l,
            Err(e) => return c.error(&e),
        };
        let r = update(c, |libs| {
            // Checked again: another core may have loaded it meanwhile.
            if !replace && libs.libs.contains_key(&name) {
                return Err(format!("ERR Library '{name}' already exists"));
            }
            join(libs, vec![lib], true)
        });
        match r {
            Ok(()) => c.reply().bulk(name.as_bytes()),
            Err(e) => c.error(&e),
        }
    })
}

fn function_delete(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let name = String::from_utf8_lossy(a.get(2)).into_owned();
        let r = update(c, |libs| {
            unlink(libs, &name)
                .map(|_| ())
                .ok_or_else(|| "ERR Library not found".to_owned())
        });
        match r {
            Ok(()) => c.reply().ok(),
            Err(e) => c.error(&e),
        }
    })
}

/// Redis's reply to a subcommand given the wrong arguments.
fn syntax_error(c: &mut Session, a: &OwnedArgs) {
    let sub = String::from_utf8_lossy(a.get(1)).into_owned();
    c.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
    ));
}

fn function_flush(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if a.len() > 3 {
            return syntax_error(c, &a);
        }
        if a.len() == 3 && !eq(a.get(2), "sync") && !eq(a.get(2), "async") {
            return c.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        }
        flush_all(c);
        c.reply().ok();
    })
}

/// Drops every library.
fn flush_all(c: &Session) {
    let _ = update(c, |libs| {
        *libs = Libraries::default();
        Ok(())
    });
}

fn function_list(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let mut with_code = false;
        let mut pattern: Option<&[u8]> = None;
        let mut i = 2;
        while i < a.len() {
            let arg = a.get(i);
            if !with_code && eq(arg, "withcode") {
                with_code = true;
            } else if pattern.is_none() && eq(arg, "libraryname") {
                if i + 1 >= a.len() {
                    return c.error("ERR library name argument was not given");
                }
                i += 1;
                pattern = Some(a.get(i));
            } else {
                let arg = String::from_utf8_lossy(arg).into_owned();
                return c.error(&format!("ERR Unknown argument {arg}"));
            }
            i += 1;
        }
        let libs = current(c);
        let shown: Vec<&Arc<Library>> = libs
            .libs
            .values()
            .filter(|l| {
                pattern.is_none_or(|p| crate::config::glob_match(p, l.name.as_bytes(), false))
            })
            .collect();
        let mut r = c.reply();
        r.array(shown.len());
        for lib in shown {
            r.map(if with_code { 4 } else { 3 });
            r.bulk(b"library_name");
            r.bulk(lib.name.as_bytes());
            r.bulk(b"engine");
            r.bulk(b"LUA");
            r.bulk(b"functions");
            r.array(lib.functions.len());
            for f in &lib.functions {
                r.map(3);
                r.bulk(b"name");
                r.bulk(f.name.as_bytes());
                r.bulk(b"description");
                match &f.description {
                    Some(d) => r.bulk(d),
                    None => r.null(),
                }
                r.bulk(b"flags");
                let names: Vec<&str> = FLAG_NAMES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| f.flags & (1 << i) != 0)
                    .map(|(_, n)| *n)
                    .collect();
                r.set(names.len());
                for n in names {
                    r.simple(n);
                }
            }
            if with_code {
                r.bulk(b"library_code");
                r.bulk(&lib.code);
            }
        }
    })
}

fn function_stats(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let libs = current(c);
        let running = super::busy_run(c);
        if let Some(run) = &running
            && !run.function
        {
            return c.error(super::BUSY_EVAL);
        }
        let mut r = c.reply();
        r.map(2);
        r.bulk(b"running_script");
        match running {
            None => r.null(),
            Some(run) => {
                r.map(3);
                r.bulk(b"name");
                r.bulk(run.name.as_bytes());
                r.bulk(b"command");
                r.array(run.argv.len());
                for arg in &run.argv {
                    r.bulk(arg);
                }
                r.bulk(b"duration_ms");
                r.int(crate::now_ms().saturating_sub(run.start_ms) as i64);
            }
        }
        r.bulk(b"engines");
        r.map(1);
        r.bulk(b"LUA");
        r.map(2);
        r.bulk(b"libraries_count");
        r.int(libs.libs.len() as i64);
        r.bulk(b"functions_count");
        r.int(libs.by_function.len() as i64);
    })
}

fn function_dump(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let libs = current(c);
        let mut out = Vec::new();
        for lib in libs.libs.values() {
            out.push(rdb::OPCODE_FUNCTION2);
            rdb::write_string(&mut out, &lib.code);
        }
        let payload = rdb::seal_dump(out);
        c.reply().bulk(&payload);
    })
}

fn function_restore(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if a.len() > 4 {
            return syntax_error(c, &a);
        }
        #[derive(PartialEq)]
        enum Policy {
            Append,
            Replace,
            Flush,
        }
        let policy = match a.len() {
            3 => Policy::Append,
            _ if eq(a.get(3), "append") => Policy::Append,
            _ if eq(a.get(3), "replace") => Policy::Replace,
            _ if eq(a.get(3), "flush") => Policy::Flush,
            _ => {
                return c.error(
                    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                );
            }
        };
        let Some(body) = rdb::verify_dump(a.get(2)) else {
            return c.error("ERR DUMP payload version or checksum are wrong");
        };
        let mut reader = rdb::Reader::new(body);
        let mut new: Vec<Library> = Vec::new();
        while reader.remaining() > 0 {
            let err = match reader.byte() {
                Some(rdb::OPCODE_FUNCTION2) => match reader.string() {
                    Some(code) => match build_library(c, &code) {
                        Ok(lib) if new.iter().any(|l| l.name == lib.name) => {
                            Some(format!("ERR Library {} already exists", lib.name))
                        }
                        Ok(lib) => {
                            new.push(lib);
                            None
                        }
                        Err(e) => Some(e),
                    },
                    None => Some("ERR Failed loading library payload".to_owned()),
                },
                Some(rdb::OPCODE_FUNCTION_PRE_GA) => {
                    Some("ERR Pre-GA function format not supported".to_owned())
                }
                Some(_) => Some("ERR given type is not a function".to_owned()),
                None => Some("ERR can not read data type".to_owned()),
            };
            if let Some(e) = err {
                return c.error(&e);
            }
        }
        let r = update(c, |libs| {
            if policy == Policy::Flush {
                *libs = Libraries::default();
            }
            join(libs, new, policy == Policy::Replace)
        });
        match r {
            Ok(()) => c.reply().ok(),
            Err(e) => c.error(&e),
        }
    })
}

fn function_kill(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { super::kill(c, true) })
}

fn function_help(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        crate::command::server::reply_help(
            c,
            "FUNCTION",
            &[
                "LOAD [REPLACE] <FUNCTION CODE>",
                "    Create a new library with the given library name and code.",
                "DELETE <LIBRARY NAME>",
                "    Delete the given library.",
                "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
                "    Return general information on all the libraries:",
                "    * Library name",
                "    * The engine used to run the Library",
                "    * Library description",
                "    * Functions list",
                "    * Library code (if WITHCODE is given)",
                "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
                "STATS",
                "    Return information about the current function running:",
                "    * Function name",
                "    * Command used to run the function",
                "    * Duration in MS that the function is running",
                "    If no function is running, return nil",
                "    In addition, returns a list of available engines.",
                "KILL",
                "    Kill the current running function.",
                "FLUSH [ASYNC|SYNC]",
                "    Delete all the libraries.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the libraries.",
                "    * SYNC: Synchronously flush the libraries.",
                "DUMP",
                "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
                "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
                "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
                "    control how to handle existing libraries (default APPEND):",
                "    * FLUSH: delete all existing libraries.",
                "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
                "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
                "      libraries with the new libraries (notice that even on this option there is a chance of failure",
                "      in case of functions name collision with another library).",
            ],
        )
    })
}

fn fcall(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(fcall_generic(c, a, false))
}

fn fcall_ro(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(fcall_generic(c, a, true))
}

async fn fcall_generic(c: &mut Session, a: OwnedArgs, ro: bool) {
    // Before its commands, as Redis feeds a function call to monitors
    // (where the client is connected).
    if !c.forwarded {
        c.feed_monitors(a.args());
    }
    let name = String::from_utf8_lossy(a.get(1)).to_ascii_lowercase();
    let epoch = c.core.engine.functions_epoch.load(Ordering::Acquire);
    let libs = current(c);
    let Some((_, info)) = libs.function(&name) else {
        return c.error("ERR Function not found");
    };
    let n = match numkeys_or(a.args(), "ERR Bad number of keys provided") {
        Ok(n) => n,
        Err(e) => return c.error(e),
    };
    let eng = match engine(c) {
        Ok(e) => e,
        Err(e) => return c.error(&e),
    };
    let Some(f) = eng.library_function(&name, epoch, &libs) else {
        return c.error("ERR Function not found");
    };
    let target = Target {
        name: Rc::from(info.name.as_str()),
        source: "user_function",
        eng,
        f,
        learn: info.learn.clone(),
        flags: Some(info.flags),
        function: true,
        entry: if ro { fcall_ro } else { fcall },
    };
    run_script(c, a, n, target, ro).await
}

const ALL: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];
const WRITE_ACL: &[&str] = &["write", "slow", "scripting"];
const READ_ACL: &[&str] = &["slow", "scripting"];

const FUNCTION_SUBS: &[CommandSpec] = &[
    sub(
        "function|load",
        -3,
        (WRITE | DENYOOM | NOSCRIPT, WRITE_ACL, ALL),
        "Create a function with the given arguments (name, code, description)",
        "O(1) (considering compilation time is redundant)",
        function_load,
    ),
    sub(
        "function|delete",
        3,
        (WRITE | NOSCRIPT, WRITE_ACL, ALL),
        "Delete a function by name",
        "O(1)",
        function_delete,
    ),
    sub(
        "function|flush",
        -2,
        (WRITE | NOSCRIPT, WRITE_ACL, ALL),
        "Deleting all functions",
        "O(N) where N is the number of functions deleted",
        function_flush,
    ),
    sub(
        "function|list",
        -2,
        (NOSCRIPT, READ_ACL, &["nondeterministic_output_order"]),
        "List information about all the functions",
        "O(N) where N is the number of functions",
        function_list,
    ),
    sub(
        "function|stats",
        2,
        (
            NOSCRIPT | ALLOW_BUSY,
            READ_ACL,
            &[
                "nondeterministic_output",
                "request_policy:all_shards",
                "response_policy:special",
            ],
        ),
        "Return information about the function currently running (name, description, duration)",
        "O(1)",
        function_stats,
    ),
    sub(
        "function|dump",
        2,
        (NOSCRIPT, READ_ACL, &[]),
        "Dump all functions into a serialized binary payload",
        "O(N) where N is the number of functions",
        function_dump,
    ),
    sub(
        "function|restore",
        -3,
        (WRITE | DENYOOM | NOSCRIPT, WRITE_ACL, ALL),
        "Restore all the functions on the given payload",
        "O(N) where N is the number of functions on the payload",
        function_restore,
    ),
    sub(
        "function|kill",
        2,
        (
            NOSCRIPT | ALLOW_BUSY,
            READ_ACL,
            &["request_policy:all_shards", "response_policy:one_succeeded"],
        ),
        "Kill the function currently in execution.",
        "O(1)",
        function_kill,
    ),
    CommandSpec {
        name: "function|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: &["slow", "scripting"],
        group: "scripting",
        summary: "Show helpful text about the different subcommands",
        since: "7.0.0",
        complexity: "O(1)",
        coord: Some(function_help),
        ..CommandSpec::DEFAULT
    },
];

/// A FUNCTION subcommand: flags, ACL categories and tips, then its text.
const fn sub(
    name: &'static str,
    arity: i32,
    (flags, acl, tips): (u64, &'static [&'static str], &'static [&'static str]),
    summary: &'static str,
    complexity: &'static str,
    coord: super::super::CoordFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        group: "scripting",
        summary,
        since: "7.0.0",
        complexity,
        tips,
        coord: Some(coord),
        ..CommandSpec::DEFAULT
    }
}

/// Function family specs.
pub static SPECS: &[CommandSpec] = &[
    super::eval_spec(
        "fcall",
        MAY_REPLICATE,
        "Invoke a function",
        "7.0.0",
        &["slow", "scripting"],
        fcall,
    ),
    super::eval_spec(
        "fcall_ro",
        READONLY,
        "Invoke a read-only function",
        "7.0.0",
        &["slow", "scripting"],
        fcall_ro,
    ),
    CommandSpec {
        name: "function",
        arity: -2,
        acl: &["slow"],
        group: "scripting",
        summary: "A container for function commands",
        since: "7.0.0",
        complexity: "Depends on subcommand.",
        subcommands: FUNCTION_SUBS,
        ..CommandSpec::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lines() {
        assert_eq!(library_name(b"#!lua name=lib\nx").unwrap(), "lib");
        assert_eq!(library_name(b"#!LUA NAME=lib\nx").unwrap(), "lib");
        assert_eq!(
            library_name(b"return 1").unwrap_err(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            library_name(b"#!lua name=x").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            library_name(b"#!lua\n").unwrap_err(),
            "ERR Library name was not given"
        );
        assert_eq!(
            library_name(b"#!lua x=1\n").unwrap_err(),
            "ERR Invalid metadata value given: x=1"
        );
        assert_eq!(
            library_name(b"#!js name=a\n").unwrap_err(),
            "ERR Engine 'js' not found"
        );
        assert!(library_name(b"#!lua name=a-b\n").is_err());
        assert_eq!(library_name(b"#!lua name=\"foo\"\nx").unwrap(), "foo");
        assert_eq!(
            library_name(b"#!lua name=\"foo\"x\nx").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(library_body(b"#!lua name=a\nreturn"), b"\nreturn");
    }
}
