"""What callbacks need from outside Dash: settings, the engine, and who is asking."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TypeVar, cast

import pandas as pd
from flask import current_app, g, has_request_context
from flask_login import current_user
from sqlalchemy import Engine

from config import Settings
from data_access import accounts, message_events, reports
from data_access.accounts import preferences
from data_access.cache import ReportCache
from data_access.clickhouse.binding import messages_of
from data_access.filters import AccessScope, ReportFilter, today_in
from data_access.store import data_version, version_and_subaccounts

T = TypeVar("T")


class NotSignedInError(PermissionError):
    """No one is signed in for this request, so nothing may be read."""


@dataclass(frozen=True)
class Viewer:
    """The person a request is for, resolved on the server for every request."""

    user_id: int | None
    username: str
    role: str
    scope: AccessScope
    language: str
    timezone: str
    display_name: str = ""


# At most this many report queries of one process run in the store at once; the others wait
# for a turn. A DuckDB query already uses every core and pins its own working memory (hash
# tables, sort runs), so more at once add memory, not speed: at 10M messages with eight at once
# under a 1250MB DuckDB limit, some were refused for lack of memory.
QUERY_SLOTS = 3

# The cached report reads of one filter, by their data_access.reports function's name (also
# their cache key's first part): what a view may ask for ahead (Services.prefetch).
REPORT_READS = frozenset(
    {
        "daily_series",
        "top_errors",
        "delivery_times",
        "breakdowns",
    }
)
# Runs a view's reads at once: each is small (5-25 ms at 10M) and mostly waits on the engine's
# planning and the driver, so a view of eight of them shows sooner when they overlap. As many
# threads as query slots: more could only wait for a slot.
_PREFETCH_POOL = ThreadPoolExecutor(max_workers=QUERY_SLOTS, thread_name_prefix="prefetch")


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Days in order as runs of consecutive days: (first, last) each."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# Where a request keeps the data version and the subaccounts it read (flask.g lives as long as
# the request).
_SNAPSHOT = "store_snapshot"

# Set only by code that runs on a user's behalf outside a web request (a background job
# with the scope it was requested with, a test); a web request never sets it.
_acting_viewer: ContextVar[Viewer | None] = ContextVar("acting_viewer", default=None)


def _copy_options(options: dict[str, list]) -> dict[str, list]:
    return {kind: list(values) for kind, values in options.items()}


@dataclass
class Services:
    settings: Settings
    engine: Engine
    # Report results shared by the requests of this process; every key carries the viewer's
    # scope and every entry the store's data_version, so no entry crosses scopes or outlives
    # a write.
    cache: ReportCache = field(default_factory=ReportCache)
    query_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(QUERY_SLOTS)
    )

    def current_viewer(self) -> Viewer:
        """The signed-in user of the current request: an admin sees every subaccount, a user
        the subaccounts granted to them; language and time zone come from their profile.

        Raises NotSignedInError when no one is signed in (the sign-in gate answers such
        requests with 401 before any callback runs, so this is the second line of defence).
        """
        acting = _acting_viewer.get()
        if acting is not None:
            return acting
        if not has_request_context() or getattr(current_app, "login_manager", None) is None:
            raise NotSignedInError("Sign in to see the reports.")
        if not current_user.is_authenticated:
            raise NotSignedInError("Sign in to see the reports.")
        account = current_user.account
        return Viewer(
            user_id=account.id,
            username=account.username,
            role=account.role,
            scope=AccessScope.of(current_user.scope_ids),
            language=account.language,
            timezone=account.timezone or self.settings.account_timezone,
            display_name=account.display_name or account.username,
        )

    @contextmanager
    def acting_as(self, viewer: Viewer) -> Iterator[Viewer]:
        """Run code outside a web request on behalf of `viewer` (its scope, language, zone)."""
        token = _acting_viewer.set(viewer)
        try:
            yield viewer
        finally:
            _acting_viewer.reset(token)

    def data_version(self) -> int:
        """The store's current data version, read afresh for each request (another process may
        have loaded): every report of one request then reads the same version, with one read."""
        if has_request_context():
            return self._request_snapshot()[0]
        return self._read_data_version()

    def every_subaccount_id(self) -> list[int]:
        """Every subaccount's id (an admin's scope), read afresh for each request with the data
        version, so one a load has just added is seen at once."""
        if has_request_context():
            return list(self._request_snapshot()[1])
        with self.engine.connect() as conn:
            return accounts.every_subaccount_id(conn)

    def _request_snapshot(self) -> tuple[int, list[int]]:
        snapshot = g.get(_SNAPSHOT)
        if snapshot is None:
            snapshot = g.setdefault(_SNAPSHOT, self._read_snapshot())
        return snapshot

    def _read_snapshot(self) -> tuple[int, list[int]]:
        if messages_of(self.engine) is not None:
            with self.engine.connect() as conn:
                ids = accounts.every_subaccount_id(conn)
            return self._read_data_version(), ids
        # One statement for both: under many users, each statement's round trip counts.
        with self.engine.connect() as conn:
            return version_and_subaccounts(conn)

    def _read_data_version(self) -> int:
        if (clickhouse := messages_of(self.engine)) is not None:
            return clickhouse.data_version()
        with self.engine.connect() as conn:
            return data_version(conn)

    def _read(self, version: int, key: tuple, query: Callable[[], T]) -> T:
        """The cached result for `key` at the store's data `version`, or `query` run once one
        of the process's query slots is free."""

        def in_turn() -> T:
            with self.query_slots:
                return query()

        return self.cache.get_or_compute(version, key, in_turn)

    def prefetch(self, scope: AccessScope, reads: Iterable[tuple[str, ReportFilter]]) -> None:
        """Run the cached reads a view is about to make (REPORT_READS names, each with its
        filter) at once and wait for them, so the view's own calls, one after another, find
        their results in the cache. A read that fails is left for the view's own call, which
        runs it again and fails as it would have."""
        version = self.data_version()  # read here: a pool thread has no request
        futures = [
            _PREFETCH_POOL.submit(self._report, name, scope, flt, version) for name, flt in reads
        ]
        for future in futures:
            future.exception()  # waits; the view's own call raises what this one did

    def _report(self, name: str, scope: AccessScope, flt: ReportFilter, version: int):
        """The cached result of the report function `name` (REPORT_READS) for a filter."""
        if name not in REPORT_READS:
            raise ValueError(f"{name!r} is not a cached report read")
        key = (name, scope, flt)
        if name in reports.DAY_READS and self._by_days(flt):
            return self.cache.get_or_compute(
                version, key, lambda: self._from_days(name, scope, flt, version)
            )
        read = getattr(reports, name)
        return self._read(version, key, lambda: read(self.engine, scope, flt))

    def _by_days(self, flt: ReportFilter) -> bool:
        """Whether a read of `flt` is made from its days' rows: in a relational store, for
        the filters the roll-up answers."""
        return not flt.searches_messages and messages_of(self.engine) is None

    def _from_days(self, name: str, scope: AccessScope, flt: ReportFilter, version: int):
        """A day read (reports.DAY_READS) of the range made from its days' rows, each day's
        kept in the cache apart: only the days not read yet at this data version are read
        (a query for each run of them), so another range of the same filter, its previous
        period or a day more, costs the store little or nothing."""
        rows_name, result_of = reports.DAY_READS[name]
        rows_of = getattr(reports, rows_name)
        # The filter without its range names a day's rows with the day.
        whole = replace(flt, start=date.min, end=date.min)
        days = flt.days
        keys = [(name, "day", scope, whole, day) for day in days]
        found = cast(list[Sequence[tuple] | None], self.cache.kept(version, keys))
        missing = [day for day, rows in zip(days, found, strict=True) if rows is None]
        if missing:
            by_day: dict[date, list[tuple]] = {day: [] for day in missing}
            with self.query_slots:
                for first, last in _runs(missing):
                    for row in rows_of(self.engine, scope, replace(flt, start=first, end=last)):
                        by_day[row[0]].append(row)
            self.cache.keep(
                version,
                {(name, "day", scope, whole, day): tuple(rows) for day, rows in by_day.items()},
            )
            found = [
                by_day[day] if rows is None else rows for day, rows in zip(days, found, strict=True)
            ]
        return result_of([row for rows in found if rows is not None for row in rows], flt)

    # Cached report reads. Each returns a copy, so a caller that changes its result cannot
    # change what the next viewer with the same key is given. The tables are None where the
    # store does not answer them yet (ClickHouse).

    def _copy(self, name: str, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame | None:
        found = self._report(name, scope, flt, self.data_version())
        return None if found is None else found.copy()

    def _breakdown(self, name: str, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame | None:
        """One of reports.breakdowns' tables: the four are read (and cached) together."""
        found = self._report("breakdowns", scope, flt, self.data_version())[name]
        return None if found is None else found.copy()

    def daily_series(self, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame:
        return self._report("daily_series", scope, flt, self.data_version()).copy()

    def top_errors(self, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame:
        return self._report("top_errors", scope, flt, self.data_version()).copy()

    def campaign_table(self, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame | None:
        return self._breakdown("campaigns", scope, flt)

    def delivery_times(self, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame | None:
        return self._copy("delivery_times", scope, flt)

    def country_table(self, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame | None:
        return self._breakdown("countries", scope, flt)

    def operator_table(self, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame | None:
        return self._breakdown("operators", scope, flt)

    def template_table(self, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame | None:
        return self._breakdown("templates", scope, flt)

    def message_events(self, scope: AccessScope, message_id: str, timezone: str) -> pd.DataFrame:
        """The timeline of one message (not cached: one message, read by key)."""
        return message_events.events_of(self.engine, scope, message_id, timezone)

    def detailed_page(
        self,
        scope: AccessScope,
        flt: ReportFilter,
        *,
        sort: str = "created_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> reports.DetailedPage:
        version = self.data_version()
        asked = (scope, flt, sort, descending, offset, limit)

        def page_of(read: Callable[..., T]) -> Callable[[], T]:
            return lambda: read(
                self.engine, scope, flt, sort=sort, descending=descending, offset=offset,
                limit=limit,
            )  # fmt: skip

        if flt.phone is not None:
            # A phone search's page and count come from one pass over the phone's days
            # (reports.detailed_page): asked apart, the count read those days a second time.
            page = self._read(version, ("phone_page", *asked), page_of(reports.detailed_page))
            return reports.DetailedPage(page.rows.copy(), page.total, offset, limit)
        rows = self._read(version, ("detailed_rows", *asked), page_of(reports.detailed_rows))
        # The count is one per filter: another page or order of the same view reuses it.
        total = self._read(
            version,
            ("detailed_count", scope, flt),
            lambda: reports.detailed_count(self.engine, scope, flt),
        )
        return reports.DetailedPage(rows.copy(), total, offset, limit)

    def table_columns(self, viewer: Viewer) -> tuple[str, ...] | None:
        """The detailed table's columns the viewer chose (None: never chosen)."""
        if viewer.user_id is None:
            return None
        with self.engine.connect() as conn:
            return preferences.table_columns(conn, viewer.user_id)

    def save_table_columns(self, viewer: Viewer, columns: tuple[str, ...]) -> None:
        if viewer.user_id is None:
            return
        with self.engine.begin() as conn:
            preferences.set_table_columns(conn, viewer.user_id, columns)

    def filter_options(self, scope: AccessScope, channel: str, timezone: str) -> dict[str, list]:
        # The window of choices ends today in the zone, so the day is part of the key.
        today: date = today_in(timezone)
        key = ("filter_options", scope, channel, timezone, today)
        return _copy_options(
            self._read(
                self.data_version(),
                key,
                lambda: reports.filter_options(self.engine, scope, channel, timezone),
            )
        )
