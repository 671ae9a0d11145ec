"""pycoroner for gdb: `source gdb/pycoroner.py`.

Commands (named like CPython's own gdb extension, python3.X-gdb.py, and printing as it
does):
  py-bt, py-bt-full, py-list [START[,END]], py-locals, py-print NAME, py-up, py-down,
  py-threads [--native|--native-all] [--no-fold], py-tasks [--table], py-state [--native],
  py-heap [--top N] [--largest N] [--untracked], py-gc, py-referrers ADDRESS [--levels N],
  py-bt-filter on|off|all, py-style [libpython|python]
A frame filter puts the Python frames in plain `bt` in place of the eval-loop frames,
and a pretty-printer shows `PyObject *` values (and `PyCodeObject *`, frame objects,
...). Objects are written as CPython's script writes them (`<Foo(x=1) at remote
0x...>`, `py-style libpython`, the default) or as Python's repr() does (`py-style
python`, also `set py-style python`). Everything is decoded by pycoroner's Rust library
(libpycoroner_ffi.so, found next to this file, in ../target/release or through
$PYCORONER_LIB); this script only hands it gdb's memory, mappings and registers.
"""

import os
import re
import sys

import gdb

_here = os.path.dirname(os.path.abspath(os.path.realpath(__file__)))
if _here not in sys.path:
    sys.path.insert(0, _here)

import pycoroner_ffi as ffi  # noqa: E402

_MAPPING_LINE = re.compile(r"^\s*(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(?:[rwxsp-]{4}\s+)?(\S.*)$")


class GdbBackend(ffi.Backend):
    """The selected inferior, through gdb's Python API."""

    def __init__(self, full_registers=False):
        self.inferior = gdb.selected_inferior()
        self.full_registers = full_registers

    def read(self, addr, size):
        try:
            return bytes(self.inferior.read_memory(addr, size))
        except (gdb.MemoryError, OverflowError, ValueError):
            return None

    def mappings(self):
        out = []
        text = gdb.execute("info proc mappings", to_string=True)
        for line in text.splitlines():
            m = _MAPPING_LINE.match(line)
            if not m:
                continue
            path = m.group(4).strip()
            if not path.startswith("/"):
                continue  # [heap], [stack], anonymous
            out.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16), path))
        return out

    def threads(self):
        return [t.ptid[1] or t.ptid[0] for t in sorted(self.inferior.threads(), key=lambda t: t.num)]

    def registers(self, lwp):
        thread = next((t for t in self.inferior.threads() if (t.ptid[1] or t.ptid[0]) == lwp), None)
        if thread is None:
            return None
        if not self.full_registers:
            # The thread pointer (pthread_t == fs_base) is all that matching thread states
            # needs, and gdb gives it without switching threads.
            regs = [0] * len(ffi.REGISTER_NAMES)
            regs[ffi.REGISTER_NAMES.index("fs_base")] = int.from_bytes(bytes(thread.handle()), "little")
            return regs
        selected_thread, selected_frame = gdb.selected_thread(), gdb.selected_frame()
        try:
            thread.switch()
            frame = gdb.newest_frame()
            regs = []
            for name in ffi.REGISTER_NAMES:
                try:
                    regs.append(int(frame.read_register(name)) & 0xFFFFFFFFFFFFFFFF)
                except (gdb.error, ValueError):
                    regs.append(0)
            return regs
        finally:
            selected_thread.switch()
            selected_frame.select()


def _siginfo(thread):
    """The fatal signal `thread` took ($_siginfo), as the library's open option."""
    try:
        si = gdb.parse_and_eval("$_siginfo")
        number, code = int(si["si_signo"]), int(si["si_code"])
    except (gdb.error, RuntimeError, ValueError):
        return None
    if number not in ffi.FATAL_SIGNALS:
        return None
    out = {"number": number, "thread": thread.ptid[1] or thread.ptid[0], "code": code}
    try:
        if code > 0:  # raised by the kernel: the faulting address
            out["address"] = int(si["_sifields"]["_sigfault"]["si_addr"])
        else:  # sent (kill, tgkill, raise): who sent it
            out["sender_pid"] = int(si["_sifields"]["_kill"]["si_pid"])
    except (gdb.error, RuntimeError, ValueError):
        pass
    return out


def fatal_signal(inferior):
    """The thread that took a fatal signal (a core's crashing thread, gdb's selected
    thread after loading it), or None. Other threads are looked at only if needed."""
    selected = gdb.selected_thread()
    if selected is not None:
        found = _siginfo(selected)
        if found:
            return found
    try:
        frame = gdb.selected_frame()
    except gdb.error:
        frame = None
    try:
        for t in sorted(inferior.threads(), key=lambda t: t.num):
            if t == selected:
                continue
            t.switch()
            found = _siginfo(t)
            if found:
                return found
    finally:
        if selected is not None and selected.is_valid():
            selected.switch()
            if frame is not None and frame.is_valid():
                frame.select()
    return None


class State(object):
    """The session of the current stop, dropped whenever the inferior runs or changes."""

    def __init__(self):
        self.sessions = {}
        self.navigator = ffi.Navigator()
        self.filter_mode = "folded"
        self.style = "libpython"

    def invalidate(self, *_args):
        for s in self.sessions.values():
            s.close()
        self.sessions = {}

    def session(self, full_registers=False):
        inferior = gdb.selected_inferior()
        key = (inferior.num, inferior.pid, full_registers)
        s = self.sessions.get(key)
        if s is None:
            if inferior.pid == 0:
                raise ffi.PycoronerError("pycoroner: no process or core file")
            lib = ffi.load(_here)
            options = {"pid": inferior.pid}
            exe = gdb.current_progspace().filename
            if exe:
                options["executable"] = exe
            signal = fatal_signal(inferior)
            if signal:
                options["signal"] = signal
            # gdb's own view of where the target's files are: `set sysroot DIR` (its
            # default, `target:`, is the target's own file system).
            sysroot = gdb.parameter("sysroot") or ""
            if sysroot.startswith("target:"):
                sysroot = sysroot[len("target:"):]
            if sysroot.startswith("/") and sysroot != "/":
                options["sysroot"] = sysroot
            backend = GdbBackend(full_registers)
            files, debug_dirs = gdb_files(backend.mappings(), exe)
            if files:
                options["files"] = files
            if debug_dirs:
                options["debug_dirs"] = debug_dirs
            s = ffi.Session(lib, backend, options)
            self.sessions[key] = s
        return s


def gdb_files(mappings, exe):
    """gdb's own view of the target's files: the file gdb loaded for each mapped path
    where it differs (found through `set sysroot`, `solib-search-path`, or the
    executable given to gdb), and where it looks for separate debug files
    (`debug-file-directory`, and the build-id trees of the debug files it loaded)."""
    files = {}
    for start, _end, _off, path in mappings:
        if path in files:
            continue
        try:
            loaded = gdb.solib_name(start)
        except (gdb.error, RuntimeError):
            loaded = None
        if loaded is None and exe and os.path.basename(exe) == os.path.basename(path):
            loaded = exe
        if loaded and loaded != path and os.path.isabs(loaded):
            files[path] = loaded
    dirs = []
    try:
        dirs.extend(d for d in (gdb.parameter("debug-file-directory") or "").split(os.pathsep) if d)
    except (gdb.error, RuntimeError):
        pass
    for o in gdb.objfiles():
        name = o.filename or ""
        if getattr(o, "owner", None) is not None and "/.build-id/" in name:
            dirs.append(name.split("/.build-id/")[0])
    seen = set()
    dirs = [d for d in dirs if os.path.isabs(d) and os.path.isdir(d) and not (d in seen or seen.add(d))]
    return files, dirs


STATE = State()
for _event in ("cont", "new_objfile", "exited", "memory_changed", "register_changed", "inferior_call"):
    _registry = getattr(gdb.events, _event, None)
    if _registry is not None:
        _registry.connect(STATE.invalidate)


def selected_lwp():
    t = gdb.selected_thread()
    if t is None:
        raise ffi.PycoronerError("pycoroner: no thread selected")
    return t.ptid[1] or t.ptid[0]


def module_of(pc):
    return gdb.solib_name(pc) or gdb.current_progspace().filename


def describe(frame):
    """What the library needs of one gdb frame."""
    pc = frame.pc()
    return {
        "function": frame.name(),
        "module": module_of(pc),
        "inlined": frame.type() == gdb.INLINE_FRAME,
        "pc": pc,
    }


def thread_frames():
    frames, f = [], gdb.newest_frame()
    while f is not None and len(frames) < 100000:
        frames.append(f)
        f = f.older()
    return frames


def selected_level():
    f, level = gdb.selected_frame(), 0
    while f is not None:
        f = f.newer()
        level += 1
    return level - 1


def _read_object(frame, names):
    """The address a pointer argument of `frame` holds, if gdb can read it."""
    for name in names:
        try:
            v = frame.read_var(name)
            if v.is_optimized_out:
                return None
            return int(v)
        except (ValueError, RuntimeError, gdb.error):
            continue
    return None


def described_frames(session, frames=None):
    """The selected thread's frames (`frames`, or gdb's), each described, with the
    object a C-function call works on where the library asks for it."""
    out = []
    for f in thread_frames() if frames is None else frames:
        d = describe(f)
        names = session.wants_object(d["function"])
        if names:
            d["object"] = _read_object(f, names)
        out.append(d)
    return out


def thread_stops(session, lwp, described=None):
    """The selected thread's py-up/py-down stops, and its count of Python frames."""
    if described is None:
        described = described_frames(session)
    return ffi.stops(session, lwp, described, STATE.style)


def py_bt_request(session, lwp, full):
    """py-bt as CPython's: from the selected stop, C frames commented."""
    described = described_frames(session)
    stops, count = thread_stops(session, lwp, described)
    start, level = STATE.navigator.bt_start(lwp, selected_level(), stops, count)
    req = {"request": "py-bt", "lwp": lwp, "full": full, "frames": described, "from": start, "style": STATE.style}
    if level is not None:
        req["from_level"] = level
    return session.request(**req)["text"]


class PyCommand(gdb.Command):
    """Base: one line on error, gdb stays usable."""

    def __init__(self, name):
        super(PyCommand, self).__init__(name, gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        try:
            self.run(arg)
        except ffi.PycoronerError as e:
            gdb.write("%s\n" % e)
        except gdb.error as e:
            gdb.write("pycoroner: %s\n" % e)
        except Exception as e:  # a bug in this script must not break the session
            gdb.write("pycoroner: internal error: %s: %s\n" % (type(e).__name__, e))

    def selected_index(self, session, lwp):
        stops, count = thread_stops(session, lwp)
        return STATE.navigator.selected(lwp, selected_level(), stops, count)

    def frame_request(self, request, missing, **args):
        """A request about the selected Python frame; `missing` if there is none."""
        s, lwp = STATE.session(), selected_lwp()
        i = self.selected_index(s, lwp)
        if i is None:
            raise ffi.PycoronerError(missing)
        return s.request(request=request, lwp=lwp, index=i, **args)["text"]


class PyBt(PyCommand):
    """Display the current Python frame and all the frames within its call stack (if any)"""

    def __init__(self):
        super(PyBt, self).__init__("py-bt")

    def run(self, arg):
        gdb.write(py_bt_request(STATE.session(), selected_lwp(), False))


class PyBtFull(PyCommand):
    """Display the current Python frame and all the frames within its call stack, with their locals"""

    def __init__(self):
        super(PyBtFull, self).__init__("py-bt-full")

    def run(self, arg):
        gdb.write(py_bt_request(STATE.session(), selected_lwp(), True))


class PyLocals(PyCommand):
    """Look up the given python variable name, and print it"""

    def __init__(self):
        super(PyLocals, self).__init__("py-locals")

    def run(self, arg):
        gdb.write(self.frame_request("py-locals", "Unable to locate python frame", style=STATE.style))


class PyPrint(PyCommand):
    """Look up the given python variable name, and print it"""

    def __init__(self):
        super(PyPrint, self).__init__("py-print")

    def run(self, arg):
        name = arg.strip()
        if not name:
            raise ffi.PycoronerError("usage: py-print NAME")
        gdb.write(self.frame_request("py-print", "Unable to locate python frame", name=name, style=STATE.style))


class PyList(PyCommand):
    """List the current Python source code, if any: py-list [START[,END]]"""

    def __init__(self):
        super(PyList, self).__init__("py-list")

    def run(self, arg):
        gdb.write(self.frame_request("py-list", "Unable to locate gdb frame for python bytecode interpreter", args=arg))


class PyMove(PyCommand):
    def __init__(self, name, delta, end_message):
        super(PyMove, self).__init__(name)
        self.delta, self.end_message = delta, end_message

    def run(self, arg):
        s, lwp = STATE.session(), selected_lwp()
        frames = thread_frames()
        stops, _ = thread_stops(s, lwp, described_frames(s, frames))
        if not stops:
            raise ffi.PycoronerError("Unable to locate python frame")
        target = STATE.navigator.move(lwp, selected_level(), stops, self.delta)
        if target is None:
            raise ffi.PycoronerError(self.end_message)
        stop = stops[target]
        frames[stop["level"]].select()
        if stop.get("python") is None:
            gdb.write("#%d %s\n" % (stop["level"], stop["text"]))
            return
        gdb.write(s.request(request="frame", lwp=lwp, index=stop["python"], level=stop["level"], style=STATE.style)["text"])


class PyUp(PyMove):
    """Select and print the python stack frame that called this one (if any)"""

    def __init__(self):
        super(PyUp, self).__init__("py-up", 1, "Unable to find an older python frame")


class PyDown(PyMove):
    """Select and print the python stack frame called by this one (if any)"""

    def __init__(self):
        super(PyDown, self).__init__("py-down", -1, "Unable to find a newer python frame")


class PyThreads(PyCommand):
    """Every thread's Python stack, faulthandler-style: py-threads [--native|--native-all] [--no-fold]"""

    def __init__(self):
        super(PyThreads, self).__init__("py-threads")

    def run(self, arg):
        words = arg.split()
        fold = "--no-fold" not in words
        words = [w for w in words if w != "--no-fold"]
        mode = {"": "off", "--native": "folded", "--native-all": "all"}.get(" ".join(words))
        if mode is None:
            raise ffi.PycoronerError("usage: py-threads [--native|--native-all] [--no-fold]")
        s = STATE.session(full_registers=mode != "off")
        gdb.write(s.request(request="py-threads", native=mode, fold=fold)["text"])


class PyState(PyCommand):
    """The interpreter state: GIL, GC, finalization and atexit, trace and profile functions, sys.monitoring, signal handlers, threads, sys: py-state [--native]"""

    def __init__(self):
        super(PyState, self).__init__("py-state")

    def run(self, arg):
        words = arg.split()
        if words not in ([], ["--native"]):
            raise ffi.PycoronerError("usage: py-state [--native]")
        mode = "folded" if words else "off"
        gdb.write(STATE.session(full_registers=bool(words)).request(request="py-state", native=mode)["text"])


class PyHeap(PyCommand):
    """The objects the garbage collector tracks, counted per type, and the largest: py-heap [--top N] [--largest N] [--untracked]"""

    def __init__(self):
        super(PyHeap, self).__init__("py-heap")

    def run(self, arg):
        gdb.write(STATE.session().request(request="py-heap", **ffi.heap_fields(arg))["text"])


class PyReferrers(PyCommand):
    """Who refers to an object, up to a module's globals, a frame's local or a type: py-referrers ADDRESS [--levels N]"""

    def __init__(self):
        super(PyReferrers, self).__init__("py-referrers")

    def run(self, arg):
        fields = ffi.referrers_fields(arg, lambda a: int(gdb.parse_and_eval(a)))
        gdb.write(STATE.session().request(request="py-referrers", **fields)["text"])


class PyGc(PyCommand):
    """The garbage collector: enabled, thresholds, counts, collecting now, gc.callbacks and gc.garbage: py-gc"""

    def __init__(self):
        super(PyGc, self).__init__("py-gc")

    def run(self, arg):
        if arg.split():
            raise ffi.PycoronerError("usage: py-gc")
        gdb.write(STATE.session().request(request="py-gc")["text"])


class PyTasks(PyCommand):
    """Every asyncio task and who awaits it, as `python -m asyncio pstree` draws them: py-tasks [--table]"""

    def __init__(self):
        super(PyTasks, self).__init__("py-tasks")

    def run(self, arg):
        words = arg.split()
        if words not in ([], ["--table"]):
            raise ffi.PycoronerError("usage: py-tasks [--table]")
        gdb.write(STATE.session().request(request="py-tasks", table=bool(words))["text"])


class PyBtFilter(PyCommand):
    """Python frames in plain `bt`: py-bt-filter on (fold interpreter call machinery), all (keep every C frame), off"""

    def __init__(self):
        super(PyBtFilter, self).__init__("py-bt-filter")

    def run(self, arg):
        mode = {"on": "folded", "all": "all", "off": None}.get(arg.strip(), "?")
        if mode == "?":
            raise ffi.PycoronerError("usage: py-bt-filter on|all|off")
        FILTER.enabled = mode is not None
        if mode:
            STATE.filter_mode = mode
        gdb.write("pycoroner frame filter: %s\n" % (arg.strip()))


class PyStyle(PyCommand):
    """How objects are written: py-style libpython (as CPython's python3.X-gdb.py, the default) or py-style python (as repr())"""

    def __init__(self):
        super(PyStyle, self).__init__("py-style")

    def run(self, arg):
        word = arg.strip()
        if word:
            if word not in ffi.STYLES:
                raise ffi.PycoronerError("usage: py-style [libpython|python]")
            STATE.style = word
        gdb.write("pycoroner objects are written in the %s style\n" % STATE.style)


class PyStyleParameter(gdb.Parameter):
    """How pycoroner writes Python objects: libpython (as CPython's python3.X-gdb.py) or python (as repr())."""

    set_doc = "Set how pycoroner writes Python objects (libpython or python)."
    show_doc = "Show how pycoroner writes Python objects."

    def __init__(self):
        super(PyStyleParameter, self).__init__("py-style", gdb.COMMAND_DATA, gdb.PARAM_ENUM, list(ffi.STYLES))
        self.value = STATE.style

    def get_set_string(self):
        STATE.style = self.value
        return ""

    def get_show_string(self, svalue):
        return "pycoroner objects are written in the %s style" % STATE.style


# ---- frame filter -------------------------------------------------------------------

from gdb.FrameDecorator import FrameDecorator  # noqa: E402


class PythonFrameDecorator(FrameDecorator):
    """A Python frame standing where the eval-loop frame that ran it was."""

    def __init__(self, base, frame):
        super(PythonFrameDecorator, self).__init__(base)
        self.py = frame

    def function(self):
        return self.py.get("function") or "???"

    def filename(self):
        return self.py.get("file") or "???"

    def line(self):
        return self.py.get("line")

    def address(self):
        return None

    def frame_args(self):
        return None

    def frame_locals(self):
        return None


class NativeFrameDecorator(FrameDecorator):
    """A C frame as plain `bt` names it: `??` where it has no symbol (gdb's default
    decorator would print an empty name once any frame filter runs)."""

    def function(self):
        f = super(NativeFrameDecorator, self).function()
        if f is None:
            return "??"
        if isinstance(f, int) and gdb.block_for_pc(f) is None and not _minsym(f):
            return "??"  # a bare pc gdb cannot name either
        return f


def _minsym(pc):
    try:
        return gdb.execute("info symbol 0x%x" % pc, to_string=True).find(" in section ") >= 0
    except gdb.error:
        return False


class PythonFrameFilter(object):
    def __init__(self):
        self.name = "pycoroner"
        self.priority = 100
        self.enabled = True
        gdb.frame_filters[self.name] = self

    def filter(self, frame_iter):
        decorators = list(frame_iter)
        try:
            s = STATE.session()
            frames = [describe(d.inferior_frame()) for d in decorators]
            answer = s.request(request="splice", lwp=selected_lwp(), frames=frames, native=STATE.filter_mode)
        except Exception:
            # No Python here (or unreadable): the frames as plain `bt` names them (gdb's
            # own decorators would print `in  ()` for `in ?? ()` once a filter runs).
            return iter([NativeFrameDecorator(d) for d in decorators])
        python = answer["python"]
        out = []
        for dec, step in zip(decorators, answer["steps"]):
            kind = step["kind"]
            if kind == "fold":
                continue
            if kind == "eval":
                out.extend(PythonFrameDecorator(dec, python[i]) for i in step["python"] if i < len(python))
                if STATE.filter_mode == "all":
                    out.append(NativeFrameDecorator(dec))
                continue
            out.append(NativeFrameDecorator(dec))
        return iter(out)


FILTER = PythonFrameFilter()


# ---- pretty-printer -----------------------------------------------------------------

_OBJECT_TYPES = re.compile(r"^(Py\w*Object|_object|_typeobject|_longobject|_frame|_code|wrapperobject)$")


class PyObjectPrinter(object):
    def __init__(self, val):
        self.val = val

    def to_string(self):
        addr = int(self.val)
        if addr == 0:
            return "0x0"
        try:
            return STATE.session().request(request="repr", address=addr, style=STATE.style)["text"]
        except Exception:
            return "0x%x" % addr


def pycoroner_lookup(val):
    try:
        t = val.type.strip_typedefs() if val.type.code == gdb.TYPE_CODE_TYPEDEF else val.type
        t = t.unqualified()
        if t.code != gdb.TYPE_CODE_PTR:
            return None
        target = t.target().unqualified()
        name = target.name or target.strip_typedefs().tag
    except gdb.error:
        return None
    return PyObjectPrinter(val) if name and _OBJECT_TYPES.match(name) else None


pycoroner_lookup.name = "pycoroner"


def _register_printer(objfile=None):
    lst = objfile.pretty_printers if objfile is not None else gdb.pretty_printers
    if pycoroner_lookup not in lst:
        lst.insert(0, pycoroner_lookup)


_register_printer()
for _o in gdb.objfiles():
    _register_printer(_o)
# Ahead of CPython's own printer, which registers per objfile when auto-loaded.
gdb.events.new_objfile.connect(lambda ev: _register_printer(ev.new_objfile))

for _cmd in (PyBt, PyBtFull, PyLocals, PyPrint, PyList, PyUp, PyDown, PyThreads, PyTasks, PyState, PyHeap, PyGc, PyReferrers, PyBtFilter, PyStyle):
    _cmd()
try:
    PyStyleParameter()
except (RuntimeError, gdb.error):  # an older gdb: the py-style command alone
    pass
