"""The page's files travel compressed, and versioned ones are kept by the browser for a year."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest
from flask_compress import flask_compress

from app import create_app
from dashboard.transport import LONG_CACHE
from tests.auth_helpers import add_account, sign_in

GZIP = {"Accept-Encoding": "gzip"}
CHROME = {"Accept-Encoding": "gzip, deflate, br, zstd"}


@pytest.fixture
def app(duckdb_settings, duckdb_engine):
    return create_app(duckdb_settings, duckdb_engine)


@pytest.fixture
def client(app, duckdb_engine):
    add_account(duckdb_engine, "ana", "ana-password-1", role="admin")
    browser = app.server.test_client()
    assert sign_in(browser, "ana", "ana-password-1").status_code == 302
    return browser


def page_urls(client) -> dict[str, str]:
    """The scripts and stylesheets the dashboard page loads, by file name."""
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/(?:_dash-component-suites|assets)/[^"]+)"', page)
    return {url.split("?")[0].rsplit("/", 1)[-1]: url for url in urls}


def test_a_fingerprinted_bundle_is_served_gzipped_with_a_long_max_age(client, monkeypatch):
    compressed = []
    real = flask_compress._compress_data

    def counting(app, data, algorithm):
        compressed.append(algorithm)
        return real(app, data, algorithm)

    monkeypatch.setattr(flask_compress, "_compress_data", counting)
    urls = page_urls(client)
    url = next(u for name, u in urls.items() if name.startswith("dash_renderer.v"))
    plain = client.get(url).get_data()
    response = client.get(url, headers=GZIP)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert (
        response.headers["Cache-Control"] == LONG_CACHE == ("public, max-age=31536000, immutable")
    )
    assert "Accept-Encoding" in response.headers["Vary"]
    body = response.get_data()
    assert gzip.decompress(body) == plain
    assert int(response.headers["Content-Length"]) == len(body) < len(plain) / 3
    # Asked again: the same bytes, kept rather than compressed anew.
    compressed.clear()
    assert client.get(url, headers=GZIP).get_data() == body
    assert compressed == []


def test_an_asset_with_its_version_is_compressed_and_kept_a_year(client):
    urls = page_urls(client)
    url = urls["plotly-basic-4.1.1.min.js"]
    assert re.search(r"\?m=\d+", url)
    plain = client.get(url).get_data()
    for headers, decompress in ((GZIP, gzip.decompress), (CHROME, brotli.decompress)):
        response = client.get(url, headers=headers)
        assert response.headers["Cache-Control"] == LONG_CACHE
        assert response.headers["Content-Encoding"] == ("br" if headers is CHROME else "gzip")
        assert decompress(response.get_data()) == plain
    assert len(client.get(url, headers=GZIP).get_data()) < len(plain) / 3
    # The same file without its version is asked for again each time (an ETag answers).
    bare = client.get(url.split("?")[0], headers=GZIP)
    assert bare.headers["Cache-Control"] == "no-cache"
    assert bare.headers["Content-Encoding"] == "gzip"


def test_callback_answers_are_compressed_but_never_stored(client):
    response = client.get("/_dash-layout", headers=GZIP)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "no-store"


def test_html_pages_are_not_compressed(client, app):
    # The sign-in form's token sits beside text a request can put there (BREACH).
    anonymous = app.server.test_client()
    for response in (
        anonymous.get("/login", headers=GZIP),
        client.get("/", headers={**GZIP, "Accept": "text/html"}),
    ):
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"
