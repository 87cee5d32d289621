"""Numbers, percentages, dates and times written the way each dashboard language writes them."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import pandas as pd
from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_decimal, format_percent

from dashboard.i18n import normalize_language

BABEL_LOCALES = {"es": "es", "pt-BR": "pt_BR", "en": "en"}
# Day labels on chart axes: short, and the same width for every day of a range.
AXIS_DAY_FORMAT = {"es": "d MMM", "pt-BR": "d MMM", "en": "MMM d"}
# The date picker's display format (moment-style tokens), in each language's day order.
PICKER_FORMAT = {"es": "DD/MM/YYYY", "pt-BR": "DD/MM/YYYY", "en": "MMM D, YYYY"}


def babel_locale(language: str) -> str:
    return BABEL_LOCALES[normalize_language(language)]


@lru_cache(maxsize=8)
def _percent_pattern(locale: str) -> str:
    """The locale's own percent pattern (spacing and sign position) with one decimal."""
    pattern = Locale.parse(locale).percent_formats[None].pattern
    return pattern.replace("0%", "0.0%").replace("0\u00a0%", "0.0\u00a0%").replace("0 %", "0.0 %")


def format_count(value, language: str) -> str:
    """A whole number with the language's digit grouping (12.345 / 12,345)."""
    return format_decimal(int(value), locale=babel_locale(language))


def format_pct(value, language: str) -> str:
    """A percentage given as 0-100, with one decimal (85,3 % / 85,3% / 85.3%)."""
    locale = babel_locale(language)
    return format_percent(float(value) / 100.0, _percent_pattern(locale), locale=locale)


def format_date(value: date, language: str, style: str = "medium") -> str:
    """A calendar day: 'medium' is 20 nov 2026 / 20 de nov. de 2026 / Nov 20, 2026."""
    return babel_format_date(value, format=style, locale=babel_locale(language))


def format_axis_day(value: date, language: str) -> str:
    language = normalize_language(language)
    return babel_format_date(
        value, format=AXIS_DAY_FORMAT[language], locale=BABEL_LOCALES[language]
    )


def format_datetime(value, language: str, timezone: str | None = None) -> str:
    """A moment in the language's short date and medium time; empty for a missing value.

    Values already carrying a zone are shown in it (the report layer converts to the viewer's
    zone); a naive value is taken as UTC and converted to `timezone` when one is given.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    moment = pd.Timestamp(value)
    if moment.tzinfo is None and timezone:
        moment = moment.tz_localize("UTC").tz_convert(timezone)
    locale = babel_locale(language)
    py_moment: datetime = moment.to_pydatetime()
    day = babel_format_date(py_moment, format="short", locale=locale)
    time = babel_format_datetime(py_moment, format="HH:mm:ss", locale=locale)
    return f"{day} {time}"
