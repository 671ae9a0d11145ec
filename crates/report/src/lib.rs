//! The report: one serde model (schema 1, see DESIGN.md "Contracts"), rendered as
//! faulthandler-style text or JSON. Depends on no other pycoroner crate; renderers are
//! tested from hand-built reports.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod escape;
pub mod heap;
pub mod render;
pub mod runtime;
pub mod tasks;

pub use tasks::{AwaitableKind, CoroutineFrame, EventLoop, Task, TaskState, TaskWait, WaitKind};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Current JSON schema number. Additive changes keep it; others bump it. 2: warnings
/// are objects, a thread's `truncated` is a [`WalkStop`] object (README "JSON").
pub const SCHEMA: u32 = 2;

/// Everything pycoroner found about one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
    /// Interpreter state besides the stacks: GIL, GC, finalization, atexit, tracing,
    /// signals, `sys` (README "Interpreter state").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<runtime::Runtime>,
    /// The objects each interpreter's garbage collector tracks, per type (`pycoroner
    /// heap`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heap: Vec<heap::Heap>,
    /// What grew since an earlier census of the same program (`pycoroner heap --diff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_diff: Option<heap::HeapDiff>,
    /// Who refers to one object (`pycoroner referrers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrers: Option<heap::Referrers>,
    /// What could not be read, and why.
    pub warnings: Vec<Warning>,
}

impl Report {
    /// The variables of the first Python frame (of any thread) running `function`,
    /// when the report has them.
    pub fn locals_of(&self, function: &str) -> Vec<&Variable> {
        self.threads
            .iter()
            .flat_map(|t| &t.frames)
            .find_map(|f| match f {
                Frame::Python(p) if p.function.as_deref() == Some(function) => p.locals.as_ref(),
                _ => None,
            })
            .map(|v| v.iter().collect())
            .unwrap_or_default()
    }
}

/// Something the report could not read or had to guess, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    /// What it is about.
    pub kind: WarningKind,
    /// The thread it is about (its `thread_id`), when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<u64>,
    /// One sentence a person can act on.
    pub message: String,
}

impl Warning {
    /// A warning about the whole target.
    pub fn new(kind: WarningKind, message: impl Into<String>) -> Warning {
        Warning { kind, thread: None, message: message.into() }
    }

    /// A warning about one thread.
    pub fn thread(kind: WarningKind, thread: u64, message: impl Into<String>) -> Warning {
        Warning { kind, thread: Some(thread), message: message.into() }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.thread {
            Some(t) => write!(f, "thread 0x{t:016x}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What a [`Warning`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// The core or process itself: damaged notes, a truncated core, threads not stopped.
    Target,
    /// A file the target names (binary, library, debug file): missing, refused, or not
    /// the one the target recorded.
    File,
    /// pycoroner's cache: refused or unusable.
    Cache,
    /// Where the struct layouts came from, or the version read.
    Layout,
    /// A list or chain in the interpreter's memory (interpreters, threads, frames, code
    /// objects, the GIL) that is broken, cyclic or longer than the cap.
    Walk,
    /// Locals or exceptions that could not be read.
    Values,
    /// Native unwinding or the splice of Python frames into native ones.
    Native,
    /// A budget of the analysis (memory read, report size, values rendered) is spent.
    Budget,
    /// `--source`: a source file missing, changed or too large.
    Source,
    /// Which thread crashed is ambiguous.
    Threads,
    /// asyncio tasks (`--tasks`) that could not be read.
    Tasks,
    /// Interpreter state (GIL, GC, atexit, tracing, signals, `sys`) that could not be
    /// read.
    State,
    /// The census of the objects the garbage collector tracks (`pycoroner heap`).
    Heap,
}

/// The analyzed target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// A core file or a live process.
    pub kind: TargetKind,
    /// The core file's path, for a core.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The executable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// Process id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The command line: a core's NT_PRPSINFO (the kernel keeps its first 80 bytes), a
    /// live process's `/proc/PID/cmdline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// The test pytest was running (`PYTEST_CURRENT_TEST` in the process's
    /// `os.environ` at that instant, e.g. `tests/test_x.py::test_y (call)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// The fatal signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
    /// For a live process: how long its threads were stopped, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_ms: Option<f64>,
    /// The core is a minidump (`pycoroner dump`'s, or another writer's), not an ELF core.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub minidump: bool,
}

/// What kind of target a report is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// A core file.
    Core,
    /// A live process.
    Process,
    /// Whatever a debugger has open, read through the debugger.
    Debugger,
}

impl TargetKind {
    /// `core` or `process`, as the report spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Core => "core",
            TargetKind::Process => "process",
            TargetKind::Debugger => "debugger",
        }
    }
}

/// A fatal signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
    /// For SIGSYS from seccomp: the system call number that was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall: Option<i32>,
    /// The fault a signal handler caught first, when the process then died of the
    /// signal the handler raised again (faulthandler does this): read from the kernel's
    /// signal frame on the handler's stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caught: Option<CaughtFault>,
    /// The fault was a C stack overflow: its address lies below the stack mapping of
    /// the thread, next to its stack pointer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_overflow: Option<StackOverflow>,
}

/// A fault a signal handler caught (from the kernel's `siginfo` in the signal frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaughtFault {
    /// Signal number.
    pub number: i32,
    /// `SIGSEGV`.
    pub name: String,
    /// `si_code`.
    pub code: i32,
    /// `si_addr`.
    pub address: u64,
}

/// Where a C stack overflowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackOverflow {
    /// The faulting thread's stack pointer when it faulted.
    pub stack_pointer: u64,
    /// The lowest address of the stack mapping it ran off, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_start: Option<u64>,
}

/// The interpreter's identity and where its layouts came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PythonInfo {
    /// `"3.12.1"` (or `"3.12"` when the micro version is unknown).
    pub version: String,
    /// The module that holds the interpreter (libpython or the executable).
    pub module: String,
    /// Where the struct layouts came from.
    pub layout_source: LayoutSource,
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

/// Where a report's struct layouts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LayoutSource {
    /// The interpreter's DWARF (its binary or a separate debug file).
    Dwarf,
    /// The interpreter's own `_Py_DebugOffsets` (3.13+).
    DebugOffsets,
    /// pycoroner's built-in table for this version and flavour.
    Builtin,
}

impl LayoutSource {
    /// `dwarf`, `debug-offsets` or `builtin`, as the report spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LayoutSource::Dwarf => "dwarf",
            LayoutSource::DebugOffsets => "debug-offsets",
            LayoutSource::Builtin => "builtin",
        }
    }
}

/// One interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interpreter {
    /// `interp->id` (0 = main); absent on 3.6.
    pub id: Option<i64>,
    /// Address of its `PyInterpreterState`.
    pub address: u64,
    /// The `thread_id` of the thread holding this interpreter's GIL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gil_holder: Option<u64>,
    /// Whether its garbage collector was running (`gc.collecting`), when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc_collecting: Option<bool>,
    /// The extension modules it had imported, as faulthandler lists them (3.10+: not
    /// in `sys.stdlib_module_names`), in `sys.modules` order; absent when unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_modules: Option<Vec<String>>,
    /// asyncio event loops with tasks that no thread is running (`--tasks`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idle_loops: Vec<EventLoop>,
}

/// One thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<WalkStop>,
    /// The asyncio event loop this thread runs, with its tasks (`--tasks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_loop: Option<EventLoop>,
}

/// Why a walk stopped before the end of its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WalkStop {
    /// The reason.
    pub reason: StopReason,
    /// Where: the element linking back (cycle) or the one that could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<u64>,
    /// The same in words.
    pub message: String,
}

/// Why a walk stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// A link pointed back to an element already visited.
    Cycle,
    /// A link or element could not be read.
    Broken,
    /// The walk reached its cap of elements.
    Cap,
    /// The report's size budget is spent.
    Budget,
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Frame {
    /// A Python frame.
    Python(PythonFrame),
    /// A native frame.
    Native(NativeFrame),
}

/// A Python frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PythonFrame {
    /// `co_name` (`None` when unreadable; rendered `???`).
    pub function: Option<String>,
    /// `co_qualname` (3.11+), when known.
    pub qualname: Option<String>,
    /// `co_filename`.
    pub file: Option<String>,
    /// Line being executed.
    pub line: Option<u32>,
    /// The source line being executed, stripped, read from the file as it is now
    /// (with `--source`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// How the frame binds it.
    pub kind: VariableKind,
    /// The value's type name.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// The value's address.
    pub address: u64,
    /// The value rendered like `repr()`.
    pub repr: String,
    /// The value's reference count (`--refcounts`; `sys.getrefcount` gives one more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refcount: Option<i64>,
    /// The value is immortal (3.12+, `--refcounts`): its count means nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immortal: bool,
}

/// How a frame binds a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VariableKind {
    /// An argument.
    Arg,
    /// A local variable.
    Local,
    /// A cell variable (captured by an inner function).
    Cell,
    /// A free variable (captured from an outer function).
    Free,
}

/// An exception a thread is raising or handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionInfo {
    /// In flight, or being handled.
    pub state: ExceptionState,
    /// The exception's type name.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// `str()` of the exception, as a traceback shows it.
    pub message: Option<String>,
    /// The exception object's address.
    pub address: u64,
    /// The exceptions this one followed, newest first, as a traceback prints them
    /// (oldest first, each with its sentence): its `__cause__`, or its `__context__`
    /// unless suppressed, then theirs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ChainedException>,
}

/// Where an exception is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionState {
    /// Being raised (in flight).
    Raised,
    /// Being handled (inside `except` or `finally`).
    Handled,
}

/// An exception earlier in a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainedException {
    /// How the exception after it followed it.
    pub relation: Relation,
    /// Its type name.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// `str()` of it, as a traceback shows it.
    pub message: Option<String>,
    /// Its address.
    pub address: u64,
}

/// How an exception followed the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// `raise ... from` it: its `__cause__`.
    Cause,
    /// Raised while it was handled: its `__context__`.
    Context,
}

/// A native frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
    /// How this frame was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unwind: Option<Unwind>,
}

/// How a native frame was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Unwind {
    /// The thread's registers.
    Context,
    /// The caller's call frame information.
    Cfi,
    /// The frame pointer chain (no CFI covered the callee: less certain).
    FramePointer,
    /// The kernel's signal frame (ucontext).
    Signal,
    /// A function that jumped to the next one and left no frame, built from DWARF
    /// call sites as gdb builds it.
    TailCall,
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

/// True for a signal whose default action ends the process (all but the stop, continue
/// and ignore-by-default ones). A core whose signal is not fatal is a snapshot: gdb's
/// `gcore` records the SIGSTOP it stopped the process with.
pub fn signal_is_fatal(signo: i32) -> bool {
    !matches!(signo, 17..=23 | 28)
}

/// `si_code` as the kernel names it, and what it means, for the faults it raises and
/// for signals sent by a process (`SI_USER`, `SI_TKILL`, ...).
pub fn signal_code(signo: i32, code: i32) -> Option<(&'static str, &'static str)> {
    Some(match (signo, code) {
        (11, 1) => ("SEGV_MAPERR", "address not mapped to object"),
        (11, 2) => ("SEGV_ACCERR", "invalid permissions for mapped object"),
        (11, 3) => ("SEGV_BNDERR", "failed address bound checks"),
        (11, 4) => ("SEGV_PKUERR", "failed protection key checks"),
        (7, 1) => ("BUS_ADRALN", "invalid address alignment"),
        (7, 2) => ("BUS_ADRERR", "nonexistent physical address"),
        (7, 3) => ("BUS_OBJERR", "object-specific hardware error (a mapped file shrank?)"),
        (7, 4) => ("BUS_MCEERR_AR", "hardware memory error consumed"),
        (7, 5) => ("BUS_MCEERR_AO", "hardware memory error detected"),
        (8, 1) => ("FPE_INTDIV", "integer divide by zero"),
        (8, 2) => ("FPE_INTOVF", "integer overflow"),
        (8, 3) => ("FPE_FLTDIV", "floating-point divide by zero"),
        (8, 4) => ("FPE_FLTOVF", "floating-point overflow"),
        (8, 5) => ("FPE_FLTUND", "floating-point underflow"),
        (8, 6) => ("FPE_FLTRES", "floating-point inexact result"),
        (8, 7) => ("FPE_FLTINV", "floating-point invalid operation"),
        (8, 8) => ("FPE_FLTSUB", "subscript out of range"),
        (4, 1) => ("ILL_ILLOPC", "illegal opcode"),
        (4, 2) => ("ILL_ILLOPN", "illegal operand"),
        (4, 3) => ("ILL_ILLADR", "illegal addressing mode"),
        (4, 4) => ("ILL_ILLTRP", "illegal trap"),
        (4, 5) => ("ILL_PRVOPC", "privileged opcode"),
        (4, 6) => ("ILL_PRVREG", "privileged register"),
        (4, 7) => ("ILL_COPROC", "coprocessor error"),
        (4, 8) => ("ILL_BADSTK", "internal stack error"),
        (5, 1) => ("TRAP_BRKPT", "process breakpoint"),
        (5, 2) => ("TRAP_TRACE", "process trace trap"),
        (5, 3) => ("TRAP_BRANCH", "process taken branch trap"),
        (5, 4) => ("TRAP_HWBKPT", "hardware breakpoint or watchpoint"),
        (31, 1) => ("SYS_SECCOMP", "a system call refused by seccomp"),
        (_, 0) => ("SI_USER", "sent by kill()"),
        (_, 0x80) => ("SI_KERNEL", "sent by the kernel"),
        (_, -1) => ("SI_QUEUE", "sent by sigqueue()"),
        (_, -2) => ("SI_TIMER", "a POSIX timer expired"),
        (_, -3) => ("SI_MESGQ", "a message queue state changed"),
        (_, -4) => ("SI_ASYNCIO", "asynchronous I/O completed"),
        (_, -6) => ("SI_TKILL", "sent by tkill() or raise()"),
        _ => return None,
    })
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
