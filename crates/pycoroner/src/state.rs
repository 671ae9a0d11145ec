//! The report's `runtime`: the interpreter state read by `pycoroner_cpython::state`
//! (numbers and addresses) and the objects it points to rendered, then its C
//! functions symbolized once native symbols are at hand.

use pycoroner_cpython::repr::{Renderer, ThreadingThread};
use pycoroner_cpython::snapshot::Snapshot;
use pycoroner_cpython::state::{monitoring_events, AtexitRaw, MONITORING_TOOLS};
use pycoroner_cpython::{Error, Python};
use pycoroner_process::RemoteAddr;
use pycoroner_report::runtime::{
    AtexitCallback, CFunction, ExtensionModule, Finalizing, Flag, Gc, Gil, HeldLock, Hook, InterpreterRuntime, LocalEvents, MonitoringTool, PendingCall,
    Process, Runtime, SignalHandler, Signals, ThreadRuntime, ThreadingHooks, Waiting,
};
use pycoroner_report::{Thread, Warning, WarningKind};

/// Turn a part's read into its value, or a warning naming what could not be read.
fn part<T>(what: &str, r: Option<Result<T, Error>>, warnings: &mut Vec<Warning>) -> Option<T> {
    match r? {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(Warning::new(WarningKind::State, format!("cannot read {what}: {e}")));
            None
        }
    }
}

fn c_function(address: RemoteAddr) -> CFunction {
    CFunction { address: address.0, function: None, module: None }
}

fn pending_calls(calls: Vec<(RemoteAddr, RemoteAddr)>) -> Vec<PendingCall> {
    calls.into_iter().map(|(f, arg)| PendingCall { function: c_function(f), arg: arg.0 }).collect()
}

/// What reading the state needs besides the runtime and its snapshot.
pub(crate) struct Context<'a> {
    /// The minor version (3.minor).
    pub minor: u8,
    /// `PyCell_Type`, to read frame locals.
    pub cell_type: Option<RemoteAddr>,
    /// Each interpreter's `threading` threads, in snapshot order.
    pub threading: &'a [Vec<ThreadingThread>],
    /// `--state`: also the costly parts.
    pub full: bool,
    /// `sys.flags`' field names, when the layout cache has them.
    pub flag_names: Option<&'a [String]>,
}

/// Read the runtime's and every interpreter's state, naming thread states by the
/// `thread_id` of the snapshot's threads.
/// Also `sys.flags`' field names when they were read from memory (for the layout
/// cache).
pub(crate) fn read(py: &Python<'_>, renderer: &Renderer<'_>, snapshot: &Snapshot, cx: &Context<'_>, warnings: &mut Vec<Warning>) -> (Runtime, Acquires, Option<Vec<String>>) {
    let Context { minor, cell_type, threading, full, flag_names } = *cx;
    let mut names_read = None;
    let thread_of = |ts: RemoteAddr| -> Option<Finalizing> {
        (!ts.is_null()).then(|| Finalizing {
            thread_state: ts.0,
            thread_id: snapshot.interpreters.iter().flat_map(|i| &i.threads).find(|t| t.state.addr == ts).map(|t| t.state.thread_id),
        })
    };
    let mut acquires = Vec::new();
    let raw = py.runtime_state();
    // Each version keeps its pending calls in the runtime, its interpreters, or both.
    let mut pending_absent = raw.pending.is_none();
    let mut runtime = Runtime {
        finalizing: part("the runtime's finalizing thread", raw.finalizing, warnings).and_then(thread_of),
        c_atexit: part("Py_AtExit's functions", raw.exitfuncs, warnings).map(|f| f.into_iter().map(c_function).collect()),
        ref_tracer: part("the reference tracer", raw.ref_tracer, warnings).filter(|f| !f.is_null()).map(c_function),
        signals: None,
        pending_calls: part("the pending calls", raw.pending, warnings).map(pending_calls),
        interpreters: Vec::new(),
        unavailable: Vec::new(),
    };
    // Every version has both: the runtime's fields, else statics found by symbol.
    if raw.signals.is_none() {
        runtime.unavailable.push("signal handlers: this build has no symbol `Handlers` (a stripped binary with no debug file)".into());
    }
    if let Some((handlers, pending)) = part("the signal handlers", raw.signals, warnings) {
        let none = renderer.known_none();
        let mut installed = std::collections::HashMap::new();
        // SIGINT's default handler, told by identity: its repr would read its name from
        // the binary's file, a cost every report would pay.
        let default_int = snapshot
            .interpreters
            .first()
            .and_then(|i| py.sys_dicts(&i.state).0)
            .and_then(|m| renderer.module_dict(m, "_signal"))
            .and_then(|d| renderer.dict_get_str(d, DEFAULT_INT_HANDLER));
        let handlers = handlers
            .into_iter()
            .filter(|(_, _, func)| !func.is_null())
            // SIG_DFL and SIG_IGN are the ints 0 and 1; None is a handler not installed
            // from Python (`signal.getsignal` gives None).
            // (Most signals share one object, the int 0 or 1: each looked at once.)
            .filter(|(_, _, func)| *installed.entry(*func).or_insert_with(|| renderer.int_as_u64(*func).is_none() && none != Some(*func)))
            .map(|(number, tripped, func)| {
                let default = number == 2 && default_int == Some(func);
                let handler = if default && !full { format!("<built-in function {DEFAULT_INT_HANDLER}>") } else { renderer.repr(func) };
                SignalHandler { number, name: pycoroner_report::signal_names(number).0, handler, default, tripped }
            })
            .collect();
        runtime.signals = Some(Signals { handlers, pending });
    }
    for (n, interp) in snapshot.interpreters.iter().enumerate() {
        let raw = py.interpreter_raw(&interp.state);
        pending_absent &= raw.pending.is_none();
        let (sys_modules, sysdict) = py.sys_dicts(&interp.state);
        let mut ir = InterpreterRuntime { id: interp.state.id, ..Default::default() };
        ir.finalizing = part("whether the interpreter is finalizing", raw.finalizing, warnings);
        ir.finalizing_thread = part("the interpreter's finalizing thread", raw.finalizing_tstate, warnings).and_then(thread_of);

        let tid = |ts: Option<RemoteAddr>| ts.and_then(|h| interp.threads.iter().find(|t| t.state.addr == h)).map(|t| t.state.thread_id);
        let holder = interp.gil_holder.as_ref().ok().copied().flatten();
        ir.gil = Some(Gil {
            locked: holder.is_some(),
            holder: tid(holder),
            last_holder: tid(interp.gil_last_holder),
            interval_us: part("the GIL's switch interval", raw.gil_interval, warnings),
            drop_request: part("the GIL's drop request", raw.gil_drop_request, warnings),
            waiting: Vec::new(),
        });
        let gc_lists = sys_modules.and_then(|m| renderer.gc_lists(m));
        ir.gc = part("the garbage collector's state", raw.gc, warnings).map(|g| Gc {
            enabled: g.enabled,
            collecting: interp.gc_collecting,
            generation: None,
            collecting_thread: None,
            thresholds: g.thresholds,
            counts: g.counts,
            uncollectable: g.uncollectable,
            garbage: gc_lists.as_ref().and_then(|(_, n)| *n),
            callbacks: gc_lists.map(|(c, _)| c).unwrap_or_default(),
        });
        let records = match raw.atexit {
            Some(r) => part("the atexit callbacks", Some(r.and_then(|a| match a {
                AtexitRaw::Records(r) => Ok(r),
                AtexitRaw::List(list) => renderer.atexit_list(list, pycoroner_cpython::state::MAX_ATEXIT),
            })), warnings),
            // ≤3.9: in the atexit module's state, when the module is imported (it
            // always is: site imports it).
            None => sys_modules.and_then(|m| renderer.module_object(m, "atexit")).and_then(|module| part("the atexit callbacks", Some(py.atexit_module_records(module)), warnings)),
        };
        if records.as_ref().is_some_and(|r| r.len() >= pycoroner_cpython::state::MAX_ATEXIT) {
            warnings.push(Warning::new(WarningKind::State, format!("only the first {} atexit callbacks are shown", pycoroner_cpython::state::MAX_ATEXIT)));
        }
        ir.atexit = records.map(|r| {
            r.into_iter()
                .map(|(f, a, k)| AtexitCallback {
                    function: renderer.repr(f),
                    args: renderer.repr(a),
                    kwargs: (!k.is_null() && renderer.known_none() != Some(k) && !renderer.is_empty_dict(k)).then(|| renderer.repr(k)),
                })
                .collect()
        });
        ir.threading_hooks = sys_modules.and_then(|m| renderer.threading_hooks(m)).map(|(trace, profile)| ThreadingHooks { trace, profile });

        let events = py.models().monitoring_events;
        let event_names = |mask: u64| -> Vec<String> {
            (0..64).filter(|b| mask >> b & 1 == 1).map(|b| events.get(b).map_or_else(|| format!("event {b}"), |n| (*n).to_string())).collect()
        };
        ir.monitoring = part("sys.monitoring's tools", raw.monitoring, warnings).map(|(tools, names)| {
            (0..MONITORING_TOOLS)
                .filter_map(|id| {
                    let name = names.get(id).copied().filter(|n| !n.is_null() && renderer.known_none() != Some(*n)).map(|n| renderer.str_of(n));
                    let mask = monitoring_events(&tools, id);
                    (name.is_some() || mask != 0).then(|| MonitoringTool {
                        id: id as u8,
                        name,
                        events: mask,
                        event_names: event_names(mask),
                        local_events: Vec::new(),
                    })
                })
                .collect()
        });

        if let Some(tools) = ir.monitoring.as_mut().filter(|t| full && !t.is_empty()) {
            for (code, info, bits) in local_events(py, renderer, sys_modules, interp) {
                for t in tools.iter_mut() {
                    let mask = monitoring_events(&bits, usize::from(t.id));
                    if mask != 0 {
                        t.local_events.push(LocalEvents {
                            code: code.0,
                            name: info.qualname.clone().or_else(|| info.name.clone().ok()).unwrap_or_default(),
                            file: info.filename.clone().unwrap_or_default(),
                            line: info.firstlineno,
                            events: mask,
                            event_names: event_names(mask),
                        });
                    }
                }
            }
        }
        let threading = threading.get(n).map(Vec::as_slice).unwrap_or_default();
        for ts in &interp.threads {
            let known = threading.iter().find(|t| t.ident == ts.state.thread_id);
            let mut tr = ThreadRuntime {
                thread_id: ts.state.thread_id,
                name: known.and_then(|t| t.name.clone()),
                daemon: known.and_then(|t| t.daemon),
                trace: None,
                profile: None,
                waits: if full { waiting(py, renderer, &ts.walk.frames, cell_type) } else { None },
            };
            if full && tr.waits.is_none() {
                if let Some(w) = acquire_candidate(py, renderer, &ts.walk.frames, ts.state.thread_id) {
                    acquires.push((ts.state.thread_id, w));
                }
            }
            match py.tracing(&ts.state) {
                Ok(t) => {
                    let hook = |(func, obj): (RemoteAddr, RemoteAddr)| {
                        (!func.is_null()).then(|| Hook { function: c_function(func), object: (!obj.is_null()).then(|| renderer.repr(obj)) })
                    };
                    tr.trace = hook(t.trace);
                    tr.profile = hook(t.profile);
                }
                Err(e) => warnings.push(Warning::thread(WarningKind::State, ts.state.thread_id, format!("cannot read the thread's trace and profile functions: {e}"))),
            }
            ir.threads.push(tr);
        }

        if full {
            ir.locks = held_locks(py, renderer, sys_modules, interp, cell_type);
        }
        ir.pending_calls = part("the interpreter's pending calls", raw.pending, warnings).map(pending_calls);

        let recursion_limit = part("the recursion limit", raw.recursion_limit, warnings);
        ir.process = sysdict.map(|d| {
            // argv and executable only with --state (the text shows them only there; the
            // header has the command line).
            let sys = renderer.sys_view(d, full, flag_names);
            if sys.flag_names_read && names_read.is_none() {
                names_read = Some(sys.flags.iter().map(|(n, _)| n.clone()).collect());
            }
            Process {
                argv: sys.argv,
                executable: sys.executable,
                flags: sys
                    .flags
                    .into_iter()
                    .map(|(name, value)| Flag { changed: !pycoroner_cpython::models::flag_is_default(&name, &value, minor), name, value })
                    .collect(),
                xoptions: sys.xoptions,
                recursion_limit,
                extension_modules: sys_modules
                    .filter(|_| full)
                    .and_then(|m| renderer.all_extension_modules(m))
                    .map(|mods| mods.into_iter().map(|(name, file)| ExtensionModule { name, file }).collect()),
            }
        });
        runtime.interpreters.push(ir);
    }
    if pending_absent {
        // 3.6 keeps them in statics: a stripped binary has no symbol for them.
        runtime.unavailable.push("pending calls: this build has no symbol `pendingcalls` (a stripped binary with no debug file)".into());
    }
    (runtime, acquires, names_read)
}

/// `_signal.default_int_handler`, SIGINT's handler unless a program sets another.
const DEFAULT_INT_HANDLER: &str = "default_int_handler";

/// Threads whose newest frame may be acquiring a lock in C: the thread and the lock,
/// told apart from a thread blocked in anything else only by its native frames.
pub(crate) type Acquires = Vec<(u64, Waiting)>;

/// Native functions a thread runs while it blocks acquiring a `_thread.lock` or
/// `RLock` (its `acquire`, or `__enter__` of a `with`): pthread semaphores ≤3.13,
/// `PyMutex` and the parking lot 3.13+ (a stripped build exports only
/// `_PySemaphore_Wait` of these).
const ACQUIRE_FUNCTIONS: &[&str] = &[
    "PyThread_acquire_lock_timed",
    "acquire_timed",
    "lock_PyThread_acquire_lock",
    "rlock_acquire",
    "_PyMutex_LockTimed",
    "_PyRecursiveMutex_LockTimed",
    "_PyParkingLot_Park",
    "_PySemaphore_Wait",
];
/// Built-in methods that acquire the lock they are bound to (3.6 calls a bound
/// method: the lock itself is not on the stack).
const ACQUIRE_METHODS: &[&str] = &["acquire", "__enter__", "acquire_lock"];

/// The lock a thread's newest frame would be blocked on if it were in a C-level
/// acquire: the one lock on its value stack (or bound to an `acquire` method there)
/// that is taken, and not by this thread. Several, or none: no answer.
fn acquire_candidate(py: &Python<'_>, renderer: &Renderer<'_>, frames: &[pycoroner_cpython::PyFrame], thread_id: u64) -> Option<Waiting> {
    let newest = frames.first()?;
    let stack = py.value_stack(newest).ok()?;
    // ≤3.11, in a `with`'s `__enter__`: only the bound `__exit__` is on the stack (out
    // of the `with`'s first instruction, such an `__exit__` belongs to a `with` whose
    // body runs).
    let setup_with = py.models().setup_with;
    let entering = setup_with.is_some() && py.current_opcode(newest).ok().flatten() == setup_with;
    let mut found: Vec<(RemoteAddr, Option<u64>)> = Vec::new();
    for v in stack {
        let (lock, state) = match renderer.lock_state(v) {
            Some(state) => (v, state),
            None => match renderer.bound_builtin(v) {
                Some((name, slf)) if ACQUIRE_METHODS.contains(&name.as_str()) || (entering && name == "__exit__") => match renderer.lock_state(slf) {
                    Some(state) => (slf, state),
                    None => continue,
                },
                _ => continue,
            },
        };
        if state.locked && !(state.reentrant && state.owner == thread_id) && !found.iter().any(|(l, _)| *l == lock) {
            found.push((lock, (state.reentrant && state.owner != 0).then_some(state.owner)));
        }
    }
    match found[..] {
        [(lock, owner)] => {
            // `RLock.acquire`, as a static type's `tp_name` (`_thread.RLock`) or a heap
            // type's name (3.12+) says it.
            let ty = renderer.type_name(lock).unwrap_or_else(|_| "?".into());
            let ty = ty.rsplit('.').next().unwrap_or(&ty);
            Some(Waiting { call: format!("{ty}.acquire"), address: lock.0, object: renderer.repr(lock), owner })
        }
        _ => None,
    }
}

/// The `threading` calls a thread can block in: its newest frame runs one of these
/// functions of `threading.py` (Condition.wait under Event.wait, Queue.get,
/// Semaphore.acquire and Barrier.wait; Thread.join's own waits).
const BLOCKING: &[&str] = &["wait", "_wait_for_tstate_lock", "join", "acquire", "_wait"];
/// Modules whose frames stand between a blocked thread and its own code.
const WAIT_MODULES: &[&str] = &["/threading.py", "/queue.py"];
/// Newest frames of each thread whose locals are searched for locks.
const LOCK_FRAMES: usize = 32;
/// Most values looked at for locks in all (a corrupt frame may claim many locals).
const LOCK_CANDIDATES: usize = 100_000;
/// Most held locks listed.
const MAX_LOCKS: usize = 256;

fn frame_file(f: &pycoroner_cpython::PyFrame) -> Option<&str> {
    f.info.as_ref().ok().and_then(|i| i.filename.as_deref().ok())
}

fn frame_local(py: &Python<'_>, f: &pycoroner_cpython::PyFrame, cell_type: Option<RemoteAddr>, name: &str) -> Option<RemoteAddr> {
    py.locals(f, cell_type).ok()?.into_iter().find(|l| l.name == name).map(|l| l.value).filter(|v| !v.is_null())
}

/// What a thread waits on: when its newest frame is a blocking call of `threading`,
/// the `self` of the outermost `threading`/`queue` frame above its own code (an
/// Event's wait runs a Condition's: the Event is what the thread's code waits on).
fn waiting(py: &Python<'_>, renderer: &Renderer<'_>, frames: &[pycoroner_cpython::PyFrame], cell_type: Option<RemoteAddr>) -> Option<Waiting> {
    let in_wait_module = |f: &pycoroner_cpython::PyFrame| frame_file(f).is_some_and(|n| WAIT_MODULES.iter().any(|m| n.ends_with(m)));
    let newest = frames.first()?;
    let name = newest.info.as_ref().ok()?.name.as_deref().ok()?;
    if !frame_file(newest)?.ends_with("/threading.py") || !BLOCKING.contains(&name) {
        return None;
    }
    let outer = frames.iter().take_while(|f| in_wait_module(f)).last()?;
    let object = frame_local(py, outer, cell_type, "self")?;
    let info = outer.info.as_ref().ok()?;
    let func = info.name.as_deref().ok()?;
    let call = info.qualname.clone().unwrap_or_else(|| format!("{}.{func}", renderer.type_name(object).unwrap_or_else(|_| "?".into())));
    // The object by its type and address: its repr() would spell out every attribute.
    Some(Waiting { call, address: object.0, object: renderer.object_label(object), owner: None })
}

/// Most code objects whose local `sys.monitoring` events are read.
const MAX_CODES: usize = 10_000;

/// The code objects running on the interpreter's threads and the functions of
/// `__main__`, each once, with their local events (those that have any).
fn local_events(
    py: &Python<'_>,
    renderer: &Renderer<'_>,
    sys_modules: Option<RemoteAddr>,
    interp: &pycoroner_cpython::snapshot::InterpreterSnapshot,
) -> Vec<(RemoteAddr, std::rc::Rc<pycoroner_cpython::CodeInfo>, Vec<u8>)> {
    let mut codes: Vec<RemoteAddr> = interp.threads.iter().flat_map(|t| t.walk.frames.iter().map(|f| f.code)).collect();
    if let Some(globals) = sys_modules.and_then(|m| renderer.module_dict(m, "__main__")) {
        codes.extend(renderer.dict_items_all(globals).unwrap_or_default().into_iter().filter_map(|(_, v)| renderer.function_code(v)));
    }
    let mut seen = std::collections::HashSet::new();
    codes
        .into_iter()
        .filter(|c| seen.insert(*c))
        .take(MAX_CODES)
        .filter_map(|c| {
            let bits = py.code_local_events(c)?.ok().filter(|b| b.iter().any(|&x| x != 0))?;
            Some((c, py.code(c).ok()?, bits))
        })
        .collect()
}

/// The locks held now among `__main__`'s globals and each thread's newest frames'
/// locals (a `Condition`'s through its `_lock`), each once.
fn held_locks(
    py: &Python<'_>,
    renderer: &Renderer<'_>,
    sys_modules: Option<RemoteAddr>,
    interp: &pycoroner_cpython::snapshot::InterpreterSnapshot,
    cell_type: Option<RemoteAddr>,
) -> Vec<HeldLock> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut looked = 0usize;
    let mut consider = |name: String, v: RemoteAddr, out: &mut Vec<HeldLock>| {
        looked = looked.saturating_add(1);
        if looked > LOCK_CANDIDATES || out.len() >= MAX_LOCKS {
            return;
        }
        let (v, name, state) = match renderer.lock_state(v) {
            Some(state) => (v, name, state),
            None if renderer.type_name(v).is_ok_and(|t| t == "Condition") => {
                let Some((l, state)) = renderer.attribute(v, "_lock").and_then(|l| Some((l, renderer.lock_state(l)?))) else { return };
                (l, format!("{name}._lock"), state)
            }
            None => return,
        };
        if !state.locked {
            return;
        }
        if !seen.insert(v) {
            return;
        }
        let owner = (state.reentrant && state.owner != 0).then_some(state.owner);
        out.push(HeldLock { name, address: v.0, object: renderer.repr(v), owner });
    };
    if let Some(globals) = sys_modules.and_then(|m| renderer.module_dict(m, "__main__")) {
        for (k, v) in renderer.dict_items_all(globals).unwrap_or_default() {
            let name = renderer.str_of(k);
            consider(format!("global {name}"), v, &mut out);
        }
    }
    for ts in &interp.threads {
        for f in ts.walk.frames.iter().take(LOCK_FRAMES) {
            let func = f.info.as_ref().ok().and_then(|i| i.name.as_deref().ok()).unwrap_or("?").to_string();
            for l in py.locals(f, cell_type).unwrap_or_default() {
                consider(format!("local {} in {func}", l.name), l.value, &mut out);
            }
        }
    }
    out
}

/// Name every C function of the state; which threads wait for their GIL (a
/// `take_gil` among their native frames) and which for a lock: only known with native
/// frames.
pub(crate) fn finish(runtime: &mut Runtime, acquires: Acquires, native: Option<&pycoroner_debuginfo::native::Native>, threads: &[Thread]) {
    // A lock acquire: an acquire function among the native frames above the newest
    // Python frame (the call that frame made).
    for (thread_id, waits) in acquires {
        let in_acquire = threads.iter().find(|t| t.thread_id == thread_id).is_some_and(|t| {
            t.frames
                .iter()
                .take_while(|f| !matches!(f, pycoroner_report::Frame::Python(_)))
                .any(|f| matches!(f, pycoroner_report::Frame::Native(n) if n.function.as_deref().is_some_and(|f| ACQUIRE_FUNCTIONS.contains(&f))))
        });
        if let (true, Some(t)) = (in_acquire, runtime.interpreters.iter_mut().flat_map(|i| i.threads.iter_mut()).find(|t| t.thread_id == thread_id)) {
            t.waits = Some(waits);
        }
    }
    if let Some(native) = native {
        let name = |f: &mut CFunction| {
            let raw = pycoroner_debuginfo::native::RawFrame { pc: f.address, is_return: false, trust: pycoroner_debuginfo::native::Trust::Context, signal_frame: false, sp: 0 };
            f.function = native.symbolize(&raw).pop().and_then(|s| s.function);
            f.module = native.module_name(f.address).map(str::to_string);
        };
        runtime.c_atexit.iter_mut().flatten().for_each(name);
        runtime.ref_tracer.iter_mut().for_each(name);
        runtime.pending_calls.iter_mut().flatten().for_each(|p| name(&mut p.function));
        for i in &mut runtime.interpreters {
            i.pending_calls.iter_mut().flatten().for_each(|p| name(&mut p.function));
        }
        for t in runtime.interpreters.iter_mut().flat_map(|i| i.threads.iter_mut()) {
            t.trace.iter_mut().chain(t.profile.iter_mut()).for_each(|h| name(&mut h.function));
        }
    }
    for ir in &mut runtime.interpreters {
        ir.deadlocks = deadlocks(&ir.threads);
        if let Some(gil) = &mut ir.gil {
            gil.waiting = threads
                .iter()
                .filter(|t| t.interpreter_id == ir.id && Some(t.thread_id) != gil.holder)
                .filter(|t| t.frames.iter().any(|f| matches!(f, pycoroner_report::Frame::Native(n) if n.function.as_deref() == Some("take_gil"))))
                .map(|t| t.thread_id)
                .collect();
        }
    }
}

/// The cycles of threads each waiting on a lock the next one holds, each once,
/// starting from its lowest thread id.
fn deadlocks(threads: &[ThreadRuntime]) -> Vec<Vec<u64>> {
    let next = |t: u64| threads.iter().find(|x| x.thread_id == t).and_then(|x| x.waits.as_ref()).and_then(|w| w.owner);
    let mut out = Vec::new();
    for start in threads.iter().map(|t| t.thread_id) {
        let mut cycle = vec![start];
        let mut at = start;
        // At most one step per thread: a chain longer than that has left the cycle.
        for _ in 0..threads.len() {
            match next(at) {
                Some(n) if n == start => {
                    if cycle.iter().min() == Some(&start) {
                        out.push(cycle);
                    }
                    break;
                }
                Some(n) if !cycle.contains(&n) => {
                    cycle.push(n);
                    at = n;
                }
                _ => break,
            }
        }
    }
    out
}

/// Whether the state has C functions to name (and so needs native symbols).
pub(crate) fn has_c_functions(runtime: &Runtime) -> bool {
    runtime.c_atexit.as_ref().is_some_and(|f| !f.is_empty())
        || runtime.ref_tracer.is_some()
        || runtime.pending_calls.as_ref().is_some_and(|p| !p.is_empty())
        || runtime.interpreters.iter().any(|i| i.pending_calls.as_ref().is_some_and(|p| !p.is_empty()))
        || runtime.interpreters.iter().flat_map(|i| &i.threads).any(|t| t.trace.is_some() || t.profile.is_some())
}

/// Whether some interpreter's collector is collecting now.
pub(crate) fn is_collecting(runtime: &Runtime) -> bool {
    runtime.interpreters.iter().any(|i| i.gc.as_ref().is_some_and(|g| g.collecting == Some(true)))
}

/// Which generation each collecting interpreter collects, and in which thread: the
/// `generation` argument of the collector's functions
/// ([`pycoroner_cpython::models::GC_GENERATION_ARG`]) in a native frame of one of its
/// threads. Where the build cannot tell (no DWARF, the value optimized out), it says
/// so in `runtime.unavailable`; where the target could not be read, a warning does.
pub(crate) fn collecting_generation(
    target: &dyn pycoroner_process::Target,
    native: &pycoroner_debuginfo::native::Native,
    stacks: &[(usize, &[pycoroner_debuginfo::native::RawFrame])],
    threads: &[Thread],
    runtime: &mut Runtime,
    warnings: &mut Vec<Warning>,
) {
    let (functions, units) = pycoroner_cpython::models::GC_GENERATION_ARG;
    let query = pycoroner_debuginfo::native::ArgQuery { functions, units, parameter: "generation", size: 4 };
    let registers = target.threads();
    let mut unavailable = Vec::new();
    for ir in &mut runtime.interpreters {
        let Some(gc) = ir.gc.as_mut().filter(|g| g.collecting == Some(true)) else { continue };
        let mut failed: Option<pycoroner_debuginfo::native::ArgError> = None;
        let mut unwound = false;
        for (t, raw) in stacks.iter().filter_map(|(i, raw)| Some((threads.get(*i)?, raw))).filter(|(t, _)| t.interpreter_id == ir.id) {
            let Some(r) = registers.iter().find(|r| Some(r.tid) == t.native_id) else { continue };
            unwound = true;
            match native.argument(target, &r.regs, raw, &query) {
                // One per generation: thresholds has NUM_GENERATIONS entries.
                Ok(Some(v)) if usize::try_from(v.value).is_ok_and(|g| g < gc.thresholds.len()) => {
                    gc.generation = u8::try_from(v.value).ok();
                    gc.collecting_thread = Some(t.thread_id);
                    failed = None;
                    break;
                }
                Ok(Some(v)) => failed = Some(pycoroner_debuginfo::native::ArgError { why: format!("{}'s generation argument reads {}, not a generation", v.function, v.value), target: true }),
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        }
        if gc.generation.is_some() {
            continue;
        }
        match failed {
            Some(e) if e.target => warnings.push(Warning::new(WarningKind::State, format!("the generation being collected is unknown: {}", e.why))),
            Some(e) => unavailable.push(format!("the generation being collected: {}", e.why)),
            // A debugger's py-state without --native hands over no registers.
            None if !unwound => warnings.push(Warning::new(WarningKind::State, "the generation being collected is unknown: no thread's registers to unwind its native stack")),
            None => unavailable.push(format!("the generation being collected: no native frame is one of {} (a stripped build names none of them without its debug file)", functions.join(", "))),
        }
    }
    runtime.unavailable.extend(unavailable);
}
