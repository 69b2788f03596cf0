//! The `cjson` library scripts see: `cjson.encode`, `cjson.decode` and
//! `cjson.null`, with the Lua CJSON behaviour Redis ships.
//!
//! ```text
//!  encode: nil/cjson.null → null, booleans, numbers (integers without a
//!          fraction, others %.14g), strings (escaped, "/" as "\/"),
//!          tables with keys 1..n → arrays, other tables → objects (number
//!          keys written as strings); sparse arrays and nesting past 1000
//!          levels are errors
//!  decode: JSON text → Lua values, null → cjson.null
//! ```

use mlua::{Lua, Table, Value};

/// Deepest nesting encoded or decoded by default.
const MAX_DEPTH: usize = 1000;

/// The settings scripts change with `cjson.encode_max_depth` and the like
/// (per core, as each core has its own interpreter).
#[derive(Clone, Copy)]
struct Settings {
    encode_max_depth: usize,
    decode_max_depth: usize,
    /// 0: refuse NaN and Inf; 1: write them (`nan`, `inf`); 2: as null.
    encode_invalid: u8,
    decode_invalid: bool,
    precision: usize,
    keep_buffer: bool,
}

const DEFAULTS: Settings = Settings {
    encode_max_depth: MAX_DEPTH,
    decode_max_depth: MAX_DEPTH,
    encode_invalid: 0,
    decode_invalid: true,
    precision: 14,
    keep_buffer: true,
};

thread_local! {
    static SETTINGS: std::cell::Cell<Settings> = const { std::cell::Cell::new(DEFAULTS) };
}

fn settings() -> Settings {
    SETTINGS.with(|s| s.get())
}

fn update(f: impl FnOnce(&mut Settings)) {
    SETTINGS.with(|s| {
        let mut v = s.get();
        f(&mut v);
        s.set(v);
    });
}

/// An integer setting between `lo` and `hi`, as Lua CJSON checks it.
fn int_arg(lua: &Lua, v: &Value, lo: i64, hi: i64) -> mlua::Result<Option<usize>> {
    let n = match v {
        Value::Nil => return Ok(None),
        Value::Integer(n) => *n,
        Value::Number(n) if n.fract() == 0.0 => *n as i64,
        _ => i64::MIN,
    };
    if n < lo || n > hi {
        return Err(located(
            lua,
            format!("bad argument #1 to '?' (expected integer between {lo} and {hi})"),
        ));
    }
    Ok(Some(n as usize))
}

/// A boolean setting (`true`, `false`, or nil to read it).
fn bool_arg(lua: &Lua, v: &Value) -> mlua::Result<Option<bool>> {
    match v {
        Value::Nil => Ok(None),
        Value::Boolean(b) => Ok(Some(*b)),
        Value::String(s) if &*s.as_bytes() == b"on" => Ok(Some(true)),
        Value::String(s) if &*s.as_bytes() == b"off" => Ok(Some(false)),
        _ => Err(located(
            lua,
            "bad argument #1 to '?' (invalid option)".into(),
        )),
    }
}

/// Installs `cjson` as a table of `lib`.
pub fn install(lua: &Lua, g: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    let null = Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()));
    t.raw_set("null", null)?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            encode(&v, &mut out, 0).map_err(|e| located(lua, e))?;
            Ok(mlua::BString::from(out))
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let mut p = Parser { s: &bytes, at: 0 };
            p.skip_ws();
            let v = p.value(lua, 0).map_err(|e| located(lua, e))?;
            p.skip_ws();
            if p.at < p.s.len() {
                return Err(located(lua, p.err("the end")));
            }
            Ok(v)
        })?,
    )?;
    t.raw_set(
        "encode_max_depth",
        lua.create_function(|lua, v: Value| {
            if let Some(n) = int_arg(lua, &v, 1, i32::MAX as i64)? {
                update(|s| s.encode_max_depth = n);
            }
            Ok(settings().encode_max_depth)
        })?,
    )?;
    t.raw_set(
        "decode_max_depth",
        lua.create_function(|lua, v: Value| {
            if let Some(n) = int_arg(lua, &v, 1, i32::MAX as i64)? {
                update(|s| s.decode_max_depth = n);
            }
            Ok(settings().decode_max_depth)
        })?,
    )?;
    t.raw_set(
        "encode_number_precision",
        lua.create_function(|lua, v: Value| {
            if let Some(n) = int_arg(lua, &v, 1, 14)? {
                update(|s| s.precision = n);
            }
            Ok(settings().precision)
        })?,
    )?;
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(|lua, v: Value| {
            if let Some(b) = bool_arg(lua, &v)? {
                update(|s| s.keep_buffer = b);
            }
            Ok(settings().keep_buffer)
        })?,
    )?;
    t.raw_set(
        "decode_invalid_numbers",
        lua.create_function(|lua, v: Value| {
            if let Some(b) = bool_arg(lua, &v)? {
                update(|s| s.decode_invalid = b);
            }
            Ok(settings().decode_invalid)
        })?,
    )?;
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(|lua, v: Value| {
            let mode = match &v {
                Value::String(s) if &*s.as_bytes() == b"null" => Some(2),
                other => bool_arg(lua, other)?.map(u8::from),
            };
            if let Some(m) = mode {
                update(|s| s.encode_invalid = m);
            }
            Ok(match settings().encode_invalid {
                2 => Value::String(lua.create_string("null")?),
                m => Value::Boolean(m == 1),
            })
        })?,
    )?;
    g.raw_set("cjson", t)
}

/// A library error located at the script line that called the library,
/// as Lua's `luaL_error` does.
pub(super) fn located(lua: &Lua, msg: String) -> mlua::Error {
    let line = lua.inspect_stack(1, |d| {
        let ours = d.source().source.as_deref() == Some("@user_script");
        if ours { d.current_line() } else { None }
    });
    match line.flatten() {
        Some(l) => mlua::Error::runtime(format!("user_script:{l}: {msg}")),
        None => mlua::Error::runtime(msg),
    }
}

fn encode_number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    let cfg = settings();
    if n.is_nan() || n.is_infinite() {
        match cfg.encode_invalid {
            0 => return Err("Cannot serialise number: must not be NaN or Inf".into()),
            2 => out.extend_from_slice(b"null"),
            _ if n.is_nan() => out.extend_from_slice(b"nan"),
            _ if n > 0.0 => out.extend_from_slice(b"inf"),
            _ => out.extend_from_slice(b"-inf"),
        }
        return Ok(());
    }
    if n.fract() == 0.0 && n.abs() < 1e15 {
        out.extend_from_slice(format!("{}", n as i64).as_bytes());
    } else {
        out.extend_from_slice(format_g(n, cfg.precision).as_bytes());
    }
    Ok(())
}

/// C's `%.<prec>g` for a finite number.
fn format_g(d: f64, prec: usize) -> String {
    let sci = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if exp < -4 || exp >= prec as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{d:.decimals$}"))
    }
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => encode_number(*n, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= settings().encode_max_depth {
                return Err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            let pairs: Vec<(Value, Value)> = t.pairs().filter_map(Result::ok).collect();
            // An array when every key is a positive integer, not too sparse.
            let mut max = 0usize;
            let mut all_int = true;
            for (k, _) in &pairs {
                let idx = match k {
                    Value::Integer(i) if *i >= 1 => Some(*i as usize),
                    Value::Number(f) if *f >= 1.0 && f.fract() == 0.0 => Some(*f as usize),
                    _ => None,
                };
                match idx {
                    Some(i) => max = max.max(i),
                    None => all_int = false,
                }
            }
            if all_int && !pairs.is_empty() {
                if max > 10 && max > pairs.len() * 2 {
                    return Err("Cannot serialise table: excessively sparse array".into());
                }
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                    encode(&v, out, depth + 1)?;
                }
                out.push(b']');
                return Ok(());
            }
            out.push(b'{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Value::String(s) => encode_string(&s.as_bytes(), out),
                    Value::Integer(_) | Value::Number(_) => {
                        let mut num = Vec::new();
                        encode(k, &mut num, depth + 1)?;
                        encode_string(&num, out);
                    }
                    other => {
                        return Err(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            other.type_name()
                        ));
                    }
                }
                out.push(b':');
                encode(v, out, depth + 1)?;
            }
            out.push(b'}');
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        let found = if self.at >= self.s.len() {
            "T_END"
        } else {
            "invalid token"
        };
        format!(
            "Expected {what} but found {found} at character {}",
            self.at + 1
        )
    }

    fn skip_ws(&mut self) {
        while self.at < self.s.len() && matches!(self.s[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn lit(&mut self, word: &[u8]) -> bool {
        if self.s[self.at..].starts_with(word) {
            self.at += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, lua: &Lua, depth: usize) -> Result<Value, String> {
        self.skip_ws();
        if matches!(self.s.get(self.at), Some(b'{' | b'['))
            && depth + 1 > settings().decode_max_depth
        {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                depth + 1,
                self.at + 1
            ));
        }
        let Some(&c) = self.s.get(self.at) else {
            return Err(self.err("value"));
        };
        let lerr = |e: mlua::Error| e.to_string();
        match c {
            b'{' => {
                self.at += 1;
                let t = lua.create_table().map_err(lerr)?;
                self.skip_ws();
                if self.s.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.skip_ws();
                    if self.s.get(self.at) != Some(&b'"') {
                        return Err(self.err("object key string"));
                    }
                    let k = self.string()?;
                    self.skip_ws();
                    if self.s.get(self.at) != Some(&b':') {
                        return Err(self.err("colon"));
                    }
                    self.at += 1;
                    let v = self.value(lua, depth + 1)?;
                    t.raw_set(lua.create_string(&k).map_err(lerr)?, v)
                        .map_err(lerr)?;
                    self.skip_ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return Err(self.err("comma or object end")),
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let t = lua.create_table().map_err(lerr)?;
                self.skip_ws();
                if self.s.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(lua, depth + 1)?;
                    t.raw_set(i, v).map_err(lerr)?;
                    i += 1;
                    self.skip_ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return Err(self.err("comma or array end")),
                    }
                }
            }
            b'"' => {
                let s = self.string()?;
                Ok(Value::String(lua.create_string(&s).map_err(lerr)?))
            }
            b't' if self.lit(b"true") => Ok(Value::Boolean(true)),
            b'f' if self.lit(b"false") => Ok(Value::Boolean(false)),
            b'n' if self.lit(b"null") => Ok(Value::LightUserData(mlua::LightUserData(
                std::ptr::null_mut(),
            ))),
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                while self.at < self.s.len()
                    && matches!(
                        self.s[self.at],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.at]).unwrap_or("");
                match text.parse::<f64>() {
                    Ok(n) => Ok(Value::Number(n)),
                    Err(_) => {
                        self.at = start;
                        Err(self.err("value"))
                    }
                }
            }
            _ => Err(self.err("value")),
        }
    }

    /// A string at the cursor (on its opening quote), unescaped.
    fn string(&mut self) -> Result<Vec<u8>, String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.at) else {
                return Err("Expected string end but found end of input".into());
            };
            self.at += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.at) else {
                        return Err("Expected escape but found end of input".into());
                    };
                    self.at += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.at..self.at + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| self.err("unicode escape"))?;
                            self.at += 4;
                            let ch = char::from_u32(hex).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.err("escape")),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(code: &str) -> String {
        super::super::eval_with(install, code)
    }

    #[test]
    fn decode_numbers_strings_and_nesting() {
        assert_eq!(
            eval("return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')"),
            "0 -5000 -1 0.0003 1023.2 0"
        );
        assert_eq!(
            eval(
                "local t = cjson.decode('{\"keya\": \"a\", \"keyb\": \"b\"}') return t.keya .. t.keyb"
            ),
            "ab"
        );
        assert_eq!(
            eval("return tostring(cjson.decode('null') == cjson.null)"),
            "true"
        );
    }

    #[test]
    fn numbers_as_printf_g14() {
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(1023.2, 14), "1023.2");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(1.0 / 3.0, 14), "0.33333333333333");
    }

    #[test]
    fn encode_round_trips() {
        assert_eq!(
            eval("return cjson.encode({1, 2, 'a/b', true})"),
            "[1,2,\"a\\/b\",true]"
        );
        assert_eq!(eval("return cjson.encode({a = 1.5})"), "{\"a\":1.5}");
        assert_eq!(
            eval("return cjson.encode(cjson.decode('{\"x\":[1,{\"y\":null}]}'))"),
            "{\"x\":[1,{\"y\":null}]}"
        );
        let lua = Lua::new();
        install(&lua, &lua.globals()).unwrap();
        let e = lua
            .load("return cjson.encode({[1]=1, [100]=2})")
            .eval::<String>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("excessively sparse array"), "{e}");
    }
}
