"""WhatsApp Cloud API webhooks: the signature check and the mapping of `messages` notifications."""

from __future__ import annotations

import hashlib
import hmac
import re

from ingest.events import InboundMessage, Mapped, StatusEvent, clip, text, unix_time

SIGNATURE_HEADER = "X-Hub-Signature-256"

# WhatsApp status -> our status. A played voice message has been listened to: read.
STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "error",
}
MEDIA_TYPES = ("image", "video", "document", "audio", "sticker")


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Whether the header is `sha256=` and the HMAC-SHA256 of the raw body with the app secret."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def sign(secret: str, body: bytes) -> str:
    """The header value WhatsApp sends for a body (used by tests and the benchmark)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same_words(a: str, b: str) -> bool:
    def words(s: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()

    return words(a) == words(b)


def error_description(error: dict) -> str | None:
    """The title of a WhatsApp error, with its details when they say more than the title."""
    title = text(error.get("title")) or text(error.get("message"))
    data = error.get("error_data")
    details = text(data.get("details")) if isinstance(data, dict) else None
    if title and details and not _same_words(title, details):
        return clip(f"{title.rstrip('.')}: {details}")
    return clip(title or details)


def _status(item, where: str, number_id: str | None, out: Mapped) -> None:
    if not isinstance(item, dict):
        out.problems.append(f"{where}: is not an object")
        return
    message_id = text(item.get("id"))
    raw_status = text(item.get("status"))
    if message_id is None:
        out.problems.append(f"{where}: has no message id")
        return
    status = STATUSES.get((raw_status or "").lower())
    if status is None:
        out.problems.append(
            f"{where}: status {raw_status!r} is not one of {', '.join(STATUSES)} "
            f"(message {message_id})"
        )
        return
    try:
        event_at = unix_time(item.get("timestamp"))
    except ValueError as error:
        out.problems.append(f"{where}: {error} (message {message_id})")
        return
    code = description = None
    if status == "error":
        errors = item.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else None
        if isinstance(first, dict):
            code = text(first.get("code"))
            description = error_description(first)
    out.statuses.append(
        StatusEvent(
            message_id, "whatsapp", status, event_at, code, description, number_id, raw_status
        )
    )


def _location(body: dict) -> str | None:
    lat, lon = body.get("latitude"), body.get("longitude")
    coords = f"{lat}, {lon}" if lat is not None and lon is not None else None
    place = ", ".join(p for p in (text(body.get("name")), text(body.get("address"))) if p)
    if place and coords:
        return f"{place} ({coords})"
    return place or coords


def _content(kind: str, item: dict) -> tuple[str, str | None] | None:
    """(content type, text) of an inbound message, or None when the type is not recorded."""
    body = item.get(kind)
    body = body if isinstance(body, dict) else {}
    if kind == "text":
        return "text", text(body.get("body"))
    if kind in MEDIA_TYPES:
        caption = text(body.get("caption"))
        if kind == "document":
            caption = caption or text(body.get("filename"))
        return kind, caption
    if kind == "location":
        return "location", _location(body)
    if kind == "contacts":
        cards = contacts if isinstance(contacts := item.get("contacts"), list) else []
        names = [
            text(card.get("name", {}).get("formatted_name"))
            for card in cards
            if isinstance(card, dict) and isinstance(card.get("name"), dict)
        ]
        return "contacts", ", ".join(n for n in names if n) or None
    if kind == "interactive":
        reply = body.get(body.get("type") or "")
        reply = reply if isinstance(reply, dict) else {}
        return "interactive", text(reply.get("title")) or text(reply.get("body"))
    if kind == "button":
        # A tap on a template's quick-reply button.
        return "interactive", text(body.get("text")) or text(body.get("payload"))
    return None


def _inbound(item, where: str, number_id: str | None, names: dict, out: Mapped) -> None:
    if not isinstance(item, dict):
        out.problems.append(f"{where}: is not an object")
        return
    message_id = text(item.get("id"))
    phone = text(item.get("from"))
    kind = text(item.get("type")) or ""
    if message_id is None or phone is None:
        out.problems.append(f"{where}: needs both id and from")
        return
    content = _content(kind, item)
    if content is None:
        out.skipped.append(
            f"{where}: a {kind or 'typeless'} message has no content type here "
            f"(message {message_id}); not recorded"
        )
        return
    if number_id is None:
        out.problems.append(f"{where}: metadata.phone_number_id is missing (message {message_id})")
        return
    try:
        created_at = unix_time(item.get("timestamp"))
    except ValueError as error:
        out.problems.append(f"{where}: {error} (message {message_id})")
        return
    content_type, body = content
    out.inbound.append(
        InboundMessage(
            message_id=message_id,
            channel="whatsapp",
            number_id=number_id,
            phone=phone,
            created_at=created_at,
            content_type=content_type,
            content=clip(body, 10_000),
            contact_name=clip(names.get(phone), 500),
            where=where,
        )
    )


def _change(change, where: str, out: Mapped) -> None:
    if not isinstance(change, dict):
        out.problems.append(f"{where}: is not an object")
        return
    field = change.get("field")
    if field != "messages":
        out.skipped.append(
            f"{where}: field {field!r} is not recorded; subscribe the app to 'messages' only"
        )
        return
    value = change.get("value")
    if not isinstance(value, dict):
        out.problems.append(f"{where}.value: is missing")
        return
    metadata = found if isinstance(found := value.get("metadata"), dict) else {}
    number_id = text(metadata.get("phone_number_id"))
    names = {}
    for contact in value.get("contacts") or []:
        if isinstance(contact, dict) and isinstance(contact.get("profile"), dict):
            wa_id = text(contact.get("wa_id"))
            if wa_id:
                names[wa_id] = text(contact["profile"].get("name"))
    for i, item in enumerate(value.get("statuses") or []):
        _status(item, f"{where}.value.statuses[{i}]", number_id, out)
    for i, item in enumerate(value.get("messages") or []):
        _inbound(item, f"{where}.value.messages[{i}]", number_id, names, out)
    for error in value.get("errors") or []:
        if isinstance(error, dict):
            out.skipped.append(
                f"{where}.value.errors: WhatsApp reported {text(error.get('code'))} "
                f"{error_description(error)}"
            )


def map_payload(payload) -> Mapped:
    """Read a WhatsApp Business Account notification (any number of entries and changes)."""
    out = Mapped()
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        out.problems.append("the body is not a notification with object whatsapp_business_account")
        return out
    entries = payload.get("entry")
    if not isinstance(entries, list):
        out.problems.append("entry: is not a list")
        return out
    for e, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            out.problems.append(f"entry[{e}].changes: is not a list")
            continue
        for c, change in enumerate(changes):
            _change(change, f"entry[{e}].changes[{c}]", out)
    return out
