"""Messages past RETENTION_DAYS go by whole days; the roll-up keeps what they counted."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from config import SettingsError, load_settings
from data_access import message_keys
from data_access.filters import today_in
from data_access.loader import load_files
from data_access.retention import purge_messages
from data_access.store import data_version
from data_access.tables import daily_rollup, message_events, messages
from tests.conftest import TIMEZONE, write_csv

TODAY = today_in(TIMEZONE)
DAYS_BACK = (500, 401, 400, 399, 10)


def send(message_id: str, days_back: int) -> dict:
    noon = datetime.combine(TODAY - timedelta(days=days_back), time(12), ZoneInfo(TIMEZONE))
    return {
        "message_id": message_id,
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": "Brand A",
        "content_type": "text",
        "phone": "+5511987654321",
        "status": "delivered",
        "created_at": noon.isoformat(),
        "delivered_at": (noon + timedelta(minutes=1)).isoformat(),
    }


def by_day(conn, table, count=None):
    count = func.count() if count is None else count
    return dict(
        conn.execute(select(table.c.created_day, count).group_by(table.c.created_day)).all()
    )


def test_whole_days_past_the_retention_go_and_the_rollup_keeps_them(engine, tmp_path):
    rows = [send(f"m-{back}-{n}", back) for back in DAYS_BACK for n in range(3)]
    load_files(engine, [write_csv(tmp_path / "old.csv", rows)], TIMEZONE)
    with engine.connect() as conn:
        rollup_before = by_day(conn, daily_rollup, func.sum(daily_rollup.c.message_count))
        version = data_version(conn)
    assert sorted(rollup_before.values()) == [3] * 5

    assert purge_messages(engine, 400, TODAY) == 6  # the 500 and 401 days back
    with engine.connect() as conn:
        kept = by_day(conn, messages)
        events = by_day(conn, message_events)
        rollup_after = by_day(conn, daily_rollup, func.sum(daily_rollup.c.message_count))
        assert data_version(conn) == version + 1
    assert sorted(kept) == [TODAY - timedelta(days=back) for back in (400, 399, 10)]
    assert set(kept.values()) == {3}
    assert sorted(events) == sorted(kept)
    assert rollup_after == rollup_before

    assert purge_messages(engine, 400, TODAY) == 0  # nothing more, and no new version
    with engine.connect() as conn:
        assert data_version(conn) == version + 1


def test_retention_never_reaches_into_the_reports_window(engine, tmp_path):
    load_files(
        engine, [write_csv(tmp_path / "recent.csv", [send("r-1", 89), send("r-2", 91)])], TIMEZONE
    )
    # Asked for less than 90 days, it still keeps 90.
    assert purge_messages(engine, 30, TODAY) == 1
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.message_id)).scalars().all() == ["r-1"]


def test_the_keys_of_removed_days_go_with_them_and_the_recent_ones_stay(engine, tmp_path):
    """On DuckDB the write path finds messages by its key tables (data_access/message_keys.py):
    a purge takes the removed days' keys, and the recent index keeps only its window."""
    rows = [send(f"k-{back}-{n}", back) for back in (500, 10, 1, 0) for n in range(2)]
    load_files(engine, [write_csv(tmp_path / "keys.csv", rows)], TIMEZONE)
    assert purge_messages(engine, 400, TODAY) == 2
    if engine.dialect.name == "duckdb":
        with engine.connect() as conn:
            keyed, recent = (
                dict(
                    conn.execute(
                        text(f"SELECT created_day, count(*) FROM {table} GROUP BY created_day")
                    ).all()
                )
                for table in message_keys.TABLE_COLUMNS
            )
        assert sorted(keyed.items()) == [(TODAY - timedelta(days=back), 2) for back in (10, 1, 0)]
        assert sorted(recent) == [TODAY - timedelta(days=back) for back in (1, 0)]
    # A message of a removed day sent again is a new message; the kept ones are found.
    again = [send("k-500-0", 500), {**send("k-10-0", 10), "status": "read"}]
    report = load_files(engine, [write_csv(tmp_path / "again.csv", again)], TIMEZONE)
    assert report.rows_changed == 2
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(messages.c.message_id, messages.c.status).where(
                    messages.c.message_id.in_(["k-500-0", "k-10-0"])
                )
            ).all()
        )
    assert stored == {"k-500-0": "delivered", "k-10-0": "read"}


def test_the_setting_is_at_least_90_days(tmp_path):
    assert load_settings({"DATA_DIR": str(tmp_path)}).retention_days == 400
    with pytest.raises(SettingsError, match="RETENTION_DAYS must be at least 90, got 30"):
        load_settings({"DATA_DIR": str(tmp_path), "RETENTION_DAYS": "30"})


def test_a_load_takes_the_aged_days_out_of_the_recent_keys(duckdb_engine, tmp_path):
    """Where no server runs the hourly purge, a load keeps the recent index to its window."""
    load_files(duckdb_engine, [write_csv(tmp_path / "a.csv", [send("w-0", 0)])], TIMEZONE)
    aged = TODAY - timedelta(days=message_keys.KEY_WINDOW_DAYS + 2)
    with duckdb_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO recent_keys VALUES "
                "(1, 'w-aged', :day, 1, 'whatsapp', 'MT', NULL, NULL, NULL, NULL, NULL, NULL)"
            ),
            {"day": aged},
        )
    load_files(duckdb_engine, [write_csv(tmp_path / "b.csv", [send("w-1", 1)])], TIMEZONE)
    with duckdb_engine.connect() as conn:
        kept = conn.execute(text("SELECT message_id FROM recent_keys ORDER BY 1")).scalars()
        assert list(kept) == ["w-0", "w-1"]
