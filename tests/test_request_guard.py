"""Hostile requests get clean answers: malformed callback posts 400 (one warning line, no
traceback), unknown machine paths 404 and wrong methods 405, as JSON; random callback posts by a
scoped user never answer 5xx and never reach outside the user's scope."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app import create_app
from dashboard import request_guard
from data_access.tables import export_job_subaccounts
from tests.auth_helpers import SECRET, add_account, sign_in, subaccount_ids, two_brand_rows

CALLBACK = "/_dash-update-component"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def setup(store_settings, engine, load_rows):
    """The app on a store with two brands, and a browser signed in as a Brand A user."""
    load_rows(engine, two_brand_rows())
    app = create_app(store_settings, engine)
    add_account(engine, "bia", "bia-password-1", subaccount_names=("Brand A",))
    client = app.server.test_client()
    assert sign_in(client, "bia", "bia-password-1").status_code == 302
    return app, client


def _language_post(app) -> dict:
    """A well-formed post of the language switch's callback, to spoil one part at a time."""
    key = next(k for k, spec in app.callback_map.items() if k == "language-store.data")
    spec = app.callback_map[key]
    return {
        "output": key,
        "outputs": {"id": "language-store", "property": "data"},
        "inputs": [{**spec["inputs"][0], "value": "en"}],
        "changedPropIds": ["language-select.value"],
    }


MALFORMED = {
    "empty object": ({}, "output is missing"),
    "a list": ([1, 2], "the body is not a JSON object"),
    "inputs not a list": ({"inputs": {"id": "x"}}, "inputs is not a list"),
    "unknown output": ({"output": "nope.children"}, "unknown output"),
    "outputs of another callback": (
        {"outputs": {"id": "page-content", "property": "children"}},
        "outputs[0] names another component",
    ),
    "an input of another component": (
        {"inputs": [{"id": "url", "property": "value", "value": "en"}]},
        "inputs[0] names another component",
    ),
    "an input that is a string": (
        {"inputs": ["language-select.value"]},
        "inputs[0] is not an object",
    ),
    "too many inputs": (
        {"inputs": [{"id": "language-select", "property": "value"}] * 2},
        "inputs has 2 items, the callback takes 1",
    ),
    "state not a list": ({"state": "x"}, "state is not a list"),
    "changed ids not names": (
        {"changedPropIds": [{"a": 1}]},
        "changedPropIds is not a list of names",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_callback_posts_get_400_and_one_warning(setup, caplog, case):
    app, client = setup
    change, reason = MALFORMED[case]
    whole = case in ("empty object", "a list")
    body = change if whole else {**_language_post(app), **change}
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = client.post(CALLBACK, json=body)
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "The request could not be understood.",
        "reason": reason,
    }
    assert [(r.name, r.levelno, r.exc_info) for r in caplog.records] == [
        (request_guard.__name__, logging.WARNING, None)
    ]
    assert reason in caplog.records[0].getMessage()


def test_a_body_that_is_not_json_gets_400_and_a_wrong_type_415(setup, caplog):
    _app, client = setup
    with caplog.at_level(logging.INFO):
        broken = client.post(CALLBACK, data='{"output": ', content_type="application/json")
        plain = client.post(CALLBACK, data="{}", content_type="text/plain")
    assert broken.status_code == 400
    assert broken.get_json()["reason"] == "the body is not valid JSON"
    assert plain.status_code == 415
    assert plain.get_json()["reason"] == "the body is not JSON (Content-Type application/json)"
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
    assert not any(r.exc_info for r in caplog.records)


def test_a_well_formed_post_still_runs_its_callback(setup):
    app, client = setup
    response = client.post(CALLBACK, json=_language_post(app))
    assert response.status_code == 200
    assert response.get_json()["response"]["language-store"]["data"]["language"] == "en"


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/api/v1/nothing", 404, None),
        ("GET", "/api/v1", 404, None),
        ("GET", "/api/v1/", 404, None),
        ("POST", "/api/v1/messages/extra", 404, None),
        ("GET", "/api/v1/messages", 405, "OPTIONS, POST"),
        ("PUT", "/api/v1/messages", 405, "OPTIONS, POST"),
        ("GET", "/webhooks/", 404, None),
        ("POST", "/webhooks/nothing", 404, None),
        ("GET", "/webhooks/sinch/sms/some-token", 405, "OPTIONS, POST"),
        ("DELETE", "/webhooks/whatsapp", 405, "GET, HEAD, OPTIONS, POST"),
    ],
)
def test_machine_paths_answer_404_or_405_as_json(setup, method, path, status, allow):
    _app, client = setup
    for headers in (HTML, {}):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == status
        assert response.is_json
        assert response.get_json()["error"] in ("Not found.", request_guard.ERROR_TEXT[405])
        assert response.headers.get("Allow") == allow


def test_the_machine_endpoints_still_answer_their_own_requests(store_settings, engine):
    token = "verify-" + "x" * 24
    app = create_app(replace(store_settings, whatsapp_verify_token=token), engine)
    client = app.server.test_client()
    assert client.post("/api/v1/messages", json=[]).status_code == 401
    query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"}
    verified = client.get("/webhooks/whatsapp", query_string=query)
    assert verified.status_code == 200
    assert verified.get_data(as_text=True) == "42"


# ---- random posts ----

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _outputs_of(key: str):
    def one(part: str) -> dict:
        component, prop = part.rsplit(".", 1)
        return {"id": component, "property": prop}

    if key.startswith(".."):
        return [one(part) for part in key[2:-2].split("...")]
    return one(key)


@st.composite
def _dependency(draw, spec: dict):
    """A dependency as the renderer sends it, with any value; a list for a wildcard id."""
    if spec["id"].startswith("{"):
        pattern = json.loads(spec["id"])
        items = []
        for _ in range(draw(st.integers(0, 3))):
            concrete = {
                name: draw(st.text(max_size=40) | st.integers()) if isinstance(v, list) else v
                for name, v in pattern.items()
            }
            items.append({"id": concrete, "property": spec["property"], "value": draw(JSON_VALUES)})
        return items
    return {"id": spec["id"], "property": spec["property"], "value": draw(JSON_VALUES)}


@st.composite
def callback_posts(draw, callback_map: dict):
    """A post of a registered callback with random values, or one part of it replaced by any
    JSON, or any JSON at all."""
    key = draw(st.sampled_from(sorted(callback_map)))
    spec = callback_map[key]
    inputs = [draw(_dependency(item)) for item in spec["inputs"]]
    names = [f"{item['id']}.{item['property']}" for item in spec["inputs"]]
    body = {
        "output": key,
        "outputs": _outputs_of(key),
        "inputs": inputs,
        "state": [draw(_dependency(item)) for item in spec["state"]],
        "changedPropIds": draw(st.lists(st.sampled_from(names) | st.text(max_size=20), max_size=3)),
    }
    how = draw(st.sampled_from(("as sent", "one part spoiled", "any JSON")))
    if how == "one part spoiled":
        body[draw(st.sampled_from(sorted(body)))] = draw(JSON_VALUES)
    elif how == "any JSON":
        return draw(JSON_VALUES | st.dictionaries(st.sampled_from(sorted(body)), JSON_VALUES))
    return body


def test_random_callback_posts_never_answer_5xx_nor_leave_the_scope(setup, engine, caplog):
    app, client = setup
    brand_a = subaccount_ids(engine)["Brand A"]

    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(body=callback_posts(app.callback_map))
    def post(body):
        response = client.post(CALLBACK, json=body)
        event(f"status {response.status_code}")
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        text = response.get_data(as_text=True)
        assert SECRET not in text and "Brand B" not in text
        assert "Traceback" not in text

    with caplog.at_level(logging.WARNING):
        post()
    # Nonsense from a client is refused or answered, never logged as a server fault.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # The only writes a callback makes are export requests: within the user's scope.
    with engine.connect() as conn:
        written = set(conn.execute(select(export_job_subaccounts.c.subaccount_id)).scalars())
    assert written <= {brand_a}


def test_a_value_of_the_wrong_type_for_its_property_is_refused():
    callback_map = {
        "out.children": {
            "inputs": [{"id": "button", "property": "n_clicks"}],
            "state": [{"id": "tabs", "property": "active_tab"}],
            "callback": print,
        }
    }

    def body(clicks, tab) -> dict:
        return {
            "output": "out.children",
            "outputs": {"id": "out", "property": "children"},
            "inputs": [{"id": "button", "property": "n_clicks", "value": clicks}],
            "state": [{"id": "tabs", "property": "active_tab", "value": tab}],
        }

    request_guard.check_callback_body(body(3, "sms"), callback_map)
    request_guard.check_callback_body(body(None, None), callback_map)
    for clicks, tab, reason in (
        ("3", "sms", "inputs[0] has a value of the wrong type for n_clicks"),
        (True, "sms", "inputs[0] has a value of the wrong type for n_clicks"),
        (1, {"a": 1}, "state[0] has a value of the wrong type for active_tab"),
    ):
        with pytest.raises(request_guard.MalformedCallback, match=re.escape(reason)):
            request_guard.check_callback_body(body(clicks, tab), callback_map)
