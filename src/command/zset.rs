//! The zset commands.

use super::CommandSpec;

/// The zset command specs.
pub static SPECS: &[CommandSpec] = &[];
