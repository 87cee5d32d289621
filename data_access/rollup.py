"""The daily roll-up: messages counted per day and filterable field, kept equal to the messages.

Whoever inserts messages calls `add` with them, in the same transaction: a new message only
adds to its row's counts, so the roll-up takes the batch's counts (a cost that follows the
batch, not the store). Whoever changes stored messages calls `shift` with each changed
message's columns before and after: the old values' counts are taken away and the new ones'
added, again a cost that follows the batch. The error description is one of the keys (a code
has one description nearly always, so it adds few rows): a message that leaves a row, an error
later delivered, takes its description's count with it, and the smallest description of a code
is read as the smallest of its rows', never worked out again from the messages.

The delivery times' histogram (delivery_time_rollup: messages per bucket of seconds to
delivered and to read) is kept by the same three calls, so it moves with the counts.

Both tables are kept by differences: a write appends its counts (negative where messages
left a key) as new rows, and a key's counts are the sums of its rows. Finding each key's row
to add to it cost a write two statements that read the days' rows (a MERGE took 5-6 ms where
appending the same rows took 2 at 10M messages, with ten statuses). Every FOLD_AFTER_ROWS
appended rows, the days they went to are folded: their rows summed to one a key, and the keys
whose counts sum to zero left out. On DuckDB a big delta (a load's part) is not appended: its
keys' rows are replaced by their sums with it, which reads and writes only those keys' rows,
where a fold of its days would rewrite every row of them. So readers sum a key's rows and
leave out groups whose counts sum to zero (a status, an error code or description no message
has any more).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)

from data_access.delivery_times import bucket_of, delay_seconds
from data_access.tables import daily_rollup, delivery_time_rollup, messages

Region = tuple[date, str, int]

m = messages.c

# The roll-up's key columns, in the messages' names.
KEY_COLUMNS = (
    "created_day",
    "channel",
    "direction",
    "subaccount_id",
    "user_id",
    "campaign_id",
    "content_type",
    "status",
    "error_code",
    "error_description",
    "country",
    "operator",
    "template",
)


COUNT_COLUMNS = ("message_count", "sent_count", "delivered_count", "read_count")
TARGET = [*KEY_COLUMNS, *COUNT_COLUMNS]


def _counted(where=None, rows=messages):
    c = rows.c
    query = select(
        *(c[name] for name in KEY_COLUMNS),
        func.count().label("message_count"),
        func.count(c.sent_at).label("sent_count"),
        func.count(c.delivered_at).label("delivered_count"),
        func.count(c.read_at).label("read_count"),
    ).group_by(*(c[name] for name in KEY_COLUMNS))
    return query if where is None else query.where(where)


def _insert_counted(conn: Connection, where=None) -> None:
    conn.execute(insert(daily_rollup).from_select(TARGET, _counted(where)))
    conn.execute(
        insert(delivery_time_rollup).from_select(TIME_TARGET, _times_counted(where, messages))
    )


# The histogram's keys: the roll-up's but the error (no filter names it, and leaving it out
# keeps one row per bucket where a day's deliveries had several codes).
TIME_KEY_COLUMNS = tuple(
    name for name in KEY_COLUMNS if name not in ("error_code", "error_description")
)
TIME_COUNT_COLUMNS = ("delivered_count", "read_count")
TIME_TARGET = [*TIME_KEY_COLUMNS, "bucket", *TIME_COUNT_COLUMNS]


def _times_counted(where, rows):
    """Messages per histogram key and bucket: one branch takes the delays to delivered, the
    other the delays to read, and the sum puts both in one row per bucket."""
    c = rows.c
    keys = [c[name] for name in TIME_KEY_COLUMNS]

    def branch(at, delivered: int, read: int):
        query = select(
            *keys,
            delay_seconds(at, c.created_at).label("seconds"),
            literal(delivered).label("delivered"),
            literal(read).label("read"),
        ).where(at.is_not(None))
        return query if where is None else query.where(where)

    # The delay is a column of the subquery, so the engine works it out once per message, not
    # once per bucket bound the CASE compares it with (DuckDB at 10M: 383 ms to 138 ms for the
    # count of a day's regions).
    both = union_all(branch(c.delivered_at, 1, 0), branch(c.read_at, 0, 1)).subquery("timed")
    b = both.c
    bucketed = select(
        *(b[name] for name in TIME_KEY_COLUMNS),
        bucket_of(b.seconds).label("bucket"),
        b.delivered,
        b.read,
    ).subquery("bucketed")
    t = bucketed.c
    return select(
        *(t[name] for name in TIME_KEY_COLUMNS),
        t.bucket,
        func.sum(t.delivered).label("delivered_count"),
        func.sum(t.read).label("read_count"),
    ).group_by(*(t[name] for name in TIME_KEY_COLUMNS), t.bucket)


_delta_metadata = MetaData()


def _temporary(name: str, table: Table, columns: list[str]) -> Table:
    """A temporary table in `table`'s `columns`: where a write stages counts."""
    return Table(
        name,
        _delta_metadata,
        *(Column(c.name, c.type) for c in table.columns if c.name in columns),
        prefixes=["TEMPORARY"],
    )


rollup_delta = _temporary("rollup_delta", daily_rollup, TARGET)
rollup_merged = _temporary("rollup_merged", daily_rollup, TARGET)
time_delta = _temporary("delivery_time_delta", delivery_time_rollup, TIME_TARGET)
time_merged = _temporary("delivery_time_merged", delivery_time_rollup, TIME_TARGET)


def add(conn: Connection, rows, where=None) -> None:
    """Count messages just inserted (`rows`: a table in the messages' columns, those where
    `where` holds) into the roll-up and the delivery times: their counts by key, appended."""
    _apply_counts(conn, [(rows, where, 1)])
    _apply_times(conn, [(rows, where, 1)])


def shift(conn: Connection, before, after, where_before=None) -> None:
    """Move changed messages in the roll-up and the delivery times: `before` holds their
    columns as they were (those where `where_before` holds), `after` as they are now, one row
    a message in each (tables in the messages' columns)."""
    parts = [(before, where_before, -1), (after, None, 1)]
    _apply_counts(conn, parts)
    _apply_times(conn, parts)


def _signed(query, sign: int, counts: tuple[str, ...]):
    """A counted query's counts times `sign` (-1 takes a batch's counts away)."""
    if sign == 1:
        return query
    counted = query.subquery("counted")
    c = counted.c
    return select(*(c[name] if name not in counts else (-c[name]).label(name) for name in c.keys()))


def _on_days(column, days: list[date]):
    """The delta's days, a range first: DuckDB skips the other days' row groups by min/max."""
    return and_(column.between(days[0], days[-1]), column.in_(days))


@dataclass(frozen=True)
class _Kept:
    """A table of counts kept by differences: its key, its counts, and its delta table."""

    table: Table
    delta: Table
    # Where a big delta's keys are summed with their rows (`_merge_staged`).
    merged: Table
    keys: tuple[str, ...]
    counts: tuple[str, ...]
    # The columns in the order the counting queries give them.
    target: tuple[str, ...]


_ROLLUP = _Kept(
    daily_rollup, rollup_delta, rollup_merged, KEY_COLUMNS, COUNT_COLUMNS, target=tuple(TARGET)
)
_TIMES = _Kept(
    delivery_time_rollup,
    time_delta,
    time_merged,
    (*TIME_KEY_COLUMNS, "bucket"),
    TIME_COUNT_COLUMNS,
    target=tuple(TIME_TARGET),
)


def _apply_times(conn: Connection, parts) -> None:
    signed = [
        _signed(_times_counted(where, rows), sign, TIME_COUNT_COLUMNS)
        for rows, where, sign in parts
    ]
    _apply(conn, _TIMES, signed)


def _apply_counts(conn: Connection, parts) -> None:
    signed = [_signed(_counted(where, rows), sign, COUNT_COLUMNS) for rows, where, sign in parts]
    _apply(conn, _ROLLUP, signed)


def _summed(rows, kept: _Kept, where=None):
    """`rows` (in the kept table's columns) summed by key, keys whose counts sum to zero left
    out."""
    c = rows.c
    keys = [c[name] for name in kept.keys]
    sums = [func.sum(c[name]).label(name) for name in kept.counts]
    query = select(*keys, *sums).group_by(*keys).having(or_(*(sum_ != 0 for sum_ in sums)))
    return query if where is None else query.where(where)


def counts_by_key(table: str):
    """What a kept table says: its rows summed by key, keys whose counts sum to zero left out
    (the keys' columns, then the counts')."""
    kept = _KEPT[table]
    return _summed(kept.table, kept)


# A delta of more rows than this is summed with its keys' rows (`_merge_staged`) rather than
# appended: a load's part of 100,000 new messages at 10M gives about 19,000 roll-up rows and
# 58,000 histogram rows over ten days, and appending them left a fold of those days to do, which
# rewrites every row of them (0.13 and 0.28 s a part, 4.2 s a 1M-row load). On DuckDB only:
# PostgreSQL joins on NULL-safe equality (IS NOT DISTINCT FROM) row by row, never by hash, so
# there the fold's grouping stays the cheaper way.
APPEND_ROWS_MAX = 1_000


def _apply(conn: Connection, kept: _Kept, signed: list) -> None:
    """Add the signed counts (queries in the kept table's columns) summed by key, leaving
    out keys whose counts sum to zero: appended, in day order (see `cluster`), or for a big
    delta on DuckDB summed with its keys' rows."""
    both = union_all(*signed).subquery("signed") if len(signed) > 1 else signed[0].subquery()
    _stage(conn, kept, _summed(both, kept))
    d = kept.delta.c
    rows_by_day = {
        day: count
        for day, count in conn.execute(select(d.created_day, func.count()).group_by(d.created_day))
    }
    if conn.dialect.name == "duckdb" and sum(rows_by_day.values()) > APPEND_ROWS_MAX:
        _merge_staged(conn, kept, sorted(rows_by_day))
        return
    _append_staged(conn, kept)
    appended(conn, kept.table.name, rows_by_day)


def _merge_staged(conn: Connection, kept: _Kept, days: list[date]) -> None:
    """The delta table's keys' rows (on `days`, its days) replaced by one row a key: their
    counts summed with the delta's, keys summing to zero left out, written in day order; the
    delta table dropped. Only those keys' rows are read and written, so what other writes
    appended to the days stays for their fold."""
    t, d, merged = kept.table.c, kept.delta.c, kept.merged
    target = list(kept.target)
    ours = and_(
        _on_days(t.created_day, days),
        exists().where(*(t[name].is_not_distinct_from(d[name]) for name in kept.keys)),
    )
    rows = union_all(
        select(*(t[name] for name in target)).where(ours),
        select(*(d[name] for name in target)),
    ).subquery("rows")
    _stage(conn, kept, _summed(rows, kept), merged)
    conn.execute(delete(kept.table).where(ours))
    _append_staged(conn, kept, merged)
    conn.execute(text(f"DROP TABLE {kept.delta.name}"))


def _stage(conn: Connection, kept: _Kept, rows, staged: Table | None = None) -> None:
    """`staged` (by default the kept table's delta table), made afresh with `rows` (a query in
    the kept table's columns)."""
    staged = kept.delta if staged is None else staged
    conn.execute(text(f"DROP TABLE IF EXISTS {staged.name}"))
    staged.create(conn)
    conn.execute(insert(staged).from_select(list(kept.target), rows))


def _append_staged(conn: Connection, kept: _Kept, staged: Table | None = None) -> None:
    """`staged`'s rows (by default the delta table's) appended to the kept table in day order
    (see `cluster`), and `staged` dropped."""
    staged = kept.delta if staged is None else staged
    s = staged.c
    target = list(kept.target)
    conn.execute(
        insert(kept.table).from_select(
            target, select(*(s[name] for name in target)).order_by(s.created_day)
        )
    )
    conn.execute(text(f"DROP TABLE {staged.name}"))


# --------------------------------------------------------------------------- folding

# Rows appended to a table (since its last fold) past which the days they went to are folded.
# At 10M messages a batch of ten statuses appends 2.5 rows to the roll-up and 1.2 to the
# histogram, and a fold of the newest day takes about 16 and 22 ms: a fold every 2,000 batches
# or more, about 0.02 ms a batch. Rows not folded yet are read by every report over their days: at
# most a sixth more than the 31,385 roll-up rows of a 7-day WhatsApp view.
FOLD_AFTER_ROWS = 5_000

_KEPT = {kept.table.name: kept for kept in (_ROLLUP, _TIMES)}


class _Appended:
    """Per store and table, the rows this process appended since the table's last fold and the
    days they went to. A fold rolled back with its transaction leaves those days unfolded until
    a later write appends to them again: their counts stay right, only summed from more rows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], int] = defaultdict(int)
        self._days: dict[tuple[str, str], set[date]] = defaultdict(set)

    def add(self, store: str, table: str, rows_by_day: dict[date, int]) -> list[date]:
        """Count the rows in; the days to fold now (none until FOLD_AFTER_ROWS)."""
        key = (store, table)
        with self._lock:
            self._rows[key] += sum(rows_by_day.values())
            self._days[key].update(rows_by_day)
            if self._rows[key] < FOLD_AFTER_ROWS:
                return []
            days = sorted(self._days.pop(key))
            del self._rows[key]
            return days

    def take(self, store: str, table: str) -> list[date]:
        """The days appended to since the last fold, forgotten here (they are about to be)."""
        key = (store, table)
        with self._lock:
            self._rows.pop(key, None)
            return sorted(self._days.pop(key, ()))


_appended = _Appended()


def _store_of(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=True)


def appended(conn: Connection, table: str, rows_by_day: dict[date, int]) -> None:
    """Note rows appended to a kept table (`daily_rollup` or `delivery_time_rollup`) in this
    transaction, by day, and fold that table's appended days once they hold FOLD_AFTER_ROWS."""
    days = _appended.add(_store_of(conn), table, rows_by_day)
    if days:
        fold(conn, table, days)


def fold_appended(conn: Connection) -> None:
    """Fold every day this process appended to since the last folds (at the end of a load)."""
    for table in _KEPT:
        days = _appended.take(_store_of(conn), table)
        if days:
            fold(conn, table, days)


def fold(conn: Connection, table: str, days: list[date]) -> None:
    """The kept table's rows of `days` summed to one row a key, keys whose counts sum to zero
    left out: the same counts in fewest rows, written back in day order."""
    kept = _KEPT[table]
    for chunk in _chunks(sorted(days), FOLD_DAYS_MAX):
        on_days = _on_days(kept.table.c.created_day, chunk)
        _stage(conn, kept, _summed(kept.table, kept, on_days))
        conn.execute(delete(kept.table).where(on_days))
        _append_staged(conn, kept)


# Days folded in one statement at most (a fold after a load of many days goes a few at a time,
# so its temporary table stays small).
FOLD_DAYS_MAX = 7


def _chunks(days: list[date], size: int) -> Iterator[list[date]]:
    for start in range(0, len(days), size):
        yield days[start : start + size]


def _covering(table, regions: Iterable[Region]):
    """A condition on `table` that holds for every row of the regions (and perhaps a few more:
    per channel, every touched day times every touched subaccount, which keeps it short)."""
    days: dict[str, set[date]] = defaultdict(set)
    subaccount_ids: dict[str, set[int]] = defaultdict(set)
    for day, channel, subaccount_id in regions:
        days[channel].add(day)
        subaccount_ids[channel].add(int(subaccount_id))
    c = table.c
    return or_(
        *(
            and_(
                c.channel == channel,
                # The range lets DuckDB skip row groups by their min/max before the list test.
                c.created_day.between(min(days[channel]), max(days[channel])),
                c.created_day.in_(sorted(days[channel])),
                c.subaccount_id.in_(sorted(subaccount_ids[channel])),
            )
            for channel in sorted(days)
        )
    )


def rebuild(conn: Connection) -> None:
    """Count every message again (after a time zone change, or to build the roll-up)."""
    conn.execute(delete(daily_rollup))
    conn.execute(delete(delivery_time_rollup))
    _insert_counted(conn)
    cluster(conn)


def cluster(conn: Connection) -> None:
    """DuckDB: the roll-up and the histogram written again in day order (after a count of
    every message). A fold reads the rows of a few days, and DuckDB skips a row group whose
    days are all others by its min/max, so rows in day order are read a few row groups at a
    time instead of all of them (at 100M messages a batch of 1,000 statuses took 211 ms
    instead of 231 when it read its days' rows). Writes keep about that order: rows go in by
    day, the newest days' last, a fold writes its days back in order, and a load merges a file
    of many days a few days at a time, in day order (loader._cut_in_parts). The same rows, so
    no figure moves."""
    if conn.dialect.name != "duckdb":
        return
    for table in (daily_rollup.name, delivery_time_rollup.name):
        conn.execute(text(f"DROP TABLE IF EXISTS {table}_in_order"))
        conn.execute(
            text(
                f"CREATE TEMPORARY TABLE {table}_in_order AS "
                f"SELECT * FROM {table} ORDER BY created_day"
            )
        )
        conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text(f"INSERT INTO {table} SELECT * FROM {table}_in_order"))
        conn.execute(text(f"DROP TABLE {table}_in_order"))
