//! Eviction under `maxmemory`: the policies, their scores and the candidate pool.
//!
//! ```text
//!  DENYOOM command, engine's used memory > maxmemory
//!    └─ this core's shard: sample `maxmemory-samples` keys per database
//!         (volatile-*: only keys with a TTL) ─► score ─► pool of the 16 best
//!       evict the best candidate still present, repeat until enough bytes
//!       are freed, the time budget (maxmemory-eviction-tenacity) runs out,
//!       or nothing is left to evict (then the other shards are asked, and
//!       only when none can free anything is the command refused with OOM)
//! ```
//!
//! Scores follow Redis: the higher, the better a candidate. LRU uses the idle
//! time on the LRU clock, LFU `255 - counter` after decay, volatile-ttl how
//! soon the key expires; the random policies skip the pool. The settings are
//! published per thread by the configuration, so CONFIG SET reaches every core.

use super::db::Meta;
use std::cell::Cell;

/// A `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Refuse DENYOOM commands over the limit.
    NoEviction,
    /// Least recently used among all keys.
    AllKeysLru,
    /// Least frequently used among all keys.
    AllKeysLfu,
    /// Any key.
    AllKeysRandom,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

impl Policy {
    /// The policy a `maxmemory-policy` value names.
    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name.to_ascii_lowercase().as_str() {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }
    /// Only keys with a TTL may be evicted.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
    /// Victims are picked at random, without the pool.
    pub fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
    /// The LFU counter orders the candidates.
    pub fn lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }
}

/// The eviction settings of this thread (see [`publish`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `maxmemory` in bytes; 0 means no limit.
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`: keys sampled per database per round.
    pub samples: usize,
    /// `maxmemory-eviction-tenacity` (0–100).
    pub tenacity: u32,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u64,
    /// `lfu-decay-time`, minutes (0: no decay).
    pub lfu_decay_time: u64,
    /// `maxmemory-clients` in bytes; 0 means no limit.
    pub maxmemory_clients: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            tenacity: 10,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            maxmemory_clients: 0,
        }
    }
}

impl Settings {
    /// How long one eviction call may run, in microseconds (None: no bound),
    /// as Redis derives it from `maxmemory-eviction-tenacity`: 50 µs per step
    /// up to 10, then 15% more per step, unbounded at 100.
    pub fn time_limit_us(&self) -> Option<u64> {
        let t = self.tenacity.min(100);
        if t >= 100 {
            None
        } else if t <= 10 {
            Some(50 * t as u64)
        } else {
            Some((500.0 * 1.15f64.powi(t as i32 - 10)) as u64)
        }
    }
}

thread_local! {
    static SETTINGS: Cell<Settings> = Cell::new(Settings::default());
    /// Bytes this thread's evictions left to their followers, net.
    static FOLLOWERS: Cell<isize> = const { Cell::new(0) };
}

/// Counts `bytes` an eviction's followers allocated (net): its keyspace
/// event, its tracking invalidations, its deletion kept for the journal.
#[inline]
pub fn followers_allocated(bytes: isize) {
    FOLLOWERS.with(|c| c.set(c.get() + bytes));
}

/// Bytes this thread's evictions have left to their followers so far (see
/// [`followers_allocated`]). An eviction's measure of what it freed leaves
/// them out, as Redis measures the deletion alone: bytes on their way to
/// clients or to the journal would otherwise count as memory still to
/// free, and with keyspace events or tracking clients on long keys, the
/// followers of one key can weigh as much as the key, so that freeing any
/// amount would empty the shard.
#[inline]
pub fn followers() -> isize {
    FOLLOWERS.with(|c| c.get())
}

/// Makes `s` this thread's eviction settings (the configuration calls it on
/// every core when it changes).
pub fn publish(s: Settings) {
    SETTINGS.with(|c| c.set(s));
}

/// This thread's eviction settings.
#[inline]
pub fn settings() -> Settings {
    SETTINGS.with(|c| c.get())
}

/// Candidates kept between rounds, as Redis's `EVPOOL_SIZE`.
pub const POOL_SIZE: usize = 16;

/// Bytes of a key's beginning a [`KeyRef`] keeps to check it found its key.
const KEY_HEAD: usize = 16;

/// A sampled key, named without a copy of it: its database, its slot in the
/// shard's directory, its hash, its length and first bytes. The pool holds
/// no key bytes on the heap, so filling it during an eviction does not eat
/// into the memory the eviction frees (16 copies of 1 KB keys made the first
/// eviction after a restart free 16 KB more than it had to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef {
    /// Database index.
    pub db: usize,
    /// The key's slot among the shard's (its directory index).
    pub local: u32,
    /// The key's hash in the tables.
    pub hash: u64,
    len: u32,
    head: [u8; KEY_HEAD],
}

impl KeyRef {
    /// Names `key`, found in database `db` at directory index `local` with
    /// table hash `hash`.
    pub fn new(db: usize, local: usize, hash: u64, key: &[u8]) -> KeyRef {
        let mut head = [0u8; KEY_HEAD];
        let n = key.len().min(KEY_HEAD);
        head[..n].copy_from_slice(&key[..n]);
        KeyRef {
            db,
            local: local as u32,
            hash,
            len: key.len() as u32,
            head,
        }
    }

    /// True when `key` (a key stored with this hash) is the one named. A
    /// different key with the same 64-bit hash, length and first bytes in
    /// the same slot would pass: it is then evicted in its place, which
    /// only changes which key a sampled eviction picks.
    pub fn matches(&self, key: &[u8]) -> bool {
        let n = key.len().min(KEY_HEAD);
        key.len() == self.len as usize && key[..n] == self.head[..n]
    }
}

/// A sampled key and its score.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Higher evicts first.
    pub score: u64,
    /// The key.
    pub key: KeyRef,
}

/// The best candidates seen so far, ascending by score (best last).
#[derive(Default, Debug)]
pub struct Pool {
    cands: Vec<Candidate>,
}

impl Pool {
    /// Offers a sampled key: kept when the pool has room or it beats the
    /// worst kept candidate; a key already in the pool gets the new score.
    pub fn offer(&mut self, score: u64, key: KeyRef) {
        if let Some(i) = self.cands.iter().position(|c| c.key == key) {
            self.cands.remove(i);
        } else if self.cands.len() >= POOL_SIZE {
            if self.cands[0].score >= score {
                return;
            }
            self.cands.remove(0);
        }
        let at = self.cands.partition_point(|c| c.score <= score);
        self.cands.insert(at, Candidate { score, key });
    }
    /// Takes the best candidate.
    pub fn pop_best(&mut self) -> Option<Candidate> {
        self.cands.pop()
    }
    /// Number of candidates held.
    pub fn len(&self) -> usize {
        self.cands.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.cands.is_empty()
    }
    /// Forgets every candidate (FLUSHALL, a policy change).
    pub fn clear(&mut self) {
        self.cands.clear();
    }
}

/// A candidate's score under `policy` (higher evicts first): idle seconds for
/// LRU, `255 - decayed counter` for LFU, closeness of the expiry for
/// volatile-ttl.
pub fn score(policy: Policy, meta: Meta, expire: u64, decay_minutes: u64) -> u64 {
    match policy {
        Policy::VolatileTtl => u64::MAX - expire,
        p if p.lfu() => 255 - meta.lfu_decayed(decay_minutes) as u64,
        _ => meta.idle_secs() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_classes() {
        assert_eq!(Policy::parse("ALLKEYS-LRU"), Some(Policy::AllKeysLru));
        assert_eq!(Policy::parse("nope"), None);
        assert!(Policy::VolatileTtl.volatile());
        assert!(!Policy::AllKeysLfu.volatile());
        assert!(Policy::VolatileRandom.random());
        assert!(Policy::VolatileLfu.lfu());
    }

    #[test]
    fn pool_keeps_the_best_sixteen() {
        let mut p = Pool::default();
        let r = |k: &str| {
            KeyRef::new(
                0,
                0,
                k.len() as u64 * 31 + k.as_bytes()[1] as u64,
                k.as_bytes(),
            )
        };
        for i in 0..40u64 {
            p.offer(i % 20, r(&format!("k{i}")));
        }
        assert_eq!(p.len(), POOL_SIZE);
        let best = p.pop_best().unwrap();
        assert_eq!(best.score, 19);
        // Re-offering a kept key updates it instead of duplicating it.
        p.offer(100, r("k5"));
        p.offer(101, r("k5"));
        assert_eq!(p.pop_best().unwrap().score, 101);
        assert!(p.cands.iter().all(|c| c.key != r("k5")));
    }

    #[test]
    fn a_key_ref_checks_length_and_first_bytes() {
        let long = vec![b'x'; 1000];
        let k = KeyRef::new(0, 3, 42, &long);
        assert!(k.matches(&long));
        assert!(!k.matches(&long[..999]));
        let mut other = long.clone();
        other[0] = b'y';
        assert!(!k.matches(&other));
        let short = KeyRef::new(0, 3, 42, b"ab");
        assert!(short.matches(b"ab") && !short.matches(b"abc") && !short.matches(b"a"));
    }

    #[test]
    fn scores_order_the_policies() {
        let now = super::super::db::lru_clock();
        let old = Meta::for_test(now.wrapping_sub(100), 5);
        let new = Meta::for_test(now, 5);
        assert!(score(Policy::AllKeysLru, old, 0, 1) > score(Policy::AllKeysLru, new, 0, 1));
        let hot = Meta::for_test(now, 200);
        assert!(score(Policy::AllKeysLfu, new, 0, 0) > score(Policy::AllKeysLfu, hot, 0, 0));
        assert!(
            score(Policy::VolatileTtl, new, 1000, 1) > score(Policy::VolatileTtl, new, 2000, 1)
        );
    }

    #[test]
    fn tenacity_time_limits() {
        let s = |t| Settings {
            tenacity: t,
            ..Settings::default()
        };
        assert_eq!(s(10).time_limit_us(), Some(500));
        assert_eq!(s(0).time_limit_us(), Some(0));
        assert_eq!(s(100).time_limit_us(), None);
        assert!(s(20).time_limit_us().unwrap() > 2000);
    }
}
