//! The task half of a core's loop: a slab of local futures, a ready queue and
//! a timer heap, all owned by the thread that runs them.
//!
//! ```text
//!  spawn(fut) ─► slab[i] (generation g) ─► ready ◄── waker(i, g).wake()
//!  run_ready(budget): pop key ─► take the future out of its slot ─► poll ─►
//!                     Pending: put it back │ Ready: free the slot
//!  sleep(d) ─► timers (deadline, waker) ─► fire_timers(now) wakes the due ones
//! ```
//!
//! A waker is just the task's key (slot index and generation), so cloning and
//! dropping one costs nothing and waking is a push onto this thread's queue.
//! Wakers are meant for the thread that created them; work for another core
//! travels as a hop. A wake that reaches the wrong thread (or a task that has
//! ended) finds no live task with that key, or a different generation, and
//! does nothing: a spurious poll at worst, which every future tolerates.

use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

struct Slot {
    generation: u32,
    /// `None` while the task is being polled or after it finished.
    future: Option<BoxFuture>,
    live: bool,
    queued: bool,
}

struct Timer {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Timer {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at && self.seq == o.seq
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Timer {
    // Reversed: BinaryHeap is a max-heap and the earliest deadline must be on top.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.at.cmp(&self.at).then(o.seq.cmp(&self.seq))
    }
}

#[derive(Default)]
struct Executor {
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    ready: RefCell<VecDeque<u64>>,
    timers: RefCell<BinaryHeap<Timer>>,
    timer_seq: Cell<u64>,
    live: Cell<usize>,
}

thread_local! {
    static EXEC: Executor = Executor::default();
    /// Counts each start and end of a task poll on this thread.
    static POLLS: Cell<u64> = const { Cell::new(0) };
}

/// Changes whenever a task poll starts or ends on this thread: two equal
/// readings were taken within one poll of one task (or both outside any).
#[inline]
pub fn polls() -> u64 {
    POLLS.with(|p| p.get())
}

fn key(index: u32, generation: u32) -> u64 {
    (generation as u64) << 32 | index as u64
}

/// Starts `fut` on this thread's executor; it runs when the loop next turns.
pub fn spawn(fut: impl Future<Output = ()> + 'static) {
    let fut: BoxFuture = Box::pin(fut);
    EXEC.with(|e| {
        let mut slots = e.slots.borrow_mut();
        let index = match e.free.borrow_mut().pop() {
            Some(i) => i,
            None => {
                slots.push(Slot {
                    generation: 0,
                    future: None,
                    live: false,
                    queued: false,
                });
                (slots.len() - 1) as u32
            }
        };
        let s = &mut slots[index as usize];
        s.generation = s.generation.wrapping_add(1);
        s.future = Some(fut);
        s.live = true;
        s.queued = true;
        let k = key(index, s.generation);
        drop(slots);
        e.live.set(e.live.get() + 1);
        e.ready.borrow_mut().push_back(k);
    });
}

fn wake_key(k: u64) {
    // try_with: a waker dropped or woken during thread teardown is ignored.
    let _ = EXEC.try_with(|e| {
        let index = (k & 0xffff_ffff) as usize;
        let generation = (k >> 32) as u32;
        let mut slots = e.slots.borrow_mut();
        if let Some(s) = slots.get_mut(index)
            && s.live
            && s.generation == generation
            && !s.queued
        {
            s.queued = true;
            drop(slots);
            e.ready.borrow_mut().push_back(k);
        }
    });
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(
    |data| RawWaker::new(data, &VTABLE),
    |data| wake_key(data as u64),
    |data| wake_key(data as u64),
    |_| {},
);

fn waker_for(k: u64) -> Waker {
    // SAFETY: the data pointer is only an integer key, never dereferenced; the
    // vtable functions copy it, wake by key, or do nothing, so every contract
    // of RawWaker (clone/wake/drop on any thread) holds.
    unsafe { Waker::from_raw(RawWaker::new(k as usize as *const (), &VTABLE)) }
}

/// Polls ready tasks, at most `budget` of them. Returns how many ran.
pub fn run_ready(budget: usize) -> usize {
    EXEC.with(|e| {
        let mut ran = 0;
        while ran < budget {
            let Some(k) = e.ready.borrow_mut().pop_front() else {
                break;
            };
            let index = (k & 0xffff_ffff) as usize;
            let generation = (k >> 32) as u32;
            let fut = {
                let mut slots = e.slots.borrow_mut();
                match slots.get_mut(index) {
                    Some(s) if s.live && s.generation == generation => {
                        s.queued = false;
                        s.future.take()
                    }
                    _ => None,
                }
            };
            let Some(mut fut) = fut else {
                continue;
            };
            ran += 1;
            let waker = waker_for(k);
            let mut cx = Context::from_waker(&waker);
            POLLS.with(|p| p.set(p.get().wrapping_add(1)));
            let done = fut.as_mut().poll(&mut cx).is_ready();
            POLLS.with(|p| p.set(p.get().wrapping_add(1)));
            let mut slots = e.slots.borrow_mut();
            let s = &mut slots[index];
            if done {
                s.live = false;
                s.queued = false;
                drop(slots);
                e.free.borrow_mut().push(index as u32);
                e.live.set(e.live.get() - 1);
                // The future is dropped here, outside every borrow: its
                // destructor may spawn or wake.
                drop(fut);
            } else {
                s.future = Some(fut);
            }
        }
        ran
    })
}

/// True when a task is waiting to be polled.
pub fn has_ready() -> bool {
    EXEC.with(|e| !e.ready.borrow().is_empty())
}

/// Number of tasks alive on this thread.
pub fn live_tasks() -> usize {
    EXEC.with(|e| e.live.get())
}

/// Drops every task of this thread (at shutdown), outside any borrow.
pub fn clear() {
    let futures: Vec<BoxFuture> = EXEC.with(|e| {
        e.ready.borrow_mut().clear();
        e.timers.borrow_mut().clear();
        let mut slots = e.slots.borrow_mut();
        let mut out = Vec::new();
        for s in slots.iter_mut() {
            s.live = false;
            if let Some(f) = s.future.take() {
                out.push(f);
            }
        }
        e.live.set(0);
        out
    });
    drop(futures);
}

/// Wakes every timer whose deadline has passed; returns the next deadline.
pub fn fire_timers(now: Instant) -> Option<Instant> {
    EXEC.with(|e| {
        let mut due = Vec::new();
        let next = {
            let mut t = e.timers.borrow_mut();
            while t.peek().is_some_and(|x| x.at <= now) {
                if let Some(x) = t.pop() {
                    due.push(x.waker);
                }
            }
            t.peek().map(|x| x.at)
        };
        for w in due {
            w.wake();
        }
        next
    })
}

/// The earliest timer deadline, if any.
pub fn next_deadline() -> Option<Instant> {
    EXEC.with(|e| e.timers.borrow().peek().map(|x| x.at))
}

fn add_timer(at: Instant, waker: Waker) {
    EXEC.with(|e| {
        let seq = e.timer_seq.get();
        e.timer_seq.set(seq + 1);
        e.timers.borrow_mut().push(Timer { at, seq, waker });
    });
}

/// A future that completes at a deadline.
pub struct Sleep {
    at: Instant,
    registered: bool,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        if !self.registered {
            // Wakers of this executor are stable per task, so one timer entry
            // serves every later poll; a stale entry only causes a spurious poll.
            self.registered = true;
            add_timer(self.at, cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Completes after `d`.
pub fn sleep(d: Duration) -> Sleep {
    sleep_until(Instant::now() + d)
}

/// Completes at `at`.
pub fn sleep_until(at: Instant) -> Sleep {
    Sleep {
        at,
        registered: false,
    }
}

/// Yields until the loop's next turn: the I/O completed meanwhile is
/// reaped, and the tasks it wakes run, before this one resumes (a task
/// that keeps the core busy for long, such as a script past
/// `busy-reply-threshold`, stays responsive this way).
pub async fn next_turn() {
    let mut waited = false;
    std::future::poll_fn(move |cx| {
        if waited {
            Poll::Ready(())
        } else {
            waited = true;
            add_timer(Instant::now(), cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}

/// Yields once to the other ready tasks.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn drain() {
        while run_ready(1000) > 0 {}
    }

    #[test]
    fn spawn_runs_and_frees() {
        let hits = Rc::new(Cell::new(0));
        for _ in 0..3 {
            let h = hits.clone();
            spawn(async move { h.set(h.get() + 1) });
        }
        drain();
        assert_eq!(hits.get(), 3);
        assert_eq!(live_tasks(), 0);
    }

    #[test]
    fn wake_after_pending_and_stale_wakes_ignored() {
        let slot: Rc<RefCell<Option<Waker>>> = Rc::default();
        let done = Rc::new(Cell::new(false));
        let (s, d) = (slot.clone(), done.clone());
        spawn(async move {
            let mut first = true;
            std::future::poll_fn(|cx| {
                if first {
                    first = false;
                    *s.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            d.set(true);
        });
        drain();
        assert!(!done.get());
        let w = slot.borrow_mut().take().unwrap();
        w.wake_by_ref();
        w.wake_by_ref();
        drain();
        assert!(done.get());
        // The task is gone: a late wake is a no-op.
        w.wake();
        assert!(!has_ready());
    }

    #[test]
    fn timers_fire_in_order() {
        let order = Rc::new(RefCell::new(Vec::new()));
        for (i, ms) in [(1, 30u64), (2, 10), (3, 20)] {
            let o = order.clone();
            spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                o.borrow_mut().push(i);
            });
        }
        drain();
        let start = Instant::now();
        while order.borrow().len() < 3 {
            assert!(start.elapsed() < Duration::from_secs(5));
            if let Some(at) = next_deadline() {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
            }
            fire_timers(Instant::now());
            drain();
        }
        assert_eq!(*order.borrow(), vec![2, 3, 1]);
    }
}
