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
    let query = LayoutQuery { names: vec!["TaskObj".into()] };
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
        if answer.size("TaskObj").map(|s| s - header) != Some(ours.size) {
            failures.push(format!("3.{minor}: sizeof(TaskObj) {:?} after the header, {} in the table", answer.size("TaskObj").map(|s| s - header), ours.size));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("checked TaskObj of 3.{minors:?} in {} files", files.len());
}
