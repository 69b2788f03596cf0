//! The `coreshard` server binary: `coreshard [config-file] [--name value ...]`.

use coreshard::config::Config;

#[global_allocator]
static ALLOC: coreshard::metrics::CountingAlloc = coreshard::metrics::CountingAlloc;

fn usage() -> ! {
    eprintln!(
        "Usage: coreshard [/path/to/coreshard.conf] [--name value ...]\n       coreshard -v | --version\n       coreshard -h | --help\n\nExamples:\n       coreshard --port 7777 --threads 2\n       coreshard /etc/coreshard.conf --loglevel verbose"
    );
    std::process::exit(1)
}

fn parse_cli(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut i = 0;
    if let Some(first) = args.first() {
        if first == "-v" || first == "--version" {
            println!(
                "coreshard v={} redis_version={}",
                coreshard::VERSION,
                coreshard::REDIS_VERSION
            );
            std::process::exit(0);
        }
        if first == "-h" || first == "--help" {
            usage();
        }
        if !first.starts_with("--") {
            let text = std::fs::read_to_string(first)
                .map_err(|e| format!("can't open config file '{first}': {e}"))?;
            cfg.load_text(&text).map_err(|e| e.0)?;
            i = 1;
        }
    }
    while i < args.len() {
        let Some(name) = args[i].strip_prefix("--") else {
            return Err(format!("unexpected argument '{}'", args[i]));
        };
        let mut vals = Vec::new();
        i += 1;
        while i < args.len() && !args[i].starts_with("--") {
            vals.push(args[i].clone());
            i += 1;
        }
        cfg.apply_directive(name, &vals).map_err(|e| e.0)?;
    }
    Ok(cfg)
}

fn init_logging(cfg: &Config) {
    let level = match cfg.get("loglevel").unwrap_or("notice") {
        "debug" => tracing::Level::DEBUG,
        "verbose" => tracing::Level::INFO,
        "notice" => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    let logfile = cfg.get("logfile").unwrap_or("").to_string();
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    if logfile.is_empty() {
        // Like Redis: an empty `logfile` means standard output.
        use std::io::IsTerminal;
        builder
            .with_ansi(std::io::stdout().is_terminal())
            .with_writer(std::io::stdout)
            .init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
        {
            Ok(f) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init(),
            Err(e) => {
                eprintln!("can't open the log file '{logfile}': {e}");
                std::process::exit(1);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse_cli(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("*** FATAL CONFIG FILE ERROR ***\n{e}");
            std::process::exit(1);
        }
    };
    init_logging(&cfg);
    match coreshard::server::run(cfg) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("coreshard: {e}");
            std::process::exit(1);
        }
    }
}
