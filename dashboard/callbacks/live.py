"""The "live" switch: the open view asked again every 30 s while the range includes today."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.common import applied_state, viewer_and_language
from dashboard.services import Services
from data_access.filters import FilterError, today_in
from reporting.formatting import format_datetime
from reporting.i18n import t

# The switch runs the interval only while the page is visible (assets/live.js pauses it when
# the page is hidden and resumes it when it shows again).
SWITCHED = """function(on) {
    return [!on || document.hidden, on ? window.dash_clientside.no_update : ''];
}"""

# A tick's answer may arrive after the page went hidden (assets/live.js then says "paused"):
# the pause stands until the page shows again.
SHOW_ANSWER = """function(answer, on) {
    if (!answer || (on && document.hidden)) {
        return window.dash_clientside.no_update;
    }
    return answer.text;
}"""


def live_refresh(services: Services, applied: dict | None, language, on, tick=0) -> dict:
    """What one tick asks: the open view again (its "shown" store cleared, so it does not
    take itself as up to date), and the time of the refresh; nothing when the range ends
    before today (a past range does not change), only the reason. The status carries the
    tick, so the same words twice still reach the screen (SHOW_ANSWER)."""
    if not on or applied is None:
        raise PreventUpdate
    viewer, language = viewer_and_language(services, language)
    out: dict[str, Any] = {
        "status": no_update,
        "consolidated_shown": no_update,
        "consolidated_request": no_update,
        "detailed_shown": no_update,
        "detailed_request": no_update,
    }
    try:
        state = applied_state(applied)
        flt = state.to_filter(viewer.timezone)
    except FilterError:
        raise PreventUpdate from None
    if not flt.start <= today_in(viewer.timezone) <= flt.end:
        out["status"] = {"text": t(language, "live.not_today"), "tick": tick}
        return out
    out[f"{state.view}_shown"] = None
    out[f"{state.view}_request"] = applied
    now = datetime.now(ZoneInfo(viewer.timezone)).replace(tzinfo=None)
    out["status"] = {
        "text": t(language, "live.updated", time=format_datetime(now, language)),
        "tick": tick,
    }
    return out


def register_callbacks(app, services: Services) -> None:
    app.clientside_callback(
        SWITCHED,
        Output(ids.LIVE_INTERVAL, "disabled"),
        Output(ids.LIVE_STATUS, "children", allow_duplicate=True),
        Input(ids.LIVE_SWITCH, "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        SHOW_ANSWER,
        Output(ids.LIVE_STATUS, "children", allow_duplicate=True),
        Input(ids.LIVE_ANSWER, "data"),
        State(ids.LIVE_SWITCH, "value"),
        prevent_initial_call=True,
    )
    app.callback(
        output={
            "status": Output(ids.LIVE_ANSWER, "data"),
            "consolidated_shown": Output(ids.CONSOLIDATED_SHOWN, "data", allow_duplicate=True),
            "consolidated_request": Output(ids.CONSOLIDATED_REQUEST, "data", allow_duplicate=True),
            "detailed_shown": Output(ids.DETAILED_SHOWN, "data", allow_duplicate=True),
            "detailed_request": Output(ids.DETAILED_REQUEST, "data", allow_duplicate=True),
        },
        inputs={
            "tick": Input(ids.LIVE_INTERVAL, "n_intervals"),
            "applied": State(ids.APPLIED_FILTERS, "data"),
            "language": State(ids.LANGUAGE_STORE, "data"),
            "on": State(ids.LIVE_SWITCH, "value"),
        },
        prevent_initial_call=True,
    )(lambda tick, applied, language, on: live_refresh(services, applied, language, on, tick))
