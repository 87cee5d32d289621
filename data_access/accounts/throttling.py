"""Throttling of failed sign-ins, per typed name and per address, counted in the store."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, insert, select

from data_access.tables import login_failures

# Throttling of failed sign-ins: past these counts within the window, sign-in is refused until
# the oldest counted failure leaves the window. The address limit is higher because several
# people may share one address (an office behind one gateway).
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 20


def throttle_key(username: str) -> str:
    """Attempts count per typed name, case and spaces aside, so variants do not multiply them."""
    return (username or "").strip().lower()[:200]


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt: the reserved row when it may be checked, or when to try again."""

    id: int | None
    retry_at: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.id is not None


# Reserving an attempt reads the counts and then writes; on DuckDB (one process writes the
# file) this lock makes the two one step, and it keeps this process's deletes of attempt rows
# from colliding (DuckDB refuses two transactions deleting one row). PostgreSQL serves several
# processes, so there the reservation also takes a transaction-scoped advisory lock per name and
# per address.
_attempts_lock = threading.Lock()


def _advisory_key(kind: str, value: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock, one per throttled name or address."""
    digest = hashlib.blake2b(f"login-{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _attempts_transaction(engine: Engine) -> Iterator[Connection]:
    with _attempts_lock, engine.begin() as conn:
        yield conn


def reserve_attempt(engine: Engine, username: str, address: str, now: datetime) -> Attempt:
    """Count and take one attempt of the name and the address in one atomic step, before the
    password or code is checked.

    The reserved row counts as a failure until the check succeeds (`release_attempt`, or
    `clear_failures` on sign-in), so however many requests arrive at once, at most
    MAX_FAILURES_PER_USERNAME checks run per name and MAX_FAILURES_PER_ADDRESS per address in
    the window. Runs its own transaction: the lock must cover its commit.
    """
    name, where = throttle_key(username), (address or "")[:64]
    expired = login_failures.c.failed_at < now - FAILURE_WINDOW
    with _attempts_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            # Always in the same order, so two reservations never wait on each other in a cycle.
            for key in sorted({_advisory_key("name", name), _advisory_key("address", where)}):
                conn.execute(select(func.pg_advisory_xact_lock(key)))
            # Rows another reservation is deleting right now are left to it, not waited for.
            expired = login_failures.c.id.in_(
                select(login_failures.c.id).where(expired).with_for_update(skip_locked=True)
            )
        conn.execute(delete(login_failures).where(expired))
        until = blocked_until(conn, username, address, now)
        if until is not None:
            return Attempt(None, until)
        attempt_id = conn.execute(
            insert(login_failures)
            .values(username=name, address=where, failed_at=now)
            .returning(login_failures.c.id)
        ).scalar_one()
    return Attempt(int(attempt_id))


def release_attempt(engine: Engine, attempt: Attempt) -> None:
    """The check succeeded: the reserved attempt no longer counts as a failure."""
    if attempt.id is None:
        return
    with _attempts_transaction(engine) as conn:
        conn.execute(delete(login_failures).where(login_failures.c.id == attempt.id))


def clear_failures(engine: Engine, username: str) -> None:
    """A sign-in succeeded: forget the name's failed attempts."""
    with _attempts_transaction(engine) as conn:
        conn.execute(
            delete(login_failures).where(login_failures.c.username == throttle_key(username))
        )


def _retry_at(conn: Connection, condition, limit: int, now: datetime) -> datetime | None:
    recent = (
        conn.execute(
            select(login_failures.c.failed_at)
            .where(condition, login_failures.c.failed_at >= now - FAILURE_WINDOW)
            .order_by(login_failures.c.failed_at.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if len(recent) < limit:
        return None
    return recent[-1] + FAILURE_WINDOW


def blocked_until(conn: Connection, username: str, address: str, now: datetime) -> datetime | None:
    """When sign-in may be tried again for this name or address, or None when it may now."""
    times = [
        _retry_at(
            conn,
            login_failures.c.username == throttle_key(username),
            MAX_FAILURES_PER_USERNAME,
            now,
        ),
        _retry_at(
            conn, login_failures.c.address == (address or "")[:64], MAX_FAILURES_PER_ADDRESS, now
        ),
    ]
    later = [t for t in times if t is not None and t > now]
    return max(later) if later else None


def failure_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(login_failures)).scalar_one())
