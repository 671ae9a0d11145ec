//! `pycoroner heap` as text: each interpreter's census, a table that fits a terminal.

use crate::escape::text as e;
use crate::heap::{Heap, HeapType};
use crate::Report;

/// `pycoroner heap` as text: the report's header, each interpreter's census (its
/// `top` largest types), then pycoroner's warnings.
pub fn render(report: &Report, top: usize) -> String {
    let mut out = String::new();
    super::faulthandler::header(&mut out, report);
    if report.heap.is_empty() {
        out.push_str("No census: see the warnings.\n");
    }
    section(&mut out, &report.heap, top, report.runtime.as_ref());
    if !report.warnings.is_empty() {
        out.push_str("pycoroner warnings:\n");
        for w in &report.warnings {
            out.push_str(&format!("  - {}\n", e(&w.to_string())));
        }
    }
    out
}

/// `1.2 MiB`, `340 KiB`, `96 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// The collector's own state: `GC: enabled, thresholds [700, 10, 10], counts [...]`.
fn gc_line(gc: &crate::runtime::Gc) -> String {
    let on = match gc.enabled {
        Some(true) => "enabled",
        Some(false) => "disabled",
        None => "enabled or not (unknown)",
    };
    let collecting = if gc.collecting == Some(true) { ", collecting now" } else { "" };
    let uncollectable = gc.uncollectable.filter(|n| *n > 0).map(|n| format!(", {n} uncollectable so far")).unwrap_or_default();
    format!("GC: {on}{collecting}, thresholds {:?}, counts {:?}{uncollectable}", gc.thresholds, gc.counts)
}

/// The census of every interpreter, the `top` largest types of each, under its
/// collector's state when the report has it.
pub fn section(out: &mut String, heaps: &[Heap], top: usize, runtime: Option<&crate::runtime::Runtime>) {
    for h in heaps {
        let gc = runtime.and_then(|r| r.interpreters.iter().find(|i| i.id == h.interpreter_id)).and_then(|i| i.gc.as_ref());
        let who = h.interpreter_id.filter(|i| *i != 0).map(|i| format!(" of interpreter {i}")).unwrap_or_default();
        if let Some(t) = h.total_refs {
            out.push_str(&format!("Total references (sys.gettotalrefcount()): {t}\n"));
        }
        out.push_str(&format!("Objects tracked by the garbage collector{who}: {} objects, {}\n", h.objects, bytes(h.size)));
        if let Some(gc) = gc {
            out.push_str(&format!("  {}\n", gc_line(gc)));
        }
        let lists: Vec<String> = h.lists.iter().map(|l| format!("{} {}", e(&l.name), l.objects)).collect();
        let untracked_note = match (&h.untracked, &h.all_objects) {
            (Some(_), _) => "",
            (None, Some(_)) => "; str, int, float and other untracked objects are in all objects, below",
            (None, None) => "; str, int, float and other untracked objects are not counted: --untracked counts them",
        };
        out.push_str(&format!("  ({}{untracked_note})\n", lists.join(", ")));
        for l in h.lists.iter().filter(|l| l.broken.is_some()) {
            out.push_str(&format!("  warning: the {} list: {}\n", e(&l.name), e(l.broken.as_deref().unwrap_or_default())));
        }
        if h.unreadable > 0 {
            out.push_str(&format!("  warning: {} objects have a type that cannot be read\n", h.unreadable));
        }
        if h.freed > 0 {
            out.push_str(&format!("  warning: {} of them are freed memory (a debug build's 0xdd pattern): freed while still tracked\n", h.freed));
        }
        types_table(out, &h.types, top);
        if let Some(u) = &h.untracked {
            out.push_str(&format!("\nObjects the collector does not track, found through the tracked ones: {} objects, {}\n", u.objects, bytes(u.size)));
            out.push_str("  (dict keys and values, list, tuple and set items, instance attributes and slots, cells, functions, methods, modules and types;\n   an object only other types refer to is not seen)\n");
            if u.unreadable > 0 {
                out.push_str(&format!("  warning: {} referred-to objects have a type that cannot be read\n", u.unreadable));
            }
            types_table(out, &u.types, top);
        }
        if let Some(a) = &h.all_objects {
            out.push_str(&format!("\nAll objects (the Py_TRACE_REFS list, sys.getobjects()): {} objects, {}\n", a.objects, bytes(a.size)));
            out.push_str("  (tracked by the collector or not, and objects nothing refers to: leaked references)\n");
            if let Some(b) = &a.list.broken {
                out.push_str(&format!("  warning: the list: {}\n", e(b)));
            }
            if a.unreadable > 0 {
                out.push_str(&format!("  warning: {} objects have a type that cannot be read\n", a.unreadable));
            }
            if a.freed > 0 {
                out.push_str(&format!("  warning: {} of them are freed memory (a debug build's 0xdd pattern): a use after free\n", a.freed));
            }
            types_table(out, &a.types, top);
        }
        if !h.largest.is_empty() {
            out.push_str(&format!("\n  Largest objects:\n  {:>10}  {:>10}  {:<18}  type and repr\n", "size", "len", "address"));
            for o in &h.largest {
                let approx = if o.exact { " " } else { "~" };
                let len = o.len.map(|n| n.to_string()).unwrap_or_default();
                let refs = super::faulthandler::refcount_note(o.refcount, o.immortal);
                let untracked = if o.untracked { " (untracked)" } else { "" };
                out.push_str(&format!("  {approx}{:>9}  {len:>10}  0x{:016x}  {}{untracked} {}{refs}\n", bytes(o.size), o.address, e(&o.type_name), e(&o.repr)));
            }
        }
        if let Some(g) = h.garbage.as_ref().filter(|g| g.count > 0) {
            out.push_str(&format!("\n  gc.garbage: {} objects\n", g.count));
            for o in &g.objects {
                out.push_str(&format!("    0x{:016x}  {} {}\n", o.address, e(&o.type_name), e(&o.repr)));
            }
            if g.count > g.objects.len() as u64 {
                out.push_str(&format!("    ... ({} more)\n", g.count.saturating_sub(g.objects.len() as u64)));
            }
        }
        if let Some(a) = &h.allocator {
            allocator(out, a);
        } else if let Some(why) = &h.allocator_unavailable {
            out.push_str(&format!("\n  pymalloc: not readable: {}\n", e(why)));
        }
        let other_tables_inexact = h.untracked.iter().map(|u| &u.types).chain(h.all_objects.iter().map(|a| &a.types)).any(|ts| ts.iter().any(|t| !t.exact));
        if h.types.iter().any(|t| !t.exact) || h.largest.iter().any(|o| !o.exact) || other_tables_inexact {
            out.push_str("  (~: a type with its own __sizeof__; its basic sizes only)\n");
        }
        out.push('\n');
    }
}

/// The `top` largest of `types` as a table, the rest summed on one line.
fn types_table(out: &mut String, types: &[HeapType], top: usize) {
    out.push_str(&format!("\n  {:>10}  {:>10}  type\n", "count", "size"));
    for t in types.iter().take(top) {
        // `~`: the type's own __sizeof__ counts more than its basic size.
        let approx = if t.exact { " " } else { "~" };
        out.push_str(&format!("  {:>10}  {approx}{:>9}  {}\n", t.count, bytes(t.size), e(&t.name)));
    }
    if let Some(rest) = types.get(top..).filter(|r| !r.is_empty()) {
        let (n, s) = rest.iter().fold((0u64, 0u64), |(n, s), t| (n.saturating_add(t.count), s.saturating_add(t.size)));
        out.push_str(&format!("  {:>10}  {:>10}  ({} more types; --top N shows more)\n", n, bytes(s), rest.len()));
    }
}

/// `+1 234` or `-56`.
fn signed(n: i128) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// `+1.2 MiB` or `-340 KiB`.
fn signed_bytes(n: i128) -> String {
    let b = bytes(u64::try_from(n.unsigned_abs()).unwrap_or(u64::MAX));
    match n {
        0 => "0 B".into(),
        n if n > 0 => format!("+{b}"),
        _ => format!("-{b}"),
    }
}

/// `pycoroner heap --diff`: what grew between two censuses, the `top` largest changes.
pub fn diff(out: &mut String, d: &crate::heap::HeapDiff, top: usize) {
    out.push_str(&format!("Heap growth from {} to {}:\n", e(&d.before), e(&d.after)));
    let grow = |x: &[u64; 2]| i128::from(x[1]) - i128::from(x[0]);
    out.push_str(&format!(
        "  {} objects ({} -> {}), {} ({} -> {})\n\n",
        signed(grow(&d.objects)),
        d.objects[0],
        d.objects[1],
        signed_bytes(grow(&d.size)),
        bytes(d.size[0]),
        bytes(d.size[1])
    ));
    out.push_str(&format!("  {:>10}  {:>11}  {:>21}  type\n", "objects", "size", "count"));
    for t in d.types.iter().take(top) {
        let counts = format!("{} -> {}", t.count[0], t.count[1]);
        let untracked = if t.untracked { " (untracked)" } else { "" };
        out.push_str(&format!("  {:>10}  {:>11}  {counts:>21}  {}{untracked}\n", signed(t.count_growth()), signed_bytes(t.size_growth()), e(&t.name)));
    }
    if d.types.len() > top {
        out.push_str(&format!("  ({} more types changed; --top N shows more)\n", d.types.len().saturating_sub(top)));
    }
}

/// `py-gc`: each interpreter's collector state and `gc.garbage`.
pub fn gc(out: &mut String, report: &Report) {
    for h in &report.heap {
        let gc = report.runtime.as_ref().and_then(|r| r.interpreters.iter().find(|i| i.id == h.interpreter_id)).and_then(|i| i.gc.as_ref());
        if report.heap.len() > 1 {
            out.push_str(&format!("Interpreter {}:\n", h.interpreter_id.map_or_else(|| "?".into(), |i| i.to_string())));
        }
        match gc {
            Some(gc) => {
                out.push_str(&format!("{}\n", gc_line(gc)));
                if !gc.callbacks.is_empty() {
                    out.push_str(&format!("gc.callbacks: [{}]\n", gc.callbacks.iter().map(|c| e(c).into_owned()).collect::<Vec<_>>().join(", ")));
                }
            }
            None => out.push_str("GC: its state could not be read\n"),
        }
        let lists: Vec<String> = h.lists.iter().map(|l| format!("{} {}", e(&l.name), l.objects)).collect();
        out.push_str(&format!("Objects tracked: {} ({})\n", h.objects, lists.join(", ")));
        match h.garbage.as_ref() {
            Some(g) => {
                out.push_str(&format!("gc.garbage: {} objects\n", g.count));
                for o in &g.objects {
                    out.push_str(&format!("  0x{:016x}  {} {}\n", o.address, e(&o.type_name), e(&o.repr)));
                }
            }
            None => out.push_str("gc.garbage: not found (the gc module is not imported)\n"),
        }
    }
}

fn step_text(s: &crate::heap::PathStep) -> String {
    let possible = if s.possible { " (possible)" } else { "" };
    match &s.via {
        Some(v) => format!("{}{possible} {} at 0x{:x}", e(v), e(&s.type_name), s.address),
        None => format!("{} at 0x{:x}", e(&s.type_name), s.address),
    }
}

/// `pycoroner referrers`: the object, what refers to it directly, and the paths from
/// roots down to it.
pub fn referrers(out: &mut String, r: &crate::heap::Referrers) {
    out.push_str(&format!("Referrers of 0x{:x} ({}): {}\n", r.address, e(&r.type_name), e(&r.repr)));
    out.push_str(&format!("\n  Referring to it directly ({}):\n", r.direct.len()));
    for d in &r.direct {
        let possible = if d.possible { " (possible)" } else { "" };
        out.push_str(&format!("    0x{:016x}  {} {}{possible}\n", d.address, e(&d.type_name), e(d.via.as_deref().unwrap_or_default())));
    }
    if r.paths.is_empty() {
        out.push_str(&format!("\n  No path from a module, a frame's local or a type within {} levels (--depth N searches further).\n", r.levels));
    } else {
        out.push_str("\n  Paths from roots:\n");
        for p in &r.paths {
            let mut line = e(&p.root).into_owned();
            for (i, s) in p.steps.iter().enumerate() {
                // A module's globals dict and a local's value open the path: named by the root.
                if i == 0 && s.via.is_none() && (p.root.starts_with("module ") || p.root.starts_with("type ")) {
                    continue;
                }
                line.push_str(" → ");
                line.push_str(&step_text(s));
            }
            out.push_str(&format!("    {line}\n"));
        }
    }
    if let Some(t) = &r.truncated {
        out.push_str(&format!("  (the search stopped short: {})\n", e(t)));
    }
}

/// pymalloc's size classes, as `sys._debugmallocstats()` lays them out.
fn allocator(out: &mut String, a: &crate::heap::Allocator) {
    let reclaimed = a.arenas_allocated_total.saturating_sub(a.arenas);
    out.push_str(&format!(
        "\n  pymalloc: {} arenas ({} allocated in all, {reclaimed} reclaimed, at most {} at once), {} free pools of {}\n",
        a.arenas,
        a.arenas_allocated_total,
        a.arenas_highwater,
        a.free_pools,
        bytes(a.pool_size)
    ));
    out.push_str("    class   size   num pools   blocks in use  avail blocks\n");
    for c in &a.classes {
        out.push_str(&format!("    {:>5}  {:>5}  {:>10}  {:>14}  {:>12}\n", c.class, c.size, c.pools, c.blocks, c.free));
    }
    if a.bad_pools > 0 {
        out.push_str(&format!("    warning: {} pools could not be read\n", a.bad_pools));
    }
}
