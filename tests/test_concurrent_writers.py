"""File loads, API posts and signed webhooks against one serving app at once.

For WRITERS_SECONDS (12 by default) three writers share the served embedded store: file loads
handed to the server by `python app.py load`, send records posted with an API key, and signed
WhatsApp statuses. None may fail, and the store they leave must equal the same inputs applied
one at a time to a fresh store: the merge rules make the order irrelevant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import func, select

from app import create_app
from config import PROJECT_DIR, load_settings
from data_access.loader import load_files
from data_access.store import create_schema, make_engine
from data_access.tables import inbox, messages, pending_statuses
from data_access.writes import write
from ingest.channels import assign
from ingest.inbox import drain
from ingest.keys import create_key
from ingest.merge import apply_pending
from ingest.whatsapp import sign
from servertools.served import ServedApp
from tests.conftest import write_csv
from tests.test_rollup import assert_rollup_matches

SECONDS = float(os.environ.get("WRITERS_SECONDS", "12"))
TZ = "America/Sao_Paulo"
SECRET = "whatsapp-app-secret-for-concurrency"
NUMBER = "104857600055555"
START = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
FILES, FILE_ROWS = 6, 400
API_POSTS, API_ROWS = 40, 25
WEBHOOK_POSTS, WEBHOOK_STATUSES = 60, 20


def at(seconds: int) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def send(message_id: str, n: int, **extra) -> dict:
    return {
        "message_id": message_id,
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": "Brand A",
        "content_type": "template",
        "phone": f"+55119{n % 100_000:08d}",
        "status": "sent",
        "created_at": at(n),
        "sent_at": at(n + 1),
        **extra,
    }


def inputs():
    """The three writers' inputs: file rows, API posts, webhook bodies (all deterministic)."""
    files = []
    for f in range(FILES):
        rows = [send(f"file-{f}-{i}", f * FILE_ROWS + i) for i in range(FILE_ROWS)]
        # Each file also reports deliveries of the previous file's messages.
        if f:
            rows += [
                send(f"file-{f - 1}-{i}", (f - 1) * FILE_ROWS + i, status="delivered",
                     delivered_at=at((f - 1) * FILE_ROWS + i + 30))
                for i in range(0, FILE_ROWS, 4)
            ]  # fmt: skip
        files.append(rows)
    posts = []
    for p in range(API_POSTS):
        records = [
            {k: v for k, v in send(f"api-{p}-{i}", 50_000 + p * API_ROWS + i).items()
             if k != "subaccount"}
            for i in range(API_ROWS)
        ]  # fmt: skip
        # and reads of file messages, by the sending code
        records += [
            {"message_id": f"file-{p % FILES}-{i}", "channel": "whatsapp", "direction": "MT",
             "content_type": "template", "phone": f"+55119{((p % FILES) * FILE_ROWS + i):08d}",
             "status": "read", "created_at": at((p % FILES) * FILE_ROWS + i),
             "read_at": at((p % FILES) * FILE_ROWS + i + 90)}
            for i in range(p, FILE_ROWS, 97)
        ]  # fmt: skip
        posts.append(records)
    bodies = []
    for w in range(WEBHOOK_POSTS):
        statuses = []
        for i in range(WEBHOOK_STATUSES):
            n = w * WEBHOOK_STATUSES + i
            if n % 3 == 0:
                message_id, base = f"api-{n % API_POSTS}-{n % API_ROWS}", 50_000
                base += (n % API_POSTS) * API_ROWS + n % API_ROWS
            else:
                message_id, base = f"file-{n % FILES}-{n % FILE_ROWS}", 0
                base += (n % FILES) * FILE_ROWS + n % FILE_ROWS
            status = "delivered" if n % 2 else "read"
            stamp = int((START + timedelta(seconds=base + 20 + n % 50)).timestamp())
            statuses.append(
                {"id": message_id, "status": status, "timestamp": str(stamp), "recipient_id": "1"}
            )
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": NUMBER}}
        value["statuses"] = statuses
        body = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
        bodies.append(json.dumps(body).encode())
    return files, posts, bodies


def signed(body: bytes) -> dict:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, body)}


def outcome(engine) -> list[tuple]:
    """What the merge rules decide, whatever the order: identity, status and first times."""
    m = messages.c
    query = select(
        m.message_id, m.channel, m.direction, m.status, m.sent_at, m.delivered_at, m.read_at
    ).order_by(m.message_id)
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def finish(engine) -> None:
    """Apply what is still waiting: inbox bodies and kept statuses."""
    drain(engine, TZ)
    write(engine, lambda tx: apply_pending(tx, TZ))


def _paced(items, seconds, action, errors, name):
    pause = seconds / max(len(items), 1)
    for item in items:
        started = time.monotonic()
        try:
            action(item)
        except Exception as error:  # collected and asserted on, with the writer's name
            errors.append(f"{name}: {type(error).__name__}: {error}")
        time.sleep(max(0.0, pause - (time.monotonic() - started)))


def test_loads_api_and_webhooks_at_once_equal_one_at_a_time(tmp_path):
    files, posts, bodies = inputs()
    paths = [write_csv(tmp_path / f"batch-{f}.csv", rows) for f, rows in enumerate(files)]
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "WHATSAPP_APP_SECRET": SECRET,
    }
    env.pop("DATABASE_URL", None)

    # The store, its key and its number exist before the server takes it.
    settings_env = {"DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(settings_env)
    engine = make_engine(settings.database_url)
    create_schema(engine, settings.account_timezone)
    with engine.begin() as conn:
        _, key = create_key(conn, "Brand A", "concurrency")
        assign(conn, "whatsapp", NUMBER, "Brand A")
    engine.dispose()

    server = ServedApp(env)
    base = server.url
    errors: list[str] = []
    try:
        server.wait_ready(60)
        session = requests.Session()

        def load(path: Path) -> None:
            result = subprocess.run(
                [sys.executable, "app.py", "load", str(path)],
                cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            if result.returncode != 0 or "Traceback" in result.stderr:
                raise AssertionError(result.stderr)

        def post(records: list) -> None:
            response = session.post(
                f"{base}/api/v1/messages", json=records,
                headers={"Authorization": f"Bearer {key}"}, timeout=30,
            )  # fmt: skip
            if response.status_code != 200:
                raise AssertionError(f"{response.status_code} {response.text}")

        def hook(body: bytes) -> None:
            response = session.post(
                f"{base}/webhooks/whatsapp", data=body, headers=signed(body), timeout=30
            )
            if response.status_code != 200:
                raise AssertionError(f"{response.status_code} {response.text}")

        writers = [
            threading.Thread(target=_paced, args=(paths, SECONDS, load, errors, "load")),
            threading.Thread(target=_paced, args=(posts, SECONDS, post, errors, "api")),
            threading.Thread(target=_paced, args=(bodies, SECONDS, hook, errors, "webhook")),
        ]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=SECONDS + 300)
    finally:
        log = server.stop()
    assert errors == []
    assert "Traceback" not in log, log

    served = make_engine(settings.database_url)
    finish(served)
    with served.connect() as conn:
        failed = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.state != "done")
        ).scalar_one()
        waiting = conn.execute(select(func.count()).select_from(pending_statuses)).scalar_one()
    assert (failed, waiting) == (0, 0)
    assert_rollup_matches(served)

    # The same inputs, one at a time, in a fresh store.
    one_settings = load_settings({"DATA_DIR": str(tmp_path / "one")})
    one = make_engine(one_settings.database_url)
    create_schema(one, one_settings.account_timezone)
    with one.begin() as conn:
        _, one_key = create_key(conn, "Brand A", "one at a time")
        assign(conn, "whatsapp", NUMBER, "Brand A")
    client = create_app(
        load_settings({"DATA_DIR": str(tmp_path / "one"), "WHATSAPP_APP_SECRET": SECRET}), one
    ).server.test_client()
    for path in paths:
        load_files(one, [path], TZ)
    for records in posts:
        response = client.post(
            "/api/v1/messages", json=records, headers={"Authorization": f"Bearer {one_key}"}
        )
        assert response.status_code == 200
    for body in bodies:
        response = client.post("/webhooks/whatsapp", data=body, headers=signed(body))
        assert response.status_code == 200
    finish(one)

    expected = outcome(one)
    assert len(expected) == FILES * FILE_ROWS + API_POSTS * API_ROWS
    assert outcome(served) == expected
    served.dispose()
    one.dispose()
