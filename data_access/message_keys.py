"""Finding stored messages by id in the embedded store without an index over every message.

DuckDB keeps an ART index wholly in memory, about 60 bytes a message: a primary key on
`messages` ran the store out of memory before 10 million messages. So on DuckDB `messages`
has no key index, and two small tables answer "is this id stored, and on which day":

- `recent_keys`: the identity (day, subaccount, channel, direction) of every message created
  in the last KEY_WINDOW_DAYS days, indexed by a 64-bit hash of the id. Statuses arrive within
  hours of the send, so nearly every lookup ends here, at a cost that follows the batch and the
  window, not the store. Days leave it as they age (`forget_old`). Each key also holds where
  its message's row is (`message_row`: DuckDB's rowid, so the merge reads and updates that row
  instead of the message's whole day) and a hash of each event kept for the message
  (a replayed webhook is recognised without reading the day's events). The first
  EVENT_SLOTS hashes have a column each and the rest a list (`more_event_hashes`): DuckDB
  changes a number in place, but a list by deleting its row and inserting it again, index
  entry and all (1,000 keys' hashes among 2.7M keys: 65 ms as lists, 20 ms in columns).
- `message_keys`: the hash and day of every stored message, no index, 10 bytes a message on
  disk. An id not found among the recent ones is looked for here (one scan of an 8-byte column,
  Bloom-filtered by DuckDB's join), and a hit is confirmed in `messages` on that day only, whose
  row groups DuckDB skips by their min/max day.

Both are exact: a hash only proposes a day, a row number only proposes a row; the message's
own row decides, and a row found elsewhere is looked for by its day. Row numbers are given to
new messages as they are inserted (in the order of the insert, from the store's next row
number, kept in store_meta); DuckDB keeps them until it compacts a table after deletes
(retention), and the first merge that misses a row sets every key right (`reseat`). An event
hash of 64 bits stands for the event's key (source, status, time, error code): two different
events of one message would have to share one (odds about 1 in 10^18).
Every writer that inserts or deletes messages keeps them in step (data_access/merge.py,
retention.py, store.py). PostgreSQL keeps its primary key on `messages` and needs neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    Row,
    Table,
    UniqueConstraint,
    bindparam,
    text,
)

from data_access.sql import raw_connection
from data_access.tables import contacts, messages

# Days of messages (by creation day) whose identity the recent index holds.
KEY_WINDOW_DAYS = 3
# A stored message's identity, as the key tables and a lookup give it.
COLUMNS = "message_id, created_day, subaccount_id, channel, direction"
# Up to this many ids a lookup names their hashes (the index answers); past it, one join.
LITERAL_MAX = 2_000

# A recent key's first kept events' hashes, a column each; the rest are a list.
EVENT_SLOTS = 4
SLOT_COLUMNS = tuple(f"event_hash_{n}" for n in range(1, EVENT_SLOTS + 1))
MORE_COLUMN = "more_event_hashes"
HASH_COLUMNS = (*SLOT_COLUMNS, MORE_COLUMN)
# The tables' columns, by name (the tests compare a store's tables with the declared ones).
TABLE_COLUMNS = {
    "message_keys": {"key_hash", "created_day"},
    "recent_keys": {
        "key_hash",
        "message_id",
        "created_day",
        "subaccount_id",
        "channel",
        "direction",
        "message_row",
        *SLOT_COLUMNS,
        MORE_COLUMN,
    },
}
CREATE_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS message_keys "
    "(key_hash UBIGINT NOT NULL, created_day DATE NOT NULL)",
    "CREATE TABLE IF NOT EXISTS recent_keys (key_hash UBIGINT NOT NULL, "
    "message_id VARCHAR NOT NULL, created_day DATE NOT NULL, subaccount_id INTEGER NOT NULL, "
    "channel VARCHAR NOT NULL, direction VARCHAR NOT NULL, message_row BIGINT, "
    f"{', '.join(f'{name} UBIGINT' for name in SLOT_COLUMNS)}, {MORE_COLUMN} UBIGINT[])",
    "CREATE INDEX IF NOT EXISTS recent_keys_hash ON recent_keys (key_hash)",
)
# Rows a transaction inserted have row numbers from here until it commits (DuckDB's
# MAX_ROW_ID): they are no row's lasting place.
LOCAL_ROWS = 36_028_797_018_960_000
NEXT_ROW_KEY = "next_message_row"
# The order new messages are inserted in, so each one's row number is known beforehand.
INSERT_ORDER = "created_day, created_at, message_id"


def event_hash(alias: str = "") -> str:
    """SQL: the 64-bit hash of an event's key (its message is the key's row), on a table or
    subquery in message_events' columns."""
    p = f"{alias}." if alias else ""
    return (
        f"md5_number_lower(concat_ws(chr(31), {p}source, {p}status, "
        f"coalesce(CAST({p}event_at AS VARCHAR), ''), coalesce('=' || {p}error_code, '')))"
    )


def kept_hashes(alias: str = "recent_keys") -> str:
    """SQL: a recent key's kept events' hashes as one list, in the order they were kept."""
    slots = ", ".join(f"{alias}.{name}" for name in SLOT_COLUMNS)
    return (
        f"list_concat(list_filter([{slots}], lambda h: h IS NOT NULL), "
        f"coalesce({alias}.{MORE_COLUMN}, []))"
    )


def spread(hashes: str) -> list[str]:
    """SQL: the values of HASH_COLUMNS for a list of hashes (an expression)."""
    return [
        *(f"({hashes})[{n}]" for n in range(1, EVENT_SLOTS + 1)),
        f"CASE WHEN len({hashes}) > {EVENT_SLOTS} THEN ({hashes})[{EVENT_SLOTS + 1}:] END",
    ]


def slots(hashes: list[int]) -> list:
    """The values of HASH_COLUMNS for a list of hashes."""
    return [
        *hashes[:EVENT_SLOTS],
        *[None] * (EVENT_SLOTS - len(hashes[:EVENT_SLOTS])),
        hashes[EVENT_SLOTS:] or None,
    ]


def in_use(conn: Connection) -> bool:
    return conn.dialect.name == "duckdb"


# A counter that moves whenever keys are added or messages' keys are forgotten with their
# messages: a lookup made at a version stays true while the version has not moved (a file
# load checks its rows before it writes them, and looks up again only if another writer
# stored new messages in between).
VERSION_KEY = "keys_version"


def version(conn: Connection) -> int:
    value = conn.execute(
        text("SELECT value FROM store_meta WHERE key = :key"), {"key": VERSION_KEY}
    ).scalar()
    return int(value or 0)


def _moved(conn: Connection) -> None:
    bumped = conn.execute(
        text(
            "UPDATE store_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) "
            "WHERE key = :key"
        ),
        {"key": VERSION_KEY},
    )
    if not bumped.rowcount:
        conn.execute(
            text("INSERT INTO store_meta (key, value) VALUES (:key, '1')"), {"key": VERSION_KEY}
        )


def key_hash(message_id: str) -> int:
    """The id's hash as DuckDB's md5_number_lower computes it."""
    return int.from_bytes(hashlib.md5(message_id.encode()).digest()[8:], "little")


def window_start(today: date | None = None) -> date:
    """The first creation day the recent index holds (a day of slack for zones ahead of UTC)."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=KEY_WINDOW_DAYS)


def create(conn: Connection) -> None:
    for statement in CREATE_STATEMENTS:
        conn.execute(text(statement))


def copy_unkeyed(conn: Connection, keyed: bool) -> None:
    """Messages and contacts copied, in order, without their keys and indexes (the schema
    revision that took them away), or with them (its downgrade)."""
    if keyed:
        _copy(conn, messages, "created_day, created_at", PrimaryKeyConstraint("message_id"))
        _copy(conn, contacts, "id", PrimaryKeyConstraint("id"), UniqueConstraint("phone"))
        conn.execute(text("CREATE INDEX contacts_phone_tail ON contacts (phone_tail)"))
    else:
        conn.execute(text("DROP INDEX IF EXISTS contacts_phone_tail"))
        _copy(conn, messages, "created_day, created_at")
        _copy(conn, contacts, "id")


def _copy(conn: Connection, table: Table, order: str, *constraints) -> None:
    name = f"{table.name}_copy"
    # The columns the stored table has: a revision older than the newest runs this over a
    # table without the columns later revisions add.
    stored = set(
        conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = :name AND table_schema = current_schema()"
            ),
            {"name": table.name},
        ).scalars()
    )
    kept = [c for c in table.columns if c.name in stored]
    columns = ", ".join(c.name for c in kept)
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    Table(name, MetaData(), *(c._copy() for c in kept), *constraints).create(conn, checkfirst=True)
    conn.execute(
        text(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {table.name} ORDER BY {order}")
    )
    conn.execute(text(f"DROP TABLE {table.name}"))
    conn.execute(text(f"ALTER TABLE {name} RENAME TO {table.name}"))


def rebuild(conn: Connection) -> None:
    """Both tables again from the messages (a new schema, a changed time zone)."""
    forget_all(conn)
    conn.execute(
        text(
            "INSERT INTO message_keys SELECT md5_number_lower(message_id), created_day "
            "FROM messages ORDER BY created_day"
        )
    )
    _fill_recent(conn)


def rebuild_recent(conn: Connection) -> None:
    """The recent index again, its table too (the revision that gave it rows and events)."""
    conn.execute(text("DROP INDEX IF EXISTS recent_keys_hash"))
    conn.execute(text("DROP TABLE IF EXISTS recent_keys"))
    create(conn)
    _fill_recent(conn)


def _fill_recent(conn: Connection) -> None:
    start = window_start()
    conn.execute(
        text(
            "INSERT INTO recent_keys SELECT md5_number_lower(m.message_id), m.message_id, "
            "m.created_day, m.subaccount_id, m.channel, m.direction, "
            f"CASE WHEN m.rowid < {LOCAL_ROWS} THEN m.rowid END, "
            f"{', '.join(spread('coalesce(e.hashes, [])'))} FROM messages m LEFT JOIN "
            f"(SELECT message_id, list({event_hash()}) AS hashes FROM message_events "
            "WHERE created_day >= :start GROUP BY message_id) e ON e.message_id = m.message_id "
            "WHERE m.created_day >= :start"
        ),
        {"start": start},
    )
    _set_next_row(conn, _stored_next_row(conn))


def _stored_next_row(conn: Connection) -> int:
    return int(
        conn.execute(
            text(f"SELECT coalesce(max(rowid) + 1, 0) FROM messages WHERE rowid < {LOCAL_ROWS}")
        ).scalar_one()
    )


def next_row(conn: Connection) -> int:
    """The row number the next inserted message gets once its transaction commits."""
    value = conn.execute(
        text("SELECT value FROM store_meta WHERE key = :key"), {"key": NEXT_ROW_KEY}
    ).scalar()
    return int(value) if value is not None else _stored_next_row(conn)


def _set_next_row(conn: Connection, row: int) -> None:
    moved = conn.execute(
        text("UPDATE store_meta SET value = :value WHERE key = :key"),
        {"key": NEXT_ROW_KEY, "value": str(row)},
    )
    if not moved.rowcount:
        conn.execute(
            text("INSERT INTO store_meta (key, value) VALUES (:key, :value)"),
            {"key": NEXT_ROW_KEY, "value": str(row)},
        )


def add(
    conn: Connection,
    source: str,
    where: str = "TRUE",
    *,
    first_row: int,
    count: int,
    events: str | None = None,
) -> None:
    """Record the keys of `count` messages just inserted in INSERT_ORDER, read from `source`
    (a table in the messages' columns) where `where` holds, the first of them given row
    number `first_row`; `events` names a table of their events (message_events' columns and
    an event_hash), all kept."""
    _moved(conn)
    conn.execute(
        text(
            f"INSERT INTO message_keys SELECT md5_number_lower(message_id), created_day "
            f"FROM {source} WHERE {where}"
        )
    )
    hashes = "[]::UBIGINT[]"
    joined = ""
    if events is not None:
        hashes = "coalesce(e.hashes, [])"
        joined = (
            f"LEFT JOIN (SELECT message_id, list(event_hash) AS hashes FROM {events} "
            "WHERE event_hash IS NOT NULL GROUP BY message_id) e ON e.message_id = n.message_id"
        )
    conn.execute(
        text(
            "INSERT INTO recent_keys SELECT md5_number_lower(n.message_id), n.message_id, "
            "n.created_day, n.subaccount_id, n.channel, n.direction, :first + n.position, "
            f"{', '.join(spread(hashes))} FROM (SELECT *, "
            f"row_number() OVER (ORDER BY {INSERT_ORDER}) - 1 AS position FROM {source} "
            f"WHERE {where}) n {joined} WHERE n.created_day >= :start"
        ),
        {"start": window_start(), "first": first_row},
    )
    _set_next_row(conn, first_row + count)


def reseat(conn: Connection) -> None:
    """Every recent key's row read again from the messages, and the next row number: DuckDB
    compacted the table after deletes, which moves the rows after them (a merge that finds a
    message away from its proposed row calls this; one read of the window's messages). Rows
    this transaction inserted keep the numbers they were given (they are right once it
    commits)."""
    conn.execute(
        text(
            "UPDATE recent_keys SET message_row = m.rowid FROM messages m "
            "WHERE m.created_day >= :start AND m.message_id = recent_keys.message_id "
            f"AND m.rowid < {LOCAL_ROWS} AND recent_keys.message_row IS DISTINCT FROM m.rowid"
        ),
        {"start": window_start()},
    )
    _set_next_row(conn, _stored_next_row(conn))


def recent_events(conn: Connection, ids: list[str]) -> dict[str, tuple[int, set[int]]]:
    """The messages among `ids` that the recent index holds: id -> (the key's row in the
    index, this transaction only; the hashes of the message's kept events)."""
    found: dict[str, tuple[int, set[int]]] = {}
    wanted = set(ids)
    # All at once: past NAMED_HASHES_MAX the ids are one join with the index's table, one scan
    # whatever their number (a load's part of 100,000 recent messages already stored, against
    # an index of 9.5M keys: in chunks of 2,000, 50 scans and 4.4 s; at once, 0.9 s).
    for row, message_id, hashes in _recent_rows(conn, ids, ["rowid", "message_id"], hashes=True):
        if message_id in wanted:
            found[message_id] = (row, set(hashes))
    return found


def add_events(conn: Connection, events: str, rows: list[int]) -> None:
    """Add the hashes of newly kept events (`events`: a table of key_row, the key's row that
    recent_events gave, and event_hash) to their messages' keys."""
    values = spread(f"list_concat({kept_hashes()}, a.hashes)")
    assignments = ", ".join(
        f"{name} = {value}" for name, value in zip(HASH_COLUMNS, values, strict=True)
    )
    for start in range(0, len(rows), LITERAL_MAX):
        chunk = ", ".join(str(r) for r in rows[start : start + LITERAL_MAX])
        conn.execute(
            text(
                f"UPDATE recent_keys SET {assignments} FROM (SELECT key_row, "
                f"list(event_hash) AS hashes FROM {events} GROUP BY key_row) a "
                f"WHERE recent_keys.rowid IN ({chunk}) AND recent_keys.rowid = a.key_row"
            )
        )


def forget_days_before(conn: Connection, first_kept: date) -> None:
    """Drop the keys of messages deleted by whole days (retention)."""
    _moved(conn)
    for table in ("message_keys", "recent_keys"):
        conn.execute(text(f"DELETE FROM {table} WHERE created_day < :day"), {"day": first_kept})


def forget_old(conn: Connection, today: date | None = None) -> int:
    """Take the days that left the window out of the recent index; returns how many keys."""
    gone = conn.execute(
        text("DELETE FROM recent_keys WHERE created_day < :start"),
        {"start": window_start(today)},
    )
    return gone.rowcount or 0


def forget_all(conn: Connection) -> None:
    _moved(conn)
    conn.execute(text("DELETE FROM message_keys"))
    conn.execute(text("DELETE FROM recent_keys"))


def _hash_list(ids: list[str]) -> str:
    return ", ".join(str(key_hash(i)) for i in ids)


# Up to this many ids a lookup in the recent index names their hashes, and the index answers;
# past it the hashes go in as one list, joined with the index's table in one scan (1,000 ids at
# 10M messages: 23 ms named, 8 ms joined; 10 ids: 1.7 ms named, 2.9 ms joined).
NAMED_HASHES_MAX = 200


def _recent_rows(
    conn: Connection, ids: list[str], columns: list[str], hashes: bool = False
) -> Sequence[Row]:
    """`columns` of the recent keys whose hash is one of the ids' (perhaps another id's)."""
    relation, params = recent_relation(ids, columns, hashes)
    return conn.exec_driver_sql(f"SELECT * FROM {relation}", params).all()


def recent_relation(ids: list[str], columns: list[str], hashes: bool = False) -> tuple[str, tuple]:
    """A subquery (driver-level SQL, `?` for its parameters) of the recent keys whose hash is
    one of the ids' (perhaps another id's), with `columns` (of recent_keys, perhaps with
    aliases) and, with `hashes`, the kept events' hashes as a list (event_hashes), and its
    parameters: the same two ways as `_recent_rows`."""
    listed = ", ".join(f"k.{column}" for column in columns)
    if hashes:
        listed += f", {kept_hashes('k')} AS event_hashes"
    if len(ids) <= NAMED_HASHES_MAX:
        return f"(SELECT {listed} FROM recent_keys k WHERE k.key_hash IN ({_hash_list(ids)}))", ()
    return (
        f"(SELECT {listed} FROM recent_keys k JOIN (SELECT unnest(?::UBIGINT[]) AS key_hash) w "
        "ON k.key_hash = w.key_hash)",
        ([key_hash(i) for i in ids],),
    )


def locate(conn: Connection, ids: list[str], staged: str | None = None) -> dict[str, tuple]:
    """The stored messages among `ids`: id -> (day, subaccount id, channel, direction, row).

    `staged` names a temporary table holding the ids (column message_id), for big batches.
    """
    if not ids:
        return {}
    if staged is not None:
        located = located_table(conn, staged)
        return {
            row["message_id"]: (
                row["created_day"],
                row["subaccount_id"],
                row["channel"],
                row["direction"],
                row["message_row"],
            )
            for row in located.to_pylist()
        }
    found: dict[str, tuple] = {}
    columns = ["message_id", "created_day", "subaccount_id", "channel", "direction", "message_row"]
    # The hashes alone: DuckDB reads an index only for a filter on the indexed column, so the
    # ids are compared here (a hash may be another id's).
    wanted = set(ids)
    for row in _recent_rows(conn, ids, columns):
        if row[0] in wanted:
            found[row[0]] = tuple(row[1:])
    rest = [i for i in ids if i not in found]
    if not rest:
        return found
    # Older messages: their hash proposes a day, the message's own row confirms it.
    proposed = conn.execute(
        text(
            f"SELECT DISTINCT created_day FROM message_keys WHERE key_hash IN ({_hash_list(rest)})"
        )
    ).scalars()
    days = sorted(proposed)
    if not days:
        return found
    older = conn.execute(
        text(
            f"SELECT {_prefixed(COLUMNS)}, m.rowid FROM messages m WHERE {_ON_DAYS} "
            "AND m.message_id IN :ids"
        ).bindparams(bindparam("days", expanding=True), bindparam("ids", expanding=True)),
        {"first": days[0], "last": days[-1], "days": days, "ids": rest},
    )
    for row in older:
        found.setdefault(row[0], tuple(row[1:]))
    return found


_ON_DAYS = "m.created_day BETWEEN :first AND :last AND m.created_day IN :days"


def located_table(conn: Connection, staged: str):
    """The stored messages among the ids of the temporary table `staged` (column message_id),
    as an Arrow table of message_id, created_day, subaccount_id, channel, direction,
    message_row: a big batch's lookup, two statements whatever its size."""
    columns = f"{COLUMNS}, message_row"
    raw = raw_connection(conn)
    raw.execute(
        f"CREATE OR REPLACE TEMP TABLE located_keys AS SELECT {_prefixed(columns, 'r')} "
        f"FROM recent_keys r JOIN {staged} s ON r.key_hash = md5_number_lower(s.message_id) "
        "AND r.message_id = s.message_id"
    )
    # Older messages: their hash proposes a day, the message's own row confirms it.
    days = [
        row[0]
        for row in raw.execute(
            "SELECT DISTINCT k.created_day FROM message_keys k WHERE k.key_hash IN "
            f"(SELECT md5_number_lower(message_id) FROM {staged} "
            "WHERE message_id NOT IN (SELECT message_id FROM located_keys)) ORDER BY 1"
        ).fetchall()
    ]
    if days:
        listed = ", ".join(f"DATE '{day.isoformat()}'" for day in days)
        raw.execute(
            f"INSERT INTO located_keys SELECT {_prefixed(COLUMNS)}, m.rowid FROM messages m "
            f"JOIN {staged} s ON m.message_id = s.message_id "
            f"WHERE m.created_day BETWEEN DATE '{days[0].isoformat()}' "
            f"AND DATE '{days[-1].isoformat()}' AND m.created_day IN ({listed}) "
            "AND m.message_id NOT IN (SELECT message_id FROM located_keys)"
        )
    located = raw.sql(
        f"SELECT {columns} FROM (SELECT *, row_number() OVER (PARTITION BY message_id) AS n "
        "FROM located_keys) WHERE n = 1"
    ).to_arrow_table()
    raw.execute("DROP TABLE located_keys")
    return located


def _prefixed(columns: str, alias: str = "m") -> str:
    return ", ".join(f"{alias}.{c}" for c in columns.split(", "))
