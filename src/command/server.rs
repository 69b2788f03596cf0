//! Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB, FLUSHALL, TIME and friends.

use super::{CommandSpec, LocalBoxFuture, OwnedArgs, flags::*};
use crate::server::Conn;

/// `DBSIZE`
fn dbsize(c: &mut Conn, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n: usize = c
            .on_all_shards(|ctx| ctx.shard.db_opt(ctx.db).map(|d| d.len()).unwrap_or(0))
            .await
            .into_iter()
            .sum();
        c.reply().int(n as i64);
    })
}

/// `FLUSHALL [ASYNC|SYNC]`
fn flushall(c: &mut Conn, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        c.on_all_shards(|ctx| ctx.shard.flush_all()).await;
        c.reply().ok();
    })
}

/// Server family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: READONLY | FAST,
        acl: &["keyspace", "read", "fast"],
        group: "server",
        summary: "Return the number of keys in the selected database",
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        coord: Some(dbsize),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: WRITE,
        acl: &["keyspace", "write", "slow", "dangerous"],
        group: "server",
        summary: "Remove all keys from all databases",
        complexity: "O(N) where N is the total number of keys in all databases",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        coord: Some(flushall),
        ..CommandSpec::DEFAULT
    },
];
