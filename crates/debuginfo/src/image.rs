//! An ELF file on disk, mapped: symbols, build-id, debuglink, program headers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use memmap2::Mmap;
use pycoroner_process::files::{self, OpenedFile};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};

/// Why an ELF file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Could not open or map it.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a parseable ELF file.
    #[error("{path} is not a valid ELF file: {what}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Parser message.
        what: String,
    },
}

/// Symbols by name: (address, size). Keys are the raw name bytes: libpython has some
/// 15,000 symbols, and a checked `String` per name was a visible part of a cold
/// analysis.
type SymbolMap = HashMap<Box<[u8]>, (u64, u64)>;

/// A mapped ELF file.
pub struct ElfImage {
    path: PathBuf,
    map: Mmap,
    build_id: Option<Vec<u8>>,
    debuglink: Option<(String, u32)>,
    /// (p_vaddr, p_offset) of each PT_LOAD, in file order.
    loads: Vec<(u64, u64)>,
    has_dwarf: bool,
    symbols: OnceLock<SymbolMap>,
}

impl std::fmt::Debug for ElfImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfImage").field("path", &self.path).finish()
    }
}

impl ElfImage {
    /// Map and parse an ELF file named by a person (`--exe`, a debug directory): a
    /// regular file, never a FIFO or a device.
    pub fn open(path: &Path) -> Result<ElfImage, ImageError> {
        let opened = files::open_regular(path, files::MAX_FILE)
            .map_err(|e| ImageError::Io { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) })?;
        Self::from_opened(opened)
    }

    /// Map and parse a file opened by [`pycoroner_process::files`].
    pub fn from_opened(opened: OpenedFile) -> Result<ElfImage, ImageError> {
        let path = opened.path.as_path();
        let io = |source| ImageError::Io { path: path.to_path_buf(), source };
        // SAFETY: read-only private mapping of a regular file. If another process
        // truncates it while we read, the access raises SIGBUS, which the binary turns
        // into a one-line error (`pycoroner_process::files::install_sigbus_handler`).
        // SAFETY: a private read-only mapping of a regular file opened by the resolver;
        // a file truncated under us is read through checked bounds only.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&opened.file) }.map_err(io)?;
        let parse = |e: object::Error| ImageError::Parse { path: path.to_path_buf(), what: e.to_string() };
        let obj = object::File::parse(&*map).map_err(parse)?;
        let build_id = obj.build_id().ok().flatten().map(<[u8]>::to_vec);
        let debuglink = obj
            .gnu_debuglink()
            .ok()
            .flatten()
            .map(|(name, crc)| (String::from_utf8_lossy(name).into_owned(), crc));
        let loads = obj.segments().map(|s| (s.address(), s.file_range().0)).collect();
        let has_dwarf = obj.section_by_name(".debug_info").is_some_and(|s| s.size() > 0);
        drop(obj);
        Ok(ElfImage { path: path.to_path_buf(), map, build_id, debuglink, loads, has_dwarf, symbols: OnceLock::new() })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw bytes.
    pub fn data(&self) -> &[u8] {
        &self.map
    }

    /// NT_GNU_BUILD_ID.
    pub fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }

    /// `.gnu_debuglink` file name and CRC.
    pub fn debuglink(&self) -> Option<(&str, u32)> {
        self.debuglink.as_ref().map(|(n, c)| (n.as_str(), *c))
    }

    /// True when the file has a non-empty `.debug_info`.
    pub fn has_dwarf(&self) -> bool {
        self.has_dwarf
    }

    /// The load bias for a mapping of this file that starts at `map_start` with file
    /// offset `file_offset`: AVMA = SVMA + bias.
    pub fn bias_for_mapping(&self, map_start: u64, file_offset: u64) -> Option<u64> {
        const PAGE: u64 = 4096;
        self.loads
            .iter()
            .find(|(_, off)| off & !(PAGE - 1) == file_offset)
            .map(|(vaddr, _)| map_start.wrapping_sub(vaddr & !(PAGE - 1)))
    }

    fn symbol_map(&self) -> &SymbolMap {
        self.symbols.get_or_init(|| {
            let mut m = SymbolMap::default();
            let Ok(obj) = object::File::parse(&*self.map) else { return m };
            // .symtab first so local symbols (e.g. 3.6's `interp_head`) are found; .dynsym fills the rest.
            for sym in obj.symbols().chain(obj.dynamic_symbols()) {
                if sym.is_undefined() || sym.address() == 0 {
                    continue;
                }
                if let Ok(name) = sym.name_bytes() {
                    m.entry(Box::from(name)).or_insert((sym.address(), sym.size()));
                }
            }
            m
        })
    }

    /// Address (SVMA) and size of a symbol by exact name, from .symtab or .dynsym.
    pub fn symbol(&self, name: &str) -> Option<(u64, u64)> {
        self.symbol_map().get(name.as_bytes()).copied()
    }

    /// Address (SVMA) and size of a section by exact name (`.AsyncioDebug`).
    pub fn section(&self, name: &str) -> Option<(u64, u64)> {
        let obj = object::File::parse(&*self.map).ok()?;
        let s = obj.section_by_name(name)?;
        Some((s.address(), s.size()))
    }

    /// Bytes of the file at a static address (SVMA), from its section contents.
    pub fn read_static(&self, svma: u64, len: usize) -> Option<&[u8]> {
        let obj = object::File::parse(&*self.map).ok()?;
        for s in obj.sections() {
            let (start, size) = (s.address(), s.size());
            if start <= svma && svma.checked_add(len as u64)? <= start.checked_add(size)? {
                let (off, fsize) = s.file_range()?;
                if fsize < size {
                    return None; // .bss
                }
                let o = usize::try_from(off.checked_add(svma.checked_sub(start)?)?).ok()?;
                return self.map.get(o..o.checked_add(len)?);
            }
        }
        None
    }
}
