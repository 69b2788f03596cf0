//! The stream value type: an append-only log of entries with consumer groups.
//!
//! ```text
//!  Stream ─┬─ Log: nodes: BTreeMap<first id, Node> ── Node: master fields,
//!          │       length, last/first/max-deleted ids,        offsets, data (ids, flags,
//!          │       entries-added                              fields/values, packed)
//!          └─ groups: BTreeMap<name, Group> ── Group: last id, entries-read,
//!                                              pel: id → Nack (owner, time, count)
//!                                              consumers: name → Consumer (seen, own pel)
//! ```
//!
//! Entries are kept in nodes the way Redis keeps them in listpacks hanging
//! off a radix tree: a new node starts once the tail node holds
//! `stream-node-max-entries` entries (deleted ones included) or its listpack
//! would reach `stream-node-max-bytes`. The byte figure is Redis's own
//! listpack size, computed exactly ([`lp_str_len`]), so nodes split where
//! Redis splits them. That matters beyond memory: approximate trimming
//! (`MAXLEN ~`, `MINID ~`) removes whole nodes only, and lazy freeing weighs
//! a stream by its node count. Deleting an entry leaves a tombstone in its
//! node until the node's last live entry goes, which drops the whole node.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

/// A stream entry id: milliseconds and sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Unix milliseconds (or any number the client chose).
    pub ms: u64,
    /// Sequence number within the millisecond.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest id.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An id from its parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }
    /// The next id, or None past the largest.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }
    /// The previous id, or None before `0-0`.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }
    /// True for `0-0`.
    pub fn is_zero(self) -> bool {
        self.ms == 0 && self.seq == 0
    }
    /// The id as Redis prints it (`ms-seq`).
    pub fn text(self) -> Vec<u8> {
        let mut a = itoa::Buffer::new();
        let mut b = itoa::Buffer::new();
        let ms = a.format(self.ms).as_bytes();
        let seq = b.format(self.seq).as_bytes();
        let mut out = Vec::with_capacity(ms.len() + seq.len() + 1);
        out.extend_from_slice(ms);
        out.push(b'-');
        out.extend_from_slice(seq);
        out
    }
    /// The 16-byte big-endian form Redis uses as radix-tree key.
    fn key_bytes(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

// ---------------------------------------------------------------------------
// Node sizing (stream-node-max-entries / stream-node-max-bytes)
// ---------------------------------------------------------------------------

/// How entries are batched into nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    /// `stream-node-max-entries` (0: no limit).
    pub max_entries: i64,
    /// `stream-node-max-bytes` (0: no limit but Redis's hard 1 GiB).
    pub max_bytes: i64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_entries: 100,
            max_bytes: 4096,
        }
    }
}

thread_local! {
    static LIMITS: Cell<NodeLimits> = Cell::new(NodeLimits::default());
}

/// Publishes the node limits configured on the calling core.
pub fn publish(l: NodeLimits) {
    LIMITS.with(|c| c.set(l));
}

/// The node limits in force on the calling core.
pub fn limits() -> NodeLimits {
    LIMITS.with(|c| c.get())
}

/// Largest listpack Redis lets a node grow to, and the largest entry.
const LISTPACK_MAX: usize = 1 << 30;

/// Bytes of an integer in a listpack element (encoding byte included).
fn lp_int_enc(v: i64) -> usize {
    if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        5
    } else {
        9
    }
}

/// Bytes of the back-length that follows an element of `l` bytes.
fn lp_backlen(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

/// Listpack bytes of an integer element.
fn lp_int_len(v: i64) -> usize {
    let e = lp_int_enc(v);
    e + lp_backlen(e)
}

/// The integer a listpack stores a string as, if any (`lpStringToInt64`:
/// canonical decimal only, as Redis's `string2ll`).
fn lp_string_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    crate::storage::value::parse_canonical_i64(s)
}

/// Listpack bytes of a string element (stored as an integer when it is one).
pub fn lp_str_len(s: &[u8]) -> usize {
    if let Some(v) = lp_string_int(s) {
        return lp_int_len(v);
    }
    let n = s.len();
    let e = if n < 64 {
        1 + n
    } else if n < 4096 {
        2 + n
    } else {
        5 + n
    };
    e + lp_backlen(e)
}

// ---------------------------------------------------------------------------
// Packed bytes
// ---------------------------------------------------------------------------

fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn put_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    put_len(buf, s.len());
    buf.extend_from_slice(s);
}

fn get_len(buf: &[u8], pos: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    n
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let n = get_len(buf, pos);
    let s = buf.get(*pos..*pos + n).unwrap_or(&[]);
    *pos += n;
    s
}

// ---------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------

const DELETED: u8 = 1;
const SAMEFIELDS: u8 = 2;

/// A batch of entries (Redis: one listpack), keyed by its first entry's id.
///
/// ```text
///  offs: [o0, o1, ...]   one u32 per entry, tombstones included, id order
///  data: o0: flags, ms - master.ms, seq (- master.seq when ms is equal),
///            values (same fields as the master), or count, field/value pairs
/// ```
///
/// Every number is a LEB128 varint and every string is length-prefixed, so
/// an entry costs little more than its bytes; a full node gives back its
/// spare capacity.
#[derive(Clone, Debug)]
struct Node {
    /// Id of the node's first entry (its key).
    master_id: StreamId,
    /// The field names of the node's first entry, packed; entries with the
    /// same fields store only their values.
    master: Vec<u8>,
    master_count: usize,
    /// Where each entry starts in `data`.
    offs: Vec<u32>,
    data: Vec<u8>,
    /// Live entries.
    live: u64,
    /// Tombstones.
    deleted: u64,
    /// Redis's listpack bytes, but for the header, the end byte and the
    /// live/deleted counters (which change size as they change).
    lp_rest: usize,
}

impl Node {
    fn new(master_id: StreamId, fields: &[&[u8]]) -> Node {
        let n = fields.len() / 2;
        let mut master = Vec::new();
        let mut lp_rest = lp_int_len(n as i64) + lp_int_len(0);
        for f in fields.iter().step_by(2) {
            put_bytes(&mut master, f);
            lp_rest += lp_str_len(f);
        }
        Node {
            master_id,
            master,
            master_count: n,
            offs: Vec::new(),
            data: Vec::new(),
            live: 0,
            deleted: 0,
            lp_rest,
        }
    }

    /// Redis's listpack size of this node.
    fn lp_bytes(&self) -> usize {
        7 + lp_int_len(self.live as i64) + lp_int_len(self.deleted as i64) + self.lp_rest
    }

    fn master_fields(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut pos = 0;
        (0..self.master_count).map(move |_| get_bytes(&self.master, &mut pos))
    }

    fn same_fields(&self, fields: &[&[u8]]) -> bool {
        fields.len() / 2 == self.master_count
            && self
                .master_fields()
                .zip(fields.iter().step_by(2))
                .all(|(m, f)| m == *f)
    }

    fn push(&mut self, id: StreamId, fields: &[&[u8]]) {
        let n = fields.len() / 2;
        let same = self.same_fields(fields);
        let master_id = self.master_id;
        self.offs.push(self.data.len() as u32);
        self.data.push(if same { SAMEFIELDS } else { 0 });
        let ms = id.ms.wrapping_sub(master_id.ms);
        put_len(&mut self.data, ms as usize);
        put_len(
            &mut self.data,
            if ms == 0 {
                id.seq.wrapping_sub(master_id.seq)
            } else {
                id.seq
            } as usize,
        );
        let mut lp = lp_int_len(if same { SAMEFIELDS as i64 } else { 0 })
            + lp_int_len(ms as i64)
            + lp_int_len(id.seq.wrapping_sub(master_id.seq) as i64);
        let mut lp_count = n as i64 + 3;
        if same {
            for v in fields.iter().skip(1).step_by(2) {
                put_bytes(&mut self.data, v);
                lp += lp_str_len(v);
            }
        } else {
            lp_count += n as i64 + 1;
            lp += lp_int_len(n as i64);
            put_len(&mut self.data, n);
            for s in fields {
                put_bytes(&mut self.data, s);
                lp += lp_str_len(s);
            }
        }
        lp += lp_int_len(lp_count);
        self.lp_rest += lp;
        self.live += 1;
    }

    /// Entries in the node, tombstones included.
    fn count(&self) -> usize {
        self.offs.len()
    }

    /// Flags of entry `i`.
    fn flags(&self, i: usize) -> u8 {
        self.data
            .get(self.offs[i] as usize)
            .copied()
            .unwrap_or(DELETED)
    }

    fn is_live(&self, i: usize) -> bool {
        self.flags(i) & DELETED == 0
    }

    fn set_deleted(&mut self, i: usize) {
        if let Some(f) = self.data.get_mut(self.offs[i] as usize) {
            *f |= DELETED;
        }
    }

    /// Id of entry `i`, and where its fields start in `data`.
    fn id_at(&self, i: usize) -> (StreamId, usize) {
        let mut pos = self.offs[i] as usize + 1;
        let ms = get_len(&self.data, &mut pos) as u64;
        let seq = get_len(&self.data, &mut pos) as u64;
        let id = if ms == 0 {
            StreamId::new(self.master_id.ms, self.master_id.seq.wrapping_add(seq))
        } else {
            StreamId::new(self.master_id.ms.wrapping_add(ms), seq)
        };
        (id, pos)
    }

    fn id(&self, i: usize) -> StreamId {
        self.id_at(i).0
    }

    /// The field bytes of entry `i` (after its flags and id).
    fn fields_of(&self, i: usize) -> &[u8] {
        let (_, start) = self.id_at(i);
        let end = self
            .offs
            .get(i + 1)
            .map_or(self.data.len(), |&o| o as usize);
        self.data.get(start..end).unwrap_or(&[])
    }

    /// Number of entries whose id satisfies `pred` (which holds for a
    /// prefix of the entries).
    fn partition_point(&self, pred: impl Fn(StreamId) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.count());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if pred(self.id(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Position of `id` among the entries, if present (live or not).
    fn find(&self, id: StreamId) -> Option<usize> {
        let i = self.partition_point(|x| x < id);
        (i < self.count() && self.id(i) == id).then_some(i)
    }

    /// Id of the last entry, tombstones included.
    fn last_item_id(&self) -> Option<StreamId> {
        self.count().checked_sub(1).map(|i| self.id(i))
    }

    /// Gives back spare capacity (the node is full).
    fn shrink(&mut self) {
        self.offs.shrink_to_fit();
        self.data.shrink_to_fit();
    }

    fn heap_size(&self) -> usize {
        self.master.capacity()
            + self.offs.capacity() * std::mem::size_of::<u32>()
            + self.data.capacity()
    }
}

/// A live entry being read.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    node: &'a Node,
    idx: usize,
}

impl<'a> EntryRef<'a> {
    /// The entry's id.
    pub fn id(&self) -> StreamId {
        self.node.id(self.idx)
    }
    /// Number of field/value pairs.
    pub fn field_count(&self) -> usize {
        if self.node.flags(self.idx) & SAMEFIELDS != 0 {
            self.node.master_count
        } else {
            get_len(self.node.fields_of(self.idx), &mut 0)
        }
    }
    /// The field/value pairs, in the order they were added.
    pub fn pairs(&self) -> Pairs<'a> {
        let data = self.node.fields_of(self.idx);
        let same = self.node.flags(self.idx) & SAMEFIELDS != 0;
        let mut pos = 0;
        let left = if same {
            self.node.master_count
        } else {
            get_len(data, &mut pos)
        };
        Pairs {
            data,
            pos,
            master: if same {
                Some((&self.node.master, 0))
            } else {
                None
            },
            left,
        }
    }
}

/// Iterator over an entry's field/value pairs.
pub struct Pairs<'a> {
    data: &'a [u8],
    pos: usize,
    master: Option<(&'a [u8], usize)>,
    left: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let field = match &mut self.master {
            Some((m, mpos)) => get_bytes(m, mpos),
            None => get_bytes(self.data, &mut self.pos),
        };
        let value = get_bytes(self.data, &mut self.pos);
        Some((field, value))
    }
}

// ---------------------------------------------------------------------------
// The log of entries
// ---------------------------------------------------------------------------

/// Why XADD could not add an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The id is not greater than the stream's last id.
    IdTooSmall,
    /// The fields are too large, or (as Redis reports it) the sequence of an
    /// `ms-*` id would overflow.
    TooLarge,
}

/// How an XADD asks for its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdRequest {
    /// `*`: generated from the clock.
    Auto,
    /// `ms-*`: the milliseconds given, the sequence generated.
    Ms(u64),
    /// A complete id.
    Exact(StreamId),
}

/// How XADD and XTRIM trim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimBy {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries below this id.
    MinId(StreamId),
}

/// A trimming request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    /// The strategy.
    pub by: TrimBy,
    /// `~`: remove whole nodes only.
    pub approx: bool,
    /// Most entries to remove (0: no limit).
    pub limit: i64,
}

/// The entries of a stream and its counters.
#[derive(Clone, Debug, Default)]
pub struct Log {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    /// Last id ever added (or set by XSETID).
    pub last_id: StreamId,
    /// First live entry's id (0-0 when empty).
    pub first_id: StreamId,
    /// Largest id ever deleted.
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
}

impl Log {
    /// Live entries.
    pub fn len(&self) -> u64 {
        self.length
    }
    /// True when no entry is live.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }
    /// Number of nodes (Redis's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of nodes Redis's radix tree would have for these node keys
    /// (`radix-tree-nodes`): a compressed trie over the 16-byte keys.
    pub fn rax_nodes(&self) -> usize {
        if self.nodes.is_empty() {
            return 1;
        }
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.key_bytes()).collect();
        fn count(keys: &[[u8; 16]], d: usize) -> usize {
            if keys.len() == 1 {
                return if d < 16 { 2 } else { 1 };
            }
            let (first, last) = (keys[0], keys[keys.len() - 1]);
            let mut p = d;
            while p < 16 && first[p] == last[p] {
                p += 1;
            }
            if p >= 16 {
                return 1;
            }
            let mut total = usize::from(p > d) + 1;
            let mut i = 0;
            while i < keys.len() {
                let b = keys[i][p];
                let j = i + keys[i..].iter().take_while(|k| k[p] == b).count();
                total += count(&keys[i..j], p + 1);
                i = j;
            }
            total
        }
        count(&keys, 0)
    }

    /// The id an XADD would get, checked against the last id.
    pub fn next_id(&self, req: IdRequest, now_ms: u64) -> Result<StreamId, AddError> {
        let id = match req {
            IdRequest::Exact(id) => id,
            IdRequest::Ms(ms) => {
                if self.last_id.ms == ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AddError::TooLarge);
                    }
                    StreamId::new(ms, self.last_id.seq + 1)
                } else {
                    StreamId::new(ms, 0)
                }
            }
            IdRequest::Auto => {
                if now_ms > self.last_id.ms {
                    StreamId::new(now_ms, 0)
                } else {
                    self.last_id.incr().unwrap_or(StreamId::MIN)
                }
            }
        };
        if id <= self.last_id {
            return Err(AddError::IdTooSmall);
        }
        Ok(id)
    }

    /// Appends an entry; `fields` holds field, value, field, value...
    pub fn append(
        &mut self,
        req: IdRequest,
        fields: &[&[u8]],
        now_ms: u64,
        limits: NodeLimits,
    ) -> Result<StreamId, AddError> {
        let id = self.next_id(req, now_ms)?;
        let total: usize = fields.iter().map(|f| f.len()).sum();
        if total > LISTPACK_MAX {
            return Err(AddError::TooLarge);
        }
        let max_bytes = match usize::try_from(limits.max_bytes) {
            Ok(0) | Err(_) => LISTPACK_MAX,
            Ok(b) => b.min(LISTPACK_MAX),
        };
        let mut tail = self.nodes.values_mut().next_back();
        if let Some(node) = &mut tail {
            let full = node.lp_bytes() + total >= max_bytes
                || (limits.max_entries > 0
                    && (node.live + node.deleted) as i64 >= limits.max_entries);
            if full {
                node.shrink();
                tail = None;
            }
        }
        match tail {
            Some(node) => node.push(id, fields),
            None => {
                let mut node = Node::new(id, fields);
                node.push(id, fields);
                self.nodes.insert(id, node);
            }
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let (_, node) = self.nodes.range(..=id).next_back()?;
        let idx = node.find(id)?;
        node.is_live(idx).then_some(EntryRef { node, idx })
    }

    /// Live entries with ids in `[start, end]`, ascending (or descending
    /// when `rev`).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = EntryRef<'_>> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        if !rev {
            let from = self
                .nodes
                .range(..=start)
                .next_back()
                .map_or(StreamId::MIN, |(k, _)| *k);
            Box::new(
                self.nodes
                    .range(from..)
                    .flat_map(move |(_, node)| {
                        let first = node.partition_point(|id| id < start);
                        (first..node.count())
                            .filter(move |&i| node.is_live(i))
                            .map(move |idx| EntryRef { node, idx })
                    })
                    .take_while(move |e| e.id() <= end),
            )
        } else {
            let Some((&from, _)) = self.nodes.range(..=end).next_back() else {
                return Box::new(std::iter::empty());
            };
            Box::new(
                self.nodes
                    .range(..=from)
                    .rev()
                    .flat_map(move |(_, node)| {
                        let last = node.partition_point(|id| id <= end);
                        (0..last)
                            .rev()
                            .filter(move |&i| node.is_live(i))
                            .map(move |idx| EntryRef { node, idx })
                    })
                    .take_while(move |e| e.id() >= start),
            )
        }
    }

    /// The last live entry's id.
    pub fn last_valid_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, true)
            .next()
            .map(|e| e.id())
    }

    /// The first live entry's id.
    fn first_valid_id(&self) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, false)
            .next()
            .map(|e| e.id())
    }

    /// The first entry's id, tombstones included (0-0 when there is none):
    /// what an approximate MINID trim is replicated as.
    pub fn first_edge_id(&self) -> StreamId {
        self.nodes
            .values()
            .find_map(|n| (n.count() > 0).then(|| n.id(0)))
            .unwrap_or(StreamId::MIN)
    }

    /// Marks entry `id` deleted; true when it was live.
    fn delete_one(&mut self, id: StreamId) -> bool {
        let Some((&key, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some(idx) = node.find(id) else {
            return false;
        };
        if !node.is_live(idx) {
            return false;
        }
        if node.live == 1 {
            self.nodes.remove(&key);
        } else {
            node.set_deleted(idx);
            node.live -= 1;
            node.deleted += 1;
        }
        self.length -= 1;
        true
    }

    /// XDEL: deletes the given ids; returns how many were live.
    pub fn delete(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first = false;
        for &id in ids {
            if self.delete_one(id) {
                if id == self.first_id {
                    first = true;
                }
                if id > self.max_deleted_id {
                    self.max_deleted_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first {
                self.first_id = self.first_valid_id().unwrap_or(StreamId::MAX);
            }
        }
        deleted
    }

    /// Trims from the oldest entries, the way Redis's `streamTrim` does:
    /// whole nodes while they can go, then (unless approximate) entries
    /// inside the next node. Returns the entries removed.
    pub fn trim(&mut self, t: Trim) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let TrimBy::MaxLen(max) = t.by
                && self.length <= max
            {
                break;
            }
            let Some((&key, node)) = self.nodes.iter_mut().next() else {
                break;
            };
            let entries = node.live;
            if t.limit > 0 && (deleted + entries) as i64 > t.limit {
                break;
            }
            let remove = match t.by {
                TrimBy::MaxLen(max) => self.length - entries >= max,
                TrimBy::MinId(min) => node.last_item_id().is_some_and(|l| l < min),
            };
            if remove {
                self.nodes.remove(&key);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if t.approx {
                break;
            }
            let mut removed = 0;
            for i in 0..node.count() {
                let stop = match t.by {
                    TrimBy::MaxLen(max) => self.length <= max,
                    TrimBy::MinId(min) => node.id(i) >= min,
                };
                if stop {
                    break;
                }
                if node.is_live(i) {
                    node.set_deleted(i);
                    removed += 1;
                    self.length -= 1;
                }
            }
            node.live -= removed;
            node.deleted += removed;
            deleted += removed;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.first_valid_id().unwrap_or(StreamId::MAX);
        }
        deleted
    }

    /// True when a deleted entry may lie in `[start, end]` (Redis's
    /// `streamRangeHasTombstones`, from the largest deleted id).
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The number of entries added up to `id` since the stream began, when
    /// it can be known (Redis's `streamEstimateDistanceFromFirstEverEntry`);
    /// -1 when it cannot.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return self.entries_added as i64,
            std::cmp::Ordering::Greater => return INVALID_ENTRIES_READ,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => {
                    return self.entries_added.wrapping_sub(self.length) as i64;
                }
                std::cmp::Ordering::Equal => {
                    return self.entries_added.wrapping_sub(self.length) as i64 + 1;
                }
                std::cmp::Ordering::Greater => {}
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag: entries not yet delivered to it, when it can be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some((self.entries_added as i64).wrapping_sub(g.entries_read));
        }
        let read = self.estimate_distance(g.last_id);
        (read != INVALID_ENTRIES_READ).then(|| (self.entries_added as i64).wrapping_sub(read))
    }

    fn heap_size(&self) -> usize {
        // A B-tree leaf slot holds the key and the node header.
        const SLOT: usize = std::mem::size_of::<StreamId>() + std::mem::size_of::<Node>();
        self.nodes.values().map(|n| SLOT + n.heap_size()).sum()
    }
}

// ---------------------------------------------------------------------------
// Consumer groups
// ---------------------------------------------------------------------------

/// `entries-read` of a group that cannot tell how far it has read.
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A delivered, not yet acknowledged entry.
#[derive(Clone, Debug)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    /// Deliveries so far.
    pub delivery_count: u64,
    /// The consumer it was last delivered to.
    pub consumer: Box<[u8]>,
}

/// A consumer of a group.
#[derive(Clone, Debug)]
pub struct Consumer {
    /// Unix ms it was last active.
    pub seen_time: i64,
    /// Its pending entries.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug)]
pub struct Group {
    /// Last id delivered to the group.
    pub last_id: StreamId,
    /// Entries read by the group, or [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    /// Pending entries of every consumer.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name.
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    /// A group positioned at `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer `name`, created if missing (true when created). Its
    /// seen time is refreshed either way.
    pub fn consumer(&mut self, name: &[u8], now: i64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.into())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            });
        c.seen_time = now;
        (c, created)
    }

    /// Creates consumer `name`; false when it exists.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.into(),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Deletes consumer `name` and its pending entries; returns how many
    /// it had, or None when there is no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Removes `id` from the pending entries; true when it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Records the delivery of entry `id` to `consumer` (which must exist):
    /// a new pending entry, or one taken over from another consumer with
    /// its counter restarted.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: i64) {
        match self.pel.get_mut(&id) {
            Some(nack) => {
                if *nack.consumer != *consumer {
                    if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                        old.pel.remove(&id);
                    }
                    nack.consumer = consumer.into();
                }
                nack.delivery_time = now;
                nack.delivery_count = 1;
            }
            None => {
                self.pel.insert(
                    id,
                    Nack {
                        delivery_time: now,
                        delivery_count: 1,
                        consumer: consumer.into(),
                    },
                );
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Gives the pending entry `id` to `consumer` (which must exist).
    pub fn transfer(&mut self, id: StreamId, consumer: &[u8]) {
        let Some(nack) = self.pel.get_mut(&id) else {
            return;
        };
        if *nack.consumer != *consumer {
            if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                old.pel.remove(&id);
            }
            nack.consumer = consumer.into();
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Moves the group past the delivered entry `id`, keeping its read
    /// counter when it can (Redis's bookkeeping in `streamReplyWithRange`).
    pub fn advance(&mut self, log: &Log, id: StreamId) {
        if id <= self.last_id {
            return;
        }
        if self.entries_read != INVALID_ENTRIES_READ && !log.range_has_tombstones(Some(id), None) {
            self.entries_read += 1;
        } else if log.entries_added > 0 {
            self.entries_read = log.estimate_distance(id);
        }
        self.last_id = id;
    }

    fn heap_size(&self) -> usize {
        const PEL: usize = std::mem::size_of::<StreamId>() + std::mem::size_of::<Nack>();
        self.pel
            .values()
            .map(|n| PEL + n.consumer.len())
            .sum::<usize>()
            + self
                .consumers
                .iter()
                .map(|(k, c)| {
                    k.len()
                        + std::mem::size_of::<Consumer>()
                        + c.pel.len() * std::mem::size_of::<StreamId>()
                })
                .sum::<usize>()
    }
}

// ---------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------

/// A stream: its entries and its consumer groups.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// The entries.
    pub log: Log,
    /// Consumer groups by name.
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }
    /// Live entries.
    pub fn len(&self) -> u64 {
        self.log.len()
    }
    /// True when no entry is live.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }
    /// How much work dropping it takes, as Redis's `lazyfreeGetFreeEffort`
    /// weighs a stream: one per node, plus per group one and the first
    /// group's pending entries.
    pub fn free_effort(&self) -> usize {
        let groups = self.groups.len();
        let pel = self.groups.values().next().map_or(0, |g| g.pel.len());
        self.log.node_count() + groups * (1 + pel)
    }
    /// Approximate heap bytes owned by the stream.
    pub fn heap_size(&self) -> usize {
        self.log.heap_size()
            + self
                .groups
                .iter()
                .map(|(k, g)| k.len() + std::mem::size_of::<Group>() + g.heap_size())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut Log, id: (u64, u64), fields: &[&str], limits: NodeLimits) -> StreamId {
        let f: Vec<&[u8]> = fields.iter().map(|f| f.as_bytes()).collect();
        s.append(IdRequest::Exact(StreamId::new(id.0, id.1)), &f, 0, limits)
            .unwrap()
    }

    fn ids(s: &Log, rev: bool) -> Vec<u64> {
        s.range(StreamId::MIN, StreamId::MAX, rev)
            .map(|e| e.id().ms)
            .collect()
    }

    #[test]
    fn ids_step_and_print() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
        assert_eq!(StreamId::new(12, 3).text(), b"12-3");
    }

    #[test]
    fn listpack_sizes_match_redis() {
        assert_eq!(lp_str_len(b"1"), 2);
        assert_eq!(lp_str_len(b"128"), 3);
        assert_eq!(lp_str_len(b"-1"), 3);
        assert_eq!(lp_str_len(b"01"), 4);
        assert_eq!(lp_str_len(b"abc"), 5);
        assert_eq!(lp_str_len(&[b'x'; 64]), 66 + 1);
        // A one-entry node with fields "a" "1": header 6, count, deleted,
        // master (num-fields, "a", 0), entry (flags, ms, seq, "1", lp-count), end.
        let mut s = Log::default();
        add(&mut s, (5, 0), &["a", "1"], NodeLimits::default());
        let node = s.nodes.values().next().unwrap();
        assert_eq!(
            node.lp_bytes(),
            6 + 2 + 2 + 2 + 3 + 2 + 2 + 2 + 2 + 2 + 2 + 1
        );
    }

    #[test]
    fn nodes_split_on_entries_and_trim_approximately() {
        let lim = NodeLimits {
            max_entries: 10,
            max_bytes: 4096,
        };
        let mut s = Log::default();
        for i in 1..=100 {
            add(&mut s, (i, 0), &["f", "v"], lim);
        }
        assert_eq!(s.node_count(), 10);
        let t = Trim {
            by: TrimBy::MaxLen(55),
            approx: true,
            limit: 30,
        };
        assert_eq!(s.trim(t), 30);
        assert_eq!(s.len(), 70);
        assert_eq!(s.first_id, StreamId::new(31, 0));
        let exact = Trim {
            by: TrimBy::MaxLen(5),
            approx: false,
            limit: 0,
        };
        assert_eq!(s.trim(exact), 65);
        assert_eq!(ids(&s, false), [96, 97, 98, 99, 100]);
        assert_eq!(ids(&s, true), [100, 99, 98, 97, 96]);
    }

    #[test]
    fn delete_leaves_tombstones_and_drops_empty_nodes() {
        let lim = NodeLimits {
            max_entries: 3,
            max_bytes: 0,
        };
        let mut s = Log::default();
        for i in 1..=6 {
            add(&mut s, (i, 0), &["f", "v", "g", "w"], lim);
        }
        assert_eq!(s.delete(&[StreamId::new(1, 0), StreamId::new(9, 0)]), 1);
        assert_eq!(s.first_id, StreamId::new(2, 0));
        assert_eq!(s.max_deleted_id, StreamId::new(1, 0));
        assert_eq!(s.node_count(), 2);
        assert_eq!(s.delete(&[StreamId::new(2, 0), StreamId::new(3, 0)]), 2);
        assert_eq!(s.node_count(), 1);
        assert_eq!(ids(&s, false), [4, 5, 6]);
        let e = s.get(StreamId::new(5, 0)).unwrap();
        let pairs: Vec<_> = e.pairs().collect();
        assert_eq!(pairs, [(&b"f"[..], &b"v"[..]), (&b"g"[..], &b"w"[..])]);
        assert!(s.get(StreamId::new(2, 0)).is_none());
        // Ranges inside and across nodes, both directions.
        let r: Vec<u64> = s
            .range(StreamId::new(4, 1), StreamId::new(6, 0), true)
            .map(|e| e.id().ms)
            .collect();
        assert_eq!(r, [6, 5]);
    }

    #[test]
    fn differing_fields_are_kept() {
        let mut s = Log::default();
        let lim = NodeLimits::default();
        add(&mut s, (1, 0), &["a", "1"], lim);
        add(&mut s, (2, 0), &["b", "2", "c", "3"], lim);
        add(&mut s, (3, 0), &["a", "4"], lim);
        let got: Vec<Vec<(Vec<u8>, Vec<u8>)>> = s
            .range(StreamId::MIN, StreamId::MAX, false)
            .map(|e| e.pairs().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())
            .collect();
        assert_eq!(got[1][1], (b"c".to_vec(), b"3".to_vec()));
        assert_eq!(got[2][0], (b"a".to_vec(), b"4".to_vec()));
    }

    #[test]
    fn ids_are_generated_like_redis() {
        let mut s = Log::default();
        let lim = NodeLimits::default();
        let id = s.append(IdRequest::Ms(0), &[b"a", b"b"], 0, lim).unwrap();
        assert_eq!(id, StreamId::new(0, 1));
        let id = s.append(IdRequest::Auto, &[b"a", b"b"], 0, lim).unwrap();
        assert_eq!(id, StreamId::new(0, 2));
        let id = s.append(IdRequest::Auto, &[b"a", b"b"], 50, lim).unwrap();
        assert_eq!(id, StreamId::new(50, 0));
        assert_eq!(
            s.next_id(IdRequest::Exact(StreamId::new(50, 0)), 0),
            Err(AddError::IdTooSmall)
        );
        assert_eq!(s.next_id(IdRequest::Ms(10), 0), Err(AddError::IdTooSmall));
        s.last_id = StreamId::new(7, u64::MAX);
        assert_eq!(s.next_id(IdRequest::Ms(7), 0), Err(AddError::TooLarge));
    }

    #[test]
    fn rax_node_count_matches_redis() {
        // Figures read from Redis 7.0 with stream-node-max-entries 1.
        let lim = NodeLimits {
            max_entries: 1,
            max_bytes: 4096,
        };
        let mut s = Log::default();
        assert_eq!(s.rax_nodes(), 1);
        for (ms, want) in [(1, 2), (2, 6), (3, 8), (256, 11), (257, 14), (70000, 17)] {
            add(&mut s, (ms, 0), &["a", "1"], lim);
            assert_eq!(s.rax_nodes(), want, "after {ms}");
        }
        s.delete(&[StreamId::new(2, 0)]);
        assert_eq!(s.rax_nodes(), 15);
        s.delete(&[StreamId::new(256, 0)]);
        assert_eq!(s.rax_nodes(), 12);
    }

    #[test]
    fn lag_and_read_counter() {
        let mut st = Stream::new();
        let lim = NodeLimits::default();
        for i in 1..=5 {
            add(&mut st.log, (i, 0), &["d", "x"], lim);
        }
        let mut g = Group::new(StreamId::MIN, INVALID_ENTRIES_READ);
        assert_eq!(st.log.lag(&g), Some(5));
        g.advance(&st.log, StreamId::new(1, 0));
        assert_eq!(g.entries_read, 1);
        st.log.delete(&[StreamId::new(3, 0)]);
        let mut g2 = Group::new(StreamId::MIN, INVALID_ENTRIES_READ);
        assert_eq!(st.log.lag(&g2), None);
        g2.advance(&st.log, StreamId::new(1, 0));
        assert_eq!(g2.entries_read, INVALID_ENTRIES_READ);
        g2.advance(&st.log, StreamId::new(5, 0));
        assert_eq!(g2.entries_read, 5);
        assert_eq!(st.log.lag(&g2), Some(0));
    }

    #[test]
    fn pel_moves_between_consumers() {
        let mut g = Group::new(StreamId::MIN, 0);
        g.consumer(b"a", 1);
        g.consumer(b"b", 1);
        let id = StreamId::new(1, 0);
        g.deliver(id, b"a", 5);
        g.deliver(id, b"b", 6);
        assert!(g.consumers[&b"a"[..]].pel.is_empty());
        assert_eq!(g.pel[&id].consumer.as_ref(), b"b");
        assert_eq!(g.delete_consumer(b"b"), Some(1));
        assert!(g.pel.is_empty());
        assert!(!g.ack(id));
    }
}
