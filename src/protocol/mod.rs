//! RESP wire protocol: request parsing and reply encoding.
//!
//! ```text
//!   socket bytes ──► parse::parse_command ──► Args (ranges into the read buffer)
//!   handlers     ──► reply::Reply        ──► output buffer (RESP2 or RESP3)
//! ```
//!
//! This module owns the byte format only; it imports nothing from the server,
//! shards or storage.

pub mod parse;
pub mod reply;
pub mod value;

pub use parse::{
    Args, OwnedArgs, ParseLimits, Parsed, ProtoError, Resume, parse_command,
    parse_command_resumable,
};
pub use reply::Reply;
