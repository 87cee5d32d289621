"""The sign-in, two-step and password flows, each returning an outcome for the pages to show.

Every flow counts wrong passwords and codes against the throttle (per typed name and per
address), writes its audit rows, and opens or ends sessions; the pages only read forms and
turn outcomes into words and responses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TypeVar

import pyotp
from pyotp.utils import strings_equal
from sqlalchemy import Connection, Engine

from data_access import accounts, audit
from data_access.accounts.model import Account, AccountError
from data_access.accounts.throttling import Attempt
from data_access.writes import write_apart

T = TypeVar("T")

_CODE = re.compile(r"\d{6}")


def code_step(secret: str, code: str, moment: datetime) -> int | None:
    """The time step a six-digit code belongs to (this one or a neighbour, for clock drift), or
    None when it is none of them."""
    code = re.sub(r"\s", "", code or "")
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(moment.replace(tzinfo=UTC))
    for step in (current - 1, current, current + 1):
        if strings_equal(code, totp.generate_otp(step)):
            return step
    return None


class Result(Enum):
    """What became of a request about an account."""

    DONE = "done"
    NEEDS_CODE = "needs_code"  # the password was right; the two-step code comes next
    BAD_CREDENTIALS = "bad_credentials"
    DISABLED = "disabled"
    THROTTLED = "throttled"  # too many failures: `retry_seconds` until the next try
    BAD_CODE = "bad_code"
    NO_LONGER_ALLOWED = "no_longer_allowed"  # the account changed while the code was asked
    WRONG_CURRENT = "wrong_current"  # the current password, asked before a change, is wrong
    MISMATCH = "mismatch"  # the new password and its confirmation differ
    REFUSED = "refused"  # an AccountError: `code` and `params` say why


@dataclass(frozen=True)
class Outcome:
    result: Result
    account: Account | None = None
    # A new session's cookie token, when the flow opened one.
    token: str | None = None
    retry_seconds: int = 0
    code: str = ""
    params: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result is Result.DONE

    @property
    def retry_minutes(self) -> int:
        return math.ceil(self.retry_seconds / 60)


def _throttled(attempt: Attempt, moment: datetime) -> Outcome:
    seconds = max(1, math.ceil(((attempt.retry_at or moment) - moment).total_seconds()))
    return Outcome(Result.THROTTLED, retry_seconds=seconds)


class AccountService:
    """The flows of one store's accounts; `address` is the client's, for the throttle and the
    audit trail."""

    def __init__(self, engine: Engine, session_lifetime: timedelta) -> None:
        self.engine = engine
        self.session_lifetime = session_lifetime

    def _audit(self, conn: Connection, actor: str, action: str, detail: str, address: str) -> None:
        audit.record(conn, actor=actor, action=action, detail=detail, address=address)

    def _write(self, work: Callable[[Connection], T]) -> T:
        """`work` in one transaction, run again if it lost a conflict (writes.write_apart)."""
        return write_apart(self.engine, work)

    def _failed(self, actor: str, detail: str, address: str) -> None:
        self._write(lambda conn: self._audit(conn, actor, audit.SIGN_IN_FAILED, detail, address))

    def _open(self, account: Account, how: str, address: str, moment: datetime) -> Outcome:
        accounts.clear_failures(self.engine, account.username)

        def open_session(conn: Connection) -> str:
            token = accounts.open_session(conn, account.id, moment, self.session_lifetime)
            self._audit(conn, account.username, audit.SIGN_IN, how, address)
            return token

        return Outcome(Result.DONE, account=account, token=self._write(open_session))

    # ---- signing in ----

    def sign_in(self, username: str, password: str, address: str, moment: datetime) -> Outcome:
        """Check a name and password; DONE opens a session, NEEDS_CODE asks for the code."""
        # Taken before the password is checked, so requests sent at once cannot all pass a
        # count made before any of them failed.
        attempt = accounts.reserve_attempt(self.engine, username, address, moment)
        if not attempt.allowed:
            return _throttled(attempt, moment)
        with self.engine.connect() as conn:
            account = accounts.find_account(conn, username)
        if not accounts.verify_password(account, password) or account is None:
            # The reserved attempt stays, counted as this failure.
            detail = "wrong password" if account else "unknown account"
            self._failed(username, detail, address)
            return Outcome(Result.BAD_CREDENTIALS)
        accounts.release_attempt(self.engine, attempt)
        if not account.active:
            self._failed(account.username, "account disabled", address)
            return Outcome(Result.DISABLED, account=account)
        self._write(lambda conn: accounts.upgrade_hash(conn, account, password))
        if account.totp_enabled:
            return Outcome(Result.NEEDS_CODE, account=account)
        return self._open(account, "password", address, moment)

    def pending_account(self, user_id: int) -> Account | None:
        """The account waiting for its two-step code, if it may still sign in with one."""
        with self.engine.connect() as conn:
            account = accounts.get_account(conn, user_id)
        if account is None or not account.can_sign_in or not account.totp_enabled:
            return None
        return account

    def verify_code(self, account: Account, code: str, address: str, moment: datetime) -> Outcome:
        """The second step: a code of the account's TOTP secret, good once."""
        attempt = accounts.reserve_attempt(self.engine, account.username, address, moment)
        if not attempt.allowed:
            return _throttled(attempt, moment)
        step = code_step(account.totp_secret or "", code, moment)
        # Claimed in the store, so a code seen over someone's shoulder is not good twice.
        accepted = step is not None and self._write(
            lambda conn: accounts.claim_totp_step(conn, account.id, step)
        )
        if accepted:
            return self._open(account, "password and two-step code", address, moment)
        self._failed(account.username, "wrong two-step code", address)
        return Outcome(Result.BAD_CODE)

    def sign_out(self, token: str) -> None:
        self._write(lambda conn: accounts.close_session(conn, token))

    # ---- the profile ----

    def save_preferences(
        self, account: Account, language: str, timezone: str, address: str
    ) -> Outcome:
        def save(conn: Connection) -> None:
            accounts.update_profile(conn, account.id, language=language, timezone=timezone)
            self._audit(
                conn,
                account.username,
                audit.ACCOUNT_CHANGED,
                f"{account.username}: language {language}, time zone {timezone or '-'}",
                address,
            )

        try:
            self._write(save)
        except AccountError as error:
            return Outcome(Result.REFUSED, code=error.code, params=error.params)
        return Outcome(Result.DONE)

    def turn_on_two_step(
        self, account: Account, secret: str, code: str, address: str, moment: datetime
    ) -> Outcome:
        """Keep the new secret once a code of it proves the authenticator app has it."""
        step = code_step(secret, code, moment)
        if step is None:
            return Outcome(Result.BAD_CODE)

        def turn_on(conn: Connection) -> None:
            accounts.set_totp_secret(conn, account.id, secret)
            accounts.claim_totp_step(conn, account.id, step)
            self._audit(
                conn,
                account.username,
                audit.ACCOUNT_CHANGED,
                f"{account.username}: two-step verification on",
                address,
            )

        self._write(turn_on)
        return Outcome(Result.DONE)

    def _confirm_password(
        self, account: Account, password: str, address: str, moment: datetime
    ) -> Outcome | None:
        """None when the current password is right; else why not (wrong ones count like
        failed sign-ins)."""
        attempt = accounts.reserve_attempt(self.engine, account.username, address, moment)
        if not attempt.allowed:
            return _throttled(attempt, moment)
        if not accounts.verify_password(account, password):
            self._failed(account.username, "wrong current password on the profile page", address)
            return Outcome(Result.WRONG_CURRENT)
        accounts.release_attempt(self.engine, attempt)
        return None

    def turn_off_two_step(
        self, account: Account, current_password: str, address: str, moment: datetime
    ) -> Outcome:
        refused = self._confirm_password(account, current_password, address, moment)
        if refused is not None:
            return refused

        def turn_off(conn: Connection) -> None:
            accounts.set_totp_secret(conn, account.id, None)
            self._audit(
                conn,
                account.username,
                audit.ACCOUNT_CHANGED,
                f"{account.username}: two-step verification off",
                address,
            )

        self._write(turn_off)
        return Outcome(Result.DONE)

    def change_password(
        self,
        account: Account,
        current_password: str,
        new: str,
        confirm: str,
        address: str,
        moment: datetime,
    ) -> Outcome:
        """A new password ends every session of the account; DONE carries this browser's new
        one."""
        refused = self._confirm_password(account, current_password, address, moment)
        if refused is not None:
            return refused
        if new != confirm:
            return Outcome(Result.MISMATCH)
        try:
            password_hash = accounts.hash_password(new, account.username)
        except AccountError as error:
            return Outcome(Result.REFUSED, code=error.code, params=error.params)

        def renew(conn: Connection) -> tuple[Account, str]:
            renewed = accounts.change_password(conn, account.username, password_hash)
            token = accounts.open_session(conn, account.id, moment, self.session_lifetime)
            self._audit(
                conn,
                account.username,
                audit.ACCOUNT_CHANGED,
                f"{account.username}: new password; other sessions ended",
                address,
            )
            return renewed, token

        renewed, token = self._write(renew)
        return Outcome(Result.DONE, account=renewed, token=token)
