"""Commands run while `serve` holds the embedded store are handed to the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commands.control import socket_path
from data_access.store import make_engine
from data_access.tables import messages
from servertools.served import ServedApp
from tests.conftest import write_csv

PROJECT = Path(__file__).resolve().parent.parent

ROWS = [
    {
        "message_id": f"w{i}",
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": "Brand A",
        "content_type": "text",
        "phone": f"+55119876543{i:02d}",
        "status": "sent",
        "created_at": "2026-11-20T10:00:00-03:00",
        "sent_at": "2026-11-20T10:00:01-03:00",
    }
    for i in range(3)
]


@pytest.fixture
def server(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    sock = socket_path(tmp_path / "data" / "reports.duckdb")
    served = ServedApp(env).wait_ready(60, ready=sock.exists)
    yield env, served.port, tmp_path, served
    served.stop()


def _app(env, *args):
    return subprocess.run(
        [sys.executable, "app.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_load_while_serving_goes_through_the_server(server):
    env, _port, tmp_path, _served = server
    good = write_csv(tmp_path / "good.csv", ROWS)
    result = _app(env, "load", str(good))
    assert result.returncode == 0, result.stderr
    assert "Loaded 3 rows from 1 file(s)." in result.stdout

    bad = write_csv(tmp_path / "bad.csv", [{**ROWS[0], "channel": "fax"}])
    result = _app(env, "load", str(bad))
    assert result.returncode == 2
    assert "bad.csv:2: channel: 'fax' is not one of whatsapp, sms" in result.stderr
    assert "nothing was loaded" in result.stderr


def test_a_served_load_is_checked_in_the_command_and_only_merged_by_the_server(server):
    env, _port, tmp_path, served = server
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**env, "TMPDIR": str(scratch)}
    rows = [*ROWS, {**ROWS[0], "message_id": "w9", "channel": "fax"}]
    result = _app(env, "load", "--skip-invalid", str(write_csv(tmp_path / "some.csv", rows)))
    assert result.returncode == 0, result.stderr
    assert "Loaded 3 rows from 1 file(s); rejected 1." in result.stdout
    rejected = (tmp_path / "some.csv.rejected.csv").read_text().splitlines()
    assert len(rejected) == 2 and rejected[1].startswith("5,w9,fax,")
    # The checked parts the command handed over are gone once the server merged them.
    assert list(scratch.iterdir()) == []
    log = served.stop()
    assert "load: part 1 of 1 of some.csv merged" in log
    assert "read and checked" not in log


def test_what_the_server_wrote_is_in_the_store(server):
    env, _port, tmp_path, served = server
    result = _app(env, "load", str(write_csv(tmp_path / "good.csv", ROWS)))
    assert result.returncode == 0, result.stderr
    served.process.terminate()
    served.process.wait(timeout=30)
    assert not socket_path(tmp_path / "data" / "reports.duckdb").exists()
    engine = make_engine(f"duckdb:///{tmp_path / 'data' / 'reports.duckdb'}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 3
    engine.dispose()


def test_a_store_deep_in_folders_gets_its_socket_in_a_private_folder(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "reports.duckdb"
    path = socket_path(deep)
    assert path.parent.name == f"reports-{os.getuid()}" and path.suffix == ".sock"
    assert socket_path(deep) == path  # the server and a command find the same one
    assert socket_path(tmp_path / "reports.duckdb") == tmp_path / "reports.duckdb.sock"
