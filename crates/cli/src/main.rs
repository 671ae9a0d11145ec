//! The `pycoroner` binary: parse, open the target, one library call, render, exit status.

mod args;
mod demo;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use pycoroner::{analyze, AnalyzeError, Options};
use pycoroner_report::render;
use pycoroner_target::{CoreError, ElfCore};

use crate::args::{Cli, Command, Common, Format};

/// Exit statuses (DESIGN.md "Contracts").
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_NO_PYTHON: u8 = 3;

/// A failure with the exit status it maps to.
pub struct Failure {
    status: u8,
    message: String,
}

impl From<AnalyzeError> for Failure {
    fn from(e: AnalyzeError) -> Self {
        let status = if e.is_no_python() { EXIT_NO_PYTHON } else { EXIT_BAD_INPUT };
        Failure { status, message: e.to_string() }
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Failure { status: EXIT_BAD_INPUT, message: e.to_string() }
    }
}

impl Failure {
    fn bad_input(message: impl Into<String>) -> Failure {
        Failure { status: EXIT_BAD_INPUT, message: message.into() }
    }
}

fn options(common: &Common) -> Options {
    let mut o = Options::cli_default();
    if common.no_cache {
        o.cache_dir = None;
    } else if let Some(d) = &common.cache_dir {
        o.cache_dir = Some(d.clone());
    }
    o.debug_dirs = common.debug_dirs.clone();
    o
}

/// Open a core and analyze it; the text or JSON to print.
pub fn run_core(
    core: &std::path::Path,
    exe: Option<std::path::PathBuf>,
    sysroot: Option<std::path::PathBuf>,
    common: &Common,
) -> Result<String, Failure> {
    let mut target = ElfCore::open(core)?;
    target.set_sysroot(sysroot);
    let mut opts = options(common);
    opts.exe = exe;
    let mut report = analyze(&target, &opts).map_err(|e| {
        let mut f = Failure::from(e);
        if target.is_truncated() {
            // What is missing may be exactly what was looked for: not a "no Python" verdict.
            f.status = EXIT_BAD_INPUT;
            f.message = format!("{} (the core file is truncated, so this may be why)", f.message);
        }
        f
    })?;
    report.target.path = Some(core.display().to_string());
    if target.is_truncated() {
        report.warnings.push("the core file is truncated: some memory is missing".into());
    }
    Ok(match common.format {
        Format::Text => render::faulthandler::render(&report),
        Format::Json => render::json::render(&report) + "\n",
    })
}

fn run(cli: Cli) -> Result<String, Failure> {
    match cli.command {
        Command::Core { core, exe, sysroot, common } => run_core(&core, exe, sysroot, &common),
        Command::Demo { python, keep, common } => demo::run(python, keep, &common),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush());
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("pycoroner: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}
