"""Time helpers every layer shares: the store's clock (naive UTC) and IANA time-zone names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utcnow() -> datetime:
    """The current time, naive UTC like every time in the store."""
    return datetime.now(UTC).replace(tzinfo=None)


def time_zone(name: object) -> ZoneInfo | None:
    """The zone of an IANA name such as America/Sao_Paulo, or None when the name is not one.

    Callers raise their own error, worded for where the name came from (a setting, a profile
    form, an export request)."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return None
