"""Quick periods for the date range (today, last 30 days, last month, ...), as days."""

from __future__ import annotations

from datetime import date, timedelta

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
