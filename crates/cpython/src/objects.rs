//! The few object decoders a traceback needs: `str` and `bytes`, type checks.
//! Every length is capped before anything is allocated.

use pycoroner_layouts::{key, Key, Offsets};
use pycoroner_process::{Memory, MemoryExt, RemoteAddr};

use crate::error::{need, Error};

/// Longest `str` we decode, in code points.
pub const MAX_STR_CHARS: u64 = 1 << 20;
/// Longest `bytes` we read.
pub const MAX_BYTES: u64 = 16 << 20;

/// Read `ob_type`.
pub fn ob_type(mem: &dyn Memory, o: &Offsets, obj: RemoteAddr) -> Result<RemoteAddr, Error> {
    let off = need(o, key::object::ob_type)?;
    Ok(mem.read_ptr(obj.offset(off).ok_or(Error::Overflow(obj))?)?)
}

/// Longest name (file, function, thread) kept, in code points: a longer one is cut and
/// ends in `...`, as faulthandler cuts at 500. Names are repeated on every frame of a
/// deep stack, so their size bounds the report's.
pub const MAX_NAME_CHARS: u64 = 4096;

/// Decode a `str` used as a name: at most [`MAX_NAME_CHARS`] of it, then `...`.
pub fn read_name(mem: &dyn Memory, o: &Offsets, obj: RemoteAddr) -> Result<String, Error> {
    read_str_prefix(mem, o, obj, MAX_NAME_CHARS)
}

/// Decode a `str` object (PEP 393 compact or legacy ready strings).
pub fn read_str(mem: &dyn Memory, o: &Offsets, obj: RemoteAddr) -> Result<String, Error> {
    read_str_prefix(mem, o, obj, MAX_STR_CHARS)
}

/// Decode at most `keep` code points of a `str`; a longer one ends in `...`.
fn read_str_prefix(mem: &dyn Memory, o: &Offsets, obj: RemoteAddr, keep: u64) -> Result<String, Error> {
    if obj.is_null() {
        return Err(Error::Null("str"));
    }
    let at = |key: Key| -> Result<RemoteAddr, Error> {
        obj.offset(need(o, key)?).ok_or(Error::Overflow(obj))
    };
    let length = mem.read_u64(at(key::unicode::length)?)?;
    let state = mem.read_u32(at(key::unicode::state)?)?;
    // state bits (Include/cpython/unicodeobject.h, 3.6–3.13): interned:2 kind:3 compact:1 ascii:1
    let kind = u64::from((state >> 2) & 7);
    let compact = (state >> 5) & 1 == 1;
    let ascii = (state >> 6) & 1 == 1;
    if length > MAX_STR_CHARS {
        return Err(Error::Corrupt { what: "str length", addr: obj });
    }
    if !matches!(kind, 1 | 2 | 4) || (ascii && kind != 1) {
        return Err(Error::Corrupt { what: "str kind", addr: obj });
    }
    let data = if compact && ascii {
        at(key::unicode::ascii_size)?
    } else if compact {
        at(key::unicode::compact_size)?
    } else {
        mem.read_ptr(at(key::unicode::data)?)?
    };
    let cut = length > keep;
    let bytes = mem.read_vec(data, length.min(keep).saturating_mul(kind), MAX_STR_CHARS * 4)?;
    let mut s = String::with_capacity(bytes.len());
    match kind {
        1 => s.extend(bytes.iter().map(|&b| char::from(b))),
        2 => s.extend(bytes.chunks_exact(2).map(|c| {
            let unit = <[u8; 2]>::try_from(c).map_or(0xFFFD, u16::from_le_bytes);
            char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}')
        })),
        _ => s.extend(bytes.chunks_exact(4).map(|c| {
            char::from_u32(<[u8; 4]>::try_from(c).map_or(0xFFFD, u32::from_le_bytes)).unwrap_or('\u{FFFD}')
        })),
    }
    if cut {
        s.push_str("...");
    }
    Ok(s)
}

/// Read the contents of a `bytes` object, at most `cap` bytes.
pub fn read_bytes(mem: &dyn Memory, o: &Offsets, obj: RemoteAddr, cap: u64) -> Result<Vec<u8>, Error> {
    if obj.is_null() {
        return Err(Error::Null("bytes"));
    }
    let size = mem.read_i64(obj.offset(need(o, key::object::ob_size)?).ok_or(Error::Overflow(obj))?)?;
    let size = u64::try_from(size).map_err(|_| Error::Corrupt { what: "bytes size", addr: obj })?;
    Ok(mem.read_vec(obj.offset(need(o, key::bytes::sval)?).ok_or(Error::Overflow(obj))?, size, cap)?)
}
