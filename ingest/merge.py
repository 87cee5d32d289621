"""Write mapped webhook events into the store through the write path's merge.

An inbound message becomes a loader row and is validated as a file's would be. A status for a
stored message is checked against the message's channel and direction and merged with only the
message's identity beside it (its subaccount, channel, direction and day), so it can only move
the message forward. A status for a message whose send record has not arrived is kept in
pending_statuses and merged when the record arrives.

Each event is written in its writer's scope: a WhatsApp event in the subaccount its business
number is assigned to, a Sinch event in its callback's (see ingest/webhooks.py). Events outside
it are refused and reported back to the inbox, which holds their body as failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from data_access import audit, recent_statuses
from data_access.clickhouse.binding import messages_of
from data_access.domain import MT_STATUSES, STATUS_RANK
from data_access.loader import LOADER_COLUMNS, validate_chunk
from data_access.merge import STAGE_COLUMNS, Identity, Refusal, merge_records, stored_identities
from data_access.tables import (
    channel_numbers,
    pending_statuses,
    sms_batch_reports,
    subaccounts,
)
from data_access.writes import Transaction, WriteScope
from ingest.events import BatchSummary, InboundMessage, Mapped, StatusEvent

# Kept statuses were checked against their writer's scope when they arrived: their message
# was not stored yet, so nothing of another subaccount could be named. They merge in the scope
# of the record that came for them, which is the message's own.
PENDING_SCOPE = WriteScope.account("kept status")
# Where a status row carries its event's own time and the channel's word for it.
EVENT_AT, RAW_STATUS = "event_at", "raw_status"
# The events' source by channel, for statuses.
CHANNEL_SOURCE = {"whatsapp": "whatsapp", "sms": "sinch"}

TIME_COLUMN = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}
ID_CHUNK = 1_000


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
    tx: Transaction, rows: list[dict], timezone: str, scope: WriteScope, source: str
) -> tuple[int, dict[int, list[str]]]:
    """Validate loader rows and merge the good ones within the scope; returns (merged, problems
    by row index). Rows outside the scope or against a stored message's identity are problems.
    """
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
    staged = staged.reset_index(drop=True)
    if staged.empty:
        return 0, dict(problems)
    if (clickhouse := messages_of(tx.conn)) is not None:
        # The records' own days: a message is kept under the day of its creation.
        days = (min(staged["created_day"]), max(staged["created_day"]))
        stored = clickhouse.identities(staged["message_id"], days=days)
        refused = clickhouse.ingest(
            staged, scope, all_or_nothing=False, stored=stored, tx=tx
        ).refused
    else:
        refused = merge_records(tx, staged, scope, source=source, all_or_nothing=False).refused
    for refusal in refused:
        problems[int(staged["line"].iloc[refusal.row])].append(refusal.reason)
    audit_refusals(tx, scope, refused)
    return len(staged) - len(refused), dict(problems)


def status_problem(event: StatusEvent, stored: Identity) -> str | None:
    """Why a status cannot be a stored message's, as the loader would word it. A status of
    another channel is left to the merge, which refuses it as a change of identity."""
    if event.channel != stored.channel:
        return None
    if stored.direction == "MO" and event.status != "received":
        return f"status: {event.status!r} is not an MO message's status (received)"
    if stored.direction == "MT" and event.status not in MT_STATUSES:
        return f"status: {event.status!r} is not an MT message's status"
    if event.channel == "sms" and event.status == "read":
        return "status: 'read': SMS has no read receipts"
    return None


def status_frame(events: list[tuple[int, StatusEvent]], stored: dict[str, Identity]):
    """The merge's frame for statuses of stored messages: their identity, the new status and
    its time; nothing else of the message is needed (nor read) to move it forward."""
    rows = []
    for line, event in events:
        identity = stored[event.message_id]
        at = utc_naive(event.event_at)
        column = TIME_COLUMN.get(event.status)
        rows.append(
            {
                "line": line,
                "message_id": event.message_id,
                "channel": event.channel,
                "direction": identity.direction,
                "subaccount": identity.subaccount,
                "status_rank": STATUS_RANK[event.status],
                "error_code": event.error_code,
                "error_description": event.error_description,
                "created_day": identity.created_day,
                "sent_at": at if column == "sent_at" else None,
                "delivered_at": at if column == "delivered_at" else None,
                "read_at": at if column == "read_at" else None,
                "operator": event.operator,
                EVENT_AT: at,
                RAW_STATUS: event.raw_status,
            }
        )
    frame = pd.DataFrame(rows, columns=["line", *STAGE_COLUMNS, EVENT_AT, RAW_STATUS])
    for name in ("created_at", "sent_at", "delivered_at", "read_at", EVENT_AT):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[us]")
    frame["status_rank"] = frame["status_rank"].astype("int64")
    # As the loader reads a record: a read message was delivered, a delivered one was sent.
    frame["delivered_at"] = frame["delivered_at"].fillna(frame["read_at"])
    frame["sent_at"] = frame["sent_at"].fillna(frame["delivered_at"])
    return frame


def merge_statuses(
    tx: Transaction,
    events: list[StatusEvent],
    stored: dict[str, Identity],
    scope: WriteScope,
    source: str,
) -> tuple[int, dict[int, list[str]]]:
    """Merge statuses of stored messages within the scope; (merged, problems by index)."""
    problems: dict[int, list[str]] = defaultdict(list)
    fitting = []
    for index, event in enumerate(events):
        reason = status_problem(event, stored[event.message_id])
        if reason is None:
            fitting.append((index, event))
        else:
            problems[index].append(reason)
    clickhouse = messages_of(tx.conn)
    if clickhouse is None and fitting:
        quick = merge_recent(tx, [event for _, event in fitting], stored, scope, source)
        if quick is not None:
            return len(fitting), dict(problems)
    frame = status_frame(fitting, stored)
    if clickhouse is not None:
        refused = clickhouse.ingest(
            with_stored_identity(frame, stored),
            scope,
            all_or_nothing=False,
            stored=stored,
            tx=tx,
        ).refused
    else:
        refused = merge_records(
            tx, frame, scope, source=source, all_or_nothing=False, stored=stored
        ).refused
    for refusal in refused:
        problems[int(frame.at[refusal.row, "line"])].append(refusal.reason)
    audit_refusals(tx, scope, refused)
    return len(frame) - len(refused), dict(problems)


def merge_recent(
    tx: Transaction,
    events: list[StatusEvent],
    stored: dict[str, Identity],
    scope: WriteScope,
    source: str,
) -> recent_statuses.Merged | None:
    """Statuses of messages the recent index holds, each within the scope and of its
    message's channel, merged in a few statements (data_access/recent_statuses.py); None
    where the batch is not such a one, and nothing was written."""
    rows: dict[str, int] = {}
    for event in events:
        identity = stored[event.message_id]
        if (
            identity.row is None
            or identity.channel != event.channel
            or not scope.allows(identity.subaccount)
        ):
            return None
        rows[event.message_id] = identity.row
    statuses = [
        recent_statuses.Status(
            e.message_id,
            e.status,
            utc_naive(e.event_at),
            e.error_code,
            e.error_description,
            e.operator,
            e.raw_status,
        )
        for e in events
    ]
    merged = recent_statuses.merge(tx.conn, statuses, rows, source)
    if merged is not None:
        tx.mark_changed(bool(merged.updated or merged.events))
    return merged


def with_stored_identity(frame: pd.DataFrame, stored: dict[str, Identity]) -> pd.DataFrame:
    """A status frame for the ClickHouse store: each record repeats its message's content type,
    phone and creation time, so it folds into the message's own row of the engine's roll-up
    and phone key (the states keep the first record's values in any case)."""
    frame = frame.copy()
    for column in ("content_type", "phone", "created_at"):
        frame[column] = [getattr(stored[i], column) for i in frame["message_id"]]
    return frame


def stored_for_statuses(conn: Connection, events: list[StatusEvent]) -> dict[str, Identity]:
    """The stored messages the statuses are for. On a ClickHouse store they are looked for
    near the statuses' days (data_access.clickhouse.messages.ClickHouseMessages.identities)."""
    ids = [e.message_id for e in events]
    if (clickhouse := messages_of(conn)) is None:
        return stored_identities(conn, ids)
    if not ids:
        return {}
    today = datetime.now(UTC).date()
    days: list[date] = []
    for event in events:
        at = utc_naive(event.event_at)
        days.append(at.date() if at is not None else today)
    return clickhouse.identities(ids, near=(min(days), max(days)))


def audit_refusals(tx: Transaction, scope: WriteScope, refused: list[Refusal]) -> None:
    """One audit row for the records a webhook writer was refused in one merge."""
    if refused:
        audit.record(
            tx.conn,
            actor=scope.writer,
            action=audit.WRITE_REFUSED,
            detail="; ".join(r.reason for r in refused)[:2_000],
        )


def business_numbers(conn: Connection) -> dict[tuple[str, str], str]:
    """(channel, number id) -> subaccount name, for every assigned business number."""
    query = select(channel_numbers.c.channel, channel_numbers.c.number_id, subaccounts.c.name).join(
        subaccounts, subaccounts.c.id == channel_numbers.c.subaccount_id
    )
    return {(row[0], row[1]): row[2] for row in conn.execute(query)}


def keep_pending(
    conn: Connection, events: list[tuple[StatusEvent, WriteScope]], now: datetime
) -> int:
    """Keep statuses of unknown messages with their writer's scope; a repeat keeps the
    earliest time."""
    earliest: dict[tuple[str, str], tuple[StatusEvent, WriteScope]] = {}
    for event, scope in events:
        key = (event.message_id, event.status)
        seen = earliest.get(key)
        if seen is None or (
            event.event_at is not None
            and (seen[0].event_at is None or event.event_at < seen[0].event_at)
        ):
            earliest[key] = (event, scope)
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
            "scope": _scope_name(scope),
            "operator": e.operator,
        }
        for e, scope in earliest.values()
    ]
    statement = pg_insert(pending_statuses).values(values)
    old, new = pending_statuses.c, statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[old.message_id, old.status],
        set_={
            "event_at": func.least(old.event_at, new.event_at),
            "error_code": func.coalesce(old.error_code, new.error_code),
            "error_description": func.coalesce(old.error_description, new.error_description),
            "operator": func.coalesce(old.operator, new.operator),
        },
    )
    conn.execute(statement)
    return len(values)


def _scope_name(scope: WriteScope) -> str | None:
    """The one subaccount a scope is limited to, as pending_statuses.scope keeps it."""
    if scope.subaccounts is None:
        return None
    (name,) = scope.subaccounts
    return name


def apply_pending(tx: Transaction, timezone: str, ids: Iterable[str] | None = None) -> int:
    """Merge kept statuses whose message is now stored (only those of `ids` when given), each
    in the scope of the writer that sent it.

    A kept status that does not fit its message (say, a read receipt for an SMS, or a message
    of another subaccount) keeps its reason in `problem` and is not tried again.
    """
    conn = tx.conn
    p = pending_statuses.c
    base = select(
        p.message_id,
        p.status,
        p.channel,
        p.event_at,
        p.error_code,
        p.error_description,
        p.scope,
        p.operator,
    ).where(p.problem.is_(None))
    if ids is None:
        queries = [base]
    else:
        queries = [base.where(p.message_id.in_(chunk)) for chunk in _chunks(sorted(set(ids)))]
    kept = [row for query in queries for row in conn.execute(query)]
    if not kept:
        return 0
    events = [
        StatusEvent(
            row.message_id,
            row.channel,
            row.status,
            row.event_at,
            row.error_code,
            row.error_description,
            operator=row.operator,
        )
        for row in kept
    ]
    stored = stored_for_statuses(conn, events)
    groups: dict[tuple[WriteScope, str], list[StatusEvent]] = defaultdict(list)
    for row, event in zip(kept, events, strict=True):
        if row.message_id not in stored:
            continue
        scope = (
            PENDING_SCOPE
            if row.scope is None
            else WriteScope.subaccount("the status's business number", row.scope)
        )
        groups[(scope, CHANNEL_SOURCE[row.channel])].append(event)
    applied_count = 0
    applied: set[str] = set()
    for (scope, source), events in groups.items():
        _, problems = merge_statuses(tx, events, stored, scope, source)
        for index, reasons in problems.items():
            conn.execute(
                update(pending_statuses)
                .where(p.message_id == events[index].message_id, p.status == events[index].status)
                .values(problem="; ".join(reasons))
            )
        applied.update(e.message_id for i, e in enumerate(events) if i not in problems)
        applied_count += len(events) - len(problems)
    for chunk in _chunks(sorted(applied)):
        conn.execute(delete(pending_statuses).where(p.message_id.in_(chunk), p.problem.is_(None)))
    return applied_count


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


def _number_problem(channel: str, number_id: str | None, where: str) -> str:
    if number_id is None:
        return f"{where}: the body does not name the {channel} business number, so it cannot be "
        "told which subaccount may write it"
    return (
        f"{where}: the {channel} business number {number_id} is not assigned to a subaccount; "
        f"assign it with `python app.py channels add --channel {channel} "
        f"--number-id {number_id} --subaccount NAME`, then replay"
    )


def number_scope(subaccount: str, channel: str, number_id: str) -> WriteScope:
    return WriteScope.subaccount(f"{channel} business number {number_id}", subaccount)


def apply_mapped(
    tx: Transaction,
    items: list[tuple[int, Mapped, WriteScope | None]],
    timezone: str,
    now: datetime,
) -> tuple[Applied, dict[int, list[str]]]:
    """Write the events of several bodies in the caller's write.

    `items` are (owner, mapped, scope): the scope of the body's route, or None where each
    event's business number gives it. Problems and refusals come back by owner.
    """
    conn = tx.conn
    problems: dict[int, list[str]] = defaultdict(list)
    needs_numbers = any(m.inbound or s is None for _, m, s in items)
    numbers = business_numbers(conn) if needs_numbers else {}

    def scope_of(scope, channel, number_id, where, owner) -> WriteScope | None:
        """The event's writer: the route's scope, narrowed to its number's subaccount."""
        subaccount = numbers.get((channel, number_id)) if number_id is not None else None
        if scope is not None:
            return scope
        if subaccount is None:
            problems[owner].append(_number_problem(channel, number_id, where))
            return None
        return number_scope(subaccount, channel, number_id)

    groups: dict[tuple[WriteScope, str], list[tuple[int, dict]]] = defaultdict(list)
    for owner, mapped, route in items:
        for message in mapped.inbound:
            subaccount = numbers.get((message.channel, message.number_id))
            if subaccount is None:
                problems[owner].append(
                    _number_problem(message.channel, message.number_id, message.where)
                )
                continue
            scope = scope_of(route, message.channel, message.number_id, message.where, owner)
            assert scope is not None  # the number has a subaccount, checked just above
            source = CHANNEL_SOURCE[message.channel]
            groups[(scope, source)].append((owner, inbound_row(message, subaccount)))
    events = [(owner, e, route) for owner, mapped, route in items for e in mapped.statuses]
    stored = stored_for_statuses(conn, [e for _, e, _ in events])
    waiting: list[tuple[StatusEvent, WriteScope]] = []
    statuses: dict[tuple[WriteScope, str], list[tuple[int, StatusEvent]]] = defaultdict(list)
    for owner, event, route in events:
        where = f"message {event.message_id}"
        scope = scope_of(route, event.channel, event.number_id, where, owner)
        if scope is None:
            continue
        if event.message_id not in stored:
            waiting.append((event, scope))
            continue
        statuses[(scope, CHANNEL_SOURCE[event.channel])].append((owner, event))
    merged = 0
    for (scope, source), owned in groups.items():
        rows = [row for _, row in owned]
        count, row_problems = merge_rows(tx, rows, timezone, scope, source)
        merged += count
        for index, reasons in row_problems.items():
            problems[owned[index][0]].append(
                f"message {rows[index]['message_id']}: {'; '.join(reasons)}"
            )
    for (scope, source), owned_events in statuses.items():
        batch = [event for _, event in owned_events]
        count, row_problems = merge_statuses(tx, batch, stored, scope, source)
        merged += count
        for index, reasons in row_problems.items():
            problems[owned_events[index][0]].append(
                f"message {batch[index].message_id}: {'; '.join(reasons)}"
            )
    result = Applied(merged=merged, pending=keep_pending(conn, waiting, now))
    record_summaries(conn, [s for _, mapped, _ in items for s in mapped.summaries], now)
    return result, dict(problems)
