//! Tail-call frames, built as gdb builds them (gdb/dwarf2/frame-tailcall.c and
//! `call_site_find_chain` in gdb/dwarf2/loc.c) from DWARF call-site information.
//!
//! A function that ends in a jump to another leaves no frame: unwinding goes from the
//! callee straight to the caller of the function that jumped. The compiler records each
//! call in `DW_TAG_call_site` entries (the return address, the target, and whether it
//! is a tail call), and marks a function whose calls are all recorded
//! (`DW_AT_call_all_calls`). From the caller's call site, the search follows tail-call
//! sites of the called functions until it reaches the callee; every path found must
//! agree (else only their common start and end are kept, and none if nothing is
//! common), and any call site it cannot resolve (an indirect call, a target that is not
//! a function's entry) abandons the whole chain, as in gdb.
//!
//! This module reads one module's DWARF per [`ModuleCalls`], a compilation unit at a
//! time, only for the units frames land in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gimli::{AttributeValue, DebugInfoOffset, Reader, UnitOffset};

use crate::sections::R;

/// Most call sites one chain search visits (hostile DWARF cannot make it run long).
pub const MAX_SEARCH_STEPS: usize = 20_000;
/// Most DIEs parsed per compilation unit.
const MAX_UNIT_ENTRIES: usize = 4_000_000;
/// Most references followed to find a target's name.
const MAX_ORIGIN_HOPS: usize = 8;

/// Where a call site goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTarget {
    /// A function of this module (its entry, an SVMA).
    Entry(u64),
    /// A function declared here, defined wherever a symbol of this name is.
    Name(String),
    /// An indirect call, or a target with no address: gdb gives up on the chain.
    Unknown,
}

/// One call site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSite {
    /// The return address (SVMA): what a frame above it shows as its pc.
    pub return_pc: u64,
    /// Where it calls.
    pub target: CallTarget,
}

/// The call sites of one compilation unit.
#[derive(Debug, Default)]
struct UnitCalls {
    /// Every call site by return address.
    by_return: HashMap<u64, CallTarget>,
    /// Tail-call sites of each function whose calls are all recorded, by its entry.
    tail_calls: HashMap<u64, Vec<CallSite>>,
    /// Entries of the functions defined here.
    entries: Vec<u64>,
}

/// A module's DWARF, for call sites.
pub struct ModuleCalls {
    dwarf: gimli::Dwarf<R>,
    /// Address ranges (SVMA) → the unit covering them.
    ranges: crate::native::units::ArangeIndex,
    /// Unit headers' offsets, sorted (to find the unit of a cross-unit reference).
    units: Vec<DebugInfoOffset>,
    parsed: Mutex<HashMap<DebugInfoOffset, Option<Arc<UnitCalls>>>>,
}

impl std::fmt::Debug for ModuleCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleCalls").field("units", &self.units.len()).finish()
    }
}

impl ModuleCalls {
    /// Read the DWARF sections of an ELF file's bytes (compressed ones decompressed).
    pub fn load(data: &[u8]) -> Option<ModuleCalls> {
        Self::from_dwarf(crate::sections::dwarf_of_bytes(data)?)
    }

    /// Index a module's DWARF ([`crate::sections::dwarf`]) for call sites.
    pub fn from_dwarf(dwarf: gimli::Dwarf<R>) -> Option<ModuleCalls> {
        let mut units = Vec::new();
        let mut headers = dwarf.units();
        while let Ok(Some(h)) = headers.next() {
            if let Some(off) = h.offset().as_debug_info_offset() {
                units.push(off);
            }
        }
        units.sort();
        let mut ranges = crate::native::units::ArangeIndex::new(&dwarf.debug_aranges);
        if ranges.is_empty() {
            // No .debug_aranges (clang): each unit's own ranges.
            let mut own = Vec::new();
            for &off in &units {
                let Ok(header) = dwarf.debug_info.header_from_offset(off) else { continue };
                let Ok(unit) = dwarf.unit(header) else { continue };
                let Ok(mut rs) = dwarf.unit_ranges(&unit) else { continue };
                while let Ok(Some(r)) = rs.next() {
                    if r.begin < r.end {
                        own.push((r.begin, r.end, off.0));
                    }
                }
            }
            ranges = crate::native::units::ArangeIndex::from_ranges(own);
        }
        Some(ModuleCalls { dwarf, ranges, units, parsed: Mutex::new(HashMap::new()) })
    }

    /// The start of every address range the units cover.
    pub fn covered(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.starts()
    }

    pub(crate) fn unit_at(&self, svma: u64) -> Option<DebugInfoOffset> {
        self.ranges.unit_at(svma).map(DebugInfoOffset)
    }

    fn calls_of(&self, unit: DebugInfoOffset) -> Option<Arc<UnitCalls>> {
        if let Some(hit) = self.parsed.lock().ok()?.get(&unit) {
            return hit.clone();
        }
        let calls = self.parse_unit(unit).map(Arc::new);
        if let Ok(mut p) = self.parsed.lock() {
            p.insert(unit, calls.clone());
        }
        calls
    }

    pub(crate) fn dwarf(&self) -> &gimli::Dwarf<R> {
        &self.dwarf
    }

    pub(crate) fn unit(&self, off: DebugInfoOffset) -> Option<gimli::Unit<R>> {
        let header = self.dwarf.debug_info.header_from_offset(off).ok()?;
        self.dwarf.unit(header).ok()
    }

    /// The unit holding a `.debug_info` offset.
    pub(crate) fn unit_containing(&self, off: DebugInfoOffset) -> Option<DebugInfoOffset> {
        let i = self.units.partition_point(|u| u.0 <= off.0);
        self.units.get(i.checked_sub(1)?).copied()
    }

    fn parse_unit(&self, off: DebugInfoOffset) -> Option<UnitCalls> {
        let unit = self.unit(off)?;
        let mut out = UnitCalls::default();
        // Units the call sites' targets are in, built once for this unit's walk.
        let mut others: Vec<gimli::Unit<R>> = Vec::new();
        let mut cursor = unit.entries();
        // Enclosing functions: (depth, entry, whether all its calls are recorded).
        let mut functions: Vec<(isize, u64, bool)> = Vec::new();
        let mut depth: isize = 0;
        let mut seen = 0usize;
        while let Ok(Some((delta, entry))) = cursor.next_dfs() {
            seen = seen.saturating_add(1);
            if seen > MAX_UNIT_ENTRIES {
                return None;
            }
            depth = depth.saturating_add(delta);
            while functions.last().is_some_and(|f| f.0 >= depth) {
                functions.pop();
            }
            match entry.tag() {
                gimli::DW_TAG_subprogram => {
                    if let Some(low) = self.low_pc(&unit, entry) {
                        let all = [gimli::DW_AT_call_all_calls, gimli::DW_AT_GNU_all_call_sites, gimli::DW_AT_call_all_tail_calls, gimli::DW_AT_GNU_all_tail_call_sites]
                            .iter()
                            .any(|&a| matches!(entry.attr_value(a), Ok(Some(AttributeValue::Flag(true)))));
                        out.entries.push(low);
                        functions.push((depth, low, all));
                    }
                }
                gimli::DW_TAG_call_site | gimli::DW_TAG_GNU_call_site => {
                    let ret = [gimli::DW_AT_call_return_pc, gimli::DW_AT_low_pc]
                        .iter()
                        .find_map(|&a| entry.attr_value(a).ok().flatten().and_then(|v| self.dwarf.attr_address(&unit, v).ok().flatten()));
                    let Some(return_pc) = ret else { continue };
                    let target = self.target(&unit, entry, &mut others);
                    let tail = [gimli::DW_AT_call_tail_call, gimli::DW_AT_GNU_tail_call]
                        .iter()
                        .any(|&a| matches!(entry.attr_value(a), Ok(Some(AttributeValue::Flag(true)))));
                    if tail {
                        if let Some(&(_, entry_pc, true)) = functions.last() {
                            out.tail_calls.entry(entry_pc).or_default().push(CallSite { return_pc, target: target.clone() });
                        }
                    }
                    out.by_return.insert(return_pc, target);
                }
                _ => {}
            }
        }
        out.entries.sort_unstable();
        Some(out)
    }

    /// A function's entry: `DW_AT_low_pc`, else the lowest of its ranges.
    fn low_pc(&self, unit: &gimli::Unit<R>, entry: &gimli::DebuggingInformationEntry<R>) -> Option<u64> {
        if let Ok(Some(v)) = entry.attr_value(gimli::DW_AT_low_pc) {
            return self.dwarf.attr_address(unit, v).ok().flatten();
        }
        let mut rs = self.dwarf.die_ranges(unit, entry).ok()?;
        let mut low: Option<u64> = None;
        while let Ok(Some(r)) = rs.next() {
            if r.begin < r.end {
                low = Some(low.map_or(r.begin, |l| l.min(r.begin)));
            }
        }
        low
    }

    /// Where a call site goes: an expression (an indirect call) is unknown, a reference
    /// to a definition is its entry, one to a declaration its linkage name.
    fn target(&self, unit: &gimli::Unit<R>, site: &gimli::DebuggingInformationEntry<R>, others: &mut Vec<gimli::Unit<R>>) -> CallTarget {
        if [gimli::DW_AT_call_target, gimli::DW_AT_GNU_call_site_target].iter().any(|&a| matches!(site.attr(a), Ok(Some(_)))) {
            return CallTarget::Unknown;
        }
        let reference = [gimli::DW_AT_call_origin, gimli::DW_AT_abstract_origin].iter().find_map(|&a| site.attr_value(a).ok().flatten());
        let Some(reference) = reference else { return CallTarget::Unknown };
        self.resolve(unit, reference, others).unwrap_or(CallTarget::Unknown)
    }

    /// A referenced function as a call target. Its attributes are looked up through
    /// `DW_AT_specification` and `DW_AT_abstract_origin` (gdb's `dwarf2_attr`): a
    /// concrete out-of-line instance names its declaration only through its origin.
    /// `others` keeps the other units met while parsing one unit, built once each.
    fn resolve(&self, unit: &gimli::Unit<R>, reference: AttributeValue<R>, others: &mut Vec<gimli::Unit<R>>) -> Option<CallTarget> {
        // The chain of DIEs: the referenced one, then each origin; each in the call
        // site's unit (`None`) or one of `others`.
        let mut chain: Vec<(Option<usize>, UnitOffset)> = Vec::new();
        let mut next = Some(reference);
        while let Some(r) = next.take() {
            if chain.len() > MAX_ORIGIN_HOPS {
                return None;
            }
            let (which, at) = match r {
                // Within the unit of the DIE that refers.
                AttributeValue::UnitRef(o) => (chain.last().and_then(|c| c.0), o),
                AttributeValue::DebugInfoRef(o) => {
                    let start = self.unit_containing(o)?;
                    let at = UnitOffset(o.0.checked_sub(start.0)?);
                    if unit.header.offset().as_debug_info_offset() == Some(start) {
                        (None, at)
                    } else if let Some(i) = others.iter().position(|u| u.header.offset().as_debug_info_offset() == Some(start)) {
                        (Some(i), at)
                    } else {
                        others.push(self.unit(start)?);
                        (Some(others.len().saturating_sub(1)), at)
                    }
                }
                _ => return None,
            };
            let u = which.and_then(|i| others.get(i)).unwrap_or(unit);
            let die = u.entry(at).ok()?;
            next = [gimli::DW_AT_specification, gimli::DW_AT_abstract_origin].iter().find_map(|&a| die.attr_value(a).ok().flatten());
            chain.push((which, at));
        }
        let unit_of = |which: Option<usize>| which.and_then(|i| others.get(i)).unwrap_or(unit);
        let attr = |name: gimli::DwAt| -> Option<(AttributeValue<R>, &gimli::Unit<R>)> {
            chain.iter().find_map(|&(which, at)| {
                let u = unit_of(which);
                let v = u.entry(at).ok()?.attr_value(name).ok().flatten()?;
                Some((v, u))
            })
        };
        let declaration = matches!(attr(gimli::DW_AT_declaration), Some((AttributeValue::Flag(true), _)))
            && attr(gimli::DW_AT_specification).is_none();
        if !declaration {
            let &(which, at) = chain.first()?;
            let u = unit_of(which);
            return self.low_pc(u, &u.entry(at).ok()?).map(CallTarget::Entry);
        }
        // A declaration: the function is found by its linkage name, else its name.
        for a in [gimli::DW_AT_linkage_name, gimli::DW_AT_MIPS_linkage_name, gimli::DW_AT_name] {
            if let Some((v, u)) = attr(a) {
                let name = self.dwarf.attr_string(u, v).ok()?;
                return Some(CallTarget::Name(name.to_string_lossy().ok()?.into_owned()));
            }
        }
        None
    }

    /// The call site whose return address is `svma`.
    pub fn call_site(&self, return_svma: u64) -> Option<CallTarget> {
        let unit = self.unit_at(return_svma.checked_sub(1)?)?;
        self.calls_of(unit)?.by_return.get(&return_svma).cloned()
    }

    /// The entry of the DWARF function holding `svma` (the last entry at or below it in
    /// its unit).
    pub fn function_entry(&self, svma: u64) -> Option<u64> {
        let calls = self.calls_of(self.unit_at(svma)?)?;
        let i = calls.entries.partition_point(|&e| e <= svma);
        calls.entries.get(i.checked_sub(1)?).copied()
    }

    /// The tail-call sites of the function whose entry is `svma`: `None` when no DWARF
    /// function starts exactly there (gdb's error), empty when its calls are not all
    /// recorded.
    pub fn tail_calls(&self, entry_svma: u64) -> Option<Vec<CallSite>> {
        let calls = self.calls_of(self.unit_at(entry_svma)?)?;
        calls.entries.binary_search(&entry_svma).ok()?;
        Some(calls.tail_calls.get(&entry_svma).cloned().unwrap_or_default())
    }
}

/// A chain search's view of every module: addresses are absolute (AVMA) here.
pub trait Program {
    /// The call site returning to `ret`.
    fn call_site(&self, ret: u64) -> Option<CallTarget>;
    /// A call target as an absolute address (a name is looked up in every module).
    fn target_address(&self, site_pc: u64, target: &CallTarget) -> Option<u64>;
    /// The tail-call sites (return pc, target) of the function whose entry is `entry`;
    /// `None` when no DWARF function starts there.
    fn tail_calls(&self, entry: u64) -> Option<Vec<(u64, CallTarget)>>;
}

/// The tail-call frames between a callee (its function's entry) and the caller whose
/// return address is `caller_ret`: the return addresses of the tail-call sites, newest
/// first (the frame above the callee first). Empty when there is no chain, when it is
/// ambiguous with nothing in common, or when any call site on the way is unresolvable.
pub fn chain(program: &dyn Program, caller_ret: u64, callee_entry: u64) -> Vec<u64> {
    search(program, caller_ret, callee_entry).map(|c| c.frames()).unwrap_or_default()
}

/// Paths found so far, reduced to what they agree on (gdb's `chain_candidate`).
struct Candidate {
    sites: Vec<u64>,
    callers: usize,
    callees: usize,
}

impl Candidate {
    /// Merge one more path; false when nothing is common any more.
    fn merge(this: &mut Option<Candidate>, path: &[u64]) -> bool {
        let Some(c) = this else {
            *this = Some(Candidate { sites: path.to_vec(), callers: path.len(), callees: path.len() });
            return true;
        };
        let len = path.len();
        let callers = c.callers.min(len);
        let callers = (0..callers).find(|&i| c.sites.get(i) != path.get(i)).unwrap_or(callers);
        let callees = c.callees.min(len);
        let n = c.sites.len();
        // From the ends: i < callees <= min(n, len).
        let from_end = |v: usize, i: usize| v.checked_sub(i)?.checked_sub(1);
        let callees = (0..callees).find(|&i| from_end(n, i).and_then(|k| c.sites.get(k)) != from_end(len, i).and_then(|k| path.get(k))).unwrap_or(callees);
        if callers == 0 && callees == 0 {
            *this = None;
            return false;
        }
        c.callers = callers;
        c.callees = callees;
        true
    }

    /// The frames, newest first: the callees' end of the chain, then (if the chain is
    /// not whole) its callers' start (gdb's `pretend_pc`).
    fn frames(&self) -> Vec<u64> {
        let n = self.sites.len();
        if self.callers == n && self.callees == n {
            return self.sites.iter().rev().copied().collect();
        }
        let mut out: Vec<u64> = (0..self.callees).filter_map(|i| self.sites.get(n.checked_sub(i)?.checked_sub(1)?).copied()).collect();
        out.extend((0..self.callers).rev().filter_map(|i| self.sites.get(i).copied()));
        out
    }
}

/// gdb's depth-first search: from the function the caller called, through tail-call
/// sites (a site at most once per path), to the callee's entry.
fn search(program: &dyn Program, caller_ret: u64, callee_entry: u64) -> Option<Candidate> {
    let first = program.call_site(caller_ret)?;
    let start = program.target_address(caller_ret, &first)?;
    let mut result: Option<Candidate> = None;
    if start == callee_entry {
        // A direct call: no tail call between.
        return None;
    }
    // The path: (return pc of the site taken, the sites left to try at that level).
    let mut path: Vec<u64> = Vec::new();
    let mut pending: Vec<Vec<(u64, CallTarget)>> = vec![program.tail_calls(start)?];
    let mut steps = 0usize;
    while let Some(level) = pending.last_mut() {
        steps = steps.saturating_add(1);
        if steps > MAX_SEARCH_STEPS {
            return None;
        }
        let Some((site, target)) = level.pop() else {
            pending.pop();
            path.pop();
            continue;
        };
        if path.contains(&site) {
            continue;
        }
        let to = program.target_address(site, &target)?;
        path.push(site);
        if to == callee_entry {
            if !Candidate::merge(&mut result, &path) {
                return None;
            }
            path.pop();
            continue;
        }
        pending.push(program.tail_calls(to)?);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made program: functions by entry with their tail-call sites.
    struct Fake {
        sites: HashMap<u64, CallTarget>,
        functions: HashMap<u64, Vec<(u64, CallTarget)>>,
    }

    impl Program for Fake {
        fn call_site(&self, ret: u64) -> Option<CallTarget> {
            self.sites.get(&ret).cloned()
        }
        fn target_address(&self, _: u64, t: &CallTarget) -> Option<u64> {
            match t {
                CallTarget::Entry(a) => Some(*a),
                _ => None,
            }
        }
        fn tail_calls(&self, entry: u64) -> Option<Vec<(u64, CallTarget)>> {
            self.functions.get(&entry).cloned()
        }
    }

    fn fake(sites: &[(u64, u64)], functions: &[(u64, &[(u64, u64)])]) -> Fake {
        Fake {
            sites: sites.iter().map(|&(r, t)| (r, CallTarget::Entry(t))).collect(),
            functions: functions.iter().map(|&(e, s)| (e, s.iter().map(|&(r, t)| (r, CallTarget::Entry(t))).collect())).collect(),
        }
    }

    #[test]
    fn one_path_gives_its_frames_newest_first() {
        // caller calls A (returns to 0x10); A tail-calls B (site 0xa1); B tail-calls C (0xb1).
        let p = fake(&[(0x10, 0xa0)], &[(0xa0, &[(0xa1, 0xb0)]), (0xb0, &[(0xb1, 0xc0)]), (0xc0, &[])]);
        assert_eq!(chain(&p, 0x10, 0xc0), vec![0xb1, 0xa1]);
        // A direct call: nothing between.
        assert!(chain(&p, 0x10, 0xa0).is_empty());
    }

    #[test]
    fn ambiguity_keeps_what_every_path_shares() {
        // A tail-calls B1 or B2, each tail-calls C: A's site differs, the last one too.
        let p = fake(&[(0x10, 0xa0)], &[(0xa0, &[(0xa1, 0xb0), (0xa2, 0xd0)]), (0xb0, &[(0xb1, 0xc0)]), (0xd0, &[(0xd1, 0xc0)]), (0xc0, &[])]);
        assert!(chain(&p, 0x10, 0xc0).is_empty(), "nothing in common");
        // Both through the same first site, then apart, then the same last site.
        let p = fake(
            &[(0x10, 0xa0)],
            &[(0xa0, &[(0xa1, 0xe0)]), (0xe0, &[(0xe1, 0xb0), (0xe2, 0xd0)]), (0xb0, &[(0xb1, 0xf0)]), (0xd0, &[(0xd1, 0xf0)]), (0xf0, &[(0xf1, 0xc0)]), (0xc0, &[])],
        );
        assert_eq!(chain(&p, 0x10, 0xc0), vec![0xf1, 0xa1]);
    }

    #[test]
    fn cycles_and_unknown_targets_end_the_search() {
        // A tail-calls itself and B; B tail-calls C.
        let p = fake(&[(0x10, 0xa0)], &[(0xa0, &[(0xa1, 0xa0), (0xa2, 0xb0)]), (0xb0, &[(0xb1, 0xc0)])]);
        assert_eq!(chain(&p, 0x10, 0xc0), vec![0xb1, 0xa2]);
        // An indirect tail call anywhere in the graph: no chain at all (gdb's error).
        let mut p = fake(&[(0x10, 0xa0)], &[(0xa0, &[(0xa2, 0xb0)]), (0xb0, &[(0xb1, 0xc0)])]);
        p.functions.get_mut(&0xb0).expect("b").push((0xb2, CallTarget::Unknown));
        assert!(chain(&p, 0x10, 0xc0).is_empty());
        // No call site at the return address: nothing.
        assert!(chain(&p, 0x11, 0xc0).is_empty());
    }
}
