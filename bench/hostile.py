#!/usr/bin/env python3
"""Timing of the hostile-input paths of issue #10, on one machine, in one run:

- a core with 65 530 mapped files (the kernel's default max_map_count): the demo core
  with fake NT_FILE entries added, analyzed warm (median of 7) and its peak RSS;
- the same core unmodified, for the ratio;
- a warm analysis of the demo core, to show the checks cost nothing measurable there.

Usage: bench/hostile.py [PYCORONER [PYTHON]]   (defaults: target/release/pycoroner,
the newest pyenv interpreter).
"""
import glob
import os
import struct
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pyc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/release/pycoroner")
py = sys.argv[2] if len(sys.argv) > 2 else sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")),
                                                   key=lambda p: [int(x) for x in p.split("/")[-3].split(".")])[-1]


def u(fmt, b, o):
    return struct.unpack_from(fmt, b, o)


def with_many_mappings(core, total):
    phoff, = u("<Q", core, 32)
    phnum, = u("<H", core, 56)
    for i in range(phnum):
        ph = phoff + i * 56
        if u("<I", core, ph)[0] == 4:
            off, size = u("<Q", core, ph + 8)[0], u("<Q", core, ph + 32)[0]
            break
    notes, o, out = core[off:off + size], 0, b""
    while o + 12 <= len(notes):
        namesz, descsz, ntype = u("<III", notes, o)
        name_at = o + 12
        desc_at = name_at + ((namesz + 3) & ~3)
        name, desc = notes[name_at:name_at + namesz], notes[desc_at:desc_at + descsz]
        if ntype == 0x46494C45:
            count, page = u("<QQ", desc, 0)
            entries = [u("<QQQ", desc, 16 + 24 * k) for k in range(count)]
            paths = desc[16 + 24 * count:].split(b"\0")[:count]
            for k in range(total - count):
                s = 0x600000000000 + k * 0x2000
                entries.append((s, s + 0x1000, 0))
                paths.append(b"/nonexistent/lib%d.so" % k)
            desc = struct.pack("<QQ", len(entries), page) + b"".join(struct.pack("<QQQ", *e) for e in entries) + b"\0".join(paths) + b"\0"
        pad = lambda b: b + b"\0" * (-len(b) % 4)
        out += struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)
        o = desc_at + ((descsz + 3) & ~3)
    new = bytearray(core + b"\0" * (-len(core) % 8))
    at = len(new)
    new += out
    struct.pack_into("<Q", new, ph + 8, at)
    struct.pack_into("<Q", new, ph + 32, len(out))
    return bytes(new)


def timed(args, runs=7):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def rss(args):
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(r.stderr.strip().splitlines()[-1]) / 1024


with tempfile.TemporaryDirectory() as d:
    subprocess.run(["sh", "-c", 'ulimit -c unlimited; exec "$0" "$@"', py, os.path.join(root, "crates/cli/src/demo_scenario.py"),
                    os.path.join(d, "fh.txt")], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    core = os.path.join(d, "core")
    many = os.path.join(d, "core.many")
    with open(core, "rb") as f, open(many, "wb") as g:
        g.write(with_many_mappings(f.read(), 65530))
    cache = os.path.join(d, "cache")
    subprocess.run([pyc, "core", core, "--cache-dir", cache], stdout=subprocess.DEVNULL, check=True)
    plain = timed([pyc, "core", core, "--cache-dir", cache])
    big = timed([pyc, "core", many, "--cache-dir", cache])
    print("python %s" % py)
    print("demo core, warm:                %7.1f ms" % (plain * 1000))
    print("demo core + 65 530 mappings:    %7.1f ms  (%.1fx the plain core), peak RSS %.1f MiB" % (big * 1000, big / plain, rss([pyc, "core", many, "--cache-dir", cache])))
