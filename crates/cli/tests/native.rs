//! `--native-all` against gdb: per thread, pycoroner's native function names (inlined
//! frames and the signal frame counted) equal gdb's `bt` of the same core, on every
//! scenario and interpreter; the Python frames spliced in still equal faulthandler's.
//! `--native` folds the interpreter's call machinery and keeps C frames that call back
//! into Python in their place.

mod common;

use common::{analyze_json, compare_with_faulthandler};
use pycoroner_testkit::{all_interpreters, crash, gdb_stacks, require_tool, scenario, sid_debug_dir};
use serde_json::Value;

const SCENARIOS: &[&str] = &[
    "nested_calls",
    "threads",
    "deep_recursion",
    "generators",
    "callback_from_c",
    "class_lambda_comprehension",
    "except_block",
    "finally_block",
    "unicode_names",
    "subinterpreter",
];

fn native_names(t: &Value) -> Vec<String> {
    t["frames"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter(|f| f["kind"] == "native")
                .map(|f| f["function"].as_str().unwrap_or("??").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Crash a scenario and analyze its core with every native frame (and the sid
/// interpreters' debug files).
fn crash_native_all(py: &pycoroner_testkit::Interpreter, name: &str, cache: &std::path::Path) -> Result<(pycoroner_testkit::Crash, Value), String> {
    let c = crash(&py.path, &scenario(name))?;
    let dd = sid_debug_dir();
    let (code, v, err) = analyze_json(&c.core, cache, &["--native-all", "--debug-dir", dd.to_str().unwrap_or("/")]);
    let v = v.filter(|_| code == Some(0)).ok_or(format!("exit {code:?}: {err}"))?;
    Ok((c, v))
}

/// Each OS thread's native frames, in report order: an OS thread with several thread
/// states (one per interpreter it entered) is reported in parts that, read in order,
/// are its whole stack.
fn natives_per_lwp(v: &Value) -> Vec<(u64, Vec<String>)> {
    let mut out: Vec<(u64, Vec<String>)> = Vec::new();
    for t in v["threads"].as_array().into_iter().flatten() {
        let Some(lwp) = t["native_id"].as_u64() else { continue };
        match out.iter_mut().find(|(l, _)| *l == lwp) {
            Some((_, names)) => names.extend(native_names(t)),
            None => out.push((lwp, native_names(t))),
        }
    }
    out
}

/// The frames of one OS thread in report order, as `kind:function`.
fn mixed_of_lwp(v: &Value, lwp: u64) -> Vec<String> {
    v["threads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["native_id"].as_u64() == Some(lwp))
        .flat_map(|t| t["frames"].as_array().cloned().unwrap_or_default())
        .map(|f| format!("{}:{}", f["kind"].as_str().unwrap_or("?"), f["function"].as_str().unwrap_or("??")))
        .collect()
}

/// A crash inside a subinterpreter: the crashing OS thread has two thread states, the
/// subinterpreter's (`inside_subinterpreter`) running inside the main interpreter's
/// (`run_sub`, in `_testcapi.run_in_subinterp`). Its mixed stack, the parts of both
/// read in report order, equals gdb's `bt`; every run of Python frames sits right above
/// the eval-loop frame that ran it, in the order the C stack has them; the Python
/// frames equal faulthandler's for the interpreter it showed.
#[test]
fn subinterpreter_mixed_stack_equals_gdb_and_faulthandler() {
    if require_tool("gdb").is_none() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let mut checked = 0;
    for py in &all_interpreters() {
        let tag = format!("[{} subinterpreter]", py.id());
        let dd = sid_debug_dir();
        let (c, v) = match crash_native_all(py, "subinterpreter", cache.path()) {
            Ok(x) => x,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        if !common::some_interpreter_equals_faulthandler(&v, &c.faulthandler) {
            failures.push(format!("{tag} no interpreter's Python frames equal faulthandler's"));
        }
        let splice_warnings: Vec<String> = pycoroner_testkit::warning_texts(&v).into_iter().filter(|w| w.contains("splice") || w.contains("thread states")).collect();
        if !splice_warnings.is_empty() {
            failures.push(format!("{tag} {splice_warnings:?}"));
        }
        let Some(lwp) = v["target"]["signal"]["thread"].as_u64() else {
            failures.push(format!("{tag} no crashed thread"));
            continue;
        };
        let parts = v["threads"].as_array().map_or(0, |ts| ts.iter().filter(|t| t["native_id"].as_u64() == Some(lwp)).count());
        if parts != 2 {
            failures.push(format!("{tag} the crashed OS thread has {parts} thread states in the report, expected 2"));
        }
        let mixed = mixed_of_lwp(&v, lwp);
        let pos = |x: &str| mixed.iter().position(|m| m == x);
        let order = [pos("native:string_at"), pos("python:inside_subinterpreter"), pos("native:run_in_subinterp"), pos("python:run_sub"), pos("native:_start")];
        if !(order.iter().all(Option::is_some) && order.windows(2).all(|w| w[0] < w[1])) {
            failures.push(format!("{tag} out of order: {mixed:?}"));
        }
        // Every run of Python frames is followed by the eval frame that ran it.
        for (j, m) in mixed.iter().enumerate() {
            let next = mixed.get(j + 1).map(String::as_str);
            if m.starts_with("python:") && !next.is_some_and(|n| n.starts_with("python:") || n == "native:_PyEval_EvalFrameDefault") {
                failures.push(format!("{tag} {m} is not followed by its eval frame: {mixed:?}"));
            }
        }
        if py.version.contains("sid") {
            continue; // gdb 13 cannot read these cores (see native_stacks_equal_gdb_bt)
        }
        let exe = v["target"]["executable"].as_str().map(std::path::PathBuf::from).unwrap_or_else(|| py.path.clone());
        match gdb_stacks(&exe, &c.core, std::slice::from_ref(&dd)) {
            Ok(gdb) => {
                let ours: Vec<String> = natives_per_lwp(&v).into_iter().find(|(l, _)| *l == lwp).map(|(_, n)| n).unwrap_or_default();
                match gdb.get(&(lwp as u32)) {
                    Some(theirs) if *theirs == ours => checked += 1,
                    theirs => failures.push(format!("{tag} LWP {lwp}:\n  pycoroner {ours:?}\n  gdb       {theirs:?}")),
                }
            }
            Err(e) => failures.push(format!("{tag} {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 0);
}

#[test]
fn native_stacks_equal_gdb_bt() {
    if require_tool("gdb").is_none() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let mut compared = 0;
    for py in &all_interpreters() {
        for name in SCENARIOS {
            let tag = format!("[{} {name}]", py.id());
            let dd = sid_debug_dir();
            let (c, v) = match crash_native_all(py, name, cache.path()) {
                Ok(x) => x,
                Err(e) => {
                    failures.push(format!("{tag} {e}"));
                    continue;
                }
            };
            // (A subinterpreter's thread has two thread states, which the generic
            // comparison cannot pair; core_fidelity::subinterpreter checks those.)
            if *name != "subinterpreter" {
                for d in compare_with_faulthandler(&v, &c.faulthandler) {
                    failures.push(format!("{tag} python frames: {d}"));
                }
            }
            if py.version.contains("sid") {
                // gdb 13 cannot read a core of a process started through an explicit
                // loader (`ld-linux-x86-64.so.2 python3.X`): its bt is garbage. Check the
                // crashing thread's landmarks instead.
                let lwp = v["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["current"] == true)).and_then(|t| t["native_id"].as_u64());
                let cur = natives_per_lwp(&v).into_iter().find(|(l, _)| Some(*l) == lwp).map(|(_, n)| n);
                let ok = cur.is_some_and(|n| {
                    ["<signal handler called>", "string_at", "ffi_call", "_PyEval_EvalFrameDefault", "Py_RunMain"]
                        .iter()
                        .all(|l| n.iter().any(|x| x == l))
                });
                if !ok {
                    failures.push(format!("{tag} crashing thread lacks its native landmarks"));
                }
                continue;
            }
            let exe = v["target"]["executable"].as_str().map(std::path::PathBuf::from).unwrap_or_else(|| py.path.clone());
            let gdb = match gdb_stacks(&exe, &c.core, std::slice::from_ref(&dd)) {
                Ok(g) => g,
                Err(e) => {
                    failures.push(format!("{tag} {e}"));
                    continue;
                }
            };
            for (lwp, ours) in natives_per_lwp(&v) {
                match gdb.get(&(lwp as u32)) {
                    Some(theirs) if *theirs == ours => compared += 1,
                    Some(theirs) => failures.push(format!("{tag} LWP {lwp}:\n  pycoroner {ours:?}\n  gdb       {theirs:?}")),
                    None => failures.push(format!("{tag} LWP {lwp} not in gdb's output")),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches ({compared} threads equal):\n{}", failures.len(), failures.join("\n"));
    assert!(compared > 0);
}

/// In folded mode a C function calling back into Python sits between the Python
/// frames it called and the one that called it; no eval-loop frame is left.
#[test]
fn folded_stack_keeps_c_between_python() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let c = crash(&py.path, &scenario("callback_from_c")).expect("crash");
        let dd = sid_debug_dir();
        let (code, v, err) = analyze_json(&c.core, cache.path(), &["--native", "--debug-dir", dd.to_str().unwrap_or("/")]);
        assert_eq!(code, Some(0), "{err}");
        let v = v.expect("json");
        let t = v["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["current"] == true)).cloned().unwrap_or_default();
        let seq: Vec<String> = t["frames"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| format!("{}:{}", f["kind"].as_str().unwrap_or("?"), f["function"].as_str().unwrap_or("??")))
            .collect();
        let pos = |names: &[&str]| seq.iter().position(|x| names.contains(&x.as_str()));
        // listsort became list_sort_impl in 3.7.
        let order = [
            pos(&["native:string_at"]),
            pos(&["python:mapper"]),
            pos(&["native:map_next"]),
            pos(&["python:key"]),
            pos(&["native:listsort", "native:list_sort_impl"]),
            pos(&["python:main"]),
        ];
        let ok = order.iter().all(Option::is_some) && order.windows(2).all(|w| w[0] < w[1]);
        if !ok || seq.iter().any(|s| s == "native:_PyEval_EvalFrameDefault") {
            failures.push(format!("[{}] folded stack out of order: {seq:?}", py.id()));
        }
        if compare_with_faulthandler(&v, &c.faulthandler).iter().any(|d| d.contains("frame")) {
            failures.push(format!("[{}] python frames differ from faulthandler", py.id()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Crash `fixtures/ext/SCRIPT` under `py` with the test extension, built with `py`'s
/// own headers, on its path. The build directory is returned with the crash: the core's
/// native frames are read from the extension there.
fn crash_with_crashy(py: &pycoroner_testkit::Interpreter, script: &str) -> Result<(pycoroner_testkit::Crash, tempfile::TempDir), String> {
    let build = tempfile::tempdir().map_err(|e| e.to_string())?;
    let lib = pycoroner_testkit::build_crashy(&py.path, build.path()).map_err(|e| format!("cannot build the extension: {e}"))?;
    let script = pycoroner_testkit::repo_root().join("fixtures/ext").join(script);
    Ok((pycoroner_testkit::crash_with_env(&py.path, &script, &[("PYTHONPATH", lib.as_os_str())])?, build))
}

/// A C extension built with each interpreter's headers: Python → C → Python → C →
/// NULL dereference. gdb's bt equals ours, and the folded stack alternates in order.
#[test]
fn c_extension_on_both_sides_of_python() {
    if require_tool("gdb").is_none() || require_tool("cc").is_none() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    // Interpreters with their C headers: the pyenv builds.
    for py in &pycoroner_testkit::pyenv_interpreters() {
        let (c, _build) = match crash_with_crashy(py, "c_extension.py") {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("[{}] {e}", py.id()));
                continue;
            }
        };
        let (code, all, err) = analyze_json(&c.core, cache.path(), &["--native-all"]);
        let (_, folded, _) = analyze_json(&c.core, cache.path(), &["--native"]);
        let (Some(all), Some(folded)) = (all.filter(|_| code == Some(0)), folded) else {
            failures.push(format!("[{}] exit {code:?}: {err}", py.id()));
            continue;
        };
        let gdb = pycoroner_testkit::gdb_stacks(&py.path, &c.core, &[]).unwrap_or_default();
        for t in all["threads"].as_array().into_iter().flatten() {
            let lwp = t["native_id"].as_u64().unwrap_or(0) as u32;
            if gdb.get(&lwp) != Some(&native_names(t)) {
                failures.push(format!("[{}] LWP {lwp}:\n  pycoroner {:?}\n  gdb       {:?}", py.id(), native_names(t), gdb.get(&lwp)));
            }
        }
        for d in compare_with_faulthandler(&all, &c.faulthandler) {
            failures.push(format!("[{}] {d}", py.id()));
        }
        let cur = folded["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["current"] == true)).cloned().unwrap_or_default();
        let seq: Vec<String> = cur["frames"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| format!("{}:{}", f["kind"].as_str().unwrap_or("?"), f["function"].as_str().unwrap_or("??")))
            .collect();
        let pos = |s: &str| seq.iter().position(|x| x == s);
        let order = [
            pos("native:crashy_dereference"),
            pos("native:crashy_crash_now"),
            pos("python:callback"),
            pos("native:crashy_call_back"),
            pos("python:call_native"),
            pos("python:<module>"),
        ];
        if !(order.iter().all(Option::is_some) && order.windows(2).all(|w| w[0] < w[1])) {
            failures.push(format!("[{}] folded order: {seq:?}", py.id()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue #12: a crash in a thread C code started (no Python thread state) used to be
/// invisible: only the Python threads were listed, none current. Now that thread is the
/// current thread, with its native frames even in plain mode, equal to gdb's `bt`; the
/// Python threads still equal faulthandler's dump.
#[test]
fn a_crash_in_a_c_thread_is_shown() {
    if require_tool("gdb").is_none() || require_tool("cc").is_none() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &pycoroner_testkit::pyenv_interpreters() {
        let (c, _build) = match crash_with_crashy(py, "c_thread_crash.py") {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("[{}] {e}", py.id()));
                continue;
            }
        };
        let gdb = pycoroner_testkit::gdb_stacks(&py.path, &c.core, &[]).unwrap_or_default();
        for mode in [&[][..], &["--native-all"][..]] {
            let (code, v, err) = analyze_json(&c.core, cache.path(), mode);
            let Some(v) = v.filter(|_| code == Some(0)) else {
                failures.push(format!("[{}] {mode:?} exit {code:?}: {err}", py.id()));
                continue;
            };
            for d in compare_with_faulthandler(&v, &c.faulthandler) {
                failures.push(format!("[{}] {mode:?} {d}", py.id()));
            }
            let threads = v["threads"].as_array().cloned().unwrap_or_default();
            let current: Vec<&serde_json::Value> = threads.iter().filter(|t| t["current"] == true).collect();
            let [cur] = current[..] else {
                failures.push(format!("[{}] {mode:?} {} current threads", py.id(), current.len()));
                continue;
            };
            let lwp = cur["native_id"].as_u64().unwrap_or(0) as u32;
            if !cur["interpreter_id"].is_null() || v["target"]["signal"]["thread"].as_u64() != Some(u64::from(lwp)) {
                failures.push(format!("[{}] {mode:?} the current thread is not the C thread that took the signal: {cur}", py.id()));
            }
            let names = native_names(cur);
            if !names.iter().any(|n| n == "crashy_dereference") || !names.iter().any(|n| n == "crashy_c_worker") {
                failures.push(format!("[{}] {mode:?} the C thread's frames: {names:?}", py.id()));
            }
            if mode.is_empty() {
                // Plain mode: the crashing C thread's native frames are gdb's, in order
                // (gdb's tail-call frames are built with --native-all only).
                let in_order = |g: &Vec<String>| {
                    let mut rest = g.iter();
                    names.iter().all(|n| rest.any(|x| x == n))
                };
                if gdb.get(&lwp).is_none_or(|g| !in_order(g)) {
                    failures.push(format!("[{}] plain: {names:?} vs gdb {:?}", py.id(), gdb.get(&lwp)));
                }
            } else if gdb.get(&lwp) != Some(&names) {
                failures.push(format!("[{}] LWP {lwp}:\n  pycoroner {names:?}\n  gdb       {:?}", py.id(), gdb.get(&lwp)));
            }
        }
        // The text marks it.
        let (_, text, _) = pycoroner_testkit::run(common::pycoroner().arg("core").arg(&c.core).arg("--cache-dir").arg(cache.path()));
        if !text.contains(", no Python thread state) (most recent call first):") || !text.contains("crashy_dereference") {
            failures.push(format!("[{}] text:\n{text}", py.id()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A C stack overflow (unbounded recursion in C, the stack limited to 512 KiB): the
/// header names it, the unwinding is bounded by the stack mapping rather than a frame
/// count and equals gdb's `bt` frame for frame through thousands of frames, the text
/// folds the repeat (`--no-fold` shows all), and the Python frames equal faulthandler's.
#[test]
fn c_stack_overflow_is_named_unwound_whole_and_folded() {
    if require_tool("gdb").is_none() || require_tool("cc").is_none() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &pycoroner_testkit::pyenv_interpreters() {
        let tag = format!("[{}]", py.id());
        let (c, _build) = match crash_with_crashy(py, "c_stack_overflow.py") {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let (code, v, err) = analyze_json(&c.core, cache.path(), &["--native-all"]);
        let Some(v) = v.filter(|_| code == Some(0)) else {
            failures.push(format!("{tag} exit {code:?}: {err}"));
            continue;
        };
        for d in compare_with_faulthandler(&v, &c.faulthandler) {
            failures.push(format!("{tag} {d}"));
        }
        let sig = &v["target"]["signal"];
        // faulthandler caught the fault and raised SIGSEGV again: the fault itself is in
        // its signal frame, below the stack's lowest address, next to the stack pointer.
        let (addr, sp, start) = (sig["caught"]["address"].as_u64(), sig["stack_overflow"]["stack_pointer"].as_u64(), sig["stack_overflow"]["stack_start"].as_u64());
        if sig["caught"]["number"] != 11 || !matches!((addr, sp, start), (Some(a), Some(s), Some(b)) if a < b && a + 65536 > s) {
            failures.push(format!("{tag} not named a stack overflow: {sig}"));
        }
        let cur = v["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["current"] == true)).cloned().unwrap_or_default();
        let names = native_names(&cur);
        let depth = names.iter().filter(|n| *n == "crashy_recurse").count();
        if depth < 2000 {
            failures.push(format!("{tag} only {depth} recursion frames"));
        }
        if pycoroner_testkit::warning_texts(&v).iter().any(|w| w.contains("native stack")) {
            failures.push(format!("{tag} the native walk stopped early: {}", v["warnings"]));
        }
        let lwp = cur["native_id"].as_u64().unwrap_or(0) as u32;
        match pycoroner_testkit::gdb_stacks_deep(&py.path, &c.core, &[], names.len() + 10) {
            Ok(gdb) if gdb.get(&lwp) == Some(&names) => {}
            Ok(gdb) => {
                let theirs = gdb.get(&lwp).cloned().unwrap_or_default();
                let at = names.iter().zip(&theirs).position(|(a, b)| a != b).unwrap_or(names.len().min(theirs.len()));
                failures.push(format!(
                    "{tag} {} frames, gdb {}; first difference at #{at}: {:?} vs {:?}",
                    names.len(),
                    theirs.len(),
                    names.get(at..at + 3),
                    theirs.get(at..at + 3)
                ));
            }
            Err(e) => failures.push(format!("{tag} {e}")),
        }
        // The text: named, folded, gdb's numbering carried on past the fold.
        let text = |extra: &[&str]| pycoroner_testkit::run(common::pycoroner().arg("core").arg(&c.core).arg("--cache-dir").arg(cache.path()).arg("--native-all").args(extra)).1;
        let folded = text(&[]);
        // The fold covers the run of frames at one return address (the innermost
        // recursion frame is at the faulting instruction instead).
        let pcs: Vec<u64> = cur["frames"].as_array().into_iter().flatten().filter(|f| f["function"] == "crashy_recurse").filter_map(|f| f["pc"].as_u64()).collect();
        let run = pcs.iter().filter(|pc| Some(*pc) == pcs.last()).count();
        let want = format!("  [Previous frame repeated {} more times]\n", run - 3);
        if !folded.contains("C stack overflow: the fault address 0x") || !folded.contains(&want) {
            failures.push(format!("{tag} text lacks the overflow or {want:?}:\n{}", folded.lines().take(40).collect::<Vec<_>>().join("\n")));
        }
        // faulthandler's list of extension modules (3.10+), the same line.
        let theirs = c.faulthandler.lines().find(|l| l.starts_with("Extension modules: ")).map(str::to_string);
        let ours = folded.lines().find(|l| l.starts_with("Extension modules: ")).map(str::to_string);
        if ours != theirs || (py.minor >= 10 && theirs.as_deref() != Some("Extension modules: crashy (total: 1)")) {
            failures.push(format!("{tag} extension modules {ours:?}, faulthandler {theirs:?}"));
        }
        let all = text(&["--no-fold"]);
        if all.lines().filter(|l| l.contains(" in crashy_recurse ")).count() != depth || all.contains("[Previous") {
            failures.push(format!("{tag} --no-fold does not show all {depth} frames"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A thread with a Python thread state and no frame (C code took one with
/// PyGILState_Ensure): the text is faulthandler's for every version (no line on
/// 3.6–3.7, `<no Python frame>` unindented on 3.8–3.9, indented on 3.10+).
#[test]
fn a_thread_with_no_frame_is_shown_as_faulthandler_shows_it() {
    if require_tool("cc").is_none() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &pycoroner_testkit::pyenv_interpreters() {
        let (c, _build) = match crash_with_crashy(py, "frameless_thread.py") {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("[{}] {e}", py.id()));
                continue;
            }
        };
        let (_, text, err) = pycoroner_testkit::run(common::pycoroner().arg("core").arg(&c.core).arg("--cache-dir").arg(cache.path()));
        let (_, text) = pycoroner_testkit::split_report_header(&text);
        let ours: String = text.lines().filter(|l| !l.starts_with("Layouts from")).map(|l| pycoroner_testkit::faulthandler_escape(l) + "\n").collect();
        let ours = pycoroner_testkit::faulthandler_python_part(&ours);
        let theirs = pycoroner_testkit::faulthandler_python_part(&c.faulthandler);
        let frameless = pycoroner_testkit::parse_faulthandler(&c.faulthandler).iter().filter(|t| t.frames.is_empty()).count();
        if ours.trim_end() != theirs.trim_end() || frameless != 1 {
            failures.push(format!("[{}] {frameless} frameless threads; text differs:\n--- pycoroner\n{ours}--- faulthandler\n{theirs}{err}", py.id()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
