//! COMMAND and its subcommands: the command table as clients see it.

use super::CommandSpec;

/// Introspection family specs.
pub static SPECS: &[CommandSpec] = &[];
