//! `pycoroner gdb` and `pycoroner lldb`: the debugger, started with pycoroner's
//! commands loaded from where they were installed beside this binary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::Failure;

/// A debugger pycoroner extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Debugger {
    /// GNU gdb.
    Gdb,
    /// LLVM lldb.
    Lldb,
}

impl Debugger {
    fn name(self) -> &'static str {
        match self {
            Debugger::Gdb => "gdb",
            Debugger::Lldb => "lldb",
        }
    }
}

/// Where the extension script may be, in order: the installed layout beside this binary
/// (`bin/pycoroner` → `share/pycoroner/<debugger>/pycoroner.py`: the release tarball,
/// the wheel's data, `make install`), then the checkout a development build came from.
fn candidates(dbg: Debugger, exe: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(prefix) = exe.parent().and_then(Path::parent) {
        out.push(prefix.join("share/pycoroner").join(dbg.name()).join("pycoroner.py"));
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // A build inside the checkout (target/*/pycoroner) only.
    if exe.starts_with(checkout.join("target")) || exe.canonicalize().is_ok_and(|e| checkout.canonicalize().is_ok_and(|c| e.starts_with(c.join("target")))) {
        out.push(checkout.join(dbg.name()).join("pycoroner.py"));
    }
    out
}

/// The extension script, or where it was looked for.
pub fn script(dbg: Debugger) -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure::bad_input(format!("cannot find this program's own path: {e}")))?;
    let tried = candidates(dbg, &exe);
    tried.iter().find(|p| p.is_file()).map(|p| p.canonicalize().unwrap_or_else(|_| p.clone())).ok_or_else(|| {
        let shown: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        Failure::bad_input(format!(
            "pycoroner's {} commands are not installed beside {} (looked for {}); install pycoroner with pip or from the release tarball",
            dbg.name(),
            exe.display(),
            shown.join(", ")
        ))
    })
}

/// The line for `~/.gdbinit` or `~/.lldbinit` that loads the commands in every session.
pub fn init_line(dbg: Debugger, script: &Path) -> String {
    match dbg {
        Debugger::Gdb => format!("source {}\n", script.display()),
        Debugger::Lldb => format!("command script import {}\n", script.display()),
    }
}

/// The debugger's executable: `gdb`; `lldb`, else the newest `lldb-N` on PATH.
fn program(dbg: Debugger) -> Option<PathBuf> {
    let paths: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH")?).collect();
    let exact = paths.iter().map(|d| d.join(dbg.name())).find(|p| p.is_file());
    if exact.is_some() || dbg == Debugger::Gdb {
        return exact;
    }
    let mut versioned: Vec<(u32, PathBuf)> = paths
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u32 = name.strip_prefix("lldb-")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, p)| p)
}

/// Replace this process with the debugger, the commands loaded before anything else.
pub fn exec(dbg: Debugger, args: &[OsString]) -> Failure {
    use std::os::unix::process::CommandExt;
    let script = match script(dbg) {
        Ok(s) => s,
        Err(f) => return f,
    };
    let Some(program) = program(dbg) else {
        return Failure::bad_input(format!("{} is not on PATH: install it (Debian: apt-get install {})", dbg.name(), dbg.name()));
    };
    let mut cmd = std::process::Command::new(&program);
    match dbg {
        Debugger::Gdb => cmd.arg("-iex").arg(format!("source {}", script.display())),
        Debugger::Lldb => cmd.arg("-O").arg(format!("command script import {}", script.display())),
    };
    let err = cmd.args(args).exec();
    Failure::bad_input(format!("cannot start {}: {err}", program.display()))
}
