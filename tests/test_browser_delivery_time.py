"""The consolidated view's delivery time card in headless Chromium, in Spanish, English and
Brazilian Portuguese: its table, shares, charts and precision note, and what it says for
received messages."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from dashboard import ids
from dashboard.shell import build_app
from tests.browser import ServedApp, chromium, severe_console_messages, wait_for
from tests.dashboard_data import FixedViewerServices, rows, viewer_for

pytestmark = pytest.mark.browser

# The card's contents for the dashboard's message set (w1 and w2 delivered in 120 s, w7 in
# 180 s; w2 read in 3,300 s), as tests/test_delivery_time.py works them out.
EXPECTED = {
    "es": {
        "title": "Tiempo de entrega",
        "delivered_row": ["Hasta entregado", "3", "1,9 min", "2,7 min", "3,0 min"],
        "read_row": ["Hasta leído", "1", "52 min", "58 min", "60 min"],
        "share": "0,0 %\nentregados en 5 s o menos",
        "chart": "Tiempo hasta la entrega por día",
        "note": "Los percentiles se estiman",
        "received": "Los mensajes recibidos no tienen tiempo de entrega",
    },
    "en": {
        "title": "Delivery time",
        "delivered_row": ["To delivered", "3", "1.9 min", "2.7 min", "3.0 min"],
        "read_row": ["To read", "1", "52 min", "58 min", "60 min"],
        "share": "0.0%\ndelivered within 5 s",
        "chart": "Time to delivery per day",
        "note": "Percentiles are estimated",
        "received": "Received messages have no delivery time",
    },
    "pt-BR": {
        "title": "Tempo de entrega",
        "delivered_row": ["Até a entrega", "3", "1,9 min", "2,7 min", "3,0 min"],
        "read_row": ["Até a leitura", "1", "52 min", "58 min", "60 min"],
        "share": "0,0%\nentregues em até 5 s",
        "chart": "Tempo até a entrega por dia",
        "note": "Os percentis são estimados",
        "received": "Mensagens recebidas não têm tempo de entrega",
    },
}

CARD_READY_JS = """
const card = document.getElementById(arguments[0]);
return !!card && !!card.querySelector('table') && !!card.querySelector('g.trace.scatter')
    && !document.querySelector('[data-dash-is-loading="true"]');
"""


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def row_texts(driver, index: int) -> list[str]:
    cells = driver.find_elements(
        By.CSS_SELECTOR, f"#{ids.DELIVERY_TIME} table tbody tr:nth-child({index}) > *"
    )
    return [cell.text for cell in cells]


@pytest.mark.parametrize("language", ["es", "en", "pt-BR"])
def test_dt401_the_delivery_time_card_in_each_language(
    browser, duckdb_engine, duckdb_settings, load_rows, language
):
    load_rows(duckdb_engine, rows())
    services = FixedViewerServices(
        duckdb_settings, duckdb_engine, viewer_for(duckdb_engine, language=language)
    )
    served = ServedApp(build_app(services).server).start()
    expected = EXPECTED[language]
    try:
        browser.get(served.url + "/")
        wait_for(
            lambda: browser.execute_script(CARD_READY_JS, ids.DELIVERY_TIME),
            20,
            "the delivery time card",
        )
        card = browser.find_element(By.CSS_SELECTOR, ".delivery-time-card")
        assert card.find_element(By.CSS_SELECTOR, "h2").text == expected["title"]
        assert row_texts(browser, 1) == expected["delivered_row"]
        assert row_texts(browser, 2) == expected["read_row"]
        share = browser.find_element(By.CSS_SELECTOR, f"#{ids.DELIVERY_TIME} .delivery-share")
        assert share.text.replace("\u00a0", " ") == expected["share"]
        chart = browser.find_element(By.ID, ids.DELIVERY_TIME_CHART)
        assert chart.find_element(By.CSS_SELECTOR, ".gtitle").text == expected["chart"]
        # Three lines (p50, p90, p99) and the read chart beside them.
        assert len(chart.find_elements(By.CSS_SELECTOR, "g.trace.scatter")) == 3
        assert browser.find_elements(By.ID, ids.READ_TIME_CHART)
        note = browser.find_element(By.CSS_SELECTOR, ".delivery-time-precision").text
        assert note.startswith(expected["note"])

        # Received messages: the card says why there is no delivery time, with no chart.
        Select(browser.find_element(By.ID, ids.FILTER_DIRECTION)).select_by_value("MO")
        browser.find_element(By.ID, ids.APPLY_FILTERS).click()
        wait_for(
            lambda: browser.find_element(By.ID, ids.DELIVERY_TIME).text.startswith(
                expected["received"]
            ),
            15,
            "the received messages' note",
        )
        assert not browser.find_elements(By.ID, ids.DELIVERY_TIME_CHART)
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
