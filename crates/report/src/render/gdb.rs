//! The debugger commands' text (`py-bt`, `py-bt-full`, `py-locals`, `py-print`,
//! `py-list`, a frame's summary), written the way CPython's own gdb extension
//! (`python3.X-gdb.py`) writes them, so habits carry over. Pure: source lines come from
//! the caller (`lines`, one file's lines, or `None`).

use crate::escape::{self, text as e};
use crate::{Frame, PythonFrame, Report, Thread};

/// CPython's gdb extension truncates each value's repr at this many characters.
pub const MAX_OUTPUT_LEN: usize = 1024;

/// A source file's lines, as the caller can read them (`None` when it cannot).
pub type Lines<'a> = &'a dyn Fn(&str) -> Option<Vec<String>>;

/// What becomes of one native frame in a mixed stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Shown as it is.
    Native,
    /// Interpreter call machinery between two eval loops, folded by `--native`.
    Fold,
    /// An eval-loop frame: it ran these Python frames (indices, newest first).
    Eval(Vec<usize>),
}

/// How a thread's native frames and Python frames interleave.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One step per native frame, in order.
    pub steps: Vec<Step>,
    /// Python frames no eval frame claimed (the native stack ended too early).
    pub unclaimed: Vec<usize>,
    /// Set when the eval frames and the runs of Python frames do not match.
    pub warning: Option<String>,
}

/// A thread's Python frames, newest first. A thread that entered another interpreter
/// has one thread state per interpreter; the one it is running (current or holding the
/// GIL) is the newest, the ones it entered from are below it, as on its C stack.
pub fn python_frames(r: &Report, lwp: u32) -> Vec<&PythonFrame> {
    let mut ts: Vec<&Thread> = r.threads.iter().filter(|t| t.native_id == Some(lwp)).collect();
    ts.sort_by_key(|t| (!t.current, !t.gil));
    ts.iter()
        .flat_map(|t| t.frames.iter().filter_map(|f| if let Frame::Python(p) = f { Some(p) } else { None }))
        .collect()
}

/// The `index`-th Python frame of a thread, or CPython's message.
pub fn nth(r: &Report, lwp: u32, index: usize) -> Result<&PythonFrame, String> {
    python_frames(r, lwp).get(index).copied().ok_or_else(|| "Unable to locate python frame".to_string())
}

/// Python's `repr()` of a str, as CPython's script prints names (`'x'`).
pub fn py_quote(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// A value cut as CPython's script cuts it.
pub fn truncated(s: &str) -> String {
    match s.char_indices().nth(MAX_OUTPUT_LEN) {
        Some((i, _)) => format!("{}...(truncated)", s.get(..i).unwrap_or(s)),
        None => s.to_string(),
    }
}

/// Line `n` (1-based) of a source file.
fn source_line(lines: Lines<'_>, file: Option<&str>, n: Option<u32>) -> Option<String> {
    lines(file?)?.into_iter().nth(usize::try_from(n?.checked_sub(1)?).ok()?)
}

fn name(f: &PythonFrame) -> &str {
    f.function.as_deref().unwrap_or("???")
}

/// `Frame 0x..., for file F, line N, in NAME (a=1, b='x')` from the report's values.
pub fn summary_head(f: &PythonFrame) -> String {
    let locals: Vec<String> = f.locals.iter().flatten().map(|v| format!("{}={}", e(&v.name), e(&v.repr))).collect();
    let head = format!(
        "Frame 0x{:x}, for file {}, line {}, in {} ({})",
        f.address.unwrap_or(0),
        e(f.file.as_deref().unwrap_or("???")),
        f.line.map_or("???".to_string(), |l| l.to_string()),
        e(name(f)),
        locals.join(", ")
    );
    truncated(&head)
}

/// A frame's head line, then its source line indented as CPython's script does.
pub fn with_source(head: &str, f: &PythonFrame, lines: Lines<'_>) -> String {
    let mut out = format!("{}\n", e(head));
    if let Some(l) = source_line(lines, f.file.as_deref(), f.line) {
        out += &format!("    {}\n", escape::source_line(l.trim()));
    }
    out
}

/// [`summary_head`] and the source line.
pub fn summary_with_source(f: &PythonFrame, lines: Lines<'_>) -> String {
    with_source(&summary_head(f), f, lines)
}

/// A frame's head line written elsewhere (CPython's script style), if it has one.
pub type Heads<'a> = &'a dyn Fn(&PythonFrame) -> Option<String>;

/// `py-locals`: each variable of the frame, `name = repr`.
pub fn py_locals(f: &PythonFrame) -> String {
    locals_lines(f.locals.iter().flatten().map(|v| (v.name.as_str(), truncated(&v.repr))))
}

/// `name = value` lines, values as the caller wrote them (already cut).
pub fn locals_lines<N: AsRef<str>, V: AsRef<str>>(vars: impl IntoIterator<Item = (N, V)>) -> String {
    vars.into_iter().map(|(n, v)| format!("{} = {}\n", e(n.as_ref()), e(v.as_ref()))).collect()
}

/// `py-print NAME`: the scope the name was found in (`local`, `global`, `builtin`)
/// and its value as the caller wrote it (already cut), or `'NAME' not found`.
pub fn py_print(name: &str, found: Option<(&str, &str)>) -> String {
    match found {
        Some((scope, value)) => format!("{scope} {} = {}\n", e(&py_quote(name)), e(value)),
        None => format!("{} not found\n", e(&py_quote(name))),
    }
}

fn py_frame_text(f: &PythonFrame, full: bool, level: u64, lines: Lines<'_>, heads: Heads<'_>) -> String {
    if full {
        let head = heads(f).unwrap_or_else(|| summary_head(f));
        return format!("#{level} {}", with_source(&head, f, lines));
    }
    let mut out = format!(
        "  File \"{}\", line {}, in {}\n",
        e(f.file.as_deref().unwrap_or("???")),
        f.line.map_or("???".to_string(), |l| l.to_string()),
        e(name(f))
    );
    if let Some(l) = source_line(lines, f.file.as_deref(), f.line) {
        out += &format!("    {}\n", escape::source_line(l.trim()));
    }
    out
}

/// Where `py-bt` starts: Python frame `python` on, and with the debugger's frames
/// laid out, native frame `level` on (a C call the user selected with `py-up`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BtStart {
    /// The first Python frame shown.
    pub python: usize,
    /// The first native frame shown, when known.
    pub level: Option<usize>,
}

/// CPython's `py-bt` (`full`: `py-bt-full`) from `from` on, frames numbered by
/// `levels`. With the debugger's frames laid out (`layout`: the splice plan and each C
/// frame's info line), the plan numbers them, and C frames CPython comments on get
/// their line where they sit. `heads` writes a frame's line for `py-bt-full`.
#[allow(clippy::too_many_arguments)]
pub fn py_bt(
    r: &Report,
    lwp: u32,
    full: bool,
    levels: &[Option<u64>],
    from: BtStart,
    layout: Option<&(Plan, Vec<Option<String>>)>,
    lines: Lines<'_>,
    heads: Heads<'_>,
) -> String {
    let BtStart { python: from, level: from_level } = from;
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
            out += &py_frame_text(f, full, level(i), lines, heads);
        }
        return out;
    };
    // From the newest Python frame: every C frame (a built-in it is in shows); from an
    // older one: the native frame that ran it, nothing newer.
    let start = if let Some(l) = from_level {
        l
    } else if from == 0 {
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
                        out += &py_frame_text(f, full, n as u64, lines, heads);
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
            out += &py_frame_text(f, full, level(i), lines, heads);
        }
    }
    out
}

/// `py-list`, `py-list START`, `py-list START,END`: source around the frame's line,
/// the current line marked with `>`.
pub fn py_list(f: &PythonFrame, args: &str, lines: Lines<'_>) -> Result<String, String> {
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
    let text = lines(file).ok_or_else(|| format!("Unable to open {}", e(file)))?;
    let mut out = String::new();
    for (i, line) in text.iter().enumerate().skip(start.max(1) - 1).take(end.saturating_sub(start.max(1)) + 1) {
        let n = i + 1;
        let label = if n == lineno { format!(">{n}") } else { n.to_string() };
        out += &format!("{label:>4}    {}\n", escape::source_line(line));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NativeFrame;

    fn no_source(_: &str) -> Option<Vec<String>> {
        None
    }

    #[test]
    fn quotes_and_truncates_like_cpython() {
        assert_eq!(py_quote("x"), "'x'");
        assert_eq!(py_quote("it's"), "\"it's\"");
        let long = "a".repeat(MAX_OUTPUT_LEN + 5);
        assert_eq!(truncated(&long), format!("{}...(truncated)", "a".repeat(MAX_OUTPUT_LEN)));
    }

    fn report() -> Report {
        serde_json::from_value(serde_json::json!({
            "schema": 2,
            "target": {"kind": "debugger"},
            "python": {"version": "3.10.13", "module": "libpython3.10.so.1.0", "layout_source": "dwarf",
                       "layout_cached": false, "debug_build": false, "free_threaded": false},
            "threads": [{"thread_id": 1, "native_id": 7, "current": true, "gil": false, "frames": [
                {"kind": "python", "function": "inner", "file": "/src/m.py", "line": 3, "entry": true, "address": 16,
                 "locals": [{"name": "x", "kind": "arg", "type": "int", "address": 32, "repr": "42"}]},
                {"kind": "python", "function": "outer", "file": "/src/m.py", "line": 9, "entry": true}]}],
            "warnings": []
        }))
        .expect("report")
    }

    /// C frames CPython comments on get their line where they sit; from an older Python
    /// frame nothing newer shows.
    #[test]
    fn py_bt_places_c_frame_lines_between_python_frames() {
        let report = report();
        let _ = NativeFrame { pc: 0, function: None, module: None, file: None, line: None, inlined: false, unwind: None };
        let plan = Plan {
            steps: vec![Step::Native, Step::Native, Step::Native, Step::Eval(vec![0]), Step::Native, Step::Eval(vec![1]), Step::Native],
            unclaimed: vec![],
            warning: None,
        };
        let infos = vec![Some("Waiting for the GIL".to_string()), Some("<obj 0x50>".into()), Some("<obj 0x50>".into()), None, Some("Garbage-collecting".into()), None, None];
        let layout = (plan, infos);
        let text = py_bt(&report, 7, false, &[], BtStart { python: 0, level: None }, Some(&layout), &no_source, &|_| None);
        let want = "Traceback (most recent call first):\n  Waiting for the GIL\n  <obj 0x50>\n  File \"/src/m.py\", line 3, in inner\n  Garbage-collecting\n  File \"/src/m.py\", line 9, in outer\n";
        assert_eq!(text, want);
        let text = py_bt(&report, 7, false, &[], BtStart { python: 1, level: None }, Some(&layout), &no_source, &|_| None);
        assert_eq!(text, "Traceback (most recent call first):\n  File \"/src/m.py\", line 9, in outer\n");
        assert_eq!(py_bt(&report, 7, false, &[], BtStart { python: 2, level: None }, Some(&layout), &no_source, &|_| None), "Unable to locate python frame\n");
        // Without the debugger's frames: the Python frames alone.
        assert_eq!(py_bt(&report, 7, false, &[], BtStart { python: 0, level: None }, None, &no_source, &|_| None).lines().count(), 3);
    }

    /// py-bt-full, py-locals and py-print of a hand-built frame, with its source line.
    #[test]
    fn full_frames_locals_and_print_read_like_cpython() {
        let report = report();
        let src = |f: &str| (f == "/src/m.py").then(|| (1..=20).map(|i| format!("  line{i}  ")).collect::<Vec<_>>());
        let text = py_bt(&report, 7, true, &[Some(5), Some(8)], BtStart { python: 0, level: None }, None, &src, &|_| None);
        assert_eq!(text, "#5 Frame 0x10, for file /src/m.py, line 3, in inner (x=42)\n    line3\n#8 Frame 0x0, for file /src/m.py, line 9, in outer ()\n    line9\n");
        let f = nth(&report, 7, 0).expect("frame");
        assert_eq!(py_locals(f), "x = 42\n");
        assert_eq!(py_print("x", Some(("local", "42"))), "local 'x' = 42\n");
        assert_eq!(py_print("y", Some(("global", "[1]"))), "global 'y' = [1]\n");
        assert_eq!(py_print("z", None), "'z' not found\n");
        assert!(nth(&report, 8, 0).is_err());
    }

    #[test]
    fn lists_source_around_the_line() {
        let src = |_: &str| Some((1..=20).map(|i| format!("line{i}")).collect::<Vec<_>>());
        let f = PythonFrame {
            source: None,
            function: Some("f".into()),
            qualname: None,
            file: Some("/src/m.py".into()),
            line: Some(8),
            locals: None,
            address: Some(0x10),
            entry: false,
        };
        let out = py_list(&f, "", &src).expect("list");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"   3    line3"));
        assert_eq!(lines.get(5), Some(&"  >8    line8"));
        assert_eq!(lines.last(), Some(&"  13    line13"));
        assert_eq!(py_list(&f, "19", &src).expect("list").lines().count(), 2);
        assert!(py_list(&f, "x", &src).is_err());
        assert!(py_list(&f, "", &no_source).is_err_and(|e| e.starts_with("Unable to open")));
    }
}
