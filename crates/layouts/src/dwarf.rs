//! Struct layouts as a DWARF reader answers them: the question (which structs) and the
//! answer (each struct's size and flattened members). Data only: `pycoroner-debuginfo`
//! fills it from a file, the CPython model turns it into an offsets table, and neither
//! needs the other.

use std::collections::HashMap;

/// Which structs to extract.
#[derive(Debug, Clone, Default)]
pub struct LayoutQuery {
    /// Struct tag names (`_ts`) or typedef names (`PyASCIIObject`).
    pub names: Vec<String>,
    /// Where to look first: compilation units whose name ends with one of these
    /// (`Objects/setobject.c`) are read before the others. Order only: every unit is
    /// still read while a name is missing, so a wrong place costs time, never an answer.
    pub places: Vec<String>,
}

/// One member, flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Byte offset from the start of the outermost struct.
    pub offset: u64,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// The extracted layout of one struct.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StructLayout {
    /// `sizeof`.
    pub size: Option<u64>,
    /// Dotted member path → member.
    pub members: HashMap<String, Member>,
}

/// Layouts found, by requested name. Names not found are absent.
#[derive(Debug, Clone, Default)]
pub struct LayoutAnswer {
    /// Struct layouts by requested name.
    pub structs: HashMap<String, StructLayout>,
}

impl LayoutAnswer {
    /// Offset of a member path in a struct.
    pub fn offset(&self, st: &str, path: &str) -> Option<u64> {
        self.structs.get(st)?.members.get(path).map(|m| m.offset)
    }
    /// Size of a struct.
    pub fn size(&self, st: &str) -> Option<u64> {
        self.structs.get(st)?.size
    }
}

