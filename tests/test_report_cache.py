"""Cached report reads: a load shows at once, scopes never share an entry, callers cannot taint."""

from __future__ import annotations

import threading
import time as time_module
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from dashboard import services as services_module
from dashboard.callbacks.consolidated import consolidated_content
from dashboard.services import Services
from data_access.cache import CELL_BYTES, FRAME_BYTES, ReportCache, size_of
from data_access.filters import AccessScope, ReportFilter, today_in
from data_access.reports import DetailedPage
from reporting.view_state import ViewState
from tests.auth_helpers import ROWS_A, ROWS_B, subaccount_ids, two_brand_rows
from tests.conftest import TIMEZONE
from tests.dashboard_data import texts, viewer_for


def _more_brand_a(count: int) -> list[dict]:
    """`count` more delivered WhatsApp messages of Brand A, yesterday evening."""
    yesterday = today_in(TIMEZONE) - timedelta(days=1)
    evening = datetime.combine(yesterday, time(20, 0), tzinfo=ZoneInfo(TIMEZONE))
    return [
        {
            "message_id": f"late-{n}",
            "channel": "whatsapp",
            "direction": "MT",
            "subaccount": "Brand A",
            "content_type": "text",
            "phone": "+5511987650001",
            "content": f"late {n}",
            "status": "delivered",
            "created_at": (evening + timedelta(minutes=n)).isoformat(),
            "sent_at": (evening + timedelta(minutes=n)).isoformat(),
            "delivered_at": (evening + timedelta(minutes=n, seconds=5)).isoformat(),
        }
        for n in range(count)
    ]


def _week() -> ReportFilter:
    return ReportFilter.build("whatsapp", timezone=TIMEZONE)


def test_a_load_changes_the_cached_result(engine, store_settings, load_rows):
    load_rows(engine, two_brand_rows())
    services = Services(settings=store_settings, engine=engine)
    everyone = AccessScope.of(subaccount_ids(engine).values())

    first = services.daily_series(everyone, _week())
    again = services.daily_series(everyone, _week())
    assert int(first["total"].sum()) == int(again["total"].sum()) == ROWS_A + ROWS_B
    assert (services.cache.hits, services.cache.misses) == (1, 1)

    load_rows(engine, _more_brand_a(4))
    after = services.daily_series(everyone, _week())
    assert int(after["total"].sum()) == ROWS_A + ROWS_B + 4
    assert int(after["delivered"].sum()) == ROWS_A + 4
    assert (services.cache.hits, services.cache.misses) == (1, 2)

    page = services.detailed_page(everyone, _week(), limit=50)
    assert page.total == ROWS_A + ROWS_B + 4
    assert page.rows["message_id"].iloc[0] == "late-3"
    # Another page of the same view counts nothing again, and a load recounts.
    second = services.detailed_page(everyone, _week(), offset=25, limit=25)
    assert (second.total, len(second.rows)) == (ROWS_A + ROWS_B + 4, ROWS_A + ROWS_B + 4 - 25)
    assert services.cache.hits == 2
    load_rows(engine, [dict(row, message_id=f"{row['message_id']}-b") for row in _more_brand_a(2)])
    assert services.detailed_page(everyone, _week(), offset=25, limit=25).total == (
        ROWS_A + ROWS_B + 6
    )


def test_two_scopes_never_share_an_entry(engine, store_settings, load_rows):
    load_rows(engine, two_brand_rows())
    services = Services(settings=store_settings, engine=engine)
    known = subaccount_ids(engine)
    brand_a = AccessScope.of([known["Brand A"]])
    brand_b = AccessScope.of([known["Brand B"]])

    a = services.daily_series(brand_a, _week())
    b = services.daily_series(brand_b, _week())
    assert (int(a["total"].sum()), int(a["errors"].sum())) == (ROWS_A, 0)
    assert (int(b["total"].sum()), int(b["errors"].sum())) == (ROWS_B, ROWS_B)
    assert services.top_errors(brand_a, _week()).empty
    assert services.top_errors(brand_b, _week())["count"].tolist() == [ROWS_B]
    assert services.detailed_page(brand_a, _week()).total == ROWS_A
    assert services.detailed_page(brand_b, _week()).total == ROWS_B
    options_a = services.filter_options(brand_a, "whatsapp", TIMEZONE)
    options_b = services.filter_options(brand_b, "whatsapp", TIMEZONE)
    assert options_a["subaccounts"] == [(known["Brand A"], "Brand A")]
    assert options_b["subaccounts"] == [(known["Brand B"], "Brand B")]
    # Ten reads (a detailed page is its rows and its count), each a miss: no scope was given
    # another scope's entry.
    assert (services.cache.hits, services.cache.misses) == (0, 10)

    # The same through the consolidated view, two viewers on one process's cache.
    state = ViewState()
    for names, total in ((["Brand A"], ROWS_A), (["Brand B"], ROWS_B), (None, ROWS_A + ROWS_B)):
        viewer = viewer_for(engine, names, language="en")
        content = consolidated_content(services, viewer, "en", state)
        assert str(total) in texts(content["kpi_total"])


def test_a_caller_changing_its_result_does_not_change_the_cache(engine, store_settings, load_rows):
    load_rows(engine, two_brand_rows())
    services = Services(settings=store_settings, engine=engine)
    everyone = AccessScope.of(subaccount_ids(engine).values())

    daily = services.daily_series(everyone, _week())
    daily["total"] = 0
    page = services.detailed_page(everyone, _week())
    page.rows["content"] = "changed"
    options = services.filter_options(everyone, "whatsapp", TIMEZONE)
    options["subaccounts"].clear()

    assert int(services.daily_series(everyone, _week())["total"].sum()) == ROWS_A + ROWS_B
    assert "changed" not in services.detailed_page(everyone, _week()).rows["content"].tolist()
    assert len(services.filter_options(everyone, "whatsapp", TIMEZONE)["subaccounts"]) == 2
    assert services.cache.hits == 4


def test_at_most_query_slots_report_queries_run_at_once(
    duckdb_engine, duckdb_settings, monkeypatch
):
    # Eight viewers at once with eight different filters: three queries run, the rest wait.
    running, most = [], []
    guard = threading.Lock()
    release = threading.Event()

    def slow_daily(_engine, _scope, flt):
        with guard:
            running.append(flt)
            most.append(len(running))
        release.wait(5)
        with guard:
            running.remove(flt)
        return []

    # (The daily series is made from its days' rows: this reads them.)
    monkeypatch.setattr(services_module.reports, "daily_rows", slow_daily)
    services = Services(settings=duckdb_settings, engine=duckdb_engine)
    today = today_in(TIMEZONE)
    filters = [
        ReportFilter.build("whatsapp", today - timedelta(days=n), today, timezone=TIMEZONE)
        for n in range(8)
    ]
    scope = AccessScope.of([1])
    results = {}
    threads = [
        threading.Thread(target=lambda f=f: results.setdefault(f, services.daily_series(scope, f)))
        for f in filters
    ]
    for thread in threads:
        thread.start()
    deadline = time_module.monotonic() + 5
    while len(most) < services_module.QUERY_SLOTS and time_module.monotonic() < deadline:
        time_module.sleep(0.01)
    time_module.sleep(0.2)  # give any fourth query the chance to start, which it must not
    with guard:
        assert len(running) == services_module.QUERY_SLOTS == 3
    release.set()
    for thread in threads:
        thread.join(5)
    assert max(most) == 3
    assert [results[f]["date"][0] for f in filters] == [f.start for f in filters]


def _frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"day": range(rows), "text": [f"row {n:04d}" for n in range(rows)]})


def test_the_cache_keeps_results_up_to_its_bytes_and_drops_the_least_recently_used():
    one = size_of(_frame(100))
    cache = ReportCache(max_bytes=3 * one)
    for name in ("a", "b", "c"):
        assert len(cache.get_or_compute(1, name, lambda: _frame(100))) == 100
    assert cache.bytes == 3 * one
    cache.get_or_compute(1, "a", lambda: _frame(1))  # a hit: "a" is now the most recent
    cache.get_or_compute(1, "d", lambda: _frame(100))  # past the bound: "b" goes
    assert (cache.hits, cache.misses, cache.bytes) == (1, 4, 3 * one)
    assert len(cache.get_or_compute(1, "b", lambda: _frame(7))) == 7  # read again: "c" goes
    assert len(cache.get_or_compute(1, "c", lambda: _frame(7))) == 7
    assert len(cache.get_or_compute(1, "a", lambda: _frame(7))) == 100  # still kept
    assert len(cache.get_or_compute(1, "d", lambda: _frame(7))) == 100
    assert cache.bytes == 2 * one + 2 * size_of(_frame(7))
    # A result larger than the whole bound is returned, not kept.
    big = cache.get_or_compute(1, "big", lambda: _frame(1000))
    assert len(big) == 1000
    assert len(cache.get_or_compute(1, "big", lambda: _frame(3))) == 3


def test_a_newer_data_version_empties_the_cache_and_an_older_result_is_not_kept():
    cache = ReportCache()
    cache.get_or_compute(5, "a", lambda: _frame(10))
    assert cache.bytes == size_of(_frame(10))
    # A write: the first read at version 6 drops every result of version 5.
    assert len(cache.get_or_compute(6, "b", lambda: _frame(2))) == 2
    assert cache.bytes == size_of(_frame(2))
    assert len(cache.get_or_compute(6, "a", lambda: _frame(3))) == 3
    # A request that read the version before the write gets its result, which is not kept.
    assert len(cache.get_or_compute(5, "c", lambda: _frame(4))) == 4
    assert len(cache.get_or_compute(6, "c", lambda: _frame(8))) == 8
    assert (cache.hits, cache.misses) == (0, 5)


def test_the_size_of_a_result_is_at_least_what_its_frames_hold():
    # A detailed page's shape: 50 rows of short texts, times and numbers.
    page = pd.DataFrame(
        {
            "message_id": [f"wamid.HBgMNTUxMTk4NzY1{n:05d}" for n in range(50)],
            "phone": [f"+55119876{n:05d}" for n in range(50)],
            "status": ["delivered"] * 50,
            "content": [f"Your order {n} is on its way" for n in range(50)],
            "created_at": pd.date_range("2026-12-01", periods=50, freq="min", tz="UTC"),
            "count": range(50),
        }
    )
    held = int(page.memory_usage(index=True, deep=True).sum())
    assert held < size_of(page) == FRAME_BYTES + 300 * CELL_BYTES
    assert size_of(DetailedPage(page, 50, 0, 50)) > size_of(page)
    assert size_of({"campaigns": page, "countries": None}) > size_of(page)
