#!/usr/bin/env bash
# A fuzz campaign: every target for SECONDS each (default 60), seeded with real cores
# and the crafted inputs of the hostile suite. Needs the nightly toolchain and
# cargo-fuzz (`rustup toolchain install nightly; cargo install cargo-fuzz`).
#
#   fuzz/run.sh [SECONDS] [PYTHON]   (PYCORONER_FUZZ_TARGETS="repr pipeline" picks targets)
#
# Findings land in fuzz/artifacts/TARGET/; each one becomes a regression test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-60}
py=${2:-$(ls -d "$(pyenv root)"/versions/3.12*/bin/python3 2>/dev/null | head -1)}
work=${FUZZ_WORK:-${TMPDIR:-/tmp}/pycoroner-fuzz}
mkdir -p "$work"
cd "$work"

# A real core: the locals scenario, crashed under $py.
if [ ! -f core.locals ]; then
    rm -f core
    (ulimit -c unlimited; "$py" "$here/../fixtures/scenarios/locals_values.py" fh.txt side.txt) >/dev/null 2>&1 || true
    mv core core.locals
fi
export PYCORONER_FUZZ_CORE="$work/core.locals"
# And one holding asyncio tasks of every kind (100 sleepers).
if [ ! -f core.tasks ]; then
    rm -f core
    (ulimit -c unlimited; PYCORONER_SLEEPERS=100 "$py" "$here/../fixtures/scenarios/asyncio_tasks.py" fh.txt side.txt) >/dev/null 2>&1 || true
    mv core core.tasks
fi
export PYCORONER_FUZZ_TASKS_CORE="$work/core.tasks"
# And one with the interpreter state set (its test extension is left out: no build).
if [ ! -f core.state ]; then
    rm -f core
    (ulimit -c unlimited; "$py" "$here/../fixtures/ext/interpreter_state.py" fh.txt side.txt) >/dev/null 2>&1 || true
    mv core core.state
fi
export PYCORONER_FUZZ_STATE_CORE="$work/core.state"
# And one crashed in a __del__ an automatic collection runs (the generation it collects
# is read from the collector's native frames).
if [ ! -f core.state_gc ]; then
    rm -f core
    (ulimit -c unlimited; PYCORONER_STATE=gc_finalizer "$py" "$here/../fixtures/ext/interpreter_state.py" fh.txt side.txt) >/dev/null 2>&1 || true
    mv core core.state_gc
fi
export PYCORONER_FUZZ_STATE_GC_CORE="$work/core.state_gc"
# And one with tens of thousands of objects on the collector's lists.
if [ ! -f core.heap ]; then
    rm -f core
    (ulimit -c unlimited; "$py" "$here/../fixtures/scenarios/heap_census.py" fh.txt side.txt) >/dev/null 2>&1 || true
    mv core core.heap
fi
export PYCORONER_FUZZ_HEAP_CORE="$work/core.heap"
# And the same on a Py_TRACE_REFS build (its list of every object), when there is one.
bionic_py="${PYCORONER_BIONIC_CACHE:-$HOME/.cache/pycoroner/bionic}/bin/python3.6dm"
if [ ! -f core.heap_all ] && [ -x "$bionic_py" ]; then
    rm -f core
    (ulimit -c unlimited; "$bionic_py" "$here/../fixtures/scenarios/heap_census.py" fh.txt side.txt) >/dev/null 2>&1 || true
    mv core core.heap_all
fi
if [ -f core.heap_all ]; then export PYCORONER_FUZZ_HEAP_ALL_CORE="$work/core.heap_all"; fi

# Seeds. elf_core: the core's first 256 KiB (headers and notes) as it is, with its
# NT_FILE cut, and the synthetic cores the target crate's tests build.
mkdir -p seeds/elf_core seeds/decompress seeds/linetable seeds/debug_offsets seeds/repr seeds/cache_entry seeds/pipeline seeds/dwarf_calls seeds/tasks seeds/state seeds/heap seeds/minidump
head -c 262144 core.locals > seeds/elf_core/real-head
head -c 65536 core.locals > seeds/elf_core/real-64k
head -c 4096 core.locals > seeds/elf_core/real-4k
for c in zstd lz4 xz gzip; do
    command -v $c >/dev/null || continue
    head -c 65536 core.locals | $c -c > "seeds/decompress/real-64k.$c" 2>/dev/null || true
done
printf '\x00' | cat - "seeds/decompress/real-64k.zstd" > seeds/decompress/z 2>/dev/null || true
printf '\x01' | cat - "seeds/decompress/real-64k.lz4" > seeds/decompress/l 2>/dev/null || true
printf '\x02' | cat - "seeds/decompress/real-64k.xz" > seeds/decompress/x 2>/dev/null || true
printf '\x03' | cat - "seeds/decompress/real-64k.gzip" > seeds/decompress/g 2>/dev/null || true
rm -f seeds/decompress/real-64k.*
printf '\x01\x00\x00\x00\x10\x00\x00\x00\x02\x01\x04\x02\x08\x03' > seeds/linetable/lnotab
printf '\x01\x00\x00\x00\x10\x00\x00\x00\x80\x00\x00\x00\xf0\x03\x00\x00\xe0\x01\x02' > seeds/linetable/locations
head -c 4096 /dev/urandom > seeds/repr/random
printf 'pycoroner-cache layout 00 2 0000000000000000\n{}' > seeds/cache_entry/empty
# dwarf_calls: the test extension built with DWARF (call sites, tail calls).
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
cc -shared -fPIC -O2 -g -I"$inc" "$here/../fixtures/ext/crashy.c" -o seeds/dwarf_calls/crashy.so 2>/dev/null || true
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x04\x00' > seeds/pipeline/often
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x0c\x01\xff\x00' > seeds/pipeline/rare-native
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x06' > seeds/tasks/often
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x05\x00' > seeds/state/often
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x0e\xff' > seeds/state/rare
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x00\xff' > seeds/tasks/rare
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x08\x00' > seeds/heap/often
printf '\x01\x02\x03\x04\x05\x06\x07\x08\x10\xff' > seeds/heap/rare
# minidump: pycoroner's own slim dump of the locals core (the CLI the tests built).
pyc=$here/../target/debug/pycoroner
if [ -x "$pyc" ] && [ ! -f seeds/minidump/slim.dmp ]; then
    "$pyc" dump core.locals -o seeds/minidump/slim.dmp --no-cache >/dev/null 2>&1 || true
fi
printf 'MDMP\x93\xa7\x00\x00\x00\x00\x00\x00\x20\x00\x00\x00' > seeds/minidump/header

cd "$here"
status=0
for t in ${PYCORONER_FUZZ_TARGETS:-elf_core decompress debug_offsets linetable repr cache_entry pipeline dwarf_calls tasks state heap minidump}; do
    mkdir -p "$work/corpus/$t"
    echo "== $t: ${secs}s"
    # -rss_limit_mb: pycoroner's own memory budget; -timeout: no input may take 10 s.
    log="$work/$t.log"
    cargo +nightly fuzz run -O "$t" "$work/corpus/$t" "$work/seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=300000 -print_final_stats=1 \
        > "$log" 2>&1 || true
    grep -E '^(stat::|==|SUMMARY|Done|INFO: -max_total_time)|crash-|timeout-|oom-' "$log" || true
    if ls "$here/artifacts/$t/" 2>/dev/null | grep -qE '^(crash|timeout|oom|leak)-'; then
        echo "FINDINGS in fuzz/artifacts/$t"
        status=1
    elif ! grep -q '^Done [0-9]* runs' "$log"; then
        # A target that does not build (or dies before fuzzing) fuzzes nothing.
        echo "FAILED: $t did not run (last lines of $log):"
        tail -n 15 "$log"
        status=1
    fi
done
exit $status
