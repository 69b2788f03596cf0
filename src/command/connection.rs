//! Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET, CLIENT.

use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*};
use crate::protocol::{Args, Reply};
use crate::server::Conn;

/// `PING [message]`
fn ping(_ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    match a.len() {
        1 => r.simple("PONG"),
        2 => r.bulk(a.get(1)),
        _ => r.error("ERR wrong number of arguments for 'ping' command"),
    }
}

/// `ECHO message`
fn echo(_ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    r.bulk(a.get(1));
}

/// `QUIT`
fn quit(c: &mut Conn, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        c.reply().ok();
        c.close = true;
    })
}

/// `SELECT index`
fn select(c: &mut Conn, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let dbs = c.core.config.borrow().databases;
        match parse_i64(a.get(1)) {
            None => c.error(NOT_INT),
            Some(i) if i < 0 || i as usize >= dbs => c.error(DB_RANGE),
            Some(i) => {
                c.db = i as usize;
                c.reply().ok();
            }
        }
    })
}

/// Connection family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: FAST | SENTINEL,
        acl: &["fast", "connection"],
        group: "connection",
        summary: "Ping the server",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        shard: Some(ping),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: FAST,
        acl: &["fast", "connection"],
        group: "connection",
        summary: "Echo the given string",
        shard: Some(echo),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        acl: &["fast", "connection"],
        group: "connection",
        summary: "Close the connection",
        coord: Some(quit),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: LOADING | STALE | FAST,
        acl: &["fast", "connection"],
        group: "connection",
        summary: "Change the selected database for the current connection",
        coord: Some(select),
        ..CommandSpec::DEFAULT
    },
];
