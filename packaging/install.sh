#!/usr/bin/env bash
# Install pycoroner into PREFIX in the layout every package uses (the release
# tarball, the wheel's data, `make install` style):
#   PREFIX/bin/pycoroner                       the command
#   PREFIX/lib/libpycoroner_ffi.so             the library the debugger commands call
#   PREFIX/share/pycoroner/gdb/*.py            gdb commands (`pycoroner gdb`, or source it)
#   PREFIX/share/pycoroner/lldb/pycoroner.py   lldb commands
#   PREFIX/share/man/man1/pycoroner.1          the man page
#   PREFIX/share/bash-completion/completions/pycoroner, zsh and fish completions
#
#   packaging/install.sh PREFIX [--no-build]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=$1
if [ "${2:-}" != --no-build ]; then
    (cd "$root" && cargo build --release -p pycoroner-cli -p pycoroner-ffi)
fi
target=${CARGO_TARGET_DIR:-$root/target}/release
install -d "$prefix/bin" "$prefix/lib" "$prefix/share/pycoroner/gdb" "$prefix/share/pycoroner/lldb" \
    "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 0755 "$target/pycoroner" "$prefix/bin/pycoroner"
install -m 0755 "$target/libpycoroner_ffi.so" "$prefix/lib/libpycoroner_ffi.so"
# Line tables are for developers' backtraces; an installed copy goes without them.
if command -v strip >/dev/null; then strip --strip-debug "$prefix/bin/pycoroner" "$prefix/lib/libpycoroner_ffi.so"; fi
install -m 0644 "$root/gdb/pycoroner.py" "$root/gdb/pycoroner_ffi.py" "$prefix/share/pycoroner/gdb/"
install -m 0644 "$root/lldb/pycoroner.py" "$prefix/share/pycoroner/lldb/"
"$prefix/bin/pycoroner" man > "$prefix/share/man/man1/pycoroner.1"
"$prefix/bin/pycoroner" completions bash > "$prefix/share/bash-completion/completions/pycoroner"
"$prefix/bin/pycoroner" completions zsh > "$prefix/share/zsh/site-functions/_pycoroner"
"$prefix/bin/pycoroner" completions fish > "$prefix/share/fish/vendor_completions.d/pycoroner.fish"
install -m 0644 "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$root/README.md" "$prefix/share/pycoroner/"
