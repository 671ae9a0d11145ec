//! `--tasks`: asyncio's tasks of every interpreter, attached to the thread running
//! their event loop (or listed as an idle loop of the interpreter).

use pycoroner_cpython::asyncio::{AsyncioDebugOffsets, AwaitFrame, GenKind, GenTypes, LoopTasks, Statics, TaskInfo, TaskReader, TaskState, WaitKind, ASYNCIO_DEBUG_SIZE};
use pycoroner_cpython::models::TaskRegistry;
use pycoroner_cpython::repr::Renderer;
use pycoroner_cpython::snapshot::Snapshot;
use pycoroner_cpython::{Python, ThreadState};
use pycoroner_debuginfo::{modules_of, open_module_image};
use pycoroner_process::{RemoteAddr, Target};
use pycoroner_report as report;
use pycoroner_report::{Interpreter, Thread, Warning, WarningKind};

use std::collections::HashMap;

use crate::locate_python::FoundPython;

/// Read every interpreter's tasks into the report.
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_tasks(
    target: &dyn Target,
    py: &Python<'_>,
    found: &FoundPython,
    renderer: &Renderer<'_>,
    snapshot: &Snapshot,
    interpreters: &mut [Interpreter],
    threads: &mut [Thread],
    warnings: &mut Vec<Warning>,
) {
    let statics = if py.models().tasks == TaskRegistry::ClassSets { statics_of_asyncio(target, warnings) } else { Statics::default() };
    let types = GenTypes::from_symbols(|s| found.symbol(s));
    let mut reader = TaskReader::new(py, renderer, types, found.symbol("PyCell_Type").map(RemoteAddr), found.version.minor).with_pid(target.pid());
    if py.models().tasks == TaskRegistry::ThreadLists {
        match asyncio_debug_offsets(target, found) {
            Ok(Some(d)) => {
                if let Some(w) = reader.use_debug_offsets(&d) {
                    warnings.push(Warning::new(WarningKind::Tasks, w));
                }
            }
            Ok(None) => {}
            Err(why) => warnings.push(Warning::new(WarningKind::Tasks, format!("{why}: the task lists are read with the built-in layout"))),
        }
    }
    for (interp, report) in snapshot.interpreters.iter().zip(interpreters.iter_mut()) {
        let (Some(modules), _) = py.sys_dicts(&interp.state) else { continue };
        let states: Vec<ThreadState> = interp.threads.iter().map(|t| t.state).collect();
        let tasks = reader.read(modules, interp.state.addr, &states, statics);
        warnings.extend(tasks.warnings.into_iter().map(|w| Warning::new(WarningKind::Tasks, w)));
        for l in &tasks.loops {
            let ev = event_loop(renderer, l);
            let runner = l.thread_id.and_then(|tid| threads.iter_mut().find(|t| t.thread_id == tid && t.interpreter_id == interp.state.id && t.event_loop.is_none()));
            match runner {
                Some(t) => t.event_loop = Some(ev),
                None => report.idle_loops.push(ev),
            }
        }
    }
}

/// 3.14+: the target's own `_Py_AsyncioModuleDebugOffsets`, from the `.AsyncioDebug`
/// section of the `_asyncio` module it mapped (or of the interpreter, where `_asyncio`
/// is built in), read from the target's memory. `Ok(None)` when `_asyncio` is not
/// loaded (no task can exist).
fn asyncio_debug_offsets(target: &dyn Target, found: &FoundPython) -> Result<Option<AsyncioDebugOffsets>, String> {
    let mappings = target.mappings();
    let modules = modules_of(target, &mappings);
    let candidates = modules.iter().filter(|m| m.file_name().starts_with("_asyncio") || m.path == found.module_path);
    let mut last = None;
    for m in candidates {
        let img = match open_module_image(target, m) {
            Ok(img) => img,
            Err(why) => {
                last = Some(why);
                continue;
            }
        };
        let Some((svma, size)) = img.section(".AsyncioDebug") else { continue };
        if size < ASYNCIO_DEBUG_SIZE as u64 {
            return Err(format!("{}'s .AsyncioDebug section is {size} bytes", m.path));
        }
        let mut bytes = [0u8; ASYNCIO_DEBUG_SIZE];
        let at = RemoteAddr(svma.wrapping_add(m.bias));
        if target.read_exact(at, &mut bytes).is_err() {
            // A core may lack the page: the file holds the same constants.
            let b = img.read_static(svma, ASYNCIO_DEBUG_SIZE).ok_or_else(|| format!("cannot read {}'s .AsyncioDebug", m.path))?;
            bytes.copy_from_slice(b);
        }
        return AsyncioDebugOffsets::decode(&bytes).map(Some).map_err(|e| format!("{}: {e}", m.path));
    }
    match last {
        Some(why) => Err(why),
        None => Ok(None),
    }
}

/// 3.6: `_asyncio`'s static `all_tasks` and `current_tasks`, from the symbol table of
/// the `_asyncio` module the target mapped (used only when it is that very file).
fn statics_of_asyncio(target: &dyn Target, warnings: &mut Vec<Warning>) -> Statics {
    let mappings = target.mappings();
    let modules = modules_of(target, &mappings);
    let Some(m) = modules.iter().find(|m| m.file_name().starts_with("_asyncio")) else { return Statics::default() };
    match open_module_image(target, m) {
        Ok(img) => {
            let at = |name: &str| img.symbol(name).map(|(svma, _)| RemoteAddr(svma.wrapping_add(m.bias)));
            Statics { all_tasks: at("all_tasks"), current_tasks: at("current_tasks") }
        }
        Err(why) => {
            warnings.push(Warning::new(WarningKind::File, format!("{why}: the C tasks of 3.6, which only _asyncio's symbol table leads to, are not listed")));
            Statics::default()
        }
    }
}

fn event_loop(r: &Renderer<'_>, l: &LoopTasks) -> report::EventLoop {
    let names: HashMap<RemoteAddr, Option<String>> = l.tasks.iter().map(|t| (t.addr, t.name.clone())).collect();
    let tasks: Vec<report::Task> = l.tasks.iter().map(|t| task(r, t, &names)).collect();
    let cycles = report::tasks::await_cycles(&tasks);
    report::EventLoop { address: l.loop_.0, tasks, cycles }
}

fn task(r: &Renderer<'_>, t: &TaskInfo, names: &HashMap<RemoteAddr, Option<String>>) -> report::Task {
    let name_of = |a: RemoteAddr| names.get(&a).cloned().flatten();
    report::Task {
        address: t.addr.0,
        name: t.name.clone(),
        state: match t.state {
            TaskState::Pending => report::TaskState::Pending,
            TaskState::Cancelled => report::TaskState::Cancelled,
            TaskState::Finished => report::TaskState::Finished,
        },
        running: t.running,
        native: t.native,
        coroutine_stack: t.chain.iter().map(coroutine_frame).collect(),
        coroutine_stack_error: t.chain_error.as_ref().map(|e| e.to_string()),
        waits_on: t.waiting.as_ref().map(|w| report::TaskWait {
            kind: match w.kind {
                WaitKind::Task => report::WaitKind::Task,
                WaitKind::Gather => report::WaitKind::Gather,
                WaitKind::TaskGroup => report::WaitKind::TaskGroup,
                WaitKind::Sleep => report::WaitKind::Sleep,
                WaitKind::Future => report::WaitKind::Future,
            },
            address: w.object.0,
            description: match w.kind {
                WaitKind::Task => name_of(w.object).unwrap_or_else(|| format!("Task at {}", w.object)),
                _ => w.summary.clone(),
            },
            tasks: w.tasks.iter().map(|a| a.0).collect(),
        }),
        awaited_by: t.awaited_by.iter().map(|a| a.0).collect(),
        outcome: t.outcome.map(|o| r.repr(o)),
        callbacks: t.callbacks,
    }
}

fn coroutine_frame(f: &AwaitFrame) -> report::CoroutineFrame {
    let info = f.frame.as_ref().ok().and_then(|fr| fr.info.as_ref().ok());
    report::CoroutineFrame {
        kind: match f.kind {
            GenKind::Coroutine => report::AwaitableKind::Coroutine,
            GenKind::Generator => report::AwaitableKind::Generator,
            GenKind::AsyncGenerator => report::AwaitableKind::AsyncGenerator,
        },
        function: info.and_then(|i| i.name.as_ref().ok().cloned()),
        qualname: info.and_then(|i| i.qualname.clone()),
        file: info.and_then(|i| i.filename.as_ref().ok().cloned()),
        line: f.frame.as_ref().ok().and_then(|fr| fr.line).and_then(|l| u32::try_from(l).ok()),
        address: f.object.0,
        frame_address: f.frame.as_ref().ok().map(|fr| fr.addr.0),
        executing: f.executing,
    }
}
