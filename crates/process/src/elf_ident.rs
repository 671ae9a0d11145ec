//! What identifies an ELF image: its load bias and its GNU build-id, read from the
//! image's first page (ELF header, program headers, notes) wherever those bytes are:
//! the target's memory (the kernel dumps the first page of every ELF mapping) or a
//! file on disk. Comparing the two says whether a file is the one the target mapped.

use crate::memory::{Memory, MemoryExt, RemoteAddr};

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
/// Program headers read at most (cores and binaries have a few dozen).
const MAX_PHNUM: u64 = 256;
/// Note bytes searched at most per PT_NOTE.
const MAX_NOTES: u64 = 4096;

/// Where an image's bytes are read: by address in memory, or by offset in a file.
pub trait ImageBytes {
    /// Fill `buf` from `at` (an address or a file offset); `false` if unavailable.
    fn fill(&self, at: u64, buf: &mut [u8]) -> bool;
    /// True when `at` is an address (notes are then found at `p_vaddr + bias`), false
    /// for a file (at `p_offset`).
    fn in_memory(&self) -> bool;
}

/// A [`Memory`] as image bytes.
pub struct InMemory<'a>(pub &'a dyn Memory);

impl ImageBytes for InMemory<'_> {
    fn fill(&self, at: u64, buf: &mut [u8]) -> bool {
        self.0.read_exact(RemoteAddr(at), buf).is_ok()
    }
    fn in_memory(&self) -> bool {
        true
    }
}

impl ImageBytes for crate::files::FileBytes {
    fn fill(&self, at: u64, buf: &mut [u8]) -> bool {
        self.read_exact_at(at, buf).is_ok()
    }
    fn in_memory(&self) -> bool {
        false
    }
}

/// One program header, the fields we use.
#[derive(Debug, Clone, Copy)]
pub struct Phdr {
    /// `p_type`.
    pub p_type: u32,
    /// `p_flags` (PF_X 1, PF_W 2, PF_R 4).
    pub flags: u32,
    /// `p_offset`.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_filesz`.
    pub filesz: u64,
}

fn u16_of(b: &dyn ImageBytes, at: u64) -> Option<u16> {
    let mut x = [0u8; 2];
    b.fill(at, &mut x).then(|| u16::from_le_bytes(x))
}
fn u32_of(b: &dyn ImageBytes, at: u64) -> Option<u32> {
    let mut x = [0u8; 4];
    b.fill(at, &mut x).then(|| u32::from_le_bytes(x))
}
fn u64_of(b: &dyn ImageBytes, at: u64) -> Option<u64> {
    let mut x = [0u8; 8];
    b.fill(at, &mut x).then(|| u64::from_le_bytes(x))
}

/// The program headers of the 64-bit little-endian ELF image starting at `base`.
pub fn program_headers(b: &dyn ImageBytes, base: u64) -> Option<Vec<Phdr>> {
    let mut magic = [0u8; 5];
    if !b.fill(base, &mut magic) || &magic[..4] != b"\x7FELF" || magic[4] != 2 {
        return None;
    }
    let phoff = u64_of(b, base.checked_add(32)?)?;
    let phentsize = u64::from(u16_of(b, base.checked_add(54)?)?);
    let phnum = u64::from(u16_of(b, base.checked_add(56)?)?);
    if phentsize < 56 || phnum > MAX_PHNUM {
        return None;
    }
    let mut out = Vec::new();
    for i in 0..phnum {
        let p = base.checked_add(phoff.checked_add(i.checked_mul(phentsize)?)?)?;
        out.push(Phdr {
            p_type: u32_of(b, p)?,
            flags: u32_of(b, p.checked_add(4)?)?,
            offset: u64_of(b, p.checked_add(8)?)?,
            vaddr: u64_of(b, p.checked_add(16)?)?,
            filesz: u64_of(b, p.checked_add(32)?)?,
        });
    }
    Some(out)
}

/// The load bias of an image mapped at `base` (AVMA = SVMA + bias), from its headers.
pub fn load_bias(phdrs: &[Phdr], base: u64) -> Option<u64> {
    let first = phdrs.iter().find(|p| p.p_type == PT_LOAD && p.offset == 0)?;
    Some(base.wrapping_sub(first.vaddr & !0xfff))
}

/// NT_GNU_BUILD_ID of the image at `base` (an address for memory, 0 for a file).
pub fn build_id(b: &dyn ImageBytes, base: u64) -> Option<Vec<u8>> {
    let phdrs = program_headers(b, base)?;
    let bias = if b.in_memory() { load_bias(&phdrs, base)? } else { 0 };
    for p in phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
        let at = if b.in_memory() { p.vaddr.wrapping_add(bias) } else { p.offset };
        let len = usize::try_from(p.filesz.min(MAX_NOTES)).ok()?;
        let mut bytes = vec![0u8; len];
        if !b.fill(at, &mut bytes) {
            continue;
        }
        if let Some(id) = build_id_in_notes(&bytes) {
            return Some(id);
        }
    }
    None
}

/// The GNU build-id in a block of ELF notes (4-byte aligned).
pub fn build_id_in_notes(bytes: &[u8]) -> Option<Vec<u8>> {
    let word = |o: usize| -> Option<usize> {
        let b = bytes.get(o..o.checked_add(4)?)?;
        Some(u32::from_le_bytes(b.try_into().ok()?) as usize)
    };
    let mut off = 0usize;
    while off.checked_add(12)? <= bytes.len() {
        let (namesz, descsz, ntype) = (word(off)?, word(off.checked_add(4)?)?, word(off.checked_add(8)?)?);
        let name_start = off.checked_add(12)?;
        let desc_start = name_start.checked_add(namesz.checked_add(3)? & !3)?;
        let next = desc_start.checked_add(descsz.checked_add(3)? & !3)?;
        if ntype == NT_GNU_BUILD_ID as usize && bytes.get(name_start..name_start.checked_add(namesz.min(4))?) == Some(b"GNU\0") {
            return bytes.get(desc_start..desc_start.checked_add(descsz)?).map(<[u8]>::to_vec);
        }
        off = next;
    }
    None
}

/// Build-id of the ELF image mapped at `base` in a target's memory.
pub fn build_id_in_memory(mem: &dyn Memory, base: u64) -> Option<Vec<u8>> {
    build_id(&InMemory(mem), base)
}

/// Load bias of the ELF image mapped at `base` in a target's memory.
pub fn bias_in_memory(mem: &dyn Memory, base: u64) -> Option<u64> {
    load_bias(&program_headers(&InMemory(mem), base)?, base)
}

/// The first page of the image at `base`, as much of it as is readable in one piece.
pub fn first_page(mem: &dyn Memory, base: u64) -> Option<Vec<u8>> {
    mem.read_vec(RemoteAddr(base), 4096, 4096).ok()
}

/// Why a file is not the image a target mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSameImage {
    /// The target holds neither a build-id nor a first page to compare with.
    NothingToCompare,
    /// The build-ids differ (`found` is the file's, if it has one).
    BuildId {
        /// The target's.
        expected: Vec<u8>,
        /// The file's.
        found: Option<Vec<u8>>,
    },
    /// No build-id, and the first pages differ.
    FirstPage,
}

impl std::fmt::Display for NotSameImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        match self {
            NotSameImage::NothingToCompare => write!(f, "the target holds nothing to check it against (no ELF header dumped)"),
            NotSameImage::BuildId { expected, found } => write!(
                f,
                "is not the file the process mapped (build-id {} on this machine, {} in the target)",
                found.as_deref().map_or_else(|| "none".to_string(), hex),
                hex(expected)
            ),
            NotSameImage::FirstPage => write!(f, "has no build-id and its first page differs from the target's"),
        }
    }
}

/// Whether a file is the image the target mapped: the same GNU build-id as the target
/// records (`expected_id`), or, for an image without one, the same first page. The
/// first pages are read only when there is no build-id: `target_page` from the target,
/// `file_page(n)` the file's first `n` bytes.
pub fn same_image(
    expected_id: Option<&[u8]>,
    file_id: Option<&[u8]>,
    target_page: impl FnOnce() -> Option<Vec<u8>>,
    file_page: impl FnOnce(usize) -> Option<Vec<u8>>,
) -> Result<(), NotSameImage> {
    match expected_id {
        Some(want) if file_id == Some(want) => Ok(()),
        Some(want) => Err(NotSameImage::BuildId { expected: want.to_vec(), found: file_id.map(<[u8]>::to_vec) }),
        None => {
            let page = target_page().ok_or(NotSameImage::NothingToCompare)?;
            match file_page(page.len()) {
                Some(mine) if mine == page => Ok(()),
                _ => Err(NotSameImage::FirstPage),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_image_by_build_id_else_by_first_page() {
        let none = || None;
        assert_eq!(same_image(Some(b"ab"), Some(b"ab"), none, |_| None), Ok(()));
        assert!(matches!(same_image(Some(b"ab"), Some(b"cd"), none, |_| None), Err(NotSameImage::BuildId { .. })));
        assert!(matches!(same_image(Some(b"ab"), None, none, |_| None), Err(NotSameImage::BuildId { found: None, .. })));
        assert_eq!(same_image(None, None, none, |_| None), Err(NotSameImage::NothingToCompare));
        assert_eq!(same_image(None, None, || Some(vec![1, 2]), |n| Some(vec![1, 2, 3][..n].to_vec())), Ok(()));
        assert_eq!(same_image(None, None, || Some(vec![1, 2]), |_| Some(vec![1, 3])), Err(NotSameImage::FirstPage));
    }

    #[test]
    fn garbage_notes_never_panic() {
        assert_eq!(build_id_in_notes(&[]), None);
        assert_eq!(build_id_in_notes(&[0xff; 12]), None);
        let mut n = vec![4, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0];
        n.extend_from_slice(b"GNU\0\xab\xcd\0\0");
        assert_eq!(build_id_in_notes(&n), Some(vec![0xab, 0xcd]));
        n[4] = 0xff;
        assert_eq!(build_id_in_notes(&n), None);
    }
}
