//! `--locals` against ground truth: a scenario writes repr() of each of its locals to a
//! sidecar and crashes; pycoroner's rendering from the core must be the same text for
//! built-in types, and the class name and attribute reprs for instances. Exception
//! scenarios must show the exception being handled.

mod common;

use std::collections::HashMap;

use common::{analyze_json, crash_and_analyze};
use pycoroner_testkit::{all_interpreters, crash, pyenv_interpreters, scenario, trace_refs_interpreters};
use serde_json::Value;

/// Locals the scenario binds after it wrote the sidecar (its own loop variables).
const LATE: &[&str] = &["name", "value", "attr", "v"];

fn frame<'a>(v: &'a Value, function: &str) -> Option<&'a Value> {
    v["threads"].as_array()?.iter().find(|t| t["current"] == true)?["frames"]
        .as_array()?
        .iter()
        .find(|f| f["function"] == function)
}

#[test]
fn locals_equal_python_repr() {
    let script = scenario("locals_values");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    // And a Py_TRACE_REFS debug build: every object header is 16 bytes longer.
    for py in all_interpreters().iter().chain(&trace_refs_interpreters()) {
        let tag = format!("[{}]", py.id());
        let (c, v) = match crash_and_analyze(py, &script, cache.path(), &["--locals"]) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let Some(f) = frame(&v, "inspect_me") else {
            failures.push(format!("{tag} no inspect_me frame"));
            continue;
        };
        let ours: Vec<(String, String, String)> = f["locals"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .map(|l| {
                        (
                            l["name"].as_str().unwrap_or("").to_string(),
                            l["repr"].as_str().unwrap_or("").to_string(),
                            l["kind"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let by_name: HashMap<&str, &str> = ours.iter().map(|(n, r, _)| (n.as_str(), r.as_str())).collect();
        let side = c.sidecar.clone().unwrap_or_default();
        let mut expected_names = Vec::new();
        let mut attrs: HashMap<String, Vec<(String, String)>> = HashMap::new();
        let mut classes: HashMap<String, String> = HashMap::new();
        for line in side.lines() {
            let parts: Vec<&str> = line.split('\t').collect();
            match parts[..] {
                ["local", name, repr] => {
                    expected_names.push(name.to_string());
                    let Some(got) = by_name.get(name) else {
                        failures.push(format!("{tag} local {name} missing"));
                        continue;
                    };
                    if let Some(class) = ["Point", "Slots"].iter().find(|c| repr.starts_with(&format!("<__main__.{c} object"))) {
                        classes.insert(name.to_string(), class.to_string());
                        continue; // instances: checked through their attributes below
                    }
                    if name == "bound" {
                        if !got.starts_with("<bound method Point.norm of Point(") {
                            failures.push(format!("{tag} bound: {got}"));
                        }
                        continue;
                    }
                    if *got != repr {
                        failures.push(format!("{tag} {name}: pycoroner {got} python {repr}"));
                    }
                }
                ["attr", local, attr, repr] => {
                    attrs.entry(local.to_string()).or_default().push((attr.to_string(), repr.to_string()));
                }
                _ => {}
            }
        }
        for (local, list) in &attrs {
            let class = classes.get(local).map_or("?", String::as_str);
            let want = format!("{class}({})", list.iter().map(|(a, r)| format!("{a}={r}")).collect::<Vec<_>>().join(", "));
            if by_name.get(local.as_str()) != Some(&want.as_str()) {
                failures.push(format!("{tag} {local}: pycoroner {:?} expected {want}", by_name.get(local.as_str())));
            }
        }
        // Nothing invented: every local of ours is in the sidecar or bound after it.
        for (n, _, _) in &ours {
            if !expected_names.contains(n) && !LATE.contains(&n.as_str()) {
                failures.push(format!("{tag} unexpected local {n}"));
            }
        }
        // Arguments first, in signature order, marked as such.
        let args: Vec<&str> = ours.iter().filter(|(_, _, k)| k == "arg").map(|(n, _, _)| n.as_str()).collect();
        if args != ["arg_int", "arg_str", "kw_only", "rest", "options"] {
            failures.push(format!("{tag} arguments {args:?}"));
        }
        if ours.iter().find(|(n, _, _)| n == "captured").map(|(_, _, k)| k.as_str()) != Some("cell") {
            failures.push(format!("{tag} captured is not a cell variable"));
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

fn check_exception(name: &str, want_type: &str, want_message: &str) {
    let script = scenario(name);
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let (_c, v) = match crash_and_analyze(py, &script, cache.path(), &["--locals"]) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let current = v["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["current"] == true).cloned());
        let excs = current.map(|t| t["exceptions"].clone()).unwrap_or_default();
        let ok = excs.as_array().is_some_and(|es| {
            es.iter().any(|e| e["type"] == want_type && e["message"] == want_message && e["state"] == "handled")
        });
        if !ok {
            failures.push(format!("[{}] expected handled {want_type}: {want_message}, got {excs}", py.id()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exception_in_except_block() {
    check_exception("except_block", "ValueError", "boom: 'x'");
}

#[test]
fn exception_in_flight_in_finally_block() {
    check_exception("finally_block", "KeyError", "'missing'");
}

/// The handled exception's whole chain, as `traceback` prints it in the same process:
/// in the JSON (newest first, with how each led to the next) and in the text (oldest
/// first, with CPython's sentences).
#[test]
fn exception_chain_as_traceback_prints_it() {
    let script = scenario("exception_chain");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let (c, v) = match crash_and_analyze(py, &script, cache.path(), &["--locals"]) {
            Ok(x) => x,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let tag = format!("[{}]", py.id());
        // traceback's lines, oldest first: `Type: message` and the relations between.
        let side = c.sidecar.clone().unwrap_or_default();
        let want: Vec<String> = side
            .lines()
            .filter_map(|l| l.strip_prefix("exception ").map(str::to_string).or_else(|| l.strip_prefix("relation ").map(|r| format!("<{r}>"))))
            .collect();
        let current = v["threads"].as_array().and_then(|ts| ts.iter().find(|t| t["current"] == true).cloned()).unwrap_or_default();
        let Some(exc) = current["exceptions"].as_array().and_then(|es| es.iter().find(|e| e["type"] == "RuntimeError").cloned()) else {
            failures.push(format!("{tag} no RuntimeError: {}", current["exceptions"]));
            continue;
        };
        let line = |e: &Value| match e["message"].as_str() {
            Some("") | None => e["type"].as_str().unwrap_or("?").to_string(),
            Some(m) => format!("{}: {m}", e["type"].as_str().unwrap_or("?")),
        };
        let mut got = Vec::new();
        for c in exc["chain"].as_array().into_iter().flatten().rev() {
            got.push(line(c));
            got.push(format!("<{}>", c["relation"].as_str().unwrap_or("?")));
        }
        got.push(line(&exc));
        if got != want {
            failures.push(format!("{tag} chain {got:?}, traceback printed {want:?}"));
        }
        let (_, text, _) = pycoroner_testkit::run(common::pycoroner().arg("core").arg(&c.core).arg("--locals").arg("--cache-dir").arg(cache.path()));
        let expected = "  KeyError: 'missing'\n  During handling of the above exception, another exception occurred:\n  ValueError: bad value\n  \
                        The above exception was the direct cause of the following exception:\n  Handling RuntimeError: cannot load\n";
        if !text.contains(expected) {
            failures.push(format!("{tag} text:\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `pycoroner print CORE ADDRESS` renders one object, with --depth and --length limits.
#[test]
fn print_object_at_address() {
    let Some(py) = pyenv_interpreters().into_iter().last() else { return };
    let c = crash(&py.path, &scenario("locals_values")).expect("crash");
    let cache = tempfile::tempdir().expect("tmp");
    let (_, v, err) = analyze_json(&c.core, cache.path(), &["--locals"]);
    let v = v.unwrap_or_else(|| panic!("{err}"));
    let f = frame(&v, "inspect_me").expect("frame");
    let local = |n: &str| f["locals"].as_array().and_then(|ls| ls.iter().find(|l| l["name"] == n)).cloned().expect(n);
    let nested = local("nested");
    let addr = format!("{:#x}", nested["address"].as_u64().expect("address"));
    let print = |extra: &[&str]| {
        let (code, out, err) = pycoroner_testkit::run(
            common::pycoroner().arg("print").arg(&c.core).arg(&addr).arg("--cache-dir").arg(cache.path()).args(extra),
        );
        assert_eq!(code, Some(0), "{err}");
        out.trim_end().to_string()
    };
    assert_eq!(print(&[]), nested["repr"].as_str().expect("repr"));
    assert_eq!(print(&[]), "[1, [2, [3, [4]]], {'k': (5,)}]");
    assert_eq!(print(&["--depth", "2"]), "[1, [2, [...]], {'k': (...)}]");
    assert_eq!(print(&["--length", "2"]), "[1, [2, [3, [4]]], ...]");
    let (code, out, _) = pycoroner_testkit::run(
        common::pycoroner().arg("print").arg(&c.core).arg(&addr).arg("--format").arg("json").arg("--cache-dir").arg(cache.path()),
    );
    assert_eq!(code, Some(0));
    let j: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(j["type"], "list");
    // An address that is no object: one value renders as unreadable, never a crash.
    let (code, out, err) = pycoroner_testkit::run(common::pycoroner().arg("print").arg(&c.core).arg("0x10").arg("--cache-dir").arg(cache.path()));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim_end(), "<unreadable 0x10>");
    let (code, _, err) = pycoroner_testkit::run(common::pycoroner().arg("print").arg(&c.core).arg("zz").arg("--cache-dir").arg(cache.path()));
    assert_eq!(code, Some(2));
    assert!(err.contains("not an address"), "{err}");
}
