//! An ELF core file, mapped and decoded lazily.
//!
//! Memory comes from the PT_LOAD segments; bytes the kernel did not dump (read-only
//! file-backed mappings, whose segments have `p_filesz < p_memsz`) are read from the
//! mapped files named in NT_FILE, inside `--sysroot` when one is given, and only when
//! the file is the one the process mapped: its build-id equals the one in the first
//! page the kernel dumped (or, for an image without one, that page itself matches).
//!
//! The core is read through [`crate::files::FileBytes`]: a core truncated while it is
//! read makes reads fail instead of raising SIGBUS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use object::elf;
use object::read::elf::NoteIterator;
use object::LittleEndian as LE;

use crate::decompress::{decompress_to_tempfile, Compression};
use crate::elf_ident::{self, InMemory};
use crate::files::{self, FileBytes, FileError};
use crate::memory::{Memory, ReadError, RemoteAddr};
use crate::notes::{self, u16_at, u32_at, u64_at, FileMapping, ProcessInfo, SignalInfo, ThreadInfo};

/// Why a file could not be opened as a core.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not an ELF file (and not a compressed one).
    #[error("{path} is not an ELF core file")]
    NotElf {
        /// The file.
        path: PathBuf,
    },
    /// An ELF file, but not a core (e.g. an executable).
    #[error("{path} is an ELF file but not a core dump (e_type {e_type})")]
    NotCore {
        /// The file.
        path: PathBuf,
        /// Its `e_type`.
        e_type: u16,
    },
    /// A core for a machine we do not decode.
    #[error("{path} is a core for machine {machine}; only x86_64 is supported")]
    UnsupportedMachine {
        /// The file.
        path: PathBuf,
        /// Its `e_machine`.
        machine: u16,
    },
    /// The headers are cut off or malformed.
    #[error("{path} is truncated or malformed: {what}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// Not a regular file (a FIFO, a device, a directory).
    #[error("{0}; give the path of a core file")]
    NotRegular(FileError),
    /// Decompression failed.
    #[error("cannot decompress {path} ({kind}): {source}")]
    Decompress {
        /// The file.
        path: PathBuf,
        /// The compression detected.
        kind: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    vaddr: u64,
    /// `p_flags`: PF_X 1, PF_W 2, PF_R 4.
    flags: u32,
    memsz: u64,
    /// Bytes of this segment present in the file (after truncation is accounted for).
    avail: u64,
    offset: u64,
    /// What the header claims; more than `avail` when the core is truncated.
    filesz: u64,
}

/// What the PT_NOTE segments hold.
#[derive(Default)]
struct Notes {
    threads: Vec<ThreadInfo>,
    siginfo: Option<SignalInfo>,
    files: Vec<FileMapping>,
    auxv: Vec<(u64, u64)>,
    psinfo: Option<ProcessInfo>,
    damaged: bool,
}

impl Notes {
    /// Decode the notes of one segment, `data` (read in place), into these.
    fn parse(&mut self, align: u64, data: &[u8]) {
        let Ok(mut it) = NoteIterator::<elf::FileHeader64<LE>>::new(LE, align, data) else {
            self.damaged = true;
            return;
        };
        loop {
            let note = match it.next() {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(_) => {
                    self.damaged = true;
                    break;
                }
            };
            if note.name() != b"CORE" && note.name() != b"LINUX" {
                continue;
            }
            let desc = note.desc();
            match note.n_type(LE) {
                elf::NT_PRSTATUS => match notes::parse_prstatus(desc) {
                    Some(t) => self.threads.push(t),
                    None => self.damaged = true,
                },
                elf::NT_SIGINFO => self.siginfo = self.siginfo.or(notes::parse_siginfo(desc)),
                elf::NT_FILE => match notes::parse_nt_file(desc) {
                    Some(f) => self.files = f,
                    None => self.damaged = true,
                },
                elf::NT_AUXV => self.auxv = notes::parse_auxv(desc),
                elf::NT_PRPSINFO => self.psinfo = notes::parse_prpsinfo(desc),
                _ => {}
            }
        }
    }
}

/// An opened ELF core.
pub struct ElfCore {
    path: PathBuf,
    bytes: FileBytes,
    compression: Option<Compression>,
    segments: Vec<Segment>,
    threads: Vec<ThreadInfo>,
    siginfo: Option<SignalInfo>,
    /// NT_FILE mappings, in note order.
    files: Vec<FileMapping>,
    /// Indices into `files`, sorted by start address.
    by_start: Vec<usize>,
    /// Per mapping (index into `files`), the id of its path.
    path_of: Vec<usize>,
    /// Per path id: the start of its mapping at file offset 0 (where its ELF header is).
    heads: Vec<Option<u64>>,
    auxv: Vec<(u64, u64)>,
    psinfo: Option<ProcessInfo>,
    truncated: bool,
    notes_damaged: bool,
    sysroot: Option<PathBuf>,
    /// The core file's mtime.
    written: Option<std::time::SystemTime>,
    /// Per path id: the file once opened and checked (or refused).
    file_cache: Vec<OnceLock<Option<FileBytes>>>,
    /// Files named by the core that were not used, and why.
    refused: Mutex<Vec<String>>,
}

impl std::fmt::Debug for ElfCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfCore")
            .field("path", &self.path)
            .field("segments", &self.segments.len())
            .field("threads", &self.threads.len())
            .finish()
    }
}

const EM_X86_64: u16 = 62;
/// Program headers accepted (PN_XNUM cores can have more than 65535).
const MAX_PHNUM: u64 = 1 << 20;
/// Bytes of notes read per PT_NOTE (NT_FILE of 65 530 mappings is a few MiB).
const MAX_NOTES: u64 = 256 << 20;


impl ElfCore {
    /// Read a core from a stream (standard input, a pipe), plain or compressed: spooled
    /// to an unlinked temporary file, bounded by its own headers. `name` is how the
    /// report calls it (`-`).
    pub fn from_stream(name: &Path, input: impl std::io::Read) -> Result<ElfCore, CoreError> {
        let (file, len, compression) = crate::decompress::spool_to_tempfile(input).map_err(|source| CoreError::Decompress {
            path: name.to_path_buf(),
            kind: "stream",
            source,
        })?;
        if len == 0 {
            return Err(CoreError::Empty { path: name.to_path_buf() });
        }
        Self::from_bytes(name, FileBytes::new(file, len), compression)
    }

    /// Open a core file (plain or compressed) and decode its headers and notes.
    pub fn open(path: &Path) -> Result<ElfCore, CoreError> {
        let io = |source| CoreError::Io { path: path.to_path_buf(), source };
        let opened = files::open_regular(path, u64::MAX).map_err(|e| match e {
            FileError::NotRegular { .. } => CoreError::NotRegular(e),
            FileError::NotFound { .. } => io(std::io::Error::from_raw_os_error(libc::ENOENT)),
            other => io(std::io::Error::other(other.to_string())),
        })?;
        if opened.len == 0 {
            return Err(CoreError::Empty { path: path.to_path_buf() });
        }
        // The magic decides; the same open file is then mapped or decompressed (never
        // opened again by path, which could name another file by then).
        let mut head = [0u8; 8];
        let n = std::os::unix::fs::FileExt::read_at(&opened.file, &mut head, 0).map_err(io)?;
        let compression = Compression::detect(head.get(..n).unwrap_or_default());
        let written = opened.file.metadata().and_then(|m| m.modified()).ok();
        let bytes = match compression {
            Some(kind) => {
                let (file, len) = decompress_to_tempfile(kind, opened.file).map_err(|source| CoreError::Decompress {
                    path: path.to_path_buf(),
                    kind: kind.name(),
                    source,
                })?;
                FileBytes::new(file, len)
            }
            None => FileBytes::new(opened.file, opened.len),
        };
        let mut core = Self::from_bytes(path, bytes, compression)?;
        core.written = written;
        Ok(core)
    }

    /// When the core file was last written (its mtime), when read from a file.
    pub fn written(&self) -> Option<std::time::SystemTime> {
        self.written
    }

    fn from_bytes(path: &Path, bytes: FileBytes, compression: Option<Compression>) -> Result<ElfCore, CoreError> {
        let p = || path.to_path_buf();
        if bytes.is_empty() {
            return Err(CoreError::Empty { path: p() });
        }
        let malformed = |what: &str| CoreError::Malformed { path: p(), what: what.to_string() };
        let mut ehdr = [0u8; 64];
        if bytes.read_exact_at(0, &mut ehdr).is_err() {
            let mut magic = [0u8; 4];
            return Err(if bytes.read_exact_at(0, &mut magic).is_ok() && &magic == b"\x7FELF" {
                malformed("the ELF header is cut off")
            } else {
                CoreError::NotElf { path: p() }
            });
        }
        if !ehdr.starts_with(b"\x7FELF") {
            return Err(CoreError::NotElf { path: p() });
        }
        if ehdr.get(4) != Some(&2) || ehdr.get(5) != Some(&1) {
            return Err(malformed("not a 64-bit little-endian ELF file"));
        }
        let e_type = u16_at(&ehdr, 16).unwrap_or(0);
        if e_type != elf::ET_CORE {
            return Err(CoreError::NotCore { path: p(), e_type });
        }
        let machine = u16_at(&ehdr, 18).unwrap_or(0);
        if machine != EM_X86_64 {
            return Err(CoreError::UnsupportedMachine { path: p(), machine });
        }
        let phoff = u64_at(&ehdr, 32).unwrap_or(0);
        let shoff = u64_at(&ehdr, 40).unwrap_or(0);
        let phentsize = u64::from(u16_at(&ehdr, 54).unwrap_or(0));
        let mut phnum = u64::from(u16_at(&ehdr, 56).unwrap_or(0));
        if phnum == u64::from(elf::PN_XNUM) {
            // More than 65534 segments: the count is in section header 0's sh_info.
            let mut sh0 = [0u8; 64];
            bytes.read_exact_at(shoff, &mut sh0).map_err(|_| malformed("PN_XNUM without a readable section header 0"))?;
            phnum = u64::from(u32_at(&sh0, 44).unwrap_or(0));
        }
        if phnum == 0 {
            return Err(malformed("no program headers"));
        }
        if phentsize < 56 || phnum > MAX_PHNUM {
            return Err(malformed(&format!("{phnum} program headers of {phentsize} bytes")));
        }
        let table_len = phnum.checked_mul(phentsize).ok_or_else(|| malformed("program header table size overflows"))?;
        let table = bytes
            .read_vec_at(phoff, table_len, MAX_PHNUM * 64)
            .map_err(|_| malformed("the program header table is cut off"))?;
        let file_len = bytes.len();
        let mut segments = Vec::new();
        let mut truncated = false;
        let mut notes = Notes::default();
        for i in 0..phnum {
            let Some(ph) = usize::try_from(i.saturating_mul(phentsize)).ok().and_then(|o| table.get(o..o.checked_add(56)?)) else { break };
            let flags = u32_at(ph, 4).unwrap_or(0);
            let (p_type, offset, vaddr, filesz, memsz, align) = (
                u32_at(ph, 0).unwrap_or(0),
                u64_at(ph, 8).unwrap_or(0),
                u64_at(ph, 16).unwrap_or(0),
                u64_at(ph, 32).unwrap_or(0),
                u64_at(ph, 40).unwrap_or(0),
                u64_at(ph, 48).unwrap_or(0),
            );
            match p_type {
                elf::PT_LOAD => {
                    let avail = file_len.saturating_sub(offset).min(filesz);
                    if avail < filesz {
                        truncated = true;
                    }
                    segments.push(Segment { vaddr, flags, memsz, avail, offset, filesz });
                }
                elf::PT_NOTE if bytes.with_bytes(offset, filesz, MAX_NOTES, |data| notes.parse(align, data)).is_err() => {
                    truncated |= offset.saturating_add(filesz) > file_len;
                    notes.damaged = true;
                }
                _ => {}
            }
        }
        let Notes { threads, siginfo, files, auxv, psinfo, damaged: notes_damaged } = notes;
        if segments.is_empty() {
            return Err(malformed("no memory segments"));
        }
        if segments.iter().all(|s| s.filesz > 0 && s.avail == 0) {
            return Err(malformed("the file ends before any memory segment"));
        }
        segments.sort_by_key(|s| s.vaddr);
        let mut by_start: Vec<usize> = (0..files.len()).collect();
        by_start.sort_by_key(|&i| files.get(i).map_or(0, |m: &FileMapping| m.start));
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut heads: Vec<Option<u64>> = Vec::new();
        let mut path_of = Vec::with_capacity(files.len());
        for m in &files {
            let id = *ids.entry(m.path.as_str()).or_insert_with(|| {
                heads.push(None);
                heads.len().saturating_sub(1)
            });
            path_of.push(id);
            if let Some(h) = heads.get_mut(id).filter(|h| h.is_none() && m.file_offset == 0) {
                *h = Some(m.start);
            }
        }
        let file_cache = (0..heads.len()).map(|_| OnceLock::new()).collect();
        Ok(ElfCore {
            path: path.to_path_buf(),
            bytes,
            compression,
            segments,
            threads,
            siginfo,
            files,
            by_start,
            path_of,
            heads,
            auxv,
            psinfo,
            truncated,
            notes_damaged,
            sysroot: None,
            written: None,
            file_cache,
            refused: Mutex::new(Vec::new()),
        })
    }

    /// Read mapped files inside `dir` only (a core from another machine or container).
    pub fn set_sysroot(&mut self, dir: Option<PathBuf>) {
        self.sysroot = dir;
        for slot in &mut self.file_cache {
            *slot = OnceLock::new();
        }
    }

    /// The path the core was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The compression the file had, if any.
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// Threads in note order; the kernel writes the thread that took the signal first.
    pub fn threads(&self) -> &[ThreadInfo] {
        &self.threads
    }

    /// The fatal signal.
    pub fn signal(&self) -> Option<SignalInfo> {
        self.siginfo
    }

    /// File-backed mappings (NT_FILE).
    pub fn file_mappings(&self) -> &[FileMapping] {
        &self.files
    }

    /// The auxiliary vector.
    pub fn auxv(&self) -> &[(u64, u64)] {
        &self.auxv
    }

    /// Process name and arguments.
    pub fn process_info(&self) -> Option<&ProcessInfo> {
        self.psinfo.as_ref()
    }

    /// True when segments extend past the end of the file.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// True when a note could not be decoded (so threads or mapped files may be missing).
    pub fn notes_damaged(&self) -> bool {
        self.notes_damaged
    }

    /// Open a file the core names: inside the sysroot when one is set, regular files only.
    pub fn open_file(&self, path: &str) -> Result<files::OpenedFile, FileError> {
        files::open_confined(self.sysroot.as_deref(), path, files::MAX_FILE)
    }

    /// Files named by the core that were not used to fill memory, and why.
    pub fn refused_files(&self) -> Vec<String> {
        self.refused.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The executable's path: AT_EXECFN read from memory, else the NT_FILE mapping
    /// that contains AT_PHDR, else the first NT_FILE entry.
    pub fn executable_path(&self) -> Option<String> {
        let at = |k: u64| self.auxv.iter().find(|(t, _)| *t == k).map(|(_, v)| *v);
        // AT_PHDR (3) lies inside the executable's first mapping.
        if let Some(m) = at(3).and_then(|phdr| self.mapping_at(phdr)) {
            return Some(m.path.clone());
        }
        if let Some(execfn) = at(31) {
            use crate::memory::MemoryExt;
            if let Ok(b) = self.read_cstr(RemoteAddr(execfn), 4096) {
                return Some(String::from_utf8_lossy(&b).into_owned());
            }
        }
        self.files.first().map(|m| m.path.clone())
    }

    /// The NT_FILE mapping holding `addr` (binary search), with its index.
    fn mapping_index_at(&self, addr: u64) -> Option<(usize, &FileMapping)> {
        let i = self.by_start.partition_point(|&i| self.files.get(i).is_some_and(|m| m.start <= addr));
        let index = *self.by_start.get(i.checked_sub(1)?)?;
        let m = self.files.get(index)?;
        (addr < m.end).then_some((index, m))
    }

    /// The NT_FILE mapping holding `addr`.
    fn mapping_at(&self, addr: u64) -> Option<&FileMapping> {
        self.mapping_index_at(addr).map(|(_, m)| m)
    }

    /// The file of mapping `index`, opened and checked once per path.
    fn mapped_file(&self, index: usize) -> Option<&FileBytes> {
        let id = *self.path_of.get(index)?;
        let path = &self.files.get(index)?.path;
        self.file_cache.get(id)?.get_or_init(|| self.open_checked(id, path)).as_ref()
    }

    fn open_checked(&self, id: usize, path: &str) -> Option<FileBytes> {
        match self.verified_file(id, path) {
            Ok(f) => Some(f),
            // Nothing to check against: the kernel dumps the first page of ELF images
            // only, so this is a data file (locale archive, fonts), or the core was
            // written without ELF headers. Not used, and nothing to warn about.
            Err(None) => None,
            Err(Some(why)) => {
                if let Ok(mut r) = self.refused.lock() {
                    r.push(why);
                }
                None
            }
        }
    }

    /// The file at `path`, if it is the one the process mapped
    /// ([`elf_ident::same_image`] against what the kernel dumped of it). `Err(None)` when
    /// the core holds nothing to check the file against.
    fn verified_file(&self, id: usize, path: &str) -> Result<FileBytes, Option<String>> {
        let dumped = Dumped(self);
        let Some(head) = self.heads.get(id).copied().flatten() else { return Err(None) };
        let expected = elf_ident::build_id(&InMemory(&dumped), head);
        // Without a build-id, the dumped first page is what the file must match; with
        // neither, there is nothing to check (and the file is not even opened).
        let page = match expected {
            Some(_) => None,
            None => Some(elf_ident::first_page(&dumped, head).ok_or(None)?),
        };
        let opened = self.open_file(path).map_err(|e| Some(format!("{e}: memory the core did not dump from it is unavailable")))?;
        let shown = opened.path.display().to_string();
        let bytes = FileBytes::new(opened.file, opened.len);
        let found = expected.as_ref().and_then(|_| elf_ident::build_id(&bytes, 0));
        let file_page = |n: usize| bytes.read_vec_at(0, n as u64, n as u64).ok();
        match elf_ident::same_image(expected.as_deref(), found.as_deref(), || page, file_page) {
            Ok(()) => Ok(bytes),
            Err(elf_ident::NotSameImage::NothingToCompare) => Err(None),
            Err(why) => Err(Some(format!("{shown} {why}: not used"))),
        }
    }

    /// Every segment (one mapping of the process) with its permissions, `r-xp` style.
    pub fn segment_regions(&self) -> Vec<(std::ops::Range<u64>, String)> {
        self.segments
            .iter()
            .map(|s| {
                let bit = |b: u32, c: char| if s.flags & b != 0 { c } else { '-' };
                (s.vaddr..s.vaddr.saturating_add(s.memsz), format!("{}{}{}p", bit(4, 'r'), bit(2, 'w'), bit(1, 'x')))
            })
            .collect()
    }

    /// The range of the segment (one mapping of the process) holding `addr`.
    pub fn segment_range(&self, addr: u64) -> Option<std::ops::Range<u64>> {
        self.segment_for(addr).map(|s| s.vaddr..s.vaddr.saturating_add(s.memsz))
    }

    /// The segment (one mapping of the process) holding `addr`.
    fn segment_for(&self, addr: u64) -> Option<&Segment> {
        let idx = self.segments.partition_point(|s| s.vaddr <= addr);
        let s = self.segments.get(idx.checked_sub(1)?)?;
        (addr < s.vaddr.saturating_add(s.memsz)).then_some(s)
    }

    /// Copy from the core file itself; `Ok(None)` when the address is not in it.
    fn read_dumped(&self, addr: u64, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        let raddr = RemoteAddr(addr);
        let Some(s) = self.segment_for(addr) else { return Ok(None) };
        // segment_for found it: vaddr <= addr.
        let rel = addr.saturating_sub(s.vaddr);
        if rel >= s.avail {
            return Ok(None);
        }
        let n = s.avail.saturating_sub(rel).min(buf.len() as u64) as usize;
        let start = s.offset.checked_add(rel).ok_or(ReadError::Unmapped { addr: raddr })?;
        let dst = buf.get_mut(..n).ok_or(ReadError::Unmapped { addr: raddr })?;
        self.bytes.read_exact_at(start, dst).map_err(|e| ReadError::NotDumped {
            addr: raddr,
            file: format!("{} ({e})", self.path.display()),
        })?;
        Ok(Some(n))
    }

    /// Copy as much as one contiguous source allows; returns the number of bytes copied.
    fn read_some(&self, addr: u64, buf: &mut [u8]) -> Result<usize, ReadError> {
        let raddr = RemoteAddr(addr);
        if let Some(n) = self.read_dumped(addr, buf)? {
            return Ok(n);
        }
        let seg = self.segment_for(addr);
        // Bytes the kernel wrote but the file lost: never substitute the mapped file's
        // contents, which would be the initial data, not the process's.
        if let Some(s) = seg {
            if addr.saturating_sub(s.vaddr) < s.filesz {
                return Err(ReadError::NotDumped {
                    addr: raddr,
                    file: format!("{} (truncated core)", self.path.display()),
                });
            }
        }
        // Not in the file: the kernel skipped it (read-only file-backed memory).
        let Some((index, m)) = self.mapping_index_at(addr) else {
            return Err(match seg {
                Some(_) => ReadError::NotDumped { addr: raddr, file: "(anonymous memory)".into() },
                None => ReadError::Unmapped { addr: raddr },
            });
        };
        let not_dumped = || ReadError::NotDumped { addr: raddr, file: m.path.clone() };
        let fmap = self.mapped_file(index).ok_or_else(not_dumped)?;
        // mapping_index_at found it: start <= addr < end.
        let rel = addr.saturating_sub(m.start);
        let in_map = m.end.saturating_sub(addr).min(buf.len() as u64);
        let seg_left = seg.map(|s| s.vaddr.saturating_add(s.memsz).saturating_sub(addr)).unwrap_or(u64::MAX);
        let n = in_map.min(seg_left) as usize;
        let off = m.file_offset.checked_add(rel).ok_or_else(not_dumped)?;
        let dst = buf.get_mut(..n).ok_or_else(not_dumped)?;
        fmap.read_exact_at(off, dst).map_err(|_| not_dumped())?;
        Ok(n)
    }
}

/// The core's own bytes only: what the kernel dumped, never a mapped file's.
struct Dumped<'a>(&'a ElfCore);

impl Memory for Dumped<'_> {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.0.checked_add(done as u64).ok_or(ReadError::Unmapped { addr })?;
            let rest = buf.get_mut(done..).ok_or(ReadError::Unmapped { addr })?;
            match self.0.read_dumped(a, rest)? {
                Some(n) if n > 0 => done = done.saturating_add(n),
                _ => return Err(ReadError::NotDumped { addr: RemoteAddr(a), file: "(not in the core)".into() }),
            }
        }
        Ok(())
    }
}

impl Memory for ElfCore {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.0.checked_add(done as u64).ok_or(ReadError::Unmapped { addr })?;
            let rest = buf.get_mut(done..).ok_or(ReadError::Unmapped { addr })?;
            let n = self.read_some(a, rest)?;
            if n == 0 {
                return Err(ReadError::Unmapped { addr: RemoteAddr(a) });
            }
            done = done.saturating_add(n);
        }
        Ok(())
    }
}
