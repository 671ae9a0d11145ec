//! Issue #10: pycoroner run as root on cores, caches and files that someone else
//! prepared. Each test builds its trap from a real fixture core (never checked in),
//! sets it where an attacker or an unlucky day would, and checks that the answer is
//! right or refused with one clear line: never a file disclosed, never a file
//! clobbered, never a hang, never a wrong stack with exit 0.

mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{analyze_json, compare_with_faulthandler, pycoroner};
use pycoroner_testkit::{craft, crash, in_ci, pyenv_interpreters, repo_root, require_tool, run, Crash, Interpreter};
use serde_json::Value;

fn newest() -> Option<Interpreter> {
    let py = pyenv_interpreters().into_iter().last();
    if py.is_none() {
        assert!(!in_ci(), "no pyenv interpreter");
        eprintln!("SKIP: no pyenv interpreter");
    }
    py
}

fn demo_crash(py: &Interpreter) -> Crash {
    crash(&py.path, &repo_root().join("crates/cli/src/demo_scenario.py")).expect("demo scenario crashes")
}

/// Run pycoroner, killing it (and failing) if it does not finish within `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> (Option<i32>, String, String) {
    use std::io::Read;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    // Drain both pipes meanwhile, so a large report cannot block the child.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("pycoroner did not finish within {limit:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status.code(), out.join().expect("stdout"), err.join().expect("stderr"))
}

fn module_of(report: &Value) -> String {
    report["python"]["module"].as_str().expect("python.module").to_string()
}

fn warnings(report: &Value) -> String {
    pycoroner_testkit::warning_texts(report).join("\n")
}

/// A file only root can read, with recognisable contents.
fn secret_file(dir: &Path) -> PathBuf {
    let p = dir.join("shadow");
    let mut content = b"root:$6$SECRETHASH$:19000:0:99999:7:::\n".to_vec();
    content.resize(64 << 10, b'S');
    std::fs::write(&p, content).expect("write secret");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    p
}

/// A crafted core naming a secret file where its interpreter library was: the secret
/// is never read into the report, and the analysis refuses with the file named (exit
/// 2), rather than exit 0 with a stack made of someone else's bytes.
#[test]
fn a_core_naming_a_secret_file_discloses_nothing() {
    let Some(py) = newest() else { return };
    let c = demo_crash(&py);
    let cache = tempfile::tempdir().expect("tmp");
    let (_, v, err) = analyze_json(&c.core, cache.path(), &["--no-cache"]);
    let module = module_of(&v.unwrap_or_else(|| panic!("{err}")));
    let dir = tempfile::tempdir().expect("tmp");
    let secret = secret_file(dir.path());
    let bytes = std::fs::read(&c.core).expect("core");
    let crafted = craft::map_nt_file(&bytes, |entries| {
        for e in entries.iter_mut().filter(|e| e.3 == module.as_bytes()) {
            e.3 = secret.as_os_str().as_encoded_bytes().to_vec();
        }
    });
    let evil = dir.path().join("core.evil");
    std::fs::write(&evil, crafted).expect("write");
    for extra in [&["--format", "json"][..], &["--native-all"][..]] {
        let (code, out, err) = run_bounded(pycoroner().arg("core").arg(&evil).arg("--no-cache").args(extra), Duration::from_secs(60));
        assert!(!out.contains("SECRETHASH") && !err.contains("SECRETHASH"), "secret disclosed:\n{out}\n{err}");
        assert_eq!(code, Some(2), "{out}\n{err}");
        // With --format json the one line is a JSON error on stdout.
        let message = match serde_json::from_str::<Value>(&out) {
            Ok(v) if extra.contains(&"json") => v["error"]["message"].as_str().unwrap_or_default().to_string(),
            _ => err.clone(),
        };
        assert!(message.contains(&secret.display().to_string()) && message.contains("could not be used"), "{out}\n{err}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}

/// The same core with another build's library at its path (a package upgraded after
/// the crash, a container's library on the host): refused with the file named, for
/// the layout and the unwinder alike.
#[test]
fn another_build_at_the_recorded_path_is_refused_by_build_id() {
    let pys = pyenv_interpreters();
    let (Some(py), Some(other)) = (pys.last(), pys.iter().rev().nth(1)) else {
        assert!(!in_ci(), "need two pyenv interpreters");
        eprintln!("SKIP: need two pyenv interpreters");
        return;
    };
    let c = demo_crash(py);
    let cache = tempfile::tempdir().expect("tmp");
    let (_, v, err) = analyze_json(&c.core, cache.path(), &["--no-cache"]);
    let v = v.unwrap_or_else(|| panic!("{err}"));
    let module = module_of(&v);
    // The other interpreter's library, placed at this core's path inside a sysroot.
    let o = run(Command::new(&other.path).args(["-c", "import sysconfig,os;print(os.path.join(sysconfig.get_config_var('LIBDIR'), sysconfig.get_config_var('LDLIBRARY')))"]));
    let other_lib = PathBuf::from(o.1.trim());
    let root = tempfile::tempdir().expect("tmp");
    let at = root.path().join(module.trim_start_matches('/'));
    std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
    std::fs::copy(&other_lib, &at).expect("copy the other build");
    let (code, out, err) =
        run_bounded(pycoroner().arg("core").arg(&c.core).arg("--sysroot").arg(root.path()).arg("--no-cache"), Duration::from_secs(60));
    assert_eq!(code, Some(2), "a wrong build was used:\n{out}\n{err}");
    assert!(err.contains("not the file the process mapped") && err.contains(&at.display().to_string()), "{err}");
    // The right build at the same place: read, and equal to faulthandler.
    std::fs::copy(&module, &at).expect("copy the right build");
    let (code, out, err) = run_bounded(
        pycoroner().arg("core").arg(&c.core).arg("--sysroot").arg(root.path()).args(["--no-cache", "--format", "json"]),
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "{err}");
    let v: Value = pycoroner_testkit::parse_report(&out).expect("json");
    assert!(compare_with_faulthandler(&v, &c.faulthandler).is_empty());
}

/// `..` and symbolic links in a core's file names, and links planted inside the
/// sysroot, cannot lead outside it.
#[test]
fn sysroot_confines_dot_dot_and_links() {
    let Some(py) = newest() else { return };
    let c = demo_crash(&py);
    let cache = tempfile::tempdir().expect("tmp");
    let (_, v, err) = analyze_json(&c.core, cache.path(), &["--no-cache"]);
    let module = module_of(&v.unwrap_or_else(|| panic!("{err}")));
    let root = tempfile::tempdir().expect("tmp");
    // A link inside the root pointing at the host's real library: resolved inside the
    // root, where nothing is.
    let at = root.path().join(module.trim_start_matches('/'));
    std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(&module, &at).expect("link");
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg(&c.core).arg("--sysroot").arg(root.path()).arg("--no-cache"), Duration::from_secs(60));
    assert_eq!(code, Some(2), "a link out of the sysroot was followed: {err}");
    // `/../../..` prefixes in the core's own paths: still inside.
    let bytes = std::fs::read(&c.core).expect("core");
    let crafted = craft::map_nt_file(&bytes, |entries| {
        for e in entries.iter_mut() {
            let mut p = b"/../../../../..".to_vec();
            p.extend(&e.3);
            e.3 = p;
        }
    });
    let evil = root.path().join("core.dotdot");
    std::fs::write(&evil, crafted).expect("write");
    std::fs::remove_file(&at).expect("rm link");
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg(&evil).arg("--sysroot").arg(root.path()).arg("--no-cache"), Duration::from_secs(60));
    assert_eq!(code, Some(2), "{err}");
    // Without a sysroot the same paths name this machine's files (`/..` is `/`), which
    // are the right ones: the analysis works.
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg(&evil).arg("--no-cache"), Duration::from_secs(60));
    assert_eq!(code, Some(0), "{err}");
    // Not an ELF file at the library's path inside the sysroot: exit 2 naming it.
    let (_, v, _) = analyze_json(&c.core, cache.path(), &["--no-cache"]);
    drop(v);
    std::fs::write(&at, b"not an ELF file\n").expect("write");
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg(&c.core).arg("--sysroot").arg(root.path()).arg("--no-cache"), Duration::from_secs(60));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&at.display().to_string()) && err.contains("not a valid ELF file"), "{err}");
    // A sysroot that does not exist is bad input, not a silent nothing.
    let (code, _, err) = run(pycoroner().arg("core").arg(&c.core).args(["--sysroot", "/nonexistent/root"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("--sysroot /nonexistent/root: not a directory"), "{err}");
}

/// FIFOs and devices given as the core, `--exe`, or placed where a mapped file is
/// looked up: refused at once, never blocking.
#[test]
fn fifos_and_devices_never_block() {
    let Some(py) = newest() else { return };
    let c = demo_crash(&py);
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg(&fifo), Duration::from_secs(20));
    assert_eq!(code, Some(2));
    assert!(err.contains("not a regular file (fifo)"), "{err}");
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg(&c.core).arg("--exe").arg(&fifo), Duration::from_secs(20));
    assert_eq!(code, Some(2));
    assert!(err.contains("fifo"), "{err}");
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg("/dev/zero"), Duration::from_secs(20));
    assert_eq!(code, Some(2));
    assert!(err.contains("not a regular file (device)"), "{err}");
    // A FIFO at the library's path inside a sysroot.
    let cache = tempfile::tempdir().expect("tmp");
    let (_, v, err) = analyze_json(&c.core, cache.path(), &["--no-cache"]);
    let module = module_of(&v.unwrap_or_else(|| panic!("{err}")));
    let at = dir.path().join("root").join(module.trim_start_matches('/'));
    std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
    assert!(Command::new("mkfifo").arg(&at).status().expect("mkfifo").success());
    let (code, _, err) =
        run_bounded(pycoroner().arg("core").arg(&c.core).arg("--sysroot").arg(dir.path().join("root")).args(["--no-cache", "--native"]), Duration::from_secs(60));
    assert_eq!(code, Some(2));
    assert!(err.contains("not a regular file (fifo)"), "{err}");
}

/// A compressed "core" whose headers claim far more than the disk holds, and one that
/// is no core at all: one clear error at once, nothing large written.
#[test]
fn decompression_bombs_are_refused() {
    let Some(zstd) = require_tool("zstd") else { return };
    let dir = tempfile::tempdir().expect("tmp");
    // An ELF core header with one PT_LOAD of 2^50 bytes, then 64 MiB of zeros.
    let mut head = vec![0u8; 64 + 56];
    head[..6].copy_from_slice(b"\x7FELF\x02\x01");
    head[16] = 4;
    head[18] = 62;
    head[32..40].copy_from_slice(&64u64.to_le_bytes());
    head[54..56].copy_from_slice(&56u16.to_le_bytes());
    head[56..58].copy_from_slice(&1u16.to_le_bytes());
    head[64..68].copy_from_slice(&1u32.to_le_bytes());
    head[64 + 8..64 + 16].copy_from_slice(&4096u64.to_le_bytes());
    head[64 + 32..64 + 40].copy_from_slice(&(1u64 << 50).to_le_bytes());
    let raw = dir.path().join("bomb");
    let mut f = std::fs::File::create(&raw).expect("create");
    f.write_all(&head).expect("write");
    f.write_all(&vec![0u8; 64 << 20]).expect("write");
    drop(f);
    let packed = dir.path().join("bomb.zst");
    assert!(Command::new(&zstd).args(["-q", "-19", "-o"]).arg(&packed).arg(&raw).status().expect("zstd").success());
    std::fs::remove_file(&raw).expect("rm");
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg(&packed).env("TMPDIR", tmp.path()), Duration::from_secs(30));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("more than the") && err.contains("free"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Zeros compressed: not an ELF core, refused after its first bytes.
    let zeros = dir.path().join("zeros");
    std::fs::write(&zeros, vec![0u8; 32 << 20]).expect("write");
    let packed = dir.path().join("zeros.zst");
    assert!(Command::new(&zstd).args(["-q", "-o"]).arg(&packed).arg(&zeros).status().expect("zstd").success());
    let (code, _, err) = run_bounded(pycoroner().arg("core").arg(&packed).env("TMPDIR", tmp.path()), Duration::from_secs(30));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not a 64-bit ELF core") || err.contains("not an ELF core"), "{err}");
}

fn as_nobody(cmd: &str) -> bool {
    Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", cmd])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn root_and_setpriv() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc_geteuid() } == 0;
    let ok = root && require_tool("setpriv").is_some();
    if !ok {
        assert!(!in_ci(), "the cache trap tests need root and setpriv under CI");
        eprintln!("SKIP: the cache trap tests need root and setpriv");
    }
    ok
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// A shared cache directory that another user controls: root refuses it with one
/// warning, writes nothing there, and gives the right answer. Inside a private one,
/// an entry another user planted (offsets swapped), a link to a root file, a FIFO and
/// a link to /dev/zero are each ignored with a warning, and a link at an entry's name
/// is replaced, never written through.
#[test]
fn cache_traps_set_by_another_user_are_refused() {
    let Some(py) = newest() else { return };
    if !root_and_setpriv() {
        return;
    }
    let c = demo_crash(&py);
    let good_cache = tempfile::tempdir().expect("tmp");
    let (_, truth, err) = analyze_json(&c.core, good_cache.path(), &["--native"]);
    let truth = truth.unwrap_or_else(|| panic!("{err}"));
    assert!(compare_with_faulthandler(&truth, &c.faulthandler).is_empty());

    // 1. A world-writable cache directory (a shared PYCORONER_CACHE_DIR), with nobody's
    // link at the layout entry's name pointing at a root-owned file.
    let shared = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let victim = shared.path().join("victim");
    std::fs::write(&victim, b"root's file").expect("write");
    let trap = shared.path().join("trap");
    assert!(as_nobody(&format!("mkdir -p {0}/layouts {0}/symbols && chmod 777 {0} {0}/layouts {0}/symbols", trap.display())));
    let entries: Vec<String> = std::fs::read_dir(good_cache.path().join("layouts")).expect("layouts").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    for e in &entries {
        assert!(as_nobody(&format!("ln -s {} {}/layouts/{e}", victim.display(), trap.display())));
    }
    let (code, out, err) = run_bounded(
        pycoroner().arg("core").arg(&c.core).args(["--format", "json", "--native"]).env("PYCORONER_CACHE_DIR", &trap),
        Duration::from_secs(120),
    );
    assert_eq!(code, Some(0), "{err}");
    let v: Value = pycoroner_testkit::parse_report(&out).expect("json");
    assert_eq!(v["threads"], truth["threads"], "a hostile cache changed the answer");
    assert!(warnings(&v).contains("running without a cache"), "{}", warnings(&v));
    assert_eq!(std::fs::read(&victim).expect("victim"), b"root's file", "root wrote through nobody's link");
    assert!(std::fs::read_dir(trap.join("layouts")).expect("ls").flatten().all(|e| e.path().is_symlink()), "root wrote into nobody's directory");

    // 2. Root's own private cache, holding entries nobody could not have written but that
    // are damaged or placed by a careless copy: each ignored, the answer unchanged.
    let mine = tempfile::tempdir().expect("tmp");
    let cache = mine.path().join("cache");
    let (code, _, err) = run(pycoroner().arg("core").arg(&c.core).args(["--native", "--cache-dir"]).arg(&cache));
    assert_eq!(code, Some(0), "{err}");
    let layout = std::fs::read_dir(cache.join("layouts")).expect("layouts").flatten().next().expect("an entry").path();
    let sealed = std::fs::read(&layout).expect("entry");
    // (a) an entry with two offsets swapped and its seal recomputed (a forgery a
    // checksum cannot catch), handed to nobody: refused for its owner. (b) the same
    // body edited without resealing, root's own: refused for its checksum.
    let nl = sealed.iter().position(|&b| b == b'\n').expect("header");
    let header = String::from_utf8_lossy(&sealed[..nl]).into_owned();
    let body = String::from_utf8_lossy(&sealed[nl + 1..]).into_owned();
    let forged_body = swap_two_offsets(&body);
    assert_ne!(forged_body, body);
    let h: Vec<&str> = header.split(' ').collect();
    let resealed = format!("{} {} {} {} {:016x}\n{forged_body}", h[0], h[1], h[2], forged_body.len(), fnv1a(forged_body.as_bytes()));
    let unsealed = format!("{header}\n{forged_body}");
    for (what, bytes, owner) in [("owned by nobody", resealed, Some(65534)), ("checksum broken", unsealed, None)] {
        std::fs::write(&layout, bytes.as_bytes()).expect("write");
        if let Some(uid) = owner {
            std::os::unix::fs::chown(&layout, Some(uid), Some(65534)).expect("chown");
        }
        let (code, out, err) = run(pycoroner().arg("core").arg(&c.core).args(["--format", "json", "--native", "--cache-dir"]).arg(&cache));
        assert_eq!(code, Some(0), "{what}: {err}");
        let v: Value = pycoroner_testkit::parse_report(&out).expect("json");
        assert_eq!(v["threads"], truth["threads"], "{what}: the answer changed");
        assert_eq!(v["python"]["layout_cached"], false, "{what}: the entry was used");
        assert!(warnings(&v).contains("ignored"), "{what}: no warning: {}", warnings(&v));
        std::fs::remove_file(&layout).expect("rm");
    }
    // (b) a FIFO and a link to /dev/zero at the entry's name: no hang, no memory blow-up.
    for make in ["mkfifo", "ln -s /dev/zero"] {
        let st = Command::new("sh").arg("-c").arg(format!("{make} {}", layout.display())).status().expect("sh");
        assert!(st.success());
        let (code, out, err) = run_bounded(
            pycoroner().arg("core").arg(&c.core).args(["--format", "json", "--cache-dir"]).arg(&cache),
            Duration::from_secs(60),
        );
        assert_eq!(code, Some(0), "{make}: {err}");
        let v: Value = pycoroner_testkit::parse_report(&out).expect("json");
        assert!(compare_with_faulthandler(&v, &c.faulthandler).is_empty(), "{make}");
        assert!(warnings(&v).contains("ignored"), "{make}: {}", warnings(&v));
        assert!(!layout.exists() || std::fs::symlink_metadata(&layout).expect("meta").file_type().is_file(), "{make}: not replaced");
        let _ = std::fs::remove_file(&layout);
    }
    // Created private: the cache and its subdirectories are 0700.
    for d in [cache.clone(), cache.join("layouts"), cache.join("symbols")] {
        assert_eq!(std::fs::metadata(&d).expect("meta").mode() & 0o777, 0o700, "{}", d.display());
    }
}

/// The layout entry's body with the values of two thread-state offsets exchanged.
fn swap_two_offsets(body: &str) -> String {
    let mut v: Value = serde_json::from_str(body).expect("layout entry is JSON");
    let t = &mut v["layout"]["offsets"]["tstate"];
    let (a, b) = (t["next"].clone(), t["interp"].clone());
    assert!(a.is_u64() && b.is_u64() && a != b, "offsets to swap: {t}");
    t["next"] = b;
    t["interp"] = a;
    v.to_string()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// An empty PYCORONER_CACHE_DIR= is "unset", never the current directory.
#[test]
fn an_empty_cache_dir_variable_writes_nothing_here() {
    let Some(py) = newest() else { return };
    let c = demo_crash(&py);
    let here = tempfile::tempdir().expect("tmp");
    let home = tempfile::tempdir().expect("tmp");
    let (code, _, err) = run(pycoroner()
        .arg("core")
        .arg(&c.core)
        .current_dir(here.path())
        .env("PYCORONER_CACHE_DIR", "")
        .env("HOME", home.path())
        .env_remove("XDG_CACHE_HOME"));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read_dir(here.path()).expect("ls").count(), 0, "files written into the current directory");
    assert!(home.path().join(".cache/pycoroner/layouts").is_dir());
}

/// Control characters in the target's names: escaped in the text as faulthandler
/// escapes them, raw in the JSON, and equal to faulthandler's own dump.
#[test]
fn control_characters_from_the_target_are_escaped_in_text() {
    let Some(py) = newest() else { return };
    let c = crash(&py.path, &repo_root().join("fixtures/hostile/control_chars.py")).expect("crash");
    let cache = tempfile::tempdir().expect("tmp");
    let (code, v, err) = analyze_json(&c.core, cache.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    let v = v.expect("json");
    assert!(compare_with_faulthandler(&v, &c.faulthandler).is_empty(), "{:?}", compare_with_faulthandler(&v, &c.faulthandler));
    assert!(v.to_string().contains("evil\\u001b[2J\\n"), "the JSON keeps the raw name");
    for extra in [&[][..], &["--native"][..], &["--locals"][..]] {
        let (code, text, err) = run(pycoroner().arg("core").arg(&c.core).arg("--cache-dir").arg(cache.path()).args(extra));
        assert_eq!(code, Some(0), "{err}");
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "raw escape in the text:\n{text:?}");
        assert!(text.contains("File \"/srv/evil\\x1b[2J\\x0a  File \"forged.py\", line 1 in x.py\", line 2 in boom"), "{text}");
        // faulthandler's own dump says the same.
        assert!(c.faulthandler.contains("/srv/evil\\x1b[2J\\x0a  File \"forged.py\", line 1 in x.py"), "{}", c.faulthandler);
    }
}

/// A 3000-frame stack whose file name is a million characters: the report stays small
/// (names cut at 4096 characters), and still equals faulthandler's view.
#[test]
fn huge_names_on_deep_stacks_stay_bounded() {
    let Some(py) = newest() else { return };
    let c = crash(&py.path, &repo_root().join("fixtures/hostile/huge_names.py")).expect("crash");
    let cache = tempfile::tempdir().expect("tmp");
    let (code, out, err) = run_bounded(pycoroner().arg("core").arg(&c.core).args(["--format", "json", "--cache-dir"]).arg(cache.path()), Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.len() < 64 << 20, "report of {} bytes", out.len());
    let v: Value = pycoroner_testkit::parse_report(&out).expect("json");
    assert!(compare_with_faulthandler(&v, &c.faulthandler).is_empty(), "{:?}", compare_with_faulthandler(&v, &c.faulthandler));
    let frames = v["threads"].as_array().expect("threads").iter().flat_map(|t| t["frames"].as_array().cloned().unwrap_or_default()).count();
    assert!(frames > 3000, "{frames} frames");
    let longest = v["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .flat_map(|t| t["frames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["file"].as_str().map(|s| s.chars().count()))
        .max()
        .unwrap_or(0);
    assert_eq!(longest, 4096 + 3, "a name is cut at 4096 characters and marked");
}

/// A core with 65 530 mapped files (the kernel's default max_map_count): read, with the
/// same stacks (the time is measured by bench/hostile.sh, not here).
#[test]
fn a_core_with_65530_mappings_is_read() {
    let Some(py) = newest() else { return };
    let c = demo_crash(&py);
    let bytes = std::fs::read(&c.core).expect("core");
    let crafted = craft::map_nt_file(&bytes, |entries| {
        let have = entries.len() as u64;
        for i in 0..(65_530u64.saturating_sub(have)) {
            let start = 0x6000_0000_0000u64 + i * 0x2000;
            entries.push((start, start + 0x1000, 0, format!("/nonexistent/lib{i}.so").into_bytes()));
        }
    });
    let dir = tempfile::tempdir().expect("tmp");
    let big = dir.path().join("core.many");
    std::fs::write(&big, crafted).expect("write");
    let cache = tempfile::tempdir().expect("tmp");
    let (code, out, err) = run_bounded(pycoroner().arg("core").arg(&big).args(["--format", "json", "--cache-dir"]).arg(cache.path()), Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}");
    let v: Value = pycoroner_testkit::parse_report(&out).expect("json");
    assert!(compare_with_faulthandler(&v, &c.faulthandler).is_empty());
}

/// Damaged notes: a report, or exit 2 saying what is damaged, never exit 3 "no Python".
#[test]
fn damaged_notes_are_bad_input_not_no_python() {
    let Some(py) = newest() else { return };
    let c = demo_crash(&py);
    let bytes = std::fs::read(&c.core).expect("core");
    let (_, notes) = craft::notes(&bytes);
    // NT_FILE cut short: the mapped files are unknown.
    let cut: Vec<craft::Note> = notes
        .iter()
        .map(|n| {
            let mut n = n.clone();
            if n.ntype == craft::NT_FILE {
                n.desc.truncate(40);
            }
            n
        })
        .collect();
    let dir = tempfile::tempdir().expect("tmp");
    let damaged = dir.path().join("core.damaged");
    std::fs::write(&damaged, craft::with_notes(&bytes, &cut)).expect("write");
    let (code, _, err) = run(pycoroner().arg("core").arg(&damaged).arg("--no-cache"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("NT_FILE") && err.contains("damaged"), "{err}");
    // NT_FILE gone altogether.
    let gone: Vec<craft::Note> = notes.iter().filter(|n| n.ntype != craft::NT_FILE).cloned().collect();
    std::fs::write(&damaged, craft::with_notes(&bytes, &gone)).expect("write");
    let (code, _, err) = run(pycoroner().arg("core").arg(&damaged).arg("--no-cache"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("lists no mapped ELF file"), "{err}");
}
