"""The store accepts a message and counts it, on both stores."""

from datetime import date

from data_access import reports
from data_access.filters import AccessScope, ReportFilter


def test_one_message_is_counted(engine, load_rows):
    load_rows(
        engine,
        [
            {
                "message_id": "m1",
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": "Brand A",
                "content_type": "text",
                "phone": "+5511987654321",
                "status": "delivered",
                "created_at": "2026-11-20T23:30:00-03:00",
                "delivered_at": "2026-11-20T23:31:00-03:00",
            }
        ],
    )
    flt = ReportFilter.build("whatsapp", "2026-11-20", "2026-11-20", today=date(2026, 11, 25))
    daily = reports.daily_series(engine, AccessScope.of([1]), flt)
    assert daily[["total", "sent", "delivered"]].values.tolist() == [[1, 1, 1]]
