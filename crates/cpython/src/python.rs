//! Walking a CPython runtime in target memory: interpreters → thread states → frames.
//!
//! Every walk is bounded and cycle-checked and says why it stopped; a broken link ends
//! that one walk with a [`Stop`] reason while everything read before it is kept.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use pycoroner_layouts::{key, Key, Layout, Offsets};
use pycoroner_process::{Memory, MemoryExt, RemoteAddr};

use crate::error::{need, Error};
use crate::models::{AnchorModel, FrameModel, FrameStart, GilModel, Models, StackRef};
use crate::objects;

/// Most interpreters we list.
pub const MAX_INTERPRETERS: usize = 1024;
/// Most thread states we list per interpreter.
pub const MAX_THREADS: usize = 100_000;
/// Most frames we walk per thread.
pub const MAX_FRAMES: usize = 1 << 16;

/// Addresses (already relocated) of the globals a walk starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Anchors {
    /// `_PyRuntime` (3.7+).
    pub runtime: Option<RemoteAddr>,
    /// The static `interp_head` variable (3.6, `.symtab` only).
    pub interp_head: Option<RemoteAddr>,
    /// `_PyThreadState_Current` (3.6).
    pub tstate_current: Option<RemoteAddr>,
    /// The static `gil_locked` variable (3.6).
    pub gil_locked: Option<RemoteAddr>,
    /// The static `gil_last_holder` variable (3.6).
    pub gil_last_holder: Option<RemoteAddr>,
    /// `PyCode_Type`, to check that a frame's code really is a code object.
    pub code_type: Option<RemoteAddr>,
    /// Statics of the interpreter state that older versions keep outside `_PyRuntime`.
    pub state: StateAnchors,
}

/// Static variables holding interpreter state in versions that have no `_PyRuntime`
/// field for it (`.symtab` only, so absent from stripped builds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateAnchors {
    /// `_PyGC_generation0` (3.6): points at the first of the static `generations`.
    pub gc_generation0: Option<RemoteAddr>,
    /// `_Py_Finalizing` (3.6): the thread state finalizing the runtime.
    pub finalizing: Option<RemoteAddr>,
    /// `exitfuncs` (3.6): `Py_AtExit`'s array.
    pub exitfuncs: Option<RemoteAddr>,
    /// `nexitfuncs` (3.6).
    pub nexitfuncs: Option<RemoteAddr>,
    /// `Handlers` (≤3.11): the signal module's handlers.
    pub signal_handlers: Option<RemoteAddr>,
    /// `is_tripped` (≤3.11).
    pub signals_tripped: Option<RemoteAddr>,
    /// `_Py_CheckRecursionLimit` (3.6, equal to the recursion limit).
    pub recursion_limit: Option<RemoteAddr>,
    /// gcmodule.c's `collecting` (3.6).
    pub gc_collecting: Option<RemoteAddr>,
    /// gcmodule.c's `enabled` (3.6).
    pub gc_enabled: Option<RemoteAddr>,
    /// gcmodule.c's `generation_stats` (3.6).
    pub gc_generation_stats: Option<RemoteAddr>,
    /// ceval.c's `pendingcalls` (3.6): `{func, arg}[32]`.
    pub pending_calls: Option<RemoteAddr>,
    /// ceval_gil.h's `gil_drop_request` (3.6).
    pub gil_drop_request: Option<RemoteAddr>,
    /// `_Py_RefTotal` (debug builds): the total reference count (≤3.11), a legacy
    /// part of it (3.12+).
    pub ref_total: Option<RemoteAddr>,
    /// object.c's `refchain` (≤3.11 `Py_TRACE_REFS` builds): the sentinel of the list
    /// of every live object.
    pub refchain: Option<RemoteAddr>,
    /// object.c's `last_final_reftotal` (3.12+ debug builds).
    pub last_final_reftotal: Option<RemoteAddr>,
    /// obmalloc.c's statics (≤3.11): `arenas`, `maxarenas`,
    /// `narenas_currently_allocated`, `ntimes_arena_allocated`, `narenas_highwater`.
    pub obmalloc: [Option<RemoteAddr>; 5],
    /// ceval.c's `pendingfirst` (3.6).
    pub pending_first: Option<RemoteAddr>,
    /// ceval.c's `pendinglast` (3.6).
    pub pending_last: Option<RemoteAddr>,
}

/// One interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterpreterState {
    /// Address of its `PyInterpreterState`.
    pub addr: RemoteAddr,
    /// `interp->id` (3.7+); 0 is the main interpreter.
    pub id: Option<i64>,
}

/// One thread state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadState {
    /// Address of its `PyThreadState`.
    pub addr: RemoteAddr,
    /// `thread_id`: the `pthread_t`, as faulthandler prints it.
    pub thread_id: u64,
    /// `native_thread_id` (3.11+): the kernel TID.
    pub native_thread_id: Option<u64>,
}

/// A code object, decoded once and shared by every frame running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// `co_filename`.
    pub filename: Result<String, Error>,
    /// `co_name`.
    pub name: Result<String, Error>,
    /// `co_qualname` (3.11+).
    pub qualname: Option<String>,
    /// `co_firstlineno`.
    pub firstlineno: i32,
    /// The line table bytes.
    pub table: Result<Vec<u8>, Error>,
    /// Start of the inline bytecode (3.11+).
    pub code_start: Option<RemoteAddr>,
}

/// One Python frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyFrame {
    /// Address of the frame structure.
    pub addr: RemoteAddr,
    /// Address of its code object.
    pub code: RemoteAddr,
    /// The decoded code object, or why it could not be read.
    pub info: Result<Rc<CodeInfo>, Error>,
    /// The line being executed, where CPython knows one.
    pub line: Option<i32>,
    /// True for the oldest frame of one C-level `_PyEval_EvalFrameDefault` call
    /// (every frame ≤3.10; `is_entry` in 3.11; the frame above a shim in 3.12+).
    pub entry: bool,
    /// For an entry frame: an address on the C stack of the eval call that ran its run
    /// (3.12+: the shim frame below it; 3.10–3.11: that call's `_PyCFrame`). The native
    /// splice matches the run to the eval-loop frame whose stack holds it.
    pub c_stack: Option<RemoteAddr>,
}

/// Why a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The chain ended normally (NULL link).
    End,
    /// A link pointed back to an element already visited.
    Cycle(RemoteAddr),
    /// A link could not be read.
    Broken(RemoteAddr, Error),
    /// The walk hit its cap.
    Cap(usize),
}

impl Stop {
    /// True when the walk ended normally.
    pub fn is_end(&self) -> bool {
        matches!(self, Stop::End)
    }
}

/// A frame walk's result: the frames read and why it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameWalk {
    /// Newest first.
    pub frames: Vec<PyFrame>,
    /// Why the walk ended.
    pub stop: Stop,
}

/// A CPython runtime in a target.
pub struct Python<'a> {
    pub(crate) mem: &'a dyn Memory,
    pub(crate) offsets: &'a Offsets,
    pub(crate) models: Models,
    pub(crate) anchors: Anchors,
    code_cache: RefCell<HashMap<RemoteAddr, Rc<CodeInfo>>>,
}

impl<'a> Python<'a> {
    /// A runtime over `mem` with a resolved layout, the models of its version, and anchors.
    pub fn new(mem: &'a dyn Memory, layout: &'a Layout, models: Models, anchors: Anchors) -> Python<'a> {
        Python { mem, offsets: &layout.offsets, models, anchors, code_cache: RefCell::new(HashMap::new()) }
    }

    /// The models in use.
    pub fn models(&self) -> Models {
        self.models
    }

    pub(crate) fn field(&self, base: RemoteAddr, key: Key) -> Result<RemoteAddr, Error> {
        base.offset(need(self.offsets, key)?).ok_or(Error::Overflow(base))
    }

    pub(crate) fn ptr(&self, base: RemoteAddr, key: Key) -> Result<RemoteAddr, Error> {
        Ok(self.mem.read_ptr(self.field(base, key)?)?)
    }

    /// Whether the garbage collector was running in this interpreter (`gc.collecting`:
    /// per interpreter from 3.9, in `_PyRuntime` 3.7–3.8). `None` where the layout has
    /// no such field or the word is neither 0 nor 1 (not what the layout says it is).
    pub fn gc_collecting(&self, interp: &InterpreterState) -> Option<bool> {
        let at = match (self.offsets.interp.gc_collecting, self.offsets.runtime.gc_collecting, self.anchors.runtime) {
            (Some(off), _, _) => interp.addr.offset(off)?,
            (None, Some(off), Some(rt)) => rt.offset(off)?,
            // 3.6: a static.
            _ => self.anchors.state.gc_collecting?,
        };
        match self.mem.read_u32(at).ok()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// The interpreter's `sys.modules` and `sys.__dict__`.
    pub fn sys_dicts(&self, interp: &InterpreterState) -> (Option<RemoteAddr>, Option<RemoteAddr>) {
        let get = |key| self.ptr(interp.addr, key).ok().filter(|a| !a.is_null());
        (get(key::interp::modules), get(key::interp::sysdict))
    }

    /// The head of the interpreter list.
    pub fn interpreters_head(&self) -> Result<RemoteAddr, Error> {
        match self.models.anchor {
            AnchorModel::Runtime => {
                let rt = self.anchors.runtime.ok_or(Error::MissingOffset("symbol _PyRuntime"))?;
                self.ptr(rt, key::runtime::interpreters_head)
            }
            AnchorModel::InterpHead => {
                if let Some(var) = self.anchors.interp_head {
                    return Ok(self.mem.read_ptr(var)?);
                }
                // Stripped 3.6: the GIL holder's interpreter.
                let cur = self.anchors.tstate_current.ok_or(Error::MissingOffset("symbol interp_head"))?;
                let ts = self.mem.read_ptr(cur)?;
                if ts.is_null() {
                    return Err(Error::Null("_PyThreadState_Current (no thread holds the GIL)"));
                }
                self.ptr(ts, key::tstate::interp)
            }
        }
    }

    /// Every interpreter, newest first as CPython lists them, and why the list ended.
    pub fn interpreters(&self) -> Result<(Vec<InterpreterState>, Stop), Error> {
        let head = self.interpreters_head()?;
        Ok(walk_list(head, MAX_INTERPRETERS, |cur, out| {
            let id = match self.offsets.interp.id {
                Some(off) => cur.offset(off).and_then(|a| self.mem.read_i64(a).ok()),
                None => None,
            };
            out.push(InterpreterState { addr: cur, id });
            self.ptr(cur, key::interp::next)
        }))
    }

    /// Every thread state of an interpreter, in list order (newest first).
    pub fn threads(&self, interp: &InterpreterState) -> Result<(Vec<ThreadState>, Stop), Error> {
        let head = self.ptr(interp.addr, key::interp::threads_head)?;
        Ok(walk_list(head, MAX_THREADS, |cur, out| {
            let owner = self.ptr(cur, key::tstate::interp)?;
            if owner != interp.addr {
                return Err(Error::Corrupt { what: "thread state (interp link does not match)", addr: cur });
            }
            let thread_id = self.mem.read_u64(self.field(cur, key::tstate::thread_id)?)?;
            let native_thread_id = match self.offsets.tstate.native_thread_id {
                Some(off) => Some(self.mem.read_u64(cur.offset(off).ok_or(Error::Overflow(cur))?)?),
                None => None,
            };
            out.push(ThreadState { addr: cur, thread_id, native_thread_id });
            self.ptr(cur, key::tstate::next)
        }))
    }

    /// The thread state holding the GIL of `interp`, if any thread holds it.
    pub fn gil_holder(&self, interp: &InterpreterState) -> Result<Option<RemoteAddr>, Error> {
        Ok(self.gil_state(interp)?.and_then(|(locked, holder)| (locked && !holder.is_null()).then_some(holder)))
    }

    /// Whether the GIL of `interp` is locked, and the thread state that held it last
    /// (the holder while it is locked); `None` where the build keeps no such record.
    pub fn gil_state(&self, interp: &InterpreterState) -> Result<Option<(bool, RemoteAddr)>, Error> {
        let (locked, holder) = match self.models.gil {
            GilModel::Static => match (self.anchors.gil_locked, self.anchors.gil_last_holder) {
                (Some(l), Some(h)) => (self.mem.read_u32(l)?, self.mem.read_ptr(h)?),
                _ => {
                    let cur = self.anchors.tstate_current.ok_or(Error::MissingOffset("symbol gil_locked"))?;
                    let ts = self.mem.read_ptr(cur)?;
                    return Ok(Some((!ts.is_null(), ts)));
                }
            },
            GilModel::Runtime => {
                let rt = self.anchors.runtime.ok_or(Error::MissingOffset("symbol _PyRuntime"))?;
                (self.mem.read_u32(self.field(rt, key::runtime::gil_locked)?)?, self.ptr(rt, key::runtime::gil_last_holder)?)
            }
            GilModel::PerInterpreter => {
                let gil = self.ptr(interp.addr, key::interp::ceval_gil)?;
                if gil.is_null() {
                    return Ok(None);
                }
                (self.mem.read_u32(self.field(gil, key::gil::locked)?)?, self.ptr(gil, key::gil::last_holder)?)
            }
        };
        Ok(Some((locked != 0, holder)))
    }

    /// ≤3.10: the opcode `delta` bytes after a frame's last instruction (`f_lasti`;
    /// 0 is the instruction running); `None` past the code's end or on 3.11+.
    pub fn legacy_opcode(&self, frame: RemoteAddr, delta: u64) -> Result<Option<u8>, Error> {
        let unit = match self.models.frame {
            FrameModel::Legacy { lasti_unit } => u64::from(lasti_unit),
            FrameModel::Interpreter { .. } => return Ok(None),
        };
        let Ok(lasti) = u64::try_from(self.mem.read_i32(self.field(frame, key::frame::lasti)?)?) else { return Ok(None) };
        let bytes = self.ptr(self.ptr(frame, key::frame::code)?, key::code::code)?;
        let at = lasti.checked_mul(unit).and_then(|b| b.checked_add(delta)).ok_or(Error::Overflow(frame))?;
        let size = u64::try_from(self.mem.read_i64(self.field(bytes, key::object::ob_size)?)?).unwrap_or(0);
        if at >= size {
            return Ok(None);
        }
        Ok(Some(self.mem.read_u8(self.field(bytes, key::bytes::sval)?.offset(at).ok_or(Error::Overflow(bytes))?)?))
    }

    /// The opcode of the instruction a frame runs: ≤3.10 at `f_lasti`, 3.11+ at the
    /// interpreter frame's instruction pointer (3.12+ a specialized or instrumented
    /// form may stand there); `None` where it cannot be told.
    pub fn current_opcode(&self, frame: &PyFrame) -> Result<Option<u8>, Error> {
        match self.models.frame {
            FrameModel::Legacy { .. } => self.legacy_opcode(frame.addr, 0),
            FrameModel::Interpreter { .. } => {
                let instr = self.ptr(frame.addr, key::iframe::instr)?;
                Ok(if instr.is_null() { None } else { Some(self.mem.read_u8(instr)?) })
            }
        }
    }

    /// A code object, decoded (cached).
    pub fn code(&self, code: RemoteAddr) -> Result<Rc<CodeInfo>, Error> {
        self.code_info(code)
    }

    fn code_info(&self, code: RemoteAddr) -> Result<Rc<CodeInfo>, Error> {
        if let Some(hit) = self.code_cache.borrow().get(&code) {
            return Ok(hit.clone());
        }
        if code.is_null() {
            return Err(Error::Null("code object"));
        }
        if let Some(ct) = self.anchors.code_type {
            if objects::ob_type(self.mem, self.offsets, code)? != ct {
                return Err(Error::WrongType { expected: "code object", addr: code });
            }
        }
        let s = |key: Key| -> Result<String, Error> {
            objects::read_name(self.mem, self.offsets, self.ptr(code, key)?)
        };
        let firstlineno = self.mem.read_i32(self.field(code, key::code::firstlineno)?)?;
        let table = self
            .ptr(code, key::code::linetable)
            .and_then(|t| objects::read_bytes(self.mem, self.offsets, t, objects::MAX_BYTES));
        let qualname = match self.offsets.code.qualname {
            Some(_) => s(key::code::qualname).ok(),
            None => None,
        };
        let code_start = match self.offsets.code.code_adaptive {
            Some(off) => Some(code.offset(off).ok_or(Error::Overflow(code))?),
            None => None,
        };
        let info = Rc::new(CodeInfo {
            filename: s(key::code::filename),
            name: s(key::code::name),
            qualname,
            firstlineno,
            table,
            code_start,
        });
        self.code_cache.borrow_mut().insert(code, info.clone());
        Ok(info)
    }

    fn line(&self, info: &CodeInfo, addr: i64) -> Option<i32> {
        let table = info.table.as_ref().ok()?;
        self.models.line_table.line_for(table, info.firstlineno, addr)
    }

    /// The newest frame pointer of a thread.
    fn first_frame(&self, ts: &ThreadState) -> Result<RemoteAddr, Error> {
        match self.models.frame {
            FrameModel::Legacy { .. } => self.ptr(ts.addr, key::tstate::frame),
            FrameModel::Interpreter { start: FrameStart::ViaCFrame, .. } => {
                let cf = self.ptr(ts.addr, key::tstate::cframe)?;
                if cf.is_null() {
                    return Ok(RemoteAddr::NULL);
                }
                self.ptr(cf, key::cframe::current_frame)
            }
            FrameModel::Interpreter { start: FrameStart::TState, .. } => self.ptr(ts.addr, key::tstate::current_frame),
        }
    }

    /// Walk a thread's Python frames, newest first.
    pub fn frames(&self, ts: &ThreadState) -> FrameWalk {
        let (mut frames, stop) = match self.first_frame(ts) {
            Ok(first) => walk_list(first, MAX_FRAMES, |cur, frames| self.step(cur, frames)),
            Err(e) => (Vec::new(), Stop::Broken(ts.addr, e)),
        };
        if stop.is_end() {
            self.anchor_runs_by_cframe(ts, &mut frames);
        }
        FrameWalk { frames, stop }
    }

    /// 3.10–3.11 (3.12 has its shims): each eval call keeps a C frame (`_PyCFrame`) on
    /// its own stack, chained from `tstate->cframe` through `previous` to the thread
    /// state's root one. The k-th of them, newest first, ran the k-th run of frames:
    /// its address goes to that run's entry frame, where the counts agree.
    fn anchor_runs_by_cframe(&self, ts: &ThreadState, frames: &mut [PyFrame]) {
        if frames.iter().any(|f| f.c_stack.is_some()) || self.offsets.cframe.previous.is_none() || self.offsets.tstate.cframe.is_none() {
            return;
        }
        let Ok(head) = self.ptr(ts.addr, key::tstate::cframe) else { return };
        // The root C frame lives in the thread state itself, not on a C stack, and ends
        // the chain (3.10 leaves its `previous` uninitialized).
        let end = ts.addr.0.saturating_add(self.offsets.tstate.size.unwrap_or(0));
        let is_root = |a: RemoteAddr| (ts.addr.0..end).contains(&a.0);
        let (chain, stop) = walk_list(head, MAX_FRAMES, |cur, out: &mut Vec<RemoteAddr>| {
            if is_root(cur) {
                return Ok(RemoteAddr::NULL);
            }
            out.push(cur);
            self.ptr(cur, key::cframe::previous)
        });
        if !stop.is_end() {
            return;
        }
        if chain.len() != frames.iter().filter(|f| f.entry).count() {
            return;
        }
        for (f, cf) in frames.iter_mut().filter(|f| f.entry).zip(chain) {
            f.c_stack = Some(cf);
        }
    }

    /// Decode the one frame at `addr` (a generator's or coroutine's) without following
    /// its links.
    pub fn frame_at(&self, addr: RemoteAddr) -> Result<PyFrame, Error> {
        let mut one = Vec::new();
        self.step(addr, &mut one)?;
        one.pop().ok_or(Error::Corrupt { what: "frame (an interpreter-internal one)", addr })
    }

    /// Decode the frame at `f` (pushing it unless it is a shim) and return the next link.
    fn step(&self, f: RemoteAddr, frames: &mut Vec<PyFrame>) -> Result<RemoteAddr, Error> {
        match self.models.frame {
            FrameModel::Legacy { lasti_unit } => {
                let code = self.ptr(f, key::frame::code)?;
                let lasti = self.mem.read_i32(self.field(f, key::frame::lasti)?)?;
                let info = self.code_info(code);
                let line = match &info {
                    Ok(i) => self.line(i, i64::from(lasti).saturating_mul(i64::from(lasti_unit))),
                    Err(_) => None,
                };
                frames.push(PyFrame { addr: f, code, info, line, entry: true, c_stack: None });
                self.ptr(f, key::frame::back)
            }
            FrameModel::Interpreter { shim_owner, has_is_entry, .. } => {
                let prev = self.ptr(f, key::iframe::previous)?;
                if let Some(shim) = shim_owner {
                    let owner = self.mem.read_u8(self.field(f, key::iframe::owner)?)?;
                    if owner >= shim {
                        // A C-stack shim: the frame pushed before it began that C call.
                        // The first shim below a frame is its eval call's entry frame
                        // (3.14+ ends each thread's chain in one more, its base frame).
                        if let Some(last) = frames.last_mut().filter(|l| l.c_stack.is_none()) {
                            last.entry = true;
                            last.c_stack = Some(f);
                        }
                        return Ok(prev);
                    }
                }
                let code = match StackRef::decode(self.ptr(f, key::iframe::code)?.0, self.models.stackrefs) {
                    StackRef::Object(c) => c,
                    StackRef::Int(_) => return Err(Error::Corrupt { what: "frame (code is a tagged int)", addr: f }),
                };
                let instr = self.ptr(f, key::iframe::instr)?;
                let info = self.code_info(code);
                let line = match &info {
                    Ok(i) => match i.code_start {
                        Some(start) => self.line(i, instr.0.wrapping_sub(start.0) as i64),
                        None => None,
                    },
                    Err(_) => None,
                };
                let entry = if has_is_entry {
                    self.mem.read_u8(self.field(f, key::iframe::is_entry)?)? != 0
                } else {
                    prev.is_null()
                };
                frames.push(PyFrame { addr: f, code, info, line, entry, c_stack: None });
                Ok(prev)
            }
        }
    }
}

/// Follow a linked list in target memory from `head` until a NULL link, a link seen
/// before, an error, or `cap` elements. `visit` decodes the element at an address
/// (pushing zero or more items) and returns the next link; an error ends the walk
/// there, keeping everything decoded before it.
fn walk_list<T>(
    head: RemoteAddr,
    cap: usize,
    mut visit: impl FnMut(RemoteAddr, &mut Vec<T>) -> Result<RemoteAddr, Error>,
) -> (Vec<T>, Stop) {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut cur = head;
    let stop = loop {
        if cur.is_null() {
            break Stop::End;
        }
        if !seen.insert(cur) {
            break Stop::Cycle(cur);
        }
        if seen.len() > cap {
            break Stop::Cap(cap);
        }
        match visit(cur, &mut out) {
            Ok(next) => cur = next,
            Err(e) => break Stop::Broken(cur, e),
        }
    };
    (out, stop)
}
