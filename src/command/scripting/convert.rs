//! Conversions between Lua values and RESP, as Redis 7 does them.
//!
//! ```text
//!  command reply ──push_reply (integers, bulks) or parse + push_value──► Lua value
//!      RESP2: integer → number, bulk → string, nil → false, array → table,
//!             status → {ok=..}, error → {err="CODE msg"}
//!      RESP3 (after redis.setresp(3)): null → nil, boolean → boolean,
//!             map → {map=t}, set → {set=t}, double → {double=n},
//!             big number → {big_number=s}, verbatim → {verbatim_string=..}
//!  script result ──write_reply──► reply bytes in the client's protocol
//!      number → integer (truncated), string → bulk, true → 1, false and
//!      nil → null, table: err/ok fields → error/status, double, map, set,
//!      big_number, verbatim_string, else an array up to the first nil
//! ```

use crate::protocol::Reply;
use crate::protocol::value::{self, Value};
use mlua::{Table, ffi};
use std::ffi::{CStr, c_char, c_int};

/// Most table levels converted to a reply (deeper ones become an error,
/// as Redis stops at its own limit).
const MAX_DEPTH: usize = 1000;

/// The error table Redis builds for an error `msg`: a leading `-` is
/// dropped and a message whose first word is all there is gets `ERR`.
pub fn error_text(msg: &[u8]) -> Vec<u8> {
    let msg = msg.strip_prefix(b"-").unwrap_or(msg);
    if msg.contains(&b' ') {
        msg.to_vec()
    } else {
        let mut v = b"ERR ".to_vec();
        v.extend_from_slice(msg);
        v
    }
}

/// Makes the value on top of `l` the field `name` of a new table, which
/// replaces it: `{name = value}`.
///
/// # Safety
/// `l` has a value on top and room for one more.
unsafe fn wrap(l: *mut ffi::lua_State, name: &CStr) {
    // SAFETY: as the caller promises; a fresh table has no metamethods.
    unsafe {
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_insert(l, -2);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}

/// Pushes a Lua string of `b`.
///
/// # Safety
/// `l` has room for one more value.
unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    // SAFETY: as the caller promises; Lua copies the bytes.
    unsafe { ffi::lua_pushlstring_(l, b.as_ptr() as *const c_char, b.len()) }
}

/// Pushes a parsed command reply onto `l` as the Lua value a script
/// receives.
///
/// # Safety
/// `l` is a state of the interpreter that is not running (a suspended or
/// idle coroutine) or the one running the caller. Only an allocation
/// failure raises (the process is out of memory then).
pub unsafe fn push_value(l: *mut ffi::lua_State, v: &Value) {
    // SAFETY: as the caller promises; every push is preceded by a check
    // for stack room (a reply nested past it becomes nil).
    unsafe {
        if ffi::lua_checkstack(l, 4) == 0 {
            return ffi::lua_pushnil(l);
        }
        match v {
            Value::Status(s) => {
                push_bytes(l, s);
                wrap(l, c"ok");
            }
            Value::Error(e) => {
                push_bytes(l, &error_text(e));
                wrap(l, c"err");
            }
            Value::Int(n) => ffi::lua_pushnumber(l, *n as f64),
            Value::Bulk(b) => push_bytes(l, b),
            Value::Nil => ffi::lua_pushboolean(l, 0),
            Value::Array(items) => {
                ffi::lua_createtable(l, c_int::try_from(items.len()).unwrap_or(0), 0);
                for (i, it) in items.iter().enumerate() {
                    push_value(l, it);
                    ffi::lua_rawseti_(l, -2, c_int::try_from(i + 1).unwrap_or(c_int::MAX));
                }
            }
            Value::Map(pairs) => {
                ffi::lua_createtable(l, 0, c_int::try_from(pairs.len()).unwrap_or(0));
                for (k, v) in pairs {
                    push_value(l, k);
                    push_value(l, v);
                    ffi::lua_rawset(l, -3);
                }
                wrap(l, c"map");
            }
            Value::Set(items) => {
                ffi::lua_createtable(l, 0, c_int::try_from(items.len()).unwrap_or(0));
                for it in items {
                    push_value(l, it);
                    ffi::lua_pushboolean(l, 1);
                    ffi::lua_rawset(l, -3);
                }
                wrap(l, c"set");
            }
            Value::Double(d) => {
                ffi::lua_pushnumber(l, *d);
                wrap(l, c"double");
            }
            Value::Bool(b) => ffi::lua_pushboolean(l, c_int::from(*b)),
            Value::BigNumber(s) => {
                push_bytes(l, s);
                wrap(l, c"big_number");
            }
            Value::Verbatim(fmt, s) => {
                ffi::lua_createtable(l, 0, 2);
                push_bytes(l, fmt);
                ffi::lua_setfield(l, -2, c"format".as_ptr());
                push_bytes(l, s);
                ffi::lua_setfield(l, -2, c"string".as_ptr());
                wrap(l, c"verbatim_string");
            }
        }
    }
}

/// Pushes the command reply at the start of `reply` onto `l` as the Lua
/// value a script receives (an integer or a bulk string without building
/// a tree first); false when it cannot be read (nothing pushed).
///
/// # Safety
/// As [`push_value`].
pub unsafe fn push_reply(l: *mut ffi::lua_State, reply: &[u8]) -> bool {
    let line = || {
        let eol = reply.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&reply[1..eol])
            .ok()?
            .parse::<i64>()
            .ok()?;
        Some((n, eol + 2))
    };
    // SAFETY: as the caller promises.
    unsafe {
        if ffi::lua_checkstack(l, 4) == 0 {
            return false;
        }
        match reply.first() {
            Some(b':') => {
                if let Some((n, _)) = line() {
                    ffi::lua_pushnumber(l, n as f64);
                    return true;
                }
            }
            Some(b'$') => match line() {
                Some((-1, _)) => {
                    ffi::lua_pushboolean(l, 0);
                    return true;
                }
                Some((n, at)) if n >= 0 => {
                    if let Some(b) = reply.get(at..at + n as usize) {
                        push_bytes(l, b);
                        return true;
                    }
                }
                _ => {}
            },
            _ => {}
        }
        match value::parse(reply) {
            Some((v, _)) => {
                push_value(l, &v);
                true
            }
            None => false,
        }
    }
}

/// RESP2 nil (`redis.setresp(3)` does not change it: the client's
/// protocol decides, as for every reply).
fn null(r: &mut Reply<'_>) {
    r.null();
}

/// Writes an error reply exactly as given (CR and LF become spaces).
pub fn raw_error(r: &mut Reply<'_>, msg: &[u8]) {
    let mut line = Vec::with_capacity(msg.len() + 3);
    line.push(b'-');
    line.extend(
        msg.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    line.extend_from_slice(b"\r\n");
    r.raw(&line);
}

/// The string field `name` of `t`, if it is a string.
fn string_field(t: &Table, name: &str) -> Option<Vec<u8>> {
    match t.raw_get::<mlua::Value>(name).ok()? {
        mlua::Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// Writes the reply for a script's return value.
pub fn write_reply(r: &mut Reply<'_>, v: &mlua::Value) {
    write_at(r, v, 0)
}

fn write_at(r: &mut Reply<'_>, v: &mlua::Value, depth: usize) {
    if depth > MAX_DEPTH {
        return raw_error(r, b"ERR reached lua stack limit");
    }
    match v {
        mlua::Value::Nil => null(r),
        mlua::Value::Boolean(true) => r.int(1),
        mlua::Value::Boolean(false) => null(r),
        mlua::Value::Integer(n) => r.int(*n),
        mlua::Value::Number(n) => r.int(if n.is_nan() { 0 } else { *n as i64 }),
        mlua::Value::String(s) => r.bulk(&s.as_bytes()),
        mlua::Value::Table(t) => write_table(r, t, depth),
        _ => null(r),
    }
}

fn write_table(r: &mut Reply<'_>, t: &Table, depth: usize) {
    if let Some(e) = string_field(t, "err") {
        return raw_error(r, &e);
    }
    if let Some(s) = string_field(t, "ok") {
        return r.simple_bytes(&s);
    }
    if let Ok(mlua::Value::Number(d)) = t.raw_get::<mlua::Value>("double") {
        return r.double(d);
    }
    if let Ok(mlua::Value::Integer(d)) = t.raw_get::<mlua::Value>("double") {
        return r.double(d as f64);
    }
    if let Some(s) = string_field(t, "big_number") {
        return r.big_number(&String::from_utf8_lossy(&s));
    }
    if let Ok(mlua::Value::Table(v)) = t.raw_get::<mlua::Value>("verbatim_string") {
        let fmt = string_field(&v, "format").unwrap_or_else(|| b"txt".to_vec());
        let s = string_field(&v, "string").unwrap_or_default();
        let fmt = String::from_utf8_lossy(&fmt[..fmt.len().min(3)]).into_owned();
        return r.verbatim(&fmt, &s);
    }
    if let Ok(mlua::Value::Table(m)) = t.raw_get::<mlua::Value>("map") {
        let pairs: Vec<(mlua::Value, mlua::Value)> = m.pairs().filter_map(Result::ok).collect();
        r.map(pairs.len());
        for (k, v) in &pairs {
            write_at(r, k, depth + 1);
            write_at(r, v, depth + 1);
        }
        return;
    }
    if let Ok(mlua::Value::Table(s)) = t.raw_get::<mlua::Value>("set") {
        let members: Vec<mlua::Value> = s
            .pairs::<mlua::Value, mlua::Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        r.set(members.len());
        for m in &members {
            write_at(r, m, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<mlua::Value>(i) {
            Ok(mlua::Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    r.array(items.len());
    for it in &items {
        write_at(r, it, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_tables_get_a_code() {
        assert_eq!(error_text(b"-ERR value bad"), b"ERR value bad");
        assert_eq!(error_text(b"E1 x"), b"E1 x");
        assert_eq!(error_text(b"x"), b"ERR x");
        assert_eq!(error_text(b"-x"), b"ERR x");
    }

    fn reply_of(code: &str, resp3: bool) -> Vec<u8> {
        let lua = mlua::Lua::new();
        let v: mlua::Value = lua.load(code).eval().unwrap();
        let mut out = Vec::new();
        write_reply(&mut Reply::new(&mut out, resp3), &v);
        out
    }

    #[test]
    fn script_results_as_redis_replies() {
        assert_eq!(
            reply_of("return {true,false,nil,3}", false),
            b"*2\r\n:1\r\n$-1\r\n"
        );
        assert_eq!(
            reply_of("return {true,false,nil,3}", true),
            b"*2\r\n:1\r\n_\r\n"
        );
        assert_eq!(reply_of("return 3.99", false), b":3\r\n");
        assert_eq!(reply_of("return {double=3.5}", false), b"$3\r\n3.5\r\n");
        assert_eq!(reply_of("return {double=3.5}", true), b",3.5\r\n");
        assert_eq!(
            reply_of("return {map={a=1}}", false),
            b"*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            reply_of("return {map={a=1}}", true),
            b"%1\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(reply_of("return {err='-boom'}", false), b"--boom\r\n");
        assert_eq!(reply_of("return {ok='a\\r\\nb'}", false), b"+a  b\r\n");
        assert_eq!(
            reply_of("return {1,2,{3,'a'},nil,5}", false),
            b"*3\r\n:1\r\n:2\r\n*2\r\n:3\r\n$1\r\na\r\n"
        );
    }

    /// What a script reads for the reply bytes `reply`.
    fn read(lua: &mlua::Lua, reply: &[u8]) -> mlua::Value {
        // SAFETY: the closure pushes onto the state exec_raw gives it.
        unsafe {
            lua.exec_raw::<mlua::Value>((), |l| {
                assert!(push_reply(l, reply));
            })
        }
        .unwrap()
    }

    #[test]
    fn command_replies_as_lua_values() {
        let lua = mlua::Lua::new();
        assert_eq!(read(&lua, b"$-1\r\n"), mlua::Value::Boolean(false));
        assert_eq!(read(&lua, b":5\r\n"), mlua::Value::Number(5.0));
        assert_eq!(read(&lua, b":-9\r\n"), mlua::Value::Number(-9.0));
        let mlua::Value::String(s) = read(&lua, b"$3\r\na\0b\r\n") else {
            panic!("not a string")
        };
        assert_eq!(&*s.as_bytes(), b"a\0b");
        let mlua::Value::Table(t) = read(&lua, b"-ERR no\r\n") else {
            panic!("not a table")
        };
        assert_eq!(t.get::<String>("err").unwrap(), "ERR no");
        let mlua::Value::Table(t) = read(&lua, b"+OK\r\n") else {
            panic!("not a table")
        };
        assert_eq!(t.get::<String>("ok").unwrap(), "OK");
        let mlua::Value::Table(t) = read(&lua, b",1.5\r\n") else {
            panic!("not a table")
        };
        assert_eq!(t.get::<f64>("double").unwrap(), 1.5);
        let mlua::Value::Table(t) = read(&lua, b"*3\r\n:1\r\n$-1\r\n*1\r\n$1\r\nx\r\n") else {
            panic!("not a table")
        };
        assert_eq!(t.raw_len(), 3);
        assert_eq!(
            t.get::<mlua::Value>(2).unwrap(),
            mlua::Value::Boolean(false)
        );
        let inner: Table = t.get(3).unwrap();
        assert_eq!(inner.get::<String>(1).unwrap(), "x");
        let mlua::Value::Table(t) = read(&lua, b"%1\r\n$1\r\nk\r\n#t\r\n") else {
            panic!("not a table")
        };
        let m: Table = t.get("map").unwrap();
        assert!(m.get::<bool>("k").unwrap());
        let mlua::Value::Table(t) = read(&lua, b"~1\r\n$1\r\nm\r\n") else {
            panic!("not a table")
        };
        let set: Table = t.get("set").unwrap();
        assert!(set.get::<bool>("m").unwrap());
        // SAFETY: as in `read`.
        let unreadable = unsafe {
            lua.exec_raw::<bool>((), |l| {
                let ok = push_reply(l, b"$9\r\nab\r\n");
                ffi::lua_pushboolean(l, c_int::from(ok));
            })
        };
        assert!(!unreadable.unwrap());
    }
}
