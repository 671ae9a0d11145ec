//! pycoroner installed as a user installs it, then used from outside the checkout (so
//! nothing can come from the source tree): the wheel in a fresh venv, the release
//! tarball unpacked, and `cargo install --root`. Each reads a real core, and the
//! packages with the debugger commands run `py-bt` in gdb through `pycoroner gdb`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use pycoroner_testkit::{crash, in_ci, pyenv_interpreters, repo_root, require_tool, run, Crash, Interpreter};

/// The demo scenario's core, crashed under `py`.
fn demo_core(py: &Interpreter) -> Crash {
    crash(&py.path, &repo_root().join("crates/cli/src/demo_scenario.py")).expect("the demo scenario crashes")
}

/// A command run in `cwd` (outside the checkout), with no variable that could point
/// back into it.
fn outside(program: &Path, cwd: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(cwd).env_remove("PYCORONER_LIB").env_remove("CARGO_MANIFEST_DIR").env("PYCORONER_CACHE_DIR", cwd.join("cache"));
    c
}

/// What every installed `pycoroner` must do: say its version, read a real core.
fn reads_a_core(bin: &Path, c: &Crash, cwd: &Path, what: &str) {
    let (code, out, err) = run(outside(bin, cwd).arg("--version"));
    assert!(code == Some(0) && out.contains("CPython 3.6 to 3.15"), "{what} --version: {out}{err}");
    let (code, out, err) = run(outside(bin, cwd).arg("core").arg(&c.core));
    assert_eq!(code, Some(0), "{what} core: {err}");
    assert!(out.contains("Current thread") && out.contains("in parse_record"), "{what} core:\n{out}");
}

/// `pycoroner gdb` and `pycoroner lldb` load the commands installed beside the binary
/// (their init lines name them), and `py-bt` in batch mode prints the crashed thread's
/// Python frames.
fn py_bt_in_gdb(bin: &Path, prefix: &Path, py: &Interpreter, c: &Crash, cwd: &Path, what: &str) {
    let (code, out, err) = run(outside(bin, cwd).args(["gdb", "--init"]));
    let want = prefix.join("share/pycoroner/gdb/pycoroner.py").canonicalize().expect("installed gdb script");
    assert_eq!((code, out.trim()), (Some(0), format!("source {}", want.display()).as_str()), "{what} gdb --init: {err}");
    if require_tool("gdb").is_some() {
        let (code, out, err) = run(outside(bin, cwd).arg("gdb").args(["-batch", "-nx"]).arg(&py.path).arg(&c.core).args(["-ex", "py-bt"]));
        assert_eq!(code, Some(0), "{what} gdb: {err}");
        assert!(out.contains("Traceback (most recent call first):") && out.contains("in parse_record"), "{what} gdb py-bt:\n{out}\n{err}");
    }
    // lldb too (`lldb`, else the newest `lldb-N`).
    let (code, out, err) = run(outside(bin, cwd).args(["lldb", "--init"]));
    let want = prefix.join("share/pycoroner/lldb/pycoroner.py").canonicalize().expect("installed lldb script");
    assert_eq!((code, out.trim()), (Some(0), format!("command script import {}", want.display()).as_str()), "{what} lldb --init: {err}");
    if require_tool("lldb-16").is_some() {
        let (code, out, err) = run(outside(bin, cwd).args(["lldb", "--batch"]).arg(&py.path).arg("-c").arg(&c.core).args(["-o", "py-bt"]));
        assert_eq!(code, Some(0), "{what} lldb: {err}");
        assert!(out.contains("Traceback (most recent call first):") && out.contains("in parse_record"), "{what} lldb py-bt:\n{out}\n{err}");
    }
}

fn interpreter() -> Option<Interpreter> {
    let py = pyenv_interpreters().into_iter().last();
    if py.is_none() {
        assert!(!in_ci(), "CI=true but no pyenv interpreter");
        eprintln!("SKIP: no pyenv interpreter");
    }
    py
}

/// The wheel (maturin), installed into a fresh venv: the program, `python -m pycoroner`,
/// the debugger commands and their library under the venv's prefix.
#[test]
fn wheel_installs_and_works_from_a_venv() {
    let Some(py) = interpreter() else { return };
    let work = tempfile::tempdir().expect("tmp");
    let out = Command::new(repo_root().join("packaging/build-wheel.sh")).arg(work.path().join("dist")).arg(&py.path).output().expect("build-wheel.sh");
    assert!(out.status.success(), "build-wheel.sh: {}", String::from_utf8_lossy(&out.stderr));
    let wheel = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert!(name.starts_with("pycoroner-") && name.contains("manylinux") && name.ends_with("_x86_64.whl"), "{name}");
    let venv = work.path().join("venv");
    let status = Command::new(&py.path).args(["-m", "venv"]).arg(&venv).status().expect("venv");
    assert!(status.success());
    let started = std::time::Instant::now();
    let (code, _, err) = run(Command::new(venv.join("bin/pip")).args(["install", "-q", "--no-index"]).arg(&wheel));
    assert_eq!(code, Some(0), "pip install: {err}");
    eprintln!("wheel {} bytes, installed in {:.1} s", std::fs::metadata(&wheel).map_or(0, |m| m.len()), started.elapsed().as_secs_f64());
    let cwd = work.path().join("elsewhere");
    std::fs::create_dir_all(&cwd).expect("cwd");
    let c = demo_core(&py);
    let bin = venv.join("bin/pycoroner");
    reads_a_core(&bin, &c, &cwd, "wheel");
    let (code, out, err) = run(outside(&venv.join("bin/python"), &cwd).args(["-m", "pycoroner", "--version"]));
    assert!(code == Some(0) && out.starts_with("pycoroner "), "python -m pycoroner: {out}{err}");
    assert!(venv.join("share/man/man1/pycoroner.1").is_file() && venv.join("share/bash-completion/completions/pycoroner").is_file());
    py_bt_in_gdb(&bin, &venv, &py, &c, &cwd, "wheel");
}

/// The release tarball, unpacked anywhere, and `cargo install --root` (the program
/// only: it says where the debugger commands would be).
#[test]
fn tarball_and_cargo_install_work_from_anywhere() {
    let Some(py) = interpreter() else { return };
    let work = tempfile::tempdir().expect("tmp");
    let out = Command::new(repo_root().join("packaging/tarball.sh")).arg(work.path()).output().expect("tarball.sh");
    assert!(out.status.success(), "tarball.sh: {}", String::from_utf8_lossy(&out.stderr));
    let tarball = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let unpacked = work.path().join("opt");
    std::fs::create_dir_all(&unpacked).expect("dir");
    let status = Command::new("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&unpacked).status().expect("tar");
    assert!(status.success());
    let prefix = std::fs::read_dir(&unpacked).expect("unpacked").flatten().map(|e| e.path()).next().expect("one top directory");
    let cwd = work.path().join("elsewhere");
    std::fs::create_dir_all(&cwd).expect("cwd");
    let c = demo_core(&py);
    reads_a_core(&prefix.join("bin/pycoroner"), &c, &cwd, "tarball");
    py_bt_in_gdb(&prefix.join("bin/pycoroner"), &prefix, &py, &c, &cwd, "tarball");

    let root = work.path().join("cargo-root");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from);
    let (code, _, err) = run(Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["install", "--quiet", "--locked", "--path"])
        .arg(repo_root().join("crates/cli"))
        .arg("--root")
        .arg(&root)
        .arg("--target-dir")
        .arg(&target));
    assert_eq!(code, Some(0), "cargo install: {err}");
    let bin = root.join("bin/pycoroner");
    reads_a_core(&bin, &c, &cwd, "cargo install");
    let (code, _, err) = run(outside(&bin, &cwd).args(["gdb", "--init"]));
    assert!(code == Some(2) && err.contains("not installed beside") && err.contains("pip"), "{err}");
}
