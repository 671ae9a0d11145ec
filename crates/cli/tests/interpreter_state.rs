//! Interpreter state from cores (`runtime` in JSON, the text section, `--state`),
//! checked against what the process itself said just before crashing
//! (`fixtures/ext/interpreter_state.py` writes `sys.gettrace()`, `gc.get_threshold()`,
//! `signal.getsignal()`, `atexit._ncallbacks()`, `sys.monitoring.get_tool()`... to
//! its sidecar), on every interpreter.

mod common;

use common::{analyze_json, pycoroner};
use pycoroner_testkit::{all_interpreters, build_crashy, crash_with_env, repo_root, Crash, Interpreter};
use serde_json::Value;

/// Crash the state scenario in `mode`; the crashy extension is on the path when it
/// can be built (every pyenv interpreter has headers; an interpreter without them
/// runs the scenario without it). `require` makes a build failure an error.
fn crash_state(py: &Interpreter, mode: &str, require_crashy: bool) -> Result<(Crash, Value, Option<tempfile::TempDir>), String> {
    let build = tempfile::tempdir().map_err(|e| e.to_string())?;
    let built = build_crashy(&py.path, build.path());
    if require_crashy {
        built.as_ref().map_err(|e| format!("cannot build the extension: {e}"))?;
    }
    let path = built.as_ref().map(|p| p.as_os_str().to_owned()).unwrap_or_default();
    let script = repo_root().join("fixtures/ext/interpreter_state.py");
    let c = crash_with_env(&py.path, &script, &[("PYTHONPATH", path.as_os_str()), ("PYCORONER_STATE", std::ffi::OsStr::new(mode))])?;
    let truth = pycoroner_testkit::sidecar_state(c.sidecar.as_deref()).ok_or("the scenario wrote no truth")?;
    Ok((c, truth, built.ok().map(|_| build)))
}

fn check(diffs: &mut Vec<String>, what: &str, ours: Value, want: Value) {
    if ours != want {
        diffs.push(format!("{what}: ours {ours}, the process's {want}"));
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The main interpreter's state in a report.
fn main_interp(report: &Value) -> &Value {
    report["runtime"]["interpreters"].as_array().and_then(|a| a.iter().find(|i| i["id"].as_i64().unwrap_or(0) == 0)).unwrap_or(&Value::Null)
}

/// Everything the scenario set, read back from the core, equals what the process saw.
#[test]
fn state_equals_what_the_process_saw() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let pyenv_builds = pycoroner_testkit::pyenv_interpreters();
    for py in &all_interpreters() {
        let pyenv = pyenv_builds.contains(py);
        let (c, truth, _build) = match crash_state(py, "main", pyenv) {
            Ok(x) => x,
            Err(e) => {
                failures.push(format!("[{}] {e}", py.id()));
                continue;
            }
        };
        // --state: also local monitoring events and every extension module.
        let (code, report, err) = analyze_json(&c.core, cache.path(), &["--state"]);
        let Some(report) = report.filter(|_| code == Some(0)) else {
            failures.push(format!("[{}] exit {code:?}: {err}", py.id()));
            continue;
        };
        let mut diffs = Vec::new();
        let rt = &report["runtime"];
        let i = main_interp(&report);
        let warnings = pycoroner_testkit::warning_texts(&report).join(" | ");

        // GC.
        check(&mut diffs, "gc thresholds", i["gc"]["thresholds"].clone(), truth["gc_threshold"].clone());
        check(&mut diffs, "gc.callbacks", i["gc"]["callbacks"].clone(), truth["gc_callbacks"].clone());
        check(&mut diffs, "len(gc.garbage)", i["gc"]["garbage"].clone(), truth["gc_garbage"].clone());
        if py.minor > 6 {
            check(&mut diffs, "gc.isenabled()", i["gc"]["enabled"].clone(), truth["gc_enabled"].clone());
        }
        check(&mut diffs, "gc collecting", i["gc"]["collecting"].clone(), Value::Bool(false));
        if py.minor > 6 {
            // Σ gc.get_stats()[i]["uncollectable"] (3.15 keeps them in rings).
            check(&mut diffs, "uncollectable", i["gc"]["uncollectable"].clone(), truth["gc_uncollectable"].clone());
        }

        // atexit: as many as the process counted (site may add its own), ours three in
        // registration order, the second with its arguments.
        let all = i["atexit"].as_array().cloned().unwrap_or_default();
        check(&mut diffs, "atexit._ncallbacks()", Value::from(all.len()), truth["atexit"].clone());
        let cbs: Vec<&Value> = all.iter().filter(|c| s(&c["function"]).contains("_at_exit at ")).collect();
        let names: Vec<bool> = ["first_at_exit", "second_at_exit", "third_at_exit"].iter().zip(&cbs).map(|(n, c)| s(&c["function"]).contains(n)).collect();
        check(&mut diffs, "atexit order", Value::from(names), Value::from(vec![true, true, true]));
        if let Some(second) = cbs.get(1) {
            check(&mut diffs, "atexit args", second["args"].clone(), Value::from("(1, 'two')"));
            check(&mut diffs, "atexit kwargs", second["kwargs"].clone(), Value::from("{'key': 3}"));
        }
        // Py_AtExit: the extension's function, by name.
        if truth["crashy"] == Value::Bool(true) {
            let named = rt["c_atexit"].as_array().is_some_and(|f| f.iter().any(|f| s(&f["function"]) == "crashy_at_exit" && s(&f["module"]).starts_with("crashy")));
            check(&mut diffs, "Py_AtExit crashy_at_exit", Value::Bool(named), Value::Bool(true));
        }

        // 3.13+: the reference tracer the scenario set (libc's getpid).
        if !truth["ref_tracer"].is_null() {
            check(&mut diffs, "PyRefTracer_GetTracer()", rt["ref_tracer"]["address"].clone(), truth["ref_tracer"].clone());
            let named = s(&rt["ref_tracer"]["function"]).ends_with("getpid");
            check(&mut diffs, "the reference tracer's name", Value::Bool(named), Value::Bool(true));
        } else {
            check(&mut diffs, "no reference tracer", rt.get("ref_tracer").cloned().unwrap_or(Value::Null), Value::Null);
        }

        // Signals (≤3.11 need the static `Handlers`: a stripped build says it cannot).
        match rt["signals"]["handlers"].as_array() {
            Some(handlers) => {
                for (n, want) in truth["handlers"].as_object().into_iter().flatten() {
                    let ours = handlers.iter().find(|h| h["number"].as_i64().is_some_and(|x| x.to_string() == *n)).map_or(Value::Null, |h| h["handler"].clone());
                    check(&mut diffs, &format!("signal.getsignal({n})"), ours, want.clone());
                }
            }
            None => {
                let said = rt["unavailable"].as_array().is_some_and(|u| u.iter().any(|u| s(u).starts_with("signal handlers: ")));
                if !said {
                    diffs.push(format!("no signal handlers and nothing saying why ({warnings})"));
                }
            }
        }

        // Trace and profile functions of the crashing (main) thread.
        let main_tid = truth["threads"].as_array().and_then(|t| t.iter().find(|t| t[1] == "MainThread")).map(|t| t[0].clone()).unwrap_or(Value::Null);
        let main = i["threads"].as_array().and_then(|t| t.iter().find(|t| t["thread_id"] == main_tid)).cloned().unwrap_or(Value::Null);
        check(&mut diffs, "sys.gettrace()", main["trace"]["object"].clone(), truth["trace"].clone());
        let fname = main["trace"]["function"]["function"].clone();
        if !fname.is_null() {
            check(&mut diffs, "the trace function", fname, Value::from("trace_trampoline"));
        }
        let profile = if truth["profile"] == "None" { Value::Null } else { truth["profile"].clone() };
        check(&mut diffs, "sys.getprofile()", main["profile"]["object"].clone(), profile);
        check(&mut diffs, "threading.settrace", i["threading_hooks"]["trace"].clone(), truth["threading_trace"].clone());
        check(&mut diffs, "threading.setprofile", i["threading_hooks"]["profile"].clone(), truth["threading_profile"].clone());

        // sys.monitoring (3.12+), tools 0–5 (6 and 7 are sys.setprofile's and settrace's).
        if py.minor >= 12 {
            let ours: serde_json::Map<String, Value> = i["monitoring"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["id"].as_u64().is_some_and(|id| id < 6))
                .map(|t| {
                    let local: serde_json::Map<String, Value> =
                        t["local_events"].as_array().into_iter().flatten().map(|l| (s(&l["name"]).to_string(), l["events"].clone())).collect();
                    (t["id"].to_string(), Value::from(vec![t["name"].clone(), t["events"].clone(), Value::Object(local)]))
                })
                .collect();
            check(&mut diffs, "sys.monitoring tools", Value::Object(ours), truth["monitoring"].clone());
        } else {
            check(&mut diffs, "sys.monitoring (none before 3.12)", i.get("monitoring").cloned().unwrap_or(Value::Null), Value::Null);
        }

        // threading: names and daemon flags.
        for t in truth["threads"].as_array().into_iter().flatten() {
            let ours = i["threads"].as_array().and_then(|a| a.iter().find(|o| o["thread_id"] == t[0])).cloned().unwrap_or(Value::Null);
            check(&mut diffs, &format!("thread {} name", t[0]), ours["name"].clone(), t[1].clone());
            check(&mut diffs, &format!("thread {} daemon", t[0]), ours["daemon"].clone(), t[2].clone());
        }

        // sys.
        let p = &i["process"];
        check(&mut diffs, "sys.getrecursionlimit()", p["recursion_limit"].clone(), truth["recursion_limit"].clone());
        check(&mut diffs, "sys.argv", p["argv"].clone(), truth["argv"].clone());
        check(&mut diffs, "sys.executable", p["executable"].clone(), truth["executable"].clone());
        let flags: Vec<String> = p["flags"].as_array().into_iter().flatten().map(|f| format!("{}={}", s(&f["name"]), s(&f["value"]))).collect();
        check(&mut diffs, "sys.flags", Value::from(format!("sys.flags({})", flags.join(", "))), truth["flags"].clone());
        let changed: Vec<&str> = p["flags"].as_array().into_iter().flatten().filter(|f| f["changed"] == true).map(|f| s(&f["name"])).collect();
        let env_set = std::env::var_os("PYTHONDONTWRITEBYTECODE").is_some_and(|v| !v.is_empty());
        check(&mut diffs, "changed flags", Value::from(changed), Value::from(if env_set { vec!["dont_write_bytecode"] } else { vec![] }));
        if py.minor >= 7 {
            check(&mut diffs, "switch interval", i["gil"]["interval_us"].clone(), truth["switch_interval_us"].clone());
        }
        let crashy_listed = p["extension_modules"].as_array().is_some_and(|m| m.iter().any(|m| m["name"] == "crashy" && s(&m["file"]).contains("crashy")));
        check(&mut diffs, "crashy among the extension modules", Value::Bool(crashy_listed), truth["crashy"].clone());
        // Without --state the costly parts are not read, and say so by their absence.
        let (_, plain, _) = analyze_json(&c.core, cache.path(), &[]);
        let plain = plain.unwrap_or_default();
        check(&mut diffs, "extension modules without --state", main_interp(&plain)["process"].get("extension_modules").cloned().unwrap_or(Value::Null), Value::Null);
        check(&mut diffs, "sys.argv without --state", main_interp(&plain)["process"].get("argv").cloned().unwrap_or(Value::Null), Value::Null);
        // A second analysis of the build: sys.flags' names come from the layout cache
        // (where the layout is cached), the same as read from memory.
        check(&mut diffs, "sys.flags analyzed again", main_interp(&plain)["process"]["flags"].clone(), p["flags"].clone());

        // The text report's section shows what is set, the full one everything.
        let text = String::from_utf8_lossy(&pycoroner().arg("core").arg(&c.core).arg("--cache-dir").arg(cache.path()).output().expect("run").stdout).into_owned();
        for want in ["Interpreter state:", "GC: disabled (gc.disable())", "Recursion limit: 4321", "threading.settrace: <function thread_tracer"] {
            if !text.contains(want) {
                diffs.push(format!("the text report lacks {want:?}"));
            }
        }
        if text.contains("atexit callbacks") {
            diffs.push("the compact section lists atexit callbacks while not finalizing".into());
        }
        let full = String::from_utf8_lossy(&pycoroner().arg("core").arg(&c.core).arg("--state").arg("--cache-dir").arg(cache.path()).output().expect("run").stdout).into_owned();
        for want in ["atexit callbacks (", "second_at_exit at 0x", "sys.argv: ", "Thread 0x"] {
            if !full.contains(want) {
                diffs.push(format!("--state lacks {want:?}"));
            }
        }
        failures.extend(diffs.into_iter().map(|d| format!("[{}] {d}", py.id())));
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}


/// A crash inside an atexit callback, one inside a gc.callbacks callback during
/// `gc.collect(1)`, one in a `__del__` an automatic collection runs, and one while
/// another thread holds the GIL in C and a third waits.
///
/// The generation being collected is read from the collector's C frames: it must be
/// what gc.callbacks were told, and where gdb can read the core, it is given exactly
/// where gdb's `info args` has a value for it (the newest frame of those functions
/// that has one) and is that value; where gdb has none, a warning says why.
#[test]
fn crashes_in_atexit_gc_callbacks_and_under_a_held_gil() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let pyenv_builds = pycoroner_testkit::pyenv_interpreters();
    for py in &all_interpreters() {
        let pyenv = pyenv_builds.contains(py);
        for mode in ["atexit", "gc_callback", "gc_finalizer", "gil", "finalizing"] {
            if mode == "gil" && !pyenv {
                continue;
            }
            let tag = format!("[{} {mode}]", py.id());
            let (c, truth, _build) = match crash_state(py, mode, pyenv) {
                Ok(x) => x,
                Err(e) => {
                    failures.push(format!("{tag} {e}"));
                    continue;
                }
            };
            let dd = pycoroner_testkit::sid_debug_dir();
            let extra: &[&str] = match mode {
                "gil" => &["--native"],
                // sid's DWARF is in its debug directory.
                "gc_callback" | "gc_finalizer" => &["--debug-dir", dd.to_str().unwrap_or("/")],
                _ => &[],
            };
            let (code, report, err) = analyze_json(&c.core, cache.path(), extra);
            let Some(report) = report.filter(|_| code == Some(0)) else {
                failures.push(format!("{tag} exit {code:?}: {err}"));
                continue;
            };
            let i = main_interp(&report);
            let tid_of = |name: &str| truth["threads"].as_array().and_then(|t| t.iter().find(|t| t[1] == name)).map(|t| t[0].clone()).unwrap_or(Value::Null);
            match mode {
                "atexit" => {
                    let cbs = i["atexit"].as_array().cloned().unwrap_or_default();
                    if truth["atexit"].as_u64() != Some(cbs.len() as u64) || !cbs.iter().any(|c| s(&c["function"]).contains("second_at_exit")) {
                        failures.push(format!("{tag} atexit: ours {cbs:?}, the process had {}", truth["atexit"]));
                    }
                }
                "finalizing" => {
                    let rt = &report["runtime"];
                    if rt["finalizing"]["thread_id"] != tid_of("MainThread") {
                        failures.push(format!("{tag} the runtime is not shown finalizing in the main thread: {}", rt["finalizing"]));
                    }
                    let text = String::from_utf8_lossy(&pycoroner().arg("core").arg(&c.core).arg("--cache-dir").arg(cache.path()).output().expect("run").stdout).into_owned();
                    if !text.contains("Finalizing the runtime (Py_FinalizeEx), in thread 0x") || (truth["crashy"] == true && !text.contains("crashy_at_exit")) {
                        failures.push(format!("{tag} the text report does not say the runtime finalizes (and its Py_AtExit functions):\n{text}"));
                    }
                }
                "gc_callback" | "gc_finalizer" => {
                    if i["gc"]["collecting"] != true {
                        failures.push(format!("{tag} the collector is not shown collecting: {}", i["gc"]));
                    }
                    let ours = i["gc"]["generation"].as_i64();
                    // Why not, where not: a warning (the target), or runtime.unavailable (the build).
                    let unavailable = report["runtime"]["unavailable"].as_array().into_iter().flatten().filter_map(|u| u.as_str().map(str::to_string));
                    let unknown = pycoroner_testkit::warning_texts(&report).into_iter().chain(unavailable).find(|w| w.contains("the generation being collected"));
                    match (ours, &unknown) {
                        (Some(g), _) if Some(g) != truth["generation"].as_i64() => {
                            failures.push(format!("{tag} collecting generation {g}, gc.callbacks were told {}", truth["generation"]));
                        }
                        (None, None) => failures.push(format!("{tag} no generation, and neither a warning nor runtime.unavailable says why: {}", i["gc"])),
                        _ => {}
                    }
                    if ours.is_some() && i["gc"]["collecting_thread"] != tid_of("MainThread") {
                        failures.push(format!("{tag} collecting in {}, not in the main thread", i["gc"]["collecting_thread"]));
                    }
                    if !py.version.contains("sid") {
                        // gdb 13 cannot read sid's cores (see native_stacks_equal_gdb_bt).
                        // Every function of CPython's collector (3.6–3.13) that takes
                        // `int generation`, the generation it collects.
                        let functions = ["collect", "collect_with_callback", "gc_collect_main", "gc_collect_with_callback", "_PyGC_Collect", "invoke_gc_callback"];
                        let files = ["Modules/gcmodule.c", "Python/gc.c"];
                        let exe = report["target"]["executable"].as_str().map(std::path::PathBuf::from).unwrap_or_else(|| py.path.clone());
                        match pycoroner_testkit::gdb_argument(&exe, &c.core, &[], &functions, &files, "generation") {
                            Ok(gdb) if gdb.as_ref().map(|g| g.1) == ours => {}
                            Ok(gdb) => failures.push(format!("{tag} generation: ours {ours:?} ({unknown:?}), gdb's {gdb:?}")),
                            Err(e) => failures.push(format!("{tag} {e}")),
                        }
                    }
                    let text = String::from_utf8_lossy(&pycoroner().arg("core").arg(&c.core).args(extra).arg("--cache-dir").arg(cache.path()).output().expect("run").stdout).into_owned();
                    let want = match ours {
                        Some(g) => format!("GC: collecting generation {g} now in thread 0x"),
                        None => "GC: collecting now in thread 0x".to_string(),
                    };
                    if !text.contains(&want) {
                        failures.push(format!("{tag} the text report does not say {want:?}:\n{text}"));
                    }
                }
                _ => {
                    let (holder, waiter) = (tid_of("gil-holder"), tid_of("gil-waiter"));
                    // The truth was written before these threads started: find them by name.
                    let by_name = |n: &str| i["threads"].as_array().and_then(|t| t.iter().find(|t| t["name"] == n)).map(|t| t["thread_id"].clone()).unwrap_or(Value::Null);
                    let (holder, waiter) = (if holder.is_null() { by_name("gil-holder") } else { holder }, if waiter.is_null() { by_name("gil-waiter") } else { waiter });
                    if i["gil"]["holder"] != holder || holder.is_null() {
                        failures.push(format!("{tag} GIL holder: ours {}, the thread holding it {holder}", i["gil"]["holder"]));
                    }
                    if !i["gil"]["waiting"].as_array().is_some_and(|w| w.contains(&waiter)) {
                        failures.push(format!("{tag} the thread waiting for the GIL ({waiter}) is not listed: {}", i["gil"]));
                    }
                    // The waiter has waited far longer than the switch interval: it
                    // asked the holder, which sleeps in C, to drop the GIL.
                    if i["gil"]["drop_request"] != true {
                        failures.push(format!("{tag} no GIL drop request shown while a thread waits for the GIL: {}", i["gil"]));
                    }
                    // SIGUSR1 arrived while the main thread had no GIL: tripped, its
                    // handler not run.
                    let rt = &report["runtime"];
                    // The call hold_gil queued (0x5eed) waits for the main thread.
                    let queued = rt["pending_calls"].as_array().into_iter().chain(i["pending_calls"].as_array()).flatten().any(|p| {
                        p["function"]["function"] == "crashy_pending_call" && p["arg"] == 0x5eed
                    });
                    if !queued {
                        failures.push(format!("{tag} crashy_pending_call is not among the pending calls: {} {}", rt["pending_calls"], i["pending_calls"]));
                    }
                    let usr1 = rt["signals"]["handlers"].as_array().and_then(|h| h.iter().find(|h| h["number"] == 10)).cloned().unwrap_or(Value::Null);
                    if usr1["tripped"] != true || rt["signals"]["pending"] != true {
                        failures.push(format!("{tag} SIGUSR1 is not shown arrived and unhandled: {}", rt["signals"]));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// A live process with two threads deadlocked over two RLocks, one waiting on an
/// Event and one on a Queue: the report names each lock's owner as the process's
/// repr() does, and what each waiting thread waits on (by the object's id()).
#[test]
fn a_deadlock_over_two_rlocks_read_live() {
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = format!("[{} deadlock]", py.id());
        let (mut child, line) = match pycoroner_testkit::start_live(&py.path, &repo_root().join("fixtures/live/deadlock.py"), &[], &[]) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let truth: Option<Value> = serde_json::from_str(&line).ok();
        // With native frames (which tell a thread in a C-level acquire), then without.
        let run = |native: bool| {
            let mut cmd = pycoroner();
            cmd.arg("pid").arg(child.id().to_string()).args(["--state", "--format", "json"]);
            if native {
                cmd.arg("--native");
            }
            cmd.output().expect("run pycoroner")
        };
        let out = truth.as_ref().map(|_| run(true));
        let bare = truth.as_ref().map(|_| run(false));
        let _ = child.kill();
        let _ = child.wait();
        let (Some(truth), Some(out)) = (truth, out) else {
            failures.push(format!("{tag} the program wrote no truth: {line}"));
            continue;
        };
        let Some(report) = pycoroner_testkit::parse_report(&String::from_utf8_lossy(&out.stdout)) else {
            failures.push(format!("{tag} no report: {}", String::from_utf8_lossy(&out.stderr)));
            continue;
        };
        let i = main_interp(&report);
        let ident = |name: &str| truth["threads"][name].clone();
        for (var, holder) in [("a", "holds-a"), ("b", "holds-b")] {
            let lock = i["locks"].as_array().and_then(|l| l.iter().find(|l| l["name"] == format!("global {var}"))).cloned().unwrap_or(Value::Null);
            if lock["owner"] != ident(holder) || lock["object"] != truth[var] {
                failures.push(format!("{tag} global {var}: ours {lock}, the process's {} held by {}", truth[var], ident(holder)));
            }
        }
        let thread = |i: &Value, name: &str| i["threads"].as_array().and_then(|t| t.iter().find(|t| t["thread_id"] == ident(name))).cloned().unwrap_or(Value::Null);
        for (name, call, object) in [("event-waiter", "Event.wait", "event"), ("queue-getter", "Queue.get", "queue")] {
            let t = thread(i, name);
            if t["waits"]["call"] != call || t["waits"]["address"] != truth[object] {
                failures.push(format!("{tag} {name}: ours {}, want {call} on {}", t["waits"], truth[object]));
            }
        }
        // Blocked in C acquiring a lock from their own code (`b.acquire()`, `with
        // plain:`): the lock, as the process's repr() writes it.
        for (name, call, lock) in [("holds-a", "RLock.acquire", "b"), ("holds-b", "RLock.acquire", "a"), ("plain-waiter", "lock.acquire", "plain")] {
            let t = thread(i, name);
            if t["waits"]["call"] != call || t["waits"]["object"] != truth[lock] {
                failures.push(format!("{tag} {name}: ours {}, want {call} on {}", t["waits"], truth[lock]));
            }
        }
        // Each RLock's owner is the other thread: one deadlock, from the lower ident.
        let (x, y) = (ident("holds-a").as_u64().unwrap_or(0), ident("holds-b").as_u64().unwrap_or(0));
        if i["deadlocks"] != serde_json::json!([[x.min(y), x.max(y)]]) {
            failures.push(format!("{tag} deadlocks: ours {}, want the cycle of {x} and {y}", i["deadlocks"]));
        }
        for (name, other) in [("holds-a", "holds-b"), ("holds-b", "holds-a")] {
            if thread(i, name)["waits"]["owner"] != ident(other) {
                failures.push(format!("{tag} {name} waits on a lock held by {other}: ours {}", thread(i, name)["waits"]));
            }
        }
        // Without native frames nothing shows those threads are in an acquire: no claim.
        match bare.as_ref().and_then(|b| pycoroner_testkit::parse_report(&String::from_utf8_lossy(&b.stdout))) {
            Some(r) => {
                for name in ["holds-a", "holds-b", "plain-waiter"] {
                    let t = thread(main_interp(&r), name);
                    if !t["waits"].is_null() {
                        failures.push(format!("{tag} {name} without native frames: claims {}", t["waits"]));
                    }
                }
            }
            None => failures.push(format!("{tag} no report without --native")),
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// A live process paused inside a collection (`gc.collect(1)`'s "start" callback
/// sleeps): `pycoroner pid` reads the generation from the collector's C frames through
/// the stopped threads' registers, as gc.callbacks were told it, in the thread that
/// collects.
#[test]
fn a_collection_paused_in_a_gc_callback_read_live() {
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = format!("[{} gc paused]", py.id());
        let (mut child, line) = match pycoroner_testkit::start_live(&py.path, &repo_root().join("fixtures/live/gc_paused.py"), &[], &[]) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let truth: Value = serde_json::from_str(&line).unwrap_or_default();
        let dd = pycoroner_testkit::sid_debug_dir();
        let out = pycoroner().arg("pid").arg(child.id().to_string()).args(["--format", "json", "--no-cache", "--debug-dir"]).arg(&dd).output().expect("run pycoroner");
        let _ = child.kill();
        let _ = child.wait();
        let Some(report) = pycoroner_testkit::parse_report(&String::from_utf8_lossy(&out.stdout)) else {
            failures.push(format!("{tag} no report: {}", String::from_utf8_lossy(&out.stderr)));
            continue;
        };
        let gc = &main_interp(&report)["gc"];
        if gc["collecting"] != true || gc["generation"] != truth["generation"] || gc["collecting_thread"] != truth["thread"] || truth["generation"].is_null() {
            failures.push(format!("{tag} ours {gc}, the process's {truth}"));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

