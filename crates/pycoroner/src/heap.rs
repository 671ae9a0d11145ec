//! `pycoroner heap`: each interpreter's census (`pycoroner_cpython::heap`) as the
//! report's `heap`.

use pycoroner_cpython::heap::{CensusContext, ReferrerRoots, Root, Search, TypeCount, Via};
use pycoroner_cpython::models::Models;
use pycoroner_cpython::repr::Renderer;
use pycoroner_cpython::snapshot::{InterpreterSnapshot, Snapshot};
use pycoroner_cpython::Python;
use pycoroner_process::RemoteAddr;
use pycoroner_report::heap::{Allocator, SizeClass, Garbage, GarbageObject, Heap, HeapAll, HeapList, HeapObject, HeapType, HeapUntracked, PathStep, ReferrerPath, Referrers};
use pycoroner_report::{Warning, WarningKind};

use crate::locate_python::FoundPython;
use crate::options::Options;

/// Count every interpreter's GC-tracked objects; one that cannot be counted is a
/// warning.
pub(crate) fn census(
    py: &Python<'_>,
    renderer: &Renderer<'_>,
    found: &FoundPython,
    snapshot: &Snapshot,
    models: Models,
    options: &Options,
    warnings: &mut Vec<Warning>,
) -> Vec<Heap> {
    let mut out = Vec::new();
    let states: Vec<_> = snapshot.interpreters.iter().map(|i| i.state).collect();
    let total_refs = match py.total_refs(&states) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            warnings.push(Warning::new(WarningKind::Heap, format!("cannot read the total reference count: {e}")));
            None
        }
        None => None,
    };
    for interp in &snapshot.interpreters {
        let cx = census_context(found, interp, models, options.largest, options.untracked);
        match pycoroner_cpython::heap::census(py, renderer, &interp.state, &cx) {
            Ok(c) => {
                if c.freed > 0 {
                    warnings.push(Warning::new(
                        WarningKind::Heap,
                        format!("{} objects on the collector's lists are freed memory (a debug build's freed-memory pattern as their type): freed while still tracked, a use after free", c.freed),
                    ));
                }
                for l in c.lists.iter().filter(|l| l.broken.is_some()) {
                    warnings.push(Warning::new(WarningKind::Heap, format!("the GC's {} list: {}", l.name, l.broken.as_deref().unwrap_or_default())));
                }
                let heap_types = |v: Vec<TypeCount>| -> Vec<HeapType> {
                    v.into_iter().map(|t| HeapType { name: t.name, address: t.type_addr.0, count: t.count, size: t.size, frozen: t.frozen, frozen_size: t.frozen_size, exact: t.exact }).collect()
                };
                let types = heap_types(c.types);
                let all_objects = match pycoroner_cpython::heap::census_all(py, renderer, &interp.state, &cx) {
                    Some(Ok(a)) => {
                        if a.freed > 0 {
                            warnings.push(Warning::new(WarningKind::Heap, format!("{} objects on the list of all objects are freed memory (a debug build's freed-memory pattern as their type): a use after free", a.freed)));
                        }
                        a.lists.into_iter().next().map(|l| {
                            if let Some(b) = &l.broken {
                                warnings.push(Warning::new(WarningKind::Heap, format!("the list of all objects (Py_TRACE_REFS): {b}")));
                            }
                            let types = heap_types(a.types);
                            HeapAll {
                                objects: objects(&types, a.unreadable),
                                size: size(&types),
                                unreadable: a.unreadable,
                                freed: a.freed,
                                list: HeapList { name: l.name.into(), objects: l.objects, broken: l.broken },
                                types,
                            }
                        })
                    }
                    Some(Err(e)) => {
                        warnings.push(Warning::new(WarningKind::Heap, format!("cannot walk the list of all objects (Py_TRACE_REFS): {e}")));
                        None
                    }
                    None => None,
                };
                let untracked = c.untracked.map(|u| {
                    if let Some(t) = &u.truncated {
                        warnings.push(Warning::new(WarningKind::Heap, format!("the count of untracked objects stopped short: {t}")));
                    }
                    let types = heap_types(u.types);
                    HeapUntracked {
                        objects: objects(&types, u.unreadable),
                        size: size(&types),
                        unreadable: u.unreadable,
                        types,
                    }
                });
                let name_of = |t: RemoteAddr| {
                    types.iter().chain(untracked.iter().flat_map(|u| &u.types)).find(|x| x.address == t.0).map(|x| x.name.clone()).unwrap_or_else(|| format!("<type at {t}>"))
                };
                let largest = c
                    .largest
                    .iter()
                    .map(|o| {
                        let (refcount, immortal) = renderer.refcount(o.addr).map_or((None, false), |(n, i)| (Some(n), i));
                        HeapObject { address: o.addr.0, type_name: name_of(o.type_addr), size: o.size, exact: o.exact, len: o.len, repr: short(&renderer.repr(o.addr)), refcount, immortal, untracked: o.untracked }
                    })
                    .collect();
                let garbage = py.sys_dicts(&interp.state).0.and_then(|m| renderer.gc_garbage(m, MAX_GARBAGE)).map(|(items, count)| Garbage {
                    count,
                    objects: items
                        .into_iter()
                        .map(|o| GarbageObject {
                            address: o.0,
                            type_name: renderer.full_type_name(o).unwrap_or_else(|_| "?".into()),
                            repr: short(&renderer.repr(o)),
                            refcount: renderer.refcount(o).map(|(n, _)| n),
                        })
                        .collect(),
                });
                let mut allocator_unavailable = None;
                let allocator = match py.allocator(&interp.state) {
                    Some(Ok(a)) => Some(Allocator {
                        arenas: a.arenas,
                        arenas_allocated_total: a.arenas_allocated_total,
                        arenas_highwater: a.arenas_highwater,
                        free_pools: a.free_pools,
                        pool_size: a.pool_size,
                        classes: a.classes.into_iter().map(|c| SizeClass { class: c.index, size: c.size, pools: c.pools, blocks: c.blocks, free: c.free }).collect(),
                        bad_pools: a.bad_pools,
                    }),
                    Some(Err(e)) => {
                        warnings.push(Warning::new(WarningKind::Heap, format!("cannot read pymalloc's arenas: {e}")));
                        None
                    }
                    None => {
                        allocator_unavailable = Some("this build has no symbol for pymalloc's statics (a stripped binary with no debug file)".to_string());
                        None
                    }
                };
                out.push(Heap {
                    allocator_unavailable,
                    allocator,
                    total_refs: None,
                    garbage,
                    largest,
                    interpreter_id: interp.state.id,
                    source: "gc".into(),
                    objects: objects(&types, c.unreadable),
                    size: size(&types),
                    unreadable: c.unreadable,
                    freed: c.freed,
                    lists: c.lists.into_iter().map(|l| HeapList { name: l.name.into(), objects: l.objects, broken: l.broken }).collect(),
                    types,
                    untracked,
                    all_objects,
                });
            }
            Err(e) => warnings.push(Warning::new(WarningKind::Heap, format!("cannot count the objects of interpreter at {}: {e}", interp.state.addr))),
        }
    }
    // The process's total goes with the main interpreter (else the first counted).
    let main = out.iter().position(|h| h.interpreter_id == Some(0)).unwrap_or(0);
    if let Some(h) = out.get_mut(main) {
        h.total_refs = total_refs;
    }
    out
}

/// Objects counted: those of every type and those whose type could not be read.
fn objects(types: &[HeapType], unreadable: u64) -> u64 {
    types.iter().fold(unreadable, |n, t| n.saturating_add(t.count))
}

/// Bytes counted over every type.
fn size(types: &[HeapType]) -> u64 {
    types.iter().fold(0u64, |n, t| n.saturating_add(t.size))
}

/// Most objects of `gc.garbage` listed.
const MAX_GARBAGE: usize = 100;

/// Most characters of a largest object's repr.
const REPR_CHARS: usize = 120;

/// What a census or a referrer search of `interp` needs to know beside memory.
fn census_context(found: &FoundPython, interp: &InterpreterSnapshot, models: Models, largest: usize, untracked: bool) -> CensusContext {
    CensusContext {
        object_type: found.symbol("PyBaseObject_Type").map(RemoteAddr),
        collecting: interp.gc_collecting == Some(true),
        preheader: models.getsizeof_preheader,
        largest,
        untracked,
        references: untracked,
    }
}

/// A repr cut at [`REPR_CHARS`] characters (`...` marks the cut).
fn short(repr: &str) -> String {
    match repr.char_indices().nth(REPR_CHARS) {
        Some((at, _)) => format!("{}...", &repr[..at]),
        None => repr.to_string(),
    }
}

/// Most paths from roots a referrer search looks for.
const MAX_PATHS: usize = 8;

/// How a referrer refers to the next object, in words.
fn via_text(renderer: &Renderer<'_>, via: Via) -> (String, bool) {
    match via {
        Via::Key(k) => (format!("[{}]", short(&renderer.repr(k))), false),
        Via::DictKey => ("(a key)".into(), false),
        Via::Index(i) => (format!("[{i}]"), false),
        Via::Element => ("(an element)".into(), false),
        Via::Attr(k) => (format!(".{}", renderer.str_of(k)), false),
        Via::Field(f) => (format!(".{f}"), false),
        Via::Slot(name) => (format!(".{}", renderer.c_str(name)), false),
        Via::Possible(off) => (format!("+0x{off:x}"), true),
    }
}

/// Who refers to the object at `target` in the main interpreter (else the first), up
/// to `depth` levels; `None` (and a warning) when it cannot be searched.
#[allow(clippy::too_many_arguments)]
pub(crate) fn referrers(
    py: &Python<'_>,
    renderer: &Renderer<'_>,
    found: &FoundPython,
    snapshot: &Snapshot,
    models: Models,
    cell_type: Option<RemoteAddr>,
    target: RemoteAddr,
    depth: usize,
    warnings: &mut Vec<Warning>,
) -> Option<Referrers> {
    let interp = snapshot.interpreters.iter().find(|i| i.state.id == Some(0)).or(snapshot.interpreters.first())?;
    let mut roots = ReferrerRoots::default();
    if let Some(m) = py.sys_dicts(&interp.state).0 {
        roots.module_dicts = renderer.module_dicts(m).into_iter().map(|(n, d)| (d, n)).collect();
    }
    for t in &interp.threads {
        for f in &t.walk.frames {
            let function = f.info.as_ref().ok().and_then(|i| i.name.as_ref().ok().cloned()).unwrap_or_else(|| "?".into());
            for l in py.locals(f, cell_type).unwrap_or_default() {
                if l.tagged_int.is_none() {
                    roots.locals.push((t.state.thread_id, function.clone(), l.name, l.value));
                }
            }
        }
    }
    let cx = CensusContext { references: true, ..census_context(found, interp, models, 0, false) };
    let found_refs = match pycoroner_cpython::heap::referrers(py, renderer, &interp.state, &Search { target, depth, max_paths: MAX_PATHS }, &roots, &cx) {
        Ok(r) => r,
        Err(e) => {
            warnings.push(Warning::new(WarningKind::Heap, format!("cannot search the referrers of {target}: {e}")));
            return None;
        }
    };
    if let Some(t) = &found_refs.truncated {
        warnings.push(Warning::new(WarningKind::Heap, format!("the referrer search stopped short: {t}")));
    }
    let type_of = |o: RemoteAddr| renderer.full_type_name(o).unwrap_or_else(|_| "?".into());
    let step = |addr: RemoteAddr, via: Option<Via>| {
        let (via, possible) = via.map(|v| via_text(renderer, v)).map_or((None, false), |(t, p)| (Some(t), p));
        PathStep { address: addr.0, type_name: type_of(addr), via, possible }
    };
    Some(Referrers {
        address: target.0,
        type_name: type_of(target),
        repr: short(&renderer.repr(target)),
        direct: found_refs.direct.iter().map(|(o, via)| step(*o, Some(*via))).collect(),
        paths: found_refs
            .paths
            .iter()
            .map(|p| ReferrerPath {
                root: match &p.root {
                    Root::Module(m) => format!("module {m}"),
                    Root::Type(t) => format!("type {t}"),
                    Root::Local { thread_id, function, name } => format!("thread 0x{thread_id:016x} frame {function} → local '{name}'"),
                },
                steps: p.steps.iter().map(|s| step(s.addr, s.via)).collect(),
            })
            .collect(),
        levels: found_refs.levels,
        truncated: found_refs.truncated,
    })
}
