//! Cores compressed the way systemd-coredump stores them (zstd, lz4, xz) or with gzip.
//!
//! A compressed core is streamed into an unlinked temporary file which is then mapped,
//! so memory use stays flat whatever the core's size.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};

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

/// Stream-decompress `input` into a fresh unlinked temporary file, returned rewound.
pub fn decompress_to_tempfile(kind: Compression, input: File) -> io::Result<File> {
    let mut out = tempfile::tempfile()?;
    let reader = BufReader::with_capacity(1 << 16, input);
    {
        let mut w = io::BufWriter::with_capacity(1 << 16, &mut out);
        match kind {
            Compression::Zstd => {
                let mut d = ruzstd::StreamingDecoder::new(reader)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                copy(&mut d, &mut w)?;
            }
            Compression::Lz4 => {
                let mut d = lz4_flex::frame::FrameDecoder::new(reader);
                copy(&mut d, &mut w)?;
            }
            Compression::Xz => {
                let mut r = reader;
                lzma_rs::xz_decompress(&mut r, &mut w)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            }
            Compression::Gzip => {
                let mut d = flate2::read::MultiGzDecoder::new(reader);
                copy(&mut d, &mut w)?;
            }
        }
        w.flush()?;
    }
    out.rewind()?;
    Ok(out)
}

fn copy(r: &mut dyn Read, w: &mut dyn Write) -> io::Result<u64> {
    io::copy(r, w)
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

    #[test]
    fn gzip_round_trip() {
        use flate2::write::GzEncoder;
        let mut src = tempfile::tempfile().expect("tmp");
        {
            let mut e = GzEncoder::new(&mut src, flate2::Compression::fast());
            e.write_all(b"hello core").expect("write");
            e.finish().expect("finish");
        }
        src.rewind().expect("rewind");
        let mut out = decompress_to_tempfile(Compression::Gzip, src).expect("decompress");
        let mut s = String::new();
        out.read_to_string(&mut s).expect("read");
        assert_eq!(s, "hello core");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut src = tempfile::tempfile().expect("tmp");
        src.write_all(&[0x28, 0xB5, 0x2F, 0xFD, 0xFF, 0xFF, 0xFF]).expect("write");
        src.rewind().expect("rewind");
        assert!(decompress_to_tempfile(Compression::Zstd, src).is_err());
    }
}
