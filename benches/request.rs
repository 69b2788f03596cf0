//! Whole request without the network: parse a RESP request, look the command up,
//! check arity and run its shard handler against a shard (`exec_shard`, the call
//! the connection loop makes for keys on the local core, statistics included).
//! Left out: the socket, client bookkeeping (CLIENT LIST info, auth, pause) and
//! key routing, which a single-core server skips anyway.
//!
//! `cargo bench --bench request`

use coreshard::command::session::exec_shard;
use coreshard::command::{Ctx, lookup};
use coreshard::protocol::{Args, ParseLimits, Parsed, parse_command};
use coreshard::shard::Shard;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::time::Duration;

const KEYS: usize = 1000;

fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

/// `n` requests of one kind over keys spread through the keyspace.
fn requests(cmd: &str, n: usize) -> Vec<u8> {
    let value = [b'v'; 32];
    let mut buf = Vec::new();
    for i in 0..n {
        let k = key(i * 7919 % KEYS);
        match cmd {
            "GET" => encode(&[b"GET", &k], &mut buf),
            "GET_MISS" => encode(&[b"GET", b"missing:00000000"], &mut buf),
            _ => encode(&[b"SET", &k, &value], &mut buf),
        }
    }
    buf
}

/// Parses and executes every request in `buf`; returns the reply bytes written.
fn serve(
    buf: &[u8],
    shard: &mut Shard,
    ranges: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> usize {
    let limits = ParseLimits::default();
    out.clear();
    let mut pos = 0;
    while pos < buf.len() {
        match parse_command(&buf[pos..], ranges, scratch, &limits) {
            Ok(Parsed::Command { consumed, inline }) => {
                let src = if inline { &scratch[..] } else { &buf[pos..] };
                let args = Args::new(src, ranges);
                if let Some(spec) = lookup(args.get(0))
                    && spec.arity_ok(args.len())
                {
                    let mut ctx = Ctx {
                        shard: &mut *shard,
                        db: 0,
                        now: coreshard::now_ms(),
                        no_touch: false,
                    };
                    exec_shard(spec, &mut ctx, out, false, args);
                }
                pos += consumed;
            }
            Ok(Parsed::Skip { consumed }) => pos += consumed,
            Ok(Parsed::Incomplete) | Err(_) => break,
        }
    }
    out.len()
}

fn bench_request(c: &mut Criterion) {
    let mut shard = Shard::new(0, 1, 16);
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    let mut out = Vec::with_capacity(64 * 1024);
    // Populate: 1k keys with 32-byte values.
    serve(
        &requests("SET", KEYS),
        &mut shard,
        &mut ranges,
        &mut scratch,
        &mut out,
    );
    assert_eq!(shard.db(0).len(), KEYS);

    let mut g = c.benchmark_group("request_parse_dispatch_1k_keys");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    for cmd in ["GET", "GET_MISS", "SET"] {
        for n in [1usize, 16] {
            let buf = requests(cmd, n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(
                BenchmarkId::new(cmd, format!("pipeline{n}")),
                &buf,
                |b, buf| {
                    b.iter(|| {
                        serve(
                            black_box(buf),
                            &mut shard,
                            &mut ranges,
                            &mut scratch,
                            &mut out,
                        )
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench_request);
criterion_main!(benches);
