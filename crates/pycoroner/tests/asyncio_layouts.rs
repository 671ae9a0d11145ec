//! The built-in `TaskObj` table (`pycoroner_cpython::asyncio::C_TASK_LAYOUTS`) against
//! the DWARF of every `_asyncio` at hand: each pyenv build's `lib-dynload` module, and
//! the sid debug builds (3.14's module, 3.15's interpreter, where `_asyncio` is built
//! in). Offsets are compared from the end of the object header, which debug builds
//! with trace-refs widen.

use pycoroner_cpython::asyncio::c_task_layout;
use pycoroner_debuginfo::{extract_layouts, ElfImage, LayoutQuery};
use pycoroner_testkit::{in_ci, pyenv_interpreters, sid_cache};

fn candidates() -> Vec<(u8, std::path::PathBuf)> {
    let mut out = Vec::new();
    for py in pyenv_interpreters() {
        let Some(prefix) = py.path.parent().and_then(|b| b.parent()) else { continue };
        let dynload = prefix.join(format!("lib/python3.{}/lib-dynload", py.minor));
        if let Ok(rd) = std::fs::read_dir(&dynload) {
            out.extend(rd.flatten().map(|e| e.path()).filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("_asyncio."))).map(|p| (py.minor, p)));
        }
    }
    let root = sid_cache().join("root/usr");
    out.push((14, root.join("lib/python3.14/lib-dynload/_asyncio.cpython-314d-x86_64-linux-gnu.so")));
    out.push((15, root.join("bin/python3.15d")));
    out.into_iter().filter(|(_, p)| p.is_file()).collect()
}

#[test]
fn c_task_layouts_match_every_asyncio_dwarf() {
    let files = candidates();
    let minors: std::collections::BTreeSet<u8> = files.iter().map(|(m, _)| *m).collect();
    if in_ci() {
        assert!(minors.len() >= 10, "under CI every minor 3.6–3.15 must be checked, found {minors:?}");
    }
    let query = LayoutQuery { names: vec!["TaskObj".into()], places: Vec::new() };
    let mut failures = Vec::new();
    for (minor, path) in &files {
        let img = ElfImage::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let answer = extract_layouts(&img, &query).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let Some(ours) = c_task_layout(*minor) else {
            failures.push(format!("3.{minor}: no built-in TaskObj layout"));
            continue;
        };
        let at = |m: &str| answer.offset("TaskObj", m);
        let Some(header) = at("task_loop") else {
            failures.push(format!("{}: no TaskObj in its DWARF", path.display()));
            continue;
        };
        let rel = |m: &str| at(m).map(|o| o - header);
        let checks = [
            ("task_loop", Some(ours.loop_)),
            ("task_callback0", ours.callback0),
            ("task_callbacks", Some(ours.callbacks)),
            ("task_exception", Some(ours.exception)),
            ("task_result", Some(ours.result)),
            ("task_state", Some(ours.state)),
            ("task_awaited_by", ours.awaited_by),
            ("task_awaited_by_is_set", ours.awaited_by_is_set),
            ("task_fut_waiter", Some(ours.fut_waiter)),
            ("task_coro", Some(ours.coro)),
            ("task_name", ours.name),
            ("task_node", ours.node),
        ];
        for (member, want) in checks {
            if rel(member) != want {
                failures.push(format!("3.{minor} {}: {member} is {:?} in DWARF, {want:?} in the table", path.display(), rel(member)));
            }
        }
        // 3.14+: where the module state keeps third-party tasks.
        if let Some((weak, eager)) = pycoroner_cpython::asyncio::NON_ASYNCIO_TASKS.iter().find(|(m, _)| m == minor).map(|(_, o)| *o) {
            let st = extract_layouts(&img, &LayoutQuery { names: vec!["asyncio_state".into()], places: Vec::new() }).expect("asyncio_state");
            let got = (st.offset("asyncio_state", "non_asyncio_tasks"), st.offset("asyncio_state", "non_asyncio_eager_tasks"));
            if got != (Some(weak), Some(eager)) {
                failures.push(format!("3.{minor}: asyncio_state non-asyncio task sets at {got:?} in DWARF, ({weak}, {eager}) in the table"));
            }
        }
        if answer.size("TaskObj").map(|s| s - header) != Some(ours.size) {
            failures.push(format!("3.{minor}: sizeof(TaskObj) {:?} after the header, {} in the table", answer.size("TaskObj").map(|s| s - header), ours.size));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("checked TaskObj of 3.{minors:?} in {} files", files.len());
}

/// 3.14+ builds carry their own `_Py_AsyncioModuleDebugOffsets` (`.AsyncioDebug`):
/// decoded from every sid build, it agrees with the built-in TaskObj table and with
/// the thread and interpreter state offsets of the build's layout table (from DWARF).
#[test]
fn asyncio_debug_sections_agree_with_the_tables() {
    use pycoroner_cpython::asyncio::{AsyncioDebugOffsets, ASYNCIO_DEBUG_SIZE};
    use pycoroner_layouts::{builtin, Flavour};
    let root = sid_cache().join("root/usr");
    let files = [
        (14, false, root.join("lib/python3.14/lib-dynload/_asyncio.cpython-314-x86_64-linux-gnu.so")),
        (14, true, root.join("lib/python3.14/lib-dynload/_asyncio.cpython-314d-x86_64-linux-gnu.so")),
        (15, false, root.join("bin/python3.15")),
        (15, true, root.join("bin/python3.15d")),
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for (minor, debug, path) in files.iter().filter(|(_, _, p)| p.is_file()) {
        let img = ElfImage::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (svma, _) = img.section(".AsyncioDebug").unwrap_or_else(|| panic!("{}: no .AsyncioDebug", path.display()));
        let bytes = img.read_static(svma, ASYNCIO_DEBUG_SIZE).expect("section bytes");
        let d = AsyncioDebugOffsets::decode(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let t = c_task_layout(*minor).expect("table");
        let header = 16;
        let pairs = [
            ("task_name", Some(d.task_name), t.name.map(|v| v + header)),
            ("task_awaited_by", Some(d.task_awaited_by), t.awaited_by.map(|v| v + header)),
            ("task_awaited_by_is_set", Some(d.task_awaited_by_is_set), t.awaited_by_is_set.map(|v| v + header)),
            ("task_coro", Some(d.task_coro), Some(t.coro + header)),
            ("task_node", Some(d.task_node), t.node.map(|v| v + header)),
            ("task size", Some(d.task_size), Some(t.size + header)),
        ];
        let flavour = Flavour { debug: *debug, free_threaded: false };
        let (layout, _) = builtin::lookup(3, *minor, None, flavour).expect("a built-in table");
        let o = &layout.offsets;
        let states = [
            ("asyncio_running_loop", Some(d.thread_running_loop), o.tstate.asyncio_running_loop),
            ("asyncio_running_task", Some(d.thread_running_task), o.tstate.asyncio_running_task),
            ("thread asyncio_tasks_head", Some(d.thread_tasks_head), o.tstate.asyncio_tasks_head),
            ("interpreter asyncio_tasks_head", Some(d.interp_tasks_head), o.interp.asyncio_tasks_head),
        ];
        for (what, theirs, ours) in pairs.iter().chain(states.iter()) {
            if theirs != ours {
                failures.push(format!("{}: {what} is {theirs:?} in .AsyncioDebug, {ours:?} in our tables", path.display()));
            }
        }
        // A damaged section is refused, not believed.
        let mut bad = bytes.to_vec();
        bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(AsyncioDebugOffsets::decode(&bad).is_err());
        assert!(AsyncioDebugOffsets::decode(&bytes[..40]).is_err());
        checked += 1;
    }
    if in_ci() {
        assert_eq!(checked, 4, "under CI every sid build is checked");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
