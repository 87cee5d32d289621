"""How responses travel: compressed, and the page's versioned files kept by the browser.

The first load of the page is some 5 MB of JavaScript and CSS (plotly, Dash's bundles, the
grid, Bootstrap); compressed it is about a quarter of that. Responses are compressed with
Flask-Compress (brotli where the browser takes it, else gzip), as Dash's own `compress=True`
would do, but configured before it starts: Dash turns it on with its defaults and then sets
the algorithm list too late for it to count, and its defaults compress files served in pieces
(the /assets/ files) only with algorithms other than gzip.

Caching: a URL that names its file's version (Dash's fingerprinted bundles,
`/_dash-component-suites/...v4_4_1m1796485755.js`, and /assets/ files with Dash's `?m=<mtime>`)
never changes content, so the browser may keep it for a year without asking again. The same
file under a bare URL keeps Flask's `no-cache` with an ETag (asked again, answered 304). Pages
and callback answers stay `no-store` (dashboard.security).
"""

from __future__ import annotations

import dash
from cachetools import LRUCache
from dash.fingerprint import check_fingerprint
from flask import Request, Response, request
from flask_compress import Compress

YEAR_SECONDS = 365 * 24 * 3600
LONG_CACHE = f"public, max-age={YEAR_SECONDS}, immutable"
BUNDLES_PREFIX = "/_dash-component-suites/"
ASSETS_PREFIX = "/assets/"
# What is compressed: scripts, styles and JSON. HTML is left alone: the sign-in and profile
# pages carry a form token next to text a request can put there, the case BREACH exploits; the
# dashboard's own page is 12 KB.
COMPRESSED_TYPES = (
    "application/javascript",
    "text/javascript",
    "text/css",
    "application/json",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
)
# Compressed bodies of fingerprinted bundles kept in memory (plotly's alone takes about 0.1 s
# to compress); bounded, since anyone may ask for any fingerprint of a bundle.
BUNDLES_KEPT = 64


def versioned(req: Request) -> bool:
    """Whether the URL names the version of the file it serves."""
    path = req.path
    if path.startswith(BUNDLES_PREFIX):
        return check_fingerprint(path)[1]
    return path.startswith(ASSETS_PREFIX) and bool(req.args.get("m"))


def _bundle_key(req: Request) -> str:
    # An empty key (the compressed-body cache stores none of them) for every other response.
    if req.path.startswith(BUNDLES_PREFIX) and versioned(req):
        return req.path
    return ""


class _BundleBodies:
    """Flask-Compress's cache, used only for fingerprinted bundles (keys `<algorithm>;<path>`;
    an empty path means "not cacheable")."""

    def __init__(self) -> None:
        self._bodies: LRUCache[str, bytes] = LRUCache(maxsize=BUNDLES_KEPT)

    def get(self, key: str) -> bytes | None:
        return None if key.endswith(";") else self._bodies.get(key)

    def set(self, key: str, value: bytes) -> None:
        if not key.endswith(";"):
            self._bodies[key] = value


def install_transport(app: dash.Dash) -> None:
    """Compress the server's responses and let the browser keep versioned files."""
    server = app.server
    # The blueprint Dash serves /assets/ with, named as Dash names it.
    prefix = app.config.routes_pathname_prefix.replace("/", "_").replace(".", "_")
    server.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_ALGORITHM_STREAMING=["br", "gzip"],
        COMPRESS_MIMETYPES=list(COMPRESSED_TYPES),
        COMPRESS_CACHE_BACKEND=_BundleBodies,
        COMPRESS_CACHE_KEY=_bundle_key,
        # A revalidated /assets/ file compressed in pieces can still be answered 304.
        COMPRESS_STREAMING_ENDPOINT_CONDITIONAL=["static", f"{prefix}dash_assets.static"],
    )

    @server.after_request
    def _long_cache(response: Response) -> Response:
        if response.status_code in (200, 304) and versioned(request):
            response.headers["Cache-Control"] = LONG_CACHE
        return response

    Compress(server)
