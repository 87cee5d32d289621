"""The webhook endpoints: check who is calling, store the body in the inbox, answer at once.

Mapping happens later in the inbox worker, so a slow store or an unexpected payload never
makes a channel wait or retry, and nothing is lost when the server stops in between.
"""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, Response, current_app, request

from ingest.api import error, read_body
from ingest.channels import callback_subaccount
from ingest.whatsapp import SIGNATURE_HEADER, signature_valid

MAX_BODY_BYTES = 1024 * 1024

blueprint = Blueprint("ingest_webhooks", __name__)


def _not_configured():
    return error(404, "Not found.")


def _store(source: str, body: bytes, scope: str | None = None):
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        return error(400, f"The body is not valid JSON: {exc}")
    ingest = current_app.extensions["ingest"]
    try:
        ingest.writer.accept(source, text, scope)
    except Exception:
        # The channel retries a failed delivery, so nothing is lost by refusing it now.
        current_app.logger.exception("storing a %s webhook body failed", source)
        response = error(503, "The body could not be stored; nothing was kept. Retry later.")
        response.headers["Retry-After"] = "5"
        return response
    ingest.wake()
    return {"received": True}


@blueprint.get("/webhooks/whatsapp")
def whatsapp_verify():
    token = current_app.extensions["ingest"].settings.whatsapp_verify_token
    if token is None:
        return _not_configured()
    mode = request.args.get("hub.mode", "")
    given = request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge", "")
    if mode != "subscribe" or not hmac.compare_digest(given.encode(), token.encode()):
        return error(403, "The verify token does not match WHATSAPP_VERIFY_TOKEN.")
    return Response(challenge, mimetype="text/plain")


@blueprint.post("/webhooks/whatsapp")
def whatsapp_receive():
    secret = current_app.extensions["ingest"].settings.whatsapp_app_secret
    if secret is None:
        return _not_configured()
    body = read_body(MAX_BODY_BYTES)
    if body is None:
        return error(413, "The body is larger than 1 MiB.")
    if not signature_valid(secret, body, request.headers.get(SIGNATURE_HEADER)):
        return error(401, f"Missing or wrong {SIGNATURE_HEADER} signature.")
    return _store("whatsapp", body)


@blueprint.post("/webhooks/sinch/sms/<token>")
def sinch_receive(token: str):
    ingest = current_app.extensions["ingest"]
    expected = ingest.settings.sinch_webhook_token
    # The path is the credential: a wrong one looks exactly like a page that does not exist.
    # The account-wide token writes any subaccount; a number's own token only the number's.
    scope = None
    if expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
        with ingest.engine.connect() as conn:
            scope = callback_subaccount(conn, token)
        if scope is None:
            return _not_configured()
    body = read_body(MAX_BODY_BYTES)
    if body is None:
        return error(413, "The body is larger than 1 MiB.")
    return _store("sinch", body, scope)
