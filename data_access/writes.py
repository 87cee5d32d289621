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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import BigInteger, Connection, Engine, Text, cast, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from data_access.tables import store_meta

log = logging.getLogger(__name__)

T = TypeVar("T")

WRITE_TRIES = 4
RETRY_PAUSE_SECONDS = 0.05

# One writer at a time in this process. Re-entrant: a write may call a helper that writes.
_lock = threading.RLock()


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


def write(
    engine: Engine,
    work: Callable[[Transaction], T],
    *,
    tries: int = WRITE_TRIES,
    on_retry: Callable[[], None] | None = None,
) -> T:
    """Run `work` in one transaction under the process's write lock and return its result.

    A transaction that loses a conflict is rolled back and run again (up to `tries` times in
    all); `on_retry` resets whatever the work accumulated outside the store. Past that,
    StoreBusyError; nothing of the write is stored. The data version goes up by one when the
    work called `mark_changed`.
    """
    for attempt in range(1, tries + 1):
        try:
            with _lock, engine.begin() as conn:
                tx = Transaction(conn)
                result = work(tx)
                if tx.changed:
                    bump_data_version(conn)
            return result
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
