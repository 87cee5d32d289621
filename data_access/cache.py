"""A small in-process cache of report results, keyed by scope and filter, held per data version.

Every key carries the viewer's AccessScope, so an entry is never shared across scopes. Every
entry belongs to the store's data_version it was read at, which every write bumps: the first
read at a newer version empties the cache, since no entry of an older version can be asked
for again, and a result read at an older version is returned but not kept.

The cache is bounded by the bytes its results hold, not by their number: a report read's
result is 1 to 20 KB, so a bound of 256 entries held a few megabytes but, under twenty users
asking for new views, only about ten seconds of their work.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import pandas as pd

T = TypeVar("T")

# What the results of one process may hold at most, by size_of: about 1,000 report reads
# (their frames hold about half of that).
MAX_BYTES = 32 * 1024 * 1024
# A frame's size by its cells. At 10M messages the report reads' frames hold 11 to 19 bytes
# a cell by pandas' deep memory_usage, which takes 2 to 4 ms a frame to work out (longer than
# some reads): a cell is counted as more than that, so the bound errs on the safe side.
CELL_BYTES = 32
FRAME_BYTES = 2048


def size_of(value: object) -> int:
    """About how many bytes a report result holds, at most (a frame, a page, a count, a dict
    or list of them)."""
    if isinstance(value, pd.DataFrame):
        return FRAME_BYTES + value.size * CELL_BYTES
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(size_of(k) + size_of(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sys.getsizeof(value) + sum(size_of(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return sys.getsizeof(value) + sum(size_of(getattr(value, f.name)) for f in fields)
    return sys.getsizeof(value)


class ReportCache:
    """Results of one data version, the least recently used dropped past `max_bytes`."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._version: int | None = None
        # key -> (result, its size)
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def bytes(self) -> int:
        """What the kept results hold, by size_of."""
        return self._bytes

    def get_or_compute(self, version: int, key: Hashable, compute: Callable[[], T]) -> T:
        """The result kept for `key` at the store's data `version`, or `compute`'s (kept)."""
        with self._lock:
            self._see(version)
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found[0]  # type: ignore[return-value]
        # Computed outside the lock so one slow query does not block other viewers.
        value = compute()
        size = size_of(value)
        with self._lock:
            self.misses += 1
            self._keep(version, key, value, size)
        return value

    def kept(self, version: int, keys: Sequence[Hashable]) -> list[object | None]:
        """What is kept for each of `keys` at the data `version` (None where nothing is),
        computing nothing: for a result made of parts kept apart (the days of a range)."""
        with self._lock:
            self._see(version)
            found = []
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                found.append(None if entry is None else entry[0])
            return found

    def keep(self, version: int, results: dict[Hashable, object]) -> None:
        """Keep results read at the data `version` (not kept if a newer version was seen)."""
        sized = [(key, value, size_of(value)) for key, value in results.items()]
        with self._lock:
            for key, value, size in sized:
                self._keep(version, key, value, size)

    def _keep(self, version: int, key: Hashable, value: object, size: int) -> None:
        self._see(version)
        if version == self._version and size <= self.max_bytes:
            self._drop(key)
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def _see(self, version: int) -> None:
        """A newer data version empties the cache: its entries can never be asked for again."""
        if self._version is None or version > self._version:
            self._version = version
            self._entries.clear()
            self._bytes = 0

    def _drop(self, key: Hashable) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= found[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
