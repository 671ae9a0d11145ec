"""pycoroner demo: a small service that crashes in C called from Python.

Three worker threads park in different places, then the main thread calls
ctypes.string_at(0), which reads address 0 and dies with SIGSEGV. faulthandler
writes its own view of the same instant to the file named by argv[1].
"""
import ctypes
import faulthandler
import sys
import threading

_fh = open(sys.argv[1], "w")
faulthandler.enable(file=_fh, all_threads=True)

never = threading.Event()
lock = threading.Lock()
lock.acquire()


def wait_for_job(started):
    started.set()
    never.wait()


def hold_connection(started):
    started.set()
    lock.acquire()


class Poller:
    def poll(self, started):
        with threading.Condition():
            started.set()
            never.wait()


def parked(ident, function):
    """True once the thread's frame in `function` has moved past `started.set()`."""
    frame = sys._current_frames().get(ident)
    while frame is not None:
        if frame.f_code.co_name == function:
            return "started.set()" not in open(__file__).read().splitlines()[frame.f_lineno - 1]
        frame = frame.f_back
    return False


def parse_record(raw):
    # The "C extension" bug: dereferencing NULL.
    return ctypes.string_at(raw)


def handle_request(n):
    return parse_record(0 if n == 3 else id(n))


def main():
    workers = []
    for target in (wait_for_job, hold_connection, Poller().poll):
        started = threading.Event()
        t = threading.Thread(target=target, args=(started,), daemon=True)
        t.start()
        started.wait()
        workers.append((t, target.__name__))
    # Handshake, not a sleep: wait until every worker is blocked past its set().
    for t, name in workers:
        while not parked(t.ident, name):
            pass
    for n in range(5):
        handle_request(n)


main()
