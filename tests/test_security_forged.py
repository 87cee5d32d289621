"""Forged posts to /_dash-update-component by a signed-in user limited to one subaccount.

The requests are built from the app's registered callbacks (app.callback_map), as the browser
builds them, with values the page would never send. Each answers with a clear message or an
empty result, never another subaccount's data.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import create_app
from dashboard import ids
from dashboard.layouts.detailed import PAGE_SIZE
from data_access.filters import today_in
from data_access.tables import export_jobs, messages
from exports.worker import ExportPool
from reporting.i18n import t
from tests.auth_helpers import (
    ROWS_A,
    ROWS_B,
    SECRET,
    add_account,
    sign_in,
    subaccount_ids,
    two_brand_rows,
)
from tests.conftest import TIMEZONE


@pytest.fixture
def setup(store_settings, engine, load_rows):
    load_rows(engine, two_brand_rows())
    app = create_app(store_settings, engine)
    add_account(engine, "bia", "bia-password-1", subaccount_names=("Brand A",))
    client = app.server.test_client()
    assert sign_in(client, "bia", "bia-password-1").status_code == 302
    return app, client, subaccount_ids(engine)


def _outputs(key: str):
    """The outputs of a callback from its callback_map key, as the renderer sends them: a list
    for a callback of several outputs, one object for a single output."""

    def one(part: str) -> dict:
        component, prop = part.rsplit(".", 1)
        return {"id": component, "property": prop}

    if key.startswith(".."):
        return [one(part) for part in key[2:-2].split("...")]
    return one(key)


def post_callback(app, client, first_output: str, values: dict, changed: list[str]):
    """Post to the callback whose outputs include `first_output` with the given input values."""
    key = next(k for k in app.callback_map if first_output in k)
    spec = app.callback_map[key]

    def items(kind: str) -> list[dict]:
        return [
            {**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in spec[kind]
        ]

    body = {
        "output": key,
        "outputs": _outputs(key),
        "inputs": items("inputs"),
        "state": items("state"),
        "changedPropIds": changed,
    }
    response = client.post("/_dash-update-component", json=body)
    text = response.get_data(as_text=True)
    assert SECRET not in text
    assert "Brand B" not in text
    assert "Traceback" not in text and "SELECT" not in text
    return response


def applied(ids_of: dict, **fields) -> dict:
    base = {"channel": "whatsapp", "view": "detailed", "sort": "created_at", "descending": True}
    return {**base, **fields}


def detailed(app, client, state: dict, page_current=None) -> dict:
    """The detailed table's callback, fired by a new state or, given a page, by the previous
    page's button under a forged page shown (the page after `page_current`)."""
    after = page_current + 1 if isinstance(page_current, int) else page_current
    response = post_callback(
        app,
        client,
        "detailed-table.rowData",
        {
            "detailed-request.data": state,
            "applied-filters.data": state,
            "detailed-page-previous.n_clicks": 1,
            "detailed-shown.data": {"applied": {}, "page": after, "pages": 10**9},
        },
        ["detailed-request.data"] if page_current is None else ["detailed-page-previous.n_clicks"],
    )
    assert response.status_code == 200
    return response.get_json()["response"]


def consolidated(app, client, state: dict) -> dict:
    response = post_callback(
        app,
        client,
        "kpi-total.children",
        {"consolidated-request.data": state},
        ["consolidated-request.data"],
    )
    assert response.status_code == 200
    return response.get_json()["response"]


def filter_error(key: str, **params) -> str:
    return t("es", f"filter_error.{key}", **params)


def _ids_in(answer: dict) -> list[str]:
    return [row["id"] for row in answer["detailed-table"]["rowData"]]


def test_the_user_sees_a_full_page_of_their_own_messages_only(setup):
    app, client, _ = setup
    answer = detailed(app, client, applied({}))
    assert _ids_in(answer) == [f"a-{n:02d}" for n in range(ROWS_A, ROWS_A - PAGE_SIZE, -1)]
    assert answer[ids.DETAILED_SHOWN]["data"]["pages"] == 2


@pytest.mark.parametrize("which", [["Brand B"], ["Brand A", "Brand B"]])
def test_another_subaccounts_id_is_never_used(setup, which):
    app, client, id_of = setup
    state = applied({}, subaccounts=[id_of[name] for name in which])
    answer = detailed(app, client, state, page_current=1)
    expected = [] if which == ["Brand B"] else [f"a-{n:02d}" for n in range(5, 0, -1)]
    assert _ids_in(answer) == expected
    figures = consolidated(app, client, {**state, "view": "consolidated"})
    # The KPI cards count Brand A's messages at most: Brand B's five errors never count.
    expected_total, expected_errors = (0, 0) if which == ["Brand B"] else (ROWS_A, 0)
    assert kpi_value(figures, ids.KPI_TOTAL) == str(expected_total)
    assert kpi_value(figures, ids.KPI_ERRORS) == str(expected_errors)
    assert figures[ids.CONSOLIDATED_BODY]["hidden"] is (which == ["Brand B"])
    assert "131026" not in json.dumps(figures)


def kpi_value(figures: dict, card_id: str) -> str:
    """The count shown on a KPI card (the second element of its content)."""
    return figures[card_id]["children"][1]["props"]["children"]


def test_the_message_detail_of_another_subaccount_is_not_shown(setup):
    app, client, id_of = setup
    response = post_callback(
        app,
        client,
        "message-detail.is_open",
        {
            "detailed-table.cellClicked": {"rowIndex": 0, "colId": "content", "rowId": "b-05"},
            "detailed-shown.data": {"page": 0},
            "applied-filters.data": applied({}, subaccounts=[id_of["Brand B"]]),
        },
        ["detailed-table.cellClicked"],
    )
    assert response.status_code == 200
    body = response.get_json()["response"][ids.MESSAGE_DETAIL_BODY]["children"]
    assert body == t("es", "detailed.changed")


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (-90, 0, ("span_too_long", {"days": 90})),
        (-1, -3, ("end_before_start", {})),
    ],
)
def test_bad_date_ranges_answer_with_a_message(setup, start, end, message):
    app, client, _ = setup
    today = today_in(TIMEZONE)
    state = applied(
        {},
        start=(today + timedelta(days=start)).isoformat(),
        end=(today + timedelta(days=end)).isoformat(),
    )
    answer = detailed(app, client, state)
    assert answer[ids.DETAILED_MESSAGE]["children"] == filter_error(message[0], **message[1])
    assert "rowData" not in answer.get(ids.DETAILED_TABLE, {})
    figures = consolidated(app, client, {**state, "view": "consolidated"})
    assert figures[ids.CONSOLIDATED_MESSAGE]["children"] == filter_error(message[0], **message[1])
    assert ids.KPI_TOTAL not in figures


def test_an_invalid_date_answers_with_a_message(setup):
    app, client, _ = setup
    answer = detailed(app, client, applied({}, start="2026-13-45", end="2026-02-30"))
    assert answer[ids.DETAILED_MESSAGE]["children"] == filter_error("bad_date", value="2026-02-30")
    assert ids.DETAILED_TABLE not in answer


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("9" * 10_240, ("phone_length", {"minimum": 6, "maximum": 15})),
        # Anything but digits and the marks between them is named, never dropped.
        ("' OR '1'='1' --", ("phone_character", {"value": "'"})),
        ("%_%_%_%_%_%_%_%", ("phone_character", {"value": "%"})),
        ("%%%%%%%%%%%%0001", ("phone_character", {"value": "%"})),
        ("'; DROP TABLE messages; -- 98765_0001 %", ("phone_character", {"value": "'"})),
        ("1'; SELECT * FROM users; --", ("phone_character", {"value": "'"})),
    ],
)
def test_hostile_phone_searches_answer_with_a_message(setup, engine, phone, reason):
    app, client, _ = setup
    answer = detailed(app, client, applied({}, phone=phone))
    assert answer[ids.DETAILED_MESSAGE]["children"] == filter_error(reason[0], **reason[1])
    assert ids.DETAILED_TABLE not in answer
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar() == ROWS_A + ROWS_B


def test_an_unknown_sort_column_answers_with_a_message(setup):
    app, client, _ = setup
    # Straight into the applied state, past the table's sort control.
    answer = detailed(app, client, applied({}, sort="password_hash; DROP TABLE users"))
    assert answer[ids.DETAILED_MESSAGE]["children"] == filter_error("unknown_sort")
    assert ids.DETAILED_TABLE not in answer
    # Through the grid's header, as the browser passes it on (callbacks.detailed.SORT_REQUEST).
    response = post_callback(
        app,
        client,
        "applied-filters.data@",
        {
            "detailed-sort.data": [{"column_id": "password_hash", "direction": "asc"}],
            "applied-filters.data": applied({}),
        },
        ["detailed-sort.data"],
    )
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert answer[ids.FILTER_MESSAGE]["children"] == filter_error("unknown_sort")
    assert ids.APPLIED_FILTERS not in answer


@pytest.mark.parametrize("page_current", [-1, -10_000_000, "0 OR 1=1", 2.5])
def test_a_negative_or_odd_page_position_answers_with_a_message(setup, page_current):
    app, client, _ = setup
    answer = detailed(app, client, applied({}), page_current=page_current)
    assert answer[ids.DETAILED_MESSAGE]["children"] == filter_error("bad_offset")
    assert ids.DETAILED_TABLE not in answer


def test_a_page_size_of_ten_million_is_never_used(setup):
    app, client, _ = setup
    # The page size is the server's: one asked for in the state is ignored ...
    answer = detailed(app, client, applied({}, page_size=10_000_000, limit=10_000_000))
    assert len(answer[ids.DETAILED_TABLE]["rowData"]) == PAGE_SIZE
    # ... and a page ten million pages on is the last page.
    far = detailed(app, client, applied({}), page_current=10_000_000)
    assert far[ids.DETAILED_SHOWN]["data"]["page"] == 1
    assert len(far[ids.DETAILED_TABLE]["rowData"]) == ROWS_A - PAGE_SIZE


# ---- exports ----


def _export(app, client, engine, state: dict) -> str:
    """Press the CSV export button with `state` applied; the id of the job it queued."""
    response = post_callback(
        app,
        client,
        "export-notice.children",
        {"export-csv.n_clicks": 1, "applied-filters.data": state},
        ["export-csv.n_clicks"],
    )
    assert response.status_code == 200
    with engine.connect() as conn:
        return conn.execute(
            select(export_jobs.c.id).order_by(export_jobs.c.requested_at.desc()).limit(1)
        ).scalar_one()


def test_exports_follow_the_scope_and_others_jobs_answer_404(setup, store_settings, engine):
    app, bia, id_of = setup
    add_account(engine, "root", "root-password-1", role="admin")
    root = app.server.test_client()
    assert sign_in(root, "root", "root-password-1").status_code == 302
    pool = ExportPool(engine, store_settings, workers=1)

    # The admin exports Brand B's messages; the user asks for Brand B too.
    admin_job = _export(app, root, engine, applied({}, subaccounts=[id_of["Brand B"]]))
    user_job = _export(app, bia, engine, applied({}, subaccounts=[id_of["Brand B"]]))
    assert pool.run_pending() == 2

    admin_file = root.get(f"/exports/download/{admin_job}")
    assert admin_file.status_code == 200
    assert admin_file.get_data(as_text=True).count(SECRET) == ROWS_B
    # Another user's job is not there at all for this user, whatever its id.
    assert bia.get(f"/exports/download/{admin_job}").status_code == 404
    assert bia.get("/exports/download/..%5Csecret_key").status_code == 404
    # The user's own export asked for Brand B but holds nothing outside their scope.
    own = bia.get(f"/exports/download/{user_job}")
    assert own.status_code == 200
    lines = own.get_data(as_text=True).splitlines()
    assert len(lines) == 1  # the header only
    assert SECRET not in own.get_data(as_text=True)
    # The user's history lists their own job and not the admin's.
    history = post_callback(
        app,
        bia,
        "exports-table.children",
        {"exports-interval.n_intervals": 1},
        ["exports-interval.n_intervals"],
    ).get_data(as_text=True)
    assert user_job in history
    assert admin_job not in history
    anonymous = app.server.test_client()
    assert (
        anonymous.get(
            f"/exports/download/{admin_job}", headers={"Accept": "application/json"}
        ).status_code
        == 401
    )


def test_a_shared_link_with_another_subaccount_opens_only_the_users_own(setup):
    app, client, id_of = setup
    response = post_callback(
        app,
        client,
        "page-content.children",
        {
            "url-change.data": {"changed": ["url.pathname", "url.search"]},
            "url.pathname": "/",
            "url.search": "?view=detailed"
            f"&subaccount={id_of['Brand B']}&subaccount={id_of['Brand A']}",
        },
        ["url-change.data"],
    )
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert answer[ids.APPLIED_FILTERS]["data"]["subaccounts"] == [id_of["Brand A"]]
    page = json.dumps(answer[ids.PAGE_CONTENT])
    assert "hello A 30" in page


def test_forged_country_requests_answer_only_the_users_own(setup):
    app, client, id_of = setup
    # Brand B's messages go to Brazil too: asked for by country and by subaccount, none counts.
    forged = consolidated(
        app,
        client,
        applied({}, view="consolidated", countries=["BR"], subaccounts=[id_of["Brand B"]]),
    )
    assert forged[ids.CONSOLIDATED_BODY]["hidden"] is True
    assert "131026" not in json.dumps(forged)
    own = consolidated(app, client, applied({}, view="consolidated", countries=["BR"]))
    (brazil,) = own[ids.COUNTRIES]["children"]["props"]["rowData"]
    assert (brazil["country"], brazil["total"]) == ("Brasil", ROWS_A)
    # A value that is no country code is refused in the person's language.
    bad = consolidated(app, client, applied({}, view="consolidated", countries=["' OR 1=1"]))
    assert bad[ids.CONSOLIDATED_MESSAGE]["children"] == filter_error(
        "unknown_country", value="' OR 1=1"
    )
