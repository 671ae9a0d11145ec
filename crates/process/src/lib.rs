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
//! use pycoroner_process::{ElfCore, MemoryExt, RemoteAddr};
//! let core = ElfCore::open(std::path::Path::new("core")).unwrap();
//! let word = core.read_u64(RemoteAddr(0x7f00_0000_0000));
//! ```
#![deny(missing_docs)]
// Target bytes decide sizes and offsets here: no unchecked arithmetic, no panicking index.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

pub mod cache_dir;
pub mod callback;
pub mod decompress;
pub mod elf_ident;
pub mod files;
pub mod elf_core;
pub mod live;
pub mod memory;
pub mod minidump;
pub mod notes;
pub mod page_cache;
pub mod tracer;

pub use callback::CallbackTarget;
pub use elf_core::{CoreError, ElfCore};
pub use files::{FileBytes, FileError, OpenedFile};
pub use live::{LiveError, LiveProcess, StopGuard};
pub use minidump::MinidumpCore;
pub use memory::{Budgeted, Memory, MemoryExt, ReadError, RemoteAddr, SliceMemory};
pub use page_cache::PageCache;
pub use notes::{FileMapping, ProcessInfo, Registers, SignalInfo, ThreadInfo};

/// What a [`Target`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A core file.
    Core,
    /// A live process, stopped by pycoroner.
    Process,
    /// Whatever a debugger has open (a core or a process), read through its callbacks.
    Debugger,
    /// A minidump file.
    Minidump,
}

impl TargetKind {
    /// `core`, `process` or `debugger`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Core => "core",
            TargetKind::Process => "process",
            TargetKind::Debugger => "debugger",
            TargetKind::Minidump => "minidump",
        }
    }
}

/// What the analysis needs from a target besides its memory.
pub trait Target: Memory {
    /// Threads with their registers; for a core, the thread that took the signal first.
    fn threads(&self) -> Vec<ThreadInfo>;
    /// The fatal signal, if the target died of one.
    fn signal(&self) -> Option<SignalInfo>;
    /// File-backed mappings.
    fn mappings(&self) -> Vec<FileMapping>;
    /// Open a file the target mapped, as this machine has it: inside the sysroot (or the
    /// process's own root) when there is one, regular files only. Whether it is the
    /// file the target had is for the caller to check by build-id.
    fn open_file(&self, path: &str) -> Result<OpenedFile, FileError>;
    /// What is wrong with the target itself (damaged notes) and the files it names that
    /// were refused while reading its memory, and why.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// The executable's path as the target knew it.
    fn executable(&self) -> Option<String>;
    /// Process id, when known.
    fn pid(&self) -> Option<u32>;
    /// The command line, when known.
    fn command_line(&self) -> Option<String> {
        None
    }
    /// A short description of the target ("core file ./core").
    fn describe(&self) -> String;
    /// What kind of target this is.
    fn kind(&self) -> TargetKind {
        TargetKind::Core
    }
    /// The memory mapping holding `addr`, as `start..end`, when the target lists its
    /// mappings (a core's segments, a process's maps): a thread's stack mapping bounds
    /// its unwinding.
    fn region(&self, addr: u64) -> Option<std::ops::Range<u64>> {
        let _ = addr;
        None
    }
    /// When the state read was taken (a core file's mtime, a live process's attach
    /// time): files changed after it may not be what the process ran.
    fn taken_at(&self) -> Option<std::time::SystemTime> {
        None
    }
    /// A stream a minidump carries (see [`minidump::PYTHON_STREAM`]), for the targets
    /// that have one.
    fn dump_stream(&self, stream: u32) -> Option<Vec<u8>> {
        let _ = stream;
        None
    }
    /// Every mapping with its permissions as `/proc/PID/maps` writes them (`r-xp`),
    /// sorted, when the target knows them (a core's segments, a process's maps).
    fn regions(&self) -> Vec<(std::ops::Range<u64>, String)> {
        Vec::new()
    }
}

impl<T: Target> Target for Budgeted<T> {
    fn threads(&self) -> Vec<ThreadInfo> {
        self.inner().threads()
    }
    fn signal(&self) -> Option<SignalInfo> {
        self.inner().signal()
    }
    fn mappings(&self) -> Vec<FileMapping> {
        self.inner().mappings()
    }
    fn open_file(&self, path: &str) -> Result<OpenedFile, FileError> {
        self.inner().open_file(path)
    }
    fn warnings(&self) -> Vec<String> {
        self.inner().warnings()
    }
    fn executable(&self) -> Option<String> {
        self.inner().executable()
    }
    fn pid(&self) -> Option<u32> {
        self.inner().pid()
    }
    fn command_line(&self) -> Option<String> {
        self.inner().command_line()
    }
    fn describe(&self) -> String {
        self.inner().describe()
    }
    fn kind(&self) -> TargetKind {
        self.inner().kind()
    }
    fn region(&self, addr: u64) -> Option<std::ops::Range<u64>> {
        self.inner().region(addr)
    }
    fn taken_at(&self) -> Option<std::time::SystemTime> {
        self.inner().taken_at()
    }
    fn dump_stream(&self, stream: u32) -> Option<Vec<u8>> {
        self.inner().dump_stream(stream)
    }
    fn regions(&self) -> Vec<(std::ops::Range<u64>, String)> {
        self.inner().regions()
    }
}

impl<T: Target + ?Sized> Target for &T {
    fn threads(&self) -> Vec<ThreadInfo> {
        (**self).threads()
    }
    fn signal(&self) -> Option<SignalInfo> {
        (**self).signal()
    }
    fn mappings(&self) -> Vec<FileMapping> {
        (**self).mappings()
    }
    fn open_file(&self, path: &str) -> Result<OpenedFile, FileError> {
        (**self).open_file(path)
    }
    fn warnings(&self) -> Vec<String> {
        (**self).warnings()
    }
    fn executable(&self) -> Option<String> {
        (**self).executable()
    }
    fn pid(&self) -> Option<u32> {
        (**self).pid()
    }
    fn command_line(&self) -> Option<String> {
        (**self).command_line()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn kind(&self) -> TargetKind {
        (**self).kind()
    }
    fn region(&self, addr: u64) -> Option<std::ops::Range<u64>> {
        (**self).region(addr)
    }
    fn taken_at(&self) -> Option<std::time::SystemTime> {
        (**self).taken_at()
    }
    fn dump_stream(&self, stream: u32) -> Option<Vec<u8>> {
        (**self).dump_stream(stream)
    }
    fn regions(&self) -> Vec<(std::ops::Range<u64>, String)> {
        (**self).regions()
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
    fn open_file(&self, path: &str) -> Result<OpenedFile, FileError> {
        ElfCore::open_file(self, path)
    }
    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.notes_damaged() {
            w.push("some of the core's notes are damaged: threads or mapped files may be missing".to_string());
        }
        w.extend(self.refused_files());
        w
    }
    fn executable(&self) -> Option<String> {
        self.executable_path()
    }
    fn pid(&self) -> Option<u32> {
        self.process_info().map(|p| p.pid).or_else(|| ElfCore::threads(self).first().map(|t| t.tid))
    }
    fn command_line(&self) -> Option<String> {
        self.process_info().map(|p| p.psargs.clone()).filter(|a| !a.is_empty())
    }
    fn describe(&self) -> String {
        format!("core file {}", self.path().display())
    }
    fn region(&self, addr: u64) -> Option<std::ops::Range<u64>> {
        self.segment_range(addr)
    }
    fn taken_at(&self) -> Option<std::time::SystemTime> {
        self.written()
    }
    fn regions(&self) -> Vec<(std::ops::Range<u64>, String)> {
        self.segment_regions()
    }
}

/// A core file of either kind the CLI opens by name: an ELF core (plain or compressed)
/// or a minidump, told apart by the file's magic.
#[derive(Debug)]
pub enum CoreFile {
    /// An ELF core.
    Elf(ElfCore),
    /// A minidump.
    Minidump(MinidumpCore),
}

impl CoreFile {
    /// Open `path` as a minidump when it starts with `MDMP`, else as an ELF core.
    pub fn open(path: &std::path::Path) -> Result<CoreFile, CoreError> {
        let mut head = [0u8; 4];
        // Opened as every file a target names is: never blocking on a FIFO or a device.
        let is_dump = files::open_regular(path, u64::MAX)
            .is_ok_and(|f| std::os::unix::fs::FileExt::read_exact_at(&f.file, &mut head, 0).is_ok() && minidump::is_minidump(&head));
        // Either opener checks again that it is a regular file before reading it.
        if is_dump {
            MinidumpCore::open(path).map(CoreFile::Minidump)
        } else {
            ElfCore::open(path).map(CoreFile::Elf)
        }
    }
    /// Read the files the core names under `dir`.
    pub fn set_sysroot(&mut self, dir: Option<std::path::PathBuf>) {
        match self {
            CoreFile::Elf(c) => c.set_sysroot(dir),
            CoreFile::Minidump(c) => c.set_sysroot(dir),
        }
    }
    /// True when an ELF core is cut short.
    pub fn is_truncated(&self) -> bool {
        matches!(self, CoreFile::Elf(c) if c.is_truncated())
    }
    fn target(&self) -> &dyn Target {
        match self {
            CoreFile::Elf(c) => c,
            CoreFile::Minidump(c) => c,
        }
    }
}

impl Memory for CoreFile {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        self.target().read_exact(addr, buf)
    }
}

impl Target for CoreFile {
    fn threads(&self) -> Vec<ThreadInfo> {
        self.target().threads()
    }
    fn signal(&self) -> Option<SignalInfo> {
        self.target().signal()
    }
    fn mappings(&self) -> Vec<FileMapping> {
        self.target().mappings()
    }
    fn open_file(&self, path: &str) -> Result<OpenedFile, FileError> {
        self.target().open_file(path)
    }
    fn warnings(&self) -> Vec<String> {
        self.target().warnings()
    }
    fn executable(&self) -> Option<String> {
        self.target().executable()
    }
    fn pid(&self) -> Option<u32> {
        self.target().pid()
    }
    fn command_line(&self) -> Option<String> {
        self.target().command_line()
    }
    fn describe(&self) -> String {
        self.target().describe()
    }
    fn kind(&self) -> TargetKind {
        self.target().kind()
    }
    fn region(&self, addr: u64) -> Option<std::ops::Range<u64>> {
        self.target().region(addr)
    }
    fn taken_at(&self) -> Option<std::time::SystemTime> {
        self.target().taken_at()
    }
    fn dump_stream(&self, stream: u32) -> Option<Vec<u8>> {
        self.target().dump_stream(stream)
    }
    fn regions(&self) -> Vec<(std::ops::Range<u64>, String)> {
        self.target().regions()
    }
}
