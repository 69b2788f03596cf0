//! Protocol hot paths: parsing a pipelined request buffer, encoding replies, and
//! hashing keys to slots.
//!
//! `cargo bench --bench protocol`

use coreshard::protocol::{Args, ParseLimits, Parsed, Reply, parse_command};
use coreshard::shard::slot::{key_owner, key_slot};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};

fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A pipeline of `n` requests, alternating SET key:i value and GET key:i.
fn pipeline(n: usize, value_len: usize) -> Vec<u8> {
    let value = vec![b'x'; value_len];
    let mut buf = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:08}");
        if i % 2 == 0 {
            encode(&[b"SET", key.as_bytes(), &value], &mut buf);
        } else {
            encode(&[b"GET", key.as_bytes()], &mut buf);
        }
    }
    buf
}

/// Parses every request in `buf`; returns the number of arguments seen.
fn parse_all(buf: &[u8], ranges: &mut Vec<(usize, usize)>, scratch: &mut Vec<u8>) -> usize {
    let limits = ParseLimits::default();
    let mut pos = 0;
    let mut nargs = 0;
    while pos < buf.len() {
        match parse_command(&buf[pos..], ranges, scratch, &limits) {
            Ok(Parsed::Command { consumed, inline }) => {
                let src = if inline { &scratch[..] } else { &buf[pos..] };
                nargs += Args::new(src, ranges).len();
                pos += consumed;
            }
            Ok(Parsed::Skip { consumed }) => pos += consumed,
            Ok(Parsed::Incomplete) | Err(_) => break,
        }
    }
    nargs
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for (n, vlen) in [(1usize, 16usize), (16, 16), (256, 16), (256, 1024)] {
        let buf = pipeline(n, vlen);
        g.throughput(Throughput::Bytes(buf.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("multibulk", format!("{n}x{vlen}B")),
            &buf,
            |b, buf| {
                let mut ranges = Vec::new();
                let mut scratch = Vec::new();
                b.iter(|| parse_all(black_box(buf), &mut ranges, &mut scratch))
            },
        );
    }
    let mut inline = Vec::new();
    for i in 0..256 {
        inline.extend_from_slice(format!("SET key:{i} \"some value\"\r\n").as_bytes());
    }
    g.throughput(Throughput::Bytes(inline.len() as u64));
    g.bench_function("inline/256", |b| {
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        b.iter(|| parse_all(black_box(&inline), &mut ranges, &mut scratch))
    });
    g.finish();
}

fn bench_reply(c: &mut Criterion) {
    let mut g = c.benchmark_group("reply");
    let value = vec![b'v'; 64];
    g.bench_function("ok_x256", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, false);
            for _ in 0..256 {
                r.ok();
            }
            black_box(out.len())
        })
    });
    g.bench_function("bulk64_x256", |b| {
        let mut out = Vec::with_capacity(32 * 1024);
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, false);
            for _ in 0..256 {
                r.bulk(black_box(&value));
            }
            black_box(out.len())
        })
    });
    g.bench_function("int_x256", |b| {
        let mut out = Vec::with_capacity(8 * 1024);
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, false);
            for i in 0..256i64 {
                r.int(black_box(i * 1_000_003));
            }
            black_box(out.len())
        })
    });
    g.bench_function("array_of_100_bulks_resp3", |b| {
        let mut out = Vec::with_capacity(16 * 1024);
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, true);
            r.array(100);
            for _ in 0..100 {
                r.bulk(black_box(&value));
            }
            r.null();
            black_box(out.len())
        })
    });
    g.bench_function("double_x256", |b| {
        let mut out = Vec::with_capacity(8 * 1024);
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, true);
            for i in 0..256 {
                r.double(black_box(i as f64 * 1.1));
            }
            black_box(out.len())
        })
    });
    g.finish();
}

fn bench_slots(c: &mut Criterion) {
    let keys: Vec<Vec<u8>> = (0..1024)
        .map(|i| format!("user:{i}:profile").into_bytes())
        .collect();
    let tagged: Vec<Vec<u8>> = (0..1024)
        .map(|i| format!("{{user:{}}}:field:{i}", i % 16).into_bytes())
        .collect();
    let mut g = c.benchmark_group("slot");
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("key_slot_1024", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| key_slot(black_box(k)) as u64)
                .sum::<u64>()
        })
    });
    g.bench_function("key_slot_hashtag_1024", |b| {
        b.iter(|| {
            tagged
                .iter()
                .map(|k| key_slot(black_box(k)) as u64)
                .sum::<u64>()
        })
    });
    g.bench_function("key_owner_1024_of_4", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| key_owner(black_box(k), 4))
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parse, bench_reply, bench_slots);
criterion_main!(benches);
