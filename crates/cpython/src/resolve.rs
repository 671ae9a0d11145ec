//! Filling the offsets table from DWARF: which struct and member each key of the
//! table is, with the names every CPython version uses. Data, tried in order.

use pycoroner_layouts::dwarf::{LayoutAnswer, LayoutQuery};
use pycoroner_layouts::debug_offsets::TableLayout;
use pycoroner_layouts::builtin::Match;
use pycoroner_layouts::{key, Flavour, Key, Layout, Offsets, Source, LAYOUT_FORMAT};

use crate::version::PyVersion;

/// `sizeof` instead of a member.
const SIZE: &str = "sizeof";

/// Key of the offsets table → candidate (struct or typedef name, member path).
/// The first candidate present in the DWARF wins.
pub const DWARF_SPEC: &[(Key, &[(&str, &str)])] = &[
    (key::runtime::interpreters_head, &[("pyruntimestate", "interpreters.head")]),
    (key::runtime::interpreters_main, &[("pyruntimestate", "interpreters.main")]),
    (key::runtime::tstate_current, &[("pyruntimestate", "gilstate.tstate_current")]),
    (key::runtime::gil_locked, &[("pyruntimestate", "ceval.gil.locked")]),
    (key::runtime::gil_last_holder, &[("pyruntimestate", "ceval.gil.last_holder")]),
    (key::runtime::gc_collecting, &[("pyruntimestate", "gc.collecting")]),
    (key::runtime::size, &[("pyruntimestate", SIZE)]),
    (key::runtime::gc, &[("pyruntimestate", "gc")]),
    (key::runtime::finalizing, &[("pyruntimestate", "_finalizing"), ("pyruntimestate", "finalizing")]),
    (key::runtime::exitfuncs, &[("pyruntimestate", "atexit.callbacks"), ("pyruntimestate", "exitfuncs")]),
    (key::runtime::nexitfuncs, &[("pyruntimestate", "atexit.ncallbacks"), ("pyruntimestate", "nexitfuncs")]),
    (key::runtime::gil_interval, &[("pyruntimestate", "ceval.gil.interval")]),
    (key::runtime::gil_drop_request, &[("pyruntimestate", "ceval.gil_drop_request")]),
    (key::runtime::recursion_limit, &[("pyruntimestate", "ceval.recursion_limit")]),
    (key::runtime::signal_handlers, &[("pyruntimestate", "signals.handlers")]),
    (key::runtime::signals_tripped, &[("pyruntimestate", "signals.is_tripped")]),
    (key::runtime::ref_tracer_func, &[("pyruntimestate", "ref_tracer.tracer_func")]),
    (key::runtime::ref_tracer_data, &[("pyruntimestate", "ref_tracer.tracer_data")]),
    (key::runtime::pending, &[("pyruntimestate", "ceval.pending_mainthread"), ("pyruntimestate", "ceval.pending")]),
    (key::interp::next, &[("_is", "next")]),
    (key::interp::threads_head, &[("_is", "threads.head"), ("_is", "tstate_head")]),
    (key::interp::id, &[("_is", "id")]),
    (key::interp::ceval_gil, &[("_is", "ceval.gil")]),
    (key::interp::modules, &[("_is", "imports.modules"), ("_is", "modules")]),
    (key::interp::sysdict, &[("_is", "sysdict")]),
    (key::interp::gc_collecting, &[("_is", "gc.collecting")]),
    (key::interp::asyncio_tasks_head, &[("_is", "asyncio_tasks_head")]),
    (key::interp::gc, &[("_is", "gc")]),
    (key::interp::finalizing, &[("_is", "finalizing")]),
    (key::interp::finalizing_tstate, &[("_is", "_finalizing")]),
    (key::interp::atexit, &[("_is", "atexit")]),
    (key::interp::recursion_limit, &[("_is", "ceval.recursion_limit")]),
    (key::interp::gil_drop_request, &[("_is", "ceval.gil_drop_request")]),
    (key::interp::reftotal, &[("_is", "object_state.reftotal")]),
    (key::interp::refchain, &[("_is", "object_state.refchain")]),
    (key::runtime::reftotal_leaks, &[("pyruntimestate", "object_state.interpreter_leaks")]),
    (key::interp::monitors, &[("_is", "monitors")]),
    (key::interp::monitoring_tool_names, &[("_is", "monitoring_tool_names")]),
    (key::interp::pending, &[("_is", "ceval.pending")]),
    (key::pending::calls, &[("_pending_calls", "calls")]),
    (key::pending::first, &[("_pending_calls", "first")]),
    (key::pending::last, &[("_pending_calls", "last"), ("_pending_calls", "next")]),
    (key::pending::npending, &[("_pending_calls", "npending")]),
    (key::pending::call_size, &[("_pending_call", SIZE)]),
    (key::interp::size, &[("_is", SIZE)]),
    (key::gil::locked, &[("_gil_runtime_state", "locked")]),
    (key::gil::last_holder, &[("_gil_runtime_state", "last_holder")]),
    (key::gil::interval, &[("_gil_runtime_state", "interval")]),
    (key::gc_state::enabled, &[("_gc_runtime_state", "enabled")]),
    (key::gc_state::generations, &[("_gc_runtime_state", "generations")]),
    (key::gc_state::generation_stats, &[("_gc_runtime_state", "generation_stats")]),
    (key::gc_state::gen_threshold, &[("gc_generation", "threshold")]),
    (key::gc_state::gen_count, &[("gc_generation", "count")]),
    (key::gc_state::gen_size, &[("gc_generation", SIZE)]),
    (key::gc_state::stats_uncollectable, &[("gc_generation_stats", "uncollectable")]),
    (key::gc_state::stats_size, &[("gc_generation_stats", SIZE)]),
    (key::gc_state::permanent_generation, &[("_gc_runtime_state", "permanent_generation")]),
    (key::interp::obmalloc, &[("_is", "obmalloc")]),
    (key::obmalloc::arenas, &[("_obmalloc_state", "mgmt.arenas")]),
    (key::obmalloc::maxarenas, &[("_obmalloc_state", "mgmt.maxarenas")]),
    (key::obmalloc::narenas_current, &[("_obmalloc_state", "mgmt.narenas_currently_allocated")]),
    (key::obmalloc::ntimes_arena_allocated, &[("_obmalloc_state", "mgmt.ntimes_arena_allocated")]),
    (key::obmalloc::narenas_highwater, &[("_obmalloc_state", "mgmt.narenas_highwater")]),
    (key::obmalloc::arena_address, &[("arena_object", "address")]),
    (key::obmalloc::arena_pool_address, &[("arena_object", "pool_address")]),
    (key::obmalloc::arena_nfreepools, &[("arena_object", "nfreepools")]),
    (key::obmalloc::arena_size, &[("arena_object", SIZE)]),
    (key::obmalloc::pool_count, &[("pool_header", "ref.count")]),
    (key::obmalloc::pool_szidx, &[("pool_header", "szidx")]),
    (key::obmalloc::pool_header_size, &[("pool_header", SIZE)]),
    (key::obmalloc::pool_maxnextoffset, &[("pool_header", "maxnextoffset")]),
    (key::gc_head::next, &[("PyGC_Head", "_gc_next"), ("PyGC_Head", "gc.gc_next")]),
    (key::gc_head::prev, &[("PyGC_Head", "_gc_prev"), ("PyGC_Head", "gc.gc_prev")]),
    (key::gc_head::size, &[("PyGC_Head", SIZE)]),
    (key::atexit::callbacks, &[("atexit_state", "callbacks"), ("atexitmodule_state", "atexit_callbacks")]),
    (key::atexit::ncallbacks, &[("atexit_state", "ncallbacks"), ("atexitmodule_state", "ncallbacks")]),
    (key::atexit::record_func, &[("atexit_py_callback", "func"), ("atexit_callback", "func")]),
    (key::atexit::record_args, &[("atexit_py_callback", "args"), ("atexit_callback", "args")]),
    (key::atexit::record_kwargs, &[("atexit_py_callback", "kwargs"), ("atexit_callback", "kwargs")]),
    (key::monitors::tools, &[("_Py_GlobalMonitors", "tools")]),
    (key::monitors::size, &[("_Py_GlobalMonitors", SIZE)]),
    (key::monitors::code_data, &[("PyCodeObject", "_co_monitoring")]),
    (key::monitors::code_local, &[("_PyCoMonitoringData", "local_monitors")]),
    (key::monitors::local_size, &[("_Py_LocalMonitors", SIZE)]),
    (key::tstate::prev, &[("_ts", "prev")]),
    (key::tstate::next, &[("_ts", "next")]),
    (key::tstate::interp, &[("_ts", "interp")]),
    (key::tstate::frame, &[("_ts", "frame")]),
    (key::tstate::cframe, &[("_ts", "cframe")]),
    (key::tstate::current_frame, &[("_ts", "current_frame")]),
    (key::tstate::thread_id, &[("_ts", "thread_id")]),
    (key::tstate::native_thread_id, &[("_ts", "native_thread_id")]),
    (key::tstate::size, &[("_ts", SIZE)]),
    (key::tstate::dict, &[("_ts", "dict")]),
    (key::tstate::asyncio_running_loop, &[("_PyThreadStateImpl", "asyncio_running_loop")]),
    (key::tstate::asyncio_running_task, &[("_PyThreadStateImpl", "asyncio_running_task")]),
    (key::tstate::asyncio_tasks_head, &[("_PyThreadStateImpl", "asyncio_tasks_head")]),
    (key::tstate::c_profilefunc, &[("_ts", "c_profilefunc")]),
    (key::tstate::c_tracefunc, &[("_ts", "c_tracefunc")]),
    (key::tstate::c_profileobj, &[("_ts", "c_profileobj")]),
    (key::tstate::eval_breaker, &[("_ts", "eval_breaker")]),
    (key::tstate::c_traceobj, &[("_ts", "c_traceobj")]),
    (key::cframe::current_frame, &[("_PyCFrame", "current_frame")]),
    (key::cframe::previous, &[("_PyCFrame", "previous"), ("_cframe", "previous")]),
    (key::frame::back, &[("_frame", "f_back")]),
    (key::frame::code, &[("_frame", "f_code")]),
    (key::frame::lasti, &[("_frame", "f_lasti")]),
    (key::frame::lineno, &[("_frame", "f_lineno")]),
    (key::frame::trace, &[("_frame", "f_trace")]),
    (key::frame::iframe, &[("_frame", "f_frame")]),
    (key::frame::stacktop, &[("_frame", "f_stacktop")]),
    (key::frame::valuestack, &[("_frame", "f_valuestack")]),
    (key::frame::stackdepth, &[("_frame", "f_stackdepth")]),
    (key::iframe::previous, &[("_PyInterpreterFrame", "previous")]),
    (key::iframe::code, &[("_PyInterpreterFrame", "f_executable"), ("_PyInterpreterFrame", "f_code")]),
    (key::iframe::instr, &[("_PyInterpreterFrame", "instr_ptr"), ("_PyInterpreterFrame", "prev_instr")]),
    (key::iframe::owner, &[("_PyInterpreterFrame", "owner")]),
    (key::iframe::is_entry, &[("_PyInterpreterFrame", "is_entry")]),
    (key::iframe::localsplus, &[("_PyInterpreterFrame", "localsplus")]),
    (key::iframe::stacktop, &[("_PyInterpreterFrame", "stacktop")]),
    (key::iframe::stackpointer, &[("_PyInterpreterFrame", "stackpointer")]),
    (key::gen::frame, &[("PyGenObject", "gi_frame")]),
    (key::gen::iframe, &[("PyGenObject", "gi_iframe")]),
    (key::gen::frame_state, &[("PyGenObject", "gi_frame_state")]),
    (key::asend::gen, &[("PyAsyncGenASend", "ags_gen")]),
    (key::weakref::object, &[("_PyWeakReference", "wr_object")]),
    (key::code::filename, &[("PyCodeObject", "co_filename")]),
    (key::code::name, &[("PyCodeObject", "co_name")]),
    (key::code::qualname, &[("PyCodeObject", "co_qualname")]),
    (key::code::firstlineno, &[("PyCodeObject", "co_firstlineno")]),
    (key::code::linetable, &[("PyCodeObject", "co_linetable"), ("PyCodeObject", "co_lnotab")]),
    (key::code::code, &[("PyCodeObject", "co_code")]),
    (key::code::code_adaptive, &[("PyCodeObject", "co_code_adaptive")]),
    (key::code::firsttraceable, &[("PyCodeObject", "_co_firsttraceable")]),
    (key::object::refcnt, &[("_object", "ob_refcnt")]),
    (key::object::ob_type, &[("_object", "ob_type")]),
    (key::object::trace_next, &[("_object", "_ob_next")]),
    (key::object::trace_prev, &[("_object", "_ob_prev")]),
    (key::object::ob_size, &[("PyVarObject", "ob_size")]),
    (key::type_object::tp_name, &[("_typeobject", "tp_name")]),
    (key::type_object::tp_flags, &[("_typeobject", "tp_flags")]),
    (key::unicode::length, &[("PyASCIIObject", "length")]),
    (key::unicode::state, &[("PyASCIIObject", "state")]),
    (key::unicode::ascii_size, &[("PyASCIIObject", SIZE)]),
    (key::unicode::compact_size, &[("PyCompactUnicodeObject", SIZE)]),
    (key::unicode::data, &[("PyUnicodeObject", "data")]),
    (key::unicode::legacy_size, &[("PyUnicodeObject", SIZE)]),
    (key::unicode::utf8, &[("PyCompactUnicodeObject", "utf8")]),
    (key::unicode::utf8_length, &[("PyCompactUnicodeObject", "utf8_length")]),
    (key::unicode::wstr, &[("PyASCIIObject", "wstr")]),
    (key::unicode::wstr_length, &[("PyCompactUnicodeObject", "wstr_length")]),
    (key::bytes::sval, &[("PyBytesObject", "ob_sval")]),
    (key::tuple::item, &[("PyTupleObject", "ob_item")]),
    (key::long::digit, &[("_longobject", "long_value.ob_digit"), ("_longobject", "ob_digit")]),
    (key::long::lv_tag, &[("_longobject", "long_value.lv_tag")]),
    (key::float::fval, &[("PyFloatObject", "ob_fval")]),
    (key::list::item, &[("PyListObject", "ob_item")]),
    (key::list::allocated, &[("PyListObject", "allocated")]),
    (key::bytearray::start, &[("PyByteArrayObject", "ob_start")]),
    (key::dict::used, &[("PyDictObject", "ma_used")]),
    (key::dict::keys, &[("PyDictObject", "ma_keys")]),
    (key::dict::values, &[("PyDictObject", "ma_values")]),
    (key::dict::dk_size, &[("_dictkeysobject", "dk_size")]),
    (key::dict::dk_log2_size, &[("_dictkeysobject", "dk_log2_size")]),
    (key::dict::dk_log2_index_bytes, &[("_dictkeysobject", "dk_log2_index_bytes")]),
    (key::dict::dk_kind, &[("_dictkeysobject", "dk_kind")]),
    (key::dict::dk_nentries, &[("_dictkeysobject", "dk_nentries")]),
    (key::dict::dk_indices, &[("_dictkeysobject", "dk_indices")]),
    (key::dict::entry_size, &[("PyDictKeyEntry", SIZE)]),
    (key::dict::unicode_entry_size, &[("PyDictUnicodeEntry", SIZE)]),
    (key::dict::values_values, &[("_dictvalues", "values")]),
    (key::dict::values_valid, &[("_dictvalues", "valid")]),
    (key::dict::dk_refcnt, &[("_dictkeysobject", "dk_refcnt")]),
    (key::dict::dk_usable, &[("_dictkeysobject", "dk_usable")]),
    (key::set::table, &[("PySetObject", "table")]),
    (key::set::mask, &[("PySetObject", "mask")]),
    (key::set::used, &[("PySetObject", "used")]),
    (key::set::entry_size, &[("setentry", SIZE)]),
    (key::set::smalltable, &[("PySetObject", "smalltable")]),
    (key::type_ext::basicsize, &[("_typeobject", "tp_basicsize")]),
    (key::type_ext::itemsize, &[("_typeobject", "tp_itemsize")]),
    (key::type_ext::dictoffset, &[("_typeobject", "tp_dictoffset")]),
    (key::type_ext::dict, &[("_typeobject", "tp_dict")]),
    (key::type_ext::base, &[("_typeobject", "tp_base")]),
    (key::type_ext::bases, &[("_typeobject", "tp_bases")]),
    (key::type_ext::mro, &[("_typeobject", "tp_mro")]),
    (key::type_ext::ht_qualname, &[("_heaptypeobject", "ht_qualname")]),
    (key::type_ext::members, &[("_typeobject", "tp_members")]),
    (key::type_ext::ht_cached_keys, &[("_heaptypeobject", "ht_cached_keys")]),
    (key::function::code, &[("PyFunctionObject", "func_code")]),
    (key::function::name, &[("PyFunctionObject", "func_name")]),
    (key::function::qualname, &[("PyFunctionObject", "func_qualname")]),
    (key::function::module, &[("PyFunctionObject", "func_module")]),
    (key::function::globals, &[("PyFunctionObject", "func_globals")]),
    (key::function::closure, &[("PyFunctionObject", "func_closure")]),
    (key::function::defaults, &[("PyFunctionObject", "func_defaults")]),
    (key::function::kwdefaults, &[("PyFunctionObject", "func_kwdefaults")]),
    (key::function::dict, &[("PyFunctionObject", "func_dict")]),
    (key::function::doc, &[("PyFunctionObject", "func_doc")]),
    (key::method::func, &[("PyMethodObject", "im_func")]),
    (key::method::self_, &[("PyMethodObject", "im_self")]),
    (key::module::dict, &[("PyModuleObject", "md_dict")]),
    (key::module::def, &[("PyModuleObject", "md_def")]),
    (key::module::exec, &[("PyModuleObject", "md_exec")]),
    (key::module::token, &[("PyModuleObject", "md_token")]),
    (key::module::token_is_def, &[("PyModuleObject", "md_token_is_def")]),
    (key::module::def_methods, &[("PyModuleDef", "m_methods")]),
    (key::module::state, &[("PyModuleObject", "md_state")]),
    (key::cfunction::ml, &[("PyCFunctionObject", "m_ml")]),
    (key::cfunction::self_, &[("PyCFunctionObject", "m_self")]),
    (key::cfunction::module, &[("PyCFunctionObject", "m_module")]),
    (key::lock::locked, &[("lockobject", "locked"), ("lockobject", "lock")]),
    (key::rlock::owner, &[("rlockobject", "rlock_owner"), ("rlockobject", "lock.thread")]),
    (key::rlock::count, &[("rlockobject", "rlock_count"), ("rlockobject", "lock.level")]),
    (key::rlock::mutex, &[("rlockobject", "lock.mutex")]),
    (key::memberdef::name, &[("PyMemberDef", "name")]),
    (key::memberdef::type_, &[("PyMemberDef", "type")]),
    (key::memberdef::offset, &[("PyMemberDef", "offset")]),
    (key::memberdef::size, &[("PyMemberDef", SIZE)]),
    (key::methoddef::name, &[("PyMethodDef", "ml_name")]),
    (key::complex::real, &[("PyComplexObject", "cval.real")]),
    (key::complex::imag, &[("PyComplexObject", "cval.imag")]),
    (key::slice::start, &[("PySliceObject", "start")]),
    (key::slice::stop, &[("PySliceObject", "stop")]),
    (key::slice::step, &[("PySliceObject", "step")]),
    (key::range::start, &[("rangeobject", "start")]),
    (key::range::stop, &[("rangeobject", "stop")]),
    (key::range::step, &[("rangeobject", "step")]),
    (key::cell::obj, &[("PyCellObject", "ob_ref")]),
    (key::exception::args, &[("PyBaseExceptionObject", "args")]),
    (key::exception::context, &[("PyBaseExceptionObject", "context")]),
    (key::exception::cause, &[("PyBaseExceptionObject", "cause")]),
    (key::exception::suppress_context, &[("PyBaseExceptionObject", "suppress_context")]),
    (key::code_vars::argcount, &[("PyCodeObject", "co_argcount")]),
    (key::code_vars::kwonlyargcount, &[("PyCodeObject", "co_kwonlyargcount")]),
    (key::code_vars::flags, &[("PyCodeObject", "co_flags")]),
    (key::code_vars::nlocals, &[("PyCodeObject", "co_nlocals")]),
    (key::code_vars::varnames, &[("PyCodeObject", "co_varnames")]),
    (key::code_vars::cellvars, &[("PyCodeObject", "co_cellvars")]),
    (key::code_vars::freevars, &[("PyCodeObject", "co_freevars")]),
    (key::code_vars::localsplusnames, &[("PyCodeObject", "co_localsplusnames")]),
    (key::code_vars::localspluskinds, &[("PyCodeObject", "co_localspluskinds")]),
    (key::code_vars::stacksize, &[("PyCodeObject", "co_stacksize")]),
    (key::frame_vars::localsplus, &[("_frame", "f_localsplus")]),
    (key::frame_vars::globals, &[("_PyInterpreterFrame", "f_globals"), ("_frame", "f_globals")]),
    (key::frame_vars::builtins, &[("_PyInterpreterFrame", "f_builtins"), ("_frame", "f_builtins")]),
    (key::exc::curexc_value, &[("_ts", "curexc_value")]),
    (key::exc::current_exception, &[("_ts", "current_exception")]),
    (key::exc::tstate_exc_value, &[("_ts", "exc_value")]),
    (key::exc::exc_info, &[("_ts", "exc_info")]),
    (key::exc::item_value, &[("_err_stackitem", "exc_value")]),
    (key::exc::item_previous, &[("_err_stackitem", "previous_item")]),
];

/// Our key → member of `_Py_DebugOffsets` (3.13+) holding the same offset. The struct
/// whose `size` bounds each is the member's first path component.
pub const DEBUG_OFFSETS_SPEC: &[(Key, &str)] = &[
    (key::runtime::size, "runtime_state.size"),
    (key::runtime::interpreters_head, "runtime_state.interpreters_head"),
    (key::interp::size, "interpreter_state.size"),
    (key::interp::id, "interpreter_state.id"),
    (key::interp::next, "interpreter_state.next"),
    (key::interp::threads_head, "interpreter_state.threads_head"),
    (key::interp::ceval_gil, "interpreter_state.ceval_gil"),
    (key::interp::modules, "interpreter_state.imports_modules"),
    (key::tstate::size, "thread_state.size"),
    (key::tstate::prev, "thread_state.prev"),
    (key::tstate::next, "thread_state.next"),
    (key::tstate::interp, "thread_state.interp"),
    (key::tstate::current_frame, "thread_state.current_frame"),
    (key::tstate::thread_id, "thread_state.thread_id"),
    (key::tstate::native_thread_id, "thread_state.native_thread_id"),
    (key::iframe::previous, "interpreter_frame.previous"),
    (key::iframe::code, "interpreter_frame.executable"),
    (key::iframe::instr, "interpreter_frame.instr_ptr"),
    (key::iframe::localsplus, "interpreter_frame.localsplus"),
    (key::iframe::owner, "interpreter_frame.owner"),
    (key::iframe::stackpointer, "interpreter_frame.stackpointer"),
    (key::gen::iframe, "gen_object.gi_iframe"),
    (key::gen::frame_state, "gen_object.gi_frame_state"),
    (key::code::filename, "code_object.filename"),
    (key::code::name, "code_object.name"),
    (key::code::qualname, "code_object.qualname"),
    (key::code::linetable, "code_object.linetable"),
    (key::code::firstlineno, "code_object.firstlineno"),
    (key::code_vars::argcount, "code_object.argcount"),
    (key::code_vars::localsplusnames, "code_object.localsplusnames"),
    (key::code_vars::localspluskinds, "code_object.localspluskinds"),
    (key::code::code_adaptive, "code_object.co_code_adaptive"),
    (key::object::ob_type, "pyobject.ob_type"),
    (key::type_object::tp_name, "type_object.tp_name"),
    (key::type_object::tp_flags, "type_object.tp_flags"),
    (key::tuple::item, "tuple_object.ob_item"),
    (key::object::ob_size, "tuple_object.ob_size"),
    (key::list::item, "list_object.ob_item"),
    (key::set::table, "set_object.table"),
    (key::set::mask, "set_object.mask"),
    (key::set::used, "set_object.used"),
    (key::dict::keys, "dict_object.ma_keys"),
    (key::dict::values, "dict_object.ma_values"),
    (key::float::fval, "float_object.ob_fval"),
    (key::long::lv_tag, "long_object.lv_tag"),
    (key::long::digit, "long_object.ob_digit"),
    (key::bytes::sval, "bytes_object.ob_sval"),
    (key::unicode::state, "unicode_object.state"),
    (key::unicode::length, "unicode_object.length"),
    (key::unicode::ascii_size, "unicode_object.asciiobject_size"),
];

/// Where this build's `_Py_DebugOffsets` keeps each field, from its DWARF.
fn debug_offsets_layout(answer: &LayoutAnswer) -> Option<TableLayout> {
    const ST: &str = "_Py_DebugOffsets";
    let size = answer.size(ST)?;
    let fields: Vec<(String, u64, u64)> = DEBUG_OFFSETS_SPEC
        .iter()
        .filter_map(|(key, member)| {
            let group = member.split('.').next()?;
            let pos = answer.offset(ST, member)?;
            let size_pos = answer.offset(ST, &format!("{group}.size"))?;
            Some((key.name.to_string(), pos, size_pos))
        })
        .collect();
    let gil = (|| {
        Some((
            answer.offset(ST, "interpreter_state.gil_runtime_state")?,
            answer.offset(ST, "interpreter_state.gil_runtime_state_locked")?,
            answer.offset(ST, "interpreter_state.gil_runtime_state_holder")?,
        ))
    })();
    Some(TableLayout { size, fields, gil })
}

/// The structs of [`DWARF_SPEC`] that not every CPython version defines, with the first
/// and last minor version (3.x) that do (`u8::MAX`: and every later one). A struct not
/// listed is in every version. The scan stops once it has every struct asked for, so
/// asking a version for one it lacks means reading all of `.debug_info` to learn it is
/// not there. Checked on every interpreter by regenerating the built-in tables
/// (`builtin_tables_match_the_generator`).
pub const STRUCT_VERSIONS: &[(&str, u8, u8)] = &[
    ("pyruntimestate", 7, u8::MAX),
    ("_pending_calls", 7, u8::MAX),
    ("_gil_runtime_state", 7, u8::MAX),
    ("_gc_runtime_state", 7, u8::MAX),
    ("_err_stackitem", 7, u8::MAX),
    ("atexitmodule_state", 6, 9),
    ("atexit_state", 10, u8::MAX),
    ("_cframe", 10, 10),
    ("_PyCFrame", 11, 12),
    ("_PyInterpreterFrame", 11, u8::MAX),
    ("PyDictUnicodeEntry", 11, u8::MAX),
    ("_dictvalues", 11, u8::MAX),
    ("_pending_call", 12, u8::MAX),
    ("_obmalloc_state", 12, u8::MAX),
    ("_Py_GlobalMonitors", 12, u8::MAX),
    ("_Py_LocalMonitors", 12, u8::MAX),
    ("_PyCoMonitoringData", 12, u8::MAX),
    ("atexit_py_callback", 12, 13),
    ("_PyThreadStateImpl", 13, u8::MAX),
    ("_Py_DebugOffsets", 13, u8::MAX),
];

/// Where CPython defines the structs that the headers every unit includes do not
/// bring: the source files that implement them, read before the other units
/// ([`LayoutQuery::places`]). Without them the scan reads libpython's units in link
/// order and finds `lockobject` (`Modules/_threadmodule.c`) near the end.
pub const STRUCT_PLACES: &[&str] = &[
    "Objects/unicodeobject.c",
    "Objects/bytearrayobject.c",
    "Objects/methodobject.c",
    "Objects/dictobject.c",
    "Objects/cellobject.c",
    "Objects/classobject.c",
    "Objects/setobject.c",
    "Objects/complexobject.c",
    "Objects/genobject.c",
    "Objects/moduleobject.c",
    "Objects/typeobject.c",
    "Objects/rangeobject.c",
    "Objects/weakrefobject.c",
    "Objects/obmalloc.c",
    "Modules/_threadmodule.c",
    "Modules/atexitmodule.c",
    "Modules/gcmodule.c",
    "Python/gc.c",
    "Python/pystate.c",
];

/// The DWARF query that [`from_dwarf`] needs answered, for CPython 3.`minor` (every
/// struct any version has when the version is not known).
pub fn dwarf_query(minor: Option<u8>) -> LayoutQuery {
    let mut names: Vec<String> = Vec::new();
    let cands = DWARF_SPEC.iter().flat_map(|(_, cands)| cands.iter().map(|(st, _)| *st));
    for st in cands.chain(["_Py_DebugOffsets"]) {
        let versions = STRUCT_VERSIONS.iter().find(|(n, _, _)| *n == st);
        let defined = match (minor, versions) {
            (Some(m), Some(&(_, first, last))) => (first..=last).contains(&m),
            _ => true,
        };
        if defined && !names.iter().any(|n| n == st) {
            names.push(st.to_string());
        }
    }
    LayoutQuery { names, places: STRUCT_PLACES.iter().map(|p| (*p).to_string()).collect() }
}

/// The layout of this build's `_Py_DebugOffsets`, if it has one (3.13+).
pub fn debug_offsets_from_dwarf(answer: &LayoutAnswer) -> Option<TableLayout> {
    debug_offsets_layout(answer)
}

/// Fill the offsets table from a DWARF answer. Keys with no candidate present stay
/// `None`; whether that matters is decided by the code that needs them.
pub fn from_dwarf(answer: &LayoutAnswer) -> Offsets {
    let mut o = Offsets::default();
    for (key, cands) in DWARF_SPEC {
        let v = cands.iter().find_map(|(st, path)| {
            if *path == SIZE {
                answer.size(st)
            } else {
                answer.offset(st, path)
            }
        });
        (key.set)(&mut o, v);
    }
    o
}

/// Which sources a layout may come from (`--layout-source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// DWARF, then the target's `_Py_DebugOffsets`, then a built-in table.
    Auto,
    /// DWARF only.
    Dwarf,
    /// The target's `_Py_DebugOffsets` only (with a built-in table for the fields it lacks).
    DebugOffsets,
    /// A built-in table only.
    Builtin,
}

/// What a layout can be made from, each fetched by the caller only when asked: files
/// and target memory are the caller's, the decision is [`resolve_layout`]'s.
pub trait Sources {
    /// Why DWARF could not be had (the caller's own error, handed back).
    type DwarfError;
    /// The DWARF answer to `query` ([`dwarf_query`] of the version) and the file it
    /// came from.
    fn dwarf(&mut self, query: &LayoutQuery) -> Result<(LayoutAnswer, String), Self::DwarfError>;
    /// `len` bytes of the target's `_Py_DebugOffsets` (at `_PyRuntime`).
    fn debug_offsets(&mut self, len: u64) -> Result<Vec<u8>, String>;
}

/// A layout, where it came from, and what to warn about it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The layout.
    pub layout: Layout,
    /// The file or table it came from, in words.
    pub from: String,
    /// Fallbacks taken that the report should name.
    pub warnings: Vec<String>,
}

/// Why no layout could be made.
#[derive(Debug)]
pub enum Unresolved<E> {
    /// DWARF was required and could not be had.
    Dwarf(E),
    /// `_Py_DebugOffsets` was required and is unusable (why, each source tried).
    DebugOffsets(Vec<String>),
    /// No source gave a layout: DWARF's failure if it was tried, and whether a built-in
    /// table exists for this version.
    Nothing {
        /// Why DWARF failed, when it was tried.
        dwarf: Option<E>,
    },
}

/// One layout of a version and flavour from one source.
pub fn layout(version: PyVersion, flavour: Flavour, source: Source, offsets: Offsets, debug_offsets: Option<TableLayout>) -> Layout {
    Layout { format: LAYOUT_FORMAT, version: (version.major, version.minor), micro: version.micro, flavour, source, offsets, debug_offsets }
}

/// The layout of one DWARF answer.
pub fn from_answer(version: PyVersion, flavour: Flavour, answer: &LayoutAnswer) -> Layout {
    layout(version, flavour, Source::Dwarf, from_dwarf(answer), debug_offsets_from_dwarf(answer))
}

/// `3.12.1` or `3.12 debug`: a table's version, as warnings name it.
pub fn version_label(l: &Layout) -> String {
    let micro = l.micro.map(|m| format!(".{m}")).unwrap_or_default();
    format!("{}.{}{micro}{}", l.version.0, l.version.1, if l.flavour.debug { " debug" } else { "" })
}

/// Decide a build's layout: its DWARF, else the target's own `_Py_DebugOffsets` (3.13+;
/// where each field sits in it comes from the built-in table of the same minor
/// version, which also fills the fields it lacks), else the built-in table of this
/// version (another micro version, or the nearest older minor one, with a warning).
/// No I/O here: `sources` fetches what is asked for, in that order, only as needed.
pub fn resolve_layout<S: Sources>(version: PyVersion, flavour: Flavour, choice: Choice, sources: &mut S) -> Result<Resolved, Unresolved<S::DwarfError>> {
    let mut dwarf_error = None;
    if matches!(choice, Choice::Auto | Choice::Dwarf) {
        match sources.dwarf(&dwarf_query(Some(version.minor))) {
            Ok((answer, file)) => return Ok(Resolved { layout: from_answer(version, flavour, &answer), from: file, warnings: Vec::new() }),
            Err(e) if choice == Choice::Dwarf => return Err(Unresolved::Dwarf(e)),
            Err(e) => dwarf_error = Some(e),
        }
    }
    let builtin = pycoroner_layouts::builtin::lookup(version.major, version.minor, version.micro, flavour);
    if matches!(choice, Choice::Auto | Choice::DebugOffsets) {
        let mut tried = Vec::new();
        match builtin.as_ref().and_then(|(l, _)| l.debug_offsets.clone().map(|t| (t, l.version.1))) {
            Some((table, minor)) => match sources.debug_offsets(table.size) {
                Ok(bytes) => match pycoroner_layouts::debug_offsets::decode(&bytes, &table, minor) {
                    Ok(d) => {
                        let mut offsets = builtin.as_ref().map(|(l, _)| l.offsets.clone()).unwrap_or_default();
                        for key in Offsets::KEYS {
                            if let Some(v) = d.offsets.get(key) {
                                offsets.set(key, Some(v));
                            }
                        }
                        let flavour = Flavour { free_threaded: d.free_threaded, ..flavour };
                        let fill = builtin.as_ref().map(|(l, _)| format!(" (other fields: built-in table {})", version_label(l))).unwrap_or_default();
                        return Ok(Resolved {
                            layout: layout(version, flavour, Source::DebugOffsets, offsets, Some(table)),
                            from: format!("_Py_DebugOffsets{fill}"),
                            warnings: Vec::new(),
                        });
                    }
                    Err(e) => tried.push(e.to_string()),
                },
                Err(e) => tried.push(format!("_Py_DebugOffsets unreadable: {e}")),
            },
            None => tried.push(format!("no known _Py_DebugOffsets layout for CPython {version}")),
        }
        if choice == Choice::DebugOffsets {
            return Err(Unresolved::DebugOffsets(tried));
        }
    }
    let Some((table, how)) = builtin else { return Err(Unresolved::Nothing { dwarf: dwarf_error }) };
    let label = version_label(&table);
    let warnings = match how {
        Match::Exact => Vec::new(),
        Match::OtherMicro => {
            vec![format!("no built-in layout for CPython {version}{}; using the one for {label}", if flavour.debug { " (debug build)" } else { "" })]
        }
        Match::OtherMinor => vec![format!("CPython {version} is newer than any built-in layout; trying the nearest, {label}, which may be wrong")],
    };
    Ok(Resolved { layout: Layout { micro: version.micro, source: Source::Builtin, ..table }, from: format!("built-in table {label}"), warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec names each key once, and a typed key reads back what it set.
    #[test]
    fn every_spec_key_is_a_distinct_table_key() {
        let mut seen = std::collections::HashSet::new();
        for (key, _) in DWARF_SPEC {
            assert!(seen.insert(key.name), "{} twice in DWARF_SPEC", key.name);
            assert!(Offsets::KEYS.contains(&key.name), "{} is not in the offsets table", key.name);
            let mut o = Offsets::default();
            (key.set)(&mut o, Some(7));
            assert_eq!((key.of(&o), o.get(key.name)), (Some(7), Some(7)), "{}", key.name);
        }
    }

    /// Sources that count what was asked of them.
    struct Fake {
        dwarf: Option<LayoutAnswer>,
        table: Result<Vec<u8>, String>,
        asked: Vec<&'static str>,
    }

    impl Sources for Fake {
        type DwarfError = &'static str;
        fn dwarf(&mut self, _query: &LayoutQuery) -> Result<(LayoutAnswer, String), &'static str> {
            self.asked.push("dwarf");
            self.dwarf.take().map(|a| (a, "libpython.debug".into())).ok_or("no DWARF")
        }
        fn debug_offsets(&mut self, _len: u64) -> Result<Vec<u8>, String> {
            self.asked.push("debug_offsets");
            self.table.clone()
        }
    }

    fn v(minor: u8, micro: u8) -> PyVersion {
        PyVersion { major: 3, minor, micro: Some(micro) }
    }

    /// The order of the sources, asked only as far as needed, and each fallback's
    /// warning or error.
    #[test]
    fn layouts_are_resolved_in_order_and_fallbacks_said() {
        let plain = Flavour::default();
        let mut answer = LayoutAnswer::default();
        answer.structs.insert("_ts".into(), pycoroner_layouts::dwarf::StructLayout { size: Some(64), members: Default::default() });
        let mut s = Fake { dwarf: Some(answer), table: Err("unread".into()), asked: vec![] };
        let r = resolve_layout(v(12, 1), plain, Choice::Auto, &mut s).expect("dwarf");
        assert_eq!((r.layout.source, r.from.as_str(), s.asked.as_slice()), (Source::Dwarf, "libpython.debug", &["dwarf"][..]));
        assert_eq!(r.layout.offsets.tstate.size, Some(64));

        // No DWARF, 3.13: the target's table is asked for; unreadable, the built-in one.
        let mut s = Fake { dwarf: None, table: Err("unmapped".into()), asked: vec![] };
        let r = resolve_layout(v(13, 0), plain, Choice::Auto, &mut s).expect("builtin");
        assert_eq!((r.layout.source, s.asked.as_slice()), (Source::Builtin, &["dwarf", "debug_offsets"][..]));
        assert!(r.warnings.is_empty() && r.from == "built-in table 3.13.0", "{r:?}");

        // Another micro version is a warning; no table for 3.12 means no question.
        let mut s = Fake { dwarf: None, table: Err("x".into()), asked: vec![] };
        let r = resolve_layout(v(12, 9), plain, Choice::Builtin, &mut s).expect("builtin");
        assert!(s.asked.is_empty() && r.warnings.len() == 1 && r.warnings[0].contains("3.12.1"), "{r:?}");

        // Required sources fail as themselves.
        let mut s = Fake { dwarf: None, table: Err("x".into()), asked: vec![] };
        assert!(matches!(resolve_layout(v(12, 1), plain, Choice::Dwarf, &mut s), Err(Unresolved::Dwarf("no DWARF"))));
        let mut s = Fake { dwarf: None, table: Ok(vec![0; 8]), asked: vec![] };
        assert!(matches!(resolve_layout(v(13, 0), plain, Choice::DebugOffsets, &mut s), Err(Unresolved::DebugOffsets(t)) if t.len() == 1));
        // A 3.5 has nothing at all.
        let mut s = Fake { dwarf: None, table: Err("x".into()), asked: vec![] };
        assert!(matches!(resolve_layout(v(5, 0), plain, Choice::Auto, &mut s), Err(Unresolved::Nothing { dwarf: Some("no DWARF") })));
    }
}
