//! String commands: GET, SET and the rest of the string family.

use super::util::*;
use super::{CommandSpec, Ctx, flags::*, keyflags};
use crate::protocol::{Args, Reply};
use crate::storage::Value;

/// `GET key`
fn get(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let now = ctx.now;
    match ctx.db().get(a.get(1), now) {
        None => {
            crate::metrics::keyspace(false);
            r.null()
        }
        Some(e) => match e.value.as_str() {
            Some(s) => {
                crate::metrics::keyspace(true);
                r.bulk(s)
            }
            None => r.error(WRONGTYPE),
        },
    }
}

/// `SET key value` (options arrive with the full string family).
fn set(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    if a.len() != 3 {
        r.error(SYNTAX);
        return;
    }
    ctx.db().set(a.get(1), Value::string(a.get(2)));
    r.ok();
}

/// String family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: READONLY | FAST,
        first_key: 1,
        last_key: 1,
        step: 1,
        key_flags: keyflags::RO | keyflags::ACCESS,
        acl: &["read", "string", "fast"],
        group: "string",
        summary: "Get the value of a key",
        since: "1.0.0",
        shard: Some(get),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: WRITE | DENYOOM,
        first_key: 1,
        last_key: 1,
        step: 1,
        key_flags: keyflags::RW | keyflags::ACCESS | keyflags::UPDATE | keyflags::VARIABLE_FLAGS,
        acl: &["write", "string", "slow"],
        group: "string",
        summary: "Set the string value of a key",
        since: "1.0.0",
        shard: Some(set),
        ..CommandSpec::DEFAULT
    },
];
