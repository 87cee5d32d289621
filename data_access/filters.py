"""What a report asks for (ReportFilter) and what the viewer may see (AccessScope)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from data_access.domain import CHANNELS, CONTENT_TYPES, DIRECTIONS, statuses_for

MAX_SPAN_DAYS = 90
MAX_DAYS_BACK = 90
DEFAULT_DAYS = 7
PHONE_MIN_DIGITS = 6
PHONE_MAX_DIGITS = 15


class FilterError(ValueError):
    """A filter a user asked for that cannot be run; `code` and `params` feed the UI catalog."""

    def __init__(self, code: str, field: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.params = params


@dataclass(frozen=True)
class AccessScope:
    """The subaccounts a viewer may see. Every query takes one; nothing outside it is read."""

    subaccount_ids: frozenset[int]

    @classmethod
    def of(cls, ids) -> AccessScope:
        return cls(frozenset(int(i) for i in ids))

    def allows(self, subaccount_id: int) -> bool:
        return subaccount_id in self.subaccount_ids


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def phone_digits(raw: str) -> str:
    """Keep only the digits of a phone number as people type it, and check its length."""
    text = str(raw)
    if len(text) > 64:
        raise FilterError(
            "phone_length",
            "phone",
            f"A phone number has {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits.",
            minimum=PHONE_MIN_DIGITS,
            maximum=PHONE_MAX_DIGITS,
        )
    # No international number starts with 0: leading zeros are a trunk or international
    # prefix (011 ..., 0055 ...), so they are dropped before matching.
    digits = re.sub(r"\D", "", text).lstrip("0")
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        raise FilterError(
            "phone_length",
            "phone",
            f"A phone number has {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits; "
            f"{len(digits)} were given.",
            minimum=PHONE_MIN_DIGITS,
            maximum=PHONE_MAX_DIGITS,
            given=len(digits),
        )
    return digits


def _ids(values) -> tuple[int, ...]:
    out = []
    for value in values or ():
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            raise FilterError("bad_id", "ids", f"{value!r} is not a valid choice.") from None
    return tuple(sorted(set(out)))


def _as_date(value, field_name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        # The date picker may send a time after the date; nothing else may follow it.
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[\d:.]+)?", text):
            raise ValueError(text)
        return date.fromisoformat(text[:10])
    except ValueError:
        raise FilterError(
            "bad_date", field_name, f"{value!r} is not a date (YYYY-MM-DD).", value=str(value)
        ) from None


@dataclass(frozen=True)
class ReportFilter:
    """A validated report request. Build it with ReportFilter.build, which checks every field."""

    channel: str
    start: date
    end: date
    direction: str | None = None
    subaccounts: tuple[int, ...] = ()
    users: tuple[int, ...] = ()
    campaigns: tuple[int, ...] = ()
    content_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    phone: str | None = None
    timezone: str = field(default="America/Sao_Paulo", compare=True)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @classmethod
    def build(
        cls,
        channel: str,
        start=None,
        end=None,
        *,
        direction: str | None = None,
        subaccounts=(),
        users=(),
        campaigns=(),
        content_types=(),
        statuses=(),
        phone: str | None = None,
        timezone: str = "America/Sao_Paulo",
        today: date | None = None,
    ) -> ReportFilter:
        if channel not in CHANNELS:
            raise FilterError(
                "unknown_channel", "channel", f"Unknown channel {channel!r}.", value=str(channel)
            )
        today = today or today_in(timezone)
        end_day = _as_date(end, "end") if end else today
        start_day = (
            _as_date(start, "start") if start else end_day - timedelta(days=DEFAULT_DAYS - 1)
        )
        if end_day < start_day:
            raise FilterError("end_before_start", "end", "The end date is before the start date.")
        if start_day < today - timedelta(days=MAX_DAYS_BACK):
            raise FilterError(
                "start_too_old",
                "start",
                f"Reports reach back at most {MAX_DAYS_BACK} days "
                f"(the earliest start is {today - timedelta(days=MAX_DAYS_BACK)}).",
                days=MAX_DAYS_BACK,
                earliest=today - timedelta(days=MAX_DAYS_BACK),
            )
        if end_day > today:
            raise FilterError("end_in_future", "end", "The end date is after today.")
        if (end_day - start_day).days + 1 > MAX_SPAN_DAYS:
            raise FilterError(
                "span_too_long",
                "start",
                f"A report covers at most {MAX_SPAN_DAYS} days.",
                days=MAX_SPAN_DAYS,
            )
        if direction in ("", None):
            direction = None
        elif direction not in DIRECTIONS:
            raise FilterError(
                "unknown_direction",
                "direction",
                f"Unknown direction {direction!r}.",
                value=str(direction),
            )
        known_statuses = statuses_for(channel)
        statuses = tuple(sorted(set(statuses or ())))
        for status in statuses:
            if status not in known_statuses:
                raise FilterError(
                    "unknown_status", "status", f"Unknown status {status!r}.", value=str(status)
                )
        content_types = tuple(sorted(set(content_types or ())))
        for content_type in content_types:
            if content_type not in CONTENT_TYPES[channel]:
                raise FilterError(
                    "unknown_content_type",
                    "content_type",
                    f"Unknown content type {content_type!r}.",
                    value=str(content_type),
                )
        return cls(
            channel=channel,
            start=start_day,
            end=end_day,
            direction=direction,
            subaccounts=_ids(subaccounts),
            users=_ids(users),
            campaigns=_ids(campaigns),
            content_types=content_types,
            statuses=statuses,
            phone=phone_digits(phone) if phone not in (None, "") else None,
            timezone=timezone,
        )
