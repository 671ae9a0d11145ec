//! The `pycoroner` binary: parse, open the target, one library call, render, exit status.
#![forbid(unsafe_code)]

mod args;
mod debugger;
mod demo;
mod progress;
mod run;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use pycoroner::{AnalyzeError, Analysis, LayoutSource, NativeMode, Options};
use pycoroner_report::render;
use pycoroner_process::{CoreError, CoreFile, ElfCore, LiveError, LiveProcess};

use crate::args::{Cli, ColorArg, Command, Common, Format, LayoutSourceArg};

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
    o.locals = common.locals;
    o.tasks = common.tasks.is_some();
    o.state = common.state;
    o.refcounts = common.refcounts;
    o.source = common.source;
    o.native = match (common.native, common.native_all) {
        (_, true) => NativeMode::All,
        (true, false) => NativeMode::Folded,
        _ => NativeMode::Off,
    };
    o.layout_source = match common.layout_source {
        LayoutSourceArg::Auto => LayoutSource::Auto,
        LayoutSourceArg::Dwarf => LayoutSource::Dwarf,
        LayoutSourceArg::DebugOffsets => LayoutSource::DebugOffsets,
        LayoutSourceArg::Builtin => LayoutSource::Builtin,
    };
    o.limits = pycoroner::Limits { depth: common.depth, length: common.length, string: common.length.saturating_mul(10) };
    o
}

fn parse_address(s: &str) -> Result<u64, Failure> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| Failure::bad_input(format!("{s:?} is not an address (use 0x... or decimal)")))
}

impl From<LiveError> for Failure {
    fn from(e: LiveError) -> Self {
        Failure { status: EXIT_BAD_INPUT, message: e.to_string() }
    }
}

/// Whether the text goes out in colour: `--color always`, or `auto` on a terminal
/// unless `NO_COLOR` is set (https://no-color.org).
fn color(common: &Common) -> bool {
    use std::io::IsTerminal;
    match common.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

fn render(report: &pycoroner_report::Report, common: &Common) -> String {
    match common.format {
        Format::Text => render_text(report, common),
        Format::Json => render::json::render(report) + "\n",
    }
}

fn render_text(report: &pycoroner_report::Report, common: &Common) -> String {
    render_text_in(report, common, color(common))
}

fn render_text_in(report: &pycoroner_report::Report, common: &Common, color: bool) -> String {
    render::faulthandler::render_with(report, render::faulthandler::TextOptions { fold: !common.no_fold, color, tasks_table: common.tasks == Some(args::TasksView::Table), state: common.state })
}

/// Test hook of debug builds only (the test suite's): hold the target stopped this long
/// before reading, so a test can kill pycoroner mid-read. A release build has no hook.
#[cfg(debug_assertions)]
fn test_hold() {
    if let Some(ms) = std::env::var("PYCORONER_TEST_HOLD_MS").ok().and_then(|v| v.parse().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

#[cfg(not(debug_assertions))]
fn test_hold() {}

fn run_pid(pid: u32, nonblocking: bool, common: &Common) -> Result<String, Failure> {
    let report = pycoroner::analyze_process(pid, !nonblocking, &options(common), &mut test_hold)?;
    Ok(render(&report, common))
}

fn run_print(args: &[String], pid: Option<u32>, sysroot: Option<std::path::PathBuf>, common: &Common) -> Result<String, Failure> {
    let (type_name, repr, refs, addr) = match (pid, args) {
        (Some(pid), [address]) => {
            let addr = parse_address(address)?;
            let target = LiveProcess::attach(pid, true)?;
            let r = Analysis::open(target, options(common)).and_then(|a| {
                let r = a.object(addr).and_then(|o| Ok((o, a.refcount(addr)?)));
                a.target().resume();
                r
            });
            let ((t, s), refs) = r?;
            (t, s, refs, addr)
        }
        (None, [core, address]) => {
            let addr = parse_address(address)?;
            let mut target = CoreFile::open(std::path::Path::new(core))?;
            target.set_sysroot(sysroot);
            let a = Analysis::open(target, options(common))?;
            let (t, s) = a.object(addr)?;
            (t, s, a.refcount(addr)?, addr)
        }
        (Some(_), _) => return Err(Failure::bad_input("with --pid, give only the ADDRESS")),
        (None, _) => return Err(Failure::bad_input("give CORE ADDRESS, or --pid PID ADDRESS")),
    };
    Ok(match common.format {
        Format::Text => {
            let note = if common.refcounts { render::faulthandler::refcount_note(refs.map(|(n, _)| n), refs.is_some_and(|(_, i)| i)) } else { String::new() };
            format!("{}{note}\n", pycoroner_report::escape::text(&repr))
        }
        Format::Json => {
            serde_json::json!({"address": addr, "type": type_name, "repr": repr, "refcount": refs.map(|(n, _)| n), "immortal": refs.is_some_and(|(_, i)| i)}).to_string() + "\n"
        }
    })
}

/// What `pycoroner heap` shows: types listed, largest objects, untracked objects.
#[derive(Clone, Copy)]
struct HeapView {
    top: usize,
    largest: usize,
    untracked: bool,
}

/// `pycoroner heap`: the census of a core or a stopped process.
fn run_heap(core: Option<std::path::PathBuf>, pid: Option<(u32, bool)>, view: HeapView, sysroot: Option<std::path::PathBuf>, common: &Common) -> Result<String, Failure> {
    let HeapView { top, largest, untracked } = view;
    let mut opts = options(common);
    opts.heap = true;
    opts.largest = largest;
    opts.untracked = untracked;
    let report = match (pid, core) {
        (Some((pid, stop)), _) => pycoroner::analyze_process(pid, stop, &opts, &mut test_hold)?,
        (None, Some(core)) => {
            let mut target = CoreFile::open(&core)?;
            target.set_sysroot(sysroot);
            let mut report = Analysis::open(target, opts).and_then(Analysis::into_report)?;
            report.target.path = Some(core.display().to_string());
            report
        }
        (None, None) => return Err(Failure::bad_input("give CORE, or --pid PID")),
    };
    Ok(match common.format {
        Format::Text => render::heap::render(&report, top),
        Format::Json => render::json::render(&report) + "\n",
    })
}

/// Largest census JSON file read.
const MAX_CENSUS_JSON: u64 = 256 << 20;

/// A census from a core, or from the JSON `heap --format json` wrote.
fn census_of(path: &std::path::Path, sysroot: Option<std::path::PathBuf>, untracked: bool, common: &Common) -> Result<pycoroner_report::Report, Failure> {
    // A regular file only (no FIFO or device), its size known before it is read.
    let opened = pycoroner_process::files::open_regular(path, pycoroner_process::files::MAX_FILE).map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
    let head = {
        use std::io::Read as _;
        let mut buf = [0u8; 64];
        let n = (&opened.file).read(&mut buf).map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
        buf.get(..n).unwrap_or_default().to_vec()
    };
    if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        // A census is a few MiB at most; a larger "JSON" file is not one.
        if opened.len > MAX_CENSUS_JSON {
            return Err(Failure::bad_input(format!("{}: {} bytes is too large for a census file", path.display(), opened.len)));
        }
        let text = {
            use std::io::{Read as _, Seek as _};
            let mut text = Vec::new();
            let mut f = &opened.file;
            f.rewind().and_then(|()| f.take(MAX_CENSUS_JSON).read_to_end(&mut text)).map_err(|e| Failure::bad_input(format!("cannot read {}: {e}", path.display())))?;
            text
        };
        let report: pycoroner_report::Report = serde_json::from_slice(&text).map_err(|e| Failure::bad_input(format!("{}: not a census pycoroner heap --format json wrote ({e})", path.display())))?;
        if report.heap.is_empty() {
            return Err(Failure::bad_input(format!("{}: a report with no census (write one with pycoroner heap CORE --format json)", path.display())));
        }
        return Ok(report);
    }
    let mut opts = options(common);
    opts.heap = true;
    opts.untracked = untracked;
    let mut target = CoreFile::open(path)?;
    target.set_sysroot(sysroot);
    let mut report = Analysis::open(target, opts).and_then(Analysis::into_report)?;
    report.target.path = Some(path.display().to_string());
    Ok(report)
}

/// The main interpreter's census of a report (else its first).
fn main_census(report: &pycoroner_report::Report) -> Option<&pycoroner_report::heap::Heap> {
    report.heap.iter().find(|h| h.interpreter_id == Some(0)).or(report.heap.first())
}

/// `pycoroner heap --pid PID --every D --count N`: N censuses D apart (the process
/// stopped only while each is taken), then what grew from the first to the last.
fn run_heap_samples(pid: u32, stop: bool, every: std::time::Duration, count: usize, view: HeapView, common: &Common) -> Result<String, Failure> {
    let HeapView { top, untracked, .. } = view;
    if count < 2 {
        return Err(Failure::bad_input("--count must be at least 2: growth needs two censuses"));
    }
    let mut opts = options(common);
    opts.heap = true;
    opts.untracked = untracked;
    let start = std::time::Instant::now();
    let mut samples: Vec<(String, pycoroner_report::Report)> = Vec::new();
    let mut out = String::new();
    for i in 0..count {
        if i > 0 {
            std::thread::sleep(every);
        }
        let report = pycoroner::analyze_process(pid, stop, &opts, &mut test_hold)?;
        let at = format!("sample {} at +{:.1} s", i + 1, start.elapsed().as_secs_f64());
        if let Some(h) = main_census(&report) {
            out.push_str(&format!("{at}: {} objects, {}\n", h.objects, render::heap::bytes(h.size)));
        }
        samples.push((at, report));
    }
    let (Some((a, first)), Some((b, last))) = (samples.first(), samples.last()) else { return Err(Failure::bad_input("no census taken")) };
    let (Some(ha), Some(hb)) = (main_census(first), main_census(last)) else {
        return Err(Failure::bad_input(format!("no census of process {pid}: see pycoroner heap --pid {pid}")));
    };
    let d = pycoroner_report::heap::HeapDiff::between((a, ha), (b, hb));
    Ok(match common.format {
        Format::Text => {
            out.push('\n');
            render::heap::diff(&mut out, &d, top);
            out
        }
        Format::Json => {
            let mut last = last.clone();
            last.heap_diff = Some(d);
            render::json::render(&last) + "\n"
        }
    })
}

/// `pycoroner referrers`: who refers to the object at an address, up to the roots.
fn run_referrers(args: &[String], pid: Option<u32>, depth: usize, sysroot: Option<std::path::PathBuf>, common: &Common) -> Result<String, Failure> {
    let mut opts = options(common);
    let report = match (pid, args) {
        (Some(pid), [address]) => {
            opts.referrers = Some((parse_address(address)?, depth));
            pycoroner::analyze_process(pid, true, &opts, &mut test_hold)?
        }
        (None, [core, address]) => {
            opts.referrers = Some((parse_address(address)?, depth));
            let mut target = CoreFile::open(std::path::Path::new(core))?;
            target.set_sysroot(sysroot);
            let mut report = Analysis::open(target, opts).and_then(Analysis::into_report)?;
            report.target.path = Some(core.clone());
            report
        }
        (Some(_), _) => return Err(Failure::bad_input("with --pid, give only the ADDRESS")),
        (None, _) => return Err(Failure::bad_input("give CORE ADDRESS, or --pid PID ADDRESS")),
    };
    let Some(r) = &report.referrers else {
        let why: Vec<String> = report.warnings.iter().map(|w| w.message.clone()).collect();
        return Err(Failure::bad_input(format!("cannot search the referrers: {}", why.join("; "))));
    };
    Ok(match common.format {
        Format::Text => {
            let mut out = String::new();
            render::heap::referrers(&mut out, r);
            out
        }
        Format::Json => render::json::render(&report) + "\n",
    })
}

/// `pycoroner heap --diff A B`.
fn run_heap_diff(files: &[std::path::PathBuf], view: HeapView, sysroot: Option<std::path::PathBuf>, common: &Common) -> Result<String, Failure> {
    let HeapView { top, untracked, .. } = view;
    let [a, b] = files else { return Err(Failure::bad_input("--diff takes two files: A B")) };
    let before = census_of(a, sysroot.clone(), untracked, common)?;
    let mut after = census_of(b, sysroot, untracked, common)?;
    let (Some(ha), Some(hb)) = (main_census(&before), main_census(&after)) else {
        return Err(Failure::bad_input("no census to compare: see each file's warnings (pycoroner heap FILE)"));
    };
    let d = pycoroner_report::heap::HeapDiff::between((&a.display().to_string(), ha), (&b.display().to_string(), hb));
    Ok(match common.format {
        Format::Text => {
            let mut out = String::new();
            render::heap::diff(&mut out, &d, top);
            for (file, h) in [(a, ha), (b, hb)] {
                if untracked && h.untracked.is_none() {
                    out.push_str(&format!("  (untracked objects not compared: the census in {} did not count them)\n", pycoroner_report::escape::text(&file.display().to_string())));
                }
            }
            out
        }
        Format::Json => {
            after.heap_diff = Some(d);
            render::json::render(&after) + "\n"
        }
    })
}

/// Open a core and analyze it; the text or JSON to print.
pub fn run_core(
    core: &std::path::Path,
    exe: Option<std::path::PathBuf>,
    sysroot: Option<std::path::PathBuf>,
    common: &Common,
) -> Result<String, Failure> {
    let progress = progress::Progress::start(format!(
        "reading {} (a first run reads debug files; later ones use the cache)",
        pycoroner_report::escape::text(&core.display().to_string())
    ));
    let mut target = if core == std::path::Path::new("-") {
        CoreFile::Elf(ElfCore::from_stream(core, std::io::stdin().lock())?)
    } else {
        CoreFile::open(core)?
    };
    target.set_sysroot(sysroot);
    let mut opts = options(common);
    opts.exe = exe;
    let truncated = target.is_truncated();
    let minidump = matches!(target, CoreFile::Minidump(_));
    let native_opts = opts.clone();
    let report = Analysis::open(&target, opts).and_then(Analysis::into_report);
    drop(progress);
    let mut report = report.map_err(|e| {
        let partial = minidump && matches!(e, AnalyzeError::Runtime { .. });
        let mut f = Failure::from(e);
        if partial && common.format == Format::Text {
            // What the dump does hold: each thread's native stack.
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{}", pycoroner::native_stacks_text(&target, &native_opts));
            let _ = stdout.flush();
        }
        if partial {
            // Another writer's minidump: usually the threads' stacks only.
            f.message = format!(
                "{}; Python's frames and objects are in the heap and the interpreter's data, which this minidump's writer did not keep: read a full-memory minidump, or the core, or make one with `pycoroner dump`",
                f.message
            );
        }
        if truncated {
            // What is missing may be exactly what was looked for: not a "no Python" verdict.
            f.status = EXIT_BAD_INPUT;
            f.message = format!("{} (the core file is truncated, so this may be why)", f.message);
        }
        f
    })?;
    report.target.path = Some(core.display().to_string());
    if truncated {
        report.warnings.push(pycoroner::report::Warning::new(pycoroner::report::WarningKind::Target, "the core file is truncated: some memory is missing"));
    }
    Ok(render(&report, common))
}

/// `pycoroner dump`: a slim minidump of a core or a running process, written to a new
/// private file only once it is complete.
fn run_dump(core: Option<std::path::PathBuf>, pid: Option<u32>, output: &std::path::Path, sysroot: Option<std::path::PathBuf>, common: &Common) -> Result<String, Failure> {
    use std::os::unix::fs::OpenOptionsExt;
    let opts = options(common);
    let mut bytes = Vec::new();
    let (dumped, source_len, from) = match (pid, core) {
        (Some(pid), _) => (pycoroner::write_process_dump(pid, &opts, &mut bytes)?, None, format!("process {pid}")),
        (None, Some(core)) => {
            let mut target = CoreFile::open(&core)?;
            target.set_sysroot(sysroot);
            let len = std::fs::metadata(&core).map(|m| m.len()).ok();
            (pycoroner::write_dump(&target, &opts, &mut bytes)?, len, core.display().to_string())
        }
        (None, None) => return Err(Failure::bad_input("give CORE, or --pid PID")),
    };
    // A dump holds the process's memory: private, and never over an existing file or link.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
        .map_err(|e| Failure::bad_input(format!("cannot create {}: {e} (an existing file is not replaced)", output.display())))?;
    if let Err(e) = f.write_all(&bytes).and_then(|()| f.sync_all()) {
        // Not a dump a reader would take for whole.
        let _ = std::fs::remove_file(output);
        return Err(Failure::bad_input(format!("cannot write {}: {e}", output.display())));
    }
    let w = dumped.written;
    let ratio = source_len.filter(|l| *l > 0).map(|l| format!(", {:.2}% of the core", w.bytes as f64 * 100.0 / l as f64)).unwrap_or_default();
    Ok(match common.format {
        Format::Text => format!(
            "wrote {}: {} bytes ({} memory ranges, {} bytes of memory) from {}{ratio}\n",
            pycoroner_report::escape::text(&output.display().to_string()),
            w.bytes,
            w.ranges,
            w.memory,
            pycoroner_report::escape::text(&from)
        ),
        Format::Json => serde_json::json!({"dump": output.display().to_string(), "bytes": w.bytes, "ranges": w.ranges, "memory": w.memory, "source_bytes": source_len, "threads": dumped.report.threads.len()}).to_string() + "\n",
    })
}

/// A `--sysroot` must be a directory: a typo would otherwise silently read nothing.
fn check_sysroot(sysroot: &Option<std::path::PathBuf>) -> Result<(), Failure> {
    match sysroot {
        Some(d) if !d.is_dir() => Err(Failure::bad_input(format!("--sysroot {}: not a directory", d.display()))),
        _ => Ok(()),
    }
}

/// `pycoroner gdb|lldb`: the init line, or the debugger itself (this process becomes it).
fn debug(dbg: debugger::Debugger, init: bool, args: &[std::ffi::OsString]) -> Result<String, Failure> {
    if init {
        return Ok(debugger::init_line(dbg, &debugger::script(dbg)?));
    }
    Err(debugger::exec(dbg, args))
}

fn run(cli: Cli) -> Result<String, Failure> {
    if let Command::Core { sysroot, .. } | Command::Print { sysroot, .. } | Command::Heap { sysroot, .. } | Command::Referrers { sysroot, .. } | Command::Dump { sysroot, .. } = &cli.command {
        check_sysroot(sysroot)?;
    }
    match cli.command {
        Command::Core { core, exe_arg, exe, sysroot, common } => run_core(&core, exe.or(exe_arg), sysroot, &common),
        Command::Demo { python, keep, common } => demo::run(python, keep, &common),
        Command::Dump { core, pid, output, sysroot, common } => run_dump(core, pid, &output, sysroot, &common),
        Command::Print { args, pid, sysroot, common } => run_print(&args, pid, sysroot, &common),
        Command::Referrers { args, pid, levels, sysroot, common } => run_referrers(&args, pid, levels, sysroot, &common),
        Command::Heap { diff: Some(files), top, largest, untracked, sysroot, common, .. } => run_heap_diff(&files, HeapView { top, largest, untracked }, sysroot, &common),
        Command::Heap { pid: Some(pid), every: Some(every), count, top, largest, untracked, nonblocking, common, .. } => {
            run_heap_samples(pid, !nonblocking, every, count, HeapView { top, largest, untracked }, &common)
        }
        Command::Heap { core, pid, top, largest, untracked, nonblocking, sysroot, common, .. } => run_heap(core, pid.map(|p| (p, !nonblocking)), HeapView { top, largest, untracked }, sysroot, &common),
        Command::Pid { pid, nonblocking, common } => run_pid(pid, nonblocking, &common),
        Command::Run { .. } => Err(Failure::bad_input("`run` is handled before")),
        Command::Gdb { init, args } => debug(debugger::Debugger::Gdb, init, &args),
        Command::Lldb { init, args } => debug(debugger::Debugger::Lldb, init, &args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "pycoroner", &mut out);
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(|e| Failure::bad_input(format!("cannot render the man page: {e}")))?;
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Command::Layouts { binary, version, debug_dirs } => {
            let opts = Options { debug_dirs, ..Options::default() };
            let layout = pycoroner::layout_of_binary(&binary, version.as_deref(), &opts)?;
            Ok(serde_json::to_string_pretty(&layout).unwrap_or_default() + "\n")
        }
    }
}

/// The `kind` a JSON error names for an exit status.
fn error_kind(status: u8) -> &'static str {
    match status {
        EXIT_NO_PYTHON => "no-python",
        _ => "bad-input",
    }
}

fn main() -> ExitCode {
    pycoroner_process::files::install_sigbus_handler();
    let cli = Cli::parse();
    if let Command::Run { timeout, kill_after, dump_on, report_dir, require_trace, common, command } = cli.command {
        let options = pycoroner_process::tracer::RunOptions { timeout, kill_after, dump_on, require_trace };
        return match run::run(run::RunArgs { command, options, report_dir }, &common) {
            Ok(status) => ExitCode::from(status),
            Err(f) => {
                eprintln!("pycoroner run: {}", f.message);
                ExitCode::from(f.status)
            }
        };
    }
    let json = match &cli.command {
        Command::Core { common, .. }
        | Command::Pid { common, .. }
        | Command::Print { common, .. }
        | Command::Heap { common, .. }
        | Command::Referrers { common, .. }
        | Command::Dump { common, .. }
        | Command::Demo { common, .. } => {
            common.format == Format::Json
        }
        Command::Layouts { .. } | Command::Gdb { .. } | Command::Lldb { .. } | Command::Completions { .. } | Command::Man | Command::Run { .. } => false,
    };
    match run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush());
            ExitCode::SUCCESS
        }
        // With --format json the error is JSON too, on stdout, for the tool reading it.
        Err(f) if json => {
            let error = serde_json::json!({
                "schema": pycoroner_report::SCHEMA,
                "error": {"kind": error_kind(f.status), "message": f.message, "exit_status": f.status},
            });
            println!("{error}");
            ExitCode::from(f.status)
        }
        Err(f) => {
            eprintln!("pycoroner: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}
