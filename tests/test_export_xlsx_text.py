"""XLSX text cells: escapes for what XML cannot carry, NUL, cells too long, formula styling.

Exact values on hand-built text; the round trip through a real spreadsheet program is
tests/test_export_libreoffice.py.
"""

from __future__ import annotations

import re
import zipfile
from xml.etree import ElementTree

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.xlsx import (
    CELL_TEXT_MAX,
    STYLE_QUOTED,
    Column,
    TextChanges,
    XlsxBook,
    cell_text,
    default_cut_marker,
    utf16_length,
)

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def decode(text: str) -> str:
    """A reader's decoding of OOXML's `_xHHHH_` escapes (ECMA-376 Part 1, 22.4.2.4), left to
    right, UTF-16 code units joined back into characters."""
    units = re.sub(
        r"_x([0-9A-Fa-f]{4})_",
        lambda found: chr(int(found[1], 16)),
        text,
    )
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def encoded(text: str) -> tuple[str, TextChanges]:
    changes = TextChanges()
    return cell_text(text, default_cut_marker, changes), changes


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("a\x01b", "a_x0001_b"),
        ("x\ufffey\uffff", "x_xFFFE_y_xFFFF_"),
        ("\x1f\x0b\x0c\x08\x0e", "_x001F__x000B__x000C__x0008__x000E_"),
        # Text that reads as an escape: its underscore is escaped, so it reads back as written.
        ("_x0041_", "_x005F_x0041_"),
        ("_xabcd_ and _X0041_", "_x005F_xabcd_ and _x005F_X0041_"),
        # Two look-alikes sharing an underscore: both are escaped.
        ("_x005F_x0041_", "_x005F_x005F_x005F_x0041_"),
        # A look-alike completed by the escape of the character after it.
        ("_xABCD\x01", "_x005F_xABCD_x0001_"),
    ],
)
def test_text_xml_cannot_carry_is_escaped_and_counted(text, written):
    result, changes = encoded(text)
    assert result == written
    assert decode(result) == text
    assert changes == TextChanges(escaped=1)


@pytest.mark.parametrize(
    "text", ["tab\tline\ncr\r", "_x12_", "_x00G1_", "x0041_", "_x0041", "ünïcödé 😀 שלום", ""]
)
def test_text_xml_carries_is_left_alone(text):
    assert encoded(text) == (text, TextChanges())


def test_nul_becomes_the_replacement_character():
    assert encoded("n\x00u\x00l") == ("n\ufffdu\ufffdl", TextChanges(replaced=1))
    assert encoded("\x00\x01") == ("\ufffd_x0001_", TextChanges(escaped=1, replaced=1))


def test_a_text_over_the_cell_limit_is_cut_with_a_marker():
    marker = " […cut: 40000 characters in all]"
    result, changes = encoded("a" * 40_000)
    assert result == "a" * (CELL_TEXT_MAX - len(marker)) + marker
    assert len(result) == CELL_TEXT_MAX == 32_767
    assert changes == TextChanges(cut=1)
    assert encoded("b" * CELL_TEXT_MAX) == ("b" * CELL_TEXT_MAX, TextChanges())
    assert encoded("c" * (CELL_TEXT_MAX + 1))[0].endswith(" […cut: 32768 characters in all]")


def test_the_limit_counts_utf16_units_and_never_splits_a_character():
    marker = " […cut: 20000 characters in all]"  # 32 units: 32,735 remain, 16,367 emoji
    result, changes = encoded("😀" * 20_000)
    assert result == "😀" * 16_367 + marker
    # The last unit left would be half an emoji: the cell stays one unit short.
    assert utf16_length(result) == CELL_TEXT_MAX - 1
    assert changes == TextChanges(cut=1)
    # 16,384 emoji are 32,768 units: over the limit although only 16,384 characters.
    assert encoded("😀" * 16_384)[1] == TextChanges(cut=1)
    assert encoded("😀" * 16_383)[1] == TextChanges()


def test_a_cut_text_is_escaped_after_the_cut():
    result, changes = encoded("\x01" * 40_000)
    kept = CELL_TEXT_MAX - len(default_cut_marker(40_000))
    assert result == "_x0001_" * kept + default_cut_marker(40_000)
    assert decode(result) == "\x01" * kept + default_cut_marker(40_000)
    assert changes == TextChanges(escaped=1, cut=1)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("_xX0aF5G\x01\x1f\ufffe\uffff\r\n\t😀"), max_size=40))
def test_every_text_reads_back_as_it_was(text):
    assert decode(encoded(text)[0]) == text


def _sheet_cells(path, part="xl/worksheets/sheet1.xml") -> list[tuple[str, str | None, str]]:
    """(reference, style, text) of every cell of a sheet, parsed by a strict XML parser."""
    with zipfile.ZipFile(path) as archive:
        root = ElementTree.fromstring(archive.read(part))
    return [
        (cell.get("r"), cell.get("s"), "".join(cell.itertext())) for cell in root.iter(f"{MAIN}c")
    ]


def test_a_sheet_stays_valid_xml_and_counts_each_cell_once(tmp_path):
    book = XlsxBook(tmp_path / "t.xlsx")
    sheet = book.add_sheet("Data", [Column("a", "text", 10), Column("b", "text", 10)])
    sheet.write(
        [
            pa.array(["x\ufffey", "=1+1", "a\x01b\x02", None, "<&>\r\n"]),
            pa.array(["n\x00l", "-10", "@x", "_x0041_", "+5511987654321"]),
        ]
    )
    sheet.close()
    book.close()
    assert _sheet_cells(tmp_path / "t.xlsx")[2:] == [
        ("A2", None, "x_xFFFE_y"),
        ("B2", None, "n\ufffdl"),
        ("A3", str(STYLE_QUOTED), "=1+1"),
        ("B3", None, "-10"),
        ("A4", None, "a_x0001_b_x0002_"),
        ("B4", str(STYLE_QUOTED), "@x"),
        ("B5", None, "_x005F_x0041_"),
        ("A6", None, "<&>\r\n"),
        ("B6", None, "+5511987654321"),
    ]
    assert book.changes == TextChanges(escaped=3, replaced=1)
    with zipfile.ZipFile(tmp_path / "t.xlsx") as archive:
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
    formats = list(styles.find(f"{MAIN}cellXfs"))
    assert formats[STYLE_QUOTED].get("quotePrefix") == "1"
    assert len(formats) == int(styles.find(f"{MAIN}cellXfs").get("count"))
