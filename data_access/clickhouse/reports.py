"""The report queries on a ClickHouse store, answering as data_access.reports does: the daily
series (from the engine's roll-up, or from the messages when the filter names what only they
hold), top error reasons, detailed pages in a whitelisted order, counts and phone search.

Subaccounts, users and campaigns are stored by name; their ids (what AccessScope and
ReportFilter carry) are cityHash64 of the name (`name_ids`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from data_access.clickhouse.schema import MESSAGE_STATES
from data_access.clickhouse.store import ClickHouseStore
from data_access.domain import RANK_STATUS, STATUS_LIFECYCLE, STATUS_RANK
from data_access.filters import AccessScope, FilterError, ReportFilter
from data_access.reports import (
    COUNT_COLUMNS,
    DETAIL_COLUMNS,
    STATUS_PLACE,
    DetailedPage,
    _check_page,
    _daily_frame,
    localise,
)

_MERGE = {
    "argMin": "argMinMerge",
    "argMax": "argMaxMerge",
    "max": "maxMerge",
    "minIf": "minIfMerge",
}
_NO_TIME = datetime(1970, 1, 1)
# Columns kept as '' for "none" in the store, shown as None.
_OPTIONAL_TEXT = (
    "user",
    "campaign",
    "contact_name",
    "content",
    "error_code",
    "error_description",
    "correlation_id",
)


def _finalised_columns(columns=None) -> str:
    """The merged value of each state column (of `columns` only, when given)."""
    parts = []
    for column, state_type, _ in MESSAGE_STATES:
        if columns is not None and column not in columns:
            continue
        function = state_type.split("(", 1)[1].split(",", 1)[0]
        parts.append(f"{_MERGE[function]}(s_{column}) AS {column}")
    return ", ".join(parts)


FINALISED = _finalised_columns()


def name_ids(store: ClickHouseStore, names: list[str]) -> dict[str, int]:
    """The id of each subaccount, user or campaign name, as scopes and filters carry them."""
    if not names:
        return {}
    rows = store.query("SELECT arrayJoin(%(names)s) AS n, cityHash64(n)", {"names": list(names)})
    return {name: int(value) for name, value in rows}


# In the order of schema.MESSAGE_STATES, which _finalised_columns keeps.
IDENTITY_COLUMNS = ("channel", "direction", "subaccount", "content_type", "phone", "created_at")


def message_identities(
    store: ClickHouseStore, ids: list[str], low: date | None, high: date | None
) -> list[tuple]:
    """(created_day, message_id, *IDENTITY_COLUMNS) of each stored message among `ids` whose
    day is within low..high (None: any day), one row per day the message was recorded on.
    The range lets the table's key (day, id) skip the other days."""
    if not ids:
        return []
    where = ["message_id IN %(ids)s"]
    params: dict[str, Any] = {"ids": tuple(ids)}
    if low is not None and high is not None:
        where.append("created_day >= %(low)s AND created_day <= %(high)s")
        params.update(low=low, high=high)
    rows = store.query(
        f"SELECT created_day, message_id, {_finalised_columns(IDENTITY_COLUMNS)} "
        f"FROM {store.table('messages')} WHERE {' AND '.join(where)} "
        "GROUP BY created_day, message_id",
        params,
    )
    return [(_day(row[0]), *row[1:7], _naive_utc(row[7])) for row in rows]


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _messages(
    store: ClickHouseStore,
    flt: ReportFilter,
    params: dict[str, Any],
    columns=None,
    *,
    on_nodes: bool = False,
    days: tuple[date, date] | None = None,
    keys: list[tuple[date, str]] | None = None,
    ranks: tuple[int, ...] | None = None,
) -> str:
    """Every message of the filter's days, one row each with its merged values (of `columns`
    only, when given: merging a message's content costs more than all the rest).

    `on_nodes`: read the node's own table (run it with store.on_each_node); `days` narrows the
    range to (first, last); `keys` to the given messages (day, id); `ranks` to the messages
    one of whose stored rows has one of these status ranks as its highest. A message's
    status is the highest of its rows', so every message whose status is among them is kept
    (the caller still tests the merged status): only those are merged."""
    low, high = days or (flt.start, flt.end)
    where = ["created_day >= %(low)s", "created_day <= %(high)s"]
    # The selective tests read the id column first: the state columns (a message's content
    # among them) are read only where an id passed (PREWHERE).
    prewhere: list[str] = []
    params.update(low=low, high=high)
    if ranks is None and flt.statuses and on_nodes:
        ranks = tuple(sorted(STATUS_RANK[status] for status in flt.statuses))
    if ranks:
        prewhere.append(
            f"message_id IN (SELECT message_id FROM {store.client.database}.messages_local "
            "WHERE created_day >= %(low)s AND created_day <= %(high)s "
            "AND finalizeAggregation(s_status_rank) IN %(candidate_ranks)s)"
        )
        params["candidate_ranks"] = tuple(ranks)
    if keys is not None:
        where.append("created_day IN %(key_days)s")
        prewhere.append("message_id IN %(key_ids)s")
        params.update(
            key_days=tuple(sorted({day for day, _ in keys})),
            key_ids=tuple(sorted({ident for _, ident in keys})),
        )
    if flt.message_id:
        prewhere.append("message_id = %(message_id)s")
        params["message_id"] = flt.message_id
    if flt.phone:
        # phones and messages are sharded alike, so each shard looks in its own phones.
        tests = []
        if flt.phone.whole:
            tests.append("phone_reversed IN %(whole)s")
            params["whole"] = tuple(number[::-1] for number in flt.phone.whole)
        if flt.phone.ending:
            tests.append("phone_reversed LIKE %(ending)s")
            params["ending"] = flt.phone.ending[::-1] + "%"
        prewhere.append(
            f"message_id IN (SELECT message_id FROM {store.client.database}.phones_local "
            f"WHERE created_day >= %(low)s AND created_day <= %(high)s "
            f"AND ({' OR '.join(tests)}))"
        )
    table = f"{store.client.database}.messages_local" if on_nodes else store.table("messages")
    first = f"PREWHERE {' AND '.join(prewhere)} " if prewhere else ""
    return (
        f"(SELECT created_day, message_id, {_finalised_columns(columns)} FROM {table} "
        f"{first}WHERE {' AND '.join(where)} GROUP BY created_day, message_id)"
    )


def _needed(flt: ReportFilter, *more: str) -> set[str]:
    """The merged columns the filter's conditions read, and `more`."""
    columns = {"channel", "direction", "subaccount", "content_type", *more}
    for wanted, column in (
        (flt.users, "user"),
        (flt.campaigns, "campaign"),
        (flt.statuses, "status_rank"),
        (flt.correlation_id, "correlation_id"),
    ):
        if wanted:
            columns.add(column)
    return columns


def _conditions(
    scope: AccessScope, flt: ReportFilter, params: dict[str, Any], *, rolled: bool
) -> list[str]:
    conds = [
        "cityHash64(subaccount) IN %(scope)s",
        "channel = %(channel)s",
        "created_day >= %(start)s",
        "created_day <= %(end)s",
    ]
    params.update(
        scope=tuple(sorted(scope.subaccount_ids)),
        channel=flt.channel,
        start=flt.start,
        end=flt.end,
    )
    if flt.direction:
        conds.append("direction = %(direction)s")
        params["direction"] = flt.direction
    if flt.subaccounts:
        conds.append("cityHash64(subaccount) IN %(subaccounts)s")
        params["subaccounts"] = tuple(flt.subaccounts)
    if flt.content_types:
        conds.append("content_type IN %(content_types)s")
        params["content_types"] = tuple(flt.content_types)
    if rolled:
        return conds
    if flt.users:
        conds.append("user != '' AND cityHash64(user) IN %(users)s")
        params["users"] = tuple(flt.users)
    if flt.campaigns:
        conds.append("campaign != '' AND cityHash64(campaign) IN %(campaigns)s")
        params["campaigns"] = tuple(flt.campaigns)
    if flt.statuses:
        conds.append("status_rank IN %(ranks)s")
        params["ranks"] = tuple(STATUS_RANK[s] for s in flt.statuses)
    if flt.correlation_id:
        conds.append("correlation_id = %(correlation_id)s")
        params["correlation_id"] = flt.correlation_id
    return conds


def _daily_local(store: ClickHouseStore) -> str:
    """The roll-up as each node holds it. Records of a message all land on one shard, so the
    nodes' sets of message ids are disjoint: each node counts its own exactly and the counts
    add up, with no sets sent to one node to be merged there (2.5 times faster on two shards
    at 4M messages, and each node's share shrinks as shards are added)."""
    return f"{store.client.database}.daily_local"


def _rolled(flt: ReportFilter) -> bool:
    """Whether the roll-up answers: it holds day, channel, direction, subaccount and content
    type (a message's user, campaign and status may still change, so it keeps none of them)."""
    return not (flt.searches_messages or flt.users or flt.campaigns or flt.statuses)


def daily_series(store: ClickHouseStore, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame:
    """One row per day of the range, zero-filled, with counts and percentages."""
    rows: list[tuple] = []
    if scope.subaccount_ids:
        params: dict[str, Any] = {}
        if _rolled(flt):
            where = _conditions(scope, flt, params, rolled=True)
            sql = (
                "SELECT created_day, direction, uniqExactMerge(s_messages), "
                "uniqExactIfMerge(s_sent), uniqExactIfMerge(s_delivered), "
                "uniqExactIfMerge(s_read), "
                "uniqExactIfMerge(s_error_or_beyond) - uniqExactIfMerge(s_delivered_or_beyond) "
                f"FROM {_daily_local(store)} WHERE {' AND '.join(where)} "
                "GROUP BY created_day, direction"
            )
            rows = store.on_each_node(sql, params)
        else:
            columns = _needed(flt, "sent_at", "delivered_at", "read_at", "status_rank")
            source = _messages(store, flt, params, columns, on_nodes=True)
            where = _conditions(scope, flt, params, rolled=False)
            sql = (
                "SELECT created_day, direction, count(), countIf(sent_at > toDateTime(0)), "
                "countIf(delivered_at > toDateTime(0)), countIf(read_at > toDateTime(0)), "
                f"countIf(status_rank = {STATUS_RANK['error']}) "
                f"FROM {source} WHERE {' AND '.join(where)} GROUP BY created_day, direction"
            )
            rows = store.on_each_node(sql, params)
    by_day: dict = {}
    # Rows of several nodes (the roll-up read node by node) add up.
    for day, direction, messages, sent, delivered, read, errors in rows:
        counts = by_day.setdefault(_day(day), dict.fromkeys(COUNT_COLUMNS, 0))
        if direction == "MT":
            for name, value in (
                ("total", messages),
                ("sent", sent),
                ("delivered", delivered),
                ("read", read),
                ("errors", errors),
            ):
                counts[name] += int(value)
        elif direction == "MO":
            counts["received"] += int(messages)
    empty = dict.fromkeys(COUNT_COLUMNS, 0)
    days = flt.days
    counts = {name: [by_day.get(day, empty)[name] for day in days] for name in COUNT_COLUMNS}
    return _daily_frame(days, counts, flt.channel)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def top_errors(
    store: ClickHouseStore, scope: AccessScope, flt: ReportFilter, limit: int = 10
) -> pd.DataFrame:
    """The most frequent error reasons over the range, with their share of all errors."""
    columns_out = ["error_code", "error_description", "count", "share"]
    if not scope.subaccount_ids:
        return pd.DataFrame(columns=columns_out)
    params: dict[str, Any] = {}
    columns = _needed(flt, "status_rank", "error_code", "error_description")
    source = _messages(store, flt, params, columns, on_nodes=True, ranks=(STATUS_RANK["error"],))
    where = _conditions(scope, flt, params, rolled=False)
    per_node = store.on_each_node(
        "SELECT error_code, minIf(error_description, error_description != ''), count() "
        f"FROM {source} WHERE {' AND '.join(where)} AND direction = 'MT' "
        f"AND status_rank = {STATUS_RANK['error']} GROUP BY error_code",
        params,
    )
    counted: dict[str, list] = {}
    for code, description, n in per_node:
        seen = counted.setdefault(code, ["", 0])
        if description and (not seen[0] or description < seen[0]):
            seen[0] = description
        seen[1] += int(n)
    ordered = sorted(counted.items(), key=lambda item: (-item[1][1], item[0] == "", item[0]))
    frame = pd.DataFrame(
        [(code or None, description or None, n) for code, (description, n) in ordered],
        columns=columns_out[:3],
    )
    if frame.empty:
        return pd.DataFrame(columns=columns_out)
    frame["count"] = frame["count"].astype("int64")
    frame["share"] = frame["count"] * 100.0 / frame["count"].sum()
    return frame.head(limit).reset_index(drop=True)


# A status sorts by its place in a message's life (data_access.reports.STATUS_PLACE).
_RANKS = ", ".join(str(STATUS_RANK[s]) for s in STATUS_LIFECYCLE)
_PLACES = ", ".join(str(place) for place in range(len(STATUS_LIFECYCLE)))
_SORTS = {
    "created_at": ("created_at", False),
    "status": (f"transform(status_rank, [{_RANKS}], [{_PLACES}], 99)", False),
    "direction": ("direction", False),
    "content_type": ("content_type", False),
    "phone": ("phone", False),
    "subaccount": ("subaccount", False),
    # These may be empty, and an empty one sorts last either way (NULLS LAST elsewhere).
    "user": ("user", True),
    "campaign": ("campaign", True),
    "error_code": ("error_code", True),
}


def _order(sort: str, descending: bool) -> str:
    if sort not in _SORTS:
        raise FilterError("unknown_sort", "sort", f"Cannot sort by {sort!r}.", value=str(sort))
    column, may_be_empty = _SORTS[sort]
    way = "DESC" if descending else "ASC"
    order = [f"{column} {way}", f"message_id {way}"]
    return ", ".join(([f"{column} = ''"] if may_be_empty else []) + order)


def shown(row: tuple) -> list:
    """A row of detailed_select as data_access.reports gives it (names, None, naive UTC)."""
    values = dict(zip(DETAIL_COLUMNS, row, strict=True))
    values["status"] = RANK_STATUS[int(values["status"])]
    for name in _OPTIONAL_TEXT:
        values[name] = values[name] or None
    for name in ("created_at", "sent_at", "delivered_at", "read_at"):
        value = values[name]
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        values[name] = None if value is None or value == _NO_TIME else value
    return [values[name] for name in DETAIL_COLUMNS]


_DETAIL_SELECT = ", ".join(
    "status_rank" if name == "status" else f"`{name}`" for name in DETAIL_COLUMNS
)


def sort_value(sort: str, row: tuple):
    """The sort value of a row of detailed_select as the SQL order compares it (a status by
    its place in a message's life)."""
    value = row[DETAIL_COLUMNS.index(sort)]
    if sort == "status":
        return STATUS_PLACE.get(RANK_STATUS[int(value)], 99)
    return value


def sort_key(sort: str, descending: bool):
    """key(value, message_id) giving, with reverse=descending, the order `_order` makes: an
    empty value last either way, then the value, then the id."""
    _, may_be_empty = _SORTS[sort]

    def key(value, message_id: str) -> tuple:
        empty = may_be_empty and value == ""
        return (not empty if descending else empty, value, message_id)

    return key


def _sort_columns(sort: str) -> set[str]:
    return {"status_rank"} if sort == "status" else {sort}


def detailed_select(
    store: ClickHouseStore,
    scope: AccessScope,
    flt: ReportFilter,
    sort: str = "created_at",
    descending: bool = True,
    *,
    on_nodes: bool = False,
    days: tuple[date, date] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The query of every matching message's detailed columns in a whitelisted order (status
    as its rank, "none" as '' and 1970-01-01: `shown` reads a row of it), with its
    parameters. The scope must name a subaccount. On a cluster run it `on_nodes` and merge
    the nodes' sorted rows by `sort_key` (merging states on one node runs out of memory)."""
    order = _order(sort, descending)
    params: dict[str, Any] = {}
    source = _messages(store, flt, params, on_nodes=on_nodes, days=days)
    where = _conditions(scope, flt, params, rolled=False)
    return (
        f"SELECT {_DETAIL_SELECT} FROM {source} WHERE {' AND '.join(where)} ORDER BY {order}",
        params,
    )


def _windows(flt: ReportFilter, sort: str, descending: bool) -> list[tuple[date, date]]:
    """Ranges of days to look for a page in, widening: the newest (or oldest) day, 4, 16, all.
    Only the time order has its rows in day order; other orders look at the whole range."""
    if sort != "created_at" or flt.searches_messages:
        return [(flt.start, flt.end)]
    windows = []
    for width in (1, 4, 16):
        if width >= len(flt.days):
            break
        if descending:
            windows.append((flt.end - timedelta(days=width - 1), flt.end))
        else:
            windows.append((flt.start, flt.start + timedelta(days=width - 1)))
    return [*windows, (flt.start, flt.end)]


def _page_keys(
    store: ClickHouseStore,
    scope: AccessScope,
    flt: ReportFilter,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[tuple[date, str]]:
    """The (day, id) of the page's messages in order: each node sorts its own messages by the
    sort column alone, and the nodes' first offset + limit are merged here. `after`
    (created_at as naive UTC, message id), newest first only: the messages after that one."""
    column, _ = _SORTS[sort]
    order = _order(sort, descending)
    key = sort_key(sort, descending)
    wanted = offset + limit
    for window in _windows(flt, sort, descending):
        params: dict[str, Any] = {"wanted": wanted}
        source = _messages(
            store, flt, params, _needed(flt, *_sort_columns(sort)), on_nodes=True, days=window
        )
        where = _conditions(scope, flt, params, rolled=False)
        if after is not None:
            where.append(
                "(created_at < %(after_at)s OR "
                "(created_at = %(after_at)s AND message_id < %(after_id)s))"
            )
            params.update(after_at=after[0], after_id=after[1])
        rows = store.on_each_node(
            f"SELECT created_day, message_id, {column} FROM {source} "
            f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT %(wanted)s",
            params,
        )
        if len(rows) >= wanted or window == (flt.start, flt.end):
            break
    rows.sort(key=lambda row: key(row[2], row[1]), reverse=descending)
    return [(_day(day), ident) for day, ident, _ in rows[offset:wanted]]


def detailed_rows(
    store: ClickHouseStore,
    scope: AccessScope,
    flt: ReportFilter,
    *,
    sort: str = "created_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 50,
) -> pd.DataFrame:
    """The rows of one page of messages in a whitelisted order, in the filter's time zone.

    The page's messages are found with their sort column alone, then read whole."""
    _check_page(offset, limit)
    _order(sort, descending)  # rejects an unknown sort key
    keys = (
        _page_keys(store, scope, flt, sort, descending, offset, limit)
        if scope.subaccount_ids
        else []
    )
    return localise(_rows_of(store, flt, keys), flt.timezone)


def _rows_of(store: ClickHouseStore, flt: ReportFilter, keys: list[tuple[date, str]]):
    """The detailed rows of the messages (day, id), in their order, times naive UTC."""
    rows: list = []
    if keys:
        params: dict[str, Any] = {}
        source = _messages(store, flt, params, keys=keys)
        found = store.query(f"SELECT message_id, {_DETAIL_SELECT} FROM {source}", params)
        by_id = {row[0]: row[1:] for row in found}
        rows = [shown(by_id[ident]) for _, ident in keys if ident in by_id]
    return pd.DataFrame(rows, columns=list(DETAIL_COLUMNS))


def keyset_rows(
    store: ClickHouseStore,
    scope: AccessScope,
    flt: ReportFilter,
    after: tuple[datetime, str] | None,
    limit: int,
) -> pd.DataFrame:
    """Up to `limit` messages newest first (ties by the larger id first), those after `after`
    (created_at as naive UTC, message id) when given: the read API's keyset pages. Times are
    naive UTC. Days after the cursor's are not looked at."""
    if after is not None:
        last_day = pd.Timestamp(after[0]).tz_localize("UTC").tz_convert(flt.timezone).date()
        if last_day < flt.start:
            return _rows_of(store, flt, [])
        flt = replace(flt, end=min(flt.end, last_day))
    keys = (
        _page_keys(store, scope, flt, "created_at", True, 0, limit, after)
        if scope.subaccount_ids
        else []
    )
    return _rows_of(store, flt, keys)


def detailed_count(store: ClickHouseStore, scope: AccessScope, flt: ReportFilter) -> int:
    """How many messages match: the same for every page and order of a filter."""
    if not scope.subaccount_ids:
        return 0
    params: dict[str, Any] = {}
    if _rolled(flt):
        where = _conditions(scope, flt, params, rolled=True)
        sql = f"SELECT uniqExactMerge(s_messages) FROM {_daily_local(store)} WHERE "
    else:
        source = _messages(store, flt, params, _needed(flt), on_nodes=True)
        where = _conditions(scope, flt, params, rolled=False)
        sql = f"SELECT count() FROM {source} WHERE "
    return sum(int(n or 0) for (n,) in store.on_each_node(sql + " AND ".join(where), params))


def detailed_page(
    store: ClickHouseStore,
    scope: AccessScope,
    flt: ReportFilter,
    *,
    sort: str = "created_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 50,
) -> DetailedPage:
    """One page of messages in a whitelisted order, with the count of all matching rows."""
    rows = detailed_rows(
        store, scope, flt, sort=sort, descending=descending, offset=offset, limit=limit
    )
    return DetailedPage(rows, detailed_count(store, scope, flt), offset, limit)
