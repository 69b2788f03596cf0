//! Key number generators: sequential, parallel slices, uniform, gaussian, zipf.
//!
//! Every client owns one [`KeyGen`] per command type, each fed by the client's own
//! [`Rng`]. All draws are O(1) and allocation-free.

/// A small, fast PRNG (xoshiro256**), seeded through splitmix64.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        Rng {
            s: [
                splitmix(&mut x),
                splitmix(&mut x),
                splitmix(&mut x),
                splitmix(&mut x),
            ],
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, n)` (`n > 0`), by multiply-shift (bias is negligible for
    /// benchmark key ranges).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal deviate (Box-Muller; one of the pair is discarded).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// A key pattern letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `S`: each client walks the whole range in order, wrapping.
    Sequential,
    /// `P`: each client walks its own disjoint slice, wrapping.
    Parallel,
    /// `R`: uniform.
    Random,
    /// `G`: gaussian around the median, clamped to the range.
    Gaussian,
    /// `Z`: zipf; rank 1 is the key minimum.
    Zipf,
}

impl Pattern {
    pub fn from_letter(s: &str) -> Option<Pattern> {
        Some(match s {
            "S" | "s" => Pattern::Sequential,
            "P" | "p" => Pattern::Parallel,
            "R" | "r" => Pattern::Random,
            "G" | "g" => Pattern::Gaussian,
            "Z" | "z" => Pattern::Zipf,
            _ => return None,
        })
    }

    pub fn letter(self) -> char {
        match self {
            Pattern::Sequential => 'S',
            Pattern::Parallel => 'P',
            Pattern::Random => 'R',
            Pattern::Gaussian => 'G',
            Pattern::Zipf => 'Z',
        }
    }
}

/// The key range shared by all generators.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub min: u64,
    pub max: u64,
    pub median: f64,
    pub stddev: f64,
    pub zipf_exp: f64,
}

impl Range {
    /// Number of keys in the range.
    pub fn len(&self) -> u64 {
        self.max - self.min + 1
    }
}

/// The slice `[start, end)` of `[min, max]` owned by client `index` of `total`
/// (contiguous, disjoint, together covering the range exactly once; may be empty
/// when there are more clients than keys).
pub fn slice(min: u64, max: u64, index: u64, total: u64) -> (u64, u64) {
    let len = (max - min) as u128 + 1;
    let a = min + (len * index as u128 / total as u128) as u64;
    let b = min + (len * (index as u128 + 1) / total as u128) as u64;
    (a, b)
}

/// Zipf sampler over ranks `1..=n` by rejection-inversion (Hörmann and Derflinger,
/// "Rejection-inversion to generate variates from monotone discrete distributions").
/// Constant time per draw, no tables.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: f64,
    q: f64,
    h_x1: f64,
    h_n: f64,
    s: f64,
}

/// `ln(1+x)/x`, continuous at 0.
fn log1p_over(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1)/x`, continuous at 0.
fn expm1_over(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

impl Zipf {
    /// `n >= 1` ranks, exponent `q > 0`.
    pub fn new(n: u64, q: f64) -> Zipf {
        let mut z = Zipf {
            n: n as f64,
            q,
            h_x1: 0.0,
            h_n: 0.0,
            s: 0.0,
        };
        z.h_x1 = z.big_h(1.5) - 1.0;
        z.h_n = z.big_h(z.n + 0.5);
        z.s = 2.0 - z.big_h_inv(z.big_h(2.5) - z.h(2.0));
        z
    }

    /// The unnormalised density `x^-q`.
    fn h(&self, x: f64) -> f64 {
        (-self.q * x.ln()).exp()
    }

    /// An antiderivative of `h`: `(x^(1-q) - 1)/(1-q)` (`ln x` when q = 1).
    fn big_h(&self, x: f64) -> f64 {
        let l = x.ln();
        expm1_over((1.0 - self.q) * l) * l
    }

    fn big_h_inv(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.q)).max(-1.0);
        (log1p_over(t) * x).exp()
    }

    /// A rank in `1..=n`.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_n + rng.next_f64() * (self.h_x1 - self.h_n);
            let x = self.big_h_inv(u);
            let k = x.round().clamp(1.0, self.n);
            if k - x <= self.s || u >= self.big_h(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }
}

/// One key stream.
#[derive(Clone, Debug)]
pub enum KeyGen {
    /// Next key to hand out in `[lo, hi)`, wrapping (S and P).
    Walk {
        next: u64,
        lo: u64,
        hi: u64,
    },
    Random {
        min: u64,
        len: u64,
    },
    Gaussian {
        min: u64,
        max: u64,
        median: f64,
        stddev: f64,
    },
    Zipf {
        min: u64,
        z: Box<Zipf>,
    },
}

impl KeyGen {
    /// The generator for client `index` of `total` clients.
    pub fn new(p: Pattern, r: &Range, index: u64, total: u64) -> KeyGen {
        match p {
            Pattern::Sequential => KeyGen::Walk {
                next: r.min,
                lo: r.min,
                hi: r.max + 1,
            },
            Pattern::Parallel => {
                let (lo, hi) = slice(r.min, r.max, index, total);
                // More clients than keys: the empty slice gets one key of its own.
                let (lo, hi) = if lo < hi {
                    (lo, hi)
                } else {
                    let k = r.min + index % r.len();
                    (k, k + 1)
                };
                KeyGen::Walk { next: lo, lo, hi }
            }
            Pattern::Random => KeyGen::Random {
                min: r.min,
                len: r.len(),
            },
            Pattern::Gaussian => KeyGen::Gaussian {
                min: r.min,
                max: r.max,
                median: r.median,
                stddev: r.stddev,
            },
            Pattern::Zipf => KeyGen::Zipf {
                min: r.min,
                z: Box::new(Zipf::new(r.len(), r.zipf_exp)),
            },
        }
    }

    /// A walk over exactly `[lo, hi)` (used by `--requests allkeys`).
    pub fn walk(lo: u64, hi: u64) -> KeyGen {
        KeyGen::Walk { next: lo, lo, hi }
    }

    #[inline]
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        match self {
            KeyGen::Walk { next, lo, hi } => {
                let k = *next;
                *next = if k + 1 >= *hi { *lo } else { k + 1 };
                k
            }
            KeyGen::Random { min, len } => *min + rng.below(*len),
            KeyGen::Gaussian {
                min,
                max,
                median,
                stddev,
            } => {
                let v = (*median + rng.gaussian() * *stddev).round();
                v.clamp(*min as f64, *max as f64) as u64
            }
            KeyGen::Zipf { min, z } => *min + z.sample(rng) - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: u64, max: u64) -> Range {
        Range {
            min,
            max,
            median: (min + max) as f64 / 2.0,
            stddev: (max - min) as f64 / 6.0,
            zipf_exp: 0.99,
        }
    }

    #[test]
    fn sequential_wraps() {
        let r = range(5, 8);
        let mut g = KeyGen::new(Pattern::Sequential, &r, 3, 10);
        let mut rng = Rng::new(1);
        let v: Vec<u64> = (0..9).map(|_| g.next(&mut rng)).collect();
        assert_eq!(v, [5, 6, 7, 8, 5, 6, 7, 8, 5]);
    }

    #[test]
    fn parallel_slices_are_disjoint_and_cover() {
        for (min, max, total) in [
            (0u64, 999u64, 7u64),
            (10, 10, 3),
            (0, 9_999_999, 100),
            (3, 12, 10),
        ] {
            let mut seen = std::collections::HashSet::new();
            let mut prev_end = min;
            for i in 0..total {
                let (a, b) = slice(min, max, i, total);
                assert_eq!(a, prev_end, "contiguous");
                prev_end = b;
                if (max - min) < 2000 {
                    let mut g = KeyGen::walk(a, b);
                    let mut rng = Rng::new(0);
                    for _ in a..b {
                        assert!(seen.insert(g.next(&mut rng)), "disjoint");
                    }
                }
            }
            assert_eq!(prev_end, max + 1, "covers");
            if (max - min) < 2000 {
                assert_eq!(seen.len() as u64, max - min + 1);
            }
        }
        // P generator wraps within its own slice.
        let r = range(0, 99);
        let mut g = KeyGen::new(Pattern::Parallel, &r, 1, 4);
        let mut rng = Rng::new(0);
        let v: Vec<u64> = (0..27).map(|_| g.next(&mut rng)).collect();
        assert_eq!(v[0], 25);
        assert_eq!(v[24], 49);
        assert_eq!(v[25], 25);
    }

    #[test]
    fn uniform_and_gaussian_stay_in_range() {
        let r = range(100, 199);
        let mut rng = Rng::new(42);
        for p in [Pattern::Random, Pattern::Gaussian, Pattern::Zipf] {
            let mut g = KeyGen::new(p, &r, 0, 1);
            let mut hit = [0u32; 100];
            for _ in 0..100_000 {
                let k = g.next(&mut rng);
                assert!((100..=199).contains(&k), "{p:?} {k}");
                hit[(k - 100) as usize] += 1;
            }
            if p == Pattern::Random {
                assert!(hit.iter().all(|&c| c > 700 && c < 1300), "{hit:?}");
            }
            if p == Pattern::Gaussian {
                // The middle is much more popular than the edges.
                assert!(hit[50] > 5 * hit[2].max(1));
            }
        }
    }

    #[test]
    fn zipf_skew() {
        let n = 1000u64;
        let z = Zipf::new(n, 0.99);
        let mut rng = Rng::new(7);
        let mut c = vec![0u64; n as usize + 1];
        let draws = 500_000;
        for _ in 0..draws {
            let k = z.sample(&mut rng);
            assert!((1..=n).contains(&k));
            c[k as usize] += 1;
        }
        let max_rank = (1..=n as usize).max_by_key(|&i| c[i]).unwrap();
        assert_eq!(max_rank, 1);
        // Expected share of rank 1: 1/H(n, 0.99); rank 2 about half of rank 1.
        let hn: f64 = (1..=n).map(|k| (k as f64).powf(-0.99)).sum();
        let p1 = c[1] as f64 / draws as f64;
        assert!((p1 - 1.0 / hn).abs() < 0.01, "p1 {p1} want {}", 1.0 / hn);
        let ratio = c[1] as f64 / c[2] as f64;
        assert!((ratio - 2f64.powf(0.99)).abs() < 0.1, "ratio {ratio}");
        // Exponent 1 exactly and a large range work too.
        let z = Zipf::new(10_000_000, 1.0);
        for _ in 0..10_000 {
            let k = z.sample(&mut rng);
            assert!((1..=10_000_000).contains(&k));
        }
        let z = Zipf::new(1, 0.5);
        assert_eq!(z.sample(&mut rng), 1);
    }

    #[test]
    fn seeds_reproduce() {
        let mut a = Rng::new(9);
        let mut b = Rng::new(9);
        let mut c = Rng::new(10);
        let va: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
    }
}
