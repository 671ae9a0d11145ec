//! Decoding of the ELF core notes we use: NT_PRSTATUS, NT_SIGINFO, NT_FILE, NT_AUXV,
//! NT_PRPSINFO (x86_64 Linux layouts, from the kernel's `elf_prstatus`/`siginfo_t`).
//!
//! Every decoder takes raw descriptor bytes and returns `None` when they are too short;
//! counts from the note are capped by the descriptor's size before anything is allocated.

/// One thread as the kernel recorded it (NT_PRSTATUS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    /// Kernel thread id (LWP).
    pub tid: u32,
    /// The signal this thread was stopped with (`pr_cursig`).
    pub cursig: u16,
    /// General purpose registers.
    pub regs: Registers,
}

/// x86_64 `user_regs_struct`, the registers we name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Registers {
    /// Instruction pointer.
    pub rip: u64,
    /// Stack pointer.
    pub rsp: u64,
    /// Frame pointer.
    pub rbp: u64,
    /// Thread pointer (`fs_base`); on glibc equal to the `pthread_t` of the thread.
    pub fs_base: u64,
    /// All 27 registers of `user_regs_struct` in kernel order.
    pub raw: [u64; 27],
}

impl Registers {
    /// From the 27 registers of `user_regs_struct`, in kernel order: r15 r14 r13 r12
    /// rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base
    /// gs_base ds es fs gs.
    pub fn from_user_regs(raw: [u64; 27]) -> Registers {
        Registers { rbp: raw[4], rip: raw[16], rsp: raw[19], fs_base: raw[21], raw }
    }
}

/// Offset of `pr_reg` inside `struct elf_prstatus` on x86_64.
const PR_REG: usize = 112;

pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off.checked_add(2)?)?.try_into().ok()?))
}
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off.checked_add(4)?)?.try_into().ok()?))
}
pub(crate) fn i32_at(b: &[u8], off: usize) -> Option<i32> {
    u32_at(b, off).map(|v| v as i32)
}
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off.checked_add(8)?)?.try_into().ok()?))
}

/// Decode NT_PRSTATUS.
pub fn parse_prstatus(desc: &[u8]) -> Option<ThreadInfo> {
    let cursig = u16_at(desc, 12)?;
    let tid = u32_at(desc, 32)?;
    let mut raw = [0u64; 27];
    for (i, r) in raw.iter_mut().enumerate() {
        *r = u64_at(desc, i.checked_mul(8)?.checked_add(PR_REG)?)?;
    }
    Some(ThreadInfo { tid, cursig, regs: Registers::from_user_regs(raw) })
}

/// The fatal signal (NT_SIGINFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalInfo {
    /// Signal number.
    pub signo: i32,
    /// `si_code`.
    pub code: i32,
    /// Faulting address, for SIGSEGV/SIGBUS/SIGILL/SIGFPE raised by the kernel.
    pub addr: Option<u64>,
    /// Process that sent the signal, when it was sent (`kill`, `tgkill`, `raise`:
    /// `si_code <= 0`), e.g. faulthandler re-raising the fault after its dump.
    pub sender_pid: Option<u32>,
    /// SIGSYS from seccomp (`SYS_SECCOMP`): the refused system call's number.
    pub syscall: Option<i32>,
}

/// Decode NT_SIGINFO.
pub fn parse_siginfo(desc: &[u8]) -> Option<SignalInfo> {
    let signo = i32_at(desc, 0)?;
    let code = i32_at(desc, 8)?;
    let mut info = SignalInfo::new(signo, code, u64_at(desc, 16), u32_at(desc, 16));
    // SIGSYS's union: si_call_addr, then si_syscall (include/uapi/asm-generic/siginfo.h).
    if signo == 31 && code == 1 {
        info.syscall = i32_at(desc, 24);
    }
    Some(info)
}

impl SignalInfo {
    /// A signal as `siginfo_t` describes it; `fault_addr` and `sender_pid` are the two
    /// readings of its union, of which `si_code` says which holds: a fault's address
    /// when the kernel raised SIGILL, SIGBUS, SIGFPE or SIGSEGV (`si_code > 0`), the
    /// sender when a process sent it (`si_code <= 0`).
    pub fn new(signo: i32, code: i32, fault_addr: Option<u64>, sender_pid: Option<u32>) -> SignalInfo {
        let has_addr = code > 0 && matches!(signo, 4 | 7 | 8 | 11);
        SignalInfo { signo, code, addr: fault_addr.filter(|_| has_addr), sender_pid: sender_pid.filter(|_| code <= 0), syscall: None }
    }
}

/// One file-backed mapping (NT_FILE entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Offset in the file, in bytes.
    pub file_offset: u64,
    /// Path as the kernel recorded it.
    pub path: String,
}

/// Decode NT_FILE. Entries whose fields overflow are dropped.
pub fn parse_nt_file(desc: &[u8]) -> Option<Vec<FileMapping>> {
    let count = u64_at(desc, 0)?;
    let page_size = u64_at(desc, 8)?;
    // Each entry takes 24 bytes, so the descriptor bounds the count.
    let max = (desc.len() as u64).saturating_sub(16) / 24;
    if count > max {
        return None;
    }
    let count = count as usize;
    let names_start = 16usize.checked_add(count.checked_mul(24)?)?;
    let mut names = desc.get(names_start..)?.split(|&b| b == 0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        // Inside the table: names_start, checked above, is past every entry.
        let base = i.checked_mul(24)?.checked_add(16)?;
        let start = u64_at(desc, base)?;
        let end = u64_at(desc, base.checked_add(8)?)?;
        let pgoff = u64_at(desc, base.checked_add(16)?)?;
        let name = names.next()?;
        let Some(file_offset) = pgoff.checked_mul(page_size) else { continue };
        if end < start {
            continue;
        }
        out.push(FileMapping {
            start,
            end,
            file_offset,
            path: String::from_utf8_lossy(name).into_owned(),
        });
    }
    Some(out)
}

/// Decode NT_AUXV into (type, value) pairs, stopping at AT_NULL.
pub fn parse_auxv(desc: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for pair in desc.chunks_exact(16) {
        let (Some(k), Some(v)) = (u64_at(pair, 0), u64_at(pair, 8)) else { break };
        if k == 0 {
            break;
        }
        out.push((k, v));
    }
    out
}

/// Process name and arguments (NT_PRPSINFO), as the kernel truncated them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// `pr_fname`, at most 16 bytes.
    pub fname: String,
    /// `pr_psargs`, at most 80 bytes.
    pub psargs: String,
}

/// Decode NT_PRPSINFO.
pub fn parse_prpsinfo(desc: &[u8]) -> Option<ProcessInfo> {
    let pid = u32_at(desc, 24)?;
    let cstr = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(b.get(..end).unwrap_or_default()).trim_end().to_string()
    };
    let fname = cstr(desc.get(40..56)?);
    let psargs = cstr(desc.get(56..136)?);
    Some(ProcessInfo { pid, fname, psargs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_file_count_is_bounded_by_descriptor() {
        let mut d = vec![0u8; 16];
        d[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(parse_nt_file(&d), None);
    }

    #[test]
    fn nt_file_decodes_entries_and_names() {
        let mut d = Vec::new();
        d.extend_from_slice(&1u64.to_le_bytes());
        d.extend_from_slice(&4096u64.to_le_bytes());
        d.extend_from_slice(&0x1000u64.to_le_bytes());
        d.extend_from_slice(&0x3000u64.to_le_bytes());
        d.extend_from_slice(&2u64.to_le_bytes());
        d.extend_from_slice(b"/lib/x.so\0");
        let m = parse_nt_file(&d).expect("decodes");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].file_offset, 8192);
        assert_eq!(m[0].path, "/lib/x.so");
    }

    #[test]
    fn short_descriptors_are_rejected() {
        assert_eq!(parse_prstatus(&[0u8; 100]), None);
        assert_eq!(parse_siginfo(&[0u8; 4]), None);
        assert_eq!(parse_prpsinfo(&[0u8; 50]), None);
        assert!(parse_auxv(&[1u8; 7]).is_empty());
    }
}
