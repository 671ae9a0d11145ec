//! Analysis options, with named presets.

use std::path::PathBuf;

/// Where struct layouts may come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LayoutSource {
    /// The best available: DWARF (in the binary or a separate debug file), then the
    /// target's own `_Py_DebugOffsets` (3.13+), then the built-in tables.
    #[default]
    Auto,
    /// DWARF only.
    Dwarf,
    /// The target's `_Py_DebugOffsets` (fields it lacks from the built-in table).
    DebugOffsets,
    /// The built-in tables only.
    Builtin,
}

/// Which native frames a report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NativeMode {
    /// Python frames only.
    #[default]
    Off,
    /// Native frames with each eval-loop frame replaced by the Python frames it ran,
    /// and the interpreter's call machinery between them folded away.
    Folded,
    /// Every native frame, with the Python frames placed at their eval-loop frames.
    All,
}

/// How to analyze a target.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Use this executable instead of the one the target names (its build-id must match).
    pub exe: Option<PathBuf>,
    /// Extra directories holding separate debug files (`--debug-dir`).
    pub debug_dirs: Vec<PathBuf>,
    /// Where layouts are cached by build-id; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Read every Python frame's variables and each thread's exceptions.
    pub locals: bool,
    /// With `locals`, show them only for the thread that took the fatal signal (a crash
    /// report of `pycoroner run`, kept short for a CI log).
    pub locals_crashed_only: bool,
    /// How much of each value to render.
    pub limits: pycoroner_cpython::repr::Limits,
    /// Where layouts may come from.
    pub layout_source: LayoutSource,
    /// Native frames.
    pub native: NativeMode,
    /// Read each Python frame's source line from its file (`--source`).
    pub source: bool,
    /// Read asyncio's tasks (`--tasks`).
    pub tasks: bool,
    /// Read the whole interpreter state (`--state`): also the locks held and what
    /// threads wait on, `sys.monitoring`'s local events, and every extension module
    /// with its file (the rest of the state is always read).
    pub state: bool,
    /// Count the objects each interpreter's garbage collector tracks, per type
    /// (`pycoroner heap`).
    pub heap: bool,
    /// With `heap`: list this many of the largest objects (`--largest N`).
    pub largest: usize,
    /// With `heap`: also count the objects the collector does not track (str, int,
    /// float, bytes...) through the tracked objects that refer to them
    /// (`--untracked`).
    pub untracked: bool,
    /// Who refers to the object at this address, up to this many levels
    /// (`pycoroner referrers`).
    pub referrers: Option<(u64, usize)>,
    /// Each rendered value's reference count (`--refcounts`).
    pub refcounts: bool,
}

impl Options {
    /// Whether a thread's values are shown: with `locals`, every thread's, or with
    /// `locals_crashed_only` only those of the thread that took the fatal signal (the
    /// report's `current` thread).
    pub fn shows_values(&self, crashed_thread: bool) -> bool {
        self.locals && (!self.locals_crashed_only || crashed_thread)
    }

    /// The CLI's defaults: the user's cache directory.
    pub fn cli_default() -> Options {
        Options { cache_dir: default_cache_dir(), ..Options::default() }
    }
}

/// `$PYCORONER_CACHE_DIR`, else `$XDG_CACHE_HOME/pycoroner`, else `~/.cache/pycoroner`.
/// An empty or relative value is ignored (as the XDG spec says), so an empty
/// `PYCORONER_CACHE_DIR=` never means the current directory.
pub fn default_cache_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(d) = std::env::var_os("PYCORONER_CACHE_DIR").and_then(absolute) {
        return Some(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        return Some(d.join("pycoroner"));
    }
    std::env::var_os("HOME").and_then(absolute).map(|h| h.join(".cache").join("pycoroner"))
}
