"""Accounts: create, find and change them, their subaccount grants and what they may see."""

from __future__ import annotations

from sqlalchemy import Connection, delete, exists, insert, select, update

from clock import time_zone
from data_access.accounts.model import (
    ACCOUNT_COLUMNS,
    DISPLAY_NAME_MAX_LENGTH,
    ROLES,
    USERNAME_PATTERN,
    Account,
    AccountError,
    AccountListing,
    account_from_row,
    mark_changed,
)
from data_access.accounts.sessions import close_all_sessions
from data_access.tables import subaccounts, user_subaccounts, users


def check_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_PATTERN.fullmatch(name):
        raise AccountError(
            "bad_username",
            "A username has 1 to 64 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit).",
        )
    return name


def find_account(conn: Connection, username: str) -> Account | None:
    row = conn.execute(
        select(*ACCOUNT_COLUMNS).where(users.c.username == (username or "").strip())
    ).first()
    return account_from_row(row) if row is not None else None


def get_account(conn: Connection, user_id: int) -> Account | None:
    row = conn.execute(select(*ACCOUNT_COLUMNS).where(users.c.id == user_id)).first()
    return account_from_row(row) if row is not None else None


def require_account(conn: Connection, username: str) -> Account:
    account = find_account(conn, username)
    if account is None or not account.password_hash:
        raise AccountError(
            "unknown_account",
            f"There is no sign-in account {username!r}; `python app.py users list` shows them.",
            username=username,
        )
    return account


def check_timezone(timezone: str) -> str:
    if time_zone(timezone) is None:
        raise AccountError(
            "bad_timezone",
            f"{timezone!r} is not a time zone; use an IANA name such as America/Sao_Paulo.",
            value=timezone,
        )
    return timezone


def create_account(
    conn: Connection,
    username: str,
    password_hash: str,
    *,
    role: str = "user",
    display_name: str | None = None,
    language: str = "es",
    timezone: str | None = None,
) -> Account:
    """Create a sign-in account. A sender name loaded from files becomes an account in place."""
    username = check_username(username)
    if role not in ROLES:
        raise AccountError("bad_role", f"The role is admin or user, not {role!r}.", value=role)
    if timezone is not None:
        check_timezone(timezone)
    display_name = (display_name or "").strip()[:DISPLAY_NAME_MAX_LENGTH] or None
    values = dict(
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        language=language,
        timezone=timezone,
        active=True,
    )
    existing = find_account(conn, username)
    if existing is not None and existing.password_hash:
        raise AccountError(
            "account_exists",
            f"The account {username!r} already exists; `users passwd` changes its password.",
            username=username,
        )
    if existing is not None:
        conn.execute(update(users).where(users.c.id == existing.id).values(**values))
    else:
        conn.execute(insert(users).values(username=username, **values))
    mark_changed(conn)
    return find_account(conn, username)  # type: ignore[return-value]


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
    mark_changed(conn)


def change_password(conn: Connection, username: str, password_hash: str) -> Account:
    """Set a new password hash and end every session of the account."""
    account = require_account(conn, username)
    set_password_hash(conn, account.id, password_hash)
    close_all_sessions(conn, account.id)
    return get_account(conn, account.id)  # type: ignore[return-value]


def set_active(conn: Connection, username: str, active: bool) -> Account:
    account = require_account(conn, username)
    conn.execute(update(users).where(users.c.id == account.id).values(active=active))
    mark_changed(conn)
    if not active:
        close_all_sessions(conn, account.id)
    return get_account(conn, account.id)  # type: ignore[return-value]


def update_profile(
    conn: Connection,
    user_id: int,
    *,
    language: str | None = None,
    timezone: str | None = None,
) -> None:
    """Store the language and time zone a user chose; the dashboard reads them per request."""
    values: dict[str, str] = {}
    if language is not None:
        if not language or len(language) > 8:
            raise AccountError("bad_language", f"{language!r} is not a language code.")
        values["language"] = language
    if timezone is not None:
        values["timezone"] = check_timezone(timezone)
    if values:
        conn.execute(update(users).where(users.c.id == user_id).values(**values))
        mark_changed(conn)


def _subaccount_ids_by_name(conn: Connection, names: list[str]) -> dict[str, int]:
    rows = conn.execute(
        select(subaccounts.c.name, subaccounts.c.id).where(subaccounts.c.name.in_(names))
    ).all()
    found = {row.name: int(row.id) for row in rows}
    missing = [name for name in names if name not in found]
    if missing:
        raise AccountError(
            "unknown_subaccount",
            "No subaccount named " + ", ".join(repr(n) for n in missing) + ".",
            names=", ".join(missing),
        )
    return found


def grant(conn: Connection, username: str, subaccount_names: list[str]) -> list[str]:
    """Let the user see these subaccounts; returns the names that were not granted before."""
    account = require_account(conn, username)
    wanted = _subaccount_ids_by_name(conn, subaccount_names)
    held = set(
        conn.execute(
            select(user_subaccounts.c.subaccount_id).where(user_subaccounts.c.user_id == account.id)
        ).scalars()
    )
    added = []
    for name, subaccount_id in sorted(wanted.items()):
        if subaccount_id not in held:
            conn.execute(
                insert(user_subaccounts).values(user_id=account.id, subaccount_id=subaccount_id)
            )
            added.append(name)
    if added:
        mark_changed(conn)
    return added


def revoke(conn: Connection, username: str, subaccount_names: list[str]) -> list[str]:
    """Take these subaccounts away from the user; returns the names that were granted."""
    account = require_account(conn, username)
    wanted = _subaccount_ids_by_name(conn, subaccount_names)
    removed = []
    for name, subaccount_id in sorted(wanted.items()):
        result = conn.execute(
            delete(user_subaccounts).where(
                user_subaccounts.c.user_id == account.id,
                user_subaccounts.c.subaccount_id == subaccount_id,
            )
        )
        if result.rowcount:
            removed.append(name)
    if removed:
        mark_changed(conn)
    return removed


def scope_ids(conn: Connection, account: Account) -> list[int]:
    """The subaccounts the account may see: all of them for an admin, the granted ones else."""
    if account.role == "admin":
        return every_subaccount_id(conn)
    query = select(user_subaccounts.c.subaccount_id).where(user_subaccounts.c.user_id == account.id)
    return sorted(int(i) for i in conn.execute(query).scalars())


def every_subaccount_id(conn: Connection) -> list[int]:
    return sorted(int(i) for i in conn.execute(select(subaccounts.c.id)).scalars())


def list_accounts(conn: Connection) -> list[AccountListing]:
    """Every sign-in account (senders named in files have no password and are left out)."""
    rows = conn.execute(
        select(*ACCOUNT_COLUMNS)
        .where(users.c.password_hash.is_not(None))
        .order_by(users.c.username)
    ).all()
    granted = conn.execute(
        select(user_subaccounts.c.user_id, subaccounts.c.name)
        .join(subaccounts, subaccounts.c.id == user_subaccounts.c.subaccount_id)
        .order_by(subaccounts.c.name)
    ).all()
    names: dict[int, list[str]] = {}
    for row in granted:
        names.setdefault(int(row.user_id), []).append(row.name)
    return [
        AccountListing(account_from_row(row), tuple(names.get(int(row.id), ()))) for row in rows
    ]


def has_sign_in_accounts(conn: Connection) -> bool:
    return bool(conn.execute(select(exists().where(users.c.password_hash.is_not(None)))).scalar())
