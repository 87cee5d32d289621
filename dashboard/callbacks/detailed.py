"""The detailed view's data: one page of messages at a time, and one message's full detail."""

from __future__ import annotations

import math

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.common import applied_state, viewer_and_language
from dashboard.layouts import detailed
from dashboard.services import Services, Viewer
from data_access.filters import FilterError
from reporting.i18n import filter_error_text, t
from reporting.view_state import ViewState

TABLE_OUTPUTS = {
    "data": Output(ids.DETAILED_TABLE, "data"),
    "tooltips": Output(ids.DETAILED_TABLE, "tooltip_data"),
    "page_count": Output(ids.DETAILED_TABLE, "page_count"),
    "page_current": Output(ids.DETAILED_TABLE, "page_current"),
    "active_cell": Output(ids.DETAILED_TABLE, "active_cell"),
    "count": Output(ids.DETAILED_COUNT, "children"),
    "message": Output(ids.DETAILED_MESSAGE, "children"),
    "shown": Output(ids.DETAILED_SHOWN, "data"),
}
TABLE_INPUTS = {
    # Written by the filter bar only when this view is the one to show (filters.py): a new
    # view, shown from its first page.
    "requested": Input(ids.DETAILED_REQUEST, "data"),
    "page_current": Input(ids.DETAILED_TABLE, "page_current"),
    "applied": State(ids.APPLIED_FILTERS, "data"),
    "shown": State(ids.DETAILED_SHOWN, "data"),
    "language": State(ids.LANGUAGE_STORE, "data"),
    "active_cell": State(ids.DETAILED_TABLE, "active_cell"),
}
DETAIL_OUTPUTS = {
    "is_open": Output(ids.MESSAGE_DETAIL, "is_open"),
    "body": Output(ids.MESSAGE_DETAIL_BODY, "children"),
}
DETAIL_INPUTS = {
    "active_cell": Input(ids.DETAILED_TABLE, "active_cell"),
    # Clicked by assets/keyboard.js when the chosen cell is chosen again (Enter or a click).
    "reopen": Input(ids.MESSAGE_DETAIL_REOPEN, "n_clicks"),
    "page_current": State(ids.DETAILED_TABLE, "page_current"),
    "applied": State(ids.APPLIED_FILTERS, "data"),
    "language": State(ids.LANGUAGE_STORE, "data"),
}


def shown_value(applied: dict, page_number) -> dict:
    """What the `shown` store holds once the table shows that page of that state."""
    return {"applied": applied, "page": page_number}


def already_shown(applied: dict | None, page_number, shown: dict | None) -> bool:
    """Whether the table holds that page of `applied` already, so nothing need run."""
    return applied is not None and shown == shown_value(applied, page_number)


def _page_number(value) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or value < 0:
        raise FilterError("bad_offset", "offset", "The page position cannot be negative.")
    return value


def table_content(
    services: Services, viewer: Viewer, language: str, state: ViewState, page_number: int
) -> dict:
    """One page of a state's messages as the table's props (FilterError if it cannot run)."""
    flt = state.to_filter(viewer.timezone)
    page = services.detailed_page(
        viewer.scope,
        flt,
        sort=state.sort,
        descending=state.descending,
        offset=page_number * detailed.PAGE_SIZE,
        limit=detailed.PAGE_SIZE,
    )
    return {
        "data": detailed.table_rows(page.rows, language),
        "tooltips": detailed.tooltips(page.rows),
        "page_count": max(1, math.ceil(page.total / detailed.PAGE_SIZE)),
        "page_current": page_number,
        "active_cell": None,
        "count": (
            detailed.count_text(page.total, flt.phone, language)
            if page.total
            else t(language, "detailed.empty")
        ),
        "message": "",
        "shown": shown_value(state.to_dict(), page_number),
    }


def update_table(
    services: Services,
    applied: dict | None,
    page_current,
    language: str | None,
    new_view: bool = False,
    shown: dict | None = None,
    active_cell: dict | None = None,
) -> dict:
    """One page of the applied view's messages; a new view (`new_view`) starts on page one.

    `shown` is what the table already holds (the page is built with its first page), so
    asking for it again costs no query. `active_cell` is the table's chosen cell: it is
    cleared when one is chosen, and left alone otherwise, so the message detail's callback
    only runs when there is a choice to undo.
    """
    page_requested = 0 if new_view else page_current
    if already_shown(applied, page_requested, shown):
        raise PreventUpdate
    viewer, language = viewer_and_language(services, language)
    try:
        state = applied_state(applied)
        if state.view != "detailed":
            raise PreventUpdate
        out = table_content(services, viewer, language, state, _page_number(page_requested))
        if not active_cell:
            out["active_cell"] = no_update
        return out
    except FilterError as error:
        out = {key: no_update for key in TABLE_OUTPUTS}
        out["message"] = filter_error_text(language, error)
        return out


def show_detail(
    services: Services,
    active_cell: dict | None,
    page_current,
    applied: dict | None,
    language: str | None,
) -> dict:
    """The full message behind the chosen row, read again on the server within the scope."""
    if not active_cell:
        return {"is_open": False, "body": no_update}
    viewer, language = viewer_and_language(services, language)
    out = {"is_open": True, "body": no_update}
    try:
        state = applied_state(applied)
        flt = state.to_filter(viewer.timezone)
        row = active_cell.get("row") if isinstance(active_cell, dict) else None
        if not isinstance(row, int) or not 0 <= row < detailed.PAGE_SIZE:
            raise FilterError("bad_offset", "offset", "That row is not on this page.")
        offset = _page_number(page_current) * detailed.PAGE_SIZE + row
        page = services.detailed_page(
            viewer.scope,
            flt,
            sort=state.sort,
            descending=state.descending,
            offset=offset,
            limit=1,
        )
    except FilterError as error:
        out["body"] = filter_error_text(language, error)
        return out
    records = page.rows.to_dict("records")
    if not records or records[0]["message_id"] != active_cell.get("row_id"):
        out["body"] = t(language, "detailed.changed")
        return out
    events = services.message_events(viewer.scope, records[0]["message_id"], viewer.timezone)
    out["body"] = detailed.message_detail(records[0], language, events.to_dict("records"))
    return out


def register_callbacks(app, services: Services) -> None:
    # The page is built with its view's data, so nothing runs when a page appears.
    app.callback(output=TABLE_OUTPUTS, inputs=TABLE_INPUTS, prevent_initial_call=True)(
        lambda requested, page_current, applied, shown, language, active_cell: update_table(
            services,
            applied,
            page_current,
            language,
            new_view=ctx.triggered_id == ids.DETAILED_REQUEST,
            shown=shown,
            active_cell=active_cell,
        )
    )
    app.callback(output=DETAIL_OUTPUTS, inputs=DETAIL_INPUTS, prevent_initial_call=True)(
        lambda active_cell, reopen, page_current, applied, language: show_detail(
            services, active_cell, page_current, applied, language
        )
    )
