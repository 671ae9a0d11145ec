//! Finding the file that holds a module's debug information, the way gdb does, and
//! recording every path tried so an error can say where it looked.

use std::path::{Path, PathBuf};

/// Where to look for separate debug files.
#[derive(Debug, Clone, Default)]
pub struct DebugSearch {
    /// Extra directories (`--debug-dir`), searched first, each as a build-id tree and flat.
    pub debug_dirs: Vec<PathBuf>,
    /// The system's global debug directory (normally `/usr/lib/debug`).
    pub global_dir: Option<PathBuf>,
    /// A debuginfod client cache (`$DEBUGINFOD_CACHE_PATH`, else
    /// `~/.cache/debuginfod_client`): `<build-id>/debuginfo` files.
    pub debuginfod_cache: Option<PathBuf>,
}

/// Every path tried while looking for a debug file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchLog {
    /// Paths tried, in order, and whether each existed.
    pub tried: Vec<(PathBuf, bool)>,
}

impl DebugSearch {
    /// The default search: `/usr/lib/debug`.
    pub fn system() -> DebugSearch {
        let debuginfod_cache = std::env::var_os("DEBUGINFOD_CACHE_PATH")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/debuginfod_client")));
        DebugSearch { debug_dirs: Vec::new(), global_dir: Some(PathBuf::from("/usr/lib/debug")), debuginfod_cache }
    }

    /// Candidate separate debug files for a binary at `path` with `build_id` and
    /// `.gnu_debuglink` name `link`; the first that is a regular ELF file with the
    /// binary's build-id (when it has one) is returned.
    pub fn find(&self, path: &Path, build_id: Option<&[u8]>, link: Option<&str>, log: &mut SearchLog) -> Option<PathBuf> {
        let mut cands: Vec<PathBuf> = Vec::new();
        let dirs: Vec<&PathBuf> = self.debug_dirs.iter().chain(self.global_dir.iter()).collect();
        if let Some(id) = build_id.filter(|id| id.len() >= 2) {
            let hex = crate::hex(id);
            let (head, tail) = hex.split_at(2);
            for d in &dirs {
                cands.push(d.join(".build-id").join(head).join(format!("{tail}.debug")));
            }
            if let Some(c) = &self.debuginfod_cache {
                cands.push(c.join(&hex).join("debuginfo"));
            }
        }
        if let Some(link) = link {
            let dir = path.parent().unwrap_or(Path::new("/"));
            cands.push(dir.join(link));
            cands.push(dir.join(".debug").join(link));
            for d in &dirs {
                cands.push(d.join(dir.strip_prefix("/").unwrap_or(dir)).join(link));
                cands.push(d.join(link));
            }
        }
        for c in cands {
            // A regular file (never a FIFO or device), and the binary's own debug file:
            // with a build-id to compare, the same build-id.
            let usable = crate::ElfImage::open(&c).is_ok_and(|img| match build_id {
                Some(want) => img.build_id() == Some(want),
                None => true,
            });
            log.tried.push((c.clone(), usable));
            if usable {
                return Some(c);
            }
        }
        None
    }
}
