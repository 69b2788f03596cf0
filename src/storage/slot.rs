//! Hash slots: `slot = CRC16(hashtag(key)) mod 16384`, Redis Cluster's rule.

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// The part of a key that is hashed: the text between the first `{` and the
/// following `}` when non-empty, otherwise the whole key.
#[inline]
pub fn hashtag(key: &[u8]) -> &[u8] {
    if let Some(open) = find_byte(key, b'{')
        && let Some(close) = find_byte(&key[open + 1..], b'}')
        && close > 0
    {
        return &key[open + 1..open + 1 + close];
    }
    key
}

/// Position of the first `b` in `s`, testing eight bytes at a time.
#[inline]
fn find_byte(s: &[u8], b: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_le_bytes(a) ^ (ONES * b as u64);
        // The lowest byte flagged here is the first zero byte of `x` (bytes
        // above a zero one may be flagged falsely, never below).
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == b)
        .map(|p| at + p)
}

/// The hash slot of a key.
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hashtag(key)) & (SLOTS as u16 - 1)
}

/// CRC16-XMODEM (polynomial 0x1021, initial value 0), the CRC of Redis
/// Cluster's key slots.
///
/// Eight bytes per step with eight tables ("slicing by 8"): the table lookups
/// of a step are independent, where the byte-at-a-time form chains one load
/// per byte. `CRC_TABLES[k][b]` is the CRC of byte `b` followed by `k` zero
/// bytes; the running CRC folds into the first two bytes of each step.
#[inline]
pub fn crc16(data: &[u8]) -> u16 {
    let t = &CRC_TABLES;
    let mut crc: u16 = 0;
    let mut steps = data.chunks_exact(8);
    for c in &mut steps {
        let x0 = c[0] ^ (crc >> 8) as u8;
        let x1 = c[1] ^ crc as u8;
        crc = t[7][x0 as usize]
            ^ t[6][x1 as usize]
            ^ t[5][c[2] as usize]
            ^ t[4][c[3] as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in steps.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 8) as u8 ^ b) as usize];
    }
    crc
}

static CRC_TABLES: [[u16; 256]; 8] = {
    let mut t = [[0u16; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut crc = (b as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        t[0][b] = crc;
        b += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            b += 1;
        }
        k += 1;
    }
    t
};

/// The shard owning a slot among `nshards`.
#[inline]
pub fn slot_owner(slot: u16, nshards: usize) -> usize {
    // One shard owns everything: skip the division (the common case).
    if nshards == 1 {
        0
    } else {
        slot as usize % nshards
    }
}

/// The shard owning a key among `nshards`.
#[inline]
pub fn key_owner(key: &[u8], nshards: usize) -> usize {
    if nshards == 1 {
        0
    } else {
        slot_owner(key_slot(key), nshards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn cluster_slots() {
        // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"123456789"), 12739);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hashtag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hashtag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hashtag(b"foo{bar}{zap}"), b"bar");
    }

    #[test]
    fn find_byte_finds_the_first() {
        for len in 0..40 {
            for at in 0..=len {
                let mut s = vec![b'a'; len];
                if at < len {
                    s[at] = b'{';
                }
                // A later match must not hide the first one.
                if at + 1 < len {
                    s[at + 1] = b'{';
                }
                let want = s.iter().position(|&c| c == b'{');
                assert_eq!(find_byte(&s, b'{'), want, "{len} {at}");
            }
        }
        // Bytes that differ from the sought one by one bit or by borrow.
        let s = [0x7a, 0x7c, 0x7b ^ 0x80, 0xfb, 0x01, 0x00, 0x7b, 0x7b, 0x7a];
        assert_eq!(find_byte(&s, 0x7b), Some(6));
    }

    #[test]
    fn crc16_matches_bytewise_xmodem() {
        assert_eq!(crc16(b""), 0);
        assert_eq!(crc16(b"123456789"), 0x31c3);
        let mut rng = crate::Rng::new(3);
        for len in 0..200 {
            for _ in 0..20 {
                let data: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
                assert_eq!(
                    crc16(&data),
                    crc16::State::<crc16::XMODEM>::calculate(&data),
                    "{data:?}"
                );
            }
        }
    }
}
