//! Errors of the CPython model: small, carrying the address or field at fault.

use pycoroner_layouts::{Key, Offsets};
use pycoroner_process::{ReadError, RemoteAddr};

/// What went wrong decoding CPython state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Target memory could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The offsets table lacks a field this version needs.
    #[error("the layout has no offset for {0}")]
    MissingOffset(&'static str),
    /// A pointer that must not be NULL was.
    #[error("unexpected NULL {0}")]
    Null(&'static str),
    /// Address arithmetic overflowed.
    #[error("address arithmetic overflow at {0}")]
    Overflow(RemoteAddr),
    /// A value read is impossible.
    #[error("corrupt {what} at {addr}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Where.
        addr: RemoteAddr,
    },
    /// One rendering's budget of target reads is spent: what it needed more of is cut.
    #[error("the read budget of this rendering is spent")]
    BudgetSpent,
    /// An object is not of the type it must be.
    #[error("object at {addr} is not a {expected}")]
    WrongType {
        /// The expected type.
        expected: &'static str,
        /// The object.
        addr: RemoteAddr,
    },
}

/// A field of the offsets table that this code path requires.
pub fn need(o: &Offsets, key: Key) -> Result<u64, Error> {
    key.of(o).ok_or(Error::MissingOffset(key.name))
}
