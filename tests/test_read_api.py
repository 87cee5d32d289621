"""The read API (GET /api/v1/reports/...): figures, scope, keyset pages, limits, OpenAPI."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from openapi_spec_validator import validate

from app import build_parser, create_app
from commands import apikeys as apikeys_command
from data_access import reports
from data_access.filters import AccessScope, FilterError, today_in
from data_access.outbound_tables import ensure_tables
from data_access.read_keys import create_read_key, list_read_keys
from ingest.keys import create_key
from reporting.i18n import filter_error_text
from reporting.url_query import state_from_search
from tests.auth_helpers import subaccount_ids
from tests.conftest import TIMEZONE

# Brand A: 12 delivered and 3 errors at one same instant (keyset ties), Brand B: 8 errors.
YESTERDAY = today_in(TIMEZONE) - timedelta(days=1)


def rows() -> list[dict]:
    noon = datetime.combine(YESTERDAY, time(12, 0), tzinfo=ZoneInfo(TIMEZONE))
    out = []
    for n in range(15):
        # Five messages share each creation time: pages must cut between equal times.
        at = (noon + timedelta(minutes=n // 5)).isoformat()
        delivered = n < 12
        out.append(
            {
                "message_id": f"a-{n:02d}",
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": "Brand A",
                "content_type": "text",
                "phone": f"+5511987650{n:03d}",
                "status": "delivered" if delivered else "error",
                "error_code": "" if delivered else "131047",
                "error_description": "" if delivered else "Re-engagement message",
                "created_at": at,
                "sent_at": at,
                "delivered_at": at if delivered else "",
            }
        )
    for n in range(8):
        at = (noon + timedelta(hours=1, minutes=n)).isoformat()
        out.append(
            {
                "message_id": f"b-{n:02d}",
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": "Brand B",
                "content_type": "template",
                "phone": f"+5521987650{n:03d}",
                "status": "error",
                "error_code": "131026",
                "error_description": "Message undeliverable",
                "created_at": at,
                "sent_at": at,
            }
        )
    return out


@pytest.fixture
def loaded(engine, load_rows):
    load_rows(engine, rows())
    return engine


@pytest.fixture
def app(store_settings, loaded):
    return create_app(store_settings, loaded)


@pytest.fixture
def client(app):
    return app.server.test_client()


def read_key(engine, *names: str, per_minute: int | None = None) -> str:
    with engine.begin() as conn:
        _, plain = create_read_key(conn, list(names), "test", per_minute)
    return plain


def get(client, key: str, path: str, **headers):
    return client.get(path, headers={"Authorization": f"Bearer {key}", **headers})


def test_figures_equal_the_data_layers_for_the_keys_scope(client, loaded):
    key = read_key(loaded, "Brand A")
    ids = subaccount_ids(loaded)
    scope = AccessScope.of([ids["Brand A"]])
    start = (YESTERDAY - timedelta(days=2)).isoformat()
    search = f"start={start}&end={YESTERDAY}"
    flt = state_from_search(search).to_filter(TIMEZONE)
    daily = reports.daily_series(loaded, scope, flt)

    answer = get(client, key, f"/api/v1/reports/daily?{search}").json
    assert answer["start"] == start and answer["end"] == YESTERDAY.isoformat()
    assert answer["timezone"] == TIMEZONE
    assert [day["date"] for day in answer["days"]] == [d.isoformat() for d in daily["date"]]
    assert [day["total"] for day in answer["days"]] == [0, 0, 15]
    assert [day["delivered"] for day in answer["days"]] == daily["delivered"].tolist()
    assert [day["error_pct"] for day in answer["days"]] == daily["error_pct"].tolist()

    totals = get(client, key, f"/api/v1/reports/totals?{search}").json["totals"]
    assert totals == reports.range_totals(daily, "whatsapp")
    assert (totals["total"], totals["delivered"], totals["errors"]) == (15, 12, 3)
    assert totals["delivered_pct"] == 80.0

    errors = get(client, key, f"/api/v1/reports/errors?{search}").json["errors"]
    expected = reports.top_errors(loaded, scope, flt)
    assert errors == [
        {
            "error_code": "131047",
            "error_description": "Re-engagement message",
            "count": 3,
            "share": 100.0,
        }
    ]
    assert [e["count"] for e in errors] == expected["count"].tolist()


def test_sms_has_no_read_figures(client, loaded):
    key = read_key(loaded, "Brand A")
    totals = get(client, key, "/api/v1/reports/totals?channel=sms").json["totals"]
    assert totals["read"] is None and totals["read_pct"] is None and totals["total"] == 0


def test_another_subaccounts_data_is_refused(client, loaded):
    key = read_key(loaded, "Brand A")
    ids = subaccount_ids(loaded)
    refused = get(client, key, f"/api/v1/reports/totals?subaccount={ids['Brand B']}")
    assert refused.status_code == 403
    assert refused.json == {
        "error": f"This key may not read subaccount(s) {ids['Brand B']}.",
        "code": "subaccount_not_allowed",
    }
    mixed = get(
        client,
        key,
        f"/api/v1/reports/messages?subaccount={ids['Brand A']}&subaccount={ids['Brand B']}",
    )
    assert mixed.status_code == 403
    # Without a subaccount named, only the key's own are counted.
    everything = get(client, key, f"/api/v1/reports/totals?start={YESTERDAY}").json["totals"]
    assert (everything["total"], everything["errors"]) == (15, 3)
    found = get(client, key, "/api/v1/reports/messages?message_id=b-01").json
    assert found["messages"] == []
    listed = get(client, key, "/api/v1/subaccounts").json
    assert listed == {"subaccounts": [{"id": ids["Brand A"], "name": "Brand A"}]}


def test_paging_returns_every_message_exactly_once(client, loaded):
    key = read_key(loaded, "Brand A", "Brand B")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        path = f"/api/v1/reports/messages?start={YESTERDAY}&limit=4"
        answer = get(client, key, path + (f"&cursor={cursor}" if cursor else "")).json
        pages += 1
        seen += [row["message_id"] for row in answer["messages"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert pages == math.ceil(23 / 4)
    assert len(seen) == len(set(seen)) == 23
    assert sorted(seen) == sorted(row["message_id"] for row in rows())
    # Newest first; among equal times the larger id first.
    assert seen[:9] == [f"b-{n:02d}" for n in range(7, -1, -1)] + ["a-14"]
    first = get(client, key, "/api/v1/reports/messages?message_id=a-03").json["messages"]
    assert first[0]["subaccount"] == "Brand A" and first[0]["phone"] == "5511987650003"
    assert first[0]["created_at"].endswith("Z") and first[0]["delivered_at"].endswith("Z")


def test_filters_are_checked_as_the_screen_checks_them(client, loaded):
    key = read_key(loaded, "Brand A")
    too_old = (today_in(TIMEZONE) - timedelta(days=200)).isoformat()
    for language, header in (("en", "en-US,en;q=0.9"), ("es", "es"), ("pt-BR", "pt-BR")):
        answer = get(
            client, key, f"/api/v1/reports/daily?start={too_old}", **{"Accept-Language": header}
        )
        assert answer.status_code == 400
        try:
            state_from_search(f"start={too_old}").to_filter(TIMEZONE)
        except FilterError as error:
            expected = filter_error_text(language, error)
        assert answer.json == {"error": expected, "code": "start_too_old", "field": "start"}
    unknown = get(client, key, "/api/v1/reports/daily?chanel=sms")
    assert unknown.status_code == 400 and unknown.json["code"] == "unknown_parameter"
    bad = get(client, key, "/api/v1/reports/messages?cursor=nonsense!")
    assert bad.status_code == 400 and bad.json["code"] == "bad_cursor"


def test_send_keys_do_not_read_and_read_keys_do_not_send(client, loaded):
    with loaded.begin() as conn:
        _, send_key = create_key(conn, "Brand A")
    refused = get(client, send_key, "/api/v1/reports/totals")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    key = read_key(loaded, "Brand A")
    sent = client.post("/api/v1/messages", headers={"Authorization": f"Bearer {key}"}, json=[])
    assert sent.status_code == 401
    assert client.get("/api/v1/reports/totals").status_code == 401


def test_a_key_over_its_rate_is_answered_429_with_retry_after(app, client, loaded):
    now = [1000.0]
    limiter = app.server.extensions["read_api"].limiter
    limiter._now = lambda: now[0]
    key = read_key(loaded, "Brand A", per_minute=2)
    other = read_key(loaded, "Brand A", per_minute=2)
    assert get(client, key, "/api/v1/reports/totals").status_code == 200
    assert get(client, key, "/api/v1/reports/totals").status_code == 200
    over = get(client, key, "/api/v1/reports/totals")
    assert over.status_code == 429 and over.headers["Retry-After"] == "30"
    assert over.json["retry_after"] == 30
    # Another key has its own allowance.
    assert get(client, other, "/api/v1/reports/totals").status_code == 200
    now[0] += 29
    assert get(client, key, "/api/v1/reports/totals").headers["Retry-After"] == "1"
    now[0] += 1
    assert get(client, key, "/api/v1/reports/totals").status_code == 200


def test_the_openapi_description_is_valid(client):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json
    validate(document)
    assert sorted(document["paths"]) == [
        "/api/v1/reports/daily",
        "/api/v1/reports/errors",
        "/api/v1/reports/messages",
        "/api/v1/reports/totals",
        "/api/v1/subaccounts",
    ]


class Capture:
    def __init__(self):
        self.lines: list[str] = []

    def out(self, text: str) -> None:
        self.lines.append(text)

    err = out


def test_apikeys_read_command_makes_lists_and_revokes_read_keys(engine, store_settings):
    ensure_tables(engine)
    with engine.begin() as conn:
        create_key(conn, "Brand A")
        create_key(conn, "Brand B")
    console = Capture()
    args = build_parser().parse_args(
        ["apikeys", "add", "--read", "--subaccount", "Brand A", "--subaccount", "Brand B"]
    )
    assert apikeys_command.run(args, console, engine, store_settings) == 0
    assert console.lines[0] == "Read key 1 for 'Brand A', 'Brand B':"
    assert console.lines[1].startswith("drr_")
    with engine.connect() as conn:
        (key,) = list_read_keys(conn)
    assert key.subaccounts == ("Brand A", "Brand B") and key.revoked_at is None
    missing = Capture()
    args = build_parser().parse_args(["apikeys", "add", "--read", "--subaccount", "Nope"])
    assert apikeys_command.run(args, missing, engine, store_settings) == 2
    assert missing.lines == ["There is no subaccount named 'Nope'."]
    two = Capture()
    args = build_parser().parse_args(
        ["apikeys", "add", "--subaccount", "Brand A", "--subaccount", "Brand B"]
    )
    assert apikeys_command.run(args, two, engine, store_settings) == 2
    args = build_parser().parse_args(["apikeys", "revoke", "--read", "1"])
    assert apikeys_command.run(args, Capture(), engine, store_settings) == 0
    with engine.connect() as conn:
        assert list_read_keys(conn)[0].revoked_at is not None
