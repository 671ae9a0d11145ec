//! A minidump file, any writer's: the directory and streams (threads and their
//! contexts, modules, memory lists, exception, maps, status, command line, pycoroner's
//! own streams), reads across its memory ranges, and the whole analysis on it (the
//! layout stream decoded, every thread walked with locals, both renderers), with no
//! binary and no cache.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pycoroner::{analyze, NativeMode, Options};
use pycoroner_process::{MemoryExt, MinidumpCore, RemoteAddr, Target};
use pycoroner_report::render;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = MinidumpCore::from_bytes(std::path::Path::new("fuzz.dmp"), data.to_vec()) else { return };
    let _ = (dump.signal(), dump.pid(), dump.executable(), dump.command_line(), dump.warnings(), dump.taken_at());
    for m in dump.mappings().iter().take(64) {
        let _ = dump.read_vec(RemoteAddr(m.start), 256, 4096);
        let _ = dump.region(m.start);
    }
    for t in dump.threads().iter().take(16) {
        let _ = dump.read_u64(RemoteAddr(t.regs.rsp));
        let _ = dump.read_cstr(RemoteAddr(t.regs.rip), 128);
    }
    let empty = std::env::temp_dir().join("pycoroner-fuzz-empty-root");
    let _ = std::fs::create_dir_all(&empty);
    let mut dump = dump;
    dump.set_sysroot(Some(empty));
    let opts = Options { cache_dir: None, locals: true, native: NativeMode::Off, ..Options::default() };
    if let Ok(report) = analyze(&dump, &opts) {
        let _ = render::faulthandler::render(&report);
        let _ = render::json::render(&report);
    }
});
