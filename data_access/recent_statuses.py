"""Statuses of recent messages merged in a handful of statements (the embedded store).

Most of what a store is asked to write are a channel's statuses of messages sent hours before,
and the recent index (data_access/message_keys.py) names each one's row. The general merge
(data_access/merge.py) stages any batch through temporary tables: some sixty statements, a
fifth of a second at 10 million messages, whatever the batch's size. A batch of such statuses
takes this path instead:

1. the batch's stored rows are read at once, by row number (and confirmed by id), each with
   the hashes of its kept events from its recent key;
2. merge.py's rules run here, in Python, over those rows: the statuses of one message are
   folded as merge.py folds a batch's records, the status moves only forward, each time
   keeps its earliest value, the error fields describe the current status and the operator
   is filled in, never overwritten;
3. the store takes one statement per table that changes: the messages (by row number), the
   daily roll-up and the delivery times' histogram (each changed message's old counts taken
   away and its new ones added, appended as rows: data_access/rollup.py), the events and the
   recent index's hashes of them.

The property tests run both paths on the same batches and compare every table. A batch this
path cannot take whole returns None before anything is written, and the caller merges it by
the general path: a message not at the row its key names (the table was compacted since) or
unknown to the recent index.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection

from data_access import message_keys, rollup
from data_access.delivery_times import BUCKET_BOUNDS, OPEN_BUCKET
from data_access.domain import RANK_STATUS, STATUS_RANK
from data_access.merge import EVENT_COLUMNS, EVENT_TIME_COLUMN, MERGED_COLUMNS
from data_access.rollup import COUNT_COLUMNS, KEY_COLUMNS, TIME_COUNT_COLUMNS, TIME_KEY_COLUMNS


@dataclass(frozen=True)
class Status:
    """A channel's report of one message's status (naive UTC time)."""

    message_id: str
    status: str
    at: datetime | None = None
    error_code: str | None = None
    error_description: str | None = None
    operator: str | None = None
    raw_status: str | None = None


@dataclass(frozen=True)
class Merged:
    updated: int
    unchanged: int
    events: int


TIMES = ("sent_at", "delivered_at", "read_at")
# The stored columns read: what may change and what the roll-up's keys and delays need.
READ = tuple(
    dict.fromkeys(("message_id", *MERGED_COLUMNS, *KEY_COLUMNS, "created_at", "created_day"))
)
# The engine's type of each column handed over as a list (the others are text).
SQL_TYPES = {
    "message_row": "BIGINT",
    "key_row": "BIGINT",
    "created_day": "DATE",
    "subaccount_id": "BIGINT",
    "user_id": "BIGINT",
    "campaign_id": "BIGINT",
    "bucket": "BIGINT",
    "event_at": "TIMESTAMP",
    "recorded_at": "TIMESTAMP",
    **{name: "UBIGINT" for name in message_keys.SLOT_COLUMNS},
    message_keys.MORE_COLUMN: "UBIGINT[]",
    **{name: "TIMESTAMP" for name in TIMES},
    **{name: "BIGINT" for name in (*COUNT_COLUMNS, *TIME_COUNT_COLUMNS)},
}


def _least(*values):
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _greatest(*values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _record(status: Status) -> dict[str, Any]:
    """A status as the general path stages it: its time in its own column, and a read
    message delivered and a delivered one sent at that time (as the loader reads a record)."""
    column = EVENT_TIME_COLUMN.get(status.status)
    read_at = status.at if column == "read_at" else None
    delivered_at = (status.at if column == "delivered_at" else None) or read_at
    sent_at = (status.at if column == "sent_at" else None) or delivered_at
    return {
        "rank": STATUS_RANK[status.status],
        "error_code": status.error_code,
        "error_description": status.error_description,
        "sent_at": sent_at,
        "delivered_at": delivered_at,
        "read_at": read_at,
        "operator": status.operator,
    }


def fold(statuses: Iterable[Status]) -> dict[str, dict[str, Any]]:
    """One record per message, as merge._folded_rows folds a batch: the highest status, the
    greatest error code, description and operator, the earliest times; the error fields only
    where the folded status is an error."""
    folded: dict[str, dict[str, Any]] = {}
    for status in statuses:
        record = _record(status)
        had = folded.get(status.message_id)
        if had is not None:
            record = {
                "rank": max(had["rank"], record["rank"]),
                **{
                    name: _greatest(had[name], record[name])
                    for name in ("error_code", "error_description", "operator")
                },
                **{name: _least(had[name], record[name]) for name in TIMES},
            }
        folded[status.message_id] = record
    for record in folded.values():
        record["status"] = RANK_STATUS[record["rank"]]
        if record["status"] != "error":
            record["error_code"] = record["error_description"] = None
    return folded


def merged_row(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A stored message's row after a folded record, by merge._merged_values's rules."""
    # A stored status the rules do not rank is never replaced (the engine's CASE gives NULL).
    old_rank = STATUS_RANK.get(old["status"])
    advances = old_rank is not None and new["rank"] > old_rank
    status = new["status"] if advances else old["status"]
    row = dict(old, status=status)
    if status != "error":
        row["error_code"] = row["error_description"] = None
    elif advances and new["error_code"] is not None:
        row["error_code"] = new["error_code"]
        row["error_description"] = new["error_description"]
    else:
        row["error_code"] = _first(old["error_code"], new["error_code"])
        row["error_description"] = _first(old["error_description"], new["error_description"])
    for name in TIMES:
        row[name] = _least(old[name], new[name])
    row["operator"] = _first(old["operator"], new["operator"])
    return row


def _first(*values):
    return next((v for v in values if v is not None), None)


# --------------------------------------------------------------------------- the roll-up


def _bucket(later: datetime | None, earlier: datetime | None) -> int | None:
    """delivery_times.bucket_of(delay_seconds(later, earlier)), in Python; None where there
    is no `later` (nothing to count). With no `earlier` the engine's delay is NULL, which no
    bound holds: the open bucket."""
    if later is None:
        return None
    if earlier is None:
        return OPEN_BUCKET
    return bisect_left(BUCKET_BOUNDS, (later - earlier).total_seconds())


def _add(deltas: dict, key: tuple, counts: list[int]) -> None:
    kept = deltas.setdefault(key, [0] * len(counts))
    for index, count in enumerate(counts):
        kept[index] += count


def rollup_deltas(changes: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """The roll-up's and the histogram's changes: each changed message's old row taken away
    from its keys' counts and its new row added (rollup.shift's parts, one dict each)."""
    counts: dict[tuple, list] = {}
    times: dict[tuple, list] = {}
    for old, new in changes:
        for row, sign in ((old, -1), (new, 1)):
            _add(
                counts,
                tuple(row[name] for name in KEY_COLUMNS),
                [sign, *(sign * (row[name] is not None) for name in TIMES)],
            )
            time_key = tuple(row[name] for name in TIME_KEY_COLUMNS)
            for column, signed in (("delivered_at", [sign, 0]), ("read_at", [0, sign])):
                bucket = _bucket(row[column], row["created_at"])
                if bucket is not None:
                    _add(times, (*time_key, bucket), signed)
    return counts, times


# --------------------------------------------------------------------------- statements


class _Rows:
    """Rows handed to a statement as one list parameter a column, unnested side by side into
    a relation (no table or view is created: registering one costs the catalog a write, about
    a millisecond). The statements go to the driver as written, with `?` for the lists."""

    def __init__(self, columns: dict[str, list]) -> None:
        self.columns = list(columns)
        self.params = tuple(columns.values())

    def relation(self, alias: str) -> str:
        lists = ", ".join(
            f"unnest(?::{SQL_TYPES.get(name, 'VARCHAR')}[]) AS {name}" for name in self.columns
        )
        return f"(SELECT {lists}) {alias}"


def _at_rows(rows: list[int], table: str = "messages") -> str:
    """A filter on the messages' row numbers; the range first (a batch of ten reads in 4 ms
    instead of 10 at 10M messages: DuckDB scans only that range for the list)."""
    listed = ", ".join(str(r) for r in rows)
    return f"{table}.rowid BETWEEN {min(rows)} AND {max(rows)} AND {table}.rowid IN ({listed})"


def _read_rows(conn: Connection, rows: list[int], ids: list[str]) -> dict[int, dict[str, Any]]:
    """The messages at `rows`, each with its recent key's row and kept events' hashes (None
    where the recent index does not hold its id), in one statement."""
    keys, params = message_keys.recent_relation(
        ids, ["rowid AS key_row", "message_id"], hashes=True
    )
    names = [*READ, "key_row", "event_hashes"]
    columns = ", ".join([*(f"m.{name}" for name in READ), "k.key_row", "k.event_hashes"])
    result = conn.exec_driver_sql(
        f"SELECT m.rowid, {columns} FROM messages m LEFT JOIN {keys} k "
        f"ON k.message_id = m.message_id WHERE {_at_rows(rows, 'm')}",
        params,
    )
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in result.fetchall()}


def _update_messages(conn: Connection, changes: list[tuple[int, dict, dict]]) -> None:
    """The changed messages' new values, by row number: only the columns that change in
    some row of the batch."""
    columns = [
        name for name in MERGED_COLUMNS if any(old[name] != new[name] for _, old, new in changes)
    ]
    values = _Rows(
        {
            "message_row": [row for row, _, _ in changes],
            **{c: [new[c] for _, _, new in changes] for c in columns},
        }
    )
    assignments = ", ".join(f"{name} = u.{name}" for name in columns)
    conn.exec_driver_sql(
        f"UPDATE messages SET {assignments} FROM {values.relation('u')} "
        f"WHERE {_at_rows([row for row, _, _ in changes])} AND messages.rowid = u.message_row",
        values.params,
    )


def _apply_deltas(
    conn: Connection, table: str, keys: tuple[str, ...], counts: tuple[str, ...], deltas: dict
) -> None:
    """rollup._apply over deltas worked out here: the keys' nonzero deltas appended as rows,
    in one INSERT (in day order), and noted for the table's next fold."""
    deltas = {key: kept for key, kept in sorted(deltas.items(), key=_by_day) if any(kept)}
    if not deltas:
        return
    columns: dict[str, list] = {name: [key[i] for key in deltas] for i, name in enumerate(keys)}
    for index, name in enumerate(counts):
        columns[name] = [kept[index] for kept in deltas.values()]
    values = _Rows(columns)
    listed = ", ".join(values.columns)
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {values.relation('d')}",
        values.params,
    )
    rollup.appended(conn, table, Counter(key[0] for key in deltas))


def _by_day(item: tuple[tuple, list]) -> date:
    return item[0][0]


def _events(
    statuses: list[Status], stored_days: dict[str, date], source: str
) -> list[dict[str, Any]]:
    """Each status's event, once (merge.event_frame for statuses: one event a status, at its
    own time; the error fields only on an error)."""
    recorded_at = datetime.now(UTC).replace(tzinfo=None)
    seen: set[tuple] = set()
    events = []
    for status in statuses:
        in_error = status.status == "error"
        event = {
            "message_id": status.message_id,
            "created_day": stored_days[status.message_id],
            "source": source,
            "status": status.status,
            "event_at": status.at,
            "error_code": status.error_code if in_error else None,
            "error_description": status.error_description if in_error else None,
            "raw_status": status.raw_status,
            "recorded_at": recorded_at,
        }
        key = (status.message_id, source, status.status, status.at, event["error_code"])
        if key not in seen:
            seen.add(key)
            events.append(event)
    return events


def event_hash(event: dict[str, Any]) -> int:
    """message_keys.event_hash, in Python: md5_number_lower of the event's key."""
    at: datetime | None = event["event_at"]
    at_text = ""
    if at is not None:
        at_text = (
            f"{at.year:04d}-{at.month:02d}-{at.day:02d} "
            f"{at.hour:02d}:{at.minute:02d}:{at.second:02d}"
        )
        if at.microsecond:
            at_text += f".{at.microsecond:06d}".rstrip("0")
    code = event["error_code"]
    parts = [event["source"], event["status"], at_text, "" if code is None else f"={code}"]
    return message_keys.key_hash("\x1f".join(parts))


def _record_events(conn: Connection, events: list[dict], recent: dict) -> int:
    """The events not kept yet, and their hashes beside their messages' recent keys."""
    fresh = []
    # key row -> the hashes its key keeps after this batch
    hashes: dict[int, list[int]] = {}
    for event in events:
        key_row, kept = recent[event["message_id"]]
        hashed = event_hash(event)
        if hashed not in kept:
            fresh.append(event)
            hashes.setdefault(key_row, list(kept)).append(hashed)
    if not fresh:
        return 0
    kept = _Rows({name: [e[name] for e in fresh] for name in EVENT_COLUMNS})
    listed = ", ".join(EVENT_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO message_events ({listed}) SELECT {listed} FROM {kept.relation('e')}",
        kept.params,
    )
    _keep_hashes(conn, hashes)
    return len(fresh)


def _keep_hashes(conn: Connection, hashes: dict[int, list[int]]) -> None:
    """Each key's hashes written at its row: the keys whose hashes fit their columns in one
    statement (DuckDB changes them in place), the others with their list in another. The keys
    are joined with the index's table (10 keys: 2.1 ms, against 2.5 named by row)."""
    fitting = {row: kept for row, kept in hashes.items() if len(kept) <= message_keys.EVENT_SLOTS}
    more = {row: kept for row, kept in hashes.items() if row not in fitting}
    for group, columns in (
        (fitting, message_keys.SLOT_COLUMNS),
        (more, message_keys.HASH_COLUMNS),
    ):
        if not group:
            continue
        spread = [message_keys.slots(kept) for kept in group.values()]
        values = _Rows(
            {
                "key_row": list(group),
                **{name: [row[i] for row in spread] for i, name in enumerate(columns)},
            }
        )
        assignments = ", ".join(f"{name} = a.{name}" for name in columns)
        conn.exec_driver_sql(
            f"UPDATE recent_keys SET {assignments} FROM {values.relation('a')} "
            "WHERE recent_keys.rowid = a.key_row",
            values.params,
        )


def merge(
    conn: Connection,
    statuses: list[Status],
    rows: dict[str, int],
    source: str,
) -> Merged | None:
    """Merge statuses of stored messages at the given rows (message id -> row number, from the
    recent index), all within the writer's scope and of their messages' channels; None when the
    batch is not one this path takes whole (see the module's docstring): nothing was written."""
    if not statuses or not message_keys.in_use(conn):
        return None
    folded = fold(statuses)
    stored = _read_rows(conn, sorted({rows[i] for i in folded}), sorted(folded))
    olds: dict[str, tuple[int, dict]] = {}
    # id -> (its recent key's row, the hashes of its kept events)
    recent: dict[str, tuple[int, list[int]]] = {}
    for message_id in folded:
        row = rows[message_id]
        old = stored.get(row)
        if old is None or old["message_id"] != message_id:
            return None
        key_row, hashes = old.pop("key_row"), old.pop("event_hashes")
        if key_row is None:
            return None
        olds[message_id] = (row, old)
        recent[message_id] = (key_row, hashes)
    changes = []
    for message_id, record in folded.items():
        row, old = olds[message_id]
        new = merged_row(old, record)
        if any(old[name] != new[name] for name in MERGED_COLUMNS):
            changes.append((row, old, new))
    if changes:
        _update_messages(conn, changes)
        counts, times = rollup_deltas([(old, new) for _, old, new in changes])
        _apply_deltas(conn, "daily_rollup", KEY_COLUMNS, COUNT_COLUMNS, counts)
        _apply_deltas(
            conn, "delivery_time_rollup", (*TIME_KEY_COLUMNS, "bucket"), TIME_COUNT_COLUMNS, times
        )
    days = {message_id: old["created_day"] for message_id, (_, old) in olds.items()}
    added = _record_events(conn, _events(statuses, days, source), recent)
    return Merged(updated=len(changes), unchanged=len(folded) - len(changes), events=added)
