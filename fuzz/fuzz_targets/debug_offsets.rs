//! The target's own `_Py_DebugOffsets` table (3.13+), decoded against every built-in
//! table layout.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pycoroner_layouts::{builtin, Flavour};

fuzz_target!(|data: &[u8]| {
    for minor in [13u8, 14, 15] {
        for debug in [false, true] {
            let flavour = Flavour { debug, free_threaded: false };
            let Some((layout, _)) = builtin::lookup(3, minor, None, flavour) else { continue };
            if let Some(tl) = layout.debug_offsets.as_ref() {
                let _ = pycoroner_layouts::debug_offsets::decode(data, tl, minor);
            }
        }
    }
});
