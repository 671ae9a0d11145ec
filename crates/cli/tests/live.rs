//! `pycoroner pid`: a live process read while stopped, against faulthandler's own dump
//! of the same parked threads; the target runs on afterwards, also when pycoroner is
//! killed with SIGKILL while it holds the threads stopped; refusal is one clear line.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{compare_with_faulthandler, pycoroner};
use pycoroner_testkit::{all_interpreters, run, Parked};

/// Every thread of `pid` in a ptrace stop ('t')?
fn any_thread_traced(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().starts_with('t')))
            .unwrap_or(false)
    })
}

#[test]
fn live_stacks_equal_faulthandler_and_target_runs_on() {
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let mut t = Parked::start(py);
        let truth = t.ground_truth();
        let (code, out, err) = run(pycoroner().arg("pid").arg(t.pid().to_string()).args(["--format", "json", "--no-cache"]));
        if code != Some(0) {
            failures.push(format!("[{}] exit {code:?}: {err}", py.id()));
            continue;
        }
        let v: serde_json::Value = pycoroner_testkit::parse_report(&out).expect("json");
        for d in compare_with_faulthandler(&v, &truth) {
            failures.push(format!("[{}] {d}", py.id()));
        }
        if v["target"]["kind"] != "process" || v["target"]["paused_ms"].as_f64().is_none() {
            failures.push(format!("[{}] target: {}", py.id(), v["target"]));
        }
        // Each thread matched to its LWP (fs_base or native_thread_id).
        if v["threads"].as_array().is_some_and(|ts| ts.iter().any(|t| t["native_id"].is_null())) {
            failures.push(format!("[{}] a thread has no LWP", py.id()));
        }
        if any_thread_traced(t.pid()) || !t.answers() {
            failures.push(format!("[{}] the target did not run on after pycoroner pid", py.id()));
        }
        // --nonblocking never stops it and reads the same stacks.
        let (code, out, err) = run(pycoroner().arg("pid").arg(t.pid().to_string()).args(["--nonblocking", "--format", "json"]));
        if code != Some(0) {
            failures.push(format!("[{}] --nonblocking exit {code:?}: {err}", py.id()));
        } else {
            let v: serde_json::Value = pycoroner_testkit::parse_report(&out).expect("json");
            if v["target"]["paused_ms"].as_f64().is_some() {
                failures.push(format!("[{}] --nonblocking paused the target", py.id()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// pycoroner killed with SIGKILL while it holds every thread stopped: the kernel
/// detaches, and the target runs on.
#[test]
fn sigkill_mid_read_never_leaves_the_target_stopped() {
    let Some(py) = all_interpreters().into_iter().last() else { return };
    let mut t = Parked::start(&py);
    let mut reader = pycoroner()
        .arg("pid")
        .arg(t.pid().to_string())
        .env("PYCORONER_TEST_HOLD_MS", "20000")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn pycoroner");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !any_thread_traced(t.pid()) {
        assert!(Instant::now() < deadline, "pycoroner never stopped the target");
        std::thread::yield_now();
    }
    reader.kill().expect("SIGKILL");
    reader.wait().expect("reaped");
    let deadline = Instant::now() + Duration::from_secs(10);
    while any_thread_traced(t.pid()) {
        assert!(Instant::now() < deadline, "target still stopped after pycoroner was killed");
        std::thread::yield_now();
    }
    assert!(t.answers(), "target does not answer after pycoroner was killed");
}

#[test]
fn refused_attach_is_one_line_naming_the_fix() {
    let Some(setpriv) = pycoroner_testkit::require_tool("setpriv") else { return };
    let Some(py) = all_interpreters().into_iter().last() else { return };
    let t = Parked::start(&py);
    // As an unprivileged user, a root process cannot be traced.
    let bin = Path::new(env!("CARGO_BIN_EXE_pycoroner"));
    let (code, out, err) = run(Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin)
        .arg("pid")
        .arg(t.pid().to_string()));
    if err.contains("Permission denied") && err.contains("setpriv") {
        eprintln!("SKIP: cannot run the binary as nobody here: {err}");
        return;
    }
    assert_eq!(code, Some(2), "stdout {out} stderr {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot attach") && (err.contains("root") || err.contains("CAP_SYS_PTRACE")), "{err}");
    // Regression (#10): the hint never names pycoroner itself as the tracer.
    assert!(!err.contains("is already tracing it"), "{err}");
    let (code, _, err) = run(pycoroner().args(["pid", "999999999"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("no process with pid 999999999"), "{err}");
}

/// `pycoroner print --pid PID ADDRESS` renders an object of a running process.
#[test]
fn print_object_of_live_process() {
    let Some(py) = all_interpreters().into_iter().last() else { return };
    let mut t = Parked::start(&py);
    let (code, out, err) = run(pycoroner().arg("pid").arg(t.pid().to_string()).args(["--locals", "--format", "json"]));
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = pycoroner_testkit::parse_report(&out).expect("json");
    // A worker's `depth` argument, an int, and its address.
    let local = v["threads"]
        .as_array()
        .and_then(|ts| {
            ts.iter().flat_map(|t| t["frames"].as_array().into_iter().flatten()).find_map(|f| {
                f["locals"].as_array()?.iter().find(|l| l["name"] == "depth").cloned()
            })
        })
        .expect("a worker frame with `depth`");
    let addr = format!("{:#x}", local["address"].as_u64().expect("address"));
    let (code, out, err) = run(pycoroner().arg("print").arg("--pid").arg(t.pid().to_string()).arg(&addr));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim_end(), local["repr"].as_str().expect("repr"));
    assert!(t.answers());
    let (code, _, err) = run(pycoroner().arg("print").arg("--pid").arg(t.pid().to_string()).arg("core").arg(&addr));
    assert_eq!(code, Some(2), "{err}");
}

/// `pycoroner pid --native-all` on the parked target equals `gdb -p` of the same
/// process, thread by thread; the Python frames still equal faulthandler's.
#[test]
fn live_native_stacks_equal_gdb() {
    if pycoroner_testkit::require_tool("gdb").is_none() {
        return;
    }
    let mut failures = Vec::new();
    for py in all_interpreters().iter().filter(|p| !p.version.contains("sid")) {
        let t = Parked::start(py);
        let truth = t.ground_truth();
        let (code, out, err) = run(pycoroner().arg("pid").arg(t.pid().to_string()).args(["--native-all", "--format", "json"]));
        if code != Some(0) {
            failures.push(format!("[{}] exit {code:?}: {err}", py.id()));
            continue;
        }
        let v: serde_json::Value = pycoroner_testkit::parse_report(&out).expect("json");
        for d in compare_with_faulthandler(&v, &truth) {
            failures.push(format!("[{}] {d}", py.id()));
        }
        let gdb = match pycoroner_testkit::gdb_stacks_live(t.pid(), &[]) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("[{}] {e}", py.id()));
                continue;
            }
        };
        for th in v["threads"].as_array().into_iter().flatten() {
            let lwp = th["native_id"].as_u64().unwrap_or(0) as u32;
            let ours: Vec<String> = th["frames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["kind"] == "native")
                .map(|f| f["function"].as_str().unwrap_or("??").to_string())
                .collect();
            if gdb.get(&lwp) != Some(&ours) {
                failures.push(format!("[{}] LWP {lwp}:\n  pycoroner {ours:?}\n  gdb       {:?}", py.id(), gdb.get(&lwp)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Regression (#10, target frozen): a thread in uninterruptible sleep (a vfork parent)
/// never reaches its ptrace stop. `pycoroner pid` used to wait for it forever with every
/// other thread stopped. Now it gives up on that thread after a bound, reads the rest,
/// says which thread it could not stop, and the process runs on.
#[test]
fn a_thread_in_uninterruptible_sleep_does_not_freeze_the_target() {
    use std::io::{BufRead, BufReader, Write};
    let pys = pycoroner_testkit::pyenv_interpreters();
    let picked: Vec<_> = pys.first().into_iter().chain(pys.last().filter(|_| pys.len() > 1)).collect();
    let mut failures = Vec::new();
    for py in picked {
        let dir = tempfile::tempdir().expect("tmp");
        let ext = pycoroner_testkit::build_crashy(&py.path, dir.path()).expect("build the test extension");
        let dump = dir.path().join("faulthandler.txt");
        let mut child = Command::new(&py.path)
            .arg(pycoroner_testkit::repo_root().join("fixtures/live/vfork_blocked.py"))
            .arg(&ext)
            .arg(&dump)
            .arg("4")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start target");
        let mut stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("ready line");
        let tid: u32 = line.trim().strip_prefix("ready ").and_then(|t| t.parse().ok()).expect("ready TID");
        let deadline = Instant::now() + Duration::from_secs(20);
        let truth = loop {
            let text = std::fs::read_to_string(&dump).unwrap_or_default();
            if text.lines().last().is_some_and(|l| l.ends_with(" in <module>")) {
                break text;
            }
            assert!(Instant::now() < deadline, "no faulthandler dump");
            std::thread::yield_now();
        };
        // pycoroner must finish by itself; it is killed (and the test fails) if not.
        let mut cmd = pycoroner();
        cmd.arg("pid").arg(child.id().to_string()).args(["--format", "json", "--no-cache"]).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut run = cmd.spawn().expect("pycoroner");
        let started = Instant::now();
        while run.try_wait().expect("wait").is_none() {
            if started.elapsed() > Duration::from_secs(20) {
                let _ = run.kill();
                failures.push(format!("[{}] pycoroner pid hung on a thread in D state", py.id()));
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = run.wait_with_output().expect("output");
        let v: serde_json::Value = pycoroner_testkit::parse_report(&String::from_utf8_lossy(&out.stdout)).unwrap_or_default();
        if out.status.code() != Some(0) {
            failures.push(format!("[{}] exit {:?}: {}", py.id(), out.status.code(), String::from_utf8_lossy(&out.stderr)));
        } else {
            let warned = pycoroner_testkit::warning_texts(&v)
                .iter()
                .any(|w| w.contains(&format!("LWP {tid} did not stop")) && w.contains("state D"));
            if !warned {
                failures.push(format!("[{}] no warning names LWP {tid}: {}", py.id(), v["warnings"]));
            }
            for d in compare_with_faulthandler(&v, &truth) {
                failures.push(format!("[{}] {d}", py.id()));
            }
        }
        // The rest ran on at once; the blocked thread runs on when it wakes.
        let answers = writeln!(stdin, "ping").and_then(|()| stdin.flush()).is_ok() && {
            let mut l = String::new();
            stdout.read_line(&mut l).is_ok() && l == "echo ping\n"
        };
        let mut l = String::new();
        let unblocked = stdout.read_line(&mut l).is_ok() && l == "unblocked\n";
        if !answers || !unblocked || any_thread_traced(child.id()) {
            failures.push(format!("[{}] the target did not run on (answers {answers}, unblocked {unblocked})", py.id()));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Regression (#10, misleading answers): a zombie (exited, not yet reaped) used to end
/// in "no Python interpreter found"; it is one line saying it has exited.
#[test]
fn a_zombie_is_said_to_have_exited() {
    let mut child = Command::new("sh").args(["-c", "exit 0"]).spawn().expect("spawn");
    let pid = child.id();
    // Not reaped yet: wait (bounded) until /proc shows it as a zombie.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z'))) {
        assert!(Instant::now() < deadline, "no zombie");
        std::thread::yield_now();
    }
    let (code, _, err) = run(pycoroner().arg("pid").arg(pid.to_string()));
    let _ = child.wait();
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("has exited") && err.contains("zombie"), "{err}");
}

/// Issue #12: a snapshot taken with gdb's `gcore` (the process stopped by SIGSTOP, not
/// dead) said "Fatal Python error: Signal". It is now a snapshot with no crashed thread,
/// and its stacks equal faulthandler's dump of the same parked threads.
#[test]
fn a_gcore_snapshot_is_not_a_crash() {
    let Some(gcore) = pycoroner_testkit::require_tool("gcore") else { return };
    // A pyenv build: gcore of Debian sid's 3.15 debug build (run through its own loader)
    // holds zeros where the oldest frame of each thread names its code (not understood
    // yet; a kernel core and a live read of the same process are right).
    let Some(py) = pycoroner_testkit::pyenv_interpreters().into_iter().last() else { return };
    let mut t = Parked::start(&py);
    let truth = t.ground_truth();
    let dir = tempfile::tempdir().expect("tmp");
    let prefix = dir.path().join("snap");
    let (code, _, err) = run(Command::new(gcore).arg("-o").arg(&prefix).arg(t.pid().to_string()));
    assert_eq!(code, Some(0), "gcore: {err}");
    assert!(t.answers(), "the target runs on after gcore");
    let core = dir.path().join(format!("snap.{}", t.pid()));
    let (code, out, err) = run(pycoroner().arg("core").arg(&core).args(["--format", "json", "--no-cache"]));
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = pycoroner_testkit::parse_report(&out).expect("json");
    let diffs = compare_with_faulthandler(&v, &truth);
    assert!(diffs.is_empty(), "{diffs:?}");
    assert!(v["threads"].as_array().into_iter().flatten().all(|t| t["current"] == false), "a snapshot has no crashed thread");
    let (_, text, _) = run(pycoroner().arg("core").arg(&core).arg("--no-cache"));
    assert!(!text.contains("Fatal Python error"), "{text}");
    assert!(text.contains("No fatal signal: a snapshot of a running process"), "{text}");
}
