"""The C allocator of the long-running server: memory freed by a load handed back to the system.

DuckDB's blocks and pandas' arrays come from the C library's malloc. glibc keeps a heap per
thread (up to eight per core) and, once a large buffer has been freed, raises the size from
which buffers get a mapping of their own, so that later ones come from those heaps: the
buffers of a file load (its frames, the store's blocks it evicted) then stay in the server
after the load, and its memory rises with each one. With the mapping size fixed, every large
buffer is a mapping returned when it is freed; a trim now and then gives back the free pages
of the heaps. Where the C library is not glibc, nothing changes.

Arrow's buffers (pandas' strings, the frames a load hands the store) come from Arrow's own pool
by default, which keeps freed pages for later; the server sends them through the C allocator
too, so they go back as the others do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

import pyarrow as pa

log = logging.getLogger(__name__)

# mallopt's parameter numbers (malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# Buffers from this size up are mappings of their own (glibc's starting value, kept fixed).
MMAP_THRESHOLD = 128 * 1024
TRIM_SECONDS = 30.0
# Heaps glibc may keep (its own bound is eight per core): the server's threads mostly take
# turns on Python's lock, and each heap keeps its own free pages.
ARENAS = 4


def glibc():
    """The C library where it is glibc, else None."""
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it)
    except (OSError, AttributeError):
        return None
    return libc


def fix_sizes(libc) -> bool:
    """Send Arrow's buffers through the C allocator and fix glibc's mapping size at
    MMAP_THRESHOLD (`libc`: glibc(), or None where the C library is another); False where
    the size could not be fixed."""
    pa.set_memory_pool(pa.system_memory_pool())
    return libc is not None and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


class Allocator:
    """Fixes glibc's mapping size at start and trims its heaps every TRIM_SECONDS."""

    def __init__(self, interval: float = TRIM_SECONDS) -> None:
        self.interval = interval
        self._libc = glibc()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self._libc is not None

    def trim(self) -> None:
        if self._libc is not None:
            self._libc.malloc_trim(0)

    def start(self) -> Allocator:
        fixed = fix_sizes(self._libc)
        if self._libc is None:
            return self
        if not fixed:
            log.warning("the C library refused a fixed mapping size")
        if not self._libc.mallopt(M_ARENA_MAX, ARENAS):
            log.warning("the C library refused a bound on its heaps")
        self._thread = threading.Thread(target=self._run, daemon=True, name="allocator-trim")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.trim()

    def stop(self) -> None:
        self._stop.set()
