"""Builds the Dash app: the page shell and every area's callbacks."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from config import PROJECT_DIR
from dashboard.services import Services


def build_app(services: Services) -> dash.Dash:
    app = dash.Dash(
        __name__,
        title="Delivery reports",
        external_stylesheets=[dbc.themes.BOOTSTRAP],
        suppress_callback_exceptions=True,
        assets_folder=str(PROJECT_DIR / "assets"),
    )
    app.layout = html.Div([html.H1("Delivery reports")])
    return app
