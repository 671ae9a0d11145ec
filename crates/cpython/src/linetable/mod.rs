//! Line numbers from a code object's line table, exactly as `PyCode_Addr2Line` computes
//! them. One module per format; the [`LineTableFormat`] is chosen once per interpreter.

pub mod locations;
pub mod lnotab;
pub mod v310;

/// The three line-table formats of CPython.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineTableFormat {
    /// 3.6–3.9 `co_lnotab`: (Δaddr u8, Δline i8) pairs.
    Lnotab,
    /// 3.10 `co_linetable`: (Δend u8, Δline i8) ranges, −128 = no line.
    V310,
    /// 3.11+ location table (PEP 657).
    Locations,
}

impl LineTableFormat {
    /// The line for byte offset `addr` of the bytecode, or `None` where CPython has none.
    pub fn line_for(self, table: &[u8], firstlineno: i32, addr: i64) -> Option<i32> {
        match self {
            LineTableFormat::Lnotab => Some(lnotab::line_for(table, firstlineno, addr)),
            LineTableFormat::V310 => v310::line_for(table, firstlineno, addr),
            LineTableFormat::Locations => locations::line_for(table, firstlineno, addr),
        }
    }
}
