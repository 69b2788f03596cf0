//! Bitmap commands checked against a model computed in the test.

mod common;

use common::*;
use redis::Commands;

fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn popcount(b: &[u8]) -> i64 {
    b.iter().map(|x| x.count_ones() as i64).sum()
}

#[test]
fn setbit_getbit_model() {
    let s = Server::start();
    let mut c = s.conn();
    let mut model = vec![0u8; 0];
    let offsets = [0usize, 1, 7, 8, 9, 63, 64, 1000, 12345, 99_999, 7];
    for (i, &off) in offsets.iter().enumerate() {
        let bit = (i % 3 != 2) as u8;
        let old: u8 = redis::cmd("SETBIT")
            .arg("bm")
            .arg(off)
            .arg(bit)
            .query(&mut c)
            .unwrap();
        if model.len() <= off / 8 {
            model.resize(off / 8 + 1, 0);
        }
        let mask = 0x80 >> (off % 8);
        assert_eq!(old, (model[off / 8] & mask != 0) as u8, "old bit at {off}");
        if bit == 1 {
            model[off / 8] |= mask;
        } else {
            model[off / 8] &= !mask;
        }
    }
    let got: Vec<u8> = c.get("bm").unwrap();
    assert_eq!(got, model);
    for off in 0..200 {
        let b: u8 = c.getbit("bm", off).unwrap();
        let want = model.get(off / 8).map_or(0, |x| (x >> (7 - off % 8)) & 1);
        assert_eq!(b, want, "GETBIT {off}");
    }
    // A large offset grows the string with zeros.
    let _: u8 = redis::cmd("SETBIT")
        .arg("far")
        .arg(8 * 1024 * 1024 - 1)
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(c.strlen::<_, usize>("far").unwrap(), 1024 * 1024);
    assert_eq!(c.bitcount::<_, i64>("far").unwrap(), 1);
}

#[test]
fn bitcount_and_bitpos_model() {
    let s = Server::start();
    let mut c = s.conn();
    let v = data(42, 1000);
    let _: () = c.set("d", v.as_slice()).unwrap();
    assert_eq!(c.bitcount::<_, i64>("d").unwrap(), popcount(&v));
    for (a, b) in [
        (0i64, 0i64),
        (3, 17),
        (-10, -1),
        (-2000, 5),
        (500, 2000),
        (10, 5),
    ] {
        let n = v.len() as i64;
        let mut s0 = if a < 0 { (n + a).max(0) } else { a };
        let e0 = if b < 0 { n + b } else { b.min(n - 1) };
        s0 = s0.min(n);
        let want = if s0 > e0 {
            0
        } else {
            popcount(&v[s0 as usize..=e0 as usize])
        };
        let got: i64 = c
            .bitcount_range("d", a as usize, b as usize)
            .unwrap_or_else(|_| {
                redis::cmd("BITCOUNT")
                    .arg("d")
                    .arg(a)
                    .arg(b)
                    .query(&mut c)
                    .unwrap()
            });
        assert_eq!(got, want, "BITCOUNT d {a} {b}");
    }
    // BIT ranges against the model.
    let bit = |i: usize| (v[i / 8] >> (7 - i % 8)) & 1;
    for (a, b) in [(0usize, 0usize), (5, 77), (100, 4000), (7999, 7999)] {
        let want: i64 = (a..=b).map(|i| bit(i) as i64).sum();
        let got: i64 = redis::cmd("BITCOUNT")
            .arg("d")
            .arg(a)
            .arg(b)
            .arg("BIT")
            .query(&mut c)
            .unwrap();
        assert_eq!(got, want, "BITCOUNT d {a} {b} BIT");
    }
    let first1 = (0..8000).find(|&i| bit(i) == 1).map_or(-1, |i| i as i64);
    let first0 = (0..8000).find(|&i| bit(i) == 0).map_or(-1, |i| i as i64);
    assert_eq!(
        redis::cmd("BITPOS")
            .arg("d")
            .arg(1)
            .query::<i64>(&mut c)
            .unwrap(),
        first1
    );
    assert_eq!(
        redis::cmd("BITPOS")
            .arg("d")
            .arg(0)
            .query::<i64>(&mut c)
            .unwrap(),
        first0
    );
    let from = 1234usize;
    let want = (from..8000).find(|&i| bit(i) == 1).map_or(-1, |i| i as i64);
    let got: i64 = redis::cmd("BITPOS")
        .arg("d")
        .arg(1)
        .arg(from)
        .arg(-1)
        .arg("BIT")
        .query(&mut c)
        .unwrap();
    assert_eq!(got, want);
}

#[test]
fn bitop_across_shards() {
    let s = Server::start();
    let mut c = s.conn();
    let keys = key_per_shard("bo");
    let vals: Vec<Vec<u8>> = (0..keys.len())
        .map(|i| data(i as u64 + 7, 100 + 37 * i))
        .collect();
    for (k, v) in keys.iter().zip(&vals) {
        let _: () = c.set(k, v.as_slice()).unwrap();
    }
    let maxlen = vals.iter().map(|v| v.len()).max().unwrap();
    let byte = |v: &Vec<u8>, i: usize| v.get(i).copied().unwrap_or(0);
    for (op, f) in [
        ("AND", (|a: u8, b: u8| a & b) as fn(u8, u8) -> u8),
        ("OR", |a, b| a | b),
        ("XOR", |a, b| a ^ b),
    ] {
        for dest in &keys {
            let n: i64 = redis::cmd("BITOP")
                .arg(op)
                .arg(dest)
                .arg(&keys)
                .query(&mut c)
                .unwrap();
            assert_eq!(n as usize, maxlen);
            let want: Vec<u8> = (0..maxlen)
                .map(|i| {
                    vals[1..]
                        .iter()
                        .fold(byte(&vals[0], i), |acc, v| f(acc, byte(v, i)))
                })
                .collect();
            let got: Vec<u8> = c.get(dest).unwrap();
            assert_eq!(got, want, "BITOP {op} into {dest}");
            // Restore the sources for the next round.
            for (k, v) in keys.iter().zip(&vals) {
                let _: () = c.set(k, v.as_slice()).unwrap();
            }
        }
    }
    let n: i64 = redis::cmd("BITOP")
        .arg("NOT")
        .arg("notdest")
        .arg(&keys[1])
        .query(&mut c)
        .unwrap();
    assert_eq!(n as usize, vals[1].len());
    let got: Vec<u8> = c.get("notdest").unwrap();
    assert_eq!(got, vals[1].iter().map(|b| !b).collect::<Vec<u8>>());
}

#[test]
fn bitfield_counters() {
    let s = Server::start();
    let mut c = s.conn();
    // 100 u8 counters with saturation, incremented from several clients.
    let port = s.port;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = connect_redis(port);
                for _ in 0..100 {
                    let _: Vec<i64> = redis::cmd("BITFIELD")
                        .arg("ctr")
                        .arg("OVERFLOW")
                        .arg("SAT")
                        .arg("INCRBY")
                        .arg("u8")
                        .arg("#0")
                        .arg(1)
                        .arg("INCRBY")
                        .arg("u8")
                        .arg("#1")
                        .arg(3)
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v: Vec<i64> = redis::cmd("BITFIELD_RO")
        .arg("ctr")
        .arg("GET")
        .arg("u8")
        .arg("#0")
        .arg("GET")
        .arg("u8")
        .arg("#1")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, [255, 255]);
    let v: Vec<Option<i64>> = redis::cmd("BITFIELD")
        .arg("ctr")
        .arg("OVERFLOW")
        .arg("FAIL")
        .arg("INCRBY")
        .arg("u8")
        .arg("#0")
        .arg(1)
        .arg("OVERFLOW")
        .arg("WRAP")
        .arg("INCRBY")
        .arg("u8")
        .arg("#1")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, [None, Some(0)]);
}
