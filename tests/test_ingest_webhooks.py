"""Webhook bodies replayed through the real endpoints, inbox and merge, on both stores."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app import build_parser, create_app
from commands import inbox as inbox_command
from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.store import create_schema, data_version, make_engine
from data_access.tables import (
    contacts,
    daily_rollup,
    inbox,
    messages,
    pending_statuses,
    sms_batch_reports,
    subaccounts,
)
from data_access.writes import write
from ingest import inbox as inbox_module
from ingest import service as ingest_service
from ingest.channels import assign
from ingest.inbox import drain, replay
from ingest.keys import create_key
from ingest.merge import apply_pending
from ingest.whatsapp import sign

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
SECRET = "whatsapp-app-secret-for-tests"
VERIFY = "verify-me-please"
SINCH_TOKEN = "sinch-token-0123456789abcdefghij"
TZ = "America/Sao_Paulo"

WAMID_A = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEkFBMDFGMEMzQjdFNTY0QzI5AA=="
WAMID_B = "wamid.HBgNNTUxMTk4NzY1MDAwMhUCABEYEkJCMDJGMEMzQjdFNTY0QzI5AA=="
WAMID_C = "wamid.HBgNNTUxMTk4NzY1MDAwMxUCABEYEkNDMDNGMEMzQjdFNTY0QzI5AA=="
WAMID_D = "wamid.HBgNNTUxMTk4NzY1MDAwNBUCABEYEkRETDA0RjBDM0I3RTU2NEMyOQA="
WAMID_E = "wamid.HBgNNTUxMTk4NzY1MDAwNRUCABEYEkVFMDVGMEMzQjdFNTY0QzI5AA=="
WAMID_F = "wamid.HBgNNTUxMTk4NzY1MDAwNhUCABEYEkZGMDZGMEMzQjdFNTY0QzI5AA=="
WAMID_G = "wamid.HBgNNTUxMTk4NzY1MDAwNxUCABEYEkdHMDdGMEMzQjdFNTY0QzI5AA=="
WAMID_H = "wamid.HBgNNTUyMTk4NzY1MDAwOBUCABEYEkhIMDhGMEMzQjdFNTY0QzI5AA=="


@pytest.fixture
def settings(store_settings):
    return dataclasses.replace(
        store_settings,
        whatsapp_app_secret=SECRET,
        whatsapp_verify_token=VERIFY,
        sinch_webhook_token=SINCH_TOKEN,
    )


# The WhatsApp business numbers of the fixture bodies. Statuses are written in the subaccount
# their number is assigned to, so tests of statuses assign them (`numbers`).
WHATSAPP_NUMBERS = ("104857600012345", "104857600067890")


@pytest.fixture
def client(settings, engine):
    return create_app(settings, engine).server.test_client()


@pytest.fixture
def numbers(engine):
    with engine.begin() as conn:
        for number in WHATSAPP_NUMBERS:
            assign(conn, "whatsapp", number, "Brand A")


def body_of(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def post_whatsapp(client, body: bytes, signature: str | None = "sign"):
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign(SECRET, body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/webhooks/whatsapp", data=body, headers=headers)


def post_sinch(client, body: bytes, token: str = SINCH_TOKEN):
    return client.post(
        f"/webhooks/sinch/sms/{token}", data=body, headers={"Content-Type": "application/json"}
    )


def send_record(message_id: str, phone: str, channel: str = "whatsapp", **extra) -> dict:
    return {
        "message_id": message_id,
        "channel": channel,
        "direction": "MT",
        "subaccount": "Brand A",
        "content_type": "template" if channel == "whatsapp" else "text",
        "phone": phone,
        "status": "queued",
        "created_at": "2026-11-20T14:00:00Z",
        **extra,
    }


def stored(engine, message_id: str) -> dict | None:
    m = messages.c
    query = select(
        m.status, m.error_code, m.error_description, m.sent_at, m.delivered_at, m.read_at
    ).where(m.message_id == message_id)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return dict(row._mapping) if row is not None else None


def inbox_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(inbox.c.id, inbox.c.source, inbox.c.state, inbox.c.problems).order_by(
                    inbox.c.id
                )
            )
        ]


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- checks at the door


def test_whatsapp_verification_handshake(client):
    ok = client.get(
        "/webhooks/whatsapp",
        query_string={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "8812"},
    )
    assert (ok.status_code, ok.data, ok.mimetype) == (200, b"8812", "text/plain")
    wrong = client.get(
        "/webhooks/whatsapp",
        query_string={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert wrong.status_code == 403


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        sign("another-secret", body_of("whatsapp_sent.json")),
        sign(SECRET, body_of("whatsapp_read.json")),
    ],
)
def test_bad_or_missing_signature_is_401_and_stores_nothing(client, engine, signature):
    response = post_whatsapp(client, body_of("whatsapp_sent.json"), signature)
    assert response.status_code == 401
    assert response.json == {"error": "Missing or wrong X-Hub-Signature-256 signature."}
    assert count(engine, inbox) == 0


def test_wrong_sinch_token_is_404_and_stores_nothing(client, engine):
    for token in ("wrong-token-0123456789abcdefghij", SINCH_TOKEN[:-1], SINCH_TOKEN + "x"):
        assert post_sinch(client, body_of("sinch_delivered.json"), token).status_code == 404
    assert count(engine, inbox) == 0


def test_unconfigured_webhooks_do_not_exist(store_settings, engine):
    client = create_app(store_settings, engine).server.test_client()
    body = body_of("whatsapp_sent.json")
    assert post_whatsapp(client, body).status_code == 404
    assert (
        client.get("/webhooks/whatsapp", query_string={"hub.mode": "subscribe"}).status_code == 404
    )
    assert post_sinch(client, body_of("sinch_delivered.json")).status_code == 404
    assert count(engine, inbox) == 0


def test_malformed_json_is_400_and_stores_nothing(client, engine):
    broken = b'{"object": "whatsapp_business_account", "entry": ['
    response = post_whatsapp(client, broken)
    assert response.status_code == 400
    assert response.json["error"].startswith("The body is not valid JSON")
    assert post_sinch(client, b"status=Delivered").status_code == 400
    assert count(engine, inbox) == 0


def test_body_over_one_mebibyte_is_413(client, engine):
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = post_whatsapp(client, big)
    assert response.status_code == 413
    assert response.json == {"error": "The body is larger than 1 MiB."}
    assert post_sinch(client, big).status_code == 413
    assert count(engine, inbox) == 0


# --------------------------------------------------------------------------- replays


def test_whatsapp_sent_delivered_read_replay(client, engine, load_rows, numbers):
    load_rows(engine, [send_record(WAMID_A, "+5511987654321")])
    for name in ("whatsapp_sent.json", "whatsapp_delivered.json", "whatsapp_read.json"):
        response = post_whatsapp(client, body_of(name))
        assert response.status_code == 200
    # Acknowledged before processing: the inbox holds the bodies, the message is unchanged.
    assert [row[2] for row in inbox_rows(engine)] == ["new", "new", "new"]
    assert stored(engine, WAMID_A)["status"] == "queued"
    with engine.connect() as conn:
        before = data_version(conn)
    report = drain(engine, TZ)
    assert (report.processed, report.failed, report.events, report.pending) == (3, 0, 3, 0)
    assert stored(engine, WAMID_A) == {
        "status": "read",
        "error_code": None,
        "error_description": None,
        "sent_at": at("2026-11-20 14:00:05"),
        "delivered_at": at("2026-11-20 14:00:09"),
        "read_at": at("2026-11-20 14:02:30"),
    }
    with engine.connect() as conn:
        assert data_version(conn) > before
    assert [row[2:] for row in inbox_rows(engine)] == [("done", None)] * 3


def test_read_before_sent_ends_where_the_merge_rules_say(client, engine, load_rows, numbers):
    load_rows(engine, [send_record(WAMID_A, "+5511987654321")])
    post_whatsapp(client, body_of("whatsapp_read.json"))
    drain(engine, TZ)
    read_at = at("2026-11-20 14:02:30")
    assert stored(engine, WAMID_A) == {
        "status": "read",
        "error_code": None,
        "error_description": None,
        "sent_at": read_at,
        "delivered_at": read_at,
        "read_at": read_at,
    }
    post_whatsapp(client, body_of("whatsapp_delivered.json"))
    post_whatsapp(client, body_of("whatsapp_sent.json"))
    drain(engine, TZ)
    assert stored(engine, WAMID_A) == {
        "status": "read",
        "error_code": None,
        "error_description": None,
        "sent_at": at("2026-11-20 14:00:05"),
        "delivered_at": at("2026-11-20 14:00:09"),
        "read_at": read_at,
    }


def test_duplicate_deliveries_change_nothing(client, engine, load_rows, numbers):
    load_rows(engine, [send_record(WAMID_A, "+5511987654321")])
    for _ in range(3):
        assert post_whatsapp(client, body_of("whatsapp_delivered.json")).status_code == 200
    drain(engine, TZ)
    once = stored(engine, WAMID_A)
    assert once["status"] == "delivered"
    assert once["delivered_at"] == at("2026-11-20 14:00:09")
    post_whatsapp(client, body_of("whatsapp_delivered.json"))
    drain(engine, TZ)
    assert stored(engine, WAMID_A) == once
    assert count(engine, messages) == 1
    assert [row[2] for row in inbox_rows(engine)] == ["done"] * 4


def test_whatsapp_failures_reach_the_detailed_view(client, engine, load_rows, numbers):
    phones = {
        WAMID_B: "+5511987650002",
        WAMID_C: "+5511987650003",
        WAMID_D: "+5511987650004",
        WAMID_E: "+5511987650005",
    }
    load_rows(engine, [send_record(i, p) for i, p in phones.items()])
    post_whatsapp(client, body_of("whatsapp_failed.json"))
    drain(engine, TZ)
    assert [(stored(engine, i)["status"], stored(engine, i)["error_code"]) for i in phones] == [
        ("error", "131026"),
        ("error", "131047"),
        ("error", "130472"),
        ("error", "131049"),
    ]
    flt = ReportFilter.build(
        "whatsapp", "2026-11-20", "2026-11-20", phone="(11) 98765-0003", today=date(2026, 11, 25)
    )
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    page = reports.detailed_page(engine, scope, flt)
    assert page.rows[
        ["message_id", "status", "error_code", "error_description"]
    ].values.tolist() == [
        [
            WAMID_C,
            "error",
            "131047",
            "Re-engagement message: Message failed to send because more than 24 hours have "
            "passed since the customer last replied to this number.",
        ]
    ]


def test_whatsapp_batch_of_entries_changes_and_statuses(client, engine, load_rows, numbers):
    load_rows(
        engine,
        [
            send_record(WAMID_F, "+5511987650006"),
            send_record(WAMID_G, "+5511987650007"),
            send_record(WAMID_H, "+5521987650008"),
        ],
    )
    post_whatsapp(client, body_of("whatsapp_batch.json"))
    report = drain(engine, TZ)
    assert (report.processed, report.events) == (1, 4)
    f, g, h = (stored(engine, i) for i in (WAMID_F, WAMID_G, WAMID_H))
    assert (f["status"], f["sent_at"], f["delivered_at"], f["read_at"]) == (
        "delivered",
        at("2026-11-20 14:00:01"),
        at("2026-11-20 14:00:03"),
        None,
    )
    assert (g["status"], g["sent_at"], g["delivered_at"], g["read_at"]) == (
        "read",
        at("2026-11-20 14:01:00"),
        at("2026-11-20 14:01:00"),
        at("2026-11-20 14:01:00"),
    )
    assert (h["status"], h["sent_at"], h["delivered_at"]) == (
        "sent",
        at("2026-11-20 14:00:02"),
        None,
    )


def _inbound_rows(engine) -> list[tuple]:
    m = messages.c
    query = (
        select(
            m.content_type,
            m.content,
            contacts.c.phone,
            m.contact_name,
            subaccounts.c.name,
            m.direction,
            m.status,
            m.created_at,
        )
        .join(contacts, contacts.c.id == m.contact_id)
        .join(subaccounts, subaccounts.c.id == m.subaccount_id)
        .order_by(m.created_at)
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def test_whatsapp_inbound_needs_its_number_assigned_then_replays(client, engine):
    post_whatsapp(client, body_of("whatsapp_inbound.json"))
    report = drain(engine, TZ)
    assert (report.processed, report.failed) == (1, 1)
    assert count(engine, messages) == 0
    [(row_id, _, state, problems)] = inbox_rows(engine)
    assert state == "failed"
    lines = problems.splitlines()
    assert len(lines) == 12
    assert lines[0] == (
        "entry[0].changes[0].value.messages[0]: the whatsapp business number 104857600012345 "
        "is not assigned to a subaccount; assign it with `python app.py channels add --channel "
        "whatsapp --number-id 104857600012345 --subaccount NAME`, then replay"
    )
    assert lines[11].startswith("skipped: entry[0].changes[0].value.messages[11]: a reaction")

    with engine.begin() as conn:
        assign(conn, "whatsapp", "104857600012345", "Brand A")
    again = replay(engine, TZ)
    assert (again.processed, again.failed) == (1, 0)
    [(_, _, state, problems)] = inbox_rows(engine)
    assert state == "done"
    assert problems.startswith("skipped: entry[0].changes[0].value.messages[11]: a reaction")
    marina = ("5511987654321", "Marina Costa", "Brand A", "MO", "received")
    paulo = ("5511976543210", "Paulo Reis", "Brand A", "MO", "received")
    assert _inbound_rows(engine) == [
        ("text", "Does it come in blue?", *marina, at("2026-11-20 14:05:00")),
        ("image", "This one", *marina, at("2026-11-20 14:05:01")),
        ("audio", None, *marina, at("2026-11-20 14:05:02")),
        ("video", "Unboxing", *marina, at("2026-11-20 14:05:03")),
        ("document", "invoice-2211.pdf", *paulo, at("2026-11-20 14:05:04")),
        ("sticker", None, *paulo, at("2026-11-20 14:05:05")),
        (
            "location",
            "Paulista store, Av. Paulista, 1578, Sao Paulo (-23.561414, -46.655881)",
            *paulo,
            at("2026-11-20 14:05:06"),
        ),
        ("contacts", "Ana Lima, Bruno", *paulo, at("2026-11-20 14:05:07")),
        ("interactive", "Yes, confirm", *marina, at("2026-11-20 14:05:08")),
        ("interactive", "Tomorrow 14:30", *marina, at("2026-11-20 14:05:09")),
        ("interactive", "Stop promotions", *marina, at("2026-11-20 14:05:10")),
    ]
    # Replaying a processed body again is harmless.
    replay(engine, TZ, [row_id])
    assert count(engine, messages) == 11


def test_sinch_reports_summaries_and_inbound(client, engine, load_rows):
    load_rows(
        engine,
        [
            send_record("sms-0101", "+5511987650101", "sms"),
            send_record("sms-0102", "+5511987650102", "sms"),
            send_record("sms-0103", "+5511987650103", "sms"),
        ],
    )
    with engine.begin() as conn:
        assign(conn, "sms", "+55 11 93000-9000", "Brand S")
    for name in (
        "sinch_delivered.json",
        "sinch_dispatched.json",
        "sinch_failed.json",
        "sinch_aborted.json",
        "sinch_batch_summary.json",
        "sinch_mo_text.json",
        "sinch_mo_binary.json",
    ):
        assert post_sinch(client, body_of(name)).status_code == 200
    report = drain(engine, TZ)
    assert (report.processed, report.failed, report.events) == (7, 0, 8)
    assert stored(engine, "sms-0101") == {
        "status": "delivered",
        "error_code": None,
        "error_description": None,
        "sent_at": at("2026-11-20 14:00:03.412"),
        "delivered_at": at("2026-11-20 14:00:11"),
        "read_at": None,
    }
    assert [
        (stored(engine, i)["status"], stored(engine, i)["error_code"])
        for i in ("sms-0102", "sms-0103")
    ] == [("error", "11"), ("error", "402")]
    assert stored(engine, "sms-0103")["error_description"] == "Aborted: Message unroutable"
    # Sinch names the operator (an MCC-MNC) in its delivery reports; the message keeps it, and
    # the roll-up counts it (sms-0103's abort named none).
    with engine.connect() as conn:
        operators = dict(
            conn.execute(
                select(messages.c.message_id, messages.c.operator).where(
                    messages.c.message_id.in_(["sms-0101", "sms-0102", "sms-0103"])
                )
            ).all()
        )
        rolled = conn.execute(
            select(daily_rollup.c.operator, func.sum(daily_rollup.c.message_count))
            .where(daily_rollup.c.channel == "sms", daily_rollup.c.direction == "MT")
            .group_by(daily_rollup.c.operator)
            .order_by(daily_rollup.c.operator)
        ).all()
    assert operators == {"sms-0101": "72405", "sms-0102": "72405", "sms-0103": None}
    assert [tuple(r) for r in rolled] == [("72405", 2), (None, 1)]
    with engine.connect() as conn:
        summaries = conn.execute(
            select(
                sms_batch_reports.c.batch_id,
                sms_batch_reports.c.status,
                sms_batch_reports.c.code,
                sms_batch_reports.c.count,
            ).order_by(sms_batch_reports.c.status)
        ).all()
    assert [tuple(r) for r in summaries] == [
        ("01JD3QB0K3N6R9U2X5A8D1G4J7", "Aborted", "402", 1),
        ("01JD3QB0K3N6R9U2X5A8D1G4J7", "Delivered", "0", 2),
    ]
    # A summary counts messages; it never invents rows for them.
    assert count(engine, messages) == 5
    m = messages.c
    with engine.connect() as conn:
        inbound = conn.execute(
            select(
                m.message_id, m.channel, m.direction, m.content, m.created_at, subaccounts.c.name
            )
            .join(subaccounts, subaccounts.c.id == m.subaccount_id)
            .where(m.direction == "MO")
            .order_by(m.created_at)
        ).all()
    assert [tuple(r) for r in inbound] == [
        (
            "01JD3QC6P9S2V5Y8B1E4H7K0N3",
            "sms",
            "MO",
            "STOP",
            at("2026-11-20 14:07:00.118"),
            "Brand S",
        ),
        ("01JD3QD2T5W8Z1C4F7J0M3Q6S9", "sms", "MO", None, at("2026-11-20 14:08:30"), "Brand S"),
    ]


# --------------------------------------------------------------------------- ordering and crashes


def test_status_before_its_send_record_is_kept_then_applied(client, engine, numbers):
    post_whatsapp(client, body_of("whatsapp_delivered.json"))
    post_whatsapp(client, body_of("whatsapp_sent.json"))
    report = drain(engine, TZ)
    assert (report.processed, report.failed, report.pending) == (2, 0, 2)
    assert count(engine, messages) == 0
    with engine.connect() as conn:
        kept = conn.execute(
            select(pending_statuses.c.message_id, pending_statuses.c.status).order_by(
                pending_statuses.c.status
            )
        ).all()
    assert [tuple(r) for r in kept] == [(WAMID_A, "delivered"), (WAMID_A, "sent")]

    with engine.begin() as conn:
        _, key = create_key(conn, "Brand A")
    record = send_record(WAMID_A, "+5511987654321")
    del record["subaccount"]
    response = client.post(
        "/api/v1/messages", json=[record], headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200
    assert response.json == {"accepted": 1, "created": 1, "updated": 0, "statuses_applied": 2}
    assert stored(engine, WAMID_A) == {
        "status": "delivered",
        "error_code": None,
        "error_description": None,
        "sent_at": at("2026-11-20 14:00:05"),
        "delivered_at": at("2026-11-20 14:00:09"),
        "read_at": None,
    }
    assert count(engine, pending_statuses) == 0


def test_a_kept_sinch_report_gives_its_operator_and_the_api_takes_template_and_operator(
    client, engine
):
    post_sinch(client, body_of("sinch_delivered.json"))
    report = drain(engine, TZ)
    assert report.pending == 1
    with engine.connect() as conn:
        kept = conn.execute(select(pending_statuses.c.operator)).scalars().all()
    assert kept == ["72405"]

    with engine.begin() as conn:
        _, key = create_key(conn, "Brand A")
    records = [
        send_record("sms-0101", "+5511987650101", "sms"),
        send_record("wamid.ar", "+54 9 11 2345-6789", template="pedido_enviado", operator="Claro"),
    ]
    for record in records:
        del record["subaccount"]
    response = client.post(
        "/api/v1/messages", json=records, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200
    assert response.json["statuses_applied"] == 1
    m = messages.c
    with engine.connect() as conn:
        found = conn.execute(
            select(m.message_id, m.status, m.country, m.operator, m.template).order_by(m.message_id)
        ).all()
    assert [tuple(r) for r in found] == [
        ("sms-0101", "delivered", "BR", "72405", None),
        ("wamid.ar", "queued", "AR", "Claro", "pedido_enviado"),
    ]


def test_kept_status_applies_after_a_file_load(client, engine, load_rows, numbers):
    post_whatsapp(client, body_of("whatsapp_read.json"))
    drain(engine, TZ)
    load_rows(engine, [send_record(WAMID_A, "+5511987654321")])
    worker = inbox_module.Worker(engine, TZ, keep_days=14, interval=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while stored(engine, WAMID_A)["status"] != "read" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert stored(engine, WAMID_A)["read_at"] == at("2026-11-20 14:02:30")
    assert count(engine, pending_statuses) == 0


def test_crash_between_inbox_write_and_processing(settings, engine, load_rows, numbers):
    load_rows(engine, [send_record(WAMID_A, "+5511987654321")])
    first = create_app(settings, engine).server.test_client()
    assert post_whatsapp(first, body_of("whatsapp_delivered.json")).status_code == 200
    engine.dispose()  # the process dies before its worker ran

    engine_after = make_engine(settings.database_url)
    try:
        create_schema(engine_after, settings.account_timezone)
        restarted = create_app(settings, engine_after)
        worker = ingest_service.start_worker(restarted.server)
        try:
            deadline = time.monotonic() + 10
            while inbox_rows(engine_after)[0][2] != "done" and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.stop()
        assert stored(engine_after, WAMID_A)["status"] == "delivered"
        assert [row[2] for row in inbox_rows(engine_after)] == ["done"]
        # A later start finds nothing left to do.
        assert drain(engine_after, TZ).processed == 0
    finally:
        engine_after.dispose()


def test_failed_processing_is_retried_not_lost(client, engine, load_rows, monkeypatch, numbers):
    load_rows(engine, [send_record(WAMID_A, "+5511987654321")])
    post_whatsapp(client, body_of("whatsapp_read.json"))
    post_whatsapp(client, body_of("whatsapp_sent.json"))

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(inbox_module, "apply_mapped", broken)
    report = drain(engine, TZ)
    assert (report.processed, report.retried, report.failed) == (0, 2, 0)
    with engine.connect() as conn:
        rows = conn.execute(select(inbox.c.state, inbox.c.attempts, inbox.c.problems)).all()
    assert [tuple(r) for r in rows] == [
        ("new", 1, "attempt 1 failed: RuntimeError: disk full"),
        ("new", 1, "attempt 1 failed: RuntimeError: disk full"),
    ]
    assert stored(engine, WAMID_A)["status"] == "queued"

    # The last attempt gives up and leaves the body for an admin.
    with engine.begin() as conn:
        conn.execute(
            update(inbox)
            .where(inbox.c.id == 1)
            .values(attempts=inbox_module.MAX_ATTEMPTS - 1, next_attempt_at=datetime(2000, 1, 1))
        )
    assert drain(engine, TZ).failed == 1
    [first, _] = inbox_rows(engine)
    assert first[2] == "failed"
    assert first[3].startswith("gave up after 8 attempts; replay it after the cause is fixed.")

    monkeypatch.undo()
    assert replay(engine, TZ, [1, 2]).processed == 2
    assert stored(engine, WAMID_A)["status"] == "read"
    assert [row[2] for row in inbox_rows(engine)] == ["done", "done"]


def test_worker_shows_new_events_within_five_seconds(settings, engine, load_rows, numbers):
    load_rows(engine, [send_record(WAMID_A, "+5511987654321")])
    app = create_app(settings, engine)
    worker = ingest_service.start_worker(app.server)
    try:
        client = app.server.test_client()
        started = time.monotonic()
        post_whatsapp(client, body_of("whatsapp_sent.json"))
        while stored(engine, WAMID_A)["status"] != "sent" and time.monotonic() - started < 5:
            time.sleep(0.02)
        assert stored(engine, WAMID_A)["status"] == "sent"
    finally:
        worker.stop()


# --------------------------------------------------------------------------- admin commands


class Capture:
    def __init__(self):
        self.lines: list[str] = []

    def out(self, text: str) -> None:
        self.lines.append(text)

    err = out


def test_inbox_list_show_and_replay_commands(client, engine, settings):
    post_sinch(client, body_of("sinch_mo_text.json"))
    drain(engine, TZ)
    console = Capture()
    args = build_parser().parse_args(["inbox", "list"])
    assert inbox_command.run(args, console, engine, settings) == 0
    assert console.lines[0] == (
        "Inbox: 0 new, 0 done, 1 failed. Statuses waiting for their send record: 0."
    )
    assert console.lines[1].split() == [
        "id",
        "source",
        "received",
        "(UTC)",
        "state",
        "tries",
        "reasons",
    ]
    parts = console.lines[2].split(maxsplit=6)
    assert [parts[0], parts[1], parts[4], parts[5]] == ["1", "sinch", "failed", "0"]
    assert parts[6].startswith("mo_text: the sms business number 5511930009000 is not assigned")

    shown = Capture()
    inbox_command.run(build_parser().parse_args(["inbox", "show", "1"]), shown, engine, settings)
    assert shown.lines[1] == "Reasons:"
    assert json.loads("\n".join(shown.lines[3:]))["body"] == "STOP"

    with engine.begin() as conn:
        assign(conn, "sms", "5511930009000", "Brand S")
    replayed = Capture()
    code = inbox_command.run(
        build_parser().parse_args(["inbox", "replay"]), replayed, engine, settings
    )
    assert code == 0
    assert replayed.lines == ["Replayed 1 bodies (1 events): 1 processed, 0 still failed."]
    assert count(engine, messages) == 1


def test_a_body_that_cannot_be_stored_is_refused_with_503(client, engine, monkeypatch):
    def no_space(_table):
        raise OSError("No space left on device")

    monkeypatch.setattr(inbox_module, "insert", no_space)
    monkeypatch.setattr(inbox_module, "DUCKDB_INSERT", "INSERT INTO no_such_table VALUES (?)")
    response = post_whatsapp(client, body_of("whatsapp_sent.json"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json == {
        "error": "The body could not be stored; nothing was kept. Retry later."
    }
    monkeypatch.undo()
    assert count(engine, inbox) == 0


def test_a_kept_status_that_does_not_fit_its_message_is_set_aside(
    client, engine, load_rows, numbers
):
    # A WhatsApp read receipt that names the id of an SMS: SMS has no read receipts.
    post_whatsapp(client, body_of("whatsapp_read.json"))
    drain(engine, TZ)
    load_rows(engine, [send_record(WAMID_A, "+5511987654321", "sms")])
    assert write(engine, lambda tx: apply_pending(tx, TZ)) == 0
    with engine.connect() as conn:
        problem = conn.execute(select(pending_statuses.c.problem)).scalar_one()
        counts = inbox_module.state_counts(conn)
    assert problem == (
        f"message {WAMID_A!r} was stored with channel 'sms'; "
        "a later record cannot change it to 'whatsapp'"
    )
    assert (counts["pending_statuses"], counts["unfit_statuses"]) == (0, 1)
    assert stored(engine, WAMID_A)["status"] == "queued"


def test_processed_bodies_are_purged_after_the_keep_days(client, engine):
    for _ in range(3):
        post_sinch(client, body_of("sinch_batch_summary.json"))
    post_sinch(client, body_of("sinch_mo_text.json"))  # fails: no number assigned
    drain(engine, TZ)
    with engine.begin() as conn:
        conn.execute(
            update(inbox).where(inbox.c.id.in_([1, 2, 4])).values(processed_at=datetime(2026, 1, 1))
        )
    assert inbox_module.purge_processed(engine, keep_days=14) == 2
    assert [(row[0], row[2]) for row in inbox_rows(engine)] == [(3, "done"), (4, "failed")]
