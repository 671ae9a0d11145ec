//! Decoding and validating the target's own `_Py_DebugOffsets` (CPython 3.13+, the
//! first member of `_PyRuntime`, `Include/internal/pycore_debug_offsets.h`): a cookie
//! `xdebugpy`, the version, a free-threading flag, then sub-structs of `u64` sizes and
//! offsets. Where each field sits differs per minor version; that [`TableLayout`] is
//! data, generated from the DWARF of `struct _Py_DebugOffsets` into the built-in
//! tables. Decoding is pure: bytes in, offsets out; every offset is checked against the
//! size of the struct it lies in, and the first bad field is named.

use serde::{Deserialize, Serialize};

use crate::Offsets;

/// The cookie at offset 0.
pub const COOKIE: &[u8; 8] = b"xdebugpy";

/// Where the fields of one version's `_Py_DebugOffsets` are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLayout {
    /// `sizeof(_Py_DebugOffsets)`.
    pub size: u64,
    /// (our key, position of the field, position of the `size` of the struct it is an
    /// offset into).
    pub fields: Vec<(String, u64, u64)>,
    /// Positions of `interpreter_state.gil_runtime_state`, `..._locked`, `..._holder`:
    /// the GIL fields are addressed from the GIL struct, so they are rebased.
    pub gil: Option<(u64, u64, u64)>,
}

/// Why a table was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebugOffsetsError {
    /// Fewer bytes than the table needs.
    Short(usize),
    /// No `xdebugpy` cookie.
    NoCookie,
    /// Not the minor version the layout is for.
    WrongVersion {
        /// `PY_VERSION_HEX` in the table.
        found: u64,
        /// The minor version of the layout.
        layout_minor: u8,
    },
    /// A field lies outside its struct, or a struct size is absurd.
    BadField(String, u64),
}

impl std::fmt::Display for DebugOffsetsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DebugOffsetsError::Short(n) => write!(f, "_Py_DebugOffsets is cut short ({n} bytes)"),
            DebugOffsetsError::NoCookie => write!(f, "_PyRuntime does not start with the xdebugpy cookie"),
            DebugOffsetsError::WrongVersion { found, layout_minor } => {
                write!(f, "_Py_DebugOffsets is of version {found:#x}, the known layout is for 3.{layout_minor}")
            }
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
/// Largest table we read.
pub const MAX_TABLE: u64 = 4096;

fn u64_at(b: &[u8], off: u64) -> Result<u64, DebugOffsetsError> {
    let off = usize::try_from(off).map_err(|_| DebugOffsetsError::Short(b.len()))?;
    b.get(off..off.saturating_add(8))
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or(DebugOffsetsError::Short(b.len()))
}

/// Decode and validate a `_Py_DebugOffsets` table read from `_PyRuntime`, with the
/// layout of minor version `minor`.
pub fn decode(b: &[u8], layout: &TableLayout, minor: u8) -> Result<DebugOffsets, DebugOffsetsError> {
    if b.len() < 24 {
        return Err(DebugOffsetsError::Short(b.len()));
    }
    if b.get(..8) != Some(&COOKIE[..]) {
        return Err(DebugOffsetsError::NoCookie);
    }
    let version_hex = u64_at(b, 8)?;
    let free_threaded = u64_at(b, 16)? != 0;
    if (version_hex >> 16) != 0x0300 | u64::from(minor) {
        return Err(DebugOffsetsError::WrongVersion { found: version_hex, layout_minor: minor });
    }
    if (b.len() as u64) < layout.size.min(MAX_TABLE) {
        return Err(DebugOffsetsError::Short(b.len()));
    }
    let mut o = Offsets::default();
    for (key, pos, size_pos) in &layout.fields {
        let v = u64_at(b, *pos)?;
        let size = u64_at(b, *size_pos)?;
        if size == 0 || size > MAX_STRUCT {
            return Err(DebugOffsetsError::BadField(key.clone(), size));
        }
        if pos != size_pos && v >= size {
            return Err(DebugOffsetsError::BadField(key.clone(), v));
        }
        o.set(key, Some(v));
    }
    if let Some((gil_pos, locked_pos, holder_pos)) = layout.gil {
        let gil = u64_at(b, gil_pos)?;
        for (pos, key) in [(locked_pos, "gil.locked"), (holder_pos, "gil.last_holder")] {
            let v = u64_at(b, pos)?;
            let rel = v.checked_sub(gil).filter(|r| *r < 4096).ok_or(DebugOffsetsError::BadField(key.into(), v))?;
            o.set(key, Some(rel));
        }
    }
    Ok(DebugOffsets { version_hex, free_threaded, offsets: o })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> TableLayout {
        TableLayout {
            size: 120,
            fields: vec![
                ("tstate.size".into(), 24, 24),
                ("tstate.current_frame".into(), 32, 24),
                ("interp.size".into(), 48, 48),
                ("interp.next".into(), 56, 48),
            ],
            gil: Some((64, 72, 80)),
        }
    }

    fn sample() -> Vec<u8> {
        let mut b = vec![0u8; 120];
        b[..8].copy_from_slice(COOKIE);
        b[8..16].copy_from_slice(&0x030D00F0u64.to_le_bytes());
        for (pos, v) in [(24usize, 300u64), (32, 72), (48, 9000), (56, 7264), (64, 7700), (72, 7716), (80, 7708)] {
            b[pos..pos + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    #[test]
    fn decodes_and_rebases_the_gil() {
        let d = decode(&sample(), &layout(), 13).expect("decodes");
        assert_eq!(d.offsets.tstate.current_frame, Some(72));
        assert_eq!(d.offsets.interp.next, Some(7264));
        assert_eq!(d.offsets.gil.locked, Some(16));
        assert_eq!(d.offsets.gil.last_holder, Some(8));
        assert!(!d.free_threaded);
    }

    #[test]
    fn rejects_bad_tables_naming_the_field() {
        let l = layout();
        assert_eq!(decode(b"short", &l, 13), Err(DebugOffsetsError::Short(5)));
        let mut b = sample();
        b[0] = b'X';
        assert_eq!(decode(&b, &l, 13), Err(DebugOffsetsError::NoCookie));
        let mut b = sample();
        b[32..40].copy_from_slice(&5000u64.to_le_bytes());
        assert_eq!(decode(&b, &l, 13), Err(DebugOffsetsError::BadField("tstate.current_frame".into(), 5000)));
        assert!(matches!(decode(&sample(), &l, 14), Err(DebugOffsetsError::WrongVersion { .. })));
    }

    #[test]
    fn fuzz_random_tables_never_panic() {
        let l = layout();
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
            let _ = decode(&b[..cut], &l, 13);
            let _ = decode(&b, &l, 13);
        }
    }
}
