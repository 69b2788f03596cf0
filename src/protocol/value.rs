//! One RESP2/RESP3 reply read back into a tree: what a script sees of the
//! reply of a command it ran.
//!
//! ```text
//!  reply bytes ──parse──► Value::{Status, Error, Int, Bulk, Nil, Array, Map,
//!                                 Set, Double, Bool, BigNumber, Verbatim}
//! ```
//!
//! Only replies this server wrote are parsed, so malformed input yields
//! None rather than a detailed error. Attributes (`|`) are skipped.

/// A parsed reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `+...`
    Status(Vec<u8>),
    /// `-...`
    Error(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$n ...`
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` and RESP3 `_`.
    Nil,
    /// `*n ...` and RESP3 pushes (`>`).
    Array(Vec<Value>),
    /// RESP3 `%n`.
    Map(Vec<(Value, Value)>),
    /// RESP3 `~n`.
    Set(Vec<Value>),
    /// RESP3 `,`.
    Double(f64),
    /// RESP3 `#t` / `#f`.
    Bool(bool),
    /// RESP3 `(`.
    BigNumber(Vec<u8>),
    /// RESP3 `=n fmt:text`: the format and the text.
    Verbatim(Vec<u8>, Vec<u8>),
}

/// Most levels of nesting read (deeper replies are not parsed).
const MAX_DEPTH: usize = 1000;

/// Parses the reply at the start of `buf`: the value and the bytes it took.
pub fn parse(buf: &[u8]) -> Option<(Value, usize)> {
    parse_at(buf, 0)
}

fn parse_at(buf: &[u8], depth: usize) -> Option<(Value, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let eol = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = buf.get(1..eol)?;
    let after = eol + 2;
    let num = || std::str::from_utf8(line).ok()?.parse::<i64>().ok();
    let blob = |n: i64| -> Option<(&[u8], usize)> {
        let n = usize::try_from(n).ok()?;
        let end = after.checked_add(n)?;
        (buf.get(end..end + 2)? == b"\r\n").then(|| (&buf[after..end], end + 2))
    };
    let items = |n: i64| -> Option<(Vec<Value>, usize)> {
        let n = usize::try_from(n).ok()?;
        let mut out = Vec::with_capacity(n.min(1024));
        let mut at = after;
        for _ in 0..n {
            let (v, used) = parse_at(buf.get(at..)?, depth + 1)?;
            out.push(v);
            at += used;
        }
        Some((out, at))
    };
    Some(match buf.first()? {
        b'+' => (Value::Status(line.to_vec()), after),
        b'-' => (Value::Error(line.to_vec()), after),
        b':' => (Value::Int(num()?), after),
        b'_' => (Value::Nil, after),
        b'#' => (Value::Bool(line == b"t"), after),
        b'(' => (Value::BigNumber(line.to_vec()), after),
        b',' => {
            let s = std::str::from_utf8(line).ok()?;
            let d = match s {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                _ => s.parse().ok()?,
            };
            (Value::Double(d), after)
        }
        b'$' | b'!' | b'=' => {
            let n = num()?;
            if n < 0 {
                return Some((Value::Nil, after));
            }
            let (data, end) = blob(n)?;
            let v = match buf[0] {
                b'$' => Value::Bulk(data.to_vec()),
                b'!' => Value::Error(data.to_vec()),
                _ => match data.get(3) {
                    Some(b':') => Value::Verbatim(data[..3].to_vec(), data[4..].to_vec()),
                    _ => Value::Verbatim(b"txt".to_vec(), data.to_vec()),
                },
            };
            (v, end)
        }
        b'*' | b'>' | b'~' => {
            let n = num()?;
            if n < 0 {
                return Some((Value::Nil, after));
            }
            let (vs, end) = items(n)?;
            if buf[0] == b'~' {
                (Value::Set(vs), end)
            } else {
                (Value::Array(vs), end)
            }
        }
        b'%' | b'|' => {
            let n = num()?;
            let (vs, end) = items(n.checked_mul(2)?)?;
            let mut it = vs.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            if buf[0] == b'|' {
                // An attribute precedes the reply it describes.
                let (v, used) = parse_at(buf.get(end..)?, depth + 1)?;
                return Some((v, end + used));
            }
            (Value::Map(pairs), end)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &[u8]) -> Value {
        let (v, used) = parse(s).unwrap();
        assert_eq!(used, s.len(), "{}", String::from_utf8_lossy(s));
        v
    }

    #[test]
    fn resp2_replies() {
        assert_eq!(one(b"+OK\r\n"), Value::Status(b"OK".to_vec()));
        assert_eq!(one(b"-ERR x\r\n"), Value::Error(b"ERR x".to_vec()));
        assert_eq!(one(b":-12\r\n"), Value::Int(-12));
        assert_eq!(one(b"$3\r\na\r\n\r\n"), Value::Bulk(b"a\r\n".to_vec()));
        assert_eq!(one(b"$-1\r\n"), Value::Nil);
        assert_eq!(one(b"*-1\r\n"), Value::Nil);
        assert_eq!(
            one(b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n"),
            Value::Array(vec![Value::Int(1), Value::Array(vec![Value::Bulk(vec![])])])
        );
    }

    #[test]
    fn resp3_replies() {
        assert_eq!(one(b"_\r\n"), Value::Nil);
        assert_eq!(one(b"#t\r\n"), Value::Bool(true));
        assert_eq!(one(b",1.5\r\n"), Value::Double(1.5));
        assert_eq!(one(b",-inf\r\n"), Value::Double(f64::NEG_INFINITY));
        assert_eq!(one(b"(123\r\n"), Value::BigNumber(b"123".to_vec()));
        assert_eq!(
            one(b"=8\r\ntxt:abcd\r\n"),
            Value::Verbatim(b"txt".to_vec(), b"abcd".to_vec())
        );
        assert_eq!(
            one(b"%1\r\n+a\r\n:1\r\n"),
            Value::Map(vec![(Value::Status(b"a".to_vec()), Value::Int(1))])
        );
        assert_eq!(one(b"~1\r\n:1\r\n"), Value::Set(vec![Value::Int(1)]));
        assert_eq!(one(b"|1\r\n+k\r\n+v\r\n:7\r\n"), Value::Int(7));
    }

    #[test]
    fn incomplete_or_bad_input_is_none() {
        for bad in [
            &b""[..],
            b"+OK",
            b"$5\r\nab\r\n",
            b"*2\r\n:1\r\n",
            b":x\r\n",
            b"?\r\n",
            b"$3\r\nabcd\r\n",
        ] {
            assert!(parse(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
