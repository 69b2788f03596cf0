//! Fuzzes the inline-argument splitter and the glob matcher.
//!
//! Input layout: byte 0 selects the mode, the rest is the payload.
//! - even mode byte: the payload is an inline line for `split_args`, compared
//!   with the `sdssplitargs` model (for NUL-free lines; see the model's docs);
//! - odd mode byte: the payload is split at its first NUL (or in the middle when
//!   there is none) into pattern and string for `config::glob_match`; bit 1 of the
//!   mode byte selects `nocase`. Only panics and run time are checked: run with
//!   `-timeout=` so an exponential pattern shows up as a timeout.
#![no_main]

use coreshard::protocol::parse::split_args;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let mut ranges = Vec::new();
        let mut out = Vec::new();
        let ok = split_args(payload, &mut ranges, &mut out);
        let got = ok.then(|| {
            ranges
                .iter()
                .map(|&(s, e)| {
                    assert!(s <= e && e <= out.len(), "range {s}..{e} of {}", out.len());
                    out[s..e].to_vec()
                })
                .collect::<Vec<_>>()
        });
        if !payload.contains(&0) {
            assert_eq!(
                got,
                coreshard_fuzz::split(payload),
                "split_args vs sdssplitargs"
            );
        }
    } else {
        let cut = payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(payload.len() / 2);
        let (pattern, s) = payload.split_at(cut);
        let s = s.strip_prefix(&[0]).unwrap_or(s);
        let nocase = mode & 2 != 0;
        let m = coreshard::config::glob_match(pattern, s, nocase);
        // A pattern always matches itself when it has no special characters.
        if !pattern.iter().any(|c| b"*?[]\\".contains(c)) {
            assert_eq!(glob_literal(pattern, s, nocase), m);
        }
    }
});

fn glob_literal(p: &[u8], s: &[u8], nocase: bool) -> bool {
    if nocase {
        p.eq_ignore_ascii_case(s)
    } else {
        p == s
    }
}
