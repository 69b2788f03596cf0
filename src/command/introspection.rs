//! COMMAND and its subcommands: the command table as clients see it.
//!
//! ```text
//!  table().all ─► COMMAND / INFO  [name, arity, flags, first, last, step,
//!                                  acl, tips, key specs, subcommands]
//!              ─► DOCS            {name: {summary, since, group, complexity, doc_flags,
//!                                  deprecated_since, replaced_by, history, arguments,
//!                                  subcommands}}
//!              ─► GETKEYS         spec.key_indexes(args)
//! ```
//! Summary, since, group, complexity, tips, arguments, history and key specs come
//! from `docs.rs` (Redis 7.0's documentation data) when the command has an entry
//! there; otherwise from the command table, with one key spec derived from
//! first/last/step and `key_flags`. GETKEYSANDFLAGS reports each key's own spec flags.

use super::docs::{self, Arg, Begin, Find, KeySpec};
use super::util::*;
use super::{CommandSpec, LocalBoxFuture, OwnedArgs, flags, flags::*, keyflags, table};
use crate::command::session::Session;
use crate::config::glob_match;
use crate::protocol::Reply;

/// Flags not shown by COMMAND INFO (Redis hides `may_replicate` too).
const HIDDEN_FLAGS: u64 = SENTINEL | ONLY_SENTINEL | PROTECTED | MAY_REPLICATE;

fn command_flags(spec: &CommandSpec) -> Vec<&'static str> {
    let mut f = spec.flags & !HIDDEN_FLAGS;
    if spec.keys.is_some() {
        f |= MOVABLE_KEYS;
    }
    flags::NAMES
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn key_flag_names(kf: u32) -> Vec<&'static str> {
    keyflags::NAMES
        .iter()
        .filter(|(bit, _)| kf & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Writes a set of simple strings (flag names and the like).
fn simple_set<'s>(r: &mut Reply<'_>, items: impl ExactSizeIterator<Item = &'s str>) {
    r.set(items.len());
    for item in items {
        r.simple(item);
    }
}

/// Writes one explicit key spec (a map).
fn reply_key_spec(r: &mut Reply<'_>, ks: &KeySpec) {
    let notes = !ks.notes.is_empty();
    r.map(3 + notes as usize);
    if notes {
        r.bulk(b"notes");
        r.bulk(ks.notes.as_bytes());
    }
    r.bulk(b"flags");
    simple_set(r, key_flag_names(ks.flags).into_iter());
    r.bulk(b"begin_search");
    r.map(2);
    r.bulk(b"type");
    match ks.begin {
        Begin::Index(i) => {
            r.bulk(b"index");
            r.bulk(b"spec");
            r.map(1);
            r.bulk(b"index");
            r.int(i);
        }
        Begin::Keyword(kw, from) => {
            r.bulk(b"keyword");
            r.bulk(b"spec");
            r.map(2);
            r.bulk(b"keyword");
            r.bulk(kw.as_bytes());
            r.bulk(b"startfrom");
            r.int(from);
        }
        Begin::Unknown => {
            r.bulk(b"unknown");
            r.bulk(b"spec");
            r.map(0);
        }
    }
    r.bulk(b"find_keys");
    r.map(2);
    r.bulk(b"type");
    match ks.find {
        Find::Range(last, step, limit) => {
            r.bulk(b"range");
            r.bulk(b"spec");
            r.map(3);
            r.bulk(b"lastkey");
            r.int(last);
            r.bulk(b"keystep");
            r.int(step);
            r.bulk(b"limit");
            r.int(limit);
        }
        Find::Keynum(idx, first, step) => {
            r.bulk(b"keynum");
            r.bulk(b"spec");
            r.map(3);
            r.bulk(b"keynumidx");
            r.int(idx);
            r.bulk(b"firstkey");
            r.int(first);
            r.bulk(b"keystep");
            r.int(step);
        }
        Find::Unknown => {
            r.bulk(b"unknown");
            r.bulk(b"spec");
            r.map(0);
        }
    }
}

/// Writes the documented key specs of a command (a set of maps).
pub fn reply_key_specs_of(r: &mut Reply<'_>, d: &docs::Docs) {
    r.set(d.key_specs.len());
    for ks in &d.key_specs {
        reply_key_spec(r, ks);
    }
}

/// The single key spec the table's first/last/step describe, for a command
/// without docs data.
fn derived_key_spec(spec: &CommandSpec) -> KeySpec {
    let mut flags = spec.key_flags;
    if spec.keys.is_some() && spec.first_key > 0 {
        flags |= keyflags::INCOMPLETE;
    }
    let (begin, find) = if spec.first_key > 0 {
        let last = if spec.last_key >= 0 {
            (spec.last_key - spec.first_key) as i64
        } else {
            spec.last_key as i64
        };
        (
            Begin::Index(spec.first_key as i64),
            Find::Range(last, spec.step.max(1) as i64, 0),
        )
    } else {
        (Begin::Unknown, Find::Unknown)
    };
    KeySpec {
        flags,
        begin,
        find,
        notes: spec.key_notes,
    }
}

/// Writes a command's key specs (a set of maps): the documented ones when the
/// command has docs data, else the one derived from first/last/step.
fn reply_key_specs(r: &mut Reply<'_>, spec: &CommandSpec) {
    if let Some(d) = docs::lookup(spec.name) {
        reply_key_specs_of(r, d);
    } else if spec.first_key <= 0 && spec.keys.is_none() {
        r.set(0);
    } else {
        r.set(1);
        reply_key_spec(r, &derived_key_spec(spec));
    }
}

/// Writes one command's COMMAND INFO entry.
pub fn reply_command_info(r: &mut Reply<'_>, spec: &CommandSpec) {
    r.array(10);
    r.bulk(spec.name.as_bytes());
    r.int(spec.arity as i64);
    let f = command_flags(spec);
    simple_set(r, f.into_iter());
    r.int(spec.first_key as i64);
    r.int(spec.last_key as i64);
    r.int(spec.step as i64);
    r.set(spec.acl.len());
    for c in spec.acl {
        r.simple(&format!("@{c}"));
    }
    let tips = docs::lookup(spec.name).map_or(spec.tips, |d| &d.tips[..]);
    r.set(tips.len());
    for t in tips {
        r.bulk(t.as_bytes());
    }
    reply_key_specs(r, spec);
    if spec.subcommands.is_empty() {
        r.set(0);
    } else {
        r.array(spec.subcommands.len());
        for s in spec.subcommands {
            reply_command_info(r, s);
        }
    }
}

/// Writes an argument list (an array of maps), recursively.
fn reply_args(r: &mut Reply<'_>, args: &[Arg]) {
    r.array(args.len());
    for a in args {
        let strs = [
            (
                "display_text",
                Some(a.display_text).filter(|s| !s.is_empty()),
            ),
            ("token", a.token),
            ("summary", Some(a.summary).filter(|s| !s.is_empty())),
            ("since", Some(a.since).filter(|s| !s.is_empty())),
            (
                "deprecated_since",
                Some(a.deprecated_since).filter(|s| !s.is_empty()),
            ),
        ];
        let n = 2
            + strs.iter().filter(|(_, v)| v.is_some()).count()
            + (a.key_spec_index >= 0) as usize
            + !a.flags.is_empty() as usize
            + !a.args.is_empty() as usize;
        r.map(n);
        r.bulk(b"name");
        r.bulk(a.name.as_bytes());
        r.bulk(b"type");
        r.bulk(a.kind.as_bytes());
        for (i, (k, v)) in strs.iter().enumerate() {
            if i == 1 && a.key_spec_index >= 0 {
                r.bulk(b"key_spec_index");
                r.int(a.key_spec_index as i64);
            }
            if let Some(v) = v {
                r.bulk(k.as_bytes());
                r.bulk(v.as_bytes());
            }
        }
        if !a.flags.is_empty() {
            r.bulk(b"flags");
            simple_set(r, a.flags.iter().copied());
        }
        if !a.args.is_empty() {
            r.bulk(b"arguments");
            reply_args(r, &a.args);
        }
    }
}

/// Writes one command's COMMAND DOCS value (the map, without the name).
pub fn reply_command_docs(r: &mut Reply<'_>, spec: &CommandSpec) {
    let subs = !spec.subcommands.is_empty();
    let (d, summary, since, group, complexity) = match docs::lookup(spec.name) {
        Some(d) => (d, d.summary, d.since, d.group, d.complexity),
        None => (
            &docs::EMPTY,
            spec.summary,
            spec.since,
            spec.group,
            spec.complexity,
        ),
    };
    // Redis leaves out the summary, since and complexity a command lacks.
    let texts = [
        ("summary", summary),
        ("since", since),
        ("group", group),
        ("complexity", complexity),
    ];
    let n = texts
        .iter()
        .filter(|(k, v)| *k == "group" || !v.is_empty())
        .count()
        + subs as usize
        + !d.doc_flags.is_empty() as usize
        + !d.deprecated_since.is_empty() as usize
        + !d.replaced_by.is_empty() as usize
        + !d.history.is_empty() as usize
        + !d.args.is_empty() as usize;
    r.map(n);
    for (k, v) in texts {
        if k == "group" || !v.is_empty() {
            r.bulk(k.as_bytes());
            r.bulk(v.as_bytes());
        }
    }
    if !d.doc_flags.is_empty() {
        r.bulk(b"doc_flags");
        simple_set(r, d.doc_flags.iter().copied());
    }
    if !d.deprecated_since.is_empty() {
        r.bulk(b"deprecated_since");
        r.bulk(d.deprecated_since.as_bytes());
    }
    if !d.replaced_by.is_empty() {
        r.bulk(b"replaced_by");
        r.bulk(d.replaced_by.as_bytes());
    }
    if !d.history.is_empty() {
        r.bulk(b"history");
        r.set(d.history.len());
        for (v, t) in &d.history {
            r.array(2);
            r.bulk(v.as_bytes());
            r.bulk(t.as_bytes());
        }
    }
    if !d.args.is_empty() {
        r.bulk(b"arguments");
        reply_args(r, &d.args);
    }
    if subs {
        r.bulk(b"subcommands");
        r.map(spec.subcommands.len());
        for s in spec.subcommands {
            r.bulk(s.name.as_bytes());
            reply_command_docs(r, s);
        }
    }
}

/// Finds a command or `container sub` for COMMAND INFO/DOCS (`config|get` form too).
fn find_by_full_name(name: &[u8]) -> Option<&'static CommandSpec> {
    if let Some(p) = name.iter().position(|&b| b == b'|') {
        let c = super::lookup(&name[..p])?;
        return c.subcommand(&name[p + 1..]);
    }
    super::lookup(name)
}

/// `COMMAND`
fn command_all(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let all = &table().all;
        let mut r = c.reply();
        r.array(all.len());
        for s in all {
            reply_command_info(&mut r, s);
        }
    })
}

/// `COMMAND COUNT`
fn command_count(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n = table().all.len();
        c.reply().int(n as i64);
    })
}

/// `COMMAND INFO [command-name ...]`
fn command_info(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if a.len() == 2 {
            return command_all(c, a).await;
        }
        let mut r = c.reply();
        r.array(a.len() - 2);
        for i in 2..a.len() {
            match find_by_full_name(a.get(i)) {
                Some(s) => reply_command_info(&mut r, s),
                None => r.null(),
            }
        }
    })
}

/// `COMMAND DOCS [command-name ...]`
fn command_docs(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let specs: Vec<&'static CommandSpec> = if a.len() == 2 {
            table().all.clone()
        } else {
            (2..a.len())
                .filter_map(|i| find_by_full_name(a.get(i)))
                .collect()
        };
        let mut r = c.reply();
        r.map(specs.len());
        for s in specs {
            r.bulk(s.name.as_bytes());
            reply_command_docs(&mut r, s);
        }
    })
}

/// Resolves the command in `COMMAND GETKEYS cmd args...`; returns the spec and
/// the key argument indexes (relative to `cmd`), or the error text.
pub fn getkeys(a: &OwnedArgs) -> Result<(&'static CommandSpec, Vec<usize>), &'static str> {
    let sub = OwnedArgs::from_slices(&(2..a.len()).map(|i| a.get(i)).collect::<Vec<_>>());
    let Some(mut spec) = super::lookup(sub.get(0)) else {
        return Err("ERR Invalid command specified");
    };
    if !spec.subcommands.is_empty() && sub.len() >= 2 {
        match spec.subcommand(sub.get(1)) {
            Some(s) => spec = s,
            None => return Err("ERR Invalid command specified"),
        }
    }
    if !spec.arity_ok(sub.len()) {
        return Err("ERR Invalid number of arguments specified for command");
    }
    let mut keys = Vec::new();
    spec.key_indexes(sub.args(), &mut keys);
    if keys.is_empty() {
        return Err("ERR The command has no key arguments");
    }
    Ok((spec, keys))
}

/// `COMMAND GETKEYS command [arg ...]`
fn command_getkeys(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        match getkeys(&a) {
            Err(e) => c.error(e),
            Ok((_, keys)) => {
                let mut r = c.reply();
                r.array(keys.len());
                for k in keys {
                    r.bulk(a.get(k + 2));
                }
            }
        }
    })
}

/// `COMMAND GETKEYSANDFLAGS command [arg ...]`
fn command_getkeysandflags(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        match getkeys(&a) {
            Err(e) => c.error(e),
            Ok((spec, keys)) => {
                let argv: Vec<&[u8]> = (2..a.len()).map(|i| a.get(i)).collect();
                let mut r = c.reply();
                r.array(keys.len());
                for k in keys {
                    let kf = docs::key_flags_at(spec.name, &argv, k).unwrap_or(spec.key_flags);
                    let names = key_flag_names(kf);
                    r.array(2);
                    r.bulk(a.get(k + 2));
                    simple_set(&mut r, names.into_iter());
                }
            }
        }
    })
}

/// `COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]`
fn command_list(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        enum Filter {
            None,
            Module,
            Acl(Vec<u8>),
            Pattern(Vec<u8>),
        }
        let filter = match a.len() {
            2 => Filter::None,
            5 if eq(a.get(2), "filterby") => {
                let v = a.get(4).to_vec();
                if eq(a.get(3), "module") {
                    Filter::Module
                } else if eq(a.get(3), "aclcat") {
                    Filter::Acl(v)
                } else if eq(a.get(3), "pattern") {
                    Filter::Pattern(v)
                } else {
                    c.error(SYNTAX);
                    return;
                }
            }
            _ => {
                c.error(SYNTAX);
                return;
            }
        };
        let mut names: Vec<&'static str> = Vec::new();
        let mut visit = |s: &'static CommandSpec| {
            let keep = match &filter {
                Filter::None => true,
                Filter::Module => false,
                Filter::Acl(cat) => s.acl.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(cat)),
                Filter::Pattern(p) => glob_match(p, s.name.as_bytes(), true),
            };
            if keep {
                names.push(s.name);
            }
        };
        for s in &table().all {
            visit(s);
            for sub in s.subcommands {
                visit(sub);
            }
        }
        let mut r = c.reply();
        r.array(names.len());
        for n in names {
            r.bulk(n.as_bytes());
        }
    })
}

/// `COMMAND HELP`
fn command_help(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        super::server::reply_help(
            c,
            "COMMAND",
            &[
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
            ],
        );
    })
}

const fn sub(
    name: &'static str,
    arity: i32,
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    tips: &'static [&'static str],
    coord: super::CoordFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: LOADING | STALE,
        acl: &["slow", "connection"],
        group: "server",
        summary,
        since,
        complexity,
        tips,
        coord: Some(coord),
        ..CommandSpec::DEFAULT
    }
}

const ORDER: &[&str] = &["nondeterministic_output_order"];

const COMMAND_SUBS: &[CommandSpec] = &[
    sub(
        "command|count",
        2,
        "Get total number of Redis commands",
        "2.8.13",
        "O(1)",
        &[],
        command_count,
    ),
    sub(
        "command|docs",
        -2,
        "Get array of specific Redis command documentation",
        "7.0.0",
        "O(N) where N is the number of commands to look up",
        ORDER,
        command_docs,
    ),
    sub(
        "command|getkeys",
        -4,
        "Extract keys given a full Redis command",
        "2.8.13",
        "O(N) where N is the number of arguments to the command",
        &[],
        command_getkeys,
    ),
    sub(
        "command|getkeysandflags",
        -4,
        "Extract keys and access flags given a full Redis command",
        "7.0.0",
        "O(N) where N is the number of arguments to the command",
        &[],
        command_getkeysandflags,
    ),
    sub(
        "command|help",
        2,
        "Show helpful text about the different subcommands",
        "5.0.0",
        "O(1)",
        &[],
        command_help,
    ),
    sub(
        "command|info",
        -2,
        "Get array of specific Redis command details, or all when no argument is given.",
        "2.8.13",
        "O(N) where N is the number of commands to look up",
        ORDER,
        command_info,
    ),
    sub(
        "command|list",
        -2,
        "Get an array of Redis command names",
        "7.0.0",
        "O(N) where N is the total number of Redis commands",
        ORDER,
        command_list,
    ),
];

/// The COMMAND container (listed in the server family's table).
pub const COMMAND: CommandSpec = CommandSpec {
    name: "command",
    arity: -1,
    flags: LOADING | STALE,
    acl: &["slow", "connection"],
    group: "server",
    summary: "Get array of Redis command details",
    since: "2.8.13",
    complexity: "O(N) where N is the total number of Redis commands",
    tips: ORDER,
    coord: Some(command_all),
    subcommands: COMMAND_SUBS,
    ..CommandSpec::DEFAULT
};

/// Introspection family specs (COMMAND itself is registered via [`COMMAND`]).
pub static SPECS: &[CommandSpec] = &[];

#[cfg(test)]
mod tests {

    #[test]
    fn derived_key_spec_follows_first_last_step() {
        let all = CommandSpec {
            name: "x",
            first_key: 1,
            last_key: -1,
            step: 1,
            key_flags: keyflags::RO,
            ..CommandSpec::DEFAULT
        };
        let ks = derived_key_spec(&all);
        assert_eq!(ks.begin, Begin::Index(1));
        assert_eq!(ks.find, Find::Range(-1, 1, 0));
        assert_eq!(ks.flags, keyflags::RO);
        let pairs = CommandSpec {
            first_key: 1,
            last_key: 5,
            step: 2,
            ..all
        };
        assert_eq!(derived_key_spec(&pairs).find, Find::Range(4, 2, 0));
        let keyless = CommandSpec {
            first_key: 0,
            ..all
        };
        let ks = derived_key_spec(&keyless);
        assert_eq!((ks.begin, ks.find), (Begin::Unknown, Find::Unknown));
    }

    use super::*;

    fn info_bytes(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut r = Reply::new(&mut out, false);
        reply_command_info(&mut r, find_by_full_name(name.as_bytes()).unwrap());
        out
    }

    #[test]
    fn ping_info_matches_redis() {
        let b = info_bytes("ping");
        assert!(b.starts_with(b"*10\r\n$4\r\nping\r\n:-1\r\n*1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n"));
    }

    #[test]
    fn getkeys_errors() {
        let a = OwnedArgs::from_slices(&["command", "getkeys", "nosuch", "x"]);
        assert_eq!(getkeys(&a).err().unwrap(), "ERR Invalid command specified");
        let a = OwnedArgs::from_slices(&["command", "getkeys", "config", "get", "x"]);
        assert_eq!(
            getkeys(&a).err().unwrap(),
            "ERR The command has no key arguments"
        );
    }
}
