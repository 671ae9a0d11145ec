//! The debugger protocol: one typed request per command, decoded from JSON and
//! answered from the session's [`pycoroner::Analysis`]; the text is rendered by the
//! report crate (`render::gdb`), as CPython's own gdb extension writes it.

use pycoroner::report::escape::text as e;
use pycoroner::report::render::gdb::{self, Plan, Step};
use pycoroner::report::render::{self, faulthandler};
use pycoroner::report::{NativeFrame, PythonFrame, Report};
use pycoroner::splice::plan;
use pycoroner::{NativeMode, Style};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Session;

/// A request of the protocol (`{"request": "py-bt", ...}`).
#[derive(Debug, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// `py-bt` / `py-bt-full` of a thread, from Python frame `from` on.
    PyBt {
        lwp: u32,
        #[serde(default)]
        full: bool,
        #[serde(default)]
        levels: Vec<Option<u64>>,
        #[serde(default)]
        from: usize,
        /// With the debugger's frames: the native frame to start at (a C call the
        /// user selected with `py-up`).
        from_level: Option<usize>,
        /// The debugger's native frames of the thread, to place C frames' lines.
        frames: Option<Vec<GivenFrame>>,
        #[serde(default)]
        style: Style,
    },
    /// Every thread as the CLI prints them.
    PyThreads {
        #[serde(default)]
        native: Native,
        #[serde(default = "yes")]
        fold: bool,
    },
    /// The whole interpreter state, as `--state` prints it (`native`: with native
    /// frames, which also tell the threads waiting for the GIL).
    PyState {
        #[serde(default)]
        native: Native,
    },
    /// The heap census, as `pycoroner heap` prints it: the `top` largest types and the
    /// `largest` largest objects, and with `untracked` the objects the collector does
    /// not track.
    PyHeap {
        #[serde(default = "default_top")]
        top: usize,
        #[serde(default = "default_largest")]
        largest: usize,
        #[serde(default)]
        untracked: bool,
    },
    /// The garbage collector: its state and `gc.garbage`.
    PyGc,
    /// Who refers to the object at `address`, up to the roots (`levels` up).
    PyReferrers {
        address: u64,
        #[serde(default = "default_levels")]
        levels: usize,
    },
    /// Every asyncio task, as `--tasks` prints them (the `ps` table with `table`).
    PyTasks {
        #[serde(default)]
        table: bool,
    },
    /// The whole report, as JSON and text.
    Report {
        #[serde(default)]
        locals: bool,
        #[serde(default)]
        native: Native,
    },
    /// A thread's Python frames.
    Frames { lwp: u32 },
    /// One Python frame's summary (`py-up`, `py-down`).
    Frame {
        lwp: u32,
        #[serde(default)]
        index: usize,
        level: Option<u64>,
        #[serde(default)]
        style: Style,
    },
    /// `py-locals` of one frame.
    PyLocals {
        lwp: u32,
        #[serde(default)]
        index: usize,
        #[serde(default)]
        style: Style,
    },
    /// `py-print NAME` in one frame.
    PyPrint {
        lwp: u32,
        #[serde(default)]
        index: usize,
        name: String,
        #[serde(default)]
        style: Style,
    },
    /// `py-list [START[,END]]` around one frame's line.
    PyList {
        lwp: u32,
        #[serde(default)]
        index: usize,
        #[serde(default)]
        args: String,
    },
    /// Where a thread's Python frames sit among the debugger's native frames.
    Splice {
        lwp: u32,
        #[serde(default)]
        native: Native,
        frames: Vec<GivenFrame>,
    },
    /// Where `py-up`/`py-down` stop among a thread's native frames: each Python frame,
    /// and each C frame CPython's script stops at (a built-in being called, waiting
    /// for the GIL, collecting garbage), with its line.
    Stops {
        lwp: u32,
        frames: Vec<GivenFrame>,
        #[serde(default)]
        style: Style,
    },
    /// Which frames' arguments the script should read and pass as `object`.
    ObjectFrames {},
    /// The object at an address.
    Repr {
        address: u64,
        #[serde(default)]
        style: Style,
    },
    /// The interpreter's version.
    Version {},
}

fn yes() -> bool {
    true
}

/// `"off"`, `"folded"` or `"all"`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Native {
    /// Python frames only.
    #[default]
    Off,
    /// `--native`.
    Folded,
    /// `--native-all`.
    All,
}

impl From<Native> for NativeMode {
    fn from(n: Native) -> NativeMode {
        match n {
            Native::Off => NativeMode::Off,
            Native::Folded => NativeMode::Folded,
            Native::All => NativeMode::All,
        }
    }
}

/// The answer to a request (`ok` is added by the ABI layer).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// Text to print.
    Text { text: String },
    /// A report, and its text.
    Report { report: Box<Report>, text: String },
    /// Python frames.
    Frames { frames: Vec<FrameInfo> },
    /// How native and Python frames interleave.
    Splice { steps: Vec<SpliceStep>, unclaimed: Vec<usize>, python: Vec<FrameInfo>, warning: Option<String> },
    /// Where `py-up`/`py-down` stop.
    Stops { stops: Vec<NavStop>, count: usize },
    /// Frames whose argument the script reads: by name or name prefix, the variables
    /// to try.
    ObjectFrames { rules: Vec<ObjectRule> },
    /// An object.
    Repr {
        #[serde(rename = "type")]
        type_name: Option<String>,
        repr: String,
        text: String,
    },
    /// The version.
    Version { text: String, module: String },
}

/// A Python frame as the scripts see it.
#[derive(Debug, Serialize)]
pub struct FrameInfo {
    function: Option<String>,
    qualname: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    address: Option<u64>,
    entry: bool,
}

impl From<&PythonFrame> for FrameInfo {
    fn from(f: &PythonFrame) -> FrameInfo {
        FrameInfo { function: f.function.clone(), qualname: f.qualname.clone(), file: f.file.clone(), line: f.line, address: f.address, entry: f.entry }
    }
}

/// A place `py-up`/`py-down` stop at.
#[derive(Debug, Serialize)]
pub struct NavStop {
    /// The native frame's level.
    level: usize,
    /// The Python frame shown there (index among the thread's Python frames).
    python: Option<usize>,
    /// Else the C frame's line (escaped), as CPython's script writes it.
    text: Option<String>,
}

/// Frames whose argument the script reads and passes as `object`.
#[derive(Debug, Serialize)]
pub struct ObjectRule {
    /// Exact function names.
    names: &'static [&'static str],
    /// Function name prefixes.
    prefixes: &'static [&'static str],
    /// The argument names to try, in order.
    variables: &'static [&'static str],
}

/// One step of a splice plan.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SpliceStep {
    /// Shown as it is.
    Native,
    /// Folded call machinery.
    Fold,
    /// An eval frame running these Python frames.
    Eval { python: Vec<usize> },
}

/// Decode and answer one request.
pub fn handle(s: &mut Session, req: &Value) -> Result<Response, String> {
    let req: Request = serde::Deserialize::deserialize(req).map_err(|e| format!("bad request: {e}"))?;
    let a = &mut s.analysis;
    let err = |e: pycoroner::AnalyzeError| e.to_string();
    Ok(match req {
        Request::PyBt { lwp, full, levels, from, from_level, frames, style } => {
            // With the debugger's frames: the lines CPython's py-bt prints for C frames
            // (a built-in being called, waiting for the GIL, collecting garbage).
                        let layout = match frames {
                Some(frames) => Some(layout(a, lwp, frames, style)?),
                None => None,
            };
            a.report_with(full, NativeMode::Off).map_err(err)?;
            let a = &s.analysis;
            let lines = |f: &str| a.source_lines(f).ok();
            let heads = |f: &PythonFrame| match style {
                Style::Libpython => a.frame_line(f.address?).ok().flatten(),
                Style::Python => None,
            };
            let r = a.made(full, NativeMode::Off).ok_or("no report")?;
            let start = gdb::BtStart { python: from, level: from_level };
            Response::Text { text: gdb::py_bt(r, lwp, full, &levels, start, layout.as_ref(), &lines, &heads) }
        }
        Request::PyThreads { native, fold } => {
            let r = a.report_with(false, native.into()).map_err(err)?;
            Response::Text { text: faulthandler::render_with(r, faulthandler::TextOptions { fold, color: false, ..Default::default() }) }
        }
        Request::PyState { native } => {
            let r = a.state_report(native.into()).map_err(err)?;
            let mut text = String::new();
            match &r.runtime {
                Some(rt) => render::state::section(&mut text, rt, true),
                None => text.push_str("No interpreter state was read\n"),
            }
            Response::Text { text: text.trim_start().to_string() }
        }
        Request::PyHeap { top, largest, untracked } => {
            let r = a.heap_report(untracked).map_err(err)?;
            let mut heaps = r.heap.clone();
            for h in &mut heaps {
                h.largest.truncate(largest);
                h.garbage = None;
            }
            let mut text = String::new();
            render::heap::section(&mut text, &heaps, top, r.runtime.as_ref());
            heap_warnings(&mut text, r);
            Response::Text { text }
        }
        Request::PyReferrers { address, levels } => {
            let r = a.referrers_report(address, levels).map_err(err)?;
            let mut text = String::new();
            match &r.referrers {
                Some(refs) => render::heap::referrers(&mut text, refs),
                None => text.push_str("No referrer search was possible\n"),
            }
            heap_warnings(&mut text, &r);
            Response::Text { text }
        }
        Request::PyGc => {
            let r = a.heap_report(false).map_err(err)?;
            let mut text = String::new();
            render::heap::gc(&mut text, r);
            heap_warnings(&mut text, r);
            Response::Text { text }
        }
        Request::PyTasks { table } => Response::Text { text: render::tasks::all(a.tasks_report().map_err(err)?, table) },
        Request::Report { locals, native } => {
            let r = a.report_with(locals, native.into()).map_err(err)?;
            Response::Report { text: render::faulthandler::render(r), report: Box::new(r.clone()) }
        }
        Request::Frames { lwp } => {
            let r = a.report_with(false, NativeMode::Off).map_err(err)?;
            Response::Frames { frames: gdb::python_frames(r, lwp).into_iter().map(FrameInfo::from).collect() }
        }
        Request::Frame { lwp, index, level, style } => {
            a.report_with(true, NativeMode::Off).map_err(err)?;
            let a = &s.analysis;
            let lines = |f: &str| a.source_lines(f).ok();
            let r = a.made(true, NativeMode::Off).ok_or("no report")?;
            let f = gdb::nth(r, lwp, index)?;
            let head = match style {
                Style::Libpython => f.address.and_then(|addr| a.frame_line(addr).ok().flatten()),
                Style::Python => None,
            };
            let head = head.unwrap_or_else(|| gdb::summary_head(f));
            Response::Text { text: format!("#{} {}", level.unwrap_or(index as u64), gdb::with_source(&head, f, &lines)) }
        }
        Request::PyLocals { lwp, index, style: Style::Python } => {
            let r = a.report_with(true, NativeMode::Off).map_err(err)?;
            Response::Text { text: gdb::py_locals(gdb::nth(r, lwp, index)?) }
        }
        Request::PyLocals { lwp, index, style: Style::Libpython } => {
            // As CPython's script: from 3.11, the selected frame and the older ones its
            // eval call runs, each headed `Locals for NAME`.
            let many = a.eval_calls_run_many_frames();
            a.report_with(false, NativeMode::Off).map_err(err)?;
            let a = &s.analysis;
            let r = a.made(false, NativeMode::Off).ok_or("no report")?;
            gdb::nth(r, lwp, index)?;
            let mut text = String::new();
            for f in gdb::python_frames(r, lwp).into_iter().skip(index) {
                if many {
                    text += &format!("Locals for {}\n", e(f.function.as_deref().unwrap_or("???")));
                }
                match f.address.map(|addr| a.frame_locals(addr)) {
                    Some(Ok(Some(locals))) => text += &gdb::locals_lines(locals),
                    _ => text += "pycoroner: this frame's locals are unreadable\n",
                }
                if !many || f.entry {
                    break;
                }
            }
            Response::Text { text }
        }
        Request::PyPrint { lwp, index, name, style } => {
            // As CPython's script: the frame's locals, then its globals, then builtins.
            let (local, frame) = {
                let f = gdb::nth(a.report_with(true, NativeMode::Off).map_err(err)?, lwp, index)?;
                (f.locals.iter().flatten().find(|v| v.name == name).map(|v| (v.address, v.repr.clone())), f.address)
            };
            let found = match (local, frame) {
                // The report's local is already rendered as repr() (a 3.14 tagged int
                // has no object to render).
                (Some((_, repr)), _) if style == Style::Python => Some(("local", repr)),
                (Some((addr, _)), _) => Some(("local", a.object_in(addr, style).map_err(err)?.1)),
                (None, Some(frame)) => match a.global(frame, &name).map_err(err)? {
                    Some((scope, addr)) => Some((scope, a.object_in(addr, style).map_err(err)?.1)),
                    None => None,
                },
                (None, None) => None,
            };
            let found = found.map(|(scope, text)| (scope, cut(text, style)));
            Response::Text { text: gdb::py_print(&name, found.as_ref().map(|(scope, text)| (*scope, text.as_str()))) }
        }
        Request::PyList { lwp, index, args } => {
            a.report_with(false, NativeMode::Off).map_err(err)?;
            let a = &s.analysis;
            let lines = |f: &str| a.source_lines(f).ok();
            let r = a.made(false, NativeMode::Off).ok_or("no report")?;
            Response::Text { text: gdb::py_list(gdb::nth(r, lwp, index)?, &args, &lines)? }
        }
        Request::Splice { lwp, native, frames } => {
            let mode = match native.into() {
                NativeMode::Off => NativeMode::Folded,
                m => m,
            };
            let natives: Vec<NativeFrame> = natives(frames).into_iter().map(|(f, _)| f).collect();
            let runtime = a.runtime_module().to_string();
            let r = a.report_with(false, NativeMode::Off).map_err(err)?;
            let p = thread_plan(r, lwp, &natives, &runtime, mode);
            let steps = p
                .steps
                .iter()
                .map(|st| match st {
                    Step::Native => SpliceStep::Native,
                    Step::Fold => SpliceStep::Fold,
                    Step::Eval(run) => SpliceStep::Eval { python: run.clone() },
                })
                .collect();
            let python = gdb::python_frames(r, lwp).into_iter().map(FrameInfo::from).collect();
            Response::Splice { steps, unclaimed: p.unclaimed, python, warning: p.warning }
        }
        Request::Stops { lwp, frames, style } => {
            let (plan, infos) = layout(a, lwp, frames, style)?;
            let count = gdb::python_frames(a.report_with(false, NativeMode::Off).map_err(err)?, lwp).len();
            Response::Stops { stops: stops(&plan, &infos), count }
        }
        Request::ObjectFrames {} => Response::ObjectFrames {
            // Frames whose argument the script should read (its address) and pass as
            // "object" with py-bt's frames.
            rules: vec![
                ObjectRule { names: CFUNCTION_CALLERS, prefixes: &[CFUNCTION_VECTORCALL], variables: &["func", "func_obj"] },
                ObjectRule { names: &[WRAPPER_CALL], prefixes: &[], variables: &["wp"] },
            ],
        },
        Request::Repr { address, style } => {
            let (type_name, repr) = a.object_in(address, style).map_err(err)?;
            Response::Repr { type_name, text: e(&cut(repr.clone(), style)).into_owned(), repr }
        }
        Request::Version {} => Response::Version { text: a.version(), module: a.runtime_module().to_string() },
    })
}

/// An object's text as the debugger shows it: `repr()` cut as CPython's script cuts a
/// value (the libpython style's text is cut already, as a whole).
fn cut(text: String, style: Style) -> String {
    match style {
        Style::Python => gdb::truncated(&text),
        Style::Libpython => text,
    }
}

/// The debugger's frames of a thread laid out: the splice plan, and the line CPython's
/// script writes for each C frame it comments on (objects written in `style`).
fn layout(a: &mut pycoroner::Analysis<crate::CallbackTarget>, lwp: u32, frames: Vec<GivenFrame>, style: Style) -> Result<(Plan, Vec<Option<String>>), String> {
    let natives = natives(frames);
    let object = |addr: u64| a.object_in(addr, style).ok().map(|(_, text)| cut(text, style));
    let infos: Vec<Option<String>> = natives.iter().map(|(n, object_addr)| other_frame_info(n.function.as_deref()?, *object_addr, &object)).collect();
    let runtime = a.runtime_module().to_string();
    let r = a.report_with(false, NativeMode::Off).map_err(|e| e.to_string())?;
    let frames: Vec<NativeFrame> = natives.into_iter().map(|(f, _)| f).collect();
    Ok((thread_plan(r, lwp, &frames, &runtime, NativeMode::All), infos))
}

/// Where `py-up`/`py-down` stop, newest first: each Python frame at the eval frame
/// that runs it, and each C frame with a line (one call's repeated line once).
fn stops(plan: &Plan, infos: &[Option<String>]) -> Vec<NavStop> {
    let mut out = Vec::new();
    let mut last: Option<&String> = None;
    for (level, step) in plan.steps.iter().enumerate() {
        match step {
            Step::Eval(run) => {
                out.extend(run.iter().map(|&i| NavStop { level, python: Some(i), text: None }));
                last = None;
            }
            _ => {
                if let Some(info) = infos.get(level).and_then(Option::as_ref).filter(|i| last != Some(*i)) {
                    out.push(NavStop { level, python: None, text: Some(e(info).into_owned()) });
                    last = Some(info);
                }
            }
        }
    }
    out
}

/// How a thread's Python frames sit among the debugger's native frames.
fn thread_plan(r: &Report, lwp: u32, natives: &[NativeFrame], runtime: &str, mode: NativeMode) -> Plan {
    let entries: Vec<bool> = gdb::python_frames(r, lwp).iter().map(|f| f.entry).collect();
    plan(natives, &entries, runtime, mode)
}

/// A debugger's native frame, with the object the script read for it (`func` of a
/// C-function call), if any.
type DebuggerFrame = (NativeFrame, Option<u64>);

/// One native frame as the debugger gives it.
#[derive(Debug, Deserialize)]
pub struct GivenFrame {
    #[serde(default)]
    pc: u64,
    function: Option<String>,
    module: Option<String>,
    #[serde(default)]
    inlined: bool,
    /// The object the script read for it (`func` of a C-function call).
    object: Option<u64>,
}

/// The debugger's native frames of a thread, newest first.
fn natives(frames: Vec<GivenFrame>) -> Vec<DebuggerFrame> {
    frames
        .into_iter()
        .map(|f| {
            let frame = NativeFrame {
                pc: f.pc,
                function: f.function,
                module: f.module.map(|m| m.rsplit('/').next().unwrap_or(&m).to_string()),
                file: None,
                line: None,
                inlined: f.inlined,
                unwind: None,
            };
            (frame, f.object.filter(|&a| a != 0))
        })
        .collect()
}

/// C functions through which CPython calls a built-in function (3.6–3.15), and the
/// prefix of the 3.8+ vectorcall ones; their `func` (or `func_obj`) argument is the
/// `builtin_function_or_method` being called.
pub const CFUNCTION_CALLERS: &[&str] =
    &["cfunction_call", "cfunction_call_varargs", "_PyCFunction_FastCallDict", "_PyCFunction_FastCallKeywords", "PyCFunction_Call"];
const CFUNCTION_VECTORCALL: &str = "cfunction_vectorcall_";
/// The C function through which CPython calls a slot wrapper bound to its object
/// (`method-wrapper`); its `wp` argument is that object.
const WRAPPER_CALL: &str = "wrapper_call";

/// What CPython's py-bt says of a C frame that is not an eval loop (libpython.py
/// `is_other_python_frame`), if anything.
fn other_frame_info(function: &str, object: Option<u64>, repr: &dyn Fn(u64) -> Option<String>) -> Option<String> {
    match function {
        "take_gil" => Some("Waiting for the GIL".into()),
        "collect" | "gc_collect_main" => Some("Garbage-collecting".into()),
        f if f.starts_with(CFUNCTION_VECTORCALL) || CFUNCTION_CALLERS.contains(&f) || f == WRAPPER_CALL => object.and_then(repr),
        _ => None,
    }
}

fn default_top() -> usize {
    25
}

fn default_largest() -> usize {
    10
}

fn default_levels() -> usize {
    8
}

/// The warnings of a heap census (why a list broke, objects not counted).
fn heap_warnings(text: &mut String, r: &Report) {
    for w in r.warnings.iter().filter(|w| w.kind == pycoroner::report::WarningKind::Heap) {
        text.push_str(&format!("warning: {}\n", e(&w.message)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C frames CPython's py-bt comments on, and the object a call names.
    #[test]
    fn c_frames_get_cpython_s_comment() {
        let repr = &|a: u64| Some(format!("<built-in method id of module object at {a:#x}>"));
        assert_eq!(other_frame_info("take_gil", None, repr).as_deref(), Some("Waiting for the GIL"));
        assert_eq!(other_frame_info("gc_collect_main", None, repr).as_deref(), Some("Garbage-collecting"));
        assert_eq!(other_frame_info("cfunction_vectorcall_O", Some(0x50), repr).as_deref(), Some("<built-in method id of module object at 0x50>"));
        assert_eq!(other_frame_info("wrapper_call", Some(0x60), repr).as_deref(), Some("<built-in method id of module object at 0x60>"));
        assert_eq!(other_frame_info("cfunction_call", None, repr), None);
        assert_eq!(other_frame_info("main", Some(0x50), repr), None);
    }

    /// Requests are typed: an unknown request or field is refused with a reason.
    #[test]
    fn requests_decode_or_say_why_not() {
        let ok: Request = serde_json::from_value(serde_json::json!({"request": "py-bt", "lwp": 7, "full": true})).expect("py-bt");
        assert!(matches!(ok, Request::PyBt { lwp: 7, full: true, from: 0, frames: None, .. }));
        let ok: Request = serde_json::from_value(serde_json::json!({"request": "py-threads", "native": "all"})).expect("py-threads");
        assert!(matches!(ok, Request::PyThreads { native: Native::All, fold: true }));
        for bad in [serde_json::json!({"request": "py-nothing"}), serde_json::json!({"request": "py-bt"}), serde_json::json!({"request": "version", "x": 1})] {
            assert!(serde_json::from_value::<Request>(bad).is_err());
        }
    }
}
