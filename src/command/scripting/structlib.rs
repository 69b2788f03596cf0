//! The `struct` library scripts see: `struct.pack`, `struct.unpack` and
//! `struct.size`, binary packing as Roberto Ierusalimschy's struct library
//! that Redis embeds does it.
//!
//! ```text
//!  format: > big endian   < little endian   = native   !n align to n
//!          x pad byte   b/B char   h/H short   l/L long   T size_t
//!          i/In I/In integer of n bytes (default 4)   f float   d double
//!          s zero-terminated string   cn n chars (c0: a string's length,
//!          or in unpack the previous value)   spaces are ignored
//!  unpack returns the values, then the position after them (from 1)
//! ```

use super::json::located;
use mlua::{Lua, MultiValue, Table, Value};

/// The largest integer size a format may give.
const MAX_INT_SIZE: usize = 32;
/// Native alignment limit (`!` alone).
const NATIVE_ALIGN: usize = 8;

/// Installs `struct` as a table of `g`.
pub fn install(lua: &Lua, g: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, (fmt, args): (mlua::LuaString, MultiValue)| {
            pack(&fmt.as_bytes(), &args)
                .map(mlua::BString::from)
                .map_err(|e| located(lua, e))
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(
            |lua, (fmt, data, pos): (mlua::LuaString, mlua::LuaString, Option<i64>)| {
                unpack(lua, &fmt.as_bytes(), &data.as_bytes(), pos.unwrap_or(1))
                    .map_err(|e| located(lua, e))
            },
        )?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|lua, fmt: mlua::LuaString| {
            size(&fmt.as_bytes()).map_err(|e| located(lua, e))
        })?,
    )?;
    g.raw_set("struct", t)
}

/// One item of a format.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Item {
    Pad,
    Int { size: usize, signed: bool },
    Float,
    Double,
    Zstr,
    Chars(usize),
}

/// Walks a format: endianness and alignment changes are applied as they
/// come; each item is handed over with its size.
struct Format<'a> {
    f: &'a [u8],
    at: usize,
    little: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(f: &'a [u8]) -> Format<'a> {
        Format {
            f,
            at: 0,
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }

    /// A number following an option, or `default`.
    fn number(&mut self, default: usize) -> usize {
        if !self.f.get(self.at).is_some_and(u8::is_ascii_digit) {
            return default;
        }
        let mut n = 0usize;
        while let Some(&d) = self.f.get(self.at).filter(|d| d.is_ascii_digit()) {
            n = n.saturating_mul(10).saturating_add((d - b'0') as usize);
            self.at += 1;
        }
        n
    }

    fn next(&mut self) -> Result<Option<(Item, usize)>, String> {
        loop {
            let Some(&c) = self.f.get(self.at) else {
                return Ok(None);
            };
            self.at += 1;
            let int = |size, signed| Item::Int { size, signed };
            let item = match c {
                b' ' => continue,
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'=' => {
                    self.little = cfg!(target_endian = "little");
                    continue;
                }
                b'!' => {
                    let a = self.number(NATIVE_ALIGN);
                    if !a.is_power_of_two() {
                        return Err(format!("alignment {a} is not a power of 2"));
                    }
                    self.align = a;
                    continue;
                }
                b'x' => Item::Pad,
                b'b' => int(1, true),
                b'B' => int(1, false),
                b'h' => int(2, true),
                b'H' => int(2, false),
                b'l' => int(8, true),
                b'L' => int(8, false),
                b'T' => int(8, false),
                b'i' | b'I' => {
                    let n = self.number(4);
                    if n > MAX_INT_SIZE {
                        return Err(format!(
                            "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                        ));
                    }
                    if n == 0 {
                        return Err("integral size 0 is not allowed".into());
                    }
                    int(n, c == b'i')
                }
                b'f' => Item::Float,
                b'd' => Item::Double,
                b's' => Item::Zstr,
                b'c' => Item::Chars(self.number(1)),
                other => return Err(format!("invalid format option '{}'", other as char)),
            };
            let size = match item {
                Item::Pad => 1,
                Item::Int { size, .. } => size,
                Item::Float => 4,
                Item::Double => 8,
                Item::Zstr => 0,
                Item::Chars(n) => n,
            };
            return Ok(Some((item, size)));
        }
    }

    /// Appends a value given as little-endian bytes, in the format's order.
    fn put(&self, out: &mut Vec<u8>, le: &[u8]) {
        if self.little {
            out.extend_from_slice(le);
        } else {
            out.extend(le.iter().rev());
        }
    }

    /// `n` bytes of `data` at `at`, as little-endian (None past its end).
    fn get(&self, data: &[u8], at: usize, n: usize) -> Option<Vec<u8>> {
        let b = data.get(at..at.checked_add(n)?)?;
        Some(if self.little {
            b.to_vec()
        } else {
            b.iter().rev().copied().collect()
        })
    }

    /// Padding before an item of `size` at offset `len`.
    fn padding(&self, item: Item, size: usize, len: usize) -> usize {
        if matches!(item, Item::Zstr | Item::Chars(_) | Item::Pad) {
            return 0;
        }
        let a = size.min(self.align);
        if a <= 1 {
            0
        } else {
            (a - (len & (a - 1))) & (a - 1)
        }
    }
}

fn number_arg(args: &MultiValue, i: usize) -> Result<f64, String> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_arg(i, "number expected, got string")),
        other => Err(bad_arg(
            i,
            &format!("number expected, got {}", type_name(other)),
        )),
    }
}

fn string_arg(args: &MultiValue, i: usize) -> Result<Vec<u8>, String> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(crate::protocol::reply::format_g17(*n).into_bytes()),
        other => Err(bad_arg(
            i,
            &format!("string expected, got {}", type_name(other)),
        )),
    }
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None | Some(Value::Nil) => "no value",
        Some(v) => v.type_name(),
    }
}

/// Lua's "bad argument" message (argument `i` of the values, counted from
/// the format, which is #1).
fn bad_arg(i: usize, msg: &str) -> String {
    format!("bad argument #{} to '?' ({msg})", i + 2)
}

fn pack(fmt: &[u8], args: &MultiValue) -> Result<Vec<u8>, String> {
    let mut f = Format::new(fmt);
    let mut out = Vec::new();
    let mut arg = 0;
    while let Some((item, size)) = f.next()? {
        out.resize(out.len() + f.padding(item, size, out.len()), 0);
        match item {
            Item::Pad => out.push(0),
            Item::Int { size, .. } => {
                let n = number_arg(args, arg)?;
                arg += 1;
                let v: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut bytes = vec![0u8; size];
                for (i, b) in bytes.iter_mut().enumerate().take(8) {
                    *b = (v >> (8 * i)) as u8;
                }
                f.put(&mut out, &bytes);
            }
            Item::Float => {
                let n = number_arg(args, arg)? as f32;
                arg += 1;
                f.put(&mut out, &n.to_le_bytes());
            }
            Item::Double => {
                let n = number_arg(args, arg)?;
                arg += 1;
                f.put(&mut out, &n.to_le_bytes());
            }
            Item::Zstr => {
                let s = string_arg(args, arg)?;
                arg += 1;
                if s.contains(&0) {
                    return Err(bad_arg(arg - 1, "string contains zeros"));
                }
                out.extend_from_slice(&s);
                out.push(0);
            }
            Item::Chars(n) => {
                let s = string_arg(args, arg)?;
                arg += 1;
                let n = if n == 0 { s.len() } else { n };
                if s.len() < n {
                    return Err(bad_arg(arg - 1, "string too short"));
                }
                out.extend_from_slice(&s[..n]);
            }
        }
    }
    Ok(out)
}

fn unpack(lua: &Lua, fmt: &[u8], data: &[u8], pos: i64) -> Result<MultiValue, String> {
    let mut f = Format::new(fmt);
    if pos < 1 {
        return Err("bad argument #3 to '?' (offset must be 1 or greater)".into());
    }
    let mut at = (pos - 1) as usize;
    let mut out: Vec<Value> = Vec::new();
    let short = || "bad argument #2 to '?' (data string too short)".to_owned();
    let string = |b: &[u8]| {
        lua.create_string(b)
            .map(Value::String)
            .map_err(|e| e.to_string())
    };
    while let Some((item, size)) = f.next()? {
        at += f.padding(item, size, at);
        match item {
            Item::Pad => {
                if at + 1 > data.len() {
                    return Err(short());
                }
                at += 1;
            }
            Item::Int { size, signed } => {
                let ordered = f.get(data, at, size).ok_or_else(short)?;
                let mut v: u64 = 0;
                for (i, &x) in ordered.iter().enumerate().take(8) {
                    v |= (x as u64) << (8 * i);
                }
                let n = if signed && size < 8 && v >> (size * 8 - 1) & 1 == 1 {
                    (v | (u64::MAX << (size * 8))) as i64 as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                out.push(Value::Number(n));
                at += size;
            }
            Item::Float => {
                let b = f.get(data, at, 4).and_then(|b| b.try_into().ok());
                out.push(Value::Number(
                    f32::from_le_bytes(b.ok_or_else(short)?) as f64
                ));
                at += 4;
            }
            Item::Double => {
                let b = f.get(data, at, 8).and_then(|b| b.try_into().ok());
                out.push(Value::Number(f64::from_le_bytes(b.ok_or_else(short)?)));
                at += 8;
            }
            Item::Zstr => {
                let rest = data.get(at..).ok_or_else(short)?;
                let Some(end) = rest.iter().position(|&c| c == 0) else {
                    return Err("bad argument #2 to '?' (unfinished string in data)".into());
                };
                out.push(string(&rest[..end])?);
                at += end + 1;
            }
            Item::Chars(n) => {
                let n = if n == 0 {
                    match out.pop() {
                        Some(Value::Number(len)) if len >= 0.0 => len as usize,
                        Some(Value::Integer(len)) if len >= 0 => len as usize,
                        _ => {
                            return Err(
                                "bad argument #1 to '?' (format 'c0' needs a previous size)".into(),
                            );
                        }
                    }
                } else {
                    n
                };
                let b = data.get(at..at + n).ok_or_else(short)?;
                out.push(string(b)?);
                at += n;
            }
        }
    }
    out.push(Value::Number((at + 1) as f64));
    Ok(MultiValue::from_iter(out))
}

fn size(fmt: &[u8]) -> Result<usize, String> {
    let mut f = Format::new(fmt);
    let mut len = 0;
    while let Some((item, size)) = f.next()? {
        match item {
            Item::Zstr => {
                return Err("bad argument #1 to 'size' (option 's' has no fixed size)".into());
            }
            Item::Chars(0) => {
                return Err("bad argument #1 to 'size' (option 'c0' has no fixed size)".into());
            }
            _ => {}
        }
        len += f.padding(item, size, len) + size;
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::super::eval_with;

    #[test]
    fn pack_unpack_size() {
        let run = |code: &str| eval_with(super::install, code);
        assert_eq!(
            run(
                "local s = struct.pack('>I2', 258) return string.byte(s, 1) .. ',' .. string.byte(s, 2)"
            ),
            "1,2"
        );
        assert_eq!(
            run(
                "local a, b, n = struct.unpack('<hB', struct.pack('<hB', -2, 200)) return a .. ',' .. b .. ',' .. n"
            ),
            "-2,200,4"
        );
        assert_eq!(
            run("local s, n = struct.unpack('s', struct.pack('s', 'abc')) return s .. n"),
            "abc5"
        );
        assert_eq!(
            run("local s = struct.unpack('bc0', struct.pack('bc0', 3, 'xyz')) return s"),
            "xyz"
        );
        assert_eq!(run("return tostring(struct.size('!4bi'))"), "8");
        assert_eq!(run("return tostring(struct.size('>d'))"), "8");
        assert_eq!(
            run("return tostring(struct.unpack('>d', struct.pack('>d', 1.5)))"),
            "1.5"
        );
        assert!(
            run("local ok, e = pcall(struct.unpack, 'i4', 'ab') return tostring(e)")
                .contains("bad argument #2 to '?' (data string too short)")
        );
    }
}
