//! The `cmsgpack` library scripts see: `cmsgpack.pack(...)` and
//! `cmsgpack.unpack(s)`, as lua-cmsgpack encodes and decodes.
//!
//! ```text
//!  pack:   nil, booleans, integers in their smallest encoding, other
//!          numbers as float32 when exact else float64, strings, tables
//!          with keys 1..n as arrays and others as maps; several values
//!          are packed one after another
//!  unpack: every value in the string, returned as several results
//! ```

use mlua::{Lua, MultiValue, Table, Value};

/// Deepest nesting packed (deeper tables are packed as nil, as
/// lua-cmsgpack does).
const MAX_DEPTH: usize = 16;

/// Installs `cmsgpack` as a table of `g`.
pub fn install(lua: &Lua, g: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, vals: MultiValue| {
            if vals.is_empty() {
                return Err(super::json::located(
                    lua,
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)".into(),
                ));
            }
            let mut out = Vec::new();
            for v in vals.iter() {
                pack(v, &mut out, 0);
            }
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let mut at = 0;
            let mut out = Vec::new();
            while at < bytes.len() {
                let v = unpack(lua, &bytes, &mut at, 0)?;
                out.push(v);
            }
            Ok(MultiValue::from_iter(out))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::LuaString, Option<i64>)| {
            unpack_limit(lua, &s.as_bytes(), 1, offset.unwrap_or(0))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::LuaString, i64, Option<i64>)| {
                unpack_limit(lua, &s.as_bytes(), limit, offset.unwrap_or(0))
            },
        )?,
    )?;
    g.raw_set("cmsgpack", t)
}

/// Up to `limit` values from byte `offset`: the offset of the next value
/// (-1 at the end of the string), then the values; with both 0, every
/// value and no offset (as lua-cmsgpack's `mp_unpack_full`).
fn unpack_limit(lua: &Lua, b: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    if offset < 0 || limit < 0 {
        return Err(mlua::Error::runtime(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            b.len()
        )));
    }
    if offset as usize > b.len() {
        return Err(mlua::Error::runtime(format!(
            "Start offset {offset} greater than input length {}.",
            b.len()
        )));
    }
    let all = limit == 0 && offset == 0;
    let mut at = offset as usize;
    let mut vals = Vec::new();
    while at < b.len() && (all || (vals.len() as i64) < limit) {
        vals.push(unpack(lua, b, &mut at, 0)?);
    }
    if all {
        return Ok(MultiValue::from_iter(vals));
    }
    let next = if at >= b.len() { -1 } else { at as i64 };
    let mut out = vec![Value::Integer(next)];
    out.extend(vals);
    Ok(MultiValue::from_iter(out))
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let u = n as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u < 256 {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u < 65536 {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u < (1 << 32) {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(len: usize, fix: u8, fix_max: usize, small: Option<u8>, mid: u8, out: &mut Vec<u8>) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if let Some(s) = small.filter(|_| len < 256) {
        out.extend_from_slice(&[s, len as u8]);
    } else if len < 65536 {
        out.push(mid);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mid + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack(v: &Value, out: &mut Vec<u8>, depth: usize) {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => pack_int(*n, out),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.2e18 {
                pack_int(*n as i64, out);
            } else if (*n as f32) as f64 == *n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            pack_len(b.len(), 0xa0, 32, Some(0xd9), 0xda, out);
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_DEPTH => {
            let len = t.raw_len();
            let pairs = t.pairs::<Value, Value>().filter_map(Result::ok).count();
            if len > 0 && pairs == len {
                pack_len(len, 0x90, 16, None, 0xdc, out);
                for i in 1..=len {
                    let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
                    pack(&v, out, depth + 1);
                }
            } else {
                pack_len(pairs, 0x80, 16, None, 0xde, out);
                for (k, v) in t.pairs::<Value, Value>().filter_map(Result::ok) {
                    pack(&k, out, depth + 1);
                    pack(&v, out, depth + 1);
                }
            }
        }
        _ => out.push(0xc0),
    }
}

fn unpack(lua: &Lua, b: &[u8], at: &mut usize, depth: usize) -> mlua::Result<Value> {
    let bad = || mlua::Error::runtime("Missing bytes in input.");
    if depth > 1000 {
        return Err(mlua::Error::runtime("Bad data format in input."));
    }
    let take = |at: &mut usize, n: usize| -> mlua::Result<&[u8]> {
        let s = b.get(*at..*at + n).ok_or_else(bad)?;
        *at += n;
        Ok(s)
    };
    let c = *b.get(*at).ok_or_else(bad)?;
    *at += 1;
    let be = |s: &[u8]| s.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64);
    let string = |at: &mut usize, n: usize| -> mlua::Result<Value> {
        let s = take(at, n)?;
        Ok(Value::String(lua.create_string(s)?))
    };
    let array = |at: &mut usize, n: usize| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for i in 1..=n {
            t.raw_set(i, unpack(lua, b, at, depth + 1)?)?;
        }
        Ok(Value::Table(t))
    };
    let map = |at: &mut usize, n: usize| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = unpack(lua, b, at, depth + 1)?;
            let v = unpack(lua, b, at, depth + 1)?;
            if k != Value::Nil {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    };
    // str 8/16/32 and bin 8/16/32, array 16/32, map 16/32: a big-endian
    // length of 1, 2 or 4 bytes first.
    let sized = match c {
        0xd9 | 0xc4 => be(take(at, 1)?) as usize,
        0xda | 0xc5 | 0xdc | 0xde => be(take(at, 2)?) as usize,
        0xdb | 0xc6 | 0xdd | 0xdf => be(take(at, 4)?) as usize,
        _ => 0,
    };
    Ok(match c {
        0x00..=0x7f => Value::Integer(c as i64),
        0xe0..=0xff => Value::Integer(c as i8 as i64),
        0x80..=0x8f => map(at, (c & 0x0f) as usize)?,
        0x90..=0x9f => array(at, (c & 0x0f) as usize)?,
        0xa0..=0xbf => string(at, (c & 0x1f) as usize)?,
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xca => Value::Number(f32::from_bits(be(take(at, 4)?) as u32) as f64),
        0xcb => Value::Number(f64::from_bits(be(take(at, 8)?))),
        0xcc => Value::Integer(be(take(at, 1)?) as i64),
        0xcd => Value::Integer(be(take(at, 2)?) as i64),
        0xce => Value::Integer(be(take(at, 4)?) as i64),
        0xcf => Value::Number(be(take(at, 8)?) as f64),
        0xd0 => Value::Integer(be(take(at, 1)?) as u8 as i8 as i64),
        0xd1 => Value::Integer(be(take(at, 2)?) as u16 as i16 as i64),
        0xd2 => Value::Integer(be(take(at, 4)?) as u32 as i32 as i64),
        0xd3 => Value::Integer(be(take(at, 8)?) as i64),
        0xd9..=0xdb | 0xc4..=0xc6 => string(at, sized)?,
        0xdc | 0xdd => array(at, sized)?,
        0xde | 0xdf => map(at, sized)?,
        _ => return Err(mlua::Error::runtime("Bad data format in input.")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        super::super::eval_with(install, code)
    }

    #[test]
    fn pack_unpack_round_trips() {
        assert_eq!(
            eval(
                "local t = cmsgpack.unpack(cmsgpack.pack({1, 'a', {x = 2}, true})) return t[2] .. t[3].x .. tostring(t[4])"
            ),
            "a2true"
        );
        assert_eq!(
            eval(
                "local a, b = cmsgpack.unpack(cmsgpack.pack(-100000, 1.5)) return tostring(a) .. ' ' .. tostring(b)"
            ),
            "-100000 1.5"
        );
        assert_eq!(
            eval(
                "local s = cmsgpack.pack(0.1) return tostring(#s) .. ' ' .. tostring(cmsgpack.unpack(s))"
            ),
            "9 0.1"
        );
        assert_eq!(
            eval("return tostring(#cmsgpack.pack(127)) .. tostring(#cmsgpack.pack(-1))"),
            "11"
        );
    }
}
