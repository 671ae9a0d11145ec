//! Thread names come from `threading._active`, found through `sys.modules`: both dicts
//! are read whole, whatever the display limit (`--length`), so every thread of a
//! process with 150 threads and hundreds of modules (any pytest run) is named, as the
//! process itself named it.

mod common;

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
