"""POST /api/v1/messages: record sends (or inbound messages) with an API key of a subaccount.

The records use the loader's fields and pass the loader's validation: a request with any
invalid record stores nothing and answers 422 with every problem; otherwise the records are
merged by the domain's rules (so re-sending is harmless) and kept statuses that were waiting
for them are applied.
"""

from __future__ import annotations

import json
import time

import pandas as pd
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import RequestEntityTooLarge

from data_access.loader import LOADER_COLUMNS, merge_frame, validate_chunk
from data_access.tables import messages
from ingest.keys import find_key
from ingest.merge import apply_pending, write_lock

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_RECORDS = 10_000
WRITE_TRIES = 3

blueprint = Blueprint("ingest_api", __name__)


def error(status: int, message: str, **extra):
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def read_body(limit: int) -> bytes | None:
    """The raw body, or None when it is over the limit (announced or streamed)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    request.max_content_length = limit
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        return None


def too_large(limit: int):
    return error(
        413,
        f"The request body is larger than {limit // (1024 * 1024)} MiB; "
        f"send at most {MAX_RECORDS:,} records per request.",
    )


def _cell(value) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, dict | list):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, str):
        return value
    return None


def records_frame(records: list, subaccount: str) -> tuple[pd.DataFrame, list[dict]]:
    """Loader rows from JSON records (the key's subaccount filled in) and shape problems."""
    problems = []
    rows = []
    known = set(LOADER_COLUMNS)
    for index, record in enumerate(records):
        row = {name: "" for name in LOADER_COLUMNS}
        row["subaccount"] = subaccount
        if not isinstance(record, dict):
            problems.append({"index": index, "field": "-", "reason": "must be a JSON object"})
            rows.append(row)
            continue
        for name, value in record.items():
            if name not in known:
                problems.append(
                    {"index": index, "field": str(name), "reason": "is not a message field"}
                )
                continue
            cell = _cell(value)
            if cell is None:
                problems.append(
                    {"index": index, "field": name, "reason": "must be a string, number or null"}
                )
                continue
            if name == "subaccount":
                if cell.strip() not in ("", subaccount):
                    problems.append(
                        {
                            "index": index,
                            "field": name,
                            "reason": f"this API key records for subaccount {subaccount!r} only",
                        }
                    )
                continue
            row[name] = cell
        rows.append(row)
    return pd.DataFrame(rows, columns=list(LOADER_COLUMNS)), problems


def _store(engine, staged: pd.DataFrame, timezone: str) -> dict:
    ids = sorted(set(staged["message_id"]))
    with write_lock, engine.begin() as conn:
        existing = set()
        for start in range(0, len(ids), 1_000):
            chunk = ids[start : start + 1_000]
            existing.update(
                conn.execute(
                    select(messages.c.message_id).where(messages.c.message_id.in_(chunk))
                ).scalars()
            )
        merge_frame(conn, staged)
        applied = apply_pending(conn, timezone, ids)
    return {
        "accepted": int(len(staged)),
        "created": len(ids) - len(existing),
        "updated": len(existing),
        "statuses_applied": applied,
    }


@blueprint.post("/api/v1/messages")
def post_messages():
    ingest = current_app.extensions["ingest"]
    header = request.headers.get("Authorization", "")
    presented = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    with ingest.engine.connect() as conn:
        key = find_key(conn, presented) if presented else None
    if key is None:
        response = error(
            401,
            "A valid API key is required: send `Authorization: Bearer KEY` with a key made by "
            "`python app.py apikeys add --subaccount NAME`.",
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    body = read_body(MAX_BODY_BYTES)
    if body is None:
        return too_large(MAX_BODY_BYTES)
    try:
        records = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return error(400, f"The body is not valid JSON: {exc}")
    if not isinstance(records, list):
        return error(400, "The body must be a JSON array of message records.")
    if len(records) > MAX_RECORDS:
        return error(413, f"At most {MAX_RECORDS:,} records per request; got {len(records):,}.")
    if not records:
        return jsonify(accepted=0, created=0, updated=0, statuses_applied=0)
    frame, problems = records_frame(records, key.subaccount)
    timezone = ingest.settings.account_timezone
    staged, found = validate_chunk(frame, 0, "request", timezone)
    # A record already reported whole, or a field already reported, needs no second reason.
    flagged = {(p["index"], p["field"]) for p in problems}
    not_objects = {p["index"] for p in problems if p["field"] == "-"}
    problems += [
        {"index": p.line, "field": p.column, "reason": p.reason}
        for p in found
        if p.line not in not_objects and (p.line, p.column) not in flagged
    ]
    if problems:
        problems.sort(key=lambda p: (p["index"], p["field"]))
        return error(
            422,
            f"{len(problems)} problem(s) in the records; nothing was stored.",
            problems=problems,
        )
    return _store_with_retries(ingest.engine, staged, timezone)


def _store_with_retries(engine, staged: pd.DataFrame, timezone: str):
    attempt = 1
    while True:
        try:
            return jsonify(_store(engine, staged, timezone))
        except DBAPIError:
            # Another writer (a file load handed to the server) touched the same rows.
            if attempt >= WRITE_TRIES:
                current_app.logger.exception("recording messages failed")
                response = error(503, "The store is busy; nothing was stored. Try again shortly.")
                response.headers["Retry-After"] = "2"
                return response
            time.sleep(0.05 * attempt)
            attempt += 1
