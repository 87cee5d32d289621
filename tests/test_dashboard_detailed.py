"""The detailed view's callbacks: server-side pages, sorting, phone search, message detail."""

from __future__ import annotations

import re

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate
from sqlalchemy import event

from dashboard import ids
from dashboard.callbacks.detailed import page_asked, show_detail, update_table
from dashboard.callbacks.filters import update_view
from dashboard.layouts import detailed
from reporting.formatting import format_datetime
from reporting.view_state import ViewState
from tests.dashboard_data import (
    LONG_CONTENT,
    PHONE_ANA,
    FixedViewerServices,
    at,
    rows,
    texts,
    viewer_for,
)

NEWEST_FIRST = ["w8", "w7", "w6", "w9", "w5", "w4", "w3", "w2", "w1"]


@pytest.fixture
def services(engine, store_settings, load_rows):
    load_rows(engine, rows())
    return FixedViewerServices(store_settings, engine, viewer_for(engine))


DETAILED = ViewState(view="detailed")


def test_dr101_first_page_is_newest_first_with_readable_cells(services):
    out = update_table(services, DETAILED.to_dict(), 0, None, new_view=True)

    assert [row["id"] for row in out["data"]] == NEWEST_FIRST
    assert (out["shown"]["pages"], out["shown"]["page"]) == (1, 0)
    assert out["page_text"] == "Página 1 de 1"
    assert [out[f"{move}_disabled"] for move in ("first", "previous", "next", "last")] == [
        True,
        True,
        True,
        True,
    ]
    # A new view's address is written by the filter bar, not again here.
    assert out["search"] is no_update and out["applied_search"] is no_update
    assert out["count"] == "9 mensajes"
    w1 = out["data"][-1]
    assert w1 == {
        "id": "w1",
        "created_at": format_datetime(at(2, 10), "es"),
        "phone": PHONE_ANA,
        "direction": "Saliente (MT)",
        "subaccount": "Brand A",
        "user": "ana",
        "campaign": "Black Friday",
        "content_type": "Plantilla",
        "content": LONG_CONTENT[:59].rstrip() + "…",
        # Only the shortened content carries its full text, shown on hover.
        "content_full": LONG_CONTENT,
        "status": "delivered",
        "status_label": "Entregado",
        "error_code": "",
        "error_description": "",
        "sent_at": format_datetime(at(2, 10, 1), "es"),
        "delivered_at": format_datetime(at(2, 10, 2), "es"),
        "read_at": "",
    }
    # Times are the account's local time (Sao Paulo), not UTC.
    assert w1["created_at"].endswith(" 10:00:00")
    assert out["data"][0]["content_full"] is None
    w6 = out["data"][2]
    assert (w6["status_label"], w6["error_code"], w6["error_description"]) == (
        "Error",
        "131026",
        "Mensaje no entregable: el número puede no tener WhatsApp o una versión antigua "
        "(operador: «Message undeliverable»)",
    )
    assert out["data"][3]["direction"] == "Entrante (MO)"


def test_dr102_pages_are_fetched_one_at_a_time(services, monkeypatch):
    monkeypatch.setattr(detailed, "PAGE_SIZE", 4)
    first = update_table(services, DETAILED.to_dict(), 0, None, new_view=True)
    second = update_table(services, DETAILED.to_dict(), 1, None)
    last = update_table(services, DETAILED.to_dict(), 2, None)
    assert [r["id"] for r in first["data"]] == NEWEST_FIRST[:4]
    assert [r["id"] for r in second["data"]] == NEWEST_FIRST[4:8]
    assert [r["id"] for r in last["data"]] == NEWEST_FIRST[8:]
    assert (first["shown"]["pages"], second["shown"]["page"], last["shown"]["page"]) == (3, 1, 2)
    assert (second["page_text"], second["previous_disabled"], second["next_disabled"]) == (
        "Página 2 de 3",
        False,
        False,
    )
    assert (last["next_disabled"], last["last_disabled"]) == (True, True)
    # A page moved to is kept in the address, counted from 1.
    assert second["search"] == second["applied_search"] == "?view=detailed&page=2"
    # A new view (filters applied) starts again on the first page.
    again = update_table(services, DETAILED.to_dict(), 2, None, new_view=True)
    assert again["shown"]["page"] == 0
    # A page past the end shows the last one.
    past = update_table(services, DETAILED.to_dict(), 7, None)
    assert [r["id"] for r in past["data"]] == NEWEST_FIRST[8:]
    assert (past["shown"]["page"], past["search"]) == (2, "?view=detailed&page=3")


def test_dr113_paging_buttons_ask_for_the_page_next_to_the_one_shown():
    shown = {"applied": {}, "page": 1, "pages": 3}
    assert [page_asked(move, shown) for move in ("first", "previous", "next", "last")] == [
        0,
        0,
        2,
        2,
    ]
    assert page_asked(None, shown) is None


def test_dr103_a_negative_page_is_refused_in_the_users_language(services):
    out = update_table(services, DETAILED.to_dict(), -1, "en")
    assert out["message"] == "That page does not exist."


def view_inputs(state: ViewState, **changes) -> dict:
    return {"applied": state.to_dict(), "language": None, **changes}


def test_dr104_phone_search_as_people_type_it_newest_first(services):
    sorted_state = ViewState(view="detailed", sort="status", descending=False)
    out = update_view(
        services, ids.PHONE_SEARCH, **view_inputs(sorted_state, phone=" (11) 98765-4321 ")
    )
    assert out["applied"]["phone"] == "(11) 98765-4321"
    assert (out["applied"]["sort"], out["applied"]["descending"]) == ("created_at", True)
    assert out["search"] == "?view=detailed&phone=%2811%29+98765-4321"
    assert out["error_phone"] == ""

    table = update_table(services, out["applied"], 0, None, new_view=True)
    assert [row["id"] for row in table["data"]] == ["w8", "w9", "w4", "w2", "w1"]
    assert table["count"] == "5 mensajes del número 11987654321"


def test_dr105_a_short_number_is_explained_next_to_the_search_box(services):
    out = update_view(services, ids.PHONE_SEARCH_BUTTON, **view_inputs(DETAILED, phone="12-34"))
    assert out["error_phone"] == "Un número de teléfono tiene de 6 a 15 dígitos."
    assert out["error_date_range"] == "" and out["message"] == ""
    assert out["applied"] is no_update and out["search"] is no_update


def test_dr106_sorting_is_done_by_the_server_statuses_in_their_lifecycle(services):
    out = update_view(
        services,
        ids.DETAILED_SORT,
        **view_inputs(DETAILED, sort_by=[{"column_id": "status", "direction": "asc"}]),
    )
    assert (out["applied"]["sort"], out["applied"]["descending"]) == ("status", False)
    assert out["search"] == "?view=detailed&sort=status&order=asc"
    table = update_table(services, out["applied"], 0, None, new_view=True)
    # queued, sent, three errors, two delivered, read, then the received one.
    assert [row["id"] for row in table["data"]] == [
        "w8",
        "w4",
        "w3",
        "w5",
        "w6",
        "w1",
        "w7",
        "w2",
        "w9",
    ]


def test_dr107_an_unsortable_column_is_refused(services):
    out = update_view(
        services,
        ids.DETAILED_SORT,
        **view_inputs(
            DETAILED, sort_by=[{"column_id": "content", "direction": "asc"}], language="en"
        ),
    )
    assert out["message"] == "This column cannot be sorted."
    assert out["applied"] is no_update


def test_dr108_a_chosen_row_opens_its_full_message_and_timeline(services):
    out = show_detail(
        services, {"rowIndex": 8, "rowId": "w1"}, {"page": 0}, DETAILED.to_dict(), None
    )
    assert out["is_open"] is True
    words = texts(out["body"])
    assert words[:3] == ["Entregado", "Contenido", LONG_CONTENT]
    assert "order-4312" in words and "Ana" in words
    timeline = words[words.index("Recorrido") + 1 :]
    assert timeline == [
        "Creado",
        " " + format_datetime(at(2, 10), "es"),
        "Enviado al canal",
        " " + format_datetime(at(2, 10, 1), "es") + " (archivo)",
        "Entregado",
        " " + format_datetime(at(2, 10, 2), "es") + " (archivo)",
    ]


def test_dr109_an_error_message_shows_why_in_its_timeline(services):
    out = show_detail(
        services, {"rowIndex": 2, "rowId": "w6"}, {"page": 0}, DETAILED.to_dict(), "en"
    )
    words = texts(out["body"])
    # The file gave no time for the failure: the step shows when it was recorded.
    events = services.message_events(services.viewer.scope, "w6", services.viewer.timezone)
    recorded = format_datetime(events["recorded_at"].iloc[-1], "en")
    assert recorded
    assert words[words.index("Timeline") + 1 :] == [
        "Created",
        " " + format_datetime(at(1, 12), "en"),
        "Error",
        f" recorded {recorded} 131026 · Message undeliverable: the number may not be on WhatsApp or"
        " may run an old version (operator: “Message undeliverable”) (file)",
    ]


def test_dr110_a_row_that_moved_is_not_shown_as_another_message(services):
    out = show_detail(
        services, {"rowIndex": 0, "rowId": "w1"}, {"page": 0}, DETAILED.to_dict(), None
    )
    assert out["body"] == (
        "Los datos cambiaron desde que se cargó la página; vuelve a elegir la fila."
    )


def test_dr111_no_chosen_row_closes_the_detail(services):
    assert show_detail(services, None, 0, DETAILED.to_dict(), None) == {
        "is_open": False,
        "body": no_update,
    }


def test_dr112_the_page_the_table_holds_is_not_queried_again(services):
    out = update_table(services, DETAILED.to_dict(), 0, None, new_view=True)
    assert out["shown"] == {"applied": DETAILED.to_dict(), "page": 0, "pages": 1}
    with pytest.raises(PreventUpdate):
        update_table(services, DETAILED.to_dict(), 0, None, shown=out["shown"])
    moved = update_table(services, DETAILED.to_dict(), 1, None, shown=out["shown"])
    assert [row["id"] for row in moved["data"]] == NEWEST_FIRST and moved["shown"]["page"] == 0


def test_dr114_a_phone_search_reads_its_messages_once_for_its_page_and_count(services, monkeypatch):
    monkeypatch.setattr(detailed, "PAGE_SIZE", 2)
    searched = ViewState(view="detailed", phone="(11) 98765-4321").to_dict()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(services.engine, "before_cursor_execute", seen)
    try:
        first = update_table(services, searched, 0, None, new_view=True)
    finally:
        event.remove(services.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if re.search(r"\bFROM messages\b", s)]
    assert len(reads) == 1
    assert [row["id"] for row in first["data"]] == ["w8", "w9"]
    assert first["count"] == "5 mensajes del número 11987654321"
    second = update_table(services, searched, 1, None)
    last = update_table(services, searched, 2, None)
    assert [row["id"] for row in second["data"]] == ["w4", "w2"]
    assert [row["id"] for row in last["data"]] == ["w1"]
    assert (first["shown"]["pages"], last["next_disabled"]) == (3, True)
