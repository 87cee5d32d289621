"""The gettext catalogs: every extracted message is written in es, pt-BR and en, and no more."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.plurals import get_plural

from config import PROJECT_DIR
from data_access import reports
from data_access.domain import CONTENT_TYPES, STATUSES
from exports import jobs
from reporting import i18n, words
from reporting.languages import LANGUAGES, LOCALES

# The keywords of `make locales-extract`, read from the Makefile so both stay one list.
MAKEFILE_KEYWORDS = next(
    line.split(":=", 1)[1].split()
    for line in (PROJECT_DIR / "Makefile").read_text().splitlines()
    if line.startswith("KEYWORDS :=")
)


def extracted_keys() -> set[str]:
    """The keys `pybabel extract` finds in the code, as the Makefile runs it."""
    words = MAKEFILE_KEYWORDS
    specs = [words[i + 1] for i, word in enumerate(words) if word == "-k"]
    keywords = parse_keywords(specs)
    with (PROJECT_DIR / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = extract_from_dir(PROJECT_DIR, method_map, options_map, keywords=keywords)
    return {message if isinstance(message, str) else message[0] for _, _, message, *_ in found}


def catalog_messages(locale: str) -> dict[str, list[str]]:
    """Key -> its texts (one, or one per plural form) in a locale's .po file."""
    out = {}
    for message in i18n.read_catalog(locale):
        if message.id:
            assert not message.fuzzy, (locale, message.id)
            key = message.id[0] if message.pluralizable else message.id
            out[key] = list(message.string) if message.pluralizable else [message.string]
    return out


def test_makefile_keywords_are_the_lookup_functions():
    assert MAKEFILE_KEYWORDS == [
        "--no-default-keywords", "-k", "t:2", "-k", "tn:2,2", "-k", "N_", "-k", "tr:2",
    ]  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_extracted_message_has_its_text_and_every_text_a_message(language):
    keys = extracted_keys()
    assert {"kpi.total", "status.error", "export_status.error", "sign_in.title"} <= keys
    messages = catalog_messages(LOCALES[language])
    missing = sorted(key for key in keys if not any(s.strip() for s in messages.get(key, [])))
    assert missing == [], f"{language} has no text for {missing}"
    assert sorted(set(messages) - keys) == [], "messages the code no longer uses"
    untranslated = sorted(key for key, texts in messages.items() if not all(map(str.strip, texts)))
    assert untranslated == []


def test_a_message_without_its_text_fails_the_check(tmp_path, monkeypatch):
    # The check above reads the files as they are: drop one text and it names the key.
    copy = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    po = copy / "pt_BR" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text().replace('msgstr "Entregues ao canal"', 'msgstr ""'))
    monkeypatch.setattr(i18n, "LOCALE_DIR", copy)
    with pytest.raises(AssertionError, match=r"pt-BR has no text for \['kpi.sent'\]"):
        test_every_extracted_message_has_its_text_and_every_text_a_message("pt-BR")


def test_plural_forms_are_babels_cldr_rules():
    for locale in LOCALES.values():
        plural = get_plural(locale)
        assert i18n.read_catalog(locale).plural_forms == (
            f"nplurals={plural.num_plurals}; plural={plural.plural_expr};"
        )
    # Brazilian Portuguese counts 0 and 1 as one; Spanish and English only 1.
    assert [i18n.tn("pt-BR", "page.intro", n, days=n) for n in (0, 1, 2)] == [
        "Os arquivos são preparados em segundo plano e guardados por 0 dia.",
        "Os arquivos são preparados em segundo plano e guardados por 1 dia.",
        "Os arquivos são preparados em segundo plano e guardados por 2 dias.",
    ]
    assert [i18n.tn("es", "page.intro", n, days=n) for n in (0, 1)] == [
        "Los archivos se preparan en segundo plano y se guardan 0 días.",
        "Los archivos se preparan en segundo plano y se guardan 1 día.",
    ]
    assert i18n.tn("en", "audit.intro", 1, days=1).endswith(
        "Kept 1 day; no one can erase them sooner."
    )


def test_one_meaning_per_key():
    # A message's status is the screen's word; an export job's failure has its own message.
    assert [i18n.t(lang, "status.error") for lang in LANGUAGES] == ["Error", "Erro", "Error"]
    assert i18n.t("en", "export_status.error") == "Failed"


def test_every_value_shown_by_key_has_a_message():
    keys = [f"status.{s}" for s in STATUSES]
    keys += [f"content_type.{c}" for c in CONTENT_TYPES["whatsapp"] + CONTENT_TYPES["sms"]]
    keys += [f"column.{c}" for c in reports.DETAIL_COLUMNS]
    assert list(words.DAILY_HEADERS) == list(reports.DAILY_COLUMNS)
    keys += list(words.DAILY_HEADERS.values())
    keys += [f"export_status.{s}" for s in jobs.STATUSES]
    keys += [f"error.{code}" for code in jobs.ERROR_CODES]
    assert [key for key in keys if not i18n.has(key)] == []


def test_unknown_key_is_an_error_not_a_silent_key():
    with pytest.raises(i18n.MissingMessage):
        i18n.t("es", "kpi.no_such_key")
    assert i18n.label("es", "status", "mystery") == "mystery"


def test_a_stale_or_missing_compiled_catalog_is_not_read(tmp_path, monkeypatch):
    copy = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    po = copy / "en" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text().replace('msgstr "Total sent"', 'msgstr "Total sent (new)"'))
    monkeypatch.setattr(i18n, "LOCALE_DIR", copy)
    i18n.translations.cache_clear()
    try:
        assert i18n.t("en", "kpi.total") == "Total sent (new)"  # no .mo: the .po, compiled
        mo = copy / "en" / "LC_MESSAGES" / "messages.mo"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "compile", "-l", "en",
             "-i", str(po), "-o", str(mo)],
            check=True, capture_output=True,
        )  # fmt: skip
        i18n.translations.cache_clear()
        assert i18n.t("en", "kpi.total") == "Total sent (new)"  # the .mo, as built
        po.write_text(po.read_text().replace("Total sent (new)", "Total sent (newer)"))
        later = mo.stat().st_mtime + 10
        os.utime(po, (later, later))
        i18n.translations.cache_clear()
        assert i18n.t("en", "kpi.total") == "Total sent (newer)"  # older .mo: the .po again
    finally:
        i18n.translations.cache_clear()
