"""Export jobs: one job per double click, who sees which job, the worker pool, restarts, expiry."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from data_access.filters import FilterError
from data_access.tables import export_jobs
from exports import jobs, writers
from exports.jobs import Requester
from exports.request import ExportRequest
from exports.worker import ExportPool, run_job, worker_token
from tests.conftest import TIMEZONE
from tests.exports_data import NEWEST_FIRST, day, load, scope_of


def export_request(fmt="csv", **state):
    base = {"channel": "whatsapp", "view": "detailed", "start": str(day(2)), "end": str(day(1))}
    return ExportRequest.build({**base, **state}, fmt, "en", TIMEZONE)


@pytest.fixture
def store(engine, load_rows):
    load(engine, load_rows)
    return engine


@pytest.fixture
def settings(store_settings, tmp_path):
    return replace(store_settings, export_dir=tmp_path / "exports")


def admin(engine):
    return Requester(1, "root", True, scope_of(engine))


def user_of(engine, *names, user_id=2, username="ana"):
    return Requester(user_id, username, False, scope_of(engine, *names))


def status_of(engine, job_id):
    with engine.connect() as conn:
        return conn.execute(select(export_jobs).where(export_jobs.c.id == job_id)).one()


def test_a_double_click_makes_one_job(store):
    requester = admin(store)
    now = jobs.utcnow()
    first, created = jobs.create_job(store, requester, export_request(), now)
    again, created_again = jobs.create_job(
        store, requester, export_request(), now + timedelta(seconds=2)
    )
    assert created and not created_again and again.id == first.id
    # Another format, another person, or the same request later: new jobs.
    other_format, made = jobs.create_job(store, requester, export_request("xlsx"), now)
    assert made and other_format.id != first.id
    someone, made = jobs.create_job(store, user_of(store, "Brand A"), export_request(), now)
    assert made and someone.id != first.id
    later, made = jobs.create_job(
        store, requester, export_request(), now + timedelta(seconds=jobs.DEDUPE_SECONDS + 1)
    )
    assert made and later.id != first.id
    assert len(jobs.list_jobs(store, requester)) == 4


def test_a_job_records_request_requester_and_data_subaccounts(store):
    ids = scope_of(store)
    brand_a = sorted(scope_of(store, "Brand A").subaccount_ids)
    job, _ = jobs.create_job(store, admin(store), export_request(subaccounts=brand_a))
    assert jobs.JOB_ID.fullmatch(job.id)
    assert (job.status, job.format, job.view) == ("queued", "csv", "detailed")
    assert job.channel == "whatsapp"
    assert (job.username, job.user_id, job.language, job.timezone) == ("root", 1, "en", TIMEZONE)
    assert job.subaccount_ids == tuple(brand_a)
    assert job.filters["start"] == str(day(2)) and job.filters["subaccounts"] == brand_a
    fingerprint = job.request().fingerprint()
    assert (
        job.file_name == f"detailed_whatsapp_{day(2)}_{day(1)}_America-Sao_Paulo_{fingerprint}.csv"
    )
    whole, _ = jobs.create_job(store, admin(store), export_request("xlsx"))
    assert set(whole.subaccount_ids) == set(ids.subaccount_ids)


def test_each_person_sees_the_jobs_of_their_subaccounts(store):
    a_only, _ = jobs.create_job(store, user_of(store, "Brand A"), export_request())
    both, _ = jobs.create_job(store, admin(store), export_request())
    b_only, _ = jobs.create_job(store, user_of(store, "Brand B", user_id=3, username="bruno"),
                                export_request())  # fmt: skip
    nothing, _ = jobs.create_job(store, Requester(4, "nobody", False, scope_of(store, *())),
                                 export_request(), jobs.utcnow())  # fmt: skip
    listed = lambda requester: {job.id for job in jobs.list_jobs(store, requester)}  # noqa: E731
    assert listed(admin(store)) == {a_only.id, both.id, b_only.id, nothing.id}
    # Another user of Brand A sees Brand A's job, not the one that also holds Brand B.
    assert listed(user_of(store, "Brand A", user_id=9, username="carla")) == {a_only.id}
    assert listed(user_of(store, "Brand B", user_id=3, username="bruno")) == {b_only.id}
    assert jobs.visible_job(store, both.id, user_of(store, "Brand A")) is None
    assert jobs.visible_job(store, a_only.id, user_of(store, "Brand A")).id == a_only.id
    assert jobs.visible_job(store, "../../etc/passwd", admin(store)) is None


def test_history_is_newest_first(store):
    now = jobs.utcnow()
    old, _ = jobs.create_job(store, admin(store), export_request(), now - timedelta(hours=1))
    new, _ = jobs.create_job(store, admin(store), export_request("xlsx"), now)
    assert [job.id for job in jobs.list_jobs(store, admin(store))] == [new.id, old.id]


def test_the_pool_writes_the_file_and_records_it(store, settings):
    job, _ = jobs.create_job(store, admin(store), export_request())
    pool = ExportPool(store, settings, workers=1)
    assert pool.run_pending() == 1
    done = jobs.get_job(store, job.id)
    path = settings.exports_path / f"{job.id}.csv"
    assert done.status == "ready" and done.error is None
    assert (done.rows_written, done.rows_total) == (7, 7)
    assert done.file_size == path.stat().st_size
    assert done.expires_at - done.finished_at == timedelta(days=7)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        assert [row[0] for row in list(csv.reader(handle))[1:]] == NEWEST_FIRST
    assert list(settings.exports_path.glob("*.part")) == []


def test_the_file_holds_only_the_requesters_subaccounts(store, settings):
    job, _ = jobs.create_job(store, user_of(store, "Brand B"), export_request())
    ExportPool(store, settings, workers=1).run_pending()
    with open(settings.exports_path / f"{job.id}.csv", encoding="utf-8-sig") as handle:
        assert [row[0] for row in list(csv.reader(handle))[1:]] == ["e7", "e4", "e3"]


def test_progress_is_recorded_while_running(store, settings, monkeypatch):
    seen = []
    original = jobs.record_progress

    def spy(engine, job_id, worker, written, total, now=None):
        seen.append((written, total))
        return original(engine, job_id, worker, written, total, now)

    monkeypatch.setattr(jobs, "record_progress", spy)
    monkeypatch.setattr("exports.worker.PROGRESS_SECONDS", 0.0)
    job, _ = jobs.create_job(store, admin(store), export_request())
    claimed = jobs.claim_next(store, "w1")
    run_job(store, settings, claimed, "w1", batch_rows=3, window_rows=3)
    # One update per batch (PostgreSQL: 3, 3, 1 rows; DuckDB: its time slices of <= 3 rows).
    written = [done for done, _ in seen]
    assert len(seen) >= 3 and written == sorted(set(written)) and written[-1] == 7
    assert {total for _, total in seen} == {7}
    assert jobs.get_job(store, job.id).status == "ready"


def test_a_failing_job_records_its_error_and_leaves_no_file(store, settings, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(writers, "_detail_arrays", broken)
    job, _ = jobs.create_job(store, admin(store), export_request("xlsx"))
    ExportPool(store, settings, workers=1).run_pending()
    failed = jobs.get_job(store, job.id)
    assert (failed.status, failed.error) == ("error", "failed")
    assert failed.finished_at is not None
    assert list(settings.exports_path.iterdir()) == []


def test_a_job_whose_filters_no_longer_apply_fails_as_invalid(store, settings):
    job, _ = jobs.create_job(store, admin(store), export_request())
    with store.begin() as conn:
        conn.execute(
            update(export_jobs)
            .where(export_jobs.c.id == job.id)
            .values(filters='{"channel": "fax", "view": "detailed"}')
        )
    ExportPool(store, settings, workers=1).run_pending()
    assert (jobs.get_job(store, job.id).status, jobs.get_job(store, job.id).error) == (
        "error",
        "invalid",
    )


def test_a_filter_the_store_cannot_apply_fails_the_job_as_invalid(store, settings, monkeypatch):
    # A ClickHouse-bound store refuses a country filter (data_access/clickhouse/messages.py)
    # rather than count every country: the job says to change the filters, and holds no file.
    def refused(*args, **kwargs):
        raise FilterError("country_not_available", "country", "No country filter here yet.")

    monkeypatch.setattr("exports.worker.write_export", refused)
    job, _ = jobs.create_job(store, admin(store), export_request(countries=["ES"]))
    assert job.filters["countries"] == ["ES"]
    ExportPool(store, settings, workers=1).run_pending()
    failed = jobs.get_job(store, job.id)
    assert (failed.status, failed.error) == ("error", "invalid")


def interrupt(engine, job_id, attempts, heartbeat):
    """Leave a job as a worker killed mid-file leaves it."""
    with engine.begin() as conn:
        conn.execute(
            update(export_jobs)
            .where(export_jobs.c.id == job_id)
            .values(status="processing", attempts=attempts, worker="gone:1:0:x",
                    heartbeat_at=heartbeat, rows_written=3)
        )  # fmt: skip


def test_a_restart_picks_interrupted_jobs_up_again(store, settings):
    job, _ = jobs.create_job(store, admin(store), export_request())
    interrupt(store, job.id, attempts=1, heartbeat=jobs.utcnow())
    settings.exports_path.mkdir(parents=True)
    leftover = settings.exports_path / f"{job.id}.csv.1a2b3c4d.part"
    leftover.write_text("half a file")
    pool = ExportPool(store, settings, workers=1, embedded=True)
    assert pool.recover() == (1, 0)
    assert not leftover.exists()
    assert jobs.get_job(store, job.id).status == "queued"
    pool.run_pending()
    done = jobs.get_job(store, job.id)
    assert (done.status, done.attempts, done.rows_written) == ("ready", 2, 7)


def test_a_job_interrupted_twice_is_given_up_with_run_again(store, settings):
    job, _ = jobs.create_job(store, admin(store), export_request())
    interrupt(store, job.id, attempts=jobs.MAX_ATTEMPTS, heartbeat=jobs.utcnow())
    assert ExportPool(store, settings, embedded=True).recover() == (0, 1)
    given_up = jobs.get_job(store, job.id)
    assert (given_up.status, given_up.error) == ("error", "interrupted")


def test_a_shared_store_takes_over_only_silent_jobs(store, settings):
    alive, _ = jobs.create_job(store, admin(store), export_request())
    silent, _ = jobs.create_job(store, admin(store), export_request("xlsx"))
    interrupt(store, alive.id, attempts=1, heartbeat=jobs.utcnow())
    interrupt(store, silent.id, attempts=1, heartbeat=jobs.utcnow() - timedelta(minutes=10))
    assert ExportPool(store, settings, embedded=False).recover() == (1, 0)
    assert jobs.get_job(store, alive.id).status == "processing"
    assert jobs.get_job(store, silent.id).status == "queued"
    # The worker that was presumed dead can no longer record progress or finish.
    assert not jobs.record_progress(store, silent.id, "gone:1:0:x", 5, 7)
    assert not jobs.mark_ready(store, silent.id, "gone:1:0:x", 7, 100, 7)


def test_claims_never_hand_one_job_to_two_workers(store):
    job, _ = jobs.create_job(store, admin(store), export_request())
    first = jobs.claim_next(store, worker_token(1))
    assert first.id == job.id and first.status == "processing" and first.attempts == 1
    assert jobs.claim_next(store, worker_token(2)) is None


def test_expired_files_are_deleted_and_shown_as_expired(store, settings):
    job, _ = jobs.create_job(store, admin(store), export_request())
    ExportPool(store, settings, workers=1).run_pending()
    path = settings.exports_path / f"{job.id}.csv"
    ready = jobs.get_job(store, job.id)
    assert path.exists()
    assert jobs.expire_files(store, settings.exports_path, ready.expires_at - timedelta(1)) == 0
    assert jobs.expire_files(store, settings.exports_path, ready.expires_at) == 1
    assert not path.exists()
    expired = jobs.get_job(store, job.id)
    assert (expired.status, expired.file_size) == ("expired", None)


def test_the_background_pool_runs_jobs_by_itself(store, settings):
    pool = ExportPool(store, settings, workers=2, poll_seconds=0.05).start()
    try:
        first, _ = jobs.create_job(store, admin(store), export_request())
        second, _ = jobs.create_job(store, admin(store), export_request("xlsx"))
        assert pool.wait_idle(60)
    finally:
        pool.stop()
    assert jobs.get_job(store, first.id).status == "ready"
    assert jobs.get_job(store, second.id).status == "ready"
    assert (settings.exports_path / f"{second.id}.xlsx").stat().st_size > 0
