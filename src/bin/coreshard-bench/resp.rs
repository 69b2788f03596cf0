//! Allocation-free RESP reply scanner.
//!
//! [`scan`] looks at the start of a receive buffer and tells whether it holds one
//! complete reply; if so it returns how many bytes the reply spans and how to
//! classify it. An incomplete reply is reported as such and the caller simply
//! scans again from the same position once more bytes have arrived (replies are
//! small next to the receive buffer, so the rescan costs little).
//!
//! Nesting needs no stack: the scanner keeps a single count of elements still to
//! read. It starts at one; every element read decrements it, and an aggregate of
//! `n` elements adds `n` (a map or attribute adds `2n`, an attribute does not count
//! as an element itself). The reply is complete when the count reaches zero.
//!
//! Classification:
//! * an error (`-` or `!`) at the top level is an error;
//! * a null (`$-1`, `*-1`, `_`) is a miss, a bulk string is a hit;
//! * inside an aggregate every bulk string is a hit and every null a miss (so an
//!   MGET reply counts per element);
//! * anything else (`+OK`, integers, ...) is neither.

/// What one complete reply said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Bytes the reply occupies.
    pub len: usize,
    /// True for an error reply.
    pub error: bool,
    /// Non-null bulk strings seen.
    pub hits: u32,
    /// Nulls seen.
    pub misses: u32,
}

/// Malformed input: the server is not speaking RESP.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// Finds the `\r\n` that ends the line starting at `from`; returns the index of `\r`.
#[inline]
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    let nl = rest.iter().position(|&b| b == b'\n')?;
    // `from` is at least 1 (it follows the type byte), so this cannot underflow.
    Some(from + nl - 1)
}

/// Parses a signed decimal length/integer.
#[inline]
fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (d - b'0') as i64;
    }
    Some(if neg { -v } else { v })
}

fn bad(buf: &[u8], at: usize) -> ProtocolError {
    let end = buf.len().min(at + 40);
    ProtocolError(format!(
        "unexpected reply bytes {:?}",
        String::from_utf8_lossy(&buf[at.min(end)..end])
    ))
}

/// Scans one reply at the start of `buf`. `Ok(None)`: not complete yet.
pub fn scan(buf: &[u8]) -> Result<Option<Reply>, ProtocolError> {
    let mut pos = 0usize;
    let mut pending: u64 = 1;
    let mut out = Reply::default();
    let mut top = true;
    while pending > 0 {
        let Some(&t) = buf.get(pos) else {
            return Ok(None);
        };
        let Some(cr) = line_end(buf, pos + 1) else {
            return Ok(None);
        };
        if buf[cr] != b'\r' {
            return Err(bad(buf, pos));
        }
        let body = &buf[pos + 1..cr];
        let next = cr + 2;
        match t {
            b'+' | b':' | b',' | b'#' | b'(' => {
                pending -= 1;
                pos = next;
            }
            b'-' => {
                if top {
                    out.error = true;
                }
                pending -= 1;
                pos = next;
            }
            b'_' => {
                out.misses += 1;
                pending -= 1;
                pos = next;
            }
            b'$' | b'!' | b'=' => {
                let n = parse_int(body).ok_or_else(|| bad(buf, pos))?;
                pending -= 1;
                if n < 0 {
                    if t == b'$' {
                        out.misses += 1;
                    }
                    pos = next;
                } else {
                    let end = next + n as usize + 2;
                    if buf.len() < end {
                        return Ok(None);
                    }
                    if &buf[end - 2..end] != b"\r\n" {
                        return Err(bad(buf, end - 2));
                    }
                    match t {
                        b'!' if top => out.error = true,
                        b'!' => {}
                        _ => out.hits += 1,
                    }
                    pos = end;
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = parse_int(body).ok_or_else(|| bad(buf, pos))?;
                if t != b'|' {
                    pending -= 1;
                }
                if n < 0 {
                    out.misses += 1;
                } else {
                    let mul = if t == b'%' || t == b'|' { 2 } else { 1 };
                    pending += n as u64 * mul;
                }
                pos = next;
            }
            _ => return Err(bad(buf, pos)),
        }
        top = false;
    }
    out.len = pos;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(b: &[u8]) -> Reply {
        let r = scan(b).expect("valid").expect("complete");
        assert_eq!(r.len, b.len(), "{:?}", String::from_utf8_lossy(b));
        r
    }

    fn class(b: &[u8]) -> (bool, u32, u32) {
        let r = one(b);
        (r.error, r.hits, r.misses)
    }

    const SAMPLES: &[&[u8]] = &[
        b"+OK\r\n",
        b"-ERR unknown command 'FOO'\r\n",
        b":12345\r\n",
        b"$5\r\nhello\r\n",
        b"$0\r\n\r\n",
        b"$-1\r\n",
        b"*-1\r\n",
        b"_\r\n",
        b"*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n",
        b"*2\r\n*2\r\n$1\r\na\r\n:1\r\n*0\r\n",
        b"*0\r\n",
        b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n$1\r\nx\r\n",
        b"|1\r\n+key\r\n+val\r\n$3\r\nabc\r\n",
        b"!5\r\nERR x\r\n",
        b"=7\r\ntxt:abc\r\n",
        b",3.14\r\n",
        b"#t\r\n",
        b"(123456789012345678901234567890\r\n",
        b"$6\r\na\r\nb\r\n\r\n",
    ];

    #[test]
    fn classifies() {
        assert_eq!(class(b"+OK\r\n"), (false, 0, 0));
        assert_eq!(class(b"-ERR x\r\n"), (true, 0, 0));
        assert_eq!(class(b"!5\r\nERR x\r\n"), (true, 0, 0));
        assert_eq!(class(b"$5\r\nhello\r\n"), (false, 1, 0));
        assert_eq!(class(b"$-1\r\n"), (false, 0, 1));
        assert_eq!(class(b"*-1\r\n"), (false, 0, 1));
        assert_eq!(class(b"_\r\n"), (false, 0, 1));
        assert_eq!(class(b":3\r\n"), (false, 0, 0));
        // MGET: per element.
        assert_eq!(
            class(b"*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n"),
            (false, 2, 1)
        );
        // RESP3 nulls inside an array.
        assert_eq!(class(b"*2\r\n_\r\n$1\r\nz\r\n"), (false, 1, 1));
        // An error inside an aggregate (EXEC) does not make the reply an error.
        assert_eq!(class(b"*2\r\n-ERR a\r\n+OK\r\n"), (false, 0, 0));
        // Binary data containing CRLF is skipped by length.
        assert_eq!(class(b"$6\r\na\r\nb\r\n\r\n"), (false, 1, 0));
    }

    #[test]
    fn nested_aggregates() {
        let r = one(b"*2\r\n*2\r\n$1\r\na\r\n:1\r\n*0\r\n");
        assert_eq!((r.hits, r.misses), (1, 0));
        let r = one(b"*1\r\n*1\r\n*1\r\n*1\r\n$-1\r\n");
        assert_eq!(r.misses, 1);
        let r = one(b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n$1\r\nx\r\n");
        assert_eq!(r.hits, 1);
        // Attribute then the real reply.
        let r = one(b"|1\r\n+key\r\n+val\r\n$3\r\nabc\r\n");
        assert_eq!(r.hits, 1);
    }

    #[test]
    fn every_split_point_is_incomplete() {
        for s in SAMPLES {
            for cut in 0..s.len() {
                assert_eq!(
                    scan(&s[..cut]),
                    Ok(None),
                    "{:?} cut at {cut}",
                    String::from_utf8_lossy(s)
                );
            }
            one(s);
        }
    }

    #[test]
    fn back_to_back_replies_consume_one_at_a_time() {
        let mut all = Vec::new();
        for s in SAMPLES {
            all.extend_from_slice(s);
        }
        // Feed the stream in every chunk size; count replies like the event loop does.
        for chunk in 1..=all.len() {
            let mut buf: Vec<u8> = Vec::new();
            let mut n = 0;
            for piece in all.chunks(chunk) {
                buf.extend_from_slice(piece);
                let mut start = 0;
                while let Some(r) = scan(&buf[start..]).expect("valid") {
                    start += r.len;
                    n += 1;
                }
                buf.drain(..start);
            }
            assert!(buf.is_empty());
            assert_eq!(n, SAMPLES.len(), "chunk {chunk}");
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(scan(b"hello\r\n").is_err());
        assert!(scan(b"$x\r\n").is_err());
        assert!(scan(b"$3\r\nabcde\r\n").is_err());
        assert!(scan(b"+OK\n").is_err());
    }
}
