//! Ground truth: every scenario under fixtures/scenarios, crashed on every pyenv
//! interpreter 3.6–3.13; pycoroner's threads and Python frames (file, line, function,
//! in order) must equal faulthandler's output of the same instant.

mod common;

use common::{compare_with_faulthandler, crash_and_analyze, pycoroner};
use pycoroner_testkit::{all_interpreters, faulthandler_escape, run, scenario, trace_refs_interpreters};

/// Crash `name` on every interpreter and compare; all mismatches are reported together.
fn check_scenario(name: &str) {
    let script = scenario(name);
    assert!(script.is_file(), "missing scenario {}", script.display());
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    // And a Py_TRACE_REFS debug build: every object header is 16 bytes longer.
    let interps: Vec<_> = all_interpreters().into_iter().chain(trace_refs_interpreters()).collect();
    for py in &interps {
        let (c, v) = match crash_and_analyze(py, &script, cache.path(), &[]) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        if v["python"]["version"].as_str().map(|s| s.starts_with(&format!("3.{}.", py.minor))) != Some(true) {
            failures.push(format!("[{} {name}] version detected as {}", py.id(), v["python"]["version"]));
        }
        for d in compare_with_faulthandler(&v, &c.faulthandler) {
            failures.push(format!("[{} {name}] {d}", py.id()));
        }
        let warnings = v["warnings"].as_array().map_or(0, Vec::len);
        if warnings != 0 {
            failures.push(format!("[{} {name}] unexpected warnings: {}", py.id(), v["warnings"]));
        }
        // The text report, escaped as faulthandler escapes, equals faulthandler's text
        // wherever faulthandler did not cut the stack.
        let (_, text, _) = run(pycoroner().arg("core").arg(&c.core).arg("--cache-dir").arg(cache.path()));
        // Our header first: the process with its command line, the interpreter, the signal.
        let (header, text) = pycoroner_testkit::split_report_header(&text);
        // The kernel keeps the first 80 bytes of the command line (NT_PRPSINFO).
        let command_line = v["target"]["command_line"].as_str().unwrap_or_default();
        let launched = c.sidecar.as_deref().unwrap_or_default().lines().find_map(|l| l.strip_prefix("cmdline ")).unwrap_or_default().to_string();
        let version = v["python"]["version"].as_str().unwrap_or("?");
        let pid = v["target"]["pid"].as_u64().unwrap_or(0);
        if command_line.len() < 16 || !launched.starts_with(command_line) {
            failures.push(format!("[{} {name}] command line {command_line:?}, launched as {launched:?}", py.id()));
        }
        if !header.contains(&format!("Process {pid}: {command_line}"))
            || !header.contains(&format!("CPython {version} ("))
            || !header.contains("Signal SIG")
        {
            failures.push(format!("[{} {name}] header lacks the process, its command line, the version or the signal:\n{header}", py.id()));
        }
        if !pycoroner_testkit::parse_faulthandler(&c.faulthandler).iter().any(|t| t.truncated) {
            let ours: String = text.lines().filter(|l| !l.starts_with("Layouts from")).map(|l| faulthandler_escape(l) + "\n").collect();
            let ours = pycoroner_testkit::faulthandler_python_part(&ours);
            let theirs = pycoroner_testkit::faulthandler_python_part(&c.faulthandler);
            if ours.trim_end() != theirs.trim_end() {
                failures.push(format!("[{} {name}] text differs from faulthandler:\n--- pycoroner\n{ours}--- faulthandler\n{theirs}", py.id()));
            }
        }
        if let Some(side) = &c.sidecar {
            check_sidecar(&v, side, &format!("[{} {name}]", py.id()), &mut failures);
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// A scenario may write `depth <thread function> <N>` lines to its sidecar: the
/// number of Python frames its crashing thread really had (beyond faulthandler's 100).
fn check_sidecar(v: &serde_json::Value, side: &str, tag: &str, failures: &mut Vec<String>) {
    for line in side.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["name", ident, ..] = parts[..] {
            let want = line.splitn(3, ' ').nth(2).unwrap_or("");
            let ident: u64 = ident.parse().unwrap_or(0);
            let got = v["threads"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["thread_id"] == ident && t["interpreter_id"].as_i64().unwrap_or(0) == 0))
                .map(|t| t["name"].clone());
            if got.as_ref().and_then(|n| n.as_str()) != Some(want) {
                failures.push(format!("{tag} thread {ident:#x} named {got:?}, threading says {want:?}"));
            }
        }
        if let ["gc_collecting", "1"] = parts[..] {
            // Every interpreter 3.7+ has the field (3.6 keeps it in a static variable).
            let got = &v["interpreters"][0]["gc_collecting"];
            let old = v["python"]["version"].as_str().is_some_and(|v| v.starts_with("3.6."));
            if *got != true && !(old && got.is_null()) {
                failures.push(format!("{tag} gc_collecting is {got}, the collector was running"));
            }
        }
        if let ["depth", "current", n] = parts[..] {
            let want: usize = n.parse().unwrap_or(0);
            let got = v["threads"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["current"] == true))
                .and_then(|t| t["frames"].as_array())
                .map_or(0, |f| f.iter().filter(|f| f["kind"] == "python").count());
            if got != want {
                failures.push(format!("{tag} current thread has {got} Python frames, the program counted {want}"));
            }
        }
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_scenario(stringify!($name));
            }
        )*
    };
}

scenarios!(
    nested_calls,
    threads,
    deep_recursion,
    generators,
    callback_from_c,
    class_lambda_comprehension,
    except_block,
    finally_block,
    unicode_names,
    exception_chain,
    gc_finalizer,
);

/// faulthandler shows one interpreter (the main one up to 3.11, the crashing one from
/// 3.12); pycoroner shows both. Its frames must equal faulthandler's for the
/// interpreter faulthandler showed, and the crashing thread's active state is the
/// subinterpreter's.
#[test]
fn subinterpreter() {
    let script = scenario("subinterpreter");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = format!("[{} subinterpreter]", py.id());
        let (c, v) = match crash_and_analyze(py, &script, cache.path(), &[]) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let interps = v["interpreters"].as_array().cloned().unwrap_or_default();
        if interps.len() != 2 {
            failures.push(format!("{tag} {} interpreters, expected 2", interps.len()));
            continue;
        }
        let threads = v["threads"].as_array().cloned().unwrap_or_default();
        let names = |t: &serde_json::Value| -> Vec<String> {
            t["frames"].as_array().map_or(vec![], |f| f.iter().map(|f| f["function"].as_str().unwrap_or("?").to_string()).collect())
        };
        let current: Vec<&serde_json::Value> = threads.iter().filter(|t| t["current"] == true).collect();
        match current[..] {
            [t] if names(t) == ["string_at", "inside_subinterpreter", "<module>"] && t["interpreter_id"] != 0 => {}
            _ => failures.push(format!("{tag} expected one current thread, in the subinterpreter, in string_at; got {current:?}")),
        }
        // The same OS thread's state in the main interpreter is waiting in run_sub.
        if !threads.iter().any(|t| t["interpreter_id"] == 0 && names(t) == ["run_sub", "<module>"]) {
            failures.push(format!("{tag} main interpreter's state of the crashing thread not found in run_sub"));
        }
        // Compare with faulthandler interpreter by interpreter, ignoring which state
        // faulthandler calls current (its choice changed in 3.12).
        let matched = common::some_interpreter_equals_faulthandler(&v, &c.faulthandler);
        if !matched {
            failures.push(format!("{tag} no interpreter's threads equal faulthandler's:\n{}", c.faulthandler));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
