//! Issue #10 ("misleading answers"): an interpreter whose thread list head is NULL (or
//! unreadable) used to print `<no Python thread>` with exit 0 and no word of why. The
//! report now says so in a warning.

use pycoroner::{analyze, layout_of_binary, Options};
use pycoroner_target::{ElfCore, FileError, FileMapping, Memory, OpenedFile, ReadError, RemoteAddr, SignalInfo, Target, ThreadInfo};
use pycoroner_testkit::{crash, in_ci, pyenv_interpreters, repo_root};

/// A core whose eight bytes at `zero` read as 0.
struct Zeroed<'a> {
    inner: &'a ElfCore,
    zero: u64,
}

impl Memory for Zeroed<'_> {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        self.inner.read_exact(addr, buf)?;
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.0.wrapping_add(i as u64);
            if a >= self.zero && a < self.zero + 8 {
                *b = 0;
            }
        }
        Ok(())
    }
}

impl Target for Zeroed<'_> {
    fn threads(&self) -> Vec<ThreadInfo> {
        self.inner.threads().to_vec()
    }
    fn signal(&self) -> Option<SignalInfo> {
        self.inner.signal()
    }
    fn mappings(&self) -> Vec<FileMapping> {
        self.inner.file_mappings().to_vec()
    }
    fn open_file(&self, path: &str) -> Result<OpenedFile, FileError> {
        self.inner.open_file(path)
    }
    fn executable(&self) -> Option<String> {
        self.inner.executable_path()
    }
    fn pid(&self) -> Option<u32> {
        None
    }
    fn describe(&self) -> String {
        "core with a NULL thread list".into()
    }
}

#[test]
fn a_null_thread_list_is_a_warning_not_silence() {
    let Some(py) = pyenv_interpreters().into_iter().last() else {
        assert!(!in_ci(), "no pyenv interpreter");
        eprintln!("SKIP: no pyenv interpreter");
        return;
    };
    let c = crash(&py.path, &repo_root().join("crates/cli/src/demo_scenario.py")).expect("crash");
    let core = ElfCore::open(&c.core).expect("open");
    let opts = Options::default();
    let clean = analyze(&core, &opts).expect("clean analysis");
    assert!(!clean.threads.is_empty());
    let layout = layout_of_binary(std::path::Path::new(&clean.python.module), None, &opts).expect("layout");
    let head = layout.offsets.get("interp.threads_head").expect("threads_head offset");
    let interp = clean.interpreters.first().expect("an interpreter").address;
    let zeroed = Zeroed { inner: &core, zero: interp + head };
    let r = analyze(&zeroed, &opts).expect("analysis");
    assert!(r.threads.is_empty());
    assert!(r.warnings.iter().any(|w| w.contains("list no thread state")), "{:?}", r.warnings);
}
