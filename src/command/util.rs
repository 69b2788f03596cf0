//! Shared error texts and argument parsers, matching Redis's wording.

/// `-WRONGTYPE`.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// Integer parse failure.
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
/// Float parse failure.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// Generic syntax error.
pub const SYNTAX: &str = "ERR syntax error";
/// INCR family overflow.
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// Database index errors.
pub const DB_RANGE: &str = "ERR DB index is out of range";
/// Missing key.
pub const NO_SUCH_KEY: &str = "ERR no such key";

/// Parses an integer argument like Redis's `string2ll` (strict).
#[inline]
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    crate::storage::value::parse_canonical_i64(s)
}

/// Parses a non-negative integer.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    parse_i64(s).and_then(|v| u64::try_from(v).ok())
}

/// Parses a double like Redis's `string2d`/`getDoubleFromObject`: no leading
/// space, whole string consumed, `inf`/`-inf` allowed, NaN rejected.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let t = std::str::from_utf8(s).ok()?;
    let lower = t.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("nan") || lower.contains("inf") {
                return None;
            }
            // Rust accepts a few forms C rejects and vice versa; hex floats are
            // accepted by strtod but rare; decimal and exponent forms match.
            t.parse::<f64>().ok()?
        }
    };
    if v.is_nan() { None } else { Some(v) }
}

/// Case-insensitive ASCII comparison of an argument with a keyword.
#[inline]
pub fn eq(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}

/// Redis's index clamping for LRANGE, LTRIM, ZRANGE and the like (negative
/// indexes count from the end): the inclusive range inside `0..len`, if any.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut s = if start < 0 { llen + start } else { start };
    let mut e = if end < 0 { llen + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= llen {
        return None;
    }
    if e >= llen {
        e = llen - 1;
    }
    Some((s as usize, e as usize))
}

/// Parses a SCAN cursor like Redis's `strtoul` check: optional sign, decimal
/// digits, no overflow (a negative cursor wraps); the empty string is 0.
pub fn parse_cursor(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    parse_wrapping_u64(s)
}

/// An optional sign then decimal digits, without overflow, as `strtoull`
/// reads them in full (a minus sign wraps the value).
pub fn parse_wrapping_u64(s: &[u8]) -> Option<u64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// COUNT of the SCAN family when none is given.
pub const SCAN_DEFAULT_COUNT: usize = 10;

/// Options of SCAN, SSCAN, HSCAN and ZSCAN.
#[derive(Debug, Default)]
pub struct ScanOpts<'a> {
    /// COUNT (10 without it).
    pub count: usize,
    /// MATCH pattern; `None` for none or `*`.
    pub pattern: Option<&'a [u8]>,
    /// TYPE (SCAN only).
    pub typ: Option<&'a [u8]>,
}

/// Parses `[MATCH pattern] [COUNT count]` (and `[TYPE type]` when
/// `with_type`) from argument `from` on, with Redis's errors.
pub fn parse_scan_opts(
    a: crate::protocol::Args<'_>,
    from: usize,
    with_type: bool,
) -> Result<ScanOpts<'_>, &'static str> {
    let mut o = ScanOpts {
        count: SCAN_DEFAULT_COUNT,
        ..Default::default()
    };
    let mut i = from;
    while i < a.len() {
        let more = i + 1 < a.len();
        let opt = a.get(i);
        if eq(opt, "count") && more {
            let n = parse_i64(a.get(i + 1)).ok_or(NOT_INT)?;
            if n < 1 {
                return Err(SYNTAX);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq(opt, "match") && more {
            let p = a.get(i + 1);
            o.pattern = if p == b"*" { None } else { Some(p) };
        } else if with_type && eq(opt, "type") && more {
            o.typ = Some(a.get(i + 1));
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

/// For a write that names several keys but changed only `key` (a store
/// destination, the list a multi-key pop took from): signals `key` alone to
/// WATCHing clients, and tells the dispatcher the signalling is done.
pub fn changed_only(db: &mut crate::storage::Db, key: &[u8]) {
    db.touch_watched(key);
    crate::metrics::signalled_own_keys();
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b""), None);
    }

    #[test]
    fn cursor_parsing() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1x"), None);
        assert_eq!(parse_cursor(b"-"), None);
    }
}
