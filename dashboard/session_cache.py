"""Signed-in sessions read from the store, kept a few seconds so a page's requests share a read."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, event
from sqlalchemy.sql.dml import UpdateBase

from data_access.accounts import Account
from data_access.tables import subaccounts, user_sessions, user_subaccounts, users

# How long a resolved session is reused without asking the store. Every write to the tables
# below through this process's engine (sign-out, a new password, a disabled account, a grant,
# a profile change, a new subaccount, the `users` command handed to this server) drops every
# entry at once. A change made by another process (the `users` command on a PostgreSQL store,
# a second server process) reaches this process within this many seconds, so keep it short.
SESSION_CACHE_SECONDS = 3.0
# Entries are small; past this many the expired ones are dropped, then all if still too many.
CAPACITY = 10_000
# The rows that decide who a session is and what it may see.
AUTH_TABLES = frozenset(
    table.name for table in (users, user_sessions, user_subaccounts, subaccounts)
)
_WROTE_AUTH = "session_cache_wrote_auth"
_READS = ("SELECT", "SHOW", "PRAGMA", "EXPLAIN", "DESCRIBE")


@dataclass(frozen=True)
class ResolvedSession:
    account: Account
    scope_ids: tuple[int, ...]


# (user_id, token, moment) -> the session if it is live at `moment`, else None.
Lookup = Callable[[int, str, datetime], ResolvedSession | None]


@dataclass(frozen=True)
class _Entry:
    session: ResolvedSession
    # The store said the session is live until at least this moment (the sign-in clock) ...
    live_until: datetime
    # ... and it is reused until this monotonic time, whatever the wall clock does.
    deadline: float


def _writes_auth(context, statement: str) -> bool:
    """Whether a statement just run may change a session, an account or a scope."""
    compiled = getattr(context, "compiled", None)
    element = getattr(compiled, "statement", None)
    if isinstance(element, UpdateBase):
        return getattr(element.table, "name", None) in AUTH_TABLES
    if getattr(context, "isddl", False):
        return True
    if element is not None and not getattr(context, "is_text", False):
        return False
    # Plain SQL: anything but a read may have touched the tables.
    return not statement.lstrip().upper().startswith(_READS)


class SessionCache:
    """Live sessions by a hash of their cookie's id, dropped on every write to the auth tables."""

    def __init__(self, engine: Engine, seconds: float = SESSION_CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._lock = threading.Lock()
        event.listen(engine, "after_cursor_execute", self._after_execute)
        event.listen(engine, "checkin", self._checkin)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _after_execute(self, conn, _cursor, statement, _params, context, _many) -> None:
        if _writes_auth(context, statement):
            # Dropped now, and again when the connection returns to the pool (after its
            # commit): a request that read the rows in between saw them before the change.
            self.clear()
            conn.info[_WROTE_AUTH] = True

    def _checkin(self, _dbapi_connection, record) -> None:
        info = getattr(record, "info", None)
        if info is not None and info.pop(_WROTE_AUTH, False):
            self.clear()

    def resolve(
        self, user_id: int, token: str, moment: datetime, lookup: Lookup
    ) -> ResolvedSession | None:
        """The live session for the cookie's id at `moment`, from the cache or `lookup`."""
        key = hashlib.sha256(f"{user_id}:{token}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.live_until > moment and entry.deadline > now:
                return entry.session
            generation = self._generation
        # Kept only if still live when the entry runs out, so an expiry is never served late.
        live_until = moment + timedelta(seconds=self.seconds)
        session = lookup(user_id, token, live_until)
        if session is None:
            # Ending within the window (or not live at all): asked for this request alone.
            return lookup(user_id, token, moment)
        with self._lock:
            # A write since the read began may have changed what was read: not kept.
            if generation == self._generation:
                if len(self._entries) >= CAPACITY:
                    self._drop_expired(moment, now)
                self._entries[key] = _Entry(session, live_until, now + self.seconds)
        return session

    def _drop_expired(self, moment: datetime, now: float) -> None:
        self._entries = {
            key: entry
            for key, entry in self._entries.items()
            if entry.live_until > moment and entry.deadline > now
        }
        if len(self._entries) >= CAPACITY:
            self._entries.clear()
