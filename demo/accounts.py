"""The demo store's sign-in accounts: an admin and a support user with published passwords."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select

from data_access import accounts
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
    return found
