"""Evaluate the alert rules and notify: once when a rule starts failing, once when it recovers.

`evaluate(engine, settings, now)` runs every minute (notify/worker.py). Each active rule is
measured at `now`; a rule whose verdict differs from its state moves to the new state by a
guarded update, and only the process whose update took sends the notification.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from config import Settings
from data_access import accounts, alerts
from data_access.clickhouse.binding import messages_of
from notify.mail import MailError, send_mail
from notify.webhook import WebhookError, post_signed
from reporting.formatting import format_count, format_pct
from reporting.i18n import N_, t
from reporting.languages import normalize_language

log = logging.getLogger(__name__)

# The mail's words for each kind of notification (alerts.FAILING_KIND, RECOVERED_KIND, TEST_KIND).
MAIL_KEYS = (
    N_("alerts.mail.subject.failing"),
    N_("alerts.mail.subject.recovered"),
    N_("alerts.mail.subject.test"),
    N_("alerts.mail.state.failing"),
    N_("alerts.mail.state.recovered"),
    N_("alerts.mail.state.test"),
)


@dataclass(frozen=True)
class Outcome:
    rule_id: int
    kind: str
    delivered: bool
    problem: str | None


def _language(engine: Engine, rule: alerts.AlertRule) -> str:
    if rule.owner_id is None:
        return normalize_language(None)
    with engine.connect() as conn:
        account = accounts.get_account(conn, rule.owner_id)
    return normalize_language(account.language if account else None)


def _shown(rule: alerts.AlertRule, value: float | None, language: str) -> str:
    if value is None:
        return "—"
    if rule.metric in ("delivered_pct", "error_pct"):
        return format_pct(value, language)
    return format_count(value, language)


def message_text(
    rule: alerts.AlertRule,
    kind: str,
    value: float | None,
    volume: int | None,
    names: dict[int, str],
    language: str,
) -> tuple[str, str]:
    """(subject, body) of a notification mail, in the owner's language."""
    subject = t(language, f"alerts.mail.subject.{kind}", name=rule.name)
    metric = t(language, f"alerts.metric.{rule.metric}")
    if rule.metric == "error_code_count":
        metric += f" ({rule.error_code})"
    elif rule.metric == "stuck_sent":
        metric += " " + t(language, "alerts.stuck_after", minutes=rule.stuck_minutes)
    body = t(
        language,
        "alerts.mail.body",
        metric=metric,
        value=_shown(rule, value, language),
        comparison=rule.comparison,
        threshold=_shown(rule, rule.threshold, language),
        window=rule.window_minutes,
        volume=format_count(volume or 0, language),
        floor=format_count(rule.min_volume, language),
        channel=t(language, f"channel.{rule.channel}"),
        subaccounts=", ".join(names.get(i, f"#{i}") for i in rule.subaccount_ids),
    )
    return subject, t(language, f"alerts.mail.state.{kind}") + "\n\n" + body + "\n"


def payload(
    rule: alerts.AlertRule,
    kind: str,
    value: float | None,
    volume: int | None,
    names: dict[int, str],
    now: datetime,
) -> dict:
    """The webhook's JSON body."""
    return {
        "event": kind,
        "at": now.isoformat() + "Z",
        "value": value,
        "volume": volume,
        "rule": {
            "id": rule.id,
            "name": rule.name,
            "channel": rule.channel,
            "subaccounts": [names.get(i, str(i)) for i in rule.subaccount_ids],
            "metric": rule.metric,
            "error_code": rule.error_code,
            "stuck_minutes": rule.stuck_minutes,
            "comparison": rule.comparison,
            "threshold": rule.threshold,
            "window_minutes": rule.window_minutes,
            "min_volume": rule.min_volume,
        },
    }


def notify(
    engine: Engine,
    settings: Settings,
    rule: alerts.AlertRule,
    kind: str,
    value: float | None,
    volume: int | None,
    now: datetime,
) -> Outcome:
    """Send one notification by the rule's channel and record it (delivered or not)."""
    with engine.connect() as conn:
        names = alerts.subaccount_names(conn, rule.subaccount_ids)
    problem = None
    try:
        if rule.notify_by == "email":
            subject, body = message_text(rule, kind, value, volume, names, _language(engine, rule))
            send_mail(settings, rule.recipients, subject, body)
        else:
            post_signed(
                rule.target, rule.secret or "", payload(rule, kind, value, volume, names, now)
            )
    except (MailError, WebhookError) as error:
        problem = str(error)
        log.warning("alert %s (%s) not delivered: %s", rule.id, kind, problem)
    with engine.begin() as conn:
        alerts.add_notification(conn, rule.id, kind, value, volume, problem is None, problem, now)
    return Outcome(rule.id, kind, problem is None, problem)


def evaluate(engine: Engine, settings: Settings, now: datetime) -> list[Outcome]:
    """Measure every active rule at `now`; notify the ones whose state changed."""
    if messages_of(engine) is not None:
        # The measures read the relational messages table, which a ClickHouse store leaves
        # empty: no verdict rather than a false recovery.
        log.warning("alert rules are not evaluated on a ClickHouse store yet")
        return []
    with engine.connect() as conn:
        rules = alerts.list_rules(conn, active_only=True)
    sent = []
    for rule in rules:
        try:
            with engine.begin() as conn:
                value, volume = alerts.measure(conn, rule, now)
                alerts.record_check(conn, rule, value, volume, now)
                verdict = rule.fails(value, volume)
                if verdict is None or verdict == (rule.state == alerts.FAILING):
                    continue
                new_state = alerts.FAILING if verdict else alerts.OK
                if not alerts.change_state(conn, rule, new_state, now):
                    continue
            kind = alerts.FAILING_KIND if verdict else alerts.RECOVERED_KIND
            sent.append(notify(engine, settings, rule, kind, value, volume, now))
        except Exception:
            log.exception("alert rule %s could not be evaluated", rule.id)
    return sent


def send_test(engine: Engine, settings: Settings, rule_id: int, now: datetime) -> Outcome:
    """A notification of the rule's current measure, marked as a test; its state is unchanged."""
    with engine.connect() as conn:
        rule = alerts.get_rule(conn, rule_id)
        if rule is None:
            raise alerts.AlertRuleError("unknown_rule", f"There is no alert rule {rule_id}.")
        value, volume = alerts.measure(conn, rule, now)
    return notify(engine, settings, rule, alerts.TEST_KIND, value, volume, now)
