//! Compressed cores (zstd, lz4, xz, gzip): the first byte picks the format, the rest is
//! the stream; output is bounded by the ELF headers it carries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pycoroner_process::decompress::{decompress_to_tempfile, size_from_headers, Compression};

fuzz_target!(|data: &[u8]| {
    let _ = size_from_headers(data);
    let Some((&pick, stream)) = data.split_first() else { return };
    let kind = [Compression::Zstd, Compression::Lz4, Compression::Xz, Compression::Gzip][usize::from(pick % 4)];
    let Ok(mut f) = tempfile::tempfile() else { return };
    if std::io::Write::write_all(&mut f, stream).is_err() || std::io::Seek::rewind(&mut f).is_err() {
        return;
    }
    let _ = decompress_to_tempfile(kind, f);
});
