//! Symbolizing a pc from the one compilation unit that holds it, when that unit is
//! self-contained: addr2line's context over a whole file parses every unit's
//! abbreviations and line program header before its first answer (libc's debug file
//! has thousands of units: 20 ms, more than everything else a cold analysis does).
//!
//! `.debug_aranges` names the unit of a pc. A unit whose entries refer only inside
//! itself (no `DW_FORM_ref_addr`, type signature, supplementary-file or indirect form
//! in its abbreviations) reads the same when `.debug_info` is cut down to it: its
//! strings, line program, ranges and addresses are in other sections, kept whole. The
//! context over that one unit then gives the frames the whole file's context gives.
//! Any other case (no aranges entry, a unit that refers outside itself, no frames
//! found) is the caller's to answer: from the unit and the ones it refers to
//! (`crossunit`), else with the whole file's context.

use gimli::{DebugInfoOffset, Reader, Section};

use crate::sections::R;

/// Most address ranges indexed from one file's `.debug_aranges`.
const MAX_ARANGES: usize = 1 << 22;

/// Most abbreviation declarations read for one unit.
const MAX_ABBREVS: usize = 1 << 16;

/// Address ranges → unit offset, sorted by start: `(start, end, unit offset)`, from
/// `.debug_aranges` (or, for a file without, from the units' own ranges).
pub(crate) struct ArangeIndex {
    ranges: Vec<(u64, u64, usize)>,
    /// No two ranges overlap (then a pc has at most one unit).
    disjoint: bool,
}

impl ArangeIndex {
    /// Index a `.debug_aranges` (a malformed set ends the index there).
    pub(crate) fn new(aranges: &gimli::DebugAranges<R>) -> ArangeIndex {
        let mut out = Vec::new();
        let mut headers = aranges.headers();
        'sets: while let Ok(Some(h)) = headers.next() {
            let unit = h.debug_info_offset().0;
            let mut entries = h.entries();
            while let Ok(Some(e)) = entries.next() {
                if out.len() >= MAX_ARANGES {
                    break 'sets;
                }
                let r = e.range();
                if r.end > r.begin {
                    out.push((r.begin, r.end, unit));
                }
            }
        }
        Self::from_ranges(out)
    }

    /// Index `(start, end, unit offset)` ranges.
    pub(crate) fn from_ranges(mut ranges: Vec<(u64, u64, usize)>) -> ArangeIndex {
        ranges.sort_unstable();
        let disjoint = ranges.windows(2).all(|w| matches!(w, [a, b] if a.1 <= b.0));
        ArangeIndex { ranges, disjoint }
    }

    /// Whether it has no range.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The start of every range.
    pub(crate) fn starts(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().map(|r| r.0)
    }

    /// The unit of the last range starting at or before `pc`, when it holds `pc`.
    pub(crate) fn unit_at(&self, pc: u64) -> Option<usize> {
        let i = self.ranges.partition_point(|r| r.0 <= pc);
        self.ranges.get(i.checked_sub(1)?).filter(|r| pc < r.1).map(|r| r.2)
    }

    /// The one unit whose range holds `pc` (`None` too when ranges overlap: no pc
    /// has one unit then).
    pub(crate) fn unit_of(&self, pc: u64) -> Option<usize> {
        self.unit_at(pc).filter(|_| self.disjoint)
    }

    /// Whether the ranges are disjoint, there are some, and none holds `pc` (the file's
    /// units have no code there).
    pub(crate) fn covers_nothing_at(&self, pc: u64) -> bool {
        self.disjoint && !self.ranges.is_empty() && self.unit_at(pc).is_none()
    }
}

/// Forms that refer outside their unit: to another unit (`ref_addr`), a type unit
/// (`ref_sig8`), a supplementary file (`ref_sup4/8`, `GNU_ref_alt`, `GNU_strp_alt`,
/// `strp_sup`), or a form named in the entry itself (`indirect`).
const OUTWARD_FORMS: [u64; 8] = [0x10, 0x20, 0x1c, 0x24, 0x1f20, 0x1f21, 0x1d, 0x16];

/// Whether every abbreviation of the table at `abbrev_offset` in `.debug_abbrev` keeps
/// its entries' references inside their unit (`None`: the table could not be read).
pub(crate) fn self_contained(debug_abbrev: &R, abbrev_offset: usize) -> Option<bool> {
    let mut r = debug_abbrev.clone();
    r.skip(abbrev_offset).ok()?;
    let mut forms = Vec::new();
    for _ in 0..MAX_ABBREVS {
        if crate::abbrev::declaration(&mut r, &mut forms)? == 0 {
            return Some(true);
        }
        if forms.iter().any(|f| OUTWARD_FORMS.contains(f)) {
            return Some(false);
        }
    }
    None
}

/// `dwarf` with `.debug_info` cut down to the unit at `unit` (and no `.debug_aranges`,
/// which would name offsets of the whole section), when that unit is self-contained.
pub(crate) fn unit_dwarf(mut dwarf: gimli::Dwarf<R>, unit: usize) -> Option<gimli::Dwarf<R>> {
    let header = dwarf.debug_info.header_from_offset(DebugInfoOffset(unit)).ok()?;
    let end = unit.checked_add(header.length_including_self())?;
    let info = dwarf.debug_info.reader().clone();
    if end > info.len() {
        return None;
    }
    if !self_contained(dwarf.debug_abbrev.reader(), header.debug_abbrev_offset().0)? {
        return None;
    }
    dwarf.debug_info = gimli::DebugInfo::from(info.range(unit..end));
    let mut none = info;
    none.empty();
    dwarf.debug_aranges = gimli::DebugAranges::from(none);
    Some(dwarf)
}

/// What symbolizing by unit decodes from a file, on one ELF file's bytes (for
/// fuzzing): its `.debug_aranges` and at up to 64 addresses they cover (and next to
/// them) the unit's abbreviation table, its cut-down DWARF, a context over it and its
/// frames, the frames read across units, and the whole file's.
#[doc(hidden)]
pub fn exercise(data: &[u8]) {
    let Some(dwarf) = crate::sections::dwarf_of_bytes(data) else { return };
    let index = ArangeIndex::new(&dwarf.debug_aranges);
    let whole = addr2line::Context::from_dwarf(dwarf).ok();
    let calls = crate::tailcall::ModuleCalls::load(data);
    let cross = super::crossunit::CrossUnits::default();
    for svma in index.ranges.iter().take(64).flat_map(|r| [r.0, r.0.wrapping_add(1), r.1.wrapping_sub(1)]) {
        if let Some(context) = &whole {
            let _ = super::frames(context, svma);
        }
        if let Some(calls) = &calls {
            let _ = cross.frames(calls, svma);
        }
        let Some(unit) = index.unit_of(svma) else { continue };
        let Some(dwarf) = crate::sections::dwarf_of_bytes(data).and_then(|d| unit_dwarf(d, unit)) else { continue };
        if let Ok(context) = addr2line::Context::from_dwarf(dwarf) {
            let _ = super::frames(&context, svma);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8]) -> R {
        R::new(crate::sections::SectionBytes::heap(std::sync::Arc::new(bytes.to_vec())), gimli::LittleEndian)
    }

    #[test]
    fn a_unit_referring_to_another_is_not_self_contained() {
        // code 1, DW_TAG_compile_unit, children; (DW_AT_name, strp); end; then code 2,
        // DW_TAG_subprogram, no children, (DW_AT_abstract_origin, ref_addr); end; table end.
        let outward = reader(&[1, 0x11, 1, 0x03, 0x0e, 0, 0, 2, 0x2e, 0, 0x31, 0x10, 0, 0, 0]);
        assert_eq!(self_contained(&outward, 0), Some(false));
        // The same with a unit-relative reference (ref4), and an implicit constant.
        let inward = reader(&[1, 0x11, 1, 0x03, 0x0e, 0x0b, 0x21, 0x7f, 0, 0, 2, 0x2e, 0, 0x31, 0x13, 0, 0, 0]);
        assert_eq!(self_contained(&inward, 0), Some(true));
        // A table that ends early, or an offset past it.
        assert_eq!(self_contained(&reader(&[1, 0x11, 1, 0x03]), 0), None);
        assert_eq!(self_contained(&inward, 100), None);
    }

    #[test]
    fn a_pc_in_a_range_names_its_unit_and_overlapping_ranges_name_none() {
        let index = ArangeIndex::from_ranges(vec![(0x300, 0x400, 11), (0x100, 0x200, 7), (0x200, 0x280, 9)]);
        assert_eq!(index.unit_of(0x100), Some(7));
        assert_eq!(index.unit_of(0x1ff), Some(7));
        assert_eq!(index.unit_of(0x200), Some(9));
        assert_eq!(index.unit_of(0x2a0), None);
        assert_eq!(index.unit_of(0x50), None);
        assert_eq!(index.unit_of(0x3ff), Some(11));
        assert_eq!(index.unit_of(0x400), None);
        let overlapping = ArangeIndex::from_ranges(vec![(0x300, 0x400, 11), (0x350, 0x360, 13)]);
        assert_eq!(overlapping.unit_of(0x310), None);
        // The last range starting at or before a pc still answers for call sites.
        assert_eq!(overlapping.unit_at(0x355), Some(13));
        assert!(!overlapping.covers_nothing_at(0x500));
        assert!(index.covers_nothing_at(0x2a0) && !index.covers_nothing_at(0x100));
    }
}
