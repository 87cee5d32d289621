"""Files in the person's language: the screen's words, the separator and decimal mark its
spreadsheets expect, number formats that keep numbers numbers, and names that tell filters apart.

Exact values on the hand-built store of tests/exports_data.py; the round trip through a real
spreadsheet program is tests/test_export_libreoffice.py.
"""

from __future__ import annotations

import csv

import openpyxl
import pytest

from exports.request import ExportRequest
from exports.writers import write_export
from tests.conftest import TIMEZONE
from tests.exports_data import day, load, scope_of

# The consolidated file of the hand-built store, day by day then the Total row (worked out in
# tests/exports_data.py; percentages 2/3, 1/3, 1/3; 0, 0, 1/3; 2/6, 1/6, 2/6).
CONSOLIDATED_CSV = {
    "es": [
        '"Día (America/Sao_Paulo)";"Total enviados";"Entregados al canal";"Entregados";"Leídos";'
        '"Errores";'
        '"Recibidos";"% entregados";"% leídos";"% errores"',
        '"{d2}";3;2;2;1;1;0;66,67;33,33;33,33',
        '"{d1}";3;2;0;0;1;1;0;0;33,33',
        '"Total";6;4;2;1;2;1;33,33;16,67;33,33',
    ],
    "pt-BR": [
        '"Dia (America/Sao_Paulo)";"Total enviadas";"Entregues ao canal";"Entregues";"Lidas";'
        '"Erros";'
        '"Recebidas";"% entregues";"% lidas";"% erros"',
        '"{d2}";3;2;2;1;1;0;66,67;33,33;33,33',
        '"{d1}";3;2;0;0;1;1;0;0;33,33',
        '"Total";6;4;2;1;2;1;33,33;16,67;33,33',
    ],
    "en": [
        '"Day (America/Sao_Paulo)","Total sent","Reached the channel","Delivered","Read","Errors",'
        '"Received",'
        '"% delivered","% read","% errors"',
        '"{d2}",3,2,2,1,1,0,66.67,33.33,33.33',
        '"{d1}",3,2,0,0,1,1,0,0,33.33',
        '"Total",6,4,2,1,2,1,33.33,16.67,33.33',
    ],
}
# e1 (a delivered WhatsApp template) and e5 (a received message): channel, direction, type and
# status as the detailed view shows them.
WORDS = {
    "es": (["WhatsApp", "Saliente (MT)", "Plantilla", "Entregado"],
           ["WhatsApp", "Entrante (MO)", "Texto", "Recibido"]),
    "pt-BR": (["WhatsApp", "Enviada (MT)", "Modelo", "Entregue"],
              ["WhatsApp", "Recebida (MO)", "Texto", "Recebida"]),
    "en": (["WhatsApp", "Outbound (MT)", "Template", "Delivered"],
           ["WhatsApp", "Inbound (MO)", "Text", "Received"]),
}  # fmt: skip
SEPARATOR = {"es": ";", "pt-BR": ";", "en": ","}
ERROR_MEANING_131047 = {
    "es": "Pasaron más de 24 horas desde el último mensaje del cliente: solo se puede enviar "
    "una plantilla",
    "pt-BR": "Passaram mais de 24 horas desde a última mensagem do cliente: só é possível "
    "enviar um modelo",
    "en": "More than 24 hours since the customer last wrote: only a template can be sent",
}
LABELLED_AT = [2, 3, 7, 11]  # channel, direction, type and status in the detailed columns


def request(view="consolidated", fmt="csv", language="es", **state):
    base = {"channel": "whatsapp", "view": view, "start": str(day(2)), "end": str(day(1))}
    return ExportRequest.build({**base, **state}, fmt, language, TIMEZONE)


@pytest.fixture
def store(engine, load_rows):
    load(engine, load_rows)
    return engine


@pytest.mark.parametrize("language", ["es", "pt-BR", "en"])
def test_a_consolidated_csv_has_the_languages_words_separator_and_decimals(
    store, tmp_path, language
):
    path = tmp_path / "c.csv"
    write_export(store, request(language=language), scope_of(store), path, requested_by="ana")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.endswith(b"\r\n")
    lines = raw[3:].decode().split("\r\n")[:-1]
    assert lines == [line.format(d2=day(2), d1=day(1)) for line in CONSOLIDATED_CSV[language]]


@pytest.mark.parametrize("language", ["es", "pt-BR", "en"])
def test_a_detailed_csv_splits_on_the_languages_separator_and_uses_the_screens_words(
    store, tmp_path, language
):
    path = tmp_path / "d.csv"
    write_export(
        store, request("detailed", language=language), scope_of(store), path, requested_by="ana"
    )
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=SEPARATOR[language]))
    assert {len(row) for row in rows} == {19}
    by_id = {row[0]: row for row in rows[1:]}
    # The last column says what a known error code means, beside the operator's text.
    assert (by_id["e6"][13], by_id["e6"][18], by_id["e1"][18]) == (
        "Re-engagement message",
        ERROR_MEANING_131047[language],
        "",
    )
    # A text holding the other language's separator stays one cell, quoted.
    assert by_id["e1"][6] == 'Promo, "Fall"'
    for message_id, words in zip(("e1", "e5"), WORDS[language], strict=True):
        assert [by_id[message_id][i] for i in LABELLED_AT] == words


@pytest.mark.parametrize(
    ("language", "date_format", "datetime_format"),
    [
        ("es", "dd/mm/yyyy", "dd/mm/yyyy hh:mm:ss"),
        ("pt-BR", "dd/mm/yyyy", "dd/mm/yyyy hh:mm:ss"),
        ("en", "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"),
    ],
)
def test_xlsx_numbers_stay_numbers_and_take_the_languages_formats(
    store, tmp_path, language, date_format, datetime_format
):
    scope = scope_of(store)
    write_export(store, request(fmt="xlsx", language=language), scope, tmp_path / "c.xlsx",
                 requested_by="ana")  # fmt: skip
    write_export(store, request("detailed", "xlsx", language), scope, tmp_path / "d.xlsx",
                 requested_by="ana")  # fmt: skip
    daily = openpyxl.load_workbook(tmp_path / "c.xlsx").worksheets[0]
    total = list(daily.iter_rows(min_row=4, max_row=4))[0]
    assert [cell.value for cell in total] == ["Total", 6, 4, 2, 1, 2, 1, 33.33, 16.67, 33.33]
    assert [cell.data_type for cell in total] == ["s"] + ["n"] * 9
    assert [daily.cell(2, column).number_format for column in (1, 2, 8)] == [
        date_format, "#,##0", "0.00",
    ]  # fmt: skip
    assert daily.cell(1, 2).value == CONSOLIDATED_CSV[language][0].split(SEPARATOR[language])[
        1
    ].strip('"')
    detailed = openpyxl.load_workbook(tmp_path / "d.xlsx").worksheets[0]
    assert detailed.cell(2, 2).is_date and detailed.cell(2, 2).number_format == datetime_format
    rows = {row[0]: row for row in detailed.iter_rows(min_row=2, values_only=True)}
    assert [rows["e1"][i] for i in LABELLED_AT] == WORDS[language][0]


def test_exports_of_different_filters_get_different_names():
    base = request()
    names = {
        "base": base.file_name(),
        "status": request(statuses=["error"]).file_name(),
        "other status": request(statuses=["delivered"]).file_name(),
        "direction": request(direction="MT").file_name(),
        "subaccount": request(subaccounts=[1]).file_name(),
        "language": request(language="en").file_name(),
    }
    assert len(set(names.values())) == len(names)
    # The same view again is the same name; only the extension tells the formats apart.
    assert request().file_name() == names["base"]
    assert request(fmt="xlsx").file_name() == names["base"].removesuffix(".csv") + ".xlsx"
    prefix = f"consolidado_whatsapp_{day(2)}_{day(1)}_America-Sao_Paulo_"
    assert names["base"] == prefix + base.fingerprint() + ".csv"
    assert names["status"].startswith(prefix)
