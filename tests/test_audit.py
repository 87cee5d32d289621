"""The audit trail: each audited action leaves exactly one row (who, what, when, from where),
rows are kept AUDIT_KEEP_DAYS, and only admins read them (the command and the page)."""

from __future__ import annotations

import argparse
import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from app import STORE_COMMANDS, build_parser, create_app
from commands.console import Console
from commands.control import ControlServer, delegate
from dashboard import ids
from dashboard.callbacks import audit as audit_callbacks
from dashboard.callbacks.routing import render_page
from dashboard.services import Services, Viewer
from data_access import accounts, audit
from data_access.filters import AccessScope, today_in
from data_access.tables import audit_log, subaccounts
from exports import jobs
from exports.worker import ExportPool
from reporting.i18n import has, t
from reporting.languages import LANGUAGES
from tests.auth_helpers import add_account, csrf_token, sign_in, subaccount_ids, two_brand_rows
from tests.conftest import TIMEZONE

CALLBACK = "/_dash-update-component"


class Captured(Console):
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.errors: list[str] = []

    def out(self, text: str) -> None:
        self.lines.append(text)

    def err(self, text: str) -> None:
        self.errors.append(text)


def rows(engine, action: str | None = None) -> list[audit.AuditEntry]:
    with engine.connect() as conn:
        found = audit.entries(conn, limit=10_000)
    return [row for row in found if action is None or row.action == action]


def count(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar())


class Counts:
    """The audit rows added since the last look, by action."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.seen = {row.id for row in rows(engine)}

    def new(self) -> list[tuple[str, str, str, str | None]]:
        fresh = [row for row in rows(self.engine) if row.id not in self.seen]
        self.seen |= {row.id for row in fresh}
        return sorted((row.actor, row.action, row.detail, row.address) for row in fresh)


# ---- the table and record() ----


def test_a_row_is_written_in_the_callers_transaction_and_only_there(engine):
    with engine.begin() as conn:
        audit.record(
            conn, actor="ana", action=audit.SIGN_IN, detail="password", address="192.0.2.1"
        )
    with pytest.raises(RuntimeError), engine.begin() as conn:
        audit.record(conn, actor="ana", action=audit.ACCOUNT_CHANGED, detail="rolled back")
        raise RuntimeError("the change failed")
    [row] = rows(engine)
    assert (row.actor, row.action, row.detail, row.address) == (
        "ana",
        "sign_in",
        "password",
        "192.0.2.1",
    )
    assert abs(row.at - datetime.utcnow()) < timedelta(minutes=1)
    with pytest.raises(ValueError), engine.begin() as conn:
        audit.record(conn, actor="ana", action="deleted_everything")


def test_rows_past_the_kept_days_are_purged_and_no_others(engine):
    now = datetime(2026, 11, 20, 12, 0)
    with engine.begin() as conn:
        for days in (400, 366, 364, 1):
            conn.execute(
                insert(audit_log).values(
                    at=now - timedelta(days=days),
                    actor=f"{days}-days-ago",
                    action=audit.SIGN_IN,
                    detail="",
                )
            )
        assert audit.purge(conn, 365, now) == 2
    assert sorted(row.actor for row in rows(engine)) == ["1-days-ago", "364-days-ago"]
    # The server purges at start (and then daily) with AUDIT_KEEP_DAYS.
    retention = audit.Retention(engine, keep_days=2).start()
    retention.stop()
    assert [row.actor for row in rows(engine)] == []


def test_every_action_has_a_name_in_each_language():
    for action in audit.ACTIONS:
        assert has(f"audit.action.{action}")
    assert len(set(audit.ACTIONS)) == len(audit.ACTIONS)
    assert [t(lang, "audit.action.sign_in_failed") for lang in LANGUAGES] == [
        "Inicio de sesión fallido",
        "Login malsucedido",
        "Failed sign-in",
    ]


# ---- sign-in and the profile page ----


@pytest.fixture
def app(store_settings, engine):
    return create_app(store_settings, engine)


def test_sign_ins_and_failed_sign_ins_leave_one_row_each(app, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    counts = Counts(engine)
    browser = app.server.test_client()
    browser.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    sign_in(browser, "ana", "wrong-password")
    assert counts.new() == [("ana", "sign_in_failed", "wrong password", "192.0.2.7")]
    sign_in(browser, "nobody", "wrong-password")
    assert counts.new() == [("nobody", "sign_in_failed", "unknown account", "192.0.2.7")]
    assert sign_in(browser, "ana", "ana-password-1").status_code == 302
    assert counts.new() == [("ana", "sign_in", "password", "192.0.2.7")]

    # A throttled attempt checks nothing and adds no row (the failures that caused it did).
    other = app.server.test_client()
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        sign_in(other, "bruno", "wrong-password")
    assert len(counts.new()) == accounts.MAX_FAILURES_PER_USERNAME
    assert sign_in(other, "bruno", "wrong-password").status_code == 429
    assert counts.new() == []

    with engine.begin() as conn:
        accounts.set_active(conn, "ana", False)
    assert sign_in(app.server.test_client(), "ana", "ana-password-1").status_code == 403
    assert counts.new() == [("ana", "sign_in_failed", "account disabled", "127.0.0.1")]


def test_profile_changes_leave_one_row_each(app, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    browser = app.server.test_client()
    assert sign_in(browser, "ana", "ana-password-1").status_code == 302
    counts = Counts(engine)

    def post(**form):
        token = csrf_token(browser.get("/profile").get_data(as_text=True))
        return browser.post("/profile", data={**form, "csrf_token": token})

    post(action="preferences", language="en", timezone="America/Bogota")
    assert counts.new() == [
        (
            "ana",
            "account_changed",
            "ana: language en, time zone America/Bogota",
            "127.0.0.1",
        )
    ]
    post(action="preferences", language="en", timezone="Mars/Olympus")
    assert counts.new() == []  # refused: nothing changed, nothing recorded
    post(action="password", current="not-it-at-all", new="x", confirm="x")
    assert counts.new() == [
        ("ana", "sign_in_failed", "wrong current password on the profile page", "127.0.0.1")
    ]
    post(
        action="password", current="ana-password-1", new="ana-password-2", confirm="ana-password-2"
    )
    assert counts.new() == [
        ("ana", "account_changed", "ana: new password; other sessions ended", "127.0.0.1")
    ]


# ---- commands: users and apikeys ----


def command(engine, settings, *argv: str, password: str | None = None) -> Captured:
    args = build_parser().parse_args(list(argv))
    if password is not None:
        args.password_hash = accounts.hash_password(password, args.username)
    console = Captured()
    STORE_COMMANDS[args.command].run(args, console, engine, settings)
    return console


def test_account_and_grant_commands_leave_one_row_per_change(engine, store_settings):
    with engine.begin() as conn:
        conn.execute(insert(subaccounts).values(name="Brand A"))
        conn.execute(insert(subaccounts).values(name="Brand B"))
    counts = Counts(engine)
    actor = audit.command_actor()
    run = lambda *argv, **kw: command(engine, store_settings, *argv, **kw)  # noqa: E731

    run("users", "add", "bia", "--subaccount", "Brand A", password="bia-password-1")
    assert counts.new() == [
        (actor, "account_changed", "bia: added as user", None),
        (actor, "grant_changed", "bia: granted Brand A", None),
    ]
    run("users", "grant", "bia", "Brand B")
    assert counts.new() == [(actor, "grant_changed", "bia: granted Brand B", None)]
    run("users", "grant", "bia", "Brand B")
    assert counts.new() == []  # nothing changed
    run("users", "revoke", "bia", "Brand A")
    assert counts.new() == [(actor, "grant_changed", "bia: revoked Brand A", None)]
    run("users", "passwd", "bia", password="bia-password-2")
    assert counts.new() == [(actor, "account_changed", "bia: new password; sessions ended", None)]
    run("users", "disable", "bia")
    assert counts.new() == [(actor, "account_changed", "bia: disabled", None)]
    run("users", "enable", "bia")
    assert counts.new() == [(actor, "account_changed", "bia: enabled", None)]
    run("users", "reset-totp", "bia")
    assert counts.new() == [(actor, "account_changed", "bia: two-step verification reset", None)]
    refused = run("users", "grant", "nobody", "Brand A")
    assert refused.errors and counts.new() == []
    run("users", "list")
    assert counts.new() == []


def test_api_key_creation_and_revocation_leave_one_row_each(engine, store_settings):
    counts = Counts(engine)
    actor = audit.command_actor()
    made = command(engine, store_settings, "apikeys", "add", "--subaccount", "Brand A")
    key_id = int(re.match(r"API key (\d+)", made.lines[0]).group(1))
    sub_id = subaccount_ids(engine)["Brand A"]
    [(who, action, detail, address)] = counts.new()
    assert (who, action, address) == (actor, "key_created", None)
    assert re.fullmatch(rf"key {key_id} \(\S+…\) of Brand A", detail)
    created = rows(engine, "key_created")[0]
    assert (created.subaccount_id, created.subaccount) == (sub_id, "Brand A")
    # The plain key is never in the trail.
    assert made.lines[1] not in detail
    command(engine, store_settings, "apikeys", "revoke", str(key_id))
    assert [row[1] for row in counts.new()] == ["key_revoked"]
    assert rows(engine, "key_revoked")[0].subaccount_id == sub_id
    command(engine, store_settings, "apikeys", "revoke", str(key_id))
    assert counts.new() == []  # already revoked


# ---- exports ----


def applied_yesterday() -> dict:
    yesterday = str(today_in(TIMEZONE) - timedelta(days=1))
    return {"channel": "whatsapp", "view": "detailed", "start": yesterday, "end": yesterday}


def click_export(client) -> None:
    response = client.post(
        CALLBACK,
        json={
            "output": f"{ids.EXPORT_NOTICE}.children",
            "outputs": {"id": ids.EXPORT_NOTICE, "property": "children"},
            "inputs": [
                {"id": ids.EXPORT_CSV, "property": "n_clicks", "value": 1},
                {"id": ids.EXPORT_XLSX, "property": "n_clicks", "value": None},
            ],
            "changedPropIds": [f"{ids.EXPORT_CSV}.n_clicks"],
            "state": [
                {"id": ids.APPLIED_FILTERS, "property": "data", "value": applied_yesterday()},
                {"id": ids.LANGUAGE_STORE, "property": "data", "value": "en"},
            ],
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_exports_asked_and_downloaded_leave_one_row_each(
    store_settings, engine, load_rows, tmp_path
):
    load_rows(engine, two_brand_rows())
    settings = replace(store_settings, export_dir=tmp_path / "exports")
    app = create_app(settings, engine)
    add_account(engine, "bia", "bia-password-1", subaccount_names=("Brand A",))
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.8"
    assert sign_in(client, "bia", "bia-password-1").status_code == 302
    counts = Counts(engine)

    click_export(client)
    click_export(client)  # a double click makes one job, and one row
    everyone = AccessScope.of(subaccount_ids(engine).values())
    [job] = jobs.list_jobs(engine, jobs.Requester(None, "root", True, everyone))
    [(who, action, detail, address)] = counts.new()
    assert (who, action, address) == ("bia", "export_requested", "192.0.2.8")
    assert detail.startswith(f"job {job.id}: csv of the detailed whatsapp report, ")
    assert rows(engine, "export_requested")[0].subaccount_id == subaccount_ids(engine)["Brand A"]

    ExportPool(engine, settings, workers=1).run_pending()
    assert client.head(f"/exports/download/{job.id}").status_code == 200
    assert counts.new() == []  # a HEAD sends no file
    assert client.get(f"/exports/download/{job.id}").status_code == 200
    assert [(r[0], r[1], r[3]) for r in counts.new()] == [("bia", "export_downloaded", "192.0.2.8")]
    assert client.get("/exports/download/" + "0" * 32).status_code == 404
    assert counts.new() == []


def test_a_command_line_export_leaves_one_row(engine, store_settings, load_rows, tmp_path):
    load_rows(engine, two_brand_rows())
    counts = Counts(engine)
    yesterday = str(today_in(TIMEZONE) - timedelta(days=1))
    out = tmp_path / "report.csv"
    done = command(
        engine,
        store_settings,
        *("export", "--view", "consolidated", "--format", "csv", "--channel", "whatsapp"),
        *("--start", yesterday, "--end", yesterday, "--out", str(out)),
    )
    assert out.is_file(), done.errors
    [(who, action, detail, _address)] = counts.new()
    assert (who, action) == (audit.command_actor(), "export_requested")
    assert detail.endswith(f"written to {out.resolve()}")


# ---- reading the trail: the command and the admin page ----


def seed(engine) -> None:
    now = datetime.utcnow()
    with engine.begin() as conn:
        for actor, action, days in (
            ("ana", audit.SIGN_IN, 10),
            ("ana", audit.EXPORT_REQUESTED, 2),
            ("bia", audit.SIGN_IN_FAILED, 1),
        ):
            conn.execute(
                insert(audit_log).values(
                    at=now - timedelta(days=days),
                    actor=actor,
                    action=action,
                    detail=f"{actor} {action}",
                    address="192.0.2.9",
                )
            )


def test_the_audit_command_filters_by_user_and_since(engine, store_settings):
    seed(engine)
    everything = command(engine, store_settings, "audit")
    assert everything.lines[0].split() == ["at", "(UTC)", "actor", "action", "address"] + [
        "subaccount",
        "detail",
    ]
    assert [line.split()[2] for line in everything.lines[1:]] == ["bia", "ana", "ana"]
    mine = command(engine, store_settings, "audit", "--user", "ana")
    assert [line.split()[3] for line in mine.lines[1:]] == ["export_requested", "sign_in"]
    since = str((datetime.utcnow() - timedelta(days=5)).date())
    recent = command(engine, store_settings, "audit", "--user", "ana", "--since", since)
    assert [line.split()[3] for line in recent.lines[1:]] == ["export_requested"]
    assert command(engine, store_settings, "audit", "--user", "nobody").lines == [
        "No audit rows match."
    ]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["audit", "--since", "yesterday"])


def test_the_audit_command_runs_in_the_serving_process(duckdb_engine, duckdb_settings, tmp_path):
    seed(duckdb_engine)
    runners = {
        "audit": lambda a, c: STORE_COMMANDS["audit"].run(a, c, duckdb_engine, duckdb_settings)
    }
    server = ControlServer(tmp_path / "store.sock", runners)
    server.start()
    try:
        console = Captured()
        args = argparse.Namespace(**vars(build_parser().parse_args(["audit", "--user", "bia"])))
        assert delegate(tmp_path / "store.sock", args, console) == 0
    finally:
        server.stop()
    assert [line.split()[2] for line in console.lines[1:]] == ["bia"]


def _viewer(role: str) -> Viewer:
    return Viewer(1, "ana", role, AccessScope.of([]), "en", TIMEZONE)


def _texts(component) -> str:
    return str(component.to_plotly_json())


def test_the_page_is_for_admins_and_filters_by_user_and_since(store_settings, engine):
    seed(engine)
    services = Services(settings=store_settings, engine=engine)
    with services.acting_as(_viewer("admin")):
        page, _ = render_page(services, "/audit", "", "en", None)
        shown = _texts(page)
        assert "Audit trail" in shown and "Kept 365 days" in shown
        assert "ana export_requested" in shown and "bia sign_in_failed" in shown
        assert "Failed sign-in" in shown
        table, message = audit_callbacks.show_entries(services, "bia", None, "en")
        assert "bia sign_in_failed" in _texts(table[1]) and "ana " not in _texts(table[1])
        assert message == ""
        since = str(today_in(TIMEZONE) - timedelta(days=5))
        table, _ = audit_callbacks.show_entries(services, "ana", since, "en")
        assert "ana export_requested" in _texts(table[1])
        assert "ana sign_in" not in _texts(table[1]).replace("ana sign_in_failed", "")
        table, message = audit_callbacks.show_entries(services, "", "20261-99", "en")
        assert table == [] and "is not a valid date" in _texts(message)
    with services.acting_as(_viewer("user")):
        page, _ = render_page(services, "/audit", "", "pt-BR", None)
        shown = _texts(page)
        assert "Somente administradores veem o registro de auditoria." in shown
        assert "192.0.2.9" not in shown and "sign_in_failed" not in shown
        assert ids.AUDIT_LINK not in shown
        table, message = audit_callbacks.show_entries(services, "", None, "es")
        assert table == []
        assert "Solo los administradores" in _texts(message)


def test_a_forged_post_of_the_page_callback_by_a_user_gets_no_rows(app, engine):
    seed(engine)
    add_account(engine, "bia", "bia-password-1", subaccount_names=("Brand A",))
    client = app.server.test_client()
    assert sign_in(client, "bia", "bia-password-1").status_code == 302
    response = client.post(
        CALLBACK,
        json={
            "output": f"..{ids.AUDIT_TABLE}.children...{ids.AUDIT_MESSAGE}.children..",
            "outputs": [
                {"id": ids.AUDIT_TABLE, "property": "children"},
                {"id": ids.AUDIT_MESSAGE, "property": "children"},
            ],
            "inputs": [
                {"id": ids.AUDIT_APPLY, "property": "n_clicks", "value": 1},
                {"id": ids.AUDIT_USER, "property": "value", "value": ""},
                {"id": ids.AUDIT_SINCE, "property": "value", "value": None},
            ],
            "state": [{"id": ids.LANGUAGE_STORE, "property": "data", "value": "en"}],
            "changedPropIds": [f"{ids.AUDIT_APPLY}.n_clicks"],
        },
    )
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Only administrators see the audit trail." in text
    assert "192.0.2.9" not in text and "sign_in" not in text
