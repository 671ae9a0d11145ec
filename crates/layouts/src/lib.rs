//! Data only: the flat table of CPython offsets that every reader in pycoroner goes
//! through (`offsets.tstate.next`), in the spirit of CPython 3.13's `_Py_DebugOffsets`
//! but a superset of it, covering 3.6 onwards.
//!
//! Every field is an `Option<u64>`: a field a version does not have stays `None`, and a
//! reader that needs it asks through [`Offsets::get`] by its dotted key, which names the
//! field in the error. Tables are filled from DWARF (or, later, the target's own
//! `_Py_DebugOffsets` and built-in tables) by the CPython model; this crate holds no
//! CPython logic.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Target bytes decide sizes and offsets here: no unchecked arithmetic, no panicking index.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

use serde::{Deserialize, Serialize};

pub mod builtin;
pub mod debug_offsets;
pub mod dwarf;

macro_rules! offsets_table {
    ($( $(#[$gdoc:meta])* $group:ident : $gty:ident { $( $(#[$fdoc:meta])* $field:ident ),* $(,)? } )*) => {
        $(
            $(#[$gdoc])*
            #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
            pub struct $gty {
                $( $(#[$fdoc])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<u64>, )*
            }
        )*

        /// The flat offsets table: one group per CPython struct.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct Offsets {
            $( $(#[$gdoc])* #[serde(default)] pub $group: $gty, )*
        }

        impl Offsets {
            /// Every dotted key of the table, in declaration order.
            pub const KEYS: &'static [&'static str] = &[ $( $( concat!(stringify!($group), ".", stringify!($field)), )* )* ];

            /// A field by its dotted key (`"tstate.next"`).
            pub fn get(&self, key: &str) -> Option<u64> {
                match key {
                    $( $( concat!(stringify!($group), ".", stringify!($field)) => self.$group.$field, )* )*
                    _ => None,
                }
            }

            /// Set a field by its dotted key; returns false for an unknown key.
            pub fn set(&mut self, key: &str, value: Option<u64>) -> bool {
                match key {
                    $( $( concat!(stringify!($group), ".", stringify!($field)) => { self.$group.$field = value; true } )* )*
                    _ => false,
                }
            }
        }

        /// Every field of the table as a typed constant (`key::tstate::next`): a reader
        /// names the field it needs by one of these, so a misspelt key does not compile.
        #[allow(non_upper_case_globals)]
        pub mod key {
            $(
                $(#[$gdoc])*
                pub mod $group {
                    use super::super::{Key, Offsets};
                    $(
                        $(#[$fdoc])*
                        pub const $field: Key = Key {
                            name: concat!(stringify!($group), ".", stringify!($field)),
                            get: |o: &Offsets| o.$group.$field,
                            set: |o: &mut Offsets, v: Option<u64>| o.$group.$field = v,
                        };
                    )*
                }
            )*
        }
    };
}

/// One field of the offsets table, named for errors and reached without a lookup.
#[derive(Clone, Copy)]
pub struct Key {
    /// Its dotted name (`tstate.next`).
    pub name: &'static str,
    /// Read it from a table.
    pub get: fn(&Offsets) -> Option<u64>,
    /// Write it into a table.
    pub set: fn(&mut Offsets, Option<u64>),
}

impl Key {
    /// The field's offset in `o`, if this build has it.
    pub fn of(self, o: &Offsets) -> Option<u64> {
        (self.get)(o)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.name == other.name
    }
}

offsets_table! {
    /// `_PyRuntimeState` (3.7+).
    runtime: Runtime {
        /// `interpreters.head`.
        interpreters_head,
        /// `object_state.interpreter_leaks` (3.12+ debug builds): references left by
        /// interpreters already finalized.
        reftotal_leaks,
        /// `interpreters.main`.
        interpreters_main,
        /// `gilstate.tstate_current` (3.7–3.11): the tstate holding the GIL.
        tstate_current,
        /// `ceval.gil.locked` (3.7–3.11).
        gil_locked,
        /// `ceval.gil.last_holder` (3.7–3.11).
        gil_last_holder,
        /// `gc.collecting` (3.7–3.8, an `int`; per interpreter from 3.9).
        gc_collecting,
        /// `gc` (3.7–3.8): the collector's `_gc_runtime_state` (per interpreter from 3.9).
        gc,
        /// `sizeof(_PyRuntimeState)`.
        size,
        /// The thread state finalizing the runtime (`finalizing` ≤3.8, `_finalizing`
        /// 3.9+).
        finalizing,
        /// `Py_AtExit`'s C functions (`exitfuncs` ≤3.11, `atexit.callbacks` 3.12+).
        exitfuncs,
        /// How many there are (`nexitfuncs`, `atexit.ncallbacks`; an `int`).
        nexitfuncs,
        /// `ceval.gil.interval` (3.7–3.11): the switch interval in microseconds.
        gil_interval,
        /// `ceval.gil_drop_request` (3.7–3.8, an `int`; per interpreter 3.9–3.12).
        gil_drop_request,
        /// `ceval.recursion_limit` (3.7–3.8; per interpreter from 3.9).
        recursion_limit,
        /// `signals.handlers` (3.12+): `{int tripped; PyObject *func}` per signal
        /// (≤3.11 the static `Handlers` array of the same shape).
        signal_handlers,
        /// `signals.is_tripped` (3.12+; ≤3.11 the static `is_tripped`).
        signals_tripped,
        /// `ref_tracer.tracer_func` (3.13+): the installed `PyRefTracer`.
        ref_tracer_func,
        /// `ref_tracer.tracer_data` (3.13+).
        ref_tracer_data,
        /// The runtime's pending calls: `ceval.pending` (3.7–3.8) or
        /// `ceval.pending_mainthread` (3.12+, where `Py_AddPendingCall` queues).
        pending,
    }
    /// `PyInterpreterState` (`struct _is`).
    interp: Interp {
        /// `obmalloc` (3.12: the allocator's state itself; 3.13+: a pointer to it).
        obmalloc,
        /// `object_state.reftotal` (3.12+ debug builds): this interpreter's share of
        /// `sys.gettotalrefcount()`.
        reftotal,
        /// `object_state.refchain` (3.12+ `Py_TRACE_REFS` builds): 3.12 the sentinel of
        /// the list of every live object, 3.13+ a pointer to a table of them.
        refchain,
        /// `next`.
        next,
        /// Thread list head (`tstate_head` ≤3.10, `threads.head` 3.11+).
        threads_head,
        /// `id` (3.7+).
        id,
        /// `ceval.gil` (3.12+): pointer to the GIL this interpreter uses.
        ceval_gil,
        /// `sys.modules` (`modules` ≤3.11, `imports.modules` 3.12+).
        modules,
        /// `sysdict`: the `sys` module's dict.
        sysdict,
        /// `gc.collecting` (3.9+, an `int`): a collection is running.
        gc_collecting,
        /// `gc` (3.9+): the collector's `_gc_runtime_state`.
        gc,
        /// `finalizing` (3.8+, an `int`): this interpreter is being finalized.
        finalizing,
        /// `_finalizing` (3.12+): the thread state finalizing it.
        finalizing_tstate,
        /// `atexit` (3.10+): the `atexit` module's callbacks (≤3.9 in the module's state).
        atexit,
        /// `ceval.recursion_limit` (3.9+).
        recursion_limit,
        /// `ceval.gil_drop_request` (3.9–3.12, an `int`).
        gil_drop_request,
        /// `monitors` (3.12+): the `_Py_GlobalMonitors` of `sys.monitoring`.
        monitors,
        /// `monitoring_tool_names` (3.12+): `PyObject *[8]`, each a str or NULL.
        monitoring_tool_names,
        /// `ceval.pending` (3.9+): this interpreter's pending calls.
        pending,
        /// `asyncio_tasks_head` (3.14+): native tasks of threads that have exited.
        asyncio_tasks_head,
        /// `sizeof(PyInterpreterState)`.
        size,
    }
    /// `struct _gil_runtime_state` (3.12+, reached through `interp.ceval_gil`).
    gil: Gil {
        /// `locked`.
        locked,
        /// `last_holder`.
        last_holder,
        /// `interval`: the switch interval in microseconds (`sys.getswitchinterval()`).
        interval,
    }
    /// `struct _gc_runtime_state`: the garbage collector (in `_PyRuntime` 3.7–3.8, per
    /// interpreter from 3.9; 3.6 keeps the same fields as statics).
    gc_state: GcState {
        /// `enabled` (an `int`).
        enabled,
        /// `generations`: `struct gc_generation[3]`.
        generations,
        /// `generation_stats`: `struct gc_generation_stats[3]`.
        generation_stats,
        /// `gc_generation.threshold` (an `int`).
        gen_threshold,
        /// `gc_generation.count` (an `int`).
        gen_count,
        /// `sizeof(struct gc_generation)`.
        gen_size,
        /// `gc_generation_stats.uncollectable` (a `Py_ssize_t`).
        stats_uncollectable,
        /// `sizeof(struct gc_generation_stats)`.
        stats_size,
        /// `permanent_generation` (3.7+): the objects `gc.freeze()` moved out of the
        /// generations.
        permanent_generation,
    }
    /// pymalloc's state: `struct _obmalloc_state` (3.12+; ≤3.11 the same fields are
    /// statics of obmalloc.c), its arenas and pools.
    obmalloc: Obmalloc {
        /// `mgmt.arenas`: the array of `struct arena_object`.
        arenas,
        /// `mgmt.maxarenas`: its length (a `uint`).
        maxarenas,
        /// `mgmt.narenas_currently_allocated`.
        narenas_current,
        /// `mgmt.ntimes_arena_allocated`.
        ntimes_arena_allocated,
        /// `mgmt.narenas_highwater`.
        narenas_highwater,
        /// `arena_object.address` (0: no arena here).
        arena_address,
        /// `arena_object.pool_address`: the first pool never carved.
        arena_pool_address,
        /// `arena_object.nfreepools`.
        arena_nfreepools,
        /// `sizeof(struct arena_object)`.
        arena_size,
        /// `pool_header.ref.count`: blocks in use (a `uint`).
        pool_count,
        /// `pool_header.szidx`: the size class (a `uint`).
        pool_szidx,
        /// `sizeof(struct pool_header)`.
        pool_header_size,
        /// `pool_header.maxnextoffset` (a `uint`): the pool's size less its block
        /// size, which gives the size class's block size without knowing the build's
        /// `ALIGNMENT` (16 bytes, but 8 in older 3.6 and 3.7 releases such as Ubuntu's 3.6.9).
        pool_maxnextoffset,
    }
    /// `PyGC_Head`, just before every object the garbage collector tracks; each
    /// generation is a circular list of them through its own head.
    gc_head: GcHead {
        /// `_gc_next` (`gc.gc_next` ≤3.7).
        next,
        /// `_gc_prev` (`gc.gc_prev` ≤3.7; 3.8+ keeps flags in its low two bits).
        prev,
        /// `sizeof(PyGC_Head)`: the object starts this far after its head.
        size,
    }
    /// The `atexit` module's callbacks: `struct atexit_state` (3.10+, in the
    /// interpreter) or the module state `atexitmodule_state` (≤3.9).
    atexit: Atexit {
        /// `callbacks` (`atexit_callbacks` ≤3.9): an array of pointers to records
        /// (≤3.13), or a list object (3.14+).
        callbacks,
        /// `ncallbacks` (an `int`; ≤3.13).
        ncallbacks,
        /// The record's `func`.
        record_func,
        /// The record's `args` (a tuple).
        record_args,
        /// The record's `kwargs` (a dict or NULL).
        record_kwargs,
    }
    /// `struct _pending_calls`: calls queued by `Py_AddPendingCall`, a ring buffer.
    pending: Pending {
        /// `calls`: `{func, arg[, flags]}` per slot.
        calls,
        /// `first`: the oldest slot.
        first,
        /// `last` (≤3.12) or `next` (3.13+): the slot after the newest.
        last,
        /// `npending` (3.13+): how many are queued.
        npending,
        /// `sizeof(struct _pending_call)` (3.12+; 16 before).
        call_size,
    }
    /// `_Py_GlobalMonitors` (3.12+): per event, a bit per `sys.monitoring` tool.
    monitors: Monitors {
        /// `tools`: `uint8_t[events]`.
        tools,
        /// `sizeof(_Py_GlobalMonitors)`: the number of events it has a byte for.
        size,
        /// `PyCodeObject._co_monitoring` (3.12+): the code's `_PyCoMonitoringData`.
        code_data,
        /// `_PyCoMonitoringData.local_monitors`: its local events, a byte of tool bits
        /// per event.
        code_local,
        /// `sizeof(_Py_LocalMonitors)`: how many events that has a byte for.
        local_size,
    }
    /// `PyThreadState` (`struct _ts`).
    tstate: TState {
        /// `prev`.
        prev,
        /// `next`.
        next,
        /// `interp`.
        interp,
        /// `frame` (≤3.10): the current `PyFrameObject*`.
        frame,
        /// `cframe` (3.10–3.12).
        cframe,
        /// `current_frame` (3.13+).
        current_frame,
        /// `thread_id` (the `pthread_t`, as faulthandler prints it).
        thread_id,
        /// `native_thread_id` (3.11+; the kernel TID).
        native_thread_id,
        /// `sizeof(PyThreadState)`.
        size,
        /// `dict`: the thread state's dict (`PyThreadState_GetDict`), where 3.7–3.12's
        /// `_asyncio` keeps the running loop.
        dict,
        /// `_PyThreadStateImpl.asyncio_running_loop` (3.13+): the loop the thread runs.
        asyncio_running_loop,
        /// `_PyThreadStateImpl.asyncio_running_task` (3.14+): the task it runs.
        asyncio_running_task,
        /// `_PyThreadStateImpl.asyncio_tasks_head` (3.14+): its native tasks' list.
        asyncio_tasks_head,
        /// `c_profilefunc`: the C profile function (`PyEval_SetProfile`).
        c_profilefunc,
        /// `c_tracefunc`: the C trace function (`PyEval_SetTrace`).
        c_tracefunc,
        /// `c_profileobj`: the object passed to the profile function.
        c_profileobj,
        /// `c_traceobj`: the object passed to the trace function.
        c_traceobj,
        /// `eval_breaker` (3.13+): the thread's pending-work bits, among them the
        /// GIL drop request addressed to it.
        eval_breaker,
    }
    /// `_PyCFrame` (3.11–3.12; `CFrame` in 3.10): one per eval call, on its C stack.
    cframe: CFrame {
        /// `current_frame`.
        current_frame,
        /// `previous`: the C frame of the eval call below (the thread state's root one
        /// last).
        previous,
    }
    /// `PyFrameObject` (≤3.10 frames; the wrapper object in 3.11+).
    frame: Frame {
        /// `f_back`.
        back,
        /// `f_code`.
        code,
        /// `f_lasti`.
        lasti,
        /// `f_lineno`.
        lineno,
        /// `f_trace`.
        trace,
        /// `f_frame` (3.11+): the interpreter frame it wraps.
        iframe,
        /// `f_stacktop` (≤3.9): the value stack's top while suspended, else NULL.
        stacktop,
        /// `f_valuestack` (≤3.10): the value stack's bottom.
        valuestack,
        /// `f_stackdepth` (3.10, an `int`): values on the stack while suspended.
        stackdepth,
    }
    /// `_PyInterpreterFrame` (3.11+).
    iframe: IFrame {
        /// `previous`.
        previous,
        /// `f_code` / `f_executable`.
        code,
        /// `prev_instr` (3.11–3.12) / `instr_ptr` (3.13+).
        instr,
        /// `owner`.
        owner,
        /// `is_entry` (3.11).
        is_entry,
        /// `localsplus`.
        localsplus,
        /// `stacktop` (3.11–3.13, an `int`): values on the stack, counted from
        /// `localsplus`.
        stacktop,
        /// `stackpointer` (3.14+): one past the top of the stack.
        stackpointer,
    }
    /// `PyGenObject` (coroutines and async generators share its head).
    gen: Gen {
        /// `gi_frame` (≤3.10): its `PyFrameObject`, NULL once finished.
        frame,
        /// `gi_iframe` (3.11+): its embedded interpreter frame.
        iframe,
        /// `gi_frame_state` (3.11+, an `int8`).
        frame_state,
    }
    /// `PyAsyncGenASend` (`async_generator_asend`, what `await agen.asend()` awaits).
    asend: ASend {
        /// `ags_gen`: the async generator.
        gen,
    }
    /// `PyWeakReference`.
    weakref: WeakRef {
        /// `wr_object`: the referent (`None` once dead).
        object,
    }
    /// `PyCodeObject`.
    code: Code {
        /// `co_filename`.
        filename,
        /// `co_name`.
        name,
        /// `co_qualname` (3.11+).
        qualname,
        /// `co_firstlineno`.
        firstlineno,
        /// `co_lnotab` (≤3.9) or `co_linetable` (3.10+).
        linetable,
        /// `co_code` (≤3.10).
        code,
        /// `co_code_adaptive` (3.11+): inline bytecode.
        code_adaptive,
        /// `_co_firsttraceable` (3.11+).
        firsttraceable,
    }
    /// `PyObject` / `PyVarObject` header.
    object: Object {
        /// `ob_refcnt`.
        refcnt,
        /// `ob_type`.
        ob_type,
        /// `ob_size` of a `PyVarObject`.
        ob_size,
        /// `_ob_next` (`Py_TRACE_REFS` builds ≤3.12): the next object on the list of
        /// every live object.
        trace_next,
        /// `_ob_prev` (`Py_TRACE_REFS` builds ≤3.12).
        trace_prev,
    }
    /// `PyTypeObject`.
    type_object: TypeObject {
        /// `tp_name`.
        tp_name,
        /// `tp_flags`.
        tp_flags,
    }
    /// `str`: `PyASCIIObject` / `PyCompactUnicodeObject`.
    unicode: Unicode {
        /// `length`.
        length,
        /// `state` (a bitfield word: interned:2, kind:3, compact:1, ascii:1).
        state,
        /// `sizeof(PyASCIIObject)`: compact ASCII data starts here.
        ascii_size,
        /// `sizeof(PyCompactUnicodeObject)`: compact non-ASCII data starts here.
        compact_size,
        /// `PyUnicodeObject.data` (non-compact strings).
        data,
        /// `sizeof(PyUnicodeObject)`: what `str.__sizeof__` counts for a non-compact
        /// string before its data.
        legacy_size,
        /// `PyCompactUnicodeObject.utf8`: the UTF-8 copy a non-ASCII string caches.
        utf8,
        /// `PyCompactUnicodeObject.utf8_length`.
        utf8_length,
        /// `PyASCIIObject.wstr` (≤3.11): the `wchar_t` copy, when made.
        wstr,
        /// `PyCompactUnicodeObject.wstr_length` (≤3.11).
        wstr_length,
    }
    /// `PyBytesObject`.
    bytes: Bytes {
        /// `ob_sval`.
        sval,
    }
    /// `PyTupleObject`.
    tuple: Tuple {
        /// `ob_item`.
        item,
    }
    /// `PyLongObject`.
    long: Long {
        /// `ob_digit` (`long_value.ob_digit` 3.12+).
        digit,
        /// `long_value.lv_tag` (3.12+): sign and digit count.
        lv_tag,
    }
    /// `PyFloatObject`.
    float: Float {
        /// `ob_fval`.
        fval,
    }
    /// `PyListObject`.
    list: List {
        /// `ob_item` (pointer to the item array).
        item,
        /// `allocated`: slots of the item array (`list.__sizeof__` counts them).
        allocated,
    }
    /// `PyByteArrayObject`.
    bytearray: ByteArray {
        /// `ob_start`.
        start,
    }
    /// `PyDictObject` and its keys (`struct _dictkeysobject`) and values.
    dict: Dict {
        /// `ma_used`.
        used,
        /// `ma_keys`.
        keys,
        /// `ma_values`.
        values,
        /// `dk_size` (≤3.10).
        dk_size,
        /// `dk_log2_size` (3.11+).
        dk_log2_size,
        /// `dk_log2_index_bytes` (3.11+).
        dk_log2_index_bytes,
        /// `dk_kind` (3.11+).
        dk_kind,
        /// `dk_nentries`.
        dk_nentries,
        /// `dk_indices`.
        dk_indices,
        /// `sizeof(PyDictKeyEntry)`.
        entry_size,
        /// `sizeof(PyDictUnicodeEntry)` (3.11+).
        unicode_entry_size,
        /// `_dictvalues.values` (3.11+; 8 in 3.13 where a header precedes it).
        values_values,
        /// `_dictvalues.valid` (3.13+).
        values_valid,
        /// `dk_refcnt`: 1 unless the keys are shared (a split table) or static.
        dk_refcnt,
        /// `dk_usable` (`dict.__sizeof__` of a split table counts it, 3.11+).
        dk_usable,
    }
    /// `PySetObject`.
    set: Set {
        /// `table`.
        table,
        /// `mask`.
        mask,
        /// `used`.
        used,
        /// `sizeof(setentry)`.
        entry_size,
        /// `smalltable`: the table inside the object, until it grows.
        smalltable,
    }
    /// Further `PyTypeObject` / `PyHeapTypeObject` fields.
    type_ext: TypeExt {
        /// `tp_basicsize`.
        basicsize,
        /// `tp_itemsize`.
        itemsize,
        /// `tp_dictoffset`.
        dictoffset,
        /// `tp_dict`.
        dict,
        /// `tp_base`.
        base,
        /// `tp_bases`.
        bases,
        /// `tp_mro`.
        mro,
        /// `ht_qualname`.
        ht_qualname,
        /// `ht_cached_keys`.
        ht_cached_keys,
        /// `tp_members`: the type's `PyMemberDef` array (a struct sequence's field names).
        members,
    }
    /// `PyFunctionObject`.
    function: Function {
        /// `func_code`.
        code,
        /// `func_name`.
        name,
        /// `func_qualname`.
        qualname,
        /// `func_module`.
        module,
        /// `func_globals`.
        globals,
        /// `func_closure`: a tuple of cells, or NULL.
        closure,
        /// `func_defaults`.
        defaults,
        /// `func_kwdefaults`.
        kwdefaults,
        /// `func_dict` (`__dict__`).
        dict,
        /// `func_doc`.
        doc,
    }
    /// `PyMethodObject`.
    method: Method {
        /// `im_func`.
        func,
        /// `im_self`.
        self_,
    }
    /// `PyModuleObject`.
    module: Module {
        /// `md_dict`.
        dict,
        /// `md_def` (≤3.14): the `PyModuleDef` of a module C code created.
        def,
        /// `md_exec` (3.15+): set for a multi-phase extension module.
        exec,
        /// `md_token` (3.15+): the `PyModuleDef` when `md_token_is_def`.
        token,
        /// `md_token_is_def` (3.15+, a `bool`).
        token_is_def,
        /// `PyModuleDef.m_methods`.
        def_methods,
        /// `md_state`: a C module's state (3.14+'s `_asyncio` keeps the sets of
        /// third-party tasks there).
        state,
    }
    /// `PyCFunctionObject` (`builtin_function_or_method`).
    cfunction: CFunction {
        /// `m_ml`: its `PyMethodDef`.
        ml,
        /// `m_self`: the object (or module) it is bound to.
        self_,
        /// `m_module`: its `__module__` (a str, or the module).
        module,
    }
    /// `_thread.lock` (`lockobject`).
    lock: Lock {
        /// `locked` (a `char`, ≤3.13) or `lock` (a `PyMutex` byte, 3.14+): bit 0 set
        /// while locked.
        locked,
    }
    /// `_thread.RLock` (`rlockobject`).
    rlock: RLock {
        /// `rlock_owner` (≤3.13) or `lock.thread` (3.14+): the owner's thread ident.
        owner,
        /// `rlock_count` (≤3.13): acquisitions; `lock.level` (3.14+): acquisitions
        /// beyond the first.
        count,
        /// `lock.mutex` (3.14+, a `PyMutex` byte): bit 0 set while locked. Its presence
        /// says `count` is a level.
        mutex,
    }
    /// `PyMemberDef`.
    memberdef: MemberDef {
        /// `name`.
        name,
        /// `type` (`T_OBJECT_EX` 16 for a `__slots__` member).
        type_,
        /// `offset`: where the member is in the instance.
        offset,
        /// `sizeof(PyMemberDef)`.
        size,
    }
    /// `PyMethodDef`.
    methoddef: MethodDef {
        /// `ml_name`.
        name,
    }
    /// `PyComplexObject`.
    complex: Complex {
        /// `cval.real` (a `double`).
        real,
        /// `cval.imag` (a `double`).
        imag,
    }
    /// `PySliceObject`.
    slice: Slice {
        /// `start`.
        start,
        /// `stop`.
        stop,
        /// `step`.
        step,
    }
    /// `rangeobject`.
    range: Range {
        /// `start` (an int object).
        start,
        /// `stop`.
        stop,
        /// `step`.
        step,
    }
    /// `PyCellObject`.
    cell: Cell {
        /// `ob_ref`.
        obj,
    }
    /// `PyBaseExceptionObject`.
    exception: Exception {
        /// `args`.
        args,
        /// `context` (`__context__`).
        context,
        /// `cause` (`__cause__`).
        cause,
        /// `suppress_context` (`__suppress_context__`, a `char`).
        suppress_context,
    }
    /// Code object fields for locals.
    code_vars: CodeVars {
        /// `co_argcount`.
        argcount,
        /// `co_kwonlyargcount`.
        kwonlyargcount,
        /// `co_flags`.
        flags,
        /// `co_nlocals`.
        nlocals,
        /// `co_varnames` (≤3.10).
        varnames,
        /// `co_cellvars` (≤3.10).
        cellvars,
        /// `co_freevars` (≤3.10).
        freevars,
        /// `co_localsplusnames` (3.11+).
        localsplusnames,
        /// `co_localspluskinds` (3.11+).
        localspluskinds,
        /// `co_stacksize`: the most value-stack slots the code uses (an `int`).
        stacksize,
    }
    /// Frame fields for locals and exception state.
    frame_vars: FrameVars {
        /// `f_localsplus` of a `PyFrameObject` (≤3.10).
        localsplus,
        /// `f_globals` of the frame the walk yields (`PyFrameObject` ≤3.10,
        /// `_PyInterpreterFrame` 3.11+).
        globals,
        /// `f_builtins` of the same frame.
        builtins,
    }
    /// Thread-state exception fields.
    exc: Exc {
        /// `curexc_value` (≤3.11): the exception being raised.
        curexc_value,
        /// `current_exception` (3.12+).
        current_exception,
        /// `exc_value` (3.6, in the thread state): the exception being handled.
        tstate_exc_value,
        /// `exc_info` (3.7+): the `_PyErr_StackItem` chain.
        exc_info,
        /// `_PyErr_StackItem.exc_value`.
        item_value,
        /// `_PyErr_StackItem.previous_item`.
        item_previous,
    }
}

/// The build flavour of an interpreter: what changes layouts besides the version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavour {
    /// `Py_DEBUG`.
    pub debug: bool,
    /// `Py_GIL_DISABLED`.
    pub free_threaded: bool,
}

/// Where a layout's offsets came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The interpreter's DWARF.
    Dwarf,
    /// The target's own `_Py_DebugOffsets` (3.13+).
    DebugOffsets,
    /// A built-in table.
    Builtin,
}

/// A resolved layout: the offsets plus what they describe and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Format version of this serialized table.
    pub format: u32,
    /// `(major, minor)` of the interpreter.
    pub version: (u8, u8),
    /// The micro version, when known.
    #[serde(default)]
    pub micro: Option<u8>,
    /// The build flavour.
    pub flavour: Flavour,
    /// Where the offsets came from.
    pub source: Source,
    /// The offsets.
    pub offsets: Offsets,
    /// Where each field sits inside this build's `_Py_DebugOffsets` (3.13+), so the
    /// table of a stripped target of the same minor version can be decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_offsets: Option<debug_offsets::TableLayout>,
}

/// Current serialized format of [`Layout`]; caches with another value are ignored.
pub const LAYOUT_FORMAT: u32 = 26;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_get_and_set() {
        let mut o = Offsets::default();
        for (i, k) in Offsets::KEYS.iter().enumerate() {
            assert!(o.set(k, Some(i as u64)), "{k}");
        }
        for (i, k) in Offsets::KEYS.iter().enumerate() {
            assert_eq!(o.get(k), Some(i as u64), "{k}");
        }
        assert!(!o.set("nope.nope", Some(1)));
        let json = serde_json::to_string(&o).expect("serialize");
        let back: Offsets = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, o);
    }
}
