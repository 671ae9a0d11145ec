//! A target seen through a debugger: gdb or lldb hands over functions that read the
//! stopped inferior's memory, list its mappings and threads, and read a thread's
//! registers. While a [`CallbackTarget`] lives the inferior is assumed stopped, so its
//! memory is read through a page cache (a debugger's memory read is slow: tens of
//! microseconds per call).

use std::path::PathBuf;

use crate::memory::{Memory, ReadError, RemoteAddr};
use crate::notes::{FileMapping, Registers, SignalInfo, ThreadInfo};
use crate::page_cache::PageCache;
use crate::Target;

/// Reads `buf.len()` bytes at an address; `false` if any of them is unreadable.
pub type ReadFn = Box<dyn Fn(u64, &mut [u8]) -> bool>;
/// The 27 registers of a thread (Linux x86_64 `user_regs_struct` order), if readable.
pub type RegistersFn = Box<dyn Fn(u32) -> Option<[u64; 27]>>;

/// Cache bound: a stack walk touches a few hundred kilobytes at most.
const CACHE_BYTES: usize = 64 << 20;

/// The debugger's view of a stopped process or core.
pub struct CallbackTarget {
    read: ReadFn,
    cache: PageCache,
    mappings: Vec<FileMapping>,
    threads: Vec<ThreadInfo>,
    pid: Option<u32>,
    executable: Option<String>,
    sysroot: Option<PathBuf>,
    /// The file the debugger itself loaded for a mapped path (found through its
    /// sysroot, solib-search-path, or given by the user), by that path.
    debugger_files: std::collections::HashMap<String, PathBuf>,
    signal: Option<SignalInfo>,
}

impl std::fmt::Debug for CallbackTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackTarget").field("mappings", &self.mappings.len()).field("threads", &self.threads.len()).finish()
    }
}

impl CallbackTarget {
    /// Build a target from the debugger's functions. `lwps` are the threads; their
    /// registers are read once, now. Mappings are file-backed ranges (start, end, file
    /// offset, path); a debugger's pseudo-files (lldb lists `[vdso]` as a module) are
    /// left out as `/proc/PID/maps` reading leaves them out. The executable is the first
    /// mapping's file unless given.
    pub fn new(
        read: ReadFn,
        mappings: Vec<FileMapping>,
        lwps: &[u32],
        registers: RegistersFn,
        pid: Option<u32>,
        executable: Option<String>,
    ) -> CallbackTarget {
        let threads = lwps
            .iter()
            .map(|&tid| {
                let regs = registers(tid).map(Registers::from_user_regs).unwrap_or_default();
                ThreadInfo { tid, cursig: 0, regs }
            })
            .collect();
        let mappings: Vec<FileMapping> = mappings.into_iter().filter(|m| m.path.starts_with('/')).collect();
        let executable = executable.or_else(|| mappings.first().map(|m| m.path.clone()));
        CallbackTarget { read, cache: PageCache::new(CACHE_BYTES), mappings, threads, pid, executable, sysroot: None, debugger_files: Default::default(), signal: None }
    }

    /// The fatal signal thread `lwp` took, as the debugger reports it (a core's
    /// `$_siginfo`): that thread becomes the one that crashed, listed first as a core
    /// lists it. Ignored if no such thread.
    pub fn set_signal(&mut self, lwp: u32, signal: SignalInfo) {
        if let Some(i) = self.threads.iter().position(|t| t.tid == lwp) {
            let mut t = self.threads.remove(i);
            t.cursig = u16::try_from(signal.signo).unwrap_or(0);
            self.threads.insert(0, t);
            self.signal = Some(signal);
        }
    }

    /// Read mapped files under this directory first (a core from another machine).
    pub fn set_sysroot(&mut self, sysroot: Option<PathBuf>) {
        self.sysroot = sysroot;
    }

    /// The files the debugger loaded for mapped paths (target path → its file): used
    /// where the path itself (inside the sysroot) has no file. Like every file, each is
    /// used only if its build-id is the one the target records.
    pub fn set_debugger_files(&mut self, files: std::collections::HashMap<String, PathBuf>) {
        self.debugger_files = files;
    }
}

/// The debugger's read, as a [`Memory`].
struct Raw<'a>(&'a ReadFn);

impl Memory for Raw<'_> {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        if buf.is_empty() || (self.0)(addr.0, buf) {
            Ok(())
        } else {
            Err(ReadError::Unmapped { addr })
        }
    }
}

impl Memory for CallbackTarget {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        self.cache.read_through(&Raw(&self.read), addr, buf)
    }
}

impl Target for CallbackTarget {
    fn threads(&self) -> Vec<ThreadInfo> {
        self.threads.clone()
    }
    fn signal(&self) -> Option<SignalInfo> {
        self.signal
    }
    fn mappings(&self) -> Vec<FileMapping> {
        self.mappings.clone()
    }
    fn open_file(&self, path: &str) -> Result<crate::OpenedFile, crate::FileError> {
        let own = crate::files::open_confined(self.sysroot.as_deref(), path, crate::files::MAX_FILE);
        match (own, self.debugger_files.get(path)) {
            (Err(_), Some(loaded)) => crate::files::open_confined(None, &loaded.to_string_lossy(), crate::files::MAX_FILE),
            (own, _) => own,
        }
    }
    fn executable(&self) -> Option<String> {
        self.executable.clone()
    }
    fn pid(&self) -> Option<u32> {
        self.pid
    }
    fn describe(&self) -> String {
        match self.pid {
            Some(p) => format!("the debugger's process {p}"),
            None => "the debugger's target".into(),
        }
    }
    fn kind(&self) -> crate::TargetKind {
        crate::TargetKind::Debugger
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryExt;

    #[test]
    fn reads_through_the_callback_and_fails_cleanly() {
        let data: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
        let read: ReadFn = Box::new(move |addr, buf| {
            let Some(off) = addr.checked_sub(0x10000) else { return false };
            let Some(src) = data.get(off as usize..off as usize + buf.len()) else { return false };
            buf.copy_from_slice(src);
            true
        });
        let regs: RegistersFn = Box::new(|tid| (tid == 7).then(|| std::array::from_fn(|i| i as u64)));
        let t = CallbackTarget::new(read, Vec::new(), &[7, 8], regs, Some(7), None);
        assert_eq!(t.read_u8(RemoteAddr(0x10005)), Ok(5));
        assert_eq!(t.read_u32(RemoteAddr(0x10ffe)).ok(), None);
        assert!(t.read_u64(RemoteAddr(0x8000)).is_err());
        let th = t.threads();
        assert_eq!((th[0].regs.rip, th[0].regs.rsp, th[0].regs.fs_base), (16, 19, 21));
        assert_eq!(th[1].regs.rip, 0);
    }

    #[test]
    fn pseudo_files_of_the_debugger_are_not_mappings() {
        let read: ReadFn = Box::new(|_, _| false);
        let m = |path: &str, start| FileMapping { start, end: start + 0x1000, file_offset: 0, path: path.into() };
        let t = CallbackTarget::new(read, vec![m("[vdso]", 0x1000), m("/usr/bin/python3", 0x4000), m("[vsyscall]", 0x9000)], &[1], Box::new(|_| None), None, None);
        let paths: Vec<String> = t.mappings().into_iter().map(|m| m.path).collect();
        assert_eq!(paths, ["/usr/bin/python3"]);
        assert_eq!(t.executable().as_deref(), Some("/usr/bin/python3"));
    }

    #[test]
    fn the_signalled_thread_comes_first() {
        let read: ReadFn = Box::new(|_, _| false);
        let mut t = CallbackTarget::new(read, Vec::new(), &[7, 8, 9], Box::new(|_| None), None, None);
        let sig = SignalInfo { signo: 11, code: 1, addr: Some(0), sender_pid: None, syscall: None };
        t.set_signal(42, sig);
        assert_eq!(t.signal(), None);
        t.set_signal(8, sig);
        let tids: Vec<(u32, u16)> = t.threads().iter().map(|t| (t.tid, t.cursig)).collect();
        assert_eq!(tids, [(8, 11), (7, 0), (9, 0)]);
        assert_eq!(t.signal(), Some(sig));
    }
}
