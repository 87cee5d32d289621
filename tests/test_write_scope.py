"""Every write stays in its writer's scope, and a stored message's identity never changes.

Forged writes through each writer (an API key, a WhatsApp status, a Sinch report, a file)
against another subaccount's message and against a stored message's channel and direction:
each is refused, named, and leaves the store (messages, roll-up, data version) as it was.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app import create_app
from data_access import audit
from data_access.loader import LoadError, RowProblem, load_files
from data_access.store import data_version
from data_access.tables import audit_log, daily_rollup, inbox, messages, subaccounts
from ingest.channels import assign, new_callback_token
from ingest.inbox import drain
from ingest.keys import create_key
from ingest.whatsapp import sign
from tests.conftest import write_csv
from tests.test_rollup import assert_rollup_matches

TZ = "America/Sao_Paulo"
SECRET = "whatsapp-app-secret-for-tests"
SINCH_TOKEN = "sinch-account-token-for-tests-0123456789"
NUMBER_A, NUMBER_B = "104857600011111", "104857600022222"
SMS_NUMBER_A = "5511930001111"
CREATED = "2026-11-20T14:00:00Z"


def record(message_id, subaccount, channel="whatsapp", direction="MT", status="sent", **extra):
    return {
        "message_id": message_id,
        "channel": channel,
        "direction": direction,
        "subaccount": subaccount,
        "content_type": "text",
        "phone": "+5511987654321",
        "status": status,
        "created_at": CREATED,
        **extra,
    }


STORED = [
    record("A-1", "Brand A"),
    record("A-SMS", "Brand A", channel="sms"),
    record("A-MO", "Brand A", direction="MO", status="received"),
    record("B-1", "Brand B"),
    record("B-SMS", "Brand B", channel="sms"),
]


@pytest.fixture
def store(store_settings, engine, tmp_path):
    settings = dataclasses.replace(
        store_settings, whatsapp_app_secret=SECRET, sinch_webhook_token=SINCH_TOKEN
    )
    load_files(engine, [write_csv(tmp_path / "stored.csv", STORED)], TZ)
    with engine.begin() as conn:
        api_key, key_a = create_key(conn, "Brand A", "checkout")
        assign(conn, "whatsapp", NUMBER_A, "Brand A")
        assign(conn, "whatsapp", NUMBER_B, "Brand B")
        assign(conn, "sms", SMS_NUMBER_A, "Brand A")
        _, sinch_token_a = new_callback_token(conn, SMS_NUMBER_A)
    client = create_app(settings, engine).server.test_client()
    client.api_key = api_key
    return client, key_a, sinch_token_a


def snapshot(engine):
    with engine.connect() as conn:
        return (
            sorted(tuple(r) for r in conn.execute(select(messages))),
            sorted((tuple(r) for r in conn.execute(select(daily_rollup))), key=repr),
            data_version(conn),
        )


def status_of(engine, message_id):
    with engine.connect() as conn:
        return conn.execute(
            select(messages.c.status).where(messages.c.message_id == message_id)
        ).scalar_one()


def audit_count(engine, action):
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(audit_log).where(audit_log.c.action == action)
        ).scalar_one()


def post_api(client, key, records):
    return client.post("/api/v1/messages", json=records, headers={"Authorization": f"Bearer {key}"})


def whatsapp_body(number_id, *statuses):
    items = [
        {"id": message_id, "status": status, "timestamp": "1763647500", "recipient_id": "1"}
        for message_id, status in statuses
    ]
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": number_id}}
    value["statuses"] = items
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


def post_whatsapp(client, body):
    return client.post(
        "/webhooks/whatsapp",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, body)},
    )


def sinch_report(message_id, status="Delivered"):
    return {
        "type": "recipient_delivery_report_sms",
        "batch_id": "01FC66621VHDBN119Z8PMV1QPQ",
        "recipient": "5511987654321",
        "code": 0,
        "status": status,
        "at": "2026-11-20T14:05:00.000Z",
        "client_reference": message_id,
    }


def inbox_states(engine):
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(inbox.c.state, inbox.c.problems).order_by(inbox.c.id))
        ]


# --------------------------------------------------------------------------- API keys


def test_a_key_cannot_write_another_subaccounts_message(store, engine):
    client, key_a, _ = store
    before = snapshot(engine)
    # The record names the key's own subaccount; the stored message is Brand B's.
    response = post_api(
        client, key_a, [record("A-2", "Brand A"), record("B-1", "Brand A", status="delivered")]
    )
    assert response.status_code == 422
    assert response.json["problems"] == [
        {
            "index": 1,
            "field": "message_id",
            "reason": f"message 'B-1' belongs to a subaccount this API key "
            f"{client.api_key.prefix}… may not write",
        }
    ]
    assert "Brand B" not in json.dumps(response.json)
    assert snapshot(engine) == before  # A-2 was not stored either
    assert audit_count(engine, audit.WRITE_REFUSED) == 1
    assert audit_count(engine, audit.KEY_USED) == 1


@pytest.mark.parametrize(
    ("forged", "field", "reason"),
    [
        (
            record("A-SMS", "Brand A", channel="whatsapp", status="read"),
            "channel",
            "message 'A-SMS' was stored with channel 'sms'; "
            "a later record cannot change it to 'whatsapp'",
        ),
        (
            record("A-MO", "Brand A", status="delivered"),
            "direction",
            "message 'A-MO' was stored with direction 'MO'; "
            "a later record cannot change it to 'MT'",
        ),
    ],
)
def test_a_key_cannot_change_a_stored_messages_channel_or_direction(
    store, engine, forged, field, reason
):
    client, key_a, _ = store
    before = snapshot(engine)
    response = post_api(client, key_a, [forged])
    assert response.status_code == 422
    assert response.json["problems"] == [{"index": 0, "field": field, "reason": reason}]
    assert snapshot(engine) == before
    assert_rollup_matches(engine)


def test_a_key_still_writes_its_own_messages(store, engine):
    client, key_a, _ = store
    response = post_api(client, key_a, [record("A-1", "", status="delivered")])
    assert response.status_code == 200, response.json
    assert response.json == {"accepted": 1, "created": 0, "updated": 1, "statuses_applied": 0}
    assert status_of(engine, "A-1") == "delivered"
    assert_rollup_matches(engine)


# --------------------------------------------------------------------------- webhooks


def test_a_whatsapp_status_is_written_in_its_numbers_subaccount_only(store, engine):
    client, _, _ = store
    before = snapshot(engine)
    body = whatsapp_body(NUMBER_A, ("A-1", "delivered"), ("B-1", "delivered"))
    assert post_whatsapp(client, body).status_code == 200
    report = drain(engine, TZ)
    assert (report.processed, report.failed) == (1, 1)
    # The in-scope status is applied; the other is held with the body, as failed, with why.
    assert status_of(engine, "A-1") == "delivered"
    assert status_of(engine, "B-1") == "sent"
    [(state, problems)] = inbox_states(engine)
    assert state == "failed"
    assert problems == (
        "message B-1: message 'B-1' belongs to a subaccount this whatsapp business number "
        f"{NUMBER_A} may not write"
    )
    assert audit_count(engine, audit.WRITE_REFUSED) == 1
    assert snapshot(engine)[2] == before[2] + 1
    assert_rollup_matches(engine)


def test_a_whatsapp_read_for_a_stored_sms_is_refused(store, engine):
    client, _, _ = store
    before = snapshot(engine)
    assert post_whatsapp(client, whatsapp_body(NUMBER_A, ("A-SMS", "read"))).status_code == 200
    assert drain(engine, TZ).failed == 1
    assert inbox_states(engine) == [
        (
            "failed",
            "message A-SMS: message 'A-SMS' was stored with channel 'sms'; "
            "a later record cannot change it to 'whatsapp'",
        )
    ]
    assert snapshot(engine) == before


def test_a_status_from_an_unassigned_number_is_held(store, engine):
    client, _, _ = store
    before = snapshot(engine)
    assert (
        post_whatsapp(client, whatsapp_body("104857600099999", ("A-1", "read"))).status_code == 200
    )
    assert drain(engine, TZ).failed == 1
    [(state, problems)] = inbox_states(engine)
    assert state == "failed"
    assert "business number 104857600099999 is not assigned to a subaccount" in problems
    assert snapshot(engine) == before


def test_a_sinch_report_on_a_numbers_own_callback_stays_in_its_subaccount(store, engine):
    client, _, token_a = store
    before = snapshot(engine)
    for message_id in ("A-SMS", "B-SMS"):
        response = client.post(f"/webhooks/sinch/sms/{token_a}", json=sinch_report(message_id))
        assert response.status_code == 200
    report = drain(engine, TZ)
    assert (report.processed, report.failed) == (2, 1)
    assert (status_of(engine, "A-SMS"), status_of(engine, "B-SMS")) == ("delivered", "sent")
    assert inbox_states(engine)[1] == (
        "failed",
        "message B-SMS: message 'B-SMS' belongs to a subaccount this Sinch callback of "
        "subaccount 'Brand A' may not write",
    )
    assert snapshot(engine)[2] == before[2] + 1
    assert audit_count(engine, audit.WRITE_REFUSED) == 1
    # The account-wide callback is the whole account's writer.
    response = client.post(f"/webhooks/sinch/sms/{SINCH_TOKEN}", json=sinch_report("B-SMS"))
    assert response.status_code == 200
    assert drain(engine, TZ).failed == 0
    assert status_of(engine, "B-SMS") == "delivered"
    assert_rollup_matches(engine)


def test_an_unknown_sinch_token_is_404(store):
    client, _, _ = store
    response = client.post(
        "/webhooks/sinch/sms/not-a-token-of-anyone-here", json=sinch_report("A-SMS")
    )
    assert response.status_code == 404


# --------------------------------------------------------------------------- files


def test_a_file_cannot_change_a_stored_messages_identity(store, engine, tmp_path):
    before = snapshot(engine)
    rows = [
        record("A-3", "Brand A"),
        record("B-1", "Brand B", channel="sms", status="delivered"),
        record("A-1", "Brand B", status="delivered"),
    ]
    with pytest.raises(LoadError) as caught:
        load_files(engine, [write_csv(tmp_path / "in.csv", rows)], TZ)
    assert caught.value.problems == [
        RowProblem(
            "in.csv",
            3,
            "channel",
            "message 'B-1' was stored with channel 'whatsapp'; "
            "a later record cannot change it to 'sms'",
        ),
        RowProblem(
            "in.csv",
            4,
            "subaccount",
            "message 'A-1' was stored with subaccount 'Brand A'; "
            "a later record cannot change it to 'Brand B'",
        ),
    ]
    assert str(caught.value) == "2 problem(s) in the input; nothing was loaded"
    assert snapshot(engine) == before


def test_rows_of_one_file_disagreeing_on_a_new_message_are_refused(engine, tmp_path):
    rows = [record("N-1", "Brand A"), record("N-1", "Brand A", direction="MO", status="received")]
    with pytest.raises(LoadError) as caught:
        load_files(engine, [write_csv(tmp_path / "in.csv", rows)], TZ)
    assert caught.value.problems == [
        RowProblem(
            "in.csv",
            3,
            "direction",
            "message 'N-1' was first recorded with direction 'MT'; "
            "a later record cannot change it to 'MO'",
        )
    ]


def test_skip_invalid_sets_refused_rows_aside(store, engine, tmp_path):
    rows = [record("A-4", "Brand A"), record("B-SMS", "Brand B", channel="whatsapp", status="read")]
    path = write_csv(tmp_path / "in.csv", rows)
    report = load_files(engine, [path], TZ, skip_invalid=True)
    assert (report.rows_loaded, report.rows_rejected) == (1, 1)
    rejected = (tmp_path / "in.csv.rejected.csv").read_text().splitlines()
    assert rejected[1].startswith("3,B-SMS,whatsapp,")
    assert rejected[1].endswith(
        "channel: message 'B-SMS' was stored with channel 'sms'; "
        "a later record cannot change it to 'whatsapp'"
    )
    assert status_of(engine, "B-SMS") == "sent"
    assert_rollup_matches(engine)


# --------------------------------------------------------------------------- data version


def test_the_data_version_moves_only_when_something_changed(engine, tmp_path):
    path = write_csv(tmp_path / "in.csv", STORED)
    load_files(engine, [path], TZ)
    with engine.connect() as conn:
        first = data_version(conn)
    report = load_files(engine, [path], TZ)
    assert (report.rows_loaded, report.rows_changed) == (len(STORED), 0)
    with engine.connect() as conn:
        assert data_version(conn) == first
    later = write_csv(tmp_path / "later.csv", [record("A-1", "Brand A", status="delivered")])
    assert load_files(engine, [later], TZ).rows_changed == 1
    with engine.connect() as conn:
        assert data_version(conn) == first + 1


# --------------------------------------------------------------------------- random posts

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELD_VALUES = {
    "message_id": st.sampled_from(["A-1", "A-SMS", "A-MO", "B-1", "B-SMS", "N-1", ""]),
    "channel": st.sampled_from(["whatsapp", "sms", "fax", ""]),
    "direction": st.sampled_from(["MT", "MO", "xx"]),
    "subaccount": st.sampled_from(["Brand A", "Brand B", "", None]),
    "content_type": st.sampled_from(["text", "template", "gif"]),
    "phone": st.sampled_from(["+5511987654321", "12", ""]),
    "status": st.sampled_from(["sent", "delivered", "read", "error", "received", "lost"]),
    "error_code": st.sampled_from(["131026", None, 7]),
    "created_at": st.sampled_from([CREATED, "2026-11-20", "yesterday", None]),
    "delivered_at": st.sampled_from(["2026-11-20T14:05:00Z", None]),
    "read_at": st.sampled_from(["2026-11-20T14:06:00Z", None]),
}
RECORDS = st.fixed_dictionaries({}, optional=FIELD_VALUES) | JSON_VALUES


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.lists(RECORDS, max_size=4) | JSON_VALUES)
def test_random_posts_never_fail_nor_reach_another_subaccount(store, engine, body):
    client, key_a, _ = store
    before = brand_b(engine)
    response = post_api(client, key_a, body)
    assert response.status_code in (200, 400, 413, 422), response.data
    assert response.is_json
    assert brand_b(engine) == before
    assert_rollup_matches(engine)


def brand_b(engine):
    """Every stored row of Brand B's messages."""
    m = messages.c
    with engine.connect() as conn:
        b_id = conn.execute(
            select(subaccounts.c.id).where(subaccounts.c.name == "Brand B")
        ).scalar()
        return sorted(
            tuple(r) for r in conn.execute(select(messages).where(m.subaccount_id == b_id))
        )
