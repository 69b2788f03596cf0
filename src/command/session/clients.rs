//! The registry of clients connected to one core (CLIENT LIST, KILL, INFO).

use super::SessionCore;
use crate::config::ClientClass;
use crate::metrics;
use crate::runtime::Socket;
use crate::shard::Core;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;
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
    /// Last read from the client, in Unix ms (the wall clock, as Redis
    /// measures `idle` and `timeout`; read once per batch of requests).
    pub last_interaction: u64,
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
    /// In MONITOR mode.
    pub monitor: bool,
}

impl ClientInfo {
    /// Whole seconds since the client was last read from, at `now_ms`
    /// (Unix ms): CLIENT LIST `idle=` and the `timeout` directive.
    pub fn idle_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.last_interaction) / 1000
    }

    /// A client connected now (`addr` from `laddr` on descriptor `fd`):
    /// database 0, RESP2, user `default`, nothing else set yet.
    pub fn new(id: u64, addr: String, laddr: String, fd: RawFd) -> ClientInfo {
        let now = Instant::now();
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            name: String::new(),
            lib_name: String::new(),
            lib_ver: String::new(),
            created: now,
            last_interaction: crate::now_ms(),
            db: 0,
            resp: 2,
            last_cmd: "",
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
            monitor: false,
        }
    }
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
    pub subs: RefCell<crate::command::session::pubsub::ClientSubs>,
    /// CLIENT TRACKING mode (None while tracking is off).
    pub tracking: RefCell<Option<crate::command::session::tracking::ClientTracking>>,
    /// Invalidations held while the connection's replies are being made.
    pub held: RefCell<crate::command::session::tracking::Held>,
}

impl ClientHandle {
    /// A handle for a session that runs a command of client `id` on a core
    /// other than the one it is connected to: not registered anywhere, with
    /// a detached socket (output written to it is dropped).
    pub fn detached(id: u64, db: usize, resp3: bool) -> ClientHandle {
        let mut info = ClientInfo::new(id, String::new(), String::new(), -1);
        info.db = db;
        info.resp = if resp3 { 3 } else { 2 };
        info.user = String::new();
        ClientHandle {
            info: RefCell::new(info),
            killed: Default::default(),
            socket: Socket::detached(),
            soft_limit_since: Default::default(),
            subs: Default::default(),
            tracking: Default::default(),
            held: Default::default(),
        }
    }

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
    if c.monitor {
        f.push('O');
    }
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
        c.idle_secs(crate::now_ms()),
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

/// Checks a client's pending output against its class's
/// `client-output-buffer-limit`; a client over its hard limit, or over its
/// soft limit for longer than allowed, is disconnected at once (its pending
/// output dropped), as Redis does. True when it was.
pub fn enforce_output_limit(core: &Core, h: &ClientHandle) -> bool {
    let pending = h.socket.pending_output() as u64;
    // A subscribed client is in the `pubsub` class, as in Redis.
    let class = if h.subscribed() {
        ClientClass::PubSub
    } else {
        ClientClass::Normal
    };
    let limit = core.config.borrow().output_limits[class as usize];
    let over_hard = limit.hard > 0 && pending >= limit.hard;
    let mut over_soft = false;
    if limit.soft > 0 && pending >= limit.soft {
        let now = Instant::now();
        match h.soft_limit_since.get() {
            None => h.soft_limit_since.set(Some(now)),
            Some(t) => over_soft = now.duration_since(t).as_secs() >= limit.soft_secs,
        }
    } else {
        h.soft_limit_since.set(None);
    }
    if !(over_hard || over_soft) || h.killed.get() {
        return false;
    }
    tracing::warn!(
        "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
        h.describe()
    );
    metrics::with(|s| s.client_output_buffer_limit_disconnections += 1);
    h.killed.set(true);
    h.socket.abort();
    true
}

/// Per-core client housekeeping, every 100 ms: idle clients past `timeout`
/// are closed (blocked clients wait for their own timeout, as in Redis), and
/// soft output-buffer limits are checked for clients that stopped reading.
pub fn clients_cron(core: &Rc<Core>) {
    let timeout = core.config.borrow().timeout;
    let handles: Vec<Rc<ClientHandle>> = core.clients().borrow().map.values().cloned().collect();
    evict_clients(core, &handles);
    let now = crate::now_ms();
    for h in handles {
        if h.socket.pending_output() > 0 {
            enforce_output_limit(core, &h);
        }
        if timeout > 0 {
            // Blocked and subscribed clients are not idle, as in Redis.
            let idle = {
                let i = h.info.borrow();
                !i.blocked && i.sub + i.psub + i.ssub == 0 && i.idle_secs(now) as i64 > timeout
            };
            if idle && !h.killed.get() {
                tracing::debug!("closing idle client {}", h.info.borrow().id);
                h.kill();
            }
        }
    }
}

/// Notes a client that may have grown enough to matter under
/// `maxmemory-clients`, for [`check_client_memory`] at the turn's end.
pub(crate) fn note_client_memory(core: &Core, h: &ClientHandle) {
    if crate::storage::evict::settings().maxmemory_clients > 0 && h.memory() >= MEMORY_CHECK_FLOOR {
        core.clients().borrow_mut().check_memory = true;
    }
}

/// Over `maxmemory` under `maxmemory-clients`: every core weighs its clients
/// at once (evicting the biggest while their total is over the limit);
/// returns the excess left after that plus the memory evicted clients still
/// hold until their connections end (their query buffers), which client
/// eviction is about to free.
pub(super) async fn clients_about_to_free(core: &Rc<Core>) -> u64 {
    let parts = core
        .broadcast(|c| {
            c.clients().borrow_mut().check_memory = true;
            let left = check_client_memory(c);
            let held: u64 = c
                .clients()
                .borrow()
                .map
                .values()
                .filter(|h| h.killed.get())
                .map(|h| h.memory() as u64)
                .sum();
            (left, held)
        })
        .await;
    let left = parts.iter().map(|p| p.0).max().unwrap_or(0);
    left + parts.iter().map(|p| p.1).sum::<u64>()
}

/// Before a command under `maxmemory-clients`: when this client has grown
/// by [`MEMORY_CHECK_FLOOR`](MEMORY_CHECK_FLOOR) since it
/// last did so, weighs the core's clients now, as Redis does before every
/// command (a pipeline of large replies must not wait for the turn's end).
pub(super) fn weigh_before_command(core: &Rc<Core>, h: &ClientHandle, reply_alloc: usize) {
    h.info.borrow_mut().reply_alloc = reply_alloc;
    let mem = h.memory();
    let grown = {
        let mut i = h.info.borrow_mut();
        let grown = mem >= MEMORY_CHECK_FLOOR && mem >= i.weighed_at + MEMORY_CHECK_FLOOR;
        if grown || mem < i.weighed_at {
            i.weighed_at = mem;
        }
        grown
    };
    if grown {
        core.clients().borrow_mut().check_memory = true;
        check_client_memory(core);
    }
}

/// Weighs this core's clients against `maxmemory-clients` when one of them
/// grew during the turn (Redis checks before every command and every
/// event-loop sleep; a turn is this loop's sleep).
pub fn check_client_memory(core: &Rc<Core>) -> u64 {
    let handles: Vec<Rc<ClientHandle>> = {
        let mut c = core.clients().borrow_mut();
        if !c.check_memory {
            return 0;
        }
        c.check_memory = false;
        c.map.values().cloned().collect()
    };
    evict_clients(core, &handles)
}

/// `maxmemory-clients`: publishes what this core's clients hold (in total,
/// and its biggest evictable client) and, when all cores' clients together
/// pass the limit, disconnects this core's clients that are at least as big
/// as every other core's biggest, biggest first, until the excess is covered
/// (clients with CLIENT NO-EVICT stay), as Redis evicts from its largest
/// clients first (INFO `evicted_clients`). Runs every 100 ms and before a
/// command while memory is over `maxmemory`; each core acts on the others'
/// last published figures, so the biggest clients anywhere go first.
///
/// Returns the excess left for other cores, whose biggest clients this core
/// asked to be weighed (0 when the clients are within the limit).
fn evict_clients(core: &Rc<Core>, handles: &[Rc<ClientHandle>]) -> u64 {
    let limit = core.config.borrow().maxmemory_clients();
    let mut candidates: Vec<(u64, &Rc<ClientHandle>)> = handles
        .iter()
        .filter(|h| !h.killed.get() && !h.info.borrow().no_evict)
        .map(|h| (h.memory() as u64, h))
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    // Clients already evicted are on their way out: their memory is not
    // weighed again.
    let own: u64 = handles
        .iter()
        .filter(|h| !h.killed.get())
        .map(|h| h.memory() as u64)
        .sum();
    // The biggest client first: a core that sees this core's new total also
    // sees the client that made it.
    let publish = |own: u64, max: u64| {
        if let Some(c) = core.engine.client_max.get(core.id) {
            c.0.store(max as usize, Ordering::Release);
        }
        if let Some(c) = core.engine.client_mem.get(core.id) {
            c.0.store(own as usize, Ordering::Release);
        }
    };
    publish(own, candidates.first().map_or(0, |c| c.0));
    if limit == 0 {
        return 0;
    }
    let load = |v: &[crate::shard::engine::PaddedCount], skip: Option<usize>| {
        v.iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, c)| c.0.load(Ordering::Acquire) as u64)
            .collect::<Vec<u64>>()
    };
    let total: u64 = load(&core.engine.client_mem, None).iter().sum();
    if total <= limit {
        return 0;
    }
    let others_max = load(&core.engine.client_max, Some(core.id))
        .into_iter()
        .max()
        .unwrap_or(0);
    let mut over = total - limit;
    let mut own = own;
    let mut left = candidates.len();
    for (m, h) in &candidates {
        if over == 0 || *m == 0 || *m < others_max {
            break;
        }
        tracing::info!(
            "Evicting client: {} (maxmemory-clients {limit} reached)",
            h.describe()
        );
        metrics::with(|s| s.evicted_clients += 1);
        // Its buffers go now, unsent output included, as Redis frees an
        // evicted client.
        h.killed.set(true);
        h.socket.abort();
        over = over.saturating_sub(*m);
        own = own.saturating_sub(*m);
        left -= 1;
    }
    let next_max = candidates.get(candidates.len() - left).map_or(0, |c| c.0);
    publish(own, next_max);
    if over > 0 {
        // The rest is for the cores holding bigger clients than ours.
        for (i, m) in load(&core.engine.client_max, None).into_iter().enumerate() {
            if i != core.id && m > next_max {
                core.ask_client_check(i);
            }
        }
    }
    over
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ClientInfo {
        let mut i = ClientInfo::new(7, "127.0.0.1:5000".into(), "127.0.0.1:6379".into(), 9);
        i.name = "x".into();
        i.db = 2;
        i.resp = 3;
        i.last_cmd = "client|list";
        i
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
