//! Decoding and validating the target's own `_Py_DebugOffsets` (CPython 3.13+, the
//! first member of `_PyRuntime`, `Include/internal/pycore_runtime.h`): a cookie
//! `xdebugpy`, the version, a free-threading flag, then sub-structs of `u64` sizes and
//! offsets. Pure: bytes in, offsets out; every offset is checked against the size of
//! the struct it lies in, and the first bad field is named.

use crate::Offsets;

/// The cookie at offset 0.
pub const COOKIE: &[u8; 8] = b"xdebugpy";

/// Bytes to read from `_PyRuntime` to decode the 3.13 table.
pub const SIZE_3_13: usize = 584;

/// Why a table was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebugOffsetsError {
    /// Fewer bytes than the table needs.
    Short(usize),
    /// No `xdebugpy` cookie.
    NoCookie,
    /// A version this decoder has no layout for.
    UnknownVersion(u64),
    /// A field lies outside its struct, or a struct size is absurd.
    BadField(&'static str, u64),
}

impl std::fmt::Display for DebugOffsetsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DebugOffsetsError::Short(n) => write!(f, "_Py_DebugOffsets is cut short ({n} bytes)"),
            DebugOffsetsError::NoCookie => write!(f, "_PyRuntime does not start with the xdebugpy cookie"),
            DebugOffsetsError::UnknownVersion(v) => write!(f, "_Py_DebugOffsets of unknown version {v:#x}"),
            DebugOffsetsError::BadField(name, v) => write!(f, "_Py_DebugOffsets field {name} is invalid ({v:#x})"),
        }
    }
}

/// The decoded table: the interpreter's version, flavour and the offsets it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugOffsets {
    /// `PY_VERSION_HEX`.
    pub version_hex: u64,
    /// `Py_GIL_DISABLED` build.
    pub free_threaded: bool,
    /// The offsets present in the table (others stay `None`).
    pub offsets: Offsets,
}

/// Largest struct size we accept (3.13's `_PyRuntimeState` is ~280 KB).
const MAX_STRUCT: u64 = 1 << 22;

/// The 3.13 layout: (byte position in the table, our key, the struct-size slot it must
/// lie within). A key of `""` is a size slot; `gil.*` are rebased on the GIL struct.
const LAYOUT_3_13: &[(usize, &str, usize)] = &[
    (24, "runtime.size", 24),
    (40, "runtime.interpreters_head", 24),
    (48, "interp.size", 48),
    (56, "interp.id", 48),
    (64, "interp.next", 48),
    (72, "interp.threads_head", 48),
    (112, "interp.ceval_gil", 48),
    (152, "tstate.size", 152),
    (160, "tstate.prev", 152),
    (168, "tstate.next", 152),
    (176, "tstate.interp", 152),
    (184, "tstate.current_frame", 152),
    (192, "tstate.thread_id", 152),
    (200, "tstate.native_thread_id", 152),
    (232, "iframe.previous", 224),
    (240, "iframe.code", 224),
    (248, "iframe.instr", 224),
    (256, "iframe.localsplus", 224),
    (264, "iframe.owner", 224),
    (280, "code.filename", 272),
    (288, "code.name", 272),
    (296, "code.qualname", 272),
    (304, "code.linetable", 272),
    (312, "code.firstlineno", 272),
    (320, "code_vars.argcount", 272),
    (328, "code_vars.localsplusnames", 272),
    (336, "code_vars.localspluskinds", 272),
    (344, "code.code_adaptive", 272),
    (360, "object.ob_type", 352),
    (376, "type_object.tp_name", 368),
    (392, "type_object.tp_flags", 368),
    (408, "tuple.item", 400),
    (416, "object.ob_size", 400),
    (432, "list.item", 424),
    (456, "dict.keys", 448),
    (464, "dict.values", 448),
    (480, "float.fval", 472),
    (496, "long.lv_tag", 488),
    (504, "long.digit", 488),
    (528, "bytes.sval", 512),
    (544, "unicode.state", 536),
    (552, "unicode.length", 536),
    (560, "unicode.ascii_size", 536),
];

fn u64_at(b: &[u8], off: usize) -> Result<u64, DebugOffsetsError> {
    b.get(off..off + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or(DebugOffsetsError::Short(b.len()))
}

/// Decode and validate a `_Py_DebugOffsets` table read from `_PyRuntime`.
pub fn decode(b: &[u8]) -> Result<DebugOffsets, DebugOffsetsError> {
    if b.len() < 24 {
        return Err(DebugOffsetsError::Short(b.len()));
    }
    if b.get(..8) != Some(&COOKIE[..]) {
        return Err(DebugOffsetsError::NoCookie);
    }
    let version_hex = u64_at(b, 8)?;
    let free_threaded = u64_at(b, 16)? != 0;
    if (version_hex >> 16) != 0x030D {
        return Err(DebugOffsetsError::UnknownVersion(version_hex));
    }
    if b.len() < SIZE_3_13 {
        return Err(DebugOffsetsError::Short(b.len()));
    }
    let mut o = Offsets::default();
    for &(pos, key, size_pos) in LAYOUT_3_13 {
        let v = u64_at(b, pos)?;
        let size = u64_at(b, size_pos)?;
        if size == 0 || size > MAX_STRUCT {
            return Err(DebugOffsetsError::BadField(key, size));
        }
        if pos != size_pos && v >= size {
            return Err(DebugOffsetsError::BadField(key, v));
        }
        o.set(key, Some(v));
    }
    // The interpreter's own GIL: `gil_runtime_state` is where `_gil` starts in the
    // interpreter, `_locked`/`_holder` where its fields are; we address them from the
    // GIL that `ceval.gil` points to.
    let gil = u64_at(b, 120)?;
    for (pos, key) in [(136usize, "gil.locked"), (144, "gil.last_holder")] {
        let v = u64_at(b, pos)?;
        let rel = v.checked_sub(gil).filter(|r| *r < 4096).ok_or(DebugOffsetsError::BadField(key, v))?;
        o.set(key, Some(rel));
    }
    Ok(DebugOffsets { version_hex, free_threaded, offsets: o })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = vec![0u8; SIZE_3_13];
        b[..8].copy_from_slice(COOKIE);
        b[8..16].copy_from_slice(&0x030D00F0u64.to_le_bytes());
        for &(pos, _, size_pos) in LAYOUT_3_13 {
            b[size_pos..size_pos + 8].copy_from_slice(&1000u64.to_le_bytes());
            if pos != size_pos {
                b[pos..pos + 8].copy_from_slice(&(pos as u64).to_le_bytes());
            }
        }
        b[120..128].copy_from_slice(&500u64.to_le_bytes());
        b[136..144].copy_from_slice(&516u64.to_le_bytes());
        b[144..152].copy_from_slice(&508u64.to_le_bytes());
        b
    }

    #[test]
    fn decodes_and_rebases_the_gil() {
        let d = decode(&sample()).expect("decodes");
        assert_eq!(d.offsets.tstate.current_frame, Some(184));
        assert_eq!(d.offsets.gil.locked, Some(16));
        assert_eq!(d.offsets.gil.last_holder, Some(8));
        assert!(!d.free_threaded);
    }

    #[test]
    fn rejects_bad_tables_naming_the_field() {
        assert_eq!(decode(b"short"), Err(DebugOffsetsError::Short(5)));
        let mut b = sample();
        b[0] = b'X';
        assert_eq!(decode(&b), Err(DebugOffsetsError::NoCookie));
        let mut b = sample();
        b[184..192].copy_from_slice(&5000u64.to_le_bytes());
        assert_eq!(decode(&b), Err(DebugOffsetsError::BadField("tstate.current_frame", 5000)));
        let mut b = sample();
        b[8..16].copy_from_slice(&0x030E00F0u64.to_le_bytes());
        assert!(matches!(decode(&b), Err(DebugOffsetsError::UnknownVersion(_))));
    }

    #[test]
    fn fuzz_random_tables_never_panic() {
        let mut s = 0x9E3779B97F4A7C15u64;
        for _ in 0..20_000 {
            let mut b = sample();
            for _ in 0..4 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let i = (s as usize) % b.len();
                b[i] = (s >> 32) as u8;
            }
            let cut = (s >> 40) as usize % (b.len() + 1);
            let _ = decode(&b[..cut.max(b.len() / 2)]);
            let _ = decode(&b);
        }
    }
}
