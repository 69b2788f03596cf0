//! Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHDB, FLUSHALL, TIME and friends.

use super::CommandSpec;

/// Server family specs.
pub static SPECS: &[CommandSpec] = &[];
