"""Schema migrations on both stores: a new store, and stores of every earlier schema upgraded in
place by create_schema with their data intact, ending where data_access/tables.py says."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, column, func, insert, quoted_name, select, table, text

from data_access import message_keys, migrations
from data_access.store import create_schema, make_engine, read_meta
from data_access.tables import (
    SCHEMA_VERSION,
    audit_log,
    channel_numbers,
    contacts,
    inbox,
    messages,
    metadata,
    pending_statuses,
)
from tests.conftest import TIMEZONE
from tests.test_rollup import FIXTURE, assert_rollup_matches

_database_names = itertools.count(1)
T = datetime(2026, 11, 20, 12, 0, 0)

# Tables the first version 1 stores were made with; create_all added the others at a later
# start, without a new schema version.
FIRST_TABLES = {
    "store_meta",
    "subaccounts",
    "users",
    "user_subaccounts",
    "campaigns",
    "contacts",
    "messages",
}


# ---- stores ----


@pytest.fixture
def another_store(store_settings, request, tmp_path):
    """another_store() is an engine on one more empty store of the test's kind."""
    engines: list[Engine] = []

    def make() -> Engine:
        if store_settings.database_url.startswith("duckdb"):
            url = f"duckdb:///{tmp_path / f'another-{len(engines)}.duckdb'}"
        else:
            server = request.getfixturevalue("postgres_server")
            url = server.create_database(f"migrations_{next(_database_names)}")
        engines.append(make_engine(url))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def old_store(store_settings, load_rows):
    """A store at the newest schema with a row in every table an upgrade alters; reshape it."""
    engine = make_engine(store_settings.database_url)
    create_schema(engine, TIMEZONE)
    load_rows(engine, FIXTURE)
    with engine.begin() as conn:
        conn.execute(
            insert(channel_numbers).values(channel="sms", number_id="555", subaccount_id=1)
        )
        conn.execute(
            insert(inbox).values(
                source="sinch",
                received_at=T,
                body="{}",
                state="failed",
                attempts=1,
                next_attempt_at=T,
                problems="no number",
            )
        )
        conn.execute(
            insert(pending_statuses).values(
                message_id="x1", status="delivered", channel="sms", received_at=T
            )
        )
        conn.execute(insert(audit_log).values(at=T, actor="admin", action="user.add"))
    yield engine
    engine.dispose()


def shape(engine: Engine) -> dict[str, set[tuple]]:
    """The store's tables as the database reports them: columns, keys, indexes, sequences."""
    here = "table_catalog = current_database() AND table_schema = current_schema()"
    queries = {
        "columns": "SELECT table_name, column_name, data_type, character_maximum_length, "
        f"is_nullable, column_default FROM information_schema.columns WHERE {here}",
        "keys": "SELECT constraint_name, table_name, column_name, ordinal_position "
        f"FROM information_schema.key_column_usage WHERE {here}",
    }
    if engine.dialect.name == "postgresql":
        queries["indexes"] = (
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema()"
        )
        queries["sequences"] = (
            "SELECT sequence_name, data_type FROM information_schema.sequences "
            "WHERE sequence_schema = current_schema()"
        )
    else:
        queries["indexes"] = (
            "SELECT table_name, index_name, is_unique, expressions FROM duckdb_indexes() "
            "WHERE database_name = current_database()"
        )
        queries["sequences"] = (
            "SELECT sequence_name FROM duckdb_sequences() WHERE database_name = current_database()"
        )
    with engine.connect() as conn:
        return {
            name: {tuple(row) for row in conn.execute(text(sql))} for name, sql in queries.items()
        }


def contents(engine: Engine, columns: dict[str, list[str]] | None = None) -> dict[str, list]:
    """Every row of every table (or of the columns given per table), sorted."""
    columns = columns_of(engine) if columns is None else columns
    with engine.connect() as conn:
        return {
            name: sorted(
                (
                    tuple(row)
                    for row in conn.execute(
                        select(*(column(quoted_name(c, True)) for c in cols)).select_from(
                            table(quoted_name(name, True))
                        )
                    )
                ),
                key=repr,
            )
            for name, cols in columns.items()
        }


def columns_of(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns WHERE "
                "table_catalog = current_database() AND table_schema = current_schema() "
                "ORDER BY table_name, ordinal_position"
            )
        )
        found: dict[str, list[str]] = {}
        for table_name, column_name in rows:
            found.setdefault(table_name, []).append(column_name)
    return found


def assert_at_head(engine: Engine) -> None:
    """At the newest revision, with every table and column of data_access/tables.py."""
    with engine.connect() as conn:
        assert migrations.current_revision(conn) == migrations.head()
        assert read_meta(conn, "schema_version") == SCHEMA_VERSION
    stored = {name: set(cols) for name, cols in columns_of(engine).items()}
    declared = {table.name: {c.name for c in table.columns} for table in metadata.sorted_tables}
    keys = message_keys.TABLE_COLUMNS if engine.dialect.name == "duckdb" else {}
    assert stored == {**declared, **keys, "alembic_version": {"version_num"}}


# ---- stores made before the revisions, shaped by hand from the newest (raw DDL) ----


def _run(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _without_expired_at(engine: Engine) -> None:
    _run(engine, "ALTER TABLE pending_statuses DROP COLUMN expired_at")


def _without_message_events(engine: Engine) -> None:
    _run(engine, "DROP TABLE message_events")


def _without_scopes(engine: Engine) -> None:
    _run(
        engine,
        "ALTER TABLE channel_numbers DROP COLUMN callback_token_hash",
        "ALTER TABLE inbox DROP COLUMN scope",
        "ALTER TABLE pending_statuses DROP COLUMN scope",
    )


def _without_audit_log(engine: Engine) -> None:
    _run(engine, "DROP TABLE audit_log", "DROP SEQUENCE audit_log_id_seq")


def _without_schema_2(engine: Engine) -> None:
    _run(engine, "DROP TABLE daily_rollup", "DROP INDEX contacts_phone_tail")
    # DuckDB drops a column only once the drop of its index is committed.
    _run(engine, "ALTER TABLE contacts DROP COLUMN phone_tail")


def _without_later_tables_of_1(engine: Engine) -> None:
    later = sorted(set(columns_of(engine)) - FIRST_TABLES)
    _run(
        engine,
        *(f"DROP TABLE {name}" for name in later),
        *(f"DROP SEQUENCE {name}_id_seq" for name in ("login_failures", "api_keys", "inbox")),
    )


def _keyed_messages(engine: Engine) -> None:
    """Schema 4 on DuckDB: the keys of messages and contacts, no key tables."""
    if engine.dialect.name == "duckdb":
        with engine.begin() as conn:
            for table in message_keys.TABLE_COLUMNS:
                conn.execute(text(f"DROP TABLE {table}"))
            message_keys.copy_unkeyed(conn, keyed=True)


def _without_countries(engine: Engine) -> None:
    """Before 0010: no country, operator or template, the roll-up counted without them (the
    delivery times' histogram too; 0010 counts it again whatever it holds)."""
    from data_access import rollup

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM daily_rollup"))
    for table_name, column_name in (
        ("delivery_time_rollup", "template"),
        ("delivery_time_rollup", "operator"),
        ("delivery_time_rollup", "country"),
        ("daily_rollup", "template"),
        ("daily_rollup", "operator"),
        ("daily_rollup", "country"),
        ("messages", "template"),
        ("messages", "operator"),
        ("messages", "country"),
        ("contacts", "country"),
        ("pending_statuses", "operator"),
    ):
        _run(engine, f"ALTER TABLE {table_name} DROP COLUMN {column_name}")
    _count_smallest_description(
        engine,
        [
            k
            for k in rollup.KEY_COLUMNS
            if k not in ("error_description", "country", "operator", "template")
        ],
    )


def _count_smallest_description(engine: Engine, keys: list[str]) -> None:
    """The roll-up as it was before 0013: a row per key, with its smallest description."""
    counts = "count(*), count(sent_at), count(delivered_at), count(read_at)"
    _run(
        engine,
        f"INSERT INTO daily_rollup ({', '.join(keys)}, error_description, message_count, "
        f"sent_count, delivered_count, read_count) SELECT {', '.join(keys)}, "
        f"min(error_description), {counts} FROM messages GROUP BY {', '.join(keys)}",
    )


def _with_hash_lists(engine: Engine) -> None:
    """Before 0015 (DuckDB): the recent index's event hashes in one list."""
    if engine.dialect.name == "duckdb":
        _run(
            engine,
            "DROP INDEX recent_keys_hash",
            "ALTER TABLE recent_keys ADD COLUMN event_hashes UBIGINT[]",
            f"UPDATE recent_keys SET event_hashes = {message_keys.kept_hashes()}",
            *(f"ALTER TABLE recent_keys DROP COLUMN {name}" for name in message_keys.HASH_COLUMNS),
            "CREATE INDEX recent_keys_hash ON recent_keys (key_hash)",
        )


def _with_text_tails(engine: Engine) -> None:
    """Before 0014: the phone tails as text."""
    _run(
        engine,
        "ALTER TABLE contacts ALTER COLUMN phone_tail TYPE VARCHAR(6) "
        "USING lpad(CAST(phone_tail AS VARCHAR), 6, '0')",
    )


def _without_description_keys(engine: Engine) -> None:
    """Before 0013: the roll-up not keyed by the error description."""
    from data_access import rollup

    _run(engine, "DELETE FROM daily_rollup")
    _count_smallest_description(engine, [k for k in rollup.KEY_COLUMNS if k != "error_description"])


def _without_user_preferences(engine: Engine) -> None:
    _run(engine, "DROP TABLE user_preferences")


def _without_delivery_time_rollup(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        _run(engine, "DROP INDEX delivery_time_rollup_day_channel")
    _run(engine, "DROP TABLE delivery_time_rollup")


def _without_contact_days(engine: Engine) -> None:
    _run(engine, "ALTER TABLE contacts DROP COLUMN active_days")


# What each store made before the revisions lacks of the newest shape, newest change first.
# A new revision adds the step undoing it to AFTER_0006.
AFTER_0006: tuple = (
    _with_hash_lists,
    _with_text_tails,
    _without_description_keys,
    _without_contact_days,
    _without_countries,
    _without_delivery_time_rollup,
    _without_user_preferences,
    _keyed_messages,
)
SCHEMA_3_WITH_EVENTS = (*AFTER_0006, _without_expired_at)  # create_all made message_events
SCHEMA_3 = (*SCHEMA_3_WITH_EVENTS, _without_message_events)
SCHEMA_2_WITH_AUDIT_LOG = (*SCHEMA_3, _without_scopes)  # create_all made audit_log
SCHEMA_2 = (*SCHEMA_2_WITH_AUDIT_LOG, _without_audit_log)
SCHEMA_1 = (*SCHEMA_2, _without_schema_2)
SCHEMA_1_FIRST_TABLES = (*SCHEMA_1, _without_later_tables_of_1)

EARLIER = {
    "1, first tables only": (SCHEMA_1_FIRST_TABLES, "1"),
    "1": (SCHEMA_1, "1"),
    "2": (SCHEMA_2, "2"),
    "2 with audit_log": (SCHEMA_2_WITH_AUDIT_LOG, "2"),
    "3": (SCHEMA_3, "3"),
    "3 with message_events": (SCHEMA_3_WITH_EVENTS, "3"),
}


def made_before_revisions(engine: Engine, earlier: str) -> None:
    """Reshape a store of the newest schema as one of EARLIER: no alembic_version."""
    steps, schema_version = EARLIER[earlier]
    _run(
        engine,
        "DROP TABLE alembic_version",
        f"UPDATE store_meta SET value = '{schema_version}' WHERE key = 'schema_version'",
    )
    for step in steps:
        step(engine)


@pytest.mark.parametrize("earlier", EARLIER)
def test_a_store_of_an_earlier_schema_is_upgraded_in_place(old_store, earlier):
    engine = old_store
    newest = shape(engine)
    expected_rollup = assert_rollup_matches(engine)
    days = select(contacts.c.id, contacts.c.active_days).order_by(contacts.c.id)
    with engine.connect() as conn:
        marked_days = conn.execute(days).all()
    made_before_revisions(engine, earlier)
    kept_columns = columns_of(engine)
    kept = contents(engine, kept_columns)

    create_schema(engine, TIMEZONE)

    assert_at_head(engine)
    assert shape(engine) == newest
    # Every row and value the store held is still there; the columns added are empty.
    # Every upgrade ends at the newest schema version.
    # (The key tables' version counts their rebuilds: data_access/message_keys.py.)
    kept["store_meta"] = [
        (key, SCHEMA_VERSION if key == "schema_version" else value)
        for key, value in kept["store_meta"]
        if key != message_keys.VERSION_KEY
    ]
    # 0014 made the phone tails numbers.
    if "phone_tail" in kept_columns.get("contacts", []):
        at = kept_columns["contacts"].index("phone_tail")
        kept["contacts"] = sorted(
            ((*row[:at], None if row[at] is None else int(row[at]), *row[at + 1 :]))
            for row in kept["contacts"]
        )
    upgraded = contents(engine, kept_columns)
    upgraded["store_meta"] = [
        row for row in upgraded["store_meta"] if row[0] != message_keys.VERSION_KEY
    ]
    assert upgraded == kept
    assert assert_rollup_matches(engine) == expected_rollup != []
    # The contacts' days counted by the revision are those the write path marked.
    with engine.connect() as conn:
        assert conn.execute(days).all() == marked_days
    assert all(mask for _id, mask in marked_days)
    with engine.connect() as conn:
        tails = conn.execute(select(contacts.c.phone, contacts.c.phone_tail)).all()
        countries = conn.execute(select(contacts.c.phone, contacts.c.country)).all()
        message_countries = conn.execute(
            select(messages.c.country, func.count()).group_by(messages.c.country)
        ).all()
        added = [
            conn.execute(select(new_column)).scalars().all()
            for new_column in (
                channel_numbers.c.callback_token_hash,
                inbox.c.scope,
                pending_statuses.c.scope,
                pending_statuses.c.expired_at,
            )
        ]
    assert sorted(tails) == [("5491187654321", 654321), ("5511987654321", 654321)]
    # 0010 worked out the stored contacts' countries, and their messages took them.
    assert sorted(countries) == [("5491187654321", "AR"), ("5511987654321", "BR")]
    assert {country for country, _count in message_countries} == {"AR", "BR"}
    assert added == [[] if earlier == "1, first tables only" else [None]] * 4
    # The next start finds nothing to do.
    before = contents(engine)
    create_schema(engine, TIMEZONE)
    assert contents(engine) == before


def test_revisions_from_nothing_build_what_tables_py_declares(engine, another_store):
    # A new store is made by create_all and stamped; the revisions must reach the same place.
    upgraded = another_store()
    migrations.upgrade(upgraded)
    create_schema(upgraded, TIMEZONE)
    assert_at_head(engine)
    assert_at_head(upgraded)
    assert shape(upgraded) == shape(engine)


def test_create_schema_again_changes_nothing(engine, load_rows):
    load_rows(engine, FIXTURE)
    before_shape, before = shape(engine), contents(engine)
    create_schema(engine, TIMEZONE)
    assert shape(engine) == before_shape
    assert contents(engine) == before


def test_an_upgrade_cut_short_finishes_at_the_next_start(old_store):
    engine = old_store
    expected_rollup = assert_rollup_matches(engine)
    made_before_revisions(engine, "1")
    with engine.begin() as conn:
        migrations.stamp(conn, None)
    migrations.upgrade(engine, "0002")  # the tails filled, then the process stopped
    create_schema(engine, TIMEZONE)
    assert_at_head(engine)
    assert assert_rollup_matches(engine) == expected_rollup


def test_revisions_go_down_to_schema_1_and_up_again(old_store, another_store):
    newest = shape(old_store)
    by_hand = another_store()
    create_schema(by_hand, TIMEZONE)
    made_before_revisions(by_hand, "1")

    migrations.downgrade(old_store, "0001")

    without_versions = {
        name: {row for row in rows if "alembic_version" not in row}
        for name, rows in shape(old_store).items()
    }
    assert without_versions == shape(by_hand)
    with old_store.connect() as conn:
        assert read_meta(conn, "schema_version") == "1"
    migrations.upgrade(old_store)
    assert_at_head(old_store)
    assert shape(old_store) == newest
    assert_rollup_matches(old_store)


# What `python app.py serve` and each `export-worker` do first.
START_UP = (
    "import sys; from data_access.store import create_schema, make_engine; "
    "create_schema(make_engine(sys.argv[1]), sys.argv[2])"
)


@pytest.mark.postgres
def test_processes_starting_together_upgrade_a_postgresql_store_once(postgres_server):
    url = postgres_server.create_database(f"migrations_{next(_database_names)}")
    engine = make_engine(url)
    try:
        create_schema(engine, TIMEZONE)
        made_before_revisions(engine, "2")
        starts = [
            subprocess.Popen(
                [sys.executable, "-c", START_UP, url, TIMEZONE],
                cwd=Path(__file__).resolve().parents[1],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        errors = [start.communicate(timeout=120)[1] for start in starts]
        assert [start.returncode for start in starts] == [0, 0, 0], errors
        assert_at_head(engine)
    finally:
        engine.dispose()


def test_a_store_of_a_newer_program_is_refused(duckdb_engine):
    with duckdb_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(migrations.StoreSchemaError, match="revision 9999"):
        create_schema(duckdb_engine, TIMEZONE)
    made_before_revisions(duckdb_engine, "3")
    _run(duckdb_engine, "UPDATE store_meta SET value = '9' WHERE key = 'schema_version'")
    with pytest.raises(migrations.StoreSchemaError, match="schema version '9'"):
        create_schema(duckdb_engine, TIMEZONE)
