//! Cores killed by every fatal signal programs meet (fixtures/signals/die_by.py): the
//! header names the signal and decodes it (the fault a handler caught first, with its
//! address; seccomp's refused system call), and the Python frames equal faulthandler's
//! dump of the same instant. Every interpreter, stripped ones too.

mod common;

use common::{analyze_json, compare_with_faulthandler, pycoroner};
use pycoroner_testkit::{all_interpreters, crash_with_env, repo_root, run};

/// (signal, number, the `Caught first` code it must show, if faulthandler caught it).
const SIGNALS: &[(&str, i64, Option<&str>)] = &[
    ("SIGBUS", 7, Some("nonexistent physical address (BUS_ADRERR)")),
    ("SIGFPE", 8, Some("integer divide by zero (FPE_INTDIV)")),
    ("SIGILL", 4, Some("illegal operand (ILL_ILLOPN)")),
    ("SIGABRT", 6, None),
    ("SIGXCPU", 24, None),
    ("SIGSYS", 31, None),
];

#[test]
fn every_fatal_signal_is_named_and_decoded() {
    let script = repo_root().join("fixtures/signals/die_by.py");
    let cache = tempfile::tempdir().expect("tmp");
    let mut failures = Vec::new();
    for py in &all_interpreters() {
        for (name, number, caught) in SIGNALS {
            let tag = format!("[{} {name}]", py.id());
            let c = match crash_with_env(&py.path, &script, &[("PYCORONER_SIGNAL", name.as_ref())]) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{tag} {e}"));
                    continue;
                }
            };
            let (code, v, err) = analyze_json(&c.core, cache.path(), &[]);
            let Some(v) = v.filter(|_| code == Some(0)) else {
                failures.push(format!("{tag} exit {code:?}: {err}"));
                continue;
            };
            let sig = &v["target"]["signal"];
            if sig["number"] != *number || sig["name"] != *name {
                failures.push(format!("{tag} signal {sig}"));
            }
            for d in compare_with_faulthandler(&v, &c.faulthandler) {
                failures.push(format!("{tag} {d}"));
            }
            if v["warnings"].as_array().is_some_and(|w| !w.is_empty()) {
                failures.push(format!("{tag} warnings {}", v["warnings"]));
            }
            let side = c.sidecar.clone().unwrap_or_default();
            let (_, text, _) = run(pycoroner().arg("core").arg(&c.core).arg("--cache-dir").arg(cache.path()));
            let (header, _) = pycoroner_testkit::split_report_header(&text);
            if !header.contains(&format!("Signal {name} ({number}), ")) {
                failures.push(format!("{tag} header:\n{header}"));
            }
            // The fault faulthandler caught, at the address the program knows.
            let want_addr = side.lines().find_map(|l| l.strip_prefix("fault_address ")).map(str::to_string);
            match (caught, want_addr) {
                (Some(what), Some(addr)) => {
                    let want = format!("Caught first by a signal handler, which raised it again: {name} ({number}), {what} at address {addr}\n");
                    if !header.contains(&want) || sig["caught"]["address"].as_u64().map(|a| format!("{a:#x}")) != Some(addr.clone()) {
                        failures.push(format!("{tag} expected {want:?} in:\n{header}"));
                    }
                }
                (None, _) if header.contains("Caught first") => failures.push(format!("{tag} a caught fault invented:\n{header}")),
                (None, _) => {}
                (Some(_), None) => failures.push(format!("{tag} the program wrote no fault address")),
            }
            // seccomp: the kernel's own siginfo names the refused call.
            if *name == "SIGSYS" {
                let nr = side.lines().find_map(|l| l.strip_prefix("syscall ")).unwrap_or("?");
                if sig["syscall"].as_i64().map(|n| n.to_string()).as_deref() != Some(nr)
                    || !header.contains(&format!("a system call refused by seccomp (SYS_SECCOMP): system call {nr}"))
                {
                    failures.push(format!("{tag} seccomp's system call {nr} not named: {sig}\n{header}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
