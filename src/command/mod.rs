//! The command table and the command families.
//!
//! ```text
//!  name ──lookup──► &'static CommandSpec { arity, flags, keys, acl, docs,
//!                                          shard: Option<ShardFn>, coord: Option<CoordFn> }
//!  all keys on one shard + shard fn ──► runs on that shard (inline or hop)
//!  keys on several shards:
//!    tips request_policy:multi_shard ──► split: the shard fn on each shard's
//!                                        keys, in one transaction, replies merged
//!    otherwise coord fn              ──► runs on the client's core, hopping as
//!                                        needed, every key locked meanwhile
//! ```
//!
//! Either way the command is atomic: see [`crate::shard::txn`].
//!
//! Dispatch, arity errors, COMMAND, ACL categories and statistics all read this
//! one table. Each family file keeps its specs next to its handlers.

pub mod bitmap;
pub mod blocking;
pub mod connection;
pub mod docs;
pub mod hash;
pub mod introspection;
pub mod keyspace;
pub mod list;
pub mod multi;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod session;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod util;
pub mod zset;

use crate::command::session::Session;
use crate::protocol::{Args, Reply};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

/// Command flags (Redis's names, lower-case in COMMAND output).
pub mod flags {
    pub const WRITE: u64 = 1 << 0;
    pub const READONLY: u64 = 1 << 1;
    pub const DENYOOM: u64 = 1 << 2;
    pub const MODULE: u64 = 1 << 3;
    pub const ADMIN: u64 = 1 << 4;
    pub const PUBSUB: u64 = 1 << 5;
    pub const NOSCRIPT: u64 = 1 << 6;
    pub const BLOCKING: u64 = 1 << 7;
    pub const LOADING: u64 = 1 << 8;
    pub const STALE: u64 = 1 << 9;
    pub const SKIP_MONITOR: u64 = 1 << 10;
    pub const SKIP_SLOWLOG: u64 = 1 << 11;
    pub const ASKING: u64 = 1 << 12;
    pub const FAST: u64 = 1 << 13;
    pub const NO_AUTH: u64 = 1 << 14;
    pub const MAY_REPLICATE: u64 = 1 << 15;
    pub const SENTINEL: u64 = 1 << 16;
    pub const ONLY_SENTINEL: u64 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u64 = 1 << 18;
    pub const PROTECTED: u64 = 1 << 19;
    pub const NO_ASYNC_LOADING: u64 = 1 << 20;
    pub const NO_MULTI: u64 = 1 << 21;
    pub const MOVABLE_KEYS: u64 = 1 << 22;
    pub const ALLOW_BUSY: u64 = 1 << 23;
    /// Not a Redis flag (never listed): the command's coordinator takes its
    /// own locks (scripts, whose lock set depends on what they run).
    pub const OWN_LOCKS: u64 = 1 << 40;

    /// Flag names in COMMAND INFO order.
    pub const NAMES: &[(u64, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (ONLY_SENTINEL, "only_sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (PROTECTED, "protected"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Key-spec flags (COMMAND INFO / DOCS), Redis's names.
pub mod keyflags {
    pub const RO: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const OW: u32 = 1 << 2;
    pub const RM: u32 = 1 << 3;
    pub const ACCESS: u32 = 1 << 4;
    pub const UPDATE: u32 = 1 << 5;
    pub const INSERT: u32 = 1 << 6;
    pub const DELETE: u32 = 1 << 7;
    pub const NOT_KEY: u32 = 1 << 8;
    pub const INCOMPLETE: u32 = 1 << 9;
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Flag names in Redis's order.
    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

pub use crate::shard::Ctx;

/// A handler that runs on the shard owning all of the command's keys.
pub type ShardFn = fn(&mut Ctx<'_>, &mut Reply<'_>, Args<'_>);

/// A future returned by a coordinator handler.
pub type LocalBoxFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// A handler that runs on the client's core and coordinates hops itself.
pub type CoordFn = for<'a> fn(&'a mut Session, OwnedArgs) -> LocalBoxFuture<'a>;

/// A handler that runs on the client's core with its connection and never
/// waits (PUBLISH): called in line, without the coordinator's copy of the
/// arguments and its future, once the commands before it have run.
pub type ConnFn = fn(&mut Session, Args<'_>);

/// How the per-shard replies of a split command are merged
/// ([`CommandSpec::split_merge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Integer replies added up (DEL, EXISTS...).
    Sum,
    /// `+OK` once every part answered it (MSET).
    AllOk,
    /// One array, each key's reply in its place (MGET).
    InKeyOrder,
}

/// Custom key finder: pushes the indexes of key arguments.
pub type KeysFn = fn(Args<'_>, &mut Vec<usize>);

/// See [`CommandSpec::runs_at`].
pub type RunsAtFn = fn(&Session, Args<'_>) -> Option<usize>;

/// See [`CommandSpec::lock_whole`].
pub type LockWholeFn = fn(Args<'_>) -> Option<crate::shard::txn::Mode>;

/// One command (or subcommand) of the table.
pub struct CommandSpec {
    /// Lower-case name; subcommands are `container|sub`.
    pub name: &'static str,
    /// Redis's arity: exact when positive, minimum when negative (name counted).
    pub arity: i32,
    /// [`flags`] bits.
    pub flags: u64,
    /// First key index (0: none), last key index (negative: from the end), step.
    pub first_key: i32,
    /// Last key index.
    pub last_key: i32,
    /// Key step.
    pub step: i32,
    /// [`keyflags`] of the keys (one spec for all keys in the simple range).
    pub key_flags: u32,
    /// Notes of the key spec (COMMAND INFO), empty for none.
    pub key_notes: &'static str,
    /// Custom key finder for commands whose keys are not at fixed positions.
    pub keys: Option<KeysFn>,
    /// ACL categories, without the `@`.
    pub acl: &'static [&'static str],
    /// Command group for COMMAND DOCS (`string`, `generic`, `server`...).
    pub group: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Version that introduced it.
    pub since: &'static str,
    /// Time complexity.
    pub complexity: &'static str,
    /// Command tips (`nondeterministic_output`, `request_policy:all_shards`...).
    pub tips: &'static [&'static str],
    /// Shard-side handler.
    pub shard: Option<ShardFn>,
    /// Coordinator handler.
    pub coord: Option<CoordFn>,
    /// In-line connection handler, preferred to `coord` when no earlier
    /// command of the pipeline is still to run elsewhere and a later one
    /// follows it (the last command the client sent may wait for other
    /// cores: PUBLISH then counts its receivers where they are).
    pub conn: Option<ConnFn>,
    /// For a command that may reach keys its key spec does not name (SORT's
    /// BY and GET patterns): the mode in which these arguments make it lock
    /// every shard whole, or None when the key spec names every key they
    /// touch.
    pub lock_whole: Option<LockWholeFn>,
    /// For a coordinated command that can run whole on the core owning its
    /// keys (a script known to keep to the keys it declares): that core, or
    /// None when this client's command must be coordinated from its own
    /// core. The command then travels with the client's other commands for
    /// that core, in their batch, and its coordinator runs there as for a
    /// client of that core ([`Session::forwarded`]). On the client's own
    /// core it is coordinated as usual.
    pub runs_at: Option<RunsAtFn>,
    /// Subcommands (for containers such as CONFIG).
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A command whose one key is argument 1, in command-docs group `group`;
    /// families fill in the rest with struct update syntax.
    pub const fn single_key(
        name: &'static str,
        group: &'static str,
        arity: i32,
        flags: u64,
        key_flags: u32,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: 1,
            last_key: 1,
            step: 1,
            key_flags,
            group,
            ..CommandSpec::DEFAULT
        }
    }
    /// A spec with everything empty; families override with struct update syntax.
    pub const DEFAULT: CommandSpec = CommandSpec {
        name: "",
        arity: 0,
        flags: 0,
        first_key: 0,
        last_key: 0,
        step: 0,
        key_flags: 0,
        key_notes: "",
        keys: None,
        acl: &[],
        group: "generic",
        summary: "",
        since: "1.0.0",
        complexity: "O(1)",
        tips: &[],
        shard: None,
        coord: None,
        conn: None,
        lock_whole: None,
        runs_at: None,
        subcommands: &[],
    };

    /// True when `argc` satisfies the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Has flag bits.
    #[inline]
    pub fn has(&self, f: u64) -> bool {
        self.flags & f != 0
    }

    /// The position of the command's only key when it names exactly one,
    /// at a fixed position (most commands), in a call of `nargs`
    /// arguments: what [`CommandSpec::key_indexes`] would list alone,
    /// without a list.
    #[inline]
    pub fn fixed_key(&self, nargs: usize) -> Option<usize> {
        (self.keys.is_none()
            && self.key_flags & keyflags::NOT_KEY == 0
            && self.first_key > 0
            && self.first_key == self.last_key
            && (self.first_key as usize) < nargs)
            .then_some(self.first_key as usize)
    }

    /// Indexes of the key arguments of `args`.
    pub fn key_indexes(&self, args: Args<'_>, out: &mut Vec<usize>) {
        out.clear();
        // Never more keys than arguments: one allocation for a new vector
        // instead of a growth per doubling.
        out.reserve(args.len());
        // Shard channels are described by a key spec, but are not keys.
        if self.key_flags & keyflags::NOT_KEY != 0 {
            return;
        }
        if let Some(f) = self.keys {
            f(args, out);
            return;
        }
        if self.first_key <= 0 {
            return;
        }
        let argc = args.len() as i32;
        let last = if self.last_key < 0 {
            argc + self.last_key
        } else {
            self.last_key
        };
        let step = self.step.max(1);
        let mut i = self.first_key;
        while i <= last && i < argc {
            out.push(i as usize);
            i += step;
        }
    }

    /// How a command whose keys span shards is split into one part per
    /// shard (the command on that shard's keys, run where they live) and
    /// its replies merged, read from its tips as Redis Cluster clients read
    /// them: `request_policy:multi_shard` with `response_policy:agg_sum`
    /// (integers added), `all_succeeded` (OK when every part is) or none
    /// (replies in key order). None for commands that coordinate otherwise.
    pub fn split_merge(&self) -> Option<Merge> {
        if self.shard.is_none() || !self.tips.contains(&"request_policy:multi_shard") {
            return None;
        }
        let policy = self
            .tips
            .iter()
            .find_map(|t| t.strip_prefix("response_policy:"));
        match policy {
            None => Some(Merge::InKeyOrder),
            Some("agg_sum") => Some(Merge::Sum),
            Some("all_succeeded") => Some(Merge::AllOk),
            Some(_) => None,
        }
    }

    /// Finds a subcommand by name (case-insensitive).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let subs: &'static [CommandSpec] = self.subcommands;
        subs.iter().find(|s| {
            let short = s.name.rsplit('|').next().unwrap_or(s.name);
            short.as_bytes().eq_ignore_ascii_case(name)
        })
    }
}

pub use crate::protocol::OwnedArgs;

/// The whole table.
pub struct Table {
    /// Names are short and fixed: foldhash costs a few nanoseconds per lookup
    /// where the default SipHash was visible in profiles.
    by_name: HashMap<Vec<u8>, &'static CommandSpec, foldhash::fast::FixedState>,
    /// Every top-level command.
    pub all: Vec<&'static CommandSpec>,
}

/// All families' spec lists.
fn families() -> [&'static [CommandSpec]; 16] {
    [
        string::SPECS,
        bitmap::SPECS,
        keyspace::SPECS,
        list::SPECS,
        blocking::SPECS,
        hash::SPECS,
        set::SPECS,
        zset::SPECS,
        stream::SPECS,
        sort::SPECS,
        connection::SPECS,
        multi::SPECS,
        pubsub::SPECS,
        server::SPECS,
        scripting::SPECS,
        scripting::functions::SPECS,
    ]
}

/// The command table, built on first use.
pub fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut by_name = HashMap::with_hasher(foldhash::fast::FixedState::default());
        let mut all = Vec::new();
        for fam in families() {
            for spec in fam {
                by_name.insert(spec.name.as_bytes().to_vec(), spec);
                all.push(spec);
            }
        }
        Table { by_name, all }
    })
}

/// Looks up a command by name, case-insensitively. The last name found is
/// kept per thread as it was written: a pipeline's commands and a script's
/// calls mostly repeat one command, and comparing a few bytes is cheaper
/// than the case-folding table lookup.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    const KEPT: usize = 24;
    type Last = ([u8; KEPT], usize, Option<&'static CommandSpec>);
    thread_local! {
        static LAST: std::cell::Cell<Last> = const { std::cell::Cell::new(([0; KEPT], 0, None)) };
    }
    LAST.with(|last| {
        let (buf, len, spec) = last.get();
        if spec.is_some() && len == name.len() && buf[..len] == *name {
            return spec;
        }
        let spec = lookup_folded(name);
        if spec.is_some() && name.len() <= KEPT {
            let mut buf = [0; KEPT];
            buf[..name.len()].copy_from_slice(name);
            last.set((buf, name.len(), spec));
        }
        spec
    })
}

/// [`lookup`] in the table, the name folded to lower case.
fn lookup_folded(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 64];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    table().by_name.get(&buf[..name.len()]).copied()
}

/// The bytes C's `%s` would print: up to the first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// Redis's reply to an unknown command: the name and then each argument quoted,
/// while the argument text stays under 128 bytes, each cut at a NUL byte.
pub fn unknown_command_error(args: Args<'_>) -> String {
    let name = c_str(args.get(0));
    let name = &name[..name.len().min(128)];
    let mut list: Vec<u8> = Vec::new();
    for a in args.iter().skip(1) {
        if list.len() >= 128 {
            break;
        }
        let a = c_str(a);
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(&a[..a.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    sanitize(&format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(name),
        String::from_utf8_lossy(&list)
    ))
}

/// Replaces CR/LF so an error stays on one line.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: &CommandSpec, seen: &mut std::collections::HashSet<&'static str>) {
        assert!(seen.insert(spec.name), "duplicate command {}", spec.name);
        assert_eq!(
            spec.name,
            spec.name.to_ascii_lowercase(),
            "{} not lower-case",
            spec.name
        );
        assert!(spec.arity != 0, "{} has arity 0", spec.name);
        assert!(
            !(spec.has(flags::WRITE) && spec.has(flags::READONLY)),
            "{} is both write and readonly",
            spec.name
        );
        assert!(
            spec.shard.is_some() || spec.coord.is_some() || !spec.subcommands.is_empty(),
            "{} has no handler",
            spec.name
        );
        if spec.first_key > 0 && spec.keys.is_none() {
            assert!(spec.step >= 1, "{} has keys but no step", spec.name);
            let min_argc = spec.arity.unsigned_abs() as i32;
            assert!(
                spec.first_key < min_argc.max(2),
                "{} first key beyond arity",
                spec.name
            );
            if spec.last_key > 0 {
                assert!(
                    spec.last_key >= spec.first_key,
                    "{} last < first",
                    spec.name
                );
            }
        }
        for sub in spec.subcommands {
            assert!(
                sub.name.starts_with(&format!("{}|", spec.name)),
                "{} sub name",
                sub.name
            );
            check(sub, seen);
        }
    }

    #[test]
    fn a_command_is_found_as_the_table_finds_it() {
        let names: [&[u8]; 9] = [
            b"INCR",
            b"INCR",
            b"incr",
            b"get",
            b"INCR",
            b"nosuchcommand",
            b"nosuchcommand",
            b"client",
            b"a-name-longer-than-what-is-kept",
        ];
        for name in names {
            let got = lookup(name).map(|s| s.name);
            assert_eq!(got, lookup_folded(name).map(|s| s.name), "{name:?}");
        }
        assert_eq!(lookup(b"Get").map(|s| s.name), Some("get"));
        assert!(lookup(b"").is_none());
    }

    #[test]
    fn table_invariants() {
        let mut seen = std::collections::HashSet::new();
        for spec in &table().all {
            check(spec, &mut seen);
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nosuchcommand").is_none());
    }

    #[test]
    fn unknown_text() {
        let buf = b"fooab".to_vec();
        let ranges = vec![(0, 3), (3, 4), (4, 5)];
        assert_eq!(
            unknown_command_error(Args::new(&buf, &ranges)),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        let buf = b"nosuchx\0y".to_vec();
        let ranges = vec![(0, 6), (6, 9)];
        assert_eq!(
            unknown_command_error(Args::new(&buf, &ranges)),
            "ERR unknown command 'nosuch', with args beginning with: 'x' "
        );
    }
}
