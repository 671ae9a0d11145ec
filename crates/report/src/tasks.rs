//! asyncio tasks in the report (`--tasks`): each thread's event loop and its tasks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An event loop and its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventLoop {
    /// Address of the loop object.
    pub address: u64,
    /// Its tasks, in the order the runtime lists them.
    pub tasks: Vec<Task>,
    /// Await cycles among them (task addresses, the first repeated at the end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cycles: Vec<Vec<u64>>,
}

/// One asyncio task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Address of the task object (the id `python -m asyncio ps` shows).
    pub address: u64,
    /// `get_name()` (3.8+; absent before, and when unreadable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its state.
    pub state: TaskState,
    /// The task its loop is running now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub running: bool,
    /// The C `_asyncio` implementation (else the pure-Python one).
    pub native: bool,
    /// Where it is suspended: its coroutine first, then what each one awaits, down to
    /// the innermost (`Task.get_stack()` shows the first only).
    pub coroutine_stack: Vec<CoroutineFrame>,
    /// Why the chain ends early, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coroutine_stack_error: Option<String>,
    /// What a pending task waits on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits_on: Option<TaskWait>,
    /// The tasks awaiting it (addresses).
    #[serde(default)]
    pub awaited_by: Vec<u64>,
    /// A finished task's result or exception, rendered like `repr()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Its done callbacks: whatever awaits it (a task, a gather, a task group,
    /// `run_until_complete`) registers one. A pending task with none was never awaited:
    /// nothing will learn that it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callbacks: Option<u64>,
}

impl Task {
    /// Pending with no done callback: nothing awaits it or will see its end.
    pub fn never_awaited(&self) -> bool {
        self.state == TaskState::Pending && self.callbacks == Some(0) && !self.running
    }
}

impl Task {
    /// The name, or `Task at 0x...` for unnamed tasks (3.6–3.7).
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("Task at {:#x}", self.address))
    }
}

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Not done.
    Pending,
    /// Cancelled.
    Cancelled,
    /// Finished with a result or exception.
    Finished,
}

impl TaskState {
    /// As asyncio spells it in `repr(task)`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Cancelled => "cancelled",
            TaskState::Finished => "finished",
        }
    }
}

/// One link of a task's await chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoroutineFrame {
    /// What owns the frame.
    pub kind: AwaitableKind,
    /// `co_name`.
    pub function: Option<String>,
    /// `co_qualname` (3.11+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualname: Option<String>,
    /// `co_filename`.
    pub file: Option<String>,
    /// The line it is suspended at (or running).
    pub line: Option<u32>,
    /// Address of the coroutine, generator or async generator object.
    pub address: u64,
    /// Address of its frame (the `address` of the same frame in the thread's stack
    /// when the task is running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_address: Option<u64>,
    /// Running now (3.11+).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executing: bool,
}

impl CoroutineFrame {
    /// `qualname file:line`, as `python -m asyncio pstree` writes a frame.
    pub fn label(&self) -> String {
        let name = self.qualname.as_deref().or(self.function.as_deref()).unwrap_or("???");
        let file = self.file.as_deref().unwrap_or("???");
        match self.line {
            Some(l) => format!("{name} {file}:{l}"),
            None => format!("{name} {file}"),
        }
    }
}

/// What owns a frame of an await chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AwaitableKind {
    /// `async def`.
    Coroutine,
    /// A generator.
    Generator,
    /// An async generator.
    AsyncGenerator,
}

/// What a pending task waits on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskWait {
    /// The kind of wait.
    pub kind: WaitKind,
    /// The future (or task) waited on.
    pub address: u64,
    /// A task's name; for a future, its type and state as asyncio's repr of it begins
    /// (`<_GatheringFuture pending>`).
    pub description: String,
    /// The tasks the wait is over (addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<u64>,
}

/// The kind of a task's wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WaitKind {
    /// Another task.
    Task,
    /// `asyncio.gather` over its children.
    Gather,
    /// A `TaskGroup`'s end, over its tasks.
    TaskGroup,
    /// `asyncio.sleep`.
    Sleep,
    /// Any other future.
    Future,
}

impl WaitKind {
    /// In words.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Task => "task",
            WaitKind::Gather => "gather",
            WaitKind::TaskGroup => "task group",
            WaitKind::Sleep => "sleep",
            WaitKind::Future => "future",
        }
    }
}

/// Await cycles among tasks (each task → the tasks it awaits, from `awaited_by`):
/// each cycle's addresses with the first repeated at the end, found by a depth-first
/// search with an explicit stack, as `python -m asyncio pstree` finds them.
pub fn await_cycles(tasks: &[Task]) -> Vec<Vec<u64>> {
    use std::collections::HashMap;
    // Searched from each awaiting task in the order the awaits are met (as `pstree`
    // does), so a cycle is named from the same task.
    let mut awaits: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut order: Vec<u64> = Vec::new();
    for t in tasks {
        for p in &t.awaited_by {
            if !awaits.contains_key(p) {
                order.push(*p);
            }
            awaits.entry(*p).or_default().push(t.address);
        }
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        Grey,
        Black,
    }
    /// Most cycles named (a hostile graph may hold very many).
    const MAX_CYCLES: usize = 1000;
    let mut color: HashMap<u64, Color> = HashMap::new();
    let mut cycles = Vec::new();
    // Where each grey node sits on the path.
    let mut at: HashMap<u64, usize> = HashMap::new();
    for &start in &order {
        if color.contains_key(&start) {
            continue;
        }
        // (node, next child index); `path` is the grey nodes in order.
        let mut stack: Vec<(u64, usize)> = vec![(start, 0)];
        let mut path: Vec<u64> = vec![start];
        at.insert(start, 0);
        color.insert(start, Color::Grey);
        while let Some((v, i)) = stack.last().copied() {
            let kids = awaits.get(&v).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&w) = kids.get(i) {
                if let Some(top) = stack.last_mut() {
                    top.1 = i.saturating_add(1);
                }
                match color.get(&w) {
                    None => {
                        color.insert(w, Color::Grey);
                        stack.push((w, 0));
                        at.insert(w, path.len());
                        path.push(w);
                    }
                    Some(Color::Grey) if cycles.len() < MAX_CYCLES => {
                        if let Some(&i) = at.get(&w) {
                            let mut c: Vec<u64> = path.get(i..).unwrap_or(&[]).to_vec();
                            c.push(w);
                            cycles.push(c);
                        }
                    }
                    Some(Color::Grey) => {}
                    Some(Color::Black) => {}
                }
            } else {
                color.insert(v, Color::Black);
                stack.pop();
                path.pop();
                at.remove(&v);
            }
        }
    }
    cycles
}
