//! Feeds arbitrary bytes to the RESP request parser the way the connection
//! loop does (consume `consumed` bytes per Command/Skip, stop on Incomplete or
//! an error) and checks:
//! - no panic; `consumed` is in `1..=remaining`; every argument range lies in
//!   the buffer it refers to (read buffer for multibulk, scratch for inline);
//! - the request's framing does not depend on bytes after it, and dropping its
//!   last byte makes it Incomplete;
//! - the outcome matches a reference model of Redis 7.0 framing
//!   (`coreshard_fuzz::frame`) wherever that model applies.
#![no_main]

use coreshard::protocol::{Args, ParseLimits, Parsed, ProtoError, parse_command};
use coreshard_fuzz::{Model, frame};
use libfuzzer_sys::fuzz_target;

fn to_model(r: &Result<Parsed, ProtoError>, args: Vec<Vec<u8>>) -> Model {
    match r {
        Ok(Parsed::Incomplete) => Model::Incomplete,
        Ok(Parsed::Skip { consumed }) => Model::Skip(*consumed),
        Ok(Parsed::Command { consumed, .. }) => Model::Command(*consumed, args),
        Err(ProtoError::InvalidMultibulkLen) => Model::InvalidMultibulkLen,
        Err(ProtoError::InvalidBulkLen) => Model::InvalidBulkLen,
        Err(ProtoError::ExpectedDollar(c)) => Model::ExpectedDollar(*c),
        Err(ProtoError::TooBigMbulkCount) => Model::TooBigMbulkCount,
        Err(ProtoError::TooBigBulkCount) => Model::TooBigBulkCount,
        Err(ProtoError::TooBigInline) => Model::TooBigInline,
        Err(ProtoError::UnbalancedQuotes) => Model::UnbalancedQuotes,
    }
}

struct Parser {
    ranges: Vec<(usize, usize)>,
    scratch: Vec<u8>,
    limits: ParseLimits,
}

impl Parser {
    /// One parse; returns the outcome and the arguments (checked to be in range).
    fn parse(&mut self, buf: &[u8]) -> (Result<Parsed, ProtoError>, Vec<Vec<u8>>) {
        let r = parse_command(buf, &mut self.ranges, &mut self.scratch, &self.limits);
        let args = match r {
            Ok(Parsed::Command { consumed, inline }) => {
                assert!(consumed > 0 && consumed <= buf.len(), "consumed {consumed}");
                assert!(!self.ranges.is_empty(), "command without arguments");
                let base: &[u8] = if inline { &self.scratch } else { buf };
                for &(s, e) in &self.ranges {
                    assert!(
                        s <= e && e <= base.len(),
                        "range {s}..{e} of {}",
                        base.len()
                    );
                    if !inline {
                        assert!(e + 2 <= consumed, "bulk {s}..{e} past consumed {consumed}");
                        assert!((e - s) as i64 <= self.limits.max_bulk_len);
                    }
                }
                Args::new(base, &self.ranges).to_vec()
            }
            Ok(Parsed::Skip { consumed }) => {
                assert!(consumed > 0 && consumed <= buf.len(), "consumed {consumed}");
                Vec::new()
            }
            Ok(Parsed::Incomplete) => Vec::new(),
            Err(ref e) => {
                let msg = e.message();
                assert!(msg.starts_with("ERR Protocol error: "), "{msg}");
                Vec::new()
            }
        };
        (r, args)
    }

    /// The connection loop over a buffer that holds everything received so far.
    fn drive(&mut self, data: &[u8]) {
        let mut pos = 0;
        while pos < data.len() {
            let buf = &data[pos..];
            let (r, args) = self.parse(buf);
            let model = frame(buf, self.limits.max_bulk_len);
            let got = to_model(&r, args);
            if model != Model::Unmodeled {
                assert_eq!(got, model, "parser vs Redis 7.0 model at offset {pos}");
            }
            let consumed = match got {
                Model::Skip(n) | Model::Command(n, _) => n,
                _ => return,
            };
            // Framing is independent of what follows, and needs every byte.
            let (again, _) = self.parse(&buf[..consumed]);
            assert_eq!(to_model(&again, self.parse(&buf[..consumed]).1), got);
            let (short, _) = self.parse(&buf[..consumed - 1]);
            assert_eq!(short, Ok(Parsed::Incomplete), "prefix of a whole request");
            pos += consumed;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for max_bulk_len in [4, ParseLimits::default().max_bulk_len, i64::MAX] {
        let mut p = Parser {
            ranges: Vec::new(),
            scratch: Vec::new(),
            limits: ParseLimits { max_bulk_len },
        };
        p.drive(data);
    }
});
