//! The hash commands.

use super::CommandSpec;

/// The hash command specs.
pub static SPECS: &[CommandSpec] = &[];
