"""Formula-injection neutralising: the exact matrix, cell by cell and over Arrow columns."""

import pyarrow as pa
import pytest

from exports.safety import (
    FIRST_CHARACTERS,
    _may_start_with_trigger,
    formula_like,
    is_dangerous,
    neutralise,
    neutralise_array,
)

MATRIX = [
    ("=1+1", "'=1+1"),
    ("+1+1", "'+1+1"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    (" =1", "' =1"),
    ('""=1', '\'""=1'),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("'=1", "''=1"),
    ("  @x", "'  @x"),
    ("+55 11 98765-4321", "'+55 11 98765-4321"),
    ("-10\n", "'-10\n"),
    ("+12345", "'+12345"),
    ("+5511987654321234", "'+5511987654321234"),
    # Kept as they are: a phone as the store holds it (6 to 15 digits) with its `+`, plain
    # negative numbers, ordinary text.
    ("+5511987654321", "+5511987654321"),
    ("+012345", "+012345"),
    ("+551198765432123", "+551198765432123"),
    ("-10", "-10"),
    ("-2.5", "-2.5"),
    ("-2,5", "-2,5"),
    ("hello = world", "hello = world"),
    ("a-b", "a-b"),
    ("", ""),
]


@pytest.mark.parametrize(("value", "expected"), MATRIX)
def test_cell_is_neutralised_exactly(value, expected):
    assert neutralise(value) == expected
    assert is_dangerous(value) == (value != expected)


def test_column_kernel_matches_the_cell_rule():
    values = [value for value, _ in MATRIX] + [None]
    result = neutralise_array(pa.array(values, pa.string())).to_pylist()
    assert result == [expected for _, expected in MATRIX] + [None]


def test_non_text_values_pass_through():
    assert neutralise(-10) == -10
    assert neutralise(None) is None
    safe = pa.array(["a", "b"])
    assert neutralise_array(safe) is safe


@pytest.mark.parametrize("first", FIRST_CHARACTERS)
def test_the_first_byte_test_sees_every_trigger(first):
    assert _may_start_with_trigger(pa.array(["plain", f"{first}x", None], pa.string())) is True
    assert _may_start_with_trigger(pa.array([first], pa.large_string())) is True


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pa.array(["plain", "a=b", "x-1", None], pa.string()), False),
        (pa.array(["", "", None], pa.string()), False),
        (pa.array([], pa.string()), False),
        (pa.array(["ünicode", "ñ=1"], pa.string()), False),
        # Only the slice counts: "=2" lies outside it, then inside.
        (pa.array(["a", "=2", "b"], pa.string()).slice(2, 1), False),
        (pa.array(["a", "=2", "b"], pa.string()).slice(1, 2), True),
        (pa.array(["ok", " x"], pa.large_string()), True),
    ],
)
def test_the_first_byte_test_reads_only_the_values_shown(values, expected):
    assert _may_start_with_trigger(values) is expected


def test_a_sliced_column_is_neutralised_within_its_slice():
    values = pa.array(["=0", "a", "=1", "-10", "+5511987654321", "@x"], pa.string())
    assert neutralise_array(values.slice(1, 4)).to_pylist() == ["a", "'=1", "-10", "+5511987654321"]
    assert neutralise_array(values.slice(1, 1)).to_pylist() == ["a"]


def test_formula_like_marks_exactly_the_cells_neutralise_would_change():
    values = [value for value, _ in MATRIX] + [None]
    marks = formula_like(pa.array(values, pa.string())).to_pylist()
    assert marks == [value != expected for value, expected in MATRIX] + [None]


def test_formula_like_is_none_for_a_column_without_formulas():
    assert formula_like(pa.array(["+5511987654321", "-10", "a=b", None], pa.string())) is None
    assert formula_like(pa.array([], pa.string())) is None
