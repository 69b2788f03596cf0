//! What the cores of one engine share: flags, counters and times that Redis
//! keeps as server-wide globals. Each engine has its own, so one process can
//! run several engines (a primary and a replica, cluster nodes, tests).

use super::Mesh;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// State shared by every core of one engine.
pub struct EngineState {
    /// Set once shutdown begins.
    pub shutting_down: AtomicBool,
    /// Unix time (seconds) the engine started.
    pub start_time: AtomicU64,
    /// Makes a listening socket accept clients on the calling core (set by
    /// the server that starts the engine; CONFIG SET port uses it).
    pub accept_on: Option<fn(&std::rc::Rc<super::Core>, std::os::fd::RawFd)>,
    /// Active expiry on (DEBUG SET-ACTIVE-EXPIRE 0 turns it off).
    pub active_expire: AtomicBool,
    /// Unix time (seconds) of the last successful save.
    pub last_save: AtomicU64,
    /// Next client id (ids are unique and increasing across cores).
    pub next_client_id: AtomicU64,
    /// Connected clients across all cores (for `maxclients`).
    pub connected: AtomicUsize,
    /// CLIENT PAUSE: Unix ms until which commands are held (0: not paused).
    pub pause_end_ms: Arc<AtomicU64>,
    /// CLIENT PAUSE ALL (true) or WRITE (false).
    pub pause_all: AtomicBool,
    /// `used_memory` once the engine finished starting.
    pub startup_memory: AtomicUsize,
    /// Highest `used_memory` seen.
    pub peak_memory: AtomicUsize,
    /// Allocation-counter slots of this engine's threads (see [`crate::metrics`]).
    pub mem_slots: Vec<usize>,
    /// The process waits for SIGTERM to stop this engine (the binary's case):
    /// SHUTDOWN then signals the process.
    pub signal_waiter: AtomicBool,
    /// WATCH registrations on all shards; write paths that are not plain shard
    /// commands (coordinated multi-shard writes) skip signalling when it is 0.
    pub cas_watches: AtomicUsize,
    /// The order blocking commands started in, across cores.
    pub block_order: super::blocking::BlockOrder,
    /// Keys each shard holds, as its core last published them (once per
    /// loop turn while `maxmemory` is set): the weights that spread eviction
    /// over the shards.
    pub shard_keys: Vec<PaddedCount>,
    /// Clients with CLIENT TRACKING on, on every core.
    pub tracking_clients: AtomicUsize,
    /// Clients in MONITOR mode on every core: commands are fed to monitors
    /// only while it is not 0.
    pub monitoring: AtomicUsize,
    /// Clients in MONITOR mode on each core (who gets a command's line).
    pub monitors: Vec<PaddedCount>,
    /// Keys in each shard's tracking table, as its cron last counted them
    /// (`tracking-table-max-keys` is one figure for the engine).
    pub tracking_keys: Vec<PaddedCount>,
    /// Bytes each core's clients hold (query buffers and pending output), as
    /// its client housekeeping last measured them (`maxmemory-clients`).
    pub client_mem: Vec<PaddedCount>,
    /// The biggest evictable client of each core, in bytes, as last measured.
    pub client_max: Vec<PaddedCount>,
    /// Set by a core whose clients' total passed `maxmemory-clients` while
    /// this core holds the biggest clients: weigh them at the turn's end.
    pub client_check: Vec<PaddedCount>,
    /// Bytes of hop replies computed for each core's clients and not yet
    /// in their buffers (counted under `maxmemory-clients` only): client
    /// memory on its way, which key eviction leaves to client eviction.
    pub transit: Vec<PaddedCount>,
    /// Where the shards' journals send their records (none: not recorded).
    pub journal: Option<super::journal::Sink>,
    /// Scripts loaded by EVAL and SCRIPT LOAD, by lower-case SHA1: every
    /// core runs them from here (each compiles its own copy).
    pub scripts: std::sync::RwLock<hashbrown::HashMap<String, Arc<CachedScript>>>,
    /// Bumped by SCRIPT FLUSH: cores drop the scripts they compiled.
    pub scripts_epoch: AtomicU64,
    /// The script each core is executing, if any (SCRIPT KILL).
    pub script_slots: Vec<ScriptSlot>,
    /// Function libraries (FUNCTION LOAD): replaced whole on every change,
    /// read by every core. They survive FLUSHALL.
    pub functions: std::sync::RwLock<Arc<Libraries>>,
    /// Bumped on every change of `functions`: cores reload their copies.
    pub functions_epoch: AtomicU64,
    /// Cores running a script past `busy-reply-threshold`: while any is,
    /// commands not flagged `allow-busy` get a BUSY error.
    pub busy_scripts: AtomicUsize,
    mesh: Arc<Mesh>,
}

/// The BUSY error while an EVAL script runs past `busy-reply-threshold`.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The same while a function does.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The loaded function libraries.
#[derive(Debug, Default, Clone)]
pub struct Libraries {
    /// By library name (case-sensitive, as in Redis).
    pub libs: std::collections::BTreeMap<String, Arc<Library>>,
    /// Library of each function, by lower-case function name (function
    /// names are unique across libraries, compared without case).
    pub by_function: hashbrown::HashMap<String, Arc<Library>>,
}

impl Libraries {
    /// The function `name` (lower case) and its library.
    pub fn function(&self, name: &str) -> Option<(&Arc<Library>, &FunctionInfo)> {
        let lib = self.by_function.get(name)?;
        let f = lib
            .functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))?;
        Some((lib, f))
    }
}

/// One library: its source and the functions it registered.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    /// The whole payload given to FUNCTION LOAD, `#!lua name=..` line included.
    pub code: Vec<u8>,
    pub functions: Vec<FunctionInfo>,
}

/// A function a library registered.
#[derive(Debug)]
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Vec<u8>>,
    /// Script flags (`no-writes` 1, `allow-oom` 2, `allow-stale` 4,
    /// `no-cluster` 8, `allow-cross-slot-keys` 16).
    pub flags: u8,
    /// What its runs taught about the keys it touches.
    pub learn: Arc<CachedScript>,
}

/// What other cores see of the Lua code a core is executing.
#[derive(Debug, Default)]
pub struct ScriptSlot {
    /// Unix ms the core entered the script's Lua code (0: it is not in it).
    pub since_ms: AtomicU64,
    /// The script has run a write command.
    pub wrote: AtomicBool,
    /// The run the core is in (runs are numbered per core from 1, across
    /// the interpreters SCRIPT FLUSH replaces, so a SCRIPT KILL meant for
    /// one never reaches a later one).
    pub run: AtomicU64,
    /// Runs started on the core.
    pub runs: AtomicU64,
    /// `busy-reply-threshold` for that run (0: none).
    pub busy_ms: AtomicU64,
    /// SCRIPT KILL asks this run to stop: every check it makes from then on
    /// fails, so a pcall cannot keep it going.
    pub kill: AtomicU64,
    /// Unix ms the run started (its `busy-reply-threshold` counts from it).
    pub started_ms: AtomicU64,
    /// The run is a function (FCALL), not EVAL.
    pub function: AtomicBool,
    /// The run went past `busy-reply-threshold`: other clients get BUSY
    /// while it lasts (counted in `EngineState::busy_scripts`).
    pub busy: AtomicBool,
    /// What FUNCTION STATS shows of a busy run.
    pub info: std::sync::Mutex<Option<BusyRun>>,
}

/// A run past `busy-reply-threshold`, as FUNCTION STATS reports it.
#[derive(Debug, Clone)]
pub struct BusyRun {
    /// The function's name or the script's SHA1.
    pub name: String,
    /// The command that started it.
    pub argv: Vec<Vec<u8>>,
    pub start_ms: u64,
    pub function: bool,
}

/// A script body in the engine's cache, and what its runs taught.
#[derive(Debug, Default)]
pub struct CachedScript {
    /// The body as loaded.
    pub body: Vec<u8>,
    /// A run of it has finished (its key use is known).
    pub learned: AtomicBool,
    /// A run touched keys it did not declare (or it is not yet learned):
    /// its runs lock every shard whole.
    pub undeclared: AtomicBool,
}

/// A counter on its own cache line, written by one core.
#[repr(align(64))]
#[derive(Default)]
pub struct PaddedCount(pub AtomicUsize);

impl EngineState {
    /// The cached script whose SHA1 is `sha` (any case), with the SHA1 in
    /// lower case.
    pub fn cached_script(&self, sha: &[u8]) -> Option<(String, Arc<CachedScript>)> {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        let s = self.scripts.read().ok()?.get(&sha).cloned()?;
        Some((sha, s))
    }

    /// State for an engine whose cores talk through `mesh`.
    pub fn new(mesh: Arc<Mesh>, mem_slots: Vec<usize>) -> EngineState {
        let now = crate::now_ms() / 1000;
        EngineState {
            shutting_down: AtomicBool::new(false),
            start_time: AtomicU64::new(now),
            active_expire: AtomicBool::new(true),
            last_save: AtomicU64::new(now),
            next_client_id: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
            pause_end_ms: Arc::new(AtomicU64::new(0)),
            pause_all: AtomicBool::new(false),
            startup_memory: AtomicUsize::new(0),
            peak_memory: AtomicUsize::new(0),
            mem_slots,
            signal_waiter: AtomicBool::new(false),
            cas_watches: AtomicUsize::new(0),
            block_order: Default::default(),
            shard_keys: (0..mesh.cores()).map(|_| PaddedCount::default()).collect(),
            tracking_clients: AtomicUsize::new(0),
            monitoring: AtomicUsize::new(0),
            monitors: (0..mesh.cores()).map(|_| PaddedCount::default()).collect(),
            tracking_keys: (0..mesh.cores()).map(|_| PaddedCount::default()).collect(),
            client_mem: (0..mesh.cores()).map(|_| PaddedCount::default()).collect(),
            client_max: (0..mesh.cores()).map(|_| PaddedCount::default()).collect(),
            client_check: (0..mesh.cores()).map(|_| PaddedCount::default()).collect(),
            transit: (0..mesh.cores()).map(|_| PaddedCount::default()).collect(),
            journal: None,
            accept_on: None,
            scripts: Default::default(),
            scripts_epoch: AtomicU64::new(0),
            script_slots: (0..mesh.cores()).map(|_| ScriptSlot::default()).collect(),
            functions: Default::default(),
            functions_epoch: AtomicU64::new(0),
            busy_scripts: AtomicUsize::new(0),
            mesh,
        }
    }

    /// The function libraries in force.
    pub fn libraries(&self) -> Arc<Libraries> {
        match self.functions.read() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The BUSY error while a script runs past `busy-reply-threshold`
    /// (None while none does).
    pub fn busy_error(&self) -> Option<&'static str> {
        if self.busy_scripts.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let function = self
            .script_slots
            .iter()
            .any(|s| s.busy.load(Ordering::Acquire) && s.function.load(Ordering::Acquire));
        Some(if function { BUSY_FUNCTION } else { BUSY_EVAL })
    }

    /// Asks every core to stop (as SIGTERM does for the binary).
    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        if self.signal_waiter.load(Ordering::SeqCst) {
            // SAFETY: sending a signal to our own process; the thread waiting
            // for it stops the engine.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGTERM);
            }
        }
        self.mesh.kick_all();
    }

    /// True once shutdown began.
    pub fn stopping(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Bytes allocated by this engine's threads.
    pub fn used_memory(&self) -> usize {
        crate::metrics::used_memory_of(&self.mem_slots)
    }

    /// Records the current usage as a peak candidate; returns it.
    pub fn note_peak(&self) -> usize {
        let u = self.used_memory();
        self.peak_memory.fetch_max(u, Ordering::Relaxed);
        u
    }

    /// Starts or extends a pause: a later end or a stricter mode wins, as in Redis.
    pub fn pause(&self, end_ms: u64, all: bool) {
        let cur_end = self.pause_end_ms.load(Ordering::SeqCst);
        let now = crate::now_ms();
        let active = cur_end > now;
        if !active || all {
            self.pause_all.store(
                all || (active && self.pause_all.load(Ordering::SeqCst)),
                Ordering::SeqCst,
            );
        }
        if !active || end_ms > cur_end {
            self.pause_end_ms.store(end_ms, Ordering::SeqCst);
        }
    }

    /// Ends any pause.
    pub fn unpause(&self) {
        self.pause_end_ms.store(0, Ordering::SeqCst);
        self.pause_all.store(false, Ordering::SeqCst);
    }

    /// Whether a command (`write`: it writes or may replicate) must wait now.
    #[inline]
    pub fn paused(&self, write: bool) -> bool {
        let end = self.pause_end_ms.load(Ordering::Relaxed);
        end != 0 && (write || self.pause_all.load(Ordering::Relaxed)) && crate::now_ms() < end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_rules() {
        let e = EngineState::new(Mesh::new(1).unwrap(), vec![]);
        assert!(!e.paused(true));
        let far = crate::now_ms() + 60_000;
        e.pause(far, false);
        assert!(e.paused(true) && !e.paused(false));
        // A shorter WRITE pause neither shortens nor weakens it; ALL makes it stricter.
        e.pause(crate::now_ms() + 10, false);
        assert_eq!(e.pause_end_ms.load(Ordering::SeqCst), far);
        e.pause(crate::now_ms() + 10, true);
        assert!(e.paused(false));
        assert_eq!(e.pause_end_ms.load(Ordering::SeqCst), far);
        e.unpause();
        assert!(!e.paused(true) && !e.paused(false));
    }
}
