//! One walk of a runtime: every interpreter, its thread states, each thread's frame
//! chain and, on request, its exceptions and each frame's locals, read in a single
//! pass. The report, the native splice and later walks (heap, tasks) read this
//! snapshot instead of walking the target again.

use pycoroner_process::RemoteAddr;

use crate::error::Error;
use crate::locals::{Chained, Local, ThreadException};
use crate::python::{FrameWalk, InterpreterState, Python, Stop, ThreadState};

/// What a snapshot reads besides the frame chains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// Each frame's arguments, locals, cells and free variables, and each thread's
    /// exceptions.
    pub values: bool,
    /// The address of `PyCell_Type`, to tell a cell from a value.
    pub cell_type: Option<RemoteAddr>,
    /// The address of `None`, an empty exception slot in some versions.
    pub none: Option<RemoteAddr>,
}

/// The runtime as one walk saw it.
#[derive(Debug)]
pub struct Snapshot {
    /// Interpreters, newest first as CPython lists them.
    pub interpreters: Vec<InterpreterSnapshot>,
    /// Why the interpreter list ended.
    pub stop: Stop,
}

/// One interpreter and its threads.
#[derive(Debug)]
pub struct InterpreterSnapshot {
    /// The interpreter (its id numbered like CPython's when the build has none).
    pub state: InterpreterState,
    /// The thread state holding its GIL, or why that is unknown.
    pub gil_holder: Result<Option<RemoteAddr>, Error>,
    /// The thread state that held its GIL last (locked or not), where recorded: on an
    /// OS thread with several thread states, the innermost one when it last ran Python.
    pub gil_last_holder: Option<RemoteAddr>,
    /// Whether its collector was running, where readable.
    pub gc_collecting: Option<bool>,
    /// Its thread states in list order, each with its frames.
    pub threads: Vec<ThreadSnapshot>,
    /// Why the thread list ended (`Broken` at the interpreter when unreadable).
    pub thread_stop: Stop,
}

/// One thread state and what was read of it.
#[derive(Debug)]
pub struct ThreadSnapshot {
    /// The thread state.
    pub state: ThreadState,
    /// Its frame chain, newest first, and why the walk ended.
    pub walk: FrameWalk,
    /// Its exceptions, innermost first, each with its chain (with [`Want::values`]).
    pub exceptions: Option<Result<Vec<ExceptionSnapshot>, Error>>,
    /// One entry per frame of `walk` (with [`Want::values`]).
    pub locals: Vec<Result<Vec<Local>, Error>>,
}

/// An exception a thread raises or handles, and the exceptions it followed.
#[derive(Debug)]
pub struct ExceptionSnapshot {
    /// The exception and its state.
    pub exception: ThreadException,
    /// Its `__cause__`/`__context__` chain, newest first, or why it is unreadable.
    pub chain: Result<Vec<(Chained, RemoteAddr)>, Error>,
}

impl Python<'_> {
    /// Walk the runtime once. Every list and chain is bounded and cycle-checked; a
    /// broken link ends one walk with its reason and keeps what was read before it.
    pub fn snapshot(&self, want: Want) -> Result<Snapshot, Error> {
        let (interps, stop) = self.interpreters()?;
        let count = interps.len();
        let interpreters = interps
            .iter()
            .enumerate()
            // 3.6 has no interpreter ids: number them as CPython later does, main (the
            // oldest, last in the list) 0, each newer one more.
            .map(|(i, it)| InterpreterState { id: it.id.or_else(|| i64::try_from(count.checked_sub(i.checked_add(1)?)?).ok()), ..*it })
            .map(|state| {
                let (tstates, thread_stop) = self.threads(&state).unwrap_or_else(|e| (Vec::new(), Stop::Broken(state.addr, e)));
                let threads = tstates.into_iter().map(|ts| self.thread_snapshot(ts, want)).collect();
                let gil = self.gil_state(&state);
                InterpreterSnapshot {
                    gil_last_holder: gil.as_ref().ok().and_then(|g| g.map(|(_, h)| h)).filter(|h| !h.is_null()),
                    gil_holder: gil.map(|g| g.and_then(|(locked, h)| (locked && !h.is_null()).then_some(h))),
                    gc_collecting: self.gc_collecting(&state),
                    state,
                    threads,
                    thread_stop,
                }
            })
            .collect();
        Ok(Snapshot { interpreters, stop })
    }

    fn thread_snapshot(&self, state: ThreadState, want: Want) -> ThreadSnapshot {
        let walk = self.frames(&state);
        let (exceptions, locals) = if want.values {
            let exceptions = self.exceptions(&state, want.none).map(|excs| {
                excs.into_iter()
                    .map(|exception| ExceptionSnapshot { chain: self.exception_chain(exception.value, want.none), exception })
                    .collect()
            });
            (Some(exceptions), walk.frames.iter().map(|f| self.locals(f, want.cell_type)).collect())
        } else {
            (None, Vec::new())
        };
        ThreadSnapshot { state, walk, exceptions, locals }
    }
}
