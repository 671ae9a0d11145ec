//! Renderers: one file each, all from the same [`crate::Report`].

pub mod faulthandler;
pub mod gdb;
pub mod heap;
pub mod json;
pub mod state;
pub mod tasks;
