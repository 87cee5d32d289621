"""A message's events, in the order they happened: the detail view's timeline."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, Engine, select

from data_access import message_keys
from data_access.filters import AccessScope
from data_access.reports import _connection
from data_access.tables import message_events, messages

EVENT_COLUMNS = (
    "status",
    "event_at",
    "source",
    "error_code",
    "error_description",
    "raw_status",
    "recorded_at",
)


def events_of(
    bind: Engine | Connection, scope: AccessScope, message_id: str, timezone: str
) -> pd.DataFrame:
    """The kept events of one message within the scope, oldest first (events without a time
    last, in the order they were recorded), with times in the given zone."""
    m, e = messages.c, message_events.c
    with _connection(bind) as conn:
        # The message by its key first: its day lets the events' read skip other days.
        if message_keys.in_use(conn):
            located = message_keys.locate(conn, [message_id]).get(message_id)
            found = located and (located[0], located[1])
        else:
            found = conn.execute(
                select(m.created_day, m.subaccount_id).where(m.message_id == message_id).limit(1)
            ).first()
        if not found or found[1] not in scope.subaccount_ids:
            return pd.DataFrame(columns=list(EVENT_COLUMNS))
        query = (
            select(*(e[c] for c in EVENT_COLUMNS))
            .where(e.created_day == found[0], e.message_id == message_id)
            .order_by(e.event_at.is_(None), e.event_at, e.recorded_at)
        )
        rows = conn.execute(query).all()
    frame = pd.DataFrame(
        {c: pd.Series([r[i] for r in rows], dtype=object) for i, c in enumerate(EVENT_COLUMNS)}
    )
    # recorded_at: when the platform learned of the status, for a status that came without
    # its own time (a failure in a file).
    for column in ("event_at", "recorded_at"):
        times = pd.to_datetime(frame[column])
        frame[column] = times.dt.tz_localize("UTC").dt.tz_convert(timezone)
    return frame
