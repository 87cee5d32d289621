"""Sign-in accounts' shared parts: the account record, its limits, errors and the change mark."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection

from data_access.tables import users

ROLES = ("admin", "user")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
DISPLAY_NAME_MAX_LENGTH = 200


class AccountError(ValueError):
    """A request about accounts that cannot be done; `code` and `params` feed translations."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str | None
    password_hash: str | None
    role: str
    language: str
    timezone: str | None
    active: bool
    totp_secret: str | None

    @property
    def can_sign_in(self) -> bool:
        return self.active and bool(self.password_hash)

    @property
    def totp_enabled(self) -> bool:
        return bool(self.totp_secret)


@dataclass(frozen=True)
class AccountListing:
    account: Account
    subaccounts: tuple[str, ...]


ACCOUNT_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.display_name,
    users.c.password_hash,
    users.c.role,
    users.c.language,
    users.c.timezone,
    users.c.active,
    users.c.totp_secret,
)


def account_from_row(row) -> Account:
    return Account(
        id=int(row.id),
        username=row.username,
        display_name=row.display_name,
        password_hash=row.password_hash,
        role=row.role,
        language=row.language,
        timezone=row.timezone,
        active=bool(row.active),
        totp_secret=row.totp_secret,
    )


# A transaction that changes an account, a session, a grant or two-step verification marks its
# connection; whoever keeps signed-in sessions (dashboard/session_cache.py) takes the mark when
# the connection returns to the pool, after the commit, and drops what it kept.
_CHANGE_MARK = "accounts_changed"


def mark_changed(conn: Connection) -> None:
    conn.info[_CHANGE_MARK] = True


def take_change_mark(info: dict) -> bool:
    """Whether the connection whose `info` this is changed accounts; clears the mark."""
    return bool(info.pop(_CHANGE_MARK, False))
