//! The object renderer on hand-laid and on random memory: freed, unreadable and
//! corrupt values render in place; random images never panic or hang (a bounded fuzz
//! run over every decoder reachable from `repr`).


use pycoroner_cpython::repr::{KnownObjects, Limits, Renderer};
use pycoroner_cpython::Models;
use pycoroner_layouts::Offsets;
use pycoroner_process::{RemoteAddr, SliceMemory};

const LIST_T: u64 = 0x10000;
const INT_T: u64 = 0x10400;
const STR_T: u64 = 0x10800;
const DICT_T: u64 = 0x10c00;
const TUPLE_T: u64 = 0x11000;
const NONE: u64 = 0x11400;
const CFUNC_T: u64 = 0x11800;
const MODULE_T: u64 = 0x11c00;
const METHOD_T: u64 = 0x12800;

fn offsets() -> Offsets {
    let mut o = Offsets::default();
    for (k, v) in [
        ("object.ob_type", 8u64),
        ("object.ob_size", 16),
        ("type_object.tp_name", 24),
        ("type_object.tp_flags", 168),
        ("type_ext.basicsize", 32),
        ("type_ext.itemsize", 40),
        ("type_ext.dictoffset", 288),
        ("type_ext.ht_qualname", 872),
        ("type_ext.ht_cached_keys", 880),
        ("type_ext.dict", 264),
        ("list.item", 24),
        ("tuple.item", 24),
        ("long.lv_tag", 16),
        ("long.digit", 24),
        ("unicode.length", 16),
        ("unicode.state", 32),
        ("unicode.ascii_size", 40),
        ("unicode.compact_size", 56),
        ("unicode.data", 56),
        ("dict.used", 16),
        ("dict.keys", 32),
        ("dict.values", 40),
        ("dict.dk_log2_size", 8),
        ("dict.dk_log2_index_bytes", 9),
        ("dict.dk_kind", 10),
        ("dict.dk_nentries", 24),
        ("dict.dk_indices", 32),
        ("dict.entry_size", 24),
        ("dict.unicode_entry_size", 16),
        ("cfunction.ml", 16),
        ("cfunction.self_", 24),
        ("methoddef.name", 0),
        ("module.dict", 16),
        ("method.func", 16),
        ("method.self_", 24),
        ("function.qualname", 48),
    ] {
        assert!(o.set(k, Some(v)));
    }
    o
}

fn known() -> KnownObjects {
    KnownObjects::from_symbols(|s| match s {
        "PyList_Type" => Some(LIST_T),
        "PyLong_Type" => Some(INT_T),
        "PyUnicode_Type" => Some(STR_T),
        "PyDict_Type" => Some(DICT_T),
        "PyTuple_Type" => Some(TUPLE_T),
        "_Py_NoneStruct" => Some(NONE),
        "PyCFunction_Type" => Some(CFUNC_T),
        "PyModule_Type" => Some(MODULE_T),
        "PyMethod_Type" => Some(METHOD_T),
        _ => None,
    })
}

fn put(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// A list at `addr` holding `items` (its item array at `addr + 0x100`).
fn list_at(m: &mut SliceMemory, addr: u64, items: &[u64]) {
    let mut list = vec![0u8; 0x100 + 8 * items.len()];
    put(&mut list, 8, LIST_T);
    put(&mut list, 16, items.len() as u64);
    put(&mut list, 24, addr + 0x100);
    for (i, item) in items.iter().enumerate() {
        put(&mut list, 0x100 + 8 * i, *item);
    }
    m.add(addr, list);
}

/// A type object at `addr` named `name`, without flags, and an instance of it at `obj`.
fn named_type_and_instance(m: &mut SliceMemory, addr: u64, name: &str, obj: u64) {
    let mut t = vec![0u8; 0x400];
    put(&mut t, 24, addr + 0x300);
    t[0x300..0x300 + name.len()].copy_from_slice(name.as_bytes());
    m.add(addr, t);
    let mut o = vec![0u8; 0x20];
    put(&mut o, 8, addr);
    m.add(obj, o);
}

fn type_objects(m: &mut SliceMemory) {
    for (addr, name, flag_bit) in [
        (LIST_T, "list", 25),
        (INT_T, "int", 24),
        (STR_T, "str", 28),
        (DICT_T, "dict", 29),
        (TUPLE_T, "tuple", 26),
        (CFUNC_T, "builtin_function_or_method", 0),
        (MODULE_T, "module", 0),
        (METHOD_T, "method", 0),
    ] {
        let mut t = vec![0u8; 0x400];
        put(&mut t, 24, addr + 0x300);
        put(&mut t, 168, if flag_bit == 0 { 0 } else { 1 << flag_bit });
        t[0x300..0x300 + name.len()].copy_from_slice(name.as_bytes());
        m.add(addr, t);
    }
}

#[test]
fn freed_unreadable_and_corrupt_values_render_in_place() {
    let o = offsets();
    let k = known();
    let mut m = SliceMemory::new();
    type_objects(&mut m);
    // int 5, a freed pointer (PYMALLOC_DEBUG), an unmapped one, a corrupt str
    list_at(&mut m, 0x1000, &[0x2000, 0xdddd_dddd_dddd_dddd, 0x9999_0000, 0x3000]);
    let mut int = vec![0u8; 32];
    put(&mut int, 8, INT_T);
    put(&mut int, 16, 1 << 3);
    int[24] = 5;
    m.add(0x2000, int);
    let mut bad = vec![0u8; 64];
    put(&mut bad, 8, STR_T);
    put(&mut bad, 16, u64::MAX); // absurd length
    bad[32] = 0b0110_0100; // compact ascii kind 1
    m.add(0x3000, bad);
    // an object whose header was freed
    m.add(0x4000, vec![0xdd; 64]);
    let models = Models::for_version(3, 12).expect("model");
    let r = Renderer::new(&m, &o, models, &k, Limits::default());
    assert_eq!(
        r.repr(RemoteAddr(0x1000)),
        "[5, <freed 0xdddddddddddddddd>, <unreadable 0x99990000>, <corrupt str at 0x3000>]"
    );
    assert_eq!(r.repr(RemoteAddr(0x4000)), "<freed object at 0x4000>");
    assert_eq!(r.repr(RemoteAddr(NONE)), "None");
    let short = Renderer::new(&m, &o, models, &k, Limits { depth: 6, length: 2, string: 10 });
    assert_eq!(short.repr(RemoteAddr(0x1000)), "[5, <freed 0xdddddddddddddddd>, ...]");
}

/// Regression (#10, resource blow-ups): `print --depth 10000` on a 30 000-deep chain
/// of tuples aborted on pycoroner's own stack. Depth is capped by the renderer, not by
/// the target or the caller.
#[test]
fn a_very_deep_chain_renders_without_exhausting_the_stack() {
    let o = offsets();
    let k = known();
    let mut m = SliceMemory::new();
    type_objects(&mut m);
    // 30 000 one-tuples, each holding the next: (((...),),)
    const N: u64 = 30_000;
    let base = 0x100_0000u64;
    let mut chain = vec![0u8; (N * 32) as usize];
    for i in 0..N {
        let at = (i * 32) as usize;
        put(&mut chain, at + 8, TUPLE_T);
        put(&mut chain, at + 16, 1);
        put(&mut chain, at + 24, if i + 1 < N { base + (i + 1) * 32 } else { NONE });
    }
    m.add(base, chain);
    let models = Models::for_version(3, 12).expect("model");
    // Run on a thread with a 2 MiB stack (a debug build's frames are large): the cap must hold there too.
    let text = std::thread::Builder::new()
        .stack_size(2048 << 10)
        .spawn(move || Renderer::new(&m, &o, models, &k, Limits { depth: 10_000, length: 100, string: 100 }).repr(RemoteAddr(base)))
        .expect("thread")
        .join()
        .expect("rendered without overflowing its stack");
    let depth = text.chars().take_while(|&c| c == '(').count();
    // MAX_DEPTH levels shown, the next one as `(...)`.
    assert_eq!(depth, pycoroner_cpython::repr::MAX_DEPTH + 1, "{}", &text[..200.min(text.len())]);
    assert!(text.contains("(...)"), "{text}");
}

#[test]
fn self_containing_list_is_a_cycle_not_a_hang() {
    let o = offsets();
    let k = known();
    let mut m = SliceMemory::new();
    type_objects(&mut m);
    list_at(&mut m, 0x1000, &[0x1000, 0x1000]);
    let r = Renderer::new(&m, &o, Models::for_version(3, 12).expect("model"), &k, Limits::default());
    assert_eq!(r.repr(RemoteAddr(0x1000)), "[[...], [...]]");
}

/// meth_repr: a C function bound to nothing or to a module is a function, else a method
/// of its object; a PyMethodDef whose name is unreadable is one bad value, in place.
#[test]
fn builtin_functions_and_methods() {
    let o = offsets();
    let k = known();
    let mut m = SliceMemory::new();
    type_objects(&mut m);
    let mut img = vec![0u8; 0x400];
    // PyMethodDefs at 0x100 ("len") and 0x110 ("append"), names at 0x200 and 0x210.
    put(&mut img, 0x100, 0x5200);
    put(&mut img, 0x110, 0x5210);
    put(&mut img, 0x120, 0x9999_0000); // unreadable name
    img[0x200..0x203].copy_from_slice(b"len");
    img[0x210..0x216].copy_from_slice(b"append");
    m.add(0x5000, img);
    let cfunc = |def: u64, slf: u64| {
        let mut f = vec![0u8; 32];
        put(&mut f, 8, CFUNC_T);
        put(&mut f, 16, def);
        put(&mut f, 24, slf);
        f
    };
    m.add(0x6000, cfunc(0x5100, 0)); // len, unbound
    m.add(0x6100, cfunc(0x5110, 0x7000)); // append of a list
    m.add(0x6200, cfunc(0x5100, 0x7100)); // a module's function
    m.add(0x6300, cfunc(0x5120, 0x7000)); // bad name
    let mut list = vec![0u8; 32];
    put(&mut list, 8, LIST_T);
    m.add(0x7000, list);
    let mut module = vec![0u8; 32];
    put(&mut module, 8, MODULE_T);
    m.add(0x7100, module);
    let r = Renderer::new(&m, &o, Models::for_version(3, 12).expect("model"), &k, Limits::default());
    assert_eq!(r.repr(RemoteAddr(0x6000)), "<built-in function len>");
    assert_eq!(r.repr(RemoteAddr(0x6100)), "<built-in method append of list object at 0x7000>");
    assert_eq!(r.repr(RemoteAddr(0x6200)), "<built-in function len>");
    assert_eq!(r.repr(RemoteAddr(0x6300)), "<unreadable 0x6300>");
}

/// An int as long as a corrupt size allows (2^15 digits) is not written out in decimal
/// (quadratic: seconds); it says how long it is. Short ones stay exact.
#[test]
fn enormous_int_says_its_length_instead_of_converting() {
    let o = offsets();
    let k = known();
    let mut m = SliceMemory::new();
    type_objects(&mut m);
    let ndigits: u64 = 1 << 15;
    let mut big = vec![0u8; 24 + ndigits as usize * 4];
    put(&mut big, 8, INT_T);
    put(&mut big, 16, (ndigits << 3) | 2); // negative
    for d in big[24..].chunks_exact_mut(4) {
        d.copy_from_slice(&0x3fff_ffffu32.to_le_bytes());
    }
    m.add(0x8000, big);
    let mut two = vec![0u8; 32];
    put(&mut two, 8, INT_T);
    put(&mut two, 16, 2 << 3);
    put(&mut two, 24, 1 << 32); // digits [0, 1]
    m.add(0x2000, two);
    let r = Renderer::new(&m, &o, Models::for_version(3, 12).expect("model"), &k, Limits::default());
    // 2^(15 * 2^16) - 1 has floor(983040 * log10 2) + 1 = 295925 decimal digits: said,
    // not converted (the conversion is quadratic).
    assert_eq!(r.repr(RemoteAddr(0x8000)), "<negative int with about 295925 decimal digits>");
    assert_eq!(r.repr(RemoteAddr(0x2000)), "1073741824");
}

/// Random images rendered by `fuzz_random_memory_images`.
const IMAGES: usize = 30_000;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn fuzz_random_memory_images() {
    let o = offsets();
    let k = known();
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut runs = 0u64;
    // A fixed number of images (no clock decides what runs or passes).
    for _ in 0..IMAGES {
        let mut m = SliceMemory::new();
        type_objects(&mut m);
        // 16 KiB of random words, biased towards pointers into the image and to the types.
        let mut img = vec![0u8; 16 * 1024];
        for w in img.chunks_exact_mut(8) {
            let r = xorshift(&mut seed);
            let v = match r % 8 {
                0 => 0x1000 + ((xorshift(&mut seed) % 0x4000) & !7),
                1 => [LIST_T, INT_T, STR_T, DICT_T, TUPLE_T, CFUNC_T, MODULE_T][(r >> 8) as usize % 7],
                2 => r >> 40,
                3 => 0,
                _ => xorshift(&mut seed),
            };
            w.copy_from_slice(&v.to_le_bytes());
        }
        m.add(0x1000, img);
        for minor in [6u8, 10, 11, 12, 13] {
            let models = Models::for_version(3, minor).expect("model");
            let r = Renderer::new(&m, &o, models, &k, Limits::default());
            let addr = 0x1000 + ((xorshift(&mut seed) % 0x4000) & !7);
            let s = r.repr(RemoteAddr(addr));
            let _ = r.instance_attributes(RemoteAddr(addr));
            assert!(s.len() < 10 << 20, "unbounded output");
            runs += 1;
        }
    }
    assert!(runs > 100, "{runs}");
}

/// CPython's gdb script's text on hand-laid memory: its rules (an object already
/// written anywhere in the text is `[...]`, a type with no writer `<T at remote 0x..>`,
/// an unreadable type `unknown`, NULL `0x0`), and its 1024-character cut, which also
/// bounds a chain far deeper than any depth limit and a frame that holds itself.
#[test]
fn libpython_text_follows_cpython_s_script_on_hostile_memory() {
    use pycoroner_cpython::repr::libpython::{FrameView, MAX_OUTPUT_LEN};
    let o = offsets();
    let k = known();
    let mut m = SliceMemory::new();
    type_objects(&mut m);
    // [x, x, NULL, <unreadable type>, <float>] with x = [5]
    list_at(&mut m, 0x1000, &[0x5000, 0x5000, 0, 0x1900, 0x1a00]);
    list_at(&mut m, 0x5000, &[0x2000]);
    let mut bad_type = vec![0u8; 0x100];
    put(&mut bad_type, 8, 0xdead_beef); // ob_type unmapped
    m.add(0x1900, bad_type);
    named_type_and_instance(&mut m, 0x12000, "float", 0x1a00);
    // A frame object (type named "frame"), which the frame lookup finds holding itself.
    named_type_and_instance(&mut m, 0x12400, "frame", 0x3000);
    let mut int = vec![0u8; 32];
    put(&mut int, 8, INT_T);
    put(&mut int, 16, 1 << 3);
    int[24] = 5;
    m.add(0x2000, int);
    // 30 000 nested one-item lists.
    const N: u64 = 30_000;
    let base = 0x100_0000u64;
    let mut chain = vec![0u8; (N * 48) as usize];
    for i in 0..N {
        let at = (i * 48) as usize;
        put(&mut chain, at + 8, LIST_T);
        put(&mut chain, at + 16, 1);
        put(&mut chain, at + 24, base + i * 48 + 32);
        put(&mut chain, at + 32, if i + 1 < N { base + (i + 1) * 48 } else { NONE });
    }
    m.add(base, chain);
    let models = Models::for_version(3, 12).expect("model");
    let text = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let r = Renderer::new(&m, &o, models, &k, Limits::default());
            let frames = |obj: RemoteAddr| {
                Some(FrameView { address: obj.0, file: "f.py".into(), line: None, name: "f".into(), locals: vec![("me".into(), obj)] })
            };
            let me = FrameView {
                address: 0x1000,
                file: "f.py".into(),
                line: Some(3),
                name: "f".into(),
                locals: vec![("a".into(), RemoteAddr(0x1000)), ("g".into(), RemoteAddr(0x3000))],
            };
            (r.libpython_repr(RemoteAddr(0x1000), None), r.libpython_repr(RemoteAddr(base), None), r.libpython_frame(&me, Some(&frames)))
        })
        .expect("thread")
        .join()
        .expect("no stack overflow");
    assert_eq!(text.0, "[[5], [...], 0x0, <unknown at remote 0x1900>, <float at remote 0x1a00>]");
    let cut = format!("{}...(truncated)", "[".repeat(MAX_OUTPUT_LEN));
    assert_eq!(text.1, cut);
    // A frame holding itself is written until the cut (as the script does: frames are
    // not remembered as written).
    let head = "Frame 0x1000, for file f.py, line 3, in f (a=[[5], [...], 0x0, <unknown at remote 0x1900>, <float at remote 0x1a00>], \
                g=Frame 0x3000, for file f.py, line ?, in f (me=Frame 0x3000, for file f.py, line ?, in f (me=";
    assert!(text.2.starts_with(head), "{}", text.2);
    assert!(text.2.ends_with("...(truncated)") && text.2.chars().count() == MAX_OUTPUT_LEN + "...(truncated)".len(), "{}", text.2);
}

/// A fuzz finding: a bound method whose `__self__` is itself (or a long chain of
/// methods) recursed until the stack overflowed. `self` is now nested like an item.
#[test]
fn a_method_bound_to_itself_is_a_cycle() {
    let o = offsets();
    let k = known();
    let mut m = SliceMemory::new();
    type_objects(&mut m);
    let mut me = vec![0u8; 32];
    put(&mut me, 8, METHOD_T);
    put(&mut me, 16, 0x9999_0000); // an unreadable function: its name is `?`
    put(&mut me, 24, 0x9000);
    m.add(0x9000, me);
    // 10 000 methods, each bound to the next.
    const N: u64 = 10_000;
    let base = 0x200_0000u64;
    let mut chain = vec![0u8; (N * 32) as usize];
    for i in 0..N {
        let at = (i * 32) as usize;
        put(&mut chain, at + 8, METHOD_T);
        put(&mut chain, at + 16, 0x9999_0000);
        put(&mut chain, at + 24, if i + 1 < N { base + (i + 1) * 32 } else { NONE });
    }
    m.add(base, chain);
    let models = Models::for_version(3, 12).expect("model");
    let (own, long) = std::thread::Builder::new()
        .stack_size(2048 << 10)
        .spawn(move || {
            let r = Renderer::new(&m, &o, models, &k, Limits { depth: 10_000, length: 100, string: 100 });
            (r.repr(RemoteAddr(0x9000)), r.repr(RemoteAddr(base)))
        })
        .expect("thread")
        .join()
        .expect("rendered without overflowing its stack");
    assert_eq!(own, "<bound method ? of <bound method ? of ...>>");
    assert_eq!(long.matches("<bound method").count(), pycoroner_cpython::repr::MAX_DEPTH + 1, "{}", &long[..200]);
}
