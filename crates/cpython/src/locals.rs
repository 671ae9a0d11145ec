//! A frame's arguments, locals, cell and free variables, and a thread's exceptions.

use pycoroner_layouts::key;
use pycoroner_process::{MemoryExt, RemoteAddr};

use crate::error::{need, Error};
use crate::models::{LocalsModel, StackRef};
use crate::objects;
use crate::python::{PyFrame, Python, ThreadState};

/// What a local slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    /// A parameter.
    Arg,
    /// A plain local variable.
    Local,
    /// A cell variable (captured by an inner function).
    Cell,
    /// A free variable (captured from an outer function).
    Free,
}

/// One bound variable of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// Its name.
    pub name: String,
    /// Arg, local, cell or free.
    pub kind: LocalKind,
    /// The object bound to it (a cell's contents, not the cell).
    pub value: RemoteAddr,
    /// 3.14+: the slot held a tagged small int rather than an object.
    pub tagged_int: Option<i64>,
}

/// An exception a thread is raising or handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadException {
    /// In flight, or being handled.
    pub state: ExceptionState,
    /// The exception object.
    pub value: RemoteAddr,
}

/// Where an exception is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionState {
    /// Being raised (in flight).
    Raised,
    /// Being handled (in an `except` or `finally` block).
    Handled,
}

/// How an exception follows the one before it in a chain, as a traceback says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chained {
    /// `raise ... from earlier`: `__cause__`.
    Cause,
    /// Raised while `earlier` was handled: `__context__` (unless suppressed).
    Context,
}

/// Most exceptions one chain lists (CPython's traceback has no limit but stops at a
/// cycle; so does this walk).
pub const MAX_CHAIN: usize = 64;

/// Most variables we list per frame.
const MAX_LOCALS: u64 = 4096;
/// Most value-stack slots read from one frame.
const MAX_STACK: u64 = 4096;
/// Most handled-exception stack items we follow.
const MAX_EXC_ITEMS: usize = 64;

// co_flags (Include/cpython/code.h).
const CO_VARARGS: u32 = 0x4;
const CO_VARKEYWORDS: u32 = 0x8;
// co_localspluskinds (Include/internal/pycore_code.h, 3.11+).
const KIND_HIDDEN: u8 = 0x10;
const KIND_CELL: u8 = 0x40;
const KIND_FREE: u8 = 0x80;

impl Python<'_> {
    fn tuple_strings(&self, tuple: RemoteAddr, limit: u64) -> Result<Vec<String>, Error> {
        let size = self.mem.read_i64(self.field(tuple, key::object::ob_size)?)?;
        let n = u64::try_from(size).map_err(|_| Error::Corrupt { what: "tuple size", addr: tuple })?.min(limit);
        let items = self.field(tuple, key::tuple::item)?;
        let mut out = Vec::new();
        for i in 0..n {
            let item = self.mem.read_ptr(i.checked_mul(8).and_then(|o| items.offset(o)).ok_or(Error::Overflow(items))?)?;
            out.push(objects::read_name(self.mem, self.offsets, item).unwrap_or_else(|_| "?".into()));
        }
        Ok(out)
    }

    fn n_args(&self, code: RemoteAddr) -> Result<u64, Error> {
        let argc = self.mem.read_i32(self.field(code, key::code_vars::argcount)?)?;
        let kwonly = self.mem.read_i32(self.field(code, key::code_vars::kwonlyargcount)?)?;
        let flags = self.mem.read_u32(self.field(code, key::code_vars::flags)?)?;
        let extra = u64::from(flags & CO_VARARGS != 0).saturating_add(u64::from(flags & CO_VARKEYWORDS != 0));
        Ok(u64::try_from(argc).unwrap_or(0).saturating_add(u64::try_from(kwonly).unwrap_or(0)).saturating_add(extra))
    }

    fn deref_cell(&self, v: RemoteAddr, cell_type: Option<RemoteAddr>) -> Result<RemoteAddr, Error> {
        if v.is_null() {
            return Ok(v);
        }
        match cell_type {
            Some(ct) if objects::ob_type(self.mem, self.offsets, v)? == ct => self.ptr(v, key::cell::obj),
            Some(_) => Ok(v), // 3.11+: a cell slot not yet turned into a cell holds the value
            None => self.ptr(v, key::cell::obj),
        }
    }

    /// The objects on a frame's value stack, bottom first: all `co_stacksize` slots
    /// (3.14+: up to the saved stack pointer when it lies among them). The running
    /// frame of a thread does not record its stack top before 3.14, so slots above it
    /// may hold objects already popped: a caller must check what it finds.
    pub fn value_stack(&self, frame: &PyFrame) -> Result<Vec<RemoteAddr>, Error> {
        let code = frame.code;
        let size = u64::try_from(self.mem.read_i32(self.field(code, key::code_vars::stacksize)?)?).unwrap_or(0).min(MAX_STACK);
        let (base, size) = match self.models.locals {
            LocalsModel::VarNames => (self.ptr(frame.addr, key::frame::valuestack)?, size),
            LocalsModel::LocalsPlus => {
                let names = self.ptr(code, key::code_vars::localsplusnames)?;
                let n = u64::try_from(self.mem.read_i64(self.field(names, key::object::ob_size)?)?).map_err(|_| Error::Corrupt { what: "tuple size", addr: names })?;
                let base = n.checked_mul(8).and_then(|o| self.field(frame.addr, key::iframe::localsplus).ok()?.offset(o)).ok_or(Error::Overflow(frame.addr))?;
                let size = match key::iframe::stackpointer.of(self.offsets) {
                    Some(_) => {
                        let sp = self.ptr(frame.addr, key::iframe::stackpointer)?;
                        sp.0.checked_sub(base.0).map(|b| b / 8).filter(|n| *n <= size).unwrap_or(size)
                    }
                    None => size,
                };
                (base, size)
            }
        };
        let slots = self.mem.read_ptrs(base, size, MAX_STACK * 8)?;
        Ok(slots
            .into_iter()
            .filter_map(|raw| match StackRef::decode(raw.0, self.models.stackrefs) {
                StackRef::Object(v) if !v.is_null() => Some(v),
                _ => None,
            })
            .collect())
    }

    /// The bound variables of a frame, in slot order (arguments first). Unbound ones
    /// are left out. `cell_type` is `PyCell_Type`, to tell cells from raw values.
    pub fn locals(&self, frame: &PyFrame, cell_type: Option<RemoteAddr>) -> Result<Vec<Local>, Error> {
        let code = frame.code;
        let nargs = self.n_args(code)?;
        let mut out = Vec::new();
        match self.models.locals {
            LocalsModel::VarNames => {
                let nlocals = u64::try_from(self.mem.read_i32(self.field(code, key::code_vars::nlocals)?)?).unwrap_or(0);
                let names = self.tuple_strings(self.ptr(code, key::code_vars::varnames)?, nlocals.min(MAX_LOCALS))?;
                let cells = self.tuple_strings(self.ptr(code, key::code_vars::cellvars)?, MAX_LOCALS)?;
                let frees = self.tuple_strings(self.ptr(code, key::code_vars::freevars)?, MAX_LOCALS)?;
                let slots = self.field(frame.addr, key::frame_vars::localsplus)?;
                let all = names
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (n, if (i as u64) < nargs { LocalKind::Arg } else { LocalKind::Local }))
                    .chain(cells.into_iter().map(|n| (n, LocalKind::Cell)))
                    .chain(frees.into_iter().map(|n| (n, LocalKind::Free)));
                for (i, (name, kind)) in all.enumerate() {
                    let v = self.mem.read_ptr((i as u64).checked_mul(8).and_then(|o| slots.offset(o)).ok_or(Error::Overflow(slots))?)?;
                    let v = if matches!(kind, LocalKind::Cell | LocalKind::Free) { self.deref_cell(v, None)? } else { v };
                    if !v.is_null() {
                        out.push(Local { name, kind, value: v, tagged_int: None });
                    }
                }
            }
            LocalsModel::LocalsPlus => {
                let names = self.tuple_strings(self.ptr(code, key::code_vars::localsplusnames)?, MAX_LOCALS)?;
                let kinds = objects::read_bytes(self.mem, self.offsets, self.ptr(code, key::code_vars::localspluskinds)?, MAX_LOCALS)?;
                let slots = self.field(frame.addr, key::iframe::localsplus)?;
                for (i, (name, k)) in names.into_iter().zip(kinds).enumerate() {
                    if k & KIND_HIDDEN != 0 {
                        continue;
                    }
                    let raw = self.mem.read_u64((i as u64).checked_mul(8).and_then(|o| slots.offset(o)).ok_or(Error::Overflow(slots))?)?;
                    let v = match StackRef::decode(raw, self.models.stackrefs) {
                        StackRef::Object(v) => v,
                        StackRef::Int(n) => {
                            let kind = if (i as u64) < nargs { LocalKind::Arg } else { LocalKind::Local };
                            out.push(Local { name, kind, value: RemoteAddr(raw), tagged_int: Some(n) });
                            continue;
                        }
                    };
                    let kind = if (i as u64) < nargs {
                        LocalKind::Arg
                    } else if k & KIND_FREE != 0 {
                        LocalKind::Free
                    } else if k & KIND_CELL != 0 {
                        LocalKind::Cell
                    } else {
                        LocalKind::Local
                    };
                    let v = if k & (KIND_CELL | KIND_FREE) != 0 { self.deref_cell(v, cell_type)? } else { v };
                    if !v.is_null() {
                        out.push(Local { name, kind, value: v, tagged_int: None });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The exception a thread is raising, then those it is handling (innermost first).
    pub fn exceptions(&self, ts: &ThreadState, none: Option<RemoteAddr>) -> Result<Vec<ThreadException>, Error> {
        let mut out = Vec::new();
        let real = |v: RemoteAddr| !v.is_null() && Some(v) != none;
        let raised_key = if self.offsets.exc.current_exception.is_some() { key::exc::current_exception } else { key::exc::curexc_value };
        let raised = self.ptr(ts.addr, raised_key)?;
        if real(raised) {
            out.push(ThreadException { state: ExceptionState::Raised, value: raised });
        }
        if self.offsets.exc.exc_info.is_none() {
            // 3.6: the handled exception lives in the thread state itself.
            let v = self.ptr(ts.addr, key::exc::tstate_exc_value)?;
            if real(v) {
                out.push(ThreadException { state: ExceptionState::Handled, value: v });
            }
            return Ok(out);
        }
        let mut item = self.ptr(ts.addr, key::exc::exc_info)?;
        let value_off = need(self.offsets, key::exc::item_value)?;
        for _ in 0..MAX_EXC_ITEMS {
            if item.is_null() {
                break;
            }
            let v = self.mem.read_ptr(item.offset(value_off).ok_or(Error::Overflow(item))?)?;
            if real(v) {
                out.push(ThreadException { state: ExceptionState::Handled, value: v });
            }
            item = self.ptr(item, key::exc::item_previous)?;
        }
        Ok(out)
    }

    /// The exceptions `exc` followed, as a traceback prints them (newest first): its
    /// `__cause__` if set, else its `__context__` unless `__suppress_context__`; then
    /// the same for that one, until none is left, a cycle, or [`MAX_CHAIN`].
    pub fn exception_chain(&self, exc: RemoteAddr, none: Option<RemoteAddr>) -> Result<Vec<(Chained, RemoteAddr)>, Error> {
        let real = |v: RemoteAddr| !v.is_null() && Some(v) != none;
        let suppress_off = need(self.offsets, key::exception::suppress_context)?;
        let mut out = Vec::new();
        let mut seen = vec![exc];
        let mut cur = exc;
        while out.len() < MAX_CHAIN {
            let cause = self.ptr(cur, key::exception::cause)?;
            let next = if real(cause) {
                (Chained::Cause, cause)
            } else {
                let context = self.ptr(cur, key::exception::context)?;
                let suppressed = self.mem.read_u8(cur.offset(suppress_off).ok_or(Error::Overflow(cur))?)? != 0;
                if !real(context) || suppressed {
                    break;
                }
                (Chained::Context, context)
            };
            if seen.contains(&next.1) {
                break;
            }
            seen.push(next.1);
            out.push(next);
            cur = next.1;
        }
        Ok(out)
    }
}
