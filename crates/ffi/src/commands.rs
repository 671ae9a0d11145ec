//! The debugger commands, rendered the way CPython's own gdb extension
//! (`python3.X-gdb.py`) writes them, so habits carry over.

use pycoroner::report::escape::{self, text as e};
use pycoroner::report::{render, Frame, NativeFrame, PythonFrame, Report, Thread};
use pycoroner::splice::{plan, Plan, Step};
use pycoroner::NativeMode;
use serde_json::{json, Value};

use crate::Session;

/// CPython's gdb extension truncates each value's repr at this many characters.
const MAX_OUTPUT_LEN: usize = 1024;

/// Answer one request.
pub fn handle(s: &mut Session, req: &Value) -> Result<Value, String> {
    let kind = req.get("request").and_then(Value::as_str).ok_or("the request names no \"request\"")?;
    match kind {
        "py-bt" => {
            let full = req.get("full").and_then(Value::as_bool).unwrap_or(false);
            let lwp = lwp(req)?;
            let levels = levels(req);
            let from = req.get("from").and_then(Value::as_u64).unwrap_or(0) as usize;
            // With the debugger's frames: the lines CPython's py-bt prints for C frames
            // (a built-in being called, waiting for the GIL, collecting garbage).
            let natives = natives(req)?;
            let infos: Vec<Option<String>> = natives
                .iter()
                .flatten()
                .map(|(n, object)| {
                    other_frame_info(n.function.as_deref()?, *object, |a| {
                        pycoroner::render_object_prepared(&s.target, &s.prepared, &s.options, a).map(|(_, r)| r).ok()
                    })
                })
                .collect();
            let runtime = s.prepared.runtime_module().to_string();
            let r = s.report(full, NativeMode::Off)?;
            let layout = natives.map(|n| {
                let frames: Vec<NativeFrame> = n.into_iter().map(|(f, _)| f).collect();
                (thread_plan(r, lwp, &frames, &runtime, NativeMode::All), infos)
            });
            Ok(json!({ "text": py_bt(r, lwp, full, &levels, from, layout.as_ref()) }))
        }
        "py-threads" => {
            let native = native_mode(req)?;
            let fold = req.get("fold").and_then(Value::as_bool).unwrap_or(true);
            let r = s.report(false, native)?;
            Ok(json!({ "text": render::faulthandler::render_with(r, render::faulthandler::TextOptions { fold }) }))
        }
        "report" => {
            let locals = req.get("locals").and_then(Value::as_bool).unwrap_or(false);
            let native = native_mode(req)?;
            let r = s.report(locals, native)?;
            Ok(json!({ "report": r, "text": render::faulthandler::render(r) }))
        }
        "frames" => {
            let lwp = lwp(req)?;
            let r = s.report(false, NativeMode::Off)?;
            let frames: Vec<Value> = python_frames(r, lwp).iter().map(|f| frame_json(f)).collect();
            Ok(json!({ "frames": frames }))
        }
        "frame" => {
            let (lwp, index) = (lwp(req)?, index(req)?);
            let level = req.get("level").and_then(Value::as_u64).unwrap_or(index as u64);
            let r = s.report(true, NativeMode::Off)?;
            let f = nth(r, lwp, index)?;
            Ok(json!({ "text": format!("#{level} {}", summary_with_source(f)) }))
        }
        "py-locals" => {
            let (lwp, index) = (lwp(req)?, index(req)?);
            let r = s.report(true, NativeMode::Off)?;
            let f = nth(r, lwp, index)?;
            let text: String = f
                .locals
                .iter()
                .flatten()
                .map(|v| format!("{} = {}\n", e(&v.name), e(&truncated(&v.repr))))
                .collect();
            Ok(json!({ "text": text }))
        }
        "py-print" => {
            let (lwp, index) = (lwp(req)?, index(req)?);
            let name = req.get("name").and_then(Value::as_str).ok_or("py-print needs a name")?;
            // As CPython's script: the frame's locals, then its globals, then builtins.
            let (local, frame) = {
                let f = nth(s.report(true, NativeMode::Off)?, lwp, index)?;
                (f.locals.iter().flatten().find(|v| v.name == name).map(|v| v.repr.clone()), f.address)
            };
            let outer = match (&local, frame) {
                (None, Some(a)) => pycoroner::lookup_global(&s.target, &s.prepared, &s.options, a, name).map_err(|e| e.to_string())?,
                _ => None,
            };
            let text = match (local, outer) {
                (Some(repr), _) => format!("local {} = {}\n", e(&py_quote(name)), e(&truncated(&repr))),
                (None, Some((scope, repr))) => format!("{scope} {} = {}\n", e(&py_quote(name)), e(&truncated(&repr))),
                (None, None) => format!("{} not found\n", e(&py_quote(name))),
            };
            Ok(json!({ "text": text }))
        }
        "py-list" => {
            let (lwp, index) = (lwp(req)?, index(req)?);
            let args = req.get("args").and_then(Value::as_str).unwrap_or("");
            let r = s.report(false, NativeMode::Off)?;
            let f = nth(r, lwp, index)?;
            Ok(json!({ "text": py_list(f, args)? }))
        }
        "splice" => {
            let lwp = lwp(req)?;
            let mode = match native_mode(req)? {
                NativeMode::Off => NativeMode::Folded,
                m => m,
            };
            let natives: Vec<NativeFrame> =
                natives(req)?.ok_or("splice needs \"frames\"")?.into_iter().map(|(f, _)| f).collect();
            let runtime = s.prepared.runtime_module().to_string();
            let r = s.report(false, NativeMode::Off)?;
            let p = thread_plan(r, lwp, &natives, &runtime, mode);
            let steps: Vec<Value> = p
                .steps
                .iter()
                .map(|st| match st {
                    Step::Native => json!({"kind": "native"}),
                    Step::Fold => json!({"kind": "fold"}),
                    Step::Eval(run) => json!({"kind": "eval", "python": run}),
                })
                .collect();
            let frames: Vec<Value> = python_frames(r, lwp).iter().map(|f| frame_json(f)).collect();
            Ok(json!({ "steps": steps, "unclaimed": p.unclaimed, "python": frames, "warning": p.warning }))
        }
        "object-frames" => Ok(json!({
            // Frames whose argument the script should read (its address) and pass as
            // "object" with py-bt's frames.
            "prefixes": [CFUNCTION_VECTORCALL],
            "names": CFUNCTION_CALLERS,
            "variables": ["func", "func_obj"],
        })),
        "repr" => {
            let addr = req.get("address").and_then(Value::as_u64).ok_or("repr needs an \"address\"")?;
            let (type_name, repr) = pycoroner::render_object_prepared(&s.target, &s.prepared, &s.options, addr)
                .map_err(|e| e.to_string())?;
            Ok(json!({ "type": type_name, "repr": repr, "text": e(&truncated(&repr)) }))
        }
        "version" => Ok(json!({ "text": s.prepared.version(), "module": s.prepared.runtime_module() })),
        other => Err(format!("unknown request {other:?}")),
    }
}

fn lwp(req: &Value) -> Result<u32, String> {
    req.get("lwp").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok()).ok_or_else(|| "the request needs a thread (\"lwp\")".into())
}

fn index(req: &Value) -> Result<usize, String> {
    Ok(req.get("index").and_then(Value::as_u64).unwrap_or(0) as usize)
}

fn levels(req: &Value) -> Vec<Option<u64>> {
    req.get("levels").and_then(Value::as_array).map(|a| a.iter().map(Value::as_u64).collect()).unwrap_or_default()
}

fn native_mode(req: &Value) -> Result<NativeMode, String> {
    match req.get("native").and_then(Value::as_str).unwrap_or("off") {
        "off" => Ok(NativeMode::Off),
        "folded" => Ok(NativeMode::Folded),
        "all" => Ok(NativeMode::All),
        m => Err(format!("native mode {m:?} is not off, folded or all")),
    }
}

/// A thread's Python frames, newest first. A thread that entered another interpreter
/// has one thread state per interpreter; the one it is running (current or holding the
/// GIL) is the newest, the ones it entered from are below it, as on its C stack.
fn python_frames(r: &Report, lwp: u32) -> Vec<&PythonFrame> {
    let mut ts: Vec<&Thread> = r.threads.iter().filter(|t| t.native_id == Some(lwp)).collect();
    ts.sort_by_key(|t| (!t.current, !t.gil));
    ts.iter()
        .flat_map(|t| t.frames.iter().filter_map(|f| if let Frame::Python(p) = f { Some(p) } else { None }))
        .collect()
}

fn nth(r: &Report, lwp: u32, index: usize) -> Result<&PythonFrame, String> {
    python_frames(r, lwp).get(index).copied().ok_or_else(|| "Unable to locate python frame".to_string())
}

fn frame_json(f: &PythonFrame) -> Value {
    json!({
        "function": f.function, "qualname": f.qualname, "file": f.file, "line": f.line,
        "address": f.address, "entry": f.entry,
    })
}

/// Python's `repr()` of a str, as CPython's script prints names (`'x'`).
fn py_quote(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

fn truncated(s: &str) -> String {
    match s.char_indices().nth(MAX_OUTPUT_LEN) {
        Some((i, _)) => format!("{}...(truncated)", &s[..i]),
        None => s.to_string(),
    }
}

/// Largest source file read for py-list and py-bt.
const MAX_SOURCE: u64 = 16 << 20;

/// A source file named by the target, as CPython's script reads it: from the disk, but
/// only a regular file of bounded size (never a FIFO, a device, or a link to one).
fn read_source(file: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let opened = pycoroner::target::files::open_regular(std::path::Path::new(file), MAX_SOURCE).map_err(|e| e.to_string())?;
    let mut v = Vec::new();
    opened.file.take(MAX_SOURCE).read_to_end(&mut v).map_err(|e| e.to_string())?;
    Ok(v)
}

/// Line `n` (1-based) of a source file, as CPython's script reads it: from the disk.
fn source_line(file: Option<&str>, n: Option<u32>) -> Option<String> {
    let text = read_source(file?).ok()?;
    let text = String::from_utf8_lossy(&text);
    text.lines().nth(n?.checked_sub(1)? as usize).map(str::to_string)
}

fn name(f: &PythonFrame) -> &str {
    f.function.as_deref().unwrap_or("???")
}

/// `Frame 0x..., for file F, line N, in NAME (a=1, b='x')` and the source line.
fn summary_with_source(f: &PythonFrame) -> String {
    let locals: Vec<String> = f.locals.iter().flatten().map(|v| format!("{}={}", e(&v.name), e(&v.repr))).collect();
    let head = format!(
        "Frame 0x{:x}, for file {}, line {}, in {} ({})",
        f.address.unwrap_or(0),
        e(f.file.as_deref().unwrap_or("???")),
        f.line.map_or("???".to_string(), |l| l.to_string()),
        e(name(f)),
        locals.join(", ")
    );
    let mut out = truncated(&head) + "\n";
    if let Some(l) = source_line(f.file.as_deref(), f.line) {
        out += &format!("    {}\n", escape::source_line(l.trim()));
    }
    out
}

/// A debugger's native frame, with the object the script read for it (`func` of a
/// C-function call), if any.
type DebuggerFrame = (NativeFrame, Option<u64>);

/// The debugger's native frames of a thread, newest first.
fn natives(req: &Value) -> Result<Option<Vec<DebuggerFrame>>, String> {
    let Some(frames) = req.get("frames") else { return Ok(None) };
    let frames = frames.as_array().ok_or("\"frames\" is not a list")?;
    Ok(Some(
        frames
            .iter()
            .map(|f| {
                let frame = NativeFrame {
                    pc: f.get("pc").and_then(Value::as_u64).unwrap_or(0),
                    function: f.get("function").and_then(Value::as_str).map(str::to_string),
                    module: f.get("module").and_then(Value::as_str).map(|m| m.rsplit('/').next().unwrap_or(m).to_string()),
                    file: None,
                    line: None,
                    inlined: f.get("inlined").and_then(Value::as_bool).unwrap_or(false),
                    unwind: None,
                };
                (frame, f.get("object").and_then(Value::as_u64).filter(|&a| a != 0))
            })
            .collect(),
    ))
}

/// C functions through which CPython calls a built-in function (3.6–3.15), and the
/// prefix of the 3.8+ vectorcall ones; their `func` (or `func_obj`) argument is the
/// `builtin_function_or_method` being called.
pub const CFUNCTION_CALLERS: &[&str] =
    &["cfunction_call", "cfunction_call_varargs", "_PyCFunction_FastCallDict", "_PyCFunction_FastCallKeywords", "PyCFunction_Call"];
const CFUNCTION_VECTORCALL: &str = "cfunction_vectorcall_";

/// How a thread's Python frames sit among the debugger's native frames.
fn thread_plan(r: &Report, lwp: u32, natives: &[NativeFrame], runtime: &str, mode: NativeMode) -> Plan {
    let entries: Vec<bool> = python_frames(r, lwp).iter().map(|f| f.entry).collect();
    plan(natives, &entries, runtime, mode)
}

/// What CPython's py-bt says of a C frame that is not an eval loop (libpython.py
/// `is_other_python_frame`), if anything.
fn other_frame_info(function: &str, object: Option<u64>, repr: impl Fn(u64) -> Option<String>) -> Option<String> {
    match function {
        "take_gil" => Some("Waiting for the GIL".into()),
        "collect" | "gc_collect_main" => Some("Garbage-collecting".into()),
        f if f.starts_with(CFUNCTION_VECTORCALL) || CFUNCTION_CALLERS.contains(&f) => object.and_then(repr).map(|r| truncated(&r)),
        _ => None,
    }
}

fn py_frame_text(f: &PythonFrame, full: bool, level: u64) -> String {
    if full {
        return format!("#{level} {}", summary_with_source(f));
    }
    let mut out = format!(
        "  File \"{}\", line {}, in {}\n",
        e(f.file.as_deref().unwrap_or("???")),
        f.line.map_or("???".to_string(), |l| l.to_string()),
        e(name(f))
    );
    if let Some(l) = source_line(f.file.as_deref(), f.line) {
        out += &format!("    {}\n", escape::source_line(l.trim()));
    }
    out
}

/// CPython's `py-bt` (`full`: `py-bt-full`) from Python frame `from` on, frames
/// numbered by `levels`. With the debugger's frames laid out (`layout`: the splice
/// plan and each C frame's info line), the plan numbers them, and C frames CPython
/// comments on get their line where they sit.
fn py_bt(
    r: &Report,
    lwp: u32,
    full: bool,
    levels: &[Option<u64>],
    from: usize,
    layout: Option<&(Plan, Vec<Option<String>>)>,
) -> String {
    let frames = python_frames(r, lwp);
    if frames.get(from).is_none() {
        return "Unable to locate python frame\n".into();
    }
    let level = |i: usize| levels.get(i).copied().flatten().unwrap_or(i as u64);
    let mut out = String::new();
    if !full {
        out += "Traceback (most recent call first):\n";
    }
    let Some((plan, infos)) = layout else {
        for (i, f) in frames.iter().enumerate().skip(from) {
            out += &py_frame_text(f, full, level(i));
        }
        return out;
    };
    // From the newest Python frame: every C frame (a built-in it is in shows); from an
    // older one: the native frame that ran it, nothing newer.
    let start = if from == 0 {
        0
    } else {
        plan.steps.iter().position(|st| matches!(st, Step::Eval(run) if run.contains(&from))).unwrap_or(0)
    };
    // One call can pass through two commented frames (3.6's _PyCFunction_FastCallDict
    // and _PyCFunction_FastCallKeywords): its line is shown once.
    let mut last_info: Option<String> = None;
    for (n, step) in plan.steps.iter().enumerate().skip(start) {
        match step {
            Step::Eval(run) => {
                // Numbered, as CPython's py-bt-full, by the eval frame's level.
                for &i in run.iter().filter(|&&i| i >= from) {
                    if let Some(f) = frames.get(i) {
                        out += &py_frame_text(f, full, n as u64);
                        last_info = None;
                    }
                }
            }
            _ => {
                if let Some(info) = infos.get(n).cloned().flatten().filter(|i| last_info.as_ref() != Some(i)) {
                    out += &if full { format!("#{n} {}\n", e(&info)) } else { format!("  {}\n", e(&info)) };
                    last_info = Some(info);
                }
            }
        }
    }
    for &i in plan.unclaimed.iter().filter(|&&i| i >= from) {
        if let Some(f) = frames.get(i) {
            out += &py_frame_text(f, full, level(i));
        }
    }
    out
}

/// `py-list`, `py-list START`, `py-list START,END`: source around the frame's line,
/// the current line marked with `>`.
fn py_list(f: &PythonFrame, args: &str) -> Result<String, String> {
    let file = f.file.as_deref().ok_or("the frame's file name is unreadable")?;
    let lineno = f.line.ok_or("the frame's line is unknown")? as usize;
    let nums: Vec<&str> = args.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
    let parse = |a: &str| a.parse::<usize>().map_err(|_| format!("{a:?} is not a line number"));
    let (start, end) = match nums.as_slice() {
        [] => (lineno.saturating_sub(5).max(1), lineno + 5),
        [a] => (parse(a)?, parse(a)? + 10),
        [a, b] => (parse(a)?, parse(b)?),
        _ => return Err("usage: py-list [START[,END]]".into()),
    };
    let text = read_source(file).map_err(|err| format!("Unable to open {}: {err}", e(file)))?;
    let text = String::from_utf8_lossy(&text);
    let mut out = String::new();
    for (i, line) in text.lines().enumerate().skip(start.max(1) - 1).take(end.saturating_sub(start.max(1)) + 1) {
        let n = i + 1;
        let label = if n == lineno { format!(">{n}") } else { n.to_string() };
        out += &format!("{label:>4}    {}\n", escape::source_line(line));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_truncates_like_cpython() {
        assert_eq!(py_quote("x"), "'x'");
        assert_eq!(py_quote("it's"), "\"it's\"");
        let long = "a".repeat(MAX_OUTPUT_LEN + 5);
        assert_eq!(truncated(&long), format!("{}...(truncated)", "a".repeat(MAX_OUTPUT_LEN)));
    }

    fn native(function: &str) -> NativeFrame {
        NativeFrame {
            pc: 0,
            function: Some(function.into()),
            module: Some("libpython3.10.so.1.0".into()),
            file: None,
            line: None,
            inlined: false,
            unwind: None,
        }
    }

    /// C frames CPython comments on get their line where they sit, once per call; from
    /// an older Python frame nothing newer shows.
    #[test]
    fn py_bt_places_c_frame_lines_between_python_frames() {
        let report: Report = serde_json::from_value(json!({
            "schema": 1,
            "target": {"kind": "debugger"},
            "python": {"version": "3.10.13", "module": "libpython3.10.so.1.0", "layout_source": "dwarf",
                       "layout_cached": false, "debug_build": false, "free_threaded": false},
            "threads": [{"thread_id": 1, "native_id": 7, "current": true, "gil": false, "frames": [
                {"kind": "python", "function": "inner", "file": "/nonexistent/m.py", "line": 3, "entry": true},
                {"kind": "python", "function": "outer", "file": "/nonexistent/m.py", "line": 9, "entry": true}]}],
            "warnings": []
        }))
        .expect("report");
        let frames = [
            native("take_gil"),
            native("cfunction_call"),
            native("_PyCFunction_FastCallKeywords"),
            native("_PyEval_EvalFrameDefault"),
            native("gc_collect_main"),
            native("_PyEval_EvalFrameDefault"),
            native("Py_RunMain"),
        ];
        let infos: Vec<Option<String>> = frames
            .iter()
            .zip([None, Some(0x50), Some(0x50), None, None, None, None])
            .map(|(n, o)| other_frame_info(n.function.as_deref().unwrap_or(""), o, |a| Some(format!("<obj {a:#x}>"))))
            .collect();
        let layout = (plan(&frames, &[true, true], "libpython3.10.so.1.0", NativeMode::All), infos);
        let text = py_bt(&report, 7, false, &[], 0, Some(&layout));
        let want = "Traceback (most recent call first):\n  Waiting for the GIL\n  <obj 0x50>\n  File \"/nonexistent/m.py\", line 3, in inner\n  Garbage-collecting\n  File \"/nonexistent/m.py\", line 9, in outer\n";
        assert_eq!(text, want);
        let text = py_bt(&report, 7, false, &[], 1, Some(&layout));
        assert_eq!(text, "Traceback (most recent call first):\n  File \"/nonexistent/m.py\", line 9, in outer\n");
        assert_eq!(py_bt(&report, 7, false, &[], 2, Some(&layout)), "Unable to locate python frame\n");
        // Without the debugger's frames: the Python frames alone.
        assert_eq!(py_bt(&report, 7, false, &[], 0, None).lines().count(), 3);
    }

    #[test]
    fn lists_source_around_the_line() {
        let dir = std::env::temp_dir().join(format!("pycoroner-ffi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let file = dir.join("m.py");
        let src: String = (1..=20).map(|i| format!("line{i}\n")).collect();
        std::fs::write(&file, src).expect("write");
        let f = PythonFrame {
            source: None,
            function: Some("f".into()),
            qualname: None,
            file: Some(file.to_string_lossy().into_owned()),
            line: Some(8),
            locals: None,
            address: Some(0x10),
            entry: false,
        };
        let out = py_list(&f, "").expect("list");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"   3    line3"));
        assert_eq!(lines.get(5), Some(&"  >8    line8"));
        assert_eq!(lines.last(), Some(&"  13    line13"));
        assert_eq!(py_list(&f, "19").expect("list").lines().count(), 2);
        assert!(py_list(&f, "x").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
