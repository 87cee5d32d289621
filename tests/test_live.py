"""The live switch's tick: the open view asked again while its range includes today."""

from __future__ import annotations

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.live import live_refresh
from dashboard.layouts.reports import LIVE_SECONDS, live_switch
from reporting.view_state import ViewState
from tests.dashboard_data import FixedViewerServices, as_json, day, rows, viewer_for


@pytest.fixture
def services(duckdb_engine, duckdb_settings, load_rows):
    load_rows(duckdb_engine, rows())
    return FixedViewerServices(duckdb_settings, duckdb_engine, viewer_for(duckdb_engine))


def test_the_switch_starts_off_with_a_30_second_interval():
    tree = as_json(live_switch("en"))
    interval = tree["props"]["children"][2]["props"]
    assert (LIVE_SECONDS, interval["id"], interval["interval"], interval["disabled"]) == (
        30,
        ids.LIVE_INTERVAL,
        30_000,
        True,
    )


def test_a_tick_asks_the_open_view_again_when_the_range_includes_today(services):
    applied = ViewState(view="detailed").to_dict()
    out = live_refresh(services, applied, "en", True, tick=4)
    assert (out["detailed_shown"], out["detailed_request"]) == (None, applied)
    assert out["consolidated_request"] is no_update
    assert out["status"]["text"].startswith("Updated: ") and out["status"]["tick"] == 4


def test_a_past_range_is_left_alone_and_says_why(services):
    yesterday = (day(1)).isoformat()
    applied = ViewState(start=yesterday, end=yesterday).to_dict()
    out = live_refresh(services, applied, "pt-BR", True, tick=2)
    assert out["status"] == {
        "text": "O período não inclui hoje: não há nada para atualizar",
        "tick": 2,
    }
    assert out["consolidated_request"] is no_update and out["consolidated_shown"] is no_update


def test_nothing_runs_when_switched_off(services):
    with pytest.raises(PreventUpdate):
        live_refresh(services, ViewState().to_dict(), "es", False)
