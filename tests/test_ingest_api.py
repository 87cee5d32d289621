"""POST /api/v1/messages and its keys, on both stores."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from app import build_parser, create_app
from commands import apikeys as apikeys_command
from commands import channels as channels_command
from data_access.tables import api_keys, contacts, messages, subaccounts
from ingest import api
from ingest.keys import create_key, hash_key


@pytest.fixture
def client(store_settings, engine):
    return create_app(store_settings, engine).server.test_client()


@pytest.fixture
def key(engine):
    with engine.begin() as conn:
        _, plain = create_key(conn, "Brand A", "checkout service")
    return plain


def post(client, key, records, **kwargs):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if "data" in kwargs:
        return client.post("/api/v1/messages", headers=headers, **kwargs)
    return client.post("/api/v1/messages", headers=headers, json=records)


def record(message_id: str, **extra) -> dict:
    return {
        "message_id": message_id,
        "channel": "whatsapp",
        "direction": "MT",
        "content_type": "template",
        "phone": "+55 11 98765-4321",
        "status": "queued",
        "created_at": "2026-11-20T11:00:00-03:00",
        **extra,
    }


def count_messages(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(messages)).scalar_one()


class Capture:
    def __init__(self):
        self.lines: list[str] = []

    def out(self, text: str) -> None:
        self.lines.append(text)

    err = out


def test_records_are_stored_under_the_keys_subaccount(client, engine, key):
    response = post(
        client,
        key,
        [
            record("m-1", user="ana", campaign="Black Friday", correlation_id="order-77"),
            record("m-2", channel="sms", content_type="text", content="Your code is 4411"),
            record("m-3", direction="MO", status="received", content="hi", error_code=None),
        ],
    )
    assert response.status_code == 200
    assert response.json == {"accepted": 3, "created": 3, "updated": 0, "statuses_applied": 0}
    m = messages.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.message_id, m.channel, m.direction, subaccounts.c.name, contacts.c.phone)
            .join(subaccounts, subaccounts.c.id == m.subaccount_id)
            .join(contacts, contacts.c.id == m.contact_id)
            .order_by(m.message_id)
        ).all()
        created = conn.execute(select(m.created_at).where(m.message_id == "m-1")).scalar_one()
    assert [tuple(r) for r in rows] == [
        ("m-1", "whatsapp", "MT", "Brand A", "5511987654321"),
        ("m-2", "sms", "MT", "Brand A", "5511987654321"),
        ("m-3", "whatsapp", "MO", "Brand A", "5511987654321"),
    ]
    assert created == datetime(2026, 11, 20, 14, 0)


def test_resending_updates_by_the_merge_rules(client, engine, key):
    post(client, key, [record("m-1")])
    response = post(
        client,
        key,
        [
            record("m-1", status="sent", sent_at="2026-11-20T11:00:04-03:00"),
            record("m-2"),
        ],
    )
    assert response.json == {"accepted": 2, "created": 1, "updated": 1, "statuses_applied": 0}
    # A late "queued" never moves a sent message back.
    post(client, key, [record("m-1")])
    with engine.connect() as conn:
        status, sent_at = conn.execute(
            select(messages.c.status, messages.c.sent_at).where(messages.c.message_id == "m-1")
        ).one()
    assert (status, sent_at) == ("sent", datetime(2026, 11, 20, 14, 0, 4))


def test_any_invalid_record_stores_nothing_and_lists_every_problem(client, engine, key):
    response = post(
        client,
        key,
        [
            record("ok-1"),
            record("bad-1", channel="telegram", created_at="2026-11-20 11:00"),
            "not an object",
            record("bad-3", colour="red", subaccount="Brand B", phone={"n": 1}),
            record("bad-4", channel="sms", content_type="text", status="read"),
        ],
    )
    assert response.status_code == 422
    assert response.json == {
        "error": "7 problem(s) in the records; nothing was stored.",
        "problems": [
            {"index": 1, "field": "channel", "reason": "'telegram' is not one of whatsapp, sms"},
            {
                "index": 1,
                "field": "created_at",
                "reason": "'2026-11-20 11:00' needs a UTC offset or Z "
                "(ISO 8601, e.g. 2026-11-20T14:03:00-03:00)",
            },
            {"index": 2, "field": "-", "reason": "must be a JSON object"},
            {"index": 3, "field": "colour", "reason": "is not a message field"},
            {"index": 3, "field": "phone", "reason": "must be a string, number or null"},
            {
                "index": 3,
                "field": "subaccount",
                "reason": "this API key records for subaccount 'Brand A' only",
            },
            {"index": 4, "field": "status", "reason": "'read': SMS has no read receipts"},
        ],
    }
    assert count_messages(engine) == 0


def test_missing_wrong_or_revoked_key_is_401(client, engine, key, store_settings):
    assert post(client, None, [record("m-1")]).status_code == 401
    assert post(client, "drk_not-a-real-key", [record("m-1")]).status_code == 401
    response = client.post(
        "/api/v1/messages", json=[record("m-1")], headers={"Authorization": f"Basic {key}"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    console = Capture()
    args = build_parser().parse_args(["apikeys", "revoke", "1"])
    assert apikeys_command.run(args, console, engine, store_settings) == 0
    assert console.lines == ["API key 1 (" + key[:10] + "…) of 'Brand A' is revoked."]
    assert post(client, key, [record("m-1")]).status_code == 401
    assert count_messages(engine) == 0


def test_bodies_over_the_limits_are_413(client, engine, key, monkeypatch):
    huge = b"[" + b" " * api.MAX_BODY_BYTES + b"]"
    response = post(client, key, None, data=huge, content_type="application/json")
    assert response.status_code == 413
    assert response.json == {
        "error": "The request body is larger than 5 MiB; send at most 10,000 records per request."
    }
    monkeypatch.setattr(api, "MAX_RECORDS", 2)
    response = post(client, key, [record("a"), record("b"), record("c")])
    assert response.status_code == 413
    assert response.json == {"error": "At most 2 records per request; got 3."}
    assert count_messages(engine) == 0


def test_a_store_out_of_memory_answers_503_in_a_sentence_and_stores_nothing(
    client, engine, key, monkeypatch
):
    real = api.merge_records

    def merge_then_run_out(tx, staged, *args, **kwargs):
        real(tx, staged, *args, **kwargs)  # written in the transaction, then the engine refuses
        raise MemoryError("Out of Memory Error: could not allocate block of size 256.0 KiB")

    monkeypatch.setattr(api, "merge_records", merge_then_run_out)
    response = post(client, key, [record("m-1"), record("m-2")])
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json == {
        "error": "The store ran out of memory for this batch; nothing was stored. Send fewer "
        "records at once, or ask the operator to raise DUCKDB_MEMORY_LIMIT."
    }
    assert count_messages(engine) == 0


def test_malformed_bodies_are_400(client, key):
    response = post(client, key, None, data=b"[{", content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"].startswith("The body is not valid JSON")
    response = post(client, key, {"message_id": "m-1"})
    assert (response.status_code, response.json) == (
        400,
        {"error": "The body must be a JSON array of message records."},
    )


def test_apikeys_commands_show_the_key_once_and_store_its_hash(engine, store_settings):
    console = Capture()
    args = build_parser().parse_args(["apikeys", "add", "--subaccount", "Brand Z"])
    assert apikeys_command.run(args, console, engine, store_settings) == 0
    plain = console.lines[1]
    assert console.lines[0] == "API key 1 for subaccount 'Brand Z':"
    assert plain.startswith("drk_") and len(plain) == 4 + 43
    with engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.key_hash, api_keys.c.prefix)).one()
    assert stored == (hash_key(plain), plain[:10])

    listing = Capture()
    args = build_parser().parse_args(["apikeys", "list", "--subaccount", "Brand Z"])
    apikeys_command.run(args, listing, engine, store_settings)
    assert plain not in "\n".join(listing.lines)
    assert listing.lines[1].split()[:3] == ["1", plain[:10] + "…", "Brand"]

    missing = Capture()
    args = build_parser().parse_args(["apikeys", "revoke", "9"])
    assert apikeys_command.run(args, missing, engine, store_settings) == 2
    assert missing.lines == ["There is no API key with id 9; `apikeys list` shows the ids."]


def test_channels_commands(engine, store_settings):
    console = Capture()
    parse = build_parser().parse_args
    args = parse(
        [
            "channels",
            "add",
            "--channel",
            "whatsapp",
            "--number-id",
            "1048576",
            "--subaccount",
            "Brand W",
        ]
    )
    assert channels_command.run(args, console, engine, store_settings) == 0
    assert console.lines == [
        "Subaccount 'Brand W' did not exist; created it.",
        "The whatsapp number 1048576 now belongs to 'Brand W'.",
    ]
    bad = Capture()
    args = parse(
        ["channels", "add", "--channel", "whatsapp", "--number-id", "+55 11", "--subaccount", "W"]
    )
    assert channels_command.run(args, bad, engine, store_settings) == 2
    assert bad.lines == ["'+55 11' is not a WhatsApp phone number id (digits only)"]
    listing = Capture()
    channels_command.run(parse(["channels", "list"]), listing, engine, store_settings)
    assert listing.lines[1].split() == ["whatsapp", "1048576", "Brand", "W"]
    removed = Capture()
    args = parse(["channels", "remove", "--channel", "whatsapp", "--number-id", "1048576"])
    assert channels_command.run(args, removed, engine, store_settings) == 0
    again = Capture()
    assert channels_command.run(args, again, engine, store_settings) == 2
    assert again.lines == ["The whatsapp number 1048576 is not assigned."]


def test_api_json_answers_are_json(client, key):
    response = post(client, key, [])
    assert response.status_code == 200
    assert json.loads(response.data) == {
        "accepted": 0,
        "created": 0,
        "updated": 0,
        "statuses_applied": 0,
    }
