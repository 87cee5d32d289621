"""The consolidated view's reads run at once ahead of the view (Services.prefetch): the view
then reads them from the cache, with the same figures, and a read that fails ahead is run again
by the view, which fails as it would have."""

from __future__ import annotations

import threading

import pytest

from dashboard import services as services_module
from dashboard.callbacks.consolidated import sent_reads, update_consolidated
from data_access import reports
from reporting.view_state import ViewState
from tests.dashboard_data import FixedViewerServices, rows, viewer_for


@pytest.fixture
def services(engine, store_settings, load_rows):
    load_rows(engine, rows())
    return FixedViewerServices(store_settings, engine, viewer_for(engine))


def store_read(name: str) -> str:
    """The reports function that asks the store for a cached read: a day read's rows."""
    return reports.DAY_READS[name][0] if name in reports.DAY_READS else name


STORE_READS = sorted(store_read(name) for name in services_module.REPORT_READS)


def test_pf001_every_read_of_the_view_is_prefetched_in_a_pool_thread(services, monkeypatch):
    flt = ViewState().to_filter(services.current_viewer().timezone)
    threads: dict[str, set[str]] = {}
    originals = {name: getattr(reports, name) for name in STORE_READS}
    for name in STORE_READS:

        def recorded(bind, scope, f, name=name):
            threads.setdefault(name, set()).add(threading.current_thread().name)
            return originals[name](bind, scope, f)

        monkeypatch.setattr(reports, name, recorded)
    services.prefetch(services.current_viewer().scope, sent_reads(flt))
    assert sorted(threads) == ["breakdowns", "daily_rows", "error_rows", "time_rows"]
    assert all(name.startswith("prefetch") for found in threads.values() for name in found)

    # The view's own reads now come from the cache: the store is not asked again.
    def refused(*_args, **_kwargs):
        raise AssertionError("read again")

    for name in STORE_READS:
        monkeypatch.setattr(reports, name, refused)
    scope = services.current_viewer().scope
    assert services.daily_series(scope, flt)["total"].sum() == 8
    assert services.top_errors(scope, flt)["count"].sum() == 3
    campaigns = services.campaign_table(scope, flt)
    assert campaigns is not None and campaigns["total"].sum() == 8


def test_pf002_the_view_shows_the_same_figures_with_or_without_the_reads_ahead(
    services, monkeypatch
):
    applied = ViewState().to_dict()
    ahead = update_consolidated(services, applied, "es")
    services.cache.clear()
    monkeypatch.setattr(services, "prefetch", lambda scope, reads: None)
    alone = update_consolidated(services, applied, "es")
    assert repr(ahead) == repr(alone)


def test_pf003_a_read_that_fails_ahead_fails_in_the_view_as_it_would_have(services, monkeypatch):
    calls = []

    def broken(bind, scope, flt):
        calls.append(threading.current_thread().name)
        raise RuntimeError("the store is gone")

    monkeypatch.setattr(reports, "error_rows", broken)
    flt = ViewState().to_filter(services.current_viewer().timezone)
    services.prefetch(services.current_viewer().scope, sent_reads(flt))  # does not raise
    with pytest.raises(RuntimeError, match="the store is gone"):
        services.top_errors(services.current_viewer().scope, flt)
    assert calls[0].startswith("prefetch") and not calls[1].startswith("prefetch")
