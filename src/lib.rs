//! coreshard: a Redis-compatible in-memory data store built as a thread-per-core,
//! shared-nothing engine on io_uring.
//!
//! ```text
//!              SO_REUSEPORT :6379 (one listener per core)
//!    core 0                    core 1                    core N-1
//!  ┌──────────────────┐      ┌──────────────────┐      ┌──────────────────┐
//!  │ io_uring loop    │      │ io_uring loop    │      │ io_uring loop    │
//!  │ connections ─────┼─hop─►│ shard 1: slots   │◄─hop─┼── connections    │
//!  │ shard 0: slots   │◄─────┼─ s % N == 1      │      │ shard N-1        │
//!  └──────────────────┘      └──────────────────┘      └──────────────────┘
//! ```
//!
//! A request flows `listener → read buffer → protocol::parse → command table →
//! checks → key extraction → slot → shard (inline or hop) → reply → flush`.
//! Layers, each importing only those below it (`tests/layers.rs` checks it):
//!
//! ```text
//!   server    core threads, listeners, each connection's socket loop
//!   command   the command table, one file per family, sessions (what a
//!             client's commands see; dispatch, clients, pub/sub, MULTI)
//!   shard     slots, cores, hops, the transaction layer, the journal hook
//!   storage   tables, values, expiry, eviction (with config and metrics)
//!   protocol  RESP bytes only      runtime  the per-core event loop
//! ```
//!
//! Modules: [`protocol`], [`command`], [`shard`], [`storage`], [`server`],
//! [`runtime`] (executor and io_uring; imports nothing of ours), [`config`],
//! [`metrics`].

#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod command;
pub mod config;
pub mod metrics;
pub mod protocol;
pub mod runtime;
pub mod server;
pub mod shard;
pub mod storage;

/// The Redis version whose behaviour coreshard matches (INFO `redis_version`).
pub const REDIS_VERSION: &str = "7.0.15";
/// coreshard's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Wall-clock time in Unix milliseconds.
#[inline]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Wall-clock time in Unix microseconds.
#[inline]
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Small, fast pseudo-random generator (xorshift64*), one per shard or client.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator (0 is replaced by a fixed odd constant).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x2545_f491_4f6c_dd1d
        } else {
            seed
        })
    }
    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}
