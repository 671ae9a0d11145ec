//! An ELF core file, mapped and decoded lazily.
//!
//! Memory comes from the PT_LOAD segments; bytes the kernel did not dump (read-only
//! file-backed mappings, whose segments have `p_filesz < p_memsz`) are read from the
//! mapped files named in NT_FILE, looked up under `--sysroot` first.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use memmap2::Mmap;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::LittleEndian as LE;

use crate::decompress::{decompress_to_tempfile, Compression};
use crate::memory::{Memory, ReadError, RemoteAddr};
use crate::notes::{self, FileMapping, ProcessInfo, SignalInfo, ThreadInfo};

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
    memsz: u64,
    /// Bytes of this segment present in the file (after truncation is accounted for).
    avail: u64,
    offset: u64,
    /// What the header claims; more than `avail` when the core is truncated.
    filesz: u64,
}

/// An opened ELF core.
pub struct ElfCore {
    path: PathBuf,
    map: Mmap,
    compression: Option<Compression>,
    segments: Vec<Segment>,
    threads: Vec<ThreadInfo>,
    siginfo: Option<SignalInfo>,
    files: Vec<FileMapping>,
    auxv: Vec<(u64, u64)>,
    psinfo: Option<ProcessInfo>,
    truncated: bool,
    sysroot: Option<PathBuf>,
    file_cache: Mutex<HashMap<String, Option<Arc<Mmap>>>>,
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

impl ElfCore {
    /// Open a core file (plain or compressed) and decode its headers and notes.
    pub fn open(path: &Path) -> Result<ElfCore, CoreError> {
        let io = |source| CoreError::Io { path: path.to_path_buf(), source };
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_dir() {
            return Err(CoreError::NotElf { path: path.to_path_buf() });
        }
        if meta.len() == 0 {
            return Err(CoreError::Empty { path: path.to_path_buf() });
        }
        let mut head = [0u8; 8];
        let n = file.read(&mut head).map_err(io)?;
        let compression = Compression::detect(head.get(..n).unwrap_or_default());
        let file = match compression {
            Some(kind) => {
                let f = File::open(path).map_err(io)?;
                decompress_to_tempfile(kind, f).map_err(|source| CoreError::Decompress {
                    path: path.to_path_buf(),
                    kind: kind.name(),
                    source,
                })?
            }
            None => file,
        };
        // SAFETY: the mapping is read-only and private; a core file being truncated by
        // another process while we read it is the one hazard, accepted as every
        // mmap-based reader (gdb, lldb) does.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        Self::from_map(path, map, compression)
    }

    fn from_map(path: &Path, map: Mmap, compression: Option<Compression>) -> Result<ElfCore, CoreError> {
        let p = || path.to_path_buf();
        let data: &[u8] = &map;
        if data.is_empty() {
            return Err(CoreError::Empty { path: p() });
        }
        if !data.starts_with(b"\x7FELF") {
            return Err(CoreError::NotElf { path: p() });
        }
        let malformed = |what: &str| CoreError::Malformed { path: p(), what: what.to_string() };
        let hdr = elf::FileHeader64::<LE>::parse(data).map_err(|e| malformed(&e.to_string()))?;
        let endian = LE;
        let e_type = hdr.e_type.get(endian);
        if e_type != elf::ET_CORE {
            return Err(CoreError::NotCore { path: p(), e_type });
        }
        let machine = hdr.e_machine.get(endian);
        if machine != EM_X86_64 {
            return Err(CoreError::UnsupportedMachine { path: p(), machine });
        }
        let phdrs = hdr.program_headers(endian, data).map_err(|e| malformed(&e.to_string()))?;
        if phdrs.is_empty() {
            return Err(malformed("no program headers"));
        }
        let file_len = data.len() as u64;
        let mut segments = Vec::new();
        let mut truncated = false;
        let mut threads = Vec::new();
        let mut siginfo = None;
        let mut files = Vec::new();
        let mut auxv = Vec::new();
        let mut psinfo = None;
        for ph in phdrs {
            match ph.p_type(endian) {
                elf::PT_LOAD => {
                    let offset = ph.p_offset(endian);
                    let filesz = ph.p_filesz(endian);
                    let avail = file_len.saturating_sub(offset).min(filesz);
                    if avail < filesz {
                        truncated = true;
                    }
                    segments.push(Segment {
                        vaddr: ph.p_vaddr(endian),
                        memsz: ph.p_memsz(endian),
                        avail,
                        offset,
                        filesz,
                    });
                }
                elf::PT_NOTE => {
                    let Ok(Some(mut it)) = ph.notes(endian, data) else {
                        truncated = true;
                        continue;
                    };
                    while let Ok(Some(note)) = it.next() {
                        if note.name() != b"CORE" && note.name() != b"LINUX" {
                            continue;
                        }
                        let desc = note.desc();
                        match note.n_type(endian) {
                            elf::NT_PRSTATUS => threads.extend(notes::parse_prstatus(desc)),
                            elf::NT_SIGINFO => siginfo = siginfo.or(notes::parse_siginfo(desc)),
                            elf::NT_FILE => files = notes::parse_nt_file(desc).unwrap_or_default(),
                            elf::NT_AUXV => auxv = notes::parse_auxv(desc),
                            elf::NT_PRPSINFO => psinfo = notes::parse_prpsinfo(desc),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if segments.is_empty() {
            return Err(malformed("no memory segments"));
        }
        if segments.iter().all(|s| s.filesz > 0 && s.avail == 0) {
            return Err(malformed("the file ends before any memory segment"));
        }
        segments.sort_by_key(|s| s.vaddr);
        Ok(ElfCore {
            path: path.to_path_buf(),
            map,
            compression,
            segments,
            threads,
            siginfo,
            files,
            auxv,
            psinfo,
            truncated,
            sysroot: None,
            file_cache: Mutex::new(HashMap::new()),
        })
    }

    /// Look up mapped files under `dir` first (a core from another machine or container).
    pub fn set_sysroot(&mut self, dir: Option<PathBuf>) {
        self.sysroot = dir;
        if let Ok(mut c) = self.file_cache.lock() {
            c.clear();
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

    /// Where a mapped file is found on this machine: under the sysroot first, then as is.
    pub fn resolve_path(&self, path: &str) -> Option<PathBuf> {
        crate::resolve_under(self.sysroot.as_deref(), path)
    }

    /// The executable's path: AT_EXECFN read from memory, else the NT_FILE mapping
    /// that contains AT_PHDR, else the first NT_FILE entry.
    pub fn executable_path(&self) -> Option<String> {
        let at = |k: u64| self.auxv.iter().find(|(t, _)| *t == k).map(|(_, v)| *v);
        // AT_PHDR (3) lies inside the executable's first mapping.
        if let Some(phdr) = at(3) {
            if let Some(m) = self.files.iter().find(|m| m.start <= phdr && phdr < m.end) {
                return Some(m.path.clone());
            }
        }
        if let Some(execfn) = at(31) {
            use crate::memory::MemoryExt;
            if let Ok(b) = self.read_cstr(RemoteAddr(execfn), 4096) {
                return Some(String::from_utf8_lossy(&b).into_owned());
            }
        }
        self.files.first().map(|m| m.path.clone())
    }

    fn mapped_file(&self, path: &str) -> Option<Arc<Mmap>> {
        let mut cache = self.file_cache.lock().ok()?;
        if let Some(hit) = cache.get(path) {
            return hit.clone();
        }
        let opened = self.resolve_path(path).and_then(|p| File::open(p).ok()).and_then(|f| {
            // SAFETY: read-only private mapping of a library file; see `open`.
            unsafe { Mmap::map(&f) }.ok().map(Arc::new)
        });
        cache.insert(path.to_string(), opened.clone());
        opened
    }

    /// Bytes of the core file (after decompression) for a segment range.
    fn segment_for(&self, addr: u64) -> Option<&Segment> {
        let idx = self.segments.partition_point(|s| s.vaddr <= addr);
        let s = self.segments.get(idx.checked_sub(1)?)?;
        (addr < s.vaddr.saturating_add(s.memsz)).then_some(s)
    }

    /// Copy as much as one contiguous source allows; returns the number of bytes copied.
    fn read_some(&self, addr: u64, buf: &mut [u8]) -> Result<usize, ReadError> {
        let raddr = RemoteAddr(addr);
        let seg = self.segment_for(addr);
        if let Some(s) = seg {
            let rel = addr - s.vaddr;
            if rel < s.avail {
                let n = (s.avail - rel).min(buf.len() as u64) as usize;
                let start = s.offset.checked_add(rel).ok_or(ReadError::Unmapped { addr: raddr })?;
                let start = usize::try_from(start).map_err(|_| ReadError::Unmapped { addr: raddr })?;
                let src = self
                    .map
                    .get(start..start.saturating_add(n))
                    .ok_or(ReadError::Unmapped { addr: raddr })?;
                buf.get_mut(..n).ok_or(ReadError::Unmapped { addr: raddr })?.copy_from_slice(src);
                return Ok(n);
            }
        }
        // Bytes the kernel wrote but the file lost: never substitute the mapped file's
        // contents, which would be the initial data, not the process's.
        if let Some(s) = seg {
            if addr - s.vaddr < s.filesz {
                return Err(ReadError::NotDumped {
                    addr: raddr,
                    file: format!("{} (truncated core)", self.path.display()),
                });
            }
        }
        // Not in the file: the kernel skipped it (read-only file-backed memory).
        let Some(m) = self.files.iter().find(|m| m.start <= addr && addr < m.end) else {
            return Err(match seg {
                Some(s) if s.avail < s.filesz => ReadError::NotDumped {
                    addr: raddr,
                    file: format!("{} (truncated core)", self.path.display()),
                },
                Some(_) => ReadError::NotDumped { addr: raddr, file: "(anonymous memory)".into() },
                None => ReadError::Unmapped { addr: raddr },
            });
        };
        let not_dumped = || ReadError::NotDumped { addr: raddr, file: m.path.clone() };
        let fmap = self.mapped_file(&m.path).ok_or_else(not_dumped)?;
        let rel = addr - m.start;
        let in_map = (m.end - addr).min(buf.len() as u64);
        let seg_left = seg.map(|s| s.vaddr + s.memsz - addr).unwrap_or(u64::MAX);
        let n = in_map.min(seg_left) as usize;
        let off = m.file_offset.checked_add(rel).ok_or_else(not_dumped)?;
        let off = usize::try_from(off).map_err(|_| not_dumped())?;
        let src = fmap.get(off..off.saturating_add(n)).ok_or_else(not_dumped)?;
        buf.get_mut(..n).ok_or_else(not_dumped)?.copy_from_slice(src);
        Ok(n)
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
            done += n;
        }
        Ok(())
    }
}
