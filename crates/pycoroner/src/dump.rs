//! Slim minidumps: the memory one full analysis read (every thread's Python stack,
//! locals, native frames and the interpreter's state), each thread's registers and used
//! stack, the module list with build-ids, and the layout the analysis resolved, so that
//! `pycoroner core FILE.dmp` on another machine gives the same report with no binary.

use pycoroner_process::minidump::{self, DumpModule, Recorder, Written, PYTHON_STREAM};
use pycoroner_process::{LiveProcess, Target};
use pycoroner_report::{Report, Warning, WarningKind};

use crate::error::AnalyzeError;
use crate::locate_python::DumpPython;
use crate::options::{NativeMode, Options};

/// A dump written, and the report of the analysis whose reads it holds.
#[derive(Debug)]
pub struct Dumped {
    /// The report, as the caller's options ask for it (the dump holds every thread's
    /// values and native frames whatever they ask).
    pub report: Report,
    /// What the dump holds.
    pub written: Written,
}

/// The options a dump is made with: whatever the caller asked, plus the values of every
/// thread and native frames, so that `pycoroner core FILE.dmp --locals --native` reads
/// them (the full `--state` only when asked: it reads much more and holds a live
/// process longer).
fn dump_options(options: &Options) -> Options {
    let mut o = options.clone();
    o.locals = true;
    o.locals_crashed_only = false;
    if o.native == NativeMode::Off {
        o.native = NativeMode::Folded;
    }
    o
}

/// Analyze `target` and write a slim minidump of what the analysis read to `out`.
pub fn write_dump(target: &dyn Target, options: &Options, out: &mut dyn std::io::Write) -> Result<Dumped, AnalyzeError> {
    write_dump_then(target, options, out, &mut |_| {})
}

/// [`write_dump`], calling `report_ready` with the report as soon as it is made, before
/// the dump is assembled (`pycoroner run` prints it at once).
pub fn write_dump_then(target: &dyn Target, options: &Options, out: &mut dyn std::io::Write, report_ready: &mut dyn FnMut(&Report)) -> Result<Dumped, AnalyzeError> {
    let rec = Recorder::new(target);
    let opts = dump_options(options);
    let prepared = crate::prepare(&rec, &opts)?;
    let mut report = crate::analyze_prepared(&rec, &prepared, &opts)?;
    restrict(&mut report, options);
    report_ready(&report);
    finish(&rec, &prepared, report, out)
}

/// The report as the caller's options ask for it: the dump reads every thread's values,
/// the report shows them as `--locals` (and a crash report's crashed-thread-only) say:
/// a thread whose values are not shown has no locals, no exceptions, and no warnings
/// about reading them, as when they are not read.
fn restrict(report: &mut Report, options: &Options) {
    let mut hidden = std::collections::BTreeSet::new();
    for t in report.threads.iter_mut().filter(|t| !options.shows_values(t.current)) {
        for f in &mut t.frames {
            if let pycoroner_report::Frame::Python(p) = f {
                p.locals = None;
            }
        }
        t.exceptions.clear();
        hidden.insert(t.thread_id);
    }
    report.warnings.retain(|w| !(w.kind == WarningKind::Values && w.thread.is_some_and(|id| hidden.contains(&id))));
}

/// A live process: prepared while it runs, stopped while it is read and its dump
/// written, then resumed (the guard resumes it on every path).
pub fn write_process_dump(pid: u32, options: &Options, out: &mut dyn std::io::Write) -> Result<Dumped, AnalyzeError> {
    let mut live = LiveProcess::attach(pid, false)?;
    let opts = dump_options(options);
    // Found while it runs; what the dump needs is read again once it is stopped.
    let prepared = crate::prepare(&live, &opts)?;
    live.stop()?;
    let result = {
        let rec = Recorder::new(&live);
        crate::analyze_prepared(&rec, &prepared, &opts).and_then(|mut report| {
            restrict(&mut report, options);
            finish(&rec, &prepared, report, out)
        })
    };
    let paused = live.resume();
    let mut d = result?;
    d.report.target.paused_ms = paused.map(|p| p.as_secs_f64() * 1000.0);
    Ok(d)
}

fn finish<T: Target>(rec: &Recorder<T>, prepared: &crate::Prepared, mut report: Report, out: &mut dyn std::io::Write) -> Result<Dumped, AnalyzeError> {
    let modules = pycoroner_debuginfo::modules_of(rec, &rec.mappings());
    let found = &prepared.found;
    let mut extra = Vec::new();
    match modules.iter().find(|m| m.path == found.module_path).and_then(|m| m.build_id.as_deref()) {
        Some(id) => {
            let entry = crate::cache::Entry::of(found);
            let python = DumpPython { module: found.module_path.clone(), build_id: pycoroner_debuginfo::hex(id), entry };
            let json = serde_json::to_vec(&python).map_err(|e| AnalyzeError::Runtime { module: found.module_path.clone(), what: e.to_string() })?;
            extra.push((PYTHON_STREAM, json));
        }
        None => report.warnings.push(Warning::new(
            WarningKind::Layout,
            format!("{} has no build-id: the dump cannot carry its layout, and reading it again needs the binary", found.module_path),
        )),
    }
    let dump_modules: Vec<DumpModule> =
        // A module starts where its ELF header is mapped (a reader finds its load bias
        // there), even if the same file is also mapped lower.
        modules.iter().map(|m| DumpModule { start: m.head, end: m.end, path: m.path.clone(), build_id: m.build_id.clone() }).collect();
    let written = minidump::write(out, rec.inner(), rec.blocks(), &dump_modules, &extra).map_err(|e| AnalyzeError::Output(format!("cannot write the minidump: {e}")))?;
    Ok(Dumped { report, written })
}
