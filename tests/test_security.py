"""The app's posture: the sign-in gate on every route, cookie flags, headers, error answers."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from dash import Input, Output
from sqlalchemy import text

from app import create_app
from config import load_settings
from dashboard import auth
from dashboard.security import MAX_REQUEST_BYTES
from tests.auth_helpers import add_account, sign_in

GENERIC_500 = (
    "Something went wrong on the server; try again. If it keeps happening, give the "
    "administrator the reference shown."
)


@pytest.fixture
def app(duckdb_settings, duckdb_engine):
    return create_app(duckdb_settings, duckdb_engine)


@pytest.fixture
def client(app):
    return app.server.test_client()


def sign_in_admin(app, engine):
    add_account(engine, "ana", "ana-password-1", role="admin")
    browser = app.server.test_client()
    assert sign_in(browser, "ana", "ana-password-1").status_code == 302
    return browser


@pytest.fixture
def signed_in(app, duckdb_engine):
    return sign_in_admin(app, duckdb_engine)


HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FETCH = {"Accept": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "location"),
    [
        ("GET", "/", HTML, 302, "/login?next=/"),
        (
            "GET",
            "/?channel=sms&view=detailed",
            HTML,
            302,
            "/login?next=/%3Fchannel%3Dsms%26view%3Ddetailed",
        ),
        ("GET", "/exports", HTML, 302, "/login?next=/exports"),
        ("GET", "/exports/download/0123abcd", HTML, 302, "/login?next=/exports/download/0123abcd"),
        ("GET", "/profile", HTML, 302, "/login?next=/profile"),
        ("GET", "/exports/download/0123abcd", FETCH, 401, None),
        ("GET", "/_dash-layout", FETCH, 401, None),
        ("GET", "/_dash-layout", HTML, 401, None),
        ("GET", "/_dash-dependencies", {}, 401, None),
        ("POST", "/_dash-update-component", FETCH, 401, None),
        ("POST", "/exports", HTML, 401, None),
    ],
)
def test_anonymous_requests_are_sent_to_sign_in(client, method, path, headers, status, location):
    response = client.open(
        path, method=method, headers=headers, json={} if method == "POST" else None
    )
    assert response.status_code == status
    if location is None:
        assert response.get_json() == {"error": "Sign in to continue."}
    else:
        assert response.headers["Location"] == location


def test_the_sign_in_page_static_files_and_machine_endpoints_stay_open(client):
    assert client.get("/login").status_code == 200
    assert client.get("/assets/dashboard.css").status_code == 200
    assert (
        client.get("/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.12.1.min.js").status_code
        == 200
    )
    # The ingestion API answers with its own API-key check, not with the sign-in redirect.
    api = client.post("/api/v1/messages", json={})
    assert api.status_code == 401
    assert "API key" in api.get_json()["error"]


def test_the_session_cookie_is_http_only_and_same_site(app, signed_in):
    cookie = signed_in.get_cookie(auth.SESSION_COOKIE)
    assert cookie.http_only is True
    assert cookie.same_site == "Lax"
    assert cookie.secure is False


def test_secure_cookies_and_strict_transport_behind_https(tmp_path, duckdb_engine):
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": f"duckdb:///{tmp_path / 'data' / 'reports.duckdb'}",
            "SECURE_COOKIES": "true",
        }
    )
    app = create_app(settings, duckdb_engine)
    add_account(duckdb_engine, "ana", "ana-password-1")
    browser = app.server.test_client()
    response = sign_in(browser, "ana", "ana-password-1")
    assert "; Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def _inline_script_hashes(page: str) -> set[str]:
    """The CSP hash of every inline script a browser would run on the page."""
    page = re.sub(r"<!--.*?-->", "", page, flags=re.S)
    found = set()
    for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S):
        if "src=" in attributes or "application/json" in attributes:
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        found.add(f"'sha256-{digest}'")
    return found


def test_headers_on_the_dashboard_page(signed_in):
    response = signed_in.get("/", headers=HTML)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["default-src"] == "'self'"
    scripts = directives["script-src"].split()
    assert scripts[0] == "'self'"
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    # Every inline script Dash writes into the page is allowed by its hash, and only those.
    inline = _inline_script_hashes(response.get_data(as_text=True))
    assert inline and inline <= set(scripts[1:])
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_headers_on_callback_answers_and_static_files(signed_in):
    layout = signed_in.get("/_dash-layout")
    assert layout.headers["Cache-Control"] == "no-store"
    assert layout.headers["X-Content-Type-Options"] == "nosniff"
    css = signed_in.get("/assets/dashboard.css")
    assert css.headers["Cache-Control"] != "no-store"
    assert "frame-ancestors 'none'" in css.headers["Content-Security-Policy"]


def test_the_sign_in_pages_run_no_inline_script(client, signed_in):
    assert "<script" not in client.get("/login").get_data(as_text=True)
    assert "<script" not in signed_in.get("/profile").get_data(as_text=True)


def test_dev_tools_are_off_without_debug(signed_in):
    page = signed_in.get("/", headers=HTML).get_data(as_text=True)
    config = re.search(r'id="_dash-config" type="application/json">(.*?)</script>', page).group(1)
    assert '"ui":false' in config
    assert '"props_check":false' in config
    assert "hot_reload" not in config


def test_a_server_error_shows_a_reference_never_the_sql_or_traceback(app, duckdb_engine, caplog):
    def broken():
        with duckdb_engine.connect() as conn:
            conn.execute(text("SELECT secret_column FROM no_such_table"))

    app.server.add_url_rule("/broken", "broken", broken)
    signed_in = sign_in_admin(app, duckdb_engine)
    for headers in (HTML, FETCH):
        response = signed_in.get("/broken", headers=headers)
        assert response.status_code == 500
        body = response.get_data(as_text=True)
        for leak in ("SELECT", "no_such_table", "Traceback", "sqlalchemy", "duckdb"):
            assert leak not in body
    body = signed_in.get("/broken", headers=FETCH).get_json()
    assert body["error"] == GENERIC_500
    assert re.fullmatch(r"[0-9a-f]{8}", body["reference"])
    # The administrator finds the whole story in the log under the same reference.
    assert any(body["reference"] in r.getMessage() for r in caplog.records)
    assert any("no_such_table" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_a_failing_callback_answers_without_sql_or_traceback(app, duckdb_engine):
    def leaky(_value):
        with duckdb_engine.connect() as conn:
            conn.execute(text("SELECT secret_column FROM no_such_table WHERE x = 'DROP'"))

    app.callback(Output("leak-out", "children"), Input("leak-in", "value"))(leaky)
    signed_in = sign_in_admin(app, duckdb_engine)
    response = signed_in.post(
        "/_dash-update-component",
        json={
            "output": "leak-out.children",
            "outputs": {"id": "leak-out", "property": "children"},
            "inputs": [{"id": "leak-in", "property": "value", "value": "x"}],
            "changedPropIds": ["leak-in.value"],
            "state": [],
        },
    )
    body = response.get_data(as_text=True)
    for leak in ("SELECT", "no_such_table", "secret_column", "Traceback", "duckdb"):
        assert leak not in body
    # The shell's callback error handler opens its generic notice; nothing else is sent.
    assert response.status_code == 200
    assert response.get_json() == {
        "multi": True,
        "sideUpdate": {"error-alert": {"is_open": True}},
        "response": {},
    }


def test_forged_callback_posts_that_are_not_json_or_too_big_are_refused(signed_in):
    plain = signed_in.post("/_dash-update-component", data="{}", content_type="text/plain")
    assert plain.status_code == 415
    big = signed_in.post(
        "/_dash-update-component",
        data=b"{" + b" " * MAX_REQUEST_BYTES + b"}",
        content_type="application/json",
    )
    assert big.status_code == 413
    assert big.get_json() == {"error": "The request is too large."}
    unknown = signed_in.post(
        "/_dash-update-component",
        json={
            "output": "nope.children",
            "outputs": {"id": "nope", "property": "children"},
            "inputs": [],
            "changedPropIds": [],
        },
    )
    assert unknown.status_code == 400
    assert unknown.get_json() == {
        "error": "The request could not be understood.",
        "reason": "unknown output",
    }


def test_an_unknown_component_file_is_a_plain_404(signed_in):
    response = signed_in.get("/_dash-component-suites/nothing/x.js", headers=FETCH)
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not found."}
