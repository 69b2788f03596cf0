//! Pieces of Redis's RDB format: length and string encodings (LZF-compressed
//! strings included, as Redis writes strings longer than 20 bytes) and the
//! CRC-64 that seals DUMP payloads.

/// RDB format version written in DUMP payloads (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

/// Opcode before each library in a FUNCTION DUMP payload.
pub const OPCODE_FUNCTION2: u8 = 245;
/// The opcode of the pre-release function format (not supported).
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// CRC-64 as Redis computes it (Jones polynomial, reflected, no final xor).
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0x95ac_9329_ac4b_c9b5
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    for &b in data {
        crc = table[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// Appends `len` in RDB's length encoding.
pub fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a string (stored as it is, never compressed).
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// A reader over an RDB byte stream.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A length, or one of the special string encodings.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn len_or_encoding(&mut self) -> Option<Len> {
        let b = self.byte()?;
        Some(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain((((b & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    /// A length (not a special encoding).
    pub fn length(&mut self) -> Option<u64> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Some(n),
            Len::Encoded(_) => None,
        }
    }

    /// A string in any of RDB's string encodings.
    pub fn string(&mut self) -> Option<Vec<u8>> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Some(self.take(usize::try_from(n).ok()?)?.to_vec()),
            Len::Encoded(0) => Some((self.byte()? as i8).to_string().into_bytes()),
            Len::Encoded(1) => Some(
                i16::from_le_bytes(self.take(2)?.try_into().ok()?)
                    .to_string()
                    .into_bytes(),
            ),
            Len::Encoded(2) => Some(
                i32::from_le_bytes(self.take(4)?.try_into().ok()?)
                    .to_string()
                    .into_bytes(),
            ),
            Len::Encoded(3) => {
                let clen = usize::try_from(self.length()?).ok()?;
                let len = usize::try_from(self.length()?).ok()?;
                lzf_decompress(self.take(clen)?, len)
            }
            Len::Encoded(_) => None,
        }
    }
}

/// Decompresses LZF data into exactly `len` bytes (None when the data is
/// damaged or decodes to another size).
pub fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run)?;
            if out.len() + run > len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *input.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            n += 2;
            if back > out.len() || out.len() + n > len {
                return None;
            }
            let start = out.len() - back;
            for i in 0..n {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

/// Checks a DUMP payload's footer (RDB version ≤ ours, then CRC-64 of all
/// before it); returns the body before the footer.
pub fn verify_dump(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let ver = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    if ver > RDB_VERSION {
        return None;
    }
    let want = u64::from_le_bytes(crc.try_into().ok()?);
    (crc64(0, body) == want).then_some(&body[..body.len() - 2])
}

/// Seals a DUMP payload: RDB version and CRC-64.
pub fn seal_dump(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_as_redis() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn lengths_and_strings_round_trip() {
        for n in [0u64, 63, 64, 16383, 16384, u32::MAX as u64, 1 << 40] {
            let mut v = Vec::new();
            write_len(&mut v, n);
            assert_eq!(Reader::new(&v).length(), Some(n));
        }
        let mut v = Vec::new();
        write_string(&mut v, b"hello");
        assert_eq!(Reader::new(&v).string().unwrap(), b"hello");
        // Integer encodings.
        assert_eq!(Reader::new(&[0xc0, 0xfe]).string().unwrap(), b"-2");
        assert_eq!(Reader::new(&[0xc1, 0x39, 0x30]).string().unwrap(), b"12345");
    }

    #[test]
    fn lzf_back_references() {
        // "abcabcabc": 3 literals, then a 6-byte match 3 back.
        let data = [2, b'a', b'b', b'c', 0x80, 2];
        assert_eq!(lzf_decompress(&data, 9).unwrap(), b"abcabcabc");
        assert!(lzf_decompress(&data, 8).is_none());
        assert!(lzf_decompress(&[0x20, 5], 3).is_none());
    }

    #[test]
    fn dump_footer() {
        let sealed = seal_dump(b"xyz".to_vec());
        assert_eq!(verify_dump(&sealed), Some(&b"xyz"[..]));
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert!(verify_dump(&bad).is_none());
    }
}
