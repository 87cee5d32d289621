"""What a person chose for their screen beyond language and time zone: the detailed table's
columns, kept with their account so it follows them to any browser."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from data_access.tables import user_preferences

# A stored choice is names joined by commas; names are the table's column keys.
SEPARATOR = ","


def table_columns(conn: Connection, user_id: int) -> tuple[str, ...] | None:
    """The columns the user chose, in the order stored; None when they never chose."""
    stored = conn.execute(
        select(user_preferences.c.table_columns).where(user_preferences.c.user_id == user_id)
    ).scalar()
    return tuple(stored.split(SEPARATOR)) if stored else None


def set_table_columns(conn: Connection, user_id: int, columns: tuple[str, ...]) -> None:
    """Keep the user's choice (names the caller has checked against the table's columns)."""
    # Delete then insert: one statement pair both stores run alike, in the caller's transaction.
    conn.execute(delete(user_preferences).where(user_preferences.c.user_id == user_id))
    conn.execute(
        insert(user_preferences).values(
            user_id=user_id, table_columns=SEPARATOR.join(columns) or None
        )
    )
