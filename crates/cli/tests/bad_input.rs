//! Bad input gets one clear line on stderr and the exit status DESIGN.md gives
//! (2 bad input, 3 no Python), never a panic or a hang.

mod common;

use std::io::Write;
use std::path::Path;

use common::pycoroner;
use pycoroner_testkit::{crash, pyenv_interpreters, run};

fn expect_one_line(args: &[&std::ffi::OsStr], status: i32, needle: &str) {
    let (code, out, err) = run(pycoroner().args(args));
    assert_eq!(code, Some(status), "args {args:?}: stdout {out:?} stderr {err:?}");
    assert!(out.is_empty(), "nothing on stdout for an error, got {out:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got {err:?}");
    assert!(lines[0].starts_with("pycoroner: "), "{err:?}");
    assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    assert!(!err.contains("panicked"), "{err:?}");
}

fn core_arg(p: &Path) -> Vec<&std::ffi::OsStr> {
    vec!["core".as_ref(), p.as_os_str(), "--no-cache".as_ref()]
}

#[test]
fn missing_file() {
    expect_one_line(&core_arg(Path::new("/nonexistent/core")), 2, "cannot read /nonexistent/core");
}

#[test]
fn empty_file() {
    let f = tempfile::NamedTempFile::new().expect("tmp");
    expect_one_line(&core_arg(f.path()), 2, "is empty");
}

#[test]
fn text_file_is_not_a_core() {
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    f.write_all(b"this is not a core\n").expect("write");
    expect_one_line(&core_arg(f.path()), 2, "is not an ELF core file");
}

#[test]
fn directory_is_not_a_core() {
    let d = tempfile::tempdir().expect("tmp");
    expect_one_line(&core_arg(d.path()), 2, "is not a regular file (directory)");
}

#[test]
fn executable_is_not_a_core() {
    expect_one_line(&core_arg(Path::new("/bin/sh")), 2, "is an ELF file but not a core dump");
}

#[test]
fn garbage_after_elf_magic() {
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    let mut bytes = b"\x7FELF\x02\x01\x01".to_vec();
    bytes.extend((0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    f.write_all(&bytes).expect("write");
    let (code, _, err) = run(pycoroner().args(core_arg(f.path())));
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// A core of a program with no Python in it: exit status 3.
#[test]
fn core_without_python_exits_3() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = pycoroner_testkit::core_without_python(dir.path());
    expect_one_line(&core_arg(&core), 3, "no Python interpreter found");
}

fn one_real_core() -> Option<pycoroner_testkit::Crash> {
    let py = pyenv_interpreters().into_iter().last()?;
    let script = pycoroner_testkit::repo_root().join("crates/cli/src/demo_scenario.py");
    Some(crash(&py.path, &script).expect("demo scenario crashes"))
}

/// Cut a real core at several points: never a panic, one line or a report with warnings.
#[test]
fn truncated_cores() {
    let Some(c) = one_real_core() else { return };
    let bytes = std::fs::read(&c.core).expect("read core");
    for keep in [64usize, 1000, 4096, bytes.len() / 2, bytes.len() - 4096] {
        let cut = c.dir.path().join(format!("cut-{keep}"));
        std::fs::write(&cut, &bytes[..keep]).expect("write");
        let (code, out, err) = run(pycoroner().args(core_arg(&cut)));
        assert!(!err.contains("panicked"), "cut at {keep}: {err}");
        match code {
            Some(0) => assert!(out.contains("truncated"), "cut at {keep}: a report must say the core is truncated:\n{out}"),
            Some(2) | Some(3) => assert_eq!(err.lines().count(), 1, "cut at {keep}: {err}"),
            other => panic!("cut at {keep}: unexpected status {other:?}: {err}"),
        }
    }
}

/// `--exe` naming another build than the core's executable is refused by build-id.
#[test]
fn exe_build_id_mismatch() {
    let interps = pyenv_interpreters();
    let Some(c) = one_real_core() else { return };
    let other = interps.iter().find(|i| i.minor != interps.last().map_or(0, |l| l.minor)).expect("a second interpreter");
    let (code, _, err) = run(pycoroner().arg("core").arg(&c.core).arg("--exe").arg(&other.path).arg("--no-cache"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("does not match the core") && err.contains("build-id"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // The right executable is accepted.
    let right = &interps.last().expect("interpreter").path;
    let (code, _, err) = run(pycoroner().arg("core").arg(&c.core).arg("--exe").arg(right).arg("--no-cache"));
    assert_eq!(code, Some(0), "{err}");
}
