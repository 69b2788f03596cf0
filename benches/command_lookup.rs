//! Command-table lookup by name (case-insensitive), as dispatch does it for
//! every request.
//!
//! `cargo bench --bench command_lookup`

use coreshard::command::lookup;
use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use std::time::Duration;

fn bench_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("command_lookup");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    // Build the table before measuring.
    assert!(lookup(b"get").is_some());
    let names: &[&[u8]] = &[
        b"GET",
        b"get",
        b"SET",
        b"set",
        b"MGET",
        b"SETRANGE",
        b"setrange",
    ];
    for &name in names {
        assert!(lookup(name).is_some(), "{}", String::from_utf8_lossy(name));
        g.bench_function(
            BenchmarkId::new("hit", String::from_utf8_lossy(name)),
            |b| b.iter(|| lookup(black_box(name)).map(|s| s.arity)),
        );
    }
    for name in [&b"NOSUCHCMD"[..], &b"x"[..], &[b'A'; 80][..]] {
        assert!(lookup(name).is_none());
        let label = if name.len() > 16 {
            format!("{}B", name.len())
        } else {
            String::from_utf8_lossy(name).into_owned()
        };
        g.bench_function(BenchmarkId::new("miss", label), |b| {
            b.iter(|| lookup(black_box(name)).is_some())
        });
    }
    // A realistic mix: pipelined GET/SET in the case clients send.
    let mix: Vec<&[u8]> = (0..64)
        .map(|i| match i % 4 {
            0 => &b"GET"[..],
            1 => &b"SET"[..],
            2 => &b"get"[..],
            _ => &b"set"[..],
        })
        .collect();
    g.bench_function("mix_get_set_x64", |b| {
        b.iter(|| {
            mix.iter()
                .map(|n| lookup(black_box(n)).map_or(0, |s| s.arity as i64))
                .sum::<i64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_lookup);
criterion_main!(benches);
