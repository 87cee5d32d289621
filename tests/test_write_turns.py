"""Whose turn it is to write: short writes (webhook statuses, the API) go before a bulk write
(a file load's part), so a load holds the statuses back one part at most."""

from __future__ import annotations

import threading
import time

import pytest

from data_access.writes import WriteLock
from ingest import inbox


def _waiting(lock: WriteLock, short: int = 0) -> None:
    """Wait until `short` short writers wait for the lock (a bulk one shows in no count)."""
    deadline = time.monotonic() + 5
    while lock._short_waiting != short:
        assert time.monotonic() < deadline, "the writer never started waiting"
        time.sleep(0.005)


def _start(lock: WriteLock, order: list[str], name: str, *, bulk: bool) -> threading.Thread:
    def run() -> None:
        with lock.held(bulk=bulk):
            order.append(name)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_short_write_that_waits_goes_before_a_bulk_write_that_waited_longer():
    lock, order = WriteLock(), []
    with lock.held():
        bulk = _start(lock, order, "part", bulk=True)
        time.sleep(0.05)  # the part waits first
        short = _start(lock, order, "statuses", bulk=False)
        _waiting(lock, short=1)
    bulk.join(5)
    short.join(5)
    assert order == ["statuses", "part"]


def test_a_bulk_write_waits_while_a_backlog_keeps_its_turn_and_goes_after():
    lock, order = WriteLock(), []
    with lock.ahead_of_bulk():
        bulk = _start(lock, order, "part", bulk=True)
        time.sleep(0.2)
        assert order == []  # the lock is free, but a backlog is being worked through
        with lock.held():
            order.append("batch")
    bulk.join(5)
    assert order == ["batch", "part"]


def test_a_flood_of_short_writes_holds_a_bulk_write_back_for_a_bounded_time():
    lock, order = WriteLock(bulk_wait_max=0.2), []
    with lock.ahead_of_bulk():
        started = time.monotonic()
        bulk = _start(lock, order, "part", bulk=True)
        bulk.join(5)
        waited = time.monotonic() - started
        assert order == ["part"]  # it went while the backlog still kept its turn
    assert 0.2 <= waited < 2


def test_a_write_inside_a_write_of_the_same_thread_goes_on_and_others_wait():
    lock, order = WriteLock(), []
    with lock.held(bulk=True):
        with lock.held():  # a helper that writes, inside the write
            order.append("inner")
        other = _start(lock, order, "other", bulk=False)
        _waiting(lock, short=1)
        order.append("outer")
    other.join(5)
    assert order == ["inner", "outer", "other"]


def test_the_inbox_worker_keeps_a_load_waiting_until_its_backlog_is_worked_through(
    monkeypatch: pytest.MonkeyPatch,
):
    """Three full batches and then a short one: a part that asks for the lock during the
    first batch is written after the fourth."""
    lock, order = WriteLock(), []
    monkeypatch.setattr(inbox, "ahead_of_bulk", lock.ahead_of_bulk)
    parts: list[threading.Thread] = []
    done = threading.Event()

    def process_due(engine, timezone, limit=inbox.BATCH_ROWS):
        passes = sum(1 for o in order if o.startswith("batch"))
        with lock.held():
            if passes == 0:
                parts.append(_start(lock, order, "part", bulk=True))
                time.sleep(0.05)
            order.append(f"batch {passes + 1}")
        if passes == 3:
            done.set()
        return inbox.Report(processed=limit if passes < 3 else 7)

    monkeypatch.setattr(inbox, "process_due", process_due)
    worker = inbox.Worker(None, "UTC", keep_days=7, settle=0.3)  # type: ignore[arg-type]
    monkeypatch.setattr(worker, "_apply_pending", lambda seen: seen)
    monkeypatch.setattr(inbox, "purge_processed", lambda *a: 0)
    monkeypatch.setattr(inbox, "expire_pending", lambda *a: 0)
    monkeypatch.setattr(inbox, "purge_messages", lambda *a: 0)
    worker.start()
    try:
        assert done.wait(5)
        parts[0].join(5)
    finally:
        worker.stop()
    assert order[:5] == ["batch 1", "batch 2", "batch 3", "batch 4", "part"]
