"""Capture metrics on six leads, four traffic rows and two spend rows (values worked out inline)."""

from __future__ import annotations

import pytest
from metrics_fixtures import table

from lifecycle.metrics import build_facts, compute_metric

# March leads: L1, L2 (Paid), L3 (Organic, 31 March 23:59), L6 (no channel → "(not set)") = 4.
LEADS = table(
    "leads",
    lead_id=["L1", "L2", "L3", "L4", "L5", "L6"],
    created_at=["2026-03-02", "2026-03-10", "2026-03-31 23:59", "2026-04-01", "2026-02-28", "2026-03-20"],
    channel=["Paid", "Paid", "Organic", "Organic", None, "  "],
)
# March: sessions 200 + 300 + 50 = 550; form views 20 + 30 + 0 = 50; submissions 4 + 3 + 0 = 7.
TRAFFIC = table(
    "web_traffic",
    date=["2026-02-27", "2026-03-01", "2026-03-15", "2026-03-31"],
    sessions=[100, 200, 300, 50],
    channel=["Paid", "Paid", "Organic", None],
    form_views=[10, 20, 30, 0],
    form_submissions=[2, 4, 3, 0],
)
SPEND = table("spend", date=["2026-03-01", "2026-02-01"], amount=[1100, 700], channel=["Paid", "Paid"])
FACTS = build_facts({"leads": LEADS, "web_traffic": TRAFFIC, "spend": SPEND})


def test_new_leads_counts_leads_created_in_the_month():
    result = compute_metric(FACTS, "capture.new_leads", "2026-03")
    assert result.value == 4
    assert sorted(result.rows["lead_id"]) == ["L1", "L2", "L3", "L6"]


@pytest.mark.parametrize(
    ("channel", "expected"), [("Paid", 2), ("Organic", 1), ("(not set)", 1), ("Email", 0)]
)
def test_new_leads_filter_on_the_lead_channel_blank_being_not_set(channel, expected):
    assert compute_metric(FACTS, "capture.new_leads", "2026-03", channel).value == expected


def test_visit_to_lead_rate_divides_new_leads_by_sessions():
    # 4 / 550
    result = compute_metric(FACTS, "capture.visit_to_lead_rate", "2026-03")
    assert result.value == pytest.approx(4 / 550)
    assert result.details["numerator"] == 4 and result.details["denominator"] == 550


def test_visit_to_lead_rate_without_sessions_is_none_with_reason():
    # April has lead L4 but no traffic
    result = compute_metric(FACTS, "capture.visit_to_lead_rate", "2026-04")
    assert result.value is None and result.reason == "no sessions in 2026-04"


def test_form_conversion_rate_divides_submissions_by_views():
    # 7 / 50 = 0.14; Paid: 4 / 20 = 0.2
    assert compute_metric(FACTS, "capture.form_conversion_rate", "2026-03").value == pytest.approx(0.14)
    assert compute_metric(FACTS, "capture.form_conversion_rate", "2026-03", "Paid").value == pytest.approx(
        0.2
    )


def test_form_conversion_rate_without_form_columns_is_unavailable():
    facts = build_facts({"web_traffic": TRAFFIC.drop(columns=["form_views"])})
    result = compute_metric(facts, "capture.form_conversion_rate", "2026-03")
    assert not result.available and "'form_views'" in result.reason


def test_form_conversion_rate_with_no_views_is_none():
    result = compute_metric(FACTS, "capture.form_conversion_rate", "2026-03", "(not set)")
    assert result.value is None and result.reason == "no form views for (not set) in 2026-03"


def test_cost_per_lead_divides_spend_by_new_leads():
    # 1100 / 4 = 275; Paid: 1100 / 2 = 550
    assert compute_metric(FACTS, "capture.cost_per_lead", "2026-03").value == pytest.approx(275.0)
    assert compute_metric(FACTS, "capture.cost_per_lead", "2026-03", "Paid").value == pytest.approx(550.0)


def test_cost_per_lead_with_no_new_leads_is_none():
    # February: spend 700, no lead created in February except L5 (28 Feb) → 700 / 1; June: nothing at all
    assert compute_metric(FACTS, "capture.cost_per_lead", "2026-02").value == pytest.approx(700.0)
    assert (
        compute_metric(FACTS, "capture.cost_per_lead", "2026-02", "Paid").reason
        == "no new leads for Paid in 2026-02"
    )


def test_capture_without_leads_is_unavailable_and_names_both_lead_exports():
    result = compute_metric({"web_traffic": TRAFFIC}, "capture.new_leads", "2026-03")
    assert not result.available
    assert "lead / contact export" in result.reason and "lifecycle-stage history" in result.reason
