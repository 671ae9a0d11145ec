//! Mixed stacks: a thread's native frames with the Python frames spliced in at the
//! eval-loop frames that ran them. Each C-level call of `_PyEval_EvalFrameDefault`
//! runs one run of Python frames: one frame ≤3.10; up to the `is_entry` frame in 3.11;
//! up to the frame above a C-stack shim in 3.12+ (the `entry` flag of each frame).
//! Runs and eval frames are matched newest first.

use pycoroner_cpython::PyFrame;
use pycoroner_debuginfo::native::{Native, RawFrame, Trust};
use pycoroner_report::{Frame, NativeFrame, Unwind};

use crate::options::NativeMode;

/// The function that runs Python frames, in every version 3.6+.
const EVAL: &str = "_PyEval_EvalFrameDefault";

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

/// Build the mixed frame list. `python` is newest first with `entry` marks; `py_frame`
/// renders one of them. Returns the frames and a warning if the counts disagree.
pub fn splice(
    native: &Native,
    raw: &[RawFrame],
    python: &[PyFrame],
    py_frame: impl Fn(&PyFrame) -> Frame,
    runtime_module: &str,
    mode: NativeMode,
) -> (Vec<Frame>, Option<String>) {
    let mut natives: Vec<NativeFrame> = Vec::new();
    for (k, f) in raw.iter().enumerate() {
        for s in native.symbolize(f) {
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
        }
    }
    let entries: Vec<bool> = python.iter().map(|f| f.entry).collect();
    let plan = plan(&natives, &entries, runtime_module, mode);
    let mut out = Vec::new();
    for (step, n) in plan.steps.iter().zip(natives) {
        match step {
            Step::Native => out.push(Frame::Native(n)),
            Step::Fold => {}
            Step::Eval(run) => {
                out.extend(run.iter().filter_map(|&i| python.get(i)).map(&py_frame));
                if mode == NativeMode::All {
                    out.push(Frame::Native(n));
                }
            }
        }
    }
    out.extend(plan.unclaimed.iter().filter_map(|&i| python.get(i)).map(&py_frame));
    (out, plan.warning)
}

/// What becomes of one native frame in a mixed stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Shown as it is.
    Native,
    /// Interpreter call machinery between two eval loops, folded by `--native`.
    Fold,
    /// An eval-loop frame: it ran these Python frames (indices, newest first).
    Eval(Vec<usize>),
}

/// How a thread's native frames and Python frames interleave.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One step per native frame, in order.
    pub steps: Vec<Step>,
    /// Python frames no eval frame claimed (the native stack ended too early).
    pub unclaimed: Vec<usize>,
    /// Set when the counts of eval frames and runs of Python frames disagree.
    pub warning: Option<String>,
}

/// Decide, for native frames symbolized by anyone (our unwinder or a debugger's), which
/// eval-loop frame ran which Python frames, and which frames are call machinery.
/// `entries` has one flag per Python frame, newest first: whether it is the oldest
/// frame of its C-level eval call.
pub fn plan(natives: &[NativeFrame], entries: &[bool], runtime_module: &str, mode: NativeMode) -> Plan {
    // Runs of Python frames, newest first: a run ends at a frame marked `entry`.
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for (i, &entry) in entries.iter().enumerate() {
        cur.push(i);
        if entry {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    let is_eval = |s: &NativeFrame| !s.inlined && s.function.as_deref() == Some(EVAL);
    let evals = natives.iter().filter(|s| is_eval(s)).count();
    let warning = (evals != runs.len()).then(|| {
        format!("{} eval-loop frames but {} runs of Python frames; the splice may be off", evals, runs.len())
    });
    let machinery = |s: &NativeFrame| {
        s.module.as_deref() == Some(runtime_module)
            && s.function.as_deref().is_some_and(|f| CALL_MACHINERY.iter().any(|p| f.starts_with(p)))
    };
    // Indices of eval frames, to fold the call machinery between two of them.
    let eval_positions: Vec<usize> = natives.iter().enumerate().filter(|(_, s)| is_eval(s)).map(|(i, _)| i).collect();
    let between_evals = |i: usize| {
        matches!((eval_positions.first(), eval_positions.last()), (Some(&a), Some(&b)) if a < i && i < b)
    };
    let mut next_run = runs.into_iter();
    let steps = natives
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if is_eval(s) {
                Step::Eval(next_run.next().unwrap_or_default())
            } else if mode == NativeMode::Folded && machinery(s) && between_evals(i) {
                Step::Fold
            } else {
                Step::Native
            }
        })
        .collect();
    Plan { steps, unclaimed: next_run.flatten().collect(), warning }
}
