"""What a store holds, counted: for tests that check a whole store after a load or a copy."""

from __future__ import annotations

from sqlalchemy import Connection, func, select, text

from data_access.tables import daily_rollup, messages


def message_counts(conn: Connection) -> tuple[int, int, int, int]:
    """Messages, distinct ids, delivered, and in error."""
    row = conn.execute(
        select(
            func.count(),
            func.count(func.distinct(messages.c.message_id)),
            func.count(messages.c.delivered_at),
            func.count().filter(messages.c.status == "error"),
        ).select_from(messages)
    ).one()
    return (row[0], row[1], row[2], row[3])


def rollup_counts(conn: Connection) -> tuple[int, int]:
    """The roll-up's messages and deliveries."""
    row = conn.execute(
        select(func.sum(daily_rollup.c.message_count), func.sum(daily_rollup.c.delivered_count))
    ).one()
    return (row[0], row[1])


def key_count(conn: Connection) -> int:
    """Rows of the embedded store's hash-to-day key table (data_access/message_keys.py)."""
    return conn.execute(text("SELECT count(*) FROM message_keys")).scalar_one()
