//! Native stacks: unwinding a thread from its registers with the DWARF CFI of every
//! mapped module (`.eh_frame`, `.debug_frame`, through framehop), falling back to the
//! frame pointer where no CFI covers a pc, and stepping over the kernel's signal
//! frame; then symbolizing each pc with addr2line (inlined frames included) or, where
//! there is no DWARF, the ELF symbol tables.
//!
//! Reads go through [`Memory`] only, so cores and live processes unwind the same way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{ExplicitModuleSectionInfo, FrameAddress, Module as FhModule, Unwinder};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use pycoroner_process::cache_dir::{self, CacheDir};
use pycoroner_process::{Memory, MemoryExt, Registers, RemoteAddr, Target};

use crate::image::ElfImage;
use crate::locate::{DebugSearch, SearchLog};
use crate::module::Module;

mod args;
mod crossunit;
pub(crate) mod units;
pub use args::{exercise as exercise_arguments, ArgError, ArgQuery, ArgValue, MAX_ARG_FRAMES};
pub use units::exercise as exercise_unit_symbols;

/// Most frames unwound per thread where the target does not list the stack's mapping
/// (elsewhere the mapping bounds the walk first: each frame takes at least 8 bytes).
pub const MAX_NATIVE_FRAMES: usize = 1 << 20;

/// Most kernel signal frames one walk steps through (a handler that faults again
/// nests them; each may switch stacks).
pub const MAX_SIGNAL_FRAMES: usize = 16;

/// How a frame's caller was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The thread's registers.
    Context,
    /// DWARF call-frame information.
    Cfi,
    /// The frame pointer chain (no CFI covered the pc).
    FramePointer,
    /// The kernel's signal frame (`ucontext`).
    Signal,
}

/// One unwound frame: its pc and how it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame {
    /// The instruction pointer (for callers: the return address).
    pub pc: u64,
    /// True when `pc` is a return address (look up `pc - 1`).
    pub is_return: bool,
    /// How this frame was found.
    pub trust: Trust,
    /// True for the frame of the kernel's signal trampoline.
    pub signal_frame: bool,
    /// The stack pointer in this frame.
    pub sp: u64,
}

impl RawFrame {
    /// The address to look up: inside the call instruction for a return address.
    pub fn lookup_pc(&self) -> u64 {
        if self.is_return {
            self.pc.wrapping_sub(1)
        } else {
            self.pc
        }
    }
}

/// A symbolized location; an inlined call yields several, innermost first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Symbol {
    /// Function name, when known.
    pub function: Option<String>,
    /// Source file, when known.
    pub file: Option<String>,
    /// Source line, when known.
    pub line: Option<u32>,
    /// This location is inlined into the next one.
    pub inlined: bool,
}

struct NativeModule {
    name: String,
    base: u64,
    end: u64,
    bias: u64,
    path: PathBuf,
    /// Where its DWARF is, if anywhere (the file itself or a separate debug file).
    dwarf_path: Option<PathBuf>,
    /// Function symbols, sorted by address: (svma, size, name); loaded on first use.
    symbols: OnceLock<Vec<(u64, u64, String)>>,
    /// The whole file's DWARF context, loaded on first use: most modules never need
    /// one (locked: a context is not shared between threads).
    dwarf: Mutex<Option<Option<addr2line::Context<crate::sections::R>>>>,
    /// Its DWARF file and `.debug_aranges` by address, loaded on first use (contexts
    /// of single units, see [`units`]).
    aranges: OnceLock<Option<(std::sync::Arc<ElfImage>, units::ArangeIndex)>>,
    /// Frames read across units, for units that refer to others ([`crossunit`]).
    cross: crossunit::CrossUnits,
    /// Contexts of single units, by unit offset (`None`: the unit needs the file's).
    unit_contexts: Mutex<HashMap<usize, Option<Box<addr2line::Context<crate::sections::R>>>>>,
    /// Its DWARF call sites, loaded on first use (tail-call frames).
    calls: OnceLock<Option<crate::tailcall::ModuleCalls>>,
    /// Its DWARF with the location lists too, loaded on first use (arguments).
    located: OnceLock<Option<gimli::Dwarf<crate::sections::R>>>,
    /// Function addresses (SVMA) by name, from the file and its debug file (which keeps
    /// the local symbols a stripped file lost), loaded on first use.
    names: OnceLock<HashMap<String, u64>>,
    /// Build-id, the key of the on-disk symbol cache.
    build_id: Option<String>,
    /// Symbolized addresses (svma → locations): from the cache file, plus new ones.
    memo: Mutex<(CacheEntry, bool)>,
}

/// One function symbol of an ELF file (`.symtab` or `.dynsym`).
struct FnSymbol {
    address: u64,
    size: u64,
    name: String,
    /// 0 global, 1 weak, 2 local.
    rank: u8,
    /// An undefined symbol with an address is a non-PIE executable's PLT stub for a
    /// library function, not where the function is.
    defined: bool,
}

/// Every function symbol of an ELF file, unsorted.
fn function_symbols(path: &std::path::Path) -> Vec<FnSymbol> {
    let Ok(img) = ElfImage::open(path) else { return Vec::new() };
    let Ok(obj) = object::File::parse(img.data()) else { return Vec::new() };
    obj.symbols()
        .chain(obj.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
        .filter_map(|s| {
            let rank = if s.is_weak() { 1 } else if s.is_global() { 0 } else { 2 };
            Some(FnSymbol { address: s.address(), size: s.size(), name: s.name().ok()?.to_string(), rank, defined: !s.is_undefined() })
        })
        .collect()
}

/// Function symbols of an ELF file, one name per address: a global one over a weak one
/// over a local one, as gdb does (`raise` over the weak `gsignal`).
fn load_symbols(path: &std::path::Path) -> Vec<(u64, u64, String)> {
    let mut symbols: Vec<(u64, u8, u64, String)> = function_symbols(path).into_iter().map(|s| (s.address, s.rank, s.size, s.name)).collect();
    symbols.sort();
    symbols.dedup_by_key(|s| s.0);
    symbols.into_iter().map(|(a, _, size, n)| (a, size, n)).collect()
}

/// Every function an ELF file defines, by name (aliases included), global and weak
/// ones before local ones.
fn load_symbol_names(path: &std::path::Path) -> Vec<(String, u64)> {
    let mut symbols: Vec<(u8, String, u64)> =
        function_symbols(path).into_iter().filter(|s| s.defined).map(|s| (u8::from(s.rank == 2), s.name, s.address)).collect();
    symbols.sort();
    symbols.into_iter().map(|(_, n, a)| (n, a)).collect()
}

/// Unwinder and symbolizer over a target's modules. Build once per target.
pub struct Native {
    unwinder: UnwinderX86_64<Vec<u8>>,
    modules: Vec<NativeModule>,
    /// Files that could not be read or were not the target's, with why, for the report.
    pub missing: Vec<String>,
    /// Symbol cache entries that were ignored, and why.
    pub cache_warnings: Vec<String>,
    cache: Option<CacheDir>,
}

fn symbol_cache_name(build_id: &str) -> String {
    format!("{build_id}.v2.json")
}

/// What one module's symbol cache entry keeps: symbolized addresses, and the tail-call
/// chains found from its call sites (so a second analysis reads no DWARF).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    /// SVMA → locations.
    symbols: HashMap<u64, Vec<Symbol>>,
    /// `RET/CALLEE_BUILD_ID/CALLEE_SVMA` (hex SVMAs) → the chain, as (build-id, SVMA)
    /// of each tail-call site, newest first.
    #[serde(default)]
    tail_calls: HashMap<String, Vec<(String, u64)>>,
}

/// Largest symbol cache entry read.
const MAX_SYMBOL_CACHE: u64 = 64 << 20;

impl Drop for Native {
    /// Write back what was symbolized this time (failures only cost speed next time).
    fn drop(&mut self) {
        let Some(dir) = &self.cache else { return };
        for m in &self.modules {
            let (Some(id), Ok(memo)) = (&m.build_id, m.memo.lock()) else { continue };
            if !memo.1 {
                continue;
            }
            let Ok(json) = serde_json::to_vec(&memo.0) else { continue };
            let _ = dir.write(&symbol_cache_name(id), &cache_dir::seal("symbols", id, &json));
        }
    }
}

/// The file holding a module's DWARF: the binary itself, else its separate debug file
/// (with its build-id).
fn dwarf_file(img: &ElfImage, search: &DebugSearch) -> Option<PathBuf> {
    if img.has_dwarf() {
        return Some(img.path().to_path_buf());
    }
    search.find(img.path(), img.build_id(), img.debuglink().map(|(n, _)| n), &mut SearchLog::default())
}

/// Start decompressing, on background threads, the DWARF of the modules a mixed stack
/// nearly always needs: the executable's, libpython's and libc's, each only when no
/// symbol cache entry under `cache` (the analysis's cache directory) has its
/// addresses already. A speed hint and nothing else: a reader later finds each section
/// done, waits for the thread doing it, or does it itself (see [`crate::sections`]).
pub fn prefetch(target: &dyn Target, modules: &[Module], search: &DebugSearch, cache: Option<&CacheDir>) {
    let exe = target.executable();
    let mut files = Vec::new();
    for m in modules {
        let name = m.file_name();
        if exe.as_deref() != Some(m.path.as_str()) && !name.starts_with("libpython") && !name.starts_with("libc.so") {
            continue;
        }
        let cached = |id: &Vec<u8>| cache.is_some_and(|c| c.path().join("symbols").join(symbol_cache_name(&crate::hex(id))).is_file());
        if m.build_id.as_ref().is_some_and(cached) {
            continue;
        }
        let Ok(img) = crate::open_module_image(target, m) else { continue };
        files.extend(dwarf_file(&img, search));
    }
    if !files.is_empty() {
        crate::sections::prefetch(files, &crate::sections::NEEDED, 2);
    }
}

fn section(obj: &object::File<'_>, name: &str) -> Option<(std::ops::Range<u64>, Vec<u8>)> {
    let s = obj.section_by_name(name)?;
    let data = s.uncompressed_data().ok()?.into_owned();
    Some((s.address()..s.address().checked_add(s.size())?, data))
}

impl Native {
    /// Load CFI, symbols and DWARF for every module whose file can be read.
    /// Symbolized addresses are cached per build-id under `cache_dir` (if given), so a
    /// second analysis of the same binaries reads no DWARF.
    pub fn new(target: &dyn Target, modules: &[Module], search: &DebugSearch, cache: Option<CacheDir>) -> Native {
        let mut unwinder = UnwinderX86_64::new();
        let mut out = Vec::new();
        let mut missing = Vec::new();
        let mut cache_warnings = Vec::new();
        let cache = cache.and_then(|c| match c.sub("symbols") {
            Ok(s) => Some(s),
            Err(why) => {
                cache_warnings.push(why);
                None
            }
        });
        for m in modules {
            // Only the file the target mapped (build-id checked) is used.
            let img = match crate::open_module_image(target, m) {
                Ok(img) => img,
                Err(why) => {
                    missing.push(why);
                    continue;
                }
            };
            let path = img.path().to_path_buf();
            let Ok(obj) = object::File::parse(img.data()) else { continue };
            // No .text bytes: framehop would otherwise second-guess the CFI of the first
            // frame with instruction analysis, which mis-stepped out of libc's
            // __pthread_kill_implementation (a frame gdb's CFI unwinding shows).
            let eh = section(&obj, ".eh_frame");
            let eh_hdr = section(&obj, ".eh_frame_hdr");
            let info = ExplicitModuleSectionInfo {
                base_svma: 0,
                eh_frame_svma: eh.as_ref().map(|e| e.0.clone()),
                eh_frame: eh.map(|e| e.1),
                eh_frame_hdr_svma: eh_hdr.as_ref().map(|e| e.0.clone()),
                eh_frame_hdr: eh_hdr.map(|e| e.1),
                debug_frame: section(&obj, ".debug_frame").map(|d| d.1),
                ..Default::default()
            };
            unwinder.add_module(FhModule::new(m.path.clone(), m.base..m.end, m.bias, info));
            let dwarf_path = dwarf_file(&img, search);
            let build_id = img.build_id().map(crate::hex);
            let memo = match (&cache, &build_id) {
                (Some(d), Some(id)) => match d.read(&symbol_cache_name(id), MAX_SYMBOL_CACHE) {
                    Ok(Some(b)) => match cache_dir::unseal("symbols", id, &b)
                        .and_then(|body| serde_json::from_slice::<CacheEntry>(body).map_err(|e| e.to_string()))
                    {
                        Ok(m) => m,
                        Err(why) => {
                            cache_warnings.push(format!("symbol cache entry for {} ignored: {why}", m.path));
                            CacheEntry::default()
                        }
                    },
                    Ok(None) => CacheEntry::default(),
                    Err(why) => {
                        cache_warnings.push(why);
                        CacheEntry::default()
                    }
                },
                _ => CacheEntry::default(),
            };
            out.push(NativeModule {
                build_id,
                memo: Mutex::new((memo, false)),
                name: m.file_name().to_string(),
                base: m.base,
                end: m.end,
                bias: m.bias,
                path,
                dwarf_path,
                symbols: OnceLock::new(),
                calls: OnceLock::new(),
                located: OnceLock::new(),
                names: OnceLock::new(),
                dwarf: Mutex::default(),
                aranges: OnceLock::new(),
                unit_contexts: Mutex::default(),
                cross: crossunit::CrossUnits::default(),
            });
        }
        out.sort_by_key(|m| m.base);
        Native { unwinder, modules: out, missing, cache_warnings, cache }
    }

    fn module(&self, avma: u64) -> Option<&NativeModule> {
        let i = self.modules.partition_point(|m| m.base <= avma);
        self.modules.get(i.checked_sub(1)?).filter(|m| avma < m.end)
    }

    /// The module file name holding an address.
    pub fn module_name(&self, avma: u64) -> Option<&str> {
        self.module(avma).map(|m| m.name.as_str())
    }

    /// Unwind a thread from its registers, newest frame first, and why it stopped.
    ///
    /// The walk is bounded by the thread's stack, not by a frame count: each caller's
    /// stack pointer must be above its callee's and inside the mapping the walk is on
    /// (a C stack overflow has tens of thousands of frames, all shown). Only the
    /// kernel's signal frame may move to another stack (a handler runs on its
    /// `sigaltstack`), and at most [`MAX_SIGNAL_FRAMES`] times.
    pub fn unwind(&self, target: &dyn Target, regs: &Registers) -> (Vec<RawFrame>, Option<String>) {
        let mem: &dyn Memory = target;
        let mut cache = CacheX86_64::<_>::new();
        let mut frames = Vec::new();
        let mut r = UnwindRegsX86_64::new(regs.rip, regs.rsp, regs.rbp);
        let mut address = FrameAddress::from_instruction_pointer(regs.rip);
        let mut trust = Trust::Context;
        let mut read = |a: u64| mem.read_u64(RemoteAddr(a)).map_err(|_| ());
        // The stack the walk is on, and the lowest stack pointer a caller may have.
        let mut stack = target.region(regs.rsp);
        let mut floor = regs.rsp;
        let mut signal_frames = 0usize;
        loop {
            if frames.len() >= MAX_NATIVE_FRAMES {
                return (frames, Some(format!("more than {MAX_NATIVE_FRAMES} frames")));
            }
            let pc = address.address();
            let sp = r.sp();
            if sp < floor || stack.as_ref().is_some_and(|s| !s.contains(&sp)) {
                let why = if sp < floor { "went down the stack" } else { "left the thread's stack mapping" };
                return (frames, Some(format!("unwinding stopped at {pc:#x}: the stack pointer {sp:#x} {why}")));
            }
            floor = sp;
            let is_return = matches!(address, FrameAddress::ReturnAddress(_));
            // The kernel's signal trampoline (__restore_rt: mov $15,%rax; syscall): the
            // interrupted registers are in the ucontext on the stack.
            if is_sigreturn(mem, pc) {
                frames.push(RawFrame { pc, is_return, trust, signal_frame: true, sp });
                signal_frames = signal_frames.saturating_add(1);
                if signal_frames > MAX_SIGNAL_FRAMES {
                    return (frames, Some(format!("more than {MAX_SIGNAL_FRAMES} signal frames")));
                }
                match read_ucontext(mem, sp) {
                    Some(u) => {
                        r = UnwindRegsX86_64::new(u.rip, u.rsp, u.rbp);
                        address = FrameAddress::from_instruction_pointer(u.rip);
                        trust = Trust::Signal;
                        // The interrupted code ran on its own stack.
                        stack = target.region(u.rsp);
                        floor = u.rsp;
                        continue;
                    }
                    None => return (frames, Some(format!("signal frame at {sp:#x} unreadable"))),
                }
            }
            frames.push(RawFrame { pc, is_return, trust, signal_frame: false, sp });
            let covered = self.module(pc).is_some();
            match self.unwinder.unwind_frame(address, &mut r, &mut cache, &mut read) {
                Ok(Some(ra)) if ra != 0 => {
                    address = match FrameAddress::from_return_address(ra) {
                        Some(a) => a,
                        None => return (frames, Some(format!("bad return address {ra:#x}"))),
                    };
                    trust = if covered { Trust::Cfi } else { Trust::FramePointer };
                    // A return address is pushed below the caller's stack pointer: the
                    // caller's must be above this frame's.
                    if r.sp() <= sp {
                        return (frames, Some(format!("unwinding stopped at {pc:#x}: the caller's stack pointer {:#x} is not above {sp:#x}", r.sp())));
                    }
                }
                Ok(_) => return (frames, None),
                Err(e) => return (frames, Some(format!("unwinding stopped at {pc:#x}: {e}"))),
            }
        }
    }

    fn calls(m: &NativeModule) -> Option<&crate::tailcall::ModuleCalls> {
        m.calls.get_or_init(|| crate::tailcall::ModuleCalls::from_dwarf(crate::sections::dwarf(&Self::dwarf_image(m)?)?)).as_ref()
    }

    /// A module's DWARF with its location lists (`.debug_loc`, `.debug_loclists`), which
    /// only arguments read.
    fn located(m: &NativeModule) -> Option<&gimli::Dwarf<crate::sections::R>> {
        m.located
            .get_or_init(|| {
                let img = Self::dwarf_image(m)?;
                let mut dwarf = crate::sections::dwarf(&img)?;
                let get = |id| crate::sections::R::new(crate::sections::section(&img, id), gimli::LittleEndian);
                dwarf.locations = gimli::LocationLists::new(get(gimli::SectionId::DebugLoc).into(), get(gimli::SectionId::DebugLocLists).into());
                Some(dwarf)
            })
            .as_ref()
    }

    /// Frames of `svma` from the context of its compilation unit alone ([`units`]):
    /// `None` where that unit cannot answer alone.
    fn unit_frames(m: &NativeModule, svma: u64) -> Option<Vec<Symbol>> {
        let (image, index) = Self::aranges(m)?;
        let unit = index.unit_of(svma)?;
        let mut contexts = m.unit_contexts.lock().ok()?;
        let context = contexts.entry(unit).or_insert_with(|| {
            let dwarf = units::unit_dwarf(crate::sections::dwarf(image)?, unit)?;
            addr2line::Context::from_dwarf(dwarf).ok().map(Box::new)
        });
        Some(frames(context.as_ref()?, svma))
    }

    /// A module's DWARF file and its `.debug_aranges` by address, loaded once.
    fn aranges(m: &NativeModule) -> Option<&(std::sync::Arc<ElfImage>, units::ArangeIndex)> {
        m.aranges
            .get_or_init(|| {
                let image = Self::dwarf_image(m)?;
                // Only .debug_aranges: a caller asking for a pc's unit need not wait for
                // .debug_info to be inflated.
                let aranges = crate::sections::R::new(crate::sections::section(&image, gimli::SectionId::DebugAranges), gimli::LittleEndian);
                let index = units::ArangeIndex::new(&gimli::DebugAranges::from(aranges));
                Some((image, index))
            })
            .as_ref()
    }

    /// The file holding a module's DWARF, opened again: still the module's build-id.
    fn dwarf_image(m: &NativeModule) -> Option<std::sync::Arc<ElfImage>> {
        let img = ElfImage::open(m.dwarf_path.as_ref()?).ok()?;
        (img.build_id().map(crate::hex) == m.build_id).then(|| std::sync::Arc::new(img))
    }

    /// The tail-call frames between a frame and its caller, as gdb builds them: the
    /// return addresses of the tail-call sites, newest first (see [`crate::tailcall`]).
    /// Only between frames CFI unwound (not across a signal frame or a frame-pointer
    /// step).
    pub fn tail_calls(&self, callee: &RawFrame, caller: &RawFrame) -> Vec<u64> {
        if callee.signal_frame || caller.signal_frame || caller.trust != Trust::Cfi || !caller.is_return {
            return Vec::new();
        }
        let lookup = callee.lookup_pc();
        let (Some(m), Some(cm)) = (self.module(lookup), self.module(caller.pc.wrapping_sub(1))) else { return Vec::new() };
        let svma = lookup.wrapping_sub(m.bias);
        // Cached in the caller's module entry, by build-ids and SVMAs.
        let key = m.build_id.as_ref().map(|id| format!("{:x}/{id}/{svma:x}", caller.pc.wrapping_sub(cm.bias)));
        if let Some(hit) = key.as_ref().and_then(|k| cm.memo.lock().ok()?.0.tail_calls.get(k).cloned()) {
            let pcs: Option<Vec<u64>> = hit.iter().map(|(id, s)| self.by_build_id(id).map(|m| s.wrapping_add(m.bias))).collect();
            if let Some(pcs) = pcs {
                return pcs;
            }
        }
        // The callee's function: its DWARF entry, else its ELF symbol.
        let entry = Self::calls(m).and_then(|c| c.function_entry(svma)).or_else(|| {
            let symbols = m.symbols.get_or_init(|| load_symbols(&m.path));
            let i = symbols.partition_point(|s| s.0 <= svma);
            i.checked_sub(1).and_then(|i| symbols.get(i)).map(|s| s.0)
        });
        let pcs = entry.map(|e| crate::tailcall::chain(self, caller.pc, e.wrapping_add(m.bias))).unwrap_or_default();
        let portable: Option<Vec<(String, u64)>> =
            pcs.iter().map(|&pc| self.module(pc.wrapping_sub(1)).and_then(|m| Some((m.build_id.clone()?, pc.wrapping_sub(m.bias))))).collect();
        if let (Some(k), Some(v), Ok(mut memo)) = (key, portable, cm.memo.lock()) {
            memo.0.tail_calls.insert(k, v);
            memo.1 = true;
        }
        pcs
    }

    fn by_build_id(&self, id: &str) -> Option<&NativeModule> {
        self.modules.iter().find(|m| m.build_id.as_deref() == Some(id))
    }

    /// Symbolize `frames` ahead of their use (each answer is kept): first those whose
    /// module's DWARF is not still being prepared on another thread, then the others.
    /// With an empty cache, libpython's frames are then symbolized while libc's debug
    /// file is still being inflated, instead of after it.
    pub fn symbolize_ready_first<'f>(&self, frames: impl IntoIterator<Item = &'f RawFrame>) {
        // Only frames not symbolized yet (a warm symbol cache has them all), each with
        // its module.
        let missing = frames.into_iter().filter_map(|f| {
            let m = self.module(f.lookup_pc()).filter(|_| !f.signal_frame)?;
            let known = m.memo.lock().map_or(true, |memo| memo.0.symbols.contains_key(&f.lookup_pc().wrapping_sub(m.bias)));
            (!known).then_some((f, m))
        });
        let (ready, later): (Vec<_>, Vec<_>) = missing.partition(|(_, m)| !m.dwarf_path.as_deref().is_some_and(crate::sections::prefetching));
        if ready.is_empty() && later.is_empty() {
            return;
        }
        // Two threads, each taking whole compilation units (reading a unit is most of
        // the cost, some 0.5 ms for an LTO partition): the frames of every other unit
        // go to the second.
        let keyed: Vec<(&RawFrame, (u64, Option<usize>))> = ready
            .into_iter()
            .chain(later)
            .map(|(f, m)| (f, (m.base, Self::aranges(m).and_then(|(_, index)| index.unit_of(f.lookup_pc().wrapping_sub(m.bias))))))
            .collect();
        let mut units: Vec<_> = keyed.iter().map(|k| k.1).collect();
        units.sort_unstable();
        units.dedup();
        let second: Vec<bool> = keyed.iter().map(|k| units.binary_search(&k.1).is_ok_and(|i| i % 2 == 1)).collect();
        let frames_of = |take: &dyn Fn(bool) -> bool| keyed.iter().zip(&second).filter(|(_, s)| take(**s)).for_each(|(k, _)| drop(self.symbolize(k.0)));
        std::thread::scope(|s| {
            let helper = std::thread::Builder::new().name("pycoroner-symbols".into()).spawn_scoped(s, || frames_of(&|second| second));
            let alone = helper.is_err();
            frames_of(&|second| alone || !second);
        });
    }

    /// Symbolize a frame: inlined locations first, then the function it is in.
    pub fn symbolize(&self, f: &RawFrame) -> Vec<Symbol> {
        if f.signal_frame {
            return vec![Symbol { function: Some("<signal handler called>".into()), file: None, line: None, inlined: false }];
        }
        let lookup = f.lookup_pc();
        let Some(m) = self.module(lookup) else {
            return vec![Symbol { function: None, file: None, line: None, inlined: false }];
        };
        let svma = lookup.wrapping_sub(m.bias);
        if let Some(hit) = m.memo.lock().ok().and_then(|memo| memo.0.symbols.get(&svma).cloned()) {
            return hit;
        }
        let out = Self::symbolize_svma(m, svma);
        if let Ok(mut memo) = m.memo.lock() {
            memo.0.symbols.insert(svma, out.clone());
            memo.1 = true;
        }
        out
    }

    fn symbolize_svma(m: &NativeModule, svma: u64) -> Vec<Symbol> {
        // The pc's own unit first, then that unit and the ones it refers to; the whole
        // file's context where neither can answer.
        let mut out = Self::unit_frames(m, svma).unwrap_or_default();
        if out.is_empty() {
            out = Self::calls(m).and_then(|c| m.cross.frames(c, svma)).unwrap_or_default();
        }
        // A pc outside every address range of a file's .debug_aranges is in no unit:
        // the whole file's context would find nothing either.
        let in_no_unit = || Self::aranges(m).is_some_and(|(_, index)| index.covers_nothing_at(svma));
        if out.is_empty() && !in_no_unit() {
            if let Ok(mut whole) = m.dwarf.lock() {
                if let Some(d) = whole.get_or_insert_with(|| crate::sections::symbolizer(&Self::dwarf_image(m)?)) {
                    out = frames(d, svma);
                }
            }
        }
        if let Some(last) = out.last_mut() {
            last.inlined = false;
            if last.function.is_some() {
                return out;
            }
        }
        // No DWARF function: the ELF symbol the address falls in.
        let symbols = m.symbols.get_or_init(|| load_symbols(&m.path));
        let idx = symbols.partition_point(|s| s.0 <= svma);
        let sym = idx.checked_sub(1).and_then(|i| symbols.get(i)).filter(|s| s.1 == 0 || svma < s.0.saturating_add(s.1));
        let function = sym.map(|s| s.2.clone());
        match out.last_mut() {
            Some(last) => last.function = function,
            None => out.push(Symbol { function, file: None, line: None, inlined: false }),
        }
        out
    }
}

/// Frames of `svma` in a context: inlined ones first, then the function it is in.
fn frames(context: &addr2line::Context<crate::sections::R>, svma: u64) -> Vec<Symbol> {
    let mut out = Vec::new();
    if let Ok(mut it) = context.find_frames(svma).skip_all_loads() {
        while let Ok(Some(fr)) = it.next() {
            let function = fr.function.as_ref().and_then(|n| n.raw_name().ok().map(|s| s.into_owned()));
            let (file, line) = fr.location.map_or((None, None), |l| (l.file.map(str::to_string), l.line));
            out.push(Symbol { function, file, line, inlined: true });
        }
    }
    out
}

/// What the kernel saved in a signal frame (`struct rt_sigframe` after its return
/// address: the `ucontext`, then the `siginfo`, which it fills only for a handler
/// installed with `SA_SIGINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalFrame {
    /// Interrupted registers.
    pub rip: u64,
    /// Interrupted stack pointer.
    pub rsp: u64,
    /// Interrupted frame pointer.
    pub rbp: u64,
    /// `(si_signo, si_code, si_addr)`, when the kernel filled the `siginfo`.
    pub siginfo: Option<(i32, i32, u64)>,
    /// The CPU's trap number (14: page fault), its error code and `cr2` (the address
    /// of a page fault), from the `sigcontext`.
    pub trap: (u64, u64, u64),
}

impl SignalFrame {
    /// The fault that raised signal `signo`, as `(signo, si_code, address)`: the
    /// `siginfo` when there is one, else what the CPU's trap says as the kernel would:
    /// a page fault (`SEGV_ACCERR` when the page was present, `SEGV_MAPERR` when not;
    /// `BUS_ADRERR` for SIGBUS) at `cr2`, a divide error (`FPE_INTDIV`) or an invalid
    /// opcode (`ILL_ILLOPN`) at the instruction.
    pub fn fault(&self, signo: i32) -> Option<(i32, i32, u64)> {
        if let Some(info) = self.siginfo.filter(|i| i.0 == signo) {
            return Some(info);
        }
        let (trapno, err, cr2) = self.trap;
        match (signo, trapno) {
            (11, 14) => Some((11, if err & 1 == 1 { 2 } else { 1 }, cr2)),
            (7, 14) => Some((7, 2, cr2)),
            (8, 0) => Some((8, 1, self.rip)),
            (4, 6) => Some((4, 2, self.rip)),
            _ => None,
        }
    }
}

/// Read the signal frame whose `ucontext` starts at `uc` (the stack pointer at
/// `__restore_rt`): `uc_mcontext` at +40 (glibc's `gregs` order: rbp, rsp, rip are 10,
/// 15, 16; err, trapno, cr2 are 19, 20, 22), the kernel's 304-byte `ucontext`, then
/// the `siginfo`.
pub fn read_ucontext(mem: &dyn Memory, uc: u64) -> Option<SignalFrame> {
    let greg = |i: u64| mem.read_u64(RemoteAddr(uc.checked_add(i.checked_mul(8)?.checked_add(40)?)?)).ok();
    let info = mem.read_array::<24>(RemoteAddr(uc.checked_add(304)?)).ok();
    let siginfo = info.and_then(|info| {
        let i32_at = |o: usize| info.get(o..o.checked_add(4)?).and_then(|b| b.try_into().ok()).map(i32::from_le_bytes);
        let addr = info.get(16..24).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)?;
        Some((i32_at(0)?, i32_at(8)?, addr)).filter(|i| i.0 != 0)
    });
    Some(SignalFrame {
        rbp: greg(10)?,
        rsp: greg(15)?,
        rip: greg(16)?,
        siginfo,
        trap: (greg(20).unwrap_or(0), greg(19).unwrap_or(0), greg(22).unwrap_or(0)),
    })
}

/// The innermost signal frame on a stack, found without unwinding: scan up from `sp`
/// (at most `len` bytes) for a return address into the kernel's signal trampoline
/// (`__restore_rt`), which only the kernel pushes. `code` says which words may point
/// to code (the target's file mappings), so most words cost no read.
pub fn find_signal_frame(mem: &dyn Memory, sp: u64, len: u64, code: &dyn Fn(u64) -> bool) -> Option<SignalFrame> {
    // In pages: the frame is usually within the first few hundred bytes.
    const CHUNK: u64 = 4096;
    let mut at = sp;
    let end = sp.checked_add(len)?;
    while at < end {
        let n = CHUNK.min(end.saturating_sub(at));
        let words = mem.read_vec(RemoteAddr(at), n, n).ok()?;
        for w in words.chunks_exact(8) {
            let v = u64::from_le_bytes(w.try_into().ok()?);
            if code(v) && is_sigreturn(mem, v) {
                return read_ucontext(mem, at.checked_add(8)?);
            }
            at = at.checked_add(8)?;
        }
    }
    None
}

impl crate::tailcall::Program for Native {
    fn call_site(&self, ret: u64) -> Option<crate::tailcall::CallTarget> {
        let m = self.module(ret.checked_sub(1)?)?;
        Self::calls(m)?.call_site(ret.wrapping_sub(m.bias))
    }

    fn target_address(&self, site_pc: u64, target: &crate::tailcall::CallTarget) -> Option<u64> {
        match target {
            crate::tailcall::CallTarget::Entry(svma) => Some(svma.wrapping_add(self.module(site_pc.checked_sub(1)?)?.bias)),
            crate::tailcall::CallTarget::Name(name) => self.modules.iter().find_map(|m| {
                let names = m.names.get_or_init(|| {
                    let mut out = HashMap::new();
                    let files = std::iter::once(&m.path).chain(m.dwarf_path.iter().filter(|d| **d != m.path));
                    for f in files {
                        for (n, addr) in load_symbol_names(f) {
                            out.entry(n).or_insert(addr);
                        }
                    }
                    out
                });
                names.get(name).map(|a| a.wrapping_add(m.bias))
            }),
            crate::tailcall::CallTarget::Unknown => None,
        }
    }

    fn tail_calls(&self, entry: u64) -> Option<Vec<(u64, crate::tailcall::CallTarget)>> {
        let m = self.module(entry)?;
        let sites = Self::calls(m)?.tail_calls(entry.wrapping_sub(m.bias))?;
        Some(sites.into_iter().map(|s| (s.return_pc.wrapping_add(m.bias), s.target)).collect())
    }
}

fn is_sigreturn(mem: &dyn Memory, pc: u64) -> bool {
    const RESTORE_RT: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];
    mem.read_array::<9>(RemoteAddr(pc)).is_ok_and(|b| b == RESTORE_RT)
}
