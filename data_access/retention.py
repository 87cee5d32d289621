"""Messages older than RETENTION_DAYS leave the store by whole days; the daily roll-up and the
delivery times' histogram keep their counts, so the consolidated figures of those days stay as
they were. On a ClickHouse store, data_access/clickhouse/retention.py does it."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, delete

from data_access import message_keys
from data_access.clickhouse.binding import messages_of
from data_access.tables import message_events, messages
from data_access.writes import Transaction, write

MINIMUM_DAYS = 90  # the reports reach 90 days back: retention never takes what they show


def cutoff(today: date, keep_days: int) -> date:
    """The first day kept."""
    return today - timedelta(days=keep_days)


def purge_messages(engine: Engine, keep_days: int, today: date) -> int:
    """Delete the messages (and their events) of the days before the cutoff; returns how many
    messages went. Deleting by day reads only those days' row groups."""
    first_kept = cutoff(today, max(keep_days, MINIMUM_DAYS))
    if (clickhouse := messages_of(engine)) is not None:
        return clickhouse.purge_days_before(first_kept)

    def work(tx: Transaction) -> int:
        tx.conn.execute(delete(message_events).where(message_events.c.created_day < first_kept))
        gone = tx.conn.execute(delete(messages).where(messages.c.created_day < first_kept))
        count = gone.rowcount or 0
        if message_keys.in_use(tx.conn):
            message_keys.forget_days_before(tx.conn, first_kept)
            # The recent index holds the last few days only (its memory follows the window).
            message_keys.forget_old(tx.conn, today)
        tx.mark_changed(count > 0)
        return count

    return write(engine, work)
