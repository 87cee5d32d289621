"""Two-step verification: the account's TOTP secret and the last time step used."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, update

from data_access.accounts.model import Account, mark_changed
from data_access.accounts.records import get_account, require_account
from data_access.tables import totp_steps, users


def set_totp_secret(conn: Connection, user_id: int, secret: str | None) -> None:
    """Turn two-step verification on with a new secret, or off with None."""
    conn.execute(update(users).where(users.c.id == user_id).values(totp_secret=secret))
    mark_changed(conn)
    conn.execute(delete(totp_steps).where(totp_steps.c.user_id == user_id))
    if secret is not None:
        # The row exists from the start, so claiming a step is one conditional UPDATE that
        # two simultaneous sign-ins with the same code cannot both win.
        conn.execute(insert(totp_steps).values(user_id=user_id, last_step=0))


def reset_totp(conn: Connection, username: str) -> Account:
    account = require_account(conn, username)
    set_totp_secret(conn, account.id, None)
    return get_account(conn, account.id)  # type: ignore[return-value]


def claim_totp_step(conn: Connection, user_id: int, step: int) -> bool:
    """Record that the code of this time step was used; False if it (or a later one) was."""
    result = conn.execute(
        update(totp_steps)
        .where(totp_steps.c.user_id == user_id, totp_steps.c.last_step < step)
        .values(last_step=step)
    )
    return result.rowcount == 1
