//! `pycoroner demo`: crash a bundled scenario with an available Python, then analyze
//! the core it leaves, so a newcomer sees the whole job in one command.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::args::Common;
use crate::{run_core, Failure};

const SCENARIO: &str = include_str!("demo_scenario.py");

/// The Pythons to try, best first: pyenv builds (they carry DWARF), then `python3`.
fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("PYCORONER_PYTHON") {
        out.push(PathBuf::from(p));
    }
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(root) = root {
        let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root.join("versions"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let nums: Vec<u32> = name.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
                let minor = *nums.get(1)?;
                (nums.first() == Some(&3) && (6..=13).contains(&minor))
                    .then(|| (nums.clone(), e.path().join("bin").join(format!("python3.{minor}"))))
            })
            .collect();
        versions.sort();
        out.extend(versions.into_iter().rev().map(|(_, p)| p));
    }
    out.push(PathBuf::from("python3"));
    out
}

fn core_pattern_problem() -> Option<String> {
    let pat = std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok()?;
    pat.trim().starts_with('|').then(|| {
        format!(
            "cores are piped to `{}` (kernel.core_pattern), so the demo cannot find its core; run `sysctl kernel.core_pattern=core` as root, or use `coredumpctl dump -o core` and `pycoroner core core`",
            pat.trim().trim_start_matches('|')
        )
    })
}

/// Run the demo; returns the report followed by where faulthandler's text is.
pub fn run(python: Option<PathBuf>, keep: Option<PathBuf>, common: &Common) -> Result<String, Failure> {
    if let Some(problem) = core_pattern_problem() {
        return Err(Failure::bad_input(problem));
    }
    let tmp;
    let dir: &Path = match &keep {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Failure::bad_input(format!("cannot create {}: {e}", d.display())))?;
            d
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| Failure::bad_input(format!("cannot create a temporary directory: {e}")))?;
            tmp.path()
        }
    };
    let script = dir.join("demo_scenario.py");
    std::fs::write(&script, SCENARIO).map_err(|e| Failure::bad_input(format!("cannot write {}: {e}", script.display())))?;
    let fh = dir.join("faulthandler.txt");
    let pythons = match python {
        Some(p) => vec![p],
        None => candidates(),
    };
    let mut tried = Vec::new();
    for py in pythons {
        let _ = std::fs::remove_file(dir.join("core"));
        // `ulimit -c unlimited` for the child only, through the shell.
        let status = Command::new("sh")
            .arg("-c")
            .arg("ulimit -c unlimited 2>/dev/null; exec \"$0\" \"$1\" \"$2\"")
            .arg(&py)
            .arg(&script)
            .arg(&fh)
            .current_dir(dir)
            .status();
        let Ok(status) = status else {
            tried.push(format!("{} (could not start)", py.display()));
            continue;
        };
        if status.success() || status.code() == Some(127) {
            tried.push(format!("{} (did not crash)", py.display()));
            continue;
        }
        let Some(core) = find_core(dir) else {
            tried.push(format!("{} (crashed but left no core in {}: check `ulimit -c` and kernel.core_pattern)", py.display(), dir.display()));
            continue;
        };
        let mut out = format!("# {} crashed running the demo scenario; analyzing {}\n\n", py.display(), core.display());
        out.push_str(&run_core(&core, None, None, common)?);
        if keep.is_some() {
            out.push_str(&format!("\n# faulthandler's own view of the same instant: {}\n", fh.display()));
        } else {
            let theirs = std::fs::read_to_string(&fh).unwrap_or_default();
            out.push_str("\n# faulthandler's own view of the same instant, for comparison:\n");
            out.push_str(&theirs);
        }
        return Ok(out);
    }
    Err(Failure::bad_input(format!("no Python could run the demo: {}", tried.join("; "))))
}

fn find_core(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("core")))
}
