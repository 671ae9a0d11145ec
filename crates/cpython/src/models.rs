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
        /// Owner values from this one up mark interpreter-internal frames, never shown:
        /// C-stack shims (3.12–3.13: 3) and entry/C-stack frames (3.14+: 3 and 4).
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

/// How `int` stores its sign and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntModel {
    /// ≤3.11: signed `ob_size` = ±number of digits.
    SignedSize,
    /// 3.12+: `lv_tag` = digits << 3 | sign (0 positive, 1 zero, 2 negative).
    Tagged,
}

/// How a dict's keys object is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictModel {
    /// 3.6–3.10: `dk_size`, index width from the size, 24-byte entries.
    SizeIndexed,
    /// 3.11+: `dk_log2_size`, `dk_log2_index_bytes`, `dk_kind` (unicode entries are 16 bytes).
    Log2Kinds,
}

/// Where an instance's attributes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceDictModel {
    /// ≤3.10: `tp_dictoffset`.
    DictOffset,
    /// 3.11: MANAGED_DICT: dict* at obj−24, else values* at obj−32 with `ht_cached_keys`.
    PreHeader311,
    /// 3.12: a word at obj−24: a dict*, or (bit 0 set) the values array stored as `values − 1`.
    Tagged312,
    /// 3.13+: dict* at obj−24, else inline values after the object (`tp_basicsize`).
    Inline313,
}

/// How a frame's local variables are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalsModel {
    /// ≤3.10: `co_varnames`, then cells (`co_cellvars`), then frees (`co_freevars`).
    VarNames,
    /// 3.11+: `co_localsplusnames` with one kind byte each in `co_localspluskinds`.
    LocalsPlus,
}

/// How a suspended generator or coroutine says what it awaits (`_PyGen_yf`), and
/// where the awaited object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YieldFromModel {
    /// ≤3.10: the instruction after the frame's last one is `YIELD_FROM` (this
    /// opcode); the awaited object is the top of the frame's value stack (`f_stacktop`
    /// ≤3.9, `f_valuestack[f_stackdepth - 1]` in 3.10).
    NextOpcode {
        /// `YIELD_FROM`.
        opcode: u8,
    },
    /// 3.11–3.12: the code unit after `prev_instr` is a `RESUME` (any of these
    /// opcodes) with an oparg of 2 or more; the awaited object is
    /// `localsplus[stacktop - 1]`.
    ResumeAfter {
        /// `RESUME` and its specialized or instrumented forms.
        resume: [u8; 2],
    },
    /// 3.13+: the generator's frame state is one of these; the awaited object is
    /// `depth` slots down the stack (`localsplus[stacktop - 1]` in 3.13,
    /// `stackpointer[-1]` as a stack reference in 3.14, `stackpointer[-2]` in 3.15,
    /// whose `SEND` keeps the awaited object under the value sent).
    FrameState {
        /// `FRAME_SUSPENDED_YIELD_FROM` (and 3.15's `_LOCKED` twin).
        yield_from: [i8; 2],
        /// Slots from the top.
        depth: u8,
    },
}

/// `gi_frame_state` values of 3.11+ generators (they moved twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenStates {
    /// `FRAME_EXECUTING`: the generator is running now.
    pub executing: i8,
    /// `FRAME_COMPLETED` (3.11–3.14) and `FRAME_CLEARED`: its frame is gone.
    pub dead: [i8; 2],
}

/// How generators, coroutines and async generators keep their frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenModel {
    /// What a suspended one awaits.
    pub yield_from: YieldFromModel,
    /// 3.11+: the frame is embedded and its state is `gi_frame_state`; ≤3.10 the frame
    /// is `gi_frame`, NULL once finished.
    pub states: Option<GenStates>,
}

/// Where a version of `asyncio` keeps its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskRegistry {
    /// 3.6: C tasks in `_asyncio`'s static `all_tasks` WeakSet (`.symtab`), Python
    /// ones in the class attribute `Task._all_tasks`; current tasks likewise.
    ClassSets,
    /// 3.7–3.11: the WeakSet `asyncio.tasks._all_tasks`.
    AllTasks,
    /// 3.12–3.13: the WeakSet `asyncio.tasks._scheduled_tasks` and the set
    /// `_eager_tasks`.
    ScheduledEager,
    /// 3.14+: C tasks on a list per thread state (and one per interpreter for tasks of
    /// threads that have exited); other tasks in `_scheduled_tasks`/`_eager_tasks`.
    ThreadLists,
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
    /// `int` layout.
    pub int: IntModel,
    /// `dict` keys layout.
    pub dict: DictModel,
    /// Instance attributes.
    pub instance_dict: InstanceDictModel,
    /// Frame locals.
    pub locals: LocalsModel,
    /// PYMALLOC_DEBUG's byte for freed memory (3.6: 0xDB, 3.7+: 0xDD).
    pub dead_byte: u8,
    /// 3.14+: frame slots (`f_executable`, `localsplus`) are tagged `_PyStackRef`s.
    pub stackrefs: bool,
    /// `BaseException.__repr__` with one argument: 3.6 shows the args tuple
    /// (`ValueError('x',)`), 3.7+ the argument alone (`ValueError('x')`).
    pub exception_single_arg_bare: bool,
    /// How standard-library types write their repr in this version.
    pub reprs: ReprModel,
    /// Generators and what they await.
    pub gen: GenModel,
    /// Where asyncio's tasks are.
    pub tasks: TaskRegistry,
    /// Where `atexit.register`'s callbacks are.
    pub atexit: AtexitModel,
    /// `sys.monitoring` event names by bit (empty before 3.12).
    pub monitoring_events: &'static [&'static str],
    /// The instruction that calls a `with`'s `__enter__` after putting the manager's
    /// bound `__exit__` in its stack slot (`SETUP_WITH` ≤3.10, `BEFORE_WITH` 3.11):
    /// while `__enter__` runs, the manager itself is not on the stack. 3.12+ keep it.
    pub setup_with: Option<u8>,
    /// The type flags for which `sys.getsizeof` adds a two-word pre-header besides
    /// the GC header (`_PyType_PreHeaderSize`): a managed dict (3.11+,
    /// `Py_TPFLAGS_MANAGED_DICT`) or weakref list (3.12+, `Py_TPFLAGS_MANAGED_WEAKREF`).
    pub getsizeof_preheader: u64,
    /// 3.12+: an object is immortal when the low 32 bits of its `ob_refcnt`, read as
    /// signed, are negative (`_Py_IsImmortal`: 0xffffffff in 3.12–3.13, from 3 << 30
    /// in 3.14+); its count then means nothing.
    pub immortal_refcnt: bool,
    /// Where pymalloc keeps its state, and its pool and alignment sizes.
    pub pymalloc: PymallocModel,
    /// How the collector keeps the statistics `gc.get_stats()` returns.
    pub gc_stats: GcStatsModel,
}

/// Where `gc.get_stats()`'s numbers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcStatsModel {
    /// ≤3.14: `generation_stats` is `struct gc_generation_stats[3]`, one per
    /// generation.
    Inline,
    /// 3.15+: `generation_stats` points to a `struct gc_stats`: a ring of `young`
    /// entries for generation 0, then one of `old` entries for each older generation
    /// (each ring `items[n]` then an `int8_t index`, 8-byte aligned). Every entry is
    /// cumulative (a collection copies the previous one and adds to it): `items[index]`
    /// is what `gc.get_stats()` shows.
    Rings {
        /// `GC_YOUNG_STATS_SIZE`.
        young: u64,
        /// `GC_OLD_STATS_SIZE`.
        old: u64,
    },
}

/// The collector's C functions whose `int generation` parameter is the generation
/// being collected, in every version that has them (3.6–3.7 `collect`,
/// `collect_with_callback`; 3.8–3.12 also `gc_collect_main`, `gc_collect_with_callback`;
/// 3.13+ `_PyGC_Collect`; `invoke_gc_callback` throughout), and the files defining
/// them: a function of another file with one of these names is not one of them.
pub const GC_GENERATION_ARG: (&[&str], &[&str]) = (
    &["collect", "collect_with_callback", "gc_collect_main", "gc_collect_with_callback", "_PyGC_Collect", "invoke_gc_callback"],
    &["Modules/gcmodule.c", "Python/gc.c", "Python/gc_free_threading.c"],
);

/// Where pymalloc's arenas are, and the constants `sys._debugmallocstats()` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PymallocModel {
    /// Where the state is.
    pub state: PymallocState,
    /// `POOL_BITS`: pools of `1 << POOL_BITS` bytes (4 KiB ≤3.9, 16 KiB 3.10+).
    pub pool_bits: u32,
    /// `ARENA_BITS`: arenas of `1 << ARENA_BITS` bytes (256 KiB ≤3.9, 1 MiB 3.10+ on
    /// 64-bit builds).
    pub arena_bits: u32,
}

/// Where pymalloc's state is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PymallocState {
    /// ≤3.11: statics of obmalloc.c (`arenas`, `maxarenas`...; `.symtab` only).
    Statics,
    /// 3.12: `interp->obmalloc` is the state.
    Embedded,
    /// 3.13+: `interp->obmalloc` points to it.
    Pointer,
}

/// `sys.flags` values of an interpreter started with no option, where not 0, False or
/// None: `(flag, default reprs, from minor version)`, the latest entry that applies
/// winning.
const FLAG_DEFAULTS: &[(&str, &[&str], u8)] = &[("hash_randomization", &["1"], 6), ("int_max_str_digits", &["-1", "4300"], 6), ("utf8_mode", &["1"], 15)];

/// Whether a `sys.flags` value (its repr) is what `3.minor` starts with by default.
pub fn flag_is_default(name: &str, value: &str, minor: u8) -> bool {
    match FLAG_DEFAULTS.iter().rev().find(|(n, _, since)| *n == name && *since <= minor) {
        Some((_, defaults, _)) => defaults.contains(&value),
        None => matches!(value, "0" | "False" | "None"),
    }
}

/// Where the `atexit` module keeps its callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtexitModel {
    /// ≤3.9: the `atexit` module's state (`md_state`), an array of record pointers.
    ModuleState,
    /// 3.10–3.13: `interp->atexit`, an array of record pointers.
    Interpreter,
    /// 3.14+: `interp->atexit.callbacks`, a list of `(func, args, kwargs)` tuples,
    /// the newest first.
    InterpreterList,
}

/// `sys.monitoring.events` of 3.12 and 3.13, by bit.
const MONITORING_EVENTS_312: &[&str] = &[
    "PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "LINE", "INSTRUCTION", "JUMP", "BRANCH", "STOP_ITERATION", "RAISE",
    "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW", "RERAISE", "C_RETURN", "C_RAISE",
];
/// `sys.monitoring.events` of 3.14+ (BRANCH split in two, the old one kept last).
const MONITORING_EVENTS_314: &[&str] = &[
    "PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "CALL", "LINE", "INSTRUCTION", "JUMP", "BRANCH_LEFT", "BRANCH_RIGHT",
    "STOP_ITERATION", "RAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW", "RERAISE", "C_RETURN", "C_RAISE", "BRANCH",
];

/// Standard-library reprs that changed between versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReprModel {
    /// 3.7+: `timedelta(days=1, seconds=2)`; 3.6: `timedelta(1, 2)`.
    pub timedelta_keywords: bool,
    /// 3.12+: `OrderedDict({'a': 1})`; before: `OrderedDict([('a', 1)])`.
    pub ordered_dict_as_dict: bool,
    /// 3.10+: `<classmethod(<function f at 0x...>)>`; before: the default form.
    pub descriptor_shows_callable: bool,
    /// 3.13+: a weak reference names its referent's type fully qualified (`%T`).
    pub weakref_qualified_type: bool,
}

/// The newest minor version pycoroner has models for; a newer one is read with these
/// models and a warning.
pub const NEWEST_MINOR: u8 = 15;

/// A `_PyStackRef` (3.14+, Include/internal/pycore_stackref.h): the low two bits are
/// tags. `0b11` marks a tagged small int (the value is the rest, shifted); otherwise
/// the object pointer is the word with the tag bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackRef {
    /// An object pointer (possibly NULL).
    Object(pycoroner_process::RemoteAddr),
    /// A tagged integer.
    Int(i64),
}

impl StackRef {
    /// Decode a slot word under the given model.
    pub fn decode(bits: u64, stackrefs: bool) -> StackRef {
        if !stackrefs {
            return StackRef::Object(pycoroner_process::RemoteAddr(bits));
        }
        if bits & 3 == 3 {
            StackRef::Int((bits as i64) >> 2)
        } else {
            StackRef::Object(pycoroner_process::RemoteAddr(bits & !3))
        }
    }
}

impl Models {
    /// The models of CPython `3.minor`, or `None` for a version we have no model for.
    pub fn for_version(major: u8, minor: u8) -> Option<Models> {
        if major != 3 || !(6..=NEWEST_MINOR).contains(&minor) {
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
        let int = if minor >= 12 { IntModel::Tagged } else { IntModel::SignedSize };
        let dict = if minor >= 11 { DictModel::Log2Kinds } else { DictModel::SizeIndexed };
        let instance_dict = match minor {
            6..=10 => InstanceDictModel::DictOffset,
            11 => InstanceDictModel::PreHeader311,
            12 => InstanceDictModel::Tagged312,
            _ => InstanceDictModel::Inline313,
        };
        let locals = if minor >= 11 { LocalsModel::LocalsPlus } else { LocalsModel::VarNames };
        let dead_byte = if minor == 6 { 0xDB } else { 0xDD };
        let stackrefs = minor >= 14;
        let exception_single_arg_bare = minor >= 7;
        let reprs = ReprModel { timedelta_keywords: minor >= 7, ordered_dict_as_dict: minor >= 12, descriptor_shows_callable: minor >= 10, weakref_qualified_type: minor >= 13 };
        let (executing, dead) = if minor >= 15 { (4, [5, 5]) } else { (0, [1, 4]) };
        let states = (minor >= 11).then_some(GenStates { executing, dead });
        let yield_from = match minor {
            6..=10 => YieldFromModel::NextOpcode { opcode: 72 },
            11 => YieldFromModel::ResumeAfter { resume: [151, 150] },
            12 => YieldFromModel::ResumeAfter { resume: [151, 240] },
            13 | 14 => YieldFromModel::FrameState { yield_from: [-1, -1], depth: 1 },
            _ => YieldFromModel::FrameState { yield_from: [2, 3], depth: 2 },
        };
        let gen = GenModel { yield_from, states };
        let tasks = match minor {
            6 => TaskRegistry::ClassSets,
            7..=11 => TaskRegistry::AllTasks,
            12 | 13 => TaskRegistry::ScheduledEager,
            _ => TaskRegistry::ThreadLists,
        };
        let atexit = match minor {
            6..=9 => AtexitModel::ModuleState,
            10..=13 => AtexitModel::Interpreter,
            _ => AtexitModel::InterpreterList,
        };
        let monitoring_events = match minor {
            6..=11 => &[][..],
            12 | 13 => MONITORING_EVENTS_312,
            _ => MONITORING_EVENTS_314,
        };
        Some(Models {
            frame,
            line_table,
            gil,
            anchor,
            int,
            dict,
            instance_dict,
            locals,
            dead_byte,
            stackrefs,
            exception_single_arg_bare,
            reprs,
            gen,
            tasks,
            atexit,
            monitoring_events,
            immortal_refcnt: minor >= 12,
            pymalloc: PymallocModel {
                state: match minor {
                    6..=11 => PymallocState::Statics,
                    12 => PymallocState::Embedded,
                    _ => PymallocState::Pointer,
                },
                pool_bits: if minor <= 9 { 12 } else { 14 },
                arena_bits: if minor <= 9 { 18 } else { 20 },
            },
            gc_stats: if minor >= 15 { GcStatsModel::Rings { young: 11, old: 3 } } else { GcStatsModel::Inline },
            getsizeof_preheader: match minor {
                6..=10 => 0,
                11 => 1 << 4,
                _ => (1 << 3) | (1 << 4),
            },
            setup_with: match minor {
                6..=10 => Some(143),
                11 => Some(53),
                _ => None,
            },
        })
    }
}
