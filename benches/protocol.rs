//! Protocol hot paths: parsing a pipelined request buffer, encoding replies, and
//! hashing keys to slots.
//!
//! `cargo bench --bench protocol`

use coreshard::protocol::{Args, ParseLimits, Parsed, Reply, parse_command};
use coreshard::shard::slot::{key_owner, key_slot};
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main,
    measurement::WallTime,
};
use std::time::Duration;

/// Keeps each bench short so the whole suite runs in a few minutes.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    g
}

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
    let mut g = group(c, "parse");
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
    // One request with many arguments: MSET of 64 key/value pairs (129 args).
    let mut mset: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..64 {
        mset.push(format!("key:{i:08}").into_bytes());
        mset.push(vec![b'v'; 32]);
    }
    let parts: Vec<&[u8]> = mset.iter().map(|a| a.as_slice()).collect();
    let mut many = Vec::new();
    encode(&parts, &mut many);
    g.throughput(Throughput::Bytes(many.len() as u64));
    g.bench_function("multibulk/mset_129_args", |b| {
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        b.iter(|| parse_all(black_box(&many), &mut ranges, &mut scratch))
    });
    // One large bulk: SET with a 512 KiB value.
    let big = pipeline(1, 512 * 1024);
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("multibulk/set_512KiB", |b| {
        let mut ranges = Vec::new();
        let mut scratch = Vec::new();
        b.iter(|| parse_all(black_box(&big), &mut ranges, &mut scratch))
    });
    g.finish();
}

fn bench_reply(c: &mut Criterion) {
    let mut g = group(c, "reply");
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
    g.bench_function("double_x256_resp2", |b| {
        let mut out = Vec::with_capacity(8 * 1024);
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, false);
            for i in 0..256 {
                r.double(black_box(i as f64 * 1.1));
            }
            black_box(out.len())
        })
    });
    // LRANGE-style reply: 100 bulks of 64 bytes in RESP2.
    g.bench_function("array_of_100_bulks_resp2", |b| {
        let mut out = Vec::with_capacity(16 * 1024);
        b.iter(|| {
            out.clear();
            let mut r = Reply::new(&mut out, false);
            r.array(100);
            for _ in 0..100 {
                r.bulk(black_box(&value));
            }
            black_box(out.len())
        })
    });
    // MGET-style reply: 16 short values, every fourth key missing.
    let short: Vec<Vec<u8>> = (0..16)
        .map(|i| format!("value:{i:026}").into_bytes())
        .collect();
    for resp3 in [false, true] {
        let name = if resp3 {
            "mget16_resp3"
        } else {
            "mget16_resp2"
        };
        g.bench_function(name, |b| {
            let mut out = Vec::with_capacity(4096);
            b.iter(|| {
                out.clear();
                let mut r = Reply::new(&mut out, resp3);
                r.array(short.len());
                for (i, v) in short.iter().enumerate() {
                    if i % 4 == 3 {
                        r.null();
                    } else {
                        r.bulk(black_box(v));
                    }
                }
                black_box(out.len())
            })
        });
    }
    // HGETALL-style reply: a 50-field map (RESP3 map; RESP2 flat array).
    let fields: Vec<(Vec<u8>, Vec<u8>)> = (0..50)
        .map(|i| (format!("field:{i}").into_bytes(), vec![b'v'; 24]))
        .collect();
    for resp3 in [false, true] {
        let name = if resp3 { "map50_resp3" } else { "map50_resp2" };
        g.bench_function(name, |b| {
            let mut out = Vec::with_capacity(8192);
            b.iter(|| {
                out.clear();
                let mut r = Reply::new(&mut out, resp3);
                r.map(fields.len());
                for (f, v) in &fields {
                    r.bulk(black_box(f));
                    r.bulk(black_box(v));
                }
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn bench_slots(c: &mut Criterion) {
    let keys: Vec<Vec<u8>> = (0..1024)
        .map(|i| format!("user:{i}:profile").into_bytes())
        .collect();
    let tagged: Vec<Vec<u8>> = (0..1024)
        .map(|i| format!("{{user:{}}}:field:{i}", i % 16).into_bytes())
        .collect();
    let mut g = group(c, "slot");
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
    // Single keys, one hash per iteration: a 16-byte key, the same with a
    // hashtag, an empty hashtag (whole key hashed) and a 256-byte key.
    let singles: [(&str, Vec<u8>); 4] = [
        ("single/plain_16B", b"key:000000012345".to_vec()),
        ("single/hashtag_16B", b"{user:42}:field9".to_vec()),
        ("single/empty_tag_16B", b"{}user:42:field9".to_vec()),
        ("single/plain_256B", vec![b'k'; 256]),
    ];
    g.throughput(Throughput::Elements(1));
    for (name, k) in &singles {
        g.bench_function(*name, |b| b.iter(|| key_slot(black_box(k))));
    }
    g.throughput(Throughput::Elements(keys.len() as u64));
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
