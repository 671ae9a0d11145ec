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

use pycoroner_layouts::{key, Key, Offsets};
use pycoroner_process::{Memory, MemoryExt, RemoteAddr};

use crate::error::{need, Error};
use crate::models::{DictModel, InstanceDictModel, IntModel, Models};
use crate::objects;

mod containers;
mod instances;
pub mod libpython;
mod numbers;
mod runtime;
mod stdlib;
mod text;
mod types;

pub use runtime::{SysView, ThreadingThread};
pub use stdlib::LockState;
pub use text::{bytes_repr, complex_repr, digits_to_decimal, float_repr, str_repr};

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

    /// Read what the exported pointers among the symbols point to: `_PySet_Dummy` is a
    /// `PyObject *` variable holding the dummy key of deleted set entries (the object
    /// itself is static), so the variable's address is not the dummy.
    pub fn read_pointers(mut self, mem: &dyn Memory) -> KnownObjects {
        self.set_dummy = self.set_dummy.and_then(|var| mem.read_ptr(var).ok()).filter(|d| !d.is_null());
        self
    }

    /// The kind of a type object, if it is a built-in one we know.
    pub fn kind_of_type(&self, ty: RemoteAddr) -> Option<Kind> {
        self.types.get(&ty).copied()
    }

    /// The address of `None`.
    pub fn none(&self) -> Option<RemoteAddr> {
        self.singletons.iter().find_map(|(a, t)| (*t == "None").then_some(*a))
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
    pub(crate) mem: &'a dyn Memory,
    pub(crate) o: &'a Offsets,
    models: Models,
    pub(crate) known: &'a KnownObjects,
    limits: Limits,
    budget: Cell<usize>,
    /// Which standard-library type each type seen is, if any.
    std_types: std::cell::RefCell<HashMap<RemoteAddr, Option<stdlib::Std>>>,
    /// Modules looked up in a `sys.modules` dict: (dict, name) → the module.
    modules: std::cell::RefCell<HashMap<(RemoteAddr, String), Option<RemoteAddr>>>,
}

/// An attribute or dict entry: key and value addresses.
type Pair = (RemoteAddr, RemoteAddr);

impl<'a> Renderer<'a> {
    /// A renderer over `mem` with the interpreter's offsets, models and known objects.
    pub fn new(mem: &'a dyn Memory, o: &'a Offsets, models: Models, known: &'a KnownObjects, limits: Limits) -> Renderer<'a> {
        let limits = Limits { depth: limits.depth.min(MAX_DEPTH), ..limits };
        Renderer { mem, o, models, known, limits, budget: Cell::new(READ_BUDGET), std_types: Default::default(), modules: Default::default() }
    }

    pub(crate) fn at(&self, base: RemoteAddr, key: Key) -> Result<RemoteAddr, Error> {
        base.offset(need(self.o, key)?).ok_or(Error::Overflow(base))
    }

    fn ptr(&self, base: RemoteAddr, key: Key) -> Result<RemoteAddr, Error> {
        self.spend()?;
        Ok(self.mem.read_ptr(self.at(base, key)?)?)
    }

    fn spend(&self) -> Result<(), Error> {
        self.spend_n(1)
    }

    /// Spend `n` units of the read budget (a read of many entries costs more than one).
    fn spend_n(&self, n: usize) -> Result<(), Error> {
        let left = self.budget.get();
        if left == 0 || left < n {
            self.budget.set(0);
            return Err(Error::BudgetSpent);
        }
        self.budget.set(left.saturating_sub(n));
        Ok(())
    }

    /// True when `v` looks like PYMALLOC_DEBUG's pattern for freed memory.
    pub(crate) fn is_dead(&self, v: u64) -> bool {
        let b = u64::from(self.models.dead_byte);
        v == b * 0x0101_0101_0101_0101
    }

    /// `repr()` of the object at `obj`.
    pub fn repr(&self, obj: RemoteAddr) -> String {
        self.budget.set(READ_BUDGET);
        let mut stack = Vec::new();
        self.repr_at(obj, 0, &mut stack)
    }

    /// A C string of the target (a member's or a method's name), at most 256 bytes,
    /// `?` when it cannot be read.
    pub fn c_str(&self, at: RemoteAddr) -> String {
        self.mem.read_cstr(at, 256).map_or_else(|_| "?".into(), |b| String::from_utf8_lossy(&b).into_owned())
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
        // A built-in type known by its address is none of the standard library's (whose
        // names would be read: a static type's is in the binary's file, not the core).
        let exact = kind.is_some();
        let kind = kind.or_else(|| SUBCLASS_BITS.iter().find(|(bit, _)| flags & (1 << bit) != 0).map(|(_, k)| *k));
        let heap = flags & TPFLAGS_HEAPTYPE != 0;
        if let Some(std) = if exact { None } else { self.std_kind(ty) } {
            if let Some(s) = self.std_repr(obj, ty, std, depth, stack)? {
                return Ok(s);
            }
        }
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
                // `self` nests like a container's item: bounded by the depth limit, and a
                // method that is (or leads back to) its own `self` is a cycle.
                let s = if depth >= self.limits.depth || stack.contains(&obj) {
                    "...".to_string()
                } else {
                    stack.push(obj);
                    let s = self.repr_at(slf, depth.saturating_add(1), stack);
                    stack.pop();
                    s
                };
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
        let inner = body(self, depth.saturating_add(1), stack);
        stack.pop();
        Ok(format!("{open}{inner}{close}"))
    }
}
