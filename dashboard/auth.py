"""Sign-in: the Flask-Login session, the gate in front of every page and callback, the login,
two-step, logout and profile routes, and throttling of failed attempts."""

from __future__ import annotations

import hmac
import math
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import dash
import pyotp
import segno
from flask import Response, flash, get_flashed_messages, redirect, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from pyotp.utils import strings_equal
from werkzeug.middleware.proxy_fix import ProxyFix

from clock import utcnow as now
from config import resolve_secret_key
from dashboard.layouts.login import login_page, sign_out_page, totp_page, tr
from dashboard.layouts.profile import profile_page
from dashboard.request_guard import install_request_guards
from dashboard.security import error_response, install_security, wants_json
from dashboard.services import Services
from dashboard.session_cache import ResolvedSession, SessionCache
from data_access import accounts, audit
from data_access.tables import subaccounts
from reporting.languages import LANGUAGES, normalize_language

LOGIN_PATH = "/login"
TOTP_PATH = "/login/verify"
LOGOUT_PATH = "/logout"
PROFILE_PATH = "/profile"
# The session key of the language the dashboard showed when its profile link was followed.
PROFILE_LANGUAGE_KEY = "profile_lang"

# Reachable without a session: the sign-in pages, static files, and the machine interfaces,
# which authenticate each request with an API key or a webhook signature of their own.
PUBLIC_PATHS = frozenset({LOGIN_PATH, TOTP_PATH, LOGOUT_PATH, "/_favicon.ico"})
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/api/v1/", "/webhooks/")

SESSION_COOKIE = "reports_session"
TOTP_ISSUER = "Delivery reports"
TOTP_PENDING_SECONDS = 300
TOTP_SETUP_SECONDS = 900
_CODE = re.compile(r"\d{6}")


class SignedInUser(UserMixin):
    """The session's user for one request: the account, its session token and the
    subaccounts it may see."""

    def __init__(
        self,
        account: accounts.Account,
        token: str,
        scope_ids: Sequence[int] | None = (),
        every_subaccount: Callable[[], list[int]] = list,
    ) -> None:
        self.account = account
        self.token = token
        self._scope_ids = None if scope_ids is None else list(scope_ids)
        self._every_subaccount = every_subaccount

    @property
    def scope_ids(self) -> list[int]:
        """The granted subaccounts; for an admin every subaccount, read once per request when
        first asked, so one a load has just added is seen at once."""
        if self._scope_ids is None:
            self._scope_ids = self._every_subaccount()
        return self._scope_ids

    def get_id(self) -> str:
        return f"{self.account.id}:{self.token}"

    @property
    def is_active(self) -> bool:
        return self.account.can_sign_in


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything else (another site) becomes "/"."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if (
        not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or parts.scheme
        or parts.netloc
        or len(value) > 2000
        or parts.path in PUBLIC_PATHS
    ):
        return "/"
    return value


def _verify_code(secret: str, code: str, moment: datetime) -> int | None:
    """The time step the code belongs to (this one or a neighbour, for clock drift), or None."""
    code = re.sub(r"\s", "", code or "")
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(moment.replace(tzinfo=UTC))
    for step in (current - 1, current, current + 1):
        if strings_equal(code, totp.generate_otp(step)):
            return step
    return None


def install_auth(app: dash.Dash, services: Services) -> None:
    """Put sign-in in front of the whole app and add the sign-in and profile pages."""
    settings = services.settings
    engine = services.engine
    server = app.server
    server.secret_key = resolve_secret_key(settings)
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
    )
    if settings.trusted_proxies:
        count = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=count, x_proto=count, x_host=count)

    manager = LoginManager()
    manager.init_app(server)
    manager.session_protection = "basic"

    sessions = SessionCache(engine)

    def _lookup(user_id: int, token: str, moment: datetime) -> ResolvedSession | None:
        with engine.connect() as conn:
            account = accounts.session_account(conn, user_id, token, moment)
            if account is None:
                return None
            if account.role == "admin":
                return ResolvedSession(account, None)
            return ResolvedSession(account, tuple(accounts.scope_ids(conn, account)))

    def every_subaccount() -> list[int]:
        with engine.connect() as conn:
            return accounts.every_subaccount_id(conn)

    @manager.user_loader
    def _load_user(session_id: str) -> SignedInUser | None:
        user_id, _, token = str(session_id).partition(":")
        if not user_id.isdigit() or not token:
            return None
        # Read from the store, or reused for a few seconds (session_cache.py): signing out, a
        # new password or a disabled account ends the session at its next request, copies of
        # the cookie too, because those changes drop the reused sessions.
        resolved = sessions.resolve(int(user_id), token, now(), _lookup)
        if resolved is None:
            return None
        return SignedInUser(resolved.account, token, resolved.scope_ids, every_subaccount)

    @server.before_request
    def _require_sign_in():
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        if current_user.is_authenticated:
            return None
        if wants_json():
            return error_response(401)
        query = request.query_string.decode("utf-8", "replace")
        target = path + ("?" + query if query else "")
        return redirect(f"{LOGIN_PATH}?next={quote(target, safe='/')}")

    pages = _Pages(app, services)
    server.add_url_rule(LOGIN_PATH, "auth_login", pages.login, methods=["GET", "POST"])
    server.add_url_rule(TOTP_PATH, "auth_totp", pages.totp, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "auth_logout", pages.logout, methods=["GET", "POST"])
    server.add_url_rule(PROFILE_PATH, "auth_profile", pages.profile, methods=["GET", "POST"])
    install_security(app, settings)
    install_request_guards(app)


class _Pages:
    """The views of the sign-in and profile pages."""

    def __init__(self, app: dash.Dash, services: Services) -> None:
        self.app = app
        self.engine = services.engine
        self.settings = services.settings

    # ---- helpers ----

    def stylesheets(self) -> list[str]:
        """The dashboard's own stylesheets, so the sign-in pages look like the rest."""
        urls = []
        for item in self.app.config.external_stylesheets or ():
            href = item.get("href") if isinstance(item, dict) else item
            if href:
                urls.append(str(href))
        assets = Path(self.app.config.assets_folder)
        if assets.is_dir():
            for css in sorted(assets.rglob("*.css")):
                urls.append(self.app.get_asset_url(css.relative_to(assets).as_posix()))
        return urls

    @staticmethod
    def csrf_token() -> str:
        token = session.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            session["csrf"] = token
        return token

    @staticmethod
    def csrf_ok() -> bool:
        expected = session.get("csrf")
        sent = request.form.get("csrf_token", "")
        return bool(expected) and hmac.compare_digest(str(sent).encode(), str(expected).encode())

    @staticmethod
    def client_address() -> str:
        return request.remote_addr or "unknown"

    @staticmethod
    def language() -> str:
        if current_user.is_authenticated:
            return normalize_language(current_user.account.language)
        chosen = request.args.get("lang")
        if chosen:
            session["lang"] = normalize_language(chosen)
        if session.get("lang"):
            return normalize_language(session["lang"])
        best = request.accept_languages.best_match([*LANGUAGES, "pt"])
        return normalize_language(best)

    @staticmethod
    def profile_language(account: accounts.Account) -> str:
        """The language the dashboard shows, which its profile link passes as `lang`, else the
        account's. The choice is kept in the session with the account's language of its
        moment, so a later change of language in the profile wins, as on the dashboard."""
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

    @staticmethod
    def html(body: str, status: int = 200, headers: dict | None = None) -> Response:
        return Response(body, status=status, mimetype="text/html", headers=headers)

    def throttled(self, language: str, until: datetime | None, moment: datetime) -> tuple[str, int]:
        seconds = max(1, math.ceil(((until or moment) - moment).total_seconds()))
        return tr(language, "sign_in.throttled", minutes=math.ceil(seconds / 60)), seconds

    def login_form(
        self,
        language: str,
        next_path: str,
        status: int = 200,
        username: str = "",
        messages: list[tuple[str, str]] | None = None,
        headers: dict | None = None,
    ) -> Response:
        action = LOGIN_PATH + (f"?next={quote(next_path, safe='/')}" if next_path != "/" else "")
        body = login_page(
            language=language,
            stylesheets=self.stylesheets(),
            csrf_token=self.csrf_token(),
            action=action,
            username=username,
            messages=messages,
            next_path=next_path if next_path != "/" else None,
        )
        return self.html(body, status, headers)

    def lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.session_hours)

    def audit(self, conn, actor: str, action: str, detail: str = "") -> None:
        """One audit row for this request, from its client address, in the caller's transaction."""
        audit.record(conn, actor=actor, action=action, detail=detail, address=self.client_address())

    def failed(self, actor: str, detail: str) -> None:
        with self.engine.begin() as conn:
            self.audit(conn, actor, audit.SIGN_IN_FAILED, detail)

    def complete_sign_in(self, account: accounts.Account, next_path: str, how: str) -> Response:
        accounts.clear_failures(self.engine, account.username)
        with self.engine.begin() as conn:
            token = accounts.open_session(conn, account.id, now(), self.lifetime())
            self.audit(conn, account.username, audit.SIGN_IN, how)
        # A fresh session: nothing set before sign-in (a pending step, an old token) survives.
        session.clear()
        login_user(SignedInUser(account, token))
        session.permanent = True
        return redirect(next_path)

    # ---- views ----

    def login(self) -> Response:
        language = self.language()
        next_path = safe_next(request.args.get("next"))
        if current_user.is_authenticated:
            return redirect(next_path)
        if request.method == "GET":
            messages = []
            if request.args.get("signed_out"):
                messages.append(("info", tr(language, "sign_in.signed_out")))
            return self.login_form(language, next_path, messages=messages)

        username = (request.form.get("username") or "").strip()[:200]
        password = request.form.get("password") or ""
        if not self.csrf_ok():
            error = [("error", tr(language, "sign_in.form_expired"))]
            return self.login_form(language, next_path, 400, username, error)
        moment = now()
        # Taken before the password is checked, so requests sent at once cannot all pass a
        # count made before any of them failed.
        attempt = accounts.reserve_attempt(self.engine, username, self.client_address(), moment)
        if not attempt.allowed:
            text, seconds = self.throttled(language, attempt.retry_at, moment)
            return self.login_form(
                language,
                next_path,
                429,
                username,
                [("error", text)],
                {"Retry-After": str(seconds)},
            )
        with self.engine.connect() as conn:
            account = accounts.find_account(conn, username)
        if not accounts.verify_password(account, password):
            # The reserved attempt stays, counted as this failure.
            self.failed(username, "wrong password" if account else "unknown account")
            error = [("error", tr(language, "sign_in.bad_credentials"))]
            # 200: the form again with its message (401 would need a WWW-Authenticate scheme).
            return self.login_form(language, next_path, 200, username, error)
        accounts.release_attempt(self.engine, attempt)
        if not account.active:
            self.failed(account.username, "account disabled")
            error = [("error", tr(language, "sign_in.disabled"))]
            return self.login_form(language, next_path, 403, username, error)
        with self.engine.begin() as conn:
            accounts.upgrade_hash(conn, account, password)
        if account.totp_enabled:
            session["totp_pending"] = {
                "user": account.id,
                "at": moment.timestamp(),
                "next": next_path,
            }
            return redirect(TOTP_PATH)
        return self.complete_sign_in(account, next_path, "password")

    def totp(self) -> Response:
        language = self.language()
        if current_user.is_authenticated:
            return redirect("/")
        pending = session.get("totp_pending")
        moment = now()
        if not pending or moment.timestamp() - float(pending["at"]) > TOTP_PENDING_SECONDS:
            session.pop("totp_pending", None)
            if request.method == "GET" and not pending:
                return redirect(LOGIN_PATH)
            return self.login_form(
                language, "/", 200, messages=[("error", tr(language, "totp.expired"))]
            )
        with self.engine.connect() as conn:
            account = accounts.get_account(conn, int(pending["user"]))
        if account is None or not account.can_sign_in or not account.totp_enabled:
            session.pop("totp_pending", None)
            return redirect(LOGIN_PATH)

        def form(status: int = 200, error: str | None = None, headers=None) -> Response:
            body = totp_page(
                language=language,
                stylesheets=self.stylesheets(),
                csrf_token=self.csrf_token(),
                action=TOTP_PATH,
                messages=[("error", error)] if error else None,
            )
            return self.html(body, status, headers)

        if request.method == "GET":
            return form()
        if not self.csrf_ok():
            return form(400, tr(language, "sign_in.form_expired"))
        attempt = accounts.reserve_attempt(
            self.engine, account.username, self.client_address(), moment
        )
        if not attempt.allowed:
            text, seconds = self.throttled(language, attempt.retry_at, moment)
            return form(429, text, {"Retry-After": str(seconds)})
        step = _verify_code(account.totp_secret, request.form.get("code", ""), moment)
        with self.engine.begin() as conn:
            # Claimed in the store, so a code seen over someone's shoulder is not good twice.
            accepted = step is not None and accounts.claim_totp_step(conn, account.id, step)
        if accepted:
            return self.complete_sign_in(
                account, safe_next(pending.get("next")), "password and two-step code"
            )
        self.failed(account.username, "wrong two-step code")
        return form(200, tr(language, "totp.bad_code"))

    def logout(self) -> Response:
        if not current_user.is_authenticated:
            return redirect(LOGIN_PATH)
        language = self.language()
        if request.method == "GET" or not self.csrf_ok():
            body = sign_out_page(
                language=language,
                stylesheets=self.stylesheets(),
                csrf_token=self.csrf_token(),
                action=LOGOUT_PATH,
            )
            return self.html(body, 200 if request.method == "GET" else 400)
        with self.engine.begin() as conn:
            accounts.close_session(conn, current_user.token)
        logout_user()
        session.clear()
        session["lang"] = language
        return redirect(f"{LOGIN_PATH}?signed_out=1")

    def profile(self) -> Response:
        user: SignedInUser = current_user  # the gate lets only signed-in users through
        account = user.account
        language = self.profile_language(account)
        if request.method == "POST":
            if not self.csrf_ok():
                flash(tr(language, "sign_in.form_expired"), "error")
            else:
                self.profile_action(user, request.form.get("action", ""))
            return redirect(PROFILE_PATH)

        setup = session.get("totp_setup")
        if setup and now().timestamp() - float(setup["at"]) > TOTP_SETUP_SECONDS:
            session.pop("totp_setup", None)
            setup = None
        qr_svg = None
        if setup:
            uri = pyotp.TOTP(setup["secret"]).provisioning_uri(
                name=account.username, issuer_name=TOTP_ISSUER
            )
            qr_svg = segno.make(uri, error="m").svg_inline(omitsize=True, border=4, light="#fff")
        if account.role == "admin":
            names = None
        else:
            with self.engine.connect() as conn:
                names = list(
                    conn.execute(
                        subaccounts.select()
                        .with_only_columns(subaccounts.c.name)
                        .where(subaccounts.c.id.in_(user.scope_ids))
                        .order_by(subaccounts.c.name)
                    ).scalars()
                )
        body = profile_page(
            account=account,
            language=language,
            timezone=account.timezone or self.settings.account_timezone,
            subaccount_names=names,
            stylesheets=self.stylesheets(),
            csrf_token=self.csrf_token(),
            action=PROFILE_PATH,
            logout_action=LOGOUT_PATH,
            messages=[
                (kind if kind in ("error", "info") else "info", text)
                for kind, text in get_flashed_messages(with_categories=True)
            ],
            setup_qr_svg=qr_svg,
            setup_key=setup["secret"] if setup else None,
            password_minimum=accounts.PASSWORD_MIN_LENGTH,
            password_maximum=accounts.PASSWORD_MAX_LENGTH,
        )
        return self.html(body)

    def profile_action(self, user: SignedInUser, action: str) -> None:
        """Carry out one profile form and flash its outcome in the user's language."""
        account = user.account
        language = self.profile_language(account)
        form = request.form
        if action == "preferences":
            chosen = form.get("language", "")
            if chosen not in LANGUAGES:
                flash(tr(language, "profile.bad_language"), "error")
                return
            try:
                timezone = form.get("timezone", "")[:64]
                with self.engine.begin() as conn:
                    accounts.update_profile(conn, account.id, language=chosen, timezone=timezone)
                    self.audit(
                        conn,
                        account.username,
                        audit.ACCOUNT_CHANGED,
                        f"{account.username}: language {chosen}, time zone {timezone or '-'}",
                    )
            except accounts.AccountError:
                flash(tr(language, "profile.bad_timezone"), "error")
                return
            flash(tr(chosen, "profile.saved"), "info")
            return
        if action == "totp-start":
            session["totp_setup"] = {"secret": pyotp.random_base32(), "at": now().timestamp()}
            return
        if action == "totp-cancel":
            session.pop("totp_setup", None)
            return
        if action == "totp-confirm":
            setup = session.get("totp_setup")
            moment = now()
            if not setup or moment.timestamp() - float(setup["at"]) > TOTP_SETUP_SECONDS:
                session.pop("totp_setup", None)
                flash(tr(language, "twostep.setup_expired"), "error")
                return
            step = _verify_code(setup["secret"], form.get("code", ""), moment)
            if step is None:
                flash(tr(language, "totp.bad_code"), "error")
                return
            with self.engine.begin() as conn:
                accounts.set_totp_secret(conn, account.id, setup["secret"])
                accounts.claim_totp_step(conn, account.id, step)
                self.audit(
                    conn,
                    account.username,
                    audit.ACCOUNT_CHANGED,
                    f"{account.username}: two-step verification on",
                )
            session.pop("totp_setup", None)
            flash(tr(language, "twostep.enabled"), "info")
            return
        if action in ("password", "totp-disable"):
            if not self.password_confirmed(account, form.get("current", ""), language):
                return
            if action == "totp-disable":
                with self.engine.begin() as conn:
                    accounts.set_totp_secret(conn, account.id, None)
                    self.audit(
                        conn,
                        account.username,
                        audit.ACCOUNT_CHANGED,
                        f"{account.username}: two-step verification off",
                    )
                flash(tr(language, "twostep.disabled"), "info")
                return
            new, confirm = form.get("new", ""), form.get("confirm", "")
            if new != confirm:
                flash(tr(language, "password.mismatch"), "error")
                return
            try:
                password_hash = accounts.hash_password(new, account.username)
            except accounts.AccountError as error:
                flash(tr(language, f"password.{error.code}", **error.params), "error")
                return
            with self.engine.begin() as conn:
                renewed = accounts.change_password(conn, account.username, password_hash)
                token = accounts.open_session(conn, account.id, now(), self.lifetime())
                self.audit(
                    conn,
                    account.username,
                    audit.ACCOUNT_CHANGED,
                    f"{account.username}: new password; other sessions ended",
                )
            # Every session of the account ended with the new password; this browser gets a
            # new one.
            login_user(SignedInUser(renewed, token, user.scope_ids))
            session.permanent = True
            flash(tr(language, "password.changed"), "info")
            return
        flash(tr(language, "sign_in.form_expired"), "error")

    def password_confirmed(self, account: accounts.Account, password: str, language: str) -> bool:
        """Check the current password, counting wrong ones like failed sign-ins."""
        moment = now()
        attempt = accounts.reserve_attempt(
            self.engine, account.username, self.client_address(), moment
        )
        if not attempt.allowed:
            flash(self.throttled(language, attempt.retry_at, moment)[0], "error")
            return False
        if not accounts.verify_password(account, password):
            self.failed(account.username, "wrong current password on the profile page")
            flash(tr(language, "password.wrong_current"), "error")
            return False
        accounts.release_attempt(self.engine, attempt)
        return True
