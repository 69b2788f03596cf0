//! The `set` value type.
//!
//! The representation here is the plain one; the compact encoding and the
//! conversions driven by [`crate::config::EncodingLimits`] arrive with the
//! set commands. [`crate::storage::Value`] relies only on `len`,
//! `encoding` and `heap_size`.

/// A set value.
#[derive(Clone, Debug, Default)]
pub struct Set {
    items: Vec<Vec<u8>>,
}

impl Set {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when empty (an empty set is never stored).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
    /// Approximate heap bytes owned.
    pub fn heap_size(&self) -> usize {
        self.items.iter().map(|i| i.capacity()).sum::<usize>() + self.items.capacity() * 24
    }
}
