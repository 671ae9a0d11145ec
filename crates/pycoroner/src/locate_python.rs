//! Finding the interpreter in a target: which module holds the runtime, its version,
//! the symbols a walk starts from, and its layout (cache, else DWARF).

use std::collections::BTreeMap;

use pycoroner_cpython::{resolve, PyVersion};
use pycoroner_debuginfo::{hex, modules_of, open_module_image, DebugSearch, ElfImage, Module, SearchLog};
use pycoroner_process::cache_dir::CacheDir;
use pycoroner_layouts::{Flavour, Layout, Source};
use pycoroner_report::{Warning, WarningKind};
use pycoroner_process::{MemoryExt, RemoteAddr, Target};

use crate::cache;
use crate::error::AnalyzeError;
use crate::options::{LayoutSource, Options};

/// Symbols the walks start from, besides the types and singletons of
/// [`pycoroner_cpython::repr`]; any may be absent in a given version.
const SYMBOLS: &[&str] = &[
    "_PyRuntime",
    "interp_head",
    "_PyThreadState_Current",
    "gil_locked",
    "gil_last_holder",
    "PyCode_Type",
    "Py_Version",
    "_Py_RefTotal",
    "version.0",
    // Interpreter state kept in statics by older versions (`.symtab` only).
    "_PyGC_generation0",
    "_Py_Finalizing",
    "exitfuncs",
    "nexitfuncs",
    "Handlers",
    "is_tripped",
    "_Py_CheckRecursionLimit",
    "collecting",
    "enabled",
    "generation_stats",
    "pendingcalls",
    "pendingfirst",
    "pendinglast",
    "gil_drop_request",
    // `object`, whose `__sizeof__` the heap census knows.
    "PyBaseObject_Type",
    "last_final_reftotal",
    // The list of every object of a Py_TRACE_REFS build (≤3.11).
    "refchain",
    // pymalloc's statics (≤3.11).
    "arenas",
    "maxarenas",
    "narenas_currently_allocated",
    "ntimes_arena_allocated",
    "narenas_highwater",
];

/// Any of these marks the module that holds the interpreter's runtime.
const RUNTIME_MARKERS: &[&str] = &["_PyRuntime", "interp_head", "_PyThreadState_Current"];

/// The interpreter found in a target.
#[derive(Debug, Clone)]
pub struct FoundPython {
    /// The module's path as the target recorded it.
    pub module_path: String,
    /// Its load bias.
    pub bias: u64,
    /// Its version.
    pub version: PyVersion,
    /// Its layout.
    pub layout: Layout,
    /// The file the layout was read from.
    pub layout_file: Option<String>,
    /// True when the layout came from the cache.
    pub layout_cached: bool,
    /// Static addresses (SVMA) of [`SYMBOLS`] that exist.
    pub symbols: BTreeMap<String, u64>,
    /// What the caller should be told.
    pub warnings: Vec<Warning>,
    /// The cache directory, opened and checked once per analysis (`None`: no cache).
    pub cache_dir: Option<CacheDir>,
    /// The module's build-id (hex), the key of its layout cache entry (`None` for a
    /// layout a minidump carries: that is never cached here).
    pub build_id: Option<String>,
    /// `sys.flags`' field names, from the layout cache entry or the minidump.
    pub flag_names: Option<Vec<String>>,
}

impl FoundPython {
    /// A symbol's address in the target.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).map(|s| s.wrapping_add(self.bias))
    }
}

fn priority(m: &Module, exe: Option<&str>) -> u8 {
    if m.file_name().starts_with("libpython") {
        0
    } else if Some(m.path.as_str()) == exe {
        1
    } else if m.file_name().starts_with("python") {
        2
    } else {
        3
    }
}

/// Find the interpreter.
pub fn find(target: &dyn Target, options: &Options) -> Result<FoundPython, AnalyzeError> {
    find_scanning(target, options, &mut |_| {})
}

/// [`find`], running `meanwhile` on this thread while another one reads the layout
/// from DWARF (decompressing a debug file's `.debug_info` first, often): a core's
/// native stacks are unwound and symbolized then. It is given the cache directory
/// opened for the analysis. Not run when no DWARF is read.
pub(crate) fn find_scanning(target: &dyn Target, options: &Options, meanwhile: &mut dyn FnMut(Option<&CacheDir>)) -> Result<FoundPython, AnalyzeError> {
    let mappings = target.mappings();
    let modules = modules_of(target, &mappings);
    let exe_path = target.executable();
    let mut warnings = Vec::new();
    let (cache_dir, cache_warning) = cache::open(options);
    warnings.extend(cache_warning.map(|w| Warning::new(WarningKind::Cache, w)));
    let layouts = cache_dir.as_ref().and_then(|d| cache::layouts(d).map_err(|why| warnings.push(Warning::new(WarningKind::Cache, why))).ok());
    if options.native != crate::options::NativeMode::Off {
        // Native frames will be symbolized: their DWARF starts decompressing now, on
        // other threads, while the layout is read.
        let search = DebugSearch { debug_dirs: options.debug_dirs.clone(), ..DebugSearch::system() };
        pycoroner_debuginfo::native::prefetch(target, &modules, &search, cache_dir.as_ref());
    }

    if let Some(exe) = &options.exe {
        let img = ElfImage::open(exe).map_err(|e| AnalyzeError::BadExe { path: exe.clone(), what: e.to_string() })?;
        let in_core = modules.iter().find(|m| Some(&m.path) == exe_path.as_ref()).and_then(|m| m.build_id.clone());
        match (in_core, img.build_id()) {
            (Some(expected), Some(found)) if expected != found => {
                return Err(AnalyzeError::ExeMismatch { exe: exe.clone(), expected: hex(&expected), found: hex(found) });
            }
            (Some(_), Some(_)) => {}
            _ => warnings.push(Warning::new(WarningKind::File, format!("cannot verify that {} matches the core: no build-id to compare", exe.display()))),
        }
    }

    // A pycoroner minidump carries the layout its writer resolved: no binary needed
    // (unless a layout source is asked for by name).
    if let Some(f) = matches!(options.layout_source, LayoutSource::Auto).then(|| from_dump(target, &modules, &mut warnings)).flatten() {
        return Ok(FoundPython { warnings, cache_dir, ..f });
    }

    let mut order: Vec<&Module> = modules.iter().collect();
    order.sort_by_key(|m| priority(m, exe_path.as_deref()));
    let mut unreadable: Vec<String> = Vec::new();
    for m in order {
        let is_exe = Some(&m.path) == exe_path.as_ref();
        // Warm path: a cached (DWARF) layout for this build needs no file at all.
        let dwarf_allowed = matches!(options.layout_source, LayoutSource::Auto | LayoutSource::Dwarf);
        if let (Some(dir), Some(id), true) = (&layouts, &m.build_id, dwarf_allowed) {
            let cached = cache::load(dir, &hex(id)).unwrap_or_else(|why| {
                warnings.push(Warning::new(WarningKind::Cache, why));
                None
            });
            if let Some(e) = cached {
                let version = PyVersion { major: e.layout.version.0, minor: e.layout.version.1, micro: e.micro };
                return Ok(FoundPython {
                    module_path: m.path.clone(),
                    bias: m.bias,
                    version,
                    layout: e.layout,
                    layout_file: Some(e.source_file),
                    layout_cached: true,
                    symbols: e.symbols,
                    warnings,
                    cache_dir,
                    build_id: Some(hex(id)),
                    flag_names: e.flag_names,
                });
            }
        }
        // `--exe` (checked against the core above), else the mapped file if it is the
        // one the target had (build-id).
        let img = match (&options.exe, is_exe) {
            (Some(exe), true) => ElfImage::open(exe).map_err(|e| e.to_string()),
            _ => open_module_image(target, m),
        };
        let img = match img {
            Ok(img) => img,
            Err(why) => {
                unreadable.push(why);
                continue;
            }
        };
        if !RUNTIME_MARKERS.iter().any(|s| img.symbol(s).is_some()) {
            continue;
        }
        let resolved = resolve_module(target, options, layouts.as_ref(), (m, &img), exe_path.as_deref(), warnings, &mut || meanwhile(cache_dir.as_ref()));
        return resolved.map(|f| FoundPython { cache_dir, ..f });
    }
    // Exit 3 ("no Python") only when every module was read and none is an interpreter.
    let damage = target.warnings();
    if modules.is_empty() {
        let damage = if damage.is_empty() { String::new() } else { format!(": {}", damage.join("; ")) };
        return Err(AnalyzeError::NoModules { mappings: mappings.len(), damage });
    }
    if !unreadable.is_empty() || !damage.is_empty() {
        let shown: Vec<&str> = unreadable.iter().chain(damage.iter()).take(5).map(String::as_str).collect();
        return Err(AnalyzeError::FilesUnusable { searched: modules.len(), count: unreadable.len() + damage.len(), reasons: shown.join("; ") });
    }
    Err(AnalyzeError::NoPython { searched: modules.len() })
}

/// What a pycoroner minidump says of its interpreter ([`pycoroner_process::minidump::PYTHON_STREAM`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct DumpPython {
    /// The module holding the runtime, as the target named it.
    pub module: String,
    /// Its build-id (hex), as its memory showed it.
    pub build_id: String,
    /// The layout, symbols and version, as the layout cache keeps them.
    pub entry: cache::Entry,
}

/// The interpreter a pycoroner minidump names, when the dump has that stream and its
/// module (same path, same build-id in the dump's memory) is there; a stream that cannot
/// be used is a warning, and the interpreter is then looked for as in any core.
fn from_dump(target: &dyn Target, modules: &[Module], warnings: &mut Vec<Warning>) -> Option<FoundPython> {
    let bytes = target.dump_stream(pycoroner_process::minidump::PYTHON_STREAM)?;
    let refuse = |warnings: &mut Vec<Warning>, why: String| {
        warnings.push(Warning::new(WarningKind::Layout, format!("the minidump's layout stream was not used: {why}")));
        None
    };
    let d: DumpPython = match serde_json::from_slice(&bytes) {
        Ok(d) => d,
        Err(e) => return refuse(warnings, format!("it is damaged ({e})")),
    };
    if d.entry.layout.format != pycoroner_layouts::LAYOUT_FORMAT {
        return refuse(warnings, format!("it has layout format {}, this pycoroner reads {}", d.entry.layout.format, pycoroner_layouts::LAYOUT_FORMAT));
    }
    let Some(m) = modules.iter().find(|m| m.path == d.module) else {
        return refuse(warnings, format!("the dump has no module {}", d.module));
    };
    if m.build_id.as_deref().map(hex).as_deref() != Some(d.build_id.as_str()) {
        return refuse(warnings, format!("{}'s build-id in the dump's memory is not {}", d.module, d.build_id));
    }
    let e = d.entry;
    let version = PyVersion { major: e.layout.version.0, minor: e.layout.version.1, micro: e.micro };
    // No build-id: what a dump carries never goes into this machine's layout cache.
    Some(FoundPython { flag_names: e.flag_names, build_id: None, ..found(m, version, e.layout, Some(e.source_file), e.symbols, Vec::new()) })
}

fn detect_version(target: &dyn Target, m: &Module, img: &ElfImage, exe: Option<&str>) -> Option<PyVersion> {
    if let Some((svma, _)) = img.symbol("Py_Version") {
        let from_mem = target.read_u64(RemoteAddr(svma.wrapping_add(m.bias))).ok();
        if let Some(v) = from_mem.and_then(|h| PyVersion::from_hex(h & 0xffff_ffff)).or_else(|| static_version(img)) {
            return Some(v);
        }
    }
    // ≤3.10: `Py_GetVersion()`'s static buffer (`version.0` in .symtab), filled at start-up
    // with "3.9.18 (main, ...".
    if let Some((svma, _)) = img.symbol("version.0") {
        if let Ok(bytes) = target.read_cstr(RemoteAddr(svma.wrapping_add(m.bias)), 250) {
            if let Some(v) = PyVersion::from_version_string(&String::from_utf8_lossy(&bytes)) {
                return Some(v);
            }
        }
    }
    let by_name = PyVersion::from_file_name(&m.path).or_else(|| exe.and_then(PyVersion::from_file_name));
    // Stripped: look for that buffer in the module's data and the memory after it (.bss).
    scan_version_string(target, m, by_name.map(|v| v.minor)).or(by_name)
}

/// Most bytes scanned for the version string of a stripped interpreter.
const VERSION_SCAN: u64 = 4 << 20;

/// Find `Py_GetVersion()`'s buffer ("3.X.Y (...") in the writable memory at the end of
/// the module: at an aligned address or after a NUL, `3.<minor>.<micro>` and ` (`.
fn scan_version_string(target: &dyn Target, m: &Module, minor: Option<u8>) -> Option<PyVersion> {
    const PAGE: u64 = 4096;
    let first = m.end.saturating_sub(VERSION_SCAN / 2) & !(PAGE - 1);
    let last = m.end.saturating_add(VERSION_SCAN / 2);
    // Page by page (a page that is not there is skipped), each searched together with
    // the tail of the page before so a string across the boundary is found.
    let mut window: Vec<u8> = Vec::with_capacity(PAGE as usize + 32);
    let mut page = vec![0u8; PAGE as usize];
    let mut addr = first;
    while addr < last {
        if target.read_exact(RemoteAddr(addr), &mut page).is_err() {
            window.clear();
            addr += PAGE;
            continue;
        }
        let carried = window.len();
        window.extend_from_slice(&page);
        let base = addr - carried as u64;
        for i in 1..window.len().saturating_sub(2) {
            // The buffer is a static array: aligned, or at least after a NUL.
            let aligned = (base + i as u64).is_multiple_of(16);
            if !(aligned || window[i - 1] == 0) || window[i] != b'3' || window[i + 1] != b'.' {
                continue;
            }
            let text: String = window[i..].iter().take(24).take_while(|&&c| c != 0).map(|&c| char::from(c)).collect();
            let Some((ver, rest)) = text.split_once(' ') else { continue };
            if !rest.starts_with('(') || ver.split('.').count() != 3 {
                continue;
            }
            if let Some(v) = PyVersion::from_version_string(ver) {
                if minor.is_none_or(|mi| mi == v.minor) && v.micro.is_some() {
                    return Some(v);
                }
            }
        }
        let keep = window.len().saturating_sub(32);
        window.drain(..keep);
        addr += PAGE;
    }
    None
}

/// The DWARF of `img` itself, else of its separate debug file.
fn dwarf_image(img: &ElfImage, options: &Options, module: &str) -> Result<Option<ElfImage>, AnalyzeError> {
    if img.has_dwarf() {
        return Ok(None);
    }
    let mut log = SearchLog::default();
    log.tried.push((img.path().to_path_buf(), false));
    let search = DebugSearch { debug_dirs: options.debug_dirs.clone(), ..DebugSearch::system() };
    let found = search.find(img.path(), img.build_id(), img.debuglink().map(|(n, _)| n), &mut log);
    match found.and_then(|p| ElfImage::open(&p).ok()).filter(ElfImage::has_dwarf) {
        Some(s) => Ok(Some(s)),
        None => {
            let tried: Vec<String> = log.tried.iter().map(|(p, _)| p.display().to_string()).collect();
            Err(AnalyzeError::NoDebugInfo { module: module.to_string(), tried: tried.join(", ") })
        }
    }
}

/// `pycoroner layouts BINARY`: the layout from one binary's DWARF.
pub fn layout_from_binary(path: &std::path::Path, version: Option<&str>, options: &Options) -> Result<Layout, AnalyzeError> {
    let name = path.display().to_string();
    let img = ElfImage::open(path).map_err(|e| AnalyzeError::BadExe { path: path.to_path_buf(), what: e.to_string() })?;
    let version = match version {
        Some(v) => PyVersion::from_version_string(v),
        None => static_version(&img).or_else(|| PyVersion::from_file_name(&name)),
    }
    .ok_or_else(|| AnalyzeError::UnknownVersion { module: name.clone() })?;
    let separate = dwarf_image(&img, options, &name)?;
    let answer = pycoroner_debuginfo::extract_layouts(separate.as_ref().unwrap_or(&img), &resolve::dwarf_query(Some(version.minor)))
        .map_err(|e| AnalyzeError::Runtime { module: name, what: e.to_string() })?;
    Ok(resolve::from_answer(version, flavour_of(&img), &answer))
}

/// `Py_Version` read from the file itself (3.11+).
fn static_version(img: &ElfImage) -> Option<PyVersion> {
    let (svma, _) = img.symbol("Py_Version")?;
    let b: [u8; 8] = img.read_static(svma, 8)?.try_into().ok()?;
    PyVersion::from_hex(u64::from_le_bytes(b) & 0xffff_ffff)
}

/// The build flavour, from exported symbols that only some builds have.
fn flavour_of(img: &ElfImage) -> Flavour {
    Flavour { debug: img.symbol("_Py_RefTotal").is_some(), free_threaded: false }
}

fn resolve_module(
    target: &dyn Target,
    options: &Options,
    cache_dir: Option<&CacheDir>,
    (m, img): (&Module, &ElfImage),
    exe: Option<&str>,
    mut warnings: Vec<Warning>,
    meanwhile: &mut dyn FnMut(),
) -> Result<FoundPython, AnalyzeError> {
    let version = detect_version(target, m, img, exe).ok_or_else(|| AnalyzeError::UnknownVersion { module: m.path.clone() })?;
    let wanted = SYMBOLS
        .iter()
        .chain(pycoroner_cpython::repr::TYPE_SYMBOLS.iter().map(|(s, _)| s))
        .chain(pycoroner_cpython::repr::SINGLETON_SYMBOLS)
        .chain(pycoroner_cpython::asyncio::SYMBOLS);
    let symbols: BTreeMap<String, u64> = wanted.filter_map(|s| img.symbol(s).map(|(a, _)| ((*s).to_string(), a))).collect();

    // The decision is the model's (DWARF, the target's _Py_DebugOffsets, a built-in
    // table); the files and memory it asks for are read here.
    let flavour = flavour_of(img);
    struct Io<'a> {
        target: &'a dyn Target,
        options: &'a Options,
        img: &'a ElfImage,
        m: &'a Module,
        runtime: Option<RemoteAddr>,
        meanwhile: &'a mut dyn FnMut(),
    }
    impl resolve::Sources for Io<'_> {
        type DwarfError = AnalyzeError;
        fn dwarf(&mut self, query: &pycoroner_layouts::dwarf::LayoutQuery) -> Result<(pycoroner_layouts::dwarf::LayoutAnswer, String), AnalyzeError> {
            // In the binary itself, else a separate debug file.
            let separate = dwarf_image(self.img, self.options, &self.m.path)?;
            let file = separate.as_ref().unwrap_or(self.img);
            let answer = std::thread::scope(|s| {
                let scan = std::thread::Builder::new().name("pycoroner-layout".into()).spawn_scoped(s, || pycoroner_debuginfo::extract_layouts(file, query));
                match scan {
                    Ok(scan) => {
                        (self.meanwhile)();
                        scan.join().unwrap_or_else(|_| pycoroner_debuginfo::extract_layouts(file, query))
                    }
                    Err(_) => pycoroner_debuginfo::extract_layouts(file, query),
                }
            })
            .map_err(|e| AnalyzeError::Runtime { module: self.m.path.clone(), what: e.to_string() })?;
            Ok((answer, file.path().display().to_string()))
        }
        fn debug_offsets(&mut self, len: u64) -> Result<Vec<u8>, String> {
            let at = self.runtime.ok_or("no _PyRuntime symbol")?;
            self.target.read_vec(at, len, pycoroner_layouts::debug_offsets::MAX_TABLE).map_err(|e| e.to_string())
        }
    }
    let runtime = symbols.get("_PyRuntime").map(|a| RemoteAddr(a.wrapping_add(m.bias)));
    let choice = match options.layout_source {
        LayoutSource::Auto => resolve::Choice::Auto,
        LayoutSource::Dwarf => resolve::Choice::Dwarf,
        LayoutSource::DebugOffsets => resolve::Choice::DebugOffsets,
        LayoutSource::Builtin => resolve::Choice::Builtin,
    };
    let mut io = Io { target, options, img, m, runtime, meanwhile };
    match resolve::resolve_layout(version, flavour, choice, &mut io) {
        Ok(r) => {
            warnings.extend(r.warnings.into_iter().map(|w| Warning::new(WarningKind::Layout, w)));
            if r.layout.source == Source::Dwarf {
                if let (Some(dir), Some(id)) = (cache_dir, img.build_id()) {
                    let entry = cache::Entry { layout: r.layout.clone(), symbols: symbols.clone(), micro: version.micro, source_file: r.from.clone(), flag_names: None };
                    if let Err(e) = cache::store(dir, &hex(id), &entry) {
                        warnings.push(Warning::new(WarningKind::Cache, format!("could not write the layout cache in {}: {e}", dir.path().display())));
                    }
                }
            }
            Ok(found(m, version, r.layout, Some(r.from), symbols, warnings))
        }
        Err(resolve::Unresolved::Dwarf(e)) => Err(e),
        Err(resolve::Unresolved::DebugOffsets(tried)) => {
            Err(AnalyzeError::Runtime { module: m.path.clone(), what: format!("no usable _Py_DebugOffsets: {}", tried.join("; ")) })
        }
        Err(resolve::Unresolved::Nothing { dwarf }) => Err(match dwarf {
            Some(AnalyzeError::NoDebugInfo { module, tried }) => AnalyzeError::NoDebugInfo {
                module,
                tried: format!("{tried}; and pycoroner has no built-in layout for CPython {version}"),
            },
            Some(e) => e,
            None => AnalyzeError::Runtime { module: m.path.clone(), what: format!("no built-in layout for CPython {version}") },
        }),
    }
}

fn found(
    m: &Module,
    version: PyVersion,
    layout: Layout,
    layout_file: Option<String>,
    symbols: BTreeMap<String, u64>,
    warnings: Vec<Warning>,
) -> FoundPython {
    FoundPython {
        module_path: m.path.clone(),
        bias: m.bias,
        version,
        layout,
        layout_file,
        layout_cached: false,
        symbols,
        warnings,
        cache_dir: None,
        build_id: m.build_id.as_deref().map(hex),
        flag_names: None,
    }
}

