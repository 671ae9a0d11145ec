//! Opening files: the one way pycoroner opens a file that a target (or a cache) names.
//!
//! A core from elsewhere names files by path (NT_FILE), and so does a cache directory
//! someone else may write to. Every such file is opened here, and only:
//! - inside the root when one is given (`--sysroot`, a live process's `/proc/PID/root`):
//!   `..` cannot climb out of it and symbolic links are resolved inside it
//!   (`openat2(RESOLVE_IN_ROOT)`, or the same walk done here on kernels without it);
//! - if it is a regular file (never a FIFO, a device or a directory: opened with
//!   `O_NONBLOCK`, so a FIFO cannot block the open, then checked with `fstat`);
//! - if it is no larger than the caller's cap.
//!
//! Whether the bytes are the ones the target had is the caller's check (build-ids,
//! see [`crate::elf_ident`]); this module only makes sure the file is a file, where it
//! may be.
//!
//! Reading goes through [`FileBytes`], which uses `pread` rather than a memory map, so
//! a file that shrinks while it is read gives a short read (an error) instead of a
//! SIGBUS.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Why a file was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Nothing at that path (inside the root, when there is one).
    #[error("{path} does not exist")]
    NotFound {
        /// The path as asked for (under its root, if any).
        path: String,
    },
    /// Something other than a regular file is there.
    #[error("{path} is not a regular file ({kind})")]
    NotRegular {
        /// The path.
        path: String,
        /// What it is: `fifo`, `directory`, `device`, `socket`, `symlink`.
        kind: &'static str,
    },
    /// Larger than the caller accepts.
    #[error("{path} is {len} bytes, more than the {cap} accepted")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size.
        len: u64,
        /// The cap.
        cap: u64,
    },
    /// Symbolic links that do not end.
    #[error("{path}: too many levels of symbolic links")]
    Loop {
        /// The path.
        path: String,
    },
    /// Any other failure to open it.
    #[error("cannot open {path}: {reason}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        reason: String,
    },
}

/// A regular file, opened: the handle, the path it really has on this machine, and its
/// size when opened.
#[derive(Debug)]
pub struct OpenedFile {
    /// The open file.
    pub file: File,
    /// Its path on this machine (all links resolved), for messages and re-opening.
    pub path: PathBuf,
    /// Its size when it was opened.
    pub len: u64,
}

/// No file pycoroner reads whole is larger than this (the largest debug files of a
/// distribution are a few GiB).
pub const MAX_FILE: u64 = 16 << 30;

const OPEN_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;

fn display_in(root: Option<&Path>, path: &str) -> String {
    match root {
        Some(r) => format!("{}/{}", r.display(), path.trim_start_matches('/')),
        None => path.to_string(),
    }
}

fn io_error(path: &str, e: &io::Error) -> FileError {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => FileError::NotFound { path: path.to_string() },
        Some(libc::ELOOP) => FileError::Loop { path: path.to_string() },
        Some(libc::ENXIO) => FileError::NotRegular { path: path.to_string(), kind: "socket or device" },
        _ => FileError::Io { path: path.to_string(), reason: e.to_string() },
    }
}

fn kind_of(mode: u32) -> Option<&'static str> {
    match mode & libc::S_IFMT {
        libc::S_IFREG => None,
        libc::S_IFIFO => Some("fifo"),
        libc::S_IFDIR => Some("directory"),
        libc::S_IFCHR | libc::S_IFBLK => Some("device"),
        libc::S_IFSOCK => Some("socket"),
        libc::S_IFLNK => Some("symlink"),
        _ => Some("special file"),
    }
}

/// Check that an opened file is a regular file within the cap.
fn finish(file: File, shown: &str, cap: u64) -> Result<OpenedFile, FileError> {
    let meta = file.metadata().map_err(|e| io_error(shown, &e))?;
    if let Some(kind) = kind_of(meta.mode()) {
        return Err(FileError::NotRegular { path: shown.to_string(), kind });
    }
    if meta.len() > cap {
        return Err(FileError::TooLarge { path: shown.to_string(), len: meta.len(), cap });
    }
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap_or_else(|_| PathBuf::from(shown));
    Ok(OpenedFile { file, path: real, len: meta.len() })
}

fn cstring(path: &str, p: &OsStr) -> Result<CString, FileError> {
    CString::new(p.as_bytes()).map_err(|_| FileError::Io { path: path.to_string(), reason: "NUL byte in the path".into() })
}

/// Open `path` as a regular file of at most `cap` bytes: following links (a path a
/// person gave, or a file of this machine), never blocking on a FIFO.
pub fn open_regular(path: &Path, cap: u64) -> Result<OpenedFile, FileError> {
    let shown = path.display().to_string();
    let c = cstring(&shown, path.as_os_str())?;
    // SAFETY: a NUL-terminated path; the returned descriptor is owned by the File.
    let fd = unsafe { libc::open(c.as_ptr(), OPEN_FLAGS) };
    if fd < 0 {
        return Err(io_error(&shown, &io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    finish(unsafe { File::from_raw_fd(fd) }, &shown, cap)
}

/// Open the file a target names, `path` (absolute, as the target saw it), inside `root`
/// when given: `..` and symbolic links cannot lead out of the root. Without a root the
/// path is this machine's own.
pub fn open_confined(root: Option<&Path>, path: &str, cap: u64) -> Result<OpenedFile, FileError> {
    let Some(root) = root else { return open_regular(Path::new(path), cap) };
    let shown = display_in(Some(root), path);
    let root_file = open_dir(root).map_err(|e| io_error(&root.display().to_string(), &e))?;
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let file = match openat2_in_root(&root_file, rel, &shown)? {
        Some(f) => f,
        // No openat2 (kernel before 5.6, or a seccomp filter): the same walk, here.
        None => open_in_root_userspace(&root_file, rel, &shown)?,
    };
    finish(file, &shown, cap)
}

fn open_dir(dir: &Path) -> io::Result<File> {
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: NUL-terminated path; the descriptor is owned by the File.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_PATH) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `struct open_how` of openat2(2) (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(root, rel, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`; `Ok(None)` when the
/// kernel has no openat2.
fn openat2_in_root(root: &File, rel: &str, shown: &str) -> Result<Option<File>, FileError> {
    let c = cstring(shown, OsStr::new(rel))?;
    let how = OpenHow { flags: OPEN_FLAGS as u64, mode: 0, resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS };
    // SAFETY: openat2 with a valid dirfd, NUL-terminated path and an open_how of the
    // size passed; the returned descriptor is owned by the File.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::EPERM) => Ok(None),
            _ => Err(io_error(shown, &e)),
        };
    }
    let fd = i32::try_from(fd).map_err(|_| FileError::Io { path: shown.into(), reason: "bad descriptor".into() })?;
    // SAFETY: fresh descriptor.
    Ok(Some(unsafe { File::from_raw_fd(fd) }))
}

/// Most symbolic links followed in one path (Linux's own limit is 40).
const MAX_LINKS: usize = 40;

/// The walk `RESOLVE_IN_ROOT` does, in user space: each component looked up without
/// following links; a link's target is walked in its place (an absolute one from the
/// root); `..` stops at the root; the last component is opened with `O_NOFOLLOW`.
pub fn open_in_root_userspace(root: &File, rel: &str, shown: &str) -> Result<File, FileError> {
    let mut todo: Vec<OsString> = components(Path::new(rel)).into_iter().rev().collect();
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0usize;
    while let Some(c) = todo.pop() {
        if c == ".." {
            done.pop();
            continue;
        }
        let mut candidate = done.clone();
        candidate.push(c.clone());
        let cpath = join(&candidate);
        let cc = cstring(shown, cpath.as_os_str())?;
        // SAFETY: fstatat on a valid dirfd with a NUL-terminated relative path.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::fstatat(root.as_raw_fd(), cc.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        if r != 0 {
            return Err(io_error(shown, &io::Error::last_os_error()));
        }
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            links = links.saturating_add(1);
            if links > MAX_LINKS {
                return Err(FileError::Loop { path: shown.to_string() });
            }
            let mut buf = vec![0u8; 4096];
            // SAFETY: readlinkat into a buffer of the length passed.
            let n = unsafe { libc::readlinkat(root.as_raw_fd(), cc.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            let n = usize::try_from(n).map_err(|_| io_error(shown, &io::Error::last_os_error()))?;
            buf.truncate(n);
            let target = PathBuf::from(OsStr::from_bytes(&buf));
            if target.is_absolute() {
                done.clear();
            }
            todo.extend(components(&target).into_iter().rev());
            continue;
        }
        done.push(c);
    }
    let final_path = join(&done);
    let fc = cstring(shown, final_path.as_os_str())?;
    // SAFETY: openat on a valid dirfd; the descriptor is owned by the File.
    let fd = unsafe { libc::openat(root.as_raw_fd(), fc.as_ptr(), OPEN_FLAGS | libc::O_NOFOLLOW) };
    if fd < 0 {
        return Err(io_error(shown, &io::Error::last_os_error()));
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn join(parts: &[OsString]) -> PathBuf {
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// Block size of [`FileBytes`]' cache.
const BLOCK: u64 = 16 << 10;
/// Slots of the cache (64 MiB at most); a block goes to slot `index % SLOTS`.
const SLOTS: usize = 4096;

/// One cached block: its index in the file and its bytes (fewer at the end of a file).
struct Slot {
    index: u64,
    bytes: Vec<u8>,
}

/// A file mapped read-only whose truncation is survived (see [`FileBytes`]).
struct Guarded {
    map: Option<memmap2::Mmap>,
    region: usize,
}

enum Backing {
    Empty,
    Mapped(Guarded),
    Pread { file: File, slots: Mutex<Vec<Option<Slot>>> },
}

/// Random access to a file's bytes that survives the file shrinking meanwhile: a read
/// of bytes the file lost is an error, never a SIGBUS.
///
/// The file is memory-mapped (a core is read in place, as gdb does) inside a guarded
/// region: if another process truncates it, touching a lost page raises SIGBUS, whose
/// handler ([`install_sigbus_handler`]) maps a page of zeros over it and marks the
/// region; every read checks the mark after copying, so the zeros are never returned
/// and the region is unusable from then on. When no region is free (more than 64 files
/// open at once), blocks are read with `pread` into a small cache instead.
pub struct FileBytes {
    len: u64,
    backing: Backing,
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBytes").field("len", &self.len).finish()
    }
}

fn invalid_input() -> io::Error {
    io::Error::from(io::ErrorKind::InvalidInput)
}

fn shrank() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while being read")
}

/// A mapped range the SIGBUS handler may repair.
struct Region {
    start: AtomicUsize,
    len: AtomicUsize,
    hit: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Region = Region { start: AtomicUsize::new(0), len: AtomicUsize::new(0), hit: AtomicBool::new(false) };
static REGIONS: [Region; 64] = [FREE; 64];

fn register(start: usize, len: usize) -> Option<usize> {
    REGIONS.iter().enumerate().find_map(|(i, r)| {
        r.start.compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed).ok()?;
        r.hit.store(false, Ordering::Release);
        r.len.store(len, Ordering::Release);
        r.start.store(start, Ordering::Release);
        Some(i)
    })
}

impl Guarded {
    /// Bytes `off..end` of the mapping (the caller checked them against the length).
    fn slice(&self, off: u64, end: u64) -> io::Result<&[u8]> {
        let (Ok(a), Ok(b)) = (usize::try_from(off), usize::try_from(end)) else { return Err(invalid_input()) };
        self.map.as_deref().and_then(|m| m.get(a..b)).ok_or_else(invalid_input)
    }

    /// Ok unless a page of the mapping was lost to truncation (and replaced by zeros,
    /// which the bytes just read may then hold).
    fn intact(&self) -> io::Result<()> {
        match REGIONS.get(self.region) {
            Some(r) if !r.hit.load(Ordering::Acquire) => Ok(()),
            _ => Err(shrank()),
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        drop(self.map.take());
        if let Some(r) = REGIONS.get(self.region) {
            r.len.store(0, Ordering::Release);
            r.start.store(0, Ordering::Release);
        }
    }
}

impl FileBytes {
    /// Read `file`, of `len` bytes when opened.
    pub fn new(file: File, len: u64) -> FileBytes {
        if len == 0 {
            return FileBytes { len, backing: Backing::Empty };
        }
        install_sigbus_handler();
        // SAFETY: a read-only private mapping of a regular file; a truncation by another
        // process is survived through the guarded region (see the type's docs).
        if let (Ok(map), Ok(n)) = (unsafe { memmap2::Mmap::map(&file) }, usize::try_from(len)) {
            if map.len() == n {
                if let Some(region) = register(map.as_ptr() as usize, n) {
                    return FileBytes { len, backing: Backing::Mapped(Guarded { map: Some(map), region }) };
                }
            }
        }
        FileBytes { len, backing: Backing::Pread { file, slots: Mutex::new(Vec::new()) } }
    }

    /// The size when opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fill `buf` from file offset `off`; an error if the file (as opened, or as it is
    /// now) does not hold all of it.
    pub fn read_exact_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = off.checked_add(buf.len() as u64).ok_or_else(invalid_input)?;
        if end > self.len {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "past the end of the file"));
        }
        match &self.backing {
            Backing::Empty => Ok(()),
            Backing::Mapped(g) => {
                buf.copy_from_slice(g.slice(off, end)?);
                g.intact()
            }
            Backing::Pread { file, slots } => pread_cached(file, self.len, slots, off, buf),
        }
    }

    /// Run `f` over the `len` bytes at `off` (at most `cap`): in place when the file is
    /// mapped, else from a copy. If the file shrank while `f` ran, its result is
    /// discarded and this is an error.
    pub fn with_bytes<T>(&self, off: u64, len: u64, cap: u64, f: impl FnOnce(&[u8]) -> T) -> io::Result<T> {
        if let Backing::Mapped(g) = &self.backing {
            let end = off.checked_add(len).ok_or_else(invalid_input)?;
            if len > cap || end > self.len {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "past the end of the file"));
            }
            let out = f(g.slice(off, end)?);
            return g.intact().map(|()| out);
        }
        let v = self.read_vec_at(off, len, cap)?;
        Ok(f(&v))
    }

    /// `len` bytes at `off`, refusing more than `cap` before allocating.
    pub fn read_vec_at(&self, off: u64, len: u64, cap: u64) -> io::Result<Vec<u8>> {
        if len > cap {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{len} bytes asked for, at most {cap} read")));
        }
        let mut v = vec![0u8; usize::try_from(len).map_err(|_| invalid_input())?];
        self.read_exact_at(off, &mut v)?;
        Ok(v)
    }
}

/// Fill `slot` with block `index` of `file`.
fn load(file: &File, len: u64, slot: &mut Option<Slot>, index: u64) -> io::Result<()> {
    let start = index.checked_mul(BLOCK).ok_or_else(invalid_input)?;
    let want = usize::try_from(BLOCK.min(len.saturating_sub(start))).map_err(|_| invalid_input())?;
    let mut bytes = match slot.take() {
        Some(old) => old.bytes,
        None => Vec::with_capacity(BLOCK as usize),
    };
    bytes.resize(want, 0);
    let mut got = 0usize;
    while got < want {
        let off = start.checked_add(got as u64).ok_or_else(invalid_input)?;
        let rest = bytes.get_mut(got..).ok_or_else(invalid_input)?;
        match file.read_at(rest, off) {
            Ok(0) => return Err(shrank()),
            Ok(n) => got = got.saturating_add(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    *slot = Some(Slot { index, bytes });
    Ok(())
}

/// `read_exact_at` through `pread` and a direct-mapped block cache.
fn pread_cached(file: &File, len: u64, slots: &Mutex<Vec<Option<Slot>>>, off: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut slots = slots.lock().map_err(|_| io::Error::other("cache lock poisoned"))?;
    if slots.is_empty() {
        slots.resize_with(SLOTS, || None);
    }
    let mut done = 0usize;
    while done < buf.len() {
        let pos = off.checked_add(done as u64).ok_or_else(invalid_input)?;
        let index = pos / BLOCK;
        let slot = slots.get_mut(index.checked_rem(SLOTS as u64).unwrap_or(0) as usize).ok_or_else(invalid_input)?;
        if slot.as_ref().is_none_or(|s| s.index != index) {
            load(file, len, slot, index)?;
        }
        let src = slot.as_ref().map(|s| s.bytes.as_slice()).unwrap_or_default();
        let src = src.get(usize::try_from(pos % BLOCK).unwrap_or(usize::MAX)..).unwrap_or_default();
        let dst = buf.get_mut(done..).unwrap_or_default();
        let n = src.len().min(dst.len());
        let (Some(dst), Some(src)) = (dst.get_mut(..n), src.get(..n)) else { return Err(shrank()) };
        if n == 0 {
            return Err(shrank());
        }
        dst.copy_from_slice(src);
        done = done.saturating_add(n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(d.path().join("root/usr/lib")).expect("mkdir");
        std::fs::write(d.path().join("root/usr/lib/libx.so"), b"inside").expect("write");
        std::fs::write(d.path().join("secret"), b"outside").expect("write");
        d
    }

    fn read(f: OpenedFile) -> Vec<u8> {
        let mut v = vec![0; usize::try_from(f.len).expect("len")];
        f.file.read_exact_at(&mut v, 0).expect("read");
        v
    }

    fn both_walks(root: &Path, path: &str) -> [Result<Vec<u8>, FileError>; 2] {
        let kernel = open_confined(Some(root), path, MAX_FILE).map(read);
        let dir = open_dir(root).expect("root");
        let user = open_in_root_userspace(&dir, path.trim_start_matches('/'), path)
            .and_then(|f| finish(f, path, MAX_FILE))
            .map(read);
        [kernel, user]
    }

    #[test]
    fn dot_dot_and_links_stay_inside_the_root() {
        let d = tree();
        let root = d.path().join("root");
        symlink("/usr/lib/libx.so", root.join("usr/lib/abs")).expect("link");
        symlink("../../../secret", root.join("usr/lib/rel")).expect("link");
        symlink(d.path().join("secret"), root.join("usr/lib/host")).expect("link");
        for r in both_walks(&root, "/usr/lib/libx.so") {
            assert_eq!(r, Ok(b"inside".to_vec()));
        }
        // An absolute link is resolved inside the root.
        for r in both_walks(&root, "/usr/lib/abs") {
            assert_eq!(r, Ok(b"inside".to_vec()));
        }
        // `..` past the root, directly or through a link, stops at the root.
        for p in ["/../secret", "/usr/../../secret", "/usr/lib/rel", "/usr/lib/host"] {
            for r in both_walks(&root, p) {
                assert!(matches!(r, Err(FileError::NotFound { .. })), "{p}: {r:?}");
            }
        }
    }

    #[test]
    fn fifos_devices_directories_and_loops_are_refused_without_blocking() {
        let d = tree();
        let root = d.path().join("root");
        let fifo = root.join("usr/lib/fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).expect("c");
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        symlink("/dev/zero", root.join("usr/lib/zero")).expect("link");
        symlink("loop", root.join("usr/lib/loop")).expect("link");
        assert!(matches!(open_confined(Some(&root), "/usr/lib/fifo", MAX_FILE), Err(FileError::NotRegular { kind: "fifo", .. })));
        assert!(matches!(open_regular(&fifo, MAX_FILE), Err(FileError::NotRegular { kind: "fifo", .. })));
        assert!(matches!(open_regular(Path::new("/dev/zero"), MAX_FILE), Err(FileError::NotRegular { kind: "device", .. })));
        // Inside the root, /dev/zero is the root's own (absent).
        assert!(matches!(open_confined(Some(&root), "/usr/lib/zero", MAX_FILE), Err(FileError::NotFound { .. })));
        assert!(matches!(open_confined(Some(&root), "/usr/lib", MAX_FILE), Err(FileError::NotRegular { kind: "directory", .. })));
        for r in both_walks(&root, "/usr/lib/loop") {
            assert!(matches!(r, Err(FileError::Loop { .. })), "{r:?}");
        }
        assert!(matches!(open_confined(Some(&root), "/usr/lib/libx.so", 3), Err(FileError::TooLarge { .. })));
    }

    #[test]
    fn past_64_guarded_maps_files_are_read_with_pread_and_shrinking_is_still_an_error() {
        let files: Vec<tempfile::NamedTempFile> = (0..70u8)
            .map(|i| {
                let mut f = tempfile::NamedTempFile::new().expect("tmp");
                f.write_all(&vec![i; 50_000]).expect("write");
                f
            })
            .collect();
        let opened: Vec<FileBytes> = files
            .iter()
            .map(|f| {
                let o = open_regular(f.path(), MAX_FILE).expect("open");
                FileBytes::new(o.file, o.len)
            })
            .collect();
        assert!(opened.iter().any(|b| matches!(b.backing, Backing::Pread { .. })), "some beyond the 64 regions");
        for (i, b) in opened.iter().enumerate() {
            let mut x = [0u8; 4];
            b.read_exact_at(10, &mut x).expect("read");
            assert_eq!(x, [i as u8; 4]);
        }
        let last = opened.len() - 1;
        files[last].as_file().set_len(100).expect("truncate");
        let mut x = [0u8; 4];
        assert!(opened[last].read_exact_at(45_000, &mut x).is_err());
        drop(opened);
        // Regions are freed on drop: a new file is mapped again.
        let o = open_regular(files[0].path(), MAX_FILE).expect("open");
        assert!(matches!(FileBytes::new(o.file, o.len).backing, Backing::Mapped(_)));
    }

    #[test]
    fn a_file_that_shrinks_while_read_is_an_error_not_a_sigbus() {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(&vec![7u8; 100_000]).expect("write");
        let opened = open_regular(f.path(), MAX_FILE).expect("open");
        let bytes = FileBytes::new(opened.file, opened.len);
        let mut b = [0u8; 8];
        bytes.read_exact_at(10, &mut b).expect("read");
        assert_eq!(b, [7; 8]);
        f.as_file().set_len(1000).expect("truncate");
        assert!(bytes.read_exact_at(90_000, &mut b).is_err());
        assert!(bytes.read_exact_at(u64::MAX - 2, &mut b).is_err());
        assert!(bytes.read_vec_at(0, 1 << 40, 1 << 20).is_err());
    }
}

/// What the SIGBUS handler writes before exiting.
const SIGBUS_MESSAGE: &[u8] =
    b"pycoroner: a file being read (a binary or debug file) was truncated by another process while mapped; run again once it stops changing\n";

/// Offset of `si_addr` in Linux's `siginfo_t` (after three ints and padding).
const SI_ADDR: usize = 16;

extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers; for SIGBUS its
    // si_addr is the faulting address. Only async-signal-safe calls follow (mmap, write,
    // _exit are plain system calls).
    unsafe {
        let addr = info.cast::<u8>().add(SI_ADDR).cast::<usize>().read_unaligned();
        for r in &REGIONS {
            let start = r.start.load(Ordering::Acquire);
            let len = r.len.load(Ordering::Acquire);
            if start != 0 && start != usize::MAX && addr >= start && addr.wrapping_sub(start) < len {
                let page = (addr & !0xfff) as *mut libc::c_void;
                let p = libc::mmap(page, 0x1000, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED, -1, 0);
                if p != libc::MAP_FAILED {
                    r.hit.store(true, Ordering::Release);
                    return;
                }
            }
        }
        libc::write(2, SIGBUS_MESSAGE.as_ptr().cast(), SIGBUS_MESSAGE.len());
        libc::_exit(2);
    }
}

/// Install pycoroner's SIGBUS handler (once): a fault in a [`FileBytes`] mapping is
/// repaired with zeros and turned into read errors; any other SIGBUS (a memory-mapped
/// binary or debug file truncated while DWARF is read in place) ends the process with
/// one line and status 2 instead of a crash. Called by [`FileBytes::new`] and by the
/// CLI at start; not for libraries hosted by a debugger.
pub fn install_sigbus_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a handler that only makes async-signal-safe calls.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    });
}
