"""The daily series, the top errors and the delivery times are made from their days' rows
(reports.DAY_READS), each day's kept apart (Services): a range asks the store only for the days
not read yet at the data version, and its figures equal the range read whole."""

from __future__ import annotations

import pandas as pd
import pytest

from data_access import reports
from data_access.filters import ReportFilter
from tests.conftest import TIMEZONE
from tests.dashboard_data import FixedViewerServices, at, day, rows, viewer_for

DAY_READS = {name: rows_name for name, (rows_name, _) in reports.DAY_READS.items()}


@pytest.fixture
def services(engine, store_settings, load_rows):
    load_rows(engine, rows())
    return FixedViewerServices(store_settings, engine, viewer_for(engine))


def whatsapp(first: int, last: int) -> ReportFilter:
    """WhatsApp from `first` days ago to `last` days ago."""
    return ReportFilter.build("whatsapp", day(first), day(last), timezone=TIMEZONE)


def record_reads(monkeypatch) -> dict[str, list[tuple]]:
    """The ranges each day read asks the store for, as (first, last) days ago."""
    asked: dict[str, list[tuple]] = {name: [] for name in DAY_READS.values()}
    for rows_name in DAY_READS.values():
        original = getattr(reports, rows_name)

        def recorded(bind, scope, flt, rows_name=rows_name, original=original):
            asked[rows_name].append(((day(0) - flt.start).days, (day(0) - flt.end).days))
            return original(bind, scope, flt)

        monkeypatch.setattr(reports, rows_name, recorded)
    return asked


def read_all(services, flt: ReportFilter) -> dict[str, pd.DataFrame]:
    scope = services.current_viewer().scope
    return {
        "daily_series": services.daily_series(scope, flt),
        "top_errors": services.top_errors(scope, flt),
        "delivery_times": services.delivery_times(scope, flt),
    }


def test_a_range_asks_only_for_the_days_not_read_and_equals_the_range_read_whole(
    services, engine, monkeypatch
):
    scope = services.current_viewer().scope
    ranges = {
        "first": whatsapp(6, 2),
        # Two days more at each end.
        "wider": whatsapp(8, 0),
        # Within days read.
        "within": whatsapp(5, 3),
        # The wider range's previous period: nine days before it.
        "previous": reports.previous_filter(whatsapp(8, 0)),
    }
    whole = {
        label: {name: getattr(reports, name)(engine, scope, flt) for name in DAY_READS}
        for label, flt in ranges.items()
    }
    asked = record_reads(monkeypatch)

    made = {label: read_all(services, flt) for label, flt in ranges.items()}

    for rows_name in DAY_READS.values():
        assert asked[rows_name] == [(6, 2), (8, 7), (1, 0), (17, 9)], rows_name
    for label in ranges:
        for name in DAY_READS:
            pd.testing.assert_frame_equal(made[label][name], whole[label][name])
    # The figures themselves, from the hand-built rows (tests/dashboard_data.py).
    wider = made["wider"]
    assert wider["daily_series"]["total"].tolist() == [0, 0, 0, 0, 0, 0, 3, 4, 1]
    assert wider["daily_series"]["errors"].tolist() == [0, 0, 0, 0, 0, 0, 1, 2, 0]
    assert wider["top_errors"][["error_code", "error_description", "count"]].values.tolist() == [
        ["131026", "Message undeliverable", 2],
        ["131047", "Re-engagement message", 1],
    ]
    assert wider["top_errors"]["share"].round(2).tolist() == [66.67, 33.33]
    # Delivered: w1, w2 two days ago and w7 yesterday; the last row is the whole range's.
    assert wider["delivery_times"]["delivered"].tolist()[-4:] == [2, 1, 0, 3]
    assert made["first"]["daily_series"]["total"].tolist() == [0, 0, 0, 0, 3]
    assert made["within"]["daily_series"]["total"].sum() == 0
    assert made["within"]["top_errors"].empty
    assert made["previous"]["daily_series"]["total"].sum() == 0


def test_a_write_makes_the_days_read_again(services, engine, load_rows, monkeypatch):
    asked = record_reads(monkeypatch)
    flt = whatsapp(8, 0)
    before = read_all(services, flt)
    assert read_all(services, whatsapp(4, 1))["daily_series"]["total"].sum() == 7
    load_rows(
        engine,
        [
            {
                "channel": "whatsapp",
                "direction": "MT",
                "content_type": "text",
                "message_id": "w10",
                "subaccount": "Brand A",
                "phone": "+5511988887777",
                "status": "error",
                "error_code": "131047",
                "error_description": "Re-engagement message",
                "created_at": at(1, 18),
            }
        ],
    )

    after = read_all(services, flt)

    # Once for the first range (the second was within it), once again after the write.
    assert asked["daily_rows"] == [(8, 0), (8, 0)]
    assert before["daily_series"]["total"].tolist()[-3:] == [3, 4, 1]
    assert after["daily_series"]["total"].tolist()[-3:] == [3, 5, 1]
    assert after["top_errors"][["error_code", "count"]].values.tolist() == [
        ["131026", 2],
        ["131047", 2],
    ]


def test_another_scope_does_not_see_the_days_read_for_one(services, engine, monkeypatch):
    asked = record_reads(monkeypatch)
    flt = whatsapp(6, 0)
    admin = services.current_viewer().scope
    brand_b = viewer_for(engine, ["Brand B"]).scope

    everyone = services.daily_series(admin, flt)
    only_b = services.daily_series(brand_b, flt)

    assert asked["daily_rows"] == [(6, 0), (6, 0)]
    assert everyone["total"].tolist()[-3:] == [3, 4, 1]
    # Brand B: w3 two days ago, w5 and w6 yesterday.
    assert only_b["total"].tolist()[-3:] == [1, 2, 0]
