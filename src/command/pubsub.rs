//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! PUBLISH, SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH and PUBSUB.
//!
//! ```text
//!  (P|S)(UN)SUBSCRIBE ─► session::pubsub: the client's set, this core's table,
//!                        every core's view ─► confirmations (pushes)
//!  (S)PUBLISH          ─► receivers from this core's view ─► one post per core
//!  PUBSUB ...          ─► read from this core's view (no hop)
//! ```
//!
//! Shard channels behave as in a Redis server with cluster mode off: one node
//! owns every slot, so SSUBSCRIBE accepts channels of any slot together.
//! Delivery, counts and ordering are described in [`crate::command::session::pubsub`].

use super::{CommandSpec, LocalBoxFuture, OwnedArgs, flags::*, keyflags};
use crate::command::session::Session;
use crate::command::session::SessionCore;
use crate::command::session::pubsub::{self, Kind};
use crate::protocol::Args;

/// True for the commands a RESP2 connection may run while subscribed.
pub fn allowed_when_subscribed(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// `SUBSCRIBE channel [channel ...]`
fn subscribe(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { pubsub::subscribe(c, Kind::Channel, &a).await })
}

/// `UNSUBSCRIBE [channel [channel ...]]`
fn unsubscribe(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { pubsub::unsubscribe(c, Kind::Channel, &a).await })
}

/// `PSUBSCRIBE pattern [pattern ...]`
fn psubscribe(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { pubsub::subscribe(c, Kind::Pattern, &a).await })
}

/// `PUNSUBSCRIBE [pattern [pattern ...]]`
fn punsubscribe(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { pubsub::unsubscribe(c, Kind::Pattern, &a).await })
}

/// `SSUBSCRIBE shardchannel [shardchannel ...]`
fn ssubscribe(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        // Inside EXEC a client must get one reply per command; Redis makes
        // an exception for SUBSCRIBE and PSUBSCRIBE only.
        if c.deny_blocking {
            return c.error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        }
        pubsub::subscribe(c, Kind::Shard, &a).await
    })
}

/// `SUNSUBSCRIBE [shardchannel [shardchannel ...]]`
fn sunsubscribe(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { pubsub::unsubscribe(c, Kind::Shard, &a).await })
}

/// `PUBLISH channel message`
fn publish_now(c: &mut Session, a: Args<'_>) {
    let n = pubsub::publish(c, Kind::Channel, a.get(1), a.get(2));
    c.reply().int(n as i64);
}

/// `SPUBLISH shardchannel message`
fn spublish_now(c: &mut Session, a: Args<'_>) {
    let n = pubsub::publish(c, Kind::Shard, a.get(1), a.get(2));
    c.reply().int(n as i64);
}

/// PUBLISH after the pipeline's earlier commands, or with nothing behind
/// it: its receivers counted where they are (see [`CommandSpec::conn`]).
fn publish(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n = pubsub::publish_counted(c, Kind::Channel, a.get(1), a.get(2)).await;
        c.reply().int(n as i64);
    })
}

/// SPUBLISH, as PUBLISH.
fn spublish(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n = pubsub::publish_counted(c, Kind::Shard, a.get(1), a.get(2)).await;
        c.reply().int(n as i64);
    })
}

/// Redis's error for a PUBSUB subcommand given the wrong number of arguments.
fn subcommand_syntax(c: &mut Session, a: &OwnedArgs) {
    let msg = format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&a.get(1)[..a.get(1).len().min(128)]),
        String::from_utf8_lossy(a.get(0)).to_ascii_uppercase()
    );
    c.error(&super::sanitize(&msg));
}

/// `PUBSUB CHANNELS [pattern]` and `PUBSUB SHARDCHANNELS [pattern]`
fn list_channels(c: &mut Session, a: &OwnedArgs, kind: Kind) {
    if a.len() > 3 {
        return subcommand_syntax(c, a);
    }
    let pattern = (a.len() == 3).then(|| a.get(2));
    let names = c.core.pubsub().borrow().active(kind, pattern);
    let mut r = c.reply();
    r.array(names.len());
    for n in &names {
        r.bulk(n);
    }
}

/// `PUBSUB NUMSUB [channel ...]` and `PUBSUB SHARDNUMSUB [shardchannel ...]`
fn numsub(c: &mut Session, a: &OwnedArgs, kind: Kind) {
    let counts: Vec<u64> = {
        let ps = c.core.pubsub().borrow();
        (2..a.len()).map(|i| ps.numsub(kind, a.get(i))).collect()
    };
    let mut r = c.reply();
    r.array(counts.len() * 2);
    for (i, n) in (2..).zip(counts) {
        r.bulk(a.get(i));
        r.int(n as i64);
    }
}

fn pubsub_channels(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { list_channels(c, &a, Kind::Channel) })
}

fn pubsub_shardchannels(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { list_channels(c, &a, Kind::Shard) })
}

fn pubsub_numsub(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { numsub(c, &a, Kind::Channel) })
}

fn pubsub_shardnumsub(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { numsub(c, &a, Kind::Shard) })
}

/// `PUBSUB NUMPAT`: distinct patterns subscribed to anywhere.
fn pubsub_numpat(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n = c.core.pubsub().borrow().sizes().1;
        c.reply().int(n as i64);
    })
}

fn pubsub_help(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        super::server::reply_help(
            c,
            "PUBSUB",
            &[
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
            ],
        );
    })
}

const PUBSUB_SLOW: &[&str] = &["pubsub", "slow"];
const PUBSUB_FAST: &[&str] = &["pubsub", "fast"];
const SUBSCRIBING: u64 = PUBSUB | NOSCRIPT | LOADING | STALE;

const fn pubsub_sub(
    name: &'static str,
    arity: i32,
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    coord: super::CoordFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: PUBSUB | LOADING | STALE,
        acl: PUBSUB_SLOW,
        group: "pubsub",
        summary,
        since,
        complexity,
        coord: Some(coord),
        ..CommandSpec::DEFAULT
    }
}

const PUBSUB_SUBS: &[CommandSpec] = &[
    pubsub_sub(
        "pubsub|channels",
        -2,
        "List active channels",
        "2.8.0",
        "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        pubsub_channels,
    ),
    CommandSpec {
        flags: LOADING | STALE,
        acl: &["slow"],
        ..pubsub_sub(
            "pubsub|help",
            2,
            "Show helpful text about the different subcommands",
            "6.2.0",
            "O(1)",
            pubsub_help,
        )
    },
    pubsub_sub(
        "pubsub|numpat",
        2,
        "Get the count of unique patterns pattern subscriptions",
        "2.8.0",
        "O(1)",
        pubsub_numpat,
    ),
    pubsub_sub(
        "pubsub|numsub",
        -2,
        "Get the count of subscribers for channels",
        "2.8.0",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        pubsub_numsub,
    ),
    pubsub_sub(
        "pubsub|shardchannels",
        -2,
        "List active shard channels",
        "7.0.0",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        pubsub_shardchannels,
    ),
    pubsub_sub(
        "pubsub|shardnumsub",
        -2,
        "Get the count of subscribers for shard channels",
        "7.0.0",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        pubsub_shardnumsub,
    ),
];

/// Pub/Sub family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "subscribe",
        arity: -2,
        flags: SUBSCRIBING | SENTINEL,
        acl: PUBSUB_SLOW,
        group: "pubsub",
        summary: "Listen for messages published to the given channels",
        since: "2.0.0",
        complexity: "O(N) where N is the number of channels to subscribe to.",
        coord: Some(subscribe),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "unsubscribe",
        arity: -1,
        flags: SUBSCRIBING | SENTINEL,
        acl: PUBSUB_SLOW,
        group: "pubsub",
        summary: "Stop listening for messages posted to the given channels",
        since: "2.0.0",
        complexity: "O(N) where N is the number of clients already subscribed to a channel.",
        coord: Some(unsubscribe),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "psubscribe",
        arity: -2,
        flags: SUBSCRIBING | SENTINEL,
        acl: PUBSUB_SLOW,
        group: "pubsub",
        summary: "Listen for messages published to channels matching the given patterns",
        since: "2.0.0",
        complexity: "O(N) where N is the number of patterns the client is already subscribed to.",
        coord: Some(psubscribe),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "punsubscribe",
        arity: -1,
        flags: SUBSCRIBING | SENTINEL,
        acl: PUBSUB_SLOW,
        group: "pubsub",
        summary: "Stop listening for messages posted to channels matching the given patterns",
        since: "2.0.0",
        complexity: "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
        coord: Some(punsubscribe),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "publish",
        arity: 3,
        flags: PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE | SENTINEL,
        acl: PUBSUB_FAST,
        group: "pubsub",
        summary: "Post a message to a channel",
        since: "2.0.0",
        complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        coord: Some(publish),
        conn: Some(publish_now),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "pubsub",
        arity: -2,
        acl: &["slow"],
        group: "pubsub",
        summary: "A container for Pub/Sub commands",
        since: "2.8.0",
        complexity: "Depends on subcommand.",
        subcommands: PUBSUB_SUBS,
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "spublish",
        arity: 3,
        flags: PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        first_key: 1,
        last_key: 1,
        step: 1,
        key_flags: keyflags::NOT_KEY,
        acl: PUBSUB_FAST,
        group: "pubsub",
        summary: "Post a message to a shard channel",
        since: "7.0.0",
        complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        coord: Some(spublish),
        conn: Some(spublish_now),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "ssubscribe",
        arity: -2,
        flags: SUBSCRIBING,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::NOT_KEY,
        acl: PUBSUB_SLOW,
        group: "pubsub",
        summary: "Listen for messages published to the given shard channels",
        since: "7.0.0",
        complexity: "O(N) where N is the number of shard channels to subscribe to.",
        coord: Some(ssubscribe),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sunsubscribe",
        arity: -1,
        flags: SUBSCRIBING,
        first_key: 1,
        last_key: -1,
        step: 1,
        key_flags: keyflags::NOT_KEY,
        acl: PUBSUB_SLOW,
        group: "pubsub",
        summary: "Stop listening for messages posted to the given shard channels",
        since: "7.0.0",
        complexity: "O(N) where N is the number of clients already subscribed to a shard channel.",
        coord: Some(sunsubscribe),
        ..CommandSpec::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribed_context() {
        let ok = |n: &str| allowed_when_subscribed(crate::command::lookup(n.as_bytes()).unwrap());
        assert!(ok("ping") && ok("ssubscribe") && ok("punsubscribe") && ok("reset"));
        assert!(!ok("publish") && !ok("get") && !ok("pubsub"));
    }
}
