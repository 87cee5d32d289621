"""The webhook intake benchmark runs end to end against a served app and counts what it sent."""

from __future__ import annotations

from datetime import UTC, datetime

from bench import webhooks


def test_intake_benchmark_finds_nothing_lost_or_doubled(tmp_path, capsys):
    code = webhooks.main(
        ["--seconds", "2", "--senders", "2", "--rate", "0", "--work-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| events lost / doubled | 0 / 0 |" in out
    assert "| messages in a wrong state | 0 |" in out
    assert "| bodies refused | 0  |" in out
    assert list(tmp_path.iterdir()) == []  # the temporary store is removed


def test_expected_state_follows_the_merge_rules():
    plan = webhooks.Plan(
        messages=1, batch=3, order=[0, 1, 2], base=datetime(2026, 11, 20, tzinfo=UTC)
    )
    sent, delivered, read = (datetime(2026, 11, 20, 0, 0, s) for s in (1, 3, 10))
    assert webhooks.expected_state(plan, set(), 0) == ("queued", None, None, None)
    assert webhooks.expected_state(plan, {"read"}, 0) == ("read", read, read, read)
    assert webhooks.expected_state(plan, {"delivered", "sent"}, 0) == (
        "delivered",
        sent,
        delivered,
        None,
    )
    assert webhooks.expected_state(plan, {"sent", "delivered", "read"}, 0) == (
        "read",
        sent,
        delivered,
        read,
    )
