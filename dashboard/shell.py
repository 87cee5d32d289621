"""Builds the Dash app: the page shell and every area's callbacks."""

from __future__ import annotations

import dash
from dash import dcc, html

from config import PROJECT_DIR
from dashboard import ids
from dashboard.callbacks import (
    alerts,
    audit,
    consolidated,
    detailed,
    exports,
    filters,
    narrowing,
    presets,
    routing,
    schedules,
)
from dashboard.callbacks.common import on_callback_error
from dashboard.services import Services
from dashboard.transport import install_transport
from reporting.i18n import t
from reporting.languages import DEFAULT_LANGUAGE, normalize_language

AREAS = (
    routing,
    filters,
    narrowing,
    presets,
    consolidated,
    detailed,
    exports,
    audit,
    alerts,
    schedules,
)

# Dash's page with a language on <html> from the first byte: the profile's (LANGUAGE_MARK is
# filled in per request, see profile_language_index); the page callback then sets the one the
# person chose (routing.py), which screen readers and the browser's own words follow. The
# profile's language stays in data-profile-language for assets/calendar-language.js.
LANGUAGE_MARK = "{%profile_language%}"
INDEX_STRING = f"""<!DOCTYPE html>
<html lang="{LANGUAGE_MARK}" data-profile-language="{LANGUAGE_MARK}">
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
    </head>
    <body>
        {{%app_entry%}}
        <footer>
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </footer>
    </body>
</html>"""


def shell_layout() -> html.Div:
    """What every page shares; the routing callback fills the page for the URL."""
    return html.Div(
        [
            dcc.Location(id=ids.URL, refresh="callback-nav"),
            # The language chosen in this browser outlives reloads (localStorage).
            dcc.Store(id=ids.LANGUAGE_STORE, storage_type="local"),
            dcc.Store(id=ids.APPLIED_FILTERS),
            # The applied view's query string, and the URL changes the page does not show yet:
            # the page's own URL writes are told apart in the browser (callbacks/routing.py).
            dcc.Store(id=ids.APPLIED_SEARCH),
            dcc.Store(id=ids.URL_CHANGE),
            dcc.Store(id=ids.DOCUMENT_TITLE),
            html.Div(
                html.Div(className="boot-spinner", role="status"),
                id=ids.PAGE_CONTENT,
            ),
        ]
    )


def profile_language_index(app: dash.Dash, services: Services):
    """Dash's interpolate_index, with the language of the signed-in person's profile."""
    interpolate = app.interpolate_index

    def index(**parts: str) -> str:
        try:
            language = normalize_language(services.current_viewer().language)
        except Exception:  # not signed in (the gate answers first) or no request
            language = DEFAULT_LANGUAGE
        return interpolate(**parts).replace(LANGUAGE_MARK, language)

    return index


def build_app(services: Services) -> dash.Dash:
    # Bootstrap's stylesheet is served from assets/ with the app: no third-party host needed.
    app = dash.Dash(
        __name__,
        title=t(DEFAULT_LANGUAGE, "app.title"),
        update_title="",  # the tab keeps its title while a callback runs
        suppress_callback_exceptions=True,
        assets_folder=str(PROJECT_DIR / "assets"),
        on_error=on_callback_error,
        index_string=INDEX_STRING,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.interpolate_index = profile_language_index(app, services)  # type: ignore[method-assign]
    install_transport(app)
    app.layout = shell_layout
    for area in AREAS:
        area.register_callbacks(app, services)
    if services.settings.debug:
        app.enable_dev_tools(debug=services.settings.debug)
    return app
