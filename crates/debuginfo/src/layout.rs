//! Struct layouts from DWARF (gimli): for each requested struct (by struct tag name or
//! typedef name), its size and every member reachable by value, flattened to dotted
//! paths (`interpreters.head`), anonymous members transparent.
//!
//! One scan over the compilation units stops as soon as every requested name has a
//! definition, so a query touches only part of a large `.debug_info`; the units of
//! the query's places (the source files that define the rarer structs) are read first.

use std::collections::HashMap;
use std::sync::Arc;

use gimli::{AttributeValue, EndianSlice, LittleEndian, UnitOffset};

use crate::image::ElfImage;

type R<'a> = EndianSlice<'a, LittleEndian>;

pub use pycoroner_layouts::dwarf::{LayoutAnswer, LayoutQuery, Member, StructLayout};

/// Why DWARF could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// The file has no `.debug_info`.
    #[error("{0} has no DWARF debug information")]
    NoDwarf(String),
    /// gimli rejected the data.
    #[error("malformed DWARF in {file}: {what}")]
    Malformed {
        /// The file.
        file: String,
        /// gimli's message.
        what: String,
    },
}

/// Limits that keep a hostile or huge DWARF bounded.
const MAX_DEPTH: usize = 4;
const MAX_MEMBERS: usize = 50_000;

/// One compilation unit, read without building a full `gimli::Unit` (which would parse
/// its line program header: the layout needs no line table, and a distribution's
/// compressed `.debug_line` then need not be decompressed for it).
struct Cu<'a> {
    dwarf: &'a gimli::Dwarf<R<'a>>,
    header: gimli::UnitHeader<R<'a>>,
    abbrevs: Arc<gimli::Abbreviations>,
    /// `DW_AT_str_offsets_base` of the unit's root entry (DWARF 5 `strx` names).
    str_base: Option<gimli::DebugStrOffsetsBase>,
    /// The unit's name (its main source file, as the compiler was given it).
    name: Option<String>,
}

impl<'a> Cu<'a> {
    fn new(dwarf: &'a gimli::Dwarf<R<'a>>, header: gimli::UnitHeader<R<'a>>) -> Option<Cu<'a>> {
        let abbrevs = dwarf.abbreviations(&header).ok()?;
        Self::with(dwarf, header, abbrevs)
    }

    /// The unit with only its root entry's abbreviation parsed: enough for its name
    /// (the whole table of each of libpython's hundreds of units is not).
    fn named(dwarf: &'a gimli::Dwarf<R<'a>>, header: gimli::UnitHeader<R<'a>>) -> Option<Cu<'a>> {
        match root_abbreviation(dwarf, &header) {
            Some(abbrevs) => Self::with(dwarf, header, Arc::new(abbrevs)),
            None => Self::new(dwarf, header),
        }
    }

    fn with(dwarf: &'a gimli::Dwarf<R<'a>>, header: gimli::UnitHeader<R<'a>>, abbrevs: Arc<gimli::Abbreviations>) -> Option<Cu<'a>> {
        let mut cu = Cu { dwarf, header, abbrevs, str_base: None, name: None };
        let name = {
            let mut tree = cu.header.entries_tree(&cu.abbrevs, None).ok()?;
            let root = tree.root().ok()?;
            if let Ok(Some(AttributeValue::DebugStrOffsetsBase(b))) = root.entry().attr_value(gimli::DW_AT_str_offsets_base) {
                cu.str_base = Some(b);
            }
            root.entry().attr_value(gimli::DW_AT_name).ok().flatten()
        };
        cu.name = name.and_then(|n| cu.string(n));
        Some(cu)
    }

    fn entry(&self, off: UnitOffset) -> Option<gimli::DebuggingInformationEntry<'_, '_, R<'a>>> {
        self.header.entry(&self.abbrevs, off).ok()
    }

    fn tree(&self, off: Option<UnitOffset>) -> Option<gimli::EntriesTree<'_, '_, R<'a>>> {
        self.header.entries_tree(&self.abbrevs, off).ok()
    }

    /// A string attribute's text: inline, in `.debug_str` or `.debug_line_str`, or by
    /// index through `.debug_str_offsets`.
    fn string(&self, v: AttributeValue<R<'a>>) -> Option<String> {
        let s = match v {
            AttributeValue::String(s) => s,
            AttributeValue::DebugStrRef(o) => self.dwarf.debug_str.get_str(o).ok()?,
            AttributeValue::DebugLineStrRef(o) => self.dwarf.debug_line_str.get_str(o).ok()?,
            AttributeValue::DebugStrOffsetsIndex(i) => {
                let o = self.dwarf.debug_str_offsets.get_str_offset(self.header.format(), self.str_base?, i).ok()?;
                self.dwarf.debug_str.get_str(o).ok()?
            }
            _ => return None,
        };
        s.to_string().ok().map(str::to_string)
    }
}

/// Most abbreviation declarations passed over to find a unit's root one.
const MAX_ROOT_SEARCH: usize = 1 << 12;

/// An abbreviation table holding only the declaration of `header`'s root entry (copied
/// out of `.debug_abbrev`, a few dozen bytes), when it can be found.
fn root_abbreviation(dwarf: &gimli::Dwarf<R<'_>>, header: &gimli::UnitHeader<R<'_>>) -> Option<gimli::Abbreviations> {
    use gimli::{Reader, Section};
    let code = header.range_from(UnitOffset(header.header_size())..).ok()?.read_uleb128().ok()?;
    let table = dwarf.debug_abbrev.reader().slice();
    let mut r = *dwarf.debug_abbrev.reader();
    r.skip(header.debug_abbrev_offset().0).ok()?;
    let mut forms = Vec::new();
    for _ in 0..MAX_ROOT_SEARCH {
        let start = table.len().checked_sub(r.len())?;
        match crate::abbrev::declaration(&mut r, &mut forms)? {
            0 => return None,
            this if this == code => {
                let end = table.len().checked_sub(r.len())?;
                let mut decl = table.get(start..end)?.to_vec();
                decl.push(0);
                return gimli::DebugAbbrev::new(&decl, LittleEndian).abbreviations(gimli::DebugAbbrevOffset(0)).ok();
            }
            _ => {}
        }
    }
    None
}

/// Extract the requested layouts from the DWARF of `image`.
pub fn extract(image: &ElfImage, query: &LayoutQuery) -> Result<LayoutAnswer, LayoutError> {
    let file = image.path().display().to_string();
    if !image.has_dwarf() {
        return Err(LayoutError::NoDwarf(file));
    }
    scan(&file, image.data(), |id| crate::sections::section_ref(image, id), query)
}

/// [`extract`] from an ELF file's bytes, decompressed for this call alone.
pub fn extract_bytes(data: &[u8], query: &LayoutQuery) -> Result<LayoutAnswer, LayoutError> {
    scan("<bytes>", data, |id| crate::sections::Bytes::Shared(crate::sections::read(data, id)), query)
}

fn scan<'a>(file: &str, data: &'a [u8], get: impl Fn(gimli::SectionId) -> crate::sections::Bytes<'a>, query: &LayoutQuery) -> Result<LayoutAnswer, LayoutError> {
    let malformed = |e: gimli::Error| LayoutError::Malformed { file: file.to_string(), what: e.to_string() };
    object::File::parse(data).map_err(|e| LayoutError::Malformed { file: file.to_string(), what: e.to_string() })?;
    let load = |id: gimli::SectionId| -> Result<crate::sections::Bytes<'a>, gimli::Error> {
        Ok(if crate::sections::LAYOUT.contains(&id) { get(id) } else { crate::sections::Bytes::Mapped(&[]) })
    };
    let sections = gimli::DwarfSections::load(load).map_err(malformed)?;
    let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));

    let mut wanted: Vec<&str> = query.names.iter().map(String::as_str).collect();
    let mut answer = LayoutAnswer::default();
    // The units of the query's places first, then the others, each in file order.
    let mut later = Vec::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(malformed)? {
        if wanted.is_empty() {
            break;
        }
        let Some(named) = Cu::named(&dwarf, header) else { continue };
        if !named.name.as_deref().is_some_and(|n| query.places.iter().any(|p| n.ends_with(p.as_str()))) {
            later.push(header);
            continue;
        }
        let Some(cu) = Cu::new(&dwarf, header) else { continue };
        read_unit(&cu, &mut wanted, &mut answer).map_err(malformed)?;
    }
    for header in later {
        if wanted.is_empty() {
            break;
        }
        let Some(cu) = Cu::new(&dwarf, header) else { continue };
        read_unit(&cu, &mut wanted, &mut answer).map_err(malformed)?;
    }
    Ok(answer)
}

/// Read the requested structs a unit defines at its top level; a name found is no
/// longer wanted.
fn read_unit<'a>(cu: &Cu<'a>, wanted: &mut Vec<&str>, answer: &mut LayoutAnswer) -> Result<(), gimli::Error> {
    let Some(mut tree) = cu.tree(None) else { return Ok(()) };
    let root = tree.root()?;
    let mut children = root.children();
    let mut hits: Vec<(String, UnitOffset)> = Vec::new();
    while let Some(child) = children.next()? {
        let e = child.entry();
        if !matches!(e.tag(), gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type | gimli::DW_TAG_typedef) {
            continue;
        }
        let Ok(Some(name)) = e.attr_value(gimli::DW_AT_name) else { continue };
        let Some(name) = cu.string(name) else { continue };
        if !wanted.contains(&name.as_str()) {
            continue;
        }
        if matches!(e.attr_value(gimli::DW_AT_declaration), Ok(Some(_))) {
            continue;
        }
        hits.push((name, e.offset()));
    }
    for (name, off) in hits {
        let Some(st) = resolve_aggregate(cu, off) else { continue };
        let mut layout = StructLayout { size: byte_size(cu, st), members: HashMap::new() };
        flatten(cu, st, "", 0, 0, &mut layout.members);
        if layout.members.is_empty() {
            continue; // a typedef to an incomplete type in this unit
        }
        wanted.retain(|w| *w != name);
        answer.structs.insert(name, layout);
    }
    Ok(())
}

fn byte_size(cu: &Cu<'_>, off: UnitOffset) -> Option<u64> {
    cu.entry(off)?.attr_value(gimli::DW_AT_byte_size).ok()??.udata_value()
}

fn type_ref(e: &gimli::DebuggingInformationEntry<'_, '_, R<'_>>) -> Option<UnitOffset> {
    match e.attr_value(gimli::DW_AT_type).ok()?? {
        AttributeValue::UnitRef(o) => Some(o),
        _ => None,
    }
}

/// Follow typedef/const/volatile to a struct or union definition in this unit.
fn resolve_aggregate(cu: &Cu<'_>, mut off: UnitOffset) -> Option<UnitOffset> {
    for _ in 0..16 {
        let e = cu.entry(off)?;
        match e.tag() {
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type => {
                if matches!(e.attr_value(gimli::DW_AT_declaration), Ok(Some(_))) {
                    return None;
                }
                return Some(off);
            }
            gimli::DW_TAG_typedef | gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_atomic_type => off = type_ref(&e)?,
            _ => return None,
        }
    }
    None
}

/// Size of any type, following typedefs and qualifiers.
fn type_size(cu: &Cu<'_>, mut off: UnitOffset) -> Option<u64> {
    for _ in 0..16 {
        let e = cu.entry(off)?;
        if let Ok(Some(v)) = e.attr_value(gimli::DW_AT_byte_size) {
            return v.udata_value();
        }
        match e.tag() {
            gimli::DW_TAG_pointer_type => return Some(8),
            _ => off = type_ref(&e)?,
        }
    }
    None
}

fn flatten(
    cu: &Cu<'_>,
    st: UnitOffset,
    prefix: &str,
    base: u64,
    depth: usize,
    out: &mut HashMap<String, Member>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some(mut tree) = cu.tree(Some(st)) else { return };
    let Ok(root) = tree.root() else { return };
    let mut children = root.children();
    while let Ok(Some(child)) = children.next() {
        if out.len() >= MAX_MEMBERS {
            return;
        }
        let e = child.entry();
        if e.tag() != gimli::DW_TAG_member {
            continue;
        }
        let offset = match e.attr_value(gimli::DW_AT_data_member_location) {
            Ok(Some(v)) => v.udata_value().unwrap_or(0),
            // Union members and bitfields described by DW_AT_data_bit_offset.
            _ => match e.attr_value(gimli::DW_AT_data_bit_offset) {
                Ok(Some(v)) => v.udata_value().unwrap_or(0) / 8,
                _ => 0,
            },
        };
        let Some(abs) = base.checked_add(offset) else { continue };
        let name = e.attr_value(gimli::DW_AT_name).ok().flatten().and_then(|v| cu.string(v));
        let ty = type_ref(e);
        let path = match &name {
            Some(n) if prefix.is_empty() => n.clone(),
            Some(n) => format!("{prefix}.{n}"),
            None => prefix.to_string(),
        };
        if name.is_some() {
            let size = ty.and_then(|t| type_size(cu, t));
            out.entry(path.clone()).or_insert(Member { offset: abs, size });
        }
        if let Some(inner) = ty.and_then(|t| resolve_aggregate(cu, t)) {
            flatten(cu, inner, &path, abs, depth.saturating_add(1), out);
        }
    }
}
