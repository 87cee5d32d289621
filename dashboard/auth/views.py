"""The sign-in, two-step, sign-out and profile pages: read the form, call the account flows
(data_access.accounts.service), render a template or redirect."""

from __future__ import annotations

import hmac
import secrets
from functools import cache
from typing import cast
from urllib.parse import quote
from zoneinfo import available_timezones

import pyotp
import segno
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
)
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from dashboard import auth, ids
from data_access import accounts
from data_access.accounts.service import Outcome, Result
from data_access.tables import subaccounts
from reporting.i18n import t
from reporting.languages import LANGUAGE_NAMES, LANGUAGES, normalize_language

blueprint = Blueprint("auth", __name__, template_folder="templates")

# The session key of the language the dashboard showed when its profile link was followed.
PROFILE_LANGUAGE_KEY = "profile_lang"


def _pages() -> auth.AuthPages:
    return current_app.extensions["auth"]


# ---- helpers ----


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok() -> bool:
    expected = session.get("csrf")
    sent = request.form.get("csrf_token", "")
    return bool(expected) and hmac.compare_digest(str(sent).encode(), str(expected).encode())


def client_address() -> str:
    return request.remote_addr or "unknown"


def page_language() -> str:
    if current_user.is_authenticated:
        return normalize_language(current_user.account.language)
    chosen = request.args.get("lang")
    if chosen:
        session["lang"] = normalize_language(chosen)
    if session.get("lang"):
        return normalize_language(session["lang"])
    best = request.accept_languages.best_match([*LANGUAGES, "pt"])
    return normalize_language(best)


def profile_language(account: accounts.Account) -> str:
    """The language the dashboard shows, which its profile link passes as `lang`, else the
    account's. The choice is kept in the session with the account's language of its moment,
    so a later change of language in the profile wins, as on the dashboard."""
    chosen = request.args.get("lang")
    if chosen:
        session[PROFILE_LANGUAGE_KEY] = {
            "language": normalize_language(chosen),
            "profile": account.language,
        }
    kept = session.get(PROFILE_LANGUAGE_KEY)
    if isinstance(kept, dict) and kept.get("profile") == account.language:
        return normalize_language(kept.get("language"))
    return normalize_language(account.language)


def render(
    template: str,
    language: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: object,
) -> Response:
    """One page in the language, in the frame shared by all of them."""
    language = normalize_language(language)

    def tr(key: str, **params: object) -> str:
        return t(language, key, **params)

    values: dict[str, object] = {
        "language": language,
        "tr": tr,
        "ids": ids,
        "product": t(language, "app.title"),
        "stylesheets": _pages().stylesheets(),
        "csrf_token": csrf_token(),
        "error_id": ids.LOGIN_ERROR,
        "messages": [],
    }
    values.update(context)
    body = render_template(f"auth/{template}", **values)
    return Response(body, status=status, mimetype="text/html", headers=headers)


def throttled_text(language: str, outcome: Outcome) -> str:
    return t(language, "sign_in.throttled", minutes=outcome.retry_minutes)


def login_form(
    language: str,
    next_path: str,
    status: int = 200,
    username: str = "",
    messages: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    action = auth.LOGIN_PATH + (f"?next={quote(next_path, safe='/')}" if next_path != "/" else "")
    return render(
        "login.html",
        language,
        status,
        headers,
        action=action,
        username=username,
        messages=messages or [],
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        language_label=t(language, "shell.language"),
        next_query=f"&next={quote(next_path, safe='/')}" if next_path != "/" else "",
    )


def signed_in(outcome: Outcome, next_path: str) -> BaseResponse:
    """Start the browser's session of a flow that opened one."""
    assert outcome.account is not None and outcome.token is not None
    # A fresh session: nothing set before sign-in (a pending step, an old token) survives.
    session.clear()
    login_user(auth.SignedInUser(outcome.account, outcome.token))
    session.permanent = True
    return redirect(next_path)


# ---- views ----


@blueprint.route(auth.LOGIN_PATH, methods=["GET", "POST"])
def login() -> BaseResponse:
    language = page_language()
    next_path = auth.safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_path)
    if request.method == "GET":
        messages = []
        if request.args.get("signed_out"):
            messages.append(("info", t(language, "sign_in.signed_out")))
        return login_form(language, next_path, messages=messages)

    username = (request.form.get("username") or "").strip()[:200]
    password = request.form.get("password") or ""
    if not csrf_ok():
        error = [("error", t(language, "sign_in.form_expired"))]
        return login_form(language, next_path, 400, username, error)
    moment = auth.now()
    outcome = _pages().accounts.sign_in(username, password, client_address(), moment)
    if outcome.result is Result.THROTTLED:
        error = [("error", throttled_text(language, outcome))]
        retry = {"Retry-After": str(outcome.retry_seconds)}
        return login_form(language, next_path, 429, username, error, retry)
    if outcome.result is Result.BAD_CREDENTIALS:
        error = [("error", t(language, "sign_in.bad_credentials"))]
        # 200: the form again with its message (401 would need a WWW-Authenticate scheme).
        return login_form(language, next_path, 200, username, error)
    if outcome.result is Result.DISABLED:
        error = [("error", t(language, "sign_in.disabled"))]
        return login_form(language, next_path, 403, username, error)
    if outcome.result is Result.NEEDS_CODE:
        assert outcome.account is not None
        session["totp_pending"] = {
            "user": outcome.account.id,
            "at": moment.timestamp(),
            "next": next_path,
        }
        return redirect(auth.TOTP_PATH)
    return signed_in(outcome, next_path)


@blueprint.route(auth.TOTP_PATH, methods=["GET", "POST"])
def totp() -> BaseResponse:
    language = page_language()
    if current_user.is_authenticated:
        return redirect("/")
    pending = session.get("totp_pending")
    moment = auth.now()
    if not pending or moment.timestamp() - float(pending["at"]) > auth.TOTP_PENDING_SECONDS:
        session.pop("totp_pending", None)
        if request.method == "GET" and not pending:
            return redirect(auth.LOGIN_PATH)
        return login_form(language, "/", 200, messages=[("error", t(language, "totp.expired"))])
    account = _pages().accounts.pending_account(int(pending["user"]))
    if account is None:
        session.pop("totp_pending", None)
        return redirect(auth.LOGIN_PATH)

    def form(
        status: int = 200, error: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        messages = [("error", error)] if error else []
        return render(
            "totp.html", language, status, headers, action=auth.TOTP_PATH, messages=messages
        )

    if request.method == "GET":
        return form()
    if not csrf_ok():
        return form(400, t(language, "sign_in.form_expired"))
    code = request.form.get("code", "")
    outcome = _pages().accounts.verify_code(account, code, client_address(), moment)
    if outcome.result is Result.THROTTLED:
        retry = {"Retry-After": str(outcome.retry_seconds)}
        return form(429, throttled_text(language, outcome), retry)
    if outcome.ok:
        return signed_in(outcome, auth.safe_next(pending.get("next")))
    return form(200, t(language, "totp.bad_code"))


@blueprint.route(auth.LOGOUT_PATH, methods=["GET", "POST"])
def logout() -> BaseResponse:
    if not current_user.is_authenticated:
        return redirect(auth.LOGIN_PATH)
    language = page_language()
    if request.method == "GET" or not csrf_ok():
        status = 200 if request.method == "GET" else 400
        return render("sign_out.html", language, status, action=auth.LOGOUT_PATH)
    _pages().accounts.sign_out(current_user.token)
    logout_user()
    session.clear()
    session["lang"] = language
    return redirect(f"{auth.LOGIN_PATH}?signed_out=1")


@cache
def timezone_choices() -> tuple[str, ...]:
    """IANA zones people pick from (Area/City names and UTC), sorted."""
    zones = {
        z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
    }
    return tuple(sorted(zones | {"UTC"}))


@blueprint.route(auth.PROFILE_PATH, methods=["GET", "POST"])
def profile() -> BaseResponse:
    user: auth.SignedInUser = current_user  # the gate lets only signed-in users through
    account = user.account
    language = profile_language(account)
    if request.method == "POST":
        if not csrf_ok():
            flash(t(language, "sign_in.form_expired"), "error")
        else:
            profile_action(user, request.form.get("action", ""), language)
        return redirect(auth.PROFILE_PATH)

    setup = session.get("totp_setup")
    if setup and auth.now().timestamp() - float(setup["at"]) > auth.TOTP_SETUP_SECONDS:
        session.pop("totp_setup", None)
        setup = None
    qr_svg = None
    if setup:
        uri = pyotp.TOTP(setup["secret"]).provisioning_uri(
            name=account.username, issuer_name=auth.TOTP_ISSUER
        )
        qr_svg = segno.make(uri, error="m").svg_inline(omitsize=True, border=4, light="#fff")
    if account.role == "admin":
        subaccount_text = t(language, "profile.all_subaccounts")
    else:
        with _pages().engine.connect() as conn:
            names = list(
                conn.execute(
                    subaccounts.select()
                    .with_only_columns(subaccounts.c.name)
                    .where(subaccounts.c.id.in_(user.scope_ids))
                    .order_by(subaccounts.c.name)
                ).scalars()
            )
        subaccount_text = ", ".join(names) if names else t(language, "profile.no_subaccounts")
    timezone = account.timezone or _pages().settings.account_timezone
    zones = timezone_choices()
    if timezone not in zones:
        zones = tuple(sorted((*zones, timezone)))
    return render(
        "profile.html",
        language,
        account=account,
        role=t(language, f"role.{account.role}"),
        subaccounts=subaccount_text,
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        saved_language=normalize_language(account.language),
        timezones=zones,
        timezone=timezone,
        action=auth.PROFILE_PATH,
        logout_action=auth.LOGOUT_PATH,
        # with_categories=True gives (category, text) pairs; Flask's annotation covers both forms.
        messages=[
            (kind if kind in ("error", "info") else "info", text)
            for kind, text in cast(
                list[tuple[str, str]], get_flashed_messages(with_categories=True)
            )
        ],
        setup_qr=Markup(qr_svg) if qr_svg else None,
        setup_key=setup["secret"] if setup else None,
        minimum=accounts.PASSWORD_MIN_LENGTH,
        maximum=accounts.PASSWORD_MAX_LENGTH,
    )


def profile_action(user: auth.SignedInUser, action: str, language: str) -> None:
    """Carry out one profile form and flash its outcome in the page's language."""
    account = user.account
    flows = _pages().accounts
    form = request.form
    address = client_address()
    if action == "preferences":
        chosen = form.get("language", "")
        if chosen not in LANGUAGES:
            flash(t(language, "profile.bad_language"), "error")
            return
        outcome = flows.save_preferences(account, chosen, form.get("timezone", "")[:64], address)
        if outcome.ok:
            flash(t(chosen, "profile.saved"), "info")
        else:
            flash(t(language, "profile.bad_timezone"), "error")
        return
    if action == "totp-start":
        session["totp_setup"] = {"secret": pyotp.random_base32(), "at": auth.now().timestamp()}
        return
    if action == "totp-cancel":
        session.pop("totp_setup", None)
        return
    if action == "totp-confirm":
        setup = session.get("totp_setup")
        moment = auth.now()
        if not setup or moment.timestamp() - float(setup["at"]) > auth.TOTP_SETUP_SECONDS:
            session.pop("totp_setup", None)
            flash(t(language, "twostep.setup_expired"), "error")
            return
        outcome = flows.turn_on_two_step(
            account, setup["secret"], form.get("code", ""), address, moment
        )
        if not outcome.ok:
            flash(t(language, "totp.bad_code"), "error")
            return
        session.pop("totp_setup", None)
        flash(t(language, "twostep.enabled"), "info")
        return
    if action == "totp-disable":
        outcome = flows.turn_off_two_step(account, form.get("current", ""), address, auth.now())
        if outcome.ok:
            flash(t(language, "twostep.disabled"), "info")
        else:
            flash(_refusal(language, outcome), "error")
        return
    if action == "password":
        outcome = flows.change_password(
            account,
            form.get("current", ""),
            form.get("new", ""),
            form.get("confirm", ""),
            address,
            auth.now(),
        )
        if not outcome.ok:
            flash(_refusal(language, outcome), "error")
            return
        assert outcome.account is not None and outcome.token is not None
        # Every session of the account ended with the new password; this browser gets a new one.
        login_user(auth.SignedInUser(outcome.account, outcome.token, user.scope_ids))
        session.permanent = True
        flash(t(language, "password.changed"), "info")
        return
    flash(t(language, "sign_in.form_expired"), "error")


def _refusal(language: str, outcome: Outcome) -> str:
    """The words of a password flow that did not go through."""
    if outcome.result is Result.THROTTLED:
        return throttled_text(language, outcome)
    if outcome.result is Result.WRONG_CURRENT:
        return t(language, "password.wrong_current")
    if outcome.result is Result.MISMATCH:
        return t(language, "password.mismatch")
    return t(language, f"password.{outcome.code}", **outcome.params)
