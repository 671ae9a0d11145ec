#!/usr/bin/env bash
# CPython's own gdb test suite (`test_gdb`, shipped in each interpreter's
# lib/python3.X/test/) run against a gdb extension, changing only its harness:
#   - `gdb` is a wrapper that turns auto-loading of python-scripts off and sources
#     the extension under test first (pycoroner's gdb/pycoroner.py, or CPython's own
#     python3.X-gdb.py for the baseline);
#   - gdb's "No such file or directory" for a breakpoint's C source is filtered from
#     its stderr (3.6's suite fails on any unexpected stderr line);
#   - the build-tree skip (`sysconfig.is_python_build()`) and the `-O0` gate
#     (`test.support.python_is_optimized()`) are off: the pyenv builds are installed
#     and optimized, and both extensions are meant to work there.
# Usage: peer/test_gdb/run.sh PYTHON [ours|cpython] [unittest args...]
# Prints unittest's verbose result, then one `RESULT ok|fail|error|skip TEST-ID` line per
# test and sub-test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
py=$1; which=${2:-ours}; shift 2 || shift $#
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
real_gdb=$(command -v gdb)
case $which in
    ours)
        script="$root/gdb/pycoroner.py"
        lib=${PYCORONER_LIB:-$root/target/debug/libpycoroner_ffi.so} ;;
    cpython)
        # Next to the interpreter (a pyenv build), or where Debian installs it for
        # gdb's auto-loading.
        script=$( (ls "$(dirname "$py")"/python3*-gdb.py "/usr/share/gdb/auto-load$(realpath "$py")-gdb.py" 2>/dev/null || true) | head -1)
        [ -n "$script" ] || { echo "no python3.X-gdb.py next to $py or under /usr/share/gdb/auto-load" >&2; exit 2; }
        lib= ;;
    *) echo "usage: $0 PYTHON [ours|cpython]" >&2; exit 2 ;;
esac
mkdir -p "$work/bin"
# gdb's index cache (keyed by build-id): the suite starts gdb a hundred times on the
# same interpreter, and each start would index its DWARF again (a third of the run).
index_cache=${GDB_INDEX_CACHE:-$work/gdb-index}
# gdb's complaint that a breakpoint's C source is not installed (pyenv keeps no
# sources) is dropped from its stderr: 3.6's test_gdb fails on any stderr line it does
# not expect, and later versions ignore this one themselves.
cat > "$work/bin/gdb" <<WRAP
#!/bin/bash
PYCORONER_LIB="$lib" PYCORONER_CACHE_DIR="$work/cache" "$real_gdb" -iex "set index-cache directory $index_cache" -iex "set index-cache enabled on" -iex "set auto-load python-scripts off" -iex "source $script" "\$@" \
    2> >(grep -v -E '^[0-9]+	.*: No such file or directory\.\$' >&2)
rc=\$?
wait \$! 2>/dev/null
exit \$rc
WRAP
chmod +x "$work/bin/gdb"
cat > "$work/runner.py" <<'PY'
import sys, sysconfig, unittest
import test.support
test.support.python_is_optimized = lambda: False
sysconfig.is_python_build = lambda *a, **k: True


class Recording(unittest.TextTestResult):
    """unittest's verbose result, and one `RESULT status id` line per test and
    sub-test at the end, for a harness to compare two runs."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.outcomes = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.outcomes.append(("ok", test.id()))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.outcomes.append(("fail", test.id()))

    def addError(self, test, err):
        super().addError(test, err)
        self.outcomes.append(("error", test.id()))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.outcomes.append(("skip", test.id()))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        self.outcomes.append(("ok" if err is None else "fail", subtest.id()))


name = "test.test_gdb"
argv = [sys.argv[0], "-v", name] + sys.argv[1:]
runner = unittest.TextTestRunner(resultclass=Recording, verbosity=2)
prog = unittest.main(module=None, argv=argv, testRunner=runner, exit=False)
sys.stderr.flush()
for status, test_id in prog.result.outcomes:
    print("RESULT %s %s" % (status, test_id))
sys.exit(not prog.result.wasSuccessful())
PY
cd "$work"
PATH="$work/bin:$PATH" "$py" runner.py "$@" 2>&1
