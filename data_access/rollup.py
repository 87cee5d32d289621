"""The daily roll-up: messages counted per day and filterable field, kept equal to the messages.

Whoever changes messages calls `refresh` with the (day, channel, subaccount) regions it touched,
in the same transaction, and the roll-up rows of those regions are counted again from the
messages. Recounting a region is idempotent, so a region counted twice or a larger region than
needed is still exact; only a region left out would be wrong, which the loader's merge rules
rule out (they never move a stored message to another day, channel or subaccount).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, and_, delete, func, insert, or_, select

from data_access.tables import daily_rollup, messages

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
)


def _counted(where=None):
    query = select(
        *(m[name] for name in KEY_COLUMNS),
        func.min(m.error_description),
        func.count(),
        func.count(m.sent_at),
        func.count(m.delivered_at),
        func.count(m.read_at),
    ).group_by(*(m[name] for name in KEY_COLUMNS))
    return query if where is None else query.where(where)


def _insert_counted(conn: Connection, where=None) -> None:
    target = [
        *KEY_COLUMNS,
        "error_description",
        "message_count",
        "sent_count",
        "delivered_count",
        "read_count",
    ]
    conn.execute(insert(daily_rollup).from_select(target, _counted(where)))


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


def refresh(conn: Connection, regions: Iterable[Region]) -> None:
    """Count the messages of the regions again, replacing their roll-up rows."""
    regions = set(regions)
    if not regions:
        return
    conn.execute(delete(daily_rollup).where(_covering(daily_rollup, regions)))
    _insert_counted(conn, _covering(messages, regions))


def rebuild(conn: Connection) -> None:
    """Count every message again (after a time zone change, or to build the roll-up)."""
    conn.execute(delete(daily_rollup))
    _insert_counted(conn)
