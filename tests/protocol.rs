//! RESP protocol conformance against the real binary: inline and multibulk
//! requests, big pipelines, requests split at every byte, RESP3, and malformed
//! input (exact Redis error text, connection closed, server unharmed).

mod common;

use common::*;

/// After trouble on one connection, a fresh client must still be served.
fn assert_serving(s: &Server) {
    let mut c = s.raw();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.cmd(&["SET", "alive", "yes"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "alive"]), b"$3\r\nyes\r\n");
}

#[test]
fn inline_commands() {
    let s = Server::start();
    let mut c = s.raw();
    c.send(b"PING\r\n");
    assert_eq!(c.read_raw(), b"+PONG\r\n");
    c.send(b"PING\n");
    assert_eq!(c.read_raw(), b"+PONG\r\n");
    c.send(b"ECHO hello\r\n");
    assert_eq!(c.read_raw(), b"$5\r\nhello\r\n");
    // Empty lines carry no command.
    c.send(b"\r\n\r\n\nPING\r\n");
    assert_eq!(c.read_raw(), b"+PONG\r\n");
    // Extra spaces, double and single quotes, escapes.
    c.send(b"PING   \"x\"  \r\n");
    assert_eq!(c.read_raw(), b"$1\r\nx\r\n");
    c.send(b"ECHO \"\\x41\\n\"\r\n");
    assert_eq!(c.read_raw(), b"$2\r\nA\n\r\n");
    c.send(b"SET \"a b\" 'c \\' d'\r\n");
    assert_eq!(c.read_raw(), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a b"]), b"$5\r\nc ' d\r\n");
    c.send(b"ECHO \"\"\r\n");
    assert_eq!(c.read_raw(), b"$0\r\n\r\n");
    // Several inline commands in one write.
    c.send(b"SET i1 v1\r\nGET i1\r\nPING\r\n");
    assert_eq!(c.read_raw(), b"+OK\r\n");
    assert_eq!(c.read_raw(), b"$2\r\nv1\r\n");
    assert_eq!(c.read_raw(), b"+PONG\r\n");
    // Inline and multibulk mixed.
    let mut buf = b"SET mix 1\r\n".to_vec();
    buf.extend(encode_cmd(&["GET", "mix"]));
    buf.extend(b"ECHO done\r\n");
    c.send(&buf);
    assert_eq!(c.read_raw(), b"+OK\r\n");
    assert_eq!(c.read_raw(), b"$1\r\n1\r\n");
    assert_eq!(c.read_raw(), b"$4\r\ndone\r\n");
}

#[test]
fn empty_and_null_multibulk_are_skipped() {
    let s = Server::start();
    let mut c = s.raw();
    c.send(b"*0\r\nPING\r\n");
    assert_eq!(c.read_raw(), b"+PONG\r\n");
    c.send(b"*-1\r\nPING\r\n");
    assert_eq!(c.read_raw(), b"+PONG\r\n");
    // An empty argument is a (unknown) command name.
    c.send(b"*1\r\n$0\r\n\r\n");
    assert_eq!(
        c.read_raw(),
        b"-ERR unknown command '', with args beginning with: \r\n"
    );
}

#[test]
fn error_texts() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["NOSUCHCMD", "a", "b"]),
        b"-ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        c.cmd(&["nosuch"]),
        b"-ERR unknown command 'nosuch', with args beginning with: \r\n"
    );
    assert_eq!(
        c.cmd(&["GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.cmd(&["get", "a", "b"]),
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.cmd(&["ECHO"]),
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    // Command names are case-insensitive.
    assert_eq!(c.cmd(&["pInG"]), b"+PONG\r\n");
    // The connection stays usable after command errors.
    assert_eq!(c.cmd(&["PING", "still"]), b"$5\r\nstill\r\n");
}

#[test]
fn pipeline_of_10000_commands() {
    let s = Server::start();
    let mut c = s.raw();
    let n = 10_000;
    let mut buf = Vec::new();
    for i in 0..n {
        match i % 4 {
            0 => buf.extend(encode_cmd(&["SET", &format!("p:{i}"), &format!("v{i}")])),
            1 => buf.extend(encode_cmd(&["GET", &format!("p:{}", i - 1)])),
            2 => buf.extend(encode_cmd(&["ECHO", &format!("e{i}")])),
            _ => buf.extend(encode_cmd(&["GET", &format!("missing:{i}")])),
        }
    }
    // Write from another thread so a server that answers early can't deadlock us.
    let mut w = c.writer_clone();
    let t = std::thread::spawn(move || {
        use std::io::Write;
        w.write_all(&buf).expect("write pipeline");
    });
    for i in 0..n {
        let got = c.read_raw();
        let want = match i % 4 {
            0 => b"+OK\r\n".to_vec(),
            1 => {
                let v = format!("v{}", i - 1);
                format!("${}\r\n{v}\r\n", v.len()).into_bytes()
            }
            2 => {
                let v = format!("e{i}");
                format!("${}\r\n{v}\r\n", v.len()).into_bytes()
            }
            _ => b"$-1\r\n".to_vec(),
        };
        assert_eq!(
            got,
            want,
            "reply {i}: got {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    t.join().expect("writer thread");
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn pipelines_with_keys_on_all_shards_keep_order() {
    let s = Server::start();
    let keys = keys_on_every_shard("order", 50);
    let mut c = s.raw();
    let mut buf = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        buf.extend(encode_cmd(&["SET", k, &i.to_string()]));
    }
    for k in &keys {
        buf.extend(encode_cmd(&["GET", k]));
        buf.extend(encode_cmd(&["PING"]));
    }
    c.send(&buf);
    for _ in &keys {
        assert_eq!(c.read_raw(), b"+OK\r\n");
    }
    for (i, _) in keys.iter().enumerate() {
        let v = i.to_string();
        assert_eq!(
            c.read_raw(),
            format!("${}\r\n{v}\r\n", v.len()).into_bytes()
        );
        assert_eq!(c.read_raw(), b"+PONG\r\n");
    }
}

#[test]
fn requests_split_at_every_byte_boundary() {
    let s = Server::start();
    let keys = key_per_shard("split");
    let mut buf = Vec::new();
    buf.extend(encode_cmd(&["SET", &keys[0], "hello world"]));
    buf.extend(b"GET \"".iter().copied());
    buf.extend(keys[0].as_bytes());
    buf.extend(b"\"\r\n");
    buf.extend(encode_cmd(&["SET", &keys[1], "x\r\ny"]));
    buf.extend(encode_cmd(&["GET", &keys[1]]));
    buf.extend(encode_cmd(&["ECHO", ""]));
    buf.extend(b"PING\r\n");
    let want: Vec<&[u8]> = vec![
        b"+OK\r\n",
        b"$11\r\nhello world\r\n",
        b"+OK\r\n",
        b"$4\r\nx\r\ny\r\n",
        b"$0\r\n\r\n",
        b"+PONG\r\n",
    ];
    let mut c = s.raw();
    for cut in 1..buf.len() {
        c.send(&buf[..cut]);
        c.send(&buf[cut..]);
        for w in &want {
            assert_eq!(c.read_raw(), *w, "split at byte {cut}");
        }
    }
    // One byte per write.
    for b in &buf {
        c.send(std::slice::from_ref(b));
    }
    for w in &want {
        assert_eq!(c.read_raw(), *w, "byte-at-a-time");
    }
}

#[test]
fn large_values_and_pipelines() {
    let s = Server::start();
    let mut c = s.raw();
    let big: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.cmd(&[b"SET".as_slice(), b"big", &big]), b"+OK\r\n");
    match c.call(&["GET", "big"]) {
        Resp::Bulk(b) => assert!(b == big, "4 MiB value round trip"),
        other => panic!("unexpected {other:?}"),
    }
    // Many big replies queued before the client reads any of them.
    let mut buf = Vec::new();
    for _ in 0..20 {
        buf.extend(encode_cmd(&["GET", "big"]));
    }
    c.send(&buf);
    for _ in 0..20 {
        match c.read() {
            Resp::Bulk(b) => assert_eq!(b.len(), big.len()),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn resp3_via_hello() {
    let s = Server::start();
    let mut c = s.raw();
    match c.call(&["HELLO", "3"]) {
        Resp::Map(fields) => {
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k.text() == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("HELLO reply lacks {name}"))
            };
            assert_eq!(get("server").text(), "redis");
            assert_eq!(get("version").text(), "7.0.15");
            assert_eq!(get("proto").int(), 3);
            assert_eq!(get("mode").text(), "standalone");
            assert_eq!(get("role").text(), "master");
            assert!(get("id").int() > 0);
        }
        other => panic!("HELLO 3 must reply with a map, got {other:?}"),
    }
    // RESP3 null for a missing key, RESP3 map/set types elsewhere.
    assert_eq!(c.cmd(&["GET", "nokey"]), b"_\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    // Back to RESP2.
    match c.call(&["HELLO", "2"]) {
        Resp::Array(v) => assert_eq!(v.len(), 14),
        other => panic!("HELLO 2 must reply with an array, got {other:?}"),
    }
    assert_eq!(c.cmd(&["GET", "nokey"]), b"$-1\r\n");
    assert_eq!(
        c.cmd(&["HELLO", "4"]),
        b"-NOPROTO unsupported protocol version\r\n"
    );
}

/// Sends `input` on a fresh connection, expects exactly `reply` and then EOF.
fn expect_protocol_error(s: &Server, input: &[u8], reply: &[u8]) {
    let mut c = s.raw();
    c.send(input);
    let got = c.read_raw();
    assert_eq!(
        got,
        reply,
        "input {:?}: got {:?}",
        String::from_utf8_lossy(input),
        String::from_utf8_lossy(&got)
    );
    assert!(
        c.is_closed(),
        "connection must be closed after a protocol error ({:?})",
        String::from_utf8_lossy(input)
    );
    assert_serving(s);
}

const BAD_MBULK: &[u8] = b"-ERR Protocol error: invalid multibulk length\r\n";
const BAD_BULK: &[u8] = b"-ERR Protocol error: invalid bulk length\r\n";
const UNBALANCED: &[u8] = b"-ERR Protocol error: unbalanced quotes in request\r\n";

#[test]
fn malformed_multibulk_length() {
    let s = Server::start();
    expect_protocol_error(&s, b"*abc\r\n", BAD_MBULK);
    expect_protocol_error(&s, b"*+1\r\n$4\r\nPING\r\n", BAD_MBULK);
    expect_protocol_error(&s, b"*1x\r\n", BAD_MBULK);
    expect_protocol_error(&s, b"*3000000000\r\n", BAD_MBULK);
}

#[test]
fn malformed_bulk_length() {
    let s = Server::start();
    expect_protocol_error(&s, b"*3\r\n$-5\r\n", BAD_BULK);
    expect_protocol_error(&s, b"*1\r\n$-1\r\n", BAD_BULK);
    expect_protocol_error(&s, b"*1\r\n$abc\r\n", BAD_BULK);
    expect_protocol_error(&s, b"*2\r\n$4\r\nECHO\r\n$4294967296000\r\n", BAD_BULK);
    // Beyond the default proto-max-bulk-len (512 MiB).
    expect_protocol_error(&s, b"*2\r\n$3\r\nGET\r\n$536870913\r\n", BAD_BULK);
}

#[test]
fn negative_zero_bulk_length_is_invalid() {
    let s = Server::start();
    expect_protocol_error(&s, b"*1\r\n$-0\r\n", BAD_BULK);
}

#[test]
fn oversized_bulk_respects_configured_limit() {
    let s = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n".to_vec();
    input.extend(b"$1048577\r\n");
    expect_protocol_error(&s, &input, BAD_BULK);
    // Exactly at the limit is accepted.
    let mut c = s.raw();
    let v = vec![b'z'; 1024 * 1024];
    assert_eq!(c.cmd(&[b"SET".as_slice(), b"k", &v]), b"+OK\r\n");
    match c.call(&["GET", "k"]) {
        Resp::Bulk(b) => assert_eq!(b.len(), v.len()),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn expected_dollar() {
    let s = Server::start();
    expect_protocol_error(
        &s,
        b"*2\r\n$3\r\nGET\r\n+bar\r\n",
        b"-ERR Protocol error: expected '$', got '+'\r\n",
    );
    expect_protocol_error(
        &s,
        b"*1\r\n:1\r\n",
        b"-ERR Protocol error: expected '$', got ':'\r\n",
    );
}

#[test]
fn unbalanced_quotes() {
    let s = Server::start();
    expect_protocol_error(&s, b"SET \"a b\r\n", UNBALANCED);
    expect_protocol_error(&s, b"SET 'a\r\n", UNBALANCED);
    // A closing quote must be followed by a space or the end.
    expect_protocol_error(&s, b"SET \"a\"b c\r\n", UNBALANCED);
}

#[test]
fn replies_before_a_protocol_error_are_delivered() {
    let s = Server::start();
    let mut c = s.raw();
    let mut input = encode_cmd(&["SET", "before", "1"]);
    input.extend(encode_cmd(&["GET", "before"]));
    input.extend(b"*x\r\n");
    input.extend(encode_cmd(&["PING"]));
    c.send(&input);
    assert_eq!(c.read_raw(), b"+OK\r\n");
    assert_eq!(c.read_raw(), b"$1\r\n1\r\n");
    assert_eq!(c.read_raw(), BAD_MBULK);
    assert!(c.is_closed());
    assert_serving(&s);
}

#[test]
fn multibulk_count_above_one_million_is_accepted() {
    // Redis only rejects counts above INT_MAX (and above 10 before AUTH when a
    // password is required); a long argument list is a normal request.
    let s = Server::start();
    let mut c = s.raw();
    let n = 1024 * 1024 + 1;
    let mut input = format!("*{n}\r\n$4\r\nPING\r\n").into_bytes();
    for _ in 1..n {
        input.extend(b"$1\r\nx\r\n");
    }
    let mut w = c.writer_clone();
    let t = std::thread::spawn(move || {
        use std::io::Write;
        let _ = w.write_all(&input);
    });
    assert_eq!(
        c.read_raw(),
        b"-ERR wrong number of arguments for 'ping' command\r\n"
    );
    t.join().expect("writer");
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn garbage_bytes_do_not_hurt_the_server() {
    let mut s = Server::start();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..50 {
        let mut c = s.raw();
        let len = 1 + (round * 37) % 700;
        let mut junk = Vec::with_capacity(len);
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push((seed >> 24) as u8);
        }
        if round % 3 == 0 {
            junk[0] = b'*';
        } else if round % 3 == 1 {
            junk[0] = b'$';
        }
        let _ = c.try_send(&junk);
        // Whatever it answers, we drop the connection.
    }
    assert!(s.is_alive(), "server died on garbage input");
    assert_serving(&s);
}

#[test]
fn abrupt_disconnects() {
    let mut s = Server::start();
    // Mid-command, at several points of a request.
    let full = encode_cmd(&["SET", "half", "0123456789"]);
    for cut in [1, 4, 9, 15, full.len() - 1] {
        let mut c = s.raw();
        c.send(&full[..cut]);
        drop(c);
    }
    // Half-closed after a partial request.
    let mut c = s.raw();
    c.send(&full[..10]);
    c.shutdown_write();
    assert!(c.is_closed());
    // With a pipeline whose replies are never read.
    let mut c = s.raw();
    let mut buf = Vec::new();
    let v = vec![b'v'; 64 * 1024];
    buf.extend(encode_cmd(&[b"SET".as_slice(), b"bigv", &v]));
    for _ in 0..200 {
        buf.extend(encode_cmd(&["GET", "bigv"]));
    }
    c.send(&buf);
    drop(c);
    // Commands for other shards in flight when the client vanishes.
    for k in key_per_shard("gone") {
        let mut c = s.raw();
        let mut buf = Vec::new();
        for _ in 0..100 {
            buf.extend(encode_cmd(&["SET", &k, "x"]));
        }
        c.send(&buf);
        drop(c);
    }
    assert!(s.is_alive());
    assert_serving(&s);
    // The partial SET never ran.
    let mut c = s.raw();
    assert_eq!(c.cmd(&["GET", "half"]), b"$-1\r\n");
}

#[test]
fn quit_replies_ok_and_closes() {
    let s = Server::start();
    let mut c = s.raw();
    c.send(&encode_cmd(&["QUIT"]));
    assert_eq!(c.read_raw(), b"+OK\r\n");
    assert!(c.is_closed());
    assert_serving(&s);
}

#[test]
fn many_concurrent_clients() {
    let s = Server::start();
    let port = s.port;
    let threads: Vec<_> = (0..16)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                let mut buf = Vec::new();
                for i in 0..300 {
                    buf.extend(encode_cmd(&[
                        "SET",
                        &format!("c{t}:{i}"),
                        &format!("{t}-{i}"),
                    ]));
                }
                c.send(&buf);
                for _ in 0..300 {
                    assert_eq!(c.read_raw(), b"+OK\r\n");
                }
                for i in 0..300 {
                    let v = format!("{t}-{i}");
                    assert_eq!(
                        c.cmd(&["GET", &format!("c{t}:{i}")]),
                        format!("${}\r\n{v}\r\n", v.len()).into_bytes()
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
}

#[test]
fn redis_crate_client_works() {
    let s = Server::start();
    let mut con = s.conn();
    let _: () = redis::cmd("SET")
        .arg("rk")
        .arg("rv")
        .query(&mut con)
        .expect("SET");
    let v: Option<String> = redis::cmd("GET").arg("rk").query(&mut con).expect("GET");
    assert_eq!(v.as_deref(), Some("rv"));
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
    assert_eq!(pong, "PONG");
}

#[test]
fn header_numbers_follow_string2ll() {
    let s = Server::start();
    expect_protocol_error(&s, b"*1\r\n$04\r\nPING\r\n", BAD_BULK);
    expect_protocol_error(&s, b"*1\r\n$+4\r\nPING\r\n", BAD_BULK);
    expect_protocol_error(&s, b"*1\r\n$ 4\r\nPING\r\n", BAD_BULK);
    expect_protocol_error(&s, b"*01\r\n$4\r\nPING\r\n", BAD_MBULK);
    expect_protocol_error(&s, b"*2147483648\r\n", BAD_MBULK);
}
