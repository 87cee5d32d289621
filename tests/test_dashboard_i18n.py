"""The catalog covers every language and every user error; numbers and dates per language."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from babel.dates import format_date as babel_format_date
from babel.numbers import format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from config import PROJECT_DIR
from data_access.domain import CONTENT_TYPES, STATUSES
from data_access.filters import FilterError
from reporting.formatting import (
    BABEL_LOCALES,
    format_axis_day,
    format_count,
    format_date,
    format_datetime,
    format_pct,
)
from reporting.i18n import filter_error_text, has, label, read_catalog, t
from reporting.languages import LANGUAGES, LOCALES

NBSP = "\u00a0"


def test_dr301_every_message_has_the_same_parameters_in_every_language():
    texts: dict[str, list[str]] = defaultdict(list)
    for language in LANGUAGES:
        for message in read_catalog(LOCALES[language]):
            if message.id:
                key = message.id[0] if message.pluralizable else message.id
                texts[key] += message.string if message.pluralizable else [message.string]
    assert len(texts) > 300
    for key, strings in texts.items():
        names = {frozenset(re.findall(r"{(\w+)}", text)) for text in strings}
        assert len(names) == 1, key


def test_dr302_every_filter_error_code_raised_has_a_catalog_sentence():
    sources = [
        PROJECT_DIR / "data_access" / "filters.py",
        PROJECT_DIR / "data_access" / "phones.py",
        PROJECT_DIR / "data_access" / "reports.py",
        PROJECT_DIR / "reporting" / "view_state.py",
        PROJECT_DIR / "dashboard" / "callbacks" / "filters.py",
        PROJECT_DIR / "dashboard" / "callbacks" / "detailed.py",
    ]
    codes = set()
    for path in sources:
        # A phone's reasons are PhoneErrors, raised again as FilterErrors with their code.
        codes |= set(re.findall(r'(?:Filter|Phone)Error\(\s*"(\w+)"', Path(path).read_text()))
    assert {
        "bad_date",
        "end_before_start",
        "start_too_old",
        "phone_length",
        "phone_character",
        "phone_invalid",
        "search_id_length",
        "unknown_sort",
    } <= codes
    for code in codes:
        assert has(f"filter_error.{code}"), code


def test_dr303_filter_errors_read_in_each_language():
    error = FilterError("span_too_long", "start", "A report covers at most 90 days.", days=90)
    assert [filter_error_text(lang, error) for lang in LANGUAGES] == [
        "Un reporte cubre como máximo 90 días: acorta el período.",
        "Um relatório cobre no máximo 90 dias: encurte o período.",
        "A report covers at most 90 days: shorten the range.",
    ]
    unknown = FilterError("something_new", "x", "Something new.")
    assert filter_error_text("en", unknown) == (
        "These filters cannot be applied; check them and try again."
    )
    missing_params = FilterError("phone_length", "phone", "Too short.")
    assert filter_error_text("en", missing_params) == (
        "These filters cannot be applied; check them and try again."
    )


def test_dr304_every_status_and_content_type_has_a_name():
    for language in LANGUAGES:
        for status in STATUSES:
            assert label(language, "status", status) != status
        for content_type in CONTENT_TYPES["whatsapp"]:
            assert has(f"content_type.{content_type}")
    assert label("pt-BR", "status", "read") == "Lida"


def test_dr305_numbers_percentages_and_dates_per_language():
    assert [format_count(1234567, lang) for lang in LANGUAGES] == [
        "1.234.567",
        "1.234.567",
        "1,234,567",
    ]
    assert [format_pct(200 / 3, lang) for lang in LANGUAGES] == [f"66,7{NBSP}%", "66,7%", "66.7%"]
    day = date(2026, 11, 20)
    assert [format_date(day, lang) for lang in LANGUAGES] == [
        "20 nov 2026",
        "20 de nov. de 2026",
        "Nov 20, 2026",
    ]
    moment = pd.Timestamp("2026-11-20 14:03:05", tz="America/Sao_Paulo")
    assert [format_datetime(moment, lang) for lang in LANGUAGES] == [
        "20/11/26 14:03:05",
        "20/11/2026 14:03:05",
        "11/20/26 14:03:05",
    ]
    # A naive time is UTC and is shown in the zone asked for.
    assert (
        format_datetime(pd.Timestamp("2026-11-20 17:03:05"), "en", "America/Sao_Paulo")
        == "11/20/26 14:03:05"
    )
    assert format_datetime(None, "es") == "" and format_datetime(pd.NaT, "es") == ""


def test_dr306_texts_fill_their_parameters():
    assert t("en", "detailed.count", count="1,024") == "1,024 messages"
    assert t("pt", "kpi.of_total", pct="50%") == "50% do total"


def test_dr307_one_message_is_singular():
    from dashboard.layouts.detailed import count_text

    assert count_text(1, None, "es") == "1 mensaje"
    assert count_text(1, "11987654321", "pt-BR") == "1 mensagem do número 11987654321"
    assert count_text(1024, None, "en") == "1,024 messages"


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.integers(min_value=-(10**15), max_value=10**15),
        st.sampled_from([0, 7, 999, 1000, 1234, 9999, 10000, 123456, 1000000]),
    ),
    language=st.sampled_from(LANGUAGES),
)
def test_dr308_counts_are_written_as_babel_writes_them(value, language):
    # format_count groups whole numbers itself (charts format hundreds per request).
    locale = BABEL_LOCALES[language]
    assert format_count(value, language) == format_decimal(value, locale=locale)
    # Counts come from pandas as numpy integers too.
    assert format_count(np.int64(value), language) == format_decimal(value, locale=locale)


def test_dr309_a_remembered_day_is_written_afresh_per_language_and_style():
    day = date(2026, 11, 20)
    moment = datetime(2026, 11, 21, 1, 30, tzinfo=ZoneInfo("UTC"))
    # The same instant on another day elsewhere: only plain days are remembered.
    same_instant = moment.astimezone(ZoneInfo("America/Sao_Paulo"))
    assert format_date(moment, "en") == "Nov 21, 2026"
    assert format_date(same_instant, "en") == "Nov 20, 2026"
    for language in LANGUAGES:
        for style in ("short", "medium", "long"):
            expected = babel_format_date(day, format=style, locale=BABEL_LOCALES[language])
            assert format_date(day, language, style) == expected
            assert format_date(day, language, style) == expected
    assert [format_axis_day(day, lang) for lang in LANGUAGES] == ["20 nov", "20 nov.", "Nov 20"]
