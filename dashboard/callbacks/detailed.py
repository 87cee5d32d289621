"""The detailed view's data: one page of messages at a time, and one message's full detail."""

from __future__ import annotations

import json
import math

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.common import applied_state, viewer_and_language
from dashboard.callbacks.url_state import state_to_search
from dashboard.layouts import detailed
from dashboard.layouts.reports import sort_by_of
from dashboard.services import Services, Viewer
from data_access.filters import FilterError
from reporting.i18n import filter_error_text, t
from reporting.view_state import ViewState

# The paging buttons, by the move each one asks for.
PAGE_BUTTONS = {
    ids.DETAILED_PAGE_FIRST: "first",
    ids.DETAILED_PAGE_PREVIOUS: "previous",
    ids.DETAILED_PAGE_NEXT: "next",
    ids.DETAILED_PAGE_LAST: "last",
}
TABLE_OUTPUTS = {
    "data": Output(ids.DETAILED_TABLE, "rowData"),
    "count": Output(ids.DETAILED_COUNT, "children"),
    "message": Output(ids.DETAILED_MESSAGE, "children"),
    "shown": Output(ids.DETAILED_SHOWN, "data"),
    "page_text": Output(ids.DETAILED_PAGE_TEXT, "children"),
    **{f"{move}_disabled": Output(button, "disabled") for button, move in PAGE_BUTTONS.items()},
    # A page moved to is kept in the address (the filter bar writes it for a new view).
    "search": Output(ids.URL, "search", allow_duplicate=True),
    "applied_search": Output(ids.APPLIED_SEARCH, "data", allow_duplicate=True),
}
TABLE_INPUTS = {
    # Written by the filter bar only when this view is the one to show (filters.py): a new
    # view, shown from its first page.
    "requested": Input(ids.DETAILED_REQUEST, "data"),
    **{move: Input(button, "n_clicks") for button, move in PAGE_BUTTONS.items()},
    "applied": State(ids.APPLIED_FILTERS, "data"),
    "shown": State(ids.DETAILED_SHOWN, "data"),
    "language": State(ids.LANGUAGE_STORE, "data"),
}
DETAIL_OUTPUTS = {
    "is_open": Output(ids.MESSAGE_DETAIL, "is_open"),
    "body": Output(ids.MESSAGE_DETAIL_BODY, "children"),
}
DETAIL_INPUTS = {
    # Every click on a cell (the same one again included) and Enter on one (assets/keyboard.js).
    "clicked": Input(ids.DETAILED_TABLE, "cellClicked"),
    "shown": State(ids.DETAILED_SHOWN, "data"),
    "applied": State(ids.APPLIED_FILTERS, "data"),
    "language": State(ids.LANGUAGE_STORE, "data"),
}
COLUMNS_OUTPUTS = {"column_defs": Output(ids.DETAILED_TABLE, "columnDefs")}
COLUMNS_INPUTS = {
    "chosen": Input(ids.DETAILED_COLUMNS, "value"),
    "applied": State(ids.APPLIED_FILTERS, "data"),
    "language": State(ids.LANGUAGE_STORE, "data"),
}


def shown_value(applied: dict, page_number, page_count: int = 1) -> dict:
    """What the `shown` store holds once the table shows that page of that state."""
    return {"applied": applied, "page": page_number, "pages": page_count}


def already_shown(applied: dict | None, page_number, shown: dict | None) -> bool:
    """Whether the table holds that page of `applied` already, so nothing need run."""
    return (
        applied is not None
        and isinstance(shown, dict)
        and shown.get("applied") == applied
        and shown.get("page") == page_number
    )


def _page_number(value) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FilterError("bad_offset", "offset", "The page position cannot be negative.")
    return value


def page_asked(move: str | None, shown: dict | None) -> int | None:
    """The page a paging button asks for, from the page shown; None for a new view."""
    if move is None:
        return None
    shown = shown if isinstance(shown, dict) else {}
    current, pages = shown.get("page", 0), shown.get("pages")
    if not isinstance(current, int) or isinstance(current, bool):
        return current  # not a page: refused as such (_page_number)
    last = max(pages - 1, 0) if isinstance(pages, int) else 0
    return {"first": 0, "previous": current - 1, "next": current + 1, "last": last}[move]


def table_content(
    services: Services, viewer: Viewer, language: str, state: ViewState, page_number: int
) -> dict:
    """One page of a state's messages as the view's props (FilterError if it cannot run).

    A page past the end (an old link, fewer messages now) shows the last page instead."""
    flt = state.to_filter(viewer.timezone)

    def fetch(number: int):
        return services.detailed_page(
            viewer.scope,
            flt,
            sort=state.sort,
            descending=state.descending,
            offset=number * detailed.PAGE_SIZE,
            limit=detailed.PAGE_SIZE,
        )

    page = fetch(page_number)
    page_count = max(1, math.ceil(page.total / detailed.PAGE_SIZE))
    if page_number >= page_count:
        page_number = page_count - 1
        page = fetch(page_number)
    return {
        "data": detailed.table_rows(page.rows, language),
        "count": detailed.with_error_codes(
            (
                detailed.count_text(page.total, flt.phone.shown if flt.phone else None, language)
                if page.total
                else t(language, "detailed.empty")
            ),
            flt.error_codes,
            language,
        ),
        "message": "",
        "shown": shown_value(state.to_dict(), page_number, page_count),
        "page_text": detailed.page_text(language, page_number, page_count),
        "first_disabled": page_number == 0,
        "previous_disabled": page_number == 0,
        "next_disabled": page_number >= page_count - 1,
        "last_disabled": page_number >= page_count - 1,
    }


def update_table(
    services: Services,
    applied: dict | None,
    page_number,
    language: str | None,
    new_view: bool = False,
    shown: dict | None = None,
) -> dict:
    """One page of the applied view's messages; a new view (`new_view`) starts on page one.

    `shown` is what the table already holds (the page is built with its page), so asking for
    it again costs no query. A page moved to is written into the address.
    """
    page_requested = 0 if new_view else page_number
    if already_shown(applied, page_requested, shown):
        raise PreventUpdate
    viewer, language = viewer_and_language(services, language)
    try:
        state = applied_state(applied)
        if state.view != "detailed":
            raise PreventUpdate
        out = table_content(services, viewer, language, state, _page_number(page_requested))
    except FilterError as error:
        out = {key: no_update for key in TABLE_OUTPUTS}
        out["message"] = filter_error_text(language, error)
        return out
    if new_view:
        out["search"] = out["applied_search"] = no_update
    else:
        out["search"] = out["applied_search"] = state_to_search(state, out["shown"]["page"])
    return out


def show_detail(
    services: Services,
    clicked: dict | None,
    shown: dict | None,
    applied: dict | None,
    language: str | None,
) -> dict:
    """The full message behind the clicked row, read again on the server within the scope."""
    if not clicked:
        return {"is_open": False, "body": no_update}
    viewer, language = viewer_and_language(services, language)
    out = {"is_open": True, "body": no_update}
    try:
        state = applied_state(applied)
        flt = state.to_filter(viewer.timezone)
        row = clicked.get("rowIndex") if isinstance(clicked, dict) else None
        if not isinstance(row, int) or not 0 <= row < detailed.PAGE_SIZE:
            raise FilterError("bad_offset", "offset", "That row is not on this page.")
        page_number = shown.get("page") if isinstance(shown, dict) else None
        offset = _page_number(page_number) * detailed.PAGE_SIZE + row
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
    if not records or records[0]["message_id"] != clicked.get("rowId"):
        out["body"] = t(language, "detailed.changed")
        return out
    events = services.message_events(viewer.scope, records[0]["message_id"], viewer.timezone)
    out["body"] = detailed.message_detail(records[0], language, events.to_dict("records"))
    return out


def choose_columns(services: Services, chosen, applied: dict | None, language: str | None) -> dict:
    """Show the columns a person chose and keep the choice with their account."""
    viewer, language = viewer_and_language(services, language)
    columns = detailed.chosen_columns(chosen)
    services.save_table_columns(viewer, columns)
    try:
        sort_by = sort_by_of(applied_state(applied))
    except FilterError:
        sort_by = []
    return {"column_defs": detailed.column_defs(language, sort_by, columns)}


# In the browser: an order chosen in the grid's header goes to the filter bar (DETAILED_SORT)
# only when it differs from the applied one; a new applied order (Reset, a search, a link)
# puts the header's arrows where the rows are.
SORT_REQUEST = """function(columnState, applied) {
    const noUpdate = window.dash_clientside.no_update;
    const sortable = SORTABLE;
    const triggered = window.dash_clientside.callback_context.triggered.map(
        function (item) { return item.prop_id; });
    if (!applied) { return noUpdate; }
    const byDefault = applied.sort === 'created_at' && applied.descending;
    if (triggered.indexOf('APPLIED_PROP') !== -1) {
        const column = Object.keys(sortable).find(function (c) {
            return sortable[c] === applied.sort; });
        try {
            window.dash_ag_grid.getApi('GRID').applyColumnState({
                state: byDefault || !column ? [] : [{
                    colId: column, sort: applied.descending ? 'desc' : 'asc'}],
                defaultState: {sort: null},
            });
        } catch (e) { /* not drawn yet: its columns carry the order */ }
        return noUpdate;
    }
    const sorted = (columnState || []).find(function (c) { return c.sort; });
    if (!sorted) {
        return byDefault ? noUpdate : [];
    }
    const descending = sorted.sort === 'desc';
    if (sortable[sorted.colId] === applied.sort && descending === applied.descending) {
        return noUpdate;
    }
    return [{column_id: sorted.colId, direction: sorted.sort}];
}"""


def _table_asked(services: Services, applied, shown, language) -> dict:
    """update_table for the one control acted on. Dash also calls when the page appears (its
    address outputs were there before it), with every input at once: the page came with its
    data, so nothing runs then."""
    if len(ctx.triggered_prop_ids) != 1:
        raise PreventUpdate
    return update_table(
        services,
        applied,
        page_asked(PAGE_BUTTONS.get(ctx.triggered_id), shown),
        language,
        new_view=ctx.triggered_id == ids.DETAILED_REQUEST,
        shown=shown,
    )


def register_callbacks(app, services: Services) -> None:
    # The page is built with its view's data, so nothing runs when a page appears.
    app.callback(output=TABLE_OUTPUTS, inputs=TABLE_INPUTS, prevent_initial_call=True)(
        lambda requested, first, previous, next, last, applied, shown, language: _table_asked(
            services, applied, shown, language
        )
    )
    app.callback(output=DETAIL_OUTPUTS, inputs=DETAIL_INPUTS, prevent_initial_call=True)(
        lambda clicked, shown, applied, language: show_detail(
            services, clicked, shown, applied, language
        )
    )
    app.callback(output=COLUMNS_OUTPUTS, inputs=COLUMNS_INPUTS, prevent_initial_call=True)(
        lambda chosen, applied, language: choose_columns(services, chosen, applied, language)
    )
    app.clientside_callback(
        SORT_REQUEST.replace("SORTABLE", json.dumps(detailed.SORTABLE))
        .replace("APPLIED_PROP", f"{ids.APPLIED_FILTERS}.data")
        .replace("GRID", ids.DETAILED_TABLE),
        Output(ids.DETAILED_SORT, "data"),
        Input(ids.DETAILED_TABLE, "columnState"),
        Input(ids.APPLIED_FILTERS, "data"),
        prevent_initial_call=True,
    )
