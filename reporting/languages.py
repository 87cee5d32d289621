"""The languages the reports speak: their codes, names, and the locale each one reads."""

from __future__ import annotations

DEFAULT_LANGUAGE = "es"
LANGUAGES = ("es", "pt-BR", "en")
LANGUAGE_NAMES = {"es": "Español", "pt-BR": "Português (Brasil)", "en": "English"}
# The Babel/gettext locale of each language: its catalog folder and its CLDR data.
LOCALES = {"es": "es", "pt-BR": "pt_BR", "en": "en"}


def normalize_language(language: str | None) -> str:
    """One of LANGUAGES for any code a browser, a profile or a link may carry."""
    if not isinstance(language, str):
        return DEFAULT_LANGUAGE
    if language in LOCALES:
        return language
    lowered = language.strip().lower().replace("_", "-")
    for known in LANGUAGES:
        if lowered == known.lower():
            return known
    base = lowered.split("-")[0]
    if base == "pt":
        return "pt-BR"
    return base if base in LOCALES else DEFAULT_LANGUAGE
