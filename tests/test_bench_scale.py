"""bench.scale: a bigger store by SQL copies of a built one, equal to loading the copies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bench import scale
from data_access.loader import load_files
from data_access.merge import stored_identities
from data_access.store import create_schema, make_engine
from data_access.tables import message_events
from tests.conftest import TIMEZONE, write_csv
from tests.store_counts import key_count, message_counts, rollup_counts

NOW = datetime(2026, 11, 20, 12, 0, 0)


def rows() -> list[dict]:
    """Six messages over three days; two delivered, one failed."""
    out = []
    for n in range(6):
        created = NOW - timedelta(days=n % 3, minutes=n)
        row = {
            "message_id": f"wamid.s{n}",
            "channel": "whatsapp",
            "direction": "MT",
            "subaccount": "Brand A",
            "content_type": "text",
            "phone": f"+551198765432{n}",
            "status": "delivered" if n < 2 else "error" if n == 2 else "sent",
            "created_at": created.isoformat() + "Z",
            "sent_at": created.isoformat() + "Z",
        }
        if n < 2:
            row["delivered_at"] = (created + timedelta(seconds=3)).isoformat() + "Z"
        if n == 2:
            row["error_code"] = "131026"
        out.append(row)
    return out


def test_three_copies_hold_every_message_thrice_with_their_keys(tmp_path):
    source = tmp_path / "source.duckdb"
    engine = make_engine(f"duckdb:///{source}")
    create_schema(engine, TIMEZONE)
    load_files(engine, [write_csv(tmp_path / "rows.csv", rows())], TIMEZONE)
    with engine.connect() as conn:
        source_events = conn.execute(select(func.count()).select_from(message_events)).scalar()
    engine.dispose()

    assert (
        scale.main(["--source", str(source), "--copies", "3", "--target-dir", str(tmp_path)]) == 0
    )

    target = tmp_path / "scaled-18.duckdb"
    summary = json.loads(target.with_suffix(".json").read_text())
    assert (summary["messages"], summary["copies"]) == (18, 3)
    engine = make_engine(f"duckdb:///{target}")
    try:
        with engine.connect() as conn:
            counted = message_counts(conn)
            rolled = rollup_counts(conn)
            events = conn.execute(select(func.count()).select_from(message_events)).scalar_one()
            keys = key_count(conn)
            found = stored_identities(conn, ["c2-wamid.s4", "wamid.s4", "c3-wamid.s4"])
        assert counted == (18, 18, 6, 3)
        assert rolled == (18, 6)
        assert events == 3 * source_events > 0
        assert keys == 18
        assert sorted(found) == ["c2-wamid.s4"]
        assert found["c2-wamid.s4"].subaccount == "Brand A"
    finally:
        engine.dispose()
