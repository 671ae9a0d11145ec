//! A small ELF core built byte by byte: the reader's contract on known input, then the
//! same bytes mutated at random (a bounded fuzz run): never a panic, never a hang.

use std::io::Write;

use pycoroner_process::{ElfCore, Memory, MemoryExt, RemoteAddr};

struct Builder {
    notes: Vec<u8>,
    loads: Vec<(u64, u64, Vec<u8>)>, // vaddr, memsz, bytes
}

fn note(out: &mut Vec<u8>, name: &[u8], ntype: u32, desc: &[u8]) {
    out.extend((name.len() as u32 + 1).to_le_bytes());
    out.extend((desc.len() as u32).to_le_bytes());
    out.extend(ntype.to_le_bytes());
    out.extend(name);
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend(desc);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

impl Builder {
    fn build(&self) -> Vec<u8> {
        let phnum = 1 + self.loads.len();
        let mut out = Vec::new();
        out.extend(b"\x7FELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        out.extend(4u16.to_le_bytes()); // ET_CORE
        out.extend(62u16.to_le_bytes()); // x86_64
        out.extend(1u32.to_le_bytes());
        out.extend(0u64.to_le_bytes()); // entry
        out.extend(64u64.to_le_bytes()); // phoff
        out.extend(0u64.to_le_bytes()); // shoff
        out.extend(0u32.to_le_bytes());
        out.extend(64u16.to_le_bytes());
        out.extend(56u16.to_le_bytes());
        out.extend((phnum as u16).to_le_bytes());
        out.extend([0u8; 6]);
        let data_start = 64 + 56 * phnum as u64;
        let mut offset = data_start;
        let mut phdrs: Vec<Vec<u8>> = Vec::new();
        let mut blobs: Vec<u8> = Vec::new();
        let ph = |t: u32, off: u64, vaddr: u64, filesz: u64, memsz: u64| {
            let mut p = Vec::new();
            p.extend(t.to_le_bytes());
            p.extend(4u32.to_le_bytes());
            p.extend(off.to_le_bytes());
            p.extend(vaddr.to_le_bytes());
            p.extend(0u64.to_le_bytes());
            p.extend(filesz.to_le_bytes());
            p.extend(memsz.to_le_bytes());
            p.extend(1u64.to_le_bytes());
            p
        };
        phdrs.push(ph(4, offset, 0, self.notes.len() as u64, 0));
        blobs.extend(&self.notes);
        offset += self.notes.len() as u64;
        for (vaddr, memsz, bytes) in &self.loads {
            phdrs.push(ph(1, offset, *vaddr, bytes.len() as u64, *memsz));
            blobs.extend(bytes);
            offset += bytes.len() as u64;
        }
        for p in phdrs {
            out.extend(p);
        }
        out.extend(blobs);
        out
    }
}

/// An 8 KiB ELF shared object: headers and (optionally) a GNU build-id note in its
/// first page, `fill` in its second.
fn elf_image(build_id: Option<&[u8]>, fill: u8) -> Vec<u8> {
    let mut v = vec![0u8; 8192];
    v[..6].copy_from_slice(b"\x7FELF\x02\x01");
    v[16] = 3; // ET_DYN
    v[32..40].copy_from_slice(&64u64.to_le_bytes());
    v[54..56].copy_from_slice(&56u16.to_le_bytes());
    v[56..58].copy_from_slice(&2u16.to_le_bytes());
    // PT_LOAD of the whole file at vaddr 0.
    v[64..68].copy_from_slice(&1u32.to_le_bytes());
    v[64 + 32..64 + 40].copy_from_slice(&8192u64.to_le_bytes());
    if let Some(id) = build_id {
        let ph = 64 + 56;
        v[ph..ph + 4].copy_from_slice(&4u32.to_le_bytes());
        v[ph + 8..ph + 16].copy_from_slice(&200u64.to_le_bytes());
        v[ph + 16..ph + 24].copy_from_slice(&200u64.to_le_bytes());
        v[ph + 32..ph + 40].copy_from_slice(&(16 + id.len() as u64).to_le_bytes());
        let mut n = Vec::new();
        note(&mut n, b"GNU", 3, id);
        v[200..200 + n.len()].copy_from_slice(&n);
    }
    v[4096..].fill(fill);
    v
}

fn sample(mapped_file: &str) -> Vec<u8> {
    sample_with_head(mapped_file, &elf_image(Some(b"\x11\x22\x33\x44"), 0)[..4096])
}

/// A core whose mapping of `mapped_file` (0x20000..0x22000) has `head` dumped as its
/// first page, the rest left to the file.
fn sample_with_head(mapped_file: &str, head: &[u8]) -> Vec<u8> {
    let mut notes = Vec::new();
    let mut prstatus = vec![0u8; 336];
    prstatus[12..14].copy_from_slice(&11u16.to_le_bytes());
    prstatus[32..36].copy_from_slice(&4242u32.to_le_bytes());
    prstatus[112 + 16 * 8..112 + 17 * 8].copy_from_slice(&0x401000u64.to_le_bytes()); // rip
    prstatus[112 + 21 * 8..112 + 22 * 8].copy_from_slice(&0x7f00_0000_1000u64.to_le_bytes()); // fs_base
    note(&mut notes, b"CORE", 1, &prstatus);
    let mut siginfo = vec![0u8; 128];
    siginfo[0..4].copy_from_slice(&11i32.to_le_bytes());
    siginfo[8..12].copy_from_slice(&1i32.to_le_bytes());
    siginfo[16..24].copy_from_slice(&0x10u64.to_le_bytes());
    note(&mut notes, b"CORE", 0x53494749, &siginfo);
    // NT_FILE: one mapping of `mapped_file` at 0x20000..0x22000, file offset 0.
    let mut nt_file = Vec::new();
    nt_file.extend(1u64.to_le_bytes());
    nt_file.extend(4096u64.to_le_bytes());
    nt_file.extend(0x20000u64.to_le_bytes());
    nt_file.extend(0x22000u64.to_le_bytes());
    nt_file.extend(0u64.to_le_bytes());
    nt_file.extend(mapped_file.as_bytes());
    nt_file.push(0);
    note(&mut notes, b"CORE", 0x46494c45, &nt_file);
    let b = Builder {
        notes,
        loads: vec![
            (0x10000, 0x1000, (0..4096u32).map(|i| i as u8).collect()),
            (0x11000, 0x1000, vec![0xAB; 4096]),
            // Read-only file-backed: the kernel dumped its first page only.
            (0x20000, 0x2000, head.to_vec()),
            // Large enough to lie past the first blocks a reader caches.
            (0x40000, 0x10000, vec![0xCD; 0x10000]),
        ],
    };
    b.build()
}

fn write_tmp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    f.write_all(bytes).expect("write");
    f
}

#[test]
fn reads_segments_notes_and_file_backed_memory() {
    let lib = write_tmp(&elf_image(Some(b"\x11\x22\x33\x44"), 100));
    let core_bytes = sample(lib.path().to_str().expect("utf8"));
    let f = write_tmp(&core_bytes);
    let core = ElfCore::open(f.path()).expect("open");
    assert_eq!(core.threads().len(), 1);
    assert_eq!(core.threads()[0].tid, 4242);
    assert_eq!(core.threads()[0].regs.fs_base, 0x7f00_0000_1000);
    let sig = core.signal().expect("siginfo");
    assert_eq!((sig.signo, sig.addr), (11, Some(0x10)));
    assert_eq!(core.read_u8(RemoteAddr(0x10005)), Ok(5));
    // A read spanning two segments.
    let mut buf = [0u8; 4];
    core.read_exact(RemoteAddr(0x10ffe), &mut buf).expect("span");
    assert_eq!(buf, [0xfe, 0xff, 0xAB, 0xAB]);
    // Not dumped: read from the mapped file, whose build-id matches the dumped header.
    assert_eq!(core.read_u8(RemoteAddr(0x21000 + 700)), Ok(100));
    assert!(core.refused_files().is_empty());
    assert!(core.read_u8(RemoteAddr(0x30000)).is_err());
    assert!(core.read_u8(RemoteAddr(u64::MAX)).is_err());
}

#[test]
fn file_backed_memory_comes_from_inside_the_sysroot_only() {
    let lib = write_tmp(&elf_image(Some(b"\x11\x22\x33\x44"), 1));
    let core_bytes = sample(lib.path().to_str().expect("utf8"));
    let f = write_tmp(&core_bytes);
    let mut core = ElfCore::open(f.path()).expect("open");
    assert_eq!(core.read_u8(RemoteAddr(0x21010)), Ok(1));
    let root = tempfile::tempdir().expect("tmp");
    // With a sysroot, the host's file is never used: nothing there yet.
    core.set_sysroot(Some(root.path().to_path_buf()));
    assert!(core.read_u8(RemoteAddr(0x21010)).is_err());
    let copy = root.path().join(lib.path().to_str().expect("utf8").trim_start_matches('/'));
    std::fs::create_dir_all(copy.parent().expect("parent")).expect("mkdir");
    std::fs::write(&copy, elf_image(Some(b"\x11\x22\x33\x44"), 2)).expect("write");
    core.set_sysroot(Some(root.path().to_path_buf()));
    assert_eq!(core.read_u8(RemoteAddr(0x21010)), Ok(2));
}

/// Regression (#10, file disclosure): a core naming a file it did not come with reads
/// nothing of it: not a file of another build, not one outside the sysroot, not one
/// the core has no dumped header to check against.
#[test]
fn files_the_core_cannot_vouch_for_are_not_read() {
    // Another build at the recorded path.
    let other = write_tmp(&elf_image(Some(b"\x99\x99\x99\x99"), 3));
    let core = ElfCore::open(write_tmp(&sample(other.path().to_str().expect("utf8"))).path()).expect("open");
    assert!(core.read_u8(RemoteAddr(0x21010)).is_err());
    let refused = core.refused_files().join("\n");
    assert!(refused.contains("not the file the process mapped") && refused.contains("11223344"), "{refused}");

    // A plain file (a secret) named by a core that dumped no header for it.
    let secret = write_tmp(&[b'S'; 8192]);
    let core = ElfCore::open(write_tmp(&sample_with_head(secret.path().to_str().expect("utf8"), &[])).path()).expect("open");
    assert!(core.read_vec(RemoteAddr(0x20000), 16, 16).is_err());

    // An image without a build-id: used only if the dumped first page equals its own.
    let plain = elf_image(None, 5);
    let lib = write_tmp(&plain);
    let core = ElfCore::open(write_tmp(&sample_with_head(lib.path().to_str().expect("utf8"), &plain[..4096])).path()).expect("open");
    assert_eq!(core.read_u8(RemoteAddr(0x21000)), Ok(5));
    let mut head = plain[..4096].to_vec();
    head[4000] = 1;
    let core = ElfCore::open(write_tmp(&sample_with_head(lib.path().to_str().expect("utf8"), &head)).path()).expect("open");
    assert!(core.read_u8(RemoteAddr(0x21000)).is_err());

    // `..` in the recorded path cannot climb out of the sysroot.
    let outside = tempfile::tempdir().expect("tmp");
    let root = outside.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(outside.path().join("lib.so"), elf_image(Some(b"\x11\x22\x33\x44"), 7)).expect("write");
    let mut core = ElfCore::open(write_tmp(&sample("/../../lib.so")).path()).expect("open");
    core.set_sysroot(Some(root));
    assert!(core.read_u8(RemoteAddr(0x21000)).is_err());
}

/// Regression (#10, SIGBUS): a core truncated while it is read gives read errors.
#[test]
fn a_core_that_shrinks_while_read_gives_errors_not_sigbus() {
    let lib = write_tmp(&elf_image(Some(b"\x11\x22\x33\x44"), 100));
    let f = write_tmp(&sample(lib.path().to_str().expect("utf8")));
    let core = ElfCore::open(f.path()).expect("open");
    assert_eq!(core.read_u8(RemoteAddr(0x4f000)), Ok(0xCD));
    f.as_file().set_len(600).expect("truncate");
    assert!(core.read_u8(RemoteAddr(0x4ff00 - 0x8000)).is_err());
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn fuzz_mutated_cores_never_panic() {
    let base = sample("/nonexistent/lib.so");
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut runs = 0;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("core");
    // A fixed number of mutants (no clock decides what runs or passes).
    for _ in 0..12_000 {
        let mut bytes = base.clone();
        // Mutate mostly the headers and notes, where the decoders are.
        let hot = 64 + 56 * 4 + 700;
        for _ in 0..(1 + xorshift(&mut seed) % 8) {
            let i = (xorshift(&mut seed) as usize) % hot.min(bytes.len());
            bytes[i] = xorshift(&mut seed) as u8;
        }
        if xorshift(&mut seed).is_multiple_of(5) {
            let cut = (xorshift(&mut seed) as usize) % bytes.len();
            bytes.truncate(cut);
        }
        std::fs::write(&path, &bytes).expect("write");
        if let Ok(core) = ElfCore::open(&path) {
            let _ = core.threads();
            let _ = core.executable_path();
            for a in [0x10000u64, 0x10ff0, 0x20000, 0] {
                let _ = core.read_vec(RemoteAddr(a), 64, 1 << 20);
                let _ = core.read_cstr(RemoteAddr(a), 256);
            }
        }
        runs += 1;
    }
    assert!(runs > 100, "only {runs} runs");
}
