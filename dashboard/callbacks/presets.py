"""Quick periods: choosing one applies its range at once, as Apply does with typed dates."""

from __future__ import annotations

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.services import Services
from data_access.filters import today_in
from reporting.periods import PRESETS, preset_range


def apply_preset(services: Services, name, clicks) -> tuple[dict, str]:
    """What Apply would send for the period's days (callbacks/filters.py reads it), and the
    chooser emptied so the same period can be chosen again."""
    if not isinstance(name, str) or name not in PRESETS:
        raise PreventUpdate
    viewer = services.current_viewer()
    start, end = preset_range(name, today_in(viewer.timezone))
    # ISO days: box_date reads them whatever the page's language.
    return {
        "clicks": clicks,
        "preset": name,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }, ""


def register_callbacks(app, services: Services) -> None:
    app.callback(
        Output(ids.DATE_RANGE_TEXT, "data", allow_duplicate=True),
        Output(ids.DATE_PRESET, "value"),
        Input(ids.DATE_PRESET, "value"),
        State(ids.APPLY_FILTERS, "n_clicks"),
        prevent_initial_call=True,
    )(lambda name, clicks: apply_preset(services, name, clicks))
