"""API keys for the send-records API: each bound to one subaccount, kept only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from data_access.sql import next_id
from data_access.tables import api_keys, subaccounts

KEY_PREFIX = "drk_"


class UnknownNameError(LookupError):
    """A key or subaccount named on the command line does not exist."""


@dataclass(frozen=True)
class ApiKey:
    id: int
    prefix: str
    subaccount: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    # A 256-bit random key needs no slow hash: a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(key.encode()).hexdigest()


def subaccount_id(conn: Connection, name: str, create: bool = False) -> tuple[int, bool]:
    """The id of the named subaccount and whether it was created now."""
    found = conn.execute(select(subaccounts.c.id).where(subaccounts.c.name == name)).scalar()
    if found is not None:
        return int(found), False
    if not create:
        raise UnknownNameError(f"There is no subaccount named {name!r}.")
    new_id = conn.execute(select(next_id(subaccounts))).scalar_one()
    conn.execute(insert(subaccounts).values(id=new_id, name=name))
    return int(new_id), True


def create_key(conn: Connection, subaccount: str, label: str | None = None) -> tuple[ApiKey, str]:
    """Make a key for the subaccount (created if new); the plain key is returned only here."""
    sub_id, _ = subaccount_id(conn, subaccount, create=True)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    prefix = key[: len(KEY_PREFIX) + 6]
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    key_id = conn.execute(select(next_id(api_keys))).scalar_one()
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            key_hash=hash_key(key),
            prefix=prefix,
            subaccount_id=sub_id,
            label=label,
            created_at=now,
        )
    )
    return ApiKey(int(key_id), prefix, subaccount, label, now, None), key


def _select():
    return select(
        api_keys.c.id,
        api_keys.c.prefix,
        subaccounts.c.name,
        api_keys.c.label,
        api_keys.c.created_at,
        api_keys.c.revoked_at,
    ).join(subaccounts, subaccounts.c.id == api_keys.c.subaccount_id)


def list_keys(conn: Connection, subaccount: str | None = None) -> list[ApiKey]:
    query = _select().order_by(api_keys.c.id)
    if subaccount is not None:
        query = query.where(subaccounts.c.name == subaccount)
    return [ApiKey(*row) for row in conn.execute(query)]


def revoke_key(conn: Connection, key_id: int) -> ApiKey:
    found = conn.execute(_select().where(api_keys.c.id == key_id)).first()
    if found is None:
        raise UnknownNameError(
            f"There is no API key with id {key_id}; `apikeys list` shows the ids."
        )
    if found.revoked_at is None:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .values(revoked_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        )
    return ApiKey(*conn.execute(_select().where(api_keys.c.id == key_id)).one())


def find_key(conn: Connection, key: str) -> ApiKey | None:
    """The active key matching the presented one, or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    row = conn.execute(
        _select().where(api_keys.c.key_hash == hash_key(key), api_keys.c.revoked_at.is_(None))
    ).first()
    return ApiKey(*row) if row is not None else None
