"""Reads an export's batches ahead, in a thread, while the file writer works on the last ones.

Reading (the store's query) and writing (formula checks, time zones, CSV or XLSX rendering) both
run in native code that lets go of Python's lock, so on two cores they overlap: an export takes
about as long as the slower of the two instead of their sum. What waits between them is
bounded by its size, so memory stays bounded however wide the rows are.
"""

from __future__ import annotations

import operator
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Iterator[T]):
    """Iterates over `source` in a thread of its own; close() stops it and waits for it.

    At most `max_size` (as measured by `size`, for Arrow batches their bytes) waits unread,
    and always at least one item. The source runs entirely in that thread (generators and
    database results cannot move between threads halfway) and is closed there when it ends,
    fails or is stopped.
    """

    def __init__(
        self,
        source: Iterator[T],
        max_size: int,
        size: Callable[[T], int] = operator.attrgetter("nbytes"),
        name: str = "export-reader",
    ) -> None:
        self._source = source
        self._max_size = max_size
        self._size = size
        self._waiting: deque = deque()
        self._held = 0
        self._changed = threading.Condition()
        self._stopped = False
        self._finished = False
        self._thread = threading.Thread(target=self._read, name=name, daemon=True)
        self._thread.start()

    def _put(self, item, size: int) -> bool:
        with self._changed:
            while self._waiting and self._held + size > self._max_size and not self._stopped:
                self._changed.wait()
            if self._stopped:
                return False
            self._waiting.append((item, size))
            self._held += size
            self._changed.notify_all()
            return True

    def _read(self) -> None:
        try:
            for item in self._source:
                if not self._put(item, self._size(item)):
                    break
            else:
                self._put(_DONE, 0)
        except BaseException as error:  # handed to the reading side, which raises it
            self._put(_Failure(error), 0)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        with self._changed:
            while not self._waiting:
                self._changed.wait()
            item, size = self._waiting.popleft()
            self._held -= size
            self._changed.notify_all()
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
        """Stop reading (the items not taken are dropped) and wait until the source is closed."""
        self._finished = True
        with self._changed:
            self._stopped = True
            self._waiting.clear()
            self._changed.notify_all()
        self._thread.join()
