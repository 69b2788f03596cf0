//! Script flags: the `#!lua` line of a script body, the flags functions
//! register with, and the command flags a script command runs with (what
//! CLIENT PAUSE, MULTI and maxmemory look at before it runs). Kept apart
//! from the sessions that run scripts, so the dispatcher can ask without
//! depending on the scripting engine.

use crate::command::CommandSpec;
use crate::command::flags::*;
use crate::protocol::Args;
use crate::shard::EngineState;

/// Script flags, as `#!lua flags=` and `redis.register_function` set
/// them (bits in Redis's order, which FUNCTION LIST follows).
pub const FLAG_NAMES: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];
pub const NO_WRITES: u8 = 1;
pub const ALLOW_OOM: u8 = 2;
pub const ALLOW_STALE: u8 = 4;

/// Options a script's `#!lua` line sets.
#[derive(Default, Clone, Copy)]
pub struct Shebang {
    /// The body has a `#!` line (flags then apply as for functions).
    pub present: bool,
    pub flags: u8,
}

/// Parses a leading `#!lua [flags=a,b]` line; the body to compile keeps
/// its line numbers (the line becomes empty).
pub fn shebang(body: &[u8]) -> Result<(Shebang, Vec<u8>), String> {
    let (sb, end) = shebang_line(body)?;
    Ok((sb, body[end..].to_vec()))
}

/// The options of a body's `#!` line and where that line ends (0 without
/// one).
fn shebang_line(body: &[u8]) -> Result<(Shebang, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((Shebang::default(), 0));
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut sb = Shebang {
        present: true,
        flags: 0,
    };
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match FLAG_NAMES.iter().position(|n| *n == f) {
                Some(i) => sb.flags |= 1 << i,
                None => return Err(format!("ERR Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((sb, end))
}

/// The flags a script command runs with, as Redis works them out before
/// it runs (CLIENT PAUSE holds only writes; MULTI sums them for EXEC). A
/// script that declares flags (a `#!` line, or any function) replaces the
/// command's write, may-replicate, OOM and stale flags with what its own
/// imply; one without, or not
/// known yet (an unknown SHA1 or function), keeps the command's. Other
/// commands keep their spec's flags.
pub fn run_flags(engine: &EngineState, spec: &CommandSpec, a: Args<'_>) -> u64 {
    match declared(engine, spec, a) {
        Some(sb) if sb.present => declared_flags(spec.flags, sb.flags),
        _ => spec.flags,
    }
}

/// The flags a script command's script declares, if it is known.
fn declared(engine: &EngineState, spec: &CommandSpec, a: Args<'_>) -> Option<Shebang> {
    match spec.name {
        "eval" | "eval_ro" if a.len() > 1 => shebang_line(a.get(1)).ok().map(|(sb, _)| sb),
        "evalsha" | "evalsha_ro" if a.len() > 1 && a.get(1).len() == 40 => {
            let (_, script) = engine.cached_script(a.get(1))?;
            shebang_line(&script.body).ok().map(|(sb, _)| sb)
        }
        "fcall" | "fcall_ro" if a.len() > 1 => {
            let name = String::from_utf8_lossy(a.get(1)).to_ascii_lowercase();
            let libs = engine.libraries();
            let (_, f) = libs.function(&name)?;
            Some(Shebang {
                present: true,
                flags: f.flags,
            })
        }
        _ => None,
    }
}

/// A command's flags with a script's declared flags in place of its own
/// write, OOM, stale and may-replicate flags.
fn declared_flags(cmd: u64, script: u8) -> u64 {
    let mut f = cmd & !(STALE | DENYOOM | WRITE | MAY_REPLICATE);
    if script & (ALLOW_OOM | NO_WRITES) == 0 {
        f |= DENYOOM;
    }
    if script & NO_WRITES == 0 {
        f |= WRITE;
    }
    if script & ALLOW_STALE != 0 {
        f |= STALE;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_script_flags_replace_the_commands_own() {
        let eval = MAY_REPLICATE | NOSCRIPT | STALE;
        // No writes: neither a write nor may-replicate (CLIENT PAUSE WRITE
        // lets it run), and allowed over maxmemory.
        assert_eq!(declared_flags(eval, NO_WRITES), NOSCRIPT);
        // Declared flags without no-writes: a write that is denied on OOM.
        assert_eq!(declared_flags(eval, 0), NOSCRIPT | WRITE | DENYOOM);
        assert_eq!(declared_flags(eval, ALLOW_OOM), NOSCRIPT | WRITE);
        assert_eq!(
            declared_flags(READONLY, NO_WRITES | ALLOW_STALE),
            READONLY | STALE
        );
    }

    #[test]
    fn shebang_lines() {
        let (sb, body) = shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert_eq!(sb.flags, NO_WRITES | ALLOW_OOM);
        assert!(sb.present);
        assert_eq!(body, b"\nreturn 1");
        assert!(!shebang(b"return 1").unwrap().0.present);
        assert_eq!(
            shebang(b"#!lua flags=bogus\nreturn 1").err().unwrap(),
            "ERR Unexpected flag in script shebang: bogus"
        );
        assert_eq!(
            shebang(b"#!luax\nreturn 1").err().unwrap(),
            "ERR Unexpected engine in script shebang: #!luax"
        );
    }
}
