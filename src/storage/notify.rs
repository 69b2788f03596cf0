//! Keyspace notifications (`notify-keyspace-events`): which classes are on,
//! and the events the keyspace raises while a command or a cycle runs.
//!
//! ```text
//!  CONFIG SET notify-keyspace-events ─► parse ─► each core's thread (publish)
//!  handler / expiry / eviction ─► emit(class, event, db, key)
//!     class off ─► nothing (one thread-local read)
//!     on ─► kept here ─► the core publishes them after the shard work
//!           (`__keyspace@<db>__:<key>` <event>, `__keyevent@<db>__:<event>` <key>)
//! ```
//!
//! The storage layer knows nothing of pub/sub above it: events wait here,
//! in the order they happened, until the core takes them ([`take`]).

use std::cell::{Cell, RefCell};

/// `K`: `__keyspace@<db>__:<key>` channels.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: `__keyevent@<db>__:<event>` channels.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted-set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: keys whose TTL passed.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: keys evicted under `maxmemory`.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: key misses (not part of `A`).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module events.
pub const MODULE: u32 = 1 << 13;
/// `n`: new keys (not part of `A`).
pub const NEW: u32 = 1 << 14;
/// `A`: every class but key misses and new keys.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The classes a `notify-keyspace-events` string names; None for a
/// character that names none (as Redis refuses it).
pub fn parse(classes: &str) -> Option<u32> {
    let mut flags = 0;
    for c in classes.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The classes as CONFIG GET shows them (Redis's canonical order).
pub fn format(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// One event: its name, database and key, and the channels it goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub event: &'static str,
    pub db: usize,
    pub key: Vec<u8>,
    /// To `__keyspace@<db>__:<key>`.
    pub keyspace: bool,
    /// To `__keyevent@<db>__:<event>`.
    pub keyevent: bool,
}

impl Event {
    /// The (channel, message) pairs this event is published as.
    pub fn messages(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::with_capacity(2);
        if self.keyspace {
            let mut ch = format!("__keyspace@{}__:", self.db).into_bytes();
            ch.extend_from_slice(&self.key);
            out.push((ch, self.event.as_bytes().to_vec()));
        }
        if self.keyevent {
            let ch = format!("__keyevent@{}__:{}", self.db, self.event).into_bytes();
            out.push((ch, self.key.clone()));
        }
        out
    }
}

thread_local! {
    static FLAGS: Cell<u32> = const { Cell::new(0) };
    /// Some event waits in PENDING.
    static ANY: Cell<bool> = const { Cell::new(false) };
    static PENDING: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
}

/// Makes `flags` this thread's classes (the configuration calls it on every
/// core when it changes).
pub fn publish(flags: u32) {
    FLAGS.with(|f| f.set(flags));
}

/// The classes on for this thread when events of `class` are published
/// (a channel kind among them), else None.
#[inline]
fn flags_for(class: u32) -> Option<u32> {
    let f = FLAGS.with(|f| f.get());
    (f & class != 0 && f & (KEYSPACE | KEYEVENT) != 0).then_some(f)
}

/// True when events of `class` are published on this thread.
#[inline]
pub fn on(class: u32) -> bool {
    flags_for(class).is_some()
}

/// Raises an event of `class` on `key` of database `db` (kept when its
/// class is on).
#[inline]
pub fn emit(class: u32, event: &'static str, db: usize, key: &[u8]) {
    let Some(f) = flags_for(class) else {
        return;
    };
    ANY.with(|a| a.set(true));
    PENDING.with(|p| {
        p.borrow_mut().push(Event {
            event,
            db,
            key: key.to_vec(),
            keyspace: f & KEYSPACE != 0,
            keyevent: f & KEYEVENT != 0,
        })
    });
}

/// A read lookup of `key` in database `db` found nothing: the `keymiss`
/// event of class `m` (one thread-local read when that class is off).
#[inline]
pub fn key_miss(db: usize, key: &[u8]) {
    emit(KEY_MISS, "keymiss", db, key);
}

/// True when events wait to be taken.
#[inline]
pub fn pending() -> bool {
    ANY.with(|a| a.get())
}

/// The events raised so far, oldest first (none left here).
pub fn take() -> Vec<Event> {
    ANY.with(|a| a.set(false));
    PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_as_redis_reads_and_shows_them() {
        assert_eq!(parse(""), Some(0));
        assert_eq!(parse("KEA").map(format).as_deref(), Some("AKE"));
        assert_eq!(parse("Kg$").map(format).as_deref(), Some("g$K"));
        assert_eq!(parse("Exn").map(format).as_deref(), Some("xnE"));
        assert_eq!(parse("Am").map(format).as_deref(), Some("Am"));
        assert_eq!(parse("KAn").map(format).as_deref(), Some("AK"));
        assert_eq!(parse("Kq"), None);
    }

    #[test]
    fn events_wait_for_their_core_when_on() {
        publish(0);
        emit(GENERIC, "del", 0, b"k");
        assert!(take().is_empty());
        // A class without K or E publishes nowhere.
        publish(GENERIC);
        emit(GENERIC, "del", 0, b"k");
        assert!(take().is_empty());
        publish(GENERIC | KEYSPACE | KEYEVENT);
        emit(STRING, "set", 0, b"k");
        emit(GENERIC, "del", 3, b"k");
        assert!(pending());
        let got = take();
        assert!(!pending());
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].messages(),
            vec![
                (b"__keyspace@3__:k".to_vec(), b"del".to_vec()),
                (b"__keyevent@3__:del".to_vec(), b"k".to_vec()),
            ]
        );
        assert!(take().is_empty());
        // Key misses only with their class.
        key_miss(0, b"k");
        assert!(take().is_empty());
        publish(KEY_MISS | KEYEVENT);
        key_miss(1, b"k");
        assert_eq!(
            take()[0].messages(),
            vec![(b"__keyevent@1__:keymiss".to_vec(), b"k".to_vec())]
        );
        publish(0);
    }
}
