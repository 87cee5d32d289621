"""Report queries: daily series, totals, top errors, detailed pages and filter options.

Every function takes an AccessScope and a connection or engine; all counting happens in the
engine (GROUP BY), and pandas carries only the results.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, func, literal, select

from data_access.domain import STATUSES
from data_access.filters import MAX_DAYS_BACK, AccessScope, FilterError, ReportFilter, today_in
from data_access.tables import campaigns, contacts, messages, subaccounts, users

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


def _conditions(scope: AccessScope, flt: ReportFilter) -> list:
    conds = [
        m.subaccount_id.in_(sorted(scope.subaccount_ids)),
        m.channel == flt.channel,
        m.created_day.between(flt.start, flt.end),
    ]
    if flt.direction:
        conds.append(m.direction == flt.direction)
    if flt.subaccounts:
        conds.append(m.subaccount_id.in_(flt.subaccounts))
    if flt.users:
        conds.append(m.user_id.in_(flt.users))
    if flt.campaigns:
        conds.append(m.campaign_id.in_(flt.campaigns))
    if flt.content_types:
        conds.append(m.content_type.in_(flt.content_types))
    if flt.statuses:
        conds.append(m.status.in_(flt.statuses))
    if flt.phone:
        conds.append(m.contact_id.in_(matching_contacts(flt.phone)))
    return conds


def matching_contacts(digits: str):
    """Contacts whose stored number equals the digits or ends with them (local number)."""
    # Validated digits need no LIKE escaping, and DuckDB scans a LIKE with ESCAPE far slower.
    pattern = contacts.c.phone.endswith(digits, autoescape=not digits.isdigit())
    return select(contacts.c.id).where(pattern)


def _daily_select(scope: AccessScope, flt: ReportFilter):
    # One group per day and direction, counting the non-null times: DuckDB does this several
    # times faster than one FILTER clause per figure over a single group per day.
    return (
        select(
            m.created_day.label("date"),
            m.direction,
            func.count().label("messages"),
            func.count(m.sent_at).label("sent"),
            func.count(m.delivered_at).label("delivered"),
            func.count(m.read_at).label("read"),
            func.count().filter(m.status == "error").label("errors"),
        )
        .where(*_conditions(scope, flt))
        .group_by(m.created_day, m.direction)
    )


def _with_percentages(frame: pd.DataFrame, channel: str) -> pd.DataFrame:
    total = frame["total"].where(frame["total"] > 0)
    frame["delivered_pct"] = (frame["delivered"] * 100.0 / total).fillna(0.0)
    frame["error_pct"] = (frame["errors"] * 100.0 / total).fillna(0.0)
    if channel == "sms":
        # SMS has no read receipts: "not available", never 0 %.
        frame["read"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        frame["read_pct"] = pd.array([pd.NA] * len(frame), dtype="Float64")
    else:
        frame["read_pct"] = (frame["read"] * 100.0 / total).fillna(0.0)
    return frame


def daily_series(bind: Engine | Connection, scope: AccessScope, flt: ReportFilter) -> pd.DataFrame:
    """One row per day of the range, zero-filled, with counts and percentages."""
    rows = []
    if scope.subaccount_ids:
        with _connection(bind) as conn:
            rows = conn.execute(_daily_select(scope, flt)).all()
    counts: dict = {}
    for row in rows:
        day = counts.setdefault(row.date, dict.fromkeys(COUNT_COLUMNS, 0))
        if row.direction == "MT":
            day["total"] = int(row.messages)
            for name in ("sent", "delivered", "read", "errors"):
                day[name] = int(getattr(row, name))
        elif row.direction == "MO":
            day["received"] = int(row.messages)
    data = {name: [] for name in ("date",) + COUNT_COLUMNS}
    for day in flt.days:
        day_counts = counts.get(day)
        data["date"].append(day)
        for name in COUNT_COLUMNS:
            data[name].append(day_counts[name] if day_counts is not None else 0)
    frame = pd.DataFrame(data)
    for name in COUNT_COLUMNS:
        frame[name] = frame[name].astype("int64")
    return _with_percentages(frame, flt.channel)[list(DAILY_COLUMNS)]


def range_totals(daily: pd.DataFrame, channel: str) -> dict:
    """Totals over the range of a daily series: the same fields, summed, then percentages."""
    totals: dict = {name: int(daily[name].fillna(0).sum()) for name in COUNT_COLUMNS}
    frame = _with_percentages(pd.DataFrame([totals]), channel)
    for name in PCT_COLUMNS:
        value = frame.at[0, name]
        totals[name] = None if pd.isna(value) else float(value)
    if channel == "sms":
        totals["read"] = None
    return totals


def top_errors(
    bind: Engine | Connection, scope: AccessScope, flt: ReportFilter, limit: int = 10
) -> pd.DataFrame:
    """The most frequent error reasons over the range, with their share of all errors."""
    columns = ["error_code", "error_description", "count", "share"]
    if not scope.subaccount_ids:
        return pd.DataFrame(columns=columns)
    count = func.count().label("count")
    query = (
        select(m.error_code, func.min(m.error_description).label("error_description"), count)
        .where(*_conditions(scope, flt), m.direction == "MT", m.status == "error")
        .group_by(m.error_code)
        .order_by(count.desc(), m.error_code)
    )
    with _connection(bind) as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=columns[:3])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["count"] = frame["count"].astype("int64")
    frame["share"] = frame["count"] * 100.0 / frame["count"].sum()
    return frame.head(limit).reset_index(drop=True)


@dataclass(frozen=True)
class DetailedPage:
    rows: pd.DataFrame
    total: int
    offset: int
    limit: int


def _with_names(rows):
    """The detailed columns of message rows (messages itself or a subquery of it), with the
    names of their subaccount, contact, user and campaign joined in."""
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
        contacts.c.phone,
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
        .join(contacts, contacts.c.id == r.contact_id)
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


def _ordered(column, sort: str, descending: bool):
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


def _page_select(
    scope: AccessScope, flt: ReportFilter, sort: str, descending: bool, offset: int, limit: int
):
    """The rows of detailed_select from offset to offset + limit, cut before the joins.

    Joined first, the engine joins every matching message before it can sort; cut first on
    the messages alone, it joins only the page (and DuckDB reads the wide columns only for the
    rows kept). Same rows and order as detailed_select(...).offset(offset).limit(limit).
    """
    key = SORT_COLUMNS.get(sort)
    _order_by(sort, descending)  # rejects an unknown sort key
    source = messages
    extra = []
    if key.table is not messages:
        foreign_key, outer = _SORT_JOINS[key.table]
        on = key.table.c.id == foreign_key
        source = messages.outerjoin(key.table, on) if outer else messages.join(key.table, on)
        extra = [key.label("sort_key")]
    cut = (
        select(messages, *extra)
        .select_from(source)
        .where(*_conditions(scope, flt))
        .order_by(*_order_by(sort, descending))
        .offset(offset)
        .limit(limit)
        .subquery("page")
    )
    p = cut.c
    sort_key = p.sort_key if extra else p[key.name]
    identity = p.message_id.desc() if descending else p.message_id.asc()
    order = (_ordered(sort_key, sort, descending), identity)
    return _with_names(cut).order_by(*order)


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
    _check_page(offset, limit)
    query = _page_select(scope, flt, sort, descending, offset, limit)
    if not scope.subaccount_ids:
        return pd.DataFrame(columns=list(DETAIL_COLUMNS))
    with _connection(bind) as conn:
        rows = conn.execute(query).all()
    return localise(pd.DataFrame(rows, columns=list(DETAIL_COLUMNS)), flt.timezone)


def detailed_count(bind: Engine | Connection, scope: AccessScope, flt: ReportFilter) -> int:
    """How many messages match: the same for every page and order of a filter."""
    if not scope.subaccount_ids:
        return 0
    with _connection(bind) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(messages).where(*_conditions(scope, flt))
            ).scalar_one()
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
    with _connection(bind) as conn:
        rows = detailed_rows(
            conn, scope, flt, sort=sort, descending=descending, offset=offset, limit=limit
        )
        total = detailed_count(conn, scope, flt)
    return DetailedPage(rows, total, offset, limit)


def filter_options(
    bind: Engine | Connection, scope: AccessScope, channel: str, timezone: str
) -> dict[str, list]:
    """The choices present in scope for the channel over the reachable window.

    Returns lists of (id, name) for subaccounts, users and campaigns and plain values for
    content types and statuses, each sorted by name.
    """
    empty = {"subaccounts": [], "users": [], "campaigns": [], "content_types": [], "statuses": []}
    if not scope.subaccount_ids:
        return empty
    since = today_in(timezone) - timedelta(days=MAX_DAYS_BACK)
    where = (
        m.subaccount_id.in_(sorted(scope.subaccount_ids)),
        m.channel == channel,
        m.created_day >= since,
    )

    def distinct(column, kind: str):
        return (
            select(literal(kind).label("kind"), column.cast(messages.c.content.type).label("value"))
            .where(*where)
            .group_by(column)
        )

    query = distinct(m.subaccount_id, "subaccount").union_all(
        distinct(m.user_id, "user"),
        distinct(m.campaign_id, "campaign"),
        distinct(m.content_type, "content_type"),
        distinct(m.status, "status"),
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
    }
