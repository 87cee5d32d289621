"""Keys of the read API: each names the subaccounts it may read, kept only as a SHA-256 hash.

A read key starts with its own prefix and lives in its own table, so a send key (ingest/keys)
is never taken for a read key, nor the other way round.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from clock import utcnow
from data_access.filters import AccessScope
from data_access.outbound_tables import read_key_subaccounts, read_keys
from data_access.sql import next_id
from data_access.tables import subaccounts

READ_KEY_PREFIX = "drr_"


class ReadKeyError(LookupError):
    """A key or subaccount named on the command line does not exist."""


@dataclass(frozen=True)
class ReadKey:
    id: int
    prefix: str
    label: str | None
    per_minute: int | None
    created_at: datetime
    revoked_at: datetime | None
    subaccounts: tuple[str, ...]
    subaccount_ids: tuple[int, ...]

    @property
    def scope(self) -> AccessScope:
        return AccessScope.of(self.subaccount_ids)


def _hash(key: str) -> str:
    # A 256-bit random key needs no slow hash.
    return hashlib.sha256(key.encode()).hexdigest()


def _subaccount_ids(conn: Connection, names: list[str]) -> list[int]:
    found = dict(
        conn.execute(
            select(subaccounts.c.name, subaccounts.c.id).where(subaccounts.c.name.in_(names))
        ).all()
    )
    missing = [name for name in names if name not in found]
    if missing:
        raise ReadKeyError(
            "There is no subaccount named " + ", ".join(repr(name) for name in missing) + "."
        )
    return sorted({int(found[name]) for name in names})


def create_read_key(
    conn: Connection,
    subaccount_names: list[str],
    label: str | None = None,
    per_minute: int | None = None,
) -> tuple[ReadKey, str]:
    """Make a key reading the named (existing) subaccounts; the plain key is returned only here."""
    names = sorted({name.strip() for name in subaccount_names if name.strip()})
    if not names:
        raise ReadKeyError("Name at least one subaccount the key may read.")
    ids = _subaccount_ids(conn, names)
    key = READ_KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = int(conn.execute(select(next_id(read_keys))).scalar_one())
    conn.execute(
        insert(read_keys).values(
            id=key_id,
            key_hash=_hash(key),
            prefix=key[: len(READ_KEY_PREFIX) + 6],
            label=label,
            per_minute=per_minute,
            created_at=utcnow().replace(microsecond=0),
        )
    )
    conn.execute(
        insert(read_key_subaccounts), [{"key_id": key_id, "subaccount_id": i} for i in ids]
    )
    return _load(conn, [key_id])[0], key


def _load(conn: Connection, key_ids: list[int] | None = None) -> list[ReadKey]:
    query = select(read_keys).order_by(read_keys.c.id)
    if key_ids is not None:
        query = query.where(read_keys.c.id.in_(key_ids))
    rows = conn.execute(query).all()
    if not rows:
        return []
    granted: dict[int, list[tuple[str, int]]] = {}
    for key_id, sub_id, name in conn.execute(
        select(read_key_subaccounts.c.key_id, subaccounts.c.id, subaccounts.c.name)
        .join(subaccounts, subaccounts.c.id == read_key_subaccounts.c.subaccount_id)
        .where(read_key_subaccounts.c.key_id.in_([row.id for row in rows]))
    ):
        granted.setdefault(key_id, []).append((name, int(sub_id)))
    keys = []
    for row in rows:
        pairs = sorted(granted.get(row.id, []))
        keys.append(
            ReadKey(
                id=int(row.id),
                prefix=row.prefix,
                label=row.label,
                per_minute=row.per_minute,
                created_at=row.created_at,
                revoked_at=row.revoked_at,
                subaccounts=tuple(name for name, _ in pairs),
                subaccount_ids=tuple(sorted(i for _, i in pairs)),
            )
        )
    return keys


def list_read_keys(conn: Connection) -> list[ReadKey]:
    return _load(conn)


def revoke_read_key(conn: Connection, key_id: int) -> ReadKey:
    found = _load(conn, [key_id])
    if not found:
        raise ReadKeyError(
            f"There is no read key with id {key_id}; `apikeys list --read` shows the ids."
        )
    if found[0].revoked_at is None:
        conn.execute(
            update(read_keys)
            .where(read_keys.c.id == key_id)
            .values(revoked_at=utcnow().replace(microsecond=0))
        )
    return _load(conn, [key_id])[0]


def find_read_key(conn: Connection, key: str) -> ReadKey | None:
    """The active read key matching the presented one, or None (a send key is never one)."""
    if not key.startswith(READ_KEY_PREFIX):
        return None
    key_id = conn.execute(
        select(read_keys.c.id).where(
            read_keys.c.key_hash == _hash(key), read_keys.c.revoked_at.is_(None)
        )
    ).scalar()
    return _load(conn, [int(key_id)])[0] if key_id is not None else None
