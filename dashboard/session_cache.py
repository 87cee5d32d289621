"""Signed-in sessions read from the store, kept a few seconds so a page's requests share a read."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cachetools import TTLCache
from sqlalchemy import Engine, event

from data_access.accounts import Account, take_change_mark

# How long a resolved session is reused without asking the store. A change to an account, a
# session or a grant made through this process's engine (sign-out, a new password, a disabled
# account, a grant, a profile change, the `users` command handed to this server) drops every
# entry when its transaction ends. A change made by another process (the `users` command on a
# PostgreSQL store, a second server process) reaches this process within this many seconds, so
# keep it short.
SESSION_CACHE_SECONDS = 3.0
# Entries are small; past this many the least recently used is dropped.
CAPACITY = 10_000


@dataclass(frozen=True)
class ResolvedSession:
    account: Account
    # The subaccounts granted to a user; None for an admin, who sees every subaccount there is
    # at the time of each request (any writer may add one), so that list is not kept here.
    scope_ids: tuple[int, ...] | None


# (user_id, token, moment) -> the session if it is live at `moment`, else None.
Lookup = Callable[[int, str, datetime], ResolvedSession | None]


@dataclass(frozen=True)
class _Entry:
    session: ResolvedSession
    # The store said the session is live until at least this moment (the sign-in clock); the
    # cache's own timer (monotonic) ends the entry after SESSION_CACHE_SECONDS whatever the
    # wall clock does.
    live_until: datetime


class SessionCache:
    """Live sessions by a hash of their cookie's id, dropped when a transaction that changed
    accounts (data_access.accounts marks it) returns its connection to the pool."""

    def __init__(self, engine: Engine, seconds: float = SESSION_CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._entries: TTLCache[str, _Entry] = TTLCache(
            maxsize=CAPACITY, ttl=seconds, timer=time.monotonic
        )
        self._generation = 0
        self._lock = threading.Lock()
        # After the commit (or rollback): a request that read the rows while the change was
        # under way saw them as they were, so nothing read before this moment is kept.
        event.listen(engine, "checkin", self._checkin)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _checkin(self, _dbapi_connection, record) -> None:
        info = getattr(record, "info", None)
        if info is not None and take_change_mark(info):
            self.clear()

    def resolve(
        self, user_id: int, token: str, moment: datetime, lookup: Lookup
    ) -> ResolvedSession | None:
        """The live session for the cookie's id at `moment`, from the cache or `lookup`."""
        key = hashlib.sha256(f"{user_id}:{token}".encode()).hexdigest()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.live_until > moment:
                return entry.session
            generation = self._generation
        # Kept only if still live when the entry runs out, so an expiry is never served late.
        live_until = moment + timedelta(seconds=self.seconds)
        session = lookup(user_id, token, live_until)
        if session is None:
            # Ending within the window (or not live at all): asked for this request alone.
            return lookup(user_id, token, moment)
        with self._lock:
            # A change since the read began may have changed what was read: not kept.
            if generation == self._generation:
                self._entries[key] = _Entry(session, live_until)
        return session
