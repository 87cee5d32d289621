"""A streaming XLSX writer that renders whole Arrow batches of cells at once.

openpyxl (write-only) and xlsxwriter (constant_memory) both spend several microseconds of
Python per cell; a million 18-column rows is 18 million cells, far over the time budget (see
docs/BENCHMARKS.md, "Exports"). Here each column of a batch becomes its SpreadsheetML in Arrow
compute kernels, rows are joined the same way, and the bytes go straight into the zip member,
so memory holds one batch and time grows with rows at C speed. The package parts mirror what
xlsxwriter produces: inline strings (no shared-string table to keep in memory), one bold style
for headers, number formats for dates, times, counts and decimals (chosen per book, so each
language's file reads its own way), a frozen first row and column widths.

Text cells hold the text exactly, with three exceptions, each counted in `XlsxBook.changes` so
the file can say so:
- characters XML 1.0 cannot carry (controls other than tab, line feed and carriage return;
  U+FFFE, U+FFFF) are written in OOXML's `_xHHHH_` escape, which Excel and LibreOffice read
  back as the character; an underscore that would read as the start of such an escape is
  escaped itself (`_x005F_`), so a literal `_x0041_` comes back as it was;
- U+0000 (NUL) becomes U+FFFD: it is not text, PostgreSQL cannot store it, and many programs
  take it for the end of a text;
- text longer than a cell holds (32,767 UTF-16 code units in Excel) is cut, whole characters
  only, and ends with a visible marker.
Text that a spreadsheet would read as a formula keeps its value and gets the `quotePrefix`
style (exports.safety).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO
from xml.sax.saxutils import escape, quoteattr

import pyarrow as pa
import pyarrow.compute as pc

from exports.safety import formula_like

EXCEL_MAX_ROWS = 1_048_576  # including the header row
EXCEL_EPOCH_OFFSET_DAYS = 25_569  # 1970-01-01 as an Excel serial day number
SHEET_NAME_MAX = 31
CELL_TEXT_MAX = 32_767  # Excel's limit on a cell's text, in UTF-16 code units

# Cell formats (indexes into cellXfs of styles.xml).
STYLE_HEADER = 1
STYLE_DATE = 2
STYLE_DATETIME = 3
STYLE_DECIMAL = 4
STYLE_QUOTED = 5  # text that reads as a formula: kept as text also when someone edits it
STYLE_COUNT = 6


@dataclass(frozen=True)
class NumberFormats:
    """The number formats of a book's dates, times, whole counts and decimals.

    Format codes are written with `,` grouping and `.` decimals whatever the language: a
    spreadsheet shows them with the separators of its own regional settings.
    """

    date: str = "yyyy-mm-dd"
    datetime: str = "yyyy-mm-dd hh:mm:ss"
    count: str = "#,##0"
    decimal: str = "0.00"


ISO_FORMATS = NumberFormats()

KINDS = ("text", "int", "decimal", "date", "datetime")

_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# Cells whose text cannot go into the XML as it is (RE2): a character XML 1.0 cannot carry, or
# text that reads as an `_xHHHH_` escape. A carriage return is legal but every XML reader
# would fold it into a line feed, so it travels as a character reference.
_NEEDS_ESCAPE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]|_[xX][0-9A-Fa-f]{4}_"
_ESCAPED = "\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"
_ESCAPED_CHARACTER = re.compile(f"[{_ESCAPED}]")
# An underscore a reader would take for the start of an escape: before `xHHHH_`, or before
# `xHHHH` and a character about to be escaped (whose escape starts with an underscore).
_ESCAPE_LOOKALIKE = re.compile(f"_(?=[xX][0-9A-Fa-f]{{4}}[_{_ESCAPED}])")
NUL_REPLACEMENT = "\ufffd"


def default_cut_marker(length: int) -> str:
    return f" […cut: {length} characters in all]"


@dataclass
class TextChanges:
    """How many text cells were written otherwise than as they are, by how."""

    escaped: int = 0  # characters XML cannot carry, or escape look-alikes, as `_xHHHH_`
    replaced: int = 0  # U+0000 replaced by U+FFFD
    cut: int = 0  # longer than CELL_TEXT_MAX: cut and marked

    def __bool__(self) -> bool:
        return bool(self.escaped or self.replaced or self.cut)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cell_text(text: str, cut_marker: Callable[[int], str], changes: TextChanges) -> str:
    """A text as it goes into a cell before XML's own escaping, its changes counted."""
    if len(text) > CELL_TEXT_MAX // 2 and utf16_length(text) > CELL_TEXT_MAX:
        marker = cut_marker(len(text))
        keep = CELL_TEXT_MAX - utf16_length(marker)
        # A cut between the two halves of a surrogate pair leaves a lone half, which decoding
        # drops: only whole characters are kept.
        text = text.encode("utf-16-le")[: 2 * keep].decode("utf-16-le", "ignore") + marker
        changes.cut += 1
    if "\x00" in text:
        text = text.replace("\x00", NUL_REPLACEMENT)
        changes.replaced += 1
    escaped = _ESCAPE_LOOKALIKE.sub("_x005F_", text)
    escaped = _ESCAPED_CHARACTER.sub(lambda found: f"_x{ord(found[0]):04X}_", escaped)
    if escaped != text:
        changes.escaped += 1
    return escaped


@dataclass(frozen=True)
class Column:
    header: str
    kind: str
    width: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


def column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def sheet_title(name: str) -> str:
    """A valid sheet title: no []:*?/\\ and at most 31 characters."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name).strip("'")
    return cleaned[:SHEET_NAME_MAX] or "Sheet"


def _escape_text(
    values: pa.Array, cut_marker: Callable[[int], str], changes: TextChanges
) -> pa.Array:
    # The few cells that are too long (a byte count is never below the UTF-16 length) or hold
    # what needs an escape are rewritten one by one; the rest stay in the kernels.
    special = pc.or_(
        pc.greater(pc.binary_length(values), CELL_TEXT_MAX),
        pc.match_substring_regex(values, _NEEDS_ESCAPE),
    )
    if pc.any(special).as_py():
        special = pc.fill_null(special, False)
        rewritten = [
            cell_text(text, cut_marker, changes) for text in pc.filter(values, special).to_pylist()
        ]
        values = pc.replace_with_mask(values, special, pa.array(rewritten, values.type))
    values = pc.replace_substring(values, "&", "&amp;")
    values = pc.replace_substring(values, "<", "&lt;")
    values = pc.replace_substring(values, ">", "&gt;")
    return pc.replace_substring(values, "\r", "&#13;")


def _concat_bytes(values: pa.Array) -> memoryview:
    """The bytes of a string array with no nulls, end to end, without copying them."""
    if len(values) == 0:
        return memoryview(b"")
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    width = 8 if pa.types.is_large_string(values.type) else 4
    _, offsets, data = values.buffers()
    bounds = memoryview(offsets).cast("B")
    first, last = values.offset * width, (values.offset + len(values)) * width
    start = int.from_bytes(bounds[first : first + width], "little", signed=True)
    end = int.from_bytes(bounds[last : last + width], "little", signed=True)
    return memoryview(data)[start:end]


def _serial_days(values: pa.Array) -> pa.Array:
    """Excel serial numbers of naive local timestamps, to the whole second."""
    seconds = pc.cast(values, pa.timestamp("s"), safe=False).cast(pa.int64())
    return pc.add(pc.divide(seconds.cast(pa.float64()), 86_400.0), float(EXCEL_EPOCH_OFFSET_DAYS))


_TEXT = '" t="inlineStr"><is><t xml:space="preserve">'
_QUOTED_TEXT = f'" s="{STYLE_QUOTED}" t="inlineStr"><is><t xml:space="preserve">'


def _cell_values(values: pa.Array, kind: str, book: XlsxBook) -> tuple[pa.Array, str | pa.Array]:
    """The text inside each cell element and what goes between its reference and that text
    (one for the column or one per cell)."""
    if kind == "text":
        values = values.cast(pa.string())
        formulas = formula_like(values)
        inner = _escape_text(values, book.cut_marker, book.changes)
        if formulas is None:
            return inner, _TEXT
        return inner, pc.if_else(formulas, _QUOTED_TEXT, _TEXT)
    if kind == "int":
        return values.cast(pa.int64()).cast(pa.string()), f'" s="{STYLE_COUNT}"><v>'
    if kind == "decimal":
        return values.cast(pa.float64()).cast(pa.string()), f'" s="{STYLE_DECIMAL}"><v>'
    if kind == "date":
        days = pc.add(values.cast(pa.date32()).cast(pa.int32()), EXCEL_EPOCH_OFFSET_DAYS)
        return days.cast(pa.string()), f'" s="{STYLE_DATE}"><v>'
    return _serial_days(values).cast(pa.string()), f'" s="{STYLE_DATETIME}"><v>'


_CLOSE = {"text": "</t></is></c>"}
_ARROW_TYPES = {
    "text": pa.string(),
    "int": pa.int64(),
    "decimal": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
}


class Sheet:
    """One worksheet being written: header first, then batches of rows, then close()."""

    def __init__(self, book: XlsxBook, title: str, columns: list[Column], max_rows: int) -> None:
        self.book = book
        self.title = title
        self.columns = columns
        self.max_rows = max_rows
        self.rows = 0  # data rows written, the header not counted
        self._letters = [column_letter(i) for i in range(len(columns))]
        self._stream = book.open_part(f"xl/worksheets/sheet{len(book.sheets) + 1}.xml")
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{c.width:.2f}" customWidth="1"/>'
            for i, c in enumerate(columns, start=1)
        )
        self._stream.write(
            (
                f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
                '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2"'
                ' activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft"/>'
                "</sheetView></sheetViews>"
                f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'
                '<row r="1">'
                + "".join(
                    f'<c r="{letter}1" s="{STYLE_HEADER}" t="inlineStr"><is><t>'
                    f"{escape(column.header)}</t></is></c>"
                    for letter, column in zip(self._letters, columns, strict=True)
                )
                + "</row>"
            ).encode()
        )
        book.sheets.append(self)

    @property
    def capacity(self) -> int:
        return self.max_rows - self.rows

    def write(self, arrays: list[pa.Array], kinds: list[str] | None = None) -> None:
        """Append rows given as one Arrow array per column (all of the same length).

        `kinds` overrides the columns' kinds for these rows (a Total row's label in a date
        column, say).
        """
        kinds = kinds or [column.kind for column in self.columns]
        count = len(arrays[0])
        if count == 0:
            return
        if count > self.capacity:
            raise ValueError("batch does not fit in the sheet")
        first = self.rows + 2  # row 1 is the header
        numbers = pa.array(range(first, first + count), pa.int64()).cast(pa.string())
        parts = ['<row r="', numbers, '">']
        for letter, kind, values in zip(self._letters, kinds, arrays, strict=True):
            inner, opening = _cell_values(values, kind, self.book)
            cell = pc.binary_join_element_wise(
                f'<c r="{letter}',
                numbers,
                opening,
                inner,
                _CLOSE.get(kind, "</v></c>"),
                "",
                null_handling="emit_null",
            )
            parts.append(pc.fill_null(cell, ""))
        parts.append("</row>")
        rows = pc.binary_join_element_wise(*parts, "")
        self._stream.write(_concat_bytes(rows))
        self.rows += count

    def write_rows(self, rows: list[list], kinds: list[str] | None = None) -> None:
        """Append a few rows of Python values (small sheets: totals, the info sheet)."""
        if not rows:
            return
        kinds = kinds or [column.kind for column in self.columns]
        by_column = list(zip(*rows, strict=True))
        arrays = [
            pa.array(list(values), _ARROW_TYPES[kind])
            for kind, values in zip(kinds, by_column, strict=True)
        ]
        self.write(arrays, kinds)

    def close(self) -> None:
        self._stream.write(
            b'</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75"'
            b' header="0.3" footer="0.3"/></worksheet>'
        )
        self._stream.close()


class XlsxBook:
    """A workbook written part by part into a zip file; sheets are written one at a time."""

    def __init__(
        self,
        path,
        max_rows: int = EXCEL_MAX_ROWS - 1,
        compresslevel: int = 1,
        cut_marker: Callable[[int], str] = default_cut_marker,
        formats: NumberFormats = ISO_FORMATS,
    ) -> None:
        """`cut_marker(length)` ends a text cut to fit a cell, `length` its whole length in
        characters; `formats` shows the book's numbers and dates."""
        if not 1 <= max_rows <= EXCEL_MAX_ROWS - 1:
            raise ValueError(f"a sheet holds 1 to {EXCEL_MAX_ROWS - 1} data rows")
        self.max_rows = max_rows
        self.cut_marker = cut_marker
        self.formats = formats
        self.changes = TextChanges()  # of every text cell written so far
        self.sheets: list[Sheet] = []
        self._order: list[int] | None = None
        self._open: IO[bytes] | None = None
        self._zip = zipfile.ZipFile(
            path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
        )

    def open_part(self, name: str) -> IO[bytes]:
        # force_zip64: a sheet of a million rows passes the 2 GiB of a plain zip member.
        self._open = self._zip.open(name, "w", force_zip64=True)
        return self._open

    def add_sheet(self, title: str, columns: list[Column], max_rows: int | None = None) -> Sheet:
        """A new sheet holding up to `max_rows` data rows (default: the book's limit)."""
        taken = {sheet.title for sheet in self.sheets}
        title = sheet_title(title)
        if title in taken:
            raise ValueError(f"sheet {title!r} already exists")
        return Sheet(self, title, columns, max_rows or self.max_rows)

    def set_order(self, order: list[int]) -> None:
        """Show the sheets in this order (indexes in writing order); written order otherwise."""
        if sorted(order) != list(range(len(self.sheets))):
            raise ValueError("the order must name every sheet once")
        self._order = order

    def close(self, created: datetime | None = None) -> None:
        stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        order = self._order or list(range(len(self.sheets)))
        count = len(self.sheets)
        sheets_xml = "".join(
            f'<sheet name={quoteattr(self.sheets[i].title)} sheetId="{i + 1}" r:id="rId{i + 1}"/>'
            for i in order
        )
        self._write(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><workbookPr/>'
            '<bookViews><workbookView xWindow="240" yWindow="15" windowWidth="16095"'
            f' windowHeight="9660"/></bookViews><sheets>{sheets_xml}</sheets>'
            '<calcPr calcId="124519"/></workbook>',
        )
        sheet_rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet"'
            f' Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, count + 1)
        )
        self._write(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PKG_REL_NS}">{sheet_rels}'
            f'<Relationship Id="rId{count + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
            "</Relationships>",
        )
        self._write("xl/styles.xml", _styles(self.formats))
        self._write(
            "_rels/.rels",
            f'<Relationships xmlns="{_PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
            f'<Relationship Id="rId2" Type="{_PKG_REL_NS}/metadata/core-properties"'
            ' Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{_REL_NS}/extended-properties"'
            ' Target="docProps/app.xml"/></Relationships>',
        )
        self._write(
            "docProps/core.xml",
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"'
            ' xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/'
            'XMLSchema-instance"><dc:creator>Delivery reports</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
            "</cp:coreProperties>",
        )
        self._write(
            "docProps/app.xml",
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties"><Application>Delivery reports</Application></Properties>',
        )
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, count + 1)
        )
        self._write(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
            'package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-'
            f'officedocument.extended-properties+xml"/>{overrides}</Types>',
        )
        self._zip.close()

    def abort(self) -> None:
        """Close the file without finishing it (the caller deletes it)."""
        try:
            if self._open is not None:
                self._open.close()
            self._zip.close()
        except (OSError, ValueError):
            pass

    def _write(self, name: str, body: str) -> None:
        self._zip.writestr(name, _XML_HEAD + body)


def _styles(formats: NumberFormats) -> str:
    codes = (formats.date, formats.datetime, formats.decimal, formats.count)
    numbers = "".join(
        f"<numFmt numFmtId={quoteattr(str(164 + i))} formatCode={quoteattr(code)}/>"
        for i, code in enumerate(codes)
    )
    return (
        f'<styleSheet xmlns="{_MAIN_NS}"><numFmts count="{len(codes)}">{numbers}</numFmts>'
        + _STYLES_REST
    )


# Cell formats in the order of the STYLE_ constants; numFmtId 164 to 167 are _styles' codes.
_STYLES_REST = (
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '<xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    '</cellStyles><dxfs count="0"/><tableStyles count="0"/></styleSheet>'
)
