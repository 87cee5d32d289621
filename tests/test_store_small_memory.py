"""The embedded store under a tiny memory limit: loads size their chunks to it and succeed.

64MB is below what the app allows (DUCKDB_MEMORY_LIMIT's minimum is 256MB, for exports), so
it stands for a store many times bigger than its limit. A merge of 100,000-row chunks ran out
of memory there in its first fold, and the contacts' and messages' key indexes grew in memory
with every message loaded.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from data_access.loader import chunk_rows_for, load_files
from data_access.store import create_schema, make_engine
from data_access.tables import contacts
from tests.conftest import TIMEZONE
from tests.store_counts import key_count, message_counts, rollup_counts

ROWS = 80_000
DAYS = 20
LOADER_HEADER = (
    "message_id,channel,direction,subaccount,user,campaign,content_type,phone,contact_name,"
    "content,status,error_code,error_description,created_at,sent_at,delivered_at,read_at,"
    "correlation_id"
).split(",")


def write_file(path, rows: int) -> None:
    """Row n: its own id and phone; every third delivered, every fifth failed, else sent."""
    start = datetime(2026, 11, 1, 12, 0, 0)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(LOADER_HEADER)
        for n in range(rows):
            created = start + timedelta(days=n % DAYS, seconds=n)
            stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            later = (created + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
            status = "delivered" if n % 3 == 0 else "error" if n % 5 == 0 else "sent"
            out.writerow(
                [
                    f"wamid.small{n:07d}",
                    "whatsapp",
                    "MT",
                    f"Sub {n % 4}",
                    "",
                    f"Campaign {n % 7}",
                    "text",
                    f"+55119{n:08d}",
                    f"Contact {n}",
                    f"Hello {n}, your order is on its way. " * 3,
                    status,
                    "131026" if status == "error" else "",
                    "Message undeliverable" if status == "error" else "",
                    stamp,
                    stamp,
                    later if status == "delivered" else "",
                    "",
                    "",
                ]
            )


def expected_delivered() -> int:
    return len([n for n in range(ROWS) if n % 3 == 0])


def expected_errors() -> int:
    return len([n for n in range(ROWS) if n % 3 != 0 and n % 5 == 0])


def test_a_load_under_64mb_merges_every_row_and_a_reload_changes_nothing(tmp_path):
    path = tmp_path / "messages.csv"
    write_file(path, ROWS)
    engine = make_engine(f"duckdb:///{tmp_path / 'small.duckdb'}", "64MB", duckdb_threads=1)
    try:
        create_schema(engine, TIMEZONE)
        assert chunk_rows_for(engine) == 25_585

        first = load_files(engine, [path], TIMEZONE)
        again = load_files(engine, [path], TIMEZONE)

        assert (first.rows_loaded, first.rows_changed) == (ROWS, ROWS)
        assert (again.rows_loaded, again.rows_changed) == (ROWS, 0)
        with engine.connect() as conn:
            stored = message_counts(conn)
            rolled = rollup_counts(conn)
            phones = conn.execute(
                select(func.count(), func.count(func.distinct(contacts.c.phone))).select_from(
                    contacts
                )
            ).one()
            keys = key_count(conn)
            memory = conn.execute(
                text("SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag = 'ART_INDEX'")
            ).scalar_one()
        assert stored == (ROWS, ROWS, expected_delivered(), expected_errors())
        assert rolled == (ROWS, expected_delivered())
        assert tuple(phones) == (ROWS, ROWS)
        assert keys == ROWS
        # No index grows with the messages (these are November's, outside the recent keys):
        # what is left is the small tables' keys, a 256KB block each, at any size. The
        # messages' and contacts' keys took about 200 bytes a message, 16MB here.
        assert (memory or 0) <= 2 * 2**20
    finally:
        engine.dispose()
