"""Merging validated records into messages, by key, within the writer's scope.

Every writer (file loads, the API, the webhook worker, demo data) hands its validated rows
(loader.validate_chunk's frame) to `merge_records` inside a write (data_access/writes.py):

1. The batch's message ids are looked up by key: the stored messages' identity (subaccount,
   channel, direction) and day.
2. Each row is checked against that identity and the writer's scope. A stored message's
   identity never changes: a later record that names another subaccount, channel or direction
   is refused, and so is any record for a message outside the writer's subaccounts.
3. Stored ids are updated, and only where a value changes, by the domain's rules: the status
   moves only forward, each timestamp keeps its earliest value, and empty fields are filled,
   never overwritten. Their stored rows are read first (on DuckDB at the row the recent index
   names, else on their day; on PostgreSQL by key), and the roll-up moves each changed message
   from its old counts to its new ones.
4. New ids are inserted, and counted into the roll-up.
5. Each record's events are kept, but for those kept already.

The cost follows the batch: lookups and updates go by message id or row, not over the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pandas as pd
from duckdb_engine.datatypes import UBigInteger as DuckUBigInteger
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)

from data_access import contact_days, message_keys, rollup
from data_access.countries import countries_of
from data_access.domain import RANK_STATUS, STATUS_RANK
from data_access.sql import duckdb_relation, next_id, raw_connection
from data_access.tables import (
    MESSAGE_ROW,
    at_rows,
    campaigns,
    contacts,
    message_events,
    messages,
    phone_tail,
    subaccounts,
    users,
)
from data_access.validation import quoted
from data_access.writes import Transaction, WriteScope

# Up to this many ids a lookup names them (the key's index answers); past it, one join.
KEYED_LOOKUP_MAX = 2_000
ID_CHUNK = 1_000


@dataclass(frozen=True)
class Refusal:
    """A record the writer may not write. `row` is its position in the frame given."""

    row: int
    message_id: str
    field: str
    reason: str


@dataclass
class MergeResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0
    refused: list[Refusal] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


@dataclass(frozen=True)
class Identity:
    """What a stored message keeps from its first record."""

    subaccount: str
    channel: str
    direction: str
    created_day: date | None = None
    # Where the message's row is (DuckDB's rowid, from the recent index): a proposal only.
    row: int | None = None


# An event's hash (data_access/message_keys.py): kept on DuckDB only.
UBigInteger = BigInteger().with_variant(DuckUBigInteger(), "duckdb")

# --------------------------------------------------------------------------- lookups


def _chunks(values: list, size: int = ID_CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


_lookup_metadata = MetaData()
lookup_ids = Table(
    "merge_lookup_ids",
    _lookup_metadata,
    Column("message_id", String(128)),
    prefixes=["TEMPORARY"],
)


def stored_identities(conn: Connection, ids) -> dict[str, Identity]:
    """The identity of each stored message among `ids`."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    if message_keys.in_use(conn):
        return _located_identities(conn, ids)
    m = messages.c
    columns = (m.message_id, subaccounts.c.name, m.channel, m.direction, m.created_day)
    found: dict[str, Identity] = {}
    if len(ids) <= KEYED_LOOKUP_MAX:
        for chunk in _chunks(ids):
            keyed = (
                select(m.message_id, m.subaccount_id, m.channel, m.direction, m.created_day)
                .where(m.message_id.in_(chunk))
                .limit(len(chunk))
                .subquery("keyed")
            )
            k = keyed.c
            query = select(
                k.message_id, subaccounts.c.name, k.channel, k.direction, k.created_day
            ).join_from(keyed, subaccounts, subaccounts.c.id == k.subaccount_id)
            for row in conn.execute(query):
                found[row[0]] = Identity(*row[1:])
        return found
    _fresh(conn, lookup_ids)
    _copy_frame(conn, lookup_ids, pd.DataFrame({"message_id": ids}))
    query = (
        select(*columns)
        .join_from(messages, lookup_ids, lookup_ids.c.message_id == m.message_id)
        .join(subaccounts, subaccounts.c.id == m.subaccount_id)
    )
    for row in conn.execute(query):
        found[row[0]] = Identity(*row[1:])
    conn.execute(text(f"DROP TABLE {lookup_ids.name}"))
    return found


def _located_identities(conn: Connection, ids: list[str]) -> dict[str, Identity]:
    """stored_identities on DuckDB: through the key tables (data_access/message_keys.py)."""
    if len(ids) <= message_keys.LITERAL_MAX:
        located = message_keys.locate(conn, ids)
    else:
        _fresh(conn, lookup_ids)
        _copy_frame(conn, lookup_ids, pd.DataFrame({"message_id": ids}))
        located = message_keys.locate(conn, ids, staged=lookup_ids.name)
        conn.execute(text(f"DROP TABLE {lookup_ids.name}"))
    if not located:
        return {}
    wanted = sorted({row[1] for row in located.values()})
    names = dict(
        conn.execute(
            select(subaccounts.c.id, subaccounts.c.name).where(subaccounts.c.id.in_(wanted))
        ).all()
    )
    return {
        message_id: Identity(names[subaccount_id], channel, direction, day, row)
        for message_id, (day, subaccount_id, channel, direction, row) in located.items()
    }


IDENTITY_COLUMNS = ["message_id", "subaccount", "channel", "direction", "created_day"]


def stored_identity_frame(conn: Connection, ids) -> pd.DataFrame:
    """stored_identities of a big batch whose ids come as an Arrow table (column message_id):
    a frame of message_id, subaccount, channel, direction, created_day, one row a stored
    message. On DuckDB two statements whatever the batch's size (data_access/message_keys.py)."""
    if not message_keys.in_use(conn):
        found = stored_identities(conn, ids.column("message_id").to_pylist())
        return pd.DataFrame(
            [(i, x.subaccount, x.channel, x.direction, x.created_day) for i, x in found.items()],
            columns=IDENTITY_COLUMNS,
        )
    raw = raw_connection(conn)
    raw.register("lookup_ids_view", ids)
    try:
        raw.execute(
            f"CREATE OR REPLACE TEMP TABLE {lookup_ids.name} AS "
            "SELECT message_id FROM lookup_ids_view"
        )
    finally:
        raw.unregister("lookup_ids_view")
    located = message_keys.located_table(conn, lookup_ids.name).to_pandas()
    raw.execute(f"DROP TABLE {lookup_ids.name}")
    names = dict(conn.execute(select(subaccounts.c.id, subaccounts.c.name)).all())
    located["subaccount"] = located["subaccount_id"].map(names)
    return located[IDENTITY_COLUMNS]


# --------------------------------------------------------------------------- checks


def check_records(
    frame: pd.DataFrame, stored: dict[str, Identity], scope: WriteScope
) -> list[Refusal]:
    """Refusals for rows outside the scope or disagreeing with a message's identity.

    The first record of a message fixes its identity: the stored one, or else the first row
    of the batch for that id.
    """
    refused: list[Refusal] = []
    first: dict[str, Identity] = {}
    # Only rows of stored or repeated ids, or outside the scope, can be refused: the others
    # are a message's first and only record.
    ids = frame["message_id"]
    suspect = _among(ids, stored.keys()) | ids.duplicated(keep=False)
    if scope.subaccounts is not None:
        suspect |= ~frame["subaccount"].map(scope.allows).astype(bool)
    rows = suspect.to_numpy().nonzero()[0]
    columns = frame[["message_id", "subaccount", "channel", "direction"]].iloc[rows]
    # Column by column as lists: iterating rows of Arrow strings costs a call a value.
    for row, message_id, subaccount, channel, direction in zip(
        rows.tolist(), *(columns[c].tolist() for c in columns.columns), strict=True
    ):
        known = stored.get(message_id)
        if known is not None and not scope.allows(known.subaccount):
            refused.append(
                Refusal(
                    row,
                    message_id,
                    "message_id",
                    f"message {message_id!r} belongs to a subaccount this "
                    f"{scope.writer} may not write",
                )
            )
            continue
        if not scope.allows(subaccount):
            refused.append(
                Refusal(
                    row,
                    message_id,
                    "subaccount",
                    f"{scope.writer} may not write subaccount {quoted(subaccount)}",
                )
            )
            continue
        identity = known or first.get(message_id)
        if identity is None:
            first[message_id] = Identity(subaccount, channel, direction)
            continue
        where = "stored" if known is not None else "first recorded"
        for name, had, got in (
            ("subaccount", identity.subaccount, subaccount),
            ("channel", identity.channel, channel),
            ("direction", identity.direction, direction),
        ):
            if had != got:
                refused.append(
                    Refusal(
                        row,
                        message_id,
                        name,
                        f"message {message_id!r} was {where} with {name} "
                        f"{quoted(had)}; a later record cannot change it to {quoted(got)}",
                    )
                )
                break
    return refused


# --------------------------------------------------------------------------- staging

_stage_metadata = MetaData()
merge_stage = Table(
    "merge_stage",
    _stage_metadata,
    Column("message_id", String(128)),
    Column("channel", String(16)),
    Column("direction", String(2)),
    Column("subaccount", String(200)),
    Column("user", String(200)),
    Column("campaign", String(200)),
    Column("content_type", String(32)),
    Column("phone", String(16)),
    Column("contact_name", Text),
    Column("content", Text),
    Column("status_rank", Integer),
    Column("error_code", String(32)),
    Column("error_description", Text),
    Column("created_at", DateTime),
    Column("created_day", Date),
    Column("sent_at", DateTime),
    Column("delivered_at", DateTime),
    Column("read_at", DateTime),
    Column("correlation_id", String(128)),
    Column("operator", String(100)),
    Column("template", String(512)),
    Column("known", Boolean),
    prefixes=["TEMPORARY"],
)
STAGE_COLUMNS = tuple(c.name for c in merge_stage.columns if c.name != "known")

# The folded batch: one row per message id, in the messages' own columns.
merge_rows = Table(
    "merge_rows",
    _stage_metadata,
    *(Column(c.name, c.type) for c in messages.columns),
    Column("known", Boolean),
    prefixes=["TEMPORARY"],
)
MESSAGE_COLUMNS = tuple(c.name for c in merge_rows.columns if c.name != "known")


def _among(values: pd.Series, named) -> pd.Series:
    """Whether each of `values` is one of `named` (a set, or a dict's keys). pandas' own isin
    turns every value named into an Arrow scalar, in Python, when the values are Arrow
    strings: 0.3 s for 100,000 ids, where hashing them as objects takes milliseconds."""
    return values.astype(object).isin(list(named))


def _is_missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def _copy_frame(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """Bulk-insert a frame into a (temporary) table: a registered view on DuckDB, COPY on
    PostgreSQL."""
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    raw = raw_connection(conn)
    if conn.dialect.name == "duckdb":
        raw.register("merge_frame_view", frame)
        try:
            raw.execute(
                f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM merge_frame_view"
            )
        finally:
            raw.unregister("merge_frame_view")
        return
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in frame.itertuples(index=False, name=None):
            copy.write_row(tuple(None if _is_missing(v) else v for v in row))


names_stage = Table(
    "merge_names",
    _stage_metadata,
    Column("name", String(200)),
    prefixes=["TEMPORARY"],
)


def _ensure_names(conn: Connection, table: Table, column: str, values, derived=None) -> None:
    """Create the names among `values` that the table does not have yet, looking them up by
    key; `derived` maps further columns to a function of the name's SQL expression."""
    values = pd.Series(values, dtype=object)
    values = sorted(v for v in values.dropna().unique() if isinstance(v, str) and v)
    if not values:
        return
    key = table.c[column]
    if len(values) <= KEYED_LOOKUP_MAX:
        have: set[str] = set()
        for chunk in _chunks(values):
            have.update(conn.execute(select(key).where(key.in_(chunk))).scalars())
        values = [v for v in values if v not in have]
        if not values:
            return
    _fresh(conn, names_stage)
    _copy_frame(conn, names_stage, pd.DataFrame({"name": values}))
    name = names_stage.c.name
    derived = derived or {}
    row = [next_id(table), name]
    row += [make(name) for make in derived.values()]
    missing = select(*row).where(~exists().where(key == name))
    conn.execute(insert(table).from_select(["id", column, *derived], missing))
    conn.execute(text(f"DROP TABLE {names_stage.name}"))


contacts_stage = Table(
    "merge_contacts",
    _stage_metadata,
    Column("phone", String(16)),
    Column("country", String(2)),
    prefixes=["TEMPORARY"],
)


def _ensure_contacts(conn: Connection, phones) -> None:
    """Create the contacts of the numbers not stored yet, each with its tail and country (the
    country worked out here, once per number: data_access/countries.py)."""
    values = sorted({v for v in pd.Series(phones, dtype=object).dropna() if v})
    if not values:
        return
    phone = contacts.c.phone
    if len(values) <= KEYED_LOOKUP_MAX:
        have: set[str] = set()
        for chunk in _chunks(values):
            have.update(conn.execute(select(phone).where(phone.in_(chunk))).scalars())
        values = [v for v in values if v not in have]
        if not values:
            return
        _fresh(conn, contacts_stage)
    else:
        # Many numbers (a load's part): the stored ones are told apart in the engine first,
        # so that only new numbers have their country worked out (most of a part's are known).
        _fresh(conn, contacts_stage)
        _copy_frame(conn, contacts_stage, pd.DataFrame({"phone": values, "country": None}))
        values = _new_phones(conn)
        conn.execute(text(f"DELETE FROM {contacts_stage.name}"))
        if not values:
            conn.execute(text(f"DROP TABLE {contacts_stage.name}"))
            return
    _copy_frame(
        conn, contacts_stage, pd.DataFrame({"phone": values, "country": countries_of(values)})
    )
    s = contacts_stage.c
    missing = select(
        next_id(contacts), s.phone, phone_tail(s.phone), s.country, literal(0, BigInteger)
    ).where(~exists().where(phone == s.phone))
    columns = ["id", "phone", "phone_tail", "country", "active_days"]
    conn.execute(insert(contacts).from_select(columns, missing))
    conn.execute(text(f"DROP TABLE {contacts_stage.name}"))


def _new_phones(conn: Connection) -> list[str]:
    """The staged numbers no contact has yet, in order. On DuckDB they come as one Arrow
    column (a part's 100,000 new numbers in milliseconds, not a Python row each)."""
    s = contacts_stage.c
    query = select(s.phone).where(~exists().where(contacts.c.phone == s.phone))
    if conn.dialect.name == "duckdb":
        ordered = duckdb_relation(conn, query.order_by(s.phone))
        return ordered.to_arrow_table().column(0).to_pylist()
    return sorted(conn.execute(query).scalars())


def _rank(column):
    return case(STATUS_RANK, value=column)


def _status_of(rank_column):
    return case({rank: status for status, rank in STATUS_RANK.items()}, value=rank_column)


def _folded_rows(with_contacts: bool, fold: bool = True):
    """One row per staged message id, names replaced by ids (the loader's fold). Without
    contacts (a batch of stored messages only) no contact is read: none is written. Without
    `fold` every staged id is already one row (the common batch): nothing is grouped."""
    s = merge_stage.c
    folds = (
        ("message_id", None),
        ("channel", func.min),
        ("direction", func.min),
        ("subaccount", func.min),
        ("user", func.max),
        ("campaign", func.max),
        ("content_type", func.min),
        ("phone", func.min),
        ("contact_name", func.max),
        ("content", func.max),
        ("status_rank", func.max),
        ("error_code", func.max),
        ("error_description", func.max),
        ("created_at", func.min),
        ("created_day", func.min),
        ("sent_at", func.min),
        ("delivered_at", func.min),
        ("read_at", func.min),
        ("correlation_id", func.max),
        ("operator", func.max),
        ("template", func.max),
        ("known", func.bool_or),
    )
    if fold:
        columns = [s[name] if how is None else how(s[name]).label(name) for name, how in folds]
        folded = select(*columns).group_by(s.message_id).subquery("folded")
    else:
        folded = select(*(s[name] for name, _ in folds)).subquery("folded")
    f = folded.c
    query = select(
        f.message_id,
        f.channel,
        f.direction,
        subaccounts.c.id,
        users.c.id,
        campaigns.c.id,
        f.content_type,
        contacts.c.id if with_contacts else literal(None, BigInteger),
        f.contact_name,
        f.content,
        _status_of(f.status_rank),
        # The error fields describe the current status only (see _merged_values).
        case((f.status_rank == STATUS_RANK["error"], f.error_code), else_=None),
        case((f.status_rank == STATUS_RANK["error"], f.error_description), else_=None),
        f.created_at,
        f.created_day,
        f.sent_at,
        f.delivered_at,
        f.read_at,
        f.correlation_id,
        contacts.c.country if with_contacts else literal(None, String(2)),
        f.operator,
        f.template,
        f.known,
    )
    joined = folded.join(subaccounts, subaccounts.c.name == f.subaccount)
    if with_contacts:
        joined = joined.outerjoin(contacts, contacts.c.phone == f.phone)
    return query.select_from(
        joined.outerjoin(users, users.c.username == f.user).outerjoin(
            campaigns, campaigns.c.name == f.campaign
        )
    )


def _merged_values(old, new, advances) -> dict:
    """A stored message's columns after a record, by the merge rules (SQL expressions), given
    whether the record's status advances the stored one.

    The error code and description describe the current status: they are kept while the
    message is in `error` and cleared once it moves on (the failure stays in its events).
    """
    status = case((advances, new.status), else_=old.status)
    new_error = and_(advances, new.error_code.is_not(None))
    in_error = status == "error"
    return {
        "status": status,
        "error_code": case(
            (~in_error, None),
            (new_error, new.error_code),
            else_=func.coalesce(old.error_code, new.error_code),
        ),
        "error_description": case(
            (~in_error, None),
            (new_error, new.error_description),
            else_=func.coalesce(old.error_description, new.error_description),
        ),
        "sent_at": func.least(old.sent_at, new.sent_at),
        "delivered_at": func.least(old.delivered_at, new.delivered_at),
        "read_at": func.least(old.read_at, new.read_at),
        "user_id": func.coalesce(old.user_id, new.user_id),
        "campaign_id": func.coalesce(old.campaign_id, new.campaign_id),
        # Filled in, never overwritten, like the fields above: the first operator reported
        # (a later report naming another does not move the message between operators' counts).
        "operator": func.coalesce(old.operator, new.operator),
        "template": func.coalesce(old.template, new.template),
    }


# The columns _merged_values works out (the filled-only ones are written apart).
MERGED_COLUMNS = (
    "status",
    "error_code",
    "error_description",
    "sent_at",
    "delivered_at",
    "read_at",
    "user_id",
    "campaign_id",
    "operator",
    "template",
)
# Filled in from a record where the stored message has none, and not part of the roll-up: read
# from the stored rows only when the batch brings one (a status never does), since reading them
# costs most of a small batch's read (long texts).
FILLED_ONLY = ("contact_name", "content", "correlation_id")
# A record's columns the merge reads.
_RECORD_COLUMNS = (*MERGED_COLUMNS, *FILLED_ONLY)


def _fresh(conn: Connection, table: Table) -> None:
    """(Re)create a temporary table of this transaction."""
    conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
    table.create(conn)


def _write(
    conn: Connection, frame: pd.DataFrame, known: dict[str, Identity], events: bool
) -> MergeResult:
    """`events`: the batch's events are staged (events_stage), so new messages' keys take
    their hashes."""
    known_ids = set(known)
    staged = frame[list(STAGE_COLUMNS)]
    staged["known"] = _among(staged["message_id"], known_ids)
    new = staged[~staged["known"]]
    for table in (merge_stage, merge_rows):
        _fresh(conn, table)
    _copy_frame(conn, merge_stage, staged)
    _ensure_names(conn, subaccounts, "name", new["subaccount"])
    _ensure_names(conn, users, "username", staged["user"])
    _ensure_names(conn, campaigns, "name", staged["campaign"])
    # A stored message keeps its contact: only new messages' phones are looked up.
    _ensure_contacts(conn, new["phone"])
    folded = _folded_rows(with_contacts=not new.empty, fold=not frame["message_id"].is_unique)
    conn.execute(insert(merge_rows).from_select([*MESSAGE_COLUMNS, "known"], folded))

    result = MergeResult()
    if known_ids:
        # Before any insert: a row this transaction inserts has no lasting row number yet.
        result.updated = _update_known(conn, known, filled=_filled_columns(staged))
        result.unchanged = len(known_ids) - result.updated
    if len(known_ids) < len(staged):
        result.created = _insert_new(conn, events)
    for table in (merge_rows, merge_stage):
        conn.execute(text(f"DROP TABLE {table.name}"))
    return result


def _insert_new(conn: Connection, events: bool) -> int:
    """Insert the batch's new messages (in message_keys.INSERT_ORDER, so each one's row number
    is known), count them into the roll-up and record their keys; returns how many."""
    r = merge_rows.c
    keyed = message_keys.in_use(conn)
    first_row = message_keys.next_row(conn) if keyed else 0
    new_rows = select(*(r[c] for c in MESSAGE_COLUMNS)).where(~r.known)
    if keyed:
        new_rows = new_rows.order_by(*(r[c] for c in message_keys.INSERT_ORDER.split(", ")))
    conn.execute(insert(messages).from_select(list(MESSAGE_COLUMNS), new_rows))
    # Every row of the batch not stored was inserted (counted in the engine, not a row each
    # returned to Python).
    created = conn.execute(
        select(func.count()).select_from(merge_rows).where(~r.known)
    ).scalar_one()
    if created:
        rollup.add(conn, merge_rows, ~r.known)
        contact_days.mark(conn, merge_rows, ~r.known)
        if keyed:
            message_keys.add(
                conn,
                merge_rows.name,
                "NOT known",
                first_row=first_row,
                count=created,
                events=events_stage.name if events else None,
            )
    return created


_old_metadata = MetaData()
merge_old = Table(
    "merge_old",
    _old_metadata,
    Column("message_row", BigInteger),
    *(Column(c.name, c.type) for c in messages.columns if c.name != "contact_id"),
    prefixes=["TEMPORARY"],
)
merge_changed = Table(
    "merge_changed",
    _old_metadata,
    *(Column(c.name, c.type) for c in merge_old.columns),
    prefixes=["TEMPORARY"],
)
OLD_COLUMNS = tuple(c.name for c in merge_old.columns if c.name != "message_row")


def _filled_columns(staged: pd.DataFrame) -> tuple[str, ...]:
    known = staged[staged["known"]]
    return tuple(name for name in FILLED_ONLY if known[name].notna().any())


def _read_old(conn: Connection, known: dict[str, Identity], filled: tuple[str, ...]) -> None:
    """The stored rows of the batch's known messages into merge_old: on DuckDB at the rows
    the recent index proposes (confirmed by id), else on their days; on PostgreSQL by key."""
    _fresh(conn, merge_old)
    m, r = messages.c, merge_rows.c
    read = [c for c in OLD_COLUMNS if c not in FILLED_ONLY or c in filled]
    target = ["message_row", *read]
    known_ids = select(r.message_id).where(r.known)
    if not message_keys.in_use(conn):
        query = select(literal(None, BigInteger), *(m[c] for c in read)).where(
            m.message_id.in_(known_ids)
        )
        conn.execute(insert(merge_old).from_select(target, query))
        return
    row_id = MESSAGE_ROW
    rows = sorted({i.row for i in known.values() if i.row is not None})
    found: set[str] = set()
    for chunk in _chunks(rows):
        query = select(row_id, *(m[c] for c in read)).where(
            at_rows(chunk), m.message_id.in_(known_ids)
        )
        conn.execute(insert(merge_old).from_select(target, query))
    if rows:
        found = set(conn.execute(select(merge_old.c.message_id)).scalars())
    missing = sorted(set(known) - found)
    if not missing:
        return
    days = sorted({d for i in missing if (d := known[i].created_day) is not None})
    condition = [m.message_id.in_(known_ids)]
    if days:
        # Messages are stored in about the order they were created, so the days let DuckDB
        # skip the row groups of every other day before it compares ids.
        condition += [m.created_day.between(days[0], days[-1]), m.created_day.in_(days)]
    if len(missing) <= KEYED_LOOKUP_MAX:
        condition.append(m.message_id.in_(missing))
    query = select(row_id, *(m[c] for c in read)).where(*condition)
    conn.execute(insert(merge_old).from_select(target, query))
    if any(known[i].row is not None for i in missing):
        # A proposed row that missed: the store compacted its table since.
        message_keys.reseat(conn)


def _update_known(conn: Connection, known: dict[str, Identity], filled: tuple[str, ...]) -> int:
    """Update the batch's stored messages where a value changes; returns how many changed."""
    _read_old(conn, known, filled)
    o, r = merge_old.c, merge_rows.c
    # In steps, so the engine gets each expression once: the status's rank compared, then
    # the merged values, then the rows where one differs from the stored one.
    record = [n for n in _RECORD_COLUMNS if n not in FILLED_ONLY or n in filled]
    ranked = (
        select(
            *merge_old.columns,
            *(r[n].label(f"new_{n}") for n in record),
            (_rank(r.status) > _rank(o.status)).label("advances"),
        )
        .join_from(merge_old, merge_rows, r.message_id == o.message_id)
        .subquery("ranked")
    )
    k = ranked.c
    values = _merged_values(
        SimpleNamespace(**{c.name: k[c.name] for c in merge_old.columns}),
        SimpleNamespace(**{n: k[f"new_{n}"] for n in record}),
        k.advances,
    )
    for name in FILLED_ONLY:
        # The record's value, written only where the stored message has none (_apply_changes).
        values[name] = k[f"new_{name}"] if name in filled else literal(None, messages.c[name].type)
    kept = [c.name for c in merge_old.columns if c.name not in values]
    merged = select(
        *(k[name] for name in kept),
        *(expr.label(f"merged_{name}") for name, expr in values.items()),
        *(
            k[name].label(f"stored_{name}")
            for name in values
            if name in filled or name in MERGED_COLUMNS
        ),
    ).subquery("merged")
    g = merged.c
    changes = [g[f"merged_{n}"].is_distinct_from(g[f"stored_{n}"]) for n in MERGED_COLUMNS]
    changes += [and_(g[f"stored_{n}"].is_(None), g[f"merged_{n}"].is_not(None)) for n in filled]
    _fresh(conn, merge_changed)
    changed = select(*(g[n] for n in kept), *(g[f"merged_{n}"] for n in values)).where(
        or_(*changes)
    )
    conn.execute(insert(merge_changed).from_select([*kept, *values], changed))
    count = conn.execute(select(func.count()).select_from(merge_changed)).scalar_one()
    if count:
        _apply_changes(conn, filled)
        rollup.shift(
            conn,
            merge_old,
            merge_changed,
            o.message_id.in_(select(merge_changed.c.message_id)),
        )
    for table in (merge_changed, merge_old):
        conn.execute(text(f"DROP TABLE {table.name}"))
    return count


def _apply_changes(conn: Connection, filled: tuple[str, ...]) -> None:
    """Write merge_changed's values to the messages, by row on DuckDB, by key on PostgreSQL,
    only the columns that change in some row (a batch of statuses sets two or three of
    them). The filled-only columns carry the record's value: a stored one is kept."""
    c, m, o = merge_changed.c, messages.c, merge_old.c
    differs = [
        func.count().filter(c[name].is_distinct_from(o[name])).label(name)
        for name in MERGED_COLUMNS
    ]
    counts = conn.execute(
        select(*differs).join_from(merge_changed, merge_old, o.message_id == c.message_id)
    ).one()
    values: dict[str, Any] = {name: c[name] for name in MERGED_COLUMNS if counts._mapping[name]}
    for name in filled:
        values[name] = func.coalesce(m[name], c[name])
    if not values:
        return
    if message_keys.in_use(conn):
        row_id = MESSAGE_ROW
        rows = sorted(conn.execute(select(c.message_row)).scalars())
        for chunk in _chunks(rows):
            conn.execute(
                update(messages).where(at_rows(chunk), row_id == c.message_row).values(**values)
            )
        return
    conn.execute(update(messages).where(m.message_id == c.message_id).values(**values))


# --------------------------------------------------------------------------- events

EVENT_TIME_COLUMN = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}
# Statuses a record gives at the message's creation.
AT_CREATION = ("scheduled", "queued", "received")

events_stage = Table(
    "merge_events",
    _stage_metadata,
    *(Column(c.name, c.type) for c in message_events.columns),
    # The event's message was stored before this batch (only those can have events kept).
    Column("known", Boolean),
    Column("event_hash", UBigInteger),
    prefixes=["TEMPORARY"],
)
EVENT_COLUMNS = tuple(c.name for c in message_events.columns)
# What makes two events the same: a replayed webhook or a reloaded file repeats all of it.
EVENT_KEY = ("message_id", "source", "status", "event_at", "error_code")


def _first_day(frame: pd.DataFrame) -> pd.Series:
    """Each row's message's earliest created_day in the batch (grouping only repeated ids:
    a grouped min over Python dates runs row by row)."""
    days = frame["created_day"].copy()
    repeated = frame["message_id"].duplicated(keep=False)
    if repeated.any():
        subset = frame.loc[repeated, ["message_id", "created_day"]]
        as_time = pd.to_datetime(subset["created_day"])
        earliest = as_time.groupby(subset["message_id"]).transform("min")
        days.loc[repeated] = earliest.dt.date
    return days


def event_frame(frame: pd.DataFrame, stored: dict[str, Identity], source: str) -> pd.DataFrame:
    """The events of a batch: each record's status, and each status its times report.

    A record's own status takes the record's `event_at` where the writer gave one (a
    webhook's timestamp), else the status's time column, else the creation time for statuses
    given at creation. A record's sent, delivered and read times are events of those statuses
    too (a file row delivered at 10:02 and sent at 10:01 tells both), unless a time is only the
    copy of a later one that the loader filled in.
    """
    status = frame["status_rank"].map(RANK_STATUS)
    given = (
        frame["event_at"].astype("datetime64[us]")
        if "event_at" in frame.columns
        else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    )
    own_time = given
    for name, column in EVENT_TIME_COLUMN.items():
        own_time = own_time.where(~(own_time.isna() & (status == name)), frame[column])
    own_time = own_time.where(~(own_time.isna() & status.isin(AT_CREATION)), frame["created_at"])
    in_error = status == "error"
    first_day = _first_day(frame)
    known_days = {mid: i.created_day for mid, i in stored.items() if i.created_day is not None}
    # Dates as objects, never inferred as times.
    created_day = pd.Series(
        [
            known_days.get(mid, day)
            for mid, day in zip(frame["message_id"].tolist(), first_day.tolist(), strict=True)
        ],
        index=frame.index,
        dtype=object,
    )
    base = pd.DataFrame(
        {
            "message_id": frame["message_id"],
            "created_day": created_day,
            "source": source,
            "raw_status": frame["raw_status"] if "raw_status" in frame.columns else None,
            "recorded_at": datetime.now(UTC).replace(tzinfo=None),
        }
    )
    parts = [
        base.assign(
            status=status,
            event_at=own_time,
            error_code=frame["error_code"].where(in_error, None),
            error_description=frame["error_description"].where(in_error, None),
        )
    ]
    columns = list(EVENT_TIME_COLUMN.items())
    for index, (name, column) in enumerate(columns):
        reported = frame[column].notna() & (status != name)
        # The loader fills an earlier time from a later one (a read message was delivered):
        # such a copy is not a report of its own.
        for _, later in columns[index + 1 :]:
            reported &= ~(frame[column] == frame[later]).fillna(False)
        parts.append(
            base[reported].assign(
                status=name,
                event_at=frame.loc[reported, column],
                error_code=None,
                error_description=None,
                raw_status=None,
            )
        )
    events = pd.concat(parts, ignore_index=True)
    return events.drop_duplicates(subset=list(EVENT_KEY)).reset_index(drop=True)


def _stage_events(conn: Connection, events: pd.DataFrame, known: set[str]) -> None:
    """The batch's events into events_stage; on DuckDB those of recent or stored messages with
    their hash (only the recent index keeps hashes, and a stored message may be recent)."""
    _fresh(conn, events_stage)
    staged = events[list(EVENT_COLUMNS)].assign(known=_among(events["message_id"], known))
    _copy_frame(conn, events_stage, staged)
    if message_keys.in_use(conn):
        conn.execute(
            text(
                f"UPDATE {events_stage.name} SET event_hash = {message_keys.event_hash()} "
                "WHERE known OR created_day >= :start"
            ),
            {"start": message_keys.window_start()},
        )


def _record_events(conn: Connection, events: pd.DataFrame, known: set[str]) -> int:
    """Add the staged events not kept yet; returns how many were new. Only a message stored
    before this batch (`known`) can have events kept: the others' events are all new. On
    DuckDB the recent index holds the hashes of its messages' kept events; the events of older
    messages are compared with those kept on their days."""
    s, e = events_stage.c, message_events.c
    added = 0
    new = select(*(s[c] for c in EVENT_COLUMNS)).where(~s.known)
    added += _inserted(conn, insert(message_events).from_select(list(EVENT_COLUMNS), new))
    known_events = events[_among(events["message_id"], known)]
    recent: dict[str, tuple[int, set[int]]] = {}
    if message_keys.in_use(conn) and not known_events.empty:
        recent = message_keys.recent_events(conn, sorted(set(known_events["message_id"].tolist())))
    if recent:
        _fresh(conn, recent_stage)
        # Each recent message once with a hash of 0 (no event's: its odds are 2^-64), so the
        # hashes stay plain unsigned 64-bit numbers (a nullable column would reach the engine
        # as floating point).
        kept_hashes = pd.DataFrame(
            [(i, row, h) for i, (row, kept) in recent.items() for h in [*kept, 0]],
            columns=["message_id", "key_row", "event_hash"],
        ).astype({"key_row": "int64", "event_hash": "uint64"})
        _copy_frame(conn, recent_stage, kept_hashes)
        k = recent_stage.c
        fresh = and_(
            s.known,
            s.message_id.in_(select(k.message_id)),
            ~exists().where(k.message_id == s.message_id, k.event_hash == s.event_hash),
        )
        _fresh(conn, recent_added)
        key_row = select(func.min(k.key_row)).where(k.message_id == s.message_id).scalar_subquery()
        conn.execute(
            insert(recent_added).from_select(
                ["key_row", "event_hash"], select(key_row, s.event_hash).where(fresh)
            )
        )
        kept = select(*(s[c] for c in EVENT_COLUMNS)).where(fresh)
        added += _inserted(conn, insert(message_events).from_select(list(EVENT_COLUMNS), kept))
        message_keys.add_events(conn, recent_added.name, sorted(r for r, _ in recent.values()))
    older = known_events[~_among(known_events["message_id"], recent.keys())]
    days = sorted(set(older["created_day"].tolist()))
    if days:
        same = exists().where(
            # The range lets DuckDB skip the row groups of other days before comparing.
            e.created_day.between(days[0], days[-1]),
            e.created_day == s.created_day,
            e.message_id == s.message_id,
            e.source == s.source,
            e.status == s.status,
            e.event_at.is_not_distinct_from(s.event_at),
            e.error_code.is_not_distinct_from(s.error_code),
        )
        # The known messages not in the recent index: named by a subquery, not by their ids
        # (a load's part would bind 100,000 of them, 1.8 s).
        not_recent = ~s.message_id.in_(select(recent_stage.c.message_id)) if recent else true()
        kept = select(*(s[c] for c in EVENT_COLUMNS)).where(s.known, not_recent, ~same)
        added += _inserted(conn, insert(message_events).from_select(list(EVENT_COLUMNS), kept))
    if recent:
        for table in (recent_stage, recent_added):
            conn.execute(text(f"DROP TABLE {table.name}"))
    conn.execute(text(f"DROP TABLE {events_stage.name}"))
    return added


# The recent index's kept event hashes of a batch's messages, and the ones it adds.
recent_stage = Table(
    "merge_recent_events",
    _stage_metadata,
    Column("message_id", String(128)),
    Column("key_row", BigInteger),
    Column("event_hash", UBigInteger),
    prefixes=["TEMPORARY"],
)
recent_added = Table(
    "merge_recent_added",
    _stage_metadata,
    Column("key_row", BigInteger),
    Column("event_hash", UBigInteger),
    prefixes=["TEMPORARY"],
)


def _inserted(conn: Connection, statement) -> int:
    if conn.dialect.name == "duckdb":
        # DuckDB counts the rows it inserted; returning them costs a row each in Python.
        return conn.execute(statement).rowcount
    return len(conn.execute(statement.returning(message_events.c.message_id)).all())


def merge_records(
    tx: Transaction,
    frame: pd.DataFrame,
    scope: WriteScope,
    *,
    source: str,
    all_or_nothing: bool = True,
    keep_events: bool = True,
    stored: dict[str, Identity] | None = None,
) -> MergeResult:
    """Merge validated rows within the writer's scope, and keep each record's status event.

    `source` names the writer in the events (file, api, whatsapp, sinch). The frame may carry
    `event_at` (naive UTC) and `raw_status` columns beside the loader's. With `all_or_nothing`
    (the API, file loads) any refusal stores nothing of the frame; without it (webhooks) the
    other rows are merged and the refusals come back to be held. `stored` is the batch's
    identities where the caller has just looked them up in this transaction.
    """
    if frame.empty:
        return MergeResult()
    frame = frame.reset_index(drop=True)
    if stored is None:
        stored = stored_identities(tx.conn, frame["message_id"])
    else:
        stored = {i: stored[i] for i in set(frame["message_id"].tolist()) if i in stored}
    refused = check_records(frame, stored, scope)
    if refused and all_or_nothing:
        return MergeResult(refused=refused)
    if refused:
        frame = frame.drop(index=[r.row for r in refused]).reset_index(drop=True)
    result = MergeResult(refused=refused)
    if not frame.empty:
        events = event_frame(frame, stored, source) if keep_events else None
        if events is not None:
            _stage_events(tx.conn, events, set(stored))
        written = _write(tx.conn, frame, stored, events=events is not None)
        result.created, result.updated, result.unchanged = (
            written.created,
            written.updated,
            written.unchanged,
        )
        if events is not None:
            result.events = _record_events(tx.conn, events, set(stored))
    tx.mark_changed(result.changed or bool(result.events))
    return result
