//! One logical database of one shard.
//!
//! ```text
//!  Db ── slots[local]: 8 bytes ──► [ chunk | chunk | ... ]   (see `table`)
//!        counts[local]: keys, TTLs      │ 64 bytes: 7 tags, 7 node pointers
//!        local = slot / nshards         ▼
//!  Node = one allocation: [ Meta (LRU/LFU) | key length | Entry { value, expire } | key ]
//! ```
//!
//! Keys are grouped by hash slot. A slot is the unit SCAN returns whole, so a
//! cursor `(slot)` stays valid across table resizes and a full iteration returns
//! every key present throughout. Expiry is a field of the entry; the active cycle
//! walks slots that hold keys with a TTL.
//!
//! A lookup reads three cache lines: the slot's directory entry (16384 slots
//! take 128 KiB, which stays in cache), the key's home chunk (its tags and node
//! pointers) and the node. For a pipelined batch, [`Db::prefetch`] and
//! [`Db::prefetch_node`] start the chunk and node misses of every key before
//! the commands execute, so they overlap.
//!
//! Memory: a chunk place is 9 bytes (a pointer and a tag) and tables grow at
//! 80% full by factors of 1.33 to 2, so at 1M keys (about 61 a slot) the tables
//! and directory cost ~14 bytes per key, and a 16-byte key with a 32-byte value
//! takes ~102 bytes in all (Redis 7.0: 136), as counted by the allocator
//! (`tests/keyspace_memory.rs`).

use super::bytes::SmallBytes;
use super::value::Value;
use crate::storage::slot::{SLOTS, key_slot};
use node::Node;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use table::{Pos, SlotTable};

mod table;

/// Process-wide hash seed, randomised at startup.
pub static HASH_SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

/// Zero-sized hasher builder: one seed for the whole process.
#[derive(Clone, Copy, Default)]
pub struct KeyHasher;

impl BuildHasher for KeyHasher {
    type Hasher = foldhash::fast::FoldHasher;
    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        foldhash::fast::FixedState::with_seed(HASH_SEED.load(Ordering::Relaxed)).build_hasher()
    }
}

/// A key's value and TTL: 32 bytes. Its access metadata ([`Meta`]) and the key
/// itself live beside it in the key's node.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means none.
    pub expire: u64,
}

impl Entry {
    /// An entry with no TTL.
    pub fn new(value: Value) -> Self {
        Entry { value, expire: 0 }
    }
    /// A fresh entry holding a copy of this one's value and TTL (COPY).
    pub fn duplicate(&self) -> Self {
        self.clone()
    }
    /// True when the entry has a TTL that has passed at `now`.
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire != 0 && self.expire <= now
    }
}

/// Access metadata of a key in 4 bytes: the LRU clock of the last access (low 24
/// bits, seconds, like Redis's `LRU_BITS`) and the logarithmic LFU counter (high
/// 8 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta(u32);

/// Mask of the LRU clock inside [`Meta`].
const LRU_MASK: u32 = (1 << 24) - 1;

impl Meta {
    /// Metadata of a key created now.
    pub fn fresh() -> Self {
        Meta::pack(lru_clock(), LFU_INIT_VAL)
    }
    #[inline]
    fn pack(clock: u32, freq: u8) -> Self {
        Meta((clock & LRU_MASK) | (freq as u32) << 24)
    }
    /// LRU clock (seconds, 24 bits) of the last access.
    #[inline]
    pub fn lru(self) -> u32 {
        self.0 & LRU_MASK
    }
    /// Raw LFU counter (not decayed).
    #[inline]
    pub fn freq(self) -> u8 {
        (self.0 >> 24) as u8
    }
    /// Seconds since the last access (OBJECT IDLETIME).
    pub fn idle_secs(self) -> u32 {
        lru_clock().wrapping_sub(self.lru()) & LRU_MASK
    }
    /// The LFU counter decayed by the minutes since the last access, without
    /// updating anything (what OBJECT FREQ reports). `decay_minutes` 0 disables decay.
    pub fn lfu_decayed(self, decay_minutes: u64) -> u8 {
        self.lfu_decayed_at(lru_clock(), decay_minutes)
    }
    fn lfu_decayed_at(self, clock: u32, decay_minutes: u64) -> u8 {
        let freq = self.freq();
        if decay_minutes == 0 {
            return freq;
        }
        let idle_min = (clock.wrapping_sub(self.lru()) & LRU_MASK) as u64 / 60;
        let periods = idle_min / decay_minutes;
        if periods >= freq as u64 {
            0
        } else {
            freq - periods as u8
        }
    }
    /// Records an access: decays then logarithmically increments the LFU
    /// counter, and stamps the LRU clock. Integer arithmetic only: the counter
    /// grows when a 32-bit random number falls under `2^32 / (base * factor + 1)`,
    /// Redis's probability `1 / (base * lfu-log-factor + 1)`.
    #[inline]
    pub fn touch(&mut self) {
        let s = super::evict::settings();
        let clock = lru_clock();
        let mut c = self.lfu_decayed_at(clock, s.lfu_decay_time);
        if c < 255 {
            let base = c.saturating_sub(LFU_INIT_VAL) as u64;
            let factor = s.lfu_log_factor;
            if base == 0
                || (lfu_rand() as u64)
                    < (1u64 << 32) / base.saturating_mul(factor).saturating_add(1)
            {
                c += 1;
            }
        }
        *self = Meta::pack(clock, c);
    }
    /// Metadata with a given LRU clock and counter (tests).
    #[cfg(test)]
    pub fn for_test(clock: u32, freq: u8) -> Self {
        Meta::pack(clock, freq)
    }
}

/// Initial LFU counter of a new key (Redis's `LFU_INIT_VAL`), so new keys are
/// not evicted before they have a chance to be accessed.
pub const LFU_INIT_VAL: u8 = 5;

/// A uniform 32-bit number from a per-thread xorshift generator.
#[inline]
fn lfu_rand() -> u32 {
    // Each thread starts from its own seed, so shards do not draw the same
    // sequence (keys on two cores would otherwise grow in lockstep).
    static SEEDS: std::sync::atomic::AtomicU64 =
        std::sync::atomic::AtomicU64::new(0x2545_f491_4f6c_dd1d);
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(
            SEEDS.fetch_add(0x9e37_79b9_7f4a_7c15, std::sync::atomic::Ordering::Relaxed) | 1,
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    })
}

thread_local! {
    /// Last wall-clock reading for the LRU clock: (Unix ms, clock ticks then,
    /// whether this thread's loop refreshes it every turn).
    static LRU_NOW: std::cell::Cell<(u64, u64, bool)> = const { std::cell::Cell::new((0, 0, false)) };
}

/// How long a wall-clock reading serves the LRU clock, in microseconds. The
/// clock counts seconds, so 100 ms of staleness cannot matter; reading the
/// wall clock once per key access was visible in profiles (Redis also keeps
/// a cached LRU clock).
const LRU_REFRESH_US: u64 = 100_000;

/// Refreshes this thread's LRU clock when its reading is [`LRU_REFRESH_US`]
/// old; returns the reading in Unix ms.
fn refresh_lru(kept: bool) -> u64 {
    use crate::metrics::clock;
    let t = clock::ticks();
    let (ms, at, _) = LRU_NOW.with(|c| c.get());
    if ms != 0 && clock::ticks_to_us(t.wrapping_sub(at)) < LRU_REFRESH_US {
        if kept {
            LRU_NOW.with(|c| c.set((ms, at, true)));
        }
        return ms;
    }
    let ms = crate::now_ms();
    LRU_NOW.with(|c| c.set((ms, t, kept)));
    ms
}

/// Called by a core's loop once per turn: from then on, key accesses on this
/// thread read the LRU clock without a clock read of their own.
pub fn tick_lru_clock() {
    refresh_lru(true);
}

/// Current LRU clock (seconds, wrapping at 24 bits like Redis's).
#[inline]
pub fn lru_clock() -> u32 {
    let (ms, _, kept) = LRU_NOW.with(|c| c.get());
    let ms = if kept { ms } else { refresh_lru(false) };
    (ms / 1000) as u32 & LRU_MASK
}

/// Hash of a key in the tables.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    KeyHasher.hash_one(key)
}

thread_local! {
    /// The key of the command running on this thread, with its [`KeyHint`]
    /// already computed by the batch's prefetch stage: (address, length,
    /// hint). Address 0: none.
    static HINT_MEMO: std::cell::Cell<(usize, usize, KeyHint)> =
        const { std::cell::Cell::new((0, 0, NO_HINT)) };
}

const NO_HINT: KeyHint = KeyHint {
    slot: 0,
    local: 0,
    shards: 0,
    hash: 0,
};

/// While alive, lookups of exactly `key` (the same bytes at the same address)
/// on this thread reuse `hint` instead of hashing the key again. The bytes
/// cannot change or move while the scope borrows them; dropping the scope
/// (also when a task is cancelled) forgets the hint.
pub struct HintScope<'a>(std::marker::PhantomData<&'a [u8]>);

impl<'a> HintScope<'a> {
    /// Remembers `hint`, computed for `key`, until the scope drops.
    #[inline]
    pub fn new(key: &'a [u8], hint: KeyHint) -> Self {
        HINT_MEMO.with(|m| m.set((key.as_ptr() as usize, key.len(), hint)));
        HintScope(std::marker::PhantomData)
    }
}

impl Drop for HintScope<'_> {
    #[inline]
    fn drop(&mut self) {
        HINT_MEMO.with(|m| m.set((0, 0, NO_HINT)));
    }
}

/// Where a key lives in a shard's databases: its local slot and its hash.
///
/// The prefetch stages of a pipelined batch ([`Db::prefetch`],
/// [`Db::prefetch_node`]) take it so the key is hashed once for both. It
/// depends only on the key and the shard count, so one hint serves every
/// database of a shard; a hint used with the wrong database or shard only
/// makes its prefetches useless.
/// Most keys [`Db::prefetch_keys`] has in flight at once.
pub const PREFETCH_KEYS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyHint {
    /// Global hash slot.
    slot: u16,
    /// Index of the slot among its shard's (slot / shards).
    local: u16,
    /// Shard count the hint was computed for.
    shards: u16,
    hash: u64,
}

/// The hint a live [`HintScope`] holds for exactly these bytes (the same
/// address and length), if any.
#[inline]
pub fn remembered(key: &[u8]) -> Option<KeyHint> {
    let (p, n, h) = HINT_MEMO.with(|m| m.get());
    (p == key.as_ptr() as usize && n == key.len() && p != 0).then_some(h)
}

/// A key's hash slot, taken from a live [`HintScope`] for these bytes when
/// there is one (the slot does not depend on the shard count).
#[inline]
pub fn slot_of(key: &[u8]) -> u16 {
    remembered(key).map_or_else(|| key_slot(key), |h| h.slot)
}

/// Asks the CPU to start loading the cache line holding `p` into every cache
/// level. Only a hint: nothing is read architecturally, and a prefetch never
/// faults. Callers pass addresses inside live allocations.
#[inline(always)]
fn prefetch_line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` belongs to SSE, which every x86_64 CPU has; it does
    // not access memory architecturally and cannot fault, whatever `p` is.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Key and TTL counts of one slot, kept beside the directory of tables so
/// lookups do not load them.
#[derive(Default, Clone, Copy)]
struct SlotCounts {
    len: u32,
    ttl: u32,
}

/// Keys of one hash slot visited by SCAN.
#[derive(Debug, Default)]
pub struct ScanSlot {
    /// Global slot number.
    pub slot: usize,
    /// Live keys in the slot (before filtering).
    pub seen: usize,
    /// Keys that passed the MATCH/TYPE filter.
    pub keys: Vec<Vec<u8>>,
}

/// One shard's answer to a SCAN call (see [`Db::scan`]).
#[derive(Debug, Default)]
pub struct ScanPart {
    /// Visited non-empty slots, in slot order.
    pub slots: Vec<ScanSlot>,
    /// Global slot just past the last visited one (`SLOTS` when exhausted).
    pub bound: usize,
}

/// Merges the shards' SCAN parts for a call that started at `cursor`.
///
/// Every slot in `[cursor, min(bound))` has been examined by its owner, so the
/// slots are taken in global order, each whole, until `count` keys are seen.
/// Returns the next cursor (0 when the iteration is complete) and the keys.
pub fn merge_scan(parts: Vec<ScanPart>, count: usize) -> (usize, Vec<Vec<u8>>) {
    let bound = parts.iter().map(|p| p.bound).min().unwrap_or(SLOTS);
    let mut slots: Vec<ScanSlot> = parts
        .into_iter()
        .flat_map(|p| p.slots)
        .filter(|s| s.slot < bound)
        .collect();
    slots.sort_unstable_by_key(|s| s.slot);
    let mut next = bound;
    let mut seen = 0;
    let mut keys = Vec::new();
    for s in slots {
        seen += s.seen;
        keys.extend(s.keys);
        if seen >= count {
            next = s.slot + 1;
            break;
        }
    }
    if next >= SLOTS {
        next = 0;
    }
    (next, keys)
}

/// Counters a database keeps for INFO.
#[derive(Default, Clone, Copy, Debug)]
pub struct DbEvents {
    /// Keys removed because their TTL passed.
    pub expired: u64,
    /// Keys removed to keep memory under `maxmemory`.
    pub evicted: u64,
}

/// One logical database of a shard.
pub struct Db {
    /// This database's index (SELECT number) on its shard.
    pub index: usize,
    /// The directory: one 8-byte table per local slot.
    slots: Box<[SlotTable]>,
    /// Key and TTL counts per local slot.
    counts: Box<[SlotCounts]>,
    nshards: usize,
    /// `ceil(2^32 / nshards)`: `slot * slot_div >> 32` is `slot / nshards`
    /// for every slot, without a division per lookup.
    slot_div: u64,
    keys: usize,
    expires: usize,
    /// Local slots with at least one TTL key, and each slot's position in it.
    ttl_slots: Vec<u32>,
    ttl_pos: Vec<u32>,
    /// Active-expiry cursor per slot (entries to skip).
    expire_cursor: usize,
    /// Bitmap of local slots holding at least one key, so whole-keyspace walks
    /// (SCAN, RANDOMKEY) skip empty slots a word at a time.
    used: Vec<u64>,
    /// Event counters.
    pub events: DbEvents,
    /// Keys clients are blocked on, and those written since last served.
    watch: Option<Box<Watch>>,
    /// Keys under WATCH (MULTI/EXEC optimistic locking).
    cas: Option<Box<Cas>>,
    /// Unix ms until which clients are paused (CLIENT PAUSE): until then
    /// an expired key reads as absent but is not deleted.
    pub(crate) pause_end: Arc<AtomicU64>,
}

/// One client's WATCH on one key.
struct CasWatch {
    client: u64,
    dirty: Arc<AtomicBool>,
    /// The key had expired (was logically absent) when WATCH was called.
    expired: bool,
}

/// The WATCHed keys of one database and who watches them.
#[derive(Default)]
struct Cas {
    keys: hashbrown::HashMap<Vec<u8>, Vec<CasWatch>>,
}

/// Keys with blocked clients in one database.
#[derive(Default)]
struct Watch {
    keys: hashbrown::HashSet<Vec<u8>>,
    ready: Vec<Vec<u8>>,
}

const NO_POS: u32 = u32::MAX;

impl Db {
    /// An empty database for a shard among `nshards`.
    pub fn new(nshards: usize) -> Self {
        let n = crate::storage::slot::SLOTS.div_ceil(nshards);
        let mut slots = Vec::with_capacity(n);
        slots.resize_with(n, SlotTable::default);
        Db {
            index: 0,
            slots: slots.into_boxed_slice(),
            counts: vec![SlotCounts::default(); n].into_boxed_slice(),
            nshards,
            slot_div: (1u64 << 32).div_ceil(nshards as u64),
            keys: 0,
            expires: 0,
            ttl_slots: Vec::new(),
            ttl_pos: vec![NO_POS; n],
            expire_cursor: 0,
            used: vec![0; n.div_ceil(64)],
            events: DbEvents::default(),
            watch: None,
            cas: None,
            pause_end: Default::default(),
        }
    }

    /// Local index of a global slot.
    #[inline]
    fn local_index(&self, slot: u16) -> usize {
        ((slot as u64 * self.slot_div) >> 32) as usize
    }

    /// The hint remembered by a live [`HintScope`] for exactly this key.
    #[inline]
    fn memo(&self, key: &[u8]) -> Option<KeyHint> {
        remembered(key).filter(|h| h.shards as usize == self.nshards)
    }

    #[inline]
    fn local(&self, key: &[u8]) -> usize {
        match self.memo(key) {
            Some(h) => h.local as usize,
            None => self.local_index(key_slot(key)),
        }
    }

    /// Local slot and hash of a key.
    #[inline]
    fn place(&self, key: &[u8]) -> (usize, u64) {
        match self.memo(key) {
            Some(h) => (h.local as usize, h.hash),
            None => (self.local_index(key_slot(key)), key_hash(key)),
        }
    }

    /// The [`KeyHint`] of a key for this database's shard.
    #[inline]
    pub fn hint(&self, key: &[u8]) -> KeyHint {
        self.hint_in_slot(key_slot(key), key)
    }

    /// The [`KeyHint`] of a key whose hash slot the caller has computed
    /// already (`crate::storage::slot::key_slot`, as routing a key to its shard
    /// does), saving the CRC16.
    #[inline]
    pub fn hint_in_slot(&self, slot: u16, key: &[u8]) -> KeyHint {
        KeyHint {
            slot,
            local: self.local_index(slot) as u16,
            shards: self.nshards as u16,
            hash: key_hash(key),
        }
    }

    /// Prefetch stage 0: starts loading the slot's 8-byte directory entry,
    /// which stage 1 reads. Reads nothing. The directory (8 bytes per slot)
    /// is small, but with many keys the tables' lines push it out of the
    /// nearest caches, and stage 1's read of it was a miss per key.
    #[inline]
    pub fn prefetch_directory(&self, hint: KeyHint) {
        if let Some(t) = self.slots.get(hint.local as usize) {
            prefetch_line(t as *const SlotTable);
        }
    }

    /// Prefetch stage 1: starts loading the table chunk where the key's
    /// lookup begins. Reads only the slot's 8-byte directory entry.
    ///
    /// A pipelined batch of commands hides its lookups' cache misses behind
    /// each other by running the stages over all its keys before executing:
    ///
    /// ```text
    ///  for each key of the batch owned by this shard: h = db.hint(key); db.prefetch_directory(h)
    ///  for each of those hints:                       db.prefetch(h)
    ///  for each of those hints:                       db.prefetch_node(h)
    ///  (optionally, for each key and hint:            db.prefetch_value(key, h))
    ///  execute the commands (their lookups now mostly hit the cache)
    /// ```
    ///
    /// Each stage touches memory its previous stage asked for, so every
    /// stage's misses overlap instead of following each other key by key.
    /// A batch of 16 keys (what `benches/keyspace.rs` measures) prefetches
    /// about 4 KB (a chunk, one or two node lines and a value per key), well
    /// inside the L1 cache; for much longer pipelines, run the stages over
    /// windows of keys rather than the whole read. Stages only read;
    /// writes between them (or a `SELECT` of another database) make some
    /// prefetches useless, never wrong.
    #[inline]
    pub fn prefetch(&self, hint: KeyHint) {
        if let Some(c) = self
            .slots
            .get(hint.local as usize)
            .and_then(|t| t.home_chunk(hint.hash))
        {
            prefetch_line(c);
        }
    }

    /// Prefetch stage 2 (after [`Db::prefetch`] for the whole batch): reads
    /// the key's home chunk and starts loading the node of each place whose
    /// tag matches (usually one: the key's). When no place matches and keys
    /// overflowed the chunk, starts loading the next chunk instead.
    #[inline]
    pub fn prefetch_node(&self, hint: KeyHint) {
        let Some(t) = self.slots.get(hint.local as usize) else {
            return;
        };
        let (candidates, overflowed) = t.home_candidates(hint.hash);
        let mut none = true;
        for n in candidates {
            n.prefetch();
            none = false;
        }
        if none && overflowed {
            t.prefetch_next_chunk(hint.hash);
        }
    }

    /// Optional prefetch stage 3 (after [`Db::prefetch_node`]): finds the key
    /// and starts loading its value's heap part, which a command such as GET
    /// reads next.
    #[inline]
    pub fn prefetch_value(&self, key: &[u8], hint: KeyHint) {
        if let Some(p) = self
            .slots
            .get(hint.local as usize)
            .and_then(|t| t.get(hint.hash, key))
            .and_then(|n| n.entry().value.heap_ptr())
        {
            prefetch_line(p);
        }
    }

    /// Runs prefetch stages 0-2 over the keys of one multi-key command
    /// (MSET, MGET, DEL...), up to [`PREFETCH_KEYS`] at a time, before it
    /// looks them up: their cache misses overlap instead of following one
    /// another. Worth it where the tables are out of the nearest caches.
    pub fn prefetch_keys<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) {
        let mut hints = [None; PREFETCH_KEYS];
        let mut keys = keys.peekable();
        while keys.peek().is_some() {
            let mut n = 0;
            for (h, k) in hints.iter_mut().zip(keys.by_ref()) {
                let hint = self.hint(k);
                self.prefetch_directory(hint);
                *h = Some(hint);
                n += 1;
            }
            for h in hints[..n].iter().flatten() {
                self.prefetch(*h);
            }
            for h in hints[..n].iter().flatten() {
                self.prefetch_node(*h);
            }
        }
    }

    /// Bytes of bookkeeping (what MEMORY STATS calls hash-table overhead):
    /// the main index (the slot directory, its counts and the tables' chunks)
    /// and the TTL index (which slots hold TTLs, and where in that list).
    pub fn overhead(&self) -> (usize, usize) {
        let chunk = std::mem::size_of::<table::Chunk>();
        let chunks: usize = (0..self.slots.len())
            .filter(|&l| self.counts[l].len > 0)
            .map(|l| self.slots[l].chunk_count() * chunk)
            .sum();
        let main = self.slots.len() * std::mem::size_of::<SlotTable>()
            + self.counts.len() * std::mem::size_of::<SlotCounts>()
            + self.used.len() * 8
            + chunks;
        let expires = self.ttl_slots.capacity() * 4 + self.ttl_pos.len() * 4;
        (main, expires)
    }

    /// The part of [`Db::overhead`] an empty database already holds: the
    /// slot directory, its counts, its bitmap of used slots and the TTL
    /// index's positions.
    pub fn directory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<SlotTable>()
            + self.counts.len() * std::mem::size_of::<SlotCounts>()
            + self.used.len() * 8
            + self.ttl_pos.len() * 4
    }

    /// Number of keys (expired-but-not-yet-reclaimed included, like Redis).
    pub fn len(&self) -> usize {
        self.keys
    }
    /// True when no keys.
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }
    /// Number of keys with a TTL.
    pub fn expires(&self) -> usize {
        self.expires
    }

    fn ttl_inc(&mut self, l: usize) {
        self.expires += 1;
        let t = &mut self.counts[l];
        t.ttl += 1;
        if t.ttl == 1 {
            self.ttl_pos[l] = self.ttl_slots.len() as u32;
            self.ttl_slots.push(l as u32);
        }
    }
    fn ttl_dec(&mut self, l: usize) {
        self.expires -= 1;
        let t = &mut self.counts[l];
        t.ttl -= 1;
        if t.ttl == 0 {
            let p = self.ttl_pos[l] as usize;
            self.ttl_slots.swap_remove(p);
            if p < self.ttl_slots.len() {
                let moved = self.ttl_slots[p] as usize;
                self.ttl_pos[moved] = p as u32;
            }
            self.ttl_pos[l] = NO_POS;
        }
    }

    /// The live node of a key, deleting the key first if it has expired.
    #[inline]
    fn live_node(&mut self, key: &[u8], now: u64) -> Option<&mut Node> {
        let (l, h) = self.place(key);
        let p = self.slots[l].find(h, key)?;
        if self.slots[l].at(p)?.entry().is_expired(now) {
            if self.expiry_paused(now) {
                return None;
            }
            if let Some(e) = self.remove_pos(l, h, p) {
                drop_expired(e);
            }
            self.expired_removed(key);
            return None;
        }
        self.slots[l].at_mut(p)
    }

    /// Clients are paused at `now`: expired keys stay until they go on.
    #[cold]
    fn expiry_paused(&self, now: u64) -> bool {
        now < self.pause_end.load(Ordering::Relaxed)
    }

    /// The node of a key, expired or not, without side effects.
    #[inline]
    fn stored_node(&self, key: &[u8]) -> Option<&Node> {
        let (l, h) = self.place(key);
        self.slots[l].get(h, key)
    }

    /// Looks a key up for reading or writing, deleting it first if expired.
    #[inline]
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        self.live_node(key, now).map(|n| n.entry_mut())
    }

    /// Looks a key up and records the access (LRU clock, LFU counter).
    #[inline]
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        let n = self.live_node(key, now)?;
        n.meta_mut().touch();
        Some(n.entry_mut())
    }

    /// Access metadata of a live key, without recording an access.
    pub fn meta(&mut self, key: &[u8], now: u64) -> Option<Meta> {
        self.live_node(key, now).map(|n| *n.meta_mut())
    }

    /// Access metadata of a key, without side effects.
    pub fn peek_meta(&self, key: &[u8]) -> Option<Meta> {
        self.stored_node(key).map(|n| n.meta())
    }

    /// Looks a key up without side effects (an expired key reads as absent).
    pub fn peek(&self, key: &[u8], now: u64) -> Option<&Entry> {
        self.stored_node(key)
            .map(|n| n.entry())
            .filter(|e| !e.is_expired(now))
    }

    /// True when the key exists at `now` (deleting it if expired).
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.get_mut(key, now).is_some()
    }

    fn remove_at(&mut self, l: usize, key: &[u8]) -> Option<Entry> {
        self.remove_hashed(l, key_hash(key), key)
    }

    /// Removes `key`, whose local slot is `l` and hash `h`.
    fn remove_hashed(&mut self, l: usize, h: u64, key: &[u8]) -> Option<Entry> {
        let p = self.slots[l].find(h, key)?;
        self.remove_pos(l, h, p)
    }

    /// Removes the key at position `p` (found with hash `h`) of local slot `l`.
    fn remove_pos(&mut self, l: usize, h: u64, p: Pos) -> Option<Entry> {
        let e = self.slots[l].take(h, p)?.into_entry();
        self.keys -= 1;
        let c = &mut self.counts[l];
        c.len -= 1;
        if c.len == 0 {
            self.used[l / 64] &= !(1 << (l % 64));
            // An empty slot gives its chunks back: with keys spread over
            // 16384 slots, tables left behind by deleted or evicted keys
            // would otherwise hold memory that no eviction can free.
            self.slots[l] = SlotTable::default();
        }
        if e.expire != 0 {
            self.ttl_dec(l);
        }
        Some(e)
    }

    /// Removes a key whatever its TTL; returns the entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (l, h) = self.place(key);
        self.remove_hashed(l, h, key)
    }

    /// Deletes a key that exists at `now`; true if it did.
    pub fn delete(&mut self, key: &[u8], now: u64) -> bool {
        self.take(key, now).is_some()
    }

    /// Removes a key that exists at `now` and returns its entry (value and TTL);
    /// an expired key is reclaimed (and counted) and reads as absent.
    pub fn take(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let (l, h) = self.place(key);
        let e = self.remove_hashed(l, h, key)?;
        if e.is_expired(now) {
            self.expired_removed(key);
            return None;
        }
        Some(e)
    }

    /// Live keys matching a glob pattern (KEYS).
    pub fn keys_matching(&self, pattern: &[u8], now: u64) -> Vec<Vec<u8>> {
        let all = pattern == b"*";
        self.iter()
            .filter(|(k, e)| {
                !e.is_expired(now) && (all || crate::config::glob_match(pattern, k, false))
            })
            .map(|(k, _)| k.to_vec())
            .collect()
    }

    /// One shard's part of a SCAN call starting at global slot `cursor`.
    ///
    /// Visits this shard's slots `>= cursor` in order, skipping empty ones, and
    /// takes each visited slot whole, until at least `count` live keys have been
    /// seen. Keys passing `keep` are returned. `bound` is the global slot just
    /// past the last one visited (`SLOTS` when the shard's slots ran out): every
    /// slot of this shard below `bound` has been examined.
    pub fn scan(
        &self,
        shard_id: usize,
        cursor: usize,
        count: usize,
        now: u64,
        mut keep: impl FnMut(&[u8], &Entry) -> bool,
    ) -> ScanPart {
        let n = self.nshards;
        let start = if cursor <= shard_id {
            0
        } else {
            (cursor - shard_id).div_ceil(n)
        };
        let mut part = ScanPart {
            slots: Vec::new(),
            bound: SLOTS,
        };
        let mut seen_total = 0;
        let mut next = self.next_used(start);
        while let Some(l) = next {
            next = self.next_used(l + 1);
            let t = &self.slots[l];
            let g = l * n + shard_id;
            if g >= SLOTS {
                break;
            }
            let mut seen = 0;
            let mut keys = Vec::new();
            for (k, e) in t.iter().map(|n| (n.key(), n.entry())) {
                if e.is_expired(now) {
                    continue;
                }
                seen += 1;
                if keep(k, e) {
                    keys.push(k.to_vec());
                }
            }
            if seen == 0 {
                continue;
            }
            part.slots.push(ScanSlot {
                slot: g,
                seen,
                keys,
            });
            seen_total += seen;
            if seen_total >= count {
                part.bound = g + 1;
                break;
            }
        }
        part
    }

    /// Notes that clients block on `key`.
    pub fn watch(&mut self, key: &[u8]) {
        let w = self.watch.get_or_insert_with(Default::default);
        if !w.keys.contains(key) {
            w.keys.insert(key.to_vec());
        }
    }

    /// Drops every waiter's interest in `key`.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = &mut self.watch {
            w.keys.remove(key);
            if w.keys.is_empty() && w.ready.is_empty() {
                self.watch = None;
            }
        }
    }

    /// Marks a watched key as written, so blocked clients are served after
    /// the current command.
    pub fn mark_ready(&mut self, key: &[u8]) {
        if let Some(w) = &mut self.watch
            && w.keys.contains(key)
            && !w.ready.iter().any(|k| k == key)
        {
            w.ready.push(key.to_vec());
        }
    }

    /// FLUSHDB / FLUSHALL ASYNC: like [`Db::empty`], but the keys' memory is
    /// handed to the lazyfree thread: the tables move out whole and fresh
    /// empty ones take their place. Returns how many keys went.
    pub fn empty_async(&mut self) -> usize {
        self.touch_all_watched(None);
        let n = self.keys;
        let fresh: Box<[SlotTable]> = (0..self.slots.len())
            .map(|_| SlotTable::default())
            .collect();
        let old = std::mem::replace(&mut self.slots, fresh);
        // The tables are empty already; this resets the counts and indexes.
        self.clear();
        super::lazyfree::free_later(Box::new(old), n as u64);
        n
    }

    /// FLUSHDB / FLUSHALL: removes every key, keeping the directory, the
    /// blocked-client registry and the WATCHes (each watched key that
    /// existed is signalled, as Redis's `touchAllWatchedKeysInDb`).
    pub fn empty(&mut self) {
        self.touch_all_watched(None);
        self.clear();
    }

    /// SWAPDB: clients wait on (database index, key), so the watched keys stay
    /// with the index while the data moves; every watched key is then checked
    /// against its new contents, as Redis does. WATCHes stay with the index
    /// too (the caller has already signalled them with [`Db::touch_all_watched`]).
    pub fn swap_watch(a: &mut Db, b: &mut Db) {
        std::mem::swap(&mut a.watch, &mut b.watch);
        std::mem::swap(&mut a.cas, &mut b.cas);
        for d in [a, b] {
            if let Some(w) = &mut d.watch {
                w.ready = w.keys.iter().cloned().collect();
            }
        }
    }

    /// True when clients are blocked on keys of this database, or WATCH some.
    pub fn has_watch(&self) -> bool {
        self.watch.is_some() || self.cas.is_some()
    }

    /// Counts and signals a key deleted because it expired.
    fn expired_removed(&mut self, key: &[u8]) {
        super::events::deleted(self.index, key, super::events::Cause::Expired);
        super::notify::emit(super::notify::EXPIRED, "expired", self.index, key);
        self.events.expired += 1;
        crate::metrics::expired_key();
        if self.cas.is_some() || super::tracking::active() {
            self.touch_watched(key);
        }
    }

    /// True when the key is stored but its TTL has passed.
    fn stored_expired(&self, key: &[u8], now: u64) -> bool {
        self.stored_node(key)
            .is_some_and(|n| n.entry().is_expired(now))
    }

    /// True when the key is stored (expired or not).
    fn stored(&self, key: &[u8]) -> bool {
        self.stored_node(key).is_some()
    }

    /// WATCH: `client` watches `key`; `dirty` is raised when the key changes.
    /// True when this is a new registration.
    pub fn cas_watch(&mut self, key: &[u8], client: u64, dirty: Arc<AtomicBool>, now: u64) -> bool {
        let expired = self.stored_expired(key, now);
        let cas = self.cas.get_or_insert_with(Default::default);
        let list = cas.keys.entry_ref(key).or_default();
        if !list.iter().any(|w| w.client == client) {
            list.push(CasWatch {
                client,
                dirty,
                expired,
            });
            return true;
        }
        false
    }

    /// Drops `client`'s WATCH on `key`; returns how many registrations went.
    pub fn cas_unwatch(&mut self, key: &[u8], client: u64) -> usize {
        let Some(cas) = &mut self.cas else {
            return 0;
        };
        let mut removed = 0;
        if let Some(list) = cas.keys.get_mut(key) {
            let before = list.len();
            list.retain(|w| w.client != client);
            removed = before - list.len();
            if list.is_empty() {
                cas.keys.remove(key);
            }
        }
        if cas.keys.is_empty() {
            self.cas = None;
        }
        removed
    }

    /// EXEC's expiry check: true when `client` watched `key` while it was
    /// live and its TTL has passed since (deleted or not, it changed).
    pub fn cas_expired(&self, key: &[u8], client: u64, now: u64) -> bool {
        let watched_live = self.cas.as_ref().is_some_and(|c| {
            c.keys
                .get(key)
                .is_some_and(|l| l.iter().any(|w| w.client == client && !w.expired))
        });
        watched_live && self.stored_expired(key, now)
    }

    /// True when some client WATCHes keys of this database.
    #[inline]
    pub fn has_cas(&self) -> bool {
        self.cas.is_some()
    }

    /// Signals a change of `key` to the clients WATCHing it and to the
    /// tracking clients that read it (see [`super::tracking`]). A key that
    /// had already expired when watched and is now gone has not logically
    /// changed for WATCH.
    pub fn touch_watched(&mut self, key: &[u8]) {
        super::tracking::modified(key);
        let stored = self.stored(key);
        let Some(list) = self.cas.as_mut().and_then(|c| c.keys.get_mut(key)) else {
            return;
        };
        for w in list {
            if w.expired && !stored {
                w.expired = false;
                continue;
            }
            w.dirty.store(true, Ordering::Release);
        }
    }

    /// FLUSHDB and SWAPDB: signals every WATCHed key that exists here or in
    /// the database replacing this one's contents.
    pub fn touch_all_watched(&mut self, replaced_with: Option<&Db>) {
        let now = crate::now_ms();
        let Some(cas) = self.cas.take() else {
            return;
        };
        let mut cas = cas;
        for (key, list) in cas.keys.iter_mut() {
            let here = self.stored(key);
            let there = replaced_with.is_some_and(|d| d.stored(key));
            if !here && !there {
                continue;
            }
            let there_expired = replaced_with.is_some_and(|d| d.stored_expired(key, now));
            for w in list.iter_mut() {
                if w.expired {
                    if !there {
                        w.expired = false;
                        continue;
                    } else if there_expired {
                        continue;
                    }
                } else if !here && there_expired {
                    w.expired = true;
                    continue;
                }
                w.dirty.store(true, Ordering::Release);
            }
        }
        self.cas = Some(cas);
    }

    /// Watched keys written since the last call.
    pub fn take_ready(&mut self) -> Vec<Vec<u8>> {
        match &mut self.watch {
            Some(w) => std::mem::take(&mut w.ready),
            None => Vec::new(),
        }
    }

    /// True when some watched key was written and not yet served.
    #[inline]
    pub fn has_ready(&self) -> bool {
        self.watch.as_ref().is_some_and(|w| !w.ready.is_empty())
    }

    /// Stores an entry (value and TTL as given), replacing any old one, which
    /// is returned, or handed to the lazyfree thread when
    /// `lazyfree-lazy-server-del` is on (then None).
    pub fn insert_entry(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        self.insert_entry_at(key, entry, None)
    }

    /// [`Db::insert_entry`]; with `now`, a stored key whose TTL has passed is
    /// first reclaimed as expired (as a write's lookup would), so that the
    /// entry then makes a new key. Costs no extra lookup.
    fn insert_entry_at(&mut self, key: &[u8], entry: Entry, now: Option<u64>) -> Option<Entry> {
        if self.watch.is_some() {
            self.mark_ready(key);
        }
        let (l, h) = self.place(key);
        let has_ttl = entry.expire != 0;
        let mut pos = self.slots[l].find(h, key);
        if let (Some(now), Some(p)) = (now, pos)
            && self.slots[l]
                .at(p)
                .is_some_and(|n| n.entry().is_expired(now))
        {
            if let Some(e) = self.remove_pos(l, h, p) {
                drop_expired(e);
            }
            self.expired_removed(key);
            pos = None;
        }
        let t = &mut self.slots[l];
        let old = match pos.and_then(|p| t.at_mut(p)) {
            Some(n) => {
                *n.meta_mut() = Meta::fresh();
                Some(std::mem::replace(n.entry_mut(), entry))
            }
            None => {
                super::notify::emit(super::notify::NEW, "new", self.index, key);
                let c = &mut self.counts[l];
                t.insert_new(h, Node::new(key, entry, Meta::fresh()), c.len as usize);
                c.len += 1;
                self.used[l / 64] |= 1 << (l % 64);
                None
            }
        };
        match &old {
            None => self.keys += 1,
            Some(o) if o.expire != 0 => self.ttl_dec(l),
            _ => {}
        }
        if has_ttl {
            self.ttl_inc(l);
        }
        match old {
            // The replaced value goes the way UNLINK sends it.
            Some(o) if super::lazyfree::lazy().server_del => {
                super::lazyfree::free(o.value);
                None
            }
            old => old,
        }
    }

    /// Stores a value with no TTL (what SET does without KEEPTTL).
    #[inline]
    pub fn set(&mut self, key: &[u8], value: Value) -> Option<Entry> {
        self.insert_entry(key, Entry::new(value))
    }

    /// [`Db::set`] for a command that did not look the key up first: a key
    /// whose TTL has passed at `now` is reclaimed as expired (its `expired`
    /// event) and the value makes a new key (`new`), as in Redis.
    #[inline]
    pub fn set_at(&mut self, key: &[u8], value: Value, now: u64) -> Option<Entry> {
        self.insert_entry_at(key, Entry::new(value), Some(now))
    }

    /// Deletes `key` before a command adds it anew (RENAME and COPY ... REPLACE
    /// delete their destination, so the key they store is a new one): an
    /// expired key is reclaimed as expired, a live one's value is freed the way
    /// a replaced value is. True when a live key was deleted.
    pub fn delete_for_add(&mut self, key: &[u8], now: u64) -> bool {
        match self.take(key, now) {
            Some(old) => {
                if super::lazyfree::lazy().server_del {
                    super::lazyfree::free(old.value);
                }
                true
            }
            None => false,
        }
    }

    /// Stores a value keeping the existing TTL, if the key exists and is live.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now: u64) {
        if let Some(n) = self.live_node(key, now) {
            n.entry_mut().value = value;
            n.meta_mut().touch();
        } else {
            self.set(key, value);
        }
    }

    /// Sets an absolute expiry (ms) on an existing key; false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at: u64, now: u64) -> bool {
        let l = self.local(key);
        let Some(e) = self.get_mut(key, now) else {
            return false;
        };
        let had = e.expire != 0;
        e.expire = at;
        if !had && at != 0 {
            self.ttl_inc(l);
        } else if had && at == 0 {
            self.ttl_dec(l);
        }
        true
    }

    /// Removes the TTL; true if there was one.
    pub fn persist(&mut self, key: &[u8], now: u64) -> bool {
        match self.get_mut(key, now) {
            Some(e) if e.expire != 0 => {
                self.set_expire(key, 0, now);
                true
            }
            _ => false,
        }
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        for t in &mut self.slots {
            *t = SlotTable::default();
        }
        self.counts.fill(SlotCounts::default());
        self.ttl_slots.clear();
        self.ttl_pos.iter_mut().for_each(|p| *p = NO_POS);
        self.used.iter_mut().for_each(|w| *w = 0);
        self.keys = 0;
        self.expires = 0;
    }

    /// The first local slot at or after `from` that holds keys.
    fn next_used(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        if w >= self.used.len() {
            return None;
        }
        let mut bits = self.used[w] & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            bits = *self.used.get(w)?;
        }
    }

    /// Number of local slot tables.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Global slot number of a local index.
    pub fn global_slot(&self, local: usize, shard_id: usize) -> usize {
        local * self.nshards + shard_id
    }

    /// Local index of a global slot.
    pub fn local_of(&self, slot: usize) -> usize {
        slot / self.nshards
    }

    /// Number of keys stored in a local slot.
    pub fn slot_len(&self, local: usize) -> usize {
        self.counts.get(local).map_or(0, |c| c.len as usize)
    }

    /// Entries of one local slot.
    pub fn slot_iter(&self, local: usize) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.slots[local].iter().map(|n| (n.key(), n.entry()))
    }

    /// All entries.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.slots
            .iter()
            .flat_map(|t| t.iter())
            .map(|n| (n.key(), n.entry()))
    }

    /// A random live key, if any.
    pub fn random_key(&mut self, now: u64, rand: &mut crate::Rng) -> Option<Vec<u8>> {
        for _ in 0..100 {
            if self.keys == 0 {
                return None;
            }
            let n = self.slots.len();
            let start = rand.below(n);
            let l = self.next_used(start).or_else(|| self.next_used(0))?;
            let i = rand.below(self.counts[l].len as usize);
            let node = self.slots[l].iter().nth(i)?;
            let (k, e) = (node.key(), node.entry());
            if !e.is_expired(now) {
                return Some(k.to_vec());
            }
            // Every key expired: Redis returns an expired key rather than looping
            // forever when all keys have a TTL; we delete and retry a bounded time.
            if self.expiry_paused(now) {
                continue;
            }
            let k = k.to_vec();
            self.remove_at(l, &k);
            self.expired_removed(&k);
        }
        None
    }

    /// A random local slot holding keys (holding keys with a TTL when
    /// `volatile`) and a random starting position in it; None when there is
    /// none.
    fn random_slot(&self, volatile: bool, rand: &mut crate::Rng) -> Option<(usize, usize)> {
        if self.keys == 0 || (volatile && self.expires == 0) {
            return None;
        }
        let l = if volatile {
            self.ttl_slots[rand.below(self.ttl_slots.len())] as usize
        } else {
            let start = rand.below(self.slots.len());
            self.next_used(start).or_else(|| self.next_used(0))?
        };
        let skip = rand.below((self.counts[l].len as usize).max(1));
        Some((l, skip))
    }

    /// Samples up to `n` keys for eviction under `policy` (only keys with a
    /// TTL for the volatile policies) and offers each to `pool` with its
    /// score. Like Redis's `dictGetSomeKeys`, keys come in runs from random
    /// slots, so a round costs a few slot visits rather than `n` lookups.
    pub fn sample_for_eviction(
        &self,
        policy: super::evict::Policy,
        n: usize,
        decay_minutes: u64,
        db_index: usize,
        rand: &mut crate::Rng,
        pool: &mut super::evict::Pool,
    ) {
        let volatile = policy.volatile();
        let mut seen = 0;
        let mut visits = 0;
        while seen < n && visits < n * 4 {
            visits += 1;
            let Some((l, skip)) = self.random_slot(volatile, rand) else {
                return;
            };
            let len = self.counts[l].len as usize;
            for node in self.slots[l].iter().cycle().skip(skip).take(len) {
                let e = node.entry();
                if volatile && e.expire == 0 {
                    continue;
                }
                let sc = super::evict::score(policy, node.meta(), e.expire, decay_minutes);
                let key = node.key();
                pool.offer(
                    sc,
                    super::evict::KeyRef::new(db_index, l, key_hash(key), key),
                );
                seen += 1;
                if seen >= n {
                    break;
                }
            }
        }
    }

    /// A random key that `policy` may evict (any key, or one with a TTL for
    /// the volatile policies).
    pub fn random_victim(
        &self,
        policy: super::evict::Policy,
        rand: &mut crate::Rng,
    ) -> Option<SmallBytes> {
        let volatile = policy.volatile();
        for _ in 0..16 {
            let (l, skip) = self.random_slot(volatile, rand)?;
            let len = self.counts[l].len as usize;
            if let Some(node) = self.slots[l]
                .iter()
                .cycle()
                .skip(skip)
                .take(len)
                .find(|n| !volatile || n.entry().expire != 0)
            {
                return Some(SmallBytes::new(node.key()));
            }
        }
        None
    }

    /// Evicts the key a pool candidate names, if it is still here and may
    /// be evicted under `policy`.
    pub fn evict_ref(
        &mut self,
        r: &super::evict::KeyRef,
        policy: super::evict::Policy,
    ) -> Option<Entry> {
        let t = self.slots.get(r.local as usize)?;
        let node = t.at(t.find_by(r.hash, |k| r.matches(k))?)?;
        if policy.volatile() && node.entry().expire == 0 {
            return None;
        }
        let key = node.key().to_vec();
        self.evict(&key)
    }

    /// Removes `key` because memory is over `maxmemory`: counted in
    /// `evicted_keys` and seen by WATCH as a change. Returns the entry.
    pub fn evict(&mut self, key: &[u8]) -> Option<Entry> {
        let e = self.remove(key)?;
        let before = crate::metrics::thread_allocated();
        super::events::deleted(self.index, key, super::events::Cause::Evicted);
        super::notify::emit(super::notify::EVICTED, "evicted", self.index, key);
        self.events.evicted += 1;
        crate::metrics::with(|s| s.evicted_keys += 1);
        if self.cas.is_some() || super::tracking::active() {
            self.touch_watched(key);
        }
        super::evict::followers_allocated(crate::metrics::thread_allocated() - before);
        Some(e)
    }

    /// One active-expiry step: samples up to `samples` keys from slots holding
    /// TTLs, deleting the expired ones. Returns (sampled, expired).
    pub fn expire_step(
        &mut self,
        now: u64,
        samples: usize,
        rand: &mut crate::Rng,
    ) -> (usize, usize) {
        let mut sampled = 0;
        let mut expired = 0;
        let mut tries = 0;
        let mut victims: Vec<SmallBytes> = Vec::new();
        while sampled < samples && !self.ttl_slots.is_empty() && tries < samples * 2 {
            tries += 1;
            let l = self.ttl_slots[rand.below(self.ttl_slots.len())] as usize;
            let t = &self.slots[l];
            let len = self.counts[l].len as usize;
            let take = (samples - sampled).min(len).max(1);
            // Start at a rolling offset so big slots are covered over time.
            let skip = if len > take {
                self.expire_cursor % len
            } else {
                0
            };
            self.expire_cursor = self.expire_cursor.wrapping_add(take);
            victims.clear();
            let mut seen_ttl = 0;
            for (k, e) in t
                .iter()
                .map(|n| (n.key(), n.entry()))
                .cycle()
                .skip(skip)
                .take(len.min(take * 4))
            {
                if e.expire != 0 {
                    seen_ttl += 1;
                    if e.expire <= now {
                        victims.push(SmallBytes::new(k));
                    }
                    if seen_ttl >= take {
                        break;
                    }
                }
            }
            sampled += seen_ttl.max(1);
            for k in victims.drain(..) {
                if let Some(e) = self.remove_at(l, &k) {
                    drop_expired(e);
                }
                self.expired_removed(&k);
                expired += 1;
            }
        }
        (sampled, expired)
    }
}

/// Drops an entry removed because its TTL passed: on the lazyfree thread
/// when `lazyfree-lazy-expire` is on and the value is big.
fn drop_expired(e: Entry) {
    if super::lazyfree::lazy().expire {
        super::lazyfree::free(e.value);
    }
}

/// Heap nodes: a key's [`Meta`], its [`Entry`] and its bytes, in one allocation.
///
/// ```text
///  table bucket (8 bytes) ──► [ meta 4 | klen 4 | Entry: value 24, expire 8 ][ key ]
/// ```
///
/// Tables hold one thin pointer per key, so a half-empty per-slot table costs
/// 9 bytes per bucket instead of a whole entry, and the key needs no allocation
/// of its own. A key longer than `u32::MAX - 1` bytes stores `u32::MAX` in
/// `klen` and its real length as a `usize` ahead of the bytes. `klen` lives
/// outside the `Entry` handed to callers, so nothing they do can change it.
mod node {
    use super::{Entry, Meta};
    use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
    use std::ptr::NonNull;

    #[repr(C)]
    struct Head {
        meta: Meta,
        klen: u32,
        entry: Entry,
    }

    const HEADER: usize = std::mem::size_of::<Head>();
    const LONG: u32 = u32::MAX;

    /// Transparent, so `Option<Node>` is one pointer, null when `None`.
    #[repr(transparent)]
    pub(super) struct Node(NonNull<Head>);

    // SAFETY: a Node uniquely owns its allocation (like a Box), and Entry is Send.
    unsafe impl Send for Node {}

    fn layout(klen: usize) -> (Layout, usize) {
        let prefix = if klen >= LONG as usize {
            std::mem::size_of::<usize>()
        } else {
            0
        };
        let size = HEADER + prefix + klen;
        match Layout::from_size_align(size, std::mem::align_of::<Head>()) {
            Ok(l) => (l, prefix),
            Err(_) => handle_alloc_error(Layout::new::<Head>()),
        }
    }

    impl Node {
        pub(super) fn new(key: &[u8], entry: Entry, meta: Meta) -> Node {
            let (lay, prefix) = layout(key.len());
            let klen = if prefix > 0 { LONG } else { key.len() as u32 };
            // SAFETY: `lay` has non-zero size (HEADER > 0) and Head's alignment.
            let p = unsafe { alloc(lay) };
            let Some(nn) = NonNull::new(p as *mut Head) else {
                handle_alloc_error(lay)
            };
            // SAFETY: the allocation holds HEADER bytes for the Head at offset 0,
            // then `prefix` bytes (usize-aligned: HEADER is a multiple of 8), then
            // the key bytes; every write stays inside `lay.size()`.
            unsafe {
                nn.as_ptr().write(Head { meta, klen, entry });
                if prefix > 0 {
                    (p.add(HEADER) as *mut usize).write(key.len());
                }
                std::ptr::copy_nonoverlapping(key.as_ptr(), p.add(HEADER + prefix), key.len());
            }
            Node(nn)
        }

        /// Starts loading the node's header: access metadata, key length and
        /// entry (and the key bytes that share its cache lines).
        #[inline]
        pub(super) fn prefetch(&self) {
            let p = self.0.as_ptr() as *const u8;
            super::prefetch_line(p);
            // The last byte of the header, inside the allocation whatever the
            // key's length: a second line when the header straddles two.
            super::prefetch_line(p.wrapping_add(HEADER - 1));
        }

        #[inline]
        fn head(&self) -> &Head {
            // SAFETY: the pointer is valid and initialised for the node's life.
            unsafe { self.0.as_ref() }
        }

        #[inline]
        fn key_len_and_offset(&self) -> (usize, usize) {
            let klen = self.head().klen;
            if klen != LONG {
                (klen as usize, HEADER)
            } else {
                // SAFETY: long keys store their length as a usize right after
                // the header (written in `new`).
                let n =
                    unsafe { ((self.0.as_ptr() as *const u8).add(HEADER) as *const usize).read() };
                (n, HEADER + std::mem::size_of::<usize>())
            }
        }

        #[inline]
        pub(super) fn key(&self) -> &[u8] {
            let (n, off) = self.key_len_and_offset();
            // SAFETY: `new` copied exactly `n` key bytes at offset `off`; they
            // live as long as the node and are never mutated.
            unsafe { std::slice::from_raw_parts((self.0.as_ptr() as *const u8).add(off), n) }
        }

        #[inline]
        pub(super) fn entry(&self) -> &Entry {
            &self.head().entry
        }

        #[inline]
        pub(super) fn meta(&self) -> Meta {
            self.head().meta
        }

        #[inline]
        pub(super) fn entry_mut(&mut self) -> &mut Entry {
            // SAFETY: valid and initialised; `&mut self` gives exclusive access.
            unsafe { &mut self.0.as_mut().entry }
        }

        #[inline]
        pub(super) fn meta_mut(&mut self) -> &mut Meta {
            // SAFETY: as for `entry_mut`.
            unsafe { &mut self.0.as_mut().meta }
        }

        /// Moves the entry out and frees the node.
        pub(super) fn into_entry(self) -> Entry {
            let (klen, _) = self.key_len_and_offset();
            let (lay, _) = layout(klen);
            let p = self.0.as_ptr();
            std::mem::forget(self);
            // SAFETY: the head is read out exactly once, then the memory is freed
            // with the layout it was allocated with; `forget` keeps Drop away.
            unsafe {
                let head = p.read();
                dealloc(p as *mut u8, lay);
                head.entry
            }
        }
    }

    impl Drop for Node {
        fn drop(&mut self) {
            let (klen, _) = self.key_len_and_offset();
            let (lay, _) = layout(klen);
            // SAFETY: the node owns a live, initialised Head allocated with `lay`.
            unsafe {
                std::ptr::drop_in_place(self.0.as_ptr());
                dealloc(self.0.as_ptr() as *mut u8, lay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_layout() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 32);
        assert_eq!(std::mem::size_of::<Node>(), 8);
    }

    #[test]
    fn nodes_keep_keys_and_entries() {
        let mut t = SlotTable::default();
        let long = vec![b'k'; 300];
        let keys = [&b""[..], b"a", b"sixteen-byte-key", &long];
        for (i, k) in keys.iter().enumerate() {
            let node = Node::new(k, Entry::new(Value::string(k)), Meta::fresh());
            t.insert_new(key_hash(k), node, i);
        }
        for k in keys {
            let n = t.get(key_hash(k), k).unwrap();
            assert_eq!(n.key(), k);
            assert_eq!(n.entry().value.as_str(), Some(k));
        }
        let h = key_hash(b"a");
        let p = t.find(h, b"a").unwrap();
        t.at_mut(p).unwrap().entry_mut().value = Value::raw(b"changed".to_vec());
        let e = t.take(h, p).unwrap().into_entry();
        assert_eq!(e.value.as_str(), Some(&b"changed"[..]));
        assert!(t.find(h, b"a").is_none());
        assert_eq!(t.iter().count(), 3);
    }

    #[test]
    fn meta_packs_lru_and_freq() {
        let m = Meta::fresh();
        assert_eq!(m.freq(), LFU_INIT_VAL);
        assert!(m.idle_secs() <= 1);
        let m = Meta::pack(lru_clock().wrapping_sub(5), 200);
        assert_eq!(m.freq(), 200);
        assert!((5..=6).contains(&m.idle_secs()));
    }

    #[test]
    fn lfu_counter_follows_the_logarithmic_curve() {
        // Redis's documented growth for lfu-log-factor 10: about 10 after 100
        // hits, 18 after 1000, 142 after 100k, saturated after 1M.
        let mut m = Meta::fresh();
        let at = |m: &mut Meta, hits: u32| {
            for _ in 0..hits {
                m.touch();
            }
            m.freq()
        };
        let f100 = at(&mut m, 100);
        assert!((8..=13).contains(&f100), "{f100}");
        let f1k = at(&mut m, 900);
        assert!((15..=22).contains(&f1k), "{f1k}");
        let f100k = at(&mut m, 99_000);
        assert!((125..=160).contains(&f100k), "{f100k}");
        assert_eq!(at(&mut m, 1_000_000), 255);
    }

    #[test]
    fn set_get_expire() {
        let mut db = Db::new(3);
        let mut found = 0;
        for i in 0..1000 {
            let k = format!("k{i}");
            if !(crate::storage::slot::key_slot(k.as_bytes()) as usize).is_multiple_of(3) {
                continue;
            }
            db.set(k.as_bytes(), Value::string(b"v"));
            found += 1;
        }
        assert_eq!(db.len(), found);
        let k = db.iter().next().unwrap().0.to_vec();
        assert!(db.set_expire(&k, 100, 50));
        assert_eq!(db.expires(), 1);
        assert!(db.get(&k, 99).is_some());
        assert!(db.get(&k, 100).is_none());
        assert_eq!(db.len(), found - 1);
        assert_eq!(db.expires(), 0);
    }

    #[test]
    fn prefetch_keys_takes_any_count_and_changes_nothing() {
        let mut db = Db::new(1);
        let keys: Vec<Vec<u8>> = (0..(3 * PREFETCH_KEYS + 5))
            .map(|i| format!("pk{i}").into_bytes())
            .collect();
        // Keys absent, then present; fewer, as many and more than fit at once.
        db.prefetch_keys(keys.iter().map(|k| k.as_slice()));
        db.prefetch_keys(std::iter::empty());
        for k in keys.iter().step_by(2) {
            db.set(k, Value::string(k));
        }
        for n in [1, PREFETCH_KEYS, keys.len()] {
            db.prefetch_keys(keys[..n].iter().map(|k| k.as_slice()));
        }
        assert_eq!(db.len(), keys.len().div_ceil(2));
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(db.get(k, 0).is_some(), i % 2 == 0);
        }
    }

    #[test]
    fn hint_scope_serves_only_its_own_bytes() {
        let mut db = Db::new(1);
        let key = b"user:1".to_vec();
        let h = db.hint(&key);
        {
            let _scope = HintScope::new(&key, h);
            assert_eq!(db.memo(&key), Some(h));
            db.set(&key, Value::string(b"v"));
            assert!(db.get(&key, 0).is_some());
            // Equal bytes elsewhere, and other keys, are hashed as usual.
            let copy = key.clone();
            assert_eq!(db.memo(&copy), None);
            assert!(db.get(&copy, 0).is_some());
            assert!(db.get(b"user:2", 0).is_none());
        }
        assert_eq!(db.memo(&key), None);
        assert!(db.get(&key, 0).is_some());
        // A hint made for another shard count is ignored.
        let other = Db::new(3).hint(&key);
        let _scope = HintScope::new(&key, other);
        assert_eq!(db.memo(&key), None);
        assert!(db.take(&key, 0).is_some());
        assert!(db.is_empty());
    }

    #[test]
    fn active_expiry_reclaims() {
        let mut db = Db::new(1);
        for i in 0..500 {
            let k = format!("k{i}");
            db.set(k.as_bytes(), Value::string(b"v"));
            db.set_expire(k.as_bytes(), 10, 0);
        }
        let mut rng = crate::Rng::new(1);
        let mut rounds = 0;
        while !db.is_empty() && rounds < 10_000 {
            db.expire_step(20, 20, &mut rng);
            rounds += 1;
        }
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires(), 0);
    }

    /// Keys owned by shard `id` of `n`.
    fn owned_keys(id: usize, n: usize, want: usize) -> Vec<String> {
        (0..)
            .map(|i| format!("key:{i}"))
            .filter(|k| crate::storage::slot::key_owner(k.as_bytes(), n) == id)
            .take(want)
            .collect()
    }

    fn full_scan(dbs: &[Db], count: usize, mut between: impl FnMut(usize)) -> Vec<Vec<u8>> {
        let mut cursor = 0;
        let mut out = Vec::new();
        let mut calls = 0;
        loop {
            let parts = dbs
                .iter()
                .enumerate()
                .map(|(i, d)| d.scan(i, cursor, count, 0, |_, _| true))
                .collect();
            let (next, keys) = merge_scan(parts, count);
            out.extend(keys);
            calls += 1;
            between(calls);
            assert!(calls < 20_000, "scan does not terminate");
            if next == 0 {
                return out;
            }
            assert!(next > cursor, "cursor must advance");
            cursor = next;
        }
    }

    #[test]
    fn scan_returns_every_key_once() {
        let n = 3;
        let mut dbs: Vec<Db> = (0..n).map(|_| Db::new(n)).collect();
        let mut all = Vec::new();
        for (i, db) in dbs.iter_mut().enumerate() {
            for k in owned_keys(i, n, 700) {
                db.set(k.as_bytes(), Value::string(b"v"));
                all.push(k.into_bytes());
            }
        }
        for count in [1, 10, 100, 100_000] {
            let mut got = full_scan(&dbs, count, |_| {});
            got.sort();
            let mut want = all.clone();
            want.sort();
            assert_eq!(got, want, "count {count}");
        }
    }

    #[test]
    fn scan_count_and_cursor() {
        let n = 2;
        let mut dbs: Vec<Db> = (0..n).map(|_| Db::new(n)).collect();
        for (i, db) in dbs.iter_mut().enumerate() {
            for k in owned_keys(i, n, 50) {
                db.set(k.as_bytes(), Value::string(b"v"));
            }
        }
        let parts = dbs
            .iter()
            .enumerate()
            .map(|(i, d)| d.scan(i, 0, 10, 0, |_, _| true))
            .collect();
        let (next, keys) = merge_scan(parts, 10);
        assert!(keys.len() >= 10);
        assert!(next > 0);
        // Every returned key lives in a slot below the cursor, and no key below
        // the cursor was left out.
        let below: usize = dbs
            .iter()
            .flat_map(|d| d.iter())
            .filter(|(k, _)| (key_slot(k) as usize) < next)
            .count();
        assert_eq!(below, keys.len());
        // Empty databases finish at once.
        let empty: Vec<Db> = (0..n).map(|_| Db::new(n)).collect();
        let parts = empty
            .iter()
            .enumerate()
            .map(|(i, d)| d.scan(i, 0, 10, 0, |_, _| true))
            .collect();
        assert_eq!(merge_scan(parts, 10), (0, vec![]));
        // A cursor past the last non-empty slot completes the iteration.
        let parts = dbs
            .iter()
            .enumerate()
            .map(|(i, d)| d.scan(i, SLOTS - 1, 10, 0, |_, _| true))
            .collect::<Vec<_>>();
        assert_eq!(merge_scan(parts, 10).0, 0);
    }

    #[test]
    fn scan_survives_writes() {
        // Keys present for the whole iteration are all returned even while
        // other keys are added and removed between calls.
        let n = 3;
        let mut dbs: Vec<Db> = (0..n).map(|_| Db::new(n)).collect();
        let mut stable = Vec::new();
        for (i, db) in dbs.iter_mut().enumerate() {
            for k in owned_keys(i, n, 300) {
                db.set(k.as_bytes(), Value::string(b"v"));
                stable.push(k.into_bytes());
            }
        }
        let mut cursor = 0;
        let mut got = std::collections::HashSet::new();
        let mut round = 0;
        loop {
            let parts = dbs
                .iter()
                .enumerate()
                .map(|(i, d)| d.scan(i, cursor, 7, 0, |_, _| true))
                .collect();
            let (next, keys) = merge_scan(parts, 7);
            got.extend(keys);
            round += 1;
            for (i, db) in dbs.iter_mut().enumerate() {
                for k in owned_keys(i, n, 2000)
                    .into_iter()
                    .skip(300 + round * 5)
                    .take(5)
                {
                    db.set(k.as_bytes(), Value::string(b"x"));
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for k in &stable {
            assert!(got.contains(k));
        }
    }

    #[test]
    fn scan_filters_and_skips_expired() {
        let mut db = Db::new(1);
        db.set(b"a1", Value::string(b"v"));
        db.set(b"b1", Value::string(b"v"));
        db.set(b"gone", Value::string(b"v"));
        db.set_expire(b"gone", 5, 0);
        let part = db.scan(0, 0, 100, 10, |k, _| k.starts_with(b"a"));
        let seen: usize = part.slots.iter().map(|s| s.seen).sum();
        assert_eq!(seen, 2);
        let keys: Vec<_> = part.slots.into_iter().flat_map(|s| s.keys).collect();
        assert_eq!(keys, vec![b"a1".to_vec()]);
        assert_eq!(part.bound, SLOTS);
    }

    #[test]
    fn take_keeps_ttl_and_counts_expired() {
        let mut db = Db::new(1);
        db.set(b"k", Value::string(b"v"));
        db.set_expire(b"k", 1000, 0);
        let e = db.take(b"k", 10).unwrap();
        assert_eq!(e.expire, 1000);
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires(), 0);
        db.insert_entry(b"j", e);
        assert_eq!(db.expires(), 1);
        assert!(db.take(b"j", 1000).is_none());
        assert_eq!(db.events.expired, 1);
        assert_eq!(db.len(), 0);
        assert!(!db.delete(b"j", 0));
    }

    #[test]
    fn writes_over_expired_keys_make_new_keys() {
        use crate::storage::notify;
        notify::publish(notify::KEYSPACE | notify::EXPIRED | notify::NEW);
        let mut db = Db::new(1);
        db.set(b"k", Value::string(b"v"));
        db.set_expire(b"k", 1000, 0);
        // Before its TTL: overwritten in place, no event.
        db.set_at(b"k", Value::string(b"w"), 999);
        assert_eq!((db.len(), db.expires(), db.events.expired), (1, 0, 0));
        db.set_expire(b"k", 1000, 0);
        db.set_at(b"k", Value::string(b"x"), 1000);
        assert_eq!((db.len(), db.expires(), db.events.expired), (1, 0, 1));
        // A live destination deleted first, so the key stored next is new.
        assert!(db.delete_for_add(b"k", 1000));
        assert!(!db.delete_for_add(b"k", 1000));
        db.set(b"k", Value::string(b"y"));
        let got: Vec<&str> = notify::take().iter().map(|e| e.event).collect();
        notify::publish(0);
        assert_eq!(got, ["new", "expired", "new", "new"]);
    }

    #[test]
    fn keys_and_lfu() {
        let mut db = Db::new(1);
        db.set(b"hello", Value::string(b"v"));
        db.set(b"hallo", Value::string(b"v"));
        db.set(b"world", Value::string(b"v"));
        let mut k = db.keys_matching(b"h?llo", 0);
        k.sort();
        assert_eq!(k, vec![b"hallo".to_vec(), b"hello".to_vec()]);
        assert_eq!(db.keys_matching(b"*", 0).len(), 3);
        assert_eq!(db.peek_meta(b"world").unwrap().freq(), LFU_INIT_VAL);
        db.get(b"world", 0);
        assert_eq!(db.peek_meta(b"world").unwrap().freq(), LFU_INIT_VAL + 1);
        // A copy starts fresh, as a new key does.
        let e = db.peek(b"world", 0).unwrap().duplicate();
        db.insert_entry(b"copy", e);
        assert_eq!(db.peek_meta(b"copy").unwrap().freq(), LFU_INIT_VAL);
    }

    /// Checks every slot table and the counts kept beside them.
    fn check_db(db: &Db) {
        let mut keys = 0;
        let mut expires = 0;
        for (l, t) in db.slots.iter().enumerate() {
            let n = t.check();
            assert_eq!(n, db.counts[l].len as usize, "slot {l}");
            assert_eq!(n > 0, db.used[l / 64] & (1 << (l % 64)) != 0);
            let ttl = t.iter().filter(|n| n.entry().expire != 0).count();
            assert_eq!(ttl, db.counts[l].ttl as usize);
            keys += n;
            expires += ttl;
        }
        assert_eq!(keys, db.len());
        assert_eq!(expires, db.expires());
    }

    #[test]
    fn prefetch_stages_only_read() {
        let n = 3;
        let mut db = Db::new(n);
        let empty = Db::new(n);
        let keys = owned_keys(2, n, 3_000);
        for k in keys.iter().step_by(2) {
            db.set(k.as_bytes(), Value::string(&[b'v'; 40]));
        }
        db.set(b"{x}list", Value::List(Box::default()));
        db.set(b"{x}short", Value::string(b"v"));
        let mut all: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        all.extend([&b"{x}list"[..], b"{x}short", b"", b"not-owned-here"]);
        let hints: Vec<KeyHint> = all.iter().map(|k| db.hint(k)).collect();
        for (k, &h) in all.iter().zip(&hints) {
            assert_eq!(h.local as usize, db.local(k));
            assert_eq!(h, db.hint_in_slot(key_slot(k), k));
            db.prefetch(h);
            empty.prefetch(h);
        }
        for (k, &h) in all.iter().zip(&hints) {
            db.prefetch_node(h);
            empty.prefetch_node(h);
            db.prefetch_value(k, h);
            empty.prefetch_value(k, h);
        }
        // A hint made for a single shard can point past this database's slots.
        let wide = Db::new(1);
        for k in &all {
            let h = wide.hint(k);
            db.prefetch(h);
            db.prefetch_node(h);
            db.prefetch_value(k, h);
        }
        check_db(&db);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(db.peek(k.as_bytes(), 0).is_some(), i % 2 == 0);
        }
    }

    #[test]
    fn local_index_divides() {
        for nshards in [1, 2, 3, 5, 7, 64, 100, 1000, 16383, 16384, 20000] {
            let db = Db::new(nshards);
            for slot in 0..SLOTS as u16 {
                assert_eq!(db.local_index(slot), slot as usize / nshards);
            }
            assert_eq!(db.slot_count(), SLOTS.div_ceil(nshards));
        }
    }

    #[test]
    fn many_slots_insert_get_delete_iterate() {
        for nshards in [1, 3] {
            let mut db = Db::new(nshards);
            let keys = owned_keys(1 % nshards, nshards, 40_000);
            for (i, k) in keys.iter().enumerate() {
                assert!(
                    db.set(k.as_bytes(), Value::string(&i.to_le_bytes()))
                        .is_none()
                );
            }
            check_db(&db);
            assert_eq!(db.len(), keys.len());
            for (i, k) in keys.iter().enumerate() {
                let e = db.get(k.as_bytes(), 0).unwrap();
                assert_eq!(e.value.as_str(), Some(&i.to_le_bytes()[..]));
                assert!(db.peek(format!("{k}x").as_bytes(), 0).is_none());
            }
            // Every key once, each in its own slot's iteration.
            let mut seen: Vec<&[u8]> = db.iter().map(|(k, _)| k).collect();
            seen.sort();
            let mut want: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
            want.sort();
            assert_eq!(seen, want);
            for l in 0..db.slot_count() {
                assert_eq!(db.slot_iter(l).count(), db.slot_len(l));
                for (k, _) in db.slot_iter(l) {
                    assert_eq!(db.local_of(key_slot(k) as usize), l);
                }
            }
            // Delete every other key, some with a TTL.
            for (i, k) in keys.iter().enumerate() {
                if i % 3 == 0 {
                    db.set_expire(k.as_bytes(), 1_000 + i as u64, 0);
                }
            }
            check_db(&db);
            for k in keys.iter().step_by(2) {
                assert!(db.delete(k.as_bytes(), 0));
            }
            check_db(&db);
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(db.peek(k.as_bytes(), 0).is_some(), i % 2 == 1, "{k}");
            }
            // Put them back over the holes.
            for k in keys.iter().step_by(2) {
                db.set(k.as_bytes(), Value::string(b"again"));
            }
            check_db(&db);
            assert_eq!(db.len(), keys.len());
            db.clear();
            check_db(&db);
            assert!(db.iter().next().is_none());
            db.set(keys[0].as_bytes(), Value::string(b"v"));
            check_db(&db);
            assert_eq!(db.len(), 1);
        }
    }

    #[test]
    fn one_slot_through_many_size_classes() {
        // Keys sharing a hash tag share a slot: one table through every size
        // class up to 100k keys, with overflowing chunks along the way.
        let mut db = Db::new(1);
        let key = |i: usize| format!("{{tag}}:{i}").into_bytes();
        let l = db.local(&key(0));
        let mut chunks = vec![];
        for i in 0..100_000 {
            db.set(&key(i), Value::string(b"v"));
            let c = db.slots[l].chunk_count();
            if chunks.last() != Some(&c) {
                chunks.push(c);
            }
            if i % 10_007 == 0 {
                check_db(&db);
            }
        }
        assert_eq!(&chunks[..8], &[1, 2, 3, 4, 6, 8, 12, 16]);
        check_db(&db);
        assert_eq!(db.slot_len(l), 100_000);
        for i in 0..100_000 {
            assert!(db.peek(&key(i), 0).is_some());
        }
        for i in (0..100_000).filter(|i| i % 4 != 0) {
            assert!(db.remove(&key(i)).is_some());
        }
        check_db(&db);
        for i in 0..100_000 {
            assert_eq!(db.peek(&key(i), 0).is_some(), i % 4 == 0);
        }
        for i in (0..100_000).filter(|i| i % 4 == 0) {
            assert!(db.remove(&key(i)).is_some());
        }
        check_db(&db);
        assert_eq!(db.len(), 0);
        assert_eq!(db.next_used(0), None);
    }

    #[test]
    fn random_operations_match_a_model() {
        // Small key spaces crowded into few slots, so chunks overflow and the
        // overflow counts go up and down.
        let mut rng = crate::Rng::new(42);
        for tags in [1usize, 4, 64] {
            let mut db = Db::new(1);
            let mut model = std::collections::HashMap::new();
            for step in 0..60_000 {
                let k = format!("{{t{}}}{}", rng.below(tags), rng.below(3_000)).into_bytes();
                match rng.below(10) {
                    0..=3 => {
                        let v = step.to_string().into_bytes();
                        let old = db.set(&k, Value::string(&v)).map(|e| e.value);
                        let want = model.insert(k, v);
                        assert_eq!(old.as_ref().and_then(|v| v.as_str()), want.as_deref());
                    }
                    4..=6 => {
                        assert_eq!(db.delete(&k, 0), model.remove(&k).is_some());
                    }
                    _ => {
                        let got = db.get(&k, 0).map(|e| e.value.as_str().unwrap().to_vec());
                        assert_eq!(got.as_ref(), model.get(&k));
                    }
                }
                if step % 5_000 == 0 {
                    check_db(&db);
                }
            }
            check_db(&db);
            assert_eq!(db.len(), model.len());
            let mut got: Vec<Vec<u8>> = db.iter().map(|(k, _)| k.to_vec()).collect();
            got.sort();
            let mut want: Vec<Vec<u8>> = model.keys().cloned().collect();
            want.sort();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn scan_visits_slots_in_order_and_whole() {
        let n = 2;
        let mut dbs: Vec<Db> = (0..n).map(|_| Db::new(n)).collect();
        for (i, db) in dbs.iter_mut().enumerate() {
            for k in owned_keys(i, n, 5_000) {
                db.set(k.as_bytes(), Value::string(b"v"));
            }
        }
        for (i, db) in dbs.iter().enumerate() {
            let part = db.scan(i, 0, 100, 0, |_, _| true);
            let slots: Vec<usize> = part.slots.iter().map(|s| s.slot).collect();
            assert!(slots.windows(2).all(|w| w[0] < w[1]));
            assert!(part.slots.iter().map(|s| s.seen).sum::<usize>() >= 100);
            for s in &part.slots {
                assert_eq!(s.slot % n, i);
                assert_eq!(s.seen, db.slot_len(db.local_of(s.slot)));
                assert!(s.keys.iter().all(|k| key_slot(k) as usize == s.slot));
            }
            // The first slot visited is the first non-empty one.
            let first = (0..db.slot_count()).find(|&l| db.slot_len(l) > 0).unwrap();
            assert_eq!(slots[0], db.global_slot(first, i));
            assert_eq!(part.bound, slots.last().unwrap() + 1);
        }
    }

    #[test]
    fn used_bitmap_tracks_slots() {
        let mut db = Db::new(1);
        assert_eq!(db.next_used(0), None);
        db.set(b"foo", Value::string(b"v"));
        let l = db.local(b"foo");
        assert_eq!(db.next_used(0), Some(l));
        assert_eq!(db.next_used(l), Some(l));
        assert_eq!(db.next_used(l + 1), None);
        db.set(b"{foo}2", Value::string(b"v"));
        db.remove(b"foo");
        assert_eq!(db.next_used(0), Some(l));
        db.remove(b"{foo}2");
        assert_eq!(db.next_used(0), None);
        db.set(b"bar", Value::string(b"v"));
        db.clear();
        assert_eq!(db.next_used(0), None);
        assert_eq!(db.next_used(SLOTS + 100), None);
        let mut rng = crate::Rng::new(7);
        assert_eq!(db.random_key(0, &mut rng), None);
        db.set(b"only", Value::string(b"v"));
        for _ in 0..20 {
            assert_eq!(db.random_key(0, &mut rng), Some(b"only".to_vec()));
        }
    }

    fn flag() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    #[test]
    fn cas_watch_touch_and_unwatch() {
        let mut db = Db::new(1);
        let (f1, f2) = (flag(), flag());
        db.set(b"k", Value::string(b"v"));
        db.cas_watch(b"k", 1, f1.clone(), 0);
        db.cas_watch(b"k", 1, f1.clone(), 0);
        db.cas_watch(b"k", 2, f2.clone(), 0);
        db.touch_watched(b"other");
        assert!(!f1.load(Ordering::Relaxed));
        db.touch_watched(b"k");
        assert!(f1.load(Ordering::Relaxed) && f2.load(Ordering::Relaxed));
        db.cas_unwatch(b"k", 1);
        db.cas_unwatch(b"k", 2);
        assert!(!db.has_cas());
    }

    #[test]
    fn cas_expiry_rules() {
        let mut db = Db::new(1);
        let f = flag();
        // Watched while live, expired since: EXEC must fail.
        db.set(b"live", Value::string(b"v"));
        db.set_expire(b"live", 100, 0);
        db.cas_watch(b"live", 1, f.clone(), 50);
        assert!(!db.cas_expired(b"live", 1, 99));
        assert!(db.cas_expired(b"live", 1, 100));
        // Reclaiming it signals the change.
        assert!(db.get(b"live", 200).is_none());
        assert!(f.load(Ordering::Relaxed));
        // Already expired when watched: its deletion is no change.
        let g = flag();
        db.set(b"stale", Value::string(b"v"));
        db.set_expire(b"stale", 10, 0);
        db.cas_watch(b"stale", 2, g.clone(), 20);
        assert!(!db.cas_expired(b"stale", 2, 30));
        assert!(db.get(b"stale", 30).is_none());
        assert!(!g.load(Ordering::Relaxed));
        // ...but writing it afterwards is.
        db.set(b"stale", Value::string(b"new"));
        db.touch_watched(b"stale");
        assert!(g.load(Ordering::Relaxed));
    }

    #[test]
    fn cas_flush_and_swap() {
        let mut db = Db::new(1);
        let (present, absent) = (flag(), flag());
        db.set(b"p", Value::string(b"v"));
        db.cas_watch(b"p", 1, present.clone(), 0);
        db.cas_watch(b"a", 2, absent.clone(), 0);
        db.empty();
        assert!(present.load(Ordering::Relaxed));
        assert!(!absent.load(Ordering::Relaxed));
        assert!(db.has_cas());
        assert_eq!(db.len(), 0);
        let fresh = db;
        // SWAPDB: a key arriving from the other database is a change.
        let mut other = Db::new(1);
        other.set(b"a", Value::string(b"x"));
        let mut db = fresh;
        db.touch_all_watched(Some(&other));
        assert!(absent.load(Ordering::Relaxed));
    }
}
