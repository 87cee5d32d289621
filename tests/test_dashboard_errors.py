"""An unexpected failure reaches the page as a short notice, never as a traceback."""

from __future__ import annotations

import pytest

from dashboard import ids
from dashboard.shell import build_app
from reporting.view_state import ViewState
from tests.dashboard_data import FixedViewerServices, texts

SECRET = "relation messages_secret does not exist"


class BrokenServices(FixedViewerServices):
    """Every request fails the way a lost database would."""

    def current_viewer(self):
        raise RuntimeError(SECRET)


@pytest.fixture
def client(duckdb_engine, duckdb_settings):
    app = build_app(BrokenServices(duckdb_settings, duckdb_engine, None))
    return app, app.server.test_client()


def call(app, client, output_part: str, inputs: list, state: list):
    """POST one callback as the browser would."""
    output = next(key for key in app.callback_map if output_part in key)
    outputs = [
        {"id": part.split(".")[0], "property": part.split(".")[1]}
        for part in output.strip(".").split("...")
    ]
    payload = {
        "output": output,
        "outputs": outputs,
        "inputs": inputs,
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        "state": state,
    }
    return client.post("/_dash-update-component", json=payload)


def test_dr501_a_failing_data_callback_opens_the_generic_notice(client, caplog):
    app, http = client
    response = call(
        app,
        http,
        f"{ids.KPI_TOTAL}.children",
        [{"id": ids.CONSOLIDATED_REQUEST, "property": "data", "value": ViewState().to_dict()}],
        [
            {"id": ids.CONSOLIDATED_SHOWN, "property": "data", "value": None},
            {"id": ids.LANGUAGE_STORE, "property": "data", "value": "en"},
        ],
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert response.get_json()["sideUpdate"] == {ids.ERROR_ALERT: {"is_open": True}}
    assert SECRET not in body and "Traceback" not in body
    # The cause is in the server's log for whoever runs it.
    assert SECRET in caplog.text


def test_dr502_a_failing_page_says_so_in_the_users_language(client):
    app, http = client
    response = call(
        app,
        http,
        f"{ids.PAGE_CONTENT}.children",
        [
            {"id": ids.URL_CHANGE, "property": "data", "value": {"changed": ["url.pathname"]}},
            {
                "id": ids.LANGUAGE_STORE,
                "property": "data",
                "value": {"language": "pt-BR", "profile": "es"},
            },
        ],
        [
            {"id": ids.URL, "property": "pathname", "value": "/"},
            {"id": ids.URL, "property": "search", "value": ""},
            {"id": ids.APPLIED_FILTERS, "property": "data", "value": None},
            {"id": ids.APPLIED_SEARCH, "property": "data", "value": None},
        ],
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert SECRET not in body and "Traceback" not in body
    page = response.get_json()["response"][ids.PAGE_CONTENT]["children"]
    assert texts(page)[0] == (
        "Algo deu errado ao carregar estes dados. Tente novamente em alguns segundos."
    )
