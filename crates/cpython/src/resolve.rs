//! Filling the offsets table from DWARF: which struct and member each key of the
//! table is, with the names every CPython version uses. Data, tried in order.

use pycoroner_layouts::dwarf::{LayoutAnswer, LayoutQuery};
use pycoroner_layouts::debug_offsets::TableLayout;
use pycoroner_layouts::{key, Key, Offsets};

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
    (key::interp::next, &[("_is", "next")]),
    (key::interp::threads_head, &[("_is", "threads.head"), ("_is", "tstate_head")]),
    (key::interp::id, &[("_is", "id")]),
    (key::interp::ceval_gil, &[("_is", "ceval.gil")]),
    (key::interp::modules, &[("_is", "imports.modules"), ("_is", "modules")]),
    (key::interp::sysdict, &[("_is", "sysdict")]),
    (key::interp::gc_collecting, &[("_is", "gc.collecting")]),
    (key::interp::size, &[("_is", SIZE)]),
    (key::gil::locked, &[("_gil_runtime_state", "locked")]),
    (key::gil::last_holder, &[("_gil_runtime_state", "last_holder")]),
    (key::tstate::prev, &[("_ts", "prev")]),
    (key::tstate::next, &[("_ts", "next")]),
    (key::tstate::interp, &[("_ts", "interp")]),
    (key::tstate::frame, &[("_ts", "frame")]),
    (key::tstate::cframe, &[("_ts", "cframe")]),
    (key::tstate::current_frame, &[("_ts", "current_frame")]),
    (key::tstate::thread_id, &[("_ts", "thread_id")]),
    (key::tstate::native_thread_id, &[("_ts", "native_thread_id")]),
    (key::tstate::size, &[("_ts", SIZE)]),
    (key::cframe::current_frame, &[("_PyCFrame", "current_frame")]),
    (key::frame::back, &[("_frame", "f_back")]),
    (key::frame::code, &[("_frame", "f_code")]),
    (key::frame::lasti, &[("_frame", "f_lasti")]),
    (key::frame::lineno, &[("_frame", "f_lineno")]),
    (key::frame::trace, &[("_frame", "f_trace")]),
    (key::frame::iframe, &[("_frame", "f_frame")]),
    (key::iframe::previous, &[("_PyInterpreterFrame", "previous")]),
    (key::iframe::code, &[("_PyInterpreterFrame", "f_executable"), ("_PyInterpreterFrame", "f_code")]),
    (key::iframe::instr, &[("_PyInterpreterFrame", "instr_ptr"), ("_PyInterpreterFrame", "prev_instr")]),
    (key::iframe::owner, &[("_PyInterpreterFrame", "owner")]),
    (key::iframe::is_entry, &[("_PyInterpreterFrame", "is_entry")]),
    (key::iframe::localsplus, &[("_PyInterpreterFrame", "localsplus")]),
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
    (key::object::ob_size, &[("PyVarObject", "ob_size")]),
    (key::type_object::tp_name, &[("_typeobject", "tp_name")]),
    (key::type_object::tp_flags, &[("_typeobject", "tp_flags")]),
    (key::unicode::length, &[("PyASCIIObject", "length")]),
    (key::unicode::state, &[("PyASCIIObject", "state")]),
    (key::unicode::ascii_size, &[("PyASCIIObject", SIZE)]),
    (key::unicode::compact_size, &[("PyCompactUnicodeObject", SIZE)]),
    (key::unicode::data, &[("PyUnicodeObject", "data")]),
    (key::bytes::sval, &[("PyBytesObject", "ob_sval")]),
    (key::tuple::item, &[("PyTupleObject", "ob_item")]),
    (key::long::digit, &[("_longobject", "long_value.ob_digit"), ("_longobject", "ob_digit")]),
    (key::long::lv_tag, &[("_longobject", "long_value.lv_tag")]),
    (key::float::fval, &[("PyFloatObject", "ob_fval")]),
    (key::list::item, &[("PyListObject", "ob_item")]),
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
    (key::set::table, &[("PySetObject", "table")]),
    (key::set::mask, &[("PySetObject", "mask")]),
    (key::set::used, &[("PySetObject", "used")]),
    (key::set::entry_size, &[("setentry", SIZE)]),
    (key::type_ext::basicsize, &[("_typeobject", "tp_basicsize")]),
    (key::type_ext::itemsize, &[("_typeobject", "tp_itemsize")]),
    (key::type_ext::dictoffset, &[("_typeobject", "tp_dictoffset")]),
    (key::type_ext::dict, &[("_typeobject", "tp_dict")]),
    (key::type_ext::base, &[("_typeobject", "tp_base")]),
    (key::type_ext::ht_qualname, &[("_heaptypeobject", "ht_qualname")]),
    (key::type_ext::ht_cached_keys, &[("_heaptypeobject", "ht_cached_keys")]),
    (key::function::code, &[("PyFunctionObject", "func_code")]),
    (key::function::name, &[("PyFunctionObject", "func_name")]),
    (key::function::qualname, &[("PyFunctionObject", "func_qualname")]),
    (key::function::module, &[("PyFunctionObject", "func_module")]),
    (key::method::func, &[("PyMethodObject", "im_func")]),
    (key::method::self_, &[("PyMethodObject", "im_self")]),
    (key::module::dict, &[("PyModuleObject", "md_dict")]),
    (key::module::def, &[("PyModuleObject", "md_def")]),
    (key::module::exec, &[("PyModuleObject", "md_exec")]),
    (key::module::token, &[("PyModuleObject", "md_token")]),
    (key::module::token_is_def, &[("PyModuleObject", "md_token_is_def")]),
    (key::module::def_methods, &[("PyModuleDef", "m_methods")]),
    (key::cfunction::ml, &[("PyCFunctionObject", "m_ml")]),
    (key::cfunction::self_, &[("PyCFunctionObject", "m_self")]),
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

/// The DWARF query that [`from_dwarf`] needs answered.
pub fn dwarf_query() -> LayoutQuery {
    let mut names: Vec<String> = Vec::new();
    for (_, cands) in DWARF_SPEC {
        for (st, _) in *cands {
            if !names.iter().any(|n| n == st) {
                names.push((*st).to_string());
            }
        }
    }
    names.push("_Py_DebugOffsets".to_string());
    LayoutQuery { names }
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
}
