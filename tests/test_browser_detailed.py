"""The detailed view's message grid in headless Chromium: pages, the order of statuses, the
page in the address, the columns a person chooses, keyboard use."""

from __future__ import annotations

from dataclasses import replace

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashboard import ids
from dashboard.shell import build_app
from data_access import accounts
from tests.browser import (
    ServedApp,
    chromium,
    grid_cell,
    grid_column,
    grid_header,
    set_viewport,
    severe_console_messages,
    wait_for,
)
from tests.dashboard_data import FixedViewerServices, at, viewer_for

pytestmark = pytest.mark.browser

# Eight statuses in turn, the first message the newest: 60 messages, three pages of 25.
CYCLE = ("read", "cancelled", "sent", "received", "queued", "delivered", "error", "scheduled")
LIFECYCLE = ("scheduled", "queued", "sent", "error", "delivered", "read", "cancelled", "received")
LABELS = {
    "scheduled": "Programado",
    "queued": "En cola",
    "sent": "Enviado",
    "error": "Error",
    "delivered": "Entregado",
    "read": "Leído",
    "cancelled": "Cancelado",
    "received": "Recibido",
}
COUNT = 60


def grid_rows() -> list[dict]:
    made = []
    for number in range(1, COUNT + 1):
        status = CYCLE[(COUNT - number) % len(CYCLE)]
        minute = number - 1
        row = {
            "message_id": f"m{number:02d}",
            "channel": "whatsapp",
            "direction": "MO" if status == "received" else "MT",
            "subaccount": "Brand A",
            "content_type": "text",
            "phone": "+5511987654321",
            "content": f"Mensaje {number}",
            "status": status,
            "created_at": at(1, 9 + minute // 60, minute % 60),
        }
        if status in ("sent", "delivered", "read", "error"):
            row["sent_at"] = at(1, 9 + minute // 60, minute % 60)
        if status in ("delivered", "read"):
            row["delivered_at"] = at(1, 9 + minute // 60, minute % 60)
        if status == "read":
            row["read_at"] = at(1, 9 + minute // 60, minute % 60)
        if status == "error":
            row["error_code"] = "131026"
            row["error_description"] = "Message undeliverable"
        made.append(row)
    return made


def newest_first() -> list[str]:
    return [f"m{number:02d}" for number in range(COUNT, 0, -1)]


@pytest.fixture
def browser():
    driver = chromium(1440, 900)
    yield driver
    driver.quit()


@pytest.fixture
def served(duckdb_engine, duckdb_settings, load_rows):
    load_rows(duckdb_engine, grid_rows())
    with duckdb_engine.begin() as conn:
        account = accounts.create_account(conn, "sofia", "x", role="admin")
    viewer = replace(viewer_for(duckdb_engine), user_id=account.id, username="sofia")
    app = ServedApp(build_app(FixedViewerServices(duckdb_settings, duckdb_engine, viewer)).server)
    yield app.start()
    app.stop()


def contents(driver) -> list[str]:
    return grid_column(driver, ids.DETAILED_TABLE, "content")


def page_text(driver) -> str:
    return driver.find_element(By.ID, ids.DETAILED_PAGE_TEXT).text


def press(driver, element) -> None:
    """Click an element in the middle of the screen (the pager sits below a page of rows)."""
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element
    )
    element.click()


def wait_contents(driver, expected: list[str]) -> None:
    wait_for(lambda: contents(driver) == expected, 15, f"the rows {expected[:2]}...")


def wait_page(driver, expected: str) -> None:
    wait_for(lambda: page_text(driver) == expected, 15, f"the pager to read {expected!r}")


def test_dr601_pages_by_labelled_buttons_each_kept_in_the_address(browser, served):
    browser.get(served.url + "/?view=detailed")
    wait_page(browser, "Página 1 de 3")
    expected = [f"Mensaje {n}" for n in range(COUNT, 0, -1)]
    wait_contents(browser, expected[:25])
    first, previous, following, last = (
        browser.find_element(By.ID, component)
        for component in (
            ids.DETAILED_PAGE_FIRST,
            ids.DETAILED_PAGE_PREVIOUS,
            ids.DETAILED_PAGE_NEXT,
            ids.DETAILED_PAGE_LAST,
        )
    )
    assert [b.text for b in (first, previous, following, last)] == [
        "Primera",
        "Anterior",
        "Siguiente",
        "Última",
    ]
    assert [b.is_enabled() for b in (first, previous, following, last)] == [
        False,
        False,
        True,
        True,
    ]

    press(browser, following)
    wait_page(browser, "Página 2 de 3")
    wait_contents(browser, expected[25:50])
    assert browser.current_url.endswith("?view=detailed&page=2")
    press(browser, last)
    wait_page(browser, "Página 3 de 3")
    wait_contents(browser, expected[50:])
    assert browser.current_url.endswith("?view=detailed&page=3")
    assert not following.is_enabled() and not last.is_enabled()

    # A reload, a link and the browser's back button open the page the address names.
    browser.refresh()
    wait_page(browser, "Página 3 de 3")
    wait_contents(browser, expected[50:])
    browser.back()
    wait_page(browser, "Página 2 de 3")
    wait_contents(browser, expected[25:50])
    # A page past the end (fewer messages than when the link was made) shows the last one.
    browser.get(served.url + "/?view=detailed&page=9")
    wait_page(browser, "Página 3 de 3")
    wait_contents(browser, expected[50:])

    # Keyboard: into the grid, down a row, Enter opens that message.
    press(browser, grid_cell(browser, ids.DETAILED_TABLE, "content", 0))
    wait_for(
        lambda: "Mensaje 10" in browser.find_element(By.ID, ids.MESSAGE_DETAIL_BODY).text,
        10,
        "the detail of the clicked row",
    )
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_for(
        lambda: not browser.find_elements(By.CSS_SELECTOR, ".offcanvas.show"),
        10,
        "the detail to close",
    )
    wait_for(
        lambda: browser.execute_script(
            "return !!document.activeElement.closest('.detailed-grid .ag-cell')"
        ),
        10,
        "the focus back in the grid",
    )
    browser.switch_to.active_element.send_keys(Keys.ARROW_DOWN, Keys.ENTER)
    wait_for(
        lambda: "Mensaje 9" in browser.find_element(By.ID, ids.MESSAGE_DETAIL_BODY).text,
        10,
        "the next row's detail by keyboard",
    )
    assert severe_console_messages(browser) == []


def test_dr602_status_sorts_by_lifecycle_on_the_server(browser, served):
    browser.get(served.url + "/?view=detailed&page=2")
    wait_page(browser, "Página 2 de 3")
    press(browser, grid_header(browser, ids.DETAILED_TABLE, "status"))
    wait_for(lambda: "sort=status" in browser.current_url, 10, "the order in the address")
    # A new order starts on the first page.
    wait_page(browser, "Página 1 de 3")
    assert browser.current_url.endswith("?view=detailed&sort=status&order=asc")
    # Every status has 7 or 8 of the 60 messages (60 = 7 * 8 + 4: the first four of CYCLE
    # have one more); within a status, message id order.
    per_status = {s: sum(1 for r in grid_rows() if r["status"] == s) for s in LIFECYCLE}
    assert per_status == {
        "scheduled": 7,
        "queued": 7,
        "sent": 8,
        "error": 7,
        "delivered": 7,
        "read": 8,
        "cancelled": 8,
        "received": 8,
    }
    whole = [LABELS[s] for s in LIFECYCLE for _ in range(per_status[s])]
    wait_for(
        lambda: grid_column(browser, ids.DETAILED_TABLE, "status") == whole[:25],
        10,
        "the first page in lifecycle order",
    )
    press(browser, browser.find_element(By.ID, ids.DETAILED_PAGE_LAST))
    wait_page(browser, "Página 3 de 3")
    assert grid_column(browser, ids.DETAILED_TABLE, "status") == whole[50:]
    assert browser.current_url.endswith("?view=detailed&sort=status&order=asc&page=3")
    # Again: the other way round.
    press(browser, grid_header(browser, ids.DETAILED_TABLE, "status"))
    wait_for(lambda: "order=asc" not in browser.current_url, 10, "the descending order")
    wait_page(browser, "Página 1 de 3")
    wait_for(
        lambda: grid_column(browser, ids.DETAILED_TABLE, "status") == whole[::-1][:25],
        10,
        "the first page in reverse lifecycle order",
    )
    assert severe_console_messages(browser) == []


def test_dr603_the_columns_fit_1440px_and_a_choice_is_kept_with_the_account(browser, served):
    browser.get(served.url + "/?view=detailed")
    wait_page(browser, "Página 1 de 3")
    # The grid draws its header after the pager reads its page (later on a loaded machine).
    shown = wait_for(
        lambda: browser.execute_script(
            "return Array.from(document.querySelectorAll("
            "'#detailed-table .ag-header-cell[col-id]')).map(c => c.getAttribute('col-id'))"
        ),
        15,
        "the table's header",
    )
    assert shown == [
        "created_at",
        "phone",
        "direction",
        "subaccount",
        "campaign",
        "content",
        "status",
        "error_code",
        "error_description",
    ]
    # No sideways scrolling at 1440 px: the grid's body is as wide as what it shows.
    assert browser.execute_script(
        "const v = document.querySelector('#detailed-table .ag-center-cols-viewport');"
        "return v.scrollWidth <= v.clientWidth"
    )
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )

    # Show the user, hide the campaign: kept with the account, so a reload shows the same.
    browser.find_element(By.CSS_SELECTOR, ".column-chooser summary").click()
    chooser = browser.find_element(By.ID, ids.DETAILED_COLUMNS)
    chooser.find_element(By.CSS_SELECTOR, "input[value='user']").click()
    wait_for(
        lambda: grid_column(browser, ids.DETAILED_TABLE, "user")[:1] == [""],
        10,
        "the user column",
    )
    chooser.find_element(By.CSS_SELECTOR, "input[value='campaign']").click()
    wait_for(
        lambda: grid_column(browser, ids.DETAILED_TABLE, "campaign")[:1] == [None],
        10,
        "the campaign column gone",
    )
    browser.refresh()
    wait_page(browser, "Página 1 de 3")
    wait_for(
        lambda: grid_column(browser, ids.DETAILED_TABLE, "user")[:1] == [""],
        15,
        "the user column after a reload",
    )
    assert grid_column(browser, ids.DETAILED_TABLE, "campaign")[:1] == [None]
    checked = browser.execute_script(
        "return Array.from(document.querySelectorAll('#detailed-columns input:checked'))"
        ".map(i => i.value)"
    )
    assert checked == [
        "created_at",
        "phone",
        "direction",
        "subaccount",
        "user",
        "content",
        "status",
        "error_code",
        "error_description",
    ]
    set_viewport(browser, 1440, 900)
    assert severe_console_messages(browser) == []
