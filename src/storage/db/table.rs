//! One hash slot's table: an array of 64-byte chunks, each one cache line
//! holding seven node pointers and their tags.
//!
//! ```text
//!  SlotTable (8 bytes) = chunk array address | size class (low 6 bits)
//!  Chunk (64 bytes, 64-aligned) = [ tag 0..6 | overflow ][ node 0 ] .. [ node 6 ]
//! ```
//!
//! A key's hash picks its home chunk (`(low 32 bits * chunks) >> 32`) and its
//! tag (`0x80 | top 7 bits`; an empty place has tag 0). A lookup reads the home
//! chunk's first word, compares the seven tags at once, and follows the pointer
//! of each matching place: one cache line for the table, one for the node. A
//! chunk that is full sends further keys to the next chunk (wrapping around),
//! and its overflow byte counts how many keys went past it (saturating at 255,
//! after which it never decreases), so a lookup stops at the first chunk that
//! neither holds the key nor has an overflow, and removal needs no tombstones.
//!
//! The size class gives the number of chunks: 1, 2, 3, 4, 6, 8, 12, 16, ...
//! (powers of two and 1.5 times powers of two), so a table grows by a factor
//! of 1.33 to 2 when it holds 80% of its places (a one-chunk table fills all
//! seven). Keeping the class inside the pointer lets a lookup find the home
//! chunk from the 8-byte slot entry alone, without reading a table header.
//!
//! The trade-off against tables that keep their tags apart from their
//! pointers: a present key costs one cache line fewer, but an absent key's
//! lookup reads its tags from the chunk lines, which are spread over ~13
//! bytes per key instead of ~2.3 for a separate tag array. Once the tables
//! outgrow the cache (1M keys on a shared 32 MB L3), lookups of absent keys
//! cost more than with the separate tag array; a pipelined batch hides that
//! miss with the other prefetches.

use super::key_hash;
use super::node::Node;
use std::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};

/// Places per chunk.
const WIDTH: usize = 7;
/// The high bit of each of the seven tag bytes of a chunk's control word.
const TAG_HIGH: u64 = 0x0080_8080_8080_8080;
/// The low seven bits of each tag byte.
const TAG_LOW7: u64 = 0x007f_7f7f_7f7f_7f7f;
/// One in each tag byte.
const TAG_ONES: u64 = 0x0001_0101_0101_0101;
/// Position of the overflow byte in the control word.
const OVERFLOW_SHIFT: u32 = 56;
/// A saturated overflow count: never decremented again.
const OVERFLOW_STUCK: u64 = 0xff;
/// Address bits that hold the size class (chunks are 64-byte aligned).
const CLASS_MASK: usize = 63;

/// Seven node places and their tags: one cache line.
#[repr(C, align(64))]
pub(super) struct Chunk {
    /// Bytes 0..7: the places' tags (0 = empty); byte 7: the overflow count.
    ctrl: u64,
    nodes: [Option<Node>; WIDTH],
}

const _: () = assert!(std::mem::size_of::<Chunk>() == 64);
const _: () = assert!(std::mem::align_of::<Chunk>() == CLASS_MASK + 1);

/// The largest size class: 2^29 chunks, over 3 billion keys, so a slot's key
/// count fits a `u32`.
const MAX_CLASS: usize = 58;
const _: () = assert!(MAX_CLASS <= CLASS_MASK);

/// Chunk count of a size class: `2^(c/2)` for even `c`, `1.5 * 2^(c/2)` for
/// odd `c`, so classes 0, 2, 3, 4, 5, ... give 1, 2, 3, 4, 6, 8, 12, ...
/// chunks (class 1, also one chunk, is skipped). Computed rather than looked
/// up: it sits on every lookup's path from the directory to the chunk.
#[inline]
fn chunks_of(class: usize) -> usize {
    ((2 + (class & 1)) << (class >> 1)) >> 1
}

/// The size class after `class`.
fn next_class(class: usize) -> usize {
    if class == 0 { 2 } else { class + 1 }
}

/// Keys a table of `n` chunks holds before it grows.
#[inline]
fn capacity(n: usize) -> usize {
    if n == 1 { WIDTH } else { n * WIDTH * 4 / 5 }
}

/// The tag of a hash: its top seven bits with the high bit set.
#[inline]
fn tag_of(h: u64) -> u64 {
    0x80 | (h >> 57)
}

/// The home chunk of a hash among `n`.
#[inline]
fn home_of(h: u64, n: usize) -> usize {
    ((h as u32 as u64 * n as u64) >> 32) as usize
}

/// A bit (the high bit of the byte) per place of `ctrl` whose tag is `tag`.
#[inline]
fn matching(ctrl: u64, tag: u64) -> u64 {
    let x = ctrl ^ (tag * TAG_ONES);
    // A byte of `x` is zero exactly when adding 0x7f to its low seven bits
    // leaves the high bit clear and its own high bit is clear.
    !(((x & TAG_LOW7) + TAG_LOW7) | x) & TAG_HIGH
}

/// A bit per empty place of `ctrl`.
#[inline]
fn empty_places(ctrl: u64) -> u64 {
    !ctrl & TAG_HIGH
}

#[inline]
fn overflow(ctrl: u64) -> u64 {
    ctrl >> OVERFLOW_SHIFT
}

/// The place of the lowest set bit of a [`matching`] or [`empty_places`] mask.
#[inline]
fn place(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// Where a key sits in its table: chunk index and place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pos {
    chunk: usize,
    place: usize,
}

/// A slot's table of nodes (see the module documentation): null with class 0
/// until its first key, then a tagged pointer to its chunk array, which the
/// table owns along with the nodes in it.
pub(super) struct SlotTable(*mut Chunk);

// SAFETY: the table uniquely owns its chunk array and the nodes in it (like a
// `Box<[Chunk]>`), and nodes are `Send`.
unsafe impl Send for SlotTable {}

impl Default for SlotTable {
    fn default() -> Self {
        SlotTable(std::ptr::null_mut())
    }
}

impl SlotTable {
    /// The chunk array's address (null when none) and its chunk count.
    #[inline]
    fn raw(&self) -> (*mut Chunk, usize) {
        let base = self.0.map_addr(|a| a & !CLASS_MASK);
        (base, chunks_of(self.0.addr() & CLASS_MASK))
    }

    #[inline]
    fn chunks(&self) -> &[Chunk] {
        let (base, n) = self.raw();
        if base.is_null() {
            return &[];
        }
        // SAFETY: a non-null base is the table's live, initialised array of
        // `n` chunks (allocated in `grow` with the class stored beside it).
        unsafe { std::slice::from_raw_parts(base, n) }
    }

    #[inline]
    fn chunks_mut(&mut self) -> &mut [Chunk] {
        let (base, n) = self.raw();
        if base.is_null() {
            return &mut [];
        }
        // SAFETY: as in `chunks`; `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(base, n) }
    }

    /// Number of chunks (0 before the first key).
    pub(super) fn chunk_count(&self) -> usize {
        self.chunks().len()
    }

    /// The position of `key` (hash `h`), if present.
    #[inline]
    pub(super) fn find(&self, h: u64, key: &[u8]) -> Option<Pos> {
        self.find_by(h, |k| crate::storage::bytes::bytes_eq(k, key))
    }

    /// The position of the first key with hash `h` that `is` accepts.
    #[inline]
    pub(super) fn find_by(&self, h: u64, is: impl Fn(&[u8]) -> bool) -> Option<Pos> {
        let chunks = self.chunks();
        let n = chunks.len();
        if n == 0 {
            return None;
        }
        let tag = tag_of(h);
        let mut i = home_of(h, n);
        for _ in 0..n {
            let c = &chunks[i];
            let ctrl = c.ctrl;
            let mut m = matching(ctrl, tag);
            while m != 0 {
                let p = place(m);
                if let Some(node) = &c.nodes[p]
                    && is(node.key())
                {
                    return Some(Pos { chunk: i, place: p });
                }
                m &= m - 1;
            }
            if overflow(ctrl) == 0 {
                return None;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        None
    }

    /// The node of `key` (hash `h`), if present.
    #[inline]
    pub(super) fn get(&self, h: u64, key: &[u8]) -> Option<&Node> {
        let p = self.find(h, key)?;
        self.at(p)
    }

    /// The node at a position returned by [`SlotTable::find`].
    #[inline]
    pub(super) fn at(&self, p: Pos) -> Option<&Node> {
        self.chunks().get(p.chunk)?.nodes[p.place].as_ref()
    }

    /// The node at a position returned by [`SlotTable::find`].
    #[inline]
    pub(super) fn at_mut(&mut self, p: Pos) -> Option<&mut Node> {
        self.chunks_mut().get_mut(p.chunk)?.nodes[p.place].as_mut()
    }

    /// Takes the node at `p` (found with hash `h`) out of the table.
    pub(super) fn take(&mut self, h: u64, p: Pos) -> Option<Node> {
        let chunks = self.chunks_mut();
        let n = chunks.len();
        let node = chunks.get_mut(p.chunk)?.nodes[p.place].take()?;
        chunks[p.chunk].ctrl &= !(0xff << (8 * p.place));
        // Every chunk from the home one up to this one counted the key as
        // overflowing past it.
        let mut i = home_of(h, n);
        while i != p.chunk {
            let c = &mut chunks[i];
            if overflow(c.ctrl) != OVERFLOW_STUCK {
                c.ctrl -= 1 << OVERFLOW_SHIFT;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        Some(node)
    }

    /// Adds a node whose key (hash `h`) is not in the table, which holds `len`
    /// keys; grows the table first when it is at capacity.
    pub(super) fn insert_new(&mut self, h: u64, node: Node, len: usize) {
        if len >= capacity(self.chunks().len()) {
            self.grow();
        }
        put(self.chunks_mut(), h, node);
    }

    /// Moves every node to a new array of the next size class.
    #[cold]
    fn grow(&mut self) {
        let class = if self.0.is_null() {
            0
        } else {
            next_class(self.0.addr() & CLASS_MASK)
        };
        assert!(class <= MAX_CLASS, "hash slot table at its largest size");
        let n = chunks_of(class);
        let Ok(layout) = Layout::array::<Chunk>(n) else {
            handle_alloc_error(Layout::new::<Chunk>())
        };
        // SAFETY: `layout` has a non-zero size (n >= 1 chunks of 64 bytes).
        let base = unsafe { alloc_zeroed(layout) } as *mut Chunk;
        if base.is_null() {
            handle_alloc_error(layout);
        }
        // SAFETY: `base` holds `n` chunks, and all-zero bytes are a valid
        // empty chunk: control word 0 and every place `None` (`Node` is a
        // transparent `NonNull`, so `Option<Node>` is null when `None`).
        let fresh = unsafe { std::slice::from_raw_parts_mut(base, n) };
        for c in self.chunks_mut() {
            for slot in &mut c.nodes {
                if let Some(node) = slot.take() {
                    put(fresh, key_hash(node.key()), node);
                }
            }
        }
        let old = std::mem::replace(&mut self.0, base.map_addr(|a| a | class));
        SlotTable(old).free();
    }

    /// Drops the nodes and frees the chunk array.
    fn free(&mut self) {
        let (base, n) = self.raw();
        if base.is_null() {
            return;
        }
        self.0 = std::ptr::null_mut();
        // SAFETY: `base` is the live array of `n` initialised chunks that was
        // allocated with this layout; the table no longer refers to it.
        unsafe {
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(base, n));
            if let Ok(layout) = Layout::array::<Chunk>(n) {
                dealloc(base as *mut u8, layout);
            }
        }
    }

    /// Checks the table's invariants: tags mirror the places, every key is
    /// found from its home chunk, and overflow counts match the keys placed
    /// past each chunk. Returns the number of keys.
    #[cfg(test)]
    pub(super) fn check(&self) -> usize {
        let chunks = self.chunks();
        let n = chunks.len();
        let mut passed = vec![0u64; n];
        let mut keys = 0;
        for (i, c) in chunks.iter().enumerate() {
            for (p, slot) in c.nodes.iter().enumerate() {
                let tag = (c.ctrl >> (8 * p)) & 0xff;
                let Some(node) = slot else {
                    assert_eq!(tag, 0, "empty place with a tag");
                    continue;
                };
                keys += 1;
                let h = key_hash(node.key());
                assert_eq!(tag, tag_of(h));
                assert_eq!(self.find(h, node.key()), Some(Pos { chunk: i, place: p }));
                let mut j = home_of(h, n);
                while j != i {
                    passed[j] += 1;
                    j = (j + 1) % n;
                }
            }
        }
        for (c, want) in chunks.iter().zip(passed) {
            let got = overflow(c.ctrl);
            assert!(
                got == want || got == OVERFLOW_STUCK,
                "overflow {got}, {want} keys"
            );
        }
        if n > 1 {
            assert!(keys <= capacity(n));
        }
        keys
    }

    /// Every node, chunk by chunk.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Node> + Clone {
        self.chunks().iter().flat_map(|c| c.nodes.iter().flatten())
    }

    /// Address of the home chunk of hash `h`, if the table has chunks.
    #[inline]
    pub(super) fn home_chunk(&self, h: u64) -> Option<*const Chunk> {
        let (base, n) = self.raw();
        if base.is_null() {
            return None;
        }
        // `home_of` is below `n`: the address is inside the array.
        Some(base.wrapping_add(home_of(h, n)) as *const Chunk)
    }

    /// Starts loading the chunk after the home chunk of hash `h`.
    #[inline]
    pub(super) fn prefetch_next_chunk(&self, h: u64) {
        let (base, n) = self.raw();
        if !base.is_null() {
            let next = (home_of(h, n) + 1) % n;
            // `next` is below `n`: the address is inside the array.
            super::prefetch_line(base.wrapping_add(next) as *const Chunk);
        }
    }

    /// The nodes in the home chunk of hash `h` whose tags match, and whether
    /// the key may also be further on (the chunk has overflowed).
    #[inline]
    pub(super) fn home_candidates(&self, h: u64) -> (impl Iterator<Item = &Node>, bool) {
        let chunks = self.chunks();
        let (mut m, c, more) = match chunks.get(home_of(h, chunks.len())) {
            Some(c) => (matching(c.ctrl, tag_of(h)), Some(c), overflow(c.ctrl) != 0),
            None => (0, None, false),
        };
        let it = std::iter::from_fn(move || {
            while m != 0 {
                let p = place(m);
                m &= m - 1;
                if let Some(n) = c.and_then(|c| c.nodes[p].as_ref()) {
                    return Some(n);
                }
            }
            None
        });
        (it, more)
    }
}

/// Puts a node in the first empty place from its home chunk on, counting it
/// in the overflow of every full chunk it passes. The array has an empty place.
fn put(chunks: &mut [Chunk], h: u64, node: Node) {
    let n = chunks.len();
    let mut i = home_of(h, n);
    loop {
        let c = &mut chunks[i];
        let empty = empty_places(c.ctrl);
        if empty != 0 {
            let p = place(empty);
            c.ctrl |= tag_of(h) << (8 * p);
            c.nodes[p] = Some(node);
            return;
        }
        if overflow(c.ctrl) != OVERFLOW_STUCK {
            c.ctrl += 1 << OVERFLOW_SHIFT;
        }
        i = if i + 1 == n { 0 } else { i + 1 };
    }
}

impl Drop for SlotTable {
    fn drop(&mut self) {
        self.free();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes() {
        let mut sizes = vec![];
        let mut c = 0;
        while c <= MAX_CLASS {
            sizes.push(chunks_of(c));
            c = next_class(c);
        }
        assert_eq!(&sizes[..10], &[1, 2, 3, 4, 6, 8, 12, 16, 24, 32]);
        assert_eq!(sizes.last(), Some(&(1 << 29)));
        assert!(capacity(1 << 29) < u32::MAX as usize);
        for w in sizes.windows(2) {
            assert!(w[1] > w[0] && w[1] <= 2 * w[0]);
        }
    }

    #[test]
    fn tag_matching() {
        // Tags 0x81, 0, 0x81, 0xff, 0x80, 0x81, 0; overflow byte 0x81.
        let ctrl = u64::from_le_bytes([0x81, 0, 0x81, 0xff, 0x80, 0x81, 0, 0x81]);
        assert_eq!(matching(ctrl, 0x81), 0x80 | 0x80 << 16 | 0x80 << 40);
        assert_eq!(matching(ctrl, 0x80), 0x80 << 32);
        assert_eq!(matching(ctrl, 0xff), 0x80 << 24);
        assert_eq!(matching(ctrl, 0xfe), 0);
        assert_eq!(empty_places(ctrl), 0x80 << 8 | 0x80 << 48);
        assert_eq!(overflow(ctrl), 0x81);
        // Every tag against every other, in every place.
        for a in 0x80..=0xffu64 {
            for p in 0..WIDTH {
                let ctrl = a << (8 * p);
                for b in 0x80..=0xffu64 {
                    let want = if a == b { 0x80 << (8 * p) } else { 0 };
                    assert_eq!(matching(ctrl, b), want, "{a:x} {b:x} {p}");
                }
            }
        }
    }
}
