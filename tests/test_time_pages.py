"""Pages in creation order, read from the range's newest (or oldest) days first, are the same
pages the whole range gives: every offset, both orders, pages that cross days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.loader import load_files
from tests.conftest import TIMEZONE, write_csv

END = date(2026, 11, 20)
DAYS = 20
# Days with messages: the newest, then a gap, then some of the older ones (uneven counts).
PER_DAY = {0: 3, 1: 0, 2: 2, 3: 4, 7: 1, 12: 5, 19: 2}


def rows() -> list[dict]:
    out = []
    for back, count in PER_DAY.items():
        day = END - timedelta(days=back)
        for n in range(count):
            out.append(
                {
                    "message_id": f"m-{back:02d}-{n}",
                    "channel": "whatsapp",
                    "direction": "MT",
                    "subaccount": "Brand A",
                    "content_type": "text",
                    "phone": "+5511987654321",
                    "status": "sent",
                    # Noon in São Paulo, a minute apart; two share a time (ties by id).
                    "created_at": f"{day.isoformat()}T12:{min(n, 3):02d}:00-03:00",
                }
            )
    return out


def expected_order(descending: bool) -> list[str]:
    keyed = sorted(
        (
            (END - timedelta(days=int(r["message_id"][2:4])), r["created_at"], r["message_id"])
            for r in rows()
        ),
        reverse=descending,
    )
    return [message_id for _, _, message_id in keyed]


@pytest.mark.parametrize("descending", [True, False])
def test_every_page_in_creation_order_is_the_whole_ranges(engine, tmp_path, descending):
    load_files(engine, [write_csv(tmp_path / "m.csv", rows())], TIMEZONE)
    with engine.connect() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM subaccounts").all()]
    scope = AccessScope.of(ids)
    flt = ReportFilter.build(
        "whatsapp", END - timedelta(days=DAYS - 1), END, timezone=TIMEZONE, today=END
    )
    order = expected_order(descending)
    assert len(order) == sum(PER_DAY.values()) == 17
    limit = 4
    for offset in range(0, 18):
        page = reports.detailed_rows(
            engine, scope, flt, sort="created_at", descending=descending, offset=offset, limit=limit
        )
        assert page["message_id"].tolist() == order[offset : offset + limit], offset
