"""Helpers of the browser tests: the app served by waitress in a thread, and headless Chromium."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from waitress.server import create_server

from servertools.chromium import CHROME_FLAGS, CHROMEDRIVER, CHROMIUM


class ServedApp:
    """A WSGI app served on a free loopback port until stop()."""

    def __init__(self, wsgi_app) -> None:
        self._server = create_server(
            wsgi_app, host="127.0.0.1", port=0, threads=4, ident="reports-test"
        )
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> ServedApp:
        self._thread.start()
        return self

    def _serve(self) -> None:
        # waitress's own run() loops until its map is empty; this loop also ends on stop(), and
        # it closes the sockets itself: closed from another thread, a socket can vanish under
        # the loop's select() (EBADF in the loop thread).
        server = self._server
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=0.5, map=server._map, count=1)
        # Closing the listening socket alone would leave the browser's kept-alive connections.
        for channel in list(server._map.values()):
            channel.close()

    def stop(self) -> None:
        self._stopping.set()
        self._server.pull_trigger()  # wakes the loop's select() at once
        self._thread.join(timeout=10)
        self._server.task_dispatcher.shutdown()


class _Chromium(webdriver.Chrome):
    """Chrome's driver that removes the browser's profile directory when it quits."""

    profile = ""

    def quit(self) -> None:
        try:
            super().quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def chromium(width: int = 1366, height: int = 768) -> webdriver.Chrome:
    """A fresh headless Chromium with its own profile directory (removed when it quits) and
    console logging."""
    profile = tempfile.mkdtemp(prefix="chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = _Chromium(service=Service(CHROMEDRIVER), options=options)
    except BaseException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.profile = profile
    driver.set_page_load_timeout(30)
    set_viewport(driver, width, height)
    return driver


def set_viewport(driver: webdriver.Chrome, width: int, height: int, mobile: bool = False) -> None:
    """Make the page area itself width x height (the window's own frame takes no room)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def severe_console_messages(driver: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition"):
    """Poll until `condition()` is truthy and return it; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # the page may be re-rendering between two polls
            last_error = error
        time.sleep(0.05)
    raise AssertionError(
        f"timed out waiting for {what}" + (f": {last_error}" if last_error else "")
    )


# The message grid (dash-ag-grid): rows in their order, cells by column id.
GRID_COLUMN_JS = """
const grid = document.getElementById(arguments[0]);
if (!grid) { return []; }
const rows = Array.from(grid.querySelectorAll('.ag-center-cols-container [role=row][row-index]'));
rows.sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')));
return rows.map((row) => {
    const cell = row.querySelector('.ag-cell[col-id="' + arguments[1] + '"]');
    return cell ? cell.innerText.trim() : null;
});
"""


def grid_column(driver: webdriver.Chrome, grid_id: str, column: str) -> list[str | None]:
    """The texts of one column of a grid, top row first (None where the column is hidden)."""
    return driver.execute_script(GRID_COLUMN_JS, grid_id, column)


def grid_cell(driver: webdriver.Chrome, grid_id: str, column: str, row: int):
    """The cell of `column` in the grid's row `row` (from 0), to click or focus."""
    return driver.find_element(
        "css selector",
        f"#{grid_id} .ag-center-cols-container [row-index='{row}'] .ag-cell[col-id='{column}']",
    )


def grid_header(driver: webdriver.Chrome, grid_id: str, column: str):
    """The header cell of `column`: a click sorts by it (when it can be sorted)."""
    return driver.find_element(
        "css selector", f"#{grid_id} .ag-header-cell[col-id='{column}'] .ag-header-cell-label"
    )
