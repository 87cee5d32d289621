"""What a webhook body says, in the domain's words: status events, inbound messages, summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

MAX_DESCRIPTION = 2_000  # the loader's limit for error_description


@dataclass(frozen=True)
class StatusEvent:
    """A channel's report that one of our messages reached a status."""

    message_id: str
    channel: str
    status: str
    event_at: datetime | None = None
    error_code: str | None = None
    error_description: str | None = None
    # The business number that sent it, where the channel says (WhatsApp's phone_number_id).
    number_id: str | None = None
    # The channel's own word for the status, as it reported it.
    raw_status: str | None = None
    # The mobile network that handled it, where the channel says (Sinch's `operator`).
    operator: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A message a customer sent to one of the business numbers (an MO row)."""

    message_id: str
    channel: str
    number_id: str
    phone: str
    created_at: datetime
    content_type: str
    content: str | None = None
    contact_name: str | None = None
    where: str = ""


@dataclass(frozen=True)
class BatchSummary:
    """One line of a per-batch delivery summary: how many messages are in a status."""

    batch_id: str
    status: str
    code: str
    count: int
    client_reference: str | None = None


@dataclass
class Mapped:
    """Everything read from one body.

    `problems` are parts that could not be read (the body stays visible as failed and can be
    replayed after a fix); `skipped` are parts deliberately not recorded, kept as notes.
    """

    statuses: list[StatusEvent] = field(default_factory=list)
    inbound: list[InboundMessage] = field(default_factory=list)
    summaries: list[BatchSummary] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def event_count(self) -> int:
        return len(self.statuses) + len(self.inbound) + len(self.summaries)


def text(value) -> str | None:
    """A trimmed string, or None for a missing or empty value; numbers become their digits."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(int(value)) if float(value).is_integer() else str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def unix_time(value) -> datetime:
    """A unix-seconds timestamp, given as a string or a number, as an aware UTC time."""
    raw = text(value)
    if raw is None or not raw.isdigit():
        raise ValueError(f"timestamp {value!r} is not a number of unix seconds")
    return datetime.fromtimestamp(int(raw), tz=UTC)


def iso_time(value) -> datetime:
    """An ISO 8601 time with a zone (Z or an offset) as an aware UTC time."""
    raw = text(value)
    if raw is None:
        raise ValueError("time is missing")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"time {raw!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise ValueError(f"time {raw!r} has no zone (Z or an offset)")
    return parsed.astimezone(UTC)


def clip(value: str | None, limit: int = MAX_DESCRIPTION) -> str | None:
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"
