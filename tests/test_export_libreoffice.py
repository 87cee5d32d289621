"""Exports opened by a real spreadsheet program: LibreOffice, headless, converts every exported
file to CSV, and each cell it read is compared with the store.

One hand-built store holds the formula-injection matrix, characters XML cannot carry (every
control character, U+FFFE, U+FFFF), NUL, a 40,000-character text, emoji, right-to-left text,
look-alikes of OOXML's `_xHHHH_` escape and a time a hair before midnight. The XLSX files are
converted in one soffice run and the CSV files in another (LibreOffice takes seconds to start).
Where LibreOffice itself changes a text (line breaks, NUL in CSV), the expected value says so.

`make test` installs LibreOffice (scripts/system-deps.sh); in CI (`CI` set) a missing soffice
fails these tests instead of skipping them.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

import app
from data_access import reports
from data_access.loader import load_files
from data_access.store import create_schema, make_engine
from data_access.tables import messages, subaccounts
from exports.request import ExportRequest
from exports.safety import neutralise
from exports.writers import LABELLED, write_export
from reporting.error_codes import error_meaning
from reporting.formatting import format_picker_day
from reporting.i18n import label as word_of
from tests.conftest import TIMEZONE, write_csv
from tests.exports_data import day, scope_of
from tests.test_export_safety import MATRIX

# Text CSV out of LibreOffice: comma, double quote, UTF-8, from line 1, every text cell quoted,
# values rather than as shown, no formulas, and (token 12, LibreOffice 7.2 on) every sheet to
# a file of its own, `<file>-<sheet>.csv`.
TO_CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,true,false,false,false,-1"
# Our CSV read as a careful user imports it: UTF-8, every column as text (format 2), so no
# phone or code turns into a number.
FROM_CSV = "CSV:44,34,76,1," + "/".join(f"{column}/2" for column in range(1, 19))
# A Brazilian file read the same way, split on `;` as Excel in Brazil splits it (1046: pt-BR).
FROM_PT_CSV = "CSV:59,34,76,1," + "/".join(f"{column}/2" for column in range(1, 19)) + ",1046"
# A Spanish consolidated file read as a Spanish spreadsheet reads it (3082: es-ES): split on
# `;`, every column in the standard format, so numbers with a decimal comma become numbers.
FROM_ES_CSV = "CSV:59,34,76,1,,3082"

CONTROLS = "".join(chr(code) for code in (*range(1, 9), 11, 12, *range(14, 32)))
LONG = "abcdefghij" * 3_999 + "0123456789"  # 40,000 characters
CUT_MARKER = " […cut: 40000 characters in all]"
REQUESTED_BY = '=HYPERLINK("http://example.com")'
# content of the messages on the day before yesterday: the formula matrix, a third delivered.
FORMULAS = {f"f{i:02d}": value for i, (value, _) in enumerate(MATRIX)}
# content, and a few names, of yesterday's messages.
TEXTS = {
    "u1": "x\ufffey\uffffz",
    "u2": f"controls[{CONTROLS}]",
    "u3": "n\x00ul",
    "u4": LONG,
    "u5": "Olá 😀👍🏽👨‍👩‍👧 🇧🇷",
    "u6": "שלום עולם · مرحبا بالعالم · \u202eabc\u202c · \u200fRTL",
    "u7": "_x0041_ _x005F_x0041_ _xABCD",
    "u8": "line one\r\nline two\rthree",
}
STATUSES = {"u1": "delivered", "u2": "delivered", "u3": "delivered", "u4": "read",
            "u5": "sent", "u6": "sent", "u7": "error", "u8": "queued"}  # fmt: skip
ESCAPED = (
    "{count} with characters XML cannot carry (controls, U+FFFE, U+FFFF) or with text that reads"
    " as one of their escapes, written as _xHHHH_ escapes: Excel and LibreOffice show the"
    " original text; other programs may show the escapes."
)
ODD_SUBACCOUNT = "Marca \x07Z"  # u1's subaccount
ODD_CONTACT = "Zoë \x1b[1m"  # u2's contact name


def _at(offset: int, hh: int, mm: int, ss: int = 0, us: int = 0) -> str:
    moment = datetime.combine(day(offset), time(hh, mm, ss, us), tzinfo=ZoneInfo(TIMEZONE))
    return moment.isoformat()


def _rows() -> list[dict]:
    rows = []
    for i, message_id in enumerate(FORMULAS):
        status = "delivered" if i % 3 == 0 else "sent"
        rows.append({"message_id": message_id, "created_at": _at(2, 8, i), "status": status,
                     "sent_at": _at(2, 9, i), "correlation_id": f"c{i}",
                     "delivered_at": _at(2, 10, i) if status == "delivered" else ""})  # fmt: skip
    for i, (message_id, status) in enumerate(STATUSES.items()):
        row = {"message_id": message_id, "created_at": _at(1, 12, i), "status": status}
        if status != "queued":
            row["sent_at"] = _at(1, 13, i)
        if status in ("delivered", "read"):
            row["delivered_at"] = _at(1, 14, i)
        if status == "read":
            row["read_at"] = _at(1, 15, i)
        if status == "error":
            row |= {"error_code": "131026", "error_description": "@SUM(A1)"}
        rows.append(row)
    by_id = {row["message_id"]: row for row in rows}
    by_id["u1"]["subaccount"] = "Marca Z"
    # A time a millisecond before midnight: cut, it stays on its day; rounded, it would not.
    by_id["u5"] |= {"created_at": _at(1, 23, 59, 59, 999_000), "phone": "012345"}
    base = {"channel": "whatsapp", "direction": "MT", "content_type": "text",
            "subaccount": "Brand A", "phone": "+5511987654321",
            "content": "placeholder"}  # fmt: skip
    return [base | row for row in rows]


def _write_texts(engine) -> None:
    """The texts straight into the store: the loader would trim some and refuse the long one."""
    with engine.begin() as conn:
        for message_id, text in (FORMULAS | TEXTS).items():
            conn.execute(
                update(messages).where(messages.c.message_id == message_id).values(content=text)
            )
        conn.execute(
            update(messages).where(messages.c.message_id == "u2").values(contact_name=ODD_CONTACT)
        )
        conn.execute(
            update(subaccounts).where(subaccounts.c.name == "Marca Z").values(name=ODD_SUBACCOUNT)
        )


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(
            "LibreOffice (soffice) is not installed, and CI must run these tests: "
            "`bash scripts/system-deps.sh test` installs libreoffice-calc-nogui."
        )
    pytest.skip("LibreOffice (soffice) is not installed: `bash scripts/system-deps.sh test`")


def _convert(soffice: str, files: list[Path], out: Path, profile: Path, infilter=None):
    """Every file to CSV, one file per sheet, in one soffice run."""
    command = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore"]
    if infilter:
        command.append(f"--infilter={infilter}")
    command += ["--convert-to", TO_CSV, "--outdir", str(out), *map(str, files)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _read(path: Path) -> list[list[str]]:
    assert path.exists(), f"LibreOffice wrote no {path.name}"
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    """The exports as LibreOffice read them: {"<file>-<sheet>": rows}, and the store."""
    soffice = _soffice()
    base = tmp_path_factory.mktemp("libreoffice")
    data_dir = base / "data"
    url = f"duckdb:///{data_dir / 'reports.duckdb'}"
    engine = make_engine(url)
    create_schema(engine, TIMEZONE)
    load_files(engine, [write_csv(base / "rows.csv", _rows())], TIMEZONE)
    _write_texts(engine)
    scope = scope_of(engine)
    files = base / "files"
    files.mkdir()

    def export(name: str, view: str, fmt: str, language: str = "en") -> Path:
        state = {"channel": "whatsapp", "view": view, "start": str(day(2)), "end": str(day(1))}
        request = ExportRequest.build(state, fmt, language, TIMEZONE)
        path = files / f"{name}.{fmt}"
        write_export(engine, request, scope, path, requested_by=REQUESTED_BY)
        return path

    xlsx = [export("detailed", "detailed", "xlsx"), export("consolidated", "consolidated", "xlsx")]
    xlsx.append(export("consolidated_es", "consolidated", "xlsx", "es"))
    text = [export("detailed", "detailed", "csv"), export("consolidated", "consolidated", "csv")]
    pt_text = [export("detailed_pt", "detailed", "csv", "pt-BR")]
    es_text = [export("consolidated_es", "consolidated", "csv", "es")]
    # The same detailed export as the command writes it with the sheet limit lowered.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        patch.setenv("DATA_DIR", str(data_dir))
        patch.setenv("ACCOUNT_TIMEZONE", TIMEZONE)
        patch.setenv("XLSX_MAX_ROWS", "10")
        code = app.main(
            ["export", "--view", "detailed", "--format", "xlsx", "--channel", "whatsapp",
             "--start", str(day(2)), "--end", str(day(1)), "--lang", "en",
             "--out", str(files / "sheets.xlsx")]
        )  # fmt: skip
        assert code == 0
    xlsx.append(files / "sheets.xlsx")
    _convert(soffice, xlsx, base / "from-xlsx", base / "profile")
    _convert(soffice, text, base / "from-csv", base / "profile", infilter=FROM_CSV)
    _convert(soffice, pt_text, base / "from-csv", base / "profile", infilter=FROM_PT_CSV)
    _convert(soffice, es_text, base / "from-csv", base / "profile", infilter=FROM_ES_CSV)
    sheets = {
        f"{fmt}:{path.stem}": _read(path)
        for fmt in ("xlsx", "csv")
        for path in (base / f"from-{fmt}").glob("*.csv")
    }
    # LibreOffice quotes the cells it holds as text (TO_CSV), so the raw lines tell numbers.
    sheets["raw:consolidated_es"] = (
        (base / "from-csv" / "consolidated_es-consolidated_es.csv").read_text().splitlines()
    )
    yield sheets, engine
    engine.dispose()


def _store_rows(engine, language: str = "en") -> list[list[str]]:
    """The store's detailed rows as text: local times to the second, phones in E.164, channel,
    direction, type and status in the language's words."""
    state = {"channel": "whatsapp", "view": "detailed", "start": str(day(2)), "end": str(day(1))}
    flt = ExportRequest.build(state, "xlsx", "en", TIMEZONE).report_filter()
    page = reports.detailed_page(engine, scope_of(engine), flt, limit=500)
    rows = []
    for record in page.rows.to_dict("records"):
        row = []
        for name in reports.DETAIL_COLUMNS:
            value = record[name]
            if value is None or value != value:
                value = ""
            elif name in reports.TIME_COLUMNS:
                value = value.strftime("%Y-%m-%d %H:%M:%S")
            elif name == "phone":
                value = "+" + value
            elif name in LABELLED:
                value = word_of(language, LABELLED[name], value)
            row.append(value)
        row.append(error_meaning(language, record["channel"], record["error_code"]) or "")
        rows.append(row)
    return rows


def _as_xlsx_shows(value: str) -> str:
    """A store text as LibreOffice reads it from our XLSX: NUL is U+FFFD, the long text is cut
    with its marker. LibreOffice keeps the lines of a text of several lines apart by a line
    feed: there a CR LF or a lone CR comes back as LF (a CR in a text of one line stays)."""
    value = value.replace("\x00", "\ufffd")
    if "\n" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value[: 32_767 - len(CUT_MARKER)] + CUT_MARKER if value == LONG else value


def _as_csv_shows(value: str) -> str:
    """A store text as LibreOffice reads it from our CSV: neutralised with the apostrophe;
    LibreOffice's CSV import drops NUL and reads CR LF and a lone CR as a line feed."""
    return neutralise(value).replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


def _column(name: str) -> int:
    return reports.DETAIL_COLUMNS.index(name)


def test_the_store_holds_the_hand_built_texts(opened):
    _, engine = opened
    by_id = {row[0]: row for row in _store_rows(engine)}
    assert {key: by_id[key][_column("content")] for key in FORMULAS | TEXTS} == FORMULAS | TEXTS
    assert len(by_id["u4"][_column("content")]) == 40_000
    assert by_id["u1"][_column("subaccount")] == ODD_SUBACCOUNT
    assert by_id["u2"][_column("contact_name")] == ODD_CONTACT


def test_every_xlsx_cell_reads_back_as_the_store_holds_it(opened):
    sheets, engine = opened
    rows = sheets["xlsx:detailed-Data"]
    assert rows[0][:3] == ["Message ID", "Time (America/Sao_Paulo)", "Channel"]
    want = [[_as_xlsx_shows(value) for value in row] for row in _store_rows(engine)]
    assert len(rows) - 1 == len(want) == len(FORMULAS) + len(TEXTS) == 32
    for got, expected in zip(rows[1:], want, strict=True):
        assert got == expected, got[0]
    by_id = {row[0]: row for row in rows[1:]}
    # Hand-checked: the formula matrix unchanged and never run, the characters XML cannot carry,
    # NUL, the cut text, emoji and right-to-left text, the escape look-alikes, the E.164 phones.
    content = _column("content")
    assert [by_id[key][content] for key in FORMULAS] == [value for value, _ in MATRIX]
    assert by_id["u1"][content] == "x\ufffey\uffffz"
    assert by_id["u2"][content] == f"controls[{CONTROLS}]"
    assert by_id["u3"][content] == "n\ufffdul"
    assert by_id["u4"][content] == LONG[:32_735] + CUT_MARKER
    assert len(by_id["u4"][content]) == 32_767
    assert by_id["u5"][content] == "Olá 😀👍🏽👨‍👩‍👧 🇧🇷"
    assert by_id["u6"][content] == "שלום עולם · مرحبا بالعالم · \u202eabc\u202c · \u200fRTL"
    assert by_id["u7"][content] == "_x0041_ _x005F_x0041_ _xABCD"
    assert by_id["u8"][content] == "line one\nline two\nthree"
    assert by_id["u1"][_column("subaccount")] == ODD_SUBACCOUNT
    assert by_id["u2"][_column("contact_name")] == ODD_CONTACT
    assert by_id["u5"][_column("phone")] == "+012345"
    assert by_id["u1"][_column("phone")] == "+5511987654321"
    assert by_id["u7"][_column("error_description")] == "@SUM(A1)"


def test_sub_second_times_are_cut_the_same_way_in_both_formats(opened):
    sheets, _ = opened
    created = _column("created_at")
    xlsx = {row[0]: row[created] for row in sheets["xlsx:detailed-Data"][1:]}
    text = {row[0]: row[created] for row in sheets["csv:detailed-detailed"][1:]}
    assert xlsx["u5"] == text["u5"] == f"{day(1)} 23:59:59"


def test_every_csv_cell_reads_back_as_the_store_holds_it(opened):
    sheets, engine = opened
    rows = sheets["csv:detailed-detailed"]
    assert rows[0][:3] == ["Message ID", "Time (America/Sao_Paulo)", "Channel"]
    want = [[_as_csv_shows(value) for value in row] for row in _store_rows(engine)]
    for got, expected in zip(rows[1:], want, strict=True):
        assert got == expected, got[0]
    assert len(rows) - 1 == len(want)
    by_id = {row[0]: row for row in rows[1:]}
    content = _column("content")
    # The formula matrix with CSV's apostrophe, shown as text; the whole long text.
    assert [by_id[key][content] for key in FORMULAS][:3] == ["'=1+1", "'+1+1", "'-1+1"]
    assert by_id["u4"][content] == LONG
    assert by_id["u5"][_column("phone")] == "+012345"


def test_the_info_sheet_counts_every_changed_cell(opened):
    sheets, _ = opened
    info = sheets["xlsx:detailed-Info"]
    rows = {}
    for label, value in info[1:]:
        rows.setdefault(label, []).append(value)
    assert rows["Subaccounts"] == [f"Brand A, {ODD_SUBACCOUNT}"]
    assert rows["Requested by"] == [REQUESTED_BY]
    # Escaped: the contents of u1, u2 and u7, u1's subaccount, u2's contact name and the Info
    # sheet's list of subaccounts.
    assert rows["Changed cells"] == [
        ESCAPED.format(count=6),
        "1 with the character U+0000 (NUL), which is not text: shown as U+FFFD (�).",
        "1 longer than 32,767 characters (the most an Excel cell holds), cut and ending in “[…”;"
        " the CSV export holds the whole text.",
    ]
    # The consolidated file's only such cell is the Info sheet's list of subaccounts.
    assert sheets["xlsx:consolidated-Info"][-1] == ["Changed cells", ESCAPED.format(count=1)]


def test_rows_continue_on_further_sheets_with_the_limit_lowered(opened):
    sheets, _ = opened
    whole = sheets["xlsx:detailed-Data"]
    names = ["Data", "Data 2", "Data 3", "Data 4"]
    assert sorted(key for key in sheets if key.startswith("xlsx:sheets-")) == sorted(
        [f"xlsx:sheets-{name}" for name in names] + ["xlsx:sheets-Info"]
    )
    parts = [sheets[f"xlsx:sheets-{name}"] for name in names]
    assert all(part[0] == whole[0] for part in parts)
    assert [len(part) - 1 for part in parts] == [10, 10, 10, 2]
    assert [row for part in parts for row in part[1:]] == whole[1:]
    ranges = [value for label, value in sheets["xlsx:sheets-Info"] if label == "Data sheets"]
    assert ranges[:4] == [
        "Data: rows 1 to 10",
        "Data 2: rows 11 to 20",
        "Data 3: rows 21 to 30",
        "Data 4: rows 31 to 32",
    ]


def test_percentages_agree_between_csv_and_xlsx(opened):
    sheets, _ = opened
    xlsx, text = sheets["xlsx:consolidated-Data"], sheets["csv:consolidated-consolidated"]
    assert xlsx == text
    # The day before yesterday: 8 of 24 delivered. Yesterday: 8 MT, 4 delivered, 1 read,
    # 1 error. Over both: 12, 1 and 1 of 32 (37.5, 3.125 rounded half up).
    assert len(FORMULAS) == 24
    assert [row[7:] for row in xlsx[1:]] == [
        ["33.33", "0", "0"],
        ["50", "12.5", "12.5"],
        ["37.5", "3.13", "3.13"],
    ]


def test_a_brazilian_csv_splits_on_semicolons_and_reads_back_with_its_words(opened):
    sheets, engine = opened
    rows = sheets["csv:detailed_pt-detailed_pt"]
    assert rows[0][:4] == ["ID da mensagem", "Data e hora (America/Sao_Paulo)", "Canal", "Direção"]
    want = [[_as_csv_shows(value) for value in row] for row in _store_rows(engine, "pt-BR")]
    assert len(rows) - 1 == len(want) == 32
    for got, expected in zip(rows[1:], want, strict=True):
        assert got == expected, got[0]
    by_id = {row[0]: row for row in rows[1:]}
    labelled = ("channel", "direction", "content_type", "status")
    assert [by_id["u4"][_column(c)] for c in labelled] == [
        "WhatsApp",
        "Enviada (MT)",
        "Texto",
        "Lida",
    ]
    assert by_id["u7"][_column("status")] == "Erro"


def test_a_spanish_csv_reads_back_as_the_same_numbers(opened):
    sheets, _ = opened
    spanish, english = (
        sheets["csv:consolidated_es-consolidated_es"],
        sheets["csv:consolidated-consolidated"],
    )
    assert spanish[0] == [
        "Día (America/Sao_Paulo)", "Total enviados", "Entregados al canal", "Entregados",
        "Leídos", "Errores", "Recibidos", "% entregados", "% leídos", "% errores",
    ]  # fmt: skip
    assert english[0][:3] == ["Day (America/Sao_Paulo)", "Total sent", "Reached the channel"]
    # 37,5 and 3,13 in the file; LibreOffice read them as the numbers 37.5 and 3.13.
    assert [row[1:] for row in spanish[1:]] == [row[1:] for row in english[1:]]
    assert spanish[3][7:] == ["37.5", "3.13", "3.13"]
    # Counts, percentages and days unquoted: LibreOffice holds them as numbers and dates.
    assert sheets["raw:consolidated_es"][1] == f"{day(2)},24,24,8,0,0,0,33.33,0,0"
    assert sheets["raw:consolidated_es"][3] == '"Total",32,31,12,1,1,0,37.5,3.13,3.13'


def test_a_spanish_xlsx_holds_the_same_numbers(opened):
    sheets, _ = opened
    spanish, english = sheets["xlsx:consolidated_es-Datos"], sheets["xlsx:consolidated-Data"]
    assert spanish[0][:3] == ["Día (America/Sao_Paulo)", "Total enviados", "Entregados al canal"]
    assert [row[1:] for row in spanish[1:]] == [row[1:] for row in english[1:]]


def test_the_consolidated_sections_read_back_as_sheets_of_their_own(opened):
    sheets, _ = opened
    names = sorted(key for key in sheets if key.startswith("xlsx:consolidated-"))
    assert names == [
        "xlsx:consolidated-Campaigns",
        "xlsx:consolidated-Countries",
        "xlsx:consolidated-Data",
        "xlsx:consolidated-Delivery time",
        "xlsx:consolidated-Error reasons",
        "xlsx:consolidated-Info",
        "xlsx:consolidated-Previous period",
        "xlsx:consolidated-WhatsApp templates",
    ]
    meaning = error_meaning("en", "whatsapp", "131026")
    # Both days against the two before them, which hold nothing: 32 sent, 31 reached the
    # channel, 12 delivered, 1 read (u4), 1 error (u7); no shares of an empty period.
    this, before = (
        f"{format_picker_day(day(2), 'en')} – {format_picker_day(day(1), 'en')}",
        f"{format_picker_day(day(4), 'en')} – {format_picker_day(day(3), 'en')}",
    )
    assert sheets["xlsx:consolidated-Previous period"] == [
        ["Figure", f"This period ({this})", f"Previous period ({before})", "Change",
         "% of total, this period", "% of total, previous period",
         "Change (percentage points)", "Better or worse"],
        ["Total sent", "32", "0", "32", "", "", "", ""],
        ["Reached the channel", "31", "0", "31", "96.88", "", "", ""],
        ["Delivered", "12", "0", "12", "37.5", "", "", ""],
        ["Read", "1", "0", "1", "3.13", "", "", ""],
        ["Errors", "1", "0", "1", "3.13", "", "", ""],
        ["Received", "0", "0", "0", "", "", "", ""],
    ]  # fmt: skip
    # The operator's text that reads as a formula comes back as the text, never run.
    assert sheets["xlsx:consolidated-Error reasons"] == [
        ["Code", "Error description", "What the error means", "Messages", "% of errors"],
        ["131026", "@SUM(A1)", meaning, "1", "100"],
    ]
    assert sheets["xlsx:consolidated-Campaigns"][1] == [
        "No campaign", "32", "31", "12", "1", "1", "37.5", "3.13", "3.13", "131026", "@SUM(A1)",
        meaning, "1",
    ]  # fmt: skip
    assert len(sheets["xlsx:consolidated-Campaigns"]) == 2
    # The Spanish file names its sheets in Spanish and holds the same numbers.
    spanish = sheets["xlsx:consolidated_es-Período anterior"]
    assert spanish[1][0] == "Total enviados"
    assert [row[1:7] for row in spanish[1:]] == [
        row[1:7] for row in sheets["xlsx:consolidated-Previous period"][1:]
    ]
    assert "xlsx:consolidated_es-Campañas" in sheets
    info = [value for label, value in sheets["xlsx:consolidated-Info"] if label == "Sections"]
    assert info == [
        "Previous period: 6 rows", "Error reasons: 1 row", "Delivery time: 3 rows",
        "Campaigns: 1 row", "WhatsApp templates: 0 rows", "Countries: 2 rows",
    ]  # fmt: skip


def test_the_delivery_time_and_country_sections_read_back_as_numbers(opened):
    sheets, _ = opened
    # Every delivery took two hours (bucket (5400, 7200]): p50 = 5400 + 1800 * 0.5, p90 and
    # p99 likewise; u4 was read after three hours (bucket (7200, 10800]). The days are dates,
    # the whole period's row its label.
    delivered = ["6300", "7020", "7182", "0", "0", "0"]
    assert sheets["xlsx:consolidated-Delivery time"][1:] == [
        [str(day(2)), "8", *delivered, "0", "", "", ""],
        [str(day(1)), "4", *delivered, "1", "9000", "10440", "10764"],
        ["Whole period", "12", *delivered, "1", "9000", "10440", "10764"],
    ]
    spanish = sheets["xlsx:consolidated_es-Tiempo de entrega"]
    assert spanish[3][0] == "Todo el período"
    assert [row[1:] for row in spanish[1:]] == [
        row[1:] for row in sheets["xlsx:consolidated-Delivery time"][1:]
    ]
    # u5's number (012345) has no calling code: no country.
    assert [row[:6] for row in sheets["xlsx:consolidated-Countries"][1:]] == [
        ["Brazil", "31", "30", "12", "1", "1"],
        ["Unknown country", "1", "1", "0", "0", "0"],
    ]
    assert sheets["xlsx:consolidated_es-Países"][2][0] == "País desconocido"
