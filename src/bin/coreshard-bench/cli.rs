//! Command-line options (memtier_benchmark names).

use crate::keys::Pattern;

pub const USAGE: &str = "\
coreshard-bench: a load generator for Redis-compatible servers (memtier-like options)

USAGE: coreshard-bench [OPTIONS]

Connection:
  -s, --server HOST            server host (default 127.0.0.1)
  -p, --port PORT              server port (default 6379)
      --connect-timeout SECS   connect timeout (default 5)

Load shape:
  -t, --threads N              worker threads, one event loop each (default 1)
  -c, --clients N              connections PER THREAD (default 50)
      --pipeline N             requests in flight per connection (default 1)
  -n, --requests N|allkeys     requests PER CLIENT (default 10000); `allkeys` covers
                               the key range exactly once in total, split into
                               disjoint slices across all clients (for loading data)
      --test-time SECS         run for a duration instead of a request count
      --rate N                 fixed rate: N requests/s in total, spread evenly over
                               all clients; latency is measured from each request's
                               intended send time (no coordinated omission)

Workload:
      --ratio SET:GET          built-in SET/GET mix (default 1:10)
  -d, --data-size N            value size in bytes (default 32)
      --key-prefix STR         key prefix (default memtier-)
      --key-minimum N          smallest key number (default 0)
      --key-maximum N          largest key number (default 10000000)
      --key-width W            zero-pad key numbers to W digits (default: no padding)
      --key-pattern SET:GET    key patterns, or one letter for both (default R:R):
                               S sequential per client (wrapping), P each client walks
                               its own slice, R uniform, G gaussian, Z zipf
      --key-median F           gaussian center (default: middle of the range)
      --key-stddev F           gaussian deviation (default: range/6)
      --key-zipf-exp F         zipf exponent (default 0.99); rank 1 = key minimum
      --command 'CMD ARGS'     custom command (repeatable; replaces SET/GET);
                               __key__ = a fresh key per occurrence, __data__ = value;
                               double quotes group words containing spaces
      --command-ratio N        weight of the preceding --command (default 1)
      --command-key-pattern L  key pattern of the preceding --command
                               (default: the GET side of --key-pattern)
      --distinct-client-seed   every client gets its own random seed
      --randomize              random base seed (default: fixed, reproducible)

Pub/sub (instead of the workload above):
      --subscribers N          N subscriber connections; the -c connections publish
                               -d byte messages to one channel; --pipeline = messages
                               per publisher not yet delivered to every subscriber;
                               rows: PUBLISH (reply latency) and message (delivery
                               latency); -n = messages per publisher; needs -t 1
      --subscribe-patterns     subscribers PSUBSCRIBE to distinct patterns matching
                               the channel instead of SUBSCRIBE
      --channel NAME           channel name (default bench:channel)

Output:
      --json-out FILE          write results as JSON
      --print-percentiles LIST percentiles shown in the table (default 50,90,99,99.9)
      --hide-histogram         accepted for compatibility (no histogram is printed)
  -h, --help                   this help
  -V, --version                print the version

Example (load 1M keys, then a 5 s zipf read-heavy run):
  coreshard-bench -p 6379 --ratio 1:0 --key-pattern P:P --key-maximum 999999 -n allkeys
  coreshard-bench -p 6379 -t 2 -c 25 --pipeline 16 --key-pattern Z:Z --test-time 5
";

/// How many requests each client sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Requests {
    PerClient(u64),
    AllKeys,
}

/// One `--command`.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomCommand {
    pub line: String,
    pub ratio: u64,
    pub pattern: Option<Pattern>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub server: String,
    pub port: u16,
    pub connect_timeout: f64,
    pub threads: usize,
    pub clients: usize,
    pub pipeline: usize,
    pub requests: Requests,
    pub test_time: Option<f64>,
    pub rate: Option<f64>,
    pub ratio: (u64, u64),
    pub data_size: usize,
    pub key_prefix: String,
    pub key_minimum: u64,
    pub key_maximum: u64,
    pub key_width: usize,
    pub key_pattern: (Pattern, Pattern),
    pub key_median: Option<f64>,
    pub key_stddev: Option<f64>,
    pub key_zipf_exp: f64,
    pub commands: Vec<CustomCommand>,
    pub distinct_client_seed: bool,
    pub randomize: bool,
    pub json_out: Option<String>,
    pub percentiles: Vec<f64>,
    /// Pub/sub mode: subscriber connections (0: off).
    pub subscribers: usize,
    pub subscribe_patterns: bool,
    pub channel: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            server: "127.0.0.1".into(),
            port: 6379,
            connect_timeout: 5.0,
            threads: 1,
            clients: 50,
            pipeline: 1,
            requests: Requests::PerClient(10000),
            test_time: None,
            rate: None,
            ratio: (1, 10),
            data_size: 32,
            key_prefix: "memtier-".into(),
            key_minimum: 0,
            key_maximum: 10_000_000,
            key_width: 0,
            key_pattern: (Pattern::Random, Pattern::Random),
            key_median: None,
            key_stddev: None,
            key_zipf_exp: 0.99,
            commands: Vec::new(),
            distinct_client_seed: false,
            randomize: false,
            json_out: None,
            percentiles: vec![50.0, 90.0, 99.0, 99.9],
            subscribers: 0,
            subscribe_patterns: false,
            channel: "bench:channel".into(),
        }
    }
}

/// What the command line asked for.
#[derive(Debug, PartialEq)]
pub enum Action {
    Run(Box<Config>),
    Help,
    Version,
}

fn num<T: std::str::FromStr>(opt: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse::<T>()
        .map_err(|_| format!("invalid value for {opt}: {v:?}"))
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(opt: &str, v: &str) -> Result<T, String> {
    let n: T = num(opt, v)?;
    if n <= T::default() {
        return Err(format!("{opt} must be greater than zero"));
    }
    Ok(n)
}

fn pattern(opt: &str, v: &str) -> Result<Pattern, String> {
    Pattern::from_letter(v)
        .ok_or_else(|| format!("invalid value for {opt}: {v:?} (expected one of S, P, R, G, Z)"))
}

/// Options that take a value, by long name (short aliases mapped to these).
const WITH_VALUE: &[&str] = &[
    "server",
    "port",
    "connect-timeout",
    "threads",
    "clients",
    "pipeline",
    "requests",
    "test-time",
    "rate",
    "ratio",
    "data-size",
    "key-prefix",
    "key-minimum",
    "key-maximum",
    "key-width",
    "key-pattern",
    "key-median",
    "key-stddev",
    "key-zipf-exp",
    "command",
    "command-ratio",
    "command-key-pattern",
    "json-out",
    "print-percentiles",
    "subscribers",
    "channel",
];

const FLAGS: &[&str] = &[
    "distinct-client-seed",
    "randomize",
    "hide-histogram",
    "subscribe-patterns",
    "help",
    "version",
];

fn short(c: char) -> Option<&'static str> {
    Some(match c {
        's' => "server",
        'p' => "port",
        't' => "threads",
        'c' => "clients",
        'n' => "requests",
        'd' => "data-size",
        'h' => "help",
        'V' => "version",
        _ => return None,
    })
}

/// Parses the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Action, String> {
    let mut c = Config::default();
    let mut requests_set = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        // Normalise to (long name, inline value).
        let (name, inline): (String, Option<String>) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            }
        } else if let Some(rest) = arg.strip_prefix('-')
            && let Some(first) = rest.chars().next()
        {
            let Some(n) = short(first) else {
                return Err(format!("unknown option: {arg}"));
            };
            let tail = &rest[first.len_utf8()..];
            (n.to_string(), (!tail.is_empty()).then(|| tail.to_string()))
        } else {
            return Err(format!("unexpected argument: {arg}"));
        };
        let name = name.as_str();
        let value = if WITH_VALUE.contains(&name) {
            match inline {
                Some(v) => v,
                None => it
                    .next()
                    .ok_or_else(|| format!("option --{name} needs a value"))?,
            }
        } else if FLAGS.contains(&name) {
            if inline.is_some() {
                return Err(format!("option --{name} takes no value"));
            }
            String::new()
        } else {
            return Err(format!("unknown option: {arg}"));
        };
        let opt = format!("--{name}");
        let v = value.as_str();
        match name {
            "server" => c.server = v.to_string(),
            "port" => c.port = positive(&opt, v)?,
            "connect-timeout" => c.connect_timeout = positive(&opt, v)?,
            "threads" => c.threads = positive(&opt, v)?,
            "clients" => c.clients = positive(&opt, v)?,
            "pipeline" => c.pipeline = positive(&opt, v)?,
            "requests" => {
                requests_set = true;
                c.requests = if v.eq_ignore_ascii_case("allkeys") {
                    Requests::AllKeys
                } else {
                    Requests::PerClient(positive(&opt, v)?)
                };
            }
            "test-time" => c.test_time = Some(positive(&opt, v)?),
            "rate" => c.rate = Some(positive(&opt, v)?),
            "ratio" => {
                let (a, b) = v.split_once(':').ok_or_else(|| {
                    format!("invalid value for --ratio: {v:?} (expected SET:GET)")
                })?;
                c.ratio = (num(&opt, a)?, num(&opt, b)?);
                if c.ratio == (0, 0) {
                    return Err("--ratio 0:0 leaves nothing to send".into());
                }
            }
            "data-size" => c.data_size = num(&opt, v)?,
            "key-prefix" => c.key_prefix = v.to_string(),
            "key-minimum" => c.key_minimum = num(&opt, v)?,
            "key-maximum" => c.key_maximum = num(&opt, v)?,
            "key-width" => c.key_width = num(&opt, v)?,
            "key-pattern" => {
                c.key_pattern = match v.split_once(':') {
                    Some((a, b)) => (pattern(&opt, a)?, pattern(&opt, b)?),
                    None => {
                        let p = pattern(&opt, v)?;
                        (p, p)
                    }
                }
            }
            "key-median" => c.key_median = Some(num(&opt, v)?),
            "key-stddev" => c.key_stddev = Some(positive(&opt, v)?),
            "key-zipf-exp" => c.key_zipf_exp = positive(&opt, v)?,
            "command" => {
                crate::template::split_args(v)?;
                c.commands.push(CustomCommand {
                    line: v.to_string(),
                    ratio: 1,
                    pattern: None,
                });
            }
            "command-ratio" => {
                let r = num(&opt, v)?;
                c.commands
                    .last_mut()
                    .ok_or("--command-ratio must follow a --command")?
                    .ratio = r;
            }
            "command-key-pattern" => {
                let p = pattern(&opt, v)?;
                c.commands
                    .last_mut()
                    .ok_or("--command-key-pattern must follow a --command")?
                    .pattern = Some(p);
            }
            "json-out" => c.json_out = Some(v.to_string()),
            "print-percentiles" => {
                let mut ps = Vec::new();
                for p in v.split(',').filter(|s| !s.trim().is_empty()) {
                    let x: f64 = num(&opt, p)?;
                    if !(0.0..=100.0).contains(&x) {
                        return Err(format!("percentile out of range: {p}"));
                    }
                    ps.push(x);
                }
                if ps.is_empty() {
                    return Err("--print-percentiles needs at least one value".into());
                }
                c.percentiles = ps;
            }
            "distinct-client-seed" => c.distinct_client_seed = true,
            "randomize" => c.randomize = true,
            "hide-histogram" => {}
            "subscribers" => c.subscribers = positive(&opt, v)?,
            "subscribe-patterns" => c.subscribe_patterns = true,
            "channel" => {
                if v.is_empty() {
                    return Err("--channel needs a non-empty name".into());
                }
                c.channel = v.to_string();
            }
            "help" => return Ok(Action::Help),
            "version" => return Ok(Action::Version),
            _ => return Err(format!("unknown option: {arg}")),
        }
    }
    if c.key_maximum < c.key_minimum {
        return Err("--key-maximum must not be smaller than --key-minimum".into());
    }
    if c.key_maximum >= 1 << 62 {
        return Err("--key-maximum must be below 2^62".into());
    }
    if c.key_width > 20 {
        return Err("--key-width must be at most 20".into());
    }
    if c.test_time.is_some() && requests_set {
        return Err("--requests and --test-time are mutually exclusive".into());
    }
    if !c.commands.is_empty() && c.commands.iter().all(|k| k.ratio == 0) {
        return Err("every --command has --command-ratio 0: nothing to send".into());
    }
    if c.subscribers > 0 {
        if c.threads != 1 {
            return Err("--subscribers runs in one thread: use -t 1".into());
        }
        if c.rate.is_some() || c.requests == Requests::AllKeys || !c.commands.is_empty() {
            return Err(
                "--subscribers cannot be combined with --rate, -n allkeys or --command".into(),
            );
        }
    } else if c.subscribe_patterns {
        return Err("--subscribe-patterns needs --subscribers".into());
    }
    if c.test_time.is_some() {
        c.requests = Requests::PerClient(0);
    }
    Ok(Action::Run(Box::new(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(a: &[&str]) -> Result<Config, String> {
        match parse(a.iter().map(|s| s.to_string()))? {
            Action::Run(c) => Ok(*c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = run(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.requests, Requests::PerClient(10000));
        assert_eq!(c.clients, 50);
    }

    #[test]
    fn options() {
        let c = run(&[
            "-s",
            "localhost",
            "-p6380",
            "--threads=2",
            "-c",
            "8",
            "--pipeline",
            "16",
            "-n",
            "allkeys",
            "--ratio",
            "1:0",
            "-d",
            "100",
            "--key-prefix",
            "k:",
            "--key-minimum",
            "1",
            "--key-maximum",
            "1000",
            "--key-width",
            "6",
            "--key-pattern",
            "P:Z",
            "--key-zipf-exp",
            "1.2",
            "--rate",
            "5000",
            "--distinct-client-seed",
            "--randomize",
            "--hide-histogram",
            "--json-out",
            "/tmp/x.json",
            "--print-percentiles",
            "50,99.99",
            "--connect-timeout",
            "2",
        ])
        .unwrap();
        assert_eq!(c.server, "localhost");
        assert_eq!(c.port, 6380);
        assert_eq!((c.threads, c.clients, c.pipeline), (2, 8, 16));
        assert_eq!(c.requests, Requests::AllKeys);
        assert_eq!(c.ratio, (1, 0));
        assert_eq!(c.data_size, 100);
        assert_eq!((c.key_minimum, c.key_maximum, c.key_width), (1, 1000, 6));
        assert_eq!(c.key_pattern, (Pattern::Parallel, Pattern::Zipf));
        assert_eq!(c.key_zipf_exp, 1.2);
        assert_eq!(c.rate, Some(5000.0));
        assert!(c.distinct_client_seed && c.randomize);
        assert_eq!(c.json_out.as_deref(), Some("/tmp/x.json"));
        assert_eq!(c.percentiles, [50.0, 99.99]);
        assert_eq!(c.connect_timeout, 2.0);
        let c = run(&["--key-pattern", "G", "--test-time", "3"]).unwrap();
        assert_eq!(c.key_pattern, (Pattern::Gaussian, Pattern::Gaussian));
        assert_eq!(c.test_time, Some(3.0));
    }

    #[test]
    fn commands() {
        let c = run(&[
            "--key-pattern",
            "S:G",
            "--command",
            "MSET __key__ __data__ __key__ __data__",
            "--command-ratio",
            "3",
            "--command",
            "GET __key__",
            "--command-key-pattern",
            "Z",
        ])
        .unwrap();
        assert_eq!(c.commands.len(), 2);
        assert_eq!(c.commands[0].ratio, 3);
        assert_eq!(c.commands[0].pattern, None);
        assert_eq!(c.commands[1].ratio, 1);
        assert_eq!(c.commands[1].pattern, Some(Pattern::Zipf));
        assert!(run(&["--command-ratio", "2"]).is_err());
        assert!(run(&["--command", "SET \"x"]).is_err());
    }

    #[test]
    fn errors() {
        for bad in [
            &["--bogus"][..],
            &["-x"],
            &["extra"],
            &["--threads"],
            &["--threads", "0"],
            &["--clients", "abc"],
            &["--ratio", "1"],
            &["--ratio", "0:0"],
            &["--key-pattern", "Q"],
            &["--key-minimum", "10", "--key-maximum", "5"],
            &["-n", "10", "--test-time", "1"],
            &["--randomize=1"],
            &["--print-percentiles", "101"],
            &["--key-maximum", "18446744073709551615"],
            &["--subscribers", "5", "-t", "2"],
            &["--subscribers", "5", "--rate", "100"],
            &["--subscribe-patterns"],
            &["--subscribers", "1", "--channel", ""],
        ] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse(["-h".to_string()]), Ok(Action::Help));
        assert_eq!(parse(["--help".to_string()]), Ok(Action::Help));
    }

    #[test]
    fn pubsub_options() {
        let c = run(&[
            "--subscribers",
            "50",
            "-c",
            "1",
            "--subscribe-patterns",
            "--channel",
            "n",
        ])
        .unwrap();
        assert_eq!(
            (c.subscribers, c.subscribe_patterns, c.channel.as_str()),
            (50, true, "n")
        );
        assert_eq!(c.clients, 1);
    }
}
