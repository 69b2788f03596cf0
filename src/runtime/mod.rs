//! The per-core event loop: our own executor on our own io_uring.
//!
//! ```text
//!  core thread (pinned) ── runtime::run(hooks)
//!   loop {
//!     ┌ run ready tasks ◄─────── wakers (I/O, timers, hop replies)
//!     ├ hooks.turn(): drain the mailboxes other cores filled (hops)
//!     └ repeat while either made progress (bounded)
//!     flush: one SEND per socket written this turn
//!     park? only with no ready task and empty mailboxes (Dekker handshake
//!           with senders through `Notifier`), until the next timer
//!     enter: submit everything and reap completions in one io_uring_enter
//!           (skipped when busy and the ring has nothing to say)
//!   }
//! ```
//!
//! Nothing here is driven by a preemption timer: a request that arrives is
//! parsed, executed and answered in the turn that reaps it. Another core's
//! message costs a mailbox push; the wake-up (and the context switch it
//! causes) happens only when the receiving core is parked, as a message from
//! the sender's ring to the receiver's, submitted with the sender's sends.
//!
//! This module imports nothing else of the crate.

pub mod executor;
pub mod net;
pub mod reactor;

pub use executor::{next_turn, sleep, sleep_until, spawn, yield_now};
pub use reactor::{File, Socket};

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Tasks polled before the loop looks at mailboxes and the ring again.
pub const TASK_BUDGET: usize = 256;
/// Rounds of tasks and mailboxes per turn before the ring is entered, so
/// busy cores still submit their sends and see new input.
const ROUNDS_PER_TURN: usize = 4;

/// How one core is woken by the others.
///
/// The core sets `parked` before it sleeps and then looks at its mailboxes
/// once more; a sender fills a mailbox and then looks at `parked`. With both
/// sides ordered by SeqCst, at least one of them sees the other: either the
/// core finds the message, or the sender wakes it (through the core's ring
/// from a thread with a loop, through its eventfd otherwise).
pub struct Notifier {
    parked: AtomicBool,
    fd: i32,
    /// The core's ring while its loop runs (-1 otherwise): other cores'
    /// loops wake it through their own rings, without a syscall of their own.
    ring: AtomicI32,
}

impl Notifier {
    /// A notifier with its own eventfd.
    pub fn new() -> std::io::Result<Notifier> {
        // SAFETY: eventfd with valid flags; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Notifier {
            parked: AtomicBool::new(false),
            fd,
            ring: AtomicI32::new(-1),
        })
    }

    /// The eventfd the core's ring reads.
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// Wakes the core if it is parked (call after filling its mailbox).
    /// From a thread with a loop, the wake-up goes out with that loop's
    /// next submission (after the sends it has queued); from any other
    /// thread, at once through the eventfd.
    #[inline]
    pub fn notify(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            let ring = self.ring.load(Ordering::Acquire);
            if ring < 0 || !reactor::wake_ring_later(ring, self.fd) {
                self.kick();
            }
        }
    }

    /// Wakes the core whether or not it looks parked (shutdown).
    pub fn kick(&self) {
        reactor::kick_eventfd(self.fd);
    }

    fn park(&self) {
        self.parked.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
    }

    fn unpark(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        // SAFETY: the eventfd is owned by this notifier and closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// A queue one core fills and another drains: a mutex that is only ever
/// held for a push or a swap, and a flag the consumer checks without it.
pub struct Mailbox<T> {
    items: Mutex<Vec<T>>,
    nonempty: AtomicBool,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox {
            items: Mutex::new(Vec::new()),
            nonempty: AtomicBool::new(false),
        }
    }
}

impl<T> Mailbox<T> {
    /// Adds one item (the caller then notifies the consumer).
    #[inline]
    pub fn push(&self, item: T) {
        let mut q = self.items.lock().unwrap_or_else(|e| e.into_inner());
        q.push(item);
        self.nonempty.store(true, Ordering::SeqCst);
    }

    /// Adds every item of `items`, leaving it empty.
    pub fn push_all(&self, items: &mut Vec<T>) {
        if items.is_empty() {
            return;
        }
        let mut q = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if q.is_empty() {
            std::mem::swap(&mut *q, items);
        } else {
            q.append(items);
        }
        self.nonempty.store(true, Ordering::SeqCst);
    }

    /// True when items wait (no lock taken).
    #[inline]
    pub fn has_items(&self) -> bool {
        self.nonempty.load(Ordering::SeqCst)
    }

    /// Moves every waiting item into `into` (which should be empty, so the
    /// two vectors just trade places).
    #[inline]
    pub fn drain_into(&self, into: &mut Vec<T>) {
        if !self.has_items() {
            return;
        }
        let mut q = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if into.is_empty() {
            std::mem::swap(&mut *q, into);
        } else {
            into.append(&mut q);
        }
        self.nonempty.store(false, Ordering::SeqCst);
    }
}

/// What a core's loop asks of the code it runs.
pub struct Hooks<'a> {
    /// Drains this core's mailboxes; true if it handled anything.
    pub turn: &'a mut dyn FnMut() -> bool,
    /// True when a mailbox holds something (checked after parking).
    pub pending: &'a dyn Fn() -> bool,
    /// True when the loop must end.
    pub stop: &'a dyn Fn() -> bool,
    /// Called once per turn, after the tasks and mailboxes are done and before
    /// the loop flushes its sockets and waits: wakes the cores this turn's
    /// messages went to (one wake-up per parked peer per turn, however many
    /// messages it got).
    pub end_turn: &'a mut dyn FnMut(),
    /// Microseconds to spin on `pending` before parking.
    pub spin: Duration,
}

/// Creates this thread's ring and makes `notifier` its wake-up.
pub fn init(notifier: &Notifier) -> std::io::Result<()> {
    reactor::init()?;
    reactor::set_wake_fd(notifier.fd());
    notifier.ring.store(reactor::ring_fd(), Ordering::Release);
    Ok(())
}

/// Runs this thread's loop until `hooks.stop` says so; then drops every task
/// and closes every socket of the thread.
pub fn run(notifier: &Notifier, hooks: Hooks<'_>) {
    let Hooks {
        turn,
        pending,
        stop,
        end_turn,
        spin,
    } = hooks;
    loop {
        let mut rounds = 0;
        loop {
            let ran = executor::run_ready(TASK_BUDGET);
            let hopped = turn();
            rounds += 1;
            if (ran == 0 && !hopped) || rounds >= ROUNDS_PER_TURN {
                break;
            }
        }
        end_turn();
        if stop() {
            break;
        }
        reactor::flush();
        let now = Instant::now();
        let next = executor::fire_timers(now);
        let mut wait = !executor::has_ready() && !pending();
        if wait && !spin.is_zero() {
            let until = now + spin;
            while Instant::now() < until {
                if pending() || reactor::has_io() {
                    wait = false;
                    break;
                }
                std::hint::spin_loop();
            }
        }
        if wait {
            notifier.park();
            if pending() || stop() {
                wait = false;
            }
        }
        let timeout = next.map(|t| t.saturating_duration_since(now));
        reactor::enter(wait, timeout);
        notifier.unpark();
    }
    notifier.ring.store(-1, Ordering::Release);
    executor::clear();
    reactor::shutdown();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::io::{Read, Write};
    use std::rc::Rc;
    use std::sync::Arc;

    /// Runs `main` on a fresh loop in a new thread until it sets the flag.
    fn on_loop(main: impl FnOnce(Rc<Cell<bool>>) + Send + 'static) {
        std::thread::spawn(move || {
            let n = Notifier::new().unwrap();
            init(&n).unwrap();
            let done = Rc::new(Cell::new(false));
            main(done.clone());
            let d = done.clone();
            run(
                &n,
                Hooks {
                    turn: &mut || false,
                    pending: &|| false,
                    stop: &move || d.get(),
                    end_turn: &mut || {},
                    spin: Duration::ZERO,
                },
            );
        })
        .join()
        .unwrap();
    }

    #[test]
    fn echo_over_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"hello").unwrap();
            let mut got = [0u8; 5];
            c.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"HELLO");
            // The server closes after one exchange.
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty());
        });
        on_loop(move |done| {
            use std::os::fd::IntoRawFd;
            reactor::listen(listener.into_raw_fd(), move |fd| {
                let done = done.clone();
                spawn(async move {
                    let s = Socket::new(fd, 1 << 20);
                    let mut buf = Vec::new();
                    while buf.len() < 5 {
                        if s.read_into(&mut buf).await == 0 {
                            break;
                        }
                    }
                    let mut reply = buf.to_ascii_uppercase();
                    s.write(&mut reply);
                    s.close();
                    s.flushed().await;
                    done.set(true);
                });
            });
        });
        client.join().unwrap();
    }

    #[test]
    fn outgoing_connection_through_the_ring() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            let mut got = [0u8; 4];
            c.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"PING");
            c.write_all(b"PONG").unwrap();
        });
        on_loop(move |done| {
            spawn(async move {
                let s = Socket::connect(addr, 1 << 20).await.unwrap();
                s.write_bytes(b"PING");
                let mut buf = Vec::new();
                while buf.len() < 4 {
                    assert!(s.read_into(&mut buf).await > 0, "peer closed early");
                }
                assert_eq!(buf, b"PONG");
                s.close();
                done.set(true);
            });
        });
        peer.join().unwrap();
    }

    #[test]
    fn file_append_through_the_ring() {
        let dir = std::env::temp_dir().join(format!("coreshard-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("append.log");
        let _ = std::fs::remove_file(&path);
        let p = path.clone();
        on_loop(move |done| {
            spawn(async move {
                let f = File::open_append(&p).unwrap();
                for i in 0..3 {
                    let (r, _) = f.append(format!("line {i}\n").into_bytes()).await;
                    assert_eq!(r.unwrap(), 7);
                }
                f.sync_data().await.unwrap();
                done.set(true);
            });
        });
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "line 0\nline 1\nline 2\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mailbox_wakes_a_parked_loop() {
        let mb: Arc<Mailbox<u32>> = Arc::default();
        let n = Arc::new(Notifier::new().unwrap());
        let consumer = summing_loop(mb.clone(), n.clone());
        // A thread without a loop wakes it through its eventfd.
        for _ in 0..1000 {
            mb.push(1);
            n.notify();
            std::thread::yield_now();
        }
        assert_eq!(consumer.join().unwrap(), 1000);
    }

    /// A loop on a new thread that sums what `mb` brings until 1000 (ready
    /// once its ring exists).
    fn summing_loop(mb: Arc<Mailbox<u32>>, n: Arc<Notifier>) -> std::thread::JoinHandle<u32> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let consumer = std::thread::spawn(move || {
            init(&n).unwrap();
            ready_tx.send(()).unwrap();
            let got = Cell::new(0u32);
            let mut scratch = Vec::new();
            run(
                &n,
                Hooks {
                    turn: &mut || {
                        mb.drain_into(&mut scratch);
                        let any = !scratch.is_empty();
                        for x in scratch.drain(..) {
                            got.set(got.get() + x);
                        }
                        any
                    },
                    pending: &|| mb.has_items(),
                    stop: &|| got.get() >= 1000,
                    end_turn: &mut || {},
                    spin: Duration::ZERO,
                },
            );
            got.get()
        });
        ready_rx.recv().unwrap();
        consumer
    }

    /// Sends 1000 ones to `mb` from a thread with a loop of its own, as a
    /// core does at the end of its turns; how many wake-ups went through
    /// its ring.
    fn send_from_a_loop(mb: &Mailbox<u32>, n: &Notifier) -> usize {
        let sender = Notifier::new().unwrap();
        init(&sender).unwrap();
        let mut through_ring = 0;
        for _ in 0..1000 {
            mb.push(1);
            n.notify();
            through_ring += reactor::queued_wakes();
            reactor::flush();
            reactor::enter(false, None);
            std::thread::yield_now();
        }
        reactor::shutdown();
        through_ring
    }

    #[test]
    fn a_loop_wakes_a_parked_loop_through_its_ring() {
        let mb: Arc<Mailbox<u32>> = Arc::default();
        let n = Arc::new(Notifier::new().unwrap());
        let consumer = summing_loop(mb.clone(), n.clone());
        let through_ring = send_from_a_loop(&mb, &n);
        assert_eq!(consumer.join().unwrap(), 1000);
        // The consumer parked at least once and was woken through its ring.
        assert!(through_ring > 0);
    }

    #[test]
    fn a_failed_ring_wake_up_falls_back_to_the_eventfd() {
        let mb: Arc<Mailbox<u32>> = Arc::default();
        let n = Arc::new(Notifier::new().unwrap());
        let consumer = summing_loop(mb.clone(), n.clone());
        // Not a ring: every message to it fails, and the sender then writes
        // the consumer's eventfd.
        n.ring.store(n.fd, Ordering::Release);
        let through_ring = send_from_a_loop(&mb, &n);
        assert_eq!(consumer.join().unwrap(), 1000);
        assert!(through_ring > 0);
    }
}
