//! Instances of user classes (their `__dict__`, inline values or slots), exceptions
//! and their arguments, named tuples.

#[allow(unused_imports)]
use super::*;

impl Renderer<'_> {
    /// `exc.args` of an exception object, capped at the length limit.
    pub fn exception_args(&self, exc: RemoteAddr) -> Result<Vec<RemoteAddr>, Error> {
        let args = self.ptr(exc, key::exception::args)?;
        if args.is_null() {
            return Ok(Vec::new());
        }
        Ok(self.sequence_items(args, Kind::Tuple)?.0)
    }

    /// `BaseException.__repr__` (Objects/exceptions.c): the type's name (tp_name after its
    /// last dot), then the one argument's repr in parentheses (3.7+), or the args tuple's
    /// repr (none, several, or any on 3.6): `ValueError('bad')`, `KeyError('k', 2)`,
    /// `RuntimeError()`, 3.6's `ValueError('bad',)`. (A class's own Python `__repr__`
    /// cannot be run from a core.)
    pub(super) fn exception_repr(&self, obj: RemoteAddr, ty: RemoteAddr, depth: usize, stack: &mut Vec<RemoteAddr>) -> Result<String, Error> {
        let name = self.type_name_attr(ty)?;
        if stack.contains(&obj) {
            return Ok(format!("{name}(...)"));
        }
        let args = self.exception_args(obj)?;
        let trailing_comma = args.len() == 1 && !self.models.exception_single_arg_bare;
        self.nested(obj, depth, stack, &format!("{name}("), ")", |r, d, st| {
            let mut s = args.iter().map(|&a| r.repr_at(a, d, st)).collect::<Vec<_>>().join(", ");
            if trailing_comma {
                s.push(',');
            }
            s
        })
    }

    /// A class attribute by name, from the class's own dict.
    pub(super) fn class_attr(&self, ty: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        self.dict_lookup(self.ptr(ty, key::type_ext::dict).ok()?, name)
    }

    /// The value of slot `name` (a `__slots__` member of `ty` or a base) of `obj`;
    /// `None` when unset or not a slot. A member descriptor (`PyMemberDescrObject`:
    /// `PyDescr_COMMON`, then its `PyMemberDef`) gives the slot's offset.
    pub(super) fn slot(&self, obj: RemoteAddr, ty: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        let mut t = ty;
        for _ in 0..MAX_TYPE_DEPTH {
            if let Some(descr) = self.class_attr(t, name) {
                let dty = objects::ob_type(self.mem, self.o, descr).ok()?;
                if self.tp_name(dty).ok()? != "member_descriptor" {
                    return None;
                }
                let header = need(self.o, key::float::fval).ok()?;
                self.spend().ok()?;
                let member = self.mem.read_ptr(descr.offset(header.checked_add(24)?)?).ok()?;
                let offset = self.mem.read_u64(member.offset(16)?).ok()?;
                self.spend().ok()?;
                let v = self.mem.read_ptr(obj.offset(offset)?).ok()?;
                return (!v.is_null()).then_some(v);
            }
            t = self.ptr(t, key::type_ext::base).ok().filter(|b| !b.is_null())?;
        }
        None
    }

    /// The set slots of `obj`, base classes' first: (name, value).
    pub(super) fn slot_values(&self, obj: RemoteAddr, ty: RemoteAddr) -> Vec<(String, RemoteAddr)> {
        let mut chain = Vec::new();
        let mut t = ty;
        for _ in 0..MAX_TYPE_DEPTH {
            if t.is_null() || self.known.kind_of_type(t).is_some() {
                break;
            }
            chain.push(t);
            match self.ptr(t, key::type_ext::base) {
                Ok(b) => t = b,
                Err(_) => break,
            }
        }
        let mut out = Vec::new();
        for &t in chain.iter().rev() {
            let Some(slots) = self.class_attr(t, "__slots__") else { continue };
            let names: Vec<String> = match self.kind_of(slots) {
                Some(Kind::Str) => objects::read_str(self.mem, self.o, slots).into_iter().collect(),
                Some(Kind::Tuple | Kind::List) => self
                    .sequence_items(slots, self.kind_of(slots).unwrap_or(Kind::Tuple))
                    .map(|(items, _)| items.iter().filter_map(|&i| objects::read_str(self.mem, self.o, i).ok()).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            for n in names.into_iter().filter(|n| n != "__dict__" && n != "__weakref__") {
                if let Some(v) = self.slot(obj, t, &n) {
                    out.push((n, v));
                }
            }
        }
        out
    }

    /// The field names of a `collections.namedtuple` class: its `_fields`, a tuple of
    /// str (with `_make`, which namedtuple classes define).
    pub(super) fn named_tuple_fields(&self, ty: RemoteAddr) -> Option<Vec<String>> {
        self.class_attr(ty, "_make")?;
        let fields = self.class_attr(ty, "_fields")?;
        if self.kind_of(fields) != Some(Kind::Tuple) {
            return None;
        }
        let (items, more) = self.sequence_items(fields, Kind::Tuple).ok()?;
        if more {
            return None;
        }
        items.iter().map(|&f| objects::read_name(self.mem, self.o, f).ok()).collect()
    }

    /// The attributes of an instance of a heap type, per the instance-dict model, as
    /// many as are displayed.
    pub fn instance_attributes(&self, obj: RemoteAddr) -> Result<(Vec<Pair>, bool), Error> {
        self.instance_attributes_up_to(obj, self.limits.length)
    }

    /// The attributes of an instance, at most `limit`.
    pub(crate) fn instance_attributes_up_to(&self, obj: RemoteAddr, limit: usize) -> Result<(Vec<Pair>, bool), Error> {
        Ok(self.instance_dict(obj, limit)?.unwrap_or_default())
    }

    /// The attributes of an instance, at most `limit`; `None` when it has no attribute
    /// dict at all (no dict offset, or a dict not made yet), which CPython's gdb script
    /// writes differently from an empty one.
    pub(super) fn instance_dict(&self, obj: RemoteAddr, limit: usize) -> Result<Option<(Vec<Pair>, bool)>, Error> {
        let ty = objects::ob_type(self.mem, self.o, obj)?;
        let flags = self.mem.read_u64(self.at(ty, key::type_object::tp_flags)?)?;
        let split = |values: RemoteAddr| -> Result<Option<(Vec<Pair>, bool)>, Error> {
            let keys = self.ptr(ty, key::type_ext::ht_cached_keys)?;
            self.keys_items(keys, Some(values), limit).map(Some)
        };
        let dict_at = |d: RemoteAddr| -> Result<Option<(Vec<Pair>, bool)>, Error> {
            if d.is_null() { Ok(None) } else { self.dict_items_up_to(d, limit).map(Some) }
        };
        let empty = Ok(Some((Vec::new(), false)));
        // `tp_dictoffset`: from the start, or (negative) from the end of a
        // variable-size object (`_PyObject_GetDictPtr`).
        let by_offset = || -> Result<Option<(Vec<Pair>, bool)>, Error> {
            let off = self.mem.read_i64(self.at(ty, key::type_ext::dictoffset)?)?;
            if off == 0 {
                return Ok(None);
            }
            let slot = if off > 0 {
                obj.offset(off as u64).ok_or(Error::Overflow(obj))?
            } else {
                let basic = self.mem.read_i64(self.at(ty, key::type_ext::basicsize)?)?;
                let item = self.mem.read_i64(self.at(ty, key::type_ext::itemsize)?)?;
                let size = self.mem.read_i64(self.at(obj, key::object::ob_size)?)?.unsigned_abs() as i64;
                let total = basic.saturating_add(size.saturating_mul(item)).saturating_add(off);
                obj.offset_signed(total.saturating_add(7) & !7).ok_or(Error::Overflow(obj))?
            };
            dict_at(self.mem.read_ptr(slot)?)
        };
        let pre = |off: u64| obj.0.checked_sub(off).map(RemoteAddr).ok_or(Error::Overflow(obj));
        match self.models.instance_dict {
            InstanceDictModel::DictOffset => by_offset(),
            InstanceDictModel::PreHeader311 if flags & TPFLAGS_MANAGED_DICT != 0 => {
                let d = self.mem.read_ptr(pre(24)?)?;
                if !d.is_null() {
                    return dict_at(d);
                }
                let values = self.mem.read_ptr(pre(32)?)?;
                if values.is_null() { Ok(None) } else { split(values) }
            }
            InstanceDictModel::Tagged312 if flags & TPFLAGS_MANAGED_DICT != 0 => {
                let w = self.mem.read_u64(pre(24)?)?;
                if w & 1 == 1 {
                    split(RemoteAddr(w.wrapping_add(1)))
                } else {
                    dict_at(RemoteAddr(w))
                }
            }
            InstanceDictModel::Inline313 if flags & TPFLAGS_MANAGED_DICT != 0 => {
                let d = self.mem.read_ptr(pre(24)?)?;
                if !d.is_null() {
                    return dict_at(d);
                }
                if flags & TPFLAGS_INLINE_VALUES == 0 {
                    return empty;
                }
                let basic = self.mem.read_u64(self.at(ty, key::type_ext::basicsize)?)?;
                let values = obj.offset(basic).ok_or(Error::Overflow(obj))?;
                let valid_off = need(self.o, key::dict::values_valid)?;
                if self.mem.read_u8(values.offset(valid_off).ok_or(Error::Overflow(values))?)? == 0 {
                    return empty;
                }
                split(values.offset(self.o.dict.values_values.unwrap_or(0)).ok_or(Error::Overflow(values))?)
            }
            // Not a managed dict: an explicit tp_dictoffset (exceptions, subclasses of
            // variable-size types such as tuple).
            _ => by_offset(),
        }
    }

    pub(super) fn instance(&self, obj: RemoteAddr, ty: RemoteAddr, _flags: u64, depth: usize, stack: &mut Vec<RemoteAddr>) -> Result<String, Error> {
        let name = self.type_short_name(ty)?;
        if stack.contains(&obj) {
            return Ok(format!("{name}(...)"));
        }
        // Attributes of a value and of what it holds directly; deeper instances are
        // named only, so one local does not unfold a whole object graph.
        // Python's own default form, `<module.QualName object at 0x...>`, for what has
        // no attribute to show (or lies deeper than instances unfold).
        let default = || Ok(format!("<{} object at {obj}>", self.type_full_name(ty).unwrap_or_else(|_| name.clone())));
        if depth >= INSTANCE_DEPTH {
            return default();
        }
        let (attrs, more) = self.instance_attributes(obj)?;
        if attrs.is_empty() && !more {
            // A class with `__slots__`: its slot values, like attributes.
            let slots = self.slot_values(obj, ty);
            if slots.is_empty() {
                return default();
            }
            return self.nested(obj, depth, stack, &format!("{name}("), ")", |r, d, st| {
                slots.iter().map(|(k, v)| format!("{k}={}", r.repr_at(*v, d, st))).collect::<Vec<_>>().join(", ")
            });
        }
        // An enum member (its class has `_member_map_`): `<Color.RED: 1>`.
        if self.class_attr(ty, "_member_map_").is_some() {
            let attr = |want: &str| attrs.iter().find(|&&(k, _)| objects::read_str(self.mem, self.o, k).ok().as_deref() == Some(want)).map(|&(_, v)| v);
            if let (Some(member), Some(value)) = (attr("_name_").and_then(|n| objects::read_name(self.mem, self.o, n).ok()), attr("_value_")) {
                let value = self.repr_at(value, depth.saturating_add(1), stack);
                return Ok(format!("<{}.{member}: {value}>", self.type_name_attr(ty)?));
            }
        }
        self.nested(obj, depth, stack, &format!("{name}("), ")", |r, d, st| {
            let mut parts: Vec<String> = attrs
                .iter()
                .map(|&(k, v)| {
                    let key = objects::read_str(r.mem, r.o, k).unwrap_or_else(|_| "?".into());
                    format!("{key}={}", r.repr_at(v, d, st))
                })
                .collect();
            if more {
                parts.push("...".into());
            }
            parts.join(", ")
        })
    }
}
