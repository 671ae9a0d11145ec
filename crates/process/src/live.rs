//! A live process: memory through `process_vm_readv`, threads from `/proc/PID/task`,
//! mappings from `/proc/PID/maps`, files through `/proc/PID/root` (so a process in a
//! container is read with its own files).
//!
//! [`StopGuard`] seizes every thread (`PTRACE_SEIZE` + `PTRACE_INTERRUPT`), reads their
//! registers, and detaches on drop, on every path out, errors and panics included; if
//! pycoroner itself is killed, the kernel detaches its tracees and they run on.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::memory::{Memory, ReadError, RemoteAddr};
use crate::notes::{FileMapping, Registers, ThreadInfo};
use crate::page_cache::PageCache;

/// Why a live process could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No such process.
    #[error("no process with pid {0}")]
    NoProcess(u32),
    /// ptrace or /proc access was refused.
    #[error("cannot attach to pid {pid}: {reason}; {help}")]
    Permission {
        /// The process.
        pid: u32,
        /// The OS error.
        reason: String,
        /// What to do about it.
        help: String,
    },
    /// Another OS failure.
    #[error("cannot read pid {pid}: {reason}")]
    Os {
        /// The process.
        pid: u32,
        /// The OS error.
        reason: String,
    },
}

/// Reads another process's memory with `process_vm_readv`.
#[derive(Debug, Clone, Copy)]
struct VmReader {
    pid: u32,
}

/// The most memory cached per stop (the pages a walk touches are a few hundred KB).
const CACHE_BYTES: usize = 64 << 20;

/// A running process.
pub struct LiveProcess {
    pid: u32,
    reader: VmReader,
    /// While stopped, memory cannot change: pages are read once.
    cache: Option<PageCache>,
    threads: Vec<ThreadInfo>,
    mappings: Vec<FileMapping>,
    /// Every mapping's range (`/proc/PID/maps`) with its permissions (`r-xp`), sorted.
    regions: Vec<(std::ops::Range<u64>, String)>,
    /// When it was attached.
    attached: std::time::SystemTime,
    exe: Option<String>,
    /// Taken (the process detached) by [`LiveProcess::resume`], which needs only `&self`
    /// so that an analysis borrowing the process can resume it as soon as it is done
    /// reading.
    guard: std::sync::Mutex<Option<StopGuard>>,
    /// Threads that did not stop when asked (uninterruptible sleep), with their state.
    unstopped: Vec<(u32, char)>,
    /// Whether the threads are stopped (the page cache is valid), without a lock per read.
    stopped: std::sync::atomic::AtomicBool,
    /// The fatal signal a traced thread was stopped with (`pycoroner run`).
    signal: Option<crate::SignalInfo>,
}

impl std::fmt::Debug for LiveProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveProcess").field("pid", &self.pid).field("threads", &self.threads.len()).finish()
    }
}

fn permission_help(pid: u32) -> String {
    let scope = fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").map(|s| s.trim().to_string()).ok();
    let me = std::process::id().to_string();
    let tracer = fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("TracerPid:")).map(|l| l["TracerPid:".len()..].trim().to_string()))
        .filter(|t| t != "0" && *t != me);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    match (tracer, scope.as_deref()) {
        (Some(t), _) => format!("process {t} is already tracing it (detach gdb/strace first, or use --nonblocking)"),
        (None, Some("3")) => "kernel.yama.ptrace_scope is 3: no process can be attached until reboot; use --nonblocking".to_string(),
        (None, _) if root => {
            "even root may not trace it here (a seccomp filter, a container without CAP_SYS_PTRACE, or a Linux security module); try --nonblocking".to_string()
        }
        (None, Some(s)) if s != "0" => format!(
            "kernel.yama.ptrace_scope is {s}: run as root or with CAP_SYS_PTRACE, or `sysctl kernel.yama.ptrace_scope=0`"
        ),
        _ => "run as the process's user or as root (CAP_SYS_PTRACE)".to_string(),
    }
}

fn zombie(pid: u32) -> LiveError {
    LiveError::Os { pid, reason: "the process has exited (a zombie its parent has not reaped): there is nothing to read".into() }
}

/// The one-letter state of a process or thread (`/proc/PID/stat`'s third field).
pub(crate) fn proc_state(path: &str) -> Option<char> {
    let stat = fs::read_to_string(path).ok()?;
    // The command name, in parentheses, may hold anything: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

pub(crate) fn os_err(pid: u32, e: std::io::Error) -> LiveError {
    match e.raw_os_error() {
        Some(libc::ESRCH) | Some(libc::ENOENT) => LiveError::NoProcess(pid),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            LiveError::Permission { pid, reason: e.to_string(), help: permission_help(pid) }
        }
        _ => LiveError::Os { pid, reason: e.to_string() },
    }
}

/// One line of `/proc/PID/maps` (also a minidump's copy of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsLine<'a> {
    /// The mapping's addresses.
    pub range: std::ops::Range<u64>,
    /// `r-xp`; `----` when the field is not four ASCII characters.
    pub perms: &'a str,
    /// The file offset, when the field is there and hexadecimal.
    pub offset: Option<u64>,
    /// The inode field, when there.
    pub inode: Option<&'a str>,
    /// The path field (leading spaces and a ` (deleted)` suffix taken off), when there.
    pub path: Option<&'a str>,
}

/// Split one `/proc/PID/maps` line; `None` when it does not start with a hexadecimal
/// `start-end` range.
pub fn parse_maps_line(line: &str) -> Option<MapsLine<'_>> {
    let mut it = line.splitn(6, ' ');
    let (start, end) = it.next()?.split_once('-')?;
    let range = u64::from_str_radix(start, 16).ok()?..u64::from_str_radix(end, 16).ok()?;
    let perms = it.next().filter(|p| p.len() == 4 && p.is_ascii()).unwrap_or("----");
    let offset = it.next().and_then(|o| u64::from_str_radix(o, 16).ok());
    let _dev = it.next();
    let inode = it.next();
    let path = it.next().map(|p| {
        let p = p.trim_start();
        p.strip_suffix(" (deleted)").unwrap_or(p)
    });
    Some(MapsLine { range, perms, offset, inode, path })
}

/// Parse `/proc/PID/maps` into file-backed mappings.
pub fn parse_maps(text: &str) -> Vec<FileMapping> {
    text.lines()
        .filter_map(parse_maps_line)
        .filter_map(|l| match (l.offset, l.inode, l.path) {
            (Some(file_offset), Some(inode), Some(path)) if inode != "0" && path.starts_with('/') => {
                Some(FileMapping { start: l.range.start, end: l.range.end, file_offset, path: path.to_string() })
            }
            _ => None,
        })
        .collect()
}

/// Every mapping's address range in `/proc/PID/maps` with its permissions (`r-xp`),
/// sorted.
pub fn parse_map_regions(text: &str) -> Vec<(std::ops::Range<u64>, String)> {
    let mut out: Vec<(std::ops::Range<u64>, String)> = text.lines().filter_map(parse_maps_line).map(|l| (l.range, l.perms.to_string())).collect();
    out.sort_by_key(|(r, _)| r.start);
    out
}

pub(crate) fn list_tids(pid: u32) -> Result<Vec<u32>, LiveError> {
    let rd = fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| os_err(pid, e))?;
    let mut tids: Vec<u32> = rd.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    tids.sort_unstable();
    // The main thread (tid == pid) first, like a core's first NT_PRSTATUS.
    if let Some(i) = tids.iter().position(|&t| t == pid) {
        tids.swap(0, i);
    }
    Ok(tids)
}

/// Every thread of a process, seized and stopped; detached on drop.
#[derive(Debug)]
pub struct StopGuard {
    pid: u32,
    seized: Vec<u32>,
    /// Seized threads that did not stop within [`STOP_DEADLINE`] (uninterruptible sleep):
    /// their registers are unknown.
    unstopped: Vec<(u32, char)>,
    stopped_at: Instant,
}

/// How long all threads together may take to stop (a loaded machine may be slow to
/// schedule them). A thread in uninterruptible sleep (a vfork parent, a hung NFS read)
/// does not stop until it wakes: once only such threads are left, they are given
/// [`D_STATE_GRACE`], then left to run and reported, and the rest are read.
pub const STOP_DEADLINE: Duration = Duration::from_secs(1);
/// How long threads that /proc shows in uninterruptible sleep are waited for.
pub const D_STATE_GRACE: Duration = Duration::from_millis(50);

impl StopGuard {
    /// Seize and interrupt every thread, waiting until each is stopped. Threads that
    /// appear while this runs are seized too (bounded rounds).
    pub fn stop(pid: u32) -> Result<StopGuard, LiveError> {
        if proc_state(&format!("/proc/{pid}/stat")) == Some('Z') {
            return Err(zombie(pid));
        }
        let mut guard = StopGuard { pid, seized: Vec::new(), unstopped: Vec::new(), stopped_at: Instant::now() };
        for _round in 0..8 {
            let tids = list_tids(pid)?;
            let new: Vec<u32> = tids.into_iter().filter(|t| !guard.seized.contains(t)).collect();
            if new.is_empty() {
                break;
            }
            for tid in new {
                // SAFETY: plain ptrace requests on a tid; no memory is passed.
                let r = unsafe { libc::ptrace(libc::PTRACE_SEIZE, tid as libc::pid_t, 0usize, 0usize) };
                if r != 0 {
                    let e = std::io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::ESRCH) {
                        continue; // the thread exited meanwhile
                    }
                    return Err(os_err(pid, e));
                }
                guard.seized.push(tid);
                // SAFETY: as above.
                unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, tid as libc::pid_t, 0usize, 0usize) };
            }
        }
        guard.unstopped = wait_for_stops(pid, guard.seized.clone(), guard.stopped_at, poll_stopped);
        if guard.seized.is_empty() {
            return Err(LiveError::NoProcess(pid));
        }
        Ok(guard)
    }

    /// Threads that did not stop in time, with their state letter (`D`).
    pub fn unstopped(&self) -> &[(u32, char)] {
        &self.unstopped
    }

    /// The registers of a stopped thread.
    pub fn registers(&self, tid: u32) -> Option<Registers> {
        if !self.seized.contains(&tid) || self.unstopped.iter().any(|(t, _)| *t == tid) {
            return None;
        }
        tracee_registers(tid)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How long the threads have been stopped so far, counted from before the first
    /// one was interrupted.
    pub fn stopped_for(&self) -> Duration {
        self.stopped_at.elapsed()
    }
}

/// Wait until each thread of `pending` (interrupted at `since`) is stopped, as
/// `stopped(tid)` says (polled; it must not block), sleeping a little longer between
/// polls each time. A thread in uninterruptible sleep never gets there and must not
/// hold the others stopped: once only such threads are left past [`D_STATE_GRACE`],
/// or anything is left at [`STOP_DEADLINE`], those are given up on. Returns them, with
/// their state letter.
pub(crate) fn wait_for_stops(pid: u32, mut pending: Vec<u32>, since: Instant, mut stopped: impl FnMut(u32) -> bool) -> Vec<(u32, char)> {
    let mut pause = Duration::from_micros(20);
    loop {
        pending.retain(|&tid| !stopped(tid));
        if pending.is_empty() {
            return Vec::new();
        }
        // /proc is asked only past the grace period: every poll before it is time the
        // process spends stopped.
        let waited = since.elapsed();
        if waited >= D_STATE_GRACE {
            let states: Vec<char> = pending.iter().map(|t| proc_state(&format!("/proc/{pid}/task/{t}/stat")).unwrap_or('?')).collect();
            if waited >= STOP_DEADLINE || states.iter().all(|&s| s == 'D') {
                return pending.into_iter().zip(states).collect();
            }
        }
        std::thread::sleep(pause);
        pause = pause.saturating_mul(2).min(Duration::from_millis(2));
    }
}

/// The registers of a thread this process traces and holds in a ptrace stop (only the
/// tracing thread may ask).
pub(crate) fn tracee_registers(tid: u32) -> Option<Registers> {
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    // SAFETY: PTRACE_GETREGS writes one user_regs_struct into `regs`.
    let r = unsafe { libc::ptrace(libc::PTRACE_GETREGS, tid as libc::pid_t, 0usize, &mut regs as *mut libc::user_regs_struct) };
    if r != 0 {
        return None;
    }
    let raw = [
        regs.r15, regs.r14, regs.r13, regs.r12, regs.rbp, regs.rbx, regs.r11, regs.r10, regs.r9, regs.r8, regs.rax,
        regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.orig_rax, regs.rip, regs.cs, regs.eflags, regs.rsp, regs.ss,
        regs.fs_base, regs.gs_base, regs.ds, regs.es, regs.fs, regs.gs,
    ];
    Some(Registers::from_user_regs(raw))
}

/// True once `tid` is in its interrupt stop (or gone); never blocks.
fn poll_stopped(tid: u32) -> bool {
    let mut status = 0;
    // Bounded: signal-delivery stops are passed on (they re-queue), then polled again.
    for _ in 0..64 {
        // SAFETY: waitpid on a tid we trace, writing an int status; __WALL for non-leader
        // threads, WNOHANG so a thread that cannot stop does not block us.
        let r = unsafe { libc::waitpid(tid as libc::pid_t, &mut status, libc::__WALL | libc::WNOHANG) };
        if r < 0 {
            return true; // gone
        }
        if r == 0 {
            return false;
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return true;
        }
        if libc::WIFSTOPPED(status) {
            // A PTRACE_INTERRUPT stop is a PTRACE_EVENT_STOP; any other signal-delivery
            // stop is re-injected now, and the thread interrupted again.
            if (status >> 16) == libc::PTRACE_EVENT_STOP {
                return true;
            }
            // SAFETY: resume with the pending signal and interrupt again.
            unsafe {
                libc::ptrace(libc::PTRACE_CONT, tid as libc::pid_t, 0usize, libc::WSTOPSIG(status) as usize);
                libc::ptrace(libc::PTRACE_INTERRUPT, tid as libc::pid_t, 0usize, 0usize);
            }
        }
    }
    false
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        for &tid in &self.seized {
            // SAFETY: detach a tid we seized; errors (thread gone) are irrelevant.
            let r = unsafe { libc::ptrace(libc::PTRACE_DETACH, tid as libc::pid_t, 0usize, 0usize) };
            if r != 0 && self.unstopped.iter().any(|(t, _)| *t == tid) {
                // Still not stopped (so not detachable): if it stopped meanwhile, detach
                // it now. If not, its interrupt is pending: it stops when it wakes, and
                // the kernel lets it go when this process exits (the CLI exits next).
                let mut status = 0;
                // SAFETY: non-blocking waitpid and detach on a tid we seized.
                unsafe {
                    if libc::waitpid(tid as libc::pid_t, &mut status, libc::__WALL | libc::WNOHANG) > 0 {
                        libc::ptrace(libc::PTRACE_DETACH, tid as libc::pid_t, 0usize, 0usize);
                    }
                }
            }
        }
    }
}

impl LiveProcess {
    /// Open a process. With `stop`, every thread is seized and stopped until this value
    /// is dropped (or [`LiveProcess::resume`] is called); without, reads race the process.
    pub fn attach(pid: u32, stop: bool) -> Result<LiveProcess, LiveError> {
        if !PathBuf::from(format!("/proc/{pid}")).is_dir() {
            return Err(LiveError::NoProcess(pid));
        }
        if proc_state(&format!("/proc/{pid}/stat")) == Some('Z') {
            return Err(zombie(pid));
        }
        let maps = fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|e| os_err(pid, e))?;
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| p.display().to_string());
        let guard = if stop { Some(StopGuard::stop(pid)?) } else { None };
        let tids = list_tids(pid)?;
        let threads = tids
            .into_iter()
            .map(|tid| ThreadInfo {
                tid,
                cursig: 0,
                regs: guard.as_ref().and_then(|g| g.registers(tid)).unwrap_or_default(),
            })
            .collect();
        let cache = guard.as_ref().map(|_| PageCache::new(CACHE_BYTES));
        let unstopped = guard.as_ref().map(|g| g.unstopped().to_vec()).unwrap_or_default();
        let p = LiveProcess {
            pid,
            reader: VmReader { pid },
            cache,
            threads,
            mappings: parse_maps(&maps),
            regions: parse_map_regions(&maps),
            attached: std::time::SystemTime::now(),
            exe,
            stopped: std::sync::atomic::AtomicBool::new(guard.is_some()),
            guard: std::sync::Mutex::new(guard),
            unstopped,
            signal: None,
        };
        // Probe one read so a refused process_vm_readv is reported now, clearly.
        if let Some(m) = p.mappings.first() {
            let mut b = [0u8; 1];
            if let Err(ReadError::Os { reason, .. }) = p.read_exact(RemoteAddr(m.start), &mut b) {
                if reason.contains("not permitted") {
                    return Err(LiveError::Permission { pid, reason, help: permission_help(pid) });
                }
            }
        }
        Ok(p)
    }

    /// A process whose threads this process already traces and holds stopped (the
    /// tracer of `pycoroner run`): `threads` with the registers read in their stops,
    /// the thread that took `signal` first. Nothing is detached on drop; the tracer
    /// resumes the threads once the process is read.
    pub fn traced(pid: u32, threads: Vec<ThreadInfo>, signal: Option<crate::SignalInfo>, unstopped: Vec<(u32, char)>) -> Result<LiveProcess, LiveError> {
        let maps = fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|e| os_err(pid, e))?;
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| p.display().to_string());
        Ok(LiveProcess {
            pid,
            reader: VmReader { pid },
            cache: Some(PageCache::new(CACHE_BYTES)),
            threads,
            mappings: parse_maps(&maps),
            regions: parse_map_regions(&maps),
            attached: std::time::SystemTime::now(),
            exe,
            stopped: std::sync::atomic::AtomicBool::new(true),
            guard: std::sync::Mutex::new(None),
            unstopped,
            signal,
        })
    }

    /// Stop every thread now (if not already) and read their registers.
    pub fn stop(&mut self) -> Result<(), LiveError> {
        let guard_slot = self.guard.get_mut().unwrap_or_else(|e| e.into_inner());
        if guard_slot.is_none() {
            let guard = StopGuard::stop(self.pid)?;
            self.threads = list_tids(self.pid)?
                .into_iter()
                .map(|tid| ThreadInfo { tid, cursig: 0, regs: guard.registers(tid).unwrap_or_default() })
                .collect();
            self.unstopped = guard.unstopped().to_vec();
            *guard_slot = Some(guard);
            *self.stopped.get_mut() = true;
            self.cache = Some(PageCache::new(CACHE_BYTES));
        }
        Ok(())
    }

    /// Let the process run again (detach), keeping what was read.
    pub fn resume(&self) -> Option<Duration> {
        let mut slot = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        self.stopped.store(false, std::sync::atomic::Ordering::SeqCst);
        let paused = slot.as_ref().map(|g| g.stopped_for());
        // Dropping the guard detaches every thread.
        *slot = None;
        paused
    }

    fn stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl Memory for LiveProcess {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        // Once running again its memory changes: the cache is valid only while stopped.
        match self.cache.as_ref().filter(|_| self.stopped()) {
            Some(c) => c.read_through(&self.reader, addr, buf),
            None => self.reader.read_exact(addr, buf),
        }
    }
}

impl Memory for VmReader {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        if buf.is_empty() {
            return Ok(());
        }
        let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let remote = libc::iovec { iov_base: addr.0 as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: `local` describes our own writable buffer of exactly buf.len() bytes.
        let n = unsafe { libc::process_vm_readv(self.pid as libc::pid_t, &local, 1, &remote, 1, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EFAULT) => ReadError::Unmapped { addr },
                _ => ReadError::Os { addr, reason: e.to_string() },
            });
        }
        if n as usize != buf.len() {
            return Err(ReadError::Unmapped { addr: RemoteAddr(addr.0.wrapping_add(n as u64)) });
        }
        Ok(())
    }
}

impl crate::Target for LiveProcess {
    fn threads(&self) -> Vec<ThreadInfo> {
        self.threads.clone()
    }
    fn signal(&self) -> Option<crate::SignalInfo> {
        self.signal
    }
    fn mappings(&self) -> Vec<FileMapping> {
        self.mappings.clone()
    }
    fn taken_at(&self) -> Option<std::time::SystemTime> {
        Some(self.attached)
    }
    fn region(&self, addr: u64) -> Option<std::ops::Range<u64>> {
        let i = self.regions.partition_point(|(r, _)| r.start <= addr);
        self.regions.get(i.checked_sub(1)?).map(|(r, _)| r).filter(|r| addr < r.end).cloned()
    }
    fn regions(&self) -> Vec<(std::ops::Range<u64>, String)> {
        self.regions.clone()
    }
    fn open_file(&self, path: &str) -> Result<crate::OpenedFile, crate::FileError> {
        // The process's own view of the file system (containers, chroots), with its
        // links resolved inside that root.
        let root = PathBuf::from(format!("/proc/{}/root", self.pid));
        crate::files::open_confined(Some(&root), path, crate::files::MAX_FILE)
    }
    fn executable(&self) -> Option<String> {
        self.exe.clone()
    }
    fn pid(&self) -> Option<u32> {
        Some(self.pid)
    }
    fn command_line(&self) -> Option<String> {
        let raw = fs::read(format!("/proc/{}/cmdline", self.pid)).ok()?;
        let args: Vec<String> = raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        (!args.is_empty()).then(|| args.join(" "))
    }
    fn describe(&self) -> String {
        format!("process {}", self.pid)
    }
    fn warnings(&self) -> Vec<String> {
        self.unstopped
            .iter()
            .map(|(tid, state)| {
                format!(
                    "thread LWP {tid} did not stop within {} ms (state {state}{}): its registers and native stack are unknown, and it was read while running; the other threads were resumed on time",
                    if *state == 'D' { D_STATE_GRACE.as_millis() } else { STOP_DEADLINE.as_millis() },
                    if *state == 'D' { ", uninterruptible sleep" } else { "" }
                )
            })
            .collect()
    }
    fn kind(&self) -> crate::TargetKind {
        crate::TargetKind::Process
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_file_backed_lines_only() {
        let text = "55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 123 /usr/bin/python3.12\n\
                    7f00-7f10 rw-p 00000000 00:00 0 \n\
                    7f10-7f20 r-xp 00002000 fd:01 456 /lib/x (deleted)\n\
                    7ffd-7ffe rw-p 00000000 00:00 0 [stack]\n\
                    garbage\n";
        let m = parse_maps(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].path, "/usr/bin/python3.12");
        assert_eq!(m[1], FileMapping { start: 0x7f10, end: 0x7f20, file_offset: 0x2000, path: "/lib/x".into() });
        // Every line with a range is a region, with its permissions.
        let r = parse_map_regions(text);
        assert_eq!(r.iter().map(|(r, p)| (r.start, p.as_str())).collect::<Vec<_>>(), [(0x7f00, "rw-p"), (0x7f10, "r-xp"), (0x7ffd, "rw-p"), (0x55d0c0a00000, "r--p")]);
    }
}
