//! Hash slots: `slot = CRC16(hashtag(key)) mod 16384`, Redis Cluster's rule.

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// The part of a key that is hashed: the text between the first `{` and the
/// following `}` when non-empty, otherwise the whole key.
#[inline]
pub fn hashtag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&c| c == b'{')
        && let Some(close) = key[open + 1..].iter().position(|&c| c == b'}')
        && close > 0
    {
        return &key[open + 1..open + 1 + close];
    }
    key
}

/// The hash slot of a key.
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(hashtag(key)) & (SLOTS as u16 - 1)
}

/// The shard owning a slot among `nshards`.
#[inline]
pub fn slot_owner(slot: u16, nshards: usize) -> usize {
    slot as usize % nshards
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
}
