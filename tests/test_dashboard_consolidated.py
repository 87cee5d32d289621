"""The consolidated view's callback on a hand-built message set: cards, charts, error reasons."""

from __future__ import annotations

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from dashboard.callbacks.consolidated import update_consolidated
from reporting.formatting import format_date
from reporting.view_state import ViewState
from tests.dashboard_data import (
    WHATSAPP_DAILY,
    FixedViewerServices,
    by_class,
    day,
    rows,
    subaccount_ids,
    texts,
    viewer_for,
)

NBSP = "\u00a0"


@pytest.fixture
def loaded(engine, store_settings, load_rows):
    load_rows(engine, rows())
    return engine, store_settings


def services_for(loaded, names=None, language="es"):
    engine, settings = loaded
    return FixedViewerServices(settings, engine, viewer_for(engine, names, language))


def card(out, key):
    return by_class(out[f"kpi_{key}"], "kpi-value")[0], by_class(out[f"kpi_{key}"], "kpi-sub")[0]


def test_dr001_whatsapp_cards_charts_and_errors_in_spanish(loaded):
    out = update_consolidated(services_for(loaded), ViewState().to_dict(), None)

    assert card(out, "total") == ("8", f"100,0{NBSP}% del total")
    assert card(out, "sent") == ("4", f"50,0{NBSP}% del total")
    assert card(out, "delivered") == ("3", f"37,5{NBSP}% del total")
    assert card(out, "read") == ("1", f"12,5{NBSP}% del total")
    assert card(out, "errors") == ("3", f"37,5{NBSP}% del total")
    assert card(out, "received") == ("1", "mensajes de clientes (MO)")

    days = [day(offset) for offset in range(6, -1, -1)]
    delivered, errors = out["daily"]["data"]
    assert delivered["x"] == [d.isoformat() for d in days]
    assert delivered["y"] == WHATSAPP_DAILY["delivered"]
    assert errors["y"] == WHATSAPP_DAILY["errors"]
    assert (delivered["name"], errors["name"]) == ("Entregados", "Errores")
    # Two days ago: 2 delivered, 1 error, 3 sent in all.
    assert delivered["customdata"][4] == [format_date(day(2), "es"), "2", "1", "3"]
    assert delivered["hovertemplate"] == (
        "<b>%{customdata[0]}</b><br>Entregados: %{customdata[1]}<br>"
        "Errores: %{customdata[2]}<br>Total: %{customdata[3]}<extra></extra>"
    )
    assert out["daily"]["layout"]["separators"] == ",."
    # The day's label shows anywhere in its column; one label for both bars.
    assert (out["daily"]["layout"]["hovermode"], errors["hoverinfo"]) == ("x unified", "skip")
    assert out["daily"]["layout"]["xaxis"]["automargin"] is True

    (line,) = out["pct"]["data"]
    # Days without messages leave a gap instead of a misleading 0 %.
    assert line["y"][:4] == [None, None, None, None]
    assert line["y"][4] == pytest.approx(200 / 3)
    assert line["y"][5:] == [25.0, 0.0]
    assert line["customdata"][5] == [format_date(day(1), "es"), f"25,0{NBSP}%", "4"]
    assert out["pct"]["layout"]["yaxis"]["range"] == [0, 100]

    assert texts(out["top_errors"]) == [
        "Código",
        "Descripción",
        "Mensajes",
        "Proporción",
        "131026",
        "Mensaje no entregable: el número puede no tener WhatsApp o una versión antigua "
        "(operador: «Message undeliverable»)",
        "2",
        f"66,7{NBSP}%",
        "131047",
        "Pasaron más de 24 horas desde el último mensaje del cliente: solo se puede enviar una "
        "plantilla (operador: «Re-engagement message»)",
        "1",
        f"33,3{NBSP}%",
    ]
    assert (out["body_hidden"], out["empty_hidden"], out["message"]) == (False, True, "")


def test_dr002_sms_in_english_says_read_is_not_available(loaded):
    state = ViewState(channel="sms")
    out = update_consolidated(services_for(loaded, language="en"), state.to_dict(), None)

    assert card(out, "total") == ("2", "100.0% of total")
    assert card(out, "delivered") == ("1", "50.0% of total")
    assert card(out, "errors") == ("1", "50.0% of total")
    assert card(out, "read") == ("Not available", "SMS has no read receipts")
    assert card(out, "received") == ("1", "messages from customers (MO)")
    assert texts(out["top_errors"])[4:] == [
        "UNDELIV",
        "The carrier could not deliver it (operator: “Undeliverable”)",
        "1",
        "100.0%",
    ]


def test_dr003_the_browser_language_wins_over_the_profile(loaded):
    out = update_consolidated(services_for(loaded), ViewState().to_dict(), "pt-BR")
    assert card(out, "delivered") == ("3", "37,5% do total")
    assert out["daily"]["data"][0]["name"] == "Entregues"


def test_dr004_a_user_sees_only_their_subaccounts(loaded):
    out = update_consolidated(services_for(loaded, ["Brand B"]), ViewState().to_dict(), None)
    assert card(out, "total")[0] == "3"
    assert card(out, "delivered")[0] == "0"
    assert card(out, "errors") == ("3", f"100,0{NBSP}% del total")
    assert card(out, "received") == ("0", "mensajes de clientes (MO)")


def test_dr005_filters_narrow_the_figures(loaded):
    engine, _ = loaded
    brand_a = subaccount_ids(engine)["Brand A"]
    state = ViewState(subaccounts=(brand_a,), content_types=("template",))
    out = update_consolidated(services_for(loaded), state.to_dict(), None)
    # w1, w2 (two days ago) and w7 (yesterday): all delivered, one read.
    assert card(out, "total")[0] == "3"
    assert card(out, "delivered") == ("3", f"100,0{NBSP}% del total")
    assert card(out, "read") == ("1", f"33,3{NBSP}% del total")
    assert texts(out["top_errors"]) == ["Ningún mensaje con error en este período."]


def test_dr006_no_messages_shows_the_empty_state(loaded):
    state = ViewState(start=day(20).isoformat(), end=day(10).isoformat())
    out = update_consolidated(services_for(loaded), state.to_dict(), None)
    assert (out["body_hidden"], out["empty_hidden"]) == (True, False)
    assert texts(out["empty"])[1:] == [
        "No hay mensajes para estos filtros",
        "Prueba con un período más largo, otro canal o menos filtros.",
    ]
    assert card(out, "total") == ("0", "—")


def test_dr007_a_bad_state_from_the_browser_is_explained_not_run(loaded):
    state = {**ViewState().to_dict(), "start": day(120).isoformat()}
    out = update_consolidated(services_for(loaded, language="en"), state, None)
    earliest = format_date(day(90), "en")
    assert out["message"] == (f"Reports reach back 90 days: pick a start on or after {earliest}.")
    assert out["daily"] is no_update and out["kpi_total"] is no_update


def test_dr008_the_detailed_view_leaves_the_consolidated_one_alone(loaded):
    with pytest.raises(PreventUpdate):
        update_consolidated(services_for(loaded), ViewState(view="detailed").to_dict(), None)


def test_dr009_the_view_the_page_was_built_with_is_not_queried_again(loaded):
    state = ViewState().to_dict()
    out = update_consolidated(services_for(loaded), state, None)
    assert out["shown"] == state
    with pytest.raises(PreventUpdate):
        update_consolidated(services_for(loaded), state, None, shown=out["shown"])


def test_dr010_received_messages_per_day_and_their_cards(loaded):
    state = ViewState(direction="MO")
    out = update_consolidated(services_for(loaded), state.to_dict(), None)
    # w9, yesterday, is the one WhatsApp MO message of the last 7 days.
    assert [texts(out[f"kpi_{key}"]) for key in ("total", "sent", "delivered", "read")] == [
        ["Recibidos", "1", "mensajes de clientes (MO)"],
        ["Promedio por día", "0,1", "en 7 días"],
        ["Día con más", "1", format_date(day(1), "es")],
        ["Días con mensajes", "1", "de 7 días"],
    ]
    assert (out["kpi_errors"], out["kpi_received"]) == ([], [])
    (bars,) = out["daily"]["data"]
    assert bars["name"] == "Recibidos"
    assert bars["y"] == [0, 0, 0, 0, 0, 1, 0]
    assert bars["customdata"][5] == [format_date(day(1), "es"), "1"]
    assert out["daily"]["layout"]["title"]["text"] == "Mensajes recibidos por día"
    assert out["body_class"] == "consolidated-body received-only"
    assert (out["body_hidden"], out["top_errors"]) == (False, [])


def test_dr011_received_cards_in_english_over_a_longer_range(loaded):
    state = ViewState(
        direction="MO", channel="sms", start=day(9).isoformat(), end=day(0).isoformat()
    )
    out = update_consolidated(services_for(loaded, language="en"), state.to_dict(), "en")
    # s3, yesterday: one message over 10 days.
    assert [texts(out[f"kpi_{key}"])[1:] for key in ("total", "sent", "delivered", "read")] == [
        ["1", "messages from customers (MO)"],
        ["0.1", "over 10 days"],
        ["1", format_date(day(1), "en")],
        ["1", "of 10 days"],
    ]
    both = update_consolidated(services_for(loaded), ViewState().to_dict(), None)
    assert both["body_class"] == "consolidated-body"
