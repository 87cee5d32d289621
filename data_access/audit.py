"""The audit trail: one row per sign-in, account or key change, export or refused write."""

from __future__ import annotations

import getpass
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select

from clock import utcnow
from data_access.tables import audit_log, subaccounts

log = logging.getLogger(__name__)

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
            at=utcnow(),
            actor=(actor or "?")[:_ACTOR_MAX],
            action=action,
            detail=detail or "",
            address=address[:_ADDRESS_MAX] if address else None,
            subaccount_id=subaccount_id,
        )
    )


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    detail: str
    address: str | None
    subaccount_id: int | None
    subaccount: str | None = None  # its name


DEFAULT_LIMIT = 500


def entries(
    conn: Connection,
    *,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[AuditEntry]:
    """The newest rows first: of one actor (a username, exactly), from `since` (naive UTC)."""
    query = (
        select(audit_log, subaccounts.c.name.label("subaccount"))
        .select_from(
            audit_log.outerjoin(subaccounts, subaccounts.c.id == audit_log.c.subaccount_id)
        )
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(limit)
    )
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    return [AuditEntry(**row._mapping) for row in conn.execute(query)]


def purge(conn: Connection, keep_days: int, now: datetime | None = None) -> int:
    """Delete the rows older than `keep_days`: the only way a row ever leaves the trail."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    return conn.execute(delete(audit_log).where(audit_log.c.at < cutoff)).rowcount or 0


def command_actor() -> str:
    """Who runs a command: the system user (a command handed to the running server comes from
    the same user, as only that user can reach its socket)."""
    try:
        return "command line (" + getpass.getuser() + ")"
    except (KeyError, OSError):
        return "command line"


class Retention:
    """Purges rows past AUDIT_KEEP_DAYS at start and then once a day, in a daemon thread."""

    INTERVAL_SECONDS = 24 * 3600

    def __init__(self, engine: Engine, keep_days: int) -> None:
        self.engine = engine
        self.keep_days = keep_days
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def purge_now(self) -> int:
        with self.engine.begin() as conn:
            return purge(conn, self.keep_days)

    def _run(self) -> None:
        while not self._stop.wait(self.INTERVAL_SECONDS):
            try:
                self.purge_now()
            except Exception:
                log.exception("could not purge old audit rows")

    def start(self) -> Retention:
        self.purge_now()
        self._thread = threading.Thread(target=self._run, daemon=True, name="audit-retention")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
