//! Per-command documentation for COMMAND DOCS and COMMAND INFO: argument trees,
//! history, doc flags and key specs.
//!
//! ```text
//!  docs/data.txt (generated, one record a line, every Redis 7.0 command)
//!      └─ parsed once ─► lookup("config|get") ─► &Docs { args: [Arg { .., args: [..] }],
//!                                                      history, key_specs, tips }
//!  introspection.rs renders them; commands without an entry fall back to the
//!  command table's text and the single key spec derived from first/last/step.
//! ```
//!
//! `tools/gen_docs.py` regenerates `docs/data.txt` from the reference server; the
//! record syntax is described at the top of that file.

/// The generated records.
const DATA: &str = include_str!("docs/data.txt");

use std::collections::HashMap;
use std::sync::OnceLock;

/// One argument of a command (Redis's `redisCommandArg`).
#[derive(Debug, Clone)]
pub struct Arg {
    /// Argument name.
    pub name: &'static str,
    /// Type: key, string, integer, double, pattern, unix-time, pure-token, oneof, block.
    pub kind: &'static str,
    /// Display text, empty for none.
    pub display_text: &'static str,
    /// Index of the key spec for `key` arguments, -1 otherwise.
    pub key_spec_index: i32,
    /// Token preceding the argument (it may be the empty string).
    pub token: Option<&'static str>,
    /// Summary, empty for none.
    pub summary: &'static str,
    /// Version that added the argument, empty for none.
    pub since: &'static str,
    /// Version that deprecated the argument, empty for none.
    pub deprecated_since: &'static str,
    /// Flags: optional, multiple, multiple_token (in Redis's order).
    pub flags: Vec<&'static str>,
    /// Nested arguments of `oneof` and `block`.
    pub args: Vec<Arg>,
}

/// An [`Arg`] with everything empty, for struct update syntax.
pub const ARG: Arg = Arg {
    name: "",
    kind: "",
    display_text: "",
    key_spec_index: -1,
    token: None,
    summary: "",
    since: "",
    deprecated_since: "",
    flags: Vec::new(),
    args: Vec::new(),
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
    pub tips: Vec<&'static str>,
    /// Doc flags (`deprecated`, `syscmd`).
    pub doc_flags: Vec<&'static str>,
    /// Version that deprecated the command, empty for none.
    pub deprecated_since: &'static str,
    /// Replacement text, empty for none.
    pub replaced_by: &'static str,
    /// History entries: (version, change).
    pub history: Vec<(&'static str, &'static str)>,
    /// Argument tree.
    pub args: Vec<Arg>,
    /// Key specs, in Redis's order (replaces the derived spec).
    pub key_specs: Vec<KeySpec>,
}

/// A [`Docs`] with everything empty, for struct update syntax.
pub const DOCS: Docs = Docs {
    name: "",
    summary: "",
    since: "",
    group: "",
    complexity: "",
    tips: Vec::new(),
    doc_flags: Vec::new(),
    deprecated_since: "",
    replaced_by: "",
    history: Vec::new(),
    args: Vec::new(),
    key_specs: Vec::new(),
};

/// The empty entry, for commands without docs data.
pub static EMPTY: Docs = DOCS;

/// Commands of the table that deliberately have no docs entry: they are not
/// part of Redis 7.0 (added in later versions), so the reference has no data.
pub const NO_DOCS: &[&str] = &["client|no-touch", "client|setinfo"];

/// All parsed records and an index by name.
struct Table {
    docs: Vec<Docs>,
    by_name: HashMap<&'static str, usize>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        // The data is compiled in and checked by the unit tests.
        let docs = parse(DATA).unwrap_or_else(|e| panic!("docs/data.txt: {e}"));
        let by_name = docs.iter().enumerate().map(|(i, d)| (d.name, i)).collect();
        Table { docs, by_name }
    })
}

/// Docs of a command by full lower-case name.
pub fn lookup(name: &str) -> Option<&'static Docs> {
    let t = table();
    t.by_name.get(name).map(|&i| &t.docs[i])
}

fn opt_int(s: &str, what: &str) -> Result<i64, String> {
    s.parse().map_err(|_| format!("bad {what} {s:?}"))
}

fn key_flag_bits(names: &str) -> Result<u32, String> {
    let mut bits = 0;
    for n in names.split(' ').filter(|n| !n.is_empty()) {
        let (b, _) = super::keyflags::NAMES
            .iter()
            .find(|(_, name)| *name == n)
            .ok_or_else(|| format!("unknown key flag {n:?}"))?;
        bits |= b;
    }
    Ok(bits)
}

fn parse_begin(s: &'static str) -> Result<Begin, String> {
    let p: Vec<&'static str> = s.split(' ').collect();
    Ok(match p.as_slice() {
        ["index", i] => Begin::Index(opt_int(i, "index")?),
        ["keyword", kw, from] => Begin::Keyword(kw, opt_int(from, "startfrom")?),
        ["unknown"] => Begin::Unknown,
        _ => return Err(format!("bad begin_search {s:?}")),
    })
}

fn parse_find(s: &str) -> Result<Find, String> {
    let p: Vec<&str> = s.split(' ').collect();
    let n = |i: usize| opt_int(p.get(i).copied().unwrap_or(""), "find_keys field");
    Ok(match p.first().copied() {
        Some("range") if p.len() == 4 => Find::Range(n(1)?, n(2)?, n(3)?),
        Some("keynum") if p.len() == 4 => Find::Keynum(n(1)?, n(2)?, n(3)?),
        Some("unknown") if p.len() == 1 => Find::Unknown,
        _ => return Err(format!("bad find_keys {s:?}")),
    })
}

/// Builds the argument tree from (depth, arg) records in order.
fn build_args(items: &[(usize, Arg)], i: &mut usize, depth: usize) -> Vec<Arg> {
    let mut out = Vec::new();
    while *i < items.len() && items[*i].0 == depth {
        let mut a = items[*i].1.clone();
        *i += 1;
        a.args = build_args(items, i, depth + 1);
        out.push(a);
    }
    out
}

/// Parses the records of `docs/data.txt`.
fn parse(text: &'static str) -> Result<Vec<Docs>, String> {
    let mut out: Vec<Docs> = Vec::new();
    let mut pending: Vec<(usize, Arg)> = Vec::new();
    let finish = |out: &mut Vec<Docs>, pending: &mut Vec<(usize, Arg)>| -> Result<(), String> {
        if let Some(d) = out.last_mut() {
            let mut i = 0;
            d.args = build_args(pending, &mut i, 0);
            if i != pending.len() {
                return Err(format!("{}: bad argument nesting", d.name));
            }
        }
        pending.clear();
        Ok(())
    };
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&'static str> = line.split('\t').collect();
        let err = |m: String| format!("line {}: {m}", n + 1);
        if f[0] == "C" {
            if f.len() != 8 {
                return Err(err(format!("bad record {line:?}")));
            }
            finish(&mut out, &mut pending).map_err(err)?;
            out.push(Docs {
                name: f[1],
                summary: f[2],
                since: f[3],
                group: f[4],
                complexity: f[5],
                deprecated_since: f[6],
                replaced_by: f[7],
                ..DOCS
            });
            continue;
        }
        let Some(d) = out.last_mut() else {
            return Err(err("record before the first command".into()));
        };
        match (f[0], f.len()) {
            ("T", 2) => d.tips.push(f[1]),
            ("F", 2) => d.doc_flags.push(f[1]),
            ("H", 3) => d.history.push((f[1], f[2])),
            ("K", 5) => {
                let ks = KeySpec {
                    flags: key_flag_bits(f[1]).map_err(err)?,
                    begin: parse_begin(f[2]).map_err(err)?,
                    find: parse_find(f[3]).map_err(err)?,
                    notes: f[4],
                };
                d.key_specs.push(ks);
            }
            ("A", 11) => {
                let depth = opt_int(f[1], "depth").map_err(err)? as usize;
                let key_spec_index = if f[5].is_empty() {
                    -1
                } else {
                    opt_int(f[5], "key_spec_index").map_err(err)? as i32
                };
                let flags = f[10].split(',').filter(|s| !s.is_empty()).collect();
                pending.push((
                    depth,
                    Arg {
                        name: f[2],
                        kind: f[3],
                        display_text: f[4],
                        key_spec_index,
                        token: match f[6] {
                            "" => None,
                            "\"\"" => Some(""),
                            t => Some(t),
                        },
                        summary: f[7],
                        since: f[8],
                        deprecated_since: f[9],
                        flags,
                        args: Vec::new(),
                    },
                ));
            }
            _ => return Err(err(format!("bad record {line:?}"))),
        }
    }
    finish(&mut out, &mut pending)?;
    Ok(out)
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
    fn data_parses_with_unique_names() {
        let docs = parse(DATA).unwrap();
        assert!(docs.len() > 100, "only {} commands", docs.len());
        let mut seen = std::collections::HashSet::new();
        for d in &docs {
            assert!(seen.insert(d.name), "duplicate docs entry {}", d.name);
        }
        let set = lookup("set").unwrap();
        assert_eq!(set.history.len(), 4);
        assert_eq!(set.args[2].name, "condition");
        assert_eq!(set.args[2].args.len(), 2);
        assert_eq!(set.args[2].flags, vec!["optional"]);
    }

    #[test]
    fn parse_errors() {
        let head = "C\tx\ts\t1.0.0\tgeneric\tO(1)\t\t\n";
        assert!(parse("A\t0\tkey\tkey\t\t0\t\t\t\t\t").is_err());
        assert!(parse(&*format!("{head}K\tRW bogus\tindex 1\trange 0 1 0\t").leak()).is_err());
        assert!(parse(&*format!("{head}A\t1\tkey\tkey\t\t0\t\t\t\t\t").leak()).is_err());
        assert!(parse(&*format!("{head}Z\tx").leak()).is_err());
        let d = parse(&*format!("{head}K\tRO\tkeyword KEYS -2\tkeynum 0 1 1\tn").leak()).unwrap();
        assert_eq!(d[0].key_specs[0].begin, Begin::Keyword("KEYS", -2));
        assert_eq!(d[0].key_specs[0].find, Find::Keynum(0, 1, 1));
        assert_eq!(d[0].key_specs[0].notes, "n");
    }

    fn check_args(cmd: &str, args: &[Arg], nspecs: usize) {
        for a in args {
            let nested = a.kind == "oneof" || a.kind == "block";
            assert_eq!(nested, !a.args.is_empty(), "{cmd}: {}", a.name);
            if a.kind == "key" || a.key_spec_index >= 0 {
                assert!(
                    (0..nspecs as i32).contains(&a.key_spec_index),
                    "{cmd}: key {} has no spec",
                    a.name
                );
            }
            check_args(cmd, &a.args, nspecs);
        }
    }

    #[test]
    fn key_args_point_at_specs() {
        for d in &table().docs {
            check_args(d.name, &d.args, d.key_specs.len());
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
