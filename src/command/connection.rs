//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, HELLO, AUTH and CLIENT.
//!
//! ```text
//!  connection state (Session: db, resp3, reply mode, auth, no-touch)
//!  + registry entry (ClientHandle: name, lib, flags) on the client's core
//!  CLIENT LIST/KILL ─► broadcast to every core's registry
//! ```

use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*};
use crate::command::session::ReplyMode;
use crate::command::session::Session;
use crate::command::session::SessionCore;
use crate::protocol::{Args, Reply};

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
fn quit(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        c.reply().ok();
        c.close = true;
    })
}

/// `SELECT index`
fn select(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let dbs = c.core.config.borrow().databases;
        match parse_i64(a.get(1)) {
            None => c.error(NOT_INT),
            Some(i) if i < 0 || i as usize >= dbs => c.error(DB_RANGE),
            Some(i) => {
                c.db = i as usize;
                c.handle.info.borrow_mut().db = c.db;
                c.reply().ok();
            }
        }
    })
}

/// `MONITOR`
fn monitor(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { c.start_monitor() })
}

/// `RESET`
fn reset(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        c.multi = None;
        c.handle.info.borrow_mut().multi = -1;
        c.unwatch_all().await;
        crate::command::session::pubsub::forget(c).await;
        crate::command::session::tracking::disable(c).await;
        c.stop_monitor();
        c.db = 0;
        c.resp3 = false;
        c.reply_mode = ReplyMode::On;
        c.no_touch = false;
        c.authenticated = c.core.config.borrow().requirepass.is_empty();
        {
            let mut info = c.handle.info.borrow_mut();
            info.db = 0;
            info.resp = 2;
            info.name.clear();
            // NO-EVICT survives RESET in Redis 7.0; NO-TOUCH does not.
            info.no_touch = false;
            info.user = "default".into();
        }
        c.reply().simple("RESET");
    })
}

/// Checks a password for `user` against `requirepass` (the default user is
/// `nopass` when no password is set).
fn check_auth(c: &Session, user: &[u8], pass: &[u8]) -> bool {
    let cfg = c.core.config.borrow();
    user == b"default" && (cfg.requirepass.is_empty() || cfg.requirepass.as_bytes() == pass)
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// `AUTH [username] password`
fn auth(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        if a.len() > 3 {
            c.error(SYNTAX);
            return;
        }
        if a.len() == 2 && c.core.config.borrow().requirepass.is_empty() {
            c.error(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
            return;
        }
        let (user, pass) = if a.len() == 2 {
            (&b"default"[..], a.get(1))
        } else {
            (a.get(1), a.get(2))
        };
        if check_auth(c, user, pass) {
            c.authenticated = true;
            c.reply().ok();
        } else {
            c.error(WRONGPASS);
        }
    })
}

/// Redis's rule for client names (and library names): printable, no spaces.
fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
fn hello(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let mut ver = None;
        if a.len() >= 2 {
            match parse_i64(a.get(1)) {
                None => {
                    c.error("ERR Protocol version is not an integer or out of range");
                    return;
                }
                Some(v) if !(2..=3).contains(&v) => {
                    c.error("NOPROTO unsupported protocol version");
                    return;
                }
                Some(v) => ver = Some(v),
            }
        }
        let mut creds = None;
        let mut name = None;
        let mut j = 2;
        while j < a.len() {
            let more = a.len() - 1 - j;
            let opt = a.get(j);
            if eq(opt, "auth") && more >= 2 {
                creds = Some((a.get(j + 1).to_vec(), a.get(j + 2).to_vec()));
                j += 3;
            } else if eq(opt, "setname") && more >= 1 {
                name = Some(a.get(j + 1).to_vec());
                j += 2;
            } else {
                let o = String::from_utf8_lossy(opt).into_owned();
                c.error(&format!("ERR Syntax error in HELLO option '{o}'"));
                return;
            }
        }
        if let Some((u, p)) = creds {
            if check_auth(c, &u, &p) {
                c.authenticated = true;
            } else {
                c.error(WRONGPASS);
                return;
            }
        }
        if !c.authenticated {
            c.error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            );
            return;
        }
        if let Some(n) = name {
            if !valid_name(&n) {
                c.error("ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            c.handle.info.borrow_mut().name = String::from_utf8_lossy(&n).into_owned();
        }
        if let Some(v) = ver {
            c.resp3 = v == 3;
            c.handle.info.borrow_mut().resp = v as u8;
        }
        let id = c.id as i64;
        let proto = if c.resp3 { 3 } else { 2 };
        let mut r = c.reply();
        r.map(7);
        r.bulk(b"server");
        r.bulk(b"redis");
        r.bulk(b"version");
        r.bulk(crate::REDIS_VERSION.as_bytes());
        r.bulk(b"proto");
        r.int(proto);
        r.bulk(b"id");
        r.int(id);
        r.bulk(b"mode");
        r.bulk(b"standalone");
        r.bulk(b"role");
        r.bulk(b"master");
        r.bulk(b"modules");
        r.array(0);
    })
}

// ---------------------------------------------------------------------------
// CLIENT
// ---------------------------------------------------------------------------

/// Copies the connection's live state into its registry entry.
fn sync_info(c: &Session) {
    let mut info = c.handle.info.borrow_mut();
    info.db = c.db;
    info.resp = if c.resp3 { 3 } else { 2 };
    info.no_touch = c.no_touch;
}

fn client_id(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let id = c.id as i64;
        c.reply().int(id);
    })
}

fn client_setname(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let n = a.get(2);
        if !valid_name(n) {
            c.error("ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        c.handle.info.borrow_mut().name = String::from_utf8_lossy(n).into_owned();
        c.reply().ok();
    })
}

fn client_getname(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let name = c.handle.info.borrow().name.clone();
        let mut r = c.reply();
        if name.is_empty() {
            r.null();
        } else {
            r.bulk(name.as_bytes());
        }
    })
}

fn client_info(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        sync_info(c);
        let mut line = c.handle.describe();
        line.push('\n');
        c.reply().verbatim("txt", line.as_bytes());
    })
}

/// A client type of CLIENT LIST/KILL TYPE.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    PubSub,
    /// Masters and replicas: no coreshard client is one.
    Replication,
}

/// Parses a client type name (Redis's names).
fn client_type(t: &[u8]) -> Option<ClientType> {
    if eq(t, "normal") {
        Some(ClientType::Normal)
    } else if eq(t, "pubsub") {
        Some(ClientType::PubSub)
    } else if eq(t, "master") || eq(t, "slave") || eq(t, "replica") {
        Some(ClientType::Replication)
    } else {
        None
    }
}

/// The type of a connected client: `pubsub` while subscribed to anything.
fn type_of(h: &crate::command::session::clients::ClientHandle) -> ClientType {
    if h.subscribed() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

fn client_list(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let mut ids: Option<Vec<u64>> = None;
        let mut kind = None;
        if a.len() == 4 && eq(a.get(2), "type") {
            match client_type(a.get(3)) {
                Some(t) => kind = Some(t),
                None => {
                    let t = String::from_utf8_lossy(a.get(3)).into_owned();
                    c.error(&format!("ERR Unknown client type '{t}'"));
                    return;
                }
            }
        } else if a.len() > 3 && eq(a.get(2), "id") {
            let mut v = Vec::new();
            for i in 3..a.len() {
                match parse_i64(a.get(i)) {
                    Some(id) => v.push(id.max(0) as u64),
                    None => {
                        c.error("ERR Invalid client ID");
                        return;
                    }
                }
            }
            ids = Some(v);
        } else if a.len() != 2 {
            c.error(SYNTAX);
            return;
        }
        sync_info(c);
        let mut text = String::new();
        if kind != Some(ClientType::Replication) {
            let ids2 = ids.clone();
            let mut lines: Vec<(u64, String)> = c
                .core
                .broadcast(move |core| {
                    core.clients()
                        .borrow()
                        .map
                        .iter()
                        .filter(|(id, _)| ids2.as_ref().is_none_or(|v| v.contains(id)))
                        .filter(|(_, h)| kind.is_none_or(|k| type_of(h) == k))
                        .map(|(id, h)| (*id, h.describe()))
                        .collect::<Vec<_>>()
                })
                .await
                .into_iter()
                .flatten()
                .collect();
            lines.sort_by_key(|l| l.0);
            if let Some(order) = &ids {
                // Redis prints in the order the ids were asked.
                let mut out = Vec::new();
                for id in order {
                    if let Some(p) = lines.iter().position(|l| l.0 == *id) {
                        out.push(lines.remove(p));
                    }
                }
                lines = out;
            }
            for (_, l) in lines {
                text.push_str(&l);
                text.push('\n');
            }
        }
        c.reply().verbatim("txt", text.as_bytes());
    })
}

/// CLIENT KILL filters.
#[derive(Clone, Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    user: Option<String>,
    kind: Option<ClientType>,
    skip: Option<u64>,
}

fn client_kill(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let old_form = a.len() == 3;
        let mut f = KillFilter::default();
        let mut skipme = true;
        if old_form {
            f.addr = Some(String::from_utf8_lossy(a.get(2)).into_owned());
            skipme = false;
        } else {
            let mut i = 2;
            while i < a.len() {
                let more = i + 1 < a.len();
                let opt = a.get(i);
                if !more {
                    c.error(SYNTAX);
                    return;
                }
                let v = a.get(i + 1);
                if eq(opt, "id") {
                    match parse_i64(v) {
                        Some(id) if id > 0 => f.id = Some(id as u64),
                        _ => {
                            c.error("ERR client-id should be greater than 0");
                            return;
                        }
                    }
                } else if eq(opt, "type") {
                    match client_type(v) {
                        Some(t) => f.kind = Some(t),
                        None => {
                            let t = String::from_utf8_lossy(v).into_owned();
                            c.error(&format!("ERR Unknown client type '{t}'"));
                            return;
                        }
                    }
                } else if eq(opt, "addr") {
                    f.addr = Some(String::from_utf8_lossy(v).into_owned());
                } else if eq(opt, "laddr") {
                    f.laddr = Some(String::from_utf8_lossy(v).into_owned());
                } else if eq(opt, "user") {
                    if v != b"default" {
                        let u = String::from_utf8_lossy(v).into_owned();
                        c.error(&format!("ERR No such user '{u}'"));
                        return;
                    }
                    f.user = Some("default".into());
                } else if eq(opt, "skipme") {
                    if eq(v, "yes") {
                        skipme = true;
                    } else if eq(v, "no") {
                        skipme = false;
                    } else {
                        c.error(SYNTAX);
                        return;
                    }
                } else {
                    c.error(SYNTAX);
                    return;
                }
                i += 2;
            }
        }
        let me = c.id;
        if skipme {
            f.skip = Some(me);
        }
        let results = c
            .core
            .broadcast(move |core| {
                let f = f.clone();
                let clients = core.clients().borrow();
                let mut killed = 0usize;
                let mut self_hit = false;
                for (id, h) in clients.map.iter() {
                    let info = h.info.borrow();
                    let hit = f.kind.is_none_or(|k| type_of(h) == k)
                        && f.skip != Some(*id)
                        && f.id.is_none_or(|x| x == *id)
                        && f.addr.as_ref().is_none_or(|x| *x == info.addr)
                        && f.laddr.as_ref().is_none_or(|x| *x == info.laddr)
                        && f.user.as_ref().is_none_or(|x| *x == info.user);
                    drop(info);
                    if hit {
                        killed += 1;
                        if *id == me {
                            // Our own connection closes after this reply.
                            self_hit = true;
                        } else {
                            h.kill();
                        }
                    }
                }
                (killed, self_hit)
            })
            .await;
        let killed: usize = results.iter().map(|r| r.0).sum();
        if results.iter().any(|r| r.1) {
            c.close = true;
        }
        if old_form {
            if killed == 0 {
                c.error("ERR No such client");
            } else {
                c.reply().ok();
            }
        } else {
            c.reply().int(killed as i64);
        }
    })
}

fn client_setinfo(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let v = a.get(3);
        let opt = a.get(2);
        let is_name = eq(opt, "lib-name");
        if !is_name && !eq(opt, "lib-ver") {
            let o = String::from_utf8_lossy(opt).into_owned();
            c.error(&format!("ERR Unrecognized option '{o}'"));
            return;
        }
        if !valid_name(v) {
            let o = String::from_utf8_lossy(opt).to_ascii_lowercase();
            c.error(&format!(
                "ERR {o} cannot contain spaces, newlines or special characters."
            ));
            return;
        }
        let v = String::from_utf8_lossy(v).into_owned();
        {
            let mut info = c.handle.info.borrow_mut();
            if is_name {
                info.lib_name = v;
            } else {
                info.lib_ver = v;
            }
        }
        c.reply().ok();
    })
}

fn on_off(a: &[u8]) -> Option<bool> {
    if eq(a, "on") {
        Some(true)
    } else if eq(a, "off") {
        Some(false)
    } else {
        None
    }
}

fn client_no_evict(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        match on_off(a.get(2)) {
            Some(v) => {
                c.handle.info.borrow_mut().no_evict = v;
                c.reply().ok();
            }
            None => c.error(SYNTAX),
        }
    })
}

fn client_no_touch(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        match on_off(a.get(2)) {
            Some(v) => {
                c.no_touch = v;
                c.handle.info.borrow_mut().no_touch = v;
                c.reply().ok();
            }
            None => c.error(SYNTAX),
        }
    })
}

/// `CLIENT REPLY ON|OFF|SKIP`: dispatch leaves this command's own reply alone.
fn client_reply(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let m = a.get(2);
        if eq(m, "on") {
            c.reply_mode = ReplyMode::On;
            c.reply().ok();
        } else if eq(m, "off") {
            c.reply_mode = ReplyMode::Off;
        } else if eq(m, "skip") {
            if c.reply_mode != ReplyMode::Off {
                c.reply_mode = ReplyMode::Skip;
            }
        } else if c.reply_mode == ReplyMode::On {
            c.error(SYNTAX);
        }
    })
}

/// `CLIENT PAUSE timeout [WRITE|ALL]`
fn client_pause(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let ms = match parse_i64(a.get(2)) {
            None => {
                c.error("ERR timeout is not an integer or out of range");
                return;
            }
            Some(v) if v < 0 => {
                c.error("ERR timeout is negative");
                return;
            }
            Some(v) => v as u64,
        };
        let mut all = true;
        if a.len() == 4 {
            if eq(a.get(3), "write") {
                all = false;
            } else if !eq(a.get(3), "all") {
                c.error("ERR CLIENT PAUSE mode must be WRITE or ALL");
                return;
            }
        } else if a.len() > 4 {
            c.error(
                "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.",
            );
            return;
        }
        c.core.engine.pause(crate::now_ms().saturating_add(ms), all);
        c.reply().ok();
    })
}

/// `CLIENT UNPAUSE`
fn client_unpause(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        c.core.engine.unpause();
        // Held clients go on now, on every core.
        for t in (0..c.core.ncores).filter(|&t| t != c.core.id) {
            c.core
                .post(t, crate::command::session::blocking::end_pause_waits);
        }
        crate::command::session::blocking::end_pause_waits(&c.core);
        c.reply().ok();
    })
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`
fn client_tracking(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { crate::command::session::tracking::client_tracking(c, &a).await })
}

/// `CLIENT CACHING YES|NO`: the next command's reads are remembered (OPTIN)
/// or not (OPTOUT).
fn client_caching(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { crate::command::session::tracking::client_caching(c, a.get(2)) })
}

/// `CLIENT TRACKINGINFO`
fn client_trackinginfo(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { crate::command::session::tracking::client_trackinginfo(c) })
}

/// `CLIENT GETREDIR`
fn client_getredir(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move { crate::command::session::tracking::client_getredir(c) })
}

fn client_help(c: &mut Session, _a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        super::server::reply_help(
            c,
            "CLIENT",
            &[
                "CACHING (YES|NO)",
                "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
                "GETREDIR",
                "    Return the client ID we are redirecting to when tracking is enabled.",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are:",
                "    * ADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made from the specified address",
                "    * LADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made to specified local address",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Kill connections by type.",
                "    * USER <username>",
                "      Kill connections authenticated by <username>.",
                "    * SKIPME (YES|NO)",
                "      Skip killing current connection (default: yes).",
                "LIST [options ...]",
                "    Return information about client connections. Options:",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Return clients of specified type.",
                "UNPAUSE",
                "    Stop the current client pause, resuming traffic.",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
                "         [OPTIN] [OPTOUT] [NOLOOP]",
                "    Control server assisted client side caching.",
                "TRACKINGINFO",
                "    Report tracking status for the current connection.",
                "SETINFO <LIB-NAME|LIB-VER> <value>",
                "    Set the client library name or version.",
                "NO-EVICT (ON|OFF)",
                "    Protect current client connection from eviction.",
                "NO-TOUCH (ON|OFF)",
                "    Will not touch LRU/LFU stats when this mode is on.",
            ],
        );
    })
}

/// `CLIENT UNBLOCK client-id [TIMEOUT|ERROR]`
fn client_unblock(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let Some(id) = parse_i64(a.get(2)) else {
            return c.error(NOT_INT);
        };
        let error = match a.len() {
            3 => false,
            4 if eq(a.get(3), "timeout") => false,
            4 if eq(a.get(3), "error") => true,
            4 => return c.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
            _ => {
                let sub = String::from_utf8_lossy(a.get(1)).into_owned();
                return c.error(&format!(
                    "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP."
                ));
            }
        };
        let id = id as u64;
        let done = c
            .core
            .broadcast(move |core| crate::command::session::blocking::unblock(core, id, error))
            .await;
        let n = done.into_iter().any(|d| d) as i64;
        c.reply().int(n);
    })
}

const fn client_sub(
    name: &'static str,
    arity: i32,
    flags: u64,
    acl: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
    coord: super::CoordFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        group: "connection",
        summary,
        since,
        coord: Some(coord),
        ..CommandSpec::DEFAULT
    }
}

const SLOW_CONN: &[&str] = &["slow", "connection"];
const ADMIN_CONN: &[&str] = &["admin", "slow", "dangerous", "connection"];
const NLS: u64 = NOSCRIPT | LOADING | STALE;

const CLIENT_SUBS: &[CommandSpec] = &[
    client_sub(
        "client|caching",
        3,
        NLS,
        SLOW_CONN,
        "Instruct the server about tracking or not keys in the next request",
        "6.0.0",
        client_caching,
    ),
    client_sub(
        "client|tracking",
        -3,
        NLS,
        SLOW_CONN,
        "Enable or disable server assisted client side caching support",
        "6.0.0",
        client_tracking,
    ),
    client_sub(
        "client|trackinginfo",
        2,
        NLS,
        SLOW_CONN,
        "Return information about server assisted client side caching for the current connection",
        "6.2.0",
        client_trackinginfo,
    ),
    client_sub(
        "client|getname",
        2,
        NLS,
        SLOW_CONN,
        "Get the current connection name",
        "2.6.9",
        client_getname,
    ),
    client_sub(
        "client|getredir",
        2,
        NLS,
        SLOW_CONN,
        "Get tracking notifications redirection client ID if any",
        "6.0.0",
        client_getredir,
    ),
    client_sub(
        "client|help",
        2,
        LOADING | STALE,
        SLOW_CONN,
        "Show helpful text about the different subcommands",
        "5.0.0",
        client_help,
    ),
    client_sub(
        "client|id",
        2,
        NLS,
        SLOW_CONN,
        "Returns the client ID for the current connection",
        "5.0.0",
        client_id,
    ),
    CommandSpec {
        tips: &["nondeterministic_output"],
        ..client_sub(
            "client|info",
            2,
            NLS,
            SLOW_CONN,
            "Returns information about the current client connection.",
            "6.2.0",
            client_info,
        )
    },
    CommandSpec {
        complexity: "O(N) where N is the number of client connections",
        ..client_sub(
            "client|kill",
            -3,
            ADMIN | NLS,
            ADMIN_CONN,
            "Kill the connection of a client",
            "2.4.0",
            client_kill,
        )
    },
    CommandSpec {
        complexity: "O(N) where N is the number of client connections",
        tips: &["nondeterministic_output"],
        ..client_sub(
            "client|list",
            -2,
            ADMIN | NLS,
            ADMIN_CONN,
            "Get the list of client connections",
            "2.4.0",
            client_list,
        )
    },
    client_sub(
        "client|no-evict",
        3,
        ADMIN | NLS,
        ADMIN_CONN,
        "Set client eviction mode for the current connection",
        "7.0.0",
        client_no_evict,
    ),
    client_sub(
        "client|no-touch",
        3,
        NLS,
        SLOW_CONN,
        "Controls LRU/LFU stats touching for the current connection",
        "7.2.0",
        client_no_touch,
    ),
    CommandSpec {
        complexity: "O(N) Where N is the number of paused clients",
        ..client_sub(
            "client|pause",
            -3,
            ADMIN | NLS,
            ADMIN_CONN,
            "Stop processing commands from clients for some time",
            "2.9.50",
            client_pause,
        )
    },
    CommandSpec {
        complexity: "O(N) Where N is the number of paused clients",
        ..client_sub(
            "client|unpause",
            2,
            ADMIN | NLS,
            ADMIN_CONN,
            "Resume processing of clients that were paused",
            "6.2.0",
            client_unpause,
        )
    },
    client_sub(
        "client|unblock",
        -3,
        ADMIN | NLS,
        ADMIN_CONN,
        "Unblock a client blocked in a blocking command from a different connection",
        "5.0.0",
        client_unblock,
    ),
    client_sub(
        "client|reply",
        3,
        NLS,
        SLOW_CONN,
        "Instruct the server whether to reply to commands",
        "3.2.0",
        client_reply,
    ),
    client_sub(
        "client|setinfo",
        4,
        NLS,
        SLOW_CONN,
        "Set client or connection specific info",
        "7.2.0",
        client_setinfo,
    ),
    client_sub(
        "client|setname",
        3,
        NLS,
        SLOW_CONN,
        "Set the current connection name",
        "2.6.9",
        client_setname,
    ),
];

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
        flags: LOADING | STALE | FAST,
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
    CommandSpec {
        name: "monitor",
        arity: 1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        acl: &["admin", "slow", "dangerous"],
        group: "server",
        summary: "Listen for all requests received by the server in real time",
        coord: Some(monitor),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        acl: &["fast", "connection"],
        group: "connection",
        summary: "Reset the connection",
        since: "6.2.0",
        coord: Some(reset),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        acl: &["fast", "connection"],
        group: "connection",
        summary: "Handshake with Redis",
        since: "6.0.0",
        coord: Some(hello),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        acl: &["fast", "connection"],
        group: "connection",
        summary: "Authenticate to the server",
        complexity: "O(N) where N is the number of passwords defined for the user",
        coord: Some(auth),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "client",
        arity: -2,
        acl: &["slow"],
        group: "connection",
        summary: "A container for client connection commands",
        since: "2.4.0",
        complexity: "Depends on subcommand.",
        subcommands: CLIENT_SUBS,
        ..CommandSpec::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name(b"abc-1"));
        assert!(valid_name(b""));
        assert!(!valid_name(b"a b"));
        assert!(!valid_name(b"a\nb"));
    }
}
