"""Business numbers and their subaccounts: which subaccount an inbound message belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select
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
