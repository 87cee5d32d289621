"""Signed webhook calls: a JSON body POSTed with its HMAC-SHA256 under the rule's secret.

The signature travels in the SIGNATURE_HEADER header as `sha256=<hex digest of the body>`; a
receiver computes the same over the raw body it got and compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

SIGNATURE_HEADER = "X-Reports-Signature"
TIMEOUT_SECONDS = 10


class WebhookError(RuntimeError):
    """The receiver could not be reached or did not answer 2xx."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_signed(url: str, secret: str, payload: dict) -> int:
    """POST the payload; the receiver's status, or WebhookError when it was not 2xx."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "delivery-reports-alerts/1",
            SIGNATURE_HEADER: signature(secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        raise WebhookError(f"{url} answered {error.code}") from None
    except (OSError, ValueError) as error:
        raise WebhookError(f"{url}: {error}") from None
