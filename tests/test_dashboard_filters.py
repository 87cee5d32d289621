"""Applying a view: Apply, Reset, channel and report tabs, errors next to controls, the URL."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.detailed import choose_columns
from dashboard.callbacks.filters import update_view
from dashboard.callbacks.routing import (
    SEARCH_PROP,
    choose_language,
    page_and_state,
    render_page,
)
from dashboard.callbacks.url_state import state_from_search, state_to_search
from dashboard.layouts import detailed as detailed_layout
from data_access import accounts
from data_access.filters import FilterError
from reporting.view_state import ViewState
from tests.dashboard_data import (
    FixedViewerServices,
    as_json,
    day,
    find_id,
    rows,
    subaccount_ids,
    texts,
    viewer_for,
)


@pytest.fixture
def services(duckdb_engine, duckdb_settings, load_rows):
    load_rows(duckdb_engine, rows())
    return FixedViewerServices(duckdb_settings, duckdb_engine, viewer_for(duckdb_engine))


def pending(state: ViewState, language=None, **controls) -> dict:
    inputs = {
        "applied": state.to_dict(),
        "language": language,
        "start": state.start,
        "end": state.end,
        "direction": "all",
        "value_subaccounts": [],
        "value_users": [],
        "value_campaigns": [],
        "value_content_types": [],
        "value_statuses": [],
    }
    inputs.update(controls)
    return inputs


def test_dr201_apply_stores_the_view_and_writes_it_in_the_url(services):
    brand_a = subaccount_ids(services.engine)["Brand A"]
    out = update_view(
        services,
        ids.APPLY_FILTERS,
        **pending(
            ViewState(),
            start=day(2).isoformat(),
            end=day(1).isoformat(),
            direction="MT",
            value_subaccounts=[brand_a],
            value_statuses=["delivered"],
        ),
    )
    assert out["applied"] == {
        **ViewState().to_dict(),
        "start": day(2).isoformat(),
        "end": day(1).isoformat(),
        "direction": "MT",
        "subaccounts": [brand_a],
        "statuses": ["delivered"],
    }
    assert out["search"] == (
        f"?start={day(2).isoformat()}&end={day(1).isoformat()}&direction=MT"
        f"&subaccount={brand_a}&status=delivered"
    )
    assert state_from_search(out["search"]) == ViewState.from_dict(out["applied"])
    assert out["error_date_range"] == "" and out["message"] == ""
    # Apply leaves the controls as the user set them.
    assert out["start"] is no_update and out["options_subaccounts"] is no_update


def test_dr202_a_reversed_range_is_explained_next_to_the_dates(services):
    out = update_view(
        services,
        ids.APPLY_FILTERS,
        **pending(ViewState(), start=day(1).isoformat(), end=day(3).isoformat()),
    )
    assert out["error_date_range"] == "La fecha final es anterior a la inicial."
    assert out["applied"] is no_update and out["search"] is no_update


def test_dr203_a_range_too_long_in_portuguese(services):
    out = update_view(
        services,
        ids.APPLY_FILTERS,
        **pending(
            ViewState(), language="pt-BR", start=day(200).isoformat(), end=day(100).isoformat()
        ),
    )
    assert out["error_date_range"].startswith("Os relatórios vão até 90 dias atrás: escolha")


def test_dr204_an_unknown_status_is_explained_next_to_its_control(services):
    out = update_view(
        services,
        ids.APPLY_FILTERS,
        **pending(ViewState(channel="sms"), language="en", value_statuses=["read"]),
    )
    assert out["error_statuses"] == "The status “read” does not exist on this channel."


def test_dr205_switching_channel_keeps_what_exists_there(services):
    brand_b = subaccount_ids(services.engine)["Brand B"]
    state = ViewState(
        subaccounts=(brand_b,),
        content_types=("image",),
        statuses=("read", "error"),
        start=day(5).isoformat(),
        end=day(0).isoformat(),
    )
    out = update_view(services, ids.CHANNEL_TABS, **pending(state, channel="sms"))
    assert out["applied"] == {
        **state.to_dict(),
        "channel": "sms",
        "content_types": [],
        "statuses": ["error"],
    }
    assert out["search"] == (
        f"?channel=sms&start={day(5).isoformat()}&end={day(0).isoformat()}"
        f"&subaccount={brand_b}&status=error"
    )
    assert out["options_statuses"] == [
        {"label": "Entregado", "value": "delivered"},
        {"label": "Error", "value": "error"},
        {"label": "Recibido", "value": "received"},
    ]
    assert out["options_content_types"] == [{"label": "Texto", "value": "text"}]
    assert out["value_statuses"] == ["error"] and out["value_content_types"] == []
    assert (out["start"], out["end"]) == (day(5).isoformat(), day(0).isoformat())


def test_dr206_reset_returns_to_the_default_view_of_the_channel(services):
    state = ViewState(
        channel="sms",
        view="detailed",
        direction="MO",
        phone="11987654321",
        start=day(3).isoformat(),
    )
    out = update_view(services, ids.RESET_FILTERS, **pending(state))
    assert out["applied"] == ViewState(channel="sms", view="detailed").to_dict()
    assert out["search"] == "?channel=sms&view=detailed"
    assert (out["start"], out["end"]) == (day(6).isoformat(), day(0).isoformat())
    assert (out["direction"], out["phone"]) == ("all", "")


def test_dr207_report_tabs_change_the_view_only(services):
    state = ViewState(direction="MT")
    out = update_view(services, ids.REPORT_TABS, **pending(state, view="detailed"))
    assert out["applied"] == {**state.to_dict(), "view": "detailed"}
    assert out["search"] == "?view=detailed&direction=MT"
    with pytest.raises(PreventUpdate):
        update_view(services, ids.REPORT_TABS, **pending(state, view="consolidated"))


def test_dr208_the_url_holds_every_part_of_the_view():
    state = ViewState(
        channel="sms",
        view="detailed",
        start="2026-11-01",
        end="2026-11-20",
        direction="MO",
        subaccounts=(3, 1),
        users=(7,),
        campaigns=(2,),
        content_types=("text",),
        statuses=("received",),
        phone="11 98765",
        sort="phone",
        descending=False,
    )
    search = state_to_search(state)
    assert search == (
        "?channel=sms&view=detailed&start=2026-11-01&end=2026-11-20&direction=MO"
        "&phone=11+98765&sort=phone&order=asc&subaccount=3&subaccount=1&user=7&campaign=2"
        "&content_type=text&status=received"
    )
    assert state_from_search(search) == state
    assert state_to_search(ViewState()) == ""
    with pytest.raises(FilterError):
        state_from_search("?view=chart")
    with pytest.raises(FilterError):
        state_from_search("?subaccount=abc")


def test_dr209_a_link_reopens_its_view(services):
    page, applied = render_page(
        services, "/", "?channel=sms&view=detailed&phone=11987654321&status=error", "en", None
    )
    assert applied == {
        **ViewState().to_dict(),
        "channel": "sms",
        "view": "detailed",
        "phone": "11987654321",
        "statuses": ["error"],
    }
    assert find_id(page, ids.CHANNEL_TABS)["props"]["active_tab"] == "sms"
    assert find_id(page, ids.REPORT_TABS)["props"]["active_tab"] == "detailed"
    assert find_id(page, ids.PHONE_SEARCH)["props"]["value"] == "11987654321"
    assert find_id(page, ids.FILTER_STATUS)["props"]["value"] == ["error"]
    assert find_id(page, ids.DETAILED_VIEW)["props"]["hidden"] is False
    assert find_id(page, ids.CONSOLIDATED_VIEW)["props"]["hidden"] is True
    assert find_id(page, ids.EXPORTS_LINK)["props"]["children"] == "Exported reports"
    assert page.lang == "en"


def test_dr210_a_link_with_unusable_filters_opens_the_default_view_and_says_why(services):
    old = day(200).isoformat()
    page, applied = render_page(services, "/", f"?channel=sms&start={old}", None, None)
    assert applied == ViewState(channel="sms").to_dict()
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == (
        "El enlace tenía filtros que no se pueden aplicar; se muestra la vista predeterminada."
    )


def test_dr211_ids_outside_the_viewers_scope_are_dropped(duckdb_engine, duckdb_settings, load_rows):
    load_rows(duckdb_engine, rows())
    known = subaccount_ids(duckdb_engine)
    services = FixedViewerServices(
        duckdb_settings, duckdb_engine, viewer_for(duckdb_engine, ["Brand A"])
    )
    search = f"?subaccount={known['Brand A']}&subaccount={known['Brand B']}"
    page, applied = render_page(services, "/", search, None, None)
    assert applied["subaccounts"] == [known["Brand A"]]
    assert find_id(page, ids.FILTER_SUBACCOUNT)["props"]["options"] == [
        {"label": "Brand A", "value": known["Brand A"]}
    ]
    # The dropped id is named, in the viewer's language.
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == (
        f"El enlace tenía subcuentas que no puedes ver o que no existen ({known['Brand B']}); "
        "se muestra la vista sin ellas."
    )
    # Only ids the viewer cannot have: the view shows every subaccount of theirs, and says so.
    page, applied = render_page(
        services, "/", f"?subaccount={known['Brand B']}&subaccount=999999", "pt-BR", None
    )
    assert applied == ViewState().to_dict()
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == (
        f"O link tinha subcontas que você não pode ver ou que não existem "
        f"({known['Brand B']}, 999999); mostramos a visão sem elas."
    )
    page, _ = render_page(services, "/", "?subaccount=999999", "en", None)
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == (
        "The link had subaccounts you cannot see or that do not exist (999999); "
        "showing the view without them."
    )
    # A link with only what the viewer can see says nothing.
    page, _ = render_page(services, "/", f"?subaccount={known['Brand A']}", None, None)
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == ""


def test_dr219_a_link_with_an_unknown_sort_opens_in_the_default_order_and_names_it(services):
    search = "?channel=sms&view=detailed&status=error&sort=password_hash&order=asc"
    page, applied = render_page(services, "/", search, None, None)
    # The rest of the link holds; only the order falls back to the newest first.
    assert applied == {
        **ViewState().to_dict(),
        "channel": "sms",
        "view": "detailed",
        "statuses": ["error"],
    }
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == (
        "El enlace pedía ordenar por «password_hash», que no existe; "
        "se muestra el orden predeterminado."
    )
    assert find_id(page, ids.DETAILED_VIEW)["props"]["hidden"] is False
    # The table is built (before, the page was only "something went wrong").
    assert find_id(page, ids.DETAILED_COUNT)["props"]["children"] == "1 mensaje"
    page, _ = render_page(services, "/", search, "pt-BR", None)
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == (
        "O link pedia ordenar por «password_hash», que não existe; mostramos a ordem padrão."
    )
    page, _ = render_page(services, "/", "?sort=" + "x" * 60, "en", None)
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == (
        f"The link asked to sort by “{'x' * 39}…”, which does not exist; showing the default order."
    )
    # The query string stored for the page leaves the dropped order out.
    _, applied, stored = page_and_state(
        services, {"changed": ["url.search"]}, None, "/", search, None, ["url-change.data"]
    )
    assert stored == "?channel=sms&view=detailed&status=error"
    # Both notices at once: the order, then the subaccount.
    page, _ = render_page(services, "/", "?sort=nope&subaccount=999999", "en", None)
    assert find_id(page, ids.FILTER_MESSAGE)["props"]["children"] == (
        "The link asked to sort by “nope”, which does not exist; showing the default order. "
        "The link had subaccounts you cannot see or that do not exist (999999); "
        "showing the view without them."
    )


def test_dr212_the_view_own_url_change_does_not_rebuild_the_page(services):
    state = ViewState(view="detailed")
    with pytest.raises(PreventUpdate):
        render_page(
            services, "/", state_to_search(state), None, state.to_dict(), frozenset({"url.search"})
        )


def test_dr213_other_pages(services):
    state = ViewState(channel="sms", view="detailed")
    page, applied = render_page(services, "/exports", "", "en", state.to_dict())
    assert find_id(page, ids.EXPORTS_TABLE) is not None
    assert applied is no_update
    # The way back leads to the reports as they were left.
    back = find_id(page, ids.REPORTS_LINK)["props"]
    assert back["href"] == "/?channel=sms&view=detailed"
    page, _ = render_page(services, "/nowhere", "", None, None)
    assert "Esta página no existe." in texts(page)


def test_dr214_a_language_chosen_here_holds_until_the_profile_changes(services):
    choice = choose_language(services, "pt")
    assert choice == {"language": "pt-BR", "profile": "es"}
    page, _ = render_page(services, "/", "", choice, None)
    assert page.lang == "pt-BR"
    # The profile now says English: the older choice in the browser gives way.
    services.viewer = replace(services.viewer, language="en")
    page, _ = render_page(services, "/", "", choice, None)
    assert page.lang == "en"


def test_dr215_the_first_screen_comes_with_the_open_views_data(services):
    page, applied = render_page(services, "/", "", None, None)
    assert find_id(page, ids.CONSOLIDATED_SHOWN)["props"]["data"] == applied
    assert texts(find_id(page, ids.KPI_TOTAL))[1] == "8"
    assert find_id(page, ids.DETAILED_SHOWN)["props"]["data"] is None
    page, applied = render_page(services, "/", "?view=detailed", None, None)
    table = find_id(page, ids.DETAILED_TABLE)["props"]
    assert [row["id"] for row in table["rowData"]][:2] == ["w8", "w7"]
    assert find_id(page, ids.DETAILED_SHOWN)["props"]["data"] == {
        "applied": applied,
        "page": 0,
        "pages": 1,
    }


def test_dr217_a_link_opens_the_table_on_its_page(services, monkeypatch):
    monkeypatch.setattr(detailed_layout, "PAGE_SIZE", 4)
    page, applied = render_page(services, "/", "?view=detailed&page=2", None, None)
    table = find_id(page, ids.DETAILED_TABLE)["props"]
    assert [row["id"] for row in table["rowData"]] == ["w5", "w4", "w3", "w2"]
    assert find_id(page, ids.DETAILED_PAGE_TEXT)["props"]["children"] == "Página 2 de 3"
    url_change = frozenset({SEARCH_PROP})
    # The page's own address written back (as the table writes it) rebuilds nothing ...
    with pytest.raises(PreventUpdate):
        render_page(
            services, "/", "?view=detailed&page=2", None, applied, url_change,
            "?view=detailed&page=2",
        )  # fmt: skip
    # ... another page of the same view (the browser's back button) is built again.
    page, _ = render_page(
        services, "/", "?view=detailed", None, applied, url_change, "?view=detailed&page=2"
    )
    table = find_id(page, ids.DETAILED_TABLE)["props"]
    assert [row["id"] for row in table["rowData"]] == ["w8", "w7", "w6", "w9"]


def test_dr218_the_columns_chosen_are_kept_with_the_account(services, engine):
    with engine.begin() as conn:
        account = accounts.create_account(conn, "sofia", "x", role="admin")
    services.viewer = replace(services.viewer, user_id=account.id)
    out = choose_columns(services, ["status", "phone", "not-a-column"], None, "en")
    assert [c["colId"] for c in out["column_defs"] if not c["hide"]] == ["phone", "status"]
    page, _ = render_page(services, "/", "?view=detailed", None, None)
    columns = find_id(page, ids.DETAILED_TABLE)["props"]["columnDefs"]
    assert [c["colId"] for c in columns if not c["hide"]] == ["phone", "status"]
    assert find_id(page, ids.DETAILED_COLUMNS)["props"]["value"] == ["phone", "status"]
    # Another person still sees the default columns.
    services.viewer = replace(services.viewer, user_id=account.id + 1)
    page, _ = render_page(services, "/", "?view=detailed", None, None)
    assert find_id(page, ids.DETAILED_COLUMNS)["props"]["value"] == list(
        detailed_layout.DEFAULT_COLUMNS
    )


def test_dr216_a_signed_in_person_sees_their_name_and_account_links(services):
    services.viewer = replace(services.viewer, user_id=7, display_name="Ana Souza")
    page, _ = render_page(services, "/", "", "en", None)
    words = texts(find_id(page, ids.TOP_BAR))
    assert words[:11] == [
        "Delivery reports",
        "Exported reports",
        "Alerts",
        "Scheduled reports",
        "Audit trail",  # an administrator's
        "User: ",
        "Ana Souza",
        " (administrator)",
        "My profile",
        "Sign out",
        "Time zone: ",
    ]
    # The profile is served outside Dash: its link carries the language the page shows.
    assert profile_links(page) == ["/profile?lang=en"]
    page, _ = render_page(services, "/", "", {"language": "pt-BR", "profile": "es"}, None)
    assert profile_links(page) == ["/profile?lang=pt-BR"]


def profile_links(page) -> list[str]:
    return re.findall(r'"href": "(/profile[^"]*)"', json.dumps(as_json(find_id(page, ids.TOP_BAR))))


def test_dr217_only_the_view_that_shows_the_state_is_asked_for_it(services):
    state = ViewState(direction="MT")
    out = update_view(services, ids.APPLY_FILTERS, **pending(state, direction="MO"))
    assert out["consolidated_request"] == out["applied"]
    assert out["detailed_request"] is no_update
    # The consolidated view shows that state already: Apply asks no view again.
    shown = out["applied"]
    again = update_view(
        services, ids.APPLY_FILTERS, **pending(state, direction="MO", consolidated_shown=shown)
    )
    assert again["applied"] == shown
    assert again["consolidated_request"] is no_update and again["detailed_request"] is no_update
    # The detailed tab asks the table for its first page, unless the table holds it.
    tab = update_view(services, ids.REPORT_TABS, **pending(state, view="detailed"))
    assert tab["detailed_request"] == tab["applied"]
    assert tab["consolidated_request"] is no_update
    first_page = {"applied": tab["applied"], "page": 0}
    tab = update_view(
        services, ids.REPORT_TABS, **pending(state, view="detailed", detailed_shown=first_page)
    )
    assert tab["detailed_request"] is no_update
    # The table on another page of that state goes back to the first one.
    third_page = {"applied": tab["applied"], "page": 2}
    tab = update_view(
        services, ids.REPORT_TABS, **pending(state, view="detailed", detailed_shown=third_page)
    )
    assert tab["detailed_request"] == tab["applied"]
    # The URL gate in the browser compares the URL with the query string Apply stores.
    assert out["applied_search"] == out["search"] == "?direction=MO"


def test_dr218_the_page_callback_stores_the_query_string_of_the_state_it_shows(services):
    change = {"changed": ["url.pathname", "url.search"]}
    page, applied, search = page_and_state(
        services, change, None, "/", "?view=detailed&channel=sms", None, ["url-change.data"]
    )
    assert applied == ViewState(channel="sms", view="detailed").to_dict()
    # Written the way the state writes it, not as the link had it.
    assert search == "?channel=sms&view=detailed"
    # A URL the page cannot use: the default view, whose query string is empty.
    _, applied, search = page_and_state(
        services, change, None, "/", "?view=chart", None, ["url-change.data"]
    )
    assert (applied, search) == (ViewState().to_dict(), "")
    _, applied, search = page_and_state(
        services, change, None, "/exports", "", ViewState().to_dict(), ["url-change.data"]
    )
    assert applied is no_update and search is no_update
    # The search alone, equal to the shown state's: nothing is rebuilt (as render_page).
    only_search = {"changed": ["url.search"]}
    with pytest.raises(PreventUpdate):
        page_and_state(
            services,
            only_search,
            None,
            "/",
            "?view=detailed",
            ViewState(view="detailed").to_dict(),
            ["url-change.data"],
        )
    # A language change with the same URL rebuilds the page in that language.
    page, _, _ = page_and_state(
        services, None, "en", "/", "?view=detailed", None, ["language-store.data"]
    )
    assert page.lang == "en"
