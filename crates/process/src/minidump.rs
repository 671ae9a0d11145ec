//! Minidumps (the Breakpad/Crashpad format), written and read.
//!
//! - [`Recorder`] wraps a target and keeps every byte an analysis read, exactly as read;
//! - [`write`] makes a minidump of a target: every thread's registers and the used part
//!   of its stack, the module list with build-ids, the exception, the memory recorded,
//!   the file mappings (`LinuxMaps`), and pycoroner's own streams (the target's facts a
//!   minidump has no standard place for, and whatever the caller adds, e.g. a layout);
//! - [`MinidumpCore`] reads a minidump from any writer (through the `minidump` crate)
//!   as a [`Target`]: whatever memory it holds is read, anything else fails cleanly.
//!
//! The format's own limits hold here: 32-bit sizes and offsets in the streams this
//! writer uses, so a dump is at most 4 GiB; [`write`] refuses more.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use minidump_common::format as md;
use scroll::ctx::{SizeWith, TryIntoCtx};
use scroll::{Pwrite, LE};
use serde::{Deserialize, Serialize};

use crate::elf_core::CoreError;
use crate::files::{self, FileError, OpenedFile};
use crate::memory::{Memory, ReadError, RemoteAddr};
use crate::notes::{FileMapping, Registers, SignalInfo, ThreadInfo};
use crate::{Target, TargetKind};

/// The stream with the target's facts a minidump has no standard place for
/// ([`TargetFacts`], JSON). "PYC" and 1.
pub const TARGET_STREAM: u32 = 0x5059_4301;
/// The stream where the analysis keeps what it resolved about the interpreter (the
/// layout table), so that no binary is needed to read the dump again. "PYC" and 2.
pub const PYTHON_STREAM: u32 = 0x5059_4302;

/// Largest minidump opened (mapped, not read: a full-memory dump of a big process is
/// allowed).
pub const MAX_MINIDUMP: u64 = files::MAX_FILE;
/// Largest text stream read (command line, status, maps).
const MAX_TEXT_STREAM: usize = 16 << 20;
/// Most streams in a directory, and most modules in a module list, before the
/// `minidump` crate is given the file: it copies each module's name and CodeView
/// record, so their count and sizes are checked here first.
const MAX_STREAMS: u32 = 4096;
const MAX_MODULES: u32 = 65_536;
const MAX_MODULE_BYTES: u64 = 64 << 20;

/// The directory's and the module list's sizes, checked against the file before the
/// `minidump` crate reads them (it bounds each by the file's size only, and copies
/// module names as often as entries point at them).
fn precheck(data: &[u8]) -> Result<(), String> {
    let u32_at = |off: usize| data.get(off..off.checked_add(4)?).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    let streams = u32_at(8).ok_or("shorter than a minidump header")?;
    let dir = usize::try_from(u32_at(12).ok_or("shorter than a minidump header")?).map_err(|e| e.to_string())?;
    if streams > MAX_STREAMS {
        return Err(format!("{streams} streams (at most {MAX_STREAMS} are read)"));
    }
    for i in 0..streams as usize {
        let entry = dir.checked_add(i.checked_mul(12).ok_or("overflow")?).ok_or("overflow")?;
        let (Some(kind), Some(rva)) = (u32_at(entry), entry.checked_add(8).and_then(u32_at)) else { break };
        if kind != md::MINIDUMP_STREAM_TYPE::ModuleListStream as u32 {
            continue;
        }
        let list = usize::try_from(rva).map_err(|e| e.to_string())?;
        let count = u32_at(list).unwrap_or(0);
        if count > MAX_MODULES {
            return Err(format!("{count} modules (at most {MAX_MODULES} are read)"));
        }
        // Each module: its name (a length-prefixed string) and its CodeView record.
        let mut total = 0u64;
        for m in 0..count as usize {
            let at = list.checked_add(4).and_then(|l| l.checked_add(m.checked_mul(108)?)).ok_or("overflow")?;
            let name_rva = at.checked_add(20).and_then(u32_at).unwrap_or(0);
            let name_len = usize::try_from(name_rva).ok().and_then(u32_at).unwrap_or(0);
            let cv_len = at.checked_add(76).and_then(u32_at).unwrap_or(0);
            total = total.saturating_add(u64::from(name_len)).saturating_add(u64::from(cv_len));
        }
        if total > MAX_MODULE_BYTES {
            return Err(format!("its module list names {total} bytes of names and records (at most {MAX_MODULE_BYTES} are read)"));
        }
    }
    Ok(())
}

/// Largest pycoroner stream decoded.
const MAX_OWN_STREAM: usize = 16 << 20;
/// Most threads, modules, mappings and memory ranges taken from a minidump.
const MAX_ENTRIES: usize = 1 << 20;

/// True when `head` starts like a minidump (`MDMP`).
pub fn is_minidump(head: &[u8]) -> bool {
    head.get(..4) == Some(&md::MINIDUMP_SIGNATURE.to_le_bytes()[..])
}

// ---------------------------------------------------------------------------------------
// Recording what an analysis reads.

/// A target whose every successful read is kept, byte for byte, for [`write`].
pub struct Recorder<T> {
    inner: T,
    reads: Mutex<Vec<(u64, Vec<u8>)>>,
}

impl<T> Recorder<T> {
    /// Record reads of `inner`.
    pub fn new(inner: T) -> Recorder<T> {
        Recorder { inner, reads: Mutex::new(Vec::new()) }
    }
    /// The wrapped target.
    pub fn inner(&self) -> &T {
        &self.inner
    }
    /// What was read, as disjoint blocks sorted by address (overlapping and adjacent
    /// reads merged; where two reads of the same address differ, the later wins). Taken:
    /// a second call gives only what was read since.
    pub fn blocks(&self) -> Vec<(u64, Vec<u8>)> {
        let reads = match self.reads.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        merge(reads)
    }
}

/// Merge (address, bytes) pieces into disjoint sorted blocks.
fn merge(mut pieces: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
    // Stable sort: among pieces at one address, the later read stays later and wins.
    pieces.sort_by_key(|(a, _)| *a);
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    for (addr, bytes) in pieces {
        let Some(end) = addr.checked_add(bytes.len() as u64) else { continue };
        if let Some((start, have)) = out.last_mut() {
            let have_end = start.saturating_add(have.len() as u64);
            if addr <= have_end {
                // Overlapping or adjacent: overwrite the overlap, append the rest.
                let off = usize::try_from(addr.saturating_sub(*start)).unwrap_or(usize::MAX);
                for (i, b) in bytes.iter().enumerate() {
                    let Some(at) = off.checked_add(i) else { break };
                    match have.get_mut(at) {
                        Some(slot) => *slot = *b,
                        None => have.push(*b),
                    }
                }
                let _ = end;
                continue;
            }
        }
        out.push((addr, bytes));
    }
    out
}

/// Largest gap between two blocks filled from the target to make them one: a range costs
/// a descriptor and alignment, about as much as this many bytes.
const BRIDGE: u64 = 48;

/// Join blocks less than [`BRIDGE`] bytes apart when the gap can be read.
fn bridge(target: &dyn Memory, blocks: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
    let mut out: Vec<(u64, Vec<u8>)> = Vec::with_capacity(blocks.len());
    for (addr, bytes) in blocks {
        if let Some((start, have)) = out.last_mut() {
            let end = start.saturating_add(have.len() as u64);
            let gap = addr.saturating_sub(end);
            if addr > end && gap <= BRIDGE {
                let mut fill = vec![0u8; usize::try_from(gap).unwrap_or(0)];
                if target.read_exact(RemoteAddr(end), &mut fill).is_ok() {
                    have.extend_from_slice(&fill);
                    have.extend_from_slice(&bytes);
                    continue;
                }
            }
        }
        out.push((addr, bytes));
    }
    out
}

impl<T: Memory> Memory for Recorder<T> {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        self.inner.read_exact(addr, buf)?;
        if !buf.is_empty() {
            if let Ok(mut r) = self.reads.lock() {
                r.push((addr.0, buf.to_vec()));
            }
        }
        Ok(())
    }
}

impl<T: Target> Target for Recorder<T> {
    fn threads(&self) -> Vec<ThreadInfo> {
        self.inner.threads()
    }
    fn signal(&self) -> Option<SignalInfo> {
        self.inner.signal()
    }
    fn mappings(&self) -> Vec<FileMapping> {
        self.inner.mappings()
    }
    fn open_file(&self, path: &str) -> Result<OpenedFile, FileError> {
        self.inner.open_file(path)
    }
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings()
    }
    fn executable(&self) -> Option<String> {
        self.inner.executable()
    }
    fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }
    fn command_line(&self) -> Option<String> {
        self.inner.command_line()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn kind(&self) -> TargetKind {
        self.inner.kind()
    }
    fn region(&self, addr: u64) -> Option<Range<u64>> {
        self.inner.region(addr)
    }
    fn taken_at(&self) -> Option<std::time::SystemTime> {
        self.inner.taken_at()
    }
    fn dump_stream(&self, stream: u32) -> Option<Vec<u8>> {
        self.inner.dump_stream(stream)
    }
    fn regions(&self) -> Vec<(Range<u64>, String)> {
        self.inner.regions()
    }
}

// ---------------------------------------------------------------------------------------
// Writing.

/// A module for the dump's module list.
#[derive(Debug, Clone)]
pub struct DumpModule {
    /// First address of its mappings.
    pub start: u64,
    /// End of its last mapping.
    pub end: u64,
    /// Its path as the target knew it.
    pub path: String,
    /// Its GNU build-id, when it has one.
    pub build_id: Option<Vec<u8>>,
}

/// The target's facts a minidump has no standard place for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetFacts {
    /// What the dump was made from ("core file ./core", "process 42").
    pub origin: String,
    /// Process id.
    pub pid: Option<u32>,
    /// The executable's path.
    pub executable: Option<String>,
    /// The command line as the target recorded it.
    pub command_line: Option<String>,
    /// When the state was taken (seconds since the epoch).
    pub taken_at: Option<f64>,
    /// The signal's sender and syscall, when the target recorded them.
    pub signal_sender_pid: Option<u32>,
    /// The syscall number of a SIGSYS.
    pub signal_syscall: Option<i32>,
    /// Each thread's registers in `user_regs_struct` order (27): the minidump context
    /// has no `fs_base`, `gs_base` or `orig_rax`.
    pub registers: Vec<(u32, Vec<u64>)>,
}

/// Stack kept for each thread above its stack pointer (besides what the analysis read
/// anywhere in it), for other tools' unwinders: the innermost frames. A fixed window,
/// as the stack pointer may be on a signal stack inside the heap, where reads above it
/// are objects, not frames.
const STACK_WINDOW: u64 = 8 << 10;
/// Bytes kept at each thread's thread pointer (glibc's `struct pthread` holds the LWP at
/// 0x2d0).
const THREAD_BLOCK: u64 = 1024;

/// The bytes of `lo..hi` that can be read from its start on, a page at a time up to the
/// first hole.
fn keep(target: &dyn Target, lo: u64, hi: u64) -> Option<(u64, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut at = lo;
    while at < hi {
        let next = at.saturating_add(4096) & !4095;
        let end = next.min(hi).max(at.saturating_add(1));
        let mut chunk = vec![0u8; usize::try_from(end.saturating_sub(at)).ok()?];
        if target.read_exact(RemoteAddr(at), &mut chunk).is_err() {
            break;
        }
        bytes.extend_from_slice(&chunk);
        at = end;
    }
    (!bytes.is_empty()).then_some((lo, bytes))
}

/// The x86_64 red zone below the stack pointer.
const RED_ZONE: u64 = 128;

/// What a written dump holds.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// Its size in bytes.
    pub bytes: u64,
    /// Memory ranges it holds.
    pub ranges: usize,
    /// Bytes of target memory it holds.
    pub memory: u64,
}

/// Write a minidump of `target` holding `blocks` of its memory (from [`Recorder::blocks`])
/// and each thread's stack near its stack pointer, `modules`, and `extra` streams.
pub fn write(
    out: &mut dyn std::io::Write,
    target: &dyn Target,
    blocks: Vec<(u64, Vec<u8>)>,
    modules: &[DumpModule],
    extra: &[(u32, Vec<u8>)],
) -> std::io::Result<Written> {
    let threads = target.threads();
    let mut pieces = blocks;
    // Each thread's innermost stack: from below its stack pointer, within its mapping.
    let mut stacks: Vec<Option<Range<u64>>> = Vec::with_capacity(threads.len());
    for t in &threads {
        // The thread pointer's block (glibc's thread descriptor, which holds the LWP):
        // a debugger that has no `fs_base` (lldb) finds the thread's LWP there.
        let tp = t.regs.fs_base;
        if tp != 0 {
            pieces.extend(keep(target, tp, tp.saturating_add(THREAD_BLOCK)));
        }
        let sp = t.regs.rsp;
        let region = target.region(sp);
        let lo = sp.saturating_sub(RED_ZONE).max(region.as_ref().map_or(0, |r| r.start));
        let hi = sp.saturating_add(STACK_WINDOW).min(region.as_ref().map_or(u64::MAX, |r| r.end));
        if sp == 0 || hi <= lo {
            stacks.push(None);
            continue;
        }
        match keep(target, lo, hi).or_else(|| keep(target, sp, hi)) {
            Some(block) => {
                stacks.push(Some(block.0..block.0.saturating_add(block.1.len() as u64)));
                pieces.push(block);
            }
            None => stacks.push(None),
        }
    }
    let memory = bridge(target, merge(pieces));

    let mut w = Writer::default();
    let mut dir: Vec<md::MINIDUMP_DIRECTORY> = Vec::new();
    let header_len = size_of::<md::MINIDUMP_HEADER>();
    let stream_count = 9usize.saturating_add(extra.len());
    let dir_len = size_of::<md::MINIDUMP_DIRECTORY>().saturating_mul(stream_count);
    w.buf.resize(header_len.saturating_add(dir_len), 0);

    // Memory first: threads and the exception point into it.
    let mut descs: Vec<md::MINIDUMP_MEMORY_DESCRIPTOR> = Vec::with_capacity(memory.len());
    let mut total = 0u64;
    for (addr, bytes) in &memory {
        let loc = w.blob(bytes)?;
        total = total.saturating_add(bytes.len() as u64);
        descs.push(md::MINIDUMP_MEMORY_DESCRIPTOR { start_of_memory_range: *addr, memory: loc });
    }
    let stack_desc = |range: &Option<Range<u64>>| -> md::MINIDUMP_MEMORY_DESCRIPTOR {
        let Some(r) = range else { return md::MINIDUMP_MEMORY_DESCRIPTOR::default() };
        descs
            .iter()
            .find(|d| d.start_of_memory_range <= r.start && r.start < d.start_of_memory_range.saturating_add(u64::from(d.memory.data_size)))
            .copied()
            .unwrap_or_default()
    };

    // Threads: a context each, then the list.
    let mut contexts = Vec::with_capacity(threads.len());
    for t in &threads {
        contexts.push(w.value(context_of(&t.regs))?);
    }
    let mut list = (threads.len() as u32).to_le_bytes().to_vec();
    for ((t, ctx), stack) in threads.iter().zip(&contexts).zip(&stacks) {
        let raw = md::MINIDUMP_THREAD {
            thread_id: t.tid,
            suspend_count: 0,
            priority_class: 0,
            priority: 0,
            // The thread pointer: on glibc the `pthread_t` faulthandler prints.
            teb: t.regs.fs_base,
            stack: stack_desc(stack),
            thread_context: *ctx,
        };
        list.extend(encode(&raw)?);
    }
    dir.push(w.stream(md::MINIDUMP_STREAM_TYPE::ThreadListStream as u32, &list)?);

    // Modules: name, CodeView record (build-id), then the list.
    let mut mods = (modules.len() as u32).to_le_bytes().to_vec();
    for m in modules {
        let name = w.utf16(&m.path)?;
        let cv = match &m.build_id {
            Some(id) => {
                let mut rec = (md::CvSignature::Elf as u32).to_le_bytes().to_vec();
                rec.extend_from_slice(id);
                w.blob(&rec)?
            }
            None => md::MINIDUMP_LOCATION_DESCRIPTOR::default(),
        };
        let raw = md::MINIDUMP_MODULE {
            base_of_image: m.start,
            size_of_image: u32::try_from(m.end.saturating_sub(m.start)).unwrap_or(u32::MAX),
            module_name_rva: name,
            cv_record: cv,
            ..Default::default()
        };
        mods.extend(encode(&raw)?);
    }
    dir.push(w.stream(md::MINIDUMP_STREAM_TYPE::ModuleListStream as u32, &mods)?);

    let mut mem = (descs.len() as u32).to_le_bytes().to_vec();
    for d in &descs {
        mem.extend(encode(d)?);
    }
    dir.push(w.stream(md::MINIDUMP_STREAM_TYPE::MemoryListStream as u32, &mem)?);

    let signal = target.signal();
    if let (Some(sig), Some((first, ctx))) = (&signal, threads.first().zip(contexts.first())) {
        let raw = md::MINIDUMP_EXCEPTION_STREAM {
            thread_id: first.tid,
            __align: 0,
            exception_record: md::MINIDUMP_EXCEPTION {
                exception_code: sig.signo as u32,
                exception_flags: sig.code as u32,
                exception_address: sig.addr.unwrap_or(0),
                ..Default::default()
            },
            thread_context: *ctx,
        };
        dir.push(w.stream(md::MINIDUMP_STREAM_TYPE::ExceptionStream as u32, &encode(&raw)?)?);
    }

    let sys = md::MINIDUMP_SYSTEM_INFO {
        processor_architecture: md::ProcessorArchitecture::PROCESSOR_ARCHITECTURE_AMD64 as u16,
        processor_level: 0,
        processor_revision: 0,
        number_of_processors: 1,
        product_type: 0,
        major_version: 0,
        minor_version: 0,
        build_number: 0,
        platform_id: md::PlatformId::Linux as u32,
        csd_version_rva: 0,
        suite_mask: 0,
        reserved2: 0,
        cpu: md::CPU_INFORMATION { data: [0; 24] },
    };
    dir.push(w.stream(md::MINIDUMP_STREAM_TYPE::SystemInfoStream as u32, &encode(&sys)?)?);

    // /proc/PID/maps: every mapping with its permissions and, for a file, its path and
    // offset. A target that does not list its mappings (a debugger's) gets its file
    // mappings and thread stacks with their permissions unknown (`---p`).
    let mut maps = String::new();
    let files = target.mappings();
    let file_at = |r: &Range<u64>| files.iter().find(|m| m.start <= r.start && r.start < m.end);
    let line = |maps: &mut String, r: &Range<u64>, perms: &str| {
        let (offset, path) = match file_at(r) {
            Some(m) => (m.file_offset.saturating_add(r.start.saturating_sub(m.start)), m.path.replace('\n', "?")),
            None => (0, String::new()),
        };
        maps.push_str(&format!("{:x}-{:x} {perms} {offset:08x} 00:00 0 {path}\n", r.start, r.end));
    };
    let regions = target.regions();
    if regions.is_empty() {
        let mut listed: Vec<Range<u64>> = files.iter().map(|m| m.start..m.end).collect();
        listed.extend(threads.iter().filter_map(|t| target.region(t.regs.rsp)));
        listed.sort_by_key(|r| r.start);
        listed.dedup();
        for r in &listed {
            line(&mut maps, r, "---p");
        }
    } else {
        for (r, perms) in &regions {
            line(&mut maps, r, perms);
        }
    }
    dir.push(w.stream(md::MINIDUMP_STREAM_TYPE::LinuxMaps as u32, maps.as_bytes())?);

    if let Some(pid) = target.pid() {
        let name = target.executable().map(|e| e.rsplit('/').next().unwrap_or_default().to_string()).unwrap_or_default();
        let status = format!("Name:\t{}\nPid:\t{pid}\n", name.replace('\n', "?"));
        dir.push(w.stream(md::MINIDUMP_STREAM_TYPE::LinuxProcStatus as u32, status.as_bytes())?);
    }
    if let Some(cmd) = target.command_line() {
        let mut raw = cmd.into_bytes();
        raw.push(0);
        dir.push(w.stream(md::MINIDUMP_STREAM_TYPE::LinuxCmdLine as u32, &raw)?);
    }

    let facts = TargetFacts {
        origin: target.describe(),
        pid: target.pid(),
        executable: target.executable(),
        // A core keeps the first 80 bytes of the command line (psargs); say so as its report does.
        command_line: target.command_line().map(|c| if target.kind() == TargetKind::Core && c.len() >= 79 { format!("{c}...") } else { c }),
        taken_at: target.taken_at().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs_f64()),
        signal_sender_pid: signal.as_ref().and_then(|s| s.sender_pid),
        signal_syscall: signal.as_ref().and_then(|s| s.syscall),
        registers: threads.iter().map(|t| (t.tid, t.regs.raw.to_vec())).collect(),
    };
    let facts = serde_json::to_vec(&facts).map_err(std::io::Error::other)?;
    dir.push(w.stream(TARGET_STREAM, &facts)?);
    for (kind, bytes) in extra {
        dir.push(w.stream(*kind, bytes)?);
    }

    // Header and directory at the front.
    let header = md::MINIDUMP_HEADER {
        signature: md::MINIDUMP_SIGNATURE,
        version: md::MINIDUMP_VERSION,
        stream_count: dir.len() as u32,
        stream_directory_rva: header_len as u32,
        checksum: 0,
        time_date_stamp: target.taken_at().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs() as u32),
        flags: 0,
    };
    let mut front = encode(&header)?;
    for d in &dir {
        front.extend(encode(d)?);
    }
    if front.len() > header_len.saturating_add(dir_len) {
        return Err(std::io::Error::other("minidump directory larger than reserved"));
    }
    if let Some(slot) = w.buf.get_mut(..front.len()) {
        slot.copy_from_slice(&front);
    }
    // Unused directory slots stay zero: stream type 0 is "unused".
    out.write_all(&w.buf)?;
    Ok(Written { bytes: w.buf.len() as u64, ranges: descs.len(), memory: total })
}

fn size_of<T: SizeWith<scroll::Endian>>() -> usize {
    T::size_with(&LE)
}

fn encode<T: TryIntoCtx<scroll::Endian, Error = scroll::Error> + SizeWith<scroll::Endian> + Clone>(v: &T) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0u8; size_of::<T>()];
    b.pwrite_with(v.clone(), 0, LE).map_err(std::io::Error::other)?;
    Ok(b)
}

/// The file being written, in memory (a slim dump is small).
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn rva(&self) -> std::io::Result<u32> {
        u32::try_from(self.buf.len()).map_err(|_| std::io::Error::other("a minidump cannot be larger than 4 GiB"))
    }
    /// Append bytes (8-aligned), return where they are.
    fn blob(&mut self, bytes: &[u8]) -> std::io::Result<md::MINIDUMP_LOCATION_DESCRIPTOR> {
        while !self.buf.len().is_multiple_of(8) {
            self.buf.push(0);
        }
        let rva = self.rva()?;
        let data_size = u32::try_from(bytes.len()).map_err(|_| std::io::Error::other("a block larger than 4 GiB"))?;
        self.buf.extend_from_slice(bytes);
        self.rva()?;
        Ok(md::MINIDUMP_LOCATION_DESCRIPTOR { data_size, rva })
    }
    fn value<T: TryIntoCtx<scroll::Endian, Error = scroll::Error> + SizeWith<scroll::Endian> + Clone>(&mut self, v: T) -> std::io::Result<md::MINIDUMP_LOCATION_DESCRIPTOR> {
        let b = encode(&v)?;
        self.blob(&b)
    }
    fn stream(&mut self, kind: u32, bytes: &[u8]) -> std::io::Result<md::MINIDUMP_DIRECTORY> {
        Ok(md::MINIDUMP_DIRECTORY { stream_type: kind, location: self.blob(bytes)? })
    }
    /// A MINIDUMP_STRING: byte length, UTF-16LE, a NUL.
    fn utf16(&mut self, s: &str) -> std::io::Result<u32> {
        let units: Vec<u16> = s.encode_utf16().collect();
        let mut b = ((units.len() as u32).saturating_mul(2)).to_le_bytes().to_vec();
        for u in units.iter().chain(std::iter::once(&0)) {
            b.extend_from_slice(&u.to_le_bytes());
        }
        Ok(self.blob(&b)?.rva)
    }
}

/// `user_regs_struct` (kernel order) as an AMD64 CONTEXT.
fn context_of(r: &Registers) -> md::CONTEXT_AMD64 {
    let g = |i: usize| r.raw.get(i).copied().unwrap_or(0);
    md::CONTEXT_AMD64 {
        // CONTEXT_AMD64 | CONTROL | INTEGER | SEGMENTS
        context_flags: 0x0010_0007,
        r15: g(0),
        r14: g(1),
        r13: g(2),
        r12: g(3),
        rbp: g(4),
        rbx: g(5),
        r11: g(6),
        r10: g(7),
        r9: g(8),
        r8: g(9),
        rax: g(10),
        rcx: g(11),
        rdx: g(12),
        rsi: g(13),
        rdi: g(14),
        rip: g(16),
        cs: g(17) as u16,
        eflags: g(18) as u32,
        rsp: g(19),
        ss: g(20) as u16,
        ds: g(23) as u16,
        es: g(24) as u16,
        fs: g(25) as u16,
        gs: g(26) as u16,
        ..Default::default()
    }
}

/// An AMD64 CONTEXT as `user_regs_struct` (what it lacks is zero; `fs_base` from the
/// thread's TEB field, where this writer keeps it).
fn regs_of(c: &md::CONTEXT_AMD64, teb: u64) -> Registers {
    let mut raw = [0u64; 27];
    let vals = [
        (0, c.r15),
        (1, c.r14),
        (2, c.r13),
        (3, c.r12),
        (4, c.rbp),
        (5, c.rbx),
        (6, c.r11),
        (7, c.r10),
        (8, c.r9),
        (9, c.r8),
        (10, c.rax),
        (11, c.rcx),
        (12, c.rdx),
        (13, c.rsi),
        (14, c.rdi),
        (16, c.rip),
        (17, u64::from(c.cs)),
        (18, u64::from(c.eflags)),
        (19, c.rsp),
        (20, u64::from(c.ss)),
        (21, teb),
        (23, u64::from(c.ds)),
        (24, u64::from(c.es)),
        (25, u64::from(c.fs)),
        (26, u64::from(c.gs)),
    ];
    for (i, v) in vals {
        if let Some(slot) = raw.get_mut(i) {
            *slot = v;
        }
    }
    Registers::from_user_regs(raw)
}

// ---------------------------------------------------------------------------------------
// Reading.

/// A minidump's bytes: mapped from its file, or held (tests, fuzzing).
enum DumpBytes {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl std::ops::Deref for DumpBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            DumpBytes::Owned(v) => v,
            DumpBytes::Mapped(m) => m,
        }
    }
}

/// A minidump read as a target.
pub struct MinidumpCore {
    path: PathBuf,
    data: DumpBytes,
    /// Memory ranges: (start, end, offset in `data`), sorted by start, disjoint.
    memory: Vec<(u64, u64, usize)>,
    threads: Vec<ThreadInfo>,
    signal: Option<SignalInfo>,
    mappings: Vec<FileMapping>,
    regions: Vec<(Range<u64>, String)>,
    facts: TargetFacts,
    streams: BTreeMap<u32, Range<usize>>,
    warnings: Vec<String>,
    /// The module list, sorted by start, for memory the dump lacks: the read-only parts
    /// of a module are read from its file when its build-id is the one the dump records.
    modules: Vec<ModuleFile>,
    /// Files named by the dump that were not used, and why.
    refused: Mutex<Vec<String>>,
    sysroot: Option<PathBuf>,
    written: Option<std::time::SystemTime>,
}

impl std::fmt::Debug for MinidumpCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinidumpCore").field("path", &self.path).field("threads", &self.threads.len()).field("ranges", &self.memory.len()).finish()
    }
}

impl MinidumpCore {
    /// Open a minidump file (a regular file, at most [`MAX_MINIDUMP`] bytes).
    pub fn open(path: &Path) -> Result<MinidumpCore, CoreError> {
        let io = |source| CoreError::Io { path: path.to_path_buf(), source };
        let opened = files::open_regular(path, MAX_MINIDUMP).map_err(|e| match e {
            FileError::NotRegular { .. } => CoreError::NotRegular(e),
            FileError::NotFound { .. } => io(std::io::Error::from_raw_os_error(libc::ENOENT)),
            other => io(std::io::Error::other(other.to_string())),
        })?;
        let written = opened.file.metadata().and_then(|m| m.modified()).ok();
        // SAFETY: a private read-only mapping of a regular file (checked by the opener).
        // If another process truncates it while it is read, the access raises SIGBUS,
        // which the binary turns into a one-line error
        // (`files::install_sigbus_handler`), as for mapped binaries and debug files.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&opened.file) }.map_err(io)?;
        let mut core = Self::from_data(path, DumpBytes::Mapped(map))?;
        core.written = written;
        Ok(core)
    }

    /// Decode a minidump held in memory.
    pub fn from_bytes(path: &Path, data: Vec<u8>) -> Result<MinidumpCore, CoreError> {
        Self::from_data(path, DumpBytes::Owned(data))
    }

    fn from_data(path: &Path, data: DumpBytes) -> Result<MinidumpCore, CoreError> {
        let bad = |what: String| CoreError::Malformed { path: path.to_path_buf(), what };
        let mut warnings = Vec::new();
        let (memory, raw_threads, exception, modules, module_files, streams) = {
            precheck(&data).map_err(bad)?;
            let dump = minidump::Minidump::read(&data[..]).map_err(|e| bad(format!("not a readable minidump: {e}")))?;
            let base = data.as_ptr() as usize;
            let offset_of = |bytes: &[u8]| (bytes.as_ptr() as usize).checked_sub(base);
            // Memory: the 32-bit list and the 64-bit list of full dumps (a writer may
            // write both: stacks in one, the rest in the other).
            let mut memory: Vec<(u64, u64, usize)> = Vec::new();
            let mut add = |start: u64, bytes: &[u8]| {
                if let (Some(off), Some(end), false) = (offset_of(bytes), start.checked_add(bytes.len() as u64), bytes.is_empty()) {
                    memory.push((start, end, off));
                }
            };
            if let Ok(list) = dump.get_stream::<minidump::MinidumpMemoryList>() {
                for m in list.iter().take(MAX_ENTRIES) {
                    add(m.base_address, m.bytes);
                }
            }
            if let Ok(list) = dump.get_stream::<minidump::MinidumpMemory64List>() {
                for m in list.iter().take(MAX_ENTRIES) {
                    add(m.base_address, m.bytes);
                }
            }
            memory.sort_by_key(|m| m.0);
            // Overlapping ranges (a damaged or odd writer): the first wins.
            let mut disjoint: Vec<(u64, u64, usize)> = Vec::with_capacity(memory.len());
            for m in memory {
                if disjoint.last().is_some_and(|l| m.0 < l.1) {
                    continue;
                }
                disjoint.push(m);
            }
            let sys = dump.get_stream::<minidump::MinidumpSystemInfo>().ok();
            if sys.as_ref().is_some_and(|s| s.raw.processor_architecture != md::ProcessorArchitecture::PROCESSOR_ARCHITECTURE_AMD64 as u16) {
                return Err(bad("a minidump of another CPU than x86_64".to_string()));
            }
            // Exception codes are Linux signals only in a Linux (or Android) dump.
            let linux = [md::PlatformId::Linux as u32, md::PlatformId::Android as u32];
            if let Some(s) = sys.as_ref().filter(|s| !linux.contains(&s.raw.platform_id)) {
                return Err(bad(format!("a minidump of another system than Linux (platform {:#x})", s.raw.platform_id)));
            }
            let mut raw_threads: Vec<(u32, u64, Option<Registers>)> = Vec::new();
            match dump.get_stream::<minidump::MinidumpThreadList>() {
                Ok(list) => {
                    for t in list.threads.iter().take(MAX_ENTRIES) {
                        let ctx = sys.as_ref().and_then(|s| t.context(s, None));
                        let regs = ctx
                            .and_then(|c| match &c.raw {
                                minidump::MinidumpRawContext::Amd64(c) => Some(regs_of(c, t.raw.teb)),
                                _ => None,
                            })
                            // A writer's shorter AMD64 context (lldb's is 720 bytes): the
                            // integer registers are where CONTEXT_AMD64 has them.
                            .or_else(|| short_context(&data, t.raw.thread_context).map(|c| regs_of(&c, t.raw.teb)));
                        raw_threads.push((t.raw.thread_id, t.raw.teb, regs));
                    }
                }
                Err(e) => warnings.push(format!("the minidump's thread list is unreadable ({e}): no thread can be read")),
            }
            // Only a code that is a signal number is a signal: 0 (lldb, for a live process)
            // and Breakpad's 0xFFFFFFFF (a dump asked for) are none. The exception's own
            // context holds the registers at the fault (the thread list may show the
            // thread inside the handler that wrote the dump).
            let exception = dump.get_stream::<minidump::MinidumpException>().ok().filter(|e| (1..=64).contains(&e.raw.exception_record.exception_code)).map(|e| {
                let regs = sys.as_ref().and_then(|s| e.context(s, None)).and_then(|c| match &c.raw {
                    minidump::MinidumpRawContext::Amd64(c) => Some(c.clone()),
                    _ => None,
                });
                let regs = regs.or_else(|| short_context(&data, e.raw.thread_context));
                (e.raw.thread_id, e.raw.exception_record.exception_code, e.raw.exception_record.exception_flags, e.raw.exception_record.exception_address, regs)
            });
            let mut modules: Vec<FileMapping> = Vec::new();
            let mut module_files: Vec<ModuleFile> = Vec::new();
            if let Ok(list) = dump.get_stream::<minidump::MinidumpModuleList>() {
                for m in list.iter().take(MAX_ENTRIES) {
                    let end = m.raw.base_of_image.saturating_add(u64::from(m.raw.size_of_image));
                    modules.push(FileMapping { start: m.raw.base_of_image, end, file_offset: 0, path: m.name.clone() });
                    let build_id = match &m.codeview_info {
                        Some(minidump::CodeView::Elf(cv)) => Some(cv.build_id.clone()),
                        _ => None,
                    };
                    module_files.push(ModuleFile { start: m.raw.base_of_image, end, path: m.name.clone(), build_id, file: std::sync::OnceLock::new() });
                }
            }
            module_files.sort_by_key(|m| m.start);
            let mut streams = BTreeMap::new();
            for kind in [TARGET_STREAM, PYTHON_STREAM, md::MINIDUMP_STREAM_TYPE::LinuxMaps as u32, md::MINIDUMP_STREAM_TYPE::LinuxProcStatus as u32, md::MINIDUMP_STREAM_TYPE::LinuxCmdLine as u32] {
                if let Ok(bytes) = dump.get_raw_stream(kind) {
                    if let Some(off) = offset_of(bytes) {
                        streams.insert(kind, off..off.saturating_add(bytes.len()));
                    }
                }
            }
            (disjoint, raw_threads, exception, modules, module_files, streams)
        };
        // Text streams are small; anything larger is not what its name says.
        let stream = |kind: u32| streams.get(&kind).and_then(|r| data.get(r.clone())).filter(|b| b.len() <= MAX_TEXT_STREAM);
        let facts: TargetFacts = match stream(TARGET_STREAM) {
            Some(b) if b.len() <= MAX_OWN_STREAM => serde_json::from_slice(b).unwrap_or_else(|e| {
                warnings.push(format!("the minidump's pycoroner target stream is damaged ({e}): ignored"));
                TargetFacts::default()
            }),
            _ => TargetFacts::default(),
        };
        // Threads: the exception's thread first, as a core lists the thread that took the signal.
        let own_regs: BTreeMap<u32, &Vec<u64>> = facts.registers.iter().map(|(t, r)| (*t, r)).collect();
        let mut no_regs: Vec<u32> = Vec::new();
        let mut threads: Vec<ThreadInfo> = raw_threads
            .into_iter()
            .map(|(tid, _teb, regs)| {
                let regs = match (regs, own_regs.get(&tid).and_then(|r| <[u64; 27]>::try_from(r.as_slice()).ok())) {
                    // This writer's full registers, when they agree with the context.
                    (Some(c), Some(raw)) if raw.get(16) == Some(&c.rip) && raw.get(19) == Some(&c.rsp) => Registers::from_user_regs(raw),
                    (Some(c), _) => c,
                    (None, _) => {
                        no_regs.push(tid);
                        Registers::default()
                    }
                };
                ThreadInfo { tid, cursig: 0, regs }
            })
            .collect();
        if !no_regs.is_empty() {
            let shown: Vec<String> = no_regs.iter().take(10).map(u32::to_string).collect();
            warnings.push(format!("the minidump has no x86_64 registers for {} threads ({}): they cannot be unwound", no_regs.len(), shown.join(", ")));
        }
        let signal = exception.map(|(tid, code, flags, addr, ctx)| {
            if let Some(i) = threads.iter().position(|t| t.tid == tid) {
                let t = threads.remove(i);
                // pycoroner's own full registers stand; another writer's exception
                // context replaces the handler's.
                let regs = match ctx {
                    Some(c) if !own_regs.contains_key(&tid) => regs_of(&c, t.regs.fs_base),
                    _ => t.regs,
                };
                threads.insert(0, ThreadInfo { cursig: code as u16, regs, ..t });
            }
            // A fault's address is kept as the writer gave it (0 for a NULL dereference);
            // SignalInfo keeps it only for faults.
            let mut s = SignalInfo::new(code as i32, flags as i32, Some(addr), facts.signal_sender_pid);
            s.syscall = facts.signal_syscall;
            s
        });
        // Mappings: /proc/PID/maps when the writer kept it, else the module list.
        let mut mappings = Vec::new();
        let mut regions = Vec::new();
        if let Some(text) = stream(md::MINIDUMP_STREAM_TYPE::LinuxMaps as u32) {
            for line in String::from_utf8_lossy(text).lines().take(MAX_ENTRIES) {
                let Some((range, perms, mapping)) = parse_maps_line(line) else { continue };
                regions.push((range, perms));
                mappings.extend(mapping);
            }
        }
        if mappings.is_empty() {
            mappings = modules;
        }
        regions.sort_by_key(|(r, _)| r.start);
        let mut facts = facts;
        if facts.pid.is_none() {
            facts.pid = stream(md::MINIDUMP_STREAM_TYPE::LinuxProcStatus as u32).and_then(|s| {
                String::from_utf8_lossy(s).lines().find_map(|l| l.strip_prefix("Pid:").and_then(|p| p.trim().parse().ok()))
            });
        }
        if facts.command_line.is_none() {
            facts.command_line = stream(md::MINIDUMP_STREAM_TYPE::LinuxCmdLine as u32)
                .map(|s| String::from_utf8_lossy(s).trim_end_matches('\0').replace('\0', " "))
                .filter(|s| !s.is_empty());
        }
        if facts.executable.is_none() {
            facts.executable = mappings.first().map(|m| m.path.clone());
        }
        if memory.is_empty() {
            warnings.push("the minidump holds no memory: nothing of the process can be read".to_string());
        }
        Ok(MinidumpCore {
            path: path.to_path_buf(),
            data,
            memory,
            threads,
            signal,
            mappings,
            regions,
            facts,
            streams,
            warnings,
            modules: module_files,
            refused: Mutex::new(Vec::new()),
            sysroot: None,
            written: None,
        })
    }

    /// Read the files it names under `dir` (`--sysroot`).
    pub fn set_sysroot(&mut self, dir: Option<PathBuf>) {
        self.sysroot = dir;
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of process memory the dump holds.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.iter().map(|(s, e, _)| e.saturating_sub(*s)).sum()
    }

    /// What the writer recorded (pycoroner's own dumps).
    pub fn facts(&self) -> &TargetFacts {
        &self.facts
    }
}

/// Size of a full `CONTEXT_AMD64`.
const CONTEXT_AMD64_SIZE: usize = 1232;
/// `CONTEXT_AMD64` in `context_flags`.
const CONTEXT_AMD64_FLAG: u32 = 0x0010_0000;
/// The integer and control registers end here in `CONTEXT_AMD64` (after `rip`).
const CONTEXT_INTEGER_END: usize = 256;

/// An AMD64 context shorter than Microsoft's (lldb writes 720 bytes): the same layout
/// as far as it goes, the rest zero. Needs at least the integer registers.
fn short_context(data: &[u8], loc: md::MINIDUMP_LOCATION_DESCRIPTOR) -> Option<md::CONTEXT_AMD64> {
    use scroll::Pread;
    let start = usize::try_from(loc.rva).ok()?;
    let len = usize::try_from(loc.data_size).ok()?.min(CONTEXT_AMD64_SIZE);
    let bytes = data.get(start..start.checked_add(len)?)?;
    if len < CONTEXT_INTEGER_END {
        return None;
    }
    let flags = u32::from_le_bytes(bytes.get(48..52)?.try_into().ok()?);
    if flags & CONTEXT_AMD64_FLAG == 0 {
        return None;
    }
    let mut full = vec![0u8; CONTEXT_AMD64_SIZE];
    full.get_mut(..len)?.copy_from_slice(bytes);
    full.pread_with::<md::CONTEXT_AMD64>(0, LE).ok()
}

/// A module of the dump's module list, and its file once opened and checked.
struct ModuleFile {
    start: u64,
    end: u64,
    path: String,
    build_id: Option<Vec<u8>>,
    /// The file once opened and checked, or `None` when it is missing or not the file
    /// the process had.
    file: std::sync::OnceLock<Option<CheckedFile>>,
}

/// A module's file with the dump's build-id, and its read-only loadable segments.
struct CheckedFile {
    bytes: files::FileBytes,
    /// (address in the process, file offset, size in the file).
    loads: Vec<(u64, u64, u64)>,
}

/// `PF_W` in a program header's flags.
const PF_W: u32 = 2;

impl MinidumpCore {
    /// The module holding `addr`.
    fn module_at(&self, addr: u64) -> Option<&ModuleFile> {
        let i = self.modules.partition_point(|m| m.start <= addr);
        self.modules.get(i.checked_sub(1)?).filter(|m| addr < m.end)
    }

    /// The file of `m`, used only when its build-id is the one the dump records.
    fn module_file<'a>(&self, m: &'a ModuleFile) -> Option<&'a CheckedFile> {
        m.file
            .get_or_init(|| {
                let refuse = |why: String| {
                    if let Ok(mut r) = self.refused.lock() {
                        r.push(why);
                    }
                    None
                };
                // Nothing to check the file against: not used.
                let expected = m.build_id.as_ref()?;
                let opened = match self.open_file(&m.path) {
                    Ok(o) => o,
                    Err(e) => return refuse(format!("{e}: the read-only memory the minidump lacks from it is unavailable")),
                };
                let shown = opened.path.display().to_string();
                let bytes = files::FileBytes::new(opened.file, opened.len);
                if crate::elf_ident::build_id(&bytes, 0).as_ref() != Some(expected) {
                    return refuse(format!("{shown} is not the file the process had (its build-id differs from the minidump's): not used"));
                }
                let phdrs = crate::elf_ident::program_headers(&bytes, 0)?;
                let bias = crate::elf_ident::load_bias(&phdrs, m.start)?;
                // Writable segments held the process's own values: never the file's.
                let loads = phdrs
                    .iter()
                    .filter(|p| p.p_type == 1 && p.flags & PF_W == 0)
                    .map(|p| (p.vaddr.wrapping_add(bias), p.offset, p.filesz))
                    .collect();
                Some(CheckedFile { bytes, loads })
            })
            .as_ref()
    }

    /// Copy what one read-only segment of a module's file holds at `addr`; the number of
    /// bytes copied.
    fn read_from_module(&self, addr: u64, buf: &mut [u8]) -> Option<usize> {
        let m = self.module_at(addr)?;
        let CheckedFile { bytes, loads } = self.module_file(m)?;
        let (start, offset, size) = loads.iter().find(|(s, _, n)| *s <= addr && addr < s.saturating_add(*n))?;
        let rel = addr.checked_sub(*start)?;
        let n = size.saturating_sub(rel).min(buf.len() as u64);
        let dst = buf.get_mut(..usize::try_from(n).ok()?)?;
        bytes.read_exact_at(offset.checked_add(rel)?, dst).ok()?;
        Some(dst.len())
    }
}

/// One line of the dump's `/proc/PID/maps`: its range, permissions, and a file mapping
/// when it names a file (a line without an offset and inode, or with an empty range, is
/// not taken).
fn parse_maps_line(line: &str) -> Option<(Range<u64>, String, Option<FileMapping>)> {
    let l = crate::live::parse_maps_line(line)?;
    let (Some(offset), Some(_)) = (l.offset, l.inode) else { return None };
    if l.range.end <= l.range.start {
        return None;
    }
    let mapping = l.path.filter(|p| p.starts_with('/')).map(|p| FileMapping { start: l.range.start, end: l.range.end, file_offset: offset, path: p.to_string() });
    Some((l.range, l.perms.to_string(), mapping))
}

impl Memory for MinidumpCore {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        let missing = |at: u64| ReadError::NotInDump { addr: RemoteAddr(at), dump: self.path.display().to_string() };
        let mut at = addr.0;
        let mut done = 0usize;
        while done < buf.len() {
            let want = buf.len().saturating_sub(done);
            // The last range starting at or below `at`.
            let i = self.memory.partition_point(|m| m.0 <= at);
            let held = i.checked_sub(1).and_then(|i| self.memory.get(i)).filter(|m| at < m.1);
            let n = match held {
                Some(&(start, end, off)) => {
                    let have = usize::try_from(end.saturating_sub(at)).unwrap_or(usize::MAX);
                    let n = want.min(have);
                    let from = off.checked_add(usize::try_from(at.saturating_sub(start)).unwrap_or(usize::MAX));
                    let src = from.and_then(|f| self.data.get(f..f.checked_add(n)?));
                    let dst = buf.get_mut(done..done.saturating_add(n));
                    match (src, dst) {
                        (Some(s), Some(d)) => d.copy_from_slice(s),
                        _ => return Err(missing(at)),
                    }
                    n
                }
                None => {
                    // Not in the dump: a module's read-only part, from its checked file,
                    // up to where the dump's next range starts.
                    let next = self.memory.get(i).map_or(u64::MAX, |m| m.0);
                    let room = usize::try_from(next.saturating_sub(at)).unwrap_or(usize::MAX).min(want);
                    let dst = buf.get_mut(done..done.saturating_add(room)).ok_or_else(|| missing(at))?;
                    match self.read_from_module(at, dst) {
                        Some(n) if n > 0 => n,
                        _ => return Err(missing(at)),
                    }
                }
            };
            done = done.saturating_add(n);
            at = at.saturating_add(n as u64);
        }
        Ok(())
    }
}

impl Target for MinidumpCore {
    fn threads(&self) -> Vec<ThreadInfo> {
        self.threads.clone()
    }
    fn signal(&self) -> Option<SignalInfo> {
        self.signal
    }
    fn mappings(&self) -> Vec<FileMapping> {
        self.mappings.clone()
    }
    fn open_file(&self, path: &str) -> Result<OpenedFile, FileError> {
        files::open_confined(self.sysroot.as_deref(), path, files::MAX_FILE)
    }
    fn warnings(&self) -> Vec<String> {
        let mut w = self.warnings.clone();
        w.extend(self.refused.lock().map(|r| r.clone()).unwrap_or_default());
        w
    }
    fn executable(&self) -> Option<String> {
        self.facts.executable.clone()
    }
    fn pid(&self) -> Option<u32> {
        self.facts.pid.or_else(|| self.threads.first().map(|t| t.tid))
    }
    fn command_line(&self) -> Option<String> {
        self.facts.command_line.clone()
    }
    fn describe(&self) -> String {
        format!("minidump {}", self.path.display())
    }
    fn kind(&self) -> TargetKind {
        TargetKind::Minidump
    }
    fn region(&self, addr: u64) -> Option<Range<u64>> {
        let i = self.regions.partition_point(|(r, _)| r.start <= addr);
        i.checked_sub(1).and_then(|i| self.regions.get(i)).map(|(r, _)| r).filter(|r| r.contains(&addr)).cloned()
    }
    fn regions(&self) -> Vec<(Range<u64>, String)> {
        self.regions.clone()
    }
    fn taken_at(&self) -> Option<std::time::SystemTime> {
        self.facts.taken_at.filter(|t| t.is_finite() && *t >= 0.0).and_then(|t| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs_f64(t.min(1e12)))).or(self.written)
    }
    fn dump_stream(&self, stream: u32) -> Option<Vec<u8>> {
        let r = self.streams.get(&stream)?;
        self.data.get(r.clone()).filter(|b| b.len() <= MAX_OWN_STREAM).map(<[u8]>::to_vec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryExt, SliceMemory};

    #[test]
    fn merge_joins_overlaps_and_keeps_the_later_read() {
        let m = merge(vec![(0x10, vec![1, 1, 1, 1]), (0x12, vec![2, 2, 2, 2]), (0x16, vec![3]), (0x20, vec![4])]);
        assert_eq!(m, vec![(0x10, vec![1, 1, 2, 2, 2, 2, 3]), (0x20, vec![4])]);
    }

    struct Fake(SliceMemory);
    impl Memory for Fake {
        fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
            self.0.read_exact(addr, buf)
        }
    }
    impl Target for Fake {
        fn threads(&self) -> Vec<ThreadInfo> {
            let mut raw = [0u64; 27];
            raw[16] = 0x40_1000;
            raw[19] = 0x7000_0100;
            raw[21] = 0x7f00_0000_1000;
            raw[15] = 39;
            vec![ThreadInfo { tid: 77, cursig: 11, regs: Registers::from_user_regs(raw) }]
        }
        fn signal(&self) -> Option<SignalInfo> {
            Some(SignalInfo::new(11, 1, Some(0x10), None))
        }
        fn mappings(&self) -> Vec<FileMapping> {
            vec![FileMapping { start: 0x40_0000, end: 0x40_2000, file_offset: 0, path: "/usr/bin/x y".into() }]
        }
        fn open_file(&self, path: &str) -> Result<OpenedFile, FileError> {
            Err(FileError::NotFound { path: path.into() })
        }
        fn executable(&self) -> Option<String> {
            Some("/usr/bin/x y".into())
        }
        fn pid(&self) -> Option<u32> {
            Some(77)
        }
        fn command_line(&self) -> Option<String> {
            Some("x y --z".into())
        }
        fn describe(&self) -> String {
            "fake".into()
        }
        fn region(&self, addr: u64) -> Option<Range<u64>> {
            (0x7000_0000..0x7000_2000).contains(&addr).then_some(0x7000_0000..0x7000_2000)
        }
    }

    #[test]
    fn what_is_written_reads_back() {
        let mut mem = SliceMemory::new();
        mem.add(0x7000_0000, (0..0x2000u32).map(|i| i as u8).collect());
        mem.add(0x60_0000, vec![9; 64]);
        let target = Recorder::new(Fake(mem));
        assert_eq!(target.read_u64(RemoteAddr(0x60_0008)), Ok(0x0909_0909_0909_0909));
        let mut out = Vec::new();
        let modules = [DumpModule { start: 0x40_0000, end: 0x40_2000, path: "/usr/bin/x y".into(), build_id: Some(vec![0xab; 20]) }];
        let w = write(&mut out, &target, target.blocks(), &modules, &[(PYTHON_STREAM, b"{}".to_vec())]).expect("written");
        assert_eq!(w.bytes as usize, out.len());
        let back = MinidumpCore::from_bytes(Path::new("t.dmp"), out).expect("read back");
        assert_eq!(back.read_u64(RemoteAddr(0x60_0008)), Ok(0x0909_0909_0909_0909));
        // Not read by the analysis, not in the dump.
        assert!(back.read_u64(RemoteAddr(0x60_0030)).is_err());
        // The stack from below the stack pointer.
        assert_eq!(back.read_u8(RemoteAddr(0x7000_0100 - 128)), Ok(0x80));
        let t = back.threads();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].tid, t[0].cursig, t[0].regs.rip, t[0].regs.rsp, t[0].regs.fs_base, t[0].regs.raw[15]), (77, 11, 0x40_1000, 0x7000_0100, 0x7f00_0000_1000, 39));
        let s = back.signal().expect("signal");
        assert_eq!((s.signo, s.code, s.addr), (11, 1, Some(0x10)));
        assert_eq!(back.mappings(), target.mappings());
        assert_eq!(back.region(0x7000_0100), Some(0x7000_0000..0x7000_2000));
        assert_eq!((back.pid(), back.command_line().as_deref(), back.executable().as_deref()), (Some(77), Some("x y --z"), Some("/usr/bin/x y")));
        assert_eq!(back.dump_stream(PYTHON_STREAM).as_deref(), Some(&b"{}"[..]));
        assert_eq!(back.kind(), TargetKind::Minidump);
    }

    /// The offset of stream `kind`'s data in a dump.
    fn stream_at(dump: &[u8], kind: u32) -> usize {
        let n = u32::from_le_bytes(dump[8..12].try_into().unwrap_or_default()) as usize;
        let dir = u32::from_le_bytes(dump[12..16].try_into().unwrap_or_default()) as usize;
        (0..n)
            .map(|i| dir + 12 * i)
            .find(|&e| u32::from_le_bytes(dump[e..e + 4].try_into().unwrap_or_default()) == kind)
            .map(|e| u32::from_le_bytes(dump[e + 8..e + 12].try_into().unwrap_or_default()) as usize)
            .unwrap_or(0)
    }

    #[test]
    fn only_signal_numbers_are_signals_and_only_linux_dumps_are_read() {
        let mut mem = SliceMemory::new();
        mem.add(0x7000_0000, vec![1; 0x2000]);
        let target = Recorder::new(Fake(mem));
        let mut out = Vec::new();
        write(&mut out, &target, target.blocks(), &[], &[]).expect("written");
        let exc = stream_at(&out, md::MINIDUMP_STREAM_TYPE::ExceptionStream as u32);
        // A NULL dereference keeps its address 0.
        let mut null = out.clone();
        null[exc + 24..exc + 32].copy_from_slice(&0u64.to_le_bytes());
        let s = MinidumpCore::from_bytes(Path::new("n"), null).expect("read").signal().expect("signal");
        assert_eq!((s.signo, s.addr), (11, Some(0)));
        // Breakpad's "dump requested" (0xFFFFFFFF) and lldb's 0 are no signal.
        for code in [0u32, 0xffff_ffff] {
            let mut b = out.clone();
            b[exc + 8..exc + 12].copy_from_slice(&code.to_le_bytes());
            let back = MinidumpCore::from_bytes(Path::new("x"), b).expect("read");
            assert!(back.signal().is_none(), "code {code:#x}");
            assert_eq!(back.threads()[0].cursig, 0);
        }
        // A Windows dump is refused in one line.
        let sys = stream_at(&out, md::MINIDUMP_STREAM_TYPE::SystemInfoStream as u32);
        let mut win = out.clone();
        win[sys + 20..sys + 24].copy_from_slice(&2u32.to_le_bytes());
        let e = MinidumpCore::from_bytes(Path::new("w"), win).expect_err("refused").to_string();
        assert!(e.contains("another system than Linux"), "{e}");
        // Too many streams claimed: refused before the crate reads them.
        let mut many = out.clone();
        many[8..12].copy_from_slice(&100_000u32.to_le_bytes());
        assert!(MinidumpCore::from_bytes(Path::new("m"), many).expect_err("refused").to_string().contains("streams"));
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        for bytes in [Vec::new(), b"MDMP".to_vec(), b"MDMP\x93\xa7\0\0\xff\xff\xff\xff\0\0\0\0".to_vec()] {
            assert!(MinidumpCore::from_bytes(Path::new("x"), bytes).is_err());
        }
    }
}
