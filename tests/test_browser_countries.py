"""The consolidated view's countries in headless Chromium: the table in the three languages and
the country filter from the address."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from dashboard import ids
from tests.browser import grid_column, severe_console_messages, wait_for
from tests.test_browser_dashboard import browser, kpi, serve, wait_ready, wait_text  # noqa: F401
from tests.test_countries import rows

pytestmark = pytest.mark.browser

# test_countries.rows(): the sent messages' countries, most messages first.
COUNTRIES = {
    "es": ["Argentina", "México", "Brasil", "Chile", "Colombia", "País desconocido"],
    "en": ["Argentina", "Mexico", "Brazil", "Chile", "Colombia", "Unknown country"],
    "pt-BR": ["Argentina", "México", "Brasil", "Chile", "Colômbia", "País desconhecido"],
}


def countries_shown(driver) -> list[str | None]:
    return grid_column(driver, ids.COUNTRIES, "country")


def test_dr501_the_country_table_in_three_languages_and_the_filter(
    browser,  # noqa: F811
    duckdb_engine,
    duckdb_settings,
    load_rows,
):
    load_rows(duckdb_engine, rows())
    served = serve(duckdb_engine, duckdb_settings)
    try:
        browser.get(served.url + "/")
        wait_ready(browser)
        browser.execute_script(
            "document.getElementById(arguments[0]).scrollIntoView()", ids.COUNTRIES_CARD
        )
        for language in ("es", "en", "pt-BR"):
            if language != "es":
                Select(browser.find_element(By.ID, ids.LANGUAGE)).select_by_value(language)
            wait_for(
                lambda language=language: countries_shown(browser) == COUNTRIES[language],
                15,
                f"the countries in {language}",
            )
        # Argentina: two sent, both undeliverable (in Portuguese's numbers now).
        assert grid_column(browser, ids.COUNTRIES, "delivered_pct")[0] == "0,0%"
        assert grid_column(browser, ids.COUNTRIES, "error_pct")[0] == "100,0%"
        # The bar chart draws a bar per country and kind.
        assert len(browser.find_elements(By.CSS_SELECTOR, f"#{ids.COUNTRIES_CHART} .point")) > 0

        # A link with a country filter opens with it applied and chosen in its control.
        browser.get(served.url + "/?country=AR&country=CO")
        wait_ready(browser)
        wait_text(browser, f"#{ids.KPI_TOTAL} .kpi-value", "3")
        assert kpi(browser, ids.KPI_ERRORS) == "3"
        chosen = browser.find_element(By.ID, ids.FILTER_COUNTRY).text
        # (The control names the first choice and counts them.)
        assert chosen == "Argentina\n2 selecionados"
        wait_for(
            lambda: countries_shown(browser) == ["Argentina", "Colômbia"],
            15,
            "the filtered countries",
        )
        assert severe_console_messages(browser) == []
    finally:
        served.stop()
