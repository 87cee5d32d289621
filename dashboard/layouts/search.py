"""The detailed view's search box: a phone number, a message id or a correlation id."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from data_access.filters import MAX_SPAN_DAYS
from reporting.i18n import N_, t
from reporting.view_state import ViewState

# What the box can look for: the ViewState field it fills, and its catalog keys (the choice's
# name, the box's example).
SEARCH_KINDS = {
    "phone": (N_("search.kind.phone"), N_("detailed.phone_placeholder")),
    "message_id": (N_("search.kind.message_id"), N_("search.placeholder.message_id")),
    "correlation_id": (N_("search.kind.correlation_id"), N_("search.placeholder.correlation_id")),
}
DEFAULT_KIND = "phone"
# The box's keyboard on phones: digits for a number, letters for an id.
INPUT_MODES = {"phone": "tel", "message_id": "text", "correlation_id": "text"}


def searched_kind(state: ViewState) -> str:
    """The kind of search a state holds (a phone when it holds none)."""
    return next((kind for kind in SEARCH_KINDS if getattr(state, kind)), DEFAULT_KIND)


def searched_with(state: ViewState, kind: str | None, text: str | None) -> ViewState:
    """The state searching `text` as `kind` (an unknown kind is a phone); the other searches
    are cleared, and the rows read newest first, whatever order the table had."""
    kind = kind if kind in SEARCH_KINDS else DEFAULT_KIND
    text = (text or "").strip() or None
    return ViewState.from_dict(
        {
            **state.to_dict(),
            **{name: text if name == kind else None for name in SEARCH_KINDS},
            "sort": "created_at",
            "descending": True,
        }
    )


def search_box(language: str, state: ViewState) -> html.Div:
    kind = searched_kind(state)
    return html.Div(
        [
            html.Label(
                t(language, "detailed.phone_search"),
                htmlFor=ids.PHONE_SEARCH,
                className="form-label",
            ),
            html.Label(
                t(language, "search.kind"), htmlFor=ids.SEARCH_KIND, className="visually-hidden"
            ),
            dbc.InputGroup(
                [
                    dbc.Select(
                        id=ids.SEARCH_KIND,
                        options=[
                            {"label": t(language, name), "value": value}
                            for value, (name, _example) in SEARCH_KINDS.items()
                        ],
                        value=kind,
                        className="search-kind",
                    ),
                    dbc.Input(
                        id=ids.PHONE_SEARCH,
                        type="search",
                        value=getattr(state, kind) or "",
                        placeholder=t(language, SEARCH_KINDS[kind][1]),
                        inputmode=INPUT_MODES[kind],
                        autocomplete="off",
                        maxlength=200,
                    ),
                    dbc.Button(
                        t(language, "detailed.search"),
                        id=ids.PHONE_SEARCH_BUTTON,
                        color="primary",
                        outline=True,
                    ),
                ]
            ),
            html.Small(
                t(language, "search.id_window", days=MAX_SPAN_DAYS),
                id=ids.SEARCH_ID_HINT,
                className="text-muted search-id-hint",
                hidden=kind == DEFAULT_KIND,
            ),
            html.Div(id=ids.error_for(ids.PHONE_SEARCH), className="field-error", role="alert"),
            dcc.Store(
                id=ids.SEARCH_PLACEHOLDERS,
                data={kind: t(language, example) for kind, (_n, example) in SEARCH_KINDS.items()},
            ),
        ],
        className="phone-search mb-2",
    )
