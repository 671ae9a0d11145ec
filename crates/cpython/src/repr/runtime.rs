//! Reads about the interpreter rather than one value: thread names from
//! `threading._active`, the extension modules faulthandler lists.

#[allow(unused_imports)]
use super::*;

impl Renderer<'_> {
    /// Names of the threads `threading` knows (`threading._active`: ident → Thread,
    /// whose `_name` is the name), read from an interpreter's `sys.modules`.
    /// Every thread is named, however many there are: the dicts are read whole.
    pub fn thread_names(&self, sys_modules: RemoteAddr) -> Vec<(u64, String)> {
        self.lookup();
        let Some(md_dict) = self.module_dict(sys_modules, "threading") else { return Vec::new() };
        let Some(active) = self.dict_lookup(md_dict, "_active") else { return Vec::new() };
        let Ok(pairs) = self.dict_items_all(active) else { return Vec::new() };
        pairs
            .iter()
            .filter_map(|&(ident, thread)| {
                let id = self.int_as_u64(ident)?;
                let name = objects::read_name(self.mem, self.o, self.attribute(thread, "_name")?).ok()?;
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
    pub(crate) fn module_dict(&self, sys_modules: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        let module = self.dict_lookup(sys_modules, name)?;
        self.ptr(module, key::module::dict).ok().filter(|d| !d.is_null())
    }

    /// Every (key, value) pair of a dict.
    pub(crate) fn dict_items_all(&self, dict: RemoteAddr) -> Result<Vec<Pair>, Error> {
        Ok(self.dict_items_up_to(dict, MAX_LOOKUP_ENTRIES)?.0)
    }

    /// An instance attribute by name, from the instance's dict or inline values.
    pub(crate) fn attribute(&self, obj: RemoteAddr, name: &str) -> Option<RemoteAddr> {
        let (attrs, _) = self.instance_attributes_up_to(obj, MAX_LOOKUP_ENTRIES).ok()?;
        attrs.iter().find_map(|&(k, v)| (self.str_key(k).as_deref() == Some(name)).then_some(v))
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
