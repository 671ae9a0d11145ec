//! Standard-library types users meet in locals, rendered as their own `repr()` writes
//! them: `datetime`'s date, time, datetime, timedelta and timezone; `collections`'
//! deque, OrderedDict, defaultdict and Counter; `functools.partial`;
//! `fractions.Fraction`; `decimal.Decimal` (the C one: its libmpdec number); weak
//! references; memoryview; classmethod and staticmethod.
//!
//! Each is recognized by its exact type's full name (a subclass renders generically).
//! The C structs read are the public ones of `Include/datetime.h` and ones unchanged
//! since 3.6 (named below, each field's offset from the object header); a value that
//! does not fit is rendered generically, never guessed.

#[allow(unused_imports)]
use super::*;

/// A standard-library type with a repr of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Std {
    DateTime,
    Date,
    Time,
    TimeDelta,
    TimeZone,
    Deque,
    OrderedDict,
    DefaultDict,
    Counter,
    Partial,
    Fraction,
    WeakRef,
    MemoryView,
    ClassMethod,
    StaticMethod,
    Decimal,
    Lock,
    RLock,
}

/// A `_thread.lock` or `_thread.RLock`'s state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockState {
    /// An RLock (else a plain lock).
    pub reentrant: bool,
    /// Locked now.
    pub locked: bool,
    /// An RLock's owner (thread ident), 0 when unlocked.
    pub owner: u64,
    /// An RLock's acquisitions.
    pub count: u64,
}

/// Exact type names (`tp_name` of static types, `__module__.__qualname__` of classes).
const STD_TYPES: &[(&str, Std)] = &[
    ("datetime.datetime", Std::DateTime),
    ("datetime.date", Std::Date),
    ("datetime.time", Std::Time),
    ("datetime.timedelta", Std::TimeDelta),
    ("datetime.timezone", Std::TimeZone),
    ("collections.deque", Std::Deque),
    ("collections.OrderedDict", Std::OrderedDict),
    ("collections.defaultdict", Std::DefaultDict),
    ("collections.Counter", Std::Counter),
    ("functools.partial", Std::Partial),
    ("fractions.Fraction", Std::Fraction),
    ("weakref", Std::WeakRef),
    ("weakref.ReferenceType", Std::WeakRef),
    ("memoryview", Std::MemoryView),
    ("classmethod", Std::ClassMethod),
    ("staticmethod", Std::StaticMethod),
    ("decimal.Decimal", Std::Decimal),
    ("_thread.lock", Std::Lock),
    ("_thread.RLock", Std::RLock),
];

/// libmpdec's `mpd_t` in a `PyDecObject` (after `PyObject_HEAD` and `hash`): flags,
/// exp, digits, len, alloc, data; its words are base 10^19 (64-bit builds).
const MPD_T: u64 = 8;
const MPD_RADIX_DIGITS: usize = 19;
/// Most entries an OrderedDict or Counter is read with (each needs all of them: the
/// order list or the counts decide what comes first); a larger one renders generically.
const MAX_STD_ENTRIES: usize = 1 << 16;
/// Most coefficient words read (`--length` bounds display; this bounds the read).
const MPD_MAX_WORDS: u64 = 1024;

/// `collections.deque`'s blocks hold 64 items (`BLOCKLEN`, Modules/_collectionsmodule.c).
const DEQUE_BLOCK: u64 = 64;
/// Where a deque block's `rightlink` is: after `leftlink` and the 64 items.
const DEQUE_RIGHTLINK: u64 = 8 + 8 * DEQUE_BLOCK;
/// `memoryview` released (`_Py_MEMORYVIEW_RELEASED`).
const MEMORYVIEW_RELEASED: u32 = 1;

impl Renderer<'_> {
    /// The standard-library type `ty` is, if it is one (cached per type).
    pub(super) fn std_kind(&self, ty: RemoteAddr) -> Option<Std> {
        if let Some(hit) = self.std_types.borrow().get(&ty) {
            return *hit;
        }
        let name = self.type_full_name(ty).ok();
        let kind = name.and_then(|n| STD_TYPES.iter().find(|(t, _)| *t == n).map(|(_, k)| *k));
        self.std_types.borrow_mut().insert(ty, kind);
        kind
    }

    /// A lock's state, when `obj` is a `_thread.lock` or `_thread.RLock` (exactly).
    pub fn lock_state(&self, obj: RemoteAddr) -> Option<LockState> {
        let ty = objects::ob_type(self.mem, self.o, obj).ok()?;
        match self.std_kind(ty)? {
            kind @ (Std::Lock | Std::RLock) => self.lock_of(obj, kind).ok().flatten(),
            _ => None,
        }
    }

    fn lock_of(&self, obj: RemoteAddr, kind: Std) -> Result<Option<LockState>, Error> {
        let byte = |k: Key| -> Result<u8, Error> {
            self.spend()?;
            Ok(self.mem.read_u8(self.at(obj, k)?)?)
        };
        if kind == Std::Lock {
            if self.o.lock.locked.is_none() {
                return Ok(None);
            }
            return Ok(Some(LockState { reentrant: false, locked: byte(key::lock::locked)? & 1 == 1, owner: 0, count: 0 }));
        }
        if self.o.rlock.owner.is_none() || self.o.rlock.count.is_none() {
            return Ok(None);
        }
        let owner = self.mem.read_u64(self.at(obj, key::rlock::owner)?)?;
        let count = self.mem.read_u64(self.at(obj, key::rlock::count)?)?;
        Ok(Some(match self.o.rlock.mutex {
            // 3.14+: a recursive mutex; `level` counts the acquisitions beyond the first.
            Some(_) => {
                let locked = byte(key::rlock::mutex)? & 1 == 1;
                LockState { reentrant: true, locked, owner: if locked { owner } else { 0 }, count: if locked { count.saturating_add(1) } else { 0 } }
            }
            None => LockState { reentrant: true, locked: count > 0, owner, count },
        }))
    }

    /// Size of the object header (`PyObject`): where the first field of a struct sits.
    fn header(&self) -> Result<u64, Error> {
        need(self.o, key::float::fval)
    }

    /// The word at `obj + header + off`.
    fn word(&self, obj: RemoteAddr, off: u64) -> Result<u64, Error> {
        self.spend()?;
        let at = obj.offset(self.header()?.checked_add(off).ok_or(Error::Overflow(obj))?).ok_or(Error::Overflow(obj))?;
        Ok(self.mem.read_u64(at)?)
    }

    /// `N` bytes at `obj + header + off`.
    fn bytes_at<const N: usize>(&self, obj: RemoteAddr, off: u64) -> Result<[u8; N], Error> {
        self.spend()?;
        let at = obj.offset(self.header()?.checked_add(off).ok_or(Error::Overflow(obj))?).ok_or(Error::Overflow(obj))?;
        let mut b = [0u8; N];
        self.mem.read_exact(at, &mut b)?;
        Ok(b)
    }

    /// Offset of a field `off` bytes past a `PyObject_VAR_HEAD`, from the header's end.
    fn after_var_head(&self, obj: RemoteAddr, off: u64) -> Result<u64, Error> {
        need(self.o, key::object::ob_size)?
            .checked_sub(self.header()?)
            .and_then(|v| v.checked_add(8)?.checked_add(off))
            .ok_or(Error::Overflow(obj))
    }

    /// The repr of a standard-library object, `None` when `kind` needs what this
    /// build does not give (then it renders generically).
    pub(super) fn std_repr(&self, obj: RemoteAddr, ty: RemoteAddr, kind: Std, depth: usize, stack: &mut Vec<RemoteAddr>) -> Result<Option<String>, Error> {
        // datetime_repr appends fold then tzinfo; time_repr tzinfo then fold.
        let tz_suffix = |r: &Self, tz: u64, fold: u8, fold_first: bool, st: &mut Vec<RemoteAddr>| -> String {
            let fold = if fold != 0 { ", fold=1" } else { "" };
            let tz = RemoteAddr(tz);
            let tz = if !tz.is_null() && r.known.singleton(tz) != Some("None") {
                format!(", tzinfo={}", r.repr_at(tz, depth.saturating_add(1), st))
            } else {
                String::new()
            };
            if fold_first { format!("{fold}{tz}") } else { format!("{tz}{fold}") }
        };
        Ok(Some(match kind {
            Std::Lock | Std::RLock => {
                let Some(l) = self.lock_of(obj, kind)? else { return Ok(None) };
                let state = if l.locked { "locked" } else { "unlocked" };
                let name = self.type_full_name(ty)?;
                if l.reentrant {
                    format!("<{state} {name} object owner={} count={} at {obj}>", l.owner, l.count)
                } else {
                    format!("<{state} {name} object at {obj}>")
                }
            }
            // PyDateTime_DateTime: hashcode, hastzinfo, data[10], fold, tzinfo (aligned).
            Std::DateTime => {
                let b: [u8; 12] = self.bytes_at(obj, 8)?;
                let (year, month, day) = (u32::from(b[1]) << 8 | u32::from(b[2]), b[3], b[4]);
                let (hour, minute, second) = (b[5], b[6], b[7]);
                let usec = u32::from(b[8]) << 16 | u32::from(b[9]) << 8 | u32::from(b[10]);
                let mut s = format!("datetime.datetime({year}, {month}, {day}, {hour}, {minute}");
                if usec != 0 {
                    s.push_str(&format!(", {second}, {usec}"));
                } else if second != 0 {
                    s.push_str(&format!(", {second}"));
                }
                let tz = if b[0] != 0 { self.word(obj, 24)? } else { 0 };
                s.push_str(&tz_suffix(self, tz, b[11], true, stack));
                s + ")"
            }
            // PyDateTime_Date: hashcode, hastzinfo, data[4].
            Std::Date => {
                let b: [u8; 4] = self.bytes_at(obj, 9)?;
                format!("datetime.date({}, {}, {})", u32::from(b[0]) << 8 | u32::from(b[1]), b[2], b[3])
            }
            // PyDateTime_Time: hashcode, hastzinfo, data[6], fold, tzinfo.
            Std::Time => {
                let b: [u8; 8] = self.bytes_at(obj, 8)?;
                let (hour, minute, second) = (b[1], b[2], b[3]);
                let usec = u32::from(b[4]) << 16 | u32::from(b[5]) << 8 | u32::from(b[6]);
                let mut s = format!("datetime.time({hour}, {minute}");
                if usec != 0 {
                    s.push_str(&format!(", {second}, {usec}"));
                } else if second != 0 {
                    s.push_str(&format!(", {second}"));
                }
                let tz = if b[0] != 0 { self.word(obj, 16)? } else { 0 };
                s.push_str(&tz_suffix(self, tz, b[7], false, stack));
                s + ")"
            }
            // PyDateTime_Delta: hashcode, int days, int seconds, int microseconds.
            Std::TimeDelta => {
                let b: [u8; 12] = self.bytes_at(obj, 8)?;
                let (days, seconds, us) = (
                    i32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                    i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                    i32::from_le_bytes([b[8], b[9], b[10], b[11]]),
                );
                if self.models.reprs.timedelta_keywords {
                    let parts: Vec<String> = [("days", days), ("seconds", seconds), ("microseconds", us)]
                        .iter()
                        .filter(|(_, v)| *v != 0)
                        .map(|(n, v)| format!("{n}={v}"))
                        .collect();
                    if parts.is_empty() { "datetime.timedelta(0)".into() } else { format!("datetime.timedelta({})", parts.join(", ")) }
                } else if us != 0 {
                    format!("datetime.timedelta({days}, {seconds}, {us})")
                } else if seconds != 0 {
                    format!("datetime.timedelta({days}, {seconds})")
                } else {
                    format!("datetime.timedelta({days})")
                }
            }
            // PyDateTime_TimeZone: offset (a timedelta), name (NULL for none). UTC is
            // the one with a zero offset and no name (the constructor returns it).
            Std::TimeZone => {
                let (offset, name) = (RemoteAddr(self.word(obj, 0)?), RemoteAddr(self.word(obj, 8)?));
                let zero = self.repr_at(offset, depth.saturating_add(1), stack) == "datetime.timedelta(0)";
                match (zero, name.is_null()) {
                    (true, true) => "datetime.timezone.utc".into(),
                    (_, true) => format!("datetime.timezone({})", self.repr_at(offset, depth.saturating_add(1), stack)),
                    _ => format!("datetime.timezone({}, {})", self.repr_at(offset, depth.saturating_add(1), stack), self.repr_at(name, depth.saturating_add(1), stack)),
                }
            }
            // dequeobject: PyObject_VAR_HEAD (its size the length), leftblock,
            // rightblock, leftindex, rightindex, state, maxlen; each block: leftlink,
            // data[64], rightlink.
            Std::Deque => {
                if stack.contains(&obj) {
                    return Ok(Some("[...]".into()));
                }
                let len = self.word(obj, self.after_var_head(obj, 0)?.saturating_sub(8))?;
                let mut block = RemoteAddr(self.word(obj, self.after_var_head(obj, 0)?)?);
                let mut index = self.word(obj, self.after_var_head(obj, 16)?)?;
                let maxlen = self.word(obj, self.after_var_head(obj, 40)?)? as i64;
                let shown = len.min(self.limits.length as u64);
                let mut items = Vec::new();
                for _ in 0..shown {
                    if index >= DEQUE_BLOCK {
                        self.spend()?;
                        block = self.mem.read_ptr(block.offset(DEQUE_RIGHTLINK).ok_or(Error::Overflow(block))?)?;
                        index = 0;
                    }
                    self.spend()?;
                    // index < DEQUE_BLOCK here.
                    let slot = index.saturating_mul(8).saturating_add(8);
                    items.push(self.mem.read_ptr(block.offset(slot).ok_or(Error::Overflow(block))?)?);
                    index = index.saturating_add(1);
                }
                let close = if maxlen >= 0 { format!("], maxlen={maxlen})") } else { "])".into() };
                self.nested(obj, depth, stack, "deque([", &close, |r, d, st| {
                    let mut parts: Vec<String> = items.iter().map(|&i| r.repr_at(i, d, st)).collect();
                    if len > shown {
                        parts.push("...".into());
                    }
                    parts.join(", ")
                })?
            }
            // defdictobject: a dict, then default_factory (the type's last word).
            Std::DefaultDict => {
                let size = self.mem.read_u64(self.at(ty, key::type_ext::basicsize)?)?;
                let at = self.header()?.checked_add(8).and_then(|h| size.checked_sub(h)).ok_or(Error::Overflow(ty))?;
                let factory = RemoteAddr(self.word(obj, at)?);
                let factory = if factory.is_null() { "None".to_string() } else { self.repr_at(factory, depth.saturating_add(1), stack) };
                let dict = self.dict_repr(obj, None, depth, stack)?;
                format!("defaultdict({factory}, {dict})")
            }
            // PyODictObject: a dict, then od_first; each node: key, hash, next, prev.
            Std::OrderedDict => {
                if stack.contains(&obj) {
                    return Ok(Some("...".into()));
                }
                // Every entry (the order list may name any of them first), up to a cap.
                let (pairs, over) = self.dict_items_up_to(obj, MAX_STD_ENTRIES)?;
                if over {
                    return Ok(None);
                }
                if pairs.is_empty() {
                    return Ok(Some("OrderedDict()".into()));
                }
                let base = self.ptr(ty, key::type_ext::base)?;
                let size = self.mem.read_u64(self.at(base, key::type_ext::basicsize)?)?;
                let mut node = RemoteAddr(self.word(obj, size.checked_sub(self.header()?).ok_or(Error::Overflow(ty))?)?);
                let mut value_of: HashMap<RemoteAddr, RemoteAddr> = pairs.iter().copied().collect();
                let mut order = Vec::new();
                while !node.is_null() && order.len() < pairs.len() {
                    self.spend()?;
                    let key = self.mem.read_ptr(node)?;
                    // Each key once: a second visit is a cycle, an unknown key damage.
                    let Some(value) = value_of.remove(&key) else {
                        return Err(Error::Corrupt { what: "OrderedDict (order list)", addr: obj });
                    };
                    order.push((key, value));
                    node = self.mem.read_ptr(node.offset(16).ok_or(Error::Overflow(node))?)?;
                }
                if order.len() != pairs.len() {
                    return Err(Error::Corrupt { what: "OrderedDict (order list)", addr: obj });
                }
                let more = order.len() > self.limits.length;
                order.truncate(self.limits.length);
                let as_dict = self.models.reprs.ordered_dict_as_dict;
                let (open, close) = if as_dict { ("OrderedDict({", "})") } else { ("OrderedDict([", "])") };
                self.nested(obj, depth, stack, open, close, |r, d, st| {
                    let mut parts: Vec<String> = order
                        .iter()
                        .map(|&(k, v)| {
                            let (k, v) = (r.repr_at(k, d, st), r.repr_at(v, d, st));
                            if as_dict { format!("{k}: {v}") } else { format!("({k}, {v})") }
                        })
                        .collect();
                    if more {
                        parts.push("...".into());
                    }
                    parts.join(", ")
                })?
            }
            // collections.Counter: most common first (a stable sort by count).
            Std::Counter => {
                // Every entry is sorted (the most common may come last), up to a cap.
                let (pairs, over) = self.dict_items_up_to(obj, MAX_STD_ENTRIES)?;
                if over {
                    return Ok(None);
                }
                if pairs.is_empty() {
                    return Ok(Some("Counter()".into()));
                }
                let counts: Option<Vec<i128>> = pairs.iter().map(|&(_, v)| self.int_value(v).ok()?.parse().ok()).collect();
                let Some(counts) = counts else { return Ok(None) };
                let mut sorted: Vec<(i128, Pair)> = counts.into_iter().zip(pairs).collect();
                sorted.sort_by_key(|&(n, _)| std::cmp::Reverse(n));
                let more = sorted.len() > self.limits.length;
                let sorted: Vec<Pair> = sorted.into_iter().take(self.limits.length).map(|(_, p)| p).collect();
                format!("Counter({})", self.dict_repr(obj, Some((sorted, more)), depth, stack)?)
            }
            // partialobject: fn, args (a tuple), kw (a dict).
            Std::Partial => {
                if stack.contains(&obj) {
                    return Ok(Some("...".into()));
                }
                let (func, args, kw) = (RemoteAddr(self.word(obj, 0)?), RemoteAddr(self.word(obj, 8)?), RemoteAddr(self.word(obj, 16)?));
                let (args, _) = self.sequence_items(args, Kind::Tuple)?;
                let (kw, _) = if kw.is_null() { (Vec::new(), false) } else { self.dict_items(kw)? };
                self.nested(obj, depth, stack, "functools.partial(", ")", |r, d, st| {
                    let mut parts = vec![r.repr_at(func, d, st)];
                    parts.extend(args.iter().map(|&a| r.repr_at(a, d, st)));
                    parts.extend(kw.iter().map(|&(k, v)| format!("{}={}", r.str_of_at(k), r.repr_at(v, d, st))));
                    parts.join(", ")
                })?
            }
            // fractions.Fraction: `Fraction(n, d)` from its two slots.
            Std::Fraction => {
                let (Some(n), Some(d)) = (self.slot(obj, ty, "_numerator"), self.slot(obj, ty, "_denominator")) else { return Ok(None) };
                format!("Fraction({}, {})", self.int_value(n)?, self.int_value(d)?)
            }
            // PyWeakReference: wr_object (None once dead).
            Std::WeakRef => {
                let to = RemoteAddr(self.word(obj, 0)?);
                if to.is_null() || self.known.singleton(to) == Some("None") {
                    return Ok(Some(format!("<weakref at {obj}; dead>")));
                }
                let to_ty = objects::ob_type(self.mem, self.o, to)?;
                // The referent's `__name__`, where it has one this renderer knows.
                // Its kind, a subclass (a metaclass like abc.ABCMeta) by its flag bits.
                let (kind, flags) = self.kind(to_ty)?;
                let kind = kind.or_else(|| SUBCLASS_BITS.iter().find(|(bit, _)| flags & (1 << bit) != 0).map(|(_, k)| *k));
                let name = match kind {
                    Some(Kind::Type) => Some(self.type_name_attr(to).or_else(|_| self.type_short_name(to))?),
                    Some(Kind::Function) => Some(objects::read_str(self.mem, self.o, self.ptr(to, key::function::name)?)?),
                    _ => return Ok(None),
                };
                // 3.13+ names the referent's type fully qualified (%T).
                let tn = if self.models.reprs.weakref_qualified_type { self.type_full_name(to_ty)? } else { self.tp_name(to_ty)? };
                match name {
                    Some(n) => format!("<weakref at {obj}; to '{tn}' at {to} ({n})>"),
                    None => format!("<weakref at {obj}; to '{tn}' at {to}>"),
                }
            }
            // PyMemoryViewObject: PyObject_VAR_HEAD, mbuf, hash, flags.
            Std::MemoryView => {
                let flags = self.word(obj, self.after_var_head(obj, 16)?)? as u32;
                if flags & MEMORYVIEW_RELEASED != 0 { format!("<released memory at {obj}>") } else { format!("<memory at {obj}>") }
            }
            // PyDecObject: hash, then an mpd_t (the pure-Python Decimal has slots
            // instead, and a smaller basic size: rendered generically).
            Std::Decimal => {
                let size = self.mem.read_u64(self.at(ty, key::type_ext::basicsize)?)?;
                if size < self.header()?.saturating_add(MPD_T).saturating_add(48) {
                    return Ok(None);
                }
                let flags = self.bytes_at::<1>(obj, MPD_T)?[0];
                let exp = self.word(obj, MPD_T + 8)? as i64;
                let len = self.word(obj, MPD_T + 24)?;
                let data = RemoteAddr(self.word(obj, MPD_T + 40)?);
                // A special value (infinity, NaN without payload) may have no words.
                let special = flags & 0b1110 != 0;
                if len > MPD_MAX_WORDS {
                    return Ok(None); // valid, but longer than is read: rendered generically
                }
                if len == 0 && !special {
                    return Err(Error::Corrupt { what: "Decimal (coefficient length)", addr: obj });
                }
                self.spend()?;
                let raw = if len == 0 { Vec::new() } else { self.mem.read_vec(data, len.saturating_mul(8), MPD_MAX_WORDS * 8)? };
                let words: Vec<u64> = raw.chunks_exact(8).map(|c| <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes)).collect();
                match decimal_str(flags, exp, &words) {
                    Some(text) => format!("Decimal('{text}')"),
                    None => return Err(Error::Corrupt { what: "Decimal", addr: obj }),
                }
            }
            // classmethod / staticmethod: cm_callable.
            Std::ClassMethod | Std::StaticMethod => {
                if !self.models.reprs.descriptor_shows_callable {
                    return Ok(None);
                }
                let name = if kind == Std::ClassMethod { "classmethod" } else { "staticmethod" };
                let callable = RemoteAddr(self.word(obj, 0)?);
                format!("<{name}({})>", self.repr_at(callable, depth.saturating_add(1), stack))
            }
        }))
    }

    /// A dict's entries (or the given ones) as `{k: v, ...}`.
    fn dict_repr(&self, obj: RemoteAddr, given: Option<(Vec<Pair>, bool)>, depth: usize, stack: &mut Vec<RemoteAddr>) -> Result<String, Error> {
        if stack.contains(&obj) {
            return Ok("{...}".into());
        }
        let (pairs, more) = match given {
            Some(g) => g,
            None => self.dict_items(obj)?,
        };
        self.nested(obj, depth, stack, "{", "}", |r, d, st| {
            let mut parts: Vec<String> = pairs.iter().map(|&(k, v)| format!("{}: {}", r.repr_at(k, d, st), r.repr_at(v, d, st))).collect();
            if more {
                parts.push("...".into());
            }
            parts.join(", ")
        })
    }

    /// A str's text (a keyword's name), else its repr.
    fn str_of_at(&self, k: RemoteAddr) -> String {
        objects::read_str(self.mem, self.o, k).unwrap_or_else(|_| format!("<unreadable {k}>"))
    }
}

/// `str()` of a libmpdec number as `Decimal.__str__` writes it (`to_sci_string`, capital
/// `E`): `flags` (sign, infinity, NaN, sNaN), the exponent and the coefficient's base
/// 10^19 words, least significant first. `None` for a word out of range.
pub fn decimal_str(flags: u8, exp: i64, words: &[u64]) -> Option<String> {
    const NEG: u8 = 1;
    const INF: u8 = 2;
    const NAN: u8 = 4;
    const SNAN: u8 = 8;
    let sign = if flags & NEG != 0 { "-" } else { "" };
    let mut coefficient = String::new();
    for (i, w) in words.iter().rev().enumerate() {
        if *w >= 10_000_000_000_000_000_000 {
            return None;
        }
        if i == 0 {
            coefficient.push_str(&w.to_string());
        } else {
            coefficient.push_str(&format!("{w:0width$}", width = MPD_RADIX_DIGITS));
        }
    }
    let coefficient = coefficient.trim_start_matches('0');
    let coefficient = if coefficient.is_empty() { "0" } else { coefficient };
    if flags & INF != 0 {
        return Some(format!("{sign}Infinity"));
    }
    if flags & (NAN | SNAN) != 0 {
        let payload = if coefficient == "0" { "" } else { coefficient };
        return Some(format!("{sign}{}{payload}", if flags & SNAN != 0 { "sNaN" } else { "NaN" }));
    }
    let n = i64::try_from(coefficient.len()).ok()?;
    let left = exp.checked_add(n)?;
    let dot = if exp <= 0 && left > -6 { left } else { 1 };
    let (int, frac) = if dot <= 0 {
        ("0".to_string(), format!(".{}{coefficient}", "0".repeat(usize::try_from(dot.unsigned_abs()).ok()?)))
    } else if dot >= n {
        (format!("{coefficient}{}", "0".repeat(usize::try_from(dot.checked_sub(n)?).ok()?)), String::new())
    } else {
        let (a, b) = coefficient.split_at(usize::try_from(dot).ok()?);
        (a.to_string(), format!(".{b}"))
    };
    let e = if left == dot { String::new() } else { format!("E{:+}", left.checked_sub(dot)?) };
    Some(format!("{sign}{int}{frac}{e}"))
}

#[cfg(test)]
mod tests {
    use super::decimal_str;

    /// As `str(Decimal(...))` writes them.
    #[test]
    fn decimals_like_python() {
        let d = |flags, exp, words: &[u64]| decimal_str(flags, exp, words).unwrap_or_default();
        assert_eq!(d(0, -2, &[314]), "3.14");
        assert_eq!(d(1, -6, &[1]), "-0.000001");
        assert_eq!(d(0, -7, &[1]), "1E-7");
        assert_eq!(d(0, 10, &[1]), "1E+10");
        assert_eq!(d(0, 0, &[0]), "0");
        assert_eq!(d(0, -2, &[0]), "0.00");
        assert_eq!(d(0, 2, &[0]), "0E+2");
        assert_eq!(d(0, -1, &[2345678901234567895, 1234567]), "1234567234567890123456789.5");
        assert_eq!(d(2, 0, &[0]), "Infinity");
        assert_eq!(d(3, 0, &[0]), "-Infinity");
        assert_eq!(d(4, 0, &[0]), "NaN");
        assert_eq!(d(8, 0, &[12]), "sNaN12");
        assert_eq!(d(4, 0, &[]), "NaN");
        assert_eq!(decimal_str(0, 0, &[10_000_000_000_000_000_000]), None);
    }
}
