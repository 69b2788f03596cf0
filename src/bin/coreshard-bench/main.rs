//! `coreshard-bench`: a load generator for Redis-compatible servers, in the spirit
//! of memtier_benchmark (same option names), built to stay far cheaper than the
//! server it measures.
//!
//! ```text
//! coreshard-bench -p 6379 --ratio 1:0 --key-pattern P:P --key-maximum 99999 -n allkeys
//! coreshard-bench -p 6379 -t 1 -c 50 --pipeline 16 --ratio 1:1 -d 32 --test-time 5
//! coreshard-bench -p 6379 --command 'MSET __key__ __data__ __key__ __data__' -n 1000
//! coreshard-bench -p 6379 --rate 20000 --test-time 10 --json-out out.json
//! ```
//!
//! Design (see `--help` for every option):
//! * `-t` threads each run one edge-triggered epoll loop over their `-c`
//!   connections ([`worker`]); no async runtime, no thread per connection.
//! * Requests are pre-encoded templates ([`template`]): sending copies constant
//!   bytes and formats fresh key numbers into a reused buffer; everything queued on
//!   a connection goes out in one `write`.
//! * Replies are counted in place by an allocation-free RESP scanner ([`resp`]) that
//!   copes with replies split across reads and nested arrays, and classifies each
//!   one as error, hit or miss.
//! * Keys come from per-client generators ([`keys`]): sequential, parallel slices,
//!   uniform, gaussian, or zipf by rejection-inversion (O(1), no tables).
//! * Latencies (µs, 3 significant digits) go into one HDR histogram per command type
//!   per thread, merged at the end ([`report`]). With `--rate` they are measured from
//!   each request's intended send time, so stalls are not hidden.
//!
//! Exit status: 0 on success (server error replies are counted, not fatal), 1 when
//! the server cannot be reached or drops a connection, 2 on a command-line error.

mod cli;
mod conn;
mod keys;
mod pubsub;
mod report;
mod resp;
mod template;
mod worker;

use std::collections::HashSet;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cli::{Action, Config};
use template::Template;
use worker::{Clock, Plan, RowStats, Worker};

fn main() {
    let cfg = match cli::parse(std::env::args().skip(1)) {
        Ok(Action::Run(c)) => c,
        Ok(Action::Help) => {
            print!("{}", cli::USAGE);
            return;
        }
        Ok(Action::Version) => {
            println!("coreshard-bench {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Err(e) => {
            eprintln!("coreshard-bench: {e}\nTry 'coreshard-bench --help' for the options.");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&cfg) {
        eprintln!("coreshard-bench: {e}");
        std::process::exit(1);
    }
}

/// Templates, their weights and key patterns, and the command lines shown in results.
type Workload = (Vec<Template>, Vec<u64>, Vec<keys::Pattern>, Vec<String>);

fn workload(cfg: &Config) -> Result<Workload, String> {
    let prefix = cfg.key_prefix.as_bytes();
    let mut lines: Vec<(String, u64, keys::Pattern)> = Vec::new();
    if cfg.commands.is_empty() {
        lines.push((
            "SET __key__ __data__".into(),
            cfg.ratio.0,
            cfg.key_pattern.0,
        ));
        lines.push(("GET __key__".into(), cfg.ratio.1, cfg.key_pattern.1));
    } else {
        for c in &cfg.commands {
            lines.push((
                c.line.clone(),
                c.ratio,
                c.pattern.unwrap_or(cfg.key_pattern.1),
            ));
        }
    }
    let mut tpls = Vec::new();
    let mut weights = Vec::new();
    let mut pats = Vec::new();
    let mut shown = Vec::new();
    for (line, w, p) in lines {
        let args = template::split_args(&line)?;
        tpls.push(
            Template::new(&args, prefix, cfg.key_width, cfg.data_size)
                .map_err(|e| format!("--command {line:?}: {e}"))?,
        );
        weights.push(w);
        pats.push(p);
        shown.push(line);
    }
    Ok((tpls, weights, pats, shown))
}

fn connect(cfg: &Config, n: usize) -> Result<Vec<TcpStream>, String> {
    let target = format!("{}:{}", cfg.server, cfg.port);
    let addr = (cfg.server.as_str(), cfg.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {target}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {target}: no address"))?;
    let timeout = Duration::from_secs_f64(cfg.connect_timeout);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let s = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("cannot connect to {target}: {e}"))?;
        s.set_nodelay(true)
            .and_then(|_| s.set_nonblocking(true))
            .map_err(|e| format!("socket setup for {target}: {e}"))?;
        out.push(s);
    }
    Ok(out)
}

fn base_seed(cfg: &Config) -> u64 {
    if cfg.randomize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ ((std::process::id() as u64) << 32)
    } else {
        0x00C0_5E5D_BEAC_4B17
    }
}

/// This process's CPU time so far (user, system) in seconds.
fn own_cpu() -> Option<(f64, f64)> {
    // SAFETY: `getrusage` fills the zero-initialised struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage struct.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some((secs(ru.ru_utime), secs(ru.ru_stime)))
}

fn run(cfg: &Config) -> Result<(), String> {
    if cfg.subscribers > 0 {
        return run_pubsub(cfg);
    }
    let (templates, weights, patterns, shown) = workload(cfg)?;
    // Rows: distinct command names, in order of first appearance.
    let mut row_names: Vec<String> = Vec::new();
    let rows_of = templates
        .iter()
        .map(|t| match row_names.iter().position(|n| *n == t.name) {
            Some(i) => i,
            None => {
                row_names.push(t.name.clone());
                row_names.len() - 1
            }
        })
        .collect();
    let (min, max) = (cfg.key_minimum, cfg.key_maximum);
    let range = keys::Range {
        min,
        max,
        median: cfg.key_median.unwrap_or((min as f64 + max as f64) / 2.0),
        stddev: cfg
            .key_stddev
            .unwrap_or(((max - min) as f64 / 6.0).max(1.0)),
        zipf_exp: cfg.key_zipf_exp,
    };
    let plan = Plan {
        templates,
        rows_of,
        row_names,
        weights,
        patterns,
        range,
        requests: cfg.requests.clone(),
        test_time_ns: cfg.test_time.map(|s| (s * 1e9) as u64),
        rate: cfg.rate,
        pipeline: cfg.pipeline,
        total_clients: (cfg.threads * cfg.clients) as u64,
        base_seed: base_seed(cfg),
        distinct_seed: cfg.distinct_client_seed,
        seen_errors: Mutex::new(HashSet::new()),
    };

    let mut streams = connect(cfg, cfg.threads * cfg.clients)?;
    let clock = Clock(Instant::now());
    let results = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for t in 0..cfg.threads {
            let mine: Vec<TcpStream> = streams.drain(..cfg.clients).collect();
            let plan = &plan;
            let first = (t * cfg.clients) as u64;
            let h = std::thread::Builder::new()
                .name(format!("bench-{t}"))
                .spawn_scoped(scope, move || {
                    // A dropped connection ends the whole run at once, not when the
                    // other threads are done.
                    Worker::new(plan, mine, first, clock)
                        .run()
                        .unwrap_or_else(|e| {
                            eprintln!("coreshard-bench: {e}");
                            std::process::exit(1)
                        })
                })
                .map_err(|e| format!("cannot start a worker thread: {e}"));
            handles.push(h);
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(
                h?.join()
                    .map_err(|_| "a worker thread panicked".to_string())?,
            );
        }
        Ok::<_, String>(out)
    })?;
    let elapsed = clock.0.elapsed().as_secs_f64();

    let mut rows: Vec<RowStats> = plan.row_names.iter().map(|_| RowStats::new()).collect();
    let mut last = 0u64;
    for r in &results {
        for (acc, x) in rows.iter_mut().zip(&r.rows) {
            acc.merge(x);
        }
        last = last.max(r.last_reply_ns);
    }
    let secs = if last > 0 { last as f64 / 1e9 } else { elapsed };
    let mut total = RowStats::new();
    for r in &rows {
        total.merge(r);
    }
    let summaries: Vec<report::Summary> = plan
        .row_names
        .iter()
        .zip(&rows)
        .map(|(n, r)| report::Summary::new(n, r, secs, &cfg.percentiles))
        .collect();
    let totals = report::Summary::new("Totals", &total, secs, &cfg.percentiles);
    finish(cfg, &shown, secs, &summaries, &totals)
}

/// Prints the table and the generator's CPU use, and writes the JSON document.
fn finish(
    cfg: &Config,
    shown: &[String],
    secs: f64,
    summaries: &[report::Summary],
    totals: &report::Summary,
) -> Result<(), String> {
    print!("{}", report::text(cfg, secs, summaries, totals));
    if let Some((user, sys)) = own_cpu() {
        let per_op = if totals.ops > 0 {
            (user + sys) * 1e6 / totals.ops as f64
        } else {
            0.0
        };
        println!("generator cpu: user {user:.2} s, sys {sys:.2} s, {per_op:.2} us/op");
    }
    if let Some(path) = &cfg.json_out {
        let j = report::json(cfg, shown, secs, summaries, totals);
        std::fs::write(path, j).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    Ok(())
}

/// `--subscribers`: one event loop of publishers and subscribers ([`pubsub`]).
/// Totals are the PUBLISH row (messages published per second); the `message` row
/// counts deliveries.
fn run_pubsub(cfg: &Config) -> Result<(), String> {
    let plan = pubsub::PubSubPlan {
        channel: cfg.channel.clone(),
        patterns: cfg.subscribe_patterns,
        data_size: cfg.data_size,
        window: cfg.pipeline,
        test_time_ns: cfg.test_time.map(|s| (s * 1e9) as u64),
        messages: match cfg.requests {
            cli::Requests::PerClient(n) => n,
            cli::Requests::AllKeys => 0,
        },
    };
    let subscribers = connect(cfg, cfg.subscribers)?;
    let publishers = connect(cfg, cfg.clients)?;
    let start = Instant::now();
    let r = pubsub::run(&plan, publishers, subscribers)?;
    let secs = if r.last_ns > 0 {
        r.last_ns as f64 / 1e9
    } else {
        start.elapsed().as_secs_f64()
    };
    let publish = report::Summary::new("PUBLISH", &r.publish, secs, &cfg.percentiles);
    let message = report::Summary::new("message", &r.message, secs, &cfg.percentiles);
    let verb = if cfg.subscribe_patterns {
        "PSUBSCRIBE"
    } else {
        "SUBSCRIBE"
    };
    let shown = vec![
        format!("PUBLISH {} __data__", cfg.channel),
        format!("{verb} x{}", cfg.subscribers),
    ];
    let totals = report::Summary {
        name: "Totals".into(),
        ..publish.clone()
    };
    finish(cfg, &shown, secs, &[publish, message], &totals)
}
