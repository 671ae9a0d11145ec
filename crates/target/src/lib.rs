//! Reading a target: the address space, threads and mapped files of a process image.
//!
//! This crate knows nothing of Python. It gives:
//! - [`Memory`]: read bytes at a target address, failing cleanly ([`ReadError`]);
//! - [`ElfCore`]: an ELF core file (plain or zstd/lz4/xz/gzip-compressed), its threads
//!   (NT_PRSTATUS), fatal signal (NT_SIGINFO), mapped files (NT_FILE) and auxv; memory
//!   the kernel did not dump is read from the mapped files, under a sysroot first;
//! - [`LiveProcess`]: a running process, read with `process_vm_readv`, optionally
//!   stopped by a [`StopGuard`] that always detaches;
//! - [`Target`]: what the analysis needs from any target, whatever its source.
//!
//! ```no_run
//! use pycoroner_target::{ElfCore, MemoryExt, RemoteAddr};
//! let core = ElfCore::open(std::path::Path::new("core")).unwrap();
//! let word = core.read_u64(RemoteAddr(0x7f00_0000_0000));
//! ```
#![deny(missing_docs)]

pub mod callback;
pub mod decompress;
pub mod elf_core;
pub mod live;
pub mod memory;
pub mod notes;
pub mod page_cache;

pub use callback::CallbackTarget;
pub use elf_core::{CoreError, ElfCore};
pub use live::{LiveError, LiveProcess, StopGuard};
pub use memory::{Memory, MemoryExt, ReadError, RemoteAddr, SliceMemory};
pub use page_cache::PageCache;
pub use notes::{FileMapping, ProcessInfo, Registers, SignalInfo, ThreadInfo};

use std::path::PathBuf;

/// What the analysis needs from a target besides its memory.
pub trait Target: Memory + Sync {
    /// Threads with their registers; for a core, the thread that took the signal first.
    fn threads(&self) -> Vec<ThreadInfo>;
    /// The fatal signal, if the target died of one.
    fn signal(&self) -> Option<SignalInfo>;
    /// File-backed mappings.
    fn mappings(&self) -> Vec<FileMapping>;
    /// Where a mapped file can be read on this machine, if anywhere.
    fn resolve_path(&self, path: &str) -> Option<PathBuf>;
    /// The executable's path as the target knew it.
    fn executable(&self) -> Option<String>;
    /// Process id, when known.
    fn pid(&self) -> Option<u32>;
    /// A short description of the target ("core file ./core").
    fn describe(&self) -> String;
    /// `"core"` or `"process"`.
    fn kind(&self) -> &'static str {
        "core"
    }
}

impl Target for ElfCore {
    fn threads(&self) -> Vec<ThreadInfo> {
        ElfCore::threads(self).to_vec()
    }
    fn signal(&self) -> Option<SignalInfo> {
        ElfCore::signal(self)
    }
    fn mappings(&self) -> Vec<FileMapping> {
        self.file_mappings().to_vec()
    }
    fn resolve_path(&self, path: &str) -> Option<PathBuf> {
        ElfCore::resolve_path(self, path)
    }
    fn executable(&self) -> Option<String> {
        self.executable_path()
    }
    fn pid(&self) -> Option<u32> {
        self.process_info().map(|p| p.pid).or_else(|| ElfCore::threads(self).first().map(|t| t.tid))
    }
    fn describe(&self) -> String {
        format!("core file {}", self.path().display())
    }
}

/// Where a file the target mapped is found on this machine: under `sysroot` first (a
/// core from another machine, a container's root), then as is.
pub fn resolve_under(sysroot: Option<&std::path::Path>, path: &str) -> Option<std::path::PathBuf> {
    if let Some(root) = sysroot {
        let p = root.join(path.trim_start_matches('/'));
        if p.is_file() {
            return Some(p);
        }
    }
    let p = std::path::PathBuf::from(path);
    p.is_file().then_some(p)
}
