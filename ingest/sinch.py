"""Sinch SMS callbacks: per-recipient delivery reports, batch summaries and inbound messages."""

from __future__ import annotations

from ingest.events import (
    BatchSummary,
    InboundMessage,
    Mapped,
    StatusEvent,
    clip,
    iso_time,
    text,
)

# Sinch status -> ours. Unknown: the SMSC took the message but no receipt came back, so it is
# as far as "sent" and stays there, as some carriers never report handset delivery.
STATUSES = {
    "queued": "queued",
    "dispatched": "sent",
    "delivered": "delivered",
    "unknown": "sent",
    "cancelled": "cancelled",
    "failed": "error",
    "expired": "error",
    "rejected": "error",
    "aborted": "error",
    "deleted": "error",
}
TIMED = {"sent", "delivered"}

# Sinch's own codes (the 4xx range); other codes are the carrier's SMPP codes, kept as given.
CODE_NAMES = {
    "402": "Message unroutable",
    "403": "Internal error",
    "404": "Temporary delivery failure",
    "405": "Unmatched parameter",
    "406": "Internal expiry",
    "407": "Cancelled",
    "408": "Internal reject",
    "410": "Unmatched default originator",
    "411": "Exceeded parts limit",
    "412": "Unprovisioned region",
}
# The loader's limit for an operator's name.
MAX_OPERATOR = 100
NOT_RECORDED = ("recipient_delivery_report_mms", "delivery_report_mms", "mo_media")


def _recipient_report(payload: dict, out: Mapped) -> None:
    message_id = text(payload.get("client_reference"))
    raw_status = text(payload.get("status")) or ""
    status = STATUSES.get(raw_status.lower())
    if message_id is None:
        out.problems.append(
            f"delivery report of batch {text(payload.get('batch_id'))} has no client_reference, "
            "so it cannot be matched to a message; send each SMS with client_reference set to "
            "its message_id"
        )
        return
    if status is None:
        out.problems.append(
            f"status {raw_status!r} is not a Sinch delivery status (message {message_id})"
        )
        return
    # When the operator reported the state, if given; else when Sinch made the report. Only
    # sent and delivered need one (they set the message's times); others keep it as their
    # event's time where it can be read.
    stamp = payload.get("operator_status_at") or payload.get("at")
    try:
        event_at = iso_time(stamp)
    except ValueError as error:
        if status in TIMED:
            out.problems.append(f"{error} (message {message_id})")
            return
        event_at = None
    code = description = None
    if status == "error":
        code = text(payload.get("code"))
        name = CODE_NAMES.get(code or "")
        description = f"{raw_status.capitalize()}: {name}" if name else raw_status.capitalize()
    out.statuses.append(
        StatusEvent(
            message_id,
            "sms",
            status,
            event_at,
            code,
            description,
            raw_status=raw_status,
            operator=clip(text(payload.get("operator")), MAX_OPERATOR),
        )
    )


def _batch_report(payload: dict, out: Mapped) -> None:
    batch_id = text(payload.get("batch_id"))
    statuses = payload.get("statuses")
    if batch_id is None or not isinstance(statuses, list):
        out.problems.append("a delivery_report_sms needs batch_id and a statuses list")
        return
    for i, line in enumerate(statuses):
        count = line.get("count") if isinstance(line, dict) else None
        status = text(line.get("status")) if isinstance(line, dict) else None
        if status is None or isinstance(count, bool) or not isinstance(count, int) or count < 0:
            out.problems.append(f"statuses[{i}]: needs a status and a whole count")
            continue
        out.summaries.append(
            BatchSummary(
                batch_id=batch_id,
                status=status.capitalize(),
                code=text(line.get("code")) or "",
                count=count,
                client_reference=text(payload.get("client_reference")),
            )
        )


def _inbound(payload: dict, kind: str, out: Mapped) -> None:
    message_id = text(payload.get("id"))
    phone = text(payload.get("from"))
    to = text(payload.get("to"))
    if message_id is None or phone is None or to is None:
        out.problems.append(f"a {kind} needs id, from and to")
        return
    try:
        created_at = iso_time(payload.get("received_at"))
    except ValueError as error:
        out.problems.append(f"received_at: {error} (message {message_id})")
        return
    # A binary message (ringtones, SIM updates) has no text to show.
    body = text(payload.get("body")) if kind == "mo_text" else None
    out.inbound.append(
        InboundMessage(
            message_id=message_id,
            channel="sms",
            number_id="".join(ch for ch in to if ch.isdigit()) or to,
            phone=phone,
            created_at=created_at,
            content_type="text",
            content=body[:10_000] if body else None,
            where=kind,
        )
    )


def map_payload(payload) -> Mapped:
    """Read one Sinch SMS callback body (one report or one inbound message per call)."""
    out = Mapped()
    if not isinstance(payload, dict):
        out.problems.append("the body is not a JSON object")
        return out
    kind = text(payload.get("type")) or ""
    if kind == "recipient_delivery_report_sms":
        _recipient_report(payload, out)
    elif kind == "delivery_report_sms":
        _batch_report(payload, out)
    elif kind in ("mo_text", "mo_binary"):
        _inbound(payload, kind, out)
    elif kind in NOT_RECORDED:
        out.skipped.append(f"type {kind}: MMS is not recorded")
    else:
        out.problems.append(f"type {kind!r} is not a Sinch SMS callback")
    return out
