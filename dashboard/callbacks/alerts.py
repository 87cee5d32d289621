"""The alerts page: add a rule within one's scope, disable or enable a rule one may manage."""

from __future__ import annotations

import dash_bootstrap_components as dbc

from clock import utcnow
from dashboard import ids
from dashboard.callbacks import managed_list
from dashboard.callbacks.common import viewer_and_language
from dashboard.layouts import alerts as page
from dashboard.services import Services
from data_access import alerts
from reporting.i18n import N_, has, t

# The words of AlertRuleError codes (data_access/alerts.py), one per check.
ERROR_KEYS = (
    N_("alerts.error.name"),
    N_("alerts.error.channel"),
    N_("alerts.error.metric"),
    N_("alerts.error.comparison"),
    N_("alerts.error.threshold_pct"),
    N_("alerts.error.threshold"),
    N_("alerts.error.window"),
    N_("alerts.error.min_volume"),
    N_("alerts.error.error_code"),
    N_("alerts.error.stuck_minutes"),
    N_("alerts.error.notify_by"),
    N_("alerts.error.email"),
    N_("alerts.error.webhook"),
    N_("alerts.error.webhook_admin"),
    N_("alerts.error.scope"),
    N_("alerts.error.secret"),
    N_("alerts.error.number"),
)


def _number(value, kind=int):
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise alerts.AlertRuleError("number", "Not a number.") from None


def _error_text(language: str, error: alerts.AlertRuleError) -> str:
    key = f"alerts.error.{error.code}"
    return t(language, key) if has(key) else str(error)


def add_rule(services: Services, stored_language, values: dict):
    """(notice, table) after adding the rule the form describes, within the viewer's scope."""
    viewer, language = viewer_and_language(services, stored_language)
    try:
        if values.get("notify_by") == "webhook" and viewer.role != "admin":
            # The server calls a webhook's address from inside the network it runs in: only
            # an administrator chooses such addresses.
            raise alerts.AlertRuleError(
                "webhook_admin", "Only an administrator may send alerts to a webhook."
            )
        subaccount_ids = [int(i) for i in values.get("subaccounts") or ()]
        with services.engine.begin() as conn:
            rule = alerts.create_rule(
                conn,
                name=str(values.get("name") or ""),
                owner_id=viewer.user_id,
                owner=viewer.username,
                owner_scope=viewer.scope,
                channel=str(values.get("channel") or ""),
                subaccount_ids=subaccount_ids,
                metric=str(values.get("metric") or ""),
                comparison=str(values.get("comparison") or ""),
                threshold=_number(values.get("threshold"), float) or 0.0,
                window_minutes=_number(values.get("window")) or 0,
                min_volume=_number(values.get("min_volume")) or 0,
                notify_by=str(values.get("notify_by") or ""),
                target=str(values.get("target") or ""),
                secret=str(values.get("secret") or "") or None,
                error_code=str(values.get("error_code") or "") or None,
                stuck_minutes=_number(values.get("stuck_minutes")),
                now=utcnow(),
            )
    except (TypeError, ValueError) as error:
        if not isinstance(error, alerts.AlertRuleError):
            error = alerts.AlertRuleError("number", str(error))
        notice = dbc.Alert(_error_text(language, error), color="warning")
        return notice, page.rules_table(services, viewer, language)
    notice = dbc.Alert(t(language, "alerts.added", name=rule.name), color="success")
    return notice, page.rules_table(services, viewer, language)


def toggle_rule(services: Services, stored_language, rule_id: int):
    """(notice, table) after disabling or enabling a rule the viewer may manage."""
    viewer, language = viewer_and_language(services, stored_language)
    with services.engine.begin() as conn:
        rule = alerts.get_rule(conn, rule_id)
        if rule is None or not alerts.visible(rule, page.manage_scope(viewer)):
            # Not theirs (or gone): the same answer either way.
            return (
                dbc.Alert(t(language, "alerts.not_found"), color="warning"),
                page.rules_table(services, viewer, language),
            )
        alerts.set_active(conn, rule.id, not rule.active, utcnow())
    if rule.active:
        notice = t(language, "alerts.disabled_notice", name=rule.name)
    else:
        notice = t(language, "alerts.enabled_notice", name=rule.name)
    return (
        dbc.Alert(notice, color="info"),
        page.rules_table(services, viewer, language),
    )


FORM_FIELDS = {
    "name": ids.ALERT_NAME,
    "channel": ids.ALERT_CHANNEL,
    "subaccounts": ids.ALERT_SUBACCOUNTS,
    "metric": ids.ALERT_METRIC,
    "error_code": ids.ALERT_ERROR_CODE,
    "stuck_minutes": ids.ALERT_STUCK_MINUTES,
    "comparison": ids.ALERT_COMPARISON,
    "threshold": ids.ALERT_THRESHOLD,
    "window": ids.ALERT_WINDOW,
    "min_volume": ids.ALERT_MIN_VOLUME,
    "notify_by": ids.ALERT_NOTIFY_BY,
    "target": ids.ALERT_TARGET,
    "secret": ids.ALERT_SECRET,
}


def register_callbacks(app, services: Services) -> None:
    managed_list.register(
        app,
        notice=ids.ALERTS_NOTICE,
        table=ids.ALERTS_TABLE,
        add_button=ids.ALERT_ADD,
        form_fields=FORM_FIELDS,
        toggle_type=ids.ALERT_TOGGLE,
        row_key="rule",
        add=lambda language, values: add_rule(services, language, values),
        toggle=lambda language, rule_id: toggle_rule(services, language, rule_id),
    )
