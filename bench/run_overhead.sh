#!/usr/bin/env bash
# What `pycoroner run` costs a test run: a pytest suite of N tests (default 2000), one
# in 20 starting a Python subprocess and one in 10 a thread, run as it is and under
# `pycoroner run`, side by side (hyperfine, alternating, warm). Also the time from a
# crash to its report with an empty cache (a CI machine's first crash): the JUnit
# `time` of the event, release build.
#   bench/run_overhead.sh PYCORONER [N] [PYTHON]
set -euo pipefail
bin=$1
n=${2:-2000}
py=${3:-$(ls -d "$(pyenv root)"/versions/3.12*/bin/python3 | head -1)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat > "$out/test_many.py" <<PY
import subprocess, sys, threading
import pytest

@pytest.mark.parametrize("i", range($n))
def test_case(i):
    if i % 20 == 0:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    if i % 10 == 0:
        t = threading.Thread(target=sum, args=([i, 1],))
        t.start()
        t.join()
    assert i + 1 > i
PY
cd "$out"
"$py" -m pytest --version >/dev/null 2>&1 || { echo "pytest is not installed for $py" >&2; exit 2; }
hyperfine -N --warmup 1 --runs "${RUNS:-5}" \
    -n plain "$py -m pytest -q -p no:cacheprovider test_many.py" \
    -n "pycoroner run" "$bin run -- $py -m pytest -q -p no:cacheprovider test_many.py" \
    --export-json "$out/h.json" >/dev/null
"$py" - "$out/h.json" "$n" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
p, t = r["plain"]["median"], r["pycoroner run"]["median"]
print("pytest, %d tests: plain %.2f s, under pycoroner run %.2f s: %.3fx (%+.1f%%)" % (int(sys.argv[2]), p, t, t / p, (t / p - 1) * 100))
PY
# A crash with an empty cache: stop to report, as the JUnit test case's time says.
cat > crash.py <<'PY'
import ctypes, faulthandler, threading, time
faulthandler.enable()
for _ in range(4):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
def f():
    ctypes.string_at(0)
f()
PY
for i in 1 2 3; do
    rm -rf cache reports
    "$bin" run --cache-dir cache --report-dir reports -- "$py" crash.py >/dev/null 2>&1 || true
    echo "crash to report, cold cache: $(grep -o 'time="[0-9.]*"' reports/junit.xml | head -1)"
done
rm -rf reports core
(ulimit -c unlimited; "$bin" run --cache-dir cache --report-dir reports -- "$py" crash.py >/dev/null 2>&1) || true
echo "crash to report, warm cache: $(grep -o 'time="[0-9.]*"' reports/junit.xml | head -1)"
# The slim minidump beside the report, against the core the kernel wrote.
dmp=$(ls reports/*.dmp | head -1)
if [ -f core ]; then
    echo "minidump $(stat -c %s "$dmp") bytes, core $(stat -c %s core) bytes: $(awk "BEGIN {printf \"%.2f\", $(stat -c %s "$dmp") * 100 / $(stat -c %s core)}")% of the core"
else
    echo "minidump $(stat -c %s "$dmp") bytes (no core written: core_pattern or ulimit)"
fi
# The 150-thread scenario: its dump against its core.
rm -f core
(ulimit -c unlimited; "$py" "$(dirname "$bin")/../../fixtures/scenarios/many_named_threads.py" fh.txt side.txt >/dev/null 2>&1) || true
if [ -f core ]; then
    "$bin" dump core -o many.dmp --cache-dir cache >/dev/null
    echo "151 threads: minidump $(stat -c %s many.dmp) bytes, core $(stat -c %s core) bytes: $(awk "BEGIN {printf \"%.2f\", $(stat -c %s many.dmp) * 100 / $(stat -c %s core)}")% of the core"
fi
