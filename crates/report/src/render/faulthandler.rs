//! Text laid out as faulthandler prints it (Python/traceback.c `_Py_DumpTracebackThreads`):
//! a `Fatal Python error` header naming the signal, then every thread in interpreter
//! list order, `Current thread` for the one that crashed, frames most recent first.
//! Unlike faulthandler it does not stop at 100 frames or escape printable non-ASCII
//! text; control and invisible characters from the target are escaped as faulthandler
//! escapes them ([`crate::escape`]).

use std::fmt::Write;

use crate::escape::text as e;
use crate::{ExceptionState, Frame, LayoutSource, Relation, Report, TargetKind, Thread, Unwind};

/// How the text is laid out beyond faulthandler's own lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Fold long runs of repeated frames (`[Previous 3 frames repeated 4966 more
    /// times]`) in threads with more frames than faulthandler shows.
    pub fold: bool,
    /// ANSI colours (for a terminal): the fatal error, the current thread, files,
    /// lines, functions and warnings. Without them the text is faulthandler's, byte
    /// for byte.
    pub color: bool,
    /// asyncio tasks as `python -m asyncio ps`'s table instead of `pstree`'s tree.
    pub tasks_table: bool,
    /// The whole interpreter state (`--state`), not only what is set or unusual.
    pub state: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions { fold: true, color: false, tasks_table: false, state: false }
    }
}

/// Colours, or none.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    fn file(self, s: &str) -> String {
        self.wrap("36", s)
    }
    fn line(self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn function(self, s: &str) -> String {
        self.wrap("1;32", s)
    }
    fn alert(self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    fn warning(self, s: &str) -> String {
        self.wrap("33", s)
    }
}

/// faulthandler's `MAX_FRAME_DEPTH`: a thread with at most this many frames is shown
/// as faulthandler shows it, unfolded.
pub const FAULTHANDLER_MAX_FRAMES: usize = 100;

/// The longest repeated run of frames folding looks for (a recursion through that many
/// functions).
const MAX_FOLD_PERIOD: usize = 32;

/// Copies of a repeated run shown before the fold line, as CPython's traceback does.
const FOLD_SHOWN: usize = 3;

/// What faulthandler prints besides frames, by CPython minor version
/// (Python/traceback.c, Python/pylifecycle.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Faulthandler {
    /// The line for a thread with no frame: none (3.6–3.7; 3.15, whose threads always
    /// have a base frame), unindented (3.8–3.9), indented (3.10–3.14).
    no_frame: Option<&'static str>,
    /// `  Garbage-collecting` under the current thread (3.10+).
    gc_line: bool,
    /// `Extension modules: ... (total: N)` after the threads (3.10+).
    extension_modules: bool,
}

/// faulthandler's layout per minor version: `(first minor, layout)`, ascending.
const FAULTHANDLER: [(u32, Faulthandler); 4] = [
    (6, Faulthandler { no_frame: None, gc_line: false, extension_modules: false }),
    (8, Faulthandler { no_frame: Some("<no Python frame>"), gc_line: false, extension_modules: false }),
    (10, Faulthandler { no_frame: Some("  <no Python frame>"), gc_line: true, extension_modules: true }),
    (15, Faulthandler { no_frame: None, gc_line: true, extension_modules: true }),
];

/// The layout for a version string (`3.12.1`); an unparsable one gets the newest.
fn faulthandler_of(version: &str) -> Faulthandler {
    let minor: u32 = version.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(u32::MAX);
    FAULTHANDLER.iter().rev().find(|(first, _)| minor >= *first).map_or(FAULTHANDLER[0].1, |(_, l)| *l)
}

/// The text report, with repeats folded.
pub fn render(report: &Report) -> String {
    render_with(report, TextOptions::default())
}

/// The text report.
pub fn render_with(report: &Report, options: TextOptions) -> String {
    let mut out = String::new();
    let paint = Paint(options.color);
    let fh = faulthandler_of(&report.python.version);
    if let Some(sig) = report.target.signal.as_ref().filter(|s| crate::signal_is_fatal(s.number)) {
        let _ = writeln!(out, "{}\n", paint.alert(&format!("Fatal Python error: {}", sig.description)));
    }
    header(&mut out, report);
    let several = report.interpreters.len() > 1;
    let mut group: Option<Option<i64>> = None;
    let mut first = true;
    for t in &report.threads {
        if several && group != Some(t.interpreter_id) {
            group = Some(t.interpreter_id);
            if !first {
                out.push('\n');
            }
            match t.interpreter_id {
                Some(id) => {
                    let main = if id == 0 { " (main)" } else { "" };
                    let _ = writeln!(out, "Interpreter {id}{main}:");
                }
                None => out.push_str("Threads with no Python thread state:\n"),
            }
            first = true;
        }
        if !first {
            out.push('\n');
        }
        first = false;
        let gc = fh.gc_line && t.current && report.interpreters.iter().any(|i| i.id == t.interpreter_id && i.gc_collecting == Some(true));
        thread(&mut out, t, options, fh, gc);
        if let Some(l) = &t.event_loop {
            out.push('\n');
            super::tasks::section(&mut out, l, t.native_id.map_or(t.thread_id, u64::from), options.tasks_table, "");
        }
    }
    for (i, l) in report.interpreters.iter().flat_map(|i| i.idle_loops.iter().map(move |l| (i, l))) {
        let _ = writeln!(out, "\nNo thread runs this event loop (interpreter {}):", i.id.map_or_else(|| "?".to_string(), |id| id.to_string()));
        super::tasks::section(&mut out, l, 0, options.tasks_table, "");
    }
    // faulthandler lists the crashing interpreter's extension modules.
    let crashing = report.threads.iter().find(|t| t.current).map(|t| t.interpreter_id).unwrap_or(Some(0));
    let modules = report.interpreters.iter().find(|i| i.id == crashing).or(report.interpreters.first()).and_then(|i| i.extension_modules.as_ref());
    if let Some(m) = modules.filter(|m| fh.extension_modules && !m.is_empty()) {
        let names: Vec<String> = m.iter().map(|n| e(n).into_owned()).collect();
        let _ = writeln!(out, "\nExtension modules: {} (total: {})", names.join(", "), m.len());
    }
    if report.threads.iter().all(|t| t.interpreter_id.is_none()) {
        out.push_str("<no Python thread>\n");
    }
    if let Some(r) = &report.runtime {
        super::state::section(&mut out, r, options.state);
    }
    if report.python.layout_source != LayoutSource::Dwarf {
        let from = report.python.layout_file.as_deref().map(|f| format!(": {}", e(f))).unwrap_or_default();
        let _ = writeln!(out, "\nLayouts from {}{from}", report.python.layout_source.as_str());
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\n{}", paint.warning("pycoroner warnings:"));
        for w in &report.warnings {
            let _ = writeln!(out, "  - {}", e(&w.to_string()));
        }
    }
    out
}

/// `  (refcount 3)`, `  (immortal)`, or nothing when counts were not asked for.
pub fn refcount_note(refcount: Option<i64>, immortal: bool) -> String {
    match refcount {
        _ if immortal => "  (immortal)".into(),
        Some(n) => format!("  (refcount {n})"),
        None => String::new(),
    }
}

/// What a person needs before the stacks: which process, which interpreter, which
/// signal, how and where (faulthandler's own lines follow unchanged).
pub(crate) fn header(out: &mut String, report: &Report) {
    let t = &report.target;
    // A debugger may have a core open as well as a process: only pycoroner's own live
    // read is known to be live.
    let what = if t.kind == TargetKind::Process { "Live process" } else { "Process" };
    // A core keeps 79 bytes of the command line (ELF_PRARGSZ): say when it was cut.
    let cmd = t.command_line.as_deref().map(|c| if t.kind == TargetKind::Core && !t.minidump && c.len() >= 79 { format!("{c}...") } else { c.to_string() });
    match (t.pid, cmd.as_deref()) {
        (Some(pid), Some(cmd)) => {
            let _ = writeln!(out, "{what} {pid}: {}", e(cmd));
        }
        (Some(pid), None) => {
            let _ = writeln!(out, "{what} {pid}");
        }
        (None, Some(cmd)) => {
            let _ = writeln!(out, "{what}: {}", e(cmd));
        }
        (None, None) => {}
    }
    let p = &report.python;
    let flavour = match (p.debug_build, p.free_threaded) {
        (false, false) => "release build",
        (true, false) => "debug build",
        (false, true) => "free-threaded build",
        (true, true) => "free-threaded debug build",
    };
    if let Some(test) = t.test.as_deref() {
        let _ = writeln!(out, "Running test {}", e(test));
    }
    match t.executable.as_deref() {
        Some(exe) => {
            let _ = writeln!(out, "Executable {}, CPython {} ({flavour})", e(exe), p.version);
        }
        None => {
            let _ = writeln!(out, "CPython {} ({flavour})", p.version);
        }
    }
    match &t.signal {
        Some(sig) if !crate::signal_is_fatal(sig.number) => {
            let _ = writeln!(out, "No fatal signal: a snapshot of a running process (gcore), taken while stopped by {}", sig.name);
        }
        Some(sig) => {
            let mut line = format!("Signal {} ({})", sig.name, sig.number);
            if let Some((name, meaning)) = crate::signal_code(sig.number, sig.code) {
                let _ = write!(line, ", {meaning} ({name})");
            } else {
                let _ = write!(line, ", code {}", sig.code);
            }
            if let Some(a) = sig.address {
                let _ = write!(line, " at address 0x{a:x}");
            }
            if let Some(n) = sig.syscall {
                let _ = write!(line, ": system call {n}");
            }
            if let Some(pid) = sig.sender_pid {
                let _ = write!(line, " by pid {pid}");
            }
            if let Some(lwp) = sig.thread {
                let _ = write!(line, ", in LWP {lwp}");
            }
            let _ = writeln!(out, "{line}");
            if let Some(c) = &sig.caught {
                let what = crate::signal_code(c.number, c.code).map_or_else(|| format!("code {}", c.code), |(n, m)| format!("{m} ({n})"));
                let _ = writeln!(out, "Caught first by a signal handler, which raised it again: {} ({}), {what} at address 0x{:x}", c.name, c.number, c.address);
            }
            if let Some(o) = &sig.stack_overflow {
                let at = sig.caught.as_ref().map(|c| c.address).or(sig.address).unwrap_or(0);
                let end = o.stack_start.map(|s| format!(" (its lowest address is 0x{s:x})")).unwrap_or_default();
                let _ = writeln!(out, "C stack overflow: the fault address 0x{at:x} is past the end of the thread's stack{end}, next to its stack pointer 0x{:x}", o.stack_pointer);
            }
        }
        None if t.kind == TargetKind::Core && t.minidump => out.push_str("No fatal signal: a snapshot of a running process\n"),
        None if t.kind == TargetKind::Core => out.push_str("No fatal signal: a snapshot of a running process (gcore)\n"),
        None => match t.paused_ms {
            Some(ms) => {
                let _ = writeln!(out, "Stopped for {ms:.1} ms to read it");
            }
            None => out.push_str("Read while it ran (--nonblocking): a racy view\n"),
        },
    }
    out.push('\n');
}

/// `  Handling ValueError: message` (no `: ` for an empty message, as a traceback).
fn exception_line(out: &mut String, verb: &str, type_name: Option<&str>, message: Option<&str>) {
    let ty = e(type_name.unwrap_or("?"));
    match message {
        Some("") | None => {
            let _ = writeln!(out, "  {verb}{ty}");
        }
        Some(m) => {
            let _ = writeln!(out, "  {verb}{ty}: {}", e(m));
        }
    }
}

/// Two frames a reader takes for the same line of a repeat: the same code at the same
/// place (a Python frame's object address and locals differ in every recursion).
fn same_place(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Python(a), Frame::Python(b)) => (&a.file, a.line, &a.function) == (&b.file, b.line, &b.function),
        (Frame::Native(a), Frame::Native(b)) => (a.pc, &a.function, a.inlined) == (b.pc, &b.function, b.inlined),
        _ => false,
    }
}

/// A run starting at `at` of more than [`FOLD_SHOWN`] copies of the same `period`
/// frames: `(period, copies)` for the period that covers the most frames (the
/// shortest among equals). Work is bounded by `MAX_FOLD_PERIOD` per frame walked.
fn repeat_at(frames: &[Frame], at: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for period in 1..=MAX_FOLD_PERIOD {
        let mut n = 0usize;
        while frames.get(at + n + period).zip(frames.get(at + n)).is_some_and(|(x, y)| same_place(x, y)) {
            n += 1;
        }
        // `n` frames after the first period repeat it: whole copies only.
        let copies = 1 + n / period;
        if copies > FOLD_SHOWN && best.is_none_or(|(p, c)| copies * period > p * c) {
            best = Some((period, copies));
        }
    }
    best
}

/// Frames as a thread's section lists them, numbered from #0, without colour: the
/// native stacks of a process with no Python (`pycoroner run`).
pub fn native_frames(frames: &[Frame]) -> String {
    let mut out = String::new();
    let mut n = 0;
    for f in frames {
        frame(&mut out, f, &mut n, Paint(false));
    }
    out
}

fn frame(out: &mut String, f: &Frame, native_no: &mut usize, paint: Paint) {
    match f {
        Frame::Python(p) => {
            let line = p.line.map_or_else(|| "???".to_string(), |l| l.to_string());
            let _ = writeln!(
                out,
                "  File \"{}\", line {} in {}",
                paint.file(&e(p.file.as_deref().unwrap_or("???"))),
                paint.line(&line),
                paint.function(&e(p.function.as_deref().unwrap_or("???")))
            );
            if let Some(src) = &p.source {
                let _ = writeln!(out, "    {}", e(src));
            }
            for v in p.locals.iter().flatten() {
                let _ = writeln!(out, "    {} = {}{}", e(&v.name), e(&v.repr), refcount_note(v.refcount, v.immortal));
            }
        }
        Frame::Native(n) => {
            let func = paint.function(&e(n.function.as_deref().unwrap_or("??")));
            let at = match (&n.file, n.line) {
                (Some(f), Some(l)) => format!(" at {}:{}", paint.file(&e(f)), paint.line(&l.to_string())),
                _ => format!(" from {}", e(n.module.as_deref().unwrap_or("??"))),
            };
            // A frame found by frame pointer (no CFI) is less certain, one built from a
            // tail call's call site had no frame of its own: say so.
            let fp = match n.unwind {
                Some(Unwind::FramePointer) => " [frame pointer]",
                Some(Unwind::TailCall) => " [tail call]",
                _ => "",
            };
            if n.inlined {
                let _ = writeln!(out, "  #{:<2} {func} (inlined){at}{fp}", *native_no);
            } else {
                let _ = writeln!(out, "  #{:<2} 0x{:016x} in {func}{at}{fp}", *native_no, n.pc);
            }
            *native_no += 1;
        }
    }
}

fn thread(out: &mut String, t: &Thread, options: TextOptions, fh: Faulthandler, gc: bool) {
    let paint = Paint(options.color);
    let label = if t.current { paint.alert("Current thread") } else { "Thread".to_string() };
    // Named like 3.14's faulthandler: `Thread 0x... [name] (most recent call first):`.
    let name = t.name.as_deref().map(|n| format!(" [{}]", e(n))).unwrap_or_default();
    // The LWP (what top, gdb and /proc call the thread) and who holds the GIL; a thread
    // C code started (no Python thread state) says so.
    let lwp = t.native_id.map(|l| format!("LWP {l}"));
    let extra = if t.interpreter_id.is_none() {
        format!(" ({}, no Python thread state)", lwp.as_deref().unwrap_or("LWP ?"))
    } else {
        match (lwp, t.gil) {
            (Some(l), true) => format!(" ({l}, holds the GIL)"),
            (Some(l), false) => format!(" ({l})"),
            (None, true) => " (holds the GIL)".to_string(),
            (None, false) => String::new(),
        }
    };
    let _ = writeln!(out, "{label} 0x{:016x}{name}{extra} (most recent call first):", t.thread_id);
    if gc {
        out.push_str("  Garbage-collecting\n");
    }
    for x in &t.exceptions {
        // The chain as a traceback prints it: oldest first, each followed by how the
        // next one came from it.
        for c in x.chain.iter().rev() {
            exception_line(out, "", c.type_name.as_deref(), c.message.as_deref());
            let sentence = if c.relation == Relation::Cause {
                "The above exception was the direct cause of the following exception:"
            } else {
                "During handling of the above exception, another exception occurred:"
            };
            let _ = writeln!(out, "  {sentence}");
        }
        let verb = if x.state == ExceptionState::Raised { "Raising " } else { "Handling " };
        exception_line(out, verb, x.type_name.as_deref(), x.message.as_deref());
    }
    if t.frames.is_empty() && t.truncated.is_none() {
        // A thread C code started says so in every version; a Python thread as
        // faulthandler of its version does.
        let line = if t.interpreter_id.is_none() { Some("  <no Python frame>") } else { fh.no_frame };
        if let Some(line) = line {
            let _ = writeln!(out, "{line}");
        }
    }
    let mut native_no = 0usize;
    let fold = options.fold && t.frames.len() > FAULTHANDLER_MAX_FRAMES;
    let mut i = 0usize;
    while let Some(f) = t.frames.get(i) {
        if fold {
            if let Some((period, copies)) = repeat_at(&t.frames, i) {
                let shown = period * FOLD_SHOWN;
                for f in t.frames.iter().skip(i).take(shown) {
                    frame(out, f, &mut native_no, paint);
                }
                let skipped = t.frames.iter().skip(i + shown).take(period * (copies - FOLD_SHOWN));
                native_no += skipped.filter(|f| matches!(f, Frame::Native(_))).count();
                let what = if period == 1 { "frame".to_string() } else { format!("{period} frames") };
                let _ = writeln!(out, "  [Previous {what} repeated {} more times]", copies - FOLD_SHOWN);
                i += period * copies;
                continue;
            }
        }
        frame(out, f, &mut native_no, paint);
        i += 1;
    }
    if let Some(why) = &t.truncated {
        let _ = writeln!(out, "  <{}>", e(&why.message));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::*;

    pub(crate) fn sample() -> Report {
        let py = |f: &str, file: &str, line: Option<u32>| {
            Frame::Python(PythonFrame {
                source: None,
                function: Some(f.into()),
                qualname: None,
                file: Some(file.into()),
                line,
                locals: None,
                address: None,
                entry: false,
            })
        };
        Report {
            schema: SCHEMA,
            target: TargetInfo {
                kind: TargetKind::Core,
                path: Some("core".into()),
                executable: None,
                pid: Some(4242),
                command_line: None,
                test: None,
                signal: Some(Signal {
                    number: 11,
                    name: "SIGSEGV".into(),
                    description: "Segmentation fault".into(),
                    code: 1,
                    address: Some(0),
                    sender_pid: None,
                    thread: Some(4242),
                    syscall: None,
                    caught: None,
                    stack_overflow: None,
                }),
                paused_ms: None,
                minidump: false,
            },
            python: PythonInfo {
                version: "3.12.1".into(),
                module: "libpython3.12.so.1.0".into(),
                layout_source: LayoutSource::Dwarf,
                layout_file: None,
                layout_cached: false,
                debug_build: false,
                free_threaded: false,
            },
            interpreters: vec![Interpreter { id: Some(0), address: 0x1000, gil_holder: Some(0x7f3a1d2a5740), gc_collecting: Some(false), extension_modules: Some(vec![]), idle_loops: vec![] }],
            threads: vec![
                Thread {
                    thread_id: 0x7f3a1b7fe6c0,
                    native_id: Some(4243),
                    name: None,
                    current: false,
                    gil: false,
                    interpreter_id: Some(0),
                    exceptions: vec![],
                    frames: vec![py("wait_for_job", "/srv/app/worker.py", Some(41))],
                    truncated: None,
                    event_loop: None,
                },
                Thread {
                    thread_id: 0x7f3a1d2a5740,
                    native_id: Some(4242),
                    name: None,
                    current: true,
                    gil: true,
                    interpreter_id: Some(0),
                    exceptions: vec![],
                    frames: vec![py("call_native", "/srv/app/ext.py", Some(12)), py("<module>", "/srv/app/main.py", None)],
                    truncated: None,
                    event_loop: None,
                },
                Thread {
                    thread_id: 0x7f3a1a000000,
                    native_id: None,
                    name: None,
                    current: false,
                    gil: false,
                    interpreter_id: Some(0),
                    exceptions: vec![],
                    frames: vec![],
                    truncated: None,
                    event_loop: None,
                },
            ],
            runtime: None,
            heap: Vec::new(),
            heap_diff: None,
            referrers: None,
            warnings: vec![],
        }
    }

    #[test]
    fn matches_faulthandler_layout() {
        let text = super::render(&sample());
        assert_eq!(
            text,
            "Fatal Python error: Segmentation fault\n\
             \n\
             Process 4242\n\
             CPython 3.12.1 (release build)\n\
             Signal SIGSEGV (11), address not mapped to object (SEGV_MAPERR) at address 0x0, in LWP 4242\n\
             \n\
             Thread 0x00007f3a1b7fe6c0 (LWP 4243) (most recent call first):\n  \
             File \"/srv/app/worker.py\", line 41 in wait_for_job\n\
             \n\
             Current thread 0x00007f3a1d2a5740 (LWP 4242, holds the GIL) (most recent call first):\n  \
             File \"/srv/app/ext.py\", line 12 in call_native\n  \
             File \"/srv/app/main.py\", line ??? in <module>\n\
             \n\
             Thread 0x00007f3a1a000000 (most recent call first):\n  \
             <no Python frame>\n"
        );
    }

    #[test]
    fn locals_and_exceptions_are_shown_under_their_frame_and_thread() {
        let mut r = sample();
        r.threads[1].exceptions.push(ExceptionInfo {
            state: ExceptionState::Handled,
            type_name: Some("ValueError".into()),
            message: Some("boom".into()),
            address: 1,
            chain: vec![],
        });
        if let Frame::Python(p) = &mut r.threads[1].frames[0] {
            p.locals = Some(vec![Variable {
                name: "x".into(),
                kind: VariableKind::Arg,
                type_name: Some("int".into()),
                address: 2,
                repr: "42".into(),
                refcount: None,
                immortal: false,
            }]);
        }
        let text = super::render(&r);
        assert!(text.contains(
            "Current thread 0x00007f3a1d2a5740 (LWP 4242, holds the GIL) (most recent call first):\n  Handling ValueError: boom\n  File \"/srv/app/ext.py\", line 12 in call_native\n    x = 42\n"
        ), "{text}");
    }

    /// The header: the process and its command line, the executable and interpreter,
    /// the signal decoded, or that there was none.
    #[test]
    fn the_header_says_which_process_interpreter_and_signal() {
        let mut r = sample();
        r.target.command_line = Some("python3.12 /srv/app/main.py --port 80\x1b[2J".into());
        r.target.executable = Some("/usr/bin/python3.12".into());
        r.python.debug_build = true;
        let text = super::render(&r);
        assert!(text.starts_with(
            "Fatal Python error: Segmentation fault\n\nProcess 4242: python3.12 /srv/app/main.py --port 80\\x1b[2J\n\
             Executable /usr/bin/python3.12, CPython 3.12.1 (debug build)\n\
             Signal SIGSEGV (11), address not mapped to object (SEGV_MAPERR) at address 0x0, in LWP 4242\n\nThread "
        ), "{text}");
        // A command line the kernel cut at 79 bytes is marked.
        r.target.command_line = Some("x".repeat(79));
        assert!(super::render(&r).contains(&format!("Process 4242: {}...\n", "x".repeat(79))));
        r.target.command_line = Some("python3.12 /srv/app/main.py".into());
        // seccomp's SIGSYS names the refused call; a sent signal names its sender.
        let sig = r.target.signal.as_mut().expect("signal");
        (sig.number, sig.name, sig.description, sig.code, sig.address, sig.syscall) =
            (31, "SIGSYS".into(), "Bad system call".into(), 1, None, Some(59));
        assert!(super::render(&r).contains("Signal SIGSYS (31), a system call refused by seccomp (SYS_SECCOMP): system call 59, in LWP 4242\n"));
        let sig = r.target.signal.as_mut().expect("signal");
        (sig.number, sig.name, sig.code, sig.syscall, sig.sender_pid) = (6, "SIGABRT".into(), -6, None, Some(4242));
        assert!(super::render(&r).contains("Signal SIGABRT (6), sent by tkill() or raise() (SI_TKILL) by pid 4242, in LWP 4242\n"));
        // gdb's gcore records the SIGSTOP it stopped the process with: a snapshot, not a death.
        let sig = r.target.signal.as_mut().expect("signal");
        (sig.number, sig.name, sig.description, sig.code, sig.sender_pid) = (19, "SIGSTOP".into(), "Stopped (signal)".into(), 0x80, None);
        let text = super::render(&r);
        assert!(text.starts_with("Process 4242: python3.12"), "{text}");
        assert!(text.contains("No fatal signal: a snapshot of a running process (gcore), taken while stopped by SIGSTOP\n\nThread "), "{text}");
        // No signal recorded at all: the same, without "Fatal Python error".
        r.target.signal = None;
        assert!(super::render(&r).starts_with("Process 4242: python3.12"));
        assert!(super::render(&r).contains("No fatal signal: a snapshot of a running process (gcore)\n\nThread "));
    }

    /// Regression (#10, terminal escapes): names, files, values and warnings from the
    /// target cannot move the cursor, forge a line or reverse the text.
    #[test]
    fn target_text_is_escaped() {
        let mut r = sample();
        r.threads[1].name = Some("w\x1b]0;pwned\x07".into());
        if let Frame::Python(p) = &mut r.threads[1].frames[0] {
            p.file = Some("/srv/a.py\n  File \"forged.py\", line 1 in x".into());
            p.function = Some("f\u{202e}".into());
            p.locals = Some(vec![Variable { name: "s\r".into(), kind: VariableKind::Local, type_name: None, address: 2, repr: "'\x1b[2J'".into(), refcount: None, immortal: false }]);
        }
        r.warnings.push(Warning::new(WarningKind::File, "file /tmp/\x1b[31mred"));
        let text = super::render(&r);
        assert!(!text.chars().any(|c| c != '\n' && crate::escape::is_unsafe(c)), "{text:?}");
        assert!(text.contains("[w\\x1b]0;pwned\\x07]"), "{text}");
        assert!(text.contains("File \"/srv/a.py\\x0a  File \"forged.py\", line 1 in x\", line 12 in f\\u202e\n"), "{text}");
        assert!(text.contains("    s\\x0d = '\\x1b[2J'\n"), "{text}");
        assert!(text.contains("  - file /tmp/\\x1b[31mred\n"), "{text}");
    }

    fn native(pc: u64, f: &str) -> Frame {
        Frame::Native(NativeFrame { pc, function: Some(f.into()), module: Some("m.so".into()), file: None, line: None, inlined: false, unwind: None })
    }

    /// A C stack overflow: thousands of copies of a 3-function cycle fold like CPython's
    /// traceback folds (three shown, then a count), gdb's frame numbers carry on after
    /// the fold, and `--no-fold` shows every frame.
    #[test]
    fn long_repeats_fold_and_keep_gdb_numbering() {
        let mut r = sample();
        let mut frames = vec![native(0x10, "crash")];
        for _ in 0..5000 {
            frames.extend([native(0x20, "a"), native(0x30, "b"), native(0x40, "c")]);
        }
        frames.push(native(0x50, "main"));
        r.threads[1].frames = frames;
        let text = super::render(&r);
        let cur = text.split("Current thread").nth(1).expect("current");
        let lines: Vec<&str> = cur.lines().skip(1).take_while(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1 + 9 + 1 + 1, "{cur}");
        assert!(lines[1].starts_with("  #1  0x0000000000000020 in a"), "{cur}");
        assert_eq!(lines[10], "  [Previous 3 frames repeated 4997 more times]");
        assert!(lines[11].starts_with("  #15001 0x0000000000000050 in main"), "{cur}");
        let all = super::render_with(&r, super::TextOptions { fold: false, color: false, ..Default::default() });
        assert_eq!(all.split("Current thread").nth(1).expect("current").lines().filter(|l| l.starts_with("  #")).count(), 15002);
        // A single repeated frame says "frame"; a thread within faulthandler's 100
        // frames is never folded (its lines stay faulthandler's).
        r.threads[1].frames = (0..200).map(|_| native(0x20, "a")).collect();
        assert!(super::render(&r).contains("  [Previous frame repeated 197 more times]
"));
        r.threads[1].frames = (0..100).map(|_| native(0x20, "a")).collect();
        assert!(!super::render(&r).contains("[Previous"));
    }

    #[test]
    fn a_caught_fault_and_a_stack_overflow_are_named() {
        let mut r = sample();
        let sig = r.target.signal.as_mut().expect("signal");
        (sig.code, sig.address, sig.sender_pid) = (-6, None, Some(4242));
        sig.caught = Some(CaughtFault { number: 11, name: "SIGSEGV".into(), code: 1, address: 0x7ffc_0000_0ff8 });
        sig.stack_overflow = Some(StackOverflow { stack_pointer: 0x7ffc_0000_1000, stack_start: Some(0x7ffc_0000_1000) });
        let text = super::render(&r);
        assert!(text.contains(
            "Caught first by a signal handler, which raised it again: SIGSEGV (11), address not mapped to object (SEGV_MAPERR) at address 0x7ffc00000ff8\n\
             C stack overflow: the fault address 0x7ffc00000ff8 is past the end of the thread's stack (its lowest address is 0x7ffc00001000), next to its stack pointer 0x7ffc00001000\n"
        ), "{text}");
    }

    #[test]
    fn warnings_and_truncation_are_shown() {
        let mut r = sample();
        r.threads[0].truncated = Some(WalkStop { reason: StopReason::Cycle, address: Some(0x10), message: "frame chain cycles at 0x10".into() });
        r.warnings.push(Warning::new(WarningKind::Walk, "thread list unreadable"));
        let text = super::render(&r);
        assert!(text.contains("  <frame chain cycles at 0x10>\n"));
        assert!(text.ends_with("pycoroner warnings:\n  - thread list unreadable\n"));
    }

    /// Colour adds escape codes and nothing else: without them the text is the plain
    /// one, byte for byte; the plain one has none.
    #[test]
    fn colour_only_adds_escape_codes() {
        let mut r = sample();
        r.warnings.push(Warning::new(WarningKind::Walk, "thread list unreadable"));
        let plain = super::render_with(&r, super::TextOptions { fold: true, color: false, ..Default::default() });
        let coloured = super::render_with(&r, super::TextOptions { fold: true, color: true, ..Default::default() });
        assert!(!plain.contains('\x1b'));
        assert!(coloured.contains("\x1b[1;31mCurrent thread\x1b[0m"), "{coloured}");
        assert!(coloured.contains("\x1b[33mpycoroner warnings:\x1b[0m"), "{coloured}");
        assert_eq!(crate::escape::strip_color(&coloured), plain);
    }
}
