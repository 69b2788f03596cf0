//! Pub/Sub against the real binary (3 cores): subscribers and publishers on
//! many connections, which the kernel spreads over the cores, so messages,
//! counts and confirmations cross cores. Where Redis's own behaviour is the
//! reference (glob patterns) the same scenario also runs on redis-server
//! when it is installed.

mod common;

use common::reference::redis_server_available;
use common::*;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Connections opened per role: enough that every core gets some.
const SPREAD: usize = 9;

/// A reply's elements as text (`nil` for a null).
fn strings(r: &Resp) -> Vec<String> {
    r.items()
        .iter()
        .map(|e| match e {
            Resp::NilBulk | Resp::Null => "nil".to_string(),
            other => other.text(),
        })
        .collect()
}

/// Sends a (un)subscribe command and reads one confirmation per name (one
/// for none); returns each as `[kind, name, count]`.
fn confirm(r: &mut Raw, cmd: &str, names: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec![cmd];
    args.extend_from_slice(names);
    r.send(&encode_cmd(&args));
    read_n(r, names.len().max(1))
}

/// Reads `n` replies as text.
fn read_n(r: &mut Raw, n: usize) -> Vec<Vec<String>> {
    (0..n).map(|_| strings(&r.read())).collect()
}

/// A subscribed connection: `cmd` (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE) to `names`.
fn subscriber(port: u16, cmd: &str, names: &[&str]) -> Raw {
    let mut r = Raw::connect(port);
    let got = confirm(&mut r, cmd, names);
    for (i, c) in got.iter().enumerate() {
        assert_eq!(c[0], cmd.to_ascii_lowercase());
        assert_eq!(c[1], names[i]);
        assert_eq!(c[2], (i + 1).to_string());
    }
    r
}

fn publish(r: &mut Raw, cmd: &str, channel: &str, msg: &str) -> i64 {
    r.call(&[cmd, channel, msg]).int()
}

#[test]
fn counts_and_messages_cross_cores() {
    let s = Server::start();
    let chans: Vec<Raw> = (0..SPREAD)
        .map(|_| subscriber(s.port, "SUBSCRIBE", &["news", "sport"]))
        .collect();
    let pats: Vec<Raw> = (0..SPREAD)
        .map(|_| subscriber(s.port, "PSUBSCRIBE", &["n*", "[mn]ews"]))
        .collect();
    let mut pubs: Vec<Raw> = (0..SPREAD).map(|_| s.raw()).collect();
    let (mut chans, mut pats) = (chans, pats);
    // Every publisher, on whichever core, counts every receiver: the channel
    // subscribers plus one per matching pattern per pattern subscriber.
    for (i, p) in pubs.iter_mut().enumerate() {
        let body = format!("m{i}");
        assert_eq!(publish(p, "PUBLISH", "news", &body), 3 * SPREAD as i64);
        for c in chans.iter_mut() {
            assert_eq!(strings(&c.read()), ["message", "news", &body]);
        }
        for c in pats.iter_mut() {
            let mut got: Vec<Vec<String>> = (0..2).map(|_| strings(&c.read())).collect();
            got.sort();
            assert_eq!(
                got,
                [
                    ["pmessage", "[mn]ews", "news", &body],
                    ["pmessage", "n*", "news", &body]
                ]
            );
        }
        assert_eq!(publish(p, "PUBLISH", "nobody", "x"), SPREAD as i64);
        for c in pats.iter_mut() {
            assert_eq!(strings(&c.read()), ["pmessage", "n*", "nobody", "x"]);
        }
        assert_eq!(publish(p, "PUBLISH", "other", "x"), 0);
    }
    // Pipelined, PUBLISH answers from the publishing core's view (a lone one
    // is counted where its receivers are): the same counts, in order.
    let mut batch = Vec::new();
    for body in ["p1", "p2", "p3"] {
        batch.extend(encode_cmd(&["PUBLISH", "news", body]));
    }
    pubs[1].send(&batch);
    for _ in 0..3 {
        assert_eq!(pubs[1].read().int(), 3 * SPREAD as i64);
    }
    for c in chans.iter_mut() {
        for body in ["p1", "p2", "p3"] {
            assert_eq!(strings(&c.read()), ["message", "news", body]);
        }
    }
    // Last of a pipeline whose earlier commands hop to other cores.
    let mut batch = Vec::new();
    for k in ["{a}", "{b}", "{c}", "{d}", "{e}", "{f}"] {
        batch.extend(encode_cmd(&["GET", k]));
    }
    batch.extend(encode_cmd(&["PUBLISH", "news", "p4"]));
    pubs[2].send(&batch);
    for _ in 0..6 {
        assert_eq!(pubs[2].read(), Resp::NilBulk);
    }
    assert_eq!(pubs[2].read().int(), 3 * SPREAD as i64);
    for c in chans.iter_mut() {
        assert_eq!(strings(&c.read()), ["message", "news", "p4"]);
    }
    let p = &mut pubs[0];
    assert_eq!(
        strings(&p.call(&["PUBSUB", "NUMSUB", "news", "sport", "n*", "x"])),
        ["news", "9", "sport", "9", "n*", "0", "x", "0"]
    );
    assert_eq!(p.call(&["PUBSUB", "NUMPAT"]).int(), 2);
    let mut active = strings(&p.call(&["PUBSUB", "CHANNELS"]));
    active.sort();
    assert_eq!(active, ["news", "sport"]);
    assert_eq!(strings(&p.call(&["PUBSUB", "CHANNELS", "s*"])), ["sport"]);
    assert_eq!(p.info_field("stats", "pubsub_channels"), 2);
    assert_eq!(p.info_field("stats", "pubsub_patterns"), 2);
    assert_eq!(p.info_field("stats", "pubsubshard_channels"), 0);
}

#[test]
fn unsubscribe_replies() {
    let s = Server::start();
    let mut c = subscriber(s.port, "SUBSCRIBE", &["a", "b", "c"]);
    assert_eq!(
        confirm(&mut c, "PSUBSCRIBE", &["p*"]),
        [["psubscribe", "p*", "4"]]
    );
    assert_eq!(
        confirm(&mut c, "UNSUBSCRIBE", &["b", "zz"]),
        [["unsubscribe", "b", "3"], ["unsubscribe", "zz", "3"]]
    );
    // Without names: every channel, in any order, with the running count.
    c.send(&encode_cmd(&["UNSUBSCRIBE"]));
    let all = read_n(&mut c, 2);
    let names: HashSet<&str> = all.iter().map(|m| m[1].as_str()).collect();
    assert_eq!(names, HashSet::from(["a", "c"]));
    assert_eq!(all[0][2], "2");
    assert_eq!(all[1][2], "1");
    // Nothing left of that kind: one confirmation with a null name.
    assert_eq!(
        confirm(&mut c, "UNSUBSCRIBE", &[]),
        [["unsubscribe", "nil", "1"]]
    );
    assert_eq!(
        confirm(&mut c, "PUNSUBSCRIBE", &[]),
        [["punsubscribe", "p*", "0"]]
    );
    assert_eq!(
        confirm(&mut c, "PUNSUBSCRIBE", &["p*"]),
        [["punsubscribe", "p*", "0"]]
    );
    assert_eq!(
        confirm(&mut c, "SUNSUBSCRIBE", &[]),
        [["sunsubscribe", "nil", "0"]]
    );
    // Out of subscribed mode, ordinary commands run again.
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let mut p = s.raw();
    for ch in ["a", "b", "c", "pa"] {
        assert_eq!(publish(&mut p, "PUBLISH", ch, "x"), 0);
    }
}

#[test]
fn resp2_subscribed_context() {
    let s = Server::start();
    let mut c = subscriber(s.port, "SUBSCRIBE", &["ch"]);
    assert_eq!(
        c.cmd(&["GET", "k"]),
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "port"]),
        b"-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(c.cmd(&["PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(c.cmd(&["PING", "hi"]), b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    // A message published meanwhile arrives between replies, whole.
    let mut p = s.raw();
    assert_eq!(publish(&mut p, "PUBLISH", "ch", "hello"), 1);
    assert_eq!(strings(&c.read()), ["message", "ch", "hello"]);
    // RESET leaves subscribed mode and drops the subscription at once.
    assert_eq!(c.cmd(&["RESET"]), b"+RESET\r\n");
    assert_eq!(publish(&mut p, "PUBLISH", "ch", "hello"), 0);
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    // QUIT is allowed and answered.
    let mut q = subscriber(s.port, "PSUBSCRIBE", &["*"]);
    assert_eq!(q.cmd(&["QUIT"]), b"+OK\r\n");
    assert!(q.is_closed());
}

#[test]
fn resp3_pushes_and_any_command() {
    let s = Server::start();
    let mut c = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    c.send(&encode_cmd(&["SUBSCRIBE", "r3"]));
    assert_eq!(c.read_raw(), b">3\r\n$9\r\nsubscribe\r\n$2\r\nr3\r\n:1\r\n");
    // Any command runs while subscribed.
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    // Publishing to itself: the push comes before the count.
    c.send(&encode_cmd(&["PUBLISH", "r3", "self"]));
    assert_eq!(
        c.read_raw(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nr3\r\n$4\r\nself\r\n"
    );
    assert_eq!(c.read_raw(), b":1\r\n");
    // Messages from other connections (other cores) are pushes too.
    let mut pubs: Vec<Raw> = (0..SPREAD).map(|_| s.raw()).collect();
    for (i, p) in pubs.iter_mut().enumerate() {
        assert_eq!(publish(p, "PUBLISH", "r3", &format!("n{i}")), 1);
        let (r, _) = c.read_full().unwrap();
        assert_eq!(
            r,
            Resp::Push(vec![
                Resp::Bulk(b"message".to_vec()),
                Resp::Bulk(b"r3".to_vec()),
                Resp::Bulk(format!("n{i}").into_bytes())
            ])
        );
    }
    c.send(&encode_cmd(&["PSUBSCRIBE", "r*"]));
    assert_eq!(
        c.read_raw(),
        b">3\r\n$10\r\npsubscribe\r\n$2\r\nr*\r\n:2\r\n"
    );
    assert_eq!(publish(&mut pubs[1], "PUBLISH", "rx", "p"), 1);
    assert_eq!(
        c.read_raw(),
        b">4\r\n$8\r\npmessage\r\n$2\r\nr*\r\n$2\r\nrx\r\n$1\r\np\r\n"
    );
    c.send(&encode_cmd(&["UNSUBSCRIBE"]));
    assert_eq!(
        c.read_raw(),
        b">3\r\n$11\r\nunsubscribe\r\n$2\r\nr3\r\n:1\r\n"
    );
    c.send(&encode_cmd(&["PUNSUBSCRIBE"]));
    assert_eq!(
        c.read_raw(),
        b">3\r\n$12\r\npunsubscribe\r\n$2\r\nr*\r\n:0\r\n"
    );
    c.send(&encode_cmd(&["UNSUBSCRIBE"]));
    assert_eq!(c.read_raw(), b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
}

#[test]
fn confirmations_are_sent_under_client_reply_off() {
    let s = Server::start();
    let mut c = s.raw();
    c.send(&encode_cmd(&["CLIENT", "REPLY", "OFF"]));
    c.send(&encode_cmd(&["SUBSCRIBE", "quiet"]));
    assert_eq!(strings(&c.read()), ["subscribe", "quiet", "1"]);
    let mut p = s.raw();
    assert_eq!(publish(&mut p, "PUBLISH", "quiet", "m"), 1);
    assert_eq!(strings(&c.read()), ["message", "quiet", "m"]);
    c.send(&encode_cmd(&["PING"]));
    c.send(&encode_cmd(&["UNSUBSCRIBE", "quiet"]));
    assert_eq!(strings(&c.read()), ["unsubscribe", "quiet", "0"]);
}

#[test]
fn sharded_channels() {
    let s = Server::start();
    let mut subs: Vec<Raw> = (0..SPREAD)
        .map(|_| subscriber(s.port, "SSUBSCRIBE", &["{u1}.a", "other"]))
        .collect();
    let mut plain = subscriber(s.port, "SUBSCRIBE", &["{u1}.a"]);
    let mut pat = subscriber(s.port, "PSUBSCRIBE", &["*"]);
    let mut pubs: Vec<Raw> = (0..SPREAD).map(|_| s.raw()).collect();
    for (i, p) in pubs.iter_mut().enumerate() {
        let body = format!("s{i}");
        // Shard channels ignore patterns and plain subscribers.
        assert_eq!(publish(p, "SPUBLISH", "{u1}.a", &body), SPREAD as i64);
        for c in subs.iter_mut() {
            assert_eq!(strings(&c.read()), ["smessage", "{u1}.a", &body]);
        }
    }
    assert_eq!(publish(&mut pubs[0], "PUBLISH", "{u1}.a", "p"), 2);
    assert_eq!(strings(&plain.read()), ["message", "{u1}.a", "p"]);
    assert_eq!(strings(&pat.read()), ["pmessage", "*", "{u1}.a", "p"]);
    let p = &mut pubs[0];
    assert_eq!(
        strings(&p.call(&["PUBSUB", "SHARDNUMSUB", "{u1}.a", "other", "x"])),
        ["{u1}.a", "9", "other", "9", "x", "0"]
    );
    let mut active = strings(&p.call(&["PUBSUB", "SHARDCHANNELS"]));
    active.sort();
    assert_eq!(active, ["other", "{u1}.a"]);
    assert_eq!(p.info_field("stats", "pubsubshard_channels"), 2);
    // The shard count of a confirmation is counted apart from channels.
    let mut c = subscriber(s.port, "SUBSCRIBE", &["x", "y"]);
    assert_eq!(
        confirm(&mut c, "SSUBSCRIBE", &["z"]),
        [["ssubscribe", "z", "1"]]
    );
    assert_eq!(
        confirm(&mut c, "SUNSUBSCRIBE", &["z"]),
        [["sunsubscribe", "z", "0"]]
    );
}

/// 3 publishers each send 1000 numbered messages in one pipeline while
/// subscribers on every core listen: each subscriber sees every publisher's
/// messages in the order they were published.
#[test]
fn messages_of_one_publisher_arrive_in_order() {
    const N: usize = 1000;
    const PUBLISHERS: usize = 3;
    let s = Server::start();
    let mut subs: Vec<Raw> = (0..SPREAD)
        .map(|_| subscriber(s.port, "SUBSCRIBE", &["seq"]))
        .collect();
    subs.extend((0..3).map(|_| subscriber(s.port, "PSUBSCRIBE", &["se?"])));
    let receivers = subs.len() as i64;
    let readers: Vec<_> = subs
        .into_iter()
        .map(|mut c| {
            std::thread::spawn(move || {
                let mut next = [0usize; PUBLISHERS];
                for _ in 0..N * PUBLISHERS {
                    let m = strings(&c.read());
                    let body = m.last().expect("a message").clone();
                    let (p, n) = body.split_once(':').expect("p:n");
                    let (p, n): (usize, usize) = (p.parse().unwrap(), n.parse().unwrap());
                    assert_eq!(n, next[p], "publisher {p}'s messages out of order");
                    next[p] += 1;
                }
                next
            })
        })
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let port = s.port;
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                let mut buf = Vec::new();
                for n in 0..N {
                    buf.extend(encode_cmd(&["PUBLISH", "seq", &format!("{p}:{n}")]));
                }
                c.send(&buf);
                for _ in 0..N {
                    assert_eq!(c.read().int(), receivers);
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().expect("publisher");
    }
    for r in readers {
        assert_eq!(r.join().expect("subscriber"), [N; PUBLISHERS]);
    }
}

/// A subscriber that never reads is disconnected by the `pubsub` output
/// limit while another subscriber of the same channel receives everything.
#[test]
fn slow_subscriber_is_disconnected_by_its_limit() {
    const MESSAGES: usize = 4000;
    let s = Server::start_with(&[
        "--client-output-buffer-limit",
        "pubsub 4mb 0 0",
        // Ordinary clients stay unlimited: the class follows the subscription.
        "--client-output-buffer-limit",
        "normal 0 0 0",
    ]);
    let mut slow = subscriber(s.port, "SUBSCRIBE", &["big"]);
    let fast = subscriber(s.port, "SUBSCRIBE", &["big"]);
    let body = "x".repeat(10_000);
    let received = Arc::new(AtomicUsize::new(0));
    let seen = received.clone();
    let reader = std::thread::spawn(move || {
        let mut fast = fast;
        for _ in 0..MESSAGES {
            let m = strings(&fast.read());
            assert_eq!(m[0], "message");
            assert_eq!(m[2].len(), 10_000);
            seen.fetch_add(1, Ordering::Release);
        }
        fast
    });
    let mut p = s.raw();
    let mut counts = Vec::new();
    for i in 0..MESSAGES {
        // The fast reader stays at most 1 MB behind, however busy the
        // machine is; the slow one falls behind by everything.
        wait_for(Duration::from_secs(30), "the fast subscriber", || {
            (i < received.load(Ordering::Acquire) + 100).then_some(())
        });
        counts.push(publish(&mut p, "PUBLISH", "big", &body));
    }
    // 40 MB to a reader that reads nothing: more than the kernel buffers,
    // so its queue passes 4 MB and it is dropped.
    assert!(slow.is_closed(), "the slow subscriber is disconnected");
    let mut fast = reader.join().expect("fast subscriber got every message");
    assert_eq!(counts[0], 2);
    assert_eq!(*counts.last().unwrap(), 1);
    if !s.is_reference_redis() {
        // Redis 7.2's counter (7.0 has none).
        assert!(p.info_field("stats", "client_output_buffer_limit_disconnections") >= 1);
    }
    assert_eq!(strings(&p.call(&["PUBSUB", "NUMSUB", "big"])), ["big", "1"]);
    assert_eq!(publish(&mut p, "PUBLISH", "big", "after"), 1);
    assert_eq!(strings(&fast.read()), ["message", "big", "after"]);
}

#[test]
fn disconnect_drops_subscriptions() {
    let s = Server::start();
    let subs: Vec<Raw> = (0..SPREAD)
        .map(|_| subscriber(s.port, "SUBSCRIBE", &["gone"]))
        .collect();
    let psubs: Vec<Raw> = (0..SPREAD)
        .map(|_| subscriber(s.port, "PSUBSCRIBE", &["go*"]))
        .collect();
    let mut p = s.raw();
    assert_eq!(publish(&mut p, "PUBLISH", "gone", "x"), 2 * SPREAD as i64);
    drop(subs);
    drop(psubs);
    wait_for(Duration::from_secs(10), "subscriptions to go", || {
        (publish(&mut p, "PUBLISH", "gone", "x") == 0).then_some(())
    });
    assert_eq!(p.call(&["PUBSUB", "NUMPAT"]).int(), 0);
    assert_eq!(p.info_field("stats", "pubsub_channels"), 0);
}

#[test]
fn client_list_shows_subscriptions() {
    let s = Server::start();
    let mut c = subscriber(s.port, "SUBSCRIBE", &["a", "b"]);
    confirm(&mut c, "PSUBSCRIBE", &["p*"]);
    confirm(&mut c, "SSUBSCRIBE", &["s1", "s2", "s3"]);
    let mut admin = s.raw();
    let list = admin.call(&["CLIENT", "LIST"]).text();
    let line = list
        .lines()
        .find(|l| l.contains("cmd=ssubscribe"))
        .expect("the subscriber's line");
    assert!(line.contains(" flags=P "), "{line}");
    assert!(line.contains(" sub=2 psub=1 ssub=3 "), "{line}");
    let mine = list
        .lines()
        .find(|l| l.contains("cmd=client|list"))
        .expect("our line");
    assert!(mine.contains(" flags=N ") && mine.contains(" sub=0 psub=0 ssub=0 "));
    let pubsub = admin.call(&["CLIENT", "LIST", "TYPE", "pubsub"]).text();
    assert_eq!(pubsub.lines().count(), 1);
    assert!(pubsub.contains("cmd=ssubscribe"));
    let normal = admin.call(&["CLIENT", "LIST", "TYPE", "normal"]).text();
    assert_eq!(normal.lines().count(), 1);
    assert!(normal.contains("cmd=client|list"));
    assert_eq!(admin.call(&["CLIENT", "KILL", "TYPE", "pubsub"]).int(), 1);
    assert!(c.is_closed());
    wait_for(
        Duration::from_secs(10),
        "the killed subscriber to go",
        || (admin.call(&["PUBSUB", "NUMPAT"]).int() == 0).then_some(()),
    );
}

#[test]
fn subscribers_are_not_idle() {
    let s = Server::start_with(&["--timeout", "1"]);
    let mut c = subscriber(s.port, "SUBSCRIBE", &["t"]);
    let mut idle = s.raw();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    assert!(idle.is_closed(), "an idle normal client is closed");
    let mut p = s.raw();
    assert_eq!(publish(&mut p, "PUBLISH", "t", "still here"), 1);
    assert_eq!(strings(&c.read()), ["message", "t", "still here"]);
}

/// Glob patterns match as Redis's `stringmatchlen` does: the receiver
/// counts for a grid of patterns and channels equal the reference
/// server's (when it is installed) and the expected figures.
#[test]
fn patterns_match_like_redis() {
    let patterns = [
        "*",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[a-b]llo",
        "h[b-a]llo",
        "h\\*llo",
        "h\\[llo",
        "[",
        "[abc",
        "*[0-9]",
        "a\\",
        "\\\\",
        "*o",
        "h[\\]]llo",
        "??",
        "[\\]",
        "",
    ];
    let channels = [
        "hello", "hallo", "hbllo", "hxllo", "h*llo", "h[llo", "heeeello", "[", "a", "b", "key7",
        "a\\", "\\", "h]llo", "hi", "", "]",
    ];
    let counts = |port: u16| -> Vec<i64> {
        let mut subs: Vec<Raw> = patterns
            .iter()
            .map(|p| subscriber(port, "PSUBSCRIBE", &[p]))
            .collect();
        let mut p = Raw::connect(port);
        let out: Vec<i64> = channels
            .iter()
            .map(|c| publish(&mut p, "PUBLISH", c, "m"))
            .collect();
        subs.clear();
        out
    };
    let ours = counts(Server::start().port);
    if redis_server_available() {
        let redis = RedisServer::start();
        assert_eq!(ours, counts(redis.port), "receivers differ from Redis's");
    }
    assert_eq!(ours, [5, 8, 7, 5, 6, 6, 3, 1, 2, 2, 2, 3, 2, 6, 2, 1, 2]);
}

/// A pipelined write followed by a PUBLISH announcing it: whoever receives
/// the message sees the write, whichever core owns the key.
#[test]
fn publish_runs_after_the_writes_before_it() {
    let s = Server::start();
    let keys = key_per_shard("announce");
    let mut readers: Vec<Raw> = (0..SPREAD)
        .map(|_| {
            let mut r = s.raw();
            assert!(matches!(r.call(&["HELLO", "3"]), Resp::Map(_)));
            r.send(&encode_cmd(&["SUBSCRIBE", "written"]));
            assert_eq!(strings(&r.read())[2], "1");
            r
        })
        .collect();
    let mut w = s.raw();
    for round in 0..20 {
        let mut buf = Vec::new();
        for k in &keys {
            buf.extend(encode_cmd(&["SET", k, &format!("v{round}")]));
            buf.extend(encode_cmd(&["PUBLISH", "written", k]));
        }
        w.send(&buf);
        for _ in &keys {
            assert_eq!(w.read_raw(), b"+OK\r\n");
            assert_eq!(w.read().int(), SPREAD as i64);
        }
        for r in readers.iter_mut() {
            // Messages that arrive while a GET is answered wait their turn.
            let mut queued = std::collections::VecDeque::new();
            for k in &keys {
                let m = match queued.pop_front() {
                    Some(m) => m,
                    None => r.read(),
                };
                assert_eq!(strings(&m), ["message", "written", k.as_str()]);
                r.send(&encode_cmd(&["GET", k]));
                let value = loop {
                    match r.read() {
                        p @ Resp::Push(_) => queued.push_back(p),
                        v => break v,
                    }
                };
                assert_eq!(value.text(), format!("v{round}"));
            }
        }
    }
}
