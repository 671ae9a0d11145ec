//! Rendering objects from target memory the way `repr()` writes them, never running
//! code in the target: None, bool, int of any size, float, every kind of str, bytes,
//! bytearray, tuple, list, dict, set, frozenset, type, function, method, module, code,
//! frame, cell, and instances of user classes as `ClassName(attr=..., ...)` from their
//! attributes. Anything else is `<typename object at 0x...>`.
//!
//! Cycles render as `[...]`/`{...}`/`(...)`, the depth and length limits as `...`;
//! unreadable or corrupt memory renders as `<unreadable 0x...>` / `<corrupt str at
//! 0x...>` in place of that one value, and memory freed under PYMALLOC_DEBUG as
//! `<freed 0x...>`. Every count read from the target is capped before use.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write;

use pycoroner_layouts::{key, Key, Offsets};
use pycoroner_process::{Memory, MemoryExt, RemoteAddr};

use crate::error::{need, Error};
use crate::models::{DictModel, InstanceDictModel, IntModel, Models};
use crate::objects;

/// The built-in types the renderer recognizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// `float`.
    Float,
    /// `str`.
    Str,
    /// `bytes`.
    Bytes,
    /// `bytearray`.
    ByteArray,
    /// `tuple`.
    Tuple,
    /// `list`.
    List,
    /// `dict`.
    Dict,
    /// `set`.
    Set,
    /// `frozenset`.
    FrozenSet,
    /// `type`.
    Type,
    /// `function`.
    Function,
    /// `method`.
    Method,
    /// `module`.
    Module,
    /// `code`.
    Code,
    /// `frame`.
    Frame,
    /// `cell`.
    Cell,
    /// `NoneType`.
    NoneType,
    /// `builtin_function_or_method` (a C function or a C method bound to its object).
    BuiltinFunction,
    /// `complex`.
    Complex,
    /// `range`.
    Range,
    /// `slice`.
    Slice,
}

/// Exported symbol of each built-in type, and the kind it stands for.
pub const TYPE_SYMBOLS: &[(&str, Kind)] = &[
    ("PyLong_Type", Kind::Int),
    ("PyBool_Type", Kind::Bool),
    ("PyFloat_Type", Kind::Float),
    ("PyUnicode_Type", Kind::Str),
    ("PyBytes_Type", Kind::Bytes),
    ("PyByteArray_Type", Kind::ByteArray),
    ("PyTuple_Type", Kind::Tuple),
    ("PyList_Type", Kind::List),
    ("PyDict_Type", Kind::Dict),
    ("PySet_Type", Kind::Set),
    ("PyFrozenSet_Type", Kind::FrozenSet),
    ("PyType_Type", Kind::Type),
    ("PyFunction_Type", Kind::Function),
    ("PyMethod_Type", Kind::Method),
    ("PyModule_Type", Kind::Module),
    ("PyCode_Type", Kind::Code),
    ("PyFrame_Type", Kind::Frame),
    ("PyCell_Type", Kind::Cell),
    ("_PyNone_Type", Kind::NoneType),
    ("PyCFunction_Type", Kind::BuiltinFunction),
    ("PyCMethod_Type", Kind::BuiltinFunction),
    ("PyComplex_Type", Kind::Complex),
    ("PyRange_Type", Kind::Range),
    ("PySlice_Type", Kind::Slice),
];

/// Singletons the renderer recognizes by address.
pub const SINGLETON_SYMBOLS: &[&str] =
    &["_Py_NoneStruct", "_Py_TrueStruct", "_Py_FalseStruct", "_Py_EllipsisObject", "_Py_NotImplementedStruct", "_PySet_Dummy"];

/// Relocated addresses of the built-in types and singletons.
#[derive(Debug, Clone, Default)]
pub struct KnownObjects {
    types: HashMap<RemoteAddr, Kind>,
    singletons: HashMap<RemoteAddr, &'static str>,
    set_dummy: Option<RemoteAddr>,
}

impl KnownObjects {
    /// Build from a symbol lookup (name → relocated address).
    pub fn from_symbols(lookup: impl Fn(&str) -> Option<u64>) -> KnownObjects {
        let mut k = KnownObjects::default();
        for (name, kind) in TYPE_SYMBOLS {
            if let Some(a) = lookup(name) {
                k.types.insert(RemoteAddr(a), *kind);
            }
        }
        for (name, text) in [
            ("_Py_NoneStruct", "None"),
            ("_Py_TrueStruct", "True"),
            ("_Py_FalseStruct", "False"),
            ("_Py_EllipsisObject", "Ellipsis"),
            ("_Py_NotImplementedStruct", "NotImplemented"),
        ] {
            if let Some(a) = lookup(name) {
                k.singletons.insert(RemoteAddr(a), text);
            }
        }
        k.set_dummy = lookup("_PySet_Dummy").map(RemoteAddr);
        k
    }

    /// The kind of a type object, if it is a built-in one we know.
    pub fn kind_of_type(&self, ty: RemoteAddr) -> Option<Kind> {
        self.types.get(&ty).copied()
    }

    /// `None`, `True`, ... for a singleton's address.
    pub fn singleton(&self, obj: RemoteAddr) -> Option<&'static str> {
        self.singletons.get(&obj).copied()
    }
}

/// How much to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nesting depth of containers and instances.
    pub depth: usize,
    /// Items per container, attributes per instance.
    pub length: usize,
    /// Characters of a str (bytes of a bytes).
    pub string: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { depth: 6, length: 100, string: 1000 }
    }
}

/// Deepest nesting rendered, whatever the caller asks: rendering recurses once per
/// level, so this (not the target) bounds the renderer's stack. CPython's own `repr`
/// gives up near 1000 levels (RecursionError).
pub const MAX_DEPTH: usize = 100;

/// Most entries a lookup by name (a module in `sys.modules`, a global, a thread's
/// name) reads from one dict: lookups read the whole dict, not the displayed part.
const MAX_LOOKUP_ENTRIES: usize = 1 << 20;
/// Most base classes followed from a type to `module`.
const MAX_TYPE_DEPTH: usize = 64;
/// Most reads one lookup may do (a few per entry of the dicts it searches).
const LOOKUP_READ_BUDGET: usize = 1 << 20;

/// Most reads one top-level `repr` may do; a huge or cyclic structure ends in `...`.
const READ_BUDGET: usize = 20_000;
/// Entries of a dict or set table read at a time.
const CHUNK: u64 = 256;
/// Nesting depth below which instances of user classes show their attributes.
const INSTANCE_DEPTH: usize = 2;
/// Most 30-bit digits an int may have (about 300k decimal digits); more is corrupt.
const MAX_INT_DIGITS: u64 = 1 << 15;
/// Most 30-bit digits written out in decimal (about 9000 decimal digits: the conversion
/// is quadratic). CPython itself refuses `str()` past 4300 digits by default.
const MAX_DECIMAL_INT_DIGITS: u64 = 1000;

const TPFLAGS_HEAPTYPE: u64 = 1 << 9;
/// `Py_TPFLAGS_BASE_EXC_SUBCLASS`: the type is BaseException or derives from it.
const TPFLAGS_BASE_EXC_SUBCLASS: u64 = 1 << 30;
const TPFLAGS_INLINE_VALUES: u64 = 1 << 2;
const TPFLAGS_MANAGED_DICT: u64 = 1 << 4;
/// Fast subclass bits of `tp_flags` (Include/object.h), with the kind each marks.
const SUBCLASS_BITS: &[(u32, Kind)] = &[
    (24, Kind::Int),
    (25, Kind::List),
    (26, Kind::Tuple),
    (27, Kind::Bytes),
    (28, Kind::Str),
    (29, Kind::Dict),
    (31, Kind::Type),
];

/// Renders objects of one interpreter.
pub struct Renderer<'a> {
    mem: &'a dyn Memory,
    o: &'a Offsets,
    models: Models,
    known: &'a KnownObjects,
    limits: Limits,
    budget: Cell<usize>,
}

/// An attribute or dict entry: key and value addresses.
type Pair = (RemoteAddr, RemoteAddr);

impl<'a> Renderer<'a> {
    /// A renderer over `mem` with the interpreter's offsets, models and known objects.
    pub fn new(mem: &'a dyn Memory, o: &'a Offsets, models: Models, known: &'a KnownObjects, limits: Limits) -> Renderer<'a> {
        let limits = Limits { depth: limits.depth.min(MAX_DEPTH), ..limits };
        Renderer { mem, o, models, known, limits, budget: Cell::new(READ_BUDGET) }
    }

    fn at(&self, base: RemoteAddr, key: Key) -> Result<RemoteAddr, Error> {
        base.offset(need(self.o, key)?).ok_or(Error::Overflow(base))
    }

    fn ptr(&self, base: RemoteAddr, key: Key) -> Result<RemoteAddr, Error> {
        self.spend()?;
        Ok(self.mem.read_ptr(self.at(base, key)?)?)
    }

    fn spend(&self) -> Result<(), Error> {
        let left = self.budget.get();
        if left == 0 {
            return Err(Error::BudgetSpent);
        }
        self.budget.set(left - 1);
        Ok(())
    }

    /// True when `v` looks like PYMALLOC_DEBUG's pattern for freed memory.
    fn is_dead(&self, v: u64) -> bool {
        let b = u64::from(self.models.dead_byte);
        v == b * 0x0101_0101_0101_0101
    }

    /// `repr()` of the object at `obj`.
    pub fn repr(&self, obj: RemoteAddr) -> String {
        self.budget.set(READ_BUDGET);
        let mut stack = Vec::new();
        self.repr_at(obj, 0, &mut stack)
    }

    /// `exc.args` of an exception object, capped at the length limit.
    pub fn exception_args(&self, exc: RemoteAddr) -> Result<Vec<RemoteAddr>, Error> {
        let args = self.ptr(exc, key::exception::args)?;
        if args.is_null() {
            return Ok(Vec::new());
        }
        Ok(self.sequence_items(args, Kind::Tuple)?.0)
    }

    /// The value of an `int` that fits in 64 bits.
    pub fn int_as_u64(&self, obj: RemoteAddr) -> Option<u64> {
        if self.kind_of(obj) != Some(Kind::Int) {
            return None;
        }
        self.int_value(obj).ok()?.parse().ok()
    }

    /// The value for `key` (a str) in a dict, if present: the whole dict is searched
    /// (the display limit `--length` does not apply), with a read budget of its own.
    pub fn dict_get_str(&self, dict: RemoteAddr, key: &str) -> Option<RemoteAddr> {
        self.budget.set(LOOKUP_READ_BUDGET);
        self.dict_lookup(dict, key)
    }

    fn dict_lookup(&self, dict: RemoteAddr, key: &str) -> Option<RemoteAddr> {
        let (pairs, _) = self.dict_items_up_to(dict, MAX_LOOKUP_ENTRIES).ok()?;
        pairs.iter().find_map(|&(k, v)| (self.str_key(k).as_deref() == Some(key)).then_some(v))
    }

    /// A dict key that is a str, read with the lookup's budget.
    fn str_key(&self, k: RemoteAddr) -> Option<String> {
        self.spend().ok()?;
        objects::read_name(self.mem, self.o, k).ok()
    }

    /// Names of the threads `threading` knows (`threading._active`: ident → Thread,
    /// whose `_name` is the name), read from an interpreter's `sys.modules`.
    /// Every thread is named, however many there are: the dicts are read whole.
    pub fn thread_names(&self, sys_modules: RemoteAddr) -> Vec<(u64, String)> {
        self.budget.set(LOOKUP_READ_BUDGET);
        let Some(module) = self.dict_lookup(sys_modules, "threading") else { return Vec::new() };
        let Ok(md_dict) = self.ptr(module, key::module::dict) else { return Vec::new() };
        let Some(active) = self.dict_lookup(md_dict, "_active") else { return Vec::new() };
        let Ok((pairs, _)) = self.dict_items_up_to(active, MAX_LOOKUP_ENTRIES) else { return Vec::new() };
        pairs
            .iter()
            .filter_map(|&(ident, thread)| {
                let id = self.int_as_u64(ident)?;
                let (attrs, _) = self.instance_attributes_up_to(thread, MAX_LOOKUP_ENTRIES).ok()?;
                let name = attrs.iter().find_map(|&(k, v)| {
                    (self.str_key(k).as_deref() == Some("_name")).then(|| objects::read_name(self.mem, self.o, v).ok()).flatten()
                })?;
                Some((id, name))
            })
            .collect()
    }

    /// The extension modules faulthandler lists after a fatal error (3.10+,
    /// `_Py_DumpExtensionModules`): `sys.modules` keys, in dict order, whose module C
    /// code defined with methods (`md_def->m_methods`; 3.15: `md_exec`, or a token that
    /// is a def with methods), except those named in `sys.stdlib_module_names`. `None`
    /// when any of it cannot be read (a partial list would give a wrong total) or there
    /// is no `sys.stdlib_module_names` (before 3.10).
    pub fn extension_modules(&self, sys_modules: RemoteAddr, sysdict: Option<RemoteAddr>) -> Option<Vec<String>> {
        self.budget.set(LOOKUP_READ_BUDGET);
        let stdlib: Vec<String> = match sysdict.and_then(|d| self.dict_lookup(d, "stdlib_module_names")) {
            Some(names) if self.kind_of(names) == Some(Kind::FrozenSet) => {
                let (items, more) = self.set_items_up_to(names, MAX_LOOKUP_ENTRIES).ok()?;
                if more {
                    return None;
                }
                items.into_iter().filter_map(|k| self.str_key(k)).collect()
            }
            // Before 3.10 there is no such set (and faulthandler no such list); without
            // it, what the list would mean is not faulthandler's.
            _ => return None,
        };
        let (pairs, more) = self.dict_items_up_to(sys_modules, MAX_LOOKUP_ENTRIES).ok()?;
        if more {
            return None;
        }
        let mut out = Vec::new();
        for (k, v) in pairs {
            if self.kind_of(k) != Some(Kind::Str) || !self.is_module(v)? || !self.is_extension(v)? {
                continue;
            }
            let name = self.str_key(k)?;
            if !stdlib.contains(&name) {
                out.push(name);
            }
        }
        Some(out)
    }

    fn kind_of(&self, obj: RemoteAddr) -> Option<Kind> {
        objects::ob_type(self.mem, self.o, obj).ok().and_then(|t| self.known.kind_of_type(t))
    }

    /// `PyModule_Check`: a module, or an instance of a subclass of `module`
    /// (`Some(false)` for anything else; `None` when the type chain is unreadable).
    fn is_module(&self, obj: RemoteAddr) -> Option<bool> {
        let mut ty = objects::ob_type(self.mem, self.o, obj).ok()?;
        for _ in 0..MAX_TYPE_DEPTH {
            if ty.is_null() {
                return Some(false);
            }
            if self.known.kind_of_type(ty) == Some(Kind::Module) {
                return Some(true);
            }
            ty = self.ptr(ty, key::type_ext::base).ok()?;
        }
        Some(false)
    }

    /// `_PyModule_IsExtension`, on a module.
    fn is_extension(&self, module: RemoteAddr) -> Option<bool> {
        let methods = |def: RemoteAddr| -> Option<bool> { Some(!def.is_null() && !self.ptr(def, key::module::def_methods).ok()?.is_null()) };
        if self.o.module.exec.is_some() {
            if !self.ptr(module, key::module::exec).ok()?.is_null() {
                return Some(true);
            }
            let is_def = self.mem.read_u8(self.at(module, key::module::token_is_def).ok()?).ok()? != 0;
            return if is_def { methods(self.ptr(module, key::module::token).ok()?) } else { Some(false) };
        }
        methods(self.ptr(module, key::module::def).ok()?)
    }

    /// `str()` of an object: a str's own text, else its repr.
    pub fn str_of(&self, obj: RemoteAddr) -> String {
        let is_str = self.kind_of(obj) == Some(Kind::Str);
        if is_str {
            if let Ok(s) = objects::read_str(self.mem, self.o, obj) {
                return s;
            }
        }
        self.repr(obj)
    }

    /// `repr()` of a tuple given by its items.
    pub fn repr_tuple(&self, items: &[RemoteAddr]) -> String {
        let parts: Vec<String> = items.iter().map(|&i| self.repr(i)).collect();
        format!("({})", parts.join(", "))
    }

    /// The type name of the object at `obj` (`tp_name`, or the heap type's qualname).
    pub fn type_name(&self, obj: RemoteAddr) -> Result<String, Error> {
        let ty = objects::ob_type(self.mem, self.o, obj)?;
        self.type_short_name(ty)
    }

    /// `BaseException.__repr__` (Objects/exceptions.c): the type's name (tp_name after its
    /// last dot), then the one argument's repr in parentheses (3.7+), or the args tuple's
    /// repr (none, several, or any on 3.6): `ValueError('bad')`, `KeyError('k', 2)`,
    /// `RuntimeError()`, 3.6's `ValueError('bad',)`. (A class's own Python `__repr__`
    /// cannot be run from a core.)
    fn exception_repr(&self, obj: RemoteAddr, ty: RemoteAddr, depth: usize, stack: &mut Vec<RemoteAddr>) -> Result<String, Error> {
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

    fn type_short_name(&self, ty: RemoteAddr) -> Result<String, Error> {
        let flags = self.mem.read_u64(self.at(ty, key::type_object::tp_flags)?)?;
        if flags & TPFLAGS_HEAPTYPE != 0 {
            if let Ok(q) = self.ptr(ty, key::type_ext::ht_qualname).and_then(|q| objects::read_str(self.mem, self.o, q)) {
                return Ok(q);
            }
        }
        self.tp_name(ty)
    }

    /// A type's `tp_name` (`module.Name` for a built-in type of an extension module).
    fn tp_name(&self, ty: RemoteAddr) -> Result<String, Error> {
        let name = self.mem.read_cstr(self.ptr(ty, key::type_object::tp_name)?, 256)?;
        Ok(String::from_utf8_lossy(&name).into_owned())
    }

    /// The kind of an object: its exact type if built in, else the built-in base its
    /// `tp_flags` subclass bits name (a subclass of `dict` renders like a dict).
    fn kind(&self, ty: RemoteAddr) -> Result<(Option<Kind>, u64), Error> {
        let flags = self.mem.read_u64(self.at(ty, key::type_object::tp_flags)?)?;
        if let Some(k) = self.known.kind_of_type(ty) {
            return Ok((Some(k), flags));
        }
        Ok((None, flags))
    }

    fn repr_at(&self, obj: RemoteAddr, depth: usize, stack: &mut Vec<RemoteAddr>) -> String {
        if obj.is_null() {
            return "<NULL>".into();
        }
        if self.is_dead(obj.0) {
            return format!("<freed {obj}>");
        }
        if let Some(s) = self.known.singleton(obj) {
            return s.into();
        }
        match self.try_repr(obj, depth, stack) {
            Ok(s) => s,
            Err(Error::Read(_)) => format!("<unreadable {obj}>"),
            Err(Error::BudgetSpent) => "...".into(),
            Err(Error::Corrupt { what, .. }) => format!("<corrupt {} at {obj}>", what.split(' ').next().unwrap_or(what)),
            Err(e) => format!("<unreadable {obj}: {e}>"),
        }
    }

    fn try_repr(&self, obj: RemoteAddr, depth: usize, stack: &mut Vec<RemoteAddr>) -> Result<String, Error> {
        self.spend()?;
        let ty = objects::ob_type(self.mem, self.o, obj)?;
        if self.is_dead(ty.0) || self.is_dead(self.mem.read_u64(obj)?) {
            return Ok(format!("<freed object at {obj}>"));
        }
        let (kind, flags) = self.kind(ty)?;
        let kind = kind.or_else(|| SUBCLASS_BITS.iter().find(|(bit, _)| flags & (1 << bit) != 0).map(|(_, k)| *k));
        let heap = flags & TPFLAGS_HEAPTYPE != 0;
        if kind.is_none() && flags & TPFLAGS_BASE_EXC_SUBCLASS != 0 {
            return self.exception_repr(obj, ty, depth, stack);
        }
        let Some(kind) = kind else {
            if heap {
                return self.instance(obj, ty, flags, depth, stack);
            }
            return Ok(format!("<{} object at {obj}>", self.type_short_name(ty)?));
        };
        // A heap subclass of a container renders its container contents.
        Ok(match kind {
            Kind::NoneType => "None".into(),
            Kind::Bool => {
                let v = self.int_value(obj)?;
                if v == "0" { "False".into() } else { "True".into() }
            }
            Kind::Int => self.int_value(obj)?,
            Kind::Float => float_repr(f64::from_bits(self.mem.read_u64(self.at(obj, key::float::fval)?)?)),
            Kind::Complex => {
                let part = |key| -> Result<f64, Error> { Ok(f64::from_bits(self.mem.read_u64(self.at(obj, key)?)?)) };
                complex_repr(part(key::complex::real)?, part(key::complex::imag)?)
            }
            Kind::Slice => {
                let parts = (self.ptr(obj, key::slice::start)?, self.ptr(obj, key::slice::stop)?, self.ptr(obj, key::slice::step)?);
                self.nested(obj, depth, stack, "slice(", ")", |r, d, st| {
                    [parts.0, parts.1, parts.2].iter().map(|&v| r.repr_at(v, d, st)).collect::<Vec<_>>().join(", ")
                })?
            }
            Kind::Range => {
                let bound = |key| -> Result<String, Error> { self.int_value(self.ptr(obj, key)?) };
                let (start, stop, step) = (bound(key::range::start)?, bound(key::range::stop)?, bound(key::range::step)?);
                if step == "1" { format!("range({start}, {stop})") } else { format!("range({start}, {stop}, {step})") }
            }
            Kind::Str => {
                let s = objects::read_str(self.mem, self.o, obj).map_err(|e| match e {
                    Error::Corrupt { addr, .. } => Error::Corrupt { what: "str", addr },
                    other => other,
                })?;
                str_repr(&s, self.limits.string)
            }
            Kind::Bytes => {
                let data = self.bytes_like(obj, key::bytes::sval, false)?;
                format!("b{}", bytes_repr(&data.0, data.1))
            }
            Kind::ByteArray => {
                let data = self.bytes_like(obj, key::bytearray::start, true)?;
                format!("bytearray(b{})", bytes_repr(&data.0, data.1))
            }
            Kind::Tuple if heap && self.named_tuple_fields(ty).is_some() => {
                // collections.namedtuple: `Point(x=1, y=2)`.
                let fields = self.named_tuple_fields(ty).unwrap_or_default();
                let name = self.type_name_attr(ty)?;
                if stack.contains(&obj) {
                    return Ok(format!("{name}(...)"));
                }
                let items = self.sequence_items(obj, kind)?;
                self.nested(obj, depth, stack, &format!("{name}("), ")", |r, d, st| {
                    let mut parts: Vec<String> =
                        fields.iter().zip(items.0.iter()).map(|(f, &i)| format!("{f}={}", r.repr_at(i, d, st))).collect();
                    if items.1 {
                        parts.push("...".into());
                    }
                    parts.join(", ")
                })?
            }
            Kind::Tuple | Kind::List => {
                let (open, close) = if kind == Kind::Tuple { ("(", ")") } else { ("[", "]") };
                if stack.contains(&obj) {
                    return Ok(format!("{open}...{close}"));
                }
                let items = self.sequence_items(obj, kind)?;
                self.nested(obj, depth, stack, open, close, |r, d, st| {
                    let mut parts: Vec<String> = items.0.iter().map(|&i| r.repr_at(i, d, st)).collect();
                    if items.1 {
                        parts.push("...".into());
                    }
                    let mut s = parts.join(", ");
                    if kind == Kind::Tuple && items.0.len() == 1 && !items.1 {
                        s.push(',');
                    }
                    s
                })?
            }
            Kind::Dict => {
                if stack.contains(&obj) {
                    return Ok("{...}".into());
                }
                let (pairs, more) = self.dict_items(obj)?;
                self.nested(obj, depth, stack, "{", "}", |r, d, st| {
                    let mut parts: Vec<String> =
                        pairs.iter().map(|&(k, v)| format!("{}: {}", r.repr_at(k, d, st), r.repr_at(v, d, st))).collect();
                    if more {
                        parts.push("...".into());
                    }
                    parts.join(", ")
                })?
            }
            Kind::Set | Kind::FrozenSet => {
                let name = if kind == Kind::Set { "set" } else { "frozenset" };
                if stack.contains(&obj) {
                    return Ok(format!("{name}(...)"));
                }
                let (keys, more) = self.set_items(obj)?;
                if keys.is_empty() && !more {
                    return Ok(format!("{name}()"));
                }
                let (open, close) = if kind == Kind::Set { ("{", "}") } else { ("frozenset({", "})") };
                self.nested(obj, depth, stack, open, close, |r, d, st| {
                    let mut parts: Vec<String> = keys.iter().map(|&k| r.repr_at(k, d, st)).collect();
                    if more {
                        parts.push("...".into());
                    }
                    parts.join(", ")
                })?
            }
            Kind::Type => format!("<class '{}'>", self.type_full_name(obj)?),
            Kind::Function => {
                let q = self.ptr(obj, key::function::qualname).and_then(|q| objects::read_str(self.mem, self.o, q))?;
                format!("<function {q} at {obj}>")
            }
            Kind::Method => {
                let func = self.ptr(obj, key::method::func)?;
                let slf = self.ptr(obj, key::method::self_)?;
                let q = self.ptr(func, key::function::qualname).and_then(|q| objects::read_str(self.mem, self.o, q));
                let q = q.unwrap_or_else(|_| "?".into());
                let s = self.repr_at(slf, depth + 1, stack);
                format!("<bound method {q} of {s}>")
            }
            Kind::Module => {
                let d = self.ptr(obj, key::module::dict)?;
                let (pairs, _) = self.dict_items(d)?;
                let get = |name: &str| {
                    pairs.iter().find_map(|&(k, v)| {
                        (objects::read_str(self.mem, self.o, k).ok().as_deref() == Some(name)).then_some(v)
                    })
                };
                let name = get("__name__").and_then(|v| objects::read_str(self.mem, self.o, v).ok()).unwrap_or_else(|| "?".into());
                match get("__file__").and_then(|v| objects::read_str(self.mem, self.o, v).ok()) {
                    Some(f) => format!("<module {} from {}>", str_repr(&name, usize::MAX), str_repr(&f, usize::MAX)),
                    None => format!("<module {} (built-in)>", str_repr(&name, usize::MAX)),
                }
            }
            Kind::Code => {
                let name = self.ptr(obj, key::code::name).and_then(|p| objects::read_str(self.mem, self.o, p))?;
                let file = self.ptr(obj, key::code::filename).and_then(|p| objects::read_str(self.mem, self.o, p))?;
                let line = self.mem.read_i32(self.at(obj, key::code::firstlineno)?)?;
                format!("<code object {name} at {obj}, file \"{file}\", line {line}>")
            }
            Kind::Frame => format!("<frame at {obj}>"),
            Kind::BuiltinFunction => {
                // meth_repr (Objects/methodobject.c): bound to nothing or to a module, a
                // function; else a method of its object. (A layout without these fields,
                // from _Py_DebugOffsets, gets the generic form.)
                if [key::cfunction::ml, key::cfunction::self_, key::methoddef::name].iter().any(|k| k.of(self.o).is_none()) {
                    return Ok(format!("<{} object at {obj}>", self.type_short_name(ty)?));
                }
                let def = self.ptr(obj, key::cfunction::ml)?;
                let name = String::from_utf8_lossy(&self.mem.read_cstr(self.ptr(def, key::methoddef::name)?, 256)?).into_owned();
                let slf = self.ptr(obj, key::cfunction::self_)?;
                if slf.is_null() {
                    return Ok(format!("<built-in function {name}>"));
                }
                let ty = objects::ob_type(self.mem, self.o, slf)?;
                if self.kind(ty)?.0 == Some(Kind::Module) {
                    return Ok(format!("<built-in function {name}>"));
                }
                let tn = self.tp_name(ty)?;
                format!("<built-in method {name} of {tn} object at {slf}>")
            }
            Kind::Cell => {
                let inner = self.ptr(obj, key::cell::obj)?;
                if inner.is_null() {
                    format!("<cell at {obj}: empty>")
                } else {
                    let tn = self.type_name(inner)?;
                    format!("<cell at {obj}: {tn} object at {inner}>")
                }
            }
        })
    }

    fn nested(
        &self,
        obj: RemoteAddr,
        depth: usize,
        stack: &mut Vec<RemoteAddr>,
        open: &str,
        close: &str,
        body: impl FnOnce(&Self, usize, &mut Vec<RemoteAddr>) -> String,
    ) -> Result<String, Error> {
        if depth >= self.limits.depth {
            return Ok(format!("{open}...{close}"));
        }
        stack.push(obj);
        let inner = body(self, depth + 1, stack);
        stack.pop();
        Ok(format!("{open}{inner}{close}"))
    }

    /// `module.QualName` as `repr(type)` shows it.
    fn type_full_name(&self, ty: RemoteAddr) -> Result<String, Error> {
        let flags = self.mem.read_u64(self.at(ty, key::type_object::tp_flags)?)?;
        if flags & TPFLAGS_HEAPTYPE == 0 {
            return self.tp_name(ty);
        }
        let q = self.type_short_name(ty)?;
        // The whole class dict is searched (`--length` limits display only).
        let module = self
            .ptr(ty, key::type_ext::dict)
            .ok()
            .and_then(|d| self.dict_lookup(d, "__module__"))
            .and_then(|v| objects::read_name(self.mem, self.o, v).ok());
        Ok(match module {
            Some(m) if m != "builtins" => format!("{m}.{q}"),
            _ => q,
        })
    }

    /// `type.__name__`: `tp_name` after its last dot.
    fn type_name_attr(&self, ty: RemoteAddr) -> Result<String, Error> {
        let name = self.tp_name(ty)?;
        Ok(name.rsplit('.').next().unwrap_or(&name).to_string())
    }

    /// A class attribute by name, from the class's own dict.
    fn class_attr(&self, ty: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        self.dict_lookup(self.ptr(ty, key::type_ext::dict).ok()?, name)
    }

    /// The field names of a `collections.namedtuple` class: its `_fields`, a tuple of
    /// str (with `_make`, which namedtuple classes define).
    fn named_tuple_fields(&self, ty: RemoteAddr) -> Option<Vec<String>> {
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

    fn int_value(&self, obj: RemoteAddr) -> Result<String, Error> {
        let (ndigits, negative) = match self.models.int {
            IntModel::SignedSize => {
                let size = self.mem.read_i64(self.at(obj, key::object::ob_size)?)?;
                (size.unsigned_abs(), size < 0)
            }
            IntModel::Tagged => {
                let tag = self.mem.read_u64(self.at(obj, key::long::lv_tag)?)?;
                (tag >> 3, tag & 3 == 2)
            }
        };
        if ndigits > MAX_INT_DIGITS {
            return Err(Error::Corrupt { what: "int size", addr: obj });
        }
        if ndigits > MAX_DECIMAL_INT_DIGITS {
            // The top digit is enough to say how long it is.
            let digit = self.at(obj, key::long::digit)?;
            let top = self.mem.read_u32(digit.offset((ndigits - 1) * 4).ok_or(Error::Overflow(obj))?)? & 0x3fff_ffff;
            let bits = (ndigits - 1) * 30 + u64::from(32 - top.leading_zeros());
            let decimal = (bits as f64 * std::f64::consts::LOG10_2) as u64 + 1;
            return Ok(format!("<{}int with about {decimal} decimal digits>", if negative { "negative " } else { "" }));
        }
        let raw = self.mem.read_vec(self.at(obj, key::long::digit)?, ndigits * 4, MAX_INT_DIGITS * 4)?;
        let digits: Vec<u32> = raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) & 0x3fff_ffff).collect();
        let mut s = digits_to_decimal(&digits);
        if negative && s != "0" {
            s.insert(0, '-');
        }
        Ok(s)
    }

    fn bytes_like(&self, obj: RemoteAddr, data_key: Key, indirect: bool) -> Result<(Vec<u8>, bool), Error> {
        let size = self.mem.read_i64(self.at(obj, key::object::ob_size)?)?;
        let size = u64::try_from(size).map_err(|_| Error::Corrupt { what: "bytes size", addr: obj })?;
        let shown = size.min(self.limits.string as u64);
        let data = if indirect { self.ptr(obj, data_key)? } else { self.at(obj, data_key)? };
        if shown == 0 {
            return Ok((Vec::new(), false));
        }
        Ok((self.mem.read_vec(data, shown, objects::MAX_BYTES)?, shown < size))
    }

    /// Items of a tuple or list, capped at the length limit; (items, more).
    fn sequence_items(&self, obj: RemoteAddr, kind: Kind) -> Result<(Vec<RemoteAddr>, bool), Error> {
        let size = self.mem.read_i64(self.at(obj, key::object::ob_size)?)?;
        let size = u64::try_from(size).map_err(|_| Error::Corrupt { what: "sequence size", addr: obj })?;
        let items = if kind == Kind::Tuple { self.at(obj, key::tuple::item)? } else { self.ptr(obj, key::list::item)? };
        let n = size.min(self.limits.length as u64);
        let raw = self.mem.read_vec(items, n * 8, 1 << 20)?;
        let out = raw.chunks_exact(8).map(|c| RemoteAddr(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))).collect();
        Ok((out, n < size))
    }

    /// Keys of a set or frozenset in table order, as many as are displayed; (keys, more).
    fn set_items(&self, obj: RemoteAddr) -> Result<(Vec<RemoteAddr>, bool), Error> {
        self.set_items_up_to(obj, self.limits.length)
    }

    /// Keys of a set or frozenset in table order, at most `max`; (keys, more).
    fn set_items_up_to(&self, obj: RemoteAddr, max: usize) -> Result<(Vec<RemoteAddr>, bool), Error> {
        let mask = self.mem.read_u64(self.at(obj, key::set::mask)?)?;
        let used = self.mem.read_u64(self.at(obj, key::set::used)?)?;
        let table = self.ptr(obj, key::set::table)?;
        let esize = need(self.o, key::set::entry_size)?;
        if mask >= 1 << 32 || used > mask + 1 || !(8..=64).contains(&esize) {
            return Err(Error::Corrupt { what: "set table", addr: obj });
        }
        let mut out = Vec::new();
        // In chunks: a corrupt mask must not cost a huge read; stop at the length limit.
        for chunk_start in (0..=mask).step_by(CHUNK as usize) {
            let n = (mask + 1 - chunk_start).min(CHUNK);
            self.spend()?;
            let at = table.offset(chunk_start * esize).ok_or(Error::Overflow(table))?;
            let raw = self.mem.read_vec(at, n * esize, CHUNK * 64)?;
            for e in raw.chunks_exact(esize as usize) {
                let key = RemoteAddr(u64::from_le_bytes(e[..8].try_into().unwrap_or([0; 8])));
                if key.is_null() || Some(key) == self.known.set_dummy {
                    continue;
                }
                if out.len() >= max {
                    return Ok((out, true));
                }
                out.push(key);
            }
        }
        Ok((out, false))
    }

    /// (key, value) pairs of a dict in iteration order, as many as are displayed
    /// (`--length`); (pairs, more).
    pub fn dict_items(&self, obj: RemoteAddr) -> Result<(Vec<Pair>, bool), Error> {
        self.dict_items_up_to(obj, self.limits.length)
    }

    /// (key, value) pairs of a dict, at most `limit`; (pairs, more).
    fn dict_items_up_to(&self, obj: RemoteAddr, limit: usize) -> Result<(Vec<Pair>, bool), Error> {
        let keys = self.ptr(obj, key::dict::keys)?;
        let values = self.ptr(obj, key::dict::values)?;
        let values = if values.is_null() {
            None
        } else {
            Some(values.offset(self.o.dict.values_values.unwrap_or(0)).ok_or(Error::Overflow(values))?)
        };
        self.keys_items(keys, values, limit)
    }

    /// Entries of a keys object, with values from `values` for a split table; at most
    /// `limit`.
    fn keys_items(&self, keys: RemoteAddr, values: Option<RemoteAddr>, limit: usize) -> Result<(Vec<Pair>, bool), Error> {
        let nentries = self.mem.read_i64(self.at(keys, key::dict::dk_nentries)?)?;
        let (entries, esize, key_off) = match self.models.dict {
            DictModel::SizeIndexed => {
                let size = self.mem.read_i64(self.at(keys, key::dict::dk_size)?)?;
                if !(0..=1 << 26).contains(&size) {
                    return Err(Error::Corrupt { what: "dict keys", addr: keys });
                }
                let width: u64 = match size {
                    0..=0xff => 1,
                    0x100..=0xffff => 2,
                    _ => 4,
                };
                let start = self.at(keys, key::dict::dk_indices)?.offset(size as u64 * width).ok_or(Error::Overflow(keys))?;
                (start, need(self.o, key::dict::entry_size)?, 8u64)
            }
            DictModel::Log2Kinds => {
                let log2_index = u32::from(self.mem.read_u8(self.at(keys, key::dict::dk_log2_index_bytes)?)?);
                let kind = self.mem.read_u8(self.at(keys, key::dict::dk_kind)?)?;
                if log2_index > 32 {
                    return Err(Error::Corrupt { what: "dict keys", addr: keys });
                }
                let start = self.at(keys, key::dict::dk_indices)?.offset(1u64 << log2_index).ok_or(Error::Overflow(keys))?;
                if kind == 0 {
                    (start, need(self.o, key::dict::entry_size)?, 8)
                } else {
                    (start, need(self.o, key::dict::unicode_entry_size)?, 0)
                }
            }
        };
        if !(0..=1 << 32).contains(&nentries) || !(16..=64).contains(&esize) {
            return Err(Error::Corrupt { what: "dict entries", addr: keys });
        }
        let n = nentries as u64;
        let word = |b: &[u8], off: usize| -> RemoteAddr {
            RemoteAddr(b.get(off..off + 8).and_then(|s| s.try_into().ok()).map_or(0, u64::from_le_bytes))
        };
        let mut out = Vec::new();
        // In chunks: a corrupt count must not cost a huge read; stop at the length limit.
        for chunk_start in (0..n).step_by(CHUNK as usize) {
            let len = (n - chunk_start).min(CHUNK);
            self.spend()?;
            let at = entries.offset(chunk_start * esize).ok_or(Error::Overflow(entries))?;
            let raw = self.mem.read_vec(at, len * esize, CHUNK * 64)?;
            let vals = match values {
                Some(v) => Some(self.mem.read_vec(v.offset(chunk_start * 8).ok_or(Error::Overflow(v))?, len * 8, CHUNK * 8)?),
                None => None,
            };
            for (i, e) in raw.chunks_exact(esize as usize).enumerate() {
                let key = word(e, key_off as usize);
                let value = match &vals {
                    Some(v) => word(v, i * 8),
                    None => word(e, key_off as usize + 8),
                };
                if key.is_null() || value.is_null() {
                    continue;
                }
                if out.len() >= limit {
                    return Ok((out, true));
                }
                out.push((key, value));
            }
        }
        Ok((out, false))
    }

    /// The attributes of an instance of a heap type, per the instance-dict model, as
    /// many as are displayed.
    pub fn instance_attributes(&self, obj: RemoteAddr) -> Result<(Vec<Pair>, bool), Error> {
        self.instance_attributes_up_to(obj, self.limits.length)
    }

    /// The attributes of an instance, at most `limit`.
    fn instance_attributes_up_to(&self, obj: RemoteAddr, limit: usize) -> Result<(Vec<Pair>, bool), Error> {
        let ty = objects::ob_type(self.mem, self.o, obj)?;
        let flags = self.mem.read_u64(self.at(ty, key::type_object::tp_flags)?)?;
        let split = |values: RemoteAddr| -> Result<(Vec<Pair>, bool), Error> {
            let keys = self.ptr(ty, key::type_ext::ht_cached_keys)?;
            self.keys_items(keys, Some(values), limit)
        };
        let dict_at = |d: RemoteAddr| -> Result<(Vec<Pair>, bool), Error> {
            if d.is_null() { Ok((Vec::new(), false)) } else { self.dict_items_up_to(d, limit) }
        };
        let pre = |off: u64| obj.0.checked_sub(off).map(RemoteAddr).ok_or(Error::Overflow(obj));
        match self.models.instance_dict {
            InstanceDictModel::DictOffset => {
                let off = self.mem.read_i64(self.at(ty, key::type_ext::dictoffset)?)?;
                if off == 0 {
                    return Ok((Vec::new(), false));
                }
                let slot = if off > 0 {
                    obj.offset(off as u64).ok_or(Error::Overflow(obj))?
                } else {
                    let basic = self.mem.read_i64(self.at(ty, key::type_ext::basicsize)?)?;
                    let item = self.mem.read_i64(self.at(ty, key::type_ext::itemsize)?)?;
                    let size = self.mem.read_i64(self.at(obj, key::object::ob_size)?)?.unsigned_abs() as i64;
                    let total = basic.saturating_add(size.saturating_mul(item)).saturating_add(off);
                    obj.offset_signed((total + 7) & !7).ok_or(Error::Overflow(obj))?
                };
                dict_at(self.mem.read_ptr(slot)?)
            }
            InstanceDictModel::PreHeader311 if flags & TPFLAGS_MANAGED_DICT != 0 => {
                let d = self.mem.read_ptr(pre(24)?)?;
                if !d.is_null() {
                    return self.dict_items_up_to(d, limit);
                }
                let values = self.mem.read_ptr(pre(32)?)?;
                if values.is_null() { Ok((Vec::new(), false)) } else { split(values) }
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
                    return self.dict_items_up_to(d, limit);
                }
                if flags & TPFLAGS_INLINE_VALUES == 0 {
                    return Ok((Vec::new(), false));
                }
                let basic = self.mem.read_u64(self.at(ty, key::type_ext::basicsize)?)?;
                let values = obj.offset(basic).ok_or(Error::Overflow(obj))?;
                let valid_off = need(self.o, key::dict::values_valid)?;
                if self.mem.read_u8(values.offset(valid_off).ok_or(Error::Overflow(values))?)? == 0 {
                    return Ok((Vec::new(), false));
                }
                split(values.offset(self.o.dict.values_values.unwrap_or(0)).ok_or(Error::Overflow(values))?)
            }
            _ => {
                // Not a managed dict: an explicit tp_dictoffset (e.g. exceptions).
                let off = self.mem.read_i64(self.at(ty, key::type_ext::dictoffset)?)?;
                if off <= 0 {
                    return Ok((Vec::new(), false));
                }
                dict_at(self.mem.read_ptr(obj.offset(off as u64).ok_or(Error::Overflow(obj))?)?)
            }
        }
    }

    fn instance(&self, obj: RemoteAddr, ty: RemoteAddr, _flags: u64, depth: usize, stack: &mut Vec<RemoteAddr>) -> Result<String, Error> {
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
            return default();
        }
        // An enum member (its class has `_member_map_`): `<Color.RED: 1>`.
        if self.class_attr(ty, "_member_map_").is_some() {
            let attr = |want: &str| attrs.iter().find(|&&(k, _)| objects::read_str(self.mem, self.o, k).ok().as_deref() == Some(want)).map(|&(_, v)| v);
            if let (Some(member), Some(value)) = (attr("_name_").and_then(|n| objects::read_name(self.mem, self.o, n).ok()), attr("_value_")) {
                let value = self.repr_at(value, depth + 1, stack);
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

/// Python's repr of a str: quotes chosen as CPython does, escapes for the backslash,
/// the quote, `\t \n \r`, and `\xNN`/`\uNNNN`/`\UNNNNNNNN` for non-printable code points.
pub fn str_repr(s: &str, max_chars: usize) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for (i, c) in s.chars().enumerate() {
        if i >= max_chars {
            out.push_str("...");
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let v = c as u32;
                let _ = if v <= 0xff {
                    write!(out, "\\x{v:02x}")
                } else if v <= 0xffff {
                    write!(out, "\\u{v:04x}")
                } else {
                    write!(out, "\\U{v:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

/// `str.isprintable()` for one code point, without Unicode tables: false for controls,
/// separators other than the space, format characters, surrogates and private use.
/// (Unassigned code points, which CPython also escapes, are not recognized.)
fn is_printable(c: char) -> bool {
    let v = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() {
        return false;
    }
    !matches!(v,
        0xA0 | 0xAD | 0x1680 | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x2064 | 0x2066..=0x206F
        | 0x3000 | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xD800..=0xDFFF | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xE0001 | 0xE0020..=0xE007F
        | 0x110BD | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A)
}

/// Python's repr of bytes contents (without the `b` prefix).
pub fn bytes_repr(b: &[u8], more: bool) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') { '"' } else { '\'' };
    let mut out = String::with_capacity(b.len() + 2);
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if char::from(c) == quote => {
                out.push('\\');
                out.push(char::from(c));
            }
            0x20..=0x7e => out.push(char::from(c)),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    if more {
        out.push_str("...");
    }
    out.push(quote);
    out
}

/// `complex.__repr__` (Objects/complexobject.c): `2j` when the real part is +0.0, else
/// `(1.5-2j)`; each part as `repr(float)` without the `.0` it adds to integral values.
pub fn complex_repr(real: f64, imag: f64) -> String {
    let part = |f: f64| {
        let r = float_repr(f);
        r.strip_suffix(".0").map(str::to_string).unwrap_or(r)
    };
    let im = part(imag);
    if real == 0.0 && real.is_sign_positive() {
        return format!("{im}j");
    }
    let sign = if im.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{im}j)", part(real))
}

/// Python's `repr(float)`: the shortest round-tripping digits, in fixed notation for
/// exponents −4..16 and scientific (`1e+16`) outside.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's shortest round-trip digits, as d.ddde±x.
    let sci = format!("{:e}", f);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits.clone() };
        format!("{sign}{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// Decimal string of a magnitude given as little-endian base-2^30 digits.
pub fn digits_to_decimal(digits: &[u32]) -> String {
    // Convert to base 10^9 by repeated multiply-add from the most significant digit.
    let mut chunks: Vec<u32> = vec![0]; // little-endian base 1e9
    for &d in digits.iter().rev() {
        let mut carry = u64::from(d);
        for c in chunks.iter_mut() {
            let v = (u64::from(*c) << 30) + carry;
            *c = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            chunks.push((carry % 1_000_000_000) as u32);
            carry /= 1_000_000_000;
        }
    }
    let mut s = String::new();
    let mut it = chunks.iter().rev();
    if let Some(first) = it.next() {
        let _ = write!(s, "{first}");
    }
    for c in it {
        let _ = write!(s, "{c:09}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complex_like_python() {
        // repr(complex(...)) in CPython.
        assert_eq!(complex_repr(1.5, -2.0), "(1.5-2j)");
        assert_eq!(complex_repr(0.0, 1.0), "1j");
        assert_eq!(complex_repr(-0.0, 1.0), "(-0+1j)");
        assert_eq!(complex_repr(1.0, 0.0), "(1+0j)");
        assert_eq!(complex_repr(0.0, -0.0), "-0j");
        assert_eq!(complex_repr(1e20, f64::INFINITY), "(1e+20+infj)");
        assert_eq!(complex_repr(f64::NAN, 2.5e-7), "(nan+2.5e-07j)");
    }

    #[test]
    fn floats_like_python() {
        for (f, want) in [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789.125, "123456789.125"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0.0"),
            (std::f64::consts::PI, "3.141592653589793"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(float_repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn strings_and_bytes_like_python() {
        assert_eq!(str_repr("it's", usize::MAX), "\"it's\"");
        assert_eq!(str_repr("a'b\"c", usize::MAX), "'a\\'b\"c'");
        assert_eq!(str_repr("tab\there\n\\", usize::MAX), "'tab\\there\\n\\\\'");
        assert_eq!(str_repr("\u{0}\u{7f}é\u{a0}\u{1F600}", usize::MAX), "'\\x00\\x7fé\\xa0\u{1F600}'");
        assert_eq!(str_repr("abcdef", 3), "'abc...'");
        assert_eq!(bytes_repr(b"a'\x00\xff", false), "\"a'\\x00\\xff\"");
    }

    #[test]
    fn big_ints_to_decimal() {
        assert_eq!(digits_to_decimal(&[]), "0");
        assert_eq!(digits_to_decimal(&[5]), "5");
        // 2**30 = [0, 1]
        assert_eq!(digits_to_decimal(&[0, 1]), "1073741824");
        // 2**90 = [0, 0, 0, 1]
        assert_eq!(digits_to_decimal(&[0, 0, 0, 1]), "1237940039285380274899124224");
    }
}
