"""Reads an export's batches one step ahead, in a thread, while the file writer works on the last.

Reading (the store's query) and writing (formula checks, time zones, CSV or XLSX rendering) both
run in native code that lets go of Python's lock, so on two cores they overlap: an export takes
about as long as the slower of the two instead of their sum. At most `depth` batches wait
between them, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
_PUT_SECONDS = 0.1


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Iterator[T]):
    """Iterates over `source` in a thread of its own; close() stops it and waits for it.

    The source runs entirely in that thread (generators and database results cannot move
    between threads halfway), and is closed there when it ends, fails or is stopped.
    """

    def __init__(self, source: Iterator[T], depth: int = 2, name: str = "export-reader") -> None:
        self._source = source
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._read, name=name, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_PUT_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    break
            else:
                self._put(_DONE)
        except BaseException as error:  # handed to the reading side, which raises it
            self._put(_Failure(error))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _DONE:
            self._finish()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finish()
            raise item.error
        return item

    def _finish(self) -> None:
        self._finished = True
        self._thread.join()

    def close(self) -> None:
        """Stop reading (the batches not taken are dropped) and wait until the source is closed."""
        self._finished = True
        self._stop.set()
        self._thread.join()
