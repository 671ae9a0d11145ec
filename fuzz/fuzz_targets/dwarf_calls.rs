//! DWARF call sites (tail-call frames): an ELF file's debug sections, queried at every
//! address its units cover and around them; and the struct layouts read from the same
//! sections (the seed, built against Python.h, defines CPython's object structs); and
//! what reading a C function's argument decodes from the same file (CFI rows, scopes,
//! location lists and expressions, call-site values); and symbolizing by compilation
//! unit (aranges, abbreviation tables, a context over one unit cut out of the file).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pycoroner_debuginfo::tailcall::ModuleCalls;
use pycoroner_debuginfo::LayoutQuery;

fuzz_target!(|data: &[u8]| {
    let query = LayoutQuery { names: ["_object", "_typeobject", "PyVarObject", "PyASCIIObject", "_longobject"].map(String::from).to_vec(), places: vec!["Objects/longobject.c".into()] };
    let _ = pycoroner_debuginfo::layout::extract_bytes(data, &query);
    pycoroner_debuginfo::native::exercise_arguments(data);
    pycoroner_debuginfo::native::exercise_unit_symbols(data);
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
