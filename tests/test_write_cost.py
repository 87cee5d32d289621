"""A write's cost follows its batch: what the engine reads for it, not how long it took.

The store holds 600,000 messages (and their sent events) over 30 days in creation order
(20,000 a day, as loads and live traffic leave them). A batch of 10 statuses of the newest
day is merged through the write path while every statement's plan is looked at:

- DuckDB (no key index over the messages, data_access/message_keys.py): the ids are found by
  the recent keys' index (as many rows read as ids asked for), and no statement reads more
  than the row groups of the batch's day, never the whole table;
- PostgreSQL: no statement plans a sequential scan of the messages or their events.

A file of new messages loaded into the same store reads no stored message or event: the
ids are proven new by the key hashes (data_access/message_keys.py), their events need no
duplicate check, and the roll-up takes their counts instead of counting their days again.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from sqlalchemy import event, func, insert, select, text

from data_access import message_keys, rollup
from data_access.loader import load_files
from data_access.merge import stored_identities
from data_access.tables import contacts, daily_rollup, messages, subaccounts
from data_access.writes import Transaction, WriteScope, write
from ingest.events import StatusEvent
from ingest.merge import merge_statuses
from tests.conftest import write_csv

DAYS = 30
PER_DAY = 20_000
BATCH = 10
NEW_ROWS = 2_000
DUCKDB_ROW_GROUP = 122_880


def build(engine, today: date) -> None:
    """The messages by SQL, then the roll-up and keys counted from them."""
    first = today - timedelta(days=DAYS - 1)
    with engine.begin() as conn:
        conn.execute(insert(subaccounts).values(name="Sub A"))
        conn.execute(insert(contacts).values(phone="5511987654321", phone_tail=654321))
        sub = conn.execute(select(subaccounts.c.id)).scalar_one()
        contact = conn.execute(select(contacts.c.id)).scalar_one()
        numbers = (
            "range(:count) AS t(i)"
            if engine.dialect.name == "duckdb"
            else "generate_series(0, :count - 1) AS t(i)"
        )
        conn.execute(
            text(
                "INSERT INTO messages (message_id, channel, direction, subaccount_id, "
                "content_type, contact_id, status, created_at, created_day, sent_at) "
                "SELECT 'm' || i, 'whatsapp', 'MT', :sub, 'text', :contact, 'sent', "
                "CAST(:first AS TIMESTAMP) + (i / :per_day) * INTERVAL '1 day' "
                "+ (i % :per_day) * INTERVAL '1 second', "
                "CAST(:first AS DATE) + CAST(i / :per_day AS INTEGER), "
                "CAST(:first AS TIMESTAMP) + (i / :per_day) * INTERVAL '1 day' "
                "+ (i % :per_day) * INTERVAL '1 second' "
                f"FROM {numbers}"
            ),
            {
                "sub": sub,
                "contact": contact,
                "first": first,
                "per_day": PER_DAY,
                "count": DAYS * PER_DAY,
            },
        )
        conn.execute(
            text(
                "INSERT INTO message_events (message_id, created_day, source, status, event_at, "
                "recorded_at) SELECT message_id, created_day, 'file', 'sent', sent_at, sent_at "
                "FROM messages"
            )
        )
    # Committed first, so the messages have their lasting row numbers for the keys.
    with engine.begin() as conn:
        rollup.rebuild(conn)
        if message_keys.in_use(conn):
            message_keys.rebuild(conn)
        else:
            conn.execute(text("ANALYZE"))


def newest_ids(today: date) -> list[str]:
    """Ids of the newest day's messages, spread over it."""
    start = (DAYS - 1) * PER_DAY
    return [f"m{start + n * 997}" for n in range(BATCH)]


def merge_batch(engine, ids: list[str]) -> int:
    now = datetime.now(UTC)

    def work(tx: Transaction) -> int:
        stored = stored_identities(tx.conn, ids)
        events = [StatusEvent(i, stored[i].channel, "delivered", now) for i in ids]
        merge_statuses(tx, events, stored, WriteScope.account("test"), "whatsapp")
        return len(stored)

    return write(engine, work)


def delivered(engine, ids: list[str]) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(messages)
            .where(messages.c.message_id.in_(ids), messages.c.status == "delivered")
        ).scalar_one()


def rollup_delivered(engine, day: date) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.sum(daily_rollup.c.delivered_count)).where(
                daily_rollup.c.created_day == day
            )
        ).scalar_one()


class Profiled:
    """Each statement the engine runs, with the rows and row groups DuckDB read for it."""

    def __init__(self, engine, folder) -> None:
        self.engine = engine
        self.profile = folder / "profile.json"
        self.seen: list[tuple[str, int, int]] = []
        self.last: list[str] = []

    def read_last(self) -> None:
        # DuckDB writes a statement's profile once its result is consumed: it is read when
        # the next statement starts (and after the write).
        if self.last and self.profile.exists():
            query = json.loads(self.profile.read_text())["query"]
            self.seen.append(
                (self.last[0], query["total_rows_scanned"], query["total_row_groups_to_scan"])
            )
        self.last.clear()
        self.profile.unlink(missing_ok=True)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.read_last()
        raw = conn.connection.dbapi_connection
        raw.execute("PRAGMA enable_profiling = 'json'")
        raw.execute(f"PRAGMA profiling_output = '{self.profile}'")
        self.profile.unlink(missing_ok=True)
        self.last.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc) -> None:
        self.read_last()
        event.remove(self.engine, "before_cursor_execute", self._before)


def test_duckdb_load_of_new_messages_reads_no_stored_message(duckdb_engine, tmp_path):
    engine = duckdb_engine
    today = datetime.now(UTC).date()
    build(engine, today)
    rows = [
        {
            "message_id": f"new-{n}",
            "channel": "whatsapp",
            "direction": "MT",
            "subaccount": "Sub A",
            "content_type": "text",
            "phone": f"+55119{n:08d}",
            "status": "delivered",
            "created_at": f"{today.isoformat()}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:"
            f"{n % 60:02d}Z",
            "delivered_at": f"{today.isoformat()}T23:59:59Z",
        }
        for n in range(NEW_ROWS)
    ]
    path = write_csv(tmp_path / "new.csv", rows)
    with Profiled(engine, tmp_path) as profiled:
        report = load_files(engine, [path], "UTC")
    assert (report.rows_loaded, report.rows_changed) == (NEW_ROWS, NEW_ROWS)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == (
            DAYS * PER_DAY + NEW_ROWS
        )
    assert rollup_delivered(engine, today) == NEW_ROWS
    # Statements on the messages or their events read the batch (its messages, its sent and
    # delivered events), never the 600,000 stored messages or their events.
    stored_reads = [
        (statement, rows)
        for statement, rows, _ in profiled.seen
        if "messages" in statement or "message_events" in statement
    ]
    assert stored_reads, "the load wrote messages and events"
    assert max(rows for _, rows in stored_reads) <= 3 * NEW_ROWS


@pytest.mark.parametrize("path", ["quick", "general"])
def test_duckdb_reads_the_batch_keys_and_its_day_only(duckdb_engine, tmp_path, path):
    """Both ways a batch of statuses is merged: the few statements for recent messages
    (data_access/recent_statuses.py) and the general merge it hands other batches to."""
    engine = duckdb_engine
    today = datetime.now(UTC).date()
    build(engine, today)
    profile = tmp_path / "profile.json"
    seen: list[tuple[str, int, int]] = []
    last: list[str] = []

    def read_last() -> None:
        # DuckDB writes a statement's profile once its result is consumed: it is read when
        # the next statement starts (and after the write).
        if last and profile.exists():
            query = json.loads(profile.read_text())["query"]
            seen.append((last[0], query["total_rows_scanned"], query["total_row_groups_to_scan"]))
        last.clear()
        profile.unlink(missing_ok=True)

    @event.listens_for(engine, "before_cursor_execute")
    def _profile(conn, cursor, statement, parameters, context, executemany):
        read_last()
        raw = conn.connection.dbapi_connection
        raw.execute("PRAGMA enable_profiling = 'json'")
        raw.execute(f"PRAGMA profiling_output = '{profile}'")
        profile.unlink(missing_ok=True)
        last.append(statement)

    ids = newest_ids(today)
    general = mock.patch("ingest.merge.merge_recent", return_value=None)
    with general if path == "general" else contextlib.nullcontext():
        assert merge_batch(engine, ids) == BATCH
    read_last()
    event.remove(engine, "before_cursor_execute", _profile)

    assert delivered(engine, ids) == BATCH
    assert rollup_delivered(engine, today) == BATCH
    staged = [s for s, _, _ in seen if "CREATE TEMPORARY" in s]
    if path == "quick":
        # No table staged; one statement a table written, and the keys' lookups.
        assert staged == []
        assert len(seen) <= 12
    else:
        assert staged
    # The batch's keys (identity and row), then their kept events' hashes: BATCH rows each
    # (the quick path reads the hashes with the messages' rows, in one statement).
    lookups = [s for s in seen if "FROM recent_keys" in s[0] and "FROM messages" not in s[0]]
    assert [rows for _, rows, _ in lookups] == ([BATCH] if path == "quick" else [BATCH, BATCH])
    # The store spans 5 row groups; a statement reads at most the 1-2 holding the newest day.
    message_scans = [s for s in seen if "messages" in s[0] and s[2] >= 4]
    assert message_scans, "the update and the roll-up recount read the messages"
    assert max(rows for _, rows, _ in seen) <= 2 * DUCKDB_ROW_GROUP < DAYS * PER_DAY


@pytest.mark.postgres
def test_postgres_plans_no_scan_of_the_messages(postgres_server, tmp_path):
    from data_access.store import create_schema, make_engine

    url = postgres_server.create_database("write_cost")
    engine = make_engine(url)
    create_schema(engine, "America/Sao_Paulo")
    today = datetime.now(UTC).date()
    build(engine, today)
    plans: list[tuple[str, list[tuple[str, str]]]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _explain(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT", "DELETE")):
            with conn.connection.dbapi_connection.cursor() as explain:
                explain.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
                plan = explain.fetchone()[0][0]["Plan"]
            plans.append((statement, list(_scans(plan))))

    ids = newest_ids(today)
    try:
        assert merge_batch(engine, ids) == BATCH
    finally:
        event.remove(engine, "before_cursor_execute", _explain)
    assert delivered(engine, ids) == BATCH
    assert rollup_delivered(engine, today) == BATCH
    scanned = [
        (statement, relation)
        for statement, scans in plans
        for kind, relation in scans
        if kind == "Seq Scan" and relation in ("messages", "message_events")
    ]
    assert scanned == []
    by_index = {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}
    assert any(
        kind in by_index and relation == "messages"
        for _, scans in plans
        for kind, relation in scans
    )
    engine.dispose()


def _scans(plan: dict):
    if "Relation Name" in plan:
        yield plan["Node Type"], plan["Relation Name"]
    for child in plan.get("Plans", []):
        yield from _scans(child)
