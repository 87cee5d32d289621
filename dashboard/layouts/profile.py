"""The profile page: language, time zone, password and two-step verification of a user."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from markupsafe import Markup

from dashboard.layouts.login import render_page, tr
from data_access.accounts import Account
from reporting.i18n import t as dashboard_text
from reporting.languages import LANGUAGE_NAMES, LANGUAGES, normalize_language

PROFILE = """<div class="auth-card">
<a class="auth-brand" href="/">{{ product }}</a>
<h1>{{ tr('profile.title') }}</h1>
{% for kind, text in messages %}<div class="auth-alert {{ kind }}" role="{{ 'alert' if kind == 'error' else 'status' }}">{{ text }}</div>
{% endfor %}<dl class="auth-facts">
<dt>{{ tr('profile.username') }}</dt><dd>{{ account.username }}{% if account.display_name %} ({{ account.display_name }}){% endif %}</dd>
<dt>{{ tr('profile.role') }}</dt><dd>{{ role }}</dd>
<dt>{{ tr('profile.subaccounts') }}</dt><dd>{{ subaccounts }}</dd>
</dl>
<p><a href="/">{{ tr('back') }}</a></p>
</div>

<div class="auth-card">
<h2>{{ tr('profile.preferences') }}</h2>
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="action" value="preferences">
<div class="auth-field">
<label for="{{ ids.PROFILE_LANGUAGE }}">{{ tr('profile.language') }}</label>
<select id="{{ ids.PROFILE_LANGUAGE }}" name="language">
{% for code, name in languages %}<option value="{{ code }}"{% if code == saved_language %} selected{% endif %}>{{ name }}</option>
{% endfor %}</select>
</div>
<div class="auth-field">
<label for="{{ ids.PROFILE_TIMEZONE }}">{{ tr('profile.timezone') }}</label>
<select id="{{ ids.PROFILE_TIMEZONE }}" name="timezone">
{% for zone in timezones %}<option{% if zone == timezone %} selected{% endif %}>{{ zone }}</option>
{% endfor %}</select>
</div>
<button id="{{ ids.PROFILE_SAVE }}" class="auth-button" type="submit">{{ tr('profile.save') }}</button>
</form>
</div>

<div class="auth-card">
<h2>{{ tr('password.title') }}</h2>
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="action" value="password">
<input type="text" name="username" value="{{ account.username }}" autocomplete="username" hidden>
<div class="auth-field">
<label for="{{ ids.PASSWORD_CURRENT }}">{{ tr('password.current') }}</label>
<input id="{{ ids.PASSWORD_CURRENT }}" name="current" type="password" autocomplete="current-password" required maxlength="1024">
</div>
<div class="auth-field">
<label for="{{ ids.PASSWORD_NEW }}">{{ tr('password.new') }}</label>
<input id="{{ ids.PASSWORD_NEW }}" name="new" type="password" autocomplete="new-password" required minlength="{{ minimum }}" maxlength="{{ maximum }}">
</div>
<div class="auth-field">
<label for="{{ ids.PASSWORD_CONFIRM }}">{{ tr('password.confirm') }}</label>
<input id="{{ ids.PASSWORD_CONFIRM }}" name="confirm" type="password" autocomplete="new-password" required maxlength="{{ maximum }}">
</div>
<button id="{{ ids.PASSWORD_SUBMIT }}" class="auth-button" type="submit">{{ tr('password.submit') }}</button>
</form>
</div>

<div class="auth-card">
<h2>{{ tr('twostep.title') }}</h2>
{% if setup_qr %}
<p>{{ tr('twostep.scan') }}</p>
<div class="auth-qr">{{ setup_qr }}</div>
<p>{{ tr('twostep.key') }}: <span class="auth-key">{{ setup_key }}</span></p>
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="action" value="totp-confirm">
<div class="auth-field">
<label for="{{ ids.TOTP_SETUP_CODE }}">{{ tr('totp.code') }}</label>
<input id="{{ ids.TOTP_SETUP_CODE }}" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="12" required>
</div>
<button class="auth-button" type="submit">{{ tr('twostep.confirm') }}</button>
<button class="auth-button secondary" type="submit" name="action" value="totp-cancel" formnovalidate>{{ tr('twostep.cancel') }}</button>
</form>
{% elif account.totp_enabled %}
<p>{{ tr('twostep.on') }}</p>
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="action" value="totp-disable">
<input type="text" name="username" value="{{ account.username }}" autocomplete="username" hidden>
<div class="auth-field">
<label for="totp-disable-password">{{ tr('twostep.disable_prompt') }}</label>
<input id="totp-disable-password" name="current" type="password" autocomplete="current-password" required maxlength="1024">
</div>
<button class="auth-button secondary" type="submit">{{ tr('twostep.disable') }}</button>
</form>
{% else %}
<p>{{ tr('twostep.off') }}</p>
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<input type="hidden" name="action" value="totp-start">
<button class="auth-button" type="submit">{{ tr('twostep.start') }}</button>
</form>
{% endif %}
</div>

<div class="auth-card">
<form method="post" action="{{ logout_action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button id="{{ ids.LOGOUT_SUBMIT }}" class="auth-button secondary" type="submit">{{ tr('sign_out.submit') }}</button>
</form>
</div>
"""  # noqa: E501


@cache
def timezone_choices() -> tuple[str, ...]:
    """IANA zones people pick from (Area/City names and UTC), sorted."""
    zones = {
        z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
    }
    return tuple(sorted(zones | {"UTC"}))


def profile_page(
    *,
    account: Account,
    language: str,
    timezone: str,
    subaccount_names: list[str] | None,
    stylesheets: list[str],
    csrf_token: str,
    action: str,
    logout_action: str,
    messages: list[tuple[str, str]],
    setup_qr_svg: str | None = None,
    setup_key: str | None = None,
    password_minimum: int,
    password_maximum: int,
) -> str:
    """The page in `language` (the one the dashboard shows); the language choice offers the
    account's saved one. `subaccount_names` None means every subaccount (an admin)."""
    if subaccount_names is None:
        subaccounts = tr(language, "profile.all_subaccounts")
    elif subaccount_names:
        subaccounts = ", ".join(subaccount_names)
    else:
        subaccounts = tr(language, "profile.no_subaccounts")
    zones = timezone_choices()
    if timezone not in zones:
        zones = tuple(sorted((*zones, timezone)))
    return render_page(
        PROFILE,
        language=language,
        title_key="profile.title",
        stylesheets=stylesheets,
        account=account,
        role=dashboard_text(language, f"role.{account.role}"),
        subaccounts=subaccounts,
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        saved_language=normalize_language(account.language),
        timezones=zones,
        timezone=timezone,
        csrf_token=csrf_token,
        action=action,
        logout_action=logout_action,
        messages=messages,
        setup_qr=Markup(setup_qr_svg) if setup_qr_svg else None,
        setup_key=setup_key,
        minimum=password_minimum,
        maximum=password_maximum,
    )
