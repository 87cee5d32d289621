"""Statuses of recent messages merged in a few statements (data_access/recent_statuses.py): exact
on a hand-built batch, the same tables as the general merge on any batch, and handed back to
the general merge, untouched, where it cannot take a batch whole."""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest import mock

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from data_access import message_keys, recent_statuses
from data_access.loader import load_files
from data_access.merge import stored_identities
from data_access.rollup import counts_by_key
from data_access.store import create_schema, make_engine
from data_access.tables import message_events, messages
from data_access.writes import Transaction
from ingest.events import StatusEvent
from ingest.merge import merge_recent, merge_statuses
from tests.conftest import TIMEZONE, write_csv
from tests.test_recent_rows import CREATED, SCOPE, iso
from tests.test_rollup import assert_rollup_matches, mt, stored_rollup, stored_times


def at(message_created: datetime, seconds: float) -> datetime:
    return (message_created + timedelta(seconds=seconds)).replace(tzinfo=None)


def created(minutes_before: int) -> datetime:
    return CREATED - timedelta(minutes=minutes_before)


def sms(message_id: str, created_at: str, status: str, **extra) -> dict:
    return mt(message_id, created_at, status, channel="sms", content_type="text", **extra)


def apply(conn, changes: list[tuple], source: str = "whatsapp"):
    """Merge (id, status, time[, error code, description, operator]) by the quick path;
    returns its result (None: not taken, nothing written)."""
    ids = [change[0] for change in changes]
    stored = stored_identities(conn, ids)
    events = [
        StatusEvent(
            i, stored[i].channel, status, moment, *rest[:2], operator=next(iter(rest[2:]), None)
        )
        for i, status, moment, *rest in changes
    ]
    return merge_recent(Transaction(conn), events, stored, SCOPE, source)


def row_of(conn, message_id: str) -> tuple:
    m = messages.c
    return conn.execute(
        select(
            m.status, m.error_code, m.error_description, m.sent_at, m.delivered_at, m.read_at,
            m.operator,
        ).where(m.message_id == message_id)
    ).one()  # fmt: skip


def test_a_batch_of_statuses_is_merged_exactly(duckdb_engine, load_rows):
    engine = duckdb_engine
    a, b, c = created(30), created(20), created(10)
    load_rows(
        engine,
        [
            mt("a", iso(a), "sent", sent_at=iso(a + timedelta(seconds=2))),
            mt("b", iso(b), "sent"),
            sms("c", iso(c), "sent"),
        ],
    )
    batch = [
        ("a", "delivered", at(a, 4.5)),
        ("b", "read", at(b, 70)),
        ("b", "delivered", at(b, 65)),
        ("c", "error", at(c, 3), "UNDELIV", "Unknown subscriber", "Claro"),
        ("a", "delivered", at(a, 4.5)),  # the same event twice: kept once
    ]
    with engine.begin() as conn:
        merged = apply(conn, batch)
    assert merged == recent_statuses.Merged(updated=3, unchanged=0, events=4)
    with engine.connect() as conn:
        assert row_of(conn, "a") == (
            "delivered", None, None, at(a, 2), at(a, 4.5), None, None,
        )  # fmt: skip
        # Read at 70 s: delivered at 65 s, and sent then (the file said sent, with no time).
        assert row_of(conn, "b") == ("read", None, None, at(b, 65), at(b, 65), at(b, 70), None)
        assert row_of(conn, "c") == (
            "error", "UNDELIV", "Unknown subscriber", None, None, None, "Claro",
        )  # fmt: skip
        h = counts_by_key("delivery_time_rollup").subquery().c
        times = conn.execute(
            select(h.channel, h.status, h.bucket, h.delivered_count, h.read_count).order_by(
                h.channel, h.status, h.bucket
            )
        ).all()
        # 4.5 s falls in the bucket up to 5 s (3); 65 and 70 s in the one up to 90 s (11).
        assert times == [("whatsapp", "delivered", 3, 1, 0), ("whatsapp", "read", 11, 1, 1)]
        e = message_events.c
        kept = conn.execute(
            select(e.message_id, e.source, e.status, e.event_at, e.error_code)
            .where(e.source == "whatsapp")
            .order_by(e.message_id, e.event_at)
        ).all()
        assert kept == [
            ("a", "whatsapp", "delivered", at(a, 4.5), None),
            ("b", "whatsapp", "delivered", at(b, 65), None),
            ("b", "whatsapp", "read", at(b, 70), None),
            ("c", "whatsapp", "error", at(c, 3), "UNDELIV"),
        ]
    assert_rollup_matches(engine)
    # The batch again: nothing changes, no event is kept twice.
    with engine.begin() as conn:
        assert apply(conn, batch) == recent_statuses.Merged(updated=0, unchanged=3, events=0)
    assert_rollup_matches(engine)


def test_an_error_leaving_its_row_takes_its_descriptions_count_with_it(duckdb_engine, load_rows):
    engine = duckdb_engine
    y = created(20)
    load_rows(
        engine,
        [
            mt("x", iso(created(30)), "sent"),
            mt("y", iso(y), "error", error_code="131047", error_description="Alpha"),
            mt("z", iso(created(10)), "error", error_code="131047", error_description="Beta"),
        ],
    )
    with engine.begin() as conn:
        merged = apply(conn, [("x", "delivered", at(y, 1)), ("y", "delivered", at(y, 9))])
    assert merged == recent_statuses.Merged(updated=2, unchanged=0, events=2)
    with engine.connect() as conn:
        assert row_of(conn, "y")[:3] == ("delivered", None, None)
        r = counts_by_key("daily_rollup").subquery().c
        described = select(r.message_count, r.error_description).where(r.error_code == "131047")
        assert conn.execute(described).all() == [(1, "Beta")]
    assert_rollup_matches(engine)


def key_hashes(conn, message_id: str) -> tuple:
    """The message's recent key's hash columns, as stored."""
    listed = ", ".join(message_keys.HASH_COLUMNS)
    return conn.execute(
        text(f"SELECT {listed} FROM recent_keys WHERE message_id = :id"), {"id": message_id}
    ).one()


def kept_event_hashes(conn, message_id: str) -> list[int]:
    """The hashes of the message's kept events, worked out by the engine from the events."""
    return sorted(
        conn.execute(
            text(f"SELECT {message_keys.event_hash()} FROM message_events WHERE message_id = :id"),
            {"id": message_id},
        ).scalars()
    )


def test_events_past_the_key_columns_are_kept_in_its_list_by_both_paths(duckdb_engine, load_rows):
    engine = duckdb_engine
    x = created(30)
    load_rows(engine, [mt("x", iso(x), "queued")])
    with engine.connect() as conn:
        # The file's record is an event of its own: the first column.
        first = kept_event_hashes(conn, "x")
        assert len(first) == 1
        assert key_hashes(conn, "x") == (first[0], None, None, None, None)
    quick = [
        [("x", "sent", at(x, 1)), ("x", "delivered", at(x, 2))],
        [("x", "delivered", at(x, 3))],  # four events: the columns are full
        [("x", "read", at(x, 5)), ("x", "read", at(x, 6))],  # two go to the list
    ]
    for batch in quick:
        with engine.begin() as conn:
            assert apply(conn, batch).events == len(batch)
    with engine.connect() as conn:
        kept = kept_event_hashes(conn, "x")
        stored = key_hashes(conn, "x")
    assert len(kept) == 6
    assert None not in stored[:4] and len(stored[4]) == 2
    assert sorted([*stored[:4], *stored[4]]) == kept
    columns = stored[:4]
    # The general merge reads the same hashes and adds to the list.
    general = [("x", "read", at(x, 7)), ("x", "delivered", at(x, 2))]  # one new, one replayed
    with engine.begin() as conn:
        stored_x = stored_identities(conn, ["x"])
        events = [StatusEvent("x", "whatsapp", s, moment) for _, s, moment in general]
        with mock.patch("ingest.merge.merge_recent", return_value=None):
            merge_statuses(Transaction(conn), events, stored_x, SCOPE, "whatsapp")
    with engine.connect() as conn:
        kept = kept_event_hashes(conn, "x")
        stored = key_hashes(conn, "x")
    assert len(kept) == 7
    assert stored[:4] == columns and len(stored[4]) == 3
    assert sorted([*stored[:4], *stored[4]]) == kept
    # Every event again, by the quick path: none is kept twice.
    with engine.begin() as conn:
        replayed = apply(conn, [change for batch in quick for change in batch] + general)
    assert replayed.events == 0
    with engine.connect() as conn:
        assert len(kept_event_hashes(conn, "x")) == 7
    assert_rollup_matches(engine)


def test_a_message_not_at_its_row_goes_back_untouched(duckdb_engine, load_rows):
    """The table was compacted after the key was written: None, nothing written, and the
    general merge then finds the message on its day."""
    engine = duckdb_engine
    x = created(30)
    load_rows(engine, [mt("x", iso(x), "sent"), mt("w", iso(created(25)), "sent")])
    with engine.begin() as conn:
        conn.execute(text("UPDATE recent_keys SET message_row = message_row + 1"))
    with engine.connect() as conn:
        before = (row_of(conn, "x"), stored_rollup(conn), stored_times(conn))
    with engine.begin() as conn:
        assert apply(conn, [("x", "delivered", at(x, 1))]) is None
    with engine.connect() as conn:
        assert (row_of(conn, "x"), stored_rollup(conn), stored_times(conn)) == before
    with engine.begin() as conn:
        stored = stored_identities(conn, ["x"])
        events = [StatusEvent("x", "whatsapp", "delivered", at(x, 1))]
        assert merge_statuses(Transaction(conn), events, stored, SCOPE, "whatsapp") == (1, {})
    with engine.connect() as conn:
        assert row_of(conn, "x")[:5] == ("delivered", None, None, at(x, 1), at(x, 1))
    assert_rollup_matches(engine)


def test_a_message_the_recent_index_no_longer_holds_goes_back_untouched(duckdb_engine, load_rows):
    """Its key left the index after the lookup named its row: None, nothing written."""
    engine = duckdb_engine
    x = created(30)
    load_rows(engine, [mt("x", iso(x), "sent"), mt("w", iso(created(25)), "sent")])
    with engine.connect() as conn:
        before = (row_of(conn, "x"), stored_rollup(conn), stored_times(conn))
    with engine.begin() as conn:
        stored = stored_identities(conn, ["x", "w"])
        assert stored["x"].row is not None
        conn.execute(text("DELETE FROM recent_keys WHERE message_id = 'x'"))
        events = [
            StatusEvent("w", "whatsapp", "delivered", at(created(25), 1)),
            StatusEvent("x", "whatsapp", "delivered", at(x, 1)),
        ]
        assert merge_recent(Transaction(conn), events, stored, SCOPE, "whatsapp") is None
        assert (row_of(conn, "x"), stored_rollup(conn), stored_times(conn)) == before


# --------------------------------------------------------------------------- both paths

START = [
    mt("q", iso(created(50)), "queued"),
    mt("s", iso(created(45)), "sent", sent_at=iso(created(45) + timedelta(seconds=1))),
    mt(
        "d",
        iso(created(40)),
        "delivered",
        sent_at=iso(created(40) + timedelta(seconds=1)),
        delivered_at=iso(created(40) + timedelta(seconds=8)),
    ),
    mt("e", iso(created(35)), "error", error_code="131047", error_description="Alpha"),
    # Two more in e's roll-up row: one with a larger description, one with the same.
    mt("g", iso(created(34)), "error", error_code="131047", error_description="Beta"),
    mt("h", iso(created(33)), "error", error_code="131047", error_description="Alpha"),
    mt("f", iso(created(30)), "error", error_code="131026", user="bruno"),
    mt("r", iso(created(25)), "read", read_at=iso(created(25) + timedelta(seconds=30))),
    sms("m", iso(created(20)), "sent"),
    sms("n", iso(created(15)), "delivered", operator="Vivo"),
]
CHANNEL = {row["message_id"]: row.get("channel", "whatsapp") for row in START}
STATUSES = {
    "whatsapp": ("queued", "cancelled", "sent", "delivered", "read", "error"),
    "sms": ("queued", "sent", "delivered", "error"),
}
# Seconds after the message's creation: before it, inside buckets, on a bound, past a day.
OFFSETS = (-5.0, 0.0, 3.0, 4.5, 5.0, 5.000001, 61.0, 3600.0, 90_000.0, 700_000.0)


@st.composite
def status_batches(draw) -> list[tuple]:
    created_at = {row["message_id"]: datetime.fromisoformat(row["created_at"]) for row in START}
    batch = []
    for _ in range(draw(st.integers(1, 12))):
        message_id = draw(st.sampled_from(sorted(CHANNEL)))
        status = draw(st.sampled_from(STATUSES[CHANNEL[message_id]]))
        offset = draw(st.one_of(st.none(), st.sampled_from(OFFSETS)))
        moment = None if offset is None else at(created_at[message_id], offset)
        code = draw(st.sampled_from((None, "131026", "131047", "UNDELIV")))
        description = draw(st.sampled_from((None, "Alpha", "Beta")))
        operator = draw(st.sampled_from((None, "Claro", "Vivo")))
        batch.append((message_id, status, moment, code, description, operator))
    return batch


@pytest.fixture(scope="module")
def start_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recent-statuses")
    engine = make_engine(f"duckdb:///{folder / 'reports.duckdb'}")
    create_schema(engine, TIMEZONE)
    load_files(engine, [write_csv(folder / "start.csv", START)], TIMEZONE)
    yield engine
    engine.dispose()


def tables(conn) -> dict:
    events = conn.execute(select(*(c for c in message_events.columns if c.name != "recorded_at")))
    hashes = conn.execute(text(f"SELECT message_id, {message_keys.kept_hashes()} FROM recent_keys"))
    return {
        "messages": sorted(tuple(r) for r in conn.execute(select(messages))),
        "rollup": stored_rollup(conn),
        "times": stored_times(conn),
        "events": sorted((tuple(r) for r in events), key=repr),
        "hashes": sorted((i, sorted(h or ())) for i, h in hashes),
    }


def merged_by(engine, batch: list[tuple], quick: bool):
    """The tables after the batch, merged as the inbox does (quick path first) or by the
    general merge only; rolled back after."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            stored = stored_identities(conn, [b[0] for b in batch])
            events = [
                StatusEvent(i, CHANNEL[i], status, moment, code, description, operator=operator)
                for i, status, moment, code, description, operator in batch
            ]
            tx = Transaction(conn)
            if quick:
                returned = []

                def spy(*args):
                    returned.append(merge_recent(*args))
                    return returned[-1]

                with mock.patch("ingest.merge.merge_recent", spy):
                    result = merge_statuses(tx, events, stored, SCOPE, "sinch")
                event("quick path" if returned and returned[0] is not None else "general merge")
            else:
                with mock.patch("ingest.merge.merge_recent", return_value=None):
                    result = merge_statuses(tx, events, stored, SCOPE, "sinch")
            return result, tx.changed, tables(conn)
        finally:
            transaction.rollback()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=status_batches())
def test_both_paths_leave_the_same_tables(start_store, batch):
    quick = merged_by(start_store, batch, quick=True)
    general = merged_by(start_store, batch, quick=False)
    assert quick == general


def test_the_quick_path_takes_the_common_batches(start_store):
    """The property test compares the paths; here, that the quick one is the one taken."""
    with start_store.connect() as conn:
        transaction = conn.begin()
        try:
            moment = at(datetime.fromisoformat(START[1]["created_at"]), 4)
            merged = apply(conn, [("s", "delivered", moment), ("m", "error", moment, "X", "y")])
            assert merged == recent_statuses.Merged(updated=2, unchanged=0, events=2)
        finally:
            transaction.rollback()


@settings(max_examples=200, deadline=None)
@given(
    moment=st.one_of(
        st.none(), st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 1, 1))
    ),
    status=st.sampled_from(("sent", "delivered", "error")),
    code=st.one_of(st.none(), st.text(max_size=6)),
)
def test_an_events_hash_is_the_engines(moment, status, code):
    event = {"source": "sinch", "status": status, "event_at": moment, "error_code": code}
    with duckdb.connect() as conn:
        engines = conn.execute(
            f"SELECT {message_keys.event_hash('e')} FROM (SELECT ?::VARCHAR AS source, "
            "?::VARCHAR AS status, ?::TIMESTAMP AS event_at, ?::VARCHAR AS error_code) e",
            [event["source"], status, moment, code],
        ).fetchone()[0]
    assert recent_statuses.event_hash(event) == engines
