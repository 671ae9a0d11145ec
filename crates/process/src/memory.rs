//! The `Memory` trait: read bytes of the target's address space, failing cleanly.

use std::fmt;

/// An address in the target's address space (never a pointer in ours).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RemoteAddr(pub u64);

impl RemoteAddr {
    /// The null address.
    pub const NULL: RemoteAddr = RemoteAddr(0);

    /// `self + off`, or `None` on overflow.
    pub fn offset(self, off: u64) -> Option<RemoteAddr> {
        self.0.checked_add(off).map(RemoteAddr)
    }

    /// `self + off` for a signed offset, or `None` on overflow.
    pub fn offset_signed(self, off: i64) -> Option<RemoteAddr> {
        self.0.checked_add_signed(off).map(RemoteAddr)
    }

    /// True for the null address.
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for RemoteAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for RemoteAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Why a read of target memory failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// No mapping of the target covers this address.
    #[error("address {addr} is not mapped in the target")]
    Unmapped {
        /// First address that could not be read.
        addr: RemoteAddr,
    },
    /// The address is mapped but its bytes are not available (not dumped, file missing).
    #[error("memory at {addr} was not dumped and its file {file} could not be read")]
    NotDumped {
        /// First address that could not be read.
        addr: RemoteAddr,
        /// The file that should have held it, if known.
        file: String,
    },
    /// A minidump holds only part of a process's memory, and not this.
    #[error("memory at {addr} is not in the minidump {dump} (it holds only part of the process's memory)")]
    NotInDump {
        /// First address that could not be read.
        addr: RemoteAddr,
        /// The minidump's path.
        dump: String,
    },
    /// The read asked for more bytes than the caller's cap allows.
    #[error("refusing to read {len} bytes at {addr} (cap {cap})")]
    TooLarge {
        /// Where the read started.
        addr: RemoteAddr,
        /// Requested length.
        len: u64,
        /// The cap in force.
        cap: u64,
    },
    /// The analysis has read as much as one analysis may ([`Budgeted`]).
    #[error("refusing to read {addr}: this analysis has read its budget of {budget} bytes")]
    BudgetSpent {
        /// Where the read started.
        addr: RemoteAddr,
        /// The budget, in bytes.
        budget: u64,
    },
    /// The live target refused the read (process gone, permission).
    #[error("reading {addr} failed: {reason}")]
    Os {
        /// Where the read started.
        addr: RemoteAddr,
        /// The OS error text.
        reason: String,
    },
}

/// Read access to a target's address space. One required method; everything typed
/// is built on top of it in [`MemoryExt`], through plain little-endian integer decoding
/// (never a `ptr::read` of an arbitrary type).
pub trait Memory {
    /// Fill `buf` with the bytes at `addr`, or fail without a partial result.
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError>;
}

impl<M: Memory + ?Sized> Memory for &M {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        (**self).read_exact(addr, buf)
    }
}

impl<M: Memory + ?Sized> Memory for Box<M> {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        (**self).read_exact(addr, buf)
    }
}

/// Typed reads over any [`Memory`]. All values are little-endian (x86_64, aarch64).
pub trait MemoryExt: Memory {
    /// Read a fixed-size array.
    fn read_array<const N: usize>(&self, addr: RemoteAddr) -> Result<[u8; N], ReadError> {
        let mut b = [0u8; N];
        self.read_exact(addr, &mut b)?;
        Ok(b)
    }
    /// Read a `u8`.
    fn read_u8(&self, addr: RemoteAddr) -> Result<u8, ReadError> {
        Ok(self.read_array::<1>(addr)?[0])
    }
    /// Read a little-endian `u16`.
    fn read_u16(&self, addr: RemoteAddr) -> Result<u16, ReadError> {
        Ok(u16::from_le_bytes(self.read_array(addr)?))
    }
    /// Read a little-endian `u32`.
    fn read_u32(&self, addr: RemoteAddr) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(self.read_array(addr)?))
    }
    /// Read a little-endian `i32`.
    fn read_i32(&self, addr: RemoteAddr) -> Result<i32, ReadError> {
        Ok(i32::from_le_bytes(self.read_array(addr)?))
    }
    /// Read a little-endian `u64`.
    fn read_u64(&self, addr: RemoteAddr) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.read_array(addr)?))
    }
    /// Read a little-endian `i64`.
    fn read_i64(&self, addr: RemoteAddr) -> Result<i64, ReadError> {
        Ok(i64::from_le_bytes(self.read_array(addr)?))
    }
    /// Read a pointer-sized value as an address.
    fn read_ptr(&self, addr: RemoteAddr) -> Result<RemoteAddr, ReadError> {
        self.read_u64(addr).map(RemoteAddr)
    }
    /// Read `len` bytes, refusing lengths above `cap` before allocating.
    fn read_vec(&self, addr: RemoteAddr, len: u64, cap: u64) -> Result<Vec<u8>, ReadError> {
        if len > cap {
            return Err(ReadError::TooLarge { addr, len, cap });
        }
        let n = usize::try_from(len).map_err(|_| ReadError::TooLarge { addr, len, cap })?;
        let mut v = vec![0u8; n];
        self.read_exact(addr, &mut v)?;
        Ok(v)
    }
    /// Read `count` pointers (an array of `PyObject *` or function pointers), refusing
    /// more than `cap` bytes before allocating.
    fn read_ptrs(&self, addr: RemoteAddr, count: u64, cap: u64) -> Result<Vec<RemoteAddr>, ReadError> {
        let raw = self.read_vec(addr, count.saturating_mul(8), cap)?;
        Ok(raw.chunks_exact(8).map(|c| RemoteAddr(<[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes))).collect())
    }
    /// Read a NUL-terminated byte string of at most `max` bytes (without the NUL).
    /// Reads in small chunks so a string at the end of a mapping is still found.
    fn read_cstr(&self, addr: RemoteAddr, max: usize) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        let mut cur = addr;
        while out.len() < max {
            // Read up to the next 64-byte boundary so we never cross a page needlessly.
            let chunk = 64usize.saturating_sub((cur.0 & 63) as usize);
            let mut buf = vec![0u8; chunk];
            match self.read_exact(cur, &mut buf) {
                Ok(()) => {}
                Err(e) => {
                    // Fall back to byte reads for the tail of a mapping.
                    let mut one = [0u8; 1];
                    if self.read_exact(cur, &mut one).is_err() {
                        return Err(e);
                    }
                    if one[0] == 0 {
                        return Ok(out);
                    }
                    out.push(one[0]);
                    cur = cur.offset(1).ok_or(ReadError::Unmapped { addr: cur })?;
                    continue;
                }
            }
            if let Some(nul) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(buf.get(..nul).unwrap_or_default());
                out.truncate(max);
                return Ok(out);
            }
            out.extend_from_slice(&buf);
            cur = cur.offset(chunk as u64).ok_or(ReadError::Unmapped { addr: cur })?;
        }
        out.truncate(max);
        Ok(out)
    }
}

impl<M: Memory + ?Sized> MemoryExt for M {}

/// A [`Memory`] that stops reading after `budget` bytes: every walk has its own cap,
/// and this one bounds them all together for one analysis, whatever the target holds.
pub struct Budgeted<M> {
    inner: M,
    budget: u64,
    left: std::sync::atomic::AtomicU64,
}

impl<M> Budgeted<M> {
    /// Read through `inner`, at most `budget` bytes in all.
    pub fn new(inner: M, budget: u64) -> Self {
        Budgeted { inner, budget, left: std::sync::atomic::AtomicU64::new(budget) }
    }
    /// The wrapped memory.
    pub fn inner(&self) -> &M {
        &self.inner
    }
    /// True once a read was refused for the budget.
    pub fn spent(&self) -> bool {
        self.left.load(std::sync::atomic::Ordering::Relaxed) == 0
    }
}

impl<M: Memory> Memory for Budgeted<M> {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        use std::sync::atomic::Ordering;
        // A load and a store, not a read-modify-write: an analysis reads from one thread,
        // and this is on every read's path.
        let left = self.left.load(Ordering::Relaxed);
        match left.checked_sub(buf.len() as u64) {
            Some(rest) => self.left.store(rest, Ordering::Relaxed),
            None => {
                self.left.store(0, Ordering::Relaxed);
                return Err(ReadError::BudgetSpent { addr, budget: self.budget });
            }
        }
        self.inner.read_exact(addr, buf)
    }
}

/// A `Memory` over a list of (address, bytes) blocks: for unit tests and fuzzing.
#[derive(Default, Clone, Debug)]
pub struct SliceMemory {
    blocks: Vec<(u64, Vec<u8>)>,
}

impl SliceMemory {
    /// An empty address space.
    pub fn new() -> Self {
        Self::default()
    }
    /// Map `bytes` at `addr`.
    pub fn add(&mut self, addr: u64, bytes: Vec<u8>) -> &mut Self {
        self.blocks.push((addr, bytes));
        self
    }
}

impl Memory for SliceMemory {
    fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        for (start, bytes) in &self.blocks {
            let Some(off) = addr.0.checked_sub(*start) else { continue };
            let Ok(off) = usize::try_from(off) else { continue };
            let Some(end) = off.checked_add(buf.len()) else { continue };
            if let Some(src) = bytes.get(off..end) {
                buf.copy_from_slice(src);
                return Ok(());
            }
        }
        Err(ReadError::Unmapped { addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_reads_are_little_endian_and_bounded() {
        let mut m = SliceMemory::new();
        m.add(0x1000, vec![1, 0, 0, 0, 0, 0, 0, 0, b'h', b'i', 0]);
        assert_eq!(m.read_u64(RemoteAddr(0x1000)), Ok(1));
        assert_eq!(m.read_cstr(RemoteAddr(0x1008), 100).as_deref(), Ok(&b"hi"[..]));
        assert!(m.read_u64(RemoteAddr(0x1005)).is_err());
        assert!(matches!(
            m.read_vec(RemoteAddr(0x1000), 1 << 40, 1 << 20),
            Err(ReadError::TooLarge { .. })
        ));
        assert!(m.read_u8(RemoteAddr(u64::MAX)).is_err());
    }

    #[test]
    fn a_budget_bounds_all_reads_together() {
        let mut m = SliceMemory::new();
        m.add(0x1000, vec![1; 4096]);
        let b = Budgeted::new(&m, 100);
        for _ in 0..12 {
            assert!(b.read_u64(RemoteAddr(0x1000)).is_ok());
        }
        assert!(!b.spent());
        assert!(matches!(b.read_u64(RemoteAddr(0x1000)), Err(ReadError::BudgetSpent { budget: 100, .. })));
        assert!(b.spent());
        assert!(b.read_u8(RemoteAddr(0x1000)).is_err());
    }

    #[test]
    fn cstr_stops_at_mapping_end() {
        let mut m = SliceMemory::new();
        m.add(0x2000, b"abc".to_vec());
        // No NUL before the mapping ends: the read fails rather than inventing bytes.
        assert!(m.read_cstr(RemoteAddr(0x2000), 100).is_err());
        assert_eq!(m.read_cstr(RemoteAddr(0x2000), 2).as_deref(), Ok(&b"ab"[..]));
    }
}
