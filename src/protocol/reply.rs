//! Reply encoding for RESP2 and RESP3.
//!
//! Handlers write through [`Reply`] and never emit raw bytes, so one code path
//! serves both protocol versions: RESP3-only types degrade the way Redis degrades
//! them for RESP2 clients (maps become flat arrays, doubles bulk strings, null `$-1`).

use std::io::Write;

/// Writer of replies into a connection's (or a hop's) output buffer.
pub struct Reply<'a> {
    /// Output bytes.
    pub buf: &'a mut Vec<u8>,
    /// Client speaks RESP3.
    pub resp3: bool,
    /// Offset of the first error written, if any (for error statistics).
    pub first_error: Option<usize>,
    /// Number of error replies written.
    pub errors: u32,
}

impl<'a> Reply<'a> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'a mut Vec<u8>, resp3: bool) -> Self {
        Reply {
            buf,
            resp3,
            first_error: None,
            errors: 0,
        }
    }

    #[inline]
    fn line(&mut self, prefix: u8, n: i64) {
        let mut b = itoa::Buffer::new();
        self.text_line(prefix, b.format(n).as_bytes());
    }

    /// `prefix`, `text` and CRLF.
    #[inline]
    fn text_line(&mut self, prefix: u8, text: &[u8]) {
        self.buf.reserve(text.len() + 3);
        self.buf.push(prefix);
        self.buf.extend_from_slice(text);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }
    /// A status reply (`+text`).
    pub fn simple(&mut self, s: &str) {
        self.simple_bytes(s.as_bytes());
    }
    /// A status reply from bytes; CR and LF are replaced by spaces.
    pub fn simple_bytes(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend(
            s.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }
    /// An error reply; `msg` holds the code (`ERR ...`, `WRONGTYPE ...`).
    /// A message without a code gets `ERR` like Redis's `addReplyError`.
    pub fn error(&mut self, msg: &str) {
        if self.first_error.is_none() {
            self.first_error = Some(self.buf.len());
        }
        self.errors += 1;
        self.buf.push(b'-');
        let first = msg.split(' ').next().unwrap_or("");
        let has_code = !first.is_empty()
            && first
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c == b'_' || c.is_ascii_digit());
        if !has_code && !msg.starts_with('-') {
            self.buf.extend_from_slice(b"ERR ");
        }
        self.buf.extend(
            msg.trim_start_matches('-')
                .bytes()
                .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }
    /// An integer.
    #[inline]
    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }
    /// An integer already formatted in decimal, so a command that stores
    /// the text (INCR) formats it once.
    #[inline]
    pub fn int_text(&mut self, digits: &[u8]) {
        self.text_line(b':', digits);
    }
    /// A bulk string.
    #[inline]
    pub fn bulk(&mut self, s: &[u8]) {
        self.line(b'$', s.len() as i64);
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }
    /// A bulk string holding an integer's decimal form.
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        let s = b.format(n);
        self.line(b'$', s.len() as i64);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }
    /// A bulk string or null.
    pub fn opt_bulk(&mut self, s: Option<&[u8]>) {
        match s {
            Some(s) => self.bulk(s),
            None => self.null(),
        }
    }
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    #[inline]
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }
    /// Array header.
    #[inline]
    pub fn array(&mut self, n: usize) {
        self.line(b'*', n as i64);
    }
    /// Map header of `n` pairs (flat array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'%', n as i64);
        } else {
            self.line(b'*', 2 * n as i64);
        }
    }
    /// Set header (array in RESP2).
    pub fn set(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'~', n as i64);
        } else {
            self.line(b'*', n as i64);
        }
    }
    /// Push header (RESP3 out-of-band; an array in RESP2).
    pub fn push(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'>', n as i64);
        } else {
            self.line(b'*', n as i64);
        }
    }
    /// Attribute header (RESP3 only).
    pub fn attribute(&mut self, n: usize) {
        self.line(b'|', n as i64);
    }
    /// A double, formatted as Redis 7.0 does (`%.17g`, `inf`, `-inf`, `nan`).
    pub fn double(&mut self, d: f64) {
        let mut tmp = G17Buf::new();
        write_double(d, &mut tmp);
        let s = tmp.as_bytes();
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }
    /// A boolean (`#t`/`#f`; `:1`/`:0` in RESP2).
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }
    /// A big number (bulk string in RESP2).
    pub fn big_number(&mut self, digits: &str) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits.as_bytes());
        }
    }
    /// A verbatim string with a three-letter format (`txt`); bulk in RESP2.
    pub fn verbatim(&mut self, format: &str, s: &[u8]) {
        if self.resp3 {
            self.line(b'=', (s.len() + 4) as i64);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(s);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s);
        }
    }
    /// Appends already-encoded reply bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
    /// Writes formatted text as a bulk string.
    pub fn bulk_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        let mut tmp = Vec::new();
        let _ = tmp.write_fmt(args);
        self.bulk(&tmp);
    }
}

/// Formats a double like Redis 7.0's `addReplyDouble` (`%.17g`).
pub fn format_double(d: f64) -> String {
    let mut tmp = G17Buf::new();
    write_double(d, &mut tmp);
    String::from_utf8_lossy(tmp.as_bytes()).into_owned()
}

/// `printf("%.17g", d)`.
pub fn format_g17(d: f64) -> String {
    let mut tmp = G17Buf::new();
    write_g17(d, &mut tmp);
    String::from_utf8_lossy(tmp.as_bytes()).into_owned()
}

/// A stack buffer for one formatted double (`%.17g` needs at most 24 bytes).
pub struct G17Buf {
    buf: [u8; 48],
    len: usize,
}

impl G17Buf {
    /// Empty.
    pub fn new() -> Self {
        G17Buf {
            buf: [0; 48],
            len: 0,
        }
    }
    /// The text written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn push(&mut self, b: u8) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }
    fn extend(&mut self, s: &[u8]) {
        for &b in s {
            self.push(b);
        }
    }
}

impl Default for G17Buf {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Write for G17Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.extend(s.as_bytes());
        Ok(())
    }
}

/// `inf`, `-inf`, `nan` or `%.17g`, as Redis's `addReplyDouble`.
fn write_double(d: f64, out: &mut G17Buf) {
    if d.is_infinite() {
        out.extend(if d > 0.0 { b"inf" } else { b"-inf" });
    } else if d.is_nan() {
        out.extend(b"nan");
    } else {
        write_g17(d, out);
    }
}

/// C's `%.17g` without going through `snprintf` (which, with the `String` it
/// returned, cost ~400 ns per score): integers below 10^17 print as
/// integers; otherwise Rust's exact `{:.16e}` gives the 17 correctly rounded
/// significant digits, laid out with `%g`'s rules (fixed notation when the
/// exponent is in [-4, 17), trailing zeros removed).
fn write_g17(d: f64, out: &mut G17Buf) {
    use std::fmt::Write;
    if d == d.trunc() && d.abs() < 1e17 {
        if d == 0.0 && d.is_sign_negative() {
            out.extend(b"-0");
        } else {
            let mut b = itoa::Buffer::new();
            out.extend(b.format(d as i64).as_bytes());
        }
        return;
    }
    if !d.is_finite() {
        // %g of inf/nan (format_g17 callers that skip write_double).
        out.extend(if d.is_nan() {
            b"nan"
        } else if d > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
        return;
    }
    let mut sci = G17Buf::new();
    let _ = write!(sci, "{d:.16e}");
    let s = sci.as_bytes();
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let Some(epos) = s.iter().position(|&c| c == b'e') else {
        return;
    };
    let exp: i32 = std::str::from_utf8(&s[epos + 1..])
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    // The 17 significant digits, without the point.
    let mut digits = [0u8; 17];
    let mut n = 0;
    for &c in &s[..epos] {
        if c.is_ascii_digit() && n < 17 {
            digits[n] = c;
            n += 1;
        }
    }
    let mut last = n;
    while last > 1 && digits[last - 1] == b'0' {
        last -= 1;
    }
    if neg {
        out.push(b'-');
    }
    if (-4..17).contains(&exp) {
        if exp < 0 {
            out.extend(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend(&digits[..last]);
        } else {
            let int_len = exp as usize + 1;
            let shown = int_len.min(last);
            out.extend(&digits[..shown]);
            for _ in shown..int_len {
                out.push(b'0');
            }
            if last > int_len {
                out.push(b'.');
                out.extend(&digits[int_len..last]);
            }
        }
    } else {
        out.push(digits[0]);
        if last > 1 {
            out.push(b'.');
            out.extend(&digits[1..last]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        let mut b = itoa::Buffer::new();
        out.extend(b.format(e).as_bytes());
    }
}

/// Length in bytes of the one complete RESP2/RESP3 value `buf` starts with
/// (aggregates included), or None when `buf` does not start with one.
/// Splits replies this server wrote itself, such as the per-shard parts of
/// a multi-key reply.
pub fn value_len(buf: &[u8]) -> Option<usize> {
    let line_end = |from: usize| -> Option<usize> {
        buf.get(from..)?
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p)
    };
    let eol = line_end(1)?;
    let head = std::str::from_utf8(&buf[1..eol]).ok();
    let num = || head.and_then(|h| h.parse::<i64>().ok());
    let after = eol + 2;
    match buf.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (end <= buf.len()).then_some(end)
        }
        t @ (b'*' | b'%' | b'~' | b'>' | b'|') => {
            let n = num()?;
            if n < 0 {
                return Some(after);
            }
            let items = if matches!(t, b'%' | b'|') { 2 * n } else { n };
            let mut at = after;
            for _ in 0..items {
                at += value_len(&buf[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_len_spans_one_value() {
        use super::value_len;
        assert_eq!(value_len(b"$3\r\nabc\r\n$-1\r\n"), Some(9));
        assert_eq!(value_len(b"$-1\r\n:1\r\n"), Some(5));
        assert_eq!(value_len(b"_\r\n"), Some(3));
        assert_eq!(value_len(b"*2\r\n$1\r\na\r\n:7\r\nrest"), Some(15));
        assert_eq!(value_len(b"%1\r\n+k\r\n*0\r\n"), Some(12));
        assert_eq!(value_len(b"$5\r\nab"), None);
        assert_eq!(value_len(b"?"), None);
    }

    use super::*;

    #[test]
    fn integers_and_their_text() {
        let mut out = Vec::new();
        let mut r = Reply::new(&mut out, false);
        r.int(-42);
        r.int(i64::MIN);
        r.int_text(b"17");
        assert_eq!(out, b":-42\r\n:-9223372036854775808\r\n:17\r\n");
    }

    /// The C library's `%.17g`, the reference.
    fn libc_g17(d: f64) -> String {
        let mut buf = [0u8; 64];
        // SAFETY: buf is 64 bytes, snprintf writes at most that many including
        // the NUL, and the format takes exactly one double.
        let n = unsafe {
            libc::snprintf(
                buf.as_mut_ptr() as *mut libc::c_char,
                buf.len(),
                c"%.17g".as_ptr(),
                d,
            )
        };
        String::from_utf8_lossy(&buf[..n as usize]).into_owned()
    }

    #[test]
    fn g17_matches_printf() {
        let fixed = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.5,
            0.1,
            0.2,
            0.3,
            1e-4,
            1e-5,
            9.999e-5,
            1e16,
            1e17,
            1e-300,
            5e-324,
            1.7976931348623157e308,
            123456789.125,
            -2.5e-7,
            3.0e20,
            99999999999999999.0,
            12345678901234567.0,
            0.30000000000000004,
            1e100,
            2.0f64.powi(60),
            1.0 / 3.0,
        ];
        for d in fixed {
            assert_eq!(format_g17(d), libc_g17(d), "{d:e}");
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = f64::from_bits(x);
            if !d.is_finite() {
                continue;
            }
            assert_eq!(format_g17(d), libc_g17(d), "{d:e}");
            // Human-scale values too (random bit patterns are mostly huge or tiny).
            let h = (x % 2_000_000) as f64 / 1000.0 - 1000.0;
            assert_eq!(format_g17(h), libc_g17(h), "{h}");
        }
    }

    #[test]
    fn resp2_and_resp3() {
        let mut b = Vec::new();
        let mut r = Reply::new(&mut b, false);
        r.map(1);
        r.bulk(b"a");
        r.double(1.5);
        r.null();
        assert_eq!(b, b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n");
        let mut b = Vec::new();
        let mut r = Reply::new(&mut b, true);
        r.map(1);
        r.bulk(b"a");
        r.double(1.5);
        r.null();
        assert_eq!(b, b"%1\r\n$1\r\na\r\n,1.5\r\n_\r\n");
    }

    #[test]
    fn errors_get_a_code() {
        let mut b = Vec::new();
        let mut r = Reply::new(&mut b, false);
        r.error("WRONGTYPE Operation against a key holding the wrong kind of value");
        r.error("value is not an integer or out of range");
        assert_eq!(r.errors, 2);
        assert_eq!(
            b,
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n-ERR value is not an integer or out of range\r\n"
        );
    }

    #[test]
    fn doubles() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(f64::INFINITY), "inf");
    }
}
