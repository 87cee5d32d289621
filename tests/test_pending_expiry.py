"""Statuses waiting for a send record that never comes expire visibly; nothing is dropped."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select

from app import build_parser, create_app
from commands import inbox as inbox_command
from data_access.loader import load_files
from data_access.tables import messages, pending_statuses
from data_access.writes import write
from ingest.channels import assign
from ingest.inbox import drain, expire_pending, state_counts, utcnow
from ingest.merge import apply_pending
from tests.conftest import write_csv
from tests.test_ingest_api import Capture
from tests.test_message_events import NUMBER, SECRET, T_DELIVERED, body, post, send

TZ = "America/Sao_Paulo"


def counts(engine):
    with engine.connect() as conn:
        found = state_counts(conn)
    return found["pending_statuses"], found["expired_statuses"]


def test_a_status_whose_send_record_never_comes_expires_and_stays(store_settings, engine, tmp_path):
    with engine.begin() as conn:
        assign(conn, "whatsapp", NUMBER, "Brand A")
    settings = dataclasses.replace(store_settings, whatsapp_app_secret=SECRET)
    client = create_app(settings, engine).server.test_client()
    post(client, body(("late-1", "delivered", T_DELIVERED), ("late-2", "delivered", T_DELIVERED)))
    assert drain(engine, TZ).pending == 2
    assert counts(engine) == (2, 0)

    # Within the keep days nothing changes; past them both are marked, not deleted.
    assert expire_pending(engine, 7, now=utcnow() + timedelta(days=6)) == 0
    assert expire_pending(engine, 7, now=utcnow() + timedelta(days=8)) == 2
    assert expire_pending(engine, 7, now=utcnow() + timedelta(days=9)) == 0
    assert counts(engine) == (0, 2)

    console = Capture()
    inbox_command.run(build_parser().parse_args(["inbox", "list"]), console, engine, settings)
    assert console.lines[0] == (
        "Inbox: 0 new, 1 done, 0 failed. Statuses waiting for their send record: 0; "
        "2 expired, their send record never came (`inbox list --state expired`)."
    )
    listing = Capture()
    args = build_parser().parse_args(["inbox", "list", "--state", "expired"])
    assert inbox_command.run(args, listing, engine, settings) == 0
    assert [line.split()[0] for line in listing.lines[2:]] == ["late-1", "late-2"]

    # A send record that comes after all still gets its status.
    load_files(engine, [write_csv(tmp_path / "late.csv", [send("late-1")])], TZ)
    assert write(engine, lambda tx: apply_pending(tx, TZ)) == 1
    with engine.connect() as conn:
        status = conn.execute(
            select(messages.c.status).where(messages.c.message_id == "late-1")
        ).scalar_one()
        left = conn.execute(select(pending_statuses.c.message_id)).scalars().all()
    assert (status, left) == ("delivered", ["late-2"])
    assert counts(engine) == (0, 1)
