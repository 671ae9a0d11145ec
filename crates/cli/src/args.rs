//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// What a CPython process was doing when it died: every thread's Python stack from a core dump.
#[derive(Debug, Parser)]
#[command(name = "pycoroner", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// faulthandler-style text.
    Text,
    /// JSON, schema 1.
    Json,
}

/// Options shared by every command that analyzes a target.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Directory with separate debug files (build-id tree or flat); may repeat.
    #[arg(long = "debug-dir", value_name = "DIR")]
    pub debug_dirs: Vec<PathBuf>,
    /// Do not read or write the layout cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Layout cache directory [default: $PYCORONER_CACHE_DIR, $XDG_CACHE_HOME/pycoroner or ~/.cache/pycoroner].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze a core dump (plain, or compressed with zstd, lz4, xz or gzip).
    Core {
        /// The core file.
        core: PathBuf,
        /// The executable, if not the one the core names (its build-id must match).
        #[arg(long, value_name = "PATH")]
        exe: Option<PathBuf>,
        /// Look up the files the process mapped under DIR first (core from another machine).
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Crash a bundled scenario with an available Python, then analyze its core.
    Demo {
        /// The Python to crash [default: the newest pyenv interpreter, else python3].
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
        /// Keep the scenario, core and faulthandler output in this directory.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
}
