//! The set commands.

use super::CommandSpec;

/// The set command specs.
pub static SPECS: &[CommandSpec] = &[];
