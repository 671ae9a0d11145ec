//! Mixed stacks: a thread's native frames with the Python frames spliced in at the
//! eval-loop frames that ran them. Each C-level call of `_PyEval_EvalFrameDefault`
//! runs one run of Python frames: one frame ≤3.10; up to the `is_entry` frame in 3.11;
//! up to the frame above a C-stack shim in 3.12+ (the `entry` flag of each frame).
//! Each eval call keeps something on its own C stack (3.12+: a shim frame; 3.10–3.11:
//! its `_PyCFrame`), so a run is matched to the eval frame whose stack holds it; on
//! 3.6–3.9 runs and eval frames are matched newest first.

use pycoroner_cpython::PyFrame;
use pycoroner_debuginfo::native::{Native, RawFrame, Trust};
use pycoroner_report::{Frame, NativeFrame, Unwind};

use crate::options::NativeMode;

/// The function that runs Python frames, in every version 3.6+.
pub const EVAL: &str = "_PyEval_EvalFrameDefault";

/// The interpreter's call machinery (3.6–3.15): how one Python-level call reaches the
/// next eval loop. Folded away by `--native` when in the runtime's own module;
/// builtins that call back into Python (`listsort`, `map_next`, ...) stay.
const CALL_MACHINERY: &[&str] = &[
    "_PyEval_", "PyEval_EvalCode", "_PyFunction_", "function_code_fastcall", "_PyObject_Call", "_PyObject_FastCall",
    "_PyObject_MakeTpCall", "_PyObject_Vectorcall", "PyObject_Call", "PyObject_Vectorcall", "_PyVectorcall_",
    "PyVectorcall_", "_PyCFunction_", "PyCFunction_Call", "cfunction_", "method_vectorcall", "_PyMethodDef_Raw",
    "call_function", "fast_function", "do_call_core", "slot_tp_call", "vectorcall_", "_Py_Call", "object_vacall",
    "_PyObject_VectorcallTstate", "_PyEval_Vector", "PyObject_CallOneArg", "_PyObject_CallNoArgs",
    "PyObject_CallFunctionObjArgs", "_PyObject_FastCallDictTstate", "partial_vectorcall", "partial_call",
];

/// Build the mixed frame list. `python` is newest first with `entry` marks (and each
/// entry frame's C-stack address where known); `py_frame` renders one of them, or
/// leaves it out (`None`). Returns the frames, how many at its end are Python frames
/// no eval frame claimed, and a warning if the eval frames and runs do not match.
pub fn splice(
    native: &Native,
    raw: &[RawFrame],
    python: &[PyFrame],
    py_frame: impl Fn(&PyFrame) -> Option<Frame>,
    runtime_module: &str,
    mode: NativeMode,
) -> (Vec<Frame>, usize, Option<String>) {
    let mut natives: Vec<NativeFrame> = Vec::new();
    // The stack each native frame's locals live in: from its stack pointer up to its
    // caller's.
    let mut stacks: Vec<Option<std::ops::Range<u64>>> = Vec::new();
    for (k, f) in raw.iter().enumerate() {
        let stack = raw.get(k + 1).filter(|c| c.sp > f.sp && !c.signal_frame && !f.signal_frame).map(|c| f.sp..c.sp);
        for s in native.symbolize(f) {
            stacks.push(stack.clone());
            natives.push(NativeFrame {
                pc: f.pc,
                function: s.function,
                module: native.module_name(f.pc).map(str::to_string),
                file: s.file,
                line: s.line,
                inlined: s.inlined,
                unwind: Some(match f.trust {
                    Trust::Context => Unwind::Context,
                    Trust::Cfi => Unwind::Cfi,
                    Trust::FramePointer => Unwind::FramePointer,
                    Trust::Signal => Unwind::Signal,
                }),
            });
        }
        // Functions that tail-called on the way to this one (gdb's tail-call frames):
        // each at its jump's return address, named by the innermost function there.
        // Only where every frame is asked for: building them reads DWARF call sites
        // (the folded view keeps its cold start cheap).
        let Some(caller) = raw.get(k + 1).filter(|_| mode == NativeMode::All) else { continue };
        for pc in native.tail_calls(f, caller) {
            let site = RawFrame { pc, is_return: true, trust: Trust::Cfi, signal_frame: false, sp: f.sp };
            let s = native.symbolize(&site).into_iter().next().unwrap_or(pycoroner_debuginfo::native::Symbol { function: None, file: None, line: None, inlined: false });
            natives.push(NativeFrame {
                pc,
                function: s.function,
                module: native.module_name(pc).map(str::to_string),
                file: s.file,
                line: s.line,
                inlined: false,
                unwind: Some(Unwind::TailCall),
            });
            stacks.push(None);
        }
    }
    let frames: Vec<RunFrame> = python.iter().map(|f| RunFrame { entry: f.entry, c_stack: f.c_stack.map(|a| a.0) }).collect();
    let plan = plan_at(&natives, &stacks, &frames, runtime_module, mode);
    let mut out = Vec::new();
    for (step, n) in plan.steps.iter().zip(natives) {
        match step {
            Step::Native => out.push(Frame::Native(n)),
            Step::Fold => {}
            Step::Eval(run) => {
                out.extend(run.iter().filter_map(|&i| python.get(i)).filter_map(&py_frame));
                if mode == NativeMode::All {
                    out.push(Frame::Native(n));
                }
            }
        }
    }
    let claimed = out.len();
    out.extend(plan.unclaimed.iter().filter_map(|&i| python.get(i)).filter_map(&py_frame));
    let unclaimed = out.len().saturating_sub(claimed);
    (out, unclaimed, plan.warning)
}

pub use pycoroner_report::render::gdb::{Plan, Step};

/// Decide, for native frames symbolized by anyone (our unwinder or a debugger's), which
/// eval-loop frame ran which Python frames, and which frames are call machinery.
/// `entries` has one flag per Python frame, newest first: whether it is the oldest
/// frame of its C-level eval call.
pub fn plan(natives: &[NativeFrame], entries: &[bool], runtime_module: &str, mode: NativeMode) -> Plan {
    let frames: Vec<RunFrame> = entries.iter().map(|&entry| RunFrame { entry, c_stack: None }).collect();
    plan_at(natives, &[], &frames, runtime_module, mode)
}

/// What the splice needs of one Python frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunFrame {
    /// The oldest frame of its C-level eval call.
    pub entry: bool,
    /// For an entry frame: an address on the C stack of the eval call that ran it.
    pub c_stack: Option<u64>,
}

/// [`plan`], matching runs to eval frames by address where every run has a C-stack
/// address and every eval frame its stack range (`stacks`, one per native frame);
/// by order otherwise.
pub fn plan_at(natives: &[NativeFrame], stacks: &[Option<std::ops::Range<u64>>], frames: &[RunFrame], runtime_module: &str, mode: NativeMode) -> Plan {
    // Runs of Python frames, newest first: a run ends at a frame marked `entry`.
    let mut runs: Vec<(Vec<usize>, Option<u64>)> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        cur.push(i);
        if f.entry {
            runs.push((std::mem::take(&mut cur), f.c_stack));
        }
    }
    if !cur.is_empty() {
        runs.push((cur, None));
    }
    let run_count = runs.len();
    let is_eval = |s: &NativeFrame| !s.inlined && s.function.as_deref() == Some(EVAL);
    let evals: Vec<usize> = natives.iter().enumerate().filter(|(_, s)| is_eval(s)).map(|(i, _)| i).collect();
    // By address: each run to the eval frame whose stack holds its shim.
    let by_address = !runs.is_empty()
        && runs.iter().all(|(_, a)| a.is_some())
        && evals.iter().all(|&i| stacks.get(i).is_some_and(Option::is_some));
    let mut assigned: std::collections::HashMap<usize, Vec<usize>> = std::collections::HashMap::new();
    let mut unclaimed: Vec<usize> = Vec::new();
    if by_address {
        for (run, at) in runs {
            let home = at.and_then(|a| evals.iter().copied().find(|&i| stacks.get(i).and_then(Option::as_ref).is_some_and(|r| r.contains(&a))));
            match home.filter(|h| !assigned.contains_key(h)) {
                Some(h) => {
                    assigned.insert(h, run);
                }
                None => unclaimed.extend(run),
            }
        }
    } else {
        let mut next_run = runs.into_iter().map(|(run, _)| run);
        for &i in &evals {
            if let Some(run) = next_run.next() {
                assigned.insert(i, run);
            }
        }
        unclaimed.extend(next_run.flatten());
    }
    let claimed = assigned.len();
    let warning = (evals.len() != claimed || claimed != run_count).then(|| {
        let how = if by_address { format!(" ({claimed} matched by address)") } else { String::new() };
        format!("{} eval-loop frames but {run_count} runs of Python frames{how}; the splice may be off", evals.len())
    });
    let machinery = |s: &NativeFrame| {
        s.module.as_deref() == Some(runtime_module)
            && s.function.as_deref().is_some_and(|f| CALL_MACHINERY.iter().any(|p| f.starts_with(p)))
    };
    // Indices of eval frames, to fold the call machinery between two of them.
    let between_evals = |i: usize| matches!((evals.first(), evals.last()), (Some(&a), Some(&b)) if a < i && i < b);
    let steps = natives
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if is_eval(s) {
                Step::Eval(assigned.remove(&i).unwrap_or_default())
            } else if mode == NativeMode::Folded && machinery(s) && between_evals(i) {
                Step::Fold
            } else {
                Step::Native
            }
        })
        .collect();
    Plan { steps, unclaimed, warning }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(function: &str) -> NativeFrame {
        NativeFrame { pc: 1, function: Some(function.into()), module: Some("libpython".into()), file: None, line: None, inlined: false, unwind: None }
    }

    /// Runs go to the eval frame whose stack holds their shim, whatever their order; a
    /// shim no eval frame holds leaves its run unclaimed and says so.
    #[test]
    fn runs_are_matched_to_eval_frames_by_address() {
        let natives = [native("leaf"), native(EVAL), native("call"), native(EVAL), native("main")];
        let stacks = [Some(0x100..0x200), Some(0x200..0x300), Some(0x300..0x400), Some(0x400..0x500), None];
        // Newest first, but the older run's shim is given first to show address wins.
        let frames = [
            RunFrame { entry: true, c_stack: Some(0x480) },
            RunFrame { entry: false, c_stack: None },
            RunFrame { entry: true, c_stack: Some(0x280) },
        ];
        let p = plan_at(&natives, &stacks, &frames, "libpython", NativeMode::All);
        assert_eq!(p.steps, vec![Step::Native, Step::Eval(vec![1, 2]), Step::Native, Step::Eval(vec![0]), Step::Native]);
        assert!(p.unclaimed.is_empty() && p.warning.is_none(), "{p:?}");

        let lost = [RunFrame { entry: true, c_stack: Some(0x900) }];
        let p = plan_at(&natives, &stacks, &lost, "libpython", NativeMode::All);
        assert_eq!(p.unclaimed, vec![0]);
        assert!(p.warning.as_deref().is_some_and(|w| w.contains("0 matched by address")), "{p:?}");

        // Without addresses, newest first.
        let p = plan(&natives, &[true, false, true], "libpython", NativeMode::All);
        assert_eq!(p.steps, vec![Step::Native, Step::Eval(vec![0]), Step::Native, Step::Eval(vec![1, 2]), Step::Native]);
    }
}
