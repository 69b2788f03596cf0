//! Generic key commands: DEL, EXISTS and the rest of the keyspace family.

use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*, keyflags};
use crate::protocol::{Args, Reply};
use crate::server::Conn;

/// Shard side of DEL/UNLINK when all keys are on one shard.
fn del(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let now = ctx.now;
    let db = ctx.db();
    let n = a.iter().skip(1).filter(|k| db.delete(k, now)).count();
    r.int(n as i64);
}

/// Shard side of EXISTS (a key named twice counts twice).
fn exists(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let now = ctx.now;
    let db = ctx.db();
    let n = a.iter().skip(1).filter(|k| db.contains(k, now)).count();
    r.int(n as i64);
}

/// Runs a per-key counting command across shards and replies with the sum.
fn count_across<'a>(
    c: &'a mut Conn,
    a: OwnedArgs,
    f: fn(&mut Ctx<'_>, &[u8]) -> bool,
) -> LocalBoxFuture<'a> {
    Box::pin(async move {
        let groups = c.group_by_shard(&a, 1..a.len());
        let futs = groups.into_iter().map(|(shard, idx)| {
            let keys: Vec<Vec<u8>> = idx.iter().map(|&i| a.get(i).to_vec()).collect();
            c.on_shard(shard, move |ctx| keys.iter().filter(|k| f(ctx, k)).count())
        });
        let total: usize = futures::future::join_all(futs).await.into_iter().sum();
        c.reply().int(total as i64);
    })
}

fn del_coord(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    count_across(c, a, |ctx, k| {
        let now = ctx.now;
        ctx.db().delete(k, now)
    })
}

fn exists_coord(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    count_across(c, a, |ctx, k| {
        let now = ctx.now;
        ctx.db().contains(k, now)
    })
}

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

/// Keyspace family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: WRITE,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::RM | keyflags::DELETE,
        acl: &["keyspace", "write", "slow"],
        summary: "Delete a key",
        complexity: "O(N) where N is the number of keys that will be removed.",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        shard: Some(del),
        coord: Some(del_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: READONLY | FAST,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::RO,
        acl: &["keyspace", "read", "fast"],
        summary: "Determine if a key exists",
        since: "1.0.0",
        complexity: "O(N) where N is the number of keys to check.",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        shard: Some(exists),
        coord: Some(exists_coord),
        ..CommandSpec::DEFAULT
    },
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
