//! Reference models used by the fuzz targets as oracles.
//!
//! These restate, in the plainest possible form, how Redis 7.0 frames a request
//! out of a fresh query buffer (`processMultibulkBuffer` / `processInlineBuffer`)
//! and how it splits an inline line (`sdssplitargs`). They favour obviousness
//! over speed: every byte beyond the end reads as NUL, as in C.
//!
//! One divergence is deliberate and not modelled: Redis looks for `\r` / `\n`
//! with `strchr`, so a NUL byte before the line end makes it wait for more data
//! (until the 64 KiB limit), while coreshard treats NUL as an ordinary byte.
//! The models return [`Model::Unmodeled`] for such inputs and the targets skip
//! the comparison.

/// Longest header / inline line without a terminator (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;

/// What Redis does with a query buffer that starts at a request boundary.
#[derive(Debug, PartialEq, Eq)]
pub enum Model {
    Incomplete,
    Skip(usize),
    Command(usize, Vec<Vec<u8>>),
    InvalidMultibulkLen,
    InvalidBulkLen,
    ExpectedDollar(u8),
    TooBigMbulkCount,
    TooBigBulkCount,
    TooBigInline,
    UnbalancedQuotes,
    /// A NUL byte hides the line terminator from Redis's `strchr`.
    Unmodeled,
}

/// Redis `string2ll`: optional `-`, no `+`, no leading zeros, no "-0",
/// the full `i64` range.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Position of the first `needle` at or after `from`, or `Err(())` when a NUL
/// comes first (C string search stops there), `Ok(None)` when absent.
fn c_find(buf: &[u8], from: usize, needle: u8) -> Result<Option<usize>, ()> {
    for (i, &c) in buf.iter().enumerate().skip(from) {
        if c == needle {
            return Ok(Some(i));
        }
        if c == 0 {
            return Err(());
        }
    }
    Ok(None)
}

/// How Redis 7.0 frames the first request of `buf`.
pub fn frame(buf: &[u8], max_bulk_len: i64) -> Model {
    if buf.is_empty() {
        return Model::Incomplete;
    }
    if buf[0] == b'*' {
        multibulk(buf, max_bulk_len)
    } else {
        inline(buf)
    }
}

fn multibulk(buf: &[u8], max_bulk_len: i64) -> Model {
    let len = buf.len();
    let cr = match c_find(buf, 0, b'\r') {
        Err(()) => return Model::Unmodeled,
        Ok(None) if len > INLINE_MAX => return Model::TooBigMbulkCount,
        Ok(None) => return Model::Incomplete,
        Ok(Some(cr)) => cr,
    };
    // The byte after '\r' must have arrived; it is skipped unchecked.
    if cr + 2 > len {
        return Model::Incomplete;
    }
    let count = match string2ll(&buf[1..cr]) {
        Some(n) if n <= i64::from(i32::MAX) => n,
        _ => return Model::InvalidMultibulkLen,
    };
    let mut pos = cr + 2;
    if count <= 0 {
        return Model::Skip(pos);
    }
    let mut args = Vec::new();
    for _ in 0..count {
        let cr = match c_find(buf, pos, b'\r') {
            Err(()) => return Model::Unmodeled,
            Ok(None) if len - pos > INLINE_MAX => return Model::TooBigBulkCount,
            Ok(None) => return Model::Incomplete,
            Ok(Some(cr)) => cr,
        };
        if cr + 2 > len {
            return Model::Incomplete;
        }
        if buf[pos] != b'$' {
            return Model::ExpectedDollar(buf[pos]);
        }
        let n = match string2ll(&buf[pos + 1..cr]) {
            Some(n) if n >= 0 && n <= max_bulk_len => n as u64,
            _ => return Model::InvalidBulkLen,
        };
        pos = cr + 2;
        if ((len - pos) as u64) < n + 2 {
            return Model::Incomplete;
        }
        let n = n as usize;
        args.push(buf[pos..pos + n].to_vec());
        pos += n + 2;
    }
    Model::Command(pos, args)
}

fn inline(buf: &[u8]) -> Model {
    let nl = match c_find(buf, 0, b'\n') {
        Err(()) => return Model::Unmodeled,
        Ok(None) if buf.len() > INLINE_MAX => return Model::TooBigInline,
        Ok(None) => return Model::Incomplete,
        Ok(Some(nl)) => nl,
    };
    let mut line = &buf[..nl];
    if let [head @ .., b'\r'] = line {
        line = head;
    }
    match split(line) {
        None => Model::UnbalancedQuotes,
        Some(a) if a.is_empty() => Model::Skip(nl + 1),
        Some(a) => Model::Command(nl + 1, a),
    }
}

/// C `isspace` in the "C" locale.
pub fn c_isspace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// `sdssplitargs` over a C string: the line ends at the first NUL.
/// `None` for unbalanced quotes (or a closing quote followed by a non-space).
pub fn split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut p = 0;
    let mut out = Vec::new();
    loop {
        while at(p) != 0 && c_isspace(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(out);
        }
        let (mut inq, mut insq, mut done) = (false, false, false);
        let mut cur = Vec::new();
        while !done {
            let c = at(p);
            if inq {
                if let (b'\\', b'x', Some(h), Some(l)) =
                    (c, at(p + 1), hex(at(p + 2)), hex(at(p + 3)))
                {
                    cur.push(h * 16 + l);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !c_isspace(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !c_isspace(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => cur.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_like_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"-0", b"01", b"+1", b"1 ", b"00"] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn frames_like_redis() {
        // Replies observed from redis-server 7.0.15.
        assert_eq!(frame(b"*01\r\n", 1 << 29), Model::InvalidMultibulkLen);
        assert_eq!(
            frame(b"*-9223372036854775808\r\n", 1 << 29),
            Model::Skip(23)
        );
        assert_eq!(frame(b"*2147483647\r\n", 1 << 29), Model::Incomplete);
        assert_eq!(
            frame(b"*2147483648\r\n", 1 << 29),
            Model::InvalidMultibulkLen
        );
        assert_eq!(
            frame(b"*1\rX$4\r\nPING\r\n", 1 << 29),
            Model::Command(14, vec![b"PING".to_vec()])
        );
        assert_eq!(frame(b"*1\r\nx", 1 << 29), Model::Incomplete);
        assert_eq!(
            frame(b"\x0becho \"a\"\x0bb\r\n", 1 << 29),
            Model::Command(13, vec![b"echo".to_vec(), b"a".to_vec(), b"b".to_vec()])
        );
    }
}
