"""Attract metrics on a five-row web traffic table and a three-row spend table (values worked out inline)."""

from __future__ import annotations

import pytest
from metrics_fixtures import table

from lifecycle.metrics import build_facts, compute_metric

# March 2026 traffic: rows 2, 3 and 4 (row 4 is 31 March 23:00, row 5 is 1 April 00:00 → April).
TRAFFIC = table(
    "web_traffic",
    date=["2026-02-27", "2026-03-01", "2026-03-15", "2026-03-31 23:00", "2026-04-01 00:00"],
    sessions=[100, 200, 300, 50, 1000],
    channel=["Paid", "Paid", "Organic", None, "Paid"],
    users=[80, 150, 250, 40, 900],
    new_users=[50, 90, 100, 30, 800],
    form_views=[10, 20, 30, 0, 100],
    form_submissions=[2, 4, 3, 0, 10],
)
# A monthly spend row dated on the 1st counts in March; Organic has a spend row of 0; May has spend only.
SPEND = table(
    "spend",
    date=["2026-02-10", "2026-03-01", "2026-03-20", "2026-05-01"],
    amount=[500, 1100, 0, 100],
    channel=["Paid", "Paid", "Organic", "Paid"],
)
FACTS = build_facts({"web_traffic": TRAFFIC, "spend": SPEND})


def test_sessions_sum_the_month_and_respect_month_boundaries():
    # 200 + 300 + 50 = 550 (27 Feb and 1 Apr 00:00 are outside March)
    result = compute_metric(FACTS, "attract.sessions", "2026-03")
    assert result.available and result.value == 550
    assert len(result.rows) == 3


@pytest.mark.parametrize(("channel", "expected"), [("Paid", 200), ("Organic", 300), ("(not set)", 50)])
def test_sessions_filter_on_the_traffic_channel_with_empty_as_not_set(channel, expected):
    assert compute_metric(FACTS, "attract.sessions", "2026-03", channel).value == expected


def test_visitors_and_new_visitors_sum_users_and_new_users():
    # users 150 + 250 + 40 = 440; new users 90 + 100 + 30 = 220
    assert compute_metric(FACTS, "attract.visitors", "2026-03").value == 440
    assert compute_metric(FACTS, "attract.new_visitors", "2026-03").value == 220


def test_visitors_carry_the_overcount_note_in_the_catalog():
    from lifecycle.metrics import CATALOG

    assert "more than once" in CATALOG["attract.visitors"].note


def test_cost_per_visit_divides_month_spend_by_sessions():
    # spend 1100 (monthly row dated 1 March) / 550 sessions = 2.0
    result = compute_metric(FACTS, "attract.cost_per_visit", "2026-03")
    assert result.value == pytest.approx(2.0)
    assert result.details["spend"] == 1100


def test_cost_per_visit_by_channel_uses_that_channels_spend():
    # Paid: 1100 / 200 = 5.5; Organic: spend rows sum to 0 → 0 / 300 = 0.0
    assert compute_metric(FACTS, "attract.cost_per_visit", "2026-03", "Paid").value == pytest.approx(5.5)
    assert compute_metric(FACTS, "attract.cost_per_visit", "2026-03", "Organic").value == 0.0


def test_cost_per_visit_without_spend_rows_is_undefined_not_zero():
    result = compute_metric(FACTS, "attract.cost_per_visit", "2026-03", "(not set)")
    assert result.available and result.value is None
    assert result.reason == "no spend recorded for (not set) in 2026-03"


def test_cost_per_visit_with_zero_sessions_gives_none_with_reason():
    # May: spend 100 but no traffic rows
    result = compute_metric(FACTS, "attract.cost_per_visit", "2026-05")
    assert result.value is None and result.reason == "no sessions in 2026-05"


def test_empty_month_has_zero_sessions():
    result = compute_metric(FACTS, "attract.sessions", "2026-08")
    assert result.available and result.value == 0


def test_channel_with_no_rows_has_zero_sessions():
    assert compute_metric(FACTS, "attract.sessions", "2026-03", "Billboards").value == 0


def test_missing_users_column_makes_visitors_unavailable_naming_the_column():
    facts = build_facts({"web_traffic": TRAFFIC.drop(columns=["users"])})
    result = compute_metric(facts, "attract.visitors", "2026-03")
    assert not result.available and result.value is None
    assert "'users'" in result.reason and "web analytics export" in result.reason
    assert compute_metric(facts, "attract.sessions", "2026-03").value == 550


def test_without_web_traffic_attract_metrics_name_the_export_that_enables_them():
    result = compute_metric({"spend": SPEND}, "attract.cost_per_visit", "2026-03")
    assert not result.available
    assert result.reason == "needs web traffic: a web analytics export (GA4 traffic acquisition report)"
