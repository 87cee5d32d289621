"""The sign-in pages (plain server-rendered HTML): their words, frame and forms."""

from __future__ import annotations

from urllib.parse import quote

from flask import render_template_string
from markupsafe import Markup

from dashboard import ids
from reporting.i18n import t as dashboard_text
from reporting.languages import LANGUAGE_NAMES, LANGUAGES, normalize_language


def tr(language: str, key: str, **params: object) -> str:
    """The sign-in pages' text of `key` in the language, parameters filled in."""
    return dashboard_text(language, key, **params)


BASE = """<!doctype html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ product }}</title>
{% for href in stylesheets %}<link rel="stylesheet" href="{{ href }}">
{% endfor %}<style>
body { background: #f4f6f8; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2933; margin: 0; }
.auth-main { max-width: 34rem; margin: 3rem auto; padding: 0 1rem; }
.auth-card { background: #fff; border: 1px solid #d9dee3; border-radius: .5rem; padding: 1.5rem;
             margin-bottom: 1rem; }
.auth-card h1 { font-size: 1.4rem; margin: 0 0 1rem; }
.auth-card h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
.auth-brand { font-weight: 600; margin-bottom: 1rem; display: block; color: inherit;
              text-decoration: none; }
.auth-field { margin-bottom: .9rem; }
.auth-field label { display: block; font-weight: 500; margin-bottom: .25rem; }
.auth-field input, .auth-field select { width: 100%; box-sizing: border-box; padding: .45rem .6rem;
             border: 1px solid #adb5bd; border-radius: .375rem; font-size: 1rem; }
.auth-button { background: #0b5cad; color: #fff; border: 0; border-radius: .375rem;
               padding: .5rem 1rem; font-size: 1rem; cursor: pointer; }
.auth-button.secondary { background: #5c6670; }
.auth-button:focus-visible, .auth-field input:focus-visible, a:focus-visible {
               outline: 3px solid #f0a202; outline-offset: 2px; }
.auth-alert { border-radius: .375rem; padding: .6rem .8rem; margin-bottom: 1rem; }
.auth-alert.error { background: #fdecea; border: 1px solid #b3261e; color: #7a1b14; }
.auth-alert.info { background: #e8f1fb; border: 1px solid #0b5cad; color: #0a3d73; }
.auth-muted { color: #5c6670; }
.auth-languages { margin-top: 1rem; font-size: .9rem; }
.auth-languages a, .auth-link { margin-right: .75rem; margin-left: .75rem; }
.auth-qr svg { width: 12rem; height: 12rem; }
.auth-key { font-family: ui-monospace, monospace; word-break: break-all; }
dl.auth-facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dl.auth-facts dt { font-weight: 500; }
dl.auth-facts dd { margin: 0; }
</style>
</head>
<body>
<main class="auth-main">
{{ body }}
</main>
</body>
</html>
"""

_MESSAGES = """{% for kind, text in messages %}<div class="auth-alert {{ kind }}" role="{{ 'alert' if kind == 'error' else 'status' }}"{% if kind == 'error' %} id="{{ error_id }}"{% endif %}>{{ text }}</div>
{% endfor %}"""  # noqa: E501

LOGIN = (
    """<div class="auth-card">
<span class="auth-brand">{{ product }}</span>
<h1>{{ tr('sign_in.title') }}</h1>
"""
    + _MESSAGES
    + """<form method="post" action="{{ action }}" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<div class="auth-field">
<label for="{{ ids.LOGIN_USERNAME }}">{{ tr('sign_in.username') }}</label>
<input id="{{ ids.LOGIN_USERNAME }}" name="username" type="text" autocomplete="username"
       autocapitalize="none" spellcheck="false" required maxlength="200" value="{{ username }}"
       {% if not username %}autofocus{% endif %}>
</div>
<div class="auth-field">
<label for="{{ ids.LOGIN_PASSWORD }}">{{ tr('sign_in.password') }}</label>
<input id="{{ ids.LOGIN_PASSWORD }}" name="password" type="password"
       autocomplete="current-password" required maxlength="1024"
       {% if username %}autofocus{% endif %}>
</div>
<button id="{{ ids.LOGIN_SUBMIT }}" class="auth-button" type="submit">
{{ tr('sign_in.submit') }}</button>
</form>
<nav class="auth-languages" aria-label="{{ language_label }}">
{% for code, name in languages %}<a href="?lang={{ code }}{{ next_query }}" lang="{{ code }}"
{% if code == language %}aria-current="true"{% endif %}>{{ name }}</a>{% endfor %}
</nav>
</div>
"""
)

TOTP = (
    """<div class="auth-card">
<span class="auth-brand">{{ product }}</span>
<h1>{{ tr('totp.title') }}</h1>
"""
    + _MESSAGES
    + """<p class="auth-muted">{{ tr('totp.prompt') }}</p>
<form method="post" action="{{ action }}" novalidate>
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<div class="auth-field">
<label for="{{ ids.LOGIN_TOTP }}">{{ tr('totp.code') }}</label>
<input id="{{ ids.LOGIN_TOTP }}" name="code" type="text" inputmode="numeric"
       autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="12" required autofocus>
</div>
<button id="{{ ids.LOGIN_TOTP_SUBMIT }}" class="auth-button" type="submit">
{{ tr('totp.submit') }}</button>
</form>
</div>
"""
)

SIGN_OUT = """<div class="auth-card">
<span class="auth-brand">{{ product }}</span>
<h1>{{ tr('sign_out.title') }}</h1>
<p>{{ tr('sign_out.prompt') }}</p>
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button id="{{ ids.LOGOUT_SUBMIT }}" class="auth-button" type="submit">{{ tr('sign_out.submit') }}</button>
<a href="/" class="auth-link">{{ tr('back') }}</a>
</form>
</div>
"""  # noqa: E501


def render_page(
    template: str, *, language: str, title_key: str, stylesheets: list[str], **context
) -> str:
    """One sign-in page in the frame shared by all of them."""
    language = normalize_language(language)

    def translate(key: str, **params: object) -> str:
        return tr(language, key, **params)

    common = dict(
        language=language,
        tr=translate,
        ids=ids,
        product=dashboard_text(language, "app.title"),
        error_id=ids.LOGIN_ERROR,
        messages=[],
    )
    common.update(context)
    body = render_template_string(template, **common)
    return render_template_string(
        BASE,
        language=language,
        title=translate(title_key),
        product=common["product"],
        stylesheets=stylesheets,
        body=Markup(body),
    )


def login_page(
    *,
    language: str,
    stylesheets: list[str],
    csrf_token: str,
    action: str,
    username: str = "",
    messages: list[tuple[str, str]] | None = None,
    next_path: str | None = None,
) -> str:
    return render_page(
        LOGIN,
        language=language,
        title_key="sign_in.title",
        stylesheets=stylesheets,
        csrf_token=csrf_token,
        action=action,
        username=username,
        messages=messages or [],
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        language_label=dashboard_text(language, "shell.language"),
        next_query=f"&next={quote(next_path, safe='/')}" if next_path else "",
    )


def totp_page(
    *,
    language: str,
    stylesheets: list[str],
    csrf_token: str,
    action: str,
    messages: list[tuple[str, str]] | None = None,
) -> str:
    return render_page(
        TOTP,
        language=language,
        title_key="totp.title",
        stylesheets=stylesheets,
        csrf_token=csrf_token,
        action=action,
        messages=messages or [],
    )


def sign_out_page(*, language: str, stylesheets: list[str], csrf_token: str, action: str) -> str:
    return render_page(
        SIGN_OUT,
        language=language,
        title_key="sign_out.title",
        stylesheets=stylesheets,
        csrf_token=csrf_token,
        action=action,
    )
