//! Line tables in all three formats, at every address the input names.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pycoroner_cpython::linetable::LineTableFormat;

fuzz_target!(|data: &[u8]| {
    let Some((head, table)) = data.split_at_checked(8) else { return };
    let first = i32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let addr = i64::from(i32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    for f in [LineTableFormat::Lnotab, LineTableFormat::V310, LineTableFormat::Locations] {
        let _ = f.line_for(table, first, addr);
        let _ = f.line_for(table, first, i64::MAX);
        let _ = f.line_for(table, i32::MIN, -1);
    }
});
