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
}
