//! The objects the garbage collector tracks, counted per type: its generation lists
//! (what `gc.get_objects()` walks) and the permanent generation of `gc.freeze()`,
//! each a bounded walk that checks every link back. Sizes are `sys.getsizeof`'s where
//! the type's `__sizeof__` is known (object's own, or list's), else the basic size.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::ops::ControlFlow;

use pycoroner_layouts::key;
use pycoroner_layouts::Offsets;
use pycoroner_process::{Memory, MemoryExt, RemoteAddr};

use crate::error::{need, Error};
use crate::models::{DictModel, IntModel};
use crate::python::{InterpreterState, Python};
use crate::repr::{Kind, Renderer};
use crate::state::GENERATIONS;

/// Most objects walked in all the lists of one interpreter.
pub const MAX_OBJECTS: u64 = 200_000_000;
/// Most types followed up `tp_base` to find who defines `__sizeof__`.
const MAX_BASES: usize = 64;
/// Most distinct types one census keeps (a corrupt heap could name millions).
pub const MAX_TYPES: usize = 65_536;
/// `Py_TPFLAGS_TYPE_SUBCLASS`: set on `type` and its subclasses, so on the type of
/// every type object.
const TPFLAGS_TYPE_SUBCLASS: u64 = 1 << 31;
/// `Py_TPFLAGS_HAVE_GC`: instances carry a GC header, which `sys.getsizeof` counts.
const TPFLAGS_HAVE_GC: u64 = 1 << 14;
/// `Py_TPFLAGS_HEAPTYPE`: a class made at run time (whose `__slots__` are members).
const TPFLAGS_HEAPTYPE: u64 = 1 << 9;
/// `T_OBJECT_EX` (`Py_T_OBJECT_EX`): the member type of a `__slots__` entry.
const T_OBJECT_EX: i32 = 16;
/// Most members read from the `tp_members` of one type and its bases together.
const MAX_MEMBERS: u64 = 1024;
/// pymalloc's largest block (`SMALL_REQUEST_THRESHOLD`).
const MAX_SMALL_BLOCK: u64 = 512;
/// pymalloc's size classes at most (512 bytes in 8-byte steps).
const MAX_SIZE_CLASSES: u64 = MAX_SMALL_BLOCK / 8;
/// Pointers are at least 8-aligned: the low bits of a link are flags (3.8+).
const LINK_MASK: u64 = !7;

/// One list's walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCount {
    /// `generation 0`..`generation 2`, `permanent`.
    pub name: &'static str,
    /// Objects counted on it.
    pub objects: u64,
    /// Where and why the walk stopped before the list's end.
    pub broken: Option<String>,
}

/// How the nodes of a circular list of objects link: the offsets of the next and
/// previous links in a node, and the size of the header before the object (0 when the
/// links are in the object itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Links {
    /// Offset of the link to the next node.
    pub next: u64,
    /// Offset of the link back.
    pub prev: u64,
    /// Bytes from a node to its object.
    pub header: u64,
}

/// The objects of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeCount {
    /// The type object.
    pub type_addr: RemoteAddr,
    /// Its name with its module (`myapp.models.Order`; built-ins bare).
    pub name: String,
    /// How many.
    pub count: u64,
    /// Their total size in bytes.
    pub size: u64,
    /// Of them, on the permanent generation (`gc.freeze()`; not in `gc.get_objects()`).
    pub frozen: u64,
    /// Their size.
    pub frozen_size: u64,
    /// Whether `size` is what `sys.getsizeof` gives (else the basic sizes: the type
    /// defines its own `__sizeof__`, which counts memory the object points to).
    pub exact: bool,
}

/// The census of one interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Census {
    /// Each list walked.
    pub lists: Vec<ListCount>,
    /// Each type met, largest total size first.
    pub types: Vec<TypeCount>,
    /// Objects whose type could not be read or is no type object (or past
    /// [`MAX_TYPES`] types).
    pub unreadable: u64,
    /// Of them, objects whose type pointer is a debug build's freed-memory pattern
    /// (`0xdd...`): freed while still on a list, a use after free.
    pub freed: u64,
    /// The largest objects, largest first ([`CensusContext::largest`] of them).
    pub largest: Vec<Largest>,
    /// The objects the collector does not track that tracked ones refer to
    /// ([`CensusContext::untracked`]).
    pub untracked: Option<UntrackedCount>,
}

/// The objects the collector does not track (`str`, `int`, `float`, `bytes`, tuples
/// and dicts it untracked...), found through the tracked objects that refer to them:
/// what `gc.get_referents` gives of each tracked object, plus a dict's keys, for the
/// types whose references are known exactly (see `Python::referents`). Each is
/// counted once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UntrackedCount {
    /// Each type met, largest total size first.
    pub types: Vec<TypeCount>,
    /// Referred-to objects whose type could not be read.
    pub unreadable: u64,
    /// Why the count stopped short (a cap), if it did.
    pub truncated: Option<String>,
}

/// One of the largest objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Largest {
    /// Its address.
    pub addr: RemoteAddr,
    /// Its type.
    pub type_addr: RemoteAddr,
    /// Its size as `sys.getsizeof` gives it (see `exact`).
    pub size: u64,
    /// Whether `size` is `sys.getsizeof`'s (else the basic size).
    pub exact: bool,
    /// Items of a list, tuple, dict or set (their subclasses too), characters of a str, bytes of a bytes.
    pub len: Option<u64>,
    /// Not tracked by the collector (found through an object that refers to it).
    pub untracked: bool,
}

/// What the census needs besides the interpreter.
pub struct CensusContext {
    /// `PyBaseObject_Type` (`object`), whose `__sizeof__` is the default one.
    pub object_type: Option<RemoteAddr>,
    /// A collection is running: `_gc_prev` then holds reference counts, not links
    /// back, and cannot be checked.
    pub collecting: bool,
    /// Type flags whose instances have a two-word pre-header `sys.getsizeof` counts
    /// ([`crate::models::Models::getsizeof_preheader`]).
    pub preheader: u64,
    /// How many of the largest objects to keep (0: none).
    pub largest: usize,
    /// Also count the objects the collector does not track, through the tracked
    /// objects that refer to them (a second walk that reads every container).
    pub untracked: bool,
    /// References will be followed (`untracked`, a referrer search): each class's
    /// `__slots__` are read with its type (a plain census never needs them).
    pub references: bool,
}

/// How a type's instances are sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sizing {
    /// `object.__sizeof__`: the basic size plus the items.
    Default,
    /// A tuple's: `object.__sizeof__`, and its length is `ob_size`.
    Tuple,
    /// `list.__sizeof__`: the basic size plus the allocated slots.
    List,
    /// `dict.__sizeof__`: the basic size, a split table's values, and keys it owns.
    Dict,
    /// `set.__sizeof__`: the basic size plus a table grown out of the object.
    Set,
    /// `bytes.__sizeof__` (`object.__sizeof__`'s sum); its length is `ob_size`.
    Bytes,
    /// `str.__sizeof__`: the struct, the characters, and the UTF-8 (and ≤3.11
    /// `wchar_t`) copies it made.
    Str,
    /// `int.__sizeof__`: the digits (3.12+: at least one).
    Int,
    /// Its own `__sizeof__`: only the basic size is known.
    Basic,
}

#[derive(Debug, Clone)]
struct TypeInfo {
    basicsize: u64,
    itemsize: i64,
    sizing: Sizing,
    /// Added by `sys.getsizeof`: the GC header (and 3.12+ the pre-header).
    extra: u64,
    /// Instances have a GC header (`Py_TPFLAGS_HAVE_GC`).
    gc: bool,
    /// The `__slots__` of the class and its bases: (offset in the instance, the
    /// member's C name).
    slots: std::rc::Rc<[(u64, RemoteAddr)]>,
    count: u64,
    size: u64,
    frozen: u64,
    frozen_size: u64,
}

impl Python<'_> {
    /// The heads of the collector's lists of `interp`: the three generations, then the
    /// permanent one where the version has it.
    pub fn gc_lists(&self, interp: &InterpreterState) -> Result<Vec<(&'static str, RemoteAddr)>, Error> {
        let at = self.gc_state_at(interp).ok_or(Error::MissingOffset("the garbage collector's state"))??;
        let size = need(self.offsets, key::gc_state::gen_size)?;
        let names = ["generation 0", "generation 1", "generation 2"];
        let mut out = Vec::new();
        for (i, name) in (0..GENERATIONS).zip(names) {
            out.push((name, at.generations.offset(size.saturating_mul(i)).ok_or(Error::Overflow(at.generations))?));
        }
        if let Some(p) = at.permanent {
            out.push(("permanent", p));
        }
        Ok(out)
    }

    /// How the collector's lists link: `_gc_next`/`_gc_prev` in a GC header that comes
    /// before the object.
    fn gc_links(&self) -> Result<Links, Error> {
        Ok(Links { next: need(self.offsets, key::gc_head::next)?, prev: need(self.offsets, key::gc_head::prev)?, header: need(self.offsets, key::gc_head::size)? })
    }

    /// The head of the list of every live object a `Py_TRACE_REFS` build keeps
    /// (`sys.getobjects()`), with how it links; `None` on a build without one. ≤3.11
    /// the static sentinel `refchain` in object.c, 3.12 the interpreter's
    /// `object_state.refchain` (the 3.13+ table of objects carries no links and is not
    /// read).
    pub fn refchain(&self, interp: &InterpreterState) -> Option<Result<(RemoteAddr, Links), Error>> {
        let links = Links { next: key::object::trace_next.of(self.offsets)?, prev: key::object::trace_prev.of(self.offsets)?, header: 0 };
        let head = match key::interp::refchain.of(self.offsets) {
            Some(_) => self.field(interp.addr, key::interp::refchain),
            None => self.anchors.state.refchain.ok_or(Error::MissingOffset("symbol refchain")),
        };
        Some(head.map(|h| (h, links)))
    }

    /// Walk the collector's circular list whose head is `head` (see [`Self::walk_list`]).
    pub fn walk_gc_list(
        &self,
        head: RemoteAddr,
        budget: &mut u64,
        collecting: bool,
        visit: impl FnMut(RemoteAddr, RemoteAddr, i64),
    ) -> (u64, Option<String>) {
        match self.gc_links() {
            Ok(links) => self.walk_list(head, links, budget, collecting, visit),
            Err(e) => (0, Some(format!("cannot walk: {e}"))),
        }
    }

    /// Walk the circular list whose head is `head`, linked as `links` says, calling
    /// `visit` with each object's address, type and `ob_size` (meaningful for
    /// variable-size types), at most `budget` objects (decremented). Stops where a
    /// node's link back does not point at the node before it (unless `collecting`:
    /// the collector's `_gc_prev` then holds reference counts), where memory cannot be
    /// read, or at the budget; returns the count and why it stopped early.
    pub fn walk_list(
        &self,
        head: RemoteAddr,
        links: Links,
        budget: &mut u64,
        collecting: bool,
        mut visit: impl FnMut(RemoteAddr, RemoteAddr, i64),
    ) -> (u64, Option<String>) {
        let layout = (|| -> Result<_, Error> { Ok((need(self.offsets, key::object::ob_type)?, need(self.offsets, key::object::ob_size)?)) })();
        let (type_off, size_off) = match layout {
            Ok(l) => l,
            Err(e) => return (0, Some(format!("cannot walk: {e}"))),
        };
        let Links { next: next_off, prev: prev_off, header: hsize } = links;
        let links_end = next_off.max(prev_off).saturating_add(8);
        let min_span = usize::try_from(links_end.max(hsize.saturating_add(type_off).saturating_add(8))).unwrap_or(usize::MAX);
        let span = usize::try_from(links_end.max(hsize.saturating_add(type_off.max(size_off)).saturating_add(8))).unwrap_or(usize::MAX);
        if span > 256 {
            return (0, Some("cannot walk: the list's node layout is implausible".into()));
        }
        let mut buf = [0u8; 256];
        let mut g = match self.mem.read_u64(head.offset(next_off).unwrap_or(head)) {
            Ok(n) => RemoteAddr(n & LINK_MASK),
            Err(e) => return (0, Some(format!("the list's head at {head} cannot be read: {e}"))),
        };
        let mut last = head;
        let mut count = 0u64;
        // Brent's cycle detection: a loop that never comes back to the head (links
        // are not checked back while a collection runs).
        let (mut tortoise, mut power, mut lambda) = (head, 1u64, 0u64);
        while g != head {
            if g == tortoise {
                return (count, Some(format!("loops back to {g} without reaching the list's head")));
            }
            lambda = lambda.saturating_add(1);
            if lambda == power {
                tortoise = g;
                power = power.saturating_mul(2);
                lambda = 0;
            }
            if *budget == 0 {
                return (count, Some(format!("stopped after {count} objects (the walk's cap)")));
            }
            *budget = budget.saturating_sub(1);
            let Some(dst) = buf.get_mut(..span) else { break };
            if let Err(e) = self.mem.read_exact(g, dst) {
                // A small object at the very end of a mapping has no `ob_size` word
                // after it: read up to its type only.
                let short = buf.get_mut(..min_span).map(|d| self.mem.read_exact(g, d));
                if !matches!(short, Some(Ok(()))) {
                    return (count, Some(format!("broken at {g} (linked from {last}): {e}")));
                }
                if let Some(rest) = buf.get_mut(min_span..span) {
                    rest.fill(0);
                }
            }
            let prev = RemoteAddr(word(&buf, prev_off) & LINK_MASK);
            if !collecting && prev != last {
                return (count, Some(format!("broken at {g}: its link back points to {prev}, not to {last}")));
            }
            let obj = RemoteAddr(g.0.wrapping_add(hsize));
            visit(obj, RemoteAddr(word(&buf, hsize.saturating_add(type_off))), word(&buf, hsize.saturating_add(size_off)) as i64);
            count = count.saturating_add(1);
            last = g;
            g = RemoteAddr(word(&buf, next_off) & LINK_MASK);
        }
        (count, None)
    }
}

/// `USABLE_FRACTION`: the entries a table of `n` slots holds.
fn usable_fraction(n: u64) -> u64 {
    n.saturating_mul(2) / 3
}

/// Most slots a dict or set table is believed to have (a corrupt size is not
/// multiplied into a size beyond any real heap).
const MAX_TABLE: u64 = 1 << 40;

impl Python<'_> {
    /// What `dict.__sizeof__` adds to the basic size: a split table's values
    /// (`usable` slots ≤3.10, `dk_nentries + dk_usable` 3.11+) and the keys object
    /// when the dict owns it alone (`dk_refcnt == 1`: not shared, not static).
    fn dict_extra_size(&self, dict: RemoteAddr) -> Result<u64, Error> {
        let keys = self.ptr(dict, key::dict::keys)?;
        let values = self.ptr(dict, key::dict::values)?;
        let header = need(self.offsets, key::dict::dk_indices)?;
        let word = |k| -> Result<u64, Error> { Ok(self.mem.read_u64(self.field(keys, k)?)?) };
        let byte = |k| -> Result<u64, Error> { Ok(u64::from(self.mem.read_u8(self.field(keys, k)?)?)) };
        let (slots, index_bytes, entry, split_values) = match self.models.dict {
            DictModel::SizeIndexed => {
                let size = word(key::dict::dk_size)?.min(MAX_TABLE);
                let width = match size {
                    0..=0xff => 1,
                    0x100..=0xffff => 2,
                    0x1_0000..=0xffff_ffff => 4,
                    _ => 8,
                };
                (size, size.saturating_mul(width), need(self.offsets, key::dict::entry_size)?, usable_fraction(size))
            }
            DictModel::Log2Kinds => {
                let size = 1u64.checked_shl(u32::try_from(byte(key::dict::dk_log2_size)?).unwrap_or(64)).unwrap_or(MAX_TABLE).min(MAX_TABLE);
                let index = 1u64.checked_shl(u32::try_from(byte(key::dict::dk_log2_index_bytes)?).unwrap_or(64)).unwrap_or(MAX_TABLE).min(MAX_TABLE);
                let general = byte(key::dict::dk_kind)? == 0;
                let entry = if general { need(self.offsets, key::dict::entry_size)? } else { need(self.offsets, key::dict::unicode_entry_size)? };
                let shared = word(key::dict::dk_nentries)?.saturating_add(word(key::dict::dk_usable)?).min(MAX_TABLE);
                (size, index, entry, shared)
            }
        };
        let mut extra = 0u64;
        if !values.is_null() {
            extra = extra.saturating_add(split_values.saturating_mul(8));
        }
        if self.mem.read_u64(self.field(keys, key::dict::dk_refcnt)?)? == 1 {
            extra = extra.saturating_add(header).saturating_add(index_bytes).saturating_add(usable_fraction(slots).saturating_mul(entry));
        }
        Ok(extra)
    }

    /// The items of a container sized as `sizing` says (a list's or tuple's
    /// `ob_size`, a dict's or set's `used`); `None` for anything else.
    fn container_len(&self, obj: RemoteAddr, sizing: Sizing) -> Option<u64> {
        let at = match sizing {
            Sizing::List | Sizing::Tuple | Sizing::Bytes => self.field(obj, key::object::ob_size).ok()?,
            Sizing::Dict => self.field(obj, key::dict::used).ok()?,
            Sizing::Set => self.field(obj, key::set::used).ok()?,
            Sizing::Str => self.field(obj, key::unicode::length).ok()?,
            Sizing::Default | Sizing::Int | Sizing::Basic => return None,
        };
        u64::try_from(self.mem.read_i64(at).ok()?).ok()
    }

    /// What `set.__sizeof__` adds to the basic size: the table, once it has grown out
    /// of the object's own small table.
    fn set_extra_size(&self, set: RemoteAddr) -> Result<u64, Error> {
        let table = self.ptr(set, key::set::table)?;
        if table == self.field(set, key::set::smalltable)? {
            return Ok(0);
        }
        let mask = self.mem.read_u64(self.field(set, key::set::mask)?)?.min(MAX_TABLE);
        Ok(mask.saturating_add(1).saturating_mul(need(self.offsets, key::set::entry_size)?))
    }

    /// `str.__sizeof__`: the struct and its characters (compact: inside the object;
    /// else the data block, when there is one), plus the UTF-8 copy a non-ASCII
    /// string cached and (≤3.11, where `wstr` exists) the `wchar_t` copy, each
    /// unless it is the data itself.
    fn str_size(&self, s: RemoteAddr) -> Result<u64, Error> {
        let length = self.mem.read_u64(self.field(s, key::unicode::length)?)?.min(MAX_TABLE);
        let state = self.mem.read_u32(self.field(s, key::unicode::state)?)?;
        // The state bits as objects::read_str reads them: kind:3 at 2, compact at 5,
        // ascii at 6; ≤3.11 ready at 7.
        let kind = u64::from((state >> 2) & 7);
        let (compact, ascii, ready) = ((state >> 5) & 1 == 1, (state >> 6) & 1 == 1, (state >> 7) & 1 == 1);
        let chars = length.saturating_add(1).saturating_mul(kind);
        let (mut size, data) = if compact && ascii {
            let at = need(self.offsets, key::unicode::ascii_size)?;
            (at.saturating_add(length).saturating_add(1), s.offset(at))
        } else if compact {
            let at = need(self.offsets, key::unicode::compact_size)?;
            (at.saturating_add(chars), s.offset(at))
        } else {
            let data = self.ptr(s, key::unicode::data)?;
            let base = need(self.offsets, key::unicode::legacy_size)?;
            (if data.is_null() { base } else { base.saturating_add(chars) }, Some(data))
        };
        if key::unicode::wstr.of(self.offsets).is_some() {
            let wstr = self.ptr(s, key::unicode::wstr)?;
            if !wstr.is_null() && (!ready || Some(wstr) != data) {
                let wlen = if compact && ascii { length } else { self.mem.read_u64(self.field(s, key::unicode::wstr_length)?)?.min(MAX_TABLE) };
                size = size.saturating_add(wlen.saturating_add(1).saturating_mul(4));
            }
        }
        if !(compact && ascii) {
            let utf8 = self.ptr(s, key::unicode::utf8)?;
            if !utf8.is_null() && Some(utf8) != data {
                size = size.saturating_add(self.mem.read_u64(self.field(s, key::unicode::utf8_length)?)?.min(MAX_TABLE).saturating_add(1));
            }
        }
        Ok(size)
    }

    /// `int.__sizeof__`: the header up to the digits and 4 bytes a digit (3.12+
    /// allocates one for zero too).
    fn int_size(&self, i: RemoteAddr) -> Result<u64, Error> {
        let digits = match self.models.int {
            IntModel::SignedSize => self.mem.read_i64(self.field(i, key::object::ob_size)?)?.unsigned_abs(),
            IntModel::Tagged => (self.mem.read_u64(self.field(i, key::long::lv_tag)?)? >> 3).max(1),
        };
        Ok(need(self.offsets, key::long::digit)?.saturating_add(digits.min(MAX_TABLE).saturating_mul(4)))
    }

    /// What `sys.getsizeof` gives for `obj` of a type described by `info`, with its
    /// `ob_size` when the caller has read it already.
    fn object_size(&self, obj: RemoteAddr, info: &TypeInfo, ob_size: Option<i64>) -> u64 {
        let ob_size = || ob_size.or_else(|| self.mem.read_i64(self.field(obj, key::object::ob_size).ok()?).ok()).unwrap_or(0);
        let body = match info.sizing {
            Sizing::Default | Sizing::Tuple | Sizing::Bytes if info.itemsize > 0 => info.basicsize.saturating_add(ob_size().unsigned_abs().saturating_mul(info.itemsize as u64)),
            Sizing::List => {
                let slots = self.field(obj, key::list::allocated).ok().and_then(|a| self.mem.read_i64(a).ok()).and_then(|a| u64::try_from(a).ok()).unwrap_or(0);
                info.basicsize.saturating_add(slots.saturating_mul(8))
            }
            Sizing::Dict => info.basicsize.saturating_add(self.dict_extra_size(obj).unwrap_or(0)),
            Sizing::Set => info.basicsize.saturating_add(self.set_extra_size(obj).unwrap_or(0)),
            Sizing::Str => self.str_size(obj).unwrap_or(info.basicsize),
            Sizing::Int => self.int_size(obj).unwrap_or(info.basicsize),
            _ => info.basicsize,
        };
        body.saturating_add(info.extra)
    }
}

impl Python<'_> {
    /// `sys.gettotalrefcount()` of a debug build: ≤3.11 `_Py_RefTotal`; 3.12+ each
    /// interpreter's `object_state.reftotal`, plus the runtime's
    /// `interpreter_leaks`, the legacy `_Py_RefTotal` and `last_final_reftotal`.
    /// `None` on a build that keeps no total (release builds).
    pub fn total_refs(&self, interpreters: &[InterpreterState]) -> Option<Result<i64, Error>> {
        let sa = self.anchors.state;
        let legacy = |at: Option<RemoteAddr>| -> Result<i64, Error> { at.map_or(Ok(0), |a| Ok(self.mem.read_i64(a)?)) };
        if key::interp::reftotal.of(self.offsets).is_none() {
            return sa.ref_total.map(|a| Ok(self.mem.read_i64(a)?));
        }
        Some((|| {
            let mut total = legacy(sa.ref_total)?.saturating_add(legacy(sa.last_final_reftotal)?);
            for i in interpreters {
                total = total.saturating_add(self.mem.read_i64(self.field(i.addr, key::interp::reftotal)?)?);
            }
            if key::runtime::reftotal_leaks.of(self.offsets).is_some() {
                let rt = self.anchors.runtime.ok_or(Error::MissingOffset("symbol _PyRuntime"))?;
                total = total.saturating_add(self.mem.read_i64(self.field(rt, key::runtime::reftotal_leaks)?)?);
            }
            Ok(total)
        })())
    }
}

impl Renderer<'_> {
    /// Who defines the `__sizeof__` instances of `ty` use, as far as type dicts tell
    /// (3.12+ static built-in types keep their dict elsewhere: their own kind decides).
    fn sizing(&self, ty: RemoteAddr, object_type: Option<RemoteAddr>) -> Sizing {
        let mut t = ty;
        for _ in 0..MAX_BASES {
            if t.is_null() {
                return Sizing::Basic;
            }
            if Some(t) == object_type {
                return Sizing::Default;
            }
            match self.known.kind_of_type(t) {
                Some(Kind::List) => return Sizing::List,
                Some(Kind::Tuple) => return Sizing::Tuple,
                Some(Kind::Dict) => return Sizing::Dict,
                Some(Kind::Set | Kind::FrozenSet) => return Sizing::Set,
                Some(Kind::Str) => return Sizing::Str,
                Some(Kind::Int | Kind::Bool) => return Sizing::Int,
                Some(Kind::Bytes) => return Sizing::Bytes,
                // No `__sizeof__` of their own.
                Some(Kind::Float | Kind::Complex) => return Sizing::Default,
                _ => {}
            }
            let dict = self.at(t, key::type_ext::dict).and_then(|a| Ok(self.mem.read_ptr(a)?)).ok().filter(|d| !d.is_null());
            match dict {
                Some(d) if self.dict_get_str(d, "__sizeof__").is_some() => return Sizing::Basic,
                Some(_) => {}
                // A dict we cannot see: whether it overrides `__sizeof__` is unknown.
                None => return Sizing::Basic,
            }
            t = match self.at(t, key::type_ext::base).and_then(|a| Ok(self.mem.read_ptr(a)?)) {
                Ok(b) => b,
                Err(_) => return Sizing::Basic,
            };
        }
        Sizing::Basic
    }

    fn type_info(&self, ty: RemoteAddr, cx: &CensusContext, hsize: u64) -> Option<TypeInfo> {
        if !is_type(self.mem, self.o, ty) {
            return None;
        }
        let basicsize = self.mem.read_u64(self.at(ty, key::type_ext::basicsize).ok()?).ok()?;
        let itemsize = self.mem.read_i64(self.at(ty, key::type_ext::itemsize).ok()?).ok()?;
        let flags = self.mem.read_u64(self.at(ty, key::type_object::tp_flags).ok()?).ok()?;
        let pre = if flags & cx.preheader != 0 { 16 } else { 0 };
        let gc = flags & TPFLAGS_HAVE_GC != 0;
        let extra = if gc { hsize.saturating_add(pre) } else { 0 };
        let slots = if cx.references { self.slot_members(ty).into() } else { std::rc::Rc::from([]) };
        Some(TypeInfo { basicsize, itemsize, sizing: self.sizing(ty, cx.object_type), extra, gc, slots, count: 0, size: 0, frozen: 0, frozen_size: 0 })
    }

    /// The `__slots__` members of `ty` and its bases (classes made at run time keep
    /// them in `tp_members`, as `T_OBJECT_EX` entries): (offset, C name).
    fn slot_members(&self, ty: RemoteAddr) -> Vec<(u64, RemoteAddr)> {
        let mut out = Vec::new();
        let (Some(size), Some(type_off), Some(offset_off)) = (self.o.memberdef.size, self.o.memberdef.type_, self.o.memberdef.offset) else {
            return out;
        };
        let mut t = ty;
        let mut read = 0u64;
        for _ in 0..MAX_BASES {
            let flags = self.at(t, key::type_object::tp_flags).and_then(|a| Ok(self.mem.read_u64(a)?)).unwrap_or(0);
            if flags & TPFLAGS_HEAPTYPE == 0 {
                break;
            }
            let members = self.at(t, key::type_ext::members).and_then(|a| Ok(self.mem.read_ptr(a)?)).unwrap_or_default();
            for i in 0..if members.is_null() { 0 } else { MAX_MEMBERS } {
                read = read.saturating_add(1);
                if read > MAX_MEMBERS {
                    return out;
                }
                let Some(def) = members.offset(size.saturating_mul(i)) else { break };
                let Ok(name) = self.at(def, key::memberdef::name).and_then(|a| Ok(self.mem.read_ptr(a)?)) else { break };
                if name.is_null() {
                    break;
                }
                let kind = def.offset(type_off).and_then(|a| self.mem.read_i32(a).ok());
                let at = def.offset(offset_off).and_then(|a| self.mem.read_i64(a).ok()).and_then(|o| u64::try_from(o).ok());
                if let (Some(T_OBJECT_EX), Some(at)) = (kind, at) {
                    out.push((at, name));
                }
            }
            t = match self.at(t, key::type_ext::base).and_then(|a| Ok(self.mem.read_ptr(a)?)) {
                Ok(b) if !b.is_null() => b,
                _ => break,
            };
        }
        out
    }
}

/// Count the objects the collector of `interp` tracks, per type.
pub fn census(py: &Python<'_>, r: &Renderer<'_>, interp: &InterpreterState, cx: &CensusContext) -> Result<Census, Error> {
    let links = py.gc_links()?;
    let lists: Vec<_> = py.gc_lists(interp)?.into_iter().map(|(name, head)| (name, head, links)).collect();
    count_lists(py, r, &lists, cx)
}

/// Count every live object of a `Py_TRACE_REFS` build (what `sys.getobjects()` lists:
/// tracked by the collector or not), per type; `None` on a build without that list.
/// The largest objects are not kept (the collector's census keeps them).
pub fn census_all(py: &Python<'_>, r: &Renderer<'_>, interp: &InterpreterState, cx: &CensusContext) -> Option<Result<Census, Error>> {
    let cx = CensusContext { object_type: cx.object_type, collecting: false, preheader: cx.preheader, largest: 0, untracked: false, references: false };
    Some(py.refchain(interp)?.and_then(|(head, links)| count_lists(py, r, &[("all objects", head, links)], &cx)))
}

/// Count the objects on `lists` (name, head, how its nodes link) per type; the
/// collector's permanent list counts as frozen; with `cx.untracked`, also the objects
/// the ones counted refer to that are on none of the lists.
fn count_lists(py: &Python<'_>, r: &Renderer<'_>, lists: &[(&'static str, RemoteAddr, Links)], cx: &CensusContext) -> Result<Census, Error> {
    let hsize = need(py.offsets, key::gc_head::size)?;
    let mut types: HashMap<RemoteAddr, Option<TypeInfo>> = HashMap::new();
    let mut census = Census::default();
    let mut budget = MAX_OBJECTS;
    let mut unreadable = 0u64;
    let mut freed = 0u64;
    // The largest objects so far, smallest on top (size, address, type, untracked).
    let mut biggest: BinaryHeap<Reverse<(u64, RemoteAddr, RemoteAddr, bool)>> = BinaryHeap::new();
    let mut keep_biggest = |size: u64, obj: RemoteAddr, ty: RemoteAddr, untracked: bool| {
        if cx.largest > 0 && (biggest.len() < cx.largest || biggest.peek().is_some_and(|Reverse((s, ..))| *s < size)) {
            biggest.push(Reverse((size, obj, ty, untracked)));
            if biggest.len() > cx.largest {
                biggest.pop();
            }
        }
    };
    // Every tracked object, when the untracked ones are counted too.
    let mut tracked: HashSet<RemoteAddr> = HashSet::new();
    for &(name, head, links) in lists {
        let permanent = name == "permanent";
        let (objects, broken) = py.walk_list(head, links, &mut budget, cx.collecting, |obj, ty, ob_size| {
            if types.len() >= MAX_TYPES && !types.contains_key(&ty) {
                unreadable = unreadable.saturating_add(1);
                return;
            }
            let info = types.entry(ty).or_insert_with(|| r.type_info(ty, cx, hsize));
            let Some(info) = info else {
                unreadable = unreadable.saturating_add(1);
                if r.is_dead(ty.0) {
                    freed = freed.saturating_add(1);
                }
                return;
            };
            let size = py.object_size(obj, info, Some(ob_size));
            keep_biggest(size, obj, ty, false);
            if cx.untracked {
                tracked.insert(obj);
            }
            info.count = info.count.saturating_add(1);
            info.size = info.size.saturating_add(size);
            if permanent {
                info.frozen = info.frozen.saturating_add(1);
                info.frozen_size = info.frozen_size.saturating_add(size);
            }
        });
        census.lists.push(ListCount { name, objects, broken });
    }
    census.unreadable = unreadable;
    census.freed = freed;
    if cx.untracked {
        let heads: Vec<_> = lists.iter().map(|&(name, head, _)| (name, head)).collect();
        census.untracked = Some(count_untracked(py, r, &heads, cx, hsize, &tracked, &mut types, &mut keep_biggest));
    }
    census.largest = biggest
        .into_sorted_vec()
        .into_iter()
        .map(|Reverse((size, addr, ty, untracked))| {
            let sizing = types.get(&ty).and_then(|i| i.as_ref()).map_or(Sizing::Basic, |i| i.sizing);
            Largest { addr, type_addr: ty, size, exact: sizing != Sizing::Basic, len: py.container_len(addr, sizing), untracked }
        })
        .collect();
    if let Some(u) = census.untracked.as_mut() {
        u.types = type_counts(r, u.types.drain(..).map(|t| (t.type_addr, t)), &types);
    }
    census.types = type_counts(r, types.iter().filter_map(|(t, info)| Some((*t, TypeCount::from_info(*t, info.as_ref()?)))), &types);
    Ok(census)
}

/// Most untracked objects one census counts (each is remembered to count it once).
pub const MAX_UNTRACKED: usize = 20_000_000;

impl TypeCount {
    fn from_info(t: RemoteAddr, info: &TypeInfo) -> TypeCount {
        TypeCount { type_addr: t, name: String::new(), count: info.count, size: info.size, frozen: info.frozen, frozen_size: info.frozen_size, exact: info.sizing != Sizing::Basic }
    }
}

/// Name `counts`, largest total size first.
fn type_counts(r: &Renderer<'_>, counts: impl Iterator<Item = (RemoteAddr, TypeCount)>, types: &HashMap<RemoteAddr, Option<TypeInfo>>) -> Vec<TypeCount> {
    let mut out: Vec<TypeCount> = counts
        .map(|(t, mut c)| {
            c.name = r.type_full_name(t).unwrap_or_else(|_| format!("<type at {t}>"));
            c.exact = types.get(&t).and_then(|i| i.as_ref()).is_some_and(|i| i.sizing != Sizing::Basic);
            c
        })
        .collect();
    out.sort_by(|a, b| b.size.cmp(&a.size).then(b.count.cmp(&a.count)).then(a.name.cmp(&b.name)));
    out
}

/// The second walk of `--untracked`: each tracked object's references (as
/// `Python::referents` knows them) to objects not in `tracked`, and on through the
/// untracked containers among those (a dict or tuple the collector stopped tracking
/// still holds its items), each counted once per type (the names are left to the
/// caller).
#[allow(clippy::too_many_arguments)]
fn count_untracked(
    py: &Python<'_>,
    r: &Renderer<'_>,
    lists: &[(&'static str, RemoteAddr)],
    cx: &CensusContext,
    hsize: u64,
    tracked: &HashSet<RemoteAddr>,
    types: &mut HashMap<RemoteAddr, Option<TypeInfo>>,
    keep_biggest: &mut dyn FnMut(u64, RemoteAddr, RemoteAddr, bool),
) -> UntrackedCount {
    let mut out = UntrackedCount::default();
    let mut counts: HashMap<RemoteAddr, TypeCount> = HashMap::new();
    let mut seen: HashSet<RemoteAddr> = HashSet::new();
    // Untracked containers met and not yet looked into.
    let mut pending: Vec<(RemoteAddr, RemoteAddr)> = Vec::new();
    let mut found: Vec<RemoteAddr> = Vec::new();
    let mut budget = MAX_OBJECTS;
    for &(_, head) in lists {
        py.walk_gc_list(head, &mut budget, cx.collecting, |obj, ty, _| {
            pending.push((obj, ty));
            while let Some((o, t)) = pending.pop() {
                let Some(Some(info)) = types.get(&t).cloned() else { continue };
                found.clear();
                py.referents(r, o, t, &info, &mut |v, _| {
                    found.push(v);
                    ControlFlow::Continue(())
                });
                for &v in &found {
                    if v.is_null() || tracked.contains(&v) || seen.contains(&v) {
                        continue;
                    }
                    if seen.len() >= MAX_UNTRACKED {
                        out.truncated = Some(format!("stopped after {MAX_UNTRACKED} objects (the count's cap)"));
                        pending.clear();
                        break;
                    }
                    seen.insert(v);
                    let Ok(vt) = py.ptr(v, key::object::ob_type) else {
                        out.unreadable = out.unreadable.saturating_add(1);
                        continue;
                    };
                    if types.len() >= MAX_TYPES && !types.contains_key(&vt) {
                        out.unreadable = out.unreadable.saturating_add(1);
                        continue;
                    }
                    let Some(vinfo) = types.entry(vt).or_insert_with(|| r.type_info(vt, cx, hsize)).as_ref() else {
                        out.unreadable = out.unreadable.saturating_add(1);
                        continue;
                    };
                    let size = py.object_size(v, vinfo, None);
                    keep_biggest(size, v, vt, true);
                    let c = counts.entry(vt).or_insert_with(|| TypeCount { type_addr: vt, name: String::new(), count: 0, size: 0, frozen: 0, frozen_size: 0, exact: false });
                    c.count = c.count.saturating_add(1);
                    c.size = c.size.saturating_add(size);
                    // What gc.get_referents looks into: containers with a GC header.
                    if vinfo.gc && matches!(vinfo.sizing, Sizing::List | Sizing::Tuple | Sizing::Dict | Sizing::Set) {
                        pending.push((v, vt));
                    }
                }
            }
        });
    }
    out.types = counts.into_values().collect();
    out
}

/// Where a path to an object starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// A module's globals (its `__dict__`, the path's first object).
    Module(String),
    /// A local of a thread's frame (the path's first object is its value).
    Local {
        /// The thread's `thread_id`.
        thread_id: u64,
        /// The frame's function.
        function: String,
        /// The variable.
        name: String,
    },
    /// A type object (the path's first object).
    Type(String),
}

/// How an object refers to the next one of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A dict's value, by its key (the key object).
    Key(RemoteAddr),
    /// A dict's key.
    DictKey,
    /// A list's or tuple's item.
    Index(u64),
    /// A set's element.
    Element,
    /// An instance attribute (its name, a str object).
    Attr(RemoteAddr),
    /// A field of a built-in object (`cell_contents`, `__closure__`...).
    Field(&'static str),
    /// A `__slots__` member (the address of its C name).
    Slot(RemoteAddr),
    /// A word of the object's body that holds the address: maybe a reference, maybe
    /// not (a type pycoroner does not know the fields of).
    Possible(u64),
}

/// One object of a path and how the one before refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The object.
    pub addr: RemoteAddr,
    /// How the previous step's object refers to this one (`None` for the first).
    pub via: Option<Via>,
}

/// A path from a root down to the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefPath {
    /// Where it starts.
    pub root: Root,
    /// Its objects, the root's first, the object asked about last.
    pub steps: Vec<Step>,
}

/// Who refers to an object, and how it is reached from the roots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Referrers {
    /// The GC-tracked objects that refer to it directly, with how (`gc.get_referrers`).
    pub direct: Vec<(RemoteAddr, Via)>,
    /// Paths from roots, shortest first.
    pub paths: Vec<RefPath>,
    /// Levels walked up from the object.
    pub levels: usize,
    /// Why the search stopped short (a cap), if it did.
    pub truncated: Option<String>,
}

/// The roots a referrer search ends at, besides types: modules' globals and frames'
/// locals.
#[derive(Debug, Clone, Default)]
pub struct ReferrerRoots {
    /// Each module's `__dict__` and the module's name.
    pub module_dicts: HashMap<RemoteAddr, String>,
    /// `(thread_id, function, variable, value)` of every frame's locals.
    pub locals: Vec<(u64, String, String, RemoteAddr)>,
}

/// A referrer search: of which object, how many levels up, how many paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    /// The object.
    pub target: RemoteAddr,
    /// Most levels walked up from it.
    pub depth: usize,
    /// Paths from roots to find before stopping.
    pub max_paths: usize,
}

/// Most objects one level of a referrer search follows (a very popular object).
pub const MAX_FRONTIER: usize = 100_000;
/// Most items of one container looked at for references.
const MAX_ITEMS: usize = 1 << 22;

impl Python<'_> {
    /// Call `visit` with each object the object at `o` (of type `ty`, described by
    /// `info`) refers to and how, as its type's `tp_traverse` visits them, for the
    /// types whose references are known exactly: list, tuple, dict (keys too), set,
    /// cell, function, method, builtin function, module and type; for any other type
    /// the values of its instance attributes. Stops when `visit` breaks. Returns
    /// whether the references given are all of them (else the object may have
    /// references in fields pycoroner does not know).
    fn referents(&self, r: &Renderer<'_>, o: RemoteAddr, ty: RemoteAddr, info: &TypeInfo, visit: &mut dyn FnMut(RemoteAddr, Via) -> ControlFlow<()>) -> bool {
        r.lookup();
        match info.sizing {
            Sizing::List | Sizing::Tuple => {
                let kind = if info.sizing == Sizing::List { Kind::List } else { Kind::Tuple };
                if let Ok((items, _)) = r.sequence_items_up_to(o, kind, MAX_ITEMS, 1 << 30) {
                    for (i, v) in items.into_iter().enumerate() {
                        if visit(v, Via::Index(i as u64)).is_break() {
                            break;
                        }
                    }
                }
                return true;
            }
            Sizing::Dict => {
                if let Ok((pairs, _)) = r.dict_items_up_to(o, MAX_ITEMS) {
                    for (k, v) in pairs {
                        if visit(v, Via::Key(k)).is_break() || visit(k, Via::DictKey).is_break() {
                            break;
                        }
                    }
                }
                return true;
            }
            Sizing::Set => {
                if let Ok((items, _)) = r.set_items_up_to(o, MAX_ITEMS) {
                    for v in items {
                        if visit(v, Via::Element).is_break() {
                            break;
                        }
                    }
                }
                return true;
            }
            Sizing::Default | Sizing::Bytes | Sizing::Str | Sizing::Int | Sizing::Basic => {}
        }
        let fields: &[(pycoroner_layouts::Key, &'static str)] = match r.known.kind_of_type(ty) {
            Some(Kind::Cell) => &[(key::cell::obj, "cell_contents")],
            Some(Kind::Function) => &[
                (key::function::closure, "__closure__"),
                (key::function::globals, "__globals__"),
                (key::function::defaults, "__defaults__"),
                (key::function::kwdefaults, "__kwdefaults__"),
                (key::function::dict, "__dict__"),
                (key::function::code, "__code__"),
                (key::function::name, "__name__"),
                (key::function::qualname, "__qualname__"),
                (key::function::module, "__module__"),
                (key::function::doc, "__doc__"),
            ],
            Some(Kind::Method) => &[(key::method::self_, "__self__"), (key::method::func, "__func__")],
            Some(Kind::BuiltinFunction) => &[(key::cfunction::self_, "__self__"), (key::cfunction::module, "__module__")],
            Some(Kind::Module) => &[(key::module::dict, "__dict__")],
            Some(Kind::Type) => &[(key::type_ext::dict, "__dict__"), (key::type_ext::mro, "__mro__"), (key::type_ext::bases, "__bases__"), (key::type_ext::base, "__base__")],
            _ => &[],
        };
        if !fields.is_empty() {
            for &(k, name) in fields {
                if let Ok(v) = self.ptr(o, k) {
                    if !v.is_null() && visit(v, Via::Field(name)).is_break() {
                        break;
                    }
                }
            }
            return true;
        }
        if let Ok((attrs, _)) = r.instance_attributes_up_to(o, MAX_ITEMS) {
            for (k, v) in attrs {
                if visit(v, Via::Attr(k)).is_break() {
                    return false;
                }
            }
        }
        for &(at, name) in info.slots.iter() {
            let v = o.offset(at).and_then(|a| self.mem.read_ptr(a).ok()).unwrap_or_default();
            if !v.is_null() && visit(v, Via::Slot(name)).is_break() {
                break;
            }
        }
        false
    }

    /// The references of the object at `o` (of type `ty`, described by `info`) to any
    /// of `wanted`: the first one found, exact where `Python::referents` is, else
    /// a word of its body that holds a wanted address (possible).
    fn reference_to(&self, r: &Renderer<'_>, o: RemoteAddr, ty: RemoteAddr, info: &TypeInfo, wanted: &HashSet<RemoteAddr>) -> Option<(RemoteAddr, Via)> {
        let mut found = None;
        let exact = self.referents(r, o, ty, info, &mut |v, via| {
            if wanted.contains(&v) {
                found = Some((v, via));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        if found.is_some() || exact {
            return found;
        }
        // Anything else: the words of its body after the object header.
        let start = need(self.offsets, key::object::ob_type).ok()?.saturating_add(8);
        let end = info.basicsize.min(4096);
        if end <= start {
            return None;
        }
        let words = self.mem.read_ptrs(o.offset(start)?, end.saturating_sub(start) / 8, 4096).ok()?;
        words.into_iter().enumerate().find(|(_, v)| wanted.contains(v)).map(|(i, v)| (v, Via::Possible(start.saturating_add(8u64.saturating_mul(i as u64)))))
    }
}

/// The little-endian word of `width` bytes (4 or 8) at `off` in `buf`, 0 past its end.
fn le_word(buf: &[u8], off: u64, width: usize) -> u64 {
    let Some(b) = usize::try_from(off).ok().and_then(|o| buf.get(o..o.checked_add(width)?)) else {
        return 0;
    };
    b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn word(buf: &[u8], off: u64) -> u64 {
    le_word(buf, off, 8)
}

fn half(buf: &[u8], off: u64) -> u64 {
    le_word(buf, off, 4)
}

/// Whether `obj` is a type object (its own type is `type` or a subclass of it: it has
/// `Py_TPFLAGS_TYPE_SUBCLASS`).
fn is_type(mem: &dyn Memory, offsets: &Offsets, obj: RemoteAddr) -> bool {
    (|| -> Result<bool, Error> {
        let at = |base: RemoteAddr, k| base.offset(need(offsets, k)?).ok_or(Error::Overflow(base));
        let meta = mem.read_ptr(at(obj, key::object::ob_type)?)?;
        Ok(mem.read_u64(at(meta, key::type_object::tp_flags)?)? & TPFLAGS_TYPE_SUBCLASS != 0)
    })()
    .unwrap_or(false)
}

/// Who refers to `target`, level by level up to `depth`, until `max_paths` paths from
/// roots are found: each level is one walk of the collector's lists, keeping the
/// first reference each object makes to an object of the level below.
pub fn referrers(py: &Python<'_>, r: &Renderer<'_>, interp: &InterpreterState, search: &Search, roots: &ReferrerRoots, cx: &CensusContext) -> Result<Referrers, Error> {
    let Search { target, depth, max_paths } = *search;
    let hsize = need(py.offsets, key::gc_head::size)?;
    let lists = py.gc_lists(interp)?;
    let mut out = Referrers::default();
    // For each object with a known way down to the target: the next object and how.
    let mut down: HashMap<RemoteAddr, (RemoteAddr, Via)> = HashMap::new();
    let mut known: HashSet<RemoteAddr> = HashSet::from([target]);
    let mut frontier: HashSet<RemoteAddr> = HashSet::from([target]);
    let mut types: HashMap<RemoteAddr, Option<TypeInfo>> = HashMap::new();
    let path_from = |start: RemoteAddr, down: &HashMap<RemoteAddr, (RemoteAddr, Via)>| -> Vec<Step> {
        let mut steps = vec![Step { addr: start, via: None }];
        let mut at = start;
        while let Some((next, via)) = down.get(&at) {
            steps.push(Step { addr: *next, via: Some(*via) });
            at = *next;
            if steps.len() > depth.saturating_add(2) {
                break;
            }
        }
        steps
    };
    for level in 0..=depth {
        out.levels = level;
        // Roots among this level.
        let mut level_roots: Vec<RemoteAddr> = frontier.iter().copied().collect();
        level_roots.sort();
        for f in level_roots {
            let root = if let Some(name) = roots.module_dicts.get(&f) {
                Root::Module(name.clone())
            } else if f != target && is_type(py.mem, py.offsets, f) {
                Root::Type(r.type_full_name(f).unwrap_or_else(|_| format!("type at {f}")))
            } else {
                continue;
            };
            out.paths.push(RefPath { root, steps: path_from(f, &down) });
            // A path ends at its root: what refers to a module's globals or a type is
            // not searched (every function of the module, every instance).
            frontier.remove(&f);
        }
        for (thread_id, function, name, value) in &roots.locals {
            if frontier.contains(value) {
                out.paths.push(RefPath { root: Root::Local { thread_id: *thread_id, function: function.clone(), name: name.clone() }, steps: path_from(*value, &down) });
            }
        }
        if out.paths.len() >= max_paths || level == depth || frontier.is_empty() {
            break;
        }
        // One walk: the objects referring to this level (not modules' dicts and types
        // already met: roots end paths).
        let mut next: HashSet<RemoteAddr> = HashSet::new();
        let mut budget = MAX_OBJECTS;
        for (_, head) in &lists {
            let (_, broken) = py.walk_gc_list(*head, &mut budget, cx.collecting, |o, ty, _| {
                if known.contains(&o) || next.len() >= MAX_FRONTIER {
                    return;
                }
                if types.len() >= MAX_TYPES && !types.contains_key(&ty) {
                    return;
                }
                let Some(info) = types.entry(ty).or_insert_with(|| r.type_info(ty, cx, hsize)).clone() else { return };
                if let Some((child, via)) = py.reference_to(r, o, ty, &info, &frontier) {
                    down.insert(o, (child, via));
                    next.insert(o);
                    if level == 0 {
                        out.direct.push((o, via));
                    }
                }
            });
            if let Some(b) = broken {
                out.truncated.get_or_insert(b);
            }
        }
        if next.len() >= MAX_FRONTIER {
            out.truncated.get_or_insert_with(|| format!("more than {MAX_FRONTIER} objects refer to level {level}: the search kept that many"));
        }
        known.extend(next.iter().copied());
        frontier = next;
    }
    out.paths.sort_by_key(|p| p.steps.len());
    out.paths.truncate(max_paths);
    Ok(out)
}

/// One size class of pymalloc, as `sys._debugmallocstats()` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeClass {
    /// The class (`szidx`).
    pub index: u32,
    /// Its block size in bytes.
    pub size: u64,
    /// Pools of this class in use.
    pub pools: u64,
    /// Blocks allocated.
    pub blocks: u64,
    /// Blocks free in those pools.
    pub free: u64,
}

/// pymalloc's arenas and pools (small objects of 512 bytes or less).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocator {
    /// The size classes with pools in use.
    pub classes: Vec<SizeClass>,
    /// Arenas allocated now (`narenas_currently_allocated`).
    pub arenas: u64,
    /// Arenas allocated since the start (`ntimes_arena_allocated`).
    pub arenas_allocated_total: u64,
    /// Most arenas allocated at once (`narenas_highwater`).
    pub arenas_highwater: u64,
    /// Pools not carved or returned (`nfreepools` of every arena).
    pub free_pools: u64,
    /// The pool size in bytes.
    pub pool_size: u64,
    /// Pools whose header could not be read or names no size class.
    pub bad_pools: u64,
}

/// Most arena objects read (`maxarenas` of a corrupt state): 64 Ki arenas hold
/// 16–64 GiB of small objects.
const MAX_ARENAS: u64 = 1 << 16;
/// Most pools walked in all (16 GiB of 16 KiB pools).
const MAX_POOLS: u64 = 1 << 20;

impl Python<'_> {
    /// pymalloc's state of `interp` (≤3.11 the process's statics): `None` where the
    /// build has none to read (a stripped ≤3.11 binary has no symbol for them).
    pub fn allocator(&self, interp: &InterpreterState) -> Option<Result<Allocator, Error>> {
        let model = self.models.pymalloc;
        let at = |base: RemoteAddr| -> Result<[RemoteAddr; 5], Error> {
            Ok([
                self.field(base, key::obmalloc::arenas)?,
                self.field(base, key::obmalloc::maxarenas)?,
                self.field(base, key::obmalloc::narenas_current)?,
                self.field(base, key::obmalloc::ntimes_arena_allocated)?,
                self.field(base, key::obmalloc::narenas_highwater)?,
            ])
        };
        let vars = match model.state {
            crate::models::PymallocState::Statics => {
                let s = self.anchors.state.obmalloc;
                Ok([s[0]?, s[1]?, s[2]?, s[3]?, s[4]?])
            }
            crate::models::PymallocState::Embedded => key::interp::obmalloc.of(self.offsets).map(|_| self.field(interp.addr, key::interp::obmalloc).and_then(at))?,
            crate::models::PymallocState::Pointer => key::interp::obmalloc.of(self.offsets).map(|_| self.ptr(interp.addr, key::interp::obmalloc).and_then(at))?,
        };
        Some(vars.and_then(|v| self.walk_arenas(v)))
    }

    fn walk_arenas(&self, [arenas_at, max_at, current_at, total_at, high_at]: [RemoteAddr; 5]) -> Result<Allocator, Error> {
        let model = self.models.pymalloc;
        let arenas = self.mem.read_ptr(arenas_at)?;
        let max = u64::from(self.mem.read_u32(max_at)?).min(MAX_ARENAS);
        let asz = need(self.offsets, key::obmalloc::arena_size)?;
        let (addr_off, pools_off, free_off) =
            (need(self.offsets, key::obmalloc::arena_address)?, need(self.offsets, key::obmalloc::arena_pool_address)?, need(self.offsets, key::obmalloc::arena_nfreepools)?);
        let (count_off, szidx_off, max_off) =
            (need(self.offsets, key::obmalloc::pool_count)?, need(self.offsets, key::obmalloc::pool_szidx)?, need(self.offsets, key::obmalloc::pool_maxnextoffset)?);
        let pool_size = 1u64 << model.pool_bits;
        let header = need(self.offsets, key::obmalloc::pool_header_size)?;
        // Size classes are ALIGNMENT (8 or 16) bytes apart, up to 512 bytes: each
        // pool says its block size (`POOL_SIZE - maxnextoffset`), which must be its
        // class's under one of the two.
        let mut classes: Vec<SizeClass> = (0..MAX_SIZE_CLASSES).map(|i| SizeClass { index: i as u32, size: 0, pools: 0, blocks: 0, free: 0 }).collect();
        let mut out = Allocator { pool_size, ..Allocator::default() };
        let mut walked = 0u64;
        let table = self.mem.read_vec(arenas, max.saturating_mul(asz), MAX_ARENAS.saturating_mul(64))?;
        for a in table.chunks_exact(usize::try_from(asz).unwrap_or(usize::MAX).max(1)) {
            let address = word(a, addr_off);
            if address == 0 {
                continue;
            }
            out.free_pools = out.free_pools.saturating_add(half(a, free_off));
            // The first pool starts at the arena's first pool-aligned address.
            let mut base = address.checked_next_multiple_of(pool_size).unwrap_or(u64::MAX);
            // Pools are carved up to `pool_address`, never past the arena's end.
            let end = word(a, pools_off).min(address.saturating_add(1u64 << model.arena_bits));
            while base < end {
                if walked >= MAX_POOLS {
                    out.bad_pools = out.bad_pools.saturating_add(1);
                    break;
                }
                walked = walked.saturating_add(1);
                let mut h = [0u8; 64];
                let span = usize::try_from(szidx_off.max(count_off).max(max_off).saturating_add(4)).unwrap_or(64).min(64);
                match h.get_mut(..span).map(|s| self.mem.read_exact(RemoteAddr(base), s)) {
                    Some(Ok(())) => {
                        let (count, sz) = (half(&h, count_off), half(&h, szidx_off));
                        let size = pool_size.saturating_sub(half(&h, max_off));
                        let align = size
                            .checked_div(sz.saturating_add(1))
                            .filter(|a| matches!(a, 8 | 16) && a.saturating_mul(sz.saturating_add(1)) == size && size <= MAX_SMALL_BLOCK);
                        if count > 0 {
                            match (classes.get_mut(usize::try_from(sz).unwrap_or(usize::MAX)), align) {
                                (Some(c), Some(align)) if c.size == 0 || c.size == size => {
                                    c.size = size;
                                    // POOL_OVERHEAD: the header rounded up to ALIGNMENT.
                                    let overhead = header.div_ceil(align).saturating_mul(align);
                                    let per_pool = pool_size.saturating_sub(overhead).checked_div(size).unwrap_or(0);
                                    c.pools = c.pools.saturating_add(1);
                                    c.blocks = c.blocks.saturating_add(count);
                                    c.free = c.free.saturating_add(per_pool.saturating_sub(count));
                                }
                                _ => out.bad_pools = out.bad_pools.saturating_add(1),
                            }
                        }
                    }
                    _ => out.bad_pools = out.bad_pools.saturating_add(1),
                }
                base = base.saturating_add(pool_size);
            }
        }
        out.classes = classes.into_iter().filter(|c| c.pools > 0).collect();
        out.arenas = self.mem.read_u64(current_at)?;
        out.arenas_allocated_total = self.mem.read_u64(total_at)?;
        out.arenas_highwater = self.mem.read_u64(high_at)?;
        Ok(out)
    }
}
