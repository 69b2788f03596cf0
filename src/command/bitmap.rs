//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

use super::CommandSpec;

/// Bitmap family specs.
pub static SPECS: &[CommandSpec] = &[];
