//! Stored reference replies.
//!
//! Tests that compare coreshard with the reference Redis (7.0.15) read the
//! expected replies from files recorded from that server and kept beside the
//! case files as `tests/cases/<name>.redis`, so they need no Redis to run.
//!
//! * When a reference `redis-server` is installed (`/usr/bin/redis-server`, or
//!   the path in `COREDIFF_REDIS_SERVER`), the stored replies are also checked
//!   against it, so a stale file fails the test. Without one, a note is printed
//!   and only that re-check is skipped.
//! * `COREDIFF_RECORD=1` rewrites the files from the live server instead (the
//!   test then compares coreshard with the fresh replies).
//!
//! File format (plain text, one reply per line, so changes review well in diffs):
//!
//! ```text
//! # Free text: what the replies are and how to regenerate them.
//! # redis_version: 7.0.15          <- the server that produced them
//! > SET k v                        <- a command, as its test writes it
//! < +OK\r\n                        <- its reply's RESP bytes, escaped
//! ```
//!
//! Lines starting with `#` are comments, except `# redis_version: ` which names
//! the server. Entries come in the order the test sends the commands; the
//! commands are stored so that a changed test is caught as a stale file rather
//! than compared against the wrong replies. Replies escape `\` as `\\`, CR, LF
//! and tab as `\r`, `\n`, `\t`, other bytes outside printable ASCII as `\xHH`.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Set to rewrite the stored replies from the live reference server.
pub const RECORD_ENV: &str = "COREDIFF_RECORD";
/// Overrides the path of the reference server (a missing path means "not installed").
pub const SERVER_ENV: &str = "COREDIFF_REDIS_SERVER";
/// Where the reference server is installed by default (Debian's package).
pub const DEFAULT_REDIS_SERVER: &str = "/usr/bin/redis-server";

/// Path of the reference `redis-server`.
pub fn redis_server_path() -> PathBuf {
    std::env::var_os(SERVER_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_REDIS_SERVER))
}

/// Whether the reference server is installed.
pub fn redis_server_available() -> bool {
    redis_server_path().is_file()
}

/// The installed reference server's version (`redis-server --version`'s `v=`).
pub fn redis_server_version() -> String {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let path = redis_server_path();
            let out = std::process::Command::new(&path)
                .arg("--version")
                .output()
                .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", path.display()));
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.split_whitespace()
                .find_map(|w| w.strip_prefix("v="))
                .unwrap_or_else(|| panic!("no version in {text:?}"))
                .to_string()
        })
        .clone()
}

/// Prints `note: <text>` on stderr even when the test harness captures output
/// (a skipped check should be visible in a normal `cargo test` run).
pub fn note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "note: {text}");
}

/// Whether this run rewrites the stored replies.
pub fn recording() -> bool {
    std::env::var_os(RECORD_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Escapes reply bytes for one line of a stored file.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// Reverses [`escape`].
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'x') => {
                let hex = s
                    .get(i + 2..i + 4)
                    .ok_or_else(|| format!("short \\x escape at column {}", i + 1))?;
                out.push(
                    u8::from_str_radix(hex, 16)
                        .map_err(|_| format!("bad \\x escape at column {}", i + 1))?,
                );
                i += 4;
                continue;
            }
            _ => return Err(format!("bad escape at column {}", i + 1)),
        }
        i += 2;
    }
    Ok(out)
}

/// Renders arguments the way `redis-cli` reads them: bare when plain, otherwise
/// double-quoted with escapes.
pub fn quote_args<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.iter()
        .map(|a| {
            let a = a.as_ref();
            let plain = !a.is_empty()
                && a.iter()
                    .all(|&c| c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b'\\'));
            if plain {
                String::from_utf8_lossy(a).into_owned()
            } else {
                // escape() leaves only the quote itself to escape.
                format!("\"{}\"", escape(a).replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Abbreviated escaped bytes for failure messages.
pub fn show(b: &[u8]) -> String {
    show_from(b, 0)
}

/// Escaped bytes from offset `from` on, abbreviated to about 400 characters.
fn show_from(b: &[u8], from: usize) -> String {
    let from = from.min(b.len());
    let mut s = if from > 0 {
        format!("(from byte {from}) ...")
    } else {
        String::new()
    };
    let mut end = from;
    while end < b.len() && s.len() < 400 {
        s.push_str(&escape(&b[end..end + 1]));
        end += 1;
    }
    if end < b.len() {
        s.push_str(&format!("... ({} bytes)", b.len()));
    }
    s
}

/// Two differing replies for a failure message: when long, both start a little
/// before the first byte that differs.
fn show_pair(x: &[u8], y: &[u8]) -> (String, String) {
    let first = x.iter().zip(y).take_while(|(a, b)| a == b).count();
    let from = if first > 200 { first - 40 } else { 0 };
    (show_from(x, from), show_from(y, from))
}

/// One command a test checks: where it comes from (for messages) and its text
/// (how the stored file names it).
pub struct Item {
    pub label: String,
    pub command: String,
}

/// A stored reference file.
pub struct Reference<'a> {
    /// File stem: the file is `tests/cases/<name>.redis`.
    pub name: &'a str,
    /// What the replies are (header text, one comment line each).
    pub about: &'a [&'a str],
    /// The command that regenerates the file.
    pub record_with: &'a str,
}

/// The contents of a stored file.
struct Stored {
    version: String,
    entries: Vec<(String, Vec<u8>)>,
}

impl Reference<'_> {
    /// `tests/cases/<name>.redis`, relative to the crate (for messages).
    pub fn display_path(&self) -> String {
        format!("tests/cases/{}.redis", self.name)
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(self.display_path())
    }

    fn load(&self) -> Result<Stored, String> {
        let shown = self.display_path();
        let text = std::fs::read_to_string(self.path()).map_err(|e| format!("{shown}: {e}"))?;
        let mut version = None;
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        let mut pending: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            let at = || format!("{shown}:{}", n + 1);
            if let Some(v) = line.strip_prefix("# redis_version: ") {
                version = Some(v.trim().to_string());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if let Some(cmd) = line.strip_prefix("> ") {
                if pending.is_some() {
                    return Err(format!("{}: command without a reply before it", at()));
                }
                pending = Some(cmd.to_string());
            } else if let Some(reply) = line.strip_prefix("< ") {
                let cmd = pending
                    .take()
                    .ok_or_else(|| format!("{}: reply without a command", at()))?;
                let bytes = unescape(reply).map_err(|e| format!("{}: {e}", at()))?;
                entries.push((cmd, bytes));
            } else {
                return Err(format!("{}: neither '> ', '< ' nor '#': {line:?}", at()));
            }
        }
        if pending.is_some() {
            return Err(format!("{shown}: the last command has no reply"));
        }
        let version = version.ok_or_else(|| format!("{shown}: no '# redis_version: ' line"))?;
        Ok(Stored { version, entries })
    }

    fn save(&self, version: &str, items: &[Item], replies: &[Vec<u8>]) {
        let mut text = String::new();
        for line in self.about {
            text.push_str(&format!("# {line}\n"));
        }
        text.push_str("# Format: tests/common/reference.rs. Regenerate with:\n");
        text.push_str(&format!("#   {}\n", self.record_with));
        text.push_str(&format!("# redis_version: {version}\n"));
        for (item, reply) in items.iter().zip(replies) {
            assert!(
                !item.command.contains(['\n', '\r']),
                "a stored command must fit on one line: {:?}",
                item.command
            );
            text.push_str(&format!("> {}\n< {}\n", item.command, escape(reply)));
        }
        let path = self.path();
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!(
            "recorded {} ({} replies from redis-server {version})",
            self.display_path(),
            items.len()
        );
    }

    /// The stored replies for `items`, in order, or what makes the file stale.
    fn replies_for(&self, stored: Stored, items: &[Item]) -> Result<Vec<Vec<u8>>, String> {
        let shown = self.display_path();
        for (i, item) in items.iter().enumerate() {
            match stored.entries.get(i) {
                None => {
                    return Err(format!(
                        "{shown} has no reply for {}: {} (it stores {} replies, the test sends {} commands)",
                        item.label,
                        item.command,
                        stored.entries.len(),
                        items.len()
                    ));
                }
                Some((cmd, _)) if *cmd != item.command => {
                    return Err(format!(
                        "{shown} does not match the test at {}: the test sends `{}`, the file's entry {} is `{cmd}`",
                        item.label,
                        item.command,
                        i + 1
                    ));
                }
                Some(_) => {}
            }
        }
        if stored.entries.len() > items.len() {
            return Err(format!(
                "{shown} stores {} replies, the test sends only {} commands",
                stored.entries.len(),
                items.len()
            ));
        }
        Ok(stored.entries.into_iter().map(|(_, r)| r).collect())
    }

    fn stale<T>(&self, e: String) -> T {
        panic!(
            "stored Redis replies unusable: {e}\nRegenerate them from redis-server 7.0.15 with: {}",
            self.record_with
        )
    }

    /// The expected (Redis) replies for `items`.
    ///
    /// Normally they come from the stored file, re-checked against the live
    /// reference server when one is installed (`live` starts it and returns its
    /// replies in the stored form). With `COREDIFF_RECORD=1` the file is rewritten
    /// from `live` instead.
    pub fn expected(&self, items: &[Item], live: impl FnOnce() -> Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let server = redis_server_path();
        if recording() {
            assert!(
                redis_server_available(),
                "{RECORD_ENV} needs the reference redis-server at {} (apt-get install -y \
                 redis-server, or set {SERVER_ENV})",
                server.display()
            );
            let replies = live();
            assert_eq!(replies.len(), items.len(), "one live reply per command");
            self.save(&redis_server_version(), items, &replies);
            return replies;
        }
        let stored = self.load().unwrap_or_else(|e| self.stale(e));
        let version = stored.version.clone();
        let want = self
            .replies_for(stored, items)
            .unwrap_or_else(|e| self.stale(e));
        if !redis_server_available() {
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| {
                note(&format!(
                    "no redis-server at {}: the stored replies (tests/cases/*.redis, from \
                     redis-server {version}) are used without re-verifying them against a \
                     live server",
                    server.display()
                ))
            });
            return want;
        }
        let live_version = redis_server_version();
        assert_eq!(
            live_version,
            version,
            "{} was recorded from redis-server {version} but {} is {live_version}: \
             re-verifying needs the same version (point {SERVER_ENV} at one, or at a \
             missing path to use the stored replies alone)",
            self.display_path(),
            server.display()
        );
        let got = live();
        if let Err(report) = compare_replies(items, "stored", &want, "live", &got) {
            panic!(
                "{} disagrees with the live redis-server {live_version} at {}:{report}\n\
                 The live server is the reference: regenerate the file with: {}",
                self.display_path(),
                server.display(),
                self.record_with
            );
        }
        want
    }
}

/// Compares two reply lists; `Err` holds a report of the first differences.
pub fn compare_replies(
    items: &[Item],
    expected_from: &str,
    a: &[Vec<u8>],
    actual_from: &str,
    b: &[Vec<u8>],
) -> Result<(), String> {
    const SHOWN: usize = 20;
    let mut report = String::new();
    let mut bad = 0;
    for ((item, x), y) in items.iter().zip(a).zip(b) {
        if x != y {
            bad += 1;
            if bad <= SHOWN {
                let (x, y) = show_pair(x, y);
                report.push_str(&format!(
                    "\n{}: {}\n    {expected_from:>9}: {x}\n    {actual_from:>9}: {y}\n",
                    item.label, item.command,
                ));
            }
        }
    }
    if a.len() != b.len() {
        report.push_str(&format!(
            "\n{expected_from} has {} replies, {actual_from} {}\n",
            a.len(),
            b.len()
        ));
    }
    match bad {
        0 if a.len() == b.len() => Ok(()),
        0 => Err(report),
        _ => {
            let more = if bad > SHOWN {
                format!(" (the first {SHOWN} shown)")
            } else {
                String::new()
            };
            Err(format!(
                " {bad} of {} replies differ{more}:{report}",
                items.len()
            ))
        }
    }
}

/// Splits a line the way redis-cli does (sdssplitargs).
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let mut cur = Vec::new();
        if b[i] == b'"' {
            i += 1;
            loop {
                if i >= b.len() {
                    return Err("unbalanced double quote".into());
                }
                match b[i] {
                    b'\\'
                        if i + 3 < b.len()
                            && b[i + 1] == b'x'
                            && b[i + 2].is_ascii_hexdigit()
                            && b[i + 3].is_ascii_hexdigit() =>
                    {
                        let h = std::str::from_utf8(&b[i + 2..i + 4]).map_err(|e| e.to_string())?;
                        cur.push(u8::from_str_radix(h, 16).map_err(|e| e.to_string())?);
                        i += 4;
                    }
                    b'\\' if i + 1 < b.len() => {
                        cur.push(match b[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            c => c,
                        });
                        i += 2;
                    }
                    b'"' => {
                        i += 1;
                        if i < b.len() && !b[i].is_ascii_whitespace() {
                            return Err("closing quote must be followed by a space".into());
                        }
                        break;
                    }
                    c => {
                        cur.push(c);
                        i += 1;
                    }
                }
            }
        } else if b[i] == b'\'' {
            i += 1;
            loop {
                if i >= b.len() {
                    return Err("unbalanced single quote".into());
                }
                match b[i] {
                    b'\\' if i + 1 < b.len() && b[i + 1] == b'\'' => {
                        cur.push(b'\'');
                        i += 2;
                    }
                    b'\'' => {
                        i += 1;
                        if i < b.len() && !b[i].is_ascii_whitespace() {
                            return Err("closing quote must be followed by a space".into());
                        }
                        break;
                    }
                    c => {
                        cur.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                cur.push(b[i]);
                i += 1;
            }
        }
        out.push(cur);
    }
}
