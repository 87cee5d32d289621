"""The audit-trail page (admins only): who did what, when and from where, newest first."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.services import Services, Viewer
from data_access import audit
from reporting.formatting import format_datetime
from reporting.i18n import t, tn

USER_MAX_LENGTH = 200
COLUMNS = ("at", "actor", "action", "detail", "address", "subaccount")


class BadSince(ValueError):
    """The "since" box holds something that is not a date."""


def is_admin(viewer: Viewer) -> bool:
    return viewer.role == "admin"


def since_utc(value: str | None, timezone: str) -> datetime | None:
    """The start of the chosen local day in the viewer's zone, as naive UTC like the store."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadSince(value) from None
    local = datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _action(language: str, action: str) -> str:
    key = f"audit.action.{action}"
    return t(language, key) if action in audit.ACTIONS else action


def table_children(
    services: Services, viewer: Viewer, language: str, user: str | None, since: datetime | None
) -> tuple[list, int]:
    """The table's header and rows for the filters, and how many rows it holds."""
    with services.engine.connect() as conn:
        rows = audit.entries(conn, actor=user or None, since=since)
    head = html.Thead(
        html.Tr([html.Th(t(language, f"audit.column.{c}"), scope="col") for c in COLUMNS])
    )
    if not rows:
        body = [
            html.Tr(html.Td(t(language, "audit.empty"), colSpan=len(COLUMNS), className="muted"))
        ]
    else:
        body = [
            html.Tr(
                [
                    html.Td(format_datetime(row.at, language, viewer.timezone)),
                    html.Td(row.actor),
                    html.Td(_action(language, row.action)),
                    html.Td(row.detail, className="small"),
                    html.Td(row.address or "—"),
                    html.Td(
                        row.subaccount or f"#{row.subaccount_id}"
                        if row.subaccount_id is not None
                        else "—"
                    ),
                ]
            )
            for row in rows
        ]
    return [head, html.Tbody(body)], len(rows)


def limit_notice(language: str, count: int):
    return t(language, "audit.limited", count=count) if count >= audit.DEFAULT_LIMIT else ""


def layout(services: Services, viewer: Viewer, language: str) -> html.Div:
    if not is_admin(viewer):
        return html.Div(
            [
                html.P(t(language, "audit.admins_only"), className="lead mt-4"),
                dcc.Link(t(language, "page.back"), href="/"),
            ],
            className="notice-page",
        )
    children, count = table_children(services, viewer, language, None, None)
    return html.Div(
        [
            html.H1(t(language, "audit.title"), className="h3 mt-3"),
            html.P(
                tn(
                    language,
                    "audit.intro",
                    services.settings.audit_keep_days,
                    days=services.settings.audit_keep_days,
                ),
                className="muted",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label(t(language, "audit.user"), html_for=ids.AUDIT_USER),
                            dbc.Input(
                                id=ids.AUDIT_USER,
                                type="text",
                                placeholder=t(language, "audit.user_hint"),
                                maxLength=USER_MAX_LENGTH,
                                debounce=True,
                            ),
                        ],
                        xs=12,
                        sm=5,
                        md=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Label(t(language, "audit.since"), html_for=ids.AUDIT_SINCE),
                            dbc.Input(id=ids.AUDIT_SINCE, type="date"),
                        ],
                        xs=12,
                        sm=4,
                        md=3,
                    ),
                    dbc.Col(
                        dbc.Button(t(language, "audit.apply"), id=ids.AUDIT_APPLY, color="primary"),
                        xs=12,
                        sm=3,
                        md=2,
                        className="d-flex align-items-end",
                    ),
                ],
                className="g-2 mb-3",
            ),
            html.Div(limit_notice(language, count), id=ids.AUDIT_MESSAGE, role="status"),
            html.Div(
                dbc.Table(
                    children,
                    id=ids.AUDIT_TABLE,
                    hover=True,
                    size="sm",
                    className="audit-table align-middle",
                ),
                className="table-responsive",
            ),
            dcc.Link(t(language, "page.back"), href="/"),
        ],
        className="audit-page",
    )
