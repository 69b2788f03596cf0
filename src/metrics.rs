//! Memory accounting and per-core counters.
//!
//! `used_memory` comes from a counting global allocator: each thread adds to its
//! own cache-line-padded counter (no contention), and INFO sums them. Command and
//! error statistics live in a thread-local per core and are summed only when INFO
//! asks.

#[cfg(not(feature = "jemalloc"))]
use std::alloc::System as Inner;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
#[cfg(feature = "jemalloc")]
use tikv_jemallocator::Jemalloc as Inner;

const MAX_SLOTS: usize = 256;

/// One thread's allocation counter, alone on its cache line. `own` is
/// written only by the thread that holds the slot (a plain load and store:
/// a locked add per allocation costs more than the allocation's
/// bookkeeping), or atomically in the shared slot 0; `moved` takes what
/// other threads move in or out ([`move_count`]).
#[repr(align(64))]
struct Padded {
    own: AtomicIsize,
    moved: AtomicIsize,
}

impl Padded {
    fn value(&self) -> isize {
        self.own.load(Ordering::Relaxed) + self.moved.load(Ordering::Relaxed)
    }
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Padded = Padded {
    own: AtomicIsize::new(0),
    moved: AtomicIsize::new(0),
};
static COUNTERS: [Padded; MAX_SLOTS] = [ZERO; MAX_SLOTS];

/// Slots held by a thread (bit i of word i / 64); slot 0 is never held.
static HELD: [AtomicU64; MAX_SLOTS / 64] = [const { AtomicU64::new(0) }; MAX_SLOTS / 64];

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(0) };
    /// Gives the thread's slot back when the thread ends.
    static RELEASE: RefCell<Option<SlotGuard>> = const { RefCell::new(None) };
}

/// Reserves an allocation counter for a thread about to start: a slot no
/// live thread holds, or 0 (shared by every other thread) when all are
/// held.
pub fn claim_slot() -> usize {
    for (w, word) in HELD.iter().enumerate() {
        let mut cur = word.load(Ordering::Relaxed);
        loop {
            // Slot 0 (bit 0 of word 0) is the shared one.
            let free = !cur & if w == 0 { !1 } else { !0 };
            if free == 0 {
                break;
            }
            let bit = free.trailing_zeros() as usize;
            match word.compare_exchange_weak(
                cur,
                cur | 1 << bit,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return w * 64 + bit,
                Err(now) => cur = now,
            }
        }
    }
    0
}

/// Frees slot `slot` for another thread: called by the thread holding it
/// as it ends, or for a slot claimed for a thread that never started.
pub fn release_slot(slot: usize) {
    if slot != 0 && slot < MAX_SLOTS {
        HELD[slot / 64].fetch_and(!(1 << (slot % 64)), Ordering::AcqRel);
    }
}

/// Releases a thread's slot at its end: its count moves to the shared
/// slot (the total stays exact) and the next thread to hold it starts
/// from zero; what the thread frees after that counts in the shared slot.
struct SlotGuard(usize);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        SLOT.set(0);
        let c = &COUNTERS[self.0];
        let left = c.own.swap(0, Ordering::AcqRel) + c.moved.swap(0, Ordering::AcqRel);
        COUNTERS[0].own.fetch_add(left, Ordering::Relaxed);
        release_slot(self.0);
    }
}

/// Makes the calling thread count its allocations in `slot` (from
/// [`claim_slot`]; the thread holds it until it ends).
pub fn register_thread(slot: usize) {
    let slot = slot % MAX_SLOTS;
    SLOT.set(slot);
    if slot != 0 {
        let _ = RELEASE.try_with(|r| *r.borrow_mut() = Some(SlotGuard(slot)));
    }
}

/// The allocator that counts bytes in use.
pub struct CountingAlloc;

#[inline]
fn add(n: isize) {
    let slot = SLOT.try_with(|s| s.get()).unwrap_or(0);
    let c = &COUNTERS[slot].own;
    if slot == 0 {
        c.fetch_add(n, Ordering::Relaxed);
    } else {
        // Only this thread writes `own` of its slot.
        c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator with the same arguments;
// the bookkeeping only adds and subtracts sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { Inner.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { Inner.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { Inner.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { Inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// This thread's allocation counter: bytes it allocated minus bytes it
/// freed (whoever allocated them). Its drop across a piece of work is what
/// that work freed.
pub fn thread_allocated() -> isize {
    let slot = SLOT.try_with(|s| s.get()).unwrap_or(0);
    COUNTERS[slot].value()
}

/// jemalloc's options, read by jemalloc at its first allocation: dirty
/// pages go back to the system as soon as they are freed, so memory released
/// by eviction, deletion or a collection outgrowing its table leaves the
/// resident set at once (jemalloc's default keeps it for ten seconds; the
/// C library unmaps large blocks at once). No background threads: every
/// thread of the process stays one of ours.
#[cfg(feature = "jemalloc")]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 17] = b"dirty_decay_ms:0\0";

/// The allocator under [`CountingAlloc`], as INFO's `mem_allocator` names it.
#[cfg(feature = "jemalloc")]
pub const ALLOCATOR: &str = "jemalloc-5.3.0";
/// The allocator under [`CountingAlloc`], as INFO's `mem_allocator` names it.
#[cfg(not(feature = "jemalloc"))]
pub const ALLOCATOR: &str = "libc";

/// What the allocator itself reports: bytes in live allocations, in active
/// pages, and resident. None where it keeps no such statistics (libc).
#[derive(Clone, Copy, Debug)]
pub struct AllocatorStats {
    /// Bytes in allocations (with size-class rounding).
    pub allocated: u64,
    /// Bytes in pages holding allocations.
    pub active: u64,
    /// Bytes the allocator has resident.
    pub resident: u64,
}

/// Reads one `size_t` jemalloc statistic.
#[cfg(feature = "jemalloc")]
fn je_stat(name: &std::ffi::CStr) -> Option<u64> {
    let mut v: usize = 0;
    let mut len = std::mem::size_of::<usize>();
    // SAFETY: `name` is NUL-terminated; `v` and `len` describe a writable
    // size_t, the type of these statistics; nothing is written to jemalloc.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            &mut v as *mut usize as *mut std::ffi::c_void,
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0).then_some(v as u64)
}

/// The allocator's own figures (refreshed first), where it has them.
pub fn allocator_stats() -> Option<AllocatorStats> {
    #[cfg(feature = "jemalloc")]
    {
        let mut epoch: u64 = 1;
        let mut len = std::mem::size_of::<u64>();
        // SAFETY: writing the `epoch` control refreshes the cached
        // statistics; old and new values are valid u64 buffers.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                c"epoch".as_ptr(),
                &mut epoch as *mut u64 as *mut std::ffi::c_void,
                &mut len,
                &mut epoch as *mut u64 as *mut std::ffi::c_void,
                std::mem::size_of::<u64>(),
            );
        }
        Some(AllocatorStats {
            allocated: je_stat(c"stats.allocated")?,
            active: je_stat(c"stats.active")?,
            resident: je_stat(c"stats.resident")?,
        })
    }
    #[cfg(not(feature = "jemalloc"))]
    None
}

/// Returns free memory to the system (MEMORY PURGE): every jemalloc arena's
/// dirty pages, or the C library's free heap memory (`malloc_trim`).
pub fn allocator_purge() {
    #[cfg(feature = "jemalloc")]
    // SAFETY: `arena.4096.purge` (4096 = all arenas) takes no value.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
    #[cfg(not(feature = "jemalloc"))]
    // SAFETY: malloc_trim only releases free memory; it takes no pointer.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The allocator's statistics report (MEMORY MALLOC-STATS), where it has one.
pub fn allocator_report() -> Option<String> {
    #[cfg(feature = "jemalloc")]
    {
        unsafe extern "C" fn append(opaque: *mut std::ffi::c_void, text: *const libc::c_char) {
            // SAFETY: `opaque` is the String passed below, alive for the
            // whole malloc_stats_print call; `text` is a NUL-terminated
            // string jemalloc owns for the duration of this callback.
            unsafe {
                let out = &mut *(opaque as *mut String);
                out.push_str(&std::ffi::CStr::from_ptr(text).to_string_lossy());
            }
        }
        let mut out = String::new();
        // SAFETY: the callback only appends to `out`, which outlives the call.
        unsafe {
            tikv_jemalloc_sys::malloc_stats_print(
                Some(append),
                &mut out as *mut String as *mut std::ffi::c_void,
                std::ptr::null(),
            );
        }
        Some(out)
    }
    #[cfg(not(feature = "jemalloc"))]
    None
}

/// Bytes currently allocated by the process.
pub fn used_memory() -> usize {
    COUNTERS.iter().map(Padded::value).sum::<isize>().max(0) as usize
}

/// Bytes currently allocated by the threads counting in `slots` (one
/// engine's cores). Memory one core allocates and another frees moves
/// between their counters; the engine's sum stays exact.
pub fn used_memory_of(slots: &[usize]) -> usize {
    slots
        .iter()
        .map(|&s| COUNTERS[s % MAX_SLOTS].value())
        .sum::<isize>()
        .max(0) as usize
}

/// This thread's allocation-counter slot.
pub fn thread_slot() -> usize {
    SLOT.try_with(|s| s.get()).unwrap_or(0)
}

/// Moves `n` bytes of accounted memory from one slot's counter to another's
/// (memory one thread freed on behalf of another).
pub fn move_count(from: usize, to: usize, n: isize) {
    COUNTERS[from % MAX_SLOTS]
        .moved
        .fetch_add(n, Ordering::Relaxed);
    COUNTERS[to % MAX_SLOTS]
        .moved
        .fetch_sub(n, Ordering::Relaxed);
}

/// The allocation counter of one slot (one core's thread): what that core
/// allocated minus what it freed.
pub fn slot_used(slot: usize) -> isize {
    COUNTERS[slot % MAX_SLOTS].value()
}

/// Per-command counters (INFO commandstats).
#[derive(Clone, Copy, Default, Debug)]
pub struct CmdStat {
    /// Successful or failed executions.
    pub calls: u64,
    /// Microseconds measured with the wall clock (coordinated commands).
    pub usec: u64,
    /// Time measured in [`clock::ticks`] (shard-side commands); see [`CmdStat::total_usec`].
    pub ticks: u64,
    /// Rejected before execution (arity, auth, ...).
    pub rejected: u64,
    /// Executed but replied with an error.
    pub failed: u64,
}

impl CmdStat {
    /// Total microseconds spent in the command.
    pub fn total_usec(&self) -> u64 {
        self.usec + clock::ticks_to_us(self.ticks)
    }
}

/// A fast hasher for the per-command table.
pub type NameHasher = foldhash::fast::FixedState;

/// A command's full name as its [`crate::command::CommandSpec`] holds it.
/// Compared and hashed by address: every count for a command goes through the
/// one static string of its spec, so finding its counters hashes a word
/// instead of the name.
#[derive(Clone, Copy, Debug)]
pub struct CmdName(pub &'static str);

impl PartialEq for CmdName {
    fn eq(&self, o: &CmdName) -> bool {
        std::ptr::eq(self.0, o.0)
    }
}
impl Eq for CmdName {}
impl std::hash::Hash for CmdName {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.0.as_ptr() as usize).hash(h);
    }
}

/// One core's counters.
#[derive(Clone, Default, Debug)]
pub struct Stats {
    /// Per command, by full name (`get`, `config|get`).
    pub commands: HashMap<CmdName, CmdStat, NameHasher>,
    /// Error replies by code (`ERR`, `WRONGTYPE`).
    pub errors: HashMap<String, u64>,
    /// Commands processed.
    pub total_commands_processed: u64,
    /// Error replies sent.
    pub total_error_replies: u64,
    /// Connections accepted.
    pub total_connections_received: u64,
    /// Connections refused (maxclients).
    pub rejected_connections: u64,
    /// Keys removed by expiry.
    pub expired_keys: u64,
    /// Keys evicted.
    pub evicted_keys: u64,
    /// Clients disconnected by `maxmemory-clients`.
    pub evicted_clients: u64,
    /// Active-expiry estimate of the share of keys with a TTL that are
    /// already expired (0–1; Redis's moving average over cycles).
    pub expired_stale: f64,
    /// Active-expiry cycles that stopped on their time limit.
    pub expired_time_cap_reached_count: u64,
    /// Microseconds spent in active-expiry cycles.
    pub expire_cycle_us: u64,
    /// Cores whose figures were merged into this one (for averages).
    pub merged: u64,
    /// Successful key lookups.
    pub keyspace_hits: u64,
    /// Failed key lookups.
    pub keyspace_misses: u64,
    /// Bytes read from clients.
    pub net_input_bytes: u64,
    /// Bytes written to clients.
    pub net_output_bytes: u64,
    /// Protocol errors and similar reasons a client was dropped.
    pub total_reads_processed: u64,
    /// Writes to sockets.
    pub total_writes_processed: u64,
    /// Changes to the dataset since the last save (`rdb_changes_since_last_save`).
    pub dirty: u64,
    /// Clients disconnected for passing `client-output-buffer-limit`.
    pub client_output_buffer_limit_disconnections: u64,
    /// Clients disconnected for passing `client-query-buffer-limit`.
    pub client_query_buffer_limit_disconnections: u64,
}

impl Stats {
    /// Adds another core's counters into this one.
    pub fn merge(&mut self, o: &Stats) {
        for (k, v) in &o.commands {
            let e = self.commands.entry(*k).or_default();
            e.calls += v.calls;
            e.usec += v.usec;
            e.ticks += v.ticks;
            e.rejected += v.rejected;
            e.failed += v.failed;
        }
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.total_commands_processed += o.total_commands_processed;
        self.total_error_replies += o.total_error_replies;
        self.total_connections_received += o.total_connections_received;
        self.rejected_connections += o.rejected_connections;
        self.expired_keys += o.expired_keys;
        self.evicted_keys += o.evicted_keys;
        self.evicted_clients += o.evicted_clients;
        // Averaged over the cores (each core's estimate covers its keys).
        let n = self.merged.max(1) as f64;
        self.expired_stale = if self.merged == 0 {
            o.expired_stale
        } else {
            (self.expired_stale * n + o.expired_stale) / (n + 1.0)
        };
        self.merged += 1;
        self.expired_time_cap_reached_count += o.expired_time_cap_reached_count;
        self.expire_cycle_us += o.expire_cycle_us;
        self.keyspace_hits += o.keyspace_hits;
        self.keyspace_misses += o.keyspace_misses;
        self.net_input_bytes += o.net_input_bytes;
        self.net_output_bytes += o.net_output_bytes;
        self.total_reads_processed += o.total_reads_processed;
        self.total_writes_processed += o.total_writes_processed;
        self.dirty += o.dirty;
        self.client_output_buffer_limit_disconnections +=
            o.client_output_buffer_limit_disconnections;
        self.client_query_buffer_limit_disconnections += o.client_query_buffer_limit_disconnections;
    }
}

thread_local! {
    /// This core's counters.
    pub static STATS: RefCell<Stats> = RefCell::new(Stats::default());
}

/// Runs `f` with this core's counters.
#[inline]
pub fn with<R>(f: impl FnOnce(&mut Stats) -> R) -> R {
    STATS.with(|s| f(&mut s.borrow_mut()))
}

/// Counts one expired key.
#[inline]
pub fn expired_key() {
    with(|s| s.expired_keys += 1);
}

/// Counts a keyspace hit or miss.
#[inline]
pub fn keyspace(hit: bool) {
    with(|s| {
        if hit {
            s.keyspace_hits += 1
        } else {
            s.keyspace_misses += 1
        }
    });
}

/// Records an error reply by its code (the text up to the first space).
pub fn error_reply(line: &[u8]) {
    let body = line.strip_prefix(b"-").unwrap_or(line);
    let end = body
        .iter()
        .position(|&c| c == b' ' || c == b'\r')
        .unwrap_or(body.len());
    let code = String::from_utf8_lossy(&body[..end.min(128)]).into_owned();
    with(|s| {
        s.total_error_replies += 1;
        *s.errors.entry(code).or_default() += 1;
    });
}

/// Clears this core's counters (CONFIG RESETSTAT).
pub fn reset() {
    with(|s| *s = Stats::default());
    OPS.with(|o| *o.borrow_mut() = OpsSampler::default());
}

/// Samples kept for `instantaneous_ops_per_sec` (like Redis's STATS_METRIC_SAMPLES).
const OPS_SAMPLES: usize = 16;

/// Rolling samples of one per-second rate.
#[derive(Default, Clone, Copy)]
struct Rate {
    last: u64,
    samples: [u64; OPS_SAMPLES],
}

impl Rate {
    fn add(&mut self, now_total: u64, dt_ms: u64, idx: usize) {
        self.samples[idx] = now_total.saturating_sub(self.last) * 1000 / dt_ms.max(1);
    }
    fn mean(&self) -> u64 {
        self.samples.iter().sum::<u64>() / OPS_SAMPLES as u64
    }
}

#[derive(Default)]
struct OpsSampler {
    last_ms: u64,
    idx: usize,
    /// Commands, input bytes, output bytes.
    rates: [Rate; 3],
}

thread_local! {
    static OPS: RefCell<OpsSampler> = RefCell::new(OpsSampler::default());
}

/// Records one sample of this core's counters (called ~every 100 ms).
pub fn sample_ops(now_ms: u64) {
    let totals = with(|s| {
        [
            s.total_commands_processed,
            s.net_input_bytes,
            s.net_output_bytes,
        ]
    });
    OPS.with(|o| {
        let mut o = o.borrow_mut();
        if o.last_ms != 0 && now_ms > o.last_ms {
            let dt = now_ms - o.last_ms;
            let i = o.idx;
            for (r, t) in o.rates.iter_mut().zip(totals) {
                r.add(t, dt, i);
            }
            o.idx = (i + 1) % OPS_SAMPLES;
        }
        o.last_ms = now_ms;
        for (r, t) in o.rates.iter_mut().zip(totals) {
            r.last = t;
        }
    });
}

/// Mean of this core's recent ops/sec samples.
pub fn instantaneous_ops() -> u64 {
    OPS.with(|o| o.borrow().rates[0].mean())
}

/// Mean of this core's recent (input, output) bytes/sec samples.
pub fn instantaneous_bytes() -> (u64, u64) {
    OPS.with(|o| {
        let o = o.borrow();
        (o.rates[1].mean(), o.rates[2].mean())
    })
}

thread_local! {
    /// Changes reported by the running command; None means "use the default".
    static CHANGES: Cell<Option<u64>> = const { Cell::new(None) };
    /// The running command signalled the keys it changed itself.
    static SIGNALLED: Cell<bool> = const { Cell::new(false) };
}

/// Tells the dispatcher that the running command has already signalled the
/// keys it changed to WATCHing clients (it changed fewer keys than it names,
/// as SMOVE when the member was already in the destination).
#[inline]
pub fn signalled_own_keys() {
    SIGNALLED.with(|c| c.set(true));
}

/// True (once) when the command that just ran signalled its own keys.
#[inline]
pub fn take_signalled() -> bool {
    SIGNALLED.with(|c| c.replace(false))
}

/// Reports how many dataset changes the running write command made (0 for a
/// no-op such as SETNX on an existing key). Without a report a successful write
/// command counts as one change.
#[inline]
pub fn changes(n: u64) {
    CHANGES.with(|c| c.set(Some(c.get().unwrap_or(0) + n)));
}

/// Starts counting a command's changes.
#[inline]
pub fn begin_command() {
    CHANGES.with(|c| c.set(None));
    SIGNALLED.with(|c| c.set(false));
}

/// Ends a command: adds its changes to `dirty` (writes only, not on error)
/// and returns how many it counted.
#[inline]
pub fn end_command(write: bool, failed: bool) -> u64 {
    let reported = CHANGES.with(|c| c.take());
    if write && !failed {
        let n = reported.unwrap_or(1);
        if n > 0 {
            with(|s| s.dirty += n);
        }
        n
    } else {
        0
    }
}

/// A cheap monotonic clock for timing each command.
///
/// Reading the wall or monotonic clock through the vDSO costs tens of
/// nanoseconds; at a million commands per second, four reads per command were
/// about an eighth of the server's CPU. On x86-64 with an invariant TSC (the
/// `constant_tsc` and `nonstop_tsc` CPU flags) commands are timed in TSC ticks,
/// converted to microseconds only when INFO asks; elsewhere in nanoseconds of
/// `Instant`.
pub mod clock {
    use std::sync::OnceLock;
    use std::time::Instant;

    struct Calibration {
        use_tsc: bool,
        start: Instant,
        /// Ticks per microsecond.
        rate: f64,
    }

    static CAL: OnceLock<Calibration> = OnceLock::new();

    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn rdtsc() -> u64 {
        // SAFETY: RDTSC has no preconditions on x86-64; it only reads the
        // time-stamp counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    #[inline]
    fn rdtsc() -> u64 {
        0
    }

    fn invariant_tsc() -> bool {
        cfg!(target_arch = "x86_64")
            && std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| {
                c.lines().find(|l| l.starts_with("flags")).is_some_and(|l| {
                    let has = |name: &str| l.split_whitespace().any(|w| w == name);
                    has("constant_tsc") && has("nonstop_tsc")
                })
            })
    }

    fn calibration() -> &'static Calibration {
        CAL.get_or_init(|| {
            let start = Instant::now();
            if !invariant_tsc() {
                return Calibration {
                    use_tsc: false,
                    start,
                    rate: 1000.0,
                };
            }
            // Two milliseconds against the monotonic clock give the rate to
            // better than 0.1%.
            let t0 = rdtsc();
            let i0 = Instant::now();
            while i0.elapsed().as_micros() < 2000 {
                std::hint::spin_loop();
            }
            let us = i0.elapsed().as_nanos() as f64 / 1000.0;
            let rate = (rdtsc().wrapping_sub(t0)) as f64 / us;
            Calibration {
                use_tsc: rate.is_finite() && rate > 1.0,
                start,
                rate: if rate.is_finite() && rate > 1.0 {
                    rate
                } else {
                    1000.0
                },
            }
        })
    }

    /// Calibrates the clock now (the server calls it before serving, so no
    /// command pays for it).
    pub fn init() {
        calibration();
    }

    /// Current time in ticks (only differences are meaningful).
    #[inline]
    pub fn ticks() -> u64 {
        let c = calibration();
        if c.use_tsc {
            rdtsc()
        } else {
            c.start.elapsed().as_nanos() as u64
        }
    }

    thread_local! {
        /// The end of the last command timed in the running lap, in ticks,
        /// and the executor's poll count when it was taken; 0: no lap.
        static LAP: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }

    /// Starts a lap: each command timed from now on runs from the end of
    /// the one before it, so a run of commands executed back to back (a
    /// pipeline, a hopped batch) reads the clock once per command instead of
    /// twice. The time between two commands of a lap (routing the next
    /// request) counts in the later one. A lap ends with [`lap_clear`], or by
    /// itself when the task that started it is suspended (another task is
    /// polled), so it never spans a wait.
    #[inline]
    pub fn lap_start() {
        let t = ticks().max(1);
        let polls = crate::runtime::executor::polls();
        LAP.with(|l| l.set((t, polls)));
    }

    /// Ends the running lap.
    #[inline]
    pub fn lap_clear() {
        LAP.with(|l| l.set((0, 0)));
    }

    /// The tick a command starts at: the lap's mark, or a clock read.
    #[inline]
    pub fn command_start() -> u64 {
        let (mark, polls) = LAP.with(|l| l.get());
        if mark != 0 && polls == crate::runtime::executor::polls() {
            mark
        } else {
            ticks()
        }
    }

    /// Ticks a command took since `t0` (from [`command_start`]); moves the
    /// lap's mark when one runs.
    #[inline]
    pub fn command_end(t0: u64) -> u64 {
        let t = ticks();
        LAP.with(|l| {
            let (mark, polls) = l.get();
            if mark != 0 {
                l.set((t.max(1), polls));
            }
        });
        t.wrapping_sub(t0)
    }

    /// Converts a tick count into microseconds.
    #[inline]
    pub fn ticks_to_us(t: u64) -> u64 {
        (t as f64 / calibration().rate) as u64
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_lap_reads_the_clock_once_per_command() {
            super::lap_start();
            let t0 = super::command_start();
            let d0 = super::command_end(t0);
            // The next command starts where the last one ended.
            let t1 = super::command_start();
            assert_eq!(t1, t0.wrapping_add(d0));
            super::command_end(t1);
            super::lap_clear();
            let t2 = super::command_start();
            assert!(t2 >= t1);
            // Outside a lap, a command's start is a fresh reading each time.
            let t3 = super::command_start();
            assert!(t3 >= t2);
            super::command_end(t3);
            assert!(super::command_start() >= t3);
        }

        #[test]
        fn ticks_measure_time() {
            let t0 = super::ticks();
            let i0 = std::time::Instant::now();
            while i0.elapsed().as_millis() < 20 {
                std::hint::spin_loop();
            }
            let us = super::ticks_to_us(super::ticks() - t0);
            let real = i0.elapsed().as_micros() as u64;
            assert!(us >= 19_000 && us <= real + 2_000, "{us} vs {real}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(slot: usize) -> bool {
        HELD[slot / 64].load(Ordering::Acquire) & (1 << (slot % 64)) != 0
    }

    #[test]
    fn a_slot_is_one_threads_until_that_thread_ends() {
        let a = claim_slot();
        let b = claim_slot();
        assert!(a != 0 && b != 0 && a != b, "{a} {b}");
        assert!(held(a) && held(b));
        let counted = std::thread::spawn(move || {
            register_thread(a);
            // What the counting allocator does for each allocation and
            // free (the library's tests run on the plain allocator).
            add(8192);
            let counted = slot_used(a);
            add(-4096);
            (counted, thread_slot())
        })
        .join()
        .expect("counting thread");
        assert!(counted.0 >= 8192, "{counted:?}");
        assert_eq!(counted.1, a);
        // Released at the thread's end, its count (the 4096 bytes it kept)
        // moved to the shared slot; unless another thread took the slot
        // since, it reads zero.
        if !held(a) {
            assert_eq!(slot_used(a), 0);
        }
        release_slot(b);
        assert!(!held(b) || claim_slot() != b);
    }

    #[test]
    fn memory_moved_between_slots_keeps_the_sum() {
        let (a, b) = (claim_slot(), claim_slot());
        let before = slot_used(a) + slot_used(b);
        move_count(a, b, 1000);
        assert_eq!(slot_used(a) + slot_used(b), before);
        move_count(b, a, 1000);
        release_slot(a);
        release_slot(b);
    }
}
