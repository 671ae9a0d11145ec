//! `--tasks` against ground truth: the asyncio scenario writes, from inside the
//! crashing task, every task asyncio knows (name, state, await chain, what it waits
//! on, and on 3.14+ who awaits it per `asyncio.capture_call_graph`) and crashes;
//! pycoroner's tasks from the core must be the same, on every interpreter.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{analyze_json, compare_with_faulthandler, pycoroner};
use pycoroner_testkit::{all_interpreters, crash_with_env, scenario, Interpreter};
use serde_json::Value;

/// One task as the scenario wrote it.
struct Truth {
    id: u64,
    rec: Value,
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or("").trim_start_matches("0x"), 16).unwrap_or(0)
}

fn truths(side: &str) -> (Vec<Truth>, Vec<(u64, String)>) {
    let mut tasks = Vec::new();
    let mut done = Vec::new();
    for line in side.lines() {
        if let Some(j) = line.strip_prefix("task ") {
            if let Ok(rec) = serde_json::from_str::<Value>(j) {
                tasks.push(Truth { id: hex(&rec["id"]), rec });
            }
        } else if let Some(rest) = line.strip_prefix("done ") {
            let mut p = rest.split(' ');
            if let (Some(id), Some(state)) = (p.next(), p.next()) {
                done.push((hex(&Value::from(id)), state.to_string()));
            }
        }
    }
    (tasks, done)
}

fn ids(v: &Value) -> BTreeSet<u64> {
    v.as_array().map(|a| a.iter().map(|x| x.as_u64().unwrap_or_else(|| hex(x))).collect()).unwrap_or_default()
}

/// Check one interpreter's report against its truth; differences, one line each.
fn check(tag: &str, report: &Value, side: &str, minor: u64) -> Vec<String> {
    let mut diffs = Vec::new();
    let (truth, done) = truths(side);
    if truth.len() < 5 {
        return vec![format!("{tag} the scenario wrote {} tasks:\n{side}", truth.len())];
    }
    let threads = report["threads"].as_array().cloned().unwrap_or_default();
    let runner = threads.iter().find(|t| t.get("event_loop").is_some());
    let Some(current) = runner.filter(|t| t["current"] == true || report["target"]["kind"] == "process") else {
        return vec![format!("{tag} the crashing thread runs no event loop: {:?}", threads.iter().map(|t| &t["thread_id"]).collect::<Vec<_>>())];
    };
    let lp = &current["event_loop"];
    let ours: HashMap<u64, &Value> = lp["tasks"].as_array().map(|a| a.iter().map(|t| (t["address"].as_u64().unwrap_or(0), t)).collect()).unwrap_or_default();
    // Every pending task, and only those, is listed as pending.
    let want: BTreeSet<u64> = truth.iter().map(|t| t.id).collect();
    let got: BTreeSet<u64> = ours.iter().filter(|(_, t)| t["state"] == "pending").map(|(a, _)| *a).collect();
    if want != got {
        diffs.push(format!("{tag} pending tasks differ: missing {:x?}, extra {:x?}", want.difference(&got).collect::<Vec<_>>(), got.difference(&want).collect::<Vec<_>>()));
    }
    for (id, state) in &done {
        if let Some(t) = ours.get(id) {
            if t["state"].as_str() != Some(state) {
                diffs.push(format!("{tag} task {id:#x} is {state}, we say {}", t["state"]));
            }
        }
    }
    let names: HashMap<u64, String> = truth.iter().map(|t| (t.id, t.rec["name"].as_str().unwrap_or("").to_string())).collect();
    // Who awaits whom, as Python sees it (≤3.13: from each task's _fut_waiter, gather's
    // children and the TaskGroup's tasks; 3.14+: capture_call_graph).
    let mut awaited_by: HashMap<u64, BTreeSet<u64>> = HashMap::new();
    let owner = names.iter().find(|(_, n)| *n == "group-owner").map(|(a, _)| *a);
    for t in &truth {
        if let Some(children) = t.rec["waits"].get(1) {
            for c in ids(children) {
                awaited_by.entry(c).or_default().insert(t.id);
            }
        }
        if let (Some(o), true) = (owner, names.get(&t.id).is_some_and(|n| n.starts_with("member-"))) {
            awaited_by.entry(t.id).or_default().insert(o);
        }
    }
    // 3.14+: what asyncio.capture_call_graph says, where it could say it.
    for t in truth.iter().filter(|t| minor >= 14 && t.rec.get("awaited_by").is_some()) {
        awaited_by.insert(t.id, ids(&t.rec["awaited_by"]));
    }
    // Await cycles: the scenario's tasks awaiting each other, by their own _fut_waiter.
    let waits_task: HashMap<u64, u64> = truth
        .iter()
        .filter(|t| t.rec["waits"][0] == "task")
        .filter_map(|t| Some((t.id, *ids(&t.rec["waits"][1]).iter().next()?)))
        .collect();
    let want_cycles: BTreeSet<BTreeSet<u64>> = waits_task.iter().filter(|(a, b)| waits_task.get(b) == Some(a)).map(|(a, b)| [*a, *b].into_iter().collect()).collect();
    let got_cycles: BTreeSet<BTreeSet<u64>> = lp["cycles"].as_array().into_iter().flatten().map(ids).collect();
    if want_cycles != got_cycles {
        diffs.push(format!("{tag} await cycles {got_cycles:x?}, truth {want_cycles:x?}"));
    }
    let frames: Vec<&Value> = current["frames"].as_array().map(|f| f.iter().collect()).unwrap_or_default();
    for t in &truth {
        let Some(o) = ours.get(&t.id) else { continue };
        let name = &names[&t.id];
        let who = format!("{tag} task {name} ({:#x})", t.id);
        if minor >= 8 && o["name"].as_str() != Some(name.as_str()) {
            diffs.push(format!("{who}: name {}", o["name"]));
        }
        let running = t.rec["running"] == true;
        if (o["running"] == true) != running {
            diffs.push(format!("{who}: running {} (truth {running})", o["running"]));
        }
        // The await chain, link by link: kind, file, line, function.
        let want: Vec<(String, String, u64, String)> = t.rec["chain"]
            .as_array()
            .map(|c| c.iter().map(|l| (l[0].as_str().unwrap_or("").into(), l[1].as_str().unwrap_or("").into(), l[2].as_u64().unwrap_or(0), l[3].as_str().unwrap_or("").into())).collect())
            .unwrap_or_default();
        let got: Vec<(String, String, u64, String)> = o["coroutine_stack"]
            .as_array()
            .map(|c| c.iter().map(|l| (l["kind"].as_str().unwrap_or("").into(), l["file"].as_str().unwrap_or("").into(), l["line"].as_u64().unwrap_or(0), l["function"].as_str().unwrap_or("").into())).collect())
            .unwrap_or_default();
        if running {
            // It ran on after writing the truth: same coroutine, and its frame is the
            // thread's own frame at the crash (same address, same line).
            let first = &o["coroutine_stack"][0];
            let in_stack = frames.iter().find(|f| f["address"].as_u64().is_some() && f["address"] == first["frame_address"]);
            match in_stack {
                Some(f) if f["line"] == first["line"] && f["function"] == first["function"] => {}
                _ => diffs.push(format!("{who}: the running task's frame {first} is not in the thread's stack")),
            }
            if got.first().map(|g| (&g.0, &g.1, &g.3)) != want.first().map(|w| (&w.0, &w.1, &w.3)) {
                diffs.push(format!("{who}: chain {got:?}, truth {want:?}"));
            }
        } else if got != want {
            diffs.push(format!("{who}: chain {got:?}, truth {want:?}"));
        }
        // What it waits on.
        let kind = o["waits_on"]["kind"].as_str().unwrap_or("none");
        let innermost = want.last().map(|w| (w.1.as_str(), w.3.as_str()));
        let expected: &[&str] = match t.rec["waits"][0].as_str() {
            None => &["none"],
            Some("task") => &["task"],
            Some("gather") => &["gather"],
            Some(_) if innermost.is_some_and(|(f, n)| n == "sleep" && f.ends_with("asyncio/tasks.py")) => &["sleep"],
            Some(_) if want.iter().any(|w| w.1.ends_with("asyncio/taskgroups.py")) => &["task-group"],
            Some(_) => &["future"],
        };
        if !expected.contains(&kind) {
            diffs.push(format!("{who}: waits on {kind}, truth {}", t.rec["waits"]));
        }
        if let Some(children) = t.rec["waits"].get(1).filter(|c| c.as_array().is_some_and(|a| !a.is_empty())) {
            if ids(children) != ids(&o["waits_on"]["tasks"]) {
                diffs.push(format!("{who}: waits on tasks {}, truth {children}", o["waits_on"]["tasks"]));
            }
        }
        if o["callbacks"] != t.rec["callbacks"] {
            diffs.push(format!("{who}: {} done callbacks, truth {}", o["callbacks"], t.rec["callbacks"]));
        }
        let want_by = awaited_by.get(&t.id).cloned().unwrap_or_default();
        if ids(&o["awaited_by"]) != want_by {
            diffs.push(format!("{who}: awaited by {:x?}, truth {want_by:x?}", ids(&o["awaited_by"])));
        }
    }
    diffs
}

/// What the scenario runs with: (name, environment). The C and the pure-Python Task
/// everywhere; uvloop's loop where uvloop imports (CI installs it for 3.7+).
const VARIANTS: &[(&str, &[(&str, &str)])] = &[("c", &[]), ("python", &[("PYCORONER_PY_TASKS", "1")]), ("uvloop", &[("PYCORONER_UVLOOP", "1")])];

/// Whether a variant can run on an interpreter (uvloop must import); under CI uvloop
/// must be there for every pyenv interpreter from 3.8.
fn runs(py: &Interpreter, variant: &str) -> bool {
    if variant != "uvloop" {
        return true;
    }
    let ok = std::process::Command::new(&py.path).args(["-c", "import uvloop"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        let must = pycoroner_testkit::in_ci() && py.minor >= 8 && pycoroner_testkit::pyenv_interpreters().contains(py);
        assert!(!must, "uvloop does not import in {} under CI", py.id());
        eprintln!("skipped: uvloop does not import in {}", py.id());
    }
    ok
}

#[test]
fn tasks_from_a_core_equal_what_asyncio_says() {
    let script = scenario("asyncio_tasks");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    let pys = all_interpreters();
    assert!(!pys.is_empty() || !pycoroner_testkit::in_ci(), "no interpreter found under CI");
    for py in &pys {
        for (variant, env) in VARIANTS.iter().filter(|(v, _)| runs(py, v)) {
            let tag = format!("[{} {variant} tasks]", py.id());
            let env: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (*k, std::ffi::OsStr::new(v))).collect();
            let c = match crash_with_env(&py.path, &script, &env) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{tag} {e}"));
                    continue;
                }
            };
            let (code, v, err) = analyze_json(&c.core, cache.path(), &["--tasks"]);
            let Some(v) = v.filter(|_| code == Some(0)) else {
                failures.push(format!("{tag} pycoroner exited {code:?}: {err}"));
                continue;
            };
            failures.extend(compare_with_faulthandler(&v, &c.faulthandler).into_iter().map(|d| format!("{tag} {d}")));
            failures.extend(check(&tag, &v, c.sidecar.as_deref().unwrap_or(""), u64::from(py.minor)));
            failures.extend(no_task_warnings(&tag, &v));
            let cycles = v["threads"].as_array().into_iter().flatten().filter_map(|t| t["event_loop"]["cycles"].as_array()).map(Vec::len).sum::<usize>();
            if cycles != 1 {
                failures.push(format!("{tag} {cycles} await cycles, the scenario made one"));
            }
            let native = v["threads"].as_array().into_iter().flatten().filter_map(|t| t["event_loop"]["tasks"].as_array()).flatten().filter(|t| t["native"] == true).count();
            if (native > 0) != (*variant != "python") {
                failures.push(format!("{tag} {native} tasks read as C tasks"));
            }
            // The text report draws the tree: the gather parent over its children.
            let (_, text, _) = pycoroner_testkit::run(pycoroner().arg("core").arg(&c.core).arg("--tasks").arg("--cache-dir").arg(cache.path()));
            let lines: Vec<&str> = text.lines().collect();
            let parent = lines.iter().position(|l| l.ends_with("(T) parent"));
            let child = lines.iter().position(|l| l.contains("(T) child-1"));
            if py.minor >= 8 && !matches!((parent, child), (Some(p), Some(c)) if p < c) {
                failures.push(format!("{tag} the text tree does not hang child-1 under parent:\n{text}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

fn no_task_warnings(tag: &str, v: &Value) -> Vec<String> {
    let w: Vec<&Value> = v["warnings"].as_array().map(|w| w.iter().filter(|w| w["kind"] == "tasks").collect()).unwrap_or_default();
    if w.is_empty() { Vec::new() } else { vec![format!("{tag} task warnings: {w:?}")] }
}

/// A scenario left waiting in its event loop; killed on drop.
struct Hanging {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    truth: String,
}

impl Drop for Hanging {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hang(py: &Interpreter, script: &std::path::Path, env: &[(&str, &str)]) -> Result<Hanging, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let side = dir.path().join("truth.txt");
    let child = std::process::Command::new(&py.path)
        .arg(script)
        .arg("--hang")
        .arg(&side)
        .envs(env.iter().copied())
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", py.path.display()))?;
    let mut h = Hanging { child, _dir: dir, truth: String::new() };
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(60) {
        if let Ok(t) = std::fs::read_to_string(&side) {
            h.truth = t;
            return Ok(h);
        }
        if let Ok(Some(st)) = h.child.try_wait() {
            return Err(format!("the scenario exited ({st}) before writing its truth"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err("the scenario wrote no truth within 60 s".into())
}

#[test]
fn tasks_of_a_live_process_equal_asyncio_and_pstree() {
    let script = scenario("asyncio_tasks");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        for (variant, env) in VARIANTS.iter().filter(|(v, _)| runs(py, v)) {
            let tag = format!("[{} {variant} tasks, live]", py.id());
            let h = match hang(py, &script, env) {
                Ok(h) => h,
                Err(e) => {
                    failures.push(format!("{tag} {e}"));
                    continue;
                }
            };
            let pid = h.child.id().to_string();
            let (code, out, err) = pycoroner_testkit::run(pycoroner().args(["pid", &pid, "--tasks", "--format", "json", "--cache-dir"]).arg(cache.path()));
            let Some(v) = pycoroner_testkit::parse_report(&out).filter(|_| code == Some(0)) else {
                failures.push(format!("{tag} pycoroner exited {code:?}: {err}{out}"));
                continue;
            };
            failures.extend(check(&tag, &v, &h.truth, u64::from(py.minor)));
            failures.extend(no_task_warnings(&tag, &v));
            // 3.14+ ships `python -m asyncio pstree PID`, which sees C tasks only: the
            // same tree, line for line, as ours (async generators in a chain included).
            if py.minor >= 14 && *variant == "c" {
                let (pcode, ptree, perr) = pycoroner_testkit::run(std::process::Command::new(&py.path).args(["-m", "asyncio", "pstree", &pid]));
                let (_, text, _) = pycoroner_testkit::run(pycoroner().args(["pid", &pid, "--tasks", "--cache-dir"]).arg(cache.path()));
                let ours: Vec<String> = text.lines().skip_while(|l| !l.starts_with("asyncio event loop")).skip(1).take_while(|l| l.starts_with(['└', '├', '│', ' '])).map(str::to_string).collect();
                let theirs: Vec<String> = ptree.lines().map(str::to_string).collect();
                if pcode != Some(0) || ours != theirs {
                    failures.push(format!("{tag} our tree differs from pstree ({pcode:?} {perr}):\n--- pstree\n{}\n--- ours\n{}", theirs.join("\n"), ours.join("\n")));
                }
                // With an await cycle pstree refuses to draw and names the cycle: ours
                // names the same one.
                let mut env_cycle: Vec<(&str, &str)> = env.to_vec();
                env_cycle.push(("PYCORONER_CYCLE", "1"));
                match hang(py, &script, &env_cycle) {
                    Ok(hc) => {
                        let cpid = hc.child.id().to_string();
                        let (pcode, _, perr) = pycoroner_testkit::run(std::process::Command::new(&py.path).args(["-m", "asyncio", "pstree", &cpid]));
                        let (_, text, _) = pycoroner_testkit::run(pycoroner().args(["pid", &cpid, "--tasks", "--cache-dir"]).arg(cache.path()));
                        let theirs: Vec<&str> = perr.lines().filter(|l| l.starts_with("cycle: ")).collect();
                        let ours: Vec<&str> = text.lines().filter(|l| l.starts_with("cycle: ")).collect();
                        if pcode != Some(1) || theirs.is_empty() || ours != theirs {
                            failures.push(format!("{tag} cycles: pstree ({pcode:?}) {theirs:?}, ours {ours:?}"));
                        }
                    }
                    Err(e) => failures.push(format!("{tag} with a cycle: {e}")),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// 3.14+: objects of other classes registered as tasks live in `_asyncio`'s module
/// state; they are counted in a warning, never silently dropped, and never shown as
/// tasks.
#[test]
fn foreign_task_objects_are_named_in_a_warning() {
    let script = pycoroner_testkit::repo_root().join("fixtures/live/asyncio_foreign.py");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in all_interpreters().iter().filter(|p| p.minor >= 14) {
        let dir = tempfile::tempdir().expect("tmp");
        let ready = dir.path().join("ready");
        let mut child = std::process::Command::new(&py.path).arg(&script).arg(&ready).stdout(std::process::Stdio::null()).spawn().expect("spawn");
        let start = std::time::Instant::now();
        while !ready.exists() && start.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (_, out, err) = pycoroner_testkit::run(pycoroner().args(["pid", &child.id().to_string(), "--tasks", "--cache-dir"]).arg(cache.path()));
        let _ = child.kill();
        let _ = child.wait();
        if !out.contains("(T) real") || !out.contains("1 objects registered as tasks are not asyncio Tasks") {
            failures.push(format!("[{}] {out}{err}", py.id()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
