"""The one write path: every change to what the reports show goes through `write`.

It owns the process's write lock (DuckDB aborts one of two transactions that update the same
row, and every change bumps the same data-version row), runs the work in one transaction,
retries a transaction that lost a conflict with another writer a bounded number of times, and
bumps the data version in SQL, in the same transaction, only when the work says it changed
something. Report caches key on that version, so an unchanged store keeps them warm and a
changed one never serves stale figures, whichever process wrote.

A writer also has a scope (`WriteScope`): the subaccounts it may write. The message merge
(data_access/merge.py) refuses records outside it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import BigInteger, Connection, Engine, Text, cast, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from data_access.tables import store_meta

log = logging.getLogger(__name__)

T = TypeVar("T")

WRITE_TRIES = 4
RETRY_PAUSE_SECONDS = 0.05

# A write that waits or holds the store this long is logged.
SLOW_WAIT_SECONDS = 5.0
SLOW_WRITE_SECONDS = 2.0
# How long a bulk write waits at most for the short writes ahead of it.
BULK_WAIT_MAX_SECONDS = 30.0


class WriteLock:
    """One writer at a time in this process, re-entrant (a write may call a helper that writes).

    Short writes go first: a bulk write (a part of a file load, a demo chunk) waits while a
    short write (webhook statuses, the API) waits for the lock or while a writer with a backlog
    keeps its turn (`ahead_of_bulk`), so a load holds the statuses back one part at most. A
    bulk write waits BULK_WAIT_MAX_SECONDS at most, so a flood of short writes never stops a
    load.
    """

    def __init__(self, bulk_wait_max: float = BULK_WAIT_MAX_SECONDS) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._short_waiting = 0
        self._ahead = 0
        self.bulk_wait_max = bulk_wait_max

    @contextmanager
    def held(self, *, bulk: bool = False) -> Iterator[None]:
        self._acquire(bulk)
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def ahead_of_bulk(self) -> Iterator[None]:
        """While this is open, bulk writes wait (for BULK_WAIT_MAX_SECONDS at most)."""
        with self._cond:
            self._ahead += 1
        try:
            yield
        finally:
            with self._cond:
                self._ahead -= 1
                self._cond.notify_all()

    def _acquire(self, bulk: bool) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            if bulk:
                deadline = time.monotonic() + self.bulk_wait_max
                while True:
                    left = deadline - time.monotonic()
                    yielding = bool(self._short_waiting or self._ahead) and left > 0
                    if self._owner is None and not yielding:
                        break
                    self._cond.wait(left if yielding else None)
            else:
                self._short_waiting += 1
                try:
                    while self._owner is not None:
                        self._cond.wait()
                finally:
                    self._short_waiting -= 1
            self._owner = me
            self._depth = 1

    def _release(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()


_lock = WriteLock()


def ahead_of_bulk() -> AbstractContextManager[None]:
    """Keep bulk writes waiting while a writer works through a backlog of short writes."""
    return _lock.ahead_of_bulk()


class StoreBusyError(RuntimeError):
    """Another writer kept winning the same rows; nothing of this write was stored."""


@dataclass(frozen=True)
class WriteScope:
    """The subaccounts a writer may write into, by name; None: every one.

    `writer` names the writer in refusals and in the audit trail ("API key 3f9a… of Sub A").
    """

    writer: str
    subaccounts: frozenset[str] | None = None

    @classmethod
    def account(cls, writer: str) -> WriteScope:
        """The whole account: file loads, demo data and other admin tools."""
        return cls(writer, None)

    @classmethod
    def subaccount(cls, writer: str, name: str) -> WriteScope:
        return cls(writer, frozenset({name}))

    def allows(self, subaccount: str) -> bool:
        return self.subaccounts is None or subaccount in self.subaccounts


@dataclass
class Transaction:
    """What a write's work gets: its connection, and a flag to say that reports changed."""

    conn: Connection
    changed: bool = False

    def mark_changed(self, changed: bool = True) -> None:
        self.changed = self.changed or bool(changed)


def is_conflict(error: BaseException) -> bool:
    """A transaction that lost to a concurrent one and may simply be run again.

    DuckDB: "Conflict on update/tuple deletion" (a TransactionException). PostgreSQL:
    serialization failure, deadlock, or a unique violation from two writers inserting the same
    new message at once (run again, the second finds it stored and updates it).
    """
    orig = getattr(error, "orig", None) if isinstance(error, DBAPIError) else error
    code = getattr(orig, "sqlstate", None)
    if isinstance(error, IntegrityError):
        return code == "23505"
    if code in ("40001", "40P01"):
        return True
    # DuckDB's own exceptions, wrapped by SQLAlchemy or raised by the driver's direct calls.
    text = str(orig if orig is not None else error)
    return type(orig).__name__ == "TransactionException" and (
        "Conflict on" in text or "TransactionContext Error" in text
    )


def is_out_of_memory(error: BaseException) -> bool:
    """The engine refused for memory (DuckDB's OutOfMemoryException, PostgreSQL's 53200)."""
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) == "53200":
        return True
    return "out of memory" in str(orig if orig is not None else error).lower()


def bump_data_version(conn: Connection) -> None:
    """Add one to the data version in SQL, so concurrent writers never write the same number."""
    value = store_meta.c.value
    conn.execute(
        update(store_meta)
        .where(store_meta.c.key == "data_version")
        .values(value=cast(cast(value, BigInteger) + 1, Text))
    )


def _log_slow(bulk: bool, waited: float, held: float) -> None:
    if waited >= SLOW_WAIT_SECONDS or held >= SLOW_WRITE_SECONDS:
        kind = "bulk write" if bulk else "write"
        log.info("%s waited %.1f s for its turn and held the store %.1f s", kind, waited, held)


def write(
    engine: Engine,
    work: Callable[[Transaction], T],
    *,
    tries: int = WRITE_TRIES,
    on_retry: Callable[[], None] | None = None,
    bulk: bool = False,
) -> T:
    """Run `work` in one transaction under the process's write lock and return its result.

    A transaction that loses a conflict is rolled back and run again (up to `tries` times in
    all); `on_retry` resets whatever the work accumulated outside the store. Past that,
    StoreBusyError; nothing of the write is stored. The data version goes up by one when the
    work called `mark_changed`. A `bulk` write lets short ones go first (see WriteLock).
    """

    def once() -> T:
        asked = time.monotonic()
        with _lock.held(bulk=bulk):
            got = time.monotonic()
            with engine.begin() as conn:
                tx = Transaction(conn)
                result = work(tx)
                if tx.changed:
                    bump_data_version(conn)
            _log_slow(bulk, got - asked, time.monotonic() - got)
        return result

    return _retried(once, tries, on_retry)


def write_apart(engine: Engine, work: Callable[[Connection], T], *, tries: int = WRITE_TRIES) -> T:
    """Run `work` in one transaction, and again when it lost a conflict with a concurrent one
    (as `write` does), without the write lock: for the accounts' own rows (sessions, sign-in
    records, the audit trail), which no report reads, so a sign-in never waits for a part of a
    file load. Two browsers signing in at once both clear expired sessions, and DuckDB aborts
    one of them."""

    def once() -> T:
        with engine.begin() as conn:
            return work(conn)

    return _retried(once, tries, None)


def _retried(once: Callable[[], T], tries: int, on_retry: Callable[[], None] | None) -> T:
    for attempt in range(1, tries + 1):
        try:
            return once()
        except Exception as error:
            if not is_conflict(error):
                raise
            if attempt == tries:
                raise StoreBusyError(
                    "another writer kept changing the same messages; nothing was stored, try again"
                ) from error
            log.info("write conflict (try %s of %s); running it again", attempt, tries)
            if on_retry is not None:
                on_retry()
            time.sleep(RETRY_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")
