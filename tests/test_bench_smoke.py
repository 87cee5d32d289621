"""The benchmark harness runs end to end on a tiny DuckDB store and reports every query."""

from __future__ import annotations

import io
import json
import math

from sqlalchemy import func, select

from bench import harness
from data_access.tables import messages

EXPECTED_QUERIES = [
    "daily_90",
    "daily_7",
    "detail_first",
    "detail_first_7",
    "detail_sorted",
    "phone_full",
    "phone_local",
    "filter_options",
    "top_errors",
]


def test_bench_measures_every_query_on_a_tiny_store(tmp_path):
    out = io.StringIO()
    results = harness.run(messages=20_000, stores=("duckdb",), repeat=1, data_dir=tmp_path, out=out)

    assert [r.case.key for r in results] == EXPECTED_QUERIES
    for result in results:
        assert result.store == "duckdb"
        assert len(result.ours) == len(result.ours_cpu) == len(result.raw) == 1
        assert math.isfinite(result.ours_cpu[0]) and result.ours_cpu[0] >= 0
        for value in (result.ours_median, result.raw_median, result.ratio):
            assert math.isfinite(value) and value > 0, result.case.key
        expect_naive = result.case.key in ("daily_90", "daily_7")
        assert bool(result.naive) == expect_naive
        if expect_naive:
            assert math.isfinite(result.naive_median) and result.naive_median > 0

    text = out.getvalue()
    assert "duckdb: 20,000 messages over 90 days, built" in text
    table = [line for line in text.splitlines() if line.startswith("| duckdb |")]
    assert len(table) == len(EXPECTED_QUERIES)
    marker = json.loads((tmp_path / "duckdb-20000.json").read_text())
    assert (marker["messages"], marker["days"]) == (20_000, 90)

    # A second run finds the finished store and reuses it.
    again = io.StringIO()
    harness.run(messages=20_000, stores=("duckdb",), repeat=1, data_dir=tmp_path, out=again)
    assert "duckdb: 20,000 messages over 90 days, reused" in again.getvalue()


def test_raw_replay_returns_what_our_layer_read(engine, load_rows):
    load_rows(
        engine,
        [
            {
                "message_id": f"m{i}",
                "channel": "whatsapp",
                "direction": "MT",
                "subaccount": "Brand A",
                "content_type": "text",
                "phone": "+5511987654321",
                "status": "delivered",
                "created_at": "2026-11-20T12:00:00-03:00",
                "delivered_at": "2026-11-20T12:01:00-03:00",
            }
            for i in range(3)
        ],
    )

    def count():
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(messages)).scalar_one()

    statements = harness.capture_statements(engine, count)
    assert len(statements) == 1 and "count" in statements[0][0].lower()
    replay = harness.raw_runner(engine, statements)
    try:
        assert [[tuple(row) for row in rows] for rows in replay()] == [[(3,)]]
    finally:
        replay.close()


def test_p95_interpolates_between_samples():
    assert harness.p95([5.0]) == 5.0
    assert harness.p95([float(v) for v in range(1, 21)]) == 19.05
