"""Vendor-shaped webhook bodies map to the events the domain expects (no store involved)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest import sinch, whatsapp
from ingest.events import BatchSummary, InboundMessage, StatusEvent

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"

WAMID_A = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEkFBMDFGMEMzQjdFNTY0QzI5AA=="
WAMID_F = "wamid.HBgNNTUxMTk4NzY1MDAwNhUCABEYEkZGMDZGMEMzQjdFNTY0QzI5AA=="
WAMID_G = "wamid.HBgNNTUxMTk4NzY1MDAwNxUCABEYEkdHMDdGMEMzQjdFNTY0QzI5AA=="
WAMID_H = "wamid.HBgNNTUyMTk4NzY1MDAwOBUCABEYEkhIMDhGMEMzQjdFNTY0QzI5AA=="


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_whatsapp_sent_delivered_read_map_to_timed_statuses():
    sent = whatsapp.map_payload(fixture("whatsapp_sent.json"))
    delivered = whatsapp.map_payload(fixture("whatsapp_delivered.json"))
    read = whatsapp.map_payload(fixture("whatsapp_read.json"))
    # Each status keeps the business number it came from and WhatsApp's own word for it.
    number = {"number_id": "104857600012345"}
    assert sent.statuses == [
        StatusEvent(
            WAMID_A, "whatsapp", "sent", utc(2026, 11, 20, 14, 0, 5), **number, raw_status="sent"
        )
    ]
    assert delivered.statuses == [
        StatusEvent(
            WAMID_A,
            "whatsapp",
            "delivered",
            utc(2026, 11, 20, 14, 0, 9),
            **number,
            raw_status="delivered",
        )
    ]
    assert read.statuses == [
        StatusEvent(
            WAMID_A, "whatsapp", "read", utc(2026, 11, 20, 14, 2, 30), **number, raw_status="read"
        )
    ]
    for mapped in (sent, delivered, read):
        assert (mapped.problems, mapped.skipped, mapped.inbound) == ([], [], [])


def test_whatsapp_failed_keeps_each_code_and_description():
    mapped = whatsapp.map_payload(fixture("whatsapp_failed.json"))
    assert [(s.status, s.error_code, s.error_description) for s in mapped.statuses] == [
        ("error", "131026", "Message undeliverable"),
        (
            "error",
            "131047",
            "Re-engagement message: Message failed to send because more than 24 hours have "
            "passed since the customer last replied to this number.",
        ),
        (
            "error",
            "130472",
            "User's number is part of an experiment: Failed to send message because this "
            "user's phone number is part of an experiment",
        ),
        (
            "error",
            "131049",
            "This message was not delivered to maintain healthy ecosystem engagement: In order "
            "to maintain a healthy ecosystem engagement, the message failed to be delivered.",
        ),
    ]
    assert [s.event_at.second for s in mapped.statuses] == [6, 7, 8, 9]


def test_whatsapp_batch_reads_every_entry_change_and_status():
    mapped = whatsapp.map_payload(fixture("whatsapp_batch.json"))
    assert [(s.message_id, s.status, s.event_at) for s in mapped.statuses] == [
        (WAMID_F, "sent", utc(2026, 11, 20, 14, 0, 1)),
        (WAMID_F, "delivered", utc(2026, 11, 20, 14, 0, 3)),
        (WAMID_G, "read", utc(2026, 11, 20, 14, 1, 0)),
        (WAMID_H, "sent", utc(2026, 11, 20, 14, 0, 2)),
    ]


def test_whatsapp_inbound_of_every_type():
    mapped = whatsapp.map_payload(fixture("whatsapp_inbound.json"))
    rows = [
        (m.content_type, m.content, m.phone, m.contact_name, m.created_at.second)
        for m in mapped.inbound
    ]
    marina, paulo = ("5511987654321", "Marina Costa"), ("5511976543210", "Paulo Reis")
    assert rows == [
        ("text", "Does it come in blue?", *marina, 0),
        ("image", "This one", *marina, 1),
        ("audio", None, *marina, 2),
        ("video", "Unboxing", *marina, 3),
        ("document", "invoice-2211.pdf", *paulo, 4),
        ("sticker", None, *paulo, 5),
        (
            "location",
            "Paulista store, Av. Paulista, 1578, Sao Paulo (-23.561414, -46.655881)",
            *paulo,
            6,
        ),
        ("contacts", "Ana Lima, Bruno", *paulo, 7),
        ("interactive", "Yes, confirm", *marina, 8),
        ("interactive", "Tomorrow 14:30", *marina, 9),
        ("interactive", "Stop promotions", *marina, 10),
    ]
    assert {m.number_id for m in mapped.inbound} == {"104857600012345"}
    assert mapped.problems == []
    assert mapped.skipped == [
        "entry[0].changes[0].value.messages[11]: a reaction message has no content type here "
        "(message wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDNBMTJJTjEyUkVBQ1RJT04wMDAwAA==); "
        "not recorded"
    ]


def test_whatsapp_unknown_status_and_bad_timestamp_are_problems():
    body = fixture("whatsapp_sent.json")
    statuses = body["entry"][0]["changes"][0]["value"]["statuses"]
    statuses.append(dict(statuses[0], status="deleted"))
    statuses.append(dict(statuses[0], timestamp="2026-11-20"))
    mapped = whatsapp.map_payload(body)
    assert len(mapped.statuses) == 1
    assert mapped.problems == [
        "entry[0].changes[0].value.statuses[1]: status 'deleted' is not one of sent, delivered, "
        f"read, played, failed (message {WAMID_A})",
        "entry[0].changes[0].value.statuses[2]: timestamp '2026-11-20' is not a number of unix "
        f"seconds (message {WAMID_A})",
    ]


def test_whatsapp_other_fields_are_noted_not_failed():
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {}}]}],
    }
    mapped = whatsapp.map_payload(body)
    assert mapped.problems == []
    assert mapped.skipped == [
        "entry[0].changes[0]: field 'account_update' is not recorded; subscribe the app to "
        "'messages' only"
    ]
    assert whatsapp.map_payload({"object": "page"}).problems == [
        "the body is not a notification with object whatsapp_business_account"
    ]


@pytest.mark.parametrize(
    "header, valid",
    [
        (whatsapp.sign("app-secret", b'{"a":1}'), True),
        (whatsapp.sign("app-secret", b'{"a":2}'), False),
        (whatsapp.sign("other-secret", b'{"a":1}'), False),
        (whatsapp.sign("app-secret", b'{"a":1}').removeprefix("sha256="), False),
        ("", False),
        (None, False),
    ],
)
def test_whatsapp_signature(header, valid):
    assert whatsapp.signature_valid("app-secret", b'{"a":1}', header) is valid


def test_sinch_recipient_reports():
    dispatched = sinch.map_payload(fixture("sinch_dispatched.json"))
    delivered = sinch.map_payload(fixture("sinch_delivered.json"))
    failed = sinch.map_payload(fixture("sinch_failed.json"))
    aborted = sinch.map_payload(fixture("sinch_aborted.json"))
    assert dispatched.statuses == [
        StatusEvent(
            "sms-0101", "sms", "sent", utc(2026, 11, 20, 14, 0, 3, 412000), raw_status="Dispatched"
        )
    ]
    # The operator's time of the state wins over the time Sinch wrote the report; a failure
    # keeps its time too, for its event. The operator (its MCC and MNC) comes with the state.
    assert delivered.statuses == [
        StatusEvent(
            "sms-0101",
            "sms",
            "delivered",
            utc(2026, 11, 20, 14, 0, 11),
            raw_status="Delivered",
            operator="72405",
        )
    ]
    assert failed.statuses == [
        StatusEvent(
            "sms-0102",
            "sms",
            "error",
            utc(2026, 11, 20, 14, 1, 39),
            "11",
            "Failed",
            raw_status="Failed",
            operator="72405",
        )
    ]
    assert aborted.statuses == [
        StatusEvent(
            "sms-0103",
            "sms",
            "error",
            utc(2026, 11, 20, 14, 2, 5, 31000),
            "402",
            "Aborted: Message unroutable",
            raw_status="Aborted",
        )
    ]


@pytest.mark.parametrize(
    "status, expected",
    [
        ("Queued", "queued"),
        ("Dispatched", "sent"),
        ("Delivered", "delivered"),
        ("Failed", "error"),
        ("Expired", "error"),
        ("Rejected", "error"),
        ("Aborted", "error"),
        ("Deleted", "error"),
        ("Cancelled", "cancelled"),
        ("Unknown", "sent"),
        ("DELIVERED", "delivered"),
    ],
)
def test_sinch_every_status(status, expected):
    body = dict(fixture("sinch_delivered.json"), status=status)
    assert [s.status for s in sinch.map_payload(body).statuses] == [expected]


def test_sinch_summary_inbound_and_unreadable():
    summary = sinch.map_payload(fixture("sinch_batch_summary.json"))
    assert summary.statuses == [] and summary.inbound == []
    assert summary.summaries == [
        BatchSummary("01JD3QB0K3N6R9U2X5A8D1G4J7", "Delivered", "0", 2, "campaign-black-friday"),
        BatchSummary("01JD3QB0K3N6R9U2X5A8D1G4J7", "Aborted", "402", 1, "campaign-black-friday"),
    ]
    text_mo = sinch.map_payload(fixture("sinch_mo_text.json"))
    binary_mo = sinch.map_payload(fixture("sinch_mo_binary.json"))
    assert text_mo.inbound == [
        InboundMessage(
            message_id="01JD3QC6P9S2V5Y8B1E4H7K0N3",
            channel="sms",
            number_id="5511930009000",
            phone="5511987650101",
            created_at=utc(2026, 11, 20, 14, 7, 0, 118000),
            content_type="text",
            content="STOP",
            where="mo_text",
        )
    ]
    assert [(m.message_id, m.content) for m in binary_mo.inbound] == [
        ("01JD3QD2T5W8Z1C4F7J0M3Q6S9", None)
    ]
    no_reference = dict(fixture("sinch_failed.json"))
    del no_reference["client_reference"]
    assert sinch.map_payload(no_reference).problems == [
        "delivery report of batch 01JD3Q9C2M5P8S1V4Y7B0E3H6K has no client_reference, so it "
        "cannot be matched to a message; send each SMS with client_reference set to its "
        "message_id"
    ]
    assert sinch.map_payload({"type": "mo_fax"}).problems == [
        "type 'mo_fax' is not a Sinch SMS callback"
    ]
