"""The audit trail: one row per sign-in, account or key change, export or refused write."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert

from data_access.tables import audit_log

# Action names, as stored in audit_log.action (at most 32 characters).
SIGN_IN = "sign_in"
SIGN_IN_FAILED = "sign_in_failed"
ACCOUNT_CHANGED = "account_changed"
GRANT_CHANGED = "grant_changed"
KEY_CREATED = "key_created"
KEY_USED = "key_used"
KEY_REVOKED = "key_revoked"
EXPORT_REQUESTED = "export_requested"
EXPORT_DOWNLOADED = "export_downloaded"
WRITE_REFUSED = "write_refused"

ACTIONS = (
    SIGN_IN,
    SIGN_IN_FAILED,
    ACCOUNT_CHANGED,
    GRANT_CHANGED,
    KEY_CREATED,
    KEY_USED,
    KEY_REVOKED,
    EXPORT_REQUESTED,
    EXPORT_DOWNLOADED,
    WRITE_REFUSED,
)

_ACTOR_MAX = 200
_ADDRESS_MAX = 64


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    detail: str = "",
    address: str | None = None,
    subaccount_id: int | None = None,
) -> None:
    """Add one audit row in the caller's transaction (it commits or rolls back with the caller's
    work, so a refused or failed change leaves no row claiming it happened)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action: {action!r}")
    conn.execute(
        insert(audit_log).values(
            at=_utcnow(),
            actor=(actor or "?")[:_ACTOR_MAX],
            action=action,
            detail=detail or "",
            address=address[:_ADDRESS_MAX] if address else None,
            subaccount_id=subaccount_id,
        )
    )
