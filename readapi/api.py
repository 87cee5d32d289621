"""GET /api/v1/reports/daily, /totals, /errors and /messages, and /api/v1/subaccounts.

The filters are the screen's query string (reporting/url_query), validated by the same view
state and worded by the same catalog; a read key (data_access/read_keys) decides which
subaccounts are read, and one that names a subaccount outside it is refused. Messages come in
keyset pages: newest first, each page's `next_cursor` names the last row it held.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import Engine, and_, or_, select

from config import Settings
from data_access import reports
from data_access.clickhouse.binding import messages_of
from data_access.filters import AccessScope, FilterError, ReportFilter
from data_access.read_keys import ReadKey, find_read_key
from data_access.tables import messages, subaccounts
from readapi.limits import RateLimiter
from readapi.openapi import openapi_document
from reporting.i18n import filter_error_text
from reporting.languages import LANGUAGES
from reporting.url_query import LIST_KEYS, SINGLE_KEYS, state_from_search

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_ERRORS = 100
# Parameters besides the view's own.
PAGING_KEYS = ("limit", "cursor")
KNOWN_KEYS = frozenset(SINGLE_KEYS) | frozenset(LIST_KEYS) | {"order", *PAGING_KEYS}

blueprint = Blueprint("read_api", __name__)
m = messages.c


@dataclass
class ReadApi:
    """What the endpoints need, kept in `server.extensions["read_api"]`."""

    settings: Settings
    engine: Engine
    limiter: RateLimiter = field(default_factory=RateLimiter)


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def install(server, settings: Settings, engine: Engine) -> ReadApi:
    api = ReadApi(settings, engine)
    server.extensions["read_api"] = api
    server.register_blueprint(blueprint)
    return api


def _api() -> ReadApi:
    return current_app.extensions["read_api"]


def _language() -> str:
    """The language of error texts: the request's Accept-Language, English by default."""
    best = request.accept_languages.best_match(LANGUAGES + ("pt", "pt-PT"), default="en")
    return "pt-BR" if best.startswith("pt") else best


def _error(error: ApiError) -> Response:
    response = jsonify({"error": error.message, **error.extra})
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if "retry_after" in error.extra:
        response.headers["Retry-After"] = str(error.extra["retry_after"])
    return response


def _key(api: ReadApi) -> ReadKey:
    header = request.headers.get("Authorization", "")
    presented = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    key = None
    if presented:
        with api.engine.connect() as conn:
            key = find_read_key(conn, presented)
    if key is None:
        raise ApiError(
            401,
            "A valid read key is required: send `Authorization: Bearer KEY` with a key made by "
            "`python app.py apikeys add --read --subaccount NAME` (send keys do not read).",
        )
    wait = api.limiter.take(key.id, key.per_minute or api.settings.read_api_per_minute)
    if wait:
        raise ApiError(
            429,
            f"This key made more than {key.per_minute or api.settings.read_api_per_minute} "
            f"requests in a minute; try again in {wait} s.",
            retry_after=wait,
        )
    return key


def _filter(key: ReadKey, view: str, timezone: str) -> ReportFilter:
    """The request's filter, checked as the screen checks it; a subaccount the key may not
    read is refused rather than dropped."""
    unknown = sorted(set(request.args) - KNOWN_KEYS)
    if unknown:
        raise ApiError(
            400,
            "Unknown parameter(s): " + ", ".join(unknown) + ". See /api/v1/openapi.json.",
            code="unknown_parameter",
        )
    try:
        state = replace(state_from_search(request.query_string.decode("utf-8", "replace")))
        state = replace(state, view=view)
        flt = state.to_filter(timezone)
    except FilterError as error:
        raise ApiError(
            400, filter_error_text(_language(), error), code=error.code, field=error.field
        ) from None
    outside = [i for i in flt.subaccounts if not key.scope.allows(i)]
    if outside:
        raise ApiError(
            403,
            "This key may not read subaccount(s) " + ", ".join(str(i) for i in outside) + ".",
            code="subaccount_not_allowed",
        )
    return flt


def _period(flt: ReportFilter) -> dict:
    return {
        "channel": flt.channel,
        "start": flt.start.isoformat(),
        "end": flt.end.isoformat(),
        "timezone": flt.timezone,
    }


def _plain(value):
    """A JSON value of a frame cell (NA and NaN as null, numpy numbers as Python's)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {column: _plain(value) for column, value in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _endpoint(view: str, answer: Callable[[ReadApi, AccessScope, ReportFilter], dict]):
    def handler():
        api = _api()
        try:
            key = _key(api)
            flt = _filter(key, view, api.settings.account_timezone)
            return jsonify({**_period(flt), **answer(api, key.scope, flt)})
        except ApiError as error:
            return _error(error)

    handler.__name__ = f"read_{answer.__name__}"
    return handler


def _daily(api: ReadApi, scope: AccessScope, flt: ReportFilter) -> dict:
    daily = reports.daily_series(api.engine, scope, flt)
    daily["date"] = [day.isoformat() for day in daily["date"]]
    return {"days": _records(daily)}


def _totals(api: ReadApi, scope: AccessScope, flt: ReportFilter) -> dict:
    daily = reports.daily_series(api.engine, scope, flt)
    return {"totals": reports.range_totals(daily, flt.channel)}


def _limit(default: int, maximum: int) -> int:
    raw = request.args.get("limit", "")
    if raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, f"limit must be a whole number from 1 to {maximum}.", code="bad_limit")
    return int(raw)


def _errors(api: ReadApi, scope: AccessScope, flt: ReportFilter) -> dict:
    frame = reports.top_errors(api.engine, scope, flt, limit=_limit(10, MAX_ERRORS))
    return {"errors": _records(frame)}


def encode_cursor(created_at: datetime, message_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), message_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created, message_id = json.loads(raw)
        return datetime.fromisoformat(created), str(message_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ApiError(
            400, "cursor is not one this API gave (use next_cursor as given).", code="bad_cursor"
        ) from None


def _utc(value) -> str | None:
    """A stored naive-UTC time as ISO 8601 with Z."""
    if value is None or value is pd.NaT:
        return None
    return value.isoformat() + "Z"


def _clickhouse_messages(clickhouse, scope: AccessScope, flt: ReportFilter, limit: int) -> dict:
    """The same pages from a ClickHouse store (its keyset query finds them node by node)."""
    cursor = request.args.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    frame = clickhouse.keyset_rows(scope, flt, after, limit + 1)
    items = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for item in items:
        for column in reports.TIME_COLUMNS:
            if item[column] is not None:
                item[column] = pd.Timestamp(item[column]).to_pydatetime()
    return _answer(items, limit)


def _answer(items: list[dict], limit: int) -> dict:
    """A page from up to limit + 1 items (times as stored, naive UTC): the first `limit`, and
    the cursor naming the last of them when there are more."""
    page, more = items[:limit], len(items) > limit
    last = page[-1] if page else None
    cursor = encode_cursor(last["created_at"], last["message_id"]) if more and last else None
    for item in page:
        for column in reports.TIME_COLUMNS:
            item[column] = _utc(item[column])
    return {"messages": page, "next_cursor": cursor}


def _messages(api: ReadApi, scope: AccessScope, flt: ReportFilter) -> dict:
    limit = _limit(DEFAULT_PAGE, MAX_PAGE)
    if (clickhouse := messages_of(api.engine)) is not None:
        return _clickhouse_messages(clickhouse, scope, flt, limit)
    # Newest first, ties by message id: the order detailed_select gives for created_at.
    query = reports.detailed_select(scope, flt, "created_at", True).limit(limit + 1)
    cursor = request.args.get("cursor")
    if cursor:
        created_at, message_id = decode_cursor(cursor)
        query = query.where(
            or_(
                m.created_at < created_at,
                and_(m.created_at == created_at, m.message_id < message_id),
            )
        )
    rows: list = []
    if scope.subaccount_ids:
        with api.engine.connect() as conn:
            rows = list(conn.execute(query).all())
    return _answer([dict(row._mapping) for row in rows], limit)


blueprint.add_url_rule("/api/v1/reports/daily", view_func=_endpoint("consolidated", _daily))
blueprint.add_url_rule("/api/v1/reports/totals", view_func=_endpoint("consolidated", _totals))
blueprint.add_url_rule("/api/v1/reports/errors", view_func=_endpoint("consolidated", _errors))
blueprint.add_url_rule("/api/v1/reports/messages", view_func=_endpoint("detailed", _messages))


@blueprint.get("/api/v1/subaccounts")
def read_subaccounts():
    """The subaccounts the key reads, with the ids the filters take."""
    api = _api()
    try:
        key = _key(api)
    except ApiError as error:
        return _error(error)
    with api.engine.connect() as conn:
        rows = conn.execute(
            select(subaccounts.c.id, subaccounts.c.name)
            .where(subaccounts.c.id.in_(key.subaccount_ids))
            .order_by(subaccounts.c.name)
        ).all()
    return jsonify({"subaccounts": [{"id": row.id, "name": row.name} for row in rows]})


@blueprint.get("/api/v1/openapi.json")
def openapi():
    return jsonify(openapi_document())
