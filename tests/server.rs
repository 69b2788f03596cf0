//! Server and connection commands: INFO, CONFIG, COMMAND, CLIENT, HELLO, SELECT,
//! FLUSHALL, DBSIZE, with clients spread over the cores.

mod common;

use common::*;
use redis::Commands;
use std::collections::HashMap;
use std::time::Duration;

fn info(c: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).unwrap()
}

fn fields(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim_end().to_string()))
        .collect()
}

#[test]
fn info_sections_and_fields() {
    let s = Server::start();
    let mut c = s.conn();
    let text = info(&mut c, "server");
    assert!(text.starts_with("# Server\r\n"), "{text}");
    let f = fields(&text);
    assert_eq!(f["redis_version"], "7.0.15");
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(f["tcp_port"], s.port.to_string());
    assert!(f["uptime_in_seconds"].parse::<u64>().is_ok());
    assert!(f["process_id"].parse::<u32>().is_ok());
    for section in [
        "clients",
        "memory",
        "stats",
        "persistence",
        "replication",
        "cpu",
        "keyspace",
    ] {
        let t = info(&mut c, section);
        assert!(
            t.to_lowercase().starts_with(&format!("# {section}")),
            "INFO {section}: {t}"
        );
    }
    let f = fields(&info(&mut c, "clients"));
    assert!(f["connected_clients"].parse::<u64>().unwrap() >= 1);
    let f = fields(&info(&mut c, "memory"));
    assert!(f["used_memory"].parse::<u64>().unwrap() > 0);
    let f = fields(&info(&mut c, "replication"));
    assert_eq!(f["role"], "master");
    // Keyspace: one line per non-empty db, summed over all shards.
    assert_eq!(info(&mut c, "keyspace"), "# Keyspace\r\n");
    for k in keys_on_every_shard("info", 10) {
        let _: () = c.set(&k, 1).unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg(1)
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let f = fields(&info(&mut c, "keyspace"));
    assert!(
        f["db0"].starts_with("keys=31,expires=1,avg_ttl="),
        "{}",
        f["db0"]
    );
    // Stats count what was done.
    let f = fields(&info(&mut c, "stats"));
    assert!(f["total_commands_processed"].parse::<u64>().unwrap() >= 32);
    assert!(f["total_connections_received"].parse::<u64>().unwrap() >= 1);
    let _: Option<String> = c.get("nokey").unwrap();
    let f = fields(&info(&mut c, "stats"));
    assert!(f["keyspace_misses"].parse::<u64>().unwrap() >= 1);
    // Default, all and everything include several sections; unknown is empty.
    let all = info(&mut c, "all");
    assert!(all.contains("# Server") && all.contains("# Keyspace"));
    let plain: String = redis::cmd("INFO").query(&mut c).unwrap();
    assert!(plain.contains("# Server") && plain.contains("# Clients"));
    let cmdstats = info(&mut c, "commandstats");
    assert!(cmdstats.contains("cmdstat_set:calls="), "{cmdstats}");
    assert_eq!(info(&mut c, "nosuchsection"), "");
}

#[test]
fn config_get_set() {
    let s = Server::start();
    let mut c = s.conn();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["maxclients", "10000"]);
    let v: HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*")
        .query(&mut c)
        .unwrap();
    assert!(v.len() > 20, "{}", v.len());
    assert_eq!(v["databases"], "16");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hz")
        .arg("25")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut c)
        .unwrap();
    let v: HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hz")
        .arg("maxmemory-policy")
        .query(&mut c)
        .unwrap();
    assert_eq!(v["hz"], "25");
    assert_eq!(v["maxmemory-policy"], "allkeys-lru");
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("databases")
        .arg("4")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string().contains("can't set immutable config"),
        "{err}"
    );
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
}

#[test]
fn config_set_reaches_every_core() {
    let s = Server::start();
    let mut c = s.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg("1mb")
        .query(&mut c)
        .unwrap();
    // Several connections land on different cores; each must apply the new limit.
    for _ in 0..12 {
        let mut r = s.raw();
        r.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n");
        assert_eq!(
            r.read_raw(),
            b"-ERR Protocol error: invalid bulk length\r\n"
        );
    }
    for _ in 0..6 {
        let mut other = s.conn();
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("proto-max-bulk-len")
            .query(&mut other)
            .unwrap();
        assert_eq!(v, ["proto-max-bulk-len", "1048576"]);
    }
}

#[test]
fn command_introspection() {
    let s = Server::start();
    let mut c = s.conn();
    let n: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    let all: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut c).unwrap();
    assert_eq!(n as usize, all.len());
    assert!(n >= 60, "COMMAND COUNT {n}");
    let list: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut c).unwrap();
    // COMMAND LIST names subcommands too ("config|get").
    assert!(list.len() >= n as usize);
    for name in [
        "get", "set", "del", "scan", "info", "config", "client", "bitfield",
    ] {
        assert!(list.iter().any(|x| x == name), "COMMAND LIST lacks {name}");
    }
    let mut raw = s.raw();
    assert_eq!(
        raw.cmd(&["COMMAND", "INFO", "get"]),
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
    );
    assert_eq!(raw.cmd(&["COMMAND", "INFO", "nosuch"]), b"*1\r\n$-1\r\n");
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "ECHO", "x"]),
        b"-ERR The command has no key arguments\r\n"
    );
    let docs = raw.call(&["COMMAND", "DOCS", "set"]);
    let items = docs.items();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].text(), "set");
}

#[test]
fn client_commands_across_cores() {
    let s = Server::start();
    let mut conns: Vec<redis::Connection> = (0..6).map(|_| s.conn()).collect();
    let mut ids = Vec::new();
    for (i, c) in conns.iter_mut().enumerate() {
        let id: i64 = redis::cmd("CLIENT").arg("ID").query(c).unwrap();
        assert!(id > 0);
        ids.push(id);
        let _: () = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(format!("c{i}"))
            .query(c)
            .unwrap();
        let name: String = redis::cmd("CLIENT").arg("GETNAME").query(c).unwrap();
        assert_eq!(name, format!("c{i}"));
    }
    let mut dedup = ids.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), ids.len(), "client ids are unique");
    // CLIENT LIST from one connection shows the clients of every core.
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut conns[0])
        .unwrap();
    for (i, id) in ids.iter().enumerate() {
        let line = list
            .lines()
            .find(|l| l.starts_with(&format!("id={id} ")))
            .unwrap_or_else(|| panic!("client {id} missing from CLIENT LIST:\n{list}"));
        assert!(line.contains(&format!(" name=c{i} ")), "{line}");
        assert!(line.contains(" addr=127.0.0.1:"), "{line}");
        assert!(line.contains(" db=0 "), "{line}");
    }
    let one: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(ids[2])
        .query(&mut conns[0])
        .unwrap();
    assert_eq!(one.lines().count(), 1);
    let me: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query(&mut conns[1])
        .unwrap();
    assert!(me.starts_with(&format!("id={} ", ids[1])), "{me}");
    // Kill clients that may live on other cores.
    for victim in &ids[3..6] {
        let n: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(*victim)
            .query(&mut conns[0])
            .unwrap();
        assert_eq!(n, 1);
    }
    for (i, victim) in conns.iter_mut().enumerate().skip(3) {
        let r: redis::RedisResult<String> = redis::cmd("PING").query(victim);
        assert!(r.is_err(), "killed client {i} still served");
    }
    wait_for(
        Duration::from_secs(10),
        "killed clients to leave CLIENT LIST",
        || {
            let list: String = redis::cmd("CLIENT")
                .arg("LIST")
                .query(&mut conns[0])
                .unwrap();
            (!ids[3..]
                .iter()
                .any(|id| list.contains(&format!("id={id} "))))
            .then_some(())
        },
    );
    // Old-style CLIENT KILL addr.
    let line: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query(&mut conns[2])
        .unwrap();
    let addr = line
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg(&addr)
        .query(&mut conns[0])
        .unwrap();
    let r: redis::RedisResult<String> = redis::cmd("PING").query(&mut conns[2]);
    assert!(r.is_err());
    let err = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("127.0.0.1:1")
        .query::<()>(&mut conns[0])
        .unwrap_err();
    assert!(err.to_string().contains("No such client"), "{err}");
}

#[test]
fn hello_negotiates_protocol() {
    let s = Server::start();
    let mut r = s.raw();
    let reply = r.call(&["HELLO", "3", "SETNAME", "h3"]);
    let Resp::Map(m) = reply else {
        panic!("HELLO 3: {reply:?}")
    };
    let keys: Vec<String> = m.iter().map(|(k, _)| k.text()).collect();
    assert_eq!(
        keys,
        [
            "server", "version", "proto", "id", "mode", "role", "modules"
        ]
    );
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), b"$2\r\nh3\r\n");
    // Without a version HELLO keeps the protocol in force.
    let Resp::Map(m) = r.call(&["HELLO"]) else {
        panic!("HELLO without a version must still reply in RESP3")
    };
    let proto = m
        .iter()
        .find(|(k, _)| k.text() == "proto")
        .map(|(_, v)| v.int());
    assert_eq!(proto, Some(3));
    let Resp::Array(v) = r.call(&["HELLO", "2"]) else {
        panic!("HELLO 2 replies with a flat array")
    };
    assert_eq!(v.len(), 14);
}

#[test]
fn select_flushall_dbsize() {
    let s = Server::start();
    let mut c = s.conn();
    for db in 0..16 {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut c).unwrap();
        for k in key_per_shard(&format!("s{db}-")) {
            let _: () = c.set(k, db).unwrap();
        }
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(n, THREADS as i64);
    }
    let err = redis::cmd("SELECT")
        .arg(16)
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("DB index is out of range"));
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    for db in 0..16 {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut c).unwrap();
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(n, 0, "db {db} after FLUSHALL");
    }
    let _: () = redis::cmd("FLUSHALL").arg("ASYNC").query(&mut c).unwrap();
}

#[test]
fn requirepass_and_auth() {
    let s = Server::start_with(&["--requirepass", "s3cret"]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        r.cmd(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        r.cmd(&["AUTH", "default", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(r.cmd(&["AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(r.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    // HELLO can authenticate too; a new connection starts unauthenticated.
    let mut r2 = s.raw();
    assert_eq!(r2.cmd(&["PING"]), b"-NOAUTH Authentication required.\r\n");
    match r2.call(&["HELLO", "3", "AUTH", "default", "s3cret"]) {
        Resp::Map(_) => {}
        other => panic!("HELLO 3 AUTH: {other:?}"),
    }
    assert_eq!(r2.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
}

#[test]
fn client_reply_modes() {
    let s = Server::start();
    let mut r = s.raw();
    // OFF: no replies until ON, whose own +OK is sent.
    r.send(&encode_cmd(&["CLIENT", "REPLY", "OFF"]));
    r.send(&encode_cmd(&["SET", "a", "1"]));
    r.send(&encode_cmd(&["GET", "a"]));
    r.send(&encode_cmd(&["CLIENT", "REPLY", "ON"]));
    assert_eq!(r.read_raw(), b"+OK\r\n");
    // SKIP: only the next command's reply is dropped.
    r.send(&encode_cmd(&["CLIENT", "REPLY", "SKIP"]));
    r.send(&encode_cmd(&["ECHO", "dropped"]));
    r.send(&encode_cmd(&["ECHO", "kept"]));
    assert_eq!(r.read_raw(), b"$4\r\nkept\r\n");
    assert_eq!(r.cmd(&["GET", "a"]), b"$1\r\n1\r\n");
}

#[test]
fn maxclients_rejects_extra_connections() {
    let s = Server::start_with(&["--maxclients", "2"]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(b.cmd(&["PING"]), b"+PONG\r\n");
    let mut c = s.raw();
    c.send(&encode_cmd(&["PING"]));
    assert_eq!(c.read_raw(), b"-ERR max number of clients reached\r\n");
    assert!(c.is_closed());
    drop(a);
    // Once a slot frees up a new client is accepted.
    wait_for(Duration::from_secs(10), "a free client slot", || {
        let mut d = s.raw();
        d.send(&encode_cmd(&["PING"]));
        (d.read_raw() == b"+PONG\r\n").then_some(())
    });
    assert_eq!(b.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn config_set_port_moves_the_listeners() {
    let s = Server::start();
    let mut c = s.conn();
    let port_of = |c: &mut redis::Connection| -> u16 {
        let v: HashMap<String, String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("port")
            .query(c)
            .unwrap();
        v["port"].parse().unwrap()
    };
    assert_eq!(port_of(&mut c), s.port);
    // The same port: nothing to do.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("port")
        .arg(s.port)
        .query(&mut c)
        .unwrap();
    assert_eq!(port_of(&mut connect_redis(s.port)), s.port);
    // A port another socket holds: refused, and nothing of the command
    // changes.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("10000001")
        .arg("port")
        .arg(taken_port)
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("(possibly related to argument 'port') - Unable to listen on this port"),
        "{err}"
    );
    let v: HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut c)
        .unwrap();
    assert_eq!(v["maxmemory"], "0");
    assert_eq!(port_of(&mut connect_redis(s.port)), s.port);
    drop(taken);
    // A free port: new clients come there (on every core), the old port
    // is closed, and clients already connected stay.
    let new_port = free_port();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("port")
        .arg(new_port)
        .query(&mut c)
        .unwrap();
    for _ in 0..12 {
        let mut n = connect_redis(new_port);
        let pong: String = redis::cmd("PING").query(&mut n).unwrap();
        assert_eq!(pong, "PONG");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err());
    assert_eq!(port_of(&mut c), new_port);
    let info: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    assert!(info.contains(&format!("tcp_port:{new_port}\r\n")), "{info}");
}
