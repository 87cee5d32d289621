"""The app served on a ClickHouse store, (a) a two-shard cluster of clickhouse-server 18.16 and
(b) the embedded modern engine (chdb): files loaded with `python app.py load`, the consolidated
and detailed views asked over HTTP as the browser asks them, and exports written by the server
and read back. The figures are those tests/dashboard_data.py works out by hand."""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import openpyxl
import pytest
import requests

from bench.e2e import Page, Server, ensure_admin
from config import PROJECT_DIR, SettingsError, load_settings
from dashboard import ids
from data_access.store import make_engine
from ingest.whatsapp import sign
from reporting.view_state import ViewState
from servertools.clickhouse import ClickHouseCluster
from tests.conftest import TIMEZONE, write_csv
from tests.dashboard_data import (
    PHONE_ANA,
    WHATSAPP_DAILY,
    WHATSAPP_TOTALS,
    at,
    by_class,
    day,
    rows,
    texts,
)

NEWEST_FIRST = ["w8", "w7", "w6", "w9", "w5", "w4", "w3", "w2", "w1"]
_databases = itertools.count(1)


def test_settings_send_messages_to_clickhouse_and_the_rest_to_the_accounts_store(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "DATABASE_URL": "clickhouse://10.0.0.5:9000/big"}
    settings = load_settings({**env, "CLICKHOUSE_CLUSTER": "eu"})
    assert settings.clickhouse_url == "clickhouse://10.0.0.5:9000/big?cluster=eu"
    assert settings.database_url == f"duckdb:///{tmp_path / 'accounts.duckdb'}"
    assert settings.duckdb_path == tmp_path / "accounts.duckdb"
    shared = load_settings(
        {**env, "ACCOUNTS_DATABASE_URL": "postgresql+psycopg://reports@db/accounts"}
    )
    assert (shared.clickhouse_url, shared.database_url) == (
        "clickhouse://10.0.0.5:9000/big",
        "postgresql+psycopg://reports@db/accounts",
    )
    embedded = load_settings({"DATA_DIR": str(tmp_path), "DATABASE_URL": "chdb:///srv/ch"})
    assert embedded.clickhouse_url == "chdb:///srv/ch"
    assert load_settings({"DATA_DIR": str(tmp_path)}).clickhouse_url is None
    with pytest.raises(SettingsError, match="CLICKHOUSE_CLUSTER must be a plain name"):
        load_settings({**env, "CLICKHOUSE_CLUSTER": "eu;drop"})
    with pytest.raises(SettingsError, match="ACCOUNTS_DATABASE_URL: one of the first two"):
        load_settings({**env, "ACCOUNTS_DATABASE_URL": "clickhouse://h/x"})


@pytest.fixture(scope="module")
def clickhouse_cluster():
    cluster = ClickHouseCluster(nodes=2)
    cluster.start()
    yield cluster
    cluster.stop()


def _app(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "app.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


WEBHOOK_SECRET = "whatsapp-app-secret-for-tests"
SINCH_TOKEN = "sinch-token-0123456789abcdefghij"


def _serve(request, folder):
    """The app served on a ClickHouse store of the engine `request.param` holding
    tests/dashboard_data.py's rows, with the WhatsApp and Sinch webhooks configured; yields
    (server, env, folder)."""
    if request.param == "chdb":
        url = f"chdb:///{folder / 'clickhouse'}"
    else:
        url = request.getfixturevalue("clickhouse_cluster").url(f"app_{next(_databases)}")
    data_dir = folder / "data"
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": url,
        "ACCOUNT_TIMEZONE": TIMEZONE,
        "WHATSAPP_APP_SECRET": WEBHOOK_SECRET,
        "SINCH_WEBHOOK_TOKEN": SINCH_TOKEN,
    }
    # The file names an operator and a template: a ClickHouse store accepts the columns and
    # keeps neither yet.
    given = [{**rows()[0], "operator": "Vivo", "template": "oferta_black_friday"}, *rows()[1:]]
    loaded = _app(env, "load", str(write_csv(folder / "rows.csv", given)))
    assert (loaded.returncode, loaded.stdout) == (0, "Loaded 12 rows from 1 file(s).\n")
    accounts = make_engine(load_settings(env).database_url)
    ensure_admin(accounts)
    accounts.dispose()
    with pytest.MonkeyPatch.context() as patch:
        # The server takes its environment from this process's.
        patch.setenv("WHATSAPP_APP_SECRET", WEBHOOK_SECRET)
        patch.setenv("SINCH_WEBHOOK_TOKEN", SINCH_TOKEN)
        server = Server(url, data_dir, TIMEZONE, threads=4)
    server.wait_ready()
    yield server, env, folder
    server.stop()


ENGINES = ["cluster-18.16", "chdb"]


@pytest.fixture(params=ENGINES)
def served(request, tmp_path):
    """A served store of its own, for a test that writes to it."""
    yield from _serve(request, tmp_path)


@pytest.fixture(scope="module", params=ENGINES)
def served_to_read(request, tmp_path_factory):
    """A served store shared by the tests that only read its messages (they may write
    exports and accounts, never messages)."""
    yield from _serve(request, tmp_path_factory.mktemp("served"))


def _signed_in(server, view: str) -> Page:
    page = Page(server.base)
    page.sign_in()
    page.show(ViewState(view=view).to_dict())
    return page


def test_consolidated_figures_served_from_clickhouse(served_to_read):
    server, _, _ = served_to_read
    page = _signed_in(server, "consolidated")
    page.apply(day(6), day(0))
    cards = {
        key: by_class(page.values[(card, "children")], "kpi-value")
        for key, card in (
            ("total", ids.KPI_TOTAL),
            ("sent", ids.KPI_SENT),
            ("delivered", ids.KPI_DELIVERED),
            ("read", ids.KPI_READ),
            ("errors", ids.KPI_ERRORS),
            ("received", ids.KPI_RECEIVED),
        )
    }
    assert cards == {key: [str(value)] for key, value in WHATSAPP_TOTALS.items()}
    delivered, errors = page.values[(ids.DAILY_CHART, "figure")]["data"]
    assert delivered["x"] == [day(offset).isoformat() for offset in range(6, -1, -1)]
    assert delivered["y"] == WHATSAPP_DAILY["delivered"]
    assert errors["y"] == WHATSAPP_DAILY["errors"]
    # Delivery times are not counted there yet: the card says so, never a traceback.
    assert texts(page.values[(ids.DELIVERY_TIME, "children")]) == [
        "This store does not compute delivery times yet."
    ]
    # Countries, operators and templates: not counted by this store yet, said so.
    for section in (ids.COUNTRIES, ids.OPERATORS, ids.TEMPLATES):
        assert texts(page.values[(section, "children")]) == [
            "This store does not count this table yet."
        ]


def test_detailed_pages_and_phone_search_served_from_clickhouse(served_to_read):
    server, _, _ = served_to_read
    page = _signed_in(server, "detailed")
    page.apply(day(6), day(0))
    table = page.values[(ids.DETAILED_TABLE, "rowData")]
    assert [row["id"] for row in table] == NEWEST_FIRST
    assert page.values[(ids.DETAILED_COUNT, "children")] == "9 messages"
    w1 = table[-1]
    assert (w1["phone"], w1["status"], w1["campaign"], w1["error_code"]) == (
        PHONE_ANA,
        "delivered",
        "Black Friday",
        "",
    )
    w6 = table[2]
    # A known code reads in the viewer's language, the operator's own text beside it.
    assert (w6["status"], w6["error_code"], w6["error_description"]) == (
        "error",
        "131026",
        "Message undeliverable: the number may not be on WhatsApp or may run an old version "
        "(operator: “Message undeliverable”)",
    )
    page.phone("98765-4321")
    found = page.values[(ids.DETAILED_TABLE, "rowData")]
    assert {row["phone"] for row in found} == {PHONE_ANA}
    assert [row["id"] for row in found] == ["w8", "w9", "w4", "w2", "w1"]


def _read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_exports_written_by_the_server_from_clickhouse_read_back(served_to_read):
    server, env, folder = served_to_read
    period = ["--channel", "whatsapp", "--start", day(6).isoformat(), "--end", day(0).isoformat()]
    detailed = folder / "detailed.csv"
    done = _app(
        env,
        "export",
        "--view",
        "detailed",
        "--format",
        "csv",
        "--lang",
        "en",
        *period,
        "--out",
        str(detailed),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Wrote 9 rows to ")
    lines = _read_csv(detailed)
    assert [list(line.values())[0] for line in lines] == NEWEST_FIRST
    w1 = lines[-1]
    # Columns by their place (the time columns' headers name the zone).
    cells = list(w1.values())
    assert (cells[8], cells[11], cells[6], cells[14]) == (
        PHONE_ANA,
        "Delivered",
        "Black Friday",
        f"{day(2).isoformat()} 10:01:00",
    )
    book = folder / "detailed.xlsx"
    done = _app(
        env,
        "export",
        "--view",
        "detailed",
        "--format",
        "xlsx",
        *period,
        "--out",
        str(book),
    )
    assert done.returncode == 0, done.stderr
    sheet = openpyxl.load_workbook(book, read_only=True).worksheets[0]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == NEWEST_FIRST
    consolidated = folder / "consolidated.csv"
    done = _app(
        env,
        "export",
        "--view",
        "consolidated",
        "--format",
        "csv",
        "--lang",
        "en",
        *period,
        "--out",
        str(consolidated),
    )
    assert done.returncode == 0, done.stderr
    days = _read_csv(consolidated)
    assert [line[next(iter(line))] for line in days][-1] == "Total"
    total = days[-1]
    assert [int(total[name]) for name in list(total)[1:7]] == [
        WHATSAPP_TOTALS[name]
        for name in ("total", "sent", "delivered", "read", "errors", "received")
    ]
    assert [int(line[list(line)[1]]) for line in days[:-1]] == WHATSAPP_DAILY["total"]
    # The consolidated Excel file: the sections ClickHouse answers, and a word for those it
    # does not compute yet (delivery time and the breakdown tables) instead of their sheets.
    sectioned = folder / "consolidated.xlsx"
    done = _app(env, "export", "--view", "consolidated", "--format", "xlsx", "--lang", "en",
                *period, "--out", str(sectioned))  # fmt: skip
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(sectioned)
    assert book.sheetnames == ["Data", "Previous period", "Error reasons", "Info"]
    previous = [list(row) for row in book["Previous period"].iter_rows(values_only=True)]
    assert [row[1] for row in previous[1:6]] == [
        WHATSAPP_TOTALS[name] for name in ("total", "sent", "delivered", "read", "errors")
    ]
    info = [list(row) for row in book["Info"].iter_rows(values_only=True)]
    assert [value for name, value in info if name == "Sections"][-5:] == [
        f"{title}: this store does not compute it yet"
        for title in ("Delivery time", "Campaigns", "WhatsApp templates", "Countries", "Operators")
    ]


def test_api_records_reach_the_served_views(served):
    server, env, _ = served
    made = _app(env, "apikeys", "add", "--subaccount", "Brand A")
    assert made.returncode == 0, made.stderr
    key = made.stdout.splitlines()[1]
    record = {
        "message_id": "api-1",
        "channel": "whatsapp",
        "direction": "MT",
        "content_type": "text",
        "phone": "+5511911112222",
        "status": "sent",
        "created_at": f"{day(0).isoformat()}T00:05:00-03:00",
        "sent_at": f"{day(0).isoformat()}T00:05:01-03:00",
    }
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    first = http.post(server.base + "/api/v1/messages", json=[record], timeout=60)
    assert (first.status_code, first.json()) == (
        200,
        {"accepted": 1, "created": 1, "updated": 0, "statuses_applied": 0},
    )
    delivered = {**record, "status": "delivered", "delivered_at": record["sent_at"]}
    again = http.post(server.base + "/api/v1/messages", json=[delivered], timeout=60)
    assert again.json() == {"accepted": 1, "created": 0, "updated": 1, "statuses_applied": 0}
    outside = http.post(
        server.base + "/api/v1/messages", json=[{**record, "subaccount": "Brand B"}], timeout=60
    )
    assert outside.status_code == 422
    page = _signed_in(server, "detailed")
    page.apply(day(6), day(0))
    table = page.values[(ids.DETAILED_TABLE, "rowData")]
    assert [row["id"] for row in table] == ["api-1", *NEWEST_FIRST]
    assert table[0]["status"] == "delivered"


def _cards(page: Page) -> dict:
    return {
        key: by_class(page.values[(card, "children")], "kpi-value")[0]
        for key, card in (
            ("total", ids.KPI_TOTAL),
            ("sent", ids.KPI_SENT),
            ("delivered", ids.KPI_DELIVERED),
            ("read", ids.KPI_READ),
            ("errors", ids.KPI_ERRORS),
            ("received", ids.KPI_RECEIVED),
        )
    }


def _unix(offset: int, hh: int, mm: int) -> str:
    return str(int(datetime.fromisoformat(at(offset, hh, mm)).timestamp()))


def test_webhook_statuses_posted_over_http_reach_the_figures(served):
    server, env, _ = served
    made = _app(env, "channels", "add", "--channel", "whatsapp", "--number-id",
                "104857600012345", "--subaccount", "Brand A")  # fmt: skip
    assert made.returncode == 0, made.stderr
    # w4 (sent yesterday) is read; w8 (queued today) delivered.
    statuses = [
        {"id": "w4", "status": "read", "timestamp": _unix(1, 9, 20), "recipient_id": "1"},
        {"id": "w8", "status": "delivered", "timestamp": _unix(0, 0, 3), "recipient_id": "1"},
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5511930001000", "phone_number_id": "104857600012345"},
        "statuses": statuses,
    }
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
    }
    # s2 (an SMS of Brand B that failed yesterday) is reported delivered after all.
    report = {
        "type": "recipient_delivery_report_sms",
        "batch_id": "01JD3Q9C2M5P8S1V4Y7B0E3H6K",
        "recipient": "5521912345678",
        "code": "0",
        "status": "Delivered",
        "at": datetime.fromisoformat(at(1, 8, 5)).astimezone(UTC).isoformat(),
        "client_reference": "s2",
    }
    for _ in range(2):  # the second time a replay: nothing moves further
        answer = requests.post(server.base + "/webhooks/whatsapp", data=body, headers=headers,
                               timeout=60)  # fmt: skip
        assert answer.json() == {"received": True}
        answer = requests.post(f"{server.base}/webhooks/sinch/sms/{SINCH_TOKEN}", json=report,
                               timeout=60)  # fmt: skip
        assert answer.json() == {"received": True}
    # By hand, over the last 7 days: w4 and w8 now sent and delivered (w4 read too), so
    # sent 4 + 1 (w8), delivered 3 + 2, read 1 + 1; errors stay 3. SMS: s2 delivered, no
    # error left.
    whatsapp = {"total": "8", "sent": "5", "delivered": "5", "read": "2", "errors": "3",
                "received": "1"}  # fmt: skip
    sms = {"total": "2", "sent": "2", "delivered": "2", "read": "Not available", "errors": "0",
           "received": "1"}  # fmt: skip
    # The worker merges the bodies a second or so after they came.
    deadline = time.monotonic() + 30
    while True:
        page = _signed_in(server, "consolidated")
        page.apply(day(6), day(0))
        sms_page = Page(server.base)
        sms_page.sign_in()
        sms_page.show(ViewState(view="consolidated", channel="sms").to_dict())
        sms_page.apply(day(6), day(0))
        done = (_cards(page), _cards(sms_page)) == (whatsapp, sms)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (_cards(page), _cards(sms_page)) == (whatsapp, sms)
    delivered, errors = page.values[(ids.DAILY_CHART, "figure")]["data"]
    assert delivered["y"] == [0, 0, 0, 0, 2, 2, 1]
    assert errors["y"] == WHATSAPP_DAILY["errors"]


def test_demo_data_is_refused_rather_than_stored_where_no_report_reads(served_to_read):
    _, env, _ = served_to_read
    demo = _app(env, "demo", "--messages", "100")
    assert demo.returncode == 2
    assert "on ClickHouse load files" in demo.stdout + demo.stderr
