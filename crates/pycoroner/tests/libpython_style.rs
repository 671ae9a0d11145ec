//! Objects written as CPython's gdb script writes them (`Style::Libpython`), read from
//! a real core of every interpreter the lab has, 3.6–3.15 (the debuggers' own tests
//! compare the text with CPython's script where gdb can run it; sid's cores are read
//! by neither gdb 13 nor lldb-16, so this is where 3.14 and 3.15 are checked): the
//! built-in types the script writes as repr() does equal repr() written by the same
//! process; a float is `<float at remote 0x...>`, an instance `<Point(x=1, y='a') at
//! remote 0x...>`, as the script's rules say.

use std::collections::HashMap;

use pycoroner::{Analysis, NativeMode, Options, Style};
use pycoroner_testkit::{all_interpreters, crash, scenario, sid_debug_dir, sidecar_locals};

/// Locals of the scenario whose repr() the script writes the same way (built-in
/// types, no float inside).
const AS_REPR: &[&str] = &[
    "arg_int", "arg_str", "kw_only", "rest", "options", "small", "negative", "zero", "huge", "neg_huge", "s_ascii", "s_quotes", "s_latin1",
    "s_ucs2", "s_ucs4", "s_escape", "s_empty", "raw", "single", "empty_tuple", "nested", "mapping", "numbers", "words", "frozen", "empty_set",
    "holed_set", "empty_dict", "cyclic", "self_dict",
];

#[test]
fn libpython_style_on_cores_of_every_interpreter() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let mut checked = 0;
    for py in all_interpreters() {
        let tag = format!("[{}]", py.id());
        let c = match crash(&py.path, &scenario("locals_values")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let reprs: HashMap<String, String> = sidecar_locals(c.sidecar.as_deref().unwrap_or("")).into_iter().collect();
        let core = pycoroner::target::ElfCore::open(&c.core).expect("core");
        let opts = Options { cache_dir: Some(cache.path().into()), debug_dirs: vec![sid_debug_dir()], ..Options::default() };
        let mut a = match Analysis::open(core, opts) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{tag} open: {e}"));
                continue;
            }
        };
        let report = a.report_with(true, NativeMode::Off).expect("report");
        let addresses: HashMap<String, u64> = report.locals_of("inspect_me").into_iter().map(|v| (v.name.clone(), v.address)).collect();
        let text = |name: &str| addresses.get(name).and_then(|&addr| a.object_in(addr, Style::Libpython).ok()).map(|(_, t)| t);
        for name in AS_REPR {
            let (got, want) = (text(name), reprs.get(*name));
            if got.is_none() || got.as_ref() != want {
                failures.push(format!("{tag} {name}: {got:?}, repr() {want:?}"));
            }
            checked += 1;
        }
        let at = |name: &str| addresses.get(name).copied().unwrap_or(0);
        for (name, want) in [
            ("flt", format!("<float at remote {:#x}>", at("flt"))),
            ("point", format!("<Point(x=1, y='a') at remote {:#x}>", at("point"))),
        ] {
            if text(name).as_deref() != Some(want.as_str()) {
                failures.push(format!("{tag} {name}: {:?}, want {want}", text(name)));
            }
        }
        if !text("tup").is_some_and(|t| t.starts_with("(1, 'two', <float at remote 0x") && t.ends_with(">)")) {
            failures.push(format!("{tag} tup: {:?}", text("tup")));
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 0);
}
