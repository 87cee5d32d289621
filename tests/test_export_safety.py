"""Formula-injection neutralising: the exact matrix, cell by cell and over Arrow columns."""

import pyarrow as pa
import pytest

from exports.safety import is_dangerous, neutralise, neutralise_array

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
    # Kept as they are: an E.164 phone, plain negative numbers, ordinary text.
    ("+5511987654321", "+5511987654321"),
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
