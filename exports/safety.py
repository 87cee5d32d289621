"""Formula-injection neutralising for exported text cells.

A spreadsheet treats a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as
a formula, also when spaces or quotes come first. Two shapes stay as they are because people
need them intact and they cannot run anything: a phone number as the store holds it, in E.164
(`+5511987654321`, 6 to 15 digits), and a plain negative number (`-10`, `-2.5`).

CSV has no cell types, so such text gets a leading apostrophe there, which spreadsheets show as
text and never evaluate (`neutralise`, `neutralise_array`). An XLSX cell is typed text already
and keeps its value; the writer marks it with the `quotePrefix` style (`formula_like`), which
keeps it text when someone edits it.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

# RE2 (pyarrow) and Python's re read these the same way. In RE2 `$` is the very end of the
# text; Python's `$` also matches before a final newline, so Python uses fullmatch instead.
DANGEROUS_PATTERN = r"^[ \"']*[=+\-@\t\r]"
SAFE_BODY = r"\+[0-9]{6,15}|-[0-9]+(?:[.,][0-9]+)?"
SAFE_PATTERN = f"^(?:{SAFE_BODY})$"
PREFIX = "'"
FIRST_CHARACTERS = ("=", "+", "-", "@", "\t", "\r", " ", '"', "'")
_FIRST_BYTES = pa.array([ord(first) for first in FIRST_CHARACTERS], pa.uint8())
_OFFSET_TYPES = {pa.string(): pa.int32(), pa.large_string(): pa.int64()}

_dangerous = re.compile(DANGEROUS_PATTERN)
_safe = re.compile(SAFE_BODY)


def is_dangerous(text: str) -> bool:
    """Whether a spreadsheet could read the text as a formula."""
    return bool(_dangerous.match(text)) and not _safe.fullmatch(text)


def neutralise(value):
    """The value with a leading apostrophe when it could be read as a formula; else unchanged."""
    if isinstance(value, str) and is_dangerous(value):
        return PREFIX + value
    return value


def _may_start_with_trigger(values: pa.Array) -> bool:
    """Whether any value could start with a trigger, a space or a quote (never a false no).

    Reads the first byte of every non-empty value straight from the column's offsets and data
    buffers: a few passes over integers instead of a string test per character, six times
    faster. Every character looked for is ASCII, so its first byte decides.
    """
    offset_type = _OFFSET_TYPES.get(values.type)
    if offset_type is None:
        return True
    _validity, offsets, data = values.buffers()
    if data is None or data.size == 0:
        return False
    bounds = pa.Array.from_buffers(
        offset_type, len(values) + 1, [None, offsets], offset=values.offset
    )
    starts, ends = bounds.slice(0, len(values)), bounds.slice(1)
    # A null may still own bytes; reading them only sends the column to the exact test below.
    starts = pc.filter(starts, pc.less(starts, ends))
    first_bytes = pc.take(pa.Array.from_buffers(pa.uint8(), data.size, [None, data]), starts)
    return pc.any(pc.is_in(first_bytes, value_set=_FIRST_BYTES)).as_py() is True


def formula_like(values: pa.Array) -> pa.Array | None:
    """is_dangerous() over a whole Arrow string column (null for a null), or None when no
    value is, in vectorised compute kernels."""
    if len(values) == 0:
        return None
    # Most columns never start with a trigger or a space or quote: one cheap test of the first
    # bytes spares them the two regular expressions.
    if not _may_start_with_trigger(values):
        return None
    risky = pc.and_(
        pc.match_substring_regex(values, DANGEROUS_PATTERN),
        pc.invert(pc.match_substring_regex(values, SAFE_PATTERN)),
    )
    return risky if pc.any(risky).as_py() else None


def neutralise_array(values: pa.Array) -> pa.Array:
    """neutralise() over a whole Arrow string column, in vectorised compute kernels."""
    risky = formula_like(values)
    if risky is None:
        return values
    prefixed = pc.binary_join_element_wise(PREFIX, values, "")
    return pc.if_else(risky, prefixed, values)
