"""pycoroner: what a CPython process was doing when it died or hung.

The work is done by the `pycoroner` program this package installs; `python -m
pycoroner ARGS` runs it, as does the `pycoroner` command on PATH.
"""
import os
import sys
import sysconfig


def binary():
    """The installed `pycoroner` program."""
    for scheme in (None, "posix_user"):
        scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        path = os.path.join(scripts, "pycoroner")
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise SystemExit("pycoroner: the pycoroner program is not installed beside this Python (%s)" % sys.prefix)


def main():
    exe = binary()
    os.execv(exe, [exe] + sys.argv[1:])
