"""The detailed view's callbacks: server-side pages, sorting, phone search, message detail."""

from __future__ import annotations

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.detailed import show_detail, update_table
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
    assert (out["page_count"], out["page_current"]) == (1, 0)
    # No cell was chosen: the chosen cell is left alone, so the detail's callback is not run.
    assert out["active_cell"] is no_update
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
        "status": '<span class="status-badge status-delivered">Entregado</span>',
        "error_code": "",
        "error_description": "",
        "sent_at": format_datetime(at(2, 10, 1), "es"),
        "delivered_at": format_datetime(at(2, 10, 2), "es"),
        "read_at": "",
    }
    # Times are the account's local time (Sao Paulo), not UTC.
    assert w1["created_at"].endswith(" 10:00:00")
    # Only the shortened content carries its full text as a tooltip.
    assert out["tooltips"][-1] == {"content": {"value": LONG_CONTENT, "type": "text"}}
    assert out["tooltips"][0] == {}
    w6 = out["data"][2]
    assert (w6["status"], w6["error_code"], w6["error_description"]) == (
        '<span class="status-badge status-error">Error</span>',
        "131026",
        "Message undeliverable",
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
    assert (first["page_count"], second["page_current"], last["page_current"]) == (3, 1, 2)
    # A new view (filters applied) starts again on the first page, with no cell chosen.
    chosen = {"row": 1, "column": 0, "column_id": "created_at", "row_id": "w4"}
    again = update_table(services, DETAILED.to_dict(), 2, None, new_view=True, active_cell=chosen)
    assert (again["page_current"], again["active_cell"]) == (0, None)


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
    assert (out["applied"]["sort"], out["applied"]["descending"], out["sort_by"]) == (
        "created_at",
        True,
        [],
    )
    assert out["search"] == "?view=detailed&phone=%2811%29+98765-4321"
    assert out["error_phone"] == ""

    table = update_table(services, out["applied"], 0, None, new_view=True)
    assert [row["id"] for row in table["data"]] == ["w8", "w9", "w4", "w2", "w1"]
    assert table["count"] == "5 mensajes del número 11987654321"


def test_dr105_a_short_number_is_explained_next_to_the_search_box(services):
    out = update_view(services, ids.PHONE_SEARCH_BUTTON, **view_inputs(DETAILED, phone="12-34"))
    assert out["error_phone"] == "Un número de teléfono tiene de 6 a 15 dígitos."
    assert out["sort_by"] is no_update
    assert out["error_date_range"] == "" and out["message"] == ""
    assert out["applied"] is no_update and out["search"] is no_update


def test_dr106_sorting_is_done_by_the_server(services):
    out = update_view(
        services,
        ids.DETAILED_TABLE,
        **view_inputs(DETAILED, sort_by=[{"column_id": "status", "direction": "asc"}]),
    )
    assert (out["applied"]["sort"], out["applied"]["descending"]) == ("status", False)
    assert out["search"] == "?view=detailed&sort=status&order=asc"
    table = update_table(services, out["applied"], 0, None, new_view=True)
    assert [row["id"] for row in table["data"]] == [
        "w1",
        "w7",
        "w3",
        "w5",
        "w6",
        "w8",
        "w2",
        "w9",
        "w4",
    ]


def test_dr107_an_unsortable_column_is_refused(services):
    out = update_view(
        services,
        ids.DETAILED_TABLE,
        **view_inputs(
            DETAILED, sort_by=[{"column_id": "content", "direction": "asc"}], language="en"
        ),
    )
    assert out["message"] == "This column cannot be sorted."
    assert out["sort_by"] == [] and out["applied"] is no_update


def test_dr108_a_chosen_row_opens_its_full_message_and_timeline(services):
    out = show_detail(
        services, {"row": 8, "column": 0, "row_id": "w1"}, 0, DETAILED.to_dict(), None
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
        services, {"row": 2, "column": 0, "row_id": "w6"}, 0, DETAILED.to_dict(), "en"
    )
    words = texts(out["body"])
    assert words[words.index("Timeline") + 1 :] == [
        "Created",
        " " + format_datetime(at(1, 12), "en"),
        "Error",
        " 131026 · Message undeliverable (file)",
    ]


def test_dr110_a_row_that_moved_is_not_shown_as_another_message(services):
    out = show_detail(
        services, {"row": 0, "column": 0, "row_id": "w1"}, 0, DETAILED.to_dict(), None
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
    assert out["shown"] == {"applied": DETAILED.to_dict(), "page": 0}
    with pytest.raises(PreventUpdate):
        update_table(services, DETAILED.to_dict(), 0, None, shown=out["shown"])
    moved = update_table(services, DETAILED.to_dict(), 1, None, shown=out["shown"])
    assert moved["data"] == [] and moved["page_current"] == 1
