"""Applying the view: filters on Apply, Reset, channel and report tabs, sorting, phone search.

Each of these writes the applied state (the store the views and exports read) and the URL's
query string, or shows why it cannot, next to the control concerned.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks import consolidated, detailed, live
from dashboard.callbacks.common import applied_state, viewer_and_language
from dashboard.callbacks.url_state import state_to_search
from dashboard.layouts.detailed import SORTABLE
from dashboard.layouts.filters import ALL_DIRECTIONS, STATE_FIELDS, dropdown_options
from dashboard.layouts.reports import control_values
from dashboard.layouts.search import DEFAULT_KIND, searched_with
from dashboard.services import Services
from data_access.domain import CONTENT_TYPES, statuses_for
from data_access.filters import FilterError
from reporting.formatting import PICKER_FORMAT
from reporting.i18n import filter_error_text
from reporting.languages import normalize_language
from reporting.view_state import ViewState

# Where a FilterError's field is shown; anything else goes under the filter bar.
FIELD_CONTROLS = {
    "start": ids.DATE_RANGE,
    "end": ids.DATE_RANGE,
    "direction": ids.FILTER_DIRECTION,
    "status": ids.FILTER_STATUS,
    "content_type": ids.FILTER_CONTENT_TYPE,
    "phone": ids.PHONE_SEARCH,
}
# Output names of the controls that show their own error.
ERROR_NAMES = {
    ids.DATE_RANGE: "error_date_range",
    ids.FILTER_DIRECTION: "error_direction",
    ids.FILTER_STATUS: "error_statuses",
    ids.FILTER_CONTENT_TYPE: "error_content_types",
    ids.PHONE_SEARCH: "error_phone",
}

OUTPUTS = {
    "applied": Output(ids.APPLIED_FILTERS, "data", allow_duplicate=True),
    "search": Output(ids.URL, "search"),
    "applied_search": Output(ids.APPLIED_SEARCH, "data", allow_duplicate=True),
    "message": Output(ids.FILTER_MESSAGE, "children"),
    **{name: Output(ids.error_for(control), "children") for control, name in ERROR_NAMES.items()},
    "start": Output(ids.DATE_RANGE, "start_date"),
    "end": Output(ids.DATE_RANGE, "end_date"),
    "direction": Output(ids.FILTER_DIRECTION, "value"),
    **{f"value_{field}": Output(control, "value") for control, field in STATE_FIELDS.items()},
    **{f"options_{field}": Output(control, "options") for control, field in STATE_FIELDS.items()},
    "phone": Output(ids.PHONE_SEARCH, "value"),
    "search_kind": Output(ids.SEARCH_KIND, "value"),
    # A search that cannot run hides the rows of the one before (SEARCH_INVALID).
    "detailed_class": Output(ids.DETAILED_VIEW, "className"),
    # The open view's own trigger: only the view that shows the state runs a callback.
    "consolidated_request": Output(ids.CONSOLIDATED_REQUEST, "data"),
    "detailed_request": Output(ids.DETAILED_REQUEST, "data"),
}
INPUTS = {
    # Apply, with the text of the period boxes (see READ_DATE_BOXES).
    "apply": Input(ids.DATE_RANGE_TEXT, "data"),
    "reset": Input(ids.RESET_FILTERS, "n_clicks"),
    "channel": Input(ids.CHANNEL_TABS, "active_tab"),
    "view": Input(ids.REPORT_TABS, "active_tab"),
    "phone_submit": Input(ids.PHONE_SEARCH, "n_submit"),
    "phone_button": Input(ids.PHONE_SEARCH_BUTTON, "n_clicks"),
    # An order chosen in the grid's header (callbacks.detailed.SORT_REQUEST).
    "sort_by": Input(ids.DETAILED_SORT, "data"),
    "start": State(ids.DATE_RANGE, "start_date"),
    "end": State(ids.DATE_RANGE, "end_date"),
    "direction": State(ids.FILTER_DIRECTION, "value"),
    **{f"value_{field}": State(control, "value") for control, field in STATE_FIELDS.items()},
    "phone": State(ids.PHONE_SEARCH, "value"),
    "search_kind": State(ids.SEARCH_KIND, "value"),
    "applied": State(ids.APPLIED_FILTERS, "data"),
    "language": State(ids.LANGUAGE_STORE, "data"),
    "consolidated_shown": State(ids.CONSOLIDATED_SHOWN, "data"),
    "detailed_shown": State(ids.DETAILED_SHOWN, "data"),
}

# A date typed in a period box reaches the picker's start_date and end_date only on Enter or
# Tab (dash 4's DatePickerRange), so Apply sends the boxes' text itself: the range applied is
# the range the boxes show.
READ_DATE_BOXES = """function(clicks) {
    const shown = {clicks: clicks};
    for (const [field, id] of Object.entries(BOXES)) {
        const box = document.getElementById(id);
        shown[field] = box ? box.value : null;
    }
    return shown;
}""".replace("BOXES", json.dumps({"start": ids.DATE_RANGE_START, "end": ids.DATE_RANGE_END}))
# The detailed view's class while its search box holds a search that cannot run.
DETAILED_CLASS = "view-panel"
SEARCH_INVALID = "view-panel search-invalid"
SEARCH_TRIGGERS = (ids.PHONE_SEARCH, ids.PHONE_SEARCH_BUTTON)
# The search box follows the kind of search chosen: its example, its keyboard, its hint.
SEARCH_KIND_CHANGED = """function(kind, placeholders) {
    const known = placeholders && kind in placeholders;
    return [known ? placeholders[kind] : window.dash_clientside.no_update,
            kind === 'phone' ? 'tel' : 'text', kind === 'phone'];
}"""
# The picker's display format (moment tokens) as a strptime pattern.
PICKER_TOKENS = {"YYYY": "%Y", "MMM": "%b", "MM": "%m", "DD": "%d", "D": "%d"}


def _unchanged() -> dict:
    return {key: no_update for key in OUTPUTS}


def _clear_errors(out: dict) -> None:
    for name in (*ERROR_NAMES.values(), "message"):
        out[name] = ""


def box_date(text: str, field: str, language: str) -> str | None:
    """The ISO date a period box shows (in the picker's format of `language`, or ISO)."""
    text = " ".join(text.split())
    if not text:
        return None
    picker = re.sub(
        "|".join(PICKER_TOKENS),
        lambda token: PICKER_TOKENS[token.group()],
        PICKER_FORMAT[normalize_language(language)],
    )
    for pattern in (picker, "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    raise FilterError("bad_date", field, f"{text!r} is not a date.", value=text)


def shown_dates(inputs: dict, language: str) -> tuple[str | None, str | None]:
    """The range the period boxes show: their text when Apply sent it, else the picker's value.

    Half a range (a start without an end, or the reverse) is refused: applying it would
    quietly fill in the other end. Both boxes empty mean the default range.
    """
    shown = apply if isinstance(apply := inputs.get("apply"), dict) else {}
    dates = []
    for field in ("start", "end"):
        text = shown.get(field)
        dates.append(inputs.get(field) if text is None else box_date(text, field, language))
    start, end = dates
    if start and not end:
        raise FilterError("missing_end", "end", "The range has a start date but no end date.")
    if end and not start:
        raise FilterError("missing_start", "start", "The range has an end date but no start date.")
    return start, end


def _pending(inputs: dict, base: ViewState, start: str | None, end: str | None) -> ViewState:
    """The applied state with the filter bar's current (not yet applied) values."""
    data = base.to_dict()
    data.update(
        start=start,
        end=end,
        direction=None
        if inputs.get("direction") in (None, "", ALL_DIRECTIONS)
        else inputs["direction"],
        **{field: inputs.get(f"value_{field}") or [] for field in STATE_FIELDS.values()},
    )
    return ViewState.from_dict(data)


def _sorted(base: ViewState, sort_by) -> ViewState:
    if not isinstance(sort_by, list):
        raise FilterError("unknown_sort", "sort", "The order is not a list.", value="")
    if not sort_by:
        return ViewState.from_dict({**base.to_dict(), "sort": "created_at", "descending": True})
    column = sort_by[0].get("column_id") if isinstance(sort_by[0], dict) else None
    key = SORTABLE.get(column) if isinstance(column, str) else None
    if key is None:
        raise FilterError("unknown_sort", "sort", f"Cannot sort by {column!r}.", value=str(column))
    descending = sort_by[0].get("direction") != "asc"
    return ViewState.from_dict({**base.to_dict(), "sort": key, "descending": descending})


def _for_channel(base: ViewState, channel: str, options: dict[str, list[dict]]) -> ViewState:
    """The applied filters carried over to another channel, keeping what exists there."""
    data = base.to_dict()
    data["channel"] = channel
    for control, field in STATE_FIELDS.items():
        if field in ("subaccounts", "users", "campaigns", "countries"):
            known = {option["value"] for option in options[control]}
            data[field] = [v for v in data[field] if v in known]
    data["content_types"] = [v for v in data["content_types"] if v in CONTENT_TYPES[channel]]
    data["statuses"] = [v for v in data["statuses"] if v in statuses_for(channel)]
    return ViewState.from_dict(data)


def view_requests(state: ViewState, inputs: dict) -> dict:
    """Ask the view that shows `state` to show it, unless it does already; the other view,
    hidden, is left as it is (it is asked when its tab is chosen)."""
    applied = state.to_dict()
    out: dict[str, Any] = {"consolidated_request": no_update, "detailed_request": no_update}
    if state.view == "consolidated":
        if not consolidated.already_shown(applied, inputs.get("consolidated_shown")):
            out["consolidated_request"] = applied
    elif state.view == "detailed" and not detailed.already_shown(
        applied, 0, inputs.get("detailed_shown")
    ):
        out["detailed_request"] = applied
    return out


def update_view(services: Services, trigger: str | None, **inputs) -> dict:
    """The outputs for one user action; `inputs` are named as in INPUTS."""
    if trigger is None:
        raise PreventUpdate
    viewer, language = viewer_and_language(services, inputs.get("language"))
    timezone = viewer.timezone
    out = _unchanged()
    # Set only once the new state is known to run.
    on_success: dict = {}
    base = None
    try:
        base = applied_state(inputs.get("applied"))
        set_controls = False
        options = None
        shown = None
        if trigger == ids.APPLY_FILTERS:
            shown = shown_dates(inputs, language)
            state = _pending(inputs, base, *shown)
        elif trigger == ids.RESET_FILTERS:
            state = ViewState(channel=base.channel, view=base.view)
            set_controls = True
            on_success = {"phone": "", "search_kind": DEFAULT_KIND}
        elif trigger == ids.CHANNEL_TABS:
            channel = inputs.get("channel")
            if channel not in CONTENT_TYPES:
                raise FilterError(
                    "unknown_channel",
                    "channel",
                    f"Unknown channel {channel!r}.",
                    value=str(channel),
                )
            if channel == base.channel:
                raise PreventUpdate
            raw = services.filter_options(viewer.scope, channel, timezone)
            options = dropdown_options(raw, language)
            state = _for_channel(base, channel, options)
            set_controls = True
        elif trigger == ids.REPORT_TABS:
            view = inputs.get("view")
            if view == base.view:
                raise PreventUpdate
            state = ViewState.from_dict({**base.to_dict(), "view": view})
        elif trigger in SEARCH_TRIGGERS:
            state = searched_with(base, inputs.get("search_kind"), inputs.get("phone"))
        elif trigger == ids.DETAILED_SORT:
            state = _sorted(base, inputs.get("sort_by"))
        else:
            raise PreventUpdate
        flt = state.to_filter(timezone)
    except FilterError as error:
        _clear_errors(out)
        out[ERROR_NAMES.get(FIELD_CONTROLS.get(error.field, ""), "message")] = filter_error_text(
            language, error
        )
        if trigger in SEARCH_TRIGGERS:
            # The rows under the box are not the answer to what it holds now.
            out["detailed_class"] = SEARCH_INVALID
        return out
    _clear_errors(out)
    out["detailed_class"] = DETAILED_CLASS
    out.update(on_success)
    out["applied"] = state.to_dict()
    out["search"] = out["applied_search"] = state_to_search(state)
    out.update(view_requests(state, inputs))
    dates = (flt.start.isoformat(), flt.end.isoformat())
    if shown is not None and dates != (inputs.get("start"), inputs.get("end")):
        # The picker takes the dates applied, so its calendar shows what its boxes show.
        out["start"], out["end"] = dates
    if set_controls:
        values = control_values(state, flt)
        out["start"], out["end"] = values["start"], values["end"]
        out["direction"] = values["direction"] or ALL_DIRECTIONS
        for control, field in STATE_FIELDS.items():
            out[f"value_{field}"] = values[control]
            if options is not None:
                out[f"options_{field}"] = options[control]
    return out


def _trigger() -> str | None:
    """The control acted on; a click on Apply arrives as the boxes' text it read."""
    return ids.APPLY_FILTERS if ctx.triggered_id == ids.DATE_RANGE_TEXT else ctx.triggered_id


def register_callbacks(app, services: Services) -> None:
    # The live switch asks the applied view again, as Apply does: registered with it.
    live.register_callbacks(app, services)
    app.clientside_callback(
        READ_DATE_BOXES,
        Output(ids.DATE_RANGE_TEXT, "data"),
        Input(ids.APPLY_FILTERS, "n_clicks"),
        prevent_initial_call=True,
    )
    app.callback(output=OUTPUTS, inputs=INPUTS, prevent_initial_call=True)(
        lambda **inputs: update_view(services, _trigger(), **inputs)
    )
    app.clientside_callback(
        SEARCH_KIND_CHANGED,
        Output(ids.PHONE_SEARCH, "placeholder"),
        Output(ids.PHONE_SEARCH, "inputmode"),
        Output(ids.SEARCH_ID_HINT, "hidden"),
        Input(ids.SEARCH_KIND, "value"),
        State(ids.SEARCH_PLACEHOLDERS, "data"),
        prevent_initial_call=True,
    )
    # Switching report tabs shows the other view at once, before its data arrives.
    # The ZIP of sections goes with the consolidated view (layouts.reports.ZIP_HIDDEN).
    app.clientside_callback(
        """function(view) {
            return [view !== 'consolidated', view !== 'detailed',
                    view === 'consolidated' ? {} : {display: 'none'}];
        }""",
        Output(ids.CONSOLIDATED_VIEW, "hidden"),
        Output(ids.DETAILED_VIEW, "hidden"),
        Output(ids.EXPORT_ZIP, "style"),
        Input(ids.REPORT_TABS, "active_tab"),
        prevent_initial_call=True,
    )
