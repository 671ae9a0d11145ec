//! Shared by the CLI suites: run the freshly built binary, compare with faulthandler.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use pycoroner_testkit::{crash, faulthandler_escape, parse_faulthandler, Crash, FhThread, Interpreter};
use serde_json::Value;

/// The binary under test.
pub fn pycoroner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pycoroner"))
}

/// `pycoroner core CORE --format json` with a private cache dir; (status, report,
/// stderr). An error comes as JSON on stdout: its message is added to the stderr text,
/// so a caller reads what went wrong in one place.
pub fn analyze_json(core: &Path, cache: &Path, extra: &[&str]) -> (Option<i32>, Option<Value>, String) {
    let (code, out, mut err) = pycoroner_testkit::run(
        pycoroner().arg("core").arg(core).args(["--format", "json", "--cache-dir"]).arg(cache).args(extra),
    );
    if let Some(message) = serde_json::from_str::<Value>(&out).ok().and_then(|v| v["error"]["message"].as_str().map(str::to_string)) {
        err.push_str(&message);
    }
    (code, pycoroner_testkit::parse_report(&out), err)
}

/// Crash `script` under `py` and analyze the core as JSON; a failure is one line
/// tagged with the interpreter, for the suite's list of mismatches.
pub fn crash_and_analyze(py: &Interpreter, script: &Path, cache: &Path, extra: &[&str]) -> Result<(Crash, Value), String> {
    let tag = format!("[{} {}]", py.id(), script.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default());
    let c = crash(&py.path, script).map_err(|e| format!("{tag} {e}"))?;
    let (code, v, err) = analyze_json(&c.core, cache, extra);
    match v.filter(|_| code == Some(0)) {
        Some(v) => Ok((c, v)),
        None => Err(format!("{tag} pycoroner exited {code:?}: {err}")),
    }
}

/// Compare a JSON report with faulthandler's text of the same instant. Returns the
/// differences, one line each (empty when they agree).
pub fn compare_with_faulthandler(report: &Value, faulthandler: &str) -> Vec<String> {
    let truth: Vec<FhThread> = parse_faulthandler(faulthandler);
    let mut diffs = Vec::new();
    if truth.is_empty() {
        diffs.push("faulthandler printed no thread".to_string());
    }
    let threads = report["threads"].as_array().cloned().unwrap_or_default();
    for fh in &truth {
        let Some(ours) = threads.iter().find(|t| t["thread_id"].as_u64() == Some(fh.thread_id)) else {
            diffs.push(format!("thread 0x{:016x} is missing from the report", fh.thread_id));
            continue;
        };
        if let Some(fh_name) = &fh.name {
            // The OS thread name faulthandler prints is cut at 15 bytes. The main thread's
            // OS name is the process's, not Python's "MainThread", and a state whose
            // interpreter never imported threading has no Python name: compare the rest.
            let comparable = ours["name"].as_str().is_some_and(|n| n != "MainThread");
            if comparable && !ours["name"].as_str().is_some_and(|n| n.starts_with(fh_name.as_str())) {
                diffs.push(format!("thread 0x{:016x}: name {} in the report, [{fh_name}] in faulthandler", fh.thread_id, ours["name"]));
            }
        }
        if ours["current"].as_bool() != Some(fh.current) {
            diffs.push(format!("thread 0x{:016x}: current is {} in the report, {} in faulthandler", fh.thread_id, ours["current"], fh.current));
        }
        let frames: Vec<(String, Option<u32>, String)> = ours["frames"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|f| f["kind"] == "python")
            .map(|f| {
                (
                    faulthandler_escape(f["file"].as_str().unwrap_or("???")),
                    f["line"].as_u64().and_then(|l| u32::try_from(l).ok()),
                    faulthandler_escape(f["function"].as_str().unwrap_or("???")),
                )
            })
            .collect();
        let n = fh.frames.len();
        if fh.truncated {
            if frames.len() <= n {
                diffs.push(format!("thread 0x{:016x}: faulthandler cut at {n} frames but the report has only {}", fh.thread_id, frames.len()));
            }
        } else if frames.len() != n {
            diffs.push(format!("thread 0x{:016x}: {} frames in the report, {n} in faulthandler", fh.thread_id, frames.len()));
        }
        for (i, (f, o)) in fh.frames.iter().zip(frames.iter()).enumerate() {
            if (&f.file, f.line, &f.name) != (&o.0, o.1, &o.2) {
                diffs.push(format!(
                    "thread 0x{:016x} frame #{i}: report {:?}:{:?} in {:?}, faulthandler {:?}:{:?} in {:?}",
                    fh.thread_id, o.0, o.1, o.2, f.file, f.line, f.name
                ));
            }
        }
    }
    // Threads with no Python state (interpreter_id null) are not faulthandler's to list.
    if truth.len() < 100 && threads.iter().filter(|t| t["interpreter_id"] == 0).count() != truth.len() {
        diffs.push(format!("{} threads in the report, {} in faulthandler", threads.len(), truth.len()));
    }
    diffs
}

/// With several interpreters faulthandler shows one (the main one up to 3.11, the
/// crashing one from 3.12): true when the threads of some interpreter of the report
/// equal faulthandler's, ignoring which thread state each calls current.
#[allow(dead_code)]
pub fn some_interpreter_equals_faulthandler(report: &Value, faulthandler: &str) -> bool {
    let threads = report["threads"].as_array().cloned().unwrap_or_default();
    let fh = faulthandler.replace("Current thread", "Thread");
    report["interpreters"].as_array().into_iter().flatten().any(|i| {
        let mut only = report.clone();
        let ts: Vec<Value> = threads
            .iter()
            .filter(|t| t["interpreter_id"] == i["id"])
            .cloned()
            .map(|mut t| {
                t["interpreter_id"] = 0.into();
                t["current"] = false.into();
                t
            })
            .collect();
        only["threads"] = ts.into();
        compare_with_faulthandler(&only, &fh).is_empty()
    })
}
