//! The `hash` value type.
//!
//! ```text
//!  Packed (OBJECT ENCODING "listpack")      Table ("hashtable")
//!  buf: [len][field][len][value][len]...    entries: Vec<(SmallBytes, SmallBytes)>  dense
//!  len: pairs, insertion order              index:   HashTable<u32> → position in entries
//! ```
//!
//! A hash starts packed: one byte buffer of length-prefixed (LEB128) fields and
//! values, in insertion order, with no allocation per field. It becomes a
//! table when it holds more than `hash-max-listpack-entries` pairs or when a
//! field or value longer than `hash-max-listpack-value` bytes is stored, and,
//! like Redis 7.0, it never converts back.
//!
//! The table keeps its pairs densely in a vector (removal swaps the last pair
//! into the hole) and a hashbrown index of positions beside it. Dense storage
//! gives O(1) uniform random picks (HRANDFIELD) and a stable scan cursor:
//! [`Hash::scan`] walks positions downwards, and the cursor is the number of
//! positions still to visit. Appends land above the cursor and a removal only
//! moves the last pair down, so every pair present for the whole scan is
//! returned at least once (pairs may be returned twice; pairs added during the
//! scan may or may not be returned).

use super::bytes::SmallBytes;
use super::db::KeyHasher;
use crate::config::EncodingLimits;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Largest packed buffer a write may produce before the hash converts
/// whatever the configured limits (Redis's listpack safety size, 1 GiB).
pub const PACKED_SAFETY_LIMIT: usize = 1 << 30;

/// A hash value.
#[derive(Clone, Debug)]
pub enum Hash {
    /// Small hashes: one packed buffer.
    Packed(Packed),
    /// Large hashes: dense pairs plus an index (boxed so a small hash, the
    /// common case, costs 32 bytes instead of the table's size).
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

// ---------------------------------------------------------------------------
// Packed form
// ---------------------------------------------------------------------------

/// Pairs packed in one buffer: `varint(len) bytes` for each field then value.
#[derive(Clone, Debug, Default)]
pub struct Packed {
    buf: Vec<u8>,
    len: usize,
}

/// Appends `s` length-prefixed.
fn put_item(buf: &mut Vec<u8>, s: &[u8]) {
    let mut n = s.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(b);
            break;
        }
        buf.push(b | 0x80);
    }
    buf.extend_from_slice(s);
}

/// Size of `s` once length-prefixed.
fn item_size(s: &[u8]) -> usize {
    let mut n = s.len() as u64;
    let mut sz = 1;
    while n >= 0x80 {
        n >>= 7;
        sz += 1;
    }
    sz + s.len()
}

/// Reads the item at `pos`: its bytes and the position after it.
#[inline]
fn get_item(buf: &[u8], mut pos: usize) -> (&[u8], usize) {
    let mut n: usize = 0;
    let mut shift = 0;
    loop {
        let b = buf[pos];
        pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&buf[pos..pos + n], pos + n)
}

/// Where a pair sits in a packed buffer.
struct Slot {
    /// Start of the field's length prefix.
    start: usize,
    /// Start of the value's length prefix.
    value: usize,
    /// End of the pair.
    end: usize,
}

impl Packed {
    fn find(&self, field: &[u8]) -> Option<Slot> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (f, vpos) = get_item(&self.buf, pos);
            let (_, end) = get_item(&self.buf, vpos);
            if f == field {
                return Some(Slot {
                    start: pos,
                    value: vpos,
                    end,
                });
            }
            pos = end;
        }
        None
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(|s| get_item(&self.buf, s.value).0)
    }

    /// Sets a pair; true when the field is new.
    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some(s) => {
                let old = s.end - s.value;
                let new = item_size(value);
                if old == new {
                    let mut tmp = Vec::with_capacity(new);
                    put_item(&mut tmp, value);
                    self.buf[s.value..s.end].copy_from_slice(&tmp);
                } else {
                    let mut tmp = Vec::with_capacity(new);
                    put_item(&mut tmp, value);
                    self.buf.splice(s.value..s.end, tmp);
                }
                false
            }
            None => {
                // Exact growth, like a listpack: a small hash's buffer is
                // most of its memory, and doubling would waste up to half.
                self.buf.reserve_exact(item_size(field) + item_size(value));
                put_item(&mut self.buf, field);
                put_item(&mut self.buf, value);
                self.len += 1;
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some(s) => {
                self.buf.drain(s.start..s.end);
                self.len -= 1;
                if self.buf.capacity() > 64 && self.buf.len() * 2 < self.buf.capacity() {
                    self.buf.shrink_to(self.buf.len() * 5 / 4);
                }
                true
            }
            None => false,
        }
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: 0,
        }
    }
}

/// Pairs of a packed hash in order.
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (f, p) = get_item(self.buf, self.pos);
        let (v, p) = get_item(self.buf, p);
        self.pos = p;
        Some((f, v))
    }
}

// ---------------------------------------------------------------------------
// Table form
// ---------------------------------------------------------------------------

/// Dense pairs plus a hash index of their positions.
#[derive(Clone, Debug, Default)]
pub struct Table {
    entries: Vec<(SmallBytes, SmallBytes)>,
    index: HashTable<u32>,
}

#[inline]
fn hash_of(field: &[u8]) -> u64 {
    KeyHasher.hash_one(field)
}

impl Table {
    fn with_capacity(n: usize) -> Self {
        Table {
            entries: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
        }
    }

    #[inline]
    fn position(&self, field: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash_of(field), |&i| {
                entries[i as usize].0.as_slice() == field
            })
            .map(|&i| i as usize)
    }

    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let h = hash_of(field);
        let entries = &self.entries;
        if let Some(&i) = self
            .index
            .find(h, |&i| entries[i as usize].0.as_slice() == field)
        {
            self.entries[i as usize].1 = SmallBytes::new(value);
            return false;
        }
        self.push_hashed(h, field, value);
        true
    }

    /// Appends a field known to be absent.
    fn push_new(&mut self, field: &[u8], value: &[u8]) {
        self.push_hashed(hash_of(field), field, value)
    }

    /// Appends a field known to be absent whose hash is `h`.
    fn push_hashed(&mut self, h: u64, field: &[u8], value: &[u8]) {
        let i = self.entries.len() as u32;
        self.entries
            .push((SmallBytes::new(field), SmallBytes::new(value)));
        let entries = &self.entries;
        self.index
            .insert_unique(h, i, |&j| hash_of(&entries[j as usize].0));
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let entries = &self.entries;
        let Ok(slot) = self.index.find_entry(hash_of(field), |&i| {
            entries[i as usize].0.as_slice() == field
        }) else {
            return false;
        };
        let (i, _) = slot.remove();
        let i = i as usize;
        let last = self.entries.len() - 1;
        self.entries.swap_remove(i);
        if i != last {
            // The former last pair now sits at `i`: repoint its index slot.
            let h = hash_of(&self.entries[i].0);
            if let Some(p) = self.index.find_mut(h, |&j| j as usize == last) {
                *p = i as u32;
            }
        }
        let len = self.entries.len();
        if self.entries.capacity() > 16 && len * 4 < self.entries.capacity() {
            self.entries.shrink_to(len * 2);
            let entries = &self.entries;
            self.index
                .shrink_to(len, |&j| hash_of(&entries[j as usize].0));
        }
        true
    }
}

// ---------------------------------------------------------------------------
// The hash
// ---------------------------------------------------------------------------

/// Pairs of a hash: insertion order when packed, table order otherwise.
pub enum Iter<'a> {
    /// Packed pairs.
    Packed(PackedIter<'a>),
    /// Table pairs.
    Table(std::slice::Iter<'a, (SmallBytes, SmallBytes)>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(p) => p.next(),
            Iter::Table(t) => t.next().map(|(f, v)| (f.as_slice(), v.as_slice())),
        }
    }
}

impl Hash {
    /// An empty packed hash.
    pub fn new() -> Self {
        Hash::Packed(Packed::default())
    }
    /// Number of pairs.
    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(p) => p.len,
            Hash::Table(t) => t.entries.len(),
        }
    }
    /// True when empty (an empty hash is never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }
    /// True when in the packed form.
    pub fn is_packed(&self) -> bool {
        matches!(self, Hash::Packed(_))
    }
    /// Approximate heap bytes owned.
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Packed(p) => p.buf.capacity(),
            Hash::Table(t) => {
                t.entries.capacity() * std::mem::size_of::<(SmallBytes, SmallBytes)>()
                    + t.index.capacity() * (std::mem::size_of::<u32>() + 1)
                    + t.entries
                        .iter()
                        .map(|(f, v)| f.heap_size() + v.heap_size())
                        .sum::<usize>()
            }
        }
    }

    /// The value of `field`.
    #[inline]
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Packed(p) => p.get(field),
            Hash::Table(t) => t.position(field).map(|i| t.entries[i].1.as_slice()),
        }
    }

    /// True when `field` is present.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the table form (no-op when already there).
    pub fn to_table(&mut self) {
        if let Hash::Packed(p) = self {
            let mut t = Table::with_capacity(p.len);
            for (f, v) in p.iter() {
                t.push_new(f, v);
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// Converts to the table form when any of `lens` (lengths of fields and
    /// values about to be stored) exceeds the packed value limit, or when they
    /// could push the packed buffer past [`PACKED_SAFETY_LIMIT`], like Redis's
    /// `hashTypeTryConversion` before HSET.
    pub fn convert_for(&mut self, lens: impl IntoIterator<Item = usize>, limits: &EncodingLimits) {
        let Hash::Packed(p) = self else {
            return;
        };
        let mut sum = p.buf.len();
        for n in lens {
            if n > limits.hash_max_listpack_value {
                return self.to_table();
            }
            sum = sum.saturating_add(n);
        }
        if sum > PACKED_SAFETY_LIMIT {
            self.to_table();
        }
    }

    /// Sets `field` to `value`; true when the field is new. Converts to the
    /// table form when the pair is too long for the packed form or the hash
    /// grows past the entry limit.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        if let Hash::Packed(p) = self {
            let max = limits.hash_max_listpack_value;
            if field.len() > max || value.len() > max {
                self.to_table();
            } else {
                let new = p.insert(field, value);
                if p.len > limits.hash_max_listpack_entries {
                    self.to_table();
                }
                return new;
            }
        }
        match self {
            Hash::Table(t) => t.insert(field, value),
            Hash::Packed(_) => unreachable!("converted above"),
        }
    }

    /// Removes `field`; true when it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => p.remove(field),
            Hash::Table(t) => t.remove(field),
        }
    }

    /// All pairs: insertion order when packed.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Packed(p) => Iter::Packed(p.iter()),
            Hash::Table(t) => Iter::Table(t.entries.iter()),
        }
    }

    /// The pair at position `i` (O(1) for tables, O(i) when packed).
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Packed(p) => p.iter().nth(i),
            Hash::Table(t) => t.entries.get(i).map(|(f, v)| (f.as_slice(), v.as_slice())),
        }
    }

    /// One step of HSCAN. Packed hashes return everything with cursor 0. A
    /// table visits up to `count` pairs at positions below the cursor (0 means
    /// "from the top") and returns the next cursor (0 when done); see the
    /// module notes for the guarantee.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match self {
            Hash::Packed(p) => {
                for (k, v) in p.iter() {
                    f(k, v);
                }
                0
            }
            Hash::Table(t) => {
                let len = t.entries.len();
                let mut pos = if cursor == 0 {
                    len
                } else {
                    usize::try_from(cursor).unwrap_or(usize::MAX).min(len)
                };
                let mut n = 0;
                while pos > 0 && n < count.max(1) {
                    pos -= 1;
                    let (k, v) = &t.entries[pos];
                    f(k, v);
                    n += 1;
                }
                pos as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn limits(entries: usize, value: usize) -> EncodingLimits {
        EncodingLimits {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value,
            ..EncodingLimits::default()
        }
    }

    #[test]
    fn packed_basics_and_order() {
        let l = limits(10, 64);
        let mut h = Hash::new();
        assert!(h.insert(b"a", b"1", &l));
        assert!(h.insert(b"b", b"2", &l));
        assert!(h.insert(b"", b"", &l));
        assert!(!h.insert(b"a", b"one hundred", &l));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.len(), 3);
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(
            pairs,
            vec![
                (&b"a"[..], &b"one hundred"[..]),
                (&b"b"[..], &b"2"[..]),
                (&b""[..], &b""[..])
            ]
        );
        assert_eq!(h.get(b"b"), Some(&b"2"[..]));
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.get(b"a"), None);
        assert_eq!(h.nth(0), Some((&b"b"[..], &b"2"[..])));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn long_lengths_roundtrip() {
        let l = limits(10, 100_000);
        let mut h = Hash::new();
        let big = vec![b'x'; 20_000];
        h.insert(b"f", &big, &l);
        h.insert(&big, b"v", &l);
        assert_eq!(h.get(b"f"), Some(&big[..]));
        assert_eq!(h.get(&big), Some(&b"v"[..]));
        h.insert(b"f", b"short", &l);
        assert_eq!(h.get(b"f"), Some(&b"short"[..]));
        assert_eq!(h.get(&big), Some(&b"v"[..]));
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn converts_on_entries_and_never_back() {
        let l = limits(4, 64);
        let mut h = Hash::new();
        for i in 0..4 {
            h.insert(format!("f{i}").as_bytes(), b"v", &l);
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"f4", b"v", &l);
        assert_eq!(h.encoding(), "hashtable");
        for i in 0..4 {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        assert_eq!(h.len(), 1);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f4"), Some(&b"v"[..]));
    }

    #[test]
    fn converts_on_long_field_or_value() {
        let l = limits(128, 8);
        let mut h = Hash::new();
        h.insert(b"a", b"12345678", &l);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"a", b"123456789", &l);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"123456789"[..]));
        let mut h = Hash::new();
        h.insert(b"123456789", b"v", &l);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.insert(b"a", b"1", &l);
        h.convert_for([1, 9], &l);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"1"[..]));
    }

    #[test]
    fn table_remove_keeps_index_consistent() {
        let l = limits(0, 64);
        let mut h = Hash::new();
        for i in 0..1000 {
            h.insert(format!("f{i}").as_bytes(), format!("{i}").as_bytes(), &l);
        }
        assert_eq!(h.encoding(), "hashtable");
        for i in (0..1000).step_by(3) {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        for i in 0..1000 {
            let got = h.get(format!("f{i}").as_bytes());
            if i % 3 == 0 {
                assert_eq!(got, None);
            } else {
                assert_eq!(got, Some(format!("{i}").as_bytes()));
            }
        }
        for i in 0..1000 {
            h.remove(format!("f{i}").as_bytes());
        }
        assert!(h.is_empty());
    }

    #[test]
    fn scan_returns_every_stable_field() {
        let l = limits(0, 64);
        let mut h = Hash::new();
        for i in 0..500 {
            h.insert(format!("f{i}").as_bytes(), b"v", &l);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = h.scan(cursor, 7, |f, _| {
                seen.insert(f.to_vec());
            });
            // Churn between calls: delete some fields, add new ones.
            step += 1;
            h.remove(format!("f{}", step * 11 % 500).as_bytes());
            h.insert(format!("new{step}").as_bytes(), b"v", &l);
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            let f = format!("f{i}");
            let deleted = (1..=step).any(|s| s * 11 % 500 == i);
            if !deleted {
                assert!(seen.contains(f.as_bytes()), "missing {f}");
            }
        }
    }

    /// Random operations against a model (a vector of pairs in insertion
    /// order): values always agree, and while packed the order does too.
    #[test]
    fn model_check() {
        let mut rng = crate::Rng::new(42);
        for round in 0..50 {
            let l = limits(4 + round % 20, 3 + round % 7);
            let mut h = Hash::new();
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..400 {
                let f = format!("f{}", rng.below(30)).into_bytes();
                if rng.below(3) == 0 {
                    let was = model.iter().position(|(k, _)| *k == f);
                    assert_eq!(h.remove(&f), was.is_some());
                    if let Some(i) = was {
                        model.remove(i);
                    }
                } else {
                    let v = vec![b'v'; rng.below(12)];
                    let new = match model.iter_mut().find(|(k, _)| *k == f) {
                        Some(p) => {
                            p.1 = v.clone();
                            false
                        }
                        None => {
                            model.push((f.clone(), v.clone()));
                            true
                        }
                    };
                    assert_eq!(h.insert(&f, &v, &l), new);
                }
                assert_eq!(h.len(), model.len());
                if h.is_packed() {
                    let got: Vec<(Vec<u8>, Vec<u8>)> =
                        h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                    assert_eq!(got, model);
                } else {
                    for (k, v) in &model {
                        assert_eq!(h.get(k), Some(&v[..]));
                    }
                    assert_eq!(h.iter().count(), model.len());
                }
            }
        }
    }

    #[test]
    fn packed_scan_is_one_call() {
        let l = limits(128, 64);
        let mut h = Hash::new();
        h.insert(b"a", b"1", &l);
        h.insert(b"b", b"2", &l);
        let mut n = 0;
        assert_eq!(h.scan(0, 1, |_, _| n += 1), 0);
        assert_eq!(n, 2);
    }
}
