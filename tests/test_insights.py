"""Insights on the consolidated view: each KPI against the previous period, and drill-down
from a chart's day or a KPI card to the detailed view, on the hand-built message set."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qsl

import pytest
from dash.exceptions import PreventUpdate

from dashboard.callbacks import drill
from dashboard.callbacks.consolidated import update_consolidated
from dashboard.callbacks.detailed import update_table
from dashboard.callbacks.url_state import state_from_search
from data_access import reports
from data_access.filters import FilterError, ReportFilter
from reporting.view_state import ViewState
from tests.conftest import TIMEZONE
from tests.dashboard_data import (
    FixedViewerServices,
    as_json,
    by_class,
    day,
    rows,
    subaccount_ids,
    texts,
    viewer_for,
)

MINUS = "\u2212"


@pytest.fixture
def loaded(engine, store_settings, load_rows):
    load_rows(engine, rows())
    return engine, store_settings


def services_for(loaded, names=None, language="es"):
    engine, settings = loaded
    return FixedViewerServices(settings, engine, viewer_for(engine, names, language))


def one_day(offset: int, **fields) -> dict:
    """The consolidated view of one day of the fixture (`offset` days before today)."""
    return ViewState(start=day(offset).isoformat(), end=day(offset).isoformat(), **fields).to_dict()


def change_of(out: dict, key: str) -> str:
    (line,) = by_class(out[f"kpi_{key}"], "kpi-change")
    return line


def verdict_of(out: dict, key: str) -> str:
    node = as_json(out[f"kpi_{key}"])
    (line,) = [
        part for part in node if "kpi-change" in str(part.get("props", {}).get("className", ""))
    ]
    return line["props"]["className"].split()[1]


# --- previous period (engine) --------------------------------------------------------------


def test_ins001_the_previous_period_has_the_same_length_and_ends_the_day_before():
    today = date(2026, 3, 20)
    week = ReportFilter.build("whatsapp", "2026-03-10", "2026-03-16", today=today)
    previous = reports.previous_filter(week)
    assert (previous.start.isoformat(), previous.end.isoformat()) == ("2026-03-03", "2026-03-09")
    single = reports.previous_filter(
        ReportFilter.build("sms", "2026-03-01", "2026-03-01", campaigns=(4,), today=today)
    )
    # Across the month's end, every other field kept.
    assert (single.start.isoformat(), single.end.isoformat()) == ("2026-02-28", "2026-02-28")
    assert (single.channel, single.campaigns) == ("sms", (4,))


def test_ins002_exact_changes_of_yesterday_against_the_day_before(loaded):
    engine, _ = loaded
    flt = ReportFilter.build("whatsapp", day(1), day(1), timezone=TIMEZONE)
    scope = viewer_for(engine).scope
    current = reports.range_totals(reports.daily_series(engine, scope, flt), "whatsapp")
    previous = reports.range_totals(
        reports.daily_series(engine, scope, reports.previous_filter(flt)), "whatsapp"
    )
    # Yesterday: 4 MT (2 sent, 1 delivered, 0 read, 2 errors), 1 MO; the day before: 3 MT
    # (2 sent, 2 delivered, 1 read, 1 error), no MO.
    changes = reports.period_changes(current, previous)
    got = {key: (c.count, c.points, c.verdict) for key, c in changes.items()}
    assert got == {
        "total": (1, None, "neutral"),
        "sent": (0, pytest.approx(50.0 - 200 / 3), "worse"),
        "delivered": (-1, pytest.approx(25.0 - 200 / 3), "worse"),
        "read": (-1, pytest.approx(0.0 - 100 / 3), "worse"),
        "errors": (1, pytest.approx(50.0 - 100 / 3), "worse"),
        "received": (1, None, "neutral"),
    }
    # The other way round every share is better, and fewer errors too.
    back = reports.period_changes(previous, current)
    assert {key: c.verdict for key, c in back.items()} == {
        "total": "neutral",
        "sent": "better",
        "delivered": "better",
        "read": "better",
        "errors": "better",
        "received": "neutral",
    }
    assert back["errors"].points == pytest.approx(100 / 3 - 50.0)


def test_ins003_sms_has_no_read_change_and_equal_shares_are_the_same():
    now = {"total": 2, "sent": 2, "delivered": 1, "read": None, "errors": 1, "received": 0}
    before = {"total": 4, "sent": 4, "delivered": 2, "read": None, "errors": 2, "received": 3}
    for totals in (now, before):
        totals.update(delivered_pct=50.0, read_pct=None, error_pct=50.0)
    changes = reports.period_changes(now, before)
    assert changes["read"] == reports.Change(None, None, "neutral")
    assert changes["delivered"] == reports.Change(-1, 0.0, "same")
    assert changes["errors"] == reports.Change(-1, 0.0, "same")
    assert changes["received"] == reports.Change(-3, None, "neutral")


# --- previous period (cards, three languages) ----------------------------------------------


def test_ins010_cards_show_the_change_in_spanish(loaded):
    out = update_consolidated(services_for(loaded), one_day(1), None)
    assert change_of(out, "total") == "+1 vs. período anterior"
    assert change_of(out, "sent") == f"0 ({MINUS}16,7 p.p.) vs. período anterior  (peor)"
    assert change_of(out, "delivered") == (
        f"{MINUS}1 ({MINUS}41,7 p.p.) vs. período anterior  (peor)"
    )
    assert change_of(out, "read") == f"{MINUS}1 ({MINUS}33,3 p.p.) vs. período anterior  (peor)"
    assert change_of(out, "errors") == "+1 (+16,7 p.p.) vs. período anterior  (peor)"
    assert change_of(out, "received") == "+1 vs. período anterior"
    assert [verdict_of(out, k) for k in ("total", "delivered", "errors")] == [
        "neutral",
        "worse",
        "worse",
    ]


def test_ins011_cards_show_the_change_in_portuguese_and_english(loaded):
    pt = update_consolidated(services_for(loaded, language="pt-BR"), one_day(1), "pt-BR")
    assert change_of(pt, "delivered") == (
        f"{MINUS}1 ({MINUS}41,7 p.p.) vs. período anterior  (pior)"
    )
    en = update_consolidated(services_for(loaded, language="en"), one_day(2), "en")
    # The day before two days ago had nothing: said so, not a change from zero.
    assert change_of(en, "delivered") == "No messages in the previous period"
    en = update_consolidated(services_for(loaded, language="en"), one_day(1), "en")
    assert change_of(en, "errors") == "+1 (+16.7 pts) vs previous period  (worse)"
    assert change_of(en, "total") == "+1 vs previous period"


def test_ins012_the_previous_period_keeps_the_viewers_scope(loaded):
    engine, _ = loaded
    ids_of = subaccount_ids(engine)
    # Brand A only, even when the browser names Brand B: yesterday 2 MT (2 sent, 1
    # delivered) and 1 MO; the day before 2 MT (2 sent, 2 delivered, 1 read).
    forged = one_day(1, subaccounts=(ids_of["Brand B"],))
    for state in (one_day(1), forged):
        out = update_consolidated(services_for(loaded, ["Brand A"]), state, None)
        if state is forged:
            # A subaccount outside the scope counts nothing, in either period.
            assert change_of(out, "total") == "Sin mensajes en el período anterior"
            continue
        assert change_of(out, "total") == "0 vs. período anterior"
        assert change_of(out, "delivered") == (
            f"{MINUS}1 ({MINUS}50,0 p.p.) vs. período anterior  (peor)"
        )
        assert change_of(out, "errors") == "0 (0,0 p.p.) vs. período anterior"
        assert verdict_of(out, "errors") == "same"


# --- drill-down ------------------------------------------------------------------------------


def click(x, curve=0):
    return {"points": [{"curveNumber": curve, "pointNumber": 4, "x": x, "y": 2}]}


def test_ins020_a_click_on_a_day_opens_the_detailed_view_of_that_day(loaded):
    services = services_for(loaded)
    applied = ViewState(campaigns=(3,)).to_dict()
    search = drill.day_search(services, applied, click(day(2).isoformat()))
    assert parse_qsl(search.lstrip("?")) == [
        ("view", "detailed"),
        ("start", day(2).isoformat()),
        ("end", day(2).isoformat()),
        ("direction", "MT"),
        ("campaign", "3"),
    ]
    state = state_from_search(search)
    assert (state.view, state.start, state.end, state.campaigns) == (
        "detailed",
        day(2).isoformat(),
        day(2).isoformat(),
        (3,),
    )


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"points": []},
        {"points": "x"},
        click(None),
        click("2026-02-30"),
        click(day(1).isoformat() + "&subaccount=2"),
        click(7),
        # A day outside the applied range (the last 7 days).
        click((day(0) - timedelta(days=30)).isoformat()),
    ],
)
def test_ins021_a_click_naming_no_day_of_the_range_changes_nothing(loaded, payload):
    with pytest.raises(PreventUpdate):
        drill.day_search(services_for(loaded), ViewState().to_dict(), payload)


def test_ins022_a_click_from_the_detailed_view_or_a_bad_state_changes_nothing(loaded):
    services = services_for(loaded)
    for applied in (ViewState(view="detailed").to_dict(), {"view": "nowhere"}, "nonsense"):
        with pytest.raises(PreventUpdate):
            drill.day_search(services, applied, click(day(1).isoformat()))


def test_ins023_the_delivered_and_error_cards_link_to_their_messages(loaded):
    out = update_consolidated(services_for(loaded), ViewState().to_dict(), None)

    def link(key):
        found = [
            part["props"]
            for part in as_json(out[f"kpi_{key}"])
            if part.get("type") == "Link" and part.get("namespace") == "dash_core_components"
        ]
        return found[0] if found else None

    delivered, errors = link("delivered"), link("errors")
    assert delivered["href"] == "/?view=detailed&direction=MT&status=delivered&status=read"
    assert errors["href"] == "/?view=detailed&direction=MT&status=error"
    assert (delivered["children"], delivered["title"]) == (
        "Ver los mensajes",
        "Ver los mensajes: Entregados",
    )
    assert "stretched-link" in errors["className"].split()
    assert [link(key) for key in ("total", "sent", "read", "received")] == [None] * 4
    # SMS has no read status: the delivered card asks for delivered only.
    sms = ViewState(channel="sms", start=day(2).isoformat(), end=day(1).isoformat())
    assert drill.card_href(sms, "delivered") == (
        f"/?channel=sms&view=detailed&start={day(2).isoformat()}&end={day(1).isoformat()}"
        "&direction=MT&status=delivered"
    )
    assert drill.card_href(ViewState(direction="MO"), "errors") is None


def test_ins024_the_detailed_view_of_a_drilled_link_counts_the_cards_messages(loaded):
    # The link's state, run as the detailed view: as many rows as the card counts.
    engine, _ = loaded
    scope = viewer_for(engine).scope
    for key, expected in (("delivered", 3), ("errors", 3)):
        state = state_from_search(drill.card_href(ViewState(), key)[1:])
        assert reports.detailed_count(engine, scope, state.to_filter(TIMEZONE)) == expected


def test_ins025_an_error_reasons_code_links_to_its_failed_messages(loaded):
    # The last 7 days: 131026 twice (w3, w6), 131047 once (w5).
    out = update_consolidated(services_for(loaded), ViewState().to_dict(), None)
    links = {
        part["props"]["children"]: part["props"]
        for part in _walk(as_json(out["top_errors"]))
        if part.get("type") == "Link"
    }
    assert {code: props["href"] for code, props in links.items()} == {
        "131026": "/?view=detailed&direction=MT&status=error&error_code=131026",
        "131047": "/?view=detailed&direction=MT&status=error&error_code=131047",
    }
    assert links["131047"]["title"] == "Ver los mensajes con el error 131047"
    # The link's state, run as the detailed view: the code's messages, in the viewer's scope.
    engine, _ = loaded
    for code, expected in (("131026", 2), ("131047", 1)):
        state = state_from_search(links[code]["href"][1:])
        assert state.error_codes == (code,)
        flt = state.to_filter(TIMEZONE)
        assert reports.detailed_count(engine, viewer_for(engine).scope, flt) == expected
        assert int(reports.daily_series(engine, viewer_for(engine).scope, flt)["errors"].sum()) == (
            expected
        )
        # Delivery times have no error codes in their histogram: read from the messages.
        times = reports.delivery_times(engine, viewer_for(engine).scope, flt)
        assert int(times["delivered"].sum()) == 0
    brand_a = viewer_for(engine, ["Brand A"]).scope
    only_a = state_from_search(links["131026"]["href"][1:]).to_filter(TIMEZONE)
    assert reports.detailed_count(engine, brand_a, only_a) == 0  # both are Brand B's
    assert drill.error_href(ViewState(direction="MO"), "131026") is None


def test_ins026_the_detailed_view_says_which_error_code_it_shows(loaded):
    state = state_from_search("?view=detailed&direction=MT&status=error&error_code=131026")
    out = update_table(services_for(loaded), state.to_dict(), 0, None, new_view=True)
    assert out["count"] == "2 mensajes · Solo los mensajes con el error 131026."
    english = update_table(
        services_for(loaded, language="en"), state.to_dict(), 0, None, new_view=True
    )
    assert english["count"] == "2 messages · Only the messages with the error 131026."


@pytest.mark.parametrize("code", ["13 10", "x" * 33, "<b>"])
def test_ins027_a_link_naming_no_error_code_is_refused_in_words(code):
    with pytest.raises(FilterError) as refused:
        ViewState(error_codes=(code,)).to_filter(TIMEZONE)
    assert refused.value.code == "unknown_error_code"


def _walk(node):
    """Every component of a JSON layout, depth first."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        if "type" in node:
            yield node
        yield from _walk(node.get("props", {}).get("children"))


# --- campaigns table ---------------------------------------------------------------------------


def grid_of(out: dict) -> dict:
    return as_json(out["campaigns"])["props"]


def test_ins030_campaigns_table_in_spanish(loaded):
    out = update_consolidated(services_for(loaded), ViewState().to_dict(), None)
    grid = grid_of(out)
    assert [c["headerName"] for c in grid["columnDefs"]] == [
        "Campaña",
        "Enviados",
        "% entregados",
        "% leídos",
        "% errores",
        "Error más frecuente",
    ]
    # Sorted by the numbers, shown as formatted in the language.
    assert grid["columnDefs"][2]["valueFormatter"] == {"function": "params.data.delivered_pct_text"}
    assert grid["defaultColDef"]["sortable"] is True
    # No campaign: w3-w8 (6 sent, 2 with a sent time, w7 delivered, 3 errors of which two
    # 131026); Black Friday: w1 delivered and w2 read.
    (none, black_friday) = grid["rowData"]
    assert none == {
        "campaign": "Sin campaña",
        "top_error": none["top_error"],
        "total": 6,
        "total_text": "6",
        "delivered_pct": pytest.approx(100 / 6),
        "delivered_pct_text": "16,7\u00a0%",
        "read_pct": 0.0,
        "read_pct_text": "0,0\u00a0%",
        "error_pct": 50.0,
        "error_pct_text": "50,0\u00a0%",
    }
    # The code, its meaning in the language and the operator's own text.
    assert none["top_error"] == (
        "131026 · Mensaje no entregable: el número puede no tener WhatsApp o una versión "
        "antigua (operador: «Message undeliverable»)"
    )
    assert (black_friday["campaign"], black_friday["total"], black_friday["top_error"]) == (
        "Black Friday",
        2,
        "—",
    )
    assert [black_friday[k] for k in ("delivered_pct_text", "read_pct_text")] == [
        "100,0\u00a0%",
        "50,0\u00a0%",
    ]
    assert out["campaigns_hidden"] is False


def test_ins031_campaigns_table_in_portuguese_and_english_and_sms(loaded):
    pt = grid_of(update_consolidated(services_for(loaded, language="pt-BR"), None, "pt-BR"))
    assert [c["headerName"] for c in pt["columnDefs"]][:2] == ["Campanha", "Enviadas"]
    assert pt["rowData"][0]["campaign"] == "Sem campanha"
    en = update_consolidated(
        services_for(loaded, language="en"), ViewState(channel="sms").to_dict(), "en"
    )
    grid = grid_of(en)
    # SMS has no read receipts: no read column.
    assert [c["headerName"] for c in grid["columnDefs"]] == [
        "Campaign",
        "Sent",
        "Delivered %",
        "Error %",
        "Most frequent error",
    ]
    # s1 delivered and s2 undeliverable, neither in a campaign.
    (row,) = grid["rowData"]
    assert (row["campaign"], row["total_text"], row["delivered_pct_text"]) == (
        "No campaign",
        "2",
        "50.0%",
    )
    assert row["top_error"].startswith("UNDELIV · ")


def test_ins032_campaigns_keep_the_scope_and_hide_for_received_messages(loaded):
    engine, _ = loaded
    ids_of = subaccount_ids(engine)
    services = services_for(loaded, ["Brand A"])
    out = update_consolidated(services, ViewState().to_dict(), None)
    # Brand A: Black Friday w1, w2; no campaign w4, w7, w8 (no errors).
    assert [(r["campaign"], r["total"], r["top_error"]) for r in grid_of(out)["rowData"]] == [
        ("Sin campaña", 3, "—"),
        ("Black Friday", 2, "—"),
    ]
    forged = update_consolidated(
        services, ViewState(subaccounts=(ids_of["Brand B"],)).to_dict(), None
    )
    assert forged["body_hidden"] is True
    assert texts(forged["campaigns"]) == ["No hay mensajes enviados en este período."]
    received = update_consolidated(services, ViewState(direction="MO").to_dict(), None)
    assert (received["campaigns"], received["campaigns_hidden"]) == ([], True)
