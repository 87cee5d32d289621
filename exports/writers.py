"""Write an export file (CSV, XLSX or ZIP) from the store, streaming, into a temp file then renamed.

CSV: UTF-8 with a byte-order mark (so spreadsheets pick the encoding), RFC 4180 quoting and
CRLF line ends, fields separated as the language's spreadsheets split them (CSV_SEPARATOR) and
decimals with its decimal mark, written by pyarrow's CSV writer; every text goes out whole, and
text a spreadsheet would read as a formula gets a leading apostrophe. XLSX: typed cells, number
formats of the language, bold frozen header, column widths, an info sheet with the filters and
with every cell written otherwise than as it is (exports.xlsx), and further sheets when the rows
pass the sheet limit. A consolidated XLSX has a sheet per section of the view after the daily one
(exports.sections); the consolidated ZIP holds the daily CSV, the same bytes as the CSV format,
and a CSV per section by the same rules.

In both: the screen's words for columns and figures, and for a message's channel, direction,
content type and status; times in the request's time zone, cut to the whole second (never
rounded up into the next second, minute or day, so a time stays on the day the consolidated
view counts it in); phones in E.164 with their `+`; percentages rounded half up to two places.
"""

from __future__ import annotations

import os
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, select

from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.store import read_meta
from data_access.tables import subaccounts
from exports import source
from exports.request import ExportRequest
from exports.safety import neutralise, neutralise_array
from exports.sections import SectionTable, missing, rounded_percentage, shown_sections
from exports.xlsx import EXCEL_MAX_ROWS, ISO_FORMATS, Column, NumberFormats, TextChanges, XlsxBook
from reporting.error_codes import error_meaning
from reporting.formatting import country_name, decimal_mark, format_count, format_picker_day
from reporting.i18n import N_, label, t, tn
from reporting.words import DAILY_HEADERS

ProgressFn = Callable[[int, int], None]  # (rows written so far, rows expected)
BOM = "\ufeff".encode()
XLSX_SLICE_ROWS = 4096
XLSX_SLICE_BYTES = 2 * 2**20
XLSX_READ_AHEAD_BYTES = 4 * 2**20
XLSX_WINDOW_BYTES = 6 * 2**20
# Excel opens a CSV by splitting it on the list separator of the computer's regional settings,
# which is `;` wherever the decimal mark is a comma (Spanish and Portuguese settings): a comma
# file opens there as one column. Each language's file is split the way its readers' Excel
# splits it, and its decimals carry that language's mark.
CSV_SEPARATOR = {"es": ";", "pt-BR": ";", "en": ","}
# XLSX cells hold numbers and dates; the format only shows them. Counts are grouped and
# percentages have two decimals, with the separators of the reader's spreadsheet; days read in
# the language's order (the screen's), times to the second.
XLSX_FORMATS = {
    "es": NumberFormats(date="dd/mm/yyyy", datetime="dd/mm/yyyy hh:mm:ss"),
    "pt-BR": NumberFormats(date="dd/mm/yyyy", datetime="dd/mm/yyyy hh:mm:ss"),
    "en": ISO_FORMATS,
}
# A message's fields shown by a word of the language, as the detailed view shows them: the
# column and the kind of catalog key (`status.delivered`).
LABELLED = {
    "channel": "channel",
    "direction": "direction_one",
    "content_type": "content_type",
    "status": "status",
}
# The Info sheet lists chosen names up to about this many characters, then says how many more.
INFO_LIST_CHARS = 2000

# The detailed file's columns: the message's, then what its error code means in the file's
# language (reporting.error_codes), beside the operator's own text in error_description.
ERROR_MEANING = "error_meaning"
DETAIL_FILE_COLUMNS = (*reports.DETAIL_COLUMNS, ERROR_MEANING)
N_("column.error_meaning")

DETAIL_WIDTHS = {
    ERROR_MEANING: 40,
    "message_id": 30,
    "created_at": 20,
    "channel": 10,
    "direction": 10,
    "subaccount": 22,
    "user": 18,
    "campaign": 22,
    "content_type": 14,
    "phone": 17,
    "contact_name": 24,
    "content": 60,
    "status": 12,
    "error_code": 14,
    "error_description": 40,
    "sent_at": 20,
    "delivered_at": 20,
    "read_at": 20,
    "correlation_id": 24,
}
COUNT_COLUMNS = reports.COUNT_COLUMNS
PCT_COLUMNS = reports.PCT_COLUMNS


def header(language: str, column: str) -> str:
    """The header of an exported column of the detailed view: the screen's name of it."""
    return t(language, f"column.{column}")


def daily_header(language: str, column: str) -> str:
    """The header of a consolidated column: the screen's word for that figure."""
    return t(language, DAILY_HEADERS[column])


def detail_headers(language: str, times_zone: str) -> list[str]:
    """The detailed columns' headers; a time's names the zone it is written in."""
    return [
        f"{header(language, name)} ({times_zone})"
        if name in reports.TIME_COLUMNS
        else header(language, name)
        for name in DETAIL_FILE_COLUMNS
    ]


def consolidated_headers(language: str, days_zone: str) -> list[str]:
    """The consolidated columns' headers; the date's names the zone its days are counted in."""
    return [
        f"{daily_header(language, name)} ({days_zone})"
        if name == "date"
        else daily_header(language, name)
        for name in reports.DAILY_COLUMNS
    ]


def days_timezone(conn: Connection, request: ExportRequest) -> str:
    """The zone the store counts days in (the account's), which the period's days follow."""
    return read_meta(conn, "account_timezone") or request.timezone


def csv_options(language: str) -> pacsv.WriteOptions:
    return pacsv.WriteOptions(
        eol="\r\n", quoting_style="needed", batch_size=4096, delimiter=CSV_SEPARATOR[language]
    )


@dataclass
class ExportResult:
    rows: int
    size: int = 0
    # XLSX only: (sheet title, first data row, last data row) of every data sheet.
    sheets: list[tuple[str, int, int]] = field(default_factory=list)
    # Consolidated XLSX and ZIP: (title, rows) of each section written, and the titles of
    # those the store does not answer yet (exports.sections).
    sections: list[tuple[str, int]] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


def _local_times(values: pa.Array, timezone: str) -> pa.Array:
    """Stored naive-UTC times as naive wall-clock times in the zone."""
    # Arrow reads a naive timestamp as UTC, so the cast only labels the zone (assume_timezone
    # would check every value for gaps and folds, four times slower); local_timestamp converts.
    return pc.local_timestamp(values.cast(pa.timestamp("us", timezone)))


def e164(phones: pa.Array) -> pa.Array:
    """Stored phones (digits with the country code) with their `+`; an empty one stays empty."""
    plus = pc.binary_join_element_wise("+", phones, "")
    return pc.if_else(pc.greater(pc.binary_length(phones), 0), plus, phones)


def labelled(values: pa.Array, kind: str, language: str) -> pa.Array:
    """Domain values (`delivered`) as the screen's words in the language (`Entregado`); a value
    without a word stays as it is."""
    encoded = values.cast(pa.string()).dictionary_encode()
    words = [label(language, kind, value) for value in encoded.dictionary.to_pylist()]
    return pa.DictionaryArray.from_arrays(
        encoded.indices, pa.array(words, pa.string())
    ).dictionary_decode()


def _detail_arrays(
    batch: pa.RecordBatch, request: ExportRequest, neutralise_text: bool
) -> list[pa.Array]:
    """The columns of a batch as a file shows them; text neutralised for CSV (XLSX styles its
    cells instead)."""
    arrays = []
    for name in reports.DETAIL_COLUMNS:
        values = batch.column(name)
        if name in reports.TIME_COLUMNS:
            values = _local_times(values, request.timezone)
        else:
            if name == "phone":
                values = e164(values)
            elif name in LABELLED:
                values = labelled(values, LABELLED[name], request.language)
            if neutralise_text:
                values = neutralise_array(values)
        arrays.append(values)
    arrays.append(error_meanings(batch, request.language))
    return arrays


def error_meanings(batch: pa.RecordBatch, language: str) -> pa.Array:
    """What each row's error code means in the language ("" for none or an unknown code),
    looked up once per distinct channel and code of the batch."""
    keys = pc.binary_join_element_wise(
        batch.column("channel").cast(pa.string()),
        batch.column("error_code").cast(pa.string()),
        "\x1f",
        null_handling="replace",
        null_replacement="",
    ).dictionary_encode()
    meanings = []
    for key in keys.dictionary.to_pylist():
        channel, _, code = key.partition("\x1f")
        meanings.append(error_meaning(language, channel, code or None) or "")
    return pa.DictionaryArray.from_arrays(
        keys.indices, pa.array(meanings, pa.string())
    ).dictionary_decode()


def _csv_times(values: pa.Array) -> pa.Array:
    # A cast renders "YYYY-MM-DD HH:MM:SS" ten times faster than strftime.
    return pc.cast(values, pa.timestamp("s"), safe=False).cast(pa.string())


def _names(conn: Connection, table, label, ids) -> list[str]:
    if not ids:
        return []
    rows = conn.execute(select(label).where(table.c.id.in_(sorted(ids))).order_by(label)).all()
    return [row[0] for row in rows]


def _chosen_names(options: list[tuple[int, str]], chosen) -> list[str]:
    """Names of the chosen ids the scope has messages for; any other id only as `#id`."""
    named = dict(options)
    return [named[i] for i in chosen if i in named] + [f"#{i}" for i in chosen if i not in named]


def _info_rows(
    conn: Connection,
    request: ExportRequest,
    scope: AccessScope,
    flt: ReportFilter,
    result: ExportResult,
    requested_by: str,
    generated_at: datetime,
) -> list[list[str]]:
    lang = request.language
    state = request.state
    everything = t(lang, "info.all")

    def listed(values, chosen=True) -> str:
        if not chosen:
            return everything
        return _capped_list([str(v) for v in values], lang) or "—"

    # The subaccounts the rows can come from: the scope, narrowed by the filter if any.
    visible = [i for i in scope.subaccount_ids if not flt.subaccounts or i in flt.subaccounts]
    # Users and campaigns are named only when the scope has messages of them, so an id sent
    # from the browser cannot reveal a name from another subaccount.
    options = (
        reports.filter_options(conn, scope, flt.channel, request.timezone)
        if flt.users or flt.campaigns
        else {"users": [], "campaigns": []}
    )
    period = f"{format_picker_day(flt.start, lang)} – {format_picker_day(flt.end, lang)}"
    rows = [
        [t(lang, "info.channel"), t(lang, f"channel.{flt.channel}")],
        [t(lang, "info.view"), t(lang, f"view.{request.view}")],
        [t(lang, "info.period"), period],
        [t(lang, "info.days_timezone"), days_timezone(conn, request)],
        [t(lang, "info.timezone"), request.timezone],
        [
            t(lang, "info.direction"),
            t(lang, f"direction.{flt.direction}") if flt.direction else everything,
        ],
        [
            t(lang, "info.subaccounts"),
            listed(_names(conn, subaccounts, subaccounts.c.name, visible)),
        ],
        [
            t(lang, "info.users"),
            listed(_chosen_names(options["users"], flt.users), bool(flt.users)),
        ],
        [
            t(lang, "info.campaigns"),
            listed(_chosen_names(options["campaigns"], flt.campaigns), bool(flt.campaigns)),
        ],
        [
            t(lang, "countries.title"),
            listed([country_name(c, lang) for c in flt.countries], bool(flt.countries)),
        ],
        [
            t(lang, "info.content_types"),
            listed(
                [label(lang, "content_type", c) for c in flt.content_types],
                bool(flt.content_types),
            ),
        ],
        [
            t(lang, "info.statuses"),
            listed([label(lang, "status", s) for s in flt.statuses], bool(flt.statuses)),
        ],
    ]
    if flt.error_codes:
        # Only an error reason's link sets it (the filter bar has no control for it).
        rows.append([t(lang, "info.error_codes"), ", ".join(flt.error_codes)])
    if request.view == "detailed":
        order = N_("sort.descending") if state.descending else N_("sort.ascending")
        rows.append([t(lang, "info.phone"), state.phone or everything])
        for key, value in (
            (N_("info.message_id"), flt.message_id),
            (N_("info.correlation_id"), flt.correlation_id),
        ):
            if value:
                rows.append([t(lang, key), value])
        rows.append(
            [
                t(lang, "info.sort"),
                f"{header(lang, state.sort)} ({t(lang, order)})",
            ]
        )
    rows.append([t(lang, "info.rows"), format_count(result.rows, lang)])
    for title, first, last in result.sheets:
        rows.append(
            [
                t(lang, "info.sheets"),
                t(lang, "info.sheet_range", sheet=title, first=first, last=last),
            ]
        )
    if len(result.sheets) > 1:
        rows.append([t(lang, "info.sheets"), t(lang, "info.continued")])
    for title, count in result.sections:
        rows.append(
            [
                t(lang, "info.sections"),
                tn(lang, "info.section_rows", count, sheet=title, rows=count),
            ]
        )
    for title in result.unavailable:
        rows.append([t(lang, "info.sections"), t(lang, "info.section_not_available", title=title)])
    if request.view == "consolidated":
        previous = reports.previous_filter(flt)
        rows.append(
            [
                t(lang, "info.previous_period"),
                f"{format_picker_day(previous.start, lang)} – "
                f"{format_picker_day(previous.end, lang)}",
            ]
        )
    if request.view == "consolidated" and flt.channel == "sms":
        rows.append([t(lang, "kpi.read"), t(lang, "info.sms_read")])
    rows.append([t(lang, "info.requested_by"), requested_by])
    rows.append([t(lang, "info.generated_at"), generated_at.strftime("%Y-%m-%d %H:%M:%S")])
    return rows


def _capped_list(names: list[str], language: str) -> str:
    """The names joined by commas, as many as fit in INFO_LIST_CHARS, then how many more."""
    shown: list[str] = []
    length = 0
    for name in names:
        length += len(name) + 2
        if length > INFO_LIST_CHARS and shown:
            more = t(language, "more", count=len(names) - len(shown))
            return f"{', '.join(shown)} {more}"
        shown.append(name)
    return ", ".join(shown)


def _change_rows(changes: TextChanges, language: str) -> list[list[str]]:
    """What the Info sheet says about cells written otherwise than as they are."""
    label = t(language, "info.changed")
    if not changes:
        return [[label, t(language, "info.changed_none")]]
    return [
        [label, t(language, f"info.changed_{how}", count=count)]
        for how, count in (
            ("escaped", changes.escaped),
            ("replaced", changes.replaced),
            ("cut", changes.cut),
        )
        if count
    ]


def _consolidated_table(daily, totals: dict, language: str) -> tuple[list, list]:
    """Daily rows and the Total row as Python lists, in DAILY_COLUMNS order; percentages
    rounded here, so CSV and XLSX hold the same numbers."""
    daily_rows = []
    for record in daily.itertuples(index=False):
        row = [record.date]
        for name in COUNT_COLUMNS:
            value = getattr(record, name)
            row.append(None if missing(value) else int(value))
        for name in PCT_COLUMNS:
            row.append(rounded_percentage(getattr(record, name)))
        daily_rows.append(row)
    total_row: list = [t(language, "row.total")]
    total_row += [totals[name] for name in COUNT_COLUMNS]
    total_row += [rounded_percentage(totals[name]) for name in PCT_COLUMNS]
    return daily_rows, total_row


class _Progress:
    def __init__(self, callback: ProgressFn | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.done = 0

    def add(self, rows: int) -> None:
        self.done += rows
        if self.callback is not None:
            self.callback(self.done, max(self.total, self.done))


def _write_csv_detailed(handle, stream, request: ExportRequest, progress: _Progress) -> int:
    names = detail_headers(request.language, request.timezone)
    schema = pa.schema([(name, pa.string()) for name in names])
    options = csv_options(request.language)
    with pacsv.CSVWriter(handle, schema, write_options=options) as writer:
        for batch in stream.batches:
            arrays = _detail_arrays(batch, request, neutralise_text=True)
            arrays = [
                _csv_times(values) if column in reports.TIME_COLUMNS else values
                for column, values in zip(DETAIL_FILE_COLUMNS, arrays, strict=True)
            ]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            progress.add(batch.num_rows)
    return progress.done


def decimal_text(value: float, mark: str) -> str:
    """A rounded percentage as CSV text: its shortest digits (66.67, 12.5, 100), with the
    language's decimal mark and no digit grouping, so a spreadsheet of that language reads the
    number back exactly."""
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace(".", mark)


def _csv_cell(value, mark: str) -> str:
    """As pyarrow's writer does it: texts (ours: headers, days, "Total") quoted, numbers not."""
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, int):
        return str(value)
    return decimal_text(value, mark)


def _write_csv_consolidated(
    handle, daily_rows, total_row, request: ExportRequest, days_zone: str
) -> int:
    # A few rows: written here rather than by pyarrow, whose numbers always carry a point.
    language = request.language
    mark, separator = decimal_mark(language), CSV_SEPARATOR[language]
    rows: list[list] = [consolidated_headers(language, days_zone)]
    rows += [[row[0].isoformat(), *row[1:]] for row in daily_rows] + [total_row]
    text = "".join(separator.join(_csv_cell(v, mark) for v in row) + "\r\n" for row in rows)
    handle.write(text.encode())
    return len(daily_rows)


def _write_csv_section(handle, table: SectionTable, language: str) -> int:
    """A section's rows by the CSV rules of the daily file: the language's separator and
    decimal mark, texts quoted and neutralised, numbers bare, days in ISO."""
    mark, separator = decimal_mark(language), CSV_SEPARATOR[language]
    rows: list[list] = [list(table.headers)]
    rows += [
        [_section_value(value, kind) for value, kind in zip(row, table.row_kinds(row), strict=True)]
        for row in table.rows
    ]
    text = "".join(separator.join(_csv_cell(v, mark) for v in row) + "\r\n" for row in rows)
    handle.write(text.encode())
    return len(table.rows)


def _section_value(value, kind: str):
    if value is None:
        return None
    if kind == "text":
        return neutralise(value)
    if kind == "date":
        return value.isoformat()
    return value


def section_file_name(stem: str, title: str) -> str:
    """A section's file in the ZIP: the daily file's name, then the section's title in
    lowercase ASCII (`_periodo_anterior`), which every unzip program keeps as it is."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return f"{stem}_{re.sub(r'[^a-z0-9]+', '_', folded).strip('_')}.csv"


def _section_tables(conn, scope, flt, language: str) -> list[tuple[str, SectionTable | None]]:
    """Each section the view shows for the filter: its title and its table (None when the
    store does not answer it yet); one the view hides while empty is left out then."""
    out: list[tuple[str, SectionTable | None]] = []
    for section in shown_sections(flt):
        table = section.table(conn, scope, flt, language)
        if section.hidden_when_empty and table is not None and not table.rows:
            continue
        out.append((t(language, section.title), table))
    return out


def _section_columns(table: SectionTable) -> list[Column]:
    # Wide enough for the header's words; texts (descriptions, meanings) wider.
    return [
        Column(header, kind, max(30 if kind == "text" else 12, len(header) + 2))
        for header, kind in zip(table.headers, table.kinds, strict=True)
    ]


def _detail_columns(language: str, times_zone: str) -> list[Column]:
    return [
        Column(
            title,
            "datetime" if name in reports.TIME_COLUMNS else "text",
            max(DETAIL_WIDTHS[name], len(title) + 2)
            if name in reports.TIME_COLUMNS
            else (DETAIL_WIDTHS[name]),
        )
        for name, title in zip(
            DETAIL_FILE_COLUMNS, detail_headers(language, times_zone), strict=True
        )
    ]


def _consolidated_columns(language: str, days_zone: str) -> list[Column]:
    # Wide enough for the header's words (the cards' "Entregados al canal").
    kinds = (
        {"date": "date"}
        | dict.fromkeys(COUNT_COLUMNS, "int")
        | dict.fromkeys(PCT_COLUMNS, "decimal")
    )
    return [
        Column(title, kind, max(12, len(title) + 2))
        for kind, title in zip(
            kinds.values(), consolidated_headers(language, days_zone), strict=True
        )
    ]


def _write_xlsx_detailed(book: XlsxBook, stream, request: ExportRequest, progress: _Progress):
    columns = _detail_columns(request.language, request.timezone)
    base = t(request.language, "sheet.data")
    sheets: list[tuple[str, int, int]] = []
    sheet = book.add_sheet(base, columns)
    first_row = 1
    for batch in stream.batches:
        arrays = _detail_arrays(batch, request, neutralise_text=False)
        # Small slices: a slice's XML is several times its data, so this bounds memory, also
        # when the rows are long (a template of a thousand characters).
        slices = max(1, -(-batch.nbytes // XLSX_SLICE_BYTES), -(-batch.num_rows // XLSX_SLICE_ROWS))
        slice_rows = max(1, -(-batch.num_rows // slices))
        offset = 0
        while offset < batch.num_rows:
            if sheet.capacity == 0:
                sheet.close()
                sheets.append((sheet.title, first_row, first_row + sheet.rows - 1))
                first_row += sheet.rows
                sheet = book.add_sheet(f"{base} {len(sheets) + 1}", columns)
            take = min(sheet.capacity, batch.num_rows - offset, slice_rows)
            sheet.write([values.slice(offset, take) for values in arrays])
            offset += take
        progress.add(batch.num_rows)
    sheet.close()
    if sheet.rows:
        sheets.append((sheet.title, first_row, first_row + sheet.rows - 1))
    return sheets


def write_export(
    engine: Engine,
    request: ExportRequest,
    scope: AccessScope,
    path: Path,
    *,
    requested_by: str,
    max_rows: int = EXCEL_MAX_ROWS - 1,
    progress: ProgressFn | None = None,
    batch_rows: int = source.BATCH_ROWS,
    window_rows: int = source.WINDOW_ROWS,
    partial: Path | None = None,
) -> ExportResult:
    """Write the file of a request, as the scope may see it, to `path` (atomically).

    The file appears under its name only once complete: it is written to `partial` (default
    `path.part`, in the same folder so the rename is atomic) and renamed. On any failure the
    partial file is removed and the error propagates.
    """
    path = Path(path)
    partial = Path(partial) if partial is not None else path.with_name(path.name + ".part")
    flt = request.report_filter()
    generated_at = datetime.now(ZoneInfo(request.timezone)).replace(tzinfo=None)
    try:
        with engine.connect() as conn, conn.begin():
            if request.format == "csv":
                result = _write_csv(
                    conn, request, scope, flt, partial, progress, batch_rows, window_rows
                )
            elif request.format == "zip":
                result = _write_zip(conn, request, scope, flt, partial, progress)
            else:
                result = _write_xlsx(
                    conn,
                    request,
                    scope,
                    flt,
                    partial,
                    progress,
                    requested_by,
                    generated_at,
                    max_rows,
                    batch_rows,
                    window_rows,
                )
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    result.size = path.stat().st_size
    return result


def _stream(conn, request: ExportRequest, scope, flt, batch_rows, window_rows):
    # The XLSX writer is several times slower than the store: smaller windows and a little
    # read ahead keep it busy, and more would only hold memory.
    xlsx = request.format == "xlsx"
    return source.detailed_stream(
        conn,
        scope,
        flt,
        request.state.sort,
        request.state.descending,
        batch_rows=batch_rows,
        window_rows=window_rows,
        window_bytes=XLSX_WINDOW_BYTES if xlsx else source.WINDOW_BYTES,
        read_ahead_bytes=XLSX_READ_AHEAD_BYTES if xlsx else source.READ_AHEAD_BYTES,
    )


def _write_csv(conn, request, scope, flt, partial, progress, batch_rows, window_rows):
    with open(partial, "wb") as handle:
        handle.write(BOM)
        if request.view == "detailed":
            with _stream(conn, request, scope, flt, batch_rows, window_rows) as stream:
                tracker = _Progress(progress, stream.total)
                rows = _write_csv_detailed(handle, stream, request, tracker)
        else:
            daily, totals = source.consolidated_rows(conn, scope, flt)
            daily_rows, total_row = _consolidated_table(daily, totals, request.language)
            days_zone = days_timezone(conn, request)
            rows = _write_csv_consolidated(handle, daily_rows, total_row, request, days_zone)
            if progress is not None:
                progress(rows, rows)
        handle.flush()
        os.fsync(handle.fileno())
    return ExportResult(rows=rows)


def _write_zip(conn, request, scope, flt, partial, progress) -> ExportResult:
    """The ZIP of sections: the daily CSV exactly as the CSV export writes it (same bytes,
    same name), then one CSV per section the view shows."""
    language = request.language
    stem = request.file_name().removesuffix(f".{request.format}")
    result = ExportResult(rows=0)
    with open(partial, "wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            daily, totals = source.consolidated_rows(conn, scope, flt)
            daily_rows, total_row = _consolidated_table(daily, totals, language)
            with archive.open(f"{stem}.csv", "w") as member:
                member.write(BOM)
                result.rows = _write_csv_consolidated(
                    member, daily_rows, total_row, request, days_timezone(conn, request)
                )
            for title, table in _section_tables(conn, scope, flt, language):
                if table is None:
                    result.unavailable.append(title)
                    continue
                with archive.open(section_file_name(stem, title), "w") as member:
                    member.write(BOM)
                    result.sections.append((title, _write_csv_section(member, table, language)))
        handle.flush()
        os.fsync(handle.fileno())
    if progress is not None:
        progress(result.rows, result.rows)
    return result


def _write_xlsx(
    conn,
    request,
    scope,
    flt,
    partial,
    progress,
    requested_by,
    generated_at,
    max_rows,
    batch_rows,
    window_rows,
):
    book = XlsxBook(
        partial,
        max_rows=max_rows,
        cut_marker=lambda length: t(request.language, "cell.cut", length=length),
        formats=XLSX_FORMATS[request.language],
    )
    try:
        if request.view == "detailed":
            with _stream(conn, request, scope, flt, batch_rows, window_rows) as stream:
                tracker = _Progress(progress, stream.total)
                sheets = _write_xlsx_detailed(book, stream, request, tracker)
            result = ExportResult(rows=tracker.done, sheets=sheets)
        else:
            daily, totals = source.consolidated_rows(conn, scope, flt)
            daily_rows, total_row = _consolidated_table(daily, totals, request.language)
            columns = _consolidated_columns(request.language, days_timezone(conn, request))
            sheet = book.add_sheet(t(request.language, "sheet.data"), columns, EXCEL_MAX_ROWS - 1)
            sheet.write_rows(daily_rows)
            sheet.write_rows([total_row], ["text"] + [c.kind for c in columns[1:]])
            sheet.close()
            result = ExportResult(rows=len(daily_rows))
            for title, table in _section_tables(conn, scope, flt, request.language):
                if table is None:
                    result.unavailable.append(title)
                    continue
                section_sheet = book.add_sheet(title, _section_columns(table), EXCEL_MAX_ROWS - 1)
                for kinds, rows in table.runs():
                    section_sheet.write_rows(rows, kinds)
                section_sheet.close()
                result.sections.append((section_sheet.title, len(table.rows)))
            if progress is not None:
                progress(result.rows, result.rows)
        info = book.add_sheet(
            t(request.language, "sheet.info"),
            [
                Column(t(request.language, "info.title"), "text", 28),
                Column(request.file_name(), "text", 70),
            ],
            EXCEL_MAX_ROWS - 1,
        )
        info.write_rows(_info_rows(conn, request, scope, flt, result, requested_by, generated_at))
        # Last, so the count takes in the Info sheet's own cells too (names come from the store).
        info.write_rows(_change_rows(book.changes, request.language))
        info.close()
        book.close()
    except BaseException:
        book.abort()
        raise
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    return result
