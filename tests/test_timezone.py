"""Day buckets and displayed times follow the account time zone across DST, on both stores."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from config import SettingsError, load_settings
from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.loader import load_files
from data_access.store import create_schema, data_version, ensure_timezone, make_engine, read_meta
from data_access.tables import messages, subaccounts
from tests.conftest import TIMEZONE, write_csv

NEW_YORK = "America/New_York"

# In 2026 New York moves to EDT (UTC-4) on 8 March at 07:00 UTC and back to EST (UTC-5) on
# 1 November at 06:00 UTC. Each message sits where a fixed offset would pick the wrong day.
# message_id: (created_at in UTC, day in New York, day in Sao Paulo (UTC-3 all year))
DST_MESSAGES = {
    "mar-1": ("2026-03-08T04:30:00Z", date(2026, 3, 7), date(2026, 3, 8)),  # 23:30 EST
    "mar-2": ("2026-03-08T05:30:00Z", date(2026, 3, 8), date(2026, 3, 8)),  # 00:30 EST
    "mar-3": ("2026-03-09T03:30:00Z", date(2026, 3, 8), date(2026, 3, 9)),  # 23:30 EDT
    "mar-4": ("2026-03-09T04:30:00Z", date(2026, 3, 9), date(2026, 3, 9)),  # 00:30 EDT
    "nov-1": ("2026-11-01T03:30:00Z", date(2026, 10, 31), date(2026, 11, 1)),  # 23:30 EDT
    "nov-2": ("2026-11-01T04:30:00Z", date(2026, 11, 1), date(2026, 11, 1)),  # 00:30 EDT
    "nov-3": ("2026-11-01T05:30:00Z", date(2026, 11, 1), date(2026, 11, 1)),  # 01:30 EDT
    "nov-4": ("2026-11-01T06:30:00Z", date(2026, 11, 1), date(2026, 11, 1)),  # 01:30 EST
    "nov-5": ("2026-11-02T04:30:00Z", date(2026, 11, 1), date(2026, 11, 2)),  # 23:30 EST
}


def _rows() -> list[dict]:
    return [
        {
            "message_id": message_id,
            "channel": "whatsapp",
            "direction": "MT",
            "subaccount": "Brand A",
            "content_type": "text",
            "phone": "+12125550100",
            "status": "sent",
            "created_at": created_at,
            "sent_at": created_at,
        }
        for message_id, (created_at, _, _) in DST_MESSAGES.items()
    ]


def _load(engine, tmp_path, timezone: str) -> None:
    path = write_csv(tmp_path / f"dst-{timezone.replace('/', '-')}.csv", _rows())
    load_files(engine, [path], timezone)


def _stored_days(engine) -> dict[str, date]:
    with engine.connect() as conn:
        rows = conn.execute(select(messages.c.message_id, messages.c.created_day)).all()
    return {message_id: day for message_id, day in rows}


def _expected_days(column: int) -> dict[str, date]:
    return {message_id: values[column] for message_id, values in DST_MESSAGES.items()}


def _scope(engine) -> AccessScope:
    with engine.connect() as conn:
        return AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())


def _totals_by_day(engine, start: date, end: date) -> list[tuple[date, int]]:
    flt = ReportFilter.build("whatsapp", start, end, timezone=NEW_YORK, today=end)
    daily = reports.daily_series(engine, _scope(engine), flt)
    return list(zip(daily["date"], daily["total"].tolist(), strict=True))


def _assert_new_york_reports(engine) -> None:
    assert _totals_by_day(engine, date(2026, 3, 6), date(2026, 3, 10)) == [
        (date(2026, 3, 6), 0),
        (date(2026, 3, 7), 1),
        (date(2026, 3, 8), 2),
        (date(2026, 3, 9), 1),
        (date(2026, 3, 10), 0),
    ]
    assert _totals_by_day(engine, date(2026, 10, 30), date(2026, 11, 2)) == [
        (date(2026, 10, 30), 0),
        (date(2026, 10, 31), 1),
        (date(2026, 11, 1), 4),
        (date(2026, 11, 2), 0),
    ]


def test_days_follow_new_york_dst_when_loaded_in_that_zone(engine, store_settings, tmp_path):
    settings = load_settings(
        {
            "DATA_DIR": str(store_settings.data_dir),
            "DATABASE_URL": store_settings.database_url,
            "ACCOUNT_TIMEZONE": NEW_YORK,
        }
    )
    assert settings.account_timezone == NEW_YORK
    create_schema(engine, settings.account_timezone)
    _load(engine, tmp_path, settings.account_timezone)

    assert _stored_days(engine) == _expected_days(1)
    _assert_new_york_reports(engine)
    with engine.connect() as conn:
        assert read_meta(conn, "account_timezone") == NEW_YORK


def test_detailed_times_carry_the_offset_of_their_date(engine, tmp_path):
    ensure_timezone(engine, NEW_YORK)
    _load(engine, tmp_path, NEW_YORK)
    flt = ReportFilter.build(
        "whatsapp", "2026-10-30", "2026-11-02", timezone=NEW_YORK, today=date(2026, 11, 25)
    )
    page = reports.detailed_page(engine, _scope(engine), flt, sort="created_at", descending=False)
    assert page.total == 5
    assert [t.isoformat() for t in page.rows["created_at"]] == [
        "2026-10-31T23:30:00-04:00",
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T23:30:00-05:00",
    ]
    assert [t.isoformat() for t in page.rows["sent_at"]] == [
        t.isoformat() for t in page.rows["created_at"]
    ]
    assert str(page.rows["created_at"].dt.tz) == NEW_YORK


def test_switching_zone_recomputes_every_day(engine, tmp_path):
    _load(engine, tmp_path, TIMEZONE)
    assert _stored_days(engine) == _expected_days(2)
    with engine.connect() as conn:
        version = data_version(conn)

    create_schema(engine, NEW_YORK)

    assert _stored_days(engine) == _expected_days(1)
    _assert_new_york_reports(engine)
    with engine.connect() as conn:
        assert read_meta(conn, "account_timezone") == NEW_YORK
        assert data_version(conn) == version + 1

    ensure_timezone(engine, TIMEZONE)
    assert _stored_days(engine) == _expected_days(2)
    with engine.connect() as conn:
        assert read_meta(conn, "account_timezone") == TIMEZONE


def test_same_zone_leaves_the_store_untouched(engine, tmp_path):
    _load(engine, tmp_path, TIMEZONE)
    with engine.connect() as conn:
        version = data_version(conn)
    ensure_timezone(engine, TIMEZONE)
    with engine.connect() as conn:
        assert data_version(conn) == version
    assert _stored_days(engine) == _expected_days(2)


def test_unknown_zone_is_refused_before_anything_changes(engine, tmp_path):
    _load(engine, tmp_path, TIMEZONE)
    with pytest.raises(SettingsError, match="Mars/Olympus_Mons"):
        ensure_timezone(engine, "Mars/Olympus_Mons")
    with engine.connect() as conn:
        assert read_meta(conn, "account_timezone") == TIMEZONE
    assert _stored_days(engine) == _expected_days(2)


def test_create_schema_again_keeps_one_set_of_indexes(engine, tmp_path):
    # Start-up runs create_schema on every start; on PostgreSQL it adds indexes. Neither a
    # second run nor a DuckDB store created afterwards in the same process may trip on them.
    create_schema(engine, TIMEZONE)
    other = make_engine(f"duckdb:///{tmp_path / 'other.duckdb'}")
    try:
        create_schema(other, TIMEZONE)
        with other.connect() as conn:
            assert read_meta(conn, "account_timezone") == TIMEZONE
    finally:
        other.dispose()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            names = conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'messages'")
            ).scalars()
            assert sorted(names) == [
                "messages_contact_created",
                "messages_created",
                "messages_day_channel",
                "messages_pkey",
            ]
