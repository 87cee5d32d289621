"""The export benchmark's measuring code, on the small fixture store (no big store needed)."""

from __future__ import annotations

import openpyxl
import pytest

from bench import exports as bench
from tests.exports_data import NEWEST_FIRST, day, load


def test_one_export_run_reports_rows_time_and_memory(duckdb_engine, duckdb_settings, load_rows,
                                                     tmp_path):  # fmt: skip
    load(duckdb_engine, load_rows)
    duckdb_engine.dispose()
    store = duckdb_settings.duckdb_path
    result = bench.child_export(store, "csv", str(day(2)), str(day(1)), tmp_path / "b.csv")
    assert result["rows"] == 7
    assert result["seconds"] > 0 and result["peak_mb"] >= result["baseline_mb"] > 0
    # Without a limit given, the store runs under DUCKDB_MEMORY_LIMIT's default (10**9 bytes).
    assert result["memory_limit"] == "953.6 MiB"
    result = bench.child_export(store, "csv", str(day(2)), str(day(1)), tmp_path / "c.csv",
                                "300MB")  # fmt: skip
    assert (result["rows"], result["memory_limit"]) == (7, "286.1 MiB")
    # As `python app.py export` runs it: the lone export's 24MB (22.8 MiB) on one thread.
    result = bench.child_export(store, "csv", str(day(2)), str(day(1)), tmp_path / "d.csv",
                                lone=True)  # fmt: skip
    assert (result["rows"], result["memory_limit"]) == (7, "22.8 MiB")
    # The command itself, in its own process: rows from what it printed, its peak from wait4.
    command = bench.command_export(store, "xlsx", str(day(2)), str(day(1)), tmp_path / "e.xlsx")
    assert command["rows"] == 7
    assert command["seconds"] > 0 and command["peak_mb"] > 50
    assert openpyxl.load_workbook(tmp_path / "e.xlsx")["Datos"].max_row == 8
    # Newest days first: today has no WhatsApp rows, yesterday 4, the day before 3.
    ranges = bench.ranges_for(store, [4, 5])
    assert ranges[4] == (str(day(1)), str(day(0)), 4)
    assert ranges[5] == (str(day(2)), str(day(0)), 7)


def test_the_compared_xlsx_writers_write_the_same_cells(duckdb_engine, duckdb_settings,
                                                        load_rows, tmp_path):  # fmt: skip
    load(duckdb_engine, load_rows)
    duckdb_engine.dispose()
    store = duckdb_settings.duckdb_path
    sheets = {}
    for writer in ("openpyxl", "xlsxwriter", "ours"):
        out = tmp_path / f"{writer}.xlsx"
        assert bench.child_writer(store, writer, 5, out)["rows"] == 5
        book = openpyxl.load_workbook(out)
        sheets[writer] = [list(row) for row in book["Datos"].iter_rows(values_only=True)]
    # e3's correlation id starts with a carriage return, which each writer stores its own way:
    # openpyxl as a bare CR (read back as a line feed), xlsxwriter as the _x000D_ escape
    # (openpyxl does not decode it), ours as a character reference (read back exactly).
    e3 = [row[0] for row in sheets["ours"]].index("e3")
    assert [sheets[w][e3][17] for w in ("openpyxl", "xlsxwriter", "ours")] == [
        "\n=1",
        "_x000D_=1",
        "\r=1",
    ]
    for rows in sheets.values():
        rows[e3][17] = None
    assert sheets["openpyxl"] == sheets["xlsxwriter"] == sheets["ours"]
    assert [row[0] for row in sheets["ours"][1:]] == NEWEST_FIRST[:5]


def test_a_memory_limit_below_the_minimum_is_refused(capsys):
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--memory-limit", "100MB"])
    assert stopped.value.code == 2
    assert "--memory-limit must be at least 256MB (exports need that much), got '100MB'" in (
        capsys.readouterr().err
    )
