//! The heap census read from a real core whose memory the fuzzer corrupts: a crash of
//! fixtures/scenarios/heap_census.py (tens of thousands of objects on the collector's
//! lists), counted and rendered as `pycoroner heap --untracked` does, and the
//! referrers of its largest object searched three levels up. The core is
//! `$PYCORONER_FUZZ_HEAP_CORE` (`fuzz/run.sh` makes one); with
//! `$PYCORONER_FUZZ_HEAP_ALL_CORE` too (the same scenario on a Py_TRACE_REFS build,
//! whose list of every object is walked as well), each input picks one of the two.
//!
//! Input: 8 bytes of seed (its low bit picks the core), 1 byte choosing the
//! corruption rate (1 in 2^(4..20) bytes), then the values corrupt bytes take.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pycoroner::{analyze, Options};
use pycoroner_report::render;
use pycoroner_testkit::{corruption, FuzzCore, PatchedCore};

fn setup() -> &'static [(FuzzCore, u64)] {
    static S: OnceLock<Vec<(FuzzCore, u64)>> = OnceLock::new();
    S.get_or_init(|| {
        let mut cores = vec![FuzzCore::from_env("PYCORONER_FUZZ_HEAP_CORE")];
        if std::env::var_os("PYCORONER_FUZZ_HEAP_ALL_CORE").is_some() {
            cores.push(FuzzCore::from_env("PYCORONER_FUZZ_HEAP_ALL_CORE"));
        }
        cores
            .into_iter()
            .map(|s| {
                // The clean core's largest object: whose referrers every run searches.
                let opts = Options { cache_dir: Some(s.cache.path().to_path_buf()), heap: true, largest: 1, ..Options::default() };
                let largest = analyze(&s.core, &opts).ok().and_then(|r| r.heap.first().and_then(|h| h.largest.first()).map(|o| o.address)).unwrap_or(0);
                (s, largest)
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let cores = setup();
    let Some((head, values)) = data.split_at_checked(9) else { return };
    let seed = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let Some((s, largest)) = cores.get((seed % cores.len() as u64) as usize) else { return };
    let rate = 1u64 << (4 + head[8] % 17);
    let opts = Options { cache_dir: Some(s.cache.path().to_path_buf()), heap: true, largest: 5, untracked: true, referrers: Some((*largest, 3)), ..Options::default() };
    let m = PatchedCore { core: &s.core, patch: corruption(seed, rate, values) };
    if let Ok(report) = analyze(&m, &opts) {
        let _ = render::heap::render(&report, 25);
        if let Some(r) = &report.referrers {
            let mut text = String::new();
            render::heap::referrers(&mut text, r);
        }
        let _ = render::json::render(&report);
    }
});
