"""POST /api/v1/messages: record sends (or inbound messages) with an API key of a subaccount.

The records use the loader's fields and pass the loader's validation: a request with any
invalid record stores nothing and answers 422 with every problem; otherwise the records are
merged by the domain's rules (so re-sending is harmless) and kept statuses that were waiting
for them are applied.
"""

from __future__ import annotations

import json

import pandas as pd
from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from data_access import audit
from data_access.clickhouse.binding import messages_of
from data_access.loader import LOADER_COLUMNS, validate_chunk
from data_access.merge import merge_records
from data_access.writes import StoreBusyError, Transaction, WriteScope, is_out_of_memory, write
from ingest.keys import ApiKey, find_key
from ingest.merge import apply_pending

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_RECORDS = 10_000

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


def _store(engine, staged: pd.DataFrame, timezone: str, key: ApiKey, address: str):
    """Merge the records in the key's scope; a refusal stores nothing and answers 422."""
    scope = WriteScope.subaccount(f"API key {key.prefix}…", key.subaccount)
    actor = f"API key {key.prefix}… ({key.subaccount})"
    staged = staged.reset_index(drop=True)
    ids = sorted(set(staged["message_id"]))
    if (clickhouse := messages_of(engine)) is not None:
        return _store_in_clickhouse(clickhouse, engine, staged, timezone, scope, actor, address)

    def work(tx: Transaction):
        audit.record(
            tx.conn,
            actor=actor,
            action=audit.KEY_USED,
            detail=f"POST /api/v1/messages: {len(staged)} record(s)",
            address=address,
        )
        result = merge_records(tx, staged, scope, source="api")
        if result.refused:
            audit.record(
                tx.conn,
                actor=actor,
                action=audit.WRITE_REFUSED,
                detail="; ".join(r.reason for r in result.refused)[:2_000],
                address=address,
            )
            return result, 0
        return result, apply_pending(tx, timezone, ids)

    result, applied = write(engine, work)
    if result.refused:
        problems = [
            {"index": int(staged["line"].loc[r.row]), "field": r.field, "reason": r.reason}
            for r in result.refused
        ]
        return error(
            422,
            f"{len(problems)} problem(s) in the records; nothing was stored.",
            problems=problems,
        )
    return jsonify(
        accepted=int(len(staged)),
        created=result.created,
        updated=result.updated + result.unchanged,
        statuses_applied=applied,
    )


def _store_in_clickhouse(
    clickhouse, engine, staged: pd.DataFrame, timezone: str, scope, actor, address
):
    """The same request on a ClickHouse store: the audit rows and the kept statuses in the
    relational store, the records in ClickHouse; kept statuses waiting for these messages
    are applied once the records are stored."""
    known = clickhouse.stored_ids(staged)
    result = clickhouse.ingest(staged, scope)

    def record(tx: Transaction) -> int:
        audit.record(
            tx.conn,
            actor=actor,
            action=audit.KEY_USED,
            detail=f"POST /api/v1/messages: {len(staged)} record(s)",
            address=address,
        )
        if result.refused:
            audit.record(
                tx.conn,
                actor=actor,
                action=audit.WRITE_REFUSED,
                detail="; ".join(r.reason for r in result.refused)[:2_000],
                address=address,
            )
            return 0
        return apply_pending(tx, timezone, sorted(set(staged["message_id"])))

    applied = write(engine, record)
    if result.refused:
        problems = [
            {"index": int(staged["line"].loc[r.row]), "field": r.field, "reason": r.reason}
            for r in result.refused
        ]
        return error(
            422,
            f"{len(problems)} problem(s) in the records; nothing was stored.",
            problems=problems,
        )
    messages = staged["message_id"].nunique()
    return jsonify(
        accepted=int(len(staged)),
        created=int(messages - len(known)),
        updated=int(len(staged) - (messages - len(known))),
        statuses_applied=applied,
    )


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
    try:
        return _store(ingest.engine, staged, timezone, key, request.remote_addr or "")
    except StoreBusyError:
        response = error(503, "The store is busy; nothing was stored. Try again shortly.")
        response.headers["Retry-After"] = "2"
        return response
    except Exception as failure:  # the engine's refusal for memory, raised through the driver
        if not is_out_of_memory(failure):
            raise
        response = error(
            503,
            "The store ran out of memory for this batch; nothing was stored. Send fewer "
            "records at once, or ask the operator to raise DUCKDB_MEMORY_LIMIT.",
        )
        response.headers["Retry-After"] = "5"
        return response
