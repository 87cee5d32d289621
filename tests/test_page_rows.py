"""A detailed page's rows are found by their ids, then read with their names: on DuckDB at their
row numbers (confirmed by id), by their days should the rows have moved in between."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.loader import load_files
from data_access.tables import MESSAGE_ROW, messages, subaccounts
from tests.conftest import TIMEZONE, write_csv

END = date(2026, 11, 20)
STATUSES = ("delivered", "error", "read", "sent")
PHONES = ("+5511987650001", "+5511987650002", "+5511987650003")


def rows() -> list[dict]:
    """Twelve messages over six days: status and phone take turns, so a page by status holds
    messages of days far apart, as in a real store."""
    out = []
    for n in range(12):
        day = END - timedelta(days=n % 6)
        status = STATUSES[n % 4]
        out.append(
            {
                "message_id": f"m-{n:02d}",
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": "Brand A",
                "content_type": "text",
                "phone": PHONES[n % 3],
                "status": status,
                "error_code": "131026" if status == "error" else "",
                "created_at": f"{day.isoformat()}T12:{n:02d}:00-03:00",
            }
        )
    return out


def scope_and_filter(engine) -> tuple[AccessScope, ReportFilter]:
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    flt = ReportFilter.build("whatsapp", END - timedelta(days=9), END, timezone=TIMEZONE, today=END)
    return scope, flt


def test_pages_by_status_hold_the_messages_of_each_status_in_id_order(engine, tmp_path):
    load_files(engine, [write_csv(tmp_path / "m.csv", rows())], TIMEZONE)
    scope, flt = scope_and_filter(engine)
    # By the status's place in a message's life: sent, error, delivered, read; ties by id.
    expected = [
        "m-03", "m-07", "m-11",  # sent
        "m-01", "m-05", "m-09",  # error
        "m-00", "m-04", "m-08",  # delivered
        "m-02", "m-06", "m-10",  # read
    ]  # fmt: skip
    for offset in range(0, 12, 5):
        page = reports.detailed_rows(engine, scope, flt, sort="status", offset=offset, limit=5,
                                     descending=False)  # fmt: skip
        assert list(page["message_id"]) == expected[offset : offset + 5]
        # Every column comes with the row: its phone, status and error.
        by_id = {r["message_id"]: r for r in rows()}
        for shown in page.to_dict("records"):
            given = by_id[shown["message_id"]]
            assert shown["phone"] == given["phone"].lstrip("+")
            assert shown["status"] == given["status"]
            code = shown["error_code"]
            assert (None if pd.isna(code) else code) == (given["error_code"] or None)


def test_rows_that_moved_since_their_ids_were_found_are_read_by_their_days(engine, tmp_path):
    load_files(engine, [write_csv(tmp_path / "m.csv", rows())], TIMEZONE)
    scope, flt = scope_and_filter(engine)
    with engine.connect() as conn:
        ids = reports._page_ids_select(scope, flt, "status", False, 0, 4, conn.dialect.name)
        found = [tuple(row) for row in conn.execute(ids).all()]
        right = reports._named_page(conn, found, "status", False)
        if conn.dialect.name == "duckdb":
            # Each row number now names another message (as after a compaction).
            moved = [(*row[:4], row[4] + 1) for row in found]
            at_moved = select(messages.c.message_id).where(MESSAGE_ROW.in_([m[4] for m in moved]))
            assert set(conn.execute(at_moved).scalars()) != {row[0] for row in found}
            again = reports._named_page(conn, moved, "status", False)
            assert [tuple(r) for r in again] == [tuple(r) for r in right]
    assert [r[0] for r in right] == ["m-03", "m-07", "m-11", "m-01"]


@pytest.mark.parametrize("windows", [(1,), (1, 2), (100,)])
def test_pages_in_phone_order_are_the_whole_ranges_from_a_few_contacts_or_all(
    engine, tmp_path, monkeypatch, windows
):
    # Windows of 1 and 2 contacts: the first pages come from the first contacts, the later
    # ones from every contact; 100 holds every contact at once.
    monkeypatch.setattr(reports, "PHONE_PAGE_WINDOWS", windows)
    load_files(engine, [write_csv(tmp_path / "m.csv", rows())], TIMEZONE)
    scope, flt = scope_and_filter(engine)
    by_phone = {
        False: ["m-00", "m-03", "m-06", "m-09", "m-01", "m-04", "m-07", "m-10",
                "m-02", "m-05", "m-08", "m-11"],
        True: ["m-11", "m-08", "m-05", "m-02", "m-10", "m-07", "m-04", "m-01",
               "m-09", "m-06", "m-03", "m-00"],
    }  # fmt: skip
    for descending, expected in by_phone.items():
        for offset in range(12):
            page = reports.detailed_rows(
                engine, scope, flt, sort="phone", descending=descending, offset=offset, limit=3
            )
            assert list(page["message_id"]) == expected[offset : offset + 3], (descending, offset)
