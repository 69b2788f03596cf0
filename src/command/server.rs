//! Server commands: INFO, CONFIG, TIME, LASTSAVE, DEBUG, SHUTDOWN and the
//! script/function flush stubs of a server without scripting.
//!
//! ```text
//!  INFO ─► broadcast: every core clones its Stats, counts its clients and its
//!          shard's keys per db ─► merge ─► format the requested sections
//!  CONFIG SET ─► validate every pair on a copy ─► broadcast the pairs to all cores
//! ```

use super::util::*;
use super::{CommandSpec, LocalBoxFuture, OwnedArgs, flags::*};
use crate::command::session::Session;
use crate::command::session::SessionCore;
use crate::config::{Config, glob_match};
use crate::metrics::{self, Stats};
use std::sync::atomic::Ordering;

// ---------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------

/// Sections printed by `INFO` without arguments (and `default`).
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Every section, in output order (`all` and `everything` are the same here:
/// there are no module-generated sections).
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Resolves INFO's arguments into the set of sections to print.
pub fn info_sections(args: &[&[u8]]) -> Vec<&'static str> {
    let mut want: Vec<&'static str> = Vec::new();
    let add = |s: &'static str, want: &mut Vec<&'static str>| {
        if !want.contains(&s) {
            want.push(s);
        }
    };
    if args.is_empty() {
        for s in DEFAULT_SECTIONS {
            add(s, &mut want);
        }
    }
    for a in args {
        let l = String::from_utf8_lossy(a).to_ascii_lowercase();
        match l.as_str() {
            "default" => DEFAULT_SECTIONS.iter().for_each(|s| add(s, &mut want)),
            "all" | "everything" => ALL_SECTIONS.iter().for_each(|s| add(s, &mut want)),
            other => {
                if let Some(s) = ALL_SECTIONS.iter().find(|s| **s == other) {
                    add(s, &mut want);
                }
            }
        }
    }
    // Output order is fixed regardless of the order asked.
    ALL_SECTIONS
        .iter()
        .copied()
        .filter(|s| want.contains(s))
        .collect()
}

/// Redis's `bytesToHuman`.
pub fn bytes_to_human(n: u64) -> String {
    let d = n as f64;
    const K: f64 = 1024.0;
    if d < K {
        format!("{n}B")
    } else if d < K * K {
        format!("{:.2}K", d / K)
    } else if d < K * K * K {
        format!("{:.2}M", d / (K * K))
    } else if d < K * K * K * K {
        format!("{:.2}G", d / (K * K * K))
    } else if d < K * K * K * K * K {
        format!("{:.2}T", d / (K * K * K * K))
    } else if d < K * K * K * K * K * K {
        format!("{:.2}P", d / (K * K * K * K * K))
    } else {
        format!("{n}B")
    }
}

/// One commandstats line (without CRLF).
pub fn cmdstat_line(name: &str, s: &metrics::CmdStat) -> String {
    let per = if s.calls == 0 {
        0.0
    } else {
        s.total_usec() as f64 / s.calls as f64
    };
    format!(
        "cmdstat_{name}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}",
        s.calls,
        s.total_usec(),
        s.rejected,
        s.failed
    )
}

/// What one core reports for INFO.
struct CoreReport {
    stats: Stats,
    clients: usize,
    blocked: usize,
    max_qbuf: usize,
    /// Per database: (keys, keys with a TTL, sampled TTL sum in ms, samples).
    keyspace: Vec<(usize, usize, u64, u64)>,
    ops_per_sec: u64,
    /// Input and output bytes per second.
    net_rate: (u64, u64),
    cpu_thread: (f64, f64),
    /// Bytes held by this core's clients: query buffers and pending output.
    clients_mem: u64,
    /// Per database: bookkeeping bytes of the main index and the TTL index.
    db_overhead: Vec<(usize, usize)>,
    /// The part of that bookkeeping that exists from startup (database 0's
    /// directory), already in `startup.allocated`.
    startup_db: usize,
    /// Channels, patterns and shard channels subscribed to anywhere, as
    /// this core's view of the engine counts them.
    pubsub: (usize, usize, usize),
    /// This shard's tracking table: keys, (key, client) items, prefixes.
    tracking: (usize, usize, usize),
}

impl CoreReport {
    /// Every database's bookkeeping bytes on this core, beyond startup's.
    fn overhead_bytes(&self) -> u64 {
        let all: u64 = self.db_overhead.iter().map(|(m, e)| (m + e) as u64).sum();
        all.saturating_sub(self.startup_db as u64)
    }
}

/// What the engine's memory is made of, from the cores' reports: the part
/// that is not data (startup, clients, index bookkeeping) and the data.
/// Also the figures around it that INFO and MEMORY report: the peak, the
/// resident set and the allocator's own view.
struct MemoryParts {
    used: u64,
    startup: u64,
    clients: u64,
    db_overhead: u64,
    peak: u64,
    rss: u64,
    /// The allocator's figures, or the counted ones where it has none.
    alloc: metrics::AllocatorStats,
}

impl MemoryParts {
    fn new(used: u64, engine: &crate::shard::EngineState, reports: &[CoreReport]) -> Self {
        let rss = rss_bytes();
        MemoryParts {
            used,
            startup: engine.startup_memory.load(Ordering::Relaxed) as u64,
            clients: reports.iter().map(|r| r.clients_mem).sum(),
            db_overhead: reports.iter().map(|r| r.overhead_bytes()).sum(),
            peak: (engine.peak_memory.load(Ordering::Relaxed) as u64).max(used),
            rss,
            alloc: metrics::allocator_stats().unwrap_or(metrics::AllocatorStats {
                allocated: used,
                active: used,
                resident: rss,
            }),
        }
    }
    /// Measures `used_memory` first (before gathering the cores' reports
    /// allocates anything), then gathers them.
    async fn gather(c: &Session) -> (Vec<CoreReport>, MemoryParts) {
        let used = c.core.engine.note_peak() as u64;
        let reports = c.core.broadcast(collect_report).await;
        let parts = MemoryParts::new(used, &c.core.engine, &reports);
        (reports, parts)
    }
    fn overhead(&self) -> u64 {
        (self.startup + self.clients + self.db_overhead).min(self.used)
    }
    fn dataset(&self) -> u64 {
        self.used - self.overhead()
    }
    /// The dataset's share of what was allocated after startup, in percent.
    fn dataset_perc(&self) -> f64 {
        let net = self.used.saturating_sub(self.startup);
        if net > 0 {
            self.dataset() as f64 * 100.0 / net as f64
        } else {
            0.0
        }
    }
}

fn rusage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

fn uname() -> String {
    // SAFETY: uname fills the zeroed struct; its fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |b: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(b.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

/// Resident set size in bytes, from /proc/self/statm.
fn rss_bytes() -> u64 {
    let page = {
        // SAFETY: sysconf has no memory-safety preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 { p as u64 } else { 4096 }
    };
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .map(|pages: u64| pages * page)
        .unwrap_or(0)
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .map(|kb: u64| kb * 1024)
        .unwrap_or(0)
}

/// The config file given on the command line, as an absolute path.
pub fn config_file() -> Option<std::path::PathBuf> {
    let first = std::env::args().nth(1)?;
    if first.starts_with('-') {
        return None;
    }
    std::fs::canonicalize(&first).ok()
}

/// Stable 40-hex-digit id of this process (Redis's run_id).
fn run_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut r = crate::Rng::new(crate::now_us() ^ std::process::id() as u64);
        (0..40)
            .map(|_| char::from_digit(r.below(16) as u32, 16).unwrap_or('0'))
            .collect()
    })
    .clone()
}

fn replid() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut r = crate::Rng::new(crate::now_us().rotate_left(17) ^ 0x5151);
        (0..40)
            .map(|_| char::from_digit(r.below(16) as u32, 16).unwrap_or('0'))
            .collect()
    })
    .clone()
}

/// Entries looked at to estimate `avg_ttl` (Redis also estimates it by sampling).
const TTL_SAMPLE_SCAN: usize = 4096;

/// Sum and count of the remaining TTLs among a bounded scan of `db`.
fn sample_ttls(db: &crate::storage::Db, now: u64) -> (u64, u64) {
    db.iter()
        .take(TTL_SAMPLE_SCAN)
        .filter(|(_, e)| e.expire > now)
        .fold((0, 0), |(s, n), (_, e)| (s + (e.expire - now), n + 1))
}

fn collect_report(core: &std::rc::Rc<crate::shard::Core>) -> CoreReport {
    let stats = metrics::with(|s| s.clone());
    let clients = core.clients().borrow();
    let max_qbuf = clients
        .map
        .values()
        .map(|h| h.info.borrow().qbuf)
        .max()
        .unwrap_or(0);
    let shard = core.shard.borrow();
    let now = crate::now_ms();
    let keyspace = (0..shard.databases())
        .map(|i| match shard.db_opt(i) {
            Some(d) => {
                let (sum, n) = if d.expires() > 0 {
                    sample_ttls(d, now)
                } else {
                    (0, 0)
                };
                (d.len(), d.expires(), sum, n)
            }
            None => (0, 0, 0, 0),
        })
        .collect();
    CoreReport {
        stats,
        clients: clients.map.len(),
        blocked: crate::command::session::blocking::blocked_clients(core),
        max_qbuf,
        keyspace,
        ops_per_sec: metrics::instantaneous_ops(),
        net_rate: metrics::instantaneous_bytes(),
        cpu_thread: rusage(libc::RUSAGE_THREAD),
        clients_mem: clients.map.values().map(|h| h.memory() as u64).sum(),
        db_overhead: (0..shard.databases())
            .map(|i| shard.db_opt(i).map_or((0, 0), |d| d.overhead()))
            .collect(),
        startup_db: shard.db_opt(0).map_or(0, |d| d.directory_bytes()),
        pubsub: core.pubsub().borrow().sizes(),
        tracking: crate::storage::tracking::with(|t| t.sizes()),
    }
}

/// Builds the INFO text for `sections` from the merged reports.
fn format_info(
    sections: &[&str],
    cfg: &Config,
    engine: &crate::shard::EngineState,
    reports: &[CoreReport],
    core_id: usize,
    used_memory: usize,
    lua_bytes: u64,
) -> String {
    let mut stats = Stats::default();
    for r in reports {
        stats.merge(&r.stats);
    }
    let now_ms = crate::now_ms();
    let start = engine.start_time.load(Ordering::Relaxed);
    let uptime = (now_ms / 1000).saturating_sub(start);
    let mut out = String::with_capacity(4096);
    for (n, sec) in sections.iter().enumerate() {
        if n > 0 {
            out.push_str("\r\n");
        }
        let mut l = |s: String| {
            out.push_str(&s);
            out.push_str("\r\n");
        };
        match *sec {
            "server" => {
                l("# Server".into());
                l(format!("redis_version:{}", crate::REDIS_VERSION));
                l(format!("coreshard_version:{}", crate::VERSION));
                l("redis_git_sha1:00000000".into());
                l("redis_git_dirty:0".into());
                l("redis_build_id:0".into());
                l("redis_mode:standalone".into());
                l(format!("os:{}", uname()));
                l(format!("arch_bits:{}", usize::BITS));
                l("monotonic_clock:POSIX clock_gettime".into());
                l("multiplexing_api:io_uring".into());
                l("atomicvar_api:c11-builtin".into());
                l("gcc_version:0.0.0".into());
                l(format!("process_id:{}", std::process::id()));
                l("process_supervised:no".into());
                l(format!("run_id:{}", run_id()));
                l(format!("tcp_port:{}", cfg.port));
                l(format!("server_time_usec:{}", crate::now_us()));
                l(format!("uptime_in_seconds:{uptime}"));
                l(format!("uptime_in_days:{}", uptime / 86400));
                l(format!("hz:{}", cfg.hz));
                l(format!("configured_hz:{}", cfg.hz));
                l(format!(
                    "lru_clock:{}",
                    crate::storage::db::lru_clock() & ((1 << 24) - 1)
                ));
                l(format!(
                    "executable:{}",
                    std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ));
                l(format!(
                    "config_file:{}",
                    config_file()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ));
                l("io_threads_active:0".into());
                l(format!("threads:{}", reports.len()));
            }
            "clients" => {
                let clients: usize = reports.iter().map(|r| r.clients).sum();
                l("# Clients".into());
                l(format!("connected_clients:{clients}"));
                l("cluster_connections:0".into());
                l(format!("maxclients:{}", cfg.maxclients));
                l(format!(
                    "client_recent_max_input_buffer:{}",
                    reports.iter().map(|r| r.max_qbuf).max().unwrap_or(0)
                ));
                l("client_recent_max_output_buffer:0".into());
                l(format!(
                    "blocked_clients:{}",
                    reports.iter().map(|r| r.blocked).sum::<usize>()
                ));
                l(format!(
                    "tracking_clients:{}",
                    engine.tracking_clients.load(Ordering::Relaxed)
                ));
                l("clients_in_timeout_table:0".into());
            }
            "memory" => {
                let used = used_memory as u64;
                let parts = MemoryParts::new(used, engine, reports);
                let (peak, rss, al) = (parts.peak, parts.rss, parts.alloc);
                let sys = total_system_memory();
                let maxmem = cfg.get_i64("maxmemory").max(0) as u64;
                let frag = if used > 0 {
                    rss as f64 / used as f64
                } else {
                    0.0
                };
                l("# Memory".into());
                l(format!("used_memory:{used}"));
                l(format!("used_memory_human:{}", bytes_to_human(used)));
                l(format!("used_memory_rss:{rss}"));
                l(format!("used_memory_rss_human:{}", bytes_to_human(rss)));
                l(format!("used_memory_peak:{peak}"));
                l(format!("used_memory_peak_human:{}", bytes_to_human(peak)));
                l(format!(
                    "used_memory_peak_perc:{:.2}%",
                    if peak > 0 {
                        used as f64 * 100.0 / peak as f64
                    } else {
                        0.0
                    }
                ));
                l(format!("used_memory_overhead:{}", parts.overhead()));
                l(format!("used_memory_startup:{}", parts.startup));
                l(format!("used_memory_dataset:{}", parts.dataset()));
                l(format!(
                    "used_memory_dataset_perc:{:.2}%",
                    parts.dataset_perc()
                ));
                l(format!("allocator_allocated:{}", al.allocated));
                l(format!("allocator_active:{}", al.active));
                l(format!("allocator_resident:{}", al.resident));
                l(format!("total_system_memory:{sys}"));
                l(format!("total_system_memory_human:{}", bytes_to_human(sys)));
                let sm = super::scripting::memory_info(engine, lua_bytes);
                l(format!("used_memory_lua:{}", sm.vm));
                l(format!("used_memory_vm_eval:{}", sm.vm));
                l(format!("used_memory_lua_human:{}", bytes_to_human(sm.vm)));
                l(format!("used_memory_scripts_eval:{}", sm.eval_bytes));
                l(format!("number_of_cached_scripts:{}", sm.cached));
                l(format!("number_of_functions:{}", sm.functions));
                l(format!("number_of_libraries:{}", sm.libraries));
                l("used_memory_vm_functions:0".into());
                l(format!("used_memory_vm_total:{}", sm.vm));
                l(format!(
                    "used_memory_vm_total_human:{}",
                    bytes_to_human(sm.vm)
                ));
                l(format!("used_memory_functions:{}", sm.function_bytes));
                let scripts = sm.eval_bytes + sm.function_bytes;
                l(format!("used_memory_scripts:{scripts}"));
                l(format!(
                    "used_memory_scripts_human:{}",
                    bytes_to_human(scripts)
                ));
                l(format!("maxmemory:{maxmem}"));
                l(format!("maxmemory_human:{}", bytes_to_human(maxmem)));
                l(format!(
                    "maxmemory_policy:{}",
                    cfg.get("maxmemory-policy").unwrap_or("noeviction")
                ));
                let r = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
                l(format!(
                    "allocator_frag_ratio:{:.2}",
                    r(al.active, al.allocated)
                ));
                l(format!(
                    "allocator_frag_bytes:{}",
                    al.active as i64 - al.allocated as i64
                ));
                l(format!(
                    "allocator_rss_ratio:{:.2}",
                    r(al.resident, al.active)
                ));
                l(format!(
                    "allocator_rss_bytes:{}",
                    al.resident as i64 - al.active as i64
                ));
                l(format!("rss_overhead_ratio:{:.2}", r(rss, al.resident)));
                l(format!(
                    "rss_overhead_bytes:{}",
                    rss as i64 - al.resident as i64
                ));
                l(format!("mem_fragmentation_ratio:{frag:.2}"));
                l(format!(
                    "mem_fragmentation_bytes:{}",
                    rss as i64 - used as i64
                ));
                l("mem_not_counted_for_evict:0".into());
                l("mem_replication_backlog:0".into());
                l("mem_total_replication_buffers:0".into());
                l("mem_clients_slaves:0".into());
                l(format!("mem_clients_normal:{}", parts.clients));
                l("mem_cluster_links:0".into());
                l("mem_aof_buffer:0".into());
                l(format!("mem_allocator:{}", metrics::ALLOCATOR));
                l("active_defrag_running:0".into());
                l(format!(
                    "lazyfree_pending_objects:{}",
                    crate::storage::lazyfree::pending()
                ));
                l(format!(
                    "lazyfreed_objects:{}",
                    crate::storage::lazyfree::freed()
                ));
            }
            "persistence" => {
                l("# Persistence".into());
                l("loading:0".into());
                l("async_loading:0".into());
                l("current_cow_peak:0".into());
                l("current_cow_size:0".into());
                l("current_cow_size_age:0".into());
                l("current_fork_perc:0.00".into());
                l("current_save_keys_processed:0".into());
                l("current_save_keys_total:0".into());
                l(format!("rdb_changes_since_last_save:{}", stats.dirty));
                l("rdb_bgsave_in_progress:0".into());
                l(format!(
                    "rdb_last_save_time:{}",
                    engine.last_save.load(Ordering::Relaxed)
                ));
                l("rdb_last_bgsave_status:ok".into());
                l("rdb_last_bgsave_time_sec:-1".into());
                l("rdb_current_bgsave_time_sec:-1".into());
                l("rdb_saves:0".into());
                l("rdb_last_cow_size:0".into());
                l("rdb_last_load_keys_expired:0".into());
                l("rdb_last_load_keys_loaded:0".into());
                l(format!(
                    "aof_enabled:{}",
                    if cfg.get_bool("appendonly") { 1 } else { 0 }
                ));
                l("aof_rewrite_in_progress:0".into());
                l("aof_rewrite_scheduled:0".into());
                l("aof_last_rewrite_time_sec:-1".into());
                l("aof_current_rewrite_time_sec:-1".into());
                l("aof_last_bgrewrite_status:ok".into());
                l("aof_rewrites:0".into());
                l("aof_rewrites_consecutive_failures:0".into());
                l("aof_last_write_status:ok".into());
                l("aof_last_cow_size:0".into());
                l("module_fork_in_progress:0".into());
                l("module_fork_last_cow_size:0".into());
            }
            "stats" => {
                let ops: u64 = reports.iter().map(|r| r.ops_per_sec).sum();
                l("# Stats".into());
                l(format!(
                    "total_connections_received:{}",
                    stats.total_connections_received
                ));
                l(format!(
                    "total_commands_processed:{}",
                    stats.total_commands_processed
                ));
                l(format!("instantaneous_ops_per_sec:{ops}"));
                l(format!("total_net_input_bytes:{}", stats.net_input_bytes));
                l(format!("total_net_output_bytes:{}", stats.net_output_bytes));
                l("total_net_repl_input_bytes:0".into());
                l("total_net_repl_output_bytes:0".into());
                let (inb, outb) = reports
                    .iter()
                    .fold((0, 0), |a, r| (a.0 + r.net_rate.0, a.1 + r.net_rate.1));
                l(format!(
                    "instantaneous_input_kbps:{:.2}",
                    inb as f64 / 1024.0
                ));
                l(format!(
                    "instantaneous_output_kbps:{:.2}",
                    outb as f64 / 1024.0
                ));
                l("instantaneous_input_repl_kbps:0.00".into());
                l("instantaneous_output_repl_kbps:0.00".into());
                l(format!(
                    "rejected_connections:{}",
                    stats.rejected_connections
                ));
                l("sync_full:0".into());
                l("sync_partial_ok:0".into());
                l("sync_partial_err:0".into());
                l(format!("expired_keys:{}", stats.expired_keys));
                l(format!(
                    "expired_stale_perc:{:.2}",
                    stats.expired_stale * 100.0
                ));
                l(format!(
                    "expired_time_cap_reached_count:{}",
                    stats.expired_time_cap_reached_count
                ));
                l(format!(
                    "expire_cycle_cpu_milliseconds:{}",
                    stats.expire_cycle_us / 1000
                ));
                l(format!("evicted_keys:{}", stats.evicted_keys));
                l(format!("evicted_clients:{}", stats.evicted_clients));
                l("total_eviction_exceeded_time:0".into());
                l("current_eviction_exceeded_time:0".into());
                l(format!("keyspace_hits:{}", stats.keyspace_hits));
                l(format!("keyspace_misses:{}", stats.keyspace_misses));
                // Every core's view is the engine's: the first one answers.
                let (channels, patterns, shard) = reports.first().map_or((0, 0, 0), |r| r.pubsub);
                l(format!("pubsub_channels:{channels}"));
                l(format!("pubsub_patterns:{patterns}"));
                l(format!("pubsubshard_channels:{shard}"));
                l("latest_fork_usec:0".into());
                l("total_forks:0".into());
                l("migrate_cached_sockets:0".into());
                l("slave_expires_tracked_keys:0".into());
                l("active_defrag_hits:0".into());
                l("active_defrag_misses:0".into());
                l("active_defrag_key_hits:0".into());
                l("active_defrag_key_misses:0".into());
                l("total_active_defrag_time:0".into());
                l("current_active_defrag_time:0".into());
                l(format!(
                    "tracking_total_keys:{}",
                    reports.iter().map(|r| r.tracking.0).sum::<usize>()
                ));
                l(format!(
                    "tracking_total_items:{}",
                    reports.iter().map(|r| r.tracking.1).sum::<usize>()
                ));
                // Every core holds every prefix: the first one answers.
                l(format!(
                    "tracking_total_prefixes:{}",
                    reports.first().map_or(0, |r| r.tracking.2)
                ));
                l("unexpected_error_replies:0".into());
                l(format!("total_error_replies:{}", stats.total_error_replies));
                l("dump_payload_sanitizations:0".into());
                l(format!(
                    "total_reads_processed:{}",
                    stats.total_reads_processed
                ));
                l(format!(
                    "total_writes_processed:{}",
                    stats.total_writes_processed
                ));
                l("io_threaded_reads_processed:0".into());
                l("io_threaded_writes_processed:0".into());
                l("reply_buffer_shrinks:0".into());
                l("reply_buffer_expands:0".into());
                // Redis 7.2's names for clients dropped by their buffer limits.
                l(format!(
                    "client_query_buffer_limit_disconnections:{}",
                    stats.client_query_buffer_limit_disconnections
                ));
                l(format!(
                    "client_output_buffer_limit_disconnections:{}",
                    stats.client_output_buffer_limit_disconnections
                ));
            }
            "replication" => {
                l("# Replication".into());
                l("role:master".into());
                l("connected_slaves:0".into());
                l("master_failover_state:no-failover".into());
                l(format!("master_replid:{}", replid()));
                l("master_replid2:0000000000000000000000000000000000000000".into());
                l("master_repl_offset:0".into());
                l("second_repl_offset:-1".into());
                l("repl_backlog_active:0".into());
                l(format!(
                    "repl_backlog_size:{}",
                    cfg.get_i64("repl-backlog-size")
                ));
                l("repl_backlog_first_byte_offset:0".into());
                l("repl_backlog_histlen:0".into());
            }
            "cpu" => {
                let (sys, user) = rusage(libc::RUSAGE_SELF);
                let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
                let (tsys, tuser) = reports
                    .get(core_id)
                    .map(|r| r.cpu_thread)
                    .unwrap_or((0.0, 0.0));
                l("# CPU".into());
                l(format!("used_cpu_sys:{sys:.6}"));
                l(format!("used_cpu_user:{user:.6}"));
                l(format!("used_cpu_sys_children:{csys:.6}"));
                l(format!("used_cpu_user_children:{cuser:.6}"));
                l(format!("used_cpu_sys_main_thread:{tsys:.6}"));
                l(format!("used_cpu_user_main_thread:{tuser:.6}"));
            }
            "modules" => l("# Modules".into()),
            "commandstats" => {
                l("# Commandstats".into());
                let mut cmds: Vec<_> = stats
                    .commands
                    .iter()
                    .filter(|(_, s)| s.calls > 0 || s.rejected > 0 || s.failed > 0)
                    .collect();
                cmds.sort_by_key(|(k, _)| k.0);
                for (name, s) in cmds {
                    l(cmdstat_line(name.0, s));
                }
            }
            "errorstats" => {
                l("# Errorstats".into());
                let mut errs: Vec<_> = stats.errors.iter().collect();
                errs.sort();
                for (code, n) in errs {
                    l(format!("errorstat_{code}:count={n}"));
                }
            }
            // Per-command latency histograms are not kept.
            "latencystats" => l("# Latencystats".into()),
            "cluster" => {
                l("# Cluster".into());
                l("cluster_enabled:0".into());
            }
            "keyspace" => {
                l("# Keyspace".into());
                let ndb = reports.iter().map(|r| r.keyspace.len()).max().unwrap_or(0);
                for db in 0..ndb {
                    let (keys, expires, sum, n) = reports
                        .iter()
                        .filter_map(|r| r.keyspace.get(db))
                        .fold((0, 0, 0, 0), |a, b| {
                            (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3)
                        });
                    let avg = sum.checked_div(n).unwrap_or(0);
                    if keys > 0 {
                        l(format!(
                            "db{db}:keys={keys},expires={expires},avg_ttl={avg}"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// `MEMORY STATS`: Redis's fields, from every core's report. Ratios are
/// doubles; each database holding keys gets its index bookkeeping.
pub(super) fn memory_stats(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let (reports, parts) = MemoryParts::gather(c).await;
        let (used, peak, rss, al) = (parts.used, parts.peak, parts.rss, parts.alloc);
        let ndb = reports.first().map_or(0, |r| r.keyspace.len());
        let dbs: Vec<(usize, u64, u64)> = (0..ndb)
            .filter_map(|i| {
                let keys: usize = reports.iter().map(|r| r.keyspace[i].0).sum();
                (keys > 0).then(|| {
                    let (m, e) = reports.iter().fold((0u64, 0u64), |(m, e), r| {
                        let (dm, de) = r.db_overhead.get(i).copied().unwrap_or((0, 0));
                        (m + dm as u64, e + de as u64)
                    });
                    (i, m, e)
                })
            })
            .collect();
        let keys: u64 = reports
            .iter()
            .flat_map(|r| r.keyspace.iter().map(|k| k.0 as u64))
            .sum();
        let net = used.saturating_sub(parts.startup);
        let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        let mut r = c.reply();
        r.map(27 + dbs.len());
        let int = |r: &mut crate::protocol::Reply<'_>, k: &str, v: u64| {
            r.bulk(k.as_bytes());
            r.int(v as i64);
        };
        int(&mut r, "peak.allocated", peak);
        int(&mut r, "total.allocated", used);
        int(&mut r, "startup.allocated", parts.startup);
        int(&mut r, "replication.backlog", 0);
        int(&mut r, "clients.slaves", 0);
        int(&mut r, "clients.normal", parts.clients);
        int(&mut r, "cluster.links", 0);
        int(&mut r, "aof.buffer", 0);
        int(&mut r, "lua.caches", 0);
        int(&mut r, "functions.caches", 0);
        for (i, main, expires) in &dbs {
            r.bulk(format!("db.{i}").as_bytes());
            r.map(3);
            int(&mut r, "overhead.hashtable.main", *main);
            int(&mut r, "overhead.hashtable.expires", *expires);
            int(&mut r, "overhead.hashtable.slot-to-keys", 0);
        }
        int(&mut r, "overhead.total", parts.overhead());
        int(&mut r, "keys.count", keys);
        int(
            &mut r,
            "keys.bytes-per-key",
            net.checked_div(keys).unwrap_or(0),
        );
        int(&mut r, "dataset.bytes", parts.dataset());
        r.bulk(b"dataset.percentage");
        r.double(parts.dataset_perc());
        r.bulk(b"peak.percentage");
        r.double(ratio(used * 100, peak));
        int(&mut r, "allocator.allocated", al.allocated);
        int(&mut r, "allocator.active", al.active);
        int(&mut r, "allocator.resident", al.resident);
        r.bulk(b"allocator-fragmentation.ratio");
        r.double(ratio(al.active, al.allocated));
        r.bulk(b"allocator-fragmentation.bytes");
        r.int(al.active as i64 - al.allocated as i64);
        r.bulk(b"allocator.rss-ratio");
        r.double(ratio(al.resident, al.active));
        r.bulk(b"allocator.rss-bytes");
        r.int(al.resident as i64 - al.active as i64);
        r.bulk(b"rss-overhead.ratio");
        r.double(ratio(rss, al.resident));
        r.bulk(b"rss-overhead.bytes");
        r.int(rss as i64 - al.resident as i64);
        r.bulk(b"fragmentation");
        r.double(ratio(rss, used));
        r.bulk(b"fragmentation.bytes");
        r.int(rss as i64 - used as i64);
    })
}

/// `MEMORY DOCTOR`: a short report of what looks wrong with memory use,
/// from the same figures as MEMORY STATS.
pub(super) fn memory_doctor(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let (reports, parts) = MemoryParts::gather(c).await;
        let (used, peak, rss) = (parts.used, parts.peak, parts.rss);
        let nclients: usize = reports.iter().map(|r| r.clients).sum();
        let mut found = Vec::new();
        if used < 5 * 1024 * 1024 {
            found.push(
                "coreshard holds less than 5 MB: there is nothing to diagnose yet.".to_string(),
            );
        } else {
            if peak > used + used / 2 {
                found.push(format!(
                    "Peak memory: the peak ({}) was more than 150% of what is in use now ({});                      the allocator may keep the difference as free memory (fragmentation).",
                    bytes_to_human(peak),
                    bytes_to_human(used)
                ));
            }
            if rss > used + used / 2 && rss - used > 10 * 1024 * 1024 {
                found.push(format!(
                    "High fragmentation: the resident set ({}) is {:.2} times the memory in use;                      MEMORY PURGE returns free pages to the system.",
                    bytes_to_human(rss),
                    rss as f64 / used as f64
                ));
            }
            if nclients > 0 && parts.clients / nclients as u64 > 200 * 1024 {
                found.push(format!(
                    "Big client buffers: {} clients hold {} in query and output buffers,                      {} each on average (see CLIENT LIST: qbuf, omem).",
                    nclients,
                    bytes_to_human(parts.clients),
                    bytes_to_human(parts.clients / nclients as u64)
                ));
            }
        }
        let text = if used < 5 * 1024 * 1024 {
            found.concat()
        } else if found.is_empty() {
            "No memory problems found.".to_string()
        } else {
            let mut t = String::from("Memory report:\n\n");
            for f in &found {
                t.push_str(" * ");
                t.push_str(f);
                t.push('\n');
            }
            t
        };
        c.reply().verbatim("txt", text.as_bytes());
    })
}

/// `MEMORY PURGE`: the allocator hands its free memory back to the system.
pub(super) fn memory_purge(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        c.core.broadcast(|_| metrics::allocator_purge()).await;
        c.reply().ok();
    })
}

/// `MEMORY MALLOC-STATS`: jemalloc's statistics report, or what Redis
/// answers when its allocator has none (the C library's).
pub(super) fn memory_malloc_stats(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let text = metrics::allocator_report()
            .unwrap_or_else(|| "Stats not supported for the current allocator".to_string());
        c.reply().verbatim("txt", text.as_bytes());
    })
}

/// `MEMORY HELP`
pub(super) fn memory_help(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        reply_help(
            c,
            "MEMORY",
            &[
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
            ],
        );
    })
}

/// `INFO [section ...]`
fn info(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let args: Vec<&[u8]> = (1..a.len()).map(|i| a.get(i)).collect();
        let sections = info_sections(&args);
        // Measured before the reports are gathered, so what INFO allocates for
        // itself is not counted (as the memory a command uses is counted only
        // once it has run).
        let used = c.core.engine.note_peak();
        let reports = c.core.broadcast(collect_report).await;
        let text = {
            let cfg = c.core.config.borrow();
            format_info(
                &sections,
                &cfg,
                &c.core.engine,
                &reports,
                c.core.id,
                used,
                super::scripting::lua_bytes(c),
            )
        };
        c.reply().verbatim("txt", text.as_bytes());
    })
}

// ---------------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------------

/// CONFIG GET's text of a directive (`dir` is shown absolute, as Redis does).
fn shown_value(cfg: &Config, name: &str) -> String {
    let v = cfg.get(name).unwrap_or("");
    if name == "dir"
        && let Ok(p) = std::fs::canonicalize(v)
    {
        return p.display().to_string();
    }
    v.to_string()
}

/// Names (with values) matching CONFIG GET's patterns, without duplicates.
pub fn config_get_matches(cfg: &Config, patterns: &[&[u8]]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let has = |out: &Vec<(String, String)>, n: &str| out.iter().any(|(k, _)| k == n);
    for p in patterns {
        let ps = String::from_utf8_lossy(p);
        if !p.iter().any(|&b| b == b'*' || b == b'?' || b == b'[') {
            if let Some((_, dir)) = crate::config::directive(&ps) {
                let name = ps.to_string();
                if !has(&out, &name) && !has(&out, dir.name) {
                    out.push((name, shown_value(cfg, dir.name)));
                }
            }
            continue;
        }
        for dir in crate::config::DIRECTIVES {
            for name in std::iter::once(dir.name).chain(dir.aliases.iter().copied()) {
                if !has(&out, name) && glob_match(p, name.as_bytes(), true) {
                    out.push((name.to_string(), shown_value(cfg, dir.name)));
                }
            }
        }
    }
    out
}

/// `CONFIG GET parameter [parameter ...]`
fn config_get(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let pats: Vec<&[u8]> = (2..a.len()).map(|i| a.get(i)).collect();
        let pairs = config_get_matches(&c.core.config.borrow(), &pats);
        let mut r = c.reply();
        r.map(pairs.len());
        for (k, v) in &pairs {
            r.bulk(k.as_bytes());
            r.bulk(v.as_bytes());
        }
    })
}

/// Checks CONFIG SET's pairs the way Redis orders its checks: names first
/// (unknown, immutable, repeated), then values. Returns canonical pairs.
pub fn config_set_validate(
    _cfg: &Config,
    pairs: &[(String, String)],
    allow_protected: bool,
) -> Result<Vec<(String, String)>, String> {
    let fail = |name: &str, why: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    let mut unknown: Option<&str> = None;
    let mut err: Option<String> = None;
    let mut out = Vec::new();
    for (i, (name, _)) in pairs.iter().enumerate() {
        let Some((_, dir)) = crate::config::directive(name) else {
            unknown.get_or_insert(name);
            continue;
        };
        if err.is_some() {
            continue;
        }
        if !dir.mutable {
            err = Some(fail(name, "can't set immutable config"));
        } else if !allow_protected && crate::config::is_protected(dir.name) {
            err = Some(fail(name, "can't set protected config"));
        } else if pairs[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            err = Some(fail(name, "duplicate parameter"));
        }
        out.push((dir.name.to_string(), pairs[i].1.clone()));
    }
    if let Some(name) = unknown {
        return Err(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
        ));
    }
    if let Some(e) = err {
        return Err(e);
    }
    for (name, value) in pairs {
        Config::check(name, value).map_err(|why| fail(name, &why))?;
    }
    Ok(out)
}

/// `CONFIG SET parameter value [parameter value ...]`
fn config_set(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if !a.len().is_multiple_of(2) {
            c.error("ERR wrong number of arguments for 'config|set' command");
            return;
        }
        let pairs: Vec<(String, String)> = (2..a.len())
            .step_by(2)
            .map(|i| {
                (
                    String::from_utf8_lossy(a.get(i)).into_owned(),
                    String::from_utf8_lossy(a.get(i + 1)).into_owned(),
                )
            })
            .collect();
        let allow_protected = action_allowed(c, "enable-protected-configs");
        let checked = config_set_validate(&c.core.config.borrow(), &pairs, allow_protected);
        match checked {
            Err(e) => c.error(&e),
            Ok(pairs) => {
                let maxmemory = pairs
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("maxmemory"));
                // The one change that can fail to apply is a new port: its
                // listeners are bound before anything changes, so a port
                // that cannot be had leaves every value as it was.
                let listeners = match new_port_listeners(c, &pairs) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!("CONFIG SET port: {e}");
                        return c.error(
                            "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.",
                        );
                    }
                };
                c.core
                    .broadcast(move |core| {
                        let mut cfg = core.config.borrow_mut();
                        for (k, v) in &pairs {
                            // Validated above; every core holds the same values.
                            let _ = cfg.set(k, v, false);
                        }
                        cfg.publish_to_thread();
                    })
                    .await;
                if let Some(fds) = listeners {
                    let fds = std::sync::Arc::new(fds);
                    c.core
                        .broadcast(move |core| {
                            crate::runtime::reactor::stop_listeners();
                            if let Some(accept_on) = core.engine.accept_on {
                                for &fd in &fds[core.id] {
                                    accept_on(core, fd);
                                }
                            }
                        })
                        .await;
                }
                // A new maxmemory takes effect at once, as Redis evicts
                // right when it is set.
                if maxmemory {
                    crate::command::session::memory::make_room(&c.core).await;
                }
                c.reply().ok();
            }
        }
    })
}

/// For a CONFIG SET that changes `port`: the new port's listeners, one set
/// per core, bound on the configured addresses; None when the port stays.
/// (The port in force is the config's, which the same CONFIG SET changes.)
/// Port 0 stops listening, as in Redis (clients already connected stay).
fn new_port_listeners(
    c: &Session,
    pairs: &[(String, String)],
) -> std::io::Result<Option<crate::runtime::net::PerCoreListeners>> {
    let Some((_, v)) = pairs.iter().rev().find(|(k, _)| k == "port") else {
        return Ok(None);
    };
    let port: u16 = v
        .parse()
        .map_err(|_| std::io::Error::other("not a port number"))?;
    let cfg = c.core.config.borrow();
    if port == cfg.port {
        return Ok(None);
    }
    if c.core.engine.accept_on.is_none() {
        return Err(std::io::Error::other("this engine accepts no clients"));
    }
    if port == 0 {
        return Ok(Some(vec![Vec::new(); c.core.ncores]));
    }
    let (fds, _) = crate::runtime::net::bind_listeners(
        &cfg.bind_addresses(),
        port,
        c.core.ncores,
        cfg.tcp_backlog(),
    )?;
    Ok(Some(fds))
}

/// `CONFIG RESETSTAT`
fn config_resetstat(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        c.core.broadcast(|_| metrics::reset()).await;
        crate::storage::lazyfree::reset_stats();
        c.core
            .engine
            .peak_memory
            .store(c.core.engine.used_memory(), Ordering::Relaxed);
        c.reply().ok();
    })
}

/// Rewrites `text` (a config file) so it holds the values of `cfg`: known
/// directives are replaced in place (first occurrence), repeats dropped, and
/// non-default values missing from the file appended.
pub fn rewrite_config_text(text: &str, cfg: &Config) -> String {
    let mut out = String::new();
    let mut done: Vec<&'static str> = Vec::new();
    let line_for = |name: &str, v: &str| -> String {
        if name == "save" {
            if v.is_empty() {
                return "save \"\"".into();
            }
            let parts: Vec<&str> = v.split_whitespace().collect();
            return parts
                .chunks(2)
                .map(|c| format!("save {}", c.join(" ")))
                .collect::<Vec<_>>()
                .join("\n");
        }
        if v.is_empty() || v.contains(' ') || v.contains('"') {
            format!(
                "{name} \"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"")
            )
        } else {
            format!("{name} {v}")
        }
    };
    for line in text.lines() {
        let t = line.trim();
        let word = t.split_whitespace().next().unwrap_or("");
        if t.is_empty() || t.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        match crate::config::directive(word) {
            Some((_, dir)) if dir.name != "threads" => {
                if !done.contains(&dir.name) {
                    done.push(dir.name);
                    out.push_str(&line_for(dir.name, cfg.get(dir.name).unwrap_or("")));
                    out.push('\n');
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let mut header = false;
    for dir in crate::config::DIRECTIVES {
        let v = cfg.get(dir.name).unwrap_or("");
        if done.contains(&dir.name) || dir.name == "threads" || v == dir.default {
            continue;
        }
        if !header {
            out.push_str("# Generated by CONFIG REWRITE\n");
            header = true;
        }
        out.push_str(&line_for(dir.name, v));
        out.push('\n');
    }
    out
}

/// `CONFIG REWRITE`
fn config_rewrite(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let Some(path) = config_file() else {
            c.error("ERR The server is running without a config file");
            return;
        };
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let new = rewrite_config_text(&old, &c.core.config.borrow());
        let tmp = path.with_extension("rewrite.tmp");
        let res = std::fs::write(&tmp, new).and_then(|_| std::fs::rename(&tmp, &path));
        match res {
            Ok(()) => c.reply().ok(),
            Err(e) => c.error(&format!("ERR Rewriting config file: {e}")),
        }
    })
}

/// Replies with a HELP text the way Redis does (`addReplyHelp`).
pub fn reply_help(c: &mut Session, cmd: &str, lines: &[&str]) {
    let mut r = c.reply();
    r.array(lines.len() + 3);
    r.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        r.simple(l);
    }
    r.simple("HELP");
    r.simple("    Prints this help.");
}

fn config_help(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        reply_help(
            c,
            "CONFIG",
            &[
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
            ],
        );
    })
}

// ---------------------------------------------------------------------------
// TIME, LASTSAVE, DEBUG, SHUTDOWN, FLUSH stubs
// ---------------------------------------------------------------------------

/// `TIME`
fn time(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let us = crate::now_us();
        let mut r = c.reply();
        r.array(2);
        r.bulk_int((us / 1_000_000) as i64);
        r.bulk_int((us % 1_000_000) as i64);
    })
}

/// `LASTSAVE`
fn lastsave(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let t = c.core.engine.last_save.load(Ordering::Relaxed);
        c.reply().int(t as i64);
    })
}

/// Whether a directive of the `yes` / `local` / `no` kind (`enable-debug-command`,
/// `enable-protected-configs`) lets this client act: `local` means a loopback
/// connection, as Redis's `islocalClient`.
fn action_allowed(c: &Session, directive: &str) -> bool {
    match c.core.config.borrow().get(directive) {
        Some("yes") => true,
        Some("local") => c
            .handle
            .info
            .borrow()
            .addr
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback()),
        _ => false,
    }
}

/// `DEBUG subcommand [args]`
fn debug(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        // Like Redis 7: DEBUG runs only when `enable-debug-command` allows it
        // (`local`: from a loopback connection).
        if !action_allowed(c, "enable-debug-command") {
            return c.error(
                "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
            );
        }
        let sub = String::from_utf8_lossy(a.get(1)).to_ascii_lowercase();
        match (sub.as_str(), a.len()) {
            ("help", 2) => reply_help(
                c,
                "DEBUG",
                &[
                    "SLEEP <seconds>",
                    "    Stop the server for <seconds>. Decimals allowed.",
                    "SET-ACTIVE-EXPIRE <0|1>",
                    "    Setting it to 0 disables expiring keys in background when they are not",
                    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                    "    default.",
                ],
            ),
            ("sleep", 3) => {
                let secs = parse_f64(a.get(2)).unwrap_or(0.0);
                if secs > 0.0 && secs.is_finite() {
                    // Like Redis, the whole server stops: every core blocks. The
                    // other cores' hops are sent before this core blocks, so all
                    // sleep at the same time.
                    let d = std::time::Duration::from_secs_f64(secs.min(1e9));
                    let me = c.core.id;
                    let others = futures::future::join_all(
                        (0..c.core.ncores)
                            .filter(|&i| i != me)
                            .map(|i| c.core.run_on(i, move |_| std::thread::sleep(d))),
                    );
                    let local = async move { std::thread::sleep(d) };
                    futures::join!(others, local);
                }
                c.reply().ok();
            }
            ("set-active-expire", 3) => {
                let on = a.get(2) != b"0";
                c.core.engine.active_expire.store(on, Ordering::Relaxed);
                c.reply().ok();
            }
            _ => {
                let s = String::from_utf8_lossy(a.get(1)).into_owned();
                c.error(&format!(
                    "ERR unknown subcommand or wrong number of arguments for '{s}'. Try DEBUG HELP."
                ));
            }
        }
    })
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`
fn shutdown(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let (mut nosave, mut save, mut abort) = (false, false, false);
        for i in 1..a.len() {
            let w = a.get(i);
            if eq(w, "nosave") {
                nosave = true;
            } else if eq(w, "save") {
                save = true;
            } else if eq(w, "now") || eq(w, "force") {
            } else if eq(w, "abort") {
                abort = true;
            } else {
                c.error(SYNTAX);
                return;
            }
        }
        if (nosave && save) || (abort && a.len() > 2) {
            c.error(SYNTAX);
            return;
        }
        if abort {
            c.error("ERR No shutdown in progress.");
            return;
        }
        tracing::warn!("User requested shutdown...");
        c.core.engine.request_shutdown();
        c.close = true;
    })
}

const CONFIG_SUBS: &[CommandSpec] = &[
    CommandSpec {
        name: "config|get",
        arity: -3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        acl: &["admin", "slow", "dangerous"],
        group: "server",
        summary: "Get the values of configuration parameters",
        since: "2.0.0",
        complexity: "O(N) when N is the number of configuration parameters provided",
        coord: Some(config_get),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config|set",
        arity: -4,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        acl: &["admin", "slow", "dangerous"],
        group: "server",
        summary: "Set configuration parameters to the given values",
        since: "2.0.0",
        complexity: "O(N) when N is the number of configuration parameters provided",
        tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
        coord: Some(config_set),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config|resetstat",
        arity: 2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        acl: &["admin", "slow", "dangerous"],
        group: "server",
        summary: "Reset the stats returned by INFO",
        since: "2.0.0",
        coord: Some(config_resetstat),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config|rewrite",
        arity: 2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        acl: &["admin", "slow", "dangerous"],
        group: "server",
        summary: "Rewrite the configuration file with the in memory configuration",
        since: "2.8.0",
        coord: Some(config_rewrite),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: &["slow"],
        group: "server",
        summary: "Show helpful text about the different subcommands",
        since: "5.0.0",
        coord: Some(config_help),
        ..CommandSpec::DEFAULT
    },
];

/// Server family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "info",
        arity: -1,
        flags: LOADING | STALE,
        acl: &["slow", "dangerous"],
        group: "server",
        summary: "Get information and statistics about the server",
        complexity: "O(1)",
        tips: &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        coord: Some(info),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "config",
        arity: -2,
        acl: &["slow"],
        group: "server",
        summary: "A container for server configuration commands",
        since: "2.0.0",
        complexity: "Depends on subcommand.",
        subcommands: CONFIG_SUBS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "time",
        arity: 1,
        flags: LOADING | STALE | FAST,
        acl: &["fast"],
        group: "server",
        summary: "Return the current server time",
        since: "2.6.0",
        tips: &["nondeterministic_output"],
        coord: Some(time),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "lastsave",
        arity: 1,
        flags: LOADING | STALE | FAST,
        acl: &["admin", "fast", "dangerous"],
        group: "server",
        summary: "Get the UNIX time stamp of the last successful save to disk",
        tips: &["nondeterministic_output"],
        coord: Some(lastsave),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "debug",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED,
        acl: &["admin", "slow", "dangerous"],
        group: "server",
        summary: "A container for debugging commands",
        complexity: "Depends on subcommand.",
        coord: Some(debug),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY,
        acl: &["admin", "slow", "dangerous"],
        group: "server",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        coord: Some(shutdown),
        ..CommandSpec::DEFAULT
    },
    super::introspection::COMMAND,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(916240), "894.77K");
        assert_eq!(bytes_to_human(12144640), "11.58M");
        assert_eq!(bytes_to_human(25276063744), "23.54G");
    }

    #[test]
    fn sections() {
        let d = info_sections(&[]);
        assert!(d.contains(&"keyspace") && !d.contains(&"commandstats"));
        assert_eq!(
            info_sections(&[b"KEYSPACE", b"server"]),
            ["server", "keyspace"]
        );
        let all = info_sections(&[b"all"]);
        assert!(all.contains(&"commandstats") && all.contains(&"modules"));
        assert!(info_sections(&[b"everything"]).contains(&"modules"));
        assert!(info_sections(&[b"nosuch"]).is_empty());
    }

    #[test]
    fn info_text() {
        let cfg = Config::default();
        let mut stats = Stats::default();
        stats.commands.insert(
            metrics::CmdName("get"),
            metrics::CmdStat {
                calls: 2,
                usec: 5,
                ticks: 0,
                rejected: 1,
                failed: 0,
            },
        );
        stats.errors.insert("ERR".into(), 3);
        let rep = |keys| CoreReport {
            stats: stats.clone(),
            clients: 1,
            blocked: 0,
            max_qbuf: 0,
            keyspace: vec![(keys, 1, 1000, 1), (0, 0, 0, 0)],
            ops_per_sec: 0,
            net_rate: (0, 0),
            cpu_thread: (0.0, 0.0),
            clients_mem: 1000,
            db_overhead: vec![(5000, 100), (0, 0)],
            startup_db: 0,
            pubsub: (0, 0, 0),
            tracking: (0, 0, 0),
        };
        let reports = vec![rep(2), rep(3)];
        // Startup 0: overhead is the clients' buffers and the index bookkeeping.
        let engine0 =
            crate::shard::EngineState::new(crate::shard::Mesh::new(1).unwrap(), Vec::new());
        let parts = MemoryParts::new(20_000, &engine0, &reports);
        assert_eq!(parts.overhead(), 2 * 1000 + 2 * 5100);
        assert_eq!(parts.dataset(), 20_000 - 12_200);
        let t = format_info(&["memory"], &cfg, &engine0, &reports, 0, 20_000, 0);
        assert!(t.contains("used_memory_overhead:12200\r\n"), "{t}");
        assert!(t.contains("mem_clients_normal:2000\r\n"), "{t}");
        let engine =
            crate::shard::EngineState::new(crate::shard::Mesh::new(1).unwrap(), Vec::new());
        let t = format_info(
            &["commandstats", "errorstats", "keyspace"],
            &cfg,
            &engine,
            &reports,
            0,
            0,
            0,
        );
        assert_eq!(
            t,
            "# Commandstats\r\ncmdstat_get:calls=4,usec=10,usec_per_call=2.50,rejected_calls=2,failed_calls=0\r\n\r\n# Errorstats\r\nerrorstat_ERR:count=6\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=2,avg_ttl=1000\r\n"
        );
        let t = format_info(&["clients"], &cfg, &engine, &reports, 0, 0, 0);
        assert!(t.contains("connected_clients:2\r\n"));
    }

    #[test]
    fn config_get_patterns() {
        let cfg = Config::default();
        let m = config_get_matches(&cfg, &[b"maxmemory", b"MAXMEMORY"]);
        assert_eq!(m, vec![("maxmemory".to_string(), "0".to_string())]);
        let m = config_get_matches(&cfg, &[b"maxmemory*"]);
        assert!(m.iter().any(|(k, _)| k == "maxmemory-policy"));
        assert!(m.iter().any(|(k, _)| k == "maxmemory"));
        let m = config_get_matches(&cfg, &[b"*ziplist-value"]);
        assert!(m.iter().any(|(k, _)| k == "hash-max-ziplist-value"));
        assert!(config_get_matches(&cfg, &[b"nosuch"]).is_empty());
    }

    #[test]
    fn config_set_checks() {
        let cfg = Config::default();
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert!(config_set_validate(&cfg, &[p("maxmemory", "1mb"), p("hz", "20")], true).is_ok());
        let e = config_set_validate(&cfg, &[p("maxmemory", "1mb"), p("maxmemory", "2mb")], true)
            .unwrap_err();
        assert!(e.contains("duplicate parameter"));
        let e = config_set_validate(&cfg, &[p("hz", "20"), p("nosuch", "1")], true).unwrap_err();
        assert_eq!(
            e,
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
        );
        let e = config_set_validate(&cfg, &[p("hz", "20"), p("dir", "/tmp")], false).unwrap_err();
        assert_eq!(
            e,
            "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
        );
        assert!(config_set_validate(&cfg, &[p("dbfilename", "x.rdb")], true).is_ok());
        let e =
            config_set_validate(&cfg, &[p("enable-protected-configs", "yes")], true).unwrap_err();
        assert!(e.contains("can't set immutable config"), "{e}");
    }

    #[test]
    fn rewrite() {
        let mut cfg = Config::default();
        cfg.set("maxmemory", "1mb", false).unwrap();
        cfg.set("loglevel", "warning", false).unwrap();
        let t = rewrite_config_text("# hi\nloglevel notice\nloglevel debug\nfoo bar\n", &cfg);
        assert_eq!(
            t,
            "# hi\nloglevel warning\nfoo bar\n# Generated by CONFIG REWRITE\nmaxmemory 1048576\n"
        );
    }
}
