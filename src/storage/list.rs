//! The `list` value type: a deque of packed nodes, like Redis's quicklist.
//!
//! ```text
//!  List ── Packed(Node)                  one node, no deque (small lists)
//!       └─ Nodes(VecDeque<Node>)         several nodes once one is full
//!
//!  Node.buf: [len][bytes][len reversed] [len][bytes][len reversed] ...
//!            `len` is LEB128; the reversed copy lets a walk go backwards,
//!            so both ends pop in O(1) and an index walks from the nearer end.
//! ```
//!
//! Node size follows `list-max-listpack-size` (negative: byte class 4..64 KiB,
//! positive: entries per node with an 8 KiB byte cap). A list grows from the
//! packed form to nodes when its one node is full and returns to the packed
//! form when a single node is left holding under half the limit. Redis 7.0
//! reports `quicklist` for every list, whatever its shape, and so does
//! [`List::encoding`]; [`List::is_packed`] tells the shapes apart.
//!
//! Elements are binary-safe and stored back to back: no allocation per element.

use std::collections::VecDeque;

/// Byte size classes for negative `list-max-listpack-size` (-1 .. -5).
const SIZE_CLASSES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Byte cap of a node when the fill is an entry count (Redis's SIZE_SAFETY_LIMIT).
const SAFETY_LIMIT: usize = 8192;
/// Most entries in a node with a byte-class fill (a quicklist node's count is 16 bits).
const MAX_NODE_COUNT: usize = 65535;

/// Node limits derived from `list-max-listpack-size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Largest node in bytes.
    pub max_bytes: usize,
    /// Most entries per node.
    pub max_count: usize,
}

impl Fill {
    /// Limits for a `list-max-listpack-size` value.
    pub fn new(size: i64) -> Fill {
        if size < 0 {
            let class = (size.unsigned_abs().min(5) - 1) as usize;
            Fill {
                max_bytes: SIZE_CLASSES[class],
                max_count: MAX_NODE_COUNT,
            }
        } else {
            Fill {
                max_bytes: SAFETY_LIMIT,
                max_count: (size as usize).min(MAX_NODE_COUNT),
            }
        }
    }

    /// Limits from the calling core's current configuration.
    pub fn current() -> Fill {
        Fill::new(crate::config::encoding_limits().list_max_listpack_size)
    }
}

impl Default for Fill {
    fn default() -> Fill {
        Fill::new(-2)
    }
}

/// Bytes of the LEB128 form of `n`.
#[inline]
fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    n >>= 7;
    while n > 0 {
        k += 1;
        n >>= 7;
    }
    k
}

/// Encoded size of an element of `len` bytes.
#[inline]
fn entry_size(len: usize) -> usize {
    len + 2 * varint_len(len)
}

/// Writes the entry for `v` into `dst` (exactly `entry_size(v.len())` bytes).
fn encode_into(dst: &mut [u8], v: &[u8]) {
    let mut tmp = [0u8; 10];
    let mut k = 0;
    let mut n = v.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            tmp[k] = b;
            k += 1;
            break;
        }
        tmp[k] = b | 0x80;
        k += 1;
    }
    dst[..k].copy_from_slice(&tmp[..k]);
    dst[k..k + v.len()].copy_from_slice(v);
    let back = &mut dst[k + v.len()..];
    for (i, b) in tmp[..k].iter().rev().enumerate() {
        back[i] = *b;
    }
}

/// A node's bytes, with room kept in front of them: pushing or popping at
/// the head moves the start instead of every byte behind it.
#[derive(Clone, Debug, Default)]
struct NodeBuf {
    v: Vec<u8>,
    /// The bytes are `v[head..]`.
    head: usize,
}

impl std::ops::Deref for NodeBuf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        &self.v[self.head..]
    }
}

impl std::ops::DerefMut for NodeBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.v[self.head..]
    }
}

impl NodeBuf {
    /// Bytes allocated, the room in front included.
    fn capacity(&self) -> usize {
        self.v.capacity()
    }

    /// Grows or shrinks the bytes at the back to `len` (new bytes zero).
    fn resize(&mut self, len: usize) {
        self.v.resize(self.head + len, 0);
    }

    fn truncate(&mut self, len: usize) {
        self.v.truncate(self.head + len);
    }

    /// Makes `n` more bytes at the front (their content is unspecified):
    /// from the room kept there, or by moving the bytes once behind new room
    /// about half their size.
    fn grow_front(&mut self, n: usize) {
        if self.head < n {
            let len = self.len();
            let room = n + (len / 2).max(16);
            let mut v = Vec::with_capacity(room + len + len / 4);
            v.resize(room, 0);
            v.extend_from_slice(&self.v[self.head..]);
            self.v = v;
            self.head = room;
        }
        self.head -= n;
    }

    /// Drops the first `n` bytes.
    fn drop_front(&mut self, n: usize) {
        self.head += n;
        if self.head == self.v.len() {
            self.v.clear();
            self.head = 0;
        }
    }

    /// Splits at `at`: this buffer keeps the bytes before it.
    fn split_off(&mut self, at: usize) -> NodeBuf {
        NodeBuf {
            v: self.v.split_off(self.head + at),
            head: 0,
        }
    }

    /// Moves the bytes to the start and gives back memory beyond `cap`.
    fn shrink_to(&mut self, cap: usize) {
        if self.head > 0 {
            self.v.drain(..self.head);
            self.head = 0;
        }
        self.v.shrink_to(cap);
    }
}

/// One packed node.
#[derive(Clone, Debug, Default)]
struct Node {
    buf: NodeBuf,
    count: u32,
}

impl Node {
    /// The entry starting at `off`: its bytes and the offset of the next one.
    #[inline]
    fn entry(&self, off: usize) -> (&[u8], usize) {
        let b = &self.buf;
        let mut len = 0usize;
        let mut shift = 0;
        let mut p = off;
        loop {
            let c = b[p];
            p += 1;
            len |= ((c & 0x7f) as usize) << shift;
            if c & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let hdr = p - off;
        (&b[p..p + len], p + len + hdr)
    }

    /// The entry ending at `end`: its bytes and its start offset.
    #[inline]
    fn entry_before(&self, end: usize) -> (&[u8], usize) {
        let b = &self.buf;
        let mut len = 0usize;
        let mut shift = 0;
        let mut p = end;
        loop {
            p -= 1;
            let c = b[p];
            len |= ((c & 0x7f) as usize) << shift;
            if c & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let hdr = end - p;
        let data_end = p;
        let data_start = data_end - len;
        (&b[data_start..data_end], data_start - hdr)
    }

    /// Byte offset of entry `i` (`i == count` gives the end), walking from the
    /// nearer end.
    fn offset_of(&self, i: usize) -> usize {
        let count = self.count as usize;
        if i <= count / 2 {
            let mut off = 0;
            for _ in 0..i {
                off = self.entry(off).1;
            }
            off
        } else {
            let mut off = self.buf.len();
            for _ in i..count {
                off = self.entry_before(off).1;
            }
            off
        }
    }

    /// True when `extra` more bytes (one entry) may go into this node.
    #[inline]
    fn allows(&self, extra: usize, fill: Fill) -> bool {
        self.count == 0
            || ((self.count as usize) < fill.max_count && self.buf.len() + extra <= fill.max_bytes)
    }

    fn push_back(&mut self, v: &[u8]) {
        let old = self.buf.len();
        self.buf.resize(old + entry_size(v.len()));
        encode_into(&mut self.buf[old..], v);
        self.count += 1;
    }

    fn insert_at(&mut self, off: usize, v: &[u8]) {
        let sz = entry_size(v.len());
        if off == 0 {
            self.buf.grow_front(sz);
        } else {
            let old = self.buf.len();
            self.buf.resize(old + sz);
            self.buf.copy_within(off..old, off + sz);
        }
        encode_into(&mut self.buf[off..off + sz], v);
        self.count += 1;
    }

    /// Replaces the entry at `off` (ending at `next`) with `v`.
    fn replace_at(&mut self, off: usize, next: usize, v: &[u8]) {
        let sz = entry_size(v.len());
        let old_sz = next - off;
        if sz != old_sz {
            let old = self.buf.len();
            if sz > old_sz {
                self.buf.resize(old + sz - old_sz);
                self.buf.copy_within(next..old, off + sz);
            } else {
                self.buf.copy_within(next..old, off + sz);
                self.buf.truncate(old - (old_sz - sz));
            }
        }
        encode_into(&mut self.buf[off..off + sz], v);
    }

    /// Drops `n` entries at `end`.
    fn drop_end(&mut self, end: End, n: usize) {
        match end {
            End::Left => {
                let off = self.offset_of(n);
                self.buf.drop_front(off);
            }
            End::Right => {
                let off = self.offset_of(self.count as usize - n);
                self.buf.truncate(off);
            }
        }
        self.count -= n as u32;
        self.trim_capacity();
    }

    /// Splits at entry `i`: this node keeps `0..i`, the result holds the rest.
    fn split_off(&mut self, i: usize) -> Node {
        let off = self.offset_of(i);
        let rest = Node {
            buf: self.buf.split_off(off),
            count: self.count - i as u32,
        };
        self.count = i as u32;
        rest
    }

    /// Removes up to `limit` entries equal to `v`, the first ones or (with
    /// `from_back`) the last ones; returns how many.
    fn remove_matching(&mut self, v: &[u8], limit: usize, from_back: bool) -> usize {
        let mut hits: Vec<(usize, usize)> = Vec::new();
        let mut off = 0;
        while off < self.buf.len() {
            let (e, next) = self.entry(off);
            if e == v {
                hits.push((off, next));
                if !from_back && hits.len() == limit {
                    break;
                }
            }
            off = next;
        }
        if from_back && hits.len() > limit {
            hits.drain(..hits.len() - limit);
        }
        if hits.is_empty() {
            return 0;
        }
        let mut w = hits[0].0;
        for j in 0..hits.len() {
            let from = hits[j].1;
            let to = hits.get(j + 1).map_or(self.buf.len(), |h| h.0);
            self.buf.copy_within(from..to, w);
            w += to - from;
        }
        self.buf.truncate(w);
        self.count -= hits.len() as u32;
        self.trim_capacity();
        hits.len()
    }

    /// Gives back memory when most of the buffer is unused (room in front
    /// included; the margin keeps a push and a pop at the head from
    /// reallocating in turn).
    fn trim_capacity(&mut self) {
        if self.buf.capacity() > 256 && self.buf.capacity() > self.buf.len() * 3 {
            self.buf.shrink_to(self.buf.len() + self.buf.len() / 4);
        }
    }
}

/// How the nodes are held.
#[derive(Clone, Debug)]
enum Repr {
    /// A single node (Redis 7.2 calls this form `listpack`).
    Packed(Node),
    /// A deque of nodes, none empty.
    Nodes(VecDeque<Node>),
}

/// A list value.
#[derive(Clone, Debug)]
pub struct List {
    repr: Repr,
    len: usize,
}

impl Default for List {
    fn default() -> List {
        List::new()
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (LEFT).
    Left,
    /// The tail (RIGHT).
    Right,
}

impl List {
    /// An empty list (allocates nothing).
    pub const fn new() -> List {
        List {
            repr: Repr::Packed(Node {
                buf: NodeBuf {
                    v: Vec::new(),
                    head: 0,
                },
                count: 0,
            }),
            len: 0,
        }
    }

    /// A list of `items`, in order.
    pub fn from_items<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(items: I, fill: Fill) -> List {
        let mut l = List::new();
        for i in items {
            l.push_back(i.as_ref(), fill);
        }
        l
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when empty (an empty list is never stored).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// `OBJECT ENCODING` name: Redis 7.0 reports `quicklist` for every list.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
    /// True while the list is a single packed node without a deque.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        match &self.repr {
            Repr::Packed(_) => 1,
            Repr::Nodes(d) => d.len(),
        }
    }
    /// Approximate heap bytes owned.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed(n) => n.buf.capacity(),
            Repr::Nodes(d) => {
                d.capacity() * std::mem::size_of::<Node>()
                    + d.iter().map(|n| n.buf.capacity()).sum::<usize>()
            }
        }
    }

    #[inline]
    fn node(&self, i: usize) -> &Node {
        match &self.repr {
            Repr::Packed(n) => n,
            Repr::Nodes(d) => &d[i],
        }
    }
    #[inline]
    fn node_mut(&mut self, i: usize) -> &mut Node {
        match &mut self.repr {
            Repr::Packed(n) => n,
            Repr::Nodes(d) => &mut d[i],
        }
    }

    /// The deque form (converting from the packed form).
    fn deque(&mut self) -> &mut VecDeque<Node> {
        if let Repr::Packed(n) = &mut self.repr {
            let n = std::mem::take(n);
            let mut d = VecDeque::with_capacity(4);
            if n.count > 0 {
                d.push_back(n);
            }
            self.repr = Repr::Nodes(d);
        }
        match &mut self.repr {
            Repr::Nodes(d) => d,
            Repr::Packed(_) => unreachable!("converted above"),
        }
    }

    /// After removals: drops empty nodes and returns to the packed form when
    /// a single node under half the limits is left.
    fn settle(&mut self, fill: Fill) {
        if let Repr::Nodes(d) = &mut self.repr {
            d.retain(|n| n.count > 0);
            let packable = match d.len() {
                0 => true,
                1 => {
                    let n = &d[0];
                    n.buf.len() <= fill.max_bytes / 2 && (n.count as usize) <= fill.max_count / 2
                }
                _ => false,
            };
            if packable {
                let n = d.pop_front().unwrap_or_default();
                self.repr = Repr::Packed(n);
            }
        }
    }

    /// Node index and index inside it of element `i` (`i < len`).
    fn locate(&self, i: usize) -> (usize, usize) {
        let nn = self.node_count();
        if i < self.len / 2 {
            let mut i = i;
            for n in 0..nn {
                let c = self.node(n).count as usize;
                if i < c {
                    return (n, i);
                }
                i -= c;
            }
        } else {
            let mut from_end = self.len - i;
            for n in (0..nn).rev() {
                let c = self.node(n).count as usize;
                if from_end <= c {
                    return (n, c - from_end);
                }
                from_end -= c;
            }
        }
        (nn - 1, self.node(nn - 1).count as usize)
    }

    /// Appends at the tail.
    pub fn push_back(&mut self, v: &[u8], fill: Fill) {
        let sz = entry_size(v.len());
        self.len += 1;
        if let Repr::Packed(n) = &mut self.repr
            && n.allows(sz, fill)
        {
            return n.push_back(v);
        }
        let d = self.deque();
        match d.back_mut() {
            Some(n) if n.allows(sz, fill) => n.push_back(v),
            _ => {
                let mut n = Node::default();
                n.push_back(v);
                d.push_back(n);
            }
        }
    }

    /// Prepends at the head.
    pub fn push_front(&mut self, v: &[u8], fill: Fill) {
        let sz = entry_size(v.len());
        self.len += 1;
        if let Repr::Packed(n) = &mut self.repr
            && n.allows(sz, fill)
        {
            return n.insert_at(0, v);
        }
        let d = self.deque();
        match d.front_mut() {
            Some(n) if n.allows(sz, fill) => n.insert_at(0, v),
            _ => {
                let mut n = Node::default();
                n.push_back(v);
                d.push_front(n);
            }
        }
    }

    /// Pushes at `end`.
    pub fn push(&mut self, end: End, v: &[u8], fill: Fill) {
        match end {
            End::Left => self.push_front(v, fill),
            End::Right => self.push_back(v, fill),
        }
    }

    /// Element `i` (`0 <= i`), if in range.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (n, k) = self.locate(i);
        let node = self.node(n);
        Some(node.entry(node.offset_of(k)).0)
    }

    /// Element at a Redis index (negative counts from the tail).
    pub fn get_index(&self, i: i64) -> Option<&[u8]> {
        self.resolve(i).and_then(|i| self.get(i))
    }

    /// A Redis index (negative from the tail) as a position, if in range.
    pub fn resolve(&self, i: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if i < 0 { len.checked_add(i)? } else { i };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// The first element at `end`.
    pub fn peek(&self, end: End) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        Some(match end {
            End::Left => self.node(0).entry(0).0,
            End::Right => {
                let n = self.node(self.node_count() - 1);
                n.entry_before(n.buf.len()).0
            }
        })
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End, fill: Fill) -> Option<Vec<u8>> {
        let v = self.peek(end)?.to_vec();
        self.drop_end(end, 1, fill);
        Some(v)
    }

    /// Removes `n` elements at `end` (all when `n >= len`).
    pub fn drop_end(&mut self, end: End, n: usize, fill: Fill) {
        let mut n = n.min(self.len);
        self.len -= n;
        match &mut self.repr {
            Repr::Packed(node) => node.drop_end(end, n),
            Repr::Nodes(d) => {
                while n > 0 {
                    let edge = match end {
                        End::Left => d.front_mut(),
                        End::Right => d.back_mut(),
                    };
                    let Some(edge) = edge else { break };
                    let c = edge.count as usize;
                    if c > n {
                        edge.drop_end(end, n);
                        break;
                    }
                    match end {
                        End::Left => d.pop_front(),
                        End::Right => d.pop_back(),
                    };
                    n -= c;
                }
            }
        }
        self.settle(fill);
    }

    /// Replaces element `i` (`i < len`); false when out of range.
    pub fn set(&mut self, i: usize, v: &[u8], fill: Fill) -> bool {
        if i >= self.len {
            return false;
        }
        let (n, k) = self.locate(i);
        let node = self.node_mut(n);
        let off = node.offset_of(k);
        let next = node.entry(off).1;
        node.replace_at(off, next, v);
        if node.buf.len() > fill.max_bytes && node.count > 1 {
            // An element too big for a shared node goes into one of its own.
            let d = self.deque();
            let node = &mut d[n];
            let right = node.split_off(k + 1);
            let mid = node.split_off(k);
            let mut at = n + 1;
            for part in [mid, right] {
                if part.count > 0 {
                    d.insert(at, part);
                    at += 1;
                }
            }
            self.settle(fill);
        }
        true
    }

    /// Inserts `v` so that it becomes element `i` (`i <= len`).
    pub fn insert(&mut self, i: usize, v: &[u8], fill: Fill) {
        if i == 0 {
            return self.push_front(v, fill);
        }
        if i >= self.len {
            return self.push_back(v, fill);
        }
        let sz = entry_size(v.len());
        let (n, k) = self.locate(i);
        self.len += 1;
        if self.node(n).allows(sz, fill) {
            let node = self.node_mut(n);
            let off = node.offset_of(k);
            return node.insert_at(off, v);
        }
        let d = self.deque();
        if k == 0 && n > 0 && d[n - 1].allows(sz, fill) {
            return d[n - 1].push_back(v);
        }
        if k == 0 {
            let mut node = Node::default();
            node.push_back(v);
            return d.insert(n, node);
        }
        // Split the full node at the insertion point.
        let right = d[n].split_off(k);
        d.insert(n + 1, right);
        if d[n].allows(sz, fill) {
            d[n].push_back(v);
        } else if d[n + 1].allows(sz, fill) {
            d[n + 1].insert_at(0, v);
        } else {
            let mut node = Node::default();
            node.push_back(v);
            d.insert(n + 1, node);
        }
    }

    /// Removes elements equal to `v`: `count > 0` the first `count`, `count < 0`
    /// the last `|count|`, `0` all. Returns how many were removed.
    pub fn remove_matching(&mut self, v: &[u8], count: i64, fill: Fill) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let from_back = count < 0;
        let nn = self.node_count();
        let mut removed = 0;
        for j in 0..nn {
            let n = if from_back { nn - 1 - j } else { j };
            removed += self
                .node_mut(n)
                .remove_matching(v, limit - removed, from_back);
            if removed == limit {
                break;
            }
        }
        self.len -= removed;
        if removed > 0 {
            self.settle(fill);
        }
        removed
    }

    /// Keeps only elements `start..=end` (already clamped, `start <= end < len`),
    /// or nothing when `keep` is None.
    pub fn trim(&mut self, keep: Option<(usize, usize)>, fill: Fill) {
        match keep {
            None => self.drop_end(End::Left, self.len, fill),
            Some((start, end)) => {
                let tail = self.len - end - 1;
                self.drop_end(End::Left, start, fill);
                self.drop_end(End::Right, tail, fill);
            }
        }
    }

    /// Index of the first element equal to `v`.
    pub fn position(&self, v: &[u8]) -> Option<usize> {
        self.iter().position(|e| e == v)
    }

    /// Elements head to tail.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Elements from index `i` towards the tail.
    pub fn iter_from(&self, i: usize) -> Iter<'_> {
        if i >= self.len {
            return Iter {
                list: self,
                node: 0,
                off: 0,
                left: 0,
            };
        }
        let (n, k) = self.locate(i);
        Iter {
            list: self,
            node: n,
            off: self.node(n).offset_of(k),
            left: self.len - i,
        }
    }

    /// Elements tail to head.
    pub fn iter_rev(&self) -> RevIter<'_> {
        if self.len == 0 {
            return RevIter {
                list: self,
                node: 0,
                end: 0,
                left: 0,
            };
        }
        self.iter_rev_from(self.len - 1)
    }

    /// Elements from index `i` towards the head.
    pub fn iter_rev_from(&self, i: usize) -> RevIter<'_> {
        if i >= self.len {
            return self.iter_rev();
        }
        let (n, k) = self.locate(i);
        let node = self.node(n);
        RevIter {
            list: self,
            node: n,
            end: node.entry(node.offset_of(k)).1,
            left: i + 1,
        }
    }

    /// Iterates from `end` inwards: head to tail for Left, tail to head for Right.
    pub fn iter_end(&self, end: End) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        match end {
            End::Left => Box::new(self.iter()),
            End::Right => Box::new(self.iter_rev()),
        }
    }

    /// All elements, copied (tests and debugging).
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.iter().map(|e| e.to_vec()).collect()
    }
}

/// Forward iterator over a list.
pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    off: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        loop {
            let n = self.list.node(self.node);
            if self.off < n.buf.len() {
                let (e, next) = n.entry(self.off);
                self.off = next;
                self.left -= 1;
                return Some(e);
            }
            self.node += 1;
            self.off = 0;
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Backward iterator over a list.
pub struct RevIter<'a> {
    list: &'a List,
    node: usize,
    end: usize,
    left: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        loop {
            if self.end > 0 {
                let n = self.list.node(self.node);
                let (e, start) = n.entry_before(self.end);
                self.end = start;
                self.left -= 1;
                return Some(e);
            }
            self.node -= 1;
            self.end = self.list.node(self.node).buf.len();
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<Vec<u8>> {
        let v = l.to_vec();
        let mut r: Vec<Vec<u8>> = l.iter_rev().map(|e| e.to_vec()).collect();
        r.reverse();
        assert_eq!(v, r, "forward and backward walks agree");
        assert_eq!(v.len(), l.len());
        let total: usize = (0..l.node_count()).map(|n| l.node(n).count as usize).sum();
        assert_eq!(total, l.len());
        v
    }

    fn model_check(l: &List, m: &VecDeque<Vec<u8>>) {
        let v = items(l);
        assert_eq!(v, m.iter().cloned().collect::<Vec<_>>());
        for (i, e) in m.iter().enumerate() {
            assert_eq!(l.get(i), Some(&e[..]));
        }
    }

    #[test]
    fn entry_encoding_round_trips() {
        for len in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let v: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut n = Node::default();
            n.push_back(b"x");
            n.push_back(&v);
            n.push_back(b"");
            let (a, o1) = n.entry(0);
            let (b, o2) = n.entry(o1);
            let (c, o3) = n.entry(o2);
            assert_eq!((a, b, c, o3), (&b"x"[..], &v[..], &b""[..], n.buf.len()));
            let (c2, s2) = n.entry_before(n.buf.len());
            let (b2, s1) = n.entry_before(s2);
            let (a2, s0) = n.entry_before(s1);
            assert_eq!((a2, b2, c2, s0), (&b"x"[..], &v[..], &b""[..], 0));
            assert_eq!(n.buf.len(), entry_size(1) + entry_size(len) + entry_size(0));
        }
    }

    #[test]
    fn fill_limits() {
        assert_eq!(Fill::new(-1).max_bytes, 4096);
        assert_eq!(Fill::new(-2).max_bytes, 8192);
        assert_eq!(Fill::new(-5).max_bytes, 65536);
        assert_eq!(Fill::new(-9).max_bytes, 65536);
        assert_eq!(Fill::new(128).max_count, 128);
        assert_eq!(Fill::new(128).max_bytes, SAFETY_LIMIT);
    }

    #[test]
    fn packed_grows_into_nodes_and_shrinks_back() {
        let fill = Fill::new(4);
        let mut l = List::new();
        for i in 0..4 {
            l.push_back(format!("{i}").as_bytes(), fill);
        }
        assert!(l.is_packed());
        l.push_back(b"4", fill);
        assert!(!l.is_packed());
        assert_eq!(l.node_count(), 2);
        assert_eq!(l.encoding(), "quicklist");
        // One node left with 3 > 4/2 entries: stays in node form.
        l.drop_end(End::Right, 2, fill);
        assert_eq!(l.len(), 3);
        assert_eq!(l.node_count(), 1);
        assert!(!l.is_packed());
        // Two entries (half the limit): packed again.
        l.pop(End::Left, fill);
        assert!(l.is_packed());
        assert_eq!(items(&l), vec![b"1".to_vec(), b"2".to_vec()]);
    }

    #[test]
    fn byte_limit_splits_nodes() {
        let fill = Fill::new(-1);
        let big = vec![b'x'; 1000];
        let mut l = List::new();
        for _ in 0..10 {
            l.push_front(&big, fill);
        }
        assert!(l.node_count() >= 3);
        for n in 0..l.node_count() {
            assert!(l.node(n).buf.len() <= 4096);
        }
        // An element larger than the limit lives alone.
        let huge = vec![b'y'; 10000];
        l.insert(5, &huge, fill);
        assert_eq!(l.get(5), Some(&huge[..]));
        assert_eq!(l.len(), 11);
        l.trim(Some((5, 5)), fill);
        assert_eq!(items(&l), vec![huge.clone()]);
        // A single node over the limit does not pack back.
        assert!(!l.is_packed());
        l.set(0, b"small", fill);
        l.pop(End::Right, fill);
        assert!(l.is_empty());
    }

    #[test]
    fn lset_large_value_gets_its_own_node() {
        let fill = Fill::new(-1);
        let mut l = List::from_items((0..50).map(|i| format!("e{i}")), fill);
        assert!(l.is_packed());
        let big = vec![b'z'; 5000];
        assert!(l.set(20, &big, fill));
        assert_eq!(l.node_count(), 3);
        assert_eq!(l.get(20), Some(&big[..]));
        assert_eq!(l.get(21), Some(&b"e21"[..]));
        assert!(!l.set(50, b"x", fill));
        assert_eq!(l.get_index(-1), Some(&b"e49"[..]));
        assert_eq!(l.get_index(-50), Some(&b"e0"[..]));
        assert_eq!(l.get_index(-51), None);
        assert_eq!(l.get_index(i64::MIN), None);
    }

    /// Random operations against a VecDeque model, with several fills.
    #[test]
    fn head_churn_moves_the_start_and_keeps_memory_bounded() {
        let fill = Fill::default();
        let mut l = List::new();
        for i in 0..100u32 {
            l.push_front(&i.to_le_bytes(), fill);
        }
        for i in 0..10_000u32 {
            l.push_front(&i.to_le_bytes(), fill);
            let Repr::Packed(n) = &l.repr else {
                panic!("one node expected")
            };
            assert!(n.buf.capacity() <= 4 * n.buf.len() + 256);
            assert_eq!(l.pop(End::Left, fill), Some(i.to_le_bytes().to_vec()));
        }
        assert_eq!(l.len(), 100);
        assert_eq!(l.get(0), Some(&99u32.to_le_bytes()[..]));
        assert_eq!(l.get(99), Some(&0u32.to_le_bytes()[..]));
        // Popping most of it gives memory back.
        l.drop_end(End::Left, 95, fill);
        let Repr::Packed(n) = &l.repr else {
            panic!("one node expected")
        };
        assert!(n.buf.capacity() <= 256 || n.buf.capacity() <= 3 * n.buf.len());
        assert_eq!(l.to_vec().len(), 5);
    }

    #[test]
    fn model_random_ops() {
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n.max(1)
        };
        for fill in [
            Fill::new(-1),
            Fill::new(3),
            Fill::new(1),
            Fill::new(0),
            Fill::new(-2),
        ] {
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..3000 {
                let len = match rnd(10) {
                    0 => 0,
                    1 => 200 + rnd(2000) as usize,
                    _ => rnd(12) as usize,
                };
                let v: Vec<u8> = (0..len).map(|_| b'a' + rnd(3) as u8).collect();
                match rnd(11) {
                    0 | 1 => {
                        l.push_back(&v, fill);
                        m.push_back(v);
                    }
                    2 | 3 => {
                        l.push_front(&v, fill);
                        m.push_front(v);
                    }
                    4 => assert_eq!(l.pop(End::Left, fill), m.pop_front()),
                    5 => assert_eq!(l.pop(End::Right, fill), m.pop_back()),
                    6 => {
                        let i = rnd(m.len() as u64 + 1) as usize;
                        l.insert(i, &v, fill);
                        m.insert(i, v);
                    }
                    7 if !m.is_empty() => {
                        let i = rnd(m.len() as u64) as usize;
                        assert!(l.set(i, &v, fill));
                        m[i] = v;
                    }
                    8 => {
                        let target: Vec<u8> = (0..rnd(2)).map(|_| b'a' + rnd(3) as u8).collect();
                        let count = rnd(5) as i64 - 2;
                        let removed = l.remove_matching(&target, count, fill);
                        let mut want = 0;
                        let limit = if count == 0 {
                            usize::MAX
                        } else {
                            count.unsigned_abs() as usize
                        };
                        if count >= 0 {
                            let mut i = 0;
                            while i < m.len() {
                                if want < limit && m[i] == target {
                                    m.remove(i);
                                    want += 1;
                                } else {
                                    i += 1;
                                }
                            }
                        } else {
                            let mut i = m.len();
                            while i > 0 {
                                i -= 1;
                                if want < limit && m[i] == target {
                                    m.remove(i);
                                    want += 1;
                                }
                            }
                        }
                        assert_eq!(removed, want);
                    }
                    9 if !m.is_empty() && rnd(4) == 0 => {
                        let s = rnd(m.len() as u64) as usize;
                        let e = s + rnd((m.len() - s) as u64) as usize;
                        l.trim(Some((s, e)), fill);
                        m = m.iter().skip(s).take(e - s + 1).cloned().collect();
                    }
                    _ => {
                        if !m.is_empty() {
                            let i = rnd(m.len() as u64) as usize;
                            let a: Vec<Vec<u8>> = l.iter_from(i).map(|e| e.to_vec()).collect();
                            let b: Vec<Vec<u8>> = m.iter().skip(i).cloned().collect();
                            assert_eq!(a, b);
                            let a: Vec<Vec<u8>> = l.iter_rev_from(i).map(|e| e.to_vec()).collect();
                            let b: Vec<Vec<u8>> = m.iter().take(i + 1).rev().cloned().collect();
                            assert_eq!(a, b);
                        }
                    }
                }
                if step % 97 == 0 {
                    model_check(&l, &m);
                }
                for n in 0..l.node_count() {
                    if l.node_count() > 1 {
                        assert!(l.node(n).count > 0, "no empty nodes");
                    }
                }
            }
            model_check(&l, &m);
        }
    }
}
