"""The reports' words: one gettext catalog (domain `messages`) per language, looked up by key.

Every message has a key (`kpi.total`, `status.error`) as its msgid; its Spanish, Brazilian
Portuguese and English texts are in `reporting/locale/<locale>/LC_MESSAGES/messages.po`,
extracted from the code and compiled with Babel (`make locales`, `make locales-update`).
Texts take str.format parameters by name.
"""

from __future__ import annotations

import gettext
from datetime import date
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from data_access.filters import FilterError
from reporting.languages import LOCALES, normalize_language

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


class MissingMessage(KeyError):
    """A key no catalog has: a typo in the code or a message not extracted yet."""


def N_(key: str) -> str:
    """Mark a key that the code builds at run time (`status.{value}`) so extraction finds it."""
    return key


def catalog_path(locale: str, suffix: str = ".po") -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def read_catalog(locale: str) -> Catalog:
    """The .po file of a locale (`pt_BR`), as Babel reads it."""
    with catalog_path(locale).open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


@cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalog of a language, read once per process."""
    locale = LOCALES[normalize_language(language)]
    po, mo = catalog_path(locale), catalog_path(locale, ".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as compiled:
            return gettext.GNUTranslations(compiled)
    # No .mo yet (a checkout that `make` has not installed) or an older one than its .po:
    # compile the current words in memory rather than speak stale ones.
    buffer = BytesIO()
    write_mo(buffer, read_catalog(locale))
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def has(key: str) -> bool:
    """Whether the catalogs hold a (singular) message with this key."""
    # gettext hands back the msgid itself when it has no text for it, and no text is its key.
    return translations("en").gettext(key) != key


def t(language: str, key: str, **params: object) -> str:
    """The text of `key` in the language, with its parameters filled in."""
    text = translations(language).gettext(key)
    if text == key:
        raise MissingMessage(key)
    return text.format(**params)


def tn(language: str, key: str, count: int, **params: object) -> str:
    """The text of the plural message `key` in the form the language uses for `count`
    (CLDR's rules, as Babel wrote them into each catalog's Plural-Forms header)."""
    text = translations(language).ngettext(key, key, count)
    if text == key:
        raise MissingMessage(key)
    return text.format(**params)


def label(language: str, kind: str, value: str) -> str:
    """A domain word (status, content type, direction, channel) in the language."""
    key = f"{kind}.{value}"
    return t(language, key) if has(key) else str(value)


def filter_error_text(language: str, error: FilterError) -> str:
    """The user's-language message of a FilterError, from its code and parameters."""
    from reporting.formatting import format_date

    key = f"filter_error.{error.code}"
    if not has(key):
        return t(language, "filter_error.other")
    params = dict(error.params)
    if isinstance(earliest := params.get("earliest"), date):
        params["earliest"] = format_date(earliest, language)
    try:
        return t(language, key, **params)
    except (KeyError, IndexError):
        # A code raised without every parameter its sentence names: say it without them.
        return t(language, "filter_error.other")
