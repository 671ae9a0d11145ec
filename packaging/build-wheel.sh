#!/usr/bin/env bash
# Build the wheel into OUTDIR with maturin (taken from PATH, else installed into a
# private venv from the package index). Prints the wheel's path.
#   packaging/build-wheel.sh OUTDIR [PYTHON]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
py=${2:-python3}
target=${CARGO_TARGET_DIR:-$root/target}
# The wheel's data (installed under the environment's prefix): the library and the
# debugger scripts, man page and completions, as packaging/install.sh lays them out.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$root/packaging/install.sh" "$stage/prefix" >&2
rm -rf "$target/wheel-data"
mkdir -p "$target/wheel-data/data"
mv "$stage/prefix/lib" "$stage/prefix/share" "$target/wheel-data/data/"
maturin=$(command -v maturin || true)
if [ -z "$maturin" ]; then
    "$py" -m venv "$stage/venv" >&2
    "$stage/venv/bin/pip" install -q "maturin>=1.5,<2" >&2
    maturin=$stage/venv/bin/maturin
fi
(cd "$root" && "$maturin" build --release --out "$out" >&2)
ls -t "$out"/pycoroner-*.whl | head -1
