//! Values stored under keys.

use super::bytes::SmallBytes;
use super::{hash::Hash, list::List, set::Set, stream::Stream, zset::ZSet};

/// A stored value: 24 bytes. Variants other than `Str` hold one box each, which
/// fits beside `SmallBytes`'s tag niche (a unit test keeps it so).
#[derive(Clone, Debug)]
pub enum Value {
    /// A string as set (inline when short).
    Str(SmallBytes),
    /// A string that has been modified in place (APPEND, SETRANGE, SETBIT):
    /// kept growable so repeated appends stay amortised O(1). Boxed so that a
    /// `Value` stays 24 bytes (the box fits beside `SmallBytes`'s tag niche).
    Raw(Box<Vec<u8>>),
    /// A list.
    List(Box<List>),
    /// A hash.
    Hash(Box<Hash>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<ZSet>),
    /// A stream.
    Stream(Box<Stream>),
}

/// Largest string length Redis reports as `embstr`.
pub const EMBSTR_SIZE_LIMIT: usize = 44;

impl Value {
    /// A string value from bytes.
    pub fn string(s: &[u8]) -> Value {
        Value::Str(SmallBytes::new(s))
    }
    /// Makes this value the string `s`, reusing a short string's place.
    #[inline]
    pub fn set_string(&mut self, s: &[u8]) {
        match self {
            Value::Str(b) => b.assign(s),
            _ => *self = Value::string(s),
        }
    }
    /// Adds or subtracts 1 in place when the value is a short canonical
    /// non-negative decimal (see [`SmallBytes::step_decimal`]); the new
    /// text, or None with the value unchanged.
    #[inline]
    pub fn step_decimal(&mut self, up: bool) -> Option<&[u8]> {
        match self {
            Value::Str(b) => b.step_decimal(up),
            _ => None,
        }
    }
    /// A growable string value (what in-place modifications produce).
    pub fn raw(v: Vec<u8>) -> Value {
        Value::Raw(Box::new(v))
    }
    /// Address of the value's heap part (a long string's bytes, or the box of
    /// any other type), if it has one: what reading the value touches next.
    #[inline]
    pub fn heap_ptr(&self) -> Option<*const u8> {
        match self {
            Value::Str(SmallBytes::Inline(..)) => None,
            Value::Str(SmallBytes::Heap(b)) => Some(b.as_ptr()),
            Value::Raw(b) => Some(&**b as *const Vec<u8> as *const u8),
            Value::List(b) => Some(&**b as *const List as *const u8),
            Value::Hash(b) => Some(&**b as *const Hash as *const u8),
            Value::Set(b) => Some(&**b as *const Set as *const u8),
            Value::ZSet(b) => Some(&**b as *const ZSet as *const u8),
            Value::Stream(b) => Some(&**b as *const Stream as *const u8),
        }
    }
    /// `TYPE` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::Raw(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
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
            // Modified in place (APPEND, SETRANGE, SETBIT...): Redis keeps such
            // strings as raw sds whatever they hold.
            Value::Raw(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
    /// The bytes of a string value, or None for other types.
    #[inline]
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s.as_slice()),
            Value::Raw(v) => Some(v),
            _ => None,
        }
    }
    /// Mutable growable bytes of a string value (converting it to `Raw`), or None
    /// for other types.
    pub fn str_mut(&mut self) -> Option<&mut Vec<u8>> {
        if let Value::Str(s) = self {
            *self = Value::raw(s.as_slice().to_vec());
        }
        match self {
            Value::Raw(v) => Some(&mut **v),
            _ => None,
        }
    }
    /// How much work dropping the value takes, as Redis's
    /// `lazyfreeGetFreeEffort`: the element count of a collection, 1 for a
    /// string, and for a stream its node count plus its groups weighed by
    /// the first group's pending entries.
    pub fn free_effort(&self) -> usize {
        match self {
            Value::Str(_) | Value::Raw(_) => 1,
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.free_effort(),
        }
    }
    /// Approximate heap bytes owned by the value (for eviction and MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::Raw(v) => v.capacity(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => std::mem::size_of::<Stream>() + s.heap_size(),
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

    #[test]
    fn value_stays_small() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        let s = Value::Stream(Box::default());
        assert_eq!((s.type_name(), s.encoding()), ("stream", "stream"));
        assert_eq!(s.free_effort(), 0);
    }
}

/// Software x87 extended precision (`long double`), so INCRBYFLOAT parses, adds
/// and prints exactly like Redis does on x86-64 (`strtold`, `+`, `%.17Lf`).
///
/// ```text
///  value = (-1)^neg × mant × 2^exp     mant: 64 bits, explicit integer bit
///  normal: mant ≥ 2^63, exp ∈ [MIN_EXP, MAX_EXP]; subnormal: exp = MIN_EXP
/// ```
///
/// Exact arithmetic goes through a small big-integer type; every result is
/// rounded once, to nearest with ties to even, like the hardware does.
pub mod ld {
    use std::cmp::Ordering;

    /// Exponent of the lowest mantissa bit of the smallest subnormal.
    const MIN_EXP: i64 = -16445;
    /// Largest exponent of a finite value (with a 64-bit mantissa).
    const MAX_EXP: i64 = 16320;
    /// Longest string `string2ld` accepts (MAX_LONG_DOUBLE_CHARS).
    pub const MAX_CHARS: usize = 5 * 1024;

    /// A finite or infinite extended-precision value.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct F80 {
        /// Sign.
        pub neg: bool,
        /// Significand (0 for zero).
        pub mant: u64,
        /// Binary exponent of the lowest significand bit.
        pub exp: i64,
        /// Infinity (mant and exp ignored).
        pub inf: bool,
    }

    impl F80 {
        const ZERO: F80 = F80 {
            neg: false,
            mant: 0,
            exp: 0,
            inf: false,
        };
        fn inf(neg: bool) -> F80 {
            F80 {
                neg,
                mant: 0,
                exp: 0,
                inf: true,
            }
        }
        /// True for zero.
        pub fn is_zero(&self) -> bool {
            !self.inf && self.mant == 0
        }
    }

    /// Unsigned big integer, little-endian 32-bit limbs, no leading zero limbs.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    struct Big(Vec<u32>);

    impl Big {
        fn from_u128(mut v: u128) -> Big {
            let mut b = Big(Vec::new());
            while v != 0 {
                b.0.push(v as u32);
                v >>= 32;
            }
            b
        }
        fn trim(&mut self) {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }
        fn is_zero(&self) -> bool {
            self.0.is_empty()
        }
        fn bitlen(&self) -> i64 {
            match self.0.last() {
                None => 0,
                Some(&top) => (self.0.len() as i64 - 1) * 32 + (32 - top.leading_zeros() as i64),
            }
        }
        fn bit(&self, i: i64) -> bool {
            if i < 0 {
                return false;
            }
            let (w, b) = ((i / 32) as usize, i % 32);
            self.0.get(w).is_some_and(|x| x >> b & 1 == 1)
        }
        /// True when any bit below position `i` is set.
        fn any_below(&self, i: i64) -> bool {
            if i <= 0 {
                return false;
            }
            let w = (i / 32) as usize;
            let b = i % 32;
            if self.0.iter().take(w.min(self.0.len())).any(|&x| x != 0) {
                return true;
            }
            b > 0 && self.0.get(w).is_some_and(|&x| x & ((1u32 << b) - 1) != 0)
        }
        /// Bits `[lo, lo + 64)` as an integer.
        fn bits64(&self, lo: i64) -> u64 {
            let mut v = 0u64;
            for k in 0..64 {
                if self.bit(lo + k) {
                    v |= 1 << k;
                }
            }
            v
        }
        fn shl(&self, n: i64) -> Big {
            if self.is_zero() || n <= 0 {
                return self.clone();
            }
            let (w, b) = ((n / 32) as usize, (n % 32) as u32);
            let mut out = vec![0u32; w];
            out.reserve(self.0.len() + 1);
            let mut carry = 0u32;
            for &x in &self.0 {
                if b == 0 {
                    out.push(x);
                } else {
                    out.push(x << b | carry);
                    carry = x >> (32 - b);
                }
            }
            if carry != 0 {
                out.push(carry);
            }
            Big(out)
        }
        fn mul_small(&mut self, m: u32) {
            let mut carry = 0u64;
            for x in &mut self.0 {
                let t = *x as u64 * m as u64 + carry;
                *x = t as u32;
                carry = t >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
        }
        fn add_small(&mut self, a: u32) {
            let mut carry = a as u64;
            for x in &mut self.0 {
                if carry == 0 {
                    return;
                }
                let t = *x as u64 + carry;
                *x = t as u32;
                carry = t >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
        }
        fn mul_pow10(&mut self, mut n: u64) {
            while n >= 9 {
                self.mul_small(1_000_000_000);
                n -= 9;
            }
            if n > 0 {
                self.mul_small(10u32.pow(n as u32));
            }
        }
        fn add(&self, o: &Big) -> Big {
            let mut out = Vec::with_capacity(self.0.len().max(o.0.len()) + 1);
            let mut carry = 0u64;
            for i in 0..self.0.len().max(o.0.len()) {
                let t =
                    *self.0.get(i).unwrap_or(&0) as u64 + *o.0.get(i).unwrap_or(&0) as u64 + carry;
                out.push(t as u32);
                carry = t >> 32;
            }
            if carry != 0 {
                out.push(carry as u32);
            }
            Big(out)
        }
        /// `self -= o`; requires `self >= o`.
        fn sub_assign(&mut self, o: &Big) {
            let mut borrow = 0i64;
            for i in 0..self.0.len() {
                let t = self.0[i] as i64 - *o.0.get(i).unwrap_or(&0) as i64 - borrow;
                if t < 0 {
                    self.0[i] = (t + (1i64 << 32)) as u32;
                    borrow = 1;
                } else {
                    self.0[i] = t as u32;
                    borrow = 0;
                }
            }
            self.trim();
        }
        fn cmp(&self, o: &Big) -> Ordering {
            self.0
                .len()
                .cmp(&o.0.len())
                .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
        }
        /// Divides in place by `d`, returning the remainder.
        fn div_small(&mut self, d: u32) -> u32 {
            let mut rem = 0u64;
            for x in self.0.iter_mut().rev() {
                let t = rem << 32 | *x as u64;
                *x = (t / d as u64) as u32;
                rem = t % d as u64;
            }
            self.trim();
            rem as u32
        }
        fn to_decimal(&self) -> String {
            let mut parts = Vec::new();
            let mut n = self.clone();
            while !n.is_zero() {
                parts.push(n.div_small(1_000_000_000));
            }
            let mut s = String::new();
            match parts.pop() {
                None => s.push('0'),
                Some(top) => s.push_str(&top.to_string()),
            }
            for p in parts.iter().rev() {
                s.push_str(&format!("{p:09}"));
            }
            s
        }
    }

    /// Rounds `b × 2^exp` to the nearest extended value (ties to even).
    fn round(b: &Big, exp: i64, neg: bool) -> F80 {
        if b.is_zero() {
            return F80 { neg, ..F80::ZERO };
        }
        let mut shift = b.bitlen() - 64;
        if exp + shift < MIN_EXP {
            shift = MIN_EXP - exp;
        }
        let (mant, mut e) = if shift <= 0 {
            (b.bits64(0) << (-shift), exp + shift)
        } else {
            let m = b.bits64(shift);
            let up = b.bit(shift - 1) && (b.any_below(shift - 1) || m & 1 == 1);
            match m.checked_add(up as u64) {
                Some(m) => (m, exp + shift),
                None => (1u64 << 63, exp + shift + 1),
            }
        };
        if mant == 0 {
            e = 0;
        }
        if e > MAX_EXP {
            return F80::inf(neg);
        }
        F80 {
            neg,
            mant,
            exp: e,
            inf: false,
        }
    }

    /// Exact `a + b`, rounded once.
    pub fn add(a: F80, b: F80) -> F80 {
        if a.inf || b.inf {
            // inf + -inf is NaN; callers reject both the same way.
            return F80::inf(if a.inf { a.neg } else { b.neg });
        }
        if a.mant == 0 {
            return if b.mant == 0 {
                F80 {
                    neg: a.neg && b.neg,
                    ..F80::ZERO
                }
            } else {
                b
            };
        }
        if b.mant == 0 {
            return a;
        }
        let e = a.exp.min(b.exp);
        let x = Big::from_u128(a.mant as u128).shl(a.exp - e);
        let y = Big::from_u128(b.mant as u128).shl(b.exp - e);
        if a.neg == b.neg {
            return round(&x.add(&y), e, a.neg);
        }
        match x.cmp(&y) {
            Ordering::Equal => F80::ZERO,
            Ordering::Greater => {
                let mut d = x;
                d.sub_assign(&y);
                round(&d, e, a.neg)
            }
            Ordering::Less => {
                let mut d = y;
                d.sub_assign(&x);
                round(&d, e, b.neg)
            }
        }
    }

    /// `floor(x × 2^k / y)` with at least 66 significant bits, as a rounded value
    /// (`x / y` exactly, then rounded).
    fn div_round(x: &Big, y: &Big, neg: bool) -> F80 {
        let k = (68 + y.bitlen() - x.bitlen()).max(0);
        let mut rem = x.shl(k);
        let s = rem.bitlen() - y.bitlen();
        let mut q = 0u128;
        let mut i = s;
        while i >= 0 {
            let t = y.shl(i);
            if rem.cmp(&t) != Ordering::Less {
                rem.sub_assign(&t);
                q |= 1u128 << i;
            }
            i -= 1;
        }
        // One extra low bit carries "something was left over" into the rounding.
        let q = q << 1 | (!rem.is_zero()) as u128;
        round(&Big::from_u128(q), -k - 1, neg)
    }

    /// Parses like Redis's `string2ld` (strtold, whole string, no leading space,
    /// NaN and out-of-range results rejected).
    pub fn parse(s: &[u8]) -> Option<F80> {
        if s.is_empty() || s.len() >= MAX_CHARS || s[0].is_ascii_whitespace() || s[0] == 0x0b {
            return None;
        }
        let (neg, rest) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let lower = rest.to_ascii_lowercase();
        if lower == b"inf" || lower == b"infinity" {
            return Some(F80::inf(neg));
        }
        if lower.starts_with(b"nan") {
            return None;
        }
        if lower.len() > 2 && lower.starts_with(b"0x") {
            if let Some(v) = parse_hex(&lower[2..], neg) {
                return Some(v);
            }
            return None;
        }
        parse_dec(rest, neg)
    }

    /// Parses an optional exponent (`e-12`, `p+3`) at `s[i]` introduced by one of
    /// `markers`, as strtold does: a marker without digits is not consumed.
    /// Returns the index after it and its value (0 when absent).
    fn parse_exponent(s: &[u8], i: usize, markers: &[u8]) -> (usize, i64) {
        if i >= s.len() || !markers.contains(&s[i]) {
            return (i, 0);
        }
        let mut j = i + 1;
        let neg = match s.get(j) {
            Some(b'-') => {
                j += 1;
                true
            }
            Some(b'+') => {
                j += 1;
                false
            }
            _ => false,
        };
        let start = j;
        let mut ev: i64 = 0;
        while j < s.len() && s[j].is_ascii_digit() {
            ev = (ev * 10 + (s[j] - b'0') as i64).min(1_000_000_000);
            j += 1;
        }
        if j > start {
            (j, if neg { -ev } else { ev })
        } else {
            (i, 0)
        }
    }

    fn parse_dec(s: &[u8], neg: bool) -> Option<F80> {
        let mut d = Big::default();
        let mut i = 0;
        let mut ndigits = 0i64; // significant digits kept in d
        let mut any = false;
        let mut dexp: i64 = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            any = true;
            if !(d.is_zero() && s[i] == b'0') {
                d.mul_small(10);
                d.add_small((s[i] - b'0') as u32);
                ndigits += 1;
            }
            i += 1;
        }
        if i < s.len() && s[i] == b'.' {
            i += 1;
            while i < s.len() && s[i].is_ascii_digit() {
                any = true;
                if !(d.is_zero() && s[i] == b'0') {
                    d.mul_small(10);
                    d.add_small((s[i] - b'0') as u32);
                    ndigits += 1;
                }
                dexp -= 1;
                i += 1;
            }
        }
        if !any {
            return None;
        }
        let (next, e) = parse_exponent(s, i, b"eE");
        dexp += e;
        i = next;
        if i != s.len() {
            return None;
        }
        if d.is_zero() {
            return Some(F80 { neg, ..F80::ZERO });
        }
        let mag = dexp + ndigits;
        if mag > 4940 {
            return None; // ERANGE overflow
        }
        if mag < -4960 {
            return None; // ERANGE underflow to zero
        }
        let v = if dexp >= 0 {
            d.mul_pow10(dexp as u64);
            round(&d, 0, neg)
        } else {
            let mut y = Big::from_u128(1);
            y.mul_pow10((-dexp) as u64);
            div_round(&d, &y, neg)
        };
        if v.inf || v.mant == 0 {
            return None;
        }
        Some(v)
    }

    fn parse_hex(s: &[u8], neg: bool) -> Option<F80> {
        let mut d = Big::default();
        let mut i = 0;
        let mut bexp: i64 = 0;
        let mut any = false;
        let hexval = |c: u8| (c as char).to_digit(16);
        while i < s.len() {
            let Some(v) = hexval(s[i]) else { break };
            any = true;
            if !d.is_zero() || v != 0 {
                d.mul_small(16);
                d.add_small(v);
            }
            i += 1;
        }
        if i < s.len() && s[i] == b'.' {
            i += 1;
            while i < s.len() {
                let Some(v) = hexval(s[i]) else { break };
                any = true;
                d.mul_small(16);
                d.add_small(v);
                bexp -= 4;
                i += 1;
            }
        }
        if !any {
            return None;
        }
        let (next, e) = parse_exponent(s, i, b"p");
        bexp += e;
        i = next;
        if i != s.len() {
            return None;
        }
        if d.is_zero() {
            return Some(F80 { neg, ..F80::ZERO });
        }
        let v = round(&d, bexp, neg);
        if v.inf || v.mant == 0 {
            return None;
        }
        Some(v)
    }

    /// Redis's human-friendly long double text: `%.17Lf`, trailing zeros (and a
    /// trailing dot) removed, `-0` printed as `0`.
    pub fn format_human(v: F80) -> String {
        if v.inf {
            return if v.neg { "-inf".into() } else { "inf".into() };
        }
        let mut n = Big::from_u128(v.mant as u128);
        n.mul_pow10(17);
        let n = if v.exp >= 0 {
            n.shl(v.exp)
        } else {
            let sh = -v.exp;
            let half = n.bit(sh - 1);
            let sticky = n.any_below(sh - 1);
            let mut q = shr(&n, sh);
            let odd = q.bit(0);
            if half && (sticky || odd) {
                q.add_small(1);
            }
            q
        };
        let digits = n.to_decimal();
        let digits = if digits.len() < 18 {
            format!("{}{}", "0".repeat(18 - digits.len()), digits)
        } else {
            digits
        };
        let (int, frac) = digits.split_at(digits.len() - 17);
        let mut s = String::with_capacity(digits.len() + 2);
        if v.neg {
            s.push('-');
        }
        s.push_str(int);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
        if s == "-0" {
            s = "0".into();
        }
        s
    }

    fn shr(b: &Big, n: i64) -> Big {
        if n <= 0 {
            return b.clone();
        }
        let (w, s) = ((n / 32) as usize, (n % 32) as u32);
        if w >= b.0.len() {
            return Big::default();
        }
        let src = &b.0[w..];
        let mut out = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let lo = src[i] >> s;
            let hi = if s == 0 {
                0
            } else {
                src.get(i + 1).map_or(0, |&x| x << (32 - s))
            };
            out.push(lo | hi);
        }
        let mut r = Big(out);
        r.trim();
        r
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn incr(a: &str, b: &str) -> String {
            format_human(add(
                parse(a.as_bytes()).unwrap(),
                parse(b.as_bytes()).unwrap(),
            ))
        }

        #[test]
        fn redis_examples() {
            assert_eq!(incr("10.5", "0.1"), "10.6");
            assert_eq!(incr("5.0e3", "2.0e2"), "5200");
            assert_eq!(incr("0", "1"), "1");
            assert_eq!(incr("1.1", "2.2"), "3.3");
            assert_eq!(incr("3.0e3", "0"), "3000");
            assert_eq!(incr("-1", "0.5"), "-0.5");
            assert_eq!(incr("1", "-1"), "0");
            assert_eq!(incr("0", "-0.000000000000000001"), "0");
            assert_eq!(incr("0x10", "1"), "17");
            assert_eq!(incr("17179869184", "1.5"), "17179869185.5");
        }

        #[test]
        fn rejects() {
            assert!(parse(b"nan").is_none());
            assert!(parse(b" 1").is_none());
            assert!(parse(b"1 ").is_none());
            assert!(parse(b"1e").is_none());
            assert!(parse(b"").is_none());
            assert!(parse(b".").is_none());
            assert!(parse(b"1e99999").is_none());
            assert!(parse(b"1e-99999").is_none());
            assert!(parse(b"inf").unwrap().inf);
            assert!(parse(b"0e-99999").unwrap().is_zero());
        }
    }
}
