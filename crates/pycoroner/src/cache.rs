//! The layout cache: one JSON file per interpreter build, keyed by build-id, holding
//! the resolved offsets, version and the symbols the walk starts from, so a second
//! analysis of any core of the same build reads no DWARF and opens no binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pycoroner_layouts::{Layout, LAYOUT_FORMAT};
use serde::{Deserialize, Serialize};

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
}

fn path_for(dir: &Path, build_id: &str) -> PathBuf {
    dir.join("layouts").join(format!("{build_id}.v{LAYOUT_FORMAT}.json"))
}

/// A cached entry, if present and of the current format.
pub fn load(dir: &Path, build_id: &str) -> Option<Entry> {
    let bytes = std::fs::read(path_for(dir, build_id)).ok()?;
    let e: Entry = serde_json::from_slice(&bytes).ok()?;
    (e.layout.format == LAYOUT_FORMAT).then_some(e)
}

/// Store an entry; failures (read-only home, full disk) only cost speed next time.
pub fn store(dir: &Path, build_id: &str, entry: &Entry) -> Result<(), std::io::Error> {
    let p = path_for(dir, build_id);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(entry).map_err(std::io::Error::other)?)?;
    std::fs::rename(tmp, p)
}
