"""Quick periods: the days each one covers, and choosing one applies it."""

from __future__ import annotations

from datetime import date

import pytest
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.filters import update_view
from dashboard.callbacks.presets import apply_preset
from data_access.filters import FilterError, ReportFilter
from reporting.periods import PRESETS, calendar_bounds, preset_range
from reporting.view_state import ViewState
from tests.dashboard_data import FixedViewerServices, day, rows, viewer_for
from tests.test_dashboard_filters import pending


class TestPresetRange:
    @pytest.mark.parametrize(
        ("name", "first", "last"),
        [
            ("today", date(2026, 3, 1), date(2026, 3, 1)),
            ("yesterday", date(2026, 2, 28), date(2026, 2, 28)),
            ("last_7", date(2026, 2, 23), date(2026, 3, 1)),
            ("last_30", date(2026, 1, 31), date(2026, 3, 1)),
            ("last_90", date(2025, 12, 2), date(2026, 3, 1)),
            ("this_month", date(2026, 3, 1), date(2026, 3, 1)),
            ("last_month", date(2026, 2, 1), date(2026, 2, 28)),
        ],
    )
    def test_each_period_s_days(self, name, first, last):
        assert preset_range(name, date(2026, 3, 1)) == (first, last)

    def test_last_month_across_a_year(self):
        assert preset_range("last_month", date(2027, 1, 15)) == (
            date(2026, 12, 1),
            date(2026, 12, 31),
        )
        assert preset_range("this_month", date(2027, 1, 15)) == (
            date(2027, 1, 1),
            date(2027, 1, 15),
        )

    def test_an_unknown_period_is_refused(self):
        with pytest.raises(KeyError):
            preset_range("last_365", date(2026, 3, 1))
        assert list(PRESETS) == [
            "today",
            "yesterday",
            "last_7",
            "last_30",
            "last_90",
            "this_month",
            "last_month",
        ]


class TestApplyPreset:
    def test_a_period_is_applied_as_apply_applies_typed_dates(
        self, duckdb_engine, duckdb_settings, load_rows
    ):
        load_rows(duckdb_engine, rows())
        services = FixedViewerServices(duckdb_settings, duckdb_engine, viewer_for(duckdb_engine))
        sent, emptied = apply_preset(services, "last_30", 3)
        assert (sent, emptied) == (
            {
                "clicks": 3,
                "preset": "last_30",
                "start": day(29).isoformat(),
                "end": day(0).isoformat(),
            },
            "",
        )
        out = update_view(services, ids.APPLY_FILTERS, **pending(ViewState(), None, apply=sent))
        assert (out["applied"]["start"], out["applied"]["end"]) == (sent["start"], sent["end"])
        assert (out["start"], out["end"]) == (sent["start"], sent["end"])
        with pytest.raises(PreventUpdate):
            apply_preset(services, "", 3)


class TestCalendarBounds:
    def test_the_earliest_day_starts_the_longest_range_the_rule_accepts(self):
        today = date(2026, 12, 5)
        bounds = calendar_bounds(today)
        assert bounds.earliest == date(2026, 9, 7)
        # Its 90 days up to today are accepted; one day earlier is a span too long.
        flt = ReportFilter.build("whatsapp", start=bounds.earliest, end=today, today=today)
        assert len(flt.days) == 90
        with pytest.raises(FilterError) as refused:
            ReportFilter.build("whatsapp", start=date(2026, 9, 6), end=today, today=today)
        assert refused.value.code == "span_too_long"

    def test_the_back_arrow_reaches_the_earliest_month_whose_earlier_days_are_disabled(self):
        bounds = calendar_bounds(date(2026, 12, 5))
        assert bounds.first_allowed == date(2026, 9, 1)
        assert bounds.disabled == tuple(date(2026, 9, d) for d in range(1, 7))
        assert (bounds.latest, bounds.first_month_shown) == (date(2026, 12, 5), date(2026, 11, 1))

    def test_an_earliest_day_on_the_first_disables_nothing(self):
        # 2026-03-31 minus 89 days is 2026-01-01.
        bounds = calendar_bounds(date(2026, 3, 31))
        assert (bounds.earliest, bounds.first_allowed, bounds.disabled) == (
            date(2026, 1, 1),
            date(2026, 1, 1),
            (),
        )
        assert bounds.first_month_shown == date(2026, 2, 1)

    def test_in_january_the_month_before_is_last_year_s_december(self):
        assert calendar_bounds(date(2027, 1, 10)).first_month_shown == date(2026, 12, 1)
