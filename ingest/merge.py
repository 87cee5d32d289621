"""Write mapped events into the store through the loader's merge rules.

A status for a stored message becomes a loader row with the message's own fields and the new
status, so merging it can only move the message forward. A status for a message whose send
record has not arrived is kept in pending_statuses and merged when the record arrives.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Connection, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from data_access.loader import LOADER_COLUMNS, merge_frame, validate_chunk
from data_access.reports import rows_by_key
from data_access.tables import (
    channel_numbers,
    contacts,
    messages,
    pending_statuses,
    sms_batch_reports,
    subaccounts,
)
from ingest.events import BatchSummary, InboundMessage, Mapped, StatusEvent

# One writer at a time in this process: every merge bumps the same data_version row, and
# DuckDB aborts one of two transactions that update a row concurrently.
write_lock = threading.RLock()

TIME_COLUMN = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}
ID_CHUNK = 1_000


@dataclass(frozen=True)
class Stored:
    """The fields of a stored message a status row repeats."""

    channel: str
    direction: str
    subaccount: str
    content_type: str
    phone: str
    created_at: datetime


def iso(value: datetime) -> str:
    """ISO 8601 with offset; naive values are the store's UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def utc_naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _chunks(values: list, size: int = ID_CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def stored_messages(conn: Connection, ids: Iterable[str]) -> dict[str, Stored]:
    """The stored messages among the ids."""
    found: dict[str, Stored] = {}
    m = messages.c
    for chunk in _chunks(sorted(set(ids))):
        rows = rows_by_key([messages], m.message_id, chunk, "stored")
        r = rows.c
        query = select(
            r.message_id,
            r.channel,
            r.direction,
            subaccounts.c.name,
            r.content_type,
            contacts.c.phone,
            r.created_at,
        ).select_from(
            rows.join(subaccounts, subaccounts.c.id == r.subaccount_id).join(
                contacts, contacts.c.id == r.contact_id
            )
        )
        for row in conn.execute(query):
            found[row[0]] = Stored(*row[1:])
    return found


def status_row(message_id: str, stored: Stored, event: StatusEvent) -> dict:
    row = {
        "message_id": message_id,
        "channel": stored.channel,
        "direction": stored.direction,
        "subaccount": stored.subaccount,
        "content_type": stored.content_type,
        "phone": stored.phone,
        "status": event.status,
        "created_at": iso(stored.created_at),
        "error_code": event.error_code or "",
        "error_description": event.error_description or "",
    }
    column = TIME_COLUMN.get(event.status)
    if column and event.event_at is not None:
        row[column] = iso(event.event_at)
    return row


def inbound_row(message: InboundMessage, subaccount: str) -> dict:
    return {
        "message_id": message.message_id,
        "channel": message.channel,
        "direction": "MO",
        "subaccount": subaccount,
        "content_type": message.content_type,
        "phone": message.phone,
        "contact_name": message.contact_name or "",
        "content": message.content or "",
        "status": "received",
        "created_at": iso(message.created_at),
    }


def merge_rows(
    conn: Connection, rows: list[dict], timezone: str
) -> tuple[int, dict[int, list[str]]]:
    """Validate loader rows and merge the good ones; returns (merged, problems by row index)."""
    if not rows:
        return 0, {}
    frame = pd.DataFrame(
        [[str(row.get(name) or "") for name in LOADER_COLUMNS] for row in rows],
        columns=list(LOADER_COLUMNS),
    )
    staged, found = validate_chunk(frame, 0, "event", timezone)
    problems: dict[int, list[str]] = defaultdict(list)
    for problem in found:
        problems[problem.line].append(f"{problem.column}: {problem.reason}")
    merge_frame(conn, staged)
    return len(staged), dict(problems)


def business_numbers(conn: Connection) -> dict[tuple[str, str], str]:
    """(channel, number id) -> subaccount name, for every assigned business number."""
    query = select(channel_numbers.c.channel, channel_numbers.c.number_id, subaccounts.c.name).join(
        subaccounts, subaccounts.c.id == channel_numbers.c.subaccount_id
    )
    return {(row[0], row[1]): row[2] for row in conn.execute(query)}


def keep_pending(conn: Connection, events: list[StatusEvent], now: datetime) -> int:
    """Keep statuses of unknown messages; a repeat keeps the earliest time."""
    earliest: dict[tuple[str, str], StatusEvent] = {}
    for event in events:
        key = (event.message_id, event.status)
        seen = earliest.get(key)
        if seen is None or (
            event.event_at is not None and (seen.event_at is None or event.event_at < seen.event_at)
        ):
            earliest[key] = event
    if not earliest:
        return 0
    values = [
        {
            "message_id": e.message_id,
            "status": e.status,
            "channel": e.channel,
            "event_at": utc_naive(e.event_at),
            "error_code": e.error_code,
            "error_description": e.error_description,
            "received_at": now,
        }
        for e in earliest.values()
    ]
    statement = pg_insert(pending_statuses).values(values)
    old, new = pending_statuses.c, statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[old.message_id, old.status],
        set_={
            "event_at": func.least(old.event_at, new.event_at),
            "error_code": func.coalesce(old.error_code, new.error_code),
            "error_description": func.coalesce(old.error_description, new.error_description),
        },
    )
    conn.execute(statement)
    return len(values)


def apply_pending(conn: Connection, timezone: str, ids: Iterable[str] | None = None) -> int:
    """Merge kept statuses whose message is now stored (only those of `ids` when given).

    A kept status that does not fit its message (say, a read receipt for an SMS) keeps its
    reason in `problem` and is not tried again.
    """
    p = pending_statuses.c
    base = select(p.message_id, p.status, p.event_at, p.error_code, p.error_description).where(
        p.problem.is_(None)
    )
    if ids is None:
        queries = [base.where(exists().where(messages.c.message_id == p.message_id))]
    else:
        queries = [base.where(p.message_id.in_(chunk)) for chunk in _chunks(sorted(set(ids)))]
    kept = [row for query in queries for row in conn.execute(query)]
    if not kept:
        return 0
    stored = stored_messages(conn, (row.message_id for row in kept))
    rows, keys = [], []
    for row in kept:
        message = stored.get(row.message_id)
        if message is None:
            continue
        event = StatusEvent(
            row.message_id,
            message.channel,
            row.status,
            row.event_at,
            row.error_code,
            row.error_description,
        )
        rows.append(status_row(row.message_id, message, event))
        keys.append((row.message_id, row.status))
    merged, problems = merge_rows(conn, rows, timezone)
    for index, reasons in problems.items():
        message_id, status = keys[index]
        conn.execute(
            update(pending_statuses)
            .where(p.message_id == message_id, p.status == status)
            .values(problem="; ".join(reasons))
        )
    applied = sorted({keys[i][0] for i in range(len(keys)) if i not in problems})
    for chunk in _chunks(applied):
        conn.execute(delete(pending_statuses).where(p.message_id.in_(chunk), p.problem.is_(None)))
    return len(rows) - len(problems)


def record_summaries(conn: Connection, summaries: list[BatchSummary], now: datetime) -> None:
    """Keep the latest count per batch, status and code (a later summary replaces it)."""
    latest = {(s.batch_id, s.status, s.code): s for s in summaries}
    if not latest:
        return
    statement = pg_insert(sms_batch_reports).values(
        [
            {
                "batch_id": s.batch_id,
                "status": s.status,
                "code": s.code,
                "count": s.count,
                "client_reference": s.client_reference,
                "reported_at": now,
            }
            for s in latest.values()
        ]
    )
    statement = statement.on_conflict_do_update(
        index_elements=[
            sms_batch_reports.c.batch_id,
            sms_batch_reports.c.status,
            sms_batch_reports.c.code,
        ],
        set_={"count": statement.excluded.count, "reported_at": statement.excluded.reported_at},
    )
    conn.execute(statement)


@dataclass
class Applied:
    merged: int = 0
    pending: int = 0


def apply_mapped(
    conn: Connection, items: list[tuple[int, Mapped]], timezone: str, now: datetime
) -> tuple[Applied, dict[int, list[str]]]:
    """Write the events of several bodies in the caller's transaction.

    `items` are (owner, mapped) pairs; problems found while writing come back by owner.
    """
    problems: dict[int, list[str]] = defaultdict(list)
    numbers = business_numbers(conn) if any(m.inbound for _, m in items) else {}
    rows: list[dict] = []
    owners: list[int] = []
    for owner, mapped in items:
        for message in mapped.inbound:
            subaccount = numbers.get((message.channel, message.number_id))
            if subaccount is None:
                problems[owner].append(
                    f"{message.where}: the {message.channel} business number "
                    f"{message.number_id} is not assigned to a subaccount; assign it with "
                    f"`python app.py channels add --channel {message.channel} "
                    f"--number-id {message.number_id} --subaccount NAME`, then replay"
                )
                continue
            rows.append(inbound_row(message, subaccount))
            owners.append(owner)
    events = [(owner, e) for owner, mapped in items for e in mapped.statuses]
    stored = stored_messages(conn, (e.message_id for _, e in events))
    waiting = []
    for owner, event in events:
        message = stored.get(event.message_id)
        if message is None:
            waiting.append(event)
            continue
        rows.append(status_row(event.message_id, message, event))
        owners.append(owner)
    merged, row_problems = merge_rows(conn, rows, timezone)
    for index, reasons in row_problems.items():
        problems[owners[index]].append(f"message {rows[index]['message_id']}: {'; '.join(reasons)}")
    result = Applied(merged=merged, pending=keep_pending(conn, waiting, now))
    record_summaries(conn, [s for _, mapped in items for s in mapped.summaries], now)
    return result, dict(problems)
