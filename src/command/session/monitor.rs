//! MONITOR: every command any core runs, as one line in Redis's format, to
//! every client in monitor mode on any core.
//!
//! ```text
//!  command accepted on core k ─► engine monitoring == 0? ─► nothing
//!     (EXEC after it ran;       (one atomic load per command)
//!      EVAL/FCALL at their start,
//!      a script's commands with "lua")
//!        ─► line `+<sec>.<usec> [<db> <addr>] "arg" ...` built once
//!        ─► this core's monitors, and one post to each other core that has
//!           monitors (`EngineState::monitors`), which writes it to its own
//! ```
//!
//! Posts from one core to another run in the order they were sent, so the
//! lines of one client's commands reach every monitor in the order it sent
//! them. Lines go to the monitor's socket queue, so they count against its
//! `client-output-buffer-limit` (class normal, as Redis classes monitors).
//! Administrative commands are not shown, as in Redis, and passwords of
//! AUTH, HELLO ... AUTH and MIGRATE ... AUTH/AUTH2 read `(redacted)`.

use super::{Session, SessionCore};
use crate::command::{CommandSpec, flags};
use crate::protocol::Args;
use crate::shard::Core;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Whether `spec` is shown to monitors when it runs (administrative
/// commands and those that feed themselves are not).
#[inline]
fn shown(spec: &CommandSpec) -> bool {
    !spec.has(flags::ADMIN) && !spec.has(flags::SKIP_MONITOR)
}

/// Appends `arg` quoted as Redis's `sdscatrepr` writes it.
fn quote(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
            }
        }
    }
    out.push(b'"');
}

/// Whether argument `i` of a command is a secret monitors do not see.
fn redacted(args: Args<'_>, i: usize) -> bool {
    let name = args.get(0);
    let eq = |j: usize, w: &str| args.get(j).eq_ignore_ascii_case(w.as_bytes());
    if name.eq_ignore_ascii_case(b"auth") {
        return i >= 1;
    }
    if name.eq_ignore_ascii_case(b"hello") {
        // HELLO [protover [AUTH username password] [SETNAME name]]
        return (2..args.len().saturating_sub(2))
            .any(|j| eq(j, "auth") && (i == j + 1 || i == j + 2));
    }
    if name.eq_ignore_ascii_case(b"migrate") {
        return (6..args.len()).any(|j| {
            (eq(j, "auth") && i == j + 1) || (eq(j, "auth2") && (i == j + 1 || i == j + 2))
        });
    }
    false
}

/// One monitor line: `+<sec>.<usec> [<db> <from>] "arg" ...\r\n`.
pub fn line(now: std::time::SystemTime, db: usize, from: &str, args: Args<'_>) -> Vec<u8> {
    let t = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut out =
        Vec::with_capacity(48 + from.len() + args.iter().map(|a| a.len() + 3).sum::<usize>());
    out.push(b'+');
    out.extend_from_slice(
        format!("{}.{:06} [{db} {from}] ", t.as_secs(), t.subsec_micros()).as_bytes(),
    );
    for i in 0..args.len() {
        if i > 0 {
            out.push(b' ');
        }
        if redacted(args, i) {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote(&mut out, args.get(i));
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Writes `line` to this core's monitors.
fn deliver(core: &Core, line: &[u8]) {
    let monitors = core.monitors().borrow();
    let mut bytes = 0;
    for h in monitors.iter() {
        bytes += super::pubsub::send(core, h, line);
    }
    if bytes > 0 {
        crate::metrics::with(|s| s.net_output_bytes += bytes as u64);
    }
}

/// Feeds a command to every monitor of the engine, if there is any.
pub fn feed(core: &Rc<Core>, db: usize, from: &str, args: Args<'_>) {
    let engine = &core.engine;
    if engine.monitoring.load(Ordering::Acquire) == 0 {
        return;
    }
    let line: Arc<[u8]> = line(std::time::SystemTime::now(), db, from, args).into();
    for (c, n) in engine.monitors.iter().enumerate() {
        if n.0.load(Ordering::Acquire) == 0 {
            continue;
        }
        if c == core.id {
            deliver(core, &line);
        } else {
            let line = line.clone();
            core.post(c, move |core: &Rc<Core>| deliver(core, &line));
        }
    }
}

impl Session {
    /// Feeds a command this client runs to the engine's monitors.
    #[inline]
    pub fn feed_monitors(&self, args: Args<'_>) {
        if self.core.engine.monitoring.load(Ordering::Relaxed) == 0 {
            return;
        }
        let addr = self.handle.info.borrow().addr.clone();
        feed(&self.core, self.db, &addr, args);
    }

    /// Feeds a command this client ran, unless monitors are not shown
    /// its kind (see [`shown`]).
    #[inline]
    pub fn feed_command(&self, spec: &CommandSpec, args: Args<'_>) {
        if shown(spec) {
            self.feed_monitors(args);
        }
    }

    /// Feeds a command a script of this client ran (shown as `lua`).
    #[inline]
    pub fn feed_script_command(&self, spec: &CommandSpec, args: Args<'_>) {
        if shown(spec) {
            feed(&self.core, self.db, "lua", args);
        }
    }

    /// `MONITOR`: this client receives every command from now on.
    pub fn start_monitor(&mut self) {
        if self.deny_blocking {
            return self.error("ERR MONITOR isn't allowed for DENY BLOCKING client");
        }
        if std::mem::replace(&mut self.handle.info.borrow_mut().monitor, true) {
            // Already monitoring: nothing, not even a reply (as Redis).
            return;
        }
        self.core.monitors().borrow_mut().push(self.handle.clone());
        let engine = &self.core.engine;
        engine.monitors[self.core.id]
            .0
            .fetch_add(1, Ordering::AcqRel);
        engine.monitoring.fetch_add(1, Ordering::AcqRel);
        self.reply().ok();
    }

    /// Leaves monitor mode (RESET, disconnection).
    pub fn stop_monitor(&mut self) {
        if !std::mem::replace(&mut self.handle.info.borrow_mut().monitor, false) {
            return;
        }
        let id = self.id;
        self.core
            .monitors()
            .borrow_mut()
            .retain(|h| h.info.borrow().id != id);
        let engine = &self.core.engine;
        engine.monitors[self.core.id]
            .0
            .fetch_sub(1, Ordering::AcqRel);
        engine.monitoring.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&[u8]]) -> (Vec<u8>, Vec<(usize, usize)>) {
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        for p in parts {
            let s = buf.len();
            buf.extend_from_slice(p);
            ranges.push((s, buf.len()));
        }
        (buf, ranges)
    }

    fn text(parts: &[&[u8]], from: &str) -> String {
        let (buf, ranges) = args(parts);
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_339_518_083_107_412);
        String::from_utf8(line(t, 0, from, Args::new(&buf, &ranges))).unwrap()
    }

    #[test]
    fn lines_as_redis_writes_them() {
        assert_eq!(
            text(&[b"set", b"foo", b"bar"], "127.0.0.1:60866"),
            "+1339518083.107412 [0 127.0.0.1:60866] \"set\" \"foo\" \"bar\"\r\n"
        );
        assert_eq!(
            text(&[b"set", b"a\"b\\c\r\n\t\x07\x08\x00\xff", b""], "lua"),
            "+1339518083.107412 [0 lua] \"set\" \"a\\\"b\\\\c\\r\\n\\t\\a\\b\\x00\\xff\" \"\"\r\n"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            text(&[b"AUTH", b"user", b"pass"], "x"),
            "+1339518083.107412 [0 x] \"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"
        );
        assert_eq!(
            text(
                &[b"hello", b"2", b"AUTH", b"u", b"p", b"SETNAME", b"n"],
                "x"
            ),
            "+1339518083.107412 [0 x] \"hello\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
        );
        assert_eq!(
            text(
                &[
                    b"migrate", b"h", b"1", b"k", b"0", b"5000", b"AUTH2", b"u", b"p"
                ],
                "x"
            ),
            "+1339518083.107412 [0 x] \"migrate\" \"h\" \"1\" \"k\" \"0\" \"5000\" \"AUTH2\" \"(redacted)\" \"(redacted)\"\r\n"
        );
        assert_eq!(
            text(&[b"get", b"auth"], "x"),
            "+1339518083.107412 [0 x] \"get\" \"auth\"\r\n"
        );
    }
}
