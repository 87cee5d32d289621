"""The rows an export streams from the store equal the data layer's, value for value, on both
stores: NULL and empty text kept apart, microseconds, line breaks and quotes inside texts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from data_access import reports
from data_access.filters import ReportFilter
from data_access.tables import messages
from exports import source
from tests.conftest import TIMEZONE
from tests.exports_data import NEWEST_FIRST, day, load, scope_of

m = messages.c
TRICKY = 'a "quoted", text\r\nover two lines; ünïcödé 🧪'


@pytest.fixture
def store(engine, load_rows):
    load(engine, load_rows)
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.message_id == "e1").values(contact_name=""))
        conn.execute(
            update(messages)
            .where(messages.c.message_id == "e2")
            .values(content=TRICKY, correlation_id='""', sent_at=_stored_e2_sent_at(conn))
        )
    return engine


def _stored_e2_sent_at(conn) -> datetime:
    stored = conn.execute(
        messages.select().with_only_columns(messages.c.created_at)
        .where(messages.c.message_id == "e2")
    ).scalar_one()  # fmt: skip
    return stored + timedelta(seconds=61, microseconds=123456)


def _streamed(engine, scope, flt, **options) -> list[tuple]:
    with engine.connect() as conn, conn.begin():
        with source.detailed_stream(conn, scope, flt, **options) as stream:
            rows = []
            for batch in stream.batches:
                assert batch.schema == source.DETAIL_SCHEMA
                rows += [tuple(row.values()) for row in batch.to_pylist()]
            return rows, stream.total


@pytest.mark.parametrize("piece_bytes", [source.COPY_PIECE_BYTES, 1])
def test_streamed_rows_equal_the_data_layer(store, monkeypatch, piece_bytes):
    # With 1-byte pieces every row of PostgreSQL's COPY is parsed on its own.
    monkeypatch.setattr(source, "COPY_PIECE_BYTES", piece_bytes)
    scope = scope_of(store)
    flt = ReportFilter.build("whatsapp", day(2), day(1), timezone=TIMEZONE)
    with store.connect() as conn:
        want = [tuple(row) for row in conn.execute(reports.detailed_select(scope, flt))]
    rows, total = _streamed(store, scope, flt, batch_rows=3)
    assert rows == want
    assert total == 7
    by_id = {row[0]: dict(zip(reports.DETAIL_COLUMNS, row, strict=True)) for row in rows}
    assert [row[0] for row in rows] == NEWEST_FIRST
    assert by_id["e1"]["contact_name"] == ""
    assert by_id["e2"]["contact_name"] is None
    assert by_id["e2"]["content"] == TRICKY
    assert by_id["e2"]["correlation_id"] == '""'
    assert by_id["e2"]["sent_at"] - by_id["e2"]["created_at"] == timedelta(
        seconds=61, microseconds=123456
    )
    assert by_id["e4"]["user"] is None and by_id["e4"]["campaign"] is None


@pytest.fixture
def burst(store):
    """All seven WhatsApp messages sent in one minute, e3 and e5 at the very same instant."""
    with store.begin() as conn:
        first = conn.execute(
            messages.select().with_only_columns(messages.c.created_at)
            .where(messages.c.message_id == "e1")
        ).scalar_one()  # fmt: skip
        minute = first.replace(second=0, microsecond=0)
        seconds = {"e1": 50, "e2": 3, "e3": 20, "e4": 41, "e5": 20, "e6": 7, "e7": 33}
        for message_id, second in seconds.items():
            conn.execute(
                update(messages)
                .where(messages.c.message_id == message_id)
                .values(created_at=minute + timedelta(seconds=second))
            )
    return store


@pytest.mark.parametrize("descending", [True, False])
# (50, 10**9): the whole minute is one window, which the export sorts itself (ties on the time
# by message id, as the store does); the others cut the minute into keyset pages.
@pytest.mark.parametrize(
    ("window_rows", "window_bytes"), [(50, 10**9), (2, 10**9), (50, 1), (3, 400)]
)
def test_a_minute_streams_in_order_whole_or_in_pages(burst, descending, window_rows, window_bytes):
    scope = scope_of(burst)
    flt = ReportFilter.build("whatsapp", day(2), day(1), timezone=TIMEZONE)
    with burst.connect() as conn:
        want = [row.message_id for row in conn.execute(
            reports.detailed_select(scope, flt, descending=descending)
        )]  # fmt: skip
    rows, total = _streamed(
        burst, scope, flt, descending=descending, batch_rows=2,
        window_rows=window_rows, window_bytes=window_bytes,
    )  # fmt: skip
    assert [row[0] for row in rows] == want
    assert want[:4] == (["e1", "e4", "e7", "e5"] if descending else ["e2", "e6", "e3", "e5"])
    assert total == 7


def test_windows_keep_to_both_budgets(duckdb_engine, load_rows):
    load(duckdb_engine, load_rows)
    with duckdb_engine.begin() as conn:
        conn.execute(update(messages).where(m.message_id == "e2").values(content=TRICKY))
    scope = scope_of(duckdb_engine)
    flt = ReportFilter.build("whatsapp", day(2), day(1), timezone=TIMEZONE)
    where = reports.detailed_select(scope, flt).whereclause
    with duckdb_engine.connect() as conn:
        by_rows = source._minute_windows(conn, where, True, 2, 10**9)
        sizes = source._minute_windows(conn, where, True, 100, 10**9)
        one_each = source._minute_windows(conn, where, False, 100, 1)
    # Seven messages in seven different minutes, newest first, two to a window.
    assert [w.rows for w in by_rows] == [2, 2, 2, 1]
    assert all(a.low >= b.high for a, b in zip(by_rows, by_rows[1:], strict=False))
    # The estimated size: the content's bytes plus ROW_BYTES a row.
    with duckdb_engine.connect() as conn:
        contents = conn.execute(select(m.content).where(m.channel == "whatsapp")).scalars().all()
    texts = sum(len(text.encode()) for text in contents if text is not None)
    assert texts > len("".join(text for text in contents if text))  # ü, emoji: bytes, not letters
    assert [(w.rows, w.size) for w in sizes] == [(7, 7 * source.ROW_BYTES + texts)]
    assert [w.rows for w in one_each] == [1] * 7


@pytest.mark.parametrize("span_rows", [3, 250_000])
def test_windows_in_runs_read_their_contacts_phones_once_a_run(store, monkeypatch, span_rows):
    # Seven messages in seven minutes, two to a window: windows of 2, 2, 2 and 1 rows, in runs
    # of at most span_rows rows ([2], [2], [2, 1] or all four), each run's phones read at once
    # (DuckDB only; PostgreSQL joins them).
    monkeypatch.setattr(source, "SPAN_ROWS", span_rows)
    reads = []
    real_read = source._Phones.read.__func__

    def read(cls, conn, scope, flt, low, high):
        phones = real_read(cls, conn, scope, flt, low, high)
        reads.append(len(phones.ids))
        return phones

    monkeypatch.setattr(source._Phones, "read", classmethod(read))
    scope = scope_of(store)
    flt = ReportFilter.build("whatsapp", day(2), day(1), timezone=TIMEZONE)
    with store.connect() as conn:
        want = [tuple(row) for row in conn.execute(reports.detailed_select(scope, flt))]
    rows, total = _streamed(store, scope, flt, batch_rows=3, window_rows=2)
    assert rows == want and total == 7
    if store.dialect.name == "duckdb":
        assert len(reads) == (3 if span_rows == 3 else 1)
        assert sum(reads) >= len({row[8] for row in want})
    else:
        assert reads == []
