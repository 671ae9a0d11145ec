//! Issue #10 ("misleading answers"): an interpreter whose thread list head is NULL (or
//! unreadable) used to print `<no Python thread>` with exit 0 and no word of why. The
//! report now says so in a warning.

use pycoroner::{analyze, layout_of_binary, Options};
use pycoroner_process::ElfCore;
use pycoroner_testkit::{crash, in_ci, pyenv_interpreters, repo_root, PatchedCore};

#[test]
fn a_null_thread_list_is_a_warning_not_silence() {
    let Some(py) = pyenv_interpreters().into_iter().last() else {
        assert!(!in_ci(), "no pyenv interpreter");
        eprintln!("SKIP: no pyenv interpreter");
        return;
    };
    let c = crash(&py.path, &repo_root().join("crates/cli/src/demo_scenario.py")).expect("crash");
    let core = ElfCore::open(&c.core).expect("open");
    let opts = Options::default();
    let clean = analyze(&core, &opts).expect("clean analysis");
    assert!(!clean.threads.is_empty());
    let layout = layout_of_binary(std::path::Path::new(&clean.python.module), None, &opts).expect("layout");
    let head = layout.offsets.get("interp.threads_head").expect("threads_head offset");
    let interp = clean.interpreters.first().expect("an interpreter").address;
    // The eight bytes of the interpreter's thread list head read as 0.
    let zero = interp + head;
    let zeroed = PatchedCore {
        core: &core,
        patch: |addr: u64, buf: &mut [u8]| {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr.wrapping_add(i as u64);
                if a >= zero && a < zero + 8 {
                    *b = 0;
                }
            }
        },
    };
    let r = analyze(&zeroed, &opts).expect("analysis");
    // No Python thread; the process's threads are still listed, as having no Python
    // state (the one that crashed with its native frames).
    assert!(r.threads.iter().all(|t| t.interpreter_id.is_none()), "{:?}", r.threads);
    assert!(r.threads.iter().any(|t| t.current && !t.frames.is_empty()), "{:?}", r.threads);
    assert!(r.warnings.iter().any(|w| w.kind == pycoroner::report::WarningKind::Walk && w.message.contains("list no thread state")), "{:?}", r.warnings);
}
