//! Storage: per-shard keyspace tables, value encodings and expiry.
//!
//! ```text
//!  Shard ── dbs[0..databases] ── Db ── per-slot hash tables ── Entry { Value, expire, lru, freq }
//! ```

pub mod bytes;
pub mod db;
pub mod value;

pub use bytes::SmallBytes;
pub use db::{Db, Entry, ScanPart, ScanSlot, merge_scan};
pub use value::Value;
