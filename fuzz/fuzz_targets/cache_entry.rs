//! A cache entry as found on disk: the seal, then the JSON of a layout entry.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pycoroner_process::cache_dir::unseal;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = unseal("layout", "00", data) {
        let _ = serde_json::from_slice::<pycoroner_layouts::Layout>(body);
    }
    let _ = serde_json::from_slice::<pycoroner_layouts::Layout>(data);
});
