//! CPython's own gdb test suite, `test_gdb` (shipped in each interpreter's
//! `lib/python3.X/test/`), run against our gdb extension by `peer/test_gdb/run.sh`,
//! which changes only its harness. Every test (and sub-test) that passes with CPython's
//! own `python3.X-gdb.py` must pass with ours: the drop-in promise, checked on every
//! pyenv interpreter 3.6–3.13 and Debian's stripped, static python3.11 (its test
//! package is libpython3.11-testsuite). CPython's script is run on the tests ours does
//! not pass (a run of every test with both would double the time for nothing: only a
//! test ours fails can break the promise).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use pycoroner_testkit::{debian_interpreters, debugger_index_cache, ffi_library, in_ci, pyenv_interpreters, repo_root, require_tool, Interpreter};

/// Each run's outcomes, by (interpreter, `cpython` or `ours`).
type Runs<'a> = BTreeMap<(String, &'a str), Result<BTreeMap<String, String>, String>>;

/// Outcome of each test id (`ok`, `fail`, `error`, `skip`), from the harness's
/// `RESULT status id` lines.
fn run_suite(py: &Path, which: &str, only: &[String]) -> Result<BTreeMap<String, String>, String> {
    let out = Command::new("bash")
        .arg(repo_root().join("peer/test_gdb/run.sh"))
        .arg(py)
        .arg(which)
        .args(only.iter().flat_map(|t| ["-k", t.as_str()]))
        .env("PYCORONER_LIB", ffi_library())
        .env("GDB_INDEX_CACHE", debugger_index_cache().join("gdb"))
        .output()
        .map_err(|e| format!("run.sh: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let results: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(status, id)| (id.to_string(), status.to_string()))
        .collect();
    if results.is_empty() {
        return Err(format!("no results from {which} on {}:\n{text}\n{}", py.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(results)
}

fn with_test_gdb(interpreters: Vec<Interpreter>) -> Vec<Interpreter> {
    interpreters
        .into_iter()
        .filter(|i| {
            let lib = i.path.parent().and_then(Path::parent).map(|p| p.join(format!("lib/python3.{}/test", i.minor)));
            let has = lib.is_some_and(|l| l.join("test_gdb").is_dir() || l.join("test_gdb.py").is_file());
            if !has {
                assert!(!in_ci(), "CI=true but {} ships no test_gdb", i.id());
                eprintln!("SKIP: {} ships no test_gdb", i.id());
            }
            has
        })
        .collect()
}

/// The test method a result id names, for `-k`: `pkg.Class.test_x [sub]` → `test_x`.
fn method(id: &str) -> String {
    id.split(' ').next().unwrap_or(id).rsplit('.').next().unwrap_or(id).to_string()
}

#[test]
fn cpython_test_gdb_passes_with_our_extension() {
    if require_tool("gdb").is_none() {
        return;
    }
    let mut interpreters = pyenv_interpreters();
    interpreters.extend(debian_interpreters().into_iter().filter(|i| i.id().ends_with("static")));
    let interpreters = with_test_gdb(interpreters);
    let ours: Mutex<Runs<'_>> = Mutex::new(BTreeMap::new());
    let next = Mutex::new(0usize);
    // Two at a time: each run is one gdb after another, 30 s to 2 min.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let py = {
                    let mut n = next.lock().expect("queue");
                    let py = interpreters.get(*n);
                    *n += 1;
                    py
                };
                let Some(py) = py else { break };
                let r = run_suite(&py.path, "ours", &[]);
                ours.lock().expect("results").insert((py.id().to_string(), "ours"), r);
            });
        }
    });
    let ours = ours.into_inner().expect("results");
    let mut failures = Vec::new();
    for py in &interpreters {
        let results = match ours.get(&(py.id().to_string(), "ours")) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                failures.push(format!("{}: {e}", py.id()));
                continue;
            }
            None => continue,
        };
        let ok = results.values().filter(|s| *s == "ok").count();
        let not_ok: Vec<(&String, &String)> = results.iter().filter(|(_, s)| *s != "ok").collect();
        eprintln!("{}: ours passes {ok} of {} tests and sub-tests", py.id(), results.len());
        if ok < 40 {
            failures.push(format!("{}: only {ok} tests pass: the harness is broken", py.id()));
        }
        if not_ok.is_empty() {
            continue;
        }
        // What CPython's own script does with the tests ours does not pass.
        let mut only: Vec<String> = not_ok.iter().map(|(id, _)| method(id)).collect();
        only.dedup();
        let theirs = match run_suite(&py.path, "cpython", &only) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{}: {e}", py.id()));
                continue;
            }
        };
        for (id, status) in not_ok {
            match theirs.get(id).map(String::as_str) {
                Some("ok") => failures.push(format!("{}: {id} passes with CPython's script, {status} with ours", py.id())),
                Some(s) => eprintln!("{}: {id}: {status} with ours, {s} with CPython's script", py.id()),
                None => failures.push(format!("{}: {id} did not run with CPython's script", py.id())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
