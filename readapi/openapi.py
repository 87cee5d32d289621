"""The read API's OpenAPI 3.1 description, served at /api/v1/openapi.json."""

from __future__ import annotations

from data_access.domain import CHANNELS, CONTENT_TYPES, DIRECTIONS, STATUSES
from data_access.reports import COUNT_COLUMNS, DETAIL_COLUMNS, PCT_COLUMNS


def _query(name: str, description: str, schema: dict, many: bool = False) -> dict:
    if many:
        return {
            "name": name,
            "in": "query",
            "description": description + " Repeat the parameter for several.",
            "schema": {"type": "array", "items": schema},
            "style": "form",
            "explode": True,
        }
    return {"name": name, "in": "query", "description": description, "schema": schema}


_ALL_CONTENT_TYPES = sorted({kind for kinds in CONTENT_TYPES.values() for kind in kinds})

FILTERS = [
    _query("channel", "whatsapp (default) or sms.", {"type": "string", "enum": list(CHANNELS)}),
    _query(
        "start",
        "First day (YYYY-MM-DD, the account's time zone); default: 6 days before end.",
        {"type": "string", "format": "date"},
    ),
    _query("end", "Last day, included; default: today.", {"type": "string", "format": "date"}),
    _query("direction", "MT or MO.", {"type": "string", "enum": list(DIRECTIONS)}),
    _query(
        "subaccount",
        "Subaccount id (GET /api/v1/subaccounts); each must be one the key reads.",
        {"type": "integer"},
        many=True,
    ),
    _query("user", "Sending user id.", {"type": "integer"}, many=True),
    _query("campaign", "Campaign id.", {"type": "integer"}, many=True),
    _query(
        "content_type",
        "Content type.",
        {"type": "string", "enum": _ALL_CONTENT_TYPES},
        many=True,
    ),
    _query("status", "Message status.", {"type": "string", "enum": list(STATUSES)}, many=True),
]
MESSAGE_FILTERS = [
    _query("phone", "A phone number as people type it (6 to 15 digits).", {"type": "string"}),
    _query("message_id", "One message by its id (the last 90 days).", {"type": "string"}),
    _query("correlation_id", "Messages with this correlation id.", {"type": "string"}),
]


def _limit(default: int, maximum: int) -> dict:
    return _query(
        "limit",
        f"At most this many items (default {default}).",
        {"type": "integer", "minimum": 1, "maximum": maximum},
    )


_NULLABLE_INT = {"type": ["integer", "null"]}
_NULLABLE_NUMBER = {"type": ["number", "null"]}
FIGURES = {
    "type": "object",
    "properties": {
        **{name: _NULLABLE_INT for name in COUNT_COLUMNS},
        **{name: _NULLABLE_NUMBER for name in PCT_COLUMNS},
    },
    "description": "Counts of MT messages (received: MO) and percentages of total; read and "
    "read_pct are null for SMS (no read receipts).",
}
PERIOD = {
    "channel": {"type": "string"},
    "start": {"type": "string", "format": "date"},
    "end": {"type": "string", "format": "date"},
    "timezone": {"type": "string"},
}


def _answer(description: str, properties: dict) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {**PERIOD, **properties}}
            }
        },
    }


_ERROR = {"$ref": "#/components/responses/Error"}
_FAILURES = {
    "400": _ERROR,
    "401": _ERROR,
    "403": _ERROR,
    "429": {"$ref": "#/components/responses/TooMany"},
}


def _operation(summary: str, parameters: list, answer: dict, operation_id: str) -> dict:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": parameters,
            "responses": {"200": answer, **_FAILURES},
        }
    }


def openapi_document() -> dict:
    message = {
        "type": "object",
        "properties": {name: {"type": ["string", "null"]} for name in DETAIL_COLUMNS},
        "description": "Times are UTC (ISO 8601 with Z).",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Delivery reports: read API",
            "version": "1",
            "description": "The figures of the reports screen for a read key's subaccounts. "
            "Filters take the screen's query parameters and are checked the same way; days "
            "are in the account's time zone. Make a key with "
            "`python app.py apikeys add --read --subaccount NAME`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"readKey": []}],
        "paths": {
            "/api/v1/reports/daily": _operation(
                "Each day of the range, zero-filled",
                FILTERS,
                _answer("The daily series.", {"days": {"type": "array", "items": FIGURES}}),
                "dailySeries",
            ),
            "/api/v1/reports/totals": _operation(
                "The figures over the whole range",
                FILTERS,
                _answer("The totals.", {"totals": FIGURES}),
                "rangeTotals",
            ),
            "/api/v1/reports/errors": _operation(
                "The most frequent error codes of MT messages",
                [*FILTERS, _limit(10, 100)],
                _answer(
                    "Error codes by count.",
                    {
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "error_code": {"type": ["string", "null"]},
                                    "error_description": {"type": ["string", "null"]},
                                    "count": {"type": "integer"},
                                    "share": {"type": "number"},
                                },
                            },
                        }
                    },
                ),
                "topErrors",
            ),
            "/api/v1/reports/messages": _operation(
                "Messages, newest first, in keyset pages",
                [
                    *FILTERS,
                    *MESSAGE_FILTERS,
                    _limit(100, 1000),
                    _query(
                        "cursor",
                        "The next_cursor of the previous page.",
                        {"type": "string"},
                    ),
                ],
                _answer(
                    "One page; next_cursor is null on the last.",
                    {
                        "messages": {"type": "array", "items": message},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                ),
                "messagePage",
            ),
            "/api/v1/subaccounts": {
                "get": {
                    "operationId": "subaccounts",
                    "summary": "The subaccounts the key reads",
                    "responses": {
                        "200": {
                            "description": "Ids and names.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "subaccounts": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "properties": {
                                                        "id": {"type": "integer"},
                                                        "name": {"type": "string"},
                                                    },
                                                },
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        "401": _ERROR,
                        "429": {"$ref": "#/components/responses/TooMany"},
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "readKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A read key (drr_...); send keys are refused.",
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "code": {"type": "string"},
                        "field": {"type": "string"},
                        "retry_after": {"type": "integer"},
                    },
                }
            },
            "responses": {
                "Error": {
                    "description": "What is wrong, in the Accept-Language's language for filters.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "TooMany": {
                    "description": "Over the key's requests per minute.",
                    "headers": {
                        "Retry-After": {
                            "description": "Seconds until a request is taken again.",
                            "schema": {"type": "integer"},
                        }
                    },
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        },
    }
