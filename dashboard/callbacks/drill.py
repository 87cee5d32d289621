"""Drill-down from the consolidated view to the messages behind a figure.

A click on a day in either daily chart, a KPI card (delivered, errors) or an error reason's
code opens the detailed view with that day, status or error code applied, by writing the
URL's query string: the routing callback builds the detailed page from it, Back returns to the
consolidated view and the link can be shared. Only the day, the status, the error code, the
view and the direction change; the viewer's scope is applied again by the page built from the
URL, so a forged click can name nothing wider.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from dash.exceptions import PreventUpdate

from dashboard.callbacks.common import applied_state, viewer_and_language
from dashboard.callbacks.url_state import state_to_search
from dashboard.layouts.shell import REPORTS_PATH
from dashboard.services import Services
from data_access.domain import statuses_for
from data_access.filters import FilterError
from reporting.view_state import ViewState

# The statuses of the messages a KPI card counts: delivered counts the messages that reached
# the phone (a read message was delivered first); SMS has no read status.
CARD_STATUSES = {"delivered": ("delivered", "read"), "errors": ("error",)}


def drilled(
    state: ViewState,
    day: date | None = None,
    statuses: tuple[str, ...] = (),
    error_codes: tuple[str, ...] = (),
) -> ViewState:
    """The detailed view of `state`'s messages on `day` (else over its range) with `statuses`
    (else its own) and `error_codes` (else its own); the charts and cards count sent messages
    (MT) unless it shows received."""
    known = statuses_for(state.channel)
    return replace(
        state,
        view="detailed",
        start=day.isoformat() if day else state.start,
        end=day.isoformat() if day else state.end,
        direction=state.direction or "MT",
        statuses=tuple(s for s in statuses if s in known) if statuses else state.statuses,
        error_codes=error_codes or state.error_codes,
        sort=ViewState().sort,
        descending=ViewState().descending,
    )


def card_href(state: ViewState, key: str) -> str | None:
    """The link of a KPI card to the messages it counts, or None for a card without one."""
    if key not in CARD_STATUSES or state.direction == "MO":
        return None
    return REPORTS_PATH + state_to_search(drilled(state, statuses=CARD_STATUSES[key]))


def error_href(state: ViewState, code: str) -> str | None:
    """The link of an error reason to its messages: the range's failed messages with that
    code (an error reason counts messages in error, so their status is applied too)."""
    if state.direction == "MO":
        return None
    return REPORTS_PATH + state_to_search(
        drilled(state, statuses=CARD_STATUSES["errors"], error_codes=(code,))
    )


def clicked_day(click) -> date | None:
    """The day of a chart click (Plotly's clickData: its first point's x, an ISO day), or None
    when the payload is anything else."""
    points = click.get("points") if isinstance(click, dict) else None
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        return None
    x = points[0].get("x")
    if not isinstance(x, str) or len(x) != 10:
        return None
    try:
        return date.fromisoformat(x)
    except ValueError:
        return None


def day_search(services: Services, applied: dict | None, click, language=None) -> str:
    """The query string of the detailed view of a clicked day of the applied consolidated
    view; nothing changes for a payload that names no day of its range."""
    day = clicked_day(click)
    if day is None:
        raise PreventUpdate
    viewer, _language = viewer_and_language(services, language)
    try:
        state = applied_state(applied)
        flt = state.to_filter(viewer.timezone)
    except FilterError:
        raise PreventUpdate from None
    if state.view != "consolidated" or not flt.start <= day <= flt.end:
        raise PreventUpdate
    return state_to_search(drilled(state, day=day))
