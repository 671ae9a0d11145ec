//! `pycoroner run`: a command and every process it starts, traced with `PTRACE_SEIZE`
//! (fork, vfork, clone and exec followed), so that a process of the tree can be read
//! at the instant a fatal signal is about to be delivered to it, or when the run
//! times out, and then let go exactly as it would have gone without us.
//!
//! - The command is forked, stops itself (`SIGSTOP`) before `exec`, is seized and
//!   continued: nothing it does runs untraced, and its `exec` is its own.
//! - Each new process or thread costs two stops (its parent's event, its own start):
//!   exec and exits cost none.
//! - Every signal is passed on as it came; a fatal one (SIGSEGV, SIGBUS, SIGFPE,
//!   SIGILL, SIGABRT, SIGSYS, SIGTRAP) first stops the process's other threads, hands
//!   the process to the caller to read, resumes the threads and delivers the signal.
//!   A handler that re-raises it (faulthandler) does not make a second report.
//! - One thread waits for everything with `sigtimedwait` on SIGCHLD (ptrace stops and
//!   exits are announced with it), the run's deadline and the signals passed on to
//!   the command (SIGINT, SIGTERM, SIGHUP, SIGQUIT) or asking for a dump.
//! - No `PTRACE_O_EXITKILL`: if pycoroner dies the kernel detaches the tree, which
//!   runs on. No tracee is left in a stop: each is resumed before the next wait.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::live::{list_tids, tracee_registers, wait_for_stops, LiveError, LiveProcess};
use crate::notes::{SignalInfo, ThreadInfo};

/// How the run is watched.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// After this long the tree is read, then stopped.
    pub timeout: Option<Duration>,
    /// How long after SIGTERM (at the timeout) SIGKILL follows.
    pub kill_after: Duration,
    /// A signal to pycoroner that reads every process of the tree without stopping it.
    pub dump_on: Option<i32>,
    /// Fail when the tree cannot be traced, instead of running it untraced.
    pub require_trace: bool,
}

/// Why the caller is handed a stopped process.
#[derive(Debug, Clone)]
pub enum Why {
    /// A fatal signal is about to be delivered to thread `tid`.
    Crash {
        /// The thread that took it.
        tid: u32,
        /// The signal, as the kernel describes it.
        signal: SignalInfo,
    },
    /// The run's `--timeout` expired.
    Timeout,
    /// The dump signal asked for it.
    Dump,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// The timeout expired (the tree was then stopped).
    TimedOut,
}

impl Exit {
    /// The status a shell would give: the code, 128+N for a signal, 124 for a timeout
    /// (as `timeout(1)`).
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => s.saturating_add(128),
            Exit::TimedOut => 124,
        }
    }
}

/// The end of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How the command ended.
    pub exit: Exit,
    /// Why the command ran untraced, if it did.
    pub untraced: Option<String>,
}

/// Why the command could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Not found on PATH (exit status 127, like a shell).
    #[error("{0}: command not found")]
    NotFound(String),
    /// The system refused to start it.
    #[error("cannot start {program}: {reason}")]
    Spawn {
        /// The command.
        program: String,
        /// The OS error.
        reason: String,
    },
    /// Tracing was refused and `--require-trace` was given.
    #[error("cannot trace the command: {0}")]
    Trace(String),
}

/// Signals whose default action ends the process with a core: read the process first.
pub const FATAL_SIGNALS: [i32; 7] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGABRT, libc::SIGSYS, libc::SIGTRAP];
/// Signals to pycoroner that are passed on to the command.
const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
/// How long the processes SIGKILLed at a timeout are waited for.
const REAP: Duration = Duration::from_secs(1);
/// Most events handled before the deadlines are looked at again.
const MAX_BATCH: usize = 4096;
/// How long the tracer polls for the next stop after one before it sleeps.
const SPIN: Duration = Duration::from_micros(100);

/// The program `execvp` would run: `program` itself if it has a slash, else the first
/// executable file of that name on PATH.
fn resolve(program: &OsStr) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let p = std::path::Path::new(program);
    if program.as_bytes().contains(&b'/') {
        return p.exists().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|c| c.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialize and fill a sigset_t we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// The signal mask and SIGCHLD's action as they were before the run, put back on every
/// way out (and by the child before exec).
struct SavedSignals {
    mask: libc::sigset_t,
    chld: libc::sigaction,
}

impl SavedSignals {
    /// Block `set` in this thread (its signals are waited for) and give SIGCHLD its
    /// default action: ignored (inherited through exec), it would announce none of the
    /// tree's stops.
    fn block(set: &libc::sigset_t) -> SavedSignals {
        // SAFETY: zeroed sigset_t/sigaction are valid values; sigaction and
        // pthread_sigmask write the old ones into them.
        unsafe {
            let mut saved = SavedSignals { mask: std::mem::zeroed(), chld: std::mem::zeroed() };
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGCHLD, &dfl, &mut saved.chld);
            libc::pthread_sigmask(libc::SIG_BLOCK, set, &mut saved.mask);
            saved
        }
    }

    /// Put both back (async-signal-safe: the child calls it between fork and exec).
    fn restore(&self) {
        // SAFETY: plain system calls on values we own.
        unsafe {
            libc::sigaction(libc::SIGCHLD, &self.chld, std::ptr::null_mut());
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.mask, std::ptr::null_mut());
        }
    }
}

impl Drop for SavedSignals {
    fn drop(&mut self) {
        self.restore();
    }
}

/// What a thread is to be resumed with after the caller read its process.
#[derive(Debug, Clone, Copy)]
struct Held {
    tid: u32,
    signal: i32,
    /// It was in (or entering) a group stop: it stays stopped (PTRACE_LISTEN).
    listen: bool,
}

/// True for a group stop of a seized tracee: `PTRACE_EVENT_STOP` with a stopping signal
/// (an interrupt or a new tracee's first stop has SIGTRAP).
fn is_group_stop(status: i32) -> bool {
    status >> 16 == libc::PTRACE_EVENT_STOP && matches!(libc::WSTOPSIG(status), libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}

fn listen(tid: u32) {
    // SAFETY: PTRACE_LISTEN on a seized tracee in group stop; errors are irrelevant.
    unsafe { libc::ptrace(libc::PTRACE_LISTEN, tid as libc::pid_t, 0usize, 0usize) };
}

/// The tracer's view of the tree.
struct Tree {
    root: u32,
    /// Every traced thread → its process (thread group).
    tgid: HashMap<u32, u32>,
    /// Processes already reported for a crash (a re-raised signal is the same crash).
    crashed: BTreeSet<u32>,
    /// Statuses waited for while holding a process, handled by the main loop next.
    deferred: Vec<(u32, i32)>,
    root_exit: Option<Exit>,
}

/// A thread's thread group, from `/proc/TID/status`.
fn tgid_of(tid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Tgid:").and_then(|v| v.trim().parse().ok())))
        .unwrap_or(tid)
}

fn cont(tid: u32, signal: i32) {
    // SAFETY: resume a tid we trace, from a ptrace stop; errors (gone) are irrelevant.
    unsafe { libc::ptrace(libc::PTRACE_CONT, tid as libc::pid_t, 0usize, signal as usize) };
}

fn siginfo(tid: u32, signo: i32) -> SignalInfo {
    let mut raw = [0u8; 128];
    // SAFETY: PTRACE_GETSIGINFO writes one siginfo_t (128 bytes) into `raw`.
    let r = unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, tid as libc::pid_t, 0usize, raw.as_mut_ptr()) };
    if r == 0 {
        if let Some(info) = crate::notes::parse_siginfo(&raw) {
            return info;
        }
    }
    SignalInfo::new(signo, 0, None, None)
}

impl Tree {
    /// Handle one wait status. Every stopped thread is resumed before this returns,
    /// except around `watch`, which runs while the process is held.
    fn handle(&mut self, tid: u32, status: i32, watch: &mut dyn FnMut(LiveProcess, &Why)) {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            if self.tgid.remove(&tid) == Some(tid) {
                // A thread group's leader is reaped last: none of its threads is left
                // (one that exec'd without a report included), and its pid may be
                // reused by a process that is not ours.
                self.tgid.retain(|_, g| *g != tid);
                self.crashed.remove(&tid);
            }
            if tid == self.root {
                self.root_exit = Some(if libc::WIFSIGNALED(status) { Exit::Signal(libc::WTERMSIG(status)) } else { Exit::Code(libc::WEXITSTATUS(status)) });
            }
            return;
        }
        if !libc::WIFSTOPPED(status) {
            return;
        }
        let event = status >> 16;
        let sig = libc::WSTOPSIG(status);
        if let std::collections::hash_map::Entry::Vacant(e) = self.tgid.entry(tid) {
            // A new tracee (a fork, vfork or clone of a traced thread): its first stop
            // is an event stop with SIGTRAP (continued below), or a group stop if one
            // was under way (kept).
            e.insert(tgid_of(tid));
        }
        match event {
            0 if FATAL_SIGNALS.contains(&sig) => {
                let pid = self.tgid.get(&tid).copied().unwrap_or(tid);
                if self.crashed.insert(pid) {
                    self.hold(pid, Why::Crash { tid, signal: siginfo(tid, sig) }, watch);
                }
                cont(tid, sig);
            }
            // Any other signal goes on as it came.
            0 => cont(tid, sig),
            // A group stop: stay stopped as the process would without us.
            _ if is_group_stop(status) => listen(tid),
            // Fork, vfork, clone (the child's own first stop names it), interrupts.
            _ => cont(tid, 0),
        }
    }

    /// Stop every thread of `pid` (but the one that crashed, already stopped), hand the
    /// process to `watch`, resume them.
    fn hold(&mut self, pid: u32, why: Why, watch: &mut dyn FnMut(LiveProcess, &Why)) {
        let crash = match &why {
            Why::Crash { tid, signal } => Some((*tid, *signal)),
            Why::Timeout | Why::Dump => None,
        };
        // Every thread /proc lists: each is ours from its clone on, including one whose
        // first stop has not been waited for yet (created just before the crash); that
        // stop is taken below with the others'.
        let tids: Vec<u32> = match list_tids(pid) {
            Ok(t) => t,
            Err(_) => return,
        };
        for &t in &tids {
            self.tgid.entry(t).or_insert(pid);
        }
        let pending: Vec<u32> = tids.into_iter().filter(|t| Some(*t) != crash.map(|(c, _)| c)).collect();
        for &t in &pending {
            // SAFETY: interrupt a seized tid of ours; no memory is passed.
            unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, t as libc::pid_t, 0usize, 0usize) };
        }
        let mut held: Vec<Held> = Vec::new();
        let deferred = &mut self.deferred;
        let unstopped = wait_for_stops(pid, pending, Instant::now(), |t| {
            let mut status = 0;
            // SAFETY: non-blocking waitpid on a tid we trace.
            let r = unsafe { libc::waitpid(t as libc::pid_t, &mut status, libc::__WALL | libc::WNOHANG) };
            if r == 0 {
                return false;
            }
            if r > 0 && libc::WIFSTOPPED(status) {
                // Resumed as it stopped: a signal it was about to take goes on with
                // it, a thread of a stopped process stays stopped.
                let signal = if status >> 16 == 0 { libc::WSTOPSIG(status) } else { 0 };
                held.push(Held { tid: t, signal, listen: is_group_stop(status) });
            } else if r > 0 {
                deferred.push((t, status));
            }
            true
        });
        let mut threads: Vec<ThreadInfo> = Vec::new();
        if let Some((t, info)) = &crash {
            threads.push(ThreadInfo { tid: *t, cursig: u16::try_from(info.signo).unwrap_or(0), regs: tracee_registers(*t).unwrap_or_default() });
        }
        // The main thread first after the crashed one, like a core.
        held.sort_by_key(|h| (h.tid != pid, h.tid));
        for h in &held {
            threads.push(ThreadInfo { tid: h.tid, cursig: 0, regs: tracee_registers(h.tid).unwrap_or_default() });
        }
        for (t, _) in &unstopped {
            threads.push(ThreadInfo { tid: *t, cursig: 0, regs: Default::default() });
        }
        if let Ok(process) = LiveProcess::traced(pid, threads, crash.map(|(_, s)| s), unstopped) {
            // Whatever happens while reading, the threads are resumed below and the
            // crash signal delivered by the caller.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| watch(process, &why)));
        }
        for h in held {
            if h.listen {
                listen(h.tid);
            } else {
                cont(h.tid, h.signal);
            }
        }
    }

    /// Every process of the tree (thread groups), the root's first.
    fn processes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.tgid.values().copied().collect::<BTreeSet<u32>>().into_iter().collect();
        v.sort_by_key(|&p| (p != self.root, p));
        v
    }
}

/// Run `program args`, traced; `watch` is handed each process of the tree to read
/// while it is held stopped (on a fatal signal, the timeout, or the dump signal).
pub fn run(program: &OsStr, args: &[OsString], options: &RunOptions, watch: &mut dyn FnMut(LiveProcess, &Why)) -> Result<Outcome, RunError> {
    let name = program.to_string_lossy().into_owned();
    let path = resolve(program).ok_or_else(|| RunError::NotFound(name.clone()))?;
    let spawn_err = |reason: String| RunError::Spawn { program: name.clone(), reason };
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| spawn_err("a NUL byte in its path".into()))?;
    let mut c_args = vec![CString::new(program.as_bytes()).map_err(|_| spawn_err("a NUL byte in its name".into()))?];
    for a in args {
        c_args.push(CString::new(a.as_bytes()).map_err(|_| spawn_err("a NUL byte in an argument".into()))?);
    }
    let mut argv: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let fail_msg = format!("pycoroner run: cannot execute {name}\n");

    let mut watched: Vec<i32> = vec![libc::SIGCHLD];
    watched.extend(FORWARDED);
    watched.extend(options.dump_on);
    let set = sigset(&watched);
    let saved = SavedSignals::block(&set);

    // SAFETY: the child runs only async-signal-safe calls (sigaction, sigprocmask,
    // signal, raise, execv, write, _exit) on memory prepared before the fork.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(spawn_err(std::io::Error::last_os_error().to_string()));
    }
    if child == 0 {
        saved.restore();
        // SAFETY: see above; _exit never returns.
        unsafe {
            // Rust ignores SIGPIPE in its own process: the command gets the default, as
            // std::process::Command gives it.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGSTOP);
            libc::execv(c_path.as_ptr(), argv.as_ptr());
            let code = if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) { 127 } else { 126 };
            libc::write(2, fail_msg.as_ptr().cast(), fail_msg.len());
            libc::_exit(code);
        }
    }
    let root = child as u32;
    // Wait for its self-stop, then seize it with the tree's options and let it go on.
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    unsafe { libc::waitpid(child, &mut status, libc::WUNTRACED) };
    // No PTRACE_O_TRACEEXEC: a seized tracee's exec needs no stop to stay traced, and
    // the stop cost a process start 0.1-0.3 ms (bench/run_overhead.sh). A thread that
    // execs takes its group's id, already known.
    let opts = libc::PTRACE_O_TRACEFORK | libc::PTRACE_O_TRACEVFORK | libc::PTRACE_O_TRACECLONE;
    // SAFETY: seize our stopped child; no memory is passed.
    let seized = unsafe { libc::ptrace(libc::PTRACE_SEIZE, child, 0usize, opts as usize) } == 0;
    let untraced = if seized {
        None
    } else {
        let e = std::io::Error::last_os_error();
        let why = match crate::live::os_err(root, e) {
            LiveError::Permission { reason, help, .. } => format!("{reason}; {help}"),
            other => other.to_string(),
        };
        if options.require_trace {
            // SAFETY: kill our own stopped child and reap it.
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, &mut status, 0);
            }
            return Err(RunError::Trace(why));
        }
        Some(why)
    };
    // SAFETY: continue our own child (stopped by its own SIGSTOP).
    unsafe { libc::kill(child, libc::SIGCONT) };

    let mut tree = Tree { root, tgid: HashMap::from([(root, root)]), crashed: BTreeSet::new(), deferred: Vec::new(), root_exit: None };
    // A deadline past what an Instant holds is no deadline.
    let mut deadline = options.timeout.and_then(|t| Instant::now().checked_add(t));
    let mut kill_at: Option<Instant> = None;
    let mut reap_until: Option<Instant> = None;
    let mut timed_out = false;
    loop {
        // Everything that happened, without blocking. Stops come in pairs (a clone's
        // event, then the new thread's first stop): after one, the next is polled for
        // a moment before sleeping, since waking a sleeping tracer costs each stopped
        // thread far longer than the poll. At most MAX_BATCH at a time: a tree that
        // stops without pause still has its deadlines kept.
        let mut last_event = Instant::now();
        for _ in 0..MAX_BATCH {
            if let Some((tid, status)) = tree.deferred.pop() {
                tree.handle(tid, status, watch);
                continue;
            }
            let mut status = 0;
            let flags = if seized { libc::__WALL } else { 0 };
            // SAFETY: waitpid for any child or tracee, writing an int status.
            let r = unsafe { libc::waitpid(-1, &mut status, flags | libc::WNOHANG) };
            if r <= 0 {
                if r == 0 && last_event.elapsed() < SPIN {
                    std::hint::spin_loop();
                    continue;
                }
                break;
            }
            tree.handle(r as u32, status, watch);
            last_event = Instant::now();
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            deadline = None;
            timed_out = true;
            if seized {
                for pid in tree.processes() {
                    tree.hold(pid, Why::Timeout, watch);
                }
            }
            for pid in tree.processes() {
                // SAFETY: signal a live process of the tree (its pid is still its own:
                // a process leaves the tree when it is reaped).
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            }
            kill_at = now.checked_add(options.kill_after);
        } else if kill_at.is_some_and(|k| now >= k) {
            kill_at = None;
            for pid in tree.processes() {
                // SAFETY: as above.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            reap_until = now.checked_add(REAP);
        }
        // Done when the command has ended; after a timeout, once the rest of the tree
        // has too (it must not hold a CI step open): SIGKILLed processes are waited
        // for, a little.
        let rest_done = tree.tgid.is_empty() || (kill_at.is_none() && reap_until.is_none_or(|r| now >= r));
        if tree.root_exit.is_some() && (!timed_out || rest_done) {
            break;
        }
        let next = [deadline, kill_at, reap_until].into_iter().flatten().min();
        let wait = next.map(|n| n.saturating_duration_since(Instant::now()));
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let ts = wait.map(|w| libc::timespec { tv_sec: w.as_secs() as libc::time_t, tv_nsec: w.subsec_nanos() as libc::c_long });
        // SAFETY: wait for one of the blocked signals; `info` is ours to fill.
        let got = unsafe {
            match &ts {
                Some(ts) => libc::sigtimedwait(&set, &mut info, ts),
                None => libc::sigwaitinfo(&set, &mut info),
            }
        };
        if FORWARDED.contains(&got) && info.si_code <= 0 && tree.root_exit.is_none() {
            // Sent to pycoroner (kill, not a terminal's key, which the tree got too).
            // SAFETY: signal our own child, not yet reaped.
            unsafe { libc::kill(child, got) };
        } else if got > 0 && Some(got) == options.dump_on && seized {
            for pid in tree.processes() {
                tree.hold(pid, Why::Dump, watch);
            }
        }
    }
    // Signals that came after the last wait are dropped, not delivered with their
    // default action once unblocked (the command has ended; there is nothing to do).
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: a zero-timeout wait for pending blocked signals; bounded by their count.
    for _ in 0..64 {
        if unsafe { libc::sigtimedwait(&set, &mut info, &zero) } <= 0 {
            break;
        }
    }
    drop(saved);
    let exit = if timed_out { Exit::TimedOut } else { tree.root_exit.unwrap_or(Exit::Code(1)) };
    Ok(Outcome { exit, untraced })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_are_a_shells() {
        assert_eq!(Exit::Code(3).status(), 3);
        assert_eq!(Exit::Signal(11).status(), 139);
        assert_eq!(Exit::TimedOut.status(), 124);
    }

    #[test]
    fn resolve_follows_path_like_execvp() {
        assert!(resolve(OsStr::new("sh")).is_some());
        assert!(resolve(OsStr::new("no-such-command-pycoroner")).is_none());
        assert!(resolve(OsStr::new("/no/such/file")).is_none());
    }
}
