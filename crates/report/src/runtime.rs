//! Interpreter state (`runtime` in JSON, "Interpreter state" in text): what CPython was
//! doing besides running frames. Every part is absent when the version has no such
//! thing, and absent with a warning when it could not be read; present and empty when
//! read and empty.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The runtime's state and each interpreter's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// The runtime is being finalized (`Py_FinalizeEx`), by this thread state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizing: Option<Finalizing>,
    /// The C functions registered with `Py_AtExit`, in registration order (they run
    /// last first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_atexit: Option<Vec<CFunction>>,
    /// The `PyRefTracer` installed (3.13+), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_tracer: Option<CFunction>,
    /// Python-level signal handlers and signals not handled yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
    /// Calls queued with `Py_AddPendingCall` and not run yet, oldest first: the
    /// runtime's queue (3.6–3.8; 3.12+ the main thread's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_calls: Option<Vec<PendingCall>>,
    /// Each interpreter's state, in the report's interpreter order.
    pub interpreters: Vec<InterpreterRuntime>,
    /// Parts this build does not let pycoroner read, and why (a stripped binary lacks
    /// the static variables older versions keep them in). A part that could not be
    /// read from memory is a warning instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

/// A call queued with `Py_AddPendingCall`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingCall {
    /// The C function.
    pub function: CFunction,
    /// Its argument (a pointer).
    pub arg: u64,
}

/// Who is finalizing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finalizing {
    /// The thread state doing it.
    pub thread_state: u64,
    /// Its thread (`thread_id`), when it is one of the report's threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<u64>,
}

/// A C function pointer found in the runtime, symbolized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CFunction {
    /// Its address.
    pub address: u64,
    /// The function's name, when a symbol covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The module (file name) it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

/// Signal handlers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// Every signal with a handler installed at the Python level, in signal order
    /// (`signal.getsignal(N)` is the handler; `SIG_DFL`/`SIG_IGN` ones are left out).
    pub handlers: Vec<SignalHandler>,
    /// A signal arrived and its Python handler has not run yet (`is_tripped`).
    pub pending: bool,
}

/// One signal's Python-level handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalHandler {
    /// The signal number.
    pub number: i32,
    /// Its name (`SIGTERM`).
    pub name: String,
    /// `repr()` of the handler.
    pub handler: String,
    /// CPython's own default for this signal (`default_int_handler` for SIGINT).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Arrived, its handler not run yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tripped: bool,
}

/// One interpreter's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterpreterRuntime {
    /// `interp->id` (absent on 3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// This interpreter is being finalized (3.8+); by which thread state where
    /// recorded (3.12+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizing: Option<bool>,
    /// The thread state finalizing it (3.12+), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizing_thread: Option<Finalizing>,
    /// Its GIL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil: Option<Gil>,
    /// Its garbage collector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc: Option<Gc>,
    /// The `atexit.register` callbacks, in registration order (they run last first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atexit: Option<Vec<AtexitCallback>>,
    /// `threading.settrace` / `threading.setprofile` hooks (for threads started later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threading_hooks: Option<ThreadingHooks>,
    /// `sys.monitoring` tools in use (3.12+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Vec<MonitoringTool>>,
    /// Each thread state's tracing and its `threading.Thread`, in thread list order.
    #[serde(default)]
    pub threads: Vec<ThreadRuntime>,
    /// Locks held now (`_thread.lock` and `_thread.RLock`), as found in `__main__`'s
    /// globals and the threads' frame locals (a Condition's through its `_lock`; with
    /// `--state`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<HeldLock>,
    /// Threads that wait on each other: each cycle of "waits on a lock its owner
    /// holds" (`thread_id`s, starting from the lowest), from `waits.owner`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlocks: Vec<Vec<u64>>,
    /// This interpreter's queue of pending calls not run yet (3.9+), oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_calls: Option<Vec<PendingCall>>,
    /// `sys` and the process as this interpreter sees them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
}

/// A GIL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gil {
    /// Locked now.
    pub locked: bool,
    /// The thread holding it (`thread_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<u64>,
    /// The thread that held it last (`thread_id`), locked or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_holder: Option<u64>,
    /// The switch interval in microseconds (`sys.getswitchinterval()` × 10⁶).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_us: Option<u64>,
    /// Another thread asked the holder to drop it (`gil_drop_request`; 3.13+ the
    /// holder's `eval_breaker` bit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_request: Option<bool>,
    /// Threads whose native stack waits in `take_gil` (with native frames only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<u64>,
}

/// A garbage collector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gc {
    /// `gc.isenabled()`, where readable (not on 3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A collection is running; the thread running it is the GIL holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collecting: Option<bool>,
    /// The generation being collected (what `gc.callbacks` get as `generation`): the
    /// `generation` argument of the collector's C function in the thread collecting,
    /// read from its native frame with the DWARF (absent when it cannot be read:
    /// `unavailable` says why when the build cannot tell, a warning when the target
    /// could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u8>,
    /// The thread whose native stack runs the collection (`thread_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collecting_thread: Option<u64>,
    /// `gc.get_threshold()`.
    pub thresholds: Vec<i32>,
    /// `gc.get_count()`.
    pub counts: Vec<i32>,
    /// Objects found uncollectable, over all collections (`gc.get_stats()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncollectable: Option<i64>,
    /// `len(gc.garbage)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garbage: Option<u64>,
    /// `repr()` of each of `gc.callbacks`.
    #[serde(default)]
    pub callbacks: Vec<String>,
}

/// One `atexit.register(func, *args, **kwargs)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AtexitCallback {
    /// `repr(func)`.
    pub function: String,
    /// `repr(args)` (a tuple).
    pub args: String,
    /// `repr(kwargs)`, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kwargs: Option<String>,
}

/// `threading`'s hooks for new threads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadingHooks {
    /// `repr()` of `threading.gettrace()`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// `repr()` of `threading.getprofile()`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// A registered `sys.monitoring` tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringTool {
    /// Its id (0–7).
    pub id: u8,
    /// The name it registered with (`sys.monitoring.get_tool(id)`); none for the ids
    /// `sys.settrace` (7) and `sys.setprofile` (6) use without registering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `sys.monitoring.get_events(id)`: the global events it is subscribed to.
    pub events: u64,
    /// Their names (`sys.monitoring.events`).
    pub event_names: Vec<String>,
    /// Code objects it set local events on (`sys.monitoring.set_local_events`), among
    /// those running on a thread's stack and the functions of `__main__` (with
    /// `--state`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_events: Vec<LocalEvents>,
}

/// A tool's local events on one code object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalEvents {
    /// The code object's address.
    pub code: u64,
    /// Its qualified name.
    pub name: String,
    /// Its file.
    pub file: String,
    /// `co_firstlineno`.
    pub line: i32,
    /// `sys.monitoring.get_local_events(tool, code)`.
    pub events: u64,
    /// Their names.
    pub event_names: Vec<String>,
}

/// A thread state's tracing, and its `threading.Thread`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadRuntime {
    /// `thread_id`, as the thread is listed.
    pub thread_id: u64,
    /// `Thread.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Thread.daemon`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<bool>,
    /// The C trace function (`PyEval_SetTrace`, `sys.settrace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Hook>,
    /// The C profile function (`PyEval_SetProfile`, `sys.setprofile`, cProfile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Hook>,
    /// What it waits on in `threading` or `queue` (`Event.wait`, `Condition.wait`,
    /// `Queue.get`, `Thread.join`, `Semaphore.acquire`, `Barrier.wait`...), or the
    /// `_thread.lock`/`RLock` its own code acquires (`lock.acquire()`, `with lock:`;
    /// known with native frames only). With `--state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits: Option<Waiting>,
}

/// A thread blocked in a `threading` or `queue` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiting {
    /// The call the thread's own code made (`Event.wait`).
    pub call: String,
    /// Address of the object it waits on.
    pub address: u64,
    /// It, as `object.__repr__` writes it: `<threading.Event object at 0x...>`.
    pub object: String,
    /// The thread holding it, where the object records one (an RLock's owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<u64>,
}

/// A lock held now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeldLock {
    /// Where it was found (`global a`, `local lock in worker`, `cond._lock`).
    pub name: String,
    /// Its address.
    pub address: u64,
    /// `repr()` of it (an RLock's names its owner and count).
    pub object: String,
    /// An RLock's owner (`thread_id`); a plain lock records none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<u64>,
}

/// A C trace or profile function and the object it was installed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// The C function.
    pub function: CFunction,
    /// `repr()` of its object: for CPython's trampolines, the Python callable given to
    /// `sys.settrace`/`sys.setprofile` (`sys.gettrace()`); for cProfile, the profiler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

/// The process as `sys` saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// `repr(sys.argv)` (read with `--state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<String>,
    /// `sys.executable` (read with `--state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// `sys.flags`, each `(name, repr(value))`, in order.
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// `repr(sys._xoptions)` (`-X` options), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xoptions: Option<String>,
    /// `sys.getrecursionlimit()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursion_limit: Option<i32>,
    /// Extension modules imported (C code with methods), in `sys.modules` order (with
    /// `--state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_modules: Option<Vec<ExtensionModule>>,
}

/// One of `sys.flags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// Its name.
    pub name: String,
    /// `repr()` of its value.
    pub value: String,
    /// It differs from what the interpreter starts with when given no option.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
}

/// An imported extension module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionModule {
    /// Its `sys.modules` name.
    pub name: String,
    /// `__file__`, absent for a built-in module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// CPython's default switch interval (5 ms).
pub const DEFAULT_SWITCH_INTERVAL_US: u64 = 5000;
/// CPython's default recursion limit.
pub const DEFAULT_RECURSION_LIMIT: i32 = 1000;
