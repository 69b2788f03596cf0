//! The sorted-set value type.
//!
//! ```text
//!  Pack: Vec<(score, member)> sorted by (score, member bytes)   ── "listpack"
//!        while len <= zset-max-listpack-entries and every member
//!        <= zset-max-listpack-value bytes
//!  Full: SkipList (arena, spans per level: O(log N) rank,       ── "skiplist"
//!          rank -> node, score/lex bounds)
//!        + index: member hash -> node number (O(1) ZSCORE; the member
//!          bytes live once, in the node)
//! ```
//!
//! Every range query is reduced to a half-open interval of ranks: the bounds
//! come from [`ZSet::prefix_len`] (how many leading elements satisfy a monotone
//! predicate, a binary search on the packed form and a skiplist descent on the
//! full one) and the elements are then read by rank. A packed set converts to
//! the full form when it outgrows a limit; like Redis 7.0 it never converts
//! back, except that sets built whole (store commands) pick their encoding from
//! their final size ([`ZSet::from_sorted`]).

use crate::storage::bytes::SmallBytes;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// `zset-max-listpack-*` limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most elements of a packed set.
    pub entries: usize,
    /// Longest member of a packed set, bytes.
    pub value: usize,
}

impl Limits {
    /// The limits configured on the calling core.
    pub fn current() -> Limits {
        let l = crate::config::encoding_limits();
        Limits {
            entries: l.zset_max_listpack_entries,
            value: l.zset_max_listpack_value,
        }
    }
}

/// `(score, member) < (score2, member2)` in sorted-set order.
#[inline]
fn less(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> bool {
    s1 < s2 || (s1 == s2 && m1 < m2)
}

// ---------------------------------------------------------------------------
// Skiplist with spans, nodes in an arena
// ---------------------------------------------------------------------------

const MAX_LEVEL: usize = 32;
const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;

#[derive(Clone, Copy, Debug)]
struct Lvl {
    fwd: u32,
    span: u32,
}

#[derive(Clone, Debug)]
struct Node {
    score: f64,
    ele: SmallBytes,
    back: u32,
    /// Level 0, in place: three nodes in four have no other level.
    l0: Lvl,
    /// Levels 1 and up (empty, with no allocation, for one-level nodes).
    up: Box<[Lvl]>,
}

impl Node {
    fn with_levels(score: f64, ele: SmallBytes, levels: usize) -> Node {
        const EMPTY: Lvl = Lvl { fwd: NIL, span: 0 };
        Node {
            score,
            ele,
            back: NIL,
            l0: EMPTY,
            up: vec![EMPTY; levels - 1].into_boxed_slice(),
        }
    }

    #[inline]
    fn lv(&self, i: usize) -> &Lvl {
        if i == 0 { &self.l0 } else { &self.up[i - 1] }
    }

    #[inline]
    fn lv_mut(&mut self, i: usize) -> &mut Lvl {
        if i == 0 {
            &mut self.l0
        } else {
            &mut self.up[i - 1]
        }
    }
}

/// Order-statistic skiplist keyed by (score, member).
#[derive(Clone, Debug)]
struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    level: usize,
    len: usize,
    tail: u32,
    seed: u64,
}

impl SkipList {
    fn new() -> Self {
        SkipList {
            nodes: vec![Node::with_levels(0.0, SmallBytes::new(b""), MAX_LEVEL)],
            free: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }

    #[inline]
    fn n(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    #[inline]
    fn fwd(&self, x: u32, i: usize) -> u32 {
        self.nodes[x as usize].lv(i).fwd
    }

    fn random_level(&mut self) -> usize {
        // p = 1/4 per extra level, like Redis.
        let mut lvl = 1;
        loop {
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            if lvl < MAX_LEVEL && self.seed & 3 == 0 {
                lvl += 1;
            } else {
                return lvl;
            }
        }
    }

    fn alloc(&mut self, node: Node) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Inserts (score, ele); the member must not be present. Returns the
    /// node's number (stable until the node is deleted).
    fn insert(&mut self, score: f64, ele: SmallBytes) -> u32 {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let f = self.fwd(x, i);
                if f != NIL && less(self.n(f).score, &self.n(f).ele, score, &ele) {
                    rank[i] += self.n(x).lv(i).span;
                    x = f;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let lvl = self.random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.nodes[0].lv_mut(i).span = self.len as u32;
            }
            self.level = lvl;
        }
        let idx = self.alloc(Node::with_levels(score, ele, lvl));
        for i in 0..lvl {
            let u = update[i] as usize;
            let ufwd = *self.nodes[u].lv(i);
            *self.nodes[idx as usize].lv_mut(i) = Lvl {
                fwd: ufwd.fwd,
                span: ufwd.span - (rank[0] - rank[i]),
            };
            *self.nodes[u].lv_mut(i) = Lvl {
                fwd: idx,
                span: rank[0] - rank[i] + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.nodes[u as usize].lv_mut(i).span += 1;
        }
        self.nodes[idx as usize].back = if update[0] == HEAD { NIL } else { update[0] };
        let f0 = self.fwd(idx, 0);
        if f0 != NIL {
            self.nodes[f0 as usize].back = idx;
        } else {
            self.tail = idx;
        }
        self.len += 1;
        idx
    }

    /// Removes (score, ele) and gives back the member's bytes; None when absent.
    fn delete(&mut self, score: f64, ele: &[u8]) -> Option<SmallBytes> {
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && less(self.n(f).score, &self.n(f).ele, score, ele) {
                    x = f;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let x = self.fwd(x, 0);
        if x == NIL || self.n(x).score != score || &*self.n(x).ele != ele {
            return None;
        }
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let u = u as usize;
            if self.nodes[u].lv(i).fwd == x {
                let xl = *self.nodes[x as usize].lv(i);
                self.nodes[u].lv_mut(i).span += xl.span;
                self.nodes[u].lv_mut(i).span -= 1;
                self.nodes[u].lv_mut(i).fwd = xl.fwd;
            } else {
                self.nodes[u].lv_mut(i).span -= 1;
            }
        }
        let f0 = self.fwd(x, 0);
        let back = self.n(x).back;
        if f0 != NIL {
            self.nodes[f0 as usize].back = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.nodes[0].lv(self.level - 1).fwd == NIL {
            self.nodes[0].lv_mut(self.level - 1).span = 0;
            self.level -= 1;
        }
        self.len -= 1;
        let node = &mut self.nodes[x as usize];
        let ele = std::mem::replace(&mut node.ele, SmallBytes::new(b""));
        node.up = Box::new([]);
        self.free.push(x);
        Some(ele)
    }

    /// Number of leading elements for which `pred` holds (`pred` monotone:
    /// true on a prefix of the order).
    fn prefix_len(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && pred(self.n(f).score, &self.n(f).ele) {
                    rank += self.n(x).lv(i).span as usize;
                    x = f;
                } else {
                    break;
                }
            }
        }
        rank
    }

    /// Node at 0-based `rank`.
    fn by_rank(&self, rank: usize) -> u32 {
        let want = rank + 1;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                let span = self.n(x).lv(i).span as usize;
                if f != NIL && traversed + span <= want {
                    traversed += span;
                    x = f;
                } else {
                    break;
                }
            }
            if traversed == want {
                return x;
            }
        }
        NIL
    }
}

#[derive(Clone, Debug)]
struct Full {
    /// Node numbers, hashed by member.
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    sl: SkipList,
}

impl Full {
    fn new(n: usize) -> Self {
        Full {
            index: HashTable::with_capacity(n),
            hasher: Default::default(),
            sl: SkipList::new(),
        }
    }

    #[inline]
    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    /// The node holding `member`.
    fn find(&self, member: &[u8]) -> Option<u32> {
        let nodes = &self.sl.nodes;
        self.index
            .find(self.hash(member), |&i| &*nodes[i as usize].ele == member)
            .copied()
    }

    /// Adds a member known to be absent.
    fn insert(&mut self, score: f64, member: SmallBytes) {
        let h = self.hash(&member);
        let idx = self.sl.insert(score, member);
        let (nodes, hasher) = (&self.sl.nodes, &self.hasher);
        self.index
            .insert_unique(h, idx, |&j| hasher.hash_one(&*nodes[j as usize].ele));
    }

    /// Removes `member`; its score when it was there.
    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let h = self.hash(member);
        let nodes = &self.sl.nodes;
        let slot = self
            .index
            .find_entry(h, |&i| &*nodes[i as usize].ele == member)
            .ok()?;
        let (idx, _) = slot.remove();
        let score = self.sl.n(idx).score;
        self.sl.delete(score, member);
        Some(score)
    }

    /// Moves a present member from score `old` to `new`.
    fn rescore(&mut self, member: &[u8], old: f64, new: f64) {
        let h = self.hash(member);
        let nodes = &self.sl.nodes;
        let Some(slot) = self
            .index
            .find_mut(h, |&i| &*nodes[i as usize].ele == member)
        else {
            return;
        };
        if let Some(ele) = self.sl.delete(old, member) {
            *slot = self.sl.insert(new, ele);
        }
    }
}

#[derive(Clone, Debug)]
enum Repr {
    Pack(Vec<(f64, SmallBytes)>),
    Full(Box<Full>),
}

/// A sorted set.
#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
    /// Total member bytes (for an O(1) memory estimate).
    bytes: usize,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            repr: Repr::Pack(Vec::new()),
            bytes: 0,
        }
    }
}

/// Outcome of [`ZSet::add`] (zsetAdd's out flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    /// A new member.
    Added(f64),
    /// An existing member's score changed.
    Updated(f64),
    /// Nothing changed (but the element was "processed" when the score is given).
    Same(f64),
    /// A condition (NX/XX/GT/LT) prevented the operation.
    Nop,
    /// INCR produced NaN.
    Nan,
}

/// ZADD condition flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// A score interval (zrangespec).
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

/// One end of a lex interval.
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    /// `-`
    Min,
    /// `+`
    Max,
    /// `[x` (true) or `(x` (false).
    Val(Vec<u8>, bool),
}

impl ZSet {
    /// An empty packed set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set built from elements already sorted by (score, member) with unique
    /// members, encoded for its size (zsetConvertToListpackIfNeeded).
    pub fn from_sorted(items: Vec<(f64, Vec<u8>)>, lim: Limits) -> Self {
        let pack = items.len() <= lim.entries && items.iter().all(|(_, m)| m.len() <= lim.value);
        let items: Vec<(f64, SmallBytes)> = items
            .into_iter()
            .map(|(s, m)| (if pack { s + 0.0 } else { s }, SmallBytes::from_vec(m)))
            .collect();
        let bytes = items.iter().map(|(_, m)| m.len()).sum();
        let mut z = ZSet {
            repr: Repr::Pack(items),
            bytes,
        };
        if !pack {
            z.convert_full();
        }
        z
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(v) => v.len(),
            Repr::Full(f) => f.sl.len,
        }
    }

    /// True when empty (an empty zset is never stored).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Full(_) => "skiplist",
        }
    }

    /// True in the full (skiplist) form.
    pub fn is_full(&self) -> bool {
        matches!(self.repr, Repr::Full(_))
    }

    /// Approximate heap bytes owned.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(v) => v.capacity() * std::mem::size_of::<(f64, SmallBytes)>() + self.bytes,
            // Nodes (about 4/3 levels each on average) plus the map, and every
            // member twice (node and map key).
            Repr::Full(f) => {
                f.sl.nodes.capacity() * (std::mem::size_of::<Node>() + 11)
                    + f.index.capacity() * 5
                    + self.bytes
            }
        }
    }

    /// Converts to the full form.
    pub fn convert_full(&mut self) {
        if let Repr::Pack(v) = &mut self.repr {
            let items = std::mem::take(v);
            let mut f = Full::new(items.len());
            for (s, m) in items {
                f.insert(s, m);
            }
            self.repr = Repr::Full(Box::new(f));
        }
    }

    /// Score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(v) => v.iter().find(|(_, m)| &**m == member).map(|(s, _)| *s),
            Repr::Full(f) => f.find(member).map(|i| f.sl.n(i).score),
        }
    }

    /// Inserts a member known to be absent.
    fn insert_new(&mut self, score: f64, member: &[u8], lim: Limits) {
        self.bytes += member.len();
        if let Repr::Pack(v) = &self.repr
            && (v.len() + 1 > lim.entries || member.len() > lim.value)
        {
            self.convert_full();
        }
        match &mut self.repr {
            Repr::Pack(v) => {
                // The packed form keeps scores as text, where -0 reads back as 0.
                let score = score + 0.0;
                let at = v.partition_point(|(s, m)| less(*s, m, score, member));
                v.insert(at, (score, SmallBytes::new(member)));
            }
            Repr::Full(f) => f.insert(score, SmallBytes::new(member)),
        }
    }

    /// Changes the score of a present member from `old` to `new`.
    fn update(&mut self, member: &[u8], old: f64, new: f64) {
        match &mut self.repr {
            Repr::Pack(v) => {
                let at = v
                    .iter()
                    .position(|(_, m)| &**m == member)
                    .expect("member present");
                let (_, m) = v.remove(at);
                let new = new + 0.0;
                let to = v.partition_point(|(s, x)| less(*s, x, new, member));
                v.insert(to, (new, m));
            }
            Repr::Full(f) => f.rescore(member, old, new),
        }
    }

    /// zsetAdd: adds or updates `member` following the flags.
    pub fn add(&mut self, score: f64, member: &[u8], fl: AddFlags, lim: Limits) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::Nan;
        }
        match self.score(member) {
            Some(cur) => {
                if fl.nx {
                    return AddOutcome::Nop;
                }
                let mut score = score;
                if fl.incr {
                    score += cur;
                    if score.is_nan() {
                        return AddOutcome::Nan;
                    }
                }
                if (fl.lt && score >= cur) || (fl.gt && score <= cur) {
                    return AddOutcome::Nop;
                }
                if score != cur {
                    self.update(member, cur, score);
                    AddOutcome::Updated(score)
                } else {
                    AddOutcome::Same(score)
                }
            }
            None if !fl.xx => {
                self.insert_new(score, member, lim);
                AddOutcome::Added(score)
            }
            None => AddOutcome::Nop,
        }
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let found = match &mut self.repr {
            Repr::Pack(v) => match v.iter().position(|(_, m)| &**m == member) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Repr::Full(f) => f.remove(member).is_some(),
        };
        if found {
            self.bytes -= member.len();
        }
        found
    }

    /// Number of leading elements (in order) for which the monotone `pred` holds.
    pub fn prefix_len(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(v) => v.partition_point(|(s, m)| pred(*s, m)),
            Repr::Full(f) => f.sl.prefix_len(pred),
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Pack(v) => v.iter().position(|(_, m)| &**m == member),
            Repr::Full(f) => {
                let s = f.sl.n(f.find(member)?).score;
                Some(f.sl.prefix_len(|s2, m2| less(s2, m2, s, member)))
            }
        }
    }

    /// Calls `f` for ranks `lo..hi` (ascending, or descending when `rev`).
    pub fn for_ranks(&self, lo: usize, hi: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let hi = hi.min(self.len());
        if lo >= hi {
            return;
        }
        match &self.repr {
            Repr::Pack(v) => {
                if rev {
                    v[lo..hi].iter().rev().for_each(|(s, m)| f(m, *s));
                } else {
                    v[lo..hi].iter().for_each(|(s, m)| f(m, *s));
                }
            }
            Repr::Full(full) => {
                let sl = &full.sl;
                let mut x = sl.by_rank(if rev { hi - 1 } else { lo });
                for _ in lo..hi {
                    if x == NIL {
                        break;
                    }
                    let n = sl.n(x);
                    f(&n.ele, n.score);
                    x = if rev { n.back } else { n.lv(0).fwd };
                }
            }
        }
    }

    /// Elements of ranks `lo..hi` (owned), in the given direction.
    pub fn collect_ranks(&self, lo: usize, hi: usize, rev: bool) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(hi.saturating_sub(lo).min(self.len()));
        self.for_ranks(lo, hi, rev, |m, s| out.push((m.to_vec(), s)));
        out
    }

    /// Element at rank `r`.
    pub fn at_rank(&self, r: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Pack(v) => v.get(r).map(|(s, m)| (&**m, *s)),
            Repr::Full(f) => {
                let x = f.sl.by_rank(r);
                (x != NIL).then(|| (&*f.sl.n(x).ele, f.sl.n(x).score))
            }
        }
    }

    /// Removes the elements of ranks `lo..hi`; returns how many.
    pub fn remove_ranks(&mut self, lo: usize, hi: usize) -> usize {
        let hi = hi.min(self.len());
        if lo >= hi {
            return 0;
        }
        match &mut self.repr {
            Repr::Pack(v) => {
                self.bytes -= v.drain(lo..hi).map(|(_, m)| m.len()).sum::<usize>();
            }
            Repr::Full(_) => {
                let victims = self.collect_ranks(lo, hi, false);
                if let Repr::Full(f) = &mut self.repr {
                    for (m, _) in victims {
                        self.bytes -= m.len();
                        f.remove(&m);
                    }
                }
            }
        }
        hi - lo
    }

    /// Ranks `lo..hi` of the elements inside a score range.
    pub fn score_ranks(&self, r: &ScoreRange) -> (usize, usize) {
        let lo = self.prefix_len(|s, _| if r.minex { s <= r.min } else { s < r.min });
        let hi = self.prefix_len(|s, _| if r.maxex { s < r.max } else { s <= r.max });
        (lo, hi.max(lo))
    }

    /// Ranks `lo..hi` of the elements inside a lex range.
    pub fn lex_ranks(&self, min: &LexBound, max: &LexBound) -> (usize, usize) {
        let lo = self.prefix_len(|_, m| !lex_gte_min(m, min));
        let hi = self.prefix_len(|_, m| lex_lte_max(m, max));
        (lo, hi.max(lo))
    }

    /// Ranks `lo..hi` of a lex range read forward (or backward when `rev`),
    /// the way Redis walks it: an empty answer unless the last member is
    /// `>= min` and the first `<= max`; then from the first member `>= min`
    /// onward while `<= max` (backward: from the last member `<= max` while
    /// `>= min`). The same as [`ZSet::lex_ranks`] when all scores are equal;
    /// on a packed set with mixed scores it also matches Redis's listpack scan.
    pub fn lex_ranks_dir(&self, min: &LexBound, max: &LexBound, rev: bool) -> (usize, usize) {
        let n = self.len();
        if n == 0 || lex_range_empty(min, max) {
            return (0, 0);
        }
        let (Some((first, _)), Some((last, _))) = (self.at_rank(0), self.at_rank(n - 1)) else {
            return (0, 0);
        };
        if !lex_gte_min(last, min) || !lex_lte_max(first, max) {
            return (0, 0);
        }
        match &self.repr {
            Repr::Pack(v) => {
                if rev {
                    let Some(end) = v.iter().rposition(|(_, m)| lex_lte_max(m, max)) else {
                        return (0, 0);
                    };
                    let run = v[..=end]
                        .iter()
                        .rev()
                        .take_while(|(_, m)| lex_gte_min(m, min))
                        .count();
                    (end + 1 - run, end + 1)
                } else {
                    let Some(lo) = v.iter().position(|(_, m)| lex_gte_min(m, min)) else {
                        return (0, 0);
                    };
                    let run = v[lo..]
                        .iter()
                        .take_while(|(_, m)| lex_lte_max(m, max))
                        .count();
                    (lo, lo + run)
                }
            }
            Repr::Full(_) => self.lex_ranks(min, max),
        }
    }

    /// Every element in ascending order.
    pub fn iter_all(&self, mut f: impl FnMut(&[u8], f64)) {
        self.for_ranks(0, self.len(), false, &mut f);
    }

    /// Visits every element in an arbitrary order that is stable for a given
    /// set of members (member hash order), for ZSCAN.
    pub fn pairs(&self) -> Vec<(&[u8], f64)> {
        match &self.repr {
            Repr::Pack(v) => v.iter().map(|(s, m)| (&**m, *s)).collect(),
            Repr::Full(f) => f
                .index
                .iter()
                .map(|&i| (&*f.sl.n(i).ele, f.sl.n(i).score))
                .collect(),
        }
    }

    /// Checks the structure's invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        match &self.repr {
            Repr::Pack(v) => {
                assert_eq!(self.bytes, v.iter().map(|(_, m)| m.len()).sum::<usize>());
                for w in v.windows(2) {
                    assert!(less(w[0].0, &w[0].1, w[1].0, &w[1].1));
                }
            }
            Repr::Full(f) => {
                let sl = &f.sl;
                assert_eq!(sl.len, f.index.len());
                let mut x = sl.fwd(HEAD, 0);
                let mut prev = NIL;
                let mut n = 0;
                while x != NIL {
                    let node = sl.n(x);
                    assert_eq!(node.back, prev);
                    assert_eq!(f.find(&node.ele), Some(x));
                    if prev != NIL {
                        let p = sl.n(prev);
                        assert!(less(p.score, &p.ele, node.score, &node.ele));
                    }
                    prev = x;
                    x = node.lv(0).fwd;
                    n += 1;
                }
                assert_eq!(sl.tail, prev);
                assert_eq!(n, sl.len);
                assert_eq!(
                    self.bytes,
                    f.index.iter().map(|&i| sl.n(i).ele.len()).sum::<usize>()
                );
                // Spans: walking each level sums to the element's rank.
                for i in 0..sl.level {
                    let mut x = HEAD;
                    let mut r = 0usize;
                    loop {
                        let f = sl.fwd(x, i);
                        if f == NIL {
                            break;
                        }
                        r += sl.n(x).lv(i).span as usize;
                        assert_eq!(sl.by_rank(r - 1), f);
                        x = f;
                    }
                }
            }
        }
    }
}

/// True when no member can lie between the bounds (zslIsInLexRange's test).
pub fn lex_range_empty(min: &LexBound, max: &LexBound) -> bool {
    use std::cmp::Ordering::*;
    let key = |b: &LexBound| match b {
        LexBound::Min => 0,
        LexBound::Val(..) => 1,
        LexBound::Max => 2,
    };
    let cmp = match (min, max) {
        (LexBound::Val(a, _), LexBound::Val(b, _)) => a.cmp(b),
        _ => key(min).cmp(&key(max)),
    };
    let ex = |b: &LexBound| matches!(b, LexBound::Val(_, false));
    cmp == Greater || (cmp == Equal && (ex(min) || ex(max)))
}

/// `m >= min` for a lex bound.
pub fn lex_gte_min(m: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Val(v, incl) => {
            if *incl {
                m >= &v[..]
            } else {
                m > &v[..]
            }
        }
    }
}

/// `m <= max` for a lex bound.
pub fn lex_lte_max(m: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Val(v, incl) => {
            if *incl {
                m <= &v[..]
            } else {
                m < &v[..]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const BIG: Limits = Limits {
        entries: 1 << 30,
        value: 1 << 30,
    };

    fn flags() -> AddFlags {
        AddFlags::default()
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn model_sorted(m: &HashMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<(Vec<u8>, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
        v.sort_by(|a, b| {
            a.1.partial_cmp(&b.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.0.cmp(&b.0))
        });
        v
    }

    fn random_ops(lim: Limits, seed: u64) {
        let mut rng = Rng(seed);
        let mut z = ZSet::new();
        let mut model: HashMap<Vec<u8>, f64> = HashMap::new();
        for step in 0..3000 {
            let m = format!("m{}", rng.next() % 200).into_bytes();
            match rng.next() % 6 {
                0..=2 => {
                    let s = (rng.next() % 50) as f64 - 25.0;
                    z.add(s, &m, flags(), lim);
                    model.insert(m.clone(), s);
                }
                3 => {
                    assert_eq!(z.remove(&m), model.remove(&m).is_some());
                }
                4 => {
                    let want = model_sorted(&model);
                    let lo = (rng.next() % 210) as usize;
                    let hi = lo + (rng.next() % 20) as usize;
                    let got = z.collect_ranks(lo, hi, false);
                    let exp: Vec<_> = want.iter().skip(lo).take(hi - lo).cloned().collect();
                    assert_eq!(got, exp);
                    let rev = z.collect_ranks(lo, hi, true);
                    let mut exp2 = exp.clone();
                    exp2.reverse();
                    assert_eq!(rev, exp2);
                }
                _ => {
                    let want = model_sorted(&model);
                    let r = ScoreRange {
                        min: (rng.next() % 50) as f64 - 25.0,
                        max: (rng.next() % 50) as f64 - 25.0,
                        minex: rng.next().is_multiple_of(2),
                        maxex: rng.next().is_multiple_of(2),
                    };
                    let (lo, hi) = z.score_ranks(&r);
                    let exp: Vec<_> = want
                        .iter()
                        .filter(|(_, s)| {
                            (if r.minex { *s > r.min } else { *s >= r.min })
                                && (if r.maxex { *s < r.max } else { *s <= r.max })
                        })
                        .cloned()
                        .collect();
                    assert_eq!(z.collect_ranks(lo, hi, false), exp);
                    if let Some((k, _)) = want.get(want.len() / 2) {
                        assert_eq!(z.rank(k), Some(want.len() / 2));
                    }
                }
            }
            if step % 97 == 0 {
                z.check();
                assert_eq!(z.len(), model.len());
                for (k, s) in &model {
                    assert_eq!(z.score(k), Some(*s));
                }
            }
        }
        z.check();
        assert_eq!(z.len(), model.len());
    }

    #[test]
    fn random_against_model_full() {
        let lim = Limits {
            entries: 0,
            value: 64,
        };
        random_ops(lim, 0x1234_5678);
        random_ops(lim, 0xdead_beef);
    }

    #[test]
    fn random_against_model_pack() {
        random_ops(BIG, 0x4242);
    }

    #[test]
    fn converts_on_count_and_length_never_back() {
        let lim = Limits {
            entries: 3,
            value: 5,
        };
        let mut z = ZSet::new();
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            z.add(i as f64, m.as_bytes(), flags(), lim);
        }
        assert_eq!(z.encoding(), "listpack");
        z.add(9.0, b"d", flags(), lim);
        assert_eq!(z.encoding(), "skiplist");
        z.remove(b"d");
        z.remove(b"c");
        assert_eq!(z.encoding(), "skiplist");
        z.check();
        let mut z = ZSet::new();
        z.add(1.0, b"abcde", flags(), lim);
        assert_eq!(z.encoding(), "listpack");
        z.add(1.0, b"abcdef", flags(), lim);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.rank(b"abcdef"), Some(1));
        // Built whole: encoding from the final size.
        let z = ZSet::from_sorted(vec![(1.0, b"x".to_vec()), (2.0, b"y".to_vec())], lim);
        assert_eq!(z.encoding(), "listpack");
        let z = ZSet::from_sorted(vec![(1.0, b"toolong".to_vec())], lim);
        assert_eq!(z.encoding(), "skiplist");
        z.check();
    }

    #[test]
    fn add_flags_and_nan() {
        let mut z = ZSet::new();
        let fl = |nx, xx, gt, lt, incr| AddFlags {
            nx,
            xx,
            gt,
            lt,
            incr,
        };
        assert_eq!(z.add(1.0, b"a", flags(), BIG), AddOutcome::Added(1.0));
        assert_eq!(
            z.add(5.0, b"a", fl(true, false, false, false, false), BIG),
            AddOutcome::Nop
        );
        assert_eq!(
            z.add(5.0, b"b", fl(false, true, false, false, false), BIG),
            AddOutcome::Nop
        );
        assert_eq!(
            z.add(0.0, b"a", fl(false, false, true, false, false), BIG),
            AddOutcome::Nop
        );
        assert_eq!(
            z.add(2.0, b"a", fl(false, false, false, false, true), BIG),
            AddOutcome::Updated(3.0)
        );
        assert_eq!(
            z.add(f64::INFINITY, b"c", flags(), BIG),
            AddOutcome::Added(f64::INFINITY)
        );
        assert_eq!(
            z.add(
                f64::NEG_INFINITY,
                b"c",
                fl(false, false, false, false, true),
                BIG
            ),
            AddOutcome::Nan
        );
        assert_eq!(z.add(-0.0, b"z", flags(), BIG), AddOutcome::Added(-0.0));
        assert_eq!(z.add(0.0, b"z", flags(), BIG), AddOutcome::Same(0.0));
    }

    #[test]
    fn lex_walk_like_redis() {
        let v = |s: &str, i| LexBound::Val(s.as_bytes().to_vec(), i);
        assert!(lex_range_empty(&LexBound::Max, &LexBound::Min));
        assert!(lex_range_empty(&v("b", true), &v("a", true)));
        assert!(lex_range_empty(&v("a", false), &v("a", true)));
        assert!(!lex_range_empty(&v("a", true), &v("a", true)));
        assert!(!lex_range_empty(&LexBound::Min, &LexBound::Min));
        let mut z = ZSet::new();
        for (s, m) in [(1.0, "d"), (2.0, "a"), (3.0, "c"), (4.0, "b"), (5.0, "e")] {
            z.add(s, m.as_bytes(), AddFlags::default(), BIG);
        }
        // The first member is "d": nothing can be <= "c".
        assert_eq!(z.lex_ranks_dir(&v("b", true), &v("c", true), false), (0, 0));
        assert_eq!(
            z.lex_ranks_dir(&v("a", true), &LexBound::Max, false),
            (0, 5)
        );
        assert_eq!(z.lex_ranks_dir(&v("a", false), &v("z", true), true), (2, 5));
        assert_eq!(
            z.lex_ranks_dir(&v("e", true), &v("a", false), false),
            (0, 0)
        );
    }

    #[test]
    fn lex_ranges() {
        let mut z = ZSet::new();
        for m in ["a", "b", "c", "d", "e"] {
            z.add(0.0, m.as_bytes(), flags(), BIG);
        }
        let v = |s: &str, i| LexBound::Val(s.as_bytes().to_vec(), i);
        assert_eq!(z.lex_ranks(&LexBound::Min, &LexBound::Max), (0, 5));
        assert_eq!(z.lex_ranks(&v("b", true), &v("d", false)), (1, 3));
        assert_eq!(z.lex_ranks(&v("b", false), &v("d", true)), (2, 4));
        assert_eq!(z.lex_ranks(&LexBound::Max, &LexBound::Min), (5, 5));
        z.convert_full();
        assert_eq!(z.lex_ranks(&v("b", true), &v("d", false)), (1, 3));
        assert_eq!(z.remove_ranks(1, 3), 2);
        z.check();
        assert_eq!(
            z.collect_ranks(0, 10, false)
                .into_iter()
                .map(|x| x.0)
                .collect::<Vec<_>>(),
            vec![b"a".to_vec(), b"d".to_vec(), b"e".to_vec()]
        );
    }
}
