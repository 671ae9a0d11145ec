//! Objects written the way CPython's own gdb extension (`Tools/gdb/libpython.py`,
//! installed as `python3.X-gdb.py`) writes them, for users whose habits and scripts
//! expect that text: `<Foo(an_int=42) at remote 0x...>` for an instance,
//! `RuntimeError('boom',)`, `<built-in method id of module object at remote 0x...>`,
//! `<float at remote 0x...>` for any type the script has no writer for, frames as
//! `Frame 0x..., for file F, line N, in f (a=1)`, and the whole text cut at 1024
//! characters with `...(truncated)`.
//!
//! The script's rules, the same in every version 3.6–3.15, are followed exactly: which
//! writer is chosen by `tp_name` first, then `Py_TPFLAGS_HEAPTYPE`, then the fast
//! subclass bits of `tp_flags`; objects already written (in this whole text, not only
//! on the current path) are written `[...]`, `{...}`, `(...)`, `<...>`; a type that
//! cannot be read is `unknown`. Only the reading differs: it goes through this crate's
//! layouts, so it works on optimized and stripped builds.

use std::collections::HashSet;

#[allow(unused_imports)]
use super::*;

/// The script's `MAX_OUTPUT_LEN`: characters written before `...(truncated)`.
pub const MAX_OUTPUT_LEN: usize = 1024;

/// Nesting deeper than this is written `...`: every level writes at least one
/// character first, so the output limit already bounds it; this keeps the stack small
/// whatever the caller's limit.
const MAX_NESTING: usize = MAX_OUTPUT_LEN + 16;

/// Fast subclass bits of `tp_flags` the script tests, in its order.
const LONG_SUBCLASS: u64 = 1 << 24;
const LIST_SUBCLASS: u64 = 1 << 25;
const TUPLE_SUBCLASS: u64 = 1 << 26;
const BYTES_SUBCLASS: u64 = 1 << 27;
const UNICODE_SUBCLASS: u64 = 1 << 28;
const DICT_SUBCLASS: u64 = 1 << 29;

/// Longest bytes object read (the quote the script picks depends on all of it).
const MAX_BYTES_READ: u64 = 1 << 16;

/// `wrapperobject` (Objects/descrobject.c, unchanged 3.6–3.15): after the object
/// header, `descr` then `self`; its `PyWrapperDescrObject` has `d_base` after the
/// header and `PyDescr_COMMON`'s three pointers; `struct wrapperbase` starts with
/// `name`.
const WRAPPER_DESCR: u64 = 0;
const WRAPPER_SELF: u64 = 8;
const DESCR_BASE: u64 = 24;

/// A Python frame as the script writes one: `Frame 0x{address}, for file {file}, line
/// {line}, in {name} ({locals})`. Its locals are the plain ones (`co_nlocals` slots
/// that are bound), in slot order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameView {
    /// The address the script prints: the `PyFrameObject` (≤3.10) or the interpreter
    /// frame (3.11+, also for a frame object: its `f_frame`).
    pub address: u64,
    /// `co_filename`.
    pub file: String,
    /// The current line, if known (`?` otherwise).
    pub line: Option<u32>,
    /// `co_name`.
    pub name: String,
    /// Bound plain locals: name and object.
    pub locals: Vec<(String, RemoteAddr)>,
}

/// Finds the frame a frame object (`tp_name` `frame`) shows, for frames met as values.
pub type FrameLookup<'f> = &'f dyn Fn(RemoteAddr) -> Option<FrameView>;

/// The output limit was reached: stop writing.
#[derive(Debug)]
pub struct Truncated;

type Written = Result<(), Truncated>;

/// One text being written: its output so far, and the objects already written.
pub struct Writer<'w, 'a> {
    r: &'w Renderer<'a>,
    frames: Option<FrameLookup<'w>>,
    out: String,
    chars: usize,
    visited: HashSet<RemoteAddr>,
    depth: usize,
}

impl<'a> Renderer<'a> {
    /// The text CPython's gdb script prints for the object at `obj`.
    pub fn libpython_repr(&self, obj: RemoteAddr, frames: Option<FrameLookup<'_>>) -> String {
        self.libpython_text(frames, |w| w.object(obj))
    }

    /// The text CPython's gdb script prints for a frame (py-up, py-bt-full, a frame
    /// object), its locals written in the same text.
    pub fn libpython_frame(&self, frame: &FrameView, frames: Option<FrameLookup<'_>>) -> String {
        self.libpython_text(frames, |w| w.frame(frame))
    }

    /// Write one text with `f`, cut at [`MAX_OUTPUT_LEN`] as the script cuts it.
    pub fn libpython_text(&self, frames: Option<FrameLookup<'_>>, f: impl FnOnce(&mut Writer<'_, 'a>) -> Written) -> String {
        self.budget.set(READ_BUDGET);
        let mut w = Writer { r: self, frames, out: String::new(), chars: 0, visited: HashSet::new(), depth: 0 };
        match f(&mut w) {
            Ok(()) => w.out,
            Err(Truncated) => w.out + "...(truncated)",
        }
    }
}

impl Renderer<'_> {
    fn read_i64_at(&self, obj: RemoteAddr, key: Key) -> Result<i64, Error> {
        Ok(self.mem.read_i64(self.at(obj, key)?)?)
    }
}

impl Writer<'_, '_> {
    /// Append text, as the script's `TruncatedStringIO.write`: past the limit, keep
    /// what fits and stop.
    pub fn text(&mut self, s: &str) -> Written {
        let n = s.chars().count();
        if self.chars.saturating_add(n) > MAX_OUTPUT_LEN {
            let fits = MAX_OUTPUT_LEN.saturating_sub(self.chars);
            self.out.extend(s.chars().take(fits));
            self.chars = MAX_OUTPUT_LEN;
            return Err(Truncated);
        }
        self.out.push_str(s);
        self.chars = self.chars.saturating_add(n);
        Ok(())
    }

    /// Items worth reading for what is left of the output (each takes a character).
    fn room(&self) -> usize {
        MAX_OUTPUT_LEN.saturating_sub(self.chars).saturating_add(1)
    }

    /// `tp_name` as the script's `safe_tp_name`: `unknown` when unreadable.
    fn safe_tp_name(&self, obj: RemoteAddr) -> String {
        objects::ob_type(self.r.mem, self.r.o, obj).and_then(|t| self.r.tp_name(t)).unwrap_or_else(|_| "unknown".into())
    }

    fn generic(&mut self, obj: RemoteAddr) -> Written {
        let name = self.safe_tp_name(obj);
        self.text(&format!("<{name} at remote {:#x}>", obj.0))
    }

    /// First visit of `obj` in this text (the script never forgets one).
    fn first_visit(&mut self, obj: RemoteAddr) -> bool {
        self.visited.insert(obj)
    }

    /// Write the object at `obj`.
    pub fn object(&mut self, obj: RemoteAddr) -> Written {
        if obj.is_null() {
            return self.text("0x0");
        }
        if self.depth >= MAX_NESTING {
            return self.text("...");
        }
        self.depth = self.depth.saturating_add(1);
        let done = self.dispatch(obj);
        self.depth = self.depth.saturating_sub(1);
        done
    }

    fn dispatch(&mut self, obj: RemoteAddr) -> Written {
        let r = self.r;
        let read = objects::ob_type(r.mem, r.o, obj)
            .and_then(|ty| Ok((r.tp_name(ty)?, r.mem.read_u64(r.at(ty, key::type_object::tp_flags)?)?)));
        let Ok((name, flags)) = read else {
            return self.generic(obj);
        };
        match name.as_str() {
            "bool" => return self.int(obj, |v| if v == "0" { "False".into() } else { "True".into() }),
            "NoneType" => return self.text("None"),
            "frame" => return self.frame_object(obj),
            "set" | "frozenset" => return self.set(obj, &name),
            "builtin_function_or_method" => return self.cfunction(obj),
            "method-wrapper" => return self.wrapper(obj),
            _ => {}
        }
        if flags & TPFLAGS_HEAPTYPE != 0 {
            return self.instance(obj, &name);
        }
        if flags & LONG_SUBCLASS != 0 {
            self.int(obj, |v| v)
        } else if flags & LIST_SUBCLASS != 0 {
            self.sequence(obj, Kind::List)
        } else if flags & TUPLE_SUBCLASS != 0 {
            self.sequence(obj, Kind::Tuple)
        } else if flags & BYTES_SUBCLASS != 0 {
            self.bytes(obj)
        } else if flags & UNICODE_SUBCLASS != 0 {
            match objects::read_str(r.mem, r.o, obj) {
                Ok(s) => self.text(&str_repr(&s, usize::MAX)),
                Err(_) => self.generic(obj),
            }
        } else if flags & DICT_SUBCLASS != 0 {
            self.dict(obj)
        } else if flags & TPFLAGS_BASE_EXC_SUBCLASS != 0 {
            self.exception(obj, &name)
        } else {
            self.generic(obj)
        }
    }

    fn int(&mut self, obj: RemoteAddr, shown: impl FnOnce(String) -> String) -> Written {
        match self.r.int_value(obj) {
            Ok(v) => self.text(&shown(v)),
            Err(_) => self.generic(obj),
        }
    }

    fn bytes(&mut self, obj: RemoteAddr) -> Written {
        let r = self.r;
        let data = r.read_i64_at(obj, key::object::ob_size).ok().and_then(|n| u64::try_from(n).ok()).and_then(|n| {
            let at = r.at(obj, key::bytes::sval).ok()?;
            if n == 0 {
                return Some(Vec::new());
            }
            r.mem.read_vec(at, n.min(MAX_BYTES_READ), MAX_BYTES_READ).ok()
        });
        match data {
            Some(d) => self.text(&format!("b{}", bytes_repr(&d, false))),
            None => self.generic(obj),
        }
    }

    /// Write `items` separated by `, `.
    fn items(&mut self, items: &[RemoteAddr]) -> Written {
        for (i, &item) in items.iter().enumerate() {
            if i > 0 {
                self.text(", ")?;
            }
            self.object(item)?;
        }
        Ok(())
    }

    fn sequence(&mut self, obj: RemoteAddr, kind: Kind) -> Written {
        let (open, close, cycle) = if kind == Kind::List { ("[", "]", "[...]") } else { ("(", ")", "(...)") };
        if !self.first_visit(obj) {
            return self.text(cycle);
        }
        let size = self.r.read_i64_at(obj, key::object::ob_size);
        let Ok((items, _)) = self.r.sequence_items_up_to(obj, kind, self.room(), 1 << 20) else {
            return self.generic(obj);
        };
        self.text(open)?;
        self.items(&items)?;
        if kind == Kind::Tuple && size.ok() == Some(1) {
            self.text(",")?;
        }
        self.text(close)
    }

    fn dict(&mut self, obj: RemoteAddr) -> Written {
        if !self.first_visit(obj) {
            return self.text("{...}");
        }
        let Ok((pairs, _)) = self.r.dict_items_up_to(obj, self.room()) else {
            return self.generic(obj);
        };
        self.text("{")?;
        for (i, &(k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                self.text(", ")?;
            }
            self.object(k)?;
            self.text(": ")?;
            self.object(v)?;
        }
        self.text("}")
    }

    /// The script's `PySetObjectPtr.write_repr`, which emulates `set_repr`.
    fn set(&mut self, obj: RemoteAddr, name: &str) -> Written {
        if !self.first_visit(obj) {
            return self.text("(...)");
        }
        let r = self.r;
        let Ok(used) = r.read_i64_at(obj, key::set::used) else {
            return self.generic(obj);
        };
        if used == 0 {
            return self.text(&format!("{name}()"));
        }
        let Ok((keys, _)) = r.set_items_up_to(obj, self.room()) else {
            return self.generic(obj);
        };
        if name != "set" {
            self.text(&format!("{name}("))?;
        }
        self.text("{")?;
        self.items(&keys)?;
        self.text("}")?;
        if name != "set" {
            self.text(")")?;
        }
        Ok(())
    }

    /// A heap type's instance: `<Name(attr=value, ...) at remote 0x...>`, the
    /// parentheses only when it has an attribute dict (or inline values).
    fn instance(&mut self, obj: RemoteAddr, name: &str) -> Written {
        if !self.first_visit(obj) {
            return self.text("<...>");
        }
        let attrs = self.r.instance_dict(obj, self.room()).ok().flatten();
        self.text("<")?;
        self.text(name)?;
        if let Some((pairs, _)) = attrs {
            self.text("(")?;
            for (i, &(k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    self.text(", ")?;
                }
                match objects::read_name(self.r.mem, self.r.o, k) {
                    Ok(s) => self.text(&s)?,
                    Err(_) => self.object(k)?,
                }
                self.text("=")?;
                self.object(v)?;
            }
            self.text(")")?;
        }
        self.text(&format!(" at remote {:#x}>", obj.0))
    }

    /// A built-in exception: its `tp_name`, then its `args` tuple.
    fn exception(&mut self, obj: RemoteAddr, name: &str) -> Written {
        if !self.first_visit(obj) {
            return self.text("(...)");
        }
        let Ok(args) = self.r.ptr(obj, key::exception::args) else {
            return self.generic(obj);
        };
        self.text(name)?;
        self.object(args)
    }

    fn cfunction(&mut self, obj: RemoteAddr) -> Written {
        let r = self.r;
        let read = r.ptr(obj, key::cfunction::ml).and_then(|ml| {
            let name = r.mem.read_cstr(r.ptr(ml, key::methoddef::name)?, 256)?;
            Ok((String::from_utf8(name).unwrap_or_else(|_| "<ml_name:UnicodeDecodeError>".into()), r.ptr(obj, key::cfunction::self_)?))
        });
        let Ok((name, slf)) = read else {
            return self.generic(obj);
        };
        if slf.is_null() {
            return self.text(&format!("<built-in function {name}>"));
        }
        let owner = self.safe_tp_name(slf);
        self.text(&format!("<built-in method {name} of {owner} object at remote {:#x}>", slf.0))
    }

    /// `<method-wrapper '__init__' of MyList object at 0x...>` (no "remote": the
    /// script's own wording).
    fn wrapper(&mut self, obj: RemoteAddr) -> Written {
        let r = self.r;
        let header = need(r.o, key::float::fval).ok();
        let word = |at: Option<u64>| at.and_then(|a| r.mem.read_ptr(RemoteAddr(a)).ok());
        let descr = word(header.and_then(|h| obj.0.checked_add(h)?.checked_add(WRAPPER_DESCR)));
        let slf = word(header.and_then(|h| obj.0.checked_add(h)?.checked_add(WRAPPER_SELF)));
        let name = descr
            .filter(|d| !d.is_null())
            .and_then(|d| word(header.and_then(|h| d.0.checked_add(h)?.checked_add(DESCR_BASE))))
            .filter(|b| !b.is_null())
            .and_then(|b| word(Some(b.0)))
            .and_then(|n| r.mem.read_cstr(n, 256).ok())
            .and_then(|n| String::from_utf8(n).ok())
            .map_or_else(|| "<unknown name>".to_string(), |n| str_repr(&n, usize::MAX));
        let (owner, at) = match slf {
            Some(s) if !s.is_null() => {
                let owner = objects::ob_type(r.mem, r.o, s).and_then(|t| r.tp_name(t)).unwrap_or_else(|_| "<unknown tp_name>".into());
                (owner, format!("{:#x}", s.0))
            }
            _ => ("<unknown tp_name>".into(), "<failed to get self address>".into()),
        };
        self.text(&format!("<method-wrapper {name} of {owner} object at {at}>"))
    }

    fn frame_object(&mut self, obj: RemoteAddr) -> Written {
        match self.frames.and_then(|f| f(obj)) {
            Some(view) => self.frame(&view),
            None => self.generic(obj),
        }
    }

    /// `Frame 0x..., for file F, line N, in NAME (a=1, b=2)`.
    pub fn frame(&mut self, f: &FrameView) -> Written {
        let line = f.line.map_or_else(|| "?".to_string(), |l| l.to_string());
        self.text(&format!("Frame {:#x}, for file {}, line {line}, in {} (", f.address, f.file, f.name))?;
        for (i, (name, value)) in f.locals.iter().enumerate() {
            if i > 0 {
                self.text(", ")?;
            }
            self.text(name)?;
            self.text("=")?;
            self.object(*value)?;
        }
        self.text(")")
    }
}
