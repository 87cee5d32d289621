"""Every status a message receives is kept once, as an event, and the timeline shows them.

The message row's error fields describe its current status: a message that failed and was then
delivered shows no current error anywhere (detailed row, top error reasons), while its failure
stays in its events.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest
from sqlalchemy import func, select

from app import create_app
from dashboard.layouts.detailed import timeline
from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.loader import load_files
from data_access.message_events import events_of
from data_access.tables import message_events, messages, subaccounts
from ingest.channels import assign
from ingest.inbox import drain, replay
from ingest.whatsapp import sign
from tests.conftest import write_csv

TZ = "America/Sao_Paulo"
SECRET = "whatsapp-app-secret-for-events"
NUMBER = "104857600033333"
# 2026-11-20 14:00 UTC and the unix seconds of the statuses after it.
CREATED = "2026-11-20T14:00:00Z"
T_SENT, T_FAILED, T_DELIVERED, T_READ = 1795183210, 1795183260, 1795183300, 1795183400


def send(message_id, **extra):
    return {
        "message_id": message_id,
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": "Brand A",
        "content_type": "template",
        "phone": "+5511987654321",
        "status": "queued",
        "created_at": CREATED,
        **extra,
    }


def body(*statuses):
    items = []
    for message_id, status, stamp in statuses:
        item = {"id": message_id, "status": status, "timestamp": str(stamp), "recipient_id": "1"}
        if status == "failed":
            item["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
        items.append(item)
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": NUMBER}}
    value["statuses"] = items
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


@pytest.fixture
def client(store_settings, engine, tmp_path):
    load_files(engine, [write_csv(tmp_path / "sends.csv", [send("m-1"), send("m-2")])], TZ)
    with engine.begin() as conn:
        assign(conn, "whatsapp", NUMBER, "Brand A")
    settings = dataclasses.replace(store_settings, whatsapp_app_secret=SECRET)
    return create_app(settings, engine).server.test_client()


def post(client, payload: bytes):
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, payload)}
    assert client.post("/webhooks/whatsapp", data=payload, headers=headers).status_code == 200


def scope_of(engine):
    with engine.connect() as conn:
        return AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())


def kept(engine, message_id):
    return events_of(engine, scope_of(engine), message_id, "UTC")


def event_count(engine):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(message_events)).scalar_one()


def test_statuses_arriving_out_of_order_make_a_timeline_in_order(client, engine):
    # Read first, then the failure, then sent and delivered: the timeline is by time.
    post(client, body(("m-1", "read", T_READ)))
    post(client, body(("m-1", "failed", T_FAILED), ("m-1", "sent", T_SENT)))
    post(client, body(("m-1", "delivered", T_DELIVERED)))
    assert drain(engine, TZ).failed == 0
    events = kept(engine, "m-1")
    assert list(zip(events["status"], events["source"], strict=True)) == [
        ("queued", "file"),
        ("sent", "whatsapp"),
        ("error", "whatsapp"),
        ("delivered", "whatsapp"),
        ("read", "whatsapp"),
    ]
    assert [t.strftime("%H:%M:%S") for t in events["event_at"]] == [
        "14:00:00",
        "14:00:10",
        "14:01:00",
        "14:01:40",
        "14:03:20",
    ]
    assert list(events["raw_status"]) == [None, "sent", "failed", "delivered", "read"]
    failure = events.iloc[2]
    assert (failure["error_code"], failure["error_description"]) == (
        "131026",
        "Message undeliverable",
    )


def test_replays_and_reloads_add_no_event(client, engine, tmp_path):
    post(client, body(("m-1", "sent", T_SENT), ("m-1", "delivered", T_DELIVERED)))
    drain(engine, TZ)
    assert event_count(engine) == 4  # two queued (file), sent and delivered
    post(client, body(("m-1", "sent", T_SENT), ("m-1", "delivered", T_DELIVERED)))
    drain(engine, TZ)
    replay(engine, TZ, [1, 2])
    load_files(engine, [write_csv(tmp_path / "again.csv", [send("m-1"), send("m-2")])], TZ)
    assert event_count(engine) == 4
    # The same status with another time is another event.
    post(client, body(("m-1", "delivered", T_READ)))
    drain(engine, TZ)
    assert event_count(engine) == 5


def test_a_message_delivered_after_a_failure_has_no_current_error(client, engine):
    post(client, body(("m-1", "failed", T_FAILED), ("m-2", "failed", T_FAILED)))
    drain(engine, TZ)
    post(client, body(("m-1", "delivered", T_DELIVERED)))
    drain(engine, TZ)
    with engine.connect() as conn:
        rows = conn.execute(
            select(messages.c.message_id, messages.c.status, messages.c.error_code).order_by(
                messages.c.message_id
            )
        ).all()
    assert [tuple(r) for r in rows] == [("m-1", "delivered", None), ("m-2", "error", "131026")]
    flt = ReportFilter.build("whatsapp", date(2026, 11, 20), date(2026, 11, 20), timezone=TZ)
    errors = reports.top_errors(engine, scope_of(engine), flt)
    assert list(zip(errors["error_code"], errors["count"], strict=True)) == [("131026", 1)]
    # The failure stays in m-1's timeline, with its code, between sent and delivered.
    record = {"direction": "MT", "created_at": "2026-11-20T14:00:00+00:00", "status": "delivered"}
    lines = timeline(record, "en", kept(engine, "m-1").to_dict("records"))
    assert lines == [
        ("Created", "11/20/26 14:00:00"),
        ("Pending: Queued", "11/20/26 14:00:00 (file)"),
        ("Error", "11/20/26 14:01:00 131026 · Message undeliverable (WhatsApp)"),
        ("Delivered", "11/20/26 14:01:40 (WhatsApp)"),
    ]


def test_events_are_read_within_the_scope_only(client, engine):
    post(client, body(("m-1", "sent", T_SENT)))
    drain(engine, TZ)
    assert len(kept(engine, "m-1")) == 2
    assert events_of(engine, AccessScope.of([]), "m-1", TZ).empty
    assert events_of(engine, scope_of(engine), "no-such-message", TZ).empty
