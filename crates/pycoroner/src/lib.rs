//! pycoroner: what a CPython process was doing when it died.
//!
//! One handle, [`Analysis`], turns a [`Target`] (a core file, a live process, what a
//! debugger has open) into [`Report`]s, objects and globals, which the CLI and the
//! debugger scripts render; [`analyze`] is the one-shot form and [`analyze_process`]
//! reads a live process with the least pause. It finds the module holding the interpreter, resolves its struct layouts
//! (from the on-disk cache keyed by build-id, else from DWARF), detects the version and
//! walks every interpreter, thread and frame.
//!
//! ```no_run
//! use pycoroner::{Analysis, Options};
//! use pycoroner_process::ElfCore;
//! let core = ElfCore::open(std::path::Path::new("core")).unwrap();
//! let mut analysis = Analysis::open(core, Options::default()).unwrap();
//! print!("{}", pycoroner_report::render::faulthandler::render(analysis.report().unwrap()));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod dump;
mod error;
mod facade;
mod heap;
mod locate_python;
mod options;
pub mod splice;
mod state;
mod tasks;

pub use dump::{write_dump, write_dump_then, write_process_dump, Dumped};
pub use error::AnalyzeError;
pub use facade::{analyze_process, Analysis};
pub use options::{LayoutSource, NativeMode, Options};
pub use pycoroner_cpython::repr::Limits;
pub use pycoroner_report as report;
pub use pycoroner_process as target;

use pycoroner_cpython::repr::libpython::FrameView;
use pycoroner_cpython::repr::{KnownObjects, Renderer};
use pycoroner_cpython::snapshot::{ThreadSnapshot, Want};
use pycoroner_cpython::{Anchors, InterpreterState, Models, PyFrame, Python, Stop};
use pycoroner_report::{
    ChainedException, ExceptionInfo, ExceptionState, Frame, Interpreter, LayoutSource as ReportLayoutSource, PythonFrame, PythonInfo, Relation, Report, Signal,
    StopReason, TargetInfo, TargetKind, Thread, Variable, VariableKind, WalkStop, Warning, WarningKind,
};
use pycoroner_process::{MemoryExt, RemoteAddr, Target};

use crate::locate_python::FoundPython;

/// Every thread's native stack as text, as gdb's `bt` lists it, for a process with no
/// Python interpreter (`pycoroner run` reports a crash of any process of its tree):
/// `Thread LWP N (most recent call first):` then `  #0  0x... in f at file:line`, the
/// thread that took the signal first. Target text is escaped.
pub fn native_stacks_text(target: &dyn Target, options: &Options) -> String {
    use std::fmt::Write;
    let setup = native_setup(target, options, None);
    let mut out = String::new();
    for (i, t) in target.threads().iter().enumerate() {
        let current = if i == 0 && t.cursig != 0 { "Current thread" } else { "Thread" };
        let _ = writeln!(out, "{current} LWP {} (most recent call first):", t.tid);
        if t.regs.rip == 0 && t.regs.rsp == 0 {
            let _ = writeln!(out, "  <its registers could not be read>");
            continue;
        }
        let (raw, stop) = setup.native.unwind(target, &t.regs);
        // Every native frame, as a report lists them (no Python to splice in).
        let (frames, _, _) = splice::splice(&setup.native, &raw, &[], |_| None, "", NativeMode::All);
        out.push_str(&pycoroner_report::render::faulthandler::native_frames(&frames));
        if let Some(why) = stop {
            let _ = writeln!(out, "  ({})", pycoroner_report::escape::text(&why));
        }
        out.push('\n');
    }
    for w in &setup.warnings {
        let _ = writeln!(out, "Warning: {}", pycoroner_report::escape::text(&w.message));
    }
    out
}

/// Analyze a target: find its interpreter and report every thread's Python stack.
pub fn analyze(target: &dyn Target, options: &Options) -> Result<Report, AnalyzeError> {
    let prepared = prepare(target, options)?;
    analyze_prepared(target, &prepared, options)
}

/// What is known of a target's interpreter before any thread is read: its module,
/// version, layout and symbols. For a live process this is found while it runs, so
/// it is stopped only for [`analyze_prepared`].
#[derive(Clone)]
pub(crate) struct Prepared {
    found: FoundPython,
    /// The unwinder and symbolizer over every module (with `--native`).
    native: Option<std::rc::Rc<NativeSetup>>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("found", &self.found).field("native", &self.native.is_some()).finish()
    }
}

/// Unwind tables and symbols of a target's modules, loaded once.
struct NativeSetup {
    native: pycoroner_debuginfo::native::Native,
    warnings: Vec<Warning>,
}

/// `cache` (the analysis's cache directory, already checked, its refusal already a
/// warning) holds the symbol cache.
fn native_setup(target: &dyn Target, options: &Options, cache: Option<pycoroner_process::cache_dir::CacheDir>) -> NativeSetup {
    let modules = pycoroner_debuginfo::modules_of(target, &target.mappings());
    let search = pycoroner_debuginfo::DebugSearch { debug_dirs: options.debug_dirs.clone(), ..pycoroner_debuginfo::DebugSearch::system() };
    let native = pycoroner_debuginfo::native::Native::new(target, &modules, &search, cache);
    let mut warnings: Vec<Warning> = native.cache_warnings.iter().map(|w| Warning::new(WarningKind::Cache, w.clone())).collect();
    if !native.missing.is_empty() {
        let shown: Vec<&str> = native.missing.iter().take(10).map(String::as_str).collect();
        let more = native.missing.len().saturating_sub(shown.len());
        let more = if more > 0 { format!("; and {more} more") } else { String::new() };
        warnings.push(Warning::new(
            WarningKind::File,
            format!("no unwind information or symbols from {} files: {}{more}", native.missing.len(), shown.join("; ")),
        ));
    }
    NativeSetup { native, warnings }
}

/// Find the interpreter and resolve its layout (no thread is read). With `--native`
/// this also loads every module's unwind tables, so that a live process is stopped
/// only for reading.
pub(crate) fn prepare(target: &dyn Target, options: &Options) -> Result<Prepared, AnalyzeError> {
    // A core's native stacks do not change: with --native they are unwound and
    // symbolized while the layout is read from DWARF on another thread.
    let mut early: Option<NativeSetup> = None;
    let found = if options.native != NativeMode::Off && matches!(target.kind(), pycoroner_process::TargetKind::Core) {
        locate_python::find_scanning(target, options, &mut |cache_dir| {
            let setup = native_setup(target, options, cache_dir.cloned());
            let threads = target.threads();
            let stacks: Vec<_> = threads.iter().filter(|t| t.regs.rip != 0).map(|t| setup.native.unwind(target, &t.regs).0).collect();
            setup.native.symbolize_ready_first(stacks.iter().flatten());
            early = Some(setup);
        })?
    } else {
        locate_python::find(target, options)?
    };
    let mut prepared = Prepared { found, native: early.map(std::rc::Rc::new) };
    if options.native != NativeMode::Off {
        prepared.ensure_native(target, options);
    }
    Ok(prepared)
}

impl Prepared {
    /// The CPython version, `3.12.1`.
    pub fn version(&self) -> String {
        self.found.version.to_string()
    }

    /// File name of the module holding the interpreter (`libpython3.12.so.1.0`).
    pub fn runtime_module(&self) -> &str {
        self.found.module_path.rsplit('/').next().unwrap_or(&self.found.module_path)
    }

    /// Add the unwinder and symbolizer `--native` needs, once: the interpreter found
    /// already is kept.
    pub fn ensure_native(&mut self, target: &dyn Target, options: &Options) {
        if self.native.is_none() {
            self.native = Some(std::rc::Rc::new(native_setup(target, options, self.found.cache_dir.clone())));
        }
    }
}

/// Run `f` with an object renderer over a prepared target.
fn with_renderer<T>(
    target: &dyn Target,
    prepared: &Prepared,
    options: &Options,
    f: impl FnOnce(&Renderer<'_>) -> T,
) -> Result<T, AnalyzeError> {
    with_styled(target, prepared, options, |r, _| f(r))
}

/// How objects are written: as Python's `repr()` (the CLI, `py-style python`) or as
/// CPython's own gdb script writes them (`py-style libpython`, the debuggers' default).
/// In the debugger protocol: `"python"`, `"libpython"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// Python's own `repr()`.
    Python,
    /// CPython's `python3.X-gdb.py`: `<Foo(x=1) at remote 0x...>`, cut at 1024 characters.
    #[default]
    Libpython,
}

/// What a frame view is made by: `(address, object)` → the frame CPython's gdb script
/// writes for it (see [`frame_view`]).
type FrameViews<'a> = &'a dyn Fn(RemoteAddr, bool) -> Option<FrameView>;

/// A renderer of a prepared target and, for the libpython style, the frame views it
/// needs (a frame met as a value, a thread's frame).
fn with_styled<T>(target: &dyn Target, prepared: &Prepared, options: &Options, f: impl FnOnce(&Renderer<'_>, FrameViews<'_>) -> T) -> Result<T, AnalyzeError> {
    let found = &prepared.found;
    let models = models_for(found, &mut Vec::new())?;
    let py = Python::new(target, &found.layout, models, anchors(found));
    let cell_type = found.symbol("PyCell_Type").map(RemoteAddr);
    let views = |addr: RemoteAddr, object: bool| frame_view(target, &py, &found.layout.offsets, addr, object, cell_type);
    let known = KnownObjects::from_symbols(|s| found.symbol(s)).read_pointers(target);
    Ok(f(&Renderer::new(target, &found.layout.offsets, models, &known, options.limits), &views))
}

/// A frame as CPython's gdb script writes it; `object`: `addr` is a frame object (on
/// 3.11+ it shows the interpreter frame it wraps). Its locals are the plain ones
/// (arguments and locals, not cells or free variables), as the script lists them.
fn frame_view(target: &dyn Target, py: &Python<'_>, o: &pycoroner_layouts::Offsets, addr: RemoteAddr, object: bool, cell_type: Option<RemoteAddr>) -> Option<FrameView> {
    let addr = match pycoroner_layouts::key::frame::iframe.of(o) {
        Some(off) if object => target.read_ptr(addr.offset(off)?).ok().filter(|a| !a.is_null())?,
        _ => addr,
    };
    let f = py.frame_at(addr).ok()?;
    let info = f.info.as_ref().ok()?;
    let locals = py
        .locals(&f, cell_type)
        .ok()?
        .into_iter()
        .filter(|l| matches!(l.kind, pycoroner_cpython::locals::LocalKind::Arg | pycoroner_cpython::locals::LocalKind::Local) && l.tagged_int.is_none())
        .map(|l| (l.name, l.value))
        .collect();
    Some(FrameView {
        address: addr.0,
        file: info.filename.clone().ok()?,
        line: f.line.and_then(|l| u32::try_from(l).ok()),
        name: info.name.clone().ok()?,
        locals,
    })
}

/// Render the object at `addr` of a prepared target: its type name and its text in
/// `style`.
pub(crate) fn render_object_prepared(
    target: &dyn Target,
    prepared: &Prepared,
    options: &Options,
    addr: u64,
    style: Style,
) -> Result<(Option<String>, String), AnalyzeError> {
    with_styled(target, prepared, options, |r, views| {
        let text = match style {
            Style::Python => r.repr(RemoteAddr(addr)),
            Style::Libpython => r.libpython_repr(RemoteAddr(addr), Some(&|obj| views(obj, true))),
        };
        (r.type_name(RemoteAddr(addr)).ok(), text)
    })
}

/// The reference count of the object at `addr` of a prepared target, and whether it
/// is immortal.
pub(crate) fn refcount_prepared(target: &dyn Target, prepared: &Prepared, options: &Options, addr: u64) -> Result<Option<(i64, bool)>, AnalyzeError> {
    with_styled(target, prepared, options, |r, _| r.refcount(RemoteAddr(addr)))
}

/// The line CPython's gdb script writes for the Python frame at `addr` (a frame's
/// `address` in the report): `Frame 0x..., for file F, line N, in f (a=1)`.
pub(crate) fn frame_line_prepared(target: &dyn Target, prepared: &Prepared, options: &Options, addr: u64) -> Result<Option<String>, AnalyzeError> {
    with_styled(target, prepared, options, |r, views| views(RemoteAddr(addr), false).map(|v| r.libpython_frame(&v, Some(&|obj| views(obj, true)))))
}

/// The plain locals of the Python frame at `addr`, each written as CPython's gdb
/// script writes it (its own text, cut at 1024 characters).
pub(crate) fn frame_locals_prepared(target: &dyn Target, prepared: &Prepared, options: &Options, addr: u64) -> Result<Option<Vec<(String, String)>>, AnalyzeError> {
    with_styled(target, prepared, options, |r, views| {
        let objects = |obj| views(obj, true);
        views(RemoteAddr(addr), false).map(|v| v.locals.iter().map(|(n, value)| (n.clone(), r.libpython_repr(*value, Some(&objects)))).collect())
    })
}

/// A name a frame does not bind, looked up as CPython's `py-print` does after the
/// frame's locals: in the frame's globals, then its builtins. `frame` is a Python
/// frame's `address` in the report. Returns the scope (`global` or `builtin`) and the
/// value's address; `None` where neither has it (or this build's layout lacks the fields).
pub(crate) fn lookup_global(
    target: &dyn Target,
    prepared: &Prepared,
    options: &Options,
    frame: u64,
    name: &str,
) -> Result<Option<(&'static str, u64)>, AnalyzeError> {
    let o = &prepared.found.layout.offsets;
    with_renderer(target, prepared, options, |r| {
        [("global", pycoroner_layouts::key::frame_vars::globals), ("builtin", pycoroner_layouts::key::frame_vars::builtins)].into_iter().find_map(|(scope, field)| {
            let at = field.of(o).and_then(|off| frame.checked_add(off))?;
            let dict = target.read_ptr(RemoteAddr(at)).ok().filter(|d| !d.is_null())?;
            r.dict_get_str(dict, name).map(|v| (scope, v.0))
        })
    })
}

/// Read every thread of a prepared target.
pub(crate) fn analyze_prepared(target: &dyn Target, prepared: &Prepared, options: &Options) -> Result<Report, AnalyzeError> {
    analyze_prepared_then(target, prepared, options, &mut || {})
}

/// Read every thread of a prepared target, calling `done_reading` as soon as nothing
/// more is read from the target (a live process is resumed there), before the slower
/// work of symbolizing native frames.
pub(crate) fn analyze_prepared_then(
    target: &dyn Target,
    prepared: &Prepared,
    options: &Options,
    done_reading: &mut dyn FnMut(),
) -> Result<Report, AnalyzeError> {
    let budgeted = pycoroner_process::Budgeted::new(target, READ_BUDGET);
    let mut report = analyze_within_budget(&budgeted, prepared, options, done_reading)?;
    if budgeted.spent() {
        report.warnings.push(Warning::new(
            WarningKind::Budget,
            format!("this analysis read its budget of {} MiB of target memory: what needed more is cut or missing", READ_BUDGET >> 20),
        ));
    }
    Ok(report)
}

/// Most bytes of target memory one analysis reads (each walk has its own cap; this
/// bounds them together): a typical core needs a few MiB.
const READ_BUDGET: u64 = 1 << 30;

fn analyze_within_budget(
    target: &dyn Target,
    prepared: &Prepared,
    options: &Options,
    done_reading: &mut dyn FnMut(),
) -> Result<Report, AnalyzeError> {
    let found = &prepared.found;
    let mut warnings = found.warnings.clone();
    let models = models_for(found, &mut warnings)?;
    let anchors = anchors(found);
    let py = Python::new(target, &found.layout, models, anchors);
    let known = KnownObjects::from_symbols(|s| found.symbol(s)).read_pointers(target);
    let values = options.locals.then(|| Values {
        renderer: Renderer::new(target, &found.layout.offsets, models, &known, options.limits),
        refcounts: options.refcounts,
        rendered: std::cell::Cell::new(0),
    });

    // The one walk: every interpreter, thread state and frame (and with --locals each
    // frame's variables and each thread's exceptions). Everything below reads it.
    let want = Want {
        values: options.locals,
        cell_type: found.symbol("PyCell_Type").map(RemoteAddr),
        none: found.symbol("_Py_NoneStruct").map(RemoteAddr),
    };
    let snapshot = py.snapshot(want).map_err(|e| AnalyzeError::Runtime {
        module: found.module_path.clone(),
        what: format!("cannot read the interpreter list: {e}"),
    })?;
    if let Some(w) = walk_stop("interpreter list", &snapshot.stop) {
        warnings.push(Warning::new(WarningKind::Walk, w.message));
    }

    // The thread that took the signal: the kernel writes it first.
    let sig = target.signal();
    let threads_info = target.threads();
    // A snapshot (gcore's SIGSTOP, or no signal) has no crashed thread.
    let fatal = |signo: i32| signo != 0 && pycoroner_report::signal_is_fatal(signo);
    let crashed = threads_info.first().filter(|t| sig.map_or(fatal(i32::from(t.cursig)), |s| fatal(s.signo)));

    // Report threads, and beside each the snapshot's thread it was built from (none
    // for a thread C code started).
    let mut threads: Vec<Thread> = Vec::new();
    let mut walked: Vec<Option<&ThreadSnapshot>> = Vec::new();
    let mut interpreters = Vec::new();
    let mut budget = ReportBudget::default();
    for interp in &snapshot.interpreters {
        let state = &interp.state;
        let holder = interp.gil_holder.as_ref().unwrap_or_else(|e| {
            warnings.push(Warning::new(WarningKind::Walk, format!("cannot tell which thread holds the GIL: {e}")));
            &None
        });
        if let Some(w) = walk_stop(&format!("thread list of interpreter at {}", state.addr), &interp.thread_stop) {
            warnings.push(Warning::new(WarningKind::Walk, w.message));
        }
        let holder_tid = holder.and_then(|h| interp.threads.iter().find(|t| t.state.addr == h)).map(|t| t.state.thread_id);
        interpreters.push(Interpreter {
            id: state.id,
            address: state.addr.0,
            gil_holder: holder_tid,
            gc_collecting: interp.gc_collecting,
            extension_modules: None,
            idle_loops: Vec::new(),
        });
        for ts in &interp.threads {
            let mut t = thread_report(target, state, ts, *holder, &threads_info, crashed.map(|c| c.tid), &mut warnings);
            if let Some(v) = values.as_ref().filter(|_| options.shows_values(t.current)) {
                add_values(v, ts, &mut t, &mut warnings);
            }
            budget.charge_frames(&mut t, &mut warnings);
            threads.push(t);
            walked.push(Some(ts));
        }
    }

    // Thread names from each interpreter's `threading._active`, and its extension
    // modules.
    let names_renderer = Renderer::new(target, &found.layout.offsets, models, &known, options.limits);
    let mut threading = Vec::new();
    // The test pytest was running: it sets `os.environ['PYTEST_CURRENT_TEST']` before
    // each phase of each test (the main interpreter's, where pytest runs).
    let current_test = snapshot.interpreters.first().and_then(|i| py.sys_dicts(&i.state).0).and_then(|m| names_renderer.environ_var(m, "PYTEST_CURRENT_TEST"));
    for (interp, report) in snapshot.interpreters.iter().zip(interpreters.iter_mut()) {
        let (Some(modules), sysdict) = py.sys_dicts(&interp.state) else {
            threading.push(Vec::new());
            continue;
        };
        report.extension_modules = names_renderer.extension_modules(modules, sysdict);
        // The modules the thread names and the state read, found in one pass.
        names_renderer.prefetch_modules(modules, &["threading", "gc", "_signal", "atexit"]);
        let known = names_renderer.threading_threads(modules);
        for k in &known {
            for t in threads.iter_mut().filter(|t| t.thread_id == k.ident && t.interpreter_id == interp.state.id) {
                t.name.clone_from(&k.name);
            }
        }
        threading.push(known);
    }
    if options.tasks {
        tasks::add_tasks(target, &py, found, &names_renderer, &snapshot, &mut interpreters, &mut threads, &mut warnings);
    }
    let cx = state::Context { minor: found.version.minor, cell_type: want.cell_type, threading: &threading, full: options.state, flag_names: found.flag_names.as_deref() };
    let (mut runtime, acquires, flag_names) = state::read(&py, &names_renderer, &snapshot, &cx, &mut warnings);
    if let Some(names) = flag_names.filter(|n| !n.is_empty()) {
        cache::remember_flag_names(found, names, &mut warnings);
    }
    let referrers = options.referrers.and_then(|(addr, depth)| heap::referrers(&py, &names_renderer, found, &snapshot, models, want.cell_type, RemoteAddr(addr), depth, &mut warnings));
    let heap = if options.heap { heap::census(&py, &names_renderer, found, &snapshot, models, options, &mut warnings) } else { Vec::new() };
    // Threads with no Python thread state (started by C code: BLAS, gRPC, an extension's
    // workers): shown too, after the Python ones; the one that took the signal is the
    // current thread, with its native frames even without --native.
    // Only when every Python thread was matched to its LWP (a live process read without
    // stopping it may have no registers to match by).
    let python_lwps: std::collections::HashSet<u32> = threads.iter().filter_map(|t| t.native_id).collect();
    let all_matched = threads.iter().all(|t| t.native_id.is_some());
    let mut crashed_outside_python = false;
    for ti in threads_info.iter().filter(|ti| all_matched && !python_lwps.contains(&ti.tid)) {
        let current = crashed.is_some_and(|c| c.tid == ti.tid);
        crashed_outside_python |= current;
        threads.push(Thread {
            thread_id: ti.regs.fs_base,
            native_id: Some(ti.tid),
            name: None,
            current,
            gil: false,
            interpreter_id: None,
            exceptions: Vec::new(),
            frames: Vec::new(),
            truncated: None,
            event_loop: None,
        });
        walked.push(None);
    }
    // Native symbols also name the state's C functions (trace functions, Py_AtExit's).
    // And a collection's generation is read from a native frame of the collector.
    let adhoc = (prepared.native.is_none() && (crashed_outside_python || state::has_c_functions(&runtime) || state::is_collecting(&runtime)))
        .then(|| std::rc::Rc::new(native_setup(target, options, found.cache_dir.clone())));
    let unwound = match prepared.native.as_ref().or(adhoc.as_ref()) {
        Some(setup) => {
            let setup = setup.clone();
            let last_holders: Vec<RemoteAddr> = snapshot.interpreters.iter().filter_map(|i| i.gil_last_holder).collect();
            let mut u = unwind_threads(target, &setup.native, &threads, &walked, &last_holders, &mut warnings);
            if state::is_collecting(&runtime) {
                let stacks: Vec<(usize, &[pycoroner_debuginfo::native::RawFrame])> = u.iter().filter_map(|u| Some((*u.indices.first()?, u.raw.as_slice()))).collect();
                state::collecting_generation(target, &setup.native, &stacks, &threads, &mut runtime, &mut warnings);
            }
            if prepared.native.is_none() {
                // Plain mode: only the crashed C thread's native frames, folded.
                u.retain(|u| u.indices.iter().any(|&i| threads.get(i).is_some_and(|t| t.current && t.interpreter_id.is_none())));
            }
            done_reading();
            // A live target runs again before symbolization (which reads no target memory).
            setup.native.symbolize_ready_first(u.iter().flat_map(|u| u.raw.iter()));
            warnings.extend(setup.warnings.iter().cloned());
            let fold = Options { native: if options.native == NativeMode::Off { NativeMode::Folded } else { options.native }, ..options.clone() };
            splice_threads(&setup.native, found, &fold, u, &mut threads, &mut budget, &mut warnings);
            true
        }
        None => false,
    };
    if !unwound {
        done_reading();
    }
    state::finish(&mut runtime, acquires, prepared.native.as_ref().or(adhoc.as_ref()).map(|s| &s.native), &threads);
    resolve_current(&mut threads, &mut warnings);
    // The interpreter whose thread crashed first (faulthandler shows only that one).
    if let Some(cur) = threads.iter().find(|t| t.current).map(|t| t.interpreter_id) {
        interpreters.sort_by_key(|i| i.id != cur);
        threads.sort_by_key(|t| t.interpreter_id != cur);
    }

    if threads.iter().all(|t| t.interpreter_id.is_none()) {
        warnings.push(Warning::new(
            WarningKind::Walk,
            format!(
                "the interpreter{} list no thread state (a NULL or unreadable thread list): no Python stack can be shown",
                if snapshot.interpreters.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    // What the target itself could not give (damaged notes, files refused), once each.
    warnings.extend(target.warnings().into_iter().map(|w| Warning::new(WarningKind::Target, w)));
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));

    if options.source {
        add_source(target, &mut threads, &mut warnings);
    }
    let signal = sig.map(|s| {
        let (name, description) = pycoroner_report::signal_names(s.signo);
        let (caught, stack_overflow) = crashed.map(|c| fault_of(target, &s, &c.regs)).unwrap_or_default();
        Signal {
            caught,
            stack_overflow,
            number: s.signo,
            name,
            description,
            code: s.code,
            address: s.addr,
            sender_pid: s.sender_pid,
            thread: crashed.map(|c| c.tid),
            syscall: s.syscall,
        }
    });
    Ok(Report {
        heap,
        heap_diff: None,
        referrers,
        schema: pycoroner_report::SCHEMA,
        target: TargetInfo {
            kind: match target.kind() {
                pycoroner_process::TargetKind::Core => TargetKind::Core,
                pycoroner_process::TargetKind::Process => TargetKind::Process,
                pycoroner_process::TargetKind::Debugger => TargetKind::Debugger,
                pycoroner_process::TargetKind::Minidump => TargetKind::Core,
            },
            path: None,
            executable: target.executable(),
            pid: target.pid(),
            command_line: target.command_line(),
            test: current_test,
            signal,
            paused_ms: None,
            minidump: target.kind() == pycoroner_process::TargetKind::Minidump,
        },
        python: PythonInfo {
            version: found.version.to_string(),
            module: found.module_path.clone(),
            layout_source: match found.layout.source {
                pycoroner_layouts::Source::Dwarf => ReportLayoutSource::Dwarf,
                pycoroner_layouts::Source::DebugOffsets => ReportLayoutSource::DebugOffsets,
                pycoroner_layouts::Source::Builtin => ReportLayoutSource::Builtin,
            },
            layout_file: found.layout_file.clone(),
            layout_cached: found.layout_cached,
            debug_build: found.layout.flavour.debug,
            free_threaded: found.layout.flavour.free_threaded,
        },
        interpreters,
        threads,
        runtime: Some(runtime),
        warnings,
    })
}

/// How much text all threads' frames may add to one report together (names are capped
/// per frame, frames per thread; this caps their product over many threads).
const REPORT_FRAME_BYTES: usize = 64 << 20;

/// The report-wide budget of frame text, spent thread by thread.
#[derive(Default)]
struct ReportBudget {
    spent: usize,
    exhausted: bool,
}

impl ReportBudget {
    /// Keep as many of `t`'s frames as the budget pays for; the thread says where it was
    /// cut, and the report says once that the budget is spent.
    fn charge_frames(&mut self, t: &mut Thread, warnings: &mut Vec<Warning>) {
        self.charge(t, warnings, true);
    }

    /// The same for the native frames spliced in later (the Python ones are paid).
    fn charge_native(&mut self, t: &mut Thread, warnings: &mut Vec<Warning>) {
        self.charge(t, warnings, false);
    }

    fn charge(&mut self, t: &mut Thread, warnings: &mut Vec<Warning>, python: bool) {
        let cost = |f: &Frame| match f {
            Frame::Python(p) => {
                64 + p.file.as_ref().map_or(0, String::len)
                    + p.function.as_ref().map_or(0, String::len)
                    + p.qualname.as_ref().map_or(0, String::len)
                    + p.locals.iter().flatten().map(|v| 32 + v.name.len() + v.repr.len()).sum::<usize>()
            }
            Frame::Native(n) => {
                128 + n.function.as_ref().map_or(0, String::len) + n.file.as_ref().map_or(0, String::len) + n.module.as_ref().map_or(0, String::len)
            }
        };
        let before = t.frames.len();
        if python {
            // Python frames: the first ones the budget pays for, the rest cut.
            let mut keep = 0usize;
            for f in &t.frames {
                let c = cost(f);
                if self.spent.saturating_add(c) > REPORT_FRAME_BYTES {
                    break;
                }
                self.spent += c;
                keep += 1;
            }
            t.frames.truncate(keep);
        } else {
            // Native frames spliced in later: the Python ones are paid for and stay; the
            // native ones past the budget are left out.
            let spent = &mut self.spent;
            t.frames.retain(|f| match f {
                Frame::Python(_) => true,
                Frame::Native(_) => {
                    let c = cost(f);
                    let paid = spent.saturating_add(c) <= REPORT_FRAME_BYTES;
                    if paid {
                        *spent += c;
                    }
                    paid
                }
            });
        }
        let cut = before - t.frames.len();
        if cut > 0 {
            let what = if python { "frames" } else { "native frames" };
            // A cut made earlier (of Python frames) keeps its count.
            if t.truncated.is_none() {
                t.truncated = Some(WalkStop {
                    reason: StopReason::Budget,
                    address: None,
                    message: format!("{cut} more {what} not shown: the report's size budget ({} MiB of frames) is spent", REPORT_FRAME_BYTES >> 20),
                });
            }
            if !self.exhausted {
                self.exhausted = true;
                warnings.push(Warning::new(
                    WarningKind::Budget,
                    format!("the report's size budget ({} MiB of frames across all threads) is spent: later frames and threads are cut", REPORT_FRAME_BYTES >> 20),
                ));
            }
        }
    }
}

/// The models of the interpreter's version; a version newer than any we know is read
/// with the newest models, and the report says so.
pub(crate) fn models_for(found: &FoundPython, warnings: &mut Vec<Warning>) -> Result<Models, AnalyzeError> {
    let v = found.version;
    if let Some(m) = Models::for_version(v.major, v.minor) {
        return Ok(m);
    }
    if v.major == 3 && v.minor > pycoroner_cpython::models::NEWEST_MINOR {
        warnings.push(Warning::new(
            WarningKind::Layout,
            format!(
                "CPython {v} is newer than pycoroner knows (3.6 to 3.{}); reading it as 3.{}, which may be wrong",
                pycoroner_cpython::models::NEWEST_MINOR,
                pycoroner_cpython::models::NEWEST_MINOR
            ),
        ));
        if let Some(m) = Models::for_version(3, pycoroner_cpython::models::NEWEST_MINOR) {
            return Ok(m);
        }
    }
    Err(AnalyzeError::UnsupportedVersion { version: v.to_string() })
}

/// What was read of one OS thread for its mixed stack: the raw native frames and the
/// Python frames they splice with. An OS thread that entered several interpreters has
/// one thread state (one report thread) per interpreter: its Python frames are those
/// of all of them, innermost first, each owned by its report thread.
struct Unwound {
    /// The report threads of this OS thread, in the order their frames appear.
    indices: Vec<usize>,
    raw: Vec<pycoroner_debuginfo::native::RawFrame>,
    stop: Option<String>,
    python: Vec<PyFrame>,
    /// For each of `python`: its report thread, and its position among that thread's
    /// Python frames.
    owner: Vec<(usize, usize)>,
}

/// Largest source file `--source` reads.
const MAX_SOURCE_FILE: u64 = 64 << 20;
/// Longest source line shown (characters).
const MAX_SOURCE_LINE: usize = 1000;

/// `--source`: each Python frame's line from its file, as the file is now, opened like
/// every file the target names (inside the sysroot or the process's root, regular files
/// only). A file changed after the core was written is named in a warning; a
/// relative name (the process's working directory is not in a core) gets no source.
fn add_source(target: &dyn Target, threads: &mut [Thread], warnings: &mut Vec<Warning>) {
    let mut warn = |m: String| warnings.push(Warning::new(WarningKind::Source, m));
    let mut files: std::collections::HashMap<String, Option<Vec<String>>> = std::collections::HashMap::new();
    let mut relative = false;
    for t in threads.iter_mut() {
        for f in t.frames.iter_mut() {
            let Frame::Python(p) = f else { continue };
            let (Some(file), Some(line)) = (p.file.as_deref(), p.line) else { continue };
            if !file.starts_with('/') {
                relative |= !file.starts_with('<');
                continue;
            }
            let lines = files.entry(file.to_string()).or_insert_with(|| {
                let opened = match target.open_file(file) {
                    Ok(o) if o.len <= MAX_SOURCE_FILE => o,
                    Ok(_) => {
                        warn(format!("--source: {file} is larger than {MAX_SOURCE_FILE} bytes: not read"));
                        return None;
                    }
                    Err(e) => {
                        warn(format!("--source: {e}"));
                        return None;
                    }
                };
                let changed = opened.file.metadata().and_then(|m| m.modified()).ok();
                if let (Some(changed), Some(taken)) = (changed, target.taken_at()) {
                    if changed > taken {
                        warn(format!("--source: {file} changed after the {} was taken: its lines may not be the ones that ran", target.kind().as_str()));
                    }
                }
                let mut text = Vec::new();
                std::io::Read::read_to_end(&mut std::io::Read::take(&opened.file, MAX_SOURCE_FILE), &mut text).ok()?;
                Some(String::from_utf8_lossy(&text).lines().map(str::to_string).collect())
            });
            p.source = lines
                .as_ref()
                .and_then(|l| l.get(usize::try_from(line).ok()?.checked_sub(1)?))
                .map(|l| l.trim().chars().take(MAX_SOURCE_LINE).collect());
        }
    }
    if relative {
        warn("--source: frames with relative file names have no source (the process's working directory is unknown)".into());
    }
}

/// Bytes of a signal handler's stack searched for the kernel's signal frame.
const SIGNAL_FRAME_SEARCH: u64 = 64 << 10;

/// The fault behind a fatal signal: the core's own `siginfo` for a fault the kernel
/// raised, or, when a handler caught the fault and raised the signal again
/// (faulthandler), the `siginfo` in the kernel's signal frame on the handler's stack.
/// And whether it was a C stack overflow: a SIGSEGV whose address lies below the
/// mapping of the stack the thread ran on, within 64 KiB of its stack pointer.
fn fault_of(target: &dyn Target, s: &pycoroner_process::SignalInfo, regs: &pycoroner_process::Registers) -> (Option<pycoroner_report::CaughtFault>, Option<pycoroner_report::StackOverflow>) {
    const FAULTS: [i32; 4] = [4, 7, 8, 11];
    let (fault, sp, caught) = match s.addr {
        Some(a) if s.code > 0 => ((s.signo, s.code, a), regs.rsp, None),
        _ if FAULTS.contains(&s.signo) && s.code <= 0 && regs.rsp != 0 => {
            let mut code: Vec<std::ops::Range<u64>> = target.mappings().iter().map(|m| m.start..m.end).collect();
            code.sort_by_key(|r| r.start);
            let in_code = |v: u64| {
                let i = code.partition_point(|r| r.start <= v);
                i.checked_sub(1).and_then(|i| code.get(i)).is_some_and(|r| v < r.end)
            };
            let len = target.region(regs.rsp).map_or(SIGNAL_FRAME_SEARCH, |r| r.end.saturating_sub(regs.rsp).min(SIGNAL_FRAME_SEARCH));
            let Some(f) = pycoroner_debuginfo::native::find_signal_frame(target, regs.rsp, len, &in_code) else { return (None, None) };
            let Some((signo, code, address)) = f.fault(s.signo).filter(|f| f.1 > 0) else { return (None, None) };
            let (name, _) = pycoroner_report::signal_names(signo);
            let caught = pycoroner_report::CaughtFault { number: signo, name, code, address };
            ((signo, code, address), f.rsp, Some(caught))
        }
        _ => return (None, None),
    };
    let (signo, code, addr) = fault;
    // The stack pointer itself may already be past the stack's end: then the stack is
    // the mapping from the next page up.
    let stack = target.region(sp).or_else(|| target.region((sp | 0xfff).checked_add(1)?));
    let near = addr < sp.saturating_add(4096) && addr >= sp.saturating_sub(SIGNAL_FRAME_SEARCH);
    let below_stack = stack.as_ref().is_none_or(|r| addr < r.start);
    let overflow = (signo == 11 && matches!(code, 1 | 2) && near && below_stack)
        .then(|| pycoroner_report::StackOverflow { stack_pointer: sp, stack_start: stack.map(|r| r.start) });
    (caught, overflow)
}

/// Unwind every thread from its registers (all target reads happen here). Each
/// thread's Python frames are the ones the snapshot read for its own thread states
/// (`walked`, beside `threads`), as far as the report kept them.
fn unwind_threads(
    target: &dyn Target,
    native: &pycoroner_debuginfo::native::Native,
    threads: &[Thread],
    walked: &[Option<&ThreadSnapshot>],
    last_holders: &[RemoteAddr],
    warnings: &mut Vec<Warning>,
) -> Vec<Unwound> {
    let regs: Vec<_> = target.threads();
    let mut out = Vec::new();
    let mut done = std::collections::HashSet::new();
    for t in threads {
        let Some(lwp) = t.native_id else { continue };
        let Some(r) = regs.iter().find(|x| x.tid == lwp) else { continue };
        if r.regs.rip == 0 || !done.insert(lwp) {
            continue; // no registers (a live process read without stopping it), or done
        }
        // Every thread state of this OS thread, with the Python frames the report kept.
        let states: Vec<(usize, Vec<PyFrame>)> = threads
            .iter()
            .zip(walked)
            .enumerate()
            .filter(|(_, (x, _))| x.native_id == Some(lwp))
            .map(|(i, (_, w))| (i, w.map(|w| w.walk.frames.clone()).unwrap_or_default()))
            .collect();
        let (python, owner, order_warning) = interleave(&states, |i| {
            let state = walked.get(i).copied().flatten().map(|w| w.state.addr);
            threads.get(i).is_some_and(|t| t.gil) || state.is_some_and(|s| last_holders.contains(&s))
        });
        if let Some(w) = order_warning {
            warnings.push(Warning::thread(WarningKind::Native, t.thread_id, w));
        }
        let mut indices: Vec<usize> = Vec::new();
        for &(i, _) in &owner {
            if !indices.contains(&i) {
                indices.push(i);
            }
        }
        // Thread states with no Python frame get none of the native ones either, but
        // the one thread of a plain OS thread gets them all.
        if indices.is_empty() {
            indices.extend(states.first().map(|(i, _)| *i));
        }
        let (raw, stop) = native.unwind(target, &r.regs);
        out.push(Unwound { indices, raw, stop, python, owner });
    }
    out
}

/// The Python frames of one OS thread's thread states, innermost first: ordered by the
/// C-stack address of each run's eval call where every run has one (3.12+), else the
/// thread state that holds the GIL, or held it last, first (`innermost`).
fn interleave(states: &[(usize, Vec<PyFrame>)], innermost: impl Fn(usize) -> bool) -> (Vec<PyFrame>, Vec<(usize, usize)>, Option<String>) {
    /// A run of Python frames: its shim's C-stack address, its report thread, and its
    /// frames with their positions in that thread.
    type Run = (Option<u64>, usize, Vec<(usize, PyFrame)>);
    let mut runs: Vec<Run> = Vec::new();
    for (i, frames) in states {
        let mut cur = Vec::new();
        for (k, f) in frames.iter().enumerate() {
            cur.push((k, f.clone()));
            if f.entry {
                runs.push((f.c_stack.map(|a| a.0), *i, std::mem::take(&mut cur)));
            }
        }
        if !cur.is_empty() {
            runs.push((None, *i, cur));
        }
    }
    let mut warning = None;
    if states.len() > 1 {
        if runs.iter().all(|(a, _, _)| a.is_some()) {
            // The stack grows down: the innermost eval call's locals are lowest.
            runs.sort_by_key(|(a, _, _)| *a);
        } else {
            let active: Vec<usize> = states.iter().map(|(i, _)| *i).filter(|&i| innermost(i)).collect();
            if active.len() != 1 {
                warning = Some(format!(
                    "this OS thread has {} thread states (one per interpreter it entered) and none is known to be the innermost: their frames may be spliced in the wrong order",
                    states.len()
                ));
            }
            runs.sort_by_key(|(_, i, _)| !active.contains(i));
        }
    }
    let mut python = Vec::new();
    let mut owner = Vec::new();
    for (_, i, run) in runs {
        for (k, f) in run {
            python.push(f);
            owner.push((i, k));
        }
    }
    (python, owner, warning)
}

/// Symbolize each unwound thread and splice its Python frames in (no target reads).
/// An OS thread with several thread states has one mixed stack; each of its report
/// threads gets the part from just after the previous one's last eval frame down to
/// its own last (the last one gets the rest): read in order, they are the OS thread's
/// whole stack.
fn splice_threads(
    native: &pycoroner_debuginfo::native::Native,
    found: &FoundPython,
    options: &Options,
    unwound: Vec<Unwound>,
    threads: &mut [Thread],
    budget: &mut ReportBudget,
    warnings: &mut Vec<Warning>,
) {
    let runtime = found.module_path.rsplit('/').next().unwrap_or(&found.module_path).to_string();
    for u in unwound {
        let Some(&first) = u.indices.first() else { continue };
        let thread_id = threads.get(first).map_or(0, |t| t.thread_id);
        // Each report thread's Python frames, in walk order (the report may have kept
        // only the first ones: the others are spliced, so every run keeps its address,
        // and left out).
        let py_frames: std::collections::HashMap<usize, Vec<Frame>> = u
            .indices
            .iter()
            .filter_map(|&i| Some((i, threads.get(i)?.frames.iter().filter(|f| matches!(f, Frame::Python(_))).cloned().collect())))
            .collect();
        // Each Python frame's report thread and position there, by frame address (one
        // lookup per frame: a deep stack has tens of thousands).
        let owners: std::collections::HashMap<u64, (usize, usize)> = u.python.iter().zip(&u.owner).map(|(p, &o)| (p.addr.0, o)).collect();
        let owner_at = |f: &PyFrame| owners.get(&f.addr.0).copied();
        let render = |f: &PyFrame| match owner_at(f) {
            Some((i, k)) => py_frames.get(&i)?.get(k).cloned(),
            None => Some(Frame::Python(PythonFrame { function: None, qualname: None, file: None, line: None, source: None, locals: None, address: Some(f.addr.0), entry: f.entry })),
        };
        let (mut frames, unclaimed, warn) = splice::splice(native, &u.raw, &u.python, render, &runtime, options.native);
        if let Some(w) = warn {
            warnings.push(Warning::thread(WarningKind::Native, thread_id, w));
        }
        if let Some(s) = u.stop {
            warnings.push(Warning::thread(WarningKind::Native, thread_id, format!("native stack: {s}")));
        }
        // One part per report thread: where the owner of the Python frames changes, the
        // part of the one before ends after its last Python frame (and, with every frame
        // shown, the eval frame that ran it); the C frames after belong to the next.
        // Python frames no eval frame claimed go to the end of their own part.
        let owner_of = |f: &Frame| match f {
            Frame::Python(p) => p.address.and_then(|a| owners.get(&a)).map(|o| o.0),
            Frame::Native(_) => None,
        };
        let tail = frames.split_off(frames.len().saturating_sub(unclaimed));
        let mut parts: std::collections::HashMap<usize, Vec<Frame>> = std::collections::HashMap::new();
        let mut current = frames.iter().find_map(owner_of).unwrap_or(first);
        let mut buf: Vec<Frame> = Vec::new();
        for f in frames {
            match owner_of(&f) {
                Some(o) if o != current => {
                    let mut cut = buf.iter().rposition(|g| owner_of(g) == Some(current)).map_or(0, |p| p.saturating_add(1));
                    if matches!(buf.get(cut), Some(Frame::Native(n)) if n.function.as_deref() == Some(splice::EVAL)) {
                        cut = cut.saturating_add(1);
                    }
                    let rest = buf.split_off(cut.min(buf.len()));
                    parts.entry(current).or_default().extend(std::mem::replace(&mut buf, rest));
                    current = o;
                }
                _ => {}
            }
            buf.push(f);
        }
        parts.entry(current).or_default().extend(buf);
        for f in tail {
            parts.entry(owner_of(&f).unwrap_or(current)).or_default().push(f);
        }
        for &i in &u.indices {
            if let Some(t) = threads.get_mut(i) {
                t.frames = parts.remove(&i).unwrap_or_default();
                budget.charge_native(t, warnings);
            }
        }
    }
}

/// What `--locals` needs to render values.
struct Values<'a> {
    renderer: Renderer<'a>,
    /// `--refcounts`: each value's reference count too.
    refcounts: bool,
    /// Values rendered so far in this report (see [`MAX_VALUES`]).
    rendered: std::cell::Cell<usize>,
}

/// Most values (locals, cells, exceptions) one report renders: each `repr` has its own
/// read budget, and this bounds their number over every frame of every thread.
const MAX_VALUES: usize = 200_000;

/// `str(exc)` as a traceback line shows it: the single argument's str (repr for
/// KeyError), nothing for no arguments, the args tuple's repr otherwise.
/// Each message is one value of the report's budget (a chain multiplies them).
fn exception_message(py_values: &Values<'_>, exc: RemoteAddr, type_name: Option<&str>) -> Option<String> {
    if py_values.rendered.get() >= MAX_VALUES {
        return Some(format!("<not rendered: the report's budget of {MAX_VALUES} values is spent>"));
    }
    py_values.rendered.set(py_values.rendered.get() + 1);
    let r = &py_values.renderer;
    let args = r.exception_args(exc).ok()?;
    Some(match args.as_slice() {
        [] => String::new(),
        [one] if type_name != Some("KeyError") => r.str_of(*one),
        [one] => r.repr(*one),
        _ => r.repr_tuple(&args),
    })
}

/// Render the exceptions and locals the snapshot read of one thread.
fn add_values(v: &Values<'_>, ts: &ThreadSnapshot, t: &mut Thread, warnings: &mut Vec<Warning>) {
    let spent_before = v.rendered.get() >= MAX_VALUES;
    let thread = ts.state.thread_id;
    match &ts.exceptions {
        Some(Ok(excs)) => {
            for e in excs {
                let value = e.exception.value;
                let type_name = v.renderer.type_name(value).ok();
                let message = exception_message(v, value, type_name.as_deref());
                let chain = match &e.chain {
                    Ok(chain) => chain
                        .iter()
                        .map(|&(how, exc)| {
                            let type_name = v.renderer.type_name(exc).ok();
                            let message = exception_message(v, exc, type_name.as_deref());
                            let relation = match how {
                                pycoroner_cpython::locals::Chained::Cause => Relation::Cause,
                                pycoroner_cpython::locals::Chained::Context => Relation::Context,
                            };
                            ChainedException { relation, type_name, message, address: exc.0 }
                        })
                        .collect(),
                    Err(err) => {
                        warnings.push(Warning::thread(WarningKind::Values, thread, format!("the chain of exception 0x{:x} unreadable: {err}", value.0)));
                        Vec::new()
                    }
                };
                let state = match e.exception.state {
                    pycoroner_cpython::locals::ExceptionState::Raised => ExceptionState::Raised,
                    pycoroner_cpython::locals::ExceptionState::Handled => ExceptionState::Handled,
                };
                t.exceptions.push(ExceptionInfo { state, type_name, message, address: value.0, chain });
            }
        }
        Some(Err(e)) => warnings.push(Warning::thread(WarningKind::Values, thread, format!("exception state unreadable: {e}"))),
        None => {}
    }
    for ((f, locals), out) in ts.walk.frames.iter().zip(&ts.locals).zip(t.frames.iter_mut()) {
        let Frame::Python(pf) = out else { continue };
        pf.locals = Some(match locals {
            Ok(ls) => ls.iter().map(|l| variable(v, l)).collect(),
            Err(e) => {
                warnings.push(Warning::thread(WarningKind::Values, thread, format!("frame at {}: locals unreadable: {e}", f.addr)));
                Vec::new()
            }
        });
    }
    if !spent_before && v.rendered.get() >= MAX_VALUES {
        warnings.push(Warning::new(
            WarningKind::Budget,
            format!("the report's budget of {MAX_VALUES} rendered values is spent: later locals and exception messages show as <not rendered>"),
        ));
    }
}

/// One variable of a frame, rendered (a tagged int needs no read; a spent budget says so).
fn variable(v: &Values<'_>, l: &pycoroner_cpython::locals::Local) -> Variable {
    let kind = match l.kind {
        pycoroner_cpython::locals::LocalKind::Arg => VariableKind::Arg,
        pycoroner_cpython::locals::LocalKind::Local => VariableKind::Local,
        pycoroner_cpython::locals::LocalKind::Cell => VariableKind::Cell,
        pycoroner_cpython::locals::LocalKind::Free => VariableKind::Free,
    };
    let (type_name, repr) = match l.tagged_int {
        Some(n) => (Some("int".to_string()), n.to_string()),
        None if v.rendered.get() >= MAX_VALUES => (None, format!("<not rendered: the report's budget of {MAX_VALUES} values is spent>")),
        None => {
            v.rendered.set(v.rendered.get() + 1);
            (v.renderer.type_name(l.value).ok(), v.renderer.repr(l.value))
        }
    };
    let (refcount, immortal) = match (v.refcounts, l.tagged_int) {
        (true, None) => v.renderer.refcount(l.value).map_or((None, false), |(n, i)| (Some(n), i)),
        _ => (None, false),
    };
    Variable { name: l.name.clone(), kind, type_name, address: l.value.0, repr, refcount, immortal }
}


/// An OS thread has one thread state per interpreter it entered; of those, the one
/// it was running is the one holding the GIL.
fn resolve_current(threads: &mut [Thread], warnings: &mut Vec<Warning>) {
    let candidates: Vec<usize> = threads.iter().enumerate().filter(|(_, t)| t.current).map(|(i, _)| i).collect();
    if candidates.len() < 2 {
        return;
    }
    let holders: Vec<usize> = candidates.iter().copied().filter(|&i| threads[i].gil).collect();
    if let [only] = holders[..] {
        for i in candidates {
            threads[i].current = i == only;
        }
    } else {
        warnings.push(Warning::new(
            WarningKind::Threads,
            format!("the crashed thread has {} thread states (one per interpreter it entered) and none is known to be the active one", candidates.len()),
        ));
    }
}

/// The layout read from the DWARF of one binary (or its separate debug file): the
/// generator of the built-in tables. `version` is required where the binary has no
/// `Py_Version` (3.6–3.10) and no version in its file name.
pub fn layout_of_binary(
    path: &std::path::Path,
    version: Option<&str>,
    options: &Options,
) -> Result<pycoroner_layouts::Layout, AnalyzeError> {
    locate_python::layout_from_binary(path, version, options)
}

fn anchors(found: &FoundPython) -> Anchors {
    let sym = |name: &str| found.symbol(name).map(RemoteAddr);
    Anchors {
        runtime: sym("_PyRuntime"),
        interp_head: sym("interp_head"),
        tstate_current: sym("_PyThreadState_Current"),
        gil_locked: sym("gil_locked"),
        gil_last_holder: sym("gil_last_holder"),
        code_type: sym("PyCode_Type"),
        state: pycoroner_cpython::python::StateAnchors {
            gc_generation0: sym("_PyGC_generation0"),
            finalizing: sym("_Py_Finalizing"),
            exitfuncs: sym("exitfuncs"),
            nexitfuncs: sym("nexitfuncs"),
            signal_handlers: sym("Handlers"),
            signals_tripped: sym("is_tripped"),
            recursion_limit: sym("_Py_CheckRecursionLimit"),
            gc_collecting: sym("collecting"),
            gc_enabled: sym("enabled"),
            gc_generation_stats: sym("generation_stats"),
            pending_calls: sym("pendingcalls"),
            pending_first: sym("pendingfirst"),
            gil_drop_request: sym("gil_drop_request"),
            ref_total: sym("_Py_RefTotal"),
            last_final_reftotal: sym("last_final_reftotal"),
            refchain: sym("refchain"),
            obmalloc: ["arenas", "maxarenas", "narenas_currently_allocated", "ntimes_arena_allocated", "narenas_highwater"].map(sym),
            pending_last: sym("pendinglast"),
        },
    }
}

/// Why a walk of `what` stopped early, typed and in words; `None` when it ended normally.
fn walk_stop(what: &str, stop: &Stop) -> Option<WalkStop> {
    let (reason, address, message) = match stop {
        Stop::End => return None,
        Stop::Cycle(a) => (StopReason::Cycle, Some(a.0), format!("{what} loops back to {a}; stopped there")),
        Stop::Broken(a, e) => (StopReason::Broken, Some(a.0), format!("{what} is broken at {a}: {e}")),
        Stop::Cap(n) => (StopReason::Cap, None, format!("{what} is longer than {n} entries; stopped there")),
    };
    Some(WalkStop { reason, address, message })
}

/// Offset of `tid` in glibc's `struct pthread` on x86_64 (stable since glibc 2.3): how a
/// `pthread_t` names its LWP when the debugger gives no thread pointer register.
const GLIBC_PTHREAD_TID_OFFSET: u64 = 0x2d0;

fn thread_report(
    target: &dyn Target,
    interp: &InterpreterState,
    snap: &ThreadSnapshot,
    holder: Option<RemoteAddr>,
    core_threads: &[pycoroner_process::ThreadInfo],
    crashed_tid: Option<u32>,
    warnings: &mut Vec<Warning>,
) -> Thread {
    let ts = &snap.state;
    // Match the thread state to a kernel thread: native_thread_id where CPython has it
    // (3.11+), else pthread_t == fs_base (glibc's TCB address).
    let lwp = match ts.native_thread_id {
        Some(n) => core_threads.iter().find(|t| u64::from(t.tid) == n),
        None => core_threads.iter().find(|t| t.regs.fs_base == ts.thread_id).or_else(|| {
            // No fs_base (lldb has none): glibc's thread descriptor holds the LWP.
            let tid = target.read_u32(RemoteAddr(ts.thread_id.checked_add(GLIBC_PTHREAD_TID_OFFSET)?)).ok()?;
            core_threads.iter().find(|t| t.tid == tid && t.regs.fs_base == 0)
        }),
    }
    .map(|t| t.tid)
    .or_else(|| ts.native_thread_id.and_then(|n| u32::try_from(n).ok()));
    let walk = &snap.walk;
    let frames = walk
        .frames
        .iter()
        .map(|f| {
            let info = f.info.as_ref().ok();
            Frame::Python(PythonFrame {
                source: None,
                function: info.and_then(|i| i.name.clone().ok()),
                qualname: info.and_then(|i| i.qualname.clone()),
                file: info.and_then(|i| i.filename.clone().ok()),
                line: f.line.and_then(|l| u32::try_from(l).ok()),
                locals: None,
                address: Some(f.addr.0),
                entry: f.entry,
            })
        })
        .collect();
    for f in &walk.frames {
        if let Err(e) = &f.info {
            warnings.push(Warning::thread(WarningKind::Walk, ts.thread_id, format!("frame at {}: code object unreadable: {e}", f.addr)));
        }
    }
    let truncated = walk_stop("frame chain", &walk.stop);
    if let Some(t) = &truncated {
        warnings.push(Warning::thread(WarningKind::Walk, ts.thread_id, t.message.clone()));
    }
    Thread {
        thread_id: ts.thread_id,
        native_id: lwp,
        name: None,
        current: lwp.is_some() && lwp == crashed_tid,
        gil: holder == Some(ts.addr),
        interpreter_id: interp.id,
        exceptions: Vec::new(),
        frames,
        truncated,
        event_loop: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pycoroner_report::NativeFrame;

    fn thread(frames: usize, name_len: usize) -> Thread {
        let f = Frame::Python(PythonFrame {
            source: None,
            function: Some("f".repeat(name_len)),
            qualname: None,
            file: Some("x.py".into()),
            line: Some(1),
            locals: None,
            address: None,
            entry: false,
        });
        Thread {
            thread_id: 1,
            native_id: None,
            name: None,
            current: false,
            gil: false,
            interpreter_id: Some(0),
            exceptions: Vec::new(),
            frames: vec![f; frames],
            truncated: None,
            event_loop: None,
        }
    }

    /// Exception messages are values of the report's budget like locals: a thread can
    /// hold 64 exceptions with chains of 64, so each one counts, and a spent budget
    /// says so in the message instead of rendering.
    #[test]
    fn exception_messages_spend_the_values_budget() {
        let mem = pycoroner_process::SliceMemory::new();
        let offsets = pycoroner_layouts::Offsets::default();
        let known = KnownObjects::default();
        let models = Models::for_version(3, 12).expect("models");
        let v = Values { renderer: Renderer::new(&mem, &offsets, models, &known, Limits::default()), refcounts: false, rendered: std::cell::Cell::new(MAX_VALUES - 1) };
        // The last value of the budget is spent on this message (unreadable here).
        assert_eq!(exception_message(&v, RemoteAddr(0x1000), Some("ValueError")), None);
        assert_eq!(v.rendered.get(), MAX_VALUES);
        let spent = exception_message(&v, RemoteAddr(0x1000), Some("ValueError"));
        assert!(spent.is_some_and(|m| m.starts_with("<not rendered: the report's budget")));
        assert_eq!(v.rendered.get(), MAX_VALUES);
    }

    /// Native frames spliced in after the budget is spent are left out; the Python
    /// frames already paid for stay, and a count cut earlier is kept.
    #[test]
    fn a_spent_budget_drops_native_frames_not_python_ones() {
        let mut budget = ReportBudget { spent: REPORT_FRAME_BYTES, exhausted: false };
        let mut warnings = Vec::new();
        let mut t = thread(3, 1);
        let native = Frame::Native(NativeFrame { pc: 1, function: None, module: None, file: None, line: None, inlined: false, unwind: None });
        t.frames.insert(1, native.clone());
        t.frames.push(native);
        budget.charge_native(&mut t, &mut warnings);
        assert_eq!(t.frames.len(), 3);
        assert!(t.frames.iter().all(|f| matches!(f, Frame::Python(_))));
        assert!(t.truncated.as_ref().is_some_and(|w| w.message.starts_with("2 more native frames")), "{:?}", t.truncated);
        assert_eq!(warnings.len(), 1);
    }

    /// Regression (#10): 200 threads of 65 536 frames printed 786 MB. The report-wide
    /// budget cuts the frames past it, says where in each thread, and warns once.
    #[test]
    fn the_report_budget_bounds_many_deep_threads() {
        let mut budget = ReportBudget::default();
        let mut warnings = Vec::new();
        let mut kept = 0usize;
        let mut cut_threads = 0;
        for _ in 0..200 {
            let mut t = thread(65_536, 20);
            budget.charge_frames(&mut t, &mut warnings);
            kept += t.frames.len();
            if t.truncated.is_some() {
                cut_threads += 1;
                assert!(t.truncated.as_ref().is_some_and(|w| w.reason == StopReason::Budget && w.message.contains("size budget")));
            }
        }
        assert!(kept * (64 + 4 + 20) <= REPORT_FRAME_BYTES);
        assert!(kept > 0 && cut_threads > 150, "kept {kept}, cut {cut_threads}");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        // Native frames count too.
        let mut t = thread(0, 0);
        t.frames = vec![Frame::Native(NativeFrame { pc: 1, function: None, module: None, file: None, line: None, inlined: false, unwind: None }); 10];
        budget.charge_frames(&mut t, &mut warnings);
        assert!(t.frames.is_empty() && warnings.len() == 1);
    }
}
