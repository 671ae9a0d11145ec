#!/usr/bin/env bash
# The release tarball: pycoroner-VERSION-x86_64-linux.tar.gz, the install.sh layout
# under one top directory. Prints its path.
#   packaging/tarball.sh OUTDIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(cd "$1" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
name=pycoroner-$version-x86_64-linux
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$root/packaging/install.sh" "$stage/$name" >&2
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
