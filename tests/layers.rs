//! The crate's layers import downwards only:
//!
//! ```text
//!   server    sockets, listeners, the per-core threads and their tasks
//!   command   the command table, sessions (clients, pub/sub, tracking,
//!             blocked clients, MULTI), dispatch, coordinators
//!   shard     routing, hops, the transaction layer
//!   storage   tables, value encodings, expiry, eviction (with config and metrics)
//!   protocol, runtime   RESP; the event loop (import nothing of ours)
//! ```
//!
//! This test reads every source file and lists the `crate::<module>` paths
//! that reach a higher layer. Any such import fails the test.
//! (`UPWARD` lists exceptions by file; it is empty and may only shrink.)

use std::collections::BTreeSet;
use std::path::Path;

/// Layer of a top-level module (higher imports lower).
fn layer(module: &str) -> Option<u8> {
    Some(match module {
        "protocol" | "runtime" => 0,
        "storage" | "config" | "metrics" => 1,
        "shard" => 2,
        "command" => 3,
        "server" => 4,
        _ => return None,
    })
}

/// Upward imports still present: (file under src/, module it reaches up to).
/// Empty: every module imports only layers below its own.
const UPWARD: &[(&str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module a file belongs to: its first path component under src/.
fn module_of(rel: &str) -> &str {
    let first = rel.split('/').next().unwrap_or(rel);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// Top-level modules named by `crate::` paths in `text` (comments skipped),
/// including the ones inside `use crate::{a::..., b::...}` groups.
fn imported(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level parts of the group, nested groups skipped.
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.insert(ident(&group[start..j]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(&group[start..j]));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.remove("");
    found
}

#[test]
fn modules_import_only_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = BTreeSet::new();
    for f in &files {
        let rel = f
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let Some(own) = layer(module_of(&rel)) else {
            continue;
        };
        let text = std::fs::read_to_string(f).expect("read source");
        for m in imported(&text) {
            if layer(&m).is_some_and(|l| l > own) {
                upward.insert((rel.clone(), m));
            }
        }
    }
    let allowed: BTreeSet<(String, String)> = UPWARD
        .iter()
        .map(|(f, m)| (f.to_string(), m.to_string()))
        .collect();
    let new: Vec<_> = upward.difference(&allowed).collect();
    let gone: Vec<_> = allowed.difference(&upward).collect();
    assert!(
        new.is_empty(),
        "imports reaching a higher layer: {new:?} (import downwards, or pass what is needed in)"
    );
    assert!(
        gone.is_empty(),
        "no longer upward, remove from UPWARD in tests/layers.rs: {gone:?}"
    );
}

#[test]
fn the_import_reader_sees_groups_and_skips_comments() {
    let m = imported(
        "use crate::{\n    shard::{Core, txn},\n    storage::Db,\n};\n// crate::server is only named here\nlet x = crate::metrics::now();",
    );
    let want: BTreeSet<String> = ["shard", "storage", "metrics"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(m, want);
}
