//! Thread names come from `threading._active`, found through `sys.modules`: both dicts
//! are read whole, whatever the display limit (`--length`), so every thread of a
//! process with 150 threads and hundreds of modules (any pytest run) is named, as the
//! process itself named it.

mod common;

use std::process::Command;

use common::crash_and_analyze;
use pycoroner_testkit::{all_interpreters, scenario};

#[test]
fn every_thread_is_named_however_many_threads_and_modules() {
    let script = scenario("many_named_threads");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let (c, v) = match crash_and_analyze(py, &script, cache.path(), &["--length", "10"]) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        // The process's own view: "name IDENT NAME" per thread, written just before the crash.
        let truth: Vec<(u64, String)> = c
            .sidecar
            .as_deref()
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut it = l.splitn(3, ' ');
                (it.next() == Some("name")).then_some(())?;
                Some((it.next()?.parse().ok()?, it.next()?.to_string()))
            })
            .collect();
        if truth.len() < 151 {
            failures.push(format!("[{}] the sidecar names only {} threads", py.id(), truth.len()));
            continue;
        }
        let threads = v["threads"].as_array().cloned().unwrap_or_default();
        for (ident, name) in &truth {
            match threads.iter().find(|t| t["thread_id"].as_u64() == Some(*ident)) {
                Some(t) if t["name"].as_str() == Some(name) => {}
                Some(t) => failures.push(format!("[{}] thread {ident:#x}: name {} in the report, {name:?} in the process", py.id(), t["name"])),
                None => failures.push(format!("[{}] thread {ident:#x} ({name}) missing", py.id())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A pytest run (pytest from the package index, on every pyenv interpreter that has it):
/// a test imports over 150 modules, starts threads, segfaults. The frames equal the
/// dump of pytest's own faulthandler plugin (on stderr), every thread has the name
/// `threading` gave it, and the report names the test that was running.
#[test]
fn a_crash_inside_a_pytest_run() {
    let pythons: Vec<_> = pycoroner_testkit::pyenv_interpreters()
        .into_iter()
        .filter(|py| Command::new(&py.path).args(["-c", "import pytest"]).output().is_ok_and(|o| o.status.success()))
        .collect();
    if pythons.is_empty() {
        assert!(!pycoroner_testkit::in_ci(), "CI=true but no pyenv interpreter has pytest (.ci/run installs it)");
        eprintln!("SKIP: no pyenv interpreter has pytest");
        return;
    }
    let test_file = pycoroner_testkit::repo_root().join("fixtures/pytest/test_crash_in_pytest.py");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &pythons {
        let tag = format!("[{} pytest]", py.id());
        let dir = tempfile::tempdir().expect("tmp");
        let side = dir.path().join("names.txt");
        let out = Command::new("sh")
            .arg("-c")
            .arg("ulimit -c unlimited && exec \"$0\" -m pytest -q -p no:cacheprovider \"$1\"")
            .arg(&py.path)
            .arg(&test_file)
            .current_dir(dir.path())
            .env("PYCORONER_SIDECAR", &side)
            .env_remove("PYTHONPATH")
            .output()
            .expect("pytest");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let Some(core) = std::fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.path()).find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("core"))) else {
            failures.push(format!("{tag} no core; stdout:\n{}\nstderr:\n{stderr}", String::from_utf8_lossy(&out.stdout)));
            continue;
        };
        let (code, v, err) = common::analyze_json(&core, cache.path(), &[]);
        let Some(v) = v.filter(|_| code == Some(0)) else {
            failures.push(format!("{tag} exit {code:?}: {err}"));
            continue;
        };
        for d in common::compare_with_faulthandler(&v, &stderr) {
            failures.push(format!("{tag} {d}"));
        }
        let names = std::fs::read_to_string(&side).unwrap_or_default();
        let mut named = 0;
        for line in names.lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some("name"), Some(ident), Some(want)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let ident: u64 = ident.parse().unwrap_or(0);
            let got = v["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["thread_id"] == ident)).map(|t| t["name"].clone());
            if got.as_ref().and_then(|n| n.as_str()) != Some(want) {
                failures.push(format!("{tag} thread {ident:#x} named {got:?}, threading says {want:?}"));
            }
            named += 1;
        }
        if named < 7 {
            failures.push(format!("{tag} only {named} threads listed by the test"));
        }
        // The test pytest was running, from os.environ in the core's memory.
        let test = names.lines().find_map(|l| l.strip_prefix("test "));
        if test.is_none() || v["target"]["test"].as_str() != test {
            failures.push(format!("{tag} test {} in the report, {test:?} in the process", v["target"]["test"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
