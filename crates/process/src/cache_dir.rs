//! A private cache directory that a root run can share with nobody by accident.
//!
//! pycoroner caches what it learned from a build (layouts, symbolized addresses) in a
//! directory that may come from the environment (`PYCORONER_CACHE_DIR`, a `HOME` kept
//! by `sudo -E`). Another user able to write there could make a root run overwrite
//! files (a symlink at a predictable temporary name), hang it (a FIFO), exhaust its
//! memory (a link to `/dev/zero`) or feed it wrong answers (a forged entry). So:
//! - the directory is created `0700`, and used only if it is owned by this user and
//!   writable by nobody else; otherwise the caller runs without a cache and says so;
//! - entries are written to a fresh `O_EXCL` temporary file in the directory and
//!   renamed into place (atomic, never following a link);
//! - entries are read with `O_NOFOLLOW | O_NONBLOCK`, only if they are regular files
//!   owned by this user and no larger than the caller's cap;
//! - every entry is sealed ([`seal`]): a header naming its kind and key (a build-id)
//!   and a checksum of its body, checked on read ([`unseal`]), so a truncated, stale
//!   or misplaced entry is never taken for a valid one.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A cache directory that passed the ownership and permission checks.
#[derive(Debug, Clone)]
pub struct CacheDir {
    dir: PathBuf,
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn check_dir(dir: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    if !meta.is_dir() {
        return Err(format!("cache directory {} is not a directory: running without a cache", dir.display()));
    }
    if meta.uid() != euid() {
        return Err(format!(
            "cache directory {} belongs to uid {}, not to this user (uid {}): running without a cache (pass --cache-dir DIR or --no-cache)",
            dir.display(),
            meta.uid(),
            euid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "cache directory {} is writable by other users (mode {:o}): running without a cache (chmod go-w it, or pass --cache-dir DIR)",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

impl CacheDir {
    /// Use `dir` as a cache, creating it (mode 0700) if needed. An error says why it
    /// is not safe to use; the caller then runs without a cache.
    pub fn open(dir: &Path) -> Result<CacheDir, String> {
        if dir.as_os_str().is_empty() {
            return Err("the cache directory is an empty path: running without a cache".into());
        }
        if let Err(e) = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            return Err(format!("cannot create cache directory {}: {e}: running without a cache", dir.display()));
        }
        let meta = std::fs::metadata(dir).map_err(|e| format!("cannot use cache directory {}: {e}", dir.display()))?;
        check_dir(dir, &meta)?;
        Ok(CacheDir { dir: dir.to_path_buf() })
    }

    /// A subdirectory (created 0700), held to the same checks, and never a link.
    pub fn sub(&self, name: &str) -> Result<CacheDir, String> {
        let dir = self.dir.join(name);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create cache directory {}: {e}", dir.display())),
        }
        let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("cannot use cache directory {}: {e}", dir.display()))?;
        check_dir(&dir, &meta)?;
        Ok(CacheDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The entry `name`, if present: `Ok(None)` when there is none, an error when
    /// something is there that must not be read (a link, a FIFO, another user's file,
    /// a file larger than `cap`).
    pub fn read(&self, name: &str, cap: u64) -> Result<Option<Vec<u8>>, String> {
        let path = self.dir.join(name);
        let shown = path.display().to_string();
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("{shown}: NUL in path"))?;
        // SAFETY: NUL-terminated path; the descriptor is owned by the File below.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) => Ok(None),
                Some(libc::ELOOP) => Err(format!("cache entry {shown} is a symbolic link: ignored")),
                _ => Err(format!("cannot read cache entry {shown}: {e}")),
            };
        }
        // SAFETY: fresh descriptor.
        let mut file = unsafe { File::from_raw_fd(fd) };
        let meta = file.metadata().map_err(|e| format!("cannot read cache entry {shown}: {e}"))?;
        if !meta.file_type().is_file() {
            return Err(format!("cache entry {shown} is not a regular file: ignored"));
        }
        if meta.uid() != euid() {
            return Err(format!("cache entry {shown} belongs to uid {}, not to this user: ignored", meta.uid()));
        }
        if meta.len() > cap {
            return Err(format!("cache entry {shown} is {} bytes, more than a cache entry can be: ignored", meta.len()));
        }
        let mut bytes = Vec::new();
        Read::by_ref(&mut file).take(cap.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| format!("cannot read cache entry {shown}: {e}"))?;
        if bytes.len() as u64 > cap {
            return Err(format!("cache entry {shown} grew while being read: ignored"));
        }
        Ok(Some(bytes))
    }

    /// Write the entry `name`: a fresh private temporary file, then an atomic rename.
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(&self.dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_data().ok();
        tmp.persist(self.dir.join(name)).map_err(|e| e.error)?;
        Ok(())
    }
}

/// FNV-1a, 64 bits: a checksum against damage (the trust comes from ownership).
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

const MAGIC: &str = "pycoroner-cache";

/// `body` with a header naming what it is (`kind`, `key`) and its checksum.
pub fn seal(kind: &str, key: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{MAGIC} {kind} {key} {} {:016x}\n", body.len(), checksum(body)).into_bytes();
    out.extend_from_slice(body);
    out
}

/// The body of a sealed entry, if it is the entry of `kind` for `key` and undamaged.
pub fn unseal<'a>(kind: &str, key: &str, bytes: &'a [u8]) -> Result<&'a [u8], String> {
    let nl = bytes.iter().position(|&b| b == b'\n').ok_or("no header")?;
    let header = std::str::from_utf8(bytes.get(..nl).unwrap_or_default()).map_err(|_| "header is not text")?;
    let body = bytes.get(nl.saturating_add(1)..).unwrap_or_default();
    let f: Vec<&str> = header.split(' ').collect();
    match f.as_slice() {
        [m, k, id, len, sum] if *m == MAGIC => {
            if *k != kind || *id != key {
                return Err(format!("entry is for {k} {id}, not {kind} {key}"));
            }
            if len.parse::<usize>().ok() != Some(body.len()) {
                return Err("length differs from its header".into());
            }
            if u64::from_str_radix(sum, 16).ok() != Some(checksum(body)) {
                return Err("checksum differs from its header".into());
            }
            Ok(body)
        }
        _ => Err("not a pycoroner cache entry".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_entries_check_kind_key_length_and_checksum() {
        let s = seal("layout", "abcd", b"{\"x\":1}");
        assert_eq!(unseal("layout", "abcd", &s), Ok(&b"{\"x\":1}"[..]));
        assert!(unseal("layout", "abce", &s).is_err());
        assert!(unseal("symbols", "abcd", &s).is_err());
        let mut bad = s.clone();
        *bad.last_mut().expect("byte") = b'2';
        assert!(unseal("layout", "abcd", &bad).is_err());
        assert!(unseal("layout", "abcd", &s[..s.len() - 1]).is_err());
        assert!(unseal("layout", "abcd", b"").is_err());
    }

    #[test]
    fn writes_are_atomic_and_reads_refuse_links_and_fifos() {
        let d = tempfile::tempdir().expect("tmp");
        let c = CacheDir::open(&d.path().join("cache")).expect("cache");
        let mode = std::fs::metadata(c.path()).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o700);
        let sub = c.sub("layouts").expect("sub");
        sub.write("e.json", b"hello").expect("write");
        assert_eq!(sub.read("e.json", 100), Ok(Some(b"hello".to_vec())));
        assert_eq!(sub.read("missing", 100), Ok(None));
        assert!(sub.read("e.json", 3).is_err());
        // A link planted at an entry's name: writing replaces the link, never its target.
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").expect("write");
        std::os::unix::fs::symlink(&victim, sub.path().join("f.json")).expect("link");
        assert!(sub.read("f.json", 100).is_err());
        sub.write("f.json", b"new").expect("write");
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious");
        let fifo = CString::new(sub.path().join("g.json").as_os_str().as_bytes()).expect("c");
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(sub.read("g.json", 100).is_err());
        // A directory others can write is refused.
        let open = d.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
        assert!(CacheDir::open(&open).is_err_and(|e| e.contains("writable by other users")));
        assert!(CacheDir::open(Path::new("")).is_err());
    }
}
