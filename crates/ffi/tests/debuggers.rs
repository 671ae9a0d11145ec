//! The gdb and lldb scripts over this library, driven in batch mode against real cores
//! and live processes: `py-bt` equals faulthandler's frames; `py-locals` and `py-print`
//! equal the reprs the scenario wrote itself; `py-up`/`py-down` move and `py-list`
//! shows the right lines; plain `bt` with the frame filter has the Python frames where
//! the library's own `--native` splice puts them; a missing library is one clear line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pycoroner_testkit::{
    crash, debian_interpreters, faulthandler_escape, ffi_library, gdb_command, lldb_command, sidecar_locals, parse_faulthandler, pyenv_interpreters, repo_root, require_tool,
    scenario, FhThread, Interpreter, Parked,
};

/// Scenarios whose every thread is compared (subinterpreter: the current interpreter's).
const SCENARIOS: &[&str] = &[
    "nested_calls",
    "threads",
    "deep_recursion",
    "generators",
    "callback_from_c",
    "except_block",
    "unicode_names",
    "subinterpreter",
];

fn interpreters() -> Vec<Interpreter> {
    let mut v = pyenv_interpreters();
    v.extend(debian_interpreters().into_iter().filter(|i| i.id().ends_with("static")));
    v
}

/// Run a debugger and return stdout + stderr.
fn run_debugger(mut cmd: Command, cache: &Path) -> String {
    cmd.env("PYCORONER_LIB", ffi_library())
        .env("PYCORONER_CACHE_DIR", cache)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().expect("run debugger");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `gdb -batch` with our script (and CPython's own, auto-loaded, when `with_cpython`).
fn gdb(target: &[&str], commands: &[&str], with_cpython: bool, cache: &Path) -> String {
    let mut cmd = gdb_command();
    cmd.args(["-nx", "-batch", "-q"]);
    if with_cpython {
        cmd.args(["-iex", "set auto-load safe-path /"]);
    } else {
        cmd.args(["-iex", "set auto-load python-scripts off"]);
    }
    let script = repo_root().join("gdb/pycoroner.py");
    cmd.args(["-ex", &format!("source {}", script.display())]);
    for c in commands {
        cmd.args(["-ex", &format!("echo @@@ {c}\\n"), "-ex", c]);
    }
    cmd.args(target);
    run_debugger(cmd, cache)
}

fn lldb(target: &[&str], commands: &[&str], cache: &Path) -> String {
    let mut cmd = lldb_command();
    cmd.arg("-b");
    cmd.args(target);
    let script = repo_root().join("lldb/pycoroner.py");
    cmd.args(["-o", &format!("command script import {}", script.display())]);
    for c in commands {
        cmd.args(["-o", &format!("script print('@@@ {c}')"), "-o", c]);
    }
    run_debugger(cmd, cache)
}

/// Each command and its output, in order.
type Sections = Vec<(String, String)>;

/// Each command's output: the text after its `@@@ cmd` marker up to the next marker.
fn sections(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for line in out.lines() {
        if let Some(c) = line.strip_prefix("@@@ ") {
            v.push((c.to_string(), String::new()));
        } else if line.starts_with("(lldb) ") || line.contains("reg-xstate") {
            continue;
        } else if let Some((_, text)) = v.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    v
}

fn section<'a>(s: &'a [(String, String)], cmd: &str, nth: usize) -> &'a str {
    s.iter().filter(|(c, _)| c == cmd).nth(nth).map(|(_, t)| t.as_str()).unwrap_or("")
}

/// `  File "f", line N, in name` lines, escaped like faulthandler.
fn py_bt_frames(text: &str) -> Vec<(String, Option<u32>, String)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("  File \"")?;
            let (file, rest) = rest.rsplit_once("\", line ")?;
            let (line, name) = rest.split_once(", in ")?;
            Some((faulthandler_escape(file), line.parse().ok(), faulthandler_escape(name)))
        })
        .collect()
}

fn compare(tag: &str, ours: &[(String, Option<u32>, String)], fh: &FhThread, failures: &mut Vec<String>) {
    let theirs: Vec<(String, Option<u32>, String)> =
        fh.frames.iter().map(|f| (f.file.clone(), f.line, f.name.clone())).collect();
    let ours = if fh.truncated { &ours[..ours.len().min(theirs.len())] } else { ours };
    if ours != theirs.as_slice() {
        failures.push(format!("{tag} thread 0x{:x}:\n  ours   {ours:?}\n  theirs {theirs:?}", fh.thread_id));
    }
}

/// `compare`, where a thread that entered a subinterpreter shows both of its thread
/// states (the subinterpreter's frames above the main interpreter's, as on its C stack)
/// and faulthandler shows one of them (the main one ≤3.11, the subinterpreter's 3.12+).
fn compare_bt(tag: &str, scenario: &str, ours: &[(String, Option<u32>, String)], fh: &FhThread, failures: &mut Vec<String>) {
    let theirs: Vec<(String, Option<u32>, String)> =
        fh.frames.iter().map(|f| (f.file.clone(), f.line, f.name.clone())).collect();
    let names: Vec<&str> = ours.iter().map(|f| f.2.as_str()).collect();
    if scenario == "subinterpreter"
        && fh.current
        && names == ["string_at", "inside_subinterpreter", "<module>", "run_sub", "<module>"]
        && (ours.starts_with(&theirs) || ours.ends_with(&theirs))
    {
        return;
    }
    compare(tag, ours, fh, failures)
}

/// Split `thread apply all py-bt` into (pthread id, text).
fn gdb_threads(text: &str) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("Thread ") {
            let id = line.split("(Thread 0x").nth(1).and_then(|r| r.split(' ').next()).and_then(|h| u64::from_str_radix(h, 16).ok());
            v.push((id.unwrap_or(0), String::new()));
        } else if let Some((_, t)) = v.last_mut() {
            t.push_str(line);
            t.push('\n');
        }
    }
    v
}

fn tools() -> bool {
    require_tool("gdb").is_some() & require_tool("lldb-16").is_some()
}

#[test]
fn py_bt_equals_faulthandler_in_gdb_and_lldb() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let mut compared = 0;
    for py in &interpreters() {
        // With CPython's own gdb script loaded as well on every other interpreter.
        let with_cpython = py.minor % 2 == 1;
        for name in SCENARIOS {
            let tag = format!("[{} {name}]", py.id());
            let c = match crash(&py.path, &scenario(name)) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{tag} {e}"));
                    continue;
                }
            };
            let truth = parse_faulthandler(&c.faulthandler);
            let exe = py.path.to_string_lossy().into_owned();
            let core = c.core.to_string_lossy().into_owned();
            // gdb: every thread's own py-bt.
            let out = gdb(&[&exe, &core], &["thread apply all py-bt", "py-threads"], with_cpython, cache.path());
            let s = sections(&out);
            // The debugger's signal info makes the crashed thread `Current`, as in a core.
            let current = truth.iter().find(|t| t.current).map(|t| t.thread_id);
            let gdb_current = parse_faulthandler(section(&s, "py-threads", 0)).iter().find(|t| t.current).map(|t| t.thread_id);
            if current.is_none() || gdb_current != current || !section(&s, "py-threads", 0).starts_with("Fatal Python error: ") {
                failures.push(format!("{tag} gdb py-threads: current thread {gdb_current:x?}, faulthandler's {current:x?}"));
            }
            // A recursion deeper than faulthandler's 100 frames is folded, as in the CLI.
            if *name == "deep_recursion" && !section(&s, "py-threads", 0).contains("  [Previous frame repeated ") {
                failures.push(format!("{tag} gdb py-threads does not fold the recursion"));
            }
            let threads = gdb_threads(section(&s, "thread apply all py-bt", 0));
            for fh in &truth {
                match threads.iter().find(|(id, _)| *id == fh.thread_id) {
                    Some((_, text)) => {
                        compare_bt(&format!("{tag} gdb"), name, &py_bt_frames(text), fh, &mut failures);
                        // As CPython's py-bt: the built-in a thread is in, above its frames,
                        // written as CPython's script writes it.
                        if fh.frames.first().is_some_and(|f| f.name == "worker_sleep") {
                            let first = text.lines().skip_while(|l| !l.starts_with("Traceback")).nth(1);
                            if !first.is_some_and(|l| l.starts_with("  <built-in method sleep of module object at remote 0x")) {
                                failures.push(format!("{tag} gdb py-bt of the sleeping thread starts {first:?}"));
                            }
                        }
                        compared += 1;
                    }
                    None => failures.push(format!("{tag} gdb has no thread 0x{:x}:\n{out}", fh.thread_id)),
                }
            }
            // lldb: the crashed thread's py-bt, and py-threads for all.
            let out = lldb(&["-c", &core, &exe], &["py-bt", "py-threads --no-fold"], cache.path());
            let s = sections(&out);
            if let Some(cur) = truth.iter().find(|t| t.current) {
                compare_bt(&format!("{tag} lldb py-bt"), name, &py_bt_frames(section(&s, "py-bt", 0)), cur, &mut failures);
            }
            // py-threads lists every thread state (a thread in a subinterpreter twice,
            // under each interpreter's heading): one of them is faulthandler's.
            let all = parse_faulthandler(section(&s, "py-threads --no-fold", 0));
            if all.iter().find(|t| t.current).map(|t| t.thread_id) != current {
                failures.push(format!("{tag} lldb py-threads marks no or another current thread"));
            }
            for fh in &truth {
                let mut candidates = all.iter().filter(|t| t.thread_id == fh.thread_id).peekable();
                if candidates.peek().is_none() {
                    failures.push(format!("{tag} lldb py-threads has no thread 0x{:x}:\n{out}", fh.thread_id));
                    continue;
                }
                let mut tried = Vec::new();
                for t in candidates {
                    let ours: Vec<_> =
                        t.frames.iter().map(|f| (faulthandler_escape(&f.file), f.line, faulthandler_escape(&f.name))).collect();
                    let mut miss = Vec::new();
                    compare(&format!("{tag} lldb py-threads"), &ours, fh, &mut miss);
                    tried.extend(miss);
                }
                if tried.len() == all.iter().filter(|t| t.thread_id == fh.thread_id).count() {
                    failures.extend(tried);
                } else {
                    compared += 1;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(compared > 0, "nothing compared");
}

/// The reprs locals_values.py wrote of its own locals (built-in types only).
fn sidecar_reprs(side: &str) -> Vec<(String, String)> {
    sidecar_locals(side).into_iter().filter(|(_, repr)| !repr.starts_with('<')).collect()
}

#[test]
fn navigation_locals_print_and_list_in_gdb_and_lldb() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let script = scenario("locals_values");
    let source = std::fs::read_to_string(&script).expect("scenario source");
    for py in &pyenv_interpreters() {
        let tag = format!("[{}]", py.id());
        let c = match crash(&py.path, &script) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let truth = parse_faulthandler(&c.faulthandler);
        let Some(line) = truth.iter().find(|t| t.current).and_then(|t| t.frames.iter().find(|f| f.name == "inspect_me")).and_then(|f| f.line)
        else {
            failures.push(format!("{tag} faulthandler has no inspect_me frame"));
            continue;
        };
        let names: Vec<String> = truth.iter().find(|t| t.current).map(|t| t.frames.iter().map(|f| f.name.clone()).collect()).unwrap_or_default();
        let (newest, second) = (names.first().cloned().unwrap_or_default(), names.get(1).cloned().unwrap_or_default());
        let reprs = sidecar_reprs(c.sidecar.as_deref().unwrap_or(""));
        let (exe, core) = (py.path.to_string_lossy().into_owned(), c.core.to_string_lossy().into_owned());
        // As CPython's script moves: from the C frame that crashed, the current Python
        // frame is the newest (ctypes.string_at); up to its caller (_scenario.crash), up
        // again to inspect_me; read it (as repr() writes values, then one value as
        // CPython's script writes it); down and down again to the newest and past it;
        // up to the end.
        let depth = names.len();
        let mut cmds = vec!["py-style python", "py-up", "py-up", "py-locals", "py-list", "py-bt-full"];
        let prints: Vec<String> = reprs.iter().map(|(n, _)| format!("py-print {n}")).collect();
        cmds.extend(prints.iter().map(String::as_str));
        cmds.extend(["py-print no_such_name", "py-print Point", "py-print __name__", "py-print True", "py-print len"]);
        cmds.extend(["py-style libpython", "py-print flt", "py-print Point", "py-print len"]);
        cmds.extend(["py-down", "py-down", "py-down"]);
        cmds.extend(std::iter::repeat_n("py-up", depth));
        let gdb_out = gdb(&[&exe, &core], &cmds, false, cache.path());
        let lldb_out = lldb(&["-c", &core, &exe], &cmds, cache.path());
        for (dbg, out) in [("gdb", &gdb_out), ("lldb", &lldb_out)] {
            let s = sections(out);
            let tag = format!("{tag} {dbg}");
            let up1 = section(&s, "py-up", 0);
            if !up1.contains(&format!(", in {second} (")) {
                failures.push(format!("{tag} first py-up did not reach {second}: {up1}"));
            }
            let up2 = section(&s, "py-up", 1);
            if !up2.contains(&format!(", line {line}, in inspect_me (")) {
                failures.push(format!("{tag} second py-up did not reach inspect_me line {line}: {up2}"));
            }
            // CPython's script's style: a float is `<float at remote 0x...>`, a class
            // `<type at remote 0x...>`, a built-in function bound to its module a method.
            for (cmd, want) in [
                ("py-print flt", "local 'flt' = <float at remote 0x"),
                ("py-print Point", "global 'Point' = <type at remote 0x"),
                ("py-print len", "builtin 'len' = <built-in method len of module object at remote 0x"),
            ] {
                let got = section(&s, cmd, 1);
                if !got.starts_with(want) {
                    failures.push(format!("{tag} {cmd} in the libpython style: {got:?}, want {want}..."));
                }
            }
            let locals: HashMap<String, String> = section(&s, "py-locals", 0)
                .lines()
                .filter_map(|l| l.split_once(" = ").map(|(a, b)| (a.to_string(), b.to_string())))
                .collect();
            for (name, repr) in &reprs {
                if locals.get(name) != Some(repr) {
                    failures.push(format!("{tag} py-locals {name}: {:?}, python {repr}", locals.get(name)));
                }
            }
            for (i, (name, repr)) in reprs.iter().enumerate() {
                let got = section(&s, &format!("py-print {name}"), 0).trim_end().to_string();
                let want = format!("local '{name}' = {repr}");
                if got != want {
                    failures.push(format!("{tag} py-print #{i}: {got:?}, want {want:?}"));
                }
            }
            if section(&s, "py-print no_such_name", 0).trim_end() != "'no_such_name' not found" {
                failures.push(format!("{tag} py-print of an unknown name: {}", section(&s, "py-print no_such_name", 0)));
            }
            // Names the frame does not bind: its module's globals, then builtins.
            for (cmd, want) in [
                ("py-print Point", "global 'Point' = <class '__main__.Point'>"),
                ("py-print __name__", "global '__name__' = '__main__'"),
                ("py-print True", "builtin 'True' = True"),
                ("py-print len", "builtin 'len' = <built-in function len>"),
            ] {
                if section(&s, cmd, 0).trim_end() != want {
                    failures.push(format!("{tag} {cmd}: {:?}, want {want:?}", section(&s, cmd, 0)));
                }
            }
            let listing = section(&s, "py-list", 0);
            let want = source.lines().nth(line as usize - 1).unwrap_or("");
            if !listing.lines().any(|l| l == format!("{:>4}    {want}", format!(">{line}"))) {
                failures.push(format!("{tag} py-list does not mark line {line} ({want:?}):\n{listing}"));
            }
            // CPython's py-list: lines line-5 ..= line+5, as far as the file goes.
            let shown = (line as usize + 5).min(source.lines().count()) - (line as usize).saturating_sub(5).max(1) + 1;
            if listing.lines().count() != shown {
                failures.push(format!("{tag} py-list shows {} lines, not {shown}", listing.lines().count()));
            }
            let full = section(&s, "py-bt-full", 0);
            if !full.contains("in inspect_me (arg_int=") {
                failures.push(format!("{tag} py-bt-full lacks inspect_me's arguments:\n{full}"));
            }
            if !section(&s, "py-down", 1).contains(&format!(", in {newest} (")) {
                failures.push(format!("{tag} py-down did not come back to {newest}: {}", section(&s, "py-down", 1)));
            }
            if !section(&s, "py-down", 2).starts_with("Unable to find a newer python frame") {
                failures.push(format!("{tag} py-down past the newest frame: {}", section(&s, "py-down", 2)));
            }
            // From the newest, depth-1 steps reach <module>; one more has nowhere to go.
            if !section(&s, "py-up", 2 + depth - 2).contains(", in <module> (") {
                failures.push(format!("{tag} py-up did not reach <module>: {}", section(&s, "py-up", 2 + depth - 2)));
            }
            if !section(&s, "py-up", 2 + depth - 1).starts_with("Unable to find an older python frame") {
                failures.push(format!("{tag} py-up past <module>: {}", section(&s, "py-up", 2 + depth - 1)));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// Where each local of the locals scenario's `inspect_me` lives in a core, from the
/// library's own analysis of it: (name, address).
fn inspect_me_locals(core: &Path, cache: &Path) -> Vec<(String, u64)> {
    let core = pycoroner::target::ElfCore::open(core).expect("core");
    let opts = pycoroner::Options { locals: true, cache_dir: Some(cache.into()), ..Default::default() };
    let report = pycoroner::analyze(&core, &opts).expect("analyze");
    report.locals_of("inspect_me").into_iter().map(|v| (v.name.clone(), v.address)).collect()
}

/// gdb's `print` of a `PyObject *` (pretty-printer) and lldb's `expression` (summary
/// provider) show the object as Python's own repr() of it with `py-style python`, and
/// as CPython's script does by default, on every interpreter.
#[test]
fn printers_show_objects_as_python_writes_them() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let mut checked = 0;
    for py in &pyenv_interpreters() {
        let tag = format!("[{}]", py.id());
        let c = match crash(&py.path, &scenario("locals_values")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let reprs = sidecar_reprs(c.sidecar.as_deref().unwrap_or(""));
        let addresses: HashMap<String, u64> = inspect_me_locals(&c.core, cache.path()).into_iter().collect();
        let picked: Vec<(&String, &String, u64)> = reprs
            .iter()
            .filter(|(n, _)| ["mapping", "s_ucs4", "huge", "cyclic", "frozen", "raw", "flt", "tup"].contains(&n.as_str()))
            .filter_map(|(n, r)| Some((n, r, *addresses.get(n)?)))
            .collect();
        if picked.len() < 8 {
            failures.push(format!("{tag} only {} of 8 locals have an address", picked.len()));
        }
        let gdb_cmds: Vec<String> = picked.iter().map(|(_, _, a)| format!("print (PyObject *) {a:#x}")).collect();
        let lldb_cmds: Vec<String> = picked.iter().map(|(_, _, a)| format!("expression (PyObject *) {a:#x}")).collect();
        // Python's repr() first (`py-style python`; gdb's `set` parameter for gdb), then
        // the float again as CPython's script writes it.
        let flt = picked.iter().find(|(n, _, _)| n.as_str() == "flt").map_or(0, |p| p.2);
        let (gdb_flt, lldb_flt) = (format!("print (PyObject *) {flt:#x}"), format!("expression (PyObject *) {flt:#x}"));
        let with_style = |first: &str, cmds: &[String], last: &str| -> Vec<String> {
            std::iter::once(first.to_string()).chain(cmds.iter().cloned()).chain(["py-style libpython".to_string(), last.to_string()]).collect()
        };
        let (gdb_all, lldb_all) = (with_style("set py-style python", &gdb_cmds, &gdb_flt), with_style("py-style python", &lldb_cmds, &lldb_flt));
        let (exe, corep) = (py.path.to_string_lossy().into_owned(), c.core.to_string_lossy().into_owned());
        let g = gdb(&[&exe, &corep], &gdb_all.iter().map(String::as_str).collect::<Vec<_>>(), false, cache.path());
        let l = lldb(&["-c", &corep, &exe], &lldb_all.iter().map(String::as_str).collect::<Vec<_>>(), cache.path());
        let (gs, ls) = (sections(&g), sections(&l));
        for (i, (name, repr, addr)) in picked.iter().enumerate() {
            // (gdb's stderr lands after the last command's output: first lines only.)
            let got = section(&gs, &gdb_cmds[i], 0).lines().next().unwrap_or("");
            let ok = got.strip_prefix('$').and_then(|r| r.split_once(" = ")).is_some_and(|(_, v)| v == repr.as_str());
            if !ok {
                failures.push(format!("{tag} gdb print {name}: {got:?}, python {repr}"));
            }
            let got = section(&ls, &lldb_cmds[i], 0).lines().next().unwrap_or("");
            if !got.ends_with(&format!("= {addr:#018x} {repr}")) {
                failures.push(format!("{tag} lldb expression {name}: {got:?}, python {repr}"));
            }
            checked += 1;
        }
        let want = format!("<float at remote {flt:#x}>");
        let (g_flt, l_flt) = (section(&gs, &gdb_flt, 1).lines().next().unwrap_or(""), section(&ls, &lldb_flt, 1).lines().next().unwrap_or(""));
        if !g_flt.ends_with(&format!(" = {want}")) || !l_flt.ends_with(&format!(" {want}")) {
            failures.push(format!("{tag} libpython style: gdb {g_flt:?}, lldb {l_flt:?}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 0);
}

/// Function names of gdb's `bt` output: `#N  0x... in f (...)`, `#N  f (...)`, and a
/// frame printed under the level of the Python frames just above it (`0x... in f (...)`,
/// or `f (...)` when it has inlined calls).
fn bt_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            let ident = l.split_once(" (").is_some_and(|(f, _)| {
                f.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '<')
                    && f.chars().all(|c| c.is_alphanumeric() || "_.<>".contains(c))
            });
            l.starts_with('#') || l.starts_with("0x") || ident
        })
        .filter_map(|l| {
            let mut rest = l;
            if rest.starts_with('#') {
                rest = rest.split_once(' ')?.1.trim_start();
            }
            // (A frame sharing the level of the Python frames before it has no number.)
            if rest.starts_with("0x") {
                rest = rest.split_once(" in ")?.1;
            }
            let name = rest.split(" (").next()?.trim();
            Some(if name.is_empty() { "??".to_string() } else { name.to_string() })
        })
        .collect()
}

#[test]
fn bt_frame_filter_puts_python_frames_in_place() {
    const EVAL: &str = "_PyEval_EvalFrameDefault";
    if require_tool("gdb").is_none() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &pyenv_interpreters() {
        for name in ["nested_calls", "callback_from_c"] {
            let tag = format!("[{} {name}]", py.id());
            let c = match crash(&py.path, &scenario(name)) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{tag} {e}"));
                    continue;
                }
            };
            // Which Python frames each eval-loop call ran, from the library's own
            // mixed stack of the crashed thread (`--native-all`: each run sits just
            // above the `_PyEval_EvalFrameDefault` frame that ran it).
            let core = pycoroner::target::ElfCore::open(&c.core).expect("core");
            let opts = pycoroner::Options { native: pycoroner::NativeMode::All, cache_dir: Some(cache.path().into()), ..Default::default() };
            let report = pycoroner::analyze(&core, &opts).expect("analyze");
            let Some(cur) = report.threads.iter().find(|t| t.current) else {
                failures.push(format!("{tag} no current thread"));
                continue;
            };
            let mut runs: Vec<Vec<String>> = Vec::new();
            let mut run = Vec::new();
            for f in &cur.frames {
                match f {
                    pycoroner::report::Frame::Python(p) => run.push(p.function.clone().unwrap_or_else(|| "???".into())),
                    pycoroner::report::Frame::Native(n) if n.function.as_deref() == Some(EVAL) => runs.push(std::mem::take(&mut run)),
                    pycoroner::report::Frame::Native(_) => {}
                }
            }
            let (exe, corep) = (py.path.to_string_lossy().into_owned(), c.core.to_string_lossy().into_owned());
            let out = gdb(&[&exe, &corep], &["py-bt-filter all", "bt", "py-bt-filter on", "bt", "py-bt-filter off", "bt"], false, cache.path());
            let s = sections(&out);
            let (all, folded, plain) = (bt_names(section(&s, "bt", 0)), bt_names(section(&s, "bt", 1)), bt_names(section(&s, "bt", 2)));
            // `all`: gdb's own frames (tail-call frames and all), the Python frames each
            // eval-loop frame ran placed just above it.
            let mut want = Vec::new();
            let mut runs_left = runs.iter();
            for name in &plain {
                if name == EVAL {
                    want.extend(runs_left.next().cloned().unwrap_or_default());
                }
                want.push(name.clone());
            }
            want.extend(run);
            if all != want || runs.is_empty() {
                failures.push(format!("{tag} bt with py-bt-filter all:\n  gdb  {all:?}\n  want {want:?}"));
            }
            // `on`: the same with the interpreter's call machinery folded away: a
            // shorter subsequence holding every Python frame, in order.
            let py: Vec<&String> = runs.iter().flatten().collect();
            let mut rest = all.iter();
            let subsequence = folded.iter().all(|n| rest.any(|m| m == n));
            let py_in_folded: Vec<&String> = folded.iter().filter(|n| py.contains(n)).collect();
            if !subsequence || folded.len() >= all.len() || !py.iter().all(|p| py_in_folded.contains(p)) || folded.iter().any(|n| n == EVAL) {
                failures.push(format!("{tag} bt with py-bt-filter on:\n  folded {folded:?}\n  all    {all:?}"));
            }
            if !plain.iter().any(|n| n == EVAL) || plain == all {
                failures.push(format!("{tag} py-bt-filter off did not restore plain bt: {plain:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn live_attach_and_breakpoint_in_c_called_from_python() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let bp_script = repo_root().join("fixtures/live/breakpoint.py");
    for py in &pyenv_interpreters() {
        let tag = format!("[{}]", py.id());
        // A live, parked target: gdb -p and lldb -p, then it must still answer.
        let mut target = Parked::start(py);
        let truth = parse_faulthandler(&target.ground_truth());
        let pid = target.pid().to_string();
        let out = gdb(&["-p", &pid], &["thread apply all py-bt"], false, cache.path());
        let threads = gdb_threads(section(&sections(&out), "thread apply all py-bt", 0));
        let out2 = lldb(&["-p", &pid], &["py-threads"], cache.path());
        let all = parse_faulthandler(section(&sections(&out2), "py-threads", 0));
        for fh in &truth {
            match threads.iter().find(|(id, _)| *id == fh.thread_id) {
                Some((_, text)) => compare(&format!("{tag} gdb -p"), &py_bt_frames(text), fh, &mut failures),
                None => failures.push(format!("{tag} gdb -p has no thread 0x{:x}:\n{out}", fh.thread_id)),
            }
            match all.iter().find(|t| t.thread_id == fh.thread_id) {
                Some(t) => {
                    let ours: Vec<_> = t.frames.iter().map(|f| (f.file.clone(), f.line, f.name.clone())).collect();
                    compare(&format!("{tag} lldb -p"), &ours, fh, &mut failures);
                }
                None => failures.push(format!("{tag} lldb -p has no thread 0x{:x}:\n{out2}", fh.thread_id)),
            }
        }
        if truth.is_empty() {
            failures.push(format!("{tag} no faulthandler dump of the live target"));
        }
        if !target.answers() {
            failures.push(format!("{tag} the target does not answer after gdb and lldb detached"));
        }
        drop(target);

        let dir = tempfile::tempdir().expect("tmp");
        // Started under the debugger, stopped in C (time.sleep) called from Python.
        let side = dir.path().join("bp.txt");
        let (exe, bp, side_s) = (py.path.to_string_lossy().into_owned(), bp_script.to_string_lossy().into_owned(), side.to_string_lossy().into_owned());
        let out = gdb(
            &["--args", &exe, &bp, &side_s],
            &["set breakpoint pending on", "break time_sleep", "run", "py-bt", "kill"],
            false,
            cache.path(),
        );
        let fh = parse_faulthandler(&std::fs::read_to_string(&side).unwrap_or_default());
        match fh.first() {
            Some(t) => compare(&format!("{tag} gdb at a breakpoint"), &py_bt_frames(section(&sections(&out), "py-bt", 0)), t, &mut failures),
            None => failures.push(format!("{tag} the breakpoint script wrote no traceback:\n{out}")),
        }
        let _ = std::fs::remove_file(&side);
        let mut cmd = lldb_command();
        cmd.arg("-b").args(["-o", &format!("command script import {}", repo_root().join("lldb/pycoroner.py").display())]);
        for c in ["breakpoint set -n time_sleep", "process launch", "py-bt", "process kill"] {
            cmd.args(["-o", &format!("script print('@@@ {c}')"), "-o", c]);
        }
        cmd.args(["--", &exe, &bp, &side_s]);
        let out = run_debugger(cmd, cache.path());
        let fh = parse_faulthandler(&std::fs::read_to_string(&side).unwrap_or_default());
        match fh.first() {
            Some(t) => compare(&format!("{tag} lldb at a breakpoint"), &py_bt_frames(section(&sections(&out), "py-bt", 0)), t, &mut failures),
            None => failures.push(format!("{tag} the breakpoint script wrote no traceback under lldb:\n{out}")),
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn missing_library_is_one_line_and_the_debugger_goes_on() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    for sub in ["gdb", "lldb"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        for f in ["pycoroner.py", "pycoroner_ffi.py"] {
            let src = repo_root().join("gdb").join(f);
            let src = if sub == "lldb" && f == "pycoroner.py" { repo_root().join("lldb/pycoroner.py") } else { src };
            std::fs::copy(&src, dir.path().join(sub).join(f)).expect("copy script");
        }
    }
    let py = pyenv_interpreters().into_iter().next().expect("an interpreter");
    let c = crash(&py.path, &scenario("nested_calls")).expect("crash");
    let (exe, core) = (py.path.to_string_lossy().into_owned(), c.core.to_string_lossy().into_owned());
    let out = gdb_command()
        .args(["-nx", "-batch", "-q", "-iex", "set auto-load python-scripts off"])
        .args(["-ex", &format!("source {}", dir.path().join("gdb/pycoroner.py").display())])
        .args(["-ex", "py-bt", "-ex", "echo still-alive\\n", &exe, &core])
        .env("PYCORONER_LIB", "/nonexistent/libpycoroner_ffi.so")
        .output()
        .expect("gdb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("libpycoroner_ffi.so")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("not found") && lines[0].contains("PYCORONER_LIB") && lines[0].contains("/nonexistent"), "{text}");
    assert!(text.contains("still-alive"), "{text}");
    assert!(!text.contains("Traceback"), "{text}");
    let out = lldb_command()
        .args(["-b", "-c", &core, &exe])
        .args(["-o", &format!("command script import {}", dir.path().join("lldb/pycoroner.py").display())])
        .args(["-o", "py-bt", "-o", "script print('still-alive')"])
        .env("PYCORONER_LIB", "/nonexistent/libpycoroner_ffi.so")
        .stdin(Stdio::null())
        .output()
        .expect("lldb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.lines().any(|l| l.contains("libpycoroner_ffi.so not found") && l.contains("PYCORONER_LIB")), "{text}");
    assert!(text.contains("still-alive"), "{text}");
    assert!(!text.contains("Traceback"), "{text}");
}

/// `py-tasks` in gdb and lldb on an asyncio core: every task the scenario says asyncio
/// had appears as `(T) name`, the gather parent above its child, the running task is
/// named in the heading, and both debuggers print the same text (the library's).
#[test]
fn py_tasks_in_gdb_and_lldb() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in interpreters().iter().filter(|p| p.minor >= 8) {
        let tag = format!("[{} asyncio_tasks]", py.id());
        let c = match crash(&py.path, &scenario("asyncio_tasks")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let exe = py.path.to_string_lossy().into_owned();
        let core = c.core.to_string_lossy().into_owned();
        // (A last command collects what the debuggers print at exit.)
        let g = sections(&gdb(&[&exe, &core], &["py-tasks", "py-tasks --table", "echo"], false, cache.path()));
        let l = sections(&lldb(&["-c", &core, &exe], &["py-tasks", "py-tasks --table", "py-threads --native", "version"], cache.path()));
        // lldb lists `[vdso]` as a module: it is no file to warn about.
        let native = section(&l, "py-threads --native", 0);
        if !native.contains("_PyEval_EvalFrameDefault") && !native.contains(" in ") || native.contains("pycoroner warnings:") {
            failures.push(format!("{tag} lldb py-threads --native:\n{native}"));
        }
        let tree = section(&g, "py-tasks", 0);
        let names: Vec<String> = c
            .sidecar
            .as_deref()
            .unwrap_or("")
            .lines()
            .filter_map(|line| line.strip_prefix("task "))
            .filter_map(|j| j.split("\"name\": \"").nth(1)?.split('"').next().map(str::to_string))
            .collect();
        if names.len() < 5 {
            failures.push(format!("{tag} the scenario named {} tasks", names.len()));
        }
        for n in &names {
            // Tasks in an await cycle are named in its `cycle:` line instead.
            let drawn = tree.lines().any(|line| line.ends_with(&format!("(T) {n}")));
            let in_cycle = tree.lines().any(|line| line.starts_with("cycle: ") && line.split(" → ").any(|p| p.trim_start_matches("cycle: ") == n));
            if !drawn && !in_cycle {
                failures.push(format!("{tag} gdb py-tasks lacks task {n}:\n{tree}"));
            }
        }
        let at = |s: &str| tree.lines().position(|line| line.ends_with(s));
        if !matches!((at("(T) parent"), at("(T) child-1")), (Some(p), Some(c)) if p < c) || !tree.contains(", running crasher") {
            failures.push(format!("{tag} gdb py-tasks tree:\n{tree}"));
        }
        if !section(&g, "py-tasks --table", 0).contains("awaiter chain") {
            failures.push(format!("{tag} gdb py-tasks --table:\n{}", section(&g, "py-tasks --table", 0)));
        }
        // (lldb's command output drops the table's trailing padding.)
        let trimmed = |t: &str| t.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
        for cmd in ["py-tasks", "py-tasks --table"] {
            if trimmed(section(&l, cmd, 0)) != trimmed(section(&g, cmd, 0)) {
                failures.push(format!("{tag} lldb {cmd} differs from gdb's:\n{}\n---\n{}", section(&l, cmd, 0), section(&g, cmd, 0)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Loading the extension changes nothing of plain `bt` in a program without Python:
/// gdb's `bt` of a core of `sleep` is the same with the script sourced as without.
#[test]
fn plain_bt_without_python_is_unchanged() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let core = pycoroner_testkit::core_without_python(dir.path());
    let exe = which_sleep();
    let plain = |with_script: bool| {
        let mut cmd = gdb_command();
        cmd.args(["-nx", "-batch", "-q", "-iex", "set auto-load python-scripts off"]);
        if with_script {
            cmd.args(["-ex", &format!("source {}", repo_root().join("gdb/pycoroner.py").display())]);
        }
        cmd.args(["-ex", "echo @@@ bt\\n", "-ex", "bt", "-ex", "echo @@@ end\\n"]).arg(&exe).arg(&core);
        let out = run_debugger(cmd, dir.path());
        section(&sections(&out), "bt", 0).to_string()
    };
    let (without, with) = (plain(false), plain(true));
    assert!(without.contains("#0 "), "gdb printed no frame:\n{without}");
    assert_eq!(with, without, "plain bt changed by the extension");
}

fn which_sleep() -> String {
    ["/usr/bin/sleep", "/bin/sleep"].iter().find(|p| Path::new(p).is_file()).map(|p| p.to_string()).unwrap_or_else(|| "sleep".into())
}

/// gdb's own view of where the target's files are reaches the library: a core whose
/// libraries are only in a moved root gives the right py-bt with `set sysroot` on the
/// root, and with `solib-search-path` on its library directory (libpython found by gdb
/// there by name).
#[test]
fn gdb_set_sysroot_and_solib_search_path_reach_the_library() {
    if !tools() || pycoroner_testkit::require_tool("chroot").is_none() || pycoroner_testkit::require_tool("ldd").is_none() {
        return;
    }
    let Some(py) = pyenv_interpreters().into_iter().last() else { return };
    let m = pycoroner_testkit::moved_root_crash(&py);
    let cache = tempfile::tempdir().expect("tmp");
    let exe = m.moved.join("opt/pyroot/bin/python3").to_string_lossy().into_owned();
    let core = m.core.to_string_lossy().into_owned();
    let truth = parse_faulthandler(&m.faulthandler);
    let Some(current) = truth.iter().find(|t| t.current) else { panic!("no current thread in faulthandler's output") };
    let mut failures = Vec::new();
    for setting in [format!("set sysroot {}", m.moved.display()), format!("set solib-search-path {}", m.moved.join("opt/pyroot/lib").display())] {
        let out = gdb(&["-iex", &setting, &exe, &core], &["py-bt"], false, cache.path());
        let frames = py_bt_frames(section(&sections(&out), "py-bt", 0));
        compare(&format!("[{}] {setting}", py.id()), &frames, current, &mut failures);
        if frames.is_empty() {
            failures.push(format!("[{}] {setting}: no py-bt\n{out}", py.id()));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// Every `0x...` written as `0xADDR`, every line's leading `#N ` as `#N `: gdb and lldb
/// launch a program with different environments (so different addresses) and number
/// native frames differently.
fn normalized(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.strip_prefix('#').map(|r| r.trim_start_matches(|c: char| c.is_ascii_digit())) {
            Some(rest) if rest.starts_with(' ') => format!("#N{rest}"),
            _ => line.to_string(),
        };
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '0' && chars.peek() == Some(&'x') {
                chars.next();
                while chars.peek().is_some_and(char::is_ascii_hexdigit) {
                    chars.next();
                }
                out.push_str("0xADDR");
            } else {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Run `script` under gdb and lldb (live, stopped at `builtin_id`), the same commands
/// in each; `per_stop` commands are run at each of `stops` breakpoint hits.
fn both_live(py: &Path, script: &Path, commands: &[&str], cache: &Path) -> (Sections, Sections) {
    let (exe, script) = (py.to_string_lossy().into_owned(), script.to_string_lossy().into_owned());
    // (A last command that is not compared takes gdb's stderr, printed after it all.)
    let mut g = vec!["set breakpoint pending yes", "break builtin_id", "run"];
    g.extend(commands.iter().map(|c| if *c == "continue" { "continue" } else { c }));
    g.push("py-style");
    let launch = format!("process launch -- -S {script}");
    let mut l = vec!["breakpoint set -n builtin_id", launch.as_str()];
    l.extend(commands.iter().map(|c| if *c == "continue" { "process continue" } else { c }));
    l.push("py-style");
    let gdb_out = gdb(&["--args", &exe, "-S", &script], &g, false, cache);
    let lldb_out = lldb(&[&exe], &l, cache);
    (sections(&gdb_out), sections(&lldb_out))
}

/// lldb gives what gdb gives (which is what CPython's own test_gdb requires, see
/// cpython_test_gdb.rs) on test_gdb's programs: py-bt, py-bt-full, py-list, py-locals,
/// py-print, py-up/py-down through a C call in progress, and each value's printed text.
/// Then cpython-lldb's own checks (github.com/malor/cpython-lldb, tests/), with its
/// harness adapted (our breakpoint on `id`, our commands' wording): values as repr()
/// writes them with `py-style python`, py-up/py-down order, a frame's locals.
#[test]
fn lldb_matches_gdb_on_cpython_s_test_programs() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let dir = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    // test_gdb's SAMPLE_WITH_C_CALL, with a C call every version has (sorted's key).
    let c_call = dir.path().join("c_call.py");
    std::fs::write(&c_call, "\ndef foo(a, b, c):\n    bar(a, b, c)\n\ndef bar(a, b, c):\n    sorted([(a, b, c)], key=baz)\n\ndef baz(*args):\n    id(42)\n\nfoo(1, 2, 3)\n").expect("write");
    // test_pretty_print's values, each passed to id() in turn.
    let values = dir.path().join("values.py");
    std::fs::write(
        &values,
        "import sys\nclass Foo:\n    pass\nclass L(list):\n    pass\nfoo = Foo(); foo.an_int = 42; foo.me = foo\nl = L([1]); l.x = 2\n\
         cyc = [3, 4]; cyc.append(cyc)\ns = set(['a', 'b']); s.remove('a')\n\
         for v in [42, -7, 10**20, True, None, 'text', '\\u2620\\x00', b'by\\x00\\xff', [1, [2]], (1,), {'foo': 'bar', 'd': 42},\n\
                   s, frozenset([4]), 2.5, RuntimeError('I am an error'), foo, l, cyc, len, sys.stdout.readlines, list(range(1000))]:\n    id(v)\n",
    )
    .expect("write");
    // cpython-lldb's CODE (its test_py_up_down.py and test_py_locals.py).
    let lldb_code = dir.path().join("lldb_code.py");
    std::fs::write(
        &lldb_code,
        "def fa():\n    id(1)\n    return 1\n\n\ndef fb(spam, *args, eggs=42, **kwargs):\n    a = 42\n    b = [1, 'hello', u'\u{442}\u{435}\u{441}\u{442}']\n    c = ([1], 2, [[3]])\n    d = 'test'\n    e = {'a': -1}\n\n    fa()\n\n\ndef fc():\n    fb('foobar', 1, 2, 3, foo=b'spam')\n\n\nfc()\n",
    )
    .expect("write");
    let n_values = 21;
    for py in &pyenv_interpreters() {
        let tag = format!("[{}]", py.id());
        let sample = py.path.parent().and_then(Path::parent).map(|p| p.join(format!("lib/python3.{}/test", py.minor))).unwrap_or_default();
        let sample = [sample.join("test_gdb/gdb_sample.py"), sample.join("gdb_sample.py")].into_iter().find(|p| p.is_file());
        let Some(sample) = sample else {
            failures.push(format!("{tag} no gdb_sample.py"));
            continue;
        };
        let nav = [
            "py-bt", "py-bt-full", "py-list", "py-list 9", "py-list 1,3", "py-up", "py-locals", "py-print args", "py-print __name__", "py-print len",
            "py-print nothing", "py-up", "py-up", "py-locals", "py-print a", "py-down", "py-down", "py-down", "py-down", "py-up", "py-up", "py-up", "py-up",
            "py-up", "py-up",
        ];
        let mut per_value = Vec::new();
        for _ in 0..n_values {
            per_value.extend(["p v", "continue"]);
        }
        let c_cmds = ["py-up", "py-up", "py-bt", "py-print c", "py-locals", "py-down", "py-up", "py-up", "py-bt-full"];
        for (script, cmds) in [(&sample, &nav[..]), (&c_call, &c_cmds[..]), (&values, &per_value[..])] {
            let (g, l) = both_live(&py.path, script, cmds, cache.path());
            let name = script.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut seen: HashMap<&str, usize> = HashMap::new();
            let mut compared = 0;
            for cmd in cmds.iter().filter(|c| **c != "continue") {
                let nth = seen.entry(cmd).or_default();
                let (gt, lt) = (section(&g, cmd, *nth), section(&l, cmd, *nth));
                *nth += 1;
                // gdb's `print` is `$N = text`, lldb's `p` `(PyObject *) $N = 0x... text`.
                let (gt, lt) = if *cmd == "p v" {
                    let first = |t: &str| t.lines().next().unwrap_or("").to_string();
                    (first(gt).split_once(" = ").map(|x| x.1.to_string()).unwrap_or_default(), first(lt).split_once(" = ").and_then(|x| x.1.split_once(' ')).map(|x| x.1.to_string()).unwrap_or_default())
                } else {
                    (gt.to_string(), lt.to_string())
                };
                if normalized(&gt) != normalized(&lt) || gt.trim().is_empty() {
                    failures.push(format!("{tag} {name} {cmd}:\n  gdb  {gt:?}\n  lldb {lt:?}"));
                }
                compared += 1;
            }
            if compared == 0 {
                failures.push(format!("{tag} {name}: nothing compared"));
            }
        }
        // cpython-lldb's checks, its harness adapted: our breakpoint is in id(), a C call
        // CPython's script stops at, where cpython-lldb's in abs() is none; so the
        // frame current at the start is that call, and py-up from it reaches fa (where
        // cpython-lldb, with fa current, reaches fb): the same moves, one frame down.
        let cmds = ["py-down", "py-up", "py-up", "py-up", "py-down", "py-down", "py-up", "py-style python", "py-locals", "py-list"];
        let (_, l) = both_live_lldb_only(&py.path, &lldb_code, &cmds, cache.path());
        if !section(&l, "py-down", 0).starts_with("Unable to find a newer python frame") {
            failures.push(format!("{tag} cpython-lldb test_newest_frame: {:?}", section(&l, "py-down", 0)));
        }
        // test_up_down: up, up, up, down, down, up from the current frame.
        let order: Vec<&str> = ["py-up", "py-up", "py-up", "py-down", "py-down", "py-up"]
            .iter()
            .zip([0, 1, 2, 1, 2, 3])
            .map(|(c, i)| section(&l, c, i))
            .collect();
        for (text, want) in order.iter().zip(["fa", "fb", "fc", "fb", "fa", "fb"]) {
            if !text.contains(&format!(", in {want} (")) {
                failures.push(format!("{tag} cpython-lldb test_up_down: {text:?}, want {want}"));
            }
        }
        // test_locals (in fb), values as repr() writes them.
        let mut got: Vec<&str> = section(&l, "py-locals", 0).lines().collect();
        got.sort_unstable();
        let want = [
            "a = 42",
            "args = (1, 2, 3)",
            "b = [1, 'hello', '\u{442}\u{435}\u{441}\u{442}']",
            "c = ([1], 2, [[3]])",
            "d = 'test'",
            "e = {'a': -1}",
            "eggs = 42",
            "kwargs = {'foo': b'spam'}",
            "spam = 'foobar'",
        ];
        if got != want {
            failures.push(format!("{tag} cpython-lldb test_locals: {got:?}"));
        }
        // test_py_list (in fb): the call line marked.
        if !section(&l, "py-list", 0).lines().any(|x| x.trim_start().starts_with(">13 ") && x.ends_with("fa()")) {
            failures.push(format!("{tag} cpython-lldb py-list: {:?}", section(&l, "py-list", 0)));
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// lldb alone on a live program stopped at `builtin_id` (see [`both_live`]).
fn both_live_lldb_only(py: &Path, script: &Path, commands: &[&str], cache: &Path) -> ((), Vec<(String, String)>) {
    let launch = format!("process launch -- -S {}", script.display());
    let mut l = vec!["breakpoint set -n builtin_id", launch.as_str()];
    l.extend(commands);
    ((), sections(&lldb(&[&py.to_string_lossy()], &l, cache)))
}

/// CPython's script's text with what ours escapes on purpose escaped as repr() does:
/// the ≤3.10 scripts' printable test never fails (`unicodedata.category(c)` is never
/// just "C" or "Z"), so they write line separators and other invisible characters raw,
/// and ≤3.8's writes DEL raw; ours never writes raw control or separator characters
/// to a terminal (as the 3.11+ scripts and `repr()`).
fn escaped_as_repr(text: &str) -> String {
    text.chars()
        .map(|c| match c as u32 {
            0x7f..=0xa0 | 0xad => format!("\\x{:02x}", c as u32),
            0x2028 | 0x2029 | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f | 0xfeff => format!("\\u{:04x}", c as u32),
            _ => c.to_string(),
        })
        .collect()
}

/// CPython's script's text where it fails and ours does not: a frame whose line it
/// cannot compute (`line ?` and "(failed to get frame line number)", on 3.11+ cores)
/// is taken as ours writes it if ours has a line there.
fn where_ours_is_better(ours: &str, theirs: &str) -> String {
    let (o, t): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    if o.len() != t.len() {
        return theirs.to_string();
    }
    let mut out = String::new();
    for (i, (ol, tl)) in o.iter().zip(&t).enumerate() {
        let unknown = tl.contains(", line ?, in ") && ol.replacen(", line ", ", line ?", 1).split(", line ?").count() == 2 && {
            let n = ol.split(", line ").nth(1).and_then(|r| r.split(',').next()).unwrap_or("");
            !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && ol.replace(&format!(", line {n}, "), ", line ?, ") == **tl
        };
        let failed_source = *tl == "    (failed to get frame line number)" && i > 0 && t[i - 1].contains(", line ?, in ");
        out += if unknown || failed_source { ol } else { tl };
        out.push('\n');
    }
    out
}

/// CPython's own gdb script of an interpreter, if it ships one: next to a pyenv
/// build, or where Debian installs it for gdb's auto-loading.
fn cpython_gdb_script(py: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(py).ok()?;
    let name = real.file_name()?.to_string_lossy().into_owned();
    let auto = PathBuf::from(format!("/usr/share/gdb/auto-load{}-gdb.py", real.display()));
    [real.with_file_name(format!("{name}-gdb.py")), auto].into_iter().find(|p| p.is_file())
}

/// On a core of each interpreter CPython's script supports, gdb prints every local of
/// a frame (all of the locals scenario's types: containers, instances, exceptions,
/// stdlib objects, a frame) and `py-bt` exactly as with CPython's own script.
#[test]
fn printers_and_py_bt_equal_cpython_s_own_script_on_cores() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut interpreters = pyenv_interpreters();
    interpreters.extend(debian_interpreters());
    for py in &interpreters {
        let tag = format!("[{}]", py.id());
        let Some(theirs) = cpython_gdb_script(&py.path) else {
            failures.push(format!("{tag} no python3.X-gdb.py found"));
            continue;
        };
        let c = match crash(&py.path, &scenario("locals_values")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let locals: Vec<(String, u64)> = inspect_me_locals(&c.core, cache.path()).into_iter().filter(|(_, a)| a % 8 == 0).collect();
        let mut cmds: Vec<String> = locals.iter().map(|(_, a)| format!("print (PyObject *) {a:#x}")).collect();
        cmds.push("py-bt".into());
        cmds.push("echo".into()); // takes gdb's stderr, printed after the last command
        let run = |script: &Path| -> Vec<(String, String)> {
            let mut cmd = gdb_command();
            cmd.args(["-nx", "-batch", "-q", "-iex", "set auto-load python-scripts off", "-iex", "set debug-file-directory /usr/lib/debug"]);
            cmd.args(["-ex", &format!("source {}", script.display())]);
            for c in &cmds {
                cmd.args(["-ex", &format!("echo @@@ {c}\\n"), "-ex", c]);
            }
            cmd.arg(&py.path).arg(&c.core);
            sections(&run_debugger(cmd, cache.path()))
        };
        let (ours, cpython) = (run(&repo_root().join("gdb/pycoroner.py")), run(&theirs));
        for (i, c) in cmds.iter().enumerate().take(cmds.len() - 1) {
            let (o, t) = (section(&ours, c, 0), section(&cpython, c, 0));
            let what = locals.get(i).map_or("py-bt", |l| l.0.as_str());
            let t = where_ours_is_better(o, &escaped_as_repr(t));
            if o != t || t.trim().is_empty() {
                failures.push(format!("{tag} {what}:\n  ours    {o:?}\n  CPython {t:?}"));
            }
            compared += 1;
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(compared > 100, "only {compared} values compared");
}

/// cpython-lldb's pretty-printer checks (its tests/test_pretty_printer.py values), its
/// harness adapted: each value passed to id() instead of its test extension, lldb's
/// summary of the `PyObject *` with `py-style python` equal to repr() written by the
/// same process. (Its UserDict/UserList/UserString checks are left out: their repr()
/// is Python code, which a core cannot run; ours shows their attributes.)
#[test]
fn cpython_lldb_value_summaries_in_python_style() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("values.py");
    std::fs::write(
        &script,
        "import collections\n\
         vals = [-10, 0, 42, -(2**32), 2**32, -(2**64), 2**64, True, False, None, 0.0, 42.42, -42.42,\n\
         b'', b'hello', b'\\x42\\x42', b'\\x42\\x00\\x42', b'\\x00' * 4,\n\
         '', 'hello', '\u{43f}\u{440}\u{438}\u{432}\u{456}\u{442}', '\\U00010150\\U00010140\\U00010170', '\u{e6}',\n\
         [], [1, 2, 3], [1, 3.14159, 'hello', False, None], (), (1, 2, 3), (1, 3.14159, 'hello', False, None),\n\
         set(), {1, 2, 3}, {1, 3.14159, 'hello', False, None}, set(range(16)),\n\
         frozenset(), frozenset({1, 2, 3}), frozenset({1, 3.14159, 'hello', False, None}), frozenset(range(16)),\n\
         {}, {'a': 'b', '\u{491}': '\u{457}'}, {1: 2, 3: 4}, {1: 2, 'a': 'b'}, {i: i for i in range(16)},\n\
         collections.defaultdict(int, {1: 2, 3: 4}), collections.OrderedDict([(1, 2), (3, 4)]), collections.Counter({1: 2, 3: 4})]\n\
         with open(__file__ + '.reprs', 'w', encoding='utf-8') as f:\n    for v in vals:\n        f.write(repr(v) + '\\n')\n\
         for v in vals:\n    id(v)\n",
    )
    .expect("write");
    let mut failures = Vec::new();
    for py in &pyenv_interpreters() {
        let tag = format!("[{}]", py.id());
        let mut cmds = vec!["py-style python"];
        for _ in 0..45 {
            cmds.extend(["p v", "process continue"]);
        }
        let (_, l) = both_live_lldb_only(&py.path, &script, &cmds, cache.path());
        let reprs = std::fs::read_to_string(dir.path().join("values.py.reprs")).unwrap_or_default();
        let reprs: Vec<&str> = reprs.lines().collect();
        if reprs.len() != 45 {
            failures.push(format!("{tag} the program wrote {} reprs", reprs.len()));
            continue;
        }
        for (i, want) in reprs.iter().enumerate() {
            let line = section(&l, "p v", i).lines().next().unwrap_or("");
            // `(PyObject *) $N = 0x... SUMMARY`
            let got = line.split_once(" = ").and_then(|(_, r)| r.split_once(' ')).map_or("", |(_, s)| s);
            if got != *want {
                failures.push(format!("{tag} value #{i}: lldb {got:?}, repr() {want:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// `py-state` in gdb and lldb on a core of the interpreter state scenario: both print
/// the same section, holding what the process said of itself before crashing; and on
/// a core crashed inside a collection, `py-state --native` names its generation as the
/// library reading the core file does.
#[test]
fn py_state_in_gdb_and_lldb() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let script = repo_root().join("fixtures/ext/interpreter_state.py");
    for py in &interpreters() {
        let tag = format!("[{} interpreter_state]", py.id());
        // Without the test extension (no build): everything but the Py_AtExit function.
        let c = match pycoroner_testkit::crash_with_env(&py.path, &script, &[("PYCORONER_STATE", std::ffi::OsStr::new("main"))]) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let truth = pycoroner_testkit::sidecar_state(c.sidecar.as_deref()).unwrap_or_default();
        let exe = py.path.to_string_lossy().into_owned();
        let core = c.core.to_string_lossy().into_owned();
        let g = sections(&gdb(&[&exe, &core], &["py-state", "echo"], false, cache.path()));
        let l = sections(&lldb(&["-c", &core, &exe], &["py-state", "version"], cache.path()));
        let (g, l) = (section(&g, "py-state", 0), section(&l, "py-state", 0));
        if g.trim() != l.trim() {
            failures.push(format!("{tag} gdb and lldb differ:\n--- gdb\n{g}\n--- lldb\n{l}"));
        }
        let trace = truth["trace"].as_str().unwrap_or("?");
        let usr1 = truth["handlers"]["10"].as_str().unwrap_or("?");
        for want in ["Interpreter state:", "GC: disabled (gc.disable())", "Recursion limit: 4321", "second_at_exit at 0x", "[MainThread]: ", trace] {
            if !g.contains(want) {
                failures.push(format!("{tag} gdb py-state lacks {want:?}:\n{g}"));
            }
        }
        // Debian's stripped 3.11 has no `Handlers` symbol: it says so instead.
        if !g.contains(&format!("SIGUSR1 (10): {usr1}")) && !g.contains("Not readable in this build: signal handlers") {
            failures.push(format!("{tag} gdb py-state has no SIGUSR1 handler {usr1}:\n{g}"));
        }

        // A crash in a __del__ an automatic collection runs: `py-state --native` (the
        // debugger's registers) reads the generation the library reads from the core file, and
        // both say the one gc.callbacks were told where they give one.
        let tag = format!("[{} gc_finalizer]", py.id());
        let c = match pycoroner_testkit::crash_with_env(&py.path, &script, &[("PYCORONER_STATE", std::ffi::OsStr::new("gc_finalizer"))]) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let truth = pycoroner_testkit::sidecar_state(c.sidecar.as_deref()).unwrap_or_default();
        let core = c.core.to_string_lossy().into_owned();
        // The library on the core file, as the CLI reads it.
        let opts = pycoroner::Options { cache_dir: Some(cache.path().into()), ..Default::default() };
        let report = pycoroner::target::ElfCore::open(&c.core).ok().and_then(|t| pycoroner::analyze(&t, &opts).ok());
        let generation = report.as_ref().and_then(|r| r.runtime.as_ref()).and_then(|rt| rt.interpreters.first()).and_then(|i| i.gc.as_ref()).and_then(|g| g.generation).map(i64::from);
        if generation.is_some() && generation != truth["generation"].as_i64() {
            failures.push(format!("{tag} the library reads generation {generation:?}, gc.callbacks were told {}", truth["generation"]));
        }
        let want = match generation {
            Some(n) => format!("collecting generation {n} now in thread 0x"),
            None => "collecting now in thread 0x".to_string(),
        };
        let g = sections(&gdb(&[&exe, &core], &["py-state --native", "echo"], false, cache.path()));
        let l = sections(&lldb(&["-c", &core, &exe], &["py-state --native", "version"], cache.path()));
        for (who, out) in [("gdb", section(&g, "py-state --native", 0)), ("lldb", section(&l, "py-state --native", 0))] {
            if !out.contains(&want) {
                failures.push(format!("{tag} {who} py-state --native lacks {want:?}:\n{out}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// `py-heap`, `py-gc` and `py-referrers` in gdb and lldb on a core of the heap census
/// scenario: both print the same census, holding the process's own counts
/// (`gc.get_objects()`, the untracked floats gc.get_referents reaches) and its
/// `gc.garbage`, and the same referrer search, whose path
/// from `module __main__` goes through the global list the process named.
#[test]
fn py_heap_py_gc_and_py_referrers_in_gdb_and_lldb() {
    if !tools() {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let script = repo_root().join("fixtures/scenarios/heap_census.py");
    for py in &interpreters() {
        let tag = format!("[{} heap_census]", py.id());
        let c = match pycoroner_testkit::crash(&py.path, &script) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let truth: serde_json::Value = c.sidecar.as_deref().and_then(|s| s.lines().find_map(|l| l.strip_prefix("heap "))).and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
        let exe = py.path.to_string_lossy().into_owned();
        let core = c.core.to_string_lossy().into_owned();
        let (order, orders) = (truth["referrers"]["order"].as_u64().unwrap_or(0), truth["referrers"]["orders"].as_u64().unwrap_or(0));
        let referrers = format!("py-referrers 0x{order:x}");
        let cmds = ["py-heap --top 40 --largest 3 --untracked", "py-gc", referrers.as_str()];
        let g = sections(&gdb(&[&exe, &core], &[cmds[0], "echo", cmds[1], "echo", cmds[2], "echo"], false, cache.path()));
        let l = sections(&lldb(&["-c", &core, &exe], &[cmds[0], "version", cmds[1], "version", cmds[2], "version"], cache.path()));
        for cmd in cmds {
            let (g, l) = (section(&g, cmd, 0), section(&l, cmd, 0));
            if g.trim() != l.trim() || g.trim().is_empty() {
                failures.push(format!("{tag} {cmd}: gdb and lldb differ or say nothing:\n--- gdb\n{g}\n--- lldb\n{l}"));
            }
        }
        let heap = section(&g, cmds[0], 0);
        for class in ["Order", "Pair", "Bag"] {
            let n = truth["counts"][format!("__main__.{class}")].as_u64().unwrap_or(0);
            if !heap.lines().any(|l| l.trim_start().starts_with(&format!("{n} ")) && l.ends_with(&format!(" __main__.{class}"))) {
                failures.push(format!("{tag} py-heap has no line for {n} {class}:\n{heap}"));
            }
        }
        // The untracked floats: the scenario's 1 111 and a few the process holds.
        let floats = truth["untracked"]["counts"]["float"].as_u64().unwrap_or(0);
        let counted = heap.lines().skip_while(|l| !l.starts_with("Objects the collector does not track")).find(|l| l.ends_with(" float")).and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok());
        if counted.is_none_or(|n| n.abs_diff(floats) > 10) {
            failures.push(format!("{tag} py-heap --untracked has no line for about {floats} floats:\n{heap}"));
        }
        if heap.lines().filter(|l| l.contains(" 0x0000")).count() != 3 {
            failures.push(format!("{tag} py-heap --largest 3 does not list 3 objects:\n{heap}"));
        }
        let gc = section(&g, cmds[1], 0);
        let garbage = truth["garbage"].as_array().map_or(0, Vec::len);
        if !gc.contains("GC: disabled") || !gc.contains(&format!("gc.garbage: {garbage} objects")) {
            failures.push(format!("{tag} py-gc lacks the disabled collector or its {garbage} garbage objects:\n{gc}"));
        }
        let refs = section(&g, cmds[2], 0);
        let want = format!("module __main__ → ['ORDERS'] list at 0x{orders:x} → [5] __main__.Order at 0x{order:x}");
        if !refs.contains(&want) {
            failures.push(format!("{tag} py-referrers lacks {want:?}:\n{refs}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn lldb_opens_a_slim_minidump_and_py_threads_equals_faulthandler() {
    if !tools() {
        return;
    }
    use pycoroner::target::CoreFile;
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &pyenv_interpreters() {
        let tag = format!("[{} threads minidump]", py.id());
        let c = match crash(&py.path, &scenario("threads")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        // The slim dump, as `pycoroner dump` writes it.
        let dmp = c.dir.path().join("slim.dmp");
        let written = CoreFile::open(&c.core).map_err(|e| e.to_string()).and_then(|core| {
            let mut bytes = Vec::new();
            let opts = pycoroner::Options { cache_dir: Some(cache.path().to_path_buf()), ..pycoroner::Options::default() };
            pycoroner::write_dump(&core, &opts, &mut bytes).map_err(|e| e.to_string())?;
            std::fs::write(&dmp, bytes).map_err(|e| e.to_string())
        });
        if let Err(e) = written {
            failures.push(format!("{tag} {e}"));
            continue;
        }
        // lldb loads the binaries by the dump's module list; our commands read its memory.
        let out = lldb(&["-c", &dmp.to_string_lossy()], &["py-threads"], cache.path());
        let ours = parse_faulthandler(section(&sections(&out), "py-threads", 0));
        let truth = parse_faulthandler(&c.faulthandler);
        if ours.len() != truth.len() {
            failures.push(format!("{tag} {} threads, faulthandler {}:\n{out}", ours.len(), truth.len()));
            continue;
        }
        for fh in &truth {
            match ours.iter().find(|t| t.thread_id == fh.thread_id) {
                Some(t) => {
                    let frames: Vec<(String, Option<u32>, String)> = t.frames.iter().map(|f| (f.file.clone(), f.line, f.name.clone())).collect();
                    compare(&tag, &frames, fh, &mut failures);
                    if t.current != fh.current {
                        failures.push(format!("{tag} thread 0x{:x}: current {} vs {}", fh.thread_id, t.current, fh.current));
                    }
                }
                None => failures.push(format!("{tag} no thread 0x{:x} in lldb's py-threads", fh.thread_id)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
