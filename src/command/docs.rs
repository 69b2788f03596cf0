//! Per-command documentation for COMMAND DOCS and COMMAND INFO: argument trees,
//! history, doc flags and key specs.
//!
//! ```text
//!  data::TABLE (generated, keyed by full name "set", "config|get")
//!      └─ lookup(name) ─► &Docs { args: [Arg { .., args: [..] }], history, key_specs }
//!  introspection.rs renders them; commands without an entry fall back to the
//!  single key spec derived from CommandSpec first/last/step.
//! ```
//!
//! `tools/gen_docs.py` regenerates `docs/data.rs` from the reference server.

mod data;

use std::collections::HashMap;
use std::sync::OnceLock;

/// One argument of a command (Redis's `redisCommandArg`).
#[derive(Debug)]
pub struct Arg {
    /// Argument name.
    pub name: &'static str,
    /// Type: key, string, integer, double, pattern, unix-time, pure-token, oneof, block.
    pub kind: &'static str,
    /// Display text, empty for none.
    pub display_text: &'static str,
    /// Index of the key spec for `key` arguments, -1 otherwise.
    pub key_spec_index: i32,
    /// Token preceding the argument, empty for none.
    pub token: &'static str,
    /// Summary, empty for none.
    pub summary: &'static str,
    /// Version that added the argument, empty for none.
    pub since: &'static str,
    /// Version that deprecated the argument, empty for none.
    pub deprecated_since: &'static str,
    /// Flags: optional, multiple, multiple_token (in Redis's order).
    pub flags: &'static [&'static str],
    /// Nested arguments of `oneof` and `block`.
    pub args: &'static [Arg],
}

/// An [`Arg`] with everything empty, for struct update syntax.
pub const ARG: Arg = Arg {
    name: "",
    kind: "",
    display_text: "",
    key_spec_index: -1,
    token: "",
    summary: "",
    since: "",
    deprecated_since: "",
    flags: &[],
    args: &[],
};

/// Where a key spec starts looking for keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Begin {
    /// At a fixed argument index.
    Index(i64),
    /// After a keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword(&'static str, i64),
    /// Not describable.
    Unknown,
}

/// How a key spec finds its keys after the begin position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Find {
    /// `lastkey` (relative, negative from the end), `keystep`, `limit`.
    Range(i64, i64, i64),
    /// `keynumidx`, `firstkey`, `keystep` (relative to the begin position).
    Keynum(i64, i64, i64),
    /// Not describable.
    Unknown,
}

/// One key spec (COMMAND INFO element 9).
#[derive(Debug)]
pub struct KeySpec {
    /// [`super::keyflags`] bits.
    pub flags: u32,
    /// Begin search.
    pub begin: Begin,
    /// Find keys.
    pub find: Find,
    /// Notes, empty for none.
    pub notes: &'static str,
}

/// Documentation of one command or subcommand.
#[derive(Debug)]
pub struct Docs {
    /// Full lower-case name (`config|get`).
    pub name: &'static str,
    /// One-line summary (replaces the command table's).
    pub summary: &'static str,
    /// Version that introduced the command.
    pub since: &'static str,
    /// Command group.
    pub group: &'static str,
    /// Time complexity.
    pub complexity: &'static str,
    /// Command tips (COMMAND INFO element 8).
    pub tips: &'static [&'static str],
    /// Doc flags (`deprecated`, `syscmd`).
    pub doc_flags: &'static [&'static str],
    /// Version that deprecated the command, empty for none.
    pub deprecated_since: &'static str,
    /// Replacement text, empty for none.
    pub replaced_by: &'static str,
    /// History entries: (version, change).
    pub history: &'static [(&'static str, &'static str)],
    /// Argument tree.
    pub args: &'static [Arg],
    /// Key specs, in Redis's order (replaces the derived spec).
    pub key_specs: &'static [KeySpec],
}

/// A [`Docs`] with everything empty, for struct update syntax.
pub const DOCS: Docs = Docs {
    name: "",
    summary: "",
    since: "",
    group: "",
    complexity: "",
    tips: &[],
    doc_flags: &[],
    deprecated_since: "",
    replaced_by: "",
    history: &[],
    args: &[],
    key_specs: &[],
};

/// Commands of the table that deliberately have no docs entry: they are not
/// part of Redis 7.0 (added in later versions), so the reference has no data.
pub const NO_DOCS: &[&str] = &["client|no-touch", "client|setinfo"];

/// Docs of a command by full lower-case name.
pub fn lookup(name: &str) -> Option<&'static Docs> {
    static MAP: OnceLock<HashMap<&'static str, &'static Docs>> = OnceLock::new();
    MAP.get_or_init(|| data::TABLE.iter().map(|d| (d.name, d)).collect())
        .get(name)
        .copied()
}

/// Flags of the key at argument `pos` of `argv` (command name at 0) as
/// COMMAND GETKEYSANDFLAGS reports them: the flags of the key spec that selects
/// it, or for the commands whose spec has variable flags (SET, BITFIELD) the
/// flags their arguments imply. `None` when no docs entry covers the key.
pub fn key_flags_at(name: &str, argv: &[&[u8]], pos: usize) -> Option<u32> {
    use super::keyflags::*;
    let d = lookup(name)?;
    let eq = |a: &[u8], kw: &str| a.eq_ignore_ascii_case(kw.as_bytes());
    match name {
        "set" => Some(if argv.iter().skip(3).any(|a| eq(a, "get")) {
            RW | ACCESS | UPDATE
        } else {
            OW | UPDATE
        }),
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < argv.len() {
                let rem = argv.len() - i - 1;
                let a = argv[i];
                if eq(a, "get") && rem >= 2 {
                    i += 2;
                } else if (eq(a, "set") || eq(a, "incrby")) && rem >= 3 {
                    readonly = false;
                    break;
                } else if eq(a, "overflow") && rem >= 1 {
                    i += 1;
                } else {
                    readonly = false;
                    break;
                }
                i += 1;
            }
            Some(if readonly {
                RO | ACCESS
            } else {
                RW | ACCESS | UPDATE
            })
        }
        _ => d
            .key_specs
            .iter()
            .find(|ks| ks.positions(argv).is_some_and(|p| p.contains(&pos)))
            .map(|ks| ks.flags),
    }
}

impl KeySpec {
    /// Argument indexes this spec selects in `argv` (name at 0), following
    /// Redis's key-spec walk; `None` when the spec cannot be applied.
    pub fn positions(&self, argv: &[&[u8]]) -> Option<Vec<usize>> {
        let argc = argv.len() as i64;
        let first = match self.begin {
            Begin::Index(i) => i,
            Begin::Keyword(kw, from) => {
                let (mut i, end, dir) = if from > 0 {
                    (from, argc, 1)
                } else {
                    (argc + from, 0, -1)
                };
                let mut found = None;
                while i != end && i >= 1 && i < argc {
                    if argv[i as usize].eq_ignore_ascii_case(kw.as_bytes()) {
                        found = Some(i + 1);
                        break;
                    }
                    i += dir;
                }
                found?
            }
            Begin::Unknown => return None,
        };
        let (start, last, step) = match self.find {
            Find::Range(lastkey, step, limit) => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit <= 1 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (first, last, step)
            }
            Find::Keynum(idx, firstkey, step) => {
                let at = first + idx;
                if at >= argc {
                    return None;
                }
                let n: i64 = std::str::from_utf8(argv[at as usize]).ok()?.parse().ok()?;
                if n < 0 {
                    return None;
                }
                let s = first + firstkey;
                (s, s + (n - 1) * step, step)
            }
            Find::Unknown => return None,
        };
        if step < 1 || start < 1 || last >= argc || (last < start && last != start - step) {
            return None;
        }
        let mut out = Vec::new();
        let mut i = start;
        while i <= last {
            out.push(i as usize);
            i += step;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::keyflags;
    use super::*;

    fn all_names() -> Vec<&'static str> {
        let mut v = Vec::new();
        for s in &super::super::table().all {
            v.push(s.name);
            for sub in s.subcommands {
                v.push(sub.name);
            }
        }
        v
    }

    #[test]
    fn every_command_has_docs() {
        for name in all_names() {
            assert!(
                lookup(name).is_some() || NO_DOCS.contains(&name),
                "{name} has no docs data (run tools/gen_docs.py)"
            );
        }
    }

    #[test]
    fn table_names_unique_and_known() {
        let names = all_names();
        let mut seen = std::collections::HashSet::new();
        for d in data::TABLE {
            assert!(seen.insert(d.name), "duplicate docs entry {}", d.name);
            assert!(
                names.contains(&d.name),
                "docs for unknown command {}",
                d.name
            );
        }
    }

    fn check_args(cmd: &str, args: &[Arg], nspecs: usize) {
        for a in args {
            let nested = a.kind == "oneof" || a.kind == "block";
            assert_eq!(nested, !a.args.is_empty(), "{cmd}: {}", a.name);
            if a.kind == "key" {
                assert!(
                    (0..nspecs as i32).contains(&a.key_spec_index),
                    "{cmd}: key {} has no spec",
                    a.name
                );
            } else {
                assert_eq!(a.key_spec_index, -1, "{cmd}: {}", a.name);
            }
            check_args(cmd, a.args, nspecs);
        }
    }

    #[test]
    fn key_args_point_at_specs() {
        for d in data::TABLE {
            check_args(d.name, d.args, d.key_specs.len());
        }
    }

    #[test]
    fn spec_positions() {
        let rename = lookup("rename").unwrap();
        assert_eq!(rename.key_specs.len(), 2);
        let argv: Vec<&[u8]> = vec![b"rename", b"a", b"b"];
        assert_eq!(rename.key_specs[0].positions(&argv), Some(vec![1]));
        assert_eq!(rename.key_specs[1].positions(&argv), Some(vec![2]));
        assert_eq!(rename.key_specs[1].flags, keyflags::OW | keyflags::UPDATE);
        let mset = lookup("mset").unwrap();
        let argv: Vec<&[u8]> = vec![b"mset", b"a", b"1", b"b", b"2"];
        assert_eq!(mset.key_specs[0].positions(&argv), Some(vec![1, 3]));
        let kw = KeySpec {
            flags: 0,
            begin: Begin::Keyword("KEYS", -2),
            find: Find::Range(-1, 1, 0),
            notes: "",
        };
        let argv: Vec<&[u8]> = vec![b"migrate", b"h", b"p", b"", b"0", b"5", b"KEYS", b"x", b"y"];
        assert_eq!(kw.positions(&argv), Some(vec![7, 8]));
        let num = KeySpec {
            flags: 0,
            begin: Begin::Index(1),
            find: Find::Keynum(0, 1, 1),
            notes: "",
        };
        let argv: Vec<&[u8]> = vec![b"x", b"2", b"k1", b"k2", b"rest"];
        assert_eq!(num.positions(&argv), Some(vec![2, 3]));
        let argv: Vec<&[u8]> = vec![b"x", b"5", b"k1"];
        assert_eq!(num.positions(&argv), None);
    }

    #[test]
    fn variable_key_flags() {
        use keyflags::*;
        let argv: Vec<&[u8]> = vec![b"set", b"k", b"v", b"GeT"];
        assert_eq!(key_flags_at("set", &argv, 1), Some(RW | ACCESS | UPDATE));
        assert_eq!(key_flags_at("set", &argv[..3], 1), Some(OW | UPDATE));
        let argv: Vec<&[u8]> = vec![b"bitfield", b"k", b"get", b"u8", b"0"];
        assert_eq!(key_flags_at("bitfield", &argv, 1), Some(RO | ACCESS));
        let argv: Vec<&[u8]> = vec![
            b"bitfield",
            b"k",
            b"overflow",
            b"sat",
            b"incrby",
            b"u8",
            b"0",
            b"1",
        ];
        assert_eq!(
            key_flags_at("bitfield", &argv, 1),
            Some(RW | ACCESS | UPDATE)
        );
        let argv: Vec<&[u8]> = vec![b"bitop", b"and", b"d", b"a", b"b"];
        assert_eq!(key_flags_at("bitop", &argv, 2), Some(OW | UPDATE));
        assert_eq!(key_flags_at("bitop", &argv, 4), Some(RO | ACCESS));
    }
}
