//! Storage: per-shard keyspace tables, value encodings and expiry.
//!
//! ```text
//!  Shard ── dbs[0..databases] ── Db ── per-slot tables of nodes ── [Meta, Entry { Value, expire }, key]
//! ```

pub mod bytes;
pub mod db;
pub mod events;
pub mod evict;
pub mod hash;
pub mod lazyfree;
pub mod list;
pub mod notify;
pub mod rdb;
pub mod rewrite;
pub mod set;
pub mod slot;
pub mod stream;
pub mod tracking;
pub mod value;
pub mod zset;

pub use bytes::SmallBytes;
pub use db::{Db, Entry, KeyHint, ScanPart, ScanSlot, merge_scan};
pub use value::Value;
