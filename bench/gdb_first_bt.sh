#!/usr/bin/env bash
# The first `py-bt` in a fresh gdb session on a core: pycoroner's gdb extension against
# CPython's own `python3.X-gdb.py` (from each pyenv bin/), side by side in one hyperfine
# run per interpreter. gdb loading the core and its symbols (`bt 1`) is measured too
# and subtracted, so the ratio is of what each extension adds. pycoroner runs with a
# warm layout cache (a second session on the same build) and a cold one (first ever).
# Usage: bench/gdb_first_bt.sh [python3.X ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/out/gdb"
mkdir -p "$out"

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
(cd "$root" && cargo build -q --release -p pycoroner-ffi)
export PYCORONER_LIB="$root/target/release/libpycoroner_ffi.so"
ours="$root/gdb/pycoroner.py"

pyroot=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
if [ $# -gt 0 ]; then pythons=("$@"); else
    pythons=("$pyroot"/versions/3.9.*/bin/python3.9 "$pyroot"/versions/3.12.*/bin/python3.12 "$pyroot"/versions/3.13.*/bin/python3.13)
fi

printf '%-6s %-12s | %9s %9s %9s %9s | %12s %12s | %12s\n' python scenario "gdb bt 1" "cpython" "ours/warm" "ours/cold" \
    "added: warm" "added: cold" "session/warm"
for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    theirs="$(dirname "$py")/python$v-gdb.py"
    [ -f "$theirs" ] || { echo "no $theirs" >&2; continue; }
    for scen in nested_calls threads; do
        d="$out/$v-$scen"; rm -rf "$d"; mkdir -p "$d"
        (cd "$d" && ulimit -c unlimited && "$py" "$root/fixtures/scenarios/$scen.py" "$d/fh.txt" 2>/dev/null || true)
        core="$d/core"
        [ -f "$core" ] || { echo "no core for $v $scen" >&2; continue; }
        gdb=(gdb -nx -batch -q -iex "set auto-load python-scripts off")
        warm="$d/cache-warm"
        PYCORONER_CACHE_DIR="$warm" "${gdb[@]}" -ex "source $ours" -ex py-bt "$py" "$core" >"$d/ours.txt" 2>&1
        "${gdb[@]}" -ex "source $theirs" -ex py-bt "$py" "$core" >"$d/theirs.txt" 2>&1
        grep -q 'File "' "$d/ours.txt" || { echo "our py-bt printed no frames for $v $scen" >&2; continue; }
        grep -q 'File "' "$d/theirs.txt" || echo "note: CPython's py-bt printed no frames for $v $scen" >&2
        g="gdb -nx -batch -q -iex 'set auto-load python-scripts off'"
        hyperfine -N -w 2 -r 15 --export-json "$d/h.json" \
            --prepare true --prepare true --prepare true --prepare "rm -rf $d/cache-cold" \
            -n base "$g -ex 'bt 1' $py $core" \
            -n theirs "$g -ex 'source $theirs' -ex py-bt $py $core" \
            -n warm "env PYCORONER_CACHE_DIR=$warm $g -ex 'source $ours' -ex py-bt $py $core" \
            -n cold "env PYCORONER_CACHE_DIR=$d/cache-cold $g -ex 'source $ours' -ex py-bt $py $core" \
            >"$d/hyperfine.log" 2>&1 || { echo "hyperfine failed for $v $scen (see $d/hyperfine.log)" >&2; continue; }
        python3 - "$v" "$scen" "$d/h.json" <<'PY'
import json, sys
v, scen, path = sys.argv[1:]
r = {x["command"]: x["median"] for x in json.load(open(path))["results"]}
b, t, w, c = r["base"], r["theirs"], r["warm"], r["cold"]
added = lambda x: max(x - b, 1e-3)
print("%-6s %-12s | %8.0fms %8.0fms %8.0fms %8.0fms | %11.1fx %11.1fx | %11.2fx"
      % (v, scen, b * 1e3, t * 1e3, w * 1e3, c * 1e3, added(t) / added(w), added(t) / added(c), t / w))
PY
    done
done
echo "columns: median wall time of a whole gdb -batch session; added: (CPython's py-bt - bt 1) /"
echo "(pycoroner's py-bt - bt 1); session: whole sessions, CPython's / ours. Higher is better for pycoroner"
