"""Webhooks on a ClickHouse store, (a) a two-shard cluster of clickhouse-server 18.16 on
loopback and (b) the embedded modern engine (chdb): bodies posted to the real endpoints, kept
in the relational inbox, merged into ClickHouse by the inbox worker through the same write as
the API and file loads. The figures are worked out by hand beside each test."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import select

from app import _make_engine, create_app
from data_access import audit
from data_access.clickhouse.binding import messages_of, unbind
from data_access.filters import AccessScope, ReportFilter
from data_access.retention import purge_messages
from data_access.tables import audit_log, pending_statuses, subaccounts
from ingest.channels import assign
from ingest.inbox import drain
from ingest.keys import create_key
from servertools.clickhouse import ClickHouseCluster
from tests.conftest import _schemad_store, _settings, write_csv
from tests.test_ingest_webhooks import (
    SECRET,
    SINCH_TOKEN,
    TZ,
    VERIFY,
    WAMID_A,
    WAMID_B,
    WAMID_C,
    WAMID_D,
    WAMID_E,
    WHATSAPP_NUMBERS,
    body_of,
    inbox_rows,
    post_sinch,
    post_whatsapp,
    send_record,
)

DAY = date(2026, 11, 20)
TODAY = date(2026, 11, 25)
_databases = itertools.count(1)


@pytest.fixture(scope="module")
def clickhouse_cluster():
    cluster = ClickHouseCluster(nodes=2)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["cluster-18.16", "chdb"])
def settings(request, tmp_path):
    if request.param == "chdb":
        url = f"chdb:///{tmp_path / 'clickhouse'}"
    else:
        url = request.getfixturevalue("clickhouse_cluster").url(f"hooks_{next(_databases)}")
    settings = _settings(
        tmp_path,
        url,
        WHATSAPP_APP_SECRET=SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY,
        SINCH_WEBHOOK_TOKEN=SINCH_TOKEN,
    )
    _schemad_store(request, settings)
    return settings


@pytest.fixture
def engine(settings):
    engine = _make_engine(settings)
    assert messages_of(engine) is not None
    yield engine
    unbind(engine)
    engine.dispose()


@pytest.fixture
def client(settings, engine):
    return create_app(settings, engine).server.test_client()


def load(engine, tmp_path, records: list[dict]) -> None:
    from data_access.clickhouse.loader import load_files

    path = write_csv(tmp_path / f"rows-{next(_databases)}.csv", records)
    report = load_files(messages_of(engine), [path], TZ)
    assert report.rows_loaded == len(records)


def assign_numbers(engine, subaccount: str = "Brand A") -> None:
    with engine.begin() as conn:
        for number in WHATSAPP_NUMBERS:
            assign(conn, "whatsapp", number, subaccount)


def daily(engine, channel: str) -> list:
    """The day's figures: total, sent, delivered, read, errors, received."""
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    flt = ReportFilter.build(channel, DAY, DAY, timezone=TZ, today=TODAY)
    frame = messages_of(engine).daily_series(scope, flt)
    row = frame.astype(object).where(frame.notna(), None).iloc[0]
    return [row[name] for name in ("total", "sent", "delivered", "read", "errors", "received")]


def message(engine, message_id: str) -> dict:
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    for channel in ("whatsapp", "sms"):
        flt = ReportFilter.build(channel, DAY, DAY, timezone=TZ, today=TODAY, message_id=message_id)
        rows = messages_of(engine).detailed_rows(scope, flt)
        if len(rows):
            row = rows.astype(object).where(rows.notna(), None).iloc[0].to_dict()
            for name in ("sent_at", "delivered_at", "read_at"):
                if row[name] is not None:  # shown in the account's zone (UTC-3)
                    row[name] = row[name].strftime("%H:%M:%S")
            return {
                name: row[name]
                for name in ("status", "error_code", "sent_at", "delivered_at", "read_at")
            }
    raise AssertionError(f"{message_id} is not stored")


SENDS = [
    send_record(WAMID_A, "+5511987654321"),
    send_record(WAMID_B, "+5511987650002"),
    send_record("sms-0101", "+5511987650101", "sms"),
    send_record("sms-0102", "+5511987650102", "sms"),
]


def test_whatsapp_statuses_and_sinch_reports_reach_the_figures_exactly(client, engine, tmp_path):
    load(engine, tmp_path, SENDS)
    assign_numbers(engine)
    # Every message queued on 2026-11-20 (11:00 in São Paulo): nothing sent yet.
    assert daily(engine, "whatsapp") == [2, 0, 0, 0, 0, 0]
    assert daily(engine, "sms") == [2, 0, 0, None, 0, 0]
    for name in ("whatsapp_delivered.json", "whatsapp_failed.json"):
        assert post_whatsapp(client, body_of(name)).status_code == 200
    for name in ("sinch_delivered.json", "sinch_failed.json"):
        assert post_sinch(client, body_of(name)).status_code == 200
    report = drain(engine, TZ)
    # The failed body names four messages; three were never sent from here, so they wait.
    assert (report.processed, report.failed, report.events, report.pending) == (4, 0, 7, 3)
    assert [row[2:] for row in inbox_rows(engine)] == [("done", None)] * 4
    # WhatsApp: A delivered (so sent too), B failed with 131026.
    assert daily(engine, "whatsapp") == [2, 1, 1, 0, 1, 0]
    # SMS: 0101 delivered, 0102 failed with code 11.
    assert daily(engine, "sms") == [2, 1, 1, None, 1, 0]
    assert message(engine, WAMID_A) == {
        "status": "delivered",
        "error_code": None,
        "sent_at": "11:00:09",
        "delivered_at": "11:00:09",
        "read_at": None,
    }
    assert message(engine, WAMID_B)["status"] == "error"
    assert message(engine, WAMID_B)["error_code"] == "131026"
    assert message(engine, "sms-0102")["error_code"] == "11"
    with engine.connect() as conn:
        kept = conn.execute(select(pending_statuses.c.message_id).order_by("message_id"))
        assert sorted(kept.scalars()) == sorted([WAMID_C, WAMID_D, WAMID_E])

    # The same bodies again, and the processed rows replayed: nothing moves.
    before = {i: message(engine, i) for i in (WAMID_A, WAMID_B, "sms-0101", "sms-0102")}
    for name in ("whatsapp_delivered.json", "whatsapp_failed.json"):
        post_whatsapp(client, body_of(name))
    for name in ("sinch_delivered.json", "sinch_failed.json"):
        post_sinch(client, body_of(name))
    drain(engine, TZ)
    assert daily(engine, "whatsapp") == [2, 1, 1, 0, 1, 0]
    assert daily(engine, "sms") == [2, 1, 1, None, 1, 0]
    assert {i: message(engine, i) for i in before} == before


def test_statuses_in_reverse_order_end_at_the_forward_most(client, engine, tmp_path):
    load(engine, tmp_path, SENDS[:1])
    assign_numbers(engine)
    for name in ("whatsapp_read.json", "whatsapp_delivered.json", "whatsapp_sent.json"):
        post_whatsapp(client, body_of(name))
        drain(engine, TZ)  # each body merged on its own, newest first
    assert message(engine, WAMID_A) == {
        "status": "read",
        "error_code": None,
        "sent_at": "11:00:05",
        "delivered_at": "11:00:09",
        "read_at": "11:02:30",
    }
    assert daily(engine, "whatsapp") == [1, 1, 1, 1, 0, 0]


def test_a_status_before_its_send_record_is_kept_then_applied_by_the_api(client, engine):
    assign_numbers(engine)
    post_whatsapp(client, body_of("whatsapp_delivered.json"))
    post_whatsapp(client, body_of("whatsapp_sent.json"))
    report = drain(engine, TZ)
    assert (report.processed, report.failed, report.pending) == (2, 0, 2)
    with engine.begin() as conn:
        _, key = create_key(conn, "Brand A")
    record = send_record(WAMID_A, "+5511987654321")
    del record["subaccount"]
    response = client.post(
        "/api/v1/messages", json=[record], headers={"Authorization": f"Bearer {key}"}
    )
    assert response.json == {"accepted": 1, "created": 1, "updated": 0, "statuses_applied": 2}
    assert message(engine, WAMID_A) == {
        "status": "delivered",
        "error_code": None,
        "sent_at": "11:00:05",
        "delivered_at": "11:00:09",
        "read_at": None,
    }
    assert daily(engine, "whatsapp") == [1, 1, 1, 0, 0, 0]
    with engine.connect() as conn:
        assert conn.execute(select(pending_statuses.c.message_id)).all() == []


def test_a_number_of_another_subaccount_is_refused_and_audited(client, engine, tmp_path):
    load(engine, tmp_path, SENDS[:1])
    assign_numbers(engine, "Brand B")
    post_whatsapp(client, body_of("whatsapp_delivered.json"))
    report = drain(engine, TZ)
    assert (report.processed, report.failed) == (1, 1)
    [(_, _, state, problems)] = inbox_rows(engine)
    assert (state, problems) == (
        "failed",
        f"message {WAMID_A}: message {WAMID_A!r} belongs to a subaccount this whatsapp "
        "business number 104857600012345 may not write",
    )
    assert message(engine, WAMID_A)["status"] == "queued"
    assert daily(engine, "whatsapp") == [1, 0, 0, 0, 0, 0]
    with engine.connect() as conn:
        refusals = conn.execute(
            select(audit_log.c.actor).where(audit_log.c.action == audit.WRITE_REFUSED)
        ).all()
    assert [tuple(r) for r in refusals] == [("whatsapp business number 104857600012345",)]


def test_inbound_messages_are_counted_as_received(client, engine):
    assign_numbers(engine)
    post_whatsapp(client, body_of("whatsapp_inbound.json"))
    post_sinch(client, body_of("sinch_mo_text.json"))
    with engine.begin() as conn:
        assign(conn, "sms", "+55 11 93000-9000", "Brand S")
    report = drain(engine, TZ)
    assert (report.processed, report.failed) == (2, 0)
    # Eleven WhatsApp messages (a reaction is skipped) and one SMS, all on 2026-11-20.
    assert daily(engine, "whatsapp") == [0, 0, 0, 0, 0, 11]
    assert daily(engine, "sms") == [0, 0, 0, None, 0, 1]
    post_whatsapp(client, body_of("whatsapp_inbound.json"))
    drain(engine, TZ)
    assert daily(engine, "whatsapp") == [0, 0, 0, 0, 0, 11]


def test_the_servers_hourly_purge_empties_old_days_and_keeps_their_figures(
    client, engine, tmp_path
):
    load(engine, tmp_path, SENDS)
    assign_numbers(engine)
    figures = (daily(engine, "whatsapp"), daily(engine, "sms"))
    assert figures == ([2, 0, 0, 0, 0, 0], [2, 0, 0, None, 0, 0])
    # RETENTION_DAYS=90 seen from 2027-03-01: the first day kept is 2026-12-01.
    assert purge_messages(engine, 90, date(2027, 3, 1)) == 4
    assert (daily(engine, "whatsapp"), daily(engine, "sms")) == figures
    with engine.connect() as conn:
        scope = AccessScope.of(conn.execute(select(subaccounts.c.id)).scalars())
    flt = ReportFilter.build("whatsapp", DAY, DAY, timezone=TZ, today=TODAY)
    assert messages_of(engine).detailed_rows(scope, flt).empty
    # A late status for a message gone waits, as for one never sent.
    post_whatsapp(client, body_of("whatsapp_read.json"))
    assert drain(engine, TZ).pending == 1
    assert (daily(engine, "whatsapp"), daily(engine, "sms")) == figures
