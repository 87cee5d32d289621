"""Delivery time on the consolidated view: the buckets, the percentiles and shares read off them,
the report over a night that crosses local midnight and a DST change, its scope, and the
section in three languages (on both stores)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, literal, select

from dashboard.callbacks.consolidated import update_consolidated
from dashboard.layouts import delivery_time as layout
from data_access import delivery_times as dt
from data_access import reports
from data_access.filters import AccessScope, ReportFilter
from data_access.loader import load_files
from data_access.retention import purge_messages
from data_access.store import ensure_timezone
from data_access.tables import daily_rollup, delivery_time_rollup
from reporting.view_state import ViewState
from tests.conftest import write_csv
from tests.dashboard_data import (
    FixedViewerServices,
    as_json,
    at,
    by_class,
    rows,
    subaccount_ids,
    texts,
    viewer_for,
)

SANTIAGO = "America/Santiago"
# Chile's clocks went from Saturday 5 September 2026, 23:59:59 (-04:00) to Sunday 01:00 (-03:00):
# that local midnight never happened.
SEP_4, SEP_5, SEP_6 = date(2026, 9, 4), date(2026, 9, 5), date(2026, 9, 6)


# --- the buckets -------------------------------------------------------------------------------


def counts(**by_bucket: int) -> list[int]:
    """Bucket counts from b<number>=count."""
    found = {int(name[1:]): n for name, n in by_bucket.items()}
    return [found.get(bucket, 0) for bucket in range(dt.BUCKET_COUNT)]


def percentile(row: list[int], fraction: float) -> float | None:
    found = float(dt.percentiles([row], fraction)[0])
    return None if math.isnan(found) else found


def test_dt001_a_percentile_is_interpolated_inside_its_bucket():
    # b3 is (3, 5] s, b4 (5, 7] s: of 4 messages, the median's rank 2 ends the first bucket.
    assert dt.bucket_bounds(3) == (3.0, 5.0)
    assert dt.bucket_bounds(0) == (0.0, 1.0)
    assert dt.bucket_bounds(dt.OPEN_BUCKET) == (604800.0, None)
    assert percentile(counts(b3=2, b4=2), 0.5) == 5.0
    assert percentile(counts(b3=2, b4=2), 0.75) == 6.0
    assert percentile(counts(b3=2, b4=2), 0.99) == pytest.approx(6.96)
    assert percentile(counts(b0=1), 0.5) == 0.5
    # The open bucket (slower than a week) gives its lower bound.
    assert percentile(counts(b0=1, **{f"b{dt.OPEN_BUCKET}": 9}), 0.5) == 604800.0
    assert percentile(counts(), 0.5) is None
    assert dt.counts_within([counts(b3=2, b4=1, b10=4, b11=8)], 5).tolist() == [2]
    assert dt.counts_within([counts(b3=2, b4=1, b10=4, b11=8)], 60).tolist() == [7]


def test_dt001b_each_row_of_counts_gets_its_own_percentile():
    """The days of a range are worked out together, one row each: a row's figure never
    depends on the rows beside it, and a row without messages has none."""
    rows = [counts(b3=2, b4=2), counts(), counts(b0=1, **{f"b{dt.OPEN_BUCKET}": 9}), counts(b0=3)]
    medians = dt.percentiles(rows, 0.5).tolist()
    assert medians[0] == 5.0 and medians[2] == 604800.0 and medians[3] == 0.5
    assert math.isnan(medians[1])
    assert dt.counts_within(rows, 5).tolist() == [2, 0, 1, 3]


def test_dt002_the_engine_buckets_each_delay_by_its_inclusive_upper_bound(engine):
    delays = [-3, 0, 0.5, 1, 1.000001, 2.5, 5, 5.2, 60, 60.5, 3600, 3601, 604800, 604801]
    with engine.connect() as conn:
        found = [conn.execute(select(dt.bucket_of(literal(d)))).scalar_one() for d in delays]
    assert found == [0, 0, 0, 0, 1, 2, 3, 4, 10, 11, 21, 22, 29, 30]


# --- the report over a night with midnight and a DST change ------------------------------------


def mt(message_id: str, created: str, delivered: str | None = None, read: str | None = None,
       **fields) -> dict:  # fmt: skip
    status = "read" if read else "delivered" if delivered else fields.pop("status", "sent")
    return {
        "message_id": message_id,
        "channel": "whatsapp",
        "direction": "MT",
        "subaccount": "Brand A",
        "content_type": "text",
        "phone": "+56912345678",
        "status": status,
        "created_at": created,
        "sent_at": created,
        "delivered_at": delivered or "",
        "read_at": read or "",
        **fields,
    }


NIGHT = [
    # Across an ordinary local midnight (Sep 4 to 5): 10 s, counted on the 4th.
    mt("n1", "2026-09-04T23:59:59-04:00", "2026-09-05T00:00:09-04:00"),
    # Across the midnight the clocks skipped: 3 s and 60 s (an hour more on the wall clock),
    # counted on the 5th; n2 was read 602 s after it was created.
    mt("n2", "2026-09-05T23:59:58-04:00", "2026-09-06T01:00:01-03:00",
       read="2026-09-06T01:10:00-03:00"),
    mt("n3", "2026-09-05T23:59:30-04:00", "2026-09-06T01:00:30-03:00"),
    # Exactly 5 s, 6 s, exactly 1 h and 1 h 1 s, on the 5th.
    mt("n4", "2026-09-05T12:00:00-04:00", "2026-09-05T12:00:05-04:00"),
    mt("n5", "2026-09-05T12:00:00-04:00", "2026-09-05T12:00:06-04:00"),
    mt("n6", "2026-09-05T10:00:00-04:00", "2026-09-05T11:00:00-04:00"),
    mt("n7", "2026-09-05T10:00:00-04:00", "2026-09-05T11:00:01-04:00"),
    # On the 6th: delivered after 2 s, read after 62 s.
    mt("n8", "2026-09-06T01:30:00-03:00", "2026-09-06T01:30:02-03:00",
       read="2026-09-06T01:31:02-03:00"),
    # Never delivered (left at sent, or failed): no delivery time.
    mt("n9", "2026-09-05T09:00:00-04:00"),
    mt("n10", "2026-09-05T09:00:00-04:00", status="error", error_code="131026",
       error_description="Message undeliverable", sent_at=""),
    # Received: no delivery time, whatever its times say.
    {**mt("n11", "2026-09-05T09:00:00-04:00"), "direction": "MO", "status": "received",
     "sent_at": ""},
    # SMS: 2 s, in the SMS view only.
    {**mt("n12", "2026-09-05T08:00:00-04:00", "2026-09-05T08:00:02-04:00"), "channel": "sms"},
    # Another subaccount: 1 s.
    mt("n13", "2026-09-05T12:00:00-04:00", "2026-09-05T12:00:01-04:00", subaccount="Brand B"),
]  # fmt: skip


@pytest.fixture
def night(engine, tmp_path):
    """The night's messages in a store whose account is in Santiago."""
    ensure_timezone(engine, SANTIAGO)
    load_files(engine, [write_csv(tmp_path / "night.csv", NIGHT)], SANTIAGO)
    return engine


def night_filter(channel="whatsapp", start=SEP_4, end=SEP_6, **fields) -> ReportFilter:
    return ReportFilter.build(channel, start, end, timezone=SANTIAGO, today=SEP_6, **fields)


def scope_of(engine, *names) -> AccessScope:
    known = subaccount_ids(engine)
    return AccessScope.of([known[name] for name in names])


def figures(row: pd.Series) -> dict:
    """A frame row as plain values (NA: None), percentiles compared approximately."""
    out = {}
    for name, value in row.items():
        if name == "date":
            out[name] = value
        elif value is None or pd.isna(value):
            out[name] = None
        elif name in ("delivered", "read"):
            out[name] = int(value)
        else:
            out[name] = pytest.approx(float(value))
    return out


def test_dt010_percentiles_and_shares_per_day_and_over_the_range(night):
    frame = reports.delivery_times(night, scope_of(night, "Brand A"), night_filter())
    assert list(frame.columns) == list(reports.DELIVERY_TIME_COLUMNS)
    assert [figures(r) for _, r in frame.iterrows()] == [
        # n1: 10 s, in (7, 10]: the whole bucket.
        {"date": SEP_4, "delivered": 1, "delivered_p50": 8.5, "delivered_p90": 9.7,
         "delivered_p99": 9.97, "within_5s_pct": 0.0, "within_1min_pct": 100.0,
         "within_1h_pct": 100.0, "read": 0, "read_p50": None, "read_p90": None,
         "read_p99": None},
        # 3, 5, 6, 60, 3600, 3601 s (never 3603 s for the night's 3 s, nor 3660 for its 60):
        # rank 3 of 6 ends (5, 7]; ranks 5.4 and 5.94 fall in (3600, 5400].
        {"date": SEP_5, "delivered": 6, "delivered_p50": 7.0, "delivered_p90": 4320.0,
         "delivered_p99": 5292.0, "within_5s_pct": 100 / 3, "within_1min_pct": 200 / 3,
         "within_1h_pct": 500 / 6, "read": 1, "read_p50": 750.0, "read_p90": 870.0,
         "read_p99": 897.0},
        {"date": SEP_6, "delivered": 1, "delivered_p50": 1.5, "delivered_p90": 1.9,
         "delivered_p99": 1.99, "within_5s_pct": 100.0, "within_1min_pct": 100.0,
         "within_1h_pct": 100.0, "read": 1, "read_p50": 75.0, "read_p90": 87.0,
         "read_p99": 89.7},
        # The range: 2, 3, 5, 6, 10, 60, 3600, 3601 s; read 62 and 602 s.
        {"date": None, "delivered": 8, "delivered_p50": 7.0, "delivered_p90": 3960.0,
         "delivered_p99": 5256.0, "within_5s_pct": 37.5, "within_1min_pct": 75.0,
         "within_1h_pct": 87.5, "read": 2, "read_p50": 90.0, "read_p90": 840.0,
         "read_p99": 894.0},
    ]  # fmt: skip


def test_dt011_read_times_are_whatsapp_only(night):
    frame = reports.delivery_times(night, scope_of(night, "Brand A"), night_filter("sms"))
    whole = figures(frame.iloc[-1])
    assert (whole["delivered"], whole["delivered_p50"], whole["within_5s_pct"]) == (1, 1.5, 100.0)
    assert [whole[k] for k in ("read", "read_p50", "read_p90", "read_p99")] == [None] * 4
    assert frame["read"].isna().all()


def test_dt012_the_scope_and_filters_hold(night):
    ids = subaccount_ids(night)
    both = reports.delivery_times(night, scope_of(night, "Brand A", "Brand B"), night_filter())
    # Brand B's 1 s joins the 5th: 7 delivered, 3 of them within 5 s.
    assert figures(both.iloc[1])["delivered"] == 7
    assert figures(both.iloc[1])["within_5s_pct"] == pytest.approx(300 / 7)
    # A subaccount outside the scope, asked for by id, gives nothing of it.
    forged = reports.delivery_times(
        night, scope_of(night, "Brand A"), night_filter(subaccounts=(ids["Brand B"],))
    )
    assert forged["delivered"].sum() == 0
    assert forged.iloc[-1]["delivered_p50"] is pd.NA
    nothing = reports.delivery_times(night, AccessScope.of([]), night_filter())
    assert list(nothing["delivered"]) == [0, 0, 0, 0]
    # Received messages have none.
    received = reports.delivery_times(
        night, scope_of(night, "Brand A"), night_filter(direction="MO")
    )
    assert received["delivered"].sum() == 0
    # One day, one status: the 5th's read message.
    one = reports.delivery_times(
        night, scope_of(night, "Brand A"), night_filter(start=SEP_5, end=SEP_5, statuses=("read",))
    )
    assert figures(one.iloc[-1])["delivered_p50"] == 2.5  # 3 s, in (2, 3]


def test_dt013_a_phone_search_reads_the_messages_and_buckets_them_alike(night):
    scope = scope_of(night, "Brand A")
    from_rollup = reports.delivery_times(night, scope, night_filter())
    from_messages = reports.delivery_times(night, scope, night_filter(phone="+56 9 1234 5678"))
    pd.testing.assert_frame_equal(from_messages, from_rollup)


def test_dt015_the_country_filter_holds_on_the_histogram(engine, tmp_path):
    # Two Chilean messages (2 s and 20 s) and one Brazilian (7 s), on the 5th.
    ensure_timezone(engine, SANTIAGO)
    rows = [
        mt("c1", "2026-09-05T12:00:00-04:00", "2026-09-05T12:00:02-04:00"),
        mt("c2", "2026-09-05T12:00:00-04:00", "2026-09-05T12:00:20-04:00"),
        mt("b1", "2026-09-05T12:00:00-04:00", "2026-09-05T12:00:07-04:00",
           phone="+5511987654321"),
    ]  # fmt: skip
    load_files(engine, [write_csv(tmp_path / "countries.csv", rows)], SANTIAGO)
    scope = scope_of(engine, "Brand A")
    chile = reports.delivery_times(engine, scope, night_filter(countries=("CL",)))
    brazil = reports.delivery_times(engine, scope, night_filter(countries=("BR",)))
    assert (int(chile.iloc[-1]["delivered"]), float(chile.iloc[-1]["within_5s_pct"])) == (2, 50.0)
    assert (int(brazil.iloc[-1]["delivered"]), float(brazil.iloc[-1]["within_5s_pct"])) == (1, 0.0)
    # The messages, bucketed alike, answer the same (a phone search reads them).
    from_messages = reports.delivery_times(
        engine, scope, night_filter(countries=("CL",), phone="+56 9 1234 5678")
    )
    pd.testing.assert_frame_equal(from_messages, chile)


def test_dt014_the_histogram_stays_with_the_rollup_through_retention(night):
    def by_day(conn):
        h, r = delivery_time_rollup.c, daily_rollup.c
        times = conn.execute(
            select(h.created_day, h.channel, func.sum(h.delivered_count), func.sum(h.read_count))
            .group_by(h.created_day, h.channel)
            .order_by(h.created_day, h.channel)
        ).all()
        rolled = conn.execute(
            select(r.created_day, r.channel, func.sum(r.delivered_count), func.sum(r.read_count))
            .where(r.delivered_count + r.read_count > 0)
            .group_by(r.created_day, r.channel)
            .order_by(r.created_day, r.channel)
        ).all()
        return [tuple(row) for row in times], [tuple(row) for row in rolled]

    with night.connect() as conn:
        times, rolled = by_day(conn)
    assert (
        times
        == rolled
        == [
            (SEP_4, "whatsapp", 1, 0),
            (SEP_5, "sms", 1, 0),
            (SEP_5, "whatsapp", 7, 1),
            (SEP_6, "whatsapp", 1, 1),
        ]
    )
    # 90 days kept on 5 December: the first kept is 6 September, so the 12 messages of the 4th
    # and 5th leave the messages; their counts and delivery times stay.
    assert purge_messages(night, 90, date(2026, 12, 5)) == 12
    with night.connect() as conn:
        assert by_day(conn) == (times, rolled)
    frame = reports.delivery_times(
        night,
        scope_of(night, "Brand A"),
        ReportFilter.build("whatsapp", SEP_4, SEP_6, timezone=SANTIAGO, today=date(2026, 12, 2)),
    )
    assert figures(frame.iloc[-1])["delivered_p90"] == 3960.0


# --- the section on the consolidated view ------------------------------------------------------

# Beside the dashboard's message set (w1 and w2 delivered in 120 s, w7 in 180 s, all Brand A;
# w2 read in 3,300 s), Brand B's x1 delivered in 2 s.
EXTRA = [
    {**mt("x1", at(1, 16), None), "subaccount": "Brand B", "phone": "+5521912345678",
     "status": "delivered", "delivered_at": (datetime.fromisoformat(at(1, 16))
                                             + timedelta(seconds=2)).isoformat()},
]  # fmt: skip


@pytest.fixture
def loaded(engine, store_settings, load_rows):
    load_rows(engine, rows() + EXTRA)
    return engine, store_settings


def services_for(loaded, names=None, language="es"):
    engine, settings = loaded
    return FixedViewerServices(settings, engine, viewer_for(engine, names, language))


def section_of(out: dict) -> list[str]:
    return texts(out["delivery_time"])


def graph_of(out: dict, index: int) -> dict:
    graphs = [node for node in _walk(as_json(out["delivery_time"])) if node.get("type") == "Graph"]
    return graphs[index]["props"]


def _walk(node):
    if isinstance(node, dict):
        yield node
        yield from _walk(node.get("props", {}).get("children"))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_dt020_the_section_in_spanish(loaded):
    out = update_consolidated(services_for(loaded), ViewState().to_dict(), None)
    shown = section_of(out)
    # Delivered in 2, 120, 120 and 180 s: rank 2 of 4 is half of (90, 120] (105 s), ranks 3.6
    # and 3.96 fall in (120, 180] (156 and 177.6 s); read in 3,300 s, in (2700, 3600].
    assert shown[:15] == [
        "Desde la creación", "Mensajes", "p50 (mediana)", "p90", "p99",
        "Hasta entregado", "4", "1,8 min", "2,6 min", "3,0 min",
        "Hasta leído", "1", "52 min", "58 min", "60 min",
    ]  # fmt: skip
    assert by_class(out["delivery_time"], "delivery-share") == [
        "25,0\u00a0% entregados en 5 s o menos",
        "25,0\u00a0% entregados en 1 min o menos",
        "100,0\u00a0% entregados en 1 h o menos",
    ]
    (note,) = by_class(out["delivery_time"], "delivery-time-precision")
    assert note == (
        "Los percentiles se estiman a partir de los mensajes contados por intervalo de tiempo "
        "(límites de los intervalos: 1 s, 2 s, 3 s, 5 s, 7 s, 10 s, 15 s, 20 s, 30 s, 45 s, "
        "1 min, 1,5 min, 2 min, 3 min, 5 min, 7,5 min, 10 min, 15 min, 20 min, 30 min, 45 min, "
        "1 h, 1,5 h, 2 h, 3 h, 6 h, 12 h, 1 d, 2 d, 7 d y más): cada uno es exacto dentro de su "
        "intervalo. Los porcentajes en 5 s, 1 min y 1 h son exactos."
    )
    delivered = graph_of(out, 0)
    assert delivered["id"] == "delivery-time-chart"
    figure = delivered["figure"]
    assert figure["layout"]["title"]["text"] == "Tiempo hasta la entrega por día"
    assert figure["layout"]["yaxis"]["type"] == "log"
    assert figure["layout"]["yaxis"]["ticktext"][:4] == ["1 s", "5 s", "15 s", "1 min"]
    assert [line["name"] for line in figure["data"]] == ["p50 (mediana)", "p90", "p99"]
    assert [line["line"]["dash"] for line in figure["data"]] == ["solid", "dash", "dot"]
    # One point per day of the 7; two days ago w1 and w2 (120 s each), yesterday x1 (2 s) and
    # w7 (180 s), no delivery on the other days (a gap, not 0).
    p50, p90, _p99 = figure["data"]
    assert p50["y"] == [None, None, None, None, 105.0, 2.0, None]
    assert p90["y"] == [None, None, None, None, 117.0, 168.0, None]
    assert [c[1] for c in p50["customdata"][4:]] == ["1,8 min", "2 s", "—"]
    read = graph_of(out, 1)
    assert read["id"] == "read-time-chart"
    assert read["figure"]["layout"]["title"]["text"] == "Tiempo hasta la lectura por día"
    assert read["figure"]["data"][0]["y"] == [None, None, None, None, 3150.0, None, None]


def test_dt021_the_section_in_english_and_portuguese_and_for_sms(loaded):
    en = section_of(update_consolidated(services_for(loaded, language="en"), None, "en"))
    assert en[:6] == ["From creation", "Messages", "p50 (median)", "p90", "p99", "To delivered"]
    assert en[7:9] == ["1.8 min", "2.6 min"]
    assert "25.0% delivered within 5 s" in " ".join(en)
    pt = update_consolidated(services_for(loaded, language="pt-BR"), None, "pt-BR")
    assert section_of(pt)[:6] == [
        "Desde a criação", "Mensagens", "p50 (mediana)", "p90", "p99", "Até a entrega",
    ]  # fmt: skip
    assert by_class(pt["delivery_time"], "delivery-share")[2] == "100,0% entregues em até 1 h"
    assert graph_of(pt, 0)["figure"]["layout"]["title"]["text"] == "Tempo até a entrega por dia"
    # SMS: s1 delivered in 120 s (105, 117 and 119.7 s read off (90, 120]); no read row and
    # no read chart (no read receipts).
    sms = update_consolidated(services_for(loaded), ViewState(channel="sms").to_dict(), None)
    shown = section_of(sms)
    assert shown[5:10] == ["Hasta entregado", "1", "1,8 min", "1,9 min", "2,0 min"]
    assert "Hasta leído" not in shown
    assert [g["props"]["id"] for g in _walk(as_json(sms["delivery_time"]))
            if g.get("type") == "Graph"] == ["delivery-time-chart"]  # fmt: skip


def test_dt022_received_messages_say_they_have_no_delivery_time(loaded):
    out = update_consolidated(services_for(loaded), ViewState(direction="MO").to_dict(), None)
    assert section_of(out) == [
        "Los mensajes recibidos no tienen tiempo de entrega: se mide en los mensajes que envías."
    ]
    en = update_consolidated(
        services_for(loaded, language="en"), ViewState(direction="MO").to_dict(), "en"
    )
    assert section_of(en) == [
        "Received messages have no delivery time: it is measured on the messages you send."
    ]


def test_dt023_a_forged_request_gets_nothing_of_a_subaccount_out_of_scope(loaded):
    engine, _ = loaded
    ids = subaccount_ids(engine)
    services = services_for(loaded, ["Brand A"])
    # Brand A alone: 120, 120 and 180 s (112.5, 162 and 178.2 s); Brand B's 2 s is not counted.
    own = update_consolidated(services, ViewState().to_dict(), None)
    assert section_of(own)[6:10] == ["3", "1,9 min", "2,7 min", "3,0 min"]
    forged = update_consolidated(services, ViewState(subaccounts=(ids["Brand B"],)).to_dict(), None)
    assert forged["body_hidden"] is True
    assert section_of(forged) == ["Ningún mensaje fue entregado en este período."]


def test_dt024_a_store_that_does_not_answer_says_so():
    assert texts(layout.section(None, "es", "whatsapp", "MT")) == [
        "Este almacén todavía no calcula los tiempos de entrega."
    ]
    assert layout.format_percentile(604800.0, "en") == "≥ 7 d"
    assert layout.format_percentile(5400.0, "es") == "1,5 h"
    assert layout.format_duration(None, "es") == "—"
