//! Frames of a pc in a compilation unit that refers to other units (an LTO build's
//! partitions name their functions' origins in the units of the source files), read
//! from that unit and only the units its names lead to, with addr2line's rules:
//! addr2line answers such a pc only from a context over the whole file, which parses
//! every unit before its first answer and every inlined call of a function (with its
//! name, across units) before the first frame in it. Debian's python3.11: 8–10 ms for
//! the context, then some 0.5 ms a pc.
//!
//! The rules followed (addr2line 0.24's, so that both give the same frames):
//! - the function is the `DW_TAG_subprogram` (at any depth) whose ranges hold the pc;
//! - its inlined calls are the `DW_TAG_inlined_subroutine` entries below it, not below
//!   a nested subprogram, each at the depth of inlined calls around it; the chain is,
//!   at each depth from 0, the one whose ranges hold the pc;
//! - a name is the first linkage name, else the name, else the origin's (through
//!   `DW_AT_abstract_origin` or `DW_AT_specification`, 16 hops), attributes read in
//!   their order;
//! - the innermost frame's location is the line table's row at the pc (rows at one
//!   address: the last), the others' the call file and line of the frame inside them;
//! - a file is rendered as the compilation directory, the file's directory (index 0
//!   excepted), then its name, an absolute part replacing what came before.
//!
//! Anything else (overlapping functions, no function and no row, a malformed entry)
//! is `None`: the caller then asks the whole file's context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gimli::{AttributeValue, DebugInfoOffset, UnitOffset};

use super::Symbol;
use crate::sections::R;
use crate::tailcall::ModuleCalls;

/// Most entries read from one unit.
const MAX_ENTRIES: usize = 1 << 24;

/// Most origin hops followed for a name (addr2line's limit).
const MAX_NAME_HOPS: usize = 16;

/// What one unit's frames need, read once: its functions' ranges and its line table.
struct UnitFrames {
    unit: gimli::Unit<R>,
    /// (begin, end, subprogram entry), sorted and disjoint.
    functions: Vec<(u64, u64, UnitOffset)>,
    lines: Lines,
    /// Inlined calls of each function read so far.
    inlined: Mutex<HashMap<UnitOffset, Arc<Vec<Inlined>>>>,
}

/// A line table row: (address, file index, line; 0: none).
type Row = (u64, u64, u32);

struct Lines {
    /// Rendered file names by index.
    files: Vec<String>,
    /// Sequences sorted by start: (start, end, rows).
    sequences: Vec<(u64, u64, Vec<Row>)>,
}

/// One inlined call below a function.
#[derive(Clone)]
struct Inlined {
    entry: UnitOffset,
    depth: usize,
    begin: u64,
    end: u64,
    call_file: Option<u64>,
    call_line: u32,
}

/// Per module: the units read so far (`None`: one that cannot be answered here).
#[derive(Default)]
pub(crate) struct CrossUnits {
    units: Mutex<HashMap<DebugInfoOffset, Option<Arc<UnitFrames>>>>,
    /// Units names were followed into (each frame's origin is in one), parsed once.
    origins: Mutex<HashMap<DebugInfoOffset, Option<Arc<gimli::Unit<R>>>>>,
}

impl CrossUnits {
    /// The frames of `svma`, innermost first, or `None` (see the module's text).
    pub(crate) fn frames(&self, calls: &ModuleCalls, svma: u64) -> Option<Vec<Symbol>> {
        let off = calls.unit_at(svma)?;
        let known = self.units.lock().ok()?.get(&off).cloned();
        let unit = match known {
            Some(unit) => unit?,
            None => {
                // Read outside the lock: another thread may read another unit meanwhile.
                let unit = UnitFrames::read(calls, off).map(Arc::new);
                self.units.lock().ok()?.entry(off).or_insert(unit).clone()?
            }
        };
        unit.frames(self, calls, svma)
    }

    /// The unit starting at `start`, parsed once.
    fn origin_unit(&self, calls: &ModuleCalls, start: DebugInfoOffset) -> Option<Arc<gimli::Unit<R>>> {
        if let Some(hit) = self.origins.lock().ok()?.get(&start) {
            return hit.clone();
        }
        let unit = calls.unit(start).map(Arc::new);
        self.origins.lock().ok()?.entry(start).or_insert(unit).clone()
    }
}

impl UnitFrames {
    fn read(calls: &ModuleCalls, off: DebugInfoOffset) -> Option<UnitFrames> {
        let unit = calls.unit(off)?;
        let dwarf = calls.dwarf();
        let mut functions = Vec::new();
        let mut entries = unit.entries_raw(None).ok()?;
        let mut seen = 0usize;
        while !entries.is_empty() {
            seen = seen.saturating_add(1);
            if seen > MAX_ENTRIES {
                return None;
            }
            let at = entries.next_offset();
            let Some(abbrev) = entries.read_abbreviation().ok()? else { continue };
            if abbrev.tag() != gimli::DW_TAG_subprogram {
                entries.skip_attributes(abbrev.attributes()).ok()?;
                continue;
            }
            let mut r = RangeAttrs::default();
            for spec in abbrev.attributes() {
                let attr = entries.read_attribute(*spec).ok()?;
                r.note(dwarf, &unit, &attr)?;
            }
            r.each(dwarf, &unit, |b, e| functions.push((b, e, at)))?;
        }
        functions.sort_by_key(|f| f.0);
        if !functions.windows(2).all(|w| matches!(w, [a, b] if a.1 <= b.0)) {
            return None;
        }
        let lines = Lines::read(dwarf, &unit)?;
        Some(UnitFrames { unit, functions, lines, inlined: Mutex::default() })
    }

    fn frames(&self, cross: &CrossUnits, calls: &ModuleCalls, svma: u64) -> Option<Vec<Symbol>> {
        let dwarf = calls.dwarf();
        let location = self.lines.at(svma);
        let i = self.functions.partition_point(|f| f.0 <= svma);
        let Some(&(_, _, function)) = self.functions.get(i.checked_sub(1)?).filter(|f| svma < f.1) else {
            // No function: the row alone, as addr2line gives it.
            let (file, line) = location?;
            return Some(vec![Symbol { function: None, file, line, inlined: true }]);
        };
        let inlined = self.inlined_of(dwarf, function)?;
        // At each depth from 0, the inlined call holding the pc.
        let mut chain: Vec<&Inlined> = Vec::new();
        for depth in 0.. {
            let i = inlined.partition_point(|c| (c.depth, c.begin) <= (depth, svma));
            match i.checked_sub(1).and_then(|i| inlined.get(i)).filter(|c| c.depth == depth && svma < c.end) {
                Some(c) => chain.push(c),
                None => break,
            }
        }
        let mut out = Vec::new();
        let mut here = location;
        for call in chain.iter().rev() {
            let name = name_of(cross, calls, &self.unit, call.entry);
            let (file, line) = here.take().unwrap_or((None, None));
            out.push(Symbol { function: name, file, line, inlined: true });
            let file = call.call_file.and_then(|f| self.lines.files.get(usize::try_from(f).ok()?).cloned());
            here = Some((file, (call.call_line != 0).then_some(call.call_line)));
        }
        let (file, line) = here.unwrap_or((None, None));
        out.push(Symbol { function: name_of(cross, calls, &self.unit, function), file, line, inlined: true });
        Some(out)
    }

    /// The inlined calls below a function, read once.
    fn inlined_of(&self, dwarf: &gimli::Dwarf<R>, function: UnitOffset) -> Option<Arc<Vec<Inlined>>> {
        if let Some(hit) = self.inlined.lock().ok()?.get(&function) {
            return Some(hit.clone());
        }
        let mut out = Vec::new();
        let mut entries = self.unit.entries_raw(Some(function)).ok()?;
        let top = entries.next_depth();
        let abbrev = entries.read_abbreviation().ok()??;
        entries.skip_attributes(abbrev.attributes()).ok()?;
        // Entry depths of the inlined calls and nested subprograms open, and how many
        // of each (kept as counts: a hostile unit can nest deeply).
        let mut open: Vec<(isize, bool)> = Vec::new();
        let (mut calls_open, mut nested_open) = (0usize, 0usize);
        let mut seen = 0usize;
        while entries.next_depth() > top {
            seen = seen.saturating_add(1);
            if seen > MAX_ENTRIES {
                return None;
            }
            let depth = entries.next_depth();
            let at = entries.next_offset();
            while let Some(&(_, call)) = open.last().filter(|o| o.0 >= depth) {
                open.pop();
                if call {
                    calls_open = calls_open.saturating_sub(1);
                } else {
                    nested_open = nested_open.saturating_sub(1);
                }
            }
            let Some(abbrev) = entries.read_abbreviation().ok()? else { continue };
            match abbrev.tag() {
                gimli::DW_TAG_subprogram => {
                    entries.skip_attributes(abbrev.attributes()).ok()?;
                    open.push((depth, false));
                    nested_open = nested_open.saturating_add(1);
                }
                // Below a nested subprogram: not this function's.
                gimli::DW_TAG_inlined_subroutine if nested_open == 0 => {
                    let level = calls_open;
                    let mut r = RangeAttrs::default();
                    let (mut call_file, mut call_line) = (None, 0);
                    for spec in abbrev.attributes() {
                        let attr = entries.read_attribute(*spec).ok()?;
                        r.note(dwarf, &self.unit, &attr)?;
                        match (attr.name(), attr.value()) {
                            (gimli::DW_AT_call_file, AttributeValue::FileIndex(f)) if f > 0 || self.unit.header.version() >= 5 => call_file = Some(f),
                            (gimli::DW_AT_call_line, v) => call_line = low32(v.udata_value().unwrap_or(0)),
                            _ => {}
                        }
                    }
                    r.each(dwarf, &self.unit, |begin, end| out.push(Inlined { entry: at, depth: level, begin, end, call_file, call_line }))?;
                    open.push((depth, true));
                    calls_open = calls_open.saturating_add(1);
                }
                _ => entries.skip_attributes(abbrev.attributes()).ok()?,
            }
        }
        // By depth, then start: the chain is looked up depth by depth.
        out.sort_by_key(|c| (c.depth, c.begin));
        let out = Arc::new(out);
        if let Ok(mut m) = self.inlined.lock() {
            m.insert(function, out.clone());
        }
        Some(out)
    }
}

/// The address attributes of an entry, as read.
#[derive(Default)]
struct RangeAttrs {
    low: Option<u64>,
    high: Option<u64>,
    size: Option<u64>,
    ranges: Option<gimli::RangeListsOffset>,
}

impl RangeAttrs {
    fn note(&mut self, dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, attr: &gimli::Attribute<R>) -> Option<()> {
        match (attr.name(), attr.value()) {
            (gimli::DW_AT_low_pc, AttributeValue::Addr(a)) => self.low = Some(a),
            (gimli::DW_AT_low_pc, AttributeValue::DebugAddrIndex(i)) => self.low = Some(dwarf.address(unit, i).ok()?),
            (gimli::DW_AT_high_pc, AttributeValue::Addr(a)) => self.high = Some(a),
            (gimli::DW_AT_high_pc, AttributeValue::DebugAddrIndex(i)) => self.high = Some(dwarf.address(unit, i).ok()?),
            (gimli::DW_AT_high_pc, AttributeValue::Udata(s)) => self.size = Some(s),
            (gimli::DW_AT_ranges, v) => self.ranges = dwarf.attr_ranges_offset(unit, v).ok()?,
            _ => {}
        }
        Some(())
    }

    /// Each non-empty range: the range list, else low–high, else low + size.
    fn each(&self, dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, mut f: impl FnMut(u64, u64)) -> Option<()> {
        let mut add = |b: u64, e: u64| {
            if b < e {
                f(b, e);
            }
        };
        if let Some(off) = self.ranges {
            let mut list = dwarf.ranges(unit, off).ok()?;
            let mut n = 0usize;
            while let Some(r) = list.next().ok()? {
                n = n.saturating_add(1);
                if n > MAX_ENTRIES {
                    return None;
                }
                add(r.begin, r.end);
            }
        } else if let (Some(b), Some(e)) = (self.low, self.high) {
            add(b, e);
        } else if let (Some(b), Some(s)) = (self.low, self.size) {
            add(b, b.wrapping_add(s));
        }
        Some(())
    }
}

impl Lines {
    fn read(dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>) -> Option<Lines> {
        let Some(program) = unit.line_program.clone() else { return Some(Lines { files: Vec::new(), sequences: Vec::new() }) };
        let mut sequences = Vec::new();
        let mut current: Vec<Row> = Vec::new();
        let mut rows = program.rows();
        let mut seen = 0usize;
        while let Some((_, row)) = rows.next_row().ok()? {
            seen = seen.saturating_add(1);
            if seen > MAX_ENTRIES {
                return None;
            }
            if row.end_sequence() {
                if let Some(start) = current.first().map(|r| r.0) {
                    sequences.push((start, row.address(), std::mem::take(&mut current)));
                }
                continue;
            }
            let line = row.line().map_or(0, |l| low32(l.get()));
            match current.last_mut() {
                Some(last) if last.0 == row.address() => *last = (row.address(), row.file_index(), line),
                _ => current.push((row.address(), row.file_index(), line)),
            }
        }
        sequences.sort_by_key(|s| s.0);
        let header = rows.header();
        let mut files = vec![match header.file(0) {
            Some(f) => render_file(dwarf, unit, f, header)?,
            None => String::new(),
        }];
        let mut index = 1u64;
        while let Some(f) = header.file(index) {
            files.push(render_file(dwarf, unit, f, header)?);
            index = index.checked_add(1)?;
        }
        Some(Lines { files, sequences })
    }

    /// The file and line of the row at `svma`, when a sequence holds it.
    fn at(&self, svma: u64) -> Option<(Option<String>, Option<u32>)> {
        let i = self.sequences.partition_point(|s| s.0 <= svma);
        let (_, _, rows) = self.sequences.get(i.checked_sub(1)?).filter(|s| svma < s.1)?;
        let j = rows.partition_point(|r| r.0 <= svma);
        let &(_, file, line) = rows.get(j.checked_sub(1)?)?;
        let file = usize::try_from(file).ok().and_then(|f| self.files.get(f)).cloned();
        Some((file, (line != 0).then_some(line)))
    }
}

fn render_file(dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, file: &gimli::FileEntry<R>, header: &gimli::LineProgramHeader<R>) -> Option<String> {
    use gimli::Reader;
    let mut path = match &unit.comp_dir {
        Some(dir) => dir.to_string_lossy().ok()?.into_owned(),
        None => String::new(),
    };
    if file.directory_index() != 0 {
        if let Some(dir) = file.directory(header) {
            push_path(&mut path, &text(dwarf, unit, dir)?);
        }
    }
    push_path(&mut path, &text(dwarf, unit, file.path_name())?);
    Some(path)
}

/// The low 32 bits (addr2line keeps lines and columns as `u32`, truncated).
fn low32(v: u64) -> u32 {
    u32::try_from(v & u64::from(u32::MAX)).unwrap_or(0)
}

/// Append a path part: an absolute one (Unix or Windows) replaces the path.
fn push_path(path: &mut String, part: &str) {
    let windows = |p: &str| p.starts_with('\\') || p.get(1..3) == Some(":\\");
    if part.starts_with('/') || windows(part) {
        *path = part.to_string();
        return;
    }
    let separator = if windows(path) { '\\' } else { '/' };
    if !path.is_empty() && !path.ends_with(separator) {
        path.push(separator);
    }
    path.push_str(part);
}

/// A frame entry's name: its attributes in order, a linkage name taking over, a name
/// or an origin's name only while it has none.
fn name_of(cross: &CrossUnits, calls: &ModuleCalls, unit: &gimli::Unit<R>, entry: UnitOffset) -> Option<String> {
    let dwarf = calls.dwarf();
    let mut entries = unit.entries_raw(Some(entry)).ok()?;
    let abbrev = entries.read_abbreviation().ok()??;
    let mut name: Option<String> = None;
    for spec in abbrev.attributes() {
        let attr = entries.read_attribute(*spec).ok()?;
        match attr.name() {
            gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
                if let Some(s) = text(dwarf, unit, attr.value()) {
                    name = Some(s);
                }
            }
            gimli::DW_AT_name if name.is_none() => name = text(dwarf, unit, attr.value()),
            gimli::DW_AT_abstract_origin | gimli::DW_AT_specification if name.is_none() => {
                name = origin_name(cross, calls, unit, attr.value());
            }
            _ => {}
        }
    }
    name
}

/// The name an origin reference leads to: the first linkage name of the entry, else
/// its (last) name, else its own origin's, at most [`MAX_NAME_HOPS`] entries away.
fn origin_name(cross: &CrossUnits, calls: &ModuleCalls, unit: &gimli::Unit<R>, mut value: AttributeValue<R>) -> Option<String> {
    let dwarf = calls.dwarf();
    let mut other: Option<Arc<gimli::Unit<R>>> = None;
    for _ in 0..MAX_NAME_HOPS {
        let at = match value {
            AttributeValue::UnitRef(o) => o,
            AttributeValue::DebugInfoRef(o) => {
                let start = calls.unit_containing(o)?;
                let here = other.as_deref().unwrap_or(unit).header.offset().as_debug_info_offset();
                if here != Some(start) {
                    other = Some(cross.origin_unit(calls, start)?);
                }
                UnitOffset(o.0.checked_sub(start.0)?)
            }
            _ => return None,
        };
        let u = other.as_deref().unwrap_or(unit);
        let mut entries = u.entries_raw(Some(at)).ok()?;
        let abbrev = entries.read_abbreviation().ok()??;
        let (mut name, mut next) = (None, None);
        for spec in abbrev.attributes() {
            let attr = entries.read_attribute(*spec).ok()?;
            match attr.name() {
                gimli::DW_AT_linkage_name | gimli::DW_AT_MIPS_linkage_name => {
                    if let Some(s) = text(dwarf, u, attr.value()) {
                        return Some(s);
                    }
                }
                gimli::DW_AT_name => {
                    if let Some(s) = text(dwarf, u, attr.value()) {
                        name = Some(s);
                    }
                }
                gimli::DW_AT_abstract_origin | gimli::DW_AT_specification => next = Some(attr.value()),
                _ => {}
            }
        }
        if name.is_some() {
            return name;
        }
        value = next?;
    }
    None
}

/// A string attribute's text (lossy UTF-8).
fn text(dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, v: AttributeValue<R>) -> Option<String> {
    use gimli::Reader;
    Some(dwarf.attr_string(unit, v).ok()?.to_string_lossy().ok()?.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parts_join_and_an_absolute_one_replaces() {
        let mut p = String::from("/build/python");
        push_path(&mut p, "Objects");
        push_path(&mut p, "dictobject.c");
        assert_eq!(p, "/build/python/Objects/dictobject.c");
        push_path(&mut p, "/usr/include/stdio.h");
        assert_eq!(p, "/usr/include/stdio.h");
        let mut empty = String::new();
        push_path(&mut empty, "./nptl/futex-internal.c");
        assert_eq!(empty, "./nptl/futex-internal.c");
        let mut dir = String::from("./");
        push_path(&mut dir, "x.c");
        assert_eq!(dir, "./x.c");
        let mut win = String::from("C:\\src");
        push_path(&mut win, "a.c");
        assert_eq!(win, "C:\\src\\a.c");
    }

    #[test]
    fn a_row_answers_up_to_the_next_one_inside_its_sequence() {
        let lines = Lines {
            files: vec![String::new(), "a.c".into()],
            sequences: vec![(0x100, 0x140, vec![(0x100, 1, 10), (0x120, 1, 0), (0x130, 7, 12)]), (0x200, 0x210, vec![(0x200, 1, 5)])],
        };
        assert_eq!(lines.at(0x100), Some((Some("a.c".into()), Some(10))));
        assert_eq!(lines.at(0x11f), Some((Some("a.c".into()), Some(10))));
        // Line 0: no line; an unknown file index: no file.
        assert_eq!(lines.at(0x120), Some((Some("a.c".into()), None)));
        assert_eq!(lines.at(0x13f), Some((None, Some(12))));
        // Between sequences, and past the last.
        assert_eq!(lines.at(0x140), None);
        assert_eq!(lines.at(0x1ff), None);
        assert_eq!(lines.at(0x20f), Some((Some("a.c".into()), Some(5))));
        assert_eq!(lines.at(0x210), None);
        assert_eq!(low32(0x1_0000_0005), 5);
    }
}
