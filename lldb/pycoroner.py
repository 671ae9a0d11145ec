"""pycoroner for lldb: `command script import lldb/pycoroner.py`.

Gives the commands of the gdb script (py-bt, py-bt-full, py-list, py-locals, py-print,
py-up, py-down, py-threads, py-tasks, py-state, py-heap, py-gc, py-referrers, py-style) and a summary provider for `PyObject *`
and the other `Py*Object *` types. Objects are written as CPython's python3.X-gdb.py
writes them (`py-style libpython`, the default) or as repr() does (`py-style python`). All CPython decoding is done by pycoroner's Rust library
(libpycoroner_ffi.so next to this file, in ../target/release, or $PYCORONER_LIB);
this script only hands it lldb's memory, modules and threads.
"""

import os
import sys

import lldb

_here = os.path.dirname(os.path.abspath(os.path.realpath(__file__)))
for _d in (_here, os.path.join(os.path.dirname(_here), "gdb")):
    if os.path.isfile(os.path.join(_d, "pycoroner_ffi.py")) and _d not in sys.path:
        sys.path.insert(0, _d)

import pycoroner_ffi as ffi  # noqa: E402

PAGE = 0x1000


class LldbBackend(ffi.Backend):
    def __init__(self, target):
        self.target = target
        self.process = target.GetProcess()

    def read(self, addr, size):
        if size == 0:
            return b""
        err = lldb.SBError()
        data = self.process.ReadMemory(addr, size, err)
        if err.Success() and data is not None and len(data) == size:
            return data
        # A core lacks read-only file-backed segments: lldb reads them from the module.
        # Never a writable section's: the file holds its initial contents, not the
        # process's (a minidump lacks whatever its writer did not keep).
        where = lldb.SBAddress(addr, self.target)
        section = where.GetSection()
        if not section.IsValid() or section.GetPermissions() & lldb.ePermissionsWritable:
            return None
        err = lldb.SBError()
        data = self.target.ReadMemory(where, size, err)
        if data is not None and len(data) == size:
            return data
        return None

    def mappings(self):
        out = []
        for m in self.target.module_iter():
            path = m.GetFileSpec().fullpath
            if not path:
                continue
            for i in range(m.GetNumSections()):
                s = m.GetSectionAtIndex(i)
                if not s.GetName().startswith("PT_LOAD"):
                    continue
                load = s.GetLoadAddress(self.target)
                if load == lldb.LLDB_INVALID_ADDRESS or s.GetFileByteSize() == 0:
                    continue
                start, offset = load & ~(PAGE - 1), s.GetFileOffset() & ~(PAGE - 1)
                end = (load + s.GetFileByteSize() + PAGE - 1) & ~(PAGE - 1)
                out.append((start, end, offset, path))
        out.sort()
        return out

    def threads(self):
        return [t.GetThreadID() for t in self.process]

    def registers(self, lwp):
        # lldb has no fs_base: pycoroner then matches 3.6/3.7 thread states through
        # glibc's thread descriptor. rip/rsp/rbp allow native unwinding.
        t = self.process.GetThreadByID(lwp)
        if not t.IsValid() or t.GetNumFrames() == 0:
            return None
        f = t.GetFrameAtIndex(0)
        regs = []
        for name in ffi.REGISTER_NAMES:
            v = f.FindRegister(name)
            regs.append(v.GetValueAsUnsigned(0) if v.IsValid() else 0)
        return regs


def fatal_signal(process):
    """The thread a fatal signal stopped (a core's crashing thread), as the library's
    open option; lldb gives no si_code or fault address."""
    for t in process:
        if t.GetStopReason() == lldb.eStopReasonSignal and t.GetStopReasonDataCount() > 0:
            number = t.GetStopReasonDataAtIndex(0)
            if number in ffi.FATAL_SIGNALS:
                return {"number": int(number), "thread": t.GetThreadID()}
    return None


class State(object):
    def __init__(self):
        self.key = None
        self.session = None
        self.navigator = ffi.Navigator()
        self.style = "libpython"

    def get(self, debugger):
        target = debugger.GetSelectedTarget()
        process = target.GetProcess()
        if not process.IsValid():
            raise ffi.PycoronerError("pycoroner: no process or core file")
        key = (process.GetUniqueID(), process.GetProcessID(), process.GetStopID())
        if key != self.key or self.session is None:
            if self.session is not None:
                self.session.close()
            self.session = None
            options = {"pid": process.GetProcessID()}
            exe = target.GetExecutable().fullpath
            if exe:
                options["executable"] = exe
            signal = fatal_signal(process)
            if signal:
                options["signal"] = signal
            self.session = ffi.Session(ffi.load(_here), LldbBackend(target), options)
            self.key = key
        return self.session


STATE = State()


def _thread(debugger):
    t = debugger.GetSelectedTarget().GetProcess().GetSelectedThread()
    if not t.IsValid():
        raise ffi.PycoronerError("pycoroner: no thread selected")
    return t


def _describe(frame, last_of_physical):
    """One frame for the library's splice. lldb lists a physical frame's inlined calls
    and then its function, but sometimes leaves the function's own frame out: the last
    frame of a physical frame (same CFA) then stands for it."""
    m = frame.GetModule().GetFileSpec().fullpath
    name, inlined = frame.GetFunctionName(), frame.IsInlined()
    if last_of_physical and inlined and frame.GetFunction().IsValid():
        name, inlined = frame.GetFunction().GetName(), False
    return {"function": name, "module": m, "inlined": inlined, "pc": frame.GetPC()}


def _described(session, thread, objects=False):
    frames = [thread.GetFrameAtIndex(i) for i in range(thread.GetNumFrames())]
    described = [
        _describe(f, i + 1 == len(frames) or frames[i + 1].GetCFA() != f.GetCFA()) for i, f in enumerate(frames)
    ]
    if objects:
        # The object a C-function call works on, where the library asks for it.
        for f, d in zip(frames, described):
            for name in session.wants_object(f.GetFunctionName()):
                v = f.FindVariable(name)
                if v.IsValid() and v.GetError().Success():
                    d["object"] = v.GetValueAsUnsigned(0)
                    break
    return described


def _stops(session, thread, described=None):
    """The thread's py-up/py-down stops, and its count of Python frames."""
    if described is None:
        described = _described(session, thread, objects=True)
    return ffi.stops(session, thread.GetThreadID(), described, STATE.style)


def _py_bt(debugger, full):
    """py-bt as CPython's: from the selected stop, C frames commented."""
    s, t = STATE.get(debugger), _thread(debugger)
    described = _described(s, t, objects=True)
    stops, count = _stops(s, t, described)
    start, level = STATE.navigator.bt_start(t.GetThreadID(), t.GetSelectedFrame().GetFrameID(), stops, count)
    req = {"request": "py-bt", "lwp": t.GetThreadID(), "full": full, "frames": described, "from": start, "style": STATE.style}
    if level is not None:
        req["from_level"] = level
    return s.request(**req)["text"]


def _selected_index(session, thread):
    stops, count = _stops(session, thread)
    return STATE.navigator.selected(thread.GetThreadID(), thread.GetSelectedFrame().GetFrameID(), stops, count)


def _frame_request(debugger, request, **args):
    """A request about the selected Python frame."""
    s, t = STATE.get(debugger), _thread(debugger)
    i = _selected_index(s, t)
    if i is None:
        raise ffi.PycoronerError("Unable to locate python frame")
    return s.request(request=request, lwp=t.GetThreadID(), index=i, **args)["text"]


def _command(fn):
    """One line on error (as output, so a batch goes on), lldb stays usable."""

    def run(debugger, command, result, internal_dict):
        try:
            text = fn(debugger, command.strip())
        except ffi.PycoronerError as e:
            text = "%s\n" % e
        except Exception as e:  # a bug here must not break the session
            text = "pycoroner: internal error: %s: %s\n" % (type(e).__name__, e)
        result.Print(text)

    run.__doc__ = fn.__doc__
    run.__name__ = fn.__name__
    return run


@_command
def py_bt(debugger, arg):
    """Display the current Python frame and all the frames within its call stack (if any)"""
    return _py_bt(debugger, False)


@_command
def py_bt_full(debugger, arg):
    """Like py-bt, with each frame's locals"""
    return _py_bt(debugger, True)


@_command
def py_locals(debugger, arg):
    """Print the local variables of the selected Python frame"""
    return _frame_request(debugger, "py-locals", style=STATE.style)


@_command
def py_print(debugger, arg):
    """Look up the given python variable name, and print it"""
    if not arg:
        raise ffi.PycoronerError("usage: py-print NAME")
    return _frame_request(debugger, "py-print", name=arg, style=STATE.style)


@_command
def py_list(debugger, arg):
    """List the current Python source code, if any: py-list [START[,END]]"""
    return _frame_request(debugger, "py-list", args=arg)


def _move(debugger, delta, end_message):
    s, t = STATE.get(debugger), _thread(debugger)
    stops, _ = _stops(s, t)
    if not stops:
        raise ffi.PycoronerError("Unable to locate python frame")
    target = STATE.navigator.move(t.GetThreadID(), t.GetSelectedFrame().GetFrameID(), stops, delta)
    if target is None:
        raise ffi.PycoronerError(end_message)
    stop = stops[target]
    t.SetSelectedFrame(stop["level"])
    if stop.get("python") is None:
        return "#%d %s\n" % (stop["level"], stop["text"])
    return s.request(request="frame", lwp=t.GetThreadID(), index=stop["python"], level=stop["level"], style=STATE.style)["text"]


@_command
def py_up(debugger, arg):
    """Select and print the python stack frame that called this one (if any)"""
    return _move(debugger, 1, "Unable to find an older python frame")


@_command
def py_down(debugger, arg):
    """Select and print the python stack frame called by this one (if any)"""
    return _move(debugger, -1, "Unable to find a newer python frame")


@_command
def py_threads(debugger, arg):
    """Every thread's Python stack, faulthandler-style: py-threads [--native|--native-all] [--no-fold]"""
    words = arg.split()
    fold = "--no-fold" not in words
    words = [w for w in words if w != "--no-fold"]
    mode = {"": "off", "--native": "folded", "--native-all": "all"}.get(" ".join(words))
    if mode is None:
        raise ffi.PycoronerError("usage: py-threads [--native|--native-all] [--no-fold]")
    return STATE.get(debugger).request(request="py-threads", native=mode, fold=fold)["text"]


@_command
def py_state(debugger, arg):
    """The interpreter state: GIL, GC, finalization and atexit, trace and profile functions, sys.monitoring, signal handlers, threads, sys: py-state [--native]"""
    words = arg.split()
    if words not in ([], ["--native"]):
        raise ffi.PycoronerError("usage: py-state [--native]")
    return STATE.get(debugger).request(request="py-state", native="folded" if words else "off")["text"]


@_command
def py_heap(debugger, arg):
    """The objects the garbage collector tracks, counted per type, and the largest: py-heap [--top N] [--largest N] [--untracked]"""
    return STATE.get(debugger).request(request="py-heap", **ffi.heap_fields(arg))["text"]


@_command
def py_referrers(debugger, arg):
    """Who refers to an object, up to a module's globals, a frame's local or a type: py-referrers ADDRESS [--levels N]"""
    def address_of(text):
        try:
            return int(text, 0)
        except ValueError:
            raise ffi.PycoronerError(ffi.REFERRERS_USAGE)

    fields = ffi.referrers_fields(arg, address_of)
    return STATE.get(debugger).request(request="py-referrers", **fields)["text"]


@_command
def py_gc(debugger, arg):
    """The garbage collector: enabled, thresholds, counts, collecting now, gc.callbacks and gc.garbage: py-gc"""
    if arg.split():
        raise ffi.PycoronerError("usage: py-gc")
    return STATE.get(debugger).request(request="py-gc")["text"]


@_command
def py_tasks(debugger, arg):
    """Every asyncio task and who awaits it, as `python -m asyncio pstree` draws them: py-tasks [--table]"""
    words = arg.split()
    if words not in ([], ["--table"]):
        raise ffi.PycoronerError("usage: py-tasks [--table]")
    return STATE.get(debugger).request(request="py-tasks", table=bool(words))["text"]


@_command
def py_style(debugger, arg):
    """How objects are written: py-style libpython (as CPython's python3.X-gdb.py, the default) or py-style python (as repr())"""
    if arg:
        if arg not in ffi.STYLES:
            raise ffi.PycoronerError("usage: py-style [libpython|python]")
        STATE.style = arg
    return "pycoroner objects are written in the %s style\n" % STATE.style


def pyobject_summary(valobj, internal_dict):
    """`PyObject *` (and friends) as Python would write the object."""
    try:
        addr = valobj.GetValueAsUnsigned(0)
        if addr == 0:
            return ""
        return STATE.get(valobj.GetTarget().GetDebugger()).request(request="repr", address=addr, style=STATE.style)["text"]
    except Exception:
        return ""


_COMMANDS = (("py-bt", "py_bt"), ("py-bt-full", "py_bt_full"), ("py-locals", "py_locals"), ("py-print", "py_print"),
             ("py-list", "py_list"), ("py-up", "py_up"), ("py-down", "py_down"), ("py-threads", "py_threads"),
             ("py-tasks", "py_tasks"), ("py-state", "py_state"), ("py-heap", "py_heap"), ("py-gc", "py_gc"),
             ("py-referrers", "py_referrers"),
             ("py-style", "py_style"))


def __lldb_init_module(debugger, internal_dict):
    for name, fn in _COMMANDS:
        debugger.HandleCommand("command script add -o -f %s.%s %s" % (__name__, fn, name))
    for pattern in (r"^Py[A-Za-z]*Object \*$", r"^struct _object \*$", r"^_object \*$", r"^PyObject \*const$"):
        debugger.HandleCommand("type summary add -x \"%s\" -F %s.pyobject_summary" % (pattern, __name__))
