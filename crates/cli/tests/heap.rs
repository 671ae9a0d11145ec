//! `pycoroner heap`: the census of the objects the garbage collector tracks, checked
//! against what the process counted itself just before crashing
//! (`fixtures/scenarios/heap_census.py`: `Counter(type(o) for o in gc.get_objects())`
//! and `sys.getsizeof` sums), on every interpreter; on a Py_TRACE_REFS build also the
//! list of every object, against `sys.getobjects(0)`.

mod common;

use common::pycoroner;
use pycoroner_testkit::{all_interpreters, crash, scenario, trace_refs_interpreters};
use serde_json::Value;

/// The scenario's own classes: counted exactly, sized exactly as `sys.getsizeof`
/// (a dict subclass's `__sizeof__` is dict's, whose tables the census sizes).
const MINE: &[(&str, bool)] = &[
    ("__main__.Order", true),
    ("__main__.Pair", true),
    ("__main__.Bag", true),
    ("__main__.Cache", true),
    ("__main__.Node", true),
    ("__main__.Held", true),
    ("__main__.Local", true),
    ("__main__.Junk", true),
];

/// Objects the truth-writing itself may add or drop between `gc.get_objects()` and
/// the crash (the Counter, the JSON text's containers, the sidecar's file object).
const SLACK: u64 = 200;

#[test]
fn census_equals_gc_get_objects() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let trace_refs = trace_refs_interpreters();
    for py in all_interpreters().iter().chain(&trace_refs) {
        let tag = format!("[{} heap]", py.id());
        let c = match crash(&py.path, &scenario("heap_census")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let truth: Option<Value> = c.sidecar.as_deref().and_then(|s| s.lines().find_map(|l| l.strip_prefix("heap "))).and_then(|j| serde_json::from_str(j).ok());
        let Some(truth) = truth else {
            failures.push(format!("{tag} the scenario wrote no truth"));
            continue;
        };
        let out = pycoroner().arg("heap").arg(&c.core).args(["--untracked", "--largest", "20", "--format", "json", "--cache-dir"]).arg(cache.path()).output().expect("run pycoroner");
        let report: Option<Value> = serde_json::from_slice(&out.stdout).ok();
        let Some(heap) = report.as_ref().map(|r| r["heap"][0].clone()).filter(|h| !h.is_null()) else {
            failures.push(format!("{tag} no census (exit {:?}): {}", out.status.code(), String::from_utf8_lossy(&out.stderr)));
            continue;
        };
        untracked_equals_the_referents(&tag, &heap, &truth, &mut failures);
        every_object_equals_getobjects(&tag, &heap, &truth, &mut failures);
        let types = heap["types"].as_array().cloned().unwrap_or_default();
        let ours = |name: &str| types.iter().find(|t| t["name"] == name).cloned().unwrap_or(Value::Null);
        // A str subclass with no __dict__: tracked from 3.8 (else checked untracked).
        let tagged: &[(&str, bool)] = if truth["counts"]["__main__.Tag"].is_null() { &[] } else { &[("__main__.Tag", true)] };
        for (name, exact) in MINE.iter().chain(tagged) {
            let t = ours(name);
            if t["count"] != truth["counts"][name] {
                failures.push(format!("{tag} {name}: {} objects, gc.get_objects() has {}", t["count"], truth["counts"][name]));
            }
            if t["exact"] != Value::Bool(*exact) {
                failures.push(format!("{tag} {name}: exact {}, want {exact}", t["exact"]));
            }
            let (size, want) = (t["size"].as_u64().unwrap_or(0), truth["sizes"][name].as_u64().unwrap_or(0));
            // Exact: sys.getsizeof's sum. Not exact: the basic sizes, a lower bound.
            if (*exact && size != want) || (!*exact && (size == 0 || size > want)) {
                failures.push(format!("{tag} {name}: {size} bytes, sys.getsizeof sums to {want}"));
            }
        }
        // The built-in containers, sized as sys.getsizeof does (all of them, within
        // what the truth-writing allocated and the permanent generation holds).
        for name in ["dict", "list", "tuple", "set", "frozenset"] {
            let t = ours(name);
            let size = t["size"].as_u64().unwrap_or(0).saturating_sub(t["frozen_size"].as_u64().unwrap_or(0));
            let want = truth["sizes"][name].as_u64().unwrap_or(0);
            if t["exact"] != true || size.abs_diff(want) > want / 50 + 16384 {
                failures.push(format!("{tag} {name}: {size} bytes (exact {}), sys.getsizeof sums to {want}", t["exact"]));
            }
        }
        // gc.get_objects() walks the three generations, not the permanent one.
        let lists = heap["lists"].as_array().cloned().unwrap_or_default();
        let permanent = lists.iter().filter(|l| l["name"] == "permanent").filter_map(|l| l["objects"].as_u64()).sum::<u64>();
        for l in lists.iter().filter(|l| !l["broken"].is_null()) {
            failures.push(format!("{tag} the {} list is broken: {}", l["name"], l["broken"]));
        }
        if Some(permanent) != truth["frozen"].as_u64() {
            failures.push(format!("{tag} {permanent} objects on the permanent generation, gc.get_freeze_count() is {}", truth["frozen"]));
        }
        let total = heap["objects"].as_u64().unwrap_or(0).saturating_sub(permanent);
        let want = truth["total"].as_u64().unwrap_or(0);
        if total.abs_diff(want) > SLACK {
            failures.push(format!("{tag} {total} objects in the generations, gc.get_objects() has {want}"));
        }
        // Every type the process had many of is counted (within the slack, and the
        // permanent generation's objects).
        for (name, n) in truth["counts"].as_object().into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            if n < 100 {
                continue;
            }
            let got = ours(name)["count"].as_u64().unwrap_or(0).saturating_sub(ours(name)["frozen"].as_u64().unwrap_or(0));
            if got.abs_diff(n) > SLACK {
                failures.push(format!("{tag} {name}: {got} objects, gc.get_objects() has {n}"));
            }
        }
        // The largest objects (10 by default): the three big containers, exactly.
        let largest = heap["largest"].as_array().cloned().unwrap_or_default();
        for want in truth["largest"].as_array().into_iter().flatten() {
            let found = largest.iter().find(|o| o["address"] == want[0]);
            match found {
                Some(o) if o["size"] == want[1] && o["len"] == want[2] && o["exact"] == true => {}
                _ => failures.push(format!("{tag} largest: want id {} of {} bytes and {} items, ours {}", want[0], want[1], want[2], heap["largest"])),
            }
        }
        // gc.garbage: its length, and its objects in order (the first 100).
        let want: Vec<Value> = truth["garbage"].as_array().cloned().unwrap_or_default();
        let ours_garbage: Vec<Value> = heap["garbage"]["objects"].as_array().into_iter().flatten().map(|o| o["address"].clone()).collect();
        if heap["garbage"]["count"].as_u64() != Some(want.len() as u64) || ours_garbage.as_slice() != &want[..want.len().min(100)] {
            failures.push(format!("{tag} gc.garbage: ours {} objects {:?}, the process's {} {:?}", heap["garbage"]["count"], ours_garbage, want.len(), want));
        }
        if !heap["garbage"]["objects"].as_array().into_iter().flatten().any(|o| o["type"] == "__main__.Junk") {
            failures.push(format!("{tag} no Junk in gc.garbage: {}", heap["garbage"]));
        }
        // Reference counts: the dict and the list only their module refers to.
        for o in largest.iter().filter(|o| truth["largest"].as_array().into_iter().flatten().take(2).any(|w| w[0] == o["address"])) {
            if o["refcount"] != 1 || !o["immortal"].is_null() {
                failures.push(format!("{tag} largest {}: refcount {} immortal {}, want 1", o["address"], o["refcount"], o["immortal"]));
            }
        }
        // pymalloc, as sys._debugmallocstats() counted it: every size class's pools
        // and blocks (within what the truth-writing allocated), the arenas.
        let malloc = &truth["malloc"];
        let alloc = &heap["allocator"];
        if alloc.is_null() {
            if heap["allocator_unavailable"].is_null() && !malloc.is_null() {
                failures.push(format!("{tag} no pymalloc state and nothing saying why"));
            }
        } else {
            if alloc["arenas"].as_u64().unwrap_or(0).abs_diff(malloc["arenas"].as_u64().unwrap_or(0)) > 2 {
                failures.push(format!("{tag} pymalloc arenas: ours {}, sys._debugmallocstats() {}", alloc["arenas"], malloc["arenas"]));
            }
            for (class, want) in malloc["classes"].as_object().into_iter().flatten() {
                let ours = alloc["classes"].as_array().and_then(|c| c.iter().find(|c| c["class"].as_u64().is_some_and(|n| n.to_string() == *class))).cloned().unwrap_or(Value::Null);
                let (pools, blocks) = (want[1].as_u64().unwrap_or(0), want[2].as_u64().unwrap_or(0));
                // Pools and blocks within 2% (and a few): what the sidecar's writing and
                // the crash allocate after the truth (a debug build's blocks are larger,
                // its classes fill more pools for the same objects).
                if ours["size"] != want[0] || ours["pools"].as_u64().unwrap_or(0).abs_diff(pools) > pools / 50 + 2 || ours["blocks"].as_u64().unwrap_or(0).abs_diff(blocks) > blocks / 50 + 100 {
                    failures.push(format!("{tag} pymalloc class {class}: ours {ours}, sys._debugmallocstats() {want}"));
                }
            }
        }
        // A debug build's total reference count (what the truth-writing itself holds
        // and drops moves it by a few hundred); a release build keeps none.
        match (truth["refs"].as_i64(), heap["total_refs"].as_i64()) {
            (Some(want), Some(got)) if got.abs_diff(want) <= 2000 => {}
            (None, None) => {}
            (want, got) => failures.push(format!("{tag} total references: ours {got:?}, sys.gettotalrefcount() {want:?}")),
        }
        // The text: the census table, the scenario's class among the largest.
        let text = pycoroner().arg("heap").arg(&c.core).args(["--top", "5", "--cache-dir"]).arg(cache.path()).output().expect("run pycoroner");
        let text = String::from_utf8_lossy(&text.stdout);
        if !text.lines().any(|l| l.trim_start().starts_with("12345 ") && l.ends_with(" __main__.Order")) {
            failures.push(format!("{tag} the text has no line for the 12345 Orders:\n{text}"));
        }
        if truth["all"].is_object() && !text.contains("\nAll objects (the Py_TRACE_REFS list, sys.getobjects()): ") {
            failures.push(format!("{tag} the text has no census of all objects:\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// On a build with `sys.getobjects` (the truth's `all`), the list of every object: its
/// total and every type the process had 100 or more of within [`SLACK`], and exactly
/// the populations the truth-writing does not touch: the floats (777 of them leaked,
/// which nothing refers to and only this list still has) and the Orders, counted and
/// sized as `sys.getsizeof` sums them. On a build without one, no such census.
fn every_object_equals_getobjects(tag: &str, heap: &Value, truth: &Value, failures: &mut Vec<String>) {
    let all = &heap["all_objects"];
    let want = &truth["all"];
    if want.is_null() {
        if !all.is_null() {
            failures.push(format!("{tag} a list of all objects on a build without sys.getobjects: {}", all["list"]));
        }
        return;
    }
    if all.is_null() {
        failures.push(format!("{tag} no list of all objects, sys.getobjects(0) has {}", want["total"]));
        return;
    }
    if !all["list"]["broken"].is_null() || all["unreadable"].as_u64().unwrap_or(0) > 0 {
        failures.push(format!("{tag} the list of all objects: {}, unreadable {}", all["list"], all["unreadable"]));
    }
    let total = all["objects"].as_u64().unwrap_or(0);
    if total.abs_diff(want["total"].as_u64().unwrap_or(0)) > SLACK {
        failures.push(format!("{tag} {total} objects in all, sys.getobjects(0) has {}", want["total"]));
    }
    let types = all["types"].as_array().cloned().unwrap_or_default();
    let ours = |name: &str| types.iter().find(|t| t["name"] == name).cloned().unwrap_or(Value::Null);
    for name in ["float", "__main__.Order"] {
        let t = ours(name);
        if t["count"] != want["counts"][name] || t["size"] != want["sizes"][name] || t["exact"] != true {
            failures.push(format!("{tag} all objects, {name}: {} objects of {} bytes (exact {}), sys.getobjects(0) has {} of {}", t["count"], t["size"], t["exact"], want["counts"][name], want["sizes"][name]));
        }
    }
    for (name, n) in want["counts"].as_object().into_iter().flatten() {
        let n = n.as_u64().unwrap_or(0);
        let got = ours(name)["count"].as_u64().unwrap_or(0);
        if n >= 100 && got.abs_diff(n) > SLACK {
            failures.push(format!("{tag} all objects, {name}: {got}, sys.getobjects(0) has {n}"));
        }
    }
    // The leaked floats: in the list of all objects, out of reach of every reference.
    let reachable = heap["untracked"]["types"].as_array().into_iter().flatten().find(|t| t["name"] == "float").and_then(|t| t["count"].as_u64()).unwrap_or(0);
    if ours("float")["count"].as_u64().unwrap_or(0) < reachable + 777 {
        failures.push(format!("{tag} all objects has {} floats, {reachable} are reachable and 777 more were leaked", ours("float")["count"]));
    }
}

/// The scenario's untracked populations, counted through the tracked objects that
/// refer to them (and on through untracked containers), against what gc.get_referents
/// (plus a dict's keys) reaches in the process. A few objects differ either way:
/// references from C types pycoroner does not know the fields of (a `Struct`'s format
/// bytes, a `property`'s doc), and what the crash helper allocates after the truth
/// (linecache's lines). Each population is far larger than that slack: one not
/// found fails. The big objects, by id: size and length exactly.
fn untracked_equals_the_referents(tag: &str, heap: &Value, truth: &Value, failures: &mut Vec<String>) {
    let types = heap["untracked"]["types"].as_array().cloned().unwrap_or_default();
    let ours = |name: &str| types.iter().find(|t| t["name"] == name).cloned().unwrap_or(Value::Null);
    let want = &truth["untracked"];
    // (type, slack in objects): the scenario made 2 111 floats (1 000 of them only in
    // __slots__), 3 339 bytes, 4 445 big
    // ints, 5 555 + 4 str.
    for (name, slack) in [("float", 10u64), ("bytes", 60), ("int", 300), ("str", 1200)] {
        let t = ours(name);
        let (n, w) = (t["count"].as_u64().unwrap_or(0), want["counts"][name].as_u64().unwrap_or(0));
        let (size, wsize) = (t["size"].as_u64().unwrap_or(0), want["sizes"][name].as_u64().unwrap_or(0));
        if n.abs_diff(w) > slack || size.abs_diff(wsize) > wsize / 20 || t["exact"] != true {
            failures.push(format!("{tag} untracked {name}: {n} objects of {size} bytes (exact {}), the process's referents {w} of {wsize}", t["exact"]));
        }
    }
    // A str subclass with no __dict__ is untracked on 3.6 only (3.8+ tracks every
    // heap type's instances): exactly, wherever it is.
    let tagged = "__main__.Tag";
    if !want["counts"][tagged].is_null() {
        let t = ours(tagged);
        if t["count"] != want["counts"][tagged] || t["size"] != want["sizes"][tagged] {
            failures.push(format!("{tag} untracked {tagged}: {} objects of {} bytes, the process's {} of {}", t["count"], t["size"], want["counts"][tagged], want["sizes"][tagged]));
        }
    }
    let largest = heap["largest"].as_array().cloned().unwrap_or_default();
    for w in truth["big"].as_array().into_iter().flatten() {
        match largest.iter().find(|o| o["address"] == w[0]) {
            Some(o) if o["size"] == w[1] && (w[2].is_null() || o["len"] == w[2]) && o["exact"] == true && o["untracked"] == true => {}
            o => failures.push(format!("{tag} big untracked object id {}: want {} bytes, len {}; ours {}", w[0], w[1], w[2], o.cloned().unwrap_or(Value::Null))),
        }
    }
}

/// Live: `heap --pid` on the same populations, the process stopped while counted (and
/// running again after), equal to what it counted itself.
#[test]
fn census_of_a_live_process() {
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = format!("[{} heap --pid]", py.id());
        let dir = tempfile::tempdir().expect("tmp");
        let side = dir.path().join("side.txt");
        let (fh, side_arg) = (dir.path().join("fh.txt"), side.clone());
        let (mut child, line) = match pycoroner_testkit::start_live(&py.path, &scenario("heap_census"), &[fh.as_os_str(), side_arg.as_os_str()], &[("PYCORONER_HEAP_HANG", "1")]) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let out = (line.trim() == "ready").then(|| pycoroner().arg("heap").args(["--pid", &child.id().to_string(), "--format", "json"]).output().expect("run pycoroner"));
        // Still running (not left stopped): it answers a signal 0 and is not in state T.
        let state = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap_or_default();
        let stopped = state.rsplit(')').next().and_then(|r| r.split_whitespace().next()) == Some("T");
        let _ = child.kill();
        let _ = child.wait();
        if stopped {
            failures.push(format!("{tag} the process was left stopped"));
        }
        let truth: Option<Value> = std::fs::read_to_string(&side).ok().and_then(|s| s.lines().find_map(|l| l.strip_prefix("heap ").map(str::to_string))).and_then(|j| serde_json::from_str(&j).ok());
        let (Some(out), Some(truth)) = (out, truth) else {
            failures.push(format!("{tag} the program did not get ready ({line:?})"));
            continue;
        };
        let report: Option<Value> = serde_json::from_slice(&out.stdout).ok();
        let Some(heap) = report.as_ref().map(|r| r["heap"][0].clone()).filter(|h| !h.is_null()) else {
            failures.push(format!("{tag} no census (exit {:?}): {}", out.status.code(), String::from_utf8_lossy(&out.stderr)));
            continue;
        };
        let types = heap["types"].as_array().cloned().unwrap_or_default();
        for (name, _) in MINE {
            let ours = types.iter().find(|t| t["name"] == *name).map_or(Value::Null, |t| t["count"].clone());
            if ours != truth["counts"][name] {
                failures.push(format!("{tag} {name}: {ours} objects, gc.get_objects() has {}", truth["counts"][name]));
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// Two cores of `fixtures/scenarios/heap_growth.py` 1 000 iterations apart: `--diff`
/// names the leaking type first, with the counts the process itself had, comparing a
/// JSON census with a core and two cores.
#[test]
fn diff_names_the_leak_first() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = format!("[{} heap --diff]", py.id());
        let run = |n: &str| pycoroner_testkit::crash_with_env(&py.path, &scenario("heap_growth"), &[("PYCORONER_ITERATIONS", std::ffi::OsStr::new(n))]);
        let (a, b) = match (run("1000"), run("2000")) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let leaks = |c: &pycoroner_testkit::Crash| -> Value {
            c.sidecar.as_deref().and_then(|s| s.lines().find_map(|l| l.strip_prefix("growth "))).and_then(|j| serde_json::from_str::<Value>(j).ok()).map_or(Value::Null, |v| v["leaks"].clone())
        };
        let want = serde_json::json!([leaks(&a), leaks(&b)]);
        // The first census kept as JSON, as a user would between two runs.
        let json = cache.path().join(format!("{}.json", py.id()));
        let first = pycoroner().arg("heap").arg(&a.core).args(["--format", "json", "--cache-dir"]).arg(cache.path()).output().expect("run pycoroner");
        std::fs::write(&json, &first.stdout).expect("write census");
        let out = pycoroner().args(["heap", "--diff"]).arg(&json).arg(&b.core).args(["--format", "json", "--cache-dir"]).arg(cache.path()).output().expect("run pycoroner");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let top = &report["heap_diff"]["types"][0];
        if top["name"] != "__main__.Leak" || top["count"] != want {
            failures.push(format!("{tag} first change {top}, want __main__.Leak {want} ({})", String::from_utf8_lossy(&out.stderr)));
        }
        // Two cores, as text, the untracked objects counted too: the Leak line first
        // under the table's heading, and the 1 000 ints only the Leaks' __slots__
        // hold (n = 1000..1999) among the untracked (3.15 caches ints up to 1024: some
        // of those are no new objects).
        let text = pycoroner().args(["heap", "--untracked", "--top", "40", "--diff"]).arg(&a.core).arg(&b.core).args(["--cache-dir"]).arg(cache.path()).output().expect("run pycoroner");
        let text = String::from_utf8_lossy(&text.stdout);
        let first_row = text.lines().skip_while(|l| !l.trim_start().starts_with("objects")).nth(1).unwrap_or("");
        if !(first_row.trim_start().starts_with("+1000 ") && first_row.ends_with(" __main__.Leak")) {
            failures.push(format!("{tag} the text does not put Leak first:\n{text}"));
        }
        let ints = text.lines().find(|l| l.ends_with(" int (untracked)")).and_then(|l| l.split_whitespace().next()?.strip_prefix('+')?.parse::<u64>().ok());
        if !ints.is_some_and(|n| (950..=1100).contains(&n)) {
            failures.push(format!("{tag} the untracked ints did not grow by about 1000:\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// A live process leaking one object a millisecond, sampled twice 200 ms apart
/// (`heap --pid --every 200ms --count 2`): the leaking class first, grown.
#[test]
fn sampling_a_live_leak() {
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = format!("[{} heap --every]", py.id());
        let dir = tempfile::tempdir().expect("tmp");
        let (fh, side) = (dir.path().join("fh.txt"), dir.path().join("side.txt"));
        let (mut child, line) = match pycoroner_testkit::start_live(&py.path, &scenario("heap_growth"), &[fh.as_os_str(), side.as_os_str()], &[("PYCORONER_LEAK_FOREVER", "1")]) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let out = (line.trim() == "ready")
            .then(|| pycoroner().arg("heap").args(["--pid", &child.id().to_string(), "--every", "200ms", "--count", "2", "--format", "json"]).output().expect("run pycoroner"));
        let _ = child.kill();
        let _ = child.wait();
        let Some(out) = out else {
            failures.push(format!("{tag} the program did not get ready ({line:?})"));
            continue;
        };
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let top = &report["heap_diff"]["types"][0];
        let (a, b) = (top["count"][0].as_u64().unwrap_or(0), top["count"][1].as_u64().unwrap_or(0));
        if top["name"] != "__main__.Leak" || b <= a {
            failures.push(format!("{tag} first change {top}, want __main__.Leak growing ({})", String::from_utf8_lossy(&out.stderr)));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// `pycoroner referrers`: objects of the census scenario held by a global list, by a
/// closure's cell and by a frame's local are reached from those roots, through the
/// containers the process named (by `id()`), and the direct referrers include what
/// `gc.get_referrers` found.
#[test]
fn referrers_reach_the_roots() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = format!("[{} referrers]", py.id());
        let c = match crash(&py.path, &scenario("heap_census")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let truth: Value = c.sidecar.as_deref().and_then(|s| s.lines().find_map(|l| l.strip_prefix("heap "))).and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
        let refs = &truth["referrers"];
        let search = |id: &Value| -> Value {
            let out = pycoroner().arg("referrers").arg(&c.core).arg(id.as_u64().unwrap_or(0).to_string()).args(["--format", "json", "--cache-dir"]).arg(cache.path()).output().expect("run pycoroner");
            serde_json::from_slice::<Value>(&out.stdout).map(|r| r["referrers"].clone()).unwrap_or(Value::Null)
        };
        // (object, the root its path starts at, an object the path goes through)
        let mut order = Value::Null;
        for (what, root, through) in [("order", "module __main__", &refs["orders"]), ("held", "module __main__", &refs["cell"]), ("local", "frame main → local 'local'", &Value::Null)] {
            let r = search(&refs[what]);
            if what == "order" {
                order = r.clone();
            }
            let paths = r["paths"].as_array().cloned().unwrap_or_default();
            let ok = paths.iter().any(|p| {
                let steps = p["steps"].as_array().cloned().unwrap_or_default();
                p["root"].as_str().is_some_and(|s| s.ends_with(root))
                    && steps.last().is_some_and(|s| s["address"] == refs[what])
                    && (through.is_null() || steps.iter().any(|s| s["address"] == *through))
                    && steps.iter().all(|s| s["possible"].is_null())
            });
            if !ok {
                failures.push(format!("{tag} {what}: no exact path from {root} through {through}: {}", serde_json::to_string(&r["paths"]).unwrap_or_default()));
            }
        }
        let direct: Vec<Value> = order["direct"].as_array().into_iter().flatten().map(|d| d["address"].clone()).collect();
        for want in refs["order_referrers"].as_array().into_iter().flatten() {
            if !direct.contains(want) {
                failures.push(format!("{tag} gc.get_referrers found {want}, ours {direct:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// `--locals --refcounts` and `print --refcounts`: a list only its frame refers to
/// counts 1; None is immortal on 3.12+ (and counted before).
#[test]
fn refcounts_of_locals_and_printed_objects() {
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        let tag = format!("[{} --refcounts]", py.id());
        let c = match crash(&py.path, &scenario("heap_census")) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{tag} {e}"));
                continue;
            }
        };
        let (_, report, err) = common::analyze_json(&c.core, cache.path(), &["--locals", "--refcounts"]);
        let Some(report) = report else {
            failures.push(format!("{tag} no report: {err}"));
            continue;
        };
        let main = report["threads"].as_array().into_iter().flatten().flat_map(|t| t["frames"].as_array().cloned().unwrap_or_default()).find(|f| f["function"] == "main");
        let var = |name: &str| main.as_ref().and_then(|f| f["locals"].as_array().and_then(|l| l.iter().find(|v| v["name"] == name).cloned())).unwrap_or(Value::Null);
        let local = var("local");
        if local["refcount"] != 1 {
            failures.push(format!("{tag} local 'local': {local}, want refcount 1"));
        }
        let nothing = var("nothing");
        let immortal = py.minor >= 12;
        if (nothing["immortal"] == true) != immortal || nothing["refcount"].as_i64().is_none_or(|n| n < 1) {
            failures.push(format!("{tag} local 'nothing' (None): {nothing}, want immortal {immortal}"));
        }
        let addr = local["address"].as_u64().unwrap_or(0).to_string();
        let text = pycoroner().arg("print").arg(&c.core).arg(&addr).args(["--refcounts", "--cache-dir"]).arg(cache.path()).output().expect("run pycoroner");
        let text = String::from_utf8_lossy(&text.stdout);
        if !text.trim_end().ends_with("(refcount 1)") {
            failures.push(format!("{tag} print --refcounts: {text}"));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}
