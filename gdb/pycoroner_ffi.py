"""ctypes binding of pycoroner's C ABI (crates/ffi/include/pycoroner.h), shared by the
gdb and lldb scripts. It only moves bytes between a debugger and the library: all
CPython decoding happens in Rust."""

import ctypes
import json
import os

ABI_VERSION = 1
LIB_NAME = "libpycoroner_ffi.so"
# Linux x86_64 `struct user_regs_struct`, the order the library expects.
# The signals faulthandler reports (SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGSEGV): a thread
# stopped by one of them is the crashed thread; a breakpoint's SIGTRAP is not.
FATAL_SIGNALS = (4, 6, 7, 8, 11)

REGISTER_NAMES = (
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
    "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
)


class PycoronerError(Exception):
    """One line for the user."""


class Mapping(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint64), ("end", ctypes.c_uint64), ("offset", ctypes.c_uint64),
                ("path", ctypes.c_char_p)]


READ = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64)
MAPS = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.POINTER(Mapping), ctypes.c_uint64)
THREADS = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32), ctypes.c_uint64)
REGS = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64))


class Callbacks(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_void_p), ("read_memory", READ), ("list_mappings", MAPS),
                ("list_threads", THREADS), ("read_registers", REGS)]


_lib = None


def candidates(script_dir):
    """Where the library is looked for, in order."""
    out = []
    env = os.environ.get("PYCORONER_LIB")
    if env:
        out.append(env)
    out.append(os.path.join(script_dir, LIB_NAME))
    # Installed (release tarball, wheel): PREFIX/share/pycoroner/gdb beside PREFIX/lib.
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(script_dir)))
    out.append(os.path.join(prefix, "lib", LIB_NAME))
    root = os.path.dirname(script_dir)
    for profile in ("release", "debug"):
        out.append(os.path.join(root, "target", profile, LIB_NAME))
    return out


def load(script_dir):
    """The library, loaded once; PycoronerError says where it looked or what differs."""
    global _lib
    if _lib is not None:
        return _lib
    tried = candidates(script_dir)
    path = next((p for p in tried if os.path.isfile(p)), None)
    if path is None:
        raise PycoronerError("pycoroner: %s not found (looked in %s); build it with "
                             "`cargo build --release -p pycoroner-ffi` or set PYCORONER_LIB"
                             % (LIB_NAME, ", ".join(tried)))
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise PycoronerError("pycoroner: cannot load %s: %s" % (path, e))
    lib.pycoroner_abi_version.restype = ctypes.c_uint32
    version = lib.pycoroner_abi_version()
    if version != ABI_VERSION:
        raise PycoronerError("pycoroner: %s has ABI version %d but this script speaks version %d; "
                             "use the script and library of the same build" % (path, version, ABI_VERSION))
    lib.pycoroner_open.restype = ctypes.c_void_p
    lib.pycoroner_open.argtypes = [ctypes.POINTER(Callbacks), ctypes.c_char_p]
    lib.pycoroner_last_error.restype = ctypes.c_void_p
    lib.pycoroner_request.restype = ctypes.c_void_p
    lib.pycoroner_request.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.pycoroner_free.argtypes = [ctypes.c_void_p]
    lib.pycoroner_close.argtypes = [ctypes.c_void_p]
    lib.path = path
    _lib = lib
    return lib


def _take_string(lib, ptr):
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.pycoroner_free(ptr)


class Backend(object):
    """What a debugger provides. Subclasses override these."""

    def read(self, addr, size):
        """bytes, or None if unreadable."""
        raise NotImplementedError

    def mappings(self):
        """[(start, end, file_offset, path)] of file-backed mappings."""
        raise NotImplementedError

    def threads(self):
        """[lwp]"""
        raise NotImplementedError

    def registers(self, lwp):
        """27 ints in REGISTER_NAMES order, or None."""
        return None


class Session(object):
    """One view of the stopped inferior (open a new one when it has run)."""

    def __init__(self, lib, backend, options):
        self.lib = lib
        self.backend = backend
        self._keep = []

        def read(_ctx, addr, buf, size):
            try:
                data = backend.read(addr, size)
                if data is None or len(data) != size:
                    return 1
                ctypes.memmove(buf, data, size)
                return 0
            except Exception:
                return 1

        def maps(_ctx, out, cap):
            try:
                ms = backend.mappings()
                for i, (start, end, off, path) in enumerate(ms[:cap]):
                    p = path.encode("utf-8", "surrogateescape")
                    self._keep.append(p)
                    out[i] = Mapping(start, end, off, p)
                return len(ms)
            except Exception:
                return -1

        def threads(_ctx, out, cap):
            try:
                ts = backend.threads()
                for i, t in enumerate(ts[:cap]):
                    out[i] = t
                return len(ts)
            except Exception:
                return -1

        def regs(_ctx, lwp, out):
            try:
                r = backend.registers(lwp)
                if not r:
                    return 1
                for i, v in enumerate(r[:27]):
                    out[i] = v & 0xFFFFFFFFFFFFFFFF
                return 0
            except Exception:
                return 1

        self._callbacks = Callbacks(None, READ(read), MAPS(maps), THREADS(threads), REGS(regs))
        handle = lib.pycoroner_open(ctypes.byref(self._callbacks), json.dumps(options).encode())
        if not handle:
            raise PycoronerError("pycoroner: " + (_take_string(lib, lib.pycoroner_last_error()) or "cannot open"))
        self._handle = handle

    def request(self, **req):
        """The library's answer (a dict); PycoronerError if it failed."""
        if not self._handle:
            raise PycoronerError("pycoroner: the session is closed")
        text = _take_string(self.lib, self.lib.pycoroner_request(self._handle, json.dumps(req).encode()))
        if text is None:
            raise PycoronerError("pycoroner: no answer (out of memory?)")
        answer = json.loads(text)
        if not answer.get("ok"):
            raise PycoronerError(answer.get("error") or "pycoroner: request failed")
        return answer

    def wants_object(self, function):
        """The argument names to read in a frame of `function` (the object it works on,
        which py-bt names), or () if none. Which frames those are is the library's call."""
        if getattr(self, "_object_frames", None) is None:
            self._object_frames = self.request(request="object-frames")["rules"]
        if function:
            for rule in self._object_frames:
                if function in rule["names"] or function.startswith(tuple(rule["prefixes"])):
                    return rule["variables"]
        return ()

    def close(self):
        if self._handle:
            self.lib.pycoroner_close(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


STYLES = ("libpython", "python")

HEAP_USAGE = "usage: py-heap [--top N] [--largest N] [--untracked]"
REFERRERS_USAGE = "usage: py-referrers ADDRESS [--levels N]"


def heap_fields(arg):
    """py-heap's `--top N`, `--largest N` and `--untracked`, as the request's fields."""
    words = arg.split()
    fields = {}
    while words:
        flag = words.pop(0)
        if flag == "--untracked":
            fields["untracked"] = True
            continue
        if flag not in ("--top", "--largest") or not words or not words[0].isdigit():
            raise PycoronerError(HEAP_USAGE)
        fields[flag[2:]] = int(words.pop(0))
    return fields


def referrers_fields(arg, address_of):
    """py-referrers' ADDRESS (read by the debugger's `address_of`) and `--levels N`."""
    words = arg.split()
    if not words:
        raise PycoronerError(REFERRERS_USAGE)
    fields = {"address": address_of(words.pop(0))}
    if words:
        if len(words) != 2 or words[0] != "--levels" or not words[1].isdigit():
            raise PycoronerError(REFERRERS_USAGE)
        fields["levels"] = int(words[1])
    return fields


def stops(session, lwp, frames, style):
    """Where py-up/py-down stop, newest first: dicts with the native `level`, and
    `python` (a Python frame's index) or `text` (a C call's line, as CPython's script
    writes it); and how many Python frames the thread has. `frames`: the thread's
    native frames, newest first, as dicts (function, module, inlined, pc, and `object`
    where the library asks for it)."""
    answer = session.request(request="stops", lwp=lwp, frames=frames, style=style)
    return answer["stops"], answer["count"]


class Navigator(object):
    """py-up / py-down / the selected Python frame, over a debugger's frames, as
    CPython's script moves: the current stop is the first at or older than the
    selected native frame; py-up and py-down go to the next stop. A stop is a Python
    frame or a C call in progress (from `stops`). The state remembered
    between commands is (lwp, native level, stop index): several Python frames can
    share one native frame (3.11+)."""

    def __init__(self):
        self.state = None

    def current(self, lwp, level, stops):
        """The current stop's index, or None when no stop is at or older than `level`."""
        s = self.state
        if s and s[0] == lwp and s[1] == level and s[2] < len(stops) and stops[s[2]]["level"] == level:
            return s[2]
        for k, stop in enumerate(stops):
            if stop["level"] >= level:
                return k
        return None

    @staticmethod
    def _unplaced(stops, count):
        """True when the thread has Python frames but none could be placed among the
        native ones: then all of them stand for the selected one, from the newest."""
        return count and not any(st.get("python") is not None for st in stops)

    @staticmethod
    def _python_from(stops, k, default):
        """The Python frame of stop `k`, or for a C call the Python frame that made it."""
        return next((st["python"] for st in stops[k:] if st.get("python") is not None), default)

    def selected(self, lwp, level, stops, count):
        """The selected Python frame's index: the current stop's, or for a C call the
        Python frame that made it; None if there is none."""
        if self._unplaced(stops, count):
            return 0
        k = self.current(lwp, level, stops)
        return None if k is None else self._python_from(stops, k, None)

    def bt_start(self, lwp, level, stops, count):
        """Where py-bt starts: (Python index, native level), from the current stop;
        past the end (nothing to show) when no stop is at or older than `level`."""
        if self._unplaced(stops, count):
            return 0, None
        k = self.current(lwp, level, stops)
        if k is None:
            return count, None
        return self._python_from(stops, k, count), stops[k]["level"]

    def move(self, lwp, level, stops, delta):
        """The stop index after moving `delta` (+1 older, -1 newer), or None at the end."""
        k = self.current(lwp, level, stops)
        if k is None:
            return None
        target = k + delta
        if target < 0 or target >= len(stops):
            return None
        self.state = (lwp, stops[target]["level"], target)
        return target
