//! Hostile memory through the whole pipeline: real cores whose every read is
//! corrupted at random (deterministically per seed), with locals rendered and, every
//! other run, native stacks unwound and spliced. The analysis must never panic, never
//! read more than its budget, and never allocate without bound; it may fail or warn.
//! The work is a fixed number of seeds (no clock decides what runs or passes).

use std::sync::atomic::{AtomicU64, Ordering};

use pycoroner::{analyze, Options};
use pycoroner_process::ElfCore;
use pycoroner_testkit::{corruption, crash, mix, repo_root, PatchedCore};

/// Corrupts bytes of reads: each byte at address A flips with probability 1/`rate`,
/// decided by a hash of (seed, A) so re-reads agree (as real memory would).
fn corrupt<'a>(seed: u64, rate: u64, read: &'a AtomicU64) -> impl Fn(u64, &mut [u8]) + Sync + 'a {
    move |addr, buf| {
        read.fetch_add(buf.len() as u64, Ordering::Relaxed);
        for (i, b) in buf.iter_mut().enumerate() {
            let h = mix(seed, addr.wrapping_add(i as u64));
            if h.is_multiple_of(rate) {
                *b = (h >> 32) as u8;
            }
        }
    }
}

#[test]
fn fuzz_whole_pipeline_on_corrupted_cores() {
    let interps = pycoroner_testkit::all_interpreters();
    // One interpreter per frame model: legacy, 3.11 is_entry, 3.12 shims, 3.13 current_frame.
    // A campaign (PYCORONER_FUZZ_SEEDS=N) takes every interpreter, N seeds each.
    let campaign: Option<u64> = std::env::var("PYCORONER_FUZZ_SEEDS").ok().and_then(|s| s.parse().ok());
    let picked: Vec<_> = interps
        .iter()
        .filter(|i| campaign.is_some() || (!i.id().contains('-') && matches!(i.minor, 6 | 10 | 11 | 12 | 13)))
        .collect();
    let script = repo_root().join("fixtures/scenarios/locals_values.py");
    let seeds = campaign.unwrap_or(if pycoroner_testkit::in_ci() { 400 } else { 240 });
    let cache = tempfile::tempdir().expect("tmp");
    let opts = Options {
        cache_dir: Some(cache.path().to_path_buf()),
        debug_dirs: vec![pycoroner_testkit::sid_debug_dir()],
        locals: true,
        ..Options::default()
    };
    // Every other run also unwinds the native stacks (and splices) over the corruption.
    let native = Options { native: pycoroner::NativeMode::All, ..opts.clone() };
    for py in picked {
        let c = crash(&py.path, &script).expect("crash");
        let core = ElfCore::open(&c.core).expect("open core");
        let clean = analyze(&core, &opts).expect("the clean core analyzes");
        assert!(!clean.threads.is_empty());
        let clean = analyze(&core, &native).expect("the clean core analyzes with native stacks");
        assert!(clean.threads.iter().any(|t| t.frames.iter().any(|f| matches!(f, pycoroner::report::Frame::Native(_)))));
        let mut most = 0u64;
        for seed in 0..seeds {
            let rate = [16u64, 256, 4096, 65536][(seed % 4) as usize];
            let read = AtomicU64::new(0);
            let m = PatchedCore { core: &core, patch: corrupt(seed, rate, &read) };
            let _ = analyze(&m, if seed % 8 >= 4 { &native } else { &opts });
            // The analysis's read budget holds, whatever the memory says (1 GiB, plus the
            // one read that crossed it and the unwinder's own small reads).
            let read = read.load(Ordering::Relaxed);
            assert!(read <= (1 << 30) + (64 << 20), "{}: seed {seed} rate {rate} read {read} bytes", py.id());
            most = most.max(read);
        }
        eprintln!("{}: {seeds} corrupted analyses, no panic, at most {most} bytes read", py.id());
    }
}

/// The inputs the `pipeline` fuzz target once flagged (kept in `fuzz/regressions/pipeline`),
/// replayed as the target runs them: 8 bytes of seed, a rate byte, a flags byte (bit 0:
/// every native frame), then the values corrupted bytes take; on a 3.12 core of the
/// locals scenario, as `fuzz/run.sh` makes it. Each must finish within the read budget.
#[test]
fn pipeline_fuzz_findings_stay_bounded() {
    let Some(py) = pycoroner_testkit::pyenv_interpreters().into_iter().find(|i| i.minor == 12) else { return };
    let c = crash(&py.path, &repo_root().join("fixtures/scenarios/locals_values.py")).expect("crash");
    let core = ElfCore::open(&c.core).expect("open core");
    let cache = tempfile::tempdir().expect("tmp");
    let dir = repo_root().join("fuzz/regressions/pipeline");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions/pipeline").flatten() {
        let data = std::fs::read(entry.path()).expect("finding");
        let Some((head, values)) = data.split_at_checked(10) else { continue };
        let seed = u64::from_le_bytes(head.get(..8).and_then(|h| h.try_into().ok()).unwrap_or_default());
        let rate = 1u64 << (4 + head[8] % 17);
        let native = if head[9] & 1 == 1 { pycoroner::NativeMode::All } else { pycoroner::NativeMode::Off };
        let opts = Options { cache_dir: Some(cache.path().to_path_buf()), locals: true, native, ..Options::default() };
        let read = AtomicU64::new(0);
        let corrupt = corruption(seed, rate, values);
        let patch = |addr: u64, buf: &mut [u8]| {
            read.fetch_add(buf.len() as u64, Ordering::Relaxed);
            corrupt(addr, buf);
        };
        let m = PatchedCore { core: &core, patch };
        let _ = analyze(&m, &opts);
        let read = read.load(Ordering::Relaxed);
        assert!(read <= (1 << 30) + (64 << 20), "{}: read {read} bytes", entry.path().display());
        eprintln!("{}: {read} bytes read", entry.path().display());
        replayed += 1;
    }
    assert!(replayed > 0, "no finding replayed from {}", dir.display());
}

/// asyncio's tasks over corrupted memory: a core of the asyncio scenario per task
/// registry model (3.6's class sets, 3.10's `_all_tasks`, 3.12–3.13's scheduled and
/// eager sets, 3.14–3.15's per-thread lists), every read corrupted at random. The
/// task walk and both renderings must never panic and stay within the read budget.
#[test]
fn fuzz_tasks_on_corrupted_cores() {
    let interps = pycoroner_testkit::all_interpreters();
    let picked: Vec<_> = interps.iter().filter(|i| matches!(i.id(), "3.6.15" | "3.10.13" | "3.12.1" | "3.13.0" | "3.14-sid" | "3.15-sid")).collect();
    let script = repo_root().join("fixtures/scenarios/asyncio_tasks.py");
    let seeds = if pycoroner_testkit::in_ci() { 160 } else { 100 };
    let cache = tempfile::tempdir().expect("tmp");
    let opts = Options { cache_dir: Some(cache.path().to_path_buf()), tasks: true, ..Options::default() };
    for py in picked {
        let c = crash(&py.path, &script).expect("crash");
        let core = ElfCore::open(&c.core).expect("open core");
        let clean = analyze(&core, &opts).expect("the clean core analyzes");
        let tasks: usize = clean.threads.iter().filter_map(|t| t.event_loop.as_ref()).map(|l| l.tasks.len()).sum();
        assert!(tasks >= 20, "{}: {tasks} tasks in the clean core", py.id());
        let mut most = 0u64;
        for seed in 0..seeds {
            let rate = [16u64, 256, 4096, 65536][(seed % 4) as usize];
            let read = AtomicU64::new(0);
            let m = PatchedCore { core: &core, patch: corrupt(seed, rate, &read) };
            let opts = Options { untracked: seed % 8 == 0, ..opts.clone() };
            if let Ok(r) = analyze(&m, &opts) {
                let _ = pycoroner::report::render::faulthandler::render(&r);
                let table = pycoroner::report::render::faulthandler::TextOptions { tasks_table: true, ..Default::default() };
                let _ = pycoroner::report::render::faulthandler::render_with(&r, table);
            }
            let read = read.load(Ordering::Relaxed);
            assert!(read <= (1 << 30) + (64 << 20), "{}: seed {seed} rate {rate} read {read} bytes", py.id());
            most = most.max(read);
        }
        eprintln!("{}: {seeds} corrupted task walks, no panic, at most {most} bytes read", py.id());
    }
}

/// The interpreter state over corrupted memory: a core of the state scenario (every
/// part set) per layout family, every read corrupted at random, then the inputs the
/// `state` fuzz target once flagged (`fuzz/regressions/state`, on the 3.12 core as
/// `fuzz/run.sh` makes it). The state and its `--state` text must never panic and
/// stay within the read budget.
#[test]
fn fuzz_state_on_corrupted_cores() {
    let interps = pycoroner_testkit::all_interpreters();
    let picked: Vec<_> = interps.iter().filter(|i| matches!(i.id(), "3.6.15" | "3.9.18" | "3.12.1" | "3.13.0" | "3.14-sid")).collect();
    let script = repo_root().join("fixtures/ext/interpreter_state.py");
    let seeds = if pycoroner_testkit::in_ci() { 120 } else { 80 };
    let cache = tempfile::tempdir().expect("tmp");
    let opts = Options { cache_dir: Some(cache.path().to_path_buf()), state: true, ..Options::default() };
    let full = pycoroner::report::render::faulthandler::TextOptions { state: true, ..Default::default() };
    for py in picked {
        let c = crash(&py.path, &script).expect("crash");
        let core = ElfCore::open(&c.core).expect("open core");
        let clean = analyze(&core, &opts).expect("the clean core analyzes");
        let atexit = clean.runtime.as_ref().and_then(|r| r.interpreters.first()).and_then(|i| i.atexit.as_ref()).map_or(0, Vec::len);
        assert!(atexit >= 3, "{}: {atexit} atexit callbacks in the clean core", py.id());
        let mut most = 0u64;
        let findings: Vec<Vec<u8>> = match py.id() {
            "3.12.1" => std::fs::read_dir(repo_root().join("fuzz/regressions/state")).expect("fuzz/regressions/state").flatten().filter_map(|e| std::fs::read(e.path()).ok()).collect(),
            _ => Vec::new(),
        };
        let random = (0..seeds).map(|seed| {
            let rate = [16u64, 256, 4096, 65536][(seed % 4) as usize];
            (seed, rate, Vec::new())
        });
        let replayed = findings.iter().filter_map(|data| finding(data));
        for (seed, rate, values) in random.chain(replayed) {
            let read = AtomicU64::new(0);
            let m = PatchedCore { core: &core, patch: patch(seed, rate, &values, &read) };
            let opts = Options { untracked: seed % 8 == 0, ..opts.clone() };
            if let Ok(r) = analyze(&m, &opts) {
                let _ = pycoroner::report::render::faulthandler::render_with(&r, full);
                let _ = pycoroner::report::render::json::render(&r);
            }
            let read = read.load(Ordering::Relaxed);
            assert!(read <= (1 << 30) + (64 << 20), "{}: seed {seed} rate {rate} read {read} bytes", py.id());
            most = most.max(read);
        }
        eprintln!("{}: {seeds} corrupted state reads, no panic, at most {most} bytes read", py.id());
    }
}

/// A fuzz target's finding as (seed, rate, values): 8 bytes of seed, a rate byte,
/// then the values corrupt bytes take.
fn finding(data: &[u8]) -> Option<(u64, u64, Vec<u8>)> {
    let (head, values) = data.split_at_checked(9)?;
    let seed = u64::from_le_bytes(head.get(..8)?.try_into().ok()?);
    Some((seed, 1u64 << (4 + head.get(8)? % 17), values.to_vec()))
}

/// The corruption of a random seed (no values) or of a replayed finding, counting
/// the bytes read.
fn patch<'a>(seed: u64, rate: u64, values: &'a [u8], read: &'a AtomicU64) -> Patch<'a> {
    if values.is_empty() {
        Box::new(corrupt(seed, rate, read))
    } else {
        Box::new(counting(corruption(seed, rate, values), read))
    }
}

/// A corruption of reads, boxed (random or replayed).
type Patch<'a> = Box<dyn Fn(u64, &mut [u8]) + Sync + 'a>;

/// A patch that also counts the bytes read.
fn counting<'a>(patch: impl Fn(u64, &mut [u8]) + Sync + 'a, read: &'a AtomicU64) -> impl Fn(u64, &mut [u8]) + Sync + 'a {
    move |addr, buf| {
        read.fetch_add(buf.len() as u64, Ordering::Relaxed);
        patch(addr, buf);
    }
}

/// The heap census of `fixtures/scenarios/heap_census.py` (tens of thousands of
/// objects on the collector's lists) per list layout (3.6's static generations, 3.7's
/// 32-byte header, 3.8+'s flagged links, 3.12+, 3.14+), every read corrupted at random,
/// then the inputs the `heap` fuzz target once flagged (`fuzz/regressions/heap`). The
/// census must never panic, stay within the read budget, and when a list breaks say
/// where while still counting what came before; the referrer search of an object
/// likewise.
#[test]
fn fuzz_heap_on_corrupted_cores() {
    let interps = pycoroner_testkit::all_interpreters();
    let picked: Vec<_> = interps.iter().filter(|i| matches!(i.id(), "3.6.15" | "3.7.16" | "3.9.18" | "3.12.1" | "3.14-sid")).collect();
    let script = repo_root().join("fixtures/scenarios/heap_census.py");
    let seeds = 40;
    let cache = tempfile::tempdir().expect("tmp");
    let opts = Options { cache_dir: Some(cache.path().to_path_buf()), heap: true, largest: 1, ..Options::default() };
    let findings: Vec<Vec<u8>> = std::fs::read_dir(repo_root().join("fuzz/regressions/heap")).map(|d| d.flatten().filter_map(|e| std::fs::read(e.path()).ok()).collect()).unwrap_or_default();
    let mut broken_but_counted = 0;
    for py in picked {
        let c = crash(&py.path, &script).expect("crash");
        let core = ElfCore::open(&c.core).expect("open core");
        let clean = analyze(&core, &opts).expect("the clean core analyzes");
        let objects = clean.heap.first().map_or(0, |h| h.objects);
        assert!(objects > 12345, "{}: {objects} objects in the clean core", py.id());
        // The referrers of the census's largest object are searched in every corrupted
        // copy too (three levels); one seed in eight also counts the untracked objects
        // (a second walk through every container: the slowest part in a debug build).
        let largest = clean.heap.first().and_then(|h| h.largest.first()).map(|o| o.address).expect("a largest object");
        let opts = Options { referrers: Some((largest, 3)), largest: 5, ..opts.clone() };
        let mut most = 0u64;
        let random = (0..seeds).map(|seed| (seed, [64u64, 4096, 65536, 1 << 20][(seed % 4) as usize], Vec::new()));
        let replayed = findings.iter().filter(|_| py.id() == "3.12.1").filter_map(|data| finding(data));
        for (seed, rate, values) in random.chain(replayed) {
            let read = AtomicU64::new(0);
            let m = PatchedCore { core: &core, patch: patch(seed, rate, &values, &read) };
            let opts = Options { untracked: seed % 8 == 0, ..opts.clone() };
            if let Ok(r) = analyze(&m, &opts) {
                let _ = pycoroner::report::render::heap::render(&r, 25);
                let _ = pycoroner::report::render::json::render(&r);
                if let Some(h) = r.heap.first() {
                    let counted = h.types.iter().fold(0u64, |n, t| n.saturating_add(t.count));
                    assert!(counted <= h.objects, "{}: seed {seed}: {counted} typed of {} objects", py.id(), h.objects);
                    if h.lists.iter().any(|l| l.broken.is_some()) && counted > 1000 {
                        broken_but_counted += 1;
                    }
                }
            }
            let read = read.load(Ordering::Relaxed);
            assert!(read <= (1 << 30) + (64 << 20), "{}: seed {seed} rate {rate} read {read} bytes", py.id());
            most = most.max(read);
        }
        eprintln!("{}: {seeds} corrupted censuses, no panic, at most {most} bytes read", py.id());
    }
    assert!(broken_but_counted > 0, "no corrupted census both found a broken list and kept what it had counted");
}
