//! Hostile memory through the whole pipeline: real cores whose every read is
//! corrupted at random (deterministically per seed), with locals rendered and, every
//! other run, native stacks unwound and spliced. The analysis must never panic, never
//! hang, and never allocate without bound; it may fail or warn.

use std::time::{Duration, Instant};

use pycoroner::{analyze, Options};
use pycoroner_target::ElfCore;
use pycoroner_testkit::{crash, mix, repo_root, PatchedCore};

/// Corrupts bytes of reads: each byte at address A flips with probability 1/`rate`,
/// decided by a hash of (seed, A) so re-reads agree (as real memory would).
fn corrupt(seed: u64, rate: u64) -> impl Fn(u64, &mut [u8]) + Sync {
    move |addr, buf| {
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
    // A campaign (PYCORONER_FUZZ_SECONDS=N) takes every interpreter for N seconds in all.
    let campaign: Option<u64> = std::env::var("PYCORONER_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok());
    let picked: Vec<_> = interps
        .iter()
        .filter(|i| campaign.is_some() || (!i.id().contains('-') && matches!(i.minor, 6 | 10 | 11 | 12 | 13)))
        .collect();
    let script = repo_root().join("fixtures/scenarios/locals_values.py");
    let budget = Duration::from_secs(campaign.unwrap_or(if pycoroner_testkit::in_ci() { 20 } else { 8 }));
    let per = budget / picked.len().max(1) as u32;
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
        let start = Instant::now();
        let mut runs = 0u64;
        let mut slowest = Duration::ZERO;
        while start.elapsed() < per {
            for rate in [16u64, 256, 4096, 65536] {
                let m = PatchedCore { core: &core, patch: corrupt(runs, rate) };
                let t0 = Instant::now();
                let _ = analyze(&m, if runs % 2 == 1 { &native } else { &opts });
                assert!(t0.elapsed() < Duration::from_secs(5), "{}: seed {runs} rate {rate} took {:?}", py.id(), t0.elapsed());
                slowest = slowest.max(t0.elapsed());
                runs += 1;
            }
        }
        eprintln!("{}: {runs} corrupted analyses, no panic, slowest {slowest:?}", py.id());
        assert!(runs > 4);
    }
}
