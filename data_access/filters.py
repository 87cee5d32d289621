"""What a report asks for (ReportFilter) and what the viewer may see (AccessScope)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from data_access.domain import CHANNELS, CONTENT_TYPES, DIRECTIONS, statuses_for
from data_access.phones import PhoneError, PhoneSearch, parse_phone

MAX_SPAN_DAYS = 90
MAX_DAYS_BACK = 90
DEFAULT_DAYS = 7
# A message id or correlation id is at most this long (the loader and the API keep ids short).
SEARCH_ID_MAX = 200
# A country as the store keeps it: an ISO 3166 alpha-2 code.
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
# An error code as channels write them (WhatsApp's numbers, Sinch's status codes).
ERROR_CODE_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,32}")


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


def phone_search(raw: str, timezone: str | None = None) -> PhoneSearch:
    """The numbers a phone typed the way people type it matches (data_access.phones); a text
    that is no phone number raises FilterError naming why."""
    try:
        return parse_phone(raw, timezone)
    except PhoneError as error:
        raise FilterError(error.code, "phone", str(error), **error.params) from None


def search_id(value, field_name: str) -> str | None:
    """A message id or correlation id as typed, without the blanks around it."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > SEARCH_ID_MAX:
        raise FilterError(
            "search_id_length",
            field_name,
            f"An id has at most {SEARCH_ID_MAX} characters.",
            maximum=SEARCH_ID_MAX,
        )
    return text or None


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
    # ISO 3166 codes of the contacts' countries (ZZ: unknown; data_access/countries.py).
    countries: tuple[str, ...] = ()
    content_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    # The messages whose error is one of these codes (the consolidated view's error reasons
    # open the detailed view with one).
    error_codes: tuple[str, ...] = ()
    phone: PhoneSearch | None = None
    message_id: str | None = None
    correlation_id: str | None = None
    timezone: str = field(default="America/Sao_Paulo", compare=True)

    @property
    def searches_messages(self) -> bool:
        """Whether the filter names what only the messages hold (a phone, an id), so the daily
        roll-up cannot answer it."""
        return bool(self.phone or self.message_id or self.correlation_id)

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
        countries=(),
        content_types=(),
        statuses=(),
        error_codes=(),
        phone: str | None = None,
        message_id: str | None = None,
        correlation_id: str | None = None,
        timezone: str = "America/Sao_Paulo",
        today: date | None = None,
    ) -> ReportFilter:
        """A checked filter. A message id or correlation id is looked for over the whole
        reachable window (the last MAX_SPAN_DAYS days), whatever the range: a person who has
        an id seldom knows its day."""
        if channel not in CHANNELS:
            raise FilterError(
                "unknown_channel", "channel", f"Unknown channel {channel!r}.", value=str(channel)
            )
        today = today or today_in(timezone)
        message_id = search_id(message_id, "message_id")
        correlation_id = search_id(correlation_id, "correlation_id")
        if message_id or correlation_id:
            start, end = today - timedelta(days=MAX_SPAN_DAYS - 1), today
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
        countries = tuple(sorted(set(countries or ())))
        for country in countries:
            if not (isinstance(country, str) and COUNTRY_PATTERN.fullmatch(country)):
                raise FilterError(
                    "unknown_country",
                    "country",
                    f"Unknown country {country!r}.",
                    value=str(country),
                )
        error_codes = tuple(sorted(set(error_codes or ())))
        for code in error_codes:
            if not (isinstance(code, str) and ERROR_CODE_PATTERN.fullmatch(code)):
                raise FilterError(
                    "unknown_error_code",
                    "error_code",
                    f"{code!r} is not an error code.",
                    value=str(code),
                )
        return cls(
            channel=channel,
            start=start_day,
            end=end_day,
            direction=direction,
            subaccounts=_ids(subaccounts),
            users=_ids(users),
            campaigns=_ids(campaigns),
            countries=countries,
            content_types=content_types,
            statuses=statuses,
            error_codes=error_codes,
            phone=phone_search(phone, timezone) if phone not in (None, "") else None,
            message_id=message_id,
            correlation_id=correlation_id,
            timezone=timezone,
        )
