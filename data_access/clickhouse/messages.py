"""The messages of the app in ClickHouse, beside a relational store that keeps the rest.

The app's relational store (DuckDB or PostgreSQL) keeps accounts, grants, sessions, the audit
trail, API keys, channels, the inbox and export jobs, and the subaccount, user and campaign
names with their ids: grants, scopes and filters carry those ids. ClickHouse stores messages by
name. `ClickHouseMessages` answers the report reads, the export stream and the writes with
relational ids on the outside, turning them into names (and ClickHouse's ids of names,
data_access.clickhouse.reports.name_ids) on the way in; every write registers its names in the
relational store first, so a new subaccount can be granted and chosen in the filters.

A server store keeps a few connections (one query at a time each; the driver's client is not
shared between threads); the embedded engine (chdb) is one session, so its queries take turns.
"""

from __future__ import annotations

import heapq
import json
import queue
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, insert, select

from data_access import reports
from data_access.clickhouse import reports as ch_reports
from data_access.clickhouse import retention as ch_retention
from data_access.clickhouse.client import ChdbClient, NativeClient, parse_url, render
from data_access.clickhouse.store import ClickHouseStore, IngestResult, ingest
from data_access.domain import RANK_STATUS, STATUSES
from data_access.filters import MAX_DAYS_BACK, AccessScope, FilterError, ReportFilter, today_in
from data_access.merge import Identity
from data_access.sql import next_id
from data_access.tables import campaigns, subaccounts, users
from data_access.writes import Transaction, WriteScope, write

# kind -> (table, name column, the staged frame's column)
_NAMED = {
    "subaccount": (subaccounts, subaccounts.c.name, "subaccount"),
    "user": (users, users.c.username, "user"),
    "campaign": (campaigns, campaigns.c.name, "campaign"),
}
# An id with no name matches no message (cityHash64 of a name is never 0 in practice).
_NO_ID = 0
STREAM_ROWS = 16_384
# The Arrow schema of detailed rows (exports.source.DETAIL_SCHEMA, which the export converts to).
DETAIL_SCHEMA = pa.schema(
    [
        (name, pa.timestamp("us") if name in reports.TIME_COLUMNS else pa.string())
        for name in reports.DETAIL_COLUMNS
    ]
)
# How far before a status's day its message is looked for, widening: statuses come within
# minutes or hours of the send, so the first, narrowest range finds nearly all.
STATUS_REACH_DAYS = (1, 7, 31)
LOOKUP_IDS = 2_000


@dataclass(frozen=True)
class StoredMessage(Identity):
    """A stored message's identity with what a status record for it repeats, so that the
    status folds into the message's own row of the roll-up and of the phone key."""

    content_type: str = ""
    phone: str = ""
    created_at: datetime | None = None


class ClickHouseMessages:
    """Message reads and writes on the ClickHouse store at `url`, names kept in `engine`."""

    def __init__(self, url: str, engine: Engine, connections: int = 4) -> None:
        self.url = url
        self.engine = engine
        first = ClickHouseStore(url)
        self._most = 1 if parse_url(url).kind == "chdb" else connections
        self._made = [first]
        self._idle: queue.LifoQueue[ClickHouseStore] = queue.LifoQueue()
        self._idle.put(first)
        self._lock = threading.Lock()
        self._names: dict[str, dict[int, str]] = {kind: {} for kind in _NAMED}
        self._ch_ids: dict[str, int] = {}

    # ----------------------------------------------------------------- connections

    @contextmanager
    def store(self) -> Iterator[ClickHouseStore]:
        """A connection of this process's own for the duration of the block."""
        try:
            store = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                fresh = len(self._made) < self._most
                if fresh:
                    store = ClickHouseStore(self.url, create=False)
                    self._made.append(store)
            if not fresh:
                store = self._idle.get()
        try:
            yield store
        finally:
            self._idle.put(store)

    def close(self) -> None:
        for store in self._made:
            store.close()
        self._made = []

    @property
    def cluster(self) -> str | None:
        return self._made[0].cluster if self._made else None

    def data_version(self) -> int:
        with self.store() as store:
            return store.data_version()

    # ----------------------------------------------------------------- ids and names

    def _names_of(self, kind: str, ids) -> dict[int, str]:
        known = self._names[kind]
        missing = sorted({int(i) for i in ids} - known.keys())
        if missing:
            table, label, _ = _NAMED[kind]
            with self.engine.connect() as conn:
                rows = conn.execute(select(table.c.id, label).where(table.c.id.in_(missing)))
                known.update({int(i): name for i, name in rows})
        return {int(i): known[int(i)] for i in ids if int(i) in known}

    def _ids_of_names(self, names) -> dict[str, int]:
        missing = sorted(set(names) - self._ch_ids.keys())
        if missing:
            with self.store() as store:
                self._ch_ids.update(ch_reports.name_ids(store, missing))
        return {name: self._ch_ids[name] for name in names}

    def _translated(self, kind: str, ids) -> tuple[int, ...]:
        names = self._names_of(kind, ids)
        ch = self._ids_of_names(list(names.values()))
        return tuple(sorted(ch[names[int(i)]] if int(i) in names else _NO_ID for i in ids))

    def _scope(self, scope: AccessScope) -> AccessScope:
        return AccessScope.of(
            i for i in self._translated("subaccount", scope.subaccount_ids) if i != _NO_ID
        )

    def _filter(self, flt: ReportFilter) -> ReportFilter:
        if flt.error_codes:
            raise FilterError(
                "error_code_not_available",
                "error_code",
                "This store cannot filter by error code yet.",
            )
        if flt.countries:
            # Not kept in this store yet: answering without the filter would count other
            # countries' messages as the chosen ones.
            raise FilterError(
                "country_not_available",
                "country",
                "This store cannot filter by country yet.",
            )
        return replace(
            flt,
            subaccounts=self._translated("subaccount", flt.subaccounts),
            users=self._translated("user", flt.users),
            campaigns=self._translated("campaign", flt.campaigns),
        )

    def register_names(self, frame: pd.DataFrame, tx: Transaction | None = None) -> None:
        """Give the frame's subaccount, user and campaign names ids in the relational store
        (in the caller's write `tx` when given)."""
        wanted = {}
        for kind, (_, _, column) in _NAMED.items():
            values = frame[column].dropna() if column in frame else pd.Series(dtype=object)
            wanted[kind] = sorted({v for v in values if isinstance(v, str) and v})

        def work(tx: Transaction) -> None:
            for kind, names in wanted.items():
                if not names:
                    continue
                table, label, _ = _NAMED[kind]
                have = set(tx.conn.execute(select(label).where(label.in_(names))).scalars())
                for name in names:
                    if name not in have:
                        tx.conn.execute(
                            insert(table).values({"id": next_id(table), label.name: name})
                        )

        if any(wanted.values()):
            if tx is not None:
                work(tx)
            else:
                write(self.engine, work)

    # ----------------------------------------------------------------- reads

    def daily_series(self, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame:
        scope, flt = self._scope(scope), self._filter(flt)
        with self.store() as store:
            return ch_reports.daily_series(store, scope, flt)

    def top_errors(self, scope: AccessScope, flt: ReportFilter, limit: int = 10) -> pd.DataFrame:
        scope, flt = self._scope(scope), self._filter(flt)
        with self.store() as store:
            return ch_reports.top_errors(store, scope, flt, limit)

    def detailed_rows(self, scope: AccessScope, flt: ReportFilter, **page: Any) -> pd.DataFrame:
        scope, flt = self._scope(scope), self._filter(flt)
        with self.store() as store:
            return ch_reports.detailed_rows(store, scope, flt, **page)

    def keyset_rows(
        self,
        scope: AccessScope,
        flt: ReportFilter,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> pd.DataFrame:
        """The read API's page: up to `limit` messages newest first, after `after` (created_at
        as naive UTC, message id) when given; times naive UTC."""
        scope, flt = self._scope(scope), self._filter(flt)
        with self.store() as store:
            return ch_reports.keyset_rows(store, scope, flt, after, limit)

    def detailed_count(self, scope: AccessScope, flt: ReportFilter) -> int:
        scope, flt = self._scope(scope), self._filter(flt)
        with self.store() as store:
            return ch_reports.detailed_count(store, scope, flt)

    def detailed_page(self, scope: AccessScope, flt: ReportFilter, **page: Any):
        rows = self.detailed_rows(scope, flt, **page)
        return reports.DetailedPage(
            rows,
            self.detailed_count(scope, flt),
            page.get("offset", 0),
            page.get("limit", 50),
        )

    def filter_options(self, scope: AccessScope, channel: str, timezone: str) -> dict[str, list]:
        """The choices present in scope for the channel over the reachable window, as
        data_access.reports.filter_options gives them (relational ids and names).

        Users, campaigns and statuses are read from the stored states before they are merged
        (no GROUP BY over every message): a status a message has since left, or a user a later
        record replaced, may be offered and then match nothing."""
        empty: dict[str, list] = {
            "subaccounts": [],
            "users": [],
            "campaigns": [],
            "content_types": [],
            "statuses": [],
        }
        names = self._names_of("subaccount", scope.subaccount_ids)
        if not names:
            return empty
        ch_scope = self._ids_of_names(list(names.values()))
        since = today_in(timezone) - timedelta(days=MAX_DAYS_BACK)
        params = {
            "scope": tuple(sorted(ch_scope.values())),
            "channel": channel,
            "since": since,
        }
        where = (
            "cityHash64(subaccount) IN %(scope)s AND channel = %(channel)s "
            "AND created_day >= %(since)s"
        )
        with self.store() as store:
            rolled = store.query(
                f"SELECT DISTINCT subaccount, content_type FROM {store.table('daily')} "
                f"WHERE {where}",
                params,
            )
            # The states' own values, before merging; ids and channel are first-record values.
            states = store.query(
                "SELECT DISTINCT finalizeAggregation(s_user), finalizeAggregation(s_campaign), "
                "finalizeAggregation(s_status_rank) "
                f"FROM {store.table('messages')} WHERE created_day >= %(since)s "
                "AND cityHash64(finalizeAggregation(s_subaccount)) IN %(scope)s "
                "AND finalizeAggregation(s_channel) = %(channel)s",
                params,
            )
        present_subaccounts = {s for s, _ in rolled}
        content_types = sorted({c for _, c in rolled})
        user_names = sorted({u for u, _, _ in states if u})
        campaign_names = sorted({c for _, c, _ in states if c})
        ranks = {int(r) for _, _, r in states if int(r)}
        statuses = {RANK_STATUS[r] for r in ranks}
        by_name = {name: i for i, name in names.items()}

        def relational(kind: str, wanted: list[str]) -> list[tuple[int, str]]:
            if not wanted:
                return []
            table, label, _ = _NAMED[kind]
            with self.engine.connect() as conn:
                rows = conn.execute(select(table.c.id, label).where(label.in_(wanted))).all()
            return sorted(((int(i), n) for i, n in rows), key=lambda pair: pair[1].lower())

        return {
            "subaccounts": sorted(
                ((by_name[n], n) for n in present_subaccounts if n in by_name),
                key=lambda pair: pair[1].lower(),
            ),
            "users": relational("user", user_names),
            "campaigns": relational("campaign", campaign_names),
            "content_types": content_types,
            "statuses": [s for s in STATUSES if s in statuses],
        }

    # ----------------------------------------------------------------- the export stream

    def detailed_stream(
        self,
        scope: AccessScope,
        flt: ReportFilter,
        sort: str,
        descending: bool,
        batch_rows: int = STREAM_ROWS,
    ) -> tuple[int, Iterator[pa.RecordBatch]]:
        """How many rows match and their batches in the view's order (times naive UTC, as
        exports.source.DETAIL_SCHEMA has them). The server sorts and sends the rows as it
        reads them; the connection stays taken until the batches are used up or closed."""
        total = self.detailed_count(scope, flt)
        ch_scope, ch_flt = self._scope(scope), self._filter(flt)
        if not total or not ch_scope.subaccount_ids:
            return 0, _no_batches()

        def batches() -> Iterator[pa.RecordBatch]:
            key = ch_reports.sort_key(sort, descending)

            def row_key(row: tuple) -> tuple:
                return key(ch_reports.sort_value(sort, row), row[0])

            chunk: list[tuple] = []
            with self.store() as store:
                for window in _stream_windows(ch_flt, sort, descending):
                    sql, params = ch_reports.detailed_select(
                        store, ch_scope, ch_flt, sort, descending, on_nodes=True, days=window
                    )
                    text = render(sql, params)
                    streams = [_stream_rows(node, text, batch_rows) for node in store.nodes()]
                    try:
                        # Each node sorts its own messages; the sorted streams are merged here.
                        rows = (
                            streams[0]
                            if len(streams) == 1
                            else heapq.merge(*streams, key=row_key, reverse=descending)
                        )
                        for row in rows:
                            chunk.append(row)
                            if len(chunk) >= batch_rows:
                                yield detail_batch(chunk)
                                chunk = []
                    finally:
                        for stream in streams:
                            stream.close()
            if chunk:
                yield detail_batch(chunk)

        return total, batches()

    # ----------------------------------------------------------------- writes

    def purge_days_before(self, first_kept: date) -> int:
        """RETENTION_DAYS: the messages of the days before `first_kept` leave the store, the
        roll-up keeps their counts (data_access/clickhouse/retention.py)."""
        with self.store() as store:
            return ch_retention.purge_days_before(store, first_kept)

    def stored_ids(self, frame: pd.DataFrame) -> set[str]:
        """The message ids of validated records that are stored already (read by the table's
        key: each record's day and id)."""
        found: set[str] = set()
        days = tuple(sorted(set(frame["created_day"])))
        ids = sorted(set(frame["message_id"]))
        with self.store() as store:
            for start in range(0, len(ids), 2_000):
                found.update(
                    row[0]
                    for row in store.query(
                        f"SELECT DISTINCT message_id FROM {store.table('messages')} "
                        "WHERE created_day IN %(days)s AND message_id IN %(ids)s",
                        {"days": days, "ids": tuple(ids[start : start + 2_000])},
                    )
                )
        return found

    def identities(
        self,
        ids,
        *,
        days: tuple[date, date] | None = None,
        near: tuple[date, date] | None = None,
    ) -> dict[str, StoredMessage]:
        """The stored messages among `ids`: recorded within `days` (first, last), or, for
        statuses whose days span `near` (first, last), recorded from a day before the last
        to the last, then up to STATUS_REACH_DAYS before the first; a message recorded on two
        days answers with its earliest. A message further back is not found."""
        remaining = sorted(set(ids))
        if days is not None:
            windows = [days]
        elif near is not None:
            first, last = near
            high = last + timedelta(days=1)
            windows = [(first - timedelta(days=n), high) for n in STATUS_REACH_DAYS]
            windows[0] = (last - timedelta(days=STATUS_REACH_DAYS[0]), high)
        else:
            raise ValueError("identities needs days or near")
        found: dict[str, StoredMessage] = {}
        with self.store() as store:
            for low, high in windows:
                for start in range(0, len(remaining), LOOKUP_IDS):
                    chunk = remaining[start : start + LOOKUP_IDS]
                    for row in ch_reports.message_identities(store, chunk, low, high):
                        day, message_id, channel, direction, subaccount = row[:5]
                        content_type, phone, created_at = row[5:]
                        seen = found.get(message_id)
                        if seen is None or (seen.created_day and day < seen.created_day):
                            found[message_id] = StoredMessage(
                                subaccount, channel, direction, day, content_type, phone, created_at
                            )
                remaining = [i for i in remaining if i not in found]
                if not remaining:
                    break
        return found

    def ingest(
        self,
        frame: pd.DataFrame,
        scope: WriteScope,
        *,
        all_or_nothing: bool = True,
        stored: dict[str, Identity] | None = None,
        tx: Transaction | None = None,
    ) -> IngestResult:
        """Store validated records (data_access.loader.validate_chunk's frame) within the
        writer's scope, their names registered first (in the caller's relational write `tx`
        when given). `stored`: the identities of the batch's stored messages, where the
        writer looked them up (webhooks), so a record against one is refused as
        data_access.merge refuses it."""
        if frame.empty:
            return IngestResult()
        self.register_names(frame, tx)
        with self.store() as store:
            return ingest(store, frame, scope, all_or_nothing=all_or_nothing, stored=stored)


def _stream_windows(flt: ReportFilter, sort: str, descending: bool) -> list[tuple]:
    """The export's ranges of days, read one after another: in the time order one day at a
    time (each node then holds one day's merged messages at once), else the whole range."""
    if sort != "created_at" or flt.searches_messages:
        return [(flt.start, flt.end)]
    days = flt.days[::-1] if descending else flt.days
    return [(day, day) for day in days]


def _stream_rows(client, sql: str, batch_rows: int) -> Generator[tuple, None, None]:
    """The rows of a query, read as the server sends them."""
    if isinstance(client, NativeClient):
        driver = client._driver
        try:
            yield from driver.execute_iter(sql, settings={"max_block_size": batch_rows})
        except GeneratorExit:
            # A stream left half read leaves the connection mid-answer: start a new one.
            driver.disconnect()
            raise
        return
    assert isinstance(client, ChdbClient)
    result = client._session.send_query(sql, "JSONCompactEachRow")
    pending = ""
    try:
        for chunk in result:
            text = pending + chunk.data()
            lines = text.split("\n")
            pending = lines.pop()
            for line in lines:
                if line:
                    yield tuple(json.loads(line))
        if pending.strip():
            yield tuple(json.loads(pending))
    finally:
        result.close()


def detail_batch(rows: list[tuple]) -> pa.RecordBatch:
    """Rows of ch_reports.detailed_select as one Arrow batch of DETAIL_SCHEMA."""
    shown = [ch_reports.shown(row) for row in rows]
    columns = list(zip(*shown, strict=True)) if shown else [() for _ in DETAIL_SCHEMA]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(list(values), field.type)
            for values, field in zip(columns, DETAIL_SCHEMA, strict=True)
        ],
        schema=DETAIL_SCHEMA,
    )


def _no_batches() -> Iterator[pa.RecordBatch]:
    yield from ()
