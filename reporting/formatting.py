"""Numbers, percentages, dates and times written the way each language writes them."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import pandas as pd
from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import (
    NumberPattern,
    format_decimal,
    format_percent,
    get_decimal_symbol,
    get_group_symbol,
    parse_pattern,
)

from data_access.countries import UNKNOWN as UNKNOWN_COUNTRY
from reporting.i18n import t
from reporting.languages import LOCALES, normalize_language

BABEL_LOCALES = LOCALES
# Day labels on chart axes: short, and the same width for every day of a range.
AXIS_DAY_FORMAT = {"es": "d MMM", "pt-BR": "d MMM", "en": "MMM d"}
# The date picker's display format (moment-style tokens), in each language's day order.
PICKER_FORMAT = {"es": "DD/MM/YYYY", "pt-BR": "DD/MM/YYYY", "en": "MMM D, YYYY"}
# The same day order in CLDR's pattern letters: a day written as the date picker writes it.
PICKER_DAY_FORMAT = {"es": "dd/MM/y", "pt-BR": "dd/MM/y", "en": "MMM d, y"}


def babel_locale(language: str) -> str:
    return BABEL_LOCALES[normalize_language(language)]


# A chart's hover texts format hundreds of values per request: babel's formatters are given
# a parsed Locale (parsing one per call costs more than the formatting), whole counts are
# grouped directly, and day labels (the same few days again and again) are remembered.


@lru_cache(maxsize=8)
def _locale(locale: str) -> Locale:
    return Locale.parse(locale)


@lru_cache(maxsize=8)
def _count_grouping(locale: str) -> str | None:
    """The group separator when the locale groups whole numbers by threes with no prefix or
    suffix (as en, es and pt_BR do), so `f"{n:,}"` writes them; None means ask babel."""
    parsed = _locale(locale)
    pattern = parsed.decimal_formats[None]
    if pattern.grouping != (3, 3) or pattern.int_prec[0] != 1:
        return None
    if pattern.prefix[0] or pattern.suffix[0]:
        return None
    return get_group_symbol(parsed)


@lru_cache(maxsize=8)
def _percent_pattern(locale: str) -> NumberPattern:
    """The locale's own percent pattern (spacing and sign position) with one decimal."""
    pattern = _locale(locale).percent_formats[None].pattern
    return parse_pattern(
        pattern.replace("0%", "0.0%").replace("0\u00a0%", "0.0\u00a0%").replace("0 %", "0.0 %")
    )


def format_count(value, language: str) -> str:
    """A whole number with the language's digit grouping (12.345 / 12,345)."""
    number = int(value)
    locale = babel_locale(language)
    group = _count_grouping(locale)
    if group is None or number < 0:
        return format_decimal(number, locale=_locale(locale))
    return f"{number:,}".replace(",", group)


def format_pct(value, language: str) -> str:
    """A percentage given as 0-100, with one decimal (85,3 % / 85,3% / 85.3%)."""
    return _pct_text(float(value), babel_locale(language))


# A day's percentage is the same in every range that shows the day: remembered by its exact
# value.
@lru_cache(maxsize=16384)
def _pct_text(value: float, locale: str) -> str:
    return format_percent(value / 100.0, _percent_pattern(locale), locale=_locale(locale))


def _day_text(value: date, locale: str, pattern: str) -> str:
    # Only plain days are remembered: moments that compare equal can fall on different days.
    if type(value) is date:
        return _plain_day_text(value, locale, pattern)
    return babel_format_date(value, format=pattern, locale=_locale(locale))


@lru_cache(maxsize=4096)
def _plain_day_text(value: date, locale: str, pattern: str) -> str:
    return babel_format_date(value, format=pattern, locale=_locale(locale))


def format_date(value: date, language: str, style: str = "medium") -> str:
    """A calendar day: 'medium' is 20 nov 2026 / 20 de nov. de 2026 / Nov 20, 2026."""
    return _day_text(value, babel_locale(language), style)


def format_picker_day(value: date, language: str) -> str:
    """A day as the period boxes show it (20/11/2026 / Nov 20, 2026)."""
    language = normalize_language(language)
    return _day_text(value, BABEL_LOCALES[language], PICKER_DAY_FORMAT[language])


def decimal_mark(language: str) -> str:
    """The character between a number's whole part and its decimals (`,` / `.`)."""
    return get_decimal_symbol(_locale(babel_locale(language)))


def format_axis_day(value: date, language: str) -> str:
    language = normalize_language(language)
    return _day_text(value, BABEL_LOCALES[language], AXIS_DAY_FORMAT[language])


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
    locale = _locale(babel_locale(language))
    py_moment: datetime = moment.to_pydatetime()
    day = babel_format_date(py_moment, format="short", locale=locale)
    time = babel_format_datetime(py_moment, format="HH:mm:ss", locale=locale)
    return f"{day} {time}"


def country_name(code: str | None, language: str) -> str:
    """A country's name in the language (CLDR's, through Babel) from its ISO 3166 code; the
    catalog's word for a number of no known country (ZZ, or none worked out)."""
    if code and code != UNKNOWN_COUNTRY:
        name = _locale(babel_locale(language)).territories.get(code)
        if name:
            return name
        return code
    return t(language, "countries.unknown")
