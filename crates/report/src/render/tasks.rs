//! asyncio tasks as text: the await tree laid out as `python -m asyncio pstree` prints
//! it (3.14's `asyncio.tools`), and the table `python -m asyncio ps` prints. Both read
//! only the report; every string from the target is escaped.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::escape::text as e;
use crate::tasks::{EventLoop, Task};

/// A node of the tree: a task, or a coroutine frame under a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Node {
    Task(u64),
    Coro(usize),
}

/// Deepest tree drawn (a deeper one ends in `...`): bounds the output, not a stack.
const MAX_TREE_DEPTH: usize = 256;
/// Most lines one tree draws (a task awaited by many tasks is drawn under each).
const MAX_TREE_LINES: usize = 1 << 20;

/// The await tree: one block of lines per root (a task no task awaits), each task
/// `(T) name` with the coroutine frames of the task awaiting it above it, innermost
/// last, as `pstree` draws them. Tasks in a cycle have no root and are listed by
/// [`cycle_lines`] instead.
pub fn tree(tasks: &[Task]) -> Vec<String> {
    let names: HashMap<u64, String> = tasks.iter().map(|t| (t.address, t.label())).collect();
    let stacks: HashMap<u64, Vec<String>> = tasks.iter().map(|t| (t.address, t.coroutine_stack.iter().map(|f| f.label()).collect())).collect();
    let mut labels: HashMap<Node, String> = tasks.iter().map(|t| (Node::Task(t.address), format!("(T) {}", e(&t.label())))).collect();
    let mut children: HashMap<Node, Vec<Node>> = HashMap::new();
    let mut coro_nodes: HashMap<(Node, String), Node> = HashMap::new();
    let mut next = 0usize;
    let mut coro = |parent: Node, frame: &str, labels: &mut HashMap<Node, String>, children: &mut HashMap<Node, Vec<Node>>| -> Node {
        if let Some(n) = coro_nodes.get(&(parent, frame.to_string())) {
            return *n;
        }
        next = next.saturating_add(1);
        let n = Node::Coro(next);
        labels.insert(n, format!(" {}", e(frame)));
        children.entry(parent).or_default().push(n);
        coro_nodes.insert((parent, frame.to_string()), n);
        n
    };
    // Each (awaiter, awaited) edge hangs the awaited task under the awaiter's frames.
    let mut awaiting: HashSet<u64> = HashSet::new();
    let mut hung: HashSet<(Node, u64)> = HashSet::new();
    for t in tasks {
        for parent in &t.awaited_by {
            if !names.contains_key(parent) {
                continue;
            }
            awaiting.insert(*parent);
            let mut cur = Node::Task(*parent);
            for frame in stacks.get(parent).map(Vec::as_slice).unwrap_or(&[]) {
                cur = coro(cur, frame, &mut labels, &mut children);
            }
            if hung.insert((cur, t.address)) {
                children.entry(cur).or_default().push(Node::Task(t.address));
            }
        }
    }
    // A task awaiting no task shows its own frames.
    for t in tasks.iter().filter(|t| !awaiting.contains(&t.address)) {
        let mut cur = Node::Task(t.address);
        for frame in stacks.get(&t.address).map(Vec::as_slice).unwrap_or(&[]) {
            cur = coro(cur, frame, &mut labels, &mut children);
        }
    }
    let all_children: HashSet<Node> = children.values().flatten().copied().collect();
    let mut out = Vec::new();
    let mut drawn: HashSet<u64> = HashSet::new();
    'roots: for t in tasks {
        let root = Node::Task(t.address);
        if all_children.contains(&root) {
            continue;
        }
        // Depth-first with an explicit stack: (node, prefix, last).
        let mut stack = vec![(root, String::new(), true, 0usize)];
        let mut on_path: Vec<Node> = Vec::new();
        while let Some((node, prefix, last, depth)) = stack.pop() {
            if out.len() >= MAX_TREE_LINES {
                out.push(format!("... (the tree is cut at {MAX_TREE_LINES} lines)"));
                break 'roots;
            }
            if let Node::Task(a) = node {
                drawn.insert(a);
            }
            on_path.truncate(depth);
            let branch = if last { "└── " } else { "├── " };
            let label = labels.get(&node).map(String::as_str).unwrap_or("?");
            if depth >= MAX_TREE_DEPTH || on_path.contains(&node) {
                out.push(format!("{prefix}{branch}..."));
                continue;
            }
            out.push(format!("{prefix}{branch}{label}"));
            on_path.push(node);
            let pref = format!("{prefix}{}", if last { "    " } else { "│   " });
            let kids = children.get(&node).map(Vec::as_slice).unwrap_or(&[]);
            for (i, k) in kids.iter().enumerate().rev() {
                stack.push((*k, pref.clone(), i.saturating_add(1) == kids.len(), depth.saturating_add(1)));
            }
        }
    }
    // Tasks only an await cycle leads to have no root: named, not lost.
    let undrawn: Vec<String> = tasks.iter().filter(|t| !drawn.contains(&t.address)).map(|t| e(&t.label()).into_owned()).collect();
    if !undrawn.is_empty() && out.len() < MAX_TREE_LINES {
        out.push(format!("not drawn (in or under an await cycle): {}", undrawn.join(", ")));
    }
    out
}

/// `cycle: a → b → a`, one line per await cycle, named like `pstree` names them.
pub fn cycle_lines(l: &EventLoop) -> Vec<String> {
    let names: HashMap<u64, String> = l.tasks.iter().map(|t| (t.address, t.label())).collect();
    l.cycles
        .iter()
        .map(|c| {
            let parts: Vec<String> = c.iter().map(|a| names.get(a).map_or_else(|| format!("{a:#x}"), |n| e(n).into_owned())).collect();
            format!("cycle: {}", parts.join(" → "))
        })
        .collect()
}

/// The `python -m asyncio ps` table: one row per (task, awaiter), header and rule
/// first; `tid` is the thread's LWP.
pub fn table(tasks: &[Task], tid: u64) -> Vec<String> {
    let names: HashMap<u64, &Task> = tasks.iter().map(|t| (t.address, t)).collect();
    let mut out = vec![
        format!("{:<10} {:<20} {:<20} {:<50} {:<50} {:<15} {:<15}", "tid", "task id", "task name", "coroutine stack", "awaiter chain", "awaiter name", "awaiter id"),
        "-".repeat(180),
    ];
    let chain = |t: &Task| -> String {
        t.coroutine_stack.iter().rev().map(|f| e(f.qualname.as_deref().or(f.function.as_deref()).unwrap_or("???")).into_owned()).collect::<Vec<_>>().join(" -> ")
    };
    for t in tasks {
        let own = chain(t);
        let id = format!("{:#x}", t.address);
        let name = e(&t.label()).into_owned();
        if t.awaited_by.is_empty() {
            out.push(format!("{tid:<10} {id:<20} {name:<20} {own:<50} {:<50} {:<15} {:<15}", "", "", "0x0"));
            continue;
        }
        for p in &t.awaited_by {
            let (pchain, pname) = match names.get(p) {
                Some(pt) => (chain(pt), e(&pt.label()).into_owned()),
                None => (String::new(), "Unknown".to_string()),
            };
            out.push(format!("{tid:<10} {id:<20} {name:<20} {own:<50} {pchain:<50} {pname:<15} {:<15}", format!("{p:#x}")));
        }
    }
    out
}

/// The report's section for one loop: a heading, then the tree or the table.
pub fn section(out: &mut String, l: &EventLoop, tid: u64, as_table: bool, indent: &str) {
    let pending = l.tasks.iter().filter(|t| t.state == crate::tasks::TaskState::Pending).count();
    let running = l.tasks.iter().find(|t| t.running).map(|t| format!(", running {}", e(&t.label()))).unwrap_or_default();
    let _ = writeln!(out, "{indent}asyncio event loop at {:#x}: {} task{} ({pending} pending){running}", l.address, l.tasks.len(), if l.tasks.len() == 1 { "" } else { "s" });
    let lines = if as_table { table(&l.tasks, tid) } else { tree(&l.tasks) };
    for line in lines.iter().chain(cycle_lines(l).iter()) {
        let _ = writeln!(out, "{indent}{line}");
    }
    let never: Vec<String> = l.tasks.iter().filter(|t| t.never_awaited()).map(|t| e(&t.label()).into_owned()).collect();
    if !never.is_empty() {
        let _ = writeln!(out, "{indent}never awaited (no done callback: nothing will see them finish): {}", never.join(", "));
    }
    for t in l.tasks.iter().filter(|t| t.state != crate::tasks::TaskState::Pending) {
        let outcome = t.outcome.as_deref().map(|o| format!(": {}", e(o))).unwrap_or_default();
        let _ = writeln!(out, "{indent}{} {}{outcome}", e(&t.label()), t.state.as_str());
    }
}

/// Every thread's event loop and every idle loop of a report, for `py-tasks`: each
/// headed by its thread as faulthandler names it.
pub fn all(report: &crate::Report, as_table: bool) -> String {
    let mut out = String::new();
    for t in &report.threads {
        let Some(l) = &t.event_loop else { continue };
        if !out.is_empty() {
            out.push('\n');
        }
        let name = t.name.as_deref().map(|n| format!(" [{}]", e(n))).unwrap_or_default();
        let lwp = t.native_id.map(|l| format!(" (LWP {l})")).unwrap_or_default();
        let _ = writeln!(out, "Thread 0x{:016x}{name}{lwp}:", t.thread_id);
        section(&mut out, l, t.native_id.map_or(t.thread_id, u64::from), as_table, "");
    }
    for l in report.interpreters.iter().flat_map(|i| i.idle_loops.iter()) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("No thread runs this event loop:\n");
        section(&mut out, l, 0, as_table, "");
    }
    if out.is_empty() {
        out.push_str("No asyncio task in this process (no event loop has a task, or asyncio is not imported).\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{await_cycles, AwaitableKind, CoroutineFrame, TaskState};

    fn frame(name: &str, line: u32) -> CoroutineFrame {
        CoroutineFrame {
            kind: AwaitableKind::Coroutine,
            function: Some(name.into()),
            qualname: Some(name.into()),
            file: Some("app.py".into()),
            line: Some(line),
            address: 1,
            frame_address: None,
            executing: false,
        }
    }

    fn task(address: u64, name: &str, stack: &[(&str, u32)], awaited_by: &[u64], callbacks: u64) -> Task {
        Task {
            address,
            name: Some(name.into()),
            state: TaskState::Pending,
            running: false,
            native: true,
            coroutine_stack: stack.iter().map(|(n, l)| frame(n, *l)).collect(),
            coroutine_stack_error: None,
            waits_on: None,
            awaited_by: awaited_by.to_vec(),
            outcome: None,
            callbacks: Some(callbacks),
        }
    }

    #[test]
    fn the_tree_hangs_awaited_tasks_under_the_awaiting_frames() {
        let tasks = vec![
            task(1, "main", &[("main", 10), ("run", 20)], &[], 1),
            task(2, "a", &[("work", 5)], &[1], 1),
            task(3, "b", &[("work", 6)], &[1], 1),
            task(4, "loose", &[("idle", 7)], &[], 0),
        ];
        let want = [
            "└── (T) main",
            "    └──  main app.py:10",
            "        └──  run app.py:20",
            "            ├── (T) a",
            "            │   └──  work app.py:5",
            "            └── (T) b",
            "                └──  work app.py:6",
            "└── (T) loose",
            "    └──  idle app.py:7",
        ];
        assert_eq!(tree(&tasks), want);
        let l = EventLoop { address: 9, cycles: await_cycles(&tasks), tasks };
        assert!(l.cycles.is_empty());
        let mut out = String::new();
        section(&mut out, &l, 1, false, "");
        assert!(out.contains("never awaited (no done callback: nothing will see them finish): loose\n"), "{out}");
        assert!(!out.contains("never awaited (no done callback: nothing will see them finish): main"), "{out}");
    }

    #[test]
    fn await_cycles_are_named_and_the_tree_ends() {
        let tasks = vec![task(1, "a", &[("f", 1)], &[2], 1), task(2, "b", &[("g", 2)], &[1], 1), task(3, "c", &[], &[], 1)];
        let cycles = await_cycles(&tasks);
        // Searched from the first awaiting task met (b, awaiting a), as pstree does.
        assert_eq!(cycles, vec![vec![2, 1, 2]]);
        let l = EventLoop { address: 9, cycles, tasks };
        assert_eq!(cycle_lines(&l), ["cycle: b → a → b"]);
        // Tasks in a cycle have no root: the rest still draw, and they are named.
        assert_eq!(tree(&l.tasks), ["└── (T) c", "not drawn (in or under an await cycle): a, b"]);
    }

    #[test]
    fn the_table_has_a_row_per_awaiter() {
        let tasks = vec![task(1, "main", &[("main", 10)], &[], 1), task(2, "a", &[("work", 5), ("sleep", 9)], &[1], 1)];
        let rows = table(&tasks, 77);
        assert_eq!(rows.len(), 4);
        assert!(rows[0].starts_with("tid        task id "));
        assert!(rows[3].starts_with("77         0x2                  a                    sleep -> work"), "{}", rows[3]);
        assert!(rows[3].contains(" main ") && rows[3].trim_end().ends_with("0x1"), "{}", rows[3]);
    }

    #[test]
    fn names_from_the_target_are_escaped() {
        let tasks = vec![task(1, "evil\x1b[31m\n", &[], &[], 1)];
        let t = tree(&tasks).join("\n");
        assert!(!t.contains('\x1b') && !t.contains("m\n"), "{t:?}");
    }
}
