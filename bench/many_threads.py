"""Benchmark input: N threads (argv[3], default 50) parked at some depth, each with
a few MB of live data, then a segfault in the main thread. argv[1] is faulthandler's
output file, as for every scenario."""
import ctypes
import faulthandler
import sys
import threading

_fh = open(sys.argv[1], "w")
faulthandler.enable(file=_fh, all_threads=True)
N = int(sys.argv[3]) if len(sys.argv) > 3 else 50
never = threading.Event()
ballast = []


def park(depth, started):
    if depth:
        return park(depth - 1, started)
    ballast.append(bytearray(4 << 20))
    started.set()
    never.wait()


for i in range(N):
    s = threading.Event()
    threading.Thread(target=park, args=(5 + i % 10, s), daemon=True).start()
    s.wait()
ctypes.string_at(0)
