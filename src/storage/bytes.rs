//! `SmallBytes`: a 24-byte byte string that keeps up to 22 bytes inline.
//!
//! Most keys and many values are short; keeping them inside the table entry saves
//! an allocation and a pointer chase per lookup.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

const INLINE: usize = 22;

/// An immutable byte string, inline when short.
#[derive(Clone)]
pub enum SmallBytes {
    /// Up to 22 bytes stored in place.
    Inline(u8, [u8; INLINE]),
    /// Longer strings on the heap.
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// Copies `s`.
    #[inline]
    pub fn new(s: &[u8]) -> Self {
        if s.len() <= INLINE {
            let mut a = [0u8; INLINE];
            a[..s.len()].copy_from_slice(s);
            SmallBytes::Inline(s.len() as u8, a)
        } else {
            SmallBytes::Heap(s.into())
        }
    }
    /// Takes ownership of `v` (inlined when short).
    pub fn from_vec(v: Vec<u8>) -> Self {
        if v.len() <= INLINE {
            Self::new(&v)
        } else {
            SmallBytes::Heap(v.into_boxed_slice())
        }
    }
    /// The bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            SmallBytes::Inline(n, a) => &a[..*n as usize],
            SmallBytes::Heap(b) => b,
        }
    }
    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            SmallBytes::Inline(n, _) => *n as usize,
            SmallBytes::Heap(b) => b.len(),
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Replaces the bytes with `s`, in place when both the old and the new
    /// bytes fit inline (no new value is built and moved over the old one).
    #[inline]
    pub fn assign(&mut self, s: &[u8]) {
        match self {
            SmallBytes::Inline(n, a) if s.len() <= INLINE => {
                a[..s.len()].copy_from_slice(s);
                *n = s.len() as u8;
            }
            _ => *self = SmallBytes::new(s),
        }
    }
    /// Adds 1 (`up`) or subtracts 1 from a short string holding a
    /// non-negative decimal integer in its canonical form (no sign, no
    /// leading zero, at most 18 digits, so the result cannot overflow an
    /// `i64`), in place, carrying and borrowing digit by digit. Returns the
    /// new text, or None (nothing changed) for any other string, and for 0
    /// going down: the caller then parses and formats.
    #[inline]
    pub fn step_decimal(&mut self, up: bool) -> Option<&[u8]> {
        let SmallBytes::Inline(len, a) = self else {
            return None;
        };
        let n = *len as usize;
        let digits = &a[..n];
        if n == 0
            || n > 18
            || (n > 1 && digits[0] == b'0')
            || !digits.iter().all(u8::is_ascii_digit)
            || (!up && digits == b"0")
        {
            return None;
        }
        // An 18-digit 99..9 grows to 19 digits in place.
        const _: () = assert!(INLINE > 18);
        let mut i = n;
        if up {
            loop {
                i -= 1;
                if a[i] != b'9' {
                    a[i] += 1;
                    break;
                }
                a[i] = b'0';
                if i == 0 {
                    // 99..9 + 1: one more digit.
                    a.copy_within(0..n, 1);
                    a[0] = b'1';
                    *len += 1;
                    break;
                }
            }
        } else {
            // At least 1: some digit is not 0, so the borrow stops in range.
            loop {
                i -= 1;
                if a[i] != b'0' {
                    a[i] -= 1;
                    break;
                }
                a[i] = b'9';
            }
            if n > 1 && a[0] == b'0' {
                a.copy_within(1..n, 0);
                *len -= 1;
            }
        }
        Some(&a[..*len as usize])
    }
    /// Heap bytes owned beyond the struct itself.
    pub fn heap_size(&self) -> usize {
        match self {
            SmallBytes::Inline(..) => 0,
            SmallBytes::Heap(b) => b.len(),
        }
    }
}

/// Byte-string equality with the short cases done in registers: keys are
/// mostly under 16 bytes, where a library `memcmp` call costs more than the
/// comparison. Two overlapping loads cover every length from 4 to 16.
#[inline]
pub fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        let w =
            |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
        w(a, 0) == w(b, 0) && w(a, n - 8) == w(b, n - 8)
    } else if (4..8).contains(&n) {
        let w =
            |s: &[u8], at: usize| u32::from_ne_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
        w(a, 0) == w(b, 0) && w(a, n - 4) == w(b, n - 4)
    } else {
        a == b
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, o: &Self) -> bool {
        self.as_slice() == o.as_slice()
    }
}
impl Eq for SmallBytes {}

impl std::fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn inline_and_heap() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        let a = SmallBytes::new(b"hello");
        assert!(matches!(a, SmallBytes::Inline(..)));
        assert_eq!(&*a, b"hello");
        let long = vec![7u8; 100];
        let b = SmallBytes::from_vec(long.clone());
        assert!(matches!(b, SmallBytes::Heap(..)));
        assert_eq!(&*b, &long[..]);
    }

    #[test]
    fn assign_in_place_and_across_sizes() {
        let mut a = SmallBytes::new(b"12345");
        a.assign(b"99");
        assert!(matches!(a, SmallBytes::Inline(2, _)));
        assert_eq!(a.as_slice(), b"99");
        let long = [b'x'; INLINE + 1];
        a.assign(&long);
        assert!(matches!(a, SmallBytes::Heap(..)));
        assert_eq!(a.as_slice(), &long[..]);
        a.assign(b"-7");
        assert!(matches!(a, SmallBytes::Inline(2, _)));
        assert_eq!(a.as_slice(), b"-7");
        let full = [b'9'; INLINE];
        a.assign(&full);
        assert_eq!(a.as_slice(), &full[..]);
        a.assign(b"");
        assert!(a.is_empty());
    }

    #[test]
    fn step_decimal_matches_integer_arithmetic() {
        let mut values: Vec<i64> = (0..=1200).collect();
        for d in 1..=18u32 {
            let p = 10i64.pow(d);
            values.extend([p - 2, p - 1, p, p + 1]);
        }
        for v in values {
            for up in [true, false] {
                let text = v.to_string();
                let mut b = SmallBytes::new(text.as_bytes());
                let got = b.step_decimal(up).map(|t| t.to_vec());
                let fits = text.len() <= 18 && (up || v != 0);
                if fits {
                    let want = if up { v + 1 } else { v - 1 };
                    assert_eq!(
                        got.as_deref(),
                        Some(want.to_string().as_bytes()),
                        "{v} {up}"
                    );
                    assert_eq!(b.as_slice(), want.to_string().as_bytes());
                } else {
                    assert_eq!(got, None, "{v} {up}");
                    assert_eq!(b.as_slice(), text.as_bytes(), "left alone");
                }
            }
        }
        // Not canonical non-negative decimals: left to the caller.
        for s in [
            &b""[..],
            b"-1",
            b"+1",
            b"01",
            b"1 ",
            b" 1",
            b"1a",
            b"0x1",
            b"1.0",
        ] {
            let mut b = SmallBytes::new(s);
            assert_eq!(b.step_decimal(true), None, "{s:?}");
            assert_eq!(b.as_slice(), s);
        }
    }

    #[test]
    fn bytes_eq_matches_slice_equality() {
        let base: Vec<u8> = (0u8..40).collect();
        for n in 0..40 {
            let a = &base[..n];
            assert!(bytes_eq(a, a));
            assert!(!bytes_eq(a, &base[..n + 1]));
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 0x20;
                assert!(!bytes_eq(a, &b), "len {n} differs at {i}");
            }
        }
    }
}
