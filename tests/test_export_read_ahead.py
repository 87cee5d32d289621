"""Batches read ahead in a thread: same items in the same order, errors carried over, bounded
memory, and a stop that closes the source and ends the thread."""

from __future__ import annotations

import threading
import time

import pytest

from exports import writers
from exports.read_ahead import ReadAhead
from exports.writers import write_export
from tests.exports_data import NEWEST_FIRST, load, scope_of
from tests.test_export_files import read_csv, request


class Source:
    """A generator-like source that notes where it ran, how far it got and whether it closed."""

    def __init__(self, items, fail_at: int | None = None) -> None:
        self.items = items
        self.fail_at = fail_at
        self.produced = 0
        self.closed = False
        self.threads: set[str] = set()

    def __iter__(self):
        return self._run()

    def _run(self):
        try:
            for index, item in enumerate(self.items):
                self.threads.add(threading.current_thread().name)
                if index == self.fail_at:
                    raise ValueError(f"broken at {index}")
                self.produced += 1
                yield item
        finally:
            self.closed = True


def _wait_until_still(read, seconds=2.0):
    """Wait until `read()` stops changing (the reading thread is blocked)."""
    deadline = time.monotonic() + seconds
    last = read()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = read()
        if now == last:
            return now
        last = now
    return last


@pytest.mark.parametrize("depth", [1, 3, 50])
def test_every_item_comes_in_order_from_another_thread(depth):
    source = Source(range(20))
    ahead = ReadAhead(iter(source), depth, size=lambda _item: 1)
    assert list(ahead) == list(range(20))
    assert source.closed
    assert source.threads == {"export-reader"}
    assert list(ahead) == []


def test_an_error_in_the_source_comes_after_the_items_before_it():
    source = Source(range(10), fail_at=4)
    ahead = ReadAhead(iter(source), 2, size=lambda _item: 1)
    got = []
    with pytest.raises(ValueError, match="broken at 4"):
        for item in ahead:
            got.append(item)
    assert got == [0, 1, 2, 3]
    assert source.closed


def test_no_more_than_depth_items_wait_unread():
    source = Source(iter(int, 1))  # endless zeros
    ahead = ReadAhead(iter(source), 3, size=lambda _item: 1)
    # Three wait in the queue and a fourth in the reader's hand, blocked until there is room.
    assert _wait_until_still(lambda: source.produced) == 4
    next(ahead)
    assert _wait_until_still(lambda: source.produced) == 5
    ahead.close()
    assert source.closed


def test_what_waits_is_bounded_by_size_and_an_oversized_item_still_passes():
    source = Source([5, 5, 5, 30, 1, 1])
    ahead = ReadAhead(iter(source), 12, size=lambda item: item)
    # 5 + 5 wait; the third 5 would pass 12 and waits in the reader's hand.
    assert _wait_until_still(lambda: source.produced) == 3
    assert [next(ahead), next(ahead), next(ahead)] == [5, 5, 5]
    # 30 is more than the bound alone: it passes once nothing else waits.
    assert list(ahead) == [30, 1, 1]
    assert source.closed


def test_close_stops_the_reader_and_closes_the_source():
    source = Source(iter(int, 1))
    ahead = ReadAhead(iter(source), 2, size=lambda _item: 1)
    assert next(ahead) == 0
    ahead.close()
    assert source.closed
    assert not any(t.name == "export-reader" for t in threading.enumerate())
    with pytest.raises(StopIteration):
        next(ahead)


@pytest.fixture
def store(engine, load_rows):
    load(engine, load_rows)
    return engine


def test_an_export_that_fails_while_reading_ahead_leaves_no_file_nor_thread(
    store, tmp_path, monkeypatch
):
    calls = []
    real = writers._detail_arrays

    def fails_on_the_second_batch(batch, *args, **kwargs):
        calls.append(batch.num_rows)
        if len(calls) == 2:
            raise RuntimeError("disk went away")
        return real(batch, *args, **kwargs)

    monkeypatch.setattr(writers, "_detail_arrays", fails_on_the_second_batch)
    with pytest.raises(RuntimeError, match="disk went away"):
        write_export(
            store, request(), scope_of(store), tmp_path / "x.csv", requested_by="ana", batch_rows=2
        )
    assert calls == [2, 2]
    assert list(tmp_path.glob("x*")) == []
    assert not any(t.name == "export-reader" for t in threading.enumerate())
    # The connection the reader used went back to the pool in a state that works.
    monkeypatch.setattr(writers, "_detail_arrays", real)
    write_export(store, request(), scope_of(store), tmp_path / "y.csv", requested_by="ana")
    assert [row[0] for row in read_csv(tmp_path / "y.csv")[1:]] == NEWEST_FIRST
