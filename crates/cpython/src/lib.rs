//! The CPython model: versions, the offsets table filled from DWARF, named models of
//! the behaviours that differ across versions, and bounded walks from the runtime to
//! interpreters, thread states, frames, code objects and line numbers.
//!
//! It reads target memory only through [`pycoroner_process::Memory`] and knows no files
//! or terminals: the caller supplies the layout (see [`resolve`]) and the relocated
//! addresses of the anchors ([`python::Anchors`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Target bytes decide sizes and offsets here: no unchecked arithmetic, no panicking index.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

pub mod asyncio;
pub mod error;
pub mod heap;
pub mod linetable;
pub mod locals;
pub mod models;
pub mod objects;
pub mod python;
pub mod repr;
pub mod resolve;
pub mod snapshot;
pub mod state;
pub mod version;

pub use error::Error;
pub use models::Models;
pub use python::{Anchors, CodeInfo, FrameWalk, InterpreterState, PyFrame, Python, Stop, ThreadState};
pub use version::PyVersion;
