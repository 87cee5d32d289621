"""Export jobs in the store: create (once per double click), claim, progress, finish, expire.

Every state change is one short statement guarded by the state it expects, so two workers (or a
worker and a restart) never both own a job: a claim is `UPDATE ... WHERE status = 'queued'`, and
progress or completion also name the claiming worker's token.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, and_, exists, insert, not_, or_, select, update

from clock import utcnow
from data_access.filters import AccessScope
from data_access.tables import export_job_subaccounts, export_jobs, subaccounts
from exports.request import ExportRequest

QUEUED, PROCESSING, READY, ERROR, EXPIRED = "queued", "processing", "ready", "error", "expired"
STATUSES = (QUEUED, PROCESSING, READY, ERROR, EXPIRED)
RUNNING = (QUEUED, PROCESSING)
# Two identical requests of one person within this many seconds make one job (a double click).
DEDUPE_SECONDS = 10
# A job interrupted this many times (a restart while it ran) is given up as "interrupted".
MAX_ATTEMPTS = 2
JOB_ID = re.compile(r"[A-Za-z0-9_-]{32}")
ERROR_CODES = ("interrupted", "invalid", "no_space", "failed")

j = export_jobs.c
js = export_job_subaccounts.c
# Creating a job reads then writes; one lock per process makes that atomic for the web server.
_create_lock = threading.Lock()


def new_job_id() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Requester:
    """Who asks: their scope decides what the file holds and who may see the job later."""

    user_id: int | None
    username: str
    is_admin: bool
    scope: AccessScope

    @classmethod
    def of(cls, viewer) -> Requester:
        """From the dashboard's Viewer (or anything with the same fields)."""
        return cls(viewer.user_id, viewer.username, viewer.role == "admin", viewer.scope)


@dataclass(frozen=True)
class Job:
    id: str
    requested_at: datetime
    user_id: int | None
    username: str
    channel: str
    view: str
    format: str
    filters: dict
    language: str
    timezone: str
    request_day: date
    file_name: str
    status: str
    rows_total: int | None
    rows_written: int
    file_size: int | None
    error: str | None
    attempts: int
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    subaccount_ids: tuple[int, ...] = ()

    def request(self) -> ExportRequest:
        return ExportRequest.build(
            self.filters, self.format, self.language, self.timezone, today=self.request_day
        )

    def path(self, export_dir: Path) -> Path:
        """The file on disk: named by the job id only, never by anything a client sent."""
        if not JOB_ID.fullmatch(self.id):
            raise ValueError("not a job id")
        return Path(export_dir) / f"{self.id}.{self.format}"


def _job(row, subaccount_ids=()) -> Job:
    data = dict(row._mapping)
    data.pop("request_key", None)
    data.pop("heartbeat_at", None)
    data["filters"] = json.loads(data["filters"])
    return Job(**data, subaccount_ids=tuple(sorted(subaccount_ids)))


def data_subaccounts(scope: AccessScope, request: ExportRequest) -> list[int]:
    """The subaccounts whose rows the file can hold: the scope, narrowed by the filter."""
    wanted = set(request.state.subaccounts)
    return sorted(i for i in scope.subaccount_ids if not wanted or i in wanted)


def _request_key(requester: Requester, request: ExportRequest) -> str:
    scope = sorted(requester.scope.subaccount_ids)
    who = json.dumps([requester.user_id, requester.username, scope])
    return hashlib.sha256((who + request.identity()).encode()).hexdigest()


def _with_subaccounts(conn, rows) -> list[Job]:
    rows = list(rows)
    if not rows:
        return []
    ids = [row.id for row in rows]
    owned: dict[str, list[int]] = {}
    for job_id, subaccount_id in conn.execute(
        select(js.job_id, js.subaccount_id).where(js.job_id.in_(ids))
    ):
        owned.setdefault(job_id, []).append(subaccount_id)
    return [_job(row, owned.get(row.id, ())) for row in rows]


def create_job(
    engine: Engine, requester: Requester, request: ExportRequest, now: datetime | None = None
) -> tuple[Job, bool]:
    """Queue the export; (job, True) for a new one, (the earlier job, False) for a repeat."""
    now = now or utcnow()
    key = _request_key(requester, request)
    with _create_lock, engine.begin() as conn:
        earlier = conn.execute(
            select(export_jobs)
            .where(
                j.request_key == key,
                j.requested_at >= now - timedelta(seconds=DEDUPE_SECONDS),
                j.status.in_((QUEUED, PROCESSING, READY)),
            )
            .order_by(j.requested_at.desc())
            .limit(1)
        ).first()
        if earlier is not None:
            return _with_subaccounts(conn, [earlier])[0], False
        job_id = new_job_id()
        conn.execute(
            insert(export_jobs).values(
                id=job_id,
                requested_at=now,
                user_id=requester.user_id,
                username=requester.username,
                channel=request.channel,
                view=request.view,
                format=request.format,
                filters=request.filters_json(),
                language=request.language,
                timezone=request.timezone,
                request_day=request.today,
                request_key=key,
                file_name=request.file_name(),
                status=QUEUED,
                rows_written=0,
                attempts=0,
            )
        )
        ids = data_subaccounts(requester.scope, request)
        if ids:
            conn.execute(
                insert(export_job_subaccounts),
                [{"job_id": job_id, "subaccount_id": i} for i in ids],
            )
        row = conn.execute(select(export_jobs).where(j.id == job_id)).one()
        return _job(row, ids), True


def _visible(requester: Requester):
    """SQL condition: the requester may see the job (an admin every job)."""
    if requester.is_admin:
        return None
    outside = exists().where(js.job_id == j.id)
    if requester.scope.subaccount_ids:
        outside = outside.where(js.subaccount_id.not_in(sorted(requester.scope.subaccount_ids)))
    has_any = exists().where(js.job_id == j.id)
    own = j.user_id == requester.user_id if requester.user_id is not None else None
    reachable = has_any if own is None else or_(has_any, own)
    return and_(not_(outside), reachable)


def get_job(engine: Engine, job_id: str) -> Job | None:
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        return None
    with engine.connect() as conn:
        row = conn.execute(select(export_jobs).where(j.id == job_id)).first()
        return _with_subaccounts(conn, [row])[0] if row is not None else None


def visible_job(engine: Engine, job_id: str, requester: Requester) -> Job | None:
    """The job when it exists and the requester may see it; None otherwise (say 404)."""
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        return None
    query = select(export_jobs).where(j.id == job_id)
    condition = _visible(requester)
    if condition is not None:
        query = query.where(condition)
    with engine.connect() as conn:
        row = conn.execute(query).first()
        return _with_subaccounts(conn, [row])[0] if row is not None else None


def list_jobs(engine: Engine, requester: Requester, limit: int = 200) -> list[Job]:
    """The jobs the requester may see, newest first."""
    query = select(export_jobs).order_by(j.requested_at.desc(), j.id).limit(limit)
    condition = _visible(requester)
    if condition is not None:
        query = query.where(condition)
    with engine.connect() as conn:
        return _with_subaccounts(conn, conn.execute(query).all())


def subaccount_names(engine: Engine, ids) -> dict[int, str]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(subaccounts.c.id, subaccounts.c.name).where(subaccounts.c.id.in_(ids))
        )
        return {row.id: row.name for row in rows}


def claim_next(engine: Engine, worker: str, now: datetime | None = None) -> Job | None:
    """Take the oldest queued job for `worker` (a unique token); None when none is waiting."""
    now = now or utcnow()
    with engine.connect() as conn:
        candidates = (
            conn.execute(
                select(j.id).where(j.status == QUEUED).order_by(j.requested_at, j.id).limit(5)
            )
            .scalars()
            .all()
        )
    for job_id in candidates:
        with engine.begin() as conn:
            taken = conn.execute(
                update(export_jobs)
                .where(j.id == job_id, j.status == QUEUED)
                .values(
                    status=PROCESSING,
                    worker=worker,
                    attempts=j.attempts + 1,
                    started_at=now,
                    heartbeat_at=now,
                    rows_written=0,
                    rows_total=None,
                    error=None,
                )
            ).rowcount
        if taken == 1:
            return get_job(engine, job_id)
    return None


def _owned(job_id: str, worker: str):
    return and_(j.id == job_id, j.worker == worker, j.status == PROCESSING)


def _update_owned(engine: Engine, job_id: str, worker: str, **values) -> bool:
    """Change a job this worker is processing; False when it is no longer this worker's."""
    with engine.begin() as conn:
        statement = update(export_jobs).where(_owned(job_id, worker)).values(**values)
        return conn.execute(statement).rowcount == 1


def record_progress(
    engine: Engine, job_id: str, worker: str, written: int, total: int | None, now=None
) -> bool:
    """Store rows written so far; False when the job is no longer this worker's."""
    return _update_owned(
        engine, job_id, worker, rows_written=written, rows_total=total, heartbeat_at=now or utcnow()
    )


def mark_ready(
    engine: Engine,
    job_id: str,
    worker: str,
    rows: int,
    size: int,
    expiry_days: int,
    now: datetime | None = None,
) -> bool:
    now = now or utcnow()
    return _update_owned(
        engine,
        job_id,
        worker,
        status=READY,
        rows_written=rows,
        rows_total=rows,
        file_size=size,
        finished_at=now,
        heartbeat_at=now,
        expires_at=now + timedelta(days=expiry_days),
    )


def mark_error(
    engine: Engine, job_id: str, worker: str, code: str, now: datetime | None = None
) -> bool:
    now = now or utcnow()
    return _update_owned(
        engine, job_id, worker, status=ERROR, error=code, finished_at=now, heartbeat_at=now
    )


def heartbeat(engine: Engine, job_ids: list[str], now: datetime | None = None) -> None:
    """Tell other workers these running jobs are alive (PostgreSQL with several workers)."""
    if not job_ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(export_jobs)
            .where(j.id.in_(job_ids), j.status == PROCESSING)
            .values(heartbeat_at=now or utcnow())
        )


def recover_interrupted(
    engine: Engine, stale_before: datetime, now: datetime | None = None
) -> tuple[int, int]:
    """Requeue jobs whose worker stopped (no heartbeat since `stale_before`).

    A job already interrupted MAX_ATTEMPTS times is marked error "interrupted" instead, so a
    file that brings its worker down cannot loop forever. Returns (requeued, given up).
    """
    now = now or utcnow()
    stale = and_(
        j.status == PROCESSING,
        or_(j.heartbeat_at.is_(None), j.heartbeat_at < stale_before),
    )
    with engine.begin() as conn:
        given_up = conn.execute(
            update(export_jobs)
            .where(stale, j.attempts >= MAX_ATTEMPTS)
            .values(status=ERROR, error="interrupted", finished_at=now, worker=None)
        ).rowcount
        requeued = conn.execute(
            update(export_jobs)
            .where(stale)
            .values(status=QUEUED, worker=None, rows_written=0, started_at=None)
        ).rowcount
    return requeued, given_up


def expire_files(engine: Engine, export_dir: Path, now: datetime | None = None) -> int:
    """Delete the files of ready jobs past their expiry and mark those jobs expired."""
    now = now or utcnow()
    with engine.connect() as conn:
        due = conn.execute(
            select(j.id, j.format).where(j.status == READY, j.expires_at <= now)
        ).all()
    count = 0
    for job_id, fmt in due:
        (Path(export_dir) / f"{job_id}.{fmt}").unlink(missing_ok=True)
        with engine.begin() as conn:
            count += conn.execute(
                update(export_jobs)
                .where(j.id == job_id, j.status == READY)
                .values(status=EXPIRED, file_size=None)
            ).rowcount
    return count
