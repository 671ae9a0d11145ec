//! asyncio's tasks, read from memory: every task of every event loop, its state and
//! name, the chain of coroutines (and generators, async generators) it is suspended
//! in, what it waits on, and which tasks await it.
//!
//! Tasks are found where each version keeps them ([`TaskRegistry`]): the module-level
//! sets of `asyncio.tasks` up to 3.13, and from 3.14 the per-thread lists that C tasks
//! hang on. Both the C (`_asyncio`) and the pure-Python `Task` are read: the C one
//! through [`C_TASK_LAYOUTS`] (`TaskObj`, per version), the Python one through its
//! instance attributes. Every set, list and chain is bounded and cycle-checked.

use std::collections::{HashMap, HashSet};

use pycoroner_layouts::key;
use pycoroner_process::{MemoryExt, RemoteAddr};

use crate::error::Error;
use crate::locals::Local;
use crate::models::{StackRef, TaskRegistry, YieldFromModel};
use crate::objects;
use crate::python::{PyFrame, Python, ThreadState};
use crate::repr::Renderer;

/// Most tasks listed per interpreter.
pub const MAX_TASKS: usize = 1 << 20;
/// Most links followed down one task's await chain.
pub const MAX_AWAIT_DEPTH: usize = 1024;
/// Most tasks one task is recorded to await, or to be awaited by.
const MAX_EDGES: usize = 1 << 16;
/// Most await edges kept per interpreter (many tasks over one shared gather or set).
const MAX_ALL_EDGES: usize = 1 << 22;
/// Most event loops listed per interpreter.
const MAX_LOOPS: usize = 4096;

/// Exported symbols of the types an await chain goes through.
pub const SYMBOLS: &[&str] = &["PyCoro_Type", "PyGen_Type", "PyAsyncGen_Type", "_PyAsyncGenASend_Type", "_PyCoroWrapper_Type", "_PyWeakref_RefType"];

/// Fields of a C `_asyncio` Task (`TaskObj`, which starts with the Future's fields):
/// byte offsets after the object header. From each version's DWARF of `_asyncio`
/// (a test compares them with every build at hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CTaskLayout {
    /// `task_loop`.
    pub loop_: u64,
    /// `task_callback0` (3.7+): the first done callback, kept out of the list.
    pub callback0: Option<u64>,
    /// `task_callbacks`: a list of the other done callbacks, or NULL.
    pub callbacks: u64,
    /// `task_exception`.
    pub exception: u64,
    /// `task_result`.
    pub result: u64,
    /// `task_state` (an `int`: 0 pending, 1 cancelled, 2 finished).
    pub state: u64,
    /// `task_awaited_by` (3.14+): the one task awaiting it, or a set of them.
    pub awaited_by: Option<u64>,
    /// `task_awaited_by_is_set` (3.14+, a `char`).
    pub awaited_by_is_set: Option<u64>,
    /// `task_fut_waiter`: the future it waits on.
    pub fut_waiter: u64,
    /// `task_coro`.
    pub coro: u64,
    /// `task_name` (3.8+): a str, or (3.13+) an int `N` for the name `Task-N`.
    pub name: Option<u64>,
    /// `task_node` (3.14+): its links on its thread's task list.
    pub node: Option<u64>,
    /// `sizeof(TaskObj)` after the header.
    pub size: u64,
}

// One row of the table below: the fields every version has, in struct order.
#[allow(clippy::too_many_arguments)]
const fn layout(loop_: u64, exception: u64, result: u64, state: u64, fut_waiter: u64, coro: u64, name: Option<u64>, size: u64) -> CTaskLayout {
    // The done callbacks sit right after the loop: `callback0` (with its context) then
    // the list from 3.7, the list alone in 3.6.
    let (callback0, callbacks) = if exception == 16 { (None, 8) } else { (Some(8), 24) };
    CTaskLayout { loop_, callback0, callbacks, exception, result, state, awaited_by: None, awaited_by_is_set: None, fut_waiter, coro, name, node: None, size }
}

/// `TaskObj` of each minor version.
pub const C_TASK_LAYOUTS: &[(u8, CTaskLayout)] = &[
    (6, layout(0, 16, 24, 40, 72, 80, None, 96)),
    (7, layout(0, 32, 40, 56, 88, 96, None, 120)),
    (8, layout(0, 32, 40, 56, 88, 96, Some(104), 128)),
    (9, layout(0, 32, 40, 64, 128, 136, Some(144), 168)),
    (10, layout(0, 32, 48, 72, 136, 144, Some(152), 176)),
    (11, layout(0, 32, 48, 72, 112, 120, Some(128), 160)),
    (12, layout(0, 32, 48, 72, 112, 120, Some(128), 160)),
    (13, layout(0, 32, 48, 80, 96, 104, Some(112), 128)),
    (14, CTaskLayout { awaited_by: Some(80), awaited_by_is_set: Some(93), node: Some(136), ..layout(0, 32, 48, 88, 104, 112, Some(120), 152) }),
    (15, CTaskLayout { awaited_by: Some(80), awaited_by_is_set: Some(93), node: Some(136), ..layout(0, 32, 48, 88, 104, 112, Some(120), 152) }),
];

/// 3.14+: where `_asyncio`'s module state (`asyncio_state`) keeps the tasks that are
/// not asyncio Tasks (`non_asyncio_tasks`, a WeakSet, and `non_asyncio_eager_tasks`).
pub const NON_ASYNCIO_TASKS: &[(u8, (u64, u64))] = &[(14, (48, 56)), (15, (48, 56))];

/// The `TaskObj` layout of CPython 3.`minor`.
pub fn c_task_layout(minor: u8) -> Option<CTaskLayout> {
    C_TASK_LAYOUTS.iter().find(|(m, _)| *m == minor).map(|(_, l)| *l)
}

/// The target's own `_Py_AsyncioModuleDebugOffsets` (3.14+, the `.AsyncioDebug`
/// section of `_asyncio`, or of the interpreter where `_asyncio` is built in): where
/// a C task keeps what the task lists need, and where the thread and interpreter
/// states keep their lists. Offsets from the start of each struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncioDebugOffsets {
    /// `asyncio_task_object.size`.
    pub task_size: u64,
    /// `asyncio_task_object.task_name`.
    pub task_name: u64,
    /// `asyncio_task_object.task_awaited_by`.
    pub task_awaited_by: u64,
    /// `asyncio_task_object.task_is_task`.
    pub task_is_task: u64,
    /// `asyncio_task_object.task_awaited_by_is_set`.
    pub task_awaited_by_is_set: u64,
    /// `asyncio_task_object.task_coro`.
    pub task_coro: u64,
    /// `asyncio_task_object.task_node`.
    pub task_node: u64,
    /// `asyncio_interpreter_state.asyncio_tasks_head`.
    pub interp_tasks_head: u64,
    /// `asyncio_thread_state.asyncio_running_loop`.
    pub thread_running_loop: u64,
    /// `asyncio_thread_state.asyncio_running_task`.
    pub thread_running_task: u64,
    /// `asyncio_thread_state.asyncio_tasks_head`.
    pub thread_tasks_head: u64,
}

/// Size of `_Py_AsyncioModuleDebugOffsets`: 13 words (three structs, each led by its
/// size).
pub const ASYNCIO_DEBUG_SIZE: usize = 13 * 8;

/// Largest struct size believed (a thread state is about 1 KiB, an interpreter 200 KiB).
const MAX_DEBUG_STRUCT: u64 = 1 << 20;

impl AsyncioDebugOffsets {
    /// Decode the section's bytes; every offset must lie inside the struct whose size
    /// leads its group (a pointer's 8 bytes for the pointers, the list head's 16).
    pub fn decode(bytes: &[u8]) -> Result<AsyncioDebugOffsets, String> {
        let w = |i: usize| -> Result<u64, String> {
            let at = i.checked_mul(8).ok_or("overflow")?;
            let b = bytes.get(at..at.checked_add(8).ok_or("overflow")?).ok_or_else(|| format!("the asyncio debug offsets are cut short ({} bytes)", bytes.len()))?;
            Ok(u64::from_le_bytes(b.try_into().map_err(|_| "short word")?))
        };
        let check = |name: &str, off: u64, width: u64, size: u64| -> Result<u64, String> {
            if size == 0 || size > MAX_DEBUG_STRUCT || off.checked_add(width).is_none_or(|end| end > size) {
                return Err(format!("the asyncio debug offset {name} ({off:#x}) is outside its struct of {size:#x} bytes"));
            }
            Ok(off)
        };
        let (ts, is, ths) = (w(0)?, w(7)?, w(9)?);
        Ok(AsyncioDebugOffsets {
            task_size: ts,
            task_name: check("task_name", w(1)?, 8, ts)?,
            task_awaited_by: check("task_awaited_by", w(2)?, 8, ts)?,
            task_is_task: check("task_is_task", w(3)?, 1, ts)?,
            task_awaited_by_is_set: check("task_awaited_by_is_set", w(4)?, 1, ts)?,
            task_coro: check("task_coro", w(5)?, 8, ts)?,
            task_node: check("task_node", w(6)?, 16, ts)?,
            interp_tasks_head: check("interpreter asyncio_tasks_head", w(8)?, 16, is)?,
            thread_running_loop: check("asyncio_running_loop", w(10)?, 8, ths)?,
            thread_running_task: check("asyncio_running_task", w(11)?, 8, ths)?,
            thread_tasks_head: check("thread asyncio_tasks_head", w(12)?, 16, ths)?,
        })
    }
}

/// `coroutine_wrapper`'s `cw_coroutine` and `_asyncio._RunningLoopHolder`'s `rl_loop`:
/// the first field after the header in every version that has them.
const FIRST_FIELD: u64 = 0;

/// Relocated addresses of the types an await chain goes through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenTypes {
    coroutine: Option<RemoteAddr>,
    generator: Option<RemoteAddr>,
    async_generator: Option<RemoteAddr>,
    asend: Option<RemoteAddr>,
    coro_wrapper: Option<RemoteAddr>,
    weakref: Option<RemoteAddr>,
}

impl GenTypes {
    /// From a symbol lookup (name → relocated address).
    pub fn from_symbols(lookup: impl Fn(&str) -> Option<u64>) -> GenTypes {
        let get = |s: &str| lookup(s).map(RemoteAddr);
        GenTypes {
            coroutine: get("PyCoro_Type"),
            generator: get("PyGen_Type"),
            async_generator: get("PyAsyncGen_Type"),
            asend: get("_PyAsyncGenASend_Type"),
            coro_wrapper: get("_PyCoroWrapper_Type"),
            weakref: get("_PyWeakref_RefType"),
        }
    }

    fn kind(&self, ty: RemoteAddr) -> Option<Link> {
        let is = |t: Option<RemoteAddr>| t == Some(ty);
        if is(self.coroutine) {
            Some(Link::Gen(GenKind::Coroutine))
        } else if is(self.generator) {
            Some(Link::Gen(GenKind::Generator))
        } else if is(self.async_generator) {
            Some(Link::Gen(GenKind::AsyncGenerator))
        } else if is(self.asend) {
            Some(Link::ASend)
        } else if is(self.coro_wrapper) {
            Some(Link::Wrapper)
        } else {
            None
        }
    }
}

/// What a link of an await chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Gen(GenKind),
    /// `async_generator_asend`: `await agen.__anext__()`/`asend()`, leading to `agen`.
    ASend,
    /// `coroutine_wrapper`: `coro.__await__()`, leading to `coro`.
    Wrapper,
}

/// The kind of a frame-owning awaitable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenKind {
    /// `async def`.
    Coroutine,
    /// A generator (`yield from`, `@types.coroutine`).
    Generator,
    /// `async def` with `yield`.
    AsyncGenerator,
}

/// One link of a task's await chain that has a frame.
#[derive(Debug, Clone)]
pub struct AwaitFrame {
    /// Coroutine, generator or async generator.
    pub kind: GenKind,
    /// The object.
    pub object: RemoteAddr,
    /// Its frame (code and line), or why it could not be read.
    pub frame: Result<PyFrame, Error>,
    /// Running now (3.11+, where the generator records it).
    pub executing: bool,
}

/// A task's (or future's) state (`fut_state` / `_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Not done.
    Pending,
    /// Cancelled.
    Cancelled,
    /// Finished with a result or an exception.
    Finished,
}

impl TaskState {
    /// As asyncio's repr writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Cancelled => "cancelled",
            TaskState::Finished => "finished",
        }
    }
}

/// What a pending task waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// Another task.
    Task,
    /// `asyncio.gather`'s future over its children.
    Gather,
    /// The end of a `TaskGroup` (`async with` exit), over the group's tasks.
    TaskGroup,
    /// `asyncio.sleep`.
    Sleep,
    /// Any other future.
    Future,
}

/// A pending task's wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// What kind of wait.
    pub kind: WaitKind,
    /// The future (or task) waited on.
    pub object: RemoteAddr,
    /// The future as asyncio's repr begins: `<_GatheringFuture pending>`.
    pub summary: String,
    /// The tasks that this wait is over (the awaited task, gather's children, the
    /// group's tasks).
    pub tasks: Vec<RemoteAddr>,
}

/// One task.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// Address of the task object.
    pub addr: RemoteAddr,
    /// A C `_asyncio` task (else the pure-Python one or a subclass of it).
    pub native: bool,
    /// `get_name()` (3.8+), or why it is unreadable.
    pub name: Option<String>,
    /// Its state.
    pub state: TaskState,
    /// Its event loop.
    pub loop_: RemoteAddr,
    /// Its coroutine.
    pub coro: RemoteAddr,
    /// The await chain: the task's coroutine first, then what each link awaits.
    pub chain: Vec<AwaitFrame>,
    /// Why the chain ended early, if it did.
    pub chain_error: Option<Error>,
    /// What it waits on.
    pub waiting: Option<Waiting>,
    /// The tasks awaiting it.
    pub awaited_by: Vec<RemoteAddr>,
    /// It is the task its loop runs now.
    pub running: bool,
    /// A finished task's result or exception object.
    pub outcome: Option<RemoteAddr>,
    /// How many done callbacks it has (whoever awaits it, a gather, a task group or
    /// `run_until_complete` registers one), when readable.
    pub callbacks: Option<u64>,
}

/// The tasks of one event loop.
#[derive(Debug, Clone)]
pub struct LoopTasks {
    /// The loop object.
    pub loop_: RemoteAddr,
    /// `threading.get_ident()` of the thread running it (as faulthandler prints it),
    /// `None` when no thread runs it.
    pub thread_id: Option<u64>,
    /// Its tasks, in the order the registry lists them.
    pub tasks: Vec<TaskInfo>,
}

/// Every task of one interpreter.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    /// Per event loop.
    pub loops: Vec<LoopTasks>,
    /// What could not be read.
    pub warnings: Vec<String>,
}

/// Where the caller found what the registry model needs outside `sys.modules`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Statics {
    /// 3.6: `_asyncio`'s static `all_tasks` variable (the address of the pointer).
    pub all_tasks: Option<RemoteAddr>,
    /// 3.6: `_asyncio`'s static `current_tasks` variable.
    pub current_tasks: Option<RemoteAddr>,
}

/// What a class in a task's world is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `_asyncio.Task` or a subclass.
    CTask,
    /// The pure-Python `Task` (`asyncio.tasks._PyTask`) or a subclass.
    PyTask,
    Gathering,
    Future,
    TaskGroup,
    Other,
}

/// A class, and whether its instances keep a future's fields in the C struct (the C
/// Future and Task, and what derives from them: gather's future, 3.6's Python Task)
/// rather than as instance attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TypeInfo {
    class: Class,
    c_future: bool,
}

/// Reads the tasks of one interpreter.
pub struct TaskReader<'a> {
    py: &'a Python<'a>,
    r: &'a Renderer<'a>,
    types: GenTypes,
    layout: Option<CTaskLayout>,
    header: u64,
    classes: std::cell::RefCell<HashMap<RemoteAddr, TypeInfo>>,
    cell_type: Option<RemoteAddr>,
    /// Where thread and interpreter states keep asyncio's state (3.13+/3.14+): from
    /// the layout, or the target's own asyncio debug offsets.
    states: AsyncioStates,
    /// The target's pid, to tell a loop holder of a forked parent (3.7–3.11).
    pid: Option<u32>,
    /// What was cut or could not be read, said once in the report's warnings.
    notes: std::cell::RefCell<Vec<String>>,
    /// [`NON_ASYNCIO_TASKS`] of this version.
    non_asyncio: Option<(u64, u64)>,
}

/// Offsets of asyncio's fields in the thread state (`_PyThreadStateImpl`) and the
/// interpreter state.
#[derive(Debug, Clone, Copy, Default)]
struct AsyncioStates {
    running_loop: Option<u64>,
    running_task: Option<u64>,
    tasks_head: Option<u64>,
    interp_tasks_head: Option<u64>,
}

impl<'a> TaskReader<'a> {
    /// A reader over a runtime, with a renderer of the same interpreter.
    pub fn new(py: &'a Python<'a>, r: &'a Renderer<'a>, types: GenTypes, cell_type: Option<RemoteAddr>, minor: u8) -> TaskReader<'a> {
        let header = py.offsets.float.fval.unwrap_or(16);
        let o = py.offsets;
        let states = AsyncioStates {
            running_loop: o.tstate.asyncio_running_loop,
            running_task: o.tstate.asyncio_running_task,
            tasks_head: o.tstate.asyncio_tasks_head,
            interp_tasks_head: o.interp.asyncio_tasks_head,
        };
        let non_asyncio = NON_ASYNCIO_TASKS.iter().find(|(m, _)| *m == minor).map(|(_, o)| *o);
        TaskReader { py, r, types, layout: c_task_layout(minor), header, classes: Default::default(), cell_type, states, pid: None, notes: Default::default(), non_asyncio }
    }

    /// The target's pid (a live process or a core's), to refuse a running loop
    /// recorded by a forked parent.
    pub fn with_pid(mut self, pid: Option<u32>) -> Self {
        self.pid = pid;
        self
    }

    fn note(&self, what: String) {
        let mut n = self.notes.borrow_mut();
        if n.len() < 64 && !n.contains(&what) {
            n.push(what);
        }
    }

    /// The items of a set or list that the walk needs whole: a cut or unreadable one
    /// is said in a note.
    fn all_members(&self, obj: RemoteAddr, what: &str) -> Vec<RemoteAddr> {
        match self.r.members(obj, MAX_EDGES) {
            Ok((m, false)) => m,
            Ok((m, true)) => {
                self.note(format!("{what} at {obj} holds more than {MAX_EDGES} items: the rest are not linked"));
                m
            }
            Err(e) => {
                self.note(format!("cannot read {what} at {obj}: {e}"));
                Vec::new()
            }
        }
    }

    /// Use the target's own asyncio debug offsets (3.14+) over the built-in table and
    /// the layout: they are this build's truth. A difference from the table is returned
    /// as a warning (the fields they do not cover come from the table).
    pub fn use_debug_offsets(&mut self, d: &AsyncioDebugOffsets) -> Option<String> {
        let h = self.header;
        let rel = |v: u64| v.checked_sub(h);
        self.states = AsyncioStates {
            running_loop: Some(d.thread_running_loop),
            running_task: Some(d.thread_running_task),
            tasks_head: Some(d.thread_tasks_head),
            interp_tasks_head: Some(d.interp_tasks_head),
        };
        let Some(table) = self.layout else { return Some("no built-in TaskObj layout for this version: tasks are not read".into()) };
        let theirs = CTaskLayout {
            name: rel(d.task_name),
            awaited_by: rel(d.task_awaited_by),
            awaited_by_is_set: rel(d.task_awaited_by_is_set),
            coro: rel(d.task_coro).unwrap_or(table.coro),
            node: rel(d.task_node),
            size: rel(d.task_size).unwrap_or(table.size),
            ..table
        };
        self.layout = Some(theirs);
        (theirs != table).then(|| {
            "this build's _asyncio TaskObj differs from the known one of its version: its own debug offsets are used for the task lists, names, coroutines and awaiters, the state, loop and waits may be misread".to_string()
        })
    }

    fn word(&self, obj: RemoteAddr, off: u64) -> Result<RemoteAddr, Error> {
        let at = obj.offset(self.header.checked_add(off).ok_or(Error::Overflow(obj))?).ok_or(Error::Overflow(obj))?;
        Ok(self.py.mem.read_ptr(at)?)
    }

    fn type_info(&self, ty: RemoteAddr) -> TypeInfo {
        if let Some(c) = self.classes.borrow().get(&ty) {
            return *c;
        }
        let lineage = self.r.type_lineage(ty);
        let has = |n: &str| lineage.iter().any(|l| l == n);
        let class = if has("_asyncio.Task") {
            Class::CTask
        } else if has("asyncio.tasks.Task") || has("asyncio.tasks._PyTask") {
            Class::PyTask
        } else if has("asyncio.tasks._GatheringFuture") {
            Class::Gathering
        } else if has("_asyncio.Future") || has("asyncio.futures.Future") {
            Class::Future
        } else if has("asyncio.taskgroups.TaskGroup") {
            Class::TaskGroup
        } else {
            Class::Other
        };
        let info = TypeInfo { class, c_future: has("_asyncio.Future") };
        self.classes.borrow_mut().insert(ty, info);
        info
    }

    fn info_of(&self, obj: RemoteAddr) -> TypeInfo {
        match objects::ob_type(self.py.mem, self.py.offsets, obj) {
            Ok(ty) => self.type_info(ty),
            Err(_) => TypeInfo { class: Class::Other, c_future: false },
        }
    }

    fn class_of(&self, obj: RemoteAddr) -> Class {
        self.info_of(obj).class
    }

    fn is_task(&self, obj: RemoteAddr) -> bool {
        matches!(self.class_of(obj), Class::CTask | Class::PyTask)
    }

    /// A C future's `fut_state`.
    fn c_state(&self, fut: RemoteAddr) -> Result<TaskState, Error> {
        let l = self.layout.ok_or(Error::MissingOffset("TaskObj (no _asyncio layout for this version)"))?;
        let at = fut.offset(self.header.checked_add(l.state).ok_or(Error::Overflow(fut))?).ok_or(Error::Overflow(fut))?;
        match self.py.mem.read_u32(at)? {
            0 => Ok(TaskState::Pending),
            1 => Ok(TaskState::Cancelled),
            2 => Ok(TaskState::Finished),
            _ => Err(Error::Corrupt { what: "task state", addr: fut }),
        }
    }

    /// A Python future's `_state` (the class default when the instance has none):
    /// `Null` when there is no readable name, `Corrupt` when it names no state.
    fn py_state(&self, fut: RemoteAddr) -> Result<TaskState, Error> {
        self.r.lookup();
        let name = self.r.attribute_or_default(fut, "_state").and_then(|s| self.r.str_key(s)).ok_or(Error::Null("task _state"))?;
        match name.as_str() {
            "PENDING" => Ok(TaskState::Pending),
            "CANCELLED" => Ok(TaskState::Cancelled),
            "FINISHED" => Ok(TaskState::Finished),
            _ => Err(Error::Corrupt { what: "task _state", addr: fut }),
        }
    }

    fn state_of(&self, fut: RemoteAddr, info: TypeInfo) -> Result<TaskState, Error> {
        if info.c_future { self.c_state(fut) } else { self.py_state(fut) }
    }

    fn none(&self, obj: RemoteAddr) -> bool {
        obj.is_null() || self.r.kind_of(obj) == Some(crate::repr::Kind::NoneType)
    }

    /// The objects a WeakSet refers to (live ones), a plain set's members, or the
    /// members a static variable's WeakSet holds.
    fn set_members(&self, set: RemoteAddr, warnings: &mut Vec<String>, what: &str) -> Vec<RemoteAddr> {
        self.r.lookup();
        let (data, weak) = match self.r.kind_of(set) {
            Some(crate::repr::Kind::Set | crate::repr::Kind::FrozenSet) => (set, false),
            _ => match self.r.attribute(set, "data") {
                Some(d) => (d, true),
                None => {
                    warnings.push(format!("cannot read the task set {what} at {set}: no `data` set"));
                    return Vec::new();
                }
            },
        };
        let (items, more) = match self.r.members(data, MAX_TASKS) {
            Ok(x) => x,
            Err(e) => {
                warnings.push(format!("cannot read the task set {what} at {set}: {e}"));
                return Vec::new();
            }
        };
        if more {
            warnings.push(format!("the task set {what} holds more than {MAX_TASKS} tasks: the rest are not listed"));
        }
        if !weak {
            return items;
        }
        let off = self.py.offsets.weakref.object;
        items
            .into_iter()
            .filter_map(|w| {
                let at = w.offset(off?)?;
                let obj = self.py.mem.read_ptr(at).ok()?;
                (!self.none(obj)).then_some(obj)
            })
            .collect()
    }

    /// The tasks on an intrusive `llist_node` list whose head is at `head` (3.14+).
    fn list_members(&self, head: RemoteAddr, node_off: u64, warnings: &mut Vec<String>) -> Vec<RemoteAddr> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let Ok(mut cur) = self.py.mem.read_ptr(head) else {
            warnings.push(format!("cannot read the task list at {head}"));
            return out;
        };
        let back = self.header.checked_add(node_off);
        while cur != head {
            if cur.is_null() || !seen.insert(cur) || out.len() >= MAX_TASKS {
                warnings.push(format!("the task list at {head} is broken at {cur} (NULL, a cycle, or over {MAX_TASKS} tasks): the rest are not listed"));
                break;
            }
            match back.and_then(|b| cur.0.checked_sub(b)) {
                Some(task) => out.push(RemoteAddr(task)),
                None => break,
            }
            cur = match self.py.mem.read_ptr(cur) {
                Ok(n) => n,
                Err(e) => {
                    warnings.push(format!("the task list at {head} is broken at {cur}: {e}"));
                    break;
                }
            };
        }
        out
    }

    /// Every task of the interpreter whose `sys.modules` is given, grouped by loop.
    pub fn read(&self, sys_modules: RemoteAddr, interp: RemoteAddr, threads: &[ThreadState], statics: Statics) -> Tasks {
        let mut out = Tasks::default();
        self.r.lookup();
        let Some(tasks_mod) = self.r.module_dict(sys_modules, "asyncio.tasks") else { return out };
        let global = |name: &str| {
            self.r.lookup();
            self.r.dict_lookup(tasks_mod, name).filter(|v| !self.none(*v))
        };
        let warnings = &mut out.warnings;
        // Candidate tasks, each once, in registry order.
        let mut found: Vec<RemoteAddr> = Vec::new();
        let mut current: Vec<RemoteAddr> = Vec::new();
        let mut thread_loops: Vec<(u64, RemoteAddr)> = Vec::new();
        let current_dict = |d: RemoteAddr, current: &mut Vec<RemoteAddr>| {
            self.r.lookup();
            if let Ok(pairs) = self.r.dict_items_all(d) {
                current.extend(pairs.into_iter().map(|(_, t)| t));
            }
        };
        match self.py.models.tasks {
            TaskRegistry::ClassSets => {
                match statics.all_tasks.map(|v| self.py.mem.read_ptr(v)) {
                    Some(Ok(set)) if !set.is_null() => found.extend(self.set_members(set, warnings, "_asyncio all_tasks")),
                    Some(_) => warnings.push("cannot read _asyncio's static all_tasks: C tasks are not listed".into()),
                    None => {
                        if self.r.module_dict(sys_modules, "_asyncio").is_some() {
                            warnings.push("_asyncio's static all_tasks is unknown (its module's symbol table could not be read): C tasks are not listed".into());
                        }
                    }
                }
                if let Some(Ok(d)) = statics.current_tasks.map(|v| self.py.mem.read_ptr(v)) {
                    if !d.is_null() {
                        current_dict(d, &mut current);
                    }
                }
                for class in ["_PyTask", "Task"] {
                    let Some(ty) = global(class) else { continue };
                    self.r.lookup();
                    if let Some(set) = self.r.class_attribute(ty, "_all_tasks") {
                        found.extend(self.set_members(set, warnings, "Task._all_tasks"));
                    }
                    self.r.lookup();
                    if let Some(d) = self.r.class_attribute(ty, "_current_tasks") {
                        current_dict(d, &mut current);
                    }
                }
            }
            TaskRegistry::AllTasks => {
                if let Some(set) = global("_all_tasks") {
                    found.extend(self.set_members(set, warnings, "asyncio.tasks._all_tasks"));
                }
            }
            TaskRegistry::ScheduledEager | TaskRegistry::ThreadLists => {
                if self.py.models.tasks == TaskRegistry::ThreadLists {
                    let node = self.layout.and_then(|l| l.node);
                    let heads = threads
                        .iter()
                        .map(|t| (Some(t), t.addr, self.states.tasks_head))
                        .chain(std::iter::once((None, interp, self.states.interp_tasks_head)));
                    for (t, base, off) in heads {
                        let (Some(off), Some(node)) = (off, node) else {
                            warnings.push("the layout has no offset of the asyncio task lists: C tasks are not listed".into());
                            break;
                        };
                        if let Some(head) = base.offset(off) {
                            found.extend(self.list_members(head, node, warnings));
                        }
                        let running = t.and_then(|t| t.addr.offset(self.states.running_task?)).and_then(|at| self.py.mem.read_ptr(at).ok());
                        if let Some(task) = running.filter(|a| !self.none(*a)) {
                            current.push(task);
                        }
                    }
                }
                // 3.14+: tasks of other classes registered through the C `_register_task`
                // live in `_asyncio`'s module state.
                if let Some((weak, eager)) = self.non_asyncio {
                    self.r.lookup();
                    let state = self.r.dict_lookup(sys_modules, "_asyncio").and_then(|m| self.py.ptr(m, key::module::state).ok()).filter(|s| !s.is_null());
                    for (off, what) in [(weak, "_asyncio's non_asyncio_tasks"), (eager, "_asyncio's non_asyncio_eager_tasks")] {
                        let set = state.and_then(|s| s.offset(off)).and_then(|at| self.py.mem.read_ptr(at).ok()).filter(|s| !self.none(*s));
                        if let Some(set) = set {
                            found.extend(self.set_members(set, warnings, what));
                        }
                    }
                }
                if let Some(set) = global("_scheduled_tasks") {
                    found.extend(self.set_members(set, warnings, "asyncio.tasks._scheduled_tasks"));
                }
                if let Some(set) = global("_eager_tasks") {
                    found.extend(self.set_members(set, warnings, "asyncio.tasks._eager_tasks"));
                }
            }
        }
        if self.py.models.tasks != TaskRegistry::ClassSets {
            if let Some(d) = global("_current_tasks") {
                current_dict(d, &mut current);
            }
        }
        thread_loops.extend(threads.iter().filter_map(|t| Some((t.thread_id, self.running_loop(t)?))));
        let mut seen = HashSet::new();
        found.retain(|t| seen.insert(*t));
        let before = found.len();
        found.retain(|t| self.is_task(*t));
        if found.len() < before {
            warnings.push(format!("{} objects registered as tasks are not asyncio Tasks (a third-party task class): not shown", before.saturating_sub(found.len())));
        }

        let mut tasks: Vec<TaskInfo> = found.iter().filter_map(|&t| self.task(t, &current).map_err(|e| warnings.push(format!("cannot read the task at {t}: {e}"))).ok()).collect();
        self.link(&mut tasks);

        // Group by loop, in order of first appearance; each loop's thread.
        let mut loops: Vec<LoopTasks> = Vec::new();
        let mut at: HashMap<RemoteAddr, usize> = HashMap::new();
        let mut dropped = 0usize;
        for t in tasks {
            let n = loops.len();
            match at.get(&t.loop_).copied().and_then(|i| loops.get_mut(i)) {
                Some(l) => l.tasks.push(t),
                None if n < MAX_LOOPS => {
                    at.insert(t.loop_, loops.len());
                    loops.push(LoopTasks { loop_: t.loop_, thread_id: None, tasks: vec![t] });
                }
                None => dropped = dropped.saturating_add(1),
            }
        }
        if dropped > 0 {
            warnings.push(format!("tasks name more than {MAX_LOOPS} event loops: {dropped} tasks of the others are not shown"));
        }
        for l in &mut loops {
            l.thread_id = thread_loops.iter().find(|(_, lp)| *lp == l.loop_).map(|(tid, _)| *tid).or_else(|| {
                self.r.lookup();
                let id = self.r.attribute(l.loop_, "_thread_id")?;
                self.r.int_as_u64(id)
            });
        }
        out.loops = loops;
        out.warnings.extend(self.notes.borrow_mut().drain(..));
        out
    }

    /// The event loop a thread runs, as `asyncio.get_running_loop()` would answer in
    /// it: 3.13+ keep it in the thread state, 3.7–3.12's `_asyncio` in the thread
    /// state's dict (3.7–3.11 inside a `_RunningLoopHolder`). Any loop class, uvloop's
    /// included, goes through there.
    fn running_loop(&self, t: &ThreadState) -> Option<RemoteAddr> {
        if let Some(off) = self.states.running_loop {
            return self.py.mem.read_ptr(t.addr.offset(off)?).ok().filter(|a| !self.none(*a));
        }
        let dict = self.py.ptr(t.addr, key::tstate::dict).ok().filter(|d| !d.is_null())?;
        self.r.lookup();
        let v = self.r.dict_lookup(dict, "__asyncio_running_event_loop__").filter(|v| !self.none(*v))?;
        let ty = objects::ob_type(self.py.mem, self.py.offsets, v).ok()?;
        if self.r.type_lineage(ty).iter().any(|n| n.ends_with("_RunningLoopHolder")) {
            // `rl_pid` after `rl_loop`: a holder a forked parent left is not this
            // process's loop (CPython's get_running_loop checks the same).
            let holder_pid = self.py.mem.read_u32(v.offset(self.header.checked_add(8)?)?).ok()?;
            if self.pid.is_some_and(|p| p != holder_pid) {
                return None;
            }
            return self.word(v, FIRST_FIELD).ok().filter(|l| !self.none(*l));
        }
        Some(v)
    }

    /// Read one task.
    fn task(&self, addr: RemoteAddr, current: &[RemoteAddr]) -> Result<TaskInfo, Error> {
        self.r.lookup();
        let info = self.info_of(addr);
        let native = info.class == Class::CTask;
        let state = self.state_of(addr, info)?;
        // An attribute a Python task (or 3.6's Python task on the C Future) must have.
        let need = |n: &'static str| self.r.attribute_or_default(addr, n).ok_or(Error::Corrupt { what: n, addr });
        let (loop_, outcome) = if info.c_future {
            let l = self.layout.ok_or(Error::MissingOffset("TaskObj (no _asyncio layout for this version)"))?;
            let outcome = if state == TaskState::Finished {
                let exc = self.word(addr, l.exception)?;
                Some(if exc.is_null() { self.word(addr, l.result)? } else { exc })
            } else {
                None
            };
            (self.word(addr, l.loop_)?, outcome)
        } else {
            let attr = |n: &str| self.r.attribute_or_default(addr, n).unwrap_or(RemoteAddr::NULL);
            let outcome = (state == TaskState::Finished).then(|| {
                let exc = attr("_exception");
                if self.none(exc) { attr("_result") } else { exc }
            });
            (need("_loop")?, outcome)
        };
        let (coro, fut_waiter, name, awaited_by) = if native {
            let l = self.layout.ok_or(Error::MissingOffset("TaskObj (no _asyncio layout for this version)"))?;
            let name = match l.name {
                Some(off) => Some(self.task_name(self.word(addr, off)?)),
                None => None,
            };
            let awaited_by = match (l.awaited_by, l.awaited_by_is_set) {
                (Some(ab), Some(is_set)) => {
                    let ab = self.word(addr, ab)?;
                    let at = addr.offset(self.header.checked_add(is_set).ok_or(Error::Overflow(addr))?).ok_or(Error::Overflow(addr))?;
                    if ab.is_null() {
                        Some(Vec::new())
                    } else if self.py.mem.read_u8(at)? != 0 {
                        Some(self.all_members(ab, "a task's awaited_by set"))
                    } else {
                        Some(vec![ab])
                    }
                }
                _ => None,
            };
            (self.word(addr, l.coro)?, self.word(addr, l.fut_waiter)?, name, awaited_by)
        } else {
            let name = self.r.attribute_or_default(addr, "_name").filter(|n| !self.none(*n)).map(|n| self.task_name(n));
            // 3.14's Python future keeps its awaiters in a name-mangled set.
            let awaited_by = self.r.attribute_or_default(addr, "_Future__asyncio_awaited_by").filter(|s| !self.none(*s)).map(|s| self.all_members(s, "a task's awaited_by set"));
            (need("_coro")?, need("_fut_waiter")?, name, awaited_by)
        };
        let callbacks = self.callbacks(addr, info.c_future);
        let (chain, chain_error) = if coro.is_null() { (Vec::new(), None) } else { self.chain(coro) };
        let waiting = if state == TaskState::Pending && !self.none(fut_waiter) { Some(self.waiting(fut_waiter, &chain)) } else { None };
        Ok(TaskInfo {
            addr,
            native,
            name,
            state,
            loop_,
            coro,
            chain,
            chain_error,
            waiting,
            // Recorded by 3.14+ (filled from the waits below otherwise).
            awaited_by: awaited_by.unwrap_or_default(),
            running: current.contains(&addr),
            outcome,
            callbacks,
        })
    }

    /// The number of done callbacks: the C future's `callback0` and list, or the
    /// Python future's `_callbacks` list.
    fn callbacks(&self, addr: RemoteAddr, c_future: bool) -> Option<u64> {
        let count = |list: RemoteAddr| -> Option<u64> {
            if self.none(list) {
                return Some(0);
            }
            match self.r.members(list, MAX_EDGES) {
                Ok((m, false)) => Some(m.len() as u64),
                Ok((_, true)) => {
                    self.note(format!("the task at {addr} has more than {MAX_EDGES} done callbacks: their number is not given"));
                    None
                }
                Err(_) => None,
            }
        };
        if c_future {
            let l = self.layout?;
            let first = match l.callback0 {
                Some(off) => u64::from(!self.word(addr, off).ok()?.is_null()),
                None => 0,
            };
            return count(self.word(addr, l.callbacks).ok()?)?.checked_add(first);
        }
        self.r.lookup();
        count(self.r.attribute_or_default(addr, "_callbacks")?)
    }

    /// `Task.get_name()`: the str, or `Task-N` for 3.13+'s lazily named tasks.
    fn task_name(&self, name: RemoteAddr) -> String {
        if let Some(n) = self.r.int_as_u64(name) {
            return format!("Task-{n}");
        }
        self.r.str_key(name).unwrap_or_else(|| format!("<unreadable name at {name}>"))
    }

    /// Follow a coroutine's await chain: each frame-owning link, and why it ended
    /// early if it did.
    fn chain(&self, coro: RemoteAddr) -> (Vec<AwaitFrame>, Option<Error>) {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut obj = coro;
        for _ in 0..MAX_AWAIT_DEPTH {
            if obj.is_null() {
                return (out, None);
            }
            if !seen.insert(obj) {
                return (out, Some(Error::Corrupt { what: "await chain (it loops back)", addr: obj }));
            }
            let ty = match objects::ob_type(self.py.mem, self.py.offsets, obj) {
                Ok(t) => t,
                Err(e) => return (out, Some(e)),
            };
            let next = match self.types.kind(ty) {
                Some(Link::ASend) => self.py.ptr(obj, key::asend::gen),
                Some(Link::Wrapper) => self.word(obj, FIRST_FIELD),
                Some(Link::Gen(kind)) => match self.gen_step(obj, kind, &mut out) {
                    Ok(Some(n)) => Ok(n),
                    Ok(None) => return (out, None),
                    Err(e) => return (out, Some(e)),
                },
                None => return (out, None),
            };
            match next {
                Ok(n) => obj = n,
                Err(e) => return (out, Some(e)),
            }
        }
        (out, Some(Error::Corrupt { what: "await chain (deeper than the 1024 links read)", addr: obj }))
    }

    /// Push a generator's frame; return what it awaits, if anything.
    fn gen_step(&self, gen: RemoteAddr, kind: GenKind, out: &mut Vec<AwaitFrame>) -> Result<Option<RemoteAddr>, Error> {
        let model = self.py.models.gen;
        let (frame_addr, state) = match model.states {
            None => {
                let f = self.py.ptr(gen, key::gen::frame)?;
                if f.is_null() {
                    return Ok(None);
                }
                (f, None)
            }
            Some(states) => {
                let state = self.py.mem.read_u8(self.py.field(gen, key::gen::frame_state)?)? as i8;
                if states.dead.contains(&state) {
                    return Ok(None);
                }
                (self.py.field(gen, key::gen::iframe)?, Some((state, states.executing)))
            }
        };
        out.push(AwaitFrame { kind, object: gen, frame: self.py.frame_at(frame_addr), executing: state.is_some_and(|(s, e)| s == e) });
        let top = |slot: RemoteAddr| -> Result<Option<RemoteAddr>, Error> {
            let v = self.py.mem.read_ptr(slot)?;
            Ok(match StackRef::decode(v.0, self.py.models.stackrefs) {
                StackRef::Object(o) if !o.is_null() => Some(o),
                _ => None,
            })
        };
        let below = |a: RemoteAddr| a.0.checked_sub(8).map(RemoteAddr).ok_or(Error::Overflow(a));
        match model.yield_from {
            YieldFromModel::NextOpcode { opcode } => {
                if self.py.legacy_opcode(frame_addr, 2)? != Some(opcode) {
                    return Ok(None);
                }
                let slot = if self.py.offsets.frame.stacktop.is_some() {
                    let st = self.py.ptr(frame_addr, key::frame::stacktop)?;
                    if st.is_null() {
                        return Ok(None);
                    }
                    below(st)?
                } else {
                    let depth = self.py.mem.read_i32(self.py.field(frame_addr, key::frame::stackdepth)?)?;
                    let depth = u64::try_from(depth).ok().filter(|d| *d > 0).ok_or(Error::Corrupt { what: "frame stack depth", addr: frame_addr })?;
                    let vs = self.py.ptr(frame_addr, key::frame::valuestack)?;
                    vs.offset(depth.saturating_sub(1).saturating_mul(8)).ok_or(Error::Overflow(vs))?
                };
                top(slot)
            }
            YieldFromModel::ResumeAfter { resume } => {
                let instr = self.py.ptr(frame_addr, key::iframe::instr)?;
                let unit = self.py.mem.read_u16(instr.offset(2).ok_or(Error::Overflow(instr))?)?;
                let (op, arg) = ((unit & 0xff) as u8, unit >> 8);
                if !resume.contains(&op) || arg < 2 {
                    return Ok(None);
                }
                top(self.stack_slot(frame_addr, 1)?)
            }
            YieldFromModel::FrameState { yield_from, depth } => match state {
                Some((s, _)) if yield_from.contains(&s) => top(self.stack_slot(frame_addr, depth)?),
                _ => Ok(None),
            },
        }
    }

    /// The address of the slot `depth` down from the top of a 3.11+ interpreter
    /// frame's stack (1 is the top), which must lie above `localsplus`.
    fn stack_slot(&self, frame: RemoteAddr, depth: u8) -> Result<RemoteAddr, Error> {
        let down = u64::from(depth).saturating_mul(8);
        let base = self.py.field(frame, key::iframe::localsplus)?;
        let slot = if self.py.offsets.iframe.stackpointer.is_some() {
            self.py.ptr(frame, key::iframe::stackpointer)?.0.checked_sub(down)
        } else {
            let n = self.py.mem.read_i32(self.py.field(frame, key::iframe::stacktop)?)?;
            u64::try_from(n).ok().and_then(|n| n.checked_mul(8)).and_then(|b| base.0.checked_add(b)).and_then(|t| t.checked_sub(down))
        };
        slot.filter(|s| *s >= base.0).map(RemoteAddr).ok_or(Error::Corrupt { what: "frame stack pointer", addr: frame })
    }

    /// `<TypeName state>`, as asyncio's repr of a future begins.
    fn future_summary(&self, fut: RemoteAddr) -> String {
        let name = self.r.type_name(fut).unwrap_or_else(|_| "?".into());
        match self.state_of(fut, self.info_of(fut)) {
            Ok(st) => format!("<{name} {}>", st.as_str()),
            Err(_) => format!("<{name} at {fut}>"),
        }
    }

    /// What a pending task waits on, from its `fut_waiter` and its chain.
    fn waiting(&self, fut: RemoteAddr, chain: &[AwaitFrame]) -> Waiting {
        let summary = self.future_summary(fut);
        let code = |f: &AwaitFrame| -> Option<(String, String)> {
            let info = f.frame.as_ref().ok()?.info.as_ref().ok()?;
            Some((info.filename.as_ref().ok()?.clone(), info.qualname.clone().or_else(|| info.name.as_ref().ok().cloned())?))
        };
        let in_asyncio = |file: &str, module: &str| file.ends_with(&format!("asyncio/{module}.py"));
        if self.is_task(fut) {
            return Waiting { kind: WaitKind::Task, object: fut, summary, tasks: vec![fut] };
        }
        // A task group's end: the group is `self` of its `__aexit__`/`_aexit` frame.
        for f in chain {
            let Some((file, _)) = code(f) else { continue };
            if !in_asyncio(&file, "taskgroups") {
                continue;
            }
            if let Some(group) = self.local_of_class(f, Class::TaskGroup) {
                return Waiting { kind: WaitKind::TaskGroup, object: fut, summary, tasks: self.group_tasks(group) };
            }
        }
        if self.class_of(fut) == Class::Gathering {
            self.r.lookup();
            let children = self.r.attribute(fut, "_children").map(|c| self.all_members(c, "gather's _children")).unwrap_or_default();
            // A finished child is no longer waited on (3.14 drops it from awaited_by).
            let pending = children.into_iter().filter(|c| self.is_task(*c) && self.pending(*c)).collect();
            return Waiting { kind: WaitKind::Gather, object: fut, summary, tasks: pending };
        }
        if let Some((file, name)) = chain.last().and_then(code) {
            if name == "sleep" && in_asyncio(&file, "tasks") {
                return Waiting { kind: WaitKind::Sleep, object: fut, summary, tasks: Vec::new() };
            }
        }
        Waiting { kind: WaitKind::Future, object: fut, summary, tasks: Vec::new() }
    }

    fn local_of_class(&self, f: &AwaitFrame, class: Class) -> Option<RemoteAddr> {
        self.locals_of_class(f, class).into_iter().next()
    }

    fn locals_of_class(&self, f: &AwaitFrame, class: Class) -> Vec<RemoteAddr> {
        let Some(frame) = f.frame.as_ref().ok() else { return Vec::new() };
        let locals: Vec<Local> = self.py.locals(frame, self.cell_type).unwrap_or_default();
        locals.into_iter().map(|l| l.value).filter(|v| !v.is_null() && self.class_of(*v) == class).collect()
    }

    fn group_tasks(&self, group: RemoteAddr) -> Vec<RemoteAddr> {
        self.r.lookup();
        let tasks = self.r.attribute(group, "_tasks").map(|s| self.all_members(s, "a TaskGroup's _tasks")).unwrap_or_default();
        tasks.into_iter().filter(|t| self.is_task(*t)).collect()
    }

    /// Whether a task (C or Python) is still pending; unknown counts as pending, a
    /// state that is none of asyncio's does not.
    fn pending(&self, task: RemoteAddr) -> bool {
        match self.state_of(task, self.info_of(task)) {
            Ok(s) => s == TaskState::Pending,
            Err(Error::Corrupt { .. }) => false,
            Err(_) => true,
        }
    }

    /// Fill `awaited_by` from the waits where the runtime does not record it (≤3.13,
    /// and Python tasks): a task awaits the tasks its wait is over. Task groups whose
    /// parent is still in the `async with` body are found through the chain's locals.
    fn link(&self, tasks: &mut [TaskInfo]) {
        let recorded = self.layout.is_some_and(|l| l.awaited_by.is_some());
        let index: HashMap<RemoteAddr, usize> = tasks.iter().enumerate().map(|(i, t)| (t.addr, i)).collect();
        let natives: HashSet<RemoteAddr> = tasks.iter().filter(|t| t.native).map(|t| t.addr).collect();
        let native = |a: RemoteAddr| natives.contains(&a);
        let mut edges: Vec<(RemoteAddr, RemoteAddr)> = Vec::new();
        let mut groups: HashSet<RemoteAddr> = HashSet::new();
        for t in tasks.iter() {
            if let Some(w) = &t.waiting {
                edges.extend(w.tasks.iter().map(|c| (t.addr, *c)));
            }
            // A task group's tasks are awaited by the task that opened it (its
            // `_parent_task`, as 3.14 records it), found through any frame of any
            // pending task that holds the group.
            if t.state != TaskState::Pending {
                continue;
            }
            for f in &t.chain {
                for group in self.locals_of_class(f, Class::TaskGroup) {
                    if !groups.insert(group) {
                        continue;
                    }
                    self.r.lookup();
                    let Some(parent) = self.r.attribute_or_default(group, "_parent_task").filter(|p| self.is_task(*p)) else { continue };
                    edges.extend(self.group_tasks(group).into_iter().filter(|c| *c != parent).map(|c| (parent, c)));
                }
            }
            if edges.len() > MAX_ALL_EDGES {
                self.note(format!("more than {MAX_ALL_EDGES} await edges: the rest are not linked"));
                break;
            }
        }
        let mut have: HashSet<(RemoteAddr, RemoteAddr)> = tasks.iter().flat_map(|t| t.awaited_by.iter().map(move |p| (*p, t.addr))).collect();
        for (parent, child) in edges {
            let Some(&i) = index.get(&child) else { continue };
            // 3.14+ records edges between C tasks itself; one with a Python task on
            // either side only this derivation finds.
            if recorded && native(child) && native(parent) {
                continue;
            }
            let Some(t) = tasks.get_mut(i) else { continue };
            if t.awaited_by.len() < MAX_EDGES && have.insert((parent, child)) {
                t.awaited_by.push(parent);
            }
        }
    }
}
