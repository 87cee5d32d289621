"""The shape the alert rules and scheduled reports pages share: a title and its intro, a notice,
the table of what the person manages, and a form that adds one more (each field labelled)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from reporting.i18n import t


def field(language: str, key: str, control, width: int = 3) -> dbc.Col:
    """A form control under its label (the catalog's `key`), `width` twelfths wide from md."""
    return dbc.Col(
        [dbc.Label(t(language, key), html_for=control.id), control], xs=12, sm=6, md=width
    )


def add_button(language: str, key: str, button_id: str) -> dbc.Col:
    """The form's button, at the foot of its row."""
    return dbc.Col(
        dbc.Button(t(language, key), id=button_id),
        xs=12,
        md=2,
        className="d-flex align-items-end",
    )


def page(
    language: str, title: str, intro: str, notice_id: str, table_id: str, rows: list, form
) -> html.Div:
    """The page: its title and intro (catalog keys), then the notice, the table with its
    `rows` and the form."""
    return html.Div(
        [
            html.H1(t(language, title), className="h3 mt-3"),
            html.P(t(language, intro), className="muted"),
            html.Div(id=notice_id, role="status"),
            dbc.Table(rows, id=table_id, responsive=True, hover=True, size="sm"),
            form,
        ]
    )
