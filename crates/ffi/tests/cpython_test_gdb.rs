//! CPython's own gdb test suite, `test_gdb` (shipped in each interpreter's
//! `lib/python3.X/test/`), run against our gdb extension and against CPython's own
//! `python3.X-gdb.py` by `peer/test_gdb/run.sh`, which changes only its harness. Every
//! test (and sub-test) that passes with CPython's script must pass with ours: the
//! drop-in promise, checked on every pyenv interpreter 3.6–3.13 this machine has.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use pycoroner_testkit::{ffi_library, pyenv_interpreters, repo_root, require_tool, Interpreter};

/// Each run's outcomes, by (interpreter, `cpython` or `ours`).
type Runs<'a> = BTreeMap<(String, &'a str), Result<BTreeMap<String, String>, String>>;

/// Outcome of each test id (`ok`, `fail`, `error`, `skip`), from the harness's
/// `RESULT status id` lines.
fn run_suite(py: &Path, which: &str) -> Result<BTreeMap<String, String>, String> {
    let out = Command::new("bash")
        .arg(repo_root().join("peer/test_gdb/run.sh"))
        .arg(py)
        .arg(which)
        .env("PYCORONER_LIB", ffi_library())
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
                eprintln!("SKIP: {} ships no test_gdb", i.id());
            }
            has
        })
        .collect()
}

#[test]
fn cpython_test_gdb_passes_with_our_extension() {
    if require_tool("gdb").is_none() {
        return;
    }
    let interpreters = with_test_gdb(pyenv_interpreters());
    let jobs: Vec<(&Interpreter, &str)> = interpreters.iter().flat_map(|i| [(i, "cpython"), (i, "ours")]).collect();
    let results: Mutex<Runs<'_>> = Mutex::new(BTreeMap::new());
    let next = Mutex::new(0usize);
    // Two at a time: each run is one gdb after another, about 40 s.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let job = {
                    let mut n = next.lock().expect("queue");
                    let job = jobs.get(*n).copied();
                    *n += 1;
                    job
                };
                let Some((py, which)) = job else { break };
                let r = run_suite(&py.path, which);
                results.lock().expect("results").insert((py.id().to_string(), which), r);
            });
        }
    });
    let results = results.into_inner().expect("results");
    let mut failures = Vec::new();
    for py in &interpreters {
        let get = |which| results.get(&(py.id().to_string(), which));
        let (Some(Ok(theirs)), Some(Ok(ours))) = (get("cpython"), get("ours")) else {
            for which in ["cpython", "ours"] {
                if let Some(Err(e)) = get(which) {
                    failures.push(format!("{}: {e}", py.id()));
                }
            }
            continue;
        };
        let passing: Vec<&String> = theirs.iter().filter(|(_, s)| *s == "ok").map(|(id, _)| id).collect();
        let ours_ok = ours.values().filter(|s| *s == "ok").count();
        eprintln!("{}: CPython's script passes {} of {}, ours {} of {}", py.id(), passing.len(), theirs.len(), ours_ok, ours.len());
        if passing.len() < 20 {
            failures.push(format!("{}: CPython's own script passes only {} tests: the harness is broken", py.id(), passing.len()));
        }
        for id in passing {
            let status = ours.get(id).map_or("missing", String::as_str);
            if status != "ok" {
                failures.push(format!("{}: {id} passes with CPython's script, {status} with ours", py.id()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
