//! Types: names (`tp_name`, qualified, `__module__`), kinds of built-in types.

#[allow(unused_imports)]
use super::*;

impl Renderer<'_> {
    pub(crate) fn kind_of(&self, obj: RemoteAddr) -> Option<Kind> {
        objects::ob_type(self.mem, self.o, obj).ok().and_then(|t| self.known.kind_of_type(t))
    }

    /// The type name of the object at `obj` (`tp_name`, or the heap type's qualname).
    pub fn type_name(&self, obj: RemoteAddr) -> Result<String, Error> {
        let ty = objects::ob_type(self.mem, self.o, obj)?;
        self.type_short_name(ty)
    }

    pub(super) fn type_short_name(&self, ty: RemoteAddr) -> Result<String, Error> {
        let flags = self.mem.read_u64(self.at(ty, key::type_object::tp_flags)?)?;
        if flags & TPFLAGS_HEAPTYPE != 0 {
            if let Ok(q) = self.ptr(ty, key::type_ext::ht_qualname).and_then(|q| objects::read_str(self.mem, self.o, q)) {
                return Ok(q);
            }
        }
        self.tp_name(ty)
    }

    /// A type's `tp_name` (`module.Name` for a built-in type of an extension module).
    pub(super) fn tp_name(&self, ty: RemoteAddr) -> Result<String, Error> {
        let name = self.mem.read_cstr(self.ptr(ty, key::type_object::tp_name)?, 256)?;
        Ok(String::from_utf8_lossy(&name).into_owned())
    }

    /// The kind of an object: its exact type if built in, else the built-in base its
    /// `tp_flags` subclass bits name (a subclass of `dict` renders like a dict).
    pub(super) fn kind(&self, ty: RemoteAddr) -> Result<(Option<Kind>, u64), Error> {
        let flags = self.mem.read_u64(self.at(ty, key::type_object::tp_flags)?)?;
        if let Some(k) = self.known.kind_of_type(ty) {
            return Ok((Some(k), flags));
        }
        Ok((None, flags))
    }

    /// `module.QualName` as `repr(type)` shows it.
    pub(crate) fn type_full_name(&self, ty: RemoteAddr) -> Result<String, Error> {
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

    /// The name of the type of the object at `obj` with its module
    /// (`myapp.models.Order`; built-in types bare), as the heap census names types.
    pub fn full_type_name(&self, obj: RemoteAddr) -> Result<String, Error> {
        let ty = objects::ob_type(self.mem, self.o, obj)?;
        self.type_full_name(ty)
    }

    /// A built-in method's name and the object it is bound to (`lock.acquire` gives
    /// `("acquire", lock)`); `None` for anything else.
    pub fn bound_builtin(&self, obj: RemoteAddr) -> Option<(String, RemoteAddr)> {
        let ty = objects::ob_type(self.mem, self.o, obj).ok()?;
        if self.kind(ty).ok()?.0 != Some(Kind::BuiltinFunction) {
            return None;
        }
        let def = self.ptr(obj, key::cfunction::ml).ok()?;
        let name = String::from_utf8(self.mem.read_cstr(self.ptr(def, key::methoddef::name).ok()?, 64).ok()?).ok()?;
        let slf = self.ptr(obj, key::cfunction::self_).ok()?;
        (!slf.is_null()).then_some((name, slf))
    }

    /// `<module.QualName object at 0x...>`: an object named by its type and address,
    /// as `object.__repr__` writes it.
    pub fn object_label(&self, obj: RemoteAddr) -> String {
        let name = objects::ob_type(self.mem, self.o, obj).and_then(|t| self.type_full_name(t)).unwrap_or_else(|_| "?".into());
        format!("<{name} object at {obj}>")
    }

    /// `type.__name__`: `tp_name` after its last dot.
    pub(super) fn type_name_attr(&self, ty: RemoteAddr) -> Result<String, Error> {
        let name = self.tp_name(ty)?;
        Ok(name.rsplit('.').next().unwrap_or(&name).to_string())
    }
}
