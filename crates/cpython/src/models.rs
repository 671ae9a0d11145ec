//! Behavioural differences between CPython versions, as a few named models chosen
//! once per interpreter. Field offsets live in the offsets table; what differs in
//! *how* structures are walked lives here, and nowhere else.

use crate::linetable::LineTableFormat;

/// Where a thread's newest Python frame is found, and how frames chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameModel {
    /// ≤3.10: `tstate->frame`, a chain of `PyFrameObject` through `f_back`; the
    /// instruction position is `f_lasti` in `lasti_unit` bytes.
    Legacy {
        /// Bytes per `f_lasti` unit: 1 (≤3.9, byte offsets) or 2 (3.10, code units).
        lasti_unit: u8,
    },
    /// 3.11+: `_PyInterpreterFrame`s chained through `previous`; the instruction
    /// position is a pointer into the code object's inline bytecode.
    Interpreter {
        /// Where the newest frame pointer is.
        start: FrameStart,
        /// The owner value of C-stack shim frames (3.12+), never shown.
        shim_owner: Option<u8>,
        /// 3.11: each C-level eval call's run of frames ends at `is_entry`.
        has_is_entry: bool,
    },
}

/// Where a 3.11+ thread's newest interpreter frame pointer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStart {
    /// `tstate->cframe->current_frame` (3.11–3.12).
    ViaCFrame,
    /// `tstate->current_frame` (3.13+).
    TState,
}

/// How to tell which thread holds the GIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GilModel {
    /// 3.6: static `gil_locked`/`gil_last_holder` globals (`.symtab`), else the
    /// exported `_PyThreadState_Current`.
    Static,
    /// 3.7–3.11: `_PyRuntime.ceval.gil`.
    Runtime,
    /// 3.12+: the GIL pointed to by each interpreter's `ceval.gil`.
    PerInterpreter,
}

/// How the interpreter list is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorModel {
    /// 3.6: the static `interp_head` (`.symtab`).
    InterpHead,
    /// 3.7+: `_PyRuntime.interpreters.head`.
    Runtime,
}

/// All models of one interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Models {
    /// Frames.
    pub frame: FrameModel,
    /// Line table format.
    pub line_table: LineTableFormat,
    /// GIL holder.
    pub gil: GilModel,
    /// Interpreter list anchor.
    pub anchor: AnchorModel,
}

impl Models {
    /// The models of CPython `3.minor`, or `None` for a version we have no model for.
    pub fn for_version(major: u8, minor: u8) -> Option<Models> {
        if major != 3 || minor < 6 {
            return None;
        }
        let frame = match minor {
            6..=9 => FrameModel::Legacy { lasti_unit: 1 },
            10 => FrameModel::Legacy { lasti_unit: 2 },
            11 => FrameModel::Interpreter { start: FrameStart::ViaCFrame, shim_owner: None, has_is_entry: true },
            12 => FrameModel::Interpreter { start: FrameStart::ViaCFrame, shim_owner: Some(3), has_is_entry: false },
            _ => FrameModel::Interpreter { start: FrameStart::TState, shim_owner: Some(3), has_is_entry: false },
        };
        let line_table = match minor {
            6..=9 => LineTableFormat::Lnotab,
            10 => LineTableFormat::V310,
            _ => LineTableFormat::Locations,
        };
        let gil = match minor {
            6 => GilModel::Static,
            7..=11 => GilModel::Runtime,
            _ => GilModel::PerInterpreter,
        };
        let anchor = if minor == 6 { AnchorModel::InterpHead } else { AnchorModel::Runtime };
        Some(Models { frame, line_table, gil, anchor })
    }
}
