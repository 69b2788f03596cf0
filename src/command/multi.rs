//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (the logic is in
//! `session::multi`, next to the session state it keeps).

use super::flags::*;
use super::{CommandSpec, LocalBoxFuture, OwnedArgs};
use crate::command::session::Session;

fn multi(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { c.begin_multi() })
}

fn exec(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(c.exec())
}

fn discard(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(c.discard())
}

fn watch(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let keys = (1..a.len()).map(|i| a.get(i).to_vec()).collect();
        c.watch(keys).await
    })
}

fn unwatch(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        c.unwatch_all().await;
        c.reply().ok();
    })
}

/// Command table entries.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "multi",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl: &["fast", "transaction"],
        group: "transactions",
        summary: "Mark the start of a transaction block",
        since: "1.2.0",
        coord: Some(multi),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "exec",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
        acl: &["slow", "transaction"],
        group: "transactions",
        summary: "Execute all commands issued after MULTI",
        since: "1.2.0",
        complexity: "Depends on commands in the transaction",
        coord: Some(exec),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "discard",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl: &["fast", "transaction"],
        group: "transactions",
        summary: "Discard all commands issued after MULTI",
        since: "2.0.0",
        complexity: "O(N), when N is the number of queued commands",
        coord: Some(discard),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "watch",
        arity: -2,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: super::keyflags::RO,
        acl: &["fast", "transaction"],
        group: "transactions",
        summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
        since: "2.2.0",
        complexity: "O(1) for every key.",
        coord: Some(watch),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unwatch",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl: &["fast", "transaction"],
        group: "transactions",
        summary: "Forget about all watched keys",
        since: "2.2.0",
        coord: Some(unwatch),
        ..CommandSpec::DEFAULT
    },
];
