//! A C function's argument in an outer frame of a native stack, found as gdb's
//! `info args` finds it: the registers of each frame recovered with the DWARF CFI
//! (only the callee-saved ones, the stack pointer and the pc: the others were the
//! callees' to clobber), then the parameter's DWARF location evaluated at the frame's
//! pc; an entry value (`DW_OP_entry_value`) from the caller's call-site parameter,
//! only when that call site calls this very function (no tail call in between).
//!
//! A value is given only when every step was read; anything else is an error saying
//! which step failed, never a guess. Files and target memory are read through checked
//! steps and bounded loops: the walk stops at the first frame its CFI does not land
//! where the unwinder's did.

use std::collections::HashMap;

use gimli::{AttributeValue, EhFrame, EhFrameHdr, EvaluationResult, Expression, Location, Reader, UnitOffset, UnwindSection, Value, ValueType};
use object::{Object, ObjectSection};
use pycoroner_process::{Memory, MemoryExt, Registers, RemoteAddr, Target};

use super::{Native, NativeModule, RawFrame};
use crate::sections::R;

/// DWARF's x86-64 register numbers: 0–15 the general registers, 16 the return address.
const REGISTERS: usize = 17;
const RSP: u16 = 7;
const RA: u16 = 16;
/// Callee-saved under the System V x86-64 ABI: rbx, rbp, r12–r15.
const CALLEE_SAVED: [u16; 6] = [3, 6, 12, 13, 14, 15];
/// Where each DWARF register is in the kernel's `user_regs_struct` (a core's
/// registers)...
const USER_REGS: [usize; REGISTERS] = [10, 12, 11, 5, 13, 14, 4, 19, 9, 8, 7, 6, 3, 2, 1, 0, 16];
/// ...and in a signal frame's `ucontext` (`gregs`).
const GREGS: [u64; REGISTERS] = [13, 12, 14, 11, 9, 8, 10, 15, 0, 1, 2, 3, 4, 5, 6, 7, 16];
/// Most frames searched for the function asked about.
pub const MAX_ARG_FRAMES: usize = 1 << 16;
/// Most entry values followed into callers (a call value may need its own).
const MAX_ENTRY_DEPTH: usize = 4;
/// Most steps of one DWARF expression.
const MAX_STEPS: u32 = 10_000;
/// Most DIEs read per compilation unit.
const MAX_UNIT_ENTRIES: usize = 4_000_000;
/// Most origins followed to name a DIE.
const MAX_ORIGIN_HOPS: usize = 8;

/// One argument to find: the first frame (innermost first) of one of `functions`
/// defined in a unit whose name ends with one of `units`, whose `parameter` can be
/// read. Its value is a signed integer of `size` bytes.
#[derive(Debug, Clone, Copy)]
pub struct ArgQuery<'a> {
    /// Function names (inlined instances count).
    pub functions: &'a [&'a str],
    /// Compilation unit name suffixes (`Modules/gcmodule.c`).
    pub units: &'a [&'a str],
    /// The parameter's name.
    pub parameter: &'a str,
    /// Its size in bytes (1–8).
    pub size: u8,
}

/// An argument read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgValue {
    /// The value.
    pub value: i64,
    /// The function it was read in.
    pub function: String,
    /// The frame's index among the frames as shown (tail-call frames included).
    pub frame: usize,
}

/// Why an argument could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// What failed.
    pub why: String,
    /// True when the target failed (its memory unreadable, its stack not what its
    /// CFI says), false when the build lacks the answer (no DWARF, the value
    /// optimized out, no frame of those functions named).
    pub target: bool,
}

impl ArgError {
    fn target(why: String) -> ArgError {
        ArgError { why, target: true }
    }
}

impl From<String> for ArgError {
    fn from(why: String) -> ArgError {
        ArgError { why, target: false }
    }
}

impl From<&str> for ArgError {
    fn from(why: &str) -> ArgError {
        ArgError { why: why.to_string(), target: false }
    }
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// The registers known in one frame, and its canonical frame address.
#[derive(Debug, Clone, Copy, Default)]
struct FrameRegs {
    regs: [Option<u64>; REGISTERS],
    cfa: Option<u64>,
}

impl FrameRegs {
    fn get(&self, r: u16) -> Option<u64> {
        self.regs.get(usize::from(r)).copied().flatten()
    }
}

/// A module's call-frame information, reopened from its file (build-id checked).
struct Cfi {
    eh_frame: Option<(Vec<u8>, u64)>,
    eh_frame_hdr: Option<(Vec<u8>, u64)>,
    debug_frame: Option<Vec<u8>>,
    text: u64,
}

fn load_cfi(m: &NativeModule) -> Option<Cfi> {
    let img = crate::image::ElfImage::open(&m.path).ok()?;
    if img.build_id().map(crate::hex) != m.build_id || m.build_id.is_none() {
        return None;
    }
    cfi_of(img.data())
}

fn cfi_of(data: &[u8]) -> Option<Cfi> {
    let obj = object::File::parse(data).ok()?;
    let sec = |n: &str| super::section(&obj, n).map(|(at, bytes)| (bytes, at.start));
    Some(Cfi {
        eh_frame: sec(".eh_frame"),
        eh_frame_hdr: sec(".eh_frame_hdr"),
        debug_frame: sec(".debug_frame").map(|d| d.0),
        text: obj.section_by_name(".text").map_or(0, |s| s.address()),
    })
}

/// One CFI row's rules, reduced to what the walk uses.
struct Row {
    cfa: (u16, i64),
    rules: Vec<(u16, gimli::RegisterRule<usize>)>,
}

fn row_at(cfi: &Cfi, svma: u64) -> Result<Row, String> {
    let reduce = |row: &gimli::UnwindTableRow<usize>| -> Result<Row, String> {
        let cfa = match row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } => (register.0, *offset),
            gimli::CfaRule::Expression(_) => return Err("its CFA is a DWARF expression".into()),
        };
        let rules = (0..REGISTERS as u16).map(|r| (r, row.register(gimli::Register(r)))).collect();
        Ok(Row { cfa, rules })
    };
    let mut ctx = Box::new(gimli::UnwindContext::new());
    if let Some((eh, eh_addr)) = &cfi.eh_frame {
        let section = EhFrame::new(eh, gimli::LittleEndian);
        let mut bases = gimli::BaseAddresses::default().set_eh_frame(*eh_addr).set_text(cfi.text);
        let found = match &cfi.eh_frame_hdr {
            Some((hdr, hdr_addr)) => {
                bases = bases.set_eh_frame_hdr(*hdr_addr);
                EhFrameHdr::new(hdr, gimli::LittleEndian).parse(&bases, 8).ok().and_then(|p| {
                    let table = p.table()?;
                    table.unwind_info_for_address(&section, &bases, &mut ctx, svma, EhFrame::cie_from_offset).ok().map(reduce)
                })
            }
            None => None,
        };
        let found = found.or_else(|| section.unwind_info_for_address(&bases, &mut ctx, svma, EhFrame::cie_from_offset).ok().map(reduce));
        if let Some(row) = found {
            return row;
        }
    }
    if let Some(df) = &cfi.debug_frame {
        let section = gimli::DebugFrame::new(df, gimli::LittleEndian);
        let bases = gimli::BaseAddresses::default();
        if let Ok(row) = section.unwind_info_for_address(&bases, &mut ctx, svma, gimli::DebugFrame::cie_from_offset) {
            return reduce(row);
        }
    }
    Err(format!("no CFI covers {svma:#x}"))
}

/// The registers of every frame up to `upto`, as far as CFI recovers them (shorter
/// when a step fails; the error says why).
struct Walk<'a> {
    native: &'a Native,
    mem: &'a dyn Memory,
    frames: &'a [RawFrame],
    /// The frames as gdb shows them: each unwound one, then the tail-call frames
    /// between it and its caller.
    shown: Vec<Shown>,
    regs: Vec<FrameRegs>,
    stop: Option<ArgError>,
    cfi: HashMap<u64, Option<Cfi>>,
}

impl<'a> Walk<'a> {
    fn new(native: &'a Native, target: &'a dyn Target, thread: &Registers, frames: &'a [RawFrame]) -> Walk<'a> {
        let mut first = FrameRegs::default();
        for (slot, &k) in first.regs.iter_mut().zip(USER_REGS.iter()) {
            *slot = thread.raw.get(k).copied();
        }
        let mem: &dyn Memory = target;
        let mut shown = Vec::new();
        for (i, f) in frames.iter().enumerate().take(MAX_ARG_FRAMES) {
            shown.push(Shown { frame: *f, regs: i, tail: false });
            let Some(caller) = frames.get(i.saturating_add(1)) else { continue };
            for pc in native.tail_calls(f, caller) {
                let frame = RawFrame { pc, is_return: true, trust: super::Trust::Cfi, signal_frame: false, sp: f.sp };
                shown.push(Shown { frame, regs: i.saturating_add(1), tail: true });
            }
        }
        Walk { native, mem, frames, shown, regs: vec![first], stop: None, cfi: HashMap::new() }
    }

    /// The registers of shown frame `v`: a tail-call frame has its caller's
    /// callee-saved registers (restored before the jump) and no CFA of its own.
    fn shown_regs(&mut self, v: usize) -> Result<FrameRegs, ArgError> {
        let s = *self.shown.get(v).ok_or("no such frame")?;
        let mut r = self.at(s.regs)?;
        if s.tail {
            r.cfa = None;
        }
        Ok(r)
    }

    /// The registers of frame `i` (computing the walk up to it), with its CFA.
    fn at(&mut self, i: usize) -> Result<FrameRegs, ArgError> {
        while self.regs.len() <= i.saturating_add(1) && self.stop.is_none() {
            let k = self.regs.len().saturating_sub(1);
            if let Err(why) = self.step(k) {
                self.stop = Some(why);
            }
        }
        match self.regs.get(i) {
            // The CFA of the last frame reached may be missing: the step out of it failed.
            Some(r) => Ok(*r),
            None => Err(self.stop.clone().unwrap_or_else(|| "the stack ends first".into())),
        }
    }

    /// Compute frame `k`'s CFA and frame `k + 1`'s registers.
    fn step(&mut self, k: usize) -> Result<(), ArgError> {
        let (Some(frame), Some(next)) = (self.frames.get(k), self.frames.get(k.saturating_add(1))) else {
            return Err("the stack ends there".into());
        };
        let cur = self.regs.get(k).copied().ok_or("no registers")?;
        let mut caller = FrameRegs::default();
        if frame.signal_frame {
            // Every register of the interrupted code is in the ucontext.
            for (slot, &g) in caller.regs.iter_mut().zip(GREGS.iter()) {
                let at = g.checked_mul(8).and_then(|o| o.checked_add(40)).and_then(|o| frame.sp.checked_add(o)).ok_or("ucontext address overflows")?;
                *slot = Some(self.mem.read_u64(RemoteAddr(at)).map_err(|e| ArgError::target(format!("signal frame unreadable: {e}")))?);
            }
        } else {
            let lookup = frame.lookup_pc();
            let m = self.native.module(lookup).ok_or_else(|| format!("{:#x} is in no module", frame.pc))?;
            let cfi = self.cfi.entry(m.base).or_insert_with(|| load_cfi(m)).as_ref().ok_or_else(|| format!("{}'s CFI cannot be read again", m.name))?;
            let row = row_at(cfi, lookup.wrapping_sub(m.bias))?;
            let (reg, off) = row.cfa;
            let base = cur.get(reg).ok_or_else(|| format!("the CFA at {:#x} needs register {reg}, not recovered", frame.pc))?;
            let cfa = base.checked_add_signed(off).ok_or("CFA overflows")?;
            if let Some(r) = self.regs.get_mut(k) {
                r.cfa = Some(cfa);
            }
            caller.cfa = None;
            for (r, rule) in row.rules {
                if r != RA && !CALLEE_SAVED.contains(&r) {
                    continue;
                }
                let value = match rule {
                    // No rule: a callee-saved register the callee did not touch.
                    gimli::RegisterRule::Undefined | gimli::RegisterRule::SameValue => {
                        if r == RA {
                            None
                        } else {
                            cur.get(r)
                        }
                    }
                    gimli::RegisterRule::Offset(o) => {
                        let at = cfa.checked_add_signed(o).ok_or("saved register address overflows")?;
                        Some(self.mem.read_u64(RemoteAddr(at)).map_err(|e| ArgError::target(format!("saved register unreadable: {e}")))?)
                    }
                    gimli::RegisterRule::ValOffset(o) => cfa.checked_add_signed(o),
                    gimli::RegisterRule::Register(from) => cur.get(from.0),
                    _ => None,
                };
                if let Some(slot) = caller.regs.get_mut(usize::from(r)) {
                    *slot = value;
                }
            }
            if let Some(slot) = caller.regs.get_mut(usize::from(RSP)) {
                *slot = Some(cfa);
            }
        }
        // The return address is the caller's pc; both must be where the unwinder went.
        let pc = caller.get(RA);
        if pc != Some(next.pc) || caller.get(RSP) != Some(next.sp) {
            return Err(ArgError::target(format!("CFI and the unwinder disagree on the caller of {:#x}", frame.pc)));
        }
        self.regs.push(caller);
        Ok(())
    }
}

/// A frame as shown: an unwound one, or a tail-call frame (no registers of its own).
#[derive(Debug, Clone, Copy)]
struct Shown {
    frame: RawFrame,
    /// The unwound frame whose registers it has.
    regs: usize,
    tail: bool,
}

/// The DIEs of interest around one pc of a unit.
struct Scope {
    /// Enclosing subprogram and inlined-subroutine DIEs, outermost first.
    chain: Vec<UnitOffset>,
}

fn scopes_at(dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, svma: u64) -> Result<Scope, String> {
    let mut cursor = unit.entries();
    let mut depth: isize = 0;
    let mut stack: Vec<(isize, UnitOffset)> = Vec::new();
    let mut best: Vec<UnitOffset> = Vec::new();
    let mut seen = 0usize;
    while let Some((delta, entry)) = cursor.next_dfs().map_err(|e| format!("DWARF: {e}"))? {
        seen = seen.saturating_add(1);
        if seen > MAX_UNIT_ENTRIES {
            return Err("a unit with too many entries".into());
        }
        depth = depth.saturating_add(delta);
        while stack.last().is_some_and(|s| s.0 >= depth) {
            stack.pop();
        }
        if !matches!(entry.tag(), gimli::DW_TAG_subprogram | gimli::DW_TAG_inlined_subroutine | gimli::DW_TAG_lexical_block) {
            continue;
        }
        let mut ranges = dwarf.die_ranges(unit, entry).map_err(|e| format!("DWARF ranges: {e}"))?;
        let mut inside = false;
        while let Some(r) = ranges.next().map_err(|e| format!("DWARF ranges: {e}"))? {
            inside |= r.begin <= svma && svma < r.end;
        }
        if inside && stack.last().is_none_or(|s| s.0 < depth) {
            stack.push((depth, entry.offset()));
            if stack.len() > best.len() {
                best = stack.iter().map(|s| s.1).collect();
            }
        }
    }
    Ok(Scope { chain: best })
}

/// The frame base at `svma` of the function a scope chain is in (its outermost DIE's
/// `DW_AT_frame_base`), when it has one there.
fn frame_base_at(dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, scope: &Scope, svma: u64) -> Option<Expression<R>> {
    let v = unit.entry(*scope.chain.first()?).ok()?.attr_value(gimli::DW_AT_frame_base).ok().flatten()?;
    location_at(dwarf, unit, v, svma).ok().flatten()
}

/// The units met while following references out of one frame's unit (an LTO build's
/// concrete functions name their origins in other units), each parsed once; the
/// frame's own unit is the first.
struct Units<'a> {
    calls: &'a crate::tailcall::ModuleCalls,
    /// The frame's unit (index 0).
    first: &'a gimli::Unit<R>,
    /// The others met, from index 1.
    others: Vec<gimli::Unit<R>>,
}

impl<'a> Units<'a> {
    fn new(calls: &'a crate::tailcall::ModuleCalls, first: &'a gimli::Unit<R>) -> Units<'a> {
        Units { calls, first, others: Vec::new() }
    }

    fn get(&self, u: usize) -> Option<&gimli::Unit<R>> {
        match u.checked_sub(1) {
            None => Some(self.first),
            Some(i) => self.others.get(i),
        }
    }

    /// The index of the unit starting at `off`, parsing it on first use.
    fn index_of(&mut self, off: gimli::DebugInfoOffset) -> Option<usize> {
        let starts = |u: &gimli::Unit<R>| u.header.offset().as_debug_info_offset() == Some(off);
        if starts(self.first) {
            return Some(0);
        }
        if let Some(i) = self.others.iter().position(starts) {
            return i.checked_add(1);
        }
        self.others.push(self.calls.unit(off)?);
        Some(self.others.len())
    }

    /// A DIE's attribute, looked up through its `DW_AT_abstract_origin` and
    /// `DW_AT_specification` (gdb's `dwarf2_attr`), with the unit it was found in.
    fn attr(&mut self, start: (usize, UnitOffset), name: gimli::DwAt) -> Option<(usize, AttributeValue<R>)> {
        let (mut u, mut at) = start;
        for _ in 0..MAX_ORIGIN_HOPS {
            let die = self.get(u)?.entry(at).ok()?;
            if let Ok(Some(v)) = die.attr_value(name) {
                return Some((u, v));
            }
            let next = [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification].iter().find_map(|&a| die.attr_value(a).ok().flatten())?;
            match next {
                AttributeValue::UnitRef(o) => at = o,
                AttributeValue::DebugInfoRef(o) => {
                    let first = self.calls.unit_containing(o)?;
                    u = self.index_of(first)?;
                    at = UnitOffset(o.0.checked_sub(first.0)?);
                }
                _ => return None,
            }
        }
        None
    }

    /// A DIE's name (through its origins), with the name of the unit that holds it.
    fn name(&mut self, dwarf: &gimli::Dwarf<R>, start: (usize, UnitOffset)) -> Option<(String, String)> {
        let (u, v) = self.attr(start, gimli::DW_AT_name)?;
        let unit = self.get(u)?;
        let name = dwarf.attr_string(unit, v).ok()?.to_string_lossy().ok()?.into_owned();
        let unit_name = unit.name.as_ref().and_then(|n| n.to_string_lossy().ok().map(|s| s.into_owned())).unwrap_or_default();
        Some((name, unit_name))
    }
}

/// An expression attribute (`exprloc`, or a DWARF 2–3 block).
fn expression_of(v: AttributeValue<R>) -> Option<Expression<R>> {
    match v {
        AttributeValue::Exprloc(e) => Some(e),
        AttributeValue::Block(b) => Some(Expression(b)),
        _ => None,
    }
}

/// The location expression of an attribute at `svma`: itself, or the location list's
/// entry covering `svma`. `None`: the value is not there at that pc.
fn location_at(dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, v: AttributeValue<R>, svma: u64) -> Result<Option<Expression<R>>, String> {
    if let Some(e) = expression_of(v.clone()) {
        return Ok(Some(e));
    }
    let Some(mut list) = dwarf.attr_locations(unit, v).map_err(|e| format!("location list: {e}"))? else {
        return Err("a location of an unknown form".into());
    };
    let mut n = 0usize;
    while let Some(entry) = list.next().map_err(|e| format!("location list: {e}"))? {
        n = n.saturating_add(1);
        if n > MAX_UNIT_ENTRIES {
            break;
        }
        if entry.range.begin <= svma && svma < entry.range.end {
            return Ok(Some(entry.data));
        }
    }
    Ok(None)
}

impl Native {
    /// The value of the first readable argument `query` names, in the frames of a
    /// thread unwound from `thread` (innermost first). `Ok(None)`: no frame of those
    /// functions; `Err`: such frames, none of whose argument could be read (why, for
    /// each).
    ///
    /// Only a stack with an unwound frame of one of the functions is searched (a
    /// function reached by a tail call is always called by another of them), and only
    /// as far as a few frames past the outermost such frame (its caller, for entry
    /// values).
    pub fn argument(&self, target: &dyn Target, thread: &Registers, frames: &[RawFrame], query: &ArgQuery<'_>) -> Result<Option<ArgValue>, ArgError> {
        let named = |f: &RawFrame| !f.signal_frame && self.symbolize(f).iter().any(|s| s.function.as_deref().is_some_and(|n| query.functions.contains(&n)));
        let Some(last) = frames.iter().take(MAX_ARG_FRAMES).rposition(named) else { return Ok(None) };
        let frames = frames.get(..last.saturating_add(3).min(frames.len())).unwrap_or(frames);
        let mut walk = Walk::new(self, target, thread, frames);
        let mut errors: Vec<ArgError> = Vec::new();
        for v in 0..walk.shown.len() {
            if !walk.shown.get(v).is_some_and(|s| named(&s.frame)) {
                continue;
            }
            match self.argument_in(&mut walk, v, query) {
                Ok(v) => return Ok(Some(v)),
                Err(why) => errors.push(why),
            }
        }
        if errors.is_empty() {
            Ok(None)
        } else {
            // A target's failure anywhere is one (a readable target would have
            // answered there).
            let target = errors.iter().any(|e| e.target);
            Err(ArgError { why: errors.iter().map(|e| e.why.as_str()).collect::<Vec<_>>().join("; "), target })
        }
    }

    fn argument_in(&self, walk: &mut Walk<'_>, i: usize, query: &ArgQuery<'_>) -> Result<ArgValue, ArgError> {
        let f = walk.shown.get(i).map(|s| s.frame).ok_or("no frame")?;
        let lookup = f.lookup_pc();
        let m = self.module(lookup).ok_or("in no module")?;
        let calls = Self::calls(m).ok_or_else(|| format!("{} has no DWARF", m.name))?;
        let svma = lookup.wrapping_sub(m.bias);
        let unit_off = calls.unit_at(svma).ok_or_else(|| format!("no DWARF unit covers {:#x} in {}", f.pc, m.name))?;
        let unit = calls.unit(unit_off).ok_or("its DWARF unit cannot be read")?;
        let dwarf = Self::located(m).ok_or_else(|| format!("{}'s DWARF cannot be read again", m.name))?;
        let scope = scopes_at(dwarf, &unit, svma)?;
        let frame_base = frame_base_at(dwarf, &unit, &scope, svma);
        let mut why = ArgError::from(format!("no function of {} at {:#x}", query.units.join(" or "), f.pc));
        let mut units = Units::new(calls, &unit);
        // Innermost scope first.
        for &s in scope.chain.iter().rev() {
            // Its name, in one of the files asked about (an LTO build's functions are in
            // an `<artificial>` unit, their origins in their own file's).
            let Some((function, _)) =
                units.name(dwarf, (0, s)).filter(|(n, file)| query.functions.contains(&n.as_str()) && query.units.iter().any(|u| file.ends_with(u)))
            else {
                continue;
            };
            let mut tree = unit.entries_tree(Some(s)).map_err(|e| format!("DWARF: {e}"))?;
            let root = tree.root().map_err(|e| format!("DWARF: {e}"))?;
            let mut children = root.children();
            let mut location = None;
            while let Some(child) = children.next().map_err(|e| format!("DWARF: {e}"))? {
                let e = child.entry();
                if e.tag() == gimli::DW_TAG_formal_parameter && units.name(dwarf, (0, e.offset())).is_some_and(|(n, _)| n == query.parameter) {
                    location = Some(e.attr_value(gimli::DW_AT_location).map_err(|e| format!("DWARF: {e}"))?);
                    break;
                }
            }
            let Some(location) = location else {
                why = format!("{function} has no parameter {}", query.parameter).into();
                continue;
            };
            let Some(location) = location else {
                why = format!("{}: optimized out in {function}", query.parameter).into();
                continue;
            };
            let Some(expr) = location_at(dwarf, &unit, location, svma)? else {
                why = format!("{}: optimized out in {function} at {:#x}", query.parameter, f.pc).into();
                continue;
            };
            let cx = EvalFrame { index: i, unit: &unit, dwarf, bias: m.bias, frame_base: frame_base.clone(), entry_svma: calls.function_entry(svma) };
            match self.evaluate(walk, &cx, expr, query.size, 0, Read::Location) {
                Ok(value) => return Ok(ArgValue { value, function, frame: i }),
                Err(e) => why = ArgError { why: format!("{} in {function}: {}", query.parameter, e.why), target: e.target },
            }
        }
        Err(why)
    }

    /// Evaluate a location expression in frame `cx.index`, giving the value (sign
    /// extended from `size` bytes).
    fn evaluate(&self, walk: &mut Walk<'_>, cx: &EvalFrame<'_>, expr: Expression<R>, size: u8, depth: usize, read: Read) -> Result<i64, ArgError> {
        let regs = walk.shown_regs(cx.index)?;
        let mut eval = expr.evaluation(cx.unit.encoding());
        eval.set_max_iterations(MAX_STEPS);
        let err = |e: gimli::Error| format!("DWARF expression: {e}");
        let mut state = eval.evaluate().map_err(err)?;
        loop {
            state = match state {
                EvaluationResult::Complete => break,
                EvaluationResult::RequiresMemory { address, size, .. } => {
                    eval.resume_with_memory(Value::Generic(read_word(walk.mem, address, size)?)).map_err(err)?
                }
                EvaluationResult::RequiresRegister { register, .. } => {
                    let v = regs.get(register.0).ok_or_else(|| format!("register {} is not known in this frame", register.0))?;
                    eval.resume_with_register(Value::Generic(v)).map_err(err)?
                }
                EvaluationResult::RequiresFrameBase => {
                    let fb = cx.frame_base.clone().ok_or("no frame base")?;
                    // A frame base that needs the frame base has none (no recursion).
                    let fb_cx = EvalFrame { frame_base: None, ..*cx };
                    let v = self.evaluate(walk, &fb_cx, fb, 8, depth, Read::Value)?;
                    eval.resume_with_frame_base(v as u64).map_err(err)?
                }
                EvaluationResult::RequiresCallFrameCfa => {
                    let cfa = regs.cfa.ok_or("the frame's CFA is not known")?;
                    eval.resume_with_call_frame_cfa(cfa).map_err(err)?
                }
                EvaluationResult::RequiresRelocatedAddress(a) => eval.resume_with_relocated_address(a.wrapping_add(cx.bias)).map_err(err)?,
                EvaluationResult::RequiresIndexedAddress { index, relocate } => {
                    let a = cx.dwarf.debug_addr.get_address(cx.unit.encoding().address_size, cx.unit.addr_base, index).map_err(err)?;
                    eval.resume_with_indexed_address(if relocate { a.wrapping_add(cx.bias) } else { a }).map_err(err)?
                }
                EvaluationResult::RequiresBaseType(off) => eval.resume_with_base_type(base_type(cx.unit, off).ok_or("an unknown base type")?).map_err(err)?,
                EvaluationResult::RequiresEntryValue(inner) => {
                    if depth >= MAX_ENTRY_DEPTH {
                        return Err("entry values nest too deep".into());
                    }
                    let v = self.entry_value(walk, cx, inner, depth)?;
                    eval.resume_with_entry_value(Value::Generic(v)).map_err(err)?
                }
                _ => return Err("the expression needs what a core does not have (TLS or another DIE)".into()),
            };
        }
        let pieces = eval.result();
        let piece = match pieces.as_slice() {
            [one] => one,
            _ => return Err("a value in several pieces".into()),
        };
        let raw = match &piece.location {
            Location::Register { register } => regs.get(register.0).ok_or_else(|| format!("register {} is not known in this frame", register.0))?,
            // An expression computing a value (a frame base, a call value) leaves it
            // on the stack: as a location, that is an address.
            Location::Address { address } if read == Read::Value => *address,
            Location::Address { address } => read_word(walk.mem, *address, size)?,
            Location::Value { value } => value.to_u64(u64::MAX).map_err(err)?,
            Location::Empty => return Err("optimized out".into()),
            _ => return Err("an implicit value".into()),
        };
        Ok(sign_extend(raw, size))
    }

    /// The value a register had when the function of frame `cx.index` was entered:
    /// its caller's call-site parameter for that register, evaluated in the caller's
    /// frame. Only when that call site calls this function directly.
    fn entry_value(&self, walk: &mut Walk<'_>, cx: &EvalFrame<'_>, inner: Expression<R>, depth: usize) -> Result<u64, ArgError> {
        let caller_index = cx.index.checked_add(1).ok_or("no caller")?;
        let caller = walk.shown.get(caller_index).map(|s| s.frame).ok_or("no caller frame")?;
        if caller.signal_frame || !caller.is_return {
            return Err("the caller is not a call".into());
        }
        let cm = self.module(caller.pc.wrapping_sub(1)).ok_or("the caller is in no module")?;
        let calls = Self::calls(cm).ok_or_else(|| format!("{} has no DWARF", cm.name))?;
        let ret = caller.pc.wrapping_sub(cm.bias);
        // The call site must call the function of this frame: else a tail call came
        // between, and the register held something else at this function's entry.
        let target = calls.call_site(ret).ok_or("no call site at the caller's return address")?;
        let entry = cx.entry_svma.map(|e| e.wrapping_add(cx.bias)).ok_or("this function's entry is unknown")?;
        let site_pc = caller.pc;
        if <Native as crate::tailcall::Program>::target_address(self, site_pc, &target) != Some(entry) {
            return Err("the caller's call site does not call this function (a tail call between)".into());
        }
        let unit = calls.unit_at(ret.wrapping_sub(1)).and_then(|u| calls.unit(u)).ok_or("no DWARF unit for the caller")?;
        let dwarf = Self::located(cm).ok_or_else(|| format!("{}'s DWARF cannot be read again", cm.name))?;
        let want = inner.0.to_slice().map_err(|e| format!("DWARF: {e}"))?.into_owned();
        let value = call_value(dwarf, &unit, ret, &want)?.ok_or("the call site does not record that register's value")?;
        let svma = ret.wrapping_sub(1);
        let scope = scopes_at(dwarf, &unit, svma)?;
        let frame_base = frame_base_at(dwarf, &unit, &scope, svma);
        let caller_cx = EvalFrame { index: caller_index, unit: &unit, dwarf, bias: cm.bias, frame_base, entry_svma: calls.function_entry(svma) };
        // DW_AT_call_value is a DWARF expression whose result is the value itself.
        self.evaluate(walk, &caller_cx, value, 8, depth.saturating_add(1), Read::Value).map(|v| v as u64)
    }
}

/// What an expression's result is: where the value is (a parameter's location), or
/// the value itself (a frame base, a call-site value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Location,
    Value,
}

/// What evaluating an expression in one frame needs.
struct EvalFrame<'a> {
    index: usize,
    unit: &'a gimli::Unit<R>,
    dwarf: &'a gimli::Dwarf<R>,
    bias: u64,
    frame_base: Option<Expression<R>>,
    /// The entry (SVMA) of the function this frame runs.
    entry_svma: Option<u64>,
}

/// `size` bytes (at most 8) at `address`, little-endian.
fn read_word(mem: &dyn Memory, address: u64, size: u8) -> Result<u64, ArgError> {
    let b = mem.read_vec(RemoteAddr(address), u64::from(size), 8).map_err(|e| ArgError::target(format!("memory at {address:#x}: {e}")))?;
    let mut word = [0u8; 8];
    for (d, s) in word.iter_mut().zip(b.iter()) {
        *d = *s;
    }
    Ok(u64::from_le_bytes(word))
}

fn sign_extend(raw: u64, size: u8) -> i64 {
    let bits = u32::from(size.clamp(1, 8)).saturating_mul(8);
    let shift = 64u32.saturating_sub(bits);
    ((raw << shift) as i64) >> shift
}

fn base_type(unit: &gimli::Unit<R>, off: UnitOffset) -> Option<ValueType> {
    let die = unit.entry(off).ok()?;
    let enc = match die.attr_value(gimli::DW_AT_encoding).ok()?? {
        AttributeValue::Encoding(e) => e,
        _ => return None,
    };
    let size = die.attr_value(gimli::DW_AT_byte_size).ok()??.udata_value()?;
    ValueType::from_encoding(enc, size)
}

/// The `DW_AT_call_value` of the call-site parameter at return address `ret` whose
/// location is the expression `register` (its bytes).
fn call_value(dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, ret: u64, register: &[u8]) -> Result<Option<Expression<R>>, String> {
    let mut cursor = unit.entries();
    let mut seen = 0usize;
    let mut in_site: Option<isize> = None;
    let mut depth: isize = 0;
    while let Some((delta, e)) = cursor.next_dfs().map_err(|e| format!("DWARF: {e}"))? {
        seen = seen.saturating_add(1);
        if seen > MAX_UNIT_ENTRIES {
            return Err("a unit with too many entries".into());
        }
        depth = depth.saturating_add(delta);
        if in_site.is_some_and(|d| depth <= d) {
            in_site = None;
        }
        match e.tag() {
            gimli::DW_TAG_call_site | gimli::DW_TAG_GNU_call_site => {
                let pc = [gimli::DW_AT_call_return_pc, gimli::DW_AT_low_pc]
                    .iter()
                    .find_map(|&a| e.attr_value(a).ok().flatten())
                    .and_then(|v| dwarf.attr_address(unit, v).ok().flatten());
                in_site = (pc == Some(ret)).then_some(depth);
            }
            gimli::DW_TAG_call_site_parameter | gimli::DW_TAG_GNU_call_site_parameter if in_site.is_some() => {
                let loc = e.attr_value(gimli::DW_AT_location).ok().flatten().and_then(expression_of);
                let matches = loc.and_then(|l| l.0.to_slice().ok().map(|b| b.as_ref() == register)).unwrap_or(false);
                if matches {
                    let v = [gimli::DW_AT_call_value, gimli::DW_AT_GNU_call_site_value].iter().find_map(|&a| e.attr_value(a).ok().flatten());
                    return Ok(v.and_then(expression_of));
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

/// Every decoder an argument read runs on a file, on one ELF file's bytes (for
/// fuzzing): its CFI rows, and at up to 64 addresses its units cover (and next to
/// them), the scopes there and the location of each of their parameters and
/// variables, evaluated in a frame whose registers all hold one value and whose
/// memory is the file's bytes.
#[doc(hidden)]
pub fn exercise(data: &[u8]) {
    let cfi = cfi_of(data);
    let Some(calls) = crate::tailcall::ModuleCalls::load(data) else { return };
    let Some(mut dwarf) = crate::sections::dwarf_of_bytes(data) else { return };
    let get = |id| R::new(crate::sections::SectionBytes::heap(crate::sections::read(data, id)), gimli::LittleEndian);
    dwarf.locations = gimli::LocationLists::new(get(gimli::SectionId::DebugLoc).into(), get(gimli::SectionId::DebugLocLists).into());
    let native = Native {
        unwinder: framehop::x86_64::UnwinderX86_64::new(),
        modules: Vec::new(),
        missing: Vec::new(),
        cache_warnings: Vec::new(),
        cache: None,
    };
    let mut mem = pycoroner_process::SliceMemory::new();
    mem.add(0, data.to_vec());
    let starts: Vec<u64> = calls.covered().take(64).collect();
    for svma in starts.into_iter().flat_map(|a| [a, a.wrapping_add(1), a.wrapping_add(5)]) {
        if let Some(cfi) = &cfi {
            let _ = row_at(cfi, svma);
        }
        let Some(off) = calls.unit_at(svma) else { continue };
        let Some(unit) = calls.unit(off) else { continue };
        let Ok(scope) = scopes_at(&dwarf, &unit, svma) else { continue };
        let mut units = Units::new(&calls, &unit);
        let frame = RawFrame { pc: svma, is_return: false, trust: super::Trust::Context, signal_frame: false, sp: 64 };
        let frames = [frame];
        let mut walk = Walk {
            native: &native,
            mem: &mem,
            frames: &frames,
            shown: vec![Shown { frame, regs: 0, tail: false }],
            regs: vec![FrameRegs { regs: [Some(64); REGISTERS], cfa: Some(128) }],
            stop: None,
            cfi: HashMap::new(),
        };
        let frame_base = frame_base_at(&dwarf, &unit, &scope, svma);
        for &s in scope.chain.iter().take(8) {
            let _ = units.name(&dwarf, (0, s));
            let Ok(mut tree) = unit.entries_tree(Some(s)) else { continue };
            let Ok(root) = tree.root() else { continue };
            let mut children = root.children();
            let mut n = 0usize;
            while let Ok(Some(child)) = children.next() {
                n = n.saturating_add(1);
                if n > 256 {
                    break;
                }
                let Ok(Some(location)) = child.entry().attr_value(gimli::DW_AT_location) else { continue };
                let Ok(Some(expr)) = location_at(&dwarf, &unit, location, svma) else { continue };
                let cx = EvalFrame { index: 0, unit: &unit, dwarf: &dwarf, bias: 0, frame_base: frame_base.clone(), entry_svma: calls.function_entry(svma) };
                let _ = native.evaluate(&mut walk, &cx, expr, 8, 0, Read::Location);
            }
        }
        let _ = call_value(&dwarf, &unit, svma, &[0x55]);
    }
}
