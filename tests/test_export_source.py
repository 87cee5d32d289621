"""The rows an export streams from the store equal the data layer's, value for value, on both
stores: NULL and empty text kept apart, microseconds, line breaks and quotes inside texts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from data_access import reports
from data_access.filters import ReportFilter
from data_access.tables import messages
from exports import source
from tests.conftest import TIMEZONE
from tests.exports_data import NEWEST_FIRST, day, load, scope_of

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
