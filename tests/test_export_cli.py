"""`python app.py export` and `python app.py export-worker`: files, errors, the running server."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

import app
from commands import export, export_worker
from commands.console import Console, StreamConsole
from commands.control import ControlServer, delegate, socket_path
from config import PROJECT_DIR, load_settings
from data_access.store import create_schema, make_engine
from exports import jobs
from exports.request import ExportRequest
from tests.conftest import TIMEZONE
from tests.exports_data import day, load, scope_of


class Recorder(Console):
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def out(self, text: str) -> None:
        self.lines.append(("out", text))

    def err(self, text: str) -> None:
        self.lines.append(("err", text))


@pytest.fixture
def store(engine, load_rows, store_settings, monkeypatch):
    load(engine, load_rows)
    monkeypatch.setenv("DATABASE_URL", store_settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(store_settings.data_dir))
    monkeypatch.setenv("ACCOUNT_TIMEZONE", TIMEZONE)
    return engine


def args(out: Path, *extra: str) -> list[str]:
    return ["export", "--view", "detailed", "--format", "csv", "--channel", "whatsapp",
            "--start", str(day(2)), "--end", str(day(1)), "--out", str(out), *extra]  # fmt: skip


def test_export_writes_the_file_synchronously(store, tmp_path, capsys):
    out = tmp_path / "brand-a.csv"
    code = app.main(args(out, "--subaccount", "Brand A", "--status", "error", "--lang", "pt"))
    assert code == 0
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))  # a Brazilian file
    assert rows[0][:3] == ["ID da mensagem", "Data e hora (America/Sao_Paulo)", "Canal"]
    assert [row[0] for row in rows[1:]] == ["e6"]
    assert f"Wrote 1 rows to {out}" in capsys.readouterr().out


def test_export_writes_consolidated_xlsx_in_another_zone(store, tmp_path):
    out = tmp_path / "c.xlsx"
    code = app.main(
        ["export", "--view", "consolidated", "--format", "xlsx", "--channel", "whatsapp",
         "--start", str(day(2)), "--end", str(day(1)), "--tz", "UTC", "--lang", "en",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    book = openpyxl.load_workbook(out)
    assert [row[1] for row in book["Data"].iter_rows(values_only=True)] == ["Total sent", 3, 3, 6]
    info = {row[0]: row[1] for row in book["Info"].iter_rows(values_only=True)}
    assert info["Time zone of times"] == "UTC"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--subaccount", "Nobody"], "Unknown subaccount(s): 'Nobody'"),
        (["--tz", "Mars/Olympus"], "'Mars/Olympus' is not an IANA time zone"),
        (["--phone", "12"], "A phone number has 6 to 15 digits"),
        (["--status", "read", "--channel", "sms"], "Unknown status 'read'"),
    ],
)
def test_export_refuses_bad_arguments_with_a_clear_message(store, tmp_path, capsys, extra,
                                                           message):  # fmt: skip
    code = app.main(args(tmp_path / "x.csv", *extra))
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_export_refuses_an_old_or_reversed_range_and_a_missing_folder(store, tmp_path, capsys):
    # argparse keeps the last of a repeated option: these replace --start / --end.
    assert app.main(args(tmp_path / "x.csv", "--start", "2000-01-01")) == 2
    assert "Reports reach back at most 90 days" in capsys.readouterr().err
    assert app.main(args(tmp_path / "x.csv", "--start", str(day(1)), "--end", str(day(2)))) == 2
    assert "The end date is before the start date." in capsys.readouterr().err
    assert app.main(args(tmp_path / "missing" / "x.csv")) == 2
    assert f"The folder {tmp_path / 'missing'} does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bad",
    [["--format", "pdf"], ["--view", "weekly"], ["--start", "2026-13-01"], ["--lang", "fr"]],
)
def test_export_argument_errors_exit_with_status_2(store, tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as stopped:
        app.main(args(tmp_path / "x.csv") + bad)
    assert stopped.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_export_runs_inside_the_server_that_holds_the_store(duckdb_engine, duckdb_settings,
                                                            load_rows, tmp_path):  # fmt: skip
    load(duckdb_engine, load_rows)
    runners = {
        name: (lambda a, c, m=module: m.run(a, c, duckdb_engine, duckdb_settings))
        for name, module in app.STORE_COMMANDS.items()
    }
    server = ControlServer(socket_path(duckdb_settings.duckdb_path), runners)
    server.start()
    try:
        out = tmp_path / "via-server.csv"
        console = Recorder()
        parsed = app.build_parser().parse_args(args(out))
        assert delegate(socket_path(duckdb_settings.duckdb_path), parsed, console) == 0
        worker = app.build_parser().parse_args(["export-worker", "--once"])
        assert delegate(socket_path(duckdb_settings.duckdb_path), worker, console) == 2
    finally:
        server.stop()
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) > 7
    assert ("err", "The running server already runs exports for this store; nothing to do.") in (
        console.lines
    )


def test_a_worker_refuses_to_run_inside_a_server_it_was_handed_to(duckdb_engine, duckdb_settings):
    console = StreamConsole(lambda _data: None)
    parsed = app.build_parser().parse_args(["export-worker", "--once"])
    assert export_worker.run(parsed, console, duckdb_engine, duckdb_settings) == 2
    assert export.add_parser is not None


@pytest.mark.postgres
def test_a_separate_worker_process_runs_jobs_of_a_postgresql_store(postgres_server, load_rows,
                                                                   tmp_path):  # fmt: skip
    url = postgres_server.create_database("exports_worker")
    engine = make_engine(url)
    try:
        create_schema(engine, TIMEZONE)
        load(engine, load_rows)
        root = jobs.Requester(1, "root", True, scope_of(engine))
        request = ExportRequest.build(
            {"channel": "whatsapp", "view": "detailed", "start": str(day(2)), "end": str(day(1))},
            "xlsx", "en", TIMEZONE,
        )  # fmt: skip
        job, _ = jobs.create_job(engine, root, request)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DATA_DIR": str(tmp_path / "data"),
            "EXPORT_DIR": str(tmp_path / "files"),
            "ACCOUNT_TIMEZONE": TIMEZONE,
        }
        done = subprocess.run(
            [sys.executable, "app.py", "export-worker", "--once"],
            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Ran 1 export(s)" in done.stdout
        finished = jobs.get_job(engine, job.id)
        assert (finished.status, finished.rows_written) == ("ready", 7)
        settings = load_settings(env)
        book = openpyxl.load_workbook(finished.path(settings.exports_path))
        assert book.sheetnames == ["Data", "Info"]
        assert book["Data"].max_row == 8
    finally:
        engine.dispose()
