//! The interpreter state read from a real core whose memory the fuzzer corrupts: a
//! crash of fixtures/ext/interpreter_state.py (trace and profile functions, atexit
//! callbacks, GC settings, signal handlers, locks, daemon threads all set), analyzed
//! and rendered with `--state`. The core is `$PYCORONER_FUZZ_STATE_CORE` (`fuzz/run.sh`
//! makes one); with `$PYCORONER_FUZZ_STATE_GC_CORE` too (a crash in a `__del__` an
//! automatic collection runs: the generation is read from the collector's native
//! frames, through the stack's saved registers), each input picks one of the two.
//!
//! Input: 8 bytes of seed (its low bit picks the core), 1 byte choosing the
//! corruption rate (1 in 2^(4..20) bytes), then the values corrupt bytes take.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pycoroner::{analyze, Options};
use pycoroner_report::render;
use pycoroner_testkit::{corruption, FuzzCore, PatchedCore};

fn setup() -> &'static [FuzzCore] {
    static S: OnceLock<Vec<FuzzCore>> = OnceLock::new();
    S.get_or_init(|| {
        let mut cores = vec![FuzzCore::from_env("PYCORONER_FUZZ_STATE_CORE")];
        if std::env::var_os("PYCORONER_FUZZ_STATE_GC_CORE").is_some() {
            cores.push(FuzzCore::from_env("PYCORONER_FUZZ_STATE_GC_CORE"));
        }
        cores
    })
}

fuzz_target!(|data: &[u8]| {
    let cores = setup();
    let Some((head, values)) = data.split_at_checked(9) else { return };
    let seed = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let Some(s) = cores.get((seed % cores.len() as u64) as usize) else { return };
    let rate = 1u64 << (4 + head[8] % 17);
    let opts = Options { cache_dir: Some(s.cache.path().to_path_buf()), state: true, ..Options::default() };
    let m = PatchedCore { core: &s.core, patch: corruption(seed, rate, values) };
    if let Ok(report) = analyze(&m, &opts) {
        let _ = render::faulthandler::render_with(&report, render::faulthandler::TextOptions { state: true, ..Default::default() });
        let _ = render::json::render(&report);
    }
});
