//! Why an analysis could not produce a report. Each variant carries what a person
//! needs to act: the file, the paths searched, the flag to try.

use std::path::PathBuf;

/// An analysis failure.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// A live process could not be attached to or stopped.
    #[error(transparent)]
    Live(#[from] pycoroner_process::LiveError),
    /// No mapped module holds a CPython runtime.
    #[error("no Python interpreter found in the target (looked for _PyRuntime / interp_head in {searched} modules)")]
    NoPython {
        /// How many modules were examined.
        searched: usize,
    },
    /// No module holds an interpreter, but some could not be read or checked: Python may
    /// be in one of them.
    #[error("no Python interpreter found in the {searched} modules that could be read; {count} could not be used: {reasons} (pass --sysroot DIR for a core from another machine or container, or --exe PATH)")]
    FilesUnusable {
        /// How many modules were examined.
        searched: usize,
        /// How many were unusable.
        count: usize,
        /// The first few reasons.
        reasons: String,
    },
    /// The target lists no mapped ELF file at all.
    #[error("the target lists no mapped ELF file among its {mappings} file mappings (its NT_FILE note may be missing or damaged, or the core was written without ELF headers: coredump_filter bit 4{damage})")]
    NoModules {
        /// File mappings listed.
        mappings: usize,
        /// What is known to be damaged, as "; ...".
        damage: String,
    },
    /// `--exe` names a different build than the one in the core.
    #[error("{exe} does not match the core: its build-id is {found}, the core's executable has {expected}")]
    ExeMismatch {
        /// The file given.
        exe: PathBuf,
        /// Build-id recorded in the core.
        expected: String,
        /// Build-id of the file.
        found: String,
    },
    /// The file named by `--exe` is unusable.
    #[error("cannot use --exe {path}: {what}")]
    BadExe {
        /// The file.
        path: PathBuf,
        /// Why.
        what: String,
    },
    /// The interpreter's binary has no usable debug information.
    #[error("{module} has no DWARF debug information; looked in: {tried}. Install its debug symbols or pass --debug-dir DIR")]
    NoDebugInfo {
        /// The module.
        module: String,
        /// Every path tried.
        tried: String,
    },
    /// The version could not be determined or has no model.
    #[error("unsupported CPython version {version} (pycoroner knows 3.6 to 3.15)")]
    UnsupportedVersion {
        /// The version found.
        version: String,
    },
    /// The version could not be determined at all.
    #[error("cannot tell which CPython version {module} is (no Py_Version symbol and no version in its name)")]
    UnknownVersion {
        /// The module.
        module: String,
    },
    /// The runtime's own structures are unreadable.
    #[error("{module}: {what}")]
    Runtime {
        /// The module.
        module: String,
        /// What failed.
        what: String,
    },
    /// The analysis's output (a minidump) could not be written.
    #[error("{0}")]
    Output(String),
}

impl AnalyzeError {
    /// True when the target simply has no Python in it (exit status 3).
    pub fn is_no_python(&self) -> bool {
        matches!(self, AnalyzeError::NoPython { .. })
    }
}
