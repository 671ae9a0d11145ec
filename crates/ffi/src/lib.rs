//! pycoroner's C ABI for debugger scripts (see `include/pycoroner.h`).
//!
//! gdb and lldb hand over callbacks that read the stopped inferior; a [`Session`] wraps
//! them in a [`CallbackTarget`], finds the interpreter once and answers JSON requests
//! (`py-bt`, `py-locals`, `splice`, ...) with text rendered here, so the scripts only
//! translate between the debugger and this library. Every entry point catches panics.
#![deny(missing_docs)]

mod commands;

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use pycoroner::target::{CallbackTarget, FileMapping, SignalInfo};
use pycoroner::{Analysis, Options};
use serde_json::{json, Value};

/// Version of the ABI and request protocol (`PYCORONER_ABI_VERSION`).
pub const ABI_VERSION: u32 = 1;

/// Bound on the mappings and threads a debugger may report.
const MAX_ITEMS: u64 = 1 << 20;

/// `pycoroner_mapping`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// File offset of `start`.
    pub offset: u64,
    /// The file (NUL-terminated).
    pub path: *const c_char,
}

/// `pycoroner_callbacks`.
#[repr(C)]
pub struct Callbacks {
    /// Passed back to every callback.
    pub ctx: *mut c_void,
    /// Read memory: 0 on success.
    pub read_memory: Option<unsafe extern "C" fn(*mut c_void, u64, *mut u8, u64) -> i32>,
    /// List mappings: how many there are, or -1.
    pub list_mappings: Option<unsafe extern "C" fn(*mut c_void, *mut Mapping, u64) -> i64>,
    /// List thread ids: how many there are, or -1.
    pub list_threads: Option<unsafe extern "C" fn(*mut c_void, *mut u32, u64) -> i64>,
    /// Read a thread's 27 registers: 0 on success.
    pub read_registers: Option<unsafe extern "C" fn(*mut c_void, u32, *mut u64) -> i32>,
}

/// One view of a stopped inferior.
pub struct Session {
    analysis: Analysis<CallbackTarget>,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Options a script may pass to `pycoroner_open`.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct OpenOptions {
    pid: Option<u32>,
    executable: Option<String>,
    /// Absent: the user's cache directory; `null`: no cache.
    #[serde(deserialize_with = "present")]
    cache_dir: Option<Option<String>>,
    debug_dirs: Vec<String>,
    sysroot: Option<String>,
    /// The file the debugger loaded for a mapped path (gdb's objfile, found through
    /// its sysroot or solib-search-path), by that path.
    files: std::collections::HashMap<String, String>,
    /// The fatal signal the debugger says a thread took (a core's `$_siginfo`).
    signal: Option<SignalOption>,
}

/// `{"number": 11, "thread": LWP, "code": 1, "address": 0, "sender_pid": 42}` (all but
/// number and thread optional).
#[derive(serde::Deserialize)]
struct SignalOption {
    number: i32,
    thread: u32,
    code: Option<i32>,
    address: Option<u64>,
    sender_pid: Option<u32>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(serde::Deserialize::deserialize(d)?))
}

/// Ask the debugger for a list through a "fill up to cap, return the count" callback.
fn fetch_list<T: Clone>(zero: T, call: impl Fn(*mut T, u64) -> i64) -> Result<Vec<T>, String> {
    let mut cap = 256u64;
    loop {
        let mut buf = vec![zero.clone(); cap as usize];
        let n = call(buf.as_mut_ptr(), cap);
        if n < 0 {
            return Err("the debugger could not list them".into());
        }
        let n = n as u64;
        if n <= cap {
            buf.truncate(n as usize);
            return Ok(buf);
        }
        if n > MAX_ITEMS {
            return Err(format!("the debugger listed {n}, more than {MAX_ITEMS}"));
        }
        cap = n;
    }
}

impl Session {
    /// # Safety
    /// `cb` must point to valid callbacks that stay callable while the session lives.
    unsafe fn open(cb: &Callbacks, options: OpenOptions) -> Result<Session, String> {
        let (Some(read), Some(list_mappings), Some(list_threads)) = (cb.read_memory, cb.list_mappings, cb.list_threads)
        else {
            return Err("read_memory, list_mappings and list_threads are required".into());
        };
        let ctx = cb.ctx;
        let null = Mapping { start: 0, end: 0, offset: 0, path: std::ptr::null() };
        // SAFETY: the callback writes at most `cap` entries into the buffer we own.
        let raw = fetch_list(null, |p, cap| unsafe { list_mappings(ctx, p, cap) }).map_err(|e| format!("mappings: {e}"))?;
        let mut mappings = Vec::new();
        for m in raw {
            if m.path.is_null() || m.end <= m.start {
                continue;
            }
            // SAFETY: the header requires each path to be a valid C string during open.
            let path = unsafe { CStr::from_ptr(m.path) }.to_string_lossy().into_owned();
            mappings.push(FileMapping { start: m.start, end: m.end, file_offset: m.offset, path });
        }
        // SAFETY: as above, for thread ids.
        let lwps = fetch_list(0u32, |p, cap| unsafe { list_threads(ctx, p, cap) }).map_err(|e| format!("threads: {e}"))?;
        let read_fn: pycoroner::target::callback::ReadFn = Box::new(move |addr, buf: &mut [u8]| {
            // SAFETY: `buf` is ours and exactly `buf.len()` bytes long.
            unsafe { read(ctx, addr, buf.as_mut_ptr(), buf.len() as u64) == 0 }
        });
        let regs_cb = cb.read_registers;
        let regs_fn: pycoroner::target::callback::RegistersFn = Box::new(move |lwp| {
            let f = regs_cb?;
            let mut regs = [0u64; 27];
            // SAFETY: the callback fills at most 27 registers into our array.
            (unsafe { f(ctx, lwp, regs.as_mut_ptr()) } == 0).then_some(regs)
        });
        let mut target = CallbackTarget::new(read_fn, mappings, &lwps, regs_fn, options.pid, options.executable);
        target.set_sysroot(options.sysroot.map(PathBuf::from));
        target.set_debugger_files(options.files.into_iter().map(|(k, v)| (k, PathBuf::from(v))).collect());
        if let Some(sig) = options.signal {
            // No si_code given (lldb): raised by the kernel.
            let info = SignalInfo::new(sig.number, sig.code.unwrap_or(1), sig.address, sig.sender_pid);
            target.set_signal(sig.thread, info);
        }
        let mut opts = Options::cli_default();
        if let Some(dir) = options.cache_dir {
            opts.cache_dir = dir.map(PathBuf::from);
        }
        opts.debug_dirs = options.debug_dirs.into_iter().map(PathBuf::from).collect();
        let analysis = Analysis::open(target, opts).map_err(|e| e.to_string())?;
        Ok(Session { analysis })
    }
}

fn set_error(e: String) {
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
}

fn to_c(s: String) -> *mut c_char {
    // Interior NULs cannot cross the ABI; they never occur in JSON text we make.
    CString::new(s.replace('\0', "\\u0000")).map(CString::into_raw).unwrap_or(std::ptr::null_mut())
}

/// `pycoroner_abi_version`.
#[no_mangle]
pub extern "C" fn pycoroner_abi_version() -> u32 {
    ABI_VERSION
}

/// `pycoroner_open`.
///
/// # Safety
/// `callbacks` must be NULL or point to valid callbacks that stay callable until
/// `pycoroner_close`; `options_json` must be NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn pycoroner_open(callbacks: *const Callbacks, options_json: *const c_char) -> *mut Session {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: checked for NULL; the caller guarantees validity otherwise.
        let cb = unsafe { callbacks.as_ref() }.ok_or("no callbacks given")?;
        let options = if options_json.is_null() {
            OpenOptions::default()
        } else {
            // SAFETY: the caller passes a C string.
            let text = unsafe { CStr::from_ptr(options_json) }.to_string_lossy();
            serde_json::from_str(&text).map_err(|e| format!("bad options: {e}"))?
        };
        // SAFETY: forwarded from the caller's guarantee.
        unsafe { Session::open(cb, options) }
    }));
    match r {
        Ok(Ok(s)) => Box::into_raw(Box::new(s)),
        Ok(Err(e)) => {
            set_error(e);
            std::ptr::null_mut()
        }
        Err(_) => {
            set_error("internal error in pycoroner (a bug: please report it)".into());
            std::ptr::null_mut()
        }
    }
}

/// `pycoroner_last_error`.
#[no_mangle]
pub extern "C" fn pycoroner_last_error() -> *mut c_char {
    match LAST_ERROR.with(|l| l.borrow_mut().take()) {
        Some(e) => to_c(e),
        None => std::ptr::null_mut(),
    }
}

/// `pycoroner_request`.
///
/// # Safety
/// `session` must come from `pycoroner_open` and not be closed; `request_json` must be
/// a C string.
#[no_mangle]
pub unsafe extern "C" fn pycoroner_request(session: *mut Session, request_json: *const c_char) -> *mut c_char {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller passes a live session or NULL.
        let s = unsafe { session.as_mut() }.ok_or("no session")?;
        if request_json.is_null() {
            return Err("no request".to_string());
        }
        // SAFETY: the caller passes a C string.
        let text = unsafe { CStr::from_ptr(request_json) }.to_string_lossy();
        let req: Value = serde_json::from_str(&text).map_err(|e| format!("bad request: {e}"))?;
        commands::handle(s, &req).and_then(|r| serde_json::to_value(r).map_err(|e| e.to_string()))
    }));
    let answer = match r {
        Ok(Ok(mut v)) => {
            if let Some(o) = v.as_object_mut() {
                o.insert("ok".into(), Value::Bool(true));
            }
            v
        }
        Ok(Err(e)) => json!({"ok": false, "error": e}),
        Err(_) => json!({"ok": false, "error": "internal error in pycoroner (a bug: please report it)"}),
    };
    to_c(answer.to_string())
}

/// `pycoroner_free`.
///
/// # Safety
/// `s` must be NULL or a string returned by this library, freed once.
#[no_mangle]
pub unsafe extern "C" fn pycoroner_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: it came from CString::into_raw in this library.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// `pycoroner_close`.
///
/// # Safety
/// `session` must be NULL or come from `pycoroner_open`, closed once.
#[no_mangle]
pub unsafe extern "C" fn pycoroner_close(session: *mut Session) {
    if !session.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: it came from Box::into_raw in pycoroner_open.
            drop(unsafe { Box::from_raw(session) });
        }));
    }
}
