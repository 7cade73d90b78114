"""The effects the sample generator planted are visible in the engine's numbers (not only in its raw tables)."""

from __future__ import annotations

import pandas as pd
import pytest

from lifecycle.metrics import build_facts, channels, compute_metric, metric_series
from lifecycle.metrics.programs import program_steps
from lifecycle.sample import generate

STEADY = [str(m) for m in pd.period_range("2025-11", "2026-07", freq="M")]  # before the planted changes


@pytest.fixture(scope="module")
def facts():
    return build_facts(generate())


def mean_over(facts, metric_id: str, months: list[str], channel: str | None = None) -> float:
    series = metric_series(facts, metric_id, months, channel)
    return float(series["value"].astype("float64").mean())


def test_paid_social_is_the_cheapest_channel_per_lead_and_the_worst_at_reaching_mql(facts):
    paid = [c for c in channels(facts) if c not in ("(not set)", "Direct", "Referral")]
    cost = {c: mean_over(facts, "capture.cost_per_lead", STEADY, c) for c in paid}
    to_mql = {c: mean_over(facts, "nurture.lead_to_mql_rate", STEADY[:4], c) for c in channels(facts)}
    cost = {c: v for c, v in cost.items() if v == v}  # channels without spend have no cost per lead
    assert min(cost, key=cost.get) == "Paid Social"
    assert min((c for c in to_mql if c != "(not set)"), key=to_mql.get) == "Paid Social"


def test_solution_nurture_step_3_is_flagged_as_the_step_where_leads_stall(facts):
    steps = program_steps(facts, "2026-10", months=12).steps
    flagged = steps[steps["stalls"]]
    assert list(zip(flagged["program"], flagged["order"], strict=True)) == [("Solution Nurture", 3)]


def test_churn_rate_rises_in_the_last_quarter(facts):
    before = mean_over(facts, "expand.churn_rate", STEADY)
    last_quarter = mean_over(facts, "expand.churn_rate", ["2026-08", "2026-09", "2026-10"])
    assert last_quarter > 1.5 * before


def test_organic_search_sessions_and_leads_fall_in_the_last_two_months(facts):
    for metric_id in ("attract.sessions", "capture.new_leads"):
        values = [
            compute_metric(facts, metric_id, m, "Organic Search").value
            for m in ("2026-08", "2026-09", "2026-10")
        ]
        assert values[0] > values[1] > values[2] and values[2] < 0.8 * values[0], (metric_id, values)
