//! Result summary: the text table on stdout and the JSON document.

use std::fmt::Write as _;

use crate::cli::{Config, Requests};
use crate::worker::RowStats;

/// Figures of one row (a command type, or the totals).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub name: String,
    pub ops: u64,
    pub ops_sec: f64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub avg_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// `--print-percentiles` values, in microseconds.
    pub extra: Vec<u64>,
}

fn pct(r: &RowStats, p: f64) -> u64 {
    if r.ops == 0 {
        0
    } else {
        r.hist.value_at_quantile(p / 100.0)
    }
}

impl Summary {
    pub fn new(name: &str, r: &RowStats, secs: f64, percentiles: &[f64]) -> Summary {
        Summary {
            name: name.to_string(),
            ops: r.ops,
            ops_sec: if secs > 0.0 { r.ops as f64 / secs } else { 0.0 },
            hits: r.hits,
            misses: r.misses,
            errors: r.errors,
            avg_us: if r.ops > 0 {
                r.lat_sum_ns as f64 / r.ops as f64 / 1000.0
            } else {
                0.0
            },
            p50_us: pct(r, 50.0),
            p90_us: pct(r, 90.0),
            p99_us: pct(r, 99.0),
            p999_us: pct(r, 99.9),
            max_us: if r.ops > 0 { r.hist.max() } else { 0 },
            extra: percentiles.iter().map(|&p| pct(r, p)).collect(),
        }
    }
}

/// A finite JSON number with at most 3 decimals.
fn jnum(x: f64) -> String {
    if x.is_finite() {
        let s = format!("{x:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() || s == "-" {
            "0".into()
        } else {
            s.to_string()
        }
    } else {
        "0".into()
    }
}

/// A JSON string literal.
fn jstr(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn row_json(s: &Summary) -> String {
    format!(
        "{{\"ops\":{},\"ops_sec\":{},\"hits\":{},\"misses\":{},\"errors\":{},\"avg_us\":{},\
         \"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{}}}",
        s.ops,
        jnum(s.ops_sec),
        s.hits,
        s.misses,
        s.errors,
        jnum(s.avg_us),
        s.p50_us,
        s.p90_us,
        s.p99_us,
        s.p999_us,
        s.max_us
    )
}

/// The JSON document.
pub fn json(
    cfg: &Config,
    commands: &[String],
    secs: f64,
    rows: &[Summary],
    totals: &Summary,
) -> String {
    let requests = match (&cfg.requests, cfg.test_time) {
        (_, Some(_)) => "null".to_string(),
        (Requests::AllKeys, None) => "\"allkeys\"".to_string(),
        (Requests::PerClient(n), None) => n.to_string(),
    };
    let mut o = String::new();
    let _ = write!(
        o,
        "{{\"tool\":\"coreshard-bench\",\"version\":{},\"config\":{{\"server\":{},\"port\":{},\
         \"threads\":{},\"clients\":{},\"pipeline\":{},\"requests\":{},\"test_time\":{},\
         \"ratio\":{},\"data_size\":{},\"key_pattern\":{},\"key_minimum\":{},\"key_maximum\":{},\
         \"rate\":{},\"commands\":[{}]}},\"duration_secs\":{},\"totals\":{},\"commands\":{{",
        jstr(env!("CARGO_PKG_VERSION")),
        jstr(&cfg.server),
        cfg.port,
        cfg.threads,
        cfg.clients,
        cfg.pipeline,
        requests,
        cfg.test_time.map_or("null".into(), jnum),
        jstr(&format!("{}:{}", cfg.ratio.0, cfg.ratio.1)),
        cfg.data_size,
        jstr(&format!(
            "{}:{}",
            cfg.key_pattern.0.letter(),
            cfg.key_pattern.1.letter()
        )),
        cfg.key_minimum,
        cfg.key_maximum,
        cfg.rate.map_or("null".into(), jnum),
        commands
            .iter()
            .map(|c| jstr(c))
            .collect::<Vec<_>>()
            .join(","),
        // Microseconds: a short run's rate must be recomputable from it.
        format!("{secs:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.'),
        row_json(totals),
    );
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let _ = write!(o, "{}:{}", jstr(&r.name), row_json(r));
    }
    o.push_str("}}\n");
    o
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

fn pct_label(p: f64) -> String {
    let s = format!("{p}");
    format!("p{s} Latency")
}

/// The text table.
pub fn text(cfg: &Config, secs: f64, rows: &[Summary], totals: &Summary) -> String {
    let mut o = String::new();
    let mut header = format!(
        "{:<12}{:>14}{:>14}{:>14}{:>14}",
        "Type", "Ops/sec", "Hits/sec", "Misses/sec", "Avg. Latency"
    );
    for &p in &cfg.percentiles {
        let _ = write!(header, "{:>16}", pct_label(p));
    }
    let _ = write!(header, "{:>14}", "Max Latency");
    let line = "-".repeat(header.len());
    let _ = writeln!(o, "ALL STATS (latencies in milliseconds)");
    let _ = writeln!(o, "{}", "=".repeat(header.len()));
    let _ = writeln!(o, "{header}");
    let _ = writeln!(o, "{line}");
    for r in rows.iter().chain(std::iter::once(totals)) {
        let per = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let _ = write!(
            o,
            "{:<12}{:>14.2}{:>14.2}{:>14.2}{:>14}",
            r.name,
            r.ops_sec,
            per(r.hits),
            per(r.misses),
            ms(r.avg_us)
        );
        for &v in &r.extra {
            let _ = write!(o, "{:>16}", ms(v as f64));
        }
        let _ = writeln!(o, "{:>14}", ms(r.max_us as f64));
    }
    let _ = writeln!(o, "{line}");
    let _ = writeln!(
        o,
        "total ops: {}  errors: {}  hits: {}  misses: {}  duration: {:.3} s",
        totals.ops, totals.errors, totals.hits, totals.misses, secs
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let mut r = RowStats::new();
        r.ops = 2;
        r.hits = 1;
        r.lat_sum_ns = 3000;
        r.hist.record(1).unwrap();
        r.hist.record(2).unwrap();
        let s = Summary::new("GET", &r, 2.0, &[50.0]);
        assert_eq!(s.avg_us, 1.5);
        assert_eq!(s.ops_sec, 1.0);
        assert_eq!(s.max_us, 2);
        let cfg = Config::default();
        let j = json(
            &cfg,
            &["GET __key__".into()],
            2.0,
            std::slice::from_ref(&s),
            &s,
        );
        assert!(j.starts_with("{\"tool\":\"coreshard-bench\",\"version\":\""));
        assert!(j.contains("\"requests\":10000,\"test_time\":null,\"ratio\":\"1:10\""));
        assert!(j.contains("\"key_pattern\":\"R:R\""));
        assert!(j.contains("\"rate\":null,\"commands\":[\"GET __key__\"]"));
        assert!(j.contains("\"commands\":{\"GET\":{\"ops\":2,\"ops_sec\":1,\"hits\":1,"));
        assert!(j.contains("\"avg_us\":1.5,"));
        assert_eq!(jstr("a\"b\\\n"), "\"a\\\"b\\\\\\n\"");
        assert_eq!(jnum(f64::NAN), "0");
        assert_eq!(jnum(12.0), "12");
        assert_eq!(jnum(0.0004), "0");
        let t = text(&cfg, 2.0, std::slice::from_ref(&s), &s);
        assert!(t.contains("p99.9 Latency"));
        assert!(t.contains("total ops: 2"));
    }
}
