//! A read-through page cache for any [`Memory`]: while a live process is stopped its
//! memory cannot change, so each page is fetched once (one `process_vm_readv`) and the
//! many small reads of a stack walk are served from the copy. Bounded in size.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::memory::{Memory, ReadError, RemoteAddr};

/// Cache granularity: small enough that a lone struct read stays cheap, large enough
/// that neighbouring frames and fields share one read.
const PAGE: u64 = 1024;

/// Whole pages read from some [`Memory`], kept for reuse.
#[derive(Debug)]
pub struct PageCache {
    pages: Mutex<HashMap<u64, Option<Box<[u8]>>>>,
    max_pages: usize,
}

impl PageCache {
    /// A cache holding at most `max_bytes` of pages; past that, reads go straight through.
    pub fn new(max_bytes: usize) -> Self {
        PageCache { pages: Mutex::new(HashMap::new()), max_pages: max_bytes.checked_div(PAGE as usize).unwrap_or(0) }
    }

    fn page(&self, inner: &dyn Memory, base: u64) -> Option<Box<[u8]>> {
        if let Some(p) = self.pages.lock().ok()?.get(&base) {
            return p.clone();
        }
        let mut buf = vec![0u8; PAGE as usize].into_boxed_slice();
        let got = inner.read_exact(RemoteAddr(base), &mut buf).ok().map(|()| buf);
        if let Ok(mut pages) = self.pages.lock() {
            if pages.len() < self.max_pages {
                pages.insert(base, got.clone());
            }
        }
        got
    }

    /// Read through the cache from `inner`. Large reads, and reads from pages that are
    /// not whole-readable (the end of a mapping), go to `inner` as they are.
    pub fn read_through(&self, inner: &dyn Memory, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
        if buf.len() as u64 > 4 * PAGE {
            return inner.read_exact(addr, buf);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.0.checked_add(done as u64).ok_or(ReadError::Unmapped { addr })?;
            let base = a & !(PAGE - 1);
            let off = (a & (PAGE - 1)) as usize;
            let n = (PAGE as usize).saturating_sub(off).min(buf.len().saturating_sub(done));
            let rest = buf.get_mut(done..).unwrap_or_default();
            match self.page(inner, base) {
                Some(p) => match (rest.get_mut(..n), p.get(off..off.saturating_add(n))) {
                    (Some(dst), Some(src)) => dst.copy_from_slice(src),
                    _ => return inner.read_exact(RemoteAddr(a), rest),
                },
                None => return inner.read_exact(RemoteAddr(a), rest),
            }
            done = done.saturating_add(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryExt, SliceMemory};

    struct Cached<'a>(&'a SliceMemory, PageCache);
    impl Memory for Cached<'_> {
        fn read_exact(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), ReadError> {
            self.1.read_through(self.0, addr, buf)
        }
    }

    #[test]
    fn serves_reads_across_pages_and_falls_through_at_mapping_ends() {
        let mut m = SliceMemory::new();
        m.add(0x1000, (0..8192u32).map(|i| i as u8).collect());
        m.add(0x3000, vec![7u8; 10]); // a mapping shorter than a page
        let c = Cached(&m, PageCache::new(1 << 20));
        let mut b = [0u8; 8];
        c.read_exact(RemoteAddr(0x1ffc), &mut b).expect("across a page boundary");
        assert_eq!(b, [0xfc, 0xfd, 0xfe, 0xff, 0, 1, 2, 3]);
        assert_eq!(c.read_u8(RemoteAddr(0x3005)), Ok(7));
        assert!(c.read_u8(RemoteAddr(0x300a)).is_err());
        assert!(c.read_u64(RemoteAddr(0x9000)).is_err());
    }
}
