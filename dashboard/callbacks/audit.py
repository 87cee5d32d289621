"""The audit-trail page's filters: the rows of one user and from one day, for admins only."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State

from dashboard import ids
from dashboard.callbacks.common import viewer_and_language
from dashboard.layouts import audit as page
from dashboard.services import Services
from reporting.i18n import t


def show_entries(services: Services, user, since, stored_language):
    """(table, message) for the filters; only an admin gets rows, whatever the browser sends."""
    viewer, language = viewer_and_language(services, stored_language)
    if not page.is_admin(viewer):
        return [], dbc.Alert(t(language, "audit.admins_only"), color="warning")
    user = user.strip()[: page.USER_MAX_LENGTH] if isinstance(user, str) else None
    try:
        start = page.since_utc(since if isinstance(since, str) else None, viewer.timezone)
    except page.BadSince:
        text = t(language, "audit.bad_since", value=str(since)[:40])
        return [], dbc.Alert(text, color="warning")
    children, count = page.table_children(services, viewer, language, user, start)
    return children, page.limit_notice(language, count)


def register_callbacks(app, services: Services) -> None:
    app.callback(
        Output(ids.AUDIT_TABLE, "children"),
        Output(ids.AUDIT_MESSAGE, "children"),
        # Show (or Enter in the user box, or a chosen day) reads the rows again.
        Input(ids.AUDIT_APPLY, "n_clicks"),
        Input(ids.AUDIT_USER, "value"),
        Input(ids.AUDIT_SINCE, "value"),
        State(ids.LANGUAGE_STORE, "data"),
        prevent_initial_call=True,
    )(lambda _clicks, user, since, language: show_entries(services, user, since, language))
