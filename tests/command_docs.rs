//! The documentation data covers every Redis 7.0 command, not only those
//! coreshard implements (so commands added later are documented at once). This
//! renders each command's COMMAND DOCS entry and key specs straight from that
//! data and compares them with the reference server, in RESP2 and RESP3.
//! Subcommand lists are left out: they come from the command table, and Redis
//! lists them in hash order.

mod common;

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

fn check(resp3: bool) {
    let redis = RedisServer::start();
    let mut c = redis.raw();
    if resp3 {
        let _ = c.call(&["HELLO", "3"]);
    }
    // Every command and subcommand coreshard serves, minus those newer than the
    // reference Redis 7.0.
    let mut names: Vec<String> = Vec::new();
    for spec in &coreshard::command::table().all {
        names.push(spec.name.to_string());
        names.extend(spec.subcommands.iter().map(|s| s.name.to_string()));
    }
    names.retain(|n| !docs::NO_DOCS.contains(&n.as_str()));
    assert!(names.len() > 100);
    let mut bad = Vec::new();
    for name in names {
        let name: &'static str = name.leak();
        let Some(d) = docs::lookup(name) else {
            bad.push(format!("{name}: no docs data"));
            continue;
        };
        let spec: &'static CommandSpec = Box::leak(Box::new(CommandSpec {
            name,
            ..CommandSpec::DEFAULT
        }));
        // COMMAND DOCS: the value of the one-entry map.
        let want = match c.call(&["COMMAND", "DOCS", name]) {
            Resp::Map(mut kv) => kv.pop().map(|(_, v)| v),
            Resp::Array(mut items) => items.pop(),
            _ => None,
        }
        .map(without_subcommands);
        let mut out = Vec::new();
        reply_command_docs(&mut Reply::new(&mut out, resp3), spec);
        if want.as_ref() != Some(&parse(&out)) {
            bad.push(format!("{name}: COMMAND DOCS differs"));
        }
        // COMMAND INFO element 9: the key specs.
        let info = c.call(&["COMMAND", "INFO", name]);
        let want = info.items().first().map(|e| e.items()[8].clone());
        let mut out = Vec::new();
        reply_key_specs_of(&mut Reply::new(&mut out, resp3), d);
        if want.as_ref() != Some(&parse(&out)) {
            bad.push(format!("{name}: key specs differ"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn docs_data_matches_redis_resp2() {
    check(false);
}

#[test]
fn docs_data_matches_redis_resp3() {
    check(true);
}
