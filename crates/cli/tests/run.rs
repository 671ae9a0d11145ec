//! `pycoroner run -- CMD`: a crash of any process of the tree is read at the instant
//! the signal is about to be delivered, and its Python stacks equal what faulthandler
//! prints right after (the signal still reaches it, and the core is still written);
//! the exit status is the command's own; a hang is read at `--timeout`, then the tree
//! is stopped (124); signals to pycoroner reach the command; a command that cannot
//! be traced runs untraced, or fails with `--require-trace`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{compare_with_faulthandler, pycoroner};
use pycoroner_testkit::{all_interpreters, pyenv_interpreters, report_schema_errors, run, scenario};

/// `pycoroner run` in `dir` with cores on (`ulimit -c unlimited`, as a CI job sets it
/// or not: the kernel decides, pycoroner only lets the signal through).
fn traced(dir: &Path, run_args: &[&str], cmd: &[&std::ffi::OsStr]) -> Command {
    let mut c = Command::new("sh");
    c.current_dir(dir).arg("-c").arg("ulimit -c unlimited 2>/dev/null; exec \"$@\"").arg("sh").arg(env!("CARGO_BIN_EXE_pycoroner")).arg("run");
    c.args(run_args).arg("--").args(cmd);
    c
}

/// The report files `pycoroner run` left: (json reports, has report.md, has junit.xml).
fn reports(dir: &Path) -> (Vec<serde_json::Value>, bool, Option<String>) {
    let mut json = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    names.sort();
    for p in &names {
        if p.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            json.push(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null));
        }
    }
    (json, dir.join("report.md").is_file(), std::fs::read_to_string(dir.join("junit.xml")).ok())
}

/// (test cases, failures) in a JUnit file, as Python's XML parser reads it.
fn junit_cases(file: &Path, python: &Path) -> (usize, usize) {
    let code = "import sys, xml.etree.ElementTree as E\nr = E.parse(sys.argv[1]).getroot()\nprint(len(r.findall('.//testcase')), len(r.findall('.//testcase/failure')))";
    let (status, out, err) = run(Command::new(python).args(["-c", code]).arg(file));
    assert_eq!(status, Some(0), "{err}");
    let n: Vec<usize> = out.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    (n.first().copied().unwrap_or(0), n.get(1).copied().unwrap_or(0))
}

fn headlines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("pycoroner run: process ")).collect()
}

#[test]
fn a_crash_is_read_before_the_signal_goes_on_and_equals_faulthandler() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let dir = tempfile::tempdir().expect("tmp");
        let fh = dir.path().join("fh.txt");
        let script = scenario("threads");
        let (code, _, err) = run(&mut traced(dir.path(), &["--cache-dir", cache.path().to_str().expect("utf-8")], &[py.path.as_os_str(), script.as_os_str(), fh.as_os_str(), "side.txt".as_ref()]));
        let tag = py.id();
        // The command's own status: killed by SIGSEGV.
        if code != Some(139) {
            failures.push(format!("[{tag}] exit {code:?}, not 139: {err}"));
            continue;
        }
        // One report, although faulthandler re-raises the signal after its dump.
        let heads = headlines(&err);
        if heads.len() != 1 || !heads[0].contains("got SIGSEGV (Segmentation fault)") {
            failures.push(format!("[{tag}] headlines {heads:?}"));
        }
        let (json, md, junit) = reports(&dir.path().join("pycoroner-reports"));
        let [report] = &json[..] else {
            failures.push(format!("[{tag}] {} JSON reports", json.len()));
            continue;
        };
        for e in report_schema_errors(report) {
            failures.push(format!("[{tag}] schema: {e}"));
        }
        // faulthandler printed after we let the signal through: the same instant.
        let truth = std::fs::read_to_string(&fh).unwrap_or_default();
        for d in compare_with_faulthandler(report, &truth) {
            failures.push(format!("[{tag}] {d}"));
        }
        if report["target"]["signal"]["name"] != "SIGSEGV" || report["target"]["kind"] != "process" {
            failures.push(format!("[{tag}] target {}", report["target"]));
        }
        // The crashing thread's values, and native frames.
        let current = report["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["current"] == true)).cloned().unwrap_or_default();
        if !current["frames"].as_array().is_some_and(|f| f.iter().any(|f| f["kind"] == "native") && f.iter().any(|f| f["locals"].is_array())) {
            failures.push(format!("[{tag}] the crashing thread has no native frames or no locals"));
        }
        // Only the crashing thread's values: the log stays short.
        let others_with_locals = report["threads"].as_array().into_iter().flatten().filter(|t| t["current"] != true && t["frames"].as_array().is_some_and(|f| f.iter().any(|f| f["locals"].is_array()))).count();
        if others_with_locals != 0 {
            failures.push(format!("[{tag}] {others_with_locals} other threads show locals"));
        }
        // The minidump beside it reads back as the same report (values of every thread).
        let dmp = std::fs::read_dir(dir.path().join("pycoroner-reports")).into_iter().flatten().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "dmp"));
        match dmp.map(|d| run(pycoroner().arg("core").arg(&d).args(["--format", "json", "--locals", "--native", "--cache-dir"]).arg(cache.path()))) {
            Some((Some(0), out, _)) => {
                let back = pycoroner_testkit::parse_report(&out).unwrap_or_default();
                let strip = |r: &serde_json::Value, all: bool| -> Vec<serde_json::Value> {
                    r["threads"].as_array().into_iter().flatten().map(|t| {
                        let mut t = t.clone();
                        if !all && t["current"] != true {
                            for f in t["frames"].as_array_mut().into_iter().flatten() {
                                f.as_object_mut().map(|o| o.remove("locals"));
                            }
                        }
                        t
                    }).collect()
                };
                if strip(&back, false) != strip(report, false) || back["target"]["minidump"] != true {
                    failures.push(format!("[{tag}] the minidump reads back differently:\n{}\n{}", back["threads"], report["threads"]));
                }
                if !strip(&back, true).iter().any(|t| t["current"] != true && t["frames"].as_array().is_some_and(|f| f.iter().any(|f| f["locals"].is_array()))) {
                    failures.push(format!("[{tag}] the minidump has no other thread's values"));
                }
            }
            other => failures.push(format!("[{tag}] no readable minidump: {other:?}")),
        }
        if !md || !junit.as_deref().is_some_and(|j| j.matches("<testcase ").count() == 1 && j.contains("SIGSEGV")) {
            failures.push(format!("[{tag}] report.md {md}, junit {junit:?}"));
        }
        // The signal was delivered as it would have been: the kernel wrote its core.
        if !dir.path().join("core").is_file() && std::fs::read_to_string("/proc/sys/kernel/core_pattern").is_ok_and(|p| p.trim() == "core") {
            failures.push(format!("[{tag}] no core was written"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_process_of_the_tree_is_watched_through_fork_and_exec() {
    let Some(py) = pyenv_interpreters().pop() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let fh = dir.path().join("fh.txt");
    let side = dir.path().join("side.txt");
    let script = scenario("run_tree");
    let (code, _, err) = run(&mut traced(dir.path(), &["--report-dir", "out"], &[py.path.as_os_str(), script.as_os_str(), fh.as_os_str(), side.as_os_str()]));
    assert_eq!(code, Some(3), "the root's own status: {err}");
    let truth = std::fs::read_to_string(&side).unwrap_or_default();
    let crashed: Vec<(u64, String)> = truth
        .lines()
        .filter_map(|l| l.strip_prefix("crashed "))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(pid, f)| Some((pid.parse().ok()?, f.to_string())))
        .collect();
    assert_eq!(crashed.len(), 4, "{truth}");
    let (json, _, junit) = reports(&dir.path().join("out"));
    assert_eq!(json.len(), 4, "{err}");
    // The JUnit file, read by a real XML parser: one failed test case per crash.
    assert_eq!(junit_cases(&dir.path().join("out/junit.xml"), &py.path), (4, 4), "{junit:?}");
    for (pid, function) in &crashed {
        let report = json.iter().find(|r| r["target"]["pid"].as_u64() == Some(*pid));
        let report = report.unwrap_or_else(|| panic!("no report for process {pid} ({function}): {err}"));
        let fh_text = std::fs::read_to_string(format!("{}.{pid}", fh.display())).unwrap_or_default();
        let diffs = compare_with_faulthandler(report, &fh_text);
        assert!(diffs.is_empty(), "{function}: {diffs:?}");
        assert!(report.to_string().contains(function.as_str()), "{function}");
    }
}

#[test]
fn a_hang_is_read_at_the_timeout_then_the_tree_is_stopped() {
    let Some(py) = pyenv_interpreters().pop() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    // A parent waiting on a child, both stuck in named functions; the child ignores
    // SIGTERM, so only --kill-after's SIGKILL ends it.
    let program = "import subprocess, sys, time\n\
                   def parent_waits():\n    subprocess.call([sys.executable, '-c', 'import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\ndef child_sleeps():\\n    time.sleep(60)\\nchild_sleeps()'])\n\
                   parent_waits()\n";
    let start = Instant::now();
    let (code, _, err) = run(&mut traced(dir.path(), &["--timeout", "2s", "--kill-after", "2s"], &[py.path.as_os_str(), "-c".as_ref(), program.as_ref()]));
    let took = start.elapsed();
    assert_eq!(code, Some(124), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let heads = headlines(&err);
    assert_eq!(heads.len(), 2, "{err}");
    assert!(heads.iter().all(|h| h.contains("was still running at the timeout")), "{heads:?}");
    assert!(err.contains("in parent_waits") && err.contains("in child_sleeps"), "{err}");
    let (json, _, junit) = reports(&dir.path().join("pycoroner-reports"));
    assert_eq!(json.len(), 2);
    assert!(junit.is_some_and(|j| j.matches("<testcase ").count() == 2));
    // The child that ignored SIGTERM got SIGKILL: nothing of the tree runs on to hold
    // a CI step open.
    assert!(took >= Duration::from_secs(4), "took {took:?}: --kill-after was not waited for");
    for r in &json {
        let pid = r["target"]["pid"].as_u64().expect("pid");
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| s.rsplit(')').next().and_then(|r| r.trim_start().chars().next()));
        assert!(state.is_none() || state == Some('Z'), "process {pid} still runs ({state:?})");
    }
}

/// At the timeout, parked threads are read as faulthandler's own watchdog dump
/// (`dump_traceback_later`, fired once they were parked) shows them: the stacks of a
/// hang, checked against ground truth, and the minidump beside it reads back the same.
#[test]
fn a_hang_report_equals_faulthandlers_watchdog_dump() {
    let Some(py) = pyenv_interpreters().pop() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let fh = dir.path().join("fh.txt");
    // Both threads parked by handshake before the watchdog is armed; nothing moves after.
    let program = "import faulthandler, sys, threading\n\
                   f = open(sys.argv[1], 'w')\n\
                   ready, never = threading.Event(), threading.Event()\n\
                   def worker_parked():\n    ready.set()\n    never.wait()\n\
                   threading.Thread(target=worker_parked, daemon=True).start()\n\
                   ready.wait()\n\
                   faulthandler.dump_traceback_later(0.3, file=f)\n\
                   def main_parked():\n    never.wait()\n\
                   main_parked()\n";
    let (code, _, err) = run(&mut traced(dir.path(), &["--timeout", "1500ms", "--kill-after", "1s"], &[py.path.as_os_str(), "-c".as_ref(), program.as_ref(), fh.as_os_str()]));
    assert_eq!(code, Some(124), "{err}");
    let (json, _, _) = reports(&dir.path().join("pycoroner-reports"));
    let [report] = &json[..] else { panic!("{} reports: {err}", json.len()) };
    let truth = std::fs::read_to_string(&fh).unwrap_or_default();
    assert!(truth.contains("main_parked") && truth.contains("worker_parked"), "{truth}");
    let diffs = compare_with_faulthandler(report, &truth);
    assert!(diffs.is_empty(), "{diffs:?}\n{truth}");
    let dmp = std::fs::read_dir(dir.path().join("pycoroner-reports")).into_iter().flatten().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "dmp"));
    let (code, out, err) = run(pycoroner().arg("core").arg(dmp.expect("a minidump")).args(["--format", "json", "--no-cache"]));
    assert_eq!(code, Some(0), "{err}");
    let back = pycoroner_testkit::parse_report(&out).expect("report");
    let diffs = compare_with_faulthandler(&back, &truth);
    assert!(diffs.is_empty(), "the minidump: {diffs:?}");
}

#[test]
fn signals_to_pycoroner_reach_the_command_and_a_dump_does_not_stop_it() {
    let Some(py) = pyenv_interpreters().pop() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let program = "import os, time\ndef waiting_here():\n    print(os.getpid(), flush=True)\n    while True:\n        print('tick', flush=True)\n        time.sleep(0.02)\nwaiting_here()\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_pycoroner"))
        .current_dir(dir.path())
        .args(["run", "--dump-on", "USR1", "--"])
        .arg(&py.path)
        .args(["-c", program])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // stdout read as it comes: the command's pid, then a tick every 20 ms.
    let stdout = child.stdout.take().expect("stdout");
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (pid_tx, pid_rx) = std::sync::mpsc::channel();
    let counter = ticks.clone();
    std::thread::spawn(move || {
        for l in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            if l == "tick" {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            } else {
                let _ = pid_tx.send(l);
            }
        }
    });
    let target = pid_rx.recv_timeout(Duration::from_secs(20)).expect("the command's pid");
    let pid = child.id().to_string();
    // stderr read as it comes: each dump's headline is waited for.
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for l in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if l.starts_with("pycoroner run: process ") {
                let _ = tx.send(());
            }
            all.push_str(&l);
            all.push('\n');
        }
        all
    });
    let now = || ticks.load(std::sync::atomic::Ordering::SeqCst);
    run(Command::new("kill").args(["-USR1", &pid]));
    let dumped = rx.recv_timeout(Duration::from_secs(20)).is_ok();
    // The dump did not stop it: it still ticks.
    let before = now();
    std::thread::sleep(Duration::from_millis(300));
    let ran_after_dump = now() > before;
    // A process stopped by SIGSTOP stays stopped through a dump, and runs on SIGCONT.
    run(Command::new("kill").args(["-STOP", &target]));
    std::thread::sleep(Duration::from_millis(200));
    run(Command::new("kill").args(["-USR1", &pid]));
    let dumped_stopped = rx.recv_timeout(Duration::from_secs(20)).is_ok();
    let stopped_at = now();
    std::thread::sleep(Duration::from_millis(400));
    let stayed_stopped = now() <= stopped_at.saturating_add(1);
    run(Command::new("kill").args(["-CONT", &target]));
    std::thread::sleep(Duration::from_millis(400));
    let ran_on_cont = now() > stopped_at.saturating_add(1);
    run(Command::new("kill").args(["-TERM", &pid]));
    let status = child.wait().expect("wait");
    let err = reader.join().expect("reader");
    assert!(dumped && ran_after_dump, "dumped {dumped}, ran after {ran_after_dump}: {err}");
    assert!(dumped_stopped && stayed_stopped && ran_on_cont, "dumped {dumped_stopped}, stayed stopped {stayed_stopped}, ran on SIGCONT {ran_on_cont}: {err}");
    assert_eq!(status.code(), Some(128 + 15), "{err}");
    let heads = headlines(&err);
    assert_eq!(heads.len(), 2, "{err}");
    assert!(heads.iter().all(|h| h.contains("as asked")) && err.contains("in waiting_here"), "{err}");
}

#[test]
fn exit_statuses_missing_commands_and_untraceable_trees() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, _, err) = run(pycoroner().current_dir(dir.path()).args(["run", "--", "sh", "-c", "exit 7"]));
    assert_eq!(code, Some(7), "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(!dir.path().join("pycoroner-reports").exists(), "nothing caught, no directory");

    // The command gets SIGPIPE's default action (pycoroner, like every Rust program,
    // ignores it): `yes` dies quietly when `head` is done.
    let (code, _, err) = run(pycoroner().args(["run", "--", "sh", "-c", "yes | head -1 >/dev/null"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");

    let (code, _, err) = run(pycoroner().args(["run", "--", "no-such-command-pycoroner"]));
    assert_eq!(code, Some(127));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no-such-command-pycoroner: command not found"), "{err}");

    // A tree that is already traced (by an outer run) cannot be traced again: it runs
    // untraced, with one line saying why, or fails with --require-trace.
    let bin = env!("CARGO_BIN_EXE_pycoroner");
    let (code, _, err) = run(pycoroner().args(["run", "--", bin, "run", "--", "sh", "-c", "exit 3"]));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("ran untraced") && err.contains("--require-trace"), "{err}");
    let (code, _, err) = run(pycoroner().args(["run", "--", bin, "run", "--require-trace", "--", "sh", "-c", "exit 3"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot trace"), "{err}");
}

/// The report names the pytest test that crashed (`PYTEST_CURRENT_TEST`, which pytest
/// sets in `os.environ` after start), in the headline and as the JUnit test case.
#[test]
fn a_crash_in_pytest_names_the_test() {
    let Some(py) = pyenv_interpreters().into_iter().rev().find(|py| Command::new(&py.path).args(["-c", "import pytest"]).output().is_ok_and(|o| o.status.success())) else {
        assert!(!pycoroner_testkit::in_ci(), "CI=true but no pyenv interpreter has pytest (.ci/run installs it)");
        eprintln!("SKIP: no pyenv interpreter has pytest");
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let side = dir.path().join("side.txt");
    let test_file = pycoroner_testkit::repo_root().join("fixtures/pytest/test_crash_in_pytest.py");
    let (code, _, err) = run(pycoroner()
        .current_dir(dir.path())
        .env("PYCORONER_SIDECAR", &side)
        .env_remove("PYTHONPATH")
        .args(["run", "--"])
        .arg(&py.path)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(&test_file));
    assert_eq!(code, Some(139), "{err}");
    let truth = std::fs::read_to_string(&side).unwrap_or_default();
    let test = truth.lines().find_map(|l| l.strip_prefix("test ")).expect("the test wrote PYTEST_CURRENT_TEST");
    let heads = headlines(&err);
    assert!(heads.len() == 1 && heads[0].ends_with(&format!("in test {test}")), "{heads:?} / {test}");
    let (json, _, junit) = reports(&dir.path().join("pycoroner-reports"));
    assert_eq!(json.first().map(|r| r["target"]["test"].clone()), Some(serde_json::json!(test)));
    assert!(junit.is_some_and(|j| j.contains(&format!("name=\"{test}: SIGSEGV\""))));
}

/// A process of the tree with no Python (a C program) gets its native stacks, each
/// thread's function names equal to gdb's `bt` of the core the kernel wrote right
/// after (the signal went on).
#[test]
fn a_crash_without_python_gets_native_stacks_equal_to_gdb() {
    let (Some(cc), Some(_)) = (pycoroner_testkit::require_tool("cc"), pycoroner_testkit::require_tool("gdb")) else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let src = dir.path().join("c_crash.c");
    std::fs::write(
        &src,
        // The idle thread has run (past the tracer's first stop of it) before the crash.
        "#include <pthread.h>\n#include <sched.h>\n#include <unistd.h>\n\
         static volatile int started;\n\
         static void *idle(void *a) { (void)a; started = 1; for (;;) pause(); return 0; }\n\
         __attribute__((noinline)) static int deref(volatile int *p) { return *p; }\n\
         __attribute__((noinline)) int crash_here(int depth) { return depth ? crash_here(depth - 1) + 1 : deref(0); }\n\
         int main(void) { pthread_t t; pthread_create(&t, 0, idle, 0); while (!started) sched_yield(); return crash_here(3); }\n",
    )
    .expect("write");
    let exe = dir.path().join("c_crash");
    let (code, _, err) = run(Command::new(cc).args(["-g", "-O1", "-pthread"]).arg(&src).arg("-o").arg(&exe));
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&mut traced(dir.path(), &[], &[exe.as_os_str()]));
    assert_eq!(code, Some(139), "{err}");
    assert!(err.contains("No Python interpreter in it"), "{err}");
    // Our threads: `Current thread LWP N` / `Thread LWP N`, then `#k  [0x... in ]NAME ...`.
    let mut ours: std::collections::HashMap<u32, Vec<String>> = std::collections::HashMap::new();
    let mut lwp = None;
    for line in err.lines() {
        if let Some(rest) = line.strip_prefix("Current thread LWP ").or_else(|| line.strip_prefix("Thread LWP ")) {
            lwp = rest.split(' ').next().and_then(|n| n.parse().ok());
        } else if let (Some(l), Some(frame)) = (lwp, line.trim_start().strip_prefix('#')) {
            let rest = frame.split_once(' ').map(|(_, r)| r.trim_start()).unwrap_or_default();
            let rest = rest.split_once(" in ").filter(|(pc, _)| pc.starts_with("0x")).map_or(rest, |(_, r)| r);
            ours.entry(l).or_default().push(rest.split(' ').next().unwrap_or_default().to_string());
        }
    }
    let core = dir.path().join("core");
    if !core.is_file() {
        assert!(!pycoroner_testkit::in_ci(), "CI=true but no core was written (kernel.core_pattern must be `core`)");
        eprintln!("SKIP: no core to compare with gdb");
        return;
    }
    let gdb = pycoroner_testkit::gdb_stacks(&exe, &core, &[]).expect("gdb");
    assert_eq!(ours.len(), 2, "{err}");
    for (lwp, names) in &ours {
        assert_eq!(Some(names), gdb.get(lwp), "LWP {lwp}:\n{err}");
    }
    assert!(ours.values().any(|n| n.first().is_some_and(|f| f == "deref")), "{err}");
}

/// A crash in a thread C created (no Python thread state) is read like any other: the
/// report equals faulthandler's of the same instant.
#[test]
fn a_crash_in_a_c_thread_equals_faulthandler() {
    let (Some(_), Some(py)) = (pycoroner_testkit::require_tool("cc"), pyenv_interpreters().pop()) else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let ext = pycoroner_testkit::build_crashy(&py.path, dir.path()).expect("build crashy");
    let fh = dir.path().join("fh.txt");
    let program = "import faulthandler, sys\nf = open(sys.argv[1], 'w')\nfaulthandler.enable(f, all_threads=True)\nimport crashy\ndef calls_into_c():\n    crashy.crash_in_c_thread()\ncalls_into_c()\n";
    let mut cmd = traced(dir.path(), &["--report-dir", "out"], &[py.path.as_os_str(), "-c".as_ref(), program.as_ref(), fh.as_os_str()]);
    cmd.env("PYTHONPATH", &ext);
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, Some(139), "{err}");
    assert_eq!(headlines(&err).len(), 1, "{err}");
    let (json, _, _) = reports(&dir.path().join("out"));
    let [report] = &json[..] else { panic!("{} reports: {err}", json.len()) };
    let truth = std::fs::read_to_string(&fh).unwrap_or_default();
    let diffs = compare_with_faulthandler(report, &truth);
    assert!(diffs.is_empty(), "{diffs:?}\n{truth}");
    // The crashing thread is C's own: no Python frame, its native frames read.
    let current = report["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["current"] == true)).cloned().unwrap_or_default();
    let frames = current["frames"].as_array().cloned().unwrap_or_default();
    assert!(!frames.iter().any(|f| f["kind"] == "python") && frames.iter().any(|f| f["function"].as_str().is_some_and(|n| n.contains("crashy"))), "{current}");
}

/// A crash during interpreter finalization (in an atexit callback) is read like any
/// other; a report directory that cannot be written costs one line on stderr, and the
/// exit status is still the command's.
#[test]
fn a_crash_at_exit_with_an_unwritable_report_dir() {
    let Some(py) = pyenv_interpreters().pop() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let program = "import atexit, ctypes\ndef at_exit_crash():\n    ctypes.string_at(0)\natexit.register(at_exit_crash)\n";
    let (code, _, err) = run(pycoroner().current_dir(dir.path()).args(["run", "--report-dir", "/proc/no-such-dir/reports", "--"]).arg(&py.path).args(["-c", program]));
    assert_eq!(code, Some(139), "{err}");
    assert_eq!(headlines(&err).len(), 1, "{err}");
    assert!(err.contains("in at_exit_crash"), "{err}");
    let unwritable: Vec<&str> = err.lines().filter(|l| l.contains("cannot write the reports to /proc/no-such-dir/reports")).collect();
    assert_eq!(unwritable.len(), 1, "{err}");
}
