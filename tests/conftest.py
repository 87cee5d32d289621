"""Shared fixtures: settings, a fresh store on DuckDB or PostgreSQL, and a row loader."""

from __future__ import annotations

import csv
import itertools
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import make_url

from config import load_settings
from data_access.accounts import passwords
from data_access.loader import LOADER_COLUMNS, load_files
from data_access.store import create_schema, make_engine
from servertools.postgres import PostgresServer
from tests import loaded_stores

TIMEZONE = "America/Sao_Paulo"
_database_names = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """argon2's cheapest profile for the tests' hashes (a hash takes microseconds, not 64 MiB
    and a quarter of a second); the code under test keeps RFC 9106's profile."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", PasswordHasher.from_parameters(CHEAPEST))
        passwords._unknown_user_hash.cache_clear()
        yield
    passwords._unknown_user_hash.cache_clear()


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


TEMPLATE_DATABASE = "reports_template"


@pytest.fixture(scope="session")
def duckdb_template(tmp_path_factory) -> Path:
    """A DuckDB store with the schema created once per test process, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "reports.duckdb"
    engine = make_engine(f"duckdb:///{path}")
    create_schema(engine, TIMEZONE)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server) -> str:
    """A PostgreSQL database with the schema created once per test process, the template of
    each test's database; returns its name."""
    engine = make_engine(postgres_server.create_database(TEMPLATE_DATABASE))
    create_schema(engine, TIMEZONE)
    # No session may stay on a template while CREATE DATABASE ... TEMPLATE copies it.
    engine.dispose()
    return TEMPLATE_DATABASE


def _schemad_store(request, settings) -> None:
    """Put a copy of the schema'd template where `settings` points (its store is empty)."""
    if settings.is_duckdb:
        template = request.getfixturevalue("duckdb_template")
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, settings.duckdb_path)
        return
    template = request.getfixturevalue("postgres_template")
    server = request.getfixturevalue("postgres_server")
    server.create_database(make_url(settings.database_url).database, template=template)


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
    name = f"reports_{next(_database_names)}"
    url = server.create_database(name)
    # Dropped after the test (its engine is disposed first), so the cluster's files stay few.
    request.addfinalizer(lambda: server.drop_database(name))
    return _settings(tmp_path, url)


@pytest.fixture
def engine(request, store_settings):
    """An engine on a fresh, empty store with the schema created (a copy of the template)."""
    _schemad_store(request, store_settings)
    engine = make_engine(store_settings.database_url)
    loaded_stores.watch(engine)
    yield engine
    loaded_stores.forget(engine)
    engine.dispose()


@pytest.fixture
def duckdb_settings(tmp_path):
    return _settings(tmp_path, f"duckdb:///{tmp_path / 'data' / 'reports.duckdb'}")


@pytest.fixture
def duckdb_engine(request, duckdb_settings):
    _schemad_store(request, duckdb_settings)
    engine = make_engine(duckdb_settings.database_url)
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


@pytest.fixture(scope="session")
def kept_loads(request, tmp_path_factory) -> loaded_stores.LoadedStores:
    def postgres():
        return request.getfixturevalue("postgres_server")

    return loaded_stores.LoadedStores(tmp_path_factory.mktemp("loaded"), postgres)


@pytest.fixture
def load_rows(tmp_path, kept_loads):
    """load_rows(engine, rows) loads hand-written rows through the real loader (into a fresh
    store, a copy of the store the same rows were loaded into before: tests/loaded_stores.py)."""
    counter = itertools.count(1)

    def load(engine, rows: list[dict]):
        path = write_csv(tmp_path / f"rows-{next(counter)}.csv", rows)
        return kept_loads.load(engine, rows, lambda: load_files(engine, [path], TIMEZONE))

    return load


# The longest tests start first, so that the two workers finish together instead of one
# running a 47-second test while the other has nothing left (xdist hands tests out in order).
LONG_FIRST = (
    "test_concurrent_writers.py",
    "test_clickhouse_store.py",
    "test_clickhouse_app.py",
    "browser",
    "test_properties.py",
    "test_store_small_memory.py",
    "test_rollup.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        for position, part in enumerate(LONG_FIRST):
            if part in path:
                return position
        return len(LONG_FIRST)

    items.sort(key=rank)
