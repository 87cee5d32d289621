"""The reports screen as people use it, in headless Chromium: searches, presets, lists, words.

Each test serves the dashboard on the hand-built rows of tests/dashboard_data.py.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from dashboard import ids
from dashboard.shell import build_app
from reporting.formatting import format_date
from tests.browser import (
    ServedApp,
    chromium,
    grid_column,
    set_viewport,
    severe_console_messages,
    wait_for,
)
from tests.dashboard_data import (
    FixedViewerServices,
    at,
    day,
    rows,
    subaccount_ids,
    viewer_for,
)

pytestmark = pytest.mark.browser

IDLE_JS = """
return !document.querySelector('[data-dash-is-loading="true"]')
    && !document.querySelector('._dash-loading-callback');
"""
# A Mexican customer, stored without the retired mobile 1.
MEXICO_ROW = {
    "message_id": "mx1",
    "channel": "whatsapp",
    "direction": "MT",
    "content_type": "text",
    "subaccount": "Brand B",
    "phone": "+528152322984",
    "content": "Hola desde Monterrey",
    "status": "delivered",
    "created_at": at(1, 16),
    "sent_at": at(1, 16, 1),
    "delivered_at": at(1, 16, 2),
}


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture
def served(duckdb_engine, duckdb_settings, load_rows):
    load_rows(duckdb_engine, rows() + [MEXICO_ROW])
    services = FixedViewerServices(duckdb_settings, duckdb_engine, viewer_for(duckdb_engine))
    app = ServedApp(build_app(services).server).start()
    yield app
    app.stop()


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def wait_text(driver, element_id: str, expected: str, timeout: float = 15.0) -> None:
    wait_for(
        lambda: text_of(driver, element_id) == expected, timeout, f"#{element_id} = {expected!r}"
    )


def idle(driver) -> None:
    wait_for(lambda: driver.execute_script(IDLE_JS), 15, "the page to be idle")


def table_column(driver, column: str) -> list[str]:
    return grid_column(driver, ids.DETAILED_TABLE, column)


def search(driver, typed: str, kind: str | None = None) -> None:
    if kind is not None:
        Select(driver.find_element(By.ID, ids.SEARCH_KIND)).select_by_value(kind)
    box = driver.find_element(By.ID, ids.PHONE_SEARCH)
    box.clear()
    box.send_keys(typed, Keys.ENTER)


def test_dr501_phone_search_reads_national_forms_names_bad_characters_and_hides_old_rows(
    browser, served
):
    browser.get(served.url + "/?view=detailed")
    wait_text(browser, ids.DETAILED_COUNT, "10 mensajes")

    # Mexico's old mobile 1 finds the number stored without it, and says what was searched.
    search(browser, "+52 1 81 5232 2984")
    wait_text(browser, ids.DETAILED_COUNT, "1 mensaje del número +52 81 5232 2984")
    assert table_column(browser, "phone") == ["+528152322984"]

    # A letter typed by mistake is named, and the rows above no longer show.
    search(browser, "81 5232 29a4")
    wait_text(
        browser,
        ids.error_for(ids.PHONE_SEARCH),
        "«a» no forma parte de un número de teléfono: escribe solo dígitos (espacios, "
        "guiones y paréntesis valen, y un + al inicio).",
    )
    table = browser.find_element(By.ID, ids.DETAILED_TABLE)
    assert not table.is_displayed()
    assert not browser.find_element(By.ID, ids.DETAILED_COUNT).is_displayed()
    # The address still holds the search that ran.
    assert "phone=%2B52+1+81+5232+2984" in browser.current_url

    # A trunk prefix: Brazil's 0 before the area code, read as the whole number.
    search(browser, "011 98765 4321")
    wait_text(browser, ids.DETAILED_COUNT, "5 mensajes del número +55 11 98765-4321")
    assert table.is_displayed()
    assert browser.find_element(By.ID, ids.error_for(ids.PHONE_SEARCH)).text == ""
    assert severe_console_messages(browser) == []


def test_dr502_search_by_message_id_and_correlation_id(browser, served):
    # A range of today only: an id is looked for over the last 90 days all the same.
    today = day(0).isoformat()
    browser.get(served.url + f"/?view=detailed&start={today}&end={today}")
    wait_text(browser, ids.DETAILED_COUNT, "1 mensaje")
    hint = browser.find_element(By.ID, ids.SEARCH_ID_HINT)
    assert not hint.is_displayed()

    search(browser, "w3", kind="message_id")
    wait_for(lambda: table_column(browser, "error_code") == ["131026"], 15, "message w3")
    assert text_of(browser, ids.DETAILED_COUNT) == "1 mensaje"
    assert "message_id=w3" in browser.current_url
    assert hint.text == "Un id se busca en los últimos 90 días, sea cual sea el período."
    assert browser.find_element(By.ID, ids.PHONE_SEARCH).get_attribute("inputmode") == "text"

    search(browser, "order-4312", kind="correlation_id")
    wait_for(
        lambda: [c[:8] for c in table_column(browser, "content")] == ["Olá Ana!"],
        15,
        "message w1",
    )
    assert "correlation_id=order-4312" in browser.current_url
    assert "message_id" not in browser.current_url

    # The link reopens the same search, its kind chosen in the box.
    browser.refresh()
    wait_text(browser, ids.DETAILED_COUNT, "1 mensaje")
    kind = Select(browser.find_element(By.ID, ids.SEARCH_KIND))
    assert kind.first_selected_option.get_attribute("value") == "correlation_id"
    assert browser.find_element(By.ID, ids.PHONE_SEARCH).get_attribute("value") == "order-4312"

    search(browser, "no-such-id", kind="message_id")
    wait_text(browser, ids.DETAILED_COUNT, "Ningún mensaje coincide con la búsqueda.")
    assert severe_console_messages(browser) == []


def kpi_texts(driver, card_id: str) -> list[str]:
    """A card's title, value and note as written (the title is shown in capitals)."""
    return driver.execute_script(
        "return Array.from(document.getElementById(arguments[0]).children)"
        ".map(e => e.textContent);",
        card_id,
    )


def test_dr503_direction_mo_shows_received_messages_per_day(browser, served):
    browser.get(served.url + "/")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["9"], 20, "the cards")
    Select(browser.find_element(By.ID, ids.FILTER_DIRECTION)).select_by_value("MO")
    browser.find_element(By.ID, ids.APPLY_FILTERS).click()
    wait_for(
        lambda: (
            kpi_texts(browser, ids.KPI_TOTAL) == ["Recibidos", "1", "mensajes de clientes (MO)"]
        ),
        15,
        "the received cards",
    )
    idle(browser)
    assert kpi_texts(browser, ids.KPI_SENT) == ["Promedio por día", "0,1", "en 7 días"]
    assert kpi_texts(browser, ids.KPI_READ) == ["Días con mensajes", "1", "de 7 días"]
    # Delivery and errors mean nothing for received messages: their cards and charts go.
    for hidden in (ids.KPI_ERRORS, ids.KPI_RECEIVED, ids.DAILY_PCT_CHART, ids.TOP_ERRORS):
        assert not browser.find_element(By.ID, hidden).is_displayed(), hidden
    figure = browser.execute_script(
        "return document.querySelector('#daily-chart .js-plotly-plot').data[0];"
    )
    assert (figure["name"], figure["y"]) == ("Recibidos", [0, 0, 0, 0, 0, 1, 0])
    assert browser.find_element(By.CSS_SELECTOR, "#daily-chart .gtitle").text == (
        "Mensajes recibidos por día"
    )

    # In English, from the link, and back to both directions.
    Select(browser.find_element(By.ID, ids.LANGUAGE)).select_by_value("en")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[0] == "Received", 15, "the English cards")
    assert "direction=MO" in browser.current_url
    Select(browser.find_element(By.ID, ids.FILTER_DIRECTION)).select_by_value("all")
    browser.find_element(By.ID, ids.APPLY_FILTERS).click()
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[0] == "Total sent", 15, "both directions")
    assert browser.find_element(By.ID, ids.DAILY_PCT_CHART).is_displayed()
    assert severe_console_messages(browser) == []


def test_dr504_each_quick_period_applies_its_days(browser, served):
    browser.get(served.url + "/")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["9"], 20, "the cards")
    today = day(0)
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    expected = {
        "today": (today, today, "1"),
        "yesterday": (day(1), day(1), "5"),
        "last_7": (day(6), today, "9"),
        "last_30": (day(29), today, "9"),
        "last_90": (day(89), today, "9"),
        "this_month": (first_of_month, today, None),
        "last_month": (last_month_end.replace(day=1), last_month_end, None),
    }
    for preset, (start, end, total) in expected.items():
        Select(browser.find_element(By.ID, ids.DATE_PRESET)).select_by_value(preset)
        query = f"start={start.isoformat()}&end={end.isoformat()}"
        wait_for(
            lambda query=query: query in browser.current_url,
            15,
            f"{preset} in the address",
        )
        idle(browser)
        # The boxes show the days applied, and the chooser is ready for another period.
        assert browser.find_element(By.ID, ids.DATE_RANGE_START).get_attribute("value") == (
            start.strftime("%d/%m/%Y")
        ), preset
        assert browser.find_element(By.ID, ids.DATE_RANGE_END).get_attribute("value") == (
            end.strftime("%d/%m/%Y")
        ), preset
        if total is not None:
            wait_for(lambda total=total: kpi_texts(browser, ids.KPI_TOTAL)[1] == total, 15, preset)
        assert Select(browser.find_element(By.ID, ids.DATE_PRESET)).first_selected_option.text == (
            "Períodos rápidos…"
        )
    assert severe_console_messages(browser) == []


MONTHS = {
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
    "pt-BR": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro "
    "dezembro",
    "en": "January February March April May June July August September October November December",
}
# The calendar's weekday heads: Monday first in Spanish and Portuguese, Sunday in English.
WEEKDAYS = {
    "es": ["lu", "ma", "mi", "ju", "vi", "sá", "do"],
    "pt-BR": ["seg", "ter", "qua", "qui", "sex", "sab", "dom"],
    "en": ["Su", "Mo", "Tu", "We", "Th", "Fr", "Sa"],
}
CALENDAR_JS = """
return {
    months: Array.from(document.querySelectorAll('.dash-datepicker-calendar-month-header'))
        .map((e) => e.textContent),
    weekdays: Array.from(document.querySelectorAll('.dash-datepicker-calendar')[0]
        .querySelectorAll('thead tr:nth-child(2) th')).map((e) => e.textContent),
};
"""


def month_title(language: str, day_in_month) -> str:
    return f"{MONTHS[language].split()[day_in_month.month - 1]} {day_in_month.year}"


def calendar_day(driver, table: int, number: int):
    """The cell of day `number` in the calendar's `table`-th month shown (from 0)."""
    tables = driver.find_elements(By.CSS_SELECTOR, ".dash-datepicker-calendar")
    return next(
        cell
        for cell in tables[table].find_elements(By.CSS_SELECTOR, "td")
        if cell.text == str(number)
    )


def month_arrows(driver):
    return driver.find_elements(By.CSS_SELECTOR, ".dash-datepicker-month-nav")


def test_dr505_the_calendar_speaks_the_page_language_and_offers_what_the_rule_accepts(
    browser, served
):
    browser.get(served.url + "/")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["9"], 20, "the cards")
    today, earliest = day(0), day(89)
    previous_month = today.replace(day=1) - timedelta(days=1)
    for language in ("es", "pt-BR", "en"):
        if language != "es":
            Select(browser.find_element(By.ID, ids.LANGUAGE)).select_by_value(language)
            wait_for(
                lambda language=language: (
                    browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
                ),
                15,
                f"the page in {language}",
            )
            idle(browser)
        wait_for(
            lambda: browser.find_element(By.ID, ids.DATE_RANGE_START), 10, "the date boxes"
        ).click()
        expected = {
            "months": [month_title(language, previous_month), month_title(language, today)],
            "weekdays": WEEKDAYS[language],
        }
        wait_for(
            lambda expected=expected: browser.execute_script(CALENDAR_JS) == expected,
            10,
            f"the calendar in {language}",
        )
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)

    # The back arrow reaches the month of the earliest day, whose earlier days are disabled.
    browser.find_element(By.ID, ids.DATE_RANGE_START).click()
    wait_for(lambda: month_arrows(browser), 10, "the calendar")
    while month_arrows(browser)[0].is_enabled():
        month_arrows(browser)[0].click()
    assert browser.execute_script(CALENDAR_JS)["months"][0] == month_title("en", earliest)
    disabled = [
        calendar_day(browser, 0, number).get_attribute("aria-disabled")
        for number in range(1, earliest.day + 1)
    ]
    assert disabled == ["true"] * (earliest.day - 1) + ["false"]

    # The earliest day to today is accepted: 90 days.
    calendar_day(browser, 0, earliest.day).click()
    while month_title("en", today) not in browser.execute_script(CALENDAR_JS)["months"]:
        month_arrows(browser)[-1].click()
    shown = browser.execute_script(CALENDAR_JS)["months"].index(month_title("en", today))
    calendar_day(browser, shown, today.day).click()
    browser.find_element(By.ID, ids.APPLY_FILTERS).click()
    wait_for(
        lambda: f"start={earliest.isoformat()}&end={today.isoformat()}" in browser.current_url,
        15,
        "the 90 days in the address",
    )
    idle(browser)
    assert text_of(browser, ids.error_for(ids.DATE_RANGE)) == ""
    assert kpi_texts(browser, ids.KPI_TOTAL)[1] == "9"
    short_month = MONTHS["en"].split()[earliest.month - 1][:3]
    assert browser.find_element(By.ID, ids.DATE_RANGE_START).get_attribute("value") == (
        f"{short_month} {earliest.day}, {earliest.year}"
    )
    assert severe_console_messages(browser) == []


ZONE_NOTES = {
    "es": "Días contados en la zona horaria de la cuenta (America/Sao_Paulo); horas mostradas en "
    "la tuya (Asia/Tokyo).",
    "pt-BR": "Dias contados no fuso horário da conta (America/Sao_Paulo); horários mostrados no "
    "seu (Asia/Tokyo).",
    "en": "Days counted in the account's time zone (America/Sao_Paulo); times shown in yours "
    "(Asia/Tokyo).",
}


def test_dr506_the_screen_says_the_zone_of_the_days_and_the_zone_of_the_times(
    browser, duckdb_engine, duckdb_settings, load_rows
):
    load_rows(duckdb_engine, rows())
    tokyo = replace(viewer_for(duckdb_engine), timezone="Asia/Tokyo")
    services = FixedViewerServices(duckdb_settings, duckdb_engine, tokyo)
    app = ServedApp(build_app(services).server).start()
    try:
        browser.get(app.url + "/?view=detailed")
        wait_text(browser, ids.ZONE_NOTE, ZONE_NOTES["es"])
        for language in ("pt-BR", "en"):
            Select(browser.find_element(By.ID, ids.LANGUAGE)).select_by_value(language)
            wait_text(browser, ids.ZONE_NOTE, ZONE_NOTES[language])
        assert severe_console_messages(browser) == []
    finally:
        app.stop()


def test_dr507_one_zone_for_days_and_times_is_said_once(browser, served):
    browser.get(served.url + "/")
    wait_text(browser, ids.ZONE_NOTE, "Días y horas en la zona horaria America/Sao_Paulo.")


def open_choices(driver, control_id: str) -> list[str]:
    """Open a multi-select and read its choices, in their order."""
    button = wait_for(lambda: driver.find_element(By.ID, control_id), 10, control_id)
    button.click()
    wait_for(lambda: button.get_attribute("aria-expanded") == "true", 10, f"{control_id} open")
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")]


def close_choices(driver) -> None:
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"), 10)


def test_dr508_user_and_campaign_lists_narrow_to_the_chosen_subaccounts(
    browser, served, duckdb_engine
):
    browser.get(served.url + "/")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["9"], 20, "the cards")
    assert open_choices(browser, ids.FILTER_USER) == ["ana", "bruno"]
    close_choices(browser)
    assert open_choices(browser, ids.FILTER_CAMPAIGN) == ["Black Friday"]
    close_choices(browser)

    # Brand B: its one user, and no campaign.
    choices = open_choices(browser, ids.FILTER_SUBACCOUNT)
    browser.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")[
        choices.index("Brand B")
    ].click()
    close_choices(browser)
    wait_for(lambda: open_choices(browser, ids.FILTER_USER) == ["bruno"], 10, "Brand B's users")
    close_choices(browser)
    assert open_choices(browser, ids.FILTER_CAMPAIGN) == []
    close_choices(browser)

    # From a link: Brand A's lists.
    brand_a = subaccount_ids(duckdb_engine)["Brand A"]
    browser.get(served.url + f"/?subaccount={brand_a}")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["5"], 20, "Brand A's cards")
    assert open_choices(browser, ids.FILTER_USER) == ["ana"]
    close_choices(browser)
    assert severe_console_messages(browser) == []


def test_dr509_a_restricted_person_s_lists_stay_in_their_scope(
    browser, duckdb_engine, duckdb_settings, load_rows
):
    load_rows(duckdb_engine, rows())
    known = subaccount_ids(duckdb_engine)
    services = FixedViewerServices(
        duckdb_settings, duckdb_engine, viewer_for(duckdb_engine, ["Brand A"])
    )
    app = ServedApp(build_app(services).server).start()
    try:
        # Brand B in the link is not theirs: named, dropped, and its user never listed.
        browser.get(app.url + f"/?subaccount={known['Brand B']}")
        wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["5"], 20, "the cards")
        assert text_of(browser, ids.FILTER_MESSAGE) == (
            f"El enlace tenía subcuentas que no puedes ver o que no existen ({known['Brand B']});"
            " se muestra la vista sin ellas."
        )
        assert open_choices(browser, ids.FILTER_USER) == ["ana"]
        close_choices(browser)
        assert open_choices(browser, ids.FILTER_SUBACCOUNT) == ["Brand A"]
        close_choices(browser)
        assert severe_console_messages(browser) == []
    finally:
        app.stop()


def test_dr510_a_known_error_reads_in_the_page_language_beside_the_operator_s_text(browser, served):
    browser.get(served.url + "/?view=detailed&message_id=w3")
    meaning = {
        "es": "Mensaje no entregable: el número puede no tener WhatsApp o una versión antigua "
        "(operador: «Message undeliverable»)",
        "en": "Message undeliverable: the number may not be on WhatsApp or may run an old version "
        "(operator: “Message undeliverable”)",
    }
    wait_for(lambda: table_column(browser, "error_description") == [meaning["es"]], 20, "the error")
    # The most frequent reasons of the consolidated view, in English.
    browser.get(served.url + "/")
    Select(
        wait_for(lambda: browser.find_element(By.ID, ids.LANGUAGE), 20, "the top bar")
    ).select_by_value("en")
    rows = f"#{ids.TOP_ERRORS} tbody tr"
    wait_for(
        lambda: (
            [
                [cell.text for cell in row.find_elements(By.TAG_NAME, "td")][:2]
                for row in browser.find_elements(By.CSS_SELECTOR, rows)
            ]
            == [
                ["131026", meaning["en"]],
                [
                    "131047",
                    "More than 24 hours since the customer last wrote: only a template can be sent "
                    "(operator: “Re-engagement message”)",
                ],
            ]
        ),
        20,
        "the top errors in English",
    )
    assert severe_console_messages(browser) == []


def new_today_row(message_id: str) -> dict:
    return {
        "message_id": message_id,
        "channel": "whatsapp",
        "direction": "MT",
        "content_type": "text",
        "subaccount": "Brand A",
        "phone": "+5511900000001",
        "status": "queued",
        "created_at": at(0, 0, 2),
    }


SET_HIDDEN_JS = """
Object.defineProperty(document, 'hidden', {value: arguments[0], configurable: true});
document.dispatchEvent(new Event('visibilitychange'));
"""


def test_dr511_live_refreshes_today_while_the_page_is_visible(
    browser, served, duckdb_engine, load_rows
):
    browser.get(served.url + "/")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["9"], 20, "the cards")
    status = browser.find_element(By.ID, ids.LIVE_STATUS)
    browser.find_element(By.CSS_SELECTOR, f"label[for={ids.LIVE_SWITCH}]").click()
    # Every 30 s on the page; every second here, so the test does not wait minutes.
    browser.execute_script(
        "window.dash_clientside.set_props(arguments[0], {interval: 1000});", ids.LIVE_INTERVAL
    )
    load_rows(duckdb_engine, [new_today_row("live-1")])
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1] == "10", 15, "the new message")
    assert status.text.startswith("Actualizado: ")

    # Hidden, it waits; shown again, it catches up.
    browser.execute_script(SET_HIDDEN_JS, True)
    wait_text(browser, ids.LIVE_STATUS, "En pausa mientras la página no está a la vista")
    load_rows(duckdb_engine, [new_today_row("live-2")])
    time.sleep(3)
    assert kpi_texts(browser, ids.KPI_TOTAL)[1] == "10"
    browser.execute_script(SET_HIDDEN_JS, False)
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1] == "11", 15, "the second message")

    # A range that ends before today has nothing to refresh, and says so.
    Select(browser.find_element(By.ID, ids.DATE_PRESET)).select_by_value("yesterday")
    wait_text(browser, ids.LIVE_STATUS, "El período no incluye hoy: no hay nada que actualizar")
    # Switched off, it stops and says nothing.
    browser.find_element(By.CSS_SELECTOR, f"label[for={ids.LIVE_SWITCH}]").click()
    wait_text(browser, ids.LIVE_STATUS, "")
    assert severe_console_messages(browser) == []


# The boxes of the x axis's day labels and of its title, in the page's pixels.
AXIS_BOXES_JS = """
const chart = document.getElementById(arguments[0]);
const box = (e) => { const r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
return {
    labels: Array.from(chart.querySelectorAll('.xtick text')).filter((e) => e.textContent)
        .map(box),
    title: box(chart.querySelector('.xtitle')),
};
"""


def test_dr512_day_labels_clear_the_axis_title_and_a_day_shows_its_numbers_anywhere_in_it(
    browser, served
):
    set_viewport(browser, 390, 844, mobile=True)
    browser.get(served.url + f"/?start={day(89).isoformat()}&end={day(0).isoformat()}")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["9"], 20, "the cards")
    for chart in (ids.DAILY_CHART, ids.DAILY_PCT_CHART):
        boxes = wait_for(
            lambda chart=chart: browser.execute_script(AXIS_BOXES_JS, chart), 15, chart
        )
        assert len(boxes["labels"]) == 12, chart
        lowest = max(label["bottom"] for label in boxes["labels"])
        assert lowest <= boxes["title"]["top"], (chart, lowest, boxes["title"])
        # Labels side by side never overlap one another either.
        ordered = sorted(boxes["labels"], key=lambda label: label["left"])
        assert all(a["right"] <= b["left"] for a, b in pairwise(ordered)), chart

    # Yesterday's column, near its top (far above its short bars): the day's numbers show.
    set_viewport(browser, 1366, 768)
    browser.get(served.url + "/")
    wait_for(lambda: kpi_texts(browser, ids.KPI_TOTAL)[1:2] == ["9"], 20, "the cards")
    idle(browser)
    expected = f"{format_date(day(1), 'es')}Entregados: 2Errores: 2Total: 5"
    hover = f"#{ids.DAILY_CHART} .hoverlayer"

    def hover_text() -> str:
        area = browser.find_element(By.CSS_SELECTOR, f"#{ids.DAILY_CHART} .nsewdrag")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", area)
        width, height = area.size["width"], area.size["height"]
        ActionChains(browser).move_to_element(
            browser.find_element(By.ID, ids.KPI_TOTAL)
        ).move_to_element_with_offset(
            area, int(-width / 2 + width * 5.5 / 7), int(-height / 2 + 5)
        ).perform()
        return browser.find_element(By.CSS_SELECTOR, hover).text.replace("\n", "")

    wait_for(lambda: expected in hover_text(), 15, "the day's numbers")
    assert severe_console_messages(browser) == []
