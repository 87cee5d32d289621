"""Sign-in through the real app: login, throttling, two-step codes, logout, sessions, profile."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pyotp
import pytest
from sqlalchemy import select

from app import create_app
from dashboard import auth
from dashboard.services import NotSignedInError, Services
from data_access import accounts
from data_access.tables import login_failures, subaccounts, users
from tests.auth_helpers import add_account, csrf_token, sign_in, subaccount_ids


@pytest.fixture
def app(store_settings, engine):
    return create_app(store_settings, engine)


@pytest.fixture
def client(app):
    return app.server.test_client()


def refused(response) -> bool:
    """The sign-in form shown again with its error message (and no session)."""
    return response.status_code == 200 and 'id="login-error"' in response.get_data(as_text=True)


def signed_in(client) -> bool:
    return client.get("/_dash-layout").status_code == 200


def test_sign_in_with_the_right_password_opens_the_dashboard(app, client, engine, clock):
    add_account(engine, "ana", "ana-password-1", role="admin")
    assert client.get("/").headers["Location"] == "/login?next=/"
    response = sign_in(client, "ana", "ana-password-1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert 'id="_dash-config"' in page.get_data(as_text=True)
    assert signed_in(client)


@pytest.mark.parametrize("username", ["ana", "nobody"])
def test_wrong_password_or_unknown_user_get_one_answer(client, engine, clock, username):
    add_account(engine, "ana", "ana-password-1")
    response = sign_in(client, username, "not-the-password")
    assert refused(response)
    text = response.get_data(as_text=True)
    assert "Usuario o contraseña incorrectos." in text
    assert f'value="{username}"' in text
    assert not signed_in(client)


def test_a_sender_name_from_the_files_cannot_sign_in(client, engine, clock):
    with engine.begin() as conn:
        conn.execute(users.insert().values(username="campaign-bot"))
    response = sign_in(client, "campaign-bot", "")
    assert refused(response)
    assert not signed_in(client)


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    assert client.get("/exports").headers["Location"] == "/login?next=/exports"
    assert sign_in(client, "ana", "ana-password-1", "/login?next=/exports").headers["Location"] == (
        "/exports"
    )
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/login"):
        assert auth.safe_next(target) == "/"
    assert auth.safe_next("/exports?view=detailed") == "/exports?view=detailed"


def test_a_form_without_its_token_is_refused(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    client.get("/login")
    response = client.post("/login", data={"username": "ana", "password": "ana-password-1"})
    assert response.status_code == 400
    assert "El formulario caducó; inténtalo de nuevo." in response.get_data(as_text=True)
    assert not signed_in(client)


def test_five_failures_for_a_name_lock_it_for_fifteen_minutes(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    for attempt in range(accounts.MAX_FAILURES_PER_USERNAME):
        clock.advance(seconds=10)
        # Case and spaces do not make a new name to guess under.
        name = "ana" if attempt % 2 == 0 else " ANA "
        assert refused(sign_in(client, name, f"wrong-{attempt}"))
    # The right password is refused too while the name is locked.
    locked = sign_in(client, "ana", "ana-password-1")
    assert locked.status_code == 429
    # The first failure was at T0+10s, so the lock ends at T0+15m10s, 14m20s from now.
    assert locked.headers["Retry-After"] == str(14 * 60 + 20)
    assert "Vuelve a intentarlo en 15 min." in locked.get_data(as_text=True)
    assert not signed_in(client)
    clock.advance(minutes=14, seconds=19)
    assert sign_in(client, "ana", "ana-password-1").status_code == 429
    clock.advance(seconds=1)
    assert sign_in(client, "ana", "ana-password-1").status_code == 302
    assert signed_in(client)


def test_a_success_clears_the_failures_of_the_name(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    for _ in range(4):
        assert refused(sign_in(client, "ana", "wrong-password"))
    assert sign_in(client, "ana", "ana-password-1").status_code == 302
    with engine.connect() as conn:
        names = conn.execute(select(login_failures.c.username)).scalars().all()
    assert names == []


def test_twenty_failures_from_one_address_lock_that_address_only(app, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    here = app.server.test_client()
    here.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    for attempt in range(accounts.MAX_FAILURES_PER_ADDRESS):
        assert refused(sign_in(here, f"guess{attempt}", "whatever-pass"))
    response = sign_in(here, "ana", "ana-password-1")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(15 * 60)
    elsewhere = app.server.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert sign_in(elsewhere, "ana", "ana-password-1").status_code == 302


def _at_once(app, forms: list[dict], address: str = "127.0.0.1") -> list[int]:
    """Post every sign-in form at the same moment, each from its own browser; the statuses."""
    browsers = []
    for form in forms:
        browser = app.server.test_client()
        browser.environ_base["REMOTE_ADDR"] = address
        token = csrf_token(browser.get("/login").get_data(as_text=True))
        browsers.append((browser, {**form, "csrf_token": token}))
    start = threading.Barrier(len(browsers))

    def post(pair) -> int:
        browser, form = pair
        start.wait()
        return browser.post("/login", data=form).status_code

    with ThreadPoolExecutor(len(browsers)) as pool:
        return list(pool.map(post, browsers))


def _counting_checks(monkeypatch, real: bool) -> list[str]:
    """Every password check made from now on, by the password checked."""
    checked: list[str] = []
    verify = accounts.verify_password

    def counting(account, password):
        checked.append(password)
        if real:
            return verify(account, password)
        time.sleep(0.05)  # as long as a real check, so requests overlap
        return False

    monkeypatch.setattr(accounts, "verify_password", counting)
    return checked


def test_twenty_wrong_passwords_at_once_check_at_most_five(app, engine, clock, monkeypatch):
    add_account(engine, "ana", "ana-password-1")
    checked = _counting_checks(monkeypatch, real=True)
    forms = [{"username": "ana", "password": f"wrong-{n}"} for n in range(20)]
    statuses = _at_once(app, forms)
    assert len(checked) == accounts.MAX_FAILURES_PER_USERNAME
    assert sorted(statuses) == [200] * 5 + [429] * 15
    with engine.connect() as conn:
        assert accounts.failure_count(conn) == accounts.MAX_FAILURES_PER_USERNAME
    # The name stays locked for the right password too.
    browser = app.server.test_client()
    assert sign_in(browser, "ana", "ana-password-1").status_code == 429


def test_forty_names_at_once_from_one_address_check_at_most_twenty(app, engine, clock, monkeypatch):
    checked = _counting_checks(monkeypatch, real=False)
    forms = [{"username": f"guess{n}", "password": "whatever-pass"} for n in range(40)]
    statuses = _at_once(app, forms, address="192.0.2.44")
    assert len(checked) == accounts.MAX_FAILURES_PER_ADDRESS
    assert sorted(statuses) == [200] * 20 + [429] * 20


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(app, client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    assert sign_in(client, "ana", "ana-password-1").status_code == 302
    with engine.begin() as conn:
        accounts.set_active(conn, "ana", False)
    assert not signed_in(client)
    again = app.server.test_client()
    response = sign_in(again, "ana", "ana-password-1")
    assert response.status_code == 403
    assert "Esta cuenta está desactivada" in response.get_data(as_text=True)


def test_sign_out_ends_the_session_and_a_copied_cookie(app, client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    cookie = client.get_cookie(auth.SESSION_COOKIE).value
    page = client.get("/logout")
    assert page.status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.headers["Location"] == "/login?signed_out=1"
    assert "Cerraste la sesión." in client.get("/login?signed_out=1").get_data(as_text=True)
    assert not signed_in(client)
    thief = app.server.test_client()
    thief.set_cookie(auth.SESSION_COOKIE, cookie)
    assert thief.get("/_dash-layout").status_code == 401


def test_a_sign_out_post_without_its_token_keeps_the_session(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    assert client.post("/logout", data={}).status_code == 400
    assert signed_in(client)


def test_the_session_expires_after_the_configured_hours(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    clock.advance(hours=11, minutes=59)
    assert signed_in(client)
    clock.advance(minutes=1)
    assert not signed_in(client)


def test_the_viewer_of_a_request_is_the_signed_in_user(app, store_settings, engine, clock):
    add_account(engine, "ana", "ana-password-1", role="admin", language="en", timezone="UTC")
    add_account(
        engine,
        "bia",
        "bia-password-1",
        subaccount_names=("Brand A", "Brand B"),
        display_name="Bia Souza",
    )
    with engine.begin() as conn:
        conn.execute(subaccounts.insert().values(name="Brand C"))
    ids = subaccount_ids(engine)
    services = Services(settings=store_settings, engine=engine)

    def viewer_of(username: str, password: str):
        browser = app.server.test_client()
        sign_in(browser, username, password)
        cookie = browser.get_cookie(auth.SESSION_COOKIE).value
        # The request's cookie decides the viewer, as it does for every callback post.
        with app.server.test_request_context(
            "/_dash-update-component", headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"}
        ):
            return services.current_viewer()

    admin = viewer_of("ana", "ana-password-1")
    assert (admin.username, admin.role, admin.language, admin.timezone) == (
        "ana",
        "admin",
        "en",
        "UTC",
    )
    assert admin.scope.subaccount_ids == frozenset(ids.values())
    assert len(ids) == 3
    user = viewer_of("bia", "bia-password-1")
    assert (user.username, user.role, user.language, user.timezone, user.display_name) == (
        "bia",
        "user",
        "es",
        "America/Sao_Paulo",
        "Bia Souza",
    )
    assert user.scope.subaccount_ids == frozenset({ids["Brand A"], ids["Brand B"]})
    with app.server.test_request_context("/_dash-update-component"):
        with pytest.raises(NotSignedInError):
            services.current_viewer()
    with pytest.raises(NotSignedInError):
        services.current_viewer()
    with services.acting_as(user):
        assert services.current_viewer() is user


# ---- two-step verification ----


def wrong_codes(secret: str, moment: datetime, count: int) -> list[str]:
    """Six-digit codes that none of the accepted steps (this one and its neighbours) has."""
    totp = pyotp.TOTP(secret)
    valid = {totp.at(moment, counter_offset=offset) for offset in (-1, 0, 1)}
    return [code for code in (f"{d}" * 6 for d in range(10)) if code not in valid][:count]


def _enable_totp(client, engine, clock) -> str:
    """Turn on two-step verification from the profile as a person does; returns the secret."""
    page = client.get("/profile").get_data(as_text=True)
    client.post("/profile", data={"csrf_token": csrf_token(page), "action": "totp-start"})
    page = client.get("/profile").get_data(as_text=True)
    assert "<svg" in page
    secret = re.search(r'class="auth-key">([A-Z2-7]+)<', page).group(1)
    code = pyotp.TOTP(secret).at(clock.value)
    client.post(
        "/profile", data={"csrf_token": csrf_token(page), "action": "totp-confirm", "code": code}
    )
    return secret


def test_two_step_verification_is_set_up_from_the_profile(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    page = client.get("/profile").get_data(as_text=True)
    assert "Desactivada: basta la contraseña para iniciar sesión." in page
    secret = _enable_totp(client, engine, clock)
    page = client.get("/profile").get_data(as_text=True)
    assert "Verificación en dos pasos activada." in page
    with engine.connect() as conn:
        assert accounts.find_account(conn, "ana").totp_secret == secret


def test_a_wrong_setup_code_leaves_two_step_off(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    page = client.get("/profile").get_data(as_text=True)
    client.post("/profile", data={"csrf_token": csrf_token(page), "action": "totp-start"})
    page = client.get("/profile").get_data(as_text=True)
    secret = re.search(r'class="auth-key">([A-Z2-7]+)<', page).group(1)
    wrong = wrong_codes(secret, clock.value, 1)[0]
    client.post(
        "/profile", data={"csrf_token": csrf_token(page), "action": "totp-confirm", "code": wrong}
    )
    assert "El código no es válido" in client.get("/profile").get_data(as_text=True)
    with engine.connect() as conn:
        assert accounts.find_account(conn, "ana").totp_secret is None


def test_sign_in_with_two_step_needs_the_current_code_once(app, client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    secret = _enable_totp(client, engine, clock)
    clock.advance(seconds=30)

    browser = app.server.test_client()
    first = sign_in(browser, "ana", "ana-password-1")
    assert first.headers["Location"] == auth.TOTP_PATH
    assert not signed_in(browser)
    form = browser.get(auth.TOTP_PATH).get_data(as_text=True)
    assert 'id="login-totp"' in form
    code = pyotp.TOTP(secret).at(clock.value)
    bad = browser.post(
        auth.TOTP_PATH,
        data={"csrf_token": csrf_token(form), "code": wrong_codes(secret, clock.value, 1)[0]},
    )
    assert refused(bad)
    assert "El código no es válido o ya se usó" in bad.get_data(as_text=True)
    good = browser.post(auth.TOTP_PATH, data={"csrf_token": csrf_token(form), "code": code})
    assert good.status_code == 302
    assert good.headers["Location"] == "/"
    assert signed_in(browser)

    # The same code, seen over a shoulder, does not open a second session.
    other = app.server.test_client()
    sign_in(other, "ana", "ana-password-1")
    form = other.get(auth.TOTP_PATH).get_data(as_text=True)
    replay = other.post(auth.TOTP_PATH, data={"csrf_token": csrf_token(form), "code": code})
    assert refused(replay)
    assert not signed_in(other)
    clock.advance(seconds=30)
    fresh = pyotp.TOTP(secret).at(clock.value)
    assert (
        other.post(auth.TOTP_PATH, data={"csrf_token": csrf_token(form), "code": fresh}).status_code
        == 302
    )


def test_wrong_codes_count_as_failed_sign_ins(app, client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    secret = _enable_totp(client, engine, clock)
    clock.advance(seconds=30)
    browser = app.server.test_client()
    sign_in(browser, "ana", "ana-password-1")
    form = csrf_token(browser.get(auth.TOTP_PATH).get_data(as_text=True))
    for wrong in wrong_codes(secret, clock.value, accounts.MAX_FAILURES_PER_USERNAME):
        answer = browser.post(auth.TOTP_PATH, data={"csrf_token": form, "code": wrong})
        assert refused(answer)
    code = pyotp.TOTP(secret).at(clock.value)
    locked = browser.post(auth.TOTP_PATH, data={"csrf_token": form, "code": code})
    assert locked.status_code == 429
    assert "Demasiados intentos fallidos" in locked.get_data(as_text=True)


def test_the_code_step_expires_after_five_minutes(app, client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    secret = _enable_totp(client, engine, clock)
    browser = app.server.test_client()
    sign_in(browser, "ana", "ana-password-1")
    form = csrf_token(browser.get(auth.TOTP_PATH).get_data(as_text=True))
    clock.advance(seconds=auth.TOTP_PENDING_SECONDS + 1)
    late = browser.post(
        auth.TOTP_PATH, data={"csrf_token": form, "code": pyotp.TOTP(secret).at(clock.value)}
    )
    assert refused(late)
    assert "La verificación caducó; vuelve a iniciar sesión." in late.get_data(as_text=True)
    assert not signed_in(browser)


def test_two_step_is_turned_off_with_the_password(client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    sign_in(client, "ana", "ana-password-1")
    _enable_totp(client, engine, clock)
    page = client.get("/profile").get_data(as_text=True)
    client.post(
        "/profile",
        data={"csrf_token": csrf_token(page), "action": "totp-disable", "current": "wrong-one-1"},
    )
    assert "La contraseña actual no es correcta." in client.get("/profile").get_data(as_text=True)
    client.post(
        "/profile",
        data={
            "csrf_token": csrf_token(page),
            "action": "totp-disable",
            "current": "ana-password-1",
        },
    )
    assert "Verificación en dos pasos desactivada." in client.get("/profile").get_data(as_text=True)
    with engine.connect() as conn:
        assert accounts.find_account(conn, "ana").totp_secret is None


# ---- profile ----


def test_the_profile_changes_language_and_time_zone(client, engine, clock):
    add_account(engine, "bia", "bia-password-1", subaccount_names=("Brand B", "Brand A"))
    sign_in(client, "bia", "bia-password-1")
    page = client.get("/profile").get_data(as_text=True)
    assert "Subcuentas visibles" in page
    assert "Brand A, Brand B" in page
    response = client.post(
        "/profile",
        data={
            "csrf_token": csrf_token(page),
            "action": "preferences",
            "language": "pt-BR",
            "timezone": "America/Manaus",
        },
    )
    assert response.headers["Location"] == "/profile"
    page = client.get("/profile").get_data(as_text=True)
    assert "Alterações salvas." in page
    assert '<html lang="pt-BR">' in page
    assert "<option selected>America/Manaus</option>" in page
    with engine.connect() as conn:
        account = accounts.find_account(conn, "bia")
    assert (account.language, account.timezone) == ("pt-BR", "America/Manaus")


def test_the_profile_speaks_the_language_chosen_in_the_top_bar(client, engine, clock):
    add_account(engine, "bia", "bia-password-1")
    sign_in(client, "bia", "bia-password-1")
    # The top bar's profile link passes the language the dashboard shows.
    page = client.get("/profile?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Visible subaccounts" in page
    # The language saved in the account stays the one offered in the form.
    assert '<option value="es" selected>Español</option>' in page
    assert '<option value="en">English</option>' in page
    # Kept for the visit: a reload and a form's answer are in English too.
    page = client.get("/profile").get_data(as_text=True)
    assert '<html lang="en">' in page
    client.post(
        "/profile",
        data={
            "csrf_token": csrf_token(page),
            "action": "preferences",
            "language": "es",
            "timezone": "Mars/Olympus_Mons",
        },
    )
    page = client.get("/profile").get_data(as_text=True)
    assert "Choose a time zone from the list." in page
    # Another language in the top bar follows; an unknown code is the default language.
    assert '<html lang="pt-BR">' in client.get("/profile?lang=pt-BR").get_data(as_text=True)
    assert '<html lang="es">' in client.get("/profile?lang=xx").get_data(as_text=True)
    # Saving a language in the profile wins over the earlier top bar choice, as on the dashboard.
    page = client.get("/profile?lang=en").get_data(as_text=True)
    client.post(
        "/profile",
        data={
            "csrf_token": csrf_token(page),
            "action": "preferences",
            "language": "pt-BR",
            "timezone": "UTC",
        },
    )
    page = client.get("/profile").get_data(as_text=True)
    assert '<html lang="pt-BR">' in page
    assert "Alterações salvas." in page


@pytest.mark.parametrize(
    ("language", "timezone", "message"),
    [
        ("xx", "UTC", "Elige un idioma de la lista."),
        ("en", "Mars/Olympus_Mons", "Elige una zona horaria de la lista."),
        ("en", "../../etc/passwd", "Elige una zona horaria de la lista."),
    ],
)
def test_the_profile_refuses_unknown_choices(client, engine, clock, language, timezone, message):
    add_account(engine, "bia", "bia-password-1")
    sign_in(client, "bia", "bia-password-1")
    page = client.get("/profile").get_data(as_text=True)
    client.post(
        "/profile",
        data={
            "csrf_token": csrf_token(page),
            "action": "preferences",
            "language": language,
            "timezone": timezone,
        },
    )
    assert message in client.get("/profile").get_data(as_text=True)
    with engine.connect() as conn:
        account = accounts.find_account(conn, "bia")
    assert (account.language, account.timezone) == ("es", None)


def test_a_new_password_ends_the_other_sessions(app, client, engine, clock):
    add_account(engine, "ana", "ana-password-1")
    other = app.server.test_client()
    sign_in(client, "ana", "ana-password-1")
    sign_in(other, "ana", "ana-password-1")
    page = client.get("/profile").get_data(as_text=True)

    def change(current, new, confirm):
        client.post(
            "/profile",
            data={
                "csrf_token": csrf_token(page),
                "action": "password",
                "current": current,
                "new": new,
                "confirm": confirm,
            },
        )
        return client.get("/profile").get_data(as_text=True)

    assert "La contraseña actual no es correcta." in change("nope-nope-1", "x" * 12, "x" * 12)
    assert "no coinciden" in change("ana-password-1", "new-password-1", "new-password-2")
    assert "al menos 10 caracteres" in change("ana-password-1", "short", "short")
    assert "Contraseña cambiada." in change("ana-password-1", "new-password-1", "new-password-1")
    assert signed_in(client)
    assert not signed_in(other)
    fresh = app.server.test_client()
    assert refused(sign_in(fresh, "ana", "ana-password-1"))
    assert sign_in(fresh, "ana", "new-password-1").status_code == 302


def test_pages_follow_the_browser_language_until_sign_in(client, engine, clock):
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Wrong" not in english.get_data(as_text=True)
    assert "<h1>Sign in</h1>" in english.get_data(as_text=True)
    portuguese = client.get("/login?lang=pt-BR")
    assert '<html lang="pt-BR">' in portuguese.get_data(as_text=True)
    # The choice is kept for the next page of this browser.
    assert '<html lang="pt-BR">' in client.get("/login").get_data(as_text=True)
