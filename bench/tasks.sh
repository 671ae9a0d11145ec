#!/usr/bin/env bash
# asyncio tasks, timed: `pycoroner core CORE --tasks` on a core holding 1 000 sleeping
# tasks (plus the scenario's tree), warm and cold cache; and on a live process the same
# scenario read by `pycoroner pid PID --tasks` side by side with CPython 3.14's own
# `python -m asyncio ps PID` and `pstree PID` (the only other tool that lists tasks).
# Prints medians (hyperfine) and ratios. Usage: bench/tasks.sh [python3.X ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
(cd "$root" && cargo build -q --release -p pycoroner-cli)
PYC="$root/target/release/pycoroner"
script="$root/fixtures/scenarios/asyncio_tasks.py"
sid=${PYCORONER_SID_CACHE:-$HOME/.cache/pycoroner/sid}
pyroot=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
if [ $# -gt 0 ]; then pythons=("$@"); else
    pythons=("$pyroot"/versions/3.9.*/bin/python3.9 "$pyroot"/versions/3.12.*/bin/python3.12 "$pyroot"/versions/3.13.*/bin/python3.13 "$sid/bin/python3.14")
fi
export PYCORONER_SLEEPERS=1000
median() { python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(' '.join('%.2f' % (x['median']*1000) for x in r))" "$1"; }

printf '%-6s %6s %12s %12s\n' python tasks core_warm_ms core_cold_ms
for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    d="$out/$v"; mkdir -p "$d"
    (cd "$d" && ulimit -c unlimited && "$py" "$script" "$d/fh.txt" "$d/side.txt" >/dev/null 2>&1 || true)
    n=$("$PYC" core "$d/core" --tasks --format json --cache-dir "$d/cache" | python3 -c "import json,sys; r=json.load(sys.stdin); print(sum(len(t['event_loop']['tasks']) for t in r['threads'] if t.get('event_loop')))")
    hyperfine -N -w 3 -r 20 --export-json "$d/warm.json" "$PYC core $d/core --tasks --cache-dir $d/cache" >/dev/null
    hyperfine -N -r 10 --prepare "rm -rf $d/cold" --export-json "$d/cold.json" "$PYC core $d/core --tasks --cache-dir $d/cold" >/dev/null
    printf '%-6s %6s %12s %12s\n' "$v" "$n" "$(median "$d/warm.json")" "$(median "$d/cold.json")"
done

# Live, against CPython's own tools (3.14+).
py14="$sid/bin/python3.14"
if [ -x "$py14" ]; then
    d="$out/live"; mkdir -p "$d"
    "$py14" "$script" --hang "$d/truth.txt" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 300); do [ -s "$d/truth.txt" ] && break; sleep 0.1; done
    hyperfine -N -w 2 -r 15 --export-json "$d/live.json" \
        "$PYC pid $pid --tasks --cache-dir $d/cache" \
        "$PYC pid $pid --tasks=table --cache-dir $d/cache" \
        "$py14 -m asyncio pstree $pid" \
        "$py14 -m asyncio ps $pid" >/dev/null
    read -r ours_tree ours_table pstree ps <<<"$(median "$d/live.json")"
    echo
    printf 'live 3.14, 1 000+ tasks: pycoroner tree %s ms, table %s ms; asyncio pstree %s ms, ps %s ms\n' "$ours_tree" "$ours_table" "$pstree" "$ps"
    python3 -c "import sys; a=[float(x) for x in sys.argv[1:]]; print('ratios: pstree/pycoroner %.1fx, ps/pycoroner %.1fx' % (a[2]/a[0], a[3]/a[1]))" "$ours_tree" "$ours_table" "$pstree" "$ps"
    kill "$pid"
fi
