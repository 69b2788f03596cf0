//! Values stored under keys.

use super::bytes::SmallBytes;

/// A stored value. Later data types add variants here.
#[derive(Clone, Debug)]
pub enum Value {
    /// A string as set (inline when short).
    Str(SmallBytes),
    /// A string that has been modified in place (APPEND, SETRANGE, SETBIT):
    /// kept growable so repeated appends stay amortised O(1).
    Raw(Vec<u8>),
}

/// Largest string length Redis reports as `embstr`.
pub const EMBSTR_SIZE_LIMIT: usize = 44;

impl Value {
    /// A string value from bytes.
    pub fn string(s: &[u8]) -> Value {
        Value::Str(SmallBytes::new(s))
    }
    /// `TYPE` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::Raw(_) => "string",
        }
    }
    /// `OBJECT ENCODING` name, as Redis reports it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && parse_canonical_i64(s).is_some() {
                    "int"
                } else if s.len() <= EMBSTR_SIZE_LIMIT {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Raw(v) => {
                if v.len() <= 20 && parse_canonical_i64(v).is_some() {
                    "int"
                } else {
                    "raw"
                }
            }
        }
    }
    /// The bytes of a string value, or None for other types.
    #[inline]
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s.as_slice()),
            Value::Raw(v) => Some(v),
        }
    }
    /// Mutable growable bytes of a string value (converting it to `Raw`), or None
    /// for other types.
    pub fn str_mut(&mut self) -> Option<&mut Vec<u8>> {
        if let Value::Str(s) = self {
            *self = Value::Raw(s.as_slice().to_vec());
        }
        match self {
            Value::Raw(v) => Some(v),
            _ => None,
        }
    }
    /// Approximate heap bytes owned by the value (for eviction and MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::Raw(v) => v.capacity(),
        }
    }
}

/// Parses a decimal integer the way Redis's `string2ll` does: no leading `+`,
/// no leading zeros, no spaces, within i64.
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s.len() == 1 && s[0] == b'0' {
        return Some(0);
    }
    let (neg, d) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if d.is_empty() || d[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ints() {
        assert_eq!(parse_canonical_i64(b"0"), Some(0));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_canonical_i64(b"9223372036854775808"), None);
        assert_eq!(parse_canonical_i64(b"01"), None);
        assert_eq!(parse_canonical_i64(b"-0"), None);
        assert_eq!(parse_canonical_i64(b" 1"), None);
        assert_eq!(Value::string(b"123").encoding(), "int");
        assert_eq!(Value::string(b"abc").encoding(), "embstr");
    }
}
