//! Object rendering (`repr` of every family, CPython's gdb script's text of them, thread
//! names, dict lookups) over a memory image the fuzzer writes: 64 KiB at 0x100000, where
//! every known type object sits at a fixed slot, with the offsets of a real 3.12 (and
//! 3.9) build. A frame met as a value has itself among its locals: the script's text of
//! it is bounded by its output limit alone.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pycoroner_cpython::repr::libpython::FrameView;
use pycoroner_cpython::repr::{KnownObjects, Limits, Renderer, SINGLETON_SYMBOLS, TYPE_SYMBOLS};
use pycoroner_cpython::Models;
use pycoroner_layouts::{builtin, Flavour, Layout};
use pycoroner_process::{RemoteAddr, SliceMemory};

const BASE: u64 = 0x10_0000;

fn layouts() -> &'static [(u8, Layout)] {
    static L: OnceLock<Vec<(u8, Layout)>> = OnceLock::new();
    L.get_or_init(|| [9u8, 12].into_iter().filter_map(|m| builtin::lookup(3, m, None, Flavour::default()).map(|(l, _)| (m, l))).collect())
}

fuzz_target!(|data: &[u8]| {
    let mut image = data.to_vec();
    image.resize(64 << 10, 0);
    let mut mem = SliceMemory::new();
    mem.add(BASE, image);
    // Known objects at 0x400-byte slots from the top of the image down.
    let names: Vec<&str> = TYPE_SYMBOLS.iter().map(|(n, _)| *n).chain(SINGLETON_SYMBOLS.iter().copied()).collect();
    let known = KnownObjects::from_symbols(|s| names.iter().position(|n| *n == s).map(|i| BASE + 0xF000 - 0x400 * (i as u64 % 60)));
    for (minor, layout) in layouts() {
        let Some(models) = Models::for_version(3, *minor) else { continue };
        let r = Renderer::new(&mem, &layout.offsets, models, &known, Limits { depth: 100, length: 50, string: 200 });
        let frames = |obj: RemoteAddr| {
            Some(FrameView {
                address: obj.0,
                file: "f.py".into(),
                line: Some(1),
                name: "f".into(),
                locals: vec![("a".into(), RemoteAddr(BASE + 0x40)), ("me".into(), obj)],
            })
        };
        for at in [0u64, 8, 0x40, 0x100] {
            let _ = r.repr(RemoteAddr(BASE + at));
            let _ = r.type_name(RemoteAddr(BASE + at));
            let text = r.libpython_repr(RemoteAddr(BASE + at), Some(&frames));
            assert!(text.chars().count() <= 1024 + "...(truncated)".len());
        }
        let _ = r.threading_threads(RemoteAddr(BASE + 0x200));
        let _ = r.dict_get_str(RemoteAddr(BASE + 0x300), "_active");
    }
});
