"""Report queries: daily series, totals, top errors, detailed pages and filter options.

Every function takes an AccessScope and a connection or engine; all counting happens in the
engine (GROUP BY), and pandas carries only the results. An engine whose messages are in
ClickHouse (data_access.clickhouse.binding) has them answered there.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    FromClause,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)

from data_access import contact_days, message_keys
from data_access import delivery_times as dt
from data_access.clickhouse.binding import messages_of
from data_access.countries import UNKNOWN as UNKNOWN_COUNTRY
from data_access.domain import STATUS_LIFECYCLE, STATUSES
from data_access.filters import MAX_DAYS_BACK, AccessScope, FilterError, ReportFilter, today_in
from data_access.phones import PhoneSearch
from data_access.tables import (
    MESSAGE_ROW,
    PHONE_TAIL_DIGITS,
    at_rows,
    campaigns,
    contacts,
    daily_rollup,
    delivery_time_rollup,
    messages,
    subaccounts,
    users,
)

COUNT_COLUMNS = ("total", "sent", "delivered", "read", "errors", "received")
PCT_COLUMNS = ("delivered_pct", "read_pct", "error_pct")
DAILY_COLUMNS = ("date",) + COUNT_COLUMNS + PCT_COLUMNS
MAX_PAGE_SIZE = 500

DETAIL_COLUMNS = (
    "message_id",
    "created_at",
    "channel",
    "direction",
    "subaccount",
    "user",
    "campaign",
    "content_type",
    "phone",
    "contact_name",
    "content",
    "status",
    "error_code",
    "error_description",
    "sent_at",
    "delivered_at",
    "read_at",
    "correlation_id",
)
TIME_COLUMNS = ("created_at", "sent_at", "delivered_at", "read_at")

m = messages.c

# Client-chosen sort keys map to columns here and nowhere else.
SORT_COLUMNS = {
    "created_at": m.created_at,
    "status": m.status,
    "direction": m.direction,
    "content_type": m.content_type,
    "phone": contacts.c.phone,
    "subaccount": subaccounts.c.name,
    "user": users.c.username,
    "campaign": campaigns.c.name,
    "error_code": m.error_code,
}


@contextmanager
def _connection(bind: Engine | Connection):
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def _source(flt: ReportFilter):
    """The roll-up answers every count unless the filter names a phone or an id (it holds
    neither)."""
    return messages if flt.searches_messages else daily_rollup


def _conditions(scope: AccessScope, flt: ReportFilter, table=messages) -> list:
    c = table.c
    conds = [
        c.subaccount_id.in_(sorted(scope.subaccount_ids)),
        c.channel == flt.channel,
        c.created_day.between(flt.start, flt.end),
    ]
    if flt.direction:
        conds.append(c.direction == flt.direction)
    if flt.subaccounts:
        conds.append(c.subaccount_id.in_(flt.subaccounts))
    if flt.users:
        conds.append(c.user_id.in_(flt.users))
    if flt.campaigns:
        conds.append(c.campaign_id.in_(flt.campaigns))
    if flt.countries:
        conds.append(_in_countries(c.country, flt.countries))
    if flt.content_types:
        conds.append(c.content_type.in_(flt.content_types))
    if flt.statuses:
        conds.append(c.status.in_(flt.statuses))
    if flt.error_codes:
        conds.append(c.error_code.in_(flt.error_codes))
    if flt.phone:
        conds.append(c.contact_id.in_(matching_contacts(flt.phone)))
        if flt.phone.day_mask is not None:
            days = contact_days.days_in(flt.phone.day_mask, flt.start, flt.end)
            conds.append(c.created_day.in_(days))
    if flt.message_id:
        conds.append(c.message_id == flt.message_id)
    if flt.correlation_id:
        conds.append(c.correlation_id == flt.correlation_id)
    return conds


def _in_countries(column, countries: tuple[str, ...]):
    """The rows of the countries; the unknown country takes the rows not worked out too."""
    test = column.in_(countries)
    return or_(test, column.is_(None)) if UNKNOWN_COUNTRY in countries else test


def located(conn: Connection, flt: ReportFilter) -> ReportFilter | None:
    """The filter narrowed to the contacts its phone search matches and to the day of the
    message it names by id, or None when no such contact or message is stored.

    The contacts are looked up once, not again by every query of the request. DuckDB keeps no
    key index over the messages (data_access.message_keys): an id compared over the whole
    range would read every day's ids, where its key names the one day to read. PostgreSQL
    finds the id by its primary key.
    """
    flt = with_contacts(conn, flt)
    if flt.phone is not None:
        search = flt.phone
        if not search.contact_ids:
            return None
        if search.day_mask is not None and not contact_days.days_in(
            search.day_mask, flt.start, flt.end
        ):
            return None
    if not flt.message_id or not message_keys.in_use(conn):
        return flt
    found = message_keys.locate(conn, [flt.message_id]).get(flt.message_id)
    if found is None or not flt.start <= found[0] <= flt.end:
        return None
    return replace(flt, start=found[0], end=found[0])


def with_contacts(bind: Engine | Connection, flt: ReportFilter) -> ReportFilter:
    """The filter with the contacts of its phone search looked up, so that the queries of one
    request (a page and its count) do not each look them up again."""
    search = flt.phone
    if search is None or search.contact_ids is not None or messages_of(bind) is not None:
        return flt
    with _connection(bind) as conn:
        found = conn.execute(matching_contacts(search, with_days=True)).all()
    masks = [mask for _id, mask in found]
    # A contact whose days are not known leaves every day of the range to read.
    day_mask = None if None in masks else functools.reduce(operator.or_, masks, 0)
    ids = tuple(contact_id for contact_id, _mask in found)
    return replace(flt, phone=replace(search, contact_ids=ids, day_mask=day_mask))


def matching_contacts(search: PhoneSearch, with_days: bool = False):
    """Contacts whose stored number is one of the search's whole numbers or ends with its
    ending (a local number typed without its country code): the ids found already, if any;
    `with_days`: a query of their ids and day bits."""
    if search.contact_ids is not None and not with_days:
        return sorted(search.contact_ids)
    # Every number searched has at least PHONE_TAIL_DIGITS digits, so a match ends with the same
    # tail: the indexed equality finds the few candidates, the exact test keeps the true matches.
    # Validated digits need no LIKE escaping, and DuckDB scans a LIKE with ESCAPE far slower.
    # MATERIALIZED keeps the exact test out of the candidates' scan: DuckDB looks a column up
    # in its index only when that equality is the scan's one filter, so each tail (nearly
    # always one) has its own step.
    found = []
    for index, tail in enumerate(dict.fromkeys(n[-PHONE_TAIL_DIGITS:] for n in search.numbers)):
        candidates = (
            select(contacts.c.id, contacts.c.phone, contacts.c.active_days)
            .where(contacts.c.phone_tail == int(tail))
            .cte(f"phone_candidates_{index}")
            .prefix_with("MATERIALIZED")
        )
        tests = [candidates.c.phone == number for number in search.whole if number.endswith(tail)]
        if search.ending and search.ending.endswith(tail):
            tests.append(candidates.c.phone.endswith(search.ending, autoescape=False))
        columns = [candidates.c.id, candidates.c.active_days] if with_days else [candidates.c.id]
        found.append(select(*columns).where(or_(*tests)))
    return found[0] if len(found) == 1 else union_all(*found)


def _message_count(table):
    return func.count() if table is messages else func.sum(table.c.message_count)


def _time_counts(table) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """How many of a group's messages were sent, delivered and read: their times counted over
    the messages, the kept counts summed over the roll-up."""
    c = table.c
    if table is messages:
        return func.count(c.sent_at), func.count(c.delivered_at), func.count(c.read_at)
    return func.sum(c.sent_count), func.sum(c.delivered_count), func.sum(c.read_count)


def _daily_select(scope: AccessScope, flt: ReportFilter):
    # One group per day and direction, counting the non-null times: DuckDB does this several
    # times faster than one FILTER clause per figure over a single group per day.
    table = _source(flt)
    c = table.c
    sent, delivered, read = _time_counts(table)
    errors = func.coalesce(_message_count(table).filter(c.status == "error"), 0)
    return (
        select(
            c.created_day.label("date"),
            c.direction,
            _message_count(table).label("messages"),
            sent.label("sent"),
            delivered.label("delivered"),
            read.label("read"),
            errors.label("errors"),
        )
        .where(*_conditions(scope, flt, table))
        .group_by(c.created_day, c.direction)
    )


def _percent(part: int, total: int) -> float:
    return part * 100.0 / total if total > 0 else 0.0


def _daily_frame(days: list, counts: dict[str, list[int]], channel: str) -> pd.DataFrame:
    """The daily frame built in one go (adding columns one by one costs pandas far more than
    the query)."""
    columns: dict = {"date": days}
    for name in COUNT_COLUMNS:
        columns[name] = np.asarray(counts[name], dtype="int64")
    totals = counts["total"]
    for name, part in (
        ("delivered_pct", "delivered"),
        ("read_pct", "read"),
        ("error_pct", "errors"),
    ):
        columns[name] = np.asarray(
            [_percent(p, t) for p, t in zip(counts[part], totals, strict=True)], dtype="float64"
        )
    if channel == "sms":
        # SMS has no read receipts: "not available", never 0 %.
        columns["read"] = pd.array([pd.NA] * len(days), dtype="Int64")
        columns["read_pct"] = pd.array([pd.NA] * len(days), dtype="Float64")
    return pd.DataFrame({name: columns[name] for name in DAILY_COLUMNS})


def _rows(bind: Engine | Connection, scope: AccessScope, query) -> list[tuple]:
    """A query's rows as plain tuples (none where the scope reaches no subaccount)."""
    if not scope.subaccount_ids:
        return []
    with _connection(bind) as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def daily_rows(bind: Engine | Connection, scope: AccessScope, flt: ReportFilter) -> list[tuple]:
    """The range's counts by day and direction, a tuple each: (date, direction, messages,
    sent, delivered, read, errors)."""
    return _rows(bind, scope, _daily_select(scope, flt))


def daily_series(bind: Engine | Connection, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame:
    """One row per day of the range, zero-filled, with counts and percentages."""
    if (clickhouse := messages_of(bind)) is not None:
        return clickhouse.daily_series(scope, flt)
    return daily_from_rows(daily_rows(bind, scope, flt), flt)


def daily_from_rows(rows: list[tuple], flt: ReportFilter) -> pd.DataFrame:
    """daily_series from the days' rows (daily_rows)."""
    by_day: dict = {}
    for date_, direction, messages_, sent, delivered, read, errors in rows:
        day = by_day.setdefault(date_, dict.fromkeys(COUNT_COLUMNS, 0))
        if direction == "MT":
            day["total"] = int(messages_)
            day["sent"], day["delivered"] = int(sent), int(delivered)
            day["read"], day["errors"] = int(read), int(errors)
        elif direction == "MO":
            day["received"] = int(messages_)
    empty = dict.fromkeys(COUNT_COLUMNS, 0)
    days = flt.days
    counts = {name: [by_day.get(day, empty)[name] for day in days] for name in COUNT_COLUMNS}
    return _daily_frame(days, counts, flt.channel)


def range_totals(daily: pd.DataFrame, channel: str) -> dict:
    """Totals over the range of a daily series: the same fields, summed, then percentages."""
    totals: dict = {name: int(daily[name].fillna(0).sum()) for name in COUNT_COLUMNS}
    totals["delivered_pct"] = _percent(totals["delivered"], totals["total"])
    totals["read_pct"] = _percent(totals["read"], totals["total"])
    totals["error_pct"] = _percent(totals["errors"], totals["total"])
    if channel == "sms":
        totals["read"] = None
        totals["read_pct"] = None
    return totals


def previous_filter(flt: ReportFilter) -> ReportFilter:
    """The same filter over the period of the same length that ends the day before its start
    (a week before a week, a day before a day)."""
    length = timedelta(days=(flt.end - flt.start).days + 1)
    return replace(flt, start=flt.start - length, end=flt.start - timedelta(days=1))


# Which way a card's share of the total is better: 1 when up is better, -1 when down is, 0 when
# neither (volumes: more messages are neither better nor worse).
BETTER_WHEN_UP = {"total": 0, "sent": 1, "delivered": 1, "read": 1, "errors": -1, "received": 0}
SHARE_OF = {"sent": "sent", "delivered": "delivered_pct", "read": "read_pct", "errors": "error_pct"}


@dataclass(frozen=True)
class Change:
    """One KPI against the previous period: its count's change, its share's change in
    percentage points (None when it has no share or either period sent nothing) and whether
    that is `better`, `worse`, `same` or `neutral` (a volume, or nothing to compare)."""

    count: int | None
    points: float | None
    verdict: str


def period_changes(current: dict, previous: dict) -> dict[str, Change]:
    """Each KPI's change from `previous` to `current` (both range_totals)."""
    changes = {}
    for key, better in BETTER_WHEN_UP.items():
        now, before = current.get(key), previous.get(key)
        if now is None or before is None:
            changes[key] = Change(None, None, "neutral")
            continue
        points = None
        if key in SHARE_OF and current["total"] and previous["total"]:
            if key == "sent":
                points = _percent(now, current["total"]) - _percent(before, previous["total"])
            else:
                points = current[SHARE_OF[key]] - previous[SHARE_OF[key]]
        if points is None or better == 0:
            verdict = "neutral"
        elif round(points, 1) == 0:
            verdict = "same"
        else:
            verdict = "better" if points * better > 0 else "worse"
        changes[key] = Change(int(now) - int(before), points, verdict)
    return changes


TOP_ERROR_COLUMNS = ["error_code", "error_description", "count", "share"]


def top_errors(
    bind: Engine | Connection, scope: AccessScope, flt: ReportFilter, limit: int = 10
) -> pd.DataFrame:
    """The most frequent error reasons over the range, with their share of all errors."""
    if (clickhouse := messages_of(bind)) is not None:
        return clickhouse.top_errors(scope, flt, limit)
    return top_errors_from_rows(error_rows(bind, scope, flt), flt, limit)


def error_rows(bind: Engine | Connection, scope: AccessScope, flt: ReportFilter) -> list[tuple]:
    """The range's failed sent messages by day, code and description, a tuple each: (date,
    error_code, error_description, count), none of count 0."""
    table = _source(flt)
    c = table.c
    # By description: the roll-up's rows of a description no error has any more sum to zero
    # (data_access/rollup.py), and the smallest description is taken among the others.
    return _rows(
        bind,
        scope,
        select(c.created_day, c.error_code, c.error_description, _message_count(table))
        .where(*_conditions(scope, flt, table), c.direction == "MT", c.status == "error")
        .group_by(c.created_day, c.error_code, c.error_description)
        .having(_message_count(table) != 0),
    )


def top_errors_from_rows(rows: list[tuple], flt: ReportFilter, limit: int = 10) -> pd.DataFrame:
    """top_errors from the days' rows (error_rows): each code's count summed over the days,
    with the smallest of its descriptions; the most frequent first, ties by code (none last).
    A day's count of a code and description is never below 0, so one of 0 over the range is
    one of 0 on each of its days: none is left in `rows`."""
    counts: dict = {}
    described: dict = {}
    for _day, code, description, count in rows:
        counts[code] = counts.get(code, 0) + int(count)
        if description is not None:
            kept = described.get(code)
            described[code] = description if kept is None else min(kept, description)
    if not counts:
        return pd.DataFrame(columns=TOP_ERROR_COLUMNS)
    ordered = sorted(counts, key=lambda code: (-counts[code], code is None, code or ""))
    frame = pd.DataFrame(
        {
            "error_code": ordered,
            "error_description": [described.get(code) for code in ordered],
            "count": np.asarray([counts[code] for code in ordered], dtype="int64"),
        }
    )
    frame["share"] = frame["count"] * 100.0 / frame["count"].sum()
    return frame.head(limit).reset_index(drop=True)


FIGURE_COLUMNS = (
    "total",
    "sent",
    "delivered",
    "read",
    "errors",
    "delivered_pct",
    "read_pct",
    "error_pct",
    "top_error_code",
    "top_error_description",
    "top_error_count",
)
CAMPAIGN_COLUMNS = ("campaign_id", "campaign", *FIGURE_COLUMNS)
COUNTRY_COLUMNS = ("country", *FIGURE_COLUMNS)
OPERATOR_COLUMNS = ("country", "operator", *FIGURE_COLUMNS)
TEMPLATE_COLUMNS = ("template", *FIGURE_COLUMNS)


# The breakdowns of the sent messages: name -> the keys it groups by. Operators and templates
# show only the groups whose operator or template is known.
BREAKDOWN_KEYS = {
    "campaigns": ("campaign_id",),
    "countries": ("country",),
    "operators": ("country", "operator"),
    "templates": ("template",),
}
_KNOWN_ONLY = {"operators": "operator", "templates": "template"}


def _breakdowns(
    conn: Connection, scope: AccessScope, flt: ReportFilter, names: tuple[str, ...]
) -> dict[str, list[dict]]:
    """The range's sent (MT) messages grouped by each breakdown's keys, one dict per group:
    its key values, counts, delivered / read / error shares and most frequent error reason
    (ties: the smallest code). Counted in the engine, from the roll-up unless the filter needs
    the messages, in two steps: the rows grouped once by every breakdown's keys together (a
    few hundred groups), then those groups by each breakdown (GROUPING SETS). Grouping the
    rows by each breakdown apart hashed every row once a breakdown; at 10M messages the two
    steps take a sixth less of the engine's time (62 against 74 ms on one thread). One pass
    for the counts, one for the reasons."""
    table = _source(flt)
    c = table.c
    sent, delivered, read = _time_counts(table)
    conditions = [*_conditions(scope, flt, table), c.direction == "MT"]
    if len(names) == 1 and names[0] in _KNOWN_ONLY:
        # (Alone, it reads only the messages it shows.)
        conditions.append(c[_KNOWN_ONLY[names[0]]].is_not(None))
    # A message whose country was never worked out (no contact made it) counts as unknown, as
    # the country filter takes it. (The same text wherever it is written: PostgreSQL matches
    # a grouped expression by its text.)
    unknown: ColumnElement[str] = literal_column(f"'{UNKNOWN_COUNTRY}'")
    columns = {
        "campaign_id": c.campaign_id,
        "country": func.coalesce(c.country, unknown),
        "operator": c.operator,
        "template": c.template,
    }
    used = [k for k in columns if any(k in BREAKDOWN_KEYS[name] for name in names)]
    keyed = [columns[k].label(k) for k in used]
    count = _message_count(table)
    totals_by_keys = (
        select(
            *keyed,
            count.label("total"),
            sent.label("sent"),
            delivered.label("delivered"),
            read.label("read"),
            count.filter(c.status == "error").label("errors"),
        )
        .where(*conditions)
        .group_by(*(columns[k] for k in used))
        .having(count != 0)
        .subquery("by_keys")
    )
    # By description too: a description no error has any more sums to zero in the roll-up
    # (data_access/rollup.py); the smallest of the others is taken below.
    errors_by_keys = (
        select(
            *keyed,
            c.error_code,
            c.error_description,
            count.label("error_count"),
        )
        .where(*conditions, c.status == "error")
        .group_by(*(columns[k] for k in used), c.error_code, c.error_description)
        .having(count != 0)
        .subquery("errors_by_keys")
    )

    def by_each(grouped, *more) -> tuple:
        """The GROUPING SETS of the breakdowns over `grouped`'s keys (and `more`), and the
        GROUPING() of its key columns: a bit per key, the first the highest, set where the
        group is not by it."""
        sets = func.grouping_sets(
            *(tuple_(*(grouped.c[k] for k in BREAKDOWN_KEYS[n]), *more) for n in names)
        )
        grouping = func.grouping(*(grouped.c[k] for k in used)).label("grouping_set")
        return sets, grouping

    set_of = {
        sum(1 << (len(used) - 1 - i) for i, k in enumerate(used) if k not in BREAKDOWN_KEYS[n]): n
        for n in names
    }
    t = totals_by_keys.c
    sets, grouping = by_each(totals_by_keys)
    totals = select(
        *(t[k] for k in used),
        grouping,
        func.sum(t.total).label("total"),
        func.sum(t.sent).label("sent"),
        func.sum(t.delivered).label("delivered"),
        func.sum(t.read).label("read"),
        func.coalesce(func.sum(t.errors), 0).label("errors"),
    ).group_by(sets)
    e = errors_by_keys.c
    sets, grouping = by_each(errors_by_keys, e.error_code)
    errors = select(
        *(e[k] for k in used),
        grouping,
        e.error_code,
        func.min(e.error_description).label("error_description"),
        func.sum(e.error_count).label("error_count"),
    ).group_by(sets)
    counted: dict[str, list] = {name: [] for name in names}
    for row in conn.execute(totals).all():
        counted[set_of[row.grouping_set]].append(row)
    top: dict = {}
    for reason in conn.execute(errors).all():
        name = set_of[reason.grouping_set]
        group = (name, *(getattr(reason, k) for k in BREAKDOWN_KEYS[name]))
        rank = (-int(reason.error_count), reason.error_code is None, reason.error_code or "")
        if group not in top or rank < top[group][0]:
            top[group] = (rank, reason)
    out: dict[str, list[dict]] = {}
    for name in names:
        keys = BREAKDOWN_KEYS[name]
        known = _KNOWN_ONLY.get(name)
        out[name] = [
            _figures(
                flt, keys, row, top.get((name, *(getattr(row, k) for k in keys)), (0, None))[1]
            )
            for row in counted[name]
            if known is None or getattr(row, known) is not None
        ]
    return out


def _figures(flt: ReportFilter, keys: tuple[str, ...], row, reason) -> dict:
    """A breakdown group's dict: keys, counts, shares and top error reason."""
    total = int(row.total)
    figures = {
        name: int(getattr(row, name) or 0) for name in ("sent", "delivered", "read", "errors")
    }
    return {
        **{key: getattr(row, key) for key in keys},
        "total": total,
        **figures,
        "delivered_pct": _percent(figures["delivered"], total),
        "read_pct": None if flt.channel == "sms" else _percent(figures["read"], total),
        "error_pct": _percent(figures["errors"], total),
        "top_error_code": reason.error_code if reason else None,
        "top_error_description": reason.error_description if reason else None,
        "top_error_count": int(reason.error_count) if reason else 0,
    }


DELIVERY_TIME_COLUMNS = (
    "date",
    "delivered",
    *(f"delivered_{name}" for name in dt.PERCENTILES),
    *(f"{name}_pct" for name in dt.WITHIN_SECONDS),
    "read",
    *(f"read_{name}" for name in dt.PERCENTILES),
)


def _times_select(scope: AccessScope, flt: ReportFilter):
    """Delivered and read messages per day and bucket of seconds (data_access/delivery_times):
    from the roll-up's histogram, or bucketed the same way from the messages when the filter
    needs them (the histogram has no error codes either), so both answer alike."""
    if not (flt.searches_messages or flt.error_codes):
        h = delivery_time_rollup.c
        return (
            select(
                h.created_day.label("date"),
                h.bucket,
                func.sum(h.delivered_count).label("delivered"),
                func.sum(h.read_count).label("read"),
            )
            .where(*_conditions(scope, flt, delivery_time_rollup), h.direction == "MT")
            .group_by(h.created_day, h.bucket)
        )
    c = m
    conditions = [*_conditions(scope, flt, messages), c.direction == "MT"]

    def branch(at, delivered: int, read: int):
        return select(
            c.created_day.label("date"),
            dt.delay_seconds(at, c.created_at).label("seconds"),
            literal(delivered).label("delivered"),
            literal(read).label("read"),
        ).where(*conditions, at.is_not(None))

    # The delay a column of its own: worked out once per message (data_access/rollup.py).
    both = union_all(branch(c.delivered_at, 1, 0), branch(c.read_at, 0, 1)).subquery("timed")
    bucketed = select(
        both.c.date, dt.bucket_of(both.c.seconds).label("bucket"), both.c.delivered, both.c.read
    ).subquery("bucketed")
    t = bucketed.c
    return select(
        t.date,
        t.bucket,
        func.sum(t.delivered).label("delivered"),
        func.sum(t.read).label("read"),
    ).group_by(t.date, t.bucket)


def _time_figures(delivered: np.ndarray, read: np.ndarray, channel: str) -> dict:
    """The figures of each row of bucket counts (a day, or the whole range), as columns; NaN
    where a figure is not available."""
    figures: dict = {"delivered": delivered.sum(axis=1), "read": read.sum(axis=1)}
    for name, fraction in dt.PERCENTILES.items():
        figures[f"delivered_{name}"] = dt.percentiles(delivered, fraction)
        figures[f"read_{name}"] = dt.percentiles(read, fraction)
    total = figures["delivered"]
    for name, seconds in dt.WITHIN_SECONDS.items():
        within = dt.counts_within(delivered, seconds)
        with np.errstate(invalid="ignore", divide="ignore"):
            figures[f"{name}_pct"] = np.where(total > 0, within * 100.0 / total, np.nan)
    if channel == "sms":
        # SMS has no read receipts: "not available", never 0.
        nothing = np.full(len(total), np.nan)
        figures.update({"read": nothing, **{f"read_{name}": nothing for name in dt.PERCENTILES}})
    return figures


def delivery_times(
    bind: Engine | Connection, scope: AccessScope, flt: ReportFilter
) -> pd.DataFrame | None:
    """Seconds from creation to delivered (and to read, WhatsApp) of the range's sent (MT)
    messages: one row per day of the range, then one row for the whole range (date None), each
    with the delivered and read counts, p50 / p90 / p99 of each (None without a message) and
    the share of delivered messages delivered within 5 s, 1 min and 1 h.

    Percentiles are read off the histogram of data_access/delivery_times.py: exact to the
    bounds of the bucket they fall in. None when the messages live in a store that does not
    answer it yet (ClickHouse)."""
    if messages_of(bind) is not None:
        return None
    return delivery_times_from_rows(time_rows(bind, scope, flt), flt)


def time_rows(bind: Engine | Connection, scope: AccessScope, flt: ReportFilter) -> list[tuple]:
    """The range's delivered and read counts by day and bucket of seconds, a tuple each:
    (date, bucket, delivered, read)."""
    return _rows(bind, scope, _times_select(scope, flt))


def delivery_times_from_rows(rows: list[tuple], flt: ReportFilter) -> pd.DataFrame:
    """delivery_times from the days' rows (time_rows)."""
    days = list(flt.days)
    # One row of bucket counts per day of the range, and a last one for the whole range.
    delivered = np.zeros((len(days) + 1, dt.BUCKET_COUNT), dtype=np.int64)
    read = np.zeros_like(delivered)
    position = {day: index for index, day in enumerate(days)}
    found = [
        (position[day], int(bucket), int(delivered_count or 0), int(read_count or 0))
        for day, bucket, delivered_count, read_count in rows
        if day in position
    ]
    if found:
        at, bucket, delivered_count, read_count = np.array(found, dtype=np.int64).T
        delivered[at, bucket] = delivered_count
        read[at, bucket] = read_count
    delivered[-1] = delivered[:-1].sum(axis=0)
    read[-1] = read[:-1].sum(axis=0)
    figures = _time_figures(delivered, read, flt.channel)
    frame = pd.DataFrame({"date": [*days, None]})
    for name in DELIVERY_TIME_COLUMNS[1:]:
        # Nullable types: a figure not available (a day without deliveries, read on SMS) is NA.
        column = pd.array(figures[name], dtype="Float64")
        if name in ("delivered", "read"):
            column = column.astype("Int64")
        frame[name] = column
    return frame


# The reads whose rows are counts by day (a tuple each, its day first): a range's result is
# made from its days' rows alone, so a caller may keep each day's rows and answer another
# range of the same filter from the days read already (dashboard/services.py). Name -> the
# name of the function that reads a range's rows, and the result from rows.
DAY_READS: dict[str, tuple[str, Callable[..., pd.DataFrame]]] = {
    "daily_series": ("daily_rows", daily_from_rows),
    "top_errors": ("error_rows", top_errors_from_rows),
    "delivery_times": ("time_rows", delivery_times_from_rows),
}


def breakdowns(
    bind: Engine | Connection,
    scope: AccessScope,
    flt: ReportFilter,
    names: tuple[str, ...] = tuple(BREAKDOWN_KEYS),
) -> dict[str, pd.DataFrame | None]:
    """The tables of the range's sent (MT) messages by campaign, country, operator and WhatsApp
    template (BREAKDOWN_KEYS; `names` picks some), each most messages first, read together.
    None each in a store that does not answer them yet (ClickHouse)."""
    if messages_of(bind) is not None:
        return dict.fromkeys(names)
    found: dict[str, list[dict]] = {name: [] for name in names}
    if scope.subaccount_ids:
        with _connection(bind) as conn:
            found = _breakdowns(conn, scope, flt, names)
            campaign_ids = {r["campaign_id"] for r in found.get("campaigns", ())} - {None}
            named = dict(
                conn.execute(
                    select(campaigns.c.id, campaigns.c.name).where(
                        campaigns.c.id.in_(sorted(campaign_ids))
                    )
                ).all()
                if campaign_ids
                else ()
            )
        for row in found.get("campaigns", ()):
            row["campaign"] = named.get(row["campaign_id"])
    return {name: _BREAKDOWN_TABLES[name](found[name]) for name in names}


def _table(columns: tuple[str, ...], order) -> Callable[[list[dict]], pd.DataFrame]:
    def table(rows: list[dict]) -> pd.DataFrame:
        return pd.DataFrame(sorted(rows, key=order), columns=list(columns))

    return table


_BREAKDOWN_TABLES = {
    # Then by name, the messages without a campaign last.
    "campaigns": _table(
        CAMPAIGN_COLUMNS, lambda r: (-r["total"], r["campaign"] is None, r["campaign"] or "")
    ),
    # Then by code, the unknown country last.
    "countries": _table(
        COUNTRY_COLUMNS, lambda r: (-r["total"], r["country"] == UNKNOWN_COUNTRY, r["country"])
    ),
    "operators": _table(OPERATOR_COLUMNS, lambda r: (-r["total"], r["country"], r["operator"])),
    "templates": _table(TEMPLATE_COLUMNS, lambda r: (-r["total"], r["template"])),
}


def campaign_table(
    bind: Engine | Connection, scope: AccessScope, flt: ReportFilter
) -> pd.DataFrame | None:
    """One row per campaign of the range's sent (MT) messages, most messages first: counts,
    delivered / read / error shares of its messages, and its most frequent error reason
    (ties: the smallest code). Messages without a campaign make one row with campaign_id and
    campaign None. None when the messages live in a store that does not answer it yet
    (ClickHouse)."""
    return breakdowns(bind, scope, flt, ("campaigns",))["campaigns"]


def country_table(
    bind: Engine | Connection, scope: AccessScope, flt: ReportFilter
) -> pd.DataFrame | None:
    """One row per country of the range's sent (MT) messages (the contacts' countries, ISO
    3166 codes, ZZ for numbers of no known country), most messages first, with the figures of
    campaign_table. None in a store that does not answer it yet (ClickHouse)."""
    return breakdowns(bind, scope, flt, ("countries",))["countries"]


def operator_table(
    bind: Engine | Connection, scope: AccessScope, flt: ReportFilter
) -> pd.DataFrame | None:
    """One row per country and operator of the range's sent (MT) messages whose operator is
    known (the channel reported it, or the writer gave it), most messages first. None in a
    store that does not answer it yet (ClickHouse)."""
    return breakdowns(bind, scope, flt, ("operators",))["operators"]


def template_table(
    bind: Engine | Connection, scope: AccessScope, flt: ReportFilter
) -> pd.DataFrame | None:
    """One row per WhatsApp template name of the range's sent (MT) messages that name one,
    most messages first, with the figures of campaign_table. None in a store that does not
    answer it yet (ClickHouse)."""
    return breakdowns(bind, scope, flt, ("templates",))["templates"]


@dataclass(frozen=True)
class DetailedPage:
    rows: pd.DataFrame
    total: int
    offset: int
    limit: int


def _with_names(rows, phones=contacts):
    """The detailed columns of message rows (messages itself or a subquery of it), with the
    names of their subaccount, contact, user and campaign joined in; `phones` is contacts or
    a subquery of it holding the rows' contacts."""
    r = rows.c
    return select(
        r.message_id,
        r.created_at,
        r.channel,
        r.direction,
        subaccounts.c.name.label("subaccount"),
        users.c.username.label("user"),
        campaigns.c.name.label("campaign"),
        r.content_type,
        phones.c.phone,
        r.contact_name,
        r.content,
        r.status,
        r.error_code,
        r.error_description,
        r.sent_at,
        r.delivered_at,
        r.read_at,
        r.correlation_id,
    ).select_from(
        rows.join(subaccounts, subaccounts.c.id == r.subaccount_id)
        .join(phones, phones.c.id == r.contact_id)
        .outerjoin(users, users.c.id == r.user_id)
        .outerjoin(campaigns, campaigns.c.id == r.campaign_id)
    )


def _detail_select(scope: AccessScope, flt: ReportFilter):
    return _with_names(messages).where(*_conditions(scope, flt))


# Sort keys that are never null in a detailed row (NOT NULL columns, inner joins). NULLS LAST
# changes nothing for them, and without it PostgreSQL can walk the created_at index instead of
# sorting every matching row; every other key keeps it.
_NEVER_NULL_SORTS = frozenset(
    {"created_at", "status", "direction", "content_type", "phone", "subaccount"}
)


# Statuses sort by their place in a message's life (domain.STATUS_LIFECYCLE), not by name.
STATUS_PLACE = {status: place for place, status in enumerate(STATUS_LIFECYCLE)}


def sort_value(column, sort: str):
    """What rows are ordered by for a sort key: the column itself, or for the status its place
    in the lifecycle. Exports compare a page's last row with it (exports.source)."""
    if sort == "status":
        return case(STATUS_PLACE, value=column, else_=len(STATUS_PLACE))
    return column


def _ordered(column, sort: str, descending: bool):
    column = sort_value(column, sort)
    ordered = column.desc() if descending else column.asc()
    return ordered if sort in _NEVER_NULL_SORTS else ordered.nulls_last()


def _order_by(sort: str, descending: bool):
    column = SORT_COLUMNS.get(sort)
    if column is None:
        raise FilterError("unknown_sort", "sort", f"Cannot sort by {sort!r}.", value=str(sort))
    identity = m.message_id.desc() if descending else m.message_id.asc()
    return (_ordered(column, sort, descending), identity)


def detailed_select(scope: AccessScope, flt: ReportFilter, sort="created_at", descending=True):
    """The detailed rows as one ordered SELECT (pages and exports both start from it)."""
    return _detail_select(scope, flt).order_by(*_order_by(sort, descending))


# The names a detailed row shows, and the id a window row carries in place of each (with the
# table the name comes from: id column, name column).
WINDOW_NAMES = {
    "subaccount": (m.subaccount_id, subaccounts.c.id, subaccounts.c.name),
    "user": (m.user_id, users.c.id, users.c.username),
    "campaign": (m.campaign_id, campaigns.c.id, campaigns.c.name),
    "phone": (m.contact_id, contacts.c.id, contacts.c.phone),
}


def _window(scope: AccessScope, flt: ReportFilter, low: datetime, high: datetime) -> list:
    return [*_conditions(scope, flt), m.created_at >= low, m.created_at < high]


def detailed_window_select(
    scope: AccessScope, flt: ReportFilter, low: datetime, high: datetime, descending=None
):
    """detailed_select's rows created in [low, high) (stored UTC), with the ids of their
    subaccount, user, campaign and contact in the columns of the names and the phone
    (WINDOW_NAMES); in time order if `descending` is given, else in no particular order.

    Exports read a long range window by window through it, then name and sort each window
    themselves (exports.source): joining the names and the phones and sorting whole rows cost
    DuckDB more than reading the rows.
    """
    columns = [
        WINDOW_NAMES[name][0].label(name) if name in WINDOW_NAMES else m[name]
        for name in DETAIL_COLUMNS
    ]
    rows = select(*columns).where(*_window(scope, flt, low, high))
    return rows if descending is None else rows.order_by(*_order_by("created_at", descending))


def contact_phones_select(scope: AccessScope, flt: ReportFilter, low: datetime, high: datetime):
    """The id and phone of every contact of detailed_select's rows created in [low, high), by id.

    The MATERIALIZED step makes DuckDB hash the contact ids of those rows and probe contacts
    with them, instead of hashing every contact.
    """
    contact_ids = (
        select(m.contact_id.label("id")).where(*_window(scope, flt, low, high)).distinct()
        .cte("span_contact_ids").prefix_with("MATERIALIZED")
    )  # fmt: skip
    return (
        select(contacts.c.id, contacts.c.phone)
        .join_from(contact_ids, contacts, contacts.c.id == contact_ids.c.id)
        .order_by(contacts.c.id)
    )


def localise(frame: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Turn the stored UTC times of a result into the given time zone."""
    for column in TIME_COLUMNS:
        if column in frame:
            values = pd.to_datetime(frame[column])
            frame[column] = values.dt.tz_localize("UTC").dt.tz_convert(timezone)
    return frame


# The lookup table behind each sort key that is not a messages column, and how it joins.
_SORT_JOINS = {
    subaccounts: (m.subaccount_id, False),
    contacts: (m.contact_id, False),
    users: (m.user_id, True),
    campaigns: (m.campaign_id, True),
}


def _page_keys(dialect: str) -> tuple:
    """What a page's rows are found by: (message id, contact id, day, creation time) and, on
    DuckDB, the row number (_page_rows_at)."""
    keys = (m.message_id, m.contact_id, m.created_day, m.created_at)
    return (*keys, MESSAGE_ROW) if dialect == "duckdb" else keys


def _page_ids_select(
    scope: AccessScope,
    flt: ReportFilter,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    dialect: str,
):
    """The keys (_page_keys) of detailed_select's rows from offset to offset + limit.

    The page is cut on the messages alone, reading only the filter and sort columns; its rows
    are then fetched by primary key with their names joined (detailed_rows). Joined first, the
    engine would join every matching message before it could sort; cut with every column, DuckDB
    reads the wide columns of every candidate row when a filter matches rows spread over the
    whole table. (A phone search, whose filter is constants the scan applies, is cut in one
    pass: _phone_page.)
    """
    key = SORT_COLUMNS[sort]
    source: FromClause = messages
    if key.table is not messages:
        foreign_key, outer = _SORT_JOINS[key.table]
        on = key.table.c.id == foreign_key
        source = messages.outerjoin(key.table, on) if outer else messages.join(key.table, on)
    return (
        select(*_page_keys(dialect))
        .select_from(source)
        .where(*_conditions(scope, flt))
        .order_by(*_order_by(sort, descending))
        .offset(offset)
        .limit(limit)
    )


# Days of a time-ordered page looked at first, then more, before the whole range.
TIME_PAGE_WINDOWS = (1, 4, 16)


def _time_ordered_page_ids(
    conn: Connection,
    scope: AccessScope,
    flt: ReportFilter,
    descending: bool,
    offset: int,
    limit: int,
) -> list:
    """_page_ids_select's rows in creation order, looking at the range's newest days first
    (its oldest when ascending). A day holds only messages created that day, so when the
    newest days hold the page's rows and every row before them, no older day can hold one.
    DuckDB then sorts a day's messages instead of the range's (at 100M, 34 ms instead of 9 s:
    its top-N skips no row group once the filter has other columns)."""

    def windows():
        for days in TIME_PAGE_WINDOWS:
            if days >= len(flt.days):
                return
            if descending:
                window = replace(flt, start=flt.end - timedelta(days=days - 1))
            else:
                window = replace(flt, end=flt.start + timedelta(days=days - 1))
            yield _page_ids_select(
                scope, window, "created_at", descending, 0, offset + limit, "duckdb"
            )

    last = _page_ids_select(scope, flt, "created_at", descending, offset, limit, "duckdb")
    return _first_full(conn, windows(), last, offset, limit)


def _first_full(conn: Connection, windows, last, offset: int, limit: int) -> list:
    """The page's rows from the first of `windows` (each query's first offset + limit rows in
    the page's order) that holds the page and every row before it; else from `last`, the
    whole range's page."""
    for window in windows:
        found = conn.execute(window).all()
        if len(found) == offset + limit:
            return list(found[offset:])
    return list(conn.execute(last).all())


# Contacts of a phone-ordered page looked at first, then more, before every contact.
PHONE_PAGE_WINDOWS = (2_000, 20_000)


def _phone_ordered_page_ids(
    conn: Connection,
    scope: AccessScope,
    flt: ReportFilter,
    descending: bool,
    offset: int,
    limit: int,
) -> list:
    """_page_ids_select's rows in phone order, looking at the first contacts in that order
    (the last when descending) before all of them. A contact's number is its own (no two
    contacts share one): when the messages of the first contacts fill the page and every
    row before it, no other contact's message can come before them. DuckDB then joins the
    range's messages to a few thousand contacts instead of every contact, and sorts those
    (at 10M, 53 ms instead of 432 ms for a 90-day range)."""
    phone = contacts.c.phone
    identity = m.message_id.desc() if descending else m.message_id.asc()

    def windows():
        for window in PHONE_PAGE_WINDOWS:
            first = (
                select(contacts.c.id, phone)
                .order_by(_ordered(phone, "phone", descending))
                .limit(window)
                .subquery("first_contacts")
            )
            yield (
                select(*_page_keys("duckdb"))
                .select_from(messages.join(first, first.c.id == m.contact_id))
                .where(*_conditions(scope, flt))
                .order_by(_ordered(first.c.phone, "phone", descending), identity)
                .limit(offset + limit)
            )

    last = _page_ids_select(scope, flt, "phone", descending, offset, limit, "duckdb")
    return _first_full(conn, windows(), last, offset, limit)


# Sort keys the roll-up holds: key -> (its column in messages and in the roll-up, the table
# of names it is shown by, or None when the value itself is shown).
_GROUPED_SORTS = {
    "status": ("status", None),
    "direction": ("direction", None),
    "content_type": ("content_type", None),
    "error_code": ("error_code", None),
    "subaccount": ("subaccount_id", subaccounts),
    "user": ("user_id", users),
    "campaign": ("campaign_id", campaigns),
}


def _grouped_page_ids(
    conn: Connection,
    scope: AccessScope,
    flt: ReportFilter,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> list:
    """The page's (message id, contact id) pairs for a sort key with few values, found group
    by group.

    Rows with the same key follow each other in message id order, so the roll-up's count per
    key value, in the sort's order, says which values the page falls on and where in each.
    Each of those groups is then cut alone (one value's messages, ordered by id): the engine
    reads the ids of that value's messages only, instead of sorting every message in range.
    """
    column, names = _GROUPED_SORTS[sort]
    rolled = daily_rollup.c[column]
    count = func.sum(daily_rollup.c.message_count)
    where = _conditions(scope, flt, daily_rollup)
    if names is None:
        groups = select(rolled, count).where(*where).group_by(rolled)
        groups = groups.order_by(_ordered(rolled, sort, descending))
    else:
        shown = SORT_COLUMNS[sort]
        groups = (
            select(rolled, count)
            .select_from(daily_rollup.outerjoin(names, names.c.id == rolled))
            .where(*where)
            .group_by(rolled, shown)
            .order_by(_ordered(shown, sort, descending))
        )
    identity = m.message_id.desc() if descending else m.message_id.asc()
    page_ids: list = []
    position, end = 0, offset + limit
    for value, rows in conn.execute(groups).all():
        rows = int(rows)
        if position + rows > offset:
            start = max(offset - position, 0)
            take = min(rows - start, end - position - start)
            same = m[column].is_(None) if value is None else m[column] == value
            cut = (
                select(*_page_keys(conn.dialect.name))
                .where(*_conditions(scope, flt), same)
                .order_by(identity)
                .offset(start)
                .limit(take)
            )
            page_ids += conn.execute(cut).all()
        position += rows
        if position >= end:
            break
    return page_ids


def _page_order(page, phones, sort: str, descending: bool):
    """detailed_select's order over a page subquery joined with the names."""
    key = SORT_COLUMNS[sort]
    if key.table is messages:
        column = page.c[key.name]
    elif key.table is contacts:
        column = phones.c[key.name]
    else:
        column = key
    identity = page.c.message_id.desc() if descending else page.c.message_id.asc()
    return (_ordered(column, sort, descending), identity)


def _phone_page(
    scope: AccessScope, flt: ReportFilter, sort: str, descending: bool, offset: int, limit: int
):
    """One page of a phone search (its contacts looked up: `located`) with every column, in one
    pass. A phone's messages are few, and the scan filters by its contacts' ids and days,
    constants: it reads the other columns only where one of those messages is, so a page of
    ids first and then its rows day by day (_page_rows) would read the same days twice."""
    assert flt.phone is not None and flt.phone.contact_ids
    phones = rows_by_key(
        [contacts.c.id, contacts.c.phone], contacts.c.id, sorted(flt.phone.contact_ids), "phones"
    )
    order = _page_order(messages, phones, sort, descending)
    query = _with_names(messages, phones).where(*_conditions(scope, flt))
    return query.order_by(*order).offset(offset).limit(limit)


def _named_page(conn: Connection, found: list, sort: str, descending: bool) -> list:
    """The detailed rows of a page's messages, found by _page_keys, in the sort's order.

    On DuckDB each is read at its row number, confirmed by its id: should the table have been
    compacted between the two reads (its rows moved), the rows are read by their days instead.
    """
    phones = _phones_of(conn.dialect.name, sorted({row[1] for row in found}))

    def named(page) -> list:
        order = _page_order(page, phones, sort, descending)
        return list(conn.execute(_with_names(page, phones).order_by(*order)).all())

    if conn.dialect.name == "duckdb":
        rows = named(_page_rows_at(found))
        if sorted(row[0] for row in rows) == sorted(row[0] for row in found):
            return rows
    return named(_page_rows(found))


# Up to this many contacts, DuckDB reads each by its id (_phones_of).
CONTACTS_ONE_BY_ONE = 100


def _phones_of(dialect: str, contact_ids: list):
    """The id and phone of a page's contacts, as a subquery. DuckDB has no index on the
    contacts, but they are written in id order (nearly all), so one contact's id is looked for
    in the few row groups whose ids span it, where a list of ids spread over the table has
    most row groups read (at 10M, 6 ms for 25 contacts one by one, 22 ms as one list)."""
    columns = (contacts.c.id, contacts.c.phone)
    if dialect != "duckdb" or len(contact_ids) > CONTACTS_ONE_BY_ONE:
        return rows_by_key(columns, contacts.c.id, contact_ids, "phones")
    each = [select(*columns).where(contacts.c.id == key) for key in contact_ids]
    return (each[0] if len(each) == 1 else union_all(*each)).subquery("phones")


def _page_rows_at(found):
    """The messages of a page at their row numbers (DuckDB), as a subquery (each day's rows by
    their day, _page_rows, read 93 ms where these read 17 at 10M)."""
    return select(messages).where(at_rows(sorted(row[4] for row in found))).subquery("page")


def _page_rows(found):
    """The messages of a page, from their (id, contact, day, creation time), as a subquery.

    DuckDB has no key index on the messages: the rows are read day by day, each day's by its
    ids and creation times, constants it checks against every row group's min and max, so
    only the row groups holding the page are read. (One list over all the days becomes a join
    that reads every message of those days.)
    """
    by_day: dict = {}
    for key, _contact, day, created, *_row in found:
        ids, times = by_day.setdefault(day, ([], []))
        ids.append(key)
        times.append(created)
    parts = [
        select(messages).where(m.created_day == day, m.created_at.in_(times), m.message_id.in_(ids))
        for day, (ids, times) in sorted(by_day.items())
    ]
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("page")


def rows_by_key(columns, key, values: list, name: str):
    """The `columns` of the rows whose `key` is one of `values`, as a subquery to join to.

    The LIMIT keeps the engine from merging the subquery into the joins around it: DuckDB then
    reads the rows through the key's index instead of scanning (and hashing) the whole table.
    """
    return select(*columns).where(key.in_(values)).limit(len(values)).subquery(name)


def _check_page(offset: int, limit: int) -> None:
    if not isinstance(offset, int) or offset < 0:
        raise FilterError("bad_offset", "offset", "The page position cannot be negative.")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise FilterError(
            "bad_page_size",
            "limit",
            f"A page holds 1 to {MAX_PAGE_SIZE} rows.",
            maximum=MAX_PAGE_SIZE,
        )


def detailed_rows(
    bind: Engine | Connection,
    scope: AccessScope,
    flt: ReportFilter,
    *,
    sort: str = "created_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 50,
) -> pd.DataFrame:
    """The rows of one page of messages in a whitelisted order, in the filter's time zone."""
    if (clickhouse := messages_of(bind)) is not None:
        return clickhouse.detailed_rows(
            scope, flt, sort=sort, descending=descending, offset=offset, limit=limit
        )
    _check_page(offset, limit)
    _order_by(sort, descending)  # rejects an unknown sort key
    rows = []
    if scope.subaccount_ids:
        with _connection(bind) as conn:
            narrowed = located(conn, flt)
            found = []
            if narrowed is None:
                pass
            elif narrowed.phone is not None:
                page = _phone_page(scope, narrowed, sort, descending, offset, limit)
                rows = conn.execute(page).all()
            elif sort in _GROUPED_SORTS and not flt.searches_messages:
                found = _grouped_page_ids(conn, scope, flt, sort, descending, offset, limit)
            elif sort == "created_at" and conn.dialect.name == "duckdb":
                found = _time_ordered_page_ids(conn, scope, narrowed, descending, offset, limit)
            elif sort == "phone" and conn.dialect.name == "duckdb":
                found = _phone_ordered_page_ids(conn, scope, narrowed, descending, offset, limit)
            else:
                ids = _page_ids_select(
                    scope, narrowed, sort, descending, offset, limit, conn.dialect.name
                )
                found = conn.execute(ids).all()
            if found:
                rows = _named_page(conn, found, sort, descending)
    return localise(pd.DataFrame(rows, columns=list(DETAIL_COLUMNS)), flt.timezone)


def detailed_count(bind: Engine | Connection, scope: AccessScope, flt: ReportFilter) -> int:
    """How many messages match: the same for every page and order of a filter."""
    if (clickhouse := messages_of(bind)) is not None:
        return clickhouse.detailed_count(scope, flt)
    if not scope.subaccount_ids:
        return 0
    table = _source(flt)
    count = select(_message_count(table)).select_from(table)
    with _connection(bind) as conn:
        narrowed = located(conn, flt)
        if narrowed is None:
            return 0
        return int(
            conn.execute(count.where(*_conditions(scope, narrowed, table))).scalar_one() or 0
        )


def detailed_page(
    bind: Engine | Connection,
    scope: AccessScope,
    flt: ReportFilter,
    *,
    sort: str = "created_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 50,
) -> DetailedPage:
    """One page of messages in a whitelisted order, with the count of all matching rows."""
    if (clickhouse := messages_of(bind)) is not None:
        return clickhouse.detailed_page(
            scope, flt, sort=sort, descending=descending, offset=offset, limit=limit
        )
    with _connection(bind) as conn:
        flt = with_contacts(conn, flt)
        counted = _counted_phone_page(conn, scope, flt, sort, descending, offset, limit)
        if counted is not None:
            return DetailedPage(*counted, offset, limit)
        rows = detailed_rows(
            conn, scope, flt, sort=sort, descending=descending, offset=offset, limit=limit
        )
        total = detailed_count(conn, scope, flt)
    return DetailedPage(rows, total, offset, limit)


def _counted_phone_page(
    conn: Connection,
    scope: AccessScope,
    flt: ReportFilter,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[pd.DataFrame, int] | None:
    """A phone search's page and its count in one pass over the phone's days: the count is a
    window over the matching messages, worked out before the page is cut from them (at 100M
    messages the two passes took 44 and 18 ms). None for any other filter, and for a page past
    the last message (its count is then asked alone)."""
    if flt.phone is None or not scope.subaccount_ids:
        return None
    _check_page(offset, limit)
    _order_by(sort, descending)  # rejects an unknown sort key
    narrowed = located(conn, flt)
    if narrowed is None or narrowed.phone is None:
        return None
    page = _phone_page(scope, narrowed, sort, descending, offset, limit)
    found = conn.execute(page.add_columns(func.count().over().label("total"))).all()
    if not found:
        return None
    rows = pd.DataFrame([row[:-1] for row in found], columns=list(DETAIL_COLUMNS))
    return localise(rows, flt.timezone), int(found[0][-1])


def filter_options(
    bind: Engine | Connection, scope: AccessScope, channel: str, timezone: str
) -> dict[str, list]:
    """The choices present in scope for the channel over the reachable window.

    Returns lists of (id, name) for subaccounts, users and campaigns and plain values for
    content types and statuses, each sorted by name.
    """
    empty: dict[str, list] = {
        "subaccounts": [],
        "users": [],
        "campaigns": [],
        "content_types": [],
        "statuses": [],
        "countries": [],
    }
    if (clickhouse := messages_of(bind)) is not None:
        return clickhouse.filter_options(scope, channel, timezone)
    if not scope.subaccount_ids:
        return empty
    since = today_in(timezone) - timedelta(days=MAX_DAYS_BACK)
    r = daily_rollup.c
    where = (
        r.subaccount_id.in_(sorted(scope.subaccount_ids)),
        r.channel == channel,
        r.created_day >= since,
    )

    def distinct(column, kind: str):
        return (
            select(literal(kind).label("kind"), column.cast(messages.c.content.type).label("value"))
            .where(*where)
            .group_by(column)
            # (A status no message has any more sums to zero: data_access/rollup.py.)
            .having(func.sum(r.message_count) != 0)
        )

    query = distinct(r.subaccount_id, "subaccount").union_all(
        distinct(r.user_id, "user"),
        distinct(r.campaign_id, "campaign"),
        distinct(r.content_type, "content_type"),
        distinct(r.status, "status"),
        distinct(func.coalesce(r.country, UNKNOWN_COUNTRY), "country"),
    )
    with _connection(bind) as conn:
        present: dict[str, set[str]] = {}
        for kind, value in conn.execute(query):
            if value is not None:
                present.setdefault(kind, set()).add(value)
        names = {}
        for kind, table, label in (
            ("subaccount", subaccounts, subaccounts.c.name),
            ("user", users, users.c.username),
            ("campaign", campaigns, campaigns.c.name),
        ):
            ids = sorted(int(v) for v in present.get(kind, ()))
            names[kind] = (
                sorted(
                    (
                        (row.id, row.name)
                        for row in conn.execute(
                            select(table.c.id, label.label("name")).where(table.c.id.in_(ids))
                        )
                    ),
                    key=lambda pair: pair[1].lower(),
                )
                if ids
                else []
            )
    return {
        "subaccounts": names["subaccount"],
        "users": names["user"],
        "campaigns": names["campaign"],
        "content_types": sorted(present.get("content_type", ())),
        "statuses": [s for s in STATUSES if s in present.get("status", ())],
        # Codes; the screen names them in the viewer's language and sorts them by that name.
        "countries": sorted(present.get("country", ())),
    }
