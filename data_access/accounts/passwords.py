"""Passwords: argon2 hashes, the rules a new password follows, and checking one."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from data_access.accounts.model import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    Account,
    AccountError,
)
from data_access.accounts.records import set_password_hash

# argon2-cffi's defaults follow RFC 9106's second recommended profile (64 MiB, 3 passes).
_hasher = PasswordHasher()


@functools.cache
def _unknown_user_hash() -> str:
    """Verified against when the username is unknown, so a wrong name costs as long as a wrong
    password and response times do not tell which usernames exist. Made on first use: a hash
    takes 64 MiB for a moment, which a process that never signs anyone in need not pay."""
    return _hasher.hash("no account has this password")


def check_password(password: str, username: str | None = None) -> None:
    """Raise AccountError when a new password is too short, too long or the username."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(
            "password_short",
            f"A password has at least {PASSWORD_MIN_LENGTH} characters.",
            minimum=PASSWORD_MIN_LENGTH,
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(
            "password_long",
            f"A password has at most {PASSWORD_MAX_LENGTH} characters.",
            maximum=PASSWORD_MAX_LENGTH,
        )
    if username and password.strip().lower() == username.strip().lower():
        raise AccountError("password_is_username", "A password cannot be the username.")


def hash_password(password: str, username: str | None = None) -> str:
    check_password(password, username)
    return _hasher.hash(password)


def verify_password(account: Account | None, password: str) -> bool:
    """Whether the password is the account's; as slow for unknown accounts as for known ones."""
    stored = account.password_hash if account is not None else None
    try:
        _hasher.verify(stored or _unknown_user_hash(), password[:PASSWORD_MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def upgrade_hash(conn: Connection, account: Account, password: str) -> None:
    """After a good sign-in, re-hash a password stored with weaker parameters than today's."""
    if account.password_hash and _hasher.check_needs_rehash(account.password_hash):
        set_password_hash(conn, account.id, _hasher.hash(password))
