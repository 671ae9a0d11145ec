#!/usr/bin/env python3
"""How long each tool stops a live Python process, as the process itself sees it,
for 1, 10 and 100 parked threads: pycoroner pid, py-spy dump, pystack remote.
Usage: bench/live_pause.py PYTHON PYCORONER PYSPY PYSTACK [runs] [--native]. Prints
the median of the worst gap the target observed per dump, and the ratios to
pycoroner's; then the median wall time of each whole dump and its ratios. With
--native every tool also unwinds the native stacks."""
import statistics
import subprocess
import sys
import time

native = "--native" in sys.argv
args = [a for a in sys.argv[1:] if a != "--native"]
python, pycoroner, pyspy, pystack = args[:4]
runs = int(args[4]) if len(args) > 4 else 7
flag = ["--native"] if native else []
here = __file__.rsplit("/", 1)[0]


def measure(nthreads, argv_for_pid):
    t = subprocess.Popen([python, f"{here}/pause_target.py", str(nthreads)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert t.stdout.readline().strip() == "ready"

    def ask(cmd):
        t.stdin.write(cmd + "\n")
        t.stdin.flush()
        return t.stdout.readline().strip()

    # Baseline: the largest gap with no tool at all, over the same kind of interval.
    gaps, base, walls = [], [], []
    for _ in range(runs):
        ask("reset")
        subprocess.run(["true"])
        base.append(int(ask("gap")))
        ask("reset")
        t0 = time.perf_counter()
        r = subprocess.run(argv_for_pid(t.pid), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append(time.perf_counter() - t0)
        if r.returncode != 0:
            t.kill()
            return None, r.stderr.strip().splitlines()[-1:] if r.stderr else "failed", None
        gaps.append(int(ask("gap")))
    t.kill()
    return statistics.median(gaps), statistics.median(base), statistics.median(walls)


tools = {
    "pycoroner": lambda pid: [pycoroner, "pid", str(pid)] + flag,
    "py-spy": lambda pid: [pyspy, "dump", "--pid", str(pid)] + flag,
    "pystack": lambda pid: [pystack, "remote", str(pid)] + flag,
}
print(f"{'threads':>8} | " + " | ".join(f"{n:>14}" for n in tools) + " | ratios py-spy/pycoroner, pystack/pycoroner")
wall_rows = []
for n in (1, 10, 100):
    res = {name: measure(n, f) for name, f in tools.items()}
    cells = []
    for name in tools:
        med, base, _ = res[name]
        cells.append(f"{med:>8} us" if med is not None else f"{'failed':>11}")
    ours = res["pycoroner"][0]
    ratio = lambda name, k=0: (f"{res[name][k] / res['pycoroner'][k]:.1f}x" if res[name][k] and res["pycoroner"][k] else "-")
    print(f"{n:>8} | " + " | ".join(f"{c:>14}" for c in cells) + f" | {ratio('py-spy')}, {ratio('pystack')}"
          + f"   (baseline gap without a tool: {res['pycoroner'][1]} us)")
    walls = " | ".join(f"{res[name][2] * 1e3:>11.1f} ms" if res[name][2] else f"{'failed':>14}" for name in tools)
    wall_rows.append(f"{n:>8} | {walls} | {ratio('py-spy', 2)}, {ratio('pystack', 2)}")
print("wall time of the whole dump (median):")
print("\n".join(wall_rows))
