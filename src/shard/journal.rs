//! The journal hook: every change to a shard, in the order it happened, as
//! the commands that replay it.
//!
//! ```text
//!  shard command (inline, hopped, a split part, an EXEC job) ─┐
//!  FLUSHALL / FLUSHDB / SWAPDB on every shard (one txid) ─────┤
//!  expiry (lazy, active cycle) and eviction (storage::events) ┴─► Journal::record
//!                                                                 └─► sink(shard, &Record)
//!  per-shard streams ──merge()──► one stream (a global operation once, where
//!                                  every shard reached it)
//! ```
//!
//! A record names its database, an event class (the command's group:
//! `string`, `list`, `hash`... or `expired` / `evicted`), and the command as
//! it must be replayed: random and time-dependent commands record their
//! effect instead of themselves ([`record_instead`]), as Redis propagates
//! SPOP as SREM and EXPIRE as PEXPIREAT; keys the keyspace deletes by itself
//! are recorded as DEL. Records of one shard are in that shard's execution
//! order; records of different shards concern different keys and commute,
//! except the operations every shard records with one transaction id,
//! which [`merge`] keeps in place across the streams.
//!
//! The hook is [`super::Shard::wrote`] for a command that ran on the shard
//! and [`super::Shard::key_changed`] for keys changed by work it did not see
//! step by step. Its consumers: clients WATCHing the keys (EXEC fails),
//! clients tracking them (invalidations), and the sink of this module,
//! where the append-only file, replication and keyspace notifications
//! attach. Blocked clients are woken from the storage layer instead, where a
//! key is created or a stream grows (as Redis signals readiness in dbAdd),
//! which the hook sees only as whole commands.
//!
//! With no sink, and nobody WATCHing or tracking, the hook costs two flag
//! tests per write.
//! Work the journal does not see step by step records the resulting state
//! of the keys it touched ([`Journal::record_state`]): a coordinated
//! command's keys once it is done, under its locks (cross-shard RENAME,
//! COPY, SMOVE, LMOVE, the STORE commands, MSETNX...), and a key a pop
//! served a blocked client from.

use super::txn::TxId;
use crate::storage::events::{self, Cause, Deletion};
use std::cell::RefCell;
use std::sync::Arc;

/// One change, as the command that replays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Database index.
    pub db: usize,
    /// Event class: the command group (`string`, `list`, `hash`, `set`,
    /// `sorted-set`, `stream`, `bitmap`, `generic`...), or `expired` /
    /// `evicted` for deletions the keyspace made by itself.
    pub class: &'static str,
    /// The command to replay, arguments included.
    pub cmd: Vec<Vec<u8>>,
    /// For an operation every shard records (FLUSHALL, FLUSHDB, SWAPDB):
    /// the transaction that ran it, the same on every shard.
    pub everywhere: Option<TxId>,
}

/// Where the records of an engine go: called on the recording shard's core
/// with the shard's index.
pub type Sink = Arc<dyn Fn(usize, &Record) + Send + Sync>;

/// One shard's journal hook.
#[derive(Default)]
pub struct Journal {
    shard: usize,
    sink: Option<Sink>,
    deletions: Vec<Deletion>,
}

thread_local! {
    static INSTEAD: RefCell<Option<Vec<Vec<Vec<u8>>>>> = const { RefCell::new(None) };
}

/// True when the running shard's changes are recorded (handlers check it
/// before they build a [`record_instead`]).
#[inline]
pub fn active() -> bool {
    events::active()
}

/// Called by a command handler whose effect must be recorded as other
/// commands than itself (SPOP as SREM, EXPIRE as PEXPIREAT...).
pub fn record_instead(cmds: Vec<Vec<Vec<u8>>>) {
    if active() {
        INSTEAD.with(|c| *c.borrow_mut() = Some(cmds));
    }
}

/// Builds a command from its parts (for [`record_instead`]).
pub fn cmd<const N: usize>(parts: [&[u8]; N]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// The replacement a handler set, if any (cleared).
fn take_instead() -> Option<Vec<Vec<Vec<u8>>>> {
    INSTEAD.with(|c| c.borrow_mut().take())
}

/// Forgets what a handler asked to record (its command changed nothing).
pub fn discard_instead() {
    if active() {
        INSTEAD.with(|c| c.borrow_mut().take());
    }
}

impl Journal {
    /// Shard `shard`'s hook, sending to `sink`; keeps this thread's
    /// keyspace deletions while there is one (call on the shard's core).
    pub fn new(shard: usize, sink: Option<Sink>) -> Journal {
        events::enable(sink.is_some());
        Journal {
            shard,
            sink,
            deletions: Vec::new(),
        }
    }

    /// True when there is a sink.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    fn send(&self, r: &Record) {
        if let Some(s) = &self.sink {
            s(self.shard, r);
        }
    }

    /// Sends each of `cmds` as a record of this shard alone.
    fn send_commands(&self, db: usize, class: &'static str, cmds: Vec<Vec<Vec<u8>>>) {
        for cmd in cmds {
            self.send(&Record {
                db,
                class,
                cmd,
                everywhere: None,
            });
        }
    }

    /// Records the deletions the keyspace made by itself since the last
    /// record, as DEL.
    pub fn flush_deletions(&mut self) {
        if self.sink.is_none() {
            return;
        }
        events::take(&mut self.deletions);
        for (db, key, cause) in std::mem::take(&mut self.deletions) {
            self.send(&Record {
                db,
                class: match cause {
                    Cause::Expired => "expired",
                    Cause::Evicted => "evicted",
                },
                cmd: vec![b"DEL".to_vec(), key],
                everywhere: None,
            });
        }
    }

    /// Records a command that changed database `db` of this shard: `args`,
    /// or what its handler asked to record instead.
    pub fn record_command<'a>(
        &mut self,
        db: usize,
        class: &'static str,
        args: impl Iterator<Item = &'a [u8]>,
    ) {
        if self.sink.is_none() {
            return;
        }
        self.flush_deletions();
        let cmds = take_instead().unwrap_or_else(|| vec![args.map(|a| a.to_vec()).collect()]);
        self.send_commands(db, class, cmds);
    }

    /// Records the whole state of `key` in database `db` (absent when
    /// `entry` is None) as DEL and the commands that rebuild it: for a key
    /// changed by work the journal did not see step by step (a cross-shard
    /// command's hops, a pop serving a blocked client).
    pub fn record_state(&mut self, db: usize, key: &[u8], entry: Option<&crate::storage::Entry>) {
        if self.sink.is_none() {
            return;
        }
        self.flush_deletions();
        let class = entry.map_or("generic", |e| match e.value.type_name() {
            "zset" => "sorted-set",
            t => t,
        });
        let mut cmds = vec![vec![b"DEL".to_vec(), key.to_vec()]];
        if let Some(e) = entry {
            cmds.extend(crate::storage::rewrite::rebuild(key, e));
        }
        self.send_commands(db, class, cmds);
    }

    /// Records this shard's part of an operation of every shard (FLUSHALL,
    /// FLUSHDB, SWAPDB) run by transaction `tx`.
    pub fn record_everywhere(&mut self, db: usize, tx: TxId, cmd: Vec<Vec<u8>>) {
        if self.sink.is_none() {
            return;
        }
        self.flush_deletions();
        self.send(&Record {
            db,
            class: "generic",
            cmd,
            everywhere: Some(tx),
        });
    }
}

/// Merges the shards' streams into one that replays to the same data: the
/// records of each stream in their order, interleaved freely (they touch
/// different keys), except that an operation of every shard is emitted
/// once, when every stream has reached it. None when the streams disagree
/// on those operations (a stream ends, or names another one, where the
/// others wait at one).
pub fn merge(streams: Vec<Vec<Record>>) -> Option<Vec<Record>> {
    let mut pos = vec![0usize; streams.len()];
    let mut out = Vec::new();
    loop {
        // Everything up to each stream's next global operation.
        for (s, st) in streams.iter().enumerate() {
            while let Some(r) = st.get(pos[s]) {
                if r.everywhere.is_some() {
                    break;
                }
                out.push(r.clone());
                pos[s] += 1;
            }
        }
        let heads: Vec<Option<&Record>> =
            streams.iter().zip(&pos).map(|(st, &p)| st.get(p)).collect();
        if heads.iter().all(|h| h.is_none()) {
            return Some(out);
        }
        let first = heads.iter().flatten().next()?;
        if !heads
            .iter()
            .all(|h| h.is_some_and(|r| r.everywhere == first.everywhere))
        {
            return None;
        }
        out.push((*first).clone());
        for p in pos.iter_mut() {
            *p += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cmd: &str, everywhere: Option<TxId>) -> Record {
        Record {
            db: 0,
            class: "string",
            cmd: cmd.split(' ').map(|s| s.as_bytes().to_vec()).collect(),
            everywhere,
        }
    }

    #[test]
    fn merge_keeps_each_stream_in_order_and_global_operations_once() {
        let a = vec![
            rec("SET a 1", None),
            rec("FLUSHALL", Some(7)),
            rec("SET a 2", None),
        ];
        let b = vec![
            rec("SET b 1", None),
            rec("SET b 2", None),
            rec("FLUSHALL", Some(7)),
        ];
        let m = merge(vec![a, b]).unwrap();
        let text: Vec<String> = m
            .iter()
            .map(|r| String::from_utf8_lossy(&r.cmd.join(&b' ')).into_owned())
            .collect();
        assert_eq!(
            text,
            ["SET a 1", "SET b 1", "SET b 2", "FLUSHALL", "SET a 2"]
        );
        // A stream that never reaches the other's global operation.
        assert!(merge(vec![vec![rec("FLUSHALL", Some(1))], vec![]]).is_none());
    }
}
