//! `--source`: the line under each Python frame is the one Python's own `linecache`
//! reads from the same file; a file changed after the crash is named in a warning.

mod common;

use std::process::Command;

use common::{analyze_json, crash_and_analyze, pycoroner};
use pycoroner_testkit::{all_interpreters, crash, pyenv_interpreters, run, scenario};
use serde_json::Value;

/// `(file, line, source)` of every Python frame with an absolute file name.
fn frames_with_source(v: &Value) -> Vec<(String, u64, Option<String>)> {
    v["threads"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["frames"].as_array().cloned().unwrap_or_default())
        .filter(|f| f["kind"] == "python" && f["file"].as_str().is_some_and(|p| p.starts_with('/')) && f["line"].is_u64())
        .map(|f| (f["file"].as_str().unwrap_or_default().to_string(), f["line"].as_u64().unwrap_or(0), f["source"].as_str().map(str::to_string)))
        .collect()
}

#[test]
fn source_lines_equal_linecache() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let (c, v) = match crash_and_analyze(py, &scenario("threads"), cache.path(), &["--source"]) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let frames = frames_with_source(&v);
        // Python's own answer for the same (file, line) pairs.
        let query: Vec<String> = frames.iter().map(|(f, l, _)| format!("{f}\t{l}")).collect();
        let out = Command::new(&py.path)
            .args(["-c", "import linecache,sys\nfor q in sys.argv[1:]:\n f,l=q.rsplit('\\t',1)\n print(linecache.getline(f,int(l)).strip())"])
            .args(&query)
            .output()
            .expect("python");
        let truth: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        let ours: Vec<String> = frames.iter().map(|(_, _, s)| s.clone().unwrap_or_default()).collect();
        if frames.len() < 3 || truth != ours {
            failures.push(format!("[{}] --source {ours:?}\n  linecache {truth:?}", py.id()));
        }
        // The text shows it under its frame line.
        let (_, text, _) = run(pycoroner().arg("core").arg(&c.core).arg("--source").arg("--cache-dir").arg(cache.path()));
        if !text.contains("line 41 in crash\n    ctypes.string_at(0)\n") {
            failures.push(format!("[{}] text:\n{text}", py.id()));
        }
        let warnings = v["warnings"].as_array().map_or(0, Vec::len);
        if warnings != 0 {
            failures.push(format!("[{}] warnings: {}", py.id(), v["warnings"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A script edited after the crash: its lines are still shown (they are what the file
/// says now), with a warning naming the file; the interpreter's own files are not named.
#[test]
fn a_file_changed_after_the_crash_is_named() {
    let Some(py) = pyenv_interpreters().into_iter().last() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let src = pycoroner_testkit::repo_root().join("fixtures/scenarios");
    for f in ["_scenario.py", "nested_calls.py"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    let script = dir.path().join("nested_calls.py");
    let c = crash(&py.path, &script).expect("crash");
    // Edited one second "later" than the core.
    let core_time = std::fs::metadata(&c.core).and_then(|m| m.modified()).expect("mtime");
    let text = std::fs::read_to_string(&script).expect("read").replace("level2()\n\n\nlevel1()", "level2()  # edited\n\n\nlevel1()");
    std::fs::write(&script, text).expect("write");
    let f = std::fs::File::options().write(true).open(&script).expect("open");
    f.set_modified(core_time + std::time::Duration::from_secs(1)).expect("set mtime");
    let cache = tempfile::tempdir().expect("tmp");
    let (code, v, err) = analyze_json(&c.core, cache.path(), &["--source"]);
    assert_eq!(code, Some(0), "{err}");
    let v = v.expect("json");
    let warnings: Vec<String> = pycoroner_testkit::warning_texts(&v);
    let named = format!("--source: {} changed after the core was taken", script.display());
    assert!(warnings.iter().any(|w| w.starts_with(&named)), "{warnings:?}");
    assert_eq!(warnings.len(), 1, "only the edited file is named: {warnings:?}");
    assert!(frames_with_source(&v).iter().any(|(_, _, s)| s.as_deref() == Some("level2()  # edited")));
}
