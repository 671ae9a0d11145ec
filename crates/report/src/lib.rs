//! The report: one serde model (schema 1, see DESIGN.md "Contracts"), rendered as
//! faulthandler-style text or JSON. Depends on no other pycoroner crate; renderers are
//! tested from hand-built reports.
#![deny(missing_docs)]

pub mod escape;
pub mod render;

use serde::{Deserialize, Serialize};

/// Current JSON schema number. Additive changes keep it; others bump it.
pub const SCHEMA: u32 = 1;

/// Everything pycoroner found about one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// What was analyzed.
    pub target: TargetInfo,
    /// The interpreter found in it.
    pub python: PythonInfo,
    /// Interpreters (main first).
    #[serde(default)]
    pub interpreters: Vec<Interpreter>,
    /// Every thread of every interpreter, in each interpreter's list order.
    pub threads: Vec<Thread>,
    /// What could not be read, in words.
    pub warnings: Vec<String>,
}

/// The analyzed target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `"core"` or `"process"`.
    pub kind: String,
    /// The core file's path, for a core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The executable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// Process id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The fatal signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
    /// For a live process: how long its threads were stopped, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_ms: Option<f64>,
}

/// A fatal signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Signal number.
    pub number: i32,
    /// `SIGSEGV`.
    pub name: String,
    /// What faulthandler calls it ("Segmentation fault").
    pub description: String,
    /// `si_code`.
    pub code: i32,
    /// Faulting address, for SIGSEGV/SIGBUS/SIGILL/SIGFPE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<u64>,
    /// The process that sent it, when it was sent rather than raised by a fault
    /// (faulthandler re-raises the fault with `raise()` after its dump).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_pid: Option<u32>,
    /// Kernel TID of the thread that took it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<u32>,
}

/// The interpreter's identity and where its layouts came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonInfo {
    /// `"3.12.1"` (or `"3.12"` when the micro version is unknown).
    pub version: String,
    /// The module that holds the interpreter (libpython or the executable).
    pub module: String,
    /// Where the struct layouts came from (`dwarf`, later `debug-offsets`, `builtin`).
    pub layout_source: String,
    /// The file the layouts were read from, when they came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout_file: Option<String>,
    /// True when the layouts were served from pycoroner's on-disk cache.
    pub layout_cached: bool,
    /// Debug build (`Py_DEBUG`).
    pub debug_build: bool,
    /// Free-threaded build.
    pub free_threaded: bool,
}

/// One interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    /// `interp->id` (0 = main); absent on 3.6.
    pub id: Option<i64>,
    /// Address of its `PyInterpreterState`.
    pub address: u64,
    /// The `thread_id` of the thread holding this interpreter's GIL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gil_holder: Option<u64>,
}

/// One thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    /// The `pthread_t`, as faulthandler prints it.
    pub thread_id: u64,
    /// Kernel TID (LWP), when known.
    pub native_id: Option<u32>,
    /// The `threading.Thread` name, when the thread has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The thread that took the fatal signal (or the current one).
    pub current: bool,
    /// Holds the GIL.
    pub gil: bool,
    /// The interpreter this thread state belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpreter_id: Option<i64>,
    /// Exceptions being raised or handled, innermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionInfo>,
    /// Frames, most recent first.
    pub frames: Vec<Frame>,
    /// Why the frame walk stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Frame {
    /// A Python frame.
    Python(PythonFrame),
    /// A native frame.
    Native(NativeFrame),
}

/// A Python frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonFrame {
    /// `co_name` (`None` when unreadable; rendered `???`).
    pub function: Option<String>,
    /// `co_qualname` (3.11+), when known.
    pub qualname: Option<String>,
    /// `co_filename`.
    pub file: Option<String>,
    /// Line being executed.
    pub line: Option<u32>,
    /// Arguments, then locals, then cell and free variables (with `--locals`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locals: Option<Vec<Variable>>,
    /// Address of the frame in the target (`PyFrameObject` ≤3.10, the interpreter
    /// frame 3.11+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<u64>,
    /// Whether this is the oldest frame its C-level eval call ran (a C function called
    /// into Python here).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub entry: bool,
}

/// A variable of a frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// `arg`, `local`, `cell` or `free`.
    pub kind: String,
    /// The value's type name.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// The value's address.
    pub address: u64,
    /// The value rendered like `repr()`.
    pub repr: String,
}

/// An exception a thread is raising or handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    /// `raised` (in flight) or `handled` (inside `except`/`finally`).
    pub state: String,
    /// The exception's type name.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// `str()` of the exception, as a traceback shows it.
    pub message: Option<String>,
    /// The exception object's address.
    pub address: u64,
}

/// A native frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeFrame {
    /// Program counter.
    pub pc: u64,
    /// Function name, when symbolized.
    pub function: Option<String>,
    /// Module (file name).
    pub module: Option<String>,
    /// Source file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Inlined into the next frame (same pc).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inlined: bool,
    /// How this frame was found: `context` (the registers), `cfi`, `frame-pointer`
    /// (no CFI covered the callee: less certain) or `signal` (the kernel's ucontext).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unwind: Option<String>,
}

/// A signal's name and description (faulthandler's own for the five it handles, glibc's
/// `strsignal` for the rest, `SIGRTMIN+n` for real-time signals).
pub fn signal_names(signo: i32) -> (String, String) {
    /// Linux x86_64 signal numbers, names and glibc's `strsignal` texts.
    const SIGNALS: [(&str, &str); 31] = [
        ("SIGHUP", "Hangup"),
        ("SIGINT", "Interrupt"),
        ("SIGQUIT", "Quit"),
        ("SIGILL", "Illegal instruction"),
        ("SIGTRAP", "Trace/breakpoint trap"),
        ("SIGABRT", "Aborted"),
        ("SIGBUS", "Bus error"),
        ("SIGFPE", "Floating point exception"),
        ("SIGKILL", "Killed"),
        ("SIGUSR1", "User defined signal 1"),
        ("SIGSEGV", "Segmentation fault"),
        ("SIGUSR2", "User defined signal 2"),
        ("SIGPIPE", "Broken pipe"),
        ("SIGALRM", "Alarm clock"),
        ("SIGTERM", "Terminated"),
        ("SIGSTKFLT", "Stack fault"),
        ("SIGCHLD", "Child exited"),
        ("SIGCONT", "Continued"),
        ("SIGSTOP", "Stopped (signal)"),
        ("SIGTSTP", "Stopped"),
        ("SIGTTIN", "Stopped (tty input)"),
        ("SIGTTOU", "Stopped (tty output)"),
        ("SIGURG", "Urgent I/O condition"),
        ("SIGXCPU", "CPU time limit exceeded"),
        ("SIGXFSZ", "File size limit exceeded"),
        ("SIGVTALRM", "Virtual timer expired"),
        ("SIGPROF", "Profiling timer expired"),
        ("SIGWINCH", "Window changed"),
        ("SIGIO", "I/O possible"),
        ("SIGPWR", "Power failure"),
        ("SIGSYS", "Bad system call"),
    ];
    const SIGRTMIN: i32 = 34;
    const SIGRTMAX: i32 = 64;
    match usize::try_from(signo).ok().and_then(|n| SIGNALS.get(n.checked_sub(1)?)) {
        Some((name, text)) => ((*name).to_string(), (*text).to_string()),
        None if (SIGRTMIN..=SIGRTMAX).contains(&signo) => {
            (format!("SIGRTMIN+{}", signo - SIGRTMIN), format!("Real-time signal {}", signo - SIGRTMIN))
        }
        None => (format!("SIG{signo}"), format!("Unknown signal {signo}")),
    }
}

#[cfg(test)]
mod signal_tests {
    use super::signal_names;

    #[test]
    fn every_linux_signal_has_a_name() {
        assert_eq!(signal_names(11), ("SIGSEGV".into(), "Segmentation fault".into()));
        assert_eq!(signal_names(31), ("SIGSYS".into(), "Bad system call".into()));
        assert_eq!(signal_names(24), ("SIGXCPU".into(), "CPU time limit exceeded".into()));
        assert_eq!(signal_names(36).0, "SIGRTMIN+2");
        assert_eq!(signal_names(0).0, "SIG0");
        assert_eq!(signal_names(-5).0, "SIG-5");
        for n in 1..=64 {
            assert!(!signal_names(n).0.contains('?'), "{n}");
        }
    }
}
