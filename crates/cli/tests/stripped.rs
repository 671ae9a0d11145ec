//! No DWARF needed: the built-in tables are what `pycoroner layouts` generates from
//! every interpreter here; every layout source gives the same report; stripped copies
//! of every interpreter read equal to faulthandler from the built-in tables (3.13
//! through its own _Py_DebugOffsets), and with `--only-keep-debug` files found through
//! --debug-dir. Every run here uses an empty cache: a stripped copy keeps its build-id,
//! so a warm cache would answer from DWARF.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{analyze_json, compare_with_faulthandler, pycoroner};
use pycoroner_testkit::{all_interpreters, crash, crash_with_env, pyenv_interpreters, repo_root, require_tool, run, scenario, Interpreter};

fn data_dir() -> PathBuf {
    repo_root().join("crates/layouts/data")
}

/// The binary holding the runtime, and the table name and --version for it.
fn layout_binary(py: &Interpreter) -> (PathBuf, String, Option<String>) {
    if py.version.contains("sid") {
        let debug = py.version.contains("debug");
        let exe = pycoroner_testkit::sid_cache().join("root/usr/bin").join(py.path.file_name().expect("name"));
        let v = Command::new(&py.path).args(["-c", "import platform; print(platform.python_version())"]).output().expect("python");
        let v = String::from_utf8_lossy(&v.stdout).trim().to_string();
        return (exe, format!("{v}{}.json", if debug { "-debug" } else { "" }), None);
    }
    if py.version.contains("debian") {
        let debug = py.version.contains("debug");
        let v = Command::new(&py.path).args(["-c", "import platform; print(platform.python_version())"]).output().expect("python");
        let v = String::from_utf8_lossy(&v.stdout).trim().to_string();
        return (py.path.clone(), format!("{v}{}.json", if debug { "-debug" } else { "" }), None);
    }
    let lib = py.path.parent().and_then(Path::parent).expect("prefix").join("lib");
    let so = std::fs::read_dir(&lib)
        .expect("lib dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libpython3") && n.to_string_lossy().ends_with(".so.1.0")))
        .expect("libpython");
    (so, format!("{}.json", py.version), Some(py.version.clone()))
}

/// The checked-in tables equal what the generator writes today, for every interpreter
/// on this machine. `PYCORONER_REGEN_LAYOUTS=1` rewrites them instead.
#[test]
fn builtin_tables_match_the_generator() {
    let regen = std::env::var_os("PYCORONER_REGEN_LAYOUTS").is_some();
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let (bin, name, version) = layout_binary(py);
        let mut cmd = pycoroner();
        cmd.arg("layouts").arg(&bin).arg("--debug-dir").arg(pycoroner_testkit::sid_debug_dir());
        if let Some(v) = version {
            cmd.arg("--version").arg(v);
        }
        let (code, out, err) = run(&mut cmd);
        if code != Some(0) {
            failures.push(format!("[{}] layouts failed: {err}", py.id()));
            continue;
        }
        let path = data_dir().join(&name);
        if regen {
            std::fs::write(&path, &out).expect("write table");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) if text == out => {}
            Ok(_) => failures.push(format!("[{}] {} differs from the generator's output (PYCORONER_REGEN_LAYOUTS=1 to rewrite)", py.id(), path.display())),
            Err(_) => failures.push(format!("[{}] no built-in table {}", py.id(), path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// DWARF, the built-in table and (3.13) _Py_DebugOffsets give the same report.
#[test]
fn layout_sources_agree() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let c = crash(&py.path, &scenario("threads")).expect("crash");
        let report = |src: &str| {
            let debug_dir = pycoroner_testkit::sid_debug_dir();
            let (code, v, err) = analyze_json(
                &c.core,
                cache.path(),
                &["--no-cache", "--locals", "--layout-source", src, "--debug-dir", debug_dir.to_str().unwrap_or("/")],
            );
            v.filter(|_| code == Some(0)).ok_or(err)
        };
        let dwarf = match report("dwarf") {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("[{}] dwarf: {e}", py.id()));
                continue;
            }
        };
        let mut sources = vec!["builtin"];
        if py.minor >= 13 {
            sources.push("debug-offsets");
        }
        for src in sources {
            match report(src) {
                Ok(v) if v["threads"] == dwarf["threads"] && v["python"]["layout_source"] == src => {}
                Ok(v) => failures.push(format!("[{}] {src} differs from dwarf: {}", py.id(), v["python"])),
                Err(e) => failures.push(format!("[{}] {src}: {e}", py.id())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

struct StrippedCopy {
    dir: tempfile::TempDir,
    python: PathBuf,
    lib: PathBuf,
    home: PathBuf,
}

/// `strip --strip-all` copies of an interpreter's executable and libpython, run from
/// their own directory with the original standard library.
fn stripped_copy(py: &Interpreter, strip: &Path) -> StrippedCopy {
    let (so, _, _) = layout_binary(py);
    let dir = tempfile::tempdir().expect("tmp");
    let (bin, lib) = (dir.path().join("bin"), dir.path().join("lib"));
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::create_dir_all(&lib).expect("mkdir");
    let python = bin.join(py.path.file_name().expect("name"));
    let libpy = lib.join(so.file_name().expect("name"));
    for (from, to) in [(&py.path, &python), (&so, &libpy)] {
        let st = Command::new(strip).arg("--strip-all").arg("-o").arg(to).arg(from).status().expect("strip");
        assert!(st.success());
    }
    let home = py.path.parent().and_then(Path::parent).expect("prefix").to_path_buf();
    StrippedCopy { dir, python, lib: libpy, home }
}

#[test]
fn stripped_interpreters_read_from_builtin_tables() {
    let Some(strip) = require_tool("strip") else { return };
    let Some(objcopy) = require_tool("objcopy") else { return };
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &pyenv_interpreters() {
        let copy = stripped_copy(py, &strip);
        let lib_dir = copy.lib.parent().expect("lib").as_os_str().to_owned();
        let env = [("LD_LIBRARY_PATH", lib_dir.as_os_str()), ("PYTHONHOME", copy.home.as_os_str())];
        let c = match crash_with_env(&copy.python, &scenario("threads"), &env) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("[{} stripped] {e}", py.id()));
                continue;
            }
        };
        let (code, v, err) = analyze_json(&c.core, cache.path(), &["--no-cache"]);
        let Some(v) = v.filter(|_| code == Some(0)) else {
            failures.push(format!("[{} stripped] exit {code:?}: {err}", py.id()));
            continue;
        };
        let want = if py.minor >= 13 { "debug-offsets" } else { "builtin" };
        if v["python"]["layout_source"] != want || !v["python"]["module"].as_str().is_some_and(|m| m.starts_with(copy.dir.path().to_str().unwrap_or("?"))) {
            failures.push(format!("[{} stripped] python: {}", py.id(), v["python"]));
        }
        if v["python"]["version"] != py.version.as_str() {
            failures.push(format!("[{} stripped] version {} (expected {})", py.id(), v["python"]["version"], py.version));
        }
        if v["warnings"].as_array().is_some_and(|w| !w.is_empty()) {
            failures.push(format!("[{} stripped] warnings {}", py.id(), v["warnings"]));
        }
        for d in compare_with_faulthandler(&v, &c.faulthandler) {
            failures.push(format!("[{} stripped] {d}", py.id()));
        }
        // The same copy with its DWARF split off into a build-id tree, found by --debug-dir.
        let dbg_root = copy.dir.path().join("debug");
        let orig = layout_binary(py).0;
        let id = build_id(&copy.lib).expect("build-id survives strip");
        let dest = dbg_root.join(".build-id").join(&id[..2]).join(format!("{}.debug", &id[2..]));
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        let st = Command::new(&objcopy).arg("--only-keep-debug").arg(&orig).arg(&dest).status().expect("objcopy");
        assert!(st.success());
        let (code, v2, err) = analyze_json(&c.core, cache.path(), &["--no-cache", "--debug-dir", dbg_root.to_str().expect("utf8")]);
        match v2.filter(|_| code == Some(0)) {
            Some(v2) if v2["python"]["layout_source"] == "dwarf" && v2["python"]["layout_file"] == dest.to_str().expect("utf8") => {
                if v2["threads"] != v["threads"] {
                    failures.push(format!("[{} --debug-dir] threads differ from the built-in reading", py.id()));
                }
            }
            Some(v2) => failures.push(format!("[{} --debug-dir] python: {}", py.id(), v2["python"])),
            None => failures.push(format!("[{} --debug-dir] exit {code:?}: {err}", py.id())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn build_id(path: &Path) -> Option<String> {
    let out = Command::new("readelf").arg("-n").arg(path).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
}

/// A missing debug file says where pycoroner looked and which flag helps.
#[test]
fn forced_dwarf_on_stripped_names_paths_and_flag() {
    let Some(strip) = require_tool("strip") else { return };
    let Some(py) = pyenv_interpreters().into_iter().find(|p| p.minor == 12) else { return };
    let copy = stripped_copy(&py, &strip);
    let lib_dir = copy.lib.parent().expect("lib").as_os_str().to_owned();
    let env = [("LD_LIBRARY_PATH", lib_dir.as_os_str()), ("PYTHONHOME", copy.home.as_os_str())];
    let c = crash_with_env(&copy.python, &scenario("nested_calls"), &env).expect("crash");
    let (code, out, err) = run(pycoroner().arg("core").arg(&c.core).args(["--no-cache", "--layout-source", "dwarf"]));
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/usr/lib/debug/.build-id/") && err.contains("--debug-dir"), "{err}");
}

/// A debug file in a debuginfod client cache (`$DEBUGINFOD_CACHE_PATH/<build-id>/debuginfo`)
/// is found like one in /usr/lib/debug.
#[test]
fn debuginfod_client_cache_is_searched() {
    let Some(strip) = require_tool("strip") else { return };
    let Some(objcopy) = require_tool("objcopy") else { return };
    let Some(py) = pyenv_interpreters().into_iter().find(|p| p.minor == 10) else { return };
    let copy = stripped_copy(&py, &strip);
    let lib_dir = copy.lib.parent().expect("lib").as_os_str().to_owned();
    let env = [("LD_LIBRARY_PATH", lib_dir.as_os_str()), ("PYTHONHOME", copy.home.as_os_str())];
    let c = crash_with_env(&copy.python, &scenario("nested_calls"), &env).expect("crash");
    let cache = copy.dir.path().join("debuginfod");
    let id = build_id(&copy.lib).expect("build-id");
    let dest = cache.join(&id).join("debuginfo");
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    let st = Command::new(&objcopy).arg("--only-keep-debug").arg(layout_binary(&py).0).arg(&dest).status().expect("objcopy");
    assert!(st.success());
    let (code, out, err) =
        run(pycoroner().arg("core").arg(&c.core).args(["--no-cache", "--format", "json"]).env("DEBUGINFOD_CACHE_PATH", &cache));
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = pycoroner_testkit::parse_report(&out).expect("json");
    assert_eq!(v["python"]["layout_source"], "dwarf");
    assert_eq!(v["python"]["layout_file"], dest.to_str().expect("utf8"));
    assert!(compare_with_faulthandler(&v, &c.faulthandler).is_empty());
}
