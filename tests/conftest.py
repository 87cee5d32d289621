"""Shared fixtures: settings, a fresh store on DuckDB or PostgreSQL, and a row loader."""

from __future__ import annotations

import csv
import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from config import load_settings
from data_access.loader import LOADER_COLUMNS, load_files
from data_access.store import create_schema, make_engine
from servertools.postgres import PostgresServer

TIMEZONE = "America/Sao_Paulo"
_database_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


def _settings(tmp_path: Path, database_url: str, **extra: str):
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "ACCOUNT_TIMEZONE": TIMEZONE,
        **extra,
    }
    return load_settings(env)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request, tmp_path):
    """Settings of an empty store of each kind (the test runs once per store)."""
    if request.param == "duckdb":
        return _settings(tmp_path, f"duckdb:///{tmp_path / 'data' / 'reports.duckdb'}")
    server = request.getfixturevalue("postgres_server")
    url = server.create_database(f"reports_{next(_database_names)}")
    return _settings(tmp_path, url)


@pytest.fixture
def engine(store_settings):
    """An engine on a fresh, empty store with the schema created."""
    engine = make_engine(store_settings.database_url)
    create_schema(engine, store_settings.account_timezone)
    yield engine
    engine.dispose()


@pytest.fixture
def duckdb_settings(tmp_path):
    return _settings(tmp_path, f"duckdb:///{tmp_path / 'data' / 'reports.duckdb'}")


@pytest.fixture
def duckdb_engine(duckdb_settings):
    engine = make_engine(duckdb_settings.database_url)
    create_schema(engine, duckdb_settings.account_timezone)
    yield engine
    engine.dispose()


# The sign-in code's clock in tests that freeze it (fixture `clock`).
T0 = datetime(2026, 11, 20, 12, 0, 0)


@pytest.fixture
def clock(monkeypatch):
    """The sign-in code's clock, frozen at T0 and moved by hand."""
    from dashboard import auth  # here, so tests that never sign in do not load the dashboard

    class Clock:
        value = T0

        def advance(self, **delta) -> None:
            self.value = self.value + timedelta(**delta)

    frozen = Clock()
    monkeypatch.setattr(auth, "now", lambda: frozen.value)
    return frozen


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write rows (dicts with any of the loader columns) as a loader CSV file."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOADER_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: row.get(name, "") for name in LOADER_COLUMNS})
    return path


@pytest.fixture
def load_rows(tmp_path):
    """load_rows(engine, rows) loads hand-written rows through the real loader."""
    counter = itertools.count(1)

    def load(engine, rows: list[dict]):
        path = write_csv(tmp_path / f"rows-{next(counter)}.csv", rows)
        return load_files(engine, [path], TIMEZONE)

    return load


_exit_status = {"code": 0}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["code"] = int(exitstatus)


def pytest_unconfigure(config):
    # DuckDB's bindings report "leaked instances" at interpreter exit (objects still held
    # by library caches), burying pytest's closing summary. Everything is written by now,
    # so leave without the interpreter's teardown, keeping pytest's exit status.
    import os
    import sys

    if os.environ.get("REPORTS_TEST_FULL_EXIT") != "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status["code"])
