//! The documentation data covers every Redis 7.0 command, not only those
//! coreshard implements (so commands added later are documented at once). This
//! renders each command's COMMAND DOCS entry and key specs straight from that
//! data and compares them with the reference server, in RESP2 and RESP3.
//! Subcommand lists are left out: they come from the command table, and Redis
//! lists them in hash order.
//!
//! The reference replies are stored in `tests/cases/docs_data_resp2.redis` and
//! `docs_data_resp3.redis` (format in `tests/common/reference.rs`): for each
//! command, its COMMAND DOCS entry without `subcommands` and the key specs
//! (element 9) of its COMMAND INFO. They are re-checked against a live
//! redis-server when one is installed, and regenerated with
//! `COREDIFF_RECORD=1 cargo test --release --test command_docs`.

mod common;

use common::reference::{Item, Reference, compare_replies};
use common::*;
use coreshard::command::introspection::{reply_command_docs, reply_key_specs_of};
use coreshard::command::{CommandSpec, docs};
use coreshard::protocol::Reply;

/// Drops the `subcommands` entry of a docs map (RESP3 map or RESP2 flat array).
fn without_subcommands(r: Resp) -> Resp {
    let is_sub = |k: &Resp| matches!(k, Resp::Bulk(b) if b == b"subcommands");
    match r {
        Resp::Map(kv) => Resp::Map(kv.into_iter().filter(|(k, _)| !is_sub(k)).collect()),
        Resp::Array(items) => {
            let mut out = Vec::new();
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                if !is_sub(&k) {
                    out.push(k);
                    out.push(v);
                }
            }
            Resp::Array(out)
        }
        other => other,
    }
}

fn parse(bytes: &[u8]) -> Resp {
    let mut cur = std::io::Cursor::new(bytes);
    read_resp(&mut cur, &mut Vec::new()).expect("our reply parses")
}

fn encoded(r: &Resp) -> Vec<u8> {
    let mut out = Vec::new();
    encode(r, &mut out);
    out
}

/// Stands for a missing entry in Redis's reply.
const MISSING: &[u8] = b"<missing>";

/// Every command and subcommand coreshard serves, minus those newer than the
/// reference Redis 7.0.
fn names() -> Vec<&'static str> {
    let mut names: Vec<String> = Vec::new();
    for spec in &coreshard::command::table().all {
        names.push(spec.name.to_string());
        names.extend(spec.subcommands.iter().map(|s| s.name.to_string()));
    }
    names.retain(|n| !docs::NO_DOCS.contains(&n.as_str()));
    assert!(names.len() > 100);
    names.into_iter().map(|n| &*n.leak()).collect()
}

/// Two checked items per command: its docs entry and its key specs.
fn items(names: &[&str]) -> Vec<Item> {
    names
        .iter()
        .flat_map(|name| {
            [
                Item {
                    label: format!("{name} docs"),
                    command: format!("COMMAND DOCS {name}"),
                },
                Item {
                    label: format!("{name} key specs"),
                    command: format!("COMMAND INFO {name}"),
                },
            ]
        })
        .collect()
}

/// The reference server's replies, in the compared form (see the module doc).
fn redis_replies(resp3: bool, names: &[&str]) -> Vec<Vec<u8>> {
    let redis = RedisServer::start();
    let mut c = redis.raw();
    if resp3 {
        let _ = c.call(&["HELLO", "3"]);
    }
    let mut out = Vec::new();
    for name in names {
        // COMMAND DOCS: the value of the one-entry map.
        let docs = match c.call(&["COMMAND", "DOCS", name]) {
            Resp::Map(mut kv) => kv.pop().map(|(_, v)| v),
            Resp::Array(mut items) => items.pop(),
            _ => None,
        }
        .map(without_subcommands);
        out.push(docs.as_ref().map_or(MISSING.to_vec(), encoded));
        // COMMAND INFO element 9: the key specs.
        let info = c.call(&["COMMAND", "INFO", name]);
        let specs = info.items().first().map(|e| e.items()[8].clone());
        out.push(specs.as_ref().map_or(MISSING.to_vec(), encoded));
    }
    out
}

/// coreshard's docs data rendered the same way.
fn our_replies(resp3: bool, names: &[&'static str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for &name in names {
        let Some(d) = docs::lookup(name) else {
            out.push(b"<no docs data>".to_vec());
            out.push(b"<no docs data>".to_vec());
            continue;
        };
        let spec: &'static CommandSpec = Box::leak(Box::new(CommandSpec {
            name,
            ..CommandSpec::DEFAULT
        }));
        let mut docs = Vec::new();
        reply_command_docs(&mut Reply::new(&mut docs, resp3), spec);
        out.push(encoded(&parse(&docs)));
        let mut specs = Vec::new();
        reply_key_specs_of(&mut Reply::new(&mut specs, resp3), d);
        out.push(encoded(&parse(&specs)));
    }
    out
}

fn check(resp3: bool) {
    let names = names();
    let items = items(&names);
    let (file, proto) = if resp3 {
        ("docs_data_resp3", "RESP3")
    } else {
        ("docs_data_resp2", "RESP2")
    };
    let about = [
        format!("Replies of the reference redis-server ({proto}) for every command coreshard"),
        "serves: COMMAND DOCS's entry without 'subcommands', then the key specs".into(),
        "(element 9) of COMMAND INFO; both re-encoded canonically.".into(),
    ];
    let about: Vec<&str> = about.iter().map(String::as_str).collect();
    let reference = Reference {
        name: file,
        about: &about,
        record_with: "COREDIFF_RECORD=1 cargo test --release --test command_docs",
    };
    let want = reference.expected(&items, || redis_replies(resp3, &names));
    let got = our_replies(resp3, &names);
    if let Err(report) = compare_replies(&items, "redis", &want, "coreshard", &got) {
        panic!("docs data ({proto}; redis = replies stored in tests/cases/{file}.redis):{report}");
    }
}

#[test]
fn docs_data_matches_redis_resp2() {
    check(false);
}

#[test]
fn docs_data_matches_redis_resp3() {
    check(true);
}
