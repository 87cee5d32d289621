"""First load of the consolidated page: bytes on the wire and time to the first chart.

The server runs the way production runs it (`python app.py serve`, waitress) on a demo store
of its own; headless Chromium signs in through /login, then opens `/` with an empty cache and
again with the cache of that first visit, each under a throttled mobile network (the Chrome
DevTools Protocol's Network.emulateNetworkConditions; default: Lighthouse's mobile profile,
150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up) at phone width. Bytes are every response
the page loads, as Chromium counts them on the wire (headers and compressed bodies: the
Network domain's encodedDataLength); the first chart is the moment the daily chart has drawn
its bars, from the start of the navigation (performance.now() in the page).

    python -m bench.first_load [--runs 3] [--messages 20000] [--no-throttle]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from bench.arguments import positive
from config import PROJECT_DIR
from dashboard import ids
from servertools.chromium import CHROME_FLAGS, CHROMEDRIVER, CHROMIUM
from servertools.served import ServedApp

USERNAME, PASSWORD = "admin", "admin-demo-2026"  # `python app.py users demo`
# Lighthouse's simulated mobile network ("Slow 4G"): bytes per second for CDP.
MOBILE = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_638_400 // 8,
    "uploadThroughput": 750_000 // 8,
}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
# Installed before every document: when the daily chart first shows its bars.
CHART_PROBE_JS = (
    "window.__chartAt = null;"
    "(function probe() {"
    f"  if (document.querySelector('#{ids.DAILY_CHART} g.trace.bars')) {{"
    "    window.__chartAt = performance.now();"
    "  } else { requestAnimationFrame(probe); }"
    "})();"
)


QUIET_SECONDS = 3.0  # the page has loaded all it loads once nothing moved for this long


@dataclass
class Visit:
    bytes: int  # on the wire: headers and (compressed) bodies
    body_bytes: int  # bodies as decoded
    requests: int
    first_chart_ms: float
    largest: list[tuple[int, int, str]]  # (wire bytes, decoded bytes, URL), largest first


@dataclass
class Traffic:
    """What the page fetched, read from Chromium's performance log as it comes."""

    urls: dict[str, str] = field(default_factory=dict)
    wire: dict[str, int] = field(default_factory=dict)
    body: dict[str, int] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)

    def read(self, driver: webdriver.Chrome) -> bool:
        """Take in the log's new entries; whether any was about the network."""
        moved = False
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message.get("method", ""), message.get("params", {})
            request_id = params.get("requestId")
            if method == "Network.requestWillBeSent":
                self.urls[request_id] = params["request"]["url"]
                self.pending.add(request_id)
            elif method == "Network.dataReceived":
                self.body[request_id] = self.body.get(request_id, 0) + params["dataLength"]
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self.wire[request_id] = int(params.get("encodedDataLength", 0))
                self.pending.discard(request_id)
            else:
                continue
            moved = True
        return moved


def chromium(profile: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(300)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CHART_PROBE_JS})
    return driver


def sign_in(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url + "/login")
    driver.find_element(By.ID, ids.LOGIN_USERNAME).send_keys(USERNAME)
    driver.find_element(By.ID, ids.LOGIN_PASSWORD).send_keys(PASSWORD)
    driver.find_element(By.ID, ids.LOGIN_SUBMIT).click()
    wait_chart(driver)


def wait_chart(driver: webdriver.Chrome, timeout: float = 300.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = driver.execute_script("return window.__chartAt;")
        if at is not None:
            return float(at)
        time.sleep(0.05)
    raise RuntimeError("the daily chart did not appear")


def visit(driver: webdriver.Chrome, url: str, *, empty_cache: bool, throttle: bool) -> Visit:
    if empty_cache:
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    if throttle:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", MOBILE)
    driver.get_log("performance")  # drop what came before
    traffic = Traffic()
    driver.get(url + "/")
    first_chart = wait_chart(driver)
    # Everything the page loads, also what the chart did not wait for.
    quiet_since = time.monotonic()
    while traffic.pending or time.monotonic() - quiet_since < QUIET_SECONDS:
        if traffic.read(driver):
            quiet_since = time.monotonic()
        time.sleep(0.1)
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    largest = sorted(
        (size, traffic.body.get(request_id, 0), traffic.urls.get(request_id, "?"))
        for request_id, size in traffic.wire.items()
    )[::-1]
    return Visit(
        sum(traffic.wire.values()),
        sum(traffic.body.values()),
        len(traffic.wire),
        first_chart,
        largest,
    )


def demo_store(data_dir: Path, messages: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": f"duckdb:///{data_dir / 'reports.duckdb'}",
    }
    for command in (["demo", "--if-empty", "--messages", str(messages)], ["users", "demo"]):
        subprocess.run(
            [sys.executable, "app.py", *command],
            cwd=PROJECT_DIR,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return env


def kb(value: float) -> str:
    return f"{value / 1024:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=positive, default=3, help="visits of each kind")
    parser.add_argument("--messages", type=positive, default=20_000, help="demo messages")
    parser.add_argument("--no-throttle", action="store_true", help="the loopback as it is")
    args = parser.parse_args(argv)
    throttle = not args.no_throttle
    with tempfile.TemporaryDirectory(prefix="first-load-") as folder:
        env = demo_store(Path(folder) / "data", args.messages)
        server = ServedApp(env, output=subprocess.DEVNULL).wait_ready()
        server_url = server.url
        driver = chromium(Path(folder) / "profile")
        try:
            sign_in(driver, server.url)
            results: dict[str, list[Visit]] = {"empty cache": [], "cached": []}
            for _ in range(args.runs):
                results["empty cache"].append(
                    visit(driver, server.url, empty_cache=True, throttle=throttle)
                )
                results["cached"].append(
                    visit(driver, server.url, empty_cache=False, throttle=throttle)
                )
        finally:
            driver.quit()
            server.stop()
    network = "Lighthouse mobile (150 ms, 1.6 Mbit/s down)" if throttle else "loopback"
    print(f"network: {network}; phone width {PHONE['width']} px; {args.runs} runs each")
    print("| visit | requests | KB on the wire | KB decoded | first chart median s | max s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, visits in results.items():
        charts = [v.first_chart_ms / 1000 for v in visits]
        last = visits[-1]
        print(
            f"| {name} | {last.requests} | {kb(last.bytes)} | {kb(last.body_bytes)} "
            f"| {statistics.median(charts):.2f} | {max(charts):.2f} |"
        )
    for name, visits in results.items():
        print(f"\nlargest responses, {name} (KB on the wire, KB decoded):")
        for wire, body, address in visits[-1].largest[:8]:
            path = address.split("?")[0].replace(server_url, "")
            print(f"  {kb(wire):>6} {kb(body):>6}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
