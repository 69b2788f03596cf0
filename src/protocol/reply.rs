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
        self.buf.push(prefix);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
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
        let s = format_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
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
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g17(d)
}

/// `printf("%.17g", d)`.
pub fn format_g17(d: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: buf is 64 bytes, snprintf writes at most that many including the NUL,
    // and the format string takes exactly one double argument.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.17g".as_ptr(),
            d,
        )
    };
    let n = (n.max(0) as usize).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
