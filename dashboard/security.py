"""Response headers (CSP and friends) and error answers that never carry a traceback or SQL."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

import dash
from dash.exceptions import DependencyException
from flask import Response, jsonify, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from config import Settings

log = logging.getLogger(__name__)

# Paths whose files are fingerprinted or plain static assets; everything else may carry a
# person's data and is never stored by the browser or a proxy.
STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")
MAX_REQUEST_BYTES = 8 * 1024 * 1024

ERROR_TEXT = {
    400: "The request could not be understood.",
    401: "Sign in to continue.",
    403: "You may not do this.",
    404: "Not found.",
    405: "This address does not take that kind of request.",
    413: "The request is too large.",
    415: "The request has a content type this address does not take.",
    429: "Too many requests; wait a moment and try again.",
    500: "Something went wrong on the server; try again. If it keeps happening, "
    "give the administrator the reference shown.",
}


def _origins(urls) -> list[str]:
    """scheme://host of each absolute URL among the app's external stylesheets or scripts."""
    found = []
    for item in urls or ():
        url = (item.get("src") or item.get("href")) if isinstance(item, dict) else item
        parts = urlsplit(str(url or ""))
        if parts.scheme in ("http", "https") and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in found:
                found.append(origin)
    return found


def content_security_policy(app: dash.Dash) -> str:
    """A policy the Dash renderer works with: its own scripts, and inline ones by hash only.

    Dash writes one inline script (the renderer start) plus any string clientside callbacks;
    `csp_hashes` lists their hashes, so no inline script of anyone else runs. Styles need
    'unsafe-inline' because plotly.js and React components set style elements at run time.
    """
    scripts = ["'self'", *app.csp_hashes(), *_origins(app.config.external_scripts)]
    styles = ["'self'", "'unsafe-inline'", *_origins(app.config.external_stylesheets)]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src " + " ".join(scripts),
            "style-src " + " ".join(styles),
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def wants_json() -> bool:
    """Whether the request comes from a script (Dash's fetches, an API client), not a page."""
    if request.path.startswith("/_dash-") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.method not in ("GET", "HEAD")


def error_response(status: int, message: str | None = None, reference: str | None = None):
    text = message or ERROR_TEXT.get(status) or ERROR_TEXT[500]
    if wants_json():
        body = {"error": text}
        if reference:
            body["reference"] = reference
        response = jsonify(body)
        response.status_code = status
        return response
    extra = f"<p>Reference: <code>{escape(reference)}</code></p>" if reference else ""
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Delivery reports</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
        "<body style='font-family: system-ui, sans-serif; margin: 3rem auto; max-width: 36rem'>"
        f"<h1 style='font-size: 1.4rem'>{status}</h1><p>{escape(text)}</p>{extra}"
        "<p><a href='/'>Delivery reports</a></p></body></html>"
    )
    return Response(html, status=status, mimetype="text/html")


def install_security(app: dash.Dash, settings: Settings) -> None:
    """Security headers on every response; error handlers; debug only when settings say so."""
    server = app.server
    server.debug = settings.debug
    # Flask would otherwise re-raise into the WSGI server, which prints its own page.
    server.config["PROPAGATE_EXCEPTIONS"] = False
    server.config["TRAP_HTTP_EXCEPTIONS"] = False
    # A request body larger than this is refused before it is read (a forged callback post of
    # any size); Dash's callback payloads stay far below it, and the ingestion endpoints set
    # lower limits of their own per request.
    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES

    @server.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(app))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if settings.secure_cookies:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if "Cache-Control" not in headers and not request.path.startswith(STATIC_PREFIXES):
            headers["Cache-Control"] = "no-store"
        return response

    @server.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        # Only the status and a fixed sentence: werkzeug's descriptions can echo request parts.
        response = error_response(error.code or 500)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @server.errorhandler(DependencyException)
    def _unknown_script(_error: DependencyException):
        # A request for a component file Dash does not serve: a probe or a stale page.
        return error_response(404)

    if not settings.debug:

        @server.errorhandler(Exception)
        def _server_error(error: Exception):
            # The traceback (with any SQL) goes to the server log under a reference the person
            # can quote; the response carries only the reference.
            reference = secrets.token_hex(4)
            log.error(
                "Unhandled error %s on %s %s",
                reference,
                request.method,
                request.path,
                exc_info=error,
            )
            return error_response(500, reference=reference)
