//! Walks over hand-laid memory: a thread list and a frame chain that loop back, a
//! broken link, and string decoding of every kind. Each walk must stop with the
//! right reason and keep what it read.

use pycoroner_cpython::{objects, Anchors, Models, Python, Stop, ThreadState};
use pycoroner_layouts::{Flavour, Layout, Offsets, LAYOUT_FORMAT};
use pycoroner_process::{RemoteAddr, SliceMemory};

fn layout() -> Layout {
    let mut o = Offsets::default();
    for (k, v) in [
        ("runtime.interpreters_head", 0u64),
        ("interp.next", 0),
        ("interp.threads_head", 8),
        ("tstate.next", 8),
        ("tstate.interp", 16),
        ("tstate.frame", 24),
        ("tstate.thread_id", 32),
        ("frame.back", 24),
        ("frame.code", 32),
        ("frame.lasti", 104),
        ("object.ob_type", 8),
        ("object.ob_size", 16),
        ("code.filename", 104),
        ("code.name", 112),
        ("code.firstlineno", 40),
        ("code.linetable", 120),
        ("unicode.length", 16),
        ("unicode.state", 32),
        ("unicode.ascii_size", 48),
        ("unicode.compact_size", 72),
        ("unicode.data", 72),
        ("bytes.sval", 32),
    ] {
        assert!(o.set(k, Some(v)));
    }
    Layout {
        format: LAYOUT_FORMAT,
        version: (3, 9),
        micro: None,
        flavour: Flavour::default(),
        source: pycoroner_layouts::Source::Builtin,
        offsets: o,
        debug_offsets: None,
    }
}

fn word(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn ascii_str(s: &str) -> Vec<u8> {
    let mut b = vec![0u8; 48 + s.len() + 1];
    word(&mut b, 16, s.len() as u64);
    // kind 1, compact, ascii, ready
    b[32..36].copy_from_slice(&((1u32 << 2) | (1 << 5) | (1 << 6) | (1 << 7)).to_le_bytes());
    b[48..48 + s.len()].copy_from_slice(s.as_bytes());
    b
}

/// runtime @0x1000 -> interp @0x2000 -> tstate @0x3000 -> frames @0x4000.. (code @0x8000)
fn memory(frame_links: &[(u64, u64)], tstate_next: u64) -> SliceMemory {
    let mut m = SliceMemory::new();
    let mut rt = vec![0u8; 16];
    word(&mut rt, 0, 0x2000);
    m.add(0x1000, rt);
    let mut interp = vec![0u8; 16];
    word(&mut interp, 8, 0x3000);
    m.add(0x2000, interp);
    let mut ts = vec![0u8; 64];
    word(&mut ts, 8, tstate_next);
    word(&mut ts, 16, 0x2000);
    word(&mut ts, 24, frame_links.first().map_or(0, |l| l.0));
    word(&mut ts, 32, 0x7f00_dead_beef);
    m.add(0x3000, ts);
    for (addr, back) in frame_links {
        let mut f = vec![0u8; 128];
        word(&mut f, 24, *back);
        word(&mut f, 32, 0x8000);
        f[104..108].copy_from_slice(&4i32.to_le_bytes());
        m.add(*addr, f);
    }
    let mut code = vec![0u8; 128];
    word(&mut code, 104, 0x9000);
    word(&mut code, 112, 0x9100);
    code[40..44].copy_from_slice(&10i32.to_le_bytes());
    word(&mut code, 120, 0x9200);
    m.add(0x8000, code);
    m.add(0x9000, ascii_str("x.py"));
    m.add(0x9100, ascii_str("f"));
    let mut lnotab = vec![0u8; 32 + 2];
    word(&mut lnotab, 16, 2);
    lnotab[32] = 2;
    lnotab[33] = 3;
    m.add(0x9200, lnotab);
    m
}

fn python<'a>(m: &'a SliceMemory, l: &'a Layout) -> Python<'a> {
    let models = Models::for_version(3, 9).expect("model");
    Python::new(m, l, models, Anchors { runtime: Some(RemoteAddr(0x1000)), ..Anchors::default() })
}

#[test]
fn frame_chain_and_lines() {
    let l = layout();
    let m = memory(&[(0x4000, 0x4100), (0x4100, 0)], 0);
    let py = python(&m, &l);
    let (interps, stop) = py.interpreters().expect("interpreters");
    assert_eq!((interps.len(), stop), (1, Stop::End));
    let (threads, _) = py.threads(&interps[0]).expect("threads");
    assert_eq!(threads[0].thread_id, 0x7f00_dead_beef);
    let walk = py.frames(&threads[0]);
    assert_eq!(walk.stop, Stop::End);
    assert_eq!(walk.frames.len(), 2);
    let info = walk.frames[0].info.as_ref().expect("code");
    assert_eq!(info.name.as_deref(), Ok("f"));
    assert_eq!(info.filename.as_deref(), Ok("x.py"));
    assert_eq!(walk.frames[0].line, Some(13)); // lasti 4 >= 2: 10 + 3
}

#[test]
fn frame_cycle_is_detected_and_frames_kept() {
    let l = layout();
    let m = memory(&[(0x4000, 0x4100), (0x4100, 0x4000)], 0);
    let py = python(&m, &l);
    let ts = ThreadState { addr: RemoteAddr(0x3000), thread_id: 1, native_thread_id: None };
    let walk = py.frames(&ts);
    assert_eq!(walk.stop, Stop::Cycle(RemoteAddr(0x4000)));
    assert_eq!(walk.frames.len(), 2);
}

#[test]
fn broken_frame_link_keeps_what_was_read() {
    let l = layout();
    let m = memory(&[(0x4000, 0x6666)], 0);
    let py = python(&m, &l);
    let ts = ThreadState { addr: RemoteAddr(0x3000), thread_id: 1, native_thread_id: None };
    let walk = py.frames(&ts);
    assert!(matches!(walk.stop, Stop::Broken(RemoteAddr(0x6666), _)), "{:?}", walk.stop);
    assert_eq!(walk.frames.len(), 1);
}

#[test]
fn thread_list_cycle_is_detected() {
    let l = layout();
    let m = memory(&[], 0x3000);
    let py = python(&m, &l);
    let (interps, _) = py.interpreters().expect("interpreters");
    let (threads, stop) = py.threads(&interps[0]).expect("threads");
    assert_eq!(threads.len(), 1);
    assert_eq!(stop, Stop::Cycle(RemoteAddr(0x3000)));
}

#[test]
fn strings_of_every_kind_and_corrupt_ones() {
    let l = layout();
    let o = &l.offsets;
    let mut m = SliceMemory::new();
    m.add(0x100, ascii_str("hello"));
    // UCS2 compact, non-ASCII: "é函"
    let mut s2 = vec![0u8; 72 + 4];
    word(&mut s2, 16, 2);
    s2[32..36].copy_from_slice(&((2u32 << 2) | (1 << 5) | (1 << 7)).to_le_bytes());
    s2[72..74].copy_from_slice(&0xe9u16.to_le_bytes());
    s2[74..76].copy_from_slice(&0x51fdu16.to_le_bytes());
    m.add(0x200, s2);
    // UCS4 compact: U+1F600
    let mut s4 = vec![0u8; 72 + 4];
    word(&mut s4, 16, 1);
    s4[32..36].copy_from_slice(&((4u32 << 2) | (1 << 5) | (1 << 7)).to_le_bytes());
    s4[72..76].copy_from_slice(&0x1F600u32.to_le_bytes());
    m.add(0x300, s4);
    // Corrupt: absurd length, bad kind.
    let mut bad = ascii_str("x");
    word(&mut bad, 16, u64::MAX);
    m.add(0x400, bad);
    let mut badkind = ascii_str("x");
    badkind[32..36].copy_from_slice(&(3u32 << 2).to_le_bytes());
    m.add(0x500, badkind);
    assert_eq!(objects::read_str(&m, o, RemoteAddr(0x100)).as_deref(), Ok("hello"));
    assert_eq!(objects::read_str(&m, o, RemoteAddr(0x200)).as_deref(), Ok("é函"));
    assert_eq!(objects::read_str(&m, o, RemoteAddr(0x300)).as_deref(), Ok("\u{1F600}"));
    assert!(objects::read_str(&m, o, RemoteAddr(0x400)).is_err());
    assert!(objects::read_str(&m, o, RemoteAddr(0x500)).is_err());
    assert!(objects::read_str(&m, o, RemoteAddr(0)).is_err());
}
