//! The one handle the CLI and the debuggers hold: a target prepared once (its
//! interpreter found, its layout resolved), then asked for reports, objects, globals
//! and source lines as often as they like.

use pycoroner_process::{LiveProcess, Target};
use pycoroner_report::Report;

use crate::error::AnalyzeError;
use crate::options::{NativeMode, Options};
use crate::{Prepared, Style};

/// Most bytes of a source file read for its lines.
const MAX_SOURCE: u64 = 16 << 20;

/// Largest objects a debugger's heap census keeps (`py-heap --largest N` shows up to
/// this many).
pub const LARGEST: usize = 50;

/// An analysis of one target.
pub struct Analysis<T: Target> {
    target: T,
    options: Options,
    prepared: Prepared,
    /// Reports already made, by (locals, native mode).
    reports: Vec<((bool, NativeMode), Report)>,
    /// The `--state` report and the native mode it was made with.
    state: Option<(NativeMode, Report)>,
    /// The report with asyncio's tasks (`py-tasks`), once made.
    tasks: Option<Report>,
    /// The report with the heap census (`py-heap`, `py-gc`), once made, and whether
    /// it counted the untracked objects.
    heap: Option<(bool, Report)>,
}

impl<T: Target> std::fmt::Debug for Analysis<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis").field("target", &self.target.describe()).field("prepared", &self.prepared).finish()
    }
}

impl<T: Target> Analysis<T> {
    /// Find the target's interpreter and resolve its layout (and with `--native`, load
    /// every module's unwind tables): nothing of any thread is read yet.
    pub fn open(target: T, options: Options) -> Result<Analysis<T>, AnalyzeError> {
        let prepared = crate::prepare(&target, &options)?;
        Ok(Analysis { target, options, prepared, reports: Vec::new(), tasks: None, state: None, heap: None })
    }

    /// The report the options ask for (made once).
    pub fn report(&mut self) -> Result<&Report, AnalyzeError> {
        self.report_with(self.options.locals, self.options.native)
    }

    /// The report with or without locals and native frames (each kind made once).
    pub fn report_with(&mut self, locals: bool, native: NativeMode) -> Result<&Report, AnalyzeError> {
        let key = (locals, native);
        let i = match self.reports.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let opts = Options { locals, native, ..self.options.clone() };
                if native != NativeMode::Off {
                    self.prepared.ensure_native(&self.target, &opts);
                }
                let r = crate::analyze_prepared(&self.target, &self.prepared, &opts)?;
                self.reports.push((key, r));
                self.reports.len() - 1
            }
        };
        self.reports.get(i).map(|(_, r)| r).ok_or(AnalyzeError::Runtime { module: String::new(), what: "report cache".into() })
    }

    /// A report [`Analysis::report_with`] made already (so that it can be read beside
    /// other `&self` calls).
    pub fn made(&self, locals: bool, native: NativeMode) -> Option<&Report> {
        self.reports.iter().find(|(k, _)| *k == (locals, native)).map(|(_, r)| r)
    }

    /// The report with the whole interpreter state (`--state`), made for each native
    /// mode asked (the last one kept).
    pub fn state_report(&mut self, native: NativeMode) -> Result<&Report, AnalyzeError> {
        if self.state.as_ref().is_none_or(|(n, _)| *n != native) {
            let opts = Options { locals: false, native, state: true, ..self.options.clone() };
            if native != NativeMode::Off {
                self.prepared.ensure_native(&self.target, &opts);
            }
            self.state = Some((native, crate::analyze_prepared(&self.target, &self.prepared, &opts)?));
        }
        self.state.as_ref().map(|(_, r)| r).ok_or(AnalyzeError::Runtime { module: String::new(), what: "report cache".into() })
    }

    /// The report with every asyncio task (`--tasks`), Python frames only (made once).
    pub fn tasks_report(&mut self) -> Result<&Report, AnalyzeError> {
        if self.tasks.is_none() {
            let opts = Options { locals: false, native: NativeMode::Off, tasks: true, ..self.options.clone() };
            self.tasks = Some(crate::analyze_prepared(&self.target, &self.prepared, &opts)?);
        }
        self.tasks.as_ref().ok_or(AnalyzeError::Runtime { module: String::new(), what: "report cache".into() })
    }

    /// The report with the heap census and the `LARGEST` largest objects, Python
    /// frames only, with the untracked objects counted or not (made once per choice
    /// in a row).
    pub fn heap_report(&mut self, untracked: bool) -> Result<&Report, AnalyzeError> {
        if self.heap.as_ref().is_none_or(|(u, _)| *u != untracked) {
            let opts = Options { locals: false, native: NativeMode::Off, heap: true, largest: LARGEST, untracked, ..self.options.clone() };
            self.heap = Some((untracked, crate::analyze_prepared(&self.target, &self.prepared, &opts)?));
        }
        self.heap.as_ref().map(|(_, r)| r).ok_or(AnalyzeError::Runtime { module: String::new(), what: "report cache".into() })
    }

    /// The report with who refers to the object at `addr`, `levels` up (made each time:
    /// each search is its own).
    pub fn referrers_report(&self, addr: u64, levels: usize) -> Result<Report, AnalyzeError> {
        let opts = Options { locals: false, native: NativeMode::Off, referrers: Some((addr, levels)), ..self.options.clone() };
        crate::analyze_prepared(&self.target, &self.prepared, &opts)
    }

    /// The report the options ask for, owned (a one-shot analysis).
    pub fn into_report(mut self) -> Result<Report, AnalyzeError> {
        let key = (self.options.locals, self.options.native);
        self.report()?;
        let i = self.reports.iter().position(|(k, _)| *k == key);
        i.map(|i| self.reports.swap_remove(i).1).ok_or(AnalyzeError::Runtime { module: String::new(), what: "report cache".into() })
    }

    /// The object at `addr`: its type name and repr.
    pub fn object(&self, addr: u64) -> Result<(Option<String>, String), AnalyzeError> {
        self.object_in(addr, Style::Python)
    }

    /// The object at `addr`: its reference count and whether it is immortal (3.12+).
    pub fn refcount(&self, addr: u64) -> Result<Option<(i64, bool)>, AnalyzeError> {
        crate::refcount_prepared(&self.target, &self.prepared, &self.options, addr)
    }

    /// The object at `addr`: its type name and its text in `style`.
    pub fn object_in(&self, addr: u64, style: Style) -> Result<(Option<String>, String), AnalyzeError> {
        crate::render_object_prepared(&self.target, &self.prepared, &self.options, addr, style)
    }

    /// The line CPython's gdb script writes for the Python frame at `addr` (a frame's
    /// `address` in a report): `Frame 0x..., for file F, line N, in f (a=1)`, cut at
    /// 1024 characters; `None` if the frame cannot be read.
    pub fn frame_line(&self, addr: u64) -> Result<Option<String>, AnalyzeError> {
        crate::frame_line_prepared(&self.target, &self.prepared, &self.options, addr)
    }

    /// The plain locals (arguments and locals, as CPython's gdb script lists them) of
    /// the Python frame at `addr`, each written as that script writes it.
    pub fn frame_locals(&self, addr: u64) -> Result<Option<Vec<(String, String)>>, AnalyzeError> {
        crate::frame_locals_prepared(&self.target, &self.prepared, &self.options, addr)
    }

    /// True when one C-level eval call runs several Python frames (3.11+): CPython's
    /// gdb script then shows and lists them together (`py-locals` heads each with
    /// `Locals for NAME`).
    pub fn eval_calls_run_many_frames(&self) -> bool {
        crate::models_for(&self.prepared.found, &mut Vec::new())
            .is_ok_and(|m| matches!(m.frame, pycoroner_cpython::models::FrameModel::Interpreter { .. }))
    }

    /// A name a frame does not bind, as CPython's `py-print` looks it up after the
    /// frame's locals: in its globals, then its builtins (`frame` is a Python frame's
    /// `address`). The scope (`global` or `builtin`) and the value's address.
    pub fn global(&self, frame: u64, name: &str) -> Result<Option<(&'static str, u64)>, AnalyzeError> {
        crate::lookup_global(&self.target, &self.prepared, &self.options, frame, name)
    }

    /// The lines of a source file a frame names, opened as the target opens every file
    /// (inside its sysroot, regular files only, bounded).
    pub fn source_lines(&self, file: &str) -> Result<Vec<String>, String> {
        use std::io::Read;
        let opened = self.target.open_file(file).map_err(|e| e.to_string())?;
        let mut text = Vec::new();
        std::io::Read::take(&opened.file, MAX_SOURCE).read_to_end(&mut text).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&text).lines().map(str::to_string).collect())
    }

    /// The CPython version, `3.12.1`.
    pub fn version(&self) -> String {
        self.prepared.version()
    }

    /// File name of the module holding the interpreter.
    pub fn runtime_module(&self) -> &str {
        self.prepared.runtime_module()
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }
}

/// A live process, read with the least pause: everything static (modules, version,
/// layout, symbols, with `--native` the unwind tables) is found while it runs; its
/// threads are stopped (unless `stop` is false) only while they are read, and resumed
/// before native frames are symbolized. `stopped` runs right after the stop. The report
/// says how long the threads were stopped.
pub fn analyze_process(pid: u32, stop: bool, options: &Options, stopped: &mut dyn FnMut()) -> Result<Report, AnalyzeError> {
    let mut target = LiveProcess::attach(pid, false)?;
    let prepared = crate::prepare(&target, options)?;
    if stop {
        target.stop()?;
    }
    stopped();
    let mut paused = None;
    let result = crate::analyze_prepared_then(&target, &prepared, options, &mut || paused = target.resume());
    paused = paused.or_else(|| target.resume());
    let mut report = result?;
    if let Some(p) = paused {
        report.target.paused_ms = Some(p.as_secs_f64() * 1000.0);
    }
    Ok(report)
}
