"""Scheduled reports: a view (its URL query string) exported daily, weekly or monthly at an hour
of its owner's time zone, and the runs made for them.

A run is claimed by moving the schedule's `last_due_at` forward with a guarded update and
recording the run under (schedule, due time) as its primary key: whichever process gets there
first makes the run, and a due time is never run twice. Only the latest due time passed is
run: a schedule that missed several while the app was down runs once when it comes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, or_, select, update

from clock import time_zone
from data_access.outbound_tables import report_schedules, schedule_runs
from data_access.sql import next_id

FREQUENCIES = ("daily", "weekly", "monthly")
FORMATS = ("csv", "xlsx")
# Monthly schedules run on days 1 to 28, which every month has.
MAX_MONTH_DAY = 28
_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")

s = report_schedules.c
runs = schedule_runs.c


class ScheduleError(ValueError):
    """A schedule that cannot be made as asked; `code` feeds the catalog."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Schedule:
    id: int
    owner_id: int
    owner: str
    search: str
    format: str
    frequency: str
    hour: int
    weekday: int | None
    month_day: int | None
    timezone: str
    language: str
    recipients: str
    active: bool
    created_at: datetime
    last_due_at: datetime | None

    @property
    def recipient_list(self) -> list[str]:
        return [a for a in self.recipients.split(",") if a]

    def runs_on(self, day: date) -> bool:
        if self.frequency == "weekly":
            return day.weekday() == self.weekday
        if self.frequency == "monthly":
            return day.day == self.month_day
        return True

    def latest_due(self, after: datetime, until: datetime) -> datetime | None:
        """The latest time (naive UTC) in (after, until] the schedule is due at, or None."""
        zone = ZoneInfo(self.timezone)
        local_until = until.replace(tzinfo=UTC).astimezone(zone)
        day = local_until.date()
        # A monthly schedule is due within 31 days of any moment; a day more for the zone.
        for _ in range(33):
            if self.runs_on(day):
                local = datetime.combine(day, time(self.hour), tzinfo=zone)
                due = local.astimezone(UTC).replace(tzinfo=None)
                if due <= until:
                    return due if due > after else None
            day -= timedelta(days=1)
        return None

    def next_due(self, after: datetime) -> datetime | None:
        """The first time (naive UTC) after `after` the schedule is due at."""
        zone = ZoneInfo(self.timezone)
        day = after.replace(tzinfo=UTC).astimezone(zone).date()
        for _ in range(33):
            if self.runs_on(day):
                local = datetime.combine(day, time(self.hour), tzinfo=zone)
                due = local.astimezone(UTC).replace(tzinfo=None)
                if due > after:
                    return due
            day += timedelta(days=1)
        return None


@dataclass(frozen=True)
class Run:
    schedule_id: int
    due_at: datetime
    ran_at: datetime
    job_id: str | None
    mailed: bool
    problem: str | None


def check_recipients(text: str) -> str:
    addresses = [a.strip() for a in re.split(r"[,;\s]+", text or "") if a.strip()]
    if not addresses or not all(_EMAIL.fullmatch(a) for a in addresses):
        raise ScheduleError("recipients", "Give one or more e-mail addresses, comma-separated.")
    return ",".join(addresses)


def create_schedule(
    conn: Connection,
    *,
    owner_id: int,
    owner: str,
    search: str,
    format: str,
    frequency: str,
    hour: int,
    timezone: str,
    language: str,
    recipients: str,
    weekday: int | None = None,
    month_day: int | None = None,
    now: datetime,
) -> Schedule:
    if format not in FORMATS:
        raise ScheduleError("format", "The format must be csv or xlsx.")
    if frequency not in FREQUENCIES:
        raise ScheduleError("frequency", "The frequency must be daily, weekly or monthly.")
    if not 0 <= hour <= 23:
        raise ScheduleError("hour", "The hour is from 0 to 23.")
    if frequency == "weekly" and (weekday is None or not 0 <= weekday <= 6):
        raise ScheduleError("weekday", "A weekly schedule names a weekday (0 Monday to 6 Sunday).")
    if frequency == "monthly" and (month_day is None or not 1 <= month_day <= MAX_MONTH_DAY):
        raise ScheduleError(
            "month_day", f"A monthly schedule names a day of the month from 1 to {MAX_MONTH_DAY}."
        )
    if time_zone(timezone) is None:
        raise ScheduleError("timezone", f"{timezone!r} is not an IANA time zone.")
    schedule_id = int(conn.execute(select(next_id(report_schedules))).scalar_one())
    conn.execute(
        insert(report_schedules).values(
            id=schedule_id,
            owner_id=owner_id,
            owner=owner,
            search=search.lstrip("?"),
            format=format,
            frequency=frequency,
            hour=hour,
            weekday=weekday if frequency == "weekly" else None,
            month_day=month_day if frequency == "monthly" else None,
            timezone=timezone,
            language=language,
            recipients=check_recipients(recipients),
            active=True,
            created_at=now,
            last_due_at=None,
        )
    )
    found = get_schedule(conn, schedule_id)
    assert found is not None
    return found


def get_schedule(conn: Connection, schedule_id: int) -> Schedule | None:
    row = conn.execute(select(report_schedules).where(s.id == schedule_id)).first()
    return Schedule(**row._mapping) if row is not None else None


def list_schedules(
    conn: Connection, owner_id: int | None = None, active_only: bool = False
) -> list[Schedule]:
    query = select(report_schedules).order_by(s.id)
    if owner_id is not None:
        query = query.where(s.owner_id == owner_id)
    if active_only:
        query = query.where(s.active.is_(True))
    return [Schedule(**row._mapping) for row in conn.execute(query)]


def set_active(conn: Connection, schedule_id: int, active: bool) -> None:
    conn.execute(update(report_schedules).where(s.id == schedule_id).values(active=active))


def claim_run(conn: Connection, schedule: Schedule, due: datetime, now: datetime) -> bool:
    """Take the run of `due` for this process: False when it was made already."""
    moved = conn.execute(
        update(report_schedules)
        .where(s.id == schedule.id, or_(s.last_due_at.is_(None), s.last_due_at < due))
        .values(last_due_at=due)
    ).rowcount
    if moved != 1:
        return False
    conn.execute(
        insert(schedule_runs).values(
            schedule_id=schedule.id, due_at=due, ran_at=now, job_id=None, mailed=False
        )
    )
    return True


def update_run(conn: Connection, schedule_id: int, due: datetime, **values) -> None:
    conn.execute(
        update(schedule_runs)
        .where(runs.schedule_id == schedule_id, runs.due_at == due)
        .values(**values)
    )


def unmailed_runs(conn: Connection) -> list[Run]:
    """Runs whose export was queued and whose mail has not gone yet."""
    rows = conn.execute(
        select(schedule_runs)
        .where(runs.mailed.is_(False), runs.job_id.is_not(None), runs.problem.is_(None))
        .order_by(runs.ran_at)
    )
    return [Run(**row._mapping) for row in rows]


def runs_of(conn: Connection, schedule_id: int) -> list[Run]:
    rows = conn.execute(
        select(schedule_runs).where(runs.schedule_id == schedule_id).order_by(runs.due_at)
    )
    return [Run(**row._mapping) for row in rows]
