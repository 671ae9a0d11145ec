//! The layout cache: one file per interpreter build, keyed by build-id, holding the
//! resolved offsets, version and the symbols the walk starts from, so a second
//! analysis of any core of the same build reads no DWARF and opens no binary.
//!
//! The directory and its entries are held to [`pycoroner_process::cache_dir`]'s rules
//! (owned by this user, private, no links, sealed entries); any problem means the
//! analysis runs as if uncached, with a warning, never with a different answer.

use std::collections::BTreeMap;

use pycoroner_layouts::{Layout, LAYOUT_FORMAT};
use pycoroner_process::cache_dir::{self, CacheDir};
use serde::{Deserialize, Serialize};

use crate::options::Options;

/// What is cached per build-id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The layout, with its format number.
    pub layout: Layout,
    /// Symbols (static addresses, SVMA) the walk needs.
    pub symbols: BTreeMap<String, u64>,
    /// `micro` version, when known.
    pub micro: Option<u8>,
    /// The file the layout was read from.
    pub source_file: String,
    /// `sys.flags`' field names, once an analysis has read them (they are string
    /// constants of this build, in its file: with them a warm analysis opens no file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_names: Option<Vec<String>>,
}

impl Entry {
    /// What an analysis found, as the cache (and a minidump) keeps it.
    pub fn of(found: &crate::locate_python::FoundPython) -> Entry {
        Entry {
            layout: found.layout.clone(),
            symbols: found.symbols.clone(),
            micro: found.version.micro,
            source_file: found.layout_file.clone().unwrap_or_default(),
            flag_names: found.flag_names.clone(),
        }
    }
}

/// Largest layout entry read (they are a few KiB).
const MAX_ENTRY: u64 = 1 << 20;

fn name(build_id: &str) -> String {
    format!("{build_id}.v{LAYOUT_FORMAT}.json")
}

/// The cache directory the options name, if it is safe to use; otherwise `None` and
/// the reason, for the report.
pub fn open(options: &Options) -> (Option<CacheDir>, Option<String>) {
    match &options.cache_dir {
        None => (None, None),
        Some(d) => match CacheDir::open(d) {
            Ok(c) => (Some(c), None),
            Err(why) => (None, Some(why)),
        },
    }
}

/// The layouts' subdirectory of a cache directory.
pub fn layouts(dir: &CacheDir) -> Result<CacheDir, String> {
    dir.sub("layouts")
}

/// A cached entry in the layouts directory `sub`, if present, undamaged, for this build
/// and of the current format. `Err` says why something there was not used.
pub fn load(sub: &CacheDir, build_id: &str) -> Result<Option<Entry>, String> {
    let Some(bytes) = sub.read(&name(build_id), MAX_ENTRY)? else { return Ok(None) };
    let shown = || sub.path().join(name(build_id)).display().to_string();
    let body = cache_dir::unseal("layout", build_id, &bytes).map_err(|why| format!("layout cache entry {} ignored: {why}", shown()))?;
    let e: Entry = serde_json::from_slice(body).map_err(|why| format!("layout cache entry {} ignored: {why}", shown()))?;
    if e.layout.format != LAYOUT_FORMAT {
        return Ok(None);
    }
    Ok(Some(e))
}

/// Store an entry in the layouts directory `sub`; failures (read-only home, full disk)
/// only cost speed next time.
pub fn store(sub: &CacheDir, build_id: &str, entry: &Entry) -> Result<(), String> {
    let json = serde_json::to_vec(entry).map_err(|e| e.to_string())?;
    sub.write(&name(build_id), &cache_dir::seal("layout", build_id, &json)).map_err(|e| e.to_string())
}

/// Add `sys.flags`' field names to the build's layout cache entry, where there is one
/// (a layout read from DWARF): the next analysis of this build reads them from there.
pub fn remember_flag_names(found: &crate::locate_python::FoundPython, names: Vec<String>, warnings: &mut Vec<pycoroner_report::Warning>) {
    let (Some(dir), Some(id)) = (&found.cache_dir, &found.build_id) else { return };
    if found.layout.source != pycoroner_layouts::Source::Dwarf {
        return;
    }
    let Ok(sub) = layouts(dir) else { return };
    let entry = Entry { flag_names: Some(names), ..Entry::of(found) };
    if let Err(e) = store(&sub, id, &entry) {
        warnings.push(pycoroner_report::Warning::new(pycoroner_report::WarningKind::Cache, format!("could not write the layout cache in {}: {e}", sub.path().display())));
    }
}
