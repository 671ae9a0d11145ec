#!/usr/bin/env bash
# The heap census against the same count made inside the process: a core holding
# N GC-tracked objects (default 1 000 000: instances of a class, each with a list),
# counted by `pycoroner heap` (warm cache, median of hyperfine runs; peak RSS, and
# peak anonymous memory: RSS less the core's pages it maps) and,
# just before the crash, by the process itself (`Counter(type(o) for o in
# gc.get_objects())`); and the referrers of one object: `pycoroner referrers` (every
# level up to its module's globals) against `gc.get_referrers` (one level) inside;
# and `heap --untracked` (a second walk: the ints and strs those objects refer to)
# with its peak anonymous memory.
#   bench/heap_census.sh PYCORONER [N] [python3.X ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
n=${2:-1000000}
shift $(( $# >= 2 ? 2 : 1 ))
pyroot=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
if [ $# -gt 0 ]; then pythons=("$@"); else
    pythons=("$pyroot"/versions/3.9.*/bin/python3.9 "$pyroot"/versions/3.12.*/bin/python3.12 "$pyroot"/versions/3.13.*/bin/python3.13)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat > "$out/many.py" <<'PY'
import collections, ctypes, gc, sys, time
gc.disable()
class Item:
    def __init__(self, i):
        self.i = i
        self.tags = [i]
n = int(sys.argv[1])
keep = [Item(i) for i in range(n // 2)]
t = time.perf_counter()
c = collections.Counter(type(o) for o in gc.get_objects())
inside = time.perf_counter() - t
t = time.perf_counter()
r = gc.get_referrers(keep[len(keep) // 2])
referrers_ms = (time.perf_counter() - t) * 1000
print("%d %.1f %d %.1f" % (sum(c.values()), inside * 1000, id(keep[len(keep) // 2]), referrers_ms), flush=True)
ctypes.string_at(0)
PY
# Peak anonymous memory (KiB) of a command: its own, not the core's pages it maps.
anon_peak() {
    python3 - "$@" <<'PY'
import subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
peak = 0
while p.poll() is None:
    try:
        for line in open("/proc/%d/status" % p.pid):
            if line.startswith("RssAnon:"):
                peak = max(peak, int(line.split()[1]))
    except OSError:
        pass
print(peak)
PY
}
printf '%-6s %10s %12s %12s %10s %8s %9s %10s %10s %10s %9s\n' python objects inside_ms heap_ms heap/in rss_MiB anon_MiB in_ref_ms refs_ms untr_ms untr_anon
for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    d="$out/$v"; mkdir -p "$d"
    (cd "$d" && ulimit -c unlimited && "$py" "$out/many.py" "$n" > "$d/inside.txt" 2>/dev/null || true)
    read -r objects inside addr inside_ref < "$d/inside.txt"
    "$bin" heap "$d/core" --cache-dir "$d/cache" >/dev/null
    hyperfine -N -w 2 -r 10 --export-json "$d/h.json" "$bin heap $d/core --cache-dir $d/cache" >/dev/null
    # Referrers of one object up to its module's globals, against gc.get_referrers
    # (one level) inside the process.
    hyperfine -N -w 1 -r 5 --export-json "$d/r.json" "$bin referrers $d/core $addr --cache-dir $d/cache" >/dev/null
    rss=$( { /usr/bin/time -f '%M' "$bin" heap "$d/core" --cache-dir "$d/cache" >/dev/null; } 2>&1 | tail -1)
    # Anonymous memory (pycoroner's own, not the core's pages it maps), sampled.
    anon=$(anon_peak "$bin" heap "$d/core" --cache-dir "$d/cache")
    hyperfine -N -w 1 -r 5 --export-json "$d/u.json" "$bin heap $d/core --untracked --cache-dir $d/cache" >/dev/null
    uanon=$(anon_peak "$bin" heap "$d/core" --untracked --cache-dir "$d/cache")
    python3 - "$d/h.json" "$v" "$objects" "$inside" "$rss" "$anon" "$d/r.json" "$inside_ref" "$d/u.json" "$uanon" <<'PY'
import json, sys
ms = json.load(open(sys.argv[1]))["results"][0]["median"] * 1000
ref = json.load(open(sys.argv[7]))["results"][0]["median"] * 1000
untr = json.load(open(sys.argv[9]))["results"][0]["median"] * 1000
inside = float(sys.argv[4])
print("%-6s %10s %12.1f %12.1f %10.2f %8.1f %9.1f %10.1f %10.1f %10.1f %9.1f" % (sys.argv[2], sys.argv[3], inside, ms, ms / inside, int(sys.argv[5]) / 1024, int(sys.argv[6]) / 1024, float(sys.argv[8]), ref, untr, int(sys.argv[10]) / 1024))
PY
done
