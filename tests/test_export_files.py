"""Exported files hold what the data layer returns, in the requester's language and time zone."""

from __future__ import annotations

import csv
from datetime import datetime

import openpyxl
import pytest

from data_access import reports
from exports import writers
from exports.request import ExportRequest
from exports.safety import neutralise
from exports.writers import LABELLED, write_export
from reporting.error_codes import error_meaning
from reporting.formatting import format_picker_day
from reporting.i18n import label
from tests.conftest import TIMEZONE
from tests.exports_data import DAILY, NEWEST_FIRST, QUOTED, TOTALS, day, load, local, scope_of

ES_DETAIL_HEADER = [
    "ID del mensaje", "Fecha y hora (America/Sao_Paulo)", "Canal", "Dirección", "Subcuenta",
    "Usuario", "Campaña",
    "Tipo", "Teléfono", "Contacto", "Contenido", "Estado", "Código de error",
    "Descripción del error", "Enviado (America/Sao_Paulo)",
    "Entregado (America/Sao_Paulo)", "Leído (America/Sao_Paulo)", "ID de correlación",
    "Qué significa el error",
]  # fmt: skip
# The screen's words: the KPI cards' titles and the charts' "% delivered".
EN_CONSOLIDATED_HEADER = [
    "Day (America/Sao_Paulo)", "Total sent", "Reached the channel", "Delivered", "Read", "Errors",
    "Received",
    "% delivered", "% read", "% errors",
]  # fmt: skip


def request(view="detailed", fmt="csv", language="es", timezone=TIMEZONE, **state):
    base = {"channel": "whatsapp", "view": view, "start": str(day(2)), "end": str(day(1))}
    return ExportRequest.build({**base, **state}, fmt, language, timezone)


def read_csv(path, separator=";"):
    """A CSV file's rows; Spanish and Portuguese files (most of these) are split on `;`."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=separator))


def read_xlsx(path):
    book = openpyxl.load_workbook(path)
    return book, {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book}


def expected_detail_cells(engine, scope, flt, timezone=TIMEZONE, csv=True, language="es"):
    """The data layer's detailed rows as a file shows them: times local, phones with their `+`,
    channel, direction, type and status in the language's words, formulas defused by an
    apostrophe in CSV (XLSX keeps the text and styles the cell)."""
    page = reports.detailed_page(engine, scope, flt, limit=500)
    rows = []
    for record in page.rows.to_dict("records"):
        row = []
        for name in reports.DETAIL_COLUMNS:
            value = record[name]
            if name in reports.TIME_COLUMNS:
                value = "" if value is None or value != value else value.strftime("%F %T")
            elif value is None or value != value:
                value = ""
            else:
                if name == "phone" and value:
                    value = "+" + value
                if name in LABELLED:
                    value = label(language, LABELLED[name], value)
                if csv:
                    value = neutralise(value)
            row.append(value)
        # Last, what the error code means in the language (none for an unknown code).
        row.append(error_meaning(language, record["channel"], record["error_code"]) or "")
        rows.append(row)
    return rows


@pytest.fixture
def store(engine, load_rows):
    load(engine, load_rows)
    return engine


def test_detailed_csv_equals_the_data_layer(store, tmp_path):
    scope = scope_of(store)
    req = request()
    result = write_export(store, req, scope, tmp_path / "out.csv", requested_by="ana")
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 8  # header and 7 rows; the one inside a quoted cell is \n
    rows = read_csv(tmp_path / "out.csv")
    assert rows[0] == ES_DETAIL_HEADER
    assert rows[1:] == expected_detail_cells(store, scope, req.report_filter())
    assert result.rows == 7 and result.size == len(raw)
    by_id = {row[0]: row for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == NEWEST_FIRST
    # Hand-checked cells: local times, neutralised formulas, kept phone and number, quoting.
    assert by_id["e7"][1] == local(1, 23, 30)
    assert by_id["e1"][1:4] == [local(2, 10), "WhatsApp", "Saliente (MT)"]
    assert [by_id["e1"][7], by_id["e1"][11], by_id["e5"][11]] == [
        "Plantilla",
        "Entregado",
        "Recibido",
    ]
    assert by_id["e1"][6] == 'Promo, "Fall"'
    assert by_id["e1"][10] == "'=1+1"
    assert by_id["e1"][17] == "'=cmd|' /C calc'!A0"
    assert by_id["e2"][10] == "+5511987654321"
    assert by_id["e2"][14:17] == [local(2, 10, 6), local(2, 10, 7), local(2, 11)]
    assert by_id["e3"][10] == "-10"
    assert by_id["e3"][12:14] == ["131026", "'@SUM(A1)"]
    assert by_id["e3"][17] == "'\r=1"
    assert by_id["e4"][9:11] == ['\'""=1', QUOTED]
    assert by_id["e5"][10] == "'\t=1"
    assert by_id["e6"][10] == "'@SUM(A1)"
    assert by_id["e7"][9:11] == ["' =1", "'+1+1"]
    assert by_id["e4"][5:7] == ["", ""]
    assert by_id["e1"][8] == "+5511987654321"


def test_times_follow_the_requested_time_zone(store, tmp_path):
    req = request(timezone="UTC", phone="+55 31 95555-4444")
    write_export(store, req, scope_of(store), tmp_path / "utc.csv", requested_by="ana")
    rows = read_csv(tmp_path / "utc.csv")
    # e7 is 23:30 in Sao Paulo (UTC-3) the day before: 02:30 UTC today's side of midnight.
    assert [row[0] for row in rows[1:]] == ["e7", "e6"]
    assert rows[1][1] == f"{day(0).isoformat()} 02:30:00"
    assert rows[2][1] == f"{day(1).isoformat()} 15:00:00"
    fingerprint = req.fingerprint()
    assert req.file_name() == f"detallado_whatsapp_{day(2)}_{day(1)}_UTC_{fingerprint}.csv"
    assert len(fingerprint) == 6 and int(fingerprint, 16) >= 0


def test_detailed_xlsx_is_typed_and_equals_the_data_layer(store, tmp_path):
    scope = scope_of(store, "Brand A")
    req = request(fmt="xlsx", language="en")
    write_export(store, req, scope, tmp_path / "out.xlsx", requested_by="ana")
    book, sheets = read_xlsx(tmp_path / "out.xlsx")
    assert book.sheetnames == ["Data", "Info"]
    data = book["Data"]
    rows = sheets["Data"]
    assert rows[0][1:3] == ["Time (America/Sao_Paulo)", "Channel"]
    assert [row[0] for row in rows[1:]] == ["e6", "e5", "e2", "e1"]
    expected = expected_detail_cells(store, scope, req.report_filter(), csv=False, language="en")
    for got, want in zip(rows[1:], expected, strict=True):
        for name, cell, value in zip(writers.DETAIL_FILE_COLUMNS, got, want, strict=True):
            if name in reports.TIME_COLUMNS:
                assert (cell.strftime("%F %T") if cell else "") == value
            else:
                assert (cell if cell is not None else "") == value
    e1 = rows[4]
    assert e1[1] == datetime.fromisoformat(local(2, 10))
    assert e1[8] == "+5511987654321" and e1[10] == "=1+1"
    assert data["I5"].data_type == "s" and data["B5"].is_date
    # Formula-like text keeps its value; the quotePrefix style keeps it text. Only those cells
    # (the contents of e6, e5 and e1, and e1's correlation id) have the style.
    quoted = [c.coordinate for row in data.iter_rows() for c in row if c.quotePrefix]
    assert quoted == ["K2", "K3", "K5", "R5"]
    assert [data[c].value for c in quoted] == ["@SUM(A1)", "\t=1", "=1+1", "=cmd|' /C calc'!A0"]
    assert data["B5"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert all(cell.font.b for cell in data[1])
    assert data.freeze_panes == "A2"
    assert data.column_dimensions["K"].width == 60
    assert not [c for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]
    info = dict((row[0], row[1]) for row in sheets["Info"][1:])
    assert info["Time zone of times"] == TIMEZONE
    assert info["Subaccounts"] == "Brand A"
    assert (
        info["Date range"]
        == f"{format_picker_day(day(2), 'en')} – {format_picker_day(day(1), 'en')}"
    )
    assert info["Data rows"] == "4"
    assert info["Data sheets"] == "Data: rows 1 to 4"
    assert info["Changed cells"] == "None: every cell holds the text as it is stored."
    assert sheets["Info"][0] == ["Exported report", req.file_name()]


def test_the_info_sheet_names_only_what_the_scope_may_see(store, tmp_path):
    from sqlalchemy import select

    from data_access.tables import users

    with store.connect() as conn:
        user_ids = dict(conn.execute(select(users.c.username, users.c.id)).all())
    # Brand A's user ana is named; bruno sends for Brand B only, so his id stays an id.
    req = request(fmt="xlsx", language="en", users=[user_ids["ana"], user_ids["bruno"]],
                  statuses=["error"])  # fmt: skip
    write_export(store, req, scope_of(store, "Brand A"), tmp_path / "i.xlsx", requested_by="x")
    _, sheets = read_xlsx(tmp_path / "i.xlsx")
    info = dict((row[0], row[1]) for row in sheets["Info"][1:])
    assert info["Users"] == f"ana, #{user_ids['bruno']}"
    assert (info["Subaccounts"], info["Campaigns"], info["Statuses"]) == ("Brand A", "All", "Error")
    assert [row[0] for row in sheets["Data"][1:]] == ["e6"]


def test_an_error_codes_link_exports_its_messages_and_the_info_sheet_names_the_code(
    store, tmp_path
):
    # An error reason's link: the failed messages with code 131026 (e3, Brand B's).
    req = request(fmt="xlsx", language="en", statuses=["error"], error_codes=["131026"])
    assert req.state.error_codes == ("131026",)
    write_export(store, req, scope_of(store), tmp_path / "e.xlsx", requested_by="x")
    _, sheets = read_xlsx(tmp_path / "e.xlsx")
    info = dict((row[0], row[1]) for row in sheets["Info"][1:])
    assert info["Error codes"] == "131026"
    assert [row[0] for row in sheets["Data"][1:]] == ["e3"]
    # Brand A's viewer has no message of that code.
    write_export(store, req, scope_of(store, "Brand A"), tmp_path / "a.xlsx", requested_by="x")
    _, sheets = read_xlsx(tmp_path / "a.xlsx")
    assert sheets["Data"][1:] == []


def test_consolidated_files_hold_each_day_and_a_total_row(store, tmp_path):
    scope = scope_of(store)
    csv_req = request(view="consolidated", language="en")
    write_export(store, csv_req, scope, tmp_path / "c.csv", requested_by="ana")
    rows = read_csv(tmp_path / "c.csv", separator=",")
    assert rows[0] == EN_CONSOLIDATED_HEADER
    counts = ("total", "sent", "delivered", "read", "errors", "received")
    # delivered / read / error % of each day's total: 2/3, 1/3, 1/3; 0, 0, 1/3; 2/6, 1/6, 2/6.
    pcts = {2: ["66.67", "33.33", "33.33"], 1: ["0", "0", "33.33"]}
    assert rows[1] == [str(day(2))] + [str(DAILY[2][c]) for c in counts] + pcts[2]
    assert rows[2] == [str(day(1))] + [str(DAILY[1][c]) for c in counts] + pcts[1]
    assert rows[3] == ["Total"] + [str(TOTALS[c]) for c in counts] + ["33.33", "16.67", "33.33"]

    xlsx_req = request(view="consolidated", fmt="xlsx", language="pt-BR")
    write_export(store, xlsx_req, scope, tmp_path / "c.xlsx", requested_by="ana")
    book, sheets = read_xlsx(tmp_path / "c.xlsx")
    daily = reports.daily_series(store, scope, xlsx_req.report_filter())
    assert sheets["Dados"][0][:3] == [
        "Dia (America/Sao_Paulo)",
        "Total enviadas",
        "Entregues ao canal",
    ]
    assert sheets["Dados"][1][0] == datetime.combine(day(2), datetime.min.time())
    assert sheets["Dados"][1][1:7] == [DAILY[2][c] for c in counts]
    # The same rounded percentages as the CSV.
    assert sheets["Dados"][1][7:] == [66.67, 33.33, 33.33]
    assert sheets["Dados"][2][1:7] == daily.iloc[1, 1:7].tolist()
    assert sheets["Dados"][2][7:] == [0, 0, 33.33]
    assert sheets["Dados"][3] == ["Total"] + [TOTALS[c] for c in counts] + [33.33, 16.67, 33.33]
    assert book["Dados"]["H2"].number_format == "0.00"
    assert book["Dados"]["B2"].number_format == "#,##0"
    assert book["Dados"]["A2"].number_format == "dd/mm/yyyy"


def test_sms_consolidated_leaves_read_empty(store, tmp_path):
    req = request(view="consolidated", channel="sms")
    write_export(store, req, scope_of(store), tmp_path / "s.csv", requested_by="ana")
    rows = read_csv(tmp_path / "s.csv")
    assert rows[2] == [str(day(1)), "1", "1", "1", "", "0", "0", "100", "", "0"]
    assert rows[3] == ["Total", "1", "1", "1", "", "0", "0", "100", "", "0"]


def test_xlsx_continues_on_further_sheets_past_the_row_limit(store, tmp_path):
    req = request(fmt="xlsx", language="en")
    result = write_export(
        store, req, scope_of(store), tmp_path / "big.xlsx", requested_by="ana", max_rows=3,
        batch_rows=2,
    )  # fmt: skip
    book, sheets = read_xlsx(tmp_path / "big.xlsx")
    assert book.sheetnames == ["Data", "Data 2", "Data 3", "Info"]
    assert [len(sheets[name]) - 1 for name in book.sheetnames[:3]] == [3, 3, 1]
    ids = [row[0] for name in book.sheetnames[:3] for row in sheets[name][1:]]
    assert ids == NEWEST_FIRST
    assert all(sheets[name][0][0] == "Message ID" for name in book.sheetnames[:3])
    assert result.sheets == [("Data", 1, 3), ("Data 2", 4, 6), ("Data 3", 7, 7)]
    notes = [row[1] for row in sheets["Info"] if row[0] == "Data sheets"]
    assert notes == [
        "Data: rows 1 to 3",
        "Data 2: rows 4 to 6",
        "Data 3: rows 7 to 7",
        "The data exceeds the row limit of one sheet and continues on the following sheets.",
    ]


@pytest.mark.parametrize(
    ("sort", "descending"),
    [("created_at", True), ("created_at", False), ("user", False), ("status", True),
     ("campaign", True)],
)  # fmt: skip
def test_streaming_in_small_slices_keeps_the_view_order(store, tmp_path, sort, descending):
    scope = scope_of(store)
    req = request(sort=sort, descending=descending)
    flt = req.report_filter()
    with store.connect() as conn:
        want = [
            row.message_id
            for row in conn.execute(reports.detailed_select(scope, flt, sort, descending))
        ]
    write_export(
        store, req, scope, tmp_path / "o.csv", requested_by="ana", batch_rows=2, window_rows=2
    )
    assert [row[0] for row in read_csv(tmp_path / "o.csv")[1:]] == want
    assert len(want) == 7


def test_a_failing_export_leaves_no_file(store, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(writers, "_detail_arrays", broken)
    with pytest.raises(RuntimeError):
        write_export(store, request(), scope_of(store), tmp_path / "x.csv", requested_by="ana")
    with pytest.raises(RuntimeError):
        write_export(
            store, request(fmt="xlsx"), scope_of(store), tmp_path / "x.xlsx", requested_by="ana"
        )
    assert list(tmp_path.glob("x*")) == []


def test_a_scope_without_subaccounts_writes_only_the_header(store, tmp_path):
    from data_access.filters import AccessScope

    write_export(store, request(), AccessScope.of([]), tmp_path / "e.csv", requested_by="x")
    assert read_csv(tmp_path / "e.csv") == [ES_DETAIL_HEADER]


def test_special_text_reaches_the_xlsx_cells_from_either_store(store, tmp_path):
    """The texts of the LibreOffice round trip, as each store hands them over (PostgreSQL's
    COPY included): the sheet stays valid XML and every escape decodes to the stored text."""
    from xml.etree import ElementTree
    from zipfile import ZipFile

    from sqlalchemy import update

    from data_access.tables import messages
    from tests.test_export_xlsx_text import MAIN, decode

    texts = {"e1": "x\ufffey\uffffz\x01_x0041_", "e2": "ctl\x1f\x0b\x0c" + "😀" * 20_000}
    with store.begin() as conn:
        for message_id, text in texts.items():
            conn.execute(
                update(messages).where(messages.c.message_id == message_id).values(content=text)
            )
    req = request(fmt="xlsx", language="en")
    write_export(store, req, scope_of(store), tmp_path / "t.xlsx", requested_by="ana")
    with ZipFile(tmp_path / "t.xlsx") as archive:
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    cells = {cell.get("r"): "".join(cell.itertext()) for cell in sheet.iter(f"{MAIN}c")}
    ids = [cells[f"A{row}"] for row in range(2, 9)]
    content = {message_id: decode(cells[f"K{ids.index(message_id) + 2}"]) for message_id in texts}
    # 6 + 20,000 characters; 32,767 units less the marker's 32 and the first 6: 16,364 emoji.
    marker = " […cut: 20006 characters in all]"
    assert content == {"e1": texts["e1"], "e2": "ctl\x1f\x0b\x0c" + "😀" * 16_364 + marker}


def test_the_info_sheet_lists_names_up_to_a_length_then_counts_the_rest():
    names = [f"Campaign {i:03d}" for i in range(300)]  # 12 characters each, 14 with ", "
    listed = writers._capped_list(names, "en")
    kept = writers.INFO_LIST_CHARS // 14
    assert listed == ", ".join(names[:kept]) + f" and {300 - kept} more"
    assert writers._capped_list(names[:3], "es") == "Campaign 000, Campaign 001, Campaign 002"
    assert writers._capped_list(names, "es").endswith(f" y {300 - kept} más")


def test_phones_get_their_plus_and_an_empty_one_stays_empty():
    import pyarrow as pa

    phones = pa.array(["5511987654321", "012345", "", None], pa.string())
    assert writers.e164(phones).to_pylist() == ["+5511987654321", "+012345", "", None]


def test_files_name_the_zone_of_their_days_and_the_zone_of_their_times(store, tmp_path):
    # A person in Tokyo exports a Sao Paulo account's days: days in the account's zone,
    # times in the person's.
    scope = scope_of(store)
    daily = request(view="consolidated", language="en", timezone="Asia/Tokyo")
    write_export(store, daily, scope, tmp_path / "c.csv", requested_by="ana")
    assert read_csv(tmp_path / "c.csv", separator=",")[0][:2] == [
        "Day (America/Sao_Paulo)",
        "Total sent",
    ]
    detail = request(fmt="xlsx", language="pt-BR", timezone="Asia/Tokyo")
    write_export(store, detail, scope, tmp_path / "d.xlsx", requested_by="ana")
    _, sheets = read_xlsx(tmp_path / "d.xlsx")
    headers = sheets["Dados"][0]
    assert [headers[1], *headers[14:17]] == [
        "Data e hora (Asia/Tokyo)",
        "Enviada (Asia/Tokyo)",
        "Entregue (Asia/Tokyo)",
        "Lida (Asia/Tokyo)",
    ]
    info = dict((row[0], row[1]) for row in sheets["Informações"][1:])
    assert (info["Fuso horário dos dias"], info["Fuso horário dos horários"]) == (
        "America/Sao_Paulo",
        "Asia/Tokyo",
    )
