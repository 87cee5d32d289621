"""A small hand-built message set for the dashboard tests, dated relative to today.

The figures the tests expect are worked out by hand below the rows.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from dashboard.services import Services, Viewer
from data_access.filters import AccessScope, today_in
from data_access.tables import subaccounts
from tests.conftest import TIMEZONE

PHONE_ANA = "+5511987654321"
PHONE_RIO = "+5521912345678"
PHONE_BH = "+5531955554444"
LONG_CONTENT = (
    "Olá Ana! Seu pedido 4312 saiu para entrega hoje e chega até as 18h. "
    "Responda 1 para confirmar o recebimento ou 2 para falar com um atendente."
)


def day(offset: int) -> date:
    """The account's day `offset` days before today."""
    return today_in(TIMEZONE) - timedelta(days=offset)


def at(offset: int, hh: int, mm: int = 0) -> str:
    moment = datetime.combine(day(offset), time(hh, mm), tzinfo=ZoneInfo(TIMEZONE))
    return moment.isoformat()


def rows() -> list[dict]:
    base = {"channel": "whatsapp", "direction": "MT", "content_type": "text"}
    return [
        # Two days ago: 3 MT (2 delivered, 1 read among them, 1 error).
        {
            **base,
            "message_id": "w1",
            "subaccount": "Brand A",
            "user": "ana",
            "campaign": "Black Friday",
            "content_type": "template",
            "phone": PHONE_ANA,
            "contact_name": "Ana",
            "content": LONG_CONTENT,
            "status": "delivered",
            "created_at": at(2, 10),
            "sent_at": at(2, 10, 1),
            "delivered_at": at(2, 10, 2),
            "correlation_id": "order-4312",
        },
        {
            **base,
            "message_id": "w2",
            "subaccount": "Brand A",
            "user": "ana",
            "campaign": "Black Friday",
            "content_type": "template",
            "phone": PHONE_ANA,
            "content": "Oferta especial",
            "status": "read",
            "created_at": at(2, 10, 5),
            "sent_at": at(2, 10, 6),
            "delivered_at": at(2, 10, 7),
            "read_at": at(2, 11),
        },
        {
            **base,
            "message_id": "w3",
            "subaccount": "Brand B",
            "user": "bruno",
            "phone": PHONE_RIO,
            "content": "Hola",
            "status": "error",
            "error_code": "131026",
            "error_description": "Message undeliverable",
            "created_at": at(2, 11),
        },
        # Yesterday: 4 MT (1 sent only, 2 errors, 1 delivered) and 1 MO.
        {
            **base,
            "message_id": "w4",
            "subaccount": "Brand A",
            "content_type": "image",
            "phone": PHONE_ANA,
            "status": "sent",
            "created_at": at(1, 9),
            "sent_at": at(1, 9, 1),
        },
        {
            **base,
            "message_id": "w5",
            "subaccount": "Brand B",
            "phone": PHONE_BH,
            "status": "error",
            "error_code": "131047",
            "error_description": "Re-engagement message",
            "created_at": at(1, 9, 30),
        },
        {
            **base,
            "message_id": "w6",
            "subaccount": "Brand B",
            "user": "bruno",
            "phone": PHONE_RIO,
            "status": "error",
            "error_code": "131026",
            "error_description": "Message undeliverable",
            "created_at": at(1, 12),
        },
        {
            **base,
            "message_id": "w7",
            "subaccount": "Brand A",
            "content_type": "template",
            "phone": PHONE_BH,
            "status": "delivered",
            "created_at": at(1, 15),
            "sent_at": at(1, 15, 1),
            "delivered_at": at(1, 15, 3),
        },
        {
            **base,
            "message_id": "w9",
            "direction": "MO",
            "subaccount": "Brand A",
            "phone": PHONE_ANA,
            "content": "Não recebi meu pedido",
            "status": "received",
            "created_at": at(1, 10),
        },
        # Today: 1 MT still queued.
        {
            **base,
            "message_id": "w8",
            "subaccount": "Brand A",
            "phone": PHONE_ANA,
            "status": "queued",
            "created_at": at(0, 0, 1),
        },
        # SMS: 2 MT (1 delivered, 1 error) and 1 MO.
        {
            "channel": "sms",
            "direction": "MT",
            "content_type": "text",
            "message_id": "s1",
            "subaccount": "Brand A",
            "phone": PHONE_ANA,
            "status": "delivered",
            "created_at": at(2, 8),
            "sent_at": at(2, 8, 1),
            "delivered_at": at(2, 8, 2),
        },
        {
            "channel": "sms",
            "direction": "MT",
            "content_type": "text",
            "message_id": "s2",
            "subaccount": "Brand B",
            "phone": PHONE_RIO,
            "status": "error",
            "error_code": "UNDELIV",
            "error_description": "Undeliverable",
            "created_at": at(1, 8),
            "sent_at": at(1, 8, 1),
        },
        {
            "channel": "sms",
            "direction": "MO",
            "content_type": "text",
            "message_id": "s3",
            "subaccount": "Brand A",
            "phone": PHONE_ANA,
            "status": "received",
            "created_at": at(1, 8, 30),
        },
    ]


# WhatsApp over the default range (the last 7 days): MT w1-w8, MO w9.
WHATSAPP_TOTALS = {"total": 8, "sent": 4, "delivered": 3, "read": 1, "errors": 3, "received": 1}
# Per day, oldest first, for the 7 days of the default range (today is last).
WHATSAPP_DAILY = {
    "total": [0, 0, 0, 0, 3, 4, 1],
    "delivered": [0, 0, 0, 0, 2, 1, 0],
    "errors": [0, 0, 0, 0, 1, 2, 0],
}
SMS_TOTALS = {"total": 2, "sent": 2, "delivered": 1, "read": None, "errors": 1, "received": 1}


class FixedViewerServices(Services):
    """Services whose every request is one given viewer (sign-in is tested on its own)."""

    def __init__(self, settings, engine, viewer: Viewer) -> None:
        super().__init__(settings=settings, engine=engine)
        self.viewer = viewer

    def current_viewer(self) -> Viewer:
        return self.viewer


def subaccount_ids(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            row.name: row.id for row in conn.execute(select(subaccounts.c.id, subaccounts.c.name))
        }


def viewer_for(engine, names=None, language: str = "es") -> Viewer:
    """An admin (every subaccount) or, given names, a user limited to those subaccounts."""
    known = subaccount_ids(engine)
    chosen = known.values() if names is None else [known[name] for name in names]
    return Viewer(
        user_id=None,
        username="ana.admin" if names is None else "bea",
        role="admin" if names is None else "user",
        scope=AccessScope.of(chosen),
        language=language,
        timezone=TIMEZONE,
    )


def as_json(component):
    """A component tree as plain dicts and lists (what Dash sends to the browser)."""
    if hasattr(component, "to_plotly_json"):
        return as_json(component.to_plotly_json())
    if isinstance(component, dict):
        return {key: as_json(value) for key, value in component.items()}
    if isinstance(component, (list, tuple)):
        return [as_json(value) for value in component]
    return component


def texts(component) -> list[str]:
    """Every text in a component tree, in document order."""
    node = as_json(component)
    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            if "props" in value:
                walk(value["props"].get("children"))
            else:
                walk(value.get("children"))

    walk(node)
    return found


def by_class(component, class_name: str) -> list:
    """The children texts of every node carrying `class_name`."""
    node = as_json(component)
    found = []

    def walk(value) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict) and "props" in value:
            props = value["props"]
            if class_name in str(props.get("className", "")).split():
                found.append(" ".join(texts(value)))
            walk(props.get("children"))

    walk(node)
    return found


def find_id(component, wanted: str):
    """The node with id `wanted` in a component tree (as dicts), or None."""
    node = as_json(component)
    stack = [node]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict) and "props" in value:
            if value["props"].get("id") == wanted:
                return value
            stack.append(value["props"].get("children"))
    return None
