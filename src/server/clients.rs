//! The registry of clients connected to one core (CLIENT LIST, KILL, INFO).

use crate::runtime::Socket;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::Instant;

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
    /// Bytes allocated for replies not yet handed to the socket.
    pub reply_alloc: usize,
    /// This client's memory when it last made its core weigh its clients
    /// against `maxmemory-clients`.
    pub weighed_at: usize,
    /// Commands queued in MULTI, -1 outside a transaction.
    pub multi: i64,
    /// CLIENT NO-EVICT.
    pub no_evict: bool,
    /// CLIENT NO-TOUCH.
    pub no_touch: bool,
    /// Waiting in a blocking command (flag `b`).
    pub blocked: bool,
    /// Channels subscribed to (`sub=`).
    pub sub: usize,
    /// Patterns subscribed to (`psub=`).
    pub psub: usize,
    /// Shard channels subscribed to (`ssub=`).
    pub ssub: usize,
    /// Authenticated user.
    pub user: String,
}

/// A connection as the registry sees it.
pub struct ClientHandle {
    /// Displayed information.
    pub info: RefCell<ClientInfo>,
    /// Set by CLIENT KILL; the connection closes at its next step.
    pub killed: Cell<bool>,
    /// The connection's socket: anything on this core may queue output to it.
    pub socket: Socket,
    /// Since when the pending output has been over the soft limit.
    pub soft_limit_since: Cell<Option<Instant>>,
    /// Pub/sub subscriptions (and messages held while one is confirmed).
    pub subs: RefCell<crate::server::pubsub::ClientSubs>,
    /// CLIENT TRACKING mode (None while tracking is off).
    pub tracking: RefCell<Option<crate::server::tracking::ClientTracking>>,
    /// Invalidations held while the connection's replies are being made.
    pub held: RefCell<crate::server::tracking::Held>,
}

impl ClientHandle {
    /// This client's CLIENT LIST line.
    pub fn describe(&self) -> String {
        format_client(
            &self.info.borrow(),
            self.socket.pending_output(),
            self.memory(),
        )
    }

    /// Bytes this client holds, as allocated: its query buffer, the
    /// connection's reply buffers and the socket's queued and in-flight
    /// output (what Redis counts as a client's memory, and what
    /// `maxmemory-clients` limits).
    pub fn memory(&self) -> usize {
        let i = self.info.borrow();
        let held = i.qbuf + i.qbuf_free + i.reply_alloc + self.socket.buffer_capacity();
        held.max(i.qbuf + i.qbuf_free + self.socket.pending_output())
    }

    /// True while the client is subscribed to anything (flag `P`, the
    /// `pubsub` output-buffer class).
    pub fn subscribed(&self) -> bool {
        let i = self.info.borrow();
        i.sub + i.psub + i.ssub > 0
    }

    /// Marks the client killed and ends its input, which wakes its task.
    pub fn kill(&self) {
        self.killed.set(true);
        self.socket.shutdown_input();
    }
}

/// Clients of one core, by id.
#[derive(Default)]
pub struct Clients {
    /// Registered clients.
    pub map: BTreeMap<u64, Rc<ClientHandle>>,
    /// A client grew past [`MEMORY_CHECK_FLOOR`] under `maxmemory-clients`
    /// during this loop turn: the turn's end weighs the clients again.
    pub check_memory: bool,
}

/// Clients holding less than this do not trigger a `maxmemory-clients`
/// check of their own (the periodic check still counts them), as Redis
/// leaves clients under 32 KiB in its lowest memory bucket.
pub const MEMORY_CHECK_FLOOR: usize = 32 * 1024;

impl Clients {
    /// Adds a client.
    pub fn add(&mut self, h: Rc<ClientHandle>) {
        let id = h.info.borrow().id;
        self.map.insert(id, h);
    }
    /// Removes a client; true if it was registered.
    pub fn remove(&mut self, id: u64) -> bool {
        self.map.remove(&id).is_some()
    }
}

/// The `flags=` field of CLIENT LIST (Redis's letters; `N` when none).
pub fn client_flags(c: &ClientInfo) -> String {
    let mut f = String::new();
    if c.sub + c.psub + c.ssub > 0 {
        f.push('P');
    }
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

/// Size of the fixed reply buffer Redis reports as `obl`; output beyond it is
/// reported as `oll` (16 KiB blocks) and `omem`.
const REPLY_CHUNK: usize = 16 * 1024;

/// Formats one CLIENT LIST line (without the trailing newline); `pending`
/// is the client's unsent output, `memory` all it holds (`tot-mem`).
///
/// The line is Redis 7.0's; a client that used CLIENT SETINFO (a 7.2 command)
/// also gets 7.2's `lib-name=` and `lib-ver=` fields at the end.
pub fn format_client(c: &ClientInfo, pending: usize, memory: usize) -> String {
    let now = Instant::now();
    let obl = pending.min(REPLY_CHUNK);
    let omem = pending - obl;
    let oll = omem.div_ceil(REPLY_CHUNK);
    let mut line = format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events=r cmd={} user={} redir=-1 resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        c.name,
        now.duration_since(c.created).as_secs(),
        now.duration_since(c.last_interaction).as_secs(),
        client_flags(c),
        c.db,
        c.sub,
        c.psub,
        c.ssub,
        c.multi,
        c.qbuf,
        c.qbuf_free,
        c.qbuf + c.qbuf_free,
        c.qbuf + c.qbuf_free,
        obl,
        oll,
        omem,
        memory,
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
            reply_alloc: 0,
            weighed_at: 0,
            multi: -1,
            no_evict: false,
            no_touch: false,
            blocked: false,
            sub: 0,
            psub: 0,
            ssub: 0,
            user: "default".into(),
        }
    }

    #[test]
    fn list_line() {
        let mut c = info();
        let l = format_client(&c, 0, 0);
        assert!(l.starts_with(
            "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name=x age=0 idle=0 flags=N db=2 "
        ));
        assert!(l.ends_with("cmd=client|list user=default redir=-1 resp=3"));
        c.no_evict = true;
        c.no_touch = true;
        assert_eq!(client_flags(&c), "eT");
        c.psub = 1;
        c.multi = 0;
        assert_eq!(client_flags(&c), "PxeT");
        assert!(format_client(&c, 0, 0).contains(" sub=0 psub=1 ssub=0 multi=0 "));
    }
}
