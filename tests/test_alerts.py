"""Alert rules: measured on the store, notified once on failing and once on recovery, by a real
SMTP server and a real webhook receiver; scope; the command; the page."""

from __future__ import annotations

import json
from contextvars import copy_context
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app import build_parser, create_app
from commands import alerts as alerts_command
from dashboard.callbacks import alerts as alerts_callbacks
from dashboard.layouts import alerts as alerts_page
from dashboard.layouts import shell
from dashboard.services import Services, Viewer
from data_access import alerts
from data_access.clickhouse import binding
from data_access.filters import AccessScope
from data_access.outbound_tables import ensure_tables
from demo.accounts import DEMO_RULE, create_demo_accounts
from ingest.keys import subaccount_id
from notify.worker import MinuteWorker
from tests.auth_helpers import add_account, subaccount_ids
from tests.notify_helpers import SmtpSink, WebhookReceiver

# The store's clock is naive UTC; the worker is handed each minute by hand.
T0 = datetime(2026, 11, 20, 15, 0)


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_settings(store_settings, smtp):
    return replace(
        store_settings,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        smtp_sender="alerts@reports.test",
    )


@pytest.fixture
def store(engine):
    """The store with the outbound tables and the two brands' subaccounts."""
    ensure_tables(engine)
    with engine.begin() as conn:
        for name in ("Brand A", "Brand B"):
            subaccount_id(conn, name, create=True)
    return engine


def message(n: int, at: datetime, status: str, subaccount="Brand A", **extra) -> dict:
    stamp = at.isoformat() + "Z"
    return {
        "message_id": f"{subaccount[-1]}-{status}-{n}-{at:%H%M}",
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": subaccount,
        "content_type": "text",
        "phone": f"+55119876{n:05d}",
        "status": status,
        "created_at": stamp,
        "sent_at": stamp,
        "delivered_at": stamp if status == "delivered" else "",
        **extra,
    }


def batch(count: int, at: datetime, status: str, **extra) -> list[dict]:
    return [message(n, at, status, **extra) for n in range(count)]


def rule(store, name="Delivery floor", **values) -> alerts.AlertRule:
    ids = subaccount_ids(store)
    fields = {
        "name": name,
        "owner_id": None,
        "owner": "ops",
        "owner_scope": AccessScope.of(ids.values()),
        "channel": "whatsapp",
        "subaccount_ids": [ids["Brand A"]],
        "metric": "delivered_pct",
        "comparison": "<",
        "threshold": 90.0,
        "window_minutes": 60,
        "min_volume": 10,
        "notify_by": "email",
        "target": "ops@example.com, oncall@example.com",
        "now": T0 - timedelta(hours=1),
        **values,
    }
    with store.begin() as conn:
        return alerts.create_rule(conn, **fields)


def test_an_alert_fires_once_stays_quiet_under_the_floor_and_recovers_once(
    store, load_rows, mail_settings, smtp
):
    # Brand A's first message is hours old (outside every window); Brand B is not watched.
    load_rows(
        store,
        batch(1, T0 - timedelta(hours=3), "sent") + batch(20, T0, "error", subaccount="Brand B"),
    )
    made = rule(store)
    worker = MinuteWorker(store, mail_settings)
    # Five failures: under the floor of ten, nothing is said.
    load_rows(store, batch(5, T0 - timedelta(minutes=10), "error"))
    assert worker.tick(T0).alerts == []
    # Fifteen sent, none delivered: it fails, once.
    load_rows(store, batch(10, T0 - timedelta(minutes=5), "error"))
    first = worker.tick(T0 + timedelta(minutes=1)).alerts
    assert [(o.kind, o.delivered) for o in first] == [("failing", True)]
    assert worker.tick(T0 + timedelta(minutes=2)).alerts == []
    assert worker.tick(T0 + timedelta(minutes=3)).alerts == []
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail.envelope_to == ["ops@example.com", "oncall@example.com"]
    assert mail.message["From"] == "alerts@reports.test"
    assert mail.subject == "Alerta: Delivery floor está fallando"
    assert mail.body.splitlines()[:3] == [
        "La regla empezó a fallar.",
        "",
        # Spanish writes a no-break space before the percent sign.
        "% entregados: 0,0\xa0% (la regla falla cuando es < 90,0\xa0%)",
    ]
    assert "15 mensajes enviados (mínimo 10)" in mail.body
    # 135 delivered of 150: 90 %, no longer under 90.
    load_rows(store, batch(135, T0 + timedelta(minutes=3), "delivered"))
    second = worker.tick(T0 + timedelta(minutes=4)).alerts
    assert [(o.kind, o.delivered) for o in second] == [("recovered", True)]
    assert worker.tick(T0 + timedelta(minutes=5)).alerts == []
    assert [m.subject for m in smtp.messages] == [
        "Alerta: Delivery floor está fallando",
        "Recuperada: Delivery floor",
    ]
    with store.connect() as conn:
        current = alerts.get_rule(conn, made.id)
        sent = alerts.notifications(conn, [made.id])[made.id]
    assert current.state == "ok" and current.last_volume == 150
    assert current.last_value == 90.0
    assert [(n.kind, n.volume, n.delivered) for n in sent] == [
        ("recovered", 150, True),
        ("failing", 15, True),
    ]
    # An hour later the window has moved past every message: under the floor, still ok.
    assert worker.tick(T0 + timedelta(hours=2)).alerts == []


def test_two_workers_evaluating_the_same_minute_notify_once(store, load_rows, mail_settings, smtp):
    rule(store, min_volume=1)
    load_rows(store, batch(3, T0 - timedelta(minutes=1), "error"))
    first, second = MinuteWorker(store, mail_settings), MinuteWorker(store, mail_settings)
    with store.connect() as conn:
        (stale,) = alerts.list_rules(conn)
    # Both read the rule as ok; only the first state change takes.
    first.tick(T0)
    with store.begin() as conn:
        assert alerts.change_state(conn, stale, alerts.FAILING, T0) is False
    assert second.tick(T0).alerts == []
    assert len(smtp.messages) == 1


def test_a_webhook_is_signed_with_the_rules_secret(store, load_rows, mail_settings):
    receiver = WebhookReceiver("s3cret-of-the-rule").start()
    try:
        made = rule(
            store,
            name="Undeliverable",
            metric="error_code_count",
            error_code="131026",
            comparison=">=",
            threshold=3,
            min_volume=1,
            notify_by="webhook",
            target=receiver.url,
            secret="s3cret-of-the-rule",
        )
        load_rows(store, batch(2, T0 - timedelta(minutes=2), "error", error_code="131026"))
        load_rows(store, batch(4, T0 - timedelta(minutes=3), "error", error_code="131047"))
        worker = MinuteWorker(store, mail_settings)
        assert worker.tick(T0).alerts == []
        load_rows(
            store,
            [message(9, T0 - timedelta(minutes=1), "error", error_code="131026")],
        )
        (outcome,) = worker.tick(T0 + timedelta(minutes=1)).alerts
        assert outcome.delivered
        (call,) = receiver.calls
        assert call.signature_ok and call.path == "/hook"
        assert call.headers["Content-Type"] == "application/json"
        sent = json.loads(call.body)
        assert sent["event"] == "failing" and sent["value"] == 3.0 and sent["volume"] == 7
        assert sent["rule"]["id"] == made.id and sent["rule"]["subaccounts"] == ["Brand A"]
        assert sent["at"] == "2026-11-20T15:01:00Z"
        # A receiver with another secret sees a signature that does not match.
        receiver.secret = "another"
        outcome = alerts_command.send_test(store, mail_settings, made.id, T0)
        assert outcome.delivered and receiver.calls[-1].signature_ok is False
        assert json.loads(receiver.calls[-1].body)["event"] == "test"
    finally:
        receiver.stop()


def test_rules_wait_on_a_clickhouse_store_instead_of_recovering(
    store, load_rows, mail_settings, smtp
):
    rule(store, min_volume=1)
    load_rows(store, batch(3, T0 - timedelta(minutes=1), "error"))

    class Bound:
        def close(self) -> None:
            pass

    binding.bind(store, Bound())
    try:
        assert MinuteWorker(store, mail_settings).tick(T0).alerts == []
    finally:
        binding.unbind(store)
    assert [o.kind for o in MinuteWorker(store, mail_settings).tick(T0).alerts] == ["failing"]


def test_a_failed_delivery_is_recorded_with_its_reason(store, load_rows, mail_settings):
    receiver = WebhookReceiver("k", status=500).start()
    try:
        made = rule(store, min_volume=1, notify_by="webhook", target=receiver.url, secret="k")
        load_rows(store, batch(2, T0 - timedelta(minutes=1), "error"))
        (outcome,) = MinuteWorker(store, mail_settings).tick(T0).alerts
    finally:
        receiver.stop()
    assert outcome.delivered is False
    assert outcome.problem == f"{receiver.url} answered 500"
    with store.connect() as conn:
        (note,) = alerts.notifications(conn, [made.id])[made.id]
    assert (note.kind, note.delivered, note.problem) == ("failing", False, outcome.problem)


def test_error_and_stuck_measures(store, load_rows):
    load_rows(
        store,
        batch(3, T0 - timedelta(minutes=50), "sent")
        + batch(2, T0 - timedelta(minutes=10), "sent")
        + batch(5, T0 - timedelta(minutes=20), "error")
        + batch(10, T0 - timedelta(minutes=20), "delivered")
        # Outside the window, and MO: never counted.
        + batch(7, T0 - timedelta(minutes=90), "error")
        + [message(1, T0 - timedelta(minutes=5), "received", direction="MO")],
    )
    stuck = rule(store, metric="stuck_sent", stuck_minutes=30, comparison=">", threshold=0)
    errors = rule(store, metric="error_pct", comparison=">", threshold=20)
    with store.connect() as conn:
        assert alerts.measure(conn, stuck, T0) == (3.0, 20)
        assert alerts.measure(conn, errors, T0) == (25.0, 20)
        assert alerts.measure(conn, errors, T0 - timedelta(hours=3)) == (0.0, 0)


def test_rules_are_bounded_by_their_owners_scope(store, load_rows):
    load_rows(store, batch(1, T0, "sent") + batch(1, T0, "sent", subaccount="Brand B"))
    ids = subaccount_ids(store)
    own = AccessScope.of([ids["Brand A"]])
    with store.begin() as conn:
        with pytest.raises(alerts.AlertRuleError) as refused:
            alerts.create_rule(
                conn,
                name="Not mine",
                owner_id=7,
                owner="ana",
                owner_scope=own,
                channel="whatsapp",
                subaccount_ids=[ids["Brand B"]],
                metric="error_pct",
                comparison=">",
                threshold=5,
                window_minutes=60,
                min_volume=0,
                notify_by="email",
                target="ana@example.com",
                now=T0,
            )
    assert refused.value.code == "scope"
    everything = rule(store, name="Both brands", subaccount_ids=list(ids.values()))
    mine = rule(store, name="Brand A only", owner_scope=own, subaccount_ids=[])
    assert mine.subaccount_ids == (ids["Brand A"],)
    with store.connect() as conn:
        assert [r.name for r in alerts.list_rules(conn, own)] == ["Brand A only"]
        assert [r.id for r in alerts.list_rules(conn, None)] == [everything.id, mine.id]


def viewer_of(account, scope, role="user") -> Viewer:
    return Viewer(account.id, account.username, role, scope, "en", "America/Sao_Paulo")


def test_the_alerts_page_lists_and_manages_the_viewers_rules(store_settings, store, load_rows):
    load_rows(store, batch(1, T0, "sent") + batch(1, T0, "sent", subaccount="Brand B"))
    ana = add_account(store, "ana", "ana-password-1", subaccount_names=("Brand A",))
    ids = subaccount_ids(store)
    mine = rule(store, name="Ana's floor", subaccount_ids=[ids["Brand A"]])
    theirs = rule(store, name="Brand B errors", subaccount_ids=[ids["Brand B"]])
    app = create_app(store_settings, store)
    services = Services(settings=store_settings, engine=store)
    viewer = viewer_of(ana, AccessScope.of([ids["Brand A"]]))

    def as_ana(function, *args):
        def run():
            with services.acting_as(viewer):
                return function(*args)

        return copy_context().run(run)

    page = str(as_ana(alerts_page.layout, services, viewer, "en"))
    assert "Ana's floor" in page and "Brand B errors" not in page
    assert "Delivered % < 90.0% in the last 60 min, with at least 10 sent" in page
    # Someone else's rule cannot be switched off from this page, whatever the browser sends.
    notice, _ = as_ana(alerts_callbacks.toggle_rule, services, None, theirs.id)
    assert notice.children == "That rule does not exist or is not yours to manage."
    notice, _ = as_ana(alerts_callbacks.toggle_rule, services, None, mine.id)
    assert notice.children == "Rule “Ana's floor” is disabled."
    with store.connect() as conn:
        assert alerts.get_rule(conn, mine.id).active is False
        assert alerts.get_rule(conn, theirs.id).active is True
    # A rule added from the form watches her subaccounts only.
    form = {
        "name": "Stuck at sent",
        "channel": "whatsapp",
        "subaccounts": None,
        "metric": "stuck_sent",
        "stuck_minutes": 45,
        "comparison": ">",
        "threshold": 20,
        "window": 120,
        "min_volume": 0,
        "notify_by": "email",
        "target": "ana@example.com",
    }
    notice, _ = as_ana(alerts_callbacks.add_rule, services, None, form)
    assert notice.children == "Rule “Stuck at sent” added."
    notice, _ = as_ana(
        alerts_callbacks.add_rule, services, None, {**form, "subaccounts": [ids["Brand B"]]}
    )
    assert notice.children == "A rule can watch only subaccounts you can see."
    notice, _ = as_ana(alerts_callbacks.add_rule, services, None, {**form, "threshold": "x"})
    assert notice.children == "Threshold, window, volume and minutes must be numbers."
    # A webhook is an address the server calls: only an administrator chooses one.
    hook = {**form, "notify_by": "webhook", "target": "http://10.0.0.1/", "secret": "s3cret"}
    notice, _ = as_ana(alerts_callbacks.add_rule, services, None, hook)
    assert notice.children == (
        "Only an administrator may send alerts to a webhook (the server calls its address); "
        "choose e-mail."
    )
    with store.connect() as conn:
        added = alerts.list_rules(conn, viewer.scope)[-1]
    assert (added.name, added.subaccount_ids, added.stuck_minutes, added.owner) == (
        "Stuck at sent",
        (ids["Brand A"],),
        45,
        "ana",
    )
    # The page is in the nav, in each language.
    bar = str(shell.top_bar(viewer, "pt-BR", "/"))
    assert "Alertas" in bar and "/alerts" in bar
    assert app.server.test_client().get("/alerts").status_code == 302


class Capture:
    def __init__(self):
        self.lines: list[str] = []

    def out(self, text: str) -> None:
        self.lines.append(text)

    err = out


def command(store, settings, *argv: str) -> tuple[int, list[str]]:
    console = Capture()
    args = build_parser().parse_args(["alerts", *argv])
    return alerts_command.run(args, console, store, settings), console.lines


def test_the_alerts_command_adds_lists_disables_and_tests(store, load_rows, mail_settings, smtp):
    load_rows(store, batch(1, T0, "sent"))
    code, lines = command(
        store,
        mail_settings,
        "add",
        "--name",
        "Floor",
        "--subaccount",
        "Brand A",
        "--metric",
        "delivered_pct",
        "--comparison",
        "<",
        "--threshold",
        "95",
        "--min-volume",
        "50",
        "--email",
        "ops@example.com",
    )
    assert (code, lines) == (0, ["Alert rule 1 (Floor) added."])
    code, lines = command(store, mail_settings, "list")
    assert lines == [
        "   1  ok        Floor  [whatsapp] delivered_pct < 95 over 60 min, at least 50 sent"
        "  -> email ops@example.com  (owner command line)"
    ]
    assert command(store, mail_settings, "test", "1") == (
        0,
        ["Test notification of rule 1 sent by email."],
    )
    assert smtp.messages[-1].subject == "Prueba de la alerta Floor"
    assert command(store, mail_settings, "disable", "1") == (
        0,
        ["Alert rule 1 (Floor) is disabled."],
    )
    assert command(store, mail_settings, "list")[1][0].startswith("   1  disabled  Floor")
    assert command(store, mail_settings, "disable", "9") == (
        2,
        ["There is no alert rule 9; `alerts list` shows them."],
    )
    code, lines = command(
        store, mail_settings, "add", "--name", "X", "--metric", "error_code_count",
        "--comparison", ">", "--threshold", "1", "--email", "a@example.com",
    )  # fmt: skip
    assert (code, lines) == (2, ["Name the error code to count."])


def test_the_demo_accounts_come_with_a_sample_rule(engine):
    with engine.begin() as conn:
        for name in ("Zeta Shop", "Alpha Bank"):
            subaccount_id(conn, name, create=True)
        create_demo_accounts(conn)
        (sample,) = alerts.list_rules(conn)
        # Run again (`make run` does each time), it adds no second one.
        create_demo_accounts(conn)
        assert len(alerts.list_rules(conn)) == 1
    assert (sample.name, sample.owner, sample.metric, sample.comparison, sample.threshold) == (
        DEMO_RULE,
        "admin",
        "delivered_pct",
        "<",
        85.0,
    )
    assert len(sample.subaccount_ids) == 2 and sample.active and sample.state == "ok"
