//! The same core read in every form it can come in: compressed (zstd, lz4, xz, gzip),
//! through the layout cache, and with its mapped files under a --sysroot.

mod common;

use std::process::Command;

use common::{analyze_json, compare_with_faulthandler, pycoroner};
use pycoroner_testkit::{crash, pyenv_interpreters, repo_root, require_tool, Crash};
use serde_json::Value;

fn demo_crash() -> Option<Crash> {
    let py = pyenv_interpreters().into_iter().last()?;
    Some(crash(&py.path, &repo_root().join("crates/cli/src/demo_scenario.py")).expect("demo scenario crashes"))
}

fn threads(v: &Value) -> Value {
    v["threads"].clone()
}

#[test]
fn compressed_cores_read_as_is() {
    let Some(c) = demo_crash() else { return };
    let cache = tempfile::tempdir().expect("tmp");
    let (code, plain, err) = analyze_json(&c.core, cache.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    let plain = plain.expect("json");
    assert!(compare_with_faulthandler(&plain, &c.faulthandler).is_empty());
    for (tool, args, ext) in [
        ("zstd", &["-q", "-3", "-c"][..], "zst"),
        ("lz4", &["-q", "-c"][..], "lz4"),
        ("xz", &["-q", "-0", "-c", "-T2"][..], "xz"),
        ("gzip", &["-q", "-1", "-c"][..], "gz"),
    ] {
        let Some(bin) = require_tool(tool) else { continue };
        let packed = c.dir.path().join(format!("core.{ext}"));
        let out = std::fs::File::create(&packed).expect("create");
        let st = Command::new(bin).args(args).arg(&c.core).stdout(out).status().expect(tool);
        assert!(st.success(), "{tool} failed");
        let (code, v, err) = analyze_json(&packed, cache.path(), &[]);
        assert_eq!(code, Some(0), "{tool}: {err}");
        assert_eq!(threads(&v.expect("json")), threads(&plain), "{tool}-compressed core reads differently");
        std::fs::remove_file(packed).ok();
    }
}

#[test]
fn layout_cache_is_used_on_second_run() {
    let Some(c) = demo_crash() else { return };
    let cache = tempfile::tempdir().expect("tmp");
    let (_, first, err) = analyze_json(&c.core, cache.path(), &[]);
    let first = first.unwrap_or_else(|| panic!("first run: {err}"));
    assert_eq!(first["python"]["layout_cached"], false);
    let files: Vec<_> = std::fs::read_dir(cache.path().join("layouts")).expect("cache dir written").flatten().collect();
    assert_eq!(files.len(), 1, "one cache file per build-id");
    let (_, second, err) = analyze_json(&c.core, cache.path(), &[]);
    let second = second.unwrap_or_else(|| panic!("second run: {err}"));
    assert_eq!(second["python"]["layout_cached"], true);
    assert_eq!(threads(&first), threads(&second));
    // A corrupt cache file is ignored, not trusted.
    std::fs::write(files[0].path(), b"{not json").expect("write");
    let (code, third, err) = analyze_json(&c.core, cache.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    let third = third.expect("json");
    assert_eq!(third["python"]["layout_cached"], false);
    assert_eq!(threads(&first), threads(&third));
}

/// A core from "another machine": the files it mapped are found under --sysroot first.
#[test]
fn sysroot_is_searched_first() {
    let Some(c) = demo_crash() else { return };
    let cache = tempfile::tempdir().expect("tmp");
    let (_, v, err) = analyze_json(&c.core, cache.path(), &["--no-cache"]);
    let v = v.unwrap_or_else(|| panic!("{err}"));
    let module = v["python"]["module"].as_str().expect("module").to_string();
    let root = tempfile::tempdir().expect("tmp");
    let copy = root.path().join(module.trim_start_matches('/'));
    std::fs::create_dir_all(copy.parent().expect("parent")).expect("mkdir");
    std::fs::copy(&module, &copy).expect("copy libpython");
    let (code, v, err) = analyze_json(&c.core, cache.path(), &["--no-cache", "--sysroot", root.path().to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{err}");
    let v = v.expect("json");
    assert_eq!(v["python"]["layout_file"].as_str(), copy.to_str(), "layouts must come from the sysroot copy");
    assert!(compare_with_faulthandler(&v, &c.faulthandler).is_empty());
}

/// Debian's /usr/bin/python3.11 links libpython statically and is stripped; with
/// python3.11-dbg installed its DWARF is a separate file under /usr/lib/debug/.build-id.
#[test]
fn static_libpython_with_separate_debug_file() {
    let py = std::path::Path::new("/usr/bin/python3.11");
    let has_dbg = std::path::Path::new("/usr/lib/debug/.build-id").is_dir() && std::path::Path::new("/usr/bin/python3.11d").is_file();
    if !py.is_file() || !has_dbg {
        if pycoroner_testkit::in_ci() {
            panic!("CI=true but /usr/bin/python3.11 with python3.11-dbg is not installed");
        }
        eprintln!("SKIP: /usr/bin/python3.11 and python3.11-dbg are needed");
        return;
    }
    let c = crash(py, &repo_root().join("crates/cli/src/demo_scenario.py")).expect("crash");
    let cache = tempfile::tempdir().expect("tmp");
    let (code, v, err) = analyze_json(&c.core, cache.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    let v = v.expect("json");
    assert_eq!(v["python"]["module"], "/usr/bin/python3.11", "the runtime is in the executable");
    assert!(
        v["python"]["layout_file"].as_str().is_some_and(|f| f.starts_with("/usr/lib/debug/.build-id/")),
        "layouts from the separate debug file, got {}",
        v["python"]["layout_file"]
    );
    let diffs = compare_with_faulthandler(&v, &c.faulthandler);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

/// README's first command: `pycoroner demo` crashes the bundled scenario and analyzes
/// it; its report equals faulthandler's view printed below it.
#[test]
fn demo_crashes_and_analyzes() {
    let Some(py) = pyenv_interpreters().into_iter().last() else { return };
    let keep = tempfile::tempdir().expect("tmp");
    let cache = tempfile::tempdir().expect("tmp");
    let (code, out, err) = pycoroner_testkit::run(
        common::pycoroner().arg("demo").arg("--python").arg(&py.path).arg("--keep").arg(keep.path()).arg("--cache-dir").arg(cache.path()),
    );
    assert_eq!(code, Some(0), "{err}");
    let fh = std::fs::read_to_string(keep.path().join("faulthandler.txt")).expect("faulthandler output kept");
    let out = pycoroner_testkit::faulthandler_python_part(&out);
    let ours: Vec<&str> = out.lines().filter(|l| l.starts_with("Thread ") || l.starts_with("Current thread") || l.starts_with("  File")).collect();
    let theirs: Vec<&str> = fh.lines().filter(|l| l.starts_with("Thread ") || l.starts_with("Current thread") || l.starts_with("  File")).collect();
    assert!(theirs.len() > 10, "{fh}");
    assert_eq!(ours, theirs);
    assert!(out.contains("in parse_record"), "{out}");
}

/// A core through a pipe (`-`), plain and compressed, reads as the file does; memory
/// stays bounded (it is spooled to a temporary file, not held).
#[test]
fn a_core_streamed_through_a_pipe_reads_as_the_file() {
    let Some(c) = demo_crash() else { return };
    let cache = tempfile::tempdir().expect("tmp");
    let (_, plain, err) = analyze_json(&c.core, cache.path(), &[]);
    let plain = plain.unwrap_or_else(|| panic!("{err}"));
    let mut sources: Vec<(String, std::process::Stdio)> = vec![("plain".into(), std::fs::File::open(&c.core).expect("open").into())];
    if let Some(zstd) = require_tool("zstd") {
        let child = Command::new(zstd).args(["-q", "-1", "-c"]).arg(&c.core).stdout(std::process::Stdio::piped()).spawn().expect("zstd");
        sources.push(("zstd".into(), child.stdout.expect("pipe").into()));
    }
    for (what, stdin) in sources {
        let out = common::pycoroner()
            .args(["core", "-", "--format", "json", "--cache-dir"])
            .arg(cache.path())
            .stdin(stdin)
            .output()
            .expect("run");
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = pycoroner_testkit::parse_report(&String::from_utf8_lossy(&out.stdout)).expect("json");
        assert_eq!(threads(&v), threads(&plain), "{what}");
        assert_eq!(v["target"]["path"], "-");
    }
}

/// `pycoroner core CORE EXE`, as pystack takes it: the executable checked by build-id.
#[test]
fn the_executable_may_follow_the_core() {
    let Some(c) = demo_crash() else { return };
    let cache = tempfile::tempdir().expect("tmp");
    let (_, plain, err) = analyze_json(&c.core, cache.path(), &[]);
    let plain = plain.unwrap_or_else(|| panic!("{err}"));
    let exe = plain["target"]["executable"].as_str().expect("executable").to_string();
    let (code, v, err) = analyze_json(&c.core, cache.path(), &[exe.as_str()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(threads(&v.expect("json")), threads(&plain));
    // Another file there is refused by build-id, as with --exe.
    let (code, _, err) = analyze_json(&c.core, cache.path(), &["/bin/sh"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("does not match the core"), "{err}");
}

/// A process in its own root (a container: here a chroot holding an interpreter at
/// /opt/pyroot, a path this machine does not have) whose root is moved away after the
/// crash. Without --sysroot the report refuses with one line naming the missing file
/// and the flag; with --sysroot at the new place it equals faulthandler's dump.
#[test]
fn a_core_from_a_moved_root_is_read_with_sysroot() {
    if require_tool("chroot").is_none() || require_tool("ldd").is_none() {
        return;
    }
    let Some(py) = pycoroner_testkit::pyenv_interpreters().into_iter().last() else { return };
    let m = pycoroner_testkit::moved_root_crash(&py);
    let (moved, core, faulthandler) = (m.moved.clone(), m.core.clone(), m.faulthandler.clone());
    let cache = tempfile::tempdir().expect("tmp");
    let (code, out, err) = pycoroner_testkit::run(pycoroner().arg("core").arg(&core).arg("--cache-dir").arg(cache.path()));
    assert_eq!(code, Some(2), "without --sysroot: exit 2, got {code:?}\n{out}{err}");
    let line = err.trim_end();
    eprintln!("without --sysroot: {line}");
    assert!(!line.contains('\n') && line.contains("/opt/pyroot/") && line.contains("--sysroot"), "{err}");
    let (code, v, err) = analyze_json(&core, cache.path(), &["--sysroot", moved.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{err}");
    let v = v.expect("json");
    let diffs = compare_with_faulthandler(&v, &faulthandler);
    assert!(diffs.is_empty(), "{diffs:?}");
    assert_eq!(v["python"]["module"], "/opt/pyroot/lib/libpython3.".to_string() + &py.minor.to_string() + ".so.1.0", "the path the process knew");
    assert!(v["python"]["layout_file"].as_str().is_some_and(|m| m.starts_with(moved.to_str().unwrap_or("?"))), "{}", v["python"]);
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(0), "{}", v["warnings"]);
}
