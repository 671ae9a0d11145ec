//! An ELF core file: headers, notes (threads, signal, mapped files, auxv, psinfo),
//! segment lookup, build-id checks of the files it names, reads across segments.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pycoroner_process::{elf_ident, ElfCore, MemoryExt, RemoteAddr, Target};

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if std::io::Write::write_all(&mut f, data).is_err() {
        return;
    }
    let Ok(core) = ElfCore::open(f.path()) else { return };
    let _ = core.threads();
    let _ = core.signal();
    let _ = core.executable_path();
    let _ = core.process_info();
    let _ = Target::warnings(&core);
    for m in core.file_mappings().iter().take(64) {
        let _ = core.read_vec(RemoteAddr(m.start), 256, 4096);
        let _ = elf_ident::build_id_in_memory(&core, m.start);
        let _ = elf_ident::bias_in_memory(&core, m.start);
    }
    for t in core.threads().iter().take(16) {
        let _ = core.read_u64(RemoteAddr(t.regs.rsp));
        let _ = core.read_cstr(RemoteAddr(t.regs.rip), 128);
    }
});
