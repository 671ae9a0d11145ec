//! Finding the interpreter in a target: which module holds the runtime, its version,
//! the symbols a walk starts from, and its layout (cache, else DWARF).

use std::collections::BTreeMap;
use std::path::PathBuf;

use pycoroner_cpython::{resolve, PyVersion};
use pycoroner_debuginfo::{hex, modules_of, DebugSearch, ElfImage, Module, SearchLog};
use pycoroner_layouts::{Flavour, Layout, LAYOUT_FORMAT};
use pycoroner_target::{MemoryExt, RemoteAddr, Target};

use crate::cache;
use crate::error::AnalyzeError;
use crate::options::Options;

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
    pub warnings: Vec<String>,
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
    let mappings = target.mappings();
    let modules = modules_of(target, &mappings);
    let exe_path = target.executable();
    let mut warnings = Vec::new();

    if let Some(exe) = &options.exe {
        let img = ElfImage::open(exe).map_err(|e| AnalyzeError::BadExe { path: exe.clone(), what: e.to_string() })?;
        let in_core = modules.iter().find(|m| Some(&m.path) == exe_path.as_ref()).and_then(|m| m.build_id.clone());
        match (in_core, img.build_id()) {
            (Some(expected), Some(found)) if expected != found => {
                return Err(AnalyzeError::ExeMismatch { exe: exe.clone(), expected: hex(&expected), found: hex(found) });
            }
            (Some(_), Some(_)) => {}
            _ => warnings.push(format!("cannot verify that {} matches the core: no build-id to compare", exe.display())),
        }
    }

    let mut order: Vec<&Module> = modules.iter().collect();
    order.sort_by_key(|m| priority(m, exe_path.as_deref()));
    let mut unreadable: Vec<String> = Vec::new();
    for m in order {
        let is_exe = Some(&m.path) == exe_path.as_ref();
        // Warm path: a cached layout for this build needs no file at all.
        if let (Some(dir), Some(id)) = (&options.cache_dir, &m.build_id) {
            if let Some(e) = cache::load(dir, &hex(id)) {
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
                });
            }
        }
        let path: Option<PathBuf> = match (&options.exe, is_exe) {
            (Some(exe), true) => Some(exe.clone()),
            _ => target.resolve_path(&m.path),
        };
        let Some(path) = path else {
            unreadable.push(m.path.clone());
            continue;
        };
        let Ok(img) = ElfImage::open(&path) else {
            unreadable.push(m.path.clone());
            continue;
        };
        if !RUNTIME_MARKERS.iter().any(|s| img.symbol(s).is_some()) {
            continue;
        }
        if let (Some(mem_id), Some(file_id)) = (&m.build_id, img.build_id()) {
            if mem_id.as_slice() != file_id {
                warnings.push(format!(
                    "{} on this machine (build-id {}) is not the file the process mapped (build-id {}); results may be wrong",
                    path.display(),
                    hex(file_id),
                    hex(mem_id)
                ));
            }
        }
        return resolve_module(target, options, m, &img, exe_path.as_deref(), warnings);
    }
    let missing = if unreadable.is_empty() {
        String::new()
    } else {
        let shown: Vec<&str> = unreadable.iter().take(5).map(String::as_str).collect();
        format!("; {} files unreadable: {} (pass --sysroot DIR for a core from another machine)", unreadable.len(), shown.join(", "))
    };
    Err(AnalyzeError::NoPython { searched: modules.len(), missing })
}

fn detect_version(target: &dyn Target, m: &Module, img: &ElfImage, exe: Option<&str>) -> Option<PyVersion> {
    if let Some((svma, _)) = img.symbol("Py_Version") {
        let from_mem = target.read_u64(RemoteAddr(svma.wrapping_add(m.bias))).ok();
        let from_file = || {
            img.read_static(svma, 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        };
        if let Some(v) = from_mem.or_else(from_file).and_then(|h| PyVersion::from_hex(h & 0xffff_ffff)) {
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
    PyVersion::from_file_name(&m.path).or_else(|| exe.and_then(PyVersion::from_file_name))
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

/// `pycoroner layouts BINARY`: the offsets table from one binary's DWARF.
pub fn offsets_from_binary(path: &std::path::Path, options: &Options) -> Result<pycoroner_layouts::Offsets, AnalyzeError> {
    let name = path.display().to_string();
    let img = ElfImage::open(path).map_err(|e| AnalyzeError::BadExe { path: path.to_path_buf(), what: e.to_string() })?;
    let separate = dwarf_image(&img, options, &name)?;
    let answer = pycoroner_debuginfo::extract_layouts(separate.as_ref().unwrap_or(&img), &resolve::dwarf_query())
        .map_err(|e| AnalyzeError::Runtime { module: name, what: e.to_string() })?;
    Ok(resolve::from_dwarf(&answer))
}

fn resolve_module(
    target: &dyn Target,
    options: &Options,
    m: &Module,
    img: &ElfImage,
    exe: Option<&str>,
    mut warnings: Vec<String>,
) -> Result<FoundPython, AnalyzeError> {
    let version = detect_version(target, m, img, exe).ok_or_else(|| AnalyzeError::UnknownVersion { module: m.path.clone() })?;
    let wanted = SYMBOLS
        .iter()
        .chain(pycoroner_cpython::repr::TYPE_SYMBOLS.iter().map(|(s, _)| s))
        .chain(pycoroner_cpython::repr::SINGLETON_SYMBOLS);
    let symbols: BTreeMap<String, u64> = wanted.filter_map(|s| img.symbol(s).map(|(a, _)| ((*s).to_string(), a))).collect();

    // DWARF: in the binary itself, else a separate debug file.
    let separate = dwarf_image(img, options, &m.path)?;
    let dwarf_img = separate.as_ref().unwrap_or(img);
    let answer = pycoroner_debuginfo::extract_layouts(dwarf_img, &resolve::dwarf_query())
        .map_err(|e| AnalyzeError::Runtime { module: m.path.clone(), what: e.to_string() })?;
    let offsets = resolve::from_dwarf(&answer);
    let flavour = Flavour { debug: symbols.contains_key("_Py_RefTotal"), free_threaded: false };
    let layout = Layout {
        format: LAYOUT_FORMAT,
        version: (version.major, version.minor),
        flavour,
        source: "dwarf".into(),
        offsets,
    };
    let source_file = dwarf_img.path().display().to_string();
    if let (Some(dir), Some(id)) = (&options.cache_dir, img.build_id()) {
        let entry = cache::Entry { layout: layout.clone(), symbols: symbols.clone(), micro: version.micro, source_file: source_file.clone() };
        if let Err(e) = cache::store(dir, &hex(id), &entry) {
            warnings.push(format!("could not write the layout cache in {}: {e}", dir.display()));
        }
    }
    Ok(FoundPython {
        module_path: m.path.clone(),
        bias: m.bias,
        version,
        layout,
        layout_file: Some(source_file),
        layout_cached: false,
        symbols,
        warnings,
    })
}
