"""The consolidated view's sections in its exports: an XLSX sheet each after the daily sheet, and
the ZIP of CSV files (the daily file exactly as the CSV export writes it, then a file per
section), in the three languages, in the viewer's scope, never half-written.

Exact values on the hand-built store of tests/exports_data.py (worked out beside ROWS there):
yesterday against the day before for the previous period; both days for errors and campaigns.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from data_access import reports
from exports import sections, writers
from exports.request import ExportError, ExportRequest
from exports.writers import section_file_name, write_export
from exports.xlsx import SHEET_NAME_MAX
from reporting.formatting import format_picker_day
from reporting.i18n import t
from reporting.languages import LANGUAGES
from tests.conftest import TIMEZONE
from tests.exports_data import WA, day, load, scope_of

SEPARATOR = {"es": ";", "pt-BR": ";", "en": ","}
MEANING_131026 = {
    "es": "Mensaje no entregable: el número puede no tener WhatsApp o una versión antigua",
    "pt-BR": t("pt-BR", "error_meaning.whatsapp.131026"),
    "en": "Message undeliverable: the number may not be on WhatsApp or may run an old version",
}
MEANING_131047 = {language: t(language, "error_meaning.whatsapp.131047") for language in LANGUAGES}

# The store of ROWS knows no operator: the view hides the operators' table, and so do the files.
SHEETS = {
    "es": ["Datos", "Período anterior", "Motivos de error", "Tiempo de entrega", "Campañas",
           "Plantillas de WhatsApp", "Países", "Información"],
    "pt-BR": ["Dados", "Período anterior", "Motivos de erro", "Tempo de entrega", "Campanhas",
              "Modelos do WhatsApp", "Países", "Informações"],
    "en": ["Data", "Previous period", "Error reasons", "Delivery time", "Campaigns",
           "WhatsApp templates", "Countries", "Info"],
}  # fmt: skip
SECTION_TITLES = {language: titles[1:-1] for language, titles in SHEETS.items()}
# Rows of each section on both days: 6 figures, 2 reasons, 2 days and the whole period, 2
# campaigns, no template, 1 country (every phone of ROWS is Brazilian).
SECTION_ROWS = (6, 2, 3, 2, 0, 1)
PREVIOUS_HEADERS = {
    "es": ["Indicador", "Este período ({d1} – {d1})", "Período anterior ({d2} – {d2})",
           "Variación", "% del total, este período", "% del total, período anterior",
           "Variación (puntos porcentuales)", "Mejor o peor"],
    "pt-BR": ["Indicador", "Este período ({d1} – {d1})", "Período anterior ({d2} – {d2})",
              "Variação", "% do total, este período", "% do total, período anterior",
              "Variação (pontos percentuais)", "Melhor ou pior"],
    "en": ["Figure", "This period ({d1} – {d1})", "Previous period ({d2} – {d2})", "Change",
           "% of total, this period", "% of total, previous period",
           "Change (percentage points)", "Better or worse"],
}  # fmt: skip
# Yesterday (3 MT: 2 reached the channel, 0 delivered, 0 read, 1 error; 1 received) against
# the day before (3 MT: 2 reached, 2 delivered, 1 read, 1 error; none received): counts,
# changes, shares of the total (2/3, 0, 1/3 ...) and their change in points.
PREVIOUS_FIGURES = [
    [3, 3, 0, None, None, None],
    [2, 2, 0, 66.67, 66.67, 0],
    [0, 2, -2, 0, 66.67, -66.67],
    [0, 1, -1, 0, 33.33, -33.33],
    [1, 1, 0, 33.33, 33.33, 0],
    [1, 0, 1, None, None, None],
]
PREVIOUS_WORDS = {
    "es": (["Total enviados", "Entregados al canal", "Entregados", "Leídos", "Errores",
            "Recibidos"], [None, "Sin cambios", "Peor", "Peor", "Sin cambios", None]),
    "pt-BR": (["Total enviadas", "Entregues ao canal", "Entregues", "Lidas", "Erros",
               "Recebidas"], [None, "Sem mudança", "Pior", "Pior", "Sem mudança", None]),
    "en": (["Total sent", "Reached the channel", "Delivered", "Read", "Errors", "Received"],
           [None, "No change", "Worse", "Worse", "No change", None]),
}  # fmt: skip
ERROR_HEADERS = {
    "es": ["Código", "Descripción del error", "Qué significa el error", "Mensajes",
           "% de los errores"],
    "pt-BR": ["Código", "Descrição do erro", "O que o erro significa", "Mensagens",
              "% dos erros"],
    "en": ["Code", "Error description", "What the error means", "Messages", "% of errors"],
}  # fmt: skip
CAMPAIGN_HEADERS = {
    "es": ["Campaña", "Total enviados", "Entregados al canal", "Entregados", "Leídos",
           "Errores", "% entregados", "% leídos", "% errores", "Error más frecuente: código",
           "Error más frecuente: descripción", "Error más frecuente: qué significa",
           "Error más frecuente: mensajes"],
    "pt-BR": ["Campanha", "Total enviadas", "Entregues ao canal", "Entregues", "Lidas",
              "Erros", "% entregues", "% lidas", "% erros", "Erro mais frequente: código",
              "Erro mais frequente: descrição", "Erro mais frequente: o que significa",
              "Erro mais frequente: mensagens"],
    "en": ["Campaign", "Total sent", "Reached the channel", "Delivered", "Read", "Errors",
           "Delivered %", "Read %", "Error %", "Most frequent error: code",
           "Most frequent error: description", "Most frequent error: what it means",
           "Most frequent error: messages"],
}  # fmt: skip
NO_CAMPAIGN = {"es": "Sin campaña", "pt-BR": "Sem campanha", "en": "No campaign"}


def error_rows(language: str) -> list[list]:
    # e3 (Brand B, 131026) and e6 (Brand A, 131047), one message each: half of the errors.
    return [
        ["131026", "@SUM(A1)", MEANING_131026[language], 1, 50],
        ["131047", "Re-engagement message", MEANING_131047[language], 1, 50],
    ]


def campaign_rows(language: str) -> list[list]:
    # Without a campaign: e2 (read), e3 (error), e4 (sent), e6 (error), e7 (queued): 5 sent,
    # 3 reached the channel, 1 delivered, 1 read, 2 errors; the tie of two errors goes to the
    # smaller code. 'Promo, "Fall"': e1, delivered.
    return [
        [NO_CAMPAIGN[language], 5, 3, 1, 1, 2, 20, 20, 40, "131026", "@SUM(A1)",
         MEANING_131026[language], 1],
        ['Promo, "Fall"', 1, 1, 1, 0, 0, 100, 0, 0, None, None, None, None],
    ]  # fmt: skip


def request(fmt="xlsx", language="es", start=2, end=1, **state):
    base = {"channel": "whatsapp", "view": "consolidated", "start": str(day(start)),
            "end": str(day(end))}  # fmt: skip
    return ExportRequest.build({**base, **state}, fmt, language, TIMEZONE)


@pytest.fixture
def store(engine, load_rows):
    load(engine, load_rows)
    return engine


def sheet_rows(book, title: str) -> list[list]:
    return [list(row) for row in book[title].iter_rows(values_only=True)]


def picker(offset: int, language: str) -> str:
    return format_picker_day(day(offset), language)


def previous_rows(language: str) -> list[list]:
    words, verdicts = PREVIOUS_WORDS[language]
    return [
        [word, *figures, verdict]
        for word, figures, verdict in zip(words, PREVIOUS_FIGURES, verdicts, strict=True)
    ]


def previous_headers(language: str) -> list[str]:
    d1, d2 = picker(1, language), picker(2, language)
    return [header.format(d1=d1, d2=d2) for header in PREVIOUS_HEADERS[language]]


class TestXlsx:
    @pytest.mark.parametrize("language", ["es", "pt-BR", "en"])
    def test_each_section_is_a_sheet_after_the_daily_one(self, store, tmp_path, language):
        path = tmp_path / "c.xlsx"
        result = write_export(store, request(language=language), scope_of(store), path,
                              requested_by="ana")  # fmt: skip
        book = openpyxl.load_workbook(path)
        assert book.sheetnames == SHEETS[language]
        # The daily sheet as before: two days and the Total row.
        assert len(sheet_rows(book, SHEETS[language][0])) == 4
        errors = sheet_rows(book, SHEETS[language][2])
        assert errors == [ERROR_HEADERS[language], *error_rows(language)]
        campaigns = sheet_rows(book, SHEETS[language][4])
        assert campaigns == [CAMPAIGN_HEADERS[language], *campaign_rows(language)]
        assert result.sections == list(zip(SECTION_TITLES[language], SECTION_ROWS, strict=True))
        # Typed cells formatted like the daily sheet: counts grouped, percentages 0.00, text.
        sheet = book[SHEETS[language][4]]
        assert [sheet.cell(2, c).data_type for c in (1, 2, 7, 10)] == ["s", "n", "n", "s"]
        assert [sheet.cell(2, c).number_format for c in (2, 7)] == ["#,##0", "0.00"]
        # Text a spreadsheet would run keeps its value and is marked as text (quotePrefix).
        assert book[SHEETS[language][2]].cell(2, 2).quotePrefix is True

    @pytest.mark.parametrize("language", ["es", "pt-BR", "en"])
    def test_the_previous_period_sheet_holds_the_exact_changes(self, store, tmp_path, language):
        path = tmp_path / "p.xlsx"
        write_export(store, request(language=language, start=1), scope_of(store), path,
                     requested_by="ana")  # fmt: skip
        rows = sheet_rows(openpyxl.load_workbook(path), SHEETS[language][1])
        assert rows == [previous_headers(language), *previous_rows(language)]

    def test_a_previous_period_without_messages_has_no_shares_nor_verdicts(self, store, tmp_path):
        path = tmp_path / "p.xlsx"
        write_export(store, request(language="en", start=2, end=2), scope_of(store), path,
                     requested_by="ana")  # fmt: skip
        rows = sheet_rows(openpyxl.load_workbook(path), "Previous period")
        # The day before yesterday against the day before it, which holds nothing.
        assert [row[1:] for row in rows[1:]] == [
            [3, 0, 3, None, None, None, None],
            [2, 0, 2, 66.67, None, None, None],
            [2, 0, 2, 66.67, None, None, None],
            [1, 0, 1, 33.33, None, None, None],
            [1, 0, 1, 33.33, None, None, None],
            [0, 0, 0, None, None, None, None],
        ]

    def test_the_info_sheet_lists_the_sections_and_the_previous_period(self, store, tmp_path):
        path = tmp_path / "i.xlsx"
        write_export(store, request(language="en"), scope_of(store), path, requested_by="ana")
        info = sheet_rows(openpyxl.load_workbook(path), "Info")
        assert [row for row in info if row[0] in ("Sections", "Previous period")] == [
            ["Sections", "Previous period: 6 rows"],
            ["Sections", "Error reasons: 2 rows"],
            ["Sections", "Delivery time: 3 rows"],
            ["Sections", "Campaigns: 2 rows"],
            ["Sections", "WhatsApp templates: 0 rows"],
            ["Sections", "Countries: 1 row"],
            ["Previous period", f"{picker(4, 'en')} – {picker(3, 'en')}"],
        ]

    def test_received_messages_have_no_error_or_campaign_sheets(self, store, tmp_path):
        path = tmp_path / "mo.xlsx"
        write_export(store, request(language="en", direction="MO"), scope_of(store), path,
                     requested_by="ana")  # fmt: skip
        assert openpyxl.load_workbook(path).sheetnames == ["Data", "Previous period", "Info"]

    def test_sms_campaigns_leave_read_empty(self, store, tmp_path):
        path = tmp_path / "sms.xlsx"
        write_export(store, request(language="en", channel="sms"), scope_of(store), path,
                     requested_by="ana")  # fmt: skip
        book = openpyxl.load_workbook(path)
        assert sheet_rows(book, "Campaigns")[1] == [
            "No campaign", 1, 1, 1, None, 0, 100, None, 0, None, None, None, None,
        ]  # fmt: skip
        assert sheet_rows(book, "Previous period")[4][1:3] == [None, None]

    def test_a_store_that_does_not_answer_a_section_says_so(self, store, tmp_path, monkeypatch):
        # A ClickHouse-bound store answers no campaigns table yet (reports.campaign_table).
        monkeypatch.setattr(reports, "campaign_table", lambda *args, **kwargs: None)
        path = tmp_path / "ch.xlsx"
        result = write_export(store, request(language="pt-BR"), scope_of(store), path,
                              requested_by="ana")  # fmt: skip
        book = openpyxl.load_workbook(path)
        assert "Campanhas" not in book.sheetnames
        assert result.unavailable == ["Campanhas"]
        assert ["Seções", "Campanhas: este armazenamento ainda não calcula esta seção"] in (
            sheet_rows(book, "Informações")
        )


class TestScope:
    def test_a_viewer_of_one_subaccount_exports_nothing_of_another(self, store, tmp_path):
        scope = scope_of(store, "Brand A")
        write_export(store, request(language="en"), scope, tmp_path / "a.xlsx",
                     requested_by="ana")  # fmt: skip
        write_export(store, request("zip", "en"), scope, tmp_path / "a.zip", requested_by="ana")
        book = openpyxl.load_workbook(tmp_path / "a.xlsx")
        # Brand A's messages: e1 (Promo), e2 and e6 (131047) of the MT; Brand B's e3 (131026),
        # e4 and e7 nowhere.
        assert sheet_rows(book, "Error reasons")[1:] == [
            ["131047", "Re-engagement message", MEANING_131047["en"], 1, 100]
        ]
        assert sheet_rows(book, "Campaigns")[1:] == [
            ["No campaign", 2, 2, 1, 1, 1, 50, 50, 50, "131047", "Re-engagement message",
             MEANING_131047["en"], 1],
            ['Promo, "Fall"', 1, 1, 1, 0, 0, 100, 0, 0, None, None, None, None],
        ]  # fmt: skip
        assert [row[1:4] for row in sheet_rows(book, "Previous period")[1:]] == [
            [3, 0, 3], [3, 0, 3], [2, 0, 2], [1, 0, 1], [1, 0, 1], [1, 0, 1],
        ]  # fmt: skip
        with zipfile.ZipFile(tmp_path / "a.zip") as archive:
            text = "".join(archive.read(name).decode() for name in archive.namelist())
        assert "131026" not in text and "@SUM" not in text and "Brand B" not in text


def read_zip(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def csv_rows(raw: bytes, language: str) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf") and raw.endswith(b"\r\n")
    return list(csv.reader(io.StringIO(raw[3:].decode(), newline=""),
                           delimiter=SEPARATOR[language]))  # fmt: skip


def as_text(value, language: str) -> str:
    """A cell as the CSV writes it: empty for none, decimals with the language's mark."""
    if value is None:
        return ""
    if isinstance(value, float):
        return writers.decimal_text(value, "," if language != "en" else ".")
    return str(value)


class TestZip:
    @pytest.mark.parametrize("language", ["es", "pt-BR", "en"])
    def test_the_daily_file_is_the_csv_export_and_each_section_a_file(
        self, store, tmp_path, language
    ):
        scope = scope_of(store)
        csv_request, zip_request = request("csv", language), request("zip", language)
        write_export(store, csv_request, scope, tmp_path / "c.csv", requested_by="ana")
        result = write_export(store, zip_request, scope, tmp_path / "c.zip", requested_by="ana")
        files = read_zip(tmp_path / "c.zip")
        stem = csv_request.file_name().removesuffix(".csv")
        titles = SECTION_TITLES[language]
        assert list(files) == [csv_request.file_name()] + [
            section_file_name(stem, title) for title in titles
        ]
        # Byte for byte the CSV export: people and scripts read it as before.
        assert files[csv_request.file_name()] == (tmp_path / "c.csv").read_bytes()
        assert zip_request.file_name() == f"{stem}.zip"
        assert result.rows == 2 and [rows for _, rows in result.sections] == list(SECTION_ROWS)
        _, errors, _, campaigns, *_ = (files[section_file_name(stem, title)] for title in titles)
        # Text a spreadsheet would run gets CSV's apostrophe, as in the detailed file.
        expected_errors = [[as_text(v, language) for v in row] for row in error_rows(language)]
        expected_errors[0][1] = "'@SUM(A1)"
        assert csv_rows(errors, language) == [ERROR_HEADERS[language], *expected_errors]
        expected_campaigns = [
            [as_text(v, language) for v in row] for row in campaign_rows(language)
        ]
        expected_campaigns[0][10] = "'@SUM(A1)"
        assert csv_rows(campaigns, language) == [CAMPAIGN_HEADERS[language], *expected_campaigns]

    @pytest.mark.parametrize("language", ["es", "pt-BR", "en"])
    def test_the_previous_period_file_holds_the_exact_changes(self, store, tmp_path, language):
        req = request("zip", language, start=1)
        write_export(store, req, scope_of(store), tmp_path / "p.zip", requested_by="ana")
        stem = req.file_name().removesuffix(".zip")
        raw = read_zip(tmp_path / "p.zip")[section_file_name(stem, SHEETS[language][1])]
        want = [[as_text(v, language) for v in row] for row in previous_rows(language)]
        assert csv_rows(raw, language) == [previous_headers(language), *want]
        mark = "," if language != "en" else "."
        sep = SEPARATOR[language]
        # Numbers bare, with the language's decimal mark; the change in points signed.
        assert f"{sep}-66{mark}67{sep}" in raw.decode()

    def test_section_files_are_named_in_plain_ascii(self):
        assert section_file_name("consolidado_x", "Campañas") == "consolidado_x_campanas.csv"
        assert section_file_name("c", "Período anterior") == "c_periodo_anterior.csv"

    def test_a_failing_section_leaves_no_file(self, store, tmp_path, monkeypatch):
        def broken(*args, **kwargs):
            raise RuntimeError("store went away")

        monkeypatch.setattr(reports, "top_errors", broken)
        for fmt in ("zip", "xlsx"):
            with pytest.raises(RuntimeError):
                write_export(store, request(fmt), scope_of(store), tmp_path / f"x.{fmt}",
                             requested_by="ana")  # fmt: skip
        assert list(tmp_path.glob("x*")) == []

    def test_the_zip_is_for_the_consolidated_view_only(self):
        with pytest.raises(ExportError):
            request("zip", view="detailed")


def test_sheet_names_fit_excel_in_every_language():
    for language in LANGUAGES:
        for section in sections.SECTIONS:
            assert len(t(language, section.title)) <= SHEET_NAME_MAX
    # In the view's order.
    assert sections.SECTION_KEYS == (
        "previous_period", "error_reasons", "delivery_times", "campaigns", "templates",
        "countries", "operators",
    )  # fmt: skip


# --- delivery time, templates, countries and operators ---------------------------------------


def moment(offset: int, hh: int, mm: int, ss: int = 0) -> str:
    return datetime.combine(day(offset), time(hh, mm, ss), tzinfo=ZoneInfo(TIMEZONE)).isoformat()


# More WhatsApp messages beside ROWS (all Brazilian): two to Spain and two to Mexico, each
# with its operator, three naming a template, one to a number of no country (+800) and one
# received from Spain (received messages count in no section).
# fmt: off
WORLD = [
    # Two days ago: delivered in 4 s and read in 30 s; delivered across midnight in 120 s.
    {**WA, "message_id": "w1", "subaccount": "Brand A", "content_type": "template",
     "phone": "+34612345678", "template": "pedido_enviado", "operator": "Movistar",
     "status": "read", "created_at": moment(2, 9, 0), "sent_at": moment(2, 9, 0, 1),
     "delivered_at": moment(2, 9, 0, 4), "read_at": moment(2, 9, 0, 30)},
    {**WA, "message_id": "w3", "subaccount": "Brand A", "content_type": "template",
     "phone": "+525512345678", "template": "black_friday", "operator": "Telcel",
     "status": "delivered", "created_at": moment(2, 23, 59), "sent_at": moment(2, 23, 59, 1),
     "delivered_at": moment(1, 0, 1)},
    # Yesterday: delivered in 50 s; an error; delivered in two hours.
    {**WA, "message_id": "w2", "subaccount": "Brand B", "content_type": "template",
     "phone": "+34612345678", "template": "pedido_enviado", "operator": "Movistar",
     "status": "delivered", "created_at": moment(1, 14, 0), "sent_at": moment(1, 14, 0, 1),
     "delivered_at": moment(1, 14, 0, 50)},
    {**WA, "message_id": "w4", "subaccount": "Brand B", "phone": "+525512345678",
     "operator": "Telcel", "status": "error", "error_code": "131026",
     "error_description": "Undeliverable", "created_at": moment(1, 10, 0),
     "sent_at": moment(1, 10, 0, 1)},
    {**WA, "message_id": "w5", "subaccount": "Brand A", "phone": "+80012345678",
     "status": "delivered", "created_at": moment(1, 8, 0), "sent_at": moment(1, 8, 0, 1),
     "delivered_at": moment(1, 10, 0)},
    {**WA, "message_id": "w6", "subaccount": "Brand B", "direction": "MO",
     "phone": "+34612345678", "status": "received", "created_at": moment(1, 15, 0)},
]
# fmt: on


@pytest.fixture
def world(store, load_rows):
    load_rows(store, WORLD)
    return store


WHOLE_PERIOD = {"es": "Todo el período", "pt-BR": "Todo o período", "en": "Whole period"}
DELIVERY_HEADERS = {
    "es": ["Día", "Entregados", "Segundos hasta entregado: p50 (mediana)",
           "Segundos hasta entregado: p90", "Segundos hasta entregado: p99",
           "% entregados en 5 s o menos", "% entregados en 1 min o menos",
           "% entregados en 1 h o menos", "Leídos", "Segundos hasta leído: p50 (mediana)",
           "Segundos hasta leído: p90", "Segundos hasta leído: p99"],
    "pt-BR": ["Dia", "Entregues", "Segundos até a entrega: p50 (mediana)",
              "Segundos até a entrega: p90", "Segundos até a entrega: p99",
              "% entregues em até 5 s", "% entregues em até 1 min", "% entregues em até 1 h",
              "Lidas", "Segundos até a leitura: p50 (mediana)", "Segundos até a leitura: p90",
              "Segundos até a leitura: p99"],
    "en": ["Day", "Delivered", "Seconds to delivered: p50 (median)",
           "Seconds to delivered: p90", "Seconds to delivered: p99", "% delivered within 5 s",
           "% delivered within 1 min", "% delivered within 1 h", "Read",
           "Seconds to read: p50 (median)", "Seconds to read: p90", "Seconds to read: p99"],
}  # fmt: skip
WORLD_SHEETS = {
    "es": ["Tiempo de entrega", "Plantillas de WhatsApp", "Países", "Operadoras"],
    "pt-BR": ["Tempo de entrega", "Modelos do WhatsApp", "Países", "Operadoras"],
    "en": ["Delivery time", "WhatsApp templates", "Countries", "Operators"],
}
COUNTRY = {"es": "País", "pt-BR": "País", "en": "Country"}
OPERATOR = {"es": "Operadora", "pt-BR": "Operadora", "en": "Operator"}
TEMPLATE = {"es": "Plantilla", "pt-BR": "Modelo", "en": "Template"}
COUNTRY_NAMES = {
    "es": {"BR": "Brasil", "ES": "España", "MX": "México", "ZZ": "País desconocido"},
    "pt-BR": {"BR": "Brasil", "ES": "Espanha", "MX": "México", "ZZ": "País desconhecido"},
    "en": {"BR": "Brazil", "ES": "Spain", "MX": "Mexico", "ZZ": "Unknown country"},
}
NO_ERROR = [None, None, None, None]


def figure_headers(language: str) -> list[str]:
    return CAMPAIGN_HEADERS[language][1:]


def undeliverable(language: str) -> list:
    return ["131026", "Undeliverable", MEANING_131026[language], 1]


def delivery_rows(language: str) -> list[list]:
    """Both days of ROWS and WORLD, by hand. Two days ago: delivered in 4 s (w1) and 120 s
    (e1, e2, w3 across midnight): buckets (3, 5] and (90, 120], so p50 = 90 + 30 * (2 - 1) / 3
    = 100, p90 = 90 + 30 * 2.6 / 3 = 116, p99 = 119.6; one of four within 5 s and 1 min, all
    within 1 h; read in 30 s (w1, bucket (20, 30]) and 3,300 s (e2, bucket (2700, 3600]).
    Yesterday: 50 s (w2) and 7,200 s (w5): p50 = 45 + 15 = 60, p90 = 5400 + 1800 * 0.8; no read.
    The whole period: six delivered, p90 = 5400 + 1800 * 0.4, p99 = 5400 + 1800 * 0.94."""
    return [
        [day(2), 4, 100, 116, 119.6, 25, 25, 100, 2, 30, 3420, 3582],
        [day(1), 2, 60, 6840, 7164, 0, 50, 50, 0, None, None, None],
        [WHOLE_PERIOD[language], 6, 100, 6120, 7092, 16.67, 33.33, 83.33, 2, 30, 3420, 3582],
    ]


def template_rows(language: str) -> list[list]:
    # pedido_enviado: w1 (read) and w2; black_friday: w3.
    return [
        ["pedido_enviado", 2, 2, 2, 1, 0, 100, 50, 0, *NO_ERROR],
        ["black_friday", 1, 1, 1, 0, 0, 100, 0, 0, *NO_ERROR],
    ]


def country_rows(language: str) -> list[list]:
    # Brazil: the six MT of ROWS (the tie of two errors goes to the smaller code); Spain: w1,
    # w2; Mexico: w3 and w4's error; no country: w5. Most messages first, ties by code.
    names = COUNTRY_NAMES[language]
    return [
        [names["BR"], 6, 4, 2, 1, 2, 33.33, 16.67, 33.33, "131026", "@SUM(A1)",
         MEANING_131026[language], 1],
        [names["ES"], 2, 2, 2, 1, 0, 100, 50, 0, *NO_ERROR],
        [names["MX"], 2, 2, 1, 0, 1, 50, 0, 50, *undeliverable(language)],
        [names["ZZ"], 1, 1, 1, 0, 0, 100, 0, 0, *NO_ERROR],
    ]  # fmt: skip


def operator_rows(language: str) -> list[list]:
    names = COUNTRY_NAMES[language]
    return [
        [names["ES"], "Movistar", 2, 2, 2, 1, 0, 100, 50, 0, *NO_ERROR],
        [names["MX"], "Telcel", 2, 2, 1, 0, 1, 50, 0, 50, *undeliverable(language)],
    ]


def world_tables(language: str) -> list[list[list]]:
    """Each new section (WORLD_SHEETS' order): its headers, then its rows."""
    figures = figure_headers(language)
    return [
        [DELIVERY_HEADERS[language], *delivery_rows(language)],
        [[TEMPLATE[language], *figures], *template_rows(language)],
        [[COUNTRY[language], *figures], *country_rows(language)],
        [[COUNTRY[language], OPERATOR[language], *figures], *operator_rows(language)],
    ]


def as_sheet(rows: list[list]) -> list[list]:
    """Rows as openpyxl reads them back: a day is a date cell, read as a midnight datetime."""
    return [
        [datetime.combine(v, time()) if isinstance(v, date) else v for v in row] for row in rows
    ]


class TestNewSectionsXlsx:
    @pytest.mark.parametrize("language", ["es", "pt-BR", "en"])
    def test_each_new_sheet_reads_back_exactly(self, world, tmp_path, language):
        path = tmp_path / "w.xlsx"
        result = write_export(world, request(language=language), scope_of(world), path,
                              requested_by="ana")  # fmt: skip
        book = openpyxl.load_workbook(path)
        delivery, templates, countries, operators = WORLD_SHEETS[language]
        # In the view's order; operators now that some are known.
        assert book.sheetnames[3:-1] == [delivery, SHEETS[language][4], templates, countries,
                                         operators]  # fmt: skip
        for title, expected in zip(WORLD_SHEETS[language], world_tables(language), strict=True):
            assert sheet_rows(book, title) == as_sheet(expected), title
        written = dict(result.sections)
        assert [written[title] for title in WORLD_SHEETS[language]] == [3, 2, 4, 2]
        sheet = book[delivery]
        # Days are dates in the language's order, the whole period's label text; seconds and
        # shares two decimals, counts grouped.
        assert sheet.cell(2, 1).is_date and sheet.cell(4, 1).data_type == "s"
        assert sheet.cell(2, 1).number_format == ("yyyy-mm-dd" if language == "en" else
                                                  "dd/mm/yyyy")  # fmt: skip
        assert [sheet.cell(4, c).number_format for c in (2, 3, 6)] == ["#,##0", "0.00", "0.00"]

    def test_sms_leaves_the_read_cells_empty_and_has_no_templates(self, world, tmp_path):
        path = tmp_path / "sms.xlsx"
        write_export(world, request(language="en", channel="sms"), scope_of(world), path,
                     requested_by="ana")  # fmt: skip
        book = openpyxl.load_workbook(path)
        assert "WhatsApp templates" not in book.sheetnames
        # s1, yesterday: delivered in 120 s, bucket (90, 120]: 105, 117, 119.7. SMS has no
        # read receipts: the read count and times are empty, not 0.
        assert sheet_rows(book, "Delivery time")[1:] == as_sheet(
            [
                [day(2), 0, None, None, None, None, None, None, None, None, None, None],
                [day(1), 1, 105, 117, 119.7, 0, 0, 100, None, None, None, None],
                ["Whole period", 1, 105, 117, 119.7, 0, 0, 100, None, None, None, None],
            ]
        )
        assert sheet_rows(book, "Countries")[1:] == [
            ["Brazil", 1, 1, 1, None, 0, 100, None, 0, *NO_ERROR]
        ]

    def test_received_messages_have_none_of_the_new_sheets(self, world, tmp_path):
        path = tmp_path / "mo.xlsx"
        write_export(world, request(language="es", direction="MO"), scope_of(world), path,
                     requested_by="ana")  # fmt: skip
        assert openpyxl.load_workbook(path).sheetnames == [
            "Datos", "Período anterior", "Información",
        ]  # fmt: skip

    def test_a_store_that_does_not_compute_them_says_so(self, world, tmp_path, monkeypatch):
        # A ClickHouse-bound store answers none of the four yet (reports.delivery_times, ...).
        for name in ("delivery_times", "template_table", "country_table", "operator_table"):
            monkeypatch.setattr(reports, name, lambda *args, **kwargs: None)
        for fmt in ("xlsx", "zip"):
            result = write_export(world, request(fmt, "es"), scope_of(world),
                                  tmp_path / f"ch.{fmt}", requested_by="ana")  # fmt: skip
            assert result.unavailable == WORLD_SHEETS["es"]
        book = openpyxl.load_workbook(tmp_path / "ch.xlsx")
        assert book.sheetnames == [
            "Datos", "Período anterior", "Motivos de error", "Campañas", "Información",
        ]  # fmt: skip
        said = [row[1] for row in sheet_rows(book, "Información") if row[0] == "Secciones"]
        assert said[-4:] == [
            f"{title}: este almacén todavía no lo calcula" for title in WORLD_SHEETS["es"]
        ]
        assert len(read_zip(tmp_path / "ch.zip")) == 4  # the daily file and three sections

    def test_a_country_filter_is_named_on_the_info_sheet_and_applied(self, world, tmp_path):
        path = tmp_path / "c.xlsx"
        req = request(language="es", countries=["ZZ", "ES"])
        assert req.state.countries == ("ES", "ZZ")
        write_export(world, req, scope_of(world), path, requested_by="ana")
        book = openpyxl.load_workbook(path)
        info = sheet_rows(book, "Información")
        assert ["Países", "España, País desconocido"] in info
        assert ["Campañas", "Todos"] in info
        names = COUNTRY_NAMES["es"]
        assert [row[0] for row in sheet_rows(book, "Países")[1:]] == [names["ES"], names["ZZ"]]
        # The daily sheet counts the same messages: w1 two days ago, w2 and w5 yesterday.
        assert [row[1] for row in sheet_rows(book, "Datos")[1:]] == [1, 2, 3]
        english = tmp_path / "c-en.xlsx"
        write_export(world, request(language="en", countries=["MX"]), scope_of(world), english,
                     requested_by="ana")  # fmt: skip
        assert ["Countries", "Mexico"] in sheet_rows(openpyxl.load_workbook(english), "Info")
        # Without a country chosen, every country.
        write_export(world, request(language="pt-BR"), scope_of(world), tmp_path / "all.xlsx",
                     requested_by="ana")  # fmt: skip
        info = sheet_rows(openpyxl.load_workbook(tmp_path / "all.xlsx"), "Informações")
        assert ["Países", "Todos"] in info


class TestNewSectionsZip:
    @pytest.mark.parametrize("language", ["es", "pt-BR", "en"])
    def test_each_new_file_reads_back_exactly(self, world, tmp_path, language):
        req = request("zip", language)
        write_export(world, req, scope_of(world), tmp_path / "w.zip", requested_by="ana")
        files = read_zip(tmp_path / "w.zip")
        stem = req.file_name().removesuffix(".zip")
        for title, expected in zip(WORLD_SHEETS[language], world_tables(language), strict=True):
            header, *rows = expected
            # Days in ISO, as the daily file writes them; numbers with the language's mark.
            want = [
                [v.isoformat() if isinstance(v, date) else as_text(v, language) for v in row]
                for row in rows
            ]
            if title == WORLD_SHEETS[language][2]:
                want[0][10] = "'@SUM(A1)"  # a formula's start gets CSV's apostrophe
            raw = files[section_file_name(stem, title)]
            assert csv_rows(raw, language) == [header, *want], title
        delivery = files[section_file_name(stem, WORLD_SHEETS[language][0])].decode()
        mark, sep = ("," if language != "en" else "."), SEPARATOR[language]
        assert f'\r\n"{WHOLE_PERIOD[language]}"{sep}6{sep}100{sep}6120{sep}7092{sep}16{mark}67' in (
            delivery
        )
        # A day without reads: its read times are empty fields.
        assert f"{sep}0{sep}{sep}{sep}\r\n" in delivery


class TestNewSectionsScope:
    def test_a_viewer_of_one_subaccount_exports_nothing_of_another(self, world, tmp_path):
        scope = scope_of(world, "Brand A")
        write_export(world, request(language="en"), scope, tmp_path / "a.xlsx",
                     requested_by="ana")  # fmt: skip
        write_export(world, request("zip", "en"), scope, tmp_path / "a.zip", requested_by="ana")
        book = openpyxl.load_workbook(tmp_path / "a.xlsx")
        # Brand A: e1, e2, e6 (131047) of ROWS, w1 (Spain), w3 (Mexico), w5 (no country); Brand
        # B's w2 (Spain), w4 (Mexico, 131026 "Undeliverable") nowhere. Ties go by the code (ES
        # before MX), whatever the language names them.
        assert sheet_rows(book, "Countries")[1:] == [
            ["Brazil", 3, 3, 2, 1, 1, 66.67, 33.33, 33.33, "131047", "Re-engagement message",
             MEANING_131047["en"], 1],
            ["Spain", 1, 1, 1, 1, 0, 100, 100, 0, *NO_ERROR],
            ["Mexico", 1, 1, 1, 0, 0, 100, 0, 0, *NO_ERROR],
            ["Unknown country", 1, 1, 1, 0, 0, 100, 0, 0, *NO_ERROR],
        ]  # fmt: skip
        assert sheet_rows(book, "Operators")[1:] == [
            ["Spain", "Movistar", 1, 1, 1, 1, 0, 100, 100, 0, *NO_ERROR],
            ["Mexico", "Telcel", 1, 1, 1, 0, 0, 100, 0, 0, *NO_ERROR],
        ]
        assert sheet_rows(book, "WhatsApp templates")[1:] == [
            ["black_friday", 1, 1, 1, 0, 0, 100, 0, 0, *NO_ERROR],
            ["pedido_enviado", 1, 1, 1, 1, 0, 100, 100, 0, *NO_ERROR],
        ]
        # Yesterday only w5 (7,200 s, bucket (5400, 7200]): p50 = 5400 + 1800 * 0.5.
        delivery = sheet_rows(book, "Delivery time")
        assert delivery[2][:5] == as_sheet([[day(1), 1, 6300, 7020, 7182]])[0]
        assert delivery[3][:2] == ["Whole period", 5]
        with zipfile.ZipFile(tmp_path / "a.zip") as archive:
            text = "".join(archive.read(name).decode() for name in archive.namelist())
        assert "Undeliverable" not in text and "Brand B" not in text
        assert '"Spain",1,1,1,1,0,100,100,0' in text
