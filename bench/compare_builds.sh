#!/usr/bin/env bash
# Two builds of pycoroner side by side on the same cores, warm cache (median of
# hyperfine runs): the ratio says whether a change costs time. Cores: the demo and a
# 50-thread scenario per interpreter, plain and --native.
#   bench/compare_builds.sh OLD_PYCORONER NEW_PYCORONER [python3.X ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
old=$1 new=$2
shift 2
pyroot=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
if [ $# -gt 0 ]; then pythons=("$@"); else
    pythons=("$pyroot"/versions/3.9.*/bin/python3.9 "$pyroot"/versions/3.12.*/bin/python3.12 "$pyroot"/versions/3.13.*/bin/python3.13)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-6s %-10s %-8s %10s %10s %7s\n' python scenario mode old_ms new_ms new/old
for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    for scen in demo threads50; do
        d="$out/$v-$scen"; mkdir -p "$d"
        case $scen in
            demo) script="$root/crates/cli/src/demo_scenario.py"; args=() ;;
            threads50) script="$here/many_threads.py"; args=("$d/side" 50) ;;
        esac
        (cd "$d" && ulimit -c unlimited && "$py" "$script" "$d/fh.txt" "${args[@]}" >/dev/null 2>&1 || true)
        for mode in plain native; do
            flag=(); [ $mode = native ] && flag=(--native)
            for b in "$old" "$new"; do "$b" core "$d/core" "${flag[@]}" --cache-dir "$d/cache-$(basename "$(dirname "$(dirname "$b")")")" >/dev/null; done
            hyperfine -N -w 3 -r 30 --export-json "$d/h.json" \
                "$old core $d/core ${flag[*]} --cache-dir $d/cache-$(basename "$(dirname "$(dirname "$old")")")" \
                "$new core $d/core ${flag[*]} --cache-dir $d/cache-$(basename "$(dirname "$(dirname "$new")")")" >/dev/null
            python3 - "$d/h.json" "$v" "$scen" "$mode" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
o, n = r[0]["median"] * 1000, r[1]["median"] * 1000
print("%-6s %-10s %-8s %10.2f %10.2f %7.2f" % (sys.argv[2], sys.argv[3], sys.argv[4], o, n, n / o))
PY
        done
    done
done
