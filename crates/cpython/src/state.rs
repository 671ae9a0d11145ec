//! Interpreter state besides the frames, as raw addresses and numbers: the runtime's
//! finalizing thread, `Py_AtExit`'s functions, the reference tracer and signal
//! handlers; each interpreter's GIL settings, collector, `atexit` records, recursion
//! limit and `sys.monitoring` tools; each thread state's trace and profile functions.
//! Objects found here are rendered by the caller; C functions are symbolized by it.
//!
//! Every part is `None` when this version has no such thing, `Some(Err)` when it has it
//! and it could not be read.

use pycoroner_layouts::key;
use pycoroner_process::{MemoryExt, RemoteAddr};

use crate::error::{need, Error};
use crate::models::{AtexitModel, GcStatsModel};
use crate::python::{InterpreterState, Python, ThreadState};

/// `NEXITFUNCS`: the size of `Py_AtExit`'s array in every version.
pub const MAX_EXITFUNCS: u64 = 32;
/// `NSIG` on Linux: signals 1..=64.
pub const NSIG: usize = 65;
/// Each signal's `{int tripped; PyObject *func;}` (`Handlers` ≤3.11,
/// `_PyRuntime.signals.handlers` 3.12+: the same anonymous struct, so no DWARF name).
const HANDLER_SIZE: u64 = 16;
const HANDLER_FUNC: u64 = 8;
/// Most `atexit` callbacks read (each is rendered: three reprs).
pub const MAX_ATEXIT: usize = 256;
/// Most bytes one read of a state array takes.
const READ_CAP: u64 = 1 << 20;
/// `NPENDINGCALLS` of 3.6.
const PENDING_36: u64 = 32;
/// `PY_MONITORING_TOOL_IDS`.
pub const MONITORING_TOOLS: usize = 8;
/// `_PY_GIL_DROP_REQUEST_BIT` of a thread state's `eval_breaker` (3.13+).
const GIL_DROP_REQUEST_BIT: u64 = 1;

/// The runtime's own state.
#[derive(Debug, Default)]
pub struct RuntimeState {
    /// The thread state finalizing the runtime (NULL when not finalizing).
    pub finalizing: Option<Result<RemoteAddr, Error>>,
    /// `Py_AtExit`'s C functions, in registration order.
    pub exitfuncs: Option<Result<Vec<RemoteAddr>, Error>>,
    /// The reference tracer function (3.13+; NULL when none).
    pub ref_tracer: Option<Result<RemoteAddr, Error>>,
    /// Each signal's `(number, tripped, handler object)`, and `is_tripped`.
    pub signals: Option<Result<SignalsRaw, Error>>,
    /// The runtime's queue of pending calls `(func, arg)`, oldest first.
    pub pending: Option<Result<Vec<(RemoteAddr, RemoteAddr)>, Error>>,
}

/// One interpreter's state.
#[derive(Debug, Default)]
pub struct InterpreterRaw {
    /// `interp->finalizing` (3.8+).
    pub finalizing: Option<Result<bool, Error>>,
    /// `interp->_finalizing` (3.12+; NULL when not finalizing).
    pub finalizing_tstate: Option<Result<RemoteAddr, Error>>,
    /// The GIL's switch interval (µs).
    pub gil_interval: Option<Result<u64, Error>>,
    /// A pending request to drop the GIL (≤3.12).
    pub gil_drop_request: Option<Result<bool, Error>>,
    /// The collector.
    pub gc: Option<Result<GcRaw, Error>>,
    /// `atexit.register` records `(func, args, kwargs)` (3.10+; ≤3.9 through the
    /// module, see [`Python::atexit_module_records`]); 3.14+ the callbacks list.
    pub atexit: Option<Result<AtexitRaw, Error>>,
    /// `sys.getrecursionlimit()`.
    pub recursion_limit: Option<Result<i32, Error>>,
    /// `sys.monitoring` (3.12+): per event, the tools' bits; and each tool's name object.
    pub monitoring: Option<Result<MonitoringRaw, Error>>,
    /// The interpreter's queue of pending calls `(func, arg)`, oldest first (3.9+).
    pub pending: Option<Result<Vec<(RemoteAddr, RemoteAddr)>, Error>>,
}

/// Each signal's `(number, tripped, handler object)`, and whether any is tripped.
pub type SignalsRaw = (Vec<(i32, bool, RemoteAddr)>, bool);
/// Per event, a bit per tool; and each tool's name object (NULL or None when unused).
pub type MonitoringRaw = (Vec<u8>, Vec<RemoteAddr>);

/// The collector's numbers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcRaw {
    /// `enabled` (not readable on 3.6, a static).
    pub enabled: Option<bool>,
    /// `threshold` of each generation.
    pub thresholds: Vec<i32>,
    /// `count` of each generation.
    pub counts: Vec<i32>,
    /// Σ `generation_stats[i].uncollectable` (not readable on 3.6).
    pub uncollectable: Option<i64>,
}

/// Where an interpreter's `atexit` callbacks are.
#[derive(Debug, PartialEq, Eq)]
pub enum AtexitRaw {
    /// `(func, args, kwargs)` records.
    Records(Vec<(RemoteAddr, RemoteAddr, RemoteAddr)>),
    /// The callbacks list object (3.14+).
    List(RemoteAddr),
}

/// A thread state's C trace and profile functions and their objects.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tracing {
    /// `(c_tracefunc, c_traceobj)`.
    pub trace: (RemoteAddr, RemoteAddr),
    /// `(c_profilefunc, c_profileobj)`.
    pub profile: (RemoteAddr, RemoteAddr),
}

/// Where the collector's fields are.
pub(crate) struct GcAt {
    enabled: Option<RemoteAddr>,
    pub(crate) generations: RemoteAddr,
    stats: Option<RemoteAddr>,
    /// `permanent_generation` (3.7+).
    pub(crate) permanent: Option<RemoteAddr>,
}

/// The generations of every version have three.
pub(crate) const GENERATIONS: u64 = 3;

impl Python<'_> {
    fn rt(&self) -> Result<RemoteAddr, Error> {
        self.anchors.runtime.ok_or(Error::MissingOffset("symbol _PyRuntime"))
    }

    /// A field of `_PyRuntime` when the layout has it, else a static variable.
    fn runtime_or_static(&self, k: pycoroner_layouts::Key, fallback: Option<RemoteAddr>) -> Option<Result<RemoteAddr, Error>> {
        match (k.of(self.offsets), self.anchors.runtime, fallback) {
            (Some(_), Some(_), _) => Some(self.rt().and_then(|rt| self.field(rt, k))),
            (_, _, Some(var)) => Some(Ok(var)),
            _ => None,
        }
    }

    fn read_bool(&self, at: RemoteAddr) -> Result<bool, Error> {
        match self.mem.read_u32(at)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::Corrupt { what: "flag (neither 0 nor 1)", addr: at }),
        }
    }

    /// The runtime's finalizing thread, C exit functions, reference tracer and signals.
    pub fn runtime_state(&self) -> RuntimeState {
        let sa = self.anchors.state;
        let finalizing = self.runtime_or_static(key::runtime::finalizing, sa.finalizing).map(|at| Ok(self.mem.read_ptr(at?)?));
        let exitfuncs = match (self.runtime_or_static(key::runtime::exitfuncs, sa.exitfuncs), self.runtime_or_static(key::runtime::nexitfuncs, sa.nexitfuncs)) {
            (Some(funcs), Some(n)) => Some((|| {
                let funcs = funcs?;
                let n = u64::try_from(self.mem.read_i32(n?)?).ok().filter(|&n| n <= MAX_EXITFUNCS).ok_or(Error::Corrupt { what: "Py_AtExit count", addr: funcs })?;
                Ok(self.mem.read_ptrs(funcs, n, READ_CAP)?)
            })()),
            _ => None,
        };
        let ref_tracer = self.offsets.runtime.ref_tracer_func.map(|_| self.ptr(self.rt()?, key::runtime::ref_tracer_func));
        let signals = match (
            self.runtime_or_static(key::runtime::signal_handlers, sa.signal_handlers),
            self.runtime_or_static(key::runtime::signals_tripped, sa.signals_tripped),
        ) {
            (Some(handlers), Some(tripped)) => Some((|| {
                let bytes = self.mem.read_vec(handlers?, HANDLER_SIZE.saturating_mul(NSIG as u64), READ_CAP)?;
                let list = bytes
                    .chunks_exact(HANDLER_SIZE as usize)
                    .enumerate()
                    .skip(1)
                    .filter_map(|(n, c)| {
                        let tripped = u32::from_le_bytes(c.get(..4)?.try_into().ok()?) != 0;
                        let func = u64::from_le_bytes(c.get(HANDLER_FUNC as usize..)?.try_into().ok()?);
                        Some((i32::try_from(n).ok()?, tripped, RemoteAddr(func)))
                    })
                    .collect();
                Ok((list, self.mem.read_u32(tripped?)? != 0))
            })()),
            _ => None,
        };
        let pending = match (self.offsets.runtime.pending, self.anchors.runtime, sa.pending_calls, sa.pending_first, sa.pending_last) {
            (Some(_), Some(rt), ..) => Some(self.field(rt, key::runtime::pending).and_then(|p| self.pending_calls(p))),
            (None, _, Some(calls), Some(first), Some(last)) => Some((|| {
                let (first, last) = (self.mem.read_i32(first)?, self.mem.read_i32(last)?);
                let count = last.wrapping_sub(first).rem_euclid(PENDING_36 as i32);
                self.pending_ring(calls, 16, PENDING_36, first, count)
            })()),
            _ => None,
        };
        RuntimeState { finalizing, exitfuncs, ref_tracer, signals, pending }
    }

    /// A `struct _pending_calls`' queue, oldest first.
    fn pending_calls(&self, at: RemoteAddr) -> Result<Vec<(RemoteAddr, RemoteAddr)>, Error> {
        let o = &self.offsets.pending;
        let (calls_off, first_off) = (need(self.offsets, key::pending::calls)?, need(self.offsets, key::pending::first)?);
        let size = o.call_size.unwrap_or(16);
        // The ring's slots fill the space between `calls` and `first` (32 ≤3.12, 300 3.13+).
        let slots = first_off.checked_sub(calls_off).and_then(|b| b.checked_div(size)).ok_or(Error::Corrupt { what: "pending calls layout", addr: at })?;
        let first = self.mem.read_i32(self.field(at, key::pending::first)?)?;
        let count = match o.npending {
            Some(_) => self.mem.read_i32(self.field(at, key::pending::npending)?)?,
            None => self.mem.read_i32(self.field(at, key::pending::last)?)?.wrapping_sub(first).rem_euclid(i32::try_from(slots).unwrap_or(i32::MAX)),
        };
        self.pending_ring(self.field(at, key::pending::calls)?, size, slots, first, count)
    }

    fn pending_ring(&self, calls: RemoteAddr, size: u64, slots: u64, first: i32, count: i32) -> Result<Vec<(RemoteAddr, RemoteAddr)>, Error> {
        let (Ok(first), Ok(count)) = (u64::try_from(first), u64::try_from(count)) else {
            return Err(Error::Corrupt { what: "pending calls ring", addr: calls });
        };
        if first >= slots || count > slots {
            return Err(Error::Corrupt { what: "pending calls ring", addr: calls });
        }
        (0..count)
            .map(|i| {
                let slot = first.saturating_add(i).checked_rem(slots).unwrap_or(0);
                let at = calls.offset(slot.saturating_mul(size)).ok_or(Error::Overflow(calls))?;
                Ok((self.mem.read_ptr(at)?, self.mem.read_ptr(at.offset(8).ok_or(Error::Overflow(at))?)?))
            })
            .collect()
    }

    /// Where the collector's `enabled`, `generations` and `generation_stats` are: in its
    /// state per interpreter (3.9+) or in `_PyRuntime` (3.7–3.8); 3.6 keeps them as
    /// statics (the generations also through the exported `_PyGC_generation0`).
    pub(crate) fn gc_state_at(&self, interp: &InterpreterState) -> Option<Result<GcAt, Error>> {
        let in_state = |gc: RemoteAddr| -> Result<GcAt, Error> {
            Ok(GcAt {
                enabled: Some(self.field(gc, key::gc_state::enabled)?),
                generations: self.field(gc, key::gc_state::generations)?,
                stats: Some(self.field(gc, key::gc_state::generation_stats)?),
                permanent: key::gc_state::permanent_generation.of(self.offsets).map(|_| self.field(gc, key::gc_state::permanent_generation)).transpose()?,
            })
        };
        if let Some(off) = self.offsets.interp.gc {
            return Some(interp.addr.offset(off).ok_or(Error::Overflow(interp.addr)).and_then(in_state));
        }
        if self.offsets.runtime.gc.is_some() {
            return Some(self.rt().and_then(|rt| self.field(rt, key::runtime::gc)).and_then(in_state));
        }
        let sa = self.anchors.state;
        sa.gc_generation0.map(|var| Ok(GcAt { enabled: sa.gc_enabled, generations: self.mem.read_ptr(var)?, stats: sa.gc_generation_stats, permanent: None }))
    }

    fn gc_raw(&self, interp: &InterpreterState) -> Option<Result<GcRaw, Error>> {
        let at = self.gc_state_at(interp)?;
        Some((|| {
            let GcAt { enabled, generations, stats, .. } = at?;
            let size = need(self.offsets, key::gc_state::gen_size)?;
            let mut raw = GcRaw::default();
            for i in 0..GENERATIONS {
                let gen = generations.offset(size.saturating_mul(i)).ok_or(Error::Overflow(generations))?;
                raw.thresholds.push(self.mem.read_i32(self.field(gen, key::gc_state::gen_threshold)?)?);
                raw.counts.push(self.mem.read_i32(self.field(gen, key::gc_state::gen_count)?)?);
            }
            if let Some(enabled) = enabled {
                raw.enabled = Some(self.read_bool(enabled)?);
            }
            if let Some(stats) = stats {
                let mut total = 0i64;
                for s in self.gc_generation_stats(stats)? {
                    total = total.saturating_add(self.mem.read_i64(self.field(s, key::gc_state::stats_uncollectable)?)?);
                }
                raw.uncollectable = Some(total);
            }
            Ok(raw)
        })())
    }

    /// Each generation's `struct gc_generation_stats` as `gc.get_stats()` reads it, from
    /// the collector's `generation_stats` field at `field`.
    fn gc_generation_stats(&self, field: RemoteAddr) -> Result<Vec<RemoteAddr>, Error> {
        let size = need(self.offsets, key::gc_state::stats_size)?;
        let at = |base: RemoteAddr, n: u64| base.offset(size.saturating_mul(n)).ok_or(Error::Overflow(base));
        match self.models.gc_stats {
            GcStatsModel::Inline => (0..GENERATIONS).map(|i| at(field, i)).collect(),
            GcStatsModel::Rings { young, old } => {
                let mut ring = self.mem.read_ptr(field)?;
                let mut out = Vec::new();
                for g in 0..GENERATIONS {
                    let n = if g == 0 { young } else { old };
                    let index_at = at(ring, n)?;
                    let index = self.mem.read_u8(index_at)? as i8;
                    let index = u64::try_from(index).ok().filter(|&i| i < n).ok_or(Error::Corrupt { what: "gc stats ring index", addr: index_at })?;
                    out.push(at(ring, index)?);
                    // The next ring: past this one's index byte, 8-byte aligned.
                    let len = size.saturating_mul(n).saturating_add(8) & !7;
                    ring = ring.offset(len).ok_or(Error::Overflow(ring))?;
                }
                Ok(out)
            }
        }
    }

    /// `atexit` records of an array of `count` record pointers at `array`.
    fn atexit_records(&self, array: RemoteAddr, count: i32) -> Result<Vec<(RemoteAddr, RemoteAddr, RemoteAddr)>, Error> {
        // CPython grows the array as needed: a count past `MAX_ATEXIT` is read that far.
        let n = usize::try_from(count).map_err(|_| Error::Corrupt { what: "atexit callback count", addr: array })?.min(MAX_ATEXIT);
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for rec in self.mem.read_ptrs(array, n as u64, READ_CAP)? {
            // An unregistered callback leaves a NULL slot.
            if rec.is_null() {
                continue;
            }
            out.push((self.ptr(rec, key::atexit::record_func)?, self.ptr(rec, key::atexit::record_args)?, self.ptr(rec, key::atexit::record_kwargs)?));
        }
        Ok(out)
    }

    /// ≤3.9: the `atexit` records in the state (`md_state`) of the `atexit` module.
    pub fn atexit_module_records(&self, module: RemoteAddr) -> Result<Vec<(RemoteAddr, RemoteAddr, RemoteAddr)>, Error> {
        let state = self.ptr(module, key::module::state)?;
        if state.is_null() {
            return Err(Error::Null("atexit module state"));
        }
        let count = self.mem.read_i32(self.field(state, key::atexit::ncallbacks)?)?;
        self.atexit_records(self.ptr(state, key::atexit::callbacks)?, count)
    }

    fn atexit_raw(&self, interp: &InterpreterState) -> Option<Result<AtexitRaw, Error>> {
        match self.models.atexit {
            AtexitModel::ModuleState => None,
            AtexitModel::Interpreter => Some((|| {
                let st = self.field(interp.addr, key::interp::atexit)?;
                let count = self.mem.read_i32(self.field(st, key::atexit::ncallbacks)?)?;
                Ok(AtexitRaw::Records(self.atexit_records(self.ptr(st, key::atexit::callbacks)?, count)?))
            })()),
            AtexitModel::InterpreterList => Some((|| Ok(AtexitRaw::List(self.ptr(self.field(interp.addr, key::interp::atexit)?, key::atexit::callbacks)?)))()),
        }
    }

    /// 3.13+: a thread waiting for the GIL sets the drop request in the holder's
    /// `eval_breaker`, not in the interpreter.
    fn holder_drop_request(&self, interp: &InterpreterState) -> Result<bool, Error> {
        match self.gil_state(interp)? {
            Some((true, holder)) if !holder.is_null() => {
                Ok(self.mem.read_u64(self.field(holder, key::tstate::eval_breaker)?)? & GIL_DROP_REQUEST_BIT != 0)
            }
            _ => Ok(false),
        }
    }

    /// One interpreter's state. `gil` is the GIL this interpreter uses (3.12+: its
    /// `ceval.gil`; before, the runtime's).
    pub fn interpreter_raw(&self, interp: &InterpreterState) -> InterpreterRaw {
        let at = |k: pycoroner_layouts::Key| k.of(self.offsets).map(|_| self.field(interp.addr, k));
        let rt_at = |k: pycoroner_layouts::Key| k.of(self.offsets).map(|_| self.rt().and_then(|rt| self.field(rt, k)));
        let finalizing = at(key::interp::finalizing).map(|a| self.read_bool(a?));
        let finalizing_tstate = at(key::interp::finalizing_tstate).map(|a| Ok(self.mem.read_ptr(a?)?));
        let gil_interval = match (self.offsets.gil.interval, self.offsets.interp.ceval_gil) {
            (Some(_), Some(_)) => Some((|| {
                let gil = self.ptr(interp.addr, key::interp::ceval_gil)?;
                Ok(self.mem.read_u64(self.field(gil, key::gil::interval)?)?)
            })()),
            _ => rt_at(key::runtime::gil_interval).map(|a| Ok(self.mem.read_u64(a?)?)),
        };
        let gil_drop_request = at(key::interp::gil_drop_request)
            .or_else(|| rt_at(key::runtime::gil_drop_request))
            .or_else(|| self.anchors.state.gil_drop_request.map(Ok))
            .map(|a| self.read_bool(a?))
            .or_else(|| key::tstate::eval_breaker.of(self.offsets).map(|_| self.holder_drop_request(interp)));
        let recursion_limit = at(key::interp::recursion_limit)
            .or_else(|| rt_at(key::runtime::recursion_limit))
            .or_else(|| self.anchors.state.recursion_limit.map(Ok))
            .map(|a| Ok(self.mem.read_i32(a?)?));
        let monitoring = match (at(key::interp::monitors), at(key::interp::monitoring_tool_names)) {
            (Some(monitors), Some(names)) => Some((|| {
                let events = need(self.offsets, key::monitors::size)?.min(64);
                let tools = self.mem.read_vec(self.field(monitors?, key::monitors::tools)?, events, READ_CAP)?;
                let names = self.mem.read_ptrs(names?, MONITORING_TOOLS as u64, READ_CAP)?;
                Ok((tools, names))
            })()),
            _ => None,
        };
        InterpreterRaw {
            finalizing,
            finalizing_tstate,
            gil_interval,
            gil_drop_request,
            gc: self.gc_raw(interp),
            atexit: self.atexit_raw(interp),
            recursion_limit,
            monitoring,
            pending: at(key::interp::pending).map(|p| self.pending_calls(p?)),
        }
    }

    /// A code object's local `sys.monitoring` events (3.12+): per event, the tools'
    /// bits; empty when none were ever set on it. `None` before 3.12.
    pub fn code_local_events(&self, code: RemoteAddr) -> Option<Result<Vec<u8>, Error>> {
        self.offsets.monitors.code_data?;
        Some((|| {
            let data = self.ptr(code, key::monitors::code_data)?;
            if data.is_null() {
                return Ok(Vec::new());
            }
            let events = need(self.offsets, key::monitors::local_size)?.min(64);
            Ok(self.mem.read_vec(self.field(data, key::monitors::code_local)?, events, READ_CAP)?)
        })())
    }

    /// A thread state's C trace and profile functions and their objects.
    pub fn tracing(&self, ts: &ThreadState) -> Result<Tracing, Error> {
        Ok(Tracing {
            trace: (self.ptr(ts.addr, key::tstate::c_tracefunc)?, self.ptr(ts.addr, key::tstate::c_traceobj)?),
            profile: (self.ptr(ts.addr, key::tstate::c_profilefunc)?, self.ptr(ts.addr, key::tstate::c_profileobj)?),
        })
    }
}

/// The `sys.monitoring.get_events(tool)` mask from the per-event tool bits.
pub fn monitoring_events(tools: &[u8], tool: usize) -> u64 {
    tools
        .iter()
        .enumerate()
        .filter(|(e, bits)| *e < 64 && tool < 8 && (**bits >> tool) & 1 == 1)
        .fold(0u64, |m, (e, _)| m | (1u64 << e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitoring_events_gather_one_tool_s_bit_of_each_event() {
        // Tool 1 on PY_START (0) and LINE (5); tool 2 on LINE only.
        let tools = [0b010, 0, 0, 0, 0, 0b110, 0];
        assert_eq!(monitoring_events(&tools, 1), 0b100001);
        assert_eq!(monitoring_events(&tools, 2), 0b100000);
        assert_eq!(monitoring_events(&tools, 0), 0);
        assert_eq!(monitoring_events(&tools, 9), 0);
    }
}
