//! The "Interpreter state" section of the text report: by default only what is set or
//! unusual (nothing at all when nothing is), everything with `--state`.

use std::fmt::Write as _;

use crate::escape::text as e;
use crate::runtime::{CFunction, Finalizing, InterpreterRuntime, Runtime, ThreadRuntime, DEFAULT_RECURSION_LIMIT, DEFAULT_SWITCH_INTERVAL_US};

/// `name (module)`, or the address when no symbol names it.
fn c_function(f: &CFunction) -> String {
    let module = f.module.as_deref().map(|m| format!(" in {}", e(m))).unwrap_or_default();
    match &f.function {
        Some(n) => format!("{}{module} (0x{:x})", e(n), f.address),
        None => format!("0x{:x}{module}", f.address),
    }
}

fn thread_label(thread_id: u64, threads: &[ThreadRuntime]) -> String {
    let name = threads.iter().find(|t| t.thread_id == thread_id).and_then(|t| t.name.as_deref()).map(|n| format!(" [{}]", e(n))).unwrap_or_default();
    format!("thread 0x{thread_id:016x}{name}")
}

fn by(f: &Finalizing, threads: &[ThreadRuntime]) -> String {
    match f.thread_id {
        Some(t) => thread_label(t, threads),
        None => format!("thread state 0x{:x}", f.thread_state),
    }
}

fn pending(out: &mut Vec<String>, calls: Option<&[crate::runtime::PendingCall]>) {
    if let Some(calls) = calls.filter(|c| !c.is_empty()) {
        out.push(format!("Pending calls (Py_AddPendingCall, not run yet: {}):", calls.len()));
        out.extend(calls.iter().map(|p| format!("  {}, arg 0x{:x}", c_function(&p.function), p.arg)));
    }
}

/// The section's lines for a runtime (indented under their heading); empty when
/// there is nothing to say.
pub fn lines(runtime: &Runtime, full: bool) -> Vec<String> {
    let mut out = Vec::new();
    let finalizing = runtime.finalizing.is_some() || runtime.interpreters.iter().any(|i| i.finalizing == Some(true));
    if let Some(f) = &runtime.finalizing {
        // Named among the threads of the interpreter it belongs to.
        let threads = runtime.interpreters.iter().map(|i| i.threads.as_slice()).find(|ts| ts.iter().any(|t| Some(t.thread_id) == f.thread_id));
        out.push(format!("Finalizing the runtime (Py_FinalizeEx), in {}", by(f, threads.unwrap_or_default())));
    }
    if let Some(funcs) = runtime.c_atexit.as_ref().filter(|f| !f.is_empty() && (full || finalizing)) {
        out.push(format!("Py_AtExit functions ({}, run last first):", funcs.len()));
        out.extend(funcs.iter().map(|f| format!("  {}", c_function(f))));
    } else if full && runtime.c_atexit.is_some() {
        out.push("Py_AtExit functions: none".into());
    }
    pending(&mut out, runtime.pending_calls.as_deref());
    if let Some(t) = &runtime.ref_tracer {
        out.push(format!("Reference tracer (PyRefTracer_SetTracer): {}", c_function(t)));
    }
    if let Some(s) = &runtime.signals {
        let shown: Vec<_> = s.handlers.iter().filter(|h| full || !h.default || h.tripped).collect();
        if !shown.is_empty() {
            out.push("Signal handlers:".into());
            for h in shown {
                let tripped = if h.tripped { " (arrived, handler not run yet)" } else { "" };
                let default = if h.default { " (CPython's default)" } else { "" };
                out.push(format!("  {} ({}): {}{default}{tripped}", h.name, h.number, e(&h.handler)));
            }
        }
        if s.pending && !s.handlers.iter().any(|h| h.tripped) {
            out.push("A signal arrived and its handler has not run yet".into());
        }
    }
    if full {
        out.extend(runtime.unavailable.iter().map(|u| format!("Not readable in this build: {}", e(u))));
    }
    let several = runtime.interpreters.len() > 1;
    for i in &runtime.interpreters {
        let lines = interpreter_lines(i, full, finalizing);
        if lines.is_empty() {
            continue;
        }
        if several {
            let id = i.id.map_or_else(|| "?".to_string(), |id| id.to_string());
            out.push(format!("Interpreter {id}:"));
            out.extend(lines.into_iter().map(|l| format!("  {l}")));
        } else {
            out.extend(lines);
        }
    }
    out
}

fn interpreter_lines(i: &InterpreterRuntime, full: bool, finalizing: bool) -> Vec<String> {
    let mut out = Vec::new();
    match (i.finalizing, &i.finalizing_thread) {
        (_, Some(f)) => out.push(format!("Finalizing this interpreter, in {}", by(f, &i.threads))),
        (Some(true), None) => out.push("Finalizing this interpreter".into()),
        _ => {}
    }
    pending(&mut out, i.pending_calls.as_deref());
    if let Some(gil) = &i.gil {
        if full {
            let holder = gil.holder.map_or_else(|| "released".to_string(), |t| format!("held by {}", thread_label(t, &i.threads)));
            let last = gil.last_holder.filter(|l| Some(*l) != gil.holder).map(|t| format!(", last held by {}", thread_label(t, &i.threads))).unwrap_or_default();
            let interval = gil.interval_us.map(|us| format!(", switch interval {} ms", us as f64 / 1000.0)).unwrap_or_default();
            out.push(format!("GIL: {holder}{last}{interval}"));
        } else if let Some(us) = gil.interval_us.filter(|&us| us != DEFAULT_SWITCH_INTERVAL_US) {
            out.push(format!("GIL switch interval: {} ms (sys.setswitchinterval; the default is 5 ms)", us as f64 / 1000.0));
        }
        if gil.drop_request == Some(true) {
            out.push("GIL: another thread asked the holder to drop it (gil_drop_request)".into());
        }
        if !gil.waiting.is_empty() {
            let w: Vec<String> = gil.waiting.iter().map(|t| thread_label(*t, &i.threads)).collect();
            out.push(format!("Waiting for the GIL (in take_gil): {}", w.join(", ")));
        }
    }
    if let Some(gc) = &i.gc {
        let mut facts = Vec::new();
        if gc.collecting == Some(true) {
            let generation = gc.generation.map(|g| format!(" generation {g}")).unwrap_or_default();
            let thread = gc.collecting_thread.or_else(|| i.gil.as_ref().and_then(|g| g.holder));
            let holder = thread.map(|t| format!(" in {}", thread_label(t, &i.threads))).unwrap_or_default();
            facts.push(format!("collecting{generation} now{holder}"));
        }
        if gc.enabled == Some(false) {
            facts.push("disabled (gc.disable())".into());
        }
        if let Some(n) = gc.uncollectable.filter(|&n| n > 0) {
            facts.push(format!("{n} uncollectable objects found"));
        }
        if let Some(n) = gc.garbage.filter(|&n| n > 0) {
            facts.push(format!("gc.garbage holds {n}"));
        }
        if full {
            facts.push(format!("thresholds {:?}, counts {:?}", gc.thresholds, gc.counts));
            if gc.enabled == Some(true) {
                facts.insert(0, "enabled".into());
            }
        }
        if !facts.is_empty() {
            out.push(format!("GC: {}", facts.join("; ")));
        }
        if !gc.callbacks.is_empty() {
            out.push(format!("gc.callbacks: [{}]", gc.callbacks.iter().map(|c| e(c).into_owned()).collect::<Vec<_>>().join(", ")));
        }
    }
    if let Some(cbs) = &i.atexit {
        if !cbs.is_empty() && (full || finalizing) {
            out.push(format!("atexit callbacks ({}, run last first):", cbs.len()));
            for c in cbs {
                let args = Some(c.args.as_str()).filter(|a| *a != "()").map(|a| format!(", args {}", e(a))).unwrap_or_default();
                let kwargs = c.kwargs.as_deref().map(|k| format!(", kwargs {}", e(k))).unwrap_or_default();
                out.push(format!("  {}{args}{kwargs}", e(&c.function)));
            }
        } else if full {
            out.push("atexit callbacks: none".into());
        }
    }
    for t in &i.threads {
        let who = thread_label(t.thread_id, &i.threads);
        for (what, hook) in [("Trace", &t.trace), ("Profile", &t.profile)] {
            if let Some(h) = hook {
                let obj = h.object.as_deref().map(|o| format!("{} via ", e(o))).unwrap_or_default();
                out.push(format!("{what} function in {who}: {obj}{}", c_function(&h.function)));
            }
        }
    }
    for cycle in &i.deadlocks {
        let names: Vec<String> = cycle.iter().chain(cycle.first()).map(|t| thread_label(*t, &i.threads)).collect();
        out.push(format!("Deadlock: {}", names.join(" waits for ")));
    }
    for t in &i.threads {
        if let Some(w) = &t.waits {
            let by = w.owner.map(|o| format!(", held by {}", thread_label(o, &i.threads))).unwrap_or_default();
            out.push(format!("{} waits in {} on {}{by}", thread_label(t.thread_id, &i.threads), e(&w.call), e(&w.object)));
        }
    }
    for l in &i.locks {
        let by = l.owner.map(|o| format!(", held by {}", thread_label(o, &i.threads))).unwrap_or_default();
        out.push(format!("Lock held: {} {}{by}", e(&l.name), e(&l.object)));
    }
    if let Some(h) = &i.threading_hooks {
        if let Some(t) = &h.trace {
            out.push(format!("threading.settrace: {}", e(t)));
        }
        if let Some(p) = &h.profile {
            out.push(format!("threading.setprofile: {}", e(p)));
        }
    }
    if let Some(tools) = &i.monitoring {
        for t in tools {
            // Ids 6 and 7 are what sys.setprofile and sys.settrace run on (3.12+).
            let name = match (t.name.as_deref(), t.id) {
                (Some(n), _) => format!(" {}", e(&format!("{n:?}"))),
                (None, 6) => " (sys.setprofile)".into(),
                (None, 7) => " (sys.settrace)".into(),
                (None, _) => String::new(),
            };
            let events = if t.event_names.is_empty() { "no global events".to_string() } else { t.event_names.join(", ") };
            out.push(format!("sys.monitoring tool {}{name}: {events}", t.id));
            for l in &t.local_events {
                out.push(format!("  local events on {} ({}:{}): {}", e(&l.name), e(&l.file), l.line, l.event_names.join(", ")));
            }
        }
    }
    if full {
        for t in &i.threads {
            let daemon = match t.daemon {
                Some(true) => ", daemon",
                Some(false) => "",
                None => ", not a threading.Thread",
            };
            out.push(format!("Thread 0x{:016x}{}{daemon}", t.thread_id, t.name.as_deref().map(|n| format!(" [{}]", e(n))).unwrap_or_default()));
        }
    }
    if let Some(p) = &i.process {
        if full {
            if let Some(a) = &p.argv {
                out.push(format!("sys.argv: {}", e(a)));
            }
            if let Some(x) = &p.executable {
                out.push(format!("sys.executable: {}", e(x)));
            }
        }
        let flags: Vec<String> = p.flags.iter().filter(|f| full || f.changed).map(|f| format!("{}={}", e(&f.name), e(&f.value))).collect();
        if !flags.is_empty() {
            out.push(format!("sys.flags{}: {}", if full { "" } else { " (not the defaults)" }, flags.join(", ")));
        }
        if let Some(x) = &p.xoptions {
            out.push(format!("-X options: {}", e(x)));
        }
        if let Some(l) = p.recursion_limit.filter(|&l| full || l != DEFAULT_RECURSION_LIMIT) {
            out.push(format!("Recursion limit: {l}"));
        }
        if let Some(mods) = p.extension_modules.as_ref().filter(|m| full && !m.is_empty()) {
            out.push(format!("Extension modules ({}):", mods.len()));
            for m in mods {
                let file = m.file.as_deref().map(|f| format!(" ({})", e(f))).unwrap_or_else(|| " (built in)".into());
                out.push(format!("  {}{file}", e(&m.name)));
            }
        }
    }
    out
}

/// Append the section (a blank line, `Interpreter state:`, its lines) when there is
/// anything to say.
pub fn section(out: &mut String, runtime: &Runtime, full: bool) {
    let lines = lines(runtime, full);
    if lines.is_empty() {
        return;
    }
    out.push_str("\nInterpreter state:\n");
    for l in lines {
        let _ = writeln!(out, "  {l}");
    }
}
