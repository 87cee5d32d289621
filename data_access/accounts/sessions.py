"""Signed-in sessions: one row per browser, found by a hash of its cookie's token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select

from data_access.accounts.model import ACCOUNT_COLUMNS, Account, account_from_row, mark_changed
from data_access.tables import user_sessions, users


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, user_id: int, now: datetime, lifetime: timedelta) -> str:
    """Record a new signed-in browser; returns the token its session cookie carries."""
    conn.execute(delete(user_sessions).where(user_sessions.c.expires_at <= now))
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(user_sessions).values(
            token_hash=_token_hash(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def session_account(conn: Connection, user_id: int, token: str, now: datetime) -> Account | None:
    """The account of a live session token, or None (signed out, expired, disabled, unknown)."""
    row = conn.execute(
        select(*ACCOUNT_COLUMNS)
        .join(user_sessions, user_sessions.c.user_id == users.c.id)
        .where(
            users.c.id == user_id,
            user_sessions.c.token_hash == _token_hash(token),
            user_sessions.c.expires_at > now,
        )
    ).first()
    if row is None:
        return None
    account = account_from_row(row)
    return account if account.can_sign_in else None


def close_session(conn: Connection, token: str) -> None:
    conn.execute(delete(user_sessions).where(user_sessions.c.token_hash == _token_hash(token)))
    mark_changed(conn)


def close_all_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
    mark_changed(conn)


def session_count(conn: Connection, user_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(user_sessions)
            .where(user_sessions.c.user_id == user_id)
        ).scalar_one()
    )
