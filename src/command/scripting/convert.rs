//! Conversions between Lua values and RESP, as Redis 7 does them.
//!
//! ```text
//!  command reply ──protocol::value::parse──► Value ──to_lua──► Lua value
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
use crate::protocol::value::Value;
use mlua::{Lua, Table};

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

/// A table `{name = value}`.
fn single(lua: &Lua, name: &str, v: impl mlua::IntoLua) -> mlua::Result<mlua::Value> {
    let t = lua.create_table()?;
    t.raw_set(name, v)?;
    Ok(mlua::Value::Table(t))
}

/// A parsed command reply as the Lua value a script receives.
pub fn to_lua(lua: &Lua, v: &Value) -> mlua::Result<mlua::Value> {
    Ok(match v {
        Value::Status(s) => single(lua, "ok", lua.create_string(s)?)?,
        Value::Error(e) => single(lua, "err", lua.create_string(error_text(e))?)?,
        Value::Int(n) => mlua::Value::Number(*n as f64),
        Value::Bulk(b) => mlua::Value::String(lua.create_string(b)?),
        Value::Nil => mlua::Value::Boolean(false),
        Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, it) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, it)?)?;
            }
            mlua::Value::Table(t)
        }
        Value::Map(pairs) => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                t.raw_set(to_lua(lua, k)?, to_lua(lua, v)?)?;
            }
            single(lua, "map", t)?
        }
        Value::Set(items) => {
            let t = lua.create_table()?;
            for it in items {
                t.raw_set(to_lua(lua, it)?, true)?;
            }
            single(lua, "set", t)?
        }
        Value::Double(d) => single(lua, "double", *d)?,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::BigNumber(s) => single(lua, "big_number", lua.create_string(s)?)?,
        Value::Verbatim(fmt, s) => {
            let t = lua.create_table()?;
            t.raw_set("format", lua.create_string(fmt)?)?;
            t.raw_set("string", lua.create_string(s)?)?;
            single(lua, "verbatim_string", t)?
        }
    })
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
        let lua = Lua::new();
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

    #[test]
    fn command_replies_as_lua_values() {
        let lua = Lua::new();
        let get = |v: &Value| to_lua(&lua, v).unwrap();
        assert_eq!(get(&Value::Nil), mlua::Value::Boolean(false));
        assert_eq!(get(&Value::Int(5)), mlua::Value::Number(5.0));
        let mlua::Value::Table(t) = get(&Value::Error(b"ERR no".to_vec())) else {
            panic!("not a table")
        };
        assert_eq!(t.get::<String>("err").unwrap(), "ERR no");
        let mlua::Value::Table(t) = get(&Value::Double(1.5)) else {
            panic!("not a table")
        };
        assert_eq!(t.get::<f64>("double").unwrap(), 1.5);
    }
}
