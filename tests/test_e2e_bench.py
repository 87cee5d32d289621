"""The end-to-end benchmark runs against a served tiny store and reports sane figures."""

from __future__ import annotations

import io
import math
import re

from bench import e2e


def test_e2e_bench_completes_on_a_tiny_store(tmp_path):
    out = io.StringIO()
    report = e2e.run(
        messages=20_000, repeat=2, users=2, seconds=3, think=0.2, data_dir=tmp_path, out=out
    )

    assert [(t.action, t.phase) for t in report.timings] == [
        (action, phase)
        for action in ("apply", "drill", "page", "sort", "phone")
        for phase in ("cold", "warm")
    ]
    # The chains the page makes: the control's callback (the filter bar, or the table for a
    # next page), then the one view that shows the result; the URL the filter bar writes for
    # that view asks the server nothing. A click on a day writes the URL (one request), and
    # the page of the URL is built with its data (a second).
    requests = {t.action: t.requests for t in report.timings}
    assert requests == {"apply": 2, "drill": 2, "page": 1, "sort": 2, "phone": 2}
    for timing in report.timings:
        assert len(timing.e2e) == 2, timing.action
        assert all(math.isfinite(ms) and 0 < ms < 60_000 for ms in timing.e2e)
        assert all(size > 0 for size in timing.payload)
        if timing.phase == "cold":
            assert len(timing.raw) == 2 and all(ms > 0 for ms in timing.raw)
    # Charts and KPI cards are far more than a page of 25 rows' worth of nothing.
    apply_cold = report.timings[0]
    assert min(apply_cold.payload) > 5_000

    load = report.load
    assert load.errors == 0
    assert load.actions > 0 and load.requests >= load.actions
    assert len(load.latencies) == load.actions
    assert 50 < load.peak_rss_mb < 4096
    assert load.max_sampled_rss_mb <= load.peak_rss_mb

    text = out.getvalue()
    assert "serving: " in text and " app.py serve " in text
    rows = [line for line in text.splitlines() if line.startswith("| duckdb |")]
    assert len(rows) == 10
    assert re.search(r"2 users for \d+ s \(50% of actions .*; 0.2 s looking at each answer\)", text)
    assert load.think == 0.2
