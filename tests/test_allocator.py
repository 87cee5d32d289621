"""The server's allocator settings (servertools/allocator.py): large buffers freed in any order
go back to the system, as a load's frames and the store's evicted blocks do."""

from __future__ import annotations

import subprocess
import sys

from config import PROJECT_DIR

# 400 buffers of 256 KiB (100 MiB) allocated and freed, all but the newest: glibc, once its
# mapping size has grown past them, serves them from its heap, which cannot shrink below the one
# still held, and the process keeps the 100 MiB.
PROGRAM = """
import ctypes, sys
from servertools.allocator import Allocator

def resident_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

allocator = Allocator(interval=3600)
if sys.argv[1] == "fixed":
    allocator.start()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(256 * 1024))  # glibc raises its mapping size past 256 KiB here
before = resident_mib()
buffers = [libc.malloc(256 * 1024) for _ in range(400)]
for pointer in buffers:
    ctypes.memset(pointer, 1, 256 * 1024)
for pointer in buffers[:-1]:
    libc.free(pointer)
print(allocator.active, resident_mib() - before)
"""


def kept_mib(mode: str) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    active, kept = done.stdout.split()
    return active, int(kept)


def test_freed_large_buffers_go_back_to_the_system_with_the_mapping_size_fixed():
    active, kept = kept_mib("fixed")
    assert active == "True" and kept < 10


def test_without_it_glibc_keeps_them():
    # What the server had before (and what shows the test above tests something): the 100 MiB
    # stay with the process.
    _active, kept = kept_mib("default")
    assert kept >= 90
