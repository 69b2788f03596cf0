//! Client tracking against the real binary (3 cores): a client caches keys
//! owned by every shard, other clients (on whichever core the kernel puts
//! them) change them, and the invalidations cross cores to the client or
//! its redirect target.
//!
//! "Exactly one" is checked by a PING after the expected invalidations: an
//! extra invalidation for the same change would be delivered with the first
//! one, so before the PONG.

mod common;

use common::*;
use std::time::Duration;

/// A RESP3 connection with tracking enabled by `opts` (after `TRACKING on`).
fn tracker(port: u16, opts: &[&str]) -> Raw {
    let mut r = Raw::connect(port);
    assert!(!r.call(&["HELLO", "3"]).is_error());
    let mut args = vec!["CLIENT", "TRACKING", "on"];
    args.extend_from_slice(opts);
    assert_eq!(r.call(&args), Resp::Simple("OK".into()));
    r
}

/// Reads one push and returns its keys (None for the flush null).
fn invalidation(r: &mut Raw) -> Option<Vec<String>> {
    match r.read() {
        Resp::Push(v) => {
            assert_eq!(v[0], Resp::Bulk(b"invalidate".to_vec()), "{v:?}");
            match &v[1] {
                Resp::Null | Resp::NilBulk => None,
                keys => Some(keys.items().iter().map(|k| k.text()).collect()),
            }
        }
        other => panic!("expected an invalidation, got {other:?}"),
    }
}

/// Reads invalidations until `want` keys were seen (each once), then
/// checks nothing else was pending.
fn expect_invalidated(r: &mut Raw, want: &[String]) {
    let mut seen: Vec<String> = Vec::new();
    while seen.len() < want.len() {
        let keys = invalidation(r).expect("keys, not a flush");
        seen.extend(keys);
    }
    seen.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(seen, want);
    expect_quiet(r);
}

/// The next thing on the connection is PING's reply.
fn expect_quiet(r: &mut Raw) {
    assert_eq!(r.call(&["PING"]), Resp::Simple("PONG".into()));
}

#[test]
fn reads_are_invalidated_once_across_cores() {
    let s = Server::start();
    let keys = keys_on_every_shard("t", 2);
    let mut w = s.raw();
    for k in &keys {
        w.call(&["SET", k, "1"]);
    }
    let mut c = tracker(s.port, &[]);
    for k in &keys {
        assert_eq!(c.call(&["GET", k]).text(), "1");
    }
    // Readers from several connections (so several cores) of one key.
    let mut others: Vec<Raw> = (0..4).map(|_| tracker(s.port, &[])).collect();
    for o in &mut others {
        o.call(&["GET", &keys[0]]);
    }
    assert_eq!(w.info_field("clients", "tracking_clients"), 5);
    assert_eq!(
        w.info_field("stats", "tracking_total_keys"),
        keys.len() as i64
    );
    assert_eq!(
        w.info_field("stats", "tracking_total_items"),
        keys.len() as i64 + 4
    );
    for k in &keys {
        w.call(&["INCR", k]);
    }
    expect_invalidated(&mut c, &keys);
    for o in &mut others {
        expect_invalidated(o, &keys[..1]);
    }
    // Forgotten once told: a second change sends nothing.
    for k in &keys {
        w.call(&["SET", k, "again"]);
    }
    expect_quiet(&mut c);
    assert_eq!(w.info_field("stats", "tracking_total_keys"), 0);
    // A multi-key read spanning cores, then a multi-key write.
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(|k| k.as_str()));
    c.call(&mget);
    let mut del = vec!["DEL"];
    del.extend(keys.iter().map(|k| k.as_str()));
    assert_eq!(w.call(&del).int(), keys.len() as i64);
    expect_invalidated(&mut c, &keys);
    // Off: nothing more, the count drops.
    c.call(&["GET", &keys[0]]);
    assert_eq!(c.call(&["CLIENT", "TRACKING", "off"]).text(), "OK");
    w.call(&["SET", &keys[0], "x"]);
    expect_quiet(&mut c);
    assert_eq!(w.info_field("clients", "tracking_clients"), 4);
}

#[test]
fn bcast_prefixes_report_every_matching_change() {
    let s = Server::start();
    let mut c = tracker(s.port, &["BCAST", "PREFIX", "a:", "PREFIX", "b:"]);
    let mut w = s.raw();
    assert_eq!(w.info_field("stats", "tracking_total_prefixes"), 2);
    let a = keys_on_every_shard("a:", 1);
    let b = keys_on_every_shard("b:", 1);
    for k in a.iter().chain(&b) {
        w.call(&["SET", k, "1"]);
    }
    for k in keys_on_every_shard("c:", 1) {
        w.call(&["SET", &k, "1"]);
    }
    let mut want = a.clone();
    want.extend(b.iter().cloned());
    expect_invalidated(&mut c, &want);
    // Overlaps are refused, as Redis words it.
    let e = c.call(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:x"]);
    assert_eq!(
        e,
        Resp::Error(
            "ERR Prefix 'a:x' overlaps with an existing prefix 'a:'. Prefixes for a single client must not overlap.".into()
        )
    );
    let info = c.call(&["CLIENT", "TRACKINGINFO"]);
    let Resp::Map(m) = info else {
        panic!("{info:?}")
    };
    assert_eq!(
        m[2].1,
        Resp::Array(vec![Resp::Bulk(b"a:".to_vec()), Resp::Bulk(b"b:".to_vec())])
    );
    assert_eq!(c.call(&["CLIENT", "TRACKING", "off"]).text(), "OK");
    assert_eq!(w.info_field("stats", "tracking_total_prefixes"), 0);
}

#[test]
fn optin_remembers_only_after_caching_yes() {
    let s = Server::start();
    let keys = key_per_shard("o");
    let mut w = s.raw();
    let mut c = tracker(s.port, &["OPTIN"]);
    for k in &keys {
        c.call(&["GET", k]);
    }
    c.call(&["CLIENT", "CACHING", "yes"]);
    c.call(&["MGET", &keys[1], &keys[2]]);
    // Only the command right after CACHING yes.
    c.call(&["GET", &keys[0]]);
    for k in &keys {
        w.call(&["SET", k, "v"]);
    }
    expect_invalidated(&mut c, &keys[1..]);
}

#[test]
fn noloop_skips_own_writes() {
    let s = Server::start();
    let keys = key_per_shard("n");
    let mut c = tracker(s.port, &["NOLOOP"]);
    let mut w = s.raw();
    for k in &keys {
        c.call(&["GET", k]);
        c.call(&["SET", k, "mine"]);
    }
    expect_quiet(&mut c);
    for k in &keys {
        c.call(&["GET", k]);
    }
    for k in &keys {
        w.call(&["SET", k, "theirs"]);
    }
    expect_invalidated(&mut c, &keys);
}

#[test]
fn resp2_redirect_gets_pubsub_messages() {
    let s = Server::start();
    let keys = key_per_shard("r");
    let mut redir = s.raw();
    let id = redir.call(&["CLIENT", "ID"]).int().to_string();
    redir.call(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut c = s.raw();
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "on", "REDIRECT", "999999"]),
        Resp::Error("ERR The client ID you want redirect to does not exist".into())
    );
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "on", "REDIRECT", &id])
            .text(),
        "OK"
    );
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]).text(), id);
    for k in &keys {
        c.call(&["GET", k]);
    }
    let mut w = s.raw();
    for k in &keys {
        w.call(&["SET", k, "1"]);
    }
    let mut seen = Vec::new();
    for _ in &keys {
        let m = redir.read();
        let v = m.items();
        assert_eq!(v[0].text(), "message");
        assert_eq!(v[1].text(), "__redis__:invalidate");
        seen.push(v[2].items()[0].text());
    }
    seen.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(seen, want);
}

#[test]
fn broken_redirect_is_reported() {
    let s = Server::start();
    let key = &key_per_shard("b")[1];
    let mut target = s.raw();
    let id = target.call(&["CLIENT", "ID"]).int();
    let mut c = tracker(s.port, &["REDIRECT", &id.to_string()]);
    c.call(&["GET", key]);
    drop(target);
    let mut w = s.raw();
    wait_for(Duration::from_secs(10), "the target to go", || {
        let list = w.call(&["CLIENT", "LIST"]).text();
        (!list.contains(&format!("id={id} "))).then_some(())
    });
    w.call(&["SET", key, "1"]);
    assert_eq!(
        c.read(),
        Resp::Push(vec![
            Resp::Bulk(b"tracking-redir-broken".to_vec()),
            Resp::Int(id)
        ])
    );
    let info = c.call(&["CLIENT", "TRACKINGINFO"]);
    let Resp::Map(m) = info else {
        panic!("{info:?}")
    };
    assert!(
        m[0].1
            .items()
            .contains(&Resp::Bulk(b"broken_redirect".to_vec()))
    );
}

#[test]
fn expiry_and_flush_invalidate() {
    let s = Server::start();
    let keys = key_per_shard("e");
    let mut w = s.raw();
    let mut c = tracker(s.port, &[]);
    for k in &keys {
        w.call(&["SET", k, "1", "PX", "30"]);
        c.call(&["GET", k]);
    }
    // The active expiry cycle deletes them on their shards.
    expect_invalidated(&mut c, &keys);
    assert_eq!(w.info_field("stats", "expired_keys"), keys.len() as i64);
    // Lazy expiry: the read that finds the key expired.
    w.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    w.call(&["SET", &keys[0], "1", "PX", "1"]);
    c.call(&["GET", &keys[0]]);
    wait_for(Duration::from_secs(5), "the key to expire", || {
        (w.call(&["PTTL", &keys[0]]).int() == -2).then_some(())
    });
    expect_invalidated(&mut c, &keys[..1]);
    // FLUSHALL: one null invalidation, the table emptied.
    for k in &keys {
        w.call(&["SET", k, "1"]);
        c.call(&["GET", k]);
    }
    w.call(&["FLUSHALL"]);
    assert_eq!(invalidation(&mut c), None);
    expect_quiet(&mut c);
    assert_eq!(w.info_field("stats", "tracking_total_keys"), 0);
    // The flushing client itself gets it after its reply.
    assert_eq!(c.call(&["FLUSHDB"]).text(), "OK");
    assert_eq!(invalidation(&mut c), None);
}

#[test]
fn eviction_invalidates() {
    let s = Server::start_with(&["--maxmemory-policy", "allkeys-random"]);
    let mut w = s.raw();
    let mut c = tracker(s.port, &[]);
    let keys = keys_on_every_shard("ev", 40);
    let big = "x".repeat(4000);
    for k in &keys {
        w.call(&["SET", k, &big]);
        c.call(&["STRLEN", k]);
    }
    let used = w.info_field("memory", "used_memory");
    w.call(&["CONFIG", "SET", "maxmemory", &(used - 100_000).to_string()]);
    // Any command makes room first.
    w.call(&["SET", "another", "1"]);
    assert!(w.info_field("stats", "evicted_keys") > 0);
    // Each invalidated key is one that went.
    let keys = invalidation(&mut c).expect("keys");
    assert_eq!(w.call(&["EXISTS", &keys[0]]).int(), 0);
}

/// Redis's "client tracking don't cause eviction feedback loop": ten
/// clients track 300 keys with 1000-byte names, and keyspace events are on,
/// so each evicted key leaves some 10 KB of invalidations and events behind.
/// Lowering the limit by 40 KB must evict about 40 KB of keys, not count
/// what the evictions leave behind as memory still to free and empty the
/// database.
#[test]
fn eviction_does_not_feed_on_its_invalidations() {
    let s = Server::start_with(&[
        "--maxmemory-policy",
        "allkeys-lru",
        "--maxmemory-eviction-tenacity",
        "100",
        "--notify-keyspace-events",
        "KEA",
    ]);
    let mut w = s.raw();
    let mut trackers: Vec<Raw> = (0..10).map(|_| tracker(s.port, &[])).collect();
    let long = "x".repeat(1000);
    for k in keys_on_every_shard("loop", 100) {
        let key = format!("{k}{long}");
        assert_eq!(w.call(&["SET", &key, "x"]), Resp::Simple("OK".into()));
        for t in trackers.iter_mut() {
            assert_eq!(t.call(&["GET", &key]), Resp::Bulk(b"x".to_vec()));
        }
    }
    let used = w.info_field("memory", "used_memory");
    w.call(&["CONFIG", "SET", "maxmemory", &(used - 40_000).to_string()]);
    let left = w.call(&["DBSIZE"]).int();
    let evicted = w.info_field("stats", "evicted_keys");
    assert!(
        (200..300).contains(&left),
        "{left} keys left, {evicted} evicted"
    );
    assert!(evicted >= 10, "{evicted} evicted");
    // Every tracker was told of at least one evicted key.
    for t in trackers.iter_mut() {
        assert!(!invalidation(t).expect("keys").is_empty());
    }
    w.call(&["CONFIG", "SET", "maxmemory", "0"]);
}
#[test]
fn table_limit_invalidates_entries() {
    let s = Server::start();
    let keys = key_per_shard("l");
    let mut w = s.raw();
    let mut c = tracker(s.port, &[]);
    for k in &keys {
        c.call(&["GET", k]);
    }
    assert_eq!(w.info_field("stats", "tracking_total_keys"), 3);
    w.call(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
    let got = invalidation(&mut c).expect("keys");
    assert!(keys.contains(&got[0]));
    wait_for(Duration::from_secs(10), "the table to shrink", || {
        (w.info_field("stats", "tracking_total_keys") <= 1).then_some(())
    });
}

#[test]
fn tracking_errors_match_redis() {
    let s = Server::start();
    let mut c = s.raw();
    let err = |r: Resp| match r {
        Resp::Error(e) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(c.call(&["CLIENT", "TRACKING", "on", "PREFIX", "a"])),
        "ERR PREFIX option requires BCAST mode to be enabled"
    );
    assert_eq!(
        err(c.call(&["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"])),
        "ERR You can't specify both OPTIN mode and OPTOUT mode"
    );
    assert_eq!(
        err(c.call(&["CLIENT", "CACHING", "yes"])),
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
    );
    assert_eq!(c.call(&["CLIENT", "TRACKING", "on"]).text(), "OK");
    assert_eq!(
        err(c.call(&["CLIENT", "TRACKING", "on", "BCAST"])),
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."
    );
    assert_eq!(
        err(c.call(&["CLIENT", "CACHING", "yes"])),
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
    );
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]).int(), 0);
    assert_eq!(c.call(&["CLIENT", "TRACKING", "off"]).text(), "OK");
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]).int(), -1);
}
