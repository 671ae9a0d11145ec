//! DWARF call sites (tail-call frames): an ELF file's debug sections, queried at every
//! address its units cover and around them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pycoroner_debuginfo::tailcall::ModuleCalls;

fuzz_target!(|data: &[u8]| {
    let Some(m) = ModuleCalls::load(data) else { return };
    let starts: Vec<u64> = m.covered().take(64).collect();
    for a in starts.into_iter().chain([0, 1, u64::MAX]) {
        for x in [a, a.wrapping_add(1), a.wrapping_add(5)] {
            let _ = m.call_site(x);
            let _ = m.function_entry(x);
            let _ = m.tail_calls(x);
        }
    }
});
