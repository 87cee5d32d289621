"""Quick periods for the date range (today, last 30 days, last month, ...), as days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from data_access.filters import MAX_SPAN_DAYS
from reporting.i18n import N_

# Each quick period, in the order offered, with its catalog key.
PRESETS = {
    "today": N_("preset.today"),
    "yesterday": N_("preset.yesterday"),
    "last_7": N_("preset.last_7"),
    "last_30": N_("preset.last_30"),
    "last_90": N_("preset.last_90"),
    "this_month": N_("preset.this_month"),
    "last_month": N_("preset.last_month"),
}


def preset_range(name: str, today: date) -> tuple[date, date]:
    """The first and last day (inclusive) of a quick period ending on or before `today`;
    KeyError for an unknown name. "Last N days" count today as one of them."""
    if name not in PRESETS:
        raise KeyError(name)
    if name == "today":
        return today, today
    if name == "yesterday":
        yesterday = today - timedelta(days=1)
        return yesterday, yesterday
    if name.startswith("last_") and name[5:].isdigit():
        return today - timedelta(days=int(name[5:]) - 1), today
    first_of_month = today.replace(day=1)
    if name == "this_month":
        return first_of_month, today
    last_of_previous = first_of_month - timedelta(days=1)
    return last_of_previous.replace(day=1), last_of_previous


@dataclass(frozen=True)
class CalendarBounds:
    """What the date picker offers, as Dash's picker takes it.

    `earliest` is the first day of the longest range the rule accepts that ends today (the
    last MAX_SPAN_DAYS days, today included): every range the picker can offer is then
    accepted. Dash's picker lets its back arrow show a month only when the month's first day
    is allowed, so `first_allowed` is that month's first day and the days before `earliest`
    in it are `disabled`.
    """

    earliest: date
    first_allowed: date
    disabled: tuple[date, ...]
    latest: date
    first_month_shown: date


def calendar_bounds(today: date) -> CalendarBounds:
    earliest = today - timedelta(days=MAX_SPAN_DAYS - 1)
    first_allowed = earliest.replace(day=1)
    disabled = tuple(first_allowed + timedelta(days=n) for n in range(earliest.day - 1))
    # Two months are shown: the month before today's, then today's.
    first_month_shown = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return CalendarBounds(earliest, first_allowed, disabled, today, first_month_shown)
