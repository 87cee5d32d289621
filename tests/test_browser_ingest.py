"""A WhatsApp failure replayed through the webhook shows on the contact's detailed view."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from app import create_app
from dashboard import ids
from dashboard.shell import build_app
from ingest.channels import assign
from ingest.inbox import drain
from ingest.whatsapp import sign
from tests.browser import (
    ServedApp,
    chromium,
    grid_cell,
    grid_column,
    severe_console_messages,
    wait_for,
)
from tests.conftest import TIMEZONE
from tests.dashboard_data import FixedViewerServices, viewer_for

pytestmark = pytest.mark.browser

SECRET = "whatsapp-app-secret-for-browser-tests"
WAMID = "wamid.HBgNNTUxMTk4NzY1MDAwMxUCABEYEkNDMDNGMEMzQjdFNTY0QzI5AA=="
PHONE = "+5511987650003"
PHONE_NUMBER_ID = "104857600012345"


def failed_status_body(sent: datetime) -> bytes:
    """A WhatsApp Cloud API status webhook, as Meta sends it, for one failed message."""
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "210987654321098",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "5511930001000",
                                    "phone_number_id": PHONE_NUMBER_ID,
                                },
                                "statuses": [
                                    {
                                        "id": WAMID,
                                        "status": "failed",
                                        "timestamp": str(int(sent.timestamp()) + 5),
                                        "recipient_id": PHONE.removeprefix("+"),
                                        "errors": [
                                            {
                                                "code": 131047,
                                                "title": "Re-engagement message",
                                                "message": "Re-engagement message",
                                                "error_data": {
                                                    "details": "More than 24 hours have passed "
                                                    "since the customer last replied."
                                                },
                                            }
                                        ],
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def test_in001_replayed_whatsapp_failure_on_the_detailed_view(
    duckdb_engine, duckdb_settings, load_rows, tmp_path
):
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    load_rows(
        duckdb_engine,
        [
            {
                "message_id": WAMID,
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": "Brand A",
                "content_type": "template",
                "phone": PHONE,
                "content": "Seu pedido saiu para entrega",
                "status": "sent",
                "created_at": sent.isoformat(),
                "sent_at": sent.isoformat(),
            }
        ],
    )
    settings = dataclasses.replace(duckdb_settings, whatsapp_app_secret=SECRET)
    with duckdb_engine.begin() as conn:
        assign(conn, "whatsapp", PHONE_NUMBER_ID, "Brand A")
    body = failed_status_body(sent)
    answer = (
        create_app(settings, duckdb_engine)
        .server.test_client()
        .post(
            "/webhooks/whatsapp",
            data=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, body)},
        )
    )
    assert answer.status_code == 200
    drain(duckdb_engine, TIMEZONE)

    services = FixedViewerServices(
        settings, duckdb_engine, viewer_for(duckdb_engine, language="en")
    )
    served = ServedApp(build_app(services).server).start()
    driver = chromium()
    try:
        driver.get(served.url + "/?view=detailed&phone=%2811%29+98765-0003")

        def cells(column: str) -> list[str]:
            return grid_column(driver, ids.DETAILED_TABLE, column)

        wait_for(lambda: cells("phone") == [PHONE], 20, "the contact's message")
        assert cells("error_code") == ["131047"]
        assert cells("error_description") == [
            "More than 24 hours since the customer last wrote: only a template can be sent "
            "(operator: “Re-engagement message: More than 24 hours have passed since the customer "
            "last replied.”)"
        ]
        # The message's timeline shows its kept events: the send record, then the failure.
        grid_cell(driver, ids.DETAILED_TABLE, "phone", 0).click()

        def timeline() -> list[str]:
            return [item.text for item in driver.find_elements(By.CSS_SELECTOR, ".timeline li")]

        # The dialog fades in: its text is read once every line shows its source.
        wait_for(
            lambda: len(timeline()) == 3 and all(")" in line for line in timeline()[1:]),
            20,
            "the message's timeline",
        )
        created, sent_event, failed = timeline()
        assert created.startswith("Created ")
        assert sent_event.startswith("Sent to the channel ") and sent_event.endswith("(file)")
        assert failed.startswith("Error ") and failed.endswith(
            "131047 · More than 24 hours since the customer last wrote: only a template can be "
            "sent (operator: “Re-engagement message: More than 24 hours have passed since the "
            "customer last replied.”) (WhatsApp)"
        )
        driver.save_screenshot(str(tmp_path / "message-timeline.png"))
        assert severe_console_messages(driver) == []
    finally:
        driver.quit()
        served.stop()
