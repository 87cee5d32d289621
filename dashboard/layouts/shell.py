"""The frame around every page: top bar, error notice, and the small pages of the shell."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.layouts.aria import aria
from dashboard.services import Viewer
from reporting.i18n import N_, t
from reporting.languages import LANGUAGE_NAMES, LANGUAGES

REPORTS_PATH = "/"
EXPORTS_PATH = "/exports"
AUDIT_PATH = "/audit"
ALERTS_PATH = "/alerts"
SCHEDULES_PATH = "/schedules"
PROFILE_PATH = "/profile"
SIGN_OUT_PATH = "/logout"


def top_bar(
    viewer: Viewer, language: str, pathname: str, reports_href: str = REPORTS_PATH
) -> html.Header:
    """`reports_href` leads back to the reports as they were last seen (their query string)."""
    path = pathname.rstrip("/")
    on_exports, on_audit = path == EXPORTS_PATH, path == AUDIT_PATH
    on_alerts, on_schedules = path == ALERTS_PATH, path == SCHEDULES_PATH
    links = [
        dcc.Link(
            t(language, "shell.reports"),
            id=ids.REPORTS_LINK,
            href=reports_href,
            className="nav-link px-0",
        )
        if on_exports or on_audit or on_alerts or on_schedules
        else dcc.Link(
            t(language, "shell.exports"),
            id=ids.EXPORTS_LINK,
            href=EXPORTS_PATH,
            className="nav-link px-0",
        )
    ]
    if not on_alerts:
        links.append(
            dcc.Link(
                t(language, "shell.alerts"),
                id=ids.ALERTS_LINK,
                href=ALERTS_PATH,
                className="nav-link px-0 ms-3",
            )
        )
    if not on_schedules:
        links.append(
            dcc.Link(
                t(language, "shell.schedules"),
                id=ids.SCHEDULES_LINK,
                href=SCHEDULES_PATH,
                className="nav-link px-0 ms-3",
            )
        )
    if viewer.role == "admin" and not on_audit:
        links.append(
            dcc.Link(
                t(language, "shell.audit"),
                id=ids.AUDIT_LINK,
                href=AUDIT_PATH,
                className="nav-link px-0 ms-3",
            )
        )
    role = t(language, f"role.{viewer.role}") if viewer.role in ("admin", "user") else viewer.role
    return html.Header(
        dbc.Container(
            html.Div(
                [
                    dcc.Link(
                        t(language, "app.title"), href=REPORTS_PATH, className="brand me-auto"
                    ),
                    html.Nav(
                        links,
                        className="top-link d-flex",
                        **aria(label=t(language, "app.title")),
                    ),
                    html.Div(
                        [
                            html.Span(t(language, "shell.signed_in") + ": ", className="muted"),
                            html.Span(
                                viewer.display_name or viewer.username,
                                className="fw-semibold",
                            ),
                            html.Span(f" ({role})", className="muted"),
                            *account_links(viewer, language),
                        ],
                        className="top-item",
                    ),
                    html.Div(
                        [
                            html.Span(t(language, "shell.timezone") + ": ", className="muted"),
                            html.Span(viewer.timezone, className="fw-semibold"),
                        ],
                        className="top-item",
                    ),
                    html.Div(
                        [
                            html.Label(
                                t(language, "shell.language"),
                                htmlFor=ids.LANGUAGE,
                                className="muted me-1 mb-0",
                            ),
                            dbc.Select(
                                id=ids.LANGUAGE,
                                options=[
                                    {"label": LANGUAGE_NAMES[code], "value": code}
                                    for code in LANGUAGES
                                ],
                                value=language,
                                size="sm",
                                className="language-select",
                            ),
                        ],
                        className="top-item d-flex align-items-center",
                    ),
                ],
                className="top-bar-inner",
            ),
            fluid=True,
        ),
        id=ids.TOP_BAR,
        className="top-bar",
    )


def account_links(viewer: Viewer, language: str) -> list:
    """Profile and sign-out, for a signed-in person (served outside the Dash pages)."""
    if viewer.user_id is None:
        return []
    return [
        # The profile cannot read the browser's stored choice: the link carries the language.
        html.A(
            t(language, "shell.profile"),
            href=f"{PROFILE_PATH}?{urlencode({'lang': language})}",
            className="ms-2",
        ),
        html.A(t(language, "shell.sign_out"), href=SIGN_OUT_PATH, className="ms-2"),
    ]


def error_notice(language: str) -> dbc.Alert:
    """Opened by the app's error handler when a callback fails unexpectedly."""
    return dbc.Alert(
        t(language, "error.generic"),
        id=ids.ERROR_ALERT,
        color="danger",
        is_open=False,
        dismissable=True,
        className="mt-2",
    )


def widget_words(language: str) -> html.Div:
    """Words that Dash's calendar writes in English only (its buttons' and year box's names),
    in the page's language for assets/a11y.js to put in their place."""
    words = {
        "previous-month": N_("calendar.previous_month"),
        "next-month": N_("calendar.next_month"),
        "year": N_("calendar.year"),
        "year-down": N_("calendar.year_down"),
        "year-up": N_("calendar.year_up"),
    }
    # Typed Any for the same reason as aria(): a spread dict[str, str] meets every parameter.
    data: dict[str, Any] = {f"data-{name}": t(language, key) for name, key in words.items()}
    return html.Div(id=ids.WIDGET_WORDS, hidden=True, **data)


def frame(
    viewer: Viewer, language: str, pathname: str, body, reports_href: str = REPORTS_PATH
) -> html.Div:
    """A page in the shell; `lang` tells screen readers and the browser the page's language."""
    return html.Div(
        [
            top_bar(viewer, language, pathname, reports_href),
            dbc.Container([error_notice(language), html.Main(body)], fluid=True, className="page"),
            widget_words(language),
        ],
        lang=language,
    )


def notice_page(language: str, key: str) -> html.Div:
    """A short page that says one thing and leads back to the reports."""
    return html.Div(
        [
            html.P(t(language, key), className="lead mt-4"),
            dcc.Link(t(language, "page.back"), href=REPORTS_PATH),
        ],
        className="notice-page",
    )


def bare_notice(language: str, key: str) -> html.Div:
    """A notice page without the top bar, for when not even the viewer is known."""
    return html.Div(dbc.Container(notice_page(language, key), className="page"), lang=language)
