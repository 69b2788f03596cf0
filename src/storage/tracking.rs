//! Client tracking's table on one shard: which clients read which keys, and
//! which clients want every change under a prefix (BCAST).
//!
//! ```text
//!  read-only command of a tracking client ─► remember(key, client, its core)
//!      (on the shard owning the key, before the read runs there)
//!  any change of a key on this shard (the WATCH hook: writes, expiry,
//!  eviction) ─► modified(key):
//!      keys[key]          ─► one note per client, the entry forgotten
//!      prefixes matching  ─► one BCAST note per client
//!  after the shard work ─► take_outbox() ─► the server sends each note to
//!      its client's core, which checks the client's mode and writes it out
//! ```
//!
//! The table belongs to the core's thread, as the shard does: the hook runs
//! deep in the keyspace (where WATCH is signalled) with only a database at
//! hand. With no reader remembered and no prefix registered on this core,
//! [`modified`] is one predictable branch.
//!
//! Like Redis's, the table is not per database: a key read in one database
//! and written in another is invalidated (clients cache by key name).

use hashbrown::HashMap;
use std::cell::{Cell, RefCell};

/// A tracking client: its id and the core its connection lives on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Reader {
    /// Client id.
    pub id: u64,
    /// The core serving the client.
    pub core: u32,
}

/// One invalidation on its way to a client's core.
#[derive(Debug, PartialEq, Eq)]
pub struct Note {
    /// The tracking client.
    pub client: u64,
    /// The key that changed.
    pub key: Box<[u8]>,
    /// The client whose command changed it (0 outside a client's command):
    /// NOLOOP clients are not told of their own changes.
    pub writer: u64,
    /// Sent for a BCAST prefix (the client must still be in BCAST mode) or
    /// for a remembered read (it must still be in the default mode).
    pub bcast: bool,
}

/// Notes for the clients of each core, filled by [`modified`].
#[derive(Default)]
pub struct Outbox {
    /// `(core, note)` in the order the changes happened.
    pub notes: Vec<(u32, Note)>,
}

/// One shard's tracking state.
#[derive(Default)]
pub struct Table {
    keys: HashMap<Box<[u8]>, Vec<Reader>>,
    items: usize,
    /// BCAST registrations: prefix ─► clients.
    prefixes: Vec<(Box<[u8]>, Vec<Reader>)>,
    outbox: Outbox,
}

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static WRITER: Cell<u64> = const { Cell::new(0) };
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
}

impl Table {
    fn active(&self) -> bool {
        !self.keys.is_empty() || !self.prefixes.is_empty() || !self.outbox.notes.is_empty()
    }

    /// `reader` read `key`; true when this is a new item.
    pub fn remember(&mut self, key: &[u8], reader: Reader) -> bool {
        let list = self.keys.entry_ref(key).or_default();
        if list.iter().any(|r| r.id == reader.id) {
            return false;
        }
        list.push(reader);
        self.items += 1;
        true
    }

    /// `key` changed: a note for each client that read it (the entry is
    /// forgotten) and, when `bcast`, for each client of a matching prefix.
    pub fn modified(&mut self, key: &[u8], writer: u64, bcast: bool) {
        let notes = &mut self.outbox.notes;
        let mut note = |r: &Reader, bcast: bool| {
            notes.push((
                r.core,
                Note {
                    client: r.id,
                    key: key.into(),
                    writer,
                    bcast,
                },
            ))
        };
        if let Some(readers) = self.keys.remove(key) {
            self.items -= readers.len();
            for r in &readers {
                note(r, false);
            }
        }
        if !bcast {
            return;
        }
        for (p, clients) in &self.prefixes {
            if key.starts_with(p) {
                for r in clients {
                    note(r, true);
                }
            }
        }
    }

    /// Registers `reader` for every change under `prefix` (BCAST).
    pub fn add_prefix(&mut self, prefix: &[u8], reader: Reader) {
        match self.prefixes.iter_mut().find(|(p, _)| &**p == prefix) {
            Some((_, list)) => {
                if !list.contains(&reader) {
                    list.push(reader);
                }
            }
            None => self.prefixes.push((prefix.into(), vec![reader])),
        }
    }

    /// Drops every BCAST registration of client `id`.
    pub fn remove_prefixes(&mut self, id: u64) {
        for (_, list) in &mut self.prefixes {
            list.retain(|r| r.id != id);
        }
        self.prefixes.retain(|(_, l)| !l.is_empty());
    }

    /// FLUSHALL / FLUSHDB: every client is told to drop everything, so the
    /// remembered reads go.
    pub fn clear_keys(&mut self) {
        self.keys = HashMap::new();
        self.items = 0;
    }

    /// Invalidates remembered keys (as if they changed) until at most
    /// `keep` remain or `effort` keys went; returns how many went.
    pub fn shrink_to(&mut self, keep: usize, effort: usize) -> usize {
        let mut n = 0;
        while self.keys.len() > keep && n < effort {
            let Some(key) = self.keys.keys().next().cloned() else {
                break;
            };
            self.modified(&key, 0, false);
            n += 1;
        }
        n
    }

    /// Keys remembered, (key, client) items, distinct BCAST prefixes.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.keys.len(), self.items, self.prefixes.len())
    }

    /// The notes gathered since the last call.
    pub fn take_outbox(&mut self) -> Outbox {
        std::mem::take(&mut self.outbox)
    }
}

/// Runs `f` on this core's table and refreshes the fast-path flag.
pub fn with<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    TABLE.with_borrow_mut(|t| {
        let r = f(t);
        ACTIVE.set(t.active());
        r
    })
}

/// True when changes on this core may concern a tracking client.
#[inline]
pub fn active() -> bool {
    ACTIVE.get()
}

/// Names the client whose command runs now on this core (0: none), for
/// NOLOOP.
#[inline]
pub fn set_writer(id: u64) {
    WRITER.set(id);
}

/// `key` changed on this core's shard (a write, an expiry, an eviction).
#[inline]
pub fn modified(key: &[u8]) {
    if active() {
        let writer = WRITER.get();
        with(|t| t.modified(key, writer, true));
    }
}

/// The notes gathered on this core, if any.
#[inline]
pub fn take_outbox() -> Option<Outbox> {
    if !active() {
        return None;
    }
    let o = with(|t| t.take_outbox());
    (!o.notes.is_empty()).then_some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Reader = Reader { id: 7, core: 1 };
    const B: Reader = Reader { id: 9, core: 2 };

    fn keys(o: &Outbox) -> Vec<(u32, u64, &[u8], bool)> {
        o.notes
            .iter()
            .map(|(c, n)| (*c, n.client, &*n.key, n.bcast))
            .collect()
    }

    #[test]
    fn a_change_is_told_once_to_each_reader() {
        let mut t = Table::default();
        assert!(t.remember(b"k", A));
        assert!(!t.remember(b"k", A));
        assert!(t.remember(b"k", B));
        assert!(t.remember(b"other", A));
        assert_eq!(t.sizes(), (2, 3, 0));
        t.modified(b"k", 0, true);
        assert_eq!(
            keys(&t.take_outbox()),
            vec![
                (1, 7, b"k".as_slice(), false),
                (2, 9, b"k".as_slice(), false)
            ]
        );
        assert_eq!(t.sizes(), (1, 1, 0));
        // Forgotten: a second change tells nobody.
        t.modified(b"k", 0, true);
        assert!(t.take_outbox().notes.is_empty());
    }

    #[test]
    fn prefixes_tell_every_matching_change() {
        let mut t = Table::default();
        t.add_prefix(b"user:", A);
        t.add_prefix(b"user:", A);
        t.add_prefix(b"", B);
        assert_eq!(t.sizes(), (0, 0, 2));
        t.modified(b"user:1", 42, true);
        t.modified(b"item:1", 42, true);
        t.modified(b"user:2", 42, false);
        let o = t.take_outbox();
        assert_eq!(
            keys(&o),
            vec![
                (1, 7, b"user:1".as_slice(), true),
                (2, 9, b"user:1".as_slice(), true),
                (2, 9, b"item:1".as_slice(), true),
            ]
        );
        assert!(o.notes.iter().all(|(_, n)| n.writer == 42));
        t.remove_prefixes(7);
        assert_eq!(t.sizes(), (0, 0, 1));
        t.remove_prefixes(9);
        assert!(!t.active());
    }

    #[test]
    fn shrinking_invalidates_the_keys_it_drops() {
        let mut t = Table::default();
        for k in [b"a", b"b", b"c"] {
            t.remember(k, A);
        }
        assert_eq!(t.shrink_to(1, 100), 2);
        assert_eq!(t.sizes(), (1, 1, 0));
        assert_eq!(t.take_outbox().notes.len(), 2);
        t.clear_keys();
        assert_eq!(t.sizes(), (0, 0, 0));
    }
}
