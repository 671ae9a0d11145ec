//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// What a CPython process was doing when it died or hung: every thread's Python and C
/// stack, locals and exceptions, from a core dump or a live process.
#[derive(Debug, Parser)]
#[command(
    name = "pycoroner",
    version = VERSION,
    about,
    long_about = None,
    after_help = EXAMPLES,
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `--version`: the release, and what it reads.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (CPython 3.6 to 3.15, release and debug builds; Linux x86_64)");

/// The top-level help's examples, one per command.
const EXAMPLES: &str = "\
Examples:
  pycoroner demo                        crash a bundled scenario and analyze its core
  pycoroner core ./core --native        every thread, Python frames spliced into C frames
  pycoroner core ./core --locals        with each frame's variables and exceptions
  pycoroner pid 4242 --tasks            every asyncio task and who awaits it
  pycoroner core ./core --state         GIL, GC, atexit, tracing, signals, sys.flags
  coredumpctl dump -o - 4242 | pycoroner core -
  pycoroner pid 4242                    a running process, paused only while it is read
  pycoroner print ./core 0x7f3a1c2b4e80 one object, as repr() writes it
  pycoroner core ./core --format json   the report as JSON (schema/report.schema.json)
  pycoroner gdb python3 ./core          gdb with py-bt, py-threads, py-locals, py-print

Exit status: 0 a report, 2 bad input (unreadable, wrong file, bad flag), 3 no Python
interpreter in the target.";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// faulthandler-style text.
    Text,
    /// JSON, schema 2 (schema/report.schema.json); errors are JSON too.
    Json,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--tasks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TasksView {
    /// The await tree, as `python -m asyncio pstree`.
    Tree,
    /// One row per task and awaiter, as `python -m asyncio ps`.
    Table,
}

/// `--layout-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutSourceArg {
    /// DWARF, else the target's _Py_DebugOffsets (3.13+), else the built-in tables.
    Auto,
    /// DWARF in the binary or a separate debug file.
    Dwarf,
    /// The target's own _Py_DebugOffsets (3.13+).
    DebugOffsets,
    /// pycoroner's built-in tables.
    Builtin,
}

/// Options shared by every command that analyzes a target.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Colour the text report (current thread, files, lines, functions, warnings).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Directory with separate debug files (build-id tree or flat); may repeat.
    #[arg(long = "debug-dir", value_name = "DIR")]
    pub debug_dirs: Vec<PathBuf>,
    /// Mixed stacks: native frames unwound from the registers, each eval-loop frame
    /// replaced by the Python frames it ran, interpreter call machinery folded.
    #[arg(long, conflicts_with = "native_all")]
    pub native: bool,
    /// Like --native, but every native frame, as gdb's `bt` shows them.
    #[arg(long)]
    pub native_all: bool,
    /// Show the source line under each Python frame, read from its file as it is now
    /// (inside --sysroot for a core, the process's root for a live one).
    #[arg(long)]
    pub source: bool,
    /// Show every frame of a long repeat (a C stack overflow, a deep recursion) instead
    /// of `[Previous 3 frames repeated 4966 more times]`.
    #[arg(long)]
    pub no_fold: bool,
    /// Show every Python frame's arguments, locals, cell and free variables, and each
    /// thread's exceptions.
    #[arg(long)]
    pub locals: bool,
    /// asyncio: every task of each thread's event loop, its await chain and who awaits
    /// it, drawn as `python -m asyncio pstree` does (or its `ps` table with
    /// `--tasks=table`).
    #[arg(long, value_enum, value_name = "VIEW", num_args = 0..=1, require_equals = true, default_missing_value = "tree")]
    pub tasks: Option<TasksView>,
    /// The whole interpreter state: GIL, garbage collector, finalization and atexit
    /// callbacks, trace and profile functions, sys.monitoring tools, signal handlers,
    /// threads, sys.argv/flags and extension modules (by default only what is set or
    /// unusual is shown).
    #[arg(long)]
    pub state: bool,
    /// Each value's reference count next to it (with --locals, in print), and which
    /// objects are immortal (3.12+).
    #[arg(long)]
    pub refcounts: bool,
    /// How deep to render nested containers and instances (at most 100).
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub depth: usize,
    /// How many items of a container (and characters of a string, x10) to render.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub length: usize,
    /// Where struct layouts come from: the best available (auto), or only one source.
    #[arg(long, value_enum, default_value_t = LayoutSourceArg::Auto)]
    pub layout_source: LayoutSourceArg,
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
        /// The core file; `-` reads it from standard input (`coredumpctl dump -o - PID |
        /// pycoroner core -`), plain or compressed.
        core: PathBuf,
        /// The executable, as pystack takes it (`pycoroner core CORE EXE`); the same as --exe.
        #[arg(value_name = "EXE", conflicts_with = "exe")]
        exe_arg: Option<PathBuf>,
        /// The executable, if not the one the core names (its build-id must match).
        #[arg(long, value_name = "PATH")]
        exe: Option<PathBuf>,
        /// Read the files the process mapped only inside DIR (a core from another machine
        /// or a container): `..` and links cannot leave it.
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Every thread's Python stack of a running process, stopped for the read.
    Pid {
        /// The process id.
        pid: u32,
        /// Read without stopping the process (a racy view; nothing is ever paused).
        #[arg(long)]
        nonblocking: bool,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Run a command, reporting each crash and hang of the processes it starts: `run -- CMD ARGS...`
    ///
    /// Each process of the tree is read at the instant a fatal signal is about to be
    /// delivered to it (or at --timeout). The command's output, signals and exit status
    /// are its own (124 on --timeout).
    Run {
        /// Read every process of the tree after DURATION (`90s`, `15m`), then stop it
        /// (SIGTERM, SIGKILL after --kill-after), and exit 124 as timeout(1) does.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<std::time::Duration>,
        /// How long after SIGTERM (at --timeout) SIGKILL follows.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
        kill_after: std::time::Duration,
        /// Read every process of the tree, without stopping it, each time pycoroner
        /// gets this signal (`SIGUSR1`, `USR2`, or a number).
        #[arg(long, value_name = "SIGNAL", value_parser = parse_signal)]
        dump_on: Option<i32>,
        /// Where the reports go (JSON, Markdown and JUnit XML per event) [default:
        /// ./pycoroner-reports, made only when something was caught].
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// Fail (exit 2) when the command cannot be traced, instead of running it
        /// untraced.
        #[arg(long)]
        require_trace: bool,
        /// Shared options.
        #[command(flatten)]
        common: Common,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true, value_name = "CMD ARGS")]
        command: Vec<std::ffi::OsString>,
    },
    /// Write a slim minidump of a core or a running process: `dump CORE -o FILE.dmp` or
    /// `dump --pid PID -o FILE.dmp`.
    ///
    /// It holds what a full report reads (every thread's Python stack, locals, native
    /// frames and the interpreter's state), each thread's registers and used stack, the
    /// modules with build-ids, and the layout: `pycoroner core FILE.dmp` gives the same
    /// report on any machine, with no binary for the Python part.
    Dump {
        /// The core file (or give --pid).
        #[arg(value_name = "CORE", required_unless_present = "pid", conflicts_with = "pid")]
        core: Option<PathBuf>,
        /// Read a running process instead of a core (stopped while it is read and written).
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// The minidump to write (created new: an existing file is not replaced).
        #[arg(short = 'o', long = "output", value_name = "FILE.dmp")]
        output: PathBuf,
        /// Look up the files the process mapped under DIR first.
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Render the Python object at an address, like repr(): `print CORE ADDRESS` or
    /// `print --pid PID ADDRESS`.
    Print {
        /// CORE ADDRESS, or ADDRESS with --pid (0x... or decimal).
        #[arg(num_args = 1..=2, required = true, value_name = "CORE ADDRESS")]
        args: Vec<String>,
        /// Read a running process instead of a core.
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// Look up the files the process mapped under DIR first.
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Count the objects the garbage collector tracks, per type (`gc.get_objects()`
    /// from a core or a stopped process): `heap CORE` or `heap --pid PID`.
    Heap {
        /// The core file (or give --pid, or --diff).
        #[arg(value_name = "CORE", required_unless_present_any = ["pid", "diff"], conflicts_with_all = ["pid", "diff"])]
        core: Option<PathBuf>,
        /// With --pid: take a census every DURATION (`10s`, `500ms`, `2m`), --count
        /// times, and show what grew from the first to the last.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "pid")]
        every: Option<std::time::Duration>,
        /// With --every: how many censuses (at least 2).
        #[arg(long, value_name = "N", default_value_t = 2, requires = "every")]
        count: usize,
        /// Compare two censuses of the same program, A then B (each a core, or the JSON
        /// `heap --format json` wrote): what grew, most first.
        #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "pid")]
        diff: Option<Vec<PathBuf>>,
        /// Read a running process instead of a core (stopped while it is counted).
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// With --pid: count without stopping the process (a racy view: lists the
        /// process changes meanwhile may break, and say so).
        #[arg(long, requires = "pid")]
        nonblocking: bool,
        /// How many types to list, largest total size first (JSON has them all).
        #[arg(long, value_name = "N", default_value_t = 25)]
        top: usize,
        /// Also list the N largest objects: size, length, address, type and a short
        /// repr (0: none).
        #[arg(long, value_name = "N", default_value_t = 10)]
        largest: usize,
        /// Also count the objects the collector does not track (str, int, float,
        /// bytes...) through the tracked objects that refer to them: a second walk
        /// that reads every container.
        #[arg(long)]
        untracked: bool,
        /// Look up the files the process mapped under DIR first.
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Who refers to an object, like gc.get_referrers but up to the roots (a module's
    /// globals, a frame's local, a type): `referrers CORE ADDRESS` or `referrers --pid
    /// PID ADDRESS`.
    Referrers {
        /// CORE ADDRESS, or ADDRESS with --pid (0x... or decimal).
        #[arg(num_args = 1..=2, required = true, value_name = "CORE ADDRESS")]
        args: Vec<String>,
        /// Read a running process instead of a core (stopped while it is searched).
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// How many levels up from the object to search (`--depth` is the shared
        /// option for how deep values are written).
        #[arg(long, value_name = "N", default_value_t = 8)]
        levels: usize,
        /// Look up the files the process mapped under DIR first.
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Print the layout (offsets table, version, flavour) read from an interpreter
    /// binary's DWARF, as JSON: the generator of the built-in tables.
    Layouts {
        /// libpython or a python executable (or its separate debug file).
        binary: PathBuf,
        /// The exact version (X.Y.Z), when the binary does not say it (3.6–3.10).
        #[arg(long, value_name = "X.Y.Z")]
        version: Option<String>,
        /// Directory with separate debug files; may repeat.
        #[arg(long = "debug-dir", value_name = "DIR")]
        debug_dirs: Vec<PathBuf>,
    },
    /// Start gdb with pycoroner's commands loaded (py-bt, py-threads, py-locals, ...):
    /// `pycoroner gdb PYTHON CORE`, `pycoroner gdb -p PID`; `--init` prints the line
    /// for ~/.gdbinit instead.
    Gdb {
        /// Print the line that loads the commands in every gdb session, and exit.
        #[arg(long)]
        init: bool,
        /// Arguments for gdb.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "GDB ARGS")]
        args: Vec<std::ffi::OsString>,
    },
    /// Start lldb with pycoroner's commands loaded: `pycoroner lldb PYTHON -c CORE`,
    /// `pycoroner lldb -p PID`; `--init` prints the line for ~/.lldbinit instead.
    Lldb {
        /// Print the line that loads the commands in every lldb session, and exit.
        #[arg(long)]
        init: bool,
        /// Arguments for lldb.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "LLDB ARGS")]
        args: Vec<std::ffi::OsString>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(hide = true)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(hide = true)]
    Man,
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

/// `10s`, `500ms`, `2m`, `1h`, or plain seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number.trim().parse().map_err(|_| format!("{s:?} is not a duration (like 10s, 500ms, 2m)"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    std::time::Duration::try_from_secs_f64(n * scale).map_err(|_| format!("{s:?} is not a duration we can wait"))
}

/// `SIGUSR1`, `USR1` or a signal number; not one the run needs for itself.
pub fn parse_signal(s: &str) -> Result<i32, String> {
    let name = s.trim().to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let n = match name.parse::<i32>() {
        Ok(n) => n,
        Err(_) => (1..=31).find(|&n| pycoroner_report::signal_names(n).0.strip_prefix("SIG") == Some(name)).ok_or_else(|| format!("{s:?} is not a signal name or number"))?,
    };
    match n {
        9 | 19 => Err(format!("{s:?} cannot be caught")),
        17 => Err("SIGCHLD is how the run learns of the tree's stops".into()),
        2 | 15 | 1 | 3 => Err(format!("{s:?} is passed on to the command")),
        1..=64 => Ok(n),
        _ => Err(format!("{s:?} is not a signal number")),
    }
}
