//! The `set` value type, encoded as Redis 7.0 encodes it.
//!
//! ```text
//!  Set::Ints(IntSet)   every member is a canonical integer (string2ll rules) and
//!                      len <= set-max-intset-entries: a sorted Vec<i16|i32|i64>,
//!                      widened in place when a larger value arrives ("intset")
//!  Set::Table(Table)   anything else ("hashtable"): members packed in a Vec of
//!                      SmallBytes (short members inline, no allocation per member)
//!                      plus a hashbrown index of u32 positions into that Vec
//! ```
//!
//! As in Redis 7.0 a set never converts back from the table to the intset.
//!
//! The table's positional layout gives O(1) random members (SPOP/SRANDMEMBER)
//! and a simple SSCAN cursor: positions are visited from the end downwards and
//! a removal moves the last member into the hole (`swap_remove`), so a member
//! only ever moves to a lower position and one present for a whole scan is
//! always reached.

use super::SmallBytes;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// One member as stored: an integer of the intset or bytes of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    /// Intset member.
    Int(i64),
    /// Table member.
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// The member's bytes.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Int(v) => itoa::Buffer::new().format(v).as_bytes().to_vec(),
            Elem::Str(s) => s.to_vec(),
        }
    }
    /// Calls `f` with the member's bytes (integers formatted on the stack).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Int(v) => f(itoa::Buffer::new().format(v).as_bytes()),
            Elem::Str(s) => f(s),
        }
    }
}

/// Sorted, duplicate-free integers in the narrowest width that holds them all.
#[derive(Clone, Debug)]
pub enum IntSet {
    /// Every value fits in 16 bits.
    W16(Vec<i16>),
    /// Every value fits in 32 bits.
    W32(Vec<i32>),
    /// 64-bit values.
    W64(Vec<i64>),
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::W16(Vec::new())
    }
}

impl IntSet {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            IntSet::W16(v) => v.len(),
            IntSet::W32(v) => v.len(),
            IntSet::W64(v) => v.len(),
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes per value.
    pub fn width(&self) -> usize {
        match self {
            IntSet::W16(_) => 2,
            IntSet::W32(_) => 4,
            IntSet::W64(_) => 8,
        }
    }
    /// Value at position `i` (ascending order).
    pub fn get(&self, i: usize) -> i64 {
        match self {
            IntSet::W16(v) => v[i] as i64,
            IntSet::W32(v) => v[i] as i64,
            IntSet::W64(v) => v[i],
        }
    }
    /// Binary search: `Ok(position)` or `Err(insertion point)`.
    pub fn search(&self, x: i64) -> Result<usize, usize> {
        match self {
            IntSet::W16(v) => match i16::try_from(x) {
                Ok(x) => v.binary_search(&x),
                Err(_) => Err(if x < 0 { 0 } else { v.len() }),
            },
            IntSet::W32(v) => match i32::try_from(x) {
                Ok(x) => v.binary_search(&x),
                Err(_) => Err(if x < 0 { 0 } else { v.len() }),
            },
            IntSet::W64(v) => v.binary_search(&x),
        }
    }
    /// True when `x` is present.
    pub fn contains(&self, x: i64) -> bool {
        self.search(x).is_ok()
    }
    fn widen_for(&mut self, x: i64) {
        let need = if i16::try_from(x).is_ok() {
            2
        } else if i32::try_from(x).is_ok() {
            4
        } else {
            8
        };
        if need <= self.width() {
            return;
        }
        let all: Vec<i64> = (0..self.len()).map(|i| self.get(i)).collect();
        *self = if need == 4 {
            IntSet::W32(all.into_iter().map(|v| v as i32).collect())
        } else {
            IntSet::W64(all)
        };
    }
    /// Inserts `x`; false if it was present.
    pub fn insert(&mut self, x: i64) -> bool {
        let Err(pos) = self.search(x) else {
            return false;
        };
        self.widen_for(x);
        // After widening the value fits the element type.
        match self {
            IntSet::W16(v) => v.insert(pos, x as i16),
            IntSet::W32(v) => v.insert(pos, x as i32),
            IntSet::W64(v) => v.insert(pos, x),
        }
        true
    }
    /// Removes the value at position `i`.
    pub fn remove_at(&mut self, i: usize) -> i64 {
        match self {
            IntSet::W16(v) => v.remove(i) as i64,
            IntSet::W32(v) => v.remove(i) as i64,
            IntSet::W64(v) => v.remove(i),
        }
    }
    /// Removes `x`; false if absent.
    pub fn remove(&mut self, x: i64) -> bool {
        match self.search(x) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }
    /// Keeps only the values at the positions where `keep` is true.
    pub fn retain_positions(&mut self, keep: &[bool]) {
        fn go<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                keep[i - 1]
            });
        }
        match self {
            IntSet::W16(v) => go(v, keep),
            IntSet::W32(v) => go(v, keep),
            IntSet::W64(v) => go(v, keep),
        }
    }
    fn heap_size(&self) -> usize {
        let cap = match self {
            IntSet::W16(v) => v.capacity(),
            IntSet::W32(v) => v.capacity(),
            IntSet::W64(v) => v.capacity(),
        };
        cap * self.width()
    }
}

fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0x5e7u64))
}

#[inline]
fn hash(b: &[u8]) -> u64 {
    foldhash::fast::FixedState::with_seed(seed()).hash_one(b)
}

/// The hash table form: members by position plus an index of positions.
#[derive(Clone, Debug, Default)]
pub struct Table {
    items: Vec<SmallBytes>,
    index: HashTable<u32>,
}

impl Table {
    /// An empty table with room for `n` members.
    pub fn with_capacity(n: usize) -> Self {
        Table {
            items: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
        }
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Member at position `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        &self.items[i]
    }
    /// Position of `m`.
    pub fn find(&self, m: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(hash(m), |&i| items[i as usize].as_slice() == m)
            .map(|&i| i as usize)
    }
    /// Inserts `m`; false if present.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        let Table { items, index } = self;
        let pos = items.len() as u32;
        match index.entry(
            hash(m),
            |&i| items[i as usize].as_slice() == m,
            |&i| hash(&items[i as usize]),
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(pos);
                items.push(SmallBytes::new(m));
                true
            }
        }
    }
    /// Removes the member at position `i`, moving the last member into its place.
    pub fn remove_at(&mut self, i: usize) -> SmallBytes {
        let Table { items, index } = self;
        if let Ok(e) = index.find_entry(hash(&items[i]), |&p| p as usize == i) {
            e.remove();
        }
        let last = items.len() - 1;
        if i != last
            && let Some(p) = index.find_mut(hash(&items[last]), |&p| p as usize == last)
        {
            *p = i as u32;
        }
        let out = items.swap_remove(i);
        // Shrink like Redis resizes a sparse dict (less than 10% used).
        if items.capacity() > 64 && items.len() * 10 < items.capacity() {
            items.shrink_to(items.len() * 2);
            index.shrink_to(items.len() * 2, |&i| hash(&items[i as usize]));
        }
        out
    }
    /// Removes `m`; false if absent.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.find(m) {
            Some(i) => {
                self.remove_at(i);
                true
            }
            None => false,
        }
    }
    fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<SmallBytes>()
            + self.items.iter().map(SmallBytes::heap_size).sum::<usize>()
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

/// A set value.
#[derive(Clone, Debug)]
pub enum Set {
    /// Integers only, small.
    Ints(IntSet),
    /// General members.
    Table(Table),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

impl Set {
    /// An empty set in the intset encoding (what Redis 7.0 starts from).
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }
    /// True when empty (an empty set is never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }
    /// Approximate heap bytes owned.
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(s) => s.heap_size(),
            Set::Table(t) => t.heap_size(),
        }
    }
    /// Converts to the hash table form (no-op when already there).
    pub fn convert_to_table(&mut self) {
        if let Set::Ints(s) = self {
            let mut t = Table::with_capacity(s.len());
            let mut b = itoa::Buffer::new();
            for i in 0..s.len() {
                t.insert(b.format(s.get(i)).as_bytes());
            }
            *self = Set::Table(t);
        }
    }
    /// Adds `m` (setTypeAdd): converts to the table when `m` is not a canonical
    /// integer or the intset grows beyond `max_intset`. True when added.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self {
            Set::Ints(s) => match super::value::parse_canonical_i64(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert_to_table();
                    }
                    true
                }
                None => {
                    self.convert_to_table();
                    self.add(m, max_intset)
                }
            },
            Set::Table(t) => t.insert(m),
        }
    }
    /// Removes `m`; true when it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => super::value::parse_canonical_i64(m).is_some_and(|v| s.remove(v)),
            Set::Table(t) => t.remove(m),
        }
    }
    /// True when `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => super::value::parse_canonical_i64(m).is_some_and(|v| s.contains(v)),
            Set::Table(t) => t.find(m).is_some(),
        }
    }
    /// True when the member `e` (of another set) is a member of this one.
    pub fn contains_elem(&self, e: Elem<'_>) -> bool {
        match (self, e) {
            (Set::Ints(s), Elem::Int(v)) => s.contains(v),
            (_, e) => e.with_bytes(|b| self.contains(b)),
        }
    }
    /// Adds the member `e` of another set.
    pub fn add_elem(&mut self, e: Elem<'_>, max_intset: usize) -> bool {
        match (&mut *self, e) {
            (Set::Ints(s), Elem::Int(v)) => {
                if !s.insert(v) {
                    return false;
                }
                if s.len() > max_intset {
                    self.convert_to_table();
                }
                true
            }
            (_, e) => e.with_bytes(|b| self.add(b, max_intset)),
        }
    }
    /// Element at position `i` (`0..len`): ascending order for the intset,
    /// table order otherwise.
    pub fn get(&self, i: usize) -> Elem<'_> {
        match self {
            Set::Ints(s) => Elem::Int(s.get(i)),
            Set::Table(t) => Elem::Str(t.get(i)),
        }
    }
    /// Removes and returns the element at position `i`.
    pub fn remove_at(&mut self, i: usize) -> Vec<u8> {
        match self {
            Set::Ints(s) => Elem::Int(s.remove_at(i)).to_vec(),
            Set::Table(t) => t.remove_at(i).as_slice().to_vec(),
        }
    }
    /// Every element, in position order.
    pub fn iter(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// Picks `k` distinct positions out of `0..n` (`k <= n`), uniformly.
pub fn sample_distinct(n: usize, k: usize, rng: &mut crate::Rng) -> Vec<usize> {
    if k * 3 < n {
        // Few picks from many: rejection sampling.
        let mut seen = hashbrown::HashSet::with_capacity(k);
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            let i = rng.below(n);
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    } else {
        // Partial Fisher-Yates shuffle.
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + rng.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = s.iter().map(Elem::to_vec).collect();
        v.sort();
        v
    }

    #[test]
    fn intset_widths_and_order() {
        let mut s = Set::new();
        assert!(s.add(b"5", 512));
        assert!(s.add(b"-3", 512));
        assert!(!s.add(b"5", 512));
        assert_eq!(s.encoding(), "intset");
        let Set::Ints(i) = &s else { panic!() };
        assert_eq!(i.width(), 2);
        assert!(s.add(b"100000", 512));
        let Set::Ints(i) = &s else { panic!() };
        assert_eq!(i.width(), 4);
        assert!(s.add(b"-9223372036854775808", 512));
        let Set::Ints(i) = &s else { panic!() };
        assert_eq!(i.width(), 8);
        let order: Vec<Elem<'_>> = s.iter().collect();
        assert_eq!(
            order,
            vec![
                Elem::Int(i64::MIN),
                Elem::Int(-3),
                Elem::Int(5),
                Elem::Int(100000)
            ]
        );
        assert!(s.contains(b"100000"));
        assert!(!s.contains(b"+5"));
        assert!(!s.contains(b"05"));
        assert!(s.remove(b"-3"));
        assert!(!s.remove(b"-3"));
        assert_eq!(s.len(), 3);
        // Searching a 16-bit set for values outside 16 bits.
        let mut t = Set::new();
        t.add(b"1", 512);
        assert!(!t.contains(b"70000"));
        assert!(!t.contains(b"-70000"));
    }

    #[test]
    fn converts_on_string_and_size_never_back() {
        let mut s = Set::new();
        s.add(b"1", 512);
        s.add(b"2", 512);
        s.add(b"abc", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(
            members(&s),
            vec![b"1".to_vec(), b"2".to_vec(), b"abc".to_vec()]
        );
        s.remove(b"abc");
        assert_eq!(s.encoding(), "hashtable");
        // Non-canonical integers are strings.
        let mut s = Set::new();
        s.add(b"01", 512);
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::new();
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"4", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 5);
        assert!(s.contains(b"4") && s.contains(b"0"));
    }

    #[test]
    fn table_remove_keeps_index() {
        let mut s = Set::new();
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        for i in (0..1000).step_by(3) {
            assert!(s.remove(format!("m{i}").as_bytes()));
        }
        for i in 0..1000 {
            assert_eq!(s.contains(format!("m{i}").as_bytes()), i % 3 != 0, "{i}");
        }
        while !s.is_empty() {
            let n = s.len();
            let m = s.remove_at(n / 2);
            assert!(!s.contains(&m));
        }
        assert!(s.heap_size() < 10_000);
        // Long members live on the heap.
        let long = vec![b'x'; 100];
        s.add(&long, 512);
        assert!(s.contains(&long));
    }

    #[test]
    fn elem_ops_across_encodings() {
        let mut a = Set::new();
        a.add(b"7", 512);
        let mut b = Set::new();
        b.add(b"x", 512);
        b.add(b"7", 512);
        assert!(b.contains_elem(Elem::Int(7)));
        assert!(a.contains_elem(Elem::Str(b"7")));
        assert!(!a.contains_elem(Elem::Str(b"x")));
        assert!(a.add_elem(Elem::Str(b"x"), 512));
        assert_eq!(a.encoding(), "hashtable");
    }

    #[test]
    fn sampling() {
        let mut rng = crate::Rng::new(7);
        for (n, k) in [(10, 10), (100, 3), (5, 0), (50, 40)] {
            let mut v = sample_distinct(n, k, &mut rng);
            assert_eq!(v.len(), k);
            v.sort();
            v.dedup();
            assert_eq!(v.len(), k);
            assert!(v.iter().all(|&i| i < n));
        }
    }
}
