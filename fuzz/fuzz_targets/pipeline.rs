//! The whole pipeline on a real core whose memory the fuzzer corrupts: analysis with
//! locals, native stacks and the interpreter state, then both renderers. The core is `$PYCORONER_FUZZ_CORE`
//! (a crash of fixtures/scenarios/locals_values.py; `fuzz/run.sh` makes one).
//!
//! Input: 8 bytes of seed, 1 byte choosing the corruption rate (1 in 2^(4..20) bytes),
//! 1 byte of flags (native stacks), then the values corrupt bytes take.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pycoroner::{analyze, NativeMode, Options};
use pycoroner_report::render;
use pycoroner_testkit::{corruption, FuzzCore, PatchedCore};

fn setup() -> &'static FuzzCore {
    static S: OnceLock<FuzzCore> = OnceLock::new();
    S.get_or_init(|| FuzzCore::from_env("PYCORONER_FUZZ_CORE"))
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let Some((head, values)) = data.split_at_checked(10) else { return };
    let seed = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let rate = 1u64 << (4 + head[8] % 17);
    let native = if head[9] & 1 == 1 { NativeMode::All } else { NativeMode::Off };
    let opts = Options { cache_dir: Some(s.cache.path().to_path_buf()), locals: true, native, ..Options::default() };
    let m = PatchedCore { core: &s.core, patch: corruption(seed, rate, values) };
    if let Ok(report) = analyze(&m, &opts) {
        let _ = render::faulthandler::render(&report);
        // The whole interpreter state section too (`--state`).
        let _ = render::faulthandler::render_with(&report, render::faulthandler::TextOptions { state: true, ..Default::default() });
        let _ = render::json::render(&report);
    }
});
