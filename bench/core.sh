#!/usr/bin/env bash
# Side-by-side timing of `pycoroner core` against `pystack core` and `py-spy dump --core`
# on the same cores, with a cold and a warm layout cache, plus peak memory (max RSS).
# Mixed stacks: `pycoroner core --native` against `pystack core --native` (py-spy cannot
# unwind native stacks of cores). Prints ratios (anchor time / pycoroner time). Usage: bench/core.sh [python3.X ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/out"
mkdir -p "$out"

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
if [ ! -x "$out/venv/bin/pystack" ] || [ ! -x "$out/venv/bin/py-spy" ]; then
    python3 -m venv "$out/venv"
    "$out/venv/bin/pip" install -q pystack py-spy
fi
PYSTACK="$out/venv/bin/pystack"
PYSPY="$out/venv/bin/py-spy"

(cd "$root" && cargo build -q --release -p pycoroner-cli)
PYC="$root/target/release/pycoroner"

pyroot=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
if [ $# -gt 0 ]; then pythons=("$@"); else
    pythons=("$pyroot"/versions/3.9.*/bin/python3.9 "$pyroot"/versions/3.12.*/bin/python3.12 "$pyroot"/versions/3.13.*/bin/python3.13)
    # Debian's static python3.11 with its separate, zlib-compressed debug file
    # (python3.11-dbg): the cold path's heaviest case.
    if [ -x /usr/bin/python3.11 ] && [ -x /usr/bin/python3.11d ]; then pythons+=(/usr/bin/python3.11); fi
fi

rss() { /usr/bin/time -f %M "$@" >/dev/null 2>"$out/rss.tmp" || true; tail -1 "$out/rss.tmp"; }

printf '%-8s %-14s %8s | %12s %12s %12s | %12s %12s | %10s %10s %10s\n' python scenario core_MB \
    "pystack/warm" "py-spy/warm" "pystack/cold" "native/warm" "native/cold" "RSS_warm_MB" "RSS_pystk" "RSS_pyspy"
for py in "${pythons[@]}"; do
    v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    for scen in demo threads50; do
        d="$out/cores/$v-$scen"; rm -rf "$d"; mkdir -p "$d"
        case $scen in
            demo) script="$root/crates/cli/src/demo_scenario.py"; args=() ;;
            threads50) script="$here/many_threads.py"; args=("$d/side" 50) ;;
        esac
        (cd "$d" && ulimit -c unlimited && "$py" "$script" "$d/fh.txt" "${args[@]}" 2>/dev/null || true)
        core="$d/core"
        [ -f "$core" ] || { echo "no core for $v $scen" >&2; continue; }
        warm="$out/cache-warm"; "$PYC" core "$core" --cache-dir "$warm" --native >/dev/null
        hyperfine -N -w 2 -r 10 --export-json "$d/h.json" \
            -n pyc-warm "$PYC core $core --cache-dir $warm" \
            -n pyc-cold "$PYC core $core --no-cache" \
            -n pystack "$PYSTACK core $core" \
            -n pyspy "$PYSPY dump --core $core" \
            -n nat-warm "$PYC core $core --native --cache-dir $warm" \
            -n nat-cold "$PYC core $core --native --no-cache" \
            -n pystack-nat "$PYSTACK core $core --native" >/dev/null 2>&1 || { echo "hyperfine failed for $v $scen" >&2; continue; }
        read -r warm_t cold_t pst_t spy_t nw_t nc_t pn_t < <(python3 -c '
import json,sys
r={x["command"]:x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(r["pyc-warm"], r["pyc-cold"], r["pystack"], r["pyspy"], r["nat-warm"], r["nat-cold"], r["pystack-nat"])' "$d/h.json")
        mb=$(( $(stat -c %s "$core") / 1048576 ))
        rw=$(rss "$PYC" core "$core" --cache-dir "$warm"); rp=$(rss "$PYSTACK" core "$core"); rs=$(rss "$PYSPY" dump --core "$core")
        python3 - "$v" "$scen" "$mb" "$warm_t" "$cold_t" "$pst_t" "$spy_t" "$nw_t" "$nc_t" "$pn_t" "$rw" "$rp" "$rs" <<'PY'
import sys
v, scen, mb, w, c, p, s, nw, nc, pn, rw, rp, rs = sys.argv[1:]
w, c, p, s, nw, nc, pn = map(float, (w, c, p, s, nw, nc, pn))
kb = lambda x: "%.1f" % (int(x) / 1024) if x.isdigit() else "?"
print("%-8s %-14s %8s | %11.1fx %11.1fx %11.1fx | %11.1fx %11.1fx | %10s %10s %10s"
      % (v, scen, mb, p / w, s / w, p / c, pn / nw, pn / nc, kb(rw), kb(rp), kb(rs)))
PY
    done
done
echo "ratios: anchor median wall time / pycoroner's (higher is better for pycoroner); cold = --no-cache;"
echo "native/*: pystack core --native against pycoroner core --native"
