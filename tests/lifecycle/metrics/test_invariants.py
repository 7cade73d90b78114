"""Property tests: on any small dataset, no metric raises, shares stay in [0, 1], channels add up to the total."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.metrics import CATALOG, build_facts, compute_all, metrics_payload
from lifecycle.schema import DEAL_TYPES, EMAIL_EVENTS, TABLES, coerce_frame

MONTHS = ["2026-01", "2026-02", "2026-03"]
DAY0 = pd.Timestamp("2026-01-01")
CHANNELS = st.sampled_from(["Paid", "Organic", None, "  "])
# Ratios of counts from different sources (leads vs sessions, GA4 form events) and a return on spend are not
# shares: they may legitimately exceed 1.
NOT_SHARES = {"capture.visit_to_lead_rate", "capture.form_conversion_rate", "convert.roi_12m"}
SHARES = [m.id for m in CATALOG.values() if m.unit == "rate" and m.id not in NOT_SHARES]
ADDITIVE = [m.id for m in CATALOG.values() if m.unit == "count"] + [
    "convert.bookings",
    "convert.bookings_new",
]

hours = st.integers(min_value=-40 * 24, max_value=100 * 24)
maybe_hours = st.none() | hours


def at(offset: int | None) -> pd.Timestamp | None:
    return None if offset is None else DAY0 + pd.Timedelta(hours=offset)


def frame(name: str, rows: list[dict], drop: set[str]) -> pd.DataFrame:
    spec = TABLES[name]
    columns = [c for c in spec.column_names if c in spec.required or c not in drop]
    if spec.one_of and not any(c in columns for c in spec.one_of[0]):
        columns.append(spec.one_of[0][0])
    data = pd.DataFrame(rows, columns=spec.column_names)[columns]
    return coerce_frame(name, data.astype(object).where(data.notna(), None))


@st.composite
def datasets(draw) -> dict[str, pd.DataFrame]:
    n_leads = draw(st.integers(0, 8))
    lead_ids = [f"L{i}" for i in range(n_leads)]
    ids = st.sampled_from([*lead_ids, "X", None])
    leads = [
        {"lead_id": lid, "created_at": at(draw(hours)), "channel": draw(CHANNELS), "email": f"{lid.lower()}@x.com",
         "program": draw(st.sampled_from(["N1", None, "none"])), "score": draw(st.none() | st.integers(-20, 150)),
         **{c: at(draw(maybe_hours)) for c in ("mql_at", "sql_at", "opportunity_at", "customer_at", "recycled_at",
                                               "reopened_at")}}
        for lid in lead_ids
    ]  # fmt: skip
    deals = [
        {"deal_id": f"D{i}", "created_at": at(draw(hours)), "closed_at": at(draw(maybe_hours)),
         "status": draw(st.sampled_from(["won", "lost", "open"])), "amount": draw(st.none() | st.integers(0, 1000)),
         "type": draw(st.sampled_from([*DEAL_TYPES, None])), "lead_id": draw(ids), "channel": draw(CHANNELS),
         "account": draw(st.sampled_from(["Acme", "acme", "Beta", None]))}
        for i in range(draw(st.integers(0, 6)))
    ]  # fmt: skip
    customers = [
        {"customer_id": draw(st.sampled_from([f"C{i}", *lead_ids])) if lead_ids else f"C{i}",
         "started_at": at(draw(hours)), "churned_at": at(draw(maybe_hours)), "channel": draw(CHANNELS)}
        for i in range(draw(st.integers(0, 5)))
    ]  # fmt: skip
    customers = list({c["customer_id"]: c for c in customers}.values())
    recipients = st.sampled_from([*lead_ids, *(c["customer_id"] for c in customers), "u@x.com", "L0@X.COM"])
    events = [
        {"recipient": draw(recipients), "event": draw(st.sampled_from(EMAIL_EVENTS)), "at": at(draw(hours)),
         "email": draw(st.sampled_from(["E1", "E2"])), "audience": draw(st.sampled_from([None, "customer", "prospect"]))}
        for _ in range(draw(st.integers(0, 10)))
    ]  # fmt: skip
    sends = []
    for i in range(draw(st.integers(0, 3))):
        sent = draw(st.integers(0, 50))
        delivered = draw(st.integers(0, sent))
        opens = draw(st.integers(0, delivered))
        sends.append({"email": f"S{i}", "sent_at": at(draw(hours)), "sent": sent, "delivered": delivered,
                      "unique_opens": opens, "unique_clicks": draw(st.integers(0, opens)), "bounces": sent - delivered,
                      "audience": draw(st.sampled_from([None, "customer"]))})  # fmt: skip
    scores = [
        {"lead_id": draw(ids), "at": at(draw(hours)), "delta": draw(st.none() | st.integers(-10, 30)),
         "score": draw(st.none() | st.integers(0, 120)), "reason": "visit"}
        for _ in range(draw(st.integers(0, 6)))
    ]  # fmt: skip
    scores = [s for s in scores if s["lead_id"] is not None]
    spend = [
        {"date": at(draw(hours)), "amount": draw(st.integers(0, 500)), "channel": draw(CHANNELS)}
        for _ in range(draw(st.integers(0, 4)))
    ]
    traffic = [
        {"date": at(draw(hours)), "sessions": draw(st.integers(0, 100)), "channel": draw(CHANNELS),
         "users": draw(st.integers(0, 90)), "new_users": draw(st.integers(0, 50)),
         "form_views": draw(st.integers(0, 20)), "form_submissions": draw(st.integers(0, 5))}
        for _ in range(draw(st.integers(0, 4)))
    ]  # fmt: skip
    nps = [
        {"respondent": f"r{i}", "responded_at": at(draw(hours)), "score": draw(st.integers(0, 11)),
         "comment": draw(st.sampled_from([None, "", "fine"])), "customer_id": draw(st.sampled_from(["C0", "C1", None]))}
        for i in range(draw(st.integers(0, 5)))
    ]  # fmt: skip
    rows = {"leads": leads, "deals": deals, "customers": customers, "email_events": events, "email_sends": sends,
            "score_changes": scores, "spend": spend, "web_traffic": traffic, "nps": nps}  # fmt: skip
    present = draw(st.sets(st.sampled_from(sorted(rows)), min_size=0))
    optional = sorted({c.name for t in TABLES.values() for c in t.columns if not c.required})
    drop = draw(st.sets(st.sampled_from(optional), max_size=4))
    # every row needs its required values; drop rows a tool would have had rejected at ingest
    out = {}
    for name in present:
        required = TABLES[name].required
        kept = [r for r in rows[name] if all(r.get(c) is not None for c in required)]
        out[name] = frame(name, kept, drop)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_no_metric_raises_and_shares_stay_between_zero_and_one(tables):
    facts = build_facts(tables)
    for month in MONTHS:
        for channel in [None, *facts.channels]:
            results = compute_all(facts, month, channel)
            for metric_id, result in results.items():
                if not result.available:
                    assert result.value is None and result.reason.startswith("needs"), metric_id
                elif result.value is None:
                    assert result.reason, metric_id
                elif metric_id in SHARES:
                    assert 0.0 <= result.value <= 1.0, (metric_id, month, channel, result)
    json.dumps(metrics_payload(facts, month=MONTHS[-1]), allow_nan=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_counts_summed_over_channels_equal_the_unfiltered_count(tables):
    facts = build_facts(tables)
    for month in MONTHS:
        total = compute_all(facts, month)
        by_channel = [compute_all(facts, month, channel) for channel in facts.channels]
        for metric_id in ADDITIVE:
            if not total[metric_id].available:
                continue
            summed = sum(results[metric_id].value for results in by_channel)
            assert summed == pytest.approx(total[metric_id].value), (metric_id, month)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_no_metric_raises_on_an_empty_table_with_only_required_columns(name):
    spec = TABLES[name]
    empty = coerce_frame(name, pd.DataFrame(columns=spec.required + [group[0] for group in spec.one_of]))
    results = compute_all({name: empty}, "2026-01")
    assert list(results) == list(CATALOG)
    assert all(r.value in (None, 0, 0.0) for r in results.values())
