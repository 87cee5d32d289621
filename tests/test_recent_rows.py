"""Statuses of recent messages: read and written at the row the recent index names, the roll-up
moved by differences, replayed events recognised by their hashes; exact on both stores, and on
DuckDB still exact once the table was compacted and the rows moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from data_access.merge import stored_identities
from data_access.rollup import counts_by_key
from data_access.tables import message_events, messages
from data_access.writes import Transaction, WriteScope, write
from ingest.events import StatusEvent
from ingest.merge import merge_rows, merge_statuses
from tests.conftest import TIMEZONE
from tests.test_rollup import assert_rollup_matches, mt

NOW = datetime.now(UTC).replace(microsecond=0)
SCOPE = WriteScope.account("test")
# The messages are created in the hour before the account's last noon: all on one local day
# whatever the hour the tests run, and well within the recent index's window.
_LOCAL_NOW = NOW.astimezone(ZoneInfo(TIMEZONE))
_NOON = _LOCAL_NOW.replace(hour=12, minute=0, second=0)
CREATED = (_NOON if _NOON <= _LOCAL_NOW else _NOON - timedelta(days=1)).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def recent(message_id: str, status: str, minutes_before: int, **extra) -> dict:
    return mt(message_id, iso(CREATED - timedelta(minutes=minutes_before)), status, **extra)


def merge(engine, rows: list[dict]) -> None:
    merged, problems = write(engine, lambda tx: merge_rows(tx, rows, TIMEZONE, SCOPE, "api"))
    assert (merged, problems) == (len(rows), {})


def statuses(engine, changes: list[tuple[str, str, datetime]]) -> None:
    def work(tx: Transaction) -> None:
        stored = stored_identities(tx.conn, [i for i, _, _ in changes])
        events = [StatusEvent(i, stored[i].channel, status, at) for i, status, at in changes]
        merged, problems = merge_statuses(tx, events, stored, SCOPE, "whatsapp")
        assert problems == {}

    write(engine, work)


def state(engine) -> dict[str, tuple]:
    m = messages.c
    with engine.connect() as conn:
        rows = conn.execute(select(m.message_id, m.status, m.error_code, m.delivered_at))
        return {row[0]: tuple(row[1:]) for row in rows}


def keys_at_their_rows(engine) -> tuple[int, int]:
    """(recent keys, those whose row holds their message)."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT count(*), count(m.message_id) FROM recent_keys k LEFT JOIN messages m "
                    "ON m.rowid = k.message_row AND m.message_id = k.message_id"
                )
            ).one()
        )


def test_new_messages_keys_point_at_their_rows(duckdb_engine, load_rows):
    load_rows(duckdb_engine, [recent(f"f{n}", "sent", 60 - n) for n in range(5)])
    merge(duckdb_engine, [recent("a1", "sent", 9), recent("a2", "queued", 8)])
    merge(duckdb_engine, [recent("a3", "sent", 7)])
    assert keys_at_their_rows(duckdb_engine) == (8, 8)


def test_a_message_leaving_an_error_takes_its_description_with_it(engine, load_rows):
    load_rows(
        engine,
        [
            recent("x", "sent", 30),
            recent("y", "error", 20, error_code="131047", error_description="Alpha"),
            recent("z", "error", 10, error_code="131047", error_description="Beta"),
        ],
    )
    r = counts_by_key("daily_rollup").subquery("kept").c
    described = (
        select(r.message_count, r.error_description)
        .where(r.error_code == "131047")
        .order_by(r.error_description)
    )
    with engine.connect() as conn:
        # A row per description of the code; the reports show the smallest.
        assert conn.execute(described).all() == [(1, "Alpha"), (1, "Beta")]
    delivered = NOW - timedelta(minutes=5)
    statuses(engine, [("y", "delivered", delivered), ("x", "read", NOW)])
    after = state(engine)
    assert after["y"] == ("delivered", None, delivered.replace(tzinfo=None))
    assert after["x"][0] == "read"
    with engine.connect() as conn:
        assert conn.execute(
            select(func.sum(r.message_count), func.min(r.error_description)).where(
                r.error_code == "131047"
            )
        ).one() == (1, "Beta")
    assert_rollup_matches(engine)


def test_a_replayed_status_keeps_one_event(engine, load_rows):
    load_rows(engine, [recent("w", "sent", 15)])
    at = NOW - timedelta(minutes=3)
    for _ in range(3):
        statuses(engine, [("w", "delivered", at)])
    statuses(engine, [("w", "delivered", at + timedelta(seconds=1))])
    e = message_events.c
    with engine.connect() as conn:
        kept = conn.execute(
            select(e.source, e.status, e.event_at)
            .where(e.message_id == "w")
            .order_by(e.status, e.event_at)
        ).all()
    # The file's row said sent without a time of its own.
    assert kept == [
        ("whatsapp", "delivered", at.replace(tzinfo=None)),
        ("whatsapp", "delivered", (at + timedelta(seconds=1)).replace(tzinfo=None)),
        ("file", "sent", None),
    ]
    assert state(engine)["w"][0] == "delivered"
    assert_rollup_matches(engine)


def test_rows_moved_by_a_compacted_table_are_found_again(duckdb_engine, load_rows):
    """DuckDB compacts a table after deletes (retention) at a checkpoint of its choosing, which
    moves the rows after them: here the keys are moved instead, as the compaction leaves them."""
    engine = duckdb_engine
    load_rows(engine, [recent(f"n{n}", "sent", 40 - n) for n in range(4)])
    assert keys_at_their_rows(engine) == (4, 4)
    with engine.begin() as conn:
        conn.execute(text("UPDATE recent_keys SET message_row = message_row + 2"))
        conn.execute(text("UPDATE store_meta SET value = '9' WHERE key = 'next_message_row'"))
    assert keys_at_their_rows(engine) == (4, 0)
    statuses(engine, [("n1", "delivered", NOW), ("n2", "error", NOW)])
    assert keys_at_their_rows(engine) == (4, 4)
    after = state(engine)
    assert [after[f"n{n}"][0] for n in range(4)] == ["sent", "delivered", "error", "sent"]
    # New messages after the move get the rows they land on.
    merge(engine, [recent("a9", "sent", 1)])
    assert keys_at_their_rows(engine) == (5, 5)
    statuses(engine, [("a9", "read", NOW), ("n3", "delivered", NOW)])
    after = state(engine)
    assert (after["a9"][0], after["n3"][0]) == ("read", "delivered")
    assert_rollup_matches(engine)
