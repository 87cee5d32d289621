"""The alerts page: the rules a person may manage (an admin every rule), their state and last
notifications, a switch to disable or enable each, and a form to add one."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import ids
from dashboard.layouts.managed_list import add_button, field, page
from dashboard.services import Services, Viewer
from data_access import alerts
from data_access.filters import AccessScope
from reporting.formatting import format_count, format_datetime, format_pct
from reporting.i18n import N_, t

COLUMNS = ("name", "condition", "scope", "notify", "state", "last_check", "notifications", "action")
METRIC_KEYS = {
    "delivered_pct": N_("alerts.metric.delivered_pct"),
    "error_pct": N_("alerts.metric.error_pct"),
    "error_code_count": N_("alerts.metric.error_code_count"),
    "stuck_sent": N_("alerts.metric.stuck_sent"),
}
STATE_KEYS = {
    "ok": N_("alerts.state.ok"),
    "failing": N_("alerts.state.failing"),
    "disabled": N_("alerts.state.disabled"),
}
KIND_KEYS = {
    "failing": N_("alerts.kind.failing"),
    "recovered": N_("alerts.kind.recovered"),
    "test": N_("alerts.kind.test"),
}
NOTIFY_KEYS = {"email": N_("alerts.notify.email"), "webhook": N_("alerts.notify.webhook")}
COLUMN_KEYS = {
    "name": N_("alerts.column.name"),
    "condition": N_("alerts.column.condition"),
    "scope": N_("alerts.column.scope"),
    "notify": N_("alerts.column.notify"),
    "state": N_("alerts.column.state"),
    "last_check": N_("alerts.column.last_check"),
    "notifications": N_("alerts.column.notifications"),
    "action": N_("alerts.column.action"),
}
STATE_COLORS = {"ok": "success", "failing": "danger", "disabled": "secondary"}


def manage_scope(viewer: Viewer) -> AccessScope | None:
    """The scope whose rules the viewer manages; None for an admin (every rule)."""
    return None if viewer.role == "admin" else viewer.scope


def _measure(rule: alerts.AlertRule, value: float, language: str) -> str:
    if rule.metric in ("delivered_pct", "error_pct"):
        return format_pct(value, language)
    return format_count(value, language)


def condition_text(rule: alerts.AlertRule, language: str) -> str:
    metric = t(language, METRIC_KEYS[rule.metric])
    if rule.metric == "error_code_count":
        metric += f" ({rule.error_code})"
    elif rule.metric == "stuck_sent":
        metric += " " + t(language, "alerts.stuck_after", minutes=rule.stuck_minutes)
    return t(
        language,
        "alerts.condition",
        metric=metric,
        comparison=rule.comparison,
        threshold=_measure(rule, rule.threshold, language),
        window=rule.window_minutes,
        volume=format_count(rule.min_volume, language),
    )


def rules_table(services: Services, viewer: Viewer, language: str) -> list:
    """The table's header and rows."""
    with services.engine.connect() as conn:
        found = alerts.list_rules(conn, manage_scope(viewer))
        sent = alerts.notifications(conn, [rule.id for rule in found])
        names = alerts.subaccount_names(conn, {i for rule in found for i in rule.subaccount_ids})
    head = html.Thead(html.Tr([html.Th(t(language, COLUMN_KEYS[c]), scope="col") for c in COLUMNS]))
    if not found:
        return [
            head,
            html.Tbody(
                html.Tr(
                    html.Td(t(language, "alerts.empty"), colSpan=len(COLUMNS), className="muted")
                )
            ),
        ]
    rows = []
    for rule in found:
        state = rule.state if rule.active else "disabled"
        if rule.last_checked_at is None or rule.last_value is None:
            check = t(language, "alerts.never_checked")
        else:
            check = t(
                language,
                "alerts.last_check",
                value=_measure(rule, rule.last_value, language),
                volume=format_count(rule.last_volume or 0, language),
                at=format_datetime(rule.last_checked_at, language, viewer.timezone),
            )
        notes = [
            html.Li(
                f"{format_datetime(note.at, language, viewer.timezone)} · "
                f"{t(language, KIND_KEYS[note.kind])} · "
                + (
                    t(language, "alerts.delivered")
                    if note.delivered
                    else t(language, "alerts.not_delivered", problem=note.problem or "")
                )
            )
            for note in sent[rule.id]
        ]
        rows.append(
            html.Tr(
                [
                    html.Td(rule.name, className="fw-semibold"),
                    html.Td(
                        [
                            html.Div(t(language, f"channel.{rule.channel}"), className="small"),
                            condition_text(rule, language),
                        ]
                    ),
                    html.Td(", ".join(names.get(i, f"#{i}") for i in rule.subaccount_ids)),
                    html.Td(
                        [
                            html.Div(t(language, NOTIFY_KEYS[rule.notify_by])),
                            html.Div(rule.target, className="small text-break"),
                        ]
                    ),
                    html.Td(dbc.Badge(t(language, STATE_KEYS[state]), color=STATE_COLORS[state])),
                    html.Td(check, className="small"),
                    html.Td(html.Ul(notes, className="small mb-0 ps-3") if notes else "—"),
                    html.Td(
                        dbc.Button(
                            t(language, "alerts.disable")
                            if rule.active
                            else t(language, "alerts.enable"),
                            id=ids.alert_toggle(rule.id),
                            size="sm",
                            color="secondary",
                            outline=True,
                        )
                    ),
                ]
            )
        )
    return [head, html.Tbody(rows)]


def _select(control_id: str, options: list[tuple[str, str]], value: str) -> dbc.Select:
    return dbc.Select(
        id=control_id,
        options=[{"label": text, "value": v} for v, text in options],
        value=value,
    )


def rule_form(services: Services, viewer: Viewer, language: str) -> html.Section:
    with services.engine.connect() as conn:
        names = alerts.subaccount_names(conn, viewer.scope.subaccount_ids)
    choices = sorted(names.items(), key=lambda pair: pair[1].lower())
    return html.Section(
        [
            html.H2(t(language, "alerts.form.title"), className="h5 mt-4"),
            dbc.Row(
                [
                    field(
                        language,
                        N_("alerts.form.name"),
                        dbc.Input(id=ids.ALERT_NAME, type="text", maxLength=200),
                    ),
                    field(
                        language,
                        N_("alerts.form.channel"),
                        _select(
                            ids.ALERT_CHANNEL,
                            [(c, t(language, f"channel.{c}")) for c in alerts.CHANNELS],
                            "whatsapp",
                        ),
                        2,
                    ),
                    dbc.Col(
                        [
                            dbc.Label(
                                t(language, "alerts.form.subaccounts"),
                                html_for=ids.ALERT_SUBACCOUNTS,
                            ),
                            dcc.Dropdown(
                                id=ids.ALERT_SUBACCOUNTS,
                                options=[{"label": name, "value": i} for i, name in choices],
                                multi=True,
                                placeholder=t(language, "alerts.form.subaccounts_all"),
                            ),
                        ],
                        xs=12,
                        md=7,
                    ),
                    field(
                        language,
                        N_("alerts.form.metric"),
                        _select(
                            ids.ALERT_METRIC,
                            [(m, t(language, key)) for m, key in METRIC_KEYS.items()],
                            "delivered_pct",
                        ),
                    ),
                    field(
                        language,
                        N_("alerts.form.error_code"),
                        dbc.Input(id=ids.ALERT_ERROR_CODE, type="text", maxLength=64),
                        2,
                    ),
                    field(
                        language,
                        N_("alerts.form.stuck_minutes"),
                        dbc.Input(id=ids.ALERT_STUCK_MINUTES, type="number", min=1, value=30),
                        2,
                    ),
                    field(
                        language,
                        N_("alerts.form.comparison"),
                        _select(ids.ALERT_COMPARISON, [(c, c) for c in alerts.COMPARISONS], "<"),
                        1,
                    ),
                    field(
                        language,
                        N_("alerts.form.threshold"),
                        dbc.Input(id=ids.ALERT_THRESHOLD, type="number", min=0, value=90),
                        2,
                    ),
                    field(
                        language,
                        N_("alerts.form.window"),
                        dbc.Input(id=ids.ALERT_WINDOW, type="number", min=1, value=60),
                        2,
                    ),
                    field(
                        language,
                        N_("alerts.form.min_volume"),
                        dbc.Input(id=ids.ALERT_MIN_VOLUME, type="number", min=0, value=100),
                        2,
                    ),
                    field(
                        language,
                        N_("alerts.form.notify_by"),
                        _select(
                            ids.ALERT_NOTIFY_BY,
                            [(k, t(language, key)) for k, key in NOTIFY_KEYS.items()],
                            "email",
                        ),
                        2,
                    ),
                    field(
                        language,
                        N_("alerts.form.target"),
                        dbc.Input(id=ids.ALERT_TARGET, type="text", maxLength=500),
                        4,
                    ),
                    field(
                        language,
                        N_("alerts.form.secret"),
                        dbc.Input(id=ids.ALERT_SECRET, type="password", maxLength=128),
                        3,
                    ),
                    add_button(language, N_("alerts.form.add"), ids.ALERT_ADD),
                ],
                className="g-2",
            ),
        ]
    )


def layout(services: Services, viewer: Viewer, language: str) -> html.Div:
    return page(
        language,
        N_("alerts.title"),
        N_("alerts.intro"),
        ids.ALERTS_NOTICE,
        ids.ALERTS_TABLE,
        rules_table(services, viewer, language),
        rule_form(services, viewer, language),
    )
