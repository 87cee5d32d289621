"""Business numbers and their subaccounts: which subaccount an inbound message belongs to."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from data_access.domain import CHANNELS
from data_access.tables import channel_numbers, subaccounts
from ingest.keys import UnknownNameError, subaccount_id


class ChannelError(ValueError):
    """A business number given on the command line cannot be used."""


@dataclass(frozen=True)
class BusinessNumber:
    channel: str
    number_id: str
    subaccount: str
    label: str | None


def normalise(channel: str, number_id: str) -> str:
    """WhatsApp phone number ids are digits as Meta shows them; SMS numbers keep their digits."""
    if channel not in CHANNELS:
        raise ChannelError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
    raw = number_id.strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not digits or (channel == "whatsapp" and digits != raw):
        what = "a WhatsApp phone number id" if channel == "whatsapp" else "an SMS number"
        raise ChannelError(f"{raw!r} is not {what} (digits only)")
    return digits


def assign(
    conn: Connection, channel: str, number_id: str, subaccount: str, label: str | None = None
) -> tuple[BusinessNumber, bool]:
    """Assign a number to a subaccount (moving it if assigned); returns it and whether the
    subaccount was created."""
    number_id = normalise(channel, number_id)
    sub_id, created = subaccount_id(conn, subaccount, create=True)
    statement = pg_insert(channel_numbers).values(
        channel=channel, number_id=number_id, subaccount_id=sub_id, label=label
    )
    statement = statement.on_conflict_do_update(
        index_elements=[channel_numbers.c.channel, channel_numbers.c.number_id],
        set_={"subaccount_id": sub_id, "label": label},
    )
    conn.execute(statement)
    return BusinessNumber(channel, number_id, subaccount, label), created


def remove(conn: Connection, channel: str, number_id: str) -> None:
    number_id = normalise(channel, number_id)
    result = conn.execute(
        delete(channel_numbers).where(
            channel_numbers.c.channel == channel, channel_numbers.c.number_id == number_id
        )
    )
    if not result.rowcount:
        raise UnknownNameError(f"The {channel} number {number_id} is not assigned.")


def list_numbers(conn: Connection) -> list[BusinessNumber]:
    query = (
        select(
            channel_numbers.c.channel,
            channel_numbers.c.number_id,
            subaccounts.c.name,
            channel_numbers.c.label,
        )
        .join(subaccounts, subaccounts.c.id == channel_numbers.c.subaccount_id)
        .order_by(channel_numbers.c.channel, channel_numbers.c.number_id)
    )
    return [BusinessNumber(*row) for row in conn.execute(query)]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_callback_token(conn: Connection, number_id: str) -> tuple[BusinessNumber, str]:
    """Give an assigned SMS number its own Sinch callback token (replacing any earlier one);
    the plain token is returned only here, the store keeps its SHA-256."""
    number_id = normalise("sms", number_id)
    found = [n for n in list_numbers(conn) if n.channel == "sms" and n.number_id == number_id]
    if not found:
        raise UnknownNameError(
            f"The sms number {number_id} is not assigned; assign it first with "
            f"`python app.py channels add --channel sms --number-id {number_id} "
            "--subaccount NAME`."
        )
    token = secrets.token_urlsafe(32)
    conn.execute(
        update(channel_numbers)
        .where(channel_numbers.c.channel == "sms", channel_numbers.c.number_id == number_id)
        .values(callback_token_hash=_token_hash(token))
    )
    return found[0], token


def callback_subaccount(conn: Connection, token: str) -> str | None:
    """The subaccount of the SMS number whose own callback token this is, if any."""
    query = (
        select(subaccounts.c.name)
        .join_from(
            channel_numbers, subaccounts, subaccounts.c.id == channel_numbers.c.subaccount_id
        )
        .where(
            channel_numbers.c.channel == "sms",
            channel_numbers.c.callback_token_hash == _token_hash(token),
        )
    )
    return conn.execute(query).scalar()
