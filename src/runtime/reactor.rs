//! The I/O half of a core's loop: one io_uring per thread and the sockets,
//! listeners and files that use it.
//!
//! ```text
//!  ring: SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG, one per core thread
//!
//!  listener ── multishot ACCEPT ──► accepted fds ──► the listener's callback
//!  socket   ── multishot RECV (provided-buffer ring) ──► copied into `inbox`,
//!              buffer recycled at once, reader woken
//!           ◄─ SEND of `sending` (the bytes `out` held at the end of a turn)
//!  file     ── WRITE / FSYNC, one completion each, awaited by a task
//!  wake fd  ── READ of the core's eventfd: another core had work for a parked loop
//!
//!  turn: tasks write replies into `out` and mark the socket dirty ─►
//!        flush(): one SEND per dirty socket ─► enter(): submit + reap in one call
//! ```
//!
//! Received bytes are copied out of the shared buffer ring when their
//! completion is reaped, so a connection that is busy (blocked, waiting for a
//! hop) never holds ring buffers; a connection's unread input is bounded by
//! its `client-query-buffer-limit`, checked here as bytes arrive.
//! Output lives in the socket, not in the task that produced it: anything on
//! this core (a command's reply, a delivery for a blocked client, a push) can
//! append to it, and every dirty socket is flushed in the same loop turn.

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Poll, Waker};
use std::time::Duration;

/// Submission queue entries per ring.
pub const RING_ENTRIES: u32 = 1024;
/// Provided receive buffers per ring (a power of two).
pub const RECV_BUFFERS: u16 = 256;
/// Bytes per provided receive buffer.
pub const RECV_BUFFER_SIZE: usize = 16 * 1024;
/// A sent buffer keeps twice the socket's recent average send, within these
/// bounds: a steady pipeline reuses its buffer, while a one-off large reply
/// (INFO, a big value) does not stay allocated behind small ones, so what a
/// client holds, and `used_memory`, does not swing with its last reply.
const SEND_KEEP_MAX: usize = 16 * 1024;
const SEND_KEEP_MIN: usize = 1024;
/// An input staging buffer grown past this by a burst is given back.
const KEEP_INBOX_CAPACITY: usize = 64 * 1024;
const BUF_GROUP: u16 = 0;
/// Sockets per ring served through the ring's registered file table (the
/// kernel skips the descriptor lookup and reference count per operation);
/// sockets beyond it use their plain descriptor.
const FIXED_FILES: u32 = 16384;

/// One socket's state, shared by its connection task, the reactor and
/// anything on this core that writes to it.
pub struct SockInner {
    fd: RawFd,
    /// The socket's index in the ring's registered file table, if it has one.
    fixed: Cell<Option<u32>>,
    inbox: RefCell<Vec<u8>>,
    input_limit: Cell<usize>,
    /// No more input: the peer closed, an error, or the input limit.
    eof: Cell<bool>,
    /// The input limit was passed (the connection must be dropped).
    overflow: Cell<bool>,
    reader: Cell<Option<Waker>>,
    /// Woken only when input ends (a task that waits for a disconnect).
    end_waiter: Cell<Option<Waker>>,
    out: RefCell<Vec<u8>>,
    sending: RefCell<Vec<u8>>,
    sent: Cell<usize>,
    send_in_flight: Cell<bool>,
    /// Recent average bytes per send (see [`SEND_KEEP_MAX`]).
    send_avg: Cell<usize>,
    dirty: Cell<bool>,
    /// A send failed: the peer is gone, output is dropped.
    broken: Cell<bool>,
    flush_waiter: Cell<Option<Waker>>,
    recv_armed: Cell<bool>,
    ops: Cell<u32>,
    closing: Cell<bool>,
    shut: Cell<bool>,
    closed: Cell<bool>,
}

impl SockInner {
    fn new(fd: RawFd, fixed: Option<u32>, input_limit: usize) -> SockInner {
        SockInner {
            fd,
            fixed: Cell::new(fixed),
            inbox: RefCell::new(Vec::new()),
            input_limit: Cell::new(input_limit),
            eof: Cell::new(false),
            overflow: Cell::new(false),
            reader: Cell::new(None),
            end_waiter: Cell::new(None),
            out: RefCell::new(Vec::new()),
            sending: RefCell::new(Vec::new()),
            sent: Cell::new(0),
            send_in_flight: Cell::new(false),
            send_avg: Cell::new(0),
            dirty: Cell::new(false),
            broken: Cell::new(false),
            flush_waiter: Cell::new(None),
            recv_armed: Cell::new(false),
            ops: Cell::new(0),
            closing: Cell::new(false),
            shut: Cell::new(false),
            closed: Cell::new(false),
        }
    }
}

/// A connected socket served by this thread's ring.
#[derive(Clone)]
pub struct Socket(Rc<SockInner>);

enum Op {
    Accept(Rc<ListenerInner>),
    Recv(Rc<SockInner>),
    Send(Rc<SockInner>),
    Wake,
    Io(Rc<IoOp>),
    /// A buffer the kernel may still read (a write whose future was dropped).
    Orphan(#[allow(dead_code)] Vec<u8>),
}

struct ListenerInner {
    fd: RawFd,
    on_accept: Box<dyn Fn(RawFd)>,
    stopped: Cell<bool>,
}

/// A one-shot operation awaited by a task.
struct IoOp {
    result: Cell<Option<i32>>,
    waker: Cell<Option<Waker>>,
    buf: RefCell<Vec<u8>>,
}

struct BufRing {
    entries: *mut types::BufRingEntry,
    ring_layout: std::alloc::Layout,
    data: IoArena,
    tail: u16,
}

/// The receive buffers' memory, mapped directly rather than taken from the
/// allocator: a fixed I/O pool like the kernel's socket buffers, it is not
/// counted in `used_memory` (so `maxmemory` is about data and clients, not a
/// constant 4 MiB per core), and its pages cost RSS only once touched.
struct IoArena {
    ptr: *mut u8,
    len: usize,
}

impl IoArena {
    fn new(len: usize) -> std::io::Result<IoArena> {
        // SAFETY: an anonymous private mapping with no address hint; the
        // result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(IoArena {
            ptr: p as *mut u8,
            len,
        })
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes (zero-filled at first) for
        // the arena's whole life; the kernel writes into a buffer only while
        // it is handed out, and a buffer is read only after its completion.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for IoArena {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

struct Reactor {
    ring: RefCell<IoUring>,
    ops: RefCell<Vec<Option<Op>>>,
    free_ops: RefCell<Vec<u32>>,
    bufs: RefCell<BufRing>,
    dirty: RefCell<Vec<Rc<SockInner>>>,
    rearm: RefCell<Vec<Rc<SockInner>>>,
    accepted: RefCell<Vec<(Rc<ListenerInner>, RawFd)>>,
    wake_fd: Cell<RawFd>,
    wake_buf: Box<Cell<u64>>,
    /// Parked cores to wake (ring, eventfd), posted after this turn's sends.
    wake_rings: RefCell<Vec<(RawFd, RawFd)>>,
    open: RefCell<hashbrown::HashMap<RawFd, std::rc::Weak<SockInner>>>,
    listeners: RefCell<Vec<Rc<ListenerInner>>>,
    /// Free indexes of the registered file table (empty when the kernel
    /// refused the table: every socket then uses its descriptor).
    fixed_free: RefCell<Vec<u32>>,
    /// Completions copied out of the queue, kept between turns so reaping
    /// allocates nothing.
    reaped: RefCell<Vec<(u64, i32, u32)>>,
}

thread_local! {
    static REACTOR: RefCell<Option<Rc<Reactor>>> = const { RefCell::new(None) };
}

fn reactor() -> Rc<Reactor> {
    REACTOR.with(|r| {
        r.borrow()
            .clone()
            .expect("no io_uring reactor on this thread (runtime::init not called)")
    })
}

/// Creates this thread's ring and receive buffers.
pub fn init() -> std::io::Result<()> {
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .setup_cqsize(RING_ENTRIES * 8)
        .setup_submit_all()
        .build(RING_ENTRIES)?;
    let n = RECV_BUFFERS as usize;
    let ring_layout =
        std::alloc::Layout::from_size_align(n * std::mem::size_of::<types::BufRingEntry>(), 4096)
            .map_err(std::io::Error::other)?;
    // SAFETY: the layout has a non-zero size; zeroed memory is a valid ring of
    // empty entries (tail 0).
    let entries = unsafe { std::alloc::alloc_zeroed(ring_layout) } as *mut types::BufRingEntry;
    if entries.is_null() {
        return Err(std::io::Error::other("cannot allocate the buffer ring"));
    }
    // SAFETY: `entries` is page-aligned, holds RECV_BUFFERS entries and lives
    // as long as the reactor, which unregisters it before freeing (Drop).
    let reg = unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(entries as u64, RECV_BUFFERS, BUF_GROUP, 0)
    };
    if let Err(e) = reg {
        // SAFETY: allocated above with this layout, never registered.
        unsafe { std::alloc::dealloc(entries as *mut u8, ring_layout) };
        return Err(e);
    }
    let mut bufs = BufRing {
        entries,
        ring_layout,
        data: IoArena::new(n * RECV_BUFFER_SIZE)?,
        tail: 0,
    };
    for bid in 0..RECV_BUFFERS {
        bufs.give(bid);
    }
    bufs.publish();
    // A sparse table: entries are filled as sockets arrive.
    let fixed_free = match ring.submitter().register_files_sparse(FIXED_FILES) {
        Ok(()) => (0..FIXED_FILES).rev().collect(),
        Err(e) => {
            tracing::debug!("io_uring registered files unavailable ({e}); using plain descriptors");
            Vec::new()
        }
    };
    let r = Rc::new(Reactor {
        ring: RefCell::new(ring),
        ops: RefCell::new(Vec::new()),
        free_ops: RefCell::new(Vec::new()),
        bufs: RefCell::new(bufs),
        dirty: RefCell::new(Vec::new()),
        rearm: RefCell::new(Vec::new()),
        accepted: RefCell::new(Vec::new()),
        wake_fd: Cell::new(-1),
        wake_buf: Box::new(Cell::new(0)),
        wake_rings: RefCell::new(Vec::new()),
        open: RefCell::new(hashbrown::HashMap::new()),
        listeners: RefCell::new(Vec::new()),
        fixed_free: RefCell::new(fixed_free),
        reaped: RefCell::new(Vec::new()),
    });
    REACTOR.with(|x| *x.borrow_mut() = Some(r));
    Ok(())
}

/// The descriptor of this thread's ring (what [`wake_ring_later`] on
/// another thread names to wake it).
pub fn ring_fd() -> RawFd {
    use std::os::fd::AsRawFd;
    reactor().ring.borrow().as_raw_fd()
}

/// High half of the `user_data` of a wake-up message (the low half is the
/// woken core's eventfd): the completion it posts into the woken ring names
/// no operation there and only ends the wait; the sender's own completion
/// comes only on failure (`SKIP_SUCCESS`), and then the eventfd is written.
const RING_WAKE: u64 = 0xffff_ffff << 32;

/// Wakes the thread whose ring is `ring` (see [`ring_fd`]) with a message
/// posted from this thread's ring at its next submission, after the sends
/// this turn has queued: a woken core that runs at once on the same CPU
/// does not hold back this one's replies. Should the message fail, the
/// woken thread's `eventfd` is written instead. False (nothing queued) when
/// this thread has no ring.
pub fn wake_ring_later(ring: RawFd, eventfd: RawFd) -> bool {
    REACTOR.with(|r| match &*r.borrow() {
        Some(r) => {
            r.wake_rings.borrow_mut().push((ring, eventfd));
            true
        }
        None => false,
    })
}

/// Wake-ups queued by [`wake_ring_later`] and not yet submitted.
#[cfg(test)]
pub fn queued_wakes() -> usize {
    reactor().wake_rings.borrow().len()
}

/// Closes every socket and listener of this thread and drops the ring.
pub fn shutdown() {
    let Some(r) = REACTOR.with(|x| x.borrow_mut().take()) else {
        return;
    };
    // An armed operation holds its file until the ring is torn down, which
    // the kernel finishes in the background: shut the sockets first so the
    // port and the connections end now.
    for l in r.listeners.borrow().iter() {
        l.stopped.set(true);
        // SAFETY: shutting down and closing a listening descriptor this
        // reactor owns, once.
        unsafe {
            libc::shutdown(l.fd, libc::SHUT_RDWR);
            libc::close(l.fd);
        }
    }
    let open: Vec<_> = r.open.borrow_mut().drain().collect();
    for (fd, s) in open {
        if let Some(s) = s.upgrade() {
            s.closed.set(true);
        }
        // SAFETY: the socket is registered as open here and closed once.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
            libc::close(fd);
        }
    }
    drop(r);
}

impl BufRing {
    fn give(&mut self, bid: u16) {
        let mask = RECV_BUFFERS - 1;
        // SAFETY: `tail & mask` indexes the RECV_BUFFERS entries of the ring;
        // the kernel reads an entry only after the tail is published past it.
        let e = unsafe { &mut *self.entries.add((self.tail & mask) as usize) };
        e.set_addr(self.data.bytes()[bid as usize * RECV_BUFFER_SIZE..].as_ptr() as u64);
        e.set_len(RECV_BUFFER_SIZE as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }
    fn publish(&self) {
        // SAFETY: the tail field lives in the first entry of the registered ring
        // and is shared with the kernel as a 16-bit atomic.
        unsafe {
            let tail = types::BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
    fn slice(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * RECV_BUFFER_SIZE;
        &self.data.bytes()[start..start + len.min(RECV_BUFFER_SIZE)]
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        let _ = self
            .ring
            .borrow()
            .submitter()
            .unregister_buf_ring(BUF_GROUP);
        let b = self.bufs.borrow();
        // SAFETY: the ring memory was allocated in init with this layout and
        // the kernel no longer references it (unregistered above).
        unsafe { std::alloc::dealloc(b.entries as *mut u8, b.ring_layout) };
    }
}

impl Reactor {
    fn add_op(&self, op: Op) -> u64 {
        let mut ops = self.ops.borrow_mut();
        match self.free_ops.borrow_mut().pop() {
            Some(i) => {
                ops[i as usize] = Some(op);
                i as u64
            }
            None => {
                ops.push(Some(op));
                (ops.len() - 1) as u64
            }
        }
    }
    fn take_op(&self, i: u64) -> Option<Op> {
        let op = self.ops.borrow_mut().get_mut(i as usize)?.take();
        if op.is_some() {
            self.free_ops.borrow_mut().push(i as u32);
        }
        op
    }
    fn push(&self, sqe: squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        loop {
            // SAFETY: every buffer an entry points to is owned by the op slab
            // entry named by its user_data until the completion is reaped.
            if unsafe { ring.submission().push(&sqe) }.is_ok() {
                return;
            }
            if let Err(e) = ring.submit() {
                tracing::warn!("io_uring submit failed with a full queue: {e}");
            }
        }
    }
    fn arm_recv(&self, s: &Rc<SockInner>) {
        if s.recv_armed.get() || s.eof.get() || s.closing.get() || s.closed.get() {
            return;
        }
        s.recv_armed.set(true);
        s.ops.set(s.ops.get() + 1);
        let id = self.add_op(Op::Recv(s.clone()));
        let sqe = match s.fixed.get() {
            Some(i) => opcode::RecvMulti::new(types::Fixed(i), BUF_GROUP).build(),
            None => opcode::RecvMulti::new(types::Fd(s.fd), BUF_GROUP).build(),
        }
        .user_data(id);
        self.push(sqe);
    }
    fn arm_accept(&self, l: &Rc<ListenerInner>) {
        let id = self.add_op(Op::Accept(l.clone()));
        self.push(
            opcode::AcceptMulti::new(types::Fd(l.fd))
                .flags(libc::SOCK_CLOEXEC)
                .build()
                .user_data(id),
        );
    }
    fn arm_wake(&self) {
        let fd = self.wake_fd.get();
        if fd < 0 {
            return;
        }
        let id = self.add_op(Op::Wake);
        self.push(
            opcode::Read::new(types::Fd(fd), self.wake_buf.as_ptr() as *mut u8, 8)
                .build()
                .user_data(id),
        );
    }
    fn send(&self, s: &Rc<SockInner>) {
        let (ptr, len) = {
            let b = s.sending.borrow();
            let off = s.sent.get();
            (
                b[off..].as_ptr(),
                (b.len() - off).min(u32::MAX as usize) as u32,
            )
        };
        s.send_in_flight.set(true);
        s.ops.set(s.ops.get() + 1);
        let id = self.add_op(Op::Send(s.clone()));
        let sqe = match s.fixed.get() {
            Some(i) => opcode::Send::new(types::Fixed(i), ptr, len)
                .flags(libc::MSG_NOSIGNAL)
                .build(),
            None => opcode::Send::new(types::Fd(s.fd), ptr, len)
                .flags(libc::MSG_NOSIGNAL)
                .build(),
        };
        self.push(sqe.user_data(id));
    }
    /// Starts a send for a dirty socket, or finishes its close.
    fn flush_one(&self, s: &Rc<SockInner>) {
        s.dirty.set(false);
        if s.closed.get() || s.shut.get() {
            return;
        }
        if s.broken.get() {
            *s.out.borrow_mut() = Vec::new();
        }
        if !s.send_in_flight.get() && !s.out.borrow().is_empty() {
            std::mem::swap(&mut *s.out.borrow_mut(), &mut *s.sending.borrow_mut());
            s.sent.set(0);
            self.send(s);
        }
        if s.closing.get() && !s.send_in_flight.get() {
            self.shut(s);
        }
    }
    /// Gives `fd` an entry of the registered file table, if one is free.
    fn fix(&self, fd: RawFd) -> Option<u32> {
        let i = self.fixed_free.borrow_mut().pop()?;
        match self
            .ring
            .borrow()
            .submitter()
            .register_files_update(i, &[fd])
        {
            Ok(1) => Some(i),
            _ => {
                self.fixed_free.borrow_mut().push(i);
                None
            }
        }
    }
    /// Empties entry `i` of the registered file table (its socket is closing
    /// and no operation uses it) and makes it free again.
    fn unfix(&self, i: u32) {
        let cleared = self
            .ring
            .borrow()
            .submitter()
            .register_files_update(i, &[-1]);
        // An entry the kernel did not clear still holds the old file: never
        // hand it out again.
        if cleared.is_ok() {
            self.fixed_free.borrow_mut().push(i);
        }
    }
    fn shut(&self, s: &Rc<SockInner>) {
        if !s.shut.get() {
            s.shut.set(true);
            // SAFETY: shutdown on the socket this SockInner owns; it ends any
            // armed receive, whose completion lets the descriptor be closed.
            unsafe { libc::shutdown(s.fd, libc::SHUT_RDWR) };
        }
        self.maybe_close(s);
    }
    fn maybe_close(&self, s: &Rc<SockInner>) {
        if s.shut.get() && s.ops.get() == 0 && !s.closed.get() {
            s.closed.set(true);
            self.open.borrow_mut().remove(&s.fd);
            if let Some(i) = s.fixed.take() {
                self.unfix(i);
            }
            // SAFETY: no operation references the descriptor any more and it is
            // closed exactly once (the `closed` flag).
            unsafe { libc::close(s.fd) };
            if let Some(w) = s.flush_waiter.take() {
                w.wake();
            }
        }
    }
    fn complete(&self, user_data: u64, res: i32, flags: u32) {
        if user_data & RING_WAKE == RING_WAKE {
            // Another core's wake-up (res 0), or one of ours that failed.
            if res < 0 {
                kick_eventfd((user_data & 0xffff_ffff) as RawFd);
            }
            return;
        }
        let more = cqueue::more(flags);
        let op = if more {
            // A multishot operation keeps its slot until its last completion.
            match self.ops.borrow().get(user_data as usize) {
                Some(Some(Op::Recv(s))) => Some(Op::Recv(s.clone())),
                Some(Some(Op::Accept(l))) => Some(Op::Accept(l.clone())),
                _ => None,
            }
        } else {
            self.take_op(user_data)
        };
        match op {
            Some(Op::Recv(s)) => self.on_recv(&s, res, flags, more),
            Some(Op::Send(s)) => self.on_send(&s, res),
            Some(Op::Accept(l)) => {
                if res >= 0 {
                    if l.stopped.get() {
                        // SAFETY: a descriptor accepted after the listener stopped.
                        unsafe { libc::close(res) };
                    } else {
                        self.accepted.borrow_mut().push((l.clone(), res));
                    }
                } else if res != -libc::ECANCELED && !l.stopped.get() {
                    tracing::warn!("accept failed: {}", std::io::Error::from_raw_os_error(-res));
                }
                if !more && !l.stopped.get() {
                    self.arm_accept(&l);
                }
            }
            Some(Op::Wake) => self.arm_wake(),
            Some(Op::Io(op)) => {
                op.result.set(Some(res));
                if let Some(w) = op.waker.take() {
                    w.wake();
                }
            }
            Some(Op::Orphan(_)) | None => {}
        }
    }
    fn on_recv(&self, s: &Rc<SockInner>, res: i32, flags: u32, more: bool) {
        if res > 0 {
            if let Some(bid) = cqueue::buffer_select(flags) {
                let mut bufs = self.bufs.borrow_mut();
                if !s.eof.get() {
                    let mut inbox = s.inbox.borrow_mut();
                    inbox.extend_from_slice(bufs.slice(bid, res as usize));
                    if inbox.len() > s.input_limit.get() {
                        s.overflow.set(true);
                        s.eof.set(true);
                    }
                }
                bufs.give(bid);
            }
        } else if res != -libc::ENOBUFS {
            // 0: the peer closed; another error: the connection is unusable.
            s.eof.set(true);
        }
        if let Some(w) = s.reader.take() {
            w.wake();
        }
        if s.eof.get()
            && let Some(w) = s.end_waiter.take()
        {
            w.wake();
        }
        if !more {
            s.recv_armed.set(false);
            s.ops.set(s.ops.get() - 1);
            if s.eof.get() || s.closing.get() {
                self.maybe_close(s);
            } else {
                // Ended early (buffers ran out, or the kernel stopped it): arm
                // again once this batch of completions has recycled buffers.
                self.rearm.borrow_mut().push(s.clone());
            }
        }
    }
    fn on_send(&self, s: &Rc<SockInner>, res: i32) {
        s.ops.set(s.ops.get() - 1);
        s.send_in_flight.set(false);
        if res < 0 {
            s.broken.set(true);
            s.eof.set(true);
            *s.sending.borrow_mut() = Vec::new();
            *s.out.borrow_mut() = Vec::new();
            if let Some(w) = s.reader.take() {
                w.wake();
            }
            if let Some(w) = s.end_waiter.take() {
                w.wake();
            }
        } else {
            let sent = s.sent.get() + res as usize;
            let total = s.sending.borrow().len();
            if sent < total && !s.shut.get() {
                s.sent.set(sent);
                self.send(s);
                return;
            }
            let mut b = s.sending.borrow_mut();
            b.clear();
            // Average over about the last eight sends. What is kept follows
            // the sends before this one: a burst (a large reply, a wave of
            // pushes) is freed once sent, and only a run of them raises it.
            let avg = s.send_avg.get();
            let keep = (2 * avg).clamp(SEND_KEEP_MIN, SEND_KEEP_MAX);
            s.send_avg.set(avg - avg / 8 + total / 8);
            if b.capacity() > keep {
                b.shrink_to(keep);
            }
            s.sent.set(0);
        }
        if !s.out.borrow().is_empty() || s.closing.get() {
            self.flush_one(s);
        }
        if !s.send_in_flight.get()
            && s.out.borrow().is_empty()
            && let Some(w) = s.flush_waiter.take()
        {
            w.wake();
        }
        self.maybe_close(s);
    }
}

/// Gives this thread's loop a descriptor to read when another core wakes it.
pub fn set_wake_fd(fd: RawFd) {
    let r = reactor();
    r.wake_fd.set(fd);
    r.arm_wake();
}

/// Accepts connections on `fd` (a listening socket this thread now owns),
/// calling `on_accept` with each accepted descriptor.
pub fn listen(fd: RawFd, on_accept: impl Fn(RawFd) + 'static) {
    let r = reactor();
    let l = Rc::new(ListenerInner {
        fd,
        on_accept: Box::new(on_accept),
        stopped: Cell::new(false),
    });
    r.listeners.borrow_mut().push(l.clone());
    r.arm_accept(&l);
}

/// Stops accepting on this thread's listeners and closes them (CONFIG SET
/// port); clients already accepted stay.
pub fn stop_listeners() {
    let r = reactor();
    for l in r.listeners.borrow_mut().drain(..) {
        l.stopped.set(true);
        // SAFETY: shutting down and closing a listening descriptor this
        // reactor owns, once: it leaves the list here. Its armed accept
        // then completes with an error and is not re-armed.
        unsafe {
            libc::shutdown(l.fd, libc::SHUT_RDWR);
            libc::close(l.fd);
        }
    }
}

/// Sends every dirty socket's output (one SEND each) and re-arms receives
/// that ended early. Called once per loop turn, before [`enter`].
pub fn flush() {
    let r = reactor();
    let rearm = std::mem::take(&mut *r.rearm.borrow_mut());
    for s in &rearm {
        r.arm_recv(s);
    }
    drain_kept(&r.dirty, |s| r.flush_one(&s));
    // After the sends: a woken core on this CPU cannot hold them back.
    drain_kept(&r.wake_rings, |(ring, eventfd)| {
        let tag = RING_WAKE | eventfd as u32 as u64;
        r.push(
            opcode::MsgRingData::new(types::Fd(ring), 0, tag, None)
                .build()
                .flags(squeue::Flags::SKIP_SUCCESS)
                .user_data(tag),
        );
    });
}

/// Hands every item of `list` to `each`, keeping the list's allocation for
/// the next turn (`each` may add to the list meanwhile).
fn drain_kept<T>(list: &RefCell<Vec<T>>, mut each: impl FnMut(T)) {
    let mut items = std::mem::take(&mut *list.borrow_mut());
    for x in items.drain(..) {
        each(x);
    }
    let mut l = list.borrow_mut();
    if l.is_empty() {
        *l = items;
    }
}

/// Adds one to the eventfd `fd` (wakes the core whose ring reads it).
pub fn kick_eventfd(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: an 8-byte write from a valid u64; a stale or closed
    // descriptor only makes the write fail.
    unsafe {
        libc::write(fd, &one as *const u64 as *const libc::c_void, 8);
    }
}

/// Sends what sockets were given so far in this turn now, rather than at
/// its end, and reaps what completed meanwhile: for the rare caller that
/// must see output handed to the kernel (and its buffers freed) before it
/// goes on. It does not wait: a socket that cannot take its output keeps
/// the rest, as at the end of a turn.
pub fn send_now() {
    flush();
    enter(false, None);
}

/// True when the ring has work to submit or completions to reap.
pub fn has_io() -> bool {
    let r = reactor();
    let mut ring = r.ring.borrow_mut();
    let has_sq = !ring.submission().is_empty();
    let taskrun = ring.submission().taskrun();
    has_sq || taskrun || !ring.completion().is_empty()
}

/// Submits queued entries and reaps completions. With `wait`, sleeps until
/// at least one completion arrives or `timeout` passes. Returns the number of
/// completions handled.
pub fn enter(wait: bool, timeout: Option<Duration>) -> usize {
    let r = reactor();
    {
        let mut ring = r.ring.borrow_mut();
        let res = if wait {
            match timeout {
                Some(t) => {
                    let ts = types::Timespec::from(t);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    ring.submitter().submit_with_args(1, &args)
                }
                None => ring.submitter().submit_and_wait(1),
            }
        } else {
            let idle = {
                let mut sq = ring.submission();
                sq.sync();
                sq.is_empty() && !sq.taskrun()
            };
            if idle {
                Ok(0)
            } else {
                ring.submitter().submit_and_wait(0)
            }
        };
        if let Err(e) = res
            && !matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR))
            && e.raw_os_error() != Some(libc::EBUSY)
        {
            tracing::warn!("io_uring_enter failed: {e}");
        }
    }
    reap(&r)
}

fn reap(r: &Rc<Reactor>) -> usize {
    let mut n = 0;
    loop {
        // Taken out while the completions run: their callbacks may reap
        // again (they then use a buffer of their own).
        let mut batch = std::mem::take(&mut *r.reaped.borrow_mut());
        {
            let mut ring = r.ring.borrow_mut();
            let cq = ring.completion();
            batch.extend(cq.map(|c| (c.user_data(), c.result(), c.flags())));
        }
        let got = batch.len();
        n += got;
        for &(u, res, flags) in &batch {
            r.complete(u, res, flags);
        }
        batch.clear();
        *r.reaped.borrow_mut() = batch;
        if got == 0 {
            break;
        }
    }
    r.bufs.borrow().publish();
    let accepted = std::mem::take(&mut *r.accepted.borrow_mut());
    for (l, fd) in accepted {
        (l.on_accept)(fd);
    }
    n
}

impl Socket {
    /// Serves `fd` (a connected stream socket this thread now owns) on this
    /// thread's ring; input is read from now on.
    pub fn new(fd: RawFd, input_limit: usize) -> Socket {
        let r = reactor();
        let s = Rc::new(SockInner::new(fd, r.fix(fd), input_limit));
        r.open.borrow_mut().insert(fd, Rc::downgrade(&s));
        r.arm_recv(&s);
        Socket(s)
    }

    /// A socket with no connection behind it, for a session serving a
    /// command on behalf of a client connected to another core: it has no
    /// descriptor, never reads, and drops whatever is written to it.
    pub fn detached() -> Socket {
        let s = SockInner::new(-1, None, 0);
        s.eof.set(true);
        s.broken.set(true);
        s.shut.set(true);
        s.closed.set(true);
        Socket(Rc::new(s))
    }

    /// Opens a TCP connection to `addr` through the ring (the outgoing side a
    /// replica or a cluster bus uses) and serves it like an accepted one.
    pub async fn connect(
        addr: std::net::SocketAddr,
        input_limit: usize,
    ) -> std::io::Result<Socket> {
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM.cloexec(),
            Some(socket2::Protocol::TCP),
        )?;
        let _ = sock.set_nodelay(true);
        let sa = socket2::SockAddr::from(addr);
        // The address travels with the operation: the kernel reads it until
        // the connect completes.
        // SAFETY: `sa` points to `sa.len()` initialised bytes of a sockaddr.
        let raw =
            unsafe { std::slice::from_raw_parts(sa.as_ptr() as *const u8, sa.len() as usize) }
                .to_vec();
        let op = IoOp::with_buf(raw);
        let (ptr, len) = {
            let b = op.buf.borrow();
            (
                b.as_ptr() as *const libc::sockaddr,
                b.len() as libc::socklen_t,
            )
        };
        use std::os::fd::AsRawFd;
        one_shot(
            op,
            opcode::Connect::new(types::Fd(sock.as_raw_fd()), ptr, len).build(),
        )
        .await?;
        use std::os::fd::IntoRawFd;
        Ok(Socket::new(sock.into_raw_fd(), input_limit))
    }

    /// The socket's descriptor.
    pub fn fd(&self) -> RawFd {
        self.0.fd
    }

    /// Sets the most unread input the socket may hold before it is dropped.
    pub fn set_input_limit(&self, limit: usize) {
        self.0.input_limit.set(limit);
    }

    /// Waits for input, then appends everything received so far to `buf`.
    /// Returns the number of bytes added; 0 means no more input will come
    /// (the peer closed, an error, or the input limit was passed).
    pub async fn read_into(&self, buf: &mut Vec<u8>) -> usize {
        std::future::poll_fn(|cx| {
            let s = &self.0;
            let mut inbox = s.inbox.borrow_mut();
            if !inbox.is_empty() && !s.overflow.get() {
                let n = inbox.len();
                if buf.is_empty() {
                    std::mem::swap(buf, &mut *inbox);
                } else {
                    buf.extend_from_slice(&inbox);
                    if inbox.capacity() > KEEP_INBOX_CAPACITY {
                        // Grown by a burst of input: give it back.
                        *inbox = Vec::new();
                    } else {
                        inbox.clear();
                    }
                }
                return Poll::Ready(n);
            }
            if s.eof.get() {
                return Poll::Ready(0);
            }
            s.reader.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    /// True once the unread input passed the limit.
    pub fn input_overflowed(&self) -> bool {
        self.0.overflow.get()
    }

    /// True when no more input will come (peer closed or error). Input
    /// already received may still be unread.
    pub fn input_closed(&self) -> bool {
        self.0.eof.get()
    }

    /// Bytes received and not yet taken by [`Socket::read_into`].
    pub fn unread(&self) -> usize {
        self.0.inbox.borrow().len()
    }

    /// Waits until input is available or the input side ends.
    pub async fn readable(&self) {
        std::future::poll_fn(|cx| {
            let s = &self.0;
            if !s.inbox.borrow().is_empty() || s.eof.get() {
                return Poll::Ready(());
            }
            s.reader.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    /// Queues `data` for sending (taking its bytes; `data` is left empty) and
    /// returns the output now pending. It leaves in this loop turn.
    pub fn write(&self, data: &mut Vec<u8>) -> usize {
        if self.0.broken.get() {
            data.clear();
            return 0;
        }
        if data.is_empty() {
            return self.pending_output();
        }
        {
            let mut out = self.0.out.borrow_mut();
            if out.is_empty() {
                std::mem::swap(&mut *out, data);
            } else {
                out.extend_from_slice(data);
                data.clear();
            }
        }
        self.mark_dirty();
        self.pending_output()
    }

    /// Queues a copy of `data` for sending; returns the output now pending.
    pub fn write_bytes(&self, data: &[u8]) -> usize {
        if !data.is_empty() && !self.0.broken.get() {
            self.0.out.borrow_mut().extend_from_slice(data);
            self.mark_dirty();
        }
        self.pending_output()
    }

    fn mark_dirty(&self) {
        let s = &self.0;
        if !s.dirty.get() && !s.closed.get() {
            s.dirty.set(true);
            reactor().dirty.borrow_mut().push(s.clone());
        }
    }

    /// Output bytes queued or in flight.
    pub fn pending_output(&self) -> usize {
        let s = &self.0;
        if s.broken.get() {
            return 0;
        }
        s.out.borrow().len() + s.sending.borrow().len() - s.sent.get()
    }

    /// Bytes allocated for this socket's output: the queue and the buffer
    /// in flight, used or not.
    pub fn buffer_capacity(&self) -> usize {
        let s = &self.0;
        s.out.borrow().capacity() + s.sending.borrow().capacity()
    }

    /// True once a send failed (the peer is gone).
    pub fn broken(&self) -> bool {
        self.0.broken.get()
    }

    /// Waits until every queued byte has been handed to the kernel (or the
    /// socket broke or closed).
    pub async fn flushed(&self) {
        std::future::poll_fn(|cx| {
            let s = &self.0;
            if s.broken.get()
                || s.closed.get()
                || (s.out.borrow().is_empty() && !s.send_in_flight.get())
            {
                return Poll::Ready(());
            }
            s.flush_waiter.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    /// Closes the socket once its pending output is sent.
    pub fn close(&self) {
        let s = &self.0;
        if s.closing.get() {
            return;
        }
        s.closing.set(true);
        self.mark_dirty();
        if s.closed.get() {
            return;
        }
        // The flush of this turn sends what is left, then shuts and closes.
        if !s.dirty.get() {
            let r = reactor();
            r.flush_one(s);
        }
    }

    /// Drops pending output and closes the socket now.
    pub fn abort(&self) {
        self.shutdown_input();
        let s = &self.0;
        // The memory goes too, not just the bytes.
        *s.out.borrow_mut() = Vec::new();
        s.broken.set(true);
        s.closing.set(true);
        if !s.closed.get() {
            reactor().shut(s);
        }
    }

    /// Ends the input side now (as CLIENT KILL does): the reader sees the end
    /// of input; output queued so far is still sent by [`Socket::close`].
    pub fn shutdown_input(&self) {
        let s = &self.0;
        s.eof.set(true);
        if let Some(w) = s.reader.take() {
            w.wake();
        }
        if let Some(w) = s.end_waiter.take() {
            w.wake();
        }
    }

    /// Waits until input ends (the peer closed, an error, or
    /// [`Socket::shutdown_input`]), ignoring input that arrives meanwhile.
    pub async fn input_ended(&self) {
        std::future::poll_fn(|cx| {
            let s = &self.0;
            if s.eof.get() {
                return Poll::Ready(());
            }
            s.end_waiter.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}

/// A file written through this thread's ring.
pub struct File {
    fd: RawFd,
}

impl File {
    /// Opens (creating if needed) `path` for appending.
    pub fn open_append(path: &std::path::Path) -> std::io::Result<File> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::other("path contains a NUL byte"))?;
        // SAFETY: open with a valid NUL-terminated path.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
                0o644,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(File { fd })
    }

    /// Appends `data` at the end of the file (the buffer travels with the
    /// operation and comes back with the result).
    pub async fn append(&self, data: Vec<u8>) -> (std::io::Result<usize>, Vec<u8>) {
        let len = data.len().min(u32::MAX as usize) as u32;
        let ptr = data.as_ptr();
        let op = IoOp::with_buf(data);
        // The offset -1 writes at the file position; with O_APPEND that is the end.
        let sqe = opcode::Write::new(types::Fd(self.fd), ptr, len)
            .offset(u64::MAX)
            .build();
        let res = one_shot(op.clone(), sqe).await;
        let buf = std::mem::take(&mut *op.buf.borrow_mut());
        (res.map(|n| n as usize), buf)
    }

    /// Flushes the file's data to stable storage.
    pub async fn sync_data(&self) -> std::io::Result<()> {
        let sqe = opcode::Fsync::new(types::Fd(self.fd))
            .flags(types::FsyncFlags::DATASYNC)
            .build();
        one_shot(IoOp::with_buf(Vec::new()), sqe).await.map(|_| ())
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: the descriptor was opened by File::open_append and is closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// Waits for a one-shot operation's completion.
impl IoOp {
    fn with_buf(buf: Vec<u8>) -> Rc<IoOp> {
        Rc::new(IoOp {
            result: Cell::new(None),
            waker: Cell::new(None),
            buf: RefCell::new(buf),
        })
    }
}

/// Submits `sqe` (whose memory, if any, is `op`'s buffer) and waits for its
/// completion; a negative result is the operation's errno.
async fn one_shot(op: Rc<IoOp>, sqe: squeue::Entry) -> std::io::Result<i32> {
    let r = reactor();
    let id = r.add_op(Op::Io(op.clone()));
    r.push(sqe.user_data(id));
    let res = IoWait {
        op,
        id,
        done: false,
    }
    .await;
    if res < 0 {
        Err(std::io::Error::from_raw_os_error(-res))
    } else {
        Ok(res)
    }
}

struct IoWait {
    op: Rc<IoOp>,
    id: u64,
    done: bool,
}

impl std::future::Future for IoWait {
    type Output = i32;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<i32> {
        match self.op.result.get() {
            Some(r) => {
                self.done = true;
                Poll::Ready(r)
            }
            None => {
                self.op.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

impl Drop for IoWait {
    fn drop(&mut self) {
        if self.done || self.op.result.get().is_some() {
            return;
        }
        // Dropped before completion: the kernel may still use the buffer, so
        // the op slot keeps it until the completion is reaped.
        let buf = std::mem::take(&mut *self.op.buf.borrow_mut());
        if let Some(r) = REACTOR.with(|x| x.borrow().clone())
            && let Some(Some(slot)) = r.ops.borrow_mut().get_mut(self.id as usize)
        {
            *slot = Op::Orphan(buf);
        }
    }
}
