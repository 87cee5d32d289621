"""The callbacks the alert rules and scheduled reports pages share (layouts/managed_list.py):
the form's button adds one from the form's values, a row's button turns it off or on; each
answers (notice, table)."""

from __future__ import annotations

from collections.abc import Callable

from dash import ALL, Input, Output, State, ctx
from dash.exceptions import PreventUpdate

from dashboard import ids


def clicked_row(row_key: str, clicks) -> int:
    """The id of the row whose button started the callback (its pattern-matching id names it
    under `row_key`); PreventUpdate for anything else (a button drawn, not clicked)."""
    button = ctx.triggered_id
    if not isinstance(button, dict) or not any(clicks or ()):
        raise PreventUpdate
    if not (ctx.triggered and ctx.triggered[0]["value"]):
        raise PreventUpdate
    try:
        return int(str(button.get(row_key)))
    except (TypeError, ValueError):
        raise PreventUpdate from None


def register(
    app,
    *,
    notice: str,
    table: str,
    add_button: str,
    form_fields: dict[str, str],
    toggle_type: str,
    row_key: str,
    add: Callable[[object, dict], tuple],
    toggle: Callable[[object, int], tuple],
) -> None:
    """`add(language, values by form field)` on the form's button; `toggle(language, row id)`
    on a row's button."""
    app.callback(
        Output(notice, "children"),
        Output(table, "children"),
        Input(add_button, "n_clicks"),
        *(State(control, "value") for control in form_fields.values()),
        State(ids.LANGUAGE_STORE, "data"),
        prevent_initial_call=True,
    )(lambda _clicks, *values: add(values[-1], dict(zip(form_fields, values[:-1], strict=True))))
    app.callback(
        Output(notice, "children", allow_duplicate=True),
        Output(table, "children", allow_duplicate=True),
        Input({"type": toggle_type, row_key: ALL}, "n_clicks"),
        State(ids.LANGUAGE_STORE, "data"),
        prevent_initial_call=True,
    )(lambda clicks, language: toggle(language, clicked_row(row_key, clicks)))
