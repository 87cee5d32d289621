"""The demo store's sign-in accounts: an admin and a support user with published passwords."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select

from clock import utcnow
from data_access import accounts, alerts
from data_access.filters import AccessScope
from data_access.outbound_tables import outbound_metadata
from data_access.tables import subaccounts, user_subaccounts
from demo.generator import DATA_FILE


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    subaccounts: tuple[str, ...]
    created: bool


# Only for the demo store: `make run` prints these and the README states them.
# (username, display name, role, password), from demo/data.json.
DEMO_ACCOUNTS = tuple(
    (a["username"], a["display_name"], a["role"], a["password"])
    for a in json.loads(DATA_FILE.read_text(encoding="utf-8"))["accounts"]
)
DEMO_USER_SUBACCOUNTS = 2
# The alerts page of the demo shows one rule, owned by the demo admin.
DEMO_RULE = "WhatsApp delivered under 85 %"


def create_demo_accounts(conn: Connection) -> list[DemoAccount]:
    """The demo store's admin and a user limited to its first two subaccounts.

    Only on a store without sign-in accounts, so running it against a real store adds no
    account with a published password. Run again, it reports the demo accounts it made before.
    """
    if not accounts.has_sign_in_accounts(conn):
        first_names = tuple(
            conn.execute(
                select(subaccounts.c.name).order_by(subaccounts.c.name).limit(DEMO_USER_SUBACCOUNTS)
            ).scalars()
        )
        made = []
        for username, display_name, role, password in DEMO_ACCOUNTS:
            accounts.create_account(
                conn,
                username,
                accounts.hash_password(password, username),
                role=role,
                display_name=display_name,
            )
            granted: tuple[str, ...] = ()
            if role == "user" and first_names:
                granted = tuple(accounts.grant(conn, username, list(first_names)))
            made.append(DemoAccount(username, password, role, granted, created=True))
        add_demo_rule(conn)
        return made
    found = []
    for username, _display, _role, password in DEMO_ACCOUNTS:
        account = accounts.find_account(conn, username)
        if account is None or not accounts.verify_password(account, password):
            continue
        names = tuple(
            conn.execute(
                select(subaccounts.c.name)
                .join(user_subaccounts, user_subaccounts.c.subaccount_id == subaccounts.c.id)
                .where(user_subaccounts.c.user_id == account.id)
                .order_by(subaccounts.c.name)
            ).scalars()
        )
        found.append(DemoAccount(username, password, account.role, names, created=False))
    if found:
        # A demo store made before alerts existed gets its sample rule now.
        outbound_metadata.create_all(conn, checkfirst=True)
        if not alerts.list_rules(conn):
            add_demo_rule(conn)
    return found


def add_demo_rule(conn: Connection) -> alerts.AlertRule | None:
    """A sample alert rule of the demo admin over every subaccount (none without subaccounts)."""
    outbound_metadata.create_all(conn, checkfirst=True)
    admin = next((a for a in DEMO_ACCOUNTS if a[2] == "admin"), None)
    account = accounts.find_account(conn, admin[0]) if admin else None
    scope = AccessScope.of(accounts.every_subaccount_id(conn))
    if account is None or not scope.subaccount_ids:
        return None
    return alerts.create_rule(
        conn,
        name=DEMO_RULE,
        owner_id=account.id,
        owner=account.username,
        owner_scope=scope,
        channel="whatsapp",
        subaccount_ids=sorted(scope.subaccount_ids),
        metric="delivered_pct",
        comparison="<",
        threshold=85.0,
        window_minutes=60,
        min_volume=50,
        notify_by="email",
        target="ops@example.com",
        now=utcnow(),
    )
