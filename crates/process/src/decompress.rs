//! Cores compressed the way systemd-coredump stores them (zstd, lz4, xz) or with gzip.
//!
//! A compressed core is streamed into an unlinked temporary file (created with
//! `O_TMPFILE`/`O_EXCL` by the `tempfile` crate) which is then read in place (see
//! [`crate::files::FileBytes`]), so memory use stays flat whatever the core's size; how
//! much is written is bounded by the core's own headers (see [`decompress_to_tempfile`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};

/// The compression of a core file, detected from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Zstandard (`.zst`, systemd's default).
    Zstd,
    /// LZ4 frame format (`.lz4`).
    Lz4,
    /// xz (`.xz`).
    Xz,
    /// gzip (`.gz`).
    Gzip,
}

impl Compression {
    /// Detect the compression from the first bytes of a file.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
            Some(Compression::Zstd)
        } else if head.starts_with(&[0x04, 0x22, 0x4D, 0x18]) {
            Some(Compression::Lz4)
        } else if head.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x1F, 0x8B]) {
            Some(Compression::Gzip)
        } else {
            None
        }
    }

    /// Short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
            Compression::Xz => "xz",
            Compression::Gzip => "gzip",
        }
    }
}

/// Bytes of the decompressed stream searched for the ELF and program headers.
const HEAD_MAX: u64 = 64 << 20;

/// Stream-decompress `input` into a fresh unlinked temporary file, returned rewound
/// with its length. The output is bounded by what the core's own program headers say
/// its size is (the end of its last segment) and by the free space where the file is
/// written: a stream that is not an ELF core, claims more than the disk holds, or goes
/// on past its own headers' size is an error before more is written.
pub fn decompress_to_tempfile(kind: Compression, input: File) -> io::Result<(File, u64)> {
    spool(Some(kind), input)
}

/// A core streamed in (standard input, a pipe), compressed or not: written to an
/// unlinked temporary file under the same bounds as [`decompress_to_tempfile`], so
/// memory stays flat whatever its size. Returns the file, its length and the
/// compression it had.
pub fn spool_to_tempfile(input: impl Read) -> io::Result<(File, u64, Option<Compression>)> {
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let kind = Compression::detect(reader.fill_buf()?);
    let (file, len) = spool(kind, reader)?;
    Ok((file, len, kind))
}

fn spool(kind: Option<Compression>, input: impl Read) -> io::Result<(File, u64)> {
    let out = tempfile::tempfile()?;
    let free = free_bytes(&out);
    let reader = BufReader::with_capacity(1 << 16, input);
    let mut w = Bounded { inner: io::BufWriter::with_capacity(1 << 16, out), written: 0, head: Vec::new(), limit: None, free };
    let Some(kind) = kind else {
        let mut r = reader;
        io::copy(&mut r, &mut w)?;
        return finish_spool(w);
    };
    match kind {
        Compression::Zstd => {
            let mut d = ruzstd::StreamingDecoder::new(reader)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            io::copy(&mut d, &mut w)?;
        }
        Compression::Lz4 => {
            let mut d = lz4_flex::frame::FrameDecoder::new(reader);
            io::copy(&mut d, &mut w)?;
        }
        Compression::Xz => {
            let mut r = reader;
            lzma_rs::xz_decompress(&mut r, &mut w).map_err(|e| match e {
                lzma_rs::error::Error::IoError(io) => io,
                other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
            })?;
        }
        Compression::Gzip => {
            let mut d = flate2::read::MultiGzDecoder::new(reader);
            io::copy(&mut d, &mut w)?;
        }
    }
    finish_spool(w)
}

fn finish_spool(mut w: Bounded<io::BufWriter<File>>) -> io::Result<(File, u64)> {
    w.flush()?;
    let len = w.written;
    let mut out = w.inner.into_inner().map_err(|e| e.into_error())?;
    out.rewind()?;
    Ok((out, len))
}

/// Free bytes on the file system holding `f` (unbounded if it cannot be told).
fn free_bytes(f: &File) -> u64 {
    use std::os::fd::AsRawFd;
    // SAFETY: fstatvfs fills the struct passed for a valid descriptor.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatvfs(f.as_raw_fd(), &mut st) } != 0 {
        return u64::MAX;
    }
    st.f_bavail.saturating_mul(st.f_frsize)
}

/// A writer that stops at the size the core's own headers justify.
struct Bounded<W: Write> {
    inner: W,
    written: u64,
    /// The stream's first bytes, kept until the headers are read.
    head: Vec<u8>,
    /// The size the headers give, once known.
    limit: Option<u64>,
    free: u64,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The size an ELF core's headers give it (the end of its furthest segment or table),
/// `Ok(None)` while `head` is too short to tell.
pub fn size_from_headers(head: &[u8]) -> io::Result<Option<u64>> {
    let u16_at = |o: usize| crate::notes::u16_at(head, o).map(u64::from);
    let u64_at = |o: usize| crate::notes::u64_at(head, o);
    if head.len() < 64 {
        if !b"\x7FELF".starts_with(head.get(..head.len().min(4)).unwrap_or_default()) {
            return Err(invalid("the decompressed data is not an ELF core".into()));
        }
        return Ok(None);
    }
    if !head.starts_with(b"\x7FELF") || head.get(4) != Some(&2) {
        return Err(invalid("the decompressed data is not a 64-bit ELF core".into()));
    }
    let (Some(phoff), Some(shoff), Some(phentsize), Some(phnum), Some(shnum)) = (u64_at(32), u64_at(40), u16_at(54), u16_at(56), u16_at(60)) else {
        return Ok(None);
    };
    if phnum == 0xffff {
        // PN_XNUM: the count is at the end of the file; only free space bounds it.
        return Ok(Some(u64::MAX));
    }
    let table_end = phoff.checked_add(phnum.saturating_mul(phentsize)).ok_or_else(|| invalid("program header table overflows".into()))?;
    if table_end > HEAD_MAX {
        return Err(invalid(format!("the program header table ends at byte {table_end}, past the first {HEAD_MAX}")));
    }
    if (head.len() as u64) < table_end {
        return Ok(None);
    }
    let mut end = table_end.max(shoff.saturating_add(shnum.saturating_mul(64)));
    for i in 0..phnum {
        // Inside the table (checked above), so none of these overflow.
        let o = usize::try_from(i.saturating_mul(phentsize).saturating_add(phoff)).unwrap_or(usize::MAX);
        let (Some(off), Some(filesz)) = (u64_at(o.saturating_add(8)), u64_at(o.saturating_add(32))) else { return Ok(None) };
        end = end.max(off.checked_add(filesz).ok_or_else(|| invalid("a segment's end overflows".into()))?);
    }
    Ok(Some(end))
}

impl<W: Write> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.limit.is_none() {
            let take = buf.len().min((HEAD_MAX as usize).saturating_sub(self.head.len()));
            self.head.extend_from_slice(buf.get(..take).unwrap_or_default());
            if let Some(limit) = size_from_headers(&self.head)? {
                if limit != u64::MAX && limit > self.free {
                    return Err(io::Error::new(
                        io::ErrorKind::StorageFull,
                        format!("its headers say it is {limit} bytes decompressed, more than the {} free for temporary files (set TMPDIR to a larger disk, or decompress it yourself)", self.free),
                    ));
                }
                self.limit = Some(limit);
                self.head = Vec::new();
            } else if self.head.len() as u64 >= HEAD_MAX {
                return Err(invalid("no ELF program headers in the first 64 MiB".into()));
            }
        }
        let bound = self.limit.unwrap_or(HEAD_MAX).min(self.free);
        if self.written.saturating_add(buf.len() as u64) > bound {
            return Err(invalid(format!(
                "the decompressed data goes on past {bound} bytes, the size its own headers (or the free space) allow"
            )));
        }
        self.inner.write_all(buf)?;
        self.written = self.written.saturating_add(buf.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_magics() {
        assert_eq!(Compression::detect(&[0x28, 0xB5, 0x2F, 0xFD, 0]), Some(Compression::Zstd));
        assert_eq!(Compression::detect(&[0x04, 0x22, 0x4D, 0x18]), Some(Compression::Lz4));
        assert_eq!(Compression::detect(b"\xFD7zXZ\0"), Some(Compression::Xz));
        assert_eq!(Compression::detect(&[0x1F, 0x8B, 8]), Some(Compression::Gzip));
        assert_eq!(Compression::detect(b"\x7FELF"), None);
    }

    /// A minimal core image: ELF header, one PT_LOAD of `filesz` at offset 120, then
    /// `body` bytes.
    fn core_image(filesz: u64, body: usize) -> Vec<u8> {
        let mut v = vec![0u8; 64];
        v[..4].copy_from_slice(b"\x7FELF");
        v[4] = 2;
        v[5] = 1;
        v[16] = 4; // ET_CORE
        v[32..40].copy_from_slice(&64u64.to_le_bytes());
        v[54..56].copy_from_slice(&56u16.to_le_bytes());
        v[56..58].copy_from_slice(&1u16.to_le_bytes());
        let mut ph = vec![0u8; 56];
        ph[..4].copy_from_slice(&1u32.to_le_bytes());
        ph[8..16].copy_from_slice(&120u64.to_le_bytes());
        ph[32..40].copy_from_slice(&filesz.to_le_bytes());
        v.extend(ph);
        v.extend(std::iter::repeat_n(0xAB, body));
        v
    }

    fn gz(data: &[u8]) -> File {
        use flate2::write::GzEncoder;
        let mut src = tempfile::tempfile().expect("tmp");
        {
            let mut e = GzEncoder::new(&mut src, flate2::Compression::fast());
            e.write_all(data).expect("write");
            e.finish().expect("finish");
        }
        src.rewind().expect("rewind");
        src
    }

    #[test]
    fn gzip_round_trip() {
        use std::io::Read;
        let image = core_image(8, 8);
        let (mut out, len) = decompress_to_tempfile(Compression::Gzip, gz(&image)).expect("decompress");
        assert_eq!(len, 128);
        let mut back = Vec::new();
        out.read_to_end(&mut back).expect("read");
        assert_eq!(back, image);
    }

    #[test]
    fn a_stream_is_spooled_plain_or_compressed() {
        use std::io::Read;
        let image = core_image(8, 8);
        let (mut f, len, kind) = spool_to_tempfile(&image[..]).expect("plain");
        assert_eq!((len, kind), (128, None));
        let mut back = Vec::new();
        f.read_to_end(&mut back).expect("read");
        assert_eq!(back, image);
        let mut packed = Vec::new();
        gz(&image).read_to_end(&mut packed).expect("gz");
        let (_, len, kind) = spool_to_tempfile(&packed[..]).expect("gzip");
        assert_eq!((len, kind), (128, Some(Compression::Gzip)));
        assert!(spool_to_tempfile(&b"not a core at all, just text"[..]).is_err());
    }

    #[test]
    fn a_bomb_is_refused_before_it_fills_the_disk() {
        // Headers that claim an exabyte: refused at once, whatever follows.
        let err = decompress_to_tempfile(Compression::Gzip, gz(&core_image(1 << 60, 4096))).expect_err("bomb");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
        // A stream that goes on past its own headers' size: stopped at that size.
        let err = decompress_to_tempfile(Compression::Gzip, gz(&core_image(8, 1 << 20))).expect_err("longer than said");
        assert!(err.to_string().contains("past 128 bytes"), "{err}");
        // Not an ELF core at all (a gigabyte of zeros compresses to a megabyte): refused
        // after its first bytes.
        let zeros = vec![0u8; 16 << 20];
        let err = decompress_to_tempfile(Compression::Gzip, gz(&zeros)).expect_err("zeros");
        assert!(err.to_string().contains("ELF core"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut src = tempfile::tempfile().expect("tmp");
        src.write_all(&[0x28, 0xB5, 0x2F, 0xFD, 0xFF, 0xFF, 0xFF]).expect("write");
        src.rewind().expect("rewind");
        assert!(decompress_to_tempfile(Compression::Zstd, src).is_err());
    }
}
