//! The whole pipeline on a real core whose memory the fuzzer corrupts: analysis with
//! locals and native stacks, then both renderers. The core is `$PYCORONER_FUZZ_CORE`
//! (a crash of fixtures/scenarios/locals_values.py; `fuzz/run.sh` makes one).
//!
//! Input: 8 bytes of seed, 1 byte choosing the corruption rate (1 in 2^(4..20) bytes),
//! 1 byte of flags (native stacks), then the values corrupt bytes take.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pycoroner::{analyze, NativeMode, Options};
use pycoroner_report::render;
use pycoroner_target::{ElfCore, FileError, FileMapping, Memory, OpenedFile, ReadError, RemoteAddr, SignalInfo, Target, ThreadInfo};

struct Mutating<'a> {
    inner: &'a ElfCore,
    seed: u64,
    rate: u64,
    values: &'a [u8],
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

impl Memory for Mutating<'_> {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        self.inner.read_exact(addr, buf)?;
        for (i, b) in buf.iter_mut().enumerate() {
            let h = mix(self.seed ^ addr.0.wrapping_add(i as u64));
            if h % self.rate == 0 {
                *b = match self.values.len() {
                    0 => (h >> 32) as u8,
                    n => self.values[(h >> 20) as usize % n],
                };
            }
        }
        Ok(())
    }
}

impl Target for Mutating<'_> {
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
        "mutated core".into()
    }
}

struct Setup {
    core: ElfCore,
    cache: tempfile::TempDir,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let path = std::env::var_os("PYCORONER_FUZZ_CORE").expect("set PYCORONER_FUZZ_CORE to a core (see fuzz/run.sh)");
        Setup { core: ElfCore::open(std::path::Path::new(&path)).expect("open the core"), cache: tempfile::tempdir().expect("tmp") }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let Some((head, values)) = data.split_at_checked(10) else { return };
    let seed = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let rate = 1u64 << (4 + head[8] % 17);
    let native = if head[9] & 1 == 1 { NativeMode::All } else { NativeMode::Off };
    let opts = Options { cache_dir: Some(s.cache.path().to_path_buf()), locals: true, native, ..Options::default() };
    let m = Mutating { inner: &s.core, seed, rate, values };
    if let Ok(report) = analyze(&m, &opts) {
        let _ = render::faulthandler::render(&report);
        let _ = render::json::render(&report);
    }
});
