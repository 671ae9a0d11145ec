//! What a person at a terminal (or a tool reading JSON) gets besides the report: the
//! help texts (recorded, so a change to them is seen), `--version`, errors as JSON with
//! `--format json`, and colour only on a terminal, never when piped or with NO_COLOR.

mod common;

use std::process::Command;

use common::pycoroner;
use pycoroner_testkit::{crash, pyenv_interpreters, repo_root, run};

/// Every command's `--help`, against `tests/snapshots/help-*.txt` (rewrite them with
/// `PYCORONER_REGEN_SNAPSHOTS=1` after a deliberate change, and read the diff).
#[test]
fn help_texts_are_as_recorded() {
    let dir = repo_root().join("crates/cli/tests/snapshots");
    let mut stale = Vec::new();
    for cmd in ["", "core", "pid", "print", "layouts", "demo", "gdb", "lldb"] {
        let mut c = pycoroner();
        if !cmd.is_empty() {
            c.arg(cmd);
        }
        let (code, out, err) = run(c.arg("--help"));
        assert_eq!(code, Some(0), "{cmd} --help: {err}");
        let name = if cmd.is_empty() { "help.txt".to_string() } else { format!("help-{cmd}.txt") };
        let path = dir.join(&name);
        if std::env::var_os("PYCORONER_REGEN_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(&dir).expect("snapshots dir");
            std::fs::write(&path, &out).expect("write snapshot");
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(out.as_str()) {
            stale.push(name);
        }
    }
    assert!(stale.is_empty(), "help texts differ from their snapshots {stale:?} (PYCORONER_REGEN_SNAPSHOTS=1 rewrites them)");
}

#[test]
fn version_names_what_it_reads() {
    let (code, out, _) = run(pycoroner().arg("--version"));
    assert_eq!(code, Some(0));
    assert!(out.starts_with("pycoroner ") && out.contains("CPython 3.6 to 3.15") && out.contains("Linux x86_64"), "{out}");
}

/// With `--format json`, an error is a JSON object on stdout with the same exit status.
#[test]
fn errors_are_json_with_format_json() {
    let (code, out, err) = run(pycoroner().args(["core", "/nonexistent/core", "--format", "json"]));
    assert_eq!(code, Some(2));
    assert!(err.is_empty(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["schema"], pycoroner::report::SCHEMA);
    assert_eq!(v["error"]["kind"], "bad-input");
    assert_eq!(v["error"]["exit_status"], 2);
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("/nonexistent/core")));

    // No Python in the core: exit 3, kind no-python.
    let dir = tempfile::tempdir().expect("tmp");
    let core = pycoroner_testkit::core_without_python(dir.path());
    let (code, out, _) = run(pycoroner().arg("core").arg(core).args(["--format", "json", "--no-cache"]));
    assert_eq!(code, Some(3));
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!((v["error"]["kind"].as_str(), v["error"]["exit_status"].as_u64()), (Some("no-python"), Some(3)));
    // Without --format json: one line on stderr, nothing on stdout.
    let (code, out, err) = run(pycoroner().args(["core", "/nonexistent/core"]));
    assert_eq!((code, out.is_empty(), err.lines().count()), (Some(2), true, 1));
}

/// Run pycoroner on a pseudo-terminal (as a person would), `env` added; its output.
fn on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    on_a_terminal_fed(args, env, None)
}

/// The same, its standard input a pipe that gets `stdin_file` only after a second (an
/// analysis that cannot finish sooner).
fn on_a_terminal_fed(args: &[&str], env: &[(&str, &str)], stdin_file: Option<&std::path::Path>) -> String {
    let bin = env!("CARGO_BIN_EXE_pycoroner");
    let script = r#"
import os, pty, sys, time
feed = os.environ.pop("FEED", "")
if feed:
    r, w = os.pipe()
pid, fd = pty.fork()
if pid == 0:
    if feed:
        os.dup2(r, 0)
    os.execv(sys.argv[1], sys.argv[1:])
if feed:
    os.close(r)
    time.sleep(1.0)
    with open(feed, "rb") as f:
        os.write(w, f.read())
    os.close(w)
out = b""
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
"#;
    let mut c = Command::new("python3");
    c.arg("-c").arg(script).arg(bin).args(args).env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    if let Some(f) = stdin_file {
        c.env("FEED", f);
    }
    let out = c.output().expect("python3 pty");
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

/// Colour on a terminal; none when piped, with `NO_COLOR`, or `--color never`; and the
/// coloured text is the plain one with escape codes added.
#[test]
fn colour_only_on_a_terminal() {
    let Some(py) = pyenv_interpreters().into_iter().last() else { return };
    let c = crash(&py.path, &repo_root().join("crates/cli/src/demo_scenario.py")).expect("demo crash");
    let core = c.core.to_string_lossy().into_owned();
    let cache = tempfile::tempdir().expect("tmp");
    let cache = cache.path().to_string_lossy().into_owned();
    let args = ["core", core.as_str(), "--cache-dir", cache.as_str()];
    let (code, piped, err) = run(pycoroner().args(args));
    assert_eq!(code, Some(0), "{err}");
    assert!(!piped.contains('\x1b'), "piped output has escape codes");
    let tty = on_a_terminal(&args, &[]);
    assert!(tty.contains("\x1b[1;31mCurrent thread\x1b[0m"), "{tty}");
    assert_eq!(pycoroner::report::escape::strip_color(&tty), piped);
    assert!(!on_a_terminal(&args, &[("NO_COLOR", "1")]).contains('\x1b'));
    let mut never = args.to_vec();
    never.extend(["--color", "never"]);
    assert!(!on_a_terminal(&never, &[]).contains('\x1b'));
    let mut always = args.to_vec();
    always.extend(["--color", "always"]);
    let (_, forced, _) = run(pycoroner().args(&always));
    assert!(forced.contains('\x1b') && pycoroner::report::escape::strip_color(&forced) == piped);
}

/// A read that takes longer than half a second shows one progress line on a terminal,
/// erased before the report; piped, there is none.
#[test]
fn progress_line_only_on_a_terminal() {
    let Some(py) = pyenv_interpreters().into_iter().last() else { return };
    let c = crash(&py.path, &repo_root().join("crates/cli/src/demo_scenario.py")).expect("demo crash");
    let args = ["core", "-", "--no-cache", "--color", "never"];
    let tty = on_a_terminal_fed(&args, &[], Some(&c.core));
    let line = "pycoroner: reading - (a first run reads debug files; later ones use the cache)...\r\x1b[K";
    assert!(tty.starts_with(line) && tty.contains("Current thread"), "{tty:?}");
    let core = std::fs::File::open(&c.core).expect("core");
    let out = Command::new(env!("CARGO_BIN_EXE_pycoroner")).args(args).stdin(core).output().expect("pycoroner");
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
