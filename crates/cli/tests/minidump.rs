//! Slim minidumps: `pycoroner dump` of a core or a live process, read back with
//! `pycoroner core FILE.dmp`, gives the report of the original (every thread's frames,
//! locals and native frames), and with no binary at all still every Python stack and
//! value, equal to faulthandler's output of the same instant; the dump is at most 1% of
//! the core; a damaged dump is refused or read partly, never a crash.

mod common;

use std::path::Path;

use common::{compare_with_faulthandler, pycoroner};
use pycoroner_testkit::{all_interpreters, crash, pyenv_interpreters, report_schema_errors, run, scenario, Parked};
use serde_json::Value;

/// `pycoroner dump CORE -o OUT` (status, stdout, stderr).
fn dump(core: &Path, out: &Path, cache: &Path) -> (Option<i32>, String, String) {
    run(pycoroner().arg("dump").arg(core).arg("-o").arg(out).arg("--cache-dir").arg(cache))
}

/// The Python frames of every thread, by thread id: (function, file, line, locals).
fn python_frames(report: &Value) -> Vec<(Value, Vec<Value>)> {
    report["threads"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let frames = t["frames"].as_array().into_iter().flatten().filter(|f| f["kind"] == "python").cloned().collect();
            (t["thread_id"].clone(), frames)
        })
        .collect()
}

#[test]
fn a_dump_reads_back_as_the_core_on_every_interpreter() {
    let cache = tempfile::tempdir().expect("tmp");
    let empty = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = py.id();
        let c = match crash(&py.path, &scenario("threads")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("[{tag}] {e}"));
                continue;
            }
        };
        let dmp = c.dir.path().join("slim.dmp");
        let (code, _, err) = dump(&c.core, &dmp, cache.path());
        if code != Some(0) {
            failures.push(format!("[{tag}] dump exited {code:?}: {err}"));
            continue;
        }
        // At most 1% of the core.
        let (core_len, dmp_len) = (std::fs::metadata(&c.core).map_or(0, |m| m.len()), std::fs::metadata(&dmp).map_or(0, |m| m.len()));
        if dmp_len == 0 || dmp_len * 100 > core_len {
            failures.push(format!("[{tag}] the dump is {dmp_len} bytes, the core {core_len}"));
        }
        let args = ["--locals", "--native"];
        let (_, from_core, err1) = common::analyze_json(&c.core, cache.path(), &args);
        let (_, from_dump, err2) = common::analyze_json(&dmp, cache.path(), &args);
        let (Some(a), Some(b)) = (from_core, from_dump) else {
            failures.push(format!("[{tag}] no report: {err1} {err2}"));
            continue;
        };
        for e in report_schema_errors(&b) {
            failures.push(format!("[{tag}] schema: {e}"));
        }
        // With the binaries: the same report, native frames and all.
        if a["threads"] != b["threads"] {
            failures.push(format!("[{tag}] the dump's threads differ from the core's:\n{}\n{}", a["threads"], b["threads"]));
        }
        for k in ["pid", "executable", "signal"] {
            if a["target"][k] != b["target"][k] {
                failures.push(format!("[{tag}] target.{k}: {} vs {}", a["target"][k], b["target"][k]));
            }
        }
        if b["target"]["kind"] != "core" || b["target"]["minidump"] != true || a["python"]["version"] != b["python"]["version"] {
            failures.push(format!("[{tag}] target {} python {}", b["target"], b["python"]));
        }
        // With no binary at all (an empty sysroot, no cache): every Python frame and
        // value, equal to faulthandler's output of the same instant.
        let (code, out, err) = run(pycoroner().arg("core").arg(&dmp).args(["--format", "json", "--locals", "--no-cache", "--sysroot"]).arg(empty.path()));
        let Some(bare) = pycoroner_testkit::parse_report(&out).filter(|_| code == Some(0)) else {
            failures.push(format!("[{tag}] without binaries: exit {code:?}: {err} {out}"));
            continue;
        };
        if python_frames(&bare) != python_frames(&a) {
            failures.push(format!("[{tag}] without binaries the Python frames differ"));
        }
        for d in compare_with_faulthandler(&bare, &c.faulthandler) {
            failures.push(format!("[{tag}] without binaries: {d}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_dump_of_150_threads_is_small() {
    let Some(py) = pyenv_interpreters().pop() else { return };
    let cache = tempfile::tempdir().expect("tmp");
    let c = crash(&py.path, &scenario("many_named_threads")).expect("crash");
    let dmp = c.dir.path().join("slim.dmp");
    let (code, out, err) = dump(&c.core, &dmp, cache.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("wrote "), "{out}");
    let (core_len, dmp_len) = (std::fs::metadata(&c.core).expect("core").len(), std::fs::metadata(&dmp).expect("dump").len());
    assert!(dmp_len < 4 << 20 && dmp_len * 100 <= core_len, "{dmp_len} bytes of a {core_len}-byte core");
    // Private: it holds the process's memory.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&dmp).expect("dump").permissions().mode() & 0o777, 0o600);
    let (_, a, _) = common::analyze_json(&c.core, cache.path(), &["--locals"]);
    let (_, b, err) = common::analyze_json(&dmp, cache.path(), &["--locals"]);
    let (a, b) = (a.expect("core report"), b.unwrap_or_else(|| panic!("dump report: {err}")));
    assert_eq!(a["threads"].as_array().map(Vec::len), Some(151));
    assert_eq!(a["threads"], b["threads"]);
    // An existing file is never replaced.
    let (code, _, err) = dump(&c.core, &dmp, cache.path());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not replaced") && err.lines().count() == 1, "{err}");
}

#[test]
fn a_live_dump_equals_faulthandler_and_the_process_runs_on() {
    let Some(py) = pyenv_interpreters().pop() else { return };
    let mut t = Parked::start(&py);
    let truth = t.ground_truth();
    let dir = tempfile::tempdir().expect("tmp");
    let dmp = dir.path().join("live.dmp");
    let (code, out, err) = run(pycoroner().arg("dump").arg("--pid").arg(t.pid().to_string()).arg("-o").arg(&dmp).args(["--format", "json", "--no-cache"]));
    assert_eq!(code, Some(0), "{err}");
    let summary: Value = serde_json::from_str(&out).expect("json");
    assert!(summary["bytes"].as_u64().is_some_and(|b| b > 0 && b < 4 << 20), "{summary}");
    assert!(t.answers(), "the process did not run on after the dump");
    let (code, out, err) = run(pycoroner().arg("core").arg(&dmp).args(["--format", "json", "--no-cache"]));
    assert_eq!(code, Some(0), "{err}");
    let v = pycoroner_testkit::parse_report(&out).expect("report");
    let diffs = compare_with_faulthandler(&v, &truth);
    assert!(diffs.is_empty(), "{diffs:?}");
    assert_eq!(v["target"]["pid"].as_u64(), Some(u64::from(t.pid())));
}

#[test]
fn a_damaged_dump_is_refused_or_read_in_part_never_a_crash() {
    let Some(py) = pyenv_interpreters().pop() else { return };
    let cache = tempfile::tempdir().expect("tmp");
    let c = crash(&py.path, &scenario("threads")).expect("crash");
    let dmp = c.dir.path().join("slim.dmp");
    assert_eq!(dump(&c.core, &dmp, cache.path()).0, Some(0));
    let good = std::fs::read(&dmp).expect("dump");
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("header only".into(), good[..32].to_vec()),
        ("cut in half".into(), good[..good.len() / 2].to_vec()),
        ("signature only".into(), b"MDMP".to_vec()),
    ];
    // Bytes overwritten at spread-out places (directory, streams, memory).
    for seed in 1..=6u64 {
        let mut b = good.clone();
        for i in 0..64u64 {
            let at = (pycoroner_testkit::mix(seed, i) % b.len() as u64) as usize;
            b[at] = pycoroner_testkit::mix(seed, i ^ 0xff) as u8;
        }
        cases.push((format!("corrupted #{seed}"), b));
    }
    for (what, bytes) in cases {
        let path = c.dir.path().join("bad.dmp");
        std::fs::write(&path, &bytes).expect("write");
        let (code, out, err) = run(pycoroner().arg("core").arg(&path).args(["--locals", "--native", "--cache-dir"]).arg(cache.path()));
        // A report (which says what it could not read), or one line and exit 2 or 3.
        match code {
            Some(0) => assert!(out.contains("Python"), "{what}: {out}"),
            Some(2 | 3) => assert!(err.lines().count() == 1 && err.starts_with("pycoroner: "), "{what}: {err}"),
            other => panic!("{what}: exit {other:?}: {err}"),
        }
    }
}

/// Our native stacks text: `[Current ]Thread LWP N` then `#k  [0x... in ]NAME ...`.
fn native_names(text: &str) -> std::collections::HashMap<u32, Vec<String>> {
    let mut out: std::collections::HashMap<u32, Vec<String>> = std::collections::HashMap::new();
    let mut lwp = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Current thread LWP ").or_else(|| line.strip_prefix("Thread LWP ")) {
            lwp = rest.split(' ').next().and_then(|n| n.parse().ok());
        } else if let (Some(l), Some(frame)) = (lwp, line.trim_start().strip_prefix('#')) {
            let rest = frame.split_once(' ').map(|(_, r)| r.trim_start()).unwrap_or_default();
            let rest = rest.split_once(" in ").filter(|(pc, _)| pc.starts_with("0x")).map_or(rest, |(_, r)| r);
            out.entry(l).or_default().push(rest.split(' ').next().unwrap_or_default().to_string());
        }
    }
    out
}

/// Another writer's minidump (lldb's `process save-core --plugin-name=minidump`, stacks
/// only): each thread's native stack is read from it (the binaries' read-only parts from
/// the files, checked by the dump's build-ids) and equals gdb's `bt` of the same parked
/// process; the Python part, which needs the heap, is one line naming what is missing
/// and how to get it, with exit 2.
#[test]
fn another_writers_minidump_gives_native_stacks_and_names_what_is_missing() {
    let (Some(lldb), Some(_)) = (pycoroner_testkit::require_tool("lldb-16"), pycoroner_testkit::require_tool("gdb")) else { return };
    let Some(py) = pyenv_interpreters().pop() else { return };
    let mut t = Parked::start(&py);
    // Once faulthandler's watchdog has dumped, its thread ends: mostly before lldb looks.
    let _ = t.ground_truth();
    let dir = tempfile::tempdir().expect("tmp");
    let dmp = dir.path().join("lldb.dmp");
    let save = format!("process save-core --plugin-name=minidump --style=stack {}", dmp.display());
    let (code, out, err) = run(std::process::Command::new(lldb).args(["-b", "-p", &t.pid().to_string(), "-o", &save, "-o", "detach"]));
    assert!(code == Some(0) && dmp.is_file(), "lldb: {out}{err}");
    assert!(t.answers(), "the process did not run on after lldb");
    let gdb = pycoroner_testkit::gdb_stacks_live(t.pid(), &[]).expect("gdb");
    let (code, out, err) = run(pycoroner().arg("core").arg(&dmp).arg("--no-cache"));
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.lines().count() == 1 && err.contains("is not in the minidump") && err.contains("pycoroner dump"), "{err}");
    let ours = native_names(&out);
    // Every thread gdb saw later is in the dump; one only in the dump has ended since
    // (the watchdog thread, if it was still finishing when lldb looked).
    let ended = |lwp: &u32| !std::path::Path::new(&format!("/proc/{}/task/{lwp}", t.pid())).exists();
    assert!(ours.len() > 1 && gdb.keys().all(|l| ours.contains_key(l)) && ours.keys().all(|l| gdb.contains_key(l) || ended(l)), "{:?} vs gdb's {:?}:\n{out}", ours.keys().collect::<Vec<_>>(), gdb.keys().collect::<Vec<_>>());
    for (lwp, names) in &ours {
        if let Some(theirs) = gdb.get(lwp) {
            assert_eq!(names, theirs, "LWP {lwp}:\n{out}");
        }
    }
}
