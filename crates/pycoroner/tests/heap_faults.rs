//! The heap census on real cores with one precise fault each (the memory read through
//! a patch): an object freed while still on the collector's list (its type pointer
//! the debug allocator's 0xdd pattern) and a list whose link is cut. The census says
//! what it met and keeps what it counted.

use pycoroner::{analyze, Options};
use pycoroner_process::ElfCore;
use pycoroner_testkit::{crash, repo_root, PatchedCore};

/// `value` written over the 8 bytes at `at` wherever a read covers them.
fn overwrite(at: u64, value: u64) -> impl Fn(u64, &mut [u8]) + Sync {
    move |addr, buf| {
        for (i, b) in value.to_le_bytes().iter().enumerate() {
            let a = at.wrapping_add(i as u64);
            if let Some(off) = a.checked_sub(addr).and_then(|o| usize::try_from(o).ok()) {
                if let Some(slot) = buf.get_mut(off) {
                    *slot = *b;
                }
            }
        }
    }
}

#[test]
fn a_freed_object_and_a_cut_list() {
    // One interpreter of each GC header size: 3.7 (32 bytes), 3.12 (16).
    let interps = pycoroner_testkit::all_interpreters();
    let picked: Vec<_> = interps.iter().filter(|i| matches!(i.id(), "3.7.16" | "3.12.1")).collect();
    assert!(!picked.is_empty() || !pycoroner_testkit::in_ci(), "no 3.7.16 or 3.12.1 interpreter");
    let cache = tempfile::tempdir().expect("tmp");
    let opts = Options { cache_dir: Some(cache.path().to_path_buf()), heap: true, ..Options::default() };
    for py in picked {
        eprintln!("{}: a freed object and a cut list", py.id());
        let c = crash(&py.path, &repo_root().join("fixtures/scenarios/heap_census.py")).expect("crash");
        let truth: serde_json::Value = c.sidecar.as_deref().and_then(|s| s.lines().find_map(|l| l.strip_prefix("heap "))).and_then(|j| serde_json::from_str(j).ok()).expect("truth");
        let order = truth["referrers"]["order"].as_u64().expect("an Order's id");
        let core = ElfCore::open(&c.core).expect("open core");
        let count = |r: &pycoroner::report::Report, name: &str| r.heap.first().and_then(|h| h.types.iter().find(|t| t.name == name)).map_or(0, |t| t.count);
        let clean = analyze(&core, &opts).expect("clean");
        assert_eq!(count(&clean, "__main__.Order"), 12345, "{}", py.id());

        // The Order's type pointer (8 bytes after its refcount) freed-memory bytes.
        let freed = analyze(&PatchedCore { core: &core, patch: overwrite(order + 8, 0xdddd_dddd_dddd_dddd) }, &opts).expect("freed");
        let h = freed.heap.first().expect("a census");
        assert_eq!((h.freed, count(&freed, "__main__.Order")), (1, 12344), "{}: {h:?}", py.id());
        assert!(freed.warnings.iter().any(|w| w.message.contains("use after free")), "{}: {:?}", py.id(), freed.warnings);

        // The Order's GC header's next link (just before the object) cut: its list
        // breaks there, the census says where and keeps what came before.
        let hsize = if py.minor <= 7 { 32 } else { 16 };
        let cut = analyze(&PatchedCore { core: &core, patch: overwrite(order - hsize, 0x10) }, &opts).expect("cut");
        let h = cut.heap.first().expect("a census");
        let broken: Vec<_> = h.lists.iter().filter_map(|l| l.broken.as_deref()).collect();
        assert!(broken.len() == 1 && broken[0].contains("0x10"), "{}: {broken:?}", py.id());
        assert!(h.objects > 0 && h.objects < clean.heap[0].objects, "{}: {} objects of {}", py.id(), h.objects, clean.heap[0].objects);
        assert!(cut.warnings.iter().any(|w| w.message.contains("list")), "{}: {:?}", py.id(), cut.warnings);
    }
}
