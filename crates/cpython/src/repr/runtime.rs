//! Reads about the interpreter rather than one value: the threads `threading._active`
//! knows, the extension modules faulthandler lists, `sys`, `gc` and `atexit` state.

#[allow(unused_imports)]
use super::*;

impl Renderer<'_> {
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

    /// `PyModule_Check`: a module, or an instance of a subclass of `module`
    /// (`Some(false)` for anything else; `None` when the type chain is unreadable).
    pub(super) fn is_module(&self, obj: RemoteAddr) -> Option<bool> {
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
    pub(super) fn is_extension(&self, module: RemoteAddr) -> Option<bool> {
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
}

/// Reads by name for walks over the runtime's own objects (asyncio's task sets, a
/// loop's attributes): each starts a lookup budget of its own with [`Renderer::lookup`].
impl Renderer<'_> {
    /// Start one lookup: the reads that follow get the lookup budget.
    pub(crate) fn lookup(&self) {
        self.budget.set(LOOKUP_READ_BUDGET);
    }

    /// `sys.modules[name].__dict__`.
    pub fn module_dict(&self, sys_modules: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        let module = self.module_object(sys_modules, name)?;
        self.ptr(module, key::module::dict).ok().filter(|d| !d.is_null())
    }

    /// An environment variable as the process sees it now: from `os.environ`, whose
    /// `_data` dict (bytes to bytes) `os.environ[k] = v` keeps in step with the C
    /// environment, so a variable set after start (pytest's `PYTEST_CURRENT_TEST`) is
    /// there, where `/proc/PID/environ` shows only the initial block. `None` when `os`
    /// is not imported, the variable is not set, or the objects are not what they
    /// should be.
    pub fn environ_var(&self, sys_modules: RemoteAddr, name: &str) -> Option<String> {
        self.lookup();
        let os = self.module_dict(sys_modules, "os")?;
        let environ = self.dict_lookup(os, "environ")?;
        let (attrs, _) = self.instance_dict(environ, 64).ok()??;
        let data = self.pick_keys(attrs, &["_data"]).into_iter().next()??;
        let (pairs, _) = self.dict_items_up_to(data, 1 << 14).ok()?;
        for (k, v) in pairs {
            if self.kind_of(k) != Some(Kind::Bytes) {
                return None; // not os.environ's bytes-keyed data (Windows keys are str)
            }
            let size = self.mem.read_i64(self.at(k, key::object::ob_size).ok()?).ok()?;
            if usize::try_from(size).ok() != Some(name.len()) {
                continue;
            }
            let (key, _) = self.bytes_like(k, key::bytes::sval, false).ok()?;
            if key == name.as_bytes() {
                if self.kind_of(v) != Some(Kind::Bytes) {
                    return None;
                }
                let (value, more) = self.bytes_like(v, key::bytes::sval, false).ok()?;
                let mut text = String::from_utf8_lossy(&value).into_owned();
                if more {
                    text.push_str("...");
                }
                return Some(text);
            }
        }
        None
    }

    /// An object's reference count (`ob_refcnt`, as `sys.getrefcount` less its own
    /// argument), and whether it is immortal (3.12+).
    pub fn refcount(&self, obj: RemoteAddr) -> Option<(i64, bool)> {
        let n = self.mem.read_i64(self.at(obj, key::object::refcnt).ok()?).ok()?;
        let immortal = self.models.immortal_refcnt && (n as u32 as i32) < 0;
        Some((n, immortal))
    }

    /// Every module of `sys.modules` with its `__dict__`: `(name, dict)`.
    pub fn module_dicts(&self, sys_modules: RemoteAddr) -> Vec<(String, RemoteAddr)> {
        self.lookup();
        let Ok(pairs) = self.dict_items_all(sys_modules) else { return Vec::new() };
        pairs
            .into_iter()
            .filter(|(_, m)| self.kind_of(*m) == Some(Kind::Module))
            .filter_map(|(k, m)| {
                let d = self.mem.read_ptr(self.at(m, key::module::dict).ok()?).ok().filter(|d| !d.is_null())?;
                Some((self.str_key(k)?, d))
            })
            .collect()
    }

    /// Every (key, value) pair of a dict.
    pub fn dict_items_all(&self, dict: RemoteAddr) -> Result<Vec<Pair>, Error> {
        Ok(self.dict_items_up_to(dict, MAX_LOOKUP_ENTRIES)?.0)
    }

    /// An instance attribute by name, from the instance's dict or inline values.
    pub fn attribute(&self, obj: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        self.attributes(obj, &[name]).pop().flatten()
    }

    /// Several of an instance's own attributes, read in one pass over them.
    pub(crate) fn attributes(&self, obj: RemoteAddr, names: &[&str]) -> Vec<Option<RemoteAddr>> {
        match self.instance_attributes_up_to(obj, MAX_LOOKUP_ENTRIES) {
            Ok((attrs, _)) => self.pick_keys(attrs, names),
            Err(_) => vec![None; names.len()],
        }
    }

    /// An attribute as `getattr` finds a plain data attribute: the instance's own,
    /// else its class's or a base class's (up `tp_base`), such as the class-level
    /// defaults asyncio's `Future` keeps (`_state = 'PENDING'`).
    pub(crate) fn attribute_or_default(&self, obj: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        if let Some(v) = self.attribute(obj, name) {
            return Some(v);
        }
        let mut ty = objects::ob_type(self.mem, self.o, obj).ok()?;
        for _ in 0..MAX_TYPE_DEPTH {
            if ty.is_null() {
                return None;
            }
            if let Some(v) = self.class_attribute(ty, name) {
                return Some(v);
            }
            ty = self.ptr(ty, key::type_ext::base).ok()?;
        }
        None
    }

    /// An attribute of a class, from its own `__dict__` (not its bases').
    pub(crate) fn class_attribute(&self, ty: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        let dict = self.ptr(ty, key::type_ext::dict).ok().filter(|d| !d.is_null())?;
        self.dict_lookup(dict, name)
    }

    /// The items of a set, frozenset, list or tuple, at most `max`; (items, more).
    pub(crate) fn members(&self, obj: RemoteAddr, max: usize) -> Result<(Vec<RemoteAddr>, bool), Error> {
        match self.kind_of(obj) {
            Some(Kind::Set | Kind::FrozenSet) => self.set_items_up_to(obj, max),
            Some(k @ (Kind::List | Kind::Tuple)) => self.sequence_items_up_to(obj, k, max, 64 << 20),
            _ => Err(Error::WrongType { addr: obj, expected: "set or list" }),
        }
    }

    /// The names of a type and of its bases up `tp_base` (`module.QualName`, as
    /// `repr(type)` shows them), the type's own first.
    pub(crate) fn type_lineage(&self, ty: RemoteAddr) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = ty;
        for _ in 0..MAX_TYPE_DEPTH {
            if cur.is_null() {
                break;
            }
            match self.type_full_name(cur) {
                Ok(n) => out.push(n),
                Err(_) => break,
            }
            cur = match self.ptr(cur, key::type_ext::base) {
                Ok(b) => b,
                Err(_) => break,
            };
        }
        out
    }
}

/// A thread as `threading` knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadingThread {
    /// `ident` (the `_active` key).
    pub ident: u64,
    /// `name`.
    pub name: Option<String>,
    /// `daemon`.
    pub daemon: Option<bool>,
}

/// `sys` as a report shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysView {
    /// `repr(sys.argv)`.
    pub argv: Option<String>,
    /// `sys.executable`.
    pub executable: Option<String>,
    /// `sys.flags` as `(name, repr(value))`; empty when the names cannot be read.
    pub flags: Vec<(String, String)>,
    /// True when the flags' names were read from memory (not given).
    pub flag_names_read: bool,
    /// `repr(sys._xoptions)`, when not empty.
    pub xoptions: Option<String>,
}

/// Most items of a list in the state rendered one by one (`gc.callbacks`).
pub const MAX_STATE_ITEMS: usize = 64;
/// Most `sys.flags` fields read.
const MAX_FLAGS: usize = 64;
/// Longest `PyMemberDef` name read.
const MAX_MEMBER_NAME: usize = 64;

/// Reads of the interpreter's state kept in Python objects: `sys`, `gc`, `threading`,
/// `atexit`'s list (3.14+). Each starts its own lookup budget.
impl Renderer<'_> {
    /// `threading._active`: each thread's ident, name and daemon flag.
    pub fn threading_threads(&self, sys_modules: RemoteAddr) -> Vec<ThreadingThread> {
        self.lookup();
        let Some(md_dict) = self.module_dict(sys_modules, "threading") else { return Vec::new() };
        let Some(active) = self.dict_lookup(md_dict, "_active") else { return Vec::new() };
        let Ok(pairs) = self.dict_items_all(active) else { return Vec::new() };
        pairs
            .iter()
            .filter_map(|&(ident, thread)| {
                let ident = self.int_as_u64(ident)?;
                let found = self.attributes(thread, &["_name", "_daemonic"]);
                Some(ThreadingThread {
                    ident,
                    name: found.first().copied().flatten().and_then(|n| objects::read_name(self.mem, self.o, n).ok()),
                    daemon: found.get(1).copied().flatten().and_then(|d| self.truth(d)),
                })
            })
            .collect()
    }

    /// `True`/`False` (or an int 0/1) as a bool.
    fn truth(&self, obj: RemoteAddr) -> Option<bool> {
        match self.known.singleton(obj) {
            Some("True") => Some(true),
            Some("False") => Some(false),
            _ => self.int_as_u64(obj).map(|v| v != 0),
        }
    }

    /// `threading`'s trace and profile hooks for new threads: `(trace, profile)`
    /// reprs, each `None` when unset. `None` when `threading` is not imported.
    pub fn threading_hooks(&self, sys_modules: RemoteAddr) -> Option<(Option<String>, Option<String>)> {
        self.lookup();
        let md_dict = self.module_dict(sys_modules, "threading")?;
        let found = self.dict_lookup_many(md_dict, &["_trace_hook", "_profile_hook"]);
        let hook = |h: Option<&Option<RemoteAddr>>| h.copied().flatten().filter(|h| !h.is_null() && self.known.singleton(*h) != Some("None")).map(|h| self.repr(h));
        Some((hook(found.first()), hook(found.get(1))))
    }

    /// `gc.callbacks` (each repr, at most [`MAX_STATE_ITEMS`], then `...`) and
    /// `len(gc.garbage)`, from the `gc` module's dict.
    pub fn gc_lists(&self, sys_modules: RemoteAddr) -> Option<(Vec<String>, Option<u64>)> {
        self.lookup();
        let md_dict = self.module_dict(sys_modules, "gc")?;
        let found = self.dict_lookup_many(md_dict, &["callbacks", "garbage"]);
        let (callbacks, more) = found.first().copied().flatten().and_then(|c| self.members(c, MAX_STATE_ITEMS).ok()).unwrap_or_default();
        let garbage = found.get(1).copied().flatten().and_then(|g| self.length(g));
        let mut shown: Vec<String> = callbacks.into_iter().map(|c| self.repr(c)).collect();
        if more {
            shown.push("...".into());
        }
        Some((shown, garbage))
    }

    /// `gc.garbage`: its first `max` items and its length; `None` when `gc` is not
    /// imported or has no such list.
    pub fn gc_garbage(&self, sys_modules: RemoteAddr, max: usize) -> Option<(Vec<RemoteAddr>, u64)> {
        self.lookup();
        let md_dict = self.module_dict(sys_modules, "gc")?;
        let garbage = self.dict_lookup(md_dict, "garbage")?;
        let len = self.length(garbage)?;
        let (items, _) = self.members(garbage, max).ok()?;
        Some((items, len))
    }

    /// `len()` of a list or tuple (its `ob_size`).
    pub(crate) fn length(&self, obj: RemoteAddr) -> Option<u64> {
        if !matches!(self.kind_of(obj), Some(Kind::List | Kind::Tuple)) {
            return None;
        }
        u64::try_from(self.mem.read_i64(self.at(obj, key::object::ob_size).ok()?).ok()?).ok()
    }

    /// 3.14+'s `atexit` callbacks list: each `(func, args, kwargs)` tuple's items (the
    /// first `max`), in registration order (the list keeps the newest first).
    pub fn atexit_list(&self, list: RemoteAddr, max: usize) -> Result<Vec<(RemoteAddr, RemoteAddr, RemoteAddr)>, Error> {
        self.lookup();
        let (items, _) = self.members(list, max)?;
        items
            .into_iter()
            .rev()
            .filter(|i| self.known.singleton(*i) != Some("None"))
            .map(|t| {
                let (parts, _) = self.members(t, 4)?;
                match parts.as_slice() {
                    [f, a, k] => Ok((*f, *a, *k)),
                    [f, a] => Ok((*f, *a, RemoteAddr(0))),
                    _ => Err(Error::WrongType { addr: t, expected: "(func, args, kwargs) tuple" }),
                }
            })
            .collect()
    }

    /// `sys.flags` and `sys._xoptions`; `sys.argv` and `sys.executable` too when
    /// `with_argv` (memory no other part of a report touches: reading it is most of
    /// what the compact state costs). `flag_names`, when given and as many as the
    /// flags, are their names (string constants of the build, in its file: reading
    /// them opens it).
    pub fn sys_view(&self, sysdict: RemoteAddr, with_argv: bool, flag_names: Option<&[String]>) -> SysView {
        self.lookup();
        let found = self.dict_lookup_many(sysdict, &["argv", "executable", "flags", "_xoptions"]);
        let get = |i: usize| found.get(i).copied().flatten().filter(|_| with_argv || i >= 2);
        let argv = get(0).map(|a| self.repr(a));
        let executable = get(1).filter(|e| self.kind_of(*e) == Some(Kind::Str)).and_then(|e| objects::read_str(self.mem, self.o, e).ok());
        let (flags, flag_names_read) = get(2).map(|f| self.struct_seq(f, flag_names)).unwrap_or_default();
        let xoptions = get(3).filter(|x| self.dict_items_up_to(*x, 1).is_ok_and(|(items, _)| !items.is_empty())).map(|x| self.repr(x));
        SysView { argv, executable, flags, flag_names_read, xoptions }
    }

    /// A struct sequence's visible fields as `(name, repr(value))`: names from
    /// `names` when there are as many, else from its type's `tp_members` (then `true`),
    /// values from its items (like a tuple's).
    fn struct_seq(&self, obj: RemoteAddr, names: Option<&[String]>) -> (Vec<(String, String)>, bool) {
        (|| -> Option<(Vec<(String, String)>, bool)> {
            let n = usize::try_from(self.mem.read_i64(self.at(obj, key::object::ob_size).ok()?).ok()?).ok()?.min(MAX_FLAGS);
            let items = self.at(obj, key::tuple::item).ok()?;
            let names = match names.filter(|k| k.len() == n) {
                Some(k) => (k.to_vec(), false),
                None => {
                    let ty = objects::ob_type(self.mem, self.o, obj).ok()?;
                    let members = self.ptr(ty, key::type_ext::members).ok().filter(|m| !m.is_null())?;
                    let size = self.o.memberdef.size?;
                    let mut read = Vec::new();
                    for i in 0..n as u64 {
                        let def = members.offset(size.checked_mul(i)?)?;
                        let name_at = self.ptr(def, key::memberdef::name).ok().filter(|p| !p.is_null())?;
                        read.push(String::from_utf8_lossy(&self.mem.read_cstr(name_at, MAX_MEMBER_NAME).ok()?).into_owned());
                    }
                    (read, true)
                }
            };
            let mut out = Vec::new();
            for (i, name) in names.0.into_iter().enumerate() {
                let value = self.mem.read_ptr(items.offset((i as u64).checked_mul(8)?)?).ok()?;
                out.push((name, self.repr(value)));
            }
            Some((out, names.1))
        })()
        .unwrap_or_default()
    }

    /// Every extension module imported (C code with methods, as `_PyModule_IsExtension`
    /// says), with its `__file__` (none for one built into the interpreter).
    pub fn all_extension_modules(&self, sys_modules: RemoteAddr) -> Option<Vec<(String, Option<String>)>> {
        self.lookup();
        let (pairs, _) = self.dict_items_up_to(sys_modules, MAX_LOOKUP_ENTRIES).ok()?;
        let mut out = Vec::new();
        for (k, v) in pairs {
            if self.kind_of(k) != Some(Kind::Str) || self.is_module(v) != Some(true) || self.is_extension(v) != Some(true) {
                continue;
            }
            let Some(name) = self.str_key(k) else { continue };
            let file = self
                .ptr(v, key::module::dict)
                .ok()
                .filter(|d| !d.is_null())
                .and_then(|d| self.dict_lookup(d, "__file__"))
                .filter(|f| self.kind_of(*f) == Some(Kind::Str))
                .and_then(|f| objects::read_str(self.mem, self.o, f).ok());
            out.push((name, file));
        }
        Some(out)
    }
}

impl Renderer<'_> {
    /// A function's code object (`__code__`), when `obj` is a function.
    pub fn function_code(&self, obj: RemoteAddr) -> Option<RemoteAddr> {
        (self.kind_of(obj) == Some(Kind::Function)).then(|| self.ptr(obj, key::function::code).ok()).flatten().filter(|c| !c.is_null())
    }

    /// `sys.modules[name]`.
    pub fn module_object(&self, sys_modules: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        if let Some(hit) = self.modules.borrow().get(&(sys_modules, name.to_string())) {
            return *hit;
        }
        self.lookup();
        let found = self.dict_lookup(sys_modules, name);
        self.modules.borrow_mut().insert((sys_modules, name.to_string()), found);
        found
    }

    /// Look up several modules of a `sys.modules` dict in one pass over it, for the
    /// lookups by name that follow (each would be a pass of its own).
    pub fn prefetch_modules(&self, sys_modules: RemoteAddr, names: &[&str]) {
        self.lookup();
        let found = self.dict_lookup_many(sys_modules, names);
        let mut memo = self.modules.borrow_mut();
        for (name, m) in names.iter().zip(found) {
            memo.insert((sys_modules, (*name).to_string()), m);
        }
    }

    /// The address of `None`, when known.
    pub fn known_none(&self) -> Option<RemoteAddr> {
        self.known.none()
    }

    /// A dict with no items.
    pub fn is_empty_dict(&self, obj: RemoteAddr) -> bool {
        self.lookup();
        self.kind_of(obj) == Some(Kind::Dict) && self.dict_items_up_to(obj, 1).is_ok_and(|(items, _)| items.is_empty())
    }
}
