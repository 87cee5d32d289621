"""The server's allocator settings (servertools/allocator.py): large buffers freed in any order
go back to the system, as a load's frames and the store's evicted blocks do."""

from __future__ import annotations

import subprocess
import sys

from config import PROJECT_DIR
from servertools.allocator import ARENAS

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


def run(program: str, *args: str) -> str:
    """What `program` prints, run in a fresh process from the project (the settings are the
    process's own)."""
    done = subprocess.run(
        [sys.executable, "-c", program, *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def kept_mib(mode: str) -> tuple[str, int]:
    active, kept = run(PROGRAM, mode).split()
    return active, int(kept)


def test_freed_large_buffers_go_back_to_the_system_with_the_mapping_size_fixed():
    active, kept = kept_mib("fixed")
    assert active == "True" and kept < 10


def test_without_it_glibc_keeps_them():
    # What the server had before (and what shows the test above tests something): the 100 MiB
    # stay with the process.
    _active, kept = kept_mib("default")
    assert kept >= 90


# Eight threads, each holding a small buffer from the C allocator, then glibc's own account of
# its heaps (malloc_info's XML, one <heap> per arena).
HEAPS_PROGRAM = """
import ctypes, sys, tempfile, threading
from servertools.allocator import Allocator

if sys.argv[1] == "fixed":
    Allocator(interval=3600).start()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
held = []
ready = threading.Barrier(9)
done = threading.Event()

def hold():
    held.append(libc.malloc(1024))
    ready.wait()
    done.wait()

threads = [threading.Thread(target=hold) for _ in range(8)]
for thread in threads:
    thread.start()
ready.wait()
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    handle = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, handle)
    libc.fclose(handle)
    print(open(out.name).read().count("<heap nr="))
done.set()
"""


def heaps(mode: str) -> int:
    return int(run(HEAPS_PROGRAM, mode))


def test_the_server_keeps_a_few_heaps_however_many_threads_allocate():
    # The main thread's heap and at most ARENAS in all; glibc alone gives each thread its own
    # (up to eight per core), so the second count shows the first one tests something.
    assert heaps("fixed") <= ARENAS
    assert heaps("default") > ARENAS


def test_arrow_buffers_come_from_the_c_allocator_in_the_server():
    program = (
        "import pyarrow as pa\n"
        "from servertools.allocator import Allocator\n"
        "before = pa.default_memory_pool().backend_name\n"
        "Allocator(interval=3600).start()\n"
        "print(before, pa.default_memory_pool().backend_name)\n"
    )
    before, after = run(program).split()
    assert before != "system" and after == "system"
