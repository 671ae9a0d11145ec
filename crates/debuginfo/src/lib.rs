//! Debug information, with no CPython semantics: which modules a target maps and at
//! which load bias, their ELF symbols and build-ids, where their debug files are
//! (every path tried is recorded), and struct layouts read from DWARF.
//!
//! The caller owns every cache: an [`ElfImage`] is opened once per module and queried
//! as often as needed; [`layout::extract`] is a one-shot scan whose answer the caller
//! keeps (pycoroner keeps it on disk, keyed by build-id).
#![deny(unsafe_code)]
// Files and target bytes decide sizes and offsets here: no unchecked arithmetic, no
// panicking index.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects, clippy::indexing_slicing))]
#![deny(missing_docs)]

mod abbrev;
pub mod image;
pub mod layout;
pub mod locate;
pub mod module;
pub mod native;
pub mod sections;
pub mod tailcall;

pub use image::{ElfImage, ImageError};
pub use layout::{extract as extract_layouts, LayoutAnswer, LayoutQuery};
pub use locate::{DebugSearch, SearchLog};
pub use module::{build_id_from_memory, modules_of, open_module_image, verify_module_image, Module};

/// Lowercase hex of a build-id.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
