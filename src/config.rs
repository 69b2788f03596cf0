//! Typed configuration: the directive table, redis.conf parsing, and the values in
//! force.
//!
//! Every directive has Redis's name, its default as a named constant, a kind that
//! validates `CONFIG SET`, and a canonical text form for `CONFIG GET`. Each core
//! holds its own copy; `CONFIG SET` is broadcast to all cores so reads stay local.

use std::fmt;

/// Default `port`.
pub const DEFAULT_PORT: u16 = 6379;
/// Default `bind`.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Default `databases`.
pub const DEFAULT_DATABASES: usize = 16;
/// Default `proto-max-bulk-len` (512 MiB).
pub const DEFAULT_PROTO_MAX_BULK_LEN: i64 = 512 * 1024 * 1024;
/// Default `client-query-buffer-limit` (1 GiB).
pub const DEFAULT_CLIENT_QUERY_BUFFER_LIMIT: i64 = 1024 * 1024 * 1024;
/// Default `maxclients`.
pub const DEFAULT_MAXCLIENTS: i64 = 10000;
/// Default `hz`.
pub const DEFAULT_HZ: i64 = 10;

thread_local! {
    static PROTO_MAX_BULK_LEN: std::cell::Cell<i64> =
        const { std::cell::Cell::new(DEFAULT_PROTO_MAX_BULK_LEN) };
}

/// The size limits of the compact collection encodings, as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value` (bytes).
    pub hash_max_listpack_value: usize,
    /// `list-max-listpack-size`: positive = entries per node, negative = node
    /// size class (-1 4 KiB … -5 64 KiB).
    pub list_max_listpack_size: i64,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `set-max-listpack-entries`.
    pub set_max_listpack_entries: usize,
    /// `set-max-listpack-value` (bytes).
    pub set_max_listpack_value: usize,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value` (bytes).
    pub zset_max_listpack_value: usize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
        }
    }
}

thread_local! {
    static ENCODING_LIMITS: std::cell::Cell<EncodingLimits> =
        std::cell::Cell::new(EncodingLimits::default());
}

/// The encoding limits in force on this core (published like
/// [`proto_max_bulk_len`]).
#[inline]
pub fn encoding_limits() -> EncodingLimits {
    ENCODING_LIMITS.with(|c| c.get())
}

/// `proto-max-bulk-len` in force on this core: the largest string a command
/// may build (SETRANGE, APPEND, SETBIT offsets, LCS working memory).
#[inline]
pub fn proto_max_bulk_len() -> i64 {
    PROTO_MAX_BULK_LEN.with(|c| c.get())
}

/// How a directive's value is checked and shown.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Integer within bounds.
    Int(i64, i64),
    /// Byte count; accepts `k`, `kb`, `m`, `mb`, `g`, `gb` suffixes; shown in bytes.
    Memory(i64, i64),
    /// A byte count as [`Kind::Memory`] (at least 0), or a percentage up to
    /// the bound (`10%`, of `maxmemory`); shown in bytes or as `N%`.
    MemoryOrPercent(i64),
    /// `yes` or `no`.
    Bool,
    /// One of the listed words (case-insensitive, stored lower-case).
    Enum(&'static [&'static str]),
    /// Any string.
    Str,
}

/// One configuration directive.
#[derive(Debug)]
pub struct Directive {
    /// Redis's name.
    pub name: &'static str,
    /// Other accepted names (Redis's older spellings).
    pub aliases: &'static [&'static str],
    /// Default text.
    pub default: &'static str,
    /// Validation and display.
    pub kind: Kind,
    /// Whether `CONFIG SET` may change it at run time.
    pub mutable: bool,
}

const fn d(name: &'static str, default: &'static str, kind: Kind, mutable: bool) -> Directive {
    Directive {
        name,
        aliases: &[],
        default,
        kind,
        mutable,
    }
}
const fn da(
    name: &'static str,
    aliases: &'static [&'static str],
    default: &'static str,
    kind: Kind,
    mutable: bool,
) -> Directive {
    Directive {
        name,
        aliases,
        default,
        kind,
        mutable,
    }
}

const I64MAX: i64 = i64::MAX;
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
const FSYNC: &[&str] = &["always", "everysec", "no"];
const SHUTDOWN_ON_SIG: &[&str] = &["default", "save", "nosave", "now", "force"];
const REPL_DISKLESS_LOAD: &[&str] = &["disabled", "on-empty-db", "swapdb"];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const OOM_SCORE_ADJ: &[&str] = &["no", "yes", "relative", "absolute"];
const ACL_PUBSUB: &[&str] = &["allchannels", "resetchannels"];

/// Every directive coreshard knows.
pub static DIRECTIVES: &[Directive] = &[
    d("bind", DEFAULT_BIND, Kind::Str, true),
    d("port", "6379", Kind::Int(0, 65535), true),
    d("threads", "0", Kind::Int(0, 1024), false),
    d("null-server", "no", Kind::Bool, false),
    d("executor-spin-us", "0", Kind::Int(0, 1_000_000), false),
    d("databases", "16", Kind::Int(1, I64MAX), false),
    d("loglevel", "notice", Kind::Enum(LOGLEVELS), true),
    d("logfile", "", Kind::Str, false),
    d("daemonize", "no", Kind::Bool, false),
    d("pidfile", "", Kind::Str, false),
    d("dir", ".", Kind::Str, true),
    d("dbfilename", "dump.rdb", Kind::Str, true),
    d("save", "", Kind::Str, true),
    d("appendonly", "no", Kind::Bool, true),
    d("appendfilename", "appendonly.aof", Kind::Str, false),
    d("appendfsync", "everysec", Kind::Enum(FSYNC), true),
    d("requirepass", "", Kind::Str, true),
    d("protected-mode", "yes", Kind::Bool, true),
    d("tcp-backlog", "511", Kind::Int(0, I64MAX), false),
    d("tcp-keepalive", "300", Kind::Int(0, I64MAX), true),
    d("timeout", "0", Kind::Int(0, I64MAX), true),
    d("maxclients", "10000", Kind::Int(1, I64MAX), true),
    d("hz", "10", Kind::Int(1, 500), true),
    d("dynamic-hz", "yes", Kind::Bool, true),
    d(
        "proto-max-bulk-len",
        "536870912",
        Kind::Memory(1024 * 1024, I64MAX),
        true,
    ),
    d(
        "client-query-buffer-limit",
        "1073741824",
        Kind::Memory(1024 * 1024, I64MAX),
        true,
    ),
    d(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::Str,
        true,
    ),
    d("maxmemory", "0", Kind::Memory(0, I64MAX), true),
    d("maxmemory-policy", "noeviction", Kind::Enum(POLICIES), true),
    d("maxmemory-samples", "5", Kind::Int(1, 64), true),
    d("maxmemory-eviction-tenacity", "10", Kind::Int(0, 100), true),
    d("lfu-log-factor", "10", Kind::Int(0, I64MAX), true),
    d("lfu-decay-time", "1", Kind::Int(0, I64MAX), true),
    d("active-expire-effort", "1", Kind::Int(1, 10), true),
    d("lazyfree-lazy-eviction", "no", Kind::Bool, true),
    d("lazyfree-lazy-expire", "no", Kind::Bool, true),
    d("lazyfree-lazy-server-del", "no", Kind::Bool, true),
    d("lazyfree-lazy-user-del", "no", Kind::Bool, true),
    d("lazyfree-lazy-user-flush", "no", Kind::Bool, true),
    d(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int(-1, I64MAX),
        true,
    ),
    d("slowlog-max-len", "128", Kind::Int(0, I64MAX), true),
    d("latency-monitor-threshold", "0", Kind::Int(0, I64MAX), true),
    d("latency-tracking", "yes", Kind::Bool, true),
    d("notify-keyspace-events", "", Kind::Str, true),
    da(
        "hash-max-listpack-entries",
        &["hash-max-ziplist-entries"],
        "512",
        Kind::Int(0, I64MAX),
        true,
    ),
    da(
        "hash-max-listpack-value",
        &["hash-max-ziplist-value"],
        "64",
        Kind::Memory(0, I64MAX),
        true,
    ),
    da(
        "list-max-listpack-size",
        &["list-max-ziplist-size"],
        "-2",
        Kind::Int(-5, I64MAX),
        true,
    ),
    d("list-compress-depth", "0", Kind::Int(0, I64MAX), true),
    d("set-max-intset-entries", "512", Kind::Int(0, I64MAX), true),
    d(
        "set-max-listpack-entries",
        "128",
        Kind::Int(0, I64MAX),
        true,
    ),
    d(
        "set-max-listpack-value",
        "64",
        Kind::Memory(0, I64MAX),
        true,
    ),
    da(
        "zset-max-listpack-entries",
        &["zset-max-ziplist-entries"],
        "128",
        Kind::Int(0, I64MAX),
        true,
    ),
    da(
        "zset-max-listpack-value",
        &["zset-max-ziplist-value"],
        "64",
        Kind::Memory(0, I64MAX),
        true,
    ),
    d(
        "hll-sparse-max-bytes",
        "3000",
        Kind::Memory(0, I64MAX),
        true,
    ),
    d(
        "stream-node-max-bytes",
        "4096",
        Kind::Memory(0, I64MAX),
        true,
    ),
    d("stream-node-max-entries", "100", Kind::Int(0, I64MAX), true),
    d("activerehashing", "yes", Kind::Bool, true),
    da(
        "busy-reply-threshold",
        &["lua-time-limit"],
        "5000",
        Kind::Int(0, I64MAX),
        true,
    ),
    d("rdbcompression", "yes", Kind::Bool, true),
    d("rdbchecksum", "yes", Kind::Bool, true),
    d("stop-writes-on-bgsave-error", "yes", Kind::Bool, true),
    d("no-appendfsync-on-rewrite", "no", Kind::Bool, true),
    da(
        "replica-read-only",
        &["slave-read-only"],
        "yes",
        Kind::Bool,
        true,
    ),
    da(
        "replica-serve-stale-data",
        &["slave-serve-stale-data"],
        "yes",
        Kind::Bool,
        true,
    ),
    da(
        "replica-priority",
        &["slave-priority"],
        "100",
        Kind::Int(0, I64MAX),
        true,
    ),
    da(
        "replica-lazy-flush",
        &["slave-lazy-flush"],
        "no",
        Kind::Bool,
        true,
    ),
    da(
        "replica-ignore-maxmemory",
        &["slave-ignore-maxmemory"],
        "yes",
        Kind::Bool,
        true,
    ),
    da(
        "min-replicas-to-write",
        &["min-slaves-to-write"],
        "0",
        Kind::Int(0, I64MAX),
        true,
    ),
    da(
        "min-replicas-max-lag",
        &["min-slaves-max-lag"],
        "10",
        Kind::Int(0, I64MAX),
        true,
    ),
    da("replicaof", &["slaveof"], "", Kind::Str, false),
    d("masterauth", "", Kind::Str, true),
    d("masteruser", "", Kind::Str, true),
    d("repl-timeout", "60", Kind::Int(1, I64MAX), true),
    da(
        "repl-ping-replica-period",
        &["repl-ping-slave-period"],
        "10",
        Kind::Int(1, I64MAX),
        true,
    ),
    d("repl-backlog-ttl", "3600", Kind::Int(0, I64MAX), true),
    d("repl-diskless-sync", "yes", Kind::Bool, true),
    d("repl-diskless-sync-delay", "5", Kind::Int(0, I64MAX), true),
    d(
        "repl-diskless-load",
        "disabled",
        Kind::Enum(REPL_DISKLESS_LOAD),
        true,
    ),
    d("repl-disable-tcp-nodelay", "no", Kind::Bool, true),
    d("activedefrag", "no", Kind::Bool, true),
    d("aof-use-rdb-preamble", "yes", Kind::Bool, true),
    d("aof-load-truncated", "yes", Kind::Bool, true),
    d("aof-timestamp-enabled", "no", Kind::Bool, true),
    d("aof-rewrite-incremental-fsync", "yes", Kind::Bool, true),
    d("rdb-save-incremental-fsync", "yes", Kind::Bool, true),
    d("rdb-del-sync-files", "no", Kind::Bool, true),
    d("appenddirname", "appendonlydir", Kind::Str, false),
    d(
        "auto-aof-rewrite-percentage",
        "100",
        Kind::Int(0, I64MAX),
        true,
    ),
    d(
        "auto-aof-rewrite-min-size",
        "67108864",
        Kind::Memory(0, I64MAX),
        true,
    ),
    d("maxmemory-clients", "0", Kind::MemoryOrPercent(100), true),
    d(
        "sanitize-dump-payload",
        "no",
        Kind::Enum(&["no", "yes", "clients"]),
        true,
    ),
    d("shutdown-timeout", "10", Kind::Int(0, I64MAX), true),
    d(
        "shutdown-on-sigint",
        "default",
        Kind::Enum(SHUTDOWN_ON_SIG),
        true,
    ),
    d(
        "shutdown-on-sigterm",
        "default",
        Kind::Enum(SHUTDOWN_ON_SIG),
        true,
    ),
    d("supervised", "no", Kind::Enum(SUPERVISED), false),
    d("syslog-enabled", "no", Kind::Bool, false),
    d("syslog-ident", "redis", Kind::Str, false),
    d("always-show-logo", "no", Kind::Bool, false),
    d("disable-thp", "yes", Kind::Bool, false),
    d("oom-score-adj", "no", Kind::Enum(OOM_SCORE_ADJ), true),
    d(
        "acl-pubsub-default",
        "resetchannels",
        Kind::Enum(ACL_PUBSUB),
        true,
    ),
    d("aclfile", "", Kind::Str, false),
    d("cluster-enabled", "no", Kind::Bool, false),
    d("cluster-config-file", "nodes.conf", Kind::Str, false),
    d("cluster-node-timeout", "15000", Kind::Int(0, I64MAX), true),
    d("tls-port", "0", Kind::Int(0, 65535), false),
    d(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        Kind::Str,
        true,
    ),
    d(
        "repl-backlog-size",
        "1048576",
        Kind::Memory(1, I64MAX),
        true,
    ),
    d(
        "enable-debug-command",
        "no",
        Kind::Enum(PROTECTED_ACTION),
        false,
    ),
    // Who may change the protected directives (`dir`, `dbfilename`) with
    // CONFIG SET.
    d(
        "enable-protected-configs",
        "no",
        Kind::Enum(PROTECTED_ACTION),
        false,
    ),
    // Who may run MODULE. coreshard loads no modules, so MODULE stays an
    // unknown command whatever this says; the directive is accepted so
    // Redis configuration files load unchanged.
    d(
        "enable-module-command",
        "no",
        Kind::Enum(PROTECTED_ACTION),
        false,
    ),
    // What a replica does when a command it replays fails. Replication does
    // not exist yet, so nothing reads it; it is validated and reported.
    d(
        "propagation-error-behavior",
        "ignore",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        true,
    ),
    d("io-threads", "1", Kind::Int(1, 128), false),
    d(
        "tracking-table-max-keys",
        "1000000",
        Kind::Int(0, I64MAX),
        true,
    ),
    d("acllog-max-len", "128", Kind::Int(0, I64MAX), true),
    d("unixsocket", "", Kind::Str, false),
    d("unixsocketperm", "0", Kind::Int(0, 0o777), false),
    d("crash-log-enabled", "yes", Kind::Bool, true),
    d("set-proc-title", "yes", Kind::Bool, false),
];

/// Values of the directives that open an action to everyone (`yes`), to
/// loopback connections (`local`) or to nobody (`no`).
const PROTECTED_ACTION: &[&str] = &["yes", "no", "local"];

/// Directives CONFIG SET changes only where `enable-protected-configs`
/// allows it, as in Redis.
const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// True for a protected directive (see `PROTECTED`).
pub fn is_protected(name: &str) -> bool {
    PROTECTED.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Finds a directive by name or alias (case-insensitive).
pub fn directive(name: &str) -> Option<(usize, &'static Directive)> {
    DIRECTIVES.iter().enumerate().find(|(_, d)| {
        d.name.eq_ignore_ascii_case(name) || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Error from parsing or setting a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a memory value such as `100mb` or `1g` into bytes.
pub fn parse_memory(s: &str) -> Option<i64> {
    let l = s.to_ascii_lowercase();
    let (num, mul) = if let Some(n) = l.strip_suffix("gb") {
        (n, 1024 * 1024 * 1024)
    } else if let Some(n) = l.strip_suffix("mb") {
        (n, 1024 * 1024)
    } else if let Some(n) = l.strip_suffix("kb") {
        (n, 1024)
    } else if let Some(n) = l.strip_suffix('g') {
        (n, 1_000_000_000)
    } else if let Some(n) = l.strip_suffix('m') {
        (n, 1_000_000)
    } else if let Some(n) = l.strip_suffix('k') {
        (n, 1000)
    } else if let Some(n) = l.strip_suffix('b') {
        (n, 1)
    } else {
        (l.as_str(), 1)
    };
    let v: i64 = num.parse().ok()?;
    v.checked_mul(mul)
}

/// One class's `client-output-buffer-limit`: a client whose pending output
/// reaches `hard` bytes, or stays above `soft` for `soft_secs` seconds, is
/// disconnected (0 disables a limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    /// Hard limit in bytes.
    pub hard: u64,
    /// Soft limit in bytes.
    pub soft: u64,
    /// Seconds the soft limit may be exceeded.
    pub soft_secs: u64,
}

/// Client classes of `client-output-buffer-limit`, in Redis's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientClass {
    /// Ordinary clients (and MONITOR).
    Normal = 0,
    /// Replicas.
    Replica = 1,
    /// Clients subscribed to pub/sub channels.
    PubSub = 2,
}

const CLASS_NAMES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Parses `client-output-buffer-limit` text (`<class> <hard> <soft> <secs>`
/// repeated) on top of `base`: classes not named keep their limits.
pub fn parse_output_limits(base: [OutputLimit; 3], text: &str) -> Result<[OutputLimit; 3], String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = base;
    for w in words.chunks(4) {
        let class = match w[0].to_ascii_lowercase().as_str() {
            "normal" => ClientClass::Normal,
            "slave" | "replica" => ClientClass::Replica,
            "pubsub" => ClientClass::PubSub,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into());
            }
        };
        let hard = parse_memory(w[1]);
        let soft = parse_memory(w[2]);
        let secs = w[3].parse::<i64>().ok();
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) if h >= 0 && s >= 0 && t >= 0 => {
                out[class as usize] = OutputLimit {
                    hard: h as u64,
                    soft: s as u64,
                    soft_secs: t as u64,
                };
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                );
            }
        }
    }
    Ok(out)
}

/// The canonical text of all three classes' limits, as CONFIG GET shows it.
pub fn format_output_limits(l: &[OutputLimit; 3]) -> String {
    l.iter()
        .zip(CLASS_NAMES)
        .map(|(x, n)| format!("{n} {} {} {}", x.hard, x.soft, x.soft_secs))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The values in force, one text per directive, with hot values cached typed.
#[derive(Clone, Debug)]
pub struct Config {
    values: Vec<String>,
    /// `port`.
    pub port: u16,
    /// `threads` (resolved: never 0 after [`Config::resolve`]).
    pub threads: usize,
    /// `databases`.
    pub databases: usize,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: i64,
    /// `client-query-buffer-limit`.
    pub client_query_buffer_limit: i64,
    /// `maxclients`.
    pub maxclients: i64,
    /// `hz`.
    pub hz: i64,
    /// `active-expire-effort`.
    pub active_expire_effort: i64,
    /// `requirepass` (empty: none).
    pub requirepass: String,
    /// `timeout` in seconds (0: never).
    pub timeout: i64,
    /// `slowlog-log-slower-than` in µs.
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: i64,
    /// `client-output-buffer-limit`, indexed by [`ClientClass`].
    pub output_limits: [OutputLimit; 3],
    /// `busy-reply-threshold` in ms (0: none).
    pub busy_reply_threshold: u64,
    /// `notify-keyspace-events` as parsed: the shown value, like Redis's,
    /// leaves `n` out when `A` is there, but the class stays on.
    pub notify_flags: u32,
}

impl Default for Config {
    fn default() -> Self {
        let mut c = Config {
            values: DIRECTIVES.iter().map(|d| d.default.to_string()).collect(),
            port: DEFAULT_PORT,
            threads: 0,
            databases: DEFAULT_DATABASES,
            proto_max_bulk_len: DEFAULT_PROTO_MAX_BULK_LEN,
            client_query_buffer_limit: DEFAULT_CLIENT_QUERY_BUFFER_LIMIT,
            maxclients: DEFAULT_MAXCLIENTS,
            hz: DEFAULT_HZ,
            active_expire_effort: 1,
            requirepass: String::new(),
            timeout: 0,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            output_limits: [OutputLimit::default(); 3],
            busy_reply_threshold: 5000,
            notify_flags: 0,
        };
        c.refresh();
        c
    }
}

impl Config {
    /// Text of a directive by name (canonical name or alias).
    pub fn get(&self, name: &str) -> Option<&str> {
        directive(name).map(|(i, _)| self.values[i].as_str())
    }

    /// All (name, value) pairs, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        DIRECTIVES
            .iter()
            .zip(self.values.iter())
            .map(|(d, v)| (d.name, v.as_str()))
    }

    /// Integer value of a directive, 0 if it does not parse.
    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// Boolean value of a directive.
    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == Some("yes")
    }

    /// The addresses of the `bind` directive (127.0.0.1 by default).
    pub fn bind_addresses(&self) -> Vec<&str> {
        self.get("bind")
            .unwrap_or("127.0.0.1")
            .split_whitespace()
            .collect()
    }

    /// The `tcp-backlog` directive, as `listen(2)` takes it.
    pub fn tcp_backlog(&self) -> i32 {
        self.get_i64("tcp-backlog").clamp(1, i32::MAX as i64) as i32
    }

    /// Sets a directive after validating it. `startup` allows immutable ones.
    pub fn set(&mut self, name: &str, value: &str, startup: bool) -> Result<(), ConfigError> {
        let Some((i, dir)) = directive(name) else {
            return Err(ConfigError(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        if !startup && !dir.mutable {
            return Err(ConfigError(format!(
                "CONFIG SET failed (possibly related to argument '{}') - can't set immutable config",
                dir.name
            )));
        }
        let canon = if dir.name == "client-output-buffer-limit" {
            parse_output_limits(self.output_limits, value).map(|l| format_output_limits(&l))
        } else {
            canonical(dir, value)
        };
        let canon = canon.map_err(|e| {
            ConfigError(format!(
                "CONFIG SET failed (possibly related to argument '{}') - {e}",
                dir.name
            ))
        })?;
        self.values[i] = canon;
        if dir.name == "notify-keyspace-events" {
            self.notify_flags = crate::storage::notify::parse(value).unwrap_or(0);
        }
        self.refresh();
        Ok(())
    }

    /// Checks a value for a directive without applying it; the error is the
    /// bare reason (`argument must be 'yes' or 'no'`).
    pub fn check(name: &str, value: &str) -> Result<(), String> {
        let (_, dir) = directive(name).ok_or_else(|| "unknown option".to_string())?;
        canonical(dir, value).map(|_| ())
    }

    /// Fills in values that depend on the machine (`threads 0` = usable cores).
    pub fn resolve(&mut self) {
        if self.threads == 0 {
            let n = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            self.threads = n;
            let i = directive("threads").map(|x| x.0).unwrap_or(0);
            self.values[i] = n.to_string();
        }
    }

    /// Makes the values that command handlers read (they have no access to the
    /// core's `Config`) current on the calling thread. Each core calls it at
    /// start and after `CONFIG SET` applies new values to its copy.
    pub fn publish_to_thread(&self) {
        PROTO_MAX_BULK_LEN.with(|c| c.set(self.proto_max_bulk_len));
        ENCODING_LIMITS.with(|c| c.set(self.encoding_limits()));
        crate::storage::evict::publish(self.eviction());
        crate::storage::notify::publish(self.notify_flags);
        crate::storage::lazyfree::publish(crate::storage::lazyfree::Lazy {
            eviction: self.get_bool("lazyfree-lazy-eviction"),
            expire: self.get_bool("lazyfree-lazy-expire"),
            user_del: self.get_bool("lazyfree-lazy-user-del"),
            server_del: self.get_bool("lazyfree-lazy-server-del"),
        });
        crate::storage::stream::publish(crate::storage::stream::NodeLimits {
            max_entries: self.get_i64("stream-node-max-entries"),
            max_bytes: self.get_i64("stream-node-max-bytes"),
        });
    }

    /// `maxmemory-clients` in bytes (0: no limit): a size, or a percentage
    /// of `maxmemory` (`10%`).
    pub fn maxmemory_clients(&self) -> u64 {
        let v = self.get("maxmemory-clients").unwrap_or("0").trim();
        match v.strip_suffix('%') {
            Some(p) => {
                let pct = p.parse::<u64>().unwrap_or(0);
                (self.get_i64("maxmemory").max(0) as u64).saturating_mul(pct) / 100
            }
            None => parse_memory(v).unwrap_or(0).max(0) as u64,
        }
    }

    /// The eviction settings these values give.
    pub fn eviction(&self) -> crate::storage::evict::Settings {
        use crate::storage::evict::{Policy, Settings};
        Settings {
            maxmemory: self.get_i64("maxmemory").max(0) as u64,
            policy: Policy::parse(self.get("maxmemory-policy").unwrap_or("noeviction"))
                .unwrap_or(Policy::NoEviction),
            samples: self.get_i64("maxmemory-samples").clamp(1, 64) as usize,
            tenacity: self.get_i64("maxmemory-eviction-tenacity").clamp(0, 100) as u32,
            lfu_log_factor: self.get_i64("lfu-log-factor").max(0) as u64,
            lfu_decay_time: self.get_i64("lfu-decay-time").max(0) as u64,
            maxmemory_clients: self.maxmemory_clients(),
        }
    }

    /// The collection encoding limits these values give.
    pub fn encoding_limits(&self) -> EncodingLimits {
        let u = |name: &str| self.get_i64(name).max(0) as usize;
        EncodingLimits {
            hash_max_listpack_entries: u("hash-max-listpack-entries"),
            hash_max_listpack_value: u("hash-max-listpack-value"),
            list_max_listpack_size: self.get_i64("list-max-listpack-size"),
            set_max_intset_entries: u("set-max-intset-entries"),
            set_max_listpack_entries: u("set-max-listpack-entries"),
            set_max_listpack_value: u("set-max-listpack-value"),
            zset_max_listpack_entries: u("zset-max-listpack-entries"),
            zset_max_listpack_value: u("zset-max-listpack-value"),
        }
    }

    fn refresh(&mut self) {
        self.port = self.get_i64("port") as u16;
        self.threads = self.get_i64("threads") as usize;
        self.databases = self.get_i64("databases").max(1) as usize;
        self.proto_max_bulk_len = self.get_i64("proto-max-bulk-len");
        self.client_query_buffer_limit = self.get_i64("client-query-buffer-limit");
        self.maxclients = self.get_i64("maxclients");
        self.hz = self.get_i64("hz");
        self.active_expire_effort = self.get_i64("active-expire-effort");
        self.requirepass = self.get("requirepass").unwrap_or("").to_string();
        self.timeout = self.get_i64("timeout");
        self.slowlog_log_slower_than = self.get_i64("slowlog-log-slower-than");
        self.slowlog_max_len = self.get_i64("slowlog-max-len");
        self.busy_reply_threshold = self.get_i64("busy-reply-threshold").max(0) as u64;
        if let Some(v) = self.get("client-output-buffer-limit")
            && let Ok(l) = parse_output_limits(self.output_limits, v)
        {
            self.output_limits = l;
        }
    }

    /// Parses redis.conf text: one directive per line, `#` comments, quoted
    /// arguments; a directive's several arguments are joined with spaces.
    pub fn load_text(&mut self, text: &str) -> Result<(), ConfigError> {
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut ranges = Vec::new();
            let mut out = Vec::new();
            if !crate::protocol::parse::split_args(line.as_bytes(), &mut ranges, &mut out) {
                return Err(ConfigError(format!(
                    "line {}: unbalanced quotes",
                    lineno + 1
                )));
            }
            let args: Vec<String> = ranges
                .iter()
                .map(|&(s, e)| String::from_utf8_lossy(&out[s..e]).into_owned())
                .collect();
            if args.is_empty() {
                continue;
            }
            self.apply_directive(&args[0], &args[1..])
                .map_err(|e| ConfigError(format!("line {}: {}", lineno + 1, e.0)))?;
        }
        Ok(())
    }

    /// Applies one directive given as a name and its arguments (file or `--name`).
    pub fn apply_directive(&mut self, name: &str, args: &[String]) -> Result<(), ConfigError> {
        let name = name.to_ascii_lowercase();
        if name == "save" {
            let v = args.join(" ");
            let i = directive("save").map(|x| x.0).unwrap_or(0);
            // Successive `save` lines add points; an empty one resets them.
            if v.is_empty() || self.values[i].is_empty() {
                self.values[i] = v;
            } else {
                self.values[i] = format!("{} {}", self.values[i], v);
            }
            return Ok(());
        }
        if directive(&name).is_none() {
            return Err(ConfigError(format!(
                "Bad directive or wrong number of arguments: '{name}'"
            )));
        }
        self.set(&name, &args.join(" "), true)
    }
}

fn canonical(dir: &Directive, value: &str) -> Result<String, String> {
    match dir.kind {
        Kind::Int(min, max) => {
            let v: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v.to_string())
        }
        Kind::Memory(min, max) => {
            let v =
                parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v.to_string())
        }
        Kind::MemoryOrPercent(max_pct) => {
            if let Some(v) = parse_memory(value).filter(|&v| v >= 0) {
                return Ok(v.to_string());
            }
            let pct = value
                .strip_suffix('%')
                .filter(|p| !p.is_empty())
                .and_then(|p| p.parse::<i64>().ok())
                .filter(|&p| p >= 0)
                .ok_or_else(|| "argument must be a memory or percent value".to_string())?;
            if pct > max_pct {
                return Err(format!(
                    "percentage argument must be less or equal to {max_pct}"
                ));
            }
            Ok(format!("{pct}%"))
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Enum(words) => {
            let l = value.to_ascii_lowercase();
            if words.contains(&l.as_str()) {
                Ok(l)
            } else {
                Err("argument(s) must be one of the following: ".to_string() + &words.join(", "))
            }
        }
        Kind::Str if dir.name == "save" => {
            // Pairs of `<seconds> <changes>`, both non-negative integers.
            let parts: Vec<&str> = value.split_whitespace().collect();
            let ok = parts.len().is_multiple_of(2)
                && parts.iter().all(|p| p.parse::<i64>().is_ok_and(|v| v >= 0));
            if ok {
                Ok(parts.join(" "))
            } else {
                Err("Invalid save parameters".into())
            }
        }
        Kind::Str if dir.name == "notify-keyspace-events" => crate::storage::notify::parse(value)
            .map(crate::storage::notify::format)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        Kind::Str if dir.name == "client-output-buffer-limit" => {
            parse_output_limits([OutputLimit::default(); 3], value).map(|_| value.to_string())
        }
        Kind::Str => Ok(value.to_string()),
    }
}

/// Glob matching with Redis's `stringmatchlen` rules (`*`, `?`, `[a-z]`, `[^x]`,
/// `\\x`). As there, an empty string matches only the empty pattern (KEYS and
/// SCAN treat a lone `*` as "everything" before matching).
///
/// Every token but `*` matches exactly one byte, so on a mismatch it is enough to
/// resume after the most recent `*` with one more byte consumed by it: the
/// matcher is O(pattern × string) instead of exponential in the number of stars.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    if s.is_empty() {
        return pattern.is_empty();
    }
    let (mut pi, mut si) = (0usize, 0usize);
    // (pattern index after the star, string index the star currently ends at)
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < pattern.len() && pattern[pi] == b'*' {
            while pi < pattern.len() && pattern[pi] == b'*' {
                pi += 1;
            }
            if pi == pattern.len() {
                return true;
            }
            star = Some((pi, si));
            continue;
        }
        if si == s.len() {
            while pi < pattern.len() && pattern[pi] == b'*' {
                pi += 1;
            }
            return pi == pattern.len();
        }
        if pi < pattern.len() {
            let (ok, next) = match_one(pattern, pi, s[si], nocase);
            if ok {
                pi = next;
                si += 1;
                continue;
            }
        }
        match star {
            Some((sp, ss)) if ss < s.len() => {
                pi = sp;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            _ => return false,
        }
    }
}

/// Matches the single-byte token at `pattern[pi]` against `c`; returns whether it
/// matched and the index after the token.
fn match_one(p: &[u8], mut pi: usize, c: u8, nocase: bool) -> (bool, usize) {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match p[pi] {
        b'?' => (true, pi + 1),
        b'[' => {
            pi += 1;
            let not = pi < p.len() && p[pi] == b'^';
            if not {
                pi += 1;
            }
            let mut matched = false;
            loop {
                if pi >= p.len() {
                    // Unterminated class: it ends with the pattern, as in Redis.
                    break;
                }
                if p[pi] == b'\\' && pi + 1 < p.len() {
                    pi += 1;
                    if p[pi] == c {
                        matched = true;
                    }
                } else if p[pi] == b']' {
                    pi += 1;
                    break;
                } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                    let (mut a, mut b) = (p[pi], p[pi + 2]);
                    let mut ch = c;
                    if a > b {
                        std::mem::swap(&mut a, &mut b);
                    }
                    if nocase {
                        a = a.to_ascii_lowercase();
                        b = b.to_ascii_lowercase();
                        ch = ch.to_ascii_lowercase();
                    }
                    pi += 2;
                    if ch >= a && ch <= b {
                        matched = true;
                    }
                } else if eq(p[pi], c) {
                    matched = true;
                }
                pi += 1;
            }
            (matched != not, pi)
        }
        b'\\' if pi + 1 < p.len() => (eq(p[pi + 1], c), pi + 2),
        other => (eq(other, c), pi + 1),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn output_limits_merge_by_class() {
        let mut c = Config::default();
        assert_eq!(
            c.get("client-output-buffer-limit"),
            Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        );
        assert_eq!(c.output_limits[ClientClass::PubSub as usize].hard, 33554432);
        c.set("client-output-buffer-limit", "normal 1mb 512kb 10", false)
            .unwrap();
        assert_eq!(
            c.get("client-output-buffer-limit"),
            Some("normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        );
        c.set(
            "client-output-buffer-limit",
            "replica 0 0 0 pubsub 1 2 3",
            false,
        )
        .unwrap();
        assert_eq!(
            c.output_limits[ClientClass::Replica as usize],
            OutputLimit::default()
        );
        assert_eq!(c.output_limits[ClientClass::Normal as usize].hard, 1048576);
        for bad in ["normal 1 2", "nope 1 2 3", "normal x 1 1", "normal -1 0 0"] {
            assert!(
                c.set("client-output-buffer-limit", bad, false).is_err(),
                "{bad}"
            );
        }
        assert_eq!(c.output_limits[ClientClass::PubSub as usize].soft_secs, 3);
    }

    use super::*;

    #[test]
    fn set_and_get() {
        let mut c = Config::default();
        c.set("maxmemory", "1mb", false).unwrap();
        assert_eq!(c.get("maxmemory"), Some("1048576"));
        assert!(c.set("databases", "4", false).is_err());
        assert!(c.set("hz", "abc", false).is_err());
        assert!(c.set("save", "1 2 3", false).is_err());
        assert!(c.set("save", "-1 2", false).is_err());
        c.set("save", "100 10  50 5", false).unwrap();
        assert_eq!(c.get("save"), Some("100 10 50 5"));
        c.set("hash-max-ziplist-value", "10", false).unwrap();
        assert_eq!(c.get("hash-max-listpack-value"), Some("10"));
    }

    #[test]
    fn conf_file() {
        let mut c = Config::default();
        c.load_text("# comment\nport 7000\nsave 900 1\nsave 300 10\nloglevel \"warning\"\n")
            .unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.get("save"), Some("900 1 300 10"));
        assert_eq!(c.get("loglevel"), Some("warning"));
        assert!(c.load_text("nosuch 1").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(!glob_match(b"*", b"", false));
        assert!(glob_match(b"", b"", false));
        assert!(glob_match(b"[\\]", b"]", false));
        assert!(!glob_match(b"[\\b", b"\\", false));
        assert!(!glob_match(b"a*b", b"ac", false));
        assert!(glob_match(b"MAX*", b"maxmemory", true));
        assert!(glob_match(b"a\\*b", b"a*b", false));
        assert!(!glob_match(b"a\\*b", b"axb", false));
        assert!(glob_match(b"*[0-9]", b"key7", false));
        assert!(glob_match(b"[abc", b"b", false));
        assert!(glob_match(b"*a*b*", b"xxaxxbxx", false));
    }

    /// The straightforward recursive matcher, kept as the reference semantics.
    fn glob_reference(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
        fn eq(a: u8, b: u8, nocase: bool) -> bool {
            if nocase {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        }
        fn m(p: &[u8], s: &[u8], nocase: bool, depth: u32) -> bool {
            if depth > 1000 {
                return false;
            }
            let (mut pi, mut si) = (0usize, 0usize);
            while pi < p.len() {
                match p[pi] {
                    b'*' => {
                        while pi + 1 < p.len() && p[pi + 1] == b'*' {
                            pi += 1;
                        }
                        if pi + 1 == p.len() {
                            return true;
                        }
                        for k in si..=s.len() {
                            if m(&p[pi + 1..], &s[k..], nocase, depth + 1) {
                                return true;
                            }
                        }
                        return false;
                    }
                    b'?' => {
                        if si >= s.len() {
                            return false;
                        }
                        si += 1;
                    }
                    b'[' => {
                        if si >= s.len() {
                            return false;
                        }
                        pi += 1;
                        let not = pi < p.len() && p[pi] == b'^';
                        if not {
                            pi += 1;
                        }
                        let mut matched = false;
                        loop {
                            if pi >= p.len() {
                                pi -= 1;
                                break;
                            }
                            if p[pi] == b'\\' && pi + 1 < p.len() {
                                pi += 1;
                                if p[pi] == s[si] {
                                    matched = true;
                                }
                            } else if p[pi] == b']' {
                                break;
                            } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                                let (mut a, mut b) = (p[pi], p[pi + 2]);
                                let mut c = s[si];
                                if a > b {
                                    std::mem::swap(&mut a, &mut b);
                                }
                                if nocase {
                                    a = a.to_ascii_lowercase();
                                    b = b.to_ascii_lowercase();
                                    c = c.to_ascii_lowercase();
                                }
                                pi += 2;
                                if c >= a && c <= b {
                                    matched = true;
                                }
                            } else if eq(p[pi], s[si], nocase) {
                                matched = true;
                            }
                            pi += 1;
                        }
                        if not {
                            matched = !matched;
                        }
                        if !matched {
                            return false;
                        }
                        si += 1;
                    }
                    b'\\' if pi + 1 < p.len() => {
                        pi += 1;
                        if si >= s.len() || !eq(p[pi], s[si], nocase) {
                            return false;
                        }
                        si += 1;
                    }
                    c => {
                        if si >= s.len() || !eq(c, s[si], nocase) {
                            return false;
                        }
                        si += 1;
                    }
                }
                pi += 1;
                if si >= s.len() {
                    while pi < p.len() && p[pi] == b'*' {
                        pi += 1;
                    }
                    break;
                }
            }
            pi == p.len() && si == s.len()
        }
        // An empty string matches only the empty pattern, as in Redis.
        if s.is_empty() {
            return pattern.is_empty();
        }
        m(pattern, s, nocase, 0)
    }

    #[test]
    fn glob_matches_reference() {
        let mut rng = crate::Rng::new(7);
        let alphabet = b"ab*?[]^-\\c";
        for _ in 0..200_000 {
            let plen = rng.below(7);
            let slen = rng.below(6);
            let p: Vec<u8> = (0..plen)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let s: Vec<u8> = (0..slen).map(|_| b"abc*"[rng.below(4)]).collect();
            assert_eq!(
                glob_match(&p, &s, false),
                glob_reference(&p, &s, false),
                "pattern {:?} string {:?}",
                String::from_utf8_lossy(&p),
                String::from_utf8_lossy(&s)
            );
        }
    }

    #[test]
    fn glob_is_not_exponential() {
        let pattern = "*a".repeat(30) + "b";
        let s = "a".repeat(60);
        assert!(!glob_match(pattern.as_bytes(), s.as_bytes(), false));
    }

    #[test]
    fn keyspace_event_classes_shown_as_redis_but_kept_whole() {
        use crate::storage::notify;
        let mut c = Config::default();
        c.set("notify-keyspace-events", "KEAn", false).unwrap();
        // Shown without `n`, as Redis shows it, yet new-key events stay on.
        assert_eq!(c.get("notify-keyspace-events"), Some("AKE"));
        assert_eq!(c.notify_flags & notify::NEW, notify::NEW);
        assert_eq!(c.notify_flags & notify::ALL, notify::ALL);
        c.set("notify-keyspace-events", "", false).unwrap();
        assert_eq!(c.notify_flags, 0);
        assert!(c.set("notify-keyspace-events", "Q", false).is_err());
        assert_eq!(c.notify_flags, 0);
    }
}
