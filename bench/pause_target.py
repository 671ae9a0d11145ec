"""Live-pause benchmark target: N parked threads (argv[1]) at a few frames' depth, and a
ticker thread that measures, from inside the process, the longest gap between two of
its loop iterations. A tool that stops the process stops the ticker too, so the gap is
how long the tool held the process, whatever the tool. Protocol on stdin/stdout:
"reset" -> "ok", "gap" -> the longest gap in microseconds since the last reset."""
import sys
import threading
import time

N = int(sys.argv[1])
never = threading.Event()


def park(depth):
    if depth:
        return park(depth - 1)
    never.wait()


for i in range(N):
    threading.Thread(target=park, args=(5 + i % 5,), daemon=True).start()

state = {"gap": 0, "last": time.monotonic_ns()}


def ticker():
    now = time.monotonic_ns
    while True:
        t = now()
        g = t - state["last"]
        if g > state["gap"]:
            state["gap"] = g
        state["last"] = t
        time.sleep(0)  # let the main thread answer


threading.Thread(target=ticker, daemon=True).start()
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "reset":
        state["gap"] = 0
        state["last"] = time.monotonic_ns()
        print("ok", flush=True)
    elif cmd == "gap":
        print(state["gap"] // 1000, flush=True)
