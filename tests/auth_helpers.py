"""Helpers for tests that sign in: accounts in a store, the CSRF token, the sign-in form."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from data_access import accounts
from data_access.filters import today_in
from data_access.tables import subaccounts
from tests.conftest import TIMEZONE

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

ROWS_A = 30  # more than one page
ROWS_B = 5
SECRET = "SECRET-B"


def two_brand_rows() -> list[dict]:
    """Yesterday's WhatsApp messages: ROWS_A delivered for Brand A, ROWS_B errors for Brand B."""
    zone = ZoneInfo(TIMEZONE)
    yesterday = today_in(TIMEZONE) - timedelta(days=1)
    noon = datetime.combine(yesterday, time(12, 0), tzinfo=zone)
    rows = []
    for n in range(1, ROWS_A + 1):
        at = noon + timedelta(minutes=n)
        rows.append(
            {
                "message_id": f"a-{n:02d}",
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": "Brand A",
                "content_type": "text",
                "phone": f"+55119876500{n:02d}",
                "content": f"hello A {n}",
                "status": "delivered",
                "created_at": at.isoformat(),
                "sent_at": at.isoformat(),
                "delivered_at": (at + timedelta(seconds=5)).isoformat(),
            }
        )
    for n in range(1, ROWS_B + 1):
        at = noon + timedelta(minutes=n, seconds=30)
        rows.append(
            {
                "message_id": f"b-{n:02d}",
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": "Brand B",
                "content_type": "text",
                # Ends with the same digits as Brand A's first contact.
                "phone": f"+5521987650{n:03d}" if n > 1 else "+5521987650001",
                "content": f"{SECRET} {n}",
                "status": "error",
                "error_code": "131026",
                "error_description": "Message undeliverable",
                "created_at": at.isoformat(),
                "sent_at": at.isoformat(),
            }
        )
    return rows


def add_account(
    engine,
    username: str,
    password: str,
    *,
    role: str = "user",
    subaccount_names: tuple[str, ...] = (),
    **profile,
) -> accounts.Account:
    """A sign-in account; `subaccount_names` are created when missing and granted."""
    with engine.begin() as conn:
        for name in subaccount_names:
            if conn.execute(select(subaccounts.c.id).where(subaccounts.c.name == name)).first():
                continue
            conn.execute(subaccounts.insert().values(name=name))
        account = accounts.create_account(
            conn, username, accounts.hash_password(password, username), role=role, **profile
        )
        if subaccount_names:
            accounts.grant(conn, username, list(subaccount_names))
    return account


def subaccount_ids(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.name: row.id for row in conn.execute(select(subaccounts)).all()}


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, username: str, password: str, path: str = "/login"):
    """Post the sign-in form as a browser does (token from the form first)."""
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"username": username, "password": password, "csrf_token": token})
