//! Filling the offsets table from DWARF: which struct and member each key of the
//! table is, with the names every CPython version uses. Data, tried in order.

use pycoroner_debuginfo::{LayoutAnswer, LayoutQuery};
use pycoroner_layouts::debug_offsets::TableLayout;
use pycoroner_layouts::Offsets;

/// `sizeof` instead of a member.
const SIZE: &str = "sizeof";

/// Key of the offsets table → candidate (struct or typedef name, member path).
/// The first candidate present in the DWARF wins.
pub const DWARF_SPEC: &[(&str, &[(&str, &str)])] = &[
    ("runtime.interpreters_head", &[("pyruntimestate", "interpreters.head")]),
    ("runtime.interpreters_main", &[("pyruntimestate", "interpreters.main")]),
    ("runtime.tstate_current", &[("pyruntimestate", "gilstate.tstate_current")]),
    ("runtime.gil_locked", &[("pyruntimestate", "ceval.gil.locked")]),
    ("runtime.gil_last_holder", &[("pyruntimestate", "ceval.gil.last_holder")]),
    ("runtime.gc_collecting", &[("pyruntimestate", "gc.collecting")]),
    ("runtime.size", &[("pyruntimestate", SIZE)]),
    ("interp.next", &[("_is", "next")]),
    ("interp.threads_head", &[("_is", "threads.head"), ("_is", "tstate_head")]),
    ("interp.id", &[("_is", "id")]),
    ("interp.ceval_gil", &[("_is", "ceval.gil")]),
    ("interp.modules", &[("_is", "imports.modules"), ("_is", "modules")]),
    ("interp.sysdict", &[("_is", "sysdict")]),
    ("interp.gc_collecting", &[("_is", "gc.collecting")]),
    ("interp.size", &[("_is", SIZE)]),
    ("gil.locked", &[("_gil_runtime_state", "locked")]),
    ("gil.last_holder", &[("_gil_runtime_state", "last_holder")]),
    ("tstate.prev", &[("_ts", "prev")]),
    ("tstate.next", &[("_ts", "next")]),
    ("tstate.interp", &[("_ts", "interp")]),
    ("tstate.frame", &[("_ts", "frame")]),
    ("tstate.cframe", &[("_ts", "cframe")]),
    ("tstate.current_frame", &[("_ts", "current_frame")]),
    ("tstate.thread_id", &[("_ts", "thread_id")]),
    ("tstate.native_thread_id", &[("_ts", "native_thread_id")]),
    ("tstate.size", &[("_ts", SIZE)]),
    ("cframe.current_frame", &[("_PyCFrame", "current_frame")]),
    ("frame.back", &[("_frame", "f_back")]),
    ("frame.code", &[("_frame", "f_code")]),
    ("frame.lasti", &[("_frame", "f_lasti")]),
    ("frame.lineno", &[("_frame", "f_lineno")]),
    ("frame.trace", &[("_frame", "f_trace")]),
    ("frame.iframe", &[("_frame", "f_frame")]),
    ("iframe.previous", &[("_PyInterpreterFrame", "previous")]),
    ("iframe.code", &[("_PyInterpreterFrame", "f_executable"), ("_PyInterpreterFrame", "f_code")]),
    ("iframe.instr", &[("_PyInterpreterFrame", "instr_ptr"), ("_PyInterpreterFrame", "prev_instr")]),
    ("iframe.owner", &[("_PyInterpreterFrame", "owner")]),
    ("iframe.is_entry", &[("_PyInterpreterFrame", "is_entry")]),
    ("iframe.localsplus", &[("_PyInterpreterFrame", "localsplus")]),
    ("code.filename", &[("PyCodeObject", "co_filename")]),
    ("code.name", &[("PyCodeObject", "co_name")]),
    ("code.qualname", &[("PyCodeObject", "co_qualname")]),
    ("code.firstlineno", &[("PyCodeObject", "co_firstlineno")]),
    ("code.linetable", &[("PyCodeObject", "co_linetable"), ("PyCodeObject", "co_lnotab")]),
    ("code.code", &[("PyCodeObject", "co_code")]),
    ("code.code_adaptive", &[("PyCodeObject", "co_code_adaptive")]),
    ("code.firsttraceable", &[("PyCodeObject", "_co_firsttraceable")]),
    ("object.refcnt", &[("_object", "ob_refcnt")]),
    ("object.ob_type", &[("_object", "ob_type")]),
    ("object.ob_size", &[("PyVarObject", "ob_size")]),
    ("type_object.tp_name", &[("_typeobject", "tp_name")]),
    ("type_object.tp_flags", &[("_typeobject", "tp_flags")]),
    ("unicode.length", &[("PyASCIIObject", "length")]),
    ("unicode.state", &[("PyASCIIObject", "state")]),
    ("unicode.ascii_size", &[("PyASCIIObject", SIZE)]),
    ("unicode.compact_size", &[("PyCompactUnicodeObject", SIZE)]),
    ("unicode.data", &[("PyUnicodeObject", "data")]),
    ("bytes.sval", &[("PyBytesObject", "ob_sval")]),
    ("tuple.item", &[("PyTupleObject", "ob_item")]),
    ("long.digit", &[("_longobject", "long_value.ob_digit"), ("_longobject", "ob_digit")]),
    ("long.lv_tag", &[("_longobject", "long_value.lv_tag")]),
    ("float.fval", &[("PyFloatObject", "ob_fval")]),
    ("list.item", &[("PyListObject", "ob_item")]),
    ("bytearray.start", &[("PyByteArrayObject", "ob_start")]),
    ("dict.used", &[("PyDictObject", "ma_used")]),
    ("dict.keys", &[("PyDictObject", "ma_keys")]),
    ("dict.values", &[("PyDictObject", "ma_values")]),
    ("dict.dk_size", &[("_dictkeysobject", "dk_size")]),
    ("dict.dk_log2_size", &[("_dictkeysobject", "dk_log2_size")]),
    ("dict.dk_log2_index_bytes", &[("_dictkeysobject", "dk_log2_index_bytes")]),
    ("dict.dk_kind", &[("_dictkeysobject", "dk_kind")]),
    ("dict.dk_nentries", &[("_dictkeysobject", "dk_nentries")]),
    ("dict.dk_indices", &[("_dictkeysobject", "dk_indices")]),
    ("dict.entry_size", &[("PyDictKeyEntry", SIZE)]),
    ("dict.unicode_entry_size", &[("PyDictUnicodeEntry", SIZE)]),
    ("dict.values_values", &[("_dictvalues", "values")]),
    ("dict.values_valid", &[("_dictvalues", "valid")]),
    ("set.table", &[("PySetObject", "table")]),
    ("set.mask", &[("PySetObject", "mask")]),
    ("set.used", &[("PySetObject", "used")]),
    ("set.entry_size", &[("setentry", SIZE)]),
    ("type_ext.basicsize", &[("_typeobject", "tp_basicsize")]),
    ("type_ext.itemsize", &[("_typeobject", "tp_itemsize")]),
    ("type_ext.dictoffset", &[("_typeobject", "tp_dictoffset")]),
    ("type_ext.dict", &[("_typeobject", "tp_dict")]),
    ("type_ext.base", &[("_typeobject", "tp_base")]),
    ("type_ext.ht_qualname", &[("_heaptypeobject", "ht_qualname")]),
    ("type_ext.ht_cached_keys", &[("_heaptypeobject", "ht_cached_keys")]),
    ("function.code", &[("PyFunctionObject", "func_code")]),
    ("function.name", &[("PyFunctionObject", "func_name")]),
    ("function.qualname", &[("PyFunctionObject", "func_qualname")]),
    ("function.module", &[("PyFunctionObject", "func_module")]),
    ("method.func", &[("PyMethodObject", "im_func")]),
    ("method.self_", &[("PyMethodObject", "im_self")]),
    ("module.dict", &[("PyModuleObject", "md_dict")]),
    ("module.def", &[("PyModuleObject", "md_def")]),
    ("module.exec", &[("PyModuleObject", "md_exec")]),
    ("module.token", &[("PyModuleObject", "md_token")]),
    ("module.token_is_def", &[("PyModuleObject", "md_token_is_def")]),
    ("module.def_methods", &[("PyModuleDef", "m_methods")]),
    ("cfunction.ml", &[("PyCFunctionObject", "m_ml")]),
    ("cfunction.self_", &[("PyCFunctionObject", "m_self")]),
    ("methoddef.name", &[("PyMethodDef", "ml_name")]),
    ("complex.real", &[("PyComplexObject", "cval.real")]),
    ("complex.imag", &[("PyComplexObject", "cval.imag")]),
    ("slice.start", &[("PySliceObject", "start")]),
    ("slice.stop", &[("PySliceObject", "stop")]),
    ("slice.step", &[("PySliceObject", "step")]),
    ("range.start", &[("rangeobject", "start")]),
    ("range.stop", &[("rangeobject", "stop")]),
    ("range.step", &[("rangeobject", "step")]),
    ("cell.obj", &[("PyCellObject", "ob_ref")]),
    ("exception.args", &[("PyBaseExceptionObject", "args")]),
    ("exception.context", &[("PyBaseExceptionObject", "context")]),
    ("exception.cause", &[("PyBaseExceptionObject", "cause")]),
    ("exception.suppress_context", &[("PyBaseExceptionObject", "suppress_context")]),
    ("code_vars.argcount", &[("PyCodeObject", "co_argcount")]),
    ("code_vars.kwonlyargcount", &[("PyCodeObject", "co_kwonlyargcount")]),
    ("code_vars.flags", &[("PyCodeObject", "co_flags")]),
    ("code_vars.nlocals", &[("PyCodeObject", "co_nlocals")]),
    ("code_vars.varnames", &[("PyCodeObject", "co_varnames")]),
    ("code_vars.cellvars", &[("PyCodeObject", "co_cellvars")]),
    ("code_vars.freevars", &[("PyCodeObject", "co_freevars")]),
    ("code_vars.localsplusnames", &[("PyCodeObject", "co_localsplusnames")]),
    ("code_vars.localspluskinds", &[("PyCodeObject", "co_localspluskinds")]),
    ("frame_vars.localsplus", &[("_frame", "f_localsplus")]),
    ("frame_vars.globals", &[("_PyInterpreterFrame", "f_globals"), ("_frame", "f_globals")]),
    ("frame_vars.builtins", &[("_PyInterpreterFrame", "f_builtins"), ("_frame", "f_builtins")]),
    ("exc.curexc_value", &[("_ts", "curexc_value")]),
    ("exc.current_exception", &[("_ts", "current_exception")]),
    ("exc.tstate_exc_value", &[("_ts", "exc_value")]),
    ("exc.exc_info", &[("_ts", "exc_info")]),
    ("exc.item_value", &[("_err_stackitem", "exc_value")]),
    ("exc.item_previous", &[("_err_stackitem", "previous_item")]),
];

/// Our key → member of `_Py_DebugOffsets` (3.13+) holding the same offset. The struct
/// whose `size` bounds each is the member's first path component.
pub const DEBUG_OFFSETS_SPEC: &[(&str, &str)] = &[
    ("runtime.size", "runtime_state.size"),
    ("runtime.interpreters_head", "runtime_state.interpreters_head"),
    ("interp.size", "interpreter_state.size"),
    ("interp.id", "interpreter_state.id"),
    ("interp.next", "interpreter_state.next"),
    ("interp.threads_head", "interpreter_state.threads_head"),
    ("interp.ceval_gil", "interpreter_state.ceval_gil"),
    ("interp.modules", "interpreter_state.imports_modules"),
    ("tstate.size", "thread_state.size"),
    ("tstate.prev", "thread_state.prev"),
    ("tstate.next", "thread_state.next"),
    ("tstate.interp", "thread_state.interp"),
    ("tstate.current_frame", "thread_state.current_frame"),
    ("tstate.thread_id", "thread_state.thread_id"),
    ("tstate.native_thread_id", "thread_state.native_thread_id"),
    ("iframe.previous", "interpreter_frame.previous"),
    ("iframe.code", "interpreter_frame.executable"),
    ("iframe.instr", "interpreter_frame.instr_ptr"),
    ("iframe.localsplus", "interpreter_frame.localsplus"),
    ("iframe.owner", "interpreter_frame.owner"),
    ("code.filename", "code_object.filename"),
    ("code.name", "code_object.name"),
    ("code.qualname", "code_object.qualname"),
    ("code.linetable", "code_object.linetable"),
    ("code.firstlineno", "code_object.firstlineno"),
    ("code_vars.argcount", "code_object.argcount"),
    ("code_vars.localsplusnames", "code_object.localsplusnames"),
    ("code_vars.localspluskinds", "code_object.localspluskinds"),
    ("code.code_adaptive", "code_object.co_code_adaptive"),
    ("object.ob_type", "pyobject.ob_type"),
    ("type_object.tp_name", "type_object.tp_name"),
    ("type_object.tp_flags", "type_object.tp_flags"),
    ("tuple.item", "tuple_object.ob_item"),
    ("object.ob_size", "tuple_object.ob_size"),
    ("list.item", "list_object.ob_item"),
    ("set.table", "set_object.table"),
    ("set.mask", "set_object.mask"),
    ("set.used", "set_object.used"),
    ("dict.keys", "dict_object.ma_keys"),
    ("dict.values", "dict_object.ma_values"),
    ("float.fval", "float_object.ob_fval"),
    ("long.lv_tag", "long_object.lv_tag"),
    ("long.digit", "long_object.ob_digit"),
    ("bytes.sval", "bytes_object.ob_sval"),
    ("unicode.state", "unicode_object.state"),
    ("unicode.length", "unicode_object.length"),
    ("unicode.ascii_size", "unicode_object.asciiobject_size"),
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
            Some(((*key).to_string(), pos, size_pos))
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
        o.set(key, v);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_key_is_a_table_key() {
        for (key, _) in DWARF_SPEC.iter().map(|(k, c)| (k, c.len())).chain(DEBUG_OFFSETS_SPEC.iter().map(|(k, _)| (k, 1))) {
            assert!(Offsets::KEYS.contains(key), "{key} is not in the offsets table");
        }
    }
}
