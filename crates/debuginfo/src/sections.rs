//! The DWARF sections of a file, decompressed once per process and shared by every
//! reader: struct layouts, symbolization (addr2line) and call sites (tail calls) each
//! read `.debug_info` of the same debug file, and a distribution's debug files compress
//! it (zlib, `SHF_COMPRESSED`): inflating it is most of a cold analysis's time.
//!
//! A section stored uncompressed is read in place from the file's mapping, never
//! copied ([`SectionBytes`]). A compressed one is decompressed by the first reader that
//! asks for it, or ahead of time by [`prefetch`] on other threads; a reader asking for
//! one being decompressed waits for it instead of doing it again. Only the sections the
//! readers use are read (never the location lists or macros, among the largest).
//!
//! Sections are shared by the file's path and build-id (a file replaced under the same
//! path with other contents has another build-id, or is refused by the caller that
//! checks it); a file with no build-id is never shared. The store keeps at most
//! [`MAX_SHARED`] bytes: past that, sections are decompressed for their reader alone.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use gimli::{LittleEndian, SectionId};
use object::{Object, ObjectSection};

use crate::image::ElfImage;

/// Bytes decompressed (or copied) for the readers here, shared.
pub type Owned = Arc<Vec<u8>>;

/// A section's bytes, as gimli reads them.
pub type R = gimli::EndianReader<LittleEndian, SectionBytes>;

/// A section's bytes for gimli's readers: decompressed ones on the heap, or a stored
/// (uncompressed) section read in place from its file's mapping, with no copy. The
/// store would otherwise copy libpython's 14 MB `.debug_info` into fresh memory for
/// addr2line while the layout scan reads the same bytes mapped.
#[derive(Clone)]
pub struct SectionBytes(Held);

#[derive(Clone)]
enum Held {
    Heap(Owned),
    /// The file's mapping and the section's byte range in it (checked when made).
    Mapped(Arc<ElfImage>, std::ops::Range<usize>),
}

impl SectionBytes {
    /// Bytes on the heap.
    pub fn heap(bytes: Owned) -> SectionBytes {
        SectionBytes(Held::Heap(bytes))
    }
}

impl std::ops::Deref for SectionBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Held::Heap(b) => b,
            Held::Mapped(image, range) => image.data().get(range.clone()).unwrap_or_default(),
        }
    }
}

impl std::fmt::Debug for SectionBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SectionBytes({} bytes)", self.len())
    }
}

// SAFETY: the bytes are a heap allocation an `Arc` owns, or a read-only file mapping an
// `Arc<ElfImage>` owns. Moving or cloning a `SectionBytes` moves or clones the `Arc`
// only: the bytes it derefs to stay where they are, unchanged, while any clone lives.
#[allow(unsafe_code)]
unsafe impl stable_deref_trait::StableDeref for SectionBytes {}
// SAFETY: as above; a clone derefs to the same bytes.
#[allow(unsafe_code)]
unsafe impl stable_deref_trait::CloneStableDeref for SectionBytes {}

/// The sections any reader here uses.
pub const NEEDED: [SectionId; 10] = [
    SectionId::DebugInfo,
    SectionId::DebugAbbrev,
    SectionId::DebugStr,
    SectionId::DebugLine,
    SectionId::DebugLineStr,
    SectionId::DebugStrOffsets,
    SectionId::DebugAddr,
    SectionId::DebugAranges,
    SectionId::DebugRanges,
    SectionId::DebugRngLists,
];

/// What struct layouts read: the entries and their names.
pub const LAYOUT: [SectionId; 5] = [SectionId::DebugInfo, SectionId::DebugAbbrev, SectionId::DebugStr, SectionId::DebugStrOffsets, SectionId::DebugLineStr];

/// Most decompressed bytes the store keeps for the whole process (a long gdb session
/// opens many files).
pub const MAX_SHARED: u64 = 1 << 30;

/// Largest section decompressed (its header's claim is checked before allocating).
pub const MAX_SECTION: u64 = 4 << 30;

type Key = (PathBuf, Vec<u8>, &'static str);

#[derive(Default)]
struct Store {
    sections: HashMap<Key, Arc<OnceLock<Owned>>>,
    bytes: u64,
}

fn store() -> &'static Mutex<Store> {
    static STORE: OnceLock<Mutex<Store>> = OnceLock::new();
    STORE.get_or_init(Mutex::default)
}

fn empty() -> Owned {
    Arc::new(Vec::new())
}

/// A section of an ELF file's bytes, decompressed when it is compressed; empty when
/// the file has none, or it cannot be read or claims more than [`MAX_SECTION`] bytes.
pub fn read(data: &[u8], id: SectionId) -> Owned {
    let Ok(obj) = object::File::parse(data) else { return empty() };
    let Some(s) = obj.section_by_name(id.name()) else { return empty() };
    // DEFLATE expands at most 1032 times: a zlib section claiming more is lying, and
    // its claim would be allocated before inflating.
    let bounded = |c: object::CompressedData<'_>| {
        c.uncompressed_size <= MAX_SECTION
            && (c.format != object::CompressionFormat::Zlib || c.uncompressed_size <= (c.data.len() as u64).saturating_mul(1032).saturating_add(1 << 20))
    };
    if !s.compressed_data().is_ok_and(bounded) {
        return empty();
    }
    // Kept as inflated: a copy into another allocation would double the page faults.
    s.uncompressed_data().map(|d| Arc::new(d.into_owned())).unwrap_or_else(|_| empty())
}

/// A section of `image`: read in place when it is stored uncompressed, else
/// decompressed once per process (see the module's text).
pub fn section(image: &Arc<ElfImage>, id: SectionId) -> SectionBytes {
    if let Some(range) = stored_range(image, id) {
        return SectionBytes(Held::Mapped(image.clone(), range));
    }
    SectionBytes::heap(decompressed(image, id))
}

/// Where a section stored uncompressed is in its file (`None`: compressed, absent, or
/// not inside the file).
fn stored_range(image: &ElfImage, id: SectionId) -> Option<std::ops::Range<usize>> {
    let obj = object::File::parse(image.data()).ok()?;
    let c = obj.section_by_name(id.name())?.compressed_file_range().ok()?;
    if c.format != object::CompressionFormat::None {
        return None;
    }
    let start = usize::try_from(c.offset).ok()?;
    let range = start..start.checked_add(usize::try_from(c.compressed_size).ok()?)?;
    image.data().get(range.clone()).map(|_| range)
}

/// A compressed section of `image`, decompressed once per process.
fn decompressed(image: &ElfImage, id: SectionId) -> Owned {
    let Some(build_id) = image.build_id() else { return read(image.data(), id) };
    let key = (image.path().to_path_buf(), build_id.to_vec(), id.name());
    let cell = match store().lock() {
        Ok(mut s) if s.bytes < MAX_SHARED => s.sections.entry(key).or_default().clone(),
        _ => return read(image.data(), id),
    };
    let mut fresh = false;
    let bytes = cell
        .get_or_init(|| {
            fresh = true;
            read(image.data(), id)
        })
        .clone();
    if fresh {
        if let Ok(mut s) = store().lock() {
            s.bytes = s.bytes.saturating_add(bytes.len() as u64);
        }
    }
    bytes
}

/// A section's bytes for a reader that borrows: the file's own bytes when the section
/// is not compressed (no copy), else the shared decompressed ones.
pub enum Bytes<'a> {
    /// In the mapped file.
    Mapped(&'a [u8]),
    /// Decompressed, from the store.
    Shared(Owned),
}

impl std::ops::Deref for Bytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(b) => b,
            Bytes::Shared(b) => b,
        }
    }
}

/// A section of `image` without copying it when it is stored uncompressed.
pub fn section_ref(image: &ElfImage, id: SectionId) -> Bytes<'_> {
    match stored_range(image, id).and_then(|r| image.data().get(r)) {
        Some(b) => Bytes::Mapped(b),
        None => Bytes::Shared(decompressed(image, id)),
    }
}

/// `image`'s DWARF for the readers here: the [`NEEDED`] sections, shared.
pub fn dwarf(image: &Arc<ElfImage>) -> Option<gimli::Dwarf<R>> {
    load(|id| section(image, id))
}

/// The DWARF of an ELF file's bytes, read for this caller alone.
pub fn dwarf_of_bytes(data: &[u8]) -> Option<gimli::Dwarf<R>> {
    load(|id| SectionBytes::heap(read(data, id)))
}

fn load(get: impl Fn(SectionId) -> SectionBytes) -> Option<gimli::Dwarf<R>> {
    gimli::Dwarf::load(|id| -> Result<R, gimli::Error> {
        Ok(R::new(if NEEDED.contains(&id) { get(id) } else { SectionBytes::heap(empty()) }, LittleEndian))
    })
    .ok()
}

/// `image`'s whole-file symbolizer (addr2line over the shared sections). Only pcs
/// that their own unit cannot answer need one (see `native`): it is built on demand.
pub fn symbolizer(image: &Arc<ElfImage>) -> Option<addr2line::Context<R>> {
    addr2line::Context::from_dwarf(dwarf(image)?).ok()
}

/// Files whose [`prefetch`] jobs are not all done yet, with how many are left.
fn pending() -> &'static Mutex<HashMap<PathBuf, usize>> {
    static P: OnceLock<Mutex<HashMap<PathBuf, usize>>> = OnceLock::new();
    P.get_or_init(Mutex::default)
}

/// Whether [`prefetch`] still has sections of `path` to decompress: a reader now would
/// wait for one, or do it itself.
pub fn prefetching(path: &std::path::Path) -> bool {
    pending().lock().is_ok_and(|p| p.get(path).is_some_and(|n| *n > 0))
}


/// Decompress the compressed sections among `ids` of each file into the store on
/// `threads` background threads, largest first, and return at once: a reader asking
/// for one of them later finds it done, or waits for the thread doing it. Files that
/// cannot be opened are skipped.
pub fn prefetch(files: Vec<PathBuf>, ids: &'static [SectionId], threads: usize) {
    let mut jobs: Vec<(u64, Arc<ElfImage>, SectionId)> = Vec::new();
    for path in files {
        let Ok(image) = ElfImage::open(&path) else { continue };
        if image.build_id().is_none() {
            continue;
        }
        let image = Arc::new(image);
        let Ok(obj) = object::File::parse(image.data()) else { continue };
        for &id in ids {
            let Some(c) = obj.section_by_name(id.name()).and_then(|s| s.compressed_data().ok()) else { continue };
            if c.format != object::CompressionFormat::None {
                jobs.push((c.uncompressed_size, image.clone(), id));
            }
        }
    }
    jobs.sort_by_key(|j| std::cmp::Reverse(j.0));
    let jobs: Vec<(Arc<ElfImage>, SectionId)> = jobs.into_iter().map(|(_, image, id)| (image, id)).collect();
    if let Ok(mut p) = pending().lock() {
        for (image, _) in &jobs {
            let n = p.entry(image.path().to_path_buf()).or_default();
            *n = n.saturating_add(1);
        }
    }
    let done = |image: &ElfImage| {
        if let Ok(mut p) = pending().lock() {
            if let Some(n) = p.get_mut(image.path()) {
                *n = n.saturating_sub(1);
            }
        }
    };
    let jobs = Arc::new(Mutex::new(jobs.into_iter()));
    for _ in 0..threads.max(1) {
        let jobs = jobs.clone();
        let spawned = std::thread::Builder::new().name("pycoroner-dwarf".into()).spawn(move || loop {
            let next = jobs.lock().ok().and_then(|mut j| j.next());
            match next {
                Some((image, id)) => {
                    section(&image, id);
                    done(&image);
                }
                None => break,
            }
        });
        if spawned.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_the_section_reads_empty() {
        assert!(read(b"not an ELF file", SectionId::DebugInfo).is_empty());
        let me = std::env::current_exe().expect("exe");
        let image = Arc::new(ElfImage::open(&me).expect("map"));
        // The test binary has no .debug_macro; twice the same (shared) answer.
        let a = section(&image, SectionId::DebugMacro);
        let b = section(&image, SectionId::DebugMacro);
        assert!(a.is_empty() && b.is_empty());
    }
}
