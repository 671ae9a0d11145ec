//! The target's own `_Py_DebugOffsets` table (3.13+), decoded against every built-in
//! table layout; and the same bytes as `_asyncio`'s `_Py_AsyncioModuleDebugOffsets`
//! (3.14+).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pycoroner_layouts::debug_offsets::TableLayout;
use pycoroner_layouts::{builtin, Flavour};

fn tables() -> &'static [(u8, TableLayout)] {
    static T: OnceLock<Vec<(u8, TableLayout)>> = OnceLock::new();
    T.get_or_init(|| {
        let mut v = Vec::new();
        for minor in [13u8, 14, 15] {
            for debug in [false, true] {
                let flavour = Flavour { debug, free_threaded: false };
                if let Some(tl) = builtin::lookup(3, minor, None, flavour).and_then(|(l, _)| l.debug_offsets) {
                    v.push((minor, tl));
                }
            }
        }
        v
    })
}

fuzz_target!(|data: &[u8]| {
    for (minor, tl) in tables() {
        let _ = pycoroner_layouts::debug_offsets::decode(data, tl, *minor);
    }
    let _ = pycoroner_cpython::asyncio::AsyncioDebugOffsets::decode(data);
});
