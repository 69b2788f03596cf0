//! The list commands.

use super::CommandSpec;

/// The list command specs.
pub static SPECS: &[CommandSpec] = &[];
