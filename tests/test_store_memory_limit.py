"""The DUCKDB_MEMORY_LIMIT setting: how it is read, and that every engine of the app applies it."""

from __future__ import annotations

import logging

import duckdb
import pytest
from sqlalchemy import text

import app
from commands import export as export_command
from commands import load as load_command
from config import DUCKDB_MEMORY_LIMIT_DEFAULT, SettingsError, load_settings
from data_access import loader
from data_access.store import make_engine, set_memory_limit
from exports import standalone
from tests.conftest import TIMEZONE
from tests.exports_data import day, load


def _env(tmp_path, **extra: str) -> dict:
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"duckdb:///{tmp_path / 'data' / 'reports.duckdb'}",
        "ACCOUNT_TIMEZONE": TIMEZONE,
        **extra,
    }


def _limit(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT current_setting('memory_limit')")).scalar_one()


def test_the_default_is_one_gigabyte(tmp_path):
    assert load_settings(_env(tmp_path)).duckdb_memory_limit == "1GB"
    assert load_settings(_env(tmp_path, DUCKDB_MEMORY_LIMIT="  ")).duckdb_memory_limit == "1GB"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("512MB", "512MB"), (" 2 gb ", "2GB"), ("768mib", "768MiB"), ("256MB", "256MB"),
     ("1TiB", "1TiB"), ("256000kb", "256000KB"), ("245MiB", "245MiB")],
)  # fmt: skip
def test_sizes_are_read_in_duckdb_units(tmp_path, raw, expected):
    assert load_settings(_env(tmp_path, DUCKDB_MEMORY_LIMIT=raw)).duckdb_memory_limit == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("lots", "DUCKDB_MEMORY_LIMIT must be a size such as 1GB or 512MB, got 'lots'"),
        ("1.5GB", "DUCKDB_MEMORY_LIMIT must be a size such as 1GB or 512MB, got '1.5GB'"),
        ("80%", "DUCKDB_MEMORY_LIMIT must be a size such as 1GB or 512MB, got '80%'"),
        ("1024", "DUCKDB_MEMORY_LIMIT must be a size such as 1GB or 512MB, got '1024'"),
        ("255MB", "DUCKDB_MEMORY_LIMIT must be at least 256MB (exports need that much), "
                  "got '255MB'"),
        ("244MiB", "DUCKDB_MEMORY_LIMIT must be at least 256MB (exports need that much), "
                   "got '244MiB'"),
    ],
)  # fmt: skip
def test_a_bad_size_is_refused_with_what_to_write(tmp_path, raw, message):
    with pytest.raises(SettingsError) as caught:
        load_settings(_env(tmp_path, DUCKDB_MEMORY_LIMIT=raw))
    assert str(caught.value) == message


def test_make_engine_sets_the_limit_on_the_embedded_store(tmp_path):
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    engine = make_engine(url)
    try:
        # DuckDB reads MB as 10**6 bytes and shows MiB: 10**9 bytes is 953.6 MiB.
        assert _limit(engine) == "953.6 MiB"
    finally:
        engine.dispose()
    engine = make_engine(url, "256MiB")
    try:
        # Every pooled connection, not only the first, runs under it.
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                setting = text("SELECT current_setting('memory_limit')")
                assert conn.execute(setting).scalar_one() == "256.0 MiB"
    finally:
        engine.dispose()


def test_a_limit_set_while_serving_holds_on_the_connections_the_pool_opens_later(tmp_path):
    # A load lowers the store's limit to share it with its scratch store. The pool opens
    # connections whenever the server's threads need more: one that applied the setting again
    # would undo the share (the server then held 1.6 GB under a 1GB limit).
    engine = make_engine(f"duckdb:///{tmp_path / 'store.duckdb'}", "1GB")
    setting = text("SELECT current_setting('memory_limit')")
    try:
        set_memory_limit(engine, "300MiB")
        held = [engine.connect() for _ in range(12)]  # past the pool's 8: new connections
        try:
            assert [c.execute(setting).scalar_one() for c in held] == ["300.0 MiB"] * 12
        finally:
            for conn in held:
                conn.close()
        set_memory_limit(engine, "1GB")
        with engine.connect() as conn:
            assert conn.execute(setting).scalar_one() == "953.6 MiB"
    finally:
        engine.dispose()


def test_make_engine_refuses_a_bad_limit_and_takes_a_small_one_as_given(tmp_path):
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    with pytest.raises(SettingsError, match="must be a size such as 1GB"):
        make_engine(url, "lots")
    # The 256MB minimum is the setting's; a process that only exports asks for less.
    engine = make_engine(url, "64MB", duckdb_threads=1)
    try:
        with engine.connect() as conn:
            assert _limit(engine) == "61.0 MiB"
            threads = conn.execute(text("SELECT current_setting('threads')")).scalar_one()
            assert threads == 1
    finally:
        engine.dispose()


def _recording_make_engine(monkeypatch, *modules) -> list:
    """Record (memory limit, threads) of every engine app.py and the given modules make."""
    made = []

    def recording(url, limit=DUCKDB_MEMORY_LIMIT_DEFAULT, duckdb_threads=None):
        engine = make_engine(url, limit, duckdb_threads=duckdb_threads)
        made.append(engine)
        return engine

    for module in (app, *modules):
        monkeypatch.setattr(module, "make_engine", recording)
    return made


def test_the_dashboard_engine_runs_under_the_setting(tmp_path, monkeypatch):
    made = _recording_make_engine(monkeypatch)
    app.create_app(load_settings(_env(tmp_path, DUCKDB_MEMORY_LIMIT="300MB")))
    try:
        assert _limit(made[0]) == "286.1 MiB"
    finally:
        made[0].dispose()


def _settings_seen_by(monkeypatch, command: str) -> list[tuple[str, int]]:
    """Run `command`'s run() through a wrapper that notes the limit and threads it runs under."""
    seen = []
    real_run = app.STORE_COMMANDS[command].run

    def run(args, console, engine, settings):
        with engine.connect() as conn:
            threads = conn.execute(text("SELECT current_setting('threads')")).scalar_one()
        seen.append((_limit(engine), threads))
        return real_run(args, console, engine, settings)

    monkeypatch.setattr(app.STORE_COMMANDS[command], "run", run)
    return seen


@pytest.fixture
def command_env(duckdb_engine, load_rows, tmp_path, monkeypatch):
    load(duckdb_engine, load_rows)
    duckdb_engine.dispose()
    for name, value in _env(tmp_path, DUCKDB_MEMORY_LIMIT="400MiB").items():
        monkeypatch.setenv(name, value)


def test_a_command_runs_under_the_setting(command_env, monkeypatch, capsys):
    made = _recording_make_engine(monkeypatch)
    seen = _settings_seen_by(monkeypatch, "users")
    assert app.main(["users", "list"]) == 0
    assert len(made) == 1
    assert [limit for limit, _threads in seen] == ["400.0 MiB"]


def test_an_export_brings_the_schema_up_under_the_setting_then_runs_alone(
    command_env, tmp_path, monkeypatch
):
    made = _recording_make_engine(monkeypatch, standalone)
    seen = _settings_seen_by(monkeypatch, "export")
    schema_limits = []
    real_create_schema = app.create_schema

    def create_schema(engine, timezone):
        schema_limits.append(_limit(engine))
        real_create_schema(engine, timezone)

    monkeypatch.setattr(app, "create_schema", create_schema)
    out = tmp_path / "out.csv"
    code = app.main(["export", "--view", "detailed", "--format", "csv", "--channel", "whatsapp",
                     "--start", str(day(2)), "--end", str(day(1)), "--out", str(out)])  # fmt: skip
    assert code == 0
    assert len(made) == 2
    assert schema_limits == ["400.0 MiB"]
    # 24MB is 22.8 MiB: DuckDB reads MB as 10**6 bytes.
    assert seen == [("22.8 MiB", 1)]
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")


def _export_args(out) -> list[str]:
    return ["export", "--view", "detailed", "--format", "csv", "--channel", "whatsapp",
            "--start", str(day(2)), "--end", str(day(1)), "--out", str(out)]  # fmt: skip


def test_an_export_that_runs_out_of_its_memory_is_written_again_under_the_setting(
    command_env, tmp_path, monkeypatch, capsys
):
    limits = []
    real_write_export = export_command.write_export

    def write_export(engine, *args, **kwargs):
        limits.append(_limit(engine))
        if len(limits) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return real_write_export(engine, *args, **kwargs)

    monkeypatch.setattr(export_command, "write_export", write_export)
    out = tmp_path / "out.csv"
    assert app.main(_export_args(out)) == 0
    assert limits == ["22.8 MiB", "400.0 MiB"]
    printed = capsys.readouterr()
    assert (
        "The export needed more memory than a lone export is given (24MB); writing it again "
        "under DUCKDB_MEMORY_LIMIT (400MiB)." in printed.err
    )
    assert "Wrote 7 rows" in printed.out
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")


def test_a_failing_export_says_why_in_one_line_and_exits_1(
    command_env, tmp_path, monkeypatch, capsys
):
    def write_export(*args, **kwargs):
        raise RuntimeError("the disk controller said no\nTraceback-like detail")

    monkeypatch.setattr(export_command, "write_export", write_export)
    assert app.main(_export_args(tmp_path / "out.csv")) == 1
    err = capsys.readouterr().err
    assert "The export failed: the disk controller said no" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


def test_a_load_that_runs_out_of_memory_says_what_to_change_and_logs_the_engine_words(
    command_env, tmp_path, monkeypatch, capsys, caplog
):
    def merge_checked(*args, **kwargs):
        raise duckdb.OutOfMemoryException(
            "Out of Memory Error: failed to allocate data of size 16.0 MiB (953.6 MiB/953.6 MiB "
            "used)\nPossible solutions: ..."
        )

    monkeypatch.setattr(load_command, "merge_checked", merge_checked)
    path = tmp_path / "some.csv"
    path.write_text("message_id\n")
    with caplog.at_level(logging.WARNING, logger="commands.load"):
        assert app.main(["load", str(path)]) == 1
    err = capsys.readouterr().err
    assert "The store ran out of memory (DUCKDB_MEMORY_LIMIT=400MiB) during the load" in err
    assert "Raise DUCKDB_MEMORY_LIMIT and load the same files again" in err
    assert "Traceback" not in err
    assert [r.getMessage() for r in caplog.records] == [
        "a load ran out of memory: Out of Memory Error: failed to allocate data of size 16.0 MiB "
        "(953.6 MiB/953.6 MiB used) Possible solutions: ..."
    ]


def _shares(engine, reader) -> tuple[str, str, str]:
    """A new load's scratch store limit while it reads, and the store's while the load reads
    and while it merges a part of 100,000 rows."""
    memory = loader._Memory(engine)
    scratch = memory.reader_config()
    memory.reading()
    reading = _limit(engine)
    memory.merging(reader, 100_000)
    return scratch, reading, _limit(engine)


def test_a_load_shares_the_limit_but_leaves_the_store_what_it_cannot_evict(tmp_path, monkeypatch):
    engine = make_engine(f"duckdb:///{tmp_path / 'store.duckdb'}", "1GB")
    reader = duckdb.connect()
    try:
        # Nothing held: the scratch store reads with half of 953.6 MiB, and merges with an eighth
        # while the store gives up a part's frames (100,000 rows of 2,500 bytes: 238.4 MiB).
        assert _shares(engine, reader) == ("476MiB", "476.0 MiB", "595.0 MiB")
        loader._Memory(engine).restore()
        assert _limit(engine) == "953.0 MiB"

        # A recent index and other users' work of 500 MiB: the store keeps it and a quarter of
        # its limit more (238.4 MiB); the scratch store what is left, but never less than it
        # needs to read a file.
        monkeypatch.setattr(loader._Memory, "_unevictable", lambda self: 500 * 2**20)
        assert _shares(engine, reader) == ("215MiB", "738.0 MiB", "738.0 MiB")
        # (A load that starts while another holds the store at 738 MiB shares the setting.)
        monkeypatch.setattr(loader._Memory, "_unevictable", lambda self: 600 * 2**20)
        assert _shares(engine, reader) == ("192MiB", "838.0 MiB", "838.0 MiB")
    finally:
        reader.close()
        engine.dispose()


def test_what_the_store_cannot_evict_counts_its_indexes(tmp_path):
    engine = make_engine(f"duckdb:///{tmp_path / 'store.duckdb'}", "1GB")
    try:
        memory = loader._Memory(engine)
        before = memory._unevictable()
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE keyed AS SELECT hash(i) AS k FROM range(1000000) t(i)"))
            conn.execute(text("CREATE INDEX keyed_k ON keyed (k)"))
        # An index of 1M 64-bit keys: about 38 bytes a key in DuckDB's ART.
        assert memory._unevictable() - before > 25 * 2**20
    finally:
        engine.dispose()
