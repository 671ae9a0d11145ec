//! Test support shared by pycoroner's suites: which interpreters this machine has,
//! crashing a scenario under one of them (leaving a core and faulthandler's text of
//! the same instant), and parsing faulthandler's output as ground truth.
//!
//! A missing interpreter is a visible skip on a developer's machine and a failure
//! under `CI=true`, so CI never passes by skipping.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// True under CI (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A Python interpreter found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// Minor version (3.minor).
    pub minor: u8,
    /// Full version directory name, e.g. `3.12.1`.
    pub version: String,
    /// Path of `python3.X`.
    pub path: PathBuf,
}

impl Interpreter {
    /// A readable id for test messages: `3.12.1`.
    pub fn id(&self) -> &str {
        &self.version
    }
}

fn pyenv_root() -> Option<PathBuf> {
    if let Some(r) = std::env::var_os("PYENV_ROOT") {
        return Some(PathBuf::from(r));
    }
    if let Ok(out) = Command::new("pyenv").arg("root").output() {
        if out.status.success() {
            return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv"))
}

/// The minor versions every run must cover under CI.
pub const REQUIRED_MINORS: &[u8] = &[6, 7, 8, 9, 10, 11, 12, 13];

/// The pyenv interpreters 3.6–3.13 (built with DWARF). Under CI, every one of
/// [`REQUIRED_MINORS`] must be present, else this panics naming the missing ones;
/// elsewhere the missing ones are printed as skips.
pub fn pyenv_interpreters() -> Vec<Interpreter> {
    let mut out: Vec<Interpreter> = Vec::new();
    if let Some(root) = pyenv_root() {
        if let Ok(rd) = std::fs::read_dir(root.join("versions")) {
            for e in rd.flatten() {
                let version = e.file_name().to_string_lossy().into_owned();
                let mut parts = version.split('.');
                if parts.next() != Some("3") {
                    continue;
                }
                let Some(minor) = parts.next().and_then(|m| m.parse::<u8>().ok()) else { continue };
                if !REQUIRED_MINORS.contains(&minor) || out.iter().any(|i| i.minor == minor) {
                    continue;
                }
                let path = e.path().join("bin").join(format!("python3.{minor}"));
                if path.is_file() {
                    out.push(Interpreter { minor, version, path });
                }
            }
        }
    }
    out.sort_by_key(|i| i.minor);
    let missing: Vec<String> = REQUIRED_MINORS
        .iter()
        .filter(|m| !out.iter().any(|i| i.minor == **m))
        .map(|m| format!("3.{m}"))
        .collect();
    if !missing.is_empty() {
        if in_ci() {
            panic!("CI=true but these interpreters are missing under $(pyenv root)/versions: {}", missing.join(", "));
        }
        eprintln!("SKIP: interpreters not found on this machine: {}", missing.join(", "));
    }
    out
}

/// Debian's own interpreters, when installed: the statically linked, stripped
/// `/usr/bin/python3.11` (its DWARF in python3.11-dbg's build-id tree) and the debug
/// build `/usr/bin/python3.11d`. Under CI both must be there (`.ci/run` installs them).
pub fn debian_interpreters() -> Vec<Interpreter> {
    let mut out = Vec::new();
    for (path, tag) in [("/usr/bin/python3.11", "debian-static"), ("/usr/bin/python3.11d", "debian-debug")] {
        let p = PathBuf::from(path);
        let has_debug_files = Path::new("/usr/bin/python3.11d").is_file();
        if p.is_file() && has_debug_files {
            out.push(Interpreter { minor: 11, version: format!("3.11-{tag}"), path: p });
        } else if in_ci() {
            panic!("CI=true but {path} (with python3.11-dbg) is not installed");
        } else {
            eprintln!("SKIP: {path} with python3.11-dbg not installed");
        }
    }
    out
}

/// Where a `fixtures/NAME/fetch.sh` put its interpreters: `$VAR`, else
/// `~/.cache/pycoroner/NAME` (the scripts' own default).
fn fixture_cache(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pycoroner").join(name)))
        .unwrap_or_else(|| PathBuf::from("/nonexistent"))
}

/// Where `fixtures/sid/fetch.sh` put Debian sid's interpreters.
pub fn sid_cache() -> PathBuf {
    fixture_cache("PYCORONER_SID_CACHE", "sid")
}

/// The separate debug files of the sid interpreters.
pub fn sid_debug_dir() -> PathBuf {
    sid_cache().join("root/usr/lib/debug")
}

/// Debian sid's python3.14/3.15 and their debug builds, run through their own loader
/// (wrappers from `fixtures/sid/fetch.sh`). Under CI they must be there.
pub fn sid_interpreters() -> Vec<Interpreter> {
    let mut out = Vec::new();
    for minor in [14u8, 15] {
        for flavour in ["", "d"] {
            let path = sid_cache().join("bin").join(format!("python3.{minor}{flavour}"));
            if path.is_file() {
                let tag = if flavour.is_empty() { "sid" } else { "sid-debug" };
                out.push(Interpreter { minor, version: format!("3.{minor}-{tag}"), path });
            } else if in_ci() {
                panic!("CI=true but {} is missing: run fixtures/sid/fetch.sh", path.display());
            } else {
                eprintln!("SKIP: {} not found (run fixtures/sid/fetch.sh)", path.display());
            }
        }
    }
    out
}

/// Where `fixtures/bionic/fetch.sh` put Ubuntu 18.04's python3.6-dbg.
pub fn bionic_cache() -> PathBuf {
    fixture_cache("PYCORONER_BIONIC_CACHE", "bionic")
}

/// Debug builds with `Py_TRACE_REFS` (the list of every live object,
/// `sys.getobjects()`): Ubuntu 18.04's python3.6dm, run through its own loader (the
/// wrapper from `fixtures/bionic/fetch.sh`). Under CI it must be there.
pub fn trace_refs_interpreters() -> Vec<Interpreter> {
    let path = bionic_cache().join("bin/python3.6dm");
    if path.is_file() {
        vec![Interpreter { minor: 6, version: "3.6-bionic-debug".into(), path }]
    } else if in_ci() {
        panic!("CI=true but {} is missing: run fixtures/bionic/fetch.sh", path.display());
    } else {
        eprintln!("SKIP: {} not found (run fixtures/bionic/fetch.sh)", path.display());
        Vec::new()
    }
}

/// Every interpreter the matrix runs: the pyenv builds 3.6–3.13, Debian's 3.11 static
/// and debug builds, and Debian sid's 3.14 and 3.15 (release and debug).
pub fn all_interpreters() -> Vec<Interpreter> {
    let mut v = pyenv_interpreters();
    v.extend(debian_interpreters());
    v.extend(sid_interpreters());
    v
}

/// faulthandler's text without what 3.14+ adds beyond the Python stacks: thread names
/// after the id, and the "C stack trace" section.
pub fn faulthandler_python_part(text: &str) -> String {
    let mut out = String::new();
    let mut in_c_stack = false;
    for line in text.lines() {
        if line.ends_with("C stack trace (most recent call first):") {
            in_c_stack = true;
            continue;
        }
        if in_c_stack {
            if line.starts_with("  ") {
                continue;
            }
            in_c_stack = false;
            if line.is_empty() {
                continue;
            }
        }
        // A thread header without what follows its id (3.14's ` [name]`, pycoroner's
        // ` (LWP n, holds the GIL)`): names and LWPs are checked from the JSON.
        let line = match line.find(" 0x") {
            Some(at) if (line.starts_with("Thread 0x") || line.starts_with("Current thread 0x")) && line.ends_with(" (most recent call first):") => {
                let id_end = line[at + 1..].find(' ').map_or(line.len(), |n| at + 1 + n);
                format!("{} (most recent call first):", &line[..id_end])
            }
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The truth `fixtures/ext/interpreter_state.py` wrote to its sidecar (`state {json}`).
pub fn sidecar_state(sidecar: Option<&str>) -> Option<serde_json::Value> {
    sidecar?.lines().find_map(|l| l.strip_prefix("state ")).and_then(|j| serde_json::from_str(j).ok())
}

/// Require a tool on PATH: `Some(path)`, a visible skip (`None`) locally, a panic under CI.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file())
    });
    if found.is_none() {
        if in_ci() {
            panic!("CI=true but `{name}` is not installed");
        }
        eprintln!("SKIP: `{name}` not found on PATH");
    }
    found
}

/// The debugger library (`libpycoroner_ffi.so`) cargo built for the running test:
/// `cargo test` leaves the cdylib in target/<profile>/deps (a `cargo build` also
/// copies it up to target/<profile>).
pub fn ffi_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let deps = exe.parent().expect("deps dir");
    let candidates = [deps.join("libpycoroner_ffi.so"), deps.parent().expect("target dir").join("libpycoroner_ffi.so")];
    let lib = candidates.iter().find(|p| p.is_file());
    assert!(lib.is_some(), "libpycoroner_ffi.so was not built (looked at {} and {})", candidates[0].display(), candidates[1].display());
    lib.cloned().unwrap_or_default()
}

/// Where the debuggers keep their symbol index caches for the test run
/// (`target/tmp/debugger-index`): the suites start gdb and lldb hundreds of times on
/// the same dozen interpreters, and each start otherwise indexes the interpreter's
/// DWARF again (gdb: 0.3 of a 0.45 s start). Both debuggers key an entry by the
/// file's build-id (gdb) or UUID and modification time (lldb), so a rebuilt
/// interpreter gets a new entry, never an old index.
pub fn debugger_index_cache() -> PathBuf {
    let dir = repo_root().join("target/tmp/debugger-index");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// `gdb` with its index cache on (see [`debugger_index_cache`]); `-nx` still keeps
/// every init file out.
pub fn gdb_command() -> Command {
    let mut cmd = Command::new("gdb");
    cmd.arg("-iex")
        .arg(format!("set index-cache directory {}", debugger_index_cache().join("gdb").display()))
        .args(["-iex", "set index-cache enabled on"]);
    cmd
}

/// `lldb-16` with its index cache on (see [`debugger_index_cache`]).
pub fn lldb_command() -> Command {
    let mut cmd = Command::new("lldb-16");
    cmd.arg("-O")
        .arg(format!("settings set symbols.lldb-index-cache-path {}", debugger_index_cache().join("lldb").display()))
        .args(["-O", "settings set symbols.enable-lldb-index-cache true"]);
    cmd
}

/// The locals a scenario's sidecar lists (`local<TAB>name<TAB>repr` lines, written by
/// the process itself before it crashed): (name, repr).
pub fn sidecar_locals(side: &str) -> Vec<(String, String)> {
    side.lines()
        .filter_map(|l| match l.split('\t').collect::<Vec<_>>()[..] {
            ["local", name, repr] => Some((name.to_string(), repr.to_string())),
            _ => None,
        })
        .collect()
}

/// Root of the repository (for fixtures).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

/// A live target: `python script args...` (PYTHONPATH removed, `env` added) started
/// and waited for until it writes its first line to stdout (its "ready", or a line of
/// truth). The caller kills it.
pub fn start_live(python: &Path, script: &Path, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Result<(std::process::Child, String), String> {
    use std::io::BufRead;
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .env_remove("PYTHONPATH")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let mut line = String::new();
    let read = child.stdout.take().map(|o| std::io::BufReader::new(o).read_line(&mut line));
    match read {
        Some(Ok(n)) if n > 0 => Ok((child, line)),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("{} {} wrote no line ({other:?})", python.display(), script.display()))
        }
    }
}

/// A scenario under `fixtures/scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    repo_root().join("fixtures").join("scenarios").join(format!("{name}.py"))
}

/// What a crashed scenario left behind. The directory is removed on drop.
#[derive(Debug)]
pub struct Crash {
    /// The working directory holding everything.
    pub dir: tempfile::TempDir,
    /// The core file.
    pub core: PathBuf,
    /// faulthandler's text of the same instant.
    pub faulthandler: String,
    /// The sidecar file's contents, if the scenario wrote one (`argv[2]`).
    pub sidecar: Option<String>,
}

/// Run `script` under `python` with `ulimit -c unlimited` in a fresh directory and
/// return the core it dumped. Errors say what went wrong, with the child's stderr.
pub fn crash(python: &Path, script: &Path) -> Result<Crash, String> {
    crash_with_env(python, script, &[])
}

/// [`crash`] with extra environment variables (e.g. `LD_LIBRARY_PATH` and
/// `PYTHONHOME` for a relocated, stripped copy of an interpreter).
pub fn crash_with_env(python: &Path, script: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Result<Crash, String> {
    let dir = tempfile::Builder::new().prefix("pycoroner-crash-").tempdir().map_err(|e| e.to_string())?;
    let fh = dir.path().join("faulthandler.txt");
    let side = dir.path().join("sidecar.txt");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -c unlimited && exec \"$0\" \"$@\"")
        .arg(python)
        .arg(script)
        .arg(&fh)
        .arg(&side)
        .current_dir(dir.path())
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        return Err(format!("{} {} did not crash; stderr:\n{stderr}", python.display(), script.display()));
    }
    let core = std::fs::read_dir(dir.path())
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("core")))
        .ok_or_else(|| {
            let pat = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
            format!(
                "{} crashed ({}) but left no core in {} (core_pattern {:?}); stderr:\n{stderr}",
                python.display(),
                out.status,
                dir.path().display(),
                pat.trim()
            )
        })?;
    let faulthandler = std::fs::read_to_string(&fh).map_err(|e| format!("no faulthandler output: {e}"))?;
    let sidecar = std::fs::read_to_string(&side).ok();
    Ok(Crash { dir, core, faulthandler, sidecar })
}

/// One thread as faulthandler printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhThread {
    /// The `0x...` id.
    pub thread_id: u64,
    /// `Current thread`.
    pub current: bool,
    /// The ` [name]` 3.14+ prints after the id (the OS thread name, at most 15 bytes).
    pub name: Option<String>,
    /// Frames, most recent first.
    pub frames: Vec<FhFrame>,
    /// faulthandler may have cut the stack: it printed `  ...`, or exactly its cap of
    /// 100 frames (3.13.0 cuts there without any marker).
    pub truncated: bool,
}

/// One frame line: `  File "f", line N in name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhFrame {
    /// File name as printed (escaped).
    pub file: String,
    /// Line, `None` for `???`.
    pub line: Option<u32>,
    /// Function name as printed (escaped).
    pub name: String,
}

/// Parse faulthandler's `all_threads=True` output.
pub fn parse_faulthandler(text: &str) -> Vec<FhThread> {
    let mut out: Vec<FhThread> = Vec::new();
    for line in text.lines() {
        let header = line
            .strip_prefix("Current thread 0x")
            .map(|r| (true, r))
            .or_else(|| line.strip_prefix("Thread 0x").map(|r| (false, r)));
        if let Some((current, rest)) = header {
            let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            let name = rest
                .strip_prefix(hex.as_str())
                .and_then(|r| r.strip_prefix(" ["))
                .and_then(|r| r.rsplit_once("] (most recent call first):"))
                .map(|(n, _)| n.to_string());
            if let Ok(id) = u64::from_str_radix(&hex, 16) {
                out.push(FhThread { thread_id: id, current, name, frames: Vec::new(), truncated: false });
            }
            continue;
        }
        let Some(t) = out.last_mut() else { continue };
        if line == "  ..." || (line.starts_with("  File \"") && t.frames.len() == FAULTHANDLER_MAX_FRAMES) {
            t.truncated = true;
        } else if let Some(rest) = line.strip_prefix("  File \"") {
            // `FILE", line N in NAME` — the file may itself contain `", line `.
            if let Some(pos) = rest.rfind("\", line ") {
                let file = rest[..pos].to_string();
                let tail = &rest[pos + "\", line ".len()..];
                if let Some((num, name)) = tail.split_once(" in ") {
                    t.frames.push(FhFrame { file, line: num.parse().ok(), name: name.to_string() });
                }
            }
        }
    }
    for t in &mut out {
        if t.frames.len() >= FAULTHANDLER_MAX_FRAMES {
            t.truncated = true;
        }
    }
    out
}

/// faulthandler's `MAX_FRAME_DEPTH`.
pub const FAULTHANDLER_MAX_FRAMES: usize = 100;

/// Escape a string the way faulthandler writes it (`_Py_DumpASCII`): printable ASCII
/// as is, other code points as `\xHH`, `\uHHHH` or `\UHHHHHHHH`, cut at 500
/// characters with `...`.
pub fn faulthandler_escape(s: &str) -> String {
    const MAX: usize = 500;
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i >= MAX {
            out.push_str("...");
            break;
        }
        let v = c as u32;
        if (0x20..0x7f).contains(&v) {
            out.push(c);
        } else if v <= 0xff {
            out.push_str(&format!("\\x{v:02x}"));
        } else if v <= 0xffff {
            out.push_str(&format!("\\u{v:04x}"));
        } else {
            out.push_str(&format!("\\U{v:08x}"));
        }
    }
    out
}

/// Run a command and return (status code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    match cmd.output() {
        Ok(o) => (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (None, String::new(), format!("cannot run: {e}")),
    }
}

/// gdb's view of every thread of a core: LWP → function names, most recent first.
/// Every frame gdb shows: normal, inline, signal-trampoline (`<signal handler
/// called>`) and the tail-call frames it builds from DWARF call-site information; `??`
/// stands for an unknown function.
pub fn gdb_stacks(exe: &Path, core: &Path, debug_dirs: &[PathBuf]) -> Result<std::collections::HashMap<u32, Vec<String>>, String> {
    gdb_stacks_of(&[exe.as_os_str(), core.as_os_str()], debug_dirs, GDB_FRAMES)
}

/// [`gdb_stacks`] with up to `limit` frames per thread (a C stack overflow has
/// thousands).
pub fn gdb_stacks_deep(exe: &Path, core: &Path, debug_dirs: &[PathBuf], limit: usize) -> Result<std::collections::HashMap<u32, Vec<String>>, String> {
    gdb_stacks_of(&[exe.as_os_str(), core.as_os_str()], debug_dirs, limit)
}

/// Frames per thread [`gdb_stacks`] reads.
const GDB_FRAMES: usize = 1000;

/// [`gdb_stacks`] of a live process (`gdb -p PID`).
pub fn gdb_stacks_live(pid: u32, debug_dirs: &[PathBuf]) -> Result<std::collections::HashMap<u32, Vec<String>>, String> {
    let pid = pid.to_string();
    gdb_stacks_of(&["-p".as_ref(), pid.as_ref()], debug_dirs, GDB_FRAMES)
}

fn gdb_stacks_of(target: &[&std::ffi::OsStr], debug_dirs: &[PathBuf], limit: usize) -> Result<std::collections::HashMap<u32, Vec<String>>, String> {
    const SCRIPT: &str = r#"
import gdb
for inf in gdb.inferiors():
    for th in inf.threads():
        th.switch()
        names = []
        f = gdb.newest_frame()
        n = 0
        while f is not None and n < LIMIT:
            t = f.type()
            if t == gdb.SIGTRAMP_FRAME:
                names.append("<signal handler called>")
            else:
                names.append(f.name() or "??")
            f = f.older()
            n += 1
        print("PYCORONER-THREAD %d %s" % (th.ptid[1], "\t".join(names)))
"#;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let script = dir.path().join("stacks.py");
    std::fs::write(&script, SCRIPT.replace("LIMIT", &limit.to_string())).map_err(|e| e.to_string())?;
    let mut dirs = vec![PathBuf::from("/usr/lib/debug")];
    dirs.extend(debug_dirs.iter().cloned());
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let out = gdb_command()
        .args(["-batch", "-nx", "-ex", "set pagination off", "-ex", "set backtrace past-main on", "-ex", "set backtrace past-entry on"])
        .arg("-ex")
        .arg(format!("set debug-file-directory {}", dirs.join(":")))
        .arg("-x")
        .arg(&script)
        .args(target)
        .output()
        .map_err(|e| format!("cannot run gdb: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("PYCORONER-THREAD ") {
            let (lwp, names) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Ok(lwp) = lwp.parse() {
                map.insert(lwp, names.split('\t').filter(|s| !s.is_empty()).map(str::to_string).collect());
            }
        }
    }
    if map.is_empty() {
        return Err(format!("gdb printed no thread: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(map)
}

/// gdb's reading of a C function's argument in a core's crashed thread: in the
/// newest frame (inline and tail-call frames included) of one of `functions` whose
/// line's source file ends with one of `files`, `frame.read_var(parameter)` (gdb's `info args`
/// value: `None` where it says `<optimized out>`), as `(function, value)`. Frames of
/// those functions whose value is optimized out are passed over; `Ok(None)` when no
/// frame gives a value.
pub fn gdb_argument(exe: &Path, core: &Path, debug_dirs: &[PathBuf], functions: &[&str], files: &[&str], parameter: &str) -> Result<Option<(String, i64)>, String> {
    const SCRIPT: &str = r#"
import gdb
functions, files, parameter = FUNCTIONS, FILES, PARAMETER
f = gdb.selected_thread() and gdb.newest_frame()
found = 0
while f is not None:
    fn = f.function()
    # The file of the frame's line (an LTO build's functions are in an <artificial> unit).
    sal = f.find_sal()
    if fn is not None and fn.name in functions and sal.symtab is not None and any(sal.symtab.filename.endswith(x) for x in files):
        try:
            v = f.read_var(parameter)
            if not v.is_optimized_out:
                print("PYCORONER-ARG %s %d" % (fn.name, int(v)))
                found = 1
                break
        except (ValueError, gdb.error):
            pass
    f = f.older()
print("PYCORONER-DONE")
"#;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let script = dir.path().join("arg.py");
    let list = |v: &[&str]| format!("[{}]", v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "));
    let text = SCRIPT.replace("FUNCTIONS", &list(functions)).replace("FILES", &list(files)).replace("PARAMETER", &format!("{parameter:?}"));
    std::fs::write(&script, text).map_err(|e| e.to_string())?;
    let mut dirs = vec![PathBuf::from("/usr/lib/debug")];
    dirs.extend(debug_dirs.iter().cloned());
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let out = gdb_command()
        .args(["-batch", "-nx", "-ex", "set pagination off"])
        .arg("-ex")
        .arg(format!("set debug-file-directory {}", dirs.join(":")))
        .arg("-x")
        .arg(&script)
        .arg(exe)
        .arg(core)
        .output()
        .map_err(|e| format!("cannot run gdb: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("PYCORONER-DONE") {
        return Err(format!("gdb did not run the script: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(text.lines().find_map(|l| {
        let mut it = l.strip_prefix("PYCORONER-ARG ")?.split(' ');
        Some((it.next()?.to_string(), it.next()?.parse().ok()?))
    }))
}

/// Build `fixtures/ext/crashy.c` for `python` (its own headers and extension suffix)
/// into `dir`; returns the directory to put on PYTHONPATH.
pub fn build_crashy(python: &Path, dir: &Path) -> Result<PathBuf, String> {
    let q = |code: &str| -> Result<String, String> {
        let o = Command::new(python).args(["-c", code]).output().map_err(|e| e.to_string())?;
        o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string()).ok_or_else(|| String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let include = q("import sysconfig; print(sysconfig.get_paths()['include'])")?;
    let suffix = q("import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")?;
    if !Path::new(&include).join("Python.h").is_file() {
        return Err(format!("no Python.h in {include}"));
    }
    let out = dir.join(format!("crashy{suffix}"));
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-g", "-fno-omit-frame-pointer"])
        .arg(format!("-I{include}"))
        .arg(repo_root().join("fixtures/ext/crashy.c"))
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if !st.status.success() {
        return Err(String::from_utf8_lossy(&st.stderr).into_owned());
    }
    Ok(dir.to_path_buf())
}

/// A live target: `fixtures/live/parked.py` with its threads parked in known
/// functions, faulthandler's watchdog dump of them as ground truth, and a responder
/// thread that echoes stdin (to check it still runs). Killed when dropped.
pub struct Parked {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    dump: PathBuf,
    _dir: tempfile::TempDir,
}

impl Parked {
    /// Start it under `py` and wait until it says it is ready.
    pub fn start(py: &Interpreter) -> Parked {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("tmp");
        let dump = dir.path().join("faulthandler.txt");
        let mut child = Command::new(&py.path)
            .arg(repo_root().join("fixtures/live/parked.py"))
            .arg(&dump)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start target");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("ready line");
        assert_eq!(line, "ready\n", "{}", py.id());
        Parked { child, stdin, stdout, dump, _dir: dir }
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait (bounded) for faulthandler's watchdog dump to be complete: it ends with the
    /// main thread's <module> frame.
    pub fn ground_truth(&self) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&self.dump).unwrap_or_default();
            if text.lines().last().is_some_and(|l| l.contains("parked.py") && l.ends_with(" in <module>")) {
                return text;
            }
            assert!(std::time::Instant::now() < deadline, "no complete faulthandler dump:\n{text}");
            std::thread::yield_now();
        }
    }

    /// The target answers: its responder thread echoes a line.
    pub fn answers(&mut self) -> bool {
        use std::io::{BufRead, Write};
        if writeln!(self.stdin, "ping").and_then(|()| self.stdin.flush()).is_err() {
            return false;
        }
        let mut line = String::new();
        self.stdout.read_line(&mut line).is_ok() && line == "echo ping\n"
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_threads_frames_and_truncation() {
        let text = "Fatal Python error: Segmentation fault\n\nThread 0x00007f00000000aa (most recent call first):\n  File \"a.py\", line 3 in f\n  ...\n\nCurrent thread 0x00007f00000000bb (most recent call first):\n  File \"b\", line 7\", line ??? in <module>\n";
        let t = parse_faulthandler(text);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].thread_id, 0x7f00000000aa);
        assert!(t[0].truncated && !t[0].current);
        assert_eq!(t[1].frames[0], FhFrame { file: "b\", line 7".into(), line: None, name: "<module>".into() });
        assert_eq!(parse_faulthandler("Thread 0x00000000000000ab [Thread-1 (run)] (most recent call first):\n")[0].name.as_deref(), Some("Thread-1 (run)"));
        assert!(t[1].current);
    }

    #[test]
    fn strips_thread_names_and_c_stacks() {
        let text = "Fatal Python error: Segmentation fault\n\nThread 0x00007f0000000001 [worker] (most recent call first):\n  File \"a.py\", line 1 in f\n\nCurrent thread 0x00007f0000000002 [MainThread] (most recent call first):\n  File \"b.py\", line 2 in g\n\nCurrent thread's C stack trace (most recent call first):\n  Binary file \"x\" [0x1]\n";
        assert_eq!(
            faulthandler_python_part(text),
            "Fatal Python error: Segmentation fault\n\nThread 0x00007f0000000001 (most recent call first):\n  File \"a.py\", line 1 in f\n\nCurrent thread 0x00007f0000000002 (most recent call first):\n  File \"b.py\", line 2 in g\n\n"
        );
    }

    #[test]
    fn escapes_like_faulthandler() {
        assert_eq!(faulthandler_escape("grüße_函数_\u{1F600}"), "gr\\xfc\\xdfe_\\u51fd\\u6570_\\U0001f600");
        assert_eq!(faulthandler_escape(&"a".repeat(501)), format!("{}...", "a".repeat(500)));
    }
}

/// Crafting hostile cores from real ones: the notes of an ELF core rewritten, the
/// memory left as it is. The new notes are appended at the end of the file and the
/// PT_NOTE header pointed at them.
pub mod craft {
    fn u16_at(b: &[u8], o: usize) -> usize {
        u16::from_le_bytes([b[o], b[o + 1]]) as usize
    }
    fn u32_at(b: &[u8], o: usize) -> usize {
        u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes")) as usize
    }
    fn u64_at(b: &[u8], o: usize) -> u64 {
        u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
    }

    /// One ELF note.
    #[derive(Debug, Clone)]
    pub struct Note {
        /// `n_type`.
        pub ntype: u32,
        /// Its name without the NUL (`CORE`).
        pub name: Vec<u8>,
        /// Its descriptor.
        pub desc: Vec<u8>,
    }

    /// (offset of the PT_NOTE program header, the notes in it).
    pub fn notes(core: &[u8]) -> (usize, Vec<Note>) {
        let phoff = u64_at(core, 32) as usize;
        let phnum = u16_at(core, 56);
        for i in 0..phnum {
            let ph = phoff + i * 56;
            if u32_at(core, ph) != 4 {
                continue;
            }
            let (off, size) = (u64_at(core, ph + 8) as usize, u64_at(core, ph + 32) as usize);
            let data = &core[off..off + size];
            let mut out = Vec::new();
            let mut o = 0;
            while o + 12 <= data.len() {
                let (namesz, descsz, ntype) = (u32_at(data, o), u32_at(data, o + 4), u32_at(data, o + 8));
                let name_at = o + 12;
                let desc_at = name_at + ((namesz + 3) & !3);
                out.push(Note {
                    ntype: ntype as u32,
                    name: data[name_at..name_at + namesz.saturating_sub(1)].to_vec(),
                    desc: data[desc_at..desc_at + descsz].to_vec(),
                });
                o = desc_at + ((descsz + 3) & !3);
            }
            return (ph, out);
        }
        panic!("no PT_NOTE in the core");
    }

    /// The core with its notes replaced by `new`.
    pub fn with_notes(core: &[u8], new: &[Note]) -> Vec<u8> {
        let (ph, _) = notes(core);
        let mut blob = Vec::new();
        for n in new {
            blob.extend((n.name.len() as u32 + 1).to_le_bytes());
            blob.extend((n.desc.len() as u32).to_le_bytes());
            blob.extend(n.ntype.to_le_bytes());
            blob.extend(&n.name);
            blob.push(0);
            while !blob.len().is_multiple_of(4) {
                blob.push(0);
            }
            blob.extend(&n.desc);
            while !blob.len().is_multiple_of(4) {
                blob.push(0);
            }
        }
        let mut out = core.to_vec();
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let at = out.len() as u64;
        out.extend(&blob);
        out[ph + 8..ph + 16].copy_from_slice(&at.to_le_bytes());
        out[ph + 32..ph + 40].copy_from_slice(&(blob.len() as u64).to_le_bytes());
        out
    }

    /// NT_FILE's type.
    pub const NT_FILE: u32 = 0x4649_4c45;

    /// One NT_FILE entry: start, end, file offset in bytes, path.
    pub type FileEntry = (u64, u64, u64, Vec<u8>);

    /// Decode NT_FILE: page size and entries.
    pub fn parse_nt_file(desc: &[u8]) -> (u64, Vec<FileEntry>) {
        let count = u64_at(desc, 0) as usize;
        let page = u64_at(desc, 8);
        let mut names = desc[16 + count * 24..].split(|&b| b == 0);
        let entries = (0..count)
            .map(|i| {
                let e = 16 + i * 24;
                (u64_at(desc, e), u64_at(desc, e + 8), u64_at(desc, e + 16) * page, names.next().unwrap_or_default().to_vec())
            })
            .collect();
        (page, entries)
    }

    /// Encode NT_FILE.
    pub fn build_nt_file(page: u64, entries: &[FileEntry]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend((entries.len() as u64).to_le_bytes());
        d.extend(page.to_le_bytes());
        for (s, e, off, _) in entries {
            d.extend(s.to_le_bytes());
            d.extend(e.to_le_bytes());
            d.extend((off / page).to_le_bytes());
        }
        for (_, _, _, p) in entries {
            d.extend(p);
            d.push(0);
        }
        d
    }

    /// The core with its NT_FILE entries passed through `f`.
    pub fn map_nt_file(core: &[u8], f: impl FnOnce(&mut Vec<FileEntry>)) -> Vec<u8> {
        let (_, mut ns) = notes(core);
        if let Some(n) = ns.iter_mut().find(|n| n.ntype == NT_FILE) {
            let (page, mut entries) = parse_nt_file(&n.desc);
            f(&mut entries);
            n.desc = build_nt_file(page, &entries);
        }
        with_notes(core, &ns)
    }
}

/// A real core seen through a patch applied to every read: the fuzz runs corrupt its
/// bytes, the regression tests zero a chosen field. Everything else is the core's own.
pub struct PatchedCore<'a, F> {
    /// The core.
    pub core: &'a pycoroner_process::ElfCore,
    /// Called with each read's address and bytes, after the core filled them.
    pub patch: F,
}

impl<F: Fn(u64, &mut [u8]) + Sync> pycoroner_process::Memory for PatchedCore<'_, F> {
    fn read_exact(&self, addr: pycoroner_process::RemoteAddr, buf: &mut [u8]) -> Result<(), pycoroner_process::ReadError> {
        self.core.read_exact(addr, buf)?;
        (self.patch)(addr.0, buf);
        Ok(())
    }
}

impl<F: Fn(u64, &mut [u8]) + Sync> pycoroner_process::Target for PatchedCore<'_, F> {
    fn threads(&self) -> Vec<pycoroner_process::ThreadInfo> {
        self.core.threads().to_vec()
    }
    fn signal(&self) -> Option<pycoroner_process::SignalInfo> {
        self.core.signal()
    }
    fn mappings(&self) -> Vec<pycoroner_process::FileMapping> {
        self.core.file_mappings().to_vec()
    }
    fn open_file(&self, path: &str) -> Result<pycoroner_process::OpenedFile, pycoroner_process::FileError> {
        self.core.open_file(path)
    }
    fn warnings(&self) -> Vec<String> {
        pycoroner_process::Target::warnings(self.core)
    }
    fn executable(&self) -> Option<String> {
        self.core.executable_path()
    }
    fn pid(&self) -> Option<u32> {
        None
    }
    fn describe(&self) -> String {
        format!("patched core {}", self.core.path().display())
    }
}

/// A hash of a seed and an address, for corruption that re-reads see the same way.
pub fn mix(seed: u64, addr: u64) -> u64 {
    let mut x = seed ^ addr;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// A crash inside a root that is then moved away (a container gone, its files kept):
/// the interpreter copied to `/opt/pyroot` of a fresh root with the system libraries
/// it loads, crashed there under chroot with faulthandler on, and the root renamed.
pub struct MovedRoot {
    /// Holds everything; removed on drop.
    pub top: tempfile::TempDir,
    /// Where the root is now (the `--sysroot` that finds its files).
    pub moved: PathBuf,
    /// The core, in the moved root.
    pub core: PathBuf,
    /// faulthandler's text of the crash.
    pub faulthandler: String,
}

/// Make a [`MovedRoot`] crash of `py` (needs `chroot` and `ldd`, and root).
pub fn moved_root_crash(py: &Interpreter) -> MovedRoot {
    let prefix = py.path.parent().and_then(std::path::Path::parent).expect("prefix").to_path_buf();
    let top = tempfile::tempdir().expect("tmp");
    let root = top.path().join("root");
    let inside = |p: &std::path::Path| root.join(p.strip_prefix("/").unwrap_or(p));
    // The interpreter (hard links where the file system allows: the same bytes).
    let dest = inside(std::path::Path::new("/opt/pyroot"));
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    let linked = Command::new("cp").arg("-al").arg(&prefix).arg(&dest).status().is_ok_and(|s| s.success());
    if !linked {
        assert!(Command::new("cp").arg("-a").arg(&prefix).arg(&dest).status().expect("cp").success());
    }
    // The system libraries it and its extension modules load, at their own paths.
    let mut objects = vec![py.path.clone()];
    for dir in [prefix.join("lib"), prefix.join(format!("lib/python3.{}/lib-dynload", py.minor))] {
        objects.extend(std::fs::read_dir(&dir).expect("lib").flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().contains(".so")));
    }
    let mut libs = std::collections::BTreeSet::new();
    for o in &objects {
        let out = Command::new("ldd").arg(o).output().expect("ldd");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let path = line.split_whitespace().find(|w| w.starts_with('/'));
            if let Some(p) = path.filter(|p| !p.starts_with(&*prefix.to_string_lossy())) {
                libs.insert(std::path::PathBuf::from(p));
            }
        }
    }
    for lib in &libs {
        let to = inside(lib);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(lib, &to).unwrap_or_else(|e| panic!("copy {}: {e}", lib.display()));
    }
    // A crash with faulthandler on, from inside the root (the core lands in its /).
    let script = "import ctypes, faulthandler, sys\nf = open('/fh.txt', 'w')\nfaulthandler.enable(file=f, all_threads=True)\ndef crash_in_root():\n    ctypes.string_at(0)\ncrash_in_root()\n";
    std::fs::write(root.join("crash.py"), script).expect("script");
    let status = Command::new("sh")
        .arg("-c")
        .arg("ulimit -c unlimited && exec chroot \"$0\" /opt/pyroot/bin/python3 /crash.py")
        .arg(&root)
        .env("LD_LIBRARY_PATH", "/opt/pyroot/lib")
        .env("PYTHONHOME", "/opt/pyroot")
        .env_remove("PYTHONPATH")
        .status()
        .expect("chroot");
    assert!(!status.success(), "did not crash");
    let faulthandler = std::fs::read_to_string(root.join("fh.txt")).expect("faulthandler output");
    // The root moves (the container is gone; its files were kept elsewhere).
    let moved = top.path().join("kept");
    std::fs::rename(&root, &moved).expect("move the root");
    let core = moved.join("core");
    assert!(core.is_file(), "no core in the root");
    MovedRoot { top, moved, core, faulthandler }
}

/// A fuzz target's real core, named by the environment variable `var` (`fuzz/run.sh`
/// makes one), and a private cache directory for its analyses.
pub struct FuzzCore {
    /// The core.
    pub core: pycoroner_process::ElfCore,
    /// The layout cache.
    pub cache: tempfile::TempDir,
}

impl FuzzCore {
    /// Open the core `$var` names; panics with what to do when it is not set.
    pub fn from_env(var: &str) -> FuzzCore {
        let path = std::env::var_os(var).unwrap_or_else(|| panic!("set {var} to a core (see fuzz/run.sh)"));
        FuzzCore { core: pycoroner_process::ElfCore::open(Path::new(&path)).expect("open the core"), cache: tempfile::tempdir().expect("tmp") }
    }
}

/// A corruption for [`PatchedCore`], as the fuzz targets and their regression replays
/// apply it: each byte at address A is replaced with probability 1/`rate` (a hash of
/// seed and A, so re-reads agree) by one of `values` (by a hash byte when empty).
pub fn corruption(seed: u64, rate: u64, values: &[u8]) -> impl Fn(u64, &mut [u8]) + Sync + '_ {
    move |addr, buf| {
        for (i, b) in buf.iter_mut().enumerate() {
            let h = mix(seed, addr.wrapping_add(i as u64));
            if h.is_multiple_of(rate.max(1)) {
                *b = match values.len() {
                    0 => (h >> 32) as u8,
                    n => values[(h >> 20) as usize % n],
                };
            }
        }
    }
}

/// pycoroner's text without its header (the lines between faulthandler's `Fatal Python
/// error` line and the first thread: process, executable, signal) and without its
/// "Interpreter state:" section (what faulthandler does not print), for comparing with
/// faulthandler's own text. Returns the header too.
pub fn split_report_header(text: &str) -> (String, String) {
    let (header, body) = split_header_only(text);
    (header, without_state_section(&body))
}

/// `text` without the "Interpreter state:" section and the blank line before it.
pub fn without_state_section(text: &str) -> String {
    let mut out = String::new();
    let mut in_state = false;
    for l in text.lines() {
        if l == "Interpreter state:" {
            in_state = true;
            if out.ends_with("\n\n") {
                out.pop();
            }
            continue;
        }
        if in_state {
            if l.starts_with("  ") {
                continue;
            }
            in_state = false;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

fn split_header_only(text: &str) -> (String, String) {
    let mut lines = text.lines().peekable();
    let mut body = String::new();
    if let Some(first) = lines.peek().filter(|l| l.starts_with("Fatal Python error:")) {
        body.push_str(first);
        body.push('\n');
        lines.next();
        if lines.peek() == Some(&"") {
            body.push('\n');
            lines.next();
        }
    }
    let mut header = String::new();
    for l in lines.by_ref() {
        if l.is_empty() {
            break;
        }
        header.push_str(l);
        header.push('\n');
    }
    for l in lines {
        body.push_str(l);
        body.push('\n');
    }
    (header, body)
}

/// Where a JSON report breaks the report's JSON Schema (`schema/report.schema.json`,
/// generated from the report's types): one line per violation, empty when it follows it.
pub fn report_schema_errors(report: &serde_json::Value) -> Vec<String> {
    static VALIDATOR: std::sync::OnceLock<Result<jsonschema::Validator, String>> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let path = repo_root().join("schema/report.schema.json");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let schema: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        jsonschema::validator_for(&schema).map_err(|e| format!("{}: {e}", path.display()))
    });
    match validator {
        Ok(v) => v.iter_errors(report).map(|e| format!("{} at {}", e, e.instance_path)).collect(),
        Err(e) => vec![format!("the report schema does not load: {e}")],
    }
}

/// Parse a JSON report printed by pycoroner and check it against the report's JSON
/// Schema: every report the suites read is validated here. `None` for text that is
/// not JSON or is a JSON error; a report that breaks the schema fails the test that
/// produced it.
pub fn parse_report(text: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    // `--format json` prints an error as `{"schema", "error"}`: not a report.
    if v.get("error").is_some() && v.get("threads").is_none() {
        return None;
    }
    let errors = report_schema_errors(&v);
    assert!(errors.is_empty(), "the report breaks schema/report.schema.json:\n{}", errors.join("\n"));
    Some(v)
}

/// A JSON report's warnings as the text report prints them (`thread 0x...: message`).
pub fn warning_texts(report: &serde_json::Value) -> Vec<String> {
    let warnings = report["warnings"].as_array().map_or(&[][..], Vec::as_slice);
    warnings
        .iter()
        .map(|w| {
            let message = w["message"].as_str().unwrap_or_default();
            match w["thread"].as_u64() {
                Some(t) => format!("thread 0x{t:016x}: {message}"),
                None => message.to_string(),
            }
        })
        .collect()
}

/// A core of a program with no Python in it (`sleep`, killed with SIGSEGV), written in
/// `dir`; its path.
pub fn core_without_python(dir: &Path) -> PathBuf {
    let status = Command::new("sh")
        .arg("-c")
        .arg("ulimit -c unlimited && exec sleep 30 & pid=$!; sleep 0.2; kill -SEGV $pid; wait $pid; true")
        .current_dir(dir)
        .status()
        .expect("sh");
    assert!(status.success());
    let core = dir.join("core");
    assert!(core.is_file(), "sleep left no core in {}", dir.display());
    core
}
