"""Words of the domain: channels, directions, statuses and their progress order, content types."""

from __future__ import annotations

CHANNELS = ("whatsapp", "sms")
DIRECTIONS = ("MT", "MO")

MT_STATUSES = ("scheduled", "queued", "sent", "delivered", "read", "error", "cancelled")
MO_STATUSES = ("received",)
STATUSES = MT_STATUSES + MO_STATUSES

# Progress order used to merge late or out-of-order updates of one message: the higher rank
# wins. `cancelled` sits just above `queued`, so it replaces only scheduled or queued, and any
# real channel event (sent and beyond) outranks it.
STATUS_RANK = {
    "received": 0,
    "scheduled": 1,
    "queued": 2,
    "cancelled": 3,
    "sent": 4,
    "error": 5,
    "delivered": 6,
    "read": 7,
}
RANK_STATUS = {rank: status for status, rank in STATUS_RANK.items()}
# The order a list sorted by status shows: a message's way from scheduled to read (the progress
# order above), then the two statuses off that way: cancelled before it was sent, and received
# (a customer's message).
STATUS_LIFECYCLE = (
    "scheduled",
    "queued",
    "sent",
    "error",
    "delivered",
    "read",
    "cancelled",
    "received",
)

CONTENT_TYPES = {
    "whatsapp": (
        "text",
        "template",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
    ),
    "sms": ("text",),
}


def statuses_for(channel: str) -> tuple[str, ...]:
    """Statuses a message of the channel can have (SMS has no read receipts)."""
    if channel == "sms":
        return tuple(s for s in STATUSES if s != "read")
    return STATUSES
