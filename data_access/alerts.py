"""Alert rules: what they watch, who may see them, what they measure, and what they sent.

A rule watches the MT messages of some subaccounts created in the last `window_minutes`: their
delivered %, error %, count of one error code, or count of messages still at `sent` after
`stuck_minutes`. It fails when at least `min_volume` messages were sent in the window and the
measure compares to the threshold as asked; under the floor a rule keeps its state (no
traffic is no news). State changes are guarded updates, so two processes evaluating the same
minute notify once.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, case, func, insert, select, update

from data_access.filters import AccessScope
from data_access.outbound_tables import alert_notifications, alert_rules
from data_access.sql import next_id
from data_access.tables import messages, subaccounts

METRICS = ("delivered_pct", "error_pct", "error_code_count", "stuck_sent")
COMPARISONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
CHANNELS = ("whatsapp", "sms")
NOTIFY_BY = ("email", "webhook")
OK, FAILING = "ok", "failing"
FAILING_KIND, RECOVERED_KIND, TEST_KIND = "failing", "recovered", "test"
MAX_WINDOW_MINUTES = 7 * 24 * 60
_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")

r = alert_rules.c
n = alert_notifications.c
m = messages.c


class AlertRuleError(ValueError):
    """A rule that cannot be made as asked; `code` feeds the catalog, the message the CLI."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class AlertRule:
    id: int
    name: str
    owner_id: int | None
    owner: str
    channel: str
    subaccount_ids: tuple[int, ...]
    metric: str
    error_code: str | None
    stuck_minutes: int | None
    comparison: str
    threshold: float
    window_minutes: int
    min_volume: int
    notify_by: str
    target: str
    secret: str | None
    active: bool
    state: str
    state_since: datetime | None
    last_value: float | None
    last_volume: int | None
    last_checked_at: datetime | None
    created_at: datetime

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.target.split(",") if a.strip()]

    def fails(self, value: float, volume: int) -> bool | None:
        """Whether the measure fails the rule; None under the volume floor (no judgement)."""
        if volume < self.min_volume or volume == 0:
            return None
        return COMPARISONS[self.comparison](value, self.threshold)


@dataclass(frozen=True)
class Notification:
    id: int
    rule_id: int
    at: datetime
    kind: str
    value: float | None
    volume: int | None
    delivered: bool
    problem: str | None


def _rule(row) -> AlertRule:
    data = dict(row._mapping)
    ids = data.pop("subaccounts")
    data["subaccount_ids"] = tuple(int(i) for i in ids.split(",") if i)
    return AlertRule(**data)


def _check(
    channel: str,
    metric: str,
    comparison: str,
    threshold: float,
    window_minutes: int,
    min_volume: int,
    notify_by: str,
    target: str,
    error_code: str | None,
    stuck_minutes: int | None,
) -> str:
    if channel not in CHANNELS:
        raise AlertRuleError("channel", f"The channel must be one of {', '.join(CHANNELS)}.")
    if metric not in METRICS:
        raise AlertRuleError("metric", f"The metric must be one of {', '.join(METRICS)}.")
    if comparison not in COMPARISONS:
        raise AlertRuleError("comparison", "The comparison must be one of <, <=, >, >=.")
    if metric in ("delivered_pct", "error_pct") and not 0 <= threshold <= 100:
        raise AlertRuleError("threshold_pct", "A percentage threshold is from 0 to 100.")
    if threshold < 0:
        raise AlertRuleError("threshold", "The threshold cannot be negative.")
    if not 1 <= window_minutes <= MAX_WINDOW_MINUTES:
        raise AlertRuleError(
            "window", f"The window is from 1 to {MAX_WINDOW_MINUTES} minutes (7 days)."
        )
    if min_volume < 0:
        raise AlertRuleError("min_volume", "The minimum volume cannot be negative.")
    if metric == "error_code_count" and not (error_code or "").strip():
        raise AlertRuleError("error_code", "Name the error code to count.")
    if metric == "stuck_sent" and not (stuck_minutes and stuck_minutes >= 1):
        raise AlertRuleError(
            "stuck_minutes", "Say after how many minutes at sent a message is stuck."
        )
    if notify_by not in NOTIFY_BY:
        raise AlertRuleError("notify_by", "Notify by email or webhook.")
    target = target.strip()
    if notify_by == "email":
        addresses = [a.strip() for a in re.split(r"[,;\s]+", target) if a.strip()]
        if not addresses or not all(_EMAIL.fullmatch(a) for a in addresses):
            raise AlertRuleError("email", "Give one or more e-mail addresses, comma-separated.")
        return ",".join(addresses)
    if not re.fullmatch(r"https?://\S+", target):
        raise AlertRuleError("webhook", "The webhook must be an http:// or https:// address.")
    return target


def create_rule(
    conn: Connection,
    *,
    name: str,
    owner_id: int | None,
    owner: str,
    owner_scope: AccessScope,
    channel: str,
    subaccount_ids: list[int] | tuple[int, ...],
    metric: str,
    comparison: str,
    threshold: float,
    window_minutes: int,
    min_volume: int,
    notify_by: str,
    target: str,
    secret: str | None = None,
    error_code: str | None = None,
    stuck_minutes: int | None = None,
    now: datetime,
) -> AlertRule:
    """A new active rule in the `ok` state; its subaccounts default to its owner's whole scope
    and must lie within it."""
    name = (name or "").strip()
    if not name:
        raise AlertRuleError("name", "Give the rule a name.")
    target = _check(
        channel,
        metric,
        comparison,
        threshold,
        window_minutes,
        min_volume,
        notify_by,
        target,
        error_code,
        stuck_minutes,
    )
    ids = sorted({int(i) for i in subaccount_ids}) or sorted(owner_scope.subaccount_ids)
    outside = [i for i in ids if not owner_scope.allows(i)]
    if outside or not ids:
        raise AlertRuleError(
            "scope", "A rule watches only subaccounts its owner may see.", ids=outside
        )
    if notify_by == "webhook" and not (secret or "").strip():
        raise AlertRuleError("secret", "A webhook rule needs a secret to sign its calls with.")
    rule_id = int(conn.execute(select(next_id(alert_rules))).scalar_one())
    conn.execute(
        insert(alert_rules).values(
            id=rule_id,
            name=name[:200],
            owner_id=owner_id,
            owner=owner,
            channel=channel,
            subaccounts=",".join(str(i) for i in ids),
            metric=metric,
            error_code=(error_code or "").strip() or None if metric == "error_code_count" else None,
            stuck_minutes=stuck_minutes if metric == "stuck_sent" else None,
            comparison=comparison,
            threshold=float(threshold),
            window_minutes=int(window_minutes),
            min_volume=int(min_volume),
            notify_by=notify_by,
            target=target,
            secret=(secret or "").strip() or None if notify_by == "webhook" else None,
            active=True,
            state=OK,
            state_since=now,
            created_at=now,
        )
    )
    found = get_rule(conn, rule_id)
    assert found is not None
    return found


def get_rule(conn: Connection, rule_id: int) -> AlertRule | None:
    row = conn.execute(select(alert_rules).where(r.id == rule_id)).first()
    return _rule(row) if row is not None else None


def visible(rule: AlertRule, scope: AccessScope | None) -> bool:
    """Whether a viewer of `scope` may see and manage the rule (None: an admin, every rule)."""
    return scope is None or all(scope.allows(i) for i in rule.subaccount_ids)


def list_rules(
    conn: Connection, scope: AccessScope | None = None, active_only: bool = False
) -> list[AlertRule]:
    """The rules a viewer of `scope` may manage (None: every rule), by id."""
    query = select(alert_rules).order_by(r.id)
    if active_only:
        query = query.where(r.active.is_(True))
    return [rule for rule in map(_rule, conn.execute(query)) if visible(rule, scope)]


def set_active(conn: Connection, rule_id: int, active: bool, now: datetime) -> None:
    """Disable or enable a rule; an enabled rule starts again from `ok`."""
    values: dict = {"active": active}
    if active:
        values.update(state=OK, state_since=now)
    conn.execute(update(alert_rules).where(r.id == rule_id).values(**values))


def record_check(
    conn: Connection, rule: AlertRule, value: float, volume: int, now: datetime
) -> None:
    conn.execute(
        update(alert_rules)
        .where(r.id == rule.id)
        .values(last_value=value, last_volume=volume, last_checked_at=now)
    )


def change_state(conn: Connection, rule: AlertRule, new_state: str, now: datetime) -> bool:
    """Move the rule from the state it was read in to `new_state`; False when another process
    moved it first (then that process notifies)."""
    result = conn.execute(
        update(alert_rules)
        .where(r.id == rule.id, r.state == rule.state, r.active.is_(True))
        .values(state=new_state, state_since=now)
    )
    return result.rowcount == 1


def add_notification(
    conn: Connection,
    rule_id: int,
    kind: str,
    value: float | None,
    volume: int | None,
    delivered: bool,
    problem: str | None,
    now: datetime,
) -> None:
    conn.execute(
        insert(alert_notifications).values(
            id=conn.execute(select(next_id(alert_notifications))).scalar_one(),
            rule_id=rule_id,
            at=now,
            kind=kind,
            value=value,
            volume=volume,
            delivered=delivered,
            problem=(problem or None) and problem[:2000],
        )
    )


def notifications(conn: Connection, rule_ids: list[int], limit: int = 5) -> dict[int, list]:
    """The latest notifications of each rule, newest first."""
    found: dict[int, list[Notification]] = {i: [] for i in rule_ids}
    if not rule_ids:
        return found
    rows = conn.execute(
        select(alert_notifications)
        .where(n.rule_id.in_(rule_ids))
        .order_by(n.rule_id, n.at.desc(), n.id.desc())
    )
    for row in rows:
        bucket = found[row.rule_id]
        if len(bucket) < limit:
            bucket.append(Notification(**row._mapping))
    return found


def subaccount_names(conn: Connection, ids) -> dict[int, str]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(subaccounts.c.id, subaccounts.c.name).where(subaccounts.c.id.in_(ids))
    )
    return {int(row.id): row.name for row in rows}


def measure(conn: Connection, rule: AlertRule, now: datetime) -> tuple[float, int]:
    """(the rule's measure, the MT messages sent in its window) at `now` (naive UTC)."""
    since = now - timedelta(minutes=rule.window_minutes)
    conditions = [
        m.subaccount_id.in_(list(rule.subaccount_ids)),
        m.channel == rule.channel,
        m.direction == "MT",
        # The local day bounds the scan (a day either side covers any zone).
        m.created_day >= (since - timedelta(days=1)).date(),
        m.created_at >= since,
        m.created_at <= now,
    ]
    if rule.metric == "delivered_pct":
        part = func.count(m.delivered_at)
    elif rule.metric == "error_pct":
        part = func.count(case((m.status == "error", 1)))
    elif rule.metric == "error_code_count":
        part = func.count(case((and_(m.status == "error", m.error_code == rule.error_code), 1)))
    else:
        stuck_before = now - timedelta(minutes=rule.stuck_minutes or 0)
        part = func.count(case((and_(m.status == "sent", m.sent_at <= stuck_before), 1)))
    counted, volume = conn.execute(select(part, func.count()).where(*conditions)).one()
    counted, volume = int(counted or 0), int(volume or 0)
    if rule.metric in ("delivered_pct", "error_pct"):
        return (counted * 100.0 / volume if volume else 0.0), volume
    return float(counted), volume
