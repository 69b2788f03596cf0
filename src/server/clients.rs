//! The registry of clients connected to one core (CLIENT LIST, KILL, INFO).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// Next client id, shared by all cores (ids are unique and increasing).
pub static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);
/// Connected clients across all cores (for `maxclients`).
pub static CONNECTED: AtomicUsize = AtomicUsize::new(0);

/// CLIENT PAUSE: Unix ms until which commands are held (0: not paused).
pub static PAUSE_END_MS: AtomicU64 = AtomicU64::new(0);
/// CLIENT PAUSE ALL (true) or WRITE (false).
pub static PAUSE_ALL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Starts or extends a pause: a later end or a stricter mode wins, as in Redis.
pub fn pause(end_ms: u64, all: bool) {
    let cur_end = PAUSE_END_MS.load(Ordering::SeqCst);
    let now = crate::now_ms();
    let active = cur_end > now;
    if !active || all {
        PAUSE_ALL.store(
            all || (active && PAUSE_ALL.load(Ordering::SeqCst)),
            Ordering::SeqCst,
        );
    }
    if !active || end_ms > cur_end {
        PAUSE_END_MS.store(end_ms, Ordering::SeqCst);
    }
}

/// Ends any pause.
pub fn unpause() {
    PAUSE_END_MS.store(0, Ordering::SeqCst);
    PAUSE_ALL.store(false, Ordering::SeqCst);
}

/// Whether a command (`write`: it writes or may replicate) must wait now.
#[inline]
pub fn paused(write: bool) -> bool {
    let end = PAUSE_END_MS.load(Ordering::Relaxed);
    end != 0 && (write || PAUSE_ALL.load(Ordering::Relaxed)) && crate::now_ms() < end
}

/// What CLIENT LIST / CLIENT INFO shows of a connection.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// Unique id.
    pub id: u64,
    /// Peer address `ip:port`.
    pub addr: String,
    /// Local address `ip:port`.
    pub laddr: String,
    /// Socket descriptor.
    pub fd: RawFd,
    /// CLIENT SETNAME.
    pub name: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// Connected at.
    pub created: Instant,
    /// Last command at.
    pub last_interaction: Instant,
    /// Selected database.
    pub db: usize,
    /// Protocol version.
    pub resp: u8,
    /// Last command's full name.
    pub last_cmd: &'static str,
    /// Query buffer bytes in use.
    pub qbuf: usize,
    /// Query buffer bytes free.
    pub qbuf_free: usize,
    /// Output bytes pending.
    pub obl: usize,
    /// Commands queued in MULTI, -1 outside a transaction.
    pub multi: i64,
    /// CLIENT NO-EVICT.
    pub no_evict: bool,
    /// CLIENT NO-TOUCH.
    pub no_touch: bool,
    /// Waiting in a blocking command (flag `b`).
    pub blocked: bool,
    /// Authenticated user.
    pub user: String,
}

/// A connection as the registry sees it.
pub struct ClientHandle {
    /// Displayed information.
    pub info: RefCell<ClientInfo>,
    /// Set by CLIENT KILL; the connection closes at its next step.
    pub killed: Cell<bool>,
}

impl ClientHandle {
    /// Marks the client killed and wakes its pending read by shutting the socket.
    pub fn kill(&self) {
        self.killed.set(true);
        let fd = self.info.borrow().fd;
        // SAFETY: shutdown on a descriptor owned by a live connection of this core;
        // it only ends the stream, the connection task still owns and closes it.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
    }
}

/// Clients of one core, by id.
#[derive(Default)]
pub struct Clients {
    /// Registered clients.
    pub map: BTreeMap<u64, Rc<ClientHandle>>,
}

impl Clients {
    /// Adds a client.
    pub fn add(&mut self, h: Rc<ClientHandle>) {
        let id = h.info.borrow().id;
        self.map.insert(id, h);
        CONNECTED.fetch_add(1, Ordering::Relaxed);
    }
    /// Removes a client.
    pub fn remove(&mut self, id: u64) {
        if self.map.remove(&id).is_some() {
            CONNECTED.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The `flags=` field of CLIENT LIST (Redis's letters; `N` when none).
pub fn client_flags(c: &ClientInfo) -> String {
    let mut f = String::new();
    if c.multi >= 0 {
        f.push('x');
    }
    if c.blocked {
        f.push('b');
    }
    if c.no_evict {
        f.push('e');
    }
    if c.no_touch {
        f.push('T');
    }
    if f.is_empty() {
        f.push('N');
    }
    f
}

/// Formats one CLIENT LIST line (without the trailing newline).
///
/// The line is Redis 7.0's; a client that used CLIENT SETINFO (a 7.2 command)
/// also gets 7.2's `lib-name=` and `lib-ver=` fields at the end.
pub fn format_client(c: &ClientInfo) -> String {
    let now = Instant::now();
    let mut line = format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl={} oll=0 omem=0 tot-mem={} events=r cmd={} user={} redir=-1 resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        c.name,
        now.duration_since(c.created).as_secs(),
        now.duration_since(c.last_interaction).as_secs(),
        client_flags(c),
        c.db,
        c.multi,
        c.qbuf,
        c.qbuf_free,
        c.qbuf + c.qbuf_free,
        c.qbuf + c.qbuf_free,
        c.obl,
        c.qbuf + c.qbuf_free + c.obl,
        if c.last_cmd.is_empty() {
            "NULL"
        } else {
            c.last_cmd
        },
        c.user,
        c.resp,
    );
    if !c.lib_name.is_empty() || !c.lib_ver.is_empty() {
        line.push_str(&format!(" lib-name={} lib-ver={}", c.lib_name, c.lib_ver));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ClientInfo {
        let now = Instant::now();
        ClientInfo {
            id: 7,
            addr: "127.0.0.1:5000".into(),
            laddr: "127.0.0.1:6379".into(),
            fd: 9,
            name: "x".into(),
            lib_name: String::new(),
            lib_ver: String::new(),
            created: now,
            last_interaction: now,
            db: 2,
            resp: 3,
            last_cmd: "client|list",
            qbuf: 0,
            qbuf_free: 0,
            obl: 0,
            multi: -1,
            no_evict: false,
            no_touch: false,
            blocked: false,
            user: "default".into(),
        }
    }

    #[test]
    fn list_line() {
        let mut c = info();
        let l = format_client(&c);
        assert!(l.starts_with(
            "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name=x age=0 idle=0 flags=N db=2 "
        ));
        assert!(l.ends_with("cmd=client|list user=default redir=-1 resp=3"));
        c.no_evict = true;
        c.no_touch = true;
        assert_eq!(client_flags(&c), "eT");
    }

    #[test]
    fn pause_rules() {
        unpause();
        assert!(!paused(true));
        let far = crate::now_ms() + 60_000;
        pause(far, false);
        assert!(paused(true) && !paused(false));
        // A shorter WRITE pause neither shortens nor weakens it; ALL makes it stricter.
        pause(crate::now_ms() + 10, false);
        assert_eq!(PAUSE_END_MS.load(Ordering::SeqCst), far);
        pause(crate::now_ms() + 10, true);
        assert!(paused(false));
        assert_eq!(PAUSE_END_MS.load(Ordering::SeqCst), far);
        unpause();
        assert!(!paused(true) && !paused(false));
    }
}
